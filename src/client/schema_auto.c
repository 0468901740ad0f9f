/* schema_auto.c - the client side of Pulsar's AUTO_CONSUME and AUTO_PRODUCE_BYTES schemas and
 * of KEY_VALUE: payload validation (an allocation-free Avro binary walker, a JSON syntax check,
 * fixed sizes of the primitives), the writer-schema cache and generic decode of AUTO_CONSUME,
 * KeyValue schema data / properties as Java's KeyValueSchemaInfo, INLINE and SEPARATED payloads
 * and binary (base64) message keys.
 *
 * Threads: everything here is pure except the cache (guarded by the client lock) and the
 * GET_SCHEMA calls it makes through mg_client_get_schema (which take the lock themselves). */
#include <avro.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"

/* Refusals give MG_ERR_INVALID_ARG and a reason for mg_last_error_message(). */
static mg_result invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static mg_result invalid(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    client_set_error(msg);
    return MG_ERR_INVALID_ARG;
}

/* Java's SchemaType names (KeyValueSchemaInfo writes them in key.schema.type / value.schema.type),
 * indexed by Pulsar's Schema.Type number. */
static const char *const java_type_names[] = {
    "BYTES", "STRING", "JSON", "PROTOBUF", "AVRO", "BOOLEAN", "INT8", "INT16", "INT32", "INT64",
    "FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP", "KEY_VALUE", "INSTANT", "LOCAL_DATE",
    "LOCAL_TIME", "LOCAL_DATE_TIME", "PROTOBUF_NATIVE"};
#define N_JAVA_TYPES (int)(sizeof java_type_names / sizeof java_type_names[0])

/* ---- pseudo schemas ----------------------------------------------------------------------- */
static mg_result pseudo_schema(int type, const char *name, mg_schema_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    mg_result r = mg_schema_create(MG_SCHEMA_BYTES, NULL, 0, out);
    if (r) return r;
    (*out)->type = type;
    if ((r = mg_schema_set_name(*out, name))) {
        mg_schema_free(*out);
        *out = NULL;
    }
    return r;
}

mg_result mg_schema_auto_consume(mg_schema_t **out)
{
    return pseudo_schema((int)MG_SCHEMA_AUTO_CONSUME, "AUTO_CONSUME", out);
}

mg_result mg_schema_auto_produce_bytes(mg_schema_t **out)
{
    return pseudo_schema((int)MG_SCHEMA_AUTO_PUBLISH, "AUTO_PUBLISH", out);
}

/* ---- JSON syntax (RFC 8259), no allocation ------------------------------------------------ */
typedef struct jp {
    const uint8_t *p;
    size_t n, off;
    int depth;
} jp_t;

static void j_ws(jp_t *j)
{
    while (j->off < j->n && (j->p[j->off] == ' ' || j->p[j->off] == '\t' ||
                             j->p[j->off] == '\n' || j->p[j->off] == '\r'))
        j->off++;
}

static int j_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f');
}

static int j_string(jp_t *j)
{
    if (j->off >= j->n || j->p[j->off] != '"') return -1;
    j->off++;
    while (j->off < j->n) {
        uint8_t c = j->p[j->off++];
        if (c == '"') return 0;
        if (c < 0x20) return -1;
        if (c != '\\') continue;
        if (j->off >= j->n) return -1;
        c = j->p[j->off++];
        if (c == 'u') {
            if (j->n - j->off < 4) return -1;
            for (int i = 0; i < 4; i++)
                if (!j_hex(j->p[j->off + (size_t)i])) return -1;
            j->off += 4;
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return -1;
        }
    }
    return -1;
}

static int j_digits(jp_t *j)
{
    size_t s = j->off;
    while (j->off < j->n && j->p[j->off] >= '0' && j->p[j->off] <= '9') j->off++;
    return j->off > s ? 0 : -1;
}

static int j_number(jp_t *j)
{
    if (j->off < j->n && j->p[j->off] == '-') j->off++;
    if (j->off < j->n && j->p[j->off] == '0') j->off++;
    else if (j_digits(j)) return -1;
    if (j->off < j->n && j->p[j->off] == '.') {
        j->off++;
        if (j_digits(j)) return -1;
    }
    if (j->off < j->n && (j->p[j->off] | 32) == 'e') {
        j->off++;
        if (j->off < j->n && (j->p[j->off] == '+' || j->p[j->off] == '-')) j->off++;
        if (j_digits(j)) return -1;
    }
    return 0;
}

static int j_value(jp_t *j)
{
    j_ws(j);
    if (j->off >= j->n) return -1;
    uint8_t c = j->p[j->off];
    if (c == '"') return j_string(j);
    if (c == '-' || (c >= '0' && c <= '9')) return j_number(j);
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lits[i]);
        if (j->n - j->off >= l && !memcmp(j->p + j->off, lits[i], l)) {
            j->off += l;
            return 0;
        }
    }
    if (c != '[' && c != '{') return -1;
    if (++j->depth > 256) return -1;
    uint8_t close = c == '[' ? ']' : '}';
    j->off++;
    j_ws(j);
    if (j->off < j->n && j->p[j->off] == close) {
        j->off++;
        j->depth--;
        return 0;
    }
    for (;;) {
        if (c == '{') {
            j_ws(j);
            if (j_string(j)) return -1;
            j_ws(j);
            if (j->off >= j->n || j->p[j->off++] != ':') return -1;
        }
        if (j_value(j)) return -1;
        j_ws(j);
        if (j->off >= j->n) return -1;
        uint8_t d = j->p[j->off++];
        if (d == close) break;
        if (d != ',') return -1;
    }
    j->depth--;
    return 0;
}

static int json_valid(const void *p, size_t len, size_t *where)
{
    jp_t j = {p, len, 0, 0};
    int rc = j_value(&j);
    if (!rc) {
        j_ws(&j);
        rc = j.off == len ? 0 : -1;
    }
    *where = j.off;
    return rc;
}

/* ---- Avro binary walker ------------------------------------------------------------------- */
/* Walks one datum of `schema` over the bytes without decoding into values, so a hostile length
 * cannot make it allocate; counts steps so zero-size items in huge blocks cannot spin. */
typedef struct aw {
    const uint8_t *p;
    size_t n, off;
    uint64_t steps;
    const char *why;
} aw_t;

#define AW_MAX_STEPS (1u << 26)
#define AW_MAX_DEPTH 256

static int aw_varint(aw_t *w, int64_t *v, int maxbytes)
{
    uint64_t u = 0;
    for (int i = 0;; i++) {
        if (i >= maxbytes) return w->why = "varint too long", -1;
        if (w->off >= w->n) return w->why = "truncated", -1;
        uint8_t b = w->p[w->off++];
        u |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
    }
    if (maxbytes == 5 && u > 0xffffffffull) return w->why = "int out of range", -1;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

static int aw_skip(aw_t *w, int64_t n)
{
    if (n < 0) return w->why = "negative length", -1;
    if ((uint64_t)n > w->n - w->off) return w->why = "length past the end", -1;
    w->off += (size_t)n;
    return 0;
}

static int aw_datum(aw_t *w, avro_schema_t s, int depth)
{
    int64_t v;
    if (depth > AW_MAX_DEPTH) return w->why = "nested too deep", -1;
    if (++w->steps > AW_MAX_STEPS) return w->why = "too many items", -1;
    switch (avro_typeof(s)) {
    case AVRO_NULL: return 0;
    case AVRO_BOOLEAN:
        if (w->off >= w->n) return w->why = "truncated", -1;
        if (w->p[w->off] > 1) return w->why = "boolean not 0 or 1", -1;
        w->off++;
        return 0;
    case AVRO_INT32: return aw_varint(w, &v, 5);
    case AVRO_INT64: return aw_varint(w, &v, 10);
    case AVRO_FLOAT: return aw_skip(w, 4);
    case AVRO_DOUBLE: return aw_skip(w, 8);
    case AVRO_STRING:
    case AVRO_BYTES:
        if (aw_varint(w, &v, 10)) return -1;
        return aw_skip(w, v);
    case AVRO_FIXED: return aw_skip(w, avro_schema_fixed_size(s));
    case AVRO_ENUM:
        if (aw_varint(w, &v, 5)) return -1;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            return w->why = "enum index out of range", -1;
        return 0;
    case AVRO_UNION:
        if (aw_varint(w, &v, 10)) return -1;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            return w->why = "union branch out of range", -1;
        return aw_datum(w, avro_schema_union_branch(s, (int)v), depth + 1);
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n; i++)
            if (aw_datum(w, avro_schema_record_field_get_by_index(s, (int)i), depth + 1)) return -1;
        return 0;
    }
    case AVRO_ARRAY:
    case AVRO_MAP: {
        bool map = avro_typeof(s) == AVRO_MAP;
        avro_schema_t item = map ? avro_schema_map_values(s) : avro_schema_array_items(s);
        for (;;) {
            int64_t count, size;
            if (aw_varint(w, &count, 10)) return -1;
            if (!count) return 0;
            if (count < 0) {
                if (count == INT64_MIN) return w->why = "bad block count", -1;
                count = -count;
                if (aw_varint(w, &size, 10)) return -1;
                if (size < 0 || (uint64_t)size > w->n - w->off)
                    return w->why = "bad block size", -1;
            }
            if ((uint64_t)count > AW_MAX_STEPS) return w->why = "too many items", -1;
            for (int64_t i = 0; i < count; i++) {
                if (map && (aw_varint(w, &v, 10) || aw_skip(w, v))) return -1;
                if (aw_datum(w, item, depth + 1)) return -1;
            }
        }
    }
    case AVRO_LINK: return aw_datum(w, avro_schema_link_target(s), depth + 1);
    default: return w->why = "unsupported Avro type", -1;
    }
}

/* ---- compiled checks ---------------------------------------------------------------------- */
struct schema_check {
    int type;
    avro_schema_t avro;           /* AVRO */
    int kv_enc;                   /* KEY_VALUE */
    struct schema_check *key, *value;
};

void schema_check_free(schema_check_t *c)
{
    if (!c) return;
    if (c->avro) avro_schema_decref(c->avro);
    schema_check_free(c->key);
    schema_check_free(c->value);
    mg_free(c);
}

mg_result schema_check_new(const mg_schema_t *s, schema_check_t **out)
{
    *out = NULL;
    if (!s || s->type < 0) return MG_ERR_INVALID_ARG;
    schema_check_t *c = mg_calloc(1, sizeof *c);
    if (!c) return MG_ERR_NO_MEMORY;
    c->type = s->type;
    mg_result r = MG_OK;
    if (s->type == MG_SCHEMA_AVRO) {
        if (avro_schema_from_json_length((const char *)s->data, s->len, &c->avro)) {
            c->avro = NULL;
            r = invalid("AVRO schema does not parse: %s", avro_strerror());
        }
    } else if (s->type == MG_SCHEMA_KEY_VALUE) {
        mg_schema_t *k = NULL, *v = NULL;
        c->kv_enc = mg_schema_kv_encoding(s);
        r = mg_schema_kv_split(s, &k, &v);
        if (!r) r = schema_check_new(k, &c->key);
        if (!r) r = schema_check_new(v, &c->value);
        mg_schema_free(k);
        mg_schema_free(v);
    }
    if (r) {
        schema_check_free(c);
        return r;
    }
    *out = c;
    return MG_OK;
}

static mg_result check_size(int type, size_t len, size_t want)
{
    if (len == want) return MG_OK;
    return invalid("%s payload must be %zu bytes, got %zu", java_type_names[type], want, len);
}

static mg_result check_part(const schema_check_t *c, const char *what, const void *p, size_t len)
{
    mg_result r = schema_check_payload(c, p ? p : "", p ? len : 0);
    if (r) {
        char inner[200];
        snprintf(inner, sizeof inner, "%s", mg_last_error_message());
        return invalid("KEY_VALUE %s: %s", what, inner);
    }
    return MG_OK;
}

mg_result schema_check_payload(const schema_check_t *c, const void *p, size_t len)
{
    if (!c || (len && !p)) return MG_ERR_INVALID_ARG;
    switch (c->type) {
    case MG_SCHEMA_AVRO: {
        aw_t w = {p, len, 0, 0, NULL};
        if (aw_datum(&w, c->avro, 0))
            return invalid("AVRO payload does not match the schema: %s at byte %zu", w.why, w.off);
        if (w.off != len)
            return invalid("AVRO payload has %zu bytes left over after the datum", len - w.off);
        return MG_OK;
    }
    case MG_SCHEMA_JSON: {
        size_t at;
        if (json_valid(p, len, &at))
            return invalid("JSON payload is not valid JSON (at byte %zu)", at);
        return MG_OK;
    }
    case MG_SCHEMA_BOOL:
    case MG_SCHEMA_INT8: return check_size(c->type, len, 1);
    case MG_SCHEMA_INT16: return check_size(c->type, len, 2);
    case MG_SCHEMA_INT32:
    case MG_SCHEMA_FLOAT: return check_size(c->type, len, 4);
    case MG_SCHEMA_INT64: case MG_SCHEMA_DOUBLE: case MG_SCHEMA_DATE: case MG_SCHEMA_TIME:
    case MG_SCHEMA_TIMESTAMP: case MG_SCHEMA_LOCAL_DATE: case MG_SCHEMA_LOCAL_TIME:
        return check_size(c->type, len, 8);
    case MG_SCHEMA_INSTANT: return check_size(c->type, len, 12);
    case MG_SCHEMA_LOCAL_DATE_TIME: return check_size(c->type, len, 16);
    case MG_SCHEMA_KEY_VALUE: {
        if (c->kv_enc == MG_KV_SEPARATED) return check_part(c->value, "value", p, len);
        const void *k, *v;
        size_t kl, vl;
        if (mg_kv_decode(p, len, &k, &kl, &v, &vl))
            return invalid("KEY_VALUE INLINE payload is not [len][key][len][value]");
        mg_result r = k ? check_part(c->key, "key", k, kl) : MG_OK;
        return r ? r : v ? check_part(c->value, "value", v, vl) : MG_OK;
    }
    default: return MG_OK; /* STRING, BYTES, PROTOBUF, PROTOBUF_NATIVE */
    }
}

mg_result mg_schema_validate(const mg_schema_t *s, const void *data, size_t len)
{
    if (!s || (len && !data)) return MG_ERR_INVALID_ARG;
    client_set_error(NULL);
    schema_check_t *c;
    mg_result r = schema_check_new(s, &c);
    if (r) return r;
    r = schema_check_payload(c, data, len);
    schema_check_free(c);
    return r;
}

/* ---- AUTO_CONSUME / AUTO_PUBLISH at creation ---------------------------------------------- */
mg_result schema_resolve_auto(struct mg_client *cl, const char *topic, mg_schema_t **out,
                              schema_check_t **check)
{
    *out = NULL;
    if (check) *check = NULL;
    mg_schema_t *s;
    mg_result r = mg_client_get_schema(cl, topic, -1, &s);
    if (r == MG_ERR_TOPIC_NOT_FOUND) { /* no schema: BYTES, as Pulsar */
        client_set_error(NULL);
        return MG_OK;
    }
    if (r) return r;
    if (s->type == MG_SCHEMA_BYTES) {
        mg_schema_free(s);
        return MG_OK;
    }
    if (check && (r = schema_check_new(s, check))) {
        mg_schema_free(s);
        return r;
    }
    *out = s;
    return MG_OK;
}

/* ---- writer schemas (AUTO_CONSUME) -------------------------------------------------------- */
typedef struct schema_cache_entry {
    struct schema_cache_entry *next;
    char *topic; /* without -partition-N */
    int64_t version;
    mg_schema_t *schema;
} schema_cache_entry_t;

void schema_cache_free_locked(struct mg_client *cl)
{
    while (cl->schema_cache) {
        schema_cache_entry_t *e = cl->schema_cache;
        cl->schema_cache = e->next;
        mg_free(e->topic);
        mg_schema_free(e->schema);
        mg_free(e);
    }
}

/* Length of topic without a "-partition-N" suffix (partitions share one schema history). */
static size_t base_topic_len(const char *t)
{
    size_t n = strlen(t);
    const char *p = strstr(t, "-partition-");
    for (const char *q; p && (q = strstr(p + 1, "-partition-"));) p = q;
    if (!p || !p[11]) return n;
    for (const char *d = p + 11; *d; d++)
        if (*d < '0' || *d > '9') return n;
    return (size_t)(p - t);
}

static mg_schema_t *cache_find_locked(struct mg_client *cl, const char *t, size_t tl, int64_t v)
{
    for (schema_cache_entry_t *e = cl->schema_cache; e; e = e->next)
        if (e->version == v && strlen(e->topic) == tl && !memcmp(e->topic, t, tl)) return e->schema;
    return NULL;
}

mg_result mg_message_writer_schema(mg_client_t *cl, const mg_message_t *m, mg_schema_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    if (!cl || !m || !m->topic) return MG_ERR_INVALID_ARG;
    if (!m->schema_ver_len) return mg_schema_primitive(MG_SCHEMA_BYTES, out);
    int64_t v = mg_message_schema_version(m);
    if (v < 0) return MG_ERR_NOT_SUPPORTED; /* not a LongSchemaVersion */
    size_t tl = base_topic_len(m->topic);
    pthread_mutex_lock(&cl->lock);
    mg_schema_t *hit = cl->stopping ? NULL : cache_find_locked(cl, m->topic, tl, v);
    if (hit) *out = schema_dup(hit);
    bool stopping = cl->stopping;
    pthread_mutex_unlock(&cl->lock);
    if (stopping) return MG_ERR_ALREADY_CLOSED;
    if (hit) return *out ? MG_OK : MG_ERR_NO_MEMORY;

    mg_schema_t *s;
    mg_result r = mg_client_get_schema(cl, m->topic, v, &s);
    if (r) return r;
    schema_cache_entry_t *e = mg_calloc(1, sizeof *e);
    pthread_mutex_lock(&cl->lock);
    if (e && !cache_find_locked(cl, m->topic, tl, v) && (e->topic = mg_strndup(m->topic, tl)) &&
        (e->schema = schema_dup(s))) {
        e->version = v;
        e->next = cl->schema_cache;
        cl->schema_cache = e;
        e = NULL;
    }
    pthread_mutex_unlock(&cl->lock);
    if (e) {
        mg_free(e->topic);
        mg_schema_free(e->schema);
        mg_free(e);
    }
    *out = s;
    return MG_OK;
}

void mg_auto_value_clear(mg_auto_value_t *v)
{
    if (!v) return;
    mg_schema_free(v->schema);
    if (v->avro) {
        avro_value_decref(v->avro);
        free(v->avro);
    }
    free(v->text);
    memset(v, 0, sizeof *v);
    v->schema_version = -1;
}

static mg_result decode_auto(const mg_message_t *m, mg_auto_value_t *out)
{
    const mg_schema_t *s = out->schema;
    mg_result r = mg_schema_validate(s, m->data, m->len);
    if (r) return r;
    switch (s->type) {
    case MG_SCHEMA_AVRO:
        if (!(out->avro = malloc(sizeof *out->avro))) return MG_ERR_NO_MEMORY;
        if ((r = mg_avro_decode(s, NULL, m->data, m->len, out->avro))) {
            free(out->avro);
            out->avro = NULL;
        }
        return r;
    case MG_SCHEMA_JSON:
    case MG_SCHEMA_STRING:
        if (!(out->text = malloc(m->len + 1))) return MG_ERR_NO_MEMORY;
        if (m->len) memcpy(out->text, m->data, m->len);
        out->text[m->len] = '\0';
        out->text_len = m->len;
        return MG_OK;
    case MG_SCHEMA_BOOL: return mg_decode_bool(m->data, m->len, &out->b);
    case MG_SCHEMA_INT8: {
        int8_t x = 0;
        r = mg_decode_int8(m->data, m->len, &x);
        out->i = x;
        return r;
    }
    case MG_SCHEMA_INT16: {
        int16_t x = 0;
        r = mg_decode_int16(m->data, m->len, &x);
        out->i = x;
        return r;
    }
    case MG_SCHEMA_INT32: {
        int32_t x = 0;
        r = mg_decode_int32(m->data, m->len, &x);
        out->i = x;
        return r;
    }
    case MG_SCHEMA_INT64: case MG_SCHEMA_DATE: case MG_SCHEMA_TIME: case MG_SCHEMA_TIMESTAMP:
    case MG_SCHEMA_LOCAL_DATE: case MG_SCHEMA_LOCAL_TIME:
        return mg_decode_int64(m->data, m->len, &out->i);
    case MG_SCHEMA_FLOAT: {
        float x = 0;
        r = mg_decode_float(m->data, m->len, &x);
        out->d = x;
        return r;
    }
    case MG_SCHEMA_DOUBLE: return mg_decode_double(m->data, m->len, &out->d);
    default: return MG_OK;
    }
}

mg_result mg_message_decode_auto(mg_client_t *cl, const mg_message_t *m, mg_auto_value_t *out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->schema_version = -1;
    if (!cl || !m) return MG_ERR_INVALID_ARG;
    mg_result r = mg_message_writer_schema(cl, m, &out->schema);
    if (r) return r;
    out->type = (mg_schema_type)out->schema->type;
    out->schema_version = mg_message_schema_version(m);
    out->data = m->data;
    out->len = m->len;
    return decode_auto(m, out);
}

/* ---- KEY_VALUE schemas -------------------------------------------------------------------- */
/* Append a JSON string as Gson writes it by default (HTML-safe: < > & = ' as \u00XX). */
static int json_put_str(mg_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        char e[7];
        const char *w = NULL;
        switch (*p) {
        case '"': w = "\\\""; break;
        case '\\': w = "\\\\"; break;
        case '\n': w = "\\n"; break;
        case '\r': w = "\\r"; break;
        case '\t': w = "\\t"; break;
        case '\b': w = "\\b"; break;
        case '\f': w = "\\f"; break;
        default:
            if (*p < 0x20 || strchr("<>&='", *p)) {
                snprintf(e, sizeof e, "\\u00%c%c", hex[*p >> 4], hex[*p & 15]);
                w = e;
            } else if (*p == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
                w = p[2] == 0xa8 ? "\\u2028" : "\\u2029";
                p += 2;
            }
        }
        rc = w ? buf_append(b, w, strlen(w)) : buf_append(b, p, 1);
    }
    return rc ? rc : buf_append(b, "\"", 1);
}

static int prop_cmp(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* SchemaUtils.serializeSchemaProperties: a JSON object of the properties, keys sorted. */
static char *props_json(const mg_schema_t *s)
{
    char ***order = mg_calloc(s->nprops ? s->nprops : 1, sizeof *order);
    mg_buf_t b;
    buf_init(&b);
    if (!order) return NULL;
    for (size_t i = 0; i < s->nprops; i++) order[i] = &s->props[2 * i];
    qsort(order, s->nprops, sizeof *order, prop_cmp);
    int rc = buf_append(&b, "{", 1);
    for (size_t i = 0; i < s->nprops && !rc; i++) {
        if (i) rc |= buf_append(&b, ",", 1);
        rc |= json_put_str(&b, order[i][0]);
        rc |= buf_append(&b, ":", 1);
        rc |= json_put_str(&b, order[i][1]);
    }
    rc |= buf_append(&b, "}", 2); /* with the NUL */
    mg_free(order);
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    char *out = mg_strdup((const char *)b.data);
    buf_free(&b);
    return out;
}

static mg_result kv_props(mg_schema_t *kv, const char *part, const mg_schema_t *s)
{
    char name[32];
    char *pj = props_json(s);
    if (!pj) return MG_ERR_NO_MEMORY;
    mg_result r;
    snprintf(name, sizeof name, "%s.schema.name", part);
    r = mg_schema_set_property(kv, name, s->name);
    snprintf(name, sizeof name, "%s.schema.type", part);
    if (!r) r = mg_schema_set_property(kv, name, java_type_names[s->type]);
    snprintf(name, sizeof name, "%s.schema.properties", part);
    if (!r) r = mg_schema_set_property(kv, name, pj);
    mg_free(pj);
    return r;
}

mg_result mg_schema_key_value(const mg_schema_t *key, const mg_schema_t *value,
                              mg_kv_encoding encoding, mg_schema_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    if (!key || !value || key->type < 0 || key->type >= N_JAVA_TYPES || value->type < 0 ||
        value->type >= N_JAVA_TYPES || (encoding != MG_KV_INLINE && encoding != MG_KV_SEPARATED) ||
        key->len > INT32_MAX || value->len > INT32_MAX)
        return MG_ERR_INVALID_ARG;
    /* KeyValue.encode(keyInfo, valueInfo): lengths of the schema data (0 for primitives) */
    size_t n = 8 + key->len + value->len;
    uint8_t *d = mg_malloc(n);
    if (!d) return MG_ERR_NO_MEMORY;
    wr_u32be(d, (uint32_t)key->len);
    if (key->len) memcpy(d + 4, key->data, key->len);
    wr_u32be(d + 4 + key->len, (uint32_t)value->len);
    if (value->len) memcpy(d + 8 + key->len, value->data, value->len);
    mg_result r = mg_schema_create(MG_SCHEMA_KEY_VALUE, d, n, out);
    mg_free(d);
    if (!r) r = mg_schema_set_name(*out, "KeyValue");
    if (!r) r = kv_props(*out, "key", key);
    if (!r) r = kv_props(*out, "value", value);
    if (!r)
        r = mg_schema_set_property(*out, "kv.encoding.type",
                                   encoding == MG_KV_SEPARATED ? "SEPARATED" : "INLINE");
    if (r) {
        mg_schema_free(*out);
        *out = NULL;
    }
    return r;
}

mg_kv_encoding mg_schema_kv_encoding(const mg_schema_t *kv)
{
    const char *e = mg_schema_get_property(kv, "kv.encoding.type");
    return e && !strcmp(e, "SEPARATED") ? MG_KV_SEPARATED : MG_KV_INLINE;
}

/* Parse a flat JSON object of strings ({"k":"v",...}, what serializeSchemaProperties writes)
 * into properties of s. Anything else: -1. */
static int j_unescape(jp_t *j, mg_buf_t *b)
{
    size_t s = j->off;
    if (j_string(j)) return -1;
    const uint8_t *p = j->p + s + 1, *end = j->p + j->off - 1;
    b->len = 0;
    while (p < end) {
        if (*p != '\\') {
            if (buf_append(b, p++, 1)) return -1;
            continue;
        }
        p++;
        uint8_t c = *p++, u8[4];
        size_t ul = 1;
        switch (c) {
        case 'b': u8[0] = '\b'; break;
        case 'f': u8[0] = '\f'; break;
        case 'n': u8[0] = '\n'; break;
        case 'r': u8[0] = '\r'; break;
        case 't': u8[0] = '\t'; break;
        case 'u': {
            char h[5] = {(char)p[0], (char)p[1], (char)p[2], (char)p[3], 0};
            unsigned cp = (unsigned)strtoul(h, NULL, 16);
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                char l[5] = {(char)p[2], (char)p[3], (char)p[4], (char)p[5], 0};
                unsigned lo = (unsigned)strtoul(l, NULL, 16);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (!cp) return -1; /* properties are C strings */
            if (cp < 0x80) u8[0] = (uint8_t)cp;
            else if (cp < 0x800) {
                u8[0] = (uint8_t)(0xc0 | cp >> 6);
                u8[1] = (uint8_t)(0x80 | (cp & 63));
                ul = 2;
            } else if (cp < 0x10000) {
                u8[0] = (uint8_t)(0xe0 | cp >> 12);
                u8[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
                u8[2] = (uint8_t)(0x80 | (cp & 63));
                ul = 3;
            } else {
                u8[0] = (uint8_t)(0xf0 | cp >> 18);
                u8[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
                u8[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
                u8[3] = (uint8_t)(0x80 | (cp & 63));
                ul = 4;
            }
            break;
        }
        default: u8[0] = c; /* " \ / */
        }
        if (buf_append(b, u8, ul)) return -1;
    }
    return buf_append(b, "", 1); /* NUL */
}

static int props_from_json(mg_schema_t *s, const char *json)
{
    jp_t j = {(const uint8_t *)json, strlen(json), 0, 0};
    mg_buf_t k, v;
    buf_init(&k);
    buf_init(&v);
    int rc = -1;
    j_ws(&j);
    if (j.off >= j.n || j.p[j.off++] != '{') goto done;
    j_ws(&j);
    if (j.off < j.n && j.p[j.off] == '}') {
        rc = 0;
        goto done;
    }
    for (;;) {
        j_ws(&j);
        if (j_unescape(&j, &k)) goto done;
        j_ws(&j);
        if (j.off >= j.n || j.p[j.off++] != ':') goto done;
        j_ws(&j);
        if (j_unescape(&j, &v)) goto done;
        if (mg_schema_set_property(s, (const char *)k.data, (const char *)v.data)) goto done;
        j_ws(&j);
        if (j.off >= j.n) goto done;
        uint8_t c = j.p[j.off++];
        if (c == '}') break;
        if (c != ',') goto done;
    }
    rc = 0;
done:
    buf_free(&k);
    buf_free(&v);
    return rc;
}

static mg_result kv_part(const mg_schema_t *kv, const char *part, const uint8_t *d, size_t len,
                         mg_schema_t **out)
{
    char name[32];
    snprintf(name, sizeof name, "%s.schema.type", part);
    const char *tn = mg_schema_get_property(kv, name);
    int type = -1;
    if (!tn || !strcmp(tn, "NONE")) type = MG_SCHEMA_BYTES;
    for (int i = 0; i < N_JAVA_TYPES && type < 0; i++)
        if (!strcmp(tn, java_type_names[i])) type = i;
    if (type < 0) return invalid("KEY_VALUE %s schema type '%s' is unknown", part, tn);
    mg_result r = mg_schema_create((mg_schema_type)type, d, len, out);
    if (r) return r;
    snprintf(name, sizeof name, "%s.schema.name", part);
    const char *nm = mg_schema_get_property(kv, name);
    if (nm && (r = mg_schema_set_name(*out, nm))) goto fail;
    snprintf(name, sizeof name, "%s.schema.properties", part);
    const char *pj = mg_schema_get_property(kv, name);
    if (pj && *pj && props_from_json(*out, pj)) {
        r = invalid("KEY_VALUE %s.schema.properties is not a JSON object of strings", part);
        goto fail;
    }
    return MG_OK;
fail:
    mg_schema_free(*out);
    *out = NULL;
    return r;
}

mg_result mg_schema_kv_split(const mg_schema_t *kv, mg_schema_t **key, mg_schema_t **value)
{
    if (!key || !value) return MG_ERR_INVALID_ARG;
    *key = *value = NULL;
    if (!kv || kv->type != MG_SCHEMA_KEY_VALUE) return MG_ERR_INVALID_ARG;
    const void *k, *v;
    size_t kl, vl;
    if (mg_kv_decode(kv->data, kv->len, &k, &kl, &v, &vl))
        return invalid("KEY_VALUE schema data is not [len][key schema][len][value schema]");
    mg_result r = kv_part(kv, "key", k, kl, key);
    if (!r && (r = kv_part(kv, "value", v, vl, value))) {
        mg_schema_free(*key);
        *key = NULL;
    }
    return r;
}

/* ---- KEY_VALUE payloads ------------------------------------------------------------------- */
mg_result mg_kv_encode(const void *key, size_t klen, const void *value, size_t vlen,
                       uint8_t **out, size_t *len)
{
    if (!out || !len) return MG_ERR_INVALID_ARG;
    *out = NULL;
    *len = 0;
    if (!key) klen = 0;
    if (!value) vlen = 0;
    if (klen > INT32_MAX || vlen > INT32_MAX || klen + vlen > SIZE_MAX - 8)
        return MG_ERR_INVALID_ARG;
    size_t n = 8 + klen + vlen;
    uint8_t *b = malloc(n); /* the caller frees with free() */
    if (!b) return MG_ERR_NO_MEMORY;
    wr_u32be(b, key ? (uint32_t)klen : 0xffffffffu);
    if (klen) memcpy(b + 4, key, klen);
    wr_u32be(b + 4 + klen, value ? (uint32_t)vlen : 0xffffffffu);
    if (vlen) memcpy(b + 8 + klen, value, vlen);
    *out = b;
    *len = n;
    return MG_OK;
}

/* One [BE32 len][bytes] part at *off; len -1 is a null part. */
static int kv_take(const uint8_t *p, size_t n, size_t *off, const void **part, size_t *plen)
{
    if (n - *off < 4) return -1;
    uint32_t l = rd_u32be(p + *off);
    *off += 4;
    *part = NULL;
    *plen = 0;
    if (l == 0xffffffffu) return 0;
    if (l > n - *off) return -1;
    *part = p + *off;
    *plen = l;
    *off += l;
    return 0;
}

mg_result mg_kv_decode(const void *p, size_t len, const void **key, size_t *klen,
                       const void **value, size_t *vlen)
{
    if ((len && !p) || !key || !klen || !value || !vlen) return MG_ERR_INVALID_ARG;
    size_t off = 0;
    if (kv_take(p, len, &off, key, klen) || kv_take(p, len, &off, value, vlen) || off != len) {
        *key = *value = NULL;
        *klen = *vlen = 0;
        return MG_ERR_INVALID_ARG;
    }
    return MG_OK;
}

/* ---- binary keys (base64, RFC 4648 with padding, as java.util.Base64) --------------------- */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *p, size_t n)
{
    char *o = mg_malloc((n + 2) / 3 * 4 + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *w++ = b64[v >> 18];
        *w++ = b64[(v >> 12) & 63];
        *w++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *w++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *w = '\0';
    return o;
}

static int b64_decode(const char *s, uint8_t **out, size_t *len)
{
    size_t n = strlen(s);
    if (n % 4) return -1;
    uint8_t *o = malloc(n / 4 * 3 + 1), *w = o; /* the caller frees with free() */
    if (!o) return -1;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + (size_t)k];
            const char *q = c ? strchr(b64, c) : NULL;
            if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
            } else if (q && !pad) {
                v = v << 6 | (uint32_t)(q - b64);
            } else {
                free(o);
                return -1;
            }
        }
        *w++ = (uint8_t)(v >> 16);
        if (pad < 2) *w++ = (uint8_t)(v >> 8);
        if (pad < 1) *w++ = (uint8_t)v;
    }
    *out = o;
    *len = (size_t)(w - o);
    return 0;
}

mg_result mg_message_set_key_bytes(mg_message_t *m, const void *key, size_t len)
{
    if (!m || (len && !key)) return MG_ERR_INVALID_ARG;
    char *e = b64_encode(key, len);
    if (!e) return MG_ERR_NO_MEMORY;
    mg_free(m->key);
    m->key = e;
    m->key_b64 = true;
    return MG_OK;
}

bool mg_message_key_is_base64(const mg_message_t *m) { return m && m->key && m->key_b64; }

mg_result mg_message_key_bytes(const mg_message_t *m, uint8_t **out, size_t *len)
{
    if (!m || !out || !len) return MG_ERR_INVALID_ARG;
    *out = NULL;
    *len = 0;
    if (!m->key) return MG_OK;
    if (m->key_b64) return b64_decode(m->key, out, len) ? MG_ERR_INVALID_ARG : MG_OK;
    size_t n = strlen(m->key);
    if (!(*out = malloc(n + 1))) return MG_ERR_NO_MEMORY;
    memcpy(*out, m->key, n + 1);
    *len = n;
    return MG_OK;
}

mg_result mg_message_new_kv(const void *key, size_t klen, const void *value, size_t vlen,
                            mg_kv_encoding encoding, mg_message_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    if ((klen && !key) || (vlen && !value)) return MG_ERR_INVALID_ARG;
    mg_result r = MG_OK;
    if (encoding == MG_KV_INLINE) {
        uint8_t *p;
        size_t n;
        if ((r = mg_kv_encode(key, klen, value, vlen, &p, &n))) return r;
        *out = mg_message_new(p, n);
        free(p);
        return *out ? MG_OK : MG_ERR_NO_MEMORY;
    }
    if (encoding != MG_KV_SEPARATED) return MG_ERR_INVALID_ARG;
    if (!(*out = mg_message_new(value, value ? vlen : 0))) return MG_ERR_NO_MEMORY;
    if (key && (r = mg_message_set_key_bytes(*out, key, klen))) {
        mg_message_free(*out);
        *out = NULL;
    }
    return r;
}

static uint8_t *copy_or_null(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1); /* the caller frees with free() */
    if (c && n) memcpy(c, p, n);
    return c;
}

mg_result mg_message_get_kv(const mg_message_t *m, mg_kv_encoding encoding, uint8_t **key,
                            size_t *klen, uint8_t **value, size_t *vlen)
{
    if (!key || !klen || !value || !vlen) return MG_ERR_INVALID_ARG;
    *key = *value = NULL;
    *klen = *vlen = 0;
    if (!m) return MG_ERR_INVALID_ARG;
    const void *k = NULL, *v = m->data;
    size_t kl = 0, vl = m->len;
    mg_result r;
    if (encoding == MG_KV_INLINE) {
        if (mg_kv_decode(m->data, m->len, &k, &kl, &v, &vl))
            return invalid("KEY_VALUE INLINE payload is not [len][key][len][value]");
        if (k && !(*key = copy_or_null(k, kl))) return MG_ERR_NO_MEMORY;
        *klen = kl;
    } else if (encoding != MG_KV_SEPARATED) {
        return MG_ERR_INVALID_ARG;
    } else if ((r = mg_message_key_bytes(m, key, klen))) {
        return r;
    }
    if (v && !(*value = copy_or_null(v, vl))) {
        free(*key);
        *key = NULL;
        *klen = 0;
        return MG_ERR_NO_MEMORY;
    }
    *vlen = v ? vl : 0;
    return MG_OK;
}
