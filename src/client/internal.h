/* internal.h - libmagnetar internals shared by the src/client files (never installed).
 *
 * Locking: one mutex per client (cl->lock) guards every connection, producer, consumer and
 * request of that client; one condition variable (cl->cond) is broadcast whenever any state a
 * caller may wait for changes. The I/O thread holds the lock while it decodes frames and runs
 * timers, and drops it around poll() and around user callbacks (run from the deferred list).
 * Functions named *_locked expect the lock held. */
#ifndef MG_CLIENT_INTERNAL_H
#define MG_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/map.h"
#include "magnetar/magnetar.h"
#include "proto/frame.h"

#define MG_DEFAULT_PORT 6650
#define MG_DEFAULT_PORT_TLS 6651
#define MG_CLIENT_VERSION "magnetar-c-" MG_VERSION

/* ---- message ids and messages ---------------------------------------------------------------- */
struct mg_message_id {
    int64_t ledger, entry;
    int32_t partition, batch_index, batch_size;
};

/* Tracks which messages of one received batch are still unacknowledged (bit set = pending),
 * shared by the batch's messages. Refcounted (messages may outlive their consumer). */
typedef struct batch_acks {
    atomic_int refs;
    int n;
    uint64_t bits[]; /* (n + 63) / 64 words */
} batch_acks_t;

typedef struct consumer mg_consumer_impl_t;

struct mg_message {
    uint8_t *data;
    size_t len;
    char *key;
    bool key_b64; /* key is base64 (MessageMetadata.partition_key_b64_encoded) */
    uint8_t *okey;
    size_t okey_len;
    char **props; /* name, value, name, value ... */
    size_t nprops;
    uint64_t event_time, publish_time, deliver_at;
    int64_t seq;
    bool has_seq;
    uint32_t redelivery_count;
    struct mg_message_id id;
    char *topic;
    char *producer_name;
    /* received messages only */
    struct mg_consumer *cons; /* leaf consumer that received it; holds a reference */
    batch_acks_t *backs;
    uint64_t *chunk_entries; /* (ledger, entry) pairs of every chunk, for acks */
    size_t n_chunks;
    uint8_t *schema_ver; /* MessageMetadata.schema_version, NULL when none */
    size_t schema_ver_len;
};

/* ---- schemas (schema.c) ---------------------------------------------------------------------- */
struct mg_schema {
    int type;      /* Pulsar Schema.Type */
    char *name;
    uint8_t *data; /* never NULL (1 byte when len == 0) */
    size_t len;
    char **props;  /* name, value, ... */
    size_t nprops;
};

/* ---- connections ----------------------------------------------------------------------------- */
enum { CONN_CONNECTING, CONN_READY, CONN_CLOSED };

typedef struct conn {
    struct mg_client *cl;
    char addr[300]; /* host:port */
    char host[256];
    int port;
    int fd;
    struct ssl_st *ssl; /* TLS session over fd (pulsar+ssl clients), NULL otherwise */
    int state;
    mg_result err;
    char errmsg[256]; /* why CONNECT failed: the broker's reason, or the TLS error ("" otherwise) */
    mg_buf_t in, out;
    uint32_t max_message_size;
    uint64_t last_recv_ms, ping_sent_ms;
    mg_map_t producers; /* producer_id -> struct mg_producer* */
    mg_map_t consumers; /* consumer_id -> struct mg_consumer* */
    mg_map_t reqs;      /* request_id -> req_t* */
    struct conn *next;  /* client's list of all conns */
} conn_t;

/* A request waiting for its response; lives on the waiter's stack, reachable from
 * conn->reqs while pending. */
typedef struct req {
    uint64_t id;
    bool done;
    mg_result res;
    pb_cmd_t *resp; /* owned by the waiter once done */
    char errmsg[256];
} req_t;

/* ---- deferred callbacks (run on the I/O thread without the lock) --------------------------- */
typedef struct deferred {
    struct deferred *next;
    int kind; /* DEF_SEND, DEF_LISTENER */
    mg_send_cb send_cb;
    void *ctx;
    mg_result res;
    struct mg_message_id id;
    bool has_id;
    struct mg_consumer *cons;
    mg_message_t *msg;
} deferred_t;
enum { DEF_SEND, DEF_LISTENER };

/* ---- producer ------------------------------------------------------------------------------- */
typedef struct send_cb_item {
    mg_send_cb cb;
    void *ctx;
} send_cb_item_t;

typedef struct send_op {
    struct send_op *next;
    int64_t seq, seq_last;
    int nmsg;
    mg_buf_t frame;      /* the whole SEND frame, kept for resends after reconnect */
    uint64_t created_ms;
    send_cb_item_t *cbs; /* nmsg callbacks (batch index = position), NULL for non-final chunks */
    bool is_chunk, last_chunk;
} send_op_t;

typedef struct batch {
    char *key;           /* key-based batching: the key of this container, NULL otherwise */
    mg_buf_t payload;    /* [u32 size][SingleMessageMetadata][data]... */
    int n;
    int64_t seq_first, seq_last;
    send_cb_item_t *cbs;
    int cbs_cap;
    uint64_t first_ms;
} batch_t;

enum { H_CONNECTING, H_READY, H_RECONNECT, H_CLOSING, H_CLOSED };

struct mg_producer {
    struct mg_client *cl;
    atomic_int refs;
    int state;
    uint64_t id;
    conn_t *conn;
    char *topic;
    char *name;
    bool user_name;
    mg_producer_conf_t conf; /* strings owned below */
    char **props;
    size_t nprops;
    int partition; /* -1 for a non-partitioned topic or a parent */
    struct mg_producer *parent;
    struct mg_producer **children;
    int nchildren;
    unsigned rr;
    int single_partition;
    int64_t seq_next, last_seq;
    send_op_t *head, *tail;
    int pending_msgs;
    batch_t *batches;
    int nbatches;
    uint64_t next_attempt_ms, backoff_ms;
    bool epoch_closed;
    uint32_t max_msg;    /* the broker's max message size, from the last connection */
    uint64_t rr_start;
    mg_schema_t *schema;   /* own copy, NULL when none */
    uint8_t *schema_ver;   /* PRODUCER_SUCCESS.schema_version; put in every SEND's metadata */
    size_t schema_ver_len;
    struct schema_check *check; /* AUTO_PUBLISH (root handle): payloads checked before queueing */
};

/* ---- consumer ------------------------------------------------------------------------------- */
typedef struct mq {
    mg_message_t **v;
    size_t head, len, cap;
    size_t bytes;
} mq_t;

typedef struct pending_id {
    int64_t ledger, entry;
    uint64_t deadline_ms;
    int32_t batch_index;
    mg_message_t *keep; /* copy kept for the dead-letter topic (redelivery count reached) */
} pending_id_t;

typedef struct chunk_ctx {
    char *uuid;
    int total_chunks, next_chunk;
    mg_buf_t data;
    uint64_t *entries;
    mg_message_t *first; /* metadata of chunk 0 */
} chunk_ctx_t;

typedef struct dlq_item {
    struct dlq_item *next;
    mg_message_t *msg;  /* copy to publish; holds a ref on its consumer */
    bool retry;         /* to the retry-letter topic instead */
    uint64_t delay_ms;
} dlq_item_t;

struct mg_consumer {
    struct mg_client *cl;
    atomic_int refs;
    int state;
    uint64_t id;
    conn_t *conn;
    char *topic; /* leaf: full topic name; parent: the name given (or pattern) */
    char *sub;
    char *name;
    mg_consumer_conf_t conf; /* strings owned */
    int partition;
    struct mg_consumer *parent; /* root for children; NULL for a root */
    struct mg_consumer **children;
    size_t nchildren;
    bool is_pattern;
    uint64_t next_pattern_ms;
    /* root: the receive queue */
    mq_t q;
    int waiting; /* threads in receive */
    /* leaf: flow control */
    int consumed_since_flow;
    /* leaf: reader / seek */
    bool durable;
    bool has_start;
    int64_t start_ledger, start_entry;
    int32_t start_batch;
    int32_t start_partition; /* reader root: the partition a specific start id names, or -1 */
    bool start_inclusive;
    uint64_t min_publish_time; /* drop older messages (reader seek by time) */
    bool has_last_dequeued;
    int64_t last_ledger, last_entry;
    int32_t last_batch;
    /* leaf: ack timeout and nacks */
    pending_id_t *unacked;
    size_t nunacked, capunacked;
    pending_id_t *nacks;
    size_t nnacks, capnacks;
    /* leaf: chunked messages in assembly */
    chunk_ctx_t *chunks;
    size_t nchunkctx;
    /* dead-letter */
    struct mg_producer *dlq_producer, *retry_producer;
    char *dlq_topic, *retry_topic;
    uint64_t next_attempt_ms, backoff_ms;
    bool reconnect_now;
    bool seek_pending;   /* the broker's CLOSE_CONSUMER comes from our SEEK */
    bool is_retry_leaf;  /* subscribed to the retry-letter topic */
    mg_schema_t *schema; /* root: own copy, sent by every leaf in SUBSCRIBE; NULL when none */
};


/* ---- client --------------------------------------------------------------------------------- */
typedef struct host {
    char host[256];
    int port;
} host_t;

struct mg_client {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t io_thread, maint_thread;
    bool stopping;
    int wake_fd; /* eventfd */
    mg_client_conf_t conf;
    bool tls;                   /* service URL pulsar+ssl://: every connection is TLS */
    struct ssl_ctx_st *ssl_ctx; /* built from conf.tls_* at create (tls.c) */
    char *auth_method;
    uint8_t *auth_data;
    char *auth_token_file; /* conf.auth_token_file, copied */
    host_t *hosts;
    int nhosts, next_host;
    conn_t *conns;
    conn_t *dead; /* closed conns, freed at client close (waiters may still hold them) */
    uint64_t next_req_id, next_producer_id, next_consumer_id;
    struct mg_producer **prods;
    size_t nprods, capprods;
    struct mg_consumer **conss;
    size_t nconss, capconss;
    deferred_t *def_head, *def_tail;
    deferred_t *def_free;      /* run callbacks' records, reused (at most DEF_FREE_MAX) */
    size_t ndef_free;
    uint64_t def_sends_queued, def_sends_done; /* send callbacks queued / run so far (FIFO) */
    dlq_item_t *dlq_head, *dlq_tail;
    bool maint_kick;
    struct schema_cache_entry *schema_cache; /* writer schemas by (topic, version); schema_auto.c */
};

/* ---- client.c ----------------------------------------------------------------------------- */
uint64_t deadline_after(int ms);
/* Wait on cl->cond until the deadline (ms, monotonic; 0 = forever). false on timeout. */
bool cl_wait_locked(struct mg_client *cl, uint64_t deadline_ms);
void cl_wake(struct mg_client *cl);
/* A zeroed deferred-callback record (from the client's free list when it has one), or NULL. */
deferred_t *cl_deferred_new_locked(struct mg_client *cl);
void cl_defer_locked(struct mg_client *cl, deferred_t *d);
void cl_defer_send_locked(struct mg_client *cl, mg_send_cb cb, void *ctx, mg_result r,
                          const struct mg_message_id *id);
void cl_add_producer_locked(struct mg_client *cl, struct mg_producer *p);
void cl_del_producer_locked(struct mg_client *cl, struct mg_producer *p);
void cl_add_consumer_locked(struct mg_client *cl, struct mg_consumer *c);
void cl_del_consumer_locked(struct mg_client *cl, struct mg_consumer *c);
mg_result server_error_result(int err);
/* Lookup a (partition) topic and return a ready connection to its owner. */
mg_result cl_lookup_locked(struct mg_client *cl, const char *topic, conn_t **out);
mg_result cl_partitions_locked(struct mg_client *cl, const char *topic, int *n);
/* Normalise a topic name into out (full form); MG_ERR_INVALID_TOPIC when bad. */
mg_result cl_topic_full(const char *in, char *out, size_t outlen);
void random_name(char *out, size_t n);

/* ---- connection.c ------------------------------------------------------------------------- */
/* A ready connection to host:port (connecting when needed); waits up to the connection
 * timeout. */
mg_result conn_get_locked(struct mg_client *cl, const char *host, int port, conn_t **out);
int conn_send_cmd_locked(conn_t *c, const pb_cmd_t *cmd);
int conn_send_raw_locked(conn_t *c, const void *p, size_t n);
/* Send cmd (with request_id set to r->id) and wait for the response; r->resp owned by caller. */
mg_result conn_rpc_locked(conn_t *c, const pb_cmd_t *cmd, req_t *r, int timeout_ms);
void conn_fail_locked(conn_t *c, mg_result why);
/* I/O thread: readable/writable handling; returns false when the conn died. */
void conn_on_readable_locked(conn_t *c);
/* TLS: bytes already read from the socket wait in the session; poll() will not report them. */
bool conn_has_buffered_locked(conn_t *c);
void conn_flush_locked(conn_t *c);
void conn_tick_locked(conn_t *c, uint64_t now);
void conn_free(conn_t *c);

/* ---- tls.c --------------------------------------------------------------------------------- */
/* The client's SSL_CTX from cl->conf (trust, verification, client certificate). MG_OK, or
 * MG_ERR_INVALID_ARG / MG_ERR_NO_MEMORY with the reason given to client_set_error. */
mg_result tls_ctx_new(struct mg_client *cl);
void tls_ctx_free(struct mg_client *cl);
/* TLS handshake over a connected non-blocking fd to host, waiting (poll) until deadline_ms
 * (monotonic). Caller's thread, no lock needed. Returns the session, or NULL with err set. */
struct ssl_st *tls_handshake(struct mg_client *cl, int fd, const char *host, int port,
                             uint64_t deadline_ms, char *err, size_t errlen);
/* Non-blocking I/O on a session, with recv/send's conventions: > 0 bytes moved; 0 the peer
 * closed (recv only); -1 with errno EAGAIN (try again when the socket is ready) or, for a
 * failure, errno EPIPE and the reason in err. */
long tls_recv(struct ssl_st *s, void *p, size_t n, char *err, size_t errlen);
long tls_send(struct ssl_st *s, const void *p, size_t n, char *err, size_t errlen);
/* Decrypted or undecoded bytes held inside the session (poll() cannot see them). */
bool tls_has_pending(struct ssl_st *s);
/* Free a session; polite: send close_notify first (not after a failure). */
void tls_free(struct ssl_st *s, bool polite);

/* ---- producer.c --------------------------------------------------------------------------- */
void producer_on_receipt_locked(conn_t *c, Pulsar__Proto__CommandSendReceipt *r);
void producer_on_send_error_locked(conn_t *c, Pulsar__Proto__CommandSendError *e);
void producer_on_closed_locked(struct mg_producer *p); /* conn lost or CLOSE_PRODUCER */
void producer_tick_locked(struct mg_producer *p, uint64_t now);
uint64_t producer_next_deadline_locked(struct mg_producer *p);
/* maintenance thread: re-create on the broker and resend pending ops */
mg_result producer_connect_locked(struct mg_producer *p);
void producer_unref(struct mg_producer *p);
void producer_destroy_locked(struct mg_producer *p); /* client close */
mg_result producer_create_locked(struct mg_client *cl, const char *topic,
                                 const mg_producer_conf_t *conf, struct mg_producer **out);
/* timeout_ms > 0: how long to wait for room when the pending queue is full and blocks */
mg_result producer_send_locked(struct mg_producer *p, const mg_message_t *m, mg_send_cb cb,
                               void *ctx, int timeout_ms);

/* ---- batch.c (pure) ------------------------------------------------------------------------ */
/* Append one [u32 size][SingleMessageMetadata][data] to a batch payload. */
int batch_append(mg_buf_t *b, const mg_message_t *m, int64_t seq);
/* Split a (decompressed) batch payload into n messages; each gets data/key/props/event time/
 * sequence id from its SingleMessageMetadata. Returns 0, or -1 when malformed. out[] are
 * new messages (caller frees). */
int batch_split(const uint8_t *p, size_t len, int n, mg_message_t **out);
/* Fill message fields from MessageMetadata (key, props, times, producer name, seq). */
int message_fill_from_meta(mg_message_t *m, const pb_meta_t *md);

/* ---- compress.c (pure) -------------------------------------------------------------------- */
/* Pulsar CompressionType values: NONE 0, LZ4 1, ZLIB 2, ZSTD 3, SNAPPY 4. */
int compress_buf(int codec, const uint8_t *in, size_t n, mg_buf_t *out);
/* The bytes a frame carries for in: in itself without compression (no copy), else its
 * compressed form, built in z. 0, or -1 when compression fails. */
int compress_view(int codec, const uint8_t *in, size_t n, mg_buf_t *z, const uint8_t **data,
                  size_t *len);
int decompress_buf(int codec, const uint8_t *in, size_t n, size_t uncompressed, uint8_t **out);

/* ---- consumer.c ---------------------------------------------------------------------------- */
void consumer_on_message_locked(conn_t *c, Pulsar__Proto__CommandMessage *m, const uint8_t *payload,
                                size_t len);
void consumer_on_closed_locked(struct mg_consumer *c, bool by_broker);
void consumer_tick_locked(struct mg_consumer *c, uint64_t now);
mg_result consumer_connect_locked(struct mg_consumer *c);
void consumer_unref(struct mg_consumer *c);
void consumer_destroy_locked(struct mg_consumer *c);
void consumer_process_dlq(struct mg_client *cl); /* maintenance thread, lock held */
mg_result consumer_create_leaf_locked(struct mg_client *cl, struct mg_consumer *root,
                                      const char *topic, int partition, struct mg_consumer **out);
struct mg_consumer *consumer_alloc(struct mg_client *cl, const char *topic, const char *sub,
                                   const mg_consumer_conf_t *conf);
mg_result consumer_close_locked(struct mg_consumer *c, bool unsubscribe);
mg_result consumer_receive_locked(struct mg_consumer *c, mg_message_t **out, int timeout_ms);
mg_result consumer_seek_locked(struct mg_consumer *c, const struct mg_message_id *id, bool by_time,
                               uint64_t ts);
mg_result consumer_last_id_locked(struct mg_consumer *c, struct mg_message_id *out);
void consumer_pattern_refresh(struct mg_consumer *root); /* maintenance thread, lock held */

/* ---- msgid.c / message.c ------------------------------------------------------------------ */
mg_message_t *message_alloc(void);
void message_unref_consumer(mg_message_t *m);
mg_message_id_t *msgid_new(const struct mg_message_id *id);
batch_acks_t *batch_acks_new(int n);
void batch_acks_unref(batch_acks_t *b);
mg_message_t *message_clone(const mg_message_t *m);

/* ---- schema.c ---------------------------------------------------------------------------- */
mg_schema_t *schema_dup(const mg_schema_t *s); /* NULL for NULL or out of memory */
/* Fill a protocol Schema from s; kv/kvp hold up to max properties (borrowed pointers). */
void schema_to_proto(const mg_schema_t *s, Pulsar__Proto__Schema *pb, Pulsar__Proto__KeyValue *kv,
                     Pulsar__Proto__KeyValue **kvp, size_t max);
/* Remember the broker's error text for mg_last_error_message() (msg may be NULL: clears). */
void client_set_error(const char *msg);
/* ---- schema_auto.c ----------------------------------------------------------------------- */
/* A compiled payload check of one schema (AVRO keeps the parsed avro-c schema). Immutable once
 * built, so any thread may use it without a lock. */
typedef struct schema_check schema_check_t;
mg_result schema_check_new(const mg_schema_t *s, schema_check_t **out);
void schema_check_free(schema_check_t *c);
/* MG_OK, or MG_ERR_INVALID_ARG with the reason given to client_set_error. */
mg_result schema_check_payload(const schema_check_t *c, const void *p, size_t len);
/* AUTO_CONSUME / AUTO_PUBLISH: the topic's latest schema (*out NULL when none or BYTES), with
 * the check for AUTO_PUBLISH (check may be NULL). Takes the client lock itself. */
mg_result schema_resolve_auto(struct mg_client *cl, const char *topic, mg_schema_t **out,
                              schema_check_t **check);
void schema_cache_free_locked(struct mg_client *cl); /* client close */
mg_result producer_create_schema_locked(struct mg_client *cl, const char *topic,
                                        const mg_producer_conf_t *conf, const mg_schema_t *schema,
                                        struct mg_producer **out);

#endif
