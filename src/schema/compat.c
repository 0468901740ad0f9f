/* compat.c - compatibility strategies and schema validation for the schema registry:
 * which stored versions a new schema is compared with, in which direction, per schema type.
 * Mirrors Pulsar's SchemaRegistryServiceImpl (checkCompatibilityWithLatest / WithAll), its
 * AvroSchemaBasedCompatibilityCheck (AVRO, JSON, PROTOBUF), KeyValueSchemaCompatibilityCheck
 * and the default checker for every other type. The Avro resolution itself is avro_check.c. */
#include "schema/compat.h"

#include "common/util.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------------------------- */

static const char *const strategy_names[SCHEMA_COMPAT_COUNT] = {
    "UNDEFINED", "ALWAYS_INCOMPATIBLE", "ALWAYS_COMPATIBLE",  "BACKWARD",        "FORWARD",
    "FULL",      "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL_TRANSITIVE",
};

/* SchemaAutoUpdateCompatibilityStrategy, the namespace policy Pulsar had before 2.6. */
static const struct {
    const char *name;
    int strategy;
} legacy_strategies[] = {
    {"AutoUpdateDisabled", SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE},
    {"AlwaysCompatible", SCHEMA_COMPAT_ALWAYS_COMPATIBLE},
    {"Backward", SCHEMA_COMPAT_BACKWARD},
    {"Forward", SCHEMA_COMPAT_FORWARD},
    {"Full", SCHEMA_COMPAT_FULL},
    {"BackwardTransitive", SCHEMA_COMPAT_BACKWARD_TRANSITIVE},
    {"ForwardTransitive", SCHEMA_COMPAT_FORWARD_TRANSITIVE},
    {"FullTransitive", SCHEMA_COMPAT_FULL_TRANSITIVE},
};

int schema_strategy_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < SCHEMA_COMPAT_COUNT; i++)
        if (strcasecmp(name, strategy_names[i]) == 0) return i;
    for (size_t i = 0; i < sizeof(legacy_strategies) / sizeof(legacy_strategies[0]); i++)
        if (strcasecmp(name, legacy_strategies[i].name) == 0) return legacy_strategies[i].strategy;
    return -1;
}

const char *schema_strategy_name(int strategy)
{
    if (strategy < 0 || strategy >= SCHEMA_COMPAT_COUNT) return "UNKNOWN";
    return strategy_names[strategy];
}

int schema_strategy_resolve(int policy_strategy, int broker_strategy)
{
    if (policy_strategy > SCHEMA_COMPAT_UNDEFINED && policy_strategy < SCHEMA_COMPAT_COUNT)
        return policy_strategy;
    if (broker_strategy > SCHEMA_COMPAT_UNDEFINED && broker_strategy < SCHEMA_COMPAT_COUNT)
        return broker_strategy;
    return SCHEMA_COMPAT_DEFAULT;
}

static const char *const type_names[] = {
    "NONE",
    "STRING",
    "JSON",
    "PROTOBUF",
    "AVRO",
    "BOOLEAN",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FLOAT",
    "DOUBLE",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "KEY_VALUE",
    "INSTANT",
    "LOCAL_DATE",
    "LOCAL_TIME",
    "LOCAL_DATE_TIME",
    "PROTOBUF_NATIVE",
};
#define N_TYPES ((int)(sizeof(type_names) / sizeof(type_names[0])))

int schema_type_parse(const char *name)
{
    if (!name) return -1;
    if (strcasecmp(name, "BYTES") == 0) return SCHEMA_TYPE_NONE;
    for (int i = 0; i < N_TYPES; i++)
        if (strcasecmp(name, type_names[i]) == 0) return i;
    return -1;
}

const char *schema_type_name(int type)
{
    if (type < 0 || type >= N_TYPES) return "UNKNOWN";
    return type_names[type];
}

static int type_is_avro_based(int type)
{
    return type == SCHEMA_TYPE_AVRO || type == SCHEMA_TYPE_JSON || type == SCHEMA_TYPE_PROTOBUF;
}

/* Types whose Pulsar schema data must be empty (the primitive schemas). */
static int type_is_primitive(int type)
{
    return type == SCHEMA_TYPE_STRING ||
           (type >= SCHEMA_TYPE_BOOL && type <= SCHEMA_TYPE_TIMESTAMP) ||
           (type >= SCHEMA_TYPE_INSTANT && type <= SCHEMA_TYPE_LOCAL_DATE_TIME);
}

/* ------------------------------------------------------------------------------------------
 * KEY_VALUE framing
 * ---------------------------------------------------------------------------------------- */

static int kv_part(const uint8_t *p, size_t len, size_t *off, const uint8_t **part,
                   size_t *part_len)
{
    if (len - *off < 4) return -1;
    const uint8_t *b = p + *off;
    uint32_t n = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    *off += 4;
    if (n == 0xFFFFFFFFu) { /* KeyValue.encode writes -1 for a null part */
        *part = p + *off;
        *part_len = 0;
        return 0;
    }
    if (n > len - *off) return -1;
    *part = p + *off;
    *part_len = n;
    *off += n;
    return 0;
}

int schema_kv_split(const void *data, size_t len, const uint8_t **key, size_t *key_len,
                    const uint8_t **value, size_t *value_len)
{
    const uint8_t *p = data;
    size_t off = 0;
    if (!p && len) return -1;
    if (kv_part(p, len, &off, key, key_len) < 0 || kv_part(p, len, &off, value, value_len) < 0)
        return -1;
    return off == len ? 0 : -1; /* trailing bytes: not something Pulsar produced */
}

/* The type of a KEY_VALUE part when the properties did not say: Avro JSON if it parses. */
static int kv_infer_type(int declared, const uint8_t *part, size_t len)
{
    if (declared != SCHEMA_TYPE_UNKNOWN) return declared;
    if (len && schema_avro_validate((const char *)part, len, NULL, 0) == 1) return SCHEMA_TYPE_AVRO;
    return SCHEMA_TYPE_NONE;
}

/* ------------------------------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------------------------- */

static int validate_data(int type, const void *data, size_t len, int key_type, int value_type,
                         int depth, char *reason, size_t rlen);

static int validate_protobuf_native(const void *data, size_t len, char *reason, size_t rlen)
{
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    if (!j) {
        mg_set_err(reason, rlen, "PROTOBUF_NATIVE schema is not JSON: %s", jerr.text);
        return -1;
    }
    static const char *const members[] = {"fileDescriptorSet", "rootMessageTypeName",
                                          "rootFileDescriptorName"};
    for (size_t i = 0; i < 3; i++) {
        if (!json_is_string(json_object_get(j, members[i]))) {
            mg_set_err(reason, rlen, "PROTOBUF_NATIVE schema lacks the string member '%s'",
                       members[i]);
            json_decref(j);
            return -1;
        }
    }
    json_decref(j);
    return 1;
}

static int validate_data(int type, const void *data, size_t len, int key_type, int value_type,
                         int depth, char *reason, size_t rlen)
{
    char inner[256];
    if (len && !data) {
        mg_set_err(reason, rlen, "schema data pointer is NULL");
        return -1;
    }
    if (len > SCHEMA_MAX_BYTES) {
        mg_set_err(reason, rlen, "schema data is %zu bytes, the limit is %u", len,
                   SCHEMA_MAX_BYTES);
        return -1;
    }
    if (type < 0 || type >= N_TYPES) {
        mg_set_err(reason, rlen, "unknown schema type %d", type);
        return -1;
    }
    if (type_is_avro_based(type)) {
        if (schema_avro_validate(data, len, inner, sizeof(inner)) != 1) {
            mg_set_err(reason, rlen, "invalid %s schema: %s", schema_type_name(type), inner);
            return -1;
        }
        /* Pulsar's StructSchemaDataValidator refuses a top-level union for AVRO. */
        const char *p = data;
        size_t i = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
            i++;
        if (type == SCHEMA_TYPE_AVRO && i < len && p[i] == '[') {
            mg_set_err(reason, rlen, "Avro schema typed [UNION] is not supported");
            return -1;
        }
        return 1;
    }
    if (type_is_primitive(type)) {
        if (len) {
            mg_set_err(reason, rlen, "%s schema data must be empty, got %zu bytes",
                       schema_type_name(type), len);
            return -1;
        }
        return 1;
    }
    if (type == SCHEMA_TYPE_PROTOBUF_NATIVE)
        return validate_protobuf_native(data, len, reason, rlen);
    if (type == SCHEMA_TYPE_KEY_VALUE) {
        const uint8_t *k, *v;
        size_t kl, vl;
        if (depth > 0) {
            mg_set_err(reason, rlen, "KEY_VALUE schema nested in a KEY_VALUE schema");
            return -1;
        }
        if (schema_kv_split(data, len, &k, &kl, &v, &vl) < 0) {
            mg_set_err(reason, rlen, "KEY_VALUE schema data is not [len][key][len][value]");
            return -1;
        }
        int kt = kv_infer_type(key_type, k, kl), vt = kv_infer_type(value_type, v, vl);
        if (validate_data(kt, k, kl, -1, -1, depth + 1, inner, sizeof(inner)) != 1) {
            mg_set_err(reason, rlen, "key schema: %s", inner);
            return -1;
        }
        if (validate_data(vt, v, vl, -1, -1, depth + 1, inner, sizeof(inner)) != 1) {
            mg_set_err(reason, rlen, "value schema: %s", inner);
            return -1;
        }
        return 1;
    }
    return 1; /* NONE: raw bytes, anything goes */
}

int schema_validate(int schema_type, const void *data, size_t len, char *reason, size_t reason_len)
{
    schema_ref_t ref = {schema_type, data, len, SCHEMA_TYPE_UNKNOWN, SCHEMA_TYPE_UNKNOWN, -1};
    return schema_validate_ref(&ref, reason, reason_len);
}

int schema_validate_ref(const schema_ref_t *ref, char *reason, size_t reason_len)
{
    mg_set_err(reason, reason_len, "%s", "");
    if (!ref) {
        mg_set_err(reason, reason_len, "no schema");
        return -1;
    }
    int rc = validate_data(ref->type, ref->data, ref->len, ref->key_type, ref->value_type, 0,
                           reason, reason_len);
    if (rc == 1) mg_set_err(reason, reason_len, "%s", "");
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Compatibility
 * ---------------------------------------------------------------------------------------- */

static int strategy_backward(int s)
{
    return s == SCHEMA_COMPAT_BACKWARD || s == SCHEMA_COMPAT_BACKWARD_TRANSITIVE ||
           s == SCHEMA_COMPAT_FULL || s == SCHEMA_COMPAT_FULL_TRANSITIVE;
}

static int strategy_forward(int s)
{
    return s == SCHEMA_COMPAT_FORWARD || s == SCHEMA_COMPAT_FORWARD_TRANSITIVE ||
           s == SCHEMA_COMPAT_FULL || s == SCHEMA_COMPAT_FULL_TRANSITIVE;
}

static int strategy_transitive(int s)
{
    return s == SCHEMA_COMPAT_BACKWARD_TRANSITIVE || s == SCHEMA_COMPAT_FORWARD_TRANSITIVE ||
           s == SCHEMA_COMPAT_FULL_TRANSITIVE;
}

static const char *version_str(const schema_ref_t *s, char *buf, size_t len)
{
    if (s->version >= 0)
        snprintf(buf, len, "version %lld", (long long)s->version);
    else
        snprintf(buf, len, "the existing schema");
    return buf;
}

/* One pair of same-typed schemas under a directional strategy (not ALWAYS_*).
 * Data has been validated. Returns 1 / 0 / -1 with reason set for 0 and -1. */
static int pair_check(int strategy, int type, const void *nd, size_t nl, int nkt, int nvt,
                      const void *od, size_t ol, int okt, int ovt, const char *oname, int depth,
                      char *reason, size_t rlen)
{
    char inner[512];
    if (type_is_avro_based(type)) {
        if (strategy_backward(strategy)) {
            int rc = schema_avro_can_read(nd, nl, od, ol, inner, sizeof(inner));
            if (rc != 1) {
                mg_set_err(reason, rlen, "new schema cannot read data written with %s: %s", oname,
                           inner);
                return rc;
            }
        }
        if (strategy_forward(strategy)) {
            int rc = schema_avro_can_read(od, ol, nd, nl, inner, sizeof(inner));
            if (rc != 1) {
                mg_set_err(reason, rlen, "%s cannot read data written with the new schema: %s",
                           oname, inner);
                return rc;
            }
        }
        return 1;
    }
    if (type == SCHEMA_TYPE_KEY_VALUE && depth == 0) {
        const uint8_t *nk, *nv, *ok, *ov;
        size_t nkl, nvl, okl, ovl;
        if (schema_kv_split(nd, nl, &nk, &nkl, &nv, &nvl) < 0 ||
            schema_kv_split(od, ol, &ok, &okl, &ov, &ovl) < 0) {
            mg_set_err(reason, rlen, "malformed KEY_VALUE schema data");
            return -1;
        }
        nkt = kv_infer_type(nkt, nk, nkl);
        nvt = kv_infer_type(nvt, nv, nvl);
        okt = kv_infer_type(okt, ok, okl);
        ovt = kv_infer_type(ovt, ov, ovl);
        if (nkt != okt || nvt != ovt) {
            mg_set_err(reason, rlen,
                       "KEY_VALUE sub-schema types changed: %s has %s/%s, new schema has %s/%s",
                       oname, schema_type_name(okt), schema_type_name(ovt), schema_type_name(nkt),
                       schema_type_name(nvt));
            return 0;
        }
        int rc = pair_check(strategy, nkt, nk, nkl, -1, -1, ok, okl, -1, -1, oname, depth + 1,
                            inner, sizeof(inner));
        if (rc != 1) {
            mg_set_err(reason, rlen, "key schema: %s", inner);
            return rc;
        }
        rc = pair_check(strategy, nvt, nv, nvl, -1, -1, ov, ovl, -1, -1, oname, depth + 1, inner,
                        sizeof(inner));
        if (rc != 1) {
            mg_set_err(reason, rlen, "value schema: %s", inner);
            return rc;
        }
        return 1;
    }
    /* Pulsar's default checker: any change allowed unless ALWAYS_INCOMPATIBLE (handled earlier). */
    return 1;
}

static int same_schema(const schema_ref_t *a, const schema_ref_t *b)
{
    if (a->type != b->type || a->len != b->len) return 0;
    if (a->len && memcmp(a->data, b->data, a->len) != 0) return 0;
    if (a->type == SCHEMA_TYPE_KEY_VALUE &&
        (a->key_type != b->key_type || a->value_type != b->value_type))
        return 0;
    return 1;
}

int schema_check_compat_ref(int strategy, const schema_ref_t *nw, const existing_schema_t *existing,
                            size_t n_existing, char *reason, size_t reason_len)
{
    char inner[600], vbuf[48];
    mg_set_err(reason, reason_len, "%s", "");
    if (strategy < 0 || strategy >= SCHEMA_COMPAT_COUNT) {
        mg_set_err(reason, reason_len, "unknown compatibility strategy %d", strategy);
        return -1;
    }
    if (strategy == SCHEMA_COMPAT_UNDEFINED) strategy = SCHEMA_COMPAT_DEFAULT;
    if (schema_validate_ref(nw, inner, sizeof(inner)) != 1) {
        mg_set_err(reason, reason_len, "%s", inner);
        return -1;
    }
    if (n_existing == 0 || strategy == SCHEMA_COMPAT_ALWAYS_COMPATIBLE) return 1;
    if (!existing) {
        mg_set_err(reason, reason_len, "no existing schema list");
        return -1;
    }
    /* Pulsar looks the schema up before checking: re-registering a known one just returns
     * its version, whatever the strategy. */
    for (size_t i = 0; i < n_existing; i++)
        if (same_schema(nw, &existing[i])) return 1;

    size_t first = strategy_transitive(strategy) ? 0 : n_existing - 1;
    for (size_t i = n_existing; i-- > first;) {
        if (existing[i].type != nw->type) {
            mg_set_err(reason, reason_len,
                       "Incompatible schema: exists schema type %s, new schema type %s",
                       schema_type_name(existing[i].type), schema_type_name(nw->type));
            return 0;
        }
    }
    if (strategy == SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE) {
        mg_set_err(reason, reason_len, "Schema compatibility strategy is ALWAYS_INCOMPATIBLE");
        return 0;
    }
    /* Newest first, so the reason names the most recent version that breaks. */
    for (size_t i = n_existing; i-- > first;) {
        const schema_ref_t *o = &existing[i];
        version_str(o, vbuf, sizeof(vbuf));
        if (validate_data(o->type, o->data, o->len, o->key_type, o->value_type, 0, inner,
                          sizeof(inner)) != 1) {
            mg_set_err(reason, reason_len, "%s is invalid: %s", vbuf, inner);
            return -1;
        }
        int rc =
            pair_check(strategy, nw->type, nw->data, nw->len, nw->key_type, nw->value_type, o->data,
                       o->len, o->key_type, o->value_type, vbuf, 0, inner, sizeof(inner));
        if (rc != 1) {
            mg_set_err(reason, reason_len, "%s: %s", schema_strategy_name(strategy), inner);
            return rc;
        }
    }
    return 1;
}

int schema_check_compat(int strategy, int schema_type, const void *new_data, size_t new_len,
                        const existing_schema_t *existing, size_t n_existing, char *reason,
                        size_t reason_len)
{
    schema_ref_t nw = {schema_type,         new_data, new_len, SCHEMA_TYPE_UNKNOWN,
                       SCHEMA_TYPE_UNKNOWN, -1};
    return schema_check_compat_ref(strategy, &nw, existing, n_existing, reason, reason_len);
}
