/* fuzz_token: libFuzzer target for the token verifier (src/broker/auth.c), which reads what an
 * unauthenticated client sends in CONNECT and in an Authorization header: arbitrary bytes
 * through auth_token_role with a secret key (HS*) and with an RSA public key (RS*, PS*), and
 * the ES* path against an EC key. Must never crash, leak or read out of bounds; a token it
 * accepts must give a non-empty role. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/auth.h"
#include "common/alloc.h"
#include "common/log.h"

static mg_auth_t *hs, *rs, *es;

/* A verifier for a new public key of the given type (EVP_PKEY_RSA or EVP_PKEY_EC). */
static mg_auth_t *with_public_key(int type)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
    EVP_PKEY *k = NULL;
    if (!c || EVP_PKEY_keygen_init(c) <= 0) abort();
    if (type == EVP_PKEY_EC && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1) <= 0)
        abort();
    if (type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_keygen_bits(c, 1024) <= 0) abort();
    if (EVP_PKEY_keygen(c, &k) <= 0) abort();
    EVP_PKEY_CTX_free(c);
    uint8_t *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    char *enc = auth_base64(der, (size_t)n);
    mg_config_t cfg;
    config_defaults(&cfg);
    cfg.authentication_enabled = true;
    strcpy(cfg.authentication_providers,
           "org.apache.pulsar.broker.authentication.AuthenticationProviderToken");
    snprintf(cfg.token_public_key, sizeof cfg.token_public_key, "data:;base64,%s", enc);
    char err[300];
    mg_auth_t *a = auth_new(&cfg, err, sizeof err);
    if (!a) abort();
    mg_free(enc);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
    return a;
}

static void init(void)
{
    mg_log_level = MG_LOG_ERROR - 1;
    mg_config_t cfg;
    config_defaults(&cfg);
    cfg.authentication_enabled = true;
    strcpy(cfg.authentication_providers,
           "org.apache.pulsar.broker.authentication.AuthenticationProviderToken");
    strcpy(cfg.token_secret_key, "data:;base64,c2VjcmV0LWtleS1mb3ItZnV6emluZw==");
    strcpy(cfg.token_audience, "magnetar");
    char err[300];
    hs = auth_new(&cfg, err, sizeof err);
    if (!hs) abort();
    rs = with_public_key(EVP_PKEY_RSA);
    es = with_public_key(EVP_PKEY_EC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!hs) init();
    mg_auth_t *all[3] = {hs, rs, es};
    for (int i = 0; i < 3; i++) {
        char role[256], err[300];
        if (auth_token_role(all[i], (const char *)data, size, 1800000000, role, sizeof role, err,
                            sizeof err) == 0 &&
            !role[0])
            __builtin_trap();
    }
    return 0;
}
