/* auth.c - token authentication and authorization; see auth.h. OpenSSL does the cryptography
 * (HMAC, RSA and ECDSA verification, key parsing) and jansson the JSON; what is here is the
 * JWT framing, the key sources Pulsar's broker.conf accepts, the claim checks, and the lookup
 * of grants in the namespace policies. */
#include "broker/auth.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/topic_name.h"
#include "common/util.h"
#include "storage/metastore.h"

#define TOKEN_PROVIDER "AuthenticationProviderToken"
#define TLS_PROVIDER "AuthenticationProviderTls"
#define KEY_MAX (64u << 10) /* bound on a key file */
#define TOKEN_MAX (16u << 10)

struct mg_auth {
    uint8_t *secret; /* tokenSecretKey: HS256/384/512 */
    size_t secret_len;
    EVP_PKEY *pub; /* tokenPublicKey: RS*, PS*, ES* */
    char claim[64];
    char aud_claim[64];
    char audience[256];
    char anonymous[256];
    bool tls; /* AuthenticationProviderTls: a verified client certificate's CN is the role */
    struct auth_stats *stats; /* counters for /metrics (written through a const verifier) */
};

/* Pulsar's authentication metrics: successes per provider, failures per provider and reason
 * (the providers' ErrorCode names), expired tokens. Any thread; relaxed atomics. */
enum { P_TOKEN, P_TLS, NPROV };
enum { R_INVALID_AUTH_DATA, R_INVALID_TOKEN, R_INVALID_AUDIENCES, R_INVALID_CERTS, NREASON };
static const char *const PROV_NAME[NPROV] = {TOKEN_PROVIDER, TLS_PROVIDER};
static const char *const PROV_METHOD[NPROV] = {"token", "tls"};
static const char *const REASON_NAME[NREASON] = {"INVALID_AUTH_DATA", "INVALID_TOKEN",
                                                 "INVALID_AUDIENCES", "INVALID_CERTS"};
struct auth_stats {
    uint64_t ok[NPROV];
    uint64_t fail[NPROV][NREASON];
    uint64_t expired;
};

static void count(uint64_t *c)
{
    __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* --- base64 (standard and URL-safe alphabets, padding optional) -------------------------- */

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decode n chars of s into a new buffer (*out, *outlen); white space is skipped, '=' ends the
 * input. -1 on a character outside both alphabets or an impossible length. */
static int b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    uint8_t *o = mg_malloc(n / 4 * 3 + 3);
    if (!o) return -1;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0, chars = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '=') break;
        if (isspace(c)) continue;
        int v = b64_val(c);
        if (v < 0) goto bad;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        chars++;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (uint8_t)(acc >> bits);
        }
    }
    if (chars % 4 == 1) goto bad;
    *out = o;
    *outlen = k;
    return 0;
bad:
    mg_free(o);
    return -1;
}

/* --- keys -------------------------------------------------------------------------------- */

static int read_file(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = mg_malloc(KEY_MAX);
    size_t n = buf ? fread(buf, 1, KEY_MAX, f) : 0;
    bool too_big = buf && n == KEY_MAX;
    fclose(f);
    if (!buf || too_big || n == 0) {
        snprintf(err, errlen, "key file %s is %s", path,
                 !buf ? "unreadable"
                 : n  ? "too large"
                      : "empty");
        mg_free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* A key as broker.conf gives it (Pulsar's forms): file:///path (the file's bytes),
 * data:[type][;base64],<data>, or the key itself in base64. */
static int key_bytes(const char *spec, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    if (!strncmp(spec, "file:", 5)) {
        const char *p = spec + 5;
        if (!strncmp(p, "//", 2)) p += 2; /* file:///abs -> /abs */
        return read_file(p, out, len, err, errlen);
    }
    if (!strncmp(spec, "data:", 5)) {
        const char *comma = strchr(spec, ',');
        if (!comma) {
            snprintf(err, errlen, "data: key without ','");
            return -1;
        }
        bool b64 = false;
        for (const char *p = spec + 5; p + 7 <= comma; p++)
            if (!strncmp(p, ";base64", 7)) b64 = true;
        if (!b64) {
            *len = strlen(comma + 1);
            *out = (uint8_t *)mg_strdup(comma + 1);
            return *out ? 0 : -1;
        }
        spec = comma + 1;
    }
    if (b64_decode(spec, strlen(spec), out, len) < 0 || *len == 0) {
        snprintf(err, errlen, "key is neither file:, data: nor base64");
        return -1;
    }
    return 0;
}

static EVP_PKEY *parse_public_key(const uint8_t *p, size_t n)
{
    const uint8_t *q = p;
    EVP_PKEY *k =
        d2i_PUBKEY(NULL, &q, (long)n); /* DER, what `pulsar tokens create-key-pair` writes */
    if (k) return k;
    BIO *bio = BIO_new_mem_buf(p, (int)n);
    if (!bio) return NULL;
    k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return k;
}

mg_auth_t *auth_new(const mg_config_t *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    if (!cfg->authentication_enabled) return NULL;
    bool token = strstr(cfg->authentication_providers, TOKEN_PROVIDER) != NULL;
    bool tls = strstr(cfg->authentication_providers, TLS_PROVIDER) != NULL;
    if (!token && !tls) {
        snprintf(err, errlen,
                 "authenticationEnabled=true needs authenticationProviders="
                 "org.apache.pulsar.broker.authentication." TOKEN_PROVIDER " or ." TLS_PROVIDER
                 " (the providers Magnetar has)");
        return NULL;
    }
    if (token && !cfg->token_secret_key[0] && !cfg->token_public_key[0]) {
        snprintf(err, errlen, "token authentication needs tokenSecretKey or tokenPublicKey");
        return NULL;
    }
    mg_auth_t *a = mg_calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->tls = tls;
    a->stats = mg_calloc(1, sizeof *a->stats);
    if (!a->stats) {
        snprintf(err, errlen, "out of memory");
        auth_free(a);
        return NULL;
    }
    snprintf(a->claim, sizeof a->claim, "%s",
             cfg->token_auth_claim[0] ? cfg->token_auth_claim : "sub");
    snprintf(a->aud_claim, sizeof a->aud_claim, "%s",
             cfg->token_audience_claim[0] ? cfg->token_audience_claim : "aud");
    snprintf(a->audience, sizeof a->audience, "%s", cfg->token_audience);
    snprintf(a->anonymous, sizeof a->anonymous, "%s", cfg->anonymous_user_role);
    char kerr[300];
    if (!token) return a; /* client certificates only */
    if (cfg->token_secret_key[0]) {
        if (key_bytes(cfg->token_secret_key, &a->secret, &a->secret_len, kerr, sizeof kerr) < 0) {
            snprintf(err, errlen, "tokenSecretKey: %s", kerr);
            auth_free(a);
            return NULL;
        }
    } else {
        uint8_t *p;
        size_t n;
        if (key_bytes(cfg->token_public_key, &p, &n, kerr, sizeof kerr) < 0) {
            snprintf(err, errlen, "tokenPublicKey: %s", kerr);
            auth_free(a);
            return NULL;
        }
        a->pub = parse_public_key(p, n);
        mg_free(p);
        if (!a->pub) {
            snprintf(err, errlen, "tokenPublicKey: not a DER or PEM public key");
            auth_free(a);
            return NULL;
        }
    }
    return a;
}

void auth_free(mg_auth_t *a)
{
    if (!a) return;
    if (a->secret) OPENSSL_cleanse(a->secret, a->secret_len);
    mg_free(a->secret);
    EVP_PKEY_free(a->pub);
    mg_free(a->stats);
    mg_free(a);
}

bool auth_tls_enabled(const mg_auth_t *a)
{
    return a && a->tls;
}

const char *auth_anonymous_role(const mg_auth_t *a)
{
    return a && a->anonymous[0] ? a->anonymous : NULL;
}

/* --- JWT ----------------------------------------------------------------------------------- */

static const EVP_MD *alg_digest(const char *alg)
{
    const char *bits = alg + 2;
    if (!strcmp(bits, "256")) return EVP_sha256();
    if (!strcmp(bits, "384")) return EVP_sha384();
    if (!strcmp(bits, "512")) return EVP_sha512();
    return NULL;
}

/* ECDSA in a JWT is r||s, each the curve's size; OpenSSL verifies DER. */
static uint8_t *ecdsa_raw_to_der(const uint8_t *sig, size_t n, size_t *derlen)
{
    if (n == 0 || n % 2) return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(n / 2), NULL), *s = BN_bin2bn(sig + n / 2, (int)(n / 2), NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    uint8_t *der = NULL;
    int len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (len <= 0) return NULL;
    *derlen = (size_t)len;
    return der;
}

static bool verify_sig(const mg_auth_t *a, const char *alg, const uint8_t *msg, size_t msglen,
                       const uint8_t *sig, size_t siglen, char *err, size_t errlen)
{
    const EVP_MD *md = strlen(alg) == 5 ? alg_digest(alg) : NULL;
    if (!md) {
        snprintf(err, errlen, "unsupported token algorithm '%s'", alg);
        return false;
    }
    if (!strncmp(alg, "HS", 2)) {
        if (!a->secret) {
            snprintf(err, errlen, "token signed with %s, but the broker has a public key", alg);
            return false;
        }
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned maclen = 0;
        if (!HMAC(md, a->secret, (int)a->secret_len, msg, msglen, mac, &maclen) ||
            maclen != siglen || CRYPTO_memcmp(mac, sig, siglen)) {
            snprintf(err, errlen, "token signature does not verify");
            return false;
        }
        return true;
    }
    bool rs = !strncmp(alg, "RS", 2), ps = !strncmp(alg, "PS", 2), es = !strncmp(alg, "ES", 2);
    if (!rs && !ps && !es) {
        snprintf(err, errlen, "unsupported token algorithm '%s'", alg);
        return false;
    }
    if (!a->pub) {
        snprintf(err, errlen, "token signed with %s, but the broker has a secret key", alg);
        return false;
    }
    int type = EVP_PKEY_base_id(a->pub);
    if ((es && type != EVP_PKEY_EC) || (!es && type != EVP_PKEY_RSA)) {
        snprintf(err, errlen, "token algorithm %s does not match the broker's public key", alg);
        return false;
    }
    uint8_t *der = NULL;
    size_t derlen = 0;
    if (es) {
        der = ecdsa_raw_to_der(sig, siglen, &derlen);
        if (!der) {
            snprintf(err, errlen, "token signature does not verify");
            return false;
        }
        sig = der;
        siglen = derlen;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ok = c && EVP_DigestVerifyInit(c, &pc, md, NULL, a->pub) > 0;
    if (ok && ps)
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) > 0;
    ok = ok && EVP_DigestVerify(c, sig, siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(c);
    OPENSSL_free(der);
    if (!ok) snprintf(err, errlen, "token signature does not verify");
    return ok;
}

static json_t *decode_json_part(const char *p, size_t n)
{
    uint8_t *raw;
    size_t len;
    if (b64_decode(p, n, &raw, &len) < 0) return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    mg_free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool audience_ok(const mg_auth_t *a, json_t *claims)
{
    if (!a->audience[0]) return true;
    json_t *v = json_object_get(claims, a->aud_claim);
    if (json_is_string(v)) return !strcmp(json_string_value(v), a->audience);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (json_is_string(e) &&
                                    !strcmp(json_string_value(e), a->audience)) return true;
    return false;
}

int auth_token_role(const mg_auth_t *a, const char *token, size_t len, int64_t now_s, char *role,
                    size_t rolelen, char *err, size_t errlen)
{
    int64_t exp;
    return auth_token_check(a, token, len, now_s, role, rolelen, &exp, err, errlen);
}

static int token_check(const mg_auth_t *a, const char *token, size_t len, int64_t now_s, char *role,
                       size_t rolelen, int64_t *exp_s, int *why, char *err, size_t errlen)
{
    *why = R_INVALID_TOKEN;
    if (!token || len == 0 || len > TOKEN_MAX) {
        *why = R_INVALID_AUTH_DATA;
        snprintf(err, errlen, "no token");
        return -1;
    }
    while (len && isspace((unsigned char)token[len - 1]))
        len--;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        snprintf(err, errlen, "malformed token: not three dot-separated parts");
        return -1;
    }
    json_t *hdr = decode_json_part(token, (size_t)(d1 - token));
    json_t *claims = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    uint8_t *sig = NULL;
    size_t siglen = 0;
    int rc = -1;
    if (!hdr || !claims) {
        snprintf(err, errlen, "malformed token: header or claims are not base64url JSON objects");
        goto out;
    }
    if (b64_decode(d2 + 1, len - (size_t)(d2 + 1 - token), &sig, &siglen) < 0 || siglen == 0) {
        snprintf(err, errlen, "malformed token: no signature");
        goto out;
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg) {
        snprintf(err, errlen, "malformed token: no alg");
        goto out;
    }
    if (!verify_sig(a, alg, (const uint8_t *)token, (size_t)(d2 - token), sig, siglen, err, errlen))
        goto out;
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    if (exp && (!json_is_number(exp) || json_number_value(exp) <= (double)now_s)) {
        snprintf(err, errlen, "token expired");
        count(&a->stats->expired);
        goto out;
    }
    if (nbf && (!json_is_number(nbf) || json_number_value(nbf) > (double)now_s)) {
        snprintf(err, errlen, "token not valid yet (nbf)");
        goto out;
    }
    if (!audience_ok(a, claims)) {
        *why = R_INVALID_AUDIENCES;
        snprintf(err, errlen, "token audience does not include %s", a->audience);
        goto out;
    }
    const char *r = json_string_value(json_object_get(claims, a->claim));
    if (!r || !*r || strlen(r) >= rolelen) {
        snprintf(err, errlen, "token has no usable '%s' claim", a->claim);
        goto out;
    }
    strcpy(role, r);
    if (exp) *exp_s = (int64_t)json_number_value(exp);
    rc = 0;
out:
    json_decref(hdr);
    json_decref(claims);
    mg_free(sig);
    return rc;
}

int auth_token_check(const mg_auth_t *a, const char *token, size_t len, int64_t now_s, char *role,
                     size_t rolelen, int64_t *exp_s, char *err, size_t errlen)
{
    *exp_s = 0;
    if (!a || (!a->secret && !a->pub)) {
        snprintf(err, errlen, "token authentication is not configured (authenticationProviders)");
        return -1;
    }
    int why;
    int rc = token_check(a, token, len, now_s, role, rolelen, exp_s, &why, err, errlen);
    count(rc ? &a->stats->fail[P_TOKEN][why] : &a->stats->ok[P_TOKEN]);
    return rc;
}

void auth_count_tls(const mg_auth_t *a, bool ok)
{
    if (a && a->stats) count(ok ? &a->stats->ok[P_TLS] : &a->stats->fail[P_TLS][R_INVALID_CERTS]);
}

void auth_metrics_text(const mg_auth_t *a, mg_buf_t *out)
{
    if (!a || !a->stats) return;
    char line[300];
    const char *h = "# HELP pulsar_authentication_success_total Successful authentications\n"
                    "# TYPE pulsar_authentication_success_total counter\n";
    buf_append(out, h, strlen(h));
    for (int p = 0; p < NPROV; p++) {
        int n = snprintf(
            line, sizeof line,
            "pulsar_authentication_success_total{provider_name=\"%s\",auth_method=\"%s\"} %llu\n",
            PROV_NAME[p], PROV_METHOD[p],
            (unsigned long long)__atomic_load_n(&a->stats->ok[p], __ATOMIC_RELAXED));
        buf_append(out, line, (size_t)n);
    }
    h = "# HELP pulsar_authentication_failures_total Failed authentications\n"
        "# TYPE pulsar_authentication_failures_total counter\n";
    buf_append(out, h, strlen(h));
    for (int p = 0; p < NPROV; p++)
        for (int r = 0; r < NREASON; r++) {
            uint64_t v = __atomic_load_n(&a->stats->fail[p][r], __ATOMIC_RELAXED);
            if (!v) continue; /* only the reasons seen, as Pulsar's counters appear */
            int n = snprintf(
                line, sizeof line,
                "pulsar_authentication_failures_total{provider_name=\"%s\",auth_method=\"%s\","
                "reason=\"%s\"} %llu\n",
                PROV_NAME[p], PROV_METHOD[p], REASON_NAME[r], (unsigned long long)v);
            buf_append(out, line, (size_t)n);
        }
    int n = snprintf(line, sizeof line,
                     "# HELP pulsar_expired_token_total Tokens refused as expired\n"
                     "# TYPE pulsar_expired_token_total counter\npulsar_expired_token_total %llu\n",
                     (unsigned long long)__atomic_load_n(&a->stats->expired, __ATOMIC_RELAXED));
    buf_append(out, line, (size_t)n);
}

/* --- authorization ------------------------------------------------------------------------ */

/* Is role an item of a comma-separated list (spaces around items ignored)? */
static bool in_list(const char *list, const char *role)
{
    size_t rl = strlen(role);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == rl && rl && !memcmp(p, role, rl)) return true;
        p = e;
    }
    return false;
}

bool auth_is_superuser(const mg_config_t *cfg, const char *role)
{
    return role && *role && in_list(cfg->super_user_roles, role);
}

static json_t *meta_json(broker_t *b, const char *key)
{
    char *v;
    size_t n;
    if (meta_get(b->meta, key, &v, &n)) return NULL;
    json_t *j = json_loadb(v, n, 0, NULL);
    mg_free(v);
    return j;
}

/* Do the actions granted to role in grants ({role: [action, ...]}) include any of `actions`? */
static bool granted(json_t *grants, const char *role, int actions)
{
    json_t *list = json_object_get(grants, role), *e;
    size_t i;
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(e);
        if (!s) continue;
        if (((actions & AUTH_PRODUCE) && !strcmp(s, "produce")) ||
            ((actions & AUTH_CONSUME) && !strcmp(s, "consume")))
            return true;
    }
    return false;
}

/* A namespace's Policies JSON (NULL when it has none), read once per check. */
static json_t *ns_policies_json(broker_t *b, const char *tenant, const char *ns)
{
    char key[700];
    snprintf(key, sizeof key, "/admin/policies/%s/%s", tenant, ns);
    return meta_json(b, key);
}

/* Do pol's grants give role any of `actions` on topic full: namespace_auth, then
 * destination_auth for the topic, or for its partitioned topic base (NULL: not a partition)? */
static bool policies_grant(json_t *pol, const char *role, const char *full, const char *base,
                           int actions)
{
    json_t *ap = json_object_get(pol, "auth_policies");
    json_t *dest = json_object_get(ap, "destination_auth");
    return granted(json_object_get(ap, "namespace_auth"), role, actions) ||
           granted(json_object_get(dest, full), role, actions) ||
           (base && granted(json_object_get(dest, base), role, actions));
}

bool auth_can(broker_t *b, const char *role, const char *topic, int actions)
{
    if (!b->cfg->authorization_enabled) return true;
    if (!role || !*role) return false;
    if (auth_is_superuser(b->cfg, role)) return true;
    mg_topic_name_t tn;
    char err[128];
    if (topic_name_parse(topic, &tn, err, sizeof err)) return false;
    json_t *pol = ns_policies_json(b, tn.tenant, tn.ns);
    bool ok = policies_grant(pol, role, tn.full, tn.partition >= 0 ? tn.base : NULL, actions);
    json_decref(pol);
    return ok;
}

bool auth_ns_granted(broker_t *b, const char *role, const char *tenant, const char *ns, int actions)
{
    if (!b->cfg->authorization_enabled) return true;
    if (!role || !*role) return false;
    if (auth_is_superuser(b->cfg, role)) return true;
    json_t *pol = ns_policies_json(b, tenant, ns);
    bool ok = granted(json_object_get(json_object_get(pol, "auth_policies"), "namespace_auth"),
                      role, actions);
    json_decref(pol);
    return ok;
}

bool auth_conn_allows(conn_t *c, const char *topic, int actions)
{
    if (!c->b->cfg->authorization_enabled) return true;
    mg_topic_name_t tn;
    char err[128];
    if (!topic || topic_name_parse(topic, &tn, err, sizeof err)) return true;
    return auth_can(c->b, c->role, tn.full, actions);
}

/* Pulsar's canConsume on a role that is not a superuser, against the namespace's policies pol:
 * consume granted on topic full (base: its partitioned topic, or NULL), and for subscription
 * sub the roles bound to it (subscription_auth_roles) and subscription_auth_mode "Prefix".
 * False with the reason in why. */
static bool may_subscribe(json_t *pol, const char *role, const char *full, const char *base,
                          const char *sub, char *why, size_t whylen)
{
    if (!role || !*role || !policies_grant(pol, role, full, base, AUTH_CONSUME)) {
        snprintf(why, whylen, "Client is not authorized to subscribe to %s", full);
        return false;
    }
    if (!sub) return true;
    json_t *roles = json_object_get(
        json_object_get(json_object_get(pol, "auth_policies"), "subscription_auth_roles"), sub);
    if (json_array_size(roles) > 0) {
        bool listed = false;
        size_t i;
        json_t *e;
        json_array_foreach(roles, i, e) if (json_is_string(e) &&
                                            !strcmp(json_string_value(e), role)) listed = true;
        if (!listed) {
            snprintf(why, whylen, "Role %s is not among the roles allowed on subscription %s", role,
                     sub);
            return false;
        }
    }
    const char *mode = json_string_value(json_object_get(pol, "subscription_auth_mode"));
    if (mode && !strcmp(mode, "Prefix") && strncmp(sub, role, strlen(role))) {
        snprintf(why, whylen,
                 "The subscription name needs to be prefixed by the authentication role, like "
                 "%s-xxxx for topic: %s",
                 role, full);
        return false;
    }
    return true;
}

bool auth_conn_may_subscribe(conn_t *c, const char *topic, const char *sub, char *why,
                             size_t whylen)
{
    broker_t *b = c->b;
    if (!b->cfg->authorization_enabled || auth_is_superuser(b->cfg, c->role)) return true;
    mg_topic_name_t tn;
    char err[128];
    if (!topic || topic_name_parse(topic, &tn, err, sizeof err)) return true;
    json_t *pol = ns_policies_json(b, tn.tenant, tn.ns);
    bool ok =
        may_subscribe(pol, c->role, tn.full, tn.partition >= 0 ? tn.base : NULL, sub, why, whylen);
    json_decref(pol);
    return ok;
}

bool auth_is_tenant_admin(broker_t *b, const char *role, const char *tenant)
{
    if (!b->cfg->authorization_enabled) return true;
    if (!role || !*role) return false;
    if (auth_is_superuser(b->cfg, role)) return true;
    char key[400];
    snprintf(key, sizeof key, "/admin/policies/%s", tenant);
    json_t *t = meta_json(b, key), *e;
    bool ok = false;
    size_t i;
    json_array_foreach(json_object_get(t, "adminRoles"), i,
                       e) if (json_is_string(e) && !strcmp(json_string_value(e), role)) ok = true;
    json_decref(t);
    return ok;
}

/* What auth_recheck_namespace closes: collected first, since closing changes the maps walked. */
typedef struct victims {
    struct victim {
        void *who;
        bool producer;
    } * v;
    size_t n, cap;
} victims_t;

static void victims_add(victims_t *vs, void *who, bool producer)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 16;
        struct victim *nv = mg_realloc(vs->v, cap * sizeof *nv);
        if (!nv) return; /* out of memory: that one stays open until it reconnects */
        vs->v = nv;
        vs->cap = cap;
    }
    vs->v[vs->n++] = (struct victim){who, producer};
}

void auth_recheck_namespace(broker_t *b, const char *tenant, const char *ns)
{
    if (!b->cfg->authorization_enabled) return;
    victims_t vs = {0};
    json_t *pol = ns_policies_json(b, tenant, ns); /* once for every topic of the namespace */
    void *tv, *x;
    char why[400];
    for (size_t it = 0; map_next(&b->topics, &it, NULL, NULL, &tv);) {
        topic_t *t = tv;
        if (strcmp(t->tn.tenant, tenant) || strcmp(t->tn.ns, ns)) continue;
        const char *full = t->tn.full, *base = t->tn.partition >= 0 ? t->tn.base : NULL;
        for (size_t j = 0; map_next(&t->producers, &j, NULL, NULL, &x);) {
            producer_t *p = x;
            const char *role = p->conn ? p->conn->role : NULL;
            if (p->conn && !auth_is_superuser(b->cfg, role) &&
                (!role || !policies_grant(pol, role, full, base, AUTH_PRODUCE)))
                victims_add(&vs, p, true);
        }
        for (size_t j = 0; map_next(&t->subs, &j, NULL, NULL, &x);) {
            subscription_t *sub = x;
            for (consumer_t *cs = sub->consumers; cs; cs = cs->next_in_sub)
                if (cs->conn && !auth_is_superuser(b->cfg, cs->conn->role) &&
                    !may_subscribe(pol, cs->conn->role, full, base, sub->name, why, sizeof why))
                    victims_add(&vs, cs, false);
        }
    }
    json_decref(pol);
    for (size_t i = 0; i < vs.n; i++) {
        bool prod = vs.v[i].producer;
        log_info("%s/%s: permissions changed: closing a %s that may no longer %s", tenant, ns,
                 prod ? "producer" : "consumer", prod ? "produce" : "consume");
        if (prod)
            producer_close(vs.v[i].who, true);
        else
            consumer_close(vs.v[i].who, true);
    }
    mg_free(vs.v);
}

/* --- token creation, for `magnetar tokens` ------------------------------------------------ */

static char *b64_encode(const uint8_t *p, size_t n, bool url)
{
    const char *t = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = mg_malloc((n + 2) / 3 * 4 + 1), *q = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *q++ = t[v >> 18];
        *q++ = t[(v >> 12) & 63];
        if (i + 1 < n)
            *q++ = t[(v >> 6) & 63];
        else if (!url)
            *q++ = '=';
        if (i + 2 < n)
            *q++ = t[v & 63];
        else if (!url)
            *q++ = '=';
    }
    *q = 0;
    return o;
}

char *auth_base64(const uint8_t *p, size_t n)
{
    return b64_encode(p, n, false);
}

char *auth_token_create(const char *key_spec, const char *alg, const char *subject, int64_t exp,
                        char *err, size_t errlen)
{
    const EVP_MD *md = strlen(alg) == 5 && !strncmp(alg, "HS", 2) ? alg_digest(alg) : NULL;
    if (!md) {
        snprintf(err, errlen, "signature algorithm %s: only HS256, HS384 and HS512 are made here",
                 alg);
        return NULL;
    }
    uint8_t *key;
    size_t keylen;
    if (key_bytes(key_spec, &key, &keylen, err, errlen) < 0) return NULL;
    json_t *h = json_pack("{s:s}", "alg", alg), *c = json_pack("{s:s}", "sub", subject);
    if (exp >= 0) json_object_set_new(c, "exp", json_integer(exp));
    char *hj = json_dumps(h, JSON_COMPACT), *cj = json_dumps(c, JSON_COMPACT);
    char *hb = hj ? b64_encode((const uint8_t *)hj, strlen(hj), true) : NULL;
    char *cb = cj ? b64_encode((const uint8_t *)cj, strlen(cj), true) : NULL;
    char *out = NULL;
    if (hb && cb) {
        size_t in_len = strlen(hb) + 1 + strlen(cb);
        char *in = mg_malloc(in_len + 1);
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned maclen = 0;
        if (in) {
            snprintf(in, in_len + 1, "%s.%s", hb, cb);
            char *sb = HMAC(md, key, (int)keylen, (const uint8_t *)in, in_len, mac, &maclen)
                           ? b64_encode(mac, maclen, true)
                           : NULL;
            if (sb) {
                out = mg_malloc(in_len + 2 + strlen(sb));
                if (out) sprintf(out, "%s.%s", in, sb);
            }
            mg_free(sb);
            mg_free(in);
        }
    }
    if (!out) snprintf(err, errlen, "out of memory");
    free(hj);
    free(cj);
    mg_free(hb);
    mg_free(cb);
    json_decref(h);
    json_decref(c);
    OPENSSL_cleanse(key, keylen);
    mg_free(key);
    return out;
}

char *auth_token_show(const char *token, size_t len)
{
    while (len && isspace((unsigned char)token[len - 1]))
        len--;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2) return NULL;
    json_t *h = decode_json_part(token, (size_t)(d1 - token));
    json_t *c = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    char *hj = h ? json_dumps(h, JSON_COMPACT) : NULL, *cj = c ? json_dumps(c, JSON_COMPACT) : NULL;
    char *out = NULL;
    if (hj && cj) {
        out = mg_malloc(strlen(hj) + strlen(cj) + 2);
        if (out) sprintf(out, "%s\n%s", hj, cj);
    }
    free(hj);
    free(cj);
    json_decref(h);
    json_decref(c);
    return out;
}
