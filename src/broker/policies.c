/* policies.c - namespace policies that act on data: backlog quota (refuse publishes, or evict
 * the oldest backlog), message TTL (expire: acknowledge messages older than the TTL) and
 * retention (delete whole segments that every subscription is past and that are older or
 * larger than the retention allows). Runs on the loop thread from a periodic timer. */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/timeutil.h"

static int64_t quota_limit_bytes(topic_t *t, const ns_policies_t *p, const char **policy)
{
    *policy = p && p->backlog_policy[0] ? p->backlog_policy : t->b->cfg->backlog_quota_default_policy;
    if (p && p->backlog_limit_bytes >= 0) return p->backlog_limit_bytes;
    int gb = t->b->cfg->backlog_quota_default_limit_gb;
    return gb > 0 ? (int64_t)gb << 30 : -1;
}

bool quota_blocks_publish(topic_t *t, int *code, char *err, size_t errlen)
{
    const ns_policies_t *p = ns_policies(t->b, t->tn.tenant, t->tn.ns);
    const char *policy;
    int64_t limit = quota_limit_bytes(t, p, &policy);
    if (limit < 0 || !map_count(&t->subs)) return false;
    if (!strcmp(policy, "consumer_backlog_eviction")) return false;
    uint64_t backlog = topic_backlog_bytes(t);
    if ((int64_t)backlog < limit) return false;
    *code = !strcmp(policy, "producer_exception")
                ? PULSAR__PROTO__SERVER_ERROR__ProducerBlockedQuotaExceededException
                : PULSAR__PROTO__SERVER_ERROR__ProducerBlockedQuotaExceededError;
    snprintf(err, errlen, "Cannot publish to %s: backlog quota of %lld bytes exceeded (%llu bytes)",
             t->name, (long long)limit, (unsigned long long)backlog);
    return true;
}

/* Acknowledge, on every subscription, entries published before `before_ms`. */
static void expire_older_than(topic_t *t, uint64_t before_ms)
{
    uint64_t lo = topic_find_by_time(t, before_ms); /* first entry young enough */
    void *v;
    for (size_t it = 0; map_next(&t->subs, &it, NULL, NULL, &v);) sub_expire_before(v, lo);
}

/* Evict the oldest backlog until the topic is under its quota (consumer_backlog_eviction). */
static void evict_backlog(topic_t *t, int64_t limit)
{
    uint64_t end = log_durable_end(t->log);
    while ((int64_t)topic_backlog_bytes(t) > limit) {
        subscription_t *slowest = NULL;
        void *v;
        for (size_t it = 0; map_next(&t->subs, &it, NULL, NULL, &v);) {
            subscription_t *s = v;
            if (!slowest || s->acks.floor < slowest->acks.floor) slowest = s;
        }
        if (!slowest || slowest->acks.floor >= end) break;
        uint64_t step = (end - slowest->acks.floor) / 10 + 1;
        ackset_ack_cumulative(&slowest->acks, slowest->acks.floor + step - 1);
        if (slowest->read_pos < slowest->acks.floor) slowest->read_pos = slowest->acks.floor;
        sub_mark_dirty(slowest);
    }
}

/* One past the last entry every subscription has acknowledged (all durable ones when there
 * is no subscription). */
static uint64_t consumed_end(topic_t *t)
{
    uint64_t end = log_durable_end(t->log);
    void *v;
    for (size_t it = 0; map_next(&t->subs, &it, NULL, NULL, &v);) {
        subscription_t *s = v;
        if (s->acks.floor < end) end = s->acks.floor;
    }
    return end;
}

static void retention_trim(topic_t *t, const ns_policies_t *p)
{
    broker_t *b = t->b;
    int64_t minutes = p && p->retention_minutes != -2 ? p->retention_minutes
                                                      : b->cfg->default_retention_minutes;
    int64_t size_mb = p && p->retention_size_mb != -2 ? p->retention_size_mb
                                                      : b->cfg->default_retention_size_mb;
    if (minutes < 0 && size_mb < 0) return; /* infinite retention */
    uint64_t min_floor = consumed_end(t); /* entries before it are candidates */
    log_segment_info_t segs[256];
    int n = log_segments(t->log, segs, 256);
    if (n > 256) n = 256;
    uint64_t now = mg_now_ms(), total = log_size_bytes(t->log);
    uint64_t trim_before = log_first_id(t->log);
    for (int i = 0; i < n - 1; i++) { /* never the active (last) segment */
        if (segs[i].end_id > min_floor) break;
        bool too_old = minutes >= 0 && now - segs[i].mtime_ms >= (uint64_t)minutes * 60000;
        bool too_big = size_mb >= 0 && total > (uint64_t)size_mb * 1048576;
        /* Pulsar: consumed data is kept while within BOTH limits; past either, it goes */
        if (!(too_old || too_big)) break;
        trim_before = segs[i].end_id;
        total -= segs[i].bytes;
    }
    if (trim_before > log_first_id(t->log)) {
        int d = log_trim(t->log, trim_before);
        if (d > 0) log_info("retention: %s: removed %d segment(s)", t->name, d);
    }
}

void topic_trim_check(topic_t *t, uint64_t floor)
{
    log_segment_info_t first;
    int n = log_segments(t->log, &first, 1);
    if ((size_t)n != t->trim_nsegs) {
        t->trim_nsegs = (size_t)n;
        t->trim_at = 0; /* rolled (or trimmed elsewhere): look now */
    }
    if (floor < t->trim_at) return;
    retention_trim(t, ns_policies(t->b, t->tn.tenant, t->tn.ns));
    n = log_segments(t->log, &first, 1);
    t->trim_nsegs = (size_t)n;
    /* next: when an ack floor reaches the end of the oldest closed segment; never when that
     * is consumed already (retention keeps it: the next roll or the periodic check decides) */
    t->trim_at = n > 1 && first.end_id > consumed_end(t) ? first.end_id : UINT64_MAX;
}

void policies_enforce_all(broker_t *b)
{
    const char *k;
    void *v;
    uint64_t now = mg_now_ms();
    for (size_t it = 0; map_next(&b->topics, &it, &k, NULL, &v);) {
        topic_t *t = v;
        const ns_policies_t *p = ns_policies(b, t->tn.tenant, t->tn.ns);
        int64_t ttl = p && p->ttl_seconds >= 0 ? p->ttl_seconds : b->cfg->ttl_seconds;
        if (ttl > 0 && now > (uint64_t)ttl * 1000) expire_older_than(t, now - (uint64_t)ttl * 1000);
        const char *policy;
        int64_t limit = quota_limit_bytes(t, p, &policy);
        if (limit >= 0 && !strcmp(policy, "consumer_backlog_eviction")) evict_backlog(t, limit);
        retention_trim(t, p);
    }
}
