/* 32-client-partitioned: a 4-partition topic (auto-created partitioned): keyed messages land
 * on signSafeMod(murmur3_32(key) & INT_MAX, 4) as with the Java client; round robin spreads
 * keyless messages; single-partition and custom routing; a partitioned consumer receives from
 * every partition; ids carry the partition; get_partitions. */
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
#include "common/murmur3.h"

static mgt_broker_t *B;
static mg_client_t *C;

static int setup(void **s)
{
    mgt_client_setup(&B, &C, "allowAutoTopicCreationType=partitioned\ndefaultNumPartitions=4\n", NULL);
    return 0;
}
static int teardown(void **s)
{
    mgt_client_teardown(B, C);
    return 0;
}

static void test_key_routing(void **s)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, "parts", &pc, &p), MG_OK);
    int n = 0;
    assert_int_equal(mg_client_get_partitions(C, "parts", &n), MG_OK);
    assert_int_equal(n, 4);
    const char *keys[] = {"key-0", "key-1", "hexabuilders", "partner-42", "a", "", "zzzzzzzz"};
    for (int i = 0; i < 7; i++) {
        mg_message_t *m = mg_message_new("v", 1);
        mg_message_set_key(m, keys[i]);
        mg_message_id_t *id;
        assert_int_equal(mg_producer_send(p, m, &id), MG_OK);
        int want = (int)(pulsar_key_hash(keys[i], strlen(keys[i])) % 4);
        assert_int_equal(mg_message_id_partition(id), want);
        mg_message_id_free(id);
        mg_message_free(m);
    }
    /* known values: Java's Murmur3_32Hash("key-0") etc. are what pulsar_key_hash computes;
     * murmur3_32("", 0) is 0, so an empty key goes to partition 0 */
    assert_int_equal(pulsar_key_hash("", 0), 0);
    /* round robin without keys, no batching: every partition, in turn */
    int seen[4] = {0};
    for (int i = 0; i < 8; i++) {
        mg_message_t *m = mg_message_new("rr", 2);
        mg_message_id_t *id;
        assert_int_equal(mg_producer_send(p, m, &id), MG_OK);
        seen[mg_message_id_partition(id)]++;
        mg_message_id_free(id);
        mg_message_free(m);
    }
    for (int i = 0; i < 4; i++) assert_int_equal(seen[i], 2);
    mg_producer_close(p);

    /* partitioned consumer gets all 15 */
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, "parts", "ps", &cf, &c), MG_OK);
    assert_int_equal(mg_consumer_topic_count(c), 4);
    int got = 0, per[4] = {0};
    mg_message_t *m;
    while (mg_consumer_receive(c, &m, 500) == MG_OK) {
        int part = mg_message_id_partition(mg_message_get_id(m));
        assert_true(part >= 0 && part < 4);
        per[part]++;
        char want[128];
        snprintf(want, sizeof want, "persistent://public/default/parts-partition-%d", part);
        assert_string_equal(mg_message_topic(m), want);
        assert_int_equal(mg_consumer_ack(c, m), MG_OK);
        mg_message_free(m);
        got++;
    }
    assert_int_equal(got, 15);
    mg_message_id_t *last;
    assert_int_equal(mg_consumer_get_last_message_id(c, &last), MG_OK);
    assert_true(mg_message_id_entry(last) >= 0);
    mg_message_id_free(last);
    mg_consumer_close(c);
}

static int router(const mg_message_t *m, int n, void *ctx) { return n - 1; }

static void test_single_and_custom(void **s)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    pc.routing_mode = MG_ROUTING_SINGLE;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(C, "parts-single", &pc, &p), MG_OK);
    int first = -1;
    for (int i = 0; i < 6; i++) {
        mg_message_t *m = mg_message_new("s", 1);
        mg_message_id_t *id;
        assert_int_equal(mg_producer_send(p, m, &id), MG_OK);
        if (first < 0) first = mg_message_id_partition(id);
        assert_int_equal(mg_message_id_partition(id), first);
        mg_message_id_free(id);
        mg_message_free(m);
    }
    mg_producer_close(p);
    pc.routing_mode = MG_ROUTING_CUSTOM;
    pc.router = router;
    pc.batching_enabled = true;
    assert_int_equal(mg_producer_create(C, "parts-custom", &pc, &p), MG_OK);
    for (int i = 0; i < 6; i++) {
        mg_message_t *m = mg_message_new("c", 1);
        mg_message_id_t *id;
        assert_int_equal(mg_producer_send(p, m, &id), MG_OK);
        assert_int_equal(mg_message_id_partition(id), 3);
        mg_message_id_free(id);
        mg_message_free(m);
    }
    mg_producer_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_routing),
        cmocka_unit_test(test_single_and_custom),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
