/* topic_name.h - Pulsar topic names: `persistent://tenant/ns/local`, short forms
 * `local` -> persistent://public/default/local and `tenant/ns/local`, partitions
 * `<local>-partition-N`. Pure functions; no allocation. */
#ifndef MG_TOPIC_NAME_H
#define MG_TOPIC_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define MG_NAME_MAX 256
#define MG_TOPIC_MAX 1024

typedef struct mg_topic_name {
    bool persistent;
    char tenant[MG_NAME_MAX];
    char ns[MG_NAME_MAX];           /* namespace local part */
    char local[MG_TOPIC_MAX];       /* topic local name, including any -partition-N */
    char full[MG_TOPIC_MAX * 2];    /* canonical persistent://tenant/ns/local */
    int partition;                  /* N of -partition-N, -1 otherwise */
    char base[MG_TOPIC_MAX * 2];    /* full name without -partition-N */
} mg_topic_name_t;

/* Parse and canonicalise; returns 0, or -1 with a reason in err (for InvalidTopicName). */
int topic_name_parse(const char *in, mg_topic_name_t *out, char *err, size_t errlen);
/* Tenant, namespace and cluster names: Pulsar's [-=:.\w]+, not "." or "..". */
bool name_is_valid(const char *s);
/* Write "<base>-partition-<i>" into out. */
void topic_partition_name(const char *base, int i, char *out, size_t outlen);

#endif
