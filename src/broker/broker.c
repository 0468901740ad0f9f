/* broker.c - broker lifecycle: storage and metadata start-up, the standalone bootstrap
 * (cluster `standalone`, tenant `public`, namespace `public/default`), the listening socket,
 * periodic work (rates, cursor persistence, keep-alive, retention) and clean shutdown. */
#include "broker/auth.h"
#include "broker/broker.h"
#include "broker/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/admin.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/util.h"
#include "net/listen.h"

static void on_accept(mg_loop_t *l, int fd, int events, void *arg)
{
    conn_accept(arg);
}

static void on_accept_tls(mg_loop_t *l, int fd, int events, void *arg)
{
    conn_accept_tls(arg);
}

static void on_store(mg_loop_t *l, int fd, int events, void *arg)
{
    broker_t *b = arg;
    store_dispatch_completions(b->store);
}

/* The end of a loop pass. Storage starts on the pass's appends first; receipts and replies go
 * out before the pass's deliveries, so a producer's receipt does not wait behind the bulk
 * writes of dispatch. conn_flush_all also handles input left buffered when a connection's
 * reading resumed: its SENDs append and its FLOWs schedule dispatch after the first kick and
 * dispatch, so the workers are kicked again, and the loop does not block while a subscription
 * is still scheduled (input handled here, or a dispatch budget used up). Otherwise the loop
 * would sleep on work only the next timer wakes it for (the keep-alive tick, up to 1 s). */
static bool before_sleep(mg_loop_t *l, void *arg)
{
    broker_t *b = arg;
    (void)l;
    store_kick(b->store);
    conn_flush_all(b);
    dispatch_pending(b);
    conn_flush_all(b);
    store_kick(b->store);
    return b->dispatch_list != NULL;
}

/* Write the standalone defaults once, as Pulsar standalone does on first start. */
static void bootstrap(broker_t *b)
{
    char key[512], val[1024];
    snprintf(key, sizeof key, "/admin/clusters/%s", b->cfg->cluster_name);
    char *v;
    size_t n;
    if (meta_get(b->meta, key, &v, &n) == 0) {
        mg_free(v);
    } else {
        int k = snprintf(val, sizeof val, "{\"serviceUrl\":\"%s\",\"brokerServiceUrl\":\"%s\"",
                         b->web_url, b->service_url); /* "" for a plain port that is off */
        if (b->web_url_tls[0]) /* ClusterData's TLS URLs, when those ports are on */
            k += snprintf(val + k, sizeof val - (size_t)k, ",\"serviceUrlTls\":\"%s\"", b->web_url_tls);
        if (b->service_url_tls[0])
            k += snprintf(val + k, sizeof val - (size_t)k, ",\"brokerServiceUrlTls\":\"%s\"",
                          b->service_url_tls);
        snprintf(val + k, sizeof val - (size_t)k, "}");
        meta_put(b->meta, key, val, strlen(val), true);
    }
    if (meta_get(b->meta, "/admin/policies/public", &v, &n) == 0) {
        mg_free(v);
        return;
    }
    snprintf(val, sizeof val, "{\"adminRoles\":[],\"allowedClusters\":[\"%s\"]}",
             b->cfg->cluster_name);
    meta_put(b->meta, "/admin/policies/public", val, strlen(val), true);
    snprintf(val, sizeof val, "{\"replication_clusters\":[\"%s\"],\"bundles\":{\"numBundles\":4}}",
             b->cfg->cluster_name);
    meta_put(b->meta, "/admin/policies/public/default", val, strlen(val), true);
    log_info("bootstrap: created cluster %s, tenant public, namespace public/default",
             b->cfg->cluster_name);
}

static void update_rates(broker_t *b, double secs)
{
    const char *k;
    void *v;
    for (size_t it = 0; map_next(&b->topics, &it, &k, NULL, &v);) {
        topic_t *t = v;
        t->rate_in = (double)(t->msg_in - t->last_msg_in) / secs;
        t->tput_in = (double)(t->bytes_in - t->last_bytes_in) / secs;
        t->rate_out = (double)(t->msg_out - t->last_msg_out) / secs;
        t->tput_out = (double)(t->bytes_out - t->last_bytes_out) / secs;
        t->last_msg_in = t->msg_in;
        t->last_bytes_in = t->bytes_in;
        t->last_msg_out = t->msg_out;
        t->last_bytes_out = t->bytes_out;
        void *pv;
        for (size_t j = 0; map_next(&t->producers, &j, NULL, NULL, &pv);) {
            producer_t *p = pv;
            p->rate_in = (double)(p->msg_in - p->last_msg_in) / secs;
            p->tput_in = (double)(p->bytes_in - p->last_bytes_in) / secs;
            p->last_msg_in = p->msg_in;
            p->last_bytes_in = p->bytes_in;
        }
        void *sv;
        for (size_t j = 0; map_next(&t->subs, &j, NULL, NULL, &sv);) {
            subscription_t *s = sv;
            for (consumer_t *c = s->consumers; c; c = c->next_in_sub) {
                c->rate_out = (double)(c->msg_out - c->last_msg_out) / secs;
                c->tput_out = (double)(c->bytes_out - c->last_bytes_out) / secs;
                c->last_msg_out = c->msg_out;
                c->last_bytes_out = c->bytes_out;
            }
        }
    }
}

static int stats_timer(mg_loop_t *l, uint64_t id, void *arg)
{
    update_rates(arg, 5.0);
    return 5000;
}

/* Cursor positions are written without sync on the loop thread; this thread makes them durable
 * when the cursor timer signals (or every 200 ms at most), so the loop never waits on an fsync
 * of the metadata store (under heavy journal I/O one can take hundreds of milliseconds). */
static void *meta_syncer_main(void *arg)
{
    broker_t *b = arg;
    pthread_mutex_lock(&b->meta_sync_mu);
    while (!b->meta_sync_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->meta_sync_cv, &b->meta_sync_mu, &ts);
        if (!b->meta_dirty) continue;
        b->meta_dirty = false;
        pthread_mutex_unlock(&b->meta_sync_mu);
        meta_sync(b->meta);
        pthread_mutex_lock(&b->meta_sync_mu);
    }
    pthread_mutex_unlock(&b->meta_sync_mu);
    return NULL;
}

/* How often acknowledged positions are written: managedLedgerDefaultMarkDeleteRateLimit times
 * a second, as Pulsar rate-limits mark-delete persistence (1/s by default; 0 = no limit, here
 * every 10 ms). A crash can redeliver acks of the last interval (at-least-once), never lose a
 * message. Each write is one LMDB transaction and, through the metadata-sync thread, one
 * fsync that shares the disk with the journal's fdatasyncs, so fewer of them is faster. */
static int cursor_interval_ms(const broker_t *b)
{
    double r = b->cfg->mark_delete_rate_limit;
    if (r <= 0) return 10;
    double ms = 1000.0 / r;
    return ms < 10 ? 10 : ms > 60000 ? 60000 : (int)ms;
}

static int cursor_timer(mg_loop_t *l, uint64_t id, void *arg)
{
    broker_t *b = arg;
    if (b->dirty_subs) {
        subs_flush_dirty(b);
        pthread_mutex_lock(&b->meta_sync_mu);
        b->meta_dirty = true;
        pthread_cond_signal(&b->meta_sync_cv);
        pthread_mutex_unlock(&b->meta_sync_mu);
    }
    return cursor_interval_ms(b);
}

/* Keep-alive: PING a quiet peer; close one that stayed silent for two intervals. A connection
 * whose reading is paused (back-pressure) counts as heard from: its PONGs wait unread. */
static int auth_expiry_timer(mg_loop_t *l, uint64_t id, void *arg)
{
    broker_t *b = arg;
    conn_check_auth_expiry(b);
    return b->cfg->auth_refresh_check_s * 1000;
}

static int keepalive_timer(mg_loop_t *l, uint64_t id, void *arg)
{
    broker_t *b = arg;
    uint64_t now = mg_mono_ms(), iv = (uint64_t)b->cfg->keep_alive_interval_s * 1000;
    conn_t *c = b->conns;
    while (c) {
        conn_t *next = c->next;
        if (c->read_paused) c->last_rx_ms = now; /* we are not listening: silence proves nothing */
        if (now - c->last_rx_ms > 2 * iv) {
            conn_close(c, "keep-alive timeout");
            c = next;
            continue;
        }
        if (now - c->last_rx_ms >= 1000) { /* quiet: give back large buffers */
            buf_trim(&c->in, 65536);
            if (!c->want_write) buf_trim(&c->out, 65536);
        }
        if (now - c->last_rx_ms >= iv && c->connected) {
            Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
            Pulsar__Proto__CommandPing ping = PULSAR__PROTO__COMMAND_PING__INIT;
            cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PING;
            cmd.ping = &ping;
            conn_send_cmd(c, &cmd);
        }
        c = next;
    }
    int ms = b->cfg->keep_alive_interval_s * 1000 / 2;
    return ms > 0 ? ms : 1000;
}

broker_t *broker_new(mg_config_t *cfg, char *err, size_t errlen)
{
    broker_t *b = mg_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = cfg;
    b->listen_fd = -1;
    b->listen_fd_tls = -1;
    b->port_tls = -1;
    b->web_port_tls = -1;
    b->start_ms = mg_now_ms();
    map_init_str(&b->topics);
    map_init_str(&b->ns_cache);
    map_init_u64(&b->conn_by_id);
    b->auth = auth_new(cfg, err, errlen); /* before anything listens: a bad key stops the start */
    if (!b->auth && err[0]) goto fail;
    if (cfg->authorization_enabled && !b->auth)
        log_warn("authorizationEnabled=true without authentication: only what is granted to no "
                 "role is allowed, which is nothing");
    if (mkdir_p(cfg->data_dir)) {
        snprintf(err, errlen, "cannot create data dir %s: %s", cfg->data_dir, strerror(errno));
        goto fail;
    }
    b->loop = loop_new();
    if (!b->loop) {
        snprintf(err, errlen, "cannot create event loop");
        goto fail;
    }
    if (mg_arena_init(&b->arena, 65536)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    mg_pool_init(&b->send_pool, producer_send_ctx_size(), 4096);
    mg_pool_init(&b->pend_pool, sizeof(pending_entry_t), 65536);
    store_opts_t so = {
        .sync_data = cfg->journal_sync_data,
        .group_wait_ms = cfg->journal_max_group_wait_ms,
        .segment_max_bytes = (uint64_t)cfg->max_segment_mb * 1024 * 1024,
        .cache_max_bytes = (uint64_t)cfg->cache_size_mb * 1024 * 1024,
        .recycle_max = cfg->recycled_segments_max,
        .batch_wakeups = true,
    };
    b->store = store_open(cfg->data_dir, &so, err, errlen);
    if (!b->store) goto fail;
    b->meta = meta_open(cfg->data_dir, err, errlen);
    if (!b->meta) goto fail;
    int tls_port = tls_broker_port(cfg);
    const char *host = cfg->advertised_address[0] ? cfg->advertised_address : "localhost";
    if (cfg->broker_service_port >= 0) {
        b->listen_fd = net_listen("brokerServicePort", cfg->bind_address, cfg->broker_service_port,
                                  true, 1024, &b->port, err, errlen);
        if (b->listen_fd < 0) goto fail;
        snprintf(b->service_url, sizeof b->service_url, "pulsar://%s:%d", host, b->port);
    } else if (tls_port < 0) { /* Pulsar's way to serve TLS only: brokerServicePort empty */
        snprintf(err, errlen, "brokerServicePort is empty and brokerServicePortTls is off: no port");
        goto fail;
    } else {
        b->port = -1;
    }
    if (tls_port >= 0) { /* Pulsar's 6651: the same protocol inside TLS */
        b->tls_ctx = tls_server_ctx(cfg, err, errlen);
        if (!b->tls_ctx) goto fail;
        b->listen_fd_tls = net_listen("brokerServicePortTls", cfg->bind_address, tls_port, true, 1024,
                                      &b->port_tls, err, errlen);
        if (b->listen_fd_tls < 0) goto fail;
        snprintf(b->service_url_tls, sizeof b->service_url_tls, "pulsar+ssl://%s:%d", host, b->port_tls);
    }
    b->web_port = cfg->web_service_port;
    if (admin_start(b, err, errlen)) goto fail;
    if (b->web_port >= 0) snprintf(b->web_url, sizeof b->web_url, "http://%s:%d", host, b->web_port);
    bootstrap(b);
    if (b->listen_fd >= 0) loop_fd_add(b->loop, b->listen_fd, LOOP_READ, on_accept, b);
    if (b->listen_fd_tls >= 0) loop_fd_add(b->loop, b->listen_fd_tls, LOOP_READ, on_accept_tls, b);
    loop_fd_add(b->loop, store_event_fd(b->store), LOOP_READ, on_store, b);
    loop_set_before_sleep(b->loop, before_sleep, b);
    loop_timer_add(b->loop, 5000, stats_timer, b);
    pthread_mutex_init(&b->meta_sync_mu, NULL);
    pthread_cond_init(&b->meta_sync_cv, NULL);
    if (pthread_create(&b->meta_syncer, NULL, meta_syncer_main, b) == 0) b->meta_syncer_started = true;
    loop_timer_add(b->loop, cursor_interval_ms(b), cursor_timer, b);
    loop_timer_add(b->loop, 1000, keepalive_timer, b);
    if (b->auth && cfg->auth_refresh_check_s > 0)
        loop_timer_add(b->loop, (uint64_t)cfg->auth_refresh_check_s * 1000, auth_expiry_timer, b);
    admin_timers(b);
    return b;
fail:
    broker_free(b);
    return NULL;
}

int broker_run(broker_t *b)
{
    log_info("magnetar %s standalone: broker %s, web %s, data %s", MG_VERSION, b->service_url,
             b->web_url, b->cfg->data_dir);
    /* A machine-readable line tests wait for. */
    fprintf(stdout, "magnetar ready brokerServicePort=%d webServicePort=%d", b->port, b->web_port);
    if (b->port_tls >= 0) fprintf(stdout, " brokerServicePortTls=%d", b->port_tls);
    if (b->web_port_tls >= 0) fprintf(stdout, " webServicePortTls=%d", b->web_port_tls);
    fputc('\n', stdout);
    fflush(stdout);
    loop_run(b->loop);
    log_info("shutting down");
    return 0;
}

void broker_request_stop(broker_t *b)
{
    b->stopping = true;
    loop_stop_async(b->loop);
}

void broker_free(broker_t *b)
{
    if (!b) return;
    b->stopping = true;
    admin_stop(b);
    if (b->meta_syncer_started) {
        pthread_mutex_lock(&b->meta_sync_mu);
        b->meta_sync_stop = true;
        pthread_cond_signal(&b->meta_sync_cv);
        pthread_mutex_unlock(&b->meta_sync_mu);
        pthread_join(b->meta_syncer, NULL);
        pthread_mutex_destroy(&b->meta_sync_mu);
        pthread_cond_destroy(&b->meta_sync_cv);
    }
    while (b->conns) conn_close(b->conns, "broker shutdown");
    conn_flush_all(b); /* frees the closed connections */
    map_free(&b->conn_by_id);
    if (b->meta) subs_flush_dirty(b);
    const char *k;
    void *v;
    /* topic_close removes the topic from the map: collect first */
    size_t n = map_count(&b->topics), i = 0;
    topic_t **all = mg_calloc(n ? n : 1, sizeof *all);
    for (size_t it = 0; all && map_next(&b->topics, &it, &k, NULL, &v);) all[i++] = v;
    for (size_t j = 0; j < i; j++) topic_close(all[j], false);
    mg_free(all);
    map_free(&b->topics);
    for (size_t it = 0; map_next(&b->ns_cache, &it, &k, NULL, &v);) mg_free(v);
    map_free(&b->ns_cache);
    if (b->store) store_close(b->store);
    if (b->meta) {
        meta_sync(b->meta);
        meta_close(b->meta);
    }
    if (b->listen_fd >= 0) close(b->listen_fd);
    if (b->listen_fd_tls >= 0) close(b->listen_fd_tls);
    tls_ctx_free(b->tls_ctx);
    if (b->loop) loop_free(b->loop);
    mg_arena_destroy(&b->arena);
    mg_pool_destroy(&b->send_pool);
    mg_pool_destroy(&b->pend_pool);
    auth_free(b->auth);
    mg_free(b);
}
