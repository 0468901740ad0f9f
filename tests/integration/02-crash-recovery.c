/* 02-crash-recovery: produce under load, kill -9 the broker at an arbitrary moment, restart,
 * and check every message that got a SEND_RECEIPT is there exactly once; then corrupt the
 * tail of a segment and check recovery cuts it instead of serving it. */
#include <dirent.h>
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
#define N_MAX 20000

static int consume_all(mgt_broker_t *b, const char *topic, const char *sub, int *count_by_seq,
                       int max_seq)
{
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    assert_int_equal(mgt_subscribe(c, topic, sub, 0, 1, true, &f), T(SUCCESS));
    mgt_flow(c, 1, 100000);
    int total = 0;
    mgt_msg_t m;
    while (mgt_recv_message(c, &m, 1500) == 1) {
        int seq = atoi(m.data + 4); /* "msg-<seq>-..." */
        assert_true(strncmp(m.data, "msg-", 4) == 0);
        assert_true(seq >= 0 && seq < max_seq);
        count_by_seq[seq]++;
        total++;
    }
    mgt_close(c);
    return total;
}

static void test_kill9_under_load(void **s)
{
    mgt_broker_t *b = mgt_broker_start("journalSyncData=true\n");
    const char *topic = "persistent://public/default/crash";
    static int receipted[N_MAX], seen[N_MAX];
    memset(receipted, 0, sizeof receipted);
    memset(seen, 0, sizeof seen);
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, topic, 1, "crasher", &f), T(PRODUCER_SUCCESS));
    srand(12345);
    int kill_after = 2000 + rand() % 3000; /* receipts before the crash */
    int sent = 0, got = 0;
    char payload[1100];
    memset(payload, 'x', sizeof payload);
    while (sent < N_MAX) {
        /* keep a window of 200 in flight */
        while (sent < N_MAX && sent - got < 200) {
            int n = snprintf(payload, sizeof payload, "msg-%d-", sent);
            payload[n] = 'x';
            if (mgt_send(c, 1, (uint64_t)sent, "crasher", payload, 1000, NULL, 0)) break;
            sent++;
        }
        int r = mgt_recv(c, &f, 2000);
        if (r != 1) break;
        if (f.cmd->type == T(SEND_RECEIPT)) {
            receipted[f.cmd->send_receipt->sequence_id]++;
            got++;
            if (got == kill_after) {
                mgt_broker_kill9(b);
                break;
            }
        }
    }
    mgt_close(c);
    assert_int_equal(got, kill_after);
    mgt_broker_restart(b);
    int total = consume_all(b, topic, "verify", seen, N_MAX);
    int missing = 0, dups = 0;
    for (int i = 0; i < N_MAX; i++) {
        if (receipted[i] && seen[i] == 0) missing++;
        if (seen[i] > 1) dups++;
    }
    fprintf(stderr, "crash test: sent %d, receipted %d, recovered %d, missing %d, dups %d\n", sent,
            got, total, missing, dups);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
    assert_true(total >= got);
    /* the recovered log is in order: messages are numbered consecutively from 0 */
    for (int i = 0; i < total; i++) assert_int_equal(seen[i], 1);
    mgt_broker_free(b);
}

static void find_segment(const char *dir, char *out, size_t n)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -1 %s/data/ledgers/*/*.seg | tail -1", dir);
    assert_int_equal(mgt_run(cmd, out, n), 0);
    out[strcspn(out, "\n")] = 0;
    assert_true(strlen(out) > 0);
}

/* Send n messages "<pre><i><post>" (i = 0..n-1, sequence ids i) with producer 1 of c, waiting
 * for each receipt. */
static void send_numbered(mgt_conn_t *c, const char *pname, const char *pre, const char *post, int n)
{
    frame_t f;
    for (int i = 0; i < n; i++) {
        char p[64];
        int len = snprintf(p, sizeof p, "%s%d%s", pre, i, post);
        mgt_send(c, 1, (uint64_t)i, pname, p, (size_t)len, NULL, 0);
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
    }
}

static void test_torn_tail(void **s)
{
    mgt_broker_t *b = mgt_broker_start(NULL);
    const char *topic = "persistent://public/default/torn";
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, topic, 1, "tp", &f), T(PRODUCER_SUCCESS));
    send_numbered(c, "tp", "msg-", "-", 50);
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0);
    /* a torn write: half a record header and garbage at the end of the segment */
    char seg[512], cmd[700];
    find_segment(b->dir, seg, sizeof seg);
    snprintf(cmd, sizeof cmd, "printf 'MGR1\\001\\002\\003garbage-garbage' >> '%s'", seg);
    assert_int_equal(mgt_run(cmd, NULL, 0), 0);
    mgt_broker_restart(b);
    static int seen[100];
    memset(seen, 0, sizeof seen);
    int total = consume_all(b, topic, "v", seen, 100);
    assert_int_equal(total, 50);
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
    /* and the log keeps working after the cut */
    c = mgt_connect(b->port, true);
    assert_int_equal(mgt_producer(c, topic, 1, "tp2", &f), T(PRODUCER_SUCCESS));
    mgt_send(c, 1, 0, "tp2", "msg-50-", 7, NULL, 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, 50);
    mgt_close(c);
    mgt_broker_free(b);
}

/* Acknowledged positions are persisted managedLedgerDefaultMarkDeleteRateLimit times a second:
 * an ack older than one interval survives kill -9; the rest is redelivered (at-least-once). */
static void test_acks_persisted_at_rate(void **s)
{
    mgt_broker_t *b = mgt_broker_start("managedLedgerDefaultMarkDeleteRateLimit=20\n");
    const char *topic = "persistent://public/default/ackrate";
    frame_t f;
    mgt_conn_t *c = mgt_connect(b->port, true);
    assert_int_equal(mgt_subscribe(c, topic, "s", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_producer(c, topic, 1, "ap", &f), T(PRODUCER_SUCCESS));
    send_numbered(c, "ap", "m", "", 10);
    assert_int_equal(mgt_flow(c, 1, 100), 0);
    mgt_msg_t m;
    for (int i = 0; i < 10; i++) assert_int_equal(mgt_recv_message(c, &m, 5000), 1);
    assert_int_equal(mgt_ack(c, 1, m.ledger, 5, true), 0); /* entries 0..5 */
    usleep(600 * 1000); /* 12 intervals of 50 ms */
    mgt_broker_kill9(b);
    mgt_close(c);
    mgt_broker_restart(b);
    c = mgt_connect(b->port, true);
    assert_int_equal(mgt_subscribe(c, topic, "s", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(c, 1, 100), 0);
    assert_int_equal(mgt_recv_message(c, &m, 5000), 1);
    assert_int_equal(m.entry, 6); /* the first one not acknowledged */
    mgt_close(c);
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acks_persisted_at_rate),
        cmocka_unit_test(test_kill9_under_load),
        cmocka_unit_test(test_torn_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
