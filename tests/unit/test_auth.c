/* test_auth: the token verifier (src/broker/auth.c) against tokens minted with OpenSSL directly
 * (tests/integration/support/mgtoken.c): HS256/384/512 with a secret from a file, data: or
 * base64; RS256 with a DER or PEM public key; ES256; expiry, not-before, audience, the role
 * claim; and the tokens it must refuse: another key, a changed payload, alg none, an HS token
 * against a public key (the key-confusion attack), malformed framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/auth.h"
#include "common/config.h"
#include "mgtoken.h"

#define NOW 1800000000LL

static const uint8_t SECRET[32] = "0123456789abcdef0123456789abcdef";
static char dir[64];

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static mg_config_t token_conf(void)
{
    mg_config_t c;
    config_defaults(&c);
    c.authentication_enabled = true;
    strcpy(c.authentication_providers,
           "org.apache.pulsar.broker.authentication.AuthenticationProviderToken");
    return c;
}

static mg_auth_t *secret_auth(void)
{
    char p[128];
    path_in(p, sizeof p, "secret.key");
    assert_int_equal(mgt_write_file(p, SECRET, sizeof SECRET), 0);
    mg_config_t c = token_conf();
    snprintf(c.token_secret_key, sizeof c.token_secret_key, "file://%s", p);
    char err[300];
    mg_auth_t *a = auth_new(&c, err, sizeof err);
    if (!a) fail_msg("auth_new: %s", err);
    return a;
}

/* 0 and the role, or -1 and the reason */
static int check(const mg_auth_t *a, const char *tok, char *role, char *err)
{
    return auth_token_role(a, tok, strlen(tok), NOW, role, 256, err, 300);
}

static void expect_role(const mg_auth_t *a, char *tok, const char *want)
{
    char role[256], err[300];
    if (check(a, tok, role, err)) fail_msg("refused: %s (token %s)", err, tok);
    assert_string_equal(role, want);
    free(tok);
}

static void expect_refused(const mg_auth_t *a, char *tok, const char *reason_part)
{
    char role[256], err[300];
    assert_int_equal(check(a, tok, role, err), -1);
    if (!strstr(err, reason_part)) fail_msg("reason '%s' lacks '%s'", err, reason_part);
    free(tok);
}

static void test_disabled_and_bad_config(void **s)
{
    (void)s;
    mg_config_t c;
    config_defaults(&c);
    char err[300] = "x";
    assert_null(auth_new(&c, err, sizeof err));
    assert_string_equal(err, ""); /* off: no verifier, no error */

    c = token_conf();
    assert_null(auth_new(&c, err, sizeof err)); /* no key */
    assert_non_null(strstr(err, "tokenSecretKey"));
    strcpy(c.token_secret_key, "file:///nonexistent/secret.key");
    assert_null(auth_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/secret.key"));
    strcpy(c.token_secret_key, "data:;base64,c2VjcmV0");
    c.authentication_providers[0] = '\0';
    assert_null(auth_new(&c, err, sizeof err)); /* no token provider */
    assert_non_null(strstr(err, "AuthenticationProviderToken"));
    c = token_conf();
    strcpy(c.token_public_key, "data:;base64,bm90IGEga2V5");
    assert_null(auth_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "public key"));
}

static void test_hs(void **s)
{
    (void)s;
    mg_auth_t *a = secret_auth();
    expect_role(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", -1, NULL), "alice");
    expect_role(a, mgt_token_hs("HS384", SECRET, sizeof SECRET, "bob", NOW + 60, NULL), "bob");
    expect_role(a, mgt_token_hs("HS512", SECRET, sizeof SECRET, "carol", NOW + 1, NULL), "carol");
    /* a trailing newline, as a token read from a file may have */
    char *t = mgt_token_hs("HS256", SECRET, sizeof SECRET, "dave", -1, NULL);
    char *tn = malloc(strlen(t) + 2);
    sprintf(tn, "%s\n", t);
    free(t);
    expect_role(a, tn, "dave");

    expect_refused(a, mgt_token_hs("HS256", (const uint8_t *)"another key", 11, "alice", -1, NULL),
                   "signature");
    expect_refused(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", NOW, NULL), "expired");
    expect_refused(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", NOW - 3600, NULL),
                   "expired");
    expect_refused(
        a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", -1, "\"nbf\":1900000000"), "nbf");
    expect_role(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "erin", -1, "\"nbf\":1700000000"),
                "erin");
    expect_refused(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "", -1, NULL), "'sub'");
    expect_refused(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", -1, "\"exp\":\"soon\""),
                   "expired"); /* duplicate/odd exp: refused either way */

    /* the payload changed after signing: {"sub":"admin"} spliced in */
    t = mgt_token_hs("HS256", SECRET, sizeof SECRET, "alice", -1, NULL);
    char *adm = mgt_token_hs("HS256", SECRET, sizeof SECRET, "admin", -1, NULL);
    char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    char *e1 = strchr(adm, '.'), *e2 = strchr(e1 + 1, '.');
    char forged[1024];
    snprintf(forged, sizeof forged, "%.*s%.*s%s", (int)(d1 - t), t, (int)(e2 - e1), e1, d2);
    free(t);
    free(adm);
    expect_refused(a, strdup(forged), "signature");

    /* alg none, with and without a signature part */
    expect_refused(a, strdup("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."), "signature");
    expect_refused(a, strdup("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.AAAA"), "algorithm");
    /* framing */
    expect_refused(a, strdup("abc"), "three");
    expect_refused(a, strdup("a.b.c.d"), "three");
    expect_refused(a, strdup("!!.??.xx"), "base64url JSON");
    expect_refused(a, strdup("WzFd.WzFd.AAAA"), "base64url JSON"); /* [1]: JSON, not objects */
    char role[256], err[300];
    assert_int_equal(auth_token_role(a, "", 0, NOW, role, sizeof role, err, sizeof err), -1);
    auth_free(a);
}

static void test_secret_forms_claim_audience(void **s)
{
    (void)s;
    mg_config_t c = token_conf();
    /* data:;base64 and bare base64 of the same 32 bytes */
    strcpy(c.token_secret_key, "data:;base64,MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
    strcpy(c.token_auth_claim, "role");
    strcpy(c.token_audience, "magnetar");
    char err[300];
    mg_auth_t *a = auth_new(&c, err, sizeof err);
    if (!a) fail_msg("%s", err);
    expect_role(a,
                mgt_token_hs("HS256", SECRET, sizeof SECRET, "x", -1,
                             "\"role\":\"ops\",\"aud\":\"magnetar\""),
                "ops");
    expect_role(a,
                mgt_token_hs("HS256", SECRET, sizeof SECRET, "x", -1,
                             "\"role\":\"ops\",\"aud\":[\"other\",\"magnetar\"]"),
                "ops");
    expect_refused(
        a,
        mgt_token_hs("HS256", SECRET, sizeof SECRET, "x", -1, "\"role\":\"ops\",\"aud\":\"other\""),
        "audience");
    expect_refused(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "x", -1, "\"aud\":\"magnetar\""),
                   "'role'");
    auth_free(a);
    strcpy(c.token_secret_key, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY");
    c.token_audience[0] = '\0';
    strcpy(c.token_auth_claim, "sub");
    a = auth_new(&c, err, sizeof err);
    if (!a) fail_msg("%s", err);
    expect_role(a, mgt_token_hs("HS256", SECRET, sizeof SECRET, "frank", -1, NULL), "frank");
    auth_free(a);
}

static void test_rs256_and_key_confusion(void **s)
{
    (void)s;
    char der[128], pem[128];
    path_in(der, sizeof der, "public.key");
    void *rsa = mgt_rsa_new(der);
    mg_config_t c = token_conf();
    snprintf(c.token_public_key, sizeof c.token_public_key, "file://%s", der);
    char err[300];
    mg_auth_t *a = auth_new(&c, err, sizeof err);
    if (!a) fail_msg("%s", err);
    expect_role(a, mgt_token_rs256(rsa, "svc-partner", NOW + 10), "svc-partner");
    expect_refused(a, mgt_token_rs256(rsa, "svc-partner", NOW - 10), "expired");
    /* an HS256 token whose secret is the public key's bytes: never checked against a public key */
    FILE *f = fopen(der, "rb");
    uint8_t kb[2048];
    size_t kn = fread(kb, 1, sizeof kb, f);
    fclose(f);
    expect_refused(a, mgt_token_hs("HS256", kb, kn, "admin", -1, NULL), "public key");
    /* another RSA key */
    char other[128];
    path_in(other, sizeof other, "other.key");
    void *rsa2 = mgt_rsa_new(other);
    expect_refused(a, mgt_token_rs256(rsa2, "admin", -1), "signature");
    auth_free(a);

    /* the same key as PEM */
    path_in(pem, sizeof pem, "public.pem");
    f = fopen(pem, "w");
    PEM_write_PUBKEY(f, rsa);
    fclose(f);
    snprintf(c.token_public_key, sizeof c.token_public_key, "file://%s", pem);
    a = auth_new(&c, err, sizeof err);
    if (!a) fail_msg("%s", err);
    expect_role(a, mgt_token_rs256(rsa, "svc-onboarding", -1), "svc-onboarding");
    /* an RS token against a secret */
    mg_auth_t *hs = secret_auth();
    expect_refused(hs, mgt_token_rs256(rsa, "admin", -1), "secret key");
    auth_free(hs);
    auth_free(a);
    mgt_rsa_free(rsa);
    mgt_rsa_free(rsa2);
}

static void test_es256(void **s)
{
    (void)s;
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    assert_true(EVP_PKEY_keygen_init(kc) > 0);
    assert_true(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kc, NID_X9_62_prime256v1) > 0);
    assert_true(EVP_PKEY_keygen(kc, &k) > 0);
    EVP_PKEY_CTX_free(kc);
    char der[128];
    path_in(der, sizeof der, "ec.key");
    uint8_t *d = NULL;
    int dn = i2d_PUBKEY(k, &d);
    assert_int_equal(mgt_write_file(der, d, (size_t)dn), 0);
    OPENSSL_free(d);

    const char *hdr = "{\"alg\":\"ES256\"}", *pl = "{\"sub\":\"edge\"}";
    char *h = mgt_b64url((const uint8_t *)hdr, strlen(hdr)),
         *p = mgt_b64url((const uint8_t *)pl, strlen(pl));
    char in[512];
    snprintf(in, sizeof in, "%s.%s", h, p);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t sn = 0;
    assert_true(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) > 0);
    assert_true(EVP_DigestSign(m, NULL, &sn, (uint8_t *)in, strlen(in)) > 0);
    uint8_t sig[160];
    assert_true(EVP_DigestSign(m, sig, &sn, (uint8_t *)in, strlen(in)) > 0);
    EVP_MD_CTX_free(m);
    const uint8_t *sp = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &sp, (long)sn);
    uint8_t raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
    ECDSA_SIG_free(es);
    char *sg = mgt_b64url(raw, 64);
    char tok[1024];
    snprintf(tok, sizeof tok, "%s.%s", in, sg);

    mg_config_t c = token_conf();
    snprintf(c.token_public_key, sizeof c.token_public_key, "file://%s", der);
    char err[300];
    mg_auth_t *a = auth_new(&c, err, sizeof err);
    if (!a) fail_msg("%s", err);
    expect_role(a, strdup(tok), "edge");
    raw[5] ^= 1;
    free(sg);
    sg = mgt_b64url(raw, 64);
    snprintf(tok, sizeof tok, "%s.%s", in, sg);
    expect_refused(a, strdup(tok), "signature");
    /* an RS256 token against an EC key */
    snprintf(tok, sizeof tok, "%s.%s", "eyJhbGciOiJSUzI1NiJ9", p);
    char tok2[1100];
    snprintf(tok2, sizeof tok2, "%s.%s", tok, sg);
    expect_refused(a, strdup(tok2), "does not match");
    auth_free(a);
    free(h);
    free(p);
    free(sg);
    EVP_PKEY_free(k);
}

static void test_superusers(void **s)
{
    (void)s;
    mg_config_t c;
    config_defaults(&c);
    strcpy(c.super_user_roles, "admin, pulsar-super ,ops");
    assert_true(auth_is_superuser(&c, "admin"));
    assert_true(auth_is_superuser(&c, "pulsar-super"));
    assert_true(auth_is_superuser(&c, "ops"));
    assert_false(auth_is_superuser(&c, "adm"));
    assert_false(auth_is_superuser(&c, "admin, pulsar-super"));
    assert_false(auth_is_superuser(&c, ""));
    assert_false(auth_is_superuser(&c, NULL));
    c.super_user_roles[0] = '\0';
    assert_false(auth_is_superuser(&c, "admin"));
}

static int rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/mg-auth-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_and_bad_config),
        cmocka_unit_test(test_hs),
        cmocka_unit_test(test_secret_forms_claim_audience),
        cmocka_unit_test(test_rs256_and_key_confusion),
        cmocka_unit_test(test_es256),
        cmocka_unit_test(test_superusers),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    rm_dir();
    return r;
}
