/* cmds.c - magnetar-admin clusters, tenants, namespaces and brokers commands, with
 * pulsar-admin's names and options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/cli.h"

static void unknown(const char *group, const char *sub)
{
    cli_fail("Unknown command '%s %s' (see magnetar-admin --help)", group, sub);
}

static json_t *csv_list(const char *s)
{
    json_t *a = json_array();
    if (!s) return a;
    char *dup = strdup(s), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t) json_array_append_new(a, json_string(t));
    free(dup);
    return a;
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}

static void write_call(const char *method, const char *path, json_t *body)
{
    char *s = body ? dump(body) : NULL;
    json_t *r = cli_call(method, path, s);
    free(s);
    json_decref(r);
}

int cmd_clusters(const char *sub, cli_args_t *a)
{
    char path[1024];
    const char *name = pos(a, 0);
    if (!strcmp(sub, "list")) {
        json_t *l = cli_call("GET", "/admin/v2/clusters", NULL);
        size_t i;
        json_t *e;
        json_array_foreach(l, i, e) printf("%s\n", json_string_value(e));
        json_decref(l);
        return 0;
    }
    if (!name) cli_fail("A cluster name is required");
    snprintf(path, sizeof path, "/admin/v2/clusters/%s", name);
    if (!strcmp(sub, "get")) {
        cli_print_json(cli_call("GET", path, NULL));
    } else if (!strcmp(sub, "create") || !strcmp(sub, "update")) {
        json_t *b = json_object();
        const char *v;
        if ((v = opt(a, O("--url")))) json_object_set_new(b, "serviceUrl", json_string(v));
        if ((v = opt(a, O("--url-secure")))) json_object_set_new(b, "serviceUrlTls", json_string(v));
        if ((v = opt(a, O("--broker-url")))) json_object_set_new(b, "brokerServiceUrl", json_string(v));
        if ((v = opt(a, O("--broker-url-secure"))))
            json_object_set_new(b, "brokerServiceUrlTls", json_string(v));
        write_call(!strcmp(sub, "create") ? "PUT" : "POST", path, b);
    } else if (!strcmp(sub, "delete")) {
        write_call("DELETE", path, NULL);
    } else {
        unknown("clusters", sub);
    }
    return 0;
}

int cmd_tenants(const char *sub, cli_args_t *a)
{
    char path[1024];
    if (!strcmp(sub, "list")) {
        json_t *l = cli_call("GET", "/admin/v2/tenants", NULL);
        size_t i;
        json_t *e;
        json_array_foreach(l, i, e) printf("%s\n", json_string_value(e));
        json_decref(l);
        return 0;
    }
    const char *name = pos(a, 0);
    if (!name) cli_fail("A tenant name is required");
    snprintf(path, sizeof path, "/admin/v2/tenants/%s", name);
    if (!strcmp(sub, "get")) {
        cli_print_json(cli_call("GET", path, NULL));
    } else if (!strcmp(sub, "create") || !strcmp(sub, "update")) {
        const char *roles = opt(a, O("-r", "--admin-roles"));
        const char *clusters = opt(a, O("-c", "--allowed-clusters"));
        json_t *b = json_object();
        json_t *cl = clusters ? csv_list(clusters) : NULL;
        if (!cl && !strcmp(sub, "create")) /* as pulsar-admin: every cluster by default */
            cl = cli_call("GET", "/admin/v2/clusters", NULL);
        if (!strcmp(sub, "update")) { /* keep what is not given */
            json_t *cur = cli_call("GET", path, NULL);
            if (!roles) json_object_set(b, "adminRoles", json_object_get(cur, "adminRoles"));
            if (!cl) cl = json_incref(json_object_get(cur, "allowedClusters"));
            json_decref(cur);
        }
        if (roles) json_object_set_new(b, "adminRoles", csv_list(roles));
        else if (!json_object_get(b, "adminRoles")) json_object_set_new(b, "adminRoles", json_array());
        json_object_set_new(b, "allowedClusters", cl ? cl : json_array());
        write_call(!strcmp(sub, "create") ? "PUT" : "POST", path, b);
    } else if (!strcmp(sub, "delete")) {
        snprintf(path + strlen(path), sizeof path - strlen(path), "%s",
                 flag(a, O("-f", "--force")) ? "?force=true" : "");
        write_call("DELETE", path, NULL);
    } else {
        unknown("tenants", sub);
    }
    return 0;
}

static json_t *json_int_arg(const char *s, const char *what)
{
    if (!s) cli_fail("%s is required", what);
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s) cli_fail("Invalid %s: %s", what, s);
    return json_integer(v);
}

/* set-/get-/remove- of one scalar policy sub-resource */
static bool scalar_cmd(const char *sub, cli_args_t *a, const char *nspath)
{
    const struct {
        const char *name, *res;
        const char *const *opts;
        char type; /* 'i' int, 't' time in seconds, 'b' enable/disable */
    } P[] = {
        {"message-ttl", "messageTTL", O("-ttl", "--messageTTL"), 't'},
        {"deduplication", "deduplication", NULL, 'b'},
        {"schema-validation-enforce", "schemaValidationEnforced", NULL, 'b'},
        {"is-allow-auto-update-schema", "isAllowAutoUpdateSchema", NULL, 'b'},
        {"max-producers-per-topic", "maxProducersPerTopic", O("-p", "--max-producers-per-topic"), 'i'},
        {"max-consumers-per-topic", "maxConsumersPerTopic", O("-c", "--max-consumers-per-topic"), 'i'},
        {"max-consumers-per-subscription", "maxConsumersPerSubscription",
         O("-c", "--max-consumers-per-subscription"), 'i'},
        {"subscription-expiration-time", "subscriptionExpirationTime", O("-t", "--time"), 'i'},
        {NULL, NULL, NULL, 0},
    };
    const char *verb = !strncmp(sub, "set-", 4) ? "set" : !strncmp(sub, "get-", 4) ? "get"
                       : !strncmp(sub, "remove-", 7) ? "remove" : NULL;
    if (!verb) return false;
    const char *what = sub + strlen(verb) + 1;
    for (int i = 0; P[i].name; i++) {
        if (strcmp(what, P[i].name)) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", nspath, P[i].res);
        if (!strcmp(verb, "get")) {
            cli_print_json(cli_call("GET", path, NULL));
        } else if (!strcmp(verb, "remove")) {
            write_call("DELETE", path, NULL);
        } else if (P[i].type == 'b') {
            bool en = flag(a, O("-e", "--enable")), dis = flag(a, O("-d", "--disable"));
            if (en == dis && strcmp(P[i].res, "schemaValidationEnforced"))
                cli_fail("Need exactly one of --enable or --disable");
            write_call("POST", path, json_boolean(en && !dis));
        } else {
            const char *v = opt(a, P[i].opts);
            if (!v) cli_fail("%s is required", P[i].opts[1]);
            if (P[i].type == 't') {
                int64_t s = parse_time_s(v);
                if (s < 0) cli_fail("Invalid time value: %s", v);
                write_call("POST", path, json_integer(s));
            } else {
                write_call("POST", path, json_int_arg(v, P[i].opts[1]));
            }
        }
        return true;
    }
    return false;
}

int cmd_namespaces(const char *sub, cli_args_t *a)
{
    char path[1200];
    if (!strcmp(sub, "list")) {
        const char *t = pos(a, 0);
        if (!t) cli_fail("A tenant name is required");
        snprintf(path, sizeof path, "/admin/v2/namespaces/%s", t);
        cli_print_json(cli_call("GET", path, NULL));
        return 0;
    }
    const char *ns = ns_arg(pos(a, 0));
    snprintf(path, sizeof path, "/admin/v2/namespaces/%s", ns);
    char sp[1400];
    if (!strcmp(sub, "create")) {
        const char *clusters = opt(a, O("-c", "--clusters"));
        const char *bundles = opt(a, O("-b", "--bundles"));
        json_t *b = NULL;
        if (clusters || bundles) {
            b = json_object();
            if (clusters) json_object_set_new(b, "replication_clusters", csv_list(clusters));
            if (bundles) json_object_set_new(b, "bundles", json_pack("{s:o}", "numBundles", json_int_arg(bundles, "--bundles")));
        }
        write_call("PUT", path, b);
    } else if (!strcmp(sub, "delete")) {
        if (flag(a, O("-f", "--force"))) strcat(path, "?force=true");
        write_call("DELETE", path, NULL);
    } else if (!strcmp(sub, "policies")) {
        cli_print_json(cli_call("GET", path, NULL));
    } else if (!strcmp(sub, "topics")) {
        snprintf(sp, sizeof sp, "%s/topics", path);
        json_t *l = cli_call("GET", sp, NULL);
        size_t i;
        json_t *e;
        json_array_foreach(l, i, e) printf("%s\n", json_string_value(e));
        json_decref(l);
    } else if (!strcmp(sub, "set-retention")) {
        int64_t t = parse_time_s(opt(a, O("-t", "--time")));
        int64_t s = parse_size_b(opt(a, O("-s", "--size")));
        if (t == -2) cli_fail("Invalid or missing --time (e.g. 7d, 10h, 30m, -1)");
        if (s == -2) cli_fail("Invalid or missing --size (e.g. 1024M, 10G, -1)");
        snprintf(sp, sizeof sp, "%s/retention", path);
        write_call("POST", sp, json_pack("{s:I,s:I}", "retentionTimeInMinutes",
                                         (json_int_t)(t < 0 ? -1 : t / 60), "retentionSizeInMB",
                                         (json_int_t)(s < 0 ? -1 : s / (1024 * 1024))));
    } else if (!strcmp(sub, "get-retention")) {
        snprintf(sp, sizeof sp, "%s/retention", path);
        cli_print_json(cli_call("GET", sp, NULL));
    } else if (!strcmp(sub, "remove-retention")) {
        snprintf(sp, sizeof sp, "%s/retention", path);
        write_call("DELETE", sp, NULL);
    } else if (!strcmp(sub, "set-backlog-quota")) {
        const char *type = opt(a, O("-t", "--type"));
        const char *lim = opt(a, O("-l", "--limit", "--limitSize"));
        const char *lt = opt(a, O("-lt", "--limitTime"));
        const char *pol = opt(a, O("-p", "--policy"));
        if (!pol) cli_fail("--policy is required (producer_request_hold, producer_exception, consumer_backlog_eviction)");
        json_t *b = json_pack("{s:s}", "policy", pol);
        if (lim) {
            int64_t v = parse_size_b(lim);
            if (v == -2) cli_fail("Invalid --limit: %s", lim);
            json_object_set_new(b, "limitSize", json_integer(v));
        }
        if (lt) {
            int64_t v = parse_time_s(lt);
            if (v == -2) cli_fail("Invalid --limitTime: %s", lt);
            json_object_set_new(b, "limitTime", json_integer(v));
        }
        snprintf(sp, sizeof sp, "%s/backlogQuota?backlogQuotaType=%s", path,
                 type ? type : "destination_storage");
        write_call("POST", sp, b);
    } else if (!strcmp(sub, "get-backlog-quotas")) {
        snprintf(sp, sizeof sp, "%s/backlogQuotaMap", path);
        cli_print_json(cli_call("GET", sp, NULL));
    } else if (!strcmp(sub, "remove-backlog-quota")) {
        const char *type = opt(a, O("-t", "--type"));
        snprintf(sp, sizeof sp, "%s/backlogQuota?backlogQuotaType=%s", path,
                 type ? type : "destination_storage");
        write_call("DELETE", sp, NULL);
    } else if (!strcmp(sub, "set-schema-compatibility-strategy")) {
        const char *c = opt(a, O("-c", "--compatibility"));
        if (!c) cli_fail("--compatibility is required");
        snprintf(sp, sizeof sp, "%s/schemaCompatibilityStrategy", path);
        write_call("PUT", sp, json_string(c));
    } else if (!strcmp(sub, "get-schema-compatibility-strategy")) {
        snprintf(sp, sizeof sp, "%s/schemaCompatibilityStrategy", path);
        cli_print_json(cli_call("GET", sp, NULL));
    } else if (!strcmp(sub, "set-clusters")) {
        const char *c = opt(a, O("-c", "--clusters"));
        if (!c) cli_fail("--clusters is required");
        snprintf(sp, sizeof sp, "%s/replication", path);
        write_call("POST", sp, csv_list(c));
    } else if (!strcmp(sub, "get-clusters")) {
        snprintf(sp, sizeof sp, "%s/replication", path);
        cli_print_json(cli_call("GET", sp, NULL));
    } else if (!strcmp(sub, "grant-permission") || !strcmp(sub, "revoke-permission")) {
        const char *role = opt(a, O("--role"));
        if (!role) cli_fail("--role is required");
        snprintf(sp, sizeof sp, "%s/permissions/%s", path, role);
        if (!strcmp(sub, "revoke-permission")) {
            write_call("DELETE", sp, NULL);
        } else {
            const char *actions = opt(a, O("--actions"));
            if (!actions) cli_fail("--actions is required (produce,consume,...)");
            write_call("POST", sp, csv_list(actions));
        }
    } else if (!strcmp(sub, "permissions")) {
        snprintf(sp, sizeof sp, "%s/permissions", path);
        cli_print_json(cli_call("GET", sp, NULL));
    } else if (!strcmp(sub, "grant-subscription-permission") ||
               !strcmp(sub, "revoke-subscription-permission")) {
        const char *s = opt(a, O("--subscription"));
        if (!s) cli_fail("--subscription is required");
        if (!strcmp(sub, "grant-subscription-permission")) {
            const char *roles = opt(a, O("--roles"));
            if (!roles) cli_fail("--roles is required (role1,role2,...)");
            snprintf(sp, sizeof sp, "%s/permissions/subscription/%s", path, s);
            write_call("POST", sp, csv_list(roles));
        } else {
            const char *role = opt(a, O("--role"));
            if (!role) cli_fail("--role is required");
            snprintf(sp, sizeof sp, "%s/permissions/%s/%s", path, s, role);
            write_call("DELETE", sp, NULL);
        }
    } else if (!strcmp(sub, "get-subscription-permission")) {
        snprintf(sp, sizeof sp, "%s/permissions/subscription", path);
        cli_print_json(cli_call("GET", sp, NULL));
    } else if (!strcmp(sub, "set-subscription-auth-mode")) {
        const char *m = opt(a, O("-m", "--subscription-auth-mode"));
        if (!m) cli_fail("--subscription-auth-mode is required (None or Prefix)");
        snprintf(sp, sizeof sp, "%s/subscriptionAuthMode", path);
        write_call("POST", sp, json_string(m));
    } else if (!strcmp(sub, "get-subscription-auth-mode")) {
        snprintf(sp, sizeof sp, "%s/subscriptionAuthMode", path);
        cli_print_json(cli_call("GET", sp, NULL));
    } else if (!scalar_cmd(sub, a, path)) {
        unknown("namespaces", sub);
    }
    return 0;
}

int cmd_brokers(const char *sub, cli_args_t *a)
{
    if (!strcmp(sub, "healthcheck")) {
        json_t *r = cli_call("GET", "/admin/v2/brokers/health", NULL);
        json_decref(r);
        printf("ok\n");
    } else if (!strcmp(sub, "ready")) {
        json_decref(cli_call("GET", "/admin/v2/brokers/ready", NULL));
        printf("ok\n");
    } else if (!strcmp(sub, "list")) {
        const char *c = pos(a, 0);
        char path[600];
        snprintf(path, sizeof path, "/admin/v2/brokers/%s", c ? c : "standalone");
        json_t *l = cli_call("GET", path, NULL);
        size_t i;
        json_t *e;
        json_array_foreach(l, i, e) printf("%s\n", json_string_value(e));
        json_decref(l);
    } else {
        unknown("brokers", sub);
    }
    return 0;
}
