/* 40-admin-rest: the admin REST API against the real broker with libcurl: clusters, tenants,
 * namespaces and their policies, topics (create, partitions, list, stats, internalStats,
 * subscriptions, skip, expire, reset, peek, examine, lastMessageId, unload, terminate,
 * delete), HTTP lookup, health, /metrics (strict Prometheus text parser) and bad input.
 * Status codes, paths and JSON field names are Pulsar's v2 API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mghttp.h"
#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
static mgt_broker_t *B;

typedef mgt_http_res_t http_res_t;

/* One request; returns the status; *out (may be NULL) keeps the body. */
static long http(const char *method, const char *path, const char *body, http_res_t *out)
{
    static http_res_t scratch;
    http_res_t *r = out ? out : &scratch;
    free(r->body);
    return mgt_http(B->web_port, method, path, body, false, r);
}

static json_t *http_json(const char *method, const char *path, const char *body, long want)
{
    http_res_t r = {0};
    long st = http(method, path, body, &r);
    if (st != want) fprintf(stderr, "%s %s -> %ld %s\n", method, path, st, r.body);
    assert_int_equal(st, want);
    json_error_t e;
    json_t *j = json_loads(r.body, JSON_DECODE_ANY, &e);
    if (!j) fprintf(stderr, "bad json from %s: %s\n", path, r.body);
    assert_non_null(j);
    free(r.body);
    return j;
}

static void expect(const char *method, const char *path, const char *body, long want)
{
    http_res_t r = {0};
    long st = http(method, path, body, &r);
    if (st != want) fprintf(stderr, "%s %s -> %ld %s (want %ld)\n", method, path, st, r.body, want);
    assert_int_equal(st, want);
    if (want >= 400) { /* errors carry {"reason": "..."} */
        json_t *j = json_loads(r.body, 0, NULL);
        assert_non_null(j);
        assert_true(json_is_string(json_object_get(j, "reason")));
        json_decref(j);
    }
    free(r.body);
}

static json_int_t jint(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, ".")) cur = json_object_get(cur, tok);
    if (!json_is_integer(cur)) fprintf(stderr, "no integer at %s\n", path);
    assert_true(json_is_integer(cur));
    return json_integer_value(cur);
}

static int setup(void **s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    B = mgt_broker_start("managedLedgerMaxSizePerLedgerMbytes=1\nretentionCheckIntervalInSeconds=3600\n"
                         "forceDeleteNamespaceAllowed=true\nforceDeleteTenantAllowed=true\n");
    return 0;
}
static int teardown(void **s)
{
    mgt_broker_free(B);
    curl_global_cleanup();
    return 0;
}

static void test_clusters_tenants(void **s)
{
    json_t *j = http_json("GET", "/admin/v2/clusters", NULL, 200);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "standalone");
    json_decref(j);
    j = http_json("GET", "/admin/v2/clusters/standalone", NULL, 200);
    assert_true(json_is_string(json_object_get(j, "serviceUrl")));
    assert_true(json_is_string(json_object_get(j, "brokerServiceUrl")));
    json_decref(j);
    expect("GET", "/admin/v2/clusters/nope", NULL, 404);
    expect("PUT", "/admin/v2/clusters/c2", "{\"serviceUrl\":\"http://c2:8080\"}", 204);
    expect("PUT", "/admin/v2/clusters/c2", "{\"serviceUrl\":\"http://c2:8080\"}", 409);
    expect("POST", "/admin/v2/clusters/c2", "{\"serviceUrl\":\"http://c2:9090\"}", 204);
    expect("POST", "/admin/v2/clusters/c3", "{}", 404);

    expect("PUT", "/admin/v2/tenants/acme", "{\"adminRoles\":[\"ops\"],\"allowedClusters\":[\"standalone\"]}", 204);
    expect("PUT", "/admin/v2/tenants/acme", "{}", 409);
    expect("PUT", "/admin/v2/tenants/bad", "{\"allowedClusters\":[\"nowhere\"]}", 412);
    expect("PUT", "/admin/v2/tenants/bad%20name", "{}", 412);
    expect("PUT", "/admin/v2/tenants/bad2", "{\"adminRoles\":\"notalist\"}", 400);
    expect("PUT", "/admin/v2/tenants/bad3", "{not json", 400);
    j = http_json("GET", "/admin/v2/tenants/acme", NULL, 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "adminRoles"), 0)), "ops");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "allowedClusters"), 0)), "standalone");
    json_decref(j);
    expect("POST", "/admin/v2/tenants/acme", "{\"adminRoles\":[\"a\",\"b\"],\"allowedClusters\":[\"standalone\",\"c2\"]}", 204);
    j = http_json("GET", "/admin/v2/tenants/acme", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "adminRoles")), 2);
    json_decref(j);
    j = http_json("GET", "/admin/v2/tenants", NULL, 200);
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
    expect("GET", "/admin/v2/tenants/ghost", NULL, 404);
    expect("PUT", "/admin/v2/namespaces/acme/ns", NULL, 204);
    expect("DELETE", "/admin/v2/tenants/acme", NULL, 409);
    expect("DELETE", "/admin/v2/namespaces/acme/ns", NULL, 204);
    expect("DELETE", "/admin/v2/tenants/acme", NULL, 204);
    expect("DELETE", "/admin/v2/tenants/acme", NULL, 404);
    expect("PATCH", "/admin/v2/tenants", NULL, 405);
}

static void test_namespaces_policies(void **s)
{
    expect("PUT", "/admin/v2/tenants/hx", "{\"allowedClusters\":[\"standalone\"]}", 204);
    expect("PUT", "/admin/v2/namespaces/hx/app", NULL, 204);
    expect("PUT", "/admin/v2/namespaces/hx/app", NULL, 409);
    expect("PUT", "/admin/v2/namespaces/ghost/app", NULL, 404);
    expect("PUT", "/admin/v2/namespaces/hx/%2e%2e", NULL, 412);
    json_t *j = http_json("GET", "/admin/v2/namespaces/hx", NULL, 200);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "hx/app");
    json_decref(j);
    j = http_json("GET", "/admin/v2/namespaces/hx/app", NULL, 200);
    assert_non_null(json_object_get(j, "auth_policies"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "replication_clusters"), 0)), "standalone");
    assert_int_equal(jint(j, "bundles.numBundles"), 4);
    assert_true(json_is_object(json_object_get(j, "backlog_quota_map")));
    assert_string_equal(json_string_value(json_object_get(j, "schema_compatibility_strategy")), "UNDEFINED");
    json_decref(j);
    expect("GET", "/admin/v2/namespaces/hx/none", NULL, 404);

    /* retention */
    expect("GET", "/admin/v2/namespaces/hx/app/retention", NULL, 204);
    expect("POST", "/admin/v2/namespaces/hx/app/retention", "{\"retentionTimeInMinutes\":10080,\"retentionSizeInMB\":1024}", 204);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/retention", NULL, 200);
    assert_int_equal(jint(j, "retentionTimeInMinutes"), 10080);
    assert_int_equal(jint(j, "retentionSizeInMB"), 1024);
    json_decref(j);
    expect("POST", "/admin/v2/namespaces/hx/app/retention", "{\"retentionTimeInMinutes\":\"x\"}", 400);
    /* TTL */
    expect("POST", "/admin/v2/namespaces/hx/app/messageTTL", "3600", 204);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/messageTTL", NULL, 200);
    assert_int_equal(json_integer_value(j), 3600);
    json_decref(j);
    expect("POST", "/admin/v2/namespaces/hx/app/messageTTL", "-5", 412);
    expect("POST", "/admin/v2/namespaces/hx/app/messageTTL", "\"abc\"", 400);
    expect("DELETE", "/admin/v2/namespaces/hx/app/messageTTL", NULL, 204);
    expect("GET", "/admin/v2/namespaces/hx/app/messageTTL", NULL, 204);
    /* backlog quota */
    expect("POST", "/admin/v2/namespaces/hx/app/backlogQuota?backlogQuotaType=destination_storage",
           "{\"limitSize\":10485760,\"limitTime\":-1,\"policy\":\"producer_exception\"}", 204);
    expect("POST", "/admin/v2/namespaces/hx/app/backlogQuota", "{\"policy\":\"nonsense\"}", 400);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/backlogQuotaMap", NULL, 200);
    assert_int_equal(jint(j, "destination_storage.limitSize"), 10485760);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "destination_storage"), "policy")), "producer_exception");
    json_decref(j);
    expect("DELETE", "/admin/v2/namespaces/hx/app/backlogQuota?backlogQuotaType=destination_storage", NULL, 204);
    /* dedup, schema, replication, permissions, limits */
    expect("POST", "/admin/v2/namespaces/hx/app/deduplication", "true", 204);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/deduplication", NULL, 200);
    assert_true(json_is_true(j));
    json_decref(j);
    expect("POST", "/admin/v2/namespaces/hx/app/deduplication", "7", 400);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/schemaValidationEnforced", NULL, 200);
    assert_true(json_is_false(j));
    json_decref(j);
    expect("POST", "/admin/v2/namespaces/hx/app/schemaValidationEnforced", "true", 204);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/schemaValidationEnforced", NULL, 200);
    assert_true(json_is_true(j));
    json_decref(j);
    expect("PUT", "/admin/v2/namespaces/hx/app/schemaCompatibilityStrategy", "\"BACKWARD\"", 204);
    expect("PUT", "/admin/v2/namespaces/hx/app/schemaCompatibilityStrategy", "\"SIDEWAYS\"", 400);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/schemaCompatibilityStrategy", NULL, 200);
    assert_string_equal(json_string_value(j), "BACKWARD");
    json_decref(j);
    expect("POST", "/admin/v2/namespaces/hx/app/replication", "[\"standalone\"]", 204);
    expect("POST", "/admin/v2/namespaces/hx/app/replication", "[\"mars\"]", 412);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/replication", NULL, 200);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    expect("POST", "/admin/v2/namespaces/hx/app/permissions/svc", "[\"produce\",\"consume\"]", 204);
    expect("POST", "/admin/v2/namespaces/hx/app/permissions/svc", "[\"fly\"]", 400);
    j = http_json("GET", "/admin/v2/namespaces/hx/app/permissions", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "svc")), 2);
    json_decref(j);
    expect("DELETE", "/admin/v2/namespaces/hx/app/permissions/svc", NULL, 204);
    expect("POST", "/admin/v2/namespaces/hx/app/maxProducersPerTopic", "3", 204);
    expect("POST", "/admin/v2/namespaces/hx/app/maxConsumersPerTopic", "-1", 412);
    expect("POST", "/admin/v2/namespaces/hx/app/subscriptionExpirationTime", "60", 204);
    j = http_json("GET", "/admin/v2/namespaces/hx/app", NULL, 200);
    assert_int_equal(jint(j, "max_producers_per_topic"), 3);
    assert_int_equal(jint(j, "subscription_expiration_time_minutes"), 60);
    assert_true(json_is_true(json_object_get(j, "deduplicationEnabled")));
    assert_int_equal(jint(j, "retention_policies.retentionSizeInMB"), 1024);
    json_decref(j);
    expect("GET", "/admin/v2/namespaces/hx/app/nonsense", NULL, 404);
    expect("DELETE", "/admin/v2/namespaces/hx/app", NULL, 204);
    expect("DELETE", "/admin/v2/namespaces/hx/app", NULL, 404);
}

/* DELETE ?force=true on a namespace and on a tenant deletes what they hold, as Pulsar does:
 * topics (partitioned and not, with connected clients), cursors, schemas. */
static void test_force_delete(void **s)
{
    frame_t f;
    expect("PUT", "/admin/v2/tenants/doomed", "{\"allowedClusters\":[\"standalone\"]}", 204);
    expect("PUT", "/admin/v2/namespaces/doomed/a", NULL, 204);
    expect("PUT", "/admin/v2/namespaces/doomed/b", NULL, 204);
    expect("PUT", "/admin/v2/namespaces/doomed/empty", NULL, 204);
    expect("PUT", "/admin/v2/persistent/doomed/a/plain", NULL, 204);
    expect("PUT", "/admin/v2/persistent/doomed/a/parted/partitions", "2", 204);
    expect("PUT", "/admin/v2/persistent/doomed/b/other", NULL, 204);
    expect("POST", "/admin/v2/schemas/doomed/a/plain/schema",
           "{\"type\":\"STRING\",\"schema\":\"\",\"properties\":{}}", 200);
    /* a connected producer and consumer on doomed/a */
    mgt_conn_t *c = mgt_connect(B->port, true);
    assert_int_equal(mgt_producer(c, "persistent://doomed/a/plain", 1, "doomed-p", &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_subscribe(c, "persistent://doomed/a/parted-partition-1", "s", 0, 2, true, &f), T(SUCCESS));

    expect("DELETE", "/admin/v2/tenants/doomed", NULL, 409);
    expect("DELETE", "/admin/v2/namespaces/doomed/a", NULL, 409);
    expect("DELETE", "/admin/v2/namespaces/doomed/empty", NULL, 204);
    expect("DELETE", "/admin/v2/namespaces/doomed/a?force=true", NULL, 204);
    /* the clients were disconnected: the broker closes producer and consumer */
    assert_int_equal(mgt_expect(c, T(CLOSE_PRODUCER), &f, 5000), 1);
    mgt_close(c);
    expect("GET", "/admin/v2/namespaces/doomed/a", NULL, 404);
    json_t *j = http_json("GET", "/admin/v2/namespaces/doomed", NULL, 200);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);

    expect("DELETE", "/admin/v2/tenants/doomed?force=true", NULL, 204);
    expect("GET", "/admin/v2/tenants/doomed", NULL, 404);
    expect("GET", "/admin/v2/namespaces/doomed", NULL, 404);
    /* recreated, the tenant and namespaces are empty: no topics, partitions or schemas */
    expect("PUT", "/admin/v2/tenants/doomed", "{\"allowedClusters\":[\"standalone\"]}", 204);
    expect("PUT", "/admin/v2/namespaces/doomed/a", NULL, 204);
    expect("PUT", "/admin/v2/namespaces/doomed/b", NULL, 204);
    j = http_json("GET", "/admin/v2/persistent/doomed/a", NULL, 200);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    j = http_json("GET", "/admin/v2/persistent/doomed/a/partitioned", NULL, 200);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    j = http_json("GET", "/admin/v2/persistent/doomed/b", NULL, 200);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    expect("GET", "/admin/v2/persistent/doomed/a/plain/stats", NULL, 404);
    expect("GET", "/admin/v2/schemas/doomed/a/plain/schema", NULL, 404);
    expect("DELETE", "/admin/v2/tenants/doomed?force=true", NULL, 204);
    expect("DELETE", "/admin/v2/tenants/doomed?force=true", NULL, 404);
}

static void produce(const char *topic, const char *pname, int n, size_t size)
{
    mgt_conn_t *c = mgt_connect(B->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, topic, 1, pname, &f), T(PRODUCER_SUCCESS));
    char *msg = malloc(size + 64);
    for (int i = 0; i < n; i++) {
        int l = snprintf(msg, 64, "msg-%d", i);
        size_t len = (size_t)l;
        if (size > len) {
            memset(msg + len, '.', size - len);
            len = size;
        }
        assert_int_equal(mgt_send(c, 1, (uint64_t)i, pname, msg, len, NULL, 0), 0);
        assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
    }
    free(msg);
    mgt_close(c);
}

static void test_topics(void **s)
{
    expect("PUT", "/admin/v2/namespaces/public/tp", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/tp/np", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/tp/np", NULL, 409);
    expect("PUT", "/admin/v2/persistent/public/tp/pt/partitions", "4", 204);
    expect("PUT", "/admin/v2/persistent/public/tp/pt/partitions", "4", 409);
    expect("PUT", "/admin/v2/persistent/public/tp/pz/partitions", "0", 406);
    expect("PUT", "/admin/v2/persistent/public/tp/pz/partitions", "\"four\"", 400);
    expect("POST", "/admin/v2/persistent/public/tp/pt/partitions", "2", 409);
    expect("POST", "/admin/v2/persistent/public/tp/pt/partitions", "6", 204);
    json_t *j = http_json("GET", "/admin/v2/persistent/public/tp/pt/partitions", NULL, 200);
    assert_int_equal(jint(j, "partitions"), 6);
    json_decref(j);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/partitions", NULL, 200);
    assert_int_equal(jint(j, "partitions"), 0);
    json_decref(j);
    expect("GET", "/admin/v2/persistent/public/tp/ghost/partitions", NULL, 404);
    j = http_json("GET", "/admin/v2/persistent/public/tp/ghost/partitions?checkAllowAutoCreation=true", NULL, 200);
    assert_int_equal(jint(j, "partitions"), 0);
    json_decref(j);
    j = http_json("GET", "/admin/v2/persistent/public/tp", NULL, 200);
    assert_int_equal(json_array_size(j), 7); /* np + 6 partitions */
    json_decref(j);
    j = http_json("GET", "/admin/v2/persistent/public/tp/partitioned", NULL, 200);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "persistent://public/tp/pt");
    json_decref(j);
    j = http_json("GET", "/admin/v2/namespaces/public/tp/topics?mode=PERSISTENT", NULL, 200);
    assert_int_equal(json_array_size(j), 7);
    json_decref(j);
    expect("GET", "/admin/v2/persistent/public/nope", NULL, 404);
    expect("GET", "/admin/v2/persistent/public/tp/ghost/stats", NULL, 404);

    /* traffic, then stats */
    mgt_conn_t *cc = mgt_connect(B->port, true);
    frame_t f;
    assert_int_equal(mgt_subscribe(cc, "persistent://public/tp/np", "live", 1, 5, true, &f), T(SUCCESS));
    produce("persistent://public/tp/np", "prod-a", 10, 0);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/stats", NULL, 200);
    assert_int_equal(jint(j, "msgInCounter"), 10);
    assert_true(jint(j, "bytesInCounter") > 0);
    assert_true(jint(j, "storageSize") > 0);
    assert_true(json_is_number(json_object_get(j, "msgRateIn")));
    assert_true(json_is_number(json_object_get(j, "msgThroughputIn")));
    assert_true(json_is_array(json_object_get(j, "publishers")));
    json_t *sub = json_object_get(json_object_get(j, "subscriptions"), "live");
    assert_non_null(sub);
    assert_int_equal(jint(sub, "msgBacklog"), 10);
    assert_string_equal(json_string_value(json_object_get(sub, "type")), "Shared");
    json_t *cons = json_array_get(json_object_get(sub, "consumers"), 0);
    assert_non_null(cons);
    assert_true(json_is_string(json_object_get(cons, "consumerName")));
    assert_true(json_is_string(json_object_get(cons, "address")));
    assert_true(json_is_string(json_object_get(cons, "connectedSince")));
    assert_true(json_is_string(json_object_get(cons, "clientVersion")));
    assert_true(json_is_integer(json_object_get(sub, "unackedMessages")));
    json_decref(j);
    /* a subscription with a connected consumer is not deleted without force */
    expect("DELETE", "/admin/v2/persistent/public/tp/np/subscription/live", NULL, 412);
    expect("DELETE", "/admin/v2/persistent/public/tp/np", NULL, 412);
    mgt_close(cc);
    usleep(200000);

    /* subscriptions: create at earliest / latest, skip, peek, expire, reset */
    expect("PUT", "/admin/v2/persistent/public/tp/np/subscription/early", "{\"ledgerId\":-1,\"entryId\":-1}", 204);
    expect("PUT", "/admin/v2/persistent/public/tp/np/subscription/late", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/tp/np/subscription/late", NULL, 409);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/subscriptions", NULL, 200);
    assert_int_equal(json_array_size(j), 3);
    json_decref(j);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/stats", NULL, 200);
    assert_int_equal(jint(j, "subscriptions.early.msgBacklog"), 10);
    assert_int_equal(jint(j, "subscriptions.late.msgBacklog"), 0);
    json_decref(j);
    expect("POST", "/admin/v2/persistent/public/tp/np/subscription/early/skip/3", NULL, 204);
    expect("POST", "/admin/v2/persistent/public/tp/np/subscription/early/skip/x", NULL, 400);
    expect("POST", "/admin/v2/persistent/public/tp/np/subscription/ghost/skip/1", NULL, 404);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/stats", NULL, 200);
    assert_int_equal(jint(j, "subscriptions.early.msgBacklog"), 7);
    json_decref(j);
    http_res_t r = {0};
    assert_int_equal(http("GET", "/admin/v2/persistent/public/tp/np/subscription/early/position/1", NULL, &r), 200);
    assert_string_equal(r.body, "msg-3");
    assert_non_null(strstr(r.hdrs, "X-Pulsar-Message-ID: "));
    assert_non_null(strstr(r.hdrs, "X-Pulsar-publish-time: "));
    assert_non_null(strstr(r.hdrs, "X-Pulsar-producer-name: prod-a"));
    free(r.body);
    memset(&r, 0, sizeof r);
    assert_int_equal(http("GET", "/admin/v2/persistent/public/tp/np/examinemessage?initialPosition=earliest&messagePosition=2", NULL, &r), 200);
    assert_string_equal(r.body, "msg-1");
    free(r.body);
    memset(&r, 0, sizeof r);
    expect("GET", "/admin/v2/persistent/public/tp/np/subscription/early/position/100", NULL, 404);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/lastMessageId", NULL, 200);
    assert_int_equal(jint(j, "entryId"), 9);
    json_int_t ledger = jint(j, "ledgerId");
    json_decref(j);
    /* reset by message id and by time */
    char body[128];
    snprintf(body, sizeof body, "{\"ledgerId\":%lld,\"entryId\":5}", (long long)ledger);
    expect("POST", "/admin/v2/persistent/public/tp/np/subscription/late/resetcursor", body, 204);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/stats", NULL, 200);
    assert_int_equal(jint(j, "subscriptions.late.msgBacklog"), 5);
    json_decref(j);
    expect("POST", "/admin/v2/persistent/public/tp/np/subscription/late/resetcursor/0", NULL, 204);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/stats", NULL, 200);
    assert_int_equal(jint(j, "subscriptions.late.msgBacklog"), 10);
    json_decref(j);
    expect("POST", "/admin/v2/persistent/public/tp/np/subscription/late/expireMessages/0", NULL, 204);
    expect("POST", "/admin/v2/persistent/public/tp/np/subscription/early/skip_all", NULL, 204);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/stats", NULL, 200);
    assert_int_equal(jint(j, "subscriptions.late.msgBacklog"), 0);
    assert_int_equal(jint(j, "subscriptions.early.msgBacklog"), 0);
    json_decref(j);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/internalStats", NULL, 200);
    assert_int_equal(jint(j, "numberOfEntries"), 10);
    assert_true(json_is_string(json_object_get(j, "lastConfirmedEntry")));
    assert_true(json_is_array(json_object_get(j, "ledgers")));
    assert_true(json_is_string(json_object_get(json_object_get(json_object_get(j, "cursors"), "early"), "markDeletePosition")));
    json_decref(j);
    expect("DELETE", "/admin/v2/persistent/public/tp/np/subscription/early", NULL, 204);
    expect("DELETE", "/admin/v2/persistent/public/tp/np/subscription/early", NULL, 404);

    /* partitioned stats and a subscription on all partitions */
    produce("persistent://public/tp/pt-partition-1", "prod-b", 3, 0);
    expect("PUT", "/admin/v2/persistent/public/tp/pt/subscription/all", "{\"ledgerId\":-1,\"entryId\":-1}", 204);
    j = http_json("GET", "/admin/v2/persistent/public/tp/pt/partitioned-stats?perPartition=true", NULL, 200);
    assert_int_equal(jint(j, "metadata.partitions"), 6);
    assert_int_equal(jint(j, "msgInCounter"), 3);
    assert_int_equal(jint(j, "subscriptions.all.msgBacklog"), 3);
    assert_int_equal(json_object_size(json_object_get(j, "partitions")), 6);
    json_decref(j);
    expect("GET", "/admin/v2/persistent/public/tp/np/partitioned-stats", NULL, 404);

    /* unload, terminate, delete */
    expect("PUT", "/admin/v2/persistent/public/tp/np/unload", NULL, 204);
    j = http_json("GET", "/admin/v2/persistent/public/tp/np/stats", NULL, 200);
    assert_true(jint(j, "storageSize") > 0);
    json_decref(j);
    j = http_json("POST", "/admin/v2/persistent/public/tp/np/terminate", NULL, 200);
    assert_int_equal(jint(j, "entryId"), 9);
    json_decref(j);
    mgt_conn_t *c = mgt_connect(B->port, true);
    assert_int_equal(mgt_producer(c, "persistent://public/tp/np", 1, "after", &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__TopicTerminatedError);
    mgt_close(c);
    expect("DELETE", "/admin/v2/persistent/public/tp/np", NULL, 204);
    expect("DELETE", "/admin/v2/persistent/public/tp/np", NULL, 404);
    expect("DELETE", "/admin/v2/persistent/public/tp/pt/partitions?force=true", NULL, 204);
    j = http_json("GET", "/admin/v2/persistent/public/tp", NULL, 200);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    expect("DELETE", "/admin/v2/namespaces/public/tp", NULL, 204);
}

/* Pulsar's defaults: forceDeleteNamespaceAllowed and forceDeleteTenantAllowed are false, so a
 * forced delete is refused with 405 and nothing is deleted. */
static void test_force_delete_refused_by_default(void **s)
{
    mgt_broker_t *saved = B;
    B = mgt_broker_start(NULL);
    expect("PUT", "/admin/v2/tenants/keep", "{\"adminRoles\":[],\"allowedClusters\":[\"standalone\"]}", 204);
    expect("PUT", "/admin/v2/namespaces/keep/a", NULL, 204);
    expect("DELETE", "/admin/v2/namespaces/keep/a?force=true", NULL, 405);
    expect("DELETE", "/admin/v2/tenants/keep?force=true", NULL, 405);
    expect("GET", "/admin/v2/namespaces/keep/a", NULL, 200);
    expect("DELETE", "/admin/v2/namespaces/keep/a", NULL, 204);
    expect("DELETE", "/admin/v2/tenants/keep", NULL, 204);
    mgt_broker_free(B);
    B = saved;
}

static void test_lookup_health(void **s)
{
    json_t *j = http_json("GET", "/lookup/v2/topic/persistent/public/default/lk", NULL, 200);
    char want[64];
    snprintf(want, sizeof want, "pulsar://localhost:%d", B->port);
    assert_string_equal(json_string_value(json_object_get(j, "brokerUrl")), want);
    assert_string_equal(json_string_value(json_object_get(j, "nativeUrl")), want);
    snprintf(want, sizeof want, "http://localhost:%d", B->web_port);
    assert_string_equal(json_string_value(json_object_get(j, "httpUrl")), want);
    assert_true(json_object_get(j, "brokerUrlTls") != NULL);
    assert_true(json_object_get(j, "httpUrlTls") != NULL);
    json_decref(j);
    expect("GET", "/lookup/v2/topic/persistent/ghost/ns/lk", NULL, 404);
    http_res_t r = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(http("GET", "/admin/v2/brokers/health", NULL, &r), 200);
        assert_string_equal(r.body, "ok");
    }
    assert_int_equal(http("GET", "/admin/v2/brokers/ready", NULL, &r), 200);
    free(r.body);
    j = http_json("GET", "/admin/v2/brokers/standalone", NULL, 200);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
}

static void test_bad_input(void **s)
{
    char *big = malloc(2 * 1024 * 1024 + 1);
    memset(big, ' ', 2 * 1024 * 1024);
    big[2 * 1024 * 1024] = 0;
    big[0] = '{';
    expect("PUT", "/admin/v2/tenants/huge", big, 413);
    free(big);
    expect("POST", "/admin/v2/namespaces/public/default/retention", "[1,2", 400);
    expect("PUT", "/admin/v2/namespaces/public/default/retention", "{}", 405);
    expect("POST", "/admin/v2/namespaces/public/default/retention", "", 400);
    expect("GET", "/admin/v2/persistent/public/default/%2e%2e/stats", NULL, 412);
    expect("PUT", "/admin/v2/persistent/public/default/a%01b", NULL, 400);
    expect("GET", "/admin/v2/nothing-here", NULL, 404);
    expect("DELETE", "/admin/v2/clusters", NULL, 405);
    expect("POST", "/admin/v2/persistent/public/default/x/stats", NULL, 405);
    expect("PUT", "/admin/v2/tenants/t%2Fx", "{}", 404);
    /* the broker is still healthy */
    expect("GET", "/admin/v2/brokers/ready", NULL, 200);
}

/* A strict Prometheus text-format (0.0.4) parser: every sample belongs to the family named
 * by the # TYPE line just before its block, a # HELP line (when present) names the family of
 * the # TYPE line right after it, families appear once, a series (name and labels) appears
 * once, labels are well formed, values parse as finite floats. Returns the value of `want`
 * (name, and want_label a substring of its labels) or -1. */
static double prom_check(const char *text, const char *want_name, const char *want_label)
{
    char fam[256] = "", help[256] = "", seen[400][128];
    int nseen = 0;
    static char series[4000][300];
    int nseries = 0;
    double found = -1;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends with \n */
        char line[4096];
        size_t len = (size_t)(nl - p);
        assert_true(len < sizeof line);
        memcpy(line, p, len);
        line[len] = 0;
        p = nl + 1;
        if (!len) continue;
        if (line[0] == '#') {
            char kw[16], name[256], rest[256];
            int n = sscanf(line, "# %15s %255s %255s", kw, name, rest);
            assert_true(n >= 2);
            if (!strcmp(kw, "HELP")) {
                assert_true(help[0] == 0); /* two HELP lines in a row */
                snprintf(help, sizeof help, "%s", name);
            }
            if (!strcmp(kw, "TYPE")) {
                assert_int_equal(n, 3);
                if (help[0]) assert_string_equal(help, name);
                help[0] = 0;
                assert_true(!strcmp(rest, "gauge") || !strcmp(rest, "counter") ||
                            !strcmp(rest, "histogram") || !strcmp(rest, "summary") ||
                            !strcmp(rest, "untyped"));
                for (int i = 0; i < nseen; i++) assert_true(strcmp(seen[i], name) != 0);
                snprintf(seen[nseen++], 128, "%s", name);
                snprintf(fam, sizeof fam, "%s", name);
            }
            continue;
        }
        /* sample: name[{labels}] value */
        char *q = line;
        assert_true(isalpha((unsigned char)*q) || *q == '_' || *q == ':');
        while (isalnum((unsigned char)*q) || *q == '_' || *q == ':') q++;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(q - line), line);
        assert_string_equal(name, fam);
        char labels[2048] = "";
        if (*q == '{') {
            char *start = ++q;
            while (*q != '}') {
                assert_true(isalpha((unsigned char)*q) || *q == '_');
                while (isalnum((unsigned char)*q) || *q == '_') q++;
                assert_int_equal(*q, '=');
                q++;
                assert_int_equal(*q, '"');
                q++;
                while (*q != '"') {
                    assert_true(*q != 0);
                    if (*q == '\\') q++;
                    q++;
                }
                q++;
                if (*q == ',') q++;
                else assert_int_equal(*q, '}');
            }
            snprintf(labels, sizeof labels, "%.*s", (int)(q - start), start);
            q++;
        }
        assert_int_equal(*q, ' ');
        q++;
        char *end;
        double v = strtod(q, &end);
        assert_true(end != q);
        assert_true(*end == 0 || *end == ' ');
        assert_true(v == v && v - v == 0); /* not NaN, not infinite */
        assert_true(help[0] == 0);          /* a HELP line without its TYPE */
        char key[300];
        snprintf(key, sizeof key, "%s{%s}", name, labels);
        for (int i = 0; i < nseries; i++) assert_true(strcmp(series[i], key) != 0);
        if (nseries < 4000) snprintf(series[nseries++], sizeof series[0], "%s", key);
        if (!strcmp(name, want_name) && (!want_label || strstr(labels, want_label))) found = v;
    }
    return found;
}

/* The entries counted over a latency histogram's ten buckets (each present, none negative). */
static double prom_hist(const char *body, const char *family, const char *labels)
{
    static const char *bucket[] = {"le_0_5", "le_1", "le_5", "le_10", "le_20", "le_50", "le_100",
                                   "le_200", "le_1000", "overflow"};
    double n = 0;
    for (int i = 0; i < 10; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s_%s", family, bucket[i]);
        double v = prom_check(body, name, labels);
        assert_true(v >= 0);
        n += v;
    }
    return n;
}

static void test_metrics(void **s)
{
    produce("persistent://public/default/mt", "prod-m", 4, 0);
    mgt_conn_t *cc = mgt_connect(B->port, true);
    frame_t f;
    assert_int_equal(mgt_subscribe(cc, "persistent://public/default/mt", "msub", 0, 1, true, &f), T(SUCCESS));
    http_res_t r = {0};
    assert_int_equal(http("GET", "/metrics", NULL, &r), 200);
    assert_non_null(strstr(r.hdrs, "text/plain"));
    const char *tl = "topic=\"persistent://public/default/mt\"";
    assert_true(prom_check(r.body, "pulsar_in_messages_total", tl) == 4);
    assert_true(prom_check(r.body, "pulsar_consumers_count", tl) == 1);
    assert_true(prom_check(r.body, "pulsar_subscription_back_log", "subscription=\"msub\"") == 4);
    assert_true(prom_check(r.body, "pulsar_storage_size", tl) > 0);
    assert_true(prom_check(r.body, "pulsar_storage_write_latency_le_1000", tl) >= 0);
    /* the write-latency histograms as Pulsar's: per-range buckets, _count and _sum (µs); four
     * entries written. The journal's (worker write + fdatasync) is timed inside the whole
     * path's span, so its sum is never more. */
    assert_true(prom_hist(r.body, "pulsar_storage_write_latency", tl) == 4);
    assert_true(prom_check(r.body, "pulsar_storage_write_latency_count", tl) == 4);
    double wsum = prom_check(r.body, "pulsar_storage_write_latency_sum", tl);
    assert_true(wsum > 0);
    assert_true(prom_hist(r.body, "pulsar_storage_ledger_write_latency", tl) == 4);
    assert_true(prom_check(r.body, "pulsar_storage_ledger_write_latency_count", tl) == 4);
    double lsum = prom_check(r.body, "pulsar_storage_ledger_write_latency_sum", tl);
    assert_true(lsum >= 0 && lsum <= wsum);
    assert_true(prom_check(r.body, "pulsar_in_bytes_total", tl) > 0);
    assert_true(prom_check(r.body, "pulsar_out_bytes_total", tl) >= 0);
    assert_true(prom_check(r.body, "pulsar_rate_out", tl) >= 0);
    assert_true(prom_check(r.body, "pulsar_throughput_in", tl) >= 0);
    assert_true(prom_check(r.body, "pulsar_throughput_out", tl) >= 0);
    assert_true(prom_check(r.body, "pulsar_storage_backlog_size", tl) > 0);
    assert_true(prom_check(r.body, "pulsar_msg_backlog", tl) == 4);
    assert_true(prom_check(r.body, "pulsar_subscriptions_count", tl) == 1);
    assert_true(prom_check(r.body, "pulsar_topics_count", "namespace=\"public/default\"") >= 1);
    assert_true(prom_check(r.body, "pulsar_subscription_blocked_on_unacked_messages", "subscription=\"msub\"") == 0);
    assert_true(prom_check(r.body, "pulsar_subscription_consumers_count", "subscription=\"msub\"") == 1);
    assert_true(prom_check(r.body, "process_cpu_seconds_total", NULL) > 0);
    assert_true(prom_check(r.body, "process_virtual_memory_bytes", NULL) > 0);
    assert_true(prom_check(r.body, "process_start_time_seconds", NULL) > 1e9);
    assert_true(prom_check(r.body, "magnetar_alloc_count", NULL) > 0);
    assert_true(prom_check(r.body, "magnetar_connections", NULL) >= 1);
    assert_true(prom_check(r.body, "process_resident_memory_bytes", NULL) > 0);
    assert_true(prom_check(r.body, "process_open_fds", NULL) > 0);
    assert_true(prom_check(r.body, "magnetar_alloc_used_bytes", NULL) > 0);
    assert_true(prom_check(r.body, "pulsar_out_messages_total", tl) >= 0);
    assert_true(prom_check(r.body, "pulsar_rate_in", tl) >= 0);
    assert_true(prom_check(r.body, "pulsar_producers_count", tl) >= 0);
    assert_true(prom_check(r.body, "pulsar_subscription_unacked_messages", "subscription=\"msub\"") >= 0);
    free(r.body);
    mgt_close(cc);
}

/* Policies take effect: max consumers, backlog quota, TTL, retention. */
static void test_policy_effects(void **s)
{
    frame_t f;
    expect("PUT", "/admin/v2/namespaces/public/pe", NULL, 204);
    expect("POST", "/admin/v2/namespaces/public/pe/maxConsumersPerTopic", "1", 204);
    mgt_conn_t *c1 = mgt_connect(B->port, true), *c2 = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(c1, "persistent://public/pe/mc", "a", 1, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_subscribe(c2, "persistent://public/pe/mc", "b", 1, 2, true, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy);
    mgt_close(c2);
    mgt_close(c1);

    /* backlog quota: 1 KB, producer_exception; a subscription holds 2 KB of backlog */
    expect("POST", "/admin/v2/namespaces/public/pe/backlogQuota",
           "{\"limitSize\":1024,\"limitTime\":-1,\"policy\":\"producer_exception\"}", 204);
    expect("PUT", "/admin/v2/persistent/public/pe/bq", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/pe/bq/subscription/hold", "{\"ledgerId\":-1,\"entryId\":-1}", 204);
    produce("persistent://public/pe/bq", "bq-1", 2, 700);
    /* as Pulsar: the new producer is refused while the quota is exceeded */
    mgt_conn_t *c = mgt_connect(B->port, true);
    assert_int_equal(mgt_producer(c, "persistent://public/pe/bq", 1, "bq-2", &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__ProducerBlockedQuotaExceededException);
    mgt_close(c);

    /* TTL: messages older than 1 s are expired when the policy is written */
    expect("PUT", "/admin/v2/persistent/public/pe/ttl", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/pe/ttl/subscription/slow", "{\"ledgerId\":-1,\"entryId\":-1}", 204);
    produce("persistent://public/pe/ttl", "ttl-1", 5, 0);
    json_t *j = http_json("GET", "/admin/v2/persistent/public/pe/ttl/stats", NULL, 200);
    assert_int_equal(jint(j, "subscriptions.slow.msgBacklog"), 5);
    json_decref(j);
    usleep(1500000);
    expect("POST", "/admin/v2/namespaces/public/pe/messageTTL", "1", 204);
    j = http_json("GET", "/admin/v2/persistent/public/pe/ttl/stats", NULL, 200);
    assert_int_equal(jint(j, "subscriptions.slow.msgBacklog"), 0);
    json_decref(j);

    /* retention: 0 minutes / 0 MB deletes consumed segments (segments roll at 1 MB); infinite
     * retention (-1) keeps them */
    expect("POST", "/admin/v2/namespaces/public/pe/retention", "{\"retentionTimeInMinutes\":-1,\"retentionSizeInMB\":-1}", 204);
    produce("persistent://public/pe/ret", "ret-1", 30, 100000);
    j = http_json("GET", "/admin/v2/persistent/public/pe/ret/internalStats", NULL, 200);
    json_int_t before = jint(j, "numberOfEntries");
    json_decref(j);
    assert_int_equal(before, 30);
    expect("POST", "/admin/v2/namespaces/public/pe/retention", "{\"retentionTimeInMinutes\":0,\"retentionSizeInMB\":0}", 204);
    j = http_json("GET", "/admin/v2/persistent/public/pe/ret/internalStats", NULL, 200);
    json_int_t after = jint(j, "numberOfEntries");
    json_decref(j);
    assert_true(after < before);
    /* and, as in Pulsar, consumed segments go when the log rolls, without waiting for the
     * retention check: no subscription, so all of them but the one being written */
    produce("persistent://public/pe/ret", "ret-2", 30, 100000);
    j = http_json("GET", "/admin/v2/persistent/public/pe/ret/internalStats", NULL, 200);
    assert_true(jint(j, "numberOfEntries") < 30);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clusters_tenants),
        cmocka_unit_test(test_namespaces_policies),
        cmocka_unit_test(test_force_delete),
        cmocka_unit_test(test_force_delete_refused_by_default),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_lookup_health),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_policy_effects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
