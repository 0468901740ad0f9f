/* auth.h - token authentication and authorization, as Pulsar's AuthenticationProviderToken and
 * PulsarAuthorizationProvider do them, for the binary protocol (CONNECT, then PRODUCER,
 * SUBSCRIBE, LOOKUP, PARTITIONED_METADATA) and the admin API (Authorization: Bearer).
 *
 * Configuration (broker.conf keys, Pulsar's names):
 *   authenticationEnabled=true
 *   authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
 *   tokenSecretKey=file:///path/secret.key | data:;base64,<base64>   (HS256/HS384/HS512)
 *   tokenPublicKey=file:///path/public.key | data:;base64,<base64>   (RS*, ES*; DER or PEM)
 *   tokenAuthClaim=sub            the claim that names the role
 *   tokenAudienceClaim=aud, tokenAudience=   when set, the token's audience must contain it
 *   anonymousUserRole=            the role of a client that sends no token (empty: refused)
 *   authenticationProviders may also name AuthenticationProviderTls: on the TLS port, a CONNECT
 *   with auth method "tls" takes the verified client certificate's common name as its role
 *   authorizationEnabled=true, superUserRoles=admin,pulsar-super
 *
 * A token is a JWT (compact form, three base64url parts). It is accepted when its signature
 * verifies with the configured key and an algorithm of that key's family (an HS token is never
 * checked against a public key, nor the reverse), "exp" (when present) is in the future and
 * "nbf" (when present) is not, and the role claim is a non-empty string. Tokens without "exp"
 * never expire, as in Pulsar.
 *
 * Threads: auth_token_role and auth_is_superuser read only what auth_new built, so any thread
 * may call them; auth_can and auth_is_tenant_admin read the metadata store (loop thread). */
#ifndef MG_BROKER_AUTH_H
#define MG_BROKER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

typedef struct broker broker_t;
typedef struct conn conn_t;
typedef struct mg_auth mg_auth_t;

/* Build the verifier from cfg. Returns NULL with err[0] == '\0' when authenticationEnabled is
 * false; NULL with err set when the configuration cannot work (no key, unreadable key file,
 * an unsupported provider): the broker refuses to start then. */
mg_auth_t *auth_new(const mg_config_t *cfg, char *err, size_t errlen);
void auth_free(mg_auth_t *a);

/* Verify a token; 0 with the role copied to role (NUL-terminated), or -1 with the reason in
 * err. now_s: the current time in seconds since the epoch (a parameter, for tests). */
int auth_token_role(const mg_auth_t *a, const char *token, size_t len, int64_t now_s, char *role,
                    size_t rolelen, char *err, size_t errlen);

/* auth_token_role, also giving the token's "exp" in *exp_s (0 when it has none). */
int auth_token_check(const mg_auth_t *a, const char *token, size_t len, int64_t now_s, char *role,
                     size_t rolelen, int64_t *exp_s, char *err, size_t errlen);

/* Count a client-certificate authentication (AuthenticationProviderTls) for /metrics. */
void auth_count_tls(const mg_auth_t *a, bool ok);
/* Append Pulsar's authentication metrics (pulsar_authentication_success_total and
 * pulsar_authentication_failures_total by provider_name / auth_method / reason, and
 * pulsar_expired_token_total) in Prometheus text format; nothing when a is NULL. */
struct mg_buf;
void auth_metrics_text(const mg_auth_t *a, struct mg_buf *out);

/* Is AuthenticationProviderTls configured (the role of a client certificate is its CN)? */
bool auth_tls_enabled(const mg_auth_t *a);

/* The role given to a client that presents no credentials (anonymousUserRole), or NULL. */
const char *auth_anonymous_role(const mg_auth_t *a);

/* Is role one of superUserRoles? */
bool auth_is_superuser(const mg_config_t *cfg, const char *role);

enum { AUTH_PRODUCE = 1, AUTH_CONSUME = 2 };

/* With authorizationEnabled=false, always true. Otherwise: may role do any of `actions`
 * (AUTH_PRODUCE | AUTH_CONSUME) on topic (a full name; a partition's grants are its
 * partitioned topic's)? True for superusers; else looked up in the namespace's
 * auth_policies: namespace_auth[role], then destination_auth[topic][role]. */
bool auth_can(broker_t *b, const char *role, const char *topic, int actions);

/* With authorizationEnabled=false, always true. Otherwise: does role hold any of `actions` on
 * namespace tenant/ns itself (namespace_auth), or is it a superuser? */
bool auth_ns_granted(broker_t *b, const char *role, const char *tenant, const char *ns, int actions);

/* For a command of connection c on topic: auth_can with the connection's role, except that a
 * name that does not parse passes (the command's own check answers InvalidTopicName). */
bool auth_conn_allows(conn_t *c, const char *topic, int actions);

/* SUBSCRIBE of connection c to topic with subscription sub, as Pulsar's canConsume: consume
 * granted (auth_conn_allows), and unless the role is a superuser, the namespace's
 * subscription_auth_roles[sub] (when set) must name it, and with subscription_auth_mode
 * "Prefix" sub must start with it. False with the reason in why. */
bool auth_conn_may_subscribe(conn_t *c, const char *topic, const char *sub, char *why,
                             size_t whylen);

/* With authorizationEnabled=false, always true. Otherwise true for superusers and for the
 * roles in the tenant's adminRoles. */
bool auth_is_tenant_admin(broker_t *b, const char *role, const char *tenant);

/* After the grants of namespace tenant/ns changed (loop thread): close the producers and
 * consumers of its topics whose role may no longer produce or consume, as Pulsar does when the
 * policies change (their clients reconnect and are refused). No-op without authorization. */
void auth_recheck_namespace(broker_t *b, const char *tenant, const char *ns);

/* For `magnetar tokens` (Pulsar's `pulsar tokens`): a compact JWT {"alg":alg}.{"sub":subject
 * [,"exp":exp]} signed with HMAC (alg HS256, HS384 or HS512) over the key given as broker.conf
 * gives it (file:, data:, base64). exp < 0: no expiry. A malloc'd string, or NULL with err. */
char *auth_token_create(const char *key_spec, const char *alg, const char *subject, int64_t exp,
                        char *err, size_t errlen);
/* The header and claims of a token, decoded, as "<header JSON>\n<claims JSON>" (malloc'd),
 * without checking the signature; NULL when it is not a JWT. */
char *auth_token_show(const char *token, size_t len);
/* base64 (standard alphabet, padded) of n bytes: a malloc'd string. */
char *auth_base64(const uint8_t *p, size_t n);

#endif
