/* 52-schema-client-auto: libmagnetar's AUTO_CONSUME, AUTO_PRODUCE_BYTES and KEY_VALUE against the
 * real broker. Avro producers register versions 0 and 1; an AUTO_CONSUME consumer and reader
 * decode messages of both versions with each message's writer schema (fetched by GET_SCHEMA and
 * cached: a forced schema delete does not affect them); an AUTO_PUBLISH producer declares the topic's latest schema (its version is carried
 * in the messages), sends valid Avro bytes and has invalid payloads refused client-side; on a
 * topic without a schema it is a plain BYTES producer. KEY_VALUE schemas (INLINE with an Avro
 * value, SEPARATED with a binary key, batched) are registered (GET_SCHEMA and the REST API show
 * type KEY_VALUE) and their payloads round-trip through the broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <avro.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magnetar/magnetar.h"
#include "mghttp.h"
#include "mgclient.h"
#include "mgreading.h"

static mgt_broker_t *B;
static mg_client_t *C;


static int setup(void **s)
{
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.operation_timeout_ms = 5000;
    mgt_client_setup(&B, &C, NULL, &cc);
    return 0;
}

static int teardown(void **s)
{
    mgt_client_teardown(B, C);
    return 0;
}

static mg_producer_t *producer(const char *topic, const mg_schema_t *sch, bool batching)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = batching;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create_with_schema(C, topic, &pc, sch, &p), MG_OK);
    return p;
}

static void send_bytes(mg_producer_t *p, const void *d, size_t n)
{
    mg_message_t *m = mg_message_new(d, n);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
}

/* A request to the admin REST API; the parsed JSON body (caller decrefs). */
static json_t *http(const char *method, const char *path, long *status)
{
    mgt_http_res_t r;
    *status = mgt_http(B->web_port, method, path, NULL, false, &r);
    json_t *j = r.len ? json_loadb(r.body, r.len, JSON_DECODE_ANY, NULL) : NULL;
    mgt_http_res_free(&r);
    return j;
}

/* Receive one message and decode it with its writer schema. */
static mg_message_t *recv_auto(mg_consumer_t *c, mg_auto_value_t *v)
{
    mg_message_t *m;
    assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
    assert_int_equal(mg_message_decode_auto(C, m, v), MG_OK);
    return m;
}

static void test_auto_consume_two_versions(void **s)
{
    const char *topic = "persistent://public/default/sca-avro";
    mg_schema_t *v0, *v1, *ac;
    assert_int_equal(mg_schema_avro(READING_V0, &v0), MG_OK);
    assert_int_equal(mg_schema_avro(READING_V1, &v1), MG_OK);
    assert_int_equal(mg_schema_auto_consume(&ac), MG_OK);

    mg_producer_t *p0 = producer(topic, v0, false), *p1 = producer(topic, v1, false);
    assert_int_equal(mg_producer_schema_version(p0), 0);
    assert_int_equal(mg_producer_schema_version(p1), 1);
    uint8_t *b;
    size_t n;
    mgt_reading_bytes(v0, "t0", 10, NULL, &b, &n);
    send_bytes(p0, b, n);
    free(b);
    mgt_reading_bytes(v1, "t1", 11, "C", &b, &n);
    send_bytes(p1, b, n);
    free(b);
    mgt_reading_bytes(v0, "t2", 12, NULL, &b, &n);
    send_bytes(p0, b, n);
    free(b);

    /* the AUTO_CONSUME consumer declares the latest schema (v1) and reads every version */
    mg_consumer_t *c = mgt_consumer_earliest(C, topic, "auto", ac);
    mg_message_t *first = NULL;
    const char *names[] = {"t0", "t1", "t2"}, *units[] = {NULL, "C", NULL};
    for (int i = 0; i < 3; i++) {
        mg_auto_value_t v;
        mg_message_t *m = recv_auto(c, &v);
        assert_int_equal(v.type, MG_SCHEMA_AVRO);
        assert_int_equal(v.schema_version, i == 1 ? 1 : 0);
        size_t dl;
        const char *d = mg_schema_get_data(v.schema, &dl);
        const char *want = i == 1 ? READING_V1 : READING_V0;
        assert_int_equal(dl, strlen(want));
        assert_memory_equal(d, want, dl);
        mgt_check_reading(v.avro, names[i], 10 + i, units[i]);
        mg_auto_value_clear(&v);
        /* the writer schema on its own (from the client's cache now) */
        mg_schema_t *w;
        assert_int_equal(mg_message_writer_schema(C, m, &w), MG_OK);
        assert_int_equal(mg_schema_get_type(w), MG_SCHEMA_AVRO);
        mg_schema_get_data(w, &dl);
        assert_int_equal(dl, strlen(want));
        mg_schema_free(w);
        assert_int_equal(mg_consumer_ack(c, m), MG_OK);
        if (i == 0) first = m;
        else mg_message_free(m);
    }

    /* writer schemas are cached per (topic, version): still there after a forced delete */
    long st;
    json_t *j = http("DELETE", "/admin/v2/schemas/public/default/sca-avro/schema?force=true", &st);
    assert_int_equal(st, 200);
    json_decref(j);
    mg_schema_t *gone;
    assert_int_equal(mg_client_get_schema(C, topic, 0, &gone), MG_ERR_TOPIC_NOT_FOUND);
    assert_int_equal(mg_message_writer_schema(C, first, &gone), MG_OK);
    assert_int_equal(mg_schema_get_type(gone), MG_SCHEMA_AVRO);
    mg_schema_free(gone);
    mg_message_free(first);
    /* registered again for what follows: v0 and v1 */
    mg_producer_t *q0 = producer(topic, v0, false), *q1 = producer(topic, v1, false);
    assert_int_equal(mg_producer_schema_version(q1), 1);
    assert_int_equal(mg_producer_close(q0), MG_OK);
    assert_int_equal(mg_producer_close(q1), MG_OK);

    /* an AUTO_CONSUME reader too */
    mg_reader_t *r;
    mg_message_id_t *earliest = mg_message_id_earliest();
    assert_int_equal(mg_reader_create_with_schema(C, topic, earliest, NULL, ac, &r), MG_OK);
    mg_message_id_free(earliest);
    for (int i = 0; i < 3; i++) {
        mg_message_t *m;
        assert_int_equal(mg_reader_read_next(r, &m, 5000), MG_OK);
        mg_auto_value_t v;
        assert_int_equal(mg_message_decode_auto(C, m, &v), MG_OK);
        mgt_check_reading(v.avro, names[i], 10 + i, units[i]);
        mg_auto_value_clear(&v);
        mg_message_free(m);
    }
    assert_int_equal(mg_reader_close(r), MG_OK);

    /* AUTO_PUBLISH: declares the latest schema (version 1), checks every payload */
    mg_schema_t *ap;
    assert_int_equal(mg_schema_auto_produce_bytes(&ap), MG_OK);
    mg_producer_t *pa = producer(topic, ap, false);
    assert_int_equal(mg_producer_schema_version(pa), 1);
    mgt_reading_bytes(v1, "t3", 13, "K", &b, &n);
    send_bytes(pa, b, n);
    /* a byte too many, a byte too few, not Avro at all: refused before sending */
    uint8_t *bad = malloc(n + 1);
    memcpy(bad, b, n);
    bad[n] = 0;
    mg_message_t *m = mg_message_new(bad, n + 1);
    assert_int_equal(mg_producer_send(pa, m, NULL), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "left over"));
    mg_message_free(m);
    m = mg_message_new(bad, n - 1);
    assert_int_equal(mg_producer_send_async(pa, m, NULL, NULL), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "AVRO payload does not match"));
    mg_message_free(m);
    m = mg_message_new_string("{\"name\":\"json\"}");
    assert_int_equal(mg_producer_send(pa, m, NULL), MG_ERR_INVALID_ARG);
    mg_message_free(m);
    free(bad);
    free(b);
    /* only the valid one arrived, with version 1 in its metadata */
    mg_auto_value_t v;
    m = recv_auto(c, &v);
    assert_int_equal(mg_message_schema_version(m), 1);
    mgt_check_reading(v.avro, "t3", 13, "K");
    mg_auto_value_clear(&v);
    mg_message_free(m);
    assert_int_equal(mg_consumer_receive(c, &m, 300), MG_ERR_TIMEOUT);

    /* the pseudo schemas on the wrong side */
    mg_producer_t *px;
    assert_int_equal(mg_producer_create_with_schema(C, topic, NULL, ac, &px), MG_ERR_INVALID_ARG);
    mg_consumer_t *cx;
    assert_int_equal(mg_consumer_subscribe_with_schema(C, topic, "x", NULL, ap, &cx),
                     MG_ERR_INVALID_ARG);

    assert_int_equal(mg_producer_close(pa), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_producer_close(p0), MG_OK);
    assert_int_equal(mg_producer_close(p1), MG_OK);
    mg_schema_free(ap);
    mg_schema_free(ac);
    mg_schema_free(v0);
    mg_schema_free(v1);
}

/* A topic without a schema: AUTO_PUBLISH is BYTES (nothing checked, no version), AUTO_CONSUME
 * declares nothing and decodes as BYTES. */
static void test_auto_schemaless(void **s)
{
    const char *topic = "persistent://public/default/sca-plain";
    mg_schema_t *ac, *ap;
    assert_int_equal(mg_schema_auto_consume(&ac), MG_OK);
    assert_int_equal(mg_schema_auto_produce_bytes(&ap), MG_OK);
    mg_consumer_t *c = mgt_consumer_earliest(C, topic, "auto", ac);
    mg_producer_t *p = producer(topic, ap, false);
    assert_int_equal(mg_producer_schema_version(p), -1);
    send_bytes(p, "\x00\xff anything", 11);
    mg_auto_value_t v;
    mg_message_t *m = recv_auto(c, &v);
    assert_int_equal(v.type, MG_SCHEMA_BYTES);
    assert_int_equal(v.schema_version, -1);
    assert_int_equal(v.len, 11);
    assert_memory_equal(v.data, "\x00\xff anything", 11);
    mg_auto_value_clear(&v);
    mg_message_free(m);
    mg_schema_t *none;
    assert_int_equal(mg_client_get_schema(C, topic, -1, &none), MG_ERR_TOPIC_NOT_FOUND);
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);

    /* primitives through AUTO_CONSUME: typed values */
    const char *it = "persistent://public/default/sca-int64";
    mg_schema_t *i64;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_INT64, &i64), MG_OK);
    p = producer(it, i64, false);
    m = mg_message_new_int64(-42);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
    c = mgt_consumer_earliest(C, it, "auto", ac);
    m = recv_auto(c, &v);
    assert_int_equal(v.type, MG_SCHEMA_INT64);
    assert_int_equal(v.i, -42);
    mg_auto_value_clear(&v);
    mg_message_free(m);
    /* and AUTO_PUBLISH checks the size */
    mg_producer_t *pa = producer(it, ap, false);
    assert_int_equal(mg_producer_schema_version(pa), 0);
    m = mg_message_new_int32(7);
    assert_int_equal(mg_producer_send(pa, m, NULL), MG_ERR_INVALID_ARG);
    assert_string_equal(mg_last_error_message(), "INT64 payload must be 8 bytes, got 4");
    mg_message_free(m);
    assert_int_equal(mg_producer_close(pa), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    mg_schema_free(i64);
    mg_schema_free(ac);
    mg_schema_free(ap);
}

/* ---- KEY_VALUE ---- */
/* The registered schema is the KeyValue one, over the binary protocol and over REST. */
static void check_registered(const char *topic, const char *rest_topic, const mg_schema_t *kv,
                             const char *encoding)
{
    mg_schema_t *g;
    assert_int_equal(mg_client_get_schema(C, topic, -1, &g), MG_OK);
    assert_int_equal(mg_schema_get_type(g), MG_SCHEMA_KEY_VALUE);
    size_t gl, kl;
    const void *gd = mg_schema_get_data(g, &gl), *kd = mg_schema_get_data(kv, &kl);
    assert_int_equal(gl, kl);
    assert_memory_equal(gd, kd, kl);
    assert_string_equal(mg_schema_get_property(g, "kv.encoding.type"), encoding);
    assert_string_equal(mg_schema_get_property(g, "key.schema.type"),
                        mg_schema_get_property(kv, "key.schema.type"));
    assert_string_equal(mg_schema_get_property(g, "value.schema.type"),
                        mg_schema_get_property(kv, "value.schema.type"));
    mg_schema_free(g);
    char path[256];
    snprintf(path, sizeof path, "/admin/v2/schemas/public/default/%s/schema", rest_topic);
    long st;
    json_t *j = http("GET", path, &st);
    assert_int_equal(st, 200);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "KEY_VALUE");
    json_decref(j);
}

static void test_key_value_inline(void **s)
{
    const char *topic = "persistent://public/default/sca-kv-inline";
    mg_schema_t *ks, *vs, *kv, *ac;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_STRING, &ks), MG_OK);
    assert_int_equal(mg_schema_avro(READING_V0, &vs), MG_OK);
    assert_int_equal(mg_schema_key_value(ks, vs, MG_KV_INLINE, &kv), MG_OK);
    assert_int_equal(mg_schema_auto_consume(&ac), MG_OK);
    mg_producer_t *p = producer(topic, kv, false);
    assert_int_equal(mg_producer_schema_version(p), 0);
    check_registered(topic, "sca-kv-inline", kv, "INLINE");
    mg_consumer_t *c = mgt_consumer_earliest(C, topic, "kv", kv);        /* declares the same schema */
    mg_consumer_t *a = mgt_consumer_earliest(C, topic, "kv-auto", ac);   /* reads it from the messages */

    uint8_t *b;
    size_t n;
    mgt_reading_bytes(vs, "inline", 5, NULL, &b, &n);
    mg_message_t *m;
    assert_int_equal(mg_message_new_kv("sensor-1", 8, b, n, MG_KV_INLINE, &m), MG_OK);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
    /* through AUTO_PUBLISH: a value that is not the Avro record is refused */
    mg_schema_t *ap;
    assert_int_equal(mg_schema_auto_produce_bytes(&ap), MG_OK);
    mg_producer_t *pa = producer(topic, ap, false);
    assert_int_equal(mg_producer_schema_version(pa), 0);
    assert_int_equal(mg_message_new_kv("sensor-2", 8, "junk", 4, MG_KV_INLINE, &m), MG_OK);
    assert_int_equal(mg_producer_send(pa, m, NULL), MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "KEY_VALUE value: AVRO"));
    mg_message_free(m);
    m = mg_message_new(b, n); /* not [len][key][len][value] */
    assert_int_equal(mg_producer_send(pa, m, NULL), MG_ERR_INVALID_ARG);
    mg_message_free(m);
    assert_int_equal(mg_message_new_kv("sensor-3", 8, b, n, MG_KV_INLINE, &m), MG_OK);
    assert_int_equal(mg_producer_send(pa, m, NULL), MG_OK);
    mg_message_free(m);
    free(b);

    for (int who = 0; who < 2; who++) {
        for (int i = 0; i < 2; i++) {
            assert_int_equal(mg_consumer_receive(who ? a : c, &m, 5000), MG_OK);
            /* the payload layout itself: [0,0,0,8]"sensor-N"[BE32 len]<avro> */
            const uint8_t *d = mg_message_data(m);
            assert_memory_equal(d, "\0\0\0\x08sensor-", 11);
            assert_int_equal(d[11], i ? '3' : '1');
            mg_schema_t *w = NULL;
            if (who) { /* AUTO_CONSUME: the writer schema says KEY_VALUE INLINE */
                mg_auto_value_t v;
                assert_int_equal(mg_message_decode_auto(C, m, &v), MG_OK);
                assert_int_equal(v.type, MG_SCHEMA_KEY_VALUE);
                assert_int_equal(mg_schema_kv_encoding(v.schema), MG_KV_INLINE);
                mg_schema_t *wk;
                assert_int_equal(mg_schema_kv_split(v.schema, &wk, &w), MG_OK);
                assert_int_equal(mg_schema_get_type(wk), MG_SCHEMA_STRING);
                mg_schema_free(wk);
                mg_auto_value_clear(&v);
            }
            uint8_t *key, *val;
            size_t kl, vl;
            assert_int_equal(mg_message_get_kv(m, MG_KV_INLINE, &key, &kl, &val, &vl), MG_OK);
            assert_int_equal(kl, 8);
            assert_memory_equal(key, i ? "sensor-3" : "sensor-1", 8);
            avro_value_t rec;
            assert_int_equal(mg_avro_decode(w ? w : vs, NULL, val, vl, &rec), MG_OK);
            mgt_check_reading(&rec, "inline", 5, NULL);
            avro_value_decref(&rec);
            free(key);
            free(val);
            mg_schema_free(w);
            mg_message_free(m);
        }
    }
    assert_int_equal(mg_producer_close(pa), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_consumer_close(a), MG_OK);
    mg_schema_free(ap);
    mg_schema_free(ac);
    mg_schema_free(kv);
    mg_schema_free(ks);
    mg_schema_free(vs);
}

static void sent_cb(mg_result r, const mg_message_id_t *id, void *ctx)
{
    if (r == MG_OK) (*(int *)ctx)++;
}

static void test_key_value_separated(void **s)
{
    const char *topic = "persistent://public/default/sca-kv-sep";
    mg_schema_t *ks, *vs, *kv;
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_INT64, &ks), MG_OK);
    assert_int_equal(mg_schema_primitive(MG_SCHEMA_STRING, &vs), MG_OK);
    assert_int_equal(mg_schema_key_value(ks, vs, MG_KV_SEPARATED, &kv), MG_OK);
    mg_consumer_t *c = mgt_consumer_earliest(C, topic, "kv", kv); /* an idle topic takes the consumer's schema */
    /* batched per key: each key's batch holds one message, its key in both metadata levels */
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.key_based_batching = true;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create_with_schema(C, topic, &pc, kv, &p), MG_OK);
    assert_int_equal(mg_producer_schema_version(p), 0);
    check_registered(topic, "sca-kv-sep", kv, "SEPARATED");
    int sent = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t key[8];
        mg_encode_int64(-1 - i, key); /* 0xff... bytes: not text, travels as base64 */
        char val[16];
        snprintf(val, sizeof val, "value-%d", i);
        mg_message_t *m;
        assert_int_equal(mg_message_new_kv(key, 8, val, strlen(val), MG_KV_SEPARATED, &m), MG_OK);
        assert_int_equal(mg_producer_send_async(p, m, sent_cb, &sent), MG_OK);
        mg_message_free(m);
    }
    /* and one unbatched */
    mg_producer_t *p1 = producer(topic, kv, false);
    uint8_t key[8];
    mg_encode_int64(1234567890123ll, key);
    mg_message_t *m;
    assert_int_equal(mg_message_new_kv(key, 8, "single", 6, MG_KV_SEPARATED, &m), MG_OK);
    assert_int_equal(mg_producer_flush(p), MG_OK);
    assert_int_equal(sent, 3);
    assert_int_equal(mg_producer_send(p1, m, NULL), MG_OK);
    mg_message_free(m);

    for (int i = 0; i < 4; i++) {
        assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
        assert_true(mg_message_key_is_base64(m));
        uint8_t *k, *v;
        size_t kl, vl;
        assert_int_equal(mg_message_get_kv(m, MG_KV_SEPARATED, &k, &kl, &v, &vl), MG_OK);
        int64_t kv64;
        assert_int_equal(mg_decode_int64(k, kl, &kv64), MG_OK);
        char want[16];
        if (i < 3) snprintf(want, sizeof want, "value-%d", i);
        else snprintf(want, sizeof want, "single");
        assert_int_equal(kv64, i < 3 ? -1 - i : 1234567890123ll);
        assert_int_equal(vl, strlen(want));
        assert_memory_equal(v, want, vl);
        assert_int_equal(mg_message_schema_version(m), 0);
        free(k);
        free(v);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_producer_close(p1), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    mg_schema_free(kv);
    mg_schema_free(ks);
    mg_schema_free(vs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_consume_two_versions),
        cmocka_unit_test(test_auto_schemaless),
        cmocka_unit_test(test_key_value_inline),
        cmocka_unit_test(test_key_value_separated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
