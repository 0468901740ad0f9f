/* 35-client-chunking-multi: chunked messages (over the chunk size / the broker's max message
 * size) reassembled by the consumer and acked as a whole; multi-topic and regex (namespace
 * pattern) consumers. */
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
    mgt_client_setup(&B, &C, "maxMessageSize=1048576\n", NULL);
    return 0;
}
static int teardown(void **s)
{
    mgt_client_teardown(B, C);
    return 0;
}

static void chunk_roundtrip(mg_compression codec, int chunk_size)
{
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.chunking_enabled = true;
    pc.compression = codec;
    pc.chunk_max_size = chunk_size;
    mg_producer_t *p;
    char topic[64];
    snprintf(topic, sizeof topic, "chunks-%d-%d", (int)codec, chunk_size);
    assert_int_equal(mg_producer_create(C, topic, &pc, &p), MG_OK);
    size_t size = 3 * 1024 * 1024 + 123;
    uint8_t *d = malloc(size);
    for (size_t i = 0; i < size; i++) d[i] = (uint8_t)(i % 251 ^ (i >> 13));
    mg_message_t *m = mg_message_new(d, size);
    mg_message_set_property(m, "big", "yes");
    mg_message_id_t *id;
    assert_int_equal(mg_producer_send(p, m, &id), MG_OK);
    mg_message_free(m);
    m = mg_message_new("small", 5);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(C, topic, "cs", &cf, &c), MG_OK);
    assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
    assert_int_equal(mg_message_len(m), size);
    assert_memory_equal(mg_message_data(m), d, size);
    assert_string_equal(mg_message_property(m, "big"), "yes");
    assert_int_equal(mg_message_id_compare(mg_message_get_id(m), id), 0);
    assert_int_equal(mg_consumer_ack(c, m), MG_OK);
    mg_message_free(m);
    assert_int_equal(mg_consumer_receive(c, &m, 3000), MG_OK);
    assert_int_equal(mg_message_len(m), 5);
    mg_consumer_ack(c, m);
    mg_message_free(m);
    mg_message_id_free(id);
    usleep(200000);
    mg_consumer_close(c);
    /* every chunk was acked: nothing comes back */
    assert_int_equal(mg_consumer_subscribe(C, topic, "cs", &cf, &c), MG_OK);
    assert_int_equal(mg_consumer_receive(c, &m, 300), MG_ERR_TIMEOUT);
    mg_consumer_close(c);
    mg_producer_close(p);
    free(d);
}

static void test_chunking(void **s)
{
    chunk_roundtrip(MG_COMPRESSION_NONE, 0);        /* split at the broker's 1 MB */
    chunk_roundtrip(MG_COMPRESSION_LZ4, 200 * 1024); /* compressed, then split */
}

static void test_multi_and_pattern(void **s)
{
    const char *topics[] = {"multi-a", "multi-b", "other-c"};
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    for (int t = 0; t < 3; t++) {
        mg_producer_t *p;
        assert_int_equal(mg_producer_create(C, topics[t], &pc, &p), MG_OK);
        for (int i = 0; i < 3; i++) {
            mg_message_t *m = mg_message_new(topics[t], strlen(topics[t]));
            assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
            mg_message_free(m);
        }
        mg_producer_close(p);
    }
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe_multi(C, topics, 2, "mt", &cf, &c), MG_OK);
    assert_int_equal(mg_consumer_topic_count(c), 2);
    int n = 0;
    mg_message_t *m;
    while (mg_consumer_receive(c, &m, 500) == MG_OK) {
        assert_memory_equal(mg_message_data(m), "multi-", 6);
        mg_consumer_ack(c, m);
        mg_message_free(m);
        n++;
    }
    assert_int_equal(n, 6);
    mg_consumer_close(c);
    assert_int_equal(mg_consumer_subscribe_pattern(C, "persistent://public/default/multi-.*", "pt", &cf, &c), MG_OK);
    assert_int_equal(mg_consumer_topic_count(c), 2);
    n = 0;
    while (mg_consumer_receive(c, &m, 500) == MG_OK) {
        assert_memory_equal(mg_message_data(m), "multi-", 6);
        mg_consumer_ack(c, m);
        mg_message_free(m);
        n++;
    }
    assert_int_equal(n, 6);
    mg_consumer_close(c);
    assert_int_equal(mg_consumer_subscribe_pattern(C, "not-a-full-name", "pt", &cf, &c), MG_ERR_INVALID_TOPIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_multi_and_pattern),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
