/* magnetar.h - libmagnetar, the C client library for Magnetar and Apache Pulsar brokers.
 *
 * One public header; every handle is opaque and every name starts with mg_.
 *
 * Threading contract
 *   - Every function is thread-safe: a client owns one internal I/O thread (poll loop) and one
 *     maintenance thread (lookups, reconnects, dead-letter publishing); public calls take the
 *     client lock, queue work and wait on a condition variable with a timeout.
 *   - Callbacks (mg_send_cb, mg_consumer_conf_t.listener) run on the client's I/O thread, never
 *     with a library lock held. They may call any mg_ function except the blocking ones on the
 *     same client (mg_producer_send, mg_producer_flush, mg_consumer_receive, *_close), which would
 *     stall the I/O thread until their timeout.
 *   - Ownership: a function that hands out a handle (out parameter) transfers it to the caller,
 *     who frees it with the matching _free/_close. Borrowed pointers (const char * getters,
 *     the message id given to a send callback) are valid until the owning object is freed.
 *
 * Errors: every call returns mg_result (MG_OK == 0, errors < 0); mg_strerror() names them.
 * A closed handle gives MG_ERR_ALREADY_CLOSED, never a crash. mg_client_close() closes and frees
 * every producer, consumer and reader still open on the client (their handles become invalid);
 * messages and message ids stay valid until freed.
 */
#ifndef MAGNETAR_H
#define MAGNETAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors -------------------------------------------------------------------------------- */
typedef enum mg_result {
    MG_OK = 0,
    MG_ERR_INVALID_ARG = -1,        /* NULL handle, bad option value */
    MG_ERR_INVALID_URL = -2,        /* service URL is not pulsar[+ssl]://host[:port][,host...] */
    MG_ERR_INVALID_TOPIC = -3,      /* topic name rejected locally or by the broker */
    MG_ERR_CONNECT = -4,            /* could not connect, or the connection broke */
    MG_ERR_TIMEOUT = -5,            /* operation or send timeout */
    MG_ERR_ALREADY_CLOSED = -6,     /* the handle (or its client) was closed */
    MG_ERR_NO_MEMORY = -7,
    MG_ERR_BROKER = -8,             /* the broker answered with an error not listed below */
    MG_ERR_TOPIC_NOT_FOUND = -9,
    MG_ERR_SUBSCRIPTION_NOT_FOUND = -10,
    MG_ERR_PRODUCER_BUSY = -11,
    MG_ERR_CONSUMER_BUSY = -12,
    MG_ERR_QUEUE_FULL = -13,        /* max pending messages reached and block_if_queue_full off */
    MG_ERR_MESSAGE_TOO_BIG = -14,   /* over the broker's max message size and chunking off */
    MG_ERR_LOOKUP = -15,            /* lookup failed or redirected too often */
    MG_ERR_PROTOCOL = -16,          /* malformed frame or unexpected answer */
    MG_ERR_COMPRESSION = -17,       /* codec failure or corrupt compressed payload */
    MG_ERR_NOT_SUPPORTED = -18,
    MG_ERR_AUTH = -19,              /* authentication / authorization refused */
    MG_ERR_NOT_ALLOWED = -20,
    MG_ERR_CHECKSUM = -21,
    MG_ERR_INCOMPATIBLE_SCHEMA = -22,
    MG_ERR_PRODUCER_FENCED = -23,
    MG_ERR_SERVICE_NOT_READY = -24,
    MG_ERR_TOPIC_TERMINATED = -25,
} mg_result;

/* Static, human-readable text for a result ("Timeout", ...); never NULL. */
const char *mg_strerror(mg_result r);
/* Library version string, e.g. "0.1.0". */
const char *mg_version(void);

/* ---- handles ------------------------------------------------------------------------------- */
typedef struct mg_client mg_client_t;
typedef struct mg_producer mg_producer_t;
typedef struct mg_consumer mg_consumer_t;
typedef struct mg_reader mg_reader_t;
typedef struct mg_message mg_message_t;
typedef struct mg_message_id mg_message_id_t;

/* ---- message ids --------------------------------------------------------------------------- */
/* (ledger, entry, partition, batch_index) as Pulsar; partition and batch_index -1 when none. */
mg_message_id_t *mg_message_id_create(int64_t ledger, int64_t entry, int32_t partition,
                                      int32_t batch_index);
mg_message_id_t *mg_message_id_earliest(void); /* (-1,-1): start of the topic */
mg_message_id_t *mg_message_id_latest(void);   /* (INT64_MAX,INT64_MAX): after the last one */
mg_message_id_t *mg_message_id_dup(const mg_message_id_t *id);
void mg_message_id_free(mg_message_id_t *id);
int64_t mg_message_id_ledger(const mg_message_id_t *id);
int64_t mg_message_id_entry(const mg_message_id_t *id);
int32_t mg_message_id_partition(const mg_message_id_t *id);
int32_t mg_message_id_batch_index(const mg_message_id_t *id);
/* <0, 0, >0 as Pulsar orders ids (ledger, entry, batch index; partition ignored). */
int mg_message_id_compare(const mg_message_id_t *a, const mg_message_id_t *b);
/* "(ledger,entry,partition,batch)" as Pulsar's C++ client prints it; returns out. */
char *mg_message_id_str(const mg_message_id_t *id, char *out, size_t outlen);
/* Serialize to Pulsar's MessageIdData protobuf bytes (interchangeable with other clients).
 * *out is malloc'ed; free with free(). */
mg_result mg_message_id_serialize(const mg_message_id_t *id, uint8_t **out, size_t *len);
mg_result mg_message_id_deserialize(const uint8_t *p, size_t len, mg_message_id_t **out);

/* ---- messages ------------------------------------------------------------------------------ */
/* Build a message to send; the payload is copied. */
mg_message_t *mg_message_new(const void *data, size_t len);
void mg_message_free(mg_message_t *m);
mg_result mg_message_set_key(mg_message_t *m, const char *key);
mg_result mg_message_set_ordering_key(mg_message_t *m, const void *key, size_t len);
mg_result mg_message_set_property(mg_message_t *m, const char *name, const char *value);
mg_result mg_message_set_event_time(mg_message_t *m, uint64_t ms);
mg_result mg_message_set_deliver_after(mg_message_t *m, uint64_t delay_ms);
mg_result mg_message_set_deliver_at(mg_message_t *m, uint64_t epoch_ms);
mg_result mg_message_set_sequence_id(mg_message_t *m, int64_t seq);
/* Accessors (for received messages; data/key valid until mg_message_free). */
const void *mg_message_data(const mg_message_t *m);
size_t mg_message_len(const mg_message_t *m);
const char *mg_message_key(const mg_message_t *m);          /* NULL when none */
const void *mg_message_ordering_key(const mg_message_t *m, size_t *len);
const char *mg_message_property(const mg_message_t *m, const char *name); /* NULL when none */
size_t mg_message_property_count(const mg_message_t *m);
/* i-th property; false when i is out of range. */
bool mg_message_property_at(const mg_message_t *m, size_t i, const char **name, const char **value);
const mg_message_id_t *mg_message_get_id(const mg_message_t *m);
uint64_t mg_message_publish_time(const mg_message_t *m);
uint64_t mg_message_event_time(const mg_message_t *m);
uint32_t mg_message_redelivery_count(const mg_message_t *m);
int64_t mg_message_sequence_id(const mg_message_t *m);
const char *mg_message_topic(const mg_message_t *m);
const char *mg_message_producer_name(const mg_message_t *m);

/* ---- client -------------------------------------------------------------------------------- */
typedef struct mg_client_conf {
    int operation_timeout_ms;     /* lookups, producer/consumer creation, acks with receipt; 30000 */
    int connection_timeout_ms;    /* TCP connect + handshake; 10000 */
    int keep_alive_interval_s;    /* PING when quiet; close after 2 intervals silent; 30 */
    int initial_backoff_ms;       /* reconnect backoff, doubling up to max; 100 */
    int max_backoff_ms;           /* 60000 */
    int max_lookup_redirects;     /* 20 */
    /* Authentication, sent in CONNECT: for a token, auth_method "token" and auth_data the JWT's
     * bytes (Pulsar's AuthenticationToken). Copied by mg_client_create. A broker that refuses
     * them makes anything that connects fail with MG_ERR_AUTH (reason: mg_last_error_message). */
    const char *auth_method;      /* NULL: none */
    const void *auth_data;
    size_t auth_data_len;
    /* TLS, used when the service URL is pulsar+ssl://host:port (Pulsar's client options; read by
     * mg_client_create, which loads the files then: a file it cannot load fails the call with
     * MG_ERR_INVALID_ARG, the reason in mg_last_error_message). A failed handshake or
     * verification makes anything that connects fail with MG_ERR_CONNECT, reason likewise. */
    const char *tls_trust_certs_file_path; /* PEM CA certificates; NULL: the system's default CAs */
    bool tls_allow_insecure_connection;    /* accept any server certificate (no verification) */
    bool tls_validate_hostname;            /* also check the certificate names the host; false */
    const char *tls_cert_file_path;        /* client certificate (PEM) for mTLS, Pulsar's */
    const char *tls_key_file_path;         /* AuthenticationTls; both or neither; NULL: none */
    /* A file holding the token (Pulsar's AuthenticationToken with "file:"): read again at every
     * CONNECT and every AUTH_CHALLENGE, so a token rotated in the file keeps the connections up
     * when the old one expires. Implies auth_method "token"; auth_data is then ignored. */
    const char *auth_token_file;
} mg_client_conf_t;
void mg_client_conf_init(mg_client_conf_t *c);

/* url: "pulsar://host1:6650,host2:6650" (port defaults to 6650), or "pulsar+ssl://host:6651"
 * for TLS (port defaults to 6651; lookups then follow the broker's TLS URL). conf may be NULL. */
mg_result mg_client_create(const char *url, const mg_client_conf_t *conf, mg_client_t **out);
/* Close every producer/consumer/reader on it, the connections and the threads; free it. */
mg_result mg_client_close(mg_client_t *c);
/* Number of partitions of a topic (0 for a non-partitioned topic). */
mg_result mg_client_get_partitions(mg_client_t *c, const char *topic, int *n);

/* ---- producer ------------------------------------------------------------------------------ */
typedef enum mg_compression {
    MG_COMPRESSION_NONE = 0, MG_COMPRESSION_LZ4 = 1, MG_COMPRESSION_ZLIB = 2,
    MG_COMPRESSION_ZSTD = 3, MG_COMPRESSION_SNAPPY = 4
} mg_compression;
typedef enum mg_routing_mode {
    MG_ROUTING_ROUND_ROBIN = 0,  /* keyless messages spread over partitions, keyed ones hashed */
    MG_ROUTING_SINGLE = 1,       /* keyless messages to one random partition, keyed ones hashed */
    MG_ROUTING_CUSTOM = 2        /* conf.router decides */
} mg_routing_mode;
/* Custom router: return a partition in [0, n). Called on the caller's thread. */
typedef int (*mg_router_fn)(const mg_message_t *m, int n, void *ctx);

typedef struct mg_producer_conf {
    const char *name;                 /* NULL: the broker assigns one */
    int64_t initial_sequence_id;      /* -1: continue from the broker's last (or 0) */
    const char *const *properties;    /* NULL or {"k","v",...,NULL} */
    int send_timeout_ms;              /* 30000; 0 = none */
    int max_pending_messages;         /* 1000 */
    bool block_if_queue_full;         /* false: MG_ERR_QUEUE_FULL */
    bool batching_enabled;            /* true */
    int batching_max_messages;        /* 1000 */
    size_t batching_max_bytes;        /* 128 KB */
    int batching_max_delay_ms;        /* 10 */
    bool key_based_batching;          /* one batch per key (for Key_Shared consumers) */
    mg_compression compression;
    bool chunking_enabled;            /* split messages over max_message_size (needs no batching) */
    int chunk_max_size;               /* 0: the broker's max message size */
    mg_routing_mode routing_mode;
    mg_router_fn router;
    void *router_ctx;
} mg_producer_conf_t;
void mg_producer_conf_init(mg_producer_conf_t *c);

/* Create a producer; for a partitioned topic, one producer per partition behind one handle. */
mg_result mg_producer_create(mg_client_t *c, const char *topic, const mg_producer_conf_t *conf,
                             mg_producer_t **out);
/* Send and wait for the receipt. The message stays owned by the caller. id may be NULL;
 * else *id receives a new id to free. */
mg_result mg_producer_send(mg_producer_t *p, const mg_message_t *m, mg_message_id_t **id);
/* Result callback: id is borrowed (valid during the call; dup it to keep), NULL on error.
 * Runs on the I/O thread, or on the caller's thread when the send fails immediately. */
typedef void (*mg_send_cb)(mg_result r, const mg_message_id_t *id, void *ctx);
/* Queue a message. Returns MG_OK when queued (cb then reports the outcome), or an error
 * (cb is then not called). */
mg_result mg_producer_send_async(mg_producer_t *p, const mg_message_t *m, mg_send_cb cb, void *ctx);
/* Send any open batch and wait until every queued message has its receipt (or failed). */
mg_result mg_producer_flush(mg_producer_t *p);
/* Flush, close on the broker, free the handle. */
mg_result mg_producer_close(mg_producer_t *p);
const char *mg_producer_name(const mg_producer_t *p);
const char *mg_producer_topic(const mg_producer_t *p);
int64_t mg_producer_last_sequence_id(const mg_producer_t *p);

/* ---- consumer ------------------------------------------------------------------------------ */
typedef enum mg_sub_type {
    MG_SUB_EXCLUSIVE = 0, MG_SUB_SHARED = 1, MG_SUB_FAILOVER = 2, MG_SUB_KEY_SHARED = 3
} mg_sub_type;
typedef enum mg_initial_position { MG_POS_LATEST = 0, MG_POS_EARLIEST = 1 } mg_initial_position;
typedef void (*mg_message_listener)(mg_consumer_t *c, mg_message_t *m, void *ctx);

typedef struct mg_consumer_conf {
    mg_sub_type type;
    mg_initial_position initial_position;
    const char *consumer_name;             /* NULL: random */
    int receiver_queue_size;               /* 1000 */
    int ack_timeout_ms;                    /* 0 = off; else unacked messages redelivered */
    int nack_redelivery_delay_ms;          /* 60000 */
    bool batch_index_ack_enabled;          /* ack single messages of a batch on the broker */
    /* batch receive policy */
    int batch_max_messages;                /* 100 */
    size_t batch_max_bytes;                /* 10 MB */
    int batch_timeout_ms;                  /* 100 */
    /* dead letter policy: off when max_redeliver_count is 0 */
    int max_redeliver_count;
    const char *dead_letter_topic;         /* NULL: <topic>-<subscription>-DLQ */
    const char *retry_letter_topic;        /* NULL: <topic>-<subscription>-RETRY */
    bool retry_enable;                     /* subscribe to the retry topic as well */
    int pattern_refresh_s;                 /* regex consumers: rediscovery period; 60 */
    /* Optional listener: messages are pushed to it (on the I/O thread) instead of receive(). */
    mg_message_listener listener;
    void *listener_ctx;
} mg_consumer_conf_t;
void mg_consumer_conf_init(mg_consumer_conf_t *c);

mg_result mg_consumer_subscribe(mg_client_t *c, const char *topic, const char *subscription,
                                const mg_consumer_conf_t *conf, mg_consumer_t **out);
mg_result mg_consumer_subscribe_multi(mg_client_t *c, const char *const *topics, size_t n,
                                      const char *subscription, const mg_consumer_conf_t *conf,
                                      mg_consumer_t **out);
/* pattern: "persistent://tenant/ns/regex" (POSIX extended regex over full topic names). */
mg_result mg_consumer_subscribe_pattern(mg_client_t *c, const char *pattern,
                                        const char *subscription, const mg_consumer_conf_t *conf,
                                        mg_consumer_t **out);
/* Wait up to timeout_ms (-1 forever, 0 poll) for a message; MG_ERR_TIMEOUT when none. */
mg_result mg_consumer_receive(mg_consumer_t *c, mg_message_t **out, int timeout_ms);
/* Batch receive per the conf's policy: returns when max messages / bytes are reached or the
 * batch timeout passes (possibly with 0 messages). *msgs is malloc'ed: free with
 * mg_messages_free. */
mg_result mg_consumer_batch_receive(mg_consumer_t *c, mg_message_t ***msgs, size_t *n);
void mg_messages_free(mg_message_t **msgs, size_t n);
mg_result mg_consumer_ack(mg_consumer_t *c, const mg_message_t *m);
mg_result mg_consumer_ack_id(mg_consumer_t *c, const mg_message_id_t *id);
mg_result mg_consumer_ack_cumulative(mg_consumer_t *c, const mg_message_t *m);
/* Negative ack: redelivered after nack_redelivery_delay_ms (or sent to the DLQ). */
mg_result mg_consumer_nack(mg_consumer_t *c, const mg_message_t *m);
/* Publish to the retry-letter topic with delivery after delay_ms and ack the original. */
mg_result mg_consumer_reconsume_later(mg_consumer_t *c, const mg_message_t *m, uint64_t delay_ms);
mg_result mg_consumer_redeliver_unacked(mg_consumer_t *c);
/* Seek the subscription; next receive starts at the id (inclusive) / first message >= time. */
mg_result mg_consumer_seek(mg_consumer_t *c, const mg_message_id_t *id);
mg_result mg_consumer_seek_time(mg_consumer_t *c, uint64_t publish_time_ms);
mg_result mg_consumer_get_last_message_id(mg_consumer_t *c, mg_message_id_t **id);
mg_result mg_consumer_unsubscribe(mg_consumer_t *c); /* also closes and frees the handle */
mg_result mg_consumer_close(mg_consumer_t *c);
const char *mg_consumer_topic(const mg_consumer_t *c);
const char *mg_consumer_subscription(const mg_consumer_t *c);
/* Number of topics (partitions count one each) a multi/pattern consumer is attached to. */
size_t mg_consumer_topic_count(const mg_consumer_t *c);

/* ---- reader -------------------------------------------------------------------------------- */
typedef struct mg_reader_conf {
    int receiver_queue_size;     /* 1000 */
    const char *reader_name;     /* NULL: random */
    bool start_inclusive;        /* include the start id itself */
} mg_reader_conf_t;
void mg_reader_conf_init(mg_reader_conf_t *c);
/* start: an id, mg_message_id_earliest() or mg_message_id_latest() (borrowed). */
mg_result mg_reader_create(mg_client_t *c, const char *topic, const mg_message_id_t *start,
                           const mg_reader_conf_t *conf, mg_reader_t **out);
mg_result mg_reader_read_next(mg_reader_t *r, mg_message_t **out, int timeout_ms);
mg_result mg_reader_has_message_available(mg_reader_t *r, bool *avail);
/* After seek(id) the next message is the one after id (as Pulsar readers). */
mg_result mg_reader_seek(mg_reader_t *r, const mg_message_id_t *id);
mg_result mg_reader_seek_time(mg_reader_t *r, uint64_t publish_time_ms);
mg_result mg_reader_close(mg_reader_t *r);

/* ==== Schemas =================================================================================
 * A schema declared on a producer is registered with the broker's schema registry in PRODUCER
 * (the broker answers with the registered version, or refuses with MG_ERR_INCOMPATIBLE_SCHEMA);
 * a consumer's or reader's schema is checked in SUBSCRIBE. Payloads stay bytes: these helpers
 * encode and decode them the way Pulsar's clients do, nothing is converted behind your back.
 *
 * Ownership: a producer/consumer/reader copies the schema it is given; free yours with
 * mg_schema_free whenever you like. A schema not being modified may be shared by threads.
 */
typedef struct mg_schema mg_schema_t;
struct avro_value; /* avro-c's avro_value_t (include <avro.h> to use the Avro helpers) */

/* Pulsar's Schema.Type numbers, as they travel in the protocol. */
typedef enum mg_schema_type {
    MG_SCHEMA_BYTES = 0, /* "None": raw bytes; a producer with it sends no schema, as Pulsar's */
    MG_SCHEMA_STRING = 1,
    MG_SCHEMA_JSON = 2,
    MG_SCHEMA_PROTOBUF = 3,
    MG_SCHEMA_AVRO = 4,
    MG_SCHEMA_BOOL = 5,
    MG_SCHEMA_INT8 = 6,
    MG_SCHEMA_INT16 = 7,
    MG_SCHEMA_INT32 = 8,
    MG_SCHEMA_INT64 = 9,
    MG_SCHEMA_FLOAT = 10,
    MG_SCHEMA_DOUBLE = 11,
    MG_SCHEMA_DATE = 12,
    MG_SCHEMA_TIME = 13,
    MG_SCHEMA_TIMESTAMP = 14,
    MG_SCHEMA_KEY_VALUE = 15,
    MG_SCHEMA_INSTANT = 16,
    MG_SCHEMA_LOCAL_DATE = 17,
    MG_SCHEMA_LOCAL_TIME = 18,
    MG_SCHEMA_LOCAL_DATE_TIME = 19,
    MG_SCHEMA_PROTOBUF_NATIVE = 20
} mg_schema_type;

/* Constructors. *out is a new schema to free with mg_schema_free.
 * avro / json: the definition is an Avro schema in JSON form (what Pulsar's clients send for
 *   both); avro is checked locally with avro-c (MG_ERR_INVALID_ARG when it does not parse).
 *   A JSON-schema payload is the JSON text itself; there are no JSON helpers beyond this.
 * primitive: STRING, BOOL, INT8..INT64, FLOAT, DOUBLE, DATE..LOCAL_DATE_TIME, BYTES (empty data).
 * create: any type with raw schema data (PROTOBUF, PROTOBUF_NATIVE, KEY_VALUE...), copied.
 * The schema name defaults to the type's name ("AVRO", "JSON", "STRING"...), as the official
 * Python/C++ clients send it; the broker does not use it. */
mg_result mg_schema_avro(const char *json, mg_schema_t **out);
mg_result mg_schema_json(const char *json, mg_schema_t **out);
mg_result mg_schema_primitive(mg_schema_type type, mg_schema_t **out);
mg_result mg_schema_create(mg_schema_type type, const void *data, size_t len, mg_schema_t **out);
void mg_schema_free(mg_schema_t *s);
/* Name and properties (Schema.name / Schema.properties on the wire); copied. */
mg_result mg_schema_set_name(mg_schema_t *s, const char *name);
mg_result mg_schema_set_property(mg_schema_t *s, const char *name, const char *value);
mg_schema_type mg_schema_get_type(const mg_schema_t *s);
const char *mg_schema_get_name(const mg_schema_t *s);
/* Schema data (the Avro JSON for AVRO/JSON; empty for primitives), borrowed. */
const void *mg_schema_get_data(const mg_schema_t *s, size_t *len);
const char *mg_schema_get_property(const mg_schema_t *s, const char *name); /* NULL when none */

/* Create a producer / consumer / reader that declares a schema (schema may be NULL: none).
 * Same as mg_producer_create, mg_consumer_subscribe, mg_reader_create otherwise. A refused
 * schema gives MG_ERR_INCOMPATIBLE_SCHEMA and mg_last_error_message() holds the broker's reason.
 * Partitioned topics: every partition declares it (they share one schema history). */
mg_result mg_producer_create_with_schema(mg_client_t *c, const char *topic,
                                         const mg_producer_conf_t *conf, const mg_schema_t *schema,
                                         mg_producer_t **out);
mg_result mg_consumer_subscribe_with_schema(mg_client_t *c, const char *topic,
                                            const char *subscription,
                                            const mg_consumer_conf_t *conf,
                                            const mg_schema_t *schema, mg_consumer_t **out);
mg_result mg_reader_create_with_schema(mg_client_t *c, const char *topic,
                                       const mg_message_id_t *start, const mg_reader_conf_t *conf,
                                       const mg_schema_t *schema, mg_reader_t **out);

/* The version the broker registered the producer's schema as (PRODUCER_SUCCESS.schema_version,
 * 8-byte big-endian), or -1 when the producer has no schema. Every message the producer sends
 * carries it in its metadata. */
int64_t mg_producer_schema_version(const mg_producer_t *p);
/* A received message's schema version, or -1 when it has none (or not 8 bytes long). */
int64_t mg_message_schema_version(const mg_message_t *m);
/* The raw schema_version bytes of a received message (NULL, *len 0 when none). */
const void *mg_message_schema_version_bytes(const mg_message_t *m, size_t *len);
/* Fetch a topic's schema (GET_SCHEMA): version -1 for the latest. MG_ERR_TOPIC_NOT_FOUND when
 * the topic has no schema (or not that version). *out: free with mg_schema_free. */
mg_result mg_client_get_schema(mg_client_t *c, const char *topic, int64_t version,
                               mg_schema_t **out);

/* The broker's error text for the last call on this thread that failed with a broker error
 * (e.g. the IncompatibleSchema reason), "" when that call got none. Thread-local; valid until
 * the next mg_ call on the same thread. Never NULL. */
const char *mg_last_error_message(void);

/* ---- primitive values, encoded exactly as Pulsar's schemas do ----
 * STRING: UTF-8 bytes, no terminator. BOOL: 1 byte, 1/0 (any non-zero reads as true).
 * INT8: 1 byte; INT16/INT32/INT64: 2/4/8 bytes big-endian two's complement.
 * FLOAT/DOUBLE: IEEE 754 bits, 4/8 bytes big-endian (FLOAT keeps NaN payloads as Java's
 * floatToRawIntBits; DOUBLE writes every NaN as 0x7ff8000000000000, as doubleToLongBits).
 * mg_encode_*: write into out (which holds the type's size), return the number of bytes.
 * mg_decode_*: MG_ERR_INVALID_ARG when len is not the type's size (Pulsar refuses those). */
size_t mg_encode_bool(bool v, uint8_t out[1]);
size_t mg_encode_int8(int8_t v, uint8_t out[1]);
size_t mg_encode_int16(int16_t v, uint8_t out[2]);
size_t mg_encode_int32(int32_t v, uint8_t out[4]);
size_t mg_encode_int64(int64_t v, uint8_t out[8]);
size_t mg_encode_float(float v, uint8_t out[4]);
size_t mg_encode_double(double v, uint8_t out[8]);
mg_result mg_decode_bool(const void *p, size_t len, bool *v);
mg_result mg_decode_int8(const void *p, size_t len, int8_t *v);
mg_result mg_decode_int16(const void *p, size_t len, int16_t *v);
mg_result mg_decode_int32(const void *p, size_t len, int32_t *v);
mg_result mg_decode_int64(const void *p, size_t len, int64_t *v);
mg_result mg_decode_float(const void *p, size_t len, float *v);
mg_result mg_decode_double(const void *p, size_t len, double *v);
/* New messages holding one encoded value (NULL when out of memory). */
mg_message_t *mg_message_new_string(const char *s);
mg_message_t *mg_message_new_bool(bool v);
mg_message_t *mg_message_new_int8(int8_t v);
mg_message_t *mg_message_new_int16(int16_t v);
mg_message_t *mg_message_new_int32(int32_t v);
mg_message_t *mg_message_new_int64(int64_t v);
mg_message_t *mg_message_new_float(float v);
mg_message_t *mg_message_new_double(double v);
/* Typed accessors of a message's payload (MG_ERR_INVALID_ARG on a size mismatch).
 * get_string: *out is a malloc'ed NUL-terminated copy (free with free()); the payload must
 * not contain NUL bytes. */
mg_result mg_message_get_string(const mg_message_t *m, char **out);
mg_result mg_message_get_bool(const mg_message_t *m, bool *v);
mg_result mg_message_get_int8(const mg_message_t *m, int8_t *v);
mg_result mg_message_get_int16(const mg_message_t *m, int16_t *v);
mg_result mg_message_get_int32(const mg_message_t *m, int32_t *v);
mg_result mg_message_get_int64(const mg_message_t *m, int64_t *v);
mg_result mg_message_get_float(const mg_message_t *m, float *v);
mg_result mg_message_get_double(const mg_message_t *m, double *v);

/* ---- Avro (thin helpers over avro-c; include <avro.h> first) ----
 * Payloads are Avro binary encoding of one datum (no container header), as Pulsar's AVRO schema.
 * value_new: a fresh generic value of an AVRO/JSON schema to fill with avro-c's setters
 *   (avro_value_get_by_name, avro_value_set_string...); release with avro_value_decref.
 * encode: *out is malloc'ed (free with free()).
 * decode: read data written with `writer` into a new generic value *out (release with
 *   avro_value_decref). With reader non-NULL the datum is resolved into the reader schema by
 *   avro-c's resolver (writer fields the reader lacks are skipped; note avro-c does not fill
 *   reader fields missing from the writer from their defaults: that fails with
 *   MG_ERR_INVALID_ARG). Get the writer schema of an older message with mg_client_get_schema
 *   and mg_message_schema_version. Errors: MG_ERR_INVALID_ARG (bad schema or datum; avro-c's
 *   avro_strerror() says why), MG_ERR_NO_MEMORY. */
mg_result mg_avro_value_new(const mg_schema_t *s, struct avro_value *out);
mg_result mg_avro_encode(const struct avro_value *v, uint8_t **out, size_t *len);
mg_result mg_avro_decode(const mg_schema_t *writer, const mg_schema_t *reader, const void *data,
                         size_t len, struct avro_value *out);
/* Convenience: a new message with the encoded value / decode a message's payload. */
mg_result mg_message_new_avro(const struct avro_value *v, mg_message_t **out);
mg_result mg_message_get_avro(const mg_message_t *m, const mg_schema_t *writer,
                              const mg_schema_t *reader, struct avro_value *out);

/* ---- AUTO_CONSUME, AUTO_PUBLISH and payload validation ----
 * Pulsar's SchemaType numbers of its two client-side pseudo schemas; they never travel as such. */
#define MG_SCHEMA_AUTO_CONSUME ((mg_schema_type)-3)
#define MG_SCHEMA_AUTO_PUBLISH ((mg_schema_type)-4)
/* AUTO_CONSUME (Pulsar's Schema.AUTO_CONSUME()): pass it to mg_consumer_subscribe_with_schema or
 *   mg_reader_create_with_schema. At creation the client fetches the topic's latest schema
 *   (GET_SCHEMA) and declares it in SUBSCRIBE, or declares none when the topic has no schema
 *   (or BYTES): what the Java client sends to a broker below protocol v21 (libmagnetar speaks
 *   v20). Each message is then read with its own writer schema: mg_message_writer_schema,
 *   mg_message_decode_auto. Refused by producers (MG_ERR_INVALID_ARG).
 * AUTO_PUBLISH (Pulsar's Schema.AUTO_PRODUCE_BYTES()): pass it to
 *   mg_producer_create_with_schema. At creation the client fetches the topic's latest schema and
 *   declares it in PRODUCER (the broker answers with that schema's version, put in every
 *   message); every payload given to mg_producer_send / _send_async is then checked with
 *   mg_schema_validate before it is queued: an invalid one fails with MG_ERR_INVALID_ARG and
 *   mg_last_error_message() says why. A topic without a schema: the producer is a plain BYTES
 *   producer (no schema, nothing checked). Refused by consumers and readers.
 * Both: free with mg_schema_free; mg_schema_get_type gives the values above. */
mg_result mg_schema_auto_consume(mg_schema_t **out);
mg_result mg_schema_auto_produce_bytes(mg_schema_t **out);

/* Check that data is a valid payload of schema s, as AUTO_PRODUCE_BYTES does:
 *   AVRO: exactly one Avro binary datum of the schema (walked without allocating: union and enum
 *     indexes in range, lengths within the data, booleans 0/1), nothing left over;
 *   JSON: one JSON text (RFC 8259), whitespace around it only;
 *   BOOL, INT8..INT64, FLOAT, DOUBLE, DATE, TIME, TIMESTAMP, LOCAL_DATE, LOCAL_TIME: the exact
 *     size (1, 1, 2, 4, 8, 4, 8, then 8 each); INSTANT 12 bytes, LOCAL_DATE_TIME 16 (Java's
 *     encodings);
 *   KEY_VALUE: INLINE payloads are split (mg_kv_decode) and both parts checked with the key and
 *     value schemas; SEPARATED payloads are the value alone;
 *   STRING, BYTES, PROTOBUF, PROTOBUF_NATIVE: anything (Pulsar does not check them either).
 * MG_OK, or MG_ERR_INVALID_ARG with the reason in mg_last_error_message(). */
mg_result mg_schema_validate(const mg_schema_t *s, const void *data, size_t len);

/* The schema a received message was written with (AUTO_CONSUME): GET_SCHEMA for the message's
 * topic and schema version, cached by the client per topic (partitions share one entry) and
 * version; a message without a version was written as BYTES (a BYTES schema is returned, no
 * request). The client c must be open. *out: free with mg_schema_free. Errors as
 * mg_client_get_schema; MG_ERR_INVALID_ARG for a message that was not received. */
mg_result mg_message_writer_schema(mg_client_t *c, const mg_message_t *m, mg_schema_t **out);

/* A message decoded with its writer schema (Pulsar's GenericRecord / GenericObject). */
typedef struct mg_auto_value {
    mg_schema_type type;      /* the writer schema's type */
    int64_t schema_version;   /* -1 when the message has none */
    mg_schema_t *schema;      /* the writer schema (owned) */
    struct avro_value *avro;  /* AVRO: the record, a generic avro-c value (owned) */
    char *text;               /* JSON, STRING: NUL-terminated copy of the payload (owned) */
    size_t text_len;
    bool b;                   /* BOOL */
    int64_t i;                /* INT8..INT64; DATE, TIME, TIMESTAMP (ms), LOCAL_DATE (epoch day),
                               * LOCAL_TIME (nanos of day) */
    double d;                 /* FLOAT, DOUBLE */
    const void *data;         /* every type: the payload, borrowed from the message */
    size_t len;
} mg_auto_value_t;
/* Fetch the writer schema (as mg_message_writer_schema) and decode the payload with it; the
 * payload is first checked with mg_schema_validate (MG_ERR_INVALID_ARG when it does not match).
 * KEY_VALUE, BYTES and the other types only fill data/len: split KEY_VALUE payloads with
 * mg_message_get_kv(m, mg_schema_kv_encoding(v.schema), ...). Release with mg_auto_value_clear
 * (also safe on a value whose decode failed). */
mg_result mg_message_decode_auto(mg_client_t *c, const mg_message_t *m, mg_auto_value_t *out);
void mg_auto_value_clear(mg_auto_value_t *v);

/* ---- KEY_VALUE (Pulsar's KeyValueSchema) ----
 * Schema data: [4-byte BE key schema length][key schema data][4-byte BE value length][value
 * schema data] (Java's KeyValue.encode of the two SchemaInfo's data); properties, as Java's
 * KeyValueSchemaInfo: key.schema.name, key.schema.type ("INT32", "AVRO"... Java's SchemaType
 * names), key.schema.properties (the key schema's properties as a JSON object, keys sorted,
 * Gson's escaping), the same three for value.schema.*, and kv.encoding.type ("INLINE" or
 * "SEPARATED"). The schema's name is "KeyValue".
 * Payloads: INLINE is [4-byte BE key length][key][4-byte BE value length][value], a length of
 * -1 meaning a null part; SEPARATED puts the value alone in the payload and the key in the
 * message key, base64 with partition_key_b64_encoded (as Java's keyBytes()). */
typedef enum mg_kv_encoding { MG_KV_INLINE = 0, MG_KV_SEPARATED = 1 } mg_kv_encoding;
/* key and value: any non-AUTO schemas (copied). *out: free with mg_schema_free. */
mg_result mg_schema_key_value(const mg_schema_t *key, const mg_schema_t *value,
                              mg_kv_encoding encoding, mg_schema_t **out);
/* The kv.encoding.type of a KEY_VALUE schema (INLINE when absent, as Java). */
mg_kv_encoding mg_schema_kv_encoding(const mg_schema_t *kv);
/* The key and value schemas of a KEY_VALUE schema (types, names and properties from the
 * key.schema.* / value.schema.* properties; a missing type is BYTES). Free both. */
mg_result mg_schema_kv_split(const mg_schema_t *kv, mg_schema_t **key, mg_schema_t **value);
/* INLINE payload of (key, value); a NULL part is written as null (-1). *out: free with free(). */
mg_result mg_kv_encode(const void *key, size_t klen, const void *value, size_t vlen,
                       uint8_t **out, size_t *len);
/* Split an INLINE payload: pointers into p (NULL for a null part). MG_ERR_INVALID_ARG when the
 * lengths do not fit or bytes are left over. */
mg_result mg_kv_decode(const void *p, size_t len, const void **key, size_t *klen,
                       const void **value, size_t *vlen);
/* A new message holding (key, value) in the given encoding (SEPARATED: key NULL = no key). */
mg_result mg_message_new_kv(const void *key, size_t klen, const void *value, size_t vlen,
                            mg_kv_encoding encoding, mg_message_t **out);
/* Read (key, value) from a message: *key and *value are malloc'ed copies (free with free()),
 * NULL for a null part (SEPARATED: NULL key when the message has none). */
mg_result mg_message_get_kv(const mg_message_t *m, mg_kv_encoding encoding, uint8_t **key,
                            size_t *klen, uint8_t **value, size_t *vlen);
/* Binary message keys (Java's keyBytes): set stores base64 and marks the key
 * partition_key_b64_encoded; mg_message_key then returns the base64 text. */
mg_result mg_message_set_key_bytes(mg_message_t *m, const void *key, size_t len);
bool mg_message_key_is_base64(const mg_message_t *m);
/* The key's bytes (base64-decoded when so marked); *out malloc'ed (free with free()), NULL and
 * *len 0 when the message has no key. */
mg_result mg_message_key_bytes(const mg_message_t *m, uint8_t **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
