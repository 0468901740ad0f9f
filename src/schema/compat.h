/* compat.h - schema validation and compatibility rules for the schema registry.
 *
 * What the registry asks before it stores a new schema version for a topic:
 *   schema_validate()      is this schema data acceptable at all for its type?
 *   schema_check_compat()  may it follow the versions already stored, under the topic's strategy?
 * and the building block both use for AVRO, JSON and PROTOBUF schemas (whose schema_data in
 * Pulsar is an Avro schema in JSON form):
 *   schema_avro_can_read() can data written with one Avro schema be read with another, following
 *                          the schema-resolution rules of the Avro 1.11 specification?
 *
 * Semantics follow Pulsar's SchemaRegistryServiceImpl and SchemaCompatibilityStrategy; see
 * docs/schema.md for the full description and the places where we deliberately differ.
 *
 * Threading: every function here is pure (no globals besides avro-c's thread-local error
 * string), so any thread may call them; nothing blocks except on CPU. A check on schemas near the
 * size limits takes milliseconds, so the broker should run it off the event loop if it cares.
 *
 * Reason buffers: every function that takes (reason, reason_len) writes a NUL-terminated,
 * human-readable explanation there when it returns 0 or -1 (truncated to fit), and leaves it
 * an empty string when it returns 1. reason may be NULL when reason_len is 0. */
#ifndef MG_SCHEMA_COMPAT_H
#define MG_SCHEMA_COMPAT_H

#include <stddef.h>
#include <stdint.h>

/* Pulsar's Schema.Type numbers (PulsarApi.proto; the same numbers as SchemaType in the Java
 * admin API, except that Java's BYTES(-1) travels as NONE(0) on the wire). */
enum {
    SCHEMA_TYPE_UNKNOWN = -1, /* only in schema_ref_t.key_type/value_type: infer from data */
    SCHEMA_TYPE_NONE = 0,     /* raw bytes */
    SCHEMA_TYPE_STRING = 1,
    SCHEMA_TYPE_JSON = 2,
    SCHEMA_TYPE_PROTOBUF = 3,
    SCHEMA_TYPE_AVRO = 4,
    SCHEMA_TYPE_BOOL = 5,
    SCHEMA_TYPE_INT8 = 6,
    SCHEMA_TYPE_INT16 = 7,
    SCHEMA_TYPE_INT32 = 8,
    SCHEMA_TYPE_INT64 = 9,
    SCHEMA_TYPE_FLOAT = 10,
    SCHEMA_TYPE_DOUBLE = 11,
    SCHEMA_TYPE_DATE = 12,
    SCHEMA_TYPE_TIME = 13,
    SCHEMA_TYPE_TIMESTAMP = 14,
    SCHEMA_TYPE_KEY_VALUE = 15,
    SCHEMA_TYPE_INSTANT = 16,
    SCHEMA_TYPE_LOCAL_DATE = 17,
    SCHEMA_TYPE_LOCAL_TIME = 18,
    SCHEMA_TYPE_LOCAL_DATE_TIME = 19,
    SCHEMA_TYPE_PROTOBUF_NATIVE = 20,
};

/* Pulsar's SchemaCompatibilityStrategy, numbered in the Java enum's declaration order. */
typedef enum {
    SCHEMA_COMPAT_UNDEFINED =
        0, /* "use the broker default"; resolve with schema_strategy_resolve */
    SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE = 1,
    SCHEMA_COMPAT_ALWAYS_COMPATIBLE = 2,
    SCHEMA_COMPAT_BACKWARD = 3,            /* new schema reads data of the latest version */
    SCHEMA_COMPAT_FORWARD = 4,             /* latest version reads data of the new schema */
    SCHEMA_COMPAT_FULL = 5,                /* both, against the latest version */
    SCHEMA_COMPAT_BACKWARD_TRANSITIVE = 6, /* new schema reads data of every version */
    SCHEMA_COMPAT_FORWARD_TRANSITIVE = 7,  /* every version reads data of the new schema */
    SCHEMA_COMPAT_FULL_TRANSITIVE = 8,     /* both, against every version */
} schema_strategy_t;

#define SCHEMA_COMPAT_COUNT 9
/* Pulsar's broker default (broker.conf schemaCompatibilityStrategy=FULL). */
#define SCHEMA_COMPAT_DEFAULT SCHEMA_COMPAT_FULL

/* Limits applied by schema_validate and the Avro checker; beyond them the answer is -1. */
#define SCHEMA_MAX_BYTES (1024u * 1024u) /* schema_data size, any type */
#define SCHEMA_MAX_DEPTH 64              /* nesting of Avro types (records, arrays, unions...) */
#define SCHEMA_MAX_NODES 65536           /* Avro type nodes in one schema */

/* One stored (or proposed) schema version. Borrowed pointers: the caller owns data. */
typedef struct schema_ref {
    int type;         /* SCHEMA_TYPE_* */
    const void *data; /* schema_data as stored by Pulsar (may be NULL when len == 0) */
    size_t len;
    /* KEY_VALUE only: the sub-schema types, which Pulsar keeps in the properties
     * "key.schema.type" / "value.schema.type" (parse them with schema_type_parse; Pulsar treats
     * a missing property as BYTES = SCHEMA_TYPE_NONE). SCHEMA_TYPE_UNKNOWN means "infer": a part
     * that parses as an Avro JSON schema is treated as AVRO, anything else as NONE. */
    int key_type;
    int value_type;
    int64_t version; /* only used to name the version in reasons; -1 if unknown */
} schema_ref_t;

typedef schema_ref_t existing_schema_t;

/* Strategy names. parse: case-insensitive; accepts the SchemaCompatibilityStrategy names
 * ("BACKWARD_TRANSITIVE") and the deprecated SchemaAutoUpdateCompatibilityStrategy ones
 * ("BackwardTransitive", "AutoUpdateDisabled" = ALWAYS_INCOMPATIBLE). Returns -1 if unknown.
 * name: the canonical upper-case name, or "UNKNOWN" for an out-of-range value. */
int schema_strategy_parse(const char *name);
const char *schema_strategy_name(int strategy);
/* The strategy to apply: the topic/namespace one unless UNDEFINED, then the broker's, then
 * SCHEMA_COMPAT_DEFAULT. */
int schema_strategy_resolve(int policy_strategy, int broker_strategy);

/* Schema type names as Pulsar's Java SchemaType spells them ("AVRO", "KEY_VALUE", "BYTES"...).
 * parse: case-insensitive, returns -1 if unknown ("BYTES" and "NONE" both give 0).
 * name: "UNKNOWN" for an out-of-range value. */
int schema_type_parse(const char *name);
const char *schema_type_name(int type);

/* Can data written with `writer` be read with `reader`? Both are Avro schemas in JSON form.
 * Implements the resolution rules of the Avro 1.11 specification (see docs/schema.md).
 * Returns 1 compatible, 0 not (reason names the path and rule that failed), -1 if either schema
 * is invalid or beyond the limits above (reason says which and why). */
int schema_avro_can_read(const char *reader_json, size_t rlen, const char *writer_json, size_t wlen,
                         char *reason, size_t reason_len);

/* Is `json` a valid Avro schema? Parsed by both avro-c and our own model (so both must accept
 * it) within the limits above. Returns 1 valid, -1 invalid (reason set). */
int schema_avro_validate(const char *json, size_t len, char *reason, size_t reason_len);

/* Validate schema data for its type, as the broker must before storing it:
 *   AVRO, JSON, PROTOBUF: a valid Avro schema (schema_avro_validate); for AVRO not a top-level
 *     union (Pulsar's StructSchemaDataValidator refuses those);
 *   KEY_VALUE: well-formed [BE32 klen][key][BE32 vlen][value] framing, each part valid for its
 *     sub-type (schema_validate_ref uses ref->key_type/value_type; schema_validate infers them);
 *   PROTOBUF_NATIVE: a JSON object with string members fileDescriptorSet, rootMessageTypeName
 *     and rootFileDescriptorName (the descriptor itself is not decoded);
 *   STRING, BOOL, INT*, FLOAT, DOUBLE, DATE/TIME types: empty data (as Pulsar requires);
 *   NONE: anything.
 * Everything is limited to SCHEMA_MAX_BYTES. Returns 1 valid, -1 invalid (reason set). */
int schema_validate(int schema_type, const void *data, size_t len, char *reason, size_t reason_len);
int schema_validate_ref(const schema_ref_t *ref, char *reason, size_t reason_len);

/* Split KEY_VALUE schema data into its key and value parts (pointers into data). A length of
 * -1 (Pulsar's encoding of a null part) yields an empty part. Returns 0, or -1 if malformed. */
int schema_kv_split(const void *data, size_t len, const uint8_t **key, size_t *key_len,
                    const uint8_t **value, size_t *value_len);

/* May `new_data` of `schema_type` be registered after `existing` (oldest first, deleted
 * versions already trimmed as Pulsar's trimDeletedSchemaAndGetList does) under `strategy`?
 * Follows SchemaRegistryServiceImpl:
 *   - the new schema must validate (else -1), even under ALWAYS_COMPATIBLE;
 *   - no existing versions, ALWAYS_COMPATIBLE, or a byte-identical schema of the same type
 *     already registered: 1;
 *   - a type different from a compared version: 0 ("exists schema type ..."), then
 *     ALWAYS_INCOMPATIBLE: 0;
 *   - AVRO/JSON/PROTOBUF: Avro resolution against the latest version (BACKWARD/FORWARD/FULL) or
 *     all versions (*_TRANSITIVE); KEY_VALUE: the same on the key and on the value parts, whose
 *     sub-types must not change; every other type: compatible (Pulsar's default checker).
 * UNDEFINED is treated as SCHEMA_COMPAT_DEFAULT. An invalid strategy number or an existing
 * version whose data is invalid gives -1. Returns 1 ok, 0 incompatible, -1 invalid. */
int schema_check_compat(int strategy, int schema_type, const void *new_data, size_t new_len,
                        const existing_schema_t *existing, size_t n_existing, char *reason,
                        size_t reason_len);
/* The same with a full schema_ref_t for the new schema (KEY_VALUE sub-types). */
int schema_check_compat_ref(int strategy, const schema_ref_t *new_schema,
                            const existing_schema_t *existing, size_t n_existing, char *reason,
                            size_t reason_len);

#endif
