/* 01-connect-produce: handshake, lookup, partitioned metadata, producer, durable send with
 * receipts, consume with FLOW and acks; bad input closes only the offending connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mghttp.h"
#include "common/timeutil.h"
#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
static mgt_broker_t *B;

static int setup(void **s)
{
    B = mgt_broker_start(NULL);
    return 0;
}
static int teardown(void **s)
{
    mgt_broker_free(B);
    return 0;
}

static void test_connect_lookup(void **s)
{
    mgt_conn_t *c = mgt_connect(B->port, false);
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConnect cc = PULSAR__PROTO__COMMAND_CONNECT__INIT;
    cmd.type = T(CONNECT);
    cmd.connect = &cc;
    cc.client_version = "it";
    cc.has_protocol_version = 1;
    cc.protocol_version = 25; /* newer than ours: negotiated down */
    mgt_send_cmd(c, &cmd);
    frame_t f;
    assert_int_equal(mgt_recv(c, &f, 3000), 1);
    assert_int_equal(f.cmd->type, T(CONNECTED));
    assert_int_equal(f.cmd->connected->protocol_version, 21);
    assert_int_equal(f.cmd->connected->max_message_size, 5 * 1024 * 1024);

    Pulsar__Proto__CommandLookupTopic lk = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC__INIT;
    cmd = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    cmd.type = T(LOOKUP);
    cmd.lookuptopic = &lk;
    lk.topic = "persistent://public/default/t1";
    lk.request_id = 7;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_recv(c, &f, 3000), 1);
    assert_int_equal(f.cmd->type, T(LOOKUP_RESPONSE));
    assert_int_equal(f.cmd->lookuptopicresponse->request_id, 7);
    assert_int_equal(f.cmd->lookuptopicresponse->response, 1 /* Connect */);
    char url[64];
    snprintf(url, sizeof url, "pulsar://localhost:%d", B->port);
    assert_string_equal(f.cmd->lookuptopicresponse->brokerserviceurl, url);
    assert_true(f.cmd->lookuptopicresponse->authoritative);

    Pulsar__Proto__CommandPartitionedTopicMetadata pm = PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA__INIT;
    cmd = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    cmd.type = T(PARTITIONED_METADATA);
    cmd.partitionmetadata = &pm;
    pm.topic = "t1";
    pm.request_id = 8;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_recv(c, &f, 3000), 1);
    assert_int_equal(f.cmd->type, T(PARTITIONED_METADATA_RESPONSE));
    assert_int_equal(f.cmd->partitionmetadataresponse->partitions, 0);

    /* unknown namespace and invalid names get a proper error */
    lk.topic = "persistent://nope/nope/t";
    lk.request_id = 9;
    cmd = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    cmd.type = T(LOOKUP);
    cmd.lookuptopic = &lk;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_recv(c, &f, 3000), 1);
    assert_int_equal(f.cmd->lookuptopicresponse->response, 2 /* Failed */);
    assert_int_equal(f.cmd->lookuptopicresponse->error, PULSAR__PROTO__SERVER_ERROR__TopicNotFound);
    lk.topic = "persistent://a/b/c/d/e";
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_recv(c, &f, 3000), 1);
    assert_int_equal(f.cmd->lookuptopicresponse->error, PULSAR__PROTO__SERVER_ERROR__InvalidTopicName);

    /* PING -> PONG */
    Pulsar__Proto__CommandPing ping = PULSAR__PROTO__COMMAND_PING__INIT;
    cmd = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    cmd.type = T(PING);
    cmd.ping = &ping;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_recv(c, &f, 3000), 1);
    assert_int_equal(f.cmd->type, T(PONG));
    mgt_close(c);
}

static void test_produce_consume(void **s)
{
    mgt_conn_t *c = mgt_connect(B->port, true);
    frame_t f;
    const char *topic = "persistent://public/default/pc";
    assert_int_equal(mgt_producer(c, topic, 1, NULL, &f), T(PRODUCER_SUCCESS));
    char pname[128];
    snprintf(pname, sizeof pname, "%s", f.cmd->producer_success->producer_name);
    assert_true(strncmp(pname, "standalone-", 11) == 0);
    assert_int_equal(f.cmd->producer_success->last_sequence_id, -1);
    for (int i = 0; i < 5; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "hello-%d", i);
        assert_int_equal(mgt_send(c, 1, (uint64_t)i, pname, msg, strlen(msg), "k", 0), 0);
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
        assert_int_equal(f.cmd->send_receipt->sequence_id, (uint64_t)i);
        assert_int_equal(f.cmd->send_receipt->message_id->entryid, (uint64_t)i);
    }
    mgt_conn_t *cc = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(cc, topic, "sub1", 0, 10, true, &f), T(SUCCESS));
    mgt_flow(cc, 10, 3);
    mgt_msg_t m;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mgt_recv_message(cc, &m, 5000), 1);
        char want[32];
        snprintf(want, sizeof want, "hello-%d", i);
        assert_string_equal(m.data, want);
        assert_string_equal(m.key, "k");
        assert_int_equal(m.redelivery_count, 0);
    }
    /* permits exhausted: nothing more arrives */
    assert_int_equal(mgt_expect(cc, T(MESSAGE), &f, 300), 0);
    mgt_flow(cc, 10, 10);
    for (int i = 3; i < 5; i++) assert_int_equal(mgt_recv_message(cc, &m, 5000), 1);
    assert_int_equal(m.entry, 4);
    /* a message sent now reaches the tailing consumer */
    mgt_send(c, 1, 5, pname, "tail", 4, NULL, 0);
    assert_int_equal(mgt_recv_message(cc, &m, 5000), 1);
    assert_string_equal(m.data, "tail");
    mgt_ack(cc, 10, m.ledger, m.entry, true);
    mgt_close(cc);
    mgt_close(c);
}

static void test_checksum_error(void **s)
{
    mgt_conn_t *c = mgt_connect(B->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, "crc", 1, "crcp", &f), T(PRODUCER_SUCCESS));
    /* build a SEND by hand and flip one payload byte after the checksum was computed */
    Pulsar__Proto__MessageMetadata md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    md.producer_name = "crcp";
    md.sequence_id = 0;
    md.publish_time = 1;
    mg_buf_t e, out;
    buf_init(&e);
    buf_init(&out);
    entry_encode(&e, &md, "payload", 7);
    e.data[e.len - 1] ^= 0x55;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSend sd = PULSAR__PROTO__COMMAND_SEND__INIT;
    cmd.type = T(SEND);
    cmd.send = &sd;
    sd.producer_id = 1;
    sd.sequence_id = 0;
    frame_write_cmd_head(&out, &cmd, e.len);
    buf_append(&out, e.data, e.len);
    mgt_send_raw(c, out.data, out.len);
    assert_int_equal(mgt_expect(c, T(SEND_ERROR), &f, 3000), 1);
    assert_int_equal(f.cmd->send_error->error, PULSAR__PROTO__SERVER_ERROR__ChecksumError);
    buf_free(&e);
    buf_free(&out);
    /* nothing was stored */
    mgt_conn_t *cc = mgt_consumer_on(B->port, "crc", "s", 10);
    assert_int_equal(mgt_expect(cc, T(MESSAGE), &f, 300), 0);
    mgt_close(cc);
    mgt_close(c);
}

static void test_bad_frames(void **s)
{
    mgt_conn_t *ok = mgt_connect(B->port, true);
    frame_t f;
    /* oversized frame */
    mgt_conn_t *c = mgt_connect(B->port, true);
    uint8_t big[8] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 4};
    mgt_send_raw(c, big, sizeof big);
    assert_int_equal(mgt_recv(c, &f, 3000), -1); /* closed */
    mgt_close(c);
    /* garbage command bytes */
    c = mgt_connect(B->port, true);
    uint8_t junk[] = {0, 0, 0, 8, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff};
    mgt_send_raw(c, junk, sizeof junk);
    assert_int_equal(mgt_recv(c, &f, 3000), -1);
    mgt_close(c);
    /* command before CONNECT */
    c = mgt_connect(B->port, false);
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPing ping = PULSAR__PROTO__COMMAND_PING__INIT;
    cmd.type = T(PING);
    cmd.ping = &ping;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_recv(c, &f, 3000), -1);
    mgt_close(c);
    /* truncated frame then hang-up */
    c = mgt_connect(B->port, true);
    uint8_t half[] = {0, 0, 0, 50, 0, 0};
    mgt_send_raw(c, half, sizeof half);
    mgt_close(c);
    /* the first connection still works */
    mgt_send_cmd(ok, &cmd);
    assert_int_equal(mgt_expect(ok, T(PONG), &f, 3000), 1);
    assert_true(mgt_broker_alive(B));
    mgt_close(ok);
}

static void test_oversized_send(void **s)
{
    mgt_conn_t *c = mgt_connect(B->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, "big", 1, "bigp", &f), T(PRODUCER_SUCCESS));
    static char big[6 * 1024 * 1024];
    memset(big, 'b', sizeof big);
    assert_int_equal(mgt_send(c, 1, 0, "bigp", big, sizeof big, NULL, 0), 0);
    assert_int_equal(mgt_expect(c, T(SEND_ERROR), &f, 5000), 1);
    assert_int_equal(f.cmd->send_error->error, PULSAR__PROTO__SERVER_ERROR__NotAllowedError);
    assert_non_null(strstr(f.cmd->send_error->message, "maxMessageSize"));
    /* the connection is still usable: the next message is stored */
    assert_int_equal(mgt_send(c, 1, 1, "bigp", "small", 5, NULL, 0), 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, 0);
    mgt_close(c);
}

/* Create producer 1 named pname on topic, then write n SENDs (seq 0..n-1) in one go. */
static void producer_burst(mgt_conn_t *c, const char *topic, const char *pname, int n)
{
    frame_t f;
    assert_int_equal(mgt_producer(c, topic, 1, pname, &f), T(PRODUCER_SUCCESS));
    mg_buf_t all;
    buf_init(&all);
    for (int i = 0; i < n; i++) mgt_encode_send(&all, 1, (uint64_t)i, pname, "m", 1);
    assert_int_equal(mgt_send_raw(c, all.data, all.len), 0);
    buf_free(&all);
}

/* n SEND_RECEIPTs, in sequence order, each within timeout_ms. */
static void expect_receipts(mgt_conn_t *c, int n, int timeout_ms)
{
    frame_t f;
    for (int i = 0; i < n; i++) {
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, timeout_ms), 1);
        assert_int_equal(f.cmd->send_receipt->sequence_id, (uint64_t)i);
    }
}

/* More SENDs in one write than maxPendingPublishRequestsPerConnection (1000): the broker stops
 * reading at the limit with frames still buffered, and must go on with those once receipts
 * free room, even though nothing more arrives on the socket. It must go on at once: the SENDs
 * it takes from the buffer then are appended at the end of a loop pass, and once their
 * storage workers were not woken before the loop slept, so each burst waited for the next
 * timer tick (the keep-alive check, every second: ~1000 ms a burst, against ~10 ms, ~50 ms
 * under ASan). Three bursts, each on a new connection, must each take less than half a second:
 * a liveness bound, not a speed target. */
static void test_pending_publish_limit(void **s)
{
    /* without fsync, so the bound does not depend on the disk: the stall was the loop's */
    mgt_broker_t *b = mgt_broker_start("journalSyncData=false\n");
    assert_non_null(b);
    for (int r = 0; r < 3; r++) {
        char topic[32];
        snprintf(topic, sizeof topic, "burst%d", r);
        mgt_conn_t *c = mgt_connect(b->port, true);
        uint64_t t0 = mg_mono_us();
        producer_burst(c, topic, topic, 2500);
        expect_receipts(c, 2500, 5000);
        uint64_t ms = (mg_mono_us() - t0) / 1000;
        if (ms >= 500) fail_msg("burst %d: 2500 receipts took %llu ms", r, (unsigned long long)ms);
        mgt_close(c);
    }
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

/* A topic unloaded while its producer's SENDs wait in storage. The connection had stopped
 * reading at maxPendingPublishRequestsPerConnection (1000); the unload closes the producer and
 * the log, and the sends storage held are dropped with it. The connection must go on: its
 * count of pending sends given back, reading resumed. (Every write waits 300 ms here, so the
 * sends are still in storage when the unload comes.) */
static void test_unload_with_pending_sends(void **s)
{
    mgt_broker_t *b = mgt_broker_start("journalMaxGroupWaitMSec=300\n");
    assert_non_null(b);
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    producer_burst(c, "unloadme", "up", 1200);
    usleep(50 * 1000);
    mgt_http_res_t res;
    assert_int_equal(mgt_http(b->web_port, "PUT", "/admin/v2/persistent/public/default/unloadme/unload",
                              NULL, false, &res), 204);
    mgt_http_res_free(&res);
    assert_int_equal(mgt_expect(c, T(CLOSE_PRODUCER), &f, 5000), 1);
    /* reading resumed: the buffered SENDs are answered (their producer is gone), then a new
     * producer on the same connection works */
    assert_int_equal(mgt_expect(c, T(SEND_ERROR), &f, 5000), 1);
    assert_int_equal(mgt_producer(c, "unloadme", 2, "up2", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_send(c, 2, 0, "up2", "after", 5, NULL, 0), 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0); /* clean exit: under ASan, nothing leaked */
    mgt_broker_free(b);
}

/* Reading paused for longer than the keep-alive timeout (two intervals): the client's PONGs
 * wait unread in the socket, so its silence proves nothing and the connection must stay. Every
 * write waits 2.5 s here, the keep-alive interval is 1 s. */
static void test_keepalive_while_paused(void **s)
{
    mgt_broker_t *b = mgt_broker_start("journalMaxGroupWaitMSec=2500\nkeepAliveIntervalSeconds=1\n");
    assert_non_null(b);
    mgt_conn_t *c = mgt_connect(b->port, true);
    producer_burst(c, "slowdisk", "sp", 1200);
    expect_receipts(c, 1200, 15000); /* mgt_expect answers the broker's PINGs meanwhile */
    mgt_close(c);
    assert_int_equal(mgt_broker_stop(b), 0);
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_publish_limit),
        cmocka_unit_test(test_unload_with_pending_sends),
        cmocka_unit_test(test_keepalive_while_paused),
        cmocka_unit_test(test_connect_lookup),
        cmocka_unit_test(test_produce_consume),
        cmocka_unit_test(test_checksum_error),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_oversized_send),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
