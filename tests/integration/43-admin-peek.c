/* 43-admin-peek: peek-messages (subscription/{s}/position/{n}) and examinemessage answer with
 * the decompressed payload, as Pulsar does, for the four codecs (LZ4, ZLIB, ZSTD, SNAPPY),
 * batched and not. For a batch the body is the decompressed batch (SingleMessageMetadata and
 * payload per message), which the test splits as pulsar-admin does; the X-Pulsar-* headers
 * carry the MessageMetadata (num-batch-message, batch-size, compression, uncompressed-size,
 * properties, producer name, sequence id). Also magnetar-admin topics peek-messages printing
 * the individual messages of a batch. Messages are produced with libmagnetar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "magnetar/magnetar.h"
#include "mghttp.h"
#include "mgclient.h"

static mgt_broker_t *B;
static mg_client_t *C;

typedef mgt_http_res_t http_res_t;

static long http(const char *method, const char *path, const char *body, http_res_t *r)
{
    return mgt_http(B->web_port, method, path, body, false, r);
}

static void expect(const char *method, const char *path, const char *body, long want)
{
    http_res_t r;
    long st = http(method, path, body, &r);
    if (st != want) fprintf(stderr, "%s %s -> %ld %s (want %ld)\n", method, path, st, r.body, want);
    assert_int_equal(st, want);
    free(r.body);
}

/* The value of a response header (case-insensitive name), or NULL. */
static const char *hdr(const http_res_t *r, const char *name, char *out, size_t n)
{
    return mgt_http_header(r, name, out, n);
}

static int setup(void **s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.operation_timeout_ms = 5000;
    mgt_client_setup(&B, &C, NULL, &cc);
    return 0;
}

static int teardown(void **s)
{
    mgt_client_teardown(B, C);
    curl_global_cleanup();
    return 0;
}

static void on_sent(mg_result r, const mg_message_id_t *id, void *ctx)
{
    assert_int_equal(r, MG_OK);
}

/* Produce n messages "<tag>-<i>" + filler, each with property idx=i, batched or not. */
static void produce(const char *topic, mg_compression codec, bool batched, int n, const char *tag)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.name = tag;
    pc.compression = codec;
    pc.batching_enabled = batched;
    pc.batching_max_delay_ms = 1000; /* one batch: flushed below */
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, topic, &pc, &p), MG_OK);
    for (int i = 0; i < n; i++) {
        char data[300], v[16];
        int l = snprintf(data, sizeof data, "%s-%d ", tag, i);
        memset(data + l, 'x', 200); /* compressible */
        mg_message_t *m = mg_message_new(data, (size_t)l + 200);
        snprintf(v, sizeof v, "%d", i);
        mg_message_set_property(m, "idx", v);
        if (batched) assert_int_equal(mg_producer_send_async(p, m, on_sent, NULL), MG_OK);
        else assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_flush(p), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Split a decompressed batch body as pulsar-admin does; check every message. */
static void check_batch(const http_res_t *r, const char *tag, int n)
{
    const uint8_t *p = (const uint8_t *)r->body, *end = p + r->len;
    for (int i = 0; i < n; i++) {
        assert_true(p + 4 <= end);
        uint32_t ml = be32(p);
        p += 4;
        assert_true(p + ml <= end);
        Pulsar__Proto__SingleMessageMetadata *sm =
            pulsar__proto__single_message_metadata__unpack(NULL, ml, p);
        assert_non_null(sm);
        p += ml;
        assert_true(sm->payload_size >= 0 && p + sm->payload_size <= end);
        char want[64];
        int wl = snprintf(want, sizeof want, "%s-%d ", tag, i);
        assert_int_equal(sm->payload_size, wl + 200);
        assert_memory_equal(p, want, (size_t)wl);
        assert_int_equal(p[wl], 'x');
        assert_int_equal(sm->n_properties, 1);
        assert_string_equal(sm->properties[0]->key, "idx");
        assert_int_equal(atoi(sm->properties[0]->value), i);
        p += sm->payload_size;
        pulsar__proto__single_message_metadata__free_unpacked(sm, NULL);
    }
    assert_true(p == end);
}

static void peek_codec(mg_compression codec, const char *cname)
{
    char topic[200], base[200], path[400], v[64], tag[32];
    snprintf(tag, sizeof tag, "pk-%s", cname);
    snprintf(topic, sizeof topic, "persistent://public/default/peek-%s", cname);
    snprintf(base, sizeof base, "/admin/v2/persistent/public/default/peek-%s", cname);
    produce(topic, codec, true, 5, tag);            /* entry 0: a batch of 5 */
    char tag1[40];
    snprintf(tag1, sizeof tag1, "%s-single", tag);
    produce(topic, codec, false, 1, tag1);          /* entry 1: one message, not batched */
    snprintf(path, sizeof path, "%s/subscription/peeker", base);
    expect("PUT", path, "{\"ledgerId\":-1,\"entryId\":-1}", 204);

    http_res_t r;
    snprintf(path, sizeof path, "%s/subscription/peeker/position/1", base);
    assert_int_equal(http("GET", path, NULL, &r), 200);
    assert_string_equal(hdr(&r, "X-Pulsar-num-batch-message", v, sizeof v), "5");
    assert_string_equal(hdr(&r, "X-Pulsar-compression", v, sizeof v), cname);
    assert_int_equal(atoi(hdr(&r, "X-Pulsar-uncompressed-size", v, sizeof v)), (int)r.len);
    assert_true(atoi(hdr(&r, "X-Pulsar-batch-size", v, sizeof v)) > 0);
    assert_string_equal(hdr(&r, "X-Pulsar-producer-name", v, sizeof v), tag);
    assert_string_equal(hdr(&r, "X-Pulsar-Is-Encrypted", v, sizeof v), "false");
    assert_non_null(hdr(&r, "X-Pulsar-Message-ID", v, sizeof v));
    assert_non_null(hdr(&r, "X-Pulsar-publish-time", v, sizeof v));
    assert_non_null(hdr(&r, "X-Pulsar-sequence-id", v, sizeof v));
    check_batch(&r, tag, 5);
    free(r.body);

    /* the single (non-batched) compressed message: the body is its decompressed payload */
    snprintf(path, sizeof path, "%s/subscription/peeker/position/2", base);
    assert_int_equal(http("GET", path, NULL, &r), 200);
    char want[64];
    int wl = snprintf(want, sizeof want, "%s-0 ", tag1);
    assert_int_equal(r.len, (size_t)wl + 200);
    assert_memory_equal(r.body, want, (size_t)wl);
    assert_string_equal(hdr(&r, "X-Pulsar-PROPERTY-idx", v, sizeof v), "0");
    assert_string_equal(hdr(&r, "X-Pulsar-compression", v, sizeof v), cname);
    free(r.body);
    snprintf(path, sizeof path, "%s/subscription/peeker/position/3", base);
    expect("GET", path, NULL, 404);

    /* examinemessage: same answers */
    snprintf(path, sizeof path, "%s/examinemessage?initialPosition=earliest&messagePosition=1", base);
    assert_int_equal(http("GET", path, NULL, &r), 200);
    assert_string_equal(hdr(&r, "X-Pulsar-num-batch-message", v, sizeof v), "5");
    check_batch(&r, tag, 5);
    free(r.body);
    snprintf(path, sizeof path, "%s/examinemessage?initialPosition=latest&messagePosition=1", base);
    assert_int_equal(http("GET", path, NULL, &r), 200);
    assert_int_equal(r.len, (size_t)wl + 200);
    assert_memory_equal(r.body, want, (size_t)wl);
    free(r.body);
    /* peek does not consume */
    snprintf(path, sizeof path, "%s/subscription/peeker/position/1", base);
    assert_int_equal(http("GET", path, NULL, &r), 200);
    check_batch(&r, tag, 5);
    free(r.body);
}

static void test_peek_lz4(void **s) { peek_codec(MG_COMPRESSION_LZ4, "LZ4"); }
static void test_peek_zlib(void **s) { peek_codec(MG_COMPRESSION_ZLIB, "ZLIB"); }
static void test_peek_zstd(void **s) { peek_codec(MG_COMPRESSION_ZSTD, "ZSTD"); }
static void test_peek_snappy(void **s) { peek_codec(MG_COMPRESSION_SNAPPY, "SNAPPY"); }

static void test_peek_uncompressed_batch(void **s)
{
    produce("persistent://public/default/peek-none", MG_COMPRESSION_NONE, true, 3, "pk-none");
    expect("PUT", "/admin/v2/persistent/public/default/peek-none/subscription/p",
           "{\"ledgerId\":-1,\"entryId\":-1}", 204);
    http_res_t r;
    char v[64];
    assert_int_equal(http("GET", "/admin/v2/persistent/public/default/peek-none/subscription/p/position/1",
                          NULL, &r), 200);
    assert_string_equal(hdr(&r, "X-Pulsar-num-batch-message", v, sizeof v), "3");
    check_batch(&r, "pk-none", 3);
    free(r.body);
}

/* magnetar-admin topics peek-messages prints each message of a batch, with its batch index,
 * its own properties and its own (decompressed) payload. */
static void test_cli_peek_batch(void **s)
{
    const char *bd = getenv("MG_BUILD_DIR");
    if (!bd) bd = "build";
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s/bin/magnetar-admin --admin-url http://127.0.0.1:%d topics peek-messages "
             "persistent://public/default/peek-LZ4 -s peeker -n 2",
             bd, B->web_port);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    assert_int_equal(pclose(f), 0);
    int batch_ids = 0;
    for (const char *p = out; (p = strstr(p, "Batch Message ID: ")); p++) batch_ids++;
    assert_int_equal(batch_ids, 5);
    assert_non_null(strstr(out, ":0:4\n"));                /* the fifth message of entry 0 */
    assert_non_null(strstr(out, "\"idx\":\"4\""));
    assert_non_null(strstr(out, "pk-LZ4-4 xxxx"));         /* decompressed, in the hex dump */
    assert_non_null(strstr(out, "pk-LZ4-single-0"));       /* then the non-batched entry */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peek_lz4),
        cmocka_unit_test(test_peek_zlib),
        cmocka_unit_test(test_peek_zstd),
        cmocka_unit_test(test_peek_snappy),
        cmocka_unit_test(test_peek_uncompressed_batch),
        cmocka_unit_test(test_cli_peek_batch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
