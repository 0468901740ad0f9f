/* http.c - magnetar-admin's HTTP client (libcurl), error reporting and argument helpers. */
#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/cli.h"

const char *cli_url = "http://localhost:8080";
const char *cli_token = NULL;
cli_tls_t cli_tls = {0};

char *cli_token_from_params(const char *params)
{
    char *tok = NULL;
    if (!strncmp(params, "token:", 6)) {
        tok = strdup(params + 6);
    } else if (!strncmp(params, "file:", 5)) {
        const char *path = params + 5;
        if (!strncmp(path, "//", 2)) path += 2; /* file:///abs/path -> /abs/path */
        FILE *f = fopen(path, "r");
        if (!f) cli_fail("Cannot read the token file %s", path);
        size_t cap = 4096, n = 0;
        tok = malloc(cap);
        size_t k;
        while (tok && (k = fread(tok + n, 1, cap - n - 1, f)) > 0) {
            n += k;
            if (n + 1 == cap) tok = realloc(tok, cap *= 2);
        }
        fclose(f);
        if (!tok) cli_fail("out of memory");
        tok[n] = 0;
    } else {
        json_t *j = json_loads(params, 0, NULL);
        if (json_is_object(j)) {
            const char *t = json_string_value(json_object_get(j, "token"));
            if (!t) cli_fail("--auth-params: the JSON form needs a \"token\" string");
            tok = strdup(t);
        } else {
            tok = strdup(params); /* as Pulsar: anything else is the token itself */
        }
        json_decref(j);
    }
    if (!tok) cli_fail("out of memory");
    /* trim: token files usually end with a newline */
    char *p = tok;
    while (isspace((unsigned char)*p)) p++;
    memmove(tok, p, strlen(p) + 1);
    size_t l = strlen(tok);
    while (l && isspace((unsigned char)tok[l - 1])) tok[--l] = 0;
    if (!*tok) cli_fail("--auth-params: the token is empty");
    return tok;
}

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
    char **buf = arg;
    size_t *len = (size_t *)(buf + 1);
    size_t k = sz * n;
    char *nb = realloc(*buf, *len + k + 1);
    if (!nb) return 0;
    memcpy(nb + *len, p, k);
    *len += k;
    nb[*len] = 0;
    *buf = nb;
    return k;
}

long cli_http(const char *method, const char *path, const char *body, cli_res_t *out)
{
    memset(out, 0, sizeof *out);
    char url[4096];
    snprintf(url, sizeof url, "%s%s", cli_url, path);
    CURL *c = curl_easy_init();
    if (!c) return 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    char *authz = NULL;
    if (cli_token) {
        authz = malloc(strlen(cli_token) + 32);
        if (authz) {
            sprintf(authz, "Authorization: Bearer %s", cli_token);
            h = curl_slist_append(h, authz);
        }
    }
    struct { char *buf; size_t len; } b = {0}, hd = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "GET") && strcmp(method, "DELETE"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    char why[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
    /* TLS (https:// URLs only; curl ignores these for http://) */
    if (cli_tls.trust_file) curl_easy_setopt(c, CURLOPT_CAINFO, cli_tls.trust_file);
    if (cli_tls.allow_insecure) curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    if (cli_tls.allow_insecure || !cli_tls.verify_hostname)
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    if (cli_tls.cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, cli_tls.cert_file);
    if (cli_tls.key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, cli_tls.key_file);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else {
        free(b.buf);
        b.buf = strdup(why[0] ? why : curl_easy_strerror(rc));
        b.len = strlen(b.buf);
    }
    curl_slist_free_all(h);
    free(authz);
    curl_easy_cleanup(c);
    out->body = b.buf ? b.buf : calloc(1, 1);
    out->len = b.len;
    out->hdrs = hd.buf ? hd.buf : calloc(1, 1);
    out->hlen = hd.len;
    return out->status;
}

void cli_res_free(cli_res_t *r)
{
    free(r->body);
    free(r->hdrs);
    memset(r, 0, sizeof *r);
}

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

json_t *cli_call(const char *method, const char *path, const char *body)
{
    cli_res_t r;
    long st = cli_http(method, path, body, &r);
    if (st == 0) cli_fail("Cannot reach %s: %s", cli_url, r.body);
    if (st < 200 || st >= 300) {
        json_t *j = json_loads(r.body, 0, NULL);
        const char *reason = j ? json_string_value(json_object_get(j, "reason")) : NULL;
        fprintf(stderr, "%s\n\nReason: %s\n", reason ? reason : r.body,
                reason ? reason : "HTTP error");
        fprintf(stderr, "(HTTP %ld %s %s)\n", st, method, path);
        json_decref(j);
        cli_res_free(&r);
        exit(1);
    }
    json_t *j = r.len ? json_loads(r.body, JSON_DECODE_ANY, NULL) : NULL;
    if (r.len && !j) j = json_string(r.body);
    cli_res_free(&r);
    return j;
}

void cli_print_json(json_t *j)
{
    if (!j) {
        printf("null\n");
        return;
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    printf("%s\n", s ? s : "null");
    free(s);
    json_decref(j);
}

static bool is_name(const char *arg, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        size_t l = strlen(names[i]);
        if (!strncmp(arg, names[i], l) && (arg[l] == 0 || arg[l] == '=')) return true;
    }
    return false;
}

/* options that take no value (everything else starting with '-' takes one) */
static const char *const FLAGS[] = {"-f", "--force", "-e", "--enable", "-d", "--disable",
                                    "--per-partition", "--dry-run", "-a", "--all", NULL};

const char *opt(cli_args_t *a, const char *const *names)
{
    for (int i = 0; i < a->argc; i++) {
        if (!is_name(a->argv[i], names)) continue;
        const char *eq = strchr(a->argv[i], '=');
        if (eq && a->argv[i][0] == '-' && a->argv[i][1] == '-') return eq + 1;
        if (i + 1 < a->argc) return a->argv[i + 1];
        cli_fail("option %s needs a value", a->argv[i]);
    }
    return NULL;
}

bool flag(cli_args_t *a, const char *const *names)
{
    for (int i = 0; i < a->argc; i++)
        if (is_name(a->argv[i], names)) return true;
    return false;
}

const char *pos(cli_args_t *a, int n)
{
    for (int i = 0; i < a->argc; i++) {
        const char *s = a->argv[i];
        if (s[0] == '-' && s[1] && !isdigit((unsigned char)s[1])) {
            bool is_flag = false;
            for (int k = 0; FLAGS[k]; k++)
                if (!strcmp(s, FLAGS[k])) is_flag = true;
            if (!is_flag && !strchr(s, '=')) i++; /* skip the option's value */
            continue;
        }
        if (n-- == 0) return s;
    }
    return NULL;
}

int64_t parse_time_s(const char *s)
{
    if (!s || !*s) return -2;
    if (!strcmp(s, "-1")) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -2;
    int64_t mul = 1;
    switch (tolower((unsigned char)*end)) {
    case 0: mul = 1; break;
    case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    case 'w': mul = 7 * 86400; break;
    case 'y': mul = 365 * 86400; break;
    default: return -2;
    }
    if (*end && end[1]) return -2;
    return (int64_t)(v * (double)mul);
}

int64_t parse_size_b(const char *s)
{
    if (!s || !*s) return -2;
    if (!strcmp(s, "-1")) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -2;
    int64_t mul = 1;
    switch (tolower((unsigned char)*end)) {
    case 0: mul = 1; break;
    case 'k': mul = 1024; break;
    case 'm': mul = 1024 * 1024; break;
    case 'g': mul = 1024LL * 1024 * 1024; break;
    case 't': mul = 1024LL * 1024 * 1024 * 1024; break;
    default: return -2;
    }
    if (*end && end[1]) return -2;
    return (int64_t)(v * (double)mul);
}

static bool name_ok(const char *s, size_t n)
{
    if (!n || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr("-=:._", s[i]))) return false;
    return true;
}

const char *ns_arg(const char *s)
{
    if (!s) cli_fail("A namespace tenant/namespace is required");
    const char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/') || !name_ok(s, (size_t)(slash - s)) ||
        !name_ok(slash + 1, strlen(slash + 1)))
        cli_fail("Invalid namespace name '%s': expected tenant/namespace", s);
    return s;
}

void topic_path(const char *topic, char *out, size_t n)
{
    if (!topic) cli_fail("A topic name is required");
    const char *domain = "persistent", *rest = topic;
    if (!strncmp(topic, "persistent://", 13)) rest = topic + 13;
    else if (!strncmp(topic, "non-persistent://", 17)) {
        domain = "non-persistent";
        rest = topic + 17;
    } else if (strstr(topic, "://")) {
        cli_fail("Invalid topic name '%s'", topic);
    }
    char t[512], ns[512], local[2048];
    const char *s1 = strchr(rest, '/');
    if (!s1) {
        snprintf(t, sizeof t, "public");
        snprintf(ns, sizeof ns, "default");
        snprintf(local, sizeof local, "%s", rest);
    } else {
        const char *s2 = strchr(s1 + 1, '/');
        if (!s2) cli_fail("Invalid topic name '%s'", topic);
        snprintf(t, sizeof t, "%.*s", (int)(s1 - rest), rest);
        snprintf(ns, sizeof ns, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
        snprintf(local, sizeof local, "%s", s2 + 1);
    }
    if (!name_ok(t, strlen(t)) || !name_ok(ns, strlen(ns)) || !*local || strchr(local, '/'))
        cli_fail("Invalid topic name '%s'", topic);
    char *esc = curl_easy_escape(NULL, local, 0);
    snprintf(out, n, "/admin/v2/%s/%s/%s/%s", domain, t, ns, esc);
    curl_free(esc);
}
