/* 50-schema-wire: the schema registry over the binary protocol: PRODUCER with a schema
 * registers it (version 0, 8-byte big-endian in PRODUCER_SUCCESS), the same schema reuses its
 * version, a compatible change gets the next one, an incompatible or invalid one gets
 * IncompatibleSchema with a reason; GET_SCHEMA latest and by version (the official client's
 * 8-byte request), GET_OR_CREATE_SCHEMA, SUBSCRIBE checks, a partitioned topic shares one
 * schema, and isSchemaValidationEnforced refuses producers without a schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
#define SE(x) PULSAR__PROTO__SERVER_ERROR__##x

static mgt_broker_t *B;

/* The official Python client's schema from fixture 13-producer-avro-schema. */
static const char *READING_V0 =
    "{\n \"type\": \"record\",\n \"name\": \"Reading\",\n \"fields\": [\n  {\n   \"name\": \"name\",\n"
    "   \"type\": [\n    \"null\",\n    \"string\"\n   ]\n  },\n  {\n   \"name\": \"value\",\n"
    "   \"type\": [\n    \"null\",\n    \"int\"\n   ]\n  }\n ]\n}";
/* adds a field with a default: FULL-compatible */
static const char *READING_V1 =
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[{\"name\":\"name\",\"type\":[\"null\","
    "\"string\"]},{\"name\":\"value\",\"type\":[\"null\",\"int\"]},{\"name\":\"unit\",\"type\":"
    "\"string\",\"default\":\"C\"}]}";
/* changes a field's type: incompatible */
static const char *READING_BAD =
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[{\"name\":\"name\",\"type\":\"int\"},"
    "{\"name\":\"value\",\"type\":[\"null\",\"int\"]}]}";

static int setup(void **s)
{
    B = mgt_broker_start(NULL);
    return 0;
}
static int teardown(void **s)
{
    mgt_broker_free(B);
    return 0;
}

/* PRODUCER with an optional schema (type < 0: none); returns the reply type. */
static int producer_schema(mgt_conn_t *c, const char *topic, uint64_t pid, int type,
                           const char *data, frame_t *f)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer p = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    Pulsar__Proto__Schema sc = PULSAR__PROTO__SCHEMA__INIT;
    cmd.type = T(PRODUCER);
    cmd.producer = &p;
    p.topic = (char *)topic;
    p.producer_id = pid;
    p.request_id = c->next_request_id++;
    if (type >= 0) {
        sc.name = "AVRO";
        sc.type = (Pulsar__Proto__Schema__Type)type;
        sc.schema_data.data = (uint8_t *)data;
        sc.schema_data.len = strlen(data);
        p.schema = &sc;
    }
    assert_int_equal(mgt_send_cmd(c, &cmd), 0);
    for (;;) {
        assert_int_equal(mgt_recv(c, f, 5000), 1);
        int t = f->cmd->type;
        if (t == T(PRODUCER_SUCCESS) || t == T(ERROR)) return t;
    }
}

static int64_t be64(const ProtobufCBinaryData *d)
{
    assert_int_equal(d->len, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | d->data[i];
    return (int64_t)v;
}

static void close_producer(mgt_conn_t *c, uint64_t pid)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandCloseProducer cp = PULSAR__PROTO__COMMAND_CLOSE_PRODUCER__INIT;
    cmd.type = T(CLOSE_PRODUCER);
    cmd.close_producer = &cp;
    cp.producer_id = pid;
    cp.request_id = c->next_request_id++;
    mgt_send_cmd(c, &cmd);
    frame_t f;
    assert_int_equal(mgt_expect(c, T(SUCCESS), &f, 3000), 1);
}

/* GET_SCHEMA; version < 0 asks for the latest. Returns the response (valid until next recv). */
static Pulsar__Proto__CommandGetSchemaResponse *get_schema(mgt_conn_t *c, const char *topic,
                                                           int64_t version, frame_t *f)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetSchema g = PULSAR__PROTO__COMMAND_GET_SCHEMA__INIT;
    uint8_t v[8];
    cmd.type = T(GET_SCHEMA);
    cmd.getschema = &g;
    g.topic = (char *)topic;
    g.request_id = c->next_request_id++;
    if (version >= 0) {
        for (int i = 0; i < 8; i++) v[i] = (uint8_t)((uint64_t)version >> (56 - 8 * i));
        g.has_schema_version = 1;
        g.schema_version.data = v;
        g.schema_version.len = 8;
    }
    assert_int_equal(mgt_send_cmd(c, &cmd), 0);
    assert_int_equal(mgt_expect(c, T(GET_SCHEMA_RESPONSE), f, 3000), 1);
    assert_int_equal(f->cmd->getschemaresponse->request_id, g.request_id);
    return f->cmd->getschemaresponse;
}

static void test_register_and_reuse(void **s)
{
    const char *topic = "persistent://public/default/sw-reading";
    mgt_conn_t *c = mgt_connect(B->port, true);
    frame_t f;
    /* no schema yet: GET_SCHEMA says so */
    Pulsar__Proto__CommandGetSchemaResponse *g = get_schema(c, topic, -1, &f);
    assert_true(g->has_error_code);
    assert_int_equal(g->error_code, SE(TopicNotFound));

    assert_int_equal(producer_schema(c, topic, 1, 4, READING_V0, &f), T(PRODUCER_SUCCESS));
    assert_true(f.cmd->producer_success->has_schema_version);
    assert_int_equal(be64(&f.cmd->producer_success->schema_version), 0);
    /* the same schema again: the same version */
    assert_int_equal(producer_schema(c, topic, 2, 4, READING_V0, &f), T(PRODUCER_SUCCESS));
    assert_int_equal(be64(&f.cmd->producer_success->schema_version), 0);
    /* a FULL-compatible evolution: version 1 */
    assert_int_equal(producer_schema(c, topic, 3, 4, READING_V1, &f), T(PRODUCER_SUCCESS));
    assert_int_equal(be64(&f.cmd->producer_success->schema_version), 1);
    /* the old one is still known: version 0 */
    assert_int_equal(producer_schema(c, topic, 4, 4, READING_V0, &f), T(PRODUCER_SUCCESS));
    assert_int_equal(be64(&f.cmd->producer_success->schema_version), 0);
    /* incompatible: IncompatibleSchema naming the reason */
    assert_int_equal(producer_schema(c, topic, 5, 4, READING_BAD, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, SE(IncompatibleSchema));
    assert_non_null(strstr(f.cmd->error->message, "name"));
    /* invalid Avro, and a type change */
    assert_int_equal(producer_schema(c, topic, 6, 4, "{\"type\": \"recor", &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, SE(IncompatibleSchema));
    assert_true(strlen(f.cmd->error->message) > 0);
    assert_int_equal(producer_schema(c, topic, 7, 2 /* JSON */, READING_V0, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, SE(IncompatibleSchema));
    assert_non_null(strstr(f.cmd->error->message, "type"));

    /* GET_SCHEMA: latest, and version 0 with the 8-byte request of the official client */
    g = get_schema(c, topic, -1, &f);
    assert_false(g->has_error_code);
    assert_int_equal(be64(&g->schema_version), 1);
    assert_int_equal(g->schema->type, 4);
    assert_int_equal(g->schema->schema_data.len, strlen(READING_V1));
    assert_memory_equal(g->schema->schema_data.data, READING_V1, strlen(READING_V1));
    g = get_schema(c, topic, 0, &f);
    assert_false(g->has_error_code);
    assert_int_equal(be64(&g->schema_version), 0);
    assert_memory_equal(g->schema->schema_data.data, READING_V0, strlen(READING_V0));
    g = get_schema(c, topic, 7, &f);
    assert_int_equal(g->error_code, SE(TopicNotFound));

    /* a producer without a schema is accepted when validation is not enforced */
    assert_int_equal(producer_schema(c, topic, 8, -1, NULL, &f), T(PRODUCER_SUCCESS));
    assert_false(f.cmd->producer_success->has_schema_version &&
                 f.cmd->producer_success->schema_version.len);

    /* SUBSCRIBE with a reader schema: V0 can read V1 data (BACKWARD) ... */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSubscribe sub = PULSAR__PROTO__COMMAND_SUBSCRIBE__INIT;
    Pulsar__Proto__Schema sc = PULSAR__PROTO__SCHEMA__INIT;
    cmd.type = T(SUBSCRIBE);
    cmd.subscribe = &sub;
    sub.topic = (char *)topic;
    sub.subscription = "s1";
    sub.consumer_id = 1;
    sub.request_id = c->next_request_id++;
    sc.name = "r";
    sc.type = PULSAR__PROTO__SCHEMA__TYPE__Avro;
    sc.schema_data.data = (uint8_t *)READING_V0;
    sc.schema_data.len = strlen(READING_V0);
    sub.schema = &sc;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_expect(c, T(SUCCESS), &f, 3000), 1);
    /* ... but READING_BAD cannot */
    sub.consumer_id = 2;
    sub.subscription = "s2";
    sub.request_id = c->next_request_id++;
    sc.schema_data.data = (uint8_t *)READING_BAD;
    sc.schema_data.len = strlen(READING_BAD);
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_expect(c, T(ERROR), &f, 3000), 1);
    assert_int_equal(f.cmd->error->error, SE(IncompatibleSchema));
    mgt_close(c);
}

static void test_get_or_create_and_partitions(void **s)
{
    mgt_conn_t *c = mgt_connect(B->port, true);
    frame_t f;
    /* a partitioned topic: partitions share the schema of the base name */
    char cmdline[512], out[256];
    snprintf(cmdline, sizeof cmdline,
             "curl -s -o /dev/null -w '%%{http_code}' -X PUT -H 'Content-Type: application/json' "
             "-d 2 http://127.0.0.1:%d/admin/v2/persistent/public/default/sw-part/partitions",
             B->web_port);
    mgt_run(cmdline, out, sizeof out);
    assert_true(!strcmp(out, "204") || !strcmp(out, "200"));
    assert_int_equal(producer_schema(c, "persistent://public/default/sw-part-partition-0", 1, 4,
                                     READING_V0, &f),
                     T(PRODUCER_SUCCESS));
    assert_int_equal(be64(&f.cmd->producer_success->schema_version), 0);
    Pulsar__Proto__CommandGetSchemaResponse *g =
        get_schema(c, "persistent://public/default/sw-part-partition-1", 0, &f);
    assert_false(g->has_error_code);
    g = get_schema(c, "persistent://public/default/sw-part", -1, &f);
    assert_false(g->has_error_code);
    assert_int_equal(be64(&g->schema_version), 0);

    /* GET_OR_CREATE_SCHEMA: an existing version, a new one, an incompatible one */
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetOrCreateSchema gc = PULSAR__PROTO__COMMAND_GET_OR_CREATE_SCHEMA__INIT;
    Pulsar__Proto__Schema sc = PULSAR__PROTO__SCHEMA__INIT;
    cmd.type = T(GET_OR_CREATE_SCHEMA);
    cmd.getorcreateschema = &gc;
    gc.topic = "persistent://public/default/sw-part-partition-1";
    gc.schema = &sc;
    sc.name = "x";
    sc.type = PULSAR__PROTO__SCHEMA__TYPE__Avro;
    const char *datas[3] = {READING_V0, READING_V1, READING_BAD};
    for (int i = 0; i < 3; i++) {
        gc.request_id = c->next_request_id++;
        sc.schema_data.data = (uint8_t *)datas[i];
        sc.schema_data.len = strlen(datas[i]);
        mgt_send_cmd(c, &cmd);
        assert_int_equal(mgt_expect(c, T(GET_OR_CREATE_SCHEMA_RESPONSE), &f, 3000), 1);
        Pulsar__Proto__CommandGetOrCreateSchemaResponse *r = f.cmd->getorcreateschemaresponse;
        assert_int_equal(r->request_id, gc.request_id);
        if (i < 2) {
            assert_false(r->has_error_code);
            assert_int_equal(be64(&r->schema_version), i);
        } else {
            assert_true(r->has_error_code);
            assert_int_equal(r->error_code, SE(IncompatibleSchema));
            assert_non_null(r->error_message);
        }
    }
    /* unknown topic */
    gc.topic = "persistent://nope/nope/t";
    gc.request_id = c->next_request_id++;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_expect(c, T(GET_OR_CREATE_SCHEMA_RESPONSE), &f, 3000), 1);
    assert_true(f.cmd->getorcreateschemaresponse->has_error_code);

    /* an oversized schema is refused with a reason, not a crash */
    size_t big = 1024 * 1024 + 16;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "\"string\"", 8);
    huge[big] = 0;
    int rt = producer_schema(c, "persistent://public/default/sw-big", 9, 4, huge, &f);
    free(huge);
    assert_int_equal(rt, T(ERROR));
    assert_int_equal(f.cmd->error->error, SE(IncompatibleSchema));
    assert_non_null(strstr(f.cmd->error->message, "limit"));
    mgt_close(c);
}

static void test_enforced(void **s)
{
    mgt_broker_t *b2 = mgt_broker_start("isSchemaValidationEnforced=true\n");
    mgt_conn_t *c = mgt_connect(b2->port, true);
    frame_t f;
    const char *topic = "persistent://public/default/sw-enforced";
    /* no schema on a topic without one: fine */
    assert_int_equal(producer_schema(c, topic, 1, -1, NULL, &f), T(PRODUCER_SUCCESS));
    close_producer(c, 1);
    assert_int_equal(producer_schema(c, topic, 2, 4, READING_V0, &f), T(PRODUCER_SUCCESS));
    /* now the topic has a schema: a producer without one is refused */
    assert_int_equal(producer_schema(c, topic, 3, -1, NULL, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, SE(IncompatibleSchema));
    assert_non_null(strstr(f.cmd->error->message, "without a schema"));
    /* the schema survives a restart */
    mgt_close(c);
    mgt_broker_stop(b2);
    mgt_broker_restart(b2);
    c = mgt_connect(b2->port, true);
    Pulsar__Proto__CommandGetSchemaResponse *g = get_schema(c, topic, 0, &f);
    assert_false(g->has_error_code);
    assert_int_equal(producer_schema(c, topic, 4, 4, READING_V0, &f), T(PRODUCER_SUCCESS));
    assert_int_equal(be64(&f.cmd->producer_success->schema_version), 0);
    assert_int_equal(producer_schema(c, topic, 5, -1, NULL, &f), T(ERROR));
    mgt_close(c);
    mgt_broker_free(b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_reuse),
        cmocka_unit_test(test_get_or_create_and_partitions),
        cmocka_unit_test(test_enforced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
