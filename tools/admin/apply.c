/* apply.c - magnetar-admin apply -f FILE.yaml [--dry-run]: declarative set-up. The file lists
 * tenants, their namespaces with policies, and topics with partitions:
 *
 *   tenants:
 *     - name: hexabuilders
 *       adminRoles: [admin]
 *       allowedClusters: [standalone]
 *       namespaces:
 *         - name: partner-management
 *           policies:
 *             retention: {timeInMinutes: 10080, sizeInMB: 1024}
 *             deduplication: true
 *             schemaValidationEnforced: true
 *             messageTTL: 3600
 *             backlogQuota: {limitSize: 10G, limitTime: -1, policy: producer_request_hold}
 *             schemaCompatibilityStrategy: BACKWARD
 *             maxProducersPerTopic: 10
 *             maxConsumersPerTopic: 10
 *             subscriptionExpirationTime: 1440
 *             replicationClusters: [standalone]
 *             permissions: {role-name: [produce, consume]}
 *           topics:
 *             - {name: partner-events, partitions: 4}
 *             - {name: dead-letters}          # non-partitioned
 *           schemas:                          # after the topics; see schemas.c
 *             - topic: partner-registration   # local name, or a full topic name
 *               type: AVRO
 *               schema: {type: record, name: X, fields: [...]}   # YAML/JSON, or a string
 *               properties: {owner: partners}
 *             - {topic: partner-events, file: schemas/partner-events.json}  # Pulsar's file
 *
 * Idempotent: it reads the current state first and only writes what differs; it prints
 * one line per change ("create ...", "set ...", "upload ... schema") and "no changes" when
 * there is none. A schema is uploaded when the topic's latest live schema differs (type,
 * schema as JSON, properties); the registry may refuse it (incompatible): apply stops and
 * exits 1 with the reason. With --dry-run it prints the same lines prefixed "would", writes
 * nothing, and exits 1 if the registry's compatibility check would refuse a schema. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "admin/cli.h"

static bool dry;
static int changes;

/* --- YAML -> JSON ------------------------------------------------------------------------ */

static json_t *scalar(yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return json_string(s);
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) return json_false();
    if (!strcmp(s, "null") || !strcmp(s, "~") || !*s) return json_null();
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) return json_integer(v);
    return json_string(s);
}

static json_t *node_json(yaml_document_t *d, yaml_node_t *n, int depth)
{
    if (!n || depth > 32) return json_null();
    if (n->type == YAML_SCALAR_NODE) return scalar(n);
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
            json_array_append_new(a, node_json(d, yaml_document_get_node(d, *i), depth + 1));
        return a;
    }
    json_t *o = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (!k || k->type != YAML_SCALAR_NODE) continue;
        json_object_set_new(o, (const char *)k->data.scalar.value,
                            node_json(d, yaml_document_get_node(d, p->value), depth + 1));
    }
    return o;
}

static json_t *load_yaml(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) cli_fail("Cannot open %s", path);
    yaml_parser_t p;
    yaml_document_t d;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &d))
        cli_fail("%s: YAML error at line %zu: %s", path, p.problem_mark.line + 1,
                 p.problem ? p.problem : "?");
    json_t *j = node_json(&d, yaml_document_get_root_node(&d), 0);
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    fclose(f);
    return j;
}

/* --- helpers ----------------------------------------------------------------------------- */

static void change(const char *method, const char *path, json_t *body, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void change(const char *method, const char *path, json_t *body, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s", dry ? "would " : "");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    changes++;
    if (!dry) {
        char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(cli_call(method, path, s));
        free(s);
    }
    json_decref(body);
}

/* GET that may be 404/204: returns the JSON, or NULL; *status gets the code. */
static json_t *get(const char *path, long *status)
{
    cli_res_t r;
    *status = cli_http("GET", path, NULL, &r);
    if (*status == 0) cli_fail("Cannot reach %s: %s", cli_url, r.body);
    json_t *j = (*status == 200 && r.len) ? json_loads(r.body, JSON_DECODE_ANY, NULL) : NULL;
    if (*status >= 400 && *status != 404) {
        json_t *e = json_loads(r.body, 0, NULL);
        cli_fail("GET %s failed: %s", path,
                 e && json_string_value(json_object_get(e, "reason"))
                     ? json_string_value(json_object_get(e, "reason")) : r.body);
    }
    cli_res_free(&r);
    return j;
}

static void need(bool ok, const char *what)
{
    if (!ok) cli_fail("apply: invalid %s", what);
}

static bool same_set(json_t *a, json_t *b)
{
    if (json_array_size(a) != json_array_size(b)) return false;
    size_t i, k;
    json_t *x, *y;
    json_array_foreach(a, i, x)
    {
        bool found = false;
        json_array_foreach(b, k, y) if (json_equal(x, y)) found = true;
        if (!found) return false;
    }
    return true;
}

static json_int_t size_mb_or_bytes(json_t *v, bool mb)
{
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_string(v)) {
        int64_t b = parse_size_b(json_string_value(v));
        need(b != -2, "size");
        return b < 0 ? -1 : mb ? b / (1024 * 1024) : b;
    }
    need(false, "size");
    return 0;
}

static json_int_t seconds(json_t *v)
{
    if (json_is_integer(v)) return json_integer_value(v);
    need(json_is_string(v), "time");
    int64_t s = parse_time_s(json_string_value(v));
    need(s != -2, "time");
    return s;
}

/* --- policies ---------------------------------------------------------------------------- */

static void apply_scalar(const char *nsp, const char *ns, json_t *cur, const char *field,
                         const char *res, json_t *want)
{
    json_t *have = json_object_get(cur, field);
    if (have && json_equal(have, want)) return;
    if (!have && json_is_false(want) && !strcmp(res, "schemaValidationEnforced")) return;
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", nsp, res);
    char *s = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
    change(!strcmp(res, "schemaCompatibilityStrategy") ? "PUT" : "POST", p, json_incref(want),
           "set %s %s on namespace %s", res, s, ns);
    free(s);
}

static void apply_policies(const char *nsp, const char *ns, json_t *want, json_t *cur)
{
    if (!json_is_object(want)) return;
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        char p[1400];
        if (!strcmp(k, "retention")) {
            need(json_is_object(v), "retention");
            json_t *tm = json_object_get(v, "timeInMinutes") ?: json_object_get(v, "retentionTimeInMinutes");
            json_t *sz = json_object_get(v, "sizeInMB") ?: json_object_get(v, "retentionSizeInMB");
            json_t *body = json_pack("{s:I,s:I}", "retentionTimeInMinutes",
                                     tm ? (json_is_string(tm) ? seconds(tm) / 60 : json_integer_value(tm)) : 0,
                                     "retentionSizeInMB", sz ? size_mb_or_bytes(sz, true) : 0);
            json_t *have = json_object_get(cur, "retention_policies");
            if (have && json_equal(have, body)) {
                json_decref(body);
                continue;
            }
            snprintf(p, sizeof p, "%s/retention", nsp);
            change("POST", p, body, "set retention %lld min / %lld MB on namespace %s",
                   (long long)json_integer_value(json_object_get(body, "retentionTimeInMinutes")),
                   (long long)json_integer_value(json_object_get(body, "retentionSizeInMB")), ns);
        } else if (!strcmp(k, "backlogQuota")) {
            need(json_is_object(v), "backlogQuota");
            json_t *pol = json_object_get(v, "policy");
            json_t *ls = json_object_get(v, "limitSize") ?: json_object_get(v, "limit");
            json_t *lt = json_object_get(v, "limitTime");
            json_int_t size = ls ? size_mb_or_bytes(ls, false) : -1, time = lt ? seconds(lt) : -1;
            const char *ps = json_is_string(pol) ? json_string_value(pol) : "producer_request_hold";
            json_t *have = json_object_get(json_object_get(cur, "backlog_quota_map"), "destination_storage");
            if (have && json_integer_value(json_object_get(have, "limitSize")) == size &&
                json_integer_value(json_object_get(have, "limitTime")) == time &&
                !strcmp(json_string_value(json_object_get(have, "policy")) ?: "", ps))
                continue;
            snprintf(p, sizeof p, "%s/backlogQuota?backlogQuotaType=destination_storage", nsp);
            change("POST", p, json_pack("{s:I,s:I,s:s}", "limitSize", size, "limitTime", time, "policy", ps),
                   "set backlogQuota %lld bytes / %lld s (%s) on namespace %s", (long long)size,
                   (long long)time, ps, ns);
        } else if (!strcmp(k, "deduplication")) {
            need(json_is_boolean(v), "deduplication");
            apply_scalar(nsp, ns, cur, "deduplicationEnabled", "deduplication", v);
        } else if (!strcmp(k, "schemaValidationEnforced")) {
            need(json_is_boolean(v), "schemaValidationEnforced");
            apply_scalar(nsp, ns, cur, "schema_validation_enforced", "schemaValidationEnforced", v);
        } else if (!strcmp(k, "isAllowAutoUpdateSchema")) {
            need(json_is_boolean(v), "isAllowAutoUpdateSchema");
            apply_scalar(nsp, ns, cur, "is_allow_auto_update_schema", "isAllowAutoUpdateSchema", v);
        } else if (!strcmp(k, "schemaCompatibilityStrategy")) {
            need(json_is_string(v), "schemaCompatibilityStrategy");
            apply_scalar(nsp, ns, cur, "schema_compatibility_strategy", "schemaCompatibilityStrategy", v);
        } else if (!strcmp(k, "messageTTL")) {
            json_t *s = json_integer(seconds(v));
            apply_scalar(nsp, ns, cur, "message_ttl_in_seconds", "messageTTL", s);
            json_decref(s);
        } else if (!strcmp(k, "maxProducersPerTopic") || !strcmp(k, "maxConsumersPerTopic") ||
                   !strcmp(k, "maxConsumersPerSubscription") || !strcmp(k, "subscriptionExpirationTime")) {
            need(json_is_integer(v), k);
            const char *field = !strcmp(k, "maxProducersPerTopic") ? "max_producers_per_topic"
                                : !strcmp(k, "maxConsumersPerTopic") ? "max_consumers_per_topic"
                                : !strcmp(k, "maxConsumersPerSubscription") ? "max_consumers_per_subscription"
                                : "subscription_expiration_time_minutes";
            apply_scalar(nsp, ns, cur, field, k, v);
        } else if (!strcmp(k, "replicationClusters")) {
            need(json_is_array(v), "replicationClusters");
            if (same_set(json_object_get(cur, "replication_clusters"), v)) continue;
            snprintf(p, sizeof p, "%s/replication", nsp);
            change("POST", p, json_incref(v), "set replication clusters on namespace %s", ns);
        } else if (!strcmp(k, "permissions")) {
            need(json_is_object(v), "permissions");
            json_t *have = json_object_get(json_object_get(cur, "auth_policies"), "namespace_auth");
            const char *role;
            json_t *acts;
            json_object_foreach(v, role, acts)
            {
                need(json_is_array(acts), "permissions actions");
                if (same_set(json_object_get(have, role), acts)) continue;
                snprintf(p, sizeof p, "%s/permissions/%s", nsp, role);
                change("POST", p, json_incref(acts), "grant %s on namespace %s", role, ns);
            }
        } else if (!strcmp(k, "schemas")) {
            /* accepted here too; applied after the topics by schemas_apply */
        } else {
            cli_fail("apply: unknown policy '%s' in namespace %s", k, ns);
        }
    }
}

/* --- topics ------------------------------------------------------------------------------ */

static void apply_topics(const char *t, const char *n, json_t *topics)
{
    size_t i;
    json_t *tp;
    json_array_foreach(topics, i, tp)
    {
        const char *name = json_is_string(tp) ? json_string_value(tp)
                                              : json_string_value(json_object_get(tp, "name"));
        need(name != NULL, "topic (needs a name)");
        json_t *pj = json_object_get(tp, "partitions");
        int parts = json_is_integer(pj) ? (int)json_integer_value(pj) : 0;
        need(parts >= 0, "partitions");
        char full[1200], path[1400];
        snprintf(full, sizeof full, "persistent://%s/%s/%s", t, n, name);
        topic_path(full, path, sizeof path);
        char mp[1600];
        snprintf(mp, sizeof mp, "%s/partitions", path);
        long st;
        json_t *meta = get(mp, &st);
        int have = st == 200 ? (int)json_integer_value(json_object_get(meta, "partitions")) : -1;
        json_decref(meta);
        /* have: -1 missing, 0 non-partitioned, N partitioned */
        if (parts > 0) {
            if (have < 0) {
                char b[32];
                snprintf(b, sizeof b, "%d", parts);
                change("PUT", mp, json_integer(parts), "create partitioned topic %s with %d partitions", full, parts);
            } else if (have == 0) {
                fprintf(stderr, "warning: %s exists as a non-partitioned topic; not changed\n", full);
            } else if (have < parts) {
                change("POST", mp, json_integer(parts), "update partitioned topic %s from %d to %d partitions",
                       full, have, parts);
            } else if (have > parts) {
                fprintf(stderr, "warning: %s has %d partitions; partitions cannot be decreased\n",
                        full, have);
            }
        } else if (have < 0) {
            change("PUT", path, NULL, "create topic %s", full);
        }
    }
}

/* --- tenants and namespaces -------------------------------------------------------------- */

int cmd_apply(cli_args_t *a)
{
    const char *file = opt(a, O("-f", "--file"));
    if (!file) cli_fail("usage: magnetar-admin apply -f FILE.yaml [--dry-run]");
    dry = flag(a, O("--dry-run"));
    int refused = 0;
    json_t *doc = load_yaml(file);
    json_t *tenants = json_object_get(doc, "tenants");
    need(json_is_array(tenants), "file: a top-level 'tenants' list is required");
    size_t i;
    json_t *tn;
    json_array_foreach(tenants, i, tn)
    {
        const char *t = json_string_value(json_object_get(tn, "name"));
        need(t != NULL, "tenant (needs a name)");
        char tp[600];
        snprintf(tp, sizeof tp, "/admin/v2/tenants/%s", t);
        long st;
        json_t *cur = get(tp, &st);
        json_t *roles = json_object_get(tn, "adminRoles"), *cls = json_object_get(tn, "allowedClusters");
        json_t *want = json_object();
        json_object_set_new(want, "adminRoles", json_is_array(roles) ? json_incref(roles) : json_array());
        if (json_is_array(cls)) json_object_set(want, "allowedClusters", cls);
        else json_object_set_new(want, "allowedClusters", cli_call("GET", "/admin/v2/clusters", NULL));
        if (st == 404) {
            change("PUT", tp, want, "create tenant %s", t);
        } else if ((roles && !same_set(json_object_get(cur, "adminRoles"), roles)) ||
                   (cls && !same_set(json_object_get(cur, "allowedClusters"), cls))) {
            change("POST", tp, want, "update tenant %s", t);
        } else {
            json_decref(want);
        }
        json_decref(cur);
        size_t k;
        json_t *nsd;
        json_array_foreach(json_object_get(tn, "namespaces"), k, nsd)
        {
            const char *n = json_is_string(nsd) ? json_string_value(nsd)
                                                : json_string_value(json_object_get(nsd, "name"));
            need(n != NULL, "namespace (needs a name)");
            char ns[600], nsp[800];
            snprintf(ns, sizeof ns, "%s/%s", t, n);
            ns_arg(ns);
            snprintf(nsp, sizeof nsp, "/admin/v2/namespaces/%s", ns);
            json_t *pol = get(nsp, &st);
            if (st == 404) {
                change("PUT", nsp, NULL, "create namespace %s", ns);
                pol = dry ? json_object() : get(nsp, &st);
            }
            apply_policies(nsp, ns, json_object_get(nsd, "policies"), pol);
            json_decref(pol);
            apply_topics(t, n, json_object_get(nsd, "topics"));
            changes += schemas_apply(t, n, json_object_get(nsd, "schemas"), file, dry, &refused);
            changes += schemas_apply(t, n, json_object_get(json_object_get(nsd, "policies"), "schemas"),
                                     file, dry, &refused);
        }
    }
    json_decref(doc);
    if (!changes) printf("no changes\n");
    return refused ? 1 : 0;
}
