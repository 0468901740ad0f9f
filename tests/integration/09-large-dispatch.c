/* 09-large-dispatch: large entries go to consumers with sendfile from their segment files.
 * Checked end to end: byte-exact payloads with valid checksums for a consumer that reads at
 * once, one that stalls until its socket buffer is full (partial sendfile, EAGAIN, resume),
 * across segment rolls, and after a restart when every entry comes back from disk.
 * Large SENDs that arrive in pieces of every size, back to back in one write, with a bad
 * checksum among them, and a connection that closes half-way through one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
#define N 60
#define SZ (100 * 1024)

static void fill(uint8_t *p, int i)
{
    for (int k = 0; k < SZ; k++) p[k] = (uint8_t)(i * 31 + k * 7 + (k >> 9));
}

/* Receive N messages on c (consumer id cid), checking each entry id, checksum and payload. */
static void read_all(mgt_conn_t *c, uint64_t cid)
{
    uint8_t *want = malloc(SZ);
    for (int i = 0; i < N; i++) {
        frame_t f;
        assert_int_equal(mgt_expect(c, T(MESSAGE), &f, 10000), 1);
        assert_int_equal(f.cmd->message->consumer_id, cid);
        assert_int_equal(f.cmd->message->message_id->entryid, (uint64_t)i);
        payload_view_t v;
        assert_int_equal(payload_parse(f.payload, f.payload_len, &v), 0);
        assert_true(v.has_checksum);
        assert_true(v.checksum_ok);
        assert_int_equal(v.data_len, SZ);
        fill(want, i);
        assert_memory_equal(v.data, want, SZ);
    }
    free(want);
}

static void test_large_entries(void **s)
{
    /* 1 MB segments: the 6 MB of entries span several files */
    mgt_broker_t *b = mgt_broker_start("journalSyncData=true\nmanagedLedgerMaxSizePerLedgerMbytes=1\n");
    const char *topic = "persistent://public/default/large";
    frame_t f;
    mgt_conn_t *ca = mgt_connect(b->port, true), *cb = mgt_connect(b->port, true);
    assert_int_equal(mgt_subscribe(ca, topic, "prompt", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_subscribe(cb, topic, "stalled", 0, 2, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(ca, 1, 1000), 0);
    assert_int_equal(mgt_flow(cb, 2, 1000), 0);

    mgt_conn_t *p = mgt_connect(b->port, true);
    assert_int_equal(mgt_producer(p, topic, 1, NULL, &f), T(PRODUCER_SUCCESS));
    char pname[128];
    snprintf(pname, sizeof pname, "%s", f.cmd->producer_success->producer_name);
    uint8_t *buf = malloc(SZ);
    for (int i = 0; i < N; i++) {
        fill(buf, i);
        assert_int_equal(mgt_send(p, 1, (uint64_t)i, pname, buf, SZ, NULL, 0), 0);
        assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 10000), 1);
        assert_int_equal(f.cmd->send_receipt->message_id->entryid, (uint64_t)i);
    }
    read_all(ca, 1);
    sleep(1); /* cb has not read a byte: its output stopped part-way through an entry */
    read_all(cb, 2);
    mgt_close(ca);
    mgt_close(cb);
    mgt_close(p);

    /* after a restart nothing is cached: every entry is read back and sent from its file */
    mgt_broker_restart(b);
    mgt_conn_t *cc = mgt_connect(b->port, true);
    assert_int_equal(mgt_subscribe(cc, topic, "late", 0, 3, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(cc, 3, 1000), 0);
    read_all(cc, 3);
    mgt_close(cc);
    free(buf);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

/* Write p[0..n) in pieces of the given sizes (cycled), pausing now and then so the broker
 * sees partial frames. */
static void send_pieces(mgt_conn_t *c, const uint8_t *p, size_t n, const size_t *sizes, int nsizes)
{
    size_t off = 0;
    for (int k = 0; off < n; k++) {
        size_t len = sizes[k % nsizes];
        if (len > n - off) len = n - off;
        assert_int_equal(mgt_send_raw(c, p + off, len), 0);
        off += len;
        if (k % 3 == 0) usleep(2000);
    }
}

static void test_split_sends(void **s)
{
    (void)s;
    mgt_broker_t *b = mgt_broker_start("journalSyncData=true\n");
    const char *topic = "persistent://public/default/split";
    frame_t f;
    mgt_conn_t *cons = mgt_consumer_on(b->port, topic, "s", 1000);
    mgt_conn_t *p = mgt_connect(b->port, true);
    assert_int_equal(mgt_producer(p, topic, 1, NULL, &f), T(PRODUCER_SUCCESS));
    char pname[128];
    snprintf(pname, sizeof pname, "%s", f.cmd->producer_success->producer_name);

    /* 8 frames back to back; the 4th has a payload byte changed after its checksum */
    enum { NF = 8, BAD = 3 };
    uint8_t *buf = malloc(SZ);
    mg_buf_t all;
    buf_init(&all);
    for (int i = 0; i < NF; i++) {
        fill(buf, i);
        mgt_encode_send(&all, 1, (uint64_t)i, pname, buf, SZ);
        if (i == BAD) all.data[all.len - 100] ^= 0x40;
    }
    const size_t sizes[] = {3, 17, 900, 70000, 4096, 150000, 1, 33000, 8};
    send_pieces(p, all.data, all.len, sizes, 9);
    /* The checksum error goes out as soon as the frame is read, as Pulsar's broker sends it;
     * receipts wait for the disk. So the error may come before earlier receipts: the receipts
     * come in order among themselves, the error once, for the bad frame. */
    uint64_t next_receipt = 0;
    int errors = 0;
    for (int i = 0; i < NF; i++) {
        assert_int_equal(mgt_recv(p, &f, 10000), 1);
        if (f.cmd->type == T(SEND_ERROR)) {
            assert_int_equal(f.cmd->send_error->sequence_id, BAD);
            assert_int_equal(f.cmd->send_error->error, PULSAR__PROTO__SERVER_ERROR__ChecksumError);
            errors++;
            continue;
        }
        assert_int_equal(f.cmd->type, T(SEND_RECEIPT));
        if (next_receipt == BAD) next_receipt++;
        assert_int_equal(f.cmd->send_receipt->sequence_id, next_receipt);
        next_receipt++;
    }
    assert_int_equal(errors, 1);
    assert_int_equal(next_receipt, NF);
    /* the consumer gets the 7 good ones, byte-exact */
    for (int i = 0; i < NF; i++) {
        if (i == BAD) continue;
        assert_int_equal(mgt_expect(cons, T(MESSAGE), &f, 10000), 1);
        payload_view_t v;
        assert_int_equal(payload_parse(f.payload, f.payload_len, &v), 0);
        assert_true(v.checksum_ok);
        assert_int_equal(v.data_len, SZ);
        fill(buf, i);
        assert_memory_equal(v.data, buf, SZ);
    }

    /* a producer that vanishes half-way through a large SEND: the broker lets the partial
     * entry go and keeps serving */
    mgt_conn_t *q = mgt_connect(b->port, true);
    assert_int_equal(mgt_producer(q, topic, 2, NULL, &f), T(PRODUCER_SUCCESS));
    buf_reset(&all);
    fill(buf, 99);
    mgt_encode_send(&all, 2, 0, f.cmd->producer_success->producer_name, buf, SZ);
    assert_int_equal(mgt_send_raw(q, all.data, all.len / 2), 0);
    usleep(50000);
    mgt_close(q);
    fill(buf, NF);
    assert_int_equal(mgt_send(p, 1, NF, pname, buf, SZ, NULL, 0), 0);
    assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 10000), 1);
    assert_int_equal(mgt_expect(cons, T(MESSAGE), &f, 10000), 1);
    payload_view_t v;
    assert_int_equal(payload_parse(f.payload, f.payload_len, &v), 0);
    assert_memory_equal(v.data, buf, SZ);
    buf_free(&all);
    free(buf);
    mgt_close(p);
    mgt_close(cons);
    assert_true(mgt_broker_alive(b));
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

static void fill_big(uint8_t *p, int n, int i)
{
    for (int k = 0; k < n; k++) p[k] = (uint8_t)(i * 13 + k * 5 + (k >> 12));
}

/* Many producers announce large SENDs at once and stall half-way: the broker reads a large
 * payload straight into an entry allocated at the announced size, for at most 64 MB of frames
 * across its connections; the frames past that are buffered as their bytes come. Both kinds
 * complete when the rest arrives, byte-exact, in order. */
static void test_many_half_sent(void **s)
{
    (void)s;
    enum { NP = 18, BIG = 4 << 20 }; /* 72 MB announced: more than the 64 MB read apart */
    mgt_broker_t *b = mgt_broker_start("journalSyncData=false\n");
    const char *topic = "persistent://public/default/half";
    frame_t f;
    mgt_conn_t *cons = mgt_consumer_on(b->port, topic, "s", 1000);
    mgt_conn_t *p[NP];
    mg_buf_t fr[NP];
    uint8_t *buf = malloc(BIG);
    for (int i = 0; i < NP; i++) {
        p[i] = mgt_connect(b->port, true);
        assert_int_equal(mgt_producer(p[i], topic, 1, NULL, &f), T(PRODUCER_SUCCESS));
        fill_big(buf, BIG, i);
        buf_init(&fr[i]);
        mgt_encode_send(&fr[i], 1, 0, f.cmd->producer_success->producer_name, buf, BIG);
        assert_int_equal(mgt_send_raw(p[i], fr[i].data, fr[i].len / 2), 0);
    }
    usleep(100000);
    for (int i = 0; i < NP; i++) {
        assert_int_equal(mgt_send_raw(p[i], fr[i].data + fr[i].len / 2, fr[i].len - fr[i].len / 2), 0);
        assert_int_equal(mgt_expect(p[i], T(SEND_RECEIPT), &f, 20000), 1);
        assert_int_equal(f.cmd->send_receipt->message_id->entryid, (uint64_t)i);
        buf_free(&fr[i]);
    }
    for (int i = 0; i < NP; i++) {
        assert_int_equal(mgt_expect(cons, T(MESSAGE), &f, 20000), 1);
        assert_int_equal(f.cmd->message->message_id->entryid, (uint64_t)i);
        payload_view_t v;
        assert_int_equal(payload_parse(f.payload, f.payload_len, &v), 0);
        assert_true(v.checksum_ok);
        assert_int_equal(v.data_len, BIG);
        fill_big(buf, BIG, i);
        assert_memory_equal(v.data, buf, BIG);
        assert_int_equal(mgt_ack(cons, 1, f.cmd->message->message_id->ledgerid, (uint64_t)i, false), 0);
    }
    free(buf);
    for (int i = 0; i < NP; i++) mgt_close(p[i]);
    mgt_close(cons);
    assert_true(mgt_broker_alive(b));
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_large_entries),
                                       cmocka_unit_test(test_split_sends),
                                       cmocka_unit_test(test_many_half_sent)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
