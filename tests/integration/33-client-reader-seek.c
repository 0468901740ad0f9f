/* 33-client-reader-seek: readers from earliest / latest / an id (exclusive and inclusive),
 * has_message_available, reader seek by id (next is the one after) and by time, consumer seek
 * (next is the id itself, as the broker resets the cursor there), get_last_message_id. */
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
static mg_message_id_t *ids[5];
static uint64_t ts[5];

static int setup(void **s)
{
    mgt_client_setup(&B, &C, NULL, NULL);
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, "rs", &pc, &p), MG_OK);
    for (int i = 0; i < 5; i++) {
        char b[16];
        snprintf(b, sizeof b, "rs-msg-%d", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        assert_int_equal(mg_producer_send(p, m, &ids[i]), MG_OK);
        mg_message_free(m);
        usleep(20000);
    }
    mg_producer_close(p);
    return 0;
}
static int teardown(void **s)
{
    for (int i = 0; i < 5; i++) mg_message_id_free(ids[i]);
    mgt_client_teardown(B, C);
    return 0;
}

static void expect_next(mg_reader_t *r, const char *want)
{
    mg_message_t *m;
    assert_int_equal(mg_reader_read_next(r, &m, 3000), MG_OK);
    assert_int_equal(mg_message_len(m), strlen(want));
    assert_memory_equal(mg_message_data(m), want, strlen(want));
    mg_message_free(m);
}

static void test_reader(void **s)
{
    mg_message_id_t *e = mg_message_id_earliest();
    mg_reader_t *r;
    assert_int_equal(mg_reader_create(C, "rs", e, NULL, &r), MG_OK);
    bool avail = false;
    assert_int_equal(mg_reader_has_message_available(r, &avail), MG_OK);
    assert_true(avail);
    for (int i = 0; i < 5; i++) {
        mg_message_t *m;
        assert_int_equal(mg_reader_read_next(r, &m, 3000), MG_OK);
        assert_int_equal(mg_message_id_compare(mg_message_get_id(m), ids[i]), 0);
        ts[i] = mg_message_publish_time(m);
        mg_message_free(m);
    }
    assert_int_equal(mg_reader_has_message_available(r, &avail), MG_OK);
    assert_false(avail);
    assert_int_equal(mg_reader_seek(r, ids[1]), MG_OK);
    expect_next(r, "rs-msg-2");
    assert_int_equal(mg_reader_seek_time(r, ts[3]), MG_OK);
    expect_next(r, "rs-msg-3");
    expect_next(r, "rs-msg-4");
    assert_int_equal(mg_reader_close(r), MG_OK);

    /* from an id: exclusive by default, inclusive on request */
    assert_int_equal(mg_reader_create(C, "rs", ids[2], NULL, &r), MG_OK);
    expect_next(r, "rs-msg-3");
    mg_reader_close(r);
    mg_reader_conf_t rc;
    mg_reader_conf_init(&rc);
    rc.start_inclusive = true;
    assert_int_equal(mg_reader_create(C, "rs", ids[2], &rc, &r), MG_OK);
    expect_next(r, "rs-msg-2");
    mg_reader_close(r);
    /* latest: nothing available */
    mg_message_id_t *l = mg_message_id_latest();
    assert_int_equal(mg_reader_create(C, "rs", l, NULL, &r), MG_OK);
    assert_int_equal(mg_reader_has_message_available(r, &avail), MG_OK);
    assert_false(avail);
    mg_message_t *m;
    assert_int_equal(mg_reader_read_next(r, &m, 200), MG_ERR_TIMEOUT);
    mg_reader_close(r);
    mg_message_id_free(l);
    mg_message_id_free(e);
}

static void test_consumer_seek(void **s)
{
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, "rs", "seek-sub", &cf, &c), MG_OK);
    mg_message_id_t *last;
    assert_int_equal(mg_consumer_get_last_message_id(c, &last), MG_OK);
    assert_int_equal(mg_message_id_compare(last, ids[4]), 0);
    mg_message_id_free(last);
    mg_message_t *m;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
        mg_consumer_ack(c, m);
        mg_message_free(m);
    }
    assert_int_equal(mg_consumer_seek(c, ids[2]), MG_OK);
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_memory_equal(mg_message_data(m), "rs-msg-2", 8);
    mg_message_free(m);
    assert_int_equal(mg_consumer_seek_time(c, ts[4]), MG_OK);
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_memory_equal(mg_message_data(m), "rs-msg-4", 8);
    mg_message_free(m);
    assert_int_equal(mg_consumer_unsubscribe(c), MG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_consumer_seek),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
