/* 12-tls: the binary protocol over TLS (brokerServicePortTls, Pulsar's 6651), against a broker
 * with a certificate from a throw-away CA (support/mkcerts.sh) and the plain port still on.
 * - Produce and consume over TLS, small messages and 1 MB ones, live and caught up from disk
 *   (large stored entries, sent with sendfile on the plain port, go through TLS here); the
 *   plain port serves the same topic; LOOKUP over TLS names pulsar+ssl://.
 * - A client that trusts another CA fails the handshake; plain Pulsar frames sent to the TLS
 *   port end that connection only; the broker stays up.
 * - tlsRequireTrustedClientCertOnConnect: no client certificate, no session; a certificate
 *   signed by tlsTrustCertsFilePath, a session; with AuthenticationProviderTls the
 *   certificate's CN is the role of a CONNECT with auth method "tls" (a superuser here).
 * - TLS only (brokerServicePort and webServicePort empty): lookups name only the TLS URLs.
 * - A TLS port without a readable key: the broker does not start, and says which file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mghttp.h"
#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x

static char dir[64], ca[128], other_ca[128], cert[128], key[128], ccert[128], ckey[128];
static mgt_broker_t *B;

static int setup(void **s)
{
    (void)s;
    snprintf(dir, sizeof dir, "/tmp/mg-it-tls-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh '%s/tests/integration/support/mkcerts.sh' '%s'", mgt_source_dir(),
             dir);
    if (system(cmd)) return -1;
    snprintf(ca, sizeof ca, "%s/ca.cert.pem", dir);
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.cert.pem", dir);
    snprintf(cert, sizeof cert, "%s/broker.cert.pem", dir);
    snprintf(key, sizeof key, "%s/broker.key.pem", dir);
    snprintf(ccert, sizeof ccert, "%s/client.cert.pem", dir);
    snprintf(ckey, sizeof ckey, "%s/client.key.pem", dir);
    char conf[600];
    snprintf(conf, sizeof conf,
             "brokerServicePortTls=0\ntlsCertificateFilePath=%s\ntlsKeyFilePath=%s\n", cert, key);
    B = mgt_broker_start(conf);
    return B->port_tls > 0 ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    mgt_broker_free(B);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) ? -1 : 0;
}

static mgt_conn_t *tls_conn(int port)
{
    char err[256] = "";
    mgt_conn_t *c = mgt_connect_tls(port, ca, NULL, NULL, true, err, sizeof err);
    if (!c) fail_msg("TLS connect: %s", err);
    return c;
}

static void fill(char *p, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
}

/* The next MESSAGE's payload ends with want[0..n) (the payload is metadata + message). */
static void expect_message_ending(mgt_conn_t *c, const char *want, size_t n)
{
    frame_t f;
    assert_int_equal(mgt_expect(c, T(MESSAGE), &f, 10000), 1);
    assert_true(f.payload_len > n);
    assert_memory_equal(f.payload + f.payload_len - n, want, n);
}

static void test_produce_consume(void **s)
{
    (void)s;
    const char *topic = "persistent://public/default/tls-t";
    size_t big = 1 << 20;
    char *m = malloc(big);
    mgt_conn_t *p = tls_conn(B->port_tls);
    frame_t f;

    /* LOOKUP over TLS names the TLS URL */
    pb_cmd_t cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandLookupTopic lk = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC__INIT;
    cmd.type = T(LOOKUP);
    cmd.lookuptopic = &lk;
    lk.topic = (char *)topic;
    lk.request_id = 99;
    mgt_send_cmd(p, &cmd);
    assert_int_equal(mgt_expect(p, T(LOOKUP_RESPONSE), &f, 3000), 1);
    char url[64];
    snprintf(url, sizeof url, "pulsar+ssl://localhost:%d", B->port_tls);
    assert_string_equal(f.cmd->lookuptopicresponse->brokerserviceurltls, url);

    mgt_conn_t *live = tls_conn(B->port_tls);
    assert_int_equal(mgt_subscribe(live, topic, "live", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(live, 1, 1000), 0);
    assert_int_equal(mgt_producer(p, topic, 1, NULL, &f), T(PRODUCER_SUCCESS));
    char name[128];
    snprintf(name, sizeof name, "%s", f.cmd->producer_success->producer_name);
    for (int i = 0; i < 6; i++) { /* 100 B, 1 MB, 100 B, 1 MB, ... */
        size_t n = i % 2 ? big : 100;
        fill(m, n, i);
        assert_int_equal(mgt_send(p, 1, (uint64_t)i, name, m, n, NULL, 0), 0);
        assert_int_equal(mgt_expect(p, T(SEND_RECEIPT), &f, 10000), 1);
        assert_int_equal(f.cmd->send_receipt->sequence_id, (uint64_t)i);
    }
    for (int i = 0; i < 6; i++) {
        size_t n = i % 2 ? big : 100;
        fill(m, n, i);
        expect_message_ending(live, m, n);
    }
    /* caught up from disk, over TLS and over the plain port */
    mgt_conn_t *late = tls_conn(B->port_tls);
    assert_int_equal(mgt_subscribe(late, topic, "late", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(late, 1, 1000), 0);
    mgt_conn_t *plain = mgt_connect(B->port, true);
    assert_int_equal(mgt_subscribe(plain, topic, "plain", 0, 1, true, &f), T(SUCCESS));
    assert_int_equal(mgt_flow(plain, 1, 1000), 0);
    for (int i = 0; i < 6; i++) {
        size_t n = i % 2 ? big : 100;
        fill(m, n, i);
        expect_message_ending(late, m, n);
        expect_message_ending(plain, m, n);
    }
    mgt_close(plain);
    mgt_close(late);
    mgt_close(live);
    mgt_close(p);
    free(m);
    /* the cluster's record names the TLS URL too (Pulsar's ClusterData.brokerServiceUrlTls) */
    mgt_http_res_t r;
    assert_int_equal(mgt_http(B->web_port, "GET", "/admin/v2/clusters/standalone", NULL, false, &r),
                     200);
    char want[96];
    snprintf(want, sizeof want, "\"brokerServiceUrlTls\":\"pulsar+ssl://localhost:%d\"",
             B->port_tls);
    if (!strstr(r.body, want)) fail_msg("cluster record %s lacks %s", r.body, want);
    mgt_http_res_free(&r);
}

static void test_refusals(void **s)
{
    (void)s;
    char err[256] = "";
    assert_null(mgt_connect_tls(B->port_tls, other_ca, NULL, NULL, false, err, sizeof err));
    assert_non_null(strstr(err, "certificate verify failed"));
    /* plain frames on the TLS port: that connection ends */
    mgt_conn_t *c = mgt_connect(B->port_tls, false);
    mgt_send_connect(c, "plain", 21, NULL, NULL, -1);
    frame_t f;
    assert_int_equal(mgt_recv(c, &f, 3000), -1);
    mgt_close(c);
    /* TLS on the plain port: no session */
    assert_null(mgt_connect_tls(B->port, ca, NULL, NULL, false, err, sizeof err));
    assert_true(mgt_broker_alive(B));
    c = tls_conn(B->port_tls); /* and TLS still works */
    mgt_close(c);
}

static void test_client_certificates(void **s)
{
    (void)s;
    char conf[800];
    snprintf(conf, sizeof conf,
             "brokerServicePortTls=0\ntlsCertificateFilePath=%s\ntlsKeyFilePath=%s\n"
             "tlsTrustCertsFilePath=%s\ntlsRequireTrustedClientCertOnConnect=true\n"
             "authenticationEnabled=true\n"
             "authenticationProviders=org.apache.pulsar.broker.authentication."
             "AuthenticationProviderTls\n"
             "authorizationEnabled=true\nsuperUserRoles=admin\n",
             cert, key, ca);
    mgt_broker_t *m = mgt_broker_start(conf);
    char err[256] = "";
    /* without a certificate: refused in the handshake (TLS 1.2) or at the first read (1.3) */
    mgt_conn_t *c = mgt_connect_tls(m->port_tls, ca, NULL, NULL, false, err, sizeof err);
    if (c) {
        mgt_send_connect(c, "no-cert", 21, NULL, NULL, -1);
        frame_t f;
        assert_int_equal(mgt_recv(c, &f, 3000), -1);
        mgt_close(c);
    }
    /* a certificate from tlsTrustCertsFilePath's CA; with AuthenticationProviderTls its CN
     * (admin, a superuser here) is the role of a CONNECT with auth method "tls" */
    frame_t f;
    for (int with_method = 0; with_method < 2; with_method++) {
        c = mgt_connect_tls(m->port_tls, ca, ccert, ckey, false, err, sizeof err);
        if (!c) fail_msg("with a client certificate: %s", err);
        mgt_send_connect(c, "mtls", 21, with_method ? "tls" : NULL, NULL, -1);
        assert_int_equal(mgt_recv(c, &f, 3000), 1);
        if (!with_method) { /* no method: no role, and no anonymous role here */
            assert_int_equal(f.cmd->type, T(ERROR));
            assert_int_equal(f.cmd->error->error, PULSAR__PROTO__SERVER_ERROR__AuthenticationError);
            mgt_close(c);
            continue;
        }
        assert_int_equal(f.cmd->type, T(CONNECTED));
        assert_int_equal(mgt_producer(c, "persistent://public/default/mtls", 1, NULL, &f),
                         T(PRODUCER_SUCCESS));
        mgt_close(c);
    }
    mgt_http_res_t r; /* the certificate's authentication, counted as Pulsar does */
    assert_int_equal(mgt_http(m->web_port, "GET", "/metrics", NULL, false, &r), 200);
    if (!strstr(r.body,
                "pulsar_authentication_success_total{provider_name=\"AuthenticationProviderTls\","
                "auth_method=\"tls\"} 1\n"))
        fail_msg("no TLS authentication counted in /metrics");
    mgt_http_res_free(&r);
    mgt_broker_free(m);
}

/* TLS only, as Pulsar with brokerServicePort and webServicePort empty: nothing listens in
 * clear; LOOKUP and the HTTP lookup name only the TLS URLs; producing over TLS works. */
static void test_tls_only(void **s)
{
    (void)s;
    char conf[800];
    snprintf(conf, sizeof conf,
             "brokerServicePort=\nwebServicePort=\nbrokerServicePortTls=0\nwebServicePortTls=0\n"
             "tlsCertificateFilePath=%s\ntlsKeyFilePath=%s\n",
             cert, key);
    mgt_broker_t *m = mgt_broker_start(conf);
    assert_int_equal(m->port, -1);
    assert_int_equal(m->web_port, -1);
    assert_true(m->port_tls > 0 && m->web_port_tls > 0);
    mgt_conn_t *c = tls_conn(m->port_tls);
    frame_t f;
    pb_cmd_t cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandLookupTopic lk = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC__INIT;
    cmd.type = T(LOOKUP);
    cmd.lookuptopic = &lk;
    lk.topic = "persistent://public/default/tls-only";
    lk.request_id = 5;
    mgt_send_cmd(c, &cmd);
    assert_int_equal(mgt_expect(c, T(LOOKUP_RESPONSE), &f, 3000), 1);
    assert_null(f.cmd->lookuptopicresponse->brokerserviceurl);
    assert_non_null(f.cmd->lookuptopicresponse->brokerserviceurltls);
    assert_int_equal(mgt_producer(c, "persistent://public/default/tls-only", 1, NULL, &f),
                     T(PRODUCER_SUCCESS));
    mgt_close(c);
    mgt_tls_t t = {.ca_file = ca};
    mgt_http_res_t r;
    assert_int_equal(mgt_https(m->web_port_tls, &t, "GET",
                               "/lookup/v2/topic/persistent/public/default/tls-only", NULL, NULL,
                               &r),
                     200);
    if (!strstr(r.body, "\"brokerUrl\":null") || !strstr(r.body, "\"httpUrl\":null") ||
        !strstr(r.body, "\"brokerUrlTls\":\"pulsar+ssl://"))
        fail_msg("lookup over HTTPS: %s", r.body);
    mgt_http_res_free(&r);
    mgt_broker_free(m);
}

static void test_bad_key(void **s)
{
    (void)s;
    char cmd[1200], out[4096];
    snprintf(
        cmd, sizeof cmd,
        "mkdir -p %s/bad && printf 'brokerServicePortTls=0\\ntlsCertificateFilePath=%s\\n"
        "tlsKeyFilePath=%s/missing.key.pem\\n' > %s/bad/broker.conf && "
        "%s standalone -c %s/bad/broker.conf --data-dir %s/bad/data --port 0 --web-port 0 2>&1",
        dir, cert, dir, dir, mgt_bin(), dir, dir);
    assert_int_not_equal(mgt_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "missing.key.pem")) fail_msg("start-up error does not name the key: %s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_consume),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_tls_only),
        cmocka_unit_test(test_bad_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
