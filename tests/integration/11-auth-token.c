/* 11-auth-token: token authentication and authorization on the binary protocol, against a
 * broker started with authenticationEnabled, AuthenticationProviderToken, a tokenSecretKey file,
 * authorizationEnabled and superUserRoles=admin. Tokens are minted with OpenSSL in the test
 * (support/mgtoken.c).
 * - CONNECT without a token, with a token of another key, an expired one or another method:
 *   an Error (request id -1, AuthenticationError), then the connection ends.
 * - The superuser produces and consumes.
 * - alice, with no grants: LOOKUP, PARTITIONED_METADATA, PRODUCER and SUBSCRIBE are refused
 *   with AuthorizationError (and no topic is created); a namespace grant of produce lets her
 *   publish but not subscribe; a topic grant of consume lets her subscribe to that topic only;
 *   revoking a grant closes the producer or consumer it allowed and refuses the next one.
 * - anonymousUserRole gives a client without credentials that role (a bad token is still
 *   refused); a broker whose key cannot be read refuses to start.
 * - Subscription permissions (subscription_auth_roles, subscriptionAuthMode=Prefix) narrow
 *   SUBSCRIBE; revoking one closes the consumer it allowed.
 * - A token that expires on an open connection: AUTH_CHALLENGE, then a new token of the same
 *   role keeps the connection; another role, no answer, or a client without
 *   supports_auth_refresh ends it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mghttp.h"
#include "mgtest.h"
#include "mgtoken.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x
#define AUTHN_ERR PULSAR__PROTO__SERVER_ERROR__AuthenticationError
#define AUTHZ_ERR PULSAR__PROTO__SERVER_ERROR__AuthorizationError

static const uint8_t SECRET[32] = "hexabuilders-secret-key-32-bytes";
static char keydir[64], keypath[128];
static mgt_broker_t *B;
static char *admin_tok, *alice_tok;

/* A broker with token authentication on keypath's secret, plus extra conf lines. */
static mgt_broker_t *token_broker(const char *extra)
{
    char conf[700];
    snprintf(conf, sizeof conf,
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderToken\n"
             "tokenSecretKey=file://%s\n%s",
             keypath, extra);
    return mgt_broker_start(conf);
}

static int setup(void **s)
{
    (void)s;
    snprintf(keydir, sizeof keydir, "/tmp/mg-it-auth-XXXXXX");
    if (!mkdtemp(keydir)) return -1;
    snprintf(keypath, sizeof keypath, "%s/secret.key", keydir);
    if (mgt_write_file(keypath, SECRET, sizeof SECRET)) return -1;
    B = token_broker("authorizationEnabled=true\nsuperUserRoles=admin,pulsar-super\n");
    admin_tok = mgt_token_hs("HS256", SECRET, sizeof SECRET, "admin", -1, NULL);
    alice_tok =
        mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", (int64_t)time(NULL) + 3600, NULL);
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    mgt_broker_free(B);
    free(admin_tok);
    free(alice_tok);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", keydir);
    return system(cmd) ? -1 : 0;
}

/* CONNECT with the given method and token (either may be NULL); returns the connection and
 * the first reply in *f. */
static mgt_conn_t *connect_with(int port, const char *method, const char *token, frame_t *f,
                                int *rc)
{
    mgt_conn_t *c = mgt_connect(port, false);
    assert_int_equal(mgt_send_connect(c, "it-auth", 21, method, token, -1), 0);
    *rc = mgt_recv(c, f, 3000);
    return c;
}

static mgt_conn_t *connect_as(const char *token)
{
    frame_t f;
    int rc;
    mgt_conn_t *c = connect_with(B->port, "token", token, &f, &rc);
    assert_int_equal(rc, 1);
    assert_int_equal(f.cmd->type, T(CONNECTED));
    return c;
}

static void expect_refused(const char *method, const char *token, const char *why)
{
    frame_t f;
    int rc;
    mgt_conn_t *c = connect_with(B->port, method, token, &f, &rc);
    assert_int_equal(rc, 1);
    assert_int_equal(f.cmd->type, T(ERROR));
    assert_int_equal(f.cmd->error->error, AUTHN_ERR);
    assert_true(f.cmd->error->request_id == UINT64_MAX);
    if (!strstr(f.cmd->error->message, why))
        fail_msg("message '%s' lacks '%s'", f.cmd->error->message, why);
    assert_int_equal(mgt_recv(c, &f, 3000), -1); /* and the connection ends */
    mgt_close(c);
}

static void test_connect_refused(void **s)
{
    (void)s;
    expect_refused(NULL, NULL, "Authentication required");
    char *other =
        mgt_token_hs("HS256", (const uint8_t *)"not the broker's key", 20, "admin", -1, NULL);
    expect_refused("token", other, "signature");
    free(other);
    char *old =
        mgt_token_hs("HS256", SECRET, sizeof SECRET, "admin", (int64_t)time(NULL) - 5, NULL);
    expect_refused("token", old, "expired");
    free(old);
    expect_refused("basic", "admin:secret", "unsupported authentication method");
    expect_refused("token", "not-a-jwt", "malformed");
    assert_true(mgt_broker_alive(B));
    /* Pulsar's authentication metrics count the three tokens that failed, one of them expired */
    mgt_http_res_t r;
    assert_int_equal(mgt_http(B->web_port, "GET", "/metrics", NULL, false, &r), 200);
    const char *want[] = {
        "pulsar_authentication_failures_total{provider_name=\"AuthenticationProviderToken\","
        "auth_method=\"token\",reason=\"INVALID_TOKEN\"} 3\n",
        "pulsar_authentication_success_total{provider_name=\"AuthenticationProviderToken\","
        "auth_method=\"token\"} 0\n",
        "pulsar_expired_token_total 1\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(r.body, want[i])) fail_msg("/metrics lacks %s", want[i]);
    mgt_http_res_free(&r);
}

static void test_superuser_produces_and_consumes(void **s)
{
    (void)s;
    const char *topic = "persistent://public/default/auth-admin";
    mgt_conn_t *p = connect_as(admin_tok);
    frame_t f;
    assert_int_equal(mgt_producer(p, topic, 1, NULL, &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_send(p, 1, 0, f.cmd->producer_success->producer_name, "hola", 4, NULL, 0),
                     0);
    assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 3000), 1);
    mgt_conn_t *c = connect_as(admin_tok);
    assert_int_equal(mgt_subscribe(c, topic, "s", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(c, 1, 10), 0);
    mgt_msg_t m;
    assert_int_equal(mgt_recv_message(c, &m, 3000), 1);
    assert_int_equal(m.data_len, 4);
    assert_memory_equal(m.data, "hola", 4);
    mgt_close(c);
    mgt_close(p);
}

static int lookup(mgt_conn_t *c, const char *topic, frame_t *f)
{
    pb_cmd_t cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandLookupTopic lk = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC__INIT;
    cmd.type = T(LOOKUP);
    cmd.lookuptopic = &lk;
    lk.topic = (char *)topic;
    lk.request_id = c->next_request_id++;
    mgt_send_cmd(c, &cmd);
    return mgt_expect(c, T(LOOKUP_RESPONSE), f, 3000);
}

static int partitions(mgt_conn_t *c, const char *topic, frame_t *f)
{
    pb_cmd_t cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPartitionedTopicMetadata pm =
        PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA__INIT;
    cmd.type = T(PARTITIONED_METADATA);
    cmd.partitionmetadata = &pm;
    pm.topic = (char *)topic;
    pm.request_id = c->next_request_id++;
    mgt_send_cmd(c, &cmd);
    return mgt_expect(c, T(PARTITIONED_METADATA_RESPONSE), f, 3000);
}

static void grant(const char *what, const char *role, const char *actions, long want)
{
    char path[300];
    snprintf(path, sizeof path, "%s/permissions/%s", what, role);
    mgt_http_res_t r;
    long st = mgt_http_auth(B->web_port, actions ? "POST" : "DELETE", path, actions, false,
                            admin_tok, &r);
    if (st != want)
        fail_msg("%s %s: %ld %s", actions ? "POST" : "DELETE", path, st, r.body ? r.body : "");
    mgt_http_res_free(&r);
}

static void test_authorization(void **s)
{
    (void)s;
    const char *x = "persistent://public/default/auth-x", *y = "persistent://public/default/auth-y";
    mgt_conn_t *c = connect_as(alice_tok);
    frame_t f;
    /* no grants: everything about a topic is refused, and nothing is created */
    assert_int_equal(lookup(c, x, &f), 1);
    assert_int_equal(f.cmd->lookuptopicresponse->response, 2 /* Failed */);
    assert_int_equal(f.cmd->lookuptopicresponse->error, AUTHZ_ERR);
    assert_int_equal(partitions(c, x, &f), 1);
    assert_int_equal(f.cmd->partitionmetadataresponse->response, 1 /* Failed */);
    assert_int_equal(f.cmd->partitionmetadataresponse->error, AUTHZ_ERR);
    assert_int_equal(mgt_producer(c, x, 1, NULL, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, AUTHZ_ERR);
    assert_int_equal(mgt_subscribe(c, x, "s", 0, 1, true, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, AUTHZ_ERR);
    mgt_http_res_t r;
    assert_int_equal(mgt_http_auth(B->web_port, "GET", "/admin/v2/persistent/public/default", NULL,
                                   false, admin_tok, &r),
                     200);
    assert_null(strstr(r.body, "auth-x"));
    mgt_http_res_free(&r);

    /* produce on the namespace: publish, lookup; still no subscribing */
    grant("/admin/v2/namespaces/public/default", "alice", "[\"produce\"]", 204);
    assert_int_equal(lookup(c, x, &f), 1);
    assert_int_equal(f.cmd->lookuptopicresponse->response, 1 /* Connect */);
    assert_int_equal(mgt_producer(c, x, 2, NULL, &f), T(PRODUCER_SUCCESS));
    assert_int_equal(mgt_send(c, 2, 0, f.cmd->producer_success->producer_name, "x1", 2, NULL, 0),
                     0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 3000), 1);
    assert_int_equal(mgt_subscribe(c, x, "s", 0, 3, true, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, AUTHZ_ERR);

    /* consume on topic x only */
    grant("/admin/v2/persistent/public/default/auth-x", "alice", "[\"consume\"]", 204);
    assert_int_equal(mgt_subscribe(c, x, "s", 0, 4, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(c, 4, 10), 0);
    mgt_msg_t m;
    assert_int_equal(mgt_recv_message(c, &m, 3000), 1);
    assert_memory_equal(m.data, "x1", 2);
    assert_int_equal(mgt_subscribe(c, y, "s", 0, 5, true, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, AUTHZ_ERR);

    /* revoked: her open producer is closed (Pulsar closes it when the policies change), the
     * consumer allowed by the topic grant stays, the next producer is refused */
    grant("/admin/v2/namespaces/public/default", "alice", NULL, 204);
    assert_int_equal(mgt_expect(c, T(CLOSE_PRODUCER), &f, 3000), 1);
    assert_int_equal(f.cmd->close_producer->producer_id, 2);
    assert_int_equal(mgt_producer(c, y, 6, NULL, &f), T(ERROR));
    assert_int_equal(f.cmd->error->error, AUTHZ_ERR);
    assert_int_equal(mgt_subscribe(c, x, "s", 0, 4, true, &f), T(SUCCESS)); /* still hers */
    /* the topic grant revoked: the consumer is closed too */
    grant("/admin/v2/persistent/public/default/auth-x", "alice", NULL, 204);
    assert_int_equal(mgt_expect(c, T(CLOSE_CONSUMER), &f, 3000), 1);
    assert_int_equal(f.cmd->close_consumer->consumer_id, 4);
    mgt_close(c);
}

static void test_anonymous_role_and_bad_key(void **s)
{
    (void)s;
    mgt_broker_t *g = token_broker("anonymousUserRole=guest\n");
    mgt_conn_t *c = mgt_connect(g->port, true); /* no credentials: the guest role */
    frame_t f;
    assert_int_equal(mgt_producer(c, "persistent://public/default/guest", 1, NULL, &f),
                     T(PRODUCER_SUCCESS));
    mgt_close(c);
    int rc;
    char *other = mgt_token_hs("HS256", (const uint8_t *)"wrong", 5, "admin", -1, NULL);
    c = connect_with(g->port, "token", other, &f,
                     &rc); /* credentials that fail are not anonymous */
    free(other);
    assert_int_equal(rc, 1);
    assert_int_equal(f.cmd->type, T(ERROR));
    assert_int_equal(f.cmd->error->error, AUTHN_ERR);
    mgt_close(c);
    mgt_broker_free(g);

    /* a key that cannot be read: the broker does not start */
    char dir[128], cmd[700], out[4096];
    snprintf(dir, sizeof dir, "%s/bad", keydir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && printf 'authenticationEnabled=true\\nauthenticationProviders="
             "org.apache.pulsar.broker.authentication.AuthenticationProviderToken\\n"
             "tokenSecretKey=file://%s/missing.key\\n' > %s/broker.conf && "
             "%s standalone -c %s/broker.conf --data-dir %s/data --port 0 --web-port 0 2>&1",
             dir, dir, dir, mgt_bin(), dir, dir);
    assert_int_not_equal(mgt_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "missing.key")) fail_msg("start-up error does not name the key: %s", out);
}

/* CONNECT with token, announcing supports_auth_refresh when refresh; expects CONNECTED. */
static mgt_conn_t *connect_refreshable(int port, const char *token, bool refresh)
{
    mgt_conn_t *c = mgt_connect(port, false);
    assert_int_equal(mgt_send_connect(c, "it-auth-refresh", 21, "token", token, refresh), 0);
    frame_t f;
    assert_int_equal(mgt_recv(c, &f, 3000), 1);
    assert_int_equal(f.cmd->type, T(CONNECTED));
    assert_true(f.cmd->connected->feature_flags->supports_auth_refresh);
    return c;
}

static void answer_challenge(mgt_conn_t *c, const char *token)
{
    frame_t f;
    assert_int_equal(mgt_expect(c, T(AUTH_CHALLENGE), &f, 6000), 1);
    assert_string_equal(f.cmd->authchallenge->challenge->auth_method_name, "token");
    if (!token) return;
    pb_cmd_t cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandAuthResponse ar = PULSAR__PROTO__COMMAND_AUTH_RESPONSE__INIT;
    Pulsar__Proto__AuthData ad = PULSAR__PROTO__AUTH_DATA__INIT;
    cmd.type = T(AUTH_RESPONSE);
    cmd.authresponse = &ar;
    ar.response = &ad;
    ad.auth_method_name = "token";
    ad.has_auth_data = 1;
    ad.auth_data.data = (uint8_t *)token;
    ad.auth_data.len = strlen(token);
    assert_int_equal(mgt_send_cmd(c, &cmd), 0);
}

/* Tokens that expire on open connections (authenticationRefreshCheckSeconds=1): a client that
 * can refresh is challenged and keeps its connection with a new token of the same role; a new
 * token of another role, no answer, or a client that cannot refresh: the connection ends. */
static void test_token_expiry(void **s)
{
    (void)s;
    mgt_broker_t *g = token_broker("authenticationRefreshCheckSeconds=1\n");
    int64_t soon = (int64_t)time(NULL) + 2;
    char *alice_soon = mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", soon, NULL);
    char *alice_later = mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", soon + 3600, NULL);
    char *bob_later = mgt_token_hs("HS256", SECRET, sizeof SECRET, "bob", soon + 3600, NULL);
    mgt_conn_t *renews = connect_refreshable(g->port, alice_soon, true);
    mgt_conn_t *changes = connect_refreshable(g->port, alice_soon, true);
    mgt_conn_t *silent = connect_refreshable(g->port, alice_soon, true);
    mgt_conn_t *cannot = connect_refreshable(g->port, alice_soon, false);
    frame_t f;
    answer_challenge(renews, alice_later);
    answer_challenge(changes, bob_later);
    answer_challenge(silent, NULL);
    assert_int_equal(mgt_recv(changes, &f, 3000), -1);
    assert_int_equal(mgt_recv(silent, &f, 5000), -1);
    assert_int_equal(mgt_recv(cannot, &f, 5000), -1);
    sleep(2); /* past the old expiry and another check */
    assert_int_equal(mgt_producer(renews, "persistent://public/default/renewed", 1, NULL, &f),
                     T(PRODUCER_SUCCESS));
    mgt_close(renews);
    mgt_close(changes);
    mgt_close(silent);
    mgt_close(cannot);
    free(alice_soon);
    free(alice_later);
    free(bob_later);
    mgt_broker_free(g);
}

static long admin_call(const char *method, const char *path, const char *body, char *out,
                       size_t outlen)
{
    mgt_http_res_t r;
    long st = mgt_http_auth(B->web_port, method, path, body, false, admin_tok, &r);
    if (out) snprintf(out, outlen, "%s", r.body ? r.body : "");
    mgt_http_res_free(&r);
    return st;
}

/* Pulsar's subscription permissions: roles bound to a subscription name
 * (subscription_auth_roles) and subscriptionAuthMode=Prefix narrow who may subscribe, on top
 * of the consume grant; a revoke closes the consumer it no longer allows. */
static void test_subscription_permissions(void **s)
{
    (void)s;
    const char *ns = "/admin/v2/namespaces/public/default",
               *topic = "persistent://public/default/subs-t";
    char path[300], body[600];
    grant(ns, "alice", "[\"consume\"]", 204);
    snprintf(path, sizeof path, "%s/permissions/subscription/orders", ns);
    assert_int_equal(admin_call("POST", path, "[\"bob\"]", NULL, 0), 204);
    mgt_conn_t *c = connect_as(alice_tok);
    frame_t f;
    assert_int_equal(mgt_subscribe(c, topic, "orders", 0, 1, true, &f), T(ERROR)); /* bob's only */
    assert_int_equal(f.cmd->error->error, AUTHZ_ERR);
    assert_int_equal(mgt_subscribe(c, topic, "other", 0, 2, true, &f), T(SUCCESS)); /* unbound */
    assert_int_equal(admin_call("POST", path, "[\"alice\"]", NULL, 0), 204); /* added to bob */
    assert_int_equal(mgt_subscribe(c, topic, "orders", 0, 3, true, &f), T(SUCCESS));
    snprintf(path, sizeof path, "%s/permissions/subscription", ns);
    assert_int_equal(admin_call("GET", path, NULL, body, sizeof body), 200);
    if (!strstr(body, "\"orders\":[\"bob\",\"alice\"]"))
        fail_msg("subscription permissions: %s", body);
    /* revoked: her consumer on "orders" is closed, the one on "other" stays */
    snprintf(path, sizeof path, "%s/permissions/orders/alice", ns);
    assert_int_equal(admin_call("DELETE", path, NULL, NULL, 0), 204);
    assert_int_equal(mgt_expect(c, T(CLOSE_CONSUMER), &f, 3000), 1);
    assert_int_equal(f.cmd->close_consumer->consumer_id, 3);
    assert_int_equal(admin_call("DELETE", path, NULL, NULL, 0), 412); /* not there any more */
    /* Prefix mode: the subscription must start with the role */
    snprintf(path, sizeof path, "%s/subscriptionAuthMode", ns);
    assert_int_equal(admin_call("POST", path, "\"Prefix\"", NULL, 0), 204);
    assert_int_equal(admin_call("POST", path, "\"Sometimes\"", NULL, 0), 400);
    assert_int_equal(mgt_subscribe(c, topic, "reports", 0, 4, true, &f), T(ERROR));
    assert_non_null(strstr(f.cmd->error->message, "prefixed by the authentication role"));
    assert_int_equal(mgt_subscribe(c, topic, "alice-reports", 0, 5, true, &f), T(SUCCESS));
    assert_int_equal(admin_call("POST", path, "\"None\"", NULL, 0), 204);
    snprintf(path, sizeof path, "%s/permissions/orders/bob", ns);
    assert_int_equal(admin_call("DELETE", path, NULL, NULL, 0), 204);
    grant(ns, "alice", NULL, 204);
    mgt_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_superuser_produces_and_consumes),
        cmocka_unit_test(test_authorization),
        cmocka_unit_test(test_anonymous_role_and_bad_key),
        cmocka_unit_test(test_token_expiry),
        cmocka_unit_test(test_subscription_permissions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
