/* 38-client-reader-pattern: readers over every partition of a partitioned topic (as Pulsar's
 * MultiTopicsReader) from earliest, latest and a specific id, has_message_available across
 * partitions; pattern consumers that drop a topic deleted under them (without re-creating it
 * by re-subscribing) and pick up new ones, also when the pattern matched nothing at first. */
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
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.max_backoff_ms = 500;
    mgt_client_setup(&B, &C, NULL, &cc);
    return 0;
}
static int teardown(void **s)
{
    mgt_client_teardown(B, C);
    return 0;
}

/* admin REST call through curl (body: JSON or NULL); returns the HTTP status */
static int http(const char *method, const char *path, const char *body)
{
    char cmd[1024], out[64];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -X %s -H 'Content-Type: application/json' %s%s%s "
             "'http://127.0.0.1:%d%s'",
             method, body ? "-d '" : "", body ? body : "", body ? "'" : "", B->web_port, path);
    mgt_run(cmd, out, sizeof out);
    return atoi(out);
}

static void produce(const char *topic, int n, const char *prefix, mg_message_id_t **ids)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, topic, &pc, &p), MG_OK);
    for (int i = 0; i < n; i++) {
        char b[64];
        snprintf(b, sizeof b, "%s-%d", prefix, i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        mg_message_set_key(m, b); /* spread over the partitions */
        assert_int_equal(mg_producer_send(p, m, ids ? &ids[i] : NULL), MG_OK);
        mg_message_free(m);
    }
    mg_producer_close(p);
}

/* read until nothing comes for 700 ms; marks seen[i] for payload "<prefix>-i" */
static int read_all(mg_reader_t *r, const char *prefix, bool *seen, int n)
{
    int got = 0;
    mg_message_t *m;
    size_t pl = strlen(prefix);
    while (mg_reader_read_next(r, &m, 700) == MG_OK) {
        const char *d = mg_message_data(m);
        size_t len = mg_message_len(m);
        assert_true(len > pl + 1 && !memcmp(d, prefix, pl) && d[pl] == '-');
        char num[16] = {0};
        memcpy(num, d + pl + 1, len - pl - 1 < 15 ? len - pl - 1 : 15);
        int i = atoi(num);
        assert_true(i >= 0 && i < n);
        assert_false(seen[i]); /* no duplicates */
        seen[i] = true;
        assert_true(mg_message_id_partition(mg_message_get_id(m)) >= 0);
        mg_message_free(m);
        got++;
    }
    return got;
}

static void test_partitioned_reader(void **s)
{
    const char *topic = "persistent://public/default/preader";
    int st = http("PUT", "/admin/v2/persistent/public/default/preader/partitions", "3");
    assert_true(st >= 200 && st < 300);
    int parts = 0;
    assert_int_equal(mg_client_get_partitions(C, topic, &parts), MG_OK);
    assert_int_equal(parts, 3);
    enum { N = 30 };
    mg_message_id_t *ids[N];
    produce(topic, N, "pr", ids);
    int used[3] = {0};
    for (int i = 0; i < N; i++) used[mg_message_id_partition(ids[i])]++;
    assert_true(used[0] && used[1] && used[2]);

    /* earliest: everything, from every partition, once */
    mg_message_id_t *e = mg_message_id_earliest(), *l = mg_message_id_latest();
    mg_reader_t *r;
    assert_int_equal(mg_reader_create(C, topic, e, NULL, &r), MG_OK);
    bool avail = false;
    assert_int_equal(mg_reader_has_message_available(r, &avail), MG_OK);
    assert_true(avail);
    bool seen[N] = {0};
    assert_int_equal(read_all(r, "pr", seen, N), N);
    assert_int_equal(mg_reader_has_message_available(r, &avail), MG_OK);
    assert_false(avail);
    /* new messages reach the same reader */
    produce(topic, 6, "more", NULL);
    assert_int_equal(mg_reader_has_message_available(r, &avail), MG_OK);
    assert_true(avail);
    bool seen2[6] = {0};
    assert_int_equal(read_all(r, "more", seen2, 6), 6);
    assert_int_equal(mg_reader_close(r), MG_OK);

    /* latest: only what comes after */
    assert_int_equal(mg_reader_create(C, topic, l, NULL, &r), MG_OK);
    assert_int_equal(mg_reader_has_message_available(r, &avail), MG_OK);
    assert_false(avail);
    produce(topic, 5, "late", NULL);
    bool seen3[5] = {0};
    assert_int_equal(read_all(r, "late", seen3, 5), 5);
    assert_int_equal(mg_reader_close(r), MG_OK);

    /* a specific id: its partition starts after it, the others from their start */
    mg_reader_conf_t rc;
    mg_reader_conf_init(&rc);
    assert_int_equal(mg_reader_create(C, topic, ids[0], &rc, &r), MG_OK);
    mg_message_t *m;
    int got = 0;
    bool first_seen = false;
    while (mg_reader_read_next(r, &m, 700) == MG_OK) {
        if (mg_message_len(m) == 4 && !memcmp(mg_message_data(m), "pr-0", 4)) first_seen = true;
        got++;
        mg_message_free(m);
    }
    assert_false(first_seen);
    assert_int_equal(got, N + 6 + 5 - 1); /* everything but pr-0 */
    assert_int_equal(mg_reader_close(r), MG_OK);
    /* inclusive: pr-0 is the first message of its partition */
    rc.start_inclusive = true;
    assert_int_equal(mg_reader_create(C, topic, ids[0], &rc, &r), MG_OK);
    got = 0;
    first_seen = false;
    while (mg_reader_read_next(r, &m, 700) == MG_OK) {
        if (mg_message_len(m) == 4 && !memcmp(mg_message_data(m), "pr-0", 4)) first_seen = true;
        got++;
        mg_message_free(m);
    }
    assert_true(first_seen);
    assert_int_equal(got, N + 6 + 5);
    assert_int_equal(mg_reader_close(r), MG_OK);

    for (int i = 0; i < N; i++) mg_message_id_free(ids[i]);
    mg_message_id_free(e);
    mg_message_id_free(l);
}

static bool wait_count(mg_consumer_t *c, size_t want, int ms)
{
    for (int t = 0; t < ms / 50; t++) {
        if (mg_consumer_topic_count(c) == want) return true;
        usleep(50000);
    }
    return mg_consumer_topic_count(c) == want;
}

static void test_pattern_drops_deleted(void **s)
{
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    cf.pattern_refresh_s = 1;
    /* nothing matches yet: the pattern consumer still picks topics up later */
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe_pattern(C, "persistent://public/default/pat-.*", "ps", &cf, &c), MG_OK);
    assert_int_equal(mg_consumer_topic_count(c), 0);
    produce("pat-a", 2, "a", NULL);
    produce("pat-b", 2, "b", NULL);
    assert_true(wait_count(c, 2, 4000));
    int n = 0;
    mg_message_t *m;
    while (n < 4 && mg_consumer_receive(c, &m, 3000) == MG_OK) {
        mg_consumer_ack(c, m);
        mg_message_free(m);
        n++;
    }
    assert_int_equal(n, 4);

    /* force-delete pat-b while subscribed: the broker closes the consumer; the pattern
     * consumer drops the topic instead of re-creating it by subscribing again */
    int st = http("DELETE", "/admin/v2/persistent/public/default/pat-b?force=true", NULL);
    assert_true(st >= 200 && st < 300);
    assert_true(wait_count(c, 1, 4000));
    assert_string_equal(mg_consumer_topic(c), "persistent://public/default/pat-.*");
    sleep(2); /* two more refreshes and reconnect rounds */
    assert_int_equal(mg_consumer_topic_count(c), 1);
    char out[8192];
    char cmd[256];
    snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/admin/v2/persistent/public/default", B->web_port);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "pat-a"));
    assert_null(strstr(out, "pat-b")); /* not re-created */

    /* the remaining topic still delivers, a new one is added */
    produce("pat-a", 1, "a2", NULL);
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_memory_equal(mg_message_data(m), "a2-0", 4);
    mg_consumer_ack(c, m);
    mg_message_free(m);
    produce("pat-c", 1, "c", NULL);
    assert_true(wait_count(c, 2, 4000));
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_memory_equal(mg_message_data(m), "c-0", 3);
    mg_consumer_ack(c, m);
    mg_message_free(m);
    assert_int_equal(mg_consumer_close(c), MG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partitioned_reader),
        cmocka_unit_test(test_pattern_drops_deleted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
