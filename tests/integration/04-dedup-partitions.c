/* 04-dedup-partitions: message deduplication by producer sequence id (kept across restart),
 * partitioned topics (auto-created as partitioned), GET_TOPICS_OF_NAMESPACE, and the
 * auto-creation switch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x

static void test_dedup(void **s)
{
    mgt_broker_t *b = mgt_broker_start("brokerDeduplicationEnabled=true\n");
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, "dd", 1, "dedup-p", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(f.cmd->producer_success->last_sequence_id, -1);
    for (int i = 100; i < 104; i++) {
        mgt_send(c, 1, (uint64_t)i, "dedup-p", "x", 1, NULL, 0);
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
        assert_int_equal(f.cmd->send_receipt->message_id->entryid, (uint64_t)(i - 100));
    }
    /* resend 102: receipt without a second copy */
    mgt_send(c, 1, 102, "dedup-p", "x", 1, NULL, 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
    assert_int_equal(f.cmd->send_receipt->sequence_id, 102);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, UINT64_MAX);
    mgt_close(c);
    /* kill -9: the highest persisted sequence id is recovered from the log */
    mgt_broker_kill9(b);
    mgt_broker_restart(b);
    c = mgt_connect(b->port, true);
    assert_int_equal(mgt_producer(c, "dd", 1, "dedup-p", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(f.cmd->producer_success->last_sequence_id, 103);
    mgt_send(c, 1, 103, "dedup-p", "x", 1, NULL, 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, UINT64_MAX);
    mgt_send(c, 1, 104, "dedup-p", "x", 1, NULL, 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, 4);
    /* a batch: sequence id of its last message (C++ client style) */
    const char *m3[3] = {"a", "b", "c"};
    mgt_send_batch(c, 1, 107, "dedup-p", 3, m3);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, 5);
    mgt_send_batch(c, 1, 107, "dedup-p", 3, m3);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
    assert_int_equal(f.cmd->send_receipt->message_id->entryid, UINT64_MAX);
    mgt_close(c);
    /* exactly 6 entries stored */
    c = mgt_consumer_on(b->port, "dd", "v", 100);
    int n = 0;
    mgt_msg_t m;
    while (mgt_recv_message(c, &m, 700) == 1) n++;
    assert_int_equal(n, 6);
    mgt_close(c);
    mgt_broker_free(b);
}

static void test_partitioned_auto(void **s)
{
    mgt_broker_t *b =
        mgt_broker_start("allowAutoTopicCreationType=partitioned\ndefaultNumPartitions=4\n");
    mgt_conn_t *c = mgt_connect(b->port, true);
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPartitionedTopicMetadata pm = PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA__INIT;
    cmd.type = T(PARTITIONED_METADATA);
    cmd.partitionmetadata = &pm;
    pm.topic = "persistent://public/default/parts";
    pm.request_id = 1;
    mgt_send_cmd(c, &cmd);
    frame_t f;
    assert_int_equal(mgt_expect(c, T(PARTITIONED_METADATA_RESPONSE), &f, 3000), 1);
    assert_int_equal(f.cmd->partitionmetadataresponse->partitions, 4);
    for (int i = 0; i < 4; i++) {
        char t[128];
        snprintf(t, sizeof t, "persistent://public/default/parts-partition-%d", i);
        assert_int_equal(mgt_producer(c, t, (uint64_t)i, NULL, &f), T(PRODUCER_SUCCESS));
        mgt_send(c, (uint64_t)i, 0, f.cmd->producer_success->producer_name, "p", 1, NULL, 0);
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
    }
    /* partition 4 does not exist; the base name is not a topic of its own */
    assert_int_equal(mgt_producer(c, "persistent://public/default/parts-partition-4", 9, NULL, &f),
                     T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__TopicNotFound);
    assert_int_equal(mgt_producer(c, "persistent://public/default/parts", 10, NULL, &f), T(ERROR));
    /* topics of the namespace list the four partitions */
    Pulsar__Proto__CommandGetTopicsOfNamespace gt = PULSAR__PROTO__COMMAND_GET_TOPICS_OF_NAMESPACE__INIT;
    cmd = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    cmd.type = T(GET_TOPICS_OF_NAMESPACE);
    cmd.gettopicsofnamespace = &gt;
    gt.namespace_ = "public/default";
    gt.request_id = 5;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_expect(c, T(GET_TOPICS_OF_NAMESPACE_RESPONSE), &f, 3000), 1);
    assert_int_equal(f.cmd->gettopicsofnamespaceresponse->n_topics, 4);
    assert_string_equal(f.cmd->gettopicsofnamespaceresponse->topics[0],
                        "persistent://public/default/parts-partition-0");
    mgt_close(c);
    mgt_broker_free(b);
}

static void test_no_auto_creation(void **s)
{
    mgt_broker_t *b = mgt_broker_start("allowAutoTopicCreation=false\n");
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, "nope", 1, NULL, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__TopicNotFound);
    assert_int_equal(mgt_subscribe(c, "nope", "s", 0, 1, true, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__TopicNotFound);
    mgt_close(c);
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_partitioned_auto),
        cmocka_unit_test(test_no_auto_creation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
