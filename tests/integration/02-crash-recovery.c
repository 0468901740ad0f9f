/* 02-crash-recovery: produce under load, kill -9 the broker at an arbitrary moment, restart,
 * and check every message that got a SEND_RECEIPT is there exactly once; the same while a
 * consumer keeps up and the store writes over recycled segment files; then corrupt the tail of
 * a segment and check recovery cuts it instead of serving it. */
#include <dirent.h>
#include <setjmp.h>
#include <stdbool.h>
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
    mgt_conn_t *c = mgt_consumer_on(b->port, topic, sub, 100000);
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

/* Add the inode numbers of the files in dir (names not starting with '.'; with suffix, only
 * names ending so) to ino[*n] (up to max, no duplicates). */
static void add_inodes(const char *dir, const char *suffix, ino_t *ino, int *n, int max)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.') continue;
        if (suffix && (len < strlen(suffix) || strcmp(de->d_name + len - strlen(suffix), suffix)))
            continue;
        bool dup = false;
        for (int i = 0; i < *n; i++) dup |= ino[i] == de->d_ino;
        if (!dup && *n < max) ino[(*n)++] = de->d_ino;
    }
    closedir(d);
}

/* Has a segment file of the store's only log ever been in the recycled directory (inodes
 * seen there so far in kept[0..nkept))? Adds what is there now to kept. */
static bool segment_reused(mgt_broker_t *b, ino_t *kept, int *nkept, int max)
{
    char path[700];
    snprintf(path, sizeof path, "%s/data/ledgers/.recycled", b->dir);
    add_inodes(path, NULL, kept, nkept, max);
    snprintf(path, sizeof path, "%s/data/ledgers", b->dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    ino_t segs[256];
    int nsegs = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char ld[1200];
        snprintf(ld, sizeof ld, "%s/%s", path, de->d_name);
        add_inodes(ld, ".seg", segs, &nsegs, 256);
    }
    closedir(d);
    for (int i = 0; i < nsegs; i++)
        for (int k = 0; k < *nkept; k++)
            if (segs[i] == kept[k]) return true;
    return false;
}

/* Record a received "msg-<seq>-" message of 1000 bytes in seen[]. */
static void note_msg(const mgt_msg_t *m, int *seen)
{
    assert_int_equal(m->data_len, 1000);
    assert_true(strncmp(m->data, "msg-", 4) == 0);
    int seq = atoi(m->data + 4);
    assert_true(seq >= 0 && seq < N_MAX);
    seen[seq]++;
}

/* 1 MB segments, a consumer acknowledging as it goes: consumed segments are trimmed when its
 * position passes them, their files recycled and written over by later segments. kill -9
 * once that has happened; after the restart the subscription gets every receipted message it
 * had not seen (the bytes a recycled file held before never come back as messages). */
static void test_kill9_recycled_segments(void **s)
{
    mgt_broker_t *b = mgt_broker_start("journalSyncData=true\nmanagedLedgerMaxSizePerLedgerMbytes=1\n"
                                       "storageRecycledSegmentsMax=4\n");
    const char *topic = "persistent://public/default/recycle";
    static int receipted[N_MAX], seen[N_MAX];
    memset(receipted, 0, sizeof receipted);
    memset(seen, 0, sizeof seen);
    frame_t f;
    mgt_conn_t *cc = mgt_consumer_on(b->port, topic, "live", 1000000), *c = mgt_connect(b->port, true);
    assert_int_equal(mgt_producer(c, topic, 1, "recycler", &f), T(PRODUCER_SUCCESS));
    int sent = 0, got = 0, kill_at = -1, nkept = 0;
    ino_t kept[1024];
    bool taken = false; /* a recycled file was taken for a new segment */
    char payload[1100];
    memset(payload, 'x', sizeof payload);
    mgt_msg_t m;
    while (sent < N_MAX && got != kill_at) {
        while (sent < N_MAX && sent - got < 100) {
            snprintf(payload, sizeof payload, "msg-%d-", sent);
            payload[strlen(payload)] = 'x';
            if (mgt_send(c, 1, (uint64_t)sent, "recycler", payload, 1000, NULL, 0)) break;
            sent++;
        }
        while (got < sent && got != kill_at) {
            assert_int_equal(mgt_recv(c, &f, 5000), 1);
            if (f.cmd->type != T(SEND_RECEIPT)) continue;
            receipted[f.cmd->send_receipt->sequence_id]++;
            got++;
        }
        while (mgt_recv_message(cc, &m, got < sent ? 0 : 20) == 1) {
            note_msg(&m, seen);
            assert_int_equal(mgt_ack(cc, 1, m.ledger, m.entry, true), 0);
        }
        if (!taken) taken = segment_reused(b, kept, &nkept, 1024);
        if (taken && kill_at < 0) kill_at = got + 300 + rand() % 1000;
    }
    assert_true(taken);
    assert_int_equal(got, kill_at);
    mgt_broker_kill9(b);
    mgt_close(c);
    mgt_close(cc);
    mgt_broker_restart(b);
    cc = mgt_consumer_on(b->port, topic, "live", 1000000);
    int after = 0;
    while (mgt_recv_message(cc, &m, 1500) == 1) {
        note_msg(&m, seen);
        after++;
    }
    mgt_close(cc);
    int missing = 0;
    for (int i = 0; i < N_MAX; i++)
        if (receipted[i] && !seen[i]) missing++;
    fprintf(stderr, "recycling crash test: sent %d, receipted %d, redelivered after restart %d, "
                    "missing %d\n", sent, got, after, missing);
    assert_int_equal(missing, 0);
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
    c = mgt_consumer_on(b->port, topic, "s", 100);
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
        cmocka_unit_test(test_kill9_recycled_segments),
        cmocka_unit_test(test_torn_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
