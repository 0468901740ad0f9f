/* 39-client-reconnect: a producer and a consumer survive a broker restart (SIGTERM, then the
 * same ports and data dir): sends made while the broker is down complete once it is back, the
 * consumer re-subscribes by itself, and every message whose send was acknowledged is received
 * (unacknowledged deliveries may come again; nothing acknowledged by the broker is lost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "magnetar/magnetar.h"
#include "mgclient.h"

enum { N1 = 20, N2 = 20, N = N1 + N2 };

typedef struct sender {
    mg_producer_t *p;
    int from, to;
    int ok;
} sender_t;

static void *send_range(void *arg)
{
    sender_t *s = arg;
    for (int i = s->from; i < s->to; i++) {
        char b[32];
        snprintf(b, sizeof b, "rc-%d", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        if (mg_producer_send(s->p, m, NULL) == MG_OK) s->ok++;
        mg_message_free(m);
    }
    return NULL;
}

static int receive_into(mg_consumer_t *c, int *seen, int want_distinct, int timeout_ms)
{
    int distinct = 0;
    for (int i = 0; i < N; i++) distinct += seen[i] > 0;
    mg_message_t *m;
    while (distinct < want_distinct && mg_consumer_receive(c, &m, timeout_ms) == MG_OK) {
        char b[32] = {0};
        memcpy(b, mg_message_data(m), mg_message_len(m) < 31 ? mg_message_len(m) : 31);
        int i = atoi(b + 3);
        assert_true(i >= 0 && i < N);
        if (!seen[i]++) distinct++;
        mg_consumer_ack(c, m);
        mg_message_free(m);
    }
    return distinct;
}

static void test_restart(void **s)
{
    mgt_broker_t *b = mgt_broker_start(NULL);
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.initial_backoff_ms = 100;
    cc.max_backoff_ms = 500;
    cc.operation_timeout_ms = 10000;
    mg_client_t *cl = mgt_client(b->port, &cc);

    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(cl, "restart-t", "durable-sub", &cf, &c), MG_OK);
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.send_timeout_ms = 15000;
    pc.batching_max_delay_ms = 1;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, "restart-t", &pc, &p), MG_OK);

    sender_t first = {p, 0, N1, 0};
    send_range(&first);
    assert_int_equal(first.ok, N1);
    int seen[N] = {0};
    assert_int_equal(receive_into(c, seen, N1 / 2, 3000), N1 / 2); /* half consumed and acked */

    assert_int_equal(mgt_broker_stop(b), 0);
    /* sends while the broker is down wait for the reconnect (send timeout 15 s) */
    sender_t second = {p, N1, N, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_range, &second), 0);
    usleep(700 * 1000); /* a few failed reconnect attempts */
    mgt_broker_restart(b);
    pthread_join(th, NULL);
    assert_int_equal(second.ok, N2); /* every send acknowledged */

    /* the consumer re-subscribed on its own: every acknowledged message arrives */
    assert_int_equal(receive_into(c, seen, N, 8000), N);
    for (int i = 0; i < N; i++) assert_true(seen[i] >= 1);
    /* and both keep working */
    sender_t third = {p, 0, 1, 0};
    send_range(&third);
    assert_int_equal(third.ok, 1);
    mg_message_t *m;
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_int_equal(mg_message_len(m), 4);
    assert_memory_equal(mg_message_data(m), "rc-0", 4);
    mg_consumer_ack(c, m);
    mg_message_free(m);

    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
