/* admin_ops.h - broker operations the admin plane needs beyond the wire protocol: create,
 * delete, unload and terminate topics; create, skip, expire and reset subscriptions; find
 * entries by position or time. All functions run on the loop thread (the admin layer calls
 * them from its loop-side handlers). Errors are returned as negative errno-style codes:
 * -ENOENT (no such topic/subscription), -EBUSY (active producers/consumers), -EEXIST,
 * -EINVAL, -EIO; err gets a human reason when given. */
#ifndef MG_BROKER_ADMIN_OPS_H
#define MG_BROKER_ADMIN_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

/* Create the log and registry entry of a non-partitioned topic or a partition. 0 or -errno. */
int aops_topic_create(broker_t *b, const mg_topic_name_t *tn, char *err, size_t errlen);
/* Does a non-partitioned topic or partition (not a partitioned base) have a log? */
bool aops_topic_has_log(broker_t *b, const char *full);
/* Load (never create) a topic with a log. NULL when it has none. */
topic_t *aops_topic_load(broker_t *b, const char *full);
/* Delete a topic with a log: without force, refuses (-EBUSY) while producers or consumers
 * are connected; with force, disconnects them. 0 or -errno. */
int aops_topic_delete(broker_t *b, const char *full, bool force);
/* Unload: close the topic (clients reconnect and load it again). 0 or -ENOENT. */
int aops_topic_unload(broker_t *b, const char *full);
/* Terminate: no more publishes; *last gets the last entry id (UINT64_MAX when empty). */
int aops_topic_terminate(topic_t *t, uint64_t *last);

/* Subscriptions. start: the first entry id the subscription has not consumed. */
int aops_sub_create(topic_t *t, const char *name, uint64_t start);
int aops_sub_delete(topic_t *t, const char *name, bool force);
/* Skip n unacknowledged messages (entries) from the mark-delete position; n<0 = all. */
int aops_sub_skip(topic_t *t, const char *name, int64_t n);
/* Acknowledge messages older than `seconds` on one subscription (name NULL: all). */
int aops_sub_expire(topic_t *t, const char *name, uint64_t seconds);
/* Rewind or advance a subscription to an entry id (clamped to the log). */
int aops_sub_reset(topic_t *t, const char *name, uint64_t id);
/* The entry id of the n-th (1-based) unacknowledged message of a subscription, -ENOENT. */
int aops_sub_nth_unacked(topic_t *t, const char *name, uint64_t n, uint64_t *id);

/* Subscription expiration (the namespace policy subscriptionExpirationTimeMinutes), as
 * Pulsar's PersistentTopic.checkInactiveSubscriptions: on every loaded topic, a durable
 * subscription with no connected consumer whose last activity (creation, an ack, its last
 * consumer leaving) is older than the policy is deleted with its cursor. Unset or 0: never
 * (Pulsar's broker default subscriptionExpirationTimeMinutes=0). Returns the number deleted. */
int aops_subs_expire_inactive(broker_t *b, uint64_t now_ms);

#endif
