/* mghttp.c - see mghttp.h. */
#include "mghttp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    mgt_http_res_t *r = arg;
    r->body = realloc(r->body, r->len + sz * n + 1);
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = 0;
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    mgt_http_res_t *r = arg;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->hdrs) {
        memcpy(r->hdrs + r->hlen, p, k);
        r->hlen += k;
        r->hdrs[r->hlen] = 0;
    }
    return k;
}

long mgt_http(int port, const char *method, const char *path, const char *body, bool follow,
              mgt_http_res_t *r)
{
    return mgt_http_auth(port, method, path, body, follow, NULL, r);
}

/* One request; tls NULL: plain HTTP. */
static long request(int port, const mgt_tls_t *tls, const char *method, const char *path,
                    const char *body, bool follow, const char *token, mgt_http_res_t *r)
{
    memset(r, 0, sizeof *r);
    char url[4096];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", tls ? "https" : "http", port, path);
    CURL *c = curl_easy_init();
    if (!c) return 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char *authz = NULL;
    if (token) {
        authz = malloc(strlen(token) + 32);
        sprintf(authz, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, authz);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
    if (tls) {
        if (tls->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, tls->ca_file);
        if (tls->cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, tls->cert_file);
        if (tls->key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, tls->key_file);
        if (tls->insecure) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else {
        if (!r->err[0]) snprintf(r->err, sizeof r->err, "%s", curl_easy_strerror(rc));
        fprintf(stderr, "%s %s: %s\n", method, url, r->err);
    }
    curl_slist_free_all(h);
    free(authz);
    curl_easy_cleanup(c);
    if (!r->body) r->body = calloc(1, 1);
    return r->status;
}

long mgt_http_auth(int port, const char *method, const char *path, const char *body, bool follow,
                   const char *token, mgt_http_res_t *r)
{
    return request(port, NULL, method, path, body, follow, token, r);
}

long mgt_https(int port, const mgt_tls_t *tls, const char *method, const char *path,
               const char *body, const char *token, mgt_http_res_t *r)
{
    static const mgt_tls_t system_cas = {0};
    return request(port, tls ? tls : &system_cas, method, path, body, false, token, r);
}

void mgt_http_res_free(mgt_http_res_t *r)
{
    free(r->body);
    r->body = NULL;
}

const char *mgt_http_header(const mgt_http_res_t *r, const char *name, char *out, size_t outlen)
{
    const char *found = NULL;
    size_t nl = strlen(name);
    for (const char *p = r->hdrs; *p;) {
        const char *e = strchr(p, '\n');
        size_t linelen = e ? (size_t)(e - p) : strlen(p);
        if (!strncmp(p, "HTTP/", 5)) found = NULL; /* a new response starts */
        else if (linelen > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t vl = linelen - (size_t)(v - p);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) vl--;
            snprintf(out, outlen, "%.*s", (int)vl, v);
            found = out;
        }
        if (!e) break;
        p = e + 1;
    }
    return found;
}
