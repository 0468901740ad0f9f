/* 31-client-consumers: subscription types through libmagnetar (Shared splits, Failover has one
 * active consumer, Key_Shared keeps a key on one consumer), cumulative acks, batch-index acks
 * (acked indexes of a batch are not redelivered), message listener, batch receive. */
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

static void produce(const char *topic, int n, bool batch, const char *const *keys, int nkeys)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = batch;
    pc.batching_max_delay_ms = 100;
    pc.key_based_batching = nkeys > 0;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, topic, &pc, &p), MG_OK);
    for (int i = 0; i < n; i++) {
        char b[32];
        snprintf(b, sizeof b, "m-%d", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        if (nkeys) mg_message_set_key(m, keys[i % nkeys]);
        assert_int_equal(mg_producer_send_async(p, m, NULL, NULL), MG_OK);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_flush(p), MG_OK);
    mg_producer_close(p);
}

static mg_consumer_t *sub(const char *topic, const char *s, mg_sub_type t, mg_consumer_conf_t *cf)
{
    mg_consumer_conf_t d;
    if (!cf) {
        mg_consumer_conf_init(&d);
        cf = &d;
    }
    cf->type = t;
    cf->initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, topic, s, cf, &c), MG_OK);
    return c;
}

static int drain(mg_consumer_t *c, int timeout, bool ack, char seen[][32], int max)
{
    int n = 0;
    mg_message_t *m;
    while (mg_consumer_receive(c, &m, timeout) == MG_OK) {
        if (seen && n < max) snprintf(seen[n], 32, "%.*s|%s", (int)mg_message_len(m), (const char *)mg_message_data(m),
                                      mg_message_key(m) ? mg_message_key(m) : "");
        n++;
        if (ack) mg_consumer_ack(c, m);
        mg_message_free(m);
    }
    return n;
}

static void test_shared(void **s)
{
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.receiver_queue_size = 10;
    mg_consumer_t *a = sub("shared-t", "sh", MG_SUB_SHARED, &cf);
    mg_consumer_t *b = sub("shared-t", "sh", MG_SUB_SHARED, &cf);
    produce("shared-t", 100, false, NULL, 0);
    int na = 0, nb = 0;
    for (int round = 0; round < 50 && na + nb < 100; round++) {
        na += drain(a, 50, true, NULL, 0);
        nb += drain(b, 50, true, NULL, 0);
    }
    assert_int_equal(na + nb, 100);
    assert_true(na > 0 && nb > 0);
    /* cumulative acks are refused on Shared */
    produce("shared-t", 1, false, NULL, 0);
    mg_message_t *m;
    mg_consumer_t *x = a;
    if (mg_consumer_receive(a, &m, 1000) != MG_OK) {
        x = b;
        assert_int_equal(mg_consumer_receive(b, &m, 1000), MG_OK);
    }
    assert_int_equal(mg_consumer_ack_cumulative(x, m), MG_ERR_NOT_ALLOWED);
    mg_consumer_ack(x, m);
    mg_message_free(m);
    mg_consumer_close(a);
    mg_consumer_close(b);
}

static void test_failover(void **s)
{
    mg_consumer_t *a = sub("fo-t", "fo", MG_SUB_FAILOVER, NULL);
    mg_consumer_t *b = sub("fo-t", "fo", MG_SUB_FAILOVER, NULL);
    produce("fo-t", 20, false, NULL, 0);
    int na = drain(a, 300, true, NULL, 0), nb = drain(b, 300, true, NULL, 0);
    assert_int_equal(na + nb, 20);
    assert_true(na == 0 || nb == 0);
    mg_consumer_close(a);
    mg_consumer_close(b);
}

static void test_key_shared(void **s)
{
    const char *keys[] = {"alpha", "beta", "gamma", "delta", "eps", "zeta"};
    mg_consumer_t *a = sub("ks-t", "ks", MG_SUB_KEY_SHARED, NULL);
    mg_consumer_t *b = sub("ks-t", "ks", MG_SUB_KEY_SHARED, NULL);
    produce("ks-t", 60, true, keys, 6);
    static char sa[100][32], sb[100][32];
    int na = drain(a, 300, true, sa, 100), nb = drain(b, 300, true, sb, 100);
    assert_int_equal(na + nb, 60);
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            assert_string_not_equal(strchr(sa[i], '|'), strchr(sb[j], '|'));
    mg_consumer_close(a);
    mg_consumer_close(b);
}

static void test_cumulative(void **s)
{
    produce("cum-t", 10, false, NULL, 0);
    mg_consumer_t *c = sub("cum-t", "cum", MG_SUB_EXCLUSIVE, NULL);
    mg_message_t *m = NULL;
    for (int i = 0; i < 6; i++) {
        if (m) mg_message_free(m);
        assert_int_equal(mg_consumer_receive(c, &m, 2000), MG_OK);
    }
    assert_int_equal(mg_consumer_ack_cumulative(c, m), MG_OK);
    mg_message_free(m);
    usleep(200000);
    mg_consumer_close(c);
    c = sub("cum-t", "cum", MG_SUB_EXCLUSIVE, NULL);
    static char seen[20][32];
    assert_int_equal(drain(c, 500, true, seen, 20), 4);
    assert_string_equal(seen[0], "m-6|");
    mg_consumer_close(c);
}

static void test_batch_index_ack(void **s)
{
    produce("bia-t", 5, true, NULL, 0);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.batch_index_ack_enabled = true;
    mg_consumer_t *c = sub("bia-t", "bia", MG_SUB_SHARED, &cf);
    mg_message_t *ms[5];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(mg_consumer_receive(c, &ms[i], 2000), MG_OK);
        assert_int_equal(mg_message_id_batch_index(mg_message_get_id(ms[i])), i);
    }
    mg_consumer_ack(c, ms[1]);
    mg_consumer_ack(c, ms[3]);
    for (int i = 0; i < 5; i++) mg_message_free(ms[i]);
    usleep(200000);
    mg_consumer_close(c);
    /* the rest of the batch comes again, without the acked indexes */
    c = sub("bia-t", "bia", MG_SUB_SHARED, &cf);
    static char seen[10][32];
    int n = drain(c, 500, true, seen, 10);
    assert_int_equal(n, 3);
    assert_string_equal(seen[0], "m-0|");
    assert_string_equal(seen[1], "m-2|");
    assert_string_equal(seen[2], "m-4|");
    usleep(200000);
    mg_consumer_close(c);
    c = sub("bia-t", "bia", MG_SUB_SHARED, &cf);
    assert_int_equal(drain(c, 300, true, NULL, 0), 0);
    mg_consumer_close(c);
}

static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static int listened;
static void listener(mg_consumer_t *c, mg_message_t *m, void *ctx)
{
    mg_consumer_ack(c, m);
    mg_message_free(m);
    pthread_mutex_lock(&lk);
    listened++;
    pthread_mutex_unlock(&lk);
}
/* the listener runs on the client's I/O thread: read its count under the same lock */
static int listened_now(void)
{
    pthread_mutex_lock(&lk);
    int n = listened;
    pthread_mutex_unlock(&lk);
    return n;
}

static void test_listener_and_batch_receive(void **s)
{
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.listener = listener;
    mg_consumer_t *c = sub("lis-t", "lis", MG_SUB_EXCLUSIVE, &cf);
    produce("lis-t", 30, true, NULL, 0);
    for (int i = 0; i < 200 && listened_now() < 30; i++) usleep(10000);
    assert_int_equal(listened_now(), 30);
    mg_consumer_close(c);

    mg_consumer_conf_init(&cf);
    cf.batch_max_messages = 10;
    cf.batch_timeout_ms = 300;
    c = sub("br-t", "br", MG_SUB_EXCLUSIVE, &cf);
    produce("br-t", 25, true, NULL, 0);
    mg_message_t **v;
    size_t n, total = 0;
    assert_int_equal(mg_consumer_batch_receive(c, &v, &n), MG_OK);
    assert_int_equal(n, 10);
    total += n;
    for (size_t i = 0; i < n; i++) mg_consumer_ack(c, v[i]);
    mg_messages_free(v, n);
    assert_int_equal(mg_consumer_batch_receive(c, &v, &n), MG_OK);
    total += n;
    mg_messages_free(v, n);
    assert_int_equal(mg_consumer_batch_receive(c, &v, &n), MG_OK);
    total += n;
    assert_int_equal(total, 25);
    assert_int_equal(n, 5); /* the timeout ends a short batch */
    mg_messages_free(v, n);
    assert_int_equal(mg_consumer_batch_receive(c, &v, &n), MG_OK);
    assert_int_equal(n, 0);
    mg_messages_free(v, n);
    mg_consumer_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared),          cmocka_unit_test(test_failover),
        cmocka_unit_test(test_key_shared),      cmocka_unit_test(test_cumulative),
        cmocka_unit_test(test_batch_index_ack), cmocka_unit_test(test_listener_and_batch_receive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
