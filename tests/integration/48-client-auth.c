/* 48-client-auth: libmagnetar, magnetar-client and magnetar-perf against a broker with token
 * authentication (authenticationEnabled, AuthenticationProviderToken, an HS256 secret key) and
 * authorization (superUserRoles=admin):
 * - a client with the superuser's token (mg_client_conf_t auth_method "token", auth_data the
 *   JWT) produces and consumes;
 * - without a token, or with one signed by another key, expired, or not a JWT at all, creating
 *   a producer or consumer fails at once with MG_ERR_AUTH and the broker's reason in
 *   mg_last_error_message() (no retry until a timeout, no hang);
 * - a valid token of a role without grants is refused (AuthorizationError) with MG_ERR_AUTH;
 * - the tools take pulsar-client's / pulsar-perf's --auth-plugin / --auth-params (token: and
 *   file:), fail with a message naming authentication without them, and refuse an unknown
 *   plugin as a usage error;
 * - a broker without authentication ignores a token;
 * - a token file (auth_token_file) rotated before expiry keeps the connection: the broker's
 *   AUTH_CHALLENGE is answered with the new token.
 * Tokens are minted by the test's own HMAC code (support/mgtoken.c, OpenSSL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "magnetar/magnetar.h"
#include "mgclient.h"
#include "mgtoken.h"

#define TOKEN_PLUGIN "org.apache.pulsar.client.impl.auth.AuthenticationToken"

static mgt_broker_t *B;
static char keydir[256];
static uint8_t secret[32], other[32];
static char *tok_admin, *tok_other_key, *tok_expired, *tok_alice;

static int setup(void **s)
{
    snprintf(keydir, sizeof keydir, "%s/mg-auth-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(keydir));
    for (int i = 0; i < 32; i++) {
        secret[i] = (uint8_t)(i * 37 + 11);
        other[i] = (uint8_t)(i * 53 + 5);
    }
    char path[400], conf[1200];
    snprintf(path, sizeof path, "%s/secret.key", keydir);
    assert_int_equal(mgt_write_file(path, secret, sizeof secret), 0);
    int64_t now = (int64_t)time(NULL);
    tok_admin = mgt_token_hs("HS256", secret, sizeof secret, "admin", -1, NULL);
    tok_other_key = mgt_token_hs("HS256", other, sizeof other, "admin", -1, NULL);
    tok_expired = mgt_token_hs("HS256", secret, sizeof secret, "admin", now - 60, NULL);
    tok_alice = mgt_token_hs("HS256", secret, sizeof secret, "alice", now + 3600, NULL);
    /* the token file as `pulsar tokens create > file` leaves it: with a trailing newline */
    char line[2048];
    snprintf(path, sizeof path, "%s/admin.token", keydir);
    snprintf(line, sizeof line, "%s\n", tok_admin);
    assert_int_equal(mgt_write_file(path, line, strlen(line)), 0);
    snprintf(conf, sizeof conf,
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderToken\n"
             "tokenSecretKey=file://%s/secret.key\n"
             "authorizationEnabled=true\n"
             "superUserRoles=admin\n",
             keydir);
    B = mgt_broker_start(conf);
    return 0;
}

static int teardown(void **s)
{
    mgt_broker_free(B);
    free(tok_admin);
    free(tok_other_key);
    free(tok_expired);
    free(tok_alice);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", keydir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* A client of B presenting token (NULL: no credentials). */
static mg_client_t *client_with(int port, const char *token)
{
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.operation_timeout_ms = 10000;
    if (token) {
        cc.auth_method = "token";
        cc.auth_data = token;
        cc.auth_data_len = strlen(token);
    }
    return mgt_client(port, &cc);
}

static void test_token_produce_consume(void **s)
{
    mg_client_t *cl = client_with(B->port, tok_admin);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(cl, "auth-t", "auth-sub", &cf, &c), MG_OK);
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, "auth-t", NULL, &p), MG_OK);
    for (int i = 0; i < 5; i++) {
        char b[16];
        snprintf(b, sizeof b, "a-%d", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
        mg_message_free(m);
    }
    for (int i = 0; i < 5; i++) {
        mg_message_t *m;
        assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
        char want[16];
        snprintf(want, sizeof want, "a-%d", i);
        assert_int_equal(mg_message_len(m), strlen(want));
        assert_memory_equal(mg_message_data(m), want, strlen(want));
        assert_int_equal(mg_consumer_ack(c, m), MG_OK);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);
}

/* Every way of failing authentication: MG_ERR_AUTH with a reason, well within the timeouts
 * (connection 10 s, operation 10 s), for producers, consumers and partition lookups. */
static void test_refused_connect(void **s)
{
    const char *bad[] = {NULL, tok_other_key, tok_expired, "not-a-jwt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_client_t *cl = client_with(B->port, bad[i]);
        uint64_t t0 = mg_mono_ms();
        mg_producer_t *p = NULL;
        mg_result r = mg_producer_create(cl, "auth-refused", NULL, &p);
        if (r != MG_ERR_AUTH)
            fail_msg("token %zu: producer create gave %d (%s)", i, r, mg_strerror(r));
        assert_null(p);
        assert_true(mg_last_error_message()[0] != '\0');
        mg_consumer_t *c = NULL;
        assert_int_equal(mg_consumer_subscribe(cl, "auth-refused", "s", NULL, &c), MG_ERR_AUTH);
        assert_null(c);
        int n = -1;
        assert_int_equal(mg_client_get_partitions(cl, "auth-refused", &n), MG_ERR_AUTH);
        uint64_t took = mg_mono_ms() - t0;
        if (took > 5000)
            fail_msg("token %zu: three refusals took %llu ms", i, (unsigned long long)took);
        assert_int_equal(mg_client_close(cl), MG_OK);
    }
}

/* alice authenticates but has no grant on public/default: AuthorizationError -> MG_ERR_AUTH. */
static void test_not_authorized(void **s)
{
    mg_client_t *cl = client_with(B->port, tok_alice);
    mg_producer_t *p = NULL;
    assert_int_equal(mg_producer_create(cl, "auth-alice", NULL, &p), MG_ERR_AUTH);
    assert_true(mg_last_error_message()[0] != '\0');
    mg_consumer_t *c = NULL;
    assert_int_equal(mg_consumer_subscribe(cl, "auth-alice", "s", NULL, &c), MG_ERR_AUTH);
    assert_int_equal(mg_client_close(cl), MG_OK);
}

static void test_client_tool(void **s)
{
    char cmd[4096], out[16384];
    const char *bin = mgt_tools_dir();
    snprintf(cmd, sizeof cmd,
             "timeout 20 %s/magnetar-client --url pulsar://127.0.0.1:%d --auth-plugin %s "
             "--auth-params token:%s produce tool-auth -m x,y -n 2 2>&1",
             bin, B->port, TOKEN_PLUGIN, tok_admin);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("produce with token: %s", out);
    assert_non_null(strstr(out, "4 messages successfully produced"));
    /* the options after the command, the token from a file (trailing newline stripped) */
    snprintf(cmd, sizeof cmd,
             "timeout 20 %s/magnetar-client consume tool-auth -s tsub -n 4 -p Earliest --url "
             "pulsar://127.0.0.1:%d --auth-plugin %s --auth-params file://%s/admin.token 2>&1",
             bin, B->port, TOKEN_PLUGIN, keydir);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("consume with token file: %s", out);
    assert_non_null(strstr(out, "content:x"));
    assert_non_null(strstr(out, "content:y"));
    assert_non_null(strstr(out, "4 messages successfully consumed"));
    /* no credentials: a non-zero exit naming authentication, well before any timeout */
    uint64_t t0 = mg_mono_ms();
    snprintf(
        cmd, sizeof cmd,
        "timeout 20 %s/magnetar-client --url pulsar://127.0.0.1:%d produce tool-auth -m z 2>&1",
        bin, B->port);
    int rc = mgt_run(cmd, out, sizeof out);
    assert_int_equal(rc, 1); /* not 124 (timeout), nor an ASan report */
    if (!strstr(out, "Authentication")) fail_msg("no mention of authentication: %s", out);
    snprintf(cmd, sizeof cmd,
             "timeout 20 %s/magnetar-client --url pulsar://127.0.0.1:%d consume tool-auth -s s2 "
             "--auth-plugin %s --auth-params token:%s 2>&1",
             bin, B->port, TOKEN_PLUGIN, tok_other_key);
    rc = mgt_run(cmd, out, sizeof out);
    assert_int_equal(rc, 1); /* not 124 (timeout), nor an ASan report */
    if (!strstr(out, "Authentication")) fail_msg("no mention of authentication: %s", out);
    assert_true(mg_mono_ms() - t0 < 8000);
    /* usage errors */
    snprintf(cmd, sizeof cmd,
             "%s/magnetar-client --url pulsar://127.0.0.1:%d --auth-plugin com.example.Nope "
             "--auth-params token:%s produce tool-auth -m z 2>&1",
             bin, B->port, tok_admin);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "unknown auth plugin 'com.example.Nope'"));
    assert_non_null(strstr(out, "usage:"));
    snprintf(cmd, sizeof cmd,
             "%s/magnetar-client --url pulsar://127.0.0.1:%d --auth-params token:%s produce "
             "tool-auth -m z 2>&1",
             bin, B->port, tok_admin);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "--auth-params needs --auth-plugin"));
}

static void test_perf_tool(void **s)
{
    char cmd[4096], out[16384];
    const char *bin = mgt_tools_dir();
    snprintf(
        cmd, sizeof cmd,
        "timeout 30 %s/magnetar-perf produce perf-auth -u pulsar://127.0.0.1:%d -r 0 -s 64 -m 200 "
        "--auth-plugin %s --auth-params file:///%s/admin.token 2>&1",
        bin, B->port, TOKEN_PLUGIN, keydir + 1);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("perf with token: %s", out);
    assert_non_null(strstr(out, "=== summary: produced 200 messages"));
    snprintf(
        cmd, sizeof cmd,
        "timeout 30 %s/magnetar-perf produce perf-auth -u pulsar://127.0.0.1:%d -r 0 -m 10 2>&1",
        bin, B->port);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    if (!strstr(out, "Authentication")) fail_msg("no mention of authentication: %s", out);
    snprintf(cmd, sizeof cmd,
             "%s/magnetar-perf consume perf-auth -u pulsar://127.0.0.1:%d --auth-plugin x.Y "
             "--auth-params token:abc 2>&1",
             bin, B->port);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "unknown auth plugin 'x.Y'"));
}

/* With authentication off (the default) the broker ignores whatever credentials come. */
static void test_token_ignored_without_auth(void **s)
{
    mgt_broker_t *open_b = mgt_broker_start(NULL);
    mg_client_t *cl = client_with(open_b->port, tok_other_key);
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, "open-t", NULL, &p), MG_OK);
    mg_message_t *m = mg_message_new("x", 1);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);
    mgt_broker_free(open_b);
}

/* A token file rotated before the old token expires: the broker's AUTH_CHALLENGE
 * (authenticationRefreshCheckSeconds=1) is answered with the file's new token, and the same
 * connection keeps producing past the old expiry; the broker logs the refresh, not a close. */
static void test_token_file_rotation(void **s)
{
    (void)s;
    char conf[1000], path[400], line[2048];
    snprintf(conf, sizeof conf,
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderToken\n"
             "tokenSecretKey=file://%s/secret.key\n"
             "authenticationRefreshCheckSeconds=1\n",
             keydir);
    mgt_broker_t *r = mgt_broker_start(conf);
    int64_t soon = (int64_t)time(NULL) + 2;
    char *old = mgt_token_hs("HS256", secret, sizeof secret, "svc", soon, NULL);
    char *fresh = mgt_token_hs("HS256", secret, sizeof secret, "svc", soon + 3600, NULL);
    snprintf(path, sizeof path, "%s/rotating.token", keydir);
    snprintf(line, sizeof line, "%s\n", old);
    assert_int_equal(mgt_write_file(path, line, strlen(line)), 0);
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.operation_timeout_ms = 10000;
    cc.auth_token_file = path;
    mg_client_t *cl = mgt_client(r->port, &cc);
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, "rotate-t", NULL, &p), MG_OK);
    snprintf(line, sizeof line, "%s\n", fresh); /* rotated well before the old one expires */
    assert_int_equal(mgt_write_file(path, line, strlen(line)), 0);
    uint64_t until = mg_mono_ms() + 4500; /* past the old expiry and a few checks */
    for (int i = 0; mg_mono_ms() < until; i++) {
        mg_message_t *m = mg_message_new("x", 1);
        assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
        mg_message_free(m);
        usleep(50000);
    }
    mg_producer_close(p);
    mg_client_close(cl);
    char cmd[700], out[8192];
    snprintf(cmd, sizeof cmd, "cat '%s'", r->log_path);
    mgt_run(cmd, out, sizeof out);
    if (!strstr(out, "credentials of svc refreshed"))
        fail_msg("no refresh in the broker log:\n%s", out);
    if (strstr(out, "authentication data expired") || strstr(out, "refresh failed"))
        fail_msg("the connection was closed:\n%s", out);
    free(old);
    free(fresh);
    mgt_broker_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_produce_consume),
        cmocka_unit_test(test_refused_connect),
        cmocka_unit_test(test_not_authorized),
        cmocka_unit_test(test_client_tool),
        cmocka_unit_test(test_perf_tool),
        cmocka_unit_test(test_token_ignored_without_auth),
        cmocka_unit_test(test_token_file_rotation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
