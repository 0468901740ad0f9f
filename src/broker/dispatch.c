/* dispatch.c - delivering entries to consumers: which entry next (replays first, then new
 * entries in order), which consumer (Exclusive/Failover: the active one; Shared: round robin
 * among those with permits; Key_Shared: the owner of the key's hash range), FLOW permits
 * counted per message of a batch, delayed delivery, and the MESSAGE frame: a fresh small head
 * followed by the stored entry bytes as they were received. */
#include <errno.h>
#include <string.h>

#include "broker/broker.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/murmur3.h"
#include "common/timeutil.h"

#define DISPATCH_BUDGET 2000 /* entries per subscription per loop iteration */

int entry_info(mg_entry_t *e)
{
    if (e->info_ready) return 0;
    e->num_messages = 1;
    payload_view_t pv;
    meta_info_t mi;
    if (payload_layout(e->data, e->len, &pv) || payload_meta_info(&pv, &mi)) return -1;
    if (mi.num_messages > 0) e->num_messages = mi.num_messages;
    e->publish_time = mi.publish_time;
    e->deliver_at = mi.deliver_at;
    if (mi.ordering_key && mi.ordering_key_len) {
        e->key_hash = pulsar_key_hash(mi.ordering_key, mi.ordering_key_len);
        e->has_key = 1;
    } else if (mi.partition_key) {
        e->key_hash = pulsar_key_hash(mi.partition_key, mi.partition_key_len);
        e->has_key = 1;
    } else {
        e->key_hash = pulsar_key_hash("NONE_KEY", 8); /* Pulsar's sticky key for keyless messages */
    }
    e->info_ready = 1;
    return 0;
}

int topic_read_entry(topic_t *t, uint64_t id, mg_entry_t **out)
{
    int r = log_read(t->log, id, out);
    if (r) return r;
    entry_info(*out);
    return 0;
}

uint64_t topic_find_by_time(topic_t *t, uint64_t ts_ms)
{
    uint64_t lo = log_first_id(t->log), hi = log_durable_end(t->log);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        mg_entry_t *e;
        if (topic_read_entry(t, mid, &e)) {
            lo = mid + 1;
            continue;
        }
        uint64_t pt = e->publish_time;
        entry_unref(e);
        if (pt < ts_ms) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void dispatch_schedule(subscription_t *s)
{
    if (s->dispatch_scheduled) return;
    broker_t *b = s->topic->b;
    s->dispatch_scheduled = true;
    s->next_dispatch = b->dispatch_list;
    b->dispatch_list = s;
}

void dispatch_unschedule(subscription_t *s)
{
    if (!s->dispatch_scheduled) return;
    subscription_t **pp = &s->topic->b->dispatch_list;
    while (*pp && *pp != s) pp = &(*pp)->next_dispatch;
    if (*pp) *pp = s->next_dispatch;
    s->dispatch_scheduled = false;
}

void dispatch_pending(broker_t *b)
{
    /* run at most the subscriptions scheduled now; dispatch may schedule again */
    subscription_t *list = b->dispatch_list;
    b->dispatch_list = NULL;
    while (list) {
        subscription_t *s = list;
        list = s->next_dispatch;
        s->dispatch_scheduled = false;
        dispatch_run(s);
    }
}

void dispatch_topic(topic_t *t)
{
    void *v;
    for (size_t it = 0; map_next(&t->subs, &it, NULL, NULL, &v);) {
        subscription_t *s = v;
        if (s->consumers) dispatch_schedule(s);
    }
}

static bool can_take(subscription_t *s, consumer_t *c)
{
    if (c->permits <= 0 || !c->conn || c->conn->closing) return false;
    if (conn_output_full(c->conn)) {
        c->conn->output_blocked = true; /* conn_flush wakes us when it drains */
        return false;
    }
    if (s->type == SUB_SHARED || s->type == SUB_KEY_SHARED) {
        int lim = s->topic->b->cfg->max_unacked_per_consumer;
        if (lim > 0) {
            if (c->unacked >= (uint64_t)lim) c->blocked = true;
            else if (c->unacked < (uint64_t)lim / 2) c->blocked = false;
            if (c->blocked) return false;
        }
    }
    return true;
}

static consumer_t *pick_shared(subscription_t *s)
{
    consumer_t *start = s->rr_next ? s->rr_next : s->consumers;
    consumer_t *c = start;
    do {
        if (can_take(s, c)) {
            s->rr_next = c->next_in_sub ? c->next_in_sub : s->consumers;
            return c;
        }
        c = c->next_in_sub ? c->next_in_sub : s->consumers;
    } while (c != start);
    return NULL;
}

static consumer_t *ks_owner(subscription_t *s, uint32_t hash)
{
    int32_t slot = (int32_t)(hash % 65536);
    for (consumer_t *c = s->consumers; c; c = c->next_in_sub)
        for (int i = 0; i < c->nranges; i++)
            if (slot >= c->ranges[i][0] && slot <= c->ranges[i][1]) return c;
    return NULL;
}

static int send_message(subscription_t *s, consumer_t *c, mg_entry_t *e)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandMessage m = PULSAR__PROTO__COMMAND_MESSAGE__INIT;
    Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__MESSAGE;
    out.message = &m;
    m.consumer_id = c->id;
    m.message_id = &id;
    id.ledgerid = e->ledger_id;
    id.entryid = e->entry_id;
    uintptr_t cnt = (uintptr_t)map_get_u64(&s->redeliver_count, e->entry_id);
    m.has_redelivery_count = 1;
    m.redelivery_count = (uint32_t)cnt;
    const batch_bits_t *bb = ackset_batch(&s->acks, e->entry_id);
    if (bb) { /* partially acknowledged batch: tell the client which indexes remain */
        m.n_ack_set = (size_t)bb->nwords;
        m.ack_set = (int64_t *)bb->w;
    }
    return conn_send_entry(c->conn, &out, e, s->topic->log);
}

static int delayed_timer(mg_loop_t *l, uint64_t id, void *arg);

static void delayed_add(subscription_t *s, uint64_t at_ms, uint64_t id)
{
    if (s->ndelayed == s->capdelayed) {
        int n = s->capdelayed ? s->capdelayed * 2 : 16;
        void *d = mg_realloc(s->delayed, (size_t)n * sizeof *s->delayed);
        if (!d) return;
        s->delayed = d;
        s->capdelayed = n;
    }
    /* keep sorted by time (insertion; delayed sets are small in practice) */
    int i = s->ndelayed++;
    while (i > 0 && s->delayed[i - 1].at_ms > at_ms) {
        s->delayed[i] = s->delayed[i - 1];
        i--;
    }
    s->delayed[i].at_ms = at_ms;
    s->delayed[i].id = id;
    uint64_t now = mg_now_ms();
    if (s->delayed_timer) loop_timer_del(s->topic->b->loop, s->delayed_timer);
    uint64_t wait = s->delayed[0].at_ms > now ? s->delayed[0].at_ms - now : 0;
    s->delayed_timer = loop_timer_add(s->topic->b->loop, wait, delayed_timer, s);
}

static int delayed_timer(mg_loop_t *l, uint64_t tid, void *arg)
{
    subscription_t *s = arg;
    s->delayed_timer = 0;
    uint64_t now = mg_now_ms();
    int k = 0;
    while (k < s->ndelayed && s->delayed[k].at_ms <= now) {
        idset_add(&s->replay, s->delayed[k].id);
        k++;
    }
    memmove(s->delayed, s->delayed + k, (size_t)(s->ndelayed - k) * sizeof *s->delayed);
    s->ndelayed -= k;
    if (s->ndelayed > 0) {
        uint64_t wait = s->delayed[0].at_ms > now ? s->delayed[0].at_ms - now : 1;
        s->delayed_timer = loop_timer_add(l, wait, delayed_timer, s);
    }
    dispatch_schedule(s);
    return 0;
}

void dispatch_run(subscription_t *s)
{
    topic_t *t = s->topic;
    broker_t *b = t->b;
    if (!s->consumers || t->closing) return;
    uint64_t end = log_durable_end(t->log);
    uint64_t first = log_first_id(t->log);
    if (s->read_pos < first) s->read_pos = first;
    if (s->read_pos < s->acks.floor) s->read_pos = s->acks.floor;
    bool shared = s->type == SUB_SHARED || s->type == SUB_KEY_SHARED;
    idset_t skipped; /* Key_Shared entries whose consumer is busy: retried next time */
    idset_init(&skipped);
    uint64_t now_ms = 0;
    int budget = DISPATCH_BUDGET;
    while (budget-- > 0) {
        uint64_t id;
        bool from_replay = false;
        if (idset_min(&s->replay, &id)) {
            from_replay = true;
            idset_remove(&s->replay, id);
            if (ackset_is_acked(&s->acks, id) || map_get_u64(&s->pending, id) || id < first)
                continue;
        } else if (s->read_pos < end) {
            /* held-back (delayed) ids are always behind read_pos: it only moves back through
             * sub_reset_to, which drops them */
            id = s->read_pos++;
            if (ackset_is_acked(&s->acks, id) || map_get_u64(&s->pending, id)) continue;
        } else {
            break;
        }
        mg_entry_t *e;
        int r = topic_read_entry(t, id, &e);
        if (r) {
            if (r != -ENOENT) log_warn("%s: cannot read entry %llu: %d", t->name, (unsigned long long)id, r);
            continue;
        }
        if (shared && e->deliver_at > 0 && b->cfg->delayed_delivery_enabled) {
            if (!now_ms) now_ms = mg_now_ms();
            if ((uint64_t)e->deliver_at > now_ms) {
                delayed_add(s, (uint64_t)e->deliver_at, id);
                entry_unref(e);
                continue;
            }
        }
        consumer_t *c = NULL;
        if (s->type == SUB_EXCLUSIVE || s->type == SUB_FAILOVER) {
            c = s->active && can_take(s, s->active) ? s->active : NULL;
        } else if (s->type == SUB_SHARED) {
            c = pick_shared(s);
        } else {
            consumer_t *o = ks_owner(s, e->key_hash);
            if (o && can_take(s, o)) c = o;
            else if (o || s->consumers) {
                /* owner busy: hold this entry back, keep going with other keys */
                /* Later entries of the same key wait too: the owner stays busy for the
                 * rest of this pass, and replays go first in the next one. */
                idset_add(&skipped, id);
                entry_unref(e);
                continue;
            }
        }
        if (!c) {
            /* nobody can take it now: put it back */
            if (from_replay) idset_add(&s->replay, id);
            else s->read_pos = id;
            entry_unref(e);
            break;
        }
        pending_entry_t *pe = pending_new(s);
        if (!pe || send_message(s, c, e)) {
            pending_free(s, pe);
            if (from_replay) idset_add(&s->replay, id);
            else s->read_pos = id;
            entry_unref(e);
            break;
        }
        pe->id = id;
        pe->consumer = c;
        pe->batch_size = e->num_messages;
        map_put_u64(&s->pending, id, pe);
        c->permits -= e->num_messages;
        c->unacked += (uint64_t)e->num_messages;
        c->msg_out += (uint64_t)e->num_messages;
        c->bytes_out += e->len;
        s->msg_out += (uint64_t)e->num_messages;
        t->msg_out += (uint64_t)e->num_messages;
        t->bytes_out += e->len;
        b->total_msg_out += (uint64_t)e->num_messages;
        b->total_bytes_out += e->len;
        entry_unref(e);
    }
    for (size_t i = 0; i < skipped.n; i++)
        idset_add_range(&s->replay, skipped.r[i].start, skipped.r[i].end);
    idset_free(&skipped);
    if (budget < 0) dispatch_schedule(s); /* more to do: continue next iteration */
}
