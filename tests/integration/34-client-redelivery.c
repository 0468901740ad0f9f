/* 34-client-redelivery: negative acks redelivered after the delay with redelivery_count 1,
 * ack timeout redelivery, dead-letter policy: after max_redeliver_count redeliveries (the
 * consumer sees counts 0..N) the message goes to <topic>-<sub>-DLQ with REAL_TOPIC and
 * ORIGIN_MESSAGE_ID properties and is not delivered again; retry-letter topic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "magnetar/magnetar.h"
#include "mgclient.h"

static mgt_broker_t *B;
static mg_client_t *C;

static int setup(void **s)
{
    mgt_client_setup(&B, &C, NULL, NULL);
    return 0;
}
static int teardown(void **s)
{
    mgt_client_teardown(B, C);
    return 0;
}

static void produce(const char *topic, int n)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, topic, &pc, &p), MG_OK);
    for (int i = 0; i < n; i++) {
        char b[32];
        snprintf(b, sizeof b, "msg-%d", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        mg_message_set_key(m, "k");
        assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
        mg_message_free(m);
    }
    mg_producer_close(p);
}

static void test_nack(void **s)
{
    produce("nack-t", 3);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.type = MG_SUB_SHARED;
    cf.initial_position = MG_POS_EARLIEST;
    cf.nack_redelivery_delay_ms = 100;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, "nack-t", "ns", &cf, &c), MG_OK);
    mg_message_t *m[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mg_consumer_receive(c, &m[i], 2000), MG_OK);
        assert_int_equal(mg_message_redelivery_count(m[i]), 0);
    }
    mg_consumer_ack(c, m[0]);
    mg_consumer_ack(c, m[2]);
    mg_consumer_nack(c, m[1]);
    mg_message_t *again;
    assert_int_equal(mg_consumer_receive(c, &again, 3000), MG_OK);
    assert_memory_equal(mg_message_data(again), "msg-1", 5);
    assert_int_equal(mg_message_redelivery_count(again), 1);
    mg_consumer_ack(c, again);
    mg_message_free(again);
    for (int i = 0; i < 3; i++) mg_message_free(m[i]);
    assert_int_equal(mg_consumer_receive(c, &again, 300), MG_ERR_TIMEOUT);
    mg_consumer_close(c);
}

static void test_ack_timeout(void **s)
{
    produce("at-t", 2);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.type = MG_SUB_EXCLUSIVE;
    cf.initial_position = MG_POS_EARLIEST;
    cf.ack_timeout_ms = 300;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, "at-t", "ats", &cf, &c), MG_OK);
    mg_message_t *m;
    assert_int_equal(mg_consumer_receive(c, &m, 2000), MG_OK);
    mg_consumer_ack(c, m);
    mg_message_free(m);
    assert_int_equal(mg_consumer_receive(c, &m, 2000), MG_OK); /* not acked */
    assert_memory_equal(mg_message_data(m), "msg-1", 5);
    mg_message_free(m);
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_memory_equal(mg_message_data(m), "msg-1", 5);
    assert_true(mg_message_redelivery_count(m) >= 1);
    mg_consumer_ack(c, m);
    mg_message_free(m);
    mg_consumer_close(c);
}

static void test_dead_letter(void **s)
{
    produce("dlq-t", 1);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.type = MG_SUB_SHARED;
    cf.initial_position = MG_POS_EARLIEST;
    cf.nack_redelivery_delay_ms = 50;
    cf.max_redeliver_count = 2;
    mg_consumer_t *c, *dlq;
    mg_consumer_conf_t dc;
    mg_consumer_conf_init(&dc);
    dc.initial_position = MG_POS_EARLIEST;
    assert_int_equal(mg_consumer_subscribe(C, "dlq-t-sub-DLQ", "watch", &dc, &dlq), MG_OK);
    assert_int_equal(mg_consumer_subscribe(C, "dlq-t", "sub", &cf, &c), MG_OK);
    for (uint32_t want = 0; want <= 2; want++) {
        mg_message_t *m;
        assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
        assert_int_equal(mg_message_redelivery_count(m), want);
        mg_consumer_nack(c, m);
        mg_message_free(m);
    }
    mg_message_t *d;
    assert_int_equal(mg_consumer_receive(dlq, &d, 5000), MG_OK);
    assert_memory_equal(mg_message_data(d), "msg-0", 5);
    assert_string_equal(mg_message_key(d), "k");
    assert_string_equal(mg_message_property(d, "REAL_TOPIC"), "persistent://public/default/dlq-t");
    assert_non_null(mg_message_property(d, "ORIGIN_MESSAGE_ID"));
    mg_consumer_ack(dlq, d);
    mg_message_free(d);
    mg_message_t *m;
    assert_int_equal(mg_consumer_receive(c, &m, 500), MG_ERR_TIMEOUT);
    mg_consumer_close(c);
    mg_consumer_close(dlq);
}

static void test_retry_letter(void **s)
{
    produce("rl-t", 1);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.type = MG_SUB_SHARED;
    cf.initial_position = MG_POS_EARLIEST;
    cf.retry_enable = true;
    cf.max_redeliver_count = 5;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, "rl-t", "rs", &cf, &c), MG_OK);
    assert_int_equal(mg_consumer_topic_count(c), 2);
    mg_message_t *m;
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_int_equal(mg_consumer_reconsume_later(c, m, 100), MG_OK);
    mg_message_free(m);
    assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
    assert_memory_equal(mg_message_data(m), "msg-0", 5);
    assert_string_equal(mg_message_property(m, "RECONSUMETIMES"), "1");
    assert_string_equal(mg_message_topic(m), "persistent://public/default/rl-t-rs-RETRY");
    mg_consumer_ack(c, m);
    mg_message_free(m);
    mg_consumer_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nack),
        cmocka_unit_test(test_ack_timeout),
        cmocka_unit_test(test_dead_letter),
        cmocka_unit_test(test_retry_letter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
