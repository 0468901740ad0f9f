/* mgtoken.c - see mgtoken.h. */
#include "mgtoken.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *mgt_b64url(const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *o = malloc(n * 4 / 3 + 4), *q = o;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *q++ = t[v >> 18], *q++ = t[(v >> 12) & 63], *q++ = t[(v >> 6) & 63], *q++ = t[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *q++ = t[v >> 18], *q++ = t[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *q++ = t[v >> 18], *q++ = t[(v >> 12) & 63], *q++ = t[(v >> 6) & 63];
    }
    *q = 0;
    return o;
}

/* header.payload, unsigned */
static char *signing_input(const char *alg, const char *sub, int64_t exp, const char *extra)
{
    char hdr[100], pl[1024];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    int n = snprintf(pl, sizeof pl, "{\"sub\":\"%s\"", sub);
    if (exp >= 0) n += snprintf(pl + n, sizeof pl - (size_t)n, ",\"exp\":%lld", (long long)exp);
    if (extra) n += snprintf(pl + n, sizeof pl - (size_t)n, ",%s", extra);
    snprintf(pl + n, sizeof pl - (size_t)n, "}");
    char *h = mgt_b64url((const uint8_t *)hdr, strlen(hdr)),
         *p = mgt_b64url((const uint8_t *)pl, strlen(pl));
    char *out = malloc(strlen(h) + strlen(p) + 2);
    sprintf(out, "%s.%s", h, p);
    free(h);
    free(p);
    return out;
}

static char *join_sig(char *in, const uint8_t *sig, size_t n)
{
    char *s = mgt_b64url(sig, n);
    char *out = malloc(strlen(in) + strlen(s) + 2);
    sprintf(out, "%s.%s", in, s);
    free(in);
    free(s);
    return out;
}

char *mgt_token_hs(const char *alg, const uint8_t *key, size_t keylen, const char *sub, int64_t exp,
                   const char *extra_claims)
{
    const EVP_MD *md = !strcmp(alg, "HS384")   ? EVP_sha384()
                       : !strcmp(alg, "HS512") ? EVP_sha512()
                                               : EVP_sha256();
    char *in = signing_input(alg, sub, exp, extra_claims);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    HMAC(md, key, (int)keylen, (const uint8_t *)in, strlen(in), mac, &maclen);
    return join_sig(in, mac, maclen);
}

void *mgt_rsa_new(const char *pub_path)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    EVP_PKEY *k = NULL;
    if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) <= 0 ||
        EVP_PKEY_keygen(c, &k) <= 0)
        abort();
    EVP_PKEY_CTX_free(c);
    uint8_t *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    if (n <= 0 || mgt_write_file(pub_path, der, (size_t)n)) abort();
    OPENSSL_free(der);
    return k;
}

char *mgt_token_rs256(void *rsa, const char *sub, int64_t exp)
{
    char *in = signing_input("RS256", sub, exp, NULL);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t n = 0;
    if (EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, rsa) <= 0 ||
        EVP_DigestSign(m, NULL, &n, (const uint8_t *)in, strlen(in)) <= 0)
        abort();
    uint8_t *sig = malloc(n);
    if (EVP_DigestSign(m, sig, &n, (const uint8_t *)in, strlen(in)) <= 0) abort();
    EVP_MD_CTX_free(m);
    char *out = join_sig(in, sig, n);
    free(sig);
    return out;
}

void mgt_rsa_free(void *rsa)
{
    EVP_PKEY_free(rsa);
}

int mgt_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}
