/* subscription.c - subscriptions and consumers: SUBSCRIBE (four types, durable and
 * non-durable, initial position, reader start ids), FLOW, ACK (individual, cumulative,
 * batch-index), REDELIVER_UNACKNOWLEDGED_MESSAGES, UNSUBSCRIBE, CLOSE_CONSUMER, SEEK,
 * GET_LAST_MESSAGE_ID, CONSUMER_STATS, and cursor persistence in the metadata store. */
#include <stdio.h>
#include <string.h>

#include "broker/auth.h"
#include "broker/broker.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define KS_RANGE 65536

/* --- cursor persistence ------------------------------------------------------------------- */

static void cursor_key(topic_t *t, const char *sub, char *key, size_t n)
{
    snprintf(key, n, "/managed-ledgers/%s/%s/persistent/%s/%s", t->tn.tenant, t->tn.ns,
             t->tn.local, sub);
}

void sub_persist(subscription_t *s)
{
    if (!s->durable) return;
    mg_buf_t b;
    buf_init(&b);
    uint32_t type = (uint32_t)s->type;
    buf_append(&b, "MGC1", 4);
    buf_append(&b, &type, 4);
    if (ackset_encode(&s->acks, &b) == 0) {
        char key[2600];
        cursor_key(s->topic, s->name, key, sizeof key);
        meta_put(s->topic->b->meta, key, b.data, b.len, false);
    }
    buf_free(&b);
    s->dirty = false;
}

void sub_mark_dirty(subscription_t *s)
{
    if (s->dirty || !s->durable) return;
    s->dirty = true;
    s->next_dirty = s->topic->b->dirty_subs;
    s->topic->b->dirty_subs = s;
}

void subs_flush_dirty(broker_t *b)
{
    while (b->dirty_subs) {
        subscription_t *s = b->dirty_subs;
        b->dirty_subs = s->next_dirty;
        s->next_dirty = NULL;
        if (s->dirty) sub_persist(s);
    }
}

static subscription_t *sub_new(topic_t *t, const char *name, int type, bool durable, uint64_t floor)
{
    subscription_t *s = mg_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->topic = t;
    s->name = mg_strdup(name);
    s->type = type;
    s->durable = durable;
    ackset_init(&s->acks, floor);
    s->read_pos = floor;
    map_init_u64(&s->pending);
    map_init_u64(&s->redeliver_count);
    idset_init(&s->replay);
    s->last_active_ms = mg_now_ms();
    map_put(&t->subs, s->name, s);
    return s;
}

static int load_cursor(void *arg, const char *key, const char *val, size_t len)
{
    topic_t *t = arg;
    const char *name = strrchr(key, '/');
    if (!name || !strcmp(name + 1, "__dedup") || len < 8 || memcmp(val, "MGC1", 4)) return 0;
    name++;
    uint32_t type;
    memcpy(&type, val + 4, 4);
    if (type > SUB_KEY_SHARED) type = SUB_EXCLUSIVE; /* corrupt: a valid type for stats */
    subscription_t *s = sub_new(t, name, (int)type, true, 0);
    if (!s) return 0;
    if (ackset_decode(&s->acks, (const uint8_t *)val + 8, len - 8)) {
        log_warn("cursor %s of %s is corrupt: starting from the beginning", name, t->name);
        ackset_reset(&s->acks, log_first_id(t->log));
    }
    if (s->acks.floor < log_first_id(t->log)) ackset_reset(&s->acks, log_first_id(t->log));
    s->read_pos = s->acks.floor;
    return 0;
}

void sub_load_all(topic_t *t)
{
    char prefix[2600];
    cursor_key(t, "", prefix, sizeof prefix);
    meta_list(t->b->meta, prefix, load_cursor, t);
}

subscription_t *sub_get_or_create(topic_t *t, const char *name, int type, bool durable,
                                  uint64_t start_id)
{
    subscription_t *s = map_get(&t->subs, name);
    if (s) return s;
    s = sub_new(t, name, type, durable, start_id);
    if (s && durable) sub_persist(s);
    return s;
}

pending_entry_t *pending_new(subscription_t *s)
{
    return mg_pool_get(&s->topic->b->pend_pool);
}

void pending_free(subscription_t *s, void *pe)
{
    mg_pool_put(&s->topic->b->pend_pool, pe);
}

static void clear_pending(subscription_t *s)
{
    void *v;
    for (size_t it = 0; map_next(&s->pending, &it, NULL, NULL, &v);) pending_free(s, v);
    map_free(&s->pending);
    map_init_u64(&s->pending);
}

void sub_free(subscription_t *s)
{
    broker_t *b = s->topic->b;
    if (s->dirty) { /* unlink from the dirty list */
        subscription_t **pp = &b->dirty_subs;
        while (*pp && *pp != s) pp = &(*pp)->next_dirty;
        if (*pp) *pp = s->next_dirty;
    }
    if (s->delayed_timer) loop_timer_del(b->loop, s->delayed_timer);
    dispatch_unschedule(s);
    clear_pending(s);
    map_free(&s->pending);
    map_free(&s->redeliver_count);
    idset_free(&s->replay);
    ackset_free(&s->acks);
    mg_free(s->delayed);
    mg_free(s->name);
    mg_free(s);
}

void sub_delete(subscription_t *s)
{
    topic_t *t = s->topic;
    s->deleting = true;
    while (s->consumers) consumer_close(s->consumers, true);
    if (s->durable) {
        char key[2600];
        cursor_key(t, s->name, key, sizeof key);
        meta_del(t->b->meta, key);
    }
    map_del(&t->subs, s->name);
    sub_free(s);
}

uint64_t sub_backlog(const subscription_t *s)
{
    uint64_t end = log_durable_end(s->topic->log);
    if (s->acks.floor >= end) return 0;
    return end - s->acks.floor - ackset_acked_in(&s->acks, s->acks.floor, end);
}

/* Rewind: everything < id acknowledged, everything from id on delivered again. */
void sub_reset_to(subscription_t *s, uint64_t id)
{
    uint64_t first = log_first_id(s->topic->log), end = log_durable_end(s->topic->log);
    if (id < first) id = first;
    if (id > end) id = end;
    ackset_reset(&s->acks, id);
    clear_pending(s);
    idset_clear(&s->replay);
    s->ndelayed = 0;
    s->read_pos = id;
    for (consumer_t *c = s->consumers; c; c = c->next_in_sub) c->unacked = 0;
    sub_mark_dirty(s);
}

/* --- consumers ---------------------------------------------------------------------------- */

static void send_active_change(consumer_t *c, bool active)
{
    if (!c->conn || c->conn->closing) return;
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandActiveConsumerChange a = PULSAR__PROTO__COMMAND_ACTIVE_CONSUMER_CHANGE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__ACTIVE_CONSUMER_CHANGE;
    out.active_consumer_change = &a;
    a.consumer_id = c->id;
    a.has_is_active = 1;
    a.is_active = active;
    conn_send_cmd(c->conn, &out);
}

/* Failover: consumers sorted by (priority, name); the active one is the first, or for a
 * partition, the one at partition % count, as Pulsar picks it. Exclusive: the only one. */
static void elect_active(subscription_t *s, bool notify_all)
{
    consumer_t *prev = s->active;
    if (!s->consumers) {
        s->active = NULL;
        return;
    }
    if (s->type == SUB_EXCLUSIVE) {
        s->active = s->consumers;
        return;
    }
    consumer_t *sorted[256];
    int n = 0;
    for (consumer_t *c = s->consumers; c && n < 256; c = c->next_in_sub) {
        int i = n++;
        while (i > 0 && (sorted[i - 1]->priority > c->priority ||
                         (sorted[i - 1]->priority == c->priority &&
                          strcmp(sorted[i - 1]->name, c->name) > 0))) {
            sorted[i] = sorted[i - 1];
            i--;
        }
        sorted[i] = c;
    }
    int idx = s->topic->tn.partition >= 0 ? s->topic->tn.partition % n : 0;
    s->active = sorted[idx];
    if (s->active != prev || notify_all) {
        for (consumer_t *c = s->consumers; c; c = c->next_in_sub)
            if (notify_all || c == s->active || c == prev) send_active_change(c, c == s->active);
        if (prev && prev != s->active) {
            /* the old active consumer's unacked messages go to the new one */
            void *v;
            for (size_t it = 0; map_next(&s->pending, &it, NULL, NULL, &v);) {
                pending_entry_t *pe = v;
                idset_add(&s->replay, pe->id);
                pending_free(s, map_del_u64(&s->pending, pe->id));
            }
            prev->unacked = 0;
        }
    }
}

/* Key_Shared auto-split: a new consumer takes the upper half of the largest range. */
static int ks_assign_auto(subscription_t *s, consumer_t *c)
{
    c->ranges = mg_malloc(sizeof *c->ranges);
    if (!c->ranges) return -1;
    c->nranges = 1;
    consumer_t *big = NULL;
    int32_t best = -1;
    for (consumer_t *o = s->consumers; o; o = o->next_in_sub)
        for (int i = 0; i < o->nranges; i++) {
            int32_t w = o->ranges[i][1] - o->ranges[i][0];
            if (w > best) {
                best = w;
                big = o;
            }
        }
    if (!big) {
        c->ranges[0][0] = 0;
        c->ranges[0][1] = KS_RANGE - 1;
        return 0;
    }
    for (int i = 0; i < big->nranges; i++)
        if (big->ranges[i][1] - big->ranges[i][0] == best) {
            int32_t mid = big->ranges[i][0] + best / 2;
            c->ranges[0][0] = mid + 1;
            c->ranges[0][1] = big->ranges[i][1];
            big->ranges[i][1] = mid;
            break;
        }
    return 0;
}

/* Give a leaving auto-split consumer's ranges to the consumer owning the adjacent range. */
static void ks_release_auto(subscription_t *s, consumer_t *c)
{
    for (int i = 0; i < c->nranges; i++) {
        int32_t lo = c->ranges[i][0], hi = c->ranges[i][1];
        consumer_t *best = NULL;
        int bi = -1;
        for (consumer_t *o = s->consumers; o; o = o->next_in_sub) {
            if (o == c) continue;
            for (int j = 0; j < o->nranges; j++)
                if (o->ranges[j][1] + 1 == lo || o->ranges[j][0] == hi + 1) {
                    best = o;
                    bi = j;
                }
        }
        if (best) {
            if (best->ranges[bi][1] + 1 == lo) best->ranges[bi][1] = hi;
            else best->ranges[bi][0] = lo;
        }
    }
}

static bool ks_overlaps(subscription_t *s, Pulsar__Proto__KeySharedMeta *m, char *err, size_t n)
{
    for (size_t i = 0; i < m->n_hashranges; i++) {
        int32_t a = m->hashranges[i]->start, b = m->hashranges[i]->end;
        if (a < 0 || b >= KS_RANGE || a > b) {
            snprintf(err, n, "Invalid hash range [%d, %d]", a, b);
            return true;
        }
        for (consumer_t *o = s->consumers; o; o = o->next_in_sub)
            for (int j = 0; j < o->nranges; j++)
                if (a <= o->ranges[j][1] && o->ranges[j][0] <= b) {
                    snprintf(err, n, "Range conflict with consumer %s: [%d, %d] overlaps [%d, %d]",
                             o->name, a, b, o->ranges[j][0], o->ranges[j][1]);
                    return true;
                }
    }
    return false;
}

static void consumer_free(consumer_t *c)
{
    mg_free(c->ranges);
    mg_free(c->name);
    mg_free(c->client_version);
    mg_free(c);
}

void consumer_close(consumer_t *cs, bool notify_client)
{
    subscription_t *s = cs->sub;
    conn_t *c = cs->conn;
    if (notify_client && c && !c->closing) {
        Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandCloseConsumer cc = PULSAR__PROTO__COMMAND_CLOSE_CONSUMER__INIT;
        out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_CONSUMER;
        out.close_consumer = &cc;
        cc.consumer_id = cs->id;
        cc.request_id = (uint64_t)-1;
        conn_send_cmd(c, &out);
    }
    if (c && !c->closing) map_del_u64(&c->consumers, cs->id);
    if (s) {
        topic_t *t = s->topic;
        consumer_t **pp = &s->consumers;
        while (*pp && *pp != cs) pp = &(*pp)->next_in_sub;
        if (*pp) *pp = cs->next_in_sub;
        s->nconsumers--;
        t->nconsumers--;
        if (s->rr_next == cs) s->rr_next = NULL;
        /* unacked messages of this consumer are delivered again, counted as redeliveries */
        void *v;
        uint64_t id;
        for (size_t it = 0; map_next(&s->pending, &it, NULL, &id, &v);) {
            pending_entry_t *pe = v;
            if (pe->consumer != cs) continue;
            idset_add(&s->replay, id);
            uintptr_t cnt = (uintptr_t)map_get_u64(&s->redeliver_count, id);
            map_put_u64(&s->redeliver_count, id, (void *)(cnt + 1));
            pending_free(s, map_del_u64(&s->pending, id));
        }
        if (s->type == SUB_KEY_SHARED && s->ks_mode == 0) ks_release_auto(s, cs);
        s->last_active_ms = mg_now_ms();
        if (s->active == cs) {
            s->active = NULL;
            elect_active(s, false);
        } else if (s->type == SUB_FAILOVER) {
            elect_active(s, false);
        }
        if (!s->durable && !s->consumers && !t->closing && !s->deleting) {
            map_del(&t->subs, s->name);
            sub_free(s);
        } else if (!t->closing) {
            dispatch_schedule(s);
        }
    }
    consumer_free(cs);
}

static uint64_t start_floor(topic_t *t, Pulsar__Proto__CommandSubscribe *cmd)
{
    uint64_t first = log_first_id(t->log), end = log_durable_end(t->log);
    pb_msgid_t *m = cmd->start_message_id;
    if (m) {
        if (m->ledgerid == UINT64_MAX && m->entryid == UINT64_MAX) return first; /* earliest */
        if (m->ledgerid == (uint64_t)INT64_MAX) return end;                    /* latest */
        uint64_t lid = log_ledger_id(t->log);
        if (m->ledgerid < lid) return first;
        if (m->ledgerid > lid) return end;
        /* Inclusive: Pulsar's broker always steps back one entry from a start id (it wraps it
         * as a batch message id), and the client drops what it has already seen. */
        uint64_t f = m->entryid;
        if (f < first) f = first;
        if (f > end) f = end;
        return f;
    }
    bool earliest = cmd->has_initialposition &&
                    cmd->initialposition == PULSAR__PROTO__COMMAND_SUBSCRIBE__INITIAL_POSITION__Earliest;
    return earliest ? first : end;
}

const char *sub_type_name(int t)
{
    static const char *n[] = {"Exclusive", "Shared", "Failover", "Key_Shared"};
    return t >= 0 && t < 4 ? n[t] : "Unknown";
}

void handle_subscribe(conn_t *c, Pulsar__Proto__CommandSubscribe *cmd)
{
    broker_t *b = c->b;
    if (map_get_u64(&c->consumers, cmd->consumer_id)) {
        consumer_t *cs = map_get_u64(&c->consumers, cmd->consumer_id);
        if (cs->sub && !strcmp(cs->sub->topic->name, cmd->topic) && !strcmp(cs->sub->name, cmd->subscription)) {
            conn_send_success(c, cmd->request_id); /* retry of a subscribe that succeeded */
            return;
        }
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy,
                        "Consumer id %llu is already in use on this connection",
                        (unsigned long long)cmd->consumer_id);
        return;
    }
    if (!cmd->subscription || !*cmd->subscription) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__MetadataError,
                        "Empty subscription name");
        return;
    }
    if ((int)cmd->subtype < 0 || cmd->subtype > 3) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__NotAllowedError,
                        "Unknown subscription type %d", (int)cmd->subtype);
        return;
    }
    char why[400];
    if (!auth_conn_may_subscribe(c, cmd->topic, cmd->subscription, why, sizeof why)) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__AuthorizationError, "%s",
                        why);
        return;
    }
    int code = 0;
    char err[400];
    bool create = !cmd->has_force_topic_creation || cmd->force_topic_creation;
    topic_t *t = topic_get(b, cmd->topic, create, &code, err, sizeof err);
    if (!t) {
        conn_send_error(c, cmd->request_id, code, "%s", err);
        return;
    }
    if (schema_on_subscribe(t, cmd->schema, &code, err, sizeof err)) {
        conn_send_error(c, cmd->request_id, code, "%s", err);
        return;
    }
    const ns_policies_t *pol = ns_policies(b, t->tn.tenant, t->tn.ns);
    int maxc = pol && pol->max_consumers_per_topic >= 0 ? pol->max_consumers_per_topic
                                                       : b->cfg->max_consumers_per_topic;
    if (maxc > 0 && t->nconsumers >= maxc) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy,
                        "Topic %s reached the maximum number of consumers (%d)", t->name, maxc);
        return;
    }
    bool durable = !cmd->has_durable || cmd->durable;
    int type = (int)cmd->subtype;
    subscription_t *s = map_get(&t->subs, cmd->subscription);
    if (s) {
        if (s->consumers && s->type != type) {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy,
                            "Subscription %s is of type %s, not %s", s->name, sub_type_name(s->type),
                            sub_type_name(type));
            return;
        }
        if (type == SUB_EXCLUSIVE && s->consumers) {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy,
                            "Exclusive consumer is already connected to subscription %s", s->name);
            return;
        }
        int maxs = pol && pol->max_consumers_per_subscription >= 0
                       ? pol->max_consumers_per_subscription
                       : b->cfg->max_consumers_per_subscription;
        if (maxs > 0 && s->nconsumers >= maxs) {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy,
                            "Subscription %s reached the maximum number of consumers (%d)", s->name,
                            maxs);
            return;
        }
        if (!s->consumers) s->type = type;
    }
    int ks_mode = 0;
    if (type == SUB_KEY_SHARED && cmd->keysharedmeta) ks_mode = (int)cmd->keysharedmeta->keysharedmode;
    if (s && type == SUB_KEY_SHARED && s->consumers && s->ks_mode != ks_mode) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerAssignError,
                        "Key_Shared mode mismatch with the consumers already connected");
        return;
    }
    if (type == SUB_KEY_SHARED && ks_mode == 1) {
        if (!cmd->keysharedmeta->n_hashranges) {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerAssignError,
                            "Sticky Key_Shared consumer without hash ranges");
            return;
        }
        if (s && ks_overlaps(s, cmd->keysharedmeta, err, sizeof err)) {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerAssignError,
                            "%s", err);
            return;
        }
    }
    if (!s) {
        s = sub_get_or_create(t, cmd->subscription, type, durable, start_floor(t, cmd));
        if (!s) {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ServiceNotReady,
                            "no memory");
            return;
        }
    }
    s->ks_mode = ks_mode;
    consumer_t *cs = mg_calloc(1, sizeof *cs);
    if (!cs) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ServiceNotReady, "no memory");
        return;
    }
    cs->conn = c;
    cs->sub = s;
    cs->id = cmd->consumer_id;
    char nb[64];
    if (!cmd->consumer_name || !*cmd->consumer_name)
        snprintf(nb, sizeof nb, "consumer-%llu", (unsigned long long)cmd->consumer_id);
    cs->name = mg_strdup(cmd->consumer_name && *cmd->consumer_name ? cmd->consumer_name : nb);
    cs->priority = cmd->has_priority_level ? cmd->priority_level : 0;
    cs->client_version = mg_strdup(c->client_version ? c->client_version : "");
    cs->connected_since_ms = mg_now_ms();
    if (type == SUB_KEY_SHARED) {
        if (ks_mode == 1) {
            size_t n = cmd->keysharedmeta->n_hashranges;
            cs->ranges = mg_malloc(n * sizeof *cs->ranges);
            cs->nranges = (int)n;
            for (size_t i = 0; i < n && cs->ranges; i++) {
                cs->ranges[i][0] = cmd->keysharedmeta->hashranges[i]->start;
                cs->ranges[i][1] = cmd->keysharedmeta->hashranges[i]->end;
            }
        } else {
            ks_assign_auto(s, cs);
        }
    }
    /* append at the end: subscribe order matters for round robin and Exclusive */
    consumer_t **pp = &s->consumers;
    while (*pp) pp = &(*pp)->next_in_sub;
    *pp = cs;
    s->nconsumers++;
    t->nconsumers++;
    map_put_u64(&c->consumers, cs->id, cs);
    conn_send_success(c, cmd->request_id);
    if (type == SUB_FAILOVER) elect_active(s, true);
    else if (type == SUB_EXCLUSIVE) elect_active(s, false);
    log_debug("consumer %s subscribed %s on %s (%s)", cs->name, s->name, t->name,
              sub_type_name(type));
    dispatch_schedule(s);
}

void handle_flow(conn_t *c, Pulsar__Proto__CommandFlow *cmd)
{
    consumer_t *cs = map_get_u64(&c->consumers, cmd->consumer_id);
    if (!cs || !cs->sub) return;
    cs->permits += cmd->messagepermits;
    dispatch_schedule(cs->sub);
}

static void send_ack_response(conn_t *c, uint64_t consumer_id, uint64_t request_id, int err,
                              const char *msg)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandAckResponse r = PULSAR__PROTO__COMMAND_ACK_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__ACK_RESPONSE;
    out.ackresponse = &r;
    r.consumer_id = consumer_id;
    r.has_request_id = 1;
    r.request_id = request_id;
    if (err >= 0) {
        r.has_error = 1;
        r.error = err;
        r.message = (char *)msg;
    }
    conn_send_cmd(c, &out);
}

/* An entry became fully acknowledged: drop its pending record and counters. */
static void settle(subscription_t *s, uint64_t id)
{
    pending_entry_t *pe = map_del_u64(&s->pending, id);
    if (pe) {
        if (pe->consumer) {
            uint64_t n = (uint64_t)pe->batch_size;
            pe->consumer->unacked = pe->consumer->unacked > n ? pe->consumer->unacked - n : 0;
            pe->consumer->acks++;
        }
        pending_free(s, pe);
    }
    map_del_u64(&s->redeliver_count, id);
    idset_remove(&s->replay, id);
}

void sub_expire_before(subscription_t *s, uint64_t before_id)
{
    if (s->acks.floor >= before_id) return;
    uint64_t n = before_id - s->acks.floor - ackset_acked_in(&s->acks, s->acks.floor, before_id);
    /* settle the delivered-but-unacked ones, releasing their consumers' unacked counts */
    size_t np = map_count(&s->pending), k = 0;
    uint64_t *ids = np ? mg_malloc(np * sizeof *ids) : NULL;
    uint64_t id;
    for (size_t it = 0; ids && map_next(&s->pending, &it, NULL, &id, NULL);)
        if (id < before_id) ids[k++] = id;
    for (size_t i = 0; i < k; i++) settle(s, ids[i]);
    mg_free(ids);
    ackset_ack_cumulative(&s->acks, before_id - 1);
    s->msg_expired += n;
    if (s->read_pos < s->acks.floor) s->read_pos = s->acks.floor;
    sub_mark_dirty(s);
    dispatch_schedule(s);
}

void handle_ack(conn_t *c, Pulsar__Proto__CommandAck *cmd)
{
    consumer_t *cs = map_get_u64(&c->consumers, cmd->consumer_id);
    if (!cs || !cs->sub) {
        if (cmd->has_request_id)
            send_ack_response(c, cmd->consumer_id, cmd->request_id,
                              PULSAR__PROTO__SERVER_ERROR__ConsumerNotFound, "Consumer not found");
        return;
    }
    subscription_t *s = cs->sub;
    uint64_t lid = log_ledger_id(s->topic->log), end = log_durable_end(s->topic->log);
    for (size_t i = 0; i < cmd->n_message_id; i++) {
        pb_msgid_t *m = cmd->message_id[i];
        if (m->ledgerid != lid || m->entryid >= end) continue; /* not ours: ignore like Pulsar */
        uint64_t id = m->entryid;
        if (cmd->ack_type == PULSAR__PROTO__COMMAND_ACK__ACK_TYPE__Cumulative) {
            if (s->type == SUB_SHARED || s->type == SUB_KEY_SHARED) continue; /* not allowed */
            uint64_t upto = id;
            bool partial = m->n_ack_set > 0;
            if (partial && id == 0) {
                ackset_ack_batch(&s->acks, id, m->ack_set, m->n_ack_set,
                                 m->has_batch_size ? m->batch_size : 0);
                continue;
            }
            if (partial) upto = id - 1;
            /* settle every pending entry up to the cumulative position */
            uint64_t pid;
            void *v;
            for (size_t it = 0; map_next(&s->pending, &it, NULL, &pid, &v);)
                if (pid <= upto) settle(s, pid);
            ackset_ack_cumulative(&s->acks, upto);
            if (partial &&
                ackset_ack_batch(&s->acks, id, m->ack_set, m->n_ack_set,
                                 m->has_batch_size ? m->batch_size : 0))
                settle(s, id);
        } else if (m->n_ack_set > 0) {
            pending_entry_t *pe = map_get_u64(&s->pending, id);
            int32_t bs = m->has_batch_size ? m->batch_size : (pe ? pe->batch_size : 0);
            if (ackset_ack_batch(&s->acks, id, m->ack_set, m->n_ack_set, bs)) settle(s, id);
        } else {
            if (ackset_ack(&s->acks, id)) settle(s, id);
            else settle(s, id);
        }
    }
    s->last_active_ms = mg_now_ms();
    sub_mark_dirty(s);
    if (cmd->has_request_id) send_ack_response(c, cmd->consumer_id, cmd->request_id, -1, NULL);
    dispatch_schedule(s);
    topic_trim_check(s->topic, s->acks.floor);
}

static void redeliver_one(subscription_t *s, uint64_t id)
{
    pending_entry_t *pe = map_del_u64(&s->pending, id);
    if (!pe) return;
    if (pe->consumer) {
        uint64_t n = (uint64_t)pe->batch_size;
        pe->consumer->unacked = pe->consumer->unacked > n ? pe->consumer->unacked - n : 0;
        pe->consumer->msg_redeliver += n;
    }
    pending_free(s, pe);
    if (ackset_is_acked(&s->acks, id)) return;
    idset_add(&s->replay, id);
    uintptr_t cnt = (uintptr_t)map_get_u64(&s->redeliver_count, id);
    map_put_u64(&s->redeliver_count, id, (void *)(cnt + 1));
}

void handle_redeliver(conn_t *c, Pulsar__Proto__CommandRedeliverUnacknowledgedMessages *cmd)
{
    consumer_t *cs = map_get_u64(&c->consumers, cmd->consumer_id);
    if (!cs || !cs->sub) return;
    subscription_t *s = cs->sub;
    bool listed = cmd->n_message_ids > 0 && (s->type == SUB_SHARED || s->type == SUB_KEY_SHARED);
    if (listed) {
        uint64_t lid = log_ledger_id(s->topic->log);
        for (size_t i = 0; i < cmd->n_message_ids; i++) {
            pb_msgid_t *m = cmd->message_ids[i];
            if (m->ledgerid != lid) continue;
            pending_entry_t *pe = map_get_u64(&s->pending, m->entryid);
            if (pe && pe->consumer == cs) redeliver_one(s, m->entryid);
        }
    } else {
        uint64_t id;
        void *v;
        /* collect first: redeliver_one deletes from the map being walked */
        size_t n = map_count(&s->pending), k = 0;
        uint64_t *ids = mg_malloc((n ? n : 1) * sizeof *ids);
        if (!ids) return;
        for (size_t it = 0; map_next(&s->pending, &it, NULL, &id, &v);)
            if (((pending_entry_t *)v)->consumer == cs) ids[k++] = id;
        for (size_t i = 0; i < k; i++) redeliver_one(s, ids[i]);
        mg_free(ids);
    }
    dispatch_schedule(s);
}

/* The attached consumer a request names, or NULL after answering ConsumerNotFound. */
static consumer_t *consumer_or_error(conn_t *c, uint64_t consumer_id, uint64_t request_id)
{
    consumer_t *cs = map_get_u64(&c->consumers, consumer_id);
    if (cs && cs->sub) return cs;
    conn_send_error(c, request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerNotFound,
                    "Consumer not found");
    return NULL;
}

void handle_unsubscribe(conn_t *c, Pulsar__Proto__CommandUnsubscribe *cmd)
{
    consumer_t *cs = consumer_or_error(c, cmd->consumer_id, cmd->request_id);
    if (!cs) return;
    subscription_t *s = cs->sub;
    if (s->nconsumers > 1) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ConsumerBusy,
                        "Subscription %s has other connected consumers", s->name);
        return;
    }
    topic_t *t = s->topic;
    bool durable = s->durable;
    char *name = mg_strdup(s->name);
    consumer_close(cs, false); /* frees a non-durable subscription with its last consumer */
    if (durable && name && (s = map_get(&t->subs, name))) sub_delete(s);
    mg_free(name);
    conn_send_success(c, cmd->request_id);
}

void handle_close_consumer(conn_t *c, Pulsar__Proto__CommandCloseConsumer *cmd)
{
    consumer_t *cs = map_get_u64(&c->consumers, cmd->consumer_id);
    if (cs) consumer_close(cs, false);
    conn_send_success(c, cmd->request_id);
}

void handle_seek(conn_t *c, Pulsar__Proto__CommandSeek *cmd)
{
    consumer_t *cs = consumer_or_error(c, cmd->consumer_id, cmd->request_id);
    if (!cs) return;
    subscription_t *s = cs->sub;
    topic_t *t = s->topic;
    uint64_t target;
    if (cmd->message_id) {
        pb_msgid_t *m = cmd->message_id;
        uint64_t lid = log_ledger_id(t->log);
        if (m->ledgerid == UINT64_MAX || m->ledgerid < lid) target = log_first_id(t->log);
        else if (m->ledgerid > lid) target = log_durable_end(t->log);
        else target = m->entryid;
    } else if (cmd->has_message_publish_time) {
        target = topic_find_by_time(t, cmd->message_publish_time);
    } else {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__MetadataError,
                        "SEEK needs a message id or a publish time");
        return;
    }
    sub_reset_to(s, target);
    /* As Pulsar: disconnect the subscription's consumers; they reconnect from the new position. */
    /* Pulsar disconnects with isResetCursor: a non-durable subscription survives so the
     * reader re-attaches to the reset cursor (its start id is then ignored). */
    s->deleting = true;
    while (s->consumers) consumer_close(s->consumers, true);
    s->deleting = false;
    conn_send_success(c, cmd->request_id);
}

void handle_get_last_message_id(conn_t *c, Pulsar__Proto__CommandGetLastMessageId *cmd)
{
    consumer_t *cs = consumer_or_error(c, cmd->consumer_id, cmd->request_id);
    if (!cs) return;
    topic_t *t = cs->sub->topic;
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetLastMessageIdResponse r =
        PULSAR__PROTO__COMMAND_GET_LAST_MESSAGE_ID_RESPONSE__INIT;
    Pulsar__Proto__MessageIdData last = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    Pulsar__Proto__MessageIdData md = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID_RESPONSE;
    out.getlastmessageidresponse = &r;
    r.request_id = cmd->request_id;
    r.last_message_id = &last;
    uint64_t end = log_durable_end(t->log), first = log_first_id(t->log);
    last.ledgerid = log_ledger_id(t->log);
    last.entryid = end > 0 ? end - 1 : (uint64_t)-1;
    if (t->tn.partition >= 0) {
        last.has_partition = 1;
        last.partition = t->tn.partition;
    }
    if (end > first) {
        mg_entry_t *e;
        if (topic_read_entry(t, end - 1, &e) == 0) {
            if (e->num_messages > 1) {
                last.has_batch_index = 1;
                last.batch_index = e->num_messages - 1;
            }
            entry_unref(e);
        }
    }
    md.ledgerid = last.ledgerid;
    md.entryid = cs->sub->acks.floor > 0 ? cs->sub->acks.floor - 1 : (uint64_t)-1;
    r.consumer_mark_delete_position = &md;
    conn_send_cmd(c, &out);
}

static void fmt_time(uint64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char b[40];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03uZ", b, (unsigned)(ms % 1000));
}

void handle_consumer_stats(conn_t *c, Pulsar__Proto__CommandConsumerStats *cmd)
{
    consumer_t *cs = map_get_u64(&c->consumers, cmd->consumer_id);
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConsumerStatsResponse r = PULSAR__PROTO__COMMAND_CONSUMER_STATS_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONSUMER_STATS_RESPONSE;
    out.consumerstatsresponse = &r;
    r.request_id = cmd->request_id;
    char since[64];
    if (!cs || !cs->sub) {
        r.has_error_code = 1;
        r.error_code = PULSAR__PROTO__SERVER_ERROR__ConsumerNotFound;
        r.error_message = "Consumer not found";
        conn_send_cmd(c, &out);
        return;
    }
    fmt_time(cs->connected_since_ms, since, sizeof since);
    r.has_msgrateout = 1;
    r.msgrateout = cs->rate_out;
    r.has_msgthroughputout = 1;
    r.msgthroughputout = cs->tput_out;
    r.has_msgrateredeliver = 1;
    r.msgrateredeliver = 0;
    r.consumername = cs->name;
    r.has_availablepermits = 1;
    r.availablepermits = cs->permits > 0 ? (uint64_t)cs->permits : 0;
    r.has_unackedmessages = 1;
    r.unackedmessages = cs->unacked;
    r.has_blockedconsumeronunackedmsgs = 1;
    r.blockedconsumeronunackedmsgs = cs->blocked;
    r.address = c->addr;
    r.connectedsince = since;
    r.type = (char *)sub_type_name(cs->sub->type);
    r.has_msgrateexpired = 1;
    r.msgrateexpired = 0;
    r.has_msgbacklog = 1;
    r.msgbacklog = sub_backlog(cs->sub);
    r.has_messageackrate = 1;
    r.messageackrate = 0;
    conn_send_cmd(c, &out);
}
