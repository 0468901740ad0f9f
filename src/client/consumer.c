/* consumer.c - leaf consumers (one subscription on one topic or partition): SUBSCRIBE + FLOW,
 * MESSAGE decoding (decompression, batches, batch ack sets, chunk reassembly), the receive
 * queue (kept on the root consumer, shared by every leaf of a partitioned / multi-topic
 * consumer), permits, individual / cumulative / batch-index acks, ack timeout and negative
 * acks with redelivery, and hand-off of messages past max_redeliver_count to the dead-letter
 * queue (published by the maintenance thread, see deadletter.c). Callers hold cl->lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

void mg_consumer_conf_init(mg_consumer_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->receiver_queue_size = 1000;
    c->nack_redelivery_delay_ms = 60000;
    c->batch_max_messages = 100;
    c->batch_max_bytes = 10 * 1024 * 1024;
    c->batch_timeout_ms = 100;
    c->pattern_refresh_s = 60;
}

static struct mg_consumer *root_of(struct mg_consumer *c)
{
    while (c->parent) c = c->parent;
    return c;
}

/* ---- queue ---------------------------------------------------------------------------------- */
static int mq_push(mq_t *q, mg_message_t *m)
{
    if (q->len == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        mg_message_t **nv = mg_malloc(nc * sizeof *nv);
        if (!nv) return -1;
        for (size_t i = 0; i < q->len; i++) nv[i] = q->v[(q->head + i) % q->cap];
        mg_free(q->v);
        q->v = nv;
        q->cap = nc;
        q->head = 0;
    }
    q->v[(q->head + q->len) % q->cap] = m;
    q->len++;
    q->bytes += m->len;
    return 0;
}

static mg_message_t *mq_pop(mq_t *q)
{
    if (!q->len) return NULL;
    mg_message_t *m = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    q->bytes -= m->len;
    return m;
}

/* Remove (and free) the queued messages received by leaf; returns how many. */
static int mq_drop_leaf(mq_t *q, struct mg_consumer *leaf)
{
    size_t n = q->len, kept = 0;
    int dropped = 0;
    for (size_t i = 0; i < n; i++) {
        mg_message_t *m = q->v[(q->head + i) % q->cap];
        if (!leaf || m->cons == leaf) {
            q->bytes -= m->len;
            mg_message_free(m);
            dropped++;
        } else {
            q->v[(q->head + kept) % q->cap] = m;
            kept++;
        }
    }
    q->len = kept;
    return dropped;
}

/* ---- refcount ------------------------------------------------------------------------------- */
static void chunk_ctx_clear(chunk_ctx_t *x)
{
    mg_free(x->uuid);
    buf_free(&x->data);
    mg_free(x->entries);
    if (x->first) mg_message_free(x->first);
    memset(x, 0, sizeof *x);
}

static void consumer_free(struct mg_consumer *c)
{
    mq_drop_leaf(&c->q, NULL);
    mg_free(c->q.v);
    for (size_t i = 0; i < c->nunacked; i++) mg_message_free(c->unacked[i].keep);
    for (size_t i = 0; i < c->nnacks; i++) mg_message_free(c->nacks[i].keep);
    mg_free(c->unacked);
    mg_free(c->nacks);
    for (size_t i = 0; i < c->nchunkctx; i++) chunk_ctx_clear(&c->chunks[i]);
    mg_free(c->chunks);
    mg_free(c->children);
    mg_free(c->topic);
    mg_free(c->sub);
    mg_free(c->name);
    mg_free((char *)c->conf.consumer_name);
    mg_free((char *)c->conf.dead_letter_topic);
    mg_free((char *)c->conf.retry_letter_topic);
    mg_free(c->dlq_topic);
    mg_free(c->retry_topic);
    mg_schema_free(c->schema);
    mg_free(c);
}

void consumer_unref(struct mg_consumer *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) consumer_free(c);
}

void message_unref_consumer(mg_message_t *m)
{
    if (m->cons) consumer_unref(m->cons);
    m->cons = NULL;
}

struct mg_consumer *consumer_alloc(struct mg_client *cl, const char *topic, const char *sub,
                                   const mg_consumer_conf_t *conf)
{
    struct mg_consumer *c = mg_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cl = cl;
    atomic_init(&c->refs, 1);
    c->conf = *conf;
    c->conf.consumer_name = conf->consumer_name ? mg_strdup(conf->consumer_name) : NULL;
    c->conf.dead_letter_topic = conf->dead_letter_topic ? mg_strdup(conf->dead_letter_topic) : NULL;
    c->conf.retry_letter_topic = conf->retry_letter_topic ? mg_strdup(conf->retry_letter_topic) : NULL;
    if (c->conf.receiver_queue_size <= 0) c->conf.receiver_queue_size = 1000;
    if (c->conf.nack_redelivery_delay_ms < 0) c->conf.nack_redelivery_delay_ms = 0;
    if (c->conf.batch_max_messages <= 0) c->conf.batch_max_messages = 100;
    if (!c->conf.batch_max_bytes) c->conf.batch_max_bytes = 10 * 1024 * 1024;
    if (c->conf.batch_timeout_ms <= 0) c->conf.batch_timeout_ms = 100;
    if (c->conf.pattern_refresh_s <= 0) c->conf.pattern_refresh_s = 60;
    c->topic = mg_strdup(topic);
    c->sub = mg_strdup(sub);
    c->partition = -1;
    c->durable = true;
    c->start_batch = -1;
    c->start_partition = -1;
    char rn[32];
    random_name(rn, sizeof rn);
    c->name = mg_strdup(conf->consumer_name ? conf->consumer_name : rn);
    if (!c->topic || !c->sub || !c->name) {
        consumer_free(c);
        return NULL;
    }
    return c;
}

/* ---- wire helpers --------------------------------------------------------------------------- */
static void send_flow_locked(struct mg_consumer *c, uint32_t n)
{
    if (!c->conn || c->state != H_READY || !n) return;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandFlow fl = PULSAR__PROTO__COMMAND_FLOW__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW;
    cmd.flow = &fl;
    fl.consumer_id = c->id;
    fl.messagepermits = n;
    conn_send_cmd_locked(c->conn, &cmd);
}

/* One message consumed (or skipped) from leaf c: return permits in halves of the queue. */
static void permit_locked(struct mg_consumer *c, int n)
{
    c->consumed_since_flow += n;
    int half = c->conf.receiver_queue_size / 2;
    if (half < 1) half = 1;
    if (c->consumed_since_flow >= half) {
        send_flow_locked(c, (uint32_t)c->consumed_since_flow);
        c->consumed_since_flow = 0;
    }
}

static void send_ack_locked(struct mg_consumer *c, const int64_t (*ids)[2], size_t n, bool cumulative,
                            const uint64_t *ack_set, size_t n_ack_set)
{
    if (!c->conn || c->state != H_READY || !n) return;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandAck ack = PULSAR__PROTO__COMMAND_ACK__INIT;
    Pulsar__Proto__MessageIdData md[64], *mp[64];
    if (n > 64) n = 64;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__ACK;
    cmd.ack = &ack;
    ack.consumer_id = c->id;
    ack.ack_type = cumulative ? PULSAR__PROTO__COMMAND_ACK__ACK_TYPE__Cumulative
                              : PULSAR__PROTO__COMMAND_ACK__ACK_TYPE__Individual;
    for (size_t i = 0; i < n; i++) {
        md[i] = (Pulsar__Proto__MessageIdData)PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
        md[i].ledgerid = (uint64_t)ids[i][0];
        md[i].entryid = (uint64_t)ids[i][1];
        if (ack_set) {
            md[i].n_ack_set = n_ack_set;
            md[i].ack_set = (int64_t *)ack_set;
        }
        mp[i] = &md[i];
    }
    ack.n_message_id = n;
    ack.message_id = mp;
    conn_send_cmd_locked(c->conn, &cmd);
}

static void send_redeliver_locked(struct mg_consumer *c, const int64_t (*ids)[2], size_t n)
{
    if (!c->conn || c->state != H_READY) return;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandRedeliverUnacknowledgedMessages rd =
        PULSAR__PROTO__COMMAND_REDELIVER_UNACKNOWLEDGED_MESSAGES__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__REDELIVER_UNACKNOWLEDGED_MESSAGES;
    cmd.redeliverunacknowledgedmessages = &rd;
    rd.consumer_id = c->id;
    Pulsar__Proto__MessageIdData *md = NULL, **mp = NULL;
    if (n) {
        md = mg_calloc(n, sizeof *md);
        mp = mg_calloc(n, sizeof *mp);
        if (!md || !mp) n = 0;
        for (size_t i = 0; i < n; i++) {
            md[i] = (Pulsar__Proto__MessageIdData)PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
            md[i].ledgerid = (uint64_t)ids[i][0];
            md[i].entryid = (uint64_t)ids[i][1];
            mp[i] = &md[i];
        }
        rd.n_message_ids = n;
        rd.message_ids = mp;
    }
    conn_send_cmd_locked(c->conn, &cmd);
    mg_free(md);
    mg_free(mp);
}

static bool shared_type(const struct mg_consumer *c)
{
    return c->conf.type == MG_SUB_SHARED || c->conf.type == MG_SUB_KEY_SHARED;
}

/* ---- connect -------------------------------------------------------------------------------- */
mg_result consumer_connect_locked(struct mg_consumer *c)
{
    struct mg_client *cl = c->cl;
    conn_t *conn;
    client_set_error(NULL);
    mg_result r = cl_lookup_locked(cl, c->topic, &conn);
    if (r) return r;
    if (c->state == H_CLOSING || c->state == H_CLOSED) return MG_ERR_ALREADY_CLOSED;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSubscribe s = PULSAR__PROTO__COMMAND_SUBSCRIBE__INIT;
    Pulsar__Proto__MessageIdData start = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    Pulsar__Proto__KeySharedMeta ks = PULSAR__PROTO__KEY_SHARED_META__INIT;
    Pulsar__Proto__Schema sch = PULSAR__PROTO__SCHEMA__INIT;
    Pulsar__Proto__KeyValue skv[32], *skvp[32];
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SUBSCRIBE;
    cmd.subscribe = &s;
    if (c->schema && c->schema->type != MG_SCHEMA_BYTES) {
        schema_to_proto(c->schema, &sch, skv, skvp, 32);
        s.schema = &sch;
    }
    s.topic = c->topic;
    s.subscription = c->sub;
    s.subtype = (Pulsar__Proto__CommandSubscribe__SubType)c->conf.type;
    s.consumer_id = c->id;
    s.consumer_name = c->name;
    s.has_durable = 1;
    s.durable = c->durable;
    s.has_initialposition = 1;
    s.initialposition = c->conf.initial_position == MG_POS_EARLIEST
                            ? PULSAR__PROTO__COMMAND_SUBSCRIBE__INITIAL_POSITION__Earliest
                            : PULSAR__PROTO__COMMAND_SUBSCRIBE__INITIAL_POSITION__Latest;
    if (c->conf.type == MG_SUB_KEY_SHARED) {
        ks.keysharedmode = PULSAR__PROTO__KEY_SHARED_MODE__AUTO_SPLIT;
        s.keysharedmeta = &ks;
    }
    if (c->has_start) {
        start.ledgerid = (uint64_t)c->start_ledger;
        start.entryid = (uint64_t)c->start_entry;
        if (c->start_batch >= 0) {
            start.has_batch_index = 1;
            start.batch_index = c->start_batch;
        }
        s.start_message_id = &start;
    }
    log_debug("client: SUBSCRIBE %s sub %s start %d (%lld,%lld,%d)", c->topic, c->sub, c->has_start,
              (long long)c->start_ledger, (long long)c->start_entry, c->start_batch);
    req_t rq;
    r = conn_rpc_locked(conn, &cmd, &rq, cl->conf.operation_timeout_ms);
    if (rq.resp) pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
    if (r) {
        log_debug("client: SUBSCRIBE %s/%s failed: %s %s", c->topic, c->sub, mg_strerror(r), rq.errmsg);
        client_set_error(rq.errmsg);
        return r;
    }
    if (conn->state != CONN_READY) return MG_ERR_CONNECT;
    if (c->state == H_CLOSING || c->state == H_CLOSED) return MG_ERR_ALREADY_CLOSED;
    c->conn = conn;
    map_put_u64(&conn->consumers, c->id, c);
    c->state = H_READY;
    c->consumed_since_flow = 0;
    send_flow_locked(c, (uint32_t)c->conf.receiver_queue_size);
    pthread_cond_broadcast(&cl->cond);
    return MG_OK;
}

void consumer_on_closed_locked(struct mg_consumer *c, bool by_broker)
{
    struct mg_consumer *root = root_of(c);
    c->conn = NULL;
    mq_drop_leaf(&root->q, c);
    for (size_t i = 0; i < c->nchunkctx; i++) chunk_ctx_clear(&c->chunks[i]);
    c->nchunkctx = 0;
    c->consumed_since_flow = 0;
    if (c->state != H_READY && c->state != H_CONNECTING) return;
    if (!c->durable && !c->seek_pending && c->has_last_dequeued) {
        /* a reader resumes after the last message it handed out */
        c->has_start = true;
        c->start_ledger = c->last_ledger;
        c->start_entry = c->last_entry;
        c->start_batch = c->last_batch;
        c->start_inclusive = false;
    }
    c->seek_pending = false;
    if (by_broker && root != c && root->is_pattern) root->next_pattern_ms = 0; /* topic deleted? */
    c->state = H_RECONNECT;
    c->next_attempt_ms = mg_mono_ms();
    c->reconnect_now = by_broker;
    c->cl->maint_kick = true;
    pthread_cond_broadcast(&c->cl->cond);
}

/* ---- incoming messages ---------------------------------------------------------------------- */
static bool before_start(struct mg_consumer *c, const mg_message_t *m)
{
    if (c->min_publish_time && m->publish_time < c->min_publish_time) return true;
    if (!c->has_start || c->durable || c->start_ledger < 0 || c->start_ledger == INT64_MAX) return false;
    /* a reader drops what lies before its start id (the broker starts at the entry of a
     * batch-index start id, and after a seek may start at the id itself) */
    if (m->id.ledger != c->start_ledger) return m->id.ledger < c->start_ledger;
    if (m->id.entry != c->start_entry) return m->id.entry < c->start_entry;
    if (c->start_batch < 0 || m->id.batch_index < 0) return !c->start_inclusive;
    return c->start_inclusive ? m->id.batch_index < c->start_batch : m->id.batch_index <= c->start_batch;
}

static void deliver_locked(struct mg_consumer *c, mg_message_t *m)
{
    struct mg_consumer *root = root_of(c);
    m->cons = c;
    atomic_fetch_add(&c->refs, 1);
    if (!m->topic) m->topic = mg_strdup(c->topic);
    if (before_start(c, m)) {
        mg_message_free(m);
        permit_locked(c, 1);
        return;
    }
    if (root->conf.listener) {
        deferred_t *d = cl_deferred_new_locked(c->cl);
        if (!d) {
            mg_message_free(m);
            return;
        }
        d->kind = DEF_LISTENER;
        d->cons = root;
        atomic_fetch_add(&root->refs, 1);
        d->msg = m;
        c->has_last_dequeued = true;
        c->last_ledger = m->id.ledger;
        c->last_entry = m->id.entry;
        c->last_batch = m->id.batch_index;
        permit_locked(c, 1);
        cl_defer_locked(c->cl, d);
        return;
    }
    if (mq_push(&root->q, m)) {
        mg_message_free(m);
        return;
    }
    pthread_cond_broadcast(&c->cl->cond);
}

static chunk_ctx_t *chunk_find(struct mg_consumer *c, const char *uuid)
{
    for (size_t i = 0; i < c->nchunkctx; i++)
        if (c->chunks[i].uuid && !strcmp(c->chunks[i].uuid, uuid)) return &c->chunks[i];
    return NULL;
}

static chunk_ctx_t *chunk_new(struct mg_consumer *c, const char *uuid)
{
    for (size_t i = 0; i < c->nchunkctx; i++)
        if (!c->chunks[i].uuid) {
            c->chunks[i].uuid = mg_strdup(uuid);
            return &c->chunks[i];
        }
    chunk_ctx_t *n = mg_realloc(c->chunks, (c->nchunkctx + 1) * sizeof *n);
    if (!n) return NULL;
    c->chunks = n;
    chunk_ctx_t *x = &n[c->nchunkctx++];
    memset(x, 0, sizeof *x);
    buf_init(&x->data);
    x->uuid = mg_strdup(uuid);
    return x;
}

void consumer_on_message_locked(conn_t *conn, Pulsar__Proto__CommandMessage *cm,
                                const uint8_t *payload, size_t len)
{
    struct mg_consumer *c = map_get_u64(&conn->consumers, cm->consumer_id);
    if (!c || c->state != H_READY || !cm->message_id) return;
    payload_view_t v;
    if (!payload || payload_parse(payload, len, &v) || (v.has_checksum && !v.checksum_ok)) {
        log_warn("client: %s: dropping a corrupt message", c->topic);
        permit_locked(c, 1);
        return;
    }
    pb_meta_t *md = payload_metadata(&v);
    if (!md) {
        permit_locked(c, 1);
        return;
    }
    struct mg_message_id id = {(int64_t)cm->message_id->ledgerid, (int64_t)cm->message_id->entryid,
                               c->partition, -1, 0};
    const uint8_t *data = v.data;
    size_t dlen = v.data_len;
    uint64_t *chunk_entries = NULL;
    size_t n_chunks = 0;
    uint8_t *chunk_buf = NULL;
    if (md->uuid && md->has_num_chunks_from_msg && md->num_chunks_from_msg > 1 && md->has_chunk_id) {
        chunk_ctx_t *x = chunk_find(c, md->uuid);
        if (md->chunk_id == 0) {
            if (x) chunk_ctx_clear(x);
            x = chunk_new(c, md->uuid);
            if (x) x->total_chunks = md->num_chunks_from_msg;
        }
        if (!x || md->chunk_id != x->next_chunk) {
            log_debug("client: %s: dropping out-of-order chunk %d", c->topic, md->chunk_id);
            pulsar__proto__message_metadata__free_unpacked(md, NULL);
            permit_locked(c, 1);
            return;
        }
        uint64_t *ne = mg_realloc(x->entries, (size_t)(x->next_chunk + 1) * 2 * sizeof *ne);
        if (!ne || buf_append(&x->data, data, dlen)) {
            if (ne) x->entries = ne;
            chunk_ctx_clear(x);
            pulsar__proto__message_metadata__free_unpacked(md, NULL);
            permit_locked(c, 1);
            return;
        }
        x->entries = ne;
        ne[2 * x->next_chunk] = (uint64_t)id.ledger;
        ne[2 * x->next_chunk + 1] = (uint64_t)id.entry;
        x->next_chunk++;
        if (x->next_chunk < x->total_chunks) {
            pulsar__proto__message_metadata__free_unpacked(md, NULL);
            permit_locked(c, 1);
            return;
        }
        /* complete: take the assembled bytes */
        n_chunks = (size_t)x->total_chunks;
        chunk_entries = x->entries;
        x->entries = NULL;
        chunk_buf = x->data.data;
        dlen = x->data.len;
        data = chunk_buf;
        buf_init(&x->data);
        chunk_ctx_clear(x);
    }
    uint8_t *unc = NULL;
    if (md->has_compression && md->compression != PULSAR__PROTO__COMPRESSION_TYPE__NONE) {
        if (decompress_buf(md->compression, data, dlen, md->uncompressed_size, &unc)) {
            log_warn("client: %s: cannot decompress a message (codec %d)", c->topic, md->compression);
            goto drop;
        }
        data = unc;
        dlen = md->uncompressed_size;
    }
    if (md->has_num_messages_in_batch && !n_chunks) {
        int n = md->num_messages_in_batch;
        if (n <= 0 || n > 100000) goto drop;
        mg_message_t **msgs = mg_calloc((size_t)n, sizeof *msgs);
        if (!msgs) goto drop;
        if (batch_split(data, dlen, n, msgs)) {
            mg_free(msgs);
            goto drop;
        }
        batch_acks_t *ba = batch_acks_new(n);
        if (ba && cm->n_ack_set)
            for (int i = 0; i < n && (size_t)(i / 64) < cm->n_ack_set; i++)
                if (!((uint64_t)cm->ack_set[i / 64] & (1ull << (i % 64)))) ba->bits[i / 64] &= ~(1ull << (i % 64));
        int skipped = 0;
        for (int i = 0; i < n; i++) {
            mg_message_t *m = msgs[i];
            if (ba && !(ba->bits[i / 64] & (1ull << (i % 64)))) { /* acked before */
                mg_message_free(m);
                skipped++;
                continue;
            }
            message_fill_from_meta(m, md);
            m->id = id;
            m->id.batch_index = i;
            m->id.batch_size = n;
            m->redelivery_count = cm->redelivery_count;
            if (ba) {
                atomic_fetch_add(&ba->refs, 1);
                m->backs = ba;
            }
            deliver_locked(c, m);
        }
        batch_acks_unref(ba);
        mg_free(msgs);
        if (skipped) permit_locked(c, skipped);
    } else {
        mg_message_t *m = mg_message_new(data, dlen);
        if (!m) goto drop;
        message_fill_from_meta(m, md);
        m->id = id;
        m->redelivery_count = cm->redelivery_count;
        m->chunk_entries = chunk_entries;
        m->n_chunks = n_chunks;
        chunk_entries = NULL;
        deliver_locked(c, m);
    }
    mg_free(unc);
    mg_free(chunk_buf);
    mg_free(chunk_entries);
    pulsar__proto__message_metadata__free_unpacked(md, NULL);
    return;
drop:
    mg_free(unc);
    mg_free(chunk_buf);
    mg_free(chunk_entries);
    pulsar__proto__message_metadata__free_unpacked(md, NULL);
    permit_locked(c, 1);
}

/* ---- receive -------------------------------------------------------------------------------- */
static void track_unacked_locked(struct mg_consumer *c, const mg_message_t *m)
{
    if (c->conf.ack_timeout_ms <= 0) return;
    if (c->nunacked == c->capunacked) {
        size_t nc = c->capunacked ? c->capunacked * 2 : 64;
        pending_id_t *n = mg_realloc(c->unacked, nc * sizeof *n);
        if (!n) return;
        c->unacked = n;
        c->capunacked = nc;
    }
    pending_id_t *p = &c->unacked[c->nunacked++];
    p->ledger = m->id.ledger;
    p->entry = m->id.entry;
    p->batch_index = m->id.batch_index;
    p->deadline_ms = mg_mono_ms() + (uint64_t)c->conf.ack_timeout_ms;
    p->keep = NULL;
    if (c->conf.max_redeliver_count > 0 && m->redelivery_count >= (uint32_t)c->conf.max_redeliver_count &&
        !c->is_retry_leaf)
        p->keep = message_clone(m);
}

static void dequeued_locked(mg_message_t *m)
{
    struct mg_consumer *c = m->cons;
    c->has_last_dequeued = true;
    c->last_ledger = m->id.ledger;
    c->last_entry = m->id.entry;
    c->last_batch = m->id.batch_index;
    track_unacked_locked(c, m);
    permit_locked(c, 1);
}

static bool closed(const struct mg_consumer *c)
{
    return c->state == H_CLOSED || c->state == H_CLOSING || c->cl->stopping;
}

mg_result consumer_receive_locked(struct mg_consumer *c, mg_message_t **out, int timeout_ms)
{
    if (c->conf.listener) return MG_ERR_INVALID_ARG;
    uint64_t deadline = timeout_ms < 0 ? 0 : mg_mono_ms() + (uint64_t)timeout_ms;
    while (!c->q.len) {
        if (closed(c)) return MG_ERR_ALREADY_CLOSED;
        if (timeout_ms == 0) return MG_ERR_TIMEOUT;
        c->waiting++;
        bool ok = cl_wait_locked(c->cl, deadline);
        c->waiting--;
        if (!ok && !c->q.len) return closed(c) ? MG_ERR_ALREADY_CLOSED : MG_ERR_TIMEOUT;
    }
    mg_message_t *m = mq_pop(&c->q);
    dequeued_locked(m);
    *out = m;
    return MG_OK;
}

mg_result mg_consumer_receive(mg_consumer_t *c, mg_message_t **out, int timeout_ms)
{
    if (!c || !out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = consumer_receive_locked(c, out, timeout_ms);
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

mg_result mg_consumer_batch_receive(mg_consumer_t *c, mg_message_t ***msgs, size_t *n)
{
    if (!c || !msgs || !n) return MG_ERR_INVALID_ARG;
    *msgs = NULL;
    *n = 0;
    struct mg_client *cl = c->cl;
    pthread_mutex_lock(&cl->lock);
    if (c->conf.listener) {
        pthread_mutex_unlock(&cl->lock);
        return MG_ERR_INVALID_ARG;
    }
    uint64_t deadline = mg_mono_ms() + (uint64_t)c->conf.batch_timeout_ms;
    while (!closed(c) && c->q.len < (size_t)c->conf.batch_max_messages && c->q.bytes < c->conf.batch_max_bytes)
        if (!cl_wait_locked(cl, deadline)) break;
    mg_result r = MG_OK;
    if (closed(c) && !c->q.len) r = MG_ERR_ALREADY_CLOSED;
    size_t want = c->q.len < (size_t)c->conf.batch_max_messages ? c->q.len : (size_t)c->conf.batch_max_messages;
    if (!r && want) {
        mg_message_t **v = mg_calloc(want, sizeof *v);
        if (!v) r = MG_ERR_NO_MEMORY;
        size_t bytes = 0;
        for (size_t i = 0; v && i < want; i++) {
            if (i && bytes + c->q.v[c->q.head]->len > c->conf.batch_max_bytes) break;
            mg_message_t *m = mq_pop(&c->q);
            bytes += m->len;
            dequeued_locked(m);
            v[(*n)++] = m;
        }
        *msgs = v;
    }
    pthread_mutex_unlock(&cl->lock);
    return r;
}

/* ---- acks ----------------------------------------------------------------------------------- */
static void untrack_locked(pending_id_t *v, size_t *n, int64_t ledger, int64_t entry, int32_t batch,
                           bool cumulative)
{
    for (size_t i = 0; i < *n;) {
        pending_id_t *p = &v[i];
        bool hit = cumulative ? (p->ledger < ledger || (p->ledger == ledger && p->entry < entry) ||
                                 (p->ledger == ledger && p->entry == entry &&
                                  (batch < 0 || p->batch_index <= batch)))
                              : (p->ledger == ledger && p->entry == entry && p->batch_index == batch);
        if (hit) {
            mg_message_free(p->keep);
            v[i] = v[--*n];
        } else {
            i++;
        }
    }
}

static struct mg_consumer *leaf_for(struct mg_consumer *root, const mg_message_t *m)
{
    struct mg_consumer *leaf = m->cons;
    if (!leaf || root_of(leaf) != root) return NULL;
    return leaf;
}

/* Individual ack of one received message. */
static mg_result ack_msg_locked(struct mg_consumer *leaf, const mg_message_t *m)
{
    untrack_locked(leaf->unacked, &leaf->nunacked, m->id.ledger, m->id.entry, m->id.batch_index, false);
    untrack_locked(leaf->nacks, &leaf->nnacks, m->id.ledger, m->id.entry, m->id.batch_index, false);
    if (m->n_chunks) {
        for (size_t i = 0; i < m->n_chunks; i += 64) {
            size_t k = m->n_chunks - i < 64 ? m->n_chunks - i : 64;
            send_ack_locked(leaf, (const int64_t(*)[2])(m->chunk_entries + 2 * i), k, false, NULL, 0);
        }
        return MG_OK;
    }
    int64_t id[1][2] = {{m->id.ledger, m->id.entry}};
    batch_acks_t *b = m->backs;
    if (b && m->id.batch_index >= 0 && m->id.batch_index < b->n) {
        int i = m->id.batch_index;
        b->bits[i / 64] &= ~(1ull << (i % 64));
        bool all = true;
        size_t words = ((size_t)b->n + 63) / 64;
        for (size_t w = 0; w < words; w++)
            if (b->bits[w]) all = false;
        if (all) send_ack_locked(leaf, (const int64_t(*)[2])id, 1, false, NULL, 0);
        else if (leaf->conf.batch_index_ack_enabled)
            send_ack_locked(leaf, (const int64_t(*)[2])id, 1, false, b->bits, words);
        return MG_OK;
    }
    send_ack_locked(leaf, (const int64_t(*)[2])id, 1, false, NULL, 0);
    return MG_OK;
}

mg_result mg_consumer_ack(mg_consumer_t *c, const mg_message_t *m)
{
    if (!c || !m) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    struct mg_consumer *leaf = leaf_for(c, m);
    mg_result r = closed(c) ? MG_ERR_ALREADY_CLOSED : !leaf ? MG_ERR_INVALID_ARG : ack_msg_locked(leaf, m);
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

static struct mg_consumer *leaf_by_partition(struct mg_consumer *root, int partition)
{
    if (!root->nchildren) return root;
    for (size_t i = 0; i < root->nchildren; i++)
        if (root->children[i]->partition == partition) return root->children[i];
    return NULL;
}

mg_result mg_consumer_ack_id(mg_consumer_t *c, const mg_message_id_t *id)
{
    if (!c || !id) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = MG_OK;
    struct mg_consumer *leaf = leaf_by_partition(c, id->partition);
    if (closed(c)) r = MG_ERR_ALREADY_CLOSED;
    else if (!leaf) r = MG_ERR_INVALID_ARG;
    else {
        int64_t v[1][2] = {{id->ledger, id->entry}};
        untrack_locked(leaf->unacked, &leaf->nunacked, id->ledger, id->entry, id->batch_index, false);
        if (id->batch_index >= 0 && id->batch_size > 0 && leaf->conf.batch_index_ack_enabled) {
            uint64_t bits[64] = {0};
            int n = id->batch_size > 64 * 64 ? 64 * 64 : id->batch_size;
            for (int i = 0; i < n; i++)
                if (i != id->batch_index) bits[i / 64] |= 1ull << (i % 64);
            send_ack_locked(leaf, (const int64_t(*)[2])v, 1, false, bits, ((size_t)n + 63) / 64);
        } else {
            send_ack_locked(leaf, (const int64_t(*)[2])v, 1, false, NULL, 0);
        }
    }
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

mg_result mg_consumer_ack_cumulative(mg_consumer_t *c, const mg_message_t *m)
{
    if (!c || !m) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    struct mg_consumer *leaf = leaf_for(c, m);
    mg_result r = MG_OK;
    if (closed(c)) r = MG_ERR_ALREADY_CLOSED;
    else if (!leaf) r = MG_ERR_INVALID_ARG;
    else if (shared_type(leaf)) r = MG_ERR_NOT_ALLOWED;
    else {
        untrack_locked(leaf->unacked, &leaf->nunacked, m->id.ledger, m->id.entry, m->id.batch_index, true);
        int64_t id[1][2] = {{m->id.ledger, m->id.entry}};
        batch_acks_t *b = m->backs;
        if (b && m->id.batch_index >= 0 && m->id.batch_index < b->n - 1) {
            /* part of a batch: ack up to the previous entry (or with the ack set) */
            for (int i = 0; i <= m->id.batch_index; i++) b->bits[i / 64] &= ~(1ull << (i % 64));
            if (leaf->conf.batch_index_ack_enabled)
                send_ack_locked(leaf, (const int64_t(*)[2])id, 1, true, b->bits, ((size_t)b->n + 63) / 64);
            else if (m->id.entry > 0) {
                id[0][1] = m->id.entry - 1;
                send_ack_locked(leaf, (const int64_t(*)[2])id, 1, true, NULL, 0);
            }
        } else {
            send_ack_locked(leaf, (const int64_t(*)[2])id, 1, true, NULL, 0);
        }
    }
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

mg_result mg_consumer_nack(mg_consumer_t *c, const mg_message_t *m)
{
    if (!c || !m) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    struct mg_consumer *leaf = leaf_for(c, m);
    mg_result r = MG_OK;
    if (closed(c)) r = MG_ERR_ALREADY_CLOSED;
    else if (!leaf) r = MG_ERR_INVALID_ARG;
    else {
        untrack_locked(leaf->unacked, &leaf->nunacked, m->id.ledger, m->id.entry, m->id.batch_index, false);
        if (leaf->nnacks == leaf->capnacks) {
            size_t nc = leaf->capnacks ? leaf->capnacks * 2 : 64;
            pending_id_t *n = mg_realloc(leaf->nacks, nc * sizeof *n);
            if (n) {
                leaf->nacks = n;
                leaf->capnacks = nc;
            }
        }
        if (leaf->nnacks < leaf->capnacks) {
            pending_id_t *p = &leaf->nacks[leaf->nnacks++];
            p->ledger = m->id.ledger;
            p->entry = m->id.entry;
            p->batch_index = m->id.batch_index;
            p->deadline_ms = mg_mono_ms() + (uint64_t)leaf->conf.nack_redelivery_delay_ms;
            p->keep = NULL;
            if (leaf->conf.max_redeliver_count > 0 && !leaf->is_retry_leaf &&
                m->redelivery_count >= (uint32_t)leaf->conf.max_redeliver_count) {
                p->keep = message_clone(m);
            }
        } else {
            r = MG_ERR_NO_MEMORY;
        }
    }
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

/* Queue a copy for the maintenance thread to publish to the DLQ (or retry topic). */
void consumer_queue_dlq_locked(struct mg_consumer *leaf, mg_message_t *copy, bool retry, uint64_t delay)
{
    struct mg_client *cl = leaf->cl;
    dlq_item_t *d = mg_calloc(1, sizeof *d);
    if (!d) {
        mg_message_free(copy);
        return;
    }
    if (!copy->cons) {
        copy->cons = leaf;
        atomic_fetch_add(&leaf->refs, 1);
    }
    d->msg = copy;
    d->retry = retry;
    d->delay_ms = delay;
    if (cl->dlq_tail) cl->dlq_tail->next = d;
    else cl->dlq_head = d;
    cl->dlq_tail = d;
    cl->maint_kick = true;
    pthread_cond_broadcast(&cl->cond);
}

/* Redeliver expired entries of v (nacks or ack timeouts); DLQ candidates go to the DLQ. */
static void expire_locked(struct mg_consumer *c, pending_id_t *v, size_t *n, uint64_t now)
{
    int64_t (*ids)[2] = NULL;
    size_t nids = 0;
    for (size_t i = 0; i < *n;) {
        if (v[i].deadline_ms > now) {
            i++;
            continue;
        }
        if (v[i].keep) {
            consumer_queue_dlq_locked(c, v[i].keep, false, 0);
        } else {
            bool dup = false;
            for (size_t j = 0; j < nids; j++)
                if (ids[j][0] == v[i].ledger && ids[j][1] == v[i].entry) dup = true;
            if (!dup) {
                int64_t(*ni)[2] = mg_realloc(ids, (nids + 1) * sizeof *ni);
                if (ni) {
                    ids = ni;
                    ids[nids][0] = v[i].ledger;
                    ids[nids][1] = v[i].entry;
                    nids++;
                }
            }
        }
        v[i] = v[--*n];
    }
    if (nids) {
        if (shared_type(c)) {
            for (size_t i = 0; i < nids; i += 1000)
                send_redeliver_locked(c, (const int64_t(*)[2])(ids + i), nids - i < 1000 ? nids - i : 1000);
        } else {
            /* Exclusive/Failover: the broker redelivers everything unacked; drop what is queued */
            struct mg_consumer *root = root_of(c);
            int dropped = mq_drop_leaf(&root->q, c);
            send_redeliver_locked(c, NULL, 0);
            if (dropped) send_flow_locked(c, (uint32_t)dropped);
        }
    }
    mg_free(ids);
}

void consumer_tick_locked(struct mg_consumer *c, uint64_t now)
{
    if (c->state != H_READY || c->nchildren) return;
    if (c->nnacks) expire_locked(c, c->nacks, &c->nnacks, now);
    if (c->nunacked) expire_locked(c, c->unacked, &c->nunacked, now);
}

mg_result mg_consumer_redeliver_unacked(mg_consumer_t *c)
{
    if (!c) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = closed(c) ? MG_ERR_ALREADY_CLOSED : MG_OK;
    size_t n = c->nchildren ? c->nchildren : 1;
    for (size_t i = 0; !r && i < n; i++) {
        struct mg_consumer *leaf = c->nchildren ? c->children[i] : c;
        int dropped = mq_drop_leaf(&c->q, leaf);
        for (size_t j = 0; j < leaf->nunacked; j++) mg_message_free(leaf->unacked[j].keep);
        leaf->nunacked = 0;
        send_redeliver_locked(leaf, NULL, 0);
        if (dropped) send_flow_locked(leaf, (uint32_t)dropped);
    }
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}
