/* 51-schema-rest: the schema registry's REST API (/admin/v2/schemas/...): upload, get latest and
 * by version, all versions, compatibility test, version lookup, soft and forced delete, KEY_VALUE
 * JSON form, bad input (invalid Avro, unknown type, malformed JSON, oversized) answered with a
 * 4xx and a reason; the HexaBuilders seed's two Avro schemas registered and read back; a schema
 * uploaded over REST is the one a producer finds on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mghttp.h"
#include "mgtest.h"

static mgt_broker_t *B;

/* HTTP request to the broker's web port; returns the status and the parsed JSON body in *out
 * (NULL when empty or not JSON; caller decrefs). */
static long http(const char *method, const char *path, const char *body, json_t **out)
{
    mgt_http_res_t r;
    long status = mgt_http(B->web_port, method, path, body, false, &r);
    if (out) *out = r.len ? json_loadb(r.body, r.len, JSON_DECODE_ANY, NULL) : NULL;
    mgt_http_res_free(&r);
    return status;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}
static long long jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* PostSchemaPayload with an Avro schema given as JSON text */
static char *payload(const char *type, const char *schema, const char *props)
{
    json_t *o = json_pack("{s:s, s:s}", "type", type, "schema", schema);
    if (props) json_object_set_new(o, "properties", json_loads(props, 0, NULL));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static const char *USER_V0 =
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}";
static const char *USER_V1 =
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
static const char *USER_BAD =
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}";

static int setup(void **s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    B = mgt_broker_start(NULL);
    return 0;
}
static int teardown(void **s)
{
    mgt_broker_free(B);
    curl_global_cleanup();
    return 0;
}

#define BASE "/admin/v2/schemas/public/default/sr-user"

static void test_rest_paths(void **s)
{
    json_t *j;
    /* nothing yet */
    assert_int_equal(http("GET", BASE "/schema", NULL, &j), 404);
    assert_non_null(jstr(j, "reason"));
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schemas", NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "getSchemaResponses")), 0);
    json_decref(j);

    /* upload v0 (with properties) and v1 */
    char *p0 = payload("AVRO", USER_V0, "{\"owner\":\"team-a\"}");
    char *p1 = payload("AVRO", USER_V1, NULL);
    char *pbad = payload("AVRO", USER_BAD, NULL);
    assert_int_equal(http("POST", BASE "/schema", p0, &j), 200);
    assert_int_equal(jint(json_object_get(j, "version"), "version"), 0);
    json_decref(j);
    assert_int_equal(http("POST", BASE "/schema", p0, &j), 200); /* idempotent */
    assert_int_equal(jint(json_object_get(j, "version"), "version"), 0);
    json_decref(j);
    assert_int_equal(http("POST", BASE "/schema", p1, &j), 200);
    assert_int_equal(jint(json_object_get(j, "version"), "version"), 1);
    json_decref(j);

    /* GET latest, by version, all */
    assert_int_equal(http("GET", BASE "/schema", NULL, &j), 200);
    assert_int_equal(jint(j, "version"), 1);
    assert_string_equal(jstr(j, "type"), "AVRO");
    assert_string_equal(jstr(j, "data"), USER_V1);
    assert_true(jint(j, "timestamp") > 0);
    assert_true(json_is_object(json_object_get(j, "properties")));
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schema/0", NULL, &j), 200);
    assert_int_equal(jint(j, "version"), 0);
    assert_string_equal(jstr(j, "data"), USER_V0);
    assert_string_equal(jstr(json_object_get(j, "properties"), "owner"), "team-a");
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schema/5", NULL, &j), 404);
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schema/abc", NULL, &j), 400);
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schemas", NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "getSchemaResponses")), 2);
    json_decref(j);

    /* compatibility test and version lookup */
    assert_int_equal(http("POST", BASE "/compatibility", p1, &j), 200);
    assert_true(json_is_true(json_object_get(j, "compatibility")));
    assert_string_equal(jstr(j, "schemaCompatibilityStrategy"), "FULL");
    json_decref(j);
    assert_int_equal(http("POST", BASE "/compatibility", pbad, &j), 200);
    assert_true(json_is_false(json_object_get(j, "compatibility")));
    assert_non_null(jstr(j, "reason"));
    json_decref(j);
    assert_int_equal(http("POST", BASE "/version", p0, &j), 200);
    assert_int_equal(jint(j, "version"), 0);
    json_decref(j);
    assert_int_equal(http("POST", BASE "/version", pbad, &j), 404);
    json_decref(j);

    /* incompatible upload: 409 with the reason */
    assert_int_equal(http("POST", BASE "/schema", pbad, &j), 409);
    assert_non_null(strstr(jstr(j, "reason"), "id"));
    json_decref(j);

    /* soft delete: a marker version; GET says deleted; versions go on */
    assert_int_equal(http("DELETE", BASE "/schema", NULL, &j), 200);
    assert_int_equal(jint(j, "version"), 2);
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schema", NULL, &j), 404);
    assert_non_null(strstr(jstr(j, "reason"), "deleted"));
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schemas", NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "getSchemaResponses")), 0);
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schema/0", NULL, &j), 200); /* history stays readable */
    json_decref(j);
    /* after a delete anything goes: the formerly incompatible schema becomes version 3 */
    assert_int_equal(http("POST", BASE "/schema", pbad, &j), 200);
    assert_int_equal(jint(json_object_get(j, "version"), "version"), 3);
    json_decref(j);
    /* forced delete removes everything; versions restart at 0 */
    assert_int_equal(http("DELETE", BASE "/schema?force=true", NULL, &j), 200);
    assert_int_equal(jint(j, "version"), 3);
    json_decref(j);
    assert_int_equal(http("GET", BASE "/schema/0", NULL, &j), 404);
    json_decref(j);
    assert_int_equal(http("POST", BASE "/schema", p0, &j), 200);
    assert_int_equal(jint(json_object_get(j, "version"), "version"), 0);
    json_decref(j);
    free(p0);
    free(p1);
    free(pbad);

    /* wrong method, unknown namespace */
    assert_int_equal(http("PUT", BASE "/schemas", NULL, &j), 405);
    json_decref(j);
    assert_int_equal(http("GET", "/admin/v2/schemas/nope/nope/t/schema", NULL, &j), 404);
    json_decref(j);
}

static void test_rest_bad_input(void **s)
{
    json_t *j;
    char *p = payload("AVRO", "{\"type\": \"record\", \"name\": ", NULL);
    assert_int_equal(http("POST", BASE "2/schema", p, &j), 422);
    assert_true(strlen(jstr(j, "reason")) > 0);
    json_decref(j);
    free(p);
    p = payload("NOT_A_TYPE", "{}", NULL);
    assert_int_equal(http("POST", BASE "2/schema", p, &j), 400);
    assert_non_null(strstr(jstr(j, "reason"), "NOT_A_TYPE"));
    json_decref(j);
    free(p);
    assert_int_equal(http("POST", BASE "2/schema", "{not json", &j), 400);
    json_decref(j);
    assert_int_equal(http("POST", BASE "2/schema", "[1,2]", &j), 400);
    json_decref(j);
    /* primitive types take an empty schema */
    p = payload("STRING", "", NULL);
    assert_int_equal(http("POST", BASE "-str/schema", p, &j), 200);
    json_decref(j);
    free(p);
    /* oversized: 4xx, never a crash */
    size_t big = 1024 * 1024 + 100;
    char *huge = malloc(big + 64);
    strcpy(huge, "{\"type\":\"AVRO\",\"schema\":\"");
    size_t o = strlen(huge);
    memset(huge + o, 'x', big);
    strcpy(huge + o + big, "\"}");
    long st = http("POST", BASE "2/schema", huge, &j);
    free(huge);
    assert_true(st >= 400 && st < 500);
    json_decref(j);
    /* KEY_VALUE in Pulsar's JSON form round-trips */
    p = payload("KEY_VALUE",
                "{\"key\":{\"type\":\"record\",\"name\":\"K\",\"fields\":[{\"name\":\"k\",\"type\":"
                "\"string\"}]},\"value\":{\"type\":\"record\",\"name\":\"V\",\"fields\":[{\"name\":"
                "\"v\",\"type\":\"int\"}]}}",
                "{\"key.schema.type\":\"AVRO\",\"value.schema.type\":\"AVRO\"}");
    assert_int_equal(http("POST", BASE "-kv/schema", p, &j), 200);
    json_decref(j);
    free(p);
    assert_int_equal(http("GET", BASE "-kv/schema", NULL, &j), 200);
    assert_string_equal(jstr(j, "type"), "KEY_VALUE");
    json_t *d = json_loads(jstr(j, "data"), 0, NULL);
    assert_non_null(d);
    assert_string_equal(jstr(json_object_get(d, "key"), "name"), "K");
    assert_string_equal(jstr(json_object_get(d, "value"), "name"), "V");
    json_decref(d);
    json_decref(j);
    assert_true(mgt_broker_alive(B));
}

/* The HexaBuilders seed (docs: hexabuilders-pulsar.md) registers two Avro schemas. */
static const char *PARTNER_REGISTRATION =
    "{\"type\":\"record\",\"name\":\"PartnerRegistrationCompleted\",\"namespace\":"
    "\"com.hexabuilders.partners.events.v1\",\"fields\":[{\"name\":\"partner_id\",\"type\":"
    "\"string\"},{\"name\":\"business_name\",\"type\":\"string\"},{\"name\":\"email\",\"type\":"
    "\"string\"},{\"name\":\"partner_type\",\"type\":\"string\"},{\"name\":\"registration_data\","
    "\"type\":\"string\"},{\"name\":\"registration_timestamp\",\"type\":\"string\"},{\"name\":"
    "\"correlation_id\",\"type\":\"string\"},{\"name\":\"event_version\",\"type\":\"int\","
    "\"default\":1}]}";
static const char *CONTRACT_ACTIVATED =
    "{\"type\":\"record\",\"name\":\"ContractActivated\",\"namespace\":"
    "\"com.hexabuilders.onboarding.events.v1\",\"fields\":[{\"name\":\"contract_id\",\"type\":"
    "\"string\"},{\"name\":\"partner_id\",\"type\":\"string\"},{\"name\":\"contract_type\","
    "\"type\":\"string\"},{\"name\":\"effective_date\",\"type\":\"string\"},{\"name\":"
    "\"campaign_permissions\",\"type\":\"string\"},{\"name\":\"budget_limits\",\"type\":"
    "\"string\"},{\"name\":\"correlation_id\",\"type\":\"string\"},{\"name\":\"event_version\","
    "\"type\":\"int\",\"default\":1}]}";

static void test_seed_schemas(void **s)
{
    json_t *j;
    long st = http("PUT", "/admin/v2/tenants/hexabuilders", "{\"allowedClusters\":[\"standalone\"]}",
                   &j);
    json_decref(j);
    assert_true(st == 204 || st == 200 || st == 409);
    const char *nss[2] = {"partner-management", "onboarding"};
    for (int i = 0; i < 2; i++) {
        char path[200];
        snprintf(path, sizeof path, "/admin/v2/namespaces/hexabuilders/%s", nss[i]);
        st = http("PUT", path, NULL, &j);
        json_decref(j);
        assert_true(st == 204 || st == 200 || st == 409);
    }
    struct {
        const char *path, *schema;
    } seeds[2] = {
        {"/admin/v2/schemas/hexabuilders/partner-management/partner-registration",
         PARTNER_REGISTRATION},
        {"/admin/v2/schemas/hexabuilders/onboarding/contract-events", CONTRACT_ACTIVATED},
    };
    for (int i = 0; i < 2; i++) {
        char path[300];
        char *p = payload("AVRO", seeds[i].schema, NULL);
        snprintf(path, sizeof path, "%s/schema", seeds[i].path);
        assert_int_equal(http("POST", path, p, &j), 200);
        assert_int_equal(jint(json_object_get(j, "version"), "version"), 0);
        json_decref(j);
        free(p);
        assert_int_equal(http("GET", path, NULL, &j), 200);
        assert_string_equal(jstr(j, "type"), "AVRO");
        assert_string_equal(jstr(j, "data"), seeds[i].schema);
        json_decref(j);
    }

    /* a producer with the seed schema finds version 0 on the wire */
    mgt_conn_t *c = mgt_connect(B->port, true);
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer pr = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    Pulsar__Proto__Schema sc = PULSAR__PROTO__SCHEMA__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER;
    cmd.producer = &pr;
    pr.topic = "persistent://hexabuilders/partner-management/partner-registration";
    pr.producer_id = 1;
    pr.request_id = 1;
    sc.name = "PartnerRegistrationCompleted";
    sc.type = PULSAR__PROTO__SCHEMA__TYPE__Avro;
    sc.schema_data.data = (uint8_t *)PARTNER_REGISTRATION;
    sc.schema_data.len = strlen(PARTNER_REGISTRATION);
    pr.schema = &sc;
    mgt_send_cmd(c, &cmd);
    frame_t f;
    assert_int_equal(mgt_expect(c, PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS, &f, 5000),
                     1);
    assert_int_equal(f.cmd->producer_success->schema_version.len, 8);
    for (int i = 0; i < 8; i++) assert_int_equal(f.cmd->producer_success->schema_version.data[i], 0);
    mgt_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_paths),
        cmocka_unit_test(test_rest_bad_input),
        cmocka_unit_test(test_seed_schemas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
