/* producer.c - PRODUCER, SEND and CLOSE_PRODUCER: producer registration with access modes,
 * checksum verification, append to the topic log, SEND_RECEIPT only once the entry is durable,
 * and message deduplication by (producer name, sequence id), recovered from the log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/auth.h"
#include "broker/broker.h"
#include "common/crc32c.h"
#include "common/alloc.h"
#include "common/pool.h"
#include "common/log.h"
#include "common/timeutil.h"

#define CRC_DERIVE_MIN (16u << 10) /* see handle_send */

/* One in-flight append: what the receipt needs once storage reports the entry durable. It is
 * on its topic's inflight list until then; a topic that closes first cancels what is left
 * (producer_cancel_inflight), so the topic pointer is always valid here. */
typedef struct send_ctx {
    struct send_ctx *prev, *next; /* topic->inflight */
    topic_t *topic;
    uint64_t conn_id;       /* the connection may be closed meanwhile: look it up by id */
    uint64_t producer_id;
    producer_t *producer;
    uint64_t sequence_id, highest_sequence_id;
    int32_t num_messages;
    uint32_t bytes;
    uint64_t start_us;
    dedup_state_t *dedup;   /* the producer's dedup state when dedup tracks this send; it lives
                             * as long as the topic, and so outlives this send */
} send_ctx_t;

size_t producer_send_ctx_size(void)
{
    return sizeof(send_ctx_t);
}

static void send_receipt(conn_t *c, uint64_t pid, uint64_t seq, uint64_t hseq, uint64_t ledger,
                         uint64_t entry)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSendReceipt r = PULSAR__PROTO__COMMAND_SEND_RECEIPT__INIT;
    Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_RECEIPT;
    out.send_receipt = &r;
    r.producer_id = pid;
    r.sequence_id = seq;
    r.message_id = &id;
    r.has_highest_sequence_id = 1;
    r.highest_sequence_id = hseq;
    id.ledgerid = ledger;
    id.entryid = entry;
    conn_send_cmd(c, &out);
}

static void send_error(conn_t *c, uint64_t pid, uint64_t seq, int err, const char *msg)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSendError e = PULSAR__PROTO__COMMAND_SEND_ERROR__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_ERROR;
    out.send_error = &e;
    e.producer_id = pid;
    e.sequence_id = seq;
    e.error = err;
    e.message = (char *)msg;
    conn_send_cmd(c, &out);
}

static void send_producer_success(conn_t *c, producer_t *p, uint64_t request_id, int64_t last_seq,
                                  bool ready, const uint8_t *schema_version, size_t sv_len)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducerSuccess s = PULSAR__PROTO__COMMAND_PRODUCER_SUCCESS__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS;
    out.producer_success = &s;
    s.request_id = request_id;
    s.producer_name = p->name;
    s.has_last_sequence_id = 1;
    s.last_sequence_id = last_seq;
    s.has_producer_ready = 1;
    s.producer_ready = ready;
    s.has_topic_epoch = 1;
    s.topic_epoch = p->topic ? p->topic->topic_epoch : 0;
    if (schema_version && sv_len) {
        s.has_schema_version = 1;
        s.schema_version.data = (uint8_t *)schema_version;
        s.schema_version.len = sv_len;
    }
    conn_send_cmd(c, &out);
}

static int64_t dedup_last(topic_t *t, const char *name)
{
    dedup_state_t *d = map_get(&t->dedup, name);
    return d ? d->persisted : -1;
}

static void producer_free(producer_t *p)
{
    mg_free(p->name);
    mg_free(p->client_version);
    mg_free(p);
}

static int count_producers(topic_t *t)
{
    return (int)map_count(&t->producers);
}

void handle_producer(conn_t *c, Pulsar__Proto__CommandProducer *cmd)
{
    broker_t *b = c->b;
    producer_t *existing = map_get_u64(&c->producers, cmd->producer_id);
    if (existing) {
        /* A client retrying PRODUCER for an id it already has: answer again (Pulsar does). */
        if (existing->topic && !strcmp(existing->topic->name, cmd->topic) && existing->ready) {
            send_producer_success(c, existing, cmd->request_id,
                                  topic_dedup_enabled(existing->topic)
                                      ? dedup_last(existing->topic, existing->name)
                                      : -1,
                                  true, NULL, 0);
            return;
        }
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ServiceNotReady,
                        "Producer id %llu is already in use on this connection",
                        (unsigned long long)cmd->producer_id);
        return;
    }
    if (!auth_conn_allows(c, cmd->topic, AUTH_PRODUCE)) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__AuthorizationError,
                        "Client is not authorized to Publish on %s", cmd->topic);
        return;
    }
    int code = 0;
    char err[400];
    topic_t *t = topic_get(b, cmd->topic, true, &code, err, sizeof err);
    if (!t) {
        conn_send_error(c, cmd->request_id, code, "%s", err);
        return;
    }
    if (t->terminated) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__TopicTerminatedError,
                        "Topic %s is terminated", t->name);
        return;
    }
    /* Pulsar refuses a new producer while the backlog quota is exceeded (hold or exception) */
    if (quota_blocks_publish(t, &code, err, sizeof err)) {
        conn_send_error(c, cmd->request_id, code, "%s", err);
        return;
    }
    const ns_policies_t *pol = ns_policies(b, t->tn.tenant, t->tn.ns);
    int maxp = pol && pol->max_producers_per_topic >= 0 ? pol->max_producers_per_topic
                                                       : b->cfg->max_producers_per_topic;
    if (maxp > 0 && count_producers(t) >= maxp) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ProducerBusy,
                        "Topic %s reached the maximum number of producers (%d)", t->name, maxp);
        return;
    }
    char namebuf[300];
    const char *name = cmd->producer_name;
    bool user_named = name && *name;
    if (!user_named) {
        snprintf(namebuf, sizeof namebuf, "%s-0-%llu", b->cfg->cluster_name,
                 (unsigned long long)b->producer_seq++);
        name = namebuf;
    }
    if (map_get(&t->producers, name)) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ProducerBusy,
                        "Producer with name '%s' is already connected to topic %s", name, t->name);
        return;
    }
    int mode = cmd->has_producer_access_mode ? cmd->producer_access_mode : 0;
    bool wait = false;
    if (t->exclusive) {
        if (mode == PULSAR__PROTO__PRODUCER_ACCESS_MODE__ExclusiveWithFencing) {
            producer_close(t->exclusive, true);
        } else if (mode == PULSAR__PROTO__PRODUCER_ACCESS_MODE__WaitForExclusive) {
            wait = true;
        } else {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ProducerBusy,
                            "Topic %s has an exclusive producer '%s'", t->name, t->exclusive->name);
            return;
        }
    } else if (mode != PULSAR__PROTO__PRODUCER_ACCESS_MODE__Shared && count_producers(t) > 0) {
        if (mode == PULSAR__PROTO__PRODUCER_ACCESS_MODE__WaitForExclusive) {
            wait = true;
        } else if (mode == PULSAR__PROTO__PRODUCER_ACCESS_MODE__ExclusiveWithFencing) {
            const char *k;
            void *v;
            for (size_t it = 0; map_next(&t->producers, &it, &k, NULL, &v);) producer_close(v, true);
        } else {
            conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ProducerBusy,
                            "Topic %s has %d shared producers: exclusive access refused", t->name,
                            count_producers(t));
            return;
        }
    }
    /* schema: register or find the version (schema registry), enforce validation */
    uint8_t sv[8];
    size_t svlen = 0;
    if (schema_on_producer(t, cmd->schema, sv, &svlen, &code, err, sizeof err)) {
        conn_send_error(c, cmd->request_id, code, "%s", err);
        return;
    }
    producer_t *p = mg_calloc(1, sizeof *p);
    if (!p) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ServiceNotReady, "no memory");
        return;
    }
    p->conn = c;
    p->topic = t;
    p->id = cmd->producer_id;
    p->request_id = cmd->request_id;
    p->name = mg_strdup(name);
    p->user_named = user_named;
    p->access_mode = mode;
    p->client_version = mg_strdup(c->client_version ? c->client_version : "");
    p->connected_since_ms = mg_now_ms();
    map_put_u64(&c->producers, p->id, p);
    if (wait) {
        /* WaitForExclusive: tell the client it is registered but not ready yet */
        if (t->nwaiting == t->capwaiting) {
            int n = t->capwaiting ? t->capwaiting * 2 : 4;
            void *w = mg_realloc(t->waiting, (size_t)n * sizeof *t->waiting);
            if (!w) {
                map_del_u64(&c->producers, p->id);
                producer_free(p);
                conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__ServiceNotReady,
                                "no memory");
                return;
            }
            t->waiting = w;
            t->capwaiting = n;
        }
        t->waiting[t->nwaiting++].p = p;
        send_producer_success(c, p, cmd->request_id, -1, false, NULL, 0);
        return;
    }
    p->ready = true;
    map_put(&t->producers, p->name, p);
    if (mode != PULSAR__PROTO__PRODUCER_ACCESS_MODE__Shared) {
        t->exclusive = p;
        t->topic_epoch++;
    }
    int64_t last = topic_dedup_enabled(t) ? dedup_last(t, p->name) : -1;
    log_debug("producer %s on %s (last seq %lld)", p->name, t->name, (long long)last);
    send_producer_success(c, p, cmd->request_id, last, true, svlen ? sv : NULL, svlen);
}

/* Give exclusive access to the next WaitForExclusive producer, if any. */
static void promote_waiting(topic_t *t)
{
    while (t->nwaiting > 0 && !t->exclusive) {
        producer_t *p = t->waiting[0].p;
        memmove(t->waiting, t->waiting + 1, (size_t)(t->nwaiting - 1) * sizeof *t->waiting);
        t->nwaiting--;
        if (map_count(&t->producers) > 0) { /* shared producers still there: wait more */
            t->waiting[t->nwaiting++].p = p;
            return;
        }
        p->ready = true;
        map_put(&t->producers, p->name, p);
        t->exclusive = p;
        t->topic_epoch++;
        send_producer_success(p->conn, p, p->request_id,
                              topic_dedup_enabled(t) ? dedup_last(t, p->name) : -1, true, NULL, 0);
    }
}

void producer_close(producer_t *p, bool notify_client)
{
    topic_t *t = p->topic;
    conn_t *c = p->conn;
    if (notify_client && c && !c->closing) {
        Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandCloseProducer cp = PULSAR__PROTO__COMMAND_CLOSE_PRODUCER__INIT;
        out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_PRODUCER;
        out.close_producer = &cp;
        cp.producer_id = p->id;
        cp.request_id = (uint64_t)-1;
        conn_send_cmd(c, &out);
    }
    if (c && !c->closing) map_del_u64(&c->producers, p->id);
    if (t) {
        if (p->ready && map_get(&t->producers, p->name) == p) map_del(&t->producers, p->name);
        for (int i = 0; i < t->nwaiting; i++)
            if (t->waiting[i].p == p) {
                memmove(t->waiting + i, t->waiting + i + 1,
                        (size_t)(t->nwaiting - i - 1) * sizeof *t->waiting);
                t->nwaiting--;
                break;
            }
        if (t->exclusive == p) t->exclusive = NULL;
        if (!t->closing) promote_waiting(t);
    }
    /* in-flight sends keep a pointer: they look the producer up again by id on completion */
    producer_free(p);
}

void handle_close_producer(conn_t *c, Pulsar__Proto__CommandCloseProducer *cmd)
{
    producer_t *p = map_get_u64(&c->producers, cmd->producer_id);
    if (p) producer_close(p, false);
    conn_send_success(c, cmd->request_id);
}

static void inflight_unlink(send_ctx_t *sc)
{
    if (sc->prev) sc->prev->next = sc->next;
    else sc->topic->inflight = sc->next;
    if (sc->next) sc->next->prev = sc->prev;
}

/* The connection's side of a finished send: receipt or error to the producer if it is still
 * there, and the connection's count of pending sends (reading resumes below half the limit). */
static void send_finish(send_ctx_t *sc, int status, uint64_t ledger_id, uint64_t entry_id)
{
    broker_t *b = sc->topic->b;
    /* find the connection/producer again: either may have gone away meanwhile */
    conn_t *c = conn_find(b, sc->conn_id);
    if (c && map_get_u64(&c->producers, sc->producer_id) == sc->producer) {
        producer_t *p = sc->producer;
        p->pending--;
        if (status == 0)
            send_receipt(c, sc->producer_id, sc->sequence_id, sc->highest_sequence_id, ledger_id, entry_id);
        else
            send_error(c, sc->producer_id, sc->sequence_id, PULSAR__PROTO__SERVER_ERROR__PersistenceError,
                       "Failed to persist the message");
    }
    if (c) {
        c->pending_publish--;
        if (c->read_paused && c->pending_publish < (uint64_t)b->cfg->max_pending_publish_per_conn / 2)
            conn_resume_read(c);
    }
}

void producer_cancel_inflight(topic_t *t)
{
    while (t->inflight) {
        send_ctx_t *sc = t->inflight;
        inflight_unlink(sc);
        send_finish(sc, -ECANCELED, 0, 0);
        mg_pool_put(&t->b->send_pool, sc);
    }
}

/* Topics whose storage failed are unloaded, as Pulsar closes a topic whose managed ledger is
 * fenced: what their log held past the last good sync is of unknown state, so the log is
 * opened again and recovered from disk when a client comes back (producers get
 * CLOSE_PRODUCER and reconnect, resending what was not acknowledged). If the disk is still
 * failing, the next write fails and the cycle repeats at the clients' reconnect pace. */
static void unload_failed_topics(void *arg)
{
    broker_t *b = arg;
    b->unload_failed_posted = false;
    for (;;) { /* topic_close takes the topic out of the map: look again after each */
        topic_t *failed = NULL;
        void *v;
        for (size_t it = 0; !failed && map_next(&b->topics, &it, NULL, NULL, &v);) {
            topic_t *t = v;
            if (t->storage_failed && !t->closing) failed = t;
        }
        if (!failed) return;
        log_warn("%s: storage failed; unloading it (the log is recovered from disk on reload)",
                 failed->name);
        topic_close(failed, false);
    }
}

static void storage_failed(topic_t *t)
{
    broker_t *b = t->b;
    if (t->storage_failed || t->closing || b->stopping) return;
    t->storage_failed = true;
    if (!b->unload_failed_posted && loop_post(b->loop, unload_failed_topics, b) == 0)
        b->unload_failed_posted = true;
}

static void on_append_done(void *arg, int status, uint64_t entry_id)
{
    send_ctx_t *sc = arg;
    topic_t *t = sc->topic;
    inflight_unlink(sc);
    if (status == 0) {
        mg_lat_hist_add(&t->write_lat, mg_mono_us() - sc->start_us);
        if (sc->dedup && (int64_t)sc->highest_sequence_id > sc->dedup->persisted)
            sc->dedup->persisted = (int64_t)sc->highest_sequence_id;
        if (++t->entries_since_snapshot >= 1000) dedup_snapshot(t);
    }
    send_finish(sc, status, log_ledger_id(t->log), entry_id);
    if (status == 0) {
        dispatch_topic(t);
        topic_trim_check(t, 0);
    } else {
        storage_failed(t);
    }
    mg_pool_put(&t->b->send_pool, sc);
}

void handle_send(conn_t *c, Pulsar__Proto__CommandSend *cmd, const uint8_t *payload, size_t len)
{
    broker_t *b = c->b;
    producer_t *p = map_get_u64(&c->producers, cmd->producer_id);
    uint64_t seq = cmd->sequence_id;
    if (!p || !p->topic) {
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__NotAllowedError,
                   "Producer not found on this connection");
        return;
    }
    if (!p->ready) {
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__NotAllowedError,
                   "Producer is waiting for exclusive access");
        return;
    }
    topic_t *t = p->topic;
    int code;
    char err[300];
    if (t->terminated) {
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__TopicTerminatedError,
                   "Topic is terminated");
        return;
    }
    payload_view_t pv;
    if (!payload || payload_parse(payload, len, &pv)) {
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__UnknownError,
                   "Malformed message payload");
        return;
    }
    if (pv.has_checksum && !pv.checksum_ok) {
        log_warn("%s: checksum mismatch on %s seq %llu", c->addr, t->name, (unsigned long long)seq);
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__ChecksumError,
                   "Checksum failed on the message payload");
        return;
    }
    if (pv.data_len > (size_t)b->cfg->max_message_size && !cmd->is_chunk) {
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__NotAllowedError,
                   "Message larger than maxMessageSize");
        return;
    }
    if (quota_blocks_publish(t, &code, err, sizeof err)) {
        send_error(c, cmd->producer_id, seq, code, err);
        return;
    }
    uint64_t hseq = cmd->has_highest_sequence_id && cmd->highest_sequence_id > seq
                        ? cmd->highest_sequence_id
                        : seq;
    dedup_state_t *dedup = NULL;
    if (topic_dedup_enabled(t)) {
        dedup_state_t *d = map_get(&t->dedup, p->name);
        if (d && (int64_t)seq <= d->pushed) {
            /* duplicate: acknowledge without storing a second copy */
            send_receipt(c, cmd->producer_id, seq, hseq, (uint64_t)-1, (uint64_t)-1);
            return;
        }
        if (!d) {
            d = mg_malloc(sizeof *d);
            if (!d) return;
            d->pushed = d->persisted = -1;
            map_put(&t->dedup, p->name, d);
        }
        d->pushed = (int64_t)hseq;
        dedup = d;
    }
    mg_entry_t *e;
    mg_entry_t *rx = c->rx_frame_entry; /* the payload was read into an entry: keep it */
    if (pv.has_checksum && rx && pv.entry == rx->data && pv.entry_len == rx->len) {
        e = entry_ref(rx);
    } else if (pv.has_checksum) {
        e = entry_new(pv.entry, (uint32_t)pv.entry_len);
    } else { /* old client without checksum: store with one, so every stored entry has it */
        mg_buf_t tmp;
        buf_init(&tmp);
        buf_append_u16be(&tmp, MG_MAGIC_CRC32C);
        buf_append_u32be(&tmp, 0);
        buf_append(&tmp, pv.entry, pv.entry_len);
        if (tmp.len >= 6) wr_u32be(tmp.data + 2, crc32c(0, tmp.data + 6, tmp.len - 6));
        e = entry_new(tmp.data, (uint32_t)tmp.len);
        buf_free(&tmp);
    }
    /* the verified checksum covers data[6..]: storage extends it over its record header and
     * the 6 bytes before it, instead of reading the bytes again. That combination costs a few
     * thousand cycles whatever the length, more than a direct pass over a small entry, so
     * small entries are left to storage. */
    if (e && e->len >= CRC_DERIVE_MIN) {
        e->tail_crc = rd_u32be(e->data + 2);
        e->crc_skip = 6;
        e->has_tail_crc = 1;
    }
    send_ctx_t *sc = mg_pool_get(&b->send_pool);
    if (!e || !sc) {
        entry_unref(e);
        mg_pool_put(&b->send_pool, sc);
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__ServiceNotReady, "no memory");
        return;
    }
    int32_t nmsg = cmd->has_num_messages ? cmd->num_messages : 1;
    entry_info(e);
    sc->topic = t;
    sc->conn_id = c->id;
    sc->producer_id = cmd->producer_id;
    sc->producer = p;
    sc->sequence_id = seq;
    sc->highest_sequence_id = hseq;
    sc->num_messages = nmsg;
    sc->bytes = (uint32_t)pv.entry_len;
    sc->start_us = mg_mono_us();
    sc->dedup = dedup;
    if (log_append(t->log, e, on_append_done, sc)) {
        entry_unref(e);
        send_error(c, cmd->producer_id, seq, PULSAR__PROTO__SERVER_ERROR__PersistenceError,
                   "Storage failed for this topic");
        mg_pool_put(&b->send_pool, sc);
        storage_failed(t);
        return;
    }
    sc->prev = NULL; /* on the topic's list until storage reports back */
    sc->next = t->inflight;
    if (t->inflight) t->inflight->prev = sc;
    t->inflight = sc;
    entry_unref(e);
    p->pending++;
    p->msg_in += (uint64_t)nmsg;
    p->bytes_in += pv.data_len;
    t->msg_in += (uint64_t)nmsg;
    t->bytes_in += pv.data_len;
    b->total_msg_in += (uint64_t)nmsg;
    b->total_bytes_in += pv.data_len;
    t->last_publish_ms = mg_now_ms();
    c->pending_publish++;
    if (c->pending_publish >= (uint64_t)b->cfg->max_pending_publish_per_conn && !c->read_paused) {
        c->read_paused = true; /* back-pressure: stop reading until the journal catches up */
        loop_fd_mod(b->loop, c->fd, c->want_write ? LOOP_WRITE : 0);
    }
}

/* --- dedup persistence ------------------------------------------------------------------ */

static void dedup_key(topic_t *t, char *key, size_t n)
{
    snprintf(key, n, "/managed-ledgers/%s/%s/persistent/%s/__dedup", t->tn.tenant, t->tn.ns,
             t->tn.local);
}

/* Snapshot: "<covered-entry-id>\n" then "<seq> <name>\n" per producer. */
void dedup_snapshot(topic_t *t)
{
    mg_buf_t b;
    buf_init(&b);
    char line[400];
    uint64_t covered = log_durable_end(t->log);
    int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)covered);
    buf_append(&b, line, (size_t)n);
    const char *k;
    void *v;
    for (size_t it = 0; map_next(&t->dedup, &it, &k, NULL, &v);) {
        dedup_state_t *d = v;
        n = snprintf(line, sizeof line, "%lld %s\n", (long long)d->persisted, k);
        if (n > 0 && (size_t)n < sizeof line) buf_append(&b, line, (size_t)n);
    }
    char key[2600];
    dedup_key(t, key, sizeof key);
    meta_put(t->b->meta, key, b.data, b.len, false);
    buf_free(&b);
    t->dedup_snapshot_id = covered;
    t->entries_since_snapshot = 0;
}

static void dedup_note(topic_t *t, const char *name, int64_t seq)
{
    dedup_state_t *d = map_get(&t->dedup, name);
    if (!d) {
        d = mg_malloc(sizeof *d);
        if (!d) return;
        d->pushed = d->persisted = -1;
        map_put(&t->dedup, name, d);
    }
    if (seq > d->persisted) d->persisted = d->pushed = seq;
}

/* Rebuild the highest persisted sequence id per producer: the snapshot, then every entry the
 * log holds after it (the log is the truth: an entry that is there was receipted or may be). */
void dedup_recover(topic_t *t)
{
    char key[2600], *v;
    size_t n;
    uint64_t from = log_first_id(t->log);
    dedup_key(t, key, sizeof key);
    if (meta_get(t->b->meta, key, &v, &n) == 0) {
        char *save, *line = strtok_r(v, "\n", &save);
        if (line) {
            uint64_t covered = strtoull(line, NULL, 10);
            if (covered > from) from = covered;
            while ((line = strtok_r(NULL, "\n", &save))) {
                char *sp = strchr(line, ' ');
                if (!sp) continue;
                *sp = 0;
                dedup_note(t, sp + 1, strtoll(line, NULL, 10));
            }
        }
        mg_free(v);
    }
    uint64_t end = log_durable_end(t->log);
    for (uint64_t id = from; id < end; id++) {
        mg_entry_t *e;
        if (log_read(t->log, id, &e)) continue;
        payload_view_t pv;
        if (payload_layout(e->data, e->len, &pv) == 0) {
            pb_meta_t *md = payload_metadata(&pv);
            if (md) {
                int64_t s = (int64_t)md->sequence_id;
                if (md->has_highest_sequence_id && (int64_t)md->highest_sequence_id > s)
                    s = (int64_t)md->highest_sequence_id;
                if (md->producer_name) dedup_note(t, md->producer_name, s);
                pulsar__proto__message_metadata__free_unpacked(md, NULL);
            }
        }
        entry_unref(e);
    }
    t->dedup_snapshot_id = end;
}
