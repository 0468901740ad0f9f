/* stats.c - topic statistics in Pulsar's JSON shapes (TopicStats, SubscriptionStats,
 * PublisherStats, ConsumerStats, PartitionedTopicStats, PersistentTopicInternalStats).
 * Field names follow Pulsar 3.x; fields Magnetar does not track are reported as Pulsar
 * reports them when idle (0, false, {}). Loop thread. */
#include "admin/stats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"

void fmt_iso_time(uint64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char b[40];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03uZ", b, (unsigned)(ms % 1000));
}

static json_t *base_stats(void)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:f,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
                     "s:I,s:I,s:I,s:[],s:i,s:{},s:{},s:s,s:i,s:i,s:I}",
                     "msgRateIn", 0.0, "msgThroughputIn", 0.0, "msgRateOut", 0.0,
                     "msgThroughputOut", 0.0, "bytesInCounter", (json_int_t)0, "msgInCounter",
                     (json_int_t)0, "bytesOutCounter", (json_int_t)0, "msgOutCounter",
                     (json_int_t)0, "averageMsgSize", 0.0, "msgChunkPublished", 0, "storageSize",
                     (json_int_t)0, "backlogSize", (json_int_t)0, "publishRateLimitedTimes",
                     (json_int_t)0, "earliestMsgPublishTimeInBacklogs", (json_int_t)0,
                     "offloadedStorageSize", (json_int_t)0, "lastOffloadLedgerId", (json_int_t)0,
                     "lastOffloadSuccessTimeStamp", (json_int_t)0, "lastOffloadFailureTimeStamp",
                     (json_int_t)0, "ongoingTxnCount", (json_int_t)0, "abortedTxnCount",
                     (json_int_t)0, "committedTxnCount", (json_int_t)0, "publishers",
                     "waitingPublishers", 0, "subscriptions", "replication",
                     "deduplicationStatus", "Disabled", "nonContiguousDeletedMessagesRanges", 0,
                     "nonContiguousDeletedMessagesRangesSerializedSize", 0,
                     "delayedMessageIndexSizeInBytes", (json_int_t)0);
}

json_t *stats_empty(void)
{
    return base_stats();
}

static json_t *consumer_stats(consumer_t *c)
{
    char since[64];
    fmt_iso_time(c->connected_since_ms, since, sizeof since);
    return json_pack("{s:f,s:f,s:I,s:I,s:f,s:f,s:f,s:s,s:I,s:I,s:f,s:b,s:I,s:I,s:s,s:s,s:s,s:{}}",
                     "msgRateOut", c->rate_out, "msgThroughputOut", c->tput_out,
                     "bytesOutCounter", (json_int_t)c->bytes_out, "msgOutCounter",
                     (json_int_t)c->msg_out, "msgRateRedeliver", 0.0, "messageAckRate", 0.0,
                     "chunkedMessageRate", 0.0, "consumerName", c->name ? c->name : "",
                     "availablePermits", (json_int_t)(c->permits > 0 ? c->permits : 0),
                     "unackedMessages", (json_int_t)c->unacked, "avgMessagesPerEntry", 1.0,
                     "blockedConsumerOnUnackedMsgs", c->blocked, "lastAckedTimestamp",
                     (json_int_t)0, "lastConsumedTimestamp", (json_int_t)0, "address",
                     c->conn ? c->conn->addr : "", "connectedSince", since, "clientVersion",
                     c->client_version ? c->client_version : "", "metadata");
}

static json_t *sub_stats(subscription_t *s)
{
    json_t *cons = json_array();
    uint64_t unacked = 0;
    double rate = 0, tput = 0;
    for (consumer_t *c = s->consumers; c; c = c->next_in_sub) {
        json_array_append_new(cons, consumer_stats(c));
        unacked += c->unacked;
        rate += c->rate_out;
        tput += c->tput_out;
    }
    uint64_t backlog = sub_backlog(s);
    uint64_t backlog_bytes = log_bytes_from(s->topic->log, s->acks.floor);
    json_t *o = json_pack(
        "{s:f,s:f,s:I,s:I,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:s,s:f,s:I,s:I,s:I,s:I,s:I,"
        "s:I,s:o,s:b,s:b,s:b,s:{},s:i,s:i,s:{}}",
        "msgRateOut", rate, "msgThroughputOut", tput, "bytesOutCounter", (json_int_t)s->bytes_out,
        "msgOutCounter", (json_int_t)s->msg_out, "msgRateRedeliver", 0.0, "messageAckRate", 0.0,
        "chunkedMessageRate", 0.0, "msgBacklog", (json_int_t)backlog, "backlogSize",
        (json_int_t)backlog_bytes, "earliestMsgPublishTimeInBacklog", (json_int_t)0,
        "msgBacklogNoDelayed", (json_int_t)(backlog > (uint64_t)s->ndelayed ? backlog - (uint64_t)s->ndelayed : 0),
        "blockedSubscriptionOnUnackedMsgs", 0, "msgDelayed", (json_int_t)s->ndelayed,
        "unackedMessages", (json_int_t)unacked, "type", sub_type_name(s->type), "msgRateExpired",
        0.0, "totalMsgExpired", (json_int_t)s->msg_expired, "lastExpireTimestamp", (json_int_t)0,
        "lastConsumedFlowTimestamp", (json_int_t)0, "lastConsumedTimestamp", (json_int_t)0,
        "lastAckedTimestamp", (json_int_t)0, "lastMarkDeleteAdvancedTimestamp", (json_int_t)0,
        "consumers", cons, "isDurable", s->durable, "isReplicated", 0,
        "allowOutOfOrderDelivery", 0, "consumersAfterMarkDeletePosition",
        "nonContiguousDeletedMessagesRanges", (int)s->acks.acked.n,
        "nonContiguousDeletedMessagesRangesSerializedSize", 0, "subscriptionProperties");
    if (s->active && (s->type == SUB_EXCLUSIVE || s->type == SUB_FAILOVER) && s->active->name)
        json_object_set_new(o, "activeConsumerName", json_string(s->active->name));
    return o;
}

json_t *stats_topic(topic_t *t)
{
    json_t *o = base_stats();
    json_object_set_new(o, "msgRateIn", json_real(t->rate_in));
    json_object_set_new(o, "msgThroughputIn", json_real(t->tput_in));
    json_object_set_new(o, "msgRateOut", json_real(t->rate_out));
    json_object_set_new(o, "msgThroughputOut", json_real(t->tput_out));
    json_object_set_new(o, "bytesInCounter", json_integer((json_int_t)t->bytes_in));
    json_object_set_new(o, "msgInCounter", json_integer((json_int_t)t->msg_in));
    json_object_set_new(o, "bytesOutCounter", json_integer((json_int_t)t->bytes_out));
    json_object_set_new(o, "msgOutCounter", json_integer((json_int_t)t->msg_out));
    json_object_set_new(o, "averageMsgSize",
                        json_real(t->rate_in > 0 ? t->tput_in / t->rate_in : 0.0));
    json_object_set_new(o, "storageSize", json_integer((json_int_t)log_size_bytes(t->log)));
    json_object_set_new(o, "backlogSize", json_integer((json_int_t)topic_backlog_bytes(t)));
    json_object_set_new(o, "deduplicationStatus",
                        json_string(topic_dedup_enabled(t) ? "Enabled" : "Disabled"));
    json_t *pubs = json_object_get(o, "publishers");
    void *v;
    for (size_t it = 0; map_next(&t->producers, &it, NULL, NULL, &v);) {
        producer_t *p = v;
        char since[64];
        fmt_iso_time(p->connected_since_ms, since, sizeof since);
        static const char *modes[] = {"Shared", "Exclusive", "WaitForExclusive",
                                      "ExclusiveWithFencing"};
        json_array_append_new(
            pubs, json_pack("{s:s,s:f,s:f,s:f,s:f,s:I,s:b,s:s,s:s,s:s,s:s,s:{}}", "accessMode",
                            p->access_mode >= 0 && p->access_mode < 4 ? modes[p->access_mode]
                                                                     : "Shared",
                            "msgRateIn", p->rate_in, "msgThroughputIn", p->tput_in,
                            "averageMsgSize", p->rate_in > 0 ? p->tput_in / p->rate_in : 0.0,
                            "chunkedMessageRate", 0.0, "producerId", (json_int_t)p->id,
                            "supportsPartialProducer", 0, "producerName",
                            p->name ? p->name : "", "address", p->conn ? p->conn->addr : "",
                            "connectedSince", since, "clientVersion",
                            p->client_version ? p->client_version : "", "metadata"));
    }
    json_object_set_new(o, "waitingPublishers", json_integer(t->nwaiting));
    json_t *subs = json_object_get(o, "subscriptions");
    const char *k;
    for (size_t it = 0; map_next(&t->subs, &it, &k, NULL, &v);)
        json_object_set_new(subs, k, sub_stats(v));
    return o;
}

static void add_num(json_t *into, const char *k, json_t *v)
{
    json_t *cur = json_object_get(into, k);
    if (json_is_integer(cur) && json_is_integer(v))
        json_object_set_new(into, k, json_integer(json_integer_value(cur) + json_integer_value(v)));
    else if (json_is_number(cur) && json_is_number(v))
        json_object_set_new(into, k, json_real(json_number_value(cur) + json_number_value(v)));
}

json_t *stats_partitioned(json_t **parts, char **names, int n, int partitions, bool per_partition)
{
    json_t *o = base_stats();
    json_t *pubs = json_object_get(o, "publishers"), *subs = json_object_get(o, "subscriptions");
    json_t *per = json_object();
    for (int i = 0; i < n; i++) {
        json_t *p = parts[i];
        if (!p) continue;
        const char *k;
        json_t *v;
        json_object_foreach(p, k, v)
        {
            if (json_is_number(v) && strcmp(k, "averageMsgSize")) add_num(o, k, v);
        }
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(p, "publishers"), j, e) json_array_append(pubs, e);
        json_object_foreach(json_object_get(p, "subscriptions"), k, v)
        {
            json_t *cur = json_object_get(subs, k);
            if (!cur) {
                json_object_set_new(subs, k, json_deep_copy(v));
                continue;
            }
            const char *sk;
            json_t *sv;
            json_object_foreach(v, sk, sv) if (json_is_number(sv)) add_num(cur, sk, sv);
            json_array_foreach(json_object_get(v, "consumers"), j, e)
                json_array_append(json_object_get(cur, "consumers"), e);
        }
        if (!strcmp(json_string_value(json_object_get(p, "deduplicationStatus")) ?: "", "Enabled"))
            json_object_set_new(o, "deduplicationStatus", json_string("Enabled"));
        if (per_partition) json_object_set(per, names[i], p);
        json_decref(p);
    }
    json_object_set_new(o, "metadata", json_pack("{s:i}", "partitions", partitions));
    json_object_set_new(o, "partitions", per);
    return o;
}

json_t *stats_internal(topic_t *t)
{
    uint64_t first = log_first_id(t->log), end = log_durable_end(t->log);
    uint64_t lid = log_ledger_id(t->log);
    char lce[64], created[64];
    if (end > first) snprintf(lce, sizeof lce, "%llu:%llu", (unsigned long long)lid,
                              (unsigned long long)(end - 1));
    else snprintf(lce, sizeof lce, "%llu:-1", (unsigned long long)lid);
    fmt_iso_time(t->created_ms, created, sizeof created);
    uint64_t size = log_size_bytes(t->log);
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:i,s:i,s:s,s:s}", "entriesAddedCounter",
                          (json_int_t)t->msg_in, "numberOfEntries", (json_int_t)(end - first),
                          "totalSize", (json_int_t)size, "currentLedgerEntries",
                          (json_int_t)(end - first), "currentLedgerSize", (json_int_t)size,
                          "lastLedgerCreatedTimestamp", created, "waitingCursorsCount", 0,
                          "pendingAddEntriesCount", 0, "lastConfirmedEntry", lce, "state",
                          "LedgerOpened");
    json_object_set_new(o, "ledgers",
                        json_pack("[{s:I,s:I,s:I,s:b,s:b}]", "ledgerId", (json_int_t)lid,
                                  "entries", (json_int_t)(end - first), "size", (json_int_t)size,
                                  "offloaded", 0, "underReplicated", 0));
    json_t *cursors = json_object();
    const char *k;
    void *v;
    for (size_t it = 0; map_next(&t->subs, &it, &k, NULL, &v);) {
        subscription_t *s = v;
        char md[64], rp[64], ranges[2048];
        snprintf(md, sizeof md, "%llu:%lld", (unsigned long long)lid,
                 (long long)s->acks.floor - 1);
        snprintf(rp, sizeof rp, "%llu:%llu", (unsigned long long)lid,
                 (unsigned long long)s->read_pos);
        size_t off = 0;
        ranges[off++] = '[';
        for (size_t i = 0; i < s->acks.acked.n && off < sizeof ranges - 80; i++)
            off += (size_t)snprintf(ranges + off, sizeof ranges - off, "%s(%llu:%lld..%llu:%llu]",
                                    i ? "," : "", (unsigned long long)lid,
                                    (long long)s->acks.acked.r[i].start - 1,
                                    (unsigned long long)lid,
                                    (unsigned long long)s->acks.acked.r[i].end - 1);
        snprintf(ranges + off, sizeof ranges - off, "]");
        json_object_set_new(
            cursors, k,
            json_pack("{s:s,s:s,s:b,s:i,s:I,s:I,s:I,s:s,s:s,s:s,s:I,s:i,s:b,s:b,s:b,s:{}}",
                      "markDeletePosition", md, "readPosition", rp, "waitingReadOp", 0,
                      "pendingReadOps", 0, "messagesConsumedCounter",
                      (json_int_t)(s->acks.floor > first ? s->acks.floor - first : 0),
                      "cursorLedger", (json_int_t)-1, "cursorLedgerLastEntry", (json_int_t)-1,
                      "individuallyDeletedMessages", ranges, "lastLedgerSwitchTimestamp",
                      created, "state", "Open", "numberOfEntriesSinceFirstNotAckedMessage",
                      (json_int_t)(s->read_pos > s->acks.floor ? s->read_pos - s->acks.floor : 0),
                      "totalNonContiguousDeletedMessagesRange", (int)s->acks.acked.n,
                      "subscriptionHavePendingRead", 0, "subscriptionHavePendingReplayRead", 0,
                      "active", s->nconsumers > 0, "properties"));
    }
    json_object_set_new(o, "cursors", cursors);
    json_object_set_new(o, "schemaLedgers", json_array());
    json_object_set_new(o, "compactedLedger",
                        json_pack("{s:I,s:I,s:I,s:b,s:b}", "ledgerId", (json_int_t)-1, "entries",
                                  (json_int_t)-1, "size", (json_int_t)-1, "offloaded", 0,
                                  "underReplicated", 0));
    return o;
}
