/* subscribe.c - consumer handles: single, partitioned (one leaf per partition), multi-topic
 * and regex-pattern consumers behind one root handle; close / unsubscribe; seek by id or time
 * (the broker closes the consumer, the maintenance thread re-subscribes); last message id;
 * readers (non-durable exclusive subscriptions with a start id); the dead-letter and
 * retry-letter publishing run by the maintenance thread. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/topic_name.h"

void consumer_queue_dlq_locked(struct mg_consumer *leaf, mg_message_t *copy, bool retry, uint64_t delay);

static bool closed(const struct mg_consumer *c)
{
    return c->state == H_CLOSED || c->state == H_CLOSING || c->cl->stopping;
}

static void add_child(struct mg_consumer *root, struct mg_consumer *leaf)
{
    struct mg_consumer **n = mg_realloc(root->children, (root->nchildren + 1) * sizeof *n);
    if (!n) return;
    root->children = n;
    n[root->nchildren++] = leaf;
    leaf->parent = root;
}

/* Create + subscribe one leaf. With root NULL the leaf is its own root. */
mg_result consumer_create_leaf_locked(struct mg_client *cl, struct mg_consumer *root,
                                      const char *topic, int partition, struct mg_consumer **out)
{
    struct mg_consumer *c = root;
    if (root && (root->nchildren || root->state != H_CONNECTING || root->parent || partition >= 0 ||
                 strcmp(root->topic, topic))) {
        c = consumer_alloc(cl, topic, root->sub, &root->conf);
        if (!c) return MG_ERR_NO_MEMORY;
        if (root->schema && !(c->schema = schema_dup(root->schema))) {
            consumer_unref(c);
            return MG_ERR_NO_MEMORY;
        }
        c->durable = root->durable;
        c->has_start = root->has_start;
        c->start_ledger = root->start_ledger;
        c->start_entry = root->start_entry;
        c->start_batch = root->start_batch;
        c->start_inclusive = root->start_inclusive;
    }
    c->partition = partition;
    c->id = cl->next_consumer_id++;
    c->state = H_CONNECTING;
    mg_result r = consumer_connect_locked(c);
    if (r) {
        if (c != root) {
            c->state = H_CLOSED;
            consumer_unref(c);
        }
        return r;
    }
    cl_add_consumer_locked(cl, c);
    if (root && c != root) add_child(root, c);
    *out = c;
    return MG_OK;
}

static mg_result close_leaf_locked(struct mg_consumer *c, bool unsubscribe)
{
    struct mg_client *cl = c->cl;
    int prev = c->state;
    c->state = H_CLOSING;
    mg_result r = MG_OK;
    conn_t *conn = c->conn;
    if (conn && conn->state == CONN_READY && prev == H_READY) {
        Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandCloseConsumer cc = PULSAR__PROTO__COMMAND_CLOSE_CONSUMER__INIT;
        Pulsar__Proto__CommandUnsubscribe us = PULSAR__PROTO__COMMAND_UNSUBSCRIBE__INIT;
        if (unsubscribe) {
            cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__UNSUBSCRIBE;
            cmd.unsubscribe = &us;
            us.consumer_id = c->id;
        } else {
            cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_CONSUMER;
            cmd.close_consumer = &cc;
            cc.consumer_id = c->id;
        }
        req_t rq;
        r = conn_rpc_locked(conn, &cmd, &rq, cl->conf.operation_timeout_ms);
        if (rq.resp) pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
        map_del_u64(&conn->consumers, c->id);
    } else if (unsubscribe) {
        r = MG_ERR_CONNECT;
    }
    c->conn = NULL;
    c->state = H_CLOSED;
    cl_del_consumer_locked(cl, c);
    pthread_cond_broadcast(&cl->cond);
    return r;
}

static void destroy_dlq_producers_locked(struct mg_consumer *root)
{
    if (root->dlq_producer) producer_destroy_locked(root->dlq_producer);
    if (root->retry_producer) producer_destroy_locked(root->retry_producer);
    root->dlq_producer = root->retry_producer = NULL;
}

mg_result consumer_close_locked(struct mg_consumer *c, bool unsubscribe)
{
    if (c->state == H_CLOSED) return MG_ERR_ALREADY_CLOSED;
    mg_result r = MG_OK;
    if (c->nchildren) {
        c->state = H_CLOSING;
        for (size_t i = 0; i < c->nchildren; i++) {
            mg_result x = close_leaf_locked(c->children[i], unsubscribe);
            if (x && !r) r = x;
        }
        c->state = H_CLOSED;
        cl_del_consumer_locked(c->cl, c);
    } else {
        r = close_leaf_locked(c, unsubscribe);
    }
    destroy_dlq_producers_locked(c);
    /* queued messages hold references on the leaves; free them now */
    while (c->q.len) {
        mg_message_t *m = c->q.v[c->q.head];
        c->q.head = (c->q.head + 1) % c->q.cap;
        c->q.len--;
        mg_message_free(m);
    }
    c->q.bytes = 0;
    pthread_cond_broadcast(&c->cl->cond);
    return r;
}

void consumer_destroy_locked(struct mg_consumer *c)
{
    if (c->state != H_CLOSED) consumer_close_locked(c, false);
    cl_del_consumer_locked(c->cl, c);
    for (size_t i = 0; i < c->nchildren; i++) {
        c->children[i]->parent = NULL;
        consumer_unref(c->children[i]);
    }
    c->nchildren = 0;
    consumer_unref(c);
}

/* ---- subscribe ------------------------------------------------------------------------------ */
/* A reader over a partitioned topic (Pulsar's MultiTopicsReader): Earliest / Latest apply to
 * every partition; a specific id applies to the partition it names and the other partitions
 * are read from their start (an id without a partition applies to every partition). */
static void reader_start_for_partition(const struct mg_consumer *root, struct mg_consumer *leaf,
                                       int partition)
{
    leaf->has_start = true;
    leaf->start_inclusive = root->start_inclusive;
    bool specific = root->start_ledger >= 0 && root->start_ledger != INT64_MAX;
    int32_t want = root->start_partition;
    if (specific && want >= 0 && want != partition) {
        leaf->start_ledger = leaf->start_entry = -1;
        leaf->start_batch = -1;
        return;
    }
    leaf->start_ledger = root->start_ledger;
    leaf->start_entry = root->start_entry;
    leaf->start_batch = root->start_batch;
}

static mg_result add_topic_locked(struct mg_client *cl, struct mg_consumer *root, const char *full,
                                  bool force_children)
{
    mg_topic_name_t *tn = mg_malloc(sizeof *tn);
    if (!tn) return MG_ERR_NO_MEMORY;
    char err[200];
    int part = -1;
    if (topic_name_parse(full, tn, err, sizeof err) == 0) part = tn->partition;
    mg_free(tn);
    int n = 0;
    mg_result r = part >= 0 ? MG_OK : cl_partitions_locked(cl, full, &n);
    if (r) return r;
    struct mg_consumer *leaf;
    if (n <= 0) {
        if (!force_children) return consumer_create_leaf_locked(cl, root, full, part, &leaf);
        /* a child even for a single non-partitioned topic */
        struct mg_consumer *c = consumer_alloc(cl, full, root->sub, &root->conf);
        if (!c) return MG_ERR_NO_MEMORY;
        if (root->schema && !(c->schema = schema_dup(root->schema))) {
            consumer_unref(c);
            return MG_ERR_NO_MEMORY;
        }
        c->durable = root->durable;
        c->partition = part;
        c->id = cl->next_consumer_id++;
        c->state = H_CONNECTING;
        c->parent = root; /* so its messages go to the root queue right away */
        r = consumer_connect_locked(c);
        if (r) {
            c->state = H_CLOSED;
            consumer_unref(c);
            return r;
        }
        cl_add_consumer_locked(cl, c);
        c->parent = NULL;
        add_child(root, c);
        return MG_OK;
    }
    for (int i = 0; i < n; i++) {
        char pt[2100];
        snprintf(pt, sizeof pt, "%s-partition-%d", full, i);
        struct mg_consumer *c = consumer_alloc(cl, pt, root->sub, &root->conf);
        if (!c) return MG_ERR_NO_MEMORY;
        if (root->schema && !(c->schema = schema_dup(root->schema))) {
            consumer_unref(c);
            return MG_ERR_NO_MEMORY;
        }
        c->durable = root->durable;
        if (root->has_start) reader_start_for_partition(root, c, i);
        c->partition = i;
        c->id = cl->next_consumer_id++;
        c->state = H_CONNECTING;
        c->parent = root;
        r = consumer_connect_locked(c);
        if (r) {
            c->state = H_CLOSED;
            consumer_unref(c);
            return r;
        }
        cl_add_consumer_locked(cl, c);
        c->parent = NULL;
        add_child(root, c);
    }
    return MG_OK;
}

static void dlq_names(struct mg_consumer *root, const char *base)
{
    char buf[2300];
    mg_topic_name_t *tn = mg_malloc(sizeof *tn);
    char err[100];
    const char *b = base;
    if (tn && topic_name_parse(base, tn, err, sizeof err) == 0) b = tn->base;
    snprintf(buf, sizeof buf, "%s-%s-DLQ", b, root->sub);
    root->dlq_topic = mg_strdup(root->conf.dead_letter_topic ? root->conf.dead_letter_topic : buf);
    snprintf(buf, sizeof buf, "%s-%s-RETRY", b, root->sub);
    root->retry_topic = mg_strdup(root->conf.retry_letter_topic ? root->conf.retry_letter_topic : buf);
    mg_free(tn);
}

static mg_result subscribe_common(mg_client_t *cl, const char *const *topics, size_t n,
                                  const char *pattern, const char *sub, const mg_consumer_conf_t *conf,
                                  const mg_schema_t *schema, mg_consumer_t **out)
{
    if (!cl || !out || !sub || !*sub) return MG_ERR_INVALID_ARG;
    *out = NULL;
    mg_consumer_conf_t def;
    if (!conf) {
        mg_consumer_conf_init(&def);
        conf = &def;
    }
    if (conf->type < MG_SUB_EXCLUSIVE || conf->type > MG_SUB_KEY_SHARED) return MG_ERR_INVALID_ARG;
    char (*fulls)[2048] = mg_calloc(n ? n : 1, sizeof *fulls);
    if (!fulls) return MG_ERR_NO_MEMORY;
    mg_result r = MG_OK;
    for (size_t i = 0; i < n && !r; i++) r = cl_topic_full(topics[i], fulls[i], sizeof fulls[i]);
    if (r) {
        mg_free(fulls);
        return r;
    }
    regex_t re;
    if (pattern) {
        char anchored[2200];
        snprintf(anchored, sizeof anchored, "^(%s)$", pattern);
        if (strncmp(pattern, "persistent://", 13) || regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB)) {
            mg_free(fulls);
            return MG_ERR_INVALID_TOPIC;
        }
        regfree(&re);
    }
    pthread_mutex_lock(&cl->lock);
    struct mg_consumer *root = NULL;
    if (cl->stopping) r = MG_ERR_ALREADY_CLOSED;
    else if (!(root = consumer_alloc(cl, pattern ? pattern : fulls[0], sub, conf))) r = MG_ERR_NO_MEMORY;
    else if (schema && !(root->schema = schema_dup(schema))) {
        consumer_unref(root);
        root = NULL;
        r = MG_ERR_NO_MEMORY;
    }
    if (!r) {
        dlq_names(root, pattern ? "dlq" : fulls[0]);
        root->state = H_CONNECTING;
        root->is_pattern = pattern != NULL;
        bool multi = n > 1 || pattern || conf->retry_enable;
        if (!multi) {
            int parts = 0;
            r = cl_partitions_locked(cl, fulls[0], &parts);
            if (!r && parts <= 0) {
                struct mg_consumer *leaf;
                r = consumer_create_leaf_locked(cl, root, fulls[0], -1, &leaf);
            } else if (!r) {
                r = add_topic_locked(cl, root, fulls[0], true);
            }
        } else {
            for (size_t i = 0; i < n && !r; i++) r = add_topic_locked(cl, root, fulls[i], true);
            if (!r && conf->retry_enable && !pattern) {
                size_t before = root->nchildren;
                r = add_topic_locked(cl, root, root->retry_topic, true);
                for (size_t i = before; i < root->nchildren; i++) root->children[i]->is_retry_leaf = true;
            }
            if (!r && pattern) {
                root->state = H_READY;
                consumer_pattern_refresh(root);
                root->next_pattern_ms = mg_mono_ms() + (uint64_t)root->conf.pattern_refresh_s * 1000;
            }
        }
        if (r) {
            for (size_t i = 0; i < root->nchildren; i++) close_leaf_locked(root->children[i], false);
            if (!root->nchildren && root->state == H_READY) close_leaf_locked(root, false);
            root->state = H_CLOSED;
            cl_del_consumer_locked(cl, root);
            consumer_destroy_locked(root);
            root = NULL;
        } else {
            if (root->nchildren || pattern) { /* a pattern may match nothing yet */
                root->state = H_READY;
                cl_add_consumer_locked(cl, root);
            }
            *out = root;
        }
    }
    pthread_mutex_unlock(&cl->lock);
    mg_free(fulls);
    return r;
}

mg_result mg_consumer_subscribe(mg_client_t *cl, const char *topic, const char *sub,
                                const mg_consumer_conf_t *conf, mg_consumer_t **out)
{
    if (!topic) return MG_ERR_INVALID_TOPIC;
    const char *t[1] = {topic};
    return subscribe_common(cl, t, 1, NULL, sub, conf, NULL, out);
}

/* AUTO_CONSUME: declare the topic's latest schema (none when it has none), as the Java client
 * does towards a broker below protocol v21; *tmp (the fetched schema) is the caller's to free.
 * AUTO_PUBLISH is for producers. */
static mg_result auto_consume_schema(mg_client_t *cl, const char *topic, const mg_schema_t **schema,
                                     mg_schema_t **tmp)
{
    *tmp = NULL;
    if (!*schema || (*schema)->type >= 0) return MG_OK;
    if ((*schema)->type != (int)MG_SCHEMA_AUTO_CONSUME || !cl) return MG_ERR_INVALID_ARG;
    mg_result r = schema_resolve_auto(cl, topic, tmp, NULL);
    *schema = *tmp;
    return r;
}

mg_result mg_consumer_subscribe_with_schema(mg_client_t *cl, const char *topic, const char *sub,
                                            const mg_consumer_conf_t *conf,
                                            const mg_schema_t *schema, mg_consumer_t **out)
{
    if (!topic) return MG_ERR_INVALID_TOPIC;
    if (out) *out = NULL;
    mg_schema_t *tmp;
    mg_result r = auto_consume_schema(cl, topic, &schema, &tmp);
    const char *t[1] = {topic};
    if (!r) r = subscribe_common(cl, t, 1, NULL, sub, conf, schema, out);
    mg_schema_free(tmp);
    return r;
}

mg_result mg_consumer_subscribe_multi(mg_client_t *cl, const char *const *topics, size_t n,
                                      const char *sub, const mg_consumer_conf_t *conf, mg_consumer_t **out)
{
    if (!topics || !n) return MG_ERR_INVALID_ARG;
    return subscribe_common(cl, topics, n, NULL, sub, conf, NULL, out);
}

mg_result mg_consumer_subscribe_pattern(mg_client_t *cl, const char *pattern, const char *sub,
                                        const mg_consumer_conf_t *conf, mg_consumer_t **out)
{
    if (!pattern) return MG_ERR_INVALID_TOPIC;
    return subscribe_common(cl, NULL, 0, pattern, sub, conf, NULL, out);
}

/* Find topics of the pattern's namespace that match and are not subscribed yet. */
void consumer_pattern_refresh(struct mg_consumer *root)
{
    struct mg_client *cl = root->cl;
    const char *p = root->topic + strlen("persistent://");
    const char *s1 = strchr(p, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s2) return;
    char ns[600];
    snprintf(ns, sizeof ns, "%.*s", (int)(s2 - p), p);
    char anchored[2200];
    snprintf(anchored, sizeof anchored, "^(%s)$", root->topic);
    regex_t re;
    if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB)) return;
    conn_t *c = NULL;
    host_t *h = &cl->hosts[cl->next_host % cl->nhosts];
    if (conn_get_locked(cl, h->host, h->port, &c)) {
        regfree(&re);
        return;
    }
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetTopicsOfNamespace gt = PULSAR__PROTO__COMMAND_GET_TOPICS_OF_NAMESPACE__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_TOPICS_OF_NAMESPACE;
    cmd.gettopicsofnamespace = &gt;
    gt.namespace_ = ns;
    gt.has_mode = 1;
    gt.mode = PULSAR__PROTO__COMMAND_GET_TOPICS_OF_NAMESPACE__MODE__PERSISTENT;
    req_t rq;
    if (conn_rpc_locked(c, &cmd, &rq, cl->conf.operation_timeout_ms) || !rq.resp->gettopicsofnamespaceresponse) {
        if (rq.resp) pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
        regfree(&re);
        return;
    }
    Pulsar__Proto__CommandGetTopicsOfNamespaceResponse *tr = rq.resp->gettopicsofnamespaceresponse;
    mg_topic_name_t *tn = mg_malloc(sizeof *tn);
    /* drop the topics (or partitions) that are no longer listed: deleted topics. A leaf the
     * broker closed because its topic was deleted waits for this refresh before reconnecting
     * (client.c), so it is dropped here instead of re-creating the topic by subscribing. */
    for (size_t j = 0; tn && j < root->nchildren && !closed(root);) {
        struct mg_consumer *leaf = root->children[j];
        bool listed = false;
        for (size_t i = 0; i < tr->n_topics && !listed; i++) {
            char err[100];
            if (!strcmp(tr->topics[i], leaf->topic)) listed = true;
            else if (!topic_name_parse(tr->topics[i], tn, err, sizeof err) && !strcmp(tn->full, leaf->topic))
                listed = true;
        }
        if (listed) {
            j++;
            continue;
        }
        log_debug("client: pattern consumer: %s is gone, dropping it", leaf->topic);
        close_leaf_locked(leaf, false);
        memmove(&root->children[j], &root->children[j + 1], (root->nchildren - j - 1) * sizeof *root->children);
        root->nchildren--;
        leaf->parent = NULL;
        consumer_unref(leaf);
    }
    for (size_t i = 0; tn && i < tr->n_topics && !closed(root); i++) {
        char err[100];
        if (topic_name_parse(tr->topics[i], tn, err, sizeof err)) continue;
        if (regexec(&re, tn->base, 0, NULL, 0)) continue;
        bool have = false;
        for (size_t j = 0; j < root->nchildren; j++)
            if (!strcmp(root->children[j]->topic, tn->full)) have = true;
        /* a partitioned topic is listed by its partitions only */
        if (have || (tn->partition < 0 && strstr(tr->topics[i], "-partition-"))) continue;
        char full[2048];
        snprintf(full, sizeof full, "%s", tn->full);
        if (add_topic_locked(cl, root, full, true))
            log_debug("client: pattern consumer: cannot subscribe %s", full);
    }
    mg_free(tn);
    pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
    regfree(&re);
}

mg_result mg_consumer_close(mg_consumer_t *c)
{
    if (!c) return MG_ERR_INVALID_ARG;
    struct mg_client *cl = c->cl;
    pthread_mutex_lock(&cl->lock);
    mg_result r = c->state == H_CLOSED ? MG_ERR_ALREADY_CLOSED : consumer_close_locked(c, false);
    if (r != MG_ERR_ALREADY_CLOSED) consumer_destroy_locked(c);
    pthread_mutex_unlock(&cl->lock);
    return r == MG_ERR_CONNECT ? MG_OK : r;
}

mg_result mg_consumer_unsubscribe(mg_consumer_t *c)
{
    if (!c) return MG_ERR_INVALID_ARG;
    struct mg_client *cl = c->cl;
    pthread_mutex_lock(&cl->lock);
    mg_result r = c->state == H_CLOSED ? MG_ERR_ALREADY_CLOSED : consumer_close_locked(c, true);
    if (r != MG_ERR_ALREADY_CLOSED) consumer_destroy_locked(c);
    pthread_mutex_unlock(&cl->lock);
    return r;
}

const char *mg_consumer_topic(const mg_consumer_t *c) { return c ? c->topic : NULL; }
const char *mg_consumer_subscription(const mg_consumer_t *c) { return c ? c->sub : NULL; }
size_t mg_consumer_topic_count(const mg_consumer_t *c)
{
    return !c ? 0 : c->nchildren || c->is_pattern ? c->nchildren : 1;
}

/* ---- seek / last id ------------------------------------------------------------------------ */
static mg_result seek_leaf_locked(struct mg_consumer *c, const struct mg_message_id *id, bool by_time,
                                  uint64_t ts)
{
    struct mg_client *cl = c->cl;
    if (c->state != H_READY || !c->conn) return MG_ERR_CONNECT;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSeek sk = PULSAR__PROTO__COMMAND_SEEK__INIT;
    Pulsar__Proto__MessageIdData md = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEEK;
    cmd.seek = &sk;
    sk.consumer_id = c->id;
    if (by_time) {
        sk.has_message_publish_time = 1;
        sk.message_publish_time = ts;
    } else {
        md.ledgerid = (uint64_t)id->ledger;
        md.entryid = (uint64_t)id->entry;
        sk.message_id = &md;
    }
    /* where a reader re-subscribes: after the id, or from the start filtered by time */
    c->seek_pending = true;
    c->start_inclusive = false;
    c->has_last_dequeued = false;
    c->min_publish_time = by_time ? ts : 0;
    if (!c->durable) {
        c->has_start = true;
        if (by_time || id->ledger < 0) {
            c->start_ledger = c->start_entry = -1;
            c->start_batch = -1;
        } else {
            c->start_ledger = id->ledger;
            c->start_entry = id->entry;
            c->start_batch = id->batch_index;
            c->has_last_dequeued = true;
            c->last_ledger = id->ledger;
            c->last_entry = id->entry;
            c->last_batch = id->batch_index >= 0 ? id->batch_index : INT32_MAX;
        }
    }
    conn_t *conn = c->conn;
    req_t rq;
    mg_result r = conn_rpc_locked(conn, &cmd, &rq, cl->conf.operation_timeout_ms);
    if (rq.resp) pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
    if (r) {
        c->seek_pending = false;
        return r;
    }
    /* wait for the re-subscription, so the next receive sees the new position */
    uint64_t deadline = deadline_after(cl->conf.operation_timeout_ms);
    while (c->state != H_READY && !closed(c))
        if (!cl_wait_locked(cl, deadline)) return MG_ERR_TIMEOUT;
    return closed(c) ? MG_ERR_ALREADY_CLOSED : MG_OK;
}

mg_result consumer_seek_locked(struct mg_consumer *c, const struct mg_message_id *id, bool by_time,
                               uint64_t ts)
{
    if (closed(c)) return MG_ERR_ALREADY_CLOSED;
    if (!c->nchildren) return seek_leaf_locked(c, id, by_time, ts);
    mg_result r = MG_OK;
    for (size_t i = 0; i < c->nchildren; i++) {
        struct mg_consumer *leaf = c->children[i];
        if (!by_time && id->partition >= 0 && leaf->partition != id->partition) continue;
        mg_result x = seek_leaf_locked(leaf, id, by_time, ts);
        if (x && !r) r = x;
    }
    return r;
}

mg_result mg_consumer_seek(mg_consumer_t *c, const mg_message_id_t *id)
{
    if (!c || !id) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = consumer_seek_locked(c, id, false, 0);
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

mg_result mg_consumer_seek_time(mg_consumer_t *c, uint64_t ts)
{
    if (!c) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = consumer_seek_locked(c, NULL, true, ts);
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

mg_result consumer_last_id_locked(struct mg_consumer *c, struct mg_message_id *out)
{
    if (closed(c)) return MG_ERR_ALREADY_CLOSED;
    if (c->nchildren) { /* the highest over partitions */
        mg_result r = MG_ERR_CONNECT;
        *out = (struct mg_message_id){-1, -1, -1, -1, 0};
        for (size_t i = 0; i < c->nchildren; i++) {
            struct mg_message_id x;
            if (consumer_last_id_locked(c->children[i], &x)) continue;
            r = MG_OK;
            if (mg_message_id_compare(&x, out) > 0) *out = x;
        }
        return r;
    }
    uint64_t deadline = deadline_after(c->cl->conf.operation_timeout_ms);
    while (c->state != H_READY && !closed(c))
        if (!cl_wait_locked(c->cl, deadline)) return MG_ERR_TIMEOUT;
    if (!c->conn) return MG_ERR_CONNECT;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetLastMessageId gl = PULSAR__PROTO__COMMAND_GET_LAST_MESSAGE_ID__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID;
    cmd.getlastmessageid = &gl;
    gl.consumer_id = c->id;
    req_t rq;
    mg_result r = conn_rpc_locked(c->conn, &cmd, &rq, c->cl->conf.operation_timeout_ms);
    if (r) return r;
    Pulsar__Proto__CommandGetLastMessageIdResponse *lr = rq.resp->getlastmessageidresponse;
    if (!lr || !lr->last_message_id) r = MG_ERR_PROTOCOL;
    else {
        pb_msgid_t *m = lr->last_message_id;
        out->ledger = (int64_t)m->ledgerid;
        out->entry = (int64_t)m->entryid;
        out->partition = m->has_partition ? m->partition : c->partition;
        out->batch_index = m->has_batch_index ? m->batch_index : -1;
        out->batch_size = 0;
    }
    pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
    return r;
}

mg_result mg_consumer_get_last_message_id(mg_consumer_t *c, mg_message_id_t **id)
{
    if (!c || !id) return MG_ERR_INVALID_ARG;
    struct mg_message_id x;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = consumer_last_id_locked(c, &x);
    pthread_mutex_unlock(&c->cl->lock);
    if (!r && !(*id = msgid_new(&x))) r = MG_ERR_NO_MEMORY;
    return r;
}

/* ---- dead letter / retry letter ------------------------------------------------------------ */
mg_result mg_consumer_reconsume_later(mg_consumer_t *c, const mg_message_t *m, uint64_t delay_ms)
{
    if (!c || !m) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = MG_OK;
    struct mg_consumer *leaf = m->cons;
    if (closed(c)) r = MG_ERR_ALREADY_CLOSED;
    else if (!leaf) r = MG_ERR_INVALID_ARG;
    else {
        mg_message_t *copy = message_clone(m);
        if (!copy) r = MG_ERR_NO_MEMORY;
        else consumer_queue_dlq_locked(leaf, copy, true, delay_ms);
    }
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

typedef struct dlq_wait {
    struct mg_client *cl;
    bool done;
    mg_result r;
} dlq_wait_t;

static void dlq_cb(mg_result r, const mg_message_id_t *id, void *ctx)
{
    dlq_wait_t *w = ctx;
    pthread_mutex_lock(&w->cl->lock);
    w->r = r;
    w->done = true;
    pthread_cond_broadcast(&w->cl->cond);
    pthread_mutex_unlock(&w->cl->lock);
}

static mg_result publish_locked(struct mg_client *cl, struct mg_producer **pp, const char *topic,
                                mg_message_t *m)
{
    if (!*pp) {
        mg_producer_conf_t pc;
        mg_producer_conf_init(&pc);
        pc.batching_enabled = false;
        mg_result r = producer_create_locked(cl, topic, &pc, pp);
        if (r) return r;
    }
    dlq_wait_t w = {cl, false, MG_OK};
    mg_result r = producer_send_locked(*pp, m, dlq_cb, &w, 0);
    if (r) return r;
    while (!w.done) cl_wait_locked(cl, 0);
    return w.r;
}

/* Maintenance thread: publish queued dead-letter / retry messages, then ack the originals. */
void consumer_process_dlq(struct mg_client *cl)
{
    while (cl->dlq_head && !cl->stopping) {
        dlq_item_t *d = cl->dlq_head;
        cl->dlq_head = d->next;
        if (!cl->dlq_head) cl->dlq_tail = NULL;
        mg_message_t *m = d->msg;
        struct mg_consumer *leaf = m->cons;
        struct mg_consumer *root = leaf;
        while (root->parent) root = root->parent;
        if (closed(root) || closed(leaf)) {
            mg_message_free(m);
            mg_free(d);
            continue;
        }
        atomic_fetch_add(&root->refs, 1);
        char oid[128];
        snprintf(oid, sizeof oid, "%lld:%lld:%d:%d", (long long)m->id.ledger, (long long)m->id.entry,
                 m->id.partition, m->id.batch_index);
        const char *real = mg_message_property(m, "REAL_TOPIC");
        if (!real) mg_message_set_property(m, "REAL_TOPIC", leaf->topic);
        if (!mg_message_property(m, "ORIGIN_MESSAGE_ID")) mg_message_set_property(m, "ORIGIN_MESSAGE_ID", oid);
        bool retry = d->retry;
        if (retry) {
            const char *rc = mg_message_property(m, "RECONSUMETIMES");
            int times = rc ? atoi(rc) + 1 : 1;
            char tb[32];
            snprintf(tb, sizeof tb, "%d", times);
            mg_message_set_property(m, "RECONSUMETIMES", tb);
            snprintf(tb, sizeof tb, "%llu", (unsigned long long)d->delay_ms);
            mg_message_set_property(m, "DELAY_TIME", tb);
            if (root->conf.max_redeliver_count > 0 && times > root->conf.max_redeliver_count) retry = false;
            else if (d->delay_ms) mg_message_set_deliver_after(m, d->delay_ms);
        }
        mg_result r = retry ? publish_locked(cl, &root->retry_producer, root->retry_topic, m)
                            : publish_locked(cl, &root->dlq_producer, root->dlq_topic, m);
        if (r == MG_OK && !closed(leaf)) {
            /* ack the original */
            mg_consumer_t *rc = root;
            pthread_mutex_unlock(&cl->lock);
            mg_message_t tmp = *m;
            tmp.backs = NULL;
            mg_consumer_ack(rc, &tmp);
            pthread_mutex_lock(&cl->lock);
        } else if (r) {
            log_warn("client: cannot publish to %s: %s", retry ? root->retry_topic : root->dlq_topic,
                     mg_strerror(r));
        }
        consumer_unref(root);
        mg_message_free(m);
        mg_free(d);
    }
}

/* ---- readers -------------------------------------------------------------------------------- */
void mg_reader_conf_init(mg_reader_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->receiver_queue_size = 1000;
}

mg_result mg_reader_create(mg_client_t *cl, const char *topic, const mg_message_id_t *start,
                           const mg_reader_conf_t *conf, mg_reader_t **out)
{
    return mg_reader_create_with_schema(cl, topic, start, conf, NULL, out);
}

static mg_result reader_create(mg_client_t *cl, const char *topic, const mg_message_id_t *start,
                               const mg_reader_conf_t *conf, const mg_schema_t *schema,
                               mg_reader_t **out);

mg_result mg_reader_create_with_schema(mg_client_t *cl, const char *topic,
                                       const mg_message_id_t *start, const mg_reader_conf_t *conf,
                                       const mg_schema_t *schema, mg_reader_t **out)
{
    if (!cl || !out || !start) return MG_ERR_INVALID_ARG;
    *out = NULL;
    mg_schema_t *tmp;
    mg_result r = auto_consume_schema(cl, topic, &schema, &tmp);
    if (!r) r = reader_create(cl, topic, start, conf, schema, out);
    mg_schema_free(tmp);
    return r;
}

static mg_result reader_create(mg_client_t *cl, const char *topic, const mg_message_id_t *start,
                               const mg_reader_conf_t *conf, const mg_schema_t *schema,
                               mg_reader_t **out)
{
    if (!cl || !out || !start) return MG_ERR_INVALID_ARG;
    *out = NULL;
    mg_reader_conf_t def;
    if (!conf) {
        mg_reader_conf_init(&def);
        conf = &def;
    }
    char full[2048];
    mg_result r = cl_topic_full(topic, full, sizeof full);
    if (r) return r;
    mg_consumer_conf_t cc;
    mg_consumer_conf_init(&cc);
    cc.type = MG_SUB_EXCLUSIVE;
    cc.receiver_queue_size = conf->receiver_queue_size;
    cc.consumer_name = conf->reader_name;
    char sub[64], rn[32];
    random_name(rn, sizeof rn);
    snprintf(sub, sizeof sub, "reader-%s", rn);
    pthread_mutex_lock(&cl->lock);
    struct mg_consumer *c = cl->stopping ? NULL : consumer_alloc(cl, full, sub, &cc);
    if (c && schema && !(c->schema = schema_dup(schema))) {
        consumer_unref(c);
        c = NULL;
    }
    if (!c) r = cl->stopping ? MG_ERR_ALREADY_CLOSED : MG_ERR_NO_MEMORY;
    else {
        int parts = 0;
        r = cl_partitions_locked(cl, full, &parts);
        c->durable = false;
        c->has_start = true;
        c->start_inclusive = conf->start_inclusive;
        bool earliest = start->ledger < 0, latest = start->ledger == INT64_MAX;
        c->start_ledger = earliest ? -1 : start->ledger;
        c->start_entry = earliest ? -1 : start->entry;
        c->start_batch = earliest || latest ? -1 : start->batch_index;
        c->start_partition = earliest || latest ? -1 : start->partition;
        if (!earliest && !latest && conf->start_inclusive) {
            /* the broker starts after the id unless a batch index is given: give one */
            c->start_batch = start->batch_index >= 0 ? start->batch_index : 0;
        }
        c->state = H_CONNECTING;
        if (!r && parts > 0) {
            /* one leaf per partition behind the root, which holds the receive queue */
            r = add_topic_locked(cl, c, full, true);
            if (r) {
                for (size_t i = 0; i < c->nchildren; i++) close_leaf_locked(c->children[i], false);
                c->state = H_CLOSED;
                consumer_destroy_locked(c);
                c = NULL;
            } else {
                c->state = H_READY;
                cl_add_consumer_locked(cl, c);
            }
        } else if (!r) {
            struct mg_consumer *leaf;
            r = consumer_create_leaf_locked(cl, c, full, -1, &leaf);
        }
        if (r) {
            if (c) {
                c->state = H_CLOSED;
                consumer_unref(c);
            }
        } else {
            *out = (mg_reader_t *)c; /* a reader is a consumer behind another type */
        }
    }
    pthread_mutex_unlock(&cl->lock);
    return r;
}

mg_result mg_reader_read_next(mg_reader_t *r, mg_message_t **out, int timeout_ms)
{
    if (!r) return MG_ERR_INVALID_ARG;
    return mg_consumer_receive((mg_consumer_t *)r, out, timeout_ms);
}

/* Whether one reader leaf has messages after the last one it handed out (or its start). */
static mg_result leaf_has_more_locked(struct mg_consumer *c, bool *avail)
{
    struct mg_message_id last;
    mg_result r = consumer_last_id_locked(c, &last);
    if (r) return r;
    if (last.entry < 0) *avail = false;
    else if (c->has_last_dequeued) {
        struct mg_message_id ld = {c->last_ledger, c->last_entry, -1, c->last_batch, 0};
        *avail = mg_message_id_compare(&last, &ld) > 0;
    } else if (c->start_ledger < 0) *avail = true;
    else if (c->start_ledger == INT64_MAX) *avail = false;
    else {
        struct mg_message_id st = {c->start_ledger, c->start_entry, -1, c->start_batch, 0};
        *avail = mg_message_id_compare(&last, &st) > 0;
    }
    return MG_OK;
}

mg_result mg_reader_has_message_available(mg_reader_t *rd, bool *avail)
{
    if (!rd || !avail) return MG_ERR_INVALID_ARG;
    struct mg_consumer *c = (struct mg_consumer *)rd;
    pthread_mutex_lock(&c->cl->lock);
    mg_result r = MG_OK;
    *avail = false;
    if (c->q.len) *avail = true;
    else if (!c->nchildren) r = leaf_has_more_locked(c, avail);
    else { /* partitioned: any partition with more */
        r = MG_ERR_CONNECT;
        for (size_t i = 0; i < c->nchildren && !*avail; i++) {
            bool a = false;
            mg_result x = leaf_has_more_locked(c->children[i], &a);
            if (x) continue;
            r = MG_OK;
            *avail = a;
        }
        if (*avail) r = MG_OK;
    }
    pthread_mutex_unlock(&c->cl->lock);
    return r;
}

mg_result mg_reader_seek(mg_reader_t *r, const mg_message_id_t *id)
{
    if (!r) return MG_ERR_INVALID_ARG;
    return mg_consumer_seek((mg_consumer_t *)r, id);
}

mg_result mg_reader_seek_time(mg_reader_t *r, uint64_t ts)
{
    if (!r) return MG_ERR_INVALID_ARG;
    return mg_consumer_seek_time((mg_consumer_t *)r, ts);
}

mg_result mg_reader_close(mg_reader_t *r)
{
    if (!r) return MG_ERR_INVALID_ARG;
    return mg_consumer_close((mg_consumer_t *)r);
}
