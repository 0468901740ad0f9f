/* config.c - table-driven broker.conf parser; see config.h. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

enum kind { K_INT, K_I64, K_BOOL, K_STR, K_DBL, K_PORT }; /* K_PORT: an int, empty = -1 (off) */

struct key {
    const char *name;
    enum kind kind;
    size_t off;
    size_t size; /* for strings */
};

#define F(field) offsetof(mg_config_t, field)
#define S(field) sizeof(((mg_config_t *)0)->field)
static const struct key keys[] = {
    {"clusterName", K_STR, F(cluster_name), S(cluster_name)},
    {"advertisedAddress", K_STR, F(advertised_address), S(advertised_address)},
    {"bindAddress", K_STR, F(bind_address), S(bind_address)},
    {"brokerServicePort", K_PORT, F(broker_service_port), 0}, /* empty: no plain port */
    {"webServicePort", K_PORT, F(web_service_port), 0},
    {"maxMessageSize", K_INT, F(max_message_size), 0},
    {"brokerDeduplicationEnabled", K_BOOL, F(dedup_enabled), 0},
    {"allowAutoTopicCreation", K_BOOL, F(allow_auto_topic_creation), 0},
    {"allowAutoTopicCreationType", K_STR, F(auto_topic_creation_type), S(auto_topic_creation_type)},
    {"defaultNumPartitions", K_INT, F(default_num_partitions), 0},
    {"keepAliveIntervalSeconds", K_INT, F(keep_alive_interval_s), 0},
    {"journalSyncData", K_BOOL, F(journal_sync_data), 0},
    {"journalMaxGroupWaitMSec", K_INT, F(journal_max_group_wait_ms), 0},
    {"managedLedgerCacheSizeMB", K_INT, F(cache_size_mb), 0},
    {"managedLedgerDefaultMarkDeleteRateLimit", K_DBL, F(mark_delete_rate_limit), 0},
    {"managedLedgerMaxSizePerLedgerMbytes", K_I64, F(max_segment_mb), 0},
    {"storageRecycledSegmentsMax", K_INT, F(recycled_segments_max), 0}, /* Magnetar's own */
    {"maxPendingPublishRequestsPerConnection", K_INT, F(max_pending_publish_per_conn), 0},
    {"maxUnackedMessagesPerConsumer", K_INT, F(max_unacked_per_consumer), 0},
    {"maxUnackedMessagesPerSubscription", K_INT, F(max_unacked_per_subscription), 0},
    {"dispatcherMaxReadBatchSize", K_INT, F(dispatcher_max_read_batch), 0},
    {"defaultRetentionTimeInMinutes", K_INT, F(default_retention_minutes), 0},
    {"defaultRetentionSizeInMB", K_INT, F(default_retention_size_mb), 0},
    {"ttlDurationDefaultInSeconds", K_INT, F(ttl_seconds), 0},
    {"delayedDeliveryEnabled", K_BOOL, F(delayed_delivery_enabled), 0},
    {"isSchemaValidationEnforced", K_BOOL, F(schema_validation_enforced), 0},
    {"schemaCompatibilityStrategy", K_STR, F(schema_compat_strategy), S(schema_compat_strategy)},
    {"exposeTopicLevelMetricsInPrometheus", K_BOOL, F(expose_topic_metrics), 0},
    {"maxProducersPerTopic", K_INT, F(max_producers_per_topic), 0},
    {"maxConsumersPerTopic", K_INT, F(max_consumers_per_topic), 0},
    {"maxConsumersPerSubscription", K_INT, F(max_consumers_per_subscription), 0},
    {"backlogQuotaDefaultLimitGB", K_INT, F(backlog_quota_default_limit_gb), 0},
    {"backlogQuotaDefaultRetentionPolicy", K_STR, F(backlog_quota_default_policy),
     S(backlog_quota_default_policy)},
    {"retentionCheckIntervalInSeconds", K_INT, F(retention_check_interval_s), 0},
    {"authenticationEnabled", K_BOOL, F(authentication_enabled), 0},
    {"authenticationProviders", K_STR, F(authentication_providers), S(authentication_providers)},
    {"authorizationEnabled", K_BOOL, F(authorization_enabled), 0},
    {"superUserRoles", K_STR, F(super_user_roles), S(super_user_roles)},
    {"tokenSecretKey", K_STR, F(token_secret_key), S(token_secret_key)},
    {"tokenPublicKey", K_STR, F(token_public_key), S(token_public_key)},
    {"tokenAuthClaim", K_STR, F(token_auth_claim), S(token_auth_claim)},
    {"tokenAudienceClaim", K_STR, F(token_audience_claim), S(token_audience_claim)},
    {"tokenAudience", K_STR, F(token_audience), S(token_audience)},
    {"anonymousUserRole", K_STR, F(anonymous_user_role), S(anonymous_user_role)},
    {"authenticationRefreshCheckSeconds", K_INT, F(auth_refresh_check_s), 0},
    {"brokerServicePortTls", K_PORT, F(broker_service_port_tls), 0},
    {"webServicePortTls", K_PORT, F(web_service_port_tls), 0},
    {"tlsEnabled", K_BOOL, F(tls_enabled), 0},
    {"tlsCertificateFilePath", K_STR, F(tls_certificate_file), S(tls_certificate_file)},
    {"tlsKeyFilePath", K_STR, F(tls_key_file), S(tls_key_file)},
    {"tlsTrustCertsFilePath", K_STR, F(tls_trust_certs_file), S(tls_trust_certs_file)},
    {"tlsRequireTrustedClientCertOnConnect", K_BOOL, F(tls_require_trusted_client_cert), 0},
    {"tlsAllowInsecureConnection", K_BOOL, F(tls_allow_insecure_connection), 0},
    {"forceDeleteNamespaceAllowed", K_BOOL, F(force_delete_namespace_allowed), 0},
    {"forceDeleteTenantAllowed", K_BOOL, F(force_delete_tenant_allowed), 0},
    {"subscriptionExpirationTimeMinutes", K_INT, F(subscription_expiration_minutes), 0},
};
#define NKEYS (sizeof keys / sizeof keys[0])

void config_defaults(mg_config_t *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->cluster_name, "standalone");
    strcpy(c->bind_address, "0.0.0.0");
    c->broker_service_port = 6650;
    c->web_service_port = 8080;
    c->max_message_size = 5 * 1024 * 1024;
    c->dedup_enabled = false;
    c->allow_auto_topic_creation = true;
    strcpy(c->auto_topic_creation_type, "non-partitioned");
    strcpy(c->token_auth_claim, "sub");
    strcpy(c->token_audience_claim, "aud");
    c->auth_refresh_check_s = 60;
    c->broker_service_port_tls = -1;
    c->web_service_port_tls = -1;
    c->default_num_partitions = 1;
    c->keep_alive_interval_s = 30;
    c->journal_sync_data = true;
    c->journal_max_group_wait_ms = 0;
    c->cache_size_mb = 64;
    c->mark_delete_rate_limit = 1.0;
    c->max_segment_mb = 256;
    c->recycled_segments_max = 8;
    c->max_pending_publish_per_conn = 1000;
    c->max_unacked_per_consumer = 50000;
    c->max_unacked_per_subscription = 200000;
    c->dispatcher_max_read_batch = 100;
    c->default_retention_minutes = 0;
    c->default_retention_size_mb = 0;
    c->ttl_seconds = 0;
    c->delayed_delivery_enabled = true;
    c->schema_validation_enforced = false;
    strcpy(c->schema_compat_strategy, "FULL");
    c->expose_topic_metrics = true;
    c->backlog_quota_default_limit_gb = -1;
    strcpy(c->backlog_quota_default_policy, "producer_request_hold");
    c->retention_check_interval_s = 120;
    strcpy(c->data_dir, "data/standalone");
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int config_set(mg_config_t *c, const char *key, const char *value)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        if (strcmp(k->name, key)) continue;
        char *p = (char *)c + k->off;
        char *end;
        errno = 0;
        switch (k->kind) {
        case K_PORT:
            if (!*value) {
                *(int *)p = -1;
                return 0;
            }
            /* fall through */
        case K_INT: {
            long v = strtol(value, &end, 10);
            if (errno || end == value || *end) return -1;
            *(int *)p = (int)v;
            return 0;
        }
        case K_I64: {
            long long v = strtoll(value, &end, 10);
            if (errno || end == value || *end) return -1;
            *(int64_t *)p = v;
            return 0;
        }
        case K_DBL: {
            double v = strtod(value, &end);
            if (errno || end == value || *end || v < 0) return -1;
            *(double *)p = v;
            return 0;
        }
        case K_BOOL:
            if (!strcasecmp(value, "true") || !strcmp(value, "1")) *(bool *)p = true;
            else if (!strcasecmp(value, "false") || !strcmp(value, "0")) *(bool *)p = false;
            else return -1;
            return 0;
        case K_STR:
            if (strlen(value) >= k->size) return -1;
            strcpy(p, value);
            return 0;
        }
    }
    return 1;
}

int config_load(mg_config_t *c, const char *path, char *errbuf, size_t errlen)
{
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
            return -1;
        }
        char line[4096];
        int lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            char *s = trim(line);
            if (!*s || *s == '#') continue;
            char *eq = strchr(s, '=');
            if (!eq) {
                log_warn("%s:%d: no '=' in line, ignored", path, lineno);
                continue;
            }
            *eq = 0;
            char *k = trim(s), *v = trim(eq + 1);
            int r = config_set(c, k, v);
            if (r < 0) {
                snprintf(errbuf, errlen, "%s:%d: bad value for %s: '%s'", path, lineno, k, v);
                fclose(f);
                return -1;
            }
            if (r > 0) log_debug("%s:%d: key %s not used by magnetar", path, lineno, k);
        }
        fclose(f);
    }
    for (size_t i = 0; i < NKEYS; i++) {
        const char *v = getenv(keys[i].name);
        if (v && config_set(c, keys[i].name, v) < 0) {
            snprintf(errbuf, errlen, "environment %s: bad value '%s'", keys[i].name, v);
            return -1;
        }
    }
    return 0;
}
