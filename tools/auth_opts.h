/* auth_opts.h - Pulsar's client authentication options, shared by magnetar-client and
 * magnetar-perf (header-only: each tool is built from its one source file).
 *
 *   --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationToken   (or "token", the
 *                 C++/Python clients' short name)
 *   --auth-params token:<jwt> | file:///path/to/token | {"token":"<jwt>"} | <jwt>
 *
 * The parameter string is read as Pulsar's AuthenticationToken.configure() reads it: a "token:"
 * prefix is stripped, a "file:" URI names a file whose content (trimmed of leading and trailing
 * whitespace, as Java's String.trim) is the token, a JSON object gives its "token" member, and
 * anything else is the token itself. The result goes into mg_client_conf_t as auth method
 * "token" with the token's bytes as auth data, which libmagnetar sends in CONNECT. */
#ifndef MG_TOOLS_AUTH_OPTS_H
#define MG_TOOLS_AUTH_OPTS_H

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magnetar/magnetar.h"

#define AUTH_PLUGIN_TOKEN "org.apache.pulsar.client.impl.auth.AuthenticationToken"

typedef struct auth_opts {
    const char *plugin; /* --auth-plugin, NULL when not given */
    const char *params; /* --auth-params, NULL when not given */
    char *token;        /* owned; set by auth_opts_apply */
} auth_opts_t;

/* Does argv[*i] name an auth option? If so store its value (from "--opt=value" or the next
 * argument), advance *i past what was used and return 1; return -1 when the value is missing,
 * 0 for any other argument. Both Pulsar spellings are taken (--auth-plugin, --auth_plugin). */
static int auth_opts_take(auth_opts_t *a, int argc, char **argv, int *i)
{
    static const struct {
        const char *name;
        int params;
    } names[] = {
        {"--auth-plugin", 0}, {"--auth_plugin", 0}, {"--auth-params", 1}, {"--auth_params", 1}};
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
        if (names[k].params)
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
static char *auth__read_file(const char *uri, char *err, size_t errlen)
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
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
        free(path);
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
    free(path);
    char *tok = buf ? auth__trimmed(buf, len) : NULL;
    free(buf);
    return tok;
}

/* The "token" member of a JSON object such as {"token":"eyJ..."}, or NULL. Plain strings only
 * (a JWT has no characters that need escapes); \" and \\ are still undone. */
static char *auth__json_token(const char *s)
{
    const char *k = strstr(s, "\"token\"");
    if (!k) return NULL;
    k += strlen("\"token\"");
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

/* Fill conf's auth fields from the options. Returns 0 (also when no option was given); -1 with
 * err set for a usage error (an unknown plugin, a plugin without params or params without a
 * plugin, an empty token); -2 with err set when the token file cannot be read. conf points
 * into a; keep a alive until mg_client_create (which copies the token) has returned. */
static int auth_opts_apply(auth_opts_t *a, mg_client_conf_t *conf, char *err, size_t errlen)
{
    if (!a->plugin && !a->params) return 0;
    if (!a->plugin) {
        snprintf(err, errlen, "--auth-params needs --auth-plugin %s", AUTH_PLUGIN_TOKEN);
        return -1;
    }
    if (strcmp(a->plugin, AUTH_PLUGIN_TOKEN) && strcmp(a->plugin, "token")) {
        snprintf(err, errlen, "unknown auth plugin '%s' (supported: %s)", a->plugin,
                 AUTH_PLUGIN_TOKEN);
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
        if (!(a->token = auth__read_file(p, err, errlen))) return -2;
    } else if (*p == '{') {
        if (!(a->token = auth__json_token(p))) {
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
    a->token = NULL;
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
