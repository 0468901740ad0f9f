/* hexabuilders.h - what the HexaBuilders examples share: the topics, subscription and
 * dead-letter names of the seed deployment (hexabuilders-pulsar.md), its Avro schema for
 * PartnerRegistrationCompleted (the same one hexabuilders.yaml registers), and small
 * command-line and authentication helpers. Header-only; each example is one .c file linked to libmagnetar. */
#ifndef HEXABUILDERS_H
#define HEXABUILDERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/auth_opts.h" /* --auth-plugin / --auth-params / --tls-*, as the tools */

/* persistent://hexabuilders/{service}/{category} */
#define HB_PARTNER_REGISTRATION_TOPIC "persistent://hexabuilders/partner-management/partner-registration"
/* The seed's consumer: subscription f"{service_name}-{subscription_name}", dead letters to
 * f"{topic}-{service_name}-dlq". */
#define HB_NOTIFICATIONS_SERVICE "notifications"
#define HB_NOTIFICATIONS_SUBSCRIPTION "notifications-partner-registration"
#define HB_NOTIFICATIONS_DLQ HB_PARTNER_REGISTRATION_TOPIC "-" HB_NOTIFICATIONS_SERVICE "-dlq"

/* The seed's PARTNER_REGISTRATION_SCHEMA (com.hexabuilders.partners.events.v1). */
#define HB_PARTNER_REGISTRATION_SCHEMA                                                             \
    "{\"type\":\"record\",\"name\":\"PartnerRegistrationCompleted\","                              \
    "\"namespace\":\"com.hexabuilders.partners.events.v1\",\"fields\":["                           \
    "{\"name\":\"partner_id\",\"type\":\"string\"},"                                               \
    "{\"name\":\"business_name\",\"type\":\"string\"},"                                            \
    "{\"name\":\"email\",\"type\":\"string\"},"                                                    \
    "{\"name\":\"partner_type\",\"type\":\"string\"},"                                             \
    "{\"name\":\"registration_data\",\"type\":\"string\"},"                                        \
    "{\"name\":\"registration_timestamp\",\"type\":\"string\"},"                                   \
    "{\"name\":\"correlation_id\",\"type\":\"string\"},"                                           \
    "{\"name\":\"event_version\",\"type\":\"int\",\"default\":1}]}"

/* "--name value" or "--name=value" at argv[*i]; advances *i past a separate value. */
static inline const char *hb_opt(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] == 0 && *i + 1 < argc) return argv[++*i];
    return NULL;
}

/* The service URL: --url, else $MAGNETAR_URL, else the seed's local broker. */
static inline const char *hb_default_url(void)
{
    const char *u = getenv("MAGNETAR_URL");
    return u && *u ? u : "pulsar://localhost:6650";
}

/* The seed's production set-up authenticates with a token over TLS: --auth-params (or
 * $MAGNETAR_AUTH_PARAMS) token:<jwt> | file:///path, the token plugin implied, and for a
 * pulsar+ssl:// URL --tls-trust-cert-path (or $MAGNETAR_TLS_TRUST_CERTS). */
static inline int hb_auth(auth_opts_t *auth, mg_client_conf_t *cc)
{
    if (!auth->params) auth->params = getenv("MAGNETAR_AUTH_PARAMS");
    if (!auth->tls_trust) auth->tls_trust = getenv("MAGNETAR_TLS_TRUST_CERTS"); /* pulsar+ssl:// */
    if (auth->tls_trust && !*auth->tls_trust) auth->tls_trust = NULL;
    if (auth->params && !*auth->params) auth->params = NULL;
    if (auth->params && !auth->plugin) auth->plugin = AUTH_PLUGIN_TOKEN;
    char err[300];
    if (auth_opts_apply(auth, cc, err, sizeof err) < 0) {
        fprintf(stderr, "auth: %s\n", err);
        return -1;
    }
    return 0;
}

#endif
