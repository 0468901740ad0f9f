/* broker.h - the broker's state and the contracts between its parts.
 *
 * Threading: everything here is owned by the one loop thread (see net/loop.h). The storage
 * writer thread only touches entries handed to it; the admin HTTP threads reach this state
 * only through loop_post(). So no locks are needed on any of these structures.
 *
 * Ownership: broker -> topics (by name) -> subscriptions -> cursor state; connections own
 * their producers and consumers; producers/consumers point at their topic/subscription and
 * are detached from them when either side closes. */
#ifndef MG_BROKER_H
#define MG_BROKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/ackset.h"
#include "common/arena.h"
#include "common/pool.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/entry.h"
#include "common/map.h"
#include "common/timeutil.h"
#include "common/topic_name.h"
#include "net/loop.h"
#include "proto/frame.h"
#include "storage/ledger.h"
#include "storage/metastore.h"

typedef struct broker broker_t;
typedef struct conn conn_t;
typedef struct topic topic_t;
typedef struct producer producer_t;
typedef struct subscription subscription_t;
typedef struct consumer consumer_t;

enum sub_type { SUB_EXCLUSIVE = 0, SUB_SHARED = 1, SUB_FAILOVER = 2, SUB_KEY_SHARED = 3 };

/* Namespace policies that take effect in the broker (admin plane stores the full JSON). */
typedef struct ns_policies {
    int dedup;                    /* -1 = broker default, 0 off, 1 on */
    int64_t retention_minutes;    /* -2 = broker default; -1 = infinite */
    int64_t retention_size_mb;    /* -2 = broker default; -1 = infinite */
    int64_t ttl_seconds;          /* -1 = broker default */
    int64_t backlog_limit_bytes;  /* -1 = none */
    int64_t backlog_limit_time_s; /* -1 = none */
    char backlog_policy[48];      /* producer_request_hold | producer_exception | consumer_backlog_eviction */
    int max_producers_per_topic;  /* -1 = broker default */
    int max_consumers_per_topic;
    int max_consumers_per_subscription;
    int schema_validation_enforced; /* -1 default */
    char schema_compat[40];         /* "" = broker default */
    int is_allow_auto_update_schema;/* -1 default (true) */
    int subscription_expiration_minutes;
} ns_policies_t;

struct producer {
    conn_t *conn;
    topic_t *topic;
    uint64_t id;
    uint64_t request_id;
    char *name;
    int access_mode;
    bool user_named;
    bool ready;                /* false while waiting for exclusive access */
    uint64_t epoch;
    uint64_t pending;          /* appends not yet durable */
    uint64_t msg_in, bytes_in; /* counters */
    double rate_in, tput_in;
    uint64_t last_msg_in, last_bytes_in;
    char *client_version;
    uint64_t connected_since_ms;
};

struct consumer {
    conn_t *conn;
    subscription_t *sub;
    uint64_t id;
    char *name;
    int priority;
    int64_t permits;
    uint64_t unacked;            /* messages delivered and not acked */
    bool blocked;                /* hit maxUnackedMessagesPerConsumer */
    /* Key_Shared: hash ranges [start, end] inclusive, in 0..65535 */
    int nranges;
    int32_t (*ranges)[2];
    uint64_t msg_out, bytes_out, msg_redeliver;
    double rate_out, tput_out;
    uint64_t last_msg_out, last_bytes_out;
    uint64_t acks;
    uint64_t connected_since_ms;
    char *client_version;
    consumer_t *next_in_sub;
};

/* One pending (delivered, unacked) entry of a subscription. */
typedef struct pending_entry {
    uint64_t id;
    consumer_t *consumer;  /* NULL once the consumer left (then it is queued for redelivery) */
    int32_t batch_size;
} pending_entry_t;

/* Pending entries come from and go back to the broker's pool (loop thread). */
pending_entry_t *pending_new(subscription_t *s);
void pending_free(subscription_t *s, void *pe); /* pe may be NULL */

size_t producer_send_ctx_size(void); /* for the broker's send_pool */
/* After the topic's log is closed (its callbacks will never run): give each SEND still in
 * flight back to its connection (pending counts, reading resumed) and free it. */
void producer_cancel_inflight(topic_t *t);

struct subscription {
    topic_t *topic;
    char *name;
    int type;
    bool durable;
    ackset_t acks;          /* mark-delete floor + individually acked + batch-index acks */
    uint64_t read_pos;      /* next entry id to read for first-time dispatch */
    mg_map_t pending;       /* u64 id -> pending_entry_t*, delivered and unacked */
    mg_map_t redeliver_count; /* u64 id -> (void*)(uintptr_t)count */
    idset_t replay;         /* ids to redeliver before reading new entries */
    consumer_t *consumers;  /* linked list in subscribe order */
    int nconsumers;
    consumer_t *active;     /* Exclusive/Failover */
    consumer_t *rr_next;    /* Shared round-robin position */
    int ks_mode;            /* Key_Shared: 0 auto-split, 1 sticky */
    bool dirty;             /* cursor changed since last persisted */
    bool dispatch_scheduled;
    bool deleting;          /* being deleted or reset: consumers leaving must not free it */
    subscription_t *next_dispatch;
    /* delayed delivery: ids held back with their deliver-at times */
    struct delayed { uint64_t at_ms; uint64_t id; } *delayed;
    int ndelayed, capdelayed;
    uint64_t delayed_timer;
    uint64_t msg_out, bytes_out, msg_expired;
    uint64_t last_active_ms;
    subscription_t *next_dirty;
};

/* Dedup state per producer name: highest sequence id pushed and persisted. */
typedef struct dedup_state {
    int64_t pushed;
    int64_t persisted;
} dedup_state_t;

/* A topic's parsed name, kept compactly: the strings share one allocation (an embedded
 * mg_topic_name_t would cost ~5.6 KB per topic). Field names match mg_topic_name_t's. */
typedef struct topic_ident {
    bool persistent;
    int partition;
    const char *tenant, *ns, *local, *full, *base;
    char *mem;
} topic_ident_t;

struct topic {
    broker_t *b;
    char *name;               /* canonical full name (a partition for partitioned topics) */
    topic_ident_t tn;
    mg_log_t *log;
    struct send_ctx *inflight; /* SENDs storage has not reported back (producer.c) */
    mg_map_t producers;       /* name -> producer_t* */
    mg_map_t subs;            /* name -> subscription_t* */
    mg_map_t dedup;           /* producer name -> dedup_state_t* */
    uint64_t dedup_snapshot_id; /* entries < this are covered by the persisted snapshot */
    uint64_t entries_since_snapshot;
    size_t trim_nsegs;        /* the log's segment count when trim_at was set */
    uint64_t trim_at;         /* look for consumed segments to trim once an ack floor is here */
    int nconsumers;
    bool terminated;
    bool closing;
    bool storage_failed;      /* a write or sync failed: unloaded soon, recovered on reload */
    producer_t *exclusive;    /* producer holding Exclusive/WaitForExclusive access */
    uint64_t topic_epoch;
    struct waiting_producer { producer_t *p; } *waiting; /* WaitForExclusive queue */
    int nwaiting, capwaiting;
    /* statistics */
    uint64_t msg_in, bytes_in, msg_out, bytes_out;
    uint64_t last_msg_in, last_bytes_in, last_msg_out, last_bytes_out;
    double rate_in, tput_in, rate_out, tput_out;
    mg_lat_hist_t write_lat;   /* pulsar_storage_write_latency_* */
    uint64_t last_publish_ms;
    uint64_t created_ms;
};

struct conn {
    broker_t *b;
    uint64_t id;              /* unique for the broker's life; completions find us by it */
    int fd;
    char addr[64];
    mg_buf_t in, out;
    /* Zero-copy output: stored entries queued by reference between the bytes of `out`.
     * refs[i].pos is the absolute count of `out` bytes after which entry i goes; out_base is
     * the absolute count of `out` bytes already written; ref_off is how much of the first
     * queued entry is written. */
    struct out_ref {
        uint64_t pos;
        mg_entry_t *e;
        struct mg_segfile *sf; /* large stored entry: sendfile from here, else from e->data */
        uint64_t foff;
    } *refs;
    size_t nrefs, caprefs, ref_head;
    uint64_t out_base;
    uint32_t ref_off;
    uint64_t ref_bytes;        /* entry bytes queued and not yet written */
    bool connected;           /* CONNECT received */
    bool closing;
    bool want_write;
    bool output_blocked;       /* a consumer was skipped because the output was full */
    bool read_paused;         /* back-pressure: too many pending publishes */
    bool input_waiting;       /* resumed with frames still buffered in `in` */
    int protocol_version;
    char *client_version;
    char *role;               /* authenticated role (auth.h); NULL without authentication */
    struct ssl_st *ssl;        /* TLS (tls.c), NULL on the plain port */
    bool tls_ready;            /* its handshake is done */
    bool tls_read_pending;     /* decrypted input left in the TLS layer while reading paused */
    int64_t auth_exp_s;        /* the token's expiry (epoch s), 0 = none (auth.h) */
    bool auth_refresh;         /* the client announced supports_auth_refresh */
    uint64_t challenged_ms;    /* when an AUTH_CHALLENGE went out unanswered, 0 = none */
    mg_map_t producers;       /* u64 id -> producer_t* */
    mg_map_t consumers;       /* u64 id -> consumer_t* */
    uint64_t pending_publish;
    uint64_t discard;          /* bytes of an oversized frame still to skip */
    /* A large frame's payload is read straight into an entry (conn.c, rx_direct_start): the
     * frame's size words and command stay at the head of `in`, the payload goes to rx_entry
     * (rx_have bytes of it so far), so a SEND's bytes are stored without being copied. */
    mg_entry_t *rx_entry;
    uint32_t rx_have;
    mg_entry_t *rx_frame_entry; /* while its frame is handled: the entry holding the payload */
    uint64_t last_rx_ms;
    bool ping_outstanding;
    uint64_t connected_since_ms;
    conn_t *next, *prev;
    conn_t *next_flush;
    bool in_flush_list;
};

struct broker {
    mg_config_t *cfg;
    mg_loop_t *loop;
    mg_arena_t arena;          /* loop thread: decoded commands, released after each frame */
    uint64_t rx_direct_bytes;  /* sizes of the entries being read into (conn_t.rx_entry) */
    mg_pool_t send_pool;       /* loop thread: in-flight SEND contexts (producer.c) */
    mg_pool_t pend_pool;       /* loop thread: pending_entry_t of every subscription */
    mg_store_t *store;
    mg_meta_t *meta;
    int listen_fd;
    int port;                  /* actual bound port */
    int web_port;
    int listen_fd_tls;         /* brokerServicePortTls listener, -1 = none */
    int port_tls;              /* its actual port, -1 = off */
    int web_port_tls;          /* webServicePortTls's actual port (admin.c), -1 = off */
    struct ssl_ctx_st *tls_ctx; /* server TLS context of the binary protocol (tls.c), NULL = off */
    char service_url_tls[300]; /* pulsar+ssl://host:port, "" = off */
    char web_url_tls[300];     /* https://host:port, "" = off (admin.c) */
    mg_map_t topics;           /* name -> topic_t* */
    conn_t *conns;
    int nconns;
    mg_map_t conn_by_id;       /* u64 id -> conn_t*, open connections */
    uint64_t next_conn_id;
    conn_t *flush_list;
    conn_t *dead_conns;        /* closed, freed before the loop sleeps */
    subscription_t *dirty_subs;
    subscription_t *dispatch_list; /* subscriptions to dispatch before the loop sleeps */
    uint64_t producer_seq;     /* for broker-assigned producer names */
    uint64_t start_ms;
    char service_url[300];
    char web_url[300];
    mg_map_t ns_cache;         /* "tenant/ns" -> ns_policies_t* (loaded on demand) */
    void *admin;               /* admin HTTP server (admin/http.h) */
    struct mg_auth *auth;      /* token verifier (auth.h); NULL: authenticationEnabled=false */
    uint64_t total_msg_in, total_bytes_in, total_msg_out, total_bytes_out;
    bool stopping;
    bool unload_failed_posted; /* a task to unload topics whose storage failed is queued */
    /* metadata syncer thread: makes cursor writes durable off the loop thread */
    pthread_t meta_syncer;
    bool meta_syncer_started;
    pthread_mutex_t meta_sync_mu;
    pthread_cond_t meta_sync_cv;
    bool meta_dirty, meta_sync_stop; /* under meta_sync_mu */
};

/* conn.c: token expiry (authenticationRefreshCheckSeconds): challenge or close the
 * connections whose token has expired */
void conn_check_auth_expiry(broker_t *b);

/* broker.c */
broker_t *broker_new(mg_config_t *cfg, char *err, size_t errlen);
int broker_run(broker_t *b);
void broker_free(broker_t *b);
void broker_request_stop(broker_t *b);

/* conn.c */
void conn_accept(broker_t *b);
void conn_accept_tls(broker_t *b); /* on brokerServicePortTls */
int conn_send_cmd(conn_t *c, const pb_cmd_t *cmd);
int conn_send_payload(conn_t *c, const pb_cmd_t *cmd, const uint8_t *p, size_t n);
/* A payload frame whose payload is a stored entry, sent from the entry itself (no copy). */
/* Queue a command followed by a stored entry, by reference. With log, a large entry that
 * storage has written is sent with sendfile from its segment (no copy through user space). */
int conn_send_entry(conn_t *c, const pb_cmd_t *cmd, mg_entry_t *e, struct mg_log *log);
void conn_send_error(conn_t *c, uint64_t request_id, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void conn_send_success(conn_t *c, uint64_t request_id);
void conn_close(conn_t *c, const char *why);
void conn_flush_all(broker_t *b);
bool conn_output_full(const conn_t *c);
void conn_resume_read(conn_t *c);
conn_t *conn_find(broker_t *b, uint64_t id); /* NULL once closed */

/* topic.c */
/* Find or load a topic; create=false refuses to create a missing one. NULL + err/code. */
topic_t *topic_get(broker_t *b, const char *name, bool create, int *err_code, char *err,
                   size_t errlen);
void topic_close(topic_t *t, bool delete_data);
/* The full parsed name of a loaded topic (for APIs that take an mg_topic_name_t). */
void topic_name_of(const topic_t *t, mg_topic_name_t *out);
int topic_partitions(broker_t *b, const char *base_name);     /* -1 when not partitioned */
int topic_set_partitions(broker_t *b, const char *base_name, int n);
bool topic_exists(broker_t *b, const mg_topic_name_t *tn);
const ns_policies_t *ns_policies(broker_t *b, const char *tenant, const char *ns);
void ns_policies_invalidate(broker_t *b, const char *tenant, const char *ns);
bool namespace_exists(broker_t *b, const char *tenant, const char *ns);
bool topic_dedup_enabled(topic_t *t);
uint64_t topic_backlog_bytes(topic_t *t);

/* producer.c */
void handle_producer(conn_t *c, Pulsar__Proto__CommandProducer *cmd);
void handle_send(conn_t *c, Pulsar__Proto__CommandSend *cmd, const uint8_t *payload, size_t len);
void handle_close_producer(conn_t *c, Pulsar__Proto__CommandCloseProducer *cmd);
void producer_close(producer_t *p, bool notify_client);
void dedup_recover(topic_t *t);
void dedup_snapshot(topic_t *t);

/* subscription.c */
void handle_subscribe(conn_t *c, Pulsar__Proto__CommandSubscribe *cmd);
void handle_flow(conn_t *c, Pulsar__Proto__CommandFlow *cmd);
void handle_ack(conn_t *c, Pulsar__Proto__CommandAck *cmd);
void handle_redeliver(conn_t *c, Pulsar__Proto__CommandRedeliverUnacknowledgedMessages *cmd);
void handle_unsubscribe(conn_t *c, Pulsar__Proto__CommandUnsubscribe *cmd);
void handle_close_consumer(conn_t *c, Pulsar__Proto__CommandCloseConsumer *cmd);
void handle_seek(conn_t *c, Pulsar__Proto__CommandSeek *cmd);
void handle_get_last_message_id(conn_t *c, Pulsar__Proto__CommandGetLastMessageId *cmd);
void handle_consumer_stats(conn_t *c, Pulsar__Proto__CommandConsumerStats *cmd);
void consumer_close(consumer_t *cs, bool notify_client);
subscription_t *sub_get_or_create(topic_t *t, const char *name, int type, bool durable,
                                  uint64_t start_id);
void sub_delete(subscription_t *s);
void sub_free(subscription_t *s);
void sub_persist(subscription_t *s);
void sub_load_all(topic_t *t);
uint64_t sub_backlog(const subscription_t *s);
void sub_reset_to(subscription_t *s, uint64_t id);
void sub_mark_dirty(subscription_t *s);
/* Expire: acknowledge every entry < before_id (TTL, expireMessages), counted in msg_expired. */
void sub_expire_before(subscription_t *s, uint64_t before_id);
/* Pulsar's name of a subscription type ("Exclusive", ..., "Key_Shared"). */
const char *sub_type_name(int type);
void subs_flush_dirty(broker_t *b);

/* policies.c: retention, TTL, backlog quota */
bool quota_blocks_publish(topic_t *t, int *code, char *err, size_t errlen);
void policies_enforce_all(broker_t *b);
/* Trim consumed segments as Pulsar trims consumed ledgers: when the log has rolled to a new
 * segment, and when a subscription's ack floor (floor) reaches the end of the oldest one. Cheap
 * when neither happened; call after appends complete (floor 0) and after acks. */
void topic_trim_check(topic_t *t, uint64_t floor);

/* schema_wire.c */
/* Register or look up the producer's schema; fills the 8-byte version. 0, or -1 with code. */
int schema_on_producer(topic_t *t, Pulsar__Proto__Schema *schema, uint8_t *ver, size_t *ver_len,
                       int *code, char *err, size_t errlen);
int schema_on_subscribe(topic_t *t, Pulsar__Proto__Schema *schema, int *code, char *err,
                        size_t errlen);
void handle_get_schema(conn_t *c, Pulsar__Proto__CommandGetSchema *cmd);
void handle_get_or_create_schema(conn_t *c, Pulsar__Proto__CommandGetOrCreateSchema *cmd);

/* dispatch.c */
void dispatch_schedule(subscription_t *s);
void dispatch_topic(topic_t *t);            /* new entries are durable */
void dispatch_run(subscription_t *s);
void dispatch_unschedule(subscription_t *s);
void dispatch_pending(broker_t *b);      /* before the loop sleeps */
int entry_info(mg_entry_t *e);              /* parse metadata into e's info fields; 0 or -1 */
int topic_read_entry(topic_t *t, uint64_t id, mg_entry_t **out);
/* First entry id whose publish time is >= ts_ms (binary search: publish times rise with ids);
 * the end id when there is none. */
uint64_t topic_find_by_time(topic_t *t, uint64_t ts_ms);

#endif
