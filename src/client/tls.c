/* tls.c - TLS for pulsar+ssl:// clients (OpenSSL): the client's SSL_CTX (trusted CAs or the
 * system's, verification on unless tls_allow_insecure_connection, the host name checked only
 * with tls_validate_hostname, as Pulsar's clients default; an optional client certificate for
 * mTLS), the handshake on a connected non-blocking socket within the connection timeout, and
 * non-blocking SSL_read / SSL_write with recv/send's conventions for connection.c.
 *
 * The sessions write through a small socket BIO of our own that uses send(MSG_NOSIGNAL):
 * OpenSSL's socket BIO uses write(), which raises SIGPIPE in the application when the broker
 * has gone, and a library must not make its user ignore SIGPIPE. Sessions are used under the
 * client lock (one thread at a time); the SSL_CTX is shared by them, read-only once built. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client/internal.h"
#include "common/log.h"
#include "common/timeutil.h"

/* ---- socket BIO with MSG_NOSIGNAL ------------------------------------------------------------ */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_fd(BIO *b)
{
    return (int)(intptr_t)BIO_get_data(b);
}

static int nosig_write(BIO *b, const char *p, int n)
{
    BIO_clear_retry_flags(b);
    ssize_t w;
    do
        w = send(nosig_fd(b), p, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(b);
    return (int)w;
}

static int nosig_read(BIO *b, char *p, int n)
{
    BIO_clear_retry_flags(b);
    ssize_t r;
    do
        r = recv(nosig_fd(b), p, (size_t)n, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(b);
    return (int)r;
}

static int nosig_puts(BIO *b, const char *s)
{
    return nosig_write(b, s, (int)strlen(s));
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void nosig_init_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "magnetar socket");
    if (!m) return;
    BIO_meth_set_write(m, nosig_write);
    BIO_meth_set_read(m, nosig_read);
    BIO_meth_set_puts(m, nosig_puts);
    BIO_meth_set_ctrl(m, nosig_ctrl);
    BIO_meth_set_create(m, nosig_create);
    nosig_method = m;
}

static BIO *nosig_bio(int fd)
{
    pthread_once(&nosig_once, nosig_init_method);
    if (!nosig_method) return NULL;
    BIO *b = BIO_new(nosig_method);
    if (b) BIO_set_data(b, (void *)(intptr_t)fd);
    return b;
}

/* ---- errors ---------------------------------------------------------------------------------- */
/* The first OpenSSL error of this thread's queue as text (reason only), or dflt. */
static const char *ssl_reason(char *buf, size_t len, const char *dflt)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (!r) return dflt;
    snprintf(buf, len, "%s", r);
    return buf;
}

/* 0 when path can be opened for reading; else -1 with why set (strerror), so that a missing
 * file is not reported as an OpenSSL parse error. why is also the default for a PEM error. */
static int file_error(const char *path, char *why, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, len, "%s", strerror(errno));
        return -1;
    }
    fclose(f);
    snprintf(why, len, "not a PEM file it can use");
    return 0;
}

/* ---- context --------------------------------------------------------------------------------- */
mg_result tls_ctx_new(struct mg_client *cl)
{
    const mg_client_conf_t *cf = &cl->conf;
    char msg[600], why[200];
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return MG_ERR_NO_MEMORY;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); /* Pulsar's default: TLSv1.3, TLSv1.2 */
    /* SSL_write hands back each record as it is written, and a retry after WANT_WRITE may come
     * from another address: connection.c moves unsent bytes into the connection's buffer */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (cf->tls_trust_certs_file_path && *cf->tls_trust_certs_file_path) {
        if (file_error(cf->tls_trust_certs_file_path, why, sizeof why) ||
            SSL_CTX_load_verify_locations(ctx, cf->tls_trust_certs_file_path, NULL) != 1) {
            snprintf(msg, sizeof msg, "cannot load TLS trust certificates %s: %s",
                     cf->tls_trust_certs_file_path, ssl_reason(why, sizeof why, why));
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(msg, sizeof msg, "cannot load the system's CA certificates: %s",
                 ssl_reason(why, sizeof why, "unknown error"));
        goto fail;
    }
    SSL_CTX_set_verify(ctx, cf->tls_allow_insecure_connection ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                       NULL);
    bool has_cert = cf->tls_cert_file_path && *cf->tls_cert_file_path;
    bool has_key = cf->tls_key_file_path && *cf->tls_key_file_path;
    if (has_cert != has_key) {
        snprintf(msg, sizeof msg,
                 "a TLS client certificate needs both tls_cert_file_path and "
                 "tls_key_file_path");
        goto fail;
    }
    if (has_cert) {
        if (file_error(cf->tls_cert_file_path, why, sizeof why) ||
            SSL_CTX_use_certificate_chain_file(ctx, cf->tls_cert_file_path) != 1) {
            snprintf(msg, sizeof msg, "cannot load TLS client certificate %s: %s",
                     cf->tls_cert_file_path, ssl_reason(why, sizeof why, why));
            goto fail;
        }
        if (file_error(cf->tls_key_file_path, why, sizeof why) ||
            SSL_CTX_use_PrivateKey_file(ctx, cf->tls_key_file_path, SSL_FILETYPE_PEM) != 1) {
            snprintf(msg, sizeof msg, "cannot load TLS client key %s: %s", cf->tls_key_file_path,
                     ssl_reason(why, sizeof why, why));
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            snprintf(msg, sizeof msg, "TLS client key %s does not match certificate %s",
                     cf->tls_key_file_path, cf->tls_cert_file_path);
            goto fail;
        }
    }
    ERR_clear_error();
    cl->ssl_ctx = ctx;
    return MG_OK;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    log_warn("client: %s", msg);
    client_set_error(msg);
    return MG_ERR_INVALID_ARG;
}

void tls_ctx_free(struct mg_client *cl)
{
    SSL_CTX_free(cl->ssl_ctx);
    cl->ssl_ctx = NULL;
}

/* ---- handshake ------------------------------------------------------------------------------- */
SSL *tls_handshake(struct mg_client *cl, int fd, const char *host, int port, uint64_t deadline_ms,
                   char *err, size_t errlen)
{
    ERR_clear_error();
    SSL *s = SSL_new(cl->ssl_ctx);
    BIO *b = s ? nosig_bio(fd) : NULL;
    if (!b) {
        snprintf(err, errlen, "TLS with %s:%d: out of memory", host, port);
        SSL_free(s);
        return NULL;
    }
    SSL_set_bio(s, b, b);
    SSL_set_connect_state(s);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(s, host); /* SNI */
    if (cl->conf.tls_validate_hostname && !cl->conf.tls_allow_insecure_connection) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(s);
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                       : X509_VERIFY_PARAM_set1_host(vp, host, 0);
        if (ok != 1) {
            snprintf(err, errlen, "TLS with %s:%d: cannot set the host name to verify", host, port);
            SSL_free(s);
            return NULL;
        }
    }
    for (;;) {
        ERR_clear_error();
        int rc = SSL_connect(s);
        if (rc == 1) break;
        int e = SSL_get_error(s, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            uint64_t now = mg_mono_ms();
            if (now >= deadline_ms) {
                snprintf(err, errlen, "TLS handshake with %s:%d timed out", host, port);
                SSL_free(s);
                return NULL;
            }
            struct pollfd pf = {.fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
            int left = (int)(deadline_ms - now);
            if (poll(&pf, 1, left) < 0 && errno != EINTR) {
                snprintf(err, errlen, "TLS handshake with %s:%d: poll: %s", host, port,
                         strerror(errno));
                SSL_free(s);
                return NULL;
            }
            continue;
        }
        char why[200];
        long vr = SSL_get_verify_result(s); /* recorded even when not enforced (insecure) */
        if (vr != X509_V_OK && !cl->conf.tls_allow_insecure_connection)
            snprintf(err, errlen, "TLS handshake with %s:%d failed: certificate verify failed: %s",
                     host, port, X509_verify_cert_error_string(vr));
        else if (e == SSL_ERROR_SSL)
            snprintf(err, errlen, "TLS handshake with %s:%d failed: %s", host, port,
                     ssl_reason(why, sizeof why, "protocol error"));
        else
            snprintf(err, errlen, "TLS handshake with %s:%d failed: %s", host, port,
                     rc == 0 || !errno ? "connection closed by the server (not a TLS port?)"
                                       : strerror(errno));
        ERR_clear_error();
        SSL_free(s);
        return NULL;
    }
    log_debug("client: TLS with %s:%d: %s, %s", host, port, SSL_get_version(s),
              SSL_get_cipher_name(s));
    return s;
}

/* ---- I/O ------------------------------------------------------------------------------------- */
/* After SSL_read/SSL_write returned rc <= 0: -1 with errno EAGAIN when it only has to wait,
 * 0 for an orderly close (reads), -1 with errno EPIPE and err set otherwise. */
static long io_result(SSL *s, int rc, bool reading, char *err, size_t errlen)
{
    int e = SSL_get_error(s, rc);
    int saved = errno;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN && reading) return 0; /* close_notify */
    char why[200];
    if (e == SSL_ERROR_SSL)
        snprintf(err, errlen, "%s", ssl_reason(why, sizeof why, "protocol error"));
    else if (e == SSL_ERROR_SYSCALL && saved && rc < 0)
        snprintf(err, errlen, "%s: %s", reading ? "read" : "write", strerror(saved));
    else
        snprintf(err, errlen, "connection closed by the server");
    ERR_clear_error();
    if (e == SSL_ERROR_SYSCALL && reading && !(saved && rc < 0))
        return 0; /* EOF without close_notify */
    errno = EPIPE;
    return -1;
}

long tls_recv(SSL *s, void *p, size_t n, char *err, size_t errlen)
{
    ERR_clear_error();
    int rc = SSL_read(s, p, n > INT32_MAX ? INT32_MAX : (int)n);
    return rc > 0 ? rc : io_result(s, rc, true, err, errlen);
}

long tls_send(SSL *s, const void *p, size_t n, char *err, size_t errlen)
{
    if (!n) return 0;
    ERR_clear_error();
    int rc = SSL_write(s, p, n > (1u << 30) ? (1 << 30) : (int)n);
    return rc > 0 ? rc : io_result(s, rc, false, err, errlen);
}

bool tls_has_pending(SSL *s)
{
    return s && SSL_has_pending(s);
}

void tls_free(SSL *s, bool polite)
{
    if (!s) return;
    if (polite) {
        ERR_clear_error();
        SSL_shutdown(s); /* close_notify, not waiting for the answer */
    }
    ERR_clear_error();
    SSL_free(s);
}
