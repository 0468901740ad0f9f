/* test_client_schema: libmagnetar's schema helpers without a broker: primitive encoders
 * byte-exact against Pulsar's Java schemas (big-endian, Double.doubleToLongBits,
 * Float.floatToRawIntBits), size checks of the decoders, mg_schema_t construction and its
 * protocol form (as the official client's PRODUCER in fixture 13), and the Avro helpers
 * reproducing the official client's payload bytes from the same fixture; KEY_VALUE schema data and
 * properties (Java's KeyValueSchemaInfo) and INLINE / SEPARATED payloads byte for byte, and the
 * AUTO_PRODUCE_BYTES payload checks (mg_schema_validate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/client/message.c"
#include "../../src/client/schema.c"
#include "../../src/client/schema_auto.c"

/* schema.c and message.c reach into the rest of the client; not used by these tests */
void message_unref_consumer(mg_message_t *m) { m->cons = NULL; }
mg_result cl_topic_full(const char *in, char *out, size_t outlen) { return MG_ERR_NOT_SUPPORTED; }
mg_result cl_lookup_locked(struct mg_client *cl, const char *topic, conn_t **out)
{
    return MG_ERR_NOT_SUPPORTED;
}
mg_result conn_rpc_locked(conn_t *c, const pb_cmd_t *cmd, req_t *r, int timeout_ms)
{
    return MG_ERR_NOT_SUPPORTED;
}

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})

static void test_integers(void **s)
{
    uint8_t b[8];
    assert_int_equal(mg_encode_bool(true, b), 1);
    assert_int_equal(b[0], 1);
    assert_int_equal(mg_encode_bool(false, b), 1);
    assert_int_equal(b[0], 0);
    assert_int_equal(mg_encode_int8(-2, b), 1);
    assert_int_equal(b[0], 0xfe);
    assert_int_equal(mg_encode_int16(-2, b), 2);
    assert_memory_equal(b, BYTES(0xff, 0xfe), 2);
    assert_int_equal(mg_encode_int32(0x01020304, b), 4);
    assert_memory_equal(b, BYTES(1, 2, 3, 4), 4);
    assert_int_equal(mg_encode_int32(INT32_MIN, b), 4);
    assert_memory_equal(b, BYTES(0x80, 0, 0, 0), 4);
    assert_int_equal(mg_encode_int64(0x0102030405060708ll, b), 8);
    assert_memory_equal(b, BYTES(1, 2, 3, 4, 5, 6, 7, 8), 8);
    assert_int_equal(mg_encode_int64(-1, b), 8);
    assert_memory_equal(b, BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 8);

    bool bv;
    assert_int_equal(mg_decode_bool(BYTES(7), 1, &bv), MG_OK);
    assert_true(bv); /* BooleanSchema: bytes[0] != 0 */
    int8_t i8;
    assert_int_equal(mg_decode_int8(BYTES(0x80), 1, &i8), MG_OK);
    assert_int_equal(i8, -128);
    int16_t i16;
    assert_int_equal(mg_decode_int16(BYTES(0x80, 0x01), 2, &i16), MG_OK);
    assert_int_equal(i16, -32767);
    int32_t i32;
    assert_int_equal(mg_decode_int32(BYTES(0xff, 0xff, 0xff, 0xfe), 4, &i32), MG_OK);
    assert_int_equal(i32, -2);
    int64_t i64;
    assert_int_equal(mg_decode_int64(BYTES(0x80, 0, 0, 0, 0, 0, 0, 0), 8, &i64), MG_OK);
    assert_true(i64 == INT64_MIN);
    /* sizes are checked, as Pulsar's validate() */
    assert_int_equal(mg_decode_bool(BYTES(1, 0), 2, &bv), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_decode_int16(BYTES(1), 1, &i16), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_decode_int32(BYTES(1, 2, 3, 4, 5), 5, &i32), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_decode_int64(BYTES(1, 2, 3, 4), 4, &i64), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_decode_int64(NULL, 8, &i64), MG_ERR_INVALID_ARG);
}

static void test_floats(void **s)
{
    uint8_t b[8];
    assert_int_equal(mg_encode_float(1.5f, b), 4);
    assert_memory_equal(b, BYTES(0x3f, 0xc0, 0, 0), 4);
    assert_int_equal(mg_encode_double(-1.5, b), 8);
    assert_memory_equal(b, BYTES(0xbf, 0xf8, 0, 0, 0, 0, 0, 0), 8);
    assert_int_equal(mg_encode_double(12345678.1234, b), 8);
    assert_memory_equal(b, BYTES(0x41, 0x67, 0x8c, 0x29, 0xc3, 0xf2, 0xe4, 0x8f), 8);
    /* doubleToLongBits canonicalises NaN; floatToRawIntBits keeps the payload */
    uint64_t nanbits = 0xfff8000000000123ull;
    double dn;
    memcpy(&dn, &nanbits, 8);
    mg_encode_double(dn, b);
    assert_memory_equal(b, BYTES(0x7f, 0xf8, 0, 0, 0, 0, 0, 0), 8);
    uint32_t fnbits = 0x7fc00001u;
    float fn;
    memcpy(&fn, &fnbits, 4);
    mg_encode_float(fn, b);
    assert_memory_equal(b, BYTES(0x7f, 0xc0, 0, 1), 4);

    float f;
    assert_int_equal(mg_decode_float(BYTES(0xc0, 0x49, 0x0f, 0xdb), 4, &f), MG_OK);
    assert_true(f == -3.14159274101257324f);
    double d;
    assert_int_equal(mg_decode_double(BYTES(0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18), 8, &d),
                     MG_OK);
    assert_true(d == 3.141592653589793);
    assert_int_equal(mg_decode_double(BYTES(0, 0, 0, 0), 4, &d), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_decode_float(BYTES(0, 0, 0, 0, 0, 0, 0, 0), 8, &f), MG_ERR_INVALID_ARG);
}

static void test_messages(void **s)
{
    mg_message_t *m = mg_message_new_int16(258);
    assert_int_equal(mg_message_len(m), 2);
    assert_memory_equal(mg_message_data(m), BYTES(1, 2), 2);
    int16_t v;
    assert_int_equal(mg_message_get_int16(m, &v), MG_OK);
    assert_int_equal(v, 258);
    int8_t b;
    assert_int_equal(mg_message_get_int8(m, &b), MG_ERR_INVALID_ARG);
    mg_message_free(m);

    m = mg_message_new_string("caf\xc3\xa9");
    assert_int_equal(mg_message_len(m), 5); /* UTF-8 bytes, no terminator */
    char *str;
    assert_int_equal(mg_message_get_string(m, &str), MG_OK);
    assert_string_equal(str, "caf\xc3\xa9");
    free(str);
    mg_message_free(m);
    m = mg_message_new("a\0b", 3);
    assert_int_equal(mg_message_get_string(m, &str), MG_ERR_INVALID_ARG);
    assert_null(str);
    assert_int_equal(mg_message_schema_version(m), -1);
    mg_message_free(m);
}

static const char AVRO_READING[] =
    "{\n \"type\": \"record\",\n \"name\": \"Reading\",\n \"fields\": [\n  {\n   \"name\": \"name\",\n"
    "   \"type\": [\n    \"null\",\n    \"string\"\n   ]\n  },\n  {\n   \"name\": \"value\",\n"
    "   \"type\": [\n    \"null\",\n    \"int\"\n   ]\n  }\n ]\n}";

static void test_schema_objects(void **s)
{
    mg_schema_t *a;
    assert_int_equal(mg_schema_avro(AVRO_READING, &a), MG_OK);
    assert_int_equal(mg_schema_set_property(a, "k", "v"), MG_OK);
    /* what PRODUCER carries: fixture 13 (name "AVRO", the JSON as given, type Avro) */
    Pulsar__Proto__Schema pb = PULSAR__PROTO__SCHEMA__INIT;
    Pulsar__Proto__KeyValue kv[4], *kvp[4];
    schema_to_proto(a, &pb, kv, kvp, 4);
    assert_string_equal(pb.name, "AVRO");
    assert_int_equal(pb.type, PULSAR__PROTO__SCHEMA__TYPE__Avro);
    assert_int_equal(pb.schema_data.len, strlen(AVRO_READING));
    assert_memory_equal(pb.schema_data.data, AVRO_READING, pb.schema_data.len);
    assert_int_equal(pb.n_properties, 1);
    assert_string_equal(pb.properties[0]->key, "k");
    mg_schema_t *d = schema_dup(a);
    mg_schema_free(a);
    assert_string_equal(mg_schema_get_property(d, "k"), "v");
    assert_null(mg_schema_get_property(d, "x"));
    assert_int_equal(mg_schema_set_name(d, "Reading"), MG_OK);
    assert_string_equal(mg_schema_get_name(d), "Reading");
    mg_schema_free(d);

    mg_schema_t *p = NULL;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_DOUBLE, &p), MG_OK);
    assert_string_equal(mg_schema_get_name(p), "DOUBLE");
    size_t len = 9;
    mg_schema_get_data(p, &len);
    assert_int_equal(len, 0);
    mg_schema_free(p);
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_KEY_VALUE, &p), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_schema_create((mg_schema_type)21, "", 0, &p), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_schema_json("[\"null\", nope]", &p), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_schema_create(MG_SCHEMA_PROTOBUF_NATIVE, "{}", 2, &p), MG_OK);
    assert_int_equal(mg_schema_get_type(p), MG_SCHEMA_PROTOBUF_NATIVE);
    mg_schema_free(p);
}

/* The official client's SEND payloads of fixture 13: Reading(name='sensor-N', value=N*10). */
static void test_avro_fixture_bytes(void **s)
{
    mg_schema_t *sch;
    assert_int_equal(mg_schema_avro(AVRO_READING, &sch), MG_OK);
    for (int i = 0; i < 2; i++) {
        avro_value_t rec, f, br;
        assert_int_equal(mg_avro_value_new(sch, &rec), MG_OK);
        char name[16];
        snprintf(name, sizeof name, "sensor-%d", i);
        avro_value_get_by_name(&rec, "name", &f, NULL);
        avro_value_set_branch(&f, 1, &br);
        avro_value_set_string(&br, name);
        avro_value_get_by_name(&rec, "value", &f, NULL);
        avro_value_set_branch(&f, 1, &br);
        avro_value_set_int(&br, i * 10);
        mg_message_t *m;
        assert_int_equal(mg_message_new_avro(&rec, &m), MG_OK);
        avro_value_decref(&rec);
        const uint8_t want0[] = "\x02\x10sensor-0\x02\x00", want1[] = "\x02\x10sensor-1\x02\x14";
        assert_int_equal(mg_message_len(m), 12);
        assert_memory_equal(mg_message_data(m), i ? want1 : want0, 12);
        assert_int_equal(mg_message_get_avro(m, sch, NULL, &rec), MG_OK);
        avro_value_get_by_name(&rec, "name", &f, NULL);
        avro_value_get_current_branch(&f, &br);
        const char *got;
        size_t gl;
        avro_value_get_string(&br, &got, &gl);
        assert_string_equal(got, name);
        avro_value_decref(&rec);
        mg_message_free(m);
    }
    /* truncated data and a non-Avro schema are errors, not crashes (truncated inside the union:
     * avro-c leaks its string buffer when the data ends inside a string) */
    avro_value_t v;
    assert_int_equal(mg_avro_decode(sch, NULL, "\x02", 1, &v), MG_ERR_INVALID_ARG);
    mg_schema_t *prim;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_INT32, &prim), MG_OK);
    assert_int_equal(mg_avro_value_new(prim, &v), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_avro_decode(prim, NULL, "\0\0\0\0", 4, &v), MG_ERR_INVALID_ARG);
    mg_schema_free(prim);
    mg_schema_free(sch);
}

/* KeyValueSchemaInfo.encodeKeyValueSchemaInfo: data [BE32 len][key data][BE32 len][value data]
 * (0-length for primitives), name "KeyValue", seven properties. */
static void test_kv_schema_bytes(void **s)
{
    mg_schema_t *k, *v, *kv;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_INT32, &k), MG_OK);
    assert_int_equal(mg_schema_avro(AVRO_READING, &v), MG_OK);
    assert_int_equal(mg_schema_set_property(v, "b", "x=1"), MG_OK);
    assert_int_equal(mg_schema_set_property(v, "a", "<q\"\n>"), MG_OK);
    assert_int_equal(mg_schema_key_value(k, v, MG_KV_INLINE, &kv), MG_OK);
    assert_int_equal(mg_schema_get_type(kv), MG_SCHEMA_KEY_VALUE);
    assert_string_equal(mg_schema_get_name(kv), "KeyValue");
    size_t len, al = strlen(AVRO_READING);
    const uint8_t *d = mg_schema_get_data(kv, &len);
    assert_int_equal(len, 8 + al);
    assert_memory_equal(d, BYTES(0, 0, 0, 0, 0, 0, (uint8_t)(al >> 8), (uint8_t)al), 8);
    assert_memory_equal(d + 8, AVRO_READING, al);
    assert_string_equal(mg_schema_get_property(kv, "key.schema.name"), "INT32");
    assert_string_equal(mg_schema_get_property(kv, "key.schema.type"), "INT32");
    assert_string_equal(mg_schema_get_property(kv, "key.schema.properties"), "{}");
    assert_string_equal(mg_schema_get_property(kv, "value.schema.name"), "AVRO");
    assert_string_equal(mg_schema_get_property(kv, "value.schema.type"), "AVRO");
    /* Gson: keys sorted, HTML-safe escapes */
    assert_string_equal(mg_schema_get_property(kv, "value.schema.properties"),
                        "{\"a\":\"\\u003cq\\\"\\n\\u003e\",\"b\":\"x\\u003d1\"}");
    assert_string_equal(mg_schema_get_property(kv, "kv.encoding.type"), "INLINE");
    assert_int_equal(mg_schema_kv_encoding(kv), MG_KV_INLINE);
    /* the protocol form: type KeyValue (15), the seven properties */
    Pulsar__Proto__Schema pb = PULSAR__PROTO__SCHEMA__INIT;
    Pulsar__Proto__KeyValue pkv[8], *pkvp[8];
    schema_to_proto(kv, &pb, pkv, pkvp, 8);
    assert_int_equal(pb.type, PULSAR__PROTO__SCHEMA__TYPE__KeyValue);
    assert_int_equal(pb.n_properties, 7);

    /* and back */
    mg_schema_t *k2, *v2;
    assert_int_equal(mg_schema_kv_split(kv, &k2, &v2), MG_OK);
    assert_int_equal(mg_schema_get_type(k2), MG_SCHEMA_INT32);
    mg_schema_get_data(k2, &len);
    assert_int_equal(len, 0);
    assert_int_equal(mg_schema_get_type(v2), MG_SCHEMA_AVRO);
    d = mg_schema_get_data(v2, &len);
    assert_int_equal(len, al);
    assert_memory_equal(d, AVRO_READING, al);
    assert_string_equal(mg_schema_get_property(v2, "a"), "<q\"\n>");
    assert_string_equal(mg_schema_get_property(v2, "b"), "x=1");
    mg_schema_free(k2);
    mg_schema_free(v2);
    mg_schema_free(kv);

    /* SEPARATED, two primitives: 8 bytes of zero lengths */
    mg_schema_t *str;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_STRING, &str), MG_OK);
    assert_int_equal(mg_schema_key_value(str, k, MG_KV_SEPARATED, &kv), MG_OK);
    d = mg_schema_get_data(kv, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(d, BYTES(0, 0, 0, 0, 0, 0, 0, 0), 8);
    assert_string_equal(mg_schema_get_property(kv, "kv.encoding.type"), "SEPARATED");
    assert_string_equal(mg_schema_get_property(kv, "key.schema.type"), "STRING");
    assert_string_equal(mg_schema_get_property(kv, "value.schema.type"), "INT32");
    assert_int_equal(mg_schema_kv_encoding(kv), MG_KV_SEPARATED);
    mg_schema_free(kv);
    /* a KeyValue schema without properties (e.g. uploaded by hand) splits as BYTES, INLINE */
    assert_int_equal(mg_schema_create(MG_SCHEMA_KEY_VALUE, "\xff\xff\xff\xff\0\0\0\0", 8, &kv), MG_OK);
    assert_int_equal(mg_schema_kv_encoding(kv), MG_KV_INLINE);
    assert_int_equal(mg_schema_kv_split(kv, &k2, &v2), MG_OK);
    assert_int_equal(mg_schema_get_type(k2), MG_SCHEMA_BYTES);
    assert_int_equal(mg_schema_get_type(v2), MG_SCHEMA_BYTES);
    mg_schema_free(k2);
    mg_schema_free(v2);
    mg_schema_free(kv);
    assert_int_equal(mg_schema_create(MG_SCHEMA_KEY_VALUE, "\0\0\0\x09" "ab", 6, &kv), MG_OK);
    assert_int_equal(mg_schema_kv_split(kv, &k2, &v2), MG_ERR_INVALID_ARG);
    assert_null(k2);
    mg_schema_free(kv);
    /* pseudo schemas cannot be parts */
    mg_schema_t *ac;
    assert_int_equal(mg_schema_auto_consume(&ac), MG_OK);
    assert_int_equal(mg_schema_key_value(ac, k, MG_KV_INLINE, &kv), MG_ERR_INVALID_ARG);
    mg_schema_free(ac);
    mg_schema_free(str);
    mg_schema_free(k);
    mg_schema_free(v);
}

/* INLINE: [BE32 key len][key][BE32 value len][value], -1 for null; SEPARATED: base64 key. */
static void test_kv_payloads(void **s)
{
    uint8_t *p;
    size_t n;
    assert_int_equal(mg_kv_encode("k1", 2, "value", 5, &p, &n), MG_OK);
    assert_int_equal(n, 15);
    assert_memory_equal(p, BYTES(0, 0, 0, 2, 'k', '1', 0, 0, 0, 5, 'v', 'a', 'l', 'u', 'e'), 15);
    const void *k, *v;
    size_t kl, vl;
    assert_int_equal(mg_kv_decode(p, n, &k, &kl, &v, &vl), MG_OK);
    assert_int_equal(kl, 2);
    assert_memory_equal(k, "k1", 2);
    assert_int_equal(vl, 5);
    assert_memory_equal(v, "value", 5);
    assert_int_equal(mg_kv_decode(p, n - 1, &k, &kl, &v, &vl), MG_ERR_INVALID_ARG); /* short */
    free(p);
    assert_int_equal(mg_kv_encode(NULL, 0, "", 0, &p, &n), MG_OK); /* null key, empty value */
    assert_int_equal(n, 8);
    assert_memory_equal(p, BYTES(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0), 8);
    assert_int_equal(mg_kv_decode(p, n, &k, &kl, &v, &vl), MG_OK);
    assert_null(k);
    assert_non_null(v);
    assert_int_equal(vl, 0);
    free(p);
    assert_int_equal(mg_kv_decode(BYTES(0, 0, 0, 1, 'a', 0, 0, 0, 0, 'x'), 10, &k, &kl, &v, &vl),
                     MG_ERR_INVALID_ARG); /* left over */
    assert_int_equal(mg_kv_decode(BYTES(0, 0, 0, 9, 'a', 0, 0, 0, 0), 9, &k, &kl, &v, &vl),
                     MG_ERR_INVALID_ARG); /* past the end */

    mg_message_t *m;
    uint8_t *gk, *gv;
    assert_int_equal(mg_message_new_kv("id", 2, "v", 1, MG_KV_INLINE, &m), MG_OK);
    assert_int_equal(mg_message_len(m), 11);
    assert_null(mg_message_key(m));
    assert_int_equal(mg_message_get_kv(m, MG_KV_INLINE, &gk, &kl, &gv, &vl), MG_OK);
    assert_int_equal(kl, 2);
    assert_memory_equal(gk, "id", 2);
    assert_int_equal(vl, 1);
    free(gk);
    free(gv);
    mg_message_free(m);

    const uint8_t bkey[] = {0x00, 0xff, 0x10, 'a'};
    assert_int_equal(mg_message_new_kv(bkey, 3, "val", 3, MG_KV_SEPARATED, &m), MG_OK);
    assert_string_equal(mg_message_key(m), "AP8Q"); /* java.util.Base64 */
    assert_true(mg_message_key_is_base64(m));
    assert_int_equal(mg_message_len(m), 3);
    assert_memory_equal(mg_message_data(m), "val", 3);
    assert_int_equal(mg_message_get_kv(m, MG_KV_SEPARATED, &gk, &kl, &gv, &vl), MG_OK);
    assert_int_equal(kl, 3);
    assert_memory_equal(gk, bkey, 3);
    assert_int_equal(vl, 3);
    free(gk);
    free(gv);
    mg_message_t *c = message_clone(m);
    assert_true(mg_message_key_is_base64(c));
    mg_message_free(c);
    assert_int_equal(mg_message_set_key(m, "plain"), MG_OK); /* a text key is not base64 */
    assert_false(mg_message_key_is_base64(m));
    assert_int_equal(mg_message_key_bytes(m, &gk, &kl), MG_OK);
    assert_int_equal(kl, 5);
    free(gk);
    for (size_t i = 0; i <= 4; i++) { /* padding of every length */
        assert_int_equal(mg_message_set_key_bytes(m, bkey, i), MG_OK);
        assert_int_equal(mg_message_key_bytes(m, &gk, &kl), MG_OK);
        assert_int_equal(kl, i);
        if (i) assert_memory_equal(gk, bkey, i);
        free(gk);
    }
    assert_string_equal(mg_message_key(m), "AP8QYQ==");
    mg_message_free(m);
    /* SEPARATED without a key */
    assert_int_equal(mg_message_new_kv(NULL, 0, "v", 1, MG_KV_SEPARATED, &m), MG_OK);
    assert_int_equal(mg_message_get_kv(m, MG_KV_SEPARATED, &gk, &kl, &gv, &vl), MG_OK);
    assert_null(gk);
    assert_int_equal(vl, 1);
    free(gv);
    mg_message_free(m);
}

/* What AUTO_PRODUCE_BYTES refuses (and the reasons it gives). */
static void test_validate(void **s)
{
    mg_schema_t *sch;
    assert_int_equal(mg_schema_avro(AVRO_READING, &sch), MG_OK);
    const uint8_t ok[] = "\x02\x10sensor-0\x02\x00"; /* fixture 13 */
    assert_int_equal(mg_schema_validate(sch, ok, 12), MG_OK);
    assert_string_equal(mg_last_error_message(), "");
    assert_int_equal(mg_schema_validate(sch, "\x00\x00", 2), MG_OK); /* null, null */
    assert_int_equal(mg_schema_validate(sch, ok, 13), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "1 bytes left over"));
    assert_int_equal(mg_schema_validate(sch, ok, 11), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "truncated"));
    assert_int_equal(mg_schema_validate(sch, "\x04", 1), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "union branch out of range"));
    /* a string claiming 2^62 bytes: refused without allocating */
    assert_int_equal(mg_schema_validate(sch, "\x02\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10),
                     MG_ERR_INVALID_ARG);
    assert_int_equal(mg_schema_validate(sch, "hello world!", 12), MG_ERR_INVALID_ARG);
    mg_schema_free(sch);

    const char *rec = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                      "{\"name\":\"b\",\"type\":\"boolean\"},"
                      "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
                      "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
                      "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"null\"}},"
                      "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}},"
                      "{\"name\":\"d\",\"type\":\"double\"}]}";
    assert_int_equal(mg_schema_avro(rec, &sch), MG_OK);
    /* b=true e=B a=[1,-1] (one block) m={"k":null} (negative count block with size) f d */
    const uint8_t good[] = {1, 2, 4, 2, 1, 0, 1, 4, 2, 'k', 0, 'x', 'y', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_int_equal(mg_schema_validate(sch, good, sizeof good), MG_OK);
    uint8_t bad[sizeof good];
    memcpy(bad, good, sizeof good);
    bad[0] = 2; /* boolean 2 */
    assert_int_equal(mg_schema_validate(sch, bad, sizeof bad), MG_ERR_INVALID_ARG);
    memcpy(bad, good, sizeof good);
    bad[1] = 4; /* enum index 2 */
    assert_int_equal(mg_schema_validate(sch, bad, sizeof bad), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "enum"));
    memcpy(bad, good, sizeof good);
    bad[7] = 0x7e; /* map block byte size past the end */
    assert_int_equal(mg_schema_validate(sch, bad, sizeof bad), MG_ERR_INVALID_ARG);
    mg_schema_free(sch);

    /* JSON: one JSON text */
    assert_int_equal(mg_schema_json(AVRO_READING, &sch), MG_OK);
    const char *jgood[] = {"{\"name\":\"x\",\"value\":[1,-2.5e3,true,null,{}]}", " \"s\\u00e9\" ", "0", "[]"};
    const char *jbad[] = {"", "{", "{\"a\":1,}", "[1 2]", "01", "\"\\x\"", "nul", "{} {}", "{'a':1}", "1."};
    for (size_t i = 0; i < sizeof jgood / sizeof *jgood; i++)
        assert_int_equal(mg_schema_validate(sch, jgood[i], strlen(jgood[i])), MG_OK);
    for (size_t i = 0; i < sizeof jbad / sizeof *jbad; i++)
        assert_int_equal(mg_schema_validate(sch, jbad[i], strlen(jbad[i])), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "not valid JSON"));
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    assert_int_equal(mg_schema_validate(sch, deep, 600), MG_ERR_INVALID_ARG); /* depth limit */
    mg_schema_free(sch);

    /* primitives: exact sizes */
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_INT32, &sch), MG_OK);
    assert_int_equal(mg_schema_validate(sch, "\0\0\0\1", 4), MG_OK);
    assert_int_equal(mg_schema_validate(sch, "\0\0\1", 3), MG_ERR_INVALID_ARG);
    assert_string_equal(mg_last_error_message(), "INT32 payload must be 4 bytes, got 3");
    mg_schema_t *str, *kv;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_STRING, &str), MG_OK);
    assert_int_equal(mg_schema_validate(str, "anything \xff", 10), MG_OK);
    struct { mg_schema_type t; size_t n; } sizes[] = {
        {MG_SCHEMA_BOOL, 1}, {MG_SCHEMA_INT8, 1}, {MG_SCHEMA_INT16, 2}, {MG_SCHEMA_INT64, 8},
        {MG_SCHEMA_FLOAT, 4}, {MG_SCHEMA_DOUBLE, 8}, {MG_SCHEMA_TIMESTAMP, 8},
        {MG_SCHEMA_INSTANT, 12}, {MG_SCHEMA_LOCAL_DATE_TIME, 16}};
    uint8_t zeros[17] = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        mg_schema_t *p;
        assert_int_equal(mg_schema_primitive(sizes[i].t, &p), MG_OK);
        assert_int_equal(mg_schema_validate(p, zeros, sizes[i].n), MG_OK);
        assert_int_equal(mg_schema_validate(p, zeros, sizes[i].n + 1), MG_ERR_INVALID_ARG);
        mg_schema_free(p);
    }

    /* KEY_VALUE INLINE: both parts checked; SEPARATED: the payload is the value */
    assert_int_equal(mg_schema_key_value(str, sch, MG_KV_INLINE, &kv), MG_OK);
    uint8_t *p;
    size_t n;
    assert_int_equal(mg_kv_encode("k", 1, "\0\0\0\7", 4, &p, &n), MG_OK);
    assert_int_equal(mg_schema_validate(kv, p, n), MG_OK);
    free(p);
    assert_int_equal(mg_kv_encode("k", 1, "\0\7", 2, &p, &n), MG_OK);
    assert_int_equal(mg_schema_validate(kv, p, n), MG_ERR_INVALID_ARG);
    assert_string_equal(mg_last_error_message(), "KEY_VALUE value: INT32 payload must be 4 bytes, got 2");
    free(p);
    assert_int_equal(mg_schema_validate(kv, "\0\0", 2), MG_ERR_INVALID_ARG);
    mg_schema_free(kv);
    assert_int_equal(mg_schema_key_value(str, sch, MG_KV_SEPARATED, &kv), MG_OK);
    assert_int_equal(mg_schema_validate(kv, "\0\0\0\7", 4), MG_OK);
    assert_int_equal(mg_schema_validate(kv, "\0\0\0\7\0", 5), MG_ERR_INVALID_ARG);
    mg_schema_free(kv);
    mg_schema_free(str);
    mg_schema_free(sch);

    /* the pseudo schemas */
    mg_schema_t *a;
    assert_int_equal(mg_schema_auto_consume(&a), MG_OK);
    assert_int_equal(mg_schema_get_type(a), MG_SCHEMA_AUTO_CONSUME);
    assert_int_equal((int)mg_schema_get_type(a), -3);
    assert_string_equal(mg_schema_get_name(a), "AUTO_CONSUME");
    assert_int_equal(mg_schema_validate(a, "x", 1), MG_ERR_INVALID_ARG);
    mg_schema_t *d = schema_dup(a);
    assert_int_equal(mg_schema_get_type(d), MG_SCHEMA_AUTO_CONSUME);
    mg_schema_free(d);
    mg_schema_free(a);
    assert_int_equal(mg_schema_auto_produce_bytes(&a), MG_OK);
    assert_int_equal((int)mg_schema_get_type(a), -4);
    assert_string_equal(mg_schema_get_name(a), "AUTO_PUBLISH");
    mg_schema_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_schema_objects),
        cmocka_unit_test(test_avro_fixture_bytes),
        cmocka_unit_test(test_kv_schema_bytes),
        cmocka_unit_test(test_kv_payloads),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
