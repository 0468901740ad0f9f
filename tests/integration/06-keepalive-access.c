/* 06-keepalive-access: keep-alive both ways (the broker PINGs a quiet client and closes one
 * that never answers), producer access modes (ExclusiveWithFencing, WaitForExclusive),
 * sticky Key_Shared hash ranges, and CONSUMER_STATS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
static mgt_broker_t *B;

static int setup(void **s)
{
    B = mgt_broker_start("keepAliveIntervalSeconds=1\n");
    return 0;
}
static int teardown(void **s)
{
    mgt_broker_free(B);
    return 0;
}

static void test_keepalive(void **s)
{
    mgt_conn_t *bad = mgt_connect(B->port, true);
    frame_t f;
    uint64_t t0 = mg_mono_ms();
    /* the broker PINGs a quiet client */
    assert_int_equal(mgt_recv(bad, &f, 3000), 1);
    assert_int_equal(f.cmd->type, T(PING));
    /* and closes it after two silent intervals */
    int r;
    while ((r = mgt_recv(bad, &f, 4000)) == 1) assert_int_equal(f.cmd->type, T(PING));
    assert_int_equal(r, -1);
    assert_true(mg_mono_ms() - t0 >= 1500);
    mgt_close(bad);
    /* a client that answers the PINGs (mgt_expect does) stays connected */
    mgt_conn_t *good = mgt_connect(B->port, true);
    assert_int_equal(mgt_expect(good, T(PONG), &f, 3500), 0); /* 3.5 s of answering PINGs */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPing ping = PULSAR__PROTO__COMMAND_PING__INIT;
    cmd.type = T(PING);
    cmd.ping = &ping;
    assert_int_equal(mgt_send_cmd(good, &cmd), 0);
    assert_int_equal(mgt_expect(good, T(PONG), &f, 2000), 1);
    mgt_close(good);
}

static int producer_mode(mgt_conn_t *c, const char *topic, uint64_t id, int mode, frame_t *f)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer p = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    cmd.type = T(PRODUCER);
    cmd.producer = &p;
    p.topic = (char *)topic;
    p.producer_id = id;
    p.request_id = c->next_request_id++;
    p.has_producer_access_mode = 1;
    p.producer_access_mode = mode;
    mgt_send_cmd(c, &cmd);
    for (;;) {
        if (mgt_recv(c, f, 3000) != 1) return -1;
        int t = f->cmd->type;
        if (t == T(PRODUCER_SUCCESS) || t == T(ERROR)) return t;
    }
}

static void test_access_modes(void **s)
{
    frame_t f;
    mgt_conn_t *a = mgt_connect(B->port, true), *b = mgt_connect(B->port, true);
    assert_int_equal(producer_mode(a, "acc", 1, PULSAR__PROTO__PRODUCER_ACCESS_MODE__Exclusive, &f),
                     T(PRODUCER_SUCCESS));
    /* WaitForExclusive: registered, not ready */
    assert_int_equal(producer_mode(b, "acc", 1, PULSAR__PROTO__PRODUCER_ACCESS_MODE__WaitForExclusive, &f),
                     T(PRODUCER_SUCCESS));
    assert_false(f.cmd->producer_success->producer_ready);
    /* the first one leaves: the waiting one gets a second PRODUCER_SUCCESS, ready */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandCloseProducer cp = PULSAR__PROTO__COMMAND_CLOSE_PRODUCER__INIT;
    cmd.type = T(CLOSE_PRODUCER);
    cmd.close_producer = &cp;
    cp.producer_id = 1;
    cp.request_id = 9;
    mgt_send_cmd(a, &cmd);
    assert_int_equal(mgt_expect(b, T(PRODUCER_SUCCESS), &f, 3000), 1);
    assert_true(f.cmd->producer_success->producer_ready);
    /* ExclusiveWithFencing takes over: the holder gets a broker-initiated CLOSE_PRODUCER */
    assert_int_equal(
        producer_mode(a, "acc", 2, PULSAR__PROTO__PRODUCER_ACCESS_MODE__ExclusiveWithFencing, &f),
        T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_expect(b, T(CLOSE_PRODUCER), &f, 3000), 1);
    assert_int_equal(f.cmd->close_producer->producer_id, 1);
    mgt_close(a);
    mgt_close(b);
}

static int sticky_sub(mgt_conn_t *c, uint64_t cid, int lo, int hi, frame_t *f)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSubscribe sub = PULSAR__PROTO__COMMAND_SUBSCRIBE__INIT;
    Pulsar__Proto__KeySharedMeta ks = PULSAR__PROTO__KEY_SHARED_META__INIT;
    Pulsar__Proto__IntRange r = PULSAR__PROTO__INT_RANGE__INIT;
    Pulsar__Proto__IntRange *rs[1] = {&r};
    cmd.type = T(SUBSCRIBE);
    cmd.subscribe = &sub;
    sub.topic = "sticky";
    sub.subscription = "s";
    sub.subtype = 3;
    sub.consumer_id = cid;
    sub.request_id = c->next_request_id++;
    sub.keysharedmeta = &ks;
    ks.keysharedmode = 1;
    ks.n_hashranges = 1;
    ks.hashranges = rs;
    r.start = lo;
    r.end = hi;
    mgt_send_cmd(c, &cmd);
    for (;;) {
        if (mgt_recv(c, f, 3000) != 1) return -1;
        if (f->cmd->type == T(SUCCESS) || f->cmd->type == T(ERROR)) return f->cmd->type;
    }
}

static void test_sticky_key_shared_and_stats(void **s)
{
    frame_t f;
    mgt_conn_t *a = mgt_connect(B->port, true), *b = mgt_connect(B->port, true);
    assert_int_equal(sticky_sub(a, 1, 0, 32767, &f), T(SUCCESS));
    assert_int_equal(sticky_sub(b, 2, 30000, 65535, &f), T(ERROR)); /* overlaps */
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__ConsumerAssignError);
    assert_int_equal(sticky_sub(b, 2, 32768, 65535, &f), T(SUCCESS));
    mgt_flow(a, 1, 100);
    /* CONSUMER_STATS answers with Pulsar's fields */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConsumerStats cs = PULSAR__PROTO__COMMAND_CONSUMER_STATS__INIT;
    cmd.type = T(CONSUMER_STATS);
    cmd.consumerstats = &cs;
    cs.consumer_id = 1;
    cs.request_id = 42;
    mgt_send_cmd(a, &cmd);
    assert_int_equal(mgt_expect(a, T(CONSUMER_STATS_RESPONSE), &f, 3000), 1);
    assert_int_equal(f.cmd->consumerstatsresponse->request_id, 42);
    assert_false(f.cmd->consumerstatsresponse->has_error_code);
    assert_string_equal(f.cmd->consumerstatsresponse->type, "Key_Shared");
    assert_int_equal(f.cmd->consumerstatsresponse->availablepermits, 100);
    mgt_close(a);
    mgt_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_access_modes),
        cmocka_unit_test(test_sticky_key_shared_and_stats),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
