/* 07-shared-connection: several consumers on one connection (as the official clients share
 * one connection per broker) catching up a large backlog: the output buffer passes its
 * high-water mark, and every consumer must still get all of its messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
#define TOPICS 4
#define PER_TOPIC 2000
#define SIZE 2048

static void test_catch_up_on_one_connection(void **s)
{
    mgt_broker_t *b = mgt_broker_start("journalSyncData=false\n");
    mgt_conn_t *p = mgt_connect(b->port, true);
    frame_t f;
    static char body[SIZE];
    memset(body, 'c', sizeof body);
    for (int t = 0; t < TOPICS; t++) {
        char topic[64];
        snprintf(topic, sizeof topic, "catchup-%d", t);
        assert_int_equal(mgt_producer(p, topic, (uint64_t)t, NULL, &f), T(PRODUCER_SUCCESS));
        char name[64];
        snprintf(name, sizeof name, "%s", f.cmd->producer_success->producer_name);
        for (int i = 0; i < PER_TOPIC; i++) {
            mgt_send(p, (uint64_t)t, (uint64_t)i, name, body, sizeof body, NULL, 0);
            if (i % 200 == 199)
                for (int k = 0; k < 200; k++)
                    assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 10000), 1);
        }
    }
    mgt_close(p);
    mgt_conn_t *c = mgt_connect(b->port, true);
    for (int t = 0; t < TOPICS; t++) {
        char topic[64];
        snprintf(topic, sizeof topic, "catchup-%d", t);
        assert_int_equal(mgt_subscribe(c, topic, "s", 0, (uint64_t)t, true, &f), T(SUCCESS));
    }
    for (int t = 0; t < TOPICS; t++) mgt_flow(c, (uint64_t)t, 100000);
    int got[TOPICS] = {0}, total = 0;
    while (total < TOPICS * PER_TOPIC && mgt_expect(c, T(MESSAGE), &f, 5000) == 1) {
        got[f.cmd->message->consumer_id]++;
        total++;
    }
    for (int t = 0; t < TOPICS; t++) assert_int_equal(got[t], PER_TOPIC);
    mgt_close(c);
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_up_on_one_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
