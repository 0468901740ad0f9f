/* 54-client-tls: libmagnetar and the tools over TLS (pulsar+ssl://, the broker's
 * brokerServicePortTls) with certificates from a throw-away CA (support/mkcerts.sh):
 * - produce and consume trusting ca.cert.pem: several messages, batched, and a ~1 MB message,
 *   live and read back from storage by a second subscription (stored entries of that size take
 *   the broker's other send path); lookups follow the broker's pulsar+ssl:// URL;
 * - trusting other-ca.cert.pem: creation fails at once with MG_ERR_CONNECT and a TLS reason in
 *   mg_last_error_message(), not after a timeout; tls_allow_insecure_connection connects anyway;
 * - tls_validate_hostname with "localhost" (the certificate's DNS name) and "127.0.0.1" (its
 *   IP) passes; a TLS client against the plain port fails the handshake; a trust file that
 *   cannot be read fails mg_client_create with MG_ERR_INVALID_ARG;
 * - mTLS (tlsRequireTrustedClientCertOnConnect): no client certificate, no session; with
 *   client.cert.pem, produce and consume;
 * - magnetar-client and magnetar-perf with --url pulsar+ssl:// and Pulsar's TLS options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "magnetar/magnetar.h"
#include "mgclient.h"

#define TLS_PLUGIN "org.apache.pulsar.client.impl.auth.AuthenticationTls"

static mgt_broker_t *B;
static char dir[256], ca[300], other_ca[300], ccert[300], ckey[300];

static int setup(void **s)
{
    (void)s;
    snprintf(dir, sizeof dir, "%s/mg-ctls-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    const char *src = getenv("MG_SOURCE_DIR");
    char cmd[800];
    snprintf(cmd, sizeof cmd, "sh '%s/tests/integration/support/mkcerts.sh' '%s'",
             src ? src : mgt_source_dir(), dir);
    assert_int_equal(system(cmd), 0);
    snprintf(ca, sizeof ca, "%s/ca.cert.pem", dir);
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.cert.pem", dir);
    snprintf(ccert, sizeof ccert, "%s/client.cert.pem", dir);
    snprintf(ckey, sizeof ckey, "%s/client.key.pem", dir);
    char conf[1000];
    snprintf(conf, sizeof conf,
             "brokerServicePortTls=0\ntlsCertificateFilePath=%s/broker.cert.pem\n"
             "tlsKeyFilePath=%s/broker.key.pem\n",
             dir, dir);
    B = mgt_broker_start(conf);
    assert_true(B->port_tls > 0);
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    mgt_broker_free(B);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* A TLS client of host:port trusting trust (NULL: the system's CAs); NULL with *r set when
 * mg_client_create fails. */
static mg_client_t *tls_client(const char *host, int port, const char *trust, bool insecure,
                               bool hostname, mg_result *r)
{
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.operation_timeout_ms = 10000;
    cc.tls_trust_certs_file_path = trust;
    cc.tls_allow_insecure_connection = insecure;
    cc.tls_validate_hostname = hostname;
    char url[300];
    snprintf(url, sizeof url, "pulsar+ssl://%s:%d", host, port);
    mg_client_t *cl = NULL;
    mg_result rr = mg_client_create(url, &cc, &cl);
    if (r) *r = rr;
    return rr ? NULL : cl;
}

/* Produce n messages (payload "<tag>-i") and read them back through a new subscription. */
static void roundtrip(mg_client_t *cl, const char *topic, const char *tag, int n)
{
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(cl, topic, "rt", &cf, &c), MG_OK);
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, topic, NULL, &p), MG_OK);
    for (int i = 0; i < n; i++) {
        char b[64];
        snprintf(b, sizeof b, "%s-%d", tag, i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
        mg_message_free(m);
    }
    for (int i = 0; i < n; i++) {
        mg_message_t *m;
        assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
        char want[64];
        snprintf(want, sizeof want, "%s-%d", tag, i);
        assert_int_equal(mg_message_len(m), strlen(want));
        assert_memory_equal(mg_message_data(m), want, strlen(want));
        assert_int_equal(mg_consumer_ack(c, m), MG_OK);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_consumer_close(c), MG_OK);
}

static void on_sent(mg_result r, const mg_message_id_t *id, void *ctx)
{
    (void)id;
    if (r == MG_OK) __atomic_add_fetch((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

static void check_big(const mg_message_t *m, size_t len, uint8_t seed)
{
    assert_int_equal(mg_message_len(m), len);
    const uint8_t *d = mg_message_data(m);
    for (size_t i = 0; i < len; i += 4093)
        if (d[i] != (uint8_t)(seed + i * 7)) fail_msg("byte %zu of the large message differs", i);
    assert_int_equal(d[len - 1], (uint8_t)(seed + (len - 1) * 7));
}

static void test_produce_consume(void **s)
{
    (void)s;
    mg_client_t *cl = tls_client("localhost", B->port_tls, ca, false, false, NULL);
    assert_non_null(cl);
    roundtrip(cl, "tls-plain", "m", 10);

    /* batching on: 200 async sends, then one ~1 MB message */
    const char *topic = "tls-batch";
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(cl, topic, "live", &cf, &c), MG_OK);
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = true;
    pc.batching_max_messages = 50;
    pc.batching_max_delay_ms = 5;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, topic, &pc, &p), MG_OK);
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        char b[32];
        snprintf(b, sizeof b, "b-%d", i);
        mg_message_t *m = mg_message_new(b, strlen(b));
        assert_int_equal(mg_producer_send_async(p, m, on_sent, &ok), MG_OK);
        mg_message_free(m);
    }
    assert_int_equal(mg_producer_flush(p), MG_OK);
    assert_int_equal(__atomic_load_n(&ok, __ATOMIC_SEQ_CST), 200);
    size_t big = 1000 * 1000 + 17;
    uint8_t *buf = malloc(big);
    for (size_t i = 0; i < big; i++)
        buf[i] = (uint8_t)(3 + i * 7);
    mg_message_t *m = mg_message_new(buf, big);
    free(buf);
    assert_int_equal(mg_producer_send(p, m, NULL), MG_OK);
    mg_message_free(m);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
        char want[32];
        snprintf(want, sizeof want, "b-%d", i);
        assert_int_equal(mg_message_len(m), strlen(want));
        assert_memory_equal(mg_message_data(m), want, strlen(want));
        assert_int_equal(mg_consumer_ack(c, m), MG_OK);
        mg_message_free(m);
    }
    assert_int_equal(mg_consumer_receive(c, &m, 10000), MG_OK);
    check_big(m, big, 3);
    mg_consumer_ack(c, m);
    mg_message_free(m);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);

    /* a new client and subscription read everything back from storage, large entry included */
    cl = tls_client("127.0.0.1", B->port_tls, ca, false, false, NULL);
    assert_non_null(cl);
    assert_int_equal(mg_consumer_subscribe(cl, topic, "stored", &cf, &c), MG_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(mg_consumer_receive(c, &m, 5000), MG_OK);
        char want[32];
        snprintf(want, sizeof want, "b-%d", i);
        assert_memory_equal(mg_message_data(m), want, strlen(want));
        mg_message_free(m);
    }
    assert_int_equal(mg_consumer_receive(c, &m, 10000), MG_OK);
    check_big(m, big, 3);
    mg_message_free(m);
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);
}

/* Several large messages in a row, so TLS records pile up in the session while the I/O thread
 * reads (SSL_pending), consumed while they are stored and after. */
static void test_large_messages(void **s)
{
    (void)s;
    mg_client_t *cl = tls_client("localhost", B->port_tls, ca, false, false, NULL);
    assert_non_null(cl);
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    mg_producer_t *p;
    assert_int_equal(mg_producer_create(cl, "tls-large", &pc, &p), MG_OK);
    size_t big = 900 * 1000;
    uint8_t *buf = malloc(big);
    int ok = 0;
    for (int k = 0; k < 6; k++) {
        for (size_t i = 0; i < big; i++)
            buf[i] = (uint8_t)(k + i * 7);
        mg_message_t *m = mg_message_new(buf, big);
        assert_int_equal(mg_producer_send_async(p, m, on_sent, &ok), MG_OK);
        mg_message_free(m);
    }
    free(buf);
    assert_int_equal(mg_producer_flush(p), MG_OK);
    assert_int_equal(__atomic_load_n(&ok, __ATOMIC_SEQ_CST), 6);
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *c;
    assert_int_equal(mg_consumer_subscribe(cl, "tls-large", "s", &cf, &c), MG_OK);
    for (int k = 0; k < 6; k++) {
        mg_message_t *m;
        assert_int_equal(mg_consumer_receive(c, &m, 10000), MG_OK);
        check_big(m, big, (uint8_t)k);
        mg_message_free(m);
    }
    assert_int_equal(mg_consumer_close(c), MG_OK);
    assert_int_equal(mg_producer_close(p), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);
}

/* Another CA: a verification failure, said at once; the insecure option connects anyway. */
static void test_untrusted(void **s)
{
    (void)s;
    mg_client_t *cl = tls_client("localhost", B->port_tls, other_ca, false, false, NULL);
    assert_non_null(cl);
    uint64_t t0 = mg_mono_ms();
    mg_producer_t *p = NULL;
    mg_result r = mg_producer_create(cl, "tls-untrusted", NULL, &p);
    if (r != MG_ERR_CONNECT) fail_msg("producer create gave %d (%s)", r, mg_strerror(r));
    assert_null(p);
    const char *why = mg_last_error_message();
    if (!strstr(why, "TLS") || !strstr(why, "certificate verify failed"))
        fail_msg("reason: '%s'", why);
    mg_consumer_t *c = NULL;
    assert_int_equal(mg_consumer_subscribe(cl, "tls-untrusted", "s", NULL, &c), MG_ERR_CONNECT);
    assert_non_null(strstr(mg_last_error_message(), "TLS"));
    int n = -1;
    assert_int_equal(mg_client_get_partitions(cl, "tls-untrusted", &n), MG_ERR_CONNECT);
    if (mg_mono_ms() - t0 > 5000)
        fail_msg("three refusals took %llu ms", (unsigned long long)(mg_mono_ms() - t0));
    assert_int_equal(mg_client_close(cl), MG_OK);

    cl = tls_client("localhost", B->port_tls, other_ca, true, false, NULL);
    assert_non_null(cl);
    roundtrip(cl, "tls-insecure", "i", 3);
    assert_int_equal(mg_client_close(cl), MG_OK);
    /* no trust file at all: the system's CAs, which do not know the test CA */
    cl = tls_client("localhost", B->port_tls, NULL, false, false, NULL);
    assert_non_null(cl);
    assert_int_equal(mg_producer_create(cl, "tls-untrusted", NULL, &p), MG_ERR_CONNECT);
    assert_non_null(strstr(mg_last_error_message(), "certificate verify failed"));
    assert_int_equal(mg_client_close(cl), MG_OK);
}

static void test_hostname_verification(void **s)
{
    (void)s;
    mg_client_t *cl = tls_client("localhost", B->port_tls, ca, false, true, NULL);
    assert_non_null(cl);
    roundtrip(cl, "tls-hostname", "h", 3);
    assert_int_equal(mg_client_close(cl), MG_OK);
    cl = tls_client("127.0.0.1", B->port_tls, ca, false, true, NULL);
    assert_non_null(cl);
    int n = -1;
    assert_int_equal(mg_client_get_partitions(cl, "tls-hostname", &n), MG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mg_client_close(cl), MG_OK);
}

static void test_errors(void **s)
{
    (void)s;
    /* TLS spoken to the plain port: the handshake fails, quickly */
    mg_client_t *cl = tls_client("localhost", B->port, ca, false, false, NULL);
    assert_non_null(cl);
    uint64_t t0 = mg_mono_ms();
    mg_producer_t *p = NULL;
    assert_int_equal(mg_producer_create(cl, "tls-err", NULL, &p), MG_ERR_CONNECT);
    assert_non_null(strstr(mg_last_error_message(), "TLS"));
    assert_true(mg_mono_ms() - t0 < 8000);
    assert_int_equal(mg_client_close(cl), MG_OK);
    /* files that cannot be loaded */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/nope.pem", dir);
    mg_result r;
    assert_null(tls_client("localhost", B->port_tls, missing, false, false, &r));
    assert_int_equal(r, MG_ERR_INVALID_ARG);
    assert_non_null(strstr(mg_last_error_message(), "nope.pem"));
    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.tls_cert_file_path = ccert; /* without its key */
    assert_int_equal(mg_client_create("pulsar+ssl://localhost:6651", &cc, &cl), MG_ERR_INVALID_ARG);
    assert_int_equal(mg_client_create("pulsar+tls://localhost:6651", NULL, &cl),
                     MG_ERR_INVALID_URL);
    /* a plain URL ignores the TLS options */
    cc.tls_cert_file_path = missing;
    char url[64];
    snprintf(url, sizeof url, "pulsar://localhost:%d", B->port);
    assert_int_equal(mg_client_create(url, &cc, &cl), MG_OK);
    assert_int_equal(mg_client_close(cl), MG_OK);
}

/* A broker that wants a client certificate signed by its tlsTrustCertsFilePath. */
static void test_mtls(void **s)
{
    (void)s;
    char conf[1200];
    snprintf(conf, sizeof conf,
             "brokerServicePortTls=0\ntlsCertificateFilePath=%s/broker.cert.pem\n"
             "tlsKeyFilePath=%s/broker.key.pem\ntlsTrustCertsFilePath=%s\n"
             "tlsRequireTrustedClientCertOnConnect=true\n",
             dir, dir, ca);
    mgt_broker_t *mb = mgt_broker_start(conf);
    assert_true(mb->port_tls > 0);
    mg_client_t *cl = tls_client("localhost", mb->port_tls, ca, false, false, NULL);
    assert_non_null(cl);
    uint64_t t0 = mg_mono_ms();
    mg_producer_t *p = NULL;
    mg_result r = mg_producer_create(cl, "mtls", NULL, &p);
    if (r != MG_ERR_CONNECT) fail_msg("without a client certificate: %d (%s)", r, mg_strerror(r));
    if (!strstr(mg_last_error_message(), "TLS")) fail_msg("reason: '%s'", mg_last_error_message());
    assert_true(mg_mono_ms() - t0 < 8000);
    assert_int_equal(mg_client_close(cl), MG_OK);

    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.operation_timeout_ms = 10000;
    cc.tls_trust_certs_file_path = ca;
    cc.tls_cert_file_path = ccert;
    cc.tls_key_file_path = ckey;
    char url[64];
    snprintf(url, sizeof url, "pulsar+ssl://localhost:%d", mb->port_tls);
    assert_int_equal(mg_client_create(url, &cc, &cl), MG_OK);
    roundtrip(cl, "mtls", "c", 5);
    assert_int_equal(mg_client_close(cl), MG_OK);
    mgt_broker_free(mb);
}

static void test_tools(void **s)
{
    (void)s;
    char cmd[4096], out[16384];
    const char *bin = mgt_tools_dir();
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-client --url pulsar+ssl://localhost:%d "
             "--tls-trust-cert-path %s produce tool-tls -m x,y -n 2 2>&1",
             bin, B->port_tls, ca);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("produce over TLS: %s", out);
    assert_non_null(strstr(out, "4 messages successfully produced"));
    /* options after the command; hostname verification on */
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-client consume tool-tls -s tsub -n 4 -p Earliest --url "
             "pulsar+ssl://localhost:%d --tls-trust-cert-path=%s "
             "--tls-enable-hostname-verification 2>&1",
             bin, B->port_tls, ca);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("consume over TLS: %s", out);
    assert_non_null(strstr(out, "content:x"));
    assert_non_null(strstr(out, "content:y"));
    assert_non_null(strstr(out, "4 messages successfully consumed"));
    /* an untrusted broker: exit 1 naming the TLS failure, well before any timeout */
    uint64_t t0 = mg_mono_ms();
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-client --url pulsar+ssl://localhost:%d "
             "--tls-trust-cert-path %s produce tool-tls -m z 2>&1",
             bin, B->port_tls, other_ca);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    if (!strstr(out, "certificate verify failed")) fail_msg("no TLS reason: %s", out);
    /* ... unless insecure */
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-client --url pulsar+ssl://localhost:%d "
             "--tls-trust-cert-path %s --tls-allow-insecure produce tool-tls -m z 2>&1",
             bin, B->port_tls, other_ca);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("insecure produce: %s", out);
    assert_true(mg_mono_ms() - t0 < 20000);
    /* an unreadable trust file */
    snprintf(cmd, sizeof cmd,
             "%s/magnetar-client --url pulsar+ssl://localhost:%d --tls-trust-cert-path %s/nope.pem "
             "produce tool-tls -m z 2>&1",
             bin, B->port_tls, dir);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "nope.pem"));
    /* AuthenticationTls params without the key file: a usage error */
    snprintf(cmd, sizeof cmd,
             "%s/magnetar-client --url pulsar+ssl://localhost:%d --auth-plugin %s "
             "--auth-params tlsCertFile:%s produce tool-tls -m z 2>&1",
             bin, B->port_tls, TLS_PLUGIN, ccert);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "tlsKeyFile"));
    assert_non_null(strstr(out, "usage:"));
    /* magnetar-perf with pulsar-perf's --trust-cert-file */
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-perf produce perf-tls -u pulsar+ssl://localhost:%d "
             "--trust-cert-file %s -r 0 -s 64 -m 300 2>&1",
             bin, B->port_tls, ca);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("perf over TLS: %s", out);
    assert_non_null(strstr(out, "=== summary: produced 300 messages"));
}

/* The tools with AuthenticationTls against a broker that wants client certificates. */
static void test_tools_mtls(void **s)
{
    (void)s;
    char conf[1200];
    snprintf(conf, sizeof conf,
             "brokerServicePortTls=0\ntlsCertificateFilePath=%s/broker.cert.pem\n"
             "tlsKeyFilePath=%s/broker.key.pem\ntlsTrustCertsFilePath=%s\n"
             "tlsRequireTrustedClientCertOnConnect=true\n",
             dir, dir, ca);
    mgt_broker_t *mb = mgt_broker_start(conf);
    char cmd[4096], out[16384];
    const char *bin = mgt_tools_dir();
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-client --url pulsar+ssl://localhost:%d "
             "--tls-trust-cert-path %s --auth-plugin %s "
             "--auth-params tlsCertFile:%s,tlsKeyFile:%s produce tool-mtls -m a,b 2>&1",
             bin, mb->port_tls, ca, TLS_PLUGIN, ccert, ckey);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("produce with a client certificate: %s", out);
    assert_non_null(strstr(out, "2 messages successfully produced"));
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-perf consume tool-mtls -u pulsar+ssl://localhost:%d "
             "--trust-cert-file %s --auth-plugin %s "
             "--auth-params '{\"tlsCertFile\":\"%s\",\"tlsKeyFile\":\"%s\"}' "
             "-p Earliest -m 2 -time 20 2>&1",
             bin, mb->port_tls, ca, TLS_PLUGIN, ccert, ckey);
    if (mgt_run(cmd, out, sizeof out)) fail_msg("perf consume with a client certificate: %s", out);
    assert_non_null(strstr(out, "=== summary: received 2 messages"));
    /* without the certificate: refused, exit 1 */
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s/magnetar-client --url pulsar+ssl://localhost:%d "
             "--tls-trust-cert-path %s produce tool-mtls -m c 2>&1",
             bin, mb->port_tls, ca);
    assert_int_equal(mgt_run(cmd, out, sizeof out), 1);
    if (!strstr(out, "TLS")) fail_msg("no TLS reason: %s", out);
    mgt_broker_free(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_consume), cmocka_unit_test(test_large_messages),
        cmocka_unit_test(test_untrusted),       cmocka_unit_test(test_hostname_verification),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_mtls),
        cmocka_unit_test(test_tools),           cmocka_unit_test(test_tools_mtls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
