/* routes_topics.c - /admin/v2/persistent/{tenant}/{namespace}[/{topic}/...]: list, create
 * (non-partitioned and partitioned), update partitions, delete, stats, partitioned-stats,
 * internalStats, subscriptions (list, create at a position, delete, skip, skip_all,
 * expireMessages, resetcursor by time or message id), peek (position/{n}), examinemessage,
 * lastMessageId, unload, terminate. Operations on a partitioned topic's base name fan out to
 * its partitions, as Pulsar does. Loop thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "admin/stats.h"
#include "broker/admin_ops.h"
#include "common/alloc.h"
#include "common/timeutil.h"

typedef struct topic_ctx {
    mg_topic_name_t tn;
    int partitions;          /* -1: not partitioned */
    bool has_log;            /* non-partitioned topic (or partition) exists */
} topic_ctx_t;

static void topic_not_found(admin_req_t *r, const char *name)
{
    reply_err(r, 404, "Topic %s not found", name);
}

static int parse_topic(admin_req_t *r, topic_ctx_t *tc)
{
    char name[3000], err[300];
    const char *local = r->segs[5];
    if (!*local || !strcmp(local, "..") || !strcmp(local, ".")) {
        reply_err(r, 412, "Invalid topic name");
        return -1;
    }
    snprintf(name, sizeof name, "%s://%s/%s/%s", r->segs[2], r->segs[3], r->segs[4], local);
    if (topic_name_parse(name, &tc->tn, err, sizeof err)) {
        reply_err(r, 412, "%s", err);
        return -1;
    }
    tc->partitions = tc->tn.partition < 0 ? topic_partitions(r->b, tc->tn.full) : -1;
    tc->has_log = aops_topic_has_log(r->b, tc->tn.full);
    return 0;
}

/* Names of the topics an operation applies to: the partitions of a partitioned topic, or the
 * topic itself. Caller frees with free_names. */
static int targets(broker_t *b, topic_ctx_t *tc, char ***out)
{
    int n = tc->partitions > 0 ? tc->partitions : 1;
    char **names = mg_calloc((size_t)n, sizeof *names);
    for (int i = 0; i < n; i++) {
        char buf[2600];
        if (tc->partitions > 0) topic_partition_name(tc->tn.full, i, buf, sizeof buf);
        else snprintf(buf, sizeof buf, "%s", tc->tn.full);
        names[i] = mg_strdup(buf);
    }
    *out = names;
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) mg_free(names[i]);
    mg_free(names);
}

static void list_ns_topics(admin_req_t *r, bool partitioned)
{
    const char *t = r->segs[3], *ns = r->segs[4];
    json_t *out = NULL;
    if (!strcmp(r->segs[2], "persistent")) {
        char prefix[700];
        if (partitioned) snprintf(prefix, sizeof prefix, "/admin/partitioned-topics/%s/%s/persistent/", t, ns);
        else snprintf(prefix, sizeof prefix, "/topics/%s/%s/", t, ns);
        out = persistent_topic_names(r->b, prefix, t, ns);
    }
    reply_json(r, 200, out ? out : json_array());
}

json_t *persistent_topic_names(broker_t *b, const char *prefix, const char *t, const char *ns)
{
    json_t *out = json_array(), *l = meta_children(b, prefix), *e;
    size_t i;
    char full[2600];
    json_array_foreach(l, i, e)
    {
        snprintf(full, sizeof full, "persistent://%s/%s/%s", t, ns, json_string_value(e));
        json_array_append_new(out, json_string(full));
    }
    json_decref(l);
    return out;
}

static int body_int(admin_req_t *r, json_int_t *v)
{
    json_t *j = areq_json(r);
    if (!j) return -1;
    if (!json_is_integer(j)) {
        json_decref(j);
        reply_err(r, 400, "Expected an integer body");
        return -1;
    }
    *v = json_integer_value(j);
    json_decref(j);
    return 0;
}

static void create_partitions(broker_t *b, topic_ctx_t *tc, int from, int to)
{
    for (int i = from; i < to; i++) {
        char buf[2600], err[200];
        mg_topic_name_t ptn;
        topic_partition_name(tc->tn.full, i, buf, sizeof buf);
        if (topic_name_parse(buf, &ptn, err, sizeof err) == 0) aops_topic_create(b, &ptn, NULL, 0);
    }
}

static void partitions_resource(admin_req_t *r, topic_ctx_t *tc)
{
    broker_t *b = r->b;
    const char *m = r->method;
    if (!strcmp(m, "GET")) {
        int p = tc->partitions;
        if (p < 0) {
            if (!tc->has_log && !areq_arg_true(r, "checkAllowAutoCreation"))
                return topic_not_found(r, tc->tn.full);
            p = 0;
            if (!tc->has_log && b->cfg->allow_auto_topic_creation &&
                !strcmp(b->cfg->auto_topic_creation_type, "partitioned") && tc->tn.partition < 0)
                p = b->cfg->default_num_partitions;
        }
        return reply_json(r, 200, json_pack("{s:i,s:b}", "partitions", p, "deleted", 0));
    }
    if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
        json_int_t n;
        if (tc->tn.partition >= 0) return reply_err(r, 412, "Partitioned topic name must not contain -partition-");
        if (body_int(r, &n)) return;
        if (n <= 0) return reply_err(r, 406, "Number of partitions should be more than 0");
        if (n > 10000) return reply_err(r, 406, "Number of partitions should be less than or equal to 10000");
        if (!strcmp(m, "PUT")) {
            if (tc->partitions >= 0 || tc->has_log)
                return reply_err(r, 409, "This topic already exists");
            topic_set_partitions(b, tc->tn.full, (int)n);
            create_partitions(b, tc, 0, (int)n);
            return reply_empty(r, 204);
        }
        if (tc->partitions < 0) return reply_err(r, 404, "Partitioned topic does not exist");
        if (n <= tc->partitions)
            return reply_err(r, 409, "Number of new partitions must be greater than existing number of partitions");
        create_partitions(b, tc, tc->partitions, (int)n);
        topic_set_partitions(b, tc->tn.full, (int)n);
        return reply_empty(r, 204);
    }
    if (!strcmp(m, "DELETE")) {
        if (tc->partitions < 0) return reply_err(r, 404, "Partitioned topic does not exist");
        bool force = areq_arg_true(r, "force");
        char **names;
        int n = targets(b, tc, &names);
        if (!force) {
            for (int i = 0; i < n; i++) {
                topic_t *t = map_get(&b->topics, names[i]);
                if (t && (map_count(&t->producers) || t->nconsumers)) {
                    free_names(names, n);
                    return reply_err(r, 412, "Topic has active producers/subscriptions");
                }
            }
        }
        for (int i = 0; i < n; i++) aops_topic_delete(b, names[i], true);
        free_names(names, n);
        char key[2600];
        snprintf(key, sizeof key, "/admin/partitioned-topics/%s/%s/persistent/%s", tc->tn.tenant,
                 tc->tn.ns, tc->tn.local);
        meta_del(b->meta, key);
        return reply_empty(r, 204);
    }
    reply_405(r);
}

static void delete_topic(admin_req_t *r, topic_ctx_t *tc)
{
    bool force = areq_arg_true(r, "force");
    if (tc->partitions >= 0) {
        /* the base name of a partitioned topic: delete it whole (pulsar-admin topics delete
         * does the same for partitioned topics) */
        return partitions_resource(r, tc);
    }
    if (!tc->has_log) return topic_not_found(r, tc->tn.full);
    int rc = aops_topic_delete(r->b, tc->tn.full, force);
    if (rc == -EBUSY) return reply_err(r, 412, "Topic has active producers/subscriptions");
    if (rc == -ENOENT) return topic_not_found(r, tc->tn.full);
    if (rc) return reply_err(r, 500, "Failed to delete topic %s", tc->tn.full);
    char key[2600];
    snprintf(key, sizeof key, "/topics/%s/%s/%s", tc->tn.tenant, tc->tn.ns, tc->tn.local);
    meta_del(r->b->meta, key);
    reply_empty(r, 204);
}

/* Load every target topic; replies 404 and returns -1 when one does not exist. */
static int load_targets(admin_req_t *r, topic_ctx_t *tc, topic_t ***out, char ***names_out)
{
    if (tc->partitions < 0 && !tc->has_log) {
        topic_not_found(r, tc->tn.full);
        return -1;
    }
    char **names;
    int n = targets(r->b, tc, &names);
    topic_t **ts = mg_calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) {
        ts[i] = aops_topic_load(r->b, names[i]);
        if (!ts[i] && tc->partitions < 0) {
            free_names(names, n);
            mg_free(ts);
            topic_not_found(r, tc->tn.full);
            return -1;
        }
    }
    *out = ts;
    *names_out = names;
    return n;
}

static uint64_t msgid_to_entry(topic_t *t, json_t *mid, bool *ok)
{
    json_t *l = json_object_get(mid, "ledgerId"), *e = json_object_get(mid, "entryId");
    *ok = json_is_integer(l) && json_is_integer(e);
    if (!*ok) return 0;
    int64_t lid = json_integer_value(l), eid = json_integer_value(e);
    uint64_t ours = log_ledger_id(t->log);
    if (lid < 0 || (uint64_t)lid < ours) return log_first_id(t->log);
    if ((uint64_t)lid > ours || eid < 0 || eid == INT64_MAX) return log_durable_end(t->log);
    uint64_t id = (uint64_t)eid;
    if (json_is_true(json_object_get(mid, "isExcluded"))) id++;
    return id;
}

static json_t *msgid_json(topic_t *t, uint64_t id)
{
    return json_pack("{s:I,s:I,s:i}", "ledgerId", (json_int_t)log_ledger_id(t->log), "entryId",
                     id == UINT64_MAX ? (json_int_t)-1 : (json_int_t)id, "partitionIndex",
                     t->tn.partition);
}

static void b64(const uint8_t *in, size_t n, char *out, size_t outlen)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = A[v >> 18 & 63];
        out[o++] = A[v >> 12 & 63];
        out[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    out[o] = 0;
}

/* Answer with one message as Pulsar's generateResponseWithEntry does: the body is the
 * payload decompressed (for a batch, the whole decompressed batch: SingleMessageMetadata +
 * payload per message, which pulsar-admin splits into the individual messages), and the
 * MessageMetadata goes into X-Pulsar-* headers with Pulsar's names. An encrypted payload is
 * returned as stored (X-Pulsar-Is-Encrypted: true), as Pulsar cannot decode it either. */
static void reply_message(admin_req_t *r, topic_t *t, uint64_t id)
{
    mg_entry_t *e;
    if (topic_read_entry(t, id, &e)) return reply_err(r, 404, "Message not found");
    payload_view_t pv;
    pb_meta_t *md = NULL;
    if (payload_layout(e->data, e->len, &pv) || !(md = payload_metadata(&pv))) {
        entry_unref(e);
        return reply_err(r, 500, "Stored entry is corrupt");
    }
    bool encrypted = md->n_encryption_keys > 0;
    uint8_t *plain = NULL;
    if (!encrypted && md->has_compression && md->compression != PULSAR__PROTO__COMPRESSION_TYPE__NONE &&
        admin_decompress(md->compression, pv.data, pv.data_len, md->uncompressed_size, &plain)) {
        pulsar__proto__message_metadata__free_unpacked(md, NULL);
        entry_unref(e);
        return reply_err(r, 500, "Failed to decompress the message at %llu:%llu",
                         (unsigned long long)log_ledger_id(t->log), (unsigned long long)id);
    }
    reply_header(r, "X-Pulsar-Message-ID", "%llu:%llu", (unsigned long long)log_ledger_id(t->log),
                 (unsigned long long)id);
    for (size_t i = 0; i < md->n_properties; i++) {
        char hn[300];
        snprintf(hn, sizeof hn, "X-Pulsar-PROPERTY-%s", md->properties[i]->key);
        reply_header(r, hn, "%s", md->properties[i]->value ? md->properties[i]->value : "");
    }
    char ts[64], enc[400];
    fmt_iso_time(md->publish_time, ts, sizeof ts);
    reply_header(r, "X-Pulsar-publish-time", "%s", ts);
    if (md->has_event_time && md->event_time) {
        fmt_iso_time(md->event_time, ts, sizeof ts);
        reply_header(r, "X-Pulsar-event-time", "%s", ts);
    }
    if (md->has_deliver_at_time) {
        fmt_iso_time((uint64_t)md->deliver_at_time, ts, sizeof ts);
        reply_header(r, "X-Pulsar-deliver-at-time", "%s", ts);
    }
    if (md->has_num_messages_in_batch) {
        reply_header(r, "X-Pulsar-num-batch-message", "%d", md->num_messages_in_batch);
        /* Pulsar: the entry's size less the serialized metadata */
        reply_header(r, "X-Pulsar-batch-size", "%zu", pv.entry_len - pv.meta_len);
    }
    if (md->has_null_value && md->null_value) reply_header(r, "X-Pulsar-null-value", "true");
    if (md->has_num_chunks_from_msg && md->num_chunks_from_msg > 0) {
        reply_header(r, "X-Pulsar-PROPERTY-TOTAL-CHUNKS", "%d", md->num_chunks_from_msg);
        reply_header(r, "X-Pulsar-PROPERTY-CHUNK-ID", "%d", md->has_chunk_id ? md->chunk_id : 0);
    }
    reply_header(r, "X-Pulsar-Is-Encrypted", "%s", encrypted ? "true" : "false");
    if (md->producer_name) reply_header(r, "X-Pulsar-producer-name", "%s", md->producer_name);
    reply_header(r, "X-Pulsar-sequence-id", "%llu", (unsigned long long)md->sequence_id);
    if (md->replicated_from) reply_header(r, "X-Pulsar-replicated-from", "%s", md->replicated_from);
    if (md->partition_key) reply_header(r, "X-Pulsar-partition-key", "%s", md->partition_key);
    if (md->has_compression) {
        static const char *cn[] = {"NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"};
        reply_header(r, "X-Pulsar-compression", "%s",
                     md->compression >= 0 && md->compression < 5 ? cn[md->compression] : "UNKNOWN");
    }
    if (md->has_uncompressed_size)
        reply_header(r, "X-Pulsar-uncompressed-size", "%u", md->uncompressed_size);
    if (md->encryption_algo) reply_header(r, "X-Pulsar-encryption-algo", "%s", md->encryption_algo);
    if (md->has_partition_key_b64_encoded)
        reply_header(r, "X-Pulsar-partition-key-b64-encoded", "%s",
                     md->partition_key_b64_encoded ? "true" : "false");
    if (md->has_highest_sequence_id)
        reply_header(r, "X-Pulsar-highest-sequence-id", "%llu",
                     (unsigned long long)md->highest_sequence_id);
    if (md->uuid) reply_header(r, "X-Pulsar-uuid", "%s", md->uuid);
    if (md->has_num_chunks_from_msg)
        reply_header(r, "X-Pulsar-num-chunks-from-msg", "%d", md->num_chunks_from_msg);
    if (md->has_total_chunk_msg_size)
        reply_header(r, "X-Pulsar-total-chunk-msg-size", "%d", md->total_chunk_msg_size);
    if (md->has_chunk_id) reply_header(r, "X-Pulsar-chunk-id", "%d", md->chunk_id);
    if (md->has_ordering_key && md->ordering_key.len <= 256) {
        b64(md->ordering_key.data, md->ordering_key.len, enc, sizeof enc);
        reply_header(r, "X-Pulsar-Base64-ordering-key", "%s", enc);
    }
    if (md->has_schema_version && md->schema_version.len <= 256) {
        b64(md->schema_version.data, md->schema_version.len, enc, sizeof enc);
        reply_header(r, "X-Pulsar-Base64-schema-version-b64encoded", "%s", enc);
    }
    if (plain) reply_text(r, 200, "application/octet-stream", (const char *)plain, md->uncompressed_size);
    else reply_text(r, 200, "application/octet-stream", (const char *)pv.data, pv.data_len);
    mg_free(plain);
    pulsar__proto__message_metadata__free_unpacked(md, NULL);
    entry_unref(e);
}

static void subscription_resource(admin_req_t *r, topic_ctx_t *tc)
{
    /* segs: 6 = "subscription", 7 = name, 8.. = action */
    broker_t *b = r->b;
    const char *m = r->method;
    if (r->nseg < 8) return reply_err(r, 404, "Not found");
    const char *sub = r->segs[7];
    const char *act = r->nseg > 8 ? r->segs[8] : NULL;
    if (!*sub || strchr(sub, '/')) return reply_err(r, 412, "Invalid subscription name");
    topic_t **ts;
    char **names;
    int n = load_targets(r, tc, &ts, &names);
    if (n < 0) return;
    int rc = 0;
    if (!act) {
        if (!strcmp(m, "PUT")) {
            json_t *body = NULL;
            if (r->body_len) {
                body = areq_json(r);
                if (!body) goto out;
                if (!json_is_object(body)) {
                    json_decref(body);
                    reply_err(r, 400, "Expected a message id object");
                    goto out;
                }
            }
            for (int i = 0; i < n; i++) {
                if (!ts[i]) ts[i] = aops_topic_load(b, names[i]);
                if (!ts[i]) {
                    char err[200];
                    mg_topic_name_t ptn;
                    if (!topic_name_parse(names[i], &ptn, err, sizeof err))
                        aops_topic_create(b, &ptn, NULL, 0);
                    ts[i] = aops_topic_load(b, names[i]);
                }
                if (!ts[i]) continue;
                if (map_get(&ts[i]->subs, sub)) {
                    rc = -EEXIST;
                    break;
                }
            }
            if (rc == -EEXIST) {
                json_decref(body);
                reply_err(r, 409, "Subscription already exists for topic");
                goto out;
            }
            for (int i = 0; i < n; i++) {
                if (!ts[i]) continue;
                bool ok = true;
                uint64_t start = body ? msgid_to_entry(ts[i], body, &ok) : log_durable_end(ts[i]->log);
                if (!ok) start = log_durable_end(ts[i]->log);
                aops_sub_create(ts[i], sub, start);
            }
            json_decref(body);
            reply_empty(r, 204);
        } else if (!strcmp(m, "DELETE")) {
            bool force = areq_arg_true(r, "force"), found = false;
            for (int i = 0; i < n; i++) {
                if (!ts[i] || !map_get(&ts[i]->subs, sub)) continue;
                found = true;
                subscription_t *s = map_get(&ts[i]->subs, sub);
                if (s->nconsumers && !force) {
                    reply_err(r, 412, "Subscription has active connected consumers");
                    goto out;
                }
            }
            if (!found) {
                reply_err(r, 404, "Subscription not found");
                goto out;
            }
            for (int i = 0; i < n; i++)
                if (ts[i]) aops_sub_delete(ts[i], sub, true);
            reply_empty(r, 204);
        } else {
            reply_405(r);
        }
        goto out;
    }
    /* the actions below need the subscription to exist (on every partition that has it) */
    bool found = false;
    for (int i = 0; i < n; i++)
        if (ts[i] && map_get(&ts[i]->subs, sub)) found = true;
    if (!found) {
        reply_err(r, 404, "Subscription not found");
        goto out;
    }
    if (!strcmp(act, "skip_all") || !strcmp(act, "skip")) {
        if (strcmp(m, "POST")) {
            reply_405(r);
            goto out;
        }
        int64_t cnt = -1;
        if (!strcmp(act, "skip")) {
            char *end;
            if (r->nseg < 10 || (cnt = strtoll(r->segs[9], &end, 10)) < 0 || *end) {
                reply_err(r, 400, "Invalid number of messages to skip");
                goto out;
            }
        }
        for (int i = 0; i < n; i++)
            if (ts[i] && map_get(&ts[i]->subs, sub)) aops_sub_skip(ts[i], sub, cnt);
        reply_empty(r, 204);
    } else if (!strcmp(act, "expireMessages")) {
        char *end;
        long long secs;
        if (strcmp(m, "POST")) {
            reply_405(r);
            goto out;
        }
        if (r->nseg < 10 || (secs = strtoll(r->segs[9], &end, 10)) < 0 || *end) {
            reply_err(r, 400, "Invalid expiration time");
            goto out;
        }
        for (int i = 0; i < n; i++)
            if (ts[i] && map_get(&ts[i]->subs, sub)) aops_sub_expire(ts[i], sub, (uint64_t)secs);
        reply_empty(r, 204);
    } else if (!strcmp(act, "resetcursor")) {
        if (strcmp(m, "POST")) {
            reply_405(r);
            goto out;
        }
        if (r->nseg >= 10) {
            char *end;
            long long when = strtoll(r->segs[9], &end, 10);
            if (*end || when < 0) {
                reply_err(r, 400, "Invalid timestamp");
                goto out;
            }
            for (int i = 0; i < n; i++)
                if (ts[i] && map_get(&ts[i]->subs, sub))
                    aops_sub_reset(ts[i], sub, topic_find_by_time(ts[i], (uint64_t)when));
            reply_empty(r, 204);
        } else {
            json_t *body = areq_json(r);
            if (!body) goto out;
            bool ok = false;
            topic_t *t = ts[0];
            json_t *pi = json_object_get(body, "partitionIndex");
            if (tc->partitions > 0 && json_is_integer(pi) && json_integer_value(pi) >= 0 &&
                json_integer_value(pi) < n)
                t = ts[json_integer_value(pi)];
            uint64_t id = t ? msgid_to_entry(t, body, &ok) : 0;
            json_decref(body);
            if (!ok || !t) {
                reply_err(r, 400, "Expected a message id {\"ledgerId\": long, \"entryId\": long}");
                goto out;
            }
            if (aops_sub_reset(t, sub, id)) {
                reply_err(r, 404, "Subscription not found");
                goto out;
            }
            reply_empty(r, 204);
        }
    } else if (!strcmp(act, "position")) {
        char *end;
        long long pos;
        if (strcmp(m, "GET")) {
            reply_405(r);
            goto out;
        }
        if (r->nseg < 10 || (pos = strtoll(r->segs[9], &end, 10)) <= 0 || *end) {
            reply_err(r, 412, "Invalid message position");
            goto out;
        }
        if (tc->partitions > 0) {
            reply_err(r, 412, "Peek messages on a partitioned topic is not allowed: use a partition");
            goto out;
        }
        uint64_t id;
        if (aops_sub_nth_unacked(ts[0], sub, (uint64_t)pos, &id)) {
            reply_err(r, 404, "Message not found");
            goto out;
        }
        reply_message(r, ts[0], id);
    } else {
        reply_err(r, 404, "Not found: no subscription resource %s", act);
    }
out:
    free_names(names, n);
    mg_free(ts);
}

static void topic_stats(admin_req_t *r, topic_ctx_t *tc, bool partitioned, bool internal)
{
    if (partitioned && tc->partitions < 0)
        return reply_err(r, 404, "Partitioned Topic not found: %s is not a partitioned topic",
                         tc->tn.full);
    if (!partitioned && tc->partitions >= 0 && !internal)
        return topic_not_found(r, tc->tn.full);
    topic_t **ts;
    char **names;
    int n = load_targets(r, tc, &ts, &names);
    if (n < 0) return;
    if (internal) {
        if (tc->partitions >= 0) {
            json_t *parts = json_object();
            for (int i = 0; i < n; i++)
                if (ts[i]) json_object_set_new(parts, names[i], stats_internal(ts[i]));
            reply_json(r, 200, json_pack("{s:{s:i},s:o}", "metadata", "partitions",
                                         tc->partitions, "partitions", parts));
        } else {
            reply_json(r, 200, stats_internal(ts[0]));
        }
    } else if (partitioned) {
        json_t **parts = mg_calloc((size_t)n, sizeof *parts);
        for (int i = 0; i < n; i++) parts[i] = ts[i] ? stats_topic(ts[i]) : stats_empty();
        reply_json(r, 200, stats_partitioned(parts, names, n, tc->partitions,
                                             areq_arg_true(r, "perPartition")));
        mg_free(parts);
    } else {
        reply_json(r, 200, stats_topic(ts[0]));
    }
    free_names(names, n);
    mg_free(ts);
}

static void topic_action(admin_req_t *r, topic_ctx_t *tc, const char *act)
{
    broker_t *b = r->b;
    const char *m = r->method;
    if (!strcmp(act, "subscriptions")) {
        if (strcmp(m, "GET")) return reply_405(r);
        topic_t **ts;
        char **names;
        int n = load_targets(r, tc, &ts, &names);
        if (n < 0) return;
        json_t *out = json_array();
        for (int i = 0; i < n; i++) {
            if (!ts[i]) continue;
            const char *k;
            for (size_t it = 0; map_next(&ts[i]->subs, &it, &k, NULL, NULL);) {
                bool dup = false;
                size_t j;
                json_t *e;
                json_array_foreach(out, j, e) if (!strcmp(json_string_value(e), k)) dup = true;
                if (!dup) json_array_append_new(out, json_string(k));
            }
        }
        free_names(names, n);
        mg_free(ts);
        return reply_json(r, 200, out);
    }
    if (!strcmp(act, "all_subscription")) {
        if (r->nseg < 9 || strcmp(r->segs[7], "expireMessages")) return reply_err(r, 404, "Not found");
        if (strcmp(m, "POST")) return reply_405(r);
        char *end;
        long long secs = strtoll(r->segs[8], &end, 10);
        if (*end || secs < 0) return reply_err(r, 400, "Invalid expiration time");
        topic_t **ts;
        char **names;
        int n = load_targets(r, tc, &ts, &names);
        if (n < 0) return;
        for (int i = 0; i < n; i++)
            if (ts[i]) aops_sub_expire(ts[i], NULL, (uint64_t)secs);
        free_names(names, n);
        mg_free(ts);
        return reply_empty(r, 204);
    }
    if (!strcmp(act, "unload")) {
        if (strcmp(m, "PUT")) return reply_405(r);
        if (tc->partitions < 0 && !tc->has_log) return topic_not_found(r, tc->tn.full);
        char **names;
        int n = targets(b, tc, &names);
        for (int i = 0; i < n; i++) aops_topic_unload(b, names[i]);
        free_names(names, n);
        return reply_empty(r, 204);
    }
    if (!strcmp(act, "terminate") || !strcmp(act, "lastMessageId") || !strcmp(act, "examinemessage")) {
        bool term = !strcmp(act, "terminate");
        if (strcmp(m, term ? "POST" : "GET")) return reply_405(r);
        if (tc->partitions >= 0)
            return reply_err(r, 405, "%s is not allowed on a partitioned topic: use a partition", act);
        topic_t *t = tc->has_log ? aops_topic_load(b, tc->tn.full) : NULL;
        if (!t) return topic_not_found(r, tc->tn.full);
        uint64_t end = log_durable_end(t->log), first = log_first_id(t->log);
        if (term) {
            uint64_t last;
            aops_topic_terminate(t, &last);
            return reply_json(r, 200, msgid_json(t, last));
        }
        if (!strcmp(act, "lastMessageId"))
            return reply_json(r, 200, msgid_json(t, end > 0 ? end - 1 : UINT64_MAX));
        const char *ip = areq_arg(r, "initialPosition");
        const char *mp = areq_arg(r, "messagePosition");
        long long pos = mp ? strtoll(mp, NULL, 10) : 1;
        if (pos <= 0) return reply_err(r, 412, "Invalid message position");
        if (ip && strcmp(ip, "latest") && strcmp(ip, "earliest"))
            return reply_err(r, 400, "initialPosition must be latest or earliest");
        bool latest = !ip || !strcmp(ip, "latest");
        if ((uint64_t)pos > end - first) return reply_err(r, 404, "Message not found");
        uint64_t id = latest ? end - (uint64_t)pos : first + (uint64_t)pos - 1;
        return reply_message(r, t, id);
    }
    reply_err(r, 404, "Not found: no topic resource %s", act);
}

/* Add the actions of `add` (an array) missing from `into` (an array). */
static void actions_union(json_t *into, json_t *add)
{
    size_t i, j;
    json_t *a, *e;
    json_array_foreach(add, i, a)
    {
        bool have = false;
        json_array_foreach(into, j, e) if (json_equal(e, a)) have = true;
        if (!have) json_array_append(into, a);
    }
}

/* .../{topic}/permissions[/{role}]: Pulsar's topic-level grants, kept in the namespace's
 * Policies at auth_policies.destination_auth[<full topic name>][role] (the broker's auth_can
 * reads them there; a partition uses its partitioned topic's). GET answers, per role, the
 * union of the namespace-level and the topic-level actions, as Pulsar's getPermissionsOnTopic.
 * The topic need not exist yet (grant first, then create). */
static void topic_permissions(admin_req_t *r, topic_ctx_t *tc)
{
    const char *m = r->method;
    if (r->nseg > 8) return reply_err(r, 404, "Not found");
    if (r->nseg == 7 && strcmp(m, "GET")) return reply_405(r);
    if (r->nseg == 8 && strcmp(m, "POST") && strcmp(m, "DELETE")) return reply_405(r);
    json_t *pol = policies_load(r->b, tc->tn.tenant, tc->tn.ns);
    if (!pol) return reply_err(r, 404, "Namespace does not exist");
    json_t *ap = auth_policies_of(pol);
    json_t *da = json_object_get(ap, "destination_auth");
    json_t *mine = json_object_get(da, tc->tn.full);
    if (r->nseg == 7) {
        json_t *out = json_deep_copy(json_object_get(ap, "namespace_auth"));
        const char *role;
        json_t *acts;
        json_object_foreach(mine, role, acts)
        {
            json_t *cur = json_object_get(out, role);
            if (json_is_array(cur))
                actions_union(cur, acts);
            else
                json_object_set(out, role, acts);
        }
        json_decref(pol);
        return reply_json(r, 200, out);
    }
    const char *role = r->segs[7];
    if (!strcmp(m, "POST")) {
        json_t *v = auth_actions_body(r);
        if (!v) {
            json_decref(pol);
            return;
        }
        if (!json_is_object(mine)) {
            mine = json_object();
            json_object_set_new(da, tc->tn.full, mine);
        }
        json_object_set_new(mine, role, v);
    } else {
        if (!json_object_get(mine, role)) {
            json_decref(pol);
            return reply_err(r, 412, "Permissions are not set at the topic level");
        }
        json_object_del(mine, role);
        if (!json_object_size(mine)) json_object_del(da, tc->tn.full);
    }
    policies_store(r->b, tc->tn.tenant, tc->tn.ns, pol);
    json_decref(pol);
    reply_empty(r, 204);
}

void route_topics(admin_req_t *r)
{
    broker_t *b = r->b;
    if (r->nseg < 5) return reply_err(r, 404, "Not found");
    const char *t = r->segs[3], *ns = r->segs[4];
    if (!name_is_valid(t)) return reply_err(r, 412, "Tenant name is not valid");
    if (!name_is_valid(ns)) return reply_err(r, 412, "Namespace name is not valid");
    if (!namespace_exists(b, t, ns)) return reply_err(r, 404, "Namespace does not exist");
    if (r->nseg == 5 || (r->nseg == 6 && !strcmp(r->segs[5], "partitioned") &&
                         !strcmp(r->method, "GET"))) {
        if (strcmp(r->method, "GET")) return reply_405(r);
        return list_ns_topics(r, r->nseg == 6);
    }
    topic_ctx_t tc;
    if (parse_topic(r, &tc)) return;
    if (r->nseg >= 7 && !strcmp(r->segs[6], "permissions")) return topic_permissions(r, &tc);
    if (!tc.tn.persistent) {
        if (r->nseg == 7 && !strcmp(r->segs[6], "partitions") && !strcmp(r->method, "GET"))
            return reply_json(r, 200, json_pack("{s:i,s:b}", "partitions", 0, "deleted", 0));
        return reply_err(r, 412, "Non-persistent topics are not supported by this broker");
    }
    if (r->nseg == 6) {
        if (!strcmp(r->method, "PUT")) {
            if (tc.partitions >= 0 || tc.has_log) return reply_err(r, 409, "This topic already exists");
            if (tc.tn.partition >= 0 && topic_partitions(b, tc.tn.base) > 0)
                return reply_err(r, 409, "This topic already exists");
            char err[300];
            if (aops_topic_create(b, &tc.tn, err, sizeof err))
                return reply_err(r, 500, "Failed to create topic: %s", err);
            return reply_empty(r, 204);
        }
        if (!strcmp(r->method, "DELETE")) return delete_topic(r, &tc);
        return reply_405(r);
    }
    const char *act = r->segs[6];
    if (!strcmp(act, "partitions") && r->nseg == 7) return partitions_resource(r, &tc);
    if (!strcmp(act, "stats") && r->nseg == 7) {
        if (strcmp(r->method, "GET")) return reply_405(r);
        return topic_stats(r, &tc, false, false);
    }
    if (!strcmp(act, "partitioned-stats") && r->nseg == 7) {
        if (strcmp(r->method, "GET")) return reply_405(r);
        return topic_stats(r, &tc, true, false);
    }
    if (!strcmp(act, "internalStats") && r->nseg == 7) {
        if (strcmp(r->method, "GET")) return reply_405(r);
        return topic_stats(r, &tc, false, true);
    }
    if (!strcmp(act, "subscription")) return subscription_resource(r, &tc);
    if (r->nseg == 7 || !strcmp(act, "all_subscription")) return topic_action(r, &tc, act);
    reply_err(r, 404, "Not found");
}
