/* mgtest.h - integration-test support: start the real `magnetar` binary on free ports with a
 * temporary data dir, and talk the Pulsar protocol to it over real sockets, frame by frame.
 * Used by tests/integration/NN-*.c (cmocka). Not thread-safe; one test thread. */
#ifndef MGTEST_H
#define MGTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/frame.h"

typedef struct mgt_broker {
    pid_t pid;
    int port;            /* brokerServicePort */
    int web_port;        /* webServicePort */
    int port_tls;        /* brokerServicePortTls, -1 when off */
    int web_port_tls;    /* webServicePortTls, -1 when off */
    char dir[256];       /* temp dir: data/ and broker.conf */
    char conf_extra[2048];
    char log_path[300];
} mgt_broker_t;

/* Start a broker; conf_lines is extra broker.conf text ("key=value\n..."), may be NULL.
 * Fails the test (cmocka) when the broker does not get ready within 10 s. */
mgt_broker_t *mgt_broker_start(const char *conf_lines);
/* Start again on the same data dir (after stop or kill). */
void mgt_broker_restart(mgt_broker_t *b);
/* SIGTERM and wait; returns the exit status. */
int mgt_broker_stop(mgt_broker_t *b);
/* SIGKILL (crash) and reap. */
void mgt_broker_kill9(mgt_broker_t *b);
/* Stop if running and remove the temp dir. */
void mgt_broker_free(mgt_broker_t *b);
bool mgt_broker_alive(mgt_broker_t *b);

typedef struct mgt_conn {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    size_t consumed;     /* bytes of the last returned frame, dropped at the next recv */
    uint64_t next_request_id;
    struct ssl_st *ssl;  /* mgt_connect_tls: the frames go through TLS */
} mgt_conn_t;

/* TCP connect to 127.0.0.1:port; with handshake=true also CONNECT and wait for CONNECTED. */
mgt_conn_t *mgt_connect(int port, bool handshake);
/* The same over TLS (brokerServicePortTls), verifying the broker's certificate against ca_file
 * (NULL: no verification); cert/key: a client certificate (NULL: none). NULL, with OpenSSL's
 * reason in err, when the TLS handshake fails. */
mgt_conn_t *mgt_connect_tls(int port, const char *ca_file, const char *cert, const char *key,
                            bool handshake, char *err, size_t errlen);
/* Send a CONNECT: auth_method / auth_data (a string) may be NULL; supports_auth_refresh < 0
 * sends no feature flags. Returns mgt_send_cmd's result. */
int mgt_send_connect(mgt_conn_t *c, const char *client_version, int protocol_version,
                     const char *auth_method, const char *auth_data, int supports_auth_refresh);
void mgt_close(mgt_conn_t *c);
int mgt_send_raw(mgt_conn_t *c, const void *p, size_t n);
int mgt_send_cmd(mgt_conn_t *c, const pb_cmd_t *cmd);
/* Receive the next frame within timeout_ms: 1 and *f (valid until the next recv), 0 timeout,
 * -1 connection closed or undecodable. Frames of types in `skip` (0-terminated, may be NULL)
 * are skipped, e.g. PING. */
int mgt_recv(mgt_conn_t *c, frame_t *f, int timeout_ms);
/* Receive until a frame of the given type arrives (others are skipped, PINGs answered). */
int mgt_expect(mgt_conn_t *c, int type, frame_t *f, int timeout_ms);

/* Convenience commands; each returns the decoded reply frame type (or -1) and fills *f. */
int mgt_producer(mgt_conn_t *c, const char *topic, uint64_t producer_id, const char *name,
                 frame_t *reply);
/* SEND one message with the given properties ("k=v" strings, NULL-terminated list or NULL) */
int mgt_send(mgt_conn_t *c, uint64_t producer_id, uint64_t seq, const char *producer_name,
             const void *payload, size_t n, const char *key, int64_t deliver_at);
/* Append a SEND frame of one message to out, for a test that sends it itself (in pieces). */
void mgt_encode_send(mg_buf_t *out, uint64_t producer_id, uint64_t seq, const char *producer_name,
                     const void *payload, size_t n);
/* SEND a batch of n messages (payloads[i], len[i]) in one entry. */
int mgt_send_batch(mgt_conn_t *c, uint64_t producer_id, uint64_t seq, const char *producer_name,
                   int n, const char **payloads);
int mgt_subscribe(mgt_conn_t *c, const char *topic, const char *sub, int type,
                  uint64_t consumer_id, bool earliest, frame_t *reply);
int mgt_flow(mgt_conn_t *c, uint64_t consumer_id, uint32_t permits);
/* A new connection with consumer 1 on an exclusive subscription sub of topic, from the
 * earliest message, with permits (fails the test if the broker refuses). */
mgt_conn_t *mgt_consumer_on(int port, const char *topic, const char *sub, uint32_t permits);
int mgt_ack(mgt_conn_t *c, uint64_t consumer_id, uint64_t ledger, uint64_t entry, bool cumulative);
/* Receive one MESSAGE; fills the payload (the data after metadata, whole batch if batched). */
typedef struct mgt_msg {
    uint64_t consumer_id, ledger, entry;
    uint32_t redelivery_count;
    char data[4096];
    size_t data_len;
    int num_in_batch;
    char key[256];
    size_t n_ack_set;
} mgt_msg_t;
int mgt_recv_message(mgt_conn_t *c, mgt_msg_t *m, int timeout_ms);

/* Paths */
const char *mgt_bin(void);
const char *mgt_source_dir(void);
/* The build's bin directory ($MG_BUILD_DIR/bin): magnetar-client, magnetar-perf, ... */
const char *mgt_tools_dir(void);
/* Run a shell command, capture stdout into out (NUL-terminated); returns exit status. */
int mgt_run(const char *cmd, char *out, size_t outlen);

#endif
