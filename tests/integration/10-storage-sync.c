/* 10-storage-sync: a receipt never comes before the fdatasync that makes its entry durable,
 * with a slow disk. The broker runs with tests/integration/shim/slow_sync.c preloaded: every
 * fdatasync of a log's first segment file returns 400 ms late.
 *
 * Across a segment roll: entry 0 and entry 1 go to segment 0, each with its own (slow) sync in
 * flight; entry 2 does not fit and starts segment 1, whose sync is quick. A sync completes every
 * batch written before it started, so segment 1's sync may complete entries 0 and 1 only if
 * segment 0 was synced at the roll. Without that sync, entry 0 was acknowledged within
 * milliseconds, before its own file was on disk.
 *
 * A failing disk: when the fdatasync of a log's file fails (EIO), what it held is of unknown
 * durability. Its SENDs get PersistenceError, never a receipt, and so do later ones on that
 * log; the broker stays up.
 *
 * A shutdown while a health check waits for the disk: /admin/v2/brokers/health writes an entry
 * and answers once it is durable. A SIGTERM meanwhile ends the request (503, or the connection
 * closes with the server), and the check's state is freed with its log: the broker exits 0
 * (under ASan, the leak this once was made it exit 1). Health checks that overlap while the
 * disk is slow all succeed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/timeutil.h"
#include "magnetar/magnetar.h"
#include "mgclient.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
#define SLOW_MS 400

/* fail: NULL (the disk is only slow), "-1" (every matched sync fails), "N" (the first N do) or
 * "write:N" (the first N writes fail with ENOSPC, a full disk) */
static mgt_broker_t *start_with_slow_segment0(const char *conf, int ms_late, const char *fail)
{
    const char *lib = getenv("MG_SLOW_SYNC_LIB"); /* set by ctest (CMakeLists.txt) */
    assert_non_null(lib);
    assert_int_equal(access(lib, R_OK), 0);
    char *asan_old = getenv("ASAN_OPTIONS") ? strdup(getenv("ASAN_OPTIONS")) : NULL;
    char asan[1024], ms[16];
    /* the shim is preloaded before ASan's runtime: tell ASan that is intended */
    snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0", asan_old ? asan_old : "",
             asan_old ? ":" : "");
    snprintf(ms, sizeof ms, "%d", ms_late);
    setenv("ASAN_OPTIONS", asan, 1);
    setenv("LD_PRELOAD", lib, 1);
    setenv("MG_SLOW_SYNC_SUFFIX", "/00000000000000000000.seg", 1);
    setenv("MG_SLOW_SYNC_MS", ms, 1);
    if (fail && !strncmp(fail, "write:", 6)) setenv("MG_WRITE_FAIL", fail + 6, 1);
    else if (fail) setenv("MG_SLOW_SYNC_FAIL", fail, 1);
    mgt_broker_t *b = mgt_broker_start(conf);
    unsetenv("MG_SLOW_SYNC_FAIL");
    unsetenv("MG_WRITE_FAIL");
    unsetenv("LD_PRELOAD"); /* for this process's later children */
    unsetenv("MG_SLOW_SYNC_SUFFIX");
    if (asan_old) setenv("ASAN_OPTIONS", asan_old, 1);
    else unsetenv("ASAN_OPTIONS");
    free(asan_old);
    return b;
}

static void test_roll_waits_for_old_segment(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0("managedLedgerMaxSizePerLedgerMbytes=1\n", SLOW_MS, NULL);
    assert_non_null(b);
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, "rollsync", 1, "rp", &f), T(PRODUCER_SUCCESS));
    enum { SIZE = 400 * 1024 }; /* two fit in a 1 MB segment, the third starts the next */
    char *data = malloc(SIZE);
    memset(data, 'r', SIZE);
    uint64_t t0 = mg_mono_ms(), at[3] = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mgt_send(c, 1, (uint64_t)i, "rp", data, SIZE, NULL, 0), 0);
        usleep(40 * 1000); /* separate writes, each with its own sync */
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 10000), 1);
        uint64_t seq = f.cmd->send_receipt->sequence_id;
        assert_true(seq < 3);
        at[seq] = mg_mono_ms() - t0;
    }
    free(data);
    /* entries 0 and 1 are durable only once segment 0's slow sync returned */
    printf("receipts after %llu, %llu, %llu ms (segment 0 syncs take %d ms more)\n",
           (unsigned long long)at[0], (unsigned long long)at[1], (unsigned long long)at[2], SLOW_MS);
    assert_true(at[0] >= SLOW_MS - 20);
    assert_true(at[1] >= SLOW_MS - 20);
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

/* The producer's SEND gets PersistenceError, then the topic is unloaded (CLOSE_PRODUCER) so
 * that its log is recovered from disk when the producer comes back. */
static void expect_persistence_error_then_close(mgt_conn_t *c, uint64_t producer_id, uint64_t seq)
{
    frame_t f;
    assert_int_equal(mgt_recv(c, &f, 10000), 1);
    assert_int_equal(f.cmd->type, T(SEND_ERROR)); /* never a SEND_RECEIPT */
    assert_int_equal(f.cmd->send_error->sequence_id, seq);
    assert_int_equal(f.cmd->send_error->error, PULSAR__PROTO__SERVER_ERROR__PersistenceError);
    assert_int_equal(mgt_expect(c, T(CLOSE_PRODUCER), &f, 10000), 1);
    assert_int_equal(f.cmd->close_producer->producer_id, producer_id);
}

/* Producer pid ("name") on topic sends seq: refused with PersistenceError, then closed. */
static void send_refused(mgt_conn_t *c, const char *topic, uint64_t pid, const char *name,
                         uint64_t seq, const char *payload)
{
    frame_t f;
    assert_int_equal(mgt_producer(c, topic, pid, name, &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_send(c, pid, seq, name, payload, strlen(payload), NULL, 0), 0);
    expect_persistence_error_then_close(c, pid, seq);
}

/* An Exclusive subscription (consumer 7) from the earliest entry, with permits for 10. */
static void read_from_start(mgt_conn_t *c, const char *topic)
{
    frame_t f;
    assert_int_equal(mgt_subscribe(c, topic, "s", PULSAR__PROTO__COMMAND_SUBSCRIBE__SUB_TYPE__Exclusive, 7,
                                   true, &f),
                     T(SUCCESS));
    assert_int_equal(mgt_flow(c, 7, 10), 0);
}

static void test_failed_sync_is_not_acknowledged(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0(NULL, 0, "-1");
    assert_non_null(b);
    mgt_conn_t *c = mgt_connect(b->port, true);
    /* every sync fails: each time the producer comes back, its next SEND fails again */
    for (uint64_t i = 0; i < 3; i++) send_refused(c, "badisk", i + 1, "bp", i, "lost?");
    assert_true(mgt_broker_alive(b));
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

/* One failed sync, then a healthy disk: the producer that comes back publishes again, and a
 * consumer reads the log as recovered from disk, the new message last. */
static void test_topic_recovers_after_failed_sync(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0(NULL, 0, "1");
    assert_non_null(b);
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    send_refused(c, "flaky", 1, "fp", 0, "first");
    /* the client reconnects its producer, as Pulsar clients do after CLOSE_PRODUCER */
    assert_int_equal(mgt_producer(c, "flaky", 2, "fp", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_send(c, 2, 1, "fp", "second", 6, NULL, 0), 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 10000), 1);
    assert_int_equal(f.cmd->send_receipt->sequence_id, 1);
    uint64_t entry = f.cmd->send_receipt->message_id->entryid;
    /* "first" was written before its sync failed: it may or may not be in the recovered log
     * (Pulsar's at-least-once on errors); "second" is, right after what recovery kept */
    assert_true(entry <= 1);
    read_from_start(c, "flaky");
    mgt_msg_t m;
    for (uint64_t i = 0; i <= entry; i++) {
        assert_int_equal(mgt_recv_message(c, &m, 10000), 1);
        assert_int_equal(m.entry, i);
        if (i == entry) assert_memory_equal(m.data, "second", 6);
        else assert_memory_equal(m.data, "first", 5);
    }
    assert_true(mgt_broker_alive(b));
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

/* A full disk (the write itself fails with ENOSPC) and then room again: the SEND gets
 * PersistenceError, the topic is unloaded, and the returning producer publishes; the log
 * holds only what was written (the failed write left nothing behind). */
static void test_full_disk_then_room(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0(NULL, 0, "write:2");
    assert_non_null(b);
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    send_refused(c, "full", 1, "np", 0, "no room");
    send_refused(c, "full", 2, "np", 1, "still none");
    assert_int_equal(mgt_producer(c, "full", 3, "np", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_send(c, 3, 2, "np", "room", 4, NULL, 0), 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 10000), 1);
    assert_int_equal(f.cmd->send_receipt->sequence_id, 2);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, 0); /* nothing before it */
    read_from_start(c, "full");
    mgt_msg_t m;
    assert_int_equal(mgt_recv_message(c, &m, 10000), 1);
    assert_int_equal(m.entry, 0);
    assert_memory_equal(m.data, "room", 4);
    assert_int_equal(mgt_recv_message(c, &m, 500), 0);
    assert_true(mgt_broker_alive(b));
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

/* With deduplication on, the resend of a message whose failed write did reach the disk is
 * answered as a duplicate: reloading the topic rebuilt the producer's last sequence id from
 * the recovered log. Either way the log holds the message once. */
static void test_dedup_after_failed_sync(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0("brokerDeduplicationEnabled=true\n", 0, "1");
    assert_non_null(b);
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    send_refused(c, "dd", 1, "dp", 0, "once");
    assert_int_equal(mgt_producer(c, "dd", 2, "dp", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_send(c, 2, 0, "dp", "once", 4, NULL, 0), 0); /* the client's resend */
    assert_int_equal(mgt_send(c, 2, 1, "dp", "next", 4, NULL, 0), 0);
    for (uint64_t i = 0; i < 2; i++) {
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 10000), 1);
        assert_int_equal(f.cmd->send_receipt->sequence_id, i);
    }
    read_from_start(c, "dd");
    mgt_msg_t m;
    assert_int_equal(mgt_recv_message(c, &m, 10000), 1);
    assert_memory_equal(m.data, "once", 4);
    assert_int_equal(mgt_recv_message(c, &m, 10000), 1);
    assert_memory_equal(m.data, "next", 4);
    assert_int_equal(mgt_recv_message(c, &m, 500), 0); /* nothing else: "once" is there once */
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

/* libmagnetar, like Pulsar's clients, takes PersistenceError as transient: it reconnects and
 * resends, so with one failed fdatasync every send still succeeds, and a consumer from the
 * start gets every message (the one whose sync failed may come twice: at-least-once). */
static void test_client_resends_after_failed_sync(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0(NULL, 0, "1");
    assert_non_null(b);
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.initial_backoff_ms = 50;
    cc.max_backoff_ms = 200;
    mg_client_t *cl = mgt_client(b->port, &cc);
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.send_timeout_ms = 10000;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, "resend-t", &pc, &p), MG_OK);
    enum { N = 5 };
    for (int i = 0; i < N; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "m-%d", i);
        mg_message_t *m = mg_message_new(msg, strlen(msg));
        assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
        mg_message_free(m);
    }
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(cl, "resend-t", "s", &cf, &c), MG_OK);
    int seen[N] = {0}, distinct = 0;
    mg_message_t *m;
    while (distinct < N && mg_consumer_receive(c, &m, 5000) == MG_OK) {
        assert_true(mg_message_len(m) == 3 && !memcmp(mg_message_data(m), "m-", 2));
        int i = ((const char *)mg_message_data(m))[2] - '0';
        assert_true(i >= 0 && i < N);
        if (!seen[i]++) distinct++;
        mg_consumer_ack(c, m);
        mg_message_free(m);
    }
    assert_int_equal(distinct, N);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

static void test_shutdown_during_health_check(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0(NULL, 3000, NULL);
    assert_non_null(b);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->web_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /admin/v2/brokers/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    usleep(500 * 1000); /* the check's entry is written; its sync returns 3 s late */
    assert_true(mgt_broker_alive(b));
    uint64_t t0 = mg_mono_ms();
    assert_int_equal(mgt_broker_stop(b), 0);
    printf("stopped in %llu ms with a health check waiting for the disk\n",
           (unsigned long long)(mg_mono_ms() - t0));
    /* the request ends: a 503, or the connection closed with the server (never a 200: the
     * entry was not durable when the broker stopped) */
    char resp[512] = {0};
    ssize_t n = read(fd, resp, sizeof resp - 1);
    assert_true(n <= 0 || strstr(resp, " 503 "));
    close(fd);
    mgt_broker_free(b);
}

static int http_get_start(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    return fd;
}

/* the whole response (Connection: close), NUL-terminated */
static void http_read_all(int fd, char *out, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0) len += (size_t)n;
    out[len] = 0;
    close(fd);
}

/* Health checks that overlap (a liveness and a readiness probe at once, with a slow disk) both
 * succeed: they share the health-check log instead of the second failing to open it. */
static void test_concurrent_health_checks(void **s)
{
    mgt_broker_t *b = start_with_slow_segment0(NULL, 300, NULL);
    assert_non_null(b);
    int fd[3];
    for (int i = 0; i < 3; i++) fd[i] = http_get_start(b->web_port, "/admin/v2/brokers/health");
    for (int i = 0; i < 3; i++) {
        char resp[2048];
        http_read_all(fd[i], resp, sizeof resp);
        if (!strstr(resp, " 200 ")) printf("check %d: %s\n", i, resp);
        assert_non_null(strstr(resp, " 200 "));
        assert_non_null(strstr(resp, "\r\n\r\nok"));
    }
    /* and a later one, once none is in flight (the log was closed and opens again) */
    char resp[2048];
    http_read_all(http_get_start(b->web_port, "/admin/v2/brokers/health"), resp, sizeof resp);
    assert_non_null(strstr(resp, " 200 "));
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roll_waits_for_old_segment),
        cmocka_unit_test(test_failed_sync_is_not_acknowledged),
        cmocka_unit_test(test_topic_recovers_after_failed_sync),
        cmocka_unit_test(test_dedup_after_failed_sync),
        cmocka_unit_test(test_full_disk_then_room),
        cmocka_unit_test(test_client_resends_after_failed_sync),
        cmocka_unit_test(test_shutdown_during_health_check),
        cmocka_unit_test(test_concurrent_health_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
