/* routes_ns.c - /admin/v2/namespaces: list, create, delete, the full Policies JSON and the
 * policy sub-resources (retention, messageTTL, backlogQuota, deduplication, schema
 * validation and compatibility, replication, permissions, max producers/consumers,
 * subscription expiration). Writes go to the Policies JSON at /admin/policies/<t>/<ns> with
 * Pulsar's field names, then ns_policies_invalidate() so the broker sees them at once; writes
 * to retention, TTL and backlog quota also run an enforcement pass. Loop thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin_int.h"
#include "broker/admin_ops.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

/* A scalar policy stored as one Policies field. */
typedef struct scalar_policy {
    const char *path;   /* sub-resource */
    const char *field;  /* Policies JSON field */
    char type; /* 'i' int >= 0, 'b' bool, 's' schema compatibility strategy, 'm' auth mode */
    const char *unset;  /* JSON answered by GET when unset; NULL = 204 No Content */
} scalar_policy_t;

static const scalar_policy_t SCALARS[] = {
    {"messageTTL", "message_ttl_in_seconds", 'i', NULL},
    {"deduplication", "deduplicationEnabled", 'b', NULL},
    {"schemaValidationEnforced", "schema_validation_enforced", 'b', "false"},
    {"schemaCompatibilityStrategy", "schema_compatibility_strategy", 's', "\"UNDEFINED\""},
    {"isAllowAutoUpdateSchema", "is_allow_auto_update_schema", 'b', "true"},
    {"maxProducersPerTopic", "max_producers_per_topic", 'i', NULL},
    {"maxConsumersPerTopic", "max_consumers_per_topic", 'i', NULL},
    {"maxConsumersPerSubscription", "max_consumers_per_subscription", 'i', NULL},
    {"maxUnackedMessagesPerConsumer", "max_unacked_messages_per_consumer", 'i', NULL},
    {"maxUnackedMessagesPerSubscription", "max_unacked_messages_per_subscription", 'i', NULL},
    {"subscriptionExpirationTime", "subscription_expiration_time_minutes", 'i', NULL},
    {"subscriptionAuthMode", "subscription_auth_mode", 'm', "\"None\""},
    {NULL, NULL, 0, NULL},
};

static const char *STRATEGIES[] = {"UNDEFINED", "ALWAYS_INCOMPATIBLE", "ALWAYS_COMPATIBLE",
                                   "BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE",
                                   "FORWARD_TRANSITIVE", "FULL_TRANSITIVE", NULL};
static const char *QUOTA_POLICIES[] = {"producer_request_hold", "producer_exception",
                                       "consumer_backlog_eviction", NULL};
static const char *ACTIONS[] = {"produce", "consume", "functions", "sources", "sinks",
                                "packages", NULL};

static bool in_list(const char *s, const char **l)
{
    for (int i = 0; l[i]; i++)
        if (!strcmp(s, l[i])) return true;
    return false;
}

/* The Policies JSON as Pulsar answers it: defaults for every field, then what is stored. */
static json_t *policies_view(broker_t *b, json_t *stored)
{
    json_t *o = json_pack(
        "{s:{s:{},s:{},s:{}},s:[],s:{s:[s,s,s,s,s],s:i},s:{},s:{},s:{},s:{},s:{},s:{},s:{},"
        "s:{},s:b,s:b,s:s,s:i,s:s,s:s,s:b,s:b,s:[],s:{},s:b}",
        "auth_policies", "namespace_auth", "destination_auth", "subscription_auth_roles",
        "replication_clusters", "bundles", "boundaries", "0x00000000", "0x40000000",
        "0x80000000", "0xc0000000", "0xffffffff", "numBundles", 4, "backlog_quota_map",
        "clusterDispatchRate", "topicDispatchRate", "subscriptionDispatchRate",
        "replicatorDispatchRate", "clusterSubscribeRate", "publishMaxMessageRate",
        "latency_stats_sample_rate", "deleted", 0, "encryption_required", 0,
        "subscription_auth_mode", "None", "offload_threshold", -1,
        "schema_auto_update_compatibility_strategy", "Full", "schema_compatibility_strategy",
        "UNDEFINED", "is_allow_auto_update_schema", 1, "schema_validation_enforced", 0,
        "subscription_types_enabled", "properties", "migrated", 0);
    if (!o) return json_object();
    const char *k;
    json_t *v;
    json_object_foreach(stored, k, v)
    {
        json_t *cur = json_object_get(o, k);
        if (json_is_object(cur) && json_is_object(v)) json_object_update(cur, v);
        else json_object_set(o, k, v);
    }
    return o;
}

static json_t *ns_retention_default(broker_t *b)
{
    return json_pack("{s:i,s:i}", "retentionTimeInMinutes",
                     (json_int_t)b->cfg->default_retention_minutes, "retentionSizeInMB",
                     (json_int_t)b->cfg->default_retention_size_mb);
}

static bool ns_has_topics(broker_t *b, const char *t, const char *ns)
{
    char prefix[700];
    snprintf(prefix, sizeof prefix, "/topics/%s/%s/", t, ns);
    json_t *l = meta_children(b, prefix);
    size_t n = json_array_size(l);
    json_decref(l);
    snprintf(prefix, sizeof prefix, "/admin/partitioned-topics/%s/%s/persistent/", t, ns);
    l = meta_children(b, prefix);
    n += json_array_size(l);
    json_decref(l);
    return n > 0;
}

/* Delete every topic of a namespace (partitions, partitioned-topic metadata, cursors and
 * schemas), disconnecting their producers and consumers. */
static void ns_delete_all_topics(broker_t *b, const char *t, const char *ns)
{
    char prefix[700], full[2600];
    snprintf(prefix, sizeof prefix, "/topics/%s/%s/", t, ns);
    json_t *l = meta_children(b, prefix);
    size_t i;
    json_t *e;
    json_array_foreach(l, i, e)
    {
        snprintf(full, sizeof full, "persistent://%s/%s/%s", t, ns, json_string_value(e));
        aops_topic_delete(b, full, true);
        snprintf(full, sizeof full, "/topics/%s/%s/%s", t, ns, json_string_value(e));
        meta_del(b->meta, full);
    }
    json_decref(l);
    /* loaded topics without a registry entry (none expected, but never leave one behind) */
    snprintf(prefix, sizeof prefix, "persistent://%s/%s/", t, ns);
    const char *k;
    for (size_t it = 0; map_next(&b->topics, &it, &k, NULL, NULL);) {
        if (strncmp(k, prefix, strlen(prefix))) continue;
        snprintf(full, sizeof full, "%s", k);
        aops_topic_delete(b, full, true);
        it = 0; /* the map changed: start over */
    }
    snprintf(prefix, sizeof prefix, "/admin/partitioned-topics/%s/%s/", t, ns);
    meta_del_prefix(b->meta, prefix);
    snprintf(prefix, sizeof prefix, "/managed-ledgers/%s/%s/", t, ns);
    meta_del_prefix(b->meta, prefix);
    snprintf(prefix, sizeof prefix, "/schemas/%s/%s/", t, ns);
    meta_del_prefix(b->meta, prefix);
}

int ns_delete(broker_t *b, const char *t, const char *ns, bool force)
{
    if (ns_has_topics(b, t, ns)) {
        if (!force) return -ENOTEMPTY;
        ns_delete_all_topics(b, t, ns);
    } else if (force) {
        ns_delete_all_topics(b, t, ns); /* loaded topics, schemas of deleted topics */
    }
    char key[700];
    snprintf(key, sizeof key, "/admin/policies/%s/%s", t, ns);
    meta_del(b->meta, key);
    ns_policies_invalidate(b, t, ns);
    log_info("admin: deleted namespace %s/%s%s", t, ns, force ? " (force)" : "");
    return 0;
}

static void list_topics(admin_req_t *r, const char *t, const char *ns)
{
    const char *mode = areq_arg(r, "mode");
    json_t *out = NULL;
    if (!mode || strcasecmp(mode, "NON_PERSISTENT")) {
        char prefix[700];
        snprintf(prefix, sizeof prefix, "/topics/%s/%s/", t, ns);
        out = persistent_topic_names(r->b, prefix, t, ns);
    }
    reply_json(r, 200, out ? out : json_array());
}

/* After a policy write: take effect now (retention/TTL/quota act on data). */
static void policies_changed(broker_t *b, const char *t, const char *ns, bool enforce)
{
    ns_policies_invalidate(b, t, ns);
    if (enforce) policies_enforce_all(b);
}

/* ?applied=true: the value in effect when the namespace sets none, i.e. the broker's
 * default (broker.conf), as Pulsar's topic-level `applied` falls back to namespace then
 * broker. NULL when the policy has no broker-level default. */
static json_t *applied_default(broker_t *b, const char *path)
{
    const mg_config_t *c = b->cfg;
    if (!strcmp(path, "messageTTL")) return json_integer(c->ttl_seconds);
    if (!strcmp(path, "deduplication")) return json_boolean(c->dedup_enabled);
    if (!strcmp(path, "schemaValidationEnforced")) return json_boolean(c->schema_validation_enforced);
    if (!strcmp(path, "schemaCompatibilityStrategy"))
        return json_string(c->schema_compat_strategy[0] ? c->schema_compat_strategy : "FULL");
    if (!strcmp(path, "maxProducersPerTopic")) return json_integer(c->max_producers_per_topic);
    if (!strcmp(path, "maxConsumersPerTopic")) return json_integer(c->max_consumers_per_topic);
    if (!strcmp(path, "maxConsumersPerSubscription"))
        return json_integer(c->max_consumers_per_subscription);
    if (!strcmp(path, "maxUnackedMessagesPerConsumer"))
        return json_integer(c->max_unacked_per_consumer);
    if (!strcmp(path, "maxUnackedMessagesPerSubscription"))
        return json_integer(c->max_unacked_per_subscription);
    /* Pulsar's subscriptionExpirationTimeMinutes defaults to 0 (never); Magnetar has no key */
    if (!strcmp(path, "subscriptionExpirationTime")) return json_integer(0);
    return NULL;
}

static void scalar_policy(admin_req_t *r, const scalar_policy_t *sp, const char *t,
                          const char *ns, json_t *pol)
{
    const char *m = r->method;
    json_t *cur = json_object_get(pol, sp->field);
    if (!strcmp(m, "GET")) {
        if (cur && !json_is_null(cur)) return reply_json(r, 200, json_incref(cur));
        if (areq_arg_true(r, "applied")) {
            json_t *eff = applied_default(r->b, sp->path);
            if (eff) return reply_json(r, 200, eff);
        }
        if (!sp->unset) return reply_empty(r, 204);
        return reply_text(r, 200, "application/json", sp->unset, strlen(sp->unset));
    }
    if (!strcmp(m, "DELETE")) {
        json_object_del(pol, sp->field);
    } else if (!strcmp(m, "POST") || !strcmp(m, "PUT")) {
        json_t *v = areq_json(r);
        if (!v) return;
        if (sp->type == 'i') {
            if (!json_is_integer(v)) {
                json_decref(v);
                return reply_err(r, 400, "%s must be an integer", sp->path);
            }
            if (json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
                json_decref(v);
                if (!strcmp(sp->path, "messageTTL"))
                    return reply_err(r, 412, "Invalid value for message TTL");
                return reply_err(r, 412, "%s must be 0 or more", sp->path);
            }
        } else if (sp->type == 'b') {
            if (!json_is_boolean(v)) {
                json_decref(v);
                return reply_err(r, 400, "%s must be true or false", sp->path);
            }
        } else if (sp->type == 's') {
            if (!json_is_string(v) || !in_list(json_string_value(v), STRATEGIES)) {
                json_decref(v);
                return reply_err(r, 400, "Invalid schema compatibility strategy");
            }
        } else if (sp->type == 'm') { /* Pulsar's SubscriptionAuthMode */
            static const char *MODES[] = {"None", "Prefix", NULL};
            if (!json_is_string(v) || !in_list(json_string_value(v), MODES)) {
                json_decref(v);
                return reply_err(r, 400, "Invalid subscription auth mode (None or Prefix)");
            }
        }
        json_object_set_new(pol, sp->field, v);
    } else {
        return reply_405(r);
    }
    policies_store(r->b, t, ns, pol);
    policies_changed(r->b, t, ns, !strcmp(sp->path, "messageTTL"));
    if (!strcmp(sp->path, "subscriptionExpirationTime")) aops_subs_expire_inactive(r->b, mg_now_ms());
    reply_empty(r, 204);
}

static void retention(admin_req_t *r, const char *t, const char *ns, json_t *pol)
{
    const char *m = r->method;
    if (!strcmp(m, "GET")) {
        json_t *cur = json_object_get(pol, "retention_policies");
        if (json_is_object(cur)) return reply_json(r, 200, json_incref(cur));
        if (areq_arg_true(r, "applied")) return reply_json(r, 200, ns_retention_default(r->b));
        return reply_empty(r, 204);
    }
    if (!strcmp(m, "DELETE")) {
        json_object_del(pol, "retention_policies");
    } else if (!strcmp(m, "POST")) {
        json_t *v = areq_json(r);
        if (!v) return;
        json_t *tm = json_object_get(v, "retentionTimeInMinutes");
        json_t *sz = json_object_get(v, "retentionSizeInMB");
        if (!json_is_object(v) || (tm && !json_is_integer(tm)) || (sz && !json_is_integer(sz))) {
            json_decref(v);
            return reply_err(r, 400, "Retention policies must be {\"retentionTimeInMinutes\": "
                                     "int, \"retentionSizeInMB\": long}");
        }
        json_int_t tmv = tm ? json_integer_value(tm) : 0, szv = sz ? json_integer_value(sz) : 0;
        if (tmv < -1 || szv < -1) {
            json_decref(v);
            return reply_err(r, 412, "Invalid retention policy: values must be -1 (infinite), 0 or "
                                     "more");
        }
        json_decref(v);
        json_object_set_new(pol, "retention_policies",
                            json_pack("{s:I,s:I}", "retentionTimeInMinutes", tmv,
                                      "retentionSizeInMB", szv));
    } else {
        return reply_405(r);
    }
    policies_store(r->b, t, ns, pol);
    policies_changed(r->b, t, ns, true);
    reply_empty(r, 204);
}

static void backlog_quota(admin_req_t *r, const char *t, const char *ns, json_t *pol, bool map)
{
    const char *m = r->method;
    json_t *bq = json_object_get(pol, "backlog_quota_map");
    if (!strcmp(m, "GET")) {
        if (!map) return reply_405(r);
        json_t *out = json_is_object(bq) ? json_deep_copy(bq) : json_object();
        const mg_config_t *c = r->b->cfg;
        if (areq_arg_true(r, "applied") && !json_object_get(out, "destination_storage") &&
            c->backlog_quota_default_limit_gb >= 0) {
            /* the broker default (backlogQuotaDefaultLimitGB / ...RetentionPolicy) */
            json_int_t lim = (json_int_t)c->backlog_quota_default_limit_gb << 30;
            json_object_set_new(out, "destination_storage",
                                json_pack("{s:I,s:I,s:i,s:s}", "limit", lim, "limitSize", lim,
                                          "limitTime", -1, "policy",
                                          c->backlog_quota_default_policy));
        }
        return reply_json(r, 200, out);
    }
    if (map) return reply_405(r);
    const char *type = areq_arg(r, "backlogQuotaType");
    if (!type || !*type) type = "destination_storage";
    if (strcmp(type, "destination_storage") && strcmp(type, "message_age"))
        return reply_err(r, 400, "Invalid backlogQuotaType: %s", type);
    if (!json_is_object(bq)) {
        bq = json_object();
        json_object_set_new(pol, "backlog_quota_map", bq);
    }
    if (!strcmp(m, "DELETE")) {
        json_object_del(bq, type);
    } else if (!strcmp(m, "POST")) {
        json_t *v = areq_json(r);
        if (!v) return;
        json_t *ls = json_object_get(v, "limitSize"), *l = json_object_get(v, "limit");
        json_t *lt = json_object_get(v, "limitTime"), *p = json_object_get(v, "policy");
        if (!json_is_object(v) || (ls && !json_is_integer(ls)) || (l && !json_is_integer(l)) ||
            (lt && !json_is_integer(lt)) || (p && !json_is_string(p)) ||
            (p && !in_list(json_string_value(p), QUOTA_POLICIES))) {
            json_decref(v);
            return reply_err(r, 400, "Invalid backlog quota: expected {\"limitSize\": long, "
                                     "\"limitTime\": int, \"policy\": "
                                     "producer_request_hold|producer_exception|"
                                     "consumer_backlog_eviction}");
        }
        json_int_t size = ls ? json_integer_value(ls) : l ? json_integer_value(l) : -1;
        json_int_t time = lt ? json_integer_value(lt) : -1;
        const char *policy = p ? json_string_value(p) : "producer_request_hold";
        json_object_set_new(bq, type,
                            json_pack("{s:I,s:I,s:I,s:s}", "limit", size, "limitSize", size,
                                      "limitTime", time, "policy", policy));
        json_decref(v);
    } else {
        return reply_405(r);
    }
    policies_store(r->b, t, ns, pol);
    policies_changed(r->b, t, ns, true);
    reply_empty(r, 204);
}

static void replication(admin_req_t *r, const char *t, const char *ns, json_t *pol)
{
    if (!strcmp(r->method, "GET")) {
        json_t *c = json_object_get(pol, "replication_clusters");
        return reply_json(r, 200, json_is_array(c) ? json_incref(c) : json_array());
    }
    if (strcmp(r->method, "POST")) return reply_405(r);
    json_t *v = areq_json(r);
    if (!v) return;
    if (!json_is_array(v)) {
        json_decref(v);
        return reply_err(r, 400, "Replication clusters must be a list of cluster names");
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            json_decref(v);
            return reply_err(r, 400, "Replication clusters must be a list of cluster names");
        }
        if (!name_is_valid(json_string_value(e)) || !cluster_exists(r->b, json_string_value(e))) {
            reply_err(r, 412, "Invalid cluster id: %s", json_string_value(e));
            json_decref(v);
            return;
        }
    }
    json_object_set_new(pol, "replication_clusters", v);
    policies_store(r->b, t, ns, pol);
    reply_empty(r, 204);
}

json_t *auth_policies_of(json_t *pol)
{
    json_t *ap = json_object_get(pol, "auth_policies");
    if (!json_is_object(ap)) {
        ap = json_object();
        json_object_set_new(pol, "auth_policies", ap);
    }
    const char *maps[] = {"namespace_auth", "destination_auth", "subscription_auth_roles"};
    for (int i = 0; i < 3; i++)
        if (!json_is_object(json_object_get(ap, maps[i])))
            json_object_set_new(ap, maps[i], json_object());
    return ap;
}

json_t *auth_actions_body(admin_req_t *r)
{
    json_t *v = areq_json(r);
    if (!v) return NULL;
    size_t i;
    json_t *e;
    bool ok = json_is_array(v);
    json_array_foreach(v, i, e) if (!json_is_string(e) || !in_list(json_string_value(e), ACTIONS))
        ok = false;
    if (!ok) {
        json_decref(v);
        reply_err(r, 400,
                  "Actions must be a list of produce, consume, functions, sources, sinks, "
                  "packages");
        return NULL;
    }
    return v;
}

/* Pulsar's subscription permissions: GET .../permissions/subscription (all of them),
 * POST .../permissions/subscription/{sub} with a JSON array of roles (added to those there),
 * DELETE .../permissions/{sub}/{role}. Stored in auth_policies.subscription_auth_roles. */
static bool subscription_permissions(admin_req_t *r, const char *t, const char *ns, json_t *pol)
{
    json_t *sr = json_object_get(auth_policies_of(pol), "subscription_auth_roles");
    const char *m = r->method;
    if (r->nseg == 7 && !strcmp(r->segs[6], "subscription") && !strcmp(m, "GET")) {
        reply_json(r, 200, json_incref(sr));
        return true;
    }
    if (r->nseg == 8 && !strcmp(r->segs[6], "subscription") && !strcmp(m, "POST")) {
        json_t *v = areq_json(r);
        if (!v) return true;
        size_t i;
        json_t *e;
        bool ok = json_is_array(v) && json_array_size(v) > 0;
        json_array_foreach(v, i, e) if (!json_is_string(e) || !*json_string_value(e)) ok = false;
        if (!ok) {
            json_decref(v);
            reply_err(r, 400, "Roles must be a non-empty JSON array of role names");
            return true;
        }
        json_t *have = json_object_get(sr, r->segs[7]);
        if (!json_is_array(have)) {
            have = json_array();
            json_object_set_new(sr, r->segs[7], have);
        }
        json_array_foreach(v, i, e)
        {
            size_t j;
            json_t *h;
            bool dup = false;
            json_array_foreach(have, j, h) if (json_equal(h, e)) dup = true;
            if (!dup) json_array_append(have, e);
        }
        json_decref(v);
    } else if (r->nseg == 8 && !strcmp(m, "DELETE")) {
        json_t *have = json_object_get(sr, r->segs[6]);
        size_t i;
        json_t *e;
        bool found = false;
        json_array_foreach(have, i, e) if (!strcmp(json_string_value(e) ? json_string_value(e) : "",
                                                   r->segs[7])) found = true;
        if (!found) {
            reply_err(r, 412, "Can't revoke a non-existing permission for role %s", r->segs[7]);
            return true;
        }
        for (i = json_array_size(have); i-- > 0;)
            if (!strcmp(json_string_value(json_array_get(have, i)), r->segs[7]))
                json_array_remove(have, i);
        if (!json_array_size(have)) json_object_del(sr, r->segs[6]);
    } else {
        return false;
    }
    policies_store(r->b, t, ns, pol);
    reply_empty(r, 204);
    return true;
}

static void permissions(admin_req_t *r, const char *t, const char *ns, json_t *pol)
{
    if (subscription_permissions(r, t, ns, pol)) return;
    json_t *na = json_object_get(auth_policies_of(pol), "namespace_auth");
    if (r->nseg == 6) {
        if (strcmp(r->method, "GET")) return reply_405(r);
        return reply_json(r, 200, json_incref(na));
    }
    if (r->nseg != 7) return reply_err(r, 404, "Not found");
    const char *role = r->segs[6];
    if (!strcmp(r->method, "POST")) {
        json_t *v = auth_actions_body(r);
        if (!v) return;
        json_object_set_new(na, role, v);
    } else if (!strcmp(r->method, "DELETE")) {
        json_object_del(na, role); /* as Pulsar: revoking a role without grants is no error */
    } else {
        return reply_405(r);
    }
    policies_store(r->b, t, ns, pol);
    reply_empty(r, 204);
}

static void create_namespace(admin_req_t *r, const char *t, const char *ns)
{
    broker_t *b = r->b;
    if (!tenant_exists(b, t)) return reply_err(r, 404, "Tenant does not exist");
    json_t *pol = policies_load(b, t, ns);
    if (pol) {
        json_decref(pol);
        return reply_err(r, 409, "Namespace already exists");
    }
    if (r->body_len) {
        pol = areq_json(r);
        if (!pol) return;
        if (!json_is_object(pol)) {
            json_decref(pol);
            return reply_err(r, 400, "Policies must be a JSON object");
        }
    } else {
        pol = json_object();
    }
    json_t *rc = json_object_get(pol, "replication_clusters");
    if (!json_is_array(rc) || !json_array_size(rc))
        json_object_set_new(pol, "replication_clusters", json_pack("[s]", b->cfg->cluster_name));
    if (!json_object_get(pol, "bundles"))
        json_object_set_new(pol, "bundles", json_pack("{s:i}", "numBundles", 4));
    policies_store(b, t, ns, pol);
    json_decref(pol);
    reply_empty(r, 204);
}

void route_namespaces(admin_req_t *r)
{
    broker_t *b = r->b;
    const char *m = r->method;
    if (r->nseg < 4) return reply_err(r, 404, "Not found");
    const char *t = r->segs[3];
    if (!name_is_valid(t)) return reply_err(r, 412, "Tenant name is not valid");
    if (r->nseg == 4) {
        if (strcmp(m, "GET")) return reply_405(r);
        if (!tenant_exists(b, t)) return reply_err(r, 404, "Tenant does not exist");
        char prefix[400];
        snprintf(prefix, sizeof prefix, "/admin/policies/%s/", t);
        json_t *l = meta_children(b, prefix), *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(l, i, e)
        {
            char full[600];
            snprintf(full, sizeof full, "%s/%s", t, json_string_value(e));
            json_array_append_new(out, json_string(full));
        }
        json_decref(l);
        return reply_json(r, 200, out);
    }
    const char *ns = r->segs[4];
    if (!name_is_valid(ns)) return reply_err(r, 412, "Namespace name is not valid");
    if (r->nseg == 5 && !strcmp(m, "PUT")) return create_namespace(r, t, ns);
    json_t *pol = policies_load(b, t, ns);
    if (!pol) return reply_err(r, 404, "Namespace does not exist");
    if (r->nseg == 5) {
        if (!strcmp(m, "GET")) {
            reply_json(r, 200, policies_view(b, pol));
        } else if (!strcmp(m, "DELETE")) {
            if (areq_arg_true(r, "force") && !b->cfg->force_delete_namespace_allowed)
                reply_err(r, 405, "Broker doesn't allow forced deletion of namespaces");
            else if (ns_delete(b, t, ns, areq_arg_true(r, "force")) == -ENOTEMPTY)
                reply_err(r, 409, "Cannot delete non empty namespace");
            else reply_empty(r, 204);
        } else {
            reply_405(r);
        }
        json_decref(pol);
        return;
    }
    const char *sub = r->segs[5];
    if (!strcmp(sub, "topics")) {
        if (strcmp(m, "GET")) reply_405(r);
        else list_topics(r, t, ns);
    } else if (!strcmp(sub, "retention") && r->nseg == 6) {
        retention(r, t, ns, pol);
    } else if (!strcmp(sub, "backlogQuota") && r->nseg == 6) {
        backlog_quota(r, t, ns, pol, false);
    } else if (!strcmp(sub, "backlogQuotaMap") && r->nseg == 6) {
        backlog_quota(r, t, ns, pol, true);
    } else if (!strcmp(sub, "replication") && r->nseg == 6) {
        replication(r, t, ns, pol);
    } else if (!strcmp(sub, "permissions")) {
        permissions(r, t, ns, pol);
    } else {
        const scalar_policy_t *sp = SCALARS;
        while (sp->path && strcmp(sp->path, sub)) sp++;
        if (sp->path && r->nseg == 6) scalar_policy(r, sp, t, ns, pol);
        else reply_err(r, 404, "Not found: no namespace resource %s", sub);
    }
    json_decref(pol);
}
