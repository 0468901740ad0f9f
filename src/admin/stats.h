/* stats.h - Pulsar's TopicStats / PartitionedTopicStats / PersistentTopicInternalStats JSON
 * built from broker state. Loop thread. */
#ifndef MG_ADMIN_STATS_H
#define MG_ADMIN_STATS_H

#include <jansson.h>

#include "broker/broker.h"

json_t *stats_topic(topic_t *t);
/* Sum per-partition stats (stolen) into one PartitionedTopicStats; parts may be NULL. */
json_t *stats_partitioned(json_t **parts, char **names, int n, int partitions, bool per_partition);
json_t *stats_internal(topic_t *t);
/* Empty TopicStats for a topic with no loaded state. */
json_t *stats_empty(void);
void fmt_iso_time(uint64_t ms, char *out, size_t n);

#endif
