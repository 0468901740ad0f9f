/* tls.h - TLS on the binary protocol (brokerServicePortTls, Pulsar's 6651): the server context
 * built from Pulsar's broker.conf keys, and the non-blocking handshake, read and write that
 * conn.c uses for a connection accepted on the TLS port. A TLS connection carries the same
 * frames; stored entries go through SSL_write instead of sendfile. */
#ifndef MG_BROKER_TLS_H
#define MG_BROKER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/config.h"

typedef struct conn conn_t;
struct ssl_ctx_st;

/* The port the TLS listener should use: brokerServicePortTls, or 6651 with the deprecated
 * tlsEnabled=true and no port; -1 when TLS is off. */
int tls_broker_port(const mg_config_t *cfg);

/* The server context: certificate chain and key (PEM), and with
 * tlsRequireTrustedClientCertOnConnect a client certificate signed by tlsTrustCertsFilePath is
 * required. NULL with err naming what is wrong. */
struct ssl_ctx_st *tls_server_ctx(const mg_config_t *cfg, char *err, size_t errlen);
void tls_ctx_free(struct ssl_ctx_st *ctx);

/* Start TLS on an accepted connection (c->fd): 0, or -1. */
int tls_conn_start(conn_t *c, struct ssl_ctx_st *ctx);
void tls_conn_free(conn_t *c);
/* Continue the handshake: 1 done, 0 in progress (*want_write: it waits to write), -1 failed. */
int tls_handshake(conn_t *c, bool *want_write);
/* readv/writev over TLS: bytes moved (> 0); 0 at the peer's close_notify or EOF (read); -1
 * with errno EAGAIN when nothing can move now, another errno when the connection is broken. */
ssize_t tls_readv(conn_t *c, const struct iovec *iov, int n);
ssize_t tls_writev(conn_t *c, const struct iovec *iov, int n);
/* Send close_notify without waiting for the peer's (non-blocking; errors ignored). */
void tls_close_notify(conn_t *c);
/* Decrypted bytes held inside the TLS layer, not yet read (the socket may stay quiet). */
bool tls_pending(const conn_t *c);
/* The verified client certificate's common name (for AuthenticationProviderTls), or false. */
bool tls_peer_cn(const conn_t *c, char *out, size_t outlen);

#endif
