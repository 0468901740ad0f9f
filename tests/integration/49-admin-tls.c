/* 49-admin-tls: HTTPS on webServicePortTls, as Pulsar's broker serves it. Certificates come
 * from tests/integration/support/mkcerts.sh (a throw-away CA, a broker certificate for
 * localhost and 127.0.0.1, a client certificate), plus a self-signed client certificate made
 * here that no trusted authority signed. Checked: the ready line names the HTTPS port; HTTPS
 * answers the same routes as plain HTTP (which stays on), with the same JSON; the HTTP lookup
 * gives httpUrlTls; a client trusting another CA fails the handshake; plain HTTP on the TLS
 * port gets no answer; token authentication works the same over HTTPS; with
 * tlsRequireTrustedClientCertOnConnect a request without a client certificate, or with an
 * untrusted one, is 401, and with tlsTrustCertsFilePath alone a certificate is optional but
 * must verify when sent; AuthenticationProviderTls takes the verified certificate's CN as the
 * role (not an untrusted one let through by tlsAllowInsecureConnection); a broker with a
 * missing key, a certificate that does not match its key, or a required client certificate
 * without tlsTrustCertsFilePath does not start, and says which file or key. */
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
#include "mgtoken.h"

static const uint8_t SECRET[32] = "magnetar-admin-tls-test-secret!";

static mgt_broker_t *B; /* TLS on, nothing else */
static char DIR_[256];
static char CA[320], OTHER_CA[320], CERT[320], KEY[320], CLIENT_CERT[320], CLIENT_KEY[320];
static char ROGUE_CERT[320], ROGUE_KEY[320];

static void path_of(char *out, const char *name)
{
    snprintf(out, 320, "%s/certs/%s", DIR_, name);
}

/* broker.conf lines for HTTPS on a free port, then `extra` */
static void tls_conf(char *out, size_t n, const char *extra)
{
    snprintf(out, n,
             "webServicePortTls=0\n"
             "tlsCertificateFilePath=%s\n"
             "tlsKeyFilePath=%s\n"
             "%s",
             CERT, KEY, extra ? extra : "");
}

static int setup(void **s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(DIR_, sizeof DIR_, "/tmp/mg-tls-XXXXXX");
    assert_non_null(mkdtemp(DIR_));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sh %s/tests/integration/support/mkcerts.sh %s/certs",
             mgt_source_dir(), DIR_);
    assert_int_equal(system(cmd), 0);
    path_of(CA, "ca.cert.pem");
    path_of(OTHER_CA, "other-ca.cert.pem");
    path_of(CERT, "broker.cert.pem");
    path_of(KEY, "broker.key.pem");
    path_of(CLIENT_CERT, "client.cert.pem");
    path_of(CLIENT_KEY, "client.key.pem");
    path_of(ROGUE_CERT, "rogue.cert.pem");
    path_of(ROGUE_KEY, "rogue.key.pem");
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=admin -keyout %s "
             "-out %s >/dev/null 2>&1",
             ROGUE_KEY, ROGUE_CERT);
    assert_int_equal(system(cmd), 0);
    char conf[1500];
    tls_conf(conf, sizeof conf, NULL);
    B = mgt_broker_start(conf);
    return 0;
}

static int teardown(void **s)
{
    mgt_broker_free(B);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", DIR_);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", DIR_);
    curl_global_cleanup();
    return 0;
}

/* HTTPS request trusting CA, optionally with a client certificate; returns the status and
 * fills r (free with mgt_http_res_free). */
static long https(int port, const char *cert, const char *key, const char *tok, const char *method,
                  const char *path, const char *body, mgt_http_res_t *r)
{
    mgt_tls_t tls = {.ca_file = CA, .cert_file = cert, .key_file = key};
    return mgt_https(port, &tls, method, path, body, tok, r);
}

/* The status of one HTTPS request; its reason must contain `reason_part` when non-NULL. */
static long https_status(int port, const char *cert, const char *key, const char *tok,
                         const char *path, const char *reason_part)
{
    mgt_http_res_t r;
    long st = https(port, cert, key, tok, "GET", path, NULL, &r);
    if (reason_part && !strstr(r.body, reason_part))
        fail_msg("GET %s: %ld %s lacks '%s'", path, st, r.body, reason_part);
    mgt_http_res_free(&r);
    return st;
}

static void test_ready_line(void **s)
{
    assert_true(B->web_port_tls > 0);
    assert_int_not_equal(B->web_port_tls, B->web_port);
    assert_int_not_equal(B->web_port_tls, B->port);
}

/* the same routes, the same answers, on both ports */
static void test_same_routes(void **s)
{
    static const char *const paths[] = {
        "/admin/v2/clusters",           "/admin/v2/tenants",
        "/admin/v2/namespaces/public",  "/admin/v2/clusters/standalone",
        "/admin/v2/brokers/standalone", NULL};
    for (int i = 0; paths[i]; i++) {
        mgt_http_res_t plain, tls;
        assert_int_equal(mgt_http(B->web_port, "GET", paths[i], NULL, false, &plain), 200);
        long st = https(B->web_port_tls, NULL, NULL, NULL, "GET", paths[i], NULL, &tls);
        if (st != 200) fail_msg("GET %s over HTTPS: %ld %s %s", paths[i], st, tls.err, tls.body);
        assert_string_equal(tls.body, plain.body);
        mgt_http_res_free(&plain);
        mgt_http_res_free(&tls);
    }
    /* writes over HTTPS are seen over HTTP */
    mgt_http_res_t r;
    assert_int_equal(https(B->web_port_tls, NULL, NULL, NULL, "PUT", "/admin/v2/tenants/secure",
                           "{\"allowedClusters\":[\"standalone\"]}", &r),
                     204);
    mgt_http_res_free(&r);
    assert_int_equal(mgt_http(B->web_port, "GET", "/admin/v2/tenants/secure", NULL, false, &r),
                     200);
    mgt_http_res_free(&r);
    /* errors keep their status and reason */
    assert_int_equal(
        https_status(B->web_port_tls, NULL, NULL, NULL, "/admin/v2/tenants/nope", "\"reason\""),
        404);
    /* metrics, the console and the redirect to it */
    assert_int_equal(https(B->web_port_tls, NULL, NULL, NULL, "GET", "/metrics", NULL, &r), 200);
    assert_non_null(strstr(r.body, "pulsar_topics_count"));
    mgt_http_res_free(&r);
    assert_int_equal(https(B->web_port_tls, NULL, NULL, NULL, "GET", "/console", NULL, &r), 200);
    assert_non_null(strstr(r.body, "<html"));
    mgt_http_res_free(&r);
    assert_int_equal(https(B->web_port_tls, NULL, NULL, NULL, "GET", "/", NULL, &r), 302);
    mgt_http_res_free(&r);
}

/* Pulsar's LookupData: httpUrlTls is the HTTPS URL; brokerUrlTls stays null without
 * brokerServicePortTls */
static void test_lookup(void **s)
{
    mgt_http_res_t r;
    assert_int_equal(https(B->web_port_tls, NULL, NULL, NULL, "GET",
                           "/lookup/v2/topic/persistent/public/default/tls-lookup", NULL, &r),
                     200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    char want[128];
    snprintf(want, sizeof want, "https://localhost:%d", B->web_port_tls);
    assert_string_equal(json_string_value(json_object_get(j, "httpUrlTls")), want);
    snprintf(want, sizeof want, "http://localhost:%d", B->web_port);
    assert_string_equal(json_string_value(json_object_get(j, "httpUrl")), want);
    assert_true(json_is_null(json_object_get(j, "brokerUrlTls")));
    assert_non_null(json_string_value(json_object_get(j, "brokerUrl")));
    json_decref(j);
    mgt_http_res_free(&r);
}

static void test_handshake_failures(void **s)
{
    /* a client that trusts another CA: no HTTP answer, a certificate error */
    mgt_tls_t other = {.ca_file = OTHER_CA};
    mgt_http_res_t r;
    assert_int_equal(
        mgt_https(B->web_port_tls, &other, "GET", "/admin/v2/clusters", NULL, NULL, &r), 0);
    if (!strstr(r.err, "certificate")) fail_msg("unexpected error: %s", r.err);
    mgt_http_res_free(&r);
    /* nor one with the system's CAs only */
    assert_int_equal(mgt_https(B->web_port_tls, NULL, "GET", "/admin/v2/clusters", NULL, NULL, &r),
                     0);
    mgt_http_res_free(&r);
    /* plain HTTP on the TLS port: no answer */
    assert_int_equal(mgt_http(B->web_port_tls, "GET", "/admin/v2/clusters", NULL, false, &r), 0);
    mgt_http_res_free(&r);
    /* TLS on the plain port: no handshake */
    assert_int_equal(https(B->web_port, NULL, NULL, NULL, "GET", "/admin/v2/clusters", NULL, &r),
                     0);
    mgt_http_res_free(&r);
    /* without verification the connection is still encrypted and answered */
    mgt_tls_t insecure = {.insecure = true};
    assert_int_equal(
        mgt_https(B->web_port_tls, &insecure, "GET", "/admin/v2/clusters", NULL, NULL, &r), 200);
    mgt_http_res_free(&r);
    /* the broker is still fine */
    assert_int_equal(https_status(B->web_port_tls, NULL, NULL, NULL, "/admin/v2/clusters", NULL),
                     200);
}

/* authenticationEnabled with both ports: the same token rules on each */
static void test_token_auth_over_https(void **s)
{
    char key[300], auth[1024], conf[2000];
    snprintf(key, sizeof key, "%s/secret.key", DIR_);
    assert_int_equal(mgt_write_file(key, SECRET, sizeof SECRET), 0);
    snprintf(auth, sizeof auth,
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderToken\n"
             "tokenSecretKey=file://%s\n"
             "authorizationEnabled=true\n"
             "superUserRoles=admin\n",
             key);
    tls_conf(conf, sizeof conf, auth);
    mgt_broker_t *b = mgt_broker_start(conf);
    char *admin = mgt_token_hs("HS256", SECRET, sizeof SECRET, "admin", -1, NULL);
    char *bob = mgt_token_hs("HS256", SECRET, sizeof SECRET, "bob", -1, NULL);
    int tp = b->web_port_tls;
    assert_int_equal(
        https_status(tp, NULL, NULL, NULL, "/admin/v2/tenants", "Authentication required"), 401);
    assert_int_equal(https_status(tp, NULL, NULL, "garbage", "/admin/v2/tenants", NULL), 401);
    assert_int_equal(https_status(tp, NULL, NULL, admin, "/admin/v2/tenants", "public"), 200);
    assert_int_equal(https_status(tp, NULL, NULL, bob, "/admin/v2/tenants", "super-user"), 401);
    assert_int_equal(https_status(tp, NULL, NULL, NULL, "/metrics", NULL), 200);
    mgt_http_res_t r;
    assert_int_equal(mgt_http_auth(b->web_port, "GET", "/admin/v2/tenants", NULL, false, NULL, &r),
                     401);
    mgt_http_res_free(&r);
    assert_int_equal(mgt_http_auth(b->web_port, "GET", "/admin/v2/tenants", NULL, false, admin, &r),
                     200);
    mgt_http_res_free(&r);
    free(admin);
    free(bob);
    mgt_broker_free(b);
}

/* tlsTrustCertsFilePath asks for a client certificate; tlsRequireTrustedClientCertOnConnect
 * requires one signed by it */
static void test_client_certificates(void **s)
{
    char extra[800], conf[2000];
    snprintf(extra, sizeof extra,
             "tlsTrustCertsFilePath=%s\n"
             "tlsRequireTrustedClientCertOnConnect=true\n",
             CA);
    tls_conf(conf, sizeof conf, extra);
    mgt_broker_t *b = mgt_broker_start(conf);
    int tp = b->web_port_tls;
    const char *path = "/admin/v2/clusters";
    assert_int_equal(https_status(tp, NULL, NULL, NULL, path, "client certificate is required"),
                     401);
    assert_int_equal(https_status(tp, NULL, NULL, NULL, "/metrics", "client certificate"), 401);
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, NULL, path, "standalone"), 200);
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, NULL, "/metrics", NULL), 200);
    assert_int_equal(https_status(tp, ROGUE_CERT, ROGUE_KEY, NULL, path, "not trusted"), 401);
    /* the plain port, when on, does not ask for certificates (as Pulsar's webServicePort) */
    mgt_http_res_t r;
    assert_int_equal(mgt_http(b->web_port, "GET", path, NULL, false, &r), 200);
    mgt_http_res_free(&r);
    mgt_broker_free(b);

    /* tlsAllowInsecureConnection does not weaken a required certificate (as the binary port) */
    snprintf(extra, sizeof extra,
             "tlsTrustCertsFilePath=%s\n"
             "tlsRequireTrustedClientCertOnConnect=true\n"
             "tlsAllowInsecureConnection=true\n",
             CA);
    tls_conf(conf, sizeof conf, extra);
    b = mgt_broker_start(conf);
    tp = b->web_port_tls;
    assert_int_equal(https_status(tp, NULL, NULL, NULL, path, "client certificate is required"),
                     401);
    assert_int_equal(https_status(tp, ROGUE_CERT, ROGUE_KEY, NULL, path, "not trusted"), 401);
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, NULL, path, "standalone"), 200);
    mgt_broker_free(b);

    /* optional: none is fine, a sent one must verify */
    snprintf(extra, sizeof extra, "tlsTrustCertsFilePath=%s\n", CA);
    tls_conf(conf, sizeof conf, extra);
    b = mgt_broker_start(conf);
    tp = b->web_port_tls;
    assert_int_equal(https_status(tp, NULL, NULL, NULL, path, "standalone"), 200);
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, NULL, path, "standalone"), 200);
    assert_int_equal(https_status(tp, ROGUE_CERT, ROGUE_KEY, NULL, path, "not trusted"), 401);
    mgt_broker_free(b);
}

/* AuthenticationProviderTls: the verified client certificate's CN is the role (CN=admin, a
 * superuser); beside the token provider, and alone */
static void test_certificate_authentication(void **s)
{
    char key[300], extra[1500], conf[2500];
    snprintf(key, sizeof key, "%s/secret.key", DIR_);
    assert_int_equal(mgt_write_file(key, SECRET, sizeof SECRET), 0);
    snprintf(extra, sizeof extra,
             "tlsTrustCertsFilePath=%s\n"
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderToken,org.apache.pulsar.broker.authentication."
             "AuthenticationProviderTls\n"
             "tokenSecretKey=file://%s\n"
             "authorizationEnabled=true\n"
             "superUserRoles=admin\n",
             CA, key);
    tls_conf(conf, sizeof conf, extra);
    mgt_broker_t *b = mgt_broker_start(conf);
    int tp = b->web_port_tls;
    const char *path = "/admin/v2/tenants";
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, NULL, path, "public"), 200);
    assert_int_equal(https_status(tp, NULL, NULL, NULL, path, "Authentication required"), 401);
    assert_int_equal(https_status(tp, ROGUE_CERT, ROGUE_KEY, NULL, path, "not trusted"), 401);
    char *bob = mgt_token_hs("HS256", SECRET, sizeof SECRET, "bob", -1, NULL);
    /* a token is checked first: bob is no superuser, whatever the certificate says */
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, bob, path, "super-user"), 401);
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, "garbage", path, NULL), 401);
    free(bob);
    mgt_broker_free(b);

    /* the TLS provider alone; tlsAllowInsecureConnection lets an untrusted certificate connect
     * but does not make it a role (Pulsar's documented meaning) */
    snprintf(extra, sizeof extra,
             "tlsTrustCertsFilePath=%s\n"
             "tlsAllowInsecureConnection=true\n"
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderTls\n"
             "authorizationEnabled=true\n"
             "superUserRoles=admin\n",
             CA);
    tls_conf(conf, sizeof conf, extra);
    b = mgt_broker_start(conf);
    tp = b->web_port_tls;
    assert_int_equal(https_status(tp, CLIENT_CERT, CLIENT_KEY, NULL, path, "public"), 200);
    assert_int_equal(https_status(tp, ROGUE_CERT, ROGUE_KEY, NULL, path, "Authentication required"),
                     401);
    assert_int_equal(https_status(tp, NULL, NULL, NULL, path, "Authentication required"), 401);
    mgt_http_res_t r;
    assert_int_equal(mgt_http(b->web_port, "GET", path, NULL, false, &r), 401);
    mgt_http_res_free(&r);
    mgt_broker_free(b);
}

/* Start a broker with conf (broker.conf text); it must fail with a message containing want. */
static void expect_no_start(const char *name, const char *conf, const char *want)
{
    char dir[400], cfile[450], cmd[1500], out[4096];
    snprintf(dir, sizeof dir, "%s/%s", DIR_, name);
    snprintf(cfile, sizeof cfile, "%s/broker.conf", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(cfile, "w");
    assert_non_null(f);
    fputs(conf, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s standalone -c %s --data-dir %s/data --port 0 --web-port 0 2>&1",
             mgt_bin(), cfile, dir);
    int rc = mgt_run(cmd, out, sizeof out);
    if (rc == 0 || strstr(out, "magnetar ready")) fail_msg("%s: the broker started: %s", name, out);
    if (!strstr(out, want)) fail_msg("%s: the error does not say '%s': %s", name, want, out);
}

static void test_bad_config(void **s)
{
    char conf[2000], missing[400];
    snprintf(missing, sizeof missing, "%s/certs/missing.key.pem", DIR_);
    snprintf(conf, sizeof conf,
             "webServicePortTls=0\ntlsCertificateFilePath=%s\ntlsKeyFilePath=%s\n", CERT, missing);
    expect_no_start("nokey", conf, missing);
    snprintf(conf, sizeof conf, "webServicePortTls=0\ntlsKeyFilePath=%s\n", KEY);
    expect_no_start("nocert", conf, "tlsCertificateFilePath");
    /* the client's key with the broker's certificate */
    snprintf(conf, sizeof conf,
             "webServicePortTls=0\ntlsCertificateFilePath=%s\ntlsKeyFilePath=%s\n", CERT,
             CLIENT_KEY);
    expect_no_start("mismatch", conf, "cannot start the HTTPS server");
    /* a key file that is not PEM */
    snprintf(
        conf, sizeof conf,
        "webServicePortTls=0\ntlsCertificateFilePath=%s\ntlsKeyFilePath=%s/nokey/broker.conf\n",
        CERT, DIR_);
    expect_no_start("notpem", conf, "not a PEM file");
    tls_conf(conf, sizeof conf, "tlsRequireTrustedClientCertOnConnect=true\n");
    expect_no_start("notrust", conf, "tlsTrustCertsFilePath");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_line),
        cmocka_unit_test(test_same_routes),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_handshake_failures),
        cmocka_unit_test(test_token_auth_over_https),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_certificate_authentication),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
