/* 30-client-produce-consume: libmagnetar against the real broker: sync and async sends,
 * batching, the four compression codecs (batched and not), keys/properties/event time,
 * receive timeout, clear errors for bad URLs / topics / closed handles, and the
 * magnetar-client tool's produce/consume grammar and output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "magnetar/magnetar.h"
#include "mgclient.h"
#include "common/timeutil.h"

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

typedef struct acc {
    int ok, fail;
    mg_message_id_t *ids[200];
} acc_t;
static pthread_mutex_t acc_lock = PTHREAD_MUTEX_INITIALIZER;
static void on_sent(mg_result r, const mg_message_id_t *id, void *ctx)
{
    acc_t *a = ctx;
    pthread_mutex_lock(&acc_lock);
    if (r == MG_OK) {
        if (a->ok < 200) a->ids[a->ok] = mg_message_id_dup(id);
        a->ok++;
    } else {
        a->fail++;
    }
    pthread_mutex_unlock(&acc_lock);
}

static void test_sync_send_and_receive(void **s)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    pc.name = "p-sync";
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, "sync-topic", &pc, &p), MG_OK);
    assert_string_equal(mg_producer_name(p), "p-sync");
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, "sync-topic", "s1", &cf, &c), MG_OK);
    for (int i = 0; i < 5; i++) {
        char b[32];
        snprintf(b, sizeof b, "msg-%d", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        mg_message_set_key(m, "k");
        mg_message_set_property(m, "i", b);
        mg_message_set_event_time(m, 1000 + (uint64_t)i);
        mg_message_id_t *id = NULL;
        assert_int_equal(mg_producer_send(p, m, &id), MG_OK);
        assert_int_equal(mg_message_id_entry(id), i);
        assert_int_equal(mg_message_id_batch_index(id), -1);
        mg_message_id_free(id);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_last_sequence_id(p), 4);
    for (int i = 0; i < 5; i++) {
        mg_message_t *m;
        assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
        char b[32];
        snprintf(b, sizeof b, "msg-%d", i);
        assert_int_equal(mg_message_len(m), strlen(b));
        assert_memory_equal(mg_message_data(m), b, strlen(b));
        assert_string_equal(mg_message_key(m), "k");
        assert_string_equal(mg_message_property(m, "i"), b);
        assert_int_equal(mg_message_event_time(m), 1000 + i);
        assert_int_equal(mg_message_sequence_id(m), i);
        assert_string_equal(mg_message_producer_name(m), "p-sync");
        assert_string_equal(mg_message_topic(m), "persistent://public/default/sync-topic");
        assert_true(mg_message_publish_time(m) > 0);
        assert_int_equal(mg_consumer_ack(c, m), MG_OK);
        mg_message_free(m);
    }
    /* nothing more: receive times out after about the requested time */
    mg_message_t *m = NULL;
    uint64_t t0 = mg_mono_ms();
    assert_int_equal(mg_consumer_receive(c, &m, 300), MG_ERR_TIMEOUT);
    uint64_t el = mg_mono_ms() - t0;
    assert_true(el >= 280 && el < 2000);
    assert_null(m);
    assert_int_equal(mg_consumer_receive(c, &m, 0), MG_ERR_TIMEOUT);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
}

static void run_batch(const char *topic, mg_compression codec, bool batching, int n)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = batching;
    pc.batching_max_messages = 1000;
    pc.batching_max_delay_ms = 50;
    pc.compression = codec;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, topic, &pc, &p), MG_OK);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    acc_t *a = calloc(1, sizeof *a);
    for (int i = 0; i < n; i++) {
        char b[200];
        snprintf(b, sizeof b, "batch-msg-%03d abcdefghabcdefghabcdefghabcdefghabcdefgh", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        char iv[16];
        snprintf(iv, sizeof iv, "%d", i);
        mg_message_set_property(m, "i", iv);
        assert_int_equal(mg_producer_send_async(p, m, on_sent, a), MG_OK);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_flush(p), MG_OK);
    for (int w = 0; w < 100 && a->ok + a->fail < n; w++) usleep(10000);
    assert_int_equal(a->ok, n);
    if (batching) { /* one entry, indexes 0..n-1 */
        for (int i = 0; i < n; i++) {
            assert_int_equal(mg_message_id_entry(a->ids[i]), mg_message_id_entry(a->ids[0]));
            assert_int_equal(mg_message_id_batch_index(a->ids[i]), i);
        }
    }
    for (int i = 0; i < n && i < 200; i++) mg_message_id_free(a->ids[i]);
    free(a);
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, topic, "s", &cf, &c), MG_OK);
    for (int i = 0; i < n; i++) {
        mg_message_t *m;
        assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
        char b[200];
        snprintf(b, sizeof b, "batch-msg-%03d abcdefghabcdefghabcdefghabcdefghabcdefgh", i);
        assert_int_equal(mg_message_len(m), strlen(b));
        assert_memory_equal(mg_message_data(m), b, strlen(b));
        char iv[16];
        snprintf(iv, sizeof iv, "%d", i);
        assert_string_equal(mg_message_property(m, "i"), iv);
        if (batching) assert_int_equal(mg_message_id_batch_index(mg_message_get_id(m)), i);
        mg_consumer_ack(c, m);
        mg_message_free(m);
    }
    mg_consumer_close(c);
    mg_producer_close(p);
}

static void test_batching_and_codecs(void **s)
{
    const char *names[] = {"none", "lz4", "zlib", "zstd", "snappy"};
    for (int codec = 0; codec <= 4; codec++) {
        char t[64];
        snprintf(t, sizeof t, "codec-%s-batched", names[codec]);
        run_batch(t, (mg_compression)codec, true, 50);
        snprintf(t, sizeof t, "codec-%s-single", names[codec]);
        run_batch(t, (mg_compression)codec, false, 5);
    }
}

static void test_errors(void **s)
{
    mg_client_t *bad = NULL;
    assert_int_equal(mg_client_create("http://x", NULL, &bad), MG_ERR_INVALID_URL);
    assert_int_equal(mg_client_create("pulsar://", NULL, &bad), MG_ERR_INVALID_URL);
    assert_int_equal(mg_client_create("pulsar://h:99999", NULL, &bad), MG_ERR_INVALID_URL);
    assert_int_equal(mg_client_create(NULL, NULL, &bad), MG_ERR_INVALID_URL);
    assert_null(bad);
    assert_string_equal(mg_strerror(MG_ERR_TIMEOUT), "Timeout");
    mg_producer_t *p = NULL;
    assert_int_equal(mg_producer_create(C, "persistent://a/b/c/d/e", NULL, &p), MG_ERR_INVALID_TOPIC);
    assert_int_equal(mg_producer_create(C, "persistent://nope/nope/t", NULL, &p), MG_ERR_TOPIC_NOT_FOUND);
    assert_null(p);
    mg_consumer_t *c = NULL;
    assert_int_equal(mg_consumer_subscribe(C, "t", "", NULL, &c), MG_ERR_INVALID_ARG);
    /* exclusive subscription taken */
    mg_consumer_t *c1, *c2;
    assert_int_equal(mg_consumer_subscribe(C, "excl", "s", NULL, &c1), MG_OK);
    assert_int_equal(mg_consumer_subscribe(C, "excl", "s", NULL, &c2), MG_ERR_CONSUMER_BUSY);
    mg_consumer_close(c1);
    /* nobody listening: a connection error, quickly */
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.connection_timeout_ms = 1000;
    cc.operation_timeout_ms = 1000;
    mg_client_t *dead;
    assert_int_equal(mg_client_create("pulsar://127.0.0.1:1,127.0.0.1:2", &cc, &dead), MG_OK);
    assert_int_equal(mg_producer_create(dead, "t", NULL, &p), MG_ERR_CONNECT);
    assert_int_equal(mg_client_close(dead), MG_OK);
    /* a message larger than the broker's max without chunking */
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    assert_int_equal(mg_producer_create(C, "big", &pc, &p), MG_OK);
    size_t big = 6 * 1024 * 1024;
    char *d = calloc(1, big);
    mg_message_t *m = mg_message_new(d, big);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_ERR_MESSAGE_TOO_BIG);
    mg_message_free(m);
    free(d);
    mg_producer_close(p);
    /* queue full with block off */
    pc.max_pending_messages = 2;
    pc.batching_enabled = true;
    pc.batching_max_delay_ms = 1000;
    assert_int_equal(mg_producer_create(C, "qfull", &pc, &p), MG_OK);
    m = mg_message_new("x", 1);
    assert_int_equal(mg_producer_send_async(p, m, NULL, NULL), MG_OK);
    assert_int_equal(mg_producer_send_async(p, m, NULL, NULL), MG_OK);
    assert_int_equal(mg_producer_send_async(p, m, NULL, NULL), MG_ERR_QUEUE_FULL);
    assert_int_equal(mg_producer_close(p), MG_OK);
    /* queue full with block on: waits for room up to the send timeout (the batch holding the
     * two pending messages is not due for a second) */
    pc.block_if_queue_full = true;
    pc.send_timeout_ms = 300;
    assert_int_equal(mg_producer_create(C, "qfull-block", &pc, &p), MG_OK);
    assert_int_equal(mg_producer_send_async(p, m, NULL, NULL), MG_OK);
    assert_int_equal(mg_producer_send_async(p, m, NULL, NULL), MG_OK);
    uint64_t q0 = mg_mono_ms();
    assert_int_equal(mg_producer_send_async(p, m, NULL, NULL), MG_ERR_TIMEOUT);
    uint64_t waited_ms = mg_mono_ms() - q0;
    assert_true(waited_ms >= 290 && waited_ms < 950);
    mg_message_free(m);
    assert_int_equal(mg_producer_close(p), MG_OK);
    pc.block_if_queue_full = false;
    pc.send_timeout_ms = 30000;
    /* message ids round-trip through Pulsar's MessageIdData bytes */
    mg_message_id_t *id = mg_message_id_create(7, 42, 3, 5), *back = NULL;
    uint8_t *bytes;
    size_t len;
    assert_int_equal(mg_message_id_serialize(id, &bytes, &len), MG_OK);
    assert_int_equal(mg_message_id_deserialize(bytes, len, &back), MG_OK);
    assert_int_equal(mg_message_id_compare(id, back), 0);
    assert_int_equal(mg_message_id_partition(back), 3);
    free(bytes);
    mg_message_id_free(id);
    mg_message_id_free(back);
    assert_int_equal(mg_message_id_deserialize((const uint8_t *)"\xff\xff", 2, &back), MG_ERR_INVALID_ARG);
}

/* mg_producer_flush returns only after the send callbacks of every receipt have run */
static atomic_int flushed_cbs;
static void on_sent_slow(mg_result r, const mg_message_id_t *id, void *ctx)
{
    usleep(2000); /* a callback that takes a while */
    if (r == MG_OK && id) atomic_fetch_add(&flushed_cbs, 1);
}
static void test_flush_runs_callbacks(void **s)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_max_messages = 8;
    pc.batching_max_delay_ms = 50;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, "flush-cbs", &pc, &p), MG_OK);
    for (int round = 0; round < 3; round++) {
        atomic_store(&flushed_cbs, 0);
        for (int i = 0; i < 20; i++) {
            mg_message_t *m = mg_message_new("x", 1);
            assert_int_equal(mg_producer_send_async(p, m, on_sent_slow, NULL), MG_OK);
            mg_message_free(m);
        }
        assert_int_equal(mg_producer_flush(p), MG_OK);
        assert_int_equal(atomic_load(&flushed_cbs), 20);
    }
    assert_int_equal(mg_producer_close(p), MG_OK);
}

static void test_client_tool(void **s)
{
    char cmd[1024], out[8192];
    const char *bd = getenv("MG_BUILD_DIR");
    snprintf(cmd, sizeof cmd,
             "%s/bin/magnetar-client --url pulsar://127.0.0.1:%d produce tool-topic -m hello,world -n 2 "
             "-k key1 -p a=1 -p b=2 --compression zstd",
             bd ? bd : "build", B->port);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "4 messages successfully produced"));
    snprintf(cmd, sizeof cmd,
             "timeout 20 %s/bin/magnetar-client consume tool-topic --url pulsar://127.0.0.1:%d -s tsub -n 4 "
             "-t Shared -p Earliest",
             bd ? bd : "build", B->port);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "----- got message -----\nkey:[key1], properties:[a=1, b=2], content:hello\n"));
    assert_non_null(strstr(out, "content:world"));
    int n = 0;
    for (char *p = out; (p = strstr(p, "got message")); p++) n++;
    assert_int_equal(n, 4);
    snprintf(cmd, sizeof cmd, "%s/bin/magnetar-client --url http://bad produce t -m x 2>&1",
             bd ? bd : "build");
    assert_int_not_equal(mgt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Invalid service URL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_send_and_receive),
        cmocka_unit_test(test_batching_and_codecs),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_flush_runs_callbacks),
        cmocka_unit_test(test_client_tool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
