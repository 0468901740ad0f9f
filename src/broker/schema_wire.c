/* schema_wire.c - the schema registry as the wire protocol sees it: PRODUCER/SUBSCRIBE with a
 * schema, GET_SCHEMA and GET_OR_CREATE_SCHEMA. Storage and compatibility rules live in
 * src/schema/ (registry.h, compat.h); this file applies the namespace/broker policies and
 * translates between commands and the registry, as Pulsar's ServerCnx and AbstractTopic do.
 *
 * Schema versions travel as 8 bytes, the big-endian version number (Pulsar's LongSchemaVersion).
 * A schema of type None (what a BYTES producer would mean) counts as "no schema", as the
 * official clients never send one for BYTES.
 *
 * Threading: loop thread only (the registry reads and writes the metastore synchronously). */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/alloc.h"
#include "common/log.h"
#include "schema/registry.h"

#define E(x) PULSAR__PROTO__SERVER_ERROR__##x

/* The effective policies of the topic's namespace, falling back to the broker's. */
static void schema_policies(broker_t *b, const mg_topic_name_t *tn, int *strategy, bool *enforced,
                            bool *auto_update)
{
    const ns_policies_t *p = ns_policies(b, tn->tenant, tn->ns);
    int ns_strat = p && p->schema_compat[0] ? schema_strategy_parse(p->schema_compat) : 0;
    int br_strat = schema_strategy_parse(b->cfg->schema_compat_strategy);
    *strategy = schema_strategy_resolve(ns_strat < 0 ? 0 : ns_strat, br_strat < 0 ? 0 : br_strat);
    *enforced = p && p->schema_validation_enforced >= 0 ? p->schema_validation_enforced
                                                         : b->cfg->schema_validation_enforced;
    *auto_update = p && p->is_allow_auto_update_schema >= 0 ? p->is_allow_auto_update_schema : true;
}

static void put_be64(uint8_t *out, int64_t v)
{
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
}

static bool has_schema(const Pulsar__Proto__Schema *s)
{
    return s && s->type != PULSAR__PROTO__SCHEMA__TYPE__None;
}

/* The wire schema's properties as a JSON object (new reference). */
static json_t *props_json(const Pulsar__Proto__Schema *s)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < s->n_properties; i++) {
        const Pulsar__Proto__KeyValue *kv = s->properties[i];
        if (kv && kv->key && kv->value) json_object_set_new(o, kv->key, json_string(kv->value));
    }
    return o;
}

static int reg_code(int rc)
{
    return rc == REG_ERROR ? E(MetadataError) : E(IncompatibleSchema);
}

/* Pulsar's AbstractTopic.addSchema: register or find the version, honouring auto update. */
static int add_schema(topic_t *t, const Pulsar__Proto__Schema *s, int64_t *version, int *code,
                      char *err, size_t errlen)
{
    mg_topic_name_t tnp;
    topic_name_of(t, &tnp);
    int strategy;
    bool enforced, auto_update;
    schema_policies(t->b, &tnp, &strategy, &enforced, &auto_update);
    char id[SCHEMA_ID_MAX];
    registry_schema_id(&tnp, id, sizeof id);
    json_t *props = props_json(s);
    int rc = registry_put(t->b->meta, id, strategy, auto_update, (int)s->type, s->schema_data.data,
                          s->schema_data.len, props, version, err, errlen);
    json_decref(props);
    if (rc == REG_OK) return 0;
    *code = reg_code(rc);
    log_info("schema refused on %s: %s", t->name, err);
    return -1;
}

int schema_on_producer(topic_t *t, Pulsar__Proto__Schema *schema, uint8_t *ver, size_t *ver_len,
                       int *code, char *err, size_t errlen)
{
    mg_topic_name_t tnp;
    topic_name_of(t, &tnp);
    *ver_len = 0;
    if (!has_schema(schema)) {
        int strategy;
        bool enforced, auto_update;
        schema_policies(t->b, &tnp, &strategy, &enforced, &auto_update);
        if (!enforced) return 0;
        char id[SCHEMA_ID_MAX];
        registry_schema_id(&tnp, id, sizeof id);
        schema_list_t l;
        if (registry_load(t->b->meta, id, &l)) {
            *code = E(MetadataError);
            snprintf(err, errlen, "Failed to read the schema of %s", id);
            return -1;
        }
        bool has = registry_list_has_schema(&l);
        registry_list_free(&l);
        if (!has) return 0;
        *code = E(IncompatibleSchema);
        snprintf(err, errlen,
                 "Producers cannot connect or send message without a schema to topics with a "
                 "schema if SchemaValidationEnforced is enabled");
        return -1;
    }
    int64_t v;
    if (add_schema(t, schema, &v, code, err, errlen)) return -1;
    put_be64(ver, v);
    *ver_len = 8;
    return 0;
}

int schema_on_subscribe(topic_t *t, Pulsar__Proto__Schema *schema, int *code, char *err,
                        size_t errlen)
{
    mg_topic_name_t tnp;
    topic_name_of(t, &tnp);
    if (!has_schema(schema)) return 0;
    char id[SCHEMA_ID_MAX];
    registry_schema_id(&tnp, id, sizeof id);
    schema_list_t l;
    if (registry_load(t->b->meta, id, &l)) {
        *code = E(MetadataError);
        snprintf(err, errlen, "Failed to read the schema of %s", id);
        return -1;
    }
    bool has = registry_list_has_schema(&l);
    /* Pulsar's addSchemaIfIdleOrCheckCompatible: an idle topic without a schema takes the
     * consumer's; otherwise the consumer's schema must be able to read the topic's. */
    bool idle = !has && map_count(&t->producers) == 0 && t->nconsumers == 0 &&
                (!t->log || log_size_bytes(t->log) == 0);
    if (idle) {
        registry_list_free(&l);
        int64_t v;
        return add_schema(t, schema, &v, code, err, errlen);
    }
    int rc;
    if (!has) {
        rc = REG_INCOMPATIBLE;
        snprintf(err, errlen, "Topic does not have schema to check");
    } else {
        int strategy;
        bool enforced, auto_update;
        schema_policies(t->b, &tnp, &strategy, &enforced, &auto_update);
        json_t *props = props_json(schema);
        schema_ref_t ref;
        registry_ref(&ref, (int)schema->type, schema->schema_data.data, schema->schema_data.len,
                     props, -1);
        rc = registry_check(&l, strategy, &ref, true, err, errlen);
        json_decref(props);
    }
    registry_list_free(&l);
    if (rc == REG_OK) return 0;
    *code = reg_code(rc);
    return -1;
}

void handle_get_schema(conn_t *c, Pulsar__Proto__CommandGetSchema *cmd)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetSchemaResponse r = PULSAR__PROTO__COMMAND_GET_SCHEMA_RESPONSE__INIT;
    Pulsar__Proto__Schema s = PULSAR__PROTO__SCHEMA__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_SCHEMA_RESPONSE;
    out.getschemaresponse = &r;
    r.request_id = cmd->request_id;

    mg_topic_name_t tn;
    char err[300];
    if (!cmd->topic || topic_name_parse(cmd->topic, &tn, err, sizeof err)) {
        r.has_error_code = 1;
        r.error_code = E(InvalidTopicName);
        r.error_message = cmd->topic ? err : "Missing topic";
        conn_send_cmd(c, &out);
        return;
    }
    int64_t want = -1;
    if (cmd->has_schema_version && cmd->schema_version.len) {
        if (cmd->schema_version.len != 8) {
            r.has_error_code = 1;
            r.error_code = E(UnknownError);
            snprintf(err, sizeof err, "Invalid schema version: %zu bytes, expected 8",
                     cmd->schema_version.len);
            r.error_message = err;
            conn_send_cmd(c, &out);
            return;
        }
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | cmd->schema_version.data[i];
        want = (int64_t)v;
        if (want < 0) want = INT64_MAX; /* never stored: not found */
    }
    char id[SCHEMA_ID_MAX];
    registry_schema_id(&tn, id, sizeof id);
    schema_list_t l;
    if (registry_load(c->b->meta, id, &l)) {
        r.has_error_code = 1;
        r.error_code = E(MetadataError);
        r.error_message = "Failed to read the schema";
        conn_send_cmd(c, &out);
        return;
    }
    const schema_rec_t *rec = registry_list_get(&l, want);
    if (!rec || rec->deleted) {
        r.has_error_code = 1;
        r.error_code = E(TopicNotFound);
        r.error_message = "Topic not found or no-schema";
        conn_send_cmd(c, &out);
        registry_list_free(&l);
        return;
    }
    /* properties */
    size_t np = json_object_size(rec->props);
    Pulsar__Proto__KeyValue *kvs = np ? mg_calloc(np, sizeof *kvs) : NULL;
    Pulsar__Proto__KeyValue **kvp = np ? mg_calloc(np, sizeof *kvp) : NULL;
    size_t i = 0;
    if (kvs && kvp) {
        const char *k;
        json_t *v;
        json_object_foreach(rec->props, k, v)
        {
            if (!json_is_string(v)) continue;
            kvs[i] = (Pulsar__Proto__KeyValue)PULSAR__PROTO__KEY_VALUE__INIT;
            kvs[i].key = (char *)k;
            kvs[i].value = (char *)json_string_value(v);
            kvp[i] = &kvs[i];
            i++;
        }
    }
    s.name = id;
    s.type = (Pulsar__Proto__Schema__Type)rec->type;
    s.schema_data.data = rec->data;
    s.schema_data.len = rec->len;
    s.n_properties = i;
    s.properties = kvp;
    uint8_t ver[8];
    put_be64(ver, rec->version);
    r.schema = &s;
    r.has_schema_version = 1;
    r.schema_version.data = ver;
    r.schema_version.len = 8;
    conn_send_cmd(c, &out);
    mg_free(kvs);
    mg_free(kvp);
    registry_list_free(&l);
}

void handle_get_or_create_schema(conn_t *c, Pulsar__Proto__CommandGetOrCreateSchema *cmd)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetOrCreateSchemaResponse r =
        PULSAR__PROTO__COMMAND_GET_OR_CREATE_SCHEMA_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_OR_CREATE_SCHEMA_RESPONSE;
    out.getorcreateschemaresponse = &r;
    r.request_id = cmd->request_id;
    int code = 0;
    char err[1024];
    topic_t *t = cmd->topic ? topic_get(c->b, cmd->topic, false, &code, err, sizeof err) : NULL;
    if (!t) {
        r.has_error_code = 1;
        r.error_code = cmd->topic ? code : E(InvalidTopicName);
        r.error_message = cmd->topic ? err : "Missing topic";
        conn_send_cmd(c, &out);
        return;
    }
    uint8_t ver[8];
    int64_t v = -1;
    if (!has_schema(cmd->schema)) {
        /* nothing to register: answer with an empty version, as Pulsar's SchemaVersion.Empty */
        r.has_schema_version = 1;
        r.schema_version.data = ver;
        r.schema_version.len = 0;
    } else if (add_schema(t, cmd->schema, &v, &code, err, sizeof err)) {
        r.has_error_code = 1;
        r.error_code = code;
        r.error_message = err;
    } else {
        put_be64(ver, v);
        r.has_schema_version = 1;
        r.schema_version.data = ver;
        r.schema_version.len = 8;
    }
    conn_send_cmd(c, &out);
}
