/* mghttp.h - HTTP and HTTPS requests from integration tests to the broker's admin ports
 * (libcurl). One blocking request per call. Not thread-safe. */
#ifndef MGHTTP_H
#define MGHTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mgt_http_res {
    long status;
    char *body;      /* malloc'd, NUL-terminated (empty when there was none) */
    size_t len;
    char hdrs[8192]; /* raw header lines of every response (redirects included) */
    size_t hlen;
    char err[256]; /* libcurl's reason when the request failed below HTTP (status 0) */
} mgt_http_res_t;

/* TLS settings of an HTTPS request (mgt_https). */
typedef struct mgt_tls {
    const char *ca_file;   /* PEM CA certificates to trust; NULL: the system's */
    const char *cert_file; /* client certificate (PEM) for mutual TLS; NULL: none */
    const char *key_file;  /* its key (PEM) */
    bool insecure;         /* do not verify the server's certificate */
} mgt_tls_t;

/* Send method path to 127.0.0.1:port with an optional JSON body; follow redirects when
 * `follow`. The path is sent as is (no dot-segment squashing). HEAD sends no body request.
 * Returns the status, or 0 when the request failed below HTTP (connection refused or reset,
 * timeout: the reason is printed); r->body must be freed with mgt_http_res_free (r is reset first). */
long mgt_http(int port, const char *method, const char *path, const char *body, bool follow,
              mgt_http_res_t *r);
/* mgt_http with `Authorization: Bearer <token>` when token is non-NULL (NULL: no header). */
long mgt_http_auth(int port, const char *method, const char *path, const char *body, bool follow,
                   const char *token, mgt_http_res_t *r);
/* mgt_http_auth over HTTPS to 127.0.0.1:port (the test certificates name 127.0.0.1) with tls
 * (NULL: the system's CAs). A failed handshake is status 0 with the reason in r->err. */
long mgt_https(int port, const mgt_tls_t *tls, const char *method, const char *path,
               const char *body, const char *token, mgt_http_res_t *r);
void mgt_http_res_free(mgt_http_res_t *r);
/* The value of header `name` (case-insensitive) of the last response, copied into out; NULL
 * when absent. */
const char *mgt_http_header(const mgt_http_res_t *r, const char *name, char *out, size_t outlen);

#endif
