/* test_client_codec: pure client logic against the official client's bytes: decode the batch
 * SEND frames of fixtures 02-06 (none, LZ4, ZSTD, ZLIB, SNAPPY) with libmagnetar's codecs and
 * batch splitter; compression round trips; our batch encoder re-reads its own output; the
 * Pulsar key hash (murmur3 x86_32, seed 0, & INT_MAX) on known vectors. The client sources are
 * compiled in (unit tests link the internal libraries, not libmagnetar). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/client/batch.c"
#include "../../src/client/compress.c"
#include "../../src/client/message.c"
#include "common/murmur3.h"

void message_unref_consumer(mg_message_t *m) { m->cons = NULL; }

static uint8_t *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", MG_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void check_fixture(const char *name, int codec)
{
    size_t len, off = 0;
    uint8_t *b = slurp(name, &len);
    int sends = 0;
    while (off < len) {
        frame_t f;
        char err[200];
        ssize_t n = frame_decode(b + off, len - off, 64 * 1024 * 1024, &f, err, sizeof err);
        assert_true(n > 0);
        if (f.cmd->type == PULSAR__PROTO__BASE_COMMAND__TYPE__SEND) {
            sends++;
            payload_view_t v;
            assert_int_equal(payload_parse(f.payload, f.payload_len, &v), 0);
            assert_true(v.checksum_ok);
            pb_meta_t *md = payload_metadata(&v);
            assert_non_null(md);
            assert_int_equal(md->num_messages_in_batch, 10);
            assert_int_equal(f.cmd->send->sequence_id, 9); /* a batch carries its last sequence id */
            int mc = md->has_compression ? (int)md->compression : 0;
            assert_int_equal(mc, codec);
            uint8_t *unc = NULL;
            const uint8_t *data = v.data;
            size_t dlen = v.data_len;
            if (codec) {
                assert_int_equal(decompress_buf(codec, v.data, v.data_len, md->uncompressed_size, &unc), 0);
                data = unc;
                dlen = md->uncompressed_size;
            }
            mg_message_t *msgs[10];
            assert_int_equal(batch_split(data, dlen, 10, msgs), 0);
            for (int i = 0; i < 10; i++) {
                char want[32], iv[8];
                snprintf(want, sizeof want, "batch-msg-%02d ", i);
                snprintf(iv, sizeof iv, "%d", i);
                assert_memory_equal(mg_message_data(msgs[i]), want, strlen(want));
                assert_string_equal(mg_message_property(msgs[i], "i"), iv);
                assert_int_equal(mg_message_sequence_id(msgs[i]), i);
                /* our codec re-compresses and decodes the same bytes */
                mg_message_free(msgs[i]);
            }
            mg_buf_t z;
            buf_init(&z);
            assert_int_equal(compress_buf(codec, data, dlen, &z), 0);
            uint8_t *back;
            assert_int_equal(decompress_buf(codec, z.data, z.len, dlen, &back), 0);
            assert_memory_equal(back, data, dlen);
            mg_free(back);
            buf_free(&z);
            mg_free(unc);
            pulsar__proto__message_metadata__free_unpacked(md, NULL);
        }
        frame_release(&f);
        off += (size_t)n;
    }
    assert_int_equal(sends, 1);
    free(b);
}

static void test_fixture_none(void **s) { check_fixture("02-producer-batch-none.bin", 0); }
static void test_fixture_lz4(void **s) { check_fixture("03-producer-batch-lz4.bin", 1); }
static void test_fixture_zstd(void **s) { check_fixture("04-producer-batch-zstd.bin", 3); }
static void test_fixture_zlib(void **s) { check_fixture("05-producer-batch-zlib.bin", 2); }
static void test_fixture_snappy(void **s) { check_fixture("06-producer-batch-snappy.bin", 4); }

static void test_batch_encode_roundtrip(void **s)
{
    mg_buf_t b;
    buf_init(&b);
    for (int i = 0; i < 3; i++) {
        mg_message_t *m = mg_message_new("payload", 7);
        mg_message_set_key(m, "k");
        mg_message_set_property(m, "a", "b");
        mg_message_set_ordering_key(m, "ok", 2);
        mg_message_set_event_time(m, 77);
        assert_int_equal(batch_append(&b, m, 100 + i), 0);
        mg_message_free(m);
    }
    mg_message_t *out[3];
    assert_int_equal(batch_split(b.data, b.len, 3, out), 0);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(mg_message_key(out[i]), "k");
        assert_string_equal(mg_message_property(out[i], "a"), "b");
        assert_int_equal(mg_message_event_time(out[i]), 77);
        assert_int_equal(mg_message_sequence_id(out[i]), 100 + i);
        size_t ol;
        assert_memory_equal(mg_message_ordering_key(out[i], &ol), "ok", 2);
        mg_message_free(out[i]);
    }
    /* truncated input is refused, not overrun */
    assert_int_equal(batch_split(b.data, b.len - 1, 3, out), -1);
    mg_message_t *out4[4];
    assert_int_equal(batch_split(b.data, b.len, 4, out4), -1);
    buf_free(&b);
    uint8_t *x;
    assert_int_equal(decompress_buf(1, (const uint8_t *)"garbage", 7, 100, &x), -1);
    assert_int_equal(decompress_buf(4, (const uint8_t *)"garbage", 7, 100, &x), -1);
}

static void test_key_hash(void **s)
{
    /* MurmurHash3_x86_32 reference vectors (seed 0) */
    assert_int_equal(murmur3_32("", 0, 0), 0);
    assert_int_equal(murmur3_32("hello", 5, 0), 0x248bfa47);
    assert_int_equal(murmur3_32("The quick brown fox jumps over the lazy dog", 43, 0), 0x2e4ff723);
    /* Java's Murmur3_32Hash.makeHash masks the sign bit; partitions = hash % n */
    uint32_t h = pulsar_key_hash("hello", 5);
    assert_int_equal(h, 0x248bfa47 & 0x7fffffff);
    assert_true(pulsar_key_hash("The quick brown fox jumps over the lazy dog", 43) <= 0x7fffffff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_none),  cmocka_unit_test(test_fixture_lz4),
        cmocka_unit_test(test_fixture_zstd),  cmocka_unit_test(test_fixture_zlib),
        cmocka_unit_test(test_fixture_snappy), cmocka_unit_test(test_batch_encode_roundtrip),
        cmocka_unit_test(test_key_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
