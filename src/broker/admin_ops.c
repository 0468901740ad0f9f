/* admin_ops.c - broker-side operations behind the admin REST API (see admin_ops.h).
 * Loop thread only. They reuse the broker's own primitives (topic_get/topic_close,
 * sub_get_or_create/sub_delete/sub_reset_to, ackset) so cursor persistence, dispatch and
 * consumer notifications behave exactly as for the wire protocol. */
#include "broker/admin_ops.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

int aops_topic_create(broker_t *b, const mg_topic_name_t *tn, char *err, size_t errlen)
{
    char e[256];
    if (log_exists(b->store, tn->full)) return -EEXIST;
    mg_log_t *l = log_open(b->store, tn->full, true, e, sizeof e);
    if (!l) {
        if (err) snprintf(err, errlen, "%s", e);
        return -EIO;
    }
    log_close(l);
    char key[2600];
    snprintf(key, sizeof key, "/topics/%s/%s/%s", tn->tenant, tn->ns, tn->local);
    meta_put(b->meta, key, "", 0, true);
    log_info("admin: created topic %s", tn->full);
    return 0;
}

bool aops_topic_has_log(broker_t *b, const char *full)
{
    return map_get(&b->topics, full) || log_exists(b->store, full);
}

topic_t *aops_topic_load(broker_t *b, const char *full)
{
    topic_t *t = map_get(&b->topics, full);
    if (t) return t;
    if (!log_exists(b->store, full)) return NULL;
    int code;
    char err[300];
    return topic_get(b, full, false, &code, err, sizeof err);
}

int aops_topic_delete(broker_t *b, const char *full, bool force)
{
    topic_t *t = aops_topic_load(b, full);
    if (!t) {
        /* a registry entry without a log (or a log that would not open): clean up */
        mg_topic_name_t tn;
        char err[200];
        if (topic_name_parse(full, &tn, err, sizeof err)) return -EINVAL;
        if (!log_exists(b->store, full)) return -ENOENT;
        log_delete(b->store, full);
        return 0;
    }
    if (!force) {
        if (map_count(&t->producers) || t->nconsumers) return -EBUSY;
        void *v;
        for (size_t it = 0; map_next(&t->subs, &it, NULL, NULL, &v);)
            if (((subscription_t *)v)->nconsumers) return -EBUSY;
    }
    topic_close(t, true);
    return 0;
}

int aops_topic_unload(broker_t *b, const char *full)
{
    topic_t *t = map_get(&b->topics, full);
    if (!t) return log_exists(b->store, full) ? 0 : -ENOENT;
    topic_close(t, false);
    return 0;
}

int aops_topic_terminate(topic_t *t, uint64_t *last)
{
    t->terminated = true;
    uint64_t end = log_durable_end(t->log);
    *last = end > 0 ? end - 1 : UINT64_MAX;
    const char *k;
    void *v;
    /* producers are closed; consumers learn about it when they reach the end */
    size_t n = map_count(&t->producers), i = 0;
    producer_t **ps = mg_calloc(n ? n : 1, sizeof *ps);
    for (size_t it = 0; ps && map_next(&t->producers, &it, &k, NULL, &v);) ps[i++] = v;
    for (size_t j = 0; j < i; j++) producer_close(ps[j], true);
    mg_free(ps);
    return 0;
}

int aops_sub_create(topic_t *t, const char *name, uint64_t start)
{
    if (map_get(&t->subs, name)) return -EEXIST;
    uint64_t first = log_first_id(t->log), end = log_durable_end(t->log);
    if (start < first) start = first;
    if (start > end) start = end;
    subscription_t *s = sub_get_or_create(t, name, SUB_EXCLUSIVE, true, start);
    return s ? 0 : -ENOMEM;
}

int aops_sub_delete(topic_t *t, const char *name, bool force)
{
    subscription_t *s = map_get(&t->subs, name);
    if (!s) return -ENOENT;
    if (s->nconsumers && !force) return -EBUSY;
    sub_delete(s);
    return 0;
}

int aops_sub_skip(topic_t *t, const char *name, int64_t n)
{
    subscription_t *s = map_get(&t->subs, name);
    if (!s) return -ENOENT;
    uint64_t end = log_durable_end(t->log);
    if (n < 0) {
        if (s->acks.floor < end) sub_reset_to(s, end);
        return 0;
    }
    uint64_t id = s->acks.floor;
    while (n > 0 && id < end) {
        if (!ackset_is_acked(&s->acks, id)) {
            ackset_ack(&s->acks, id);
            pending_free(s, map_del_u64(&s->pending, id));
            n--;
        }
        id++;
    }
    if (s->read_pos < s->acks.floor) s->read_pos = s->acks.floor;
    sub_mark_dirty(s);
    dispatch_schedule(s);
    return 0;
}

int aops_sub_expire(topic_t *t, const char *name, uint64_t seconds)
{
    uint64_t now = mg_now_ms(), cut = now > seconds * 1000 ? now - seconds * 1000 : 0;
    uint64_t before = topic_find_by_time(t, cut);
    if (name) {
        subscription_t *s = map_get(&t->subs, name);
        if (!s) return -ENOENT;
        sub_expire_before(s, before);
        return 0;
    }
    void *v;
    for (size_t it = 0; map_next(&t->subs, &it, NULL, NULL, &v);) sub_expire_before(v, before);
    return 0;
}

int aops_sub_reset(topic_t *t, const char *name, uint64_t id)
{
    subscription_t *s = map_get(&t->subs, name);
    if (!s) return -ENOENT;
    sub_reset_to(s, id);
    /* as Pulsar: connected consumers are disconnected and reconnect from the new position */
    s->deleting = true;
    while (s->consumers) consumer_close(s->consumers, true);
    s->deleting = false;
    return 0;
}

int aops_sub_nth_unacked(topic_t *t, const char *name, uint64_t n, uint64_t *out)
{
    subscription_t *s = map_get(&t->subs, name);
    if (!s) return -ENOENT;
    uint64_t end = log_durable_end(t->log);
    for (uint64_t id = s->acks.floor; id < end; id++) {
        if (ackset_is_acked(&s->acks, id)) continue;
        if (--n == 0) {
            *out = id;
            return 0;
        }
    }
    return -ENOENT;
}

int aops_subs_expire_inactive(broker_t *b, uint64_t now_ms)
{
    int deleted = 0;
    void *v;
    for (size_t it = 0; map_next(&b->topics, &it, NULL, NULL, &v);) {
        topic_t *t = v;
        const ns_policies_t *p = ns_policies(b, t->tn.tenant, t->tn.ns);
        int minutes = p && p->subscription_expiration_minutes > 0
                          ? p->subscription_expiration_minutes
                          : b->cfg->subscription_expiration_minutes; /* broker default */
        if (minutes <= 0 || t->closing) continue;
        uint64_t limit_ms = (uint64_t)minutes * 60000;
        /* collect first: deleting changes t->subs */
        size_t n = map_count(&t->subs), k = 0;
        subscription_t **doomed = mg_calloc(n ? n : 1, sizeof *doomed);
        if (!doomed) return deleted;
        void *sv;
        for (size_t j = 0; map_next(&t->subs, &j, NULL, NULL, &sv);) {
            subscription_t *s = sv;
            if (!s->durable || s->nconsumers || s->deleting) continue;
            if (now_ms > s->last_active_ms && now_ms - s->last_active_ms > limit_ms) doomed[k++] = s;
        }
        for (size_t j = 0; j < k; j++) {
            log_info("subscription expiration: %s: deleting subscription %s, inactive for %llu s "
                     "(policy %d min)", t->name, doomed[j]->name,
                     (unsigned long long)((now_ms - doomed[j]->last_active_ms) / 1000), minutes);
            sub_delete(doomed[j]);
            deleted++;
        }
        mg_free(doomed);
    }
    return deleted;
}
