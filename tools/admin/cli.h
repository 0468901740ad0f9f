/* cli.h - magnetar-admin internals: the HTTP client (libcurl) against the admin REST API,
 * argument helpers, and the command groups (clusters, tenants, namespaces, topics, brokers,
 * schemas, apply). Single-threaded; every function exits the process on a fatal error. */
#ifndef MG_ADMIN_CLI_H
#define MG_ADMIN_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_res {
    long status;
    char *body;
    size_t len;
    char *hdrs;
    size_t hlen;
} cli_res_t;

extern const char *cli_url;     /* webServiceUrl without a trailing slash */
extern const char *cli_token;   /* sent as `Authorization: Bearer <token>`; NULL: none */

/* TLS of an https:// URL, as pulsar-admin's options and client.conf keys name it. */
typedef struct cli_tls {
    const char *trust_file; /* --tls-trust-cert-path, tlsTrustCertsFilePath; NULL: system CAs */
    bool allow_insecure;    /* --tls-allow-insecure, tlsAllowInsecureConnection: no check of
                             * the broker's certificate */
    bool verify_hostname;   /* --tls-enable-hostname-verification,
                             * tlsEnableHostnameVerification (false by default, as Pulsar) */
    const char *cert_file;  /* AuthenticationTls tlsCertFile: client certificate; NULL: none */
    const char *key_file;   /* AuthenticationTls tlsKeyFile */
} cli_tls_t;
extern cli_tls_t cli_tls;

/* The token of Pulsar's AuthenticationToken parameters (--auth-params, authParams):
 * "token:<jwt>", "file:///path" (the file holds the token), {"token": "<jwt>"}, or the token
 * itself. Returns a malloc'd token, or exits with a message. */
char *cli_token_from_params(const char *params);

/* One request; body may be NULL. Returns the status (0 when the server is unreachable). */
long cli_http(const char *method, const char *path, const char *body, cli_res_t *out);
void cli_res_free(cli_res_t *r);
/* Request that must succeed (2xx): prints the server's reason and exits 1 otherwise.
 * Returns the parsed JSON body (NULL for an empty body). */
json_t *cli_call(const char *method, const char *path, const char *body);
void cli_print_json(json_t *j);        /* pretty, then decref */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Options: argv after the sub-command; positional arguments and --opt/-o values. */
typedef struct cli_args {
    int argc;
    char **argv;
} cli_args_t;
/* Value of the first of the given option names (NULL-terminated list), NULL when absent. */
const char *opt(cli_args_t *a, const char *const *names);
bool flag(cli_args_t *a, const char *const *names);
/* n-th positional argument (0-based) skipping options; NULL when absent. */
const char *pos(cli_args_t *a, int n);
#define O(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Parse "7d", "10m", "3600" (seconds), "-1" -> seconds; -2 on a bad value. */
int64_t parse_time_s(const char *s);
/* Parse "1024M", "10G", "100k", "512" (bytes), "-1" -> bytes; -2 on a bad value. */
int64_t parse_size_b(const char *s);
/* "tenant/ns" -> admin path piece "tenant/ns" (validated). */
const char *ns_arg(const char *s);
/* Topic name -> "/admin/v2/persistent/t/ns/topic" in out. */
void topic_path(const char *topic, char *out, size_t n);

int cmd_clusters(const char *sub, cli_args_t *a);
int cmd_tenants(const char *sub, cli_args_t *a);
int cmd_namespaces(const char *sub, cli_args_t *a);
int cmd_topics(const char *sub, cli_args_t *a);
int cmd_brokers(const char *sub, cli_args_t *a);
int cmd_schemas(const char *sub, cli_args_t *a);
int cmd_apply(cli_args_t *a);

/* apply -f: make the schemas listed for namespace tenant/ns (a JSON array from the manifest,
 * NULL for none) the latest ones of their topics. Relative `file:` paths are resolved from
 * the manifest's directory. Prints one line per upload; identical schemas print nothing.
 * Returns the number of uploads (planned ones with dry). A refused upload exits 1; with dry,
 * a schema the registry would refuse is reported on stderr and counted in *refused. */
int schemas_apply(const char *tenant, const char *ns, json_t *list, const char *manifest,
                  bool dry, int *refused);

#endif
