/* tls.c - see tls.h. OpenSSL does the protocol; this file adapts it to the broker's
 * non-blocking, event-driven connections. */
#include "broker/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"

int tls_broker_port(const mg_config_t *cfg)
{
    if (cfg->broker_service_port_tls >= 0) return cfg->broker_service_port_tls;
    return cfg->tls_enabled ? 6651 : -1;
}

static void ssl_reason(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s %s: %s", what, path, buf[0] ? buf : "failed");
    ERR_clear_error();
}

struct ssl_ctx_st *tls_server_ctx(const mg_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->tls_certificate_file[0] || !cfg->tls_key_file[0]) {
        snprintf(err, errlen,
                 "brokerServicePortTls needs tlsCertificateFilePath and tlsKeyFilePath");
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate_file) != 1) {
        ssl_reason(err, errlen, "tlsCertificateFilePath", cfg->tls_certificate_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(err, errlen, "tlsKeyFilePath", cfg->tls_key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_reason(err, errlen,
                   "tlsKeyFilePath does not match the certificate:", cfg->tls_key_file);
        goto fail;
    }
    if (cfg->tls_trust_certs_file[0] &&
        SSL_CTX_load_verify_locations(ctx, cfg->tls_trust_certs_file, NULL) != 1) {
        ssl_reason(err, errlen, "tlsTrustCertsFilePath", cfg->tls_trust_certs_file);
        goto fail;
    }
    if (cfg->tls_require_trusted_client_cert) {
        if (!cfg->tls_trust_certs_file[0]) {
            snprintf(err, errlen,
                     "tlsRequireTrustedClientCertOnConnect needs tlsTrustCertsFilePath");
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    } else if (cfg->tls_trust_certs_file[0]) {
        /* a client certificate is asked for (AuthenticationProviderTls) but not required; one
         * that does not verify fails the handshake, unless tlsAllowInsecureConnection */
        SSL_CTX_set_verify(
            ctx, cfg->tls_allow_insecure_connection ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

int tls_conn_start(conn_t *c, struct ssl_ctx_st *ctx)
{
    SSL *s = SSL_new(ctx);
    if (!s || SSL_set_fd(s, c->fd) != 1) {
        SSL_free(s);
        return -1;
    }
    SSL_set_accept_state(s);
    c->ssl = s;
    return 0;
}

void tls_conn_free(conn_t *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
}

int tls_handshake(conn_t *c, bool *want_write)
{
    *want_write = false;
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->tls_ready = true;
        return 1;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
        *want_write = true;
        return 0;
    }
    unsigned long code = ERR_get_error();
    char buf[256] = "";
    if (code) ERR_error_string_n(code, buf, sizeof buf);
    log_warn("%s: TLS handshake failed: %s", c->addr,
             buf[0]                   ? buf
             : e == SSL_ERROR_SYSCALL ? "connection closed"
                                      : "error");
    ERR_clear_error();
    return -1;
}

/* errno for an SSL_read/SSL_write that moved nothing */
static ssize_t io_error(conn_t *c, int r)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    ERR_clear_error();
    errno = EIO;
    return e == SSL_ERROR_SYSCALL && r == 0 ? 0 : -1;
}

ssize_t tls_readv(conn_t *c, const struct iovec *iov, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, p, left > INT32_MAX ? INT32_MAX : (int)left);
            if (r <= 0) {
                if (total) return (ssize_t)total;
                return io_error(c, r);
            }
            total += (size_t)r;
            p += r;
            left -= (size_t)r;
        }
    }
    return (ssize_t)total;
}

ssize_t tls_writev(conn_t *c, const struct iovec *iov, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, p, left > INT32_MAX ? INT32_MAX : (int)left);
            if (r <= 0) {
                if (total) return (ssize_t)total;
                ssize_t x = io_error(c, r);
                if (x == 0) errno = EPIPE;
                return -1;
            }
            total += (size_t)r;
            p += r;
            left -= (size_t)r;
        }
    }
    return (ssize_t)total;
}

void tls_close_notify(conn_t *c)
{
    ERR_clear_error();
    SSL_shutdown(c->ssl);
    ERR_clear_error();
}

bool tls_pending(const conn_t *c)
{
    return c->ssl && SSL_pending(c->ssl) > 0;
}

bool tls_peer_cn(const conn_t *c, char *out, size_t outlen)
{
    if (!c->ssl || !c->tls_ready || SSL_get_verify_result(c->ssl) != X509_V_OK) return false;
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    if (!x) return false;
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)outlen);
    X509_free(x);
    return n > 0;
}
