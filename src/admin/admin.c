/* admin.c - the admin plane's HTTP server (libmicrohttpd, one thread per connection) and the
 * marshalling of each request into the broker loop: the HTTP thread copies method, path,
 * query and body into an admin_req_t, posts it to the loop, and waits on a condition variable
 * until a route handler (loop thread) has answered. Also start-up, shutdown and the periodic
 * policy timer (retentionCheckIntervalInSeconds): retention, TTL and backlog-quota eviction
 * (policies_enforce_all), then subscription expiration (aops_subs_expire_inactive).
 *
 * HTTPS (webServicePortTls, off by default): a second daemon with MHD_USE_TLS (GnuTLS inside
 * libmicrohttpd) on its own listening socket, same handler and same admin_t, so both ports
 * serve the same routes with the same authentication. With tlsTrustCertsFilePath a client
 * certificate is asked for; libmicrohttpd neither verifies it nor can refuse a handshake without
 * one, so the HTTP thread checks it on every request (tlsRequireTrustedClientCertOnConnect:
 * 401 without one) and, with AuthenticationProviderTls, takes its common name as the role. */
#include "admin/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "admin/admin_int.h"
#include "broker/admin_ops.h"
#include "broker/auth.h"
#include "net/listen.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

typedef struct admin {
    broker_t *b;
    struct MHD_Daemon *d;
    int fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    admin_req_t *abandoned;
    struct health *health; /* health checks waiting for the disk (routes_misc.c; loop thread) */
    /* HTTPS (webServicePortTls); d_tls NULL = off. The PEM texts stay allocated while d_tls
     * runs: libmicrohttpd keeps the pointers it was given. */
    struct MHD_Daemon *d_tls;
    int fd_tls;
    char *tls_cert, *tls_key, *tls_trust;
    bool cert_required; /* tlsRequireTrustedClientCertOnConnect */
    bool cert_insecure; /* tlsAllowInsecureConnection: an optional certificate may fail */
    char tls_start_err[256]; /* libmicrohttpd's last message (guarded by mu) */
} admin_t;

struct health **admin_health_list(broker_t *b) { return &((admin_t *)b->admin)->health; }

typedef struct conn_ctx {
    char *body;
    size_t len, cap;
    bool too_large;
} conn_ctx_t;

/* --- reply helpers (loop thread) ------------------------------------------------------- */

const char *areq_arg(admin_req_t *r, const char *k)
{
    for (int i = 0; i < r->nargs; i++)
        if (!strcmp(r->arg_k[i], k)) return r->arg_v[i] ? r->arg_v[i] : "";
    return NULL;
}

bool areq_arg_true(admin_req_t *r, const char *k)
{
    const char *v = areq_arg(r, k);
    return v && (!strcmp(v, "true") || !strcmp(v, "") || !strcmp(v, "1"));
}

void reply_text(admin_req_t *r, int status, const char *ctype, const char *data, size_t len)
{
    mg_free(r->resp);
    r->resp = mg_malloc(len + 1);
    if (r->resp) {
        memcpy(r->resp, data, len);
        r->resp[len] = 0;
        r->resp_len = len;
    } else {
        r->resp_len = 0;
    }
    r->status = status;
    snprintf(r->ctype, sizeof r->ctype, "%s", ctype);
}

void reply_json(admin_req_t *r, int status, json_t *json)
{
    char *s = json_dumps(json, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(json);
    if (!s) {
        reply_text(r, 500, "application/json", "{\"reason\":\"encoding failed\"}", 28);
        return;
    }
    reply_text(r, status, "application/json", s, strlen(s));
    free(s);
}

void reply_err(admin_req_t *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_json(r, status, json_pack("{s:s}", "reason", msg));
}

void reply_empty(admin_req_t *r, int status)
{
    reply_text(r, status, "application/json", "", 0);
}

void reply_405(admin_req_t *r)
{
    reply_err(r, 405, "HTTP method %s is not allowed on %s", r->method, "this resource");
}

void reply_header(admin_req_t *r, const char *name, const char *fmt, ...)
{
    char val[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    for (char *p = val; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    size_t add = strlen(name) + strlen(val) + 3;
    char *h = mg_realloc(r->hdrs, r->hdrs_len + add + 1);
    if (!h) return;
    r->hdrs = h;
    r->hdrs_len += (size_t)snprintf(h + r->hdrs_len, add + 1, "%s: %s\n", name, val);
}

json_t *areq_json(admin_req_t *r)
{
    if (!r->body || !r->body_len) {
        reply_err(r, 400, "Request body is missing");
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &e);
    if (!j) reply_err(r, 400, "Malformed JSON: %s (line %d, column %d)", e.text, e.line, e.column);
    return j;
}

/* --- marshalling ------------------------------------------------------------------------ */

/* The console page (and / that redirects to it) and /metrics are open, as Pulsar leaves
 * /metrics open by default (authenticateMetricsEndpoint=false); everything else (the admin
 * and lookup REST paths, and unknown paths) needs a role when authentication is on. */
static bool is_open_path(char **s, int n)
{
    return n == 0 || (n == 1 && !strcmp(s[0], "console")) || !strcmp(s[0], "metrics");
}

static void route(admin_req_t *r)
{
    char **s = r->segs;
    int n = r->nseg;
    if (n == 0 || (n == 1 && !strcmp(s[0], "console"))) {
        route_console(r);
    } else if (n >= 1 && !strcmp(s[0], "metrics")) {
        route_metrics(r);
    } else if (!authz_allow(r)) {
        return; /* refused (401) */
    } else if (n >= 3 && !strcmp(s[0], "lookup") && !strcmp(s[1], "v2") && !strcmp(s[2], "topic")) {
        route_lookup(r);
    } else if (n >= 3 && !strcmp(s[0], "admin") && !strcmp(s[1], "v2")) {
        const char *res = s[2];
        if (!strcmp(res, "clusters")) route_clusters(r);
        else if (!strcmp(res, "tenants")) route_tenants(r);
        else if (!strcmp(res, "namespaces")) route_namespaces(r);
        else if (!strcmp(res, "persistent") || !strcmp(res, "non-persistent")) route_topics(r);
        else if (!strcmp(res, "brokers")) route_brokers(r);
        else if (!strcmp(res, "schemas")) route_schemas(r);
        else reply_err(r, 404, "Not found: /%s", r->path);
    } else {
        reply_err(r, 404, "Not found");
    }
}

void areq_finish(admin_req_t *r)
{
    admin_t *a = r->b->admin;
    pthread_mutex_lock(&a->mu);
    r->done = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void run_on_loop(void *arg)
{
    admin_req_t *r = arg;
    r->status = 500;
    route(r);
    if (!r->deferred) areq_finish(r);
}

static void areq_free(admin_req_t *r)
{
    mg_free(r->path);
    for (int i = 0; i < r->nargs; i++) {
        mg_free(r->arg_k[i]);
        mg_free(r->arg_v[i]);
    }
    mg_free(r->body);
    mg_free(r->resp);
    mg_free(r->hdrs);
    mg_free(r);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    admin_req_t *r = cls;
    if (r->nargs >= AREQ_MAX_ARGS || !k) return MHD_YES;
    r->arg_k[r->nargs] = mg_strdup(k);
    r->arg_v[r->nargs] = v ? mg_strdup(v) : NULL;
    r->nargs++;
    return MHD_YES;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, int status, const char *ctype,
                                  const char *body, size_t len, const char *hdrs)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (len || status != 204) MHD_add_response_header(resp, "Content-Type", ctype);
    for (const char *p = hdrs; p && *p;) {
        const char *nl = strchr(p, '\n'), *colon = strstr(p, ": ");
        if (!nl || !colon || colon > nl) break;
        char name[256], val[1100];
        snprintf(name, sizeof name, "%.*s", (int)(colon - p), p);
        snprintf(val, sizeof val, "%.*s", (int)(nl - colon - 2), colon + 2);
        MHD_add_response_header(resp, name, val);
        p = nl + 1;
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *reason)
{
    char body[512];
    json_t *j = json_pack("{s:s}", "reason", reason);
    char *s = json_dumps(j, JSON_COMPACT);
    snprintf(body, sizeof body, "%s", s ? s : "{}");
    free(s);
    json_decref(j);
    return send_reply(c, status, "application/json", body, strlen(body), NULL);
}

/* Authentication (HTTP thread; auth_token_role may run on any thread): the role from
 * `Authorization: Bearer <token>`, else (AuthenticationProviderTls) the common name of the
 * verified client certificate cert_cn ("" when none), else anonymousUserRole. 0 with r->role
 * set, or -1 with the reason for the 401. A token that does not verify is refused even when an
 * anonymous role or a certificate would do: a client that sends credentials wants them
 * checked. */
static int authenticate(mg_auth_t *auth, struct MHD_Connection *c, const char *cert_cn,
                        admin_req_t *r, char *err, size_t errlen)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h && cert_cn[0] && auth_tls_enabled(auth)) {
        auth_count_tls(auth, true);
        snprintf(r->role, sizeof r->role, "%s", cert_cn);
        r->authenticated = true;
        return 0;
    }
    if (!h) {
        const char *anon = auth_anonymous_role(auth);
        if (!anon) {
            snprintf(err, errlen, "Authentication required");
            return -1;
        }
        snprintf(r->role, sizeof r->role, "%s", anon);
        r->authenticated = true;
        return 0;
    }
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t')) {
        snprintf(err, errlen, "Invalid HTTP Authorization header: expected Bearer <token>");
        return -1;
    }
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t len = strlen(h);
    while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (!len) {
        snprintf(err, errlen, "Authentication required: the Bearer token is empty");
        return -1;
    }
    err[0] = 0;
    if (auth_token_role(auth, h, len, (int64_t)time(NULL), r->role, sizeof r->role, err, errlen)) {
        if (!err[0]) snprintf(err, errlen, "Authentication failed");
        return -1;
    }
    r->authenticated = true;
    return 0;
}

static bool path_ok(const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

/* The client certificate of a request (HTTP thread). libmicrohttpd asks for one when it has a
 * trust list (tlsTrustCertsFilePath, MHD_OPTION_HTTPS_MEM_TRUST) and gives GnuTLS that list,
 * which verifies the chain here. 0 with the verified certificate's common name in cn ("" when
 * there is none: no certificate, the plain port, no trust list, or an unverified certificate let
 * through by tlsAllowInsecureConnection, which Pulsar then does not use for authentication), or
 * -1 with the reason for a 401: no certificate when one is required, or one that does not
 * verify (required ones always must, as on the binary port's tls.c). */
static int client_cert_check(admin_t *a, struct MHD_Connection *c, char *cn, size_t cnlen,
                             char *err, size_t errlen)
{
    cn[0] = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!a->tls_trust || !ci || !ci->tls_session) return 0;
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
    if (!chain || n == 0) {
        if (!a->cert_required) return 0;
        snprintf(err, errlen,
                 "A trusted client certificate is required (tlsRequireTrustedClientCertOnConnect)");
        return -1;
    }
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers2(s, &status);
    if ((rc || status) && a->cert_insecure && !a->cert_required) return 0;
    if (rc || status) {
        const char *why = rc                                        ? "it cannot be verified"
                          : (status & GNUTLS_CERT_SIGNER_NOT_FOUND) ? "its issuer is not trusted"
                          : (status & GNUTLS_CERT_EXPIRED)          ? "it has expired"
                          : (status & GNUTLS_CERT_NOT_ACTIVATED)    ? "it is not yet valid"
                          : (status & GNUTLS_CERT_REVOKED)          ? "it is revoked"
                                                                    : "it is invalid";
        snprintf(err, errlen, "The client certificate is not trusted: %s", why);
        log_info("admin HTTPS: refused a client certificate: %s", why);
        return -1;
    }
    /* the leaf's subject CN (DER from GnuTLS, read with OpenSSL, which the broker links) */
    const unsigned char *der = chain[0].data;
    X509 *x = d2i_X509(NULL, &der, (long)chain[0].size);
    if (x &&
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cnlen) < 0)
        cn[0] = 0;
    X509_free(x);
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    admin_t *a = cls;
    conn_ctx_t *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > ADMIN_MAX_BODY) cc->too_large = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cc->too_large && cc->len + *upload_size > ADMIN_MAX_BODY) cc->too_large = true;
        if (!cc->too_large) {
            if (cc->len + *upload_size + 1 > cc->cap) {
                size_t nc = (cc->len + *upload_size + 1) * 2;
                char *nb = realloc(cc->body, nc);
                if (!nb) return MHD_NO;
                cc->body = nb;
                cc->cap = nc;
            }
            memcpy(cc->body + cc->len, upload, *upload_size);
            cc->len += *upload_size;
            cc->body[cc->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    char cert_cn[256], cert_err[256];
    if (client_cert_check(a, c, cert_cn, sizeof cert_cn, cert_err, sizeof cert_err))
        return send_error(c, 401, cert_err);
    if (cc->too_large) return send_error(c, 413, "Request body is too large");
    if (!path_ok(url)) return send_error(c, 400, "Invalid characters in the request path");
    if (strlen(url) > 8000) return send_error(c, 414, "Request path is too long");

    admin_req_t *r = mg_calloc(1, sizeof *r);
    if (!r) return send_error(c, 503, "out of memory");
    r->b = a->b;
    snprintf(r->method, sizeof r->method, "%s", method);
    r->path = mg_strdup(url[0] == '/' ? url + 1 : url);
    if (cc->len) {
        r->body = mg_strndup(cc->body, cc->len);
        r->body_len = cc->len;
    }
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, r);
    /* split the path; empty segments (a trailing slash) are dropped */
    char *save = NULL;
    for (char *tok = strtok_r(r->path, "/", &save); tok && r->nseg < AREQ_MAX_SEGS;
         tok = strtok_r(NULL, "/", &save))
        r->segs[r->nseg++] = tok;
    if (a->b->auth && !is_open_path(r->segs, r->nseg)) {
        char err[512];
        if (authenticate(a->b->auth, c, cert_cn, r, err, sizeof err)) {
            areq_free(r);
            return send_error(c, 401, err);
        }
    }

    pthread_mutex_lock(&a->mu);
    bool stopping = a->stopping;
    pthread_mutex_unlock(&a->mu);
    if (stopping || loop_post(a->b->loop, run_on_loop, r)) {
        areq_free(r);
        return send_error(c, 503, "Broker is shutting down");
    }
    pthread_mutex_lock(&a->mu);
    while (!r->done && !a->stopping) pthread_cond_wait(&a->cv, &a->mu);
    if (!r->done) { /* the loop will never answer: admin_stop frees r */
        r->abandoned = true;
        r->next_abandoned = a->abandoned;
        a->abandoned = r;
        pthread_mutex_unlock(&a->mu);
        return send_error(c, 503, "Broker is shutting down");
    }
    pthread_mutex_unlock(&a->mu);
    enum MHD_Result ret = send_reply(c, r->status, r->ctype[0] ? r->ctype : "application/json",
                                     r->resp ? r->resp : "", r->resp_len, r->hdrs);
    areq_free(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_ctx_t *cc = *con_cls;
    if (!cc) return;
    free(cc->body);
    free(cc);
    *con_cls = NULL;
}

/* The whole PEM file at path (NUL-terminated, mg_malloc'd), for config key `key`; NULL with
 * err naming the key and the file. */
static char *read_pem(const char *key, const char *path, char *err, size_t errlen)
{
    if (!path[0]) {
        snprintf(err, errlen, "webServicePortTls is on but %s is not set", key);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s %s: cannot read: %s", key, path, strerror(errno));
        return NULL;
    }
    size_t cap = 16384, n = 0, k;
    char *buf = mg_malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 < cap) continue;
        char *nb = cap < 4 * 1024 * 1024 ? mg_realloc(buf, cap * 2) : NULL;
        if (!nb) {
            mg_free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f);
    int e = errno;
    fclose(f);
    if (!buf || bad) {
        snprintf(err, errlen, "%s %s: cannot read: %s", key, path,
                 buf ? strerror(e) : "too large or out of memory");
        mg_free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (!strstr(buf, "-----BEGIN ")) {
        snprintf(err, errlen, "%s %s: not a PEM file", key, path);
        mg_free(buf);
        return NULL;
    }
    return buf;
}

static void free_secret(char *p)
{
    if (!p) return;
    explicit_bzero(p, strlen(p));
    mg_free(p);
}

static void tls_free(admin_t *a)
{
    mg_free(a->tls_cert);
    free_secret(a->tls_key);
    mg_free(a->tls_trust);
    a->tls_cert = a->tls_key = a->tls_trust = NULL;
}

/* libmicrohttpd's own messages for the HTTPS daemon (any thread): kept for the start-up error,
 * logged at debug level (a plain-HTTP client on the TLS port is no news). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    admin_t *a = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = 0;
    log_debug("admin HTTPS: %s", msg);
    pthread_mutex_lock(&a->mu);
    snprintf(a->tls_start_err, sizeof a->tls_start_err, "%s", msg);
    pthread_mutex_unlock(&a->mu);
}

/* The HTTPS port, -1 when off: webServicePortTls, else 8443 with the deprecated tlsEnabled. */
static int tls_port(const mg_config_t *cfg)
{
    if (cfg->web_service_port_tls >= 0) return cfg->web_service_port_tls;
    return cfg->tls_enabled ? 8443 : -1;
}

/* Read and check what HTTPS needs before anything listens (loop thread). 0 (also when off), or
 * -1 with err. */
static int tls_prepare(admin_t *a, char *err, size_t errlen)
{
    const mg_config_t *cfg = a->b->cfg;
    if (tls_port(cfg) < 0) return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "webServicePortTls: this libmicrohttpd was built without TLS");
        return -1;
    }
    if (!(a->tls_cert =
              read_pem("tlsCertificateFilePath", cfg->tls_certificate_file, err, errlen)) ||
        !(a->tls_key = read_pem("tlsKeyFilePath", cfg->tls_key_file, err, errlen)))
        goto fail;
    a->cert_required = cfg->tls_require_trusted_client_cert;
    a->cert_insecure = cfg->tls_allow_insecure_connection;
    /* libmicrohttpd only asks for a client certificate when it has a trust list */
    if (!cfg->tls_trust_certs_file[0] && !a->cert_required) return 0;
    if (!cfg->tls_trust_certs_file[0]) {
        snprintf(err, errlen,
                 "tlsRequireTrustedClientCertOnConnect=true needs tlsTrustCertsFilePath");
        goto fail;
    }
    if (!(a->tls_trust = read_pem("tlsTrustCertsFilePath", cfg->tls_trust_certs_file, err, errlen)))
        goto fail;
    /* libmicrohttpd does not check the client's certificate: the handler does, with GnuTLS
     * (libmicrohttpd's TLS library), in client_cert_check */
    return 0;
fail:
    tls_free(a);
    return -1;
}

/* Start the HTTPS daemon (loop thread), after tls_prepare. 0 (also when off), or -1 with err. */
static int tls_start(admin_t *a, char *err, size_t errlen)
{
    broker_t *b = a->b;
    if (!a->tls_cert) return 0;
    a->fd_tls = net_listen("webServicePortTls", b->cfg->bind_address, tls_port(b->cfg), false, 256,
                           &b->web_port_tls, err, errlen);
    if (a->fd_tls < 0) {
        b->web_port_tls = -1;
        return -1;
    }
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, a->fd_tls, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 256 * 1024, NULL},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, a},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, a->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls_key},
        {a->tls_trust ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, a->tls_trust},
        {MHD_OPTION_END, 0, NULL},
    };
    a->d_tls =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                             MHD_USE_POLL | MHD_USE_TLS | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, on_request, a, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!a->d_tls) {
        pthread_mutex_lock(&a->mu);
        snprintf(err, errlen,
                 "cannot start the HTTPS server on port %d (tlsCertificateFilePath %s, "
                 "tlsKeyFilePath %s): %s; is the key the certificate's, both PEM?",
                 b->web_port_tls, b->cfg->tls_certificate_file, b->cfg->tls_key_file,
                 a->tls_start_err[0] ? a->tls_start_err : "libmicrohttpd refused");
        pthread_mutex_unlock(&a->mu);
        close(a->fd_tls);
        b->web_port_tls = -1;
        return -1;
    }
    const char *host = b->cfg->advertised_address[0] ? b->cfg->advertised_address : "localhost";
    snprintf(b->web_url_tls, sizeof b->web_url_tls, "https://%s:%d", host, b->web_port_tls);
    log_info("admin HTTPS on port %d; client certificates: %s%s", b->web_port_tls,
             !a->tls_trust      ? "not asked for"
             : a->cert_required ? "required"
                                : "optional",
             a->tls_trust && a->cert_insecure && !a->cert_required ? ", untrusted ones ignored"
                                                                   : "");
    return 0;
}

int admin_start(struct broker *b, char *err, size_t errlen)
{
    admin_t *a = mg_calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->b = b;
    a->fd_tls = -1;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (tls_prepare(a, err, errlen)) goto fail;
    b->web_port = -1;
    if (b->cfg->web_service_port >= 0) {
        a->fd = net_listen("webServicePort", b->cfg->bind_address, b->cfg->web_service_port, false,
                           256, &b->web_port, err, errlen);
        if (a->fd < 0) goto fail;
        a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                    MHD_USE_POLL,
                                0, NULL, NULL, on_request, a, MHD_OPTION_LISTEN_SOCKET, a->fd,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024,
                                MHD_OPTION_END);
        if (!a->d) {
            snprintf(err, errlen, "cannot start the HTTP server on port %d", b->web_port);
            close(a->fd);
            goto fail;
        }
    } else if (tls_port(b->cfg) < 0) { /* HTTPS only is Pulsar's webServicePort empty */
        snprintf(err, errlen, "webServicePort is empty and webServicePortTls is off: no admin port");
        goto fail;
    }
    if (tls_start(a, err, errlen)) {
        if (a->d) MHD_stop_daemon(a->d);
        goto fail;
    }
    b->admin = a;
    return 0;
fail:
    tls_free(a);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    mg_free(a);
    return -1;
}

static int policy_timer(mg_loop_t *l, uint64_t id, void *arg)
{
    broker_t *b = arg;
    policies_enforce_all(b);
    aops_subs_expire_inactive(b, mg_now_ms());
    int s = b->cfg->retention_check_interval_s;
    return (s > 0 ? s : 60) * 1000;
}

void admin_timers(struct broker *b)
{
    int s = b->cfg->retention_check_interval_s;
    loop_timer_add(b->loop, (uint64_t)(s > 0 ? s : 60) * 1000, policy_timer, b);
}

void admin_stop(struct broker *b)
{
    admin_t *a = b->admin;
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->d) MHD_stop_daemon(a->d); /* joins the connection threads; closes the listening socket */
    if (a->d_tls) MHD_stop_daemon(a->d_tls);
    tls_free(a);
    /* requests the loop never ran: their loop tasks are dropped by loop_free */
    while (a->abandoned) {
        admin_req_t *r = a->abandoned;
        a->abandoned = r->next_abandoned;
        areq_free(r);
    }
    health_abandon_all(&a->health); /* their requests ended above (503, or closed) */
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    mg_free(a);
    b->admin = NULL;
}
