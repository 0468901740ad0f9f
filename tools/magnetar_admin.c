/* magnetar_admin.c - magnetar-admin: the grammar of pulsar-admin against Magnetar's (or
 * Pulsar's) admin REST API. `magnetar-admin tenants create acme` works where
 * `pulsar-admin tenants create acme` does. The service URL comes from --admin-url, else
 * webServiceUrl in the client.conf (--conf, $PULSAR_CLIENT_CONF, ./conf/client.conf), else
 * http://localhost:8080. Prints pretty JSON; on failure prints the server's reason to stderr
 * and exits 1. Command groups live in tools/admin/. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: magnetar-admin [--admin-url URL] [--conf client.conf] <group> <command> [args]\n"
            "groups:\n"
            "  clusters   list | get | create | update | delete\n"
            "  tenants    list | get | create | update | delete\n"
            "  namespaces list | topics | create | delete | policies | set-retention | get-retention\n"
            "             | remove-retention | set-message-ttl | get-message-ttl | remove-message-ttl\n"
            "             | set-backlog-quota | get-backlog-quotas | remove-backlog-quota\n"
            "             | set-deduplication | get-deduplication | set-schema-validation-enforce\n"
            "             | get-schema-validation-enforce | set-schema-compatibility-strategy\n"
            "             | get-schema-compatibility-strategy | set-clusters | get-clusters\n"
            "             | grant-permission | revoke-permission | permissions\n"
            "             | set-max-producers-per-topic | get-max-producers-per-topic\n"
            "             | set-max-consumers-per-topic | get-max-consumers-per-topic\n"
            "             | set-subscription-expiration-time | get-subscription-expiration-time\n"
            "  topics     create | create-partitioned-topic | update-partitioned-topic\n"
            "             | get-partitioned-topic-metadata | list | list-partitioned-topics | delete\n"
            "             | delete-partitioned-topic | stats | partitioned-stats | stats-internal\n"
            "             | subscriptions | create-subscription | unsubscribe | skip | skip-all\n"
            "             | clear-backlog | expire-messages | expire-messages-all-subscriptions\n"
            "             | reset-cursor | peek-messages | examine-message | last-message-id\n"
            "             | unload | terminate | lookup\n"
            "  brokers    healthcheck | list | ready\n"
            "  schemas    get TOPIC [-v N | -a] | upload TOPIC -f FILE | delete TOPIC [-f]\n"
            "             | test-compatibility (or compatibility) TOPIC -f FILE\n"
            "  apply -f FILE.yaml [--dry-run]   declarative tenants, namespaces, policies, topics,\n"
            "                                   schemas\n");
}

/* webServiceUrl from a Pulsar client.conf */
static char *conf_url(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[1024], *found = NULL;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, "webServiceUrl", 13)) continue;
        p += 13;
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '=') continue;
        p++;
        while (*p == ' ' || *p == '\t') p++;
        p[strcspn(p, "\r\n")] = 0;
        size_t l = strlen(p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t')) p[--l] = 0;
        if (*p) {
            free(found);
            found = strdup(p);
        }
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *conf = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((!strcmp(argv[i], "--admin-url") || !strcmp(argv[i], "--admin-url=")) && i + 1 < argc)
            url = argv[++i];
        else if (!strncmp(argv[i], "--admin-url=", 12)) url = argv[i] + 12;
        else if (!strcmp(argv[i], "--conf") && i + 1 < argc) conf = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char *from_conf = NULL;
    if (!url) {
        if (!conf) conf = getenv("PULSAR_CLIENT_CONF");
        if (conf) {
            from_conf = conf_url(conf);
            if (!from_conf) {
                fprintf(stderr, "no webServiceUrl in %s\n", conf);
                return 2;
            }
        } else {
            from_conf = conf_url("conf/client.conf");
        }
        url = from_conf ? from_conf : "http://localhost:8080";
    }
    static char base[1024];
    snprintf(base, sizeof base, "%s", url);
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') base[--bl] = 0;
    cli_url = base;
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    const char *group = argv[i++];
    int rc;
    if (!strcmp(group, "apply")) {
        cli_args_t a = {argc - i, argv + i};
        rc = cmd_apply(&a);
    } else {
        if (i >= argc) {
            usage(stderr);
            return 2;
        }
        const char *sub = argv[i++];
        cli_args_t a = {argc - i, argv + i};
        if (!strcmp(group, "clusters")) rc = cmd_clusters(sub, &a);
        else if (!strcmp(group, "tenants")) rc = cmd_tenants(sub, &a);
        else if (!strcmp(group, "namespaces")) rc = cmd_namespaces(sub, &a);
        else if (!strcmp(group, "topics") || !strcmp(group, "persistent")) rc = cmd_topics(sub, &a);
        else if (!strcmp(group, "brokers")) rc = cmd_brokers(sub, &a);
        else if (!strcmp(group, "schemas")) rc = cmd_schemas(sub, &a);
        else {
            fprintf(stderr, "unknown command group %s\n", group);
            usage(stderr);
            rc = 2;
        }
    }
    free(from_conf);
    curl_global_cleanup();
    return rc;
}
