/* routes_schemas.c - /admin/v2/schemas/{tenant}/{namespace}/{topic}/...: the schema registry's
 * REST API as Pulsar's SchemasResource has it:
 *   GET    .../schema            latest version (GetSchemaResponse)
 *   GET    .../schema/{version}  one version
 *   GET    .../schemas           every version after the last delete (GetAllVersionsSchemaResponse)
 *   DELETE .../schema[?force=true]  soft delete (a marker version) or remove all versions
 *   POST   .../schema            register (PostSchemaPayload -> PostSchemaResponse)
 *   POST   .../compatibility     test only (IsCompatibilityResponse)
 *   POST   .../version           the version of an identical schema (LongSchemaVersion)
 * A partition's name ("t-partition-3") addresses the partitioned topic's schema. The topic
 * need not exist (schemas may be uploaded first, as in Pulsar); the namespace must.
 * KEY_VALUE data is shown and accepted as JSON {"key": <schema>, "value": <schema>}, Pulsar's
 * convertKeyValueSchemaInfoDataToString form; it is stored in the binary KeyValue encoding.
 * Loop thread, like every route. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/alloc.h"
#include "schema/registry.h"

static int strategy_of(broker_t *b, const mg_topic_name_t *tn)
{
    const ns_policies_t *p = ns_policies(b, tn->tenant, tn->ns);
    int ns_strat = p && p->schema_compat[0] ? schema_strategy_parse(p->schema_compat) : 0;
    int br_strat = schema_strategy_parse(b->cfg->schema_compat_strategy);
    return schema_strategy_resolve(ns_strat < 0 ? 0 : ns_strat, br_strat < 0 ? 0 : br_strat);
}

/* A KEY_VALUE part as JSON: the parsed schema when it is JSON, else a string. */
static json_t *kv_part(const uint8_t *p, size_t n)
{
    json_t *j = n ? json_loadb((const char *)p, n, JSON_DECODE_ANY, NULL) : NULL;
    return j ? j : json_stringn((const char *)p, n);
}

static json_t *schema_json(const char *id, const schema_rec_t *rec)
{
    json_t *data;
    const uint8_t *k, *v;
    size_t kl, vl;
    if (rec->type == SCHEMA_TYPE_KEY_VALUE && !schema_kv_split(rec->data, rec->len, &k, &kl, &v, &vl)) {
        json_t *o = json_pack("{s:o, s:o}", "key", kv_part(k, kl), "value", kv_part(v, vl));
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        data = json_string(s ? s : "");
        free(s);
    } else {
        data = json_stringn((const char *)(rec->data ? (const void *)rec->data : ""), rec->len);
        if (!data) data = json_string(""); /* not valid UTF-8: Pulsar would mangle it too */
    }
    (void)id;
    return json_pack("{s:I, s:s, s:I, s:o, s:O}", "version", (json_int_t)rec->version, "type",
                     schema_type_name(rec->type), "timestamp", (json_int_t)rec->timestamp, "data",
                     data, "properties", rec->props);
}

/* KEY_VALUE JSON text {"key":..,"value":..} -> binary [BE32 len][key][BE32 len][value]. */
static uint8_t *kv_encode(const char *text, size_t *len)
{
    json_t *o = json_loads(text, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    char *parts[2] = {NULL, NULL};
    const char *names[2] = {"key", "value"};
    for (int i = 0; i < 2; i++) {
        json_t *p = json_object_get(o, names[i]);
        if (json_is_string(p)) parts[i] = strdup(json_string_value(p));
        else if (p && !json_is_null(p)) parts[i] = json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY);
        else parts[i] = strdup("");
    }
    json_decref(o);
    uint8_t *out = NULL;
    if (parts[0] && parts[1]) {
        size_t kl = strlen(parts[0]), vl = strlen(parts[1]);
        out = mg_malloc(8 + kl + vl);
        if (out) {
            uint8_t *w = out;
            for (int i = 0; i < 2; i++) {
                size_t l = i ? vl : kl;
                w[0] = (uint8_t)(l >> 24);
                w[1] = (uint8_t)(l >> 16);
                w[2] = (uint8_t)(l >> 8);
                w[3] = (uint8_t)l;
                memcpy(w + 4, parts[i], l);
                w += 4 + l;
            }
            *len = 8 + kl + vl;
        }
    }
    free(parts[0]);
    free(parts[1]);
    return out;
}

/* A PostSchemaPayload: type, data (mg_malloc'd), properties (new reference, string values
 * only). 0, or -1 after replying 400/422. */
typedef struct payload {
    int type;
    uint8_t *data;
    size_t len;
    json_t *props;
} payload_t;

static int parse_payload(admin_req_t *r, payload_t *p)
{
    memset(p, 0, sizeof *p);
    json_t *j = areq_json(r);
    if (!j) return -1;
    if (!json_is_object(j)) {
        json_decref(j);
        reply_err(r, 400, "The schema payload must be a JSON object {type, schema, properties}");
        return -1;
    }
    const char *ts = json_string_value(json_object_get(j, "type"));
    p->type = ts ? schema_type_parse(ts) : -1;
    if (p->type < 0) {
        reply_err(r, 400, "Unknown schema type: %s", ts ? ts : "(missing)");
        json_decref(j);
        return -1;
    }
    json_t *sch = json_object_get(j, "schema");
    char *text = NULL;
    if (json_is_string(sch)) text = strdup(json_string_value(sch));
    else if (!sch || json_is_null(sch)) text = strdup("");
    else text = json_dumps(sch, JSON_COMPACT | JSON_ENCODE_ANY); /* an inline JSON schema */
    if (!text) {
        json_decref(j);
        reply_err(r, 500, "out of memory");
        return -1;
    }
    size_t tl = strlen(text);
    if (tl > SCHEMA_MAX_BYTES) {
        reply_err(r, 422, "Invalid schema: %zu bytes exceeds the limit of %u bytes", tl,
                  SCHEMA_MAX_BYTES);
        free(text);
        json_decref(j);
        return -1;
    }
    if (p->type == SCHEMA_TYPE_KEY_VALUE && tl) {
        p->data = kv_encode(text, &p->len);
        if (!p->data) {
            reply_err(r, 422, "Invalid KEY_VALUE schema: expected a JSON object {\"key\": ..., "
                              "\"value\": ...}");
            free(text);
            json_decref(j);
            return -1;
        }
    } else {
        p->len = tl;
        p->data = mg_malloc(tl + 1);
        if (p->data) memcpy(p->data, text, tl + 1);
    }
    free(text);
    p->props = json_object();
    json_t *pr = json_object_get(j, "properties");
    const char *k;
    json_t *v;
    if (json_is_object(pr)) {
        json_object_foreach(pr, k, v)
        {
            if (json_is_string(v)) json_object_set(p->props, k, v);
        }
    }
    json_decref(j);
    return 0;
}

static void payload_free(payload_t *p)
{
    mg_free(p->data);
    if (p->props) json_decref(p->props);
}

static void get_one(admin_req_t *r, const char *id, const char *vs)
{
    int64_t want = -1;
    if (vs) {
        char *end;
        errno = 0;
        long long v = strtoll(vs, &end, 10);
        if (!*vs || *end || errno || v < 0) {
            reply_err(r, 400, "Invalid schema version: %s", vs);
            return;
        }
        want = v;
    }
    schema_list_t l;
    if (registry_load(r->b->meta, id, &l)) {
        reply_err(r, 500, "Failed to read the schema of %s", id);
        return;
    }
    const schema_rec_t *rec = registry_list_get(&l, want);
    if (!rec) reply_err(r, 404, "Schema not found");
    else if (rec->deleted) reply_err(r, 404, "Schema is deleted");
    else reply_json(r, 200, schema_json(id, rec));
    registry_list_free(&l);
}

static void get_all(admin_req_t *r, const char *id)
{
    schema_list_t l;
    if (registry_load(r->b->meta, id, &l)) {
        reply_err(r, 500, "Failed to read the schema of %s", id);
        return;
    }
    json_t *a = json_array();
    for (size_t i = l.first_live; i < l.n; i++) json_array_append_new(a, schema_json(id, &l.v[i]));
    registry_list_free(&l);
    reply_json(r, 200, json_pack("{s:o}", "getSchemaResponses", a));
}

static void delete_schema(admin_req_t *r, const char *id)
{
    int64_t v;
    int rc = registry_delete(r->b->meta, id, areq_arg_true(r, "force"), &v);
    if (rc == REG_ERROR) reply_err(r, 500, "Failed to delete the schema of %s", id);
    else reply_json(r, 200, json_pack("{s:I}", "version", (json_int_t)v));
}

static void post(admin_req_t *r, const mg_topic_name_t *tn, const char *id, const char *op)
{
    payload_t p;
    if (parse_payload(r, &p)) return;
    int strategy = strategy_of(r->b, tn);
    char reason[1024] = "";
    if (!strcmp(op, "schema")) {
        /* admin uploads go straight to the registry: auto update does not apply (Pulsar) */
        int64_t v = -1;
        int rc = registry_put(r->b->meta, id, strategy, true, p.type, p.data, p.len, p.props, &v,
                              reason, sizeof reason);
        if (rc == REG_OK)
            reply_json(r, 200, json_pack("{s:{s:I}}", "version", "version", (json_int_t)v));
        else if (rc == REG_INCOMPATIBLE) reply_err(r, 409, "%s", reason);
        else if (rc == REG_INVALID) reply_err(r, 422, "%s", reason);
        else reply_err(r, 500, "%s", reason);
    } else if (!strcmp(op, "compatibility")) {
        schema_list_t l;
        if (registry_load(r->b->meta, id, &l)) {
            reply_err(r, 500, "Failed to read the schema of %s", id);
        } else {
            schema_ref_t s;
            registry_ref(&s, p.type, p.data, p.len, p.props, -1);
            int rc = registry_check(&l, strategy, &s, false, reason, sizeof reason);
            registry_list_free(&l);
            if (rc == REG_INVALID) {
                reply_err(r, 422, "%s", reason);
            } else if (rc == REG_ERROR) {
                reply_err(r, 500, "%s", reason);
            } else {
                json_t *o = json_pack("{s:b, s:s}", "compatibility", rc == REG_OK,
                                      "schemaCompatibilityStrategy", schema_strategy_name(strategy));
                if (rc != REG_OK) json_object_set_new(o, "reason", json_string(reason));
                reply_json(r, 200, o);
            }
        }
    } else { /* version */
        schema_list_t l;
        if (registry_load(r->b->meta, id, &l)) {
            reply_err(r, 500, "Failed to read the schema of %s", id);
        } else {
            int64_t v = registry_find(&l, p.type, p.data, p.len);
            registry_list_free(&l);
            if (v < 0) reply_err(r, 404, "Not found schema");
            else reply_json(r, 200, json_pack("{s:I}", "version", (json_int_t)v));
        }
    }
    payload_free(&p);
}

void route_schemas(admin_req_t *r)
{
    /* admin/v2/schemas/{tenant}/{ns}/{topic}/{op}[/{version}] */
    if (r->nseg < 7 || r->nseg > 8) {
        reply_err(r, 404, "Not found: /%s", r->path);
        return;
    }
    const char *op = r->segs[6];
    char name[3000], err[300];
    snprintf(name, sizeof name, "persistent://%s/%s/%s", r->segs[3], r->segs[4], r->segs[5]);
    mg_topic_name_t tn;
    if (!*r->segs[5] || topic_name_parse(name, &tn, err, sizeof err)) {
        reply_err(r, 412, "Invalid topic name: %s", *r->segs[5] ? err : "empty");
        return;
    }
    if (!namespace_exists(r->b, tn.tenant, tn.ns)) {
        reply_err(r, 404, "Namespace %s/%s does not exist", tn.tenant, tn.ns);
        return;
    }
    char id[SCHEMA_ID_MAX];
    registry_schema_id(&tn, id, sizeof id);
    bool get = !strcmp(r->method, "GET"), postm = !strcmp(r->method, "POST");
    if (!strcmp(op, "schema") && r->nseg == 8) {
        if (get) get_one(r, id, r->segs[7]);
        else reply_405(r);
    } else if (r->nseg == 8) {
        reply_err(r, 404, "Not found: /%s", r->path);
    } else if (!strcmp(op, "schema")) {
        if (get) get_one(r, id, NULL);
        else if (postm) post(r, &tn, id, op);
        else if (!strcmp(r->method, "DELETE")) delete_schema(r, id);
        else reply_405(r);
    } else if (!strcmp(op, "schemas")) {
        if (get) get_all(r, id);
        else reply_405(r);
    } else if (!strcmp(op, "compatibility") || !strcmp(op, "version")) {
        if (postm) post(r, &tn, id, op);
        else reply_405(r);
    } else {
        reply_err(r, 404, "Not found: /%s", r->path);
    }
}
