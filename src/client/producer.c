/* producer.c - producers: creation (one per partition behind a parent handle for partitioned
 * topics, routed by key hash, round robin, single partition or a custom router), sends with
 * batching (count, bytes, delay; per-key containers), compression, chunking of messages over
 * the broker's max message size, receipts, send timeout, max pending with block or fail, and
 * resend of pending messages after a reconnect. Callers hold cl->lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/murmur3.h"
#include "common/timeutil.h"

void mg_producer_conf_init(mg_producer_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->initial_sequence_id = -1;
    c->send_timeout_ms = 30000;
    c->max_pending_messages = 1000;
    c->batching_enabled = true;
    c->batching_max_messages = 1000;
    c->batching_max_bytes = 128 * 1024;
    c->batching_max_delay_ms = 10;
}

static void op_free(send_op_t *op)
{
    buf_free(&op->frame);
    mg_free(op->cbs);
    mg_free(op);
}

static void producer_free(struct mg_producer *p)
{
    while (p->head) {
        send_op_t *n = p->head->next;
        op_free(p->head);
        p->head = n;
    }
    for (int i = 0; i < p->nbatches; i++) {
        buf_free(&p->batches[i].payload);
        mg_free(p->batches[i].cbs);
        mg_free(p->batches[i].key);
    }
    mg_free(p->batches);
    for (size_t i = 0; i < p->nprops * 2; i++) mg_free(p->props[i]);
    mg_free(p->props);
    mg_free(p->children);
    mg_free(p->topic);
    mg_free(p->name);
    mg_schema_free(p->schema);
    mg_free(p->schema_ver);
    schema_check_free(p->check);
    mg_free(p);
}

void producer_unref(struct mg_producer *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1) producer_free(p);
}

/* ---- ops and receipts ---------------------------------------------------------------------- */
static void fail_op_locked(struct mg_producer *p, send_op_t *op, mg_result r)
{
    for (int i = 0; op->cbs && i < op->nmsg; i++)
        cl_defer_send_locked(p->cl, op->cbs[i].cb, op->cbs[i].ctx, r, NULL);
    p->pending_msgs -= op->last_chunk || !op->is_chunk ? op->nmsg : 0;
    op_free(op);
}

static void fail_all_locked(struct mg_producer *p, mg_result r)
{
    while (p->head) {
        send_op_t *op = p->head;
        p->head = op->next;
        fail_op_locked(p, op, r);
    }
    p->tail = NULL;
    pthread_cond_broadcast(&p->cl->cond);
}

static void enqueue_op_locked(struct mg_producer *p, send_op_t *op)
{
    op->next = NULL;
    if (p->tail) p->tail->next = op;
    else p->head = op;
    p->tail = op;
    if (p->state == H_READY && p->conn) conn_send_raw_locked(p->conn, op->frame.data, op->frame.len);
}

void producer_on_receipt_locked(conn_t *c, Pulsar__Proto__CommandSendReceipt *r)
{
    struct mg_producer *p = map_get_u64(&c->producers, r->producer_id);
    if (!p) return;
    send_op_t *op = p->head;
    int64_t seq = (int64_t)r->sequence_id;
    if (!op || (seq != op->seq_last && seq != op->seq)) {
        log_debug("client: producer %s: receipt for seq %lld does not match head %lld", p->name,
                  (long long)seq, op ? (long long)op->seq_last : -1LL);
        return;
    }
    p->head = op->next;
    if (!p->head) p->tail = NULL;
    if (op->seq_last > p->last_seq) p->last_seq = op->seq_last;
    struct mg_message_id id = {-1, -1, p->partition, -1, 0};
    if (r->message_id) {
        id.ledger = (int64_t)r->message_id->ledgerid;
        id.entry = (int64_t)r->message_id->entryid;
    }
    for (int i = 0; op->cbs && i < op->nmsg; i++) {
        if (op->nmsg > 1 || op->seq != op->seq_last) {
            id.batch_index = i;
            id.batch_size = op->nmsg;
        }
        cl_defer_send_locked(p->cl, op->cbs[i].cb, op->cbs[i].ctx, MG_OK, &id);
    }
    if (!op->is_chunk || op->last_chunk) p->pending_msgs -= op->nmsg;
    op_free(op);
    pthread_cond_broadcast(&p->cl->cond);
}

void producer_on_send_error_locked(conn_t *c, Pulsar__Proto__CommandSendError *e)
{
    struct mg_producer *p = map_get_u64(&c->producers, e->producer_id);
    if (!p || !p->head) return;
    log_warn("client: producer %s: send error %s: %s", p->name ? p->name : "?",
             server_error_name(e->error), e->message ? e->message : "");
    switch (e->error) {
    case PULSAR__PROTO__SERVER_ERROR__ChecksumError:
    case PULSAR__PROTO__SERVER_ERROR__TopicTerminatedError:
    case PULSAR__PROTO__SERVER_ERROR__NotAllowedError:
        break; /* this message cannot succeed as it is: fail it */
    default:
        /* transient (PersistenceError, ServiceNotReady...): as Pulsar's clients do, drop the
         * connection; the producer reconnects and resends everything pending, this message
         * first, until it succeeds or the send timeout fails it */
        conn_fail_locked(c, MG_ERR_CONNECT);
        return;
    }
    send_op_t *op = p->head;
    p->head = op->next;
    if (!p->head) p->tail = NULL;
    fail_op_locked(p, op, server_error_result(e->error));
    pthread_cond_broadcast(&p->cl->cond);
}

void producer_on_closed_locked(struct mg_producer *p)
{
    p->conn = NULL;
    if (p->state == H_READY || p->state == H_CONNECTING) {
        p->state = H_RECONNECT;
        p->next_attempt_ms = mg_mono_ms();
        p->cl->maint_kick = true;
        pthread_cond_broadcast(&p->cl->cond);
    }
}

/* ---- encoding ------------------------------------------------------------------------------- */
static send_op_t *op_new(int nmsg)
{
    send_op_t *op = mg_calloc(1, sizeof *op);
    if (!op) return NULL;
    buf_init(&op->frame);
    op->nmsg = nmsg;
    op->created_ms = mg_mono_ms();
    return op;
}

/* Build the SEND frame for metadata md and (already compressed) data into op->frame. */
static int op_encode(struct mg_producer *p, send_op_t *op, pb_meta_t *md, const uint8_t *data,
                     size_t len, int nmsg_field, bool is_chunk)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSend s = PULSAR__PROTO__COMMAND_SEND__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEND;
    cmd.send = &s;
    s.producer_id = p->id;
    s.sequence_id = (uint64_t)op->seq_last;
    if (nmsg_field > 0) {
        s.has_num_messages = 1;
        s.num_messages = nmsg_field;
    }
    if (is_chunk) {
        s.has_is_chunk = 1;
        s.is_chunk = 1;
    }
    return frame_write_entry(&op->frame, &cmd, md, data, len);
}

static void meta_common(struct mg_producer *p, pb_meta_t *md, int64_t seq)
{
    md->producer_name = p->name ? p->name : "";
    md->sequence_id = (uint64_t)seq;
    md->publish_time = mg_now_ms();
    if (p->schema_ver) {
        md->has_schema_version = 1;
        md->schema_version.data = p->schema_ver;
        md->schema_version.len = p->schema_ver_len;
    }
    if (p->conf.compression != MG_COMPRESSION_NONE) {
        md->has_compression = 1;
        md->compression = (Pulsar__Proto__CompressionType)p->conf.compression;
    }
}

typedef struct kvset {
    Pulsar__Proto__KeyValue kv[64];
    Pulsar__Proto__KeyValue *kvp[64];
} kvset_t;

static void meta_message(pb_meta_t *md, const mg_message_t *m, kvset_t *ks)
{
    size_t np = m->nprops < 64 ? m->nprops : 64;
    for (size_t i = 0; i < np; i++) {
        ks->kv[i] = (Pulsar__Proto__KeyValue)PULSAR__PROTO__KEY_VALUE__INIT;
        ks->kv[i].key = m->props[2 * i];
        ks->kv[i].value = m->props[2 * i + 1];
        ks->kvp[i] = &ks->kv[i];
    }
    md->n_properties = np;
    md->properties = ks->kvp;
    md->partition_key = m->key;
    if (m->key && m->key_b64) {
        md->has_partition_key_b64_encoded = 1;
        md->partition_key_b64_encoded = 1;
    }
    if (m->okey_len) {
        md->has_ordering_key = 1;
        md->ordering_key.data = m->okey;
        md->ordering_key.len = m->okey_len;
    }
    if (m->event_time) {
        md->has_event_time = 1;
        md->event_time = m->event_time;
    }
    if (m->deliver_at) {
        md->has_deliver_at_time = 1;
        md->deliver_at_time = (int64_t)m->deliver_at;
    }
}

static uint32_t max_size(struct mg_producer *p)
{
    uint32_t m = p->conn ? p->conn->max_message_size : p->max_msg;
    return m ? m : 5 * 1024 * 1024;
}

/* A non-batched message: one op, or one op per chunk. */
static mg_result send_single_locked(struct mg_producer *p, const mg_message_t *m, int64_t seq,
                                    mg_send_cb cb, void *ctx)
{
    mg_buf_t z;
    buf_init(&z);
    const uint8_t *data;
    size_t dlen;
    if (compress_view(p->conf.compression, m->data, m->len, &z, &data, &dlen)) {
        buf_free(&z);
        return MG_ERR_COMPRESSION;
    }
    pb_meta_t md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    kvset_t ks;
    meta_common(p, &md, seq);
    meta_message(&md, m, &ks);
    if (p->conf.compression != MG_COMPRESSION_NONE) {
        md.has_uncompressed_size = 1;
        md.uncompressed_size = (uint32_t)m->len;
    }
    uint32_t max = max_size(p);
    size_t chunk = p->conf.chunk_max_size > 0 && (uint32_t)p->conf.chunk_max_size < max
                       ? (size_t)p->conf.chunk_max_size
                       : 0;
    bool need_chunks = dlen > max || (chunk && dlen > chunk);
    if (need_chunks && !p->conf.chunking_enabled) {
        buf_free(&z);
        return MG_ERR_MESSAGE_TOO_BIG;
    }
    if (!need_chunks) {
        send_op_t *op = op_new(1);
        if (!op || !(op->cbs = mg_calloc(1, sizeof *op->cbs))) goto oom;
        op->seq = op->seq_last = seq;
        op->cbs[0] = (send_cb_item_t){cb, ctx};
        if (op_encode(p, op, &md, data, dlen, 0, false)) goto oom; /* freed there, once */
        p->pending_msgs++;
        enqueue_op_locked(p, op);
        buf_free(&z);
        return MG_OK;
    oom:
        if (op) op_free(op);
        buf_free(&z);
        return MG_ERR_NO_MEMORY;
    }
    /* chunks: each carries uuid, chunk id, count and total size; only the last one reports */
    if (!chunk) chunk = max - 1024 - pulsar__proto__message_metadata__get_packed_size(&md);
    int nchunks = (int)((dlen + chunk - 1) / chunk);
    char uuid[300];
    snprintf(uuid, sizeof uuid, "%s-%lld", p->name ? p->name : "", (long long)seq);
    md.uuid = uuid;
    md.has_num_chunks_from_msg = md.has_total_chunk_msg_size = md.has_chunk_id = 1;
    md.num_chunks_from_msg = nchunks;
    md.total_chunk_msg_size = (int32_t)dlen;
    for (int i = 0; i < nchunks; i++) {
        size_t off = (size_t)i * chunk, n = dlen - off < chunk ? dlen - off : chunk;
        md.chunk_id = i;
        send_op_t *op = op_new(1);
        if (!op) {
            buf_free(&z);
            return MG_ERR_NO_MEMORY; /* earlier chunks stay queued; the message then times out */
        }
        op->seq = op->seq_last = seq;
        op->is_chunk = true;
        op->last_chunk = i == nchunks - 1;
        if (op->last_chunk) {
            op->cbs = mg_calloc(1, sizeof *op->cbs);
            if (op->cbs) op->cbs[0] = (send_cb_item_t){cb, ctx};
        }
        if (op_encode(p, op, &md, data + off, n, 0, true)) {
            op_free(op);
            buf_free(&z);
            return MG_ERR_NO_MEMORY;
        }
        enqueue_op_locked(p, op);
    }
    p->pending_msgs++;
    buf_free(&z);
    return MG_OK;
}

static void batch_flush_locked(struct mg_producer *p, batch_t *b)
{
    if (!b->n) return;
    mg_buf_t z;
    buf_init(&z);
    pb_meta_t md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    meta_common(p, &md, b->seq_last);
    md.has_num_messages_in_batch = 1;
    md.num_messages_in_batch = b->n;
    if (b->key) md.partition_key = b->key;
    if (p->conf.compression != MG_COMPRESSION_NONE) {
        md.has_uncompressed_size = 1;
        md.uncompressed_size = (uint32_t)b->payload.len;
    }
    send_op_t *op = op_new(b->n);
    mg_result r = MG_ERR_NO_MEMORY;
    const uint8_t *data = NULL;
    size_t dlen = 0;
    bool zfail = compress_view(p->conf.compression, b->payload.data, b->payload.len, &z, &data, &dlen) != 0;
    if (op && zfail) r = MG_ERR_COMPRESSION;
    else if (op && dlen > max_size(p)) r = MG_ERR_MESSAGE_TOO_BIG;
    else if (op) {
        op->seq = b->seq_first;
        op->seq_last = b->seq_last;
        op->cbs = b->cbs;
        b->cbs = NULL;
        b->cbs_cap = 0;
        if (op_encode(p, op, &md, data, dlen, b->n, false) == 0) {
            enqueue_op_locked(p, op);
            r = MG_OK;
        } else {
            b->cbs = op->cbs; /* failed below */
            op->cbs = NULL;
        }
    }
    if (r) {
        for (int i = 0; i < b->n; i++)
            if (b->cbs) cl_defer_send_locked(p->cl, b->cbs[i].cb, b->cbs[i].ctx, r, NULL);
        p->pending_msgs -= b->n;
        if (op) op_free(op);
        pthread_cond_broadcast(&p->cl->cond);
    }
    buf_free(&z);
    buf_reset(&b->payload);
    b->n = 0;
}

static void flush_batches_locked(struct mg_producer *p)
{
    for (int i = 0; i < p->nbatches; i++) batch_flush_locked(p, &p->batches[i]);
}

static batch_t *batch_for_locked(struct mg_producer *p, const char *key)
{
    if (!p->conf.key_based_batching) key = NULL;
    for (int i = 0; i < p->nbatches; i++) {
        batch_t *b = &p->batches[i];
        if ((!key && !b->key) || (key && b->key && !strcmp(key, b->key))) return b;
    }
    /* reuse an empty container before growing */
    for (int i = 0; i < p->nbatches; i++) {
        batch_t *b = &p->batches[i];
        if (!b->n && p->conf.key_based_batching) {
            mg_free(b->key);
            b->key = key ? mg_strdup(key) : NULL;
            return b;
        }
    }
    batch_t *nb = mg_realloc(p->batches, (size_t)(p->nbatches + 1) * sizeof *nb);
    if (!nb) return NULL;
    p->batches = nb;
    batch_t *b = &nb[p->nbatches++];
    memset(b, 0, sizeof *b);
    buf_init(&b->payload);
    b->key = key ? mg_strdup(key) : NULL;
    return b;
}

static mg_result batch_add_locked(struct mg_producer *p, const mg_message_t *m, int64_t seq,
                                  mg_send_cb cb, void *ctx)
{
    batch_t *b = batch_for_locked(p, m->key);
    if (!b) return MG_ERR_NO_MEMORY;
    if (b->n && b->payload.len + m->len + 64 > p->conf.batching_max_bytes) batch_flush_locked(p, b);
    if (b->n == b->cbs_cap) {
        int nc = b->cbs_cap ? b->cbs_cap * 2 : 16;
        send_cb_item_t *n = mg_realloc(b->cbs, (size_t)nc * sizeof *n);
        if (!n) return MG_ERR_NO_MEMORY;
        b->cbs = n;
        b->cbs_cap = nc;
    }
    size_t before = b->payload.len;
    if (batch_append(&b->payload, m, seq)) {
        b->payload.len = before;
        return MG_ERR_NO_MEMORY;
    }
    if (!b->n) {
        b->seq_first = seq;
        b->first_ms = mg_mono_ms();
    }
    b->seq_last = seq;
    b->cbs[b->n++] = (send_cb_item_t){cb, ctx};
    p->pending_msgs++;
    if (b->n >= p->conf.batching_max_messages || b->payload.len >= p->conf.batching_max_bytes)
        batch_flush_locked(p, b);
    return MG_OK;
}

/* ---- routing -------------------------------------------------------------------------------- */
static int route(struct mg_producer *p, const mg_message_t *m)
{
    int n = p->nchildren;
    if (p->conf.routing_mode == MG_ROUTING_CUSTOM && p->conf.router) {
        int i = p->conf.router(m, n, p->conf.router_ctx);
        return i >= 0 && i < n ? i : 0;
    }
    if (m->key) /* Java: signSafeMod(Murmur3_32Hash.makeHash(key), n) */
        return (int)(pulsar_key_hash(m->key, strlen(m->key)) % (uint32_t)n);
    if (p->conf.routing_mode == MG_ROUTING_SINGLE) return p->single_partition;
    if (p->conf.batching_enabled) { /* switch partition once per batching window, as Java */
        uint64_t win = p->conf.batching_max_delay_ms > 0 ? (uint64_t)p->conf.batching_max_delay_ms : 1;
        return (int)((p->rr_start + mg_mono_ms() / win) % (uint64_t)n);
    }
    return (int)(p->rr++ % (unsigned)n);
}

/* ---- send ----------------------------------------------------------------------------------- */
mg_result producer_send_locked(struct mg_producer *p, const mg_message_t *m, mg_send_cb cb,
                               void *ctx, int timeout_ms)
{
    if (p->state == H_CLOSING || p->state == H_CLOSED || p->cl->stopping) return MG_ERR_ALREADY_CLOSED;
    if (p->nchildren) return producer_send_locked(p->children[route(p, m)], m, cb, ctx, timeout_ms);
    uint64_t deadline = 0; /* read the clock only when the queue is full */
    while (p->pending_msgs >= p->conf.max_pending_messages) {
        if (!p->conf.block_if_queue_full) return MG_ERR_QUEUE_FULL;
        if (!deadline && timeout_ms > 0) deadline = deadline_after(timeout_ms);
        if (!cl_wait_locked(p->cl, deadline)) return MG_ERR_TIMEOUT;
        if (p->state == H_CLOSING || p->state == H_CLOSED || p->cl->stopping) return MG_ERR_ALREADY_CLOSED;
    }
    int64_t seq;
    if (m->has_seq) {
        seq = m->seq;
        if (seq >= p->seq_next) p->seq_next = seq + 1;
    } else {
        seq = p->seq_next++;
    }
    if (p->conf.batching_enabled && !m->deliver_at && m->len < max_size(p) / 2)
        return batch_add_locked(p, m, seq, cb, ctx);
    flush_batches_locked(p); /* keep order */
    return send_single_locked(p, m, seq, cb, ctx);
}

uint64_t producer_next_deadline_locked(struct mg_producer *p)
{
    uint64_t next = 0;
    for (int i = 0; i < p->nbatches; i++)
        if (p->batches[i].n) {
            uint64_t d = p->batches[i].first_ms + (uint64_t)p->conf.batching_max_delay_ms;
            if (!next || d < next) next = d;
        }
    return next;
}

void producer_tick_locked(struct mg_producer *p, uint64_t now)
{
    for (int i = 0; i < p->nbatches; i++) {
        batch_t *b = &p->batches[i];
        if (b->n && now >= b->first_ms + (uint64_t)p->conf.batching_max_delay_ms) batch_flush_locked(p, b);
    }
    if (p->head && p->conf.send_timeout_ms > 0 &&
        now >= p->head->created_ms + (uint64_t)p->conf.send_timeout_ms) {
        log_warn("client: producer %s: send timeout, failing %d pending messages",
                 p->name ? p->name : "?", p->pending_msgs);
        fail_all_locked(p, MG_ERR_TIMEOUT);
    }
}

/* ---- create / connect / close --------------------------------------------------------------- */
mg_result producer_connect_locked(struct mg_producer *p)
{
    struct mg_client *cl = p->cl;
    conn_t *c;
    client_set_error(NULL);
    mg_result r = cl_lookup_locked(cl, p->topic, &c);
    if (r) return r;
    if (p->state == H_CLOSING || p->state == H_CLOSED) return MG_ERR_ALREADY_CLOSED;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer pc = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    Pulsar__Proto__Schema sch = PULSAR__PROTO__SCHEMA__INIT;
    Pulsar__Proto__KeyValue skv[32], *skvp[32];
    /* BYTES travels as no schema at all, as the official clients do */
    if (p->schema && p->schema->type != MG_SCHEMA_BYTES) {
        schema_to_proto(p->schema, &sch, skv, skvp, 32);
        pc.schema = &sch;
    }
    Pulsar__Proto__KeyValue kvs[32], *kvp[32];
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER;
    cmd.producer = &pc;
    pc.topic = p->topic;
    pc.producer_id = p->id;
    pc.producer_name = p->name;
    pc.has_user_provided_producer_name = 1;
    pc.user_provided_producer_name = p->user_name;
    size_t np = p->nprops < 32 ? p->nprops : 32;
    for (size_t i = 0; i < np; i++) {
        kvs[i] = (Pulsar__Proto__KeyValue)PULSAR__PROTO__KEY_VALUE__INIT;
        kvs[i].key = p->props[2 * i];
        kvs[i].value = p->props[2 * i + 1];
        kvp[i] = &kvs[i];
    }
    pc.n_metadata = np;
    pc.metadata = kvp;
    req_t rq;
    r = conn_rpc_locked(c, &cmd, &rq, cl->conf.operation_timeout_ms);
    if (r) {
        log_debug("client: PRODUCER %s failed: %s %s", p->topic, mg_strerror(r), rq.errmsg);
        client_set_error(rq.errmsg);
        return r;
    }
    Pulsar__Proto__CommandProducerSuccess *ps = rq.resp->producer_success;
    if (!ps || c->state != CONN_READY) {
        pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
        return ps ? MG_ERR_CONNECT : MG_ERR_PROTOCOL;
    }
    if (!p->name && ps->producer_name) p->name = mg_strdup(ps->producer_name);
    int64_t broker_last = ps->has_last_sequence_id ? ps->last_sequence_id : -1;
    if (ps->has_schema_version && ps->schema_version.len) {
        uint8_t *sv = mg_malloc(ps->schema_version.len);
        if (sv) {
            memcpy(sv, ps->schema_version.data, ps->schema_version.len);
            mg_free(p->schema_ver);
            p->schema_ver = sv;
            p->schema_ver_len = ps->schema_version.len;
        }
    }
    pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
    if (!p->name) return MG_ERR_NO_MEMORY;
    if (p->state == H_CONNECTING && p->conf.initial_sequence_id < 0 && broker_last >= 0 &&
        !p->head) {
        p->seq_next = broker_last + 1;
        p->last_seq = broker_last;
    }
    if (p->state == H_CLOSING || p->state == H_CLOSED) return MG_ERR_ALREADY_CLOSED;
    p->conn = c;
    p->max_msg = c->max_message_size;
    map_put_u64(&c->producers, p->id, p);
    p->state = H_READY;
    for (send_op_t *op = p->head; op; op = op->next)
        conn_send_raw_locked(c, op->frame.data, op->frame.len);
    pthread_cond_broadcast(&cl->cond);
    return MG_OK;
}

static struct mg_producer *producer_alloc(struct mg_client *cl, const char *topic,
                                          const mg_producer_conf_t *conf)
{
    struct mg_producer *p = mg_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cl = cl;
    atomic_init(&p->refs, 1);
    p->conf = *conf;
    p->conf.name = NULL;
    p->conf.properties = NULL;
    if (p->conf.max_pending_messages <= 0) p->conf.max_pending_messages = 1000;
    if (p->conf.batching_max_messages <= 0) p->conf.batching_max_messages = 1000;
    if (!p->conf.batching_max_bytes) p->conf.batching_max_bytes = 128 * 1024;
    if (p->conf.batching_max_delay_ms < 0) p->conf.batching_max_delay_ms = 0;
    if (p->conf.chunking_enabled) p->conf.batching_enabled = false;
    p->partition = -1;
    p->topic = mg_strdup(topic);
    if (conf->name) {
        p->name = mg_strdup(conf->name);
        p->user_name = true;
    }
    for (size_t i = 0; conf->properties && conf->properties[i] && conf->properties[i + 1]; i += 2) {
        char **np = mg_realloc(p->props, (p->nprops + 1) * 2 * sizeof *np);
        if (!np) break;
        p->props = np;
        np[2 * p->nprops] = mg_strdup(conf->properties[i]);
        np[2 * p->nprops + 1] = mg_strdup(conf->properties[i + 1]);
        p->nprops++;
    }
    p->seq_next = conf->initial_sequence_id >= 0 ? conf->initial_sequence_id + 1 : 0;
    p->last_seq = conf->initial_sequence_id >= 0 ? conf->initial_sequence_id : -1;
    p->rr_start = (uint64_t)rand();
    if (!p->topic || (conf->name && !p->name)) {
        producer_free(p);
        return NULL;
    }
    return p;
}

static mg_result producer_close_leaf_locked(struct mg_producer *p, bool flush)
{
    struct mg_client *cl = p->cl;
    if (p->state == H_CLOSED || p->state == H_CLOSING) return MG_ERR_ALREADY_CLOSED;
    flush_batches_locked(p);
    if (flush) {
        uint64_t deadline = deadline_after(cl->conf.operation_timeout_ms);
        while (p->head && p->state != H_CLOSED)
            if (!cl_wait_locked(cl, deadline)) break;
    }
    p->state = H_CLOSING;
    mg_result r = MG_OK;
    conn_t *c = p->conn;
    if (c && c->state == CONN_READY) {
        Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandCloseProducer cp = PULSAR__PROTO__COMMAND_CLOSE_PRODUCER__INIT;
        cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_PRODUCER;
        cmd.close_producer = &cp;
        cp.producer_id = p->id;
        req_t rq;
        r = conn_rpc_locked(c, &cmd, &rq, cl->conf.operation_timeout_ms);
        if (rq.resp) pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
        map_del_u64(&c->producers, p->id);
    }
    p->state = H_CLOSED;
    p->conn = NULL;
    fail_all_locked(p, MG_ERR_ALREADY_CLOSED);
    cl_del_producer_locked(cl, p);
    return r == MG_ERR_CONNECT ? MG_OK : r;
}

static mg_result producer_close_locked(struct mg_producer *p, bool flush)
{
    mg_result r = MG_OK;
    if (p->nchildren) {
        if (p->state == H_CLOSED) return MG_ERR_ALREADY_CLOSED;
        for (int i = 0; i < p->nchildren; i++) {
            mg_result x = producer_close_leaf_locked(p->children[i], flush);
            if (x && !r) r = x;
            producer_unref(p->children[i]);
        }
        p->nchildren = 0;
        p->state = H_CLOSED;
        cl_del_producer_locked(p->cl, p);
        return r;
    }
    return producer_close_leaf_locked(p, flush);
}

void producer_destroy_locked(struct mg_producer *p)
{
    producer_close_locked(p, true);
    cl_del_producer_locked(p->cl, p);
    producer_unref(p);
}

static mg_result create_leaf_locked(struct mg_client *cl, const char *topic, int partition,
                                    const mg_producer_conf_t *conf, const mg_schema_t *schema,
                                    struct mg_producer **out)
{
    struct mg_producer *p = producer_alloc(cl, topic, conf);
    if (!p) return MG_ERR_NO_MEMORY;
    if (schema && !(p->schema = schema_dup(schema))) {
        producer_free(p);
        return MG_ERR_NO_MEMORY;
    }
    p->partition = partition;
    p->id = cl->next_producer_id++;
    p->state = H_CONNECTING;
    mg_result r = producer_connect_locked(p);
    if (r) {
        p->state = H_CLOSED;
        producer_unref(p);
        return r;
    }
    cl_add_producer_locked(cl, p);
    *out = p;
    return MG_OK;
}

mg_result producer_create_locked(struct mg_client *cl, const char *topic,
                                 const mg_producer_conf_t *conf, struct mg_producer **out)
{
    return producer_create_schema_locked(cl, topic, conf, NULL, out);
}

mg_result producer_create_schema_locked(struct mg_client *cl, const char *topic,
                                        const mg_producer_conf_t *conf, const mg_schema_t *schema,
                                        struct mg_producer **out)
{
    int n = 0;
    mg_result r = cl_partitions_locked(cl, topic, &n);
    if (r) return r;
    if (n <= 0) return create_leaf_locked(cl, topic, -1, conf, schema, out);
    struct mg_producer *p = producer_alloc(cl, topic, conf);
    if (!p || !(p->children = mg_calloc((size_t)n, sizeof *p->children))) {
        if (p) producer_free(p);
        return MG_ERR_NO_MEMORY;
    }
    p->single_partition = rand() % n;
    for (int i = 0; i < n; i++) {
        char pt[2100];
        snprintf(pt, sizeof pt, "%s-partition-%d", topic, i);
        r = create_leaf_locked(cl, pt, i, conf, schema, &p->children[i]);
        if (r) break;
        p->children[i]->parent = p;
        p->nchildren++;
    }
    if (r) {
        for (int i = 0; i < p->nchildren; i++) {
            producer_close_leaf_locked(p->children[i], false);
            producer_unref(p->children[i]);
        }
        p->nchildren = 0;
        producer_free(p);
        return r;
    }
    p->state = H_READY;
    cl_add_producer_locked(cl, p);
    *out = p;
    return MG_OK;
}

/* ---- public --------------------------------------------------------------------------------- */
mg_result mg_producer_create(mg_client_t *cl, const char *topic, const mg_producer_conf_t *conf,
                             mg_producer_t **out)
{
    return mg_producer_create_with_schema(cl, topic, conf, NULL, out);
}

mg_result mg_producer_create_with_schema(mg_client_t *cl, const char *topic,
                                         const mg_producer_conf_t *conf, const mg_schema_t *schema,
                                         mg_producer_t **out)
{
    if (!cl || !out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    mg_producer_conf_t def;
    if (!conf) {
        mg_producer_conf_init(&def);
        conf = &def;
    }
    if (conf->compression < MG_COMPRESSION_NONE || conf->compression > MG_COMPRESSION_SNAPPY)
        return MG_ERR_INVALID_ARG;
    char full[2048];
    mg_result r = cl_topic_full(topic, full, sizeof full);
    if (r) return r;
    /* AUTO_PRODUCE_BYTES: declare the topic's latest schema and check payloads against it */
    mg_schema_t *latest = NULL;
    schema_check_t *check = NULL;
    if (schema && schema->type == (int)MG_SCHEMA_AUTO_PUBLISH) {
        if ((r = schema_resolve_auto(cl, full, &latest, &check))) return r;
        schema = latest;
    } else if (schema && schema->type < 0) {
        return MG_ERR_INVALID_ARG; /* AUTO_CONSUME is for consumers */
    }
    pthread_mutex_lock(&cl->lock);
    r = cl->stopping ? MG_ERR_ALREADY_CLOSED
                     : producer_create_schema_locked(cl, full, conf, schema, out);
    if (!r) {
        (*out)->check = check;
        check = NULL;
    }
    pthread_mutex_unlock(&cl->lock);
    schema_check_free(check);
    mg_schema_free(latest);
    return r;
}

typedef struct sync_wait {
    struct mg_client *cl;
    bool done;
    mg_result r;
    struct mg_message_id id;
} sync_wait_t;

static void sync_cb(mg_result r, const mg_message_id_t *id, void *ctx)
{
    sync_wait_t *w = ctx;
    pthread_mutex_lock(&w->cl->lock);
    w->r = r;
    if (id) w->id = *id;
    w->done = true;
    pthread_cond_broadcast(&w->cl->cond);
    pthread_mutex_unlock(&w->cl->lock);
}

static bool producer_live(const struct mg_producer *p)
{
    return p->state != H_CLOSED && p->state != H_CLOSING;
}

mg_result mg_producer_send(mg_producer_t *p, const mg_message_t *m, mg_message_id_t **id)
{
    if (!p || !m) return MG_ERR_INVALID_ARG;
    if (p->check) {
        client_set_error(NULL);
        mg_result cr = schema_check_payload(p->check, m->data, m->len);
        if (cr) return cr;
    }
    struct mg_client *cl = p->cl;
    sync_wait_t w = {cl, false, MG_OK, {-1, -1, -1, -1, 0}};
    pthread_mutex_lock(&cl->lock);
    mg_result r = producer_live(p) ? producer_send_locked(p, m, sync_cb, &w, p->conf.send_timeout_ms)
                                   : MG_ERR_ALREADY_CLOSED;
    if (r == MG_OK) {
        /* a sync send does not wait for the batch delay */
        struct mg_producer *leaf = p;
        if (p->nchildren) {
            for (int i = 0; i < p->nchildren; i++) flush_batches_locked(p->children[i]);
        } else {
            flush_batches_locked(leaf);
        }
        while (!w.done) cl_wait_locked(cl, 0);
        r = w.r;
    }
    pthread_mutex_unlock(&cl->lock);
    if (r == MG_OK && id) *id = msgid_new(&w.id);
    return r;
}

mg_result mg_producer_send_async(mg_producer_t *p, const mg_message_t *m, mg_send_cb cb, void *ctx)
{
    if (!p || !m) return MG_ERR_INVALID_ARG;
    if (p->check) {
        client_set_error(NULL);
        mg_result cr = schema_check_payload(p->check, m->data, m->len);
        if (cr) return cr;
    }
    struct mg_client *cl = p->cl;
    pthread_mutex_lock(&cl->lock);
    mg_result r = producer_live(p) ? producer_send_locked(p, m, cb, ctx, p->conf.send_timeout_ms)
                                   : MG_ERR_ALREADY_CLOSED;
    pthread_mutex_unlock(&cl->lock);
    return r;
}

static bool all_sent(struct mg_producer *p)
{
    if (p->nchildren) {
        for (int i = 0; i < p->nchildren; i++)
            if (!all_sent(p->children[i])) return false;
        return true;
    }
    return !p->head || p->state == H_CLOSED;
}

mg_result mg_producer_flush(mg_producer_t *p)
{
    if (!p) return MG_ERR_INVALID_ARG;
    struct mg_client *cl = p->cl;
    pthread_mutex_lock(&cl->lock);
    mg_result r = MG_OK;
    if (!producer_live(p)) r = MG_ERR_ALREADY_CLOSED;
    else {
        if (p->nchildren)
            for (int i = 0; i < p->nchildren; i++) flush_batches_locked(p->children[i]);
        else flush_batches_locked(p);
        while (!all_sent(p) && !cl->stopping) cl_wait_locked(cl, 0);
        /* and until the send callbacks of those receipts have run (they run in order) */
        uint64_t target = cl->def_sends_queued;
        while (cl->def_sends_done < target && !cl->stopping) cl_wait_locked(cl, 0);
    }
    pthread_mutex_unlock(&cl->lock);
    return r;
}

mg_result mg_producer_close(mg_producer_t *p)
{
    if (!p) return MG_ERR_INVALID_ARG;
    struct mg_client *cl = p->cl;
    pthread_mutex_lock(&cl->lock);
    mg_result r = producer_close_locked(p, true);
    pthread_mutex_unlock(&cl->lock);
    if (r != MG_ERR_ALREADY_CLOSED) producer_unref(p);
    return r;
}

const char *mg_producer_name(const mg_producer_t *p)
{
    if (!p) return NULL;
    if (p->nchildren) return p->children[0]->name;
    return p->name;
}
const char *mg_producer_topic(const mg_producer_t *p) { return p ? p->topic : NULL; }
int64_t mg_producer_last_sequence_id(const mg_producer_t *p)
{
    if (!p) return -1;
    int64_t m = p->last_seq;
    for (int i = 0; i < p->nchildren; i++)
        if (p->children[i]->last_seq > m) m = p->children[i]->last_seq;
    return m;
}
