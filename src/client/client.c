/* client.c - the client handle: service URL parsing, the I/O thread (poll loop over every
 * broker connection, timers, deferred user callbacks), the maintenance thread (reconnects
 * with backoff, dead-letter publishing, pattern rediscovery), lookups with redirects and
 * partitioned metadata. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client/internal.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/topic_name.h"

void mg_client_conf_init(mg_client_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->operation_timeout_ms = 30000;
    c->connection_timeout_ms = 10000;
    c->keep_alive_interval_s = 30;
    c->initial_backoff_ms = 100;
    c->max_backoff_ms = 60000;
    c->max_lookup_redirects = 20;
}

uint64_t deadline_after(int ms) { return ms < 0 ? 0 : mg_mono_ms() + (uint64_t)ms; }

bool cl_wait_locked(struct mg_client *cl, uint64_t deadline_ms)
{
    if (!deadline_ms) {
        pthread_cond_wait(&cl->cond, &cl->lock);
        return true;
    }
    uint64_t now = mg_mono_ms();
    if (now >= deadline_ms) return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (deadline_ms - now) * 1000000ull;
    ts.tv_sec += (time_t)(ns / 1000000000ull);
    ts.tv_nsec = (long)(ns % 1000000000ull);
    pthread_cond_timedwait(&cl->cond, &cl->lock, &ts);
    return mg_mono_ms() < deadline_ms;
}

void cl_wake(struct mg_client *cl)
{
    uint64_t one = 1;
    ssize_t r = write(cl->wake_fd, &one, sizeof one);
    (void)r;
}

/* Only the first callback queued since the I/O thread last took the queue wakes it: that thread
 * looks at the queue under the lock before it polls (and then does not block), so a queue that
 * is not empty has been woken for already. A receipt for a batch of 100 messages used to write
 * the eventfd 100 times. */
void cl_defer_locked(struct mg_client *cl, deferred_t *d)
{
    d->next = NULL;
    if (d->kind == DEF_SEND) cl->def_sends_queued++;
    bool was_empty = !cl->def_head;
    if (cl->def_tail) cl->def_tail->next = d;
    else cl->def_head = d;
    cl->def_tail = d;
    if (was_empty) cl_wake(cl);
}

/* Records of run callbacks are kept for the next ones (a send callback per message would
 * otherwise cost a calloc and a free), up to this many; more are freed. */
#define DEF_FREE_MAX 4096

deferred_t *cl_deferred_new_locked(struct mg_client *cl)
{
    deferred_t *d = cl->def_free;
    if (!d) return mg_calloc(1, sizeof *d);
    cl->def_free = d->next;
    cl->ndef_free--;
    memset(d, 0, sizeof *d);
    return d;
}

void cl_defer_send_locked(struct mg_client *cl, mg_send_cb cb, void *ctx, mg_result r,
                          const struct mg_message_id *id)
{
    if (!cb) return;
    deferred_t *d = cl_deferred_new_locked(cl);
    if (!d) {
        log_error("client: out of memory for a send callback");
        return;
    }
    d->kind = DEF_SEND;
    d->send_cb = cb;
    d->ctx = ctx;
    d->res = r;
    if (id) {
        d->id = *id;
        d->has_id = true;
    }
    cl_defer_locked(cl, d);
}

/* Run every deferred callback, with the lock released; their records go back to the free list
 * (or are freed past DEF_FREE_MAX). */
static void run_deferred_locked(struct mg_client *cl)
{
    while (cl->def_head) {
        deferred_t *d = cl->def_head, *ran = d;
        cl->def_head = cl->def_tail = NULL;
        pthread_mutex_unlock(&cl->lock);
        uint64_t sends = 0;
        while (d) {
            deferred_t *n = d->next;
            if (d->kind == DEF_SEND) {
                d->send_cb(d->res, d->has_id ? &d->id : NULL, d->ctx);
                sends++;
            } else if (d->kind == DEF_LISTENER) {
                struct mg_consumer *root = d->cons;
                root->conf.listener(root, d->msg, root->conf.listener_ctx);
                consumer_unref(root);
            }
            d = n;
        }
        pthread_mutex_lock(&cl->lock);
        while (ran) {
            deferred_t *n = ran->next;
            if (cl->ndef_free < DEF_FREE_MAX) {
                ran->next = cl->def_free;
                cl->def_free = ran;
                cl->ndef_free++;
            } else {
                mg_free(ran);
            }
            ran = n;
        }
        if (sends) { /* mg_producer_flush waits for the callbacks, not only the receipts */
            cl->def_sends_done += sends;
            pthread_cond_broadcast(&cl->cond);
        }
    }
}

#define ARR_ADD(arr, n, cap, v)                                                                    \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t nc = (cap) ? (cap) * 2 : 16;                                                    \
            void *np = mg_realloc((arr), nc * sizeof *(arr));                                      \
            if (!np) break;                                                                        \
            (arr) = np;                                                                            \
            (cap) = nc;                                                                            \
        }                                                                                          \
        (arr)[(n)++] = (v);                                                                        \
    } while (0)

void cl_add_producer_locked(struct mg_client *cl, struct mg_producer *p)
{
    ARR_ADD(cl->prods, cl->nprods, cl->capprods, p);
}
void cl_del_producer_locked(struct mg_client *cl, struct mg_producer *p)
{
    for (size_t i = 0; i < cl->nprods; i++)
        if (cl->prods[i] == p) {
            cl->prods[i] = cl->prods[--cl->nprods];
            return;
        }
}
void cl_add_consumer_locked(struct mg_client *cl, struct mg_consumer *c)
{
    ARR_ADD(cl->conss, cl->nconss, cl->capconss, c);
}
void cl_del_consumer_locked(struct mg_client *cl, struct mg_consumer *c)
{
    for (size_t i = 0; i < cl->nconss; i++)
        if (cl->conss[i] == c) {
            cl->conss[i] = cl->conss[--cl->nconss];
            return;
        }
}

mg_result server_error_result(int err)
{
    switch (err) {
    case PULSAR__PROTO__SERVER_ERROR__AuthenticationError:
    case PULSAR__PROTO__SERVER_ERROR__AuthorizationError: return MG_ERR_AUTH;
    case PULSAR__PROTO__SERVER_ERROR__ConsumerBusy: return MG_ERR_CONSUMER_BUSY;
    case PULSAR__PROTO__SERVER_ERROR__ServiceNotReady: return MG_ERR_SERVICE_NOT_READY;
    case PULSAR__PROTO__SERVER_ERROR__ChecksumError: return MG_ERR_CHECKSUM;
    case PULSAR__PROTO__SERVER_ERROR__TopicNotFound: return MG_ERR_TOPIC_NOT_FOUND;
    case PULSAR__PROTO__SERVER_ERROR__SubscriptionNotFound: return MG_ERR_SUBSCRIPTION_NOT_FOUND;
    case PULSAR__PROTO__SERVER_ERROR__TopicTerminatedError: return MG_ERR_TOPIC_TERMINATED;
    case PULSAR__PROTO__SERVER_ERROR__ProducerBusy: return MG_ERR_PRODUCER_BUSY;
    case PULSAR__PROTO__SERVER_ERROR__InvalidTopicName: return MG_ERR_INVALID_TOPIC;
    case PULSAR__PROTO__SERVER_ERROR__IncompatibleSchema: return MG_ERR_INCOMPATIBLE_SCHEMA;
    case PULSAR__PROTO__SERVER_ERROR__NotAllowedError: return MG_ERR_NOT_ALLOWED;
    case PULSAR__PROTO__SERVER_ERROR__ProducerFenced: return MG_ERR_PRODUCER_FENCED;
    default: return MG_ERR_BROKER;
    }
}

mg_result cl_topic_full(const char *in, char *out, size_t outlen)
{
    if (!in) return MG_ERR_INVALID_TOPIC;
    mg_topic_name_t *tn = mg_malloc(sizeof *tn);
    if (!tn) return MG_ERR_NO_MEMORY;
    char err[300];
    mg_result r = MG_OK;
    if (topic_name_parse(in, tn, err, sizeof err)) {
        log_debug("client: %s", err);
        r = MG_ERR_INVALID_TOPIC;
    } else {
        snprintf(out, outlen, "%s", tn->full);
    }
    mg_free(tn);
    return r;
}

void random_name(char *out, size_t n)
{
    static atomic_uint ctr;
    unsigned v = (unsigned)mg_mono_us() ^ (unsigned)getpid() * 2654435761u ^ atomic_fetch_add(&ctr, 7919);
    snprintf(out, n, "%08x%02x", v, (unsigned)(atomic_load(&ctr) & 0xff));
}

/* ---- URLs ---------------------------------------------------------------------------------- */
static mg_result parse_url(struct mg_client *cl, const char *url)
{
    if (!url) return MG_ERR_INVALID_URL;
    const char *p;
    if (!strncmp(url, "pulsar://", 9))
        p = url + 9;
    else if (!strncmp(url, "pulsar+ssl://", 13))
        p = url + 13, cl->tls = true;
    else
        return MG_ERR_INVALID_URL;
    size_t cap = 1;
    for (const char *q = p; *q; q++) cap += *q == ',';
    cl->hosts = mg_calloc(cap, sizeof *cl->hosts);
    if (!cl->hosts) return MG_ERR_NO_MEMORY;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len && p[len - 1] == '/') len--;
        if (!len || len >= 256) return MG_ERR_INVALID_URL;
        char tmp[256];
        memcpy(tmp, p, len);
        tmp[len] = 0;
        if (strchr(tmp, '/')) return MG_ERR_INVALID_URL;
        host_t *h = &cl->hosts[cl->nhosts];
        char *colon = strrchr(tmp, ':');
        h->port = cl->tls ? MG_DEFAULT_PORT_TLS : MG_DEFAULT_PORT;
        if (colon) {
            char *e;
            long port = strtol(colon + 1, &e, 10);
            if (*e || port <= 0 || port > 65535 || colon == tmp) return MG_ERR_INVALID_URL;
            h->port = (int)port;
            *colon = 0;
        }
        if (!*tmp) return MG_ERR_INVALID_URL;
        snprintf(h->host, sizeof h->host, "%s", tmp);
        cl->nhosts++;
        p += len;
        if (*p == '/') p++;
        if (*p == ',') p++;
    }
    return cl->nhosts ? MG_OK : MG_ERR_INVALID_URL;
}

/* ---- lookup -------------------------------------------------------------------------------- */
static mg_result service_conn_locked(struct mg_client *cl, conn_t **out)
{
    mg_result r = MG_ERR_CONNECT;
    for (int i = 0; i < cl->nhosts; i++) {
        host_t *h = &cl->hosts[(cl->next_host + i) % cl->nhosts];
        r = conn_get_locked(cl, h->host, h->port, out);
        if (r == MG_OK) {
            cl->next_host = (cl->next_host + i) % cl->nhosts;
            return MG_OK;
        }
        if (cl->stopping) return MG_ERR_ALREADY_CLOSED;
    }
    return r;
}

/* host and port of a lookup answer's URL, which has the scheme given (pulsar:// or, on a TLS
 * client, pulsar+ssl://: Pulsar's clients follow broker_service_url_tls then). -1 when bad. */
static int split_url(const char *url, const char *scheme, char *host, size_t hl, int *port)
{
    size_t sl = strlen(scheme);
    if (!url || strncmp(url, scheme, sl)) return -1;
    const char *p = url + sl, *colon = strrchr(p, ':');
    if (!colon) return -1;
    snprintf(host, hl, "%.*s", (int)(colon - p), p);
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

mg_result cl_lookup_locked(struct mg_client *cl, const char *topic, conn_t **out)
{
    conn_t *c;
    mg_result r = service_conn_locked(cl, &c);
    if (r) return r;
    bool authoritative = false;
    for (int hop = 0; hop <= cl->conf.max_lookup_redirects; hop++) {
        Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandLookupTopic lk = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC__INIT;
        cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP;
        cmd.lookuptopic = &lk;
        lk.topic = (char *)topic;
        lk.has_authoritative = 1;
        lk.authoritative = authoritative;
        req_t rq;
        r = conn_rpc_locked(c, &cmd, &rq, cl->conf.operation_timeout_ms);
        if (r) return r;
        Pulsar__Proto__CommandLookupTopicResponse *lr = rq.resp->lookuptopicresponse;
        if (!lr) {
            pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
            return MG_ERR_PROTOCOL;
        }
        int type = lr->has_response ? (int)lr->response : 2;
        if (type == 2) {
            r = lr->has_error ? server_error_result(lr->error) : MG_ERR_LOOKUP;
            log_debug("client: lookup %s failed: %s", topic, lr->message ? lr->message : "");
            client_set_error(lr->message); /* e.g. the AuthorizationError reason */
            pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
            return r;
        }
        char host[256];
        int port;
        bool proxy = lr->proxy_through_service_url;
        const char *url = cl->tls ? lr->brokerserviceurltls : lr->brokerserviceurl;
        int bad = split_url(url, cl->tls ? "pulsar+ssl://" : "pulsar://", host, sizeof host, &port);
        if (bad && cl->tls && !proxy) {
            char m[300];
            snprintf(m, sizeof m,
                     "lookup of %s gave no TLS broker URL (broker_service_url_tls: %s)", topic,
                     url ? url : "none");
            log_warn("client: %s", m);
            client_set_error(m);
        }
        authoritative = lr->authoritative;
        pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
        if (!proxy) {
            if (bad) return MG_ERR_LOOKUP;
            r = conn_get_locked(cl, host, port, &c);
            if (r) return r;
        }
        if (type == 1) {
            *out = c;
            return MG_OK;
        }
    }
    return MG_ERR_LOOKUP;
}

mg_result cl_partitions_locked(struct mg_client *cl, const char *topic, int *n)
{
    conn_t *c;
    client_set_error(NULL);
    mg_result r = service_conn_locked(cl, &c);
    if (r) return r;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPartitionedTopicMetadata pm =
        PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA;
    cmd.partitionmetadata = &pm;
    pm.topic = (char *)topic;
    req_t rq;
    r = conn_rpc_locked(c, &cmd, &rq, cl->conf.operation_timeout_ms);
    if (r) return r;
    Pulsar__Proto__CommandPartitionedTopicMetadataResponse *pr = rq.resp->partitionmetadataresponse;
    if (!pr) r = MG_ERR_PROTOCOL;
    else if (pr->has_response && pr->response == 1) {
        r = pr->has_error ? server_error_result(pr->error) : MG_ERR_LOOKUP;
        client_set_error(pr->message);
    } else *n = (int)pr->partitions;
    pulsar__proto__base_command__free_unpacked(rq.resp, NULL);
    return r;
}

mg_result mg_client_get_partitions(mg_client_t *cl, const char *topic, int *n)
{
    if (!cl || !n) return MG_ERR_INVALID_ARG;
    char full[2048];
    mg_result r = cl_topic_full(topic, full, sizeof full);
    if (r) return r;
    pthread_mutex_lock(&cl->lock);
    r = cl->stopping ? MG_ERR_ALREADY_CLOSED : cl_partitions_locked(cl, full, n);
    pthread_mutex_unlock(&cl->lock);
    return r;
}

/* ---- threads ------------------------------------------------------------------------------- */
static int io_timeout_locked(struct mg_client *cl)
{
    uint64_t now = mg_mono_ms(), next = now + 100;
    for (size_t i = 0; i < cl->nprods; i++) {
        uint64_t d = producer_next_deadline_locked(cl->prods[i]);
        if (d && d < next) next = d;
    }
    return next > now ? (int)(next - now) : 0;
}

static void *io_main(void *arg)
{
    struct mg_client *cl = arg;
    struct pollfd *pfds = NULL;
    conn_t **pconns = NULL;
    size_t cap = 0;
    uint64_t last_tick = 0;
    pthread_mutex_lock(&cl->lock);
    while (!cl->stopping) {
        size_t n = 1;
        for (conn_t *c = cl->conns; c; c = c->next)
            if (c->fd >= 0 && c->state != CONN_CLOSED) n++;
        if (n > cap) {
            size_t nc = n * 2;
            struct pollfd *np = realloc(pfds, nc * sizeof *np);
            conn_t **nq = realloc(pconns, nc * sizeof *nq);
            if (np) pfds = np;
            if (nq) pconns = nq;
            if (!np || !nq) {
                pthread_mutex_unlock(&cl->lock);
                usleep(10000);
                pthread_mutex_lock(&cl->lock);
                continue;
            }
            cap = nc;
        }
        pfds[0] = (struct pollfd){.fd = cl->wake_fd, .events = POLLIN};
        n = 1;
        for (conn_t *c = cl->conns; c; c = c->next)
            if (c->fd >= 0 && c->state != CONN_CLOSED) {
                pconns[n] = c;
                pfds[n++] = (struct pollfd){.fd = c->fd,
                                            .events = POLLIN | (buf_readable(&c->out) ? POLLOUT : 0)};
            }
        int timeout = io_timeout_locked(cl);
        if (cl->def_head) timeout = 0;
        for (size_t i = 1; i < n && timeout; i++)
            if (conn_has_buffered_locked(pconns[i])) timeout = 0; /* TLS records read already */
        pthread_mutex_unlock(&cl->lock);
        int pr = poll(pfds, n, timeout);
        pthread_mutex_lock(&cl->lock);
        if (pr > 0 && (pfds[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(cl->wake_fd, &v, sizeof v);
            (void)r;
        }
        for (size_t i = 1; pr > 0 && i < n; i++) {
            conn_t *c = pconns[i];
            if (c->state == CONN_CLOSED || c->fd != pfds[i].fd) continue;
            if ((pfds[i].revents & (POLLIN | POLLERR | POLLHUP)) || conn_has_buffered_locked(c))
                conn_on_readable_locked(c);
            if (c->state != CONN_CLOSED && buf_readable(&c->out)) conn_flush_locked(c);
        }
        uint64_t now = mg_mono_ms();
        for (size_t i = 0; i < cl->nprods; i++) producer_tick_locked(cl->prods[i], now);
        if (now - last_tick >= 10) {
            last_tick = now;
            for (conn_t *c = cl->conns; c; c = c->next)
                if (c->state == CONN_READY) conn_tick_locked(c, now);
            for (size_t i = 0; i < cl->nconss; i++) consumer_tick_locked(cl->conss[i], now);
        }
        run_deferred_locked(cl);
    }
    run_deferred_locked(cl);
    pthread_mutex_unlock(&cl->lock);
    free(pfds);
    free(pconns);
    return NULL;
}

/* Maintenance: reconnect producers/consumers whose connection broke (or whose subscription the
 * broker closed after a seek), publish dead-letter messages, refresh pattern consumers. The
 * blocking work happens here so the I/O thread never waits. */
static void *maint_main(void *arg)
{
    struct mg_client *cl = arg;
    pthread_mutex_lock(&cl->lock);
    while (!cl->stopping) {
        if (!cl->maint_kick) cl_wait_locked(cl, mg_mono_ms() + 50);
        cl->maint_kick = false;
        if (cl->stopping) break;
        uint64_t now = mg_mono_ms();
        bool again = true;
        while (again && !cl->stopping) {
            again = false;
            for (size_t i = 0; i < cl->nprods && !cl->stopping; i++) {
                struct mg_producer *p = cl->prods[i];
                if (p->state != H_RECONNECT || p->next_attempt_ms > now) continue;
                atomic_fetch_add(&p->refs, 1);
                mg_result r = producer_connect_locked(p);
                if (r && p->state == H_RECONNECT) {
                    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : (uint64_t)cl->conf.initial_backoff_ms;
                    if (p->backoff_ms > (uint64_t)cl->conf.max_backoff_ms) p->backoff_ms = (uint64_t)cl->conf.max_backoff_ms;
                    p->next_attempt_ms = mg_mono_ms() + p->backoff_ms;
                } else if (!r) {
                    p->backoff_ms = 0;
                }
                producer_unref(p);
                again = true; /* the array may have changed while unlocked */
                break;
            }
            if (again) continue;
            for (size_t i = 0; i < cl->nconss && !cl->stopping; i++) {
                struct mg_consumer *c = cl->conss[i];
                if (c->state != H_RECONNECT || (c->next_attempt_ms > now && !c->reconnect_now)) continue;
                /* a pattern consumer's leaf waits for a due rediscovery: its topic may be gone */
                if (c->parent && c->parent->is_pattern && c->parent->state == H_READY &&
                    c->parent->next_pattern_ms <= now)
                    continue;
                atomic_fetch_add(&c->refs, 1);
                c->reconnect_now = false;
                mg_result r = consumer_connect_locked(c);
                if (r && c->state == H_RECONNECT) {
                    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : (uint64_t)cl->conf.initial_backoff_ms;
                    if (c->backoff_ms > (uint64_t)cl->conf.max_backoff_ms) c->backoff_ms = (uint64_t)cl->conf.max_backoff_ms;
                    c->next_attempt_ms = mg_mono_ms() + c->backoff_ms;
                } else if (!r) {
                    c->backoff_ms = 0;
                }
                consumer_unref(c);
                again = true;
                break;
            }
        }
        if (cl->stopping) break;
        consumer_process_dlq(cl);
        now = mg_mono_ms();
        for (size_t i = 0; i < cl->nconss && !cl->stopping; i++) {
            struct mg_consumer *c = cl->conss[i];
            if (c->is_pattern && c->state == H_READY && c->next_pattern_ms <= now) {
                atomic_fetch_add(&c->refs, 1);
                consumer_pattern_refresh(c);
                c->next_pattern_ms = mg_mono_ms() + (uint64_t)c->conf.pattern_refresh_s * 1000;
                consumer_unref(c);
                break;
            }
        }
    }
    pthread_mutex_unlock(&cl->lock);
    return NULL;
}

mg_result mg_client_create(const char *url, const mg_client_conf_t *conf, mg_client_t **out)
{
    if (!out) return MG_ERR_INVALID_ARG;
    *out = NULL;
    mg_log_init();
    client_set_error(NULL);
    struct mg_client *cl = mg_calloc(1, sizeof *cl);
    if (!cl) return MG_ERR_NO_MEMORY;
    if (conf) cl->conf = *conf;
    else mg_client_conf_init(&cl->conf);
    if (cl->conf.operation_timeout_ms <= 0) cl->conf.operation_timeout_ms = 30000;
    if (cl->conf.connection_timeout_ms <= 0) cl->conf.connection_timeout_ms = 10000;
    if (cl->conf.initial_backoff_ms <= 0) cl->conf.initial_backoff_ms = 100;
    if (cl->conf.max_backoff_ms < cl->conf.initial_backoff_ms) cl->conf.max_backoff_ms = 60000;
    if (cl->conf.max_lookup_redirects <= 0) cl->conf.max_lookup_redirects = 20;
    cl->auth_method = cl->conf.auth_method ? mg_strdup(cl->conf.auth_method) : NULL;
    if (cl->conf.auth_data && cl->conf.auth_data_len) {
        cl->auth_data = mg_malloc(cl->conf.auth_data_len);
        if (cl->auth_data) memcpy(cl->auth_data, cl->conf.auth_data, cl->conf.auth_data_len);
    }
    cl->conf.auth_method = cl->auth_method;
    cl->conf.auth_data = cl->auth_data;
    if (cl->conf.auth_token_file) {
        cl->auth_token_file = mg_strdup(cl->conf.auth_token_file);
        mg_free(cl->auth_method);
        cl->auth_method = mg_strdup("token");
        cl->conf.auth_method = cl->auth_method;
        cl->conf.auth_token_file = cl->auth_token_file;
    }
    cl->wake_fd = -1;
    mg_result r = parse_url(cl, url);
    if (r) goto fail;
    if (cl->tls && (r = tls_ctx_new(cl))) goto fail;
    /* the TLS files are loaded: no pointer into the caller's strings is kept */
    cl->conf.tls_trust_certs_file_path = cl->conf.tls_cert_file_path = cl->conf.tls_key_file_path =
        NULL;
    cl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cl->wake_fd < 0) {
        r = MG_ERR_NO_MEMORY;
        goto fail;
    }
    pthread_mutex_init(&cl->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cl->cond, &ca);
    pthread_condattr_destroy(&ca);
    cl->next_req_id = 1;
    if (pthread_create(&cl->io_thread, NULL, io_main, cl)) {
        r = MG_ERR_NO_MEMORY;
        goto fail_sync;
    }
    if (pthread_create(&cl->maint_thread, NULL, maint_main, cl)) {
        pthread_mutex_lock(&cl->lock);
        cl->stopping = true;
        pthread_mutex_unlock(&cl->lock);
        cl_wake(cl);
        pthread_join(cl->io_thread, NULL);
        r = MG_ERR_NO_MEMORY;
        goto fail_sync;
    }
    *out = cl;
    return MG_OK;
fail_sync:
    pthread_cond_destroy(&cl->cond);
    pthread_mutex_destroy(&cl->lock);
fail:
    tls_ctx_free(cl);
    if (cl->wake_fd >= 0) close(cl->wake_fd);
    mg_free(cl->hosts);
    mg_free(cl->auth_method);
    mg_free(cl->auth_data);
    mg_free(cl->auth_token_file);
    mg_free(cl);
    return r;
}

mg_result mg_client_close(mg_client_t *cl)
{
    if (!cl) return MG_ERR_INVALID_ARG;
    pthread_mutex_lock(&cl->lock);
    /* close handles politely while the I/O thread still runs */
    while (cl->nconss) {
        struct mg_consumer *c = cl->conss[cl->nconss - 1];
        while (c->parent) c = c->parent;
        consumer_close_locked(c, false);
        consumer_destroy_locked(c);
    }
    while (cl->nprods) {
        struct mg_producer *p = cl->prods[cl->nprods - 1];
        while (p->parent) p = p->parent;
        producer_destroy_locked(p);
    }
    cl->stopping = true;
    pthread_cond_broadcast(&cl->cond);
    pthread_mutex_unlock(&cl->lock);
    cl_wake(cl);
    pthread_join(cl->maint_thread, NULL);
    pthread_join(cl->io_thread, NULL);
    pthread_mutex_lock(&cl->lock);
    while (cl->dlq_head) {
        dlq_item_t *d = cl->dlq_head;
        cl->dlq_head = d->next;
        mg_message_free(d->msg);
        mg_free(d);
    }
    while (cl->conns) {
        conn_t *c = cl->conns;
        cl->conns = c->next;
        if (c->state != CONN_CLOSED) conn_fail_locked(c, MG_ERR_ALREADY_CLOSED);
        conn_free(c);
    }
    while (cl->dead) {
        conn_t *c = cl->dead;
        cl->dead = c->next;
        conn_free(c);
    }
    run_deferred_locked(cl);
    while (cl->def_free) {
        deferred_t *d = cl->def_free;
        cl->def_free = d->next;
        mg_free(d);
    }
    schema_cache_free_locked(cl);
    pthread_mutex_unlock(&cl->lock);
    pthread_cond_destroy(&cl->cond);
    pthread_mutex_destroy(&cl->lock);
    close(cl->wake_fd);
    tls_ctx_free(cl);
    mg_free(cl->prods);
    mg_free(cl->conss);
    mg_free(cl->hosts);
    mg_free(cl->auth_method);
    mg_free(cl->auth_data);
    mg_free(cl->auth_token_file);
    mg_free(cl);
    return MG_OK;
}
