/* magnetar_admin.c - magnetar-admin: the grammar of pulsar-admin against Magnetar's (or
 * Pulsar's) admin REST API. `magnetar-admin tenants create acme` works where
 * `pulsar-admin tenants create acme` does. The service URL comes from --admin-url, else
 * webServiceUrl in the client.conf (--conf, $PULSAR_CLIENT_CONF, ./conf/client.conf), else
 * http://localhost:8080. Token authentication as pulsar-admin's: --auth-plugin
 * org.apache.pulsar.client.impl.auth.AuthenticationToken --auth-params token:<jwt> (or
 * file:///path, or {"token":"<jwt>"}), else authPlugin/authParams from the client.conf; the
 * token goes out as `Authorization: Bearer <jwt>`. HTTPS as pulsar-admin's: an https:// URL,
 * --tls-trust-cert-path FILE, --tls-allow-insecure, --tls-enable-hostname-verification (else
 * tlsTrustCertsFilePath, tlsAllowInsecureConnection, tlsEnableHostnameVerification from the
 * client.conf), and a client certificate with --auth-plugin
 * org.apache.pulsar.client.impl.auth.AuthenticationTls --auth-params
 * tlsCertFile:/path,tlsKeyFile:/path. Prints pretty JSON; on failure (401 and 403 included)
 * prints the server's reason to stderr and exits 1. Command groups live in tools/admin/. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: magnetar-admin [--admin-url URL] [--conf client.conf]\n"
            "                      [--auth-plugin PLUGIN --auth-params PARAMS]\n"
            "                      [--tls-trust-cert-path FILE] [--tls-allow-insecure]\n"
            "                      [--tls-enable-hostname-verification]\n"
            "                      <group> <command> [args]\n"
            "token auth (or authPlugin, authParams in client.conf):\n"
            "  --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationToken\n"
            "  --auth-params token:<jwt> | file:///path/to/token | {\"token\":\"<jwt>\"}\n"
            "TLS client certificate (https:// URL):\n"
            "  --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationTls\n"
            "  --auth-params tlsCertFile:/path/cert.pem,tlsKeyFile:/path/key.pem\n"
            "TLS (or tlsTrustCertsFilePath, tlsAllowInsecureConnection,\n"
            "tlsEnableHostnameVerification in client.conf):\n"
            "  --tls-trust-cert-path FILE   CA certificates (PEM) the broker's must chain to\n"
            "  --tls-allow-insecure         accept any broker certificate\n"
            "  --tls-enable-hostname-verification   the certificate must name the URL's host\n"
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
            "             | grant-subscription-permission | revoke-subscription-permission\n"
            "             | get-subscription-permission | set-subscription-auth-mode\n"
            "             | get-subscription-auth-mode\n"
            "             | set-max-producers-per-topic | get-max-producers-per-topic\n"
            "             | set-max-consumers-per-topic | get-max-consumers-per-topic\n"
            "             | set-subscription-expiration-time | get-subscription-expiration-time\n"
            "  topics     create | create-partitioned-topic | update-partitioned-topic\n"
            "             | get-partitioned-topic-metadata | list | list-partitioned-topics | delete\n"
            "             | delete-partitioned-topic | stats | partitioned-stats | stats-internal\n"
            "             | subscriptions | create-subscription | unsubscribe | skip | skip-all\n"
            "             | clear-backlog | expire-messages | expire-messages-all-subscriptions\n"
            "             | reset-cursor | peek-messages | examine-message | last-message-id\n"
            "             | unload | terminate | lookup | grant-permission | revoke-permission\n"
            "             | permissions\n"
            "  brokers    healthcheck | list | ready\n"
            "  schemas    get TOPIC [-v N | -a] | upload TOPIC -f FILE | delete TOPIC [-f]\n"
            "             | test-compatibility (or compatibility) TOPIC -f FILE\n"
            "  apply -f FILE.yaml [--dry-run]   declarative tenants, namespaces, policies, topics,\n"
            "                                   schemas\n");
}

/* The value of `key` in a Pulsar client.conf (the last one wins); NULL when absent or empty. */
static char *conf_value(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[8192], *found = NULL;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, key, kl)) continue;
        p += kl;
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

#define TOKEN_PLUGIN "org.apache.pulsar.client.impl.auth.AuthenticationToken"
#define TLS_PLUGIN "org.apache.pulsar.client.impl.auth.AuthenticationTls"

static bool is_tls_plugin(const char *plugin)
{
    return plugin && (!strcmp(plugin, TLS_PLUGIN) || !strcmp(plugin, "tls"));
}

/* A path of AuthenticationTls's parameters: "/path" or "file:///path". malloc'd. */
static char *tls_param_path(const char *v, size_t n)
{
    if (n >= 7 && !strncmp(v, "file://", 7)) v += 7, n -= 7;
    char *p = strndup(v, n);
    if (!p) cli_fail("out of memory");
    return p;
}

/* AuthenticationTls's parameters, as Pulsar reads them: "tlsCertFile:/p,tlsKeyFile:/p" or
 * {"tlsCertFile": "/p", "tlsKeyFile": "/p"}. Sets cli_tls.cert_file and key_file (malloc'd) or
 * exits with a message. */
static void tls_auth_params(const char *params)
{
    char *cert = NULL, *key = NULL;
    json_t *j = params && params[0] == '{' ? json_loads(params, 0, NULL) : NULL;
    if (j) {
        const char *c = json_string_value(json_object_get(j, "tlsCertFile"));
        const char *k = json_string_value(json_object_get(j, "tlsKeyFile"));
        if (c) cert = tls_param_path(c, strlen(c));
        if (k) key = tls_param_path(k, strlen(k));
        json_decref(j);
    } else {
        for (const char *p = params; p && *p;) {
            size_t n = strcspn(p, ",");
            const char *colon = memchr(p, ':', n);
            if (colon) {
                size_t kl = (size_t)(colon - p), vl = n - kl - 1;
                if (kl == 11 && !strncmp(p, "tlsCertFile", kl))
                    cert = tls_param_path(colon + 1, vl);
                if (kl == 10 && !strncmp(p, "tlsKeyFile", kl)) key = tls_param_path(colon + 1, vl);
            }
            p += n + (p[n] == ',');
        }
    }
    if (!cert || !key || !*cert || !*key)
        cli_fail("%s needs --auth-params tlsCertFile:/path/cert.pem,tlsKeyFile:/path/key.pem",
                 TLS_PLUGIN);
    cli_tls.cert_file = cert;
    cli_tls.key_file = key;
}

/* A boolean of client.conf or an option value: true only for "true" (any case), as Java's
 * Boolean.parseBoolean. */
static bool conf_true(const char *v)
{
    return v && !strcasecmp(v, "true");
}

/* The token from the auth plugin and its parameters (either may be NULL); NULL: no auth. */
static char *auth_token(const char *plugin, const char *params)
{
    if (plugin && strcmp(plugin, TOKEN_PLUGIN) && strcmp(plugin, "token"))
        cli_fail("Unsupported auth plugin %s: magnetar-admin supports %s and %s", plugin,
                 TOKEN_PLUGIN, TLS_PLUGIN);
    if (!params) {
        if (plugin) cli_fail("%s needs --auth-params token:<jwt> or file:///path", TOKEN_PLUGIN);
        return NULL;
    }
    return cli_token_from_params(params); /* params alone: taken as a token, the only plugin */
}

int main(int argc, char **argv)
{
    const char *url = NULL, *conf = NULL, *plugin = NULL, *params = NULL, *trust = NULL;
    const char *insecure = NULL, *hostname = NULL; /* "true"/"false" when given */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((!strcmp(argv[i], "--admin-url") || !strcmp(argv[i], "--admin-url=")) && i + 1 < argc)
            url = argv[++i];
        else if (!strncmp(argv[i], "--admin-url=", 12)) url = argv[i] + 12;
        else if (!strcmp(argv[i], "--conf") && i + 1 < argc) conf = argv[++i];
        else if (!strcmp(argv[i], "--auth-plugin") && i + 1 < argc) plugin = argv[++i];
        else if (!strncmp(argv[i], "--auth-plugin=", 14)) plugin = argv[i] + 14;
        else if (!strcmp(argv[i], "--auth-params") && i + 1 < argc) params = argv[++i];
        else if (!strncmp(argv[i], "--auth-params=", 14)) params = argv[i] + 14;
        else if (!strcmp(argv[i], "--tls-trust-cert-path") && i + 1 < argc) trust = argv[++i];
        else if (!strncmp(argv[i], "--tls-trust-cert-path=", 22)) trust = argv[i] + 22;
        else if (!strcmp(argv[i], "--tls-allow-insecure")) insecure = "true";
        else if (!strncmp(argv[i], "--tls-allow-insecure=", 21)) insecure = argv[i] + 21;
        else if (!strcmp(argv[i], "--tls-enable-hostname-verification")) hostname = "true";
        else if (!strncmp(argv[i], "--tls-enable-hostname-verification=", 35))
            hostname = argv[i] + 35;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char *from_conf = NULL, *conf_plugin = NULL, *conf_params = NULL;
    if (!conf) conf = getenv("PULSAR_CLIENT_CONF");
    const char *conf_file = conf ? conf : "conf/client.conf";
    if (!url) {
        from_conf = conf_value(conf_file, "webServiceUrl");
        if (!from_conf && conf) {
            fprintf(stderr, "no webServiceUrl in %s\n", conf);
            return 2;
        }
        url = from_conf ? from_conf : "http://localhost:8080";
    }
    if (!plugin && !params) { /* the command line wins over the file, as in pulsar-admin */
        plugin = conf_plugin = conf_value(conf_file, "authPlugin");
        params = conf_params = conf_value(conf_file, "authParams");
    }
    char *token = NULL;
    if (is_tls_plugin(plugin))
        tls_auth_params(params);
    else
        token = auth_token(plugin, params);
    cli_token = token;
    /* TLS: the command line wins over the file, key by key */
    char *conf_trust = NULL, *conf_insecure = NULL, *conf_hostname = NULL;
    if (!trust) trust = conf_trust = conf_value(conf_file, "tlsTrustCertsFilePath");
    if (!insecure) insecure = conf_insecure = conf_value(conf_file, "tlsAllowInsecureConnection");
    if (!hostname)
        hostname = conf_hostname = conf_value(conf_file, "tlsEnableHostnameVerification");
    cli_tls.trust_file = trust;
    cli_tls.allow_insecure = conf_true(insecure);
    cli_tls.verify_hostname = conf_true(hostname);
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
    free(conf_plugin);
    free(conf_params);
    free(token);
    free(conf_trust);
    free(conf_insecure);
    free(conf_hostname);
    free((char *)cli_tls.cert_file);
    free((char *)cli_tls.key_file);
    curl_global_cleanup();
    return rc;
}
