/* 44-admin-sub-expiry: the namespace policy subscriptionExpirationTime (minutes) takes effect,
 * as Pulsar's checkInactiveSubscriptions: a durable subscription with no consumer, inactive
 * for longer than the policy, is deleted with its cursor by the periodic policy check
 * (retentionCheckIntervalInSeconds=1 here). A subscription with a connected consumer, one
 * whose consumer left recently, and one in a namespace without the policy are kept; the
 * deletion survives a restart. Pulsar's policy is in whole minutes, so this test waits a
 * real minute (about 65 s) rather than faking the clock. Also ?applied=true answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
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

/* One request: the status; *body (may be NULL) gets the malloc'd body. */
static long http(const char *method, const char *path, const char *data, char **body)
{
    mgt_http_res_t r;
    long st = mgt_http(B->web_port, method, path, data, false, &r);
    if (body) *body = r.body;
    else mgt_http_res_free(&r);
    return st;
}

static void expect(const char *method, const char *path, const char *data, long want)
{
    char *b;
    long st = http(method, path, data, &b);
    if (st != want) fprintf(stderr, "%s %s -> %ld %s (want %ld)\n", method, path, st, b, want);
    assert_int_equal(st, want);
    free(b);
}

/* Is `sub` in the subscriptions list of the topic? */
static bool has_sub(const char *topic_path, const char *sub)
{
    char path[512], *b;
    snprintf(path, sizeof path, "%s/subscriptions", topic_path);
    assert_int_equal(http("GET", path, NULL, &b), 200);
    json_t *j = json_loads(b, 0, NULL);
    free(b);
    assert_true(json_is_array(j));
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(j, i, e) if (!strcmp(json_string_value(e), sub)) found = true;
    json_decref(j);
    return found;
}

static json_int_t get_int(const char *path)
{
    char *b;
    assert_int_equal(http("GET", path, NULL, &b), 200);
    json_t *j = json_loads(b, JSON_DECODE_ANY, NULL);
    free(b);
    assert_true(json_is_integer(j));
    json_int_t v = json_integer_value(j);
    json_decref(j);
    return v;
}

static int setup(void **s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    B = mgt_broker_start("retentionCheckIntervalInSeconds=1\nmaxUnackedMessagesPerConsumer=777\n");
    return 0;
}

static int teardown(void **s)
{
    mgt_broker_free(B);
    curl_global_cleanup();
    return 0;
}

static void test_applied(void **s)
{
    expect("PUT", "/admin/v2/namespaces/public/ap", NULL, 204);
    /* unset: 204 as Pulsar; applied: the broker default */
    expect("GET", "/admin/v2/namespaces/public/ap/subscriptionExpirationTime", NULL, 204);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/subscriptionExpirationTime?applied=true"), 0);
    expect("GET", "/admin/v2/namespaces/public/ap/maxUnackedMessagesPerConsumer", NULL, 204);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/maxUnackedMessagesPerConsumer?applied=true"), 777);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/maxProducersPerTopic?applied=true"), 0);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/maxConsumersPerTopic?applied=true"), 0);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/maxConsumersPerSubscription?applied=true"), 0);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/maxUnackedMessagesPerSubscription?applied=true"), 200000);
    char *b;
    assert_int_equal(http("GET", "/admin/v2/namespaces/public/ap/schemaCompatibilityStrategy?applied=true", NULL, &b), 200);
    assert_string_equal(b, "\"FULL\"");
    free(b);
    assert_int_equal(http("GET", "/admin/v2/namespaces/public/ap/retention?applied=true", NULL, &b), 200);
    assert_non_null(strstr(b, "retentionTimeInMinutes"));
    free(b);
    /* set: the namespace value, applied or not */
    expect("POST", "/admin/v2/namespaces/public/ap/maxUnackedMessagesPerConsumer", "5", 204);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/maxUnackedMessagesPerConsumer?applied=true"), 5);
    assert_int_equal(get_int("/admin/v2/namespaces/public/ap/maxUnackedMessagesPerConsumer"), 5);
    expect("DELETE", "/admin/v2/namespaces/public/ap", NULL, 204);
}

static void test_subscription_expiration(void **s)
{
    frame_t f;
    const char *exp = "/admin/v2/persistent/public/exp/t", *keep = "/admin/v2/persistent/public/keep/t";
    expect("PUT", "/admin/v2/namespaces/public/exp", NULL, 204);
    expect("PUT", "/admin/v2/namespaces/public/keep", NULL, 204);
    expect("POST", "/admin/v2/namespaces/public/exp/subscriptionExpirationTime", "-1", 412);
    expect("POST", "/admin/v2/namespaces/public/exp/subscriptionExpirationTime", "1", 204);
    assert_int_equal(get_int("/admin/v2/namespaces/public/exp/subscriptionExpirationTime"), 1);
    expect("PUT", "/admin/v2/persistent/public/exp/t", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/keep/t", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/exp/t/subscription/idle", NULL, 204);
    expect("PUT", "/admin/v2/persistent/public/keep/t/subscription/idle", NULL, 204);
    /* busy: a consumer stays connected throughout */
    mgt_conn_t *busy = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(busy, "persistent://public/exp/t", "busy", 1, 1, true, &f), T(SUCCESS));
    /* recent: its consumer leaves half-way, so it has been inactive for only ~35 s at the check */
    mgt_conn_t *recent = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(recent, "persistent://public/exp/t", "recent", 1, 1, true, &f), T(SUCCESS));
    assert_true(has_sub(exp, "idle"));
    sleep(30);
    mgt_close(recent);
    /* still there before the minute has passed */
    assert_true(has_sub(exp, "idle"));
    /* wait 35 s more, answering the broker's PINGs on the busy connection; its consumer is
     * never closed */
    assert_int_equal(mgt_expect(busy, T(CLOSE_CONSUMER), &f, 35000), 0);
    /* past one minute (+ the 1 s check interval): idle is gone, the others stay */
    assert_false(has_sub(exp, "idle"));
    assert_true(has_sub(exp, "busy"));
    assert_true(has_sub(exp, "recent"));
    assert_true(has_sub(keep, "idle")); /* no policy in public/keep */
    mgt_close(busy);
    /* the deletion is durable: its cursor is gone after a restart */
    assert_int_equal(mgt_broker_stop(B), 0); /* clean exit, no sanitizer report */
    mgt_broker_restart(B);
    assert_false(has_sub(exp, "idle"));
    assert_true(has_sub(exp, "busy"));
    assert_true(has_sub(keep, "idle"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_applied),
        cmocka_unit_test(test_subscription_expiration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
