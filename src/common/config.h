/* config.h - broker.conf: Pulsar's key names, `key=value` lines, `#` comments.
 * An environment variable with the same name as a key overrides the file (Pulsar's
 * apply-config-from-env habit). Unknown keys are warned about, never fatal.
 * Loaded once at start-up on the main thread, read-only afterwards. */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mg_config {
    char cluster_name[128];        /* clusterName */
    char advertised_address[256];  /* advertisedAddress */
    char bind_address[64];         /* bindAddress */
    int broker_service_port;       /* brokerServicePort */
    int web_service_port;          /* webServicePort */
    int max_message_size;          /* maxMessageSize */
    bool dedup_enabled;            /* brokerDeduplicationEnabled */
    bool allow_auto_topic_creation;            /* allowAutoTopicCreation */
    char auto_topic_creation_type[32];         /* allowAutoTopicCreationType: non-partitioned|partitioned */
    int default_num_partitions;                /* defaultNumPartitions */
    int keep_alive_interval_s;                 /* keepAliveIntervalSeconds */
    bool journal_sync_data;                    /* journalSyncData */
    int journal_max_group_wait_ms;             /* journalMaxGroupWaitMSec */
    double mark_delete_rate_limit;             /* managedLedgerDefaultMarkDeleteRateLimit:
                                                  cursor positions persisted per second */
    int cache_size_mb;                         /* managedLedgerCacheSizeMB */
    int64_t max_segment_mb;                    /* managedLedgerMaxSizePerLedgerMbytes */
    int recycled_segments_max;                 /* storageRecycledSegmentsMax (Magnetar's own) */
    int max_pending_publish_per_conn;          /* maxPendingPublishRequestsPerConnection */
    int max_unacked_per_consumer;              /* maxUnackedMessagesPerConsumer */
    int max_unacked_per_subscription;          /* maxUnackedMessagesPerSubscription */
    int dispatcher_max_read_batch;             /* dispatcherMaxReadBatchSize */
    int default_retention_minutes;             /* defaultRetentionTimeInMinutes */
    int default_retention_size_mb;             /* defaultRetentionSizeInMB */
    int ttl_seconds;                           /* ttlDurationDefaultInSeconds */
    bool delayed_delivery_enabled;             /* delayedDeliveryEnabled */
    bool schema_validation_enforced;           /* isSchemaValidationEnforced */
    char schema_compat_strategy[40];           /* schemaCompatibilityStrategy */
    bool expose_topic_metrics;                 /* exposeTopicLevelMetricsInPrometheus */
    int max_producers_per_topic;               /* maxProducersPerTopic (0 = unlimited) */
    int max_consumers_per_topic;               /* maxConsumersPerTopic */
    int max_consumers_per_subscription;        /* maxConsumersPerSubscription */
    int backlog_quota_default_limit_gb;        /* backlogQuotaDefaultLimitGB (-1 = none) */
    char backlog_quota_default_policy[48];     /* backlogQuotaDefaultRetentionPolicy */
    int retention_check_interval_s;            /* retentionCheckIntervalInSeconds */
    bool authentication_enabled;               /* authenticationEnabled */
    char authentication_providers[512];        /* authenticationProviders (comma list) */
    bool authorization_enabled;                /* authorizationEnabled */
    char super_user_roles[1024];               /* superUserRoles (comma list) */
    char token_secret_key[4096];               /* tokenSecretKey: file:///... or data:;base64,... */
    char token_public_key[4096];               /* tokenPublicKey: likewise */
    char token_auth_claim[64];                 /* tokenAuthClaim (default sub) */
    char token_audience_claim[64];             /* tokenAudienceClaim (default aud) */
    char token_audience[256];                  /* tokenAudience ("" = not checked) */
    char anonymous_user_role[256];             /* anonymousUserRole ("" = none) */
    int auth_refresh_check_s;                  /* authenticationRefreshCheckSeconds */
    int broker_service_port_tls;               /* brokerServicePortTls (-1 = off, 0 = any free) */
    int web_service_port_tls;                  /* webServicePortTls (-1 = off, 0 = any free) */
    bool tls_enabled;                          /* tlsEnabled (deprecated): default TLS ports */
    char tls_certificate_file[512];            /* tlsCertificateFilePath (PEM) */
    char tls_key_file[512];                    /* tlsKeyFilePath (PEM) */
    char tls_trust_certs_file[512];            /* tlsTrustCertsFilePath (PEM CAs, client certs) */
    bool tls_require_trusted_client_cert;      /* tlsRequireTrustedClientCertOnConnect */
    bool tls_allow_insecure_connection;        /* tlsAllowInsecureConnection */
    bool force_delete_namespace_allowed;       /* forceDeleteNamespaceAllowed */
    bool force_delete_tenant_allowed;          /* forceDeleteTenantAllowed */
    int subscription_expiration_minutes;       /* subscriptionExpirationTimeMinutes (0 = never) */
    char data_dir[512];                        /* not a Pulsar key: --data-dir */
} mg_config_t;

void config_defaults(mg_config_t *c);
/* Load a file (NULL = none) then apply environment overrides. Returns 0, or -1 with errbuf
 * filled when the file cannot be read or a value does not parse. */
int config_load(mg_config_t *c, const char *path, char *errbuf, size_t errlen);
/* Set one key from a string; returns 0, 1 when the key is unknown, -1 when the value is bad. */
int config_set(mg_config_t *c, const char *key, const char *value);

#endif
