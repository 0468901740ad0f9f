/* test_frames: the frame decoder on real official-client byte streams (shared fixtures):
 * every frame decodes, every SEND checksum verifies, batches split into the listed number of
 * entries, and our encoder re-encodes each command to the exact same bytes. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/crc32c.h"
#include "proto/frame.h"

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    b[*n] = 0;
    return b;
}

/* Sum of "K frames" over the "# connection i: N bytes, K frames" lines of the listing. */
static int listed_frames(const char *txt)
{
    int total = 0;
    const char *p = txt;
    while ((p = strstr(p, "\n# connection "))) {
        int conn, bytes, frames;
        if (sscanf(p, "\n# connection %d: %d bytes, %d frames", &conn, &bytes, &frames) == 3)
            total += frames;
        p++;
    }
    return total;
}

static void check_fixture(const char *base)
{
    char path[600];
    size_t n = 0, tn = 0;
    snprintf(path, sizeof path, "%s/%s.bin", MG_FIXTURES, base);
    uint8_t *bin = slurp(path, &n);
    assert_non_null(bin);
    snprintf(path, sizeof path, "%s/%s.txt", MG_FIXTURES, base);
    char *txt = (char *)slurp(path, &tn);
    assert_non_null(txt);
    size_t off = 0;
    int frames = 0, sends = 0, batched = 0;
    while (off < n) {
        frame_t f;
        char err[200];
        ssize_t r = frame_decode(bin + off, n - off, 64u << 20, &f, err, sizeof err);
        if (r <= 0) fprintf(stderr, "%s: frame %d at %zu: %s\n", base, frames, off, err);
        assert_true(r > 0);
        /* byte-exact: re-encoding the decoded command gives the client's bytes */
        mg_buf_t out;
        buf_init(&out);
        frame_write_cmd_head(&out, f.cmd, f.payload_len);
        assert_memory_equal(out.data, bin + off, out.len);
        buf_free(&out);
        if (f.cmd->type == PULSAR__PROTO__BASE_COMMAND__TYPE__SEND) {
            payload_view_t pv;
            assert_int_equal(payload_parse(f.payload, f.payload_len, &pv), 0);
            assert_true(pv.has_checksum);
            assert_true(pv.checksum_ok);
            pb_meta_t *md = payload_metadata(&pv);
            assert_non_null(md);
            meta_info_t mi;
            assert_int_equal(payload_meta_info(&pv, &mi), 0);
            assert_int_equal(mi.num_messages, md->has_num_messages_in_batch ? md->num_messages_in_batch : 1);
            assert_true(mi.publish_time == md->publish_time);
            if (md->has_num_messages_in_batch && md->compression == 0 && md->num_messages_in_batch > 1) {
                /* split an uncompressed batch: [u32 size][SingleMessageMetadata][payload]... */
                size_t p = 0;
                int entries = 0;
                while (p + 4 <= pv.data_len) {
                    uint32_t ss = rd_u32be(pv.data + p);
                    Pulsar__Proto__SingleMessageMetadata *sm =
                        pulsar__proto__single_message_metadata__unpack(NULL, ss, pv.data + p + 4);
                    assert_non_null(sm);
                    p += 4 + ss + (size_t)sm->payload_size;
                    pulsar__proto__single_message_metadata__free_unpacked(sm, NULL);
                    entries++;
                }
                assert_int_equal(p, pv.data_len);
                assert_int_equal(entries, md->num_messages_in_batch);
                batched++;
            }
            pulsar__proto__message_metadata__free_unpacked(md, NULL);
            sends++;
        }
        frame_release(&f);
        off += (size_t)r;
        frames++;
    }
    assert_int_equal(frames, listed_frames(txt));
    if (!strcmp(base, "02-producer-batch-none")) assert_true(batched > 0);
    free(bin);
    free(txt);
}

static void test_all_fixtures(void **s)
{
    DIR *d = opendir(MG_FIXTURES);
    if (!d) {
        fprintf(stderr, "fixtures not found at %s\n", MG_FIXTURES);
        fail();
    }
    struct dirent *de;
    int count = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".bin")) continue;
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(l - 4), de->d_name);
        check_fixture(base);
        count++;
    }
    closedir(d);
    assert_int_equal(count, 17);
}

static void test_crc32c_vectors(void **s)
{
    /* RFC 3720 test vectors */
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    assert_int_equal(crc32c(0, zeros, 32), 0x8A9136AA);
    assert_int_equal(crc32c(0, ones, 32), 0x62A8AB43);
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283);
    /* incremental equals one-shot */
    assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283);
}

/* bit-at-a-time reference, independent of the library computing crc32c */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* short and long buffers (the library's folding paths), at several alignments and with tails;
 * combine joins two checksums as if computed over the concatenation */
static void test_crc32c_long_and_combine(void **s)
{
    size_t cap = 3 * 4096 * 3 + 37;
    uint8_t *b = malloc(cap + 8);
    uint32_t x = 12345;
    for (size_t i = 0; i < cap + 8; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
    size_t lens[] = {0, 1, 7, 8, 4095, 12287, 12288, 12289, 24576 + 5, cap};
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
        for (int a = 0; a < 8; a += 3) {
            uint32_t want = crc_ref(0, b + a, lens[li]);
            assert_int_equal(crc32c(0, b + a, lens[li]), want);
            assert_int_equal(crc32c(0x1234567u, b + a, lens[li]), crc_ref(0x1234567u, b + a, lens[li]));
            for (size_t cut = 0; cut <= lens[li]; cut += lens[li] / 3 + 1) {
                uint32_t c1 = crc32c(0, b + a, cut), c2 = crc32c(0, b + a + cut, lens[li] - cut);
                assert_int_equal(crc32c_combine(c1, c2, lens[li] - cut), want);
            }
        }
    free(b);
    /* lengths that use each byte of the operator table: continuing a checksum over a run of
     * zeros must equal combining it with the checksum of the zeros */
    size_t big = ((size_t)1 << 24) + 0x10203;
    uint8_t *z = calloc(big, 1);
    size_t zl[] = {1, 255, 256, 65535, 65537, 0x10203, 0x123456, big};
    for (size_t i = 0; i < sizeof zl / sizeof *zl; i++) {
        uint32_t c1 = crc32c(0, "magnetar", 8);
        assert_int_equal(crc32c_combine(c1, crc32c(0, z, zl[i]), zl[i]), crc32c(c1, z, zl[i]));
    }
    /* past 4 GB (the squaring loop): the checksum of 2^31 zeros by doubling from 2^24, then
     * A || 2^32 zeros || "xyz" joined once over 2^32 + 3 bytes and in three steps under 4 GB */
    uint32_t zc = crc32c(0, z, (size_t)1 << 24);
    for (int k = 24; k < 31; k++) zc = crc32c_combine(zc, zc, (uint64_t)1 << k);
    uint32_t c1 = crc32c(0, "magnetar", 8), c3 = crc32c(0, "xyz", 3);
    uint32_t tail = crc32c_combine(crc32c_combine(zc, zc, (uint64_t)1 << 31), c3, 3);
    uint32_t steps = crc32c_combine(crc32c_combine(crc32c_combine(c1, zc, (uint64_t)1 << 31), zc,
                                                   (uint64_t)1 << 31), c3, 3);
    assert_int_equal(crc32c_combine(c1, tail, ((uint64_t)1 << 32) + 3), steps);
    free(z);
}

static void test_decoder_limits(void **s)
{
    frame_t f;
    char err[200];
    uint8_t big[8] = {0x01, 0, 0, 0, 0, 0, 0, 4};
    assert_int_equal(frame_decode(big, 8, 5u << 20, &f, err, sizeof err), -1);
    uint8_t small[4] = {0, 0, 0, 2};
    assert_int_equal(frame_decode(small, 4, 5u << 20, &f, err, sizeof err), -1);
    uint8_t partial[6] = {0, 0, 0, 20, 0, 0};
    assert_int_equal(frame_decode(partial, 6, 5u << 20, &f, err, sizeof err), 0);
    uint8_t badcs[8] = {0, 0, 0, 8, 0, 0, 0, 9};
    assert_int_equal(frame_decode(badcs, 8, 5u << 20, &f, err, sizeof err), -1);
    payload_view_t pv;
    uint8_t pl[] = {0x0e, 0x01, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    assert_int_equal(payload_parse(pl, sizeof pl, &pv), -1);
}

/* payload_meta_info against protobuf-c's decoder on metadata we encode, and on broken bytes */
static void check_meta(const pb_meta_t *m)
{
    uint8_t buf[512];
    size_t n = pulsar__proto__message_metadata__pack(m, buf);
    payload_view_t pv = {.meta = buf, .meta_len = n};
    meta_info_t mi;
    assert_int_equal(payload_meta_info(&pv, &mi), 0);
    pb_meta_t *d = payload_metadata(&pv);
    assert_non_null(d);
    assert_int_equal(mi.num_messages, d->has_num_messages_in_batch ? d->num_messages_in_batch : 1);
    assert_true(mi.publish_time == d->publish_time);
    assert_true(mi.deliver_at == (d->has_deliver_at_time ? d->deliver_at_time : 0));
    assert_int_equal(mi.ordering_key != NULL, d->has_ordering_key);
    if (mi.ordering_key) {
        assert_int_equal(mi.ordering_key_len, d->ordering_key.len);
        assert_memory_equal(mi.ordering_key, d->ordering_key.data, mi.ordering_key_len);
    }
    assert_int_equal(mi.partition_key != NULL, d->partition_key != NULL);
    if (mi.partition_key) {
        assert_int_equal(mi.partition_key_len, strlen(d->partition_key));
        assert_memory_equal(mi.partition_key, d->partition_key, mi.partition_key_len);
    }
    pulsar__proto__message_metadata__free_unpacked(d, NULL);
}

static int meta_scan(const uint8_t *b, size_t n)
{
    payload_view_t pv = {.meta = b, .meta_len = n};
    meta_info_t mi;
    return payload_meta_info(&pv, &mi);
}

static void test_meta_info(void **s)
{
    pb_meta_t m = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    m.producer_name = "p-1";
    m.sequence_id = 42;
    m.publish_time = 1764300000123ull;
    check_meta(&m); /* the minimum: no batch, no key */
    m.has_num_messages_in_batch = 1;
    m.num_messages_in_batch = 100;
    m.partition_key = "order-7";
    m.has_deliver_at_time = 1;
    m.deliver_at_time = -5; /* negative int64: a 10-byte varint */
    Pulsar__Proto__KeyValue kv = PULSAR__PROTO__KEY_VALUE__INIT, *kvs[2] = {&kv, &kv};
    kv.key = "k";
    kv.value = "v";
    m.n_properties = 2;
    m.properties = kvs;
    m.has_event_time = 1;
    m.event_time = 1ull << 60;
    m.has_compression = 1;
    m.compression = PULSAR__PROTO__COMPRESSION_TYPE__LZ4;
    check_meta(&m);
    uint8_t ok[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* a uint32 that is -1 as int32 */
    m.has_ordering_key = 1;
    m.ordering_key.data = ok;
    m.ordering_key.len = sizeof ok;
    m.has_num_messages_in_batch = 1;
    m.num_messages_in_batch = -3;
    check_meta(&m);
    m.partition_key = "";
    m.has_ordering_key = 0;
    check_meta(&m); /* an empty key is a key */

    /* hand-made: 1 "a", 2 = 1, 3 = 7, then 11 = 5 twice (the last wins), unknown 40 as fixed32 */
    uint8_t good[] = {0x0a, 1, 'a', 0x10, 1, 0x18, 7, 0x58, 4, 0x58, 5, 0xc5, 0x02, 1, 2, 3, 4};
    payload_view_t pv = {.meta = good, .meta_len = sizeof good};
    meta_info_t mi;
    assert_int_equal(payload_meta_info(&pv, &mi), 0);
    assert_int_equal(mi.num_messages, 5);
    assert_true(mi.publish_time == 7);
    assert_null(mi.partition_key);
    for (size_t cut = 0; cut < sizeof good; cut++) /* a cut between whole fields after 1-3 is valid */
        assert_int_equal(meta_scan(good, cut), cut == 7 || cut == 9 || cut == 11 ? 0 : -1);
    uint8_t no_pub[] = {0x0a, 1, 'a', 0x10, 1};
    assert_int_equal(meta_scan(no_pub, sizeof no_pub), -1);
    uint8_t wrong_type[] = {0x0a, 1, 'a', 0x10, 1, 0x18, 7, 0x5a, 1, 5}; /* 11 length-delimited */
    assert_int_equal(meta_scan(wrong_type, sizeof wrong_type), -1);
    uint8_t group[] = {0x0a, 1, 'a', 0x10, 1, 0x18, 7, 0xc3, 0x02};
    assert_int_equal(meta_scan(group, sizeof group), -1);
    uint8_t long_len[] = {0x0a, 0x7f, 'a', 0x10, 1, 0x18, 7};
    assert_int_equal(meta_scan(long_len, sizeof long_len), -1);
    uint8_t long_varint[] = {0x0a, 1, 'a', 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x18, 7};
    assert_int_equal(meta_scan(long_varint, sizeof long_varint), -1);
    uint8_t field0[] = {0x00, 1, 0x0a, 1, 'a', 0x10, 1, 0x18, 7}; /* unknown numbers are skipped */
    assert_int_equal(meta_scan(field0, sizeof field0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_long_and_combine),
        cmocka_unit_test(test_decoder_limits),
        cmocka_unit_test(test_meta_info),
        cmocka_unit_test(test_all_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
