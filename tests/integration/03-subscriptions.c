/* 03-subscriptions: the four subscription types, acks (individual, cumulative, batch index),
 * redelivery with counts, resume after restart, seek, readers, unsubscribe, delayed delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
static mgt_broker_t *B;

static int setup(void **s)
{
    B = mgt_broker_start("delayedDeliveryEnabled=true\n");
    return 0;
}
static int teardown(void **s)
{
    mgt_broker_free(B);
    return 0;
}

static void produce(const char *topic, const char *pname, int from, int n, const char *key)
{
    mgt_conn_t *c = mgt_connect(B->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, topic, 1, pname, &f), T(PRODUCER_SUCCESS));
    for (int i = from; i < from + n; i++) {
        char p[64];
        int len = snprintf(p, sizeof p, "m%d", i);
        mgt_send(c, 1, (uint64_t)i, pname, p, (size_t)len, key, 0);
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
    }
    mgt_close(c);
}

static void test_shared_round_robin(void **s)
{
    const char *topic = "shared-rr";
    mgt_conn_t *a = mgt_connect(B->port, true), *b = mgt_connect(B->port, true);
    frame_t f;
    assert_int_equal(mgt_subscribe(a, topic, "s", 1, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_subscribe(b, topic, "s", 1, 2, true, &f), T(SUCCESS));
    mgt_flow(a, 1, 100);
    mgt_flow(b, 2, 100);
    produce(topic, "p", 0, 20, NULL);
    int seen[20] = {0}, na = 0, nb = 0;
    mgt_msg_t m;
    while (mgt_recv_message(a, &m, 500) == 1) {
        seen[atoi(m.data + 1)]++;
        na++;
    }
    while (mgt_recv_message(b, &m, 500) == 1) {
        seen[atoi(m.data + 1)]++;
        nb++;
    }
    for (int i = 0; i < 20; i++) assert_int_equal(seen[i], 1);
    assert_int_equal(na, 10);
    assert_int_equal(nb, 10);
    mgt_close(a);
    mgt_close(b);
}

static void test_exclusive_busy_and_failover(void **s)
{
    frame_t f;
    mgt_conn_t *a = mgt_connect(B->port, true), *b = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "excl", "s", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_subscribe(b, "excl", "s", 0, 1, true, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy);
    /* a different type on a subscription with consumers is refused too */
    assert_int_equal(mgt_subscribe(b, "excl", "s", 1, 2, true, &f), T(ERROR));
    mgt_close(a);
    mgt_close(b);

    /* failover: one active consumer, takeover redelivers the unacked with count 1 */
    a = mgt_connect(B->port, true);
    b = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "fo", "s", 2, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_expect(a, T(ACTIVE_CONSUMER_CHANGE), &f, 2000), 1);
    assert_true(f.cmd->active_consumer_change->is_active);
    assert_int_equal(mgt_subscribe(b, "fo", "s", 2, 2, true, &f), T(SUCCESS));
    assert_int_equal(mgt_expect(b, T(ACTIVE_CONSUMER_CHANGE), &f, 2000), 1);
    assert_false(f.cmd->active_consumer_change->is_active);
    mgt_flow(a, 1, 100);
    mgt_flow(b, 2, 100);
    produce("fo", "p", 0, 5, NULL);
    mgt_msg_t m;
    for (int i = 0; i < 5; i++) assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
    assert_int_equal(mgt_recv_message(b, &m, 300), 0);
    mgt_ack(a, 1, m.ledger, 1, true); /* m0, m1 acked cumulatively */
    usleep(100000);
    mgt_close(a);
    for (int i = 2; i < 5; i++) {
        assert_int_equal(mgt_recv_message(b, &m, 3000), 1);
        char want[8];
        snprintf(want, sizeof want, "m%d", i);
        assert_string_equal(m.data, want);
        assert_int_equal(m.redelivery_count, 1);
    }
    mgt_close(b);
}

static void test_key_shared(void **s)
{
    frame_t f;
    mgt_conn_t *a = mgt_connect(B->port, true), *b = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "ks", "s", 3, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_subscribe(b, "ks", "s", 3, 2, true, &f), T(SUCCESS));
    mgt_flow(a, 1, 1000);
    mgt_flow(b, 2, 1000);
    mgt_conn_t *p = mgt_connect(B->port, true);
    assert_int_equal(mgt_producer(p, "ks", 1, "kp", &f), T(PRODUCER_SUCCESS));
    for (int i = 0; i < 60; i++) {
        char key[16], msg[32];
        snprintf(key, sizeof key, "key-%d", i % 6);
        int n = snprintf(msg, sizeof msg, "%s", key);
        mgt_send(p, 1, (uint64_t)i, "kp", msg, (size_t)n, key, 0);
    }
    for (int i = 0; i < 60; i++) assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 5000), 1);
    int owner[6] = {0, 0, 0, 0, 0, 0}, total = 0;
    mgt_msg_t m;
    for (int side = 1; side <= 2; side++) {
        mgt_conn_t *c = side == 1 ? a : b;
        while (mgt_recv_message(c, &m, 500) == 1) {
            int k = atoi(m.key + 4);
            assert_true(owner[k] == 0 || owner[k] == side); /* a key sticks to one consumer */
            owner[k] = side;
            total++;
        }
    }
    assert_int_equal(total, 60);
    mgt_close(a);
    mgt_close(b);
    mgt_close(p);
}

static void test_redeliver_and_resume(void **s)
{
    frame_t f;
    produce("rd", "p", 0, 6, NULL);
    mgt_conn_t *a = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "rd", "s", 1, 1, true, &f), T(SUCCESS));
    mgt_flow(a, 1, 100);
    mgt_msg_t m;
    uint64_t ledger = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
        ledger = m.ledger;
        if (i % 2 == 0) mgt_ack(a, 1, m.ledger, m.entry, false); /* ack m0, m2, m4 */
    }
    /* redeliver all unacked: m1, m3, m5 with count 1 */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandRedeliverUnacknowledgedMessages r =
        PULSAR__PROTO__COMMAND_REDELIVER_UNACKNOWLEDGED_MESSAGES__INIT;
    cmd.type = T(REDELIVER_UNACKNOWLEDGED_MESSAGES);
    cmd.redeliverunacknowledgedmessages = &r;
    r.consumer_id = 1;
    mgt_send_cmd(a, &cmd);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
        assert_int_equal(m.entry % 2, 1);
        assert_int_equal(m.redelivery_count, 1);
    }
    mgt_ack(a, 1, ledger, 1, false); /* m1 acked; m3 and m5 stay unacked */
    usleep(300000);                  /* cursor persisted */
    mgt_close(a);
    assert_int_equal(mgt_broker_stop(B), 0);
    mgt_broker_restart(B);
    a = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "rd", "s", 1, 1, true, &f), T(SUCCESS));
    mgt_flow(a, 1, 100);
    int got[6] = {0};
    while (mgt_recv_message(a, &m, 700) == 1) got[m.entry]++;
    assert_int_equal(got[3], 1);
    assert_int_equal(got[5], 1);
    assert_int_equal(got[0] + got[1] + got[2] + got[4], 0);
    mgt_close(a);
}

static void test_batch_permits_and_index_ack(void **s)
{
    frame_t f;
    mgt_conn_t *p = mgt_connect(B->port, true);
    assert_int_equal(mgt_producer(p, "batch", 1, "bp", &f), T(PRODUCER_SUCCESS));
    const char *msgs[4] = {"a", "b", "c", "d"};
    mgt_send_batch(p, 1, 3, "bp", 4, msgs);
    assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 5000), 1);
    mgt_send_batch(p, 1, 7, "bp", 4, msgs);
    assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 5000), 1);
    mgt_close(p);
    mgt_conn_t *a = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "batch", "s", 1, 1, true, &f), T(SUCCESS));
    mgt_flow(a, 1, 4); /* permits count messages: one batch of 4 uses them all */
    mgt_msg_t m;
    assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
    assert_int_equal(m.num_in_batch, 4);
    assert_int_equal(mgt_recv_message(a, &m, 300), 0);
    /* ack indexes 0 and 1 of the first batch: ack_set = bits of the still-unacked ones */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandAck ack = PULSAR__PROTO__COMMAND_ACK__INIT;
    Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    Pulsar__Proto__MessageIdData *ids[1] = {&id};
    int64_t bits = 0xC; /* indexes 2 and 3 unacked */
    cmd.type = T(ACK);
    cmd.ack = &ack;
    ack.consumer_id = 1;
    ack.n_message_id = 1;
    ack.message_id = ids;
    id.ledgerid = m.ledger;
    id.entryid = 0;
    id.n_ack_set = 1;
    id.ack_set = &bits;
    id.has_batch_size = 1;
    id.batch_size = 4;
    mgt_send_cmd(a, &cmd);
    usleep(100000);
    mgt_close(a);
    /* redelivered to the next consumer with the remaining ack_set */
    a = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "batch", "s", 1, 1, true, &f), T(SUCCESS));
    mgt_flow(a, 1, 100);
    assert_int_equal(mgt_expect(a, T(MESSAGE), &f, 2000), 1);
    assert_int_equal(f.cmd->message->message_id->entryid, 0);
    assert_int_equal(f.cmd->message->n_ack_set, 1);
    assert_int_equal(f.cmd->message->ack_set[0], 0xC);
    mgt_close(a);
}

static void test_seek_and_last_id(void **s)
{
    frame_t f;
    produce("seek", "p", 0, 10, NULL);
    mgt_conn_t *a = mgt_consumer_on(B->port, "seek", "s", 100);
    mgt_msg_t m;
    for (int i = 0; i < 10; i++) assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
    mgt_ack(a, 1, m.ledger, 9, true);
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetLastMessageId gl = PULSAR__PROTO__COMMAND_GET_LAST_MESSAGE_ID__INIT;
    cmd.type = T(GET_LAST_MESSAGE_ID);
    cmd.getlastmessageid = &gl;
    gl.consumer_id = 1;
    gl.request_id = 99;
    mgt_send_cmd(a, &cmd);
    assert_int_equal(mgt_expect(a, T(GET_LAST_MESSAGE_ID_RESPONSE), &f, 2000), 1);
    assert_int_equal(f.cmd->getlastmessageidresponse->last_message_id->entryid, 9);
    /* seek back to entry 4: CLOSE_CONSUMER then SUCCESS; resubscribing starts at m4 */
    Pulsar__Proto__CommandSeek sk = PULSAR__PROTO__COMMAND_SEEK__INIT;
    Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    cmd = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    cmd.type = T(SEEK);
    cmd.seek = &sk;
    sk.consumer_id = 1;
    sk.request_id = 100;
    sk.message_id = &id;
    id.ledgerid = m.ledger;
    id.entryid = 4;
    mgt_send_cmd(a, &cmd);
    assert_int_equal(mgt_expect(a, T(CLOSE_CONSUMER), &f, 2000), 1);
    assert_int_equal(mgt_expect(a, T(SUCCESS), &f, 2000), 1);
    assert_int_equal(f.cmd->success->request_id, 100);
    assert_int_equal(mgt_subscribe(a, "seek", "s", 0, 2, true, &f), T(SUCCESS));
    mgt_flow(a, 2, 100);
    assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
    assert_string_equal(m.data, "m4");
    mgt_close(a);
}

static void test_reader_start_id_and_unsubscribe(void **s)
{
    frame_t f;
    produce("reader", "p", 0, 5, NULL);
    mgt_conn_t *a = mgt_connect(B->port, true);
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSubscribe sub = PULSAR__PROTO__COMMAND_SUBSCRIBE__INIT;
    Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    cmd.type = T(SUBSCRIBE);
    cmd.subscribe = &sub;
    sub.topic = "reader";
    sub.subscription = "reader-x";
    sub.subtype = 0;
    sub.consumer_id = 1;
    sub.request_id = 1;
    sub.has_durable = 1;
    sub.durable = 0;
    sub.start_message_id = &id;
    id.ledgerid = UINT64_MAX; /* earliest */
    id.entryid = UINT64_MAX;
    mgt_send_cmd(a, &cmd);
    assert_int_equal(mgt_expect(a, T(SUCCESS), &f, 2000), 1);
    mgt_flow(a, 1, 100);
    mgt_msg_t m;
    assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
    assert_string_equal(m.data, "m0");
    uint64_t ledger = m.ledger;
    mgt_close(a);
    /* from a given id: the broker starts at that entry (Pulsar steps back one; clients filter) */
    a = mgt_connect(B->port, true);
    id.ledgerid = ledger;
    id.entryid = 2;
    mgt_send_cmd(a, &cmd);
    assert_int_equal(mgt_expect(a, T(SUCCESS), &f, 2000), 1);
    mgt_flow(a, 1, 100);
    assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
    assert_string_equal(m.data, "m2");
    mgt_close(a);
    /* unsubscribe removes a durable subscription: a new one at Latest gets nothing old */
    a = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "reader", "dur", 0, 1, true, &f), T(SUCCESS));
    Pulsar__Proto__CommandUnsubscribe un = PULSAR__PROTO__COMMAND_UNSUBSCRIBE__INIT;
    cmd = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    cmd.type = T(UNSUBSCRIBE);
    cmd.unsubscribe = &un;
    un.consumer_id = 1;
    un.request_id = 77;
    mgt_send_cmd(a, &cmd);
    assert_int_equal(mgt_expect(a, T(SUCCESS), &f, 2000), 1);
    assert_int_equal(mgt_subscribe(a, "reader", "dur", 0, 2, false, &f), T(SUCCESS));
    mgt_flow(a, 2, 100);
    assert_int_equal(mgt_recv_message(a, &m, 300), 0);
    mgt_close(a);
}

static void test_delayed_delivery(void **s)
{
    frame_t f;
    mgt_conn_t *a = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(a, "delayed", "s", 1, 1, true, &f), T(SUCCESS));
    mgt_flow(a, 1, 100);
    mgt_conn_t *p = mgt_connect(B->port, true);
    assert_int_equal(mgt_producer(p, "delayed", 1, "dp", &f), T(PRODUCER_SUCCESS));
    uint64_t t0 = mg_now_ms();
    mgt_send(p, 1, 0, "dp", "later", 5, NULL, (int64_t)(t0 + 600));
    mgt_send(p, 1, 1, "dp", "now", 3, NULL, 0);
    mgt_msg_t m;
    assert_int_equal(mgt_recv_message(a, &m, 2000), 1);
    assert_string_equal(m.data, "now");
    assert_int_equal(mgt_recv_message(a, &m, 3000), 1);
    assert_string_equal(m.data, "later");
    assert_true(mg_now_ms() - t0 >= 550);
    mgt_close(a);
    mgt_close(p);
}

static void test_producer_rules_and_dedup_off(void **s)
{
    frame_t f;
    mgt_conn_t *a = mgt_connect(B->port, true), *b = mgt_connect(B->port, true);
    assert_int_equal(mgt_producer(a, "prules", 1, "same", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_producer(b, "prules", 1, "same", &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__ProducerBusy);
    /* exclusive access refused while a shared producer exists */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer pc = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    cmd.type = T(PRODUCER);
    cmd.producer = &pc;
    pc.topic = "prules";
    pc.producer_id = 2;
    pc.request_id = 50;
    pc.has_producer_access_mode = 1;
    pc.producer_access_mode = PULSAR__PROTO__PRODUCER_ACCESS_MODE__Exclusive;
    mgt_send_cmd(b, &cmd);
    assert_int_equal(mgt_expect(b, T(ERROR), &f, 2000), 1);
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__ProducerBusy);
    /* dedup off by default: a resent sequence id is stored again, last_sequence_id -1 */
    mgt_send(a, 1, 0, "same", "x", 1, NULL, 0);
    mgt_send(a, 1, 0, "same", "x", 1, NULL, 0);
    assert_int_equal(mgt_expect(a, T(SEND_RECEIPT), &f, 2000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, 0);
    assert_int_equal(mgt_expect(a, T(SEND_RECEIPT), &f, 2000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, 1);
    mgt_close(a);
    mgt_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_round_robin),
        cmocka_unit_test(test_exclusive_busy_and_failover),
        cmocka_unit_test(test_key_shared),
        cmocka_unit_test(test_redeliver_and_resume),
        cmocka_unit_test(test_batch_permits_and_index_ack),
        cmocka_unit_test(test_seek_and_last_id),
        cmocka_unit_test(test_reader_start_id_and_unsubscribe),
        cmocka_unit_test(test_delayed_delivery),
        cmocka_unit_test(test_producer_rules_and_dedup_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
