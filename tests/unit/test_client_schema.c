/* test_client_schema: libmagnetar's schema helpers without a broker: primitive encoders
 * byte-exact against Pulsar's Java schemas (big-endian, Double.doubleToLongBits,
 * Float.floatToRawIntBits), size checks of the decoders, mg_schema_t construction and its
 * protocol form (as the official client's PRODUCER in fixture 13), and the Avro helpers
 * reproducing the official client's payload bytes from the same fixture. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_schema_objects),
        cmocka_unit_test(test_avro_fixture_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
