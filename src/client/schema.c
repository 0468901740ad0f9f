/* schema.c - client-side schemas: mg_schema_t (what PRODUCER and SUBSCRIBE declare), the
 * producer's registered version and a message's schema_version, GET_SCHEMA, the broker's error
 * text for the last failed call (mg_last_error_message), primitive value codecs as Pulsar's
 * StringSchema / BooleanSchema / ByteSchema / ShortSchema / IntSchema / LongSchema / FloatSchema
 * / DoubleSchema encode them, and thin Avro helpers over avro-c.
 *
 * Nothing here converts payloads implicitly: a producer with a schema still sends the bytes it is
 * given, the schema only travels in PRODUCER / SUBSCRIBE and the version in each message. */
#include <avro.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"

/* ---- last broker error text (thread-local) ------------------------------------------------- */
static _Thread_local char last_error[256];

void client_set_error(const char *msg)
{
    if (!msg) {
        last_error[0] = '\0';
        return;
    }
    size_t n = strlen(msg);
    if (n >= sizeof last_error) n = sizeof last_error - 1;
    memmove(last_error, msg, n);
    last_error[n] = '\0';
}

const char *mg_last_error_message(void) { return last_error; }

/* ---- mg_schema_t ----------------------------------------------------------------------------- */
static const char *const type_names[] = {
    "BYTES", "STRING", "JSON", "PROTOBUF", "AVRO", "BOOLEAN", "INT8", "INT16", "INT32", "INT64",
    "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP", "KEY_VALUE", "INSTANT", "LOCAL_DATE",
    "LOCAL_TIME", "LOCAL_DATE_TIME", "PROTOBUF_NATIVE"};
#define N_TYPES (int)(sizeof type_names / sizeof type_names[0])

void mg_schema_free(mg_schema_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nprops * 2; i++) mg_free(s->props[i]);
    mg_free(s->props);
    mg_free(s->name);
    mg_free(s->data);
    mg_free(s);
}

static mg_schema_t *schema_new(int type, const void *data, size_t len)
{
    mg_schema_t *s = mg_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->type = type;
    /* negative: the AUTO_CONSUME / AUTO_PUBLISH pseudo types (schema_auto.c names them) */
    s->name = mg_strdup(type >= 0 && type < N_TYPES ? type_names[type] : "AUTO");
    s->data = mg_malloc(len ? len : 1);
    if (!s->name || !s->data) {
        mg_schema_free(s);
        return NULL;
    }
    if (len) memcpy(s->data, data, len);
    s->len = len;
    return s;
}

mg_result mg_schema_create(mg_schema_type type, const void *data, size_t len, mg_schema_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    if ((int)type < 0 || (int)type >= N_TYPES || (len && !data)) return MG_ERR_INVALID_ARG;
    *out = schema_new((int)type, data, len);
    return *out ? MG_OK : MG_ERR_NO_MEMORY;
}

/* AVRO and JSON schemas are Avro schemas in JSON form; refuse what avro-c cannot parse, so the
 * mistake shows here rather than as a broker refusal. */
static mg_result avro_json_schema(int type, const char *json, mg_schema_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    if (!json) return MG_ERR_INVALID_ARG;
    avro_schema_t as;
    if (avro_schema_from_json_length(json, strlen(json), &as)) return MG_ERR_INVALID_ARG;
    avro_schema_decref(as);
    *out = schema_new(type, json, strlen(json));
    return *out ? MG_OK : MG_ERR_NO_MEMORY;
}

mg_result mg_schema_avro(const char *json, mg_schema_t **out)
{
    return avro_json_schema(MG_SCHEMA_AVRO, json, out);
}

mg_result mg_schema_json(const char *json, mg_schema_t **out)
{
    return avro_json_schema(MG_SCHEMA_JSON, json, out);
}

mg_result mg_schema_primitive(mg_schema_type type, mg_schema_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    switch (type) {
    case MG_SCHEMA_BYTES: case MG_SCHEMA_STRING: case MG_SCHEMA_BOOL: case MG_SCHEMA_INT8:
    case MG_SCHEMA_INT16: case MG_SCHEMA_INT32: case MG_SCHEMA_INT64: case MG_SCHEMA_FLOAT:
    case MG_SCHEMA_DOUBLE: case MG_SCHEMA_DATE: case MG_SCHEMA_TIME: case MG_SCHEMA_TIMESTAMP:
    case MG_SCHEMA_INSTANT: case MG_SCHEMA_LOCAL_DATE: case MG_SCHEMA_LOCAL_TIME:
    case MG_SCHEMA_LOCAL_DATE_TIME:
        *out = schema_new((int)type, NULL, 0);
        return *out ? MG_OK : MG_ERR_NO_MEMORY;
    default: return MG_ERR_INVALID_ARG;
    }
}

mg_result mg_schema_set_name(mg_schema_t *s, const char *name)
{
    if (!s || !name) return MG_ERR_INVALID_ARG;
    char *n = mg_strdup(name);
    if (!n) return MG_ERR_NO_MEMORY;
    mg_free(s->name);
    s->name = n;
    return MG_OK;
}

mg_result mg_schema_set_property(mg_schema_t *s, const char *name, const char *value)
{
    if (!s || !name || !value) return MG_ERR_INVALID_ARG;
    char *v = mg_strdup(value);
    if (!v) return MG_ERR_NO_MEMORY;
    for (size_t i = 0; i < s->nprops; i++)
        if (!strcmp(s->props[2 * i], name)) {
            mg_free(s->props[2 * i + 1]);
            s->props[2 * i + 1] = v;
            return MG_OK;
        }
    char *n = mg_strdup(name);
    char **np = n ? mg_realloc(s->props, (s->nprops + 1) * 2 * sizeof *np) : NULL;
    if (!np) {
        mg_free(n);
        mg_free(v);
        return MG_ERR_NO_MEMORY;
    }
    s->props = np;
    np[2 * s->nprops] = n;
    np[2 * s->nprops + 1] = v;
    s->nprops++;
    return MG_OK;
}

mg_schema_type mg_schema_get_type(const mg_schema_t *s)
{
    return s ? (mg_schema_type)s->type : MG_SCHEMA_BYTES;
}

const char *mg_schema_get_name(const mg_schema_t *s) { return s ? s->name : NULL; }

const void *mg_schema_get_data(const mg_schema_t *s, size_t *len)
{
    if (len) *len = s ? s->len : 0;
    return s ? s->data : NULL;
}

const char *mg_schema_get_property(const mg_schema_t *s, const char *name)
{
    if (!s || !name) return NULL;
    for (size_t i = 0; i < s->nprops; i++)
        if (!strcmp(s->props[2 * i], name)) return s->props[2 * i + 1];
    return NULL;
}

mg_schema_t *schema_dup(const mg_schema_t *s)
{
    if (!s) return NULL;
    mg_schema_t *d = schema_new(s->type, s->data, s->len);
    if (!d) return NULL;
    if (mg_schema_set_name(d, s->name)) goto fail;
    for (size_t i = 0; i < s->nprops; i++)
        if (mg_schema_set_property(d, s->props[2 * i], s->props[2 * i + 1])) goto fail;
    return d;
fail:
    mg_schema_free(d);
    return NULL;
}

void schema_to_proto(const mg_schema_t *s, Pulsar__Proto__Schema *pb, Pulsar__Proto__KeyValue *kv,
                     Pulsar__Proto__KeyValue **kvp, size_t max)
{
    pb->name = s->name;
    pb->type = (Pulsar__Proto__Schema__Type)s->type;
    pb->schema_data.data = s->data;
    pb->schema_data.len = s->len;
    size_t n = s->nprops < max ? s->nprops : max;
    for (size_t i = 0; i < n; i++) {
        kv[i] = (Pulsar__Proto__KeyValue)PULSAR__PROTO__KEY_VALUE__INIT;
        kv[i].key = s->props[2 * i];
        kv[i].value = s->props[2 * i + 1];
        kvp[i] = &kv[i];
    }
    pb->n_properties = n;
    pb->properties = n ? kvp : NULL;
}

/* ---- versions -------------------------------------------------------------------------------- */
/* Pulsar's LongSchemaVersion: 8 bytes, big-endian. */
static int64_t version_of(const uint8_t *p, size_t len)
{
    if (!p || len != 8) return -1;
    int64_t v;
    mg_decode_int64(p, len, &v);
    return v;
}

int64_t mg_producer_schema_version(const mg_producer_t *pc)
{
    if (!pc) return -1;
    struct mg_producer *p = (struct mg_producer *)pc;
    pthread_mutex_lock(&p->cl->lock);
    const struct mg_producer *leaf = p->nchildren ? p->children[0] : p;
    int64_t v = version_of(leaf->schema_ver, leaf->schema_ver_len);
    pthread_mutex_unlock(&p->cl->lock);
    return v;
}

int64_t mg_message_schema_version(const mg_message_t *m)
{
    return m ? version_of(m->schema_ver, m->schema_ver_len) : -1;
}

const void *mg_message_schema_version_bytes(const mg_message_t *m, size_t *len)
{
    if (len) *len = m ? m->schema_ver_len : 0;
    return m ? m->schema_ver : NULL;
}

mg_result mg_client_get_schema(mg_client_t *cl, const char *topic, int64_t version,
                               mg_schema_t **out)
{
    if (!cl || !out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    char full[2048];
    mg_result r = cl_topic_full(topic, full, sizeof full);
    if (r) return r;
    pthread_mutex_lock(&cl->lock);
    client_set_error(NULL);
    conn_t *c = NULL;
    r = cl->stopping ? MG_ERR_ALREADY_CLOSED : cl_lookup_locked(cl, full, &c);
    if (!r) {
        Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandGetSchema gs = PULSAR__PROTO__COMMAND_GET_SCHEMA__INIT;
        uint8_t ver[8];
        cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_SCHEMA;
        cmd.getschema = &gs;
        gs.topic = full;
        if (version >= 0) {
            mg_encode_int64(version, ver);
            gs.has_schema_version = 1;
            gs.schema_version.data = ver;
            gs.schema_version.len = sizeof ver;
        }
        req_t rq;
        r = conn_rpc_locked(c, &cmd, &rq, cl->conf.operation_timeout_ms);
        if (r) client_set_error(rq.errmsg);
        Pulsar__Proto__Schema *ps = !r && rq.resp->getschemaresponse ? rq.resp->getschemaresponse->schema : NULL;
        if (!r && !ps) r = MG_ERR_PROTOCOL;
        if (!r && (mg_schema_create((mg_schema_type)ps->type, ps->schema_data.data,
                                    ps->schema_data.len, out) ||
                   (ps->name && mg_schema_set_name(*out, ps->name))))
            r = *out ? MG_ERR_NO_MEMORY : MG_ERR_PROTOCOL; /* unknown type number: protocol */
        for (size_t i = 0; !r && i < ps->n_properties; i++)
            if (ps->properties[i]->key && ps->properties[i]->value &&
                mg_schema_set_property(*out, ps->properties[i]->key, ps->properties[i]->value))
                r = MG_ERR_NO_MEMORY;
        if (r) {
            mg_schema_free(*out);
            *out = NULL;
        }
        if (rq.resp) pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
    }
    pthread_mutex_unlock(&cl->lock);
    return r;
}

/* ---- primitives ------------------------------------------------------------------------------ */
static void put_be(uint64_t v, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

size_t mg_encode_bool(bool v, uint8_t out[1])
{
    out[0] = v ? 1 : 0;
    return 1;
}
size_t mg_encode_int8(int8_t v, uint8_t out[1])
{
    out[0] = (uint8_t)v;
    return 1;
}
size_t mg_encode_int16(int16_t v, uint8_t out[2])
{
    put_be((uint16_t)v, out, 2);
    return 2;
}
size_t mg_encode_int32(int32_t v, uint8_t out[4])
{
    put_be((uint32_t)v, out, 4);
    return 4;
}
size_t mg_encode_int64(int64_t v, uint8_t out[8])
{
    put_be((uint64_t)v, out, 8);
    return 8;
}
size_t mg_encode_float(float v, uint8_t out[4])
{
    uint32_t bits; /* Float.floatToRawIntBits */
    memcpy(&bits, &v, 4);
    put_be(bits, out, 4);
    return 4;
}
size_t mg_encode_double(double v, uint8_t out[8])
{
    uint64_t bits; /* Double.doubleToLongBits: every NaN becomes the canonical one */
    memcpy(&bits, &v, 8);
    if (isnan(v)) bits = 0x7ff8000000000000ull;
    put_be(bits, out, 8);
    return 8;
}

#define CHECK_DECODE(n)                                          \
    if (!p || !v || len != (n)) return MG_ERR_INVALID_ARG;      \
    const uint8_t *b = p

mg_result mg_decode_bool(const void *p, size_t len, bool *v)
{
    CHECK_DECODE(1);
    *v = b[0] != 0;
    return MG_OK;
}
mg_result mg_decode_int8(const void *p, size_t len, int8_t *v)
{
    CHECK_DECODE(1);
    *v = (int8_t)b[0];
    return MG_OK;
}
mg_result mg_decode_int16(const void *p, size_t len, int16_t *v)
{
    CHECK_DECODE(2);
    *v = (int16_t)(uint16_t)get_be(b, 2);
    return MG_OK;
}
mg_result mg_decode_int32(const void *p, size_t len, int32_t *v)
{
    CHECK_DECODE(4);
    *v = (int32_t)(uint32_t)get_be(b, 4);
    return MG_OK;
}
mg_result mg_decode_int64(const void *p, size_t len, int64_t *v)
{
    CHECK_DECODE(8);
    *v = (int64_t)get_be(b, 8);
    return MG_OK;
}
mg_result mg_decode_float(const void *p, size_t len, float *v)
{
    CHECK_DECODE(4);
    uint32_t bits = (uint32_t)get_be(b, 4);
    memcpy(v, &bits, 4);
    return MG_OK;
}
mg_result mg_decode_double(const void *p, size_t len, double *v)
{
    CHECK_DECODE(8);
    uint64_t bits = get_be(b, 8);
    memcpy(v, &bits, 8);
    return MG_OK;
}

mg_message_t *mg_message_new_string(const char *s)
{
    return s ? mg_message_new(s, strlen(s)) : NULL;
}

#define NEW_TYPED(T, name)                    \
    mg_message_t *mg_message_new_##name(T v)  \
    {                                         \
        uint8_t b[8];                         \
        size_t len = mg_encode_##name(v, b);  \
        return mg_message_new(b, len);        \
    }
NEW_TYPED(bool, bool)
NEW_TYPED(int8_t, int8)
NEW_TYPED(int16_t, int16)
NEW_TYPED(int32_t, int32)
NEW_TYPED(int64_t, int64)
NEW_TYPED(float, float)
NEW_TYPED(double, double)

#define GET_TYPED(T, name)                                         \
    mg_result mg_message_get_##name(const mg_message_t *m, T *v)   \
    {                                                              \
        if (!m) return MG_ERR_INVALID_ARG;                         \
        return mg_decode_##name(m->data, m->len, v);               \
    }
GET_TYPED(bool, bool)
GET_TYPED(int8_t, int8)
GET_TYPED(int16_t, int16)
GET_TYPED(int32_t, int32)
GET_TYPED(int64_t, int64)
GET_TYPED(float, float)
GET_TYPED(double, double)

mg_result mg_message_get_string(const mg_message_t *m, char **out)
{
    if (!m || !out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    if (m->len && memchr(m->data, 0, m->len)) return MG_ERR_INVALID_ARG;
    char *s = malloc(m->len + 1); /* the caller frees with free() */
    if (!s) return MG_ERR_NO_MEMORY;
    if (m->len) memcpy(s, m->data, m->len);
    s[m->len] = '\0';
    *out = s;
    return MG_OK;
}

/* ---- Avro -------------------------------------------------------------------------------------- */
static mg_result avro_schema_of(const mg_schema_t *s, avro_schema_t *out)
{
    if (!s || (s->type != MG_SCHEMA_AVRO && s->type != MG_SCHEMA_JSON)) return MG_ERR_INVALID_ARG;
    if (avro_schema_from_json_length((const char *)s->data, s->len, out)) return MG_ERR_INVALID_ARG;
    return MG_OK;
}

/* A new generic value of `schema`; the value keeps its class (and schema) alive. */
static mg_result generic_new(avro_schema_t schema, avro_value_t *out)
{
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    if (!iface) return MG_ERR_NO_MEMORY;
    int rc = avro_generic_value_new(iface, out);
    avro_value_iface_decref(iface);
    return rc ? MG_ERR_NO_MEMORY : MG_OK;
}

mg_result mg_avro_value_new(const mg_schema_t *s, struct avro_value *out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    avro_schema_t as;
    mg_result r = avro_schema_of(s, &as);
    if (r) return r;
    r = generic_new(as, out);
    avro_schema_decref(as);
    return r;
}

mg_result mg_avro_encode(const struct avro_value *cv, uint8_t **out, size_t *len)
{
    if (!cv || !out || !len) return MG_ERR_INVALID_ARG;
    *out = NULL;
    *len = 0;
    avro_value_t *v = (avro_value_t *)cv; /* avro-c's API is not const-correct */
    size_t size;
    if (avro_value_sizeof(v, &size)) return MG_ERR_INVALID_ARG;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return MG_ERR_NO_MEMORY;
    avro_writer_t w = avro_writer_memory((const char *)buf, (int64_t)size);
    if (!w) {
        free(buf);
        return MG_ERR_NO_MEMORY;
    }
    int rc = avro_value_write(w, v);
    avro_writer_free(w);
    if (rc) {
        free(buf);
        return MG_ERR_INVALID_ARG;
    }
    *out = buf;
    *len = size;
    return MG_OK;
}

mg_result mg_avro_decode(const mg_schema_t *writer, const mg_schema_t *reader, const void *data,
                         size_t len, struct avro_value *out)
{
    if (!out || (len && !data)) return MG_ERR_INVALID_ARG;
    avro_schema_t ws, rs = NULL;
    mg_result r = avro_schema_of(writer, &ws);
    if (r) return r;
    if (reader && (r = avro_schema_of(reader, &rs))) {
        avro_schema_decref(ws);
        return r;
    }
    r = generic_new(rs ? rs : ws, out);
    if (r) goto done;
    avro_reader_t rd = avro_reader_memory(len ? (const char *)data : "", (int64_t)len);
    if (!rd) {
        r = MG_ERR_NO_MEMORY;
        avro_value_decref(out);
        goto done;
    }
    if (!rs) {
        if (avro_value_read(rd, out)) r = MG_ERR_INVALID_ARG;
    } else {
        /* avro-c's resolver: a writer-shaped value that stores into the reader-shaped one */
        avro_value_iface_t *wi = avro_resolved_writer_new(ws, rs);
        avro_value_t resolved;
        if (!wi) r = MG_ERR_INVALID_ARG;
        else if (avro_resolved_writer_new_value(wi, &resolved)) r = MG_ERR_NO_MEMORY;
        else {
            avro_resolved_writer_set_dest(&resolved, out);
            if (avro_value_read(rd, &resolved)) r = MG_ERR_INVALID_ARG;
            avro_value_decref(&resolved);
        }
        if (wi) avro_value_iface_decref(wi);
    }
    avro_reader_free(rd);
    if (r) avro_value_decref(out);
done:
    avro_schema_decref(ws);
    if (rs) avro_schema_decref(rs);
    return r;
}

mg_result mg_message_new_avro(const struct avro_value *v, mg_message_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    uint8_t *buf;
    size_t len;
    mg_result r = mg_avro_encode(v, &buf, &len);
    if (r) return r;
    *out = mg_message_new(buf, len);
    free(buf);
    return *out ? MG_OK : MG_ERR_NO_MEMORY;
}

mg_result mg_message_get_avro(const mg_message_t *m, const mg_schema_t *writer,
                              const mg_schema_t *reader, struct avro_value *out)
{
    if (!m) return MG_ERR_INVALID_ARG;
    return mg_avro_decode(writer, reader, m->data, m->len, out);
}
