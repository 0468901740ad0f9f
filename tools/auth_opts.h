/* auth_opts.h - Pulsar's client authentication and TLS options, shared by magnetar-client and
 * magnetar-perf (header-only: each tool is built from its one source file).
 *
 *   --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationToken   (or "token", the
 *                 C++/Python clients' short name)
 *   --auth-params token:<jwt> | file:///path/to/token | {"token":"<jwt>"} | <jwt>
 *   --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationTls      (or "tls")
 *   --auth-params tlsCertFile:/path/cert.pem,tlsKeyFile:/path/key.pem
 *                 | {"tlsCertFile":"/path/cert.pem","tlsKeyFile":"/path/key.pem"}
 *   --tls-trust-cert-path FILE (pulsar-admin's name; pulsar-perf's --trust-cert-file and
 *                 pulsar-client's --tlsTrustCertsFilePath too), --tls-allow-insecure,
 *                 --tls-enable-hostname-verification (flags, or =true / =false)
 *
 * The parameter string is read as Pulsar's AuthenticationToken.configure() reads it: a "token:"
 * prefix is stripped, a "file:" URI names a file whose content (trimmed of leading and trailing
 * whitespace, as Java's String.trim) is the token, a JSON object gives its "token" member, and
 * anything else is the token itself. The result goes into mg_client_conf_t as auth method
 * "token" with the token's bytes as auth data, which libmagnetar sends in CONNECT.
 * AuthenticationTls's parameters are read as its configure() reads them (a JSON object, else
 * "key:value" pairs separated by commas): the client certificate and key go to the TLS
 * configuration (mTLS, for a pulsar+ssl:// URL) and CONNECT names the method "tls", as Java's. */
#ifndef MG_TOOLS_AUTH_OPTS_H
#define MG_TOOLS_AUTH_OPTS_H

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magnetar/magnetar.h"

#define AUTH_PLUGIN_TOKEN "org.apache.pulsar.client.impl.auth.AuthenticationToken"
#define AUTH_PLUGIN_TLS "org.apache.pulsar.client.impl.auth.AuthenticationTls"

typedef struct auth_opts {
    const char *plugin; /* --auth-plugin, NULL when not given */
    const char *params; /* --auth-params, NULL when not given */
    char *token;        /* owned; set by auth_opts_apply */
    /* TLS (for pulsar+ssl:// URLs) */
    const char *tls_trust;    /* --tls-trust-cert-path, NULL when not given */
    int tls_allow_insecure;   /* --tls-allow-insecure: 1, =false: 0, not given: -1 or 0 */
    int tls_hostname;         /* --tls-enable-hostname-verification, as above */
    char *tls_cert, *tls_key; /* owned; AuthenticationTls's tlsCertFile / tlsKeyFile */
    char *token_file;         /* owned; the path of a file: token, re-read by libmagnetar */
} auth_opts_t;

/* A TLS flag: "--name", "--name=true|false" or "--name true|false". 1 when argv[*i] is one
 * (*flag set), 0 when not, -1 for a bad value. */
static int auth__flag(const char *name, int *flag, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) || (arg[n] && arg[n] != '=')) return 0;
    const char *v = arg[n] == '=' ? arg + n + 1 : NULL;
    if (!v && *i + 1 < argc && (!strcmp(argv[*i + 1], "true") || !strcmp(argv[*i + 1], "false")))
        v = argv[++*i];
    if (!v || !strcmp(v, "true"))
        *flag = 1;
    else if (!strcmp(v, "false"))
        *flag = 0;
    else {
        fprintf(stderr, "%s takes true or false, not '%s'\n", name, v);
        return -1;
    }
    return 1;
}

/* Does argv[*i] name an auth option? If so store its value (from "--opt=value" or the next
 * argument), advance *i past what was used and return 1; return -1 when the value is missing,
 * 0 for any other argument. Both Pulsar spellings are taken (--auth-plugin, --auth_plugin). */
static int auth_opts_take(auth_opts_t *a, int argc, char **argv, int *i)
{
    static const struct {
        const char *name;
        int params; /* 0 plugin, 1 params, 2 trusted certificates */
    } names[] = {{"--auth-plugin", 0},         {"--auth_plugin", 0},
                 {"--auth-params", 1},         {"--auth_params", 1},
                 {"--tls-trust-cert-path", 2}, {"--tls_trust_cert_path", 2},
                 {"--trust-cert-file", 2},     {"--tlsTrustCertsFilePath", 2}};
    int f = auth__flag("--tls-allow-insecure", &a->tls_allow_insecure, argc, argv, i);
    if (!f) f = auth__flag("--tls-enable-hostname-verification", &a->tls_hostname, argc, argv, i);
    if (f) return f;
    const char *arg = argv[*i];
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = strlen(names[k].name);
        if (strncmp(arg, names[k].name, n) || (arg[n] && arg[n] != '=')) continue;
        const char *v = arg[n] == '=' ? arg + n + 1 : NULL;
        if (!v) {
            if (*i + 1 >= argc) {
                fprintf(stderr, "%s needs a value\n", names[k].name);
                return -1;
            }
            v = argv[++*i];
        }
        if (names[k].params == 2)
            a->tls_trust = v;
        else if (names[k].params)
            a->params = v;
        else
            a->plugin = v;
        return 1;
    }
    return 0;
}

/* Copy s[0..n) trimmed as Java's String.trim() (every char <= ' ' at either end). */
static char *auth__trimmed(const char *s, size_t n)
{
    while (n && (unsigned char)*s <= ' ')
        s++, n--;
    while (n && (unsigned char)s[n - 1] <= ' ')
        n--;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* The token in the file named by a file: URI ("file:///abs/path" or "file:/abs/path", with
 * %XX escapes), or NULL with err set. */
static char *auth__read_file(const char *uri, char **path_out, char *err, size_t errlen)
{
    const char *p = uri + strlen("file:");
    if (!strncmp(p, "//", 2)) p += 2; /* an empty authority: file:///path */
    if (*p != '/') {
        snprintf(err, errlen, "auth params '%s': want file:///absolute/path", uri);
        return NULL;
    }
    char *path = malloc(strlen(p) + 1);
    if (!path) return NULL;
    size_t n = 0;
    for (; *p; p++) {
        if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            path[n++] = (char)strtol(hex, NULL, 16);
            p += 2;
        } else {
            path[n++] = *p;
        }
    }
    path[n] = '\0';
    *path_out = path; /* the caller's, also on failure */
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0, r;
    do {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap = len + 65536);
            if (!nb) break;
            buf = nb;
        }
        r = fread(buf + len, 1, cap - len, f);
        len += r;
    } while (r > 0);
    fclose(f);
    char *tok = buf ? auth__trimmed(buf, len) : NULL;
    free(buf);
    return tok;
}

/* The string member key of a JSON object such as {"token":"eyJ..."} (malloc'ed), or NULL.
 * Plain strings only (a JWT or a path needs no escapes); \" and \\ are still undone. */
static char *auth__json_string(const char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *k = strstr(s, pat);
    if (!k) return NULL;
    k += strlen(pat);
    while (isspace((unsigned char)*k))
        k++;
    if (*k++ != ':') return NULL;
    while (isspace((unsigned char)*k))
        k++;
    if (*k++ != '"') return NULL;
    char *out = malloc(strlen(k) + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (; *k && *k != '"'; k++) {
        if (*k == '\\' && k[1]) k++;
        out[n++] = *k;
    }
    out[n] = '\0';
    if (*k != '"') {
        free(out);
        return NULL;
    }
    return out;
}

/* The value of key in AuthenticationTls's parameters: a JSON object's string member, or a
 * "key:value" pair of a comma-separated list (the value runs to the next comma). NULL when
 * absent or empty; malloc'ed otherwise. */
static char *auth__tls_param(const char *params, const char *key)
{
    size_t kl = strlen(key);
    const char *p = params;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '{') {
        char *out = auth__json_string(p, key);
        if (out && !*out) {
            free(out);
            return NULL;
        }
        return out;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == ':') {
            char *out = auth__trimmed(p + kl + 1, len - kl - 1);
            if (out && !*out) {
                free(out);
                return NULL;
            }
            return out;
        }
        p += len;
        if (*p == ',') p++;
    }
    return NULL;
}

/* AuthenticationTls: the client certificate and key for the TLS handshake, method "tls". */
static int auth__apply_tls(auth_opts_t *a, mg_client_conf_t *conf, char *err, size_t errlen)
{
    if (!a->params) {
        snprintf(err, errlen,
                 "--auth-plugin %s needs --auth-params tlsCertFile:<path>,tlsKeyFile:<path>",
                 a->plugin);
        return -1;
    }
    free(a->tls_cert);
    free(a->tls_key);
    a->tls_cert = auth__tls_param(a->params, "tlsCertFile");
    a->tls_key = auth__tls_param(a->params, "tlsKeyFile");
    if (!a->tls_cert || !a->tls_key) {
        snprintf(err, errlen, "auth params '%s': want tlsCertFile:<path>,tlsKeyFile:<path>",
                 a->params);
        return -1;
    }
    conf->tls_cert_file_path = a->tls_cert;
    conf->tls_key_file_path = a->tls_key;
    conf->auth_method = "tls"; /* CONNECT.auth_method_name, no data: the certificate speaks */
    conf->auth_data = NULL;
    conf->auth_data_len = 0;
    return 0;
}

/* Fill conf's auth and TLS fields from the options. Returns 0 (also when no option was given);
 * -1 with err set for a usage error (an unknown plugin, a plugin without params or params
 * without a plugin, an empty token, TLS params without both files); -2 with err set when the
 * token file cannot be read. conf points into a; keep a alive until mg_client_create (which
 * copies the token and loads the TLS files) has returned. */
static int auth_opts_apply(auth_opts_t *a, mg_client_conf_t *conf, char *err, size_t errlen)
{
    conf->tls_trust_certs_file_path = a->tls_trust;
    conf->tls_allow_insecure_connection = a->tls_allow_insecure > 0;
    conf->tls_validate_hostname = a->tls_hostname > 0;
    if (!a->plugin && !a->params) return 0;
    if (!a->plugin) {
        snprintf(err, errlen, "--auth-params needs --auth-plugin %s", AUTH_PLUGIN_TOKEN);
        return -1;
    }
    if (!strcmp(a->plugin, AUTH_PLUGIN_TLS) || !strcmp(a->plugin, "tls"))
        return auth__apply_tls(a, conf, err, errlen);
    if (strcmp(a->plugin, AUTH_PLUGIN_TOKEN) && strcmp(a->plugin, "token")) {
        snprintf(err, errlen, "unknown auth plugin '%s' (supported: %s, %s)", a->plugin,
                 AUTH_PLUGIN_TOKEN, AUTH_PLUGIN_TLS);
        return -1;
    }
    if (!a->params) {
        snprintf(err, errlen, "--auth-plugin %s needs --auth-params token:<jwt> or file:///path",
                 a->plugin);
        return -1;
    }
    const char *p = a->params;
    if (!strncmp(p, "token:", 6)) {
        a->token = strdup(p + 6);
    } else if (!strncmp(p, "file:", 5)) {
        /* read now to report a bad file at once; libmagnetar reads it again at each connect
         * and AUTH_CHALLENGE, so a token rotated in the file is picked up */
        if (!(a->token = auth__read_file(p, &a->token_file, err, errlen))) return -2;
        conf->auth_token_file = a->token_file;
    } else if (*p == '{') {
        if (!(a->token = auth__json_string(p, "token"))) {
            snprintf(err, errlen, "auth params: no \"token\" string in %s", p);
            return -1;
        }
    } else {
        a->token = strdup(p);
    }
    if (!a->token || !*a->token) {
        snprintf(err, errlen, "auth params '%s': empty token", p);
        return -1;
    }
    conf->auth_method = "token";
    conf->auth_data = a->token;
    conf->auth_data_len = strlen(a->token);
    return 0;
}

static void auth_opts_free(auth_opts_t *a)
{
    free(a->token);
    free(a->token_file);
    free(a->tls_cert);
    free(a->tls_key);
    a->token = a->tls_cert = a->tls_key = NULL;
}

/* Print "what: <mg_strerror> (<the broker's reason>)" to stderr; MG_ERR_AUTH reads
 * "Authentication or authorization error". */
static __attribute__((unused)) void tool_print_error(const char *what, mg_result r)
{
    const char *why = mg_last_error_message();
    fprintf(stderr, "%s: %s%s%s%s\n", what, mg_strerror(r), why[0] ? " (" : "", why,
            why[0] ? ")" : "");
}

#endif
