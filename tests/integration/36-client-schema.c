/* 36-client-schema: libmagnetar schemas against the real broker: an Avro producer registers
 * version 0 and a compatible evolution version 1 (PRODUCER_SUCCESS.schema_version, carried in
 * every message), a consumer and a reader declare the schema, an incompatible schema fails with
 * MG_ERR_INCOMPATIBLE_SCHEMA and the broker's reason, Avro records encoded by the helper
 * round-trip and decode (with the writer schema fetched by GET_SCHEMA, and resolved into an
 * older reader schema), INT64 / DOUBLE / STRING values round-trip with the typed accessors, and
 * isSchemaValidationEnforced refuses a schema-less producer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magnetar/magnetar.h"
#include "mgclient.h"
#include "mgreading.h"

static mgt_broker_t *B;
static mg_client_t *C;

/* incompatible: value changes from int to string */
#define READING_BAD                                                                            \
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}," \
    "{\"name\":\"value\",\"type\":\"string\"}]}"

static mg_client_t *client_for(int port)
{
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.operation_timeout_ms = 5000;
    return mgt_client(port, &cc);
}

static int setup(void **s)
{
    B = mgt_broker_start(NULL);
    C = client_for(B->port);
    return 0;
}
static int teardown(void **s)
{
    mgt_client_teardown(B, C);
    return 0;
}

static mg_producer_t *producer(mg_client_t *c, const char *topic, const mg_schema_t *sch)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create_with_schema(c, topic, &pc, sch, &p), MG_OK);
    return p;
}

/* Send one Reading record built with avro-c through the helper. */
static void send_reading(mg_producer_t *p, const mg_schema_t *sch, const char *name, int value,
                         const char *unit)
{
    avro_value_t rec;
    mgt_reading_new(sch, name, value, unit, &rec);
    mg_message_t *m;
    assert_int_equal(mg_message_new_avro(&rec, &m), MG_OK);
    avro_value_decref(&rec);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
}

static void test_avro_versions_roundtrip(void **s)
{
    const char *topic = "persistent://public/default/cs-avro";
    mg_schema_t *v0, *v1, *bad;
    assert_int_equal(mg_schema_avro(READING_V0, &v0), MG_OK);
    assert_int_equal(mg_schema_avro(READING_V1, &v1), MG_OK);
    assert_int_equal(mg_schema_avro(READING_BAD, &bad), MG_OK);
    assert_int_equal(mg_schema_get_type(v0), MG_SCHEMA_AVRO);
    assert_string_equal(mg_schema_get_name(v0), "AVRO");
    mg_schema_t *inv = v0;
    assert_int_equal(mg_schema_avro("{not avro", &inv), MG_ERR_INVALID_ARG);
    assert_null(inv);

    mg_producer_t *p0 = producer(C, topic, v0);
    assert_int_equal(mg_producer_schema_version(p0), 0);
    mg_consumer_t *c = mgt_consumer_earliest(C, topic, "cs-sub", v0);

    send_reading(p0, v0, "sensor-0", 42, NULL);
    mg_message_t *m;
    assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
    assert_int_equal(mg_message_schema_version(m), 0);
    size_t vl;
    const uint8_t *vb = mg_message_schema_version_bytes(m, &vl);
    assert_int_equal(vl, 8);
    for (int i = 0; i < 8; i++) assert_int_equal(vb[i], 0);
    avro_value_t rec;
    assert_int_equal(mg_message_get_avro(m, v0, NULL, &rec), MG_OK);
    mgt_check_reading(&rec, "sensor-0", 42, NULL);
    avro_value_decref(&rec);
    assert_int_equal(mg_consumer_ack(c, m), MG_OK);
    mg_message_free(m);

    /* the same schema again: the same version */
    mg_producer_t *p0b = producer(C, topic, v0);
    assert_int_equal(mg_producer_schema_version(p0b), 0);
    assert_int_equal(mg_producer_close(p0b), MG_OK);

    /* a compatible evolution gets version 1 */
    mg_producer_t *p1 = producer(C, topic, v1);
    assert_int_equal(mg_producer_schema_version(p1), 1);
    send_reading(p1, v1, "sensor-1", -7, "C");
    assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
    assert_int_equal(mg_message_schema_version(m), 1);
    /* the writer schema of version 1, fetched from the broker */
    mg_schema_t *w;
    assert_int_equal(mg_client_get_schema(C, topic, mg_message_schema_version(m), &w), MG_OK);
    assert_int_equal(mg_schema_get_type(w), MG_SCHEMA_AVRO);
    size_t wl;
    const void *wd = mg_schema_get_data(w, &wl);
    assert_int_equal(wl, strlen(READING_V1));
    assert_memory_equal(wd, READING_V1, wl);
    assert_int_equal(mg_message_get_avro(m, w, NULL, &rec), MG_OK);
    mgt_check_reading(&rec, "sensor-1", -7, "C");
    avro_value_decref(&rec);
    /* resolved into the older reader schema: the new field is skipped */
    assert_int_equal(mg_message_get_avro(m, w, v0, &rec), MG_OK);
    mgt_check_reading(&rec, "sensor-1", -7, NULL);
    avro_value_decref(&rec);
    /* decoding with a schema that does not match the bytes fails cleanly */
    assert_int_equal(mg_avro_decode(v0, NULL, "\x01", 1, &rec), MG_ERR_INVALID_ARG);
    mg_schema_free(w);
    assert_int_equal(mg_consumer_ack(c, m), MG_OK);
    mg_message_free(m);

    /* latest and unknown versions */
    assert_int_equal(mg_client_get_schema(C, topic, -1, &w), MG_OK);
    wd = mg_schema_get_data(w, &wl);
    assert_int_equal(wl, strlen(READING_V1));
    mg_schema_free(w);
    assert_int_equal(mg_client_get_schema(C, topic, 7, &w), MG_ERR_TOPIC_NOT_FOUND);
    assert_null(w);

    /* an incompatible schema is refused with the broker's reason */
    mg_producer_t *pb = NULL;
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    assert_int_equal(mg_producer_create_with_schema(C, topic, &pc, bad, &pb), MG_ERR_INCOMPATIBLE_SCHEMA);
    assert_null(pb);
    print_message("refused: %s\n", mg_last_error_message());
    assert_non_null(strstr(mg_last_error_message(), "value"));
    assert_string_equal(mg_strerror(MG_ERR_INCOMPATIBLE_SCHEMA), "Incompatible schema");
    mg_consumer_t *cb = NULL;
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    assert_int_equal(mg_consumer_subscribe_with_schema(C, topic, "cs-bad", &cf, bad, &cb),
                     MG_ERR_INCOMPATIBLE_SCHEMA);
    assert_null(cb);
    assert_true(strlen(mg_last_error_message()) > 0);
    /* a topic without a schema */
    assert_int_equal(mg_client_get_schema(C, "persistent://public/default/cs-none", -1, &w),
                     MG_ERR_TOPIC_NOT_FOUND);
    assert_null(w);

    /* a reader with the schema reads both versions */
    mg_reader_t *r;
    mg_message_id_t *earliest = mg_message_id_earliest();
    assert_int_equal(mg_reader_create_with_schema(C, topic, earliest, NULL, v0, &r), MG_OK);
    mg_message_id_free(earliest);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mg_reader_read_next(r, &m, 5000), MG_OK);
        assert_int_equal(mg_message_schema_version(m), i);
        mg_message_free(m);
    }
    assert_int_equal(mg_reader_close(r), MG_OK);

    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_producer_close(p0), MG_OK);
    assert_int_equal(mg_producer_close(p1), MG_OK);
    mg_schema_free(v0);
    mg_schema_free(v1);
    mg_schema_free(bad);
}

/* The official Python client's Avro bytes for Reading(name='sensor-0', value=0) with its
 * nullable fields (fixture 13-producer-avro-schema), reproduced by the helper. */
static void test_avro_bytes_match_official_client(void **s)
{
    static const char *schema =
        "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":["
        "{\"name\":\"name\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"value\",\"type\":[\"null\",\"int\"]}]}";
    mg_schema_t *sch;
    assert_int_equal(mg_schema_avro(schema, &sch), MG_OK);
    avro_value_t rec, f, b;
    assert_int_equal(mg_avro_value_new(sch, &rec), MG_OK);
    avro_value_get_by_name(&rec, "name", &f, NULL);
    avro_value_set_branch(&f, 1, &b);
    avro_value_set_string(&b, "sensor-1");
    avro_value_get_by_name(&rec, "value", &f, NULL);
    avro_value_set_branch(&f, 1, &b);
    avro_value_set_int(&b, 10);
    uint8_t *out;
    size_t len;
    assert_int_equal(mg_avro_encode(&rec, &out, &len), MG_OK);
    avro_value_decref(&rec);
    assert_int_equal(len, 12);
    assert_memory_equal(out, "\x02\x10sensor-1\x02\x14", 12);
    assert_int_equal(mg_avro_decode(sch, NULL, out, len, &rec), MG_OK);
    avro_value_get_by_name(&rec, "value", &f, NULL);
    avro_value_get_current_branch(&f, &b);
    int32_t v;
    avro_value_get_int(&b, &v);
    assert_int_equal(v, 10);
    avro_value_decref(&rec);
    free(out);
    mg_schema_free(sch);
}

static void test_primitives_roundtrip(void **s)
{
    mg_schema_t *si, *sd, *ss;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_INT64, &si), MG_OK);
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_DOUBLE, &sd), MG_OK);
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_STRING, &ss), MG_OK);
    mg_schema_t *x = NULL;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_AVRO, &x), MG_ERR_INVALID_ARG);
    assert_null(x);

    mg_producer_t *pi = producer(C, "cs-int64", si);
    mg_producer_t *pd = producer(C, "cs-double", sd);
    mg_producer_t *ps = producer(C, "cs-string", ss);
    assert_int_equal(mg_producer_schema_version(pi), 0);
    mg_consumer_t *ci = mgt_consumer_earliest(C, "cs-int64", "s", si);
    mg_consumer_t *cd = mgt_consumer_earliest(C, "cs-double", "s", sd);
    mg_consumer_t *cs = mgt_consumer_earliest(C, "cs-string", "s", ss);

    const int64_t ints[] = {0, -1, INT64_MIN, INT64_MAX, 0x0102030405060708ll};
    for (size_t i = 0; i < 5; i++) {
        mg_message_t *m = mg_message_new_int64(ints[i]);
        assert_int_equal(mg_producer_send(pi, m, NULL), MG_OK);
        mg_message_free(m);
    }
    const double dbls[] = {0.0, -1.5, 3.141592653589793, 1e308};
    for (size_t i = 0; i < 4; i++) {
        mg_message_t *m = mg_message_new_double(dbls[i]);
        assert_int_equal(mg_producer_send(pd, m, NULL), MG_OK);
        mg_message_free(m);
    }
    mg_message_t *m = mg_message_new_string("h\xc3\xa9llo");
    assert_int_equal(mg_producer_send(ps, m, NULL), MG_OK);
    mg_message_free(m);

    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(mg_consumer_receive(ci, &m, 5000), MG_OK);
        int64_t v;
        assert_int_equal(mg_message_get_int64(m, &v), MG_OK);
        assert_true(v == ints[i]);
        assert_int_equal(mg_message_schema_version(m), 0);
        double d;
        assert_int_equal(mg_message_get_double(m, &d), MG_OK); /* 8 bytes: readable as double */
        int32_t i32;
        assert_int_equal(mg_message_get_int32(m, &i32), MG_ERR_INVALID_ARG);
        if (i == 4) assert_memory_equal(mg_message_data(m), "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
        mg_message_free(m);
    }
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(mg_consumer_receive(cd, &m, 5000), MG_OK);
        double d;
        assert_int_equal(mg_message_get_double(m, &d), MG_OK);
        assert_true(d == dbls[i]);
        if (i == 1) assert_memory_equal(mg_message_data(m), "\xbf\xf8\0\0\0\0\0\0", 8);
        mg_message_free(m);
    }
    assert_int_equal(mg_consumer_receive(cs, &m, 5000), MG_OK);
    char *str;
    assert_int_equal(mg_message_get_string(m, &str), MG_OK);
    assert_string_equal(str, "h\xc3\xa9llo");
    free(str);
    int64_t v;
    assert_int_equal(mg_message_get_int64(m, &v), MG_ERR_INVALID_ARG); /* 6 bytes */
    mg_message_free(m);

    /* a different type on the same topic is refused (type change) */
    mg_producer_t *px = NULL;
    assert_int_equal(mg_producer_create_with_schema(C, "cs-int64", NULL, sd, &px),
                     MG_ERR_INCOMPATIBLE_SCHEMA);
    print_message("refused: %s\n", mg_last_error_message());
    assert_non_null(strstr(mg_last_error_message(), "type"));

    assert_int_equal(mg_consumer_close(ci), MG_OK);
    assert_int_equal(mg_consumer_close(cd), MG_OK);
    assert_int_equal(mg_consumer_close(cs), MG_OK);
    assert_int_equal(mg_producer_close(pi), MG_OK);
    assert_int_equal(mg_producer_close(pd), MG_OK);
    assert_int_equal(mg_producer_close(ps), MG_OK);
    mg_schema_free(si);
    mg_schema_free(sd);
    mg_schema_free(ss);
}

static void test_bytes_and_properties(void **s)
{
    /* BYTES declares nothing (no schema in PRODUCER), as the official clients */
    mg_schema_t *sb;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_BYTES, &sb), MG_OK);
    mg_producer_t *p = producer(C, "cs-bytes", sb);
    assert_int_equal(mg_producer_schema_version(p), -1);
    mg_message_t *m = mg_message_new("x", 1);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
    assert_int_equal(mg_producer_close(p), MG_OK);
    mg_consumer_t *c = mgt_consumer_earliest(C, "cs-bytes", "s", NULL);
    assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
    assert_int_equal(mg_message_schema_version(m), -1);
    size_t l = 99;
    assert_null(mg_message_schema_version_bytes(m, &l));
    assert_int_equal(l, 0);
    mg_message_free(m);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    mg_schema_free(sb);

    /* properties travel and come back from GET_SCHEMA */
    mg_schema_t *sj;
    assert_int_equal(mg_schema_json(READING_V0, &sj), MG_OK);
    assert_int_equal(mg_schema_set_property(sj, "owner", "team-a"), MG_OK);
    assert_int_equal(mg_schema_set_property(sj, "owner", "team-b"), MG_OK);
    p = producer(C, "cs-json", sj);
    assert_int_equal(mg_producer_schema_version(p), 0);
    mg_schema_t *g;
    assert_int_equal(mg_client_get_schema(C, "cs-json", -1, &g), MG_OK);
    assert_int_equal(mg_schema_get_type(g), MG_SCHEMA_JSON);
    assert_string_equal(mg_schema_get_property(g, "owner"), "team-b");
    mg_schema_free(g);
    assert_int_equal(mg_producer_close(p), MG_OK);
    mg_schema_free(sj);
}

static void test_partitioned(void **s)
{
    mgt_broker_t *b2 = mgt_broker_start("allowAutoTopicCreationType=partitioned\ndefaultNumPartitions=3\n");
    mg_client_t *c2 = client_for(b2->port);
    mg_schema_t *si;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_INT32, &si), MG_OK);
    mg_producer_t *p = producer(c2, "cs-parts", si);
    assert_int_equal(mg_producer_schema_version(p), 0); /* one history for all partitions */
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe_with_schema(c2, "cs-parts", "s", &cf, si, &c), MG_OK);
    for (int32_t i = 0; i < 6; i++) {
        mg_message_t *m = mg_message_new_int32(i * 1000);
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        mg_message_set_key(m, k);
        assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
        mg_message_free(m);
    }
    int32_t sum = 0;
    for (int i = 0; i < 6; i++) {
        mg_message_t *m;
        assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
        int32_t v;
        assert_int_equal(mg_message_get_int32(m, &v), MG_OK);
        assert_int_equal(mg_message_schema_version(m), 0);
        sum += v;
        mg_message_free(m);
    }
    assert_int_equal(sum, 15000);
    /* a different type is refused on every partition */
    mg_schema_t *ss;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_STRING, &ss), MG_OK);
    mg_consumer_t *cb = NULL;
    assert_int_equal(mg_consumer_subscribe_with_schema(c2, "cs-parts", "s2", &cf, ss, &cb),
                     MG_ERR_INCOMPATIBLE_SCHEMA);
    assert_null(cb);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
    mg_schema_free(si);
    mg_schema_free(ss);
    assert_int_equal(mg_client_close(c2), MG_OK);
    mgt_broker_free(b2);
}

static void test_validation_enforced(void **s)
{
    mgt_broker_t *b2 = mgt_broker_start("isSchemaValidationEnforced=true\n");
    mg_client_t *c2 = client_for(b2->port);
    const char *topic = "cs-enforced";
    mg_producer_t *p;
    /* no schema on a topic without one: fine */
    assert_int_equal(mg_producer_create(c2, topic, NULL, &p), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
    mg_schema_t *v0;
    assert_int_equal(mg_schema_avro(READING_V0, &v0), MG_OK);
    p = producer(c2, topic, v0);
    assert_int_equal(mg_producer_schema_version(p), 0);
    /* now the topic has a schema: a producer without one is refused */
    mg_producer_t *p2 = NULL;
    assert_int_equal(mg_producer_create(c2, topic, NULL, &p2), MG_ERR_INCOMPATIBLE_SCHEMA);
    assert_null(p2);
    assert_non_null(strstr(mg_last_error_message(), "without a schema"));
    assert_int_equal(mg_producer_close(p), MG_OK);
    mg_schema_free(v0);
    assert_int_equal(mg_client_close(c2), MG_OK);
    mgt_broker_free(b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_versions_roundtrip),
        cmocka_unit_test(test_avro_bytes_match_official_client),
        cmocka_unit_test(test_primitives_roundtrip),
        cmocka_unit_test(test_bytes_and_properties),
        cmocka_unit_test(test_partitioned),
        cmocka_unit_test(test_validation_enforced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
