/* topic.c - topics: loading on first use (open the log, recover dedup state, load durable
 * subscriptions), auto-creation, partitioned-topic metadata, namespace existence and the
 * namespace policies the broker enforces (parsed from Pulsar's Policies JSON). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

bool namespace_exists(broker_t *b, const char *tenant, const char *ns)
{
    return ns_policies(b, tenant, ns) != NULL;
}

static int64_t jint(json_t *o, const char *k, int64_t dflt)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int jbool(json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* Parse Pulsar's namespace Policies JSON into what the broker enforces. */
static void policies_parse(ns_policies_t *p, const char *js, size_t len)
{
    memset(p, 0, sizeof *p);
    p->dedup = -1;
    p->retention_minutes = p->retention_size_mb = -2;
    p->ttl_seconds = -1;
    p->backlog_limit_bytes = p->backlog_limit_time_s = -1;
    p->max_producers_per_topic = p->max_consumers_per_topic = -1;
    p->max_consumers_per_subscription = -1;
    p->schema_validation_enforced = -1;
    p->is_allow_auto_update_schema = -1;
    json_t *o = json_loadb(js, len, 0, NULL);
    if (!o) return;
    p->dedup = jbool(o, "deduplicationEnabled");
    json_t *r = json_object_get(o, "retention_policies");
    if (json_is_object(r)) {
        p->retention_minutes = jint(r, "retentionTimeInMinutes", -2);
        p->retention_size_mb = jint(r, "retentionSizeInMB", -2);
    }
    p->ttl_seconds = jint(o, "message_ttl_in_seconds", -1);
    json_t *bq = json_object_get(o, "backlog_quota_map");
    json_t *ds = bq ? json_object_get(bq, "destination_storage") : NULL;
    if (json_is_object(ds)) {
        p->backlog_limit_bytes = jint(ds, "limitSize", jint(ds, "limit", -1));
        p->backlog_limit_time_s = jint(ds, "limitTime", -1);
        json_t *pol = json_object_get(ds, "policy");
        if (json_is_string(pol))
            snprintf(p->backlog_policy, sizeof p->backlog_policy, "%s", json_string_value(pol));
    }
    p->max_producers_per_topic = (int)jint(o, "max_producers_per_topic", -1);
    p->max_consumers_per_topic = (int)jint(o, "max_consumers_per_topic", -1);
    p->max_consumers_per_subscription = (int)jint(o, "max_consumers_per_subscription", -1);
    p->schema_validation_enforced = jbool(o, "schema_validation_enforced");
    p->is_allow_auto_update_schema = jbool(o, "is_allow_auto_update_schema");
    json_t *sc = json_object_get(o, "schema_compatibility_strategy");
    if (json_is_string(sc) && strcmp(json_string_value(sc), "UNDEFINED"))
        snprintf(p->schema_compat, sizeof p->schema_compat, "%s", json_string_value(sc));
    p->subscription_expiration_minutes = (int)jint(o, "subscription_expiration_time_minutes", 0);
    json_decref(o);
}

/* "tenant/ns" into key (cut to fit, as snprintf would): the policies cache key. Built by hand:
 * it is looked up for every SEND, and snprintf cost more than the lookup. */
static void ns_key(char *key, size_t cap, const char *tenant, const char *ns)
{
    size_t a = strlen(tenant), n = strlen(ns);
    if (a > cap - 1) a = cap - 1;
    memcpy(key, tenant, a);
    size_t off = a;
    if (off < cap - 1) key[off++] = '/';
    if (n > cap - 1 - off) n = cap - 1 - off;
    memcpy(key + off, ns, n);
    key[off + n] = '\0';
}

const ns_policies_t *ns_policies(broker_t *b, const char *tenant, const char *ns)
{
    char key[600];
    ns_key(key, sizeof key, tenant, ns);
    ns_policies_t *p = map_get(&b->ns_cache, key);
    if (p) return p;
    char path[700], *v;
    size_t n;
    snprintf(path, sizeof path, "/admin/policies/%s/%s", tenant, ns);
    if (meta_get(b->meta, path, &v, &n)) return NULL;
    p = mg_malloc(sizeof *p);
    if (!p) {
        mg_free(v);
        return NULL;
    }
    policies_parse(p, v, n);
    mg_free(v);
    map_put(&b->ns_cache, key, p);
    return p;
}

void ns_policies_invalidate(broker_t *b, const char *tenant, const char *ns)
{
    char key[600];
    ns_key(key, sizeof key, tenant, ns);
    mg_free(map_del(&b->ns_cache, key));
}

bool topic_dedup_enabled(topic_t *t)
{
    const ns_policies_t *p = ns_policies(t->b, t->tn.tenant, t->tn.ns);
    if (p && p->dedup >= 0) return p->dedup;
    return t->b->cfg->dedup_enabled;
}

static void partitioned_key(const char *base, char *key, size_t n)
{
    mg_topic_name_t tn;
    char err[100];
    if (topic_name_parse(base, &tn, err, sizeof err)) {
        snprintf(key, n, "/admin/partitioned-topics/invalid");
        return;
    }
    snprintf(key, n, "/admin/partitioned-topics/%s/%s/%s/%s", tn.tenant, tn.ns,
             tn.persistent ? "persistent" : "non-persistent", tn.local);
}

int topic_partitions(broker_t *b, const char *base)
{
    char key[2600], *v;
    size_t n;
    partitioned_key(base, key, sizeof key);
    if (meta_get(b->meta, key, &v, &n)) return -1;
    json_t *o = json_loadb(v, n, 0, NULL);
    mg_free(v);
    int parts = (int)jint(o, "partitions", -1);
    json_decref(o);
    return parts;
}

int topic_set_partitions(broker_t *b, const char *base, int parts)
{
    char key[2600], val[64];
    partitioned_key(base, key, sizeof key);
    snprintf(val, sizeof val, "{\"partitions\":%d}", parts);
    return meta_put(b->meta, key, val, strlen(val), true);
}

static void registry_key(const mg_topic_name_t *tn, char *key, size_t n)
{
    snprintf(key, n, "/topics/%s/%s/%s", tn->tenant, tn->ns, tn->local);
}

bool topic_exists(broker_t *b, const mg_topic_name_t *tn)
{
    if (map_get(&b->topics, tn->full)) return true;
    if (tn->partition < 0 && topic_partitions(b, tn->full) >= 0) return true;
    return log_exists(b->store, tn->full);
}

static int ident_set(topic_ident_t *id, const mg_topic_name_t *tn)
{
    const char *parts[5] = {tn->tenant, tn->ns, tn->local, tn->full, tn->base};
    size_t total = 0;
    for (int i = 0; i < 5; i++) total += strlen(parts[i]) + 1;
    char *m = mg_malloc(total);
    if (!m) return -1;
    const char **dst[5] = {&id->tenant, &id->ns, &id->local, &id->full, &id->base};
    char *p = m;
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]) + 1;
        memcpy(p, parts[i], l);
        *dst[i] = p;
        p += l;
    }
    id->mem = m;
    id->persistent = tn->persistent;
    id->partition = tn->partition;
    return 0;
}

void topic_name_of(const topic_t *t, mg_topic_name_t *out)
{
    char err[64];
    topic_name_parse(t->name, out, err, sizeof err); /* t->name was parsed once: cannot fail */
}

topic_t *topic_get(broker_t *b, const char *name, bool create, int *code, char *err, size_t errlen)
{
    mg_topic_name_t tn;
    if (topic_name_parse(name, &tn, err, errlen)) {
        *code = PULSAR__PROTO__SERVER_ERROR__InvalidTopicName;
        return NULL;
    }
    topic_t *t = map_get(&b->topics, tn.full);
    if (t) return t;
    if (!tn.persistent) {
        *code = PULSAR__PROTO__SERVER_ERROR__NotAllowedError;
        snprintf(err, errlen, "Non-persistent topics are not supported: %s", tn.full);
        return NULL;
    }
    if (!namespace_exists(b, tn.tenant, tn.ns)) {
        *code = PULSAR__PROTO__SERVER_ERROR__TopicNotFound;
        snprintf(err, errlen, "Namespace %s/%s does not exist", tn.tenant, tn.ns);
        return NULL;
    }
    if (tn.partition < 0 && topic_partitions(b, tn.full) > 0) {
        *code = PULSAR__PROTO__SERVER_ERROR__NotAllowedError;
        snprintf(err, errlen, "%s is a partitioned topic: use its partitions (%s-partition-N)",
                 tn.full, tn.full);
        return NULL;
    }
    bool exists = log_exists(b->store, tn.full);
    if (!exists) {
        if (tn.partition >= 0) {
            int parts = topic_partitions(b, tn.base);
            if (parts > 0 && tn.partition >= parts) {
                *code = PULSAR__PROTO__SERVER_ERROR__TopicNotFound;
                snprintf(err, errlen, "Partition %d does not exist: %s has %d partitions",
                         tn.partition, tn.base, parts);
                return NULL;
            }
            if (parts > 0) create = true; /* a partition of a known partitioned topic */
        }
        if (!create || (!b->cfg->allow_auto_topic_creation && !(tn.partition >= 0 &&
                                                                 topic_partitions(b, tn.base) > 0))) {
            *code = PULSAR__PROTO__SERVER_ERROR__TopicNotFound;
            snprintf(err, errlen, "Topic %s does not exist", tn.full);
            return NULL;
        }
    }
    mg_log_t *log = log_open(b->store, tn.full, true, err, errlen);
    if (!log) {
        *code = PULSAR__PROTO__SERVER_ERROR__PersistenceError;
        return NULL;
    }
    if (!exists) {
        char key[2600];
        registry_key(&tn, key, sizeof key);
        meta_put(b->meta, key, "", 0, true);
        log_info("created topic %s", tn.full);
    }
    t = mg_calloc(1, sizeof *t);
    if (t && ident_set(&t->tn, &tn)) {
        mg_free(t);
        t = NULL;
    }
    if (!t) {
        log_close(log);
        *code = PULSAR__PROTO__SERVER_ERROR__ServiceNotReady;
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->b = b;
    t->name = mg_strdup(tn.full);
    t->log = log;
    t->created_ms = mg_now_ms();
    map_init_str(&t->producers);
    map_init_str(&t->subs);
    map_init_str(&t->dedup);
    map_put(&b->topics, t->name, t);
    dedup_recover(t);
    sub_load_all(t);
    return t;
}

/* Close a topic: disconnect producers and consumers (broker-initiated CLOSE_PRODUCER /
 * CLOSE_CONSUMER, so clients reconnect), persist cursors, close the log. With delete_data the
 * log, its cursors and its registry entry are removed. */
void topic_close(topic_t *t, bool delete_data)
{
    broker_t *b = t->b;
    t->closing = true;
    const char *k;
    void *v;
    for (size_t it = 0; map_next(&t->producers, &it, &k, NULL, &v);) producer_close(v, true);
    for (size_t it = 0; map_next(&t->subs, &it, &k, NULL, &v);) {
        subscription_t *s = v;
        while (s->consumers) consumer_close(s->consumers, true);
    }
    if (!delete_data) {
        dedup_snapshot(t);
        subs_flush_dirty(b);
    }
    for (size_t it = 0; map_next(&t->subs, &it, &k, NULL, &v);) sub_free(v);
    map_free(&t->subs);
    map_free(&t->producers);
    for (size_t it = 0; map_next(&t->dedup, &it, &k, NULL, &v);) mg_free(v);
    map_free(&t->dedup);
    log_close(t->log);
    producer_cancel_inflight(t); /* what storage held is dropped with the log: no receipts */
    if (delete_data) {
        char key[2600];
        log_delete(b->store, t->name);
        mg_topic_name_t tn;
        topic_name_of(t, &tn);
        registry_key(&tn, key, sizeof key);
        meta_del(b->meta, key);
        snprintf(key, sizeof key, "/managed-ledgers/%s/%s/persistent/%s/", t->tn.tenant, t->tn.ns,
                 t->tn.local);
        meta_del_prefix(b->meta, key);
    }
    map_del(&b->topics, t->name);
    mg_free(t->waiting);
    mg_free(t->tn.mem);
    mg_free(t->name);
    mg_free(t);
}

uint64_t topic_backlog_bytes(topic_t *t)
{
    uint64_t min = log_durable_end(t->log);
    void *v;
    for (size_t it = 0; map_next(&t->subs, &it, NULL, NULL, &v);) {
        subscription_t *s = v;
        if (s->durable && s->acks.floor < min) min = s->acks.floor;
    }
    return log_bytes_from(t->log, min);
}
