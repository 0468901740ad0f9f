/* mgtoken.h - JWTs for the auth tests, minted here with OpenSSL (HS256 with a secret, RS256 with
 * a generated RSA key), so the tests do not trust the broker's own code to make what it checks. */
#ifndef MGTOKEN_H
#define MGTOKEN_H

#include <stddef.h>
#include <stdint.h>

/* A compact JWT {"alg":alg,"typ":"JWT"}.{"sub":sub[,"exp":exp]} signed with HMAC (alg HS256,
 * HS384 or HS512) over key. exp < 0: no "exp" claim. extra_claims: NULL, or JSON members
 * without braces appended to the payload (e.g. "\"aud\":\"x\""). Returns a malloc'd string. */
char *mgt_token_hs(const char *alg, const uint8_t *key, size_t keylen, const char *sub, int64_t exp,
                   const char *extra_claims);

/* A new RSA key pair (2048 bits) for RS256: writes the public key (DER, as `pulsar tokens
 * create-key-pair` does) to pub_path; returns an opaque handle for mgt_token_rs256. */
void *mgt_rsa_new(const char *pub_path);
char *mgt_token_rs256(void *rsa, const char *sub, int64_t exp);
void mgt_rsa_free(void *rsa);

/* base64url without padding (JWT's encoding) of n bytes; malloc'd. */
char *mgt_b64url(const uint8_t *p, size_t n);

/* Write n random-looking fixed bytes (a test secret) to path; returns 0. */
int mgt_write_file(const char *path, const void *data, size_t n);

#endif
