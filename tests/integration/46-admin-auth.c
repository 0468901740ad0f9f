/* 46-admin-auth: token authentication and authorization on the admin REST API, as Pulsar's
 * AuthenticationProviderToken and PulsarAuthorizationProvider do them. A broker with
 * authenticationEnabled, an HS256 secret key and authorizationEnabled with superUserRoles=admin:
 * requests without a token, with garbage, a token signed with another key, an expired token or
 * a non-Bearer header are 401 {"reason"}; /metrics and the console stay open. The superuser
 * creates tenants; a tenant admin (alice) manages namespaces, topics and permissions of her
 * tenant but gets 401 on tenants, other tenants, broker operations; bob (no role) gets 401
 * until granted consume on a topic, then reads its stats, lookup and subscriptions only.
 * Topic-level permissions round-trip (grant, union with namespace grants, revoke, 412 on a
 * second revoke) and are stored in the namespace policies' auth_policies.destination_auth.
 * A second broker with authorization off and anonymousUserRole: no token is the anonymous
 * role, any valid token may do everything, a bad token is still 401. Tokens are minted with
 * OpenSSL by the test (mgtoken.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mghttp.h"
#include "mgtest.h"
#include "mgtoken.h"

static const uint8_t SECRET[32] = "magnetar-admin-auth-test-secret";
static const uint8_t OTHER[32] = "not-the-secret-the-broker-knows";

static mgt_broker_t *B;
static char DIR_[256];
static char *T_ADMIN, *T_ALICE, *T_BOB, *T_CAROL;

static char *token(const char *sub)
{
    return mgt_token_hs("HS256", SECRET, sizeof SECRET, sub, -1, NULL);
}

/* One request as `tok` (NULL: no Authorization header); returns the status, *body (may be
 * NULL) the parsed JSON body or NULL. */
static long req(int port, const char *tok, const char *method, const char *path, const char *body,
                json_t **out)
{
    mgt_http_res_t r;
    long st = mgt_http_auth(port, method, path, body, false, tok, &r);
    if (out) *out = r.len ? json_loads(r.body, JSON_DECODE_ANY, NULL) : NULL;
    mgt_http_res_free(&r);
    return st;
}

/* Expect `want`; for errors also a {"reason": "..."} body, which must contain `reason_part`
 * when that is non-NULL. */
static void expect_as(int port, const char *tok, const char *method, const char *path,
                      const char *body, long want, const char *reason_part)
{
    mgt_http_res_t r;
    long st = mgt_http_auth(port, method, path, body, false, tok, &r);
    if (st != want) fprintf(stderr, "%s %s -> %ld %s (want %ld)\n", method, path, st, r.body, want);
    assert_int_equal(st, want);
    if (want >= 400) {
        json_t *j = json_loads(r.body, 0, NULL);
        const char *reason = json_string_value(json_object_get(j, "reason"));
        if (!reason) fprintf(stderr, "%s %s: no reason in %s\n", method, path, r.body);
        assert_non_null(reason);
        assert_true(*reason);
        if (reason_part && !strstr(reason, reason_part))
            fprintf(stderr, "%s %s: reason '%s' lacks '%s'\n", method, path, reason, reason_part);
        if (reason_part) assert_non_null(strstr(reason, reason_part));
        json_decref(j);
    }
    mgt_http_res_free(&r);
}

#define EXPECT(tok, m, p, body, want) expect_as(B->web_port, tok, m, p, body, want, NULL)
#define EXPECT_R(tok, m, p, body, want, why) expect_as(B->web_port, tok, m, p, body, want, why)

static int setup(void **s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(DIR_, sizeof DIR_, "/tmp/mg-auth-XXXXXX");
    assert_non_null(mkdtemp(DIR_));
    char key[300], conf[1024];
    snprintf(key, sizeof key, "%s/secret.key", DIR_);
    assert_int_equal(mgt_write_file(key, SECRET, sizeof SECRET), 0);
    snprintf(conf, sizeof conf,
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderToken\n"
             "tokenSecretKey=file://%s\n"
             "authorizationEnabled=true\n"
             "superUserRoles=admin,ops\n",
             key);
    B = mgt_broker_start(conf);
    T_ADMIN = token("admin");
    T_ALICE = token("alice");
    T_BOB = token("bob");
    T_CAROL = token("carol");
    /* the superuser's set-up: tenant acme administered by alice, tenant other by carol */
    EXPECT(T_ADMIN, "PUT", "/admin/v2/tenants/acme",
           "{\"adminRoles\":[\"alice\"],\"allowedClusters\":[\"standalone\"]}", 204);
    EXPECT(T_ADMIN, "PUT", "/admin/v2/namespaces/acme/ns1", NULL, 204);
    EXPECT(T_ADMIN, "PUT", "/admin/v2/tenants/other",
           "{\"adminRoles\":[\"carol\"],\"allowedClusters\":[\"standalone\"]}", 204);
    EXPECT(T_ADMIN, "PUT", "/admin/v2/namespaces/other/ns", NULL, 204);
    return 0;
}

static int teardown(void **s)
{
    mgt_broker_free(B);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", DIR_);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", DIR_);
    free(T_ADMIN);
    free(T_ALICE);
    free(T_BOB);
    free(T_CAROL);
    curl_global_cleanup();
    return 0;
}

static void test_unauthenticated(void **s)
{
    EXPECT_R(NULL, "GET", "/admin/v2/tenants", NULL, 401, "Authentication required");
    EXPECT_R(NULL, "GET", "/admin/v2/clusters", NULL, 401, "Authentication required");
    EXPECT_R(NULL, "PUT", "/admin/v2/tenants/x", "{}", 401, "Authentication required");
    EXPECT_R(NULL, "GET", "/admin/v2/brokers/health", NULL, 401, "Authentication required");
    EXPECT_R(NULL, "GET", "/admin/v2/persistent/acme/ns1", NULL, 401, "Authentication required");
    EXPECT_R(NULL, "GET", "/admin/v2/schemas/acme/ns1/t/schema", NULL, 401, NULL);
    EXPECT_R(NULL, "GET", "/lookup/v2/topic/persistent/acme/ns1/t", NULL, 401, NULL);
    EXPECT_R(NULL, "GET", "/admin/v2/nothing-here", NULL, 401, NULL); /* before the 404 */
    /* not a token */
    EXPECT(".", "GET", "/admin/v2/clusters", NULL, 401);
    EXPECT("garbage", "GET", "/admin/v2/clusters", NULL, 401);
    EXPECT("a.b.c", "GET", "/admin/v2/clusters", NULL, 401);
    /* signed with another key */
    char *wrong = mgt_token_hs("HS256", OTHER, sizeof OTHER, "admin", -1, NULL);
    EXPECT_R(wrong, "GET", "/admin/v2/clusters", NULL, 401, "signature");
    free(wrong);
    /* expired an hour ago; and one that expires in an hour works */
    char *old =
        mgt_token_hs("HS256", SECRET, sizeof SECRET, "admin", (int64_t)time(NULL) - 3600, NULL);
    EXPECT_R(old, "GET", "/admin/v2/clusters", NULL, 401, "expired");
    free(old);
    char *fresh =
        mgt_token_hs("HS256", SECRET, sizeof SECRET, "admin", (int64_t)time(NULL) + 3600, NULL);
    EXPECT(fresh, "GET", "/admin/v2/clusters", NULL, 200);
    free(fresh);
    /* a header that is not Bearer */
    CURL *c = curl_easy_init();
    char url[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/admin/v2/clusters", B->web_port);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Basic YWRtaW46YWRtaW4=");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    assert_int_equal(st, 401);
    fclose(devnull);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void test_open_paths(void **s)
{
    EXPECT(NULL, "GET", "/metrics", NULL, 200);
    EXPECT(NULL, "GET", "/console", NULL, 200);
    mgt_http_res_t r;
    assert_int_equal(mgt_http(B->web_port, "GET", "/", NULL, false, &r), 302);
    mgt_http_res_free(&r);
    /* a valid token changes nothing there */
    EXPECT(T_BOB, "GET", "/metrics", NULL, 200);
}

static void test_superuser(void **s)
{
    json_t *j;
    assert_int_equal(req(B->web_port, T_ADMIN, "GET", "/admin/v2/tenants", NULL, &j), 200);
    assert_true(json_is_array(j) && json_array_size(j) >= 3); /* public, acme, other */
    json_decref(j);
    char *ops = token("ops"); /* the second superuser role */
    EXPECT(ops, "GET", "/admin/v2/tenants/acme", NULL, 200);
    EXPECT(ops, "GET", "/admin/v2/brokers/health", NULL, 200);
    free(ops);
    EXPECT(T_ADMIN, "GET", "/admin/v2/brokers/health", NULL, 200);
    EXPECT(T_ADMIN, "GET", "/admin/v2/clusters/standalone", NULL, 200);
    EXPECT(T_ADMIN, "PUT", "/admin/v2/namespaces/other/by-admin", NULL, 204);
    EXPECT(T_ADMIN, "PUT", "/admin/v2/persistent/other/by-admin/t", NULL, 204);
    EXPECT(T_ADMIN, "GET", "/admin/v2/persistent/other/by-admin/t/stats", NULL, 200);
    /* the handlers' own answers come through unchanged */
    EXPECT_R(T_ADMIN, "PUT", "/admin/v2/tenants/acme", "{}", 409, "already exists");
    EXPECT(T_ADMIN, "GET", "/admin/v2/nothing-here", NULL, 404);
}

static void test_tenant_admin(void **s)
{
    const char *why = "Don't have permission to administrate resources on this tenant";
    /* alice administers acme: namespaces, policies, topics, permissions */
    EXPECT(T_ALICE, "PUT", "/admin/v2/namespaces/acme/ns2", NULL, 204);
    json_t *j;
    assert_int_equal(req(B->web_port, T_ALICE, "GET", "/admin/v2/namespaces/acme", NULL, &j), 200);
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
    EXPECT(T_ALICE, "POST", "/admin/v2/namespaces/acme/ns2/messageTTL", "3600", 204);
    EXPECT(T_ALICE, "GET", "/admin/v2/namespaces/acme/ns2", NULL, 200);
    EXPECT(T_ALICE, "PUT", "/admin/v2/persistent/acme/ns2/orders", NULL, 204);
    EXPECT(T_ALICE, "PUT", "/admin/v2/persistent/acme/ns2/parts/partitions", "2", 204);
    EXPECT(T_ALICE, "GET", "/admin/v2/persistent/acme/ns2/orders/stats", NULL, 200);
    EXPECT(T_ALICE, "GET", "/admin/v2/persistent/acme/ns2", NULL, 200);
    EXPECT(T_ALICE, "POST", "/admin/v2/namespaces/acme/ns2/permissions/bob", "[\"consume\"]", 204);
    assert_int_equal(
        req(B->web_port, T_ALICE, "GET", "/admin/v2/namespaces/acme/ns2/permissions", NULL, &j),
        200);
    assert_non_null(json_object_get(j, "bob"));
    json_decref(j);
    /* namespace revoke */
    EXPECT(T_ALICE, "DELETE", "/admin/v2/namespaces/acme/ns2/permissions/bob", NULL, 204);
    assert_int_equal(
        req(B->web_port, T_ALICE, "GET", "/admin/v2/namespaces/acme/ns2/permissions", NULL, &j),
        200);
    assert_null(json_object_get(j, "bob"));
    json_decref(j);

    /* but not tenants, other tenants, clusters or brokers */
    EXPECT_R(T_ALICE, "PUT", "/admin/v2/tenants/alices-own",
             "{\"adminRoles\":[\"alice\"],\"allowedClusters\":[\"standalone\"]}", 401,
             "super-user");
    EXPECT_R(T_ALICE, "POST", "/admin/v2/tenants/acme",
             "{\"adminRoles\":[\"alice\",\"eve\"],\"allowedClusters\":[\"standalone\"]}", 401,
             "super-user");
    EXPECT_R(T_ALICE, "DELETE", "/admin/v2/tenants/acme", NULL, 401, "super-user");
    EXPECT_R(T_ALICE, "GET", "/admin/v2/tenants", NULL, 401, "super-user");
    EXPECT_R(T_ALICE, "PUT", "/admin/v2/namespaces/other/x", NULL, 401, why);
    EXPECT_R(T_ALICE, "GET", "/admin/v2/namespaces/other", NULL, 401, why);
    EXPECT_R(T_ALICE, "PUT", "/admin/v2/persistent/other/ns/t", NULL, 401, why);
    EXPECT_R(T_ALICE, "GET", "/admin/v2/persistent/other/ns", NULL, 401, NULL);
    EXPECT_R(T_ALICE, "PUT", "/admin/v2/clusters/c2", "{\"serviceUrl\":\"http://x:8080\"}", 401,
             "super-user");
    EXPECT_R(T_ALICE, "GET", "/admin/v2/clusters/standalone", NULL, 401, "super-user");
    EXPECT(T_ALICE, "GET", "/admin/v2/clusters", NULL, 200); /* the list is open, as Pulsar */
    EXPECT_R(T_ALICE, "GET", "/admin/v2/brokers/health", NULL, 401, "super-user");
    EXPECT_R(T_ALICE, "GET", "/admin/v2/brokers/standalone", NULL, 401, "super-user");
    EXPECT(T_ALICE, "GET", "/admin/v2/brokers/ready", NULL, 200);
    /* a tenant that does not exist: 404, as Pulsar's validateAdminAccessForTenant */
    EXPECT_R(T_ALICE, "PUT", "/admin/v2/namespaces/nope/ns", NULL, 404, "Tenant does not exist");
}

static void test_client_role(void **s)
{
    const char *why = "Don't have permission to administrate resources on this tenant";
    EXPECT(T_ALICE, "PUT", "/admin/v2/namespaces/acme/shop", NULL, 204);
    EXPECT(T_ALICE, "PUT", "/admin/v2/persistent/acme/shop/orders", NULL, 204);
    EXPECT(T_ALICE, "PUT", "/admin/v2/persistent/acme/shop/orders/subscription/audit", NULL, 204);
    /* bob has no role on acme yet */
    EXPECT_R(T_BOB, "PUT", "/admin/v2/namespaces/acme/ns3", NULL, 401, why);
    EXPECT_R(T_BOB, "GET", "/admin/v2/namespaces/acme/ns1", NULL, 401, why);
    EXPECT_R(T_BOB, "GET", "/admin/v2/persistent/acme/shop/orders/stats", NULL, 401,
             "persistent://acme/shop/orders");
    EXPECT(T_BOB, "GET", "/lookup/v2/topic/persistent/acme/shop/orders", NULL, 401);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop", NULL, 401);
    /* granted consume on the topic: the reads a consumer needs, nothing more */
    EXPECT(T_ALICE, "POST", "/admin/v2/persistent/acme/shop/orders/permissions/bob",
           "[\"consume\"]", 204);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop/orders/stats", NULL, 200);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop/orders/partitions", NULL, 200);
    EXPECT(T_BOB, "GET", "/lookup/v2/topic/persistent/acme/shop/orders", NULL, 200);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop/orders/subscriptions", NULL, 200);
    EXPECT(T_BOB, "POST", "/admin/v2/persistent/acme/shop/orders/subscription/audit/skip_all", NULL,
           204);
    EXPECT_R(T_BOB, "DELETE", "/admin/v2/persistent/acme/shop/orders", NULL, 401, why);
    EXPECT_R(T_BOB, "PUT", "/admin/v2/persistent/acme/shop/orders/unload", NULL, 401, why);
    EXPECT_R(T_BOB, "POST", "/admin/v2/persistent/acme/shop/orders/permissions/bob",
             "[\"produce\",\"consume\"]", 401, why);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop/orders/permissions", NULL, 401);
    /* another topic of the namespace stays closed */
    EXPECT(T_ALICE, "PUT", "/admin/v2/persistent/acme/shop/payments", NULL, 204);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop/payments/stats", NULL, 401);
    /* a namespace grant opens the topic list and every topic of it */
    EXPECT(T_ALICE, "POST", "/admin/v2/namespaces/acme/shop/permissions/bob", "[\"produce\"]", 204);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop", NULL, 200);
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop/payments/stats", NULL, 200);
    EXPECT(T_BOB, "GET", "/admin/v2/namespaces/acme/shop/topics", NULL, 200);
    /* produce alone does not give the subscriptions */
    EXPECT(T_BOB, "GET", "/admin/v2/persistent/acme/shop/payments/subscriptions", NULL, 401);
    /* carol administers tenant other, not acme */
    EXPECT_R(T_CAROL, "GET", "/admin/v2/persistent/acme/shop/orders/stats", NULL, 401, NULL);
    EXPECT(T_CAROL, "PUT", "/admin/v2/persistent/other/ns/carols", NULL, 204);
}

static json_t *topic_perms(const char *path)
{
    json_t *j;
    assert_int_equal(req(B->web_port, T_ALICE, "GET", path, NULL, &j), 200);
    assert_true(json_is_object(j));
    return j;
}

static bool has_action(json_t *perms, const char *role, const char *action)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(perms, role), i,
                       e) if (!strcmp(json_string_value(e), action)) return true;
    return false;
}

static void test_topic_permissions(void **s)
{
    const char *base = "/admin/v2/persistent/acme/ns1/events/permissions";
    char p[300];
    EXPECT(T_ALICE, "PUT", "/admin/v2/persistent/acme/ns1/events", NULL, 204);
    json_t *j = topic_perms(base);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    /* grant */
    snprintf(p, sizeof p, "%s/dave", base);
    EXPECT(T_ALICE, "POST", p, "[\"produce\",\"consume\"]", 204);
    j = topic_perms(base);
    assert_int_equal(json_object_size(j), 1);
    assert_true(has_action(j, "dave", "produce") && has_action(j, "dave", "consume"));
    json_decref(j);
    /* stored where the broker reads it: the namespace policies' destination_auth */
    assert_int_equal(req(B->web_port, T_ALICE, "GET", "/admin/v2/namespaces/acme/ns1", NULL, &j),
                     200);
    json_t *da = json_object_get(json_object_get(j, "auth_policies"), "destination_auth");
    json_t *dave = json_object_get(json_object_get(da, "persistent://acme/ns1/events"), "dave");
    assert_true(json_is_array(dave));
    assert_int_equal(json_array_size(dave), 2);
    json_decref(j);
    /* a grant replaces the role's actions */
    EXPECT(T_ALICE, "POST", p, "[\"consume\"]", 204);
    j = topic_perms(base);
    assert_false(has_action(j, "dave", "produce"));
    assert_true(has_action(j, "dave", "consume"));
    json_decref(j);
    /* namespace-level grants are shown with the topic's, their union per role */
    EXPECT(T_ALICE, "POST", "/admin/v2/namespaces/acme/ns1/permissions/dave", "[\"produce\"]", 204);
    EXPECT(T_ALICE, "POST", "/admin/v2/namespaces/acme/ns1/permissions/erin", "[\"consume\"]", 204);
    j = topic_perms(base);
    assert_true(has_action(j, "dave", "produce") && has_action(j, "dave", "consume"));
    assert_true(has_action(j, "erin", "consume"));
    json_decref(j);
    EXPECT(T_ALICE, "DELETE", "/admin/v2/namespaces/acme/ns1/permissions/dave", NULL, 204);
    EXPECT(T_ALICE, "DELETE", "/admin/v2/namespaces/acme/ns1/permissions/erin", NULL, 204);
    /* revoke */
    EXPECT(T_ALICE, "DELETE", p, NULL, 204);
    j = topic_perms(base);
    assert_null(json_object_get(j, "dave"));
    json_decref(j);
    EXPECT_R(T_ALICE, "DELETE", p, NULL, 412, "not set at the topic level");
    /* bad input */
    EXPECT(T_ALICE, "POST", p, "[\"fly\"]", 400);
    EXPECT(T_ALICE, "POST", p, "{\"produce\":true}", 400);
    EXPECT(T_ALICE, "POST", p, "not json", 400);
    EXPECT(T_ALICE, "PUT", p, "[\"consume\"]", 405);
    EXPECT(T_ALICE, "POST", base, "[\"consume\"]", 405);
    EXPECT(T_ALICE, "GET", "/admin/v2/persistent/acme/nope/events/permissions", NULL, 404);
    /* a partitioned topic's grants go to its base name, which its partitions use */
    EXPECT(T_ALICE, "PUT", "/admin/v2/persistent/acme/ns1/parted/partitions", "3", 204);
    EXPECT(T_ALICE, "POST", "/admin/v2/persistent/acme/ns1/parted/permissions/frank",
           "[\"consume\"]", 204);
    char *frank = token("frank");
    EXPECT(frank, "GET", "/admin/v2/persistent/acme/ns1/parted/partitioned-stats", NULL, 200);
    EXPECT(frank, "GET", "/admin/v2/persistent/acme/ns1/parted-partition-1/stats", NULL, 200);
    EXPECT(frank, "GET", "/admin/v2/persistent/acme/ns1/events/stats", NULL, 401);
    free(frank);
}

/* authenticationEnabled without authorization, and anonymousUserRole */
static void test_anonymous_no_authz(void **s)
{
    char key[300], conf[1024];
    snprintf(key, sizeof key, "%s/secret.key", DIR_);
    snprintf(conf, sizeof conf,
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderToken\n"
             "tokenSecretKey=file://%s\n"
             "anonymousUserRole=anonymous\n",
             key);
    mgt_broker_t *b2 = mgt_broker_start(conf);
    int port = b2->web_port;
    expect_as(port, NULL, "GET", "/admin/v2/tenants", NULL, 200, NULL);
    expect_as(port, T_BOB, "PUT", "/admin/v2/tenants/bobs",
              "{\"allowedClusters\":[\"standalone\"]}", 204, NULL);
    expect_as(port, NULL, "GET", "/admin/v2/brokers/health", NULL, 200, NULL);
    expect_as(port, "garbage", "GET", "/admin/v2/tenants", NULL, 401, NULL);
    char *wrong = mgt_token_hs("HS256", OTHER, sizeof OTHER, "admin", -1, NULL);
    expect_as(port, wrong, "GET", "/admin/v2/tenants", NULL, 401, NULL);
    free(wrong);
    mgt_broker_free(b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unauthenticated),    cmocka_unit_test(test_open_paths),
        cmocka_unit_test(test_superuser),          cmocka_unit_test(test_tenant_admin),
        cmocka_unit_test(test_client_role),        cmocka_unit_test(test_topic_permissions),
        cmocka_unit_test(test_anonymous_no_authz),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
