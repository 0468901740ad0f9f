/* conn.c - client connections: accept, read and frame decoding, the command switch, output
 * buffering with back-pressure, CONNECT/PING/PONG, LOOKUP, PARTITIONED_METADATA and
 * GET_TOPICS_OF_NAMESPACE. A malformed frame closes only its own connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "broker/auth.h"
#include "broker/broker.h"
#include "broker/tls.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "storage/ledger.h"

#define OUT_HIGH_WATER (4u << 20) /* stop dispatching to a connection above this */

static void on_conn_event(mg_loop_t *l, int fd, int events, void *arg);
static bool process_input(conn_t *c);
static void on_readable(conn_t *c);

/* A connection's socket holds at most this much not yet sent (TCP_NOTSENT_LOWAT); past it a
 * write returns EAGAIN and the loop waits for EPOLLOUT. Bytes already sent and not yet acked
 * do not count, so a long path still fills its window. Without it, a consumer's socket queued
 * up to its whole send buffer (4 MB here), sent later from pacing timers and the peer's ACKs.
 * Fan-out (c) delivered more with it while the two cores were contended, and the same on an
 * idle machine (docs/design.md); it bounds the kernel memory queued per socket. */
#define SEND_LOWAT (256 << 10)

/* CONNECTED's and AUTH_CHALLENGE's server_version */
#define SERVER_VERSION "Pulsar Server" "-magnetar-" MG_VERSION

static void accept_on(broker_t *b, int listen_fd, struct ssl_ctx_st *tls)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR) log_warn("accept4: %s", strerror(errno));
            return;
        }
        int one = 1, lowat = SEND_LOWAT;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
        conn_t *c = mg_calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->b = b;
        c->id = ++b->next_conn_id;
        c->fd = fd;
        buf_init(&c->in);
        buf_init(&c->out);
        map_init_u64(&c->producers);
        map_init_u64(&c->consumers);
        c->last_rx_ms = mg_mono_ms();
        c->connected_since_ms = mg_now_ms();
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *si = (struct sockaddr_in *)&ss;
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &si->sin_addr, ip, sizeof ip);
            snprintf(c->addr, sizeof c->addr, "/%s:%d", ip, ntohs(si->sin_port));
        } else snprintf(c->addr, sizeof c->addr, "/unknown");
        if ((tls && tls_conn_start(c, tls)) || loop_fd_add(b->loop, fd, LOOP_READ, on_conn_event, c)) {
            if (c->ssl) tls_conn_free(c);
            close(fd);
            mg_free(c);
            continue;
        }
        map_put_u64(&b->conn_by_id, c->id, c);
        c->next = b->conns;
        if (b->conns) b->conns->prev = c;
        b->conns = c;
        b->nconns++;
    }
}

void conn_accept(broker_t *b) { accept_on(b, b->listen_fd, NULL); }

void conn_accept_tls(broker_t *b) { accept_on(b, b->listen_fd_tls, b->tls_ctx); }

void conn_close(conn_t *c, const char *why)
{
    broker_t *b = c->b;
    if (c->closing) return;
    c->closing = true;
    log_debug("closing connection %s: %s", c->addr, why);
    void *v;
    for (size_t it = 0; map_next(&c->producers, &it, NULL, NULL, &v);) producer_close(v, false);
    for (size_t it = 0; map_next(&c->consumers, &it, NULL, NULL, &v);) consumer_close(v, false);
    map_free(&c->producers);
    map_free(&c->consumers);
    map_del_u64(&b->conn_by_id, c->id);
    loop_fd_del(b->loop, c->fd);
    if (c->ssl && c->tls_ready) tls_close_notify(c); /* a clean TLS end, best effort */
    close(c->fd);
    if (c->prev) c->prev->next = c->next;
    else b->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    b->nconns--;
    if (c->in_flush_list) { /* unlink from flush list */
        conn_t **pp = &b->flush_list;
        while (*pp && *pp != c) pp = &(*pp)->next_flush;
        if (*pp) *pp = c->next_flush;
    }
    /* Freed later (conn_flush_all): handlers up the stack may still look at c->closing. */
    c->next = b->dead_conns;
    b->dead_conns = c;
}

/* The entry a payload is being read into, taken off the connection and off the budget of
 * such entries (NULL when none). */
static mg_entry_t *rx_take(conn_t *c)
{
    mg_entry_t *e = c->rx_entry;
    if (e) c->b->rx_direct_bytes -= e->len;
    c->rx_entry = NULL;
    return e;
}

static void conn_free(conn_t *c)
{
    for (size_t i = c->ref_head; i < c->nrefs; i++) {
        entry_unref(c->refs[i].e);
        segfile_unref(c->refs[i].sf);
    }
    mg_free(c->refs);
    entry_unref(rx_take(c));
    buf_free(&c->in);
    buf_free(&c->out);
    mg_free(c->client_version);
    mg_free(c->role);
    if (c->ssl) tls_conn_free(c);
    mg_free(c);
}

static void schedule_flush(conn_t *c)
{
    if (c->in_flush_list) return;
    c->in_flush_list = true;
    c->next_flush = c->b->flush_list;
    c->b->flush_list = c;
}

conn_t *conn_find(broker_t *b, uint64_t id)
{
    return map_get_u64(&b->conn_by_id, id);
}

bool conn_output_full(const conn_t *c)
{
    return buf_readable(&c->out) + c->ref_bytes > OUT_HIGH_WATER;
}

int conn_send_cmd(conn_t *c, const pb_cmd_t *cmd)
{
    if (c->closing) return -1;
    if (frame_write_cmd(&c->out, cmd)) return -1;
    schedule_flush(c);
    return 0;
}

int conn_send_payload(conn_t *c, const pb_cmd_t *cmd, const uint8_t *p, size_t n)
{
    if (c->closing) return -1;
    if (frame_write_cmd_head(&c->out, cmd, n) || buf_append(&c->out, p, n)) return -1;
    schedule_flush(c);
    return 0;
}

/* Entries at least this large go out with sendfile when their file is known: the copy into
 * the socket costs more than the extra system call below this size. */
#define SENDFILE_MIN (16u << 10)

int conn_send_entry(conn_t *c, const pb_cmd_t *cmd, mg_entry_t *e, struct mg_log *log)
{
    if (c->closing) return -1;
    if (c->nrefs == c->caprefs) {
        if (c->ref_head > 0) { /* reuse the written front of the array */
            memmove(c->refs, c->refs + c->ref_head, (c->nrefs - c->ref_head) * sizeof *c->refs);
            c->nrefs -= c->ref_head;
            c->ref_head = 0;
        }
        if (c->nrefs == c->caprefs) {
            size_t n = c->caprefs ? c->caprefs * 2 : 64;
            void *r = mg_realloc(c->refs, n * sizeof *c->refs);
            if (!r) return -1;
            c->refs = r;
            c->caprefs = n;
        }
    }
    if (frame_write_cmd_head(&c->out, cmd, e->len)) return -1;
    struct out_ref *r = &c->refs[c->nrefs];
    r->pos = c->out_base + buf_readable(&c->out);
    r->e = entry_ref(e);
    r->sf = log && !c->ssl && e->len >= SENDFILE_MIN ? log_entry_file(log, e, &r->foff) : NULL;
    c->nrefs++;
    c->ref_bytes += e->len;
    schedule_flush(c);
    return 0;
}

void conn_send_error(conn_t *c, uint64_t request_id, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandError e = PULSAR__PROTO__COMMAND_ERROR__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR;
    cmd.error = &e;
    e.request_id = request_id;
    e.error = err;
    e.message = msg;
    log_debug("%s: error %s: %s", c->addr, server_error_name(err), msg);
    conn_send_cmd(c, &cmd);
}

void conn_send_success(conn_t *c, uint64_t request_id)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSuccess s = PULSAR__PROTO__COMMAND_SUCCESS__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SUCCESS;
    cmd.success = &s;
    s.request_id = request_id;
    conn_send_cmd(c, &cmd);
}

/* Consumers skipped while the output was over the high-water mark get another turn. */
static void wake_blocked_consumers(conn_t *c)
{
    if (!c->output_blocked || conn_output_full(c)) return;
    c->output_blocked = false;
    void *v;
    for (size_t it = 0; map_next(&c->consumers, &it, NULL, NULL, &v);) {
        consumer_t *cs = v;
        if (cs->sub) dispatch_schedule(cs->sub);
    }
}

/* Gather the pending output (command bytes and queued entries, in stream order) into iov, up
 * to the next entry sent from its file (*more: one follows, so the bytes are not pushed yet). */
static int out_iov(conn_t *c, struct iovec *iov, int max, bool *more)
{
    int n = 0;
    uint64_t bpos = c->out_base;
    uint8_t *bptr = buf_head(&c->out);
    size_t i = c->ref_head;
    *more = false;
    for (; i < c->nrefs && n + 2 <= max; i++) {
        struct out_ref *r = &c->refs[i];
        if (r->pos > bpos) {
            iov[n++] = (struct iovec){bptr, (size_t)(r->pos - bpos)};
            bptr += r->pos - bpos;
            bpos = r->pos;
        }
        if (r->sf) {
            *more = true;
            return n;
        }
        uint32_t skip = i == c->ref_head ? c->ref_off : 0;
        iov[n++] = (struct iovec){r->e->data + skip, r->e->len - skip};
    }
    /* command bytes after the last queued entry, once every entry is in the vector */
    size_t rest = buf_readable(&c->out) - (size_t)(bpos - c->out_base);
    if (rest && n < max && i == c->nrefs) iov[n++] = (struct iovec){bptr, rest};
    return n;
}

/* Drop w written bytes from the front of the output stream. */
static void out_consume(conn_t *c, size_t w)
{
    while (w > 0) {
        if (c->ref_head < c->nrefs) {
            struct out_ref *r = &c->refs[c->ref_head];
            if (r->pos > c->out_base) { /* command bytes before the next entry */
                size_t k = (size_t)(r->pos - c->out_base);
                if (k > w) k = w;
                buf_consume(&c->out, k);
                c->out_base += k;
                w -= k;
                continue;
            }
            size_t left = r->e->len - c->ref_off;
            size_t k = left < w ? left : w;
            c->ref_off += (uint32_t)k;
            c->ref_bytes -= k;
            w -= k;
            if (c->ref_off == r->e->len) {
                entry_unref(r->e);
                segfile_unref(r->sf);
                c->ref_head++;
                c->ref_off = 0;
            }
            continue;
        }
        buf_consume(&c->out, w);
        c->out_base += w;
        w = 0;
    }
    if (c->ref_head == c->nrefs) c->ref_head = c->nrefs = 0;
}

static bool out_pending(const conn_t *c)
{
    return buf_readable(&c->out) || c->ref_head < c->nrefs;
}

/* Returns -1 when the connection was closed. */
static int conn_flush(conn_t *c)
{
    struct iovec iov[64];
    if (c->ssl && !c->tls_ready) { /* the handshake first; output waits for it */
        bool ww;
        int h = tls_handshake(c, &ww);
        if (h < 0) {
            conn_close(c, "TLS handshake failed");
            return -1;
        }
        if (!h) {
            if (ww != c->want_write) {
                c->want_write = ww;
                loop_fd_mod(c->b->loop, c->fd, (c->read_paused ? 0 : LOOP_READ) | (ww ? LOOP_WRITE : 0));
            }
            return 0;
        }
    }
    while (out_pending(c)) {
        ssize_t w;
        struct out_ref *r = c->ref_head < c->nrefs ? &c->refs[c->ref_head] : NULL;
        if (r && r->sf && r->pos == c->out_base) { /* a large stored entry: page cache to socket */
            off_t off = (off_t)(r->foff + c->ref_off);
            w = sendfile(c->fd, segfile_fd(r->sf), &off, r->e->len - c->ref_off);
            if (w == 0 || (w < 0 && errno != EINTR && errno != EAGAIN)) {
                /* the file cannot give it (should not happen): send the copy in memory */
                log_warn("%s: sendfile of entry %llu failed (%s); sending from memory", c->addr,
                         (unsigned long long)r->e->entry_id, w == 0 ? "short file" : strerror(errno));
                segfile_unref(r->sf);
                r->sf = NULL;
                continue;
            }
        } else {
            bool more;
            int n = out_iov(c, iov, 64, &more);
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
            w = c->ssl ? tls_writev(c, iov, n) : sendmsg(c->fd, &mh, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        }
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                if (!c->want_write) {
                    c->want_write = true;
                    loop_fd_mod(c->b->loop, c->fd, (c->read_paused ? 0 : LOOP_READ) | LOOP_WRITE);
                }
                wake_blocked_consumers(c);
                return 0;
            }
            conn_close(c, "write error");
            return -1;
        }
        out_consume(c, (size_t)w);
    }
    if (c->want_write) {
        c->want_write = false;
        loop_fd_mod(c->b->loop, c->fd, c->read_paused ? 0 : LOOP_READ);
    }
    wake_blocked_consumers(c);
    return 0;
}

void conn_flush_all(broker_t *b)
{
    while (b->flush_list) {
        conn_t *c = b->flush_list;
        b->flush_list = c->next_flush;
        c->in_flush_list = false;
        if (c->input_waiting) { /* frames left buffered when reading paused */
            c->input_waiting = false;
            if (!c->read_paused && !process_input(c) && c->closing) continue;
        }
        if (c->tls_read_pending && !c->read_paused) {
            c->tls_read_pending = false;
            on_readable(c);
            if (c->closing) continue;
        }
        conn_flush(c);
    }
    while (b->dead_conns) {
        conn_t *c = b->dead_conns;
        b->dead_conns = c->next;
        conn_free(c);
    }
}

void conn_resume_read(conn_t *c)
{
    if (!c->read_paused) return;
    c->read_paused = false;
    loop_fd_mod(c->b->loop, c->fd, LOOP_READ | (c->want_write ? LOOP_WRITE : 0));
    /* Frames already read stay in `in`: the socket may have nothing more to wake the loop
     * for them, so they are handled before the loop sleeps (conn_flush_all). */
    if (buf_readable(&c->in)) {
        c->input_waiting = true;
        schedule_flush(c);
    }
    if (tls_pending(c)) { /* decrypted bytes wait in the TLS layer: read them before sleeping */
        c->tls_read_pending = true;
        schedule_flush(c);
    }
}

/* --- commands handled here --- */

/* Refuse a CONNECT as Pulsar does: an Error with request id -1 and AuthenticationError, then
 * the connection ends. The error is written at once; what the client sent after its CONNECT
 * is read and dropped first, so that closing does not reset the connection under the error. */
static void refuse_connect(conn_t *c, const char *why)
{
    log_warn("%s: authentication failed: %s", c->addr, why);
    conn_send_error(c, (uint64_t)-1, PULSAR__PROTO__SERVER_ERROR__AuthenticationError,
                    "Unable to authenticate: %s", why);
    if (conn_flush(c) < 0) return;
    shutdown(c->fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
    }
    conn_close(c, "authentication failed");
}

/* With authentication on: the role of the CONNECT's credentials (a token), or the anonymous
 * role when it has none. False (and the connection refused) otherwise. */
static bool authenticate(conn_t *c, Pulsar__Proto__CommandConnect *cmd)
{
    const mg_auth_t *a = c->b->auth;
    const char *method = cmd->auth_method_name;
    bool has_data = cmd->has_auth_data && cmd->auth_data.len > 0;
    char role[256], err[300];
    if (!has_data && (!method || !*method || !strcmp(method, "none"))) {
        const char *anon = auth_anonymous_role(a);
        if (!anon) {
            refuse_connect(c, "Authentication required");
            return false;
        }
        c->role = mg_strdup(anon);
        return c->role != NULL;
    }
    if (method && !strcmp(method, "tls")) { /* AuthenticationProviderTls */
        bool ok = auth_tls_enabled(a) && tls_peer_cn(c, role, sizeof role);
        if (auth_tls_enabled(a)) auth_count_tls(a, ok);
        if (!ok) {
            refuse_connect(c, auth_tls_enabled(a) ? "no verified client certificate"
                                                  : "unsupported authentication method 'tls'");
            return false;
        }
        c->role = mg_strdup(role);
        log_debug("%s: authenticated as %s (client certificate)", c->addr, role);
        return c->role != NULL;
    }
    if (!method || strcmp(method, "token")) {
        snprintf(err, sizeof err, "unsupported authentication method '%s'", method ? method : "");
        refuse_connect(c, err);
        return false;
    }
    if (auth_token_check(a, (const char *)cmd->auth_data.data, cmd->auth_data.len,
                         (int64_t)time(NULL), role, sizeof role, &c->auth_exp_s, err, sizeof err) < 0) {
        refuse_connect(c, err);
        return false;
    }
    c->auth_refresh = cmd->feature_flags && cmd->feature_flags->supports_auth_refresh;
    c->role = mg_strdup(role);
    log_debug("%s: authenticated as %s", c->addr, role);
    return c->role != NULL;
}

static void handle_connect(conn_t *c, Pulsar__Proto__CommandConnect *cmd)
{
    if (c->connected) {
        conn_close(c, "duplicate CONNECT");
        return;
    }
    if (c->b->auth && !authenticate(c, cmd)) return;
    c->connected = true;
    c->protocol_version = cmd->has_protocol_version ? cmd->protocol_version : 0;
    mg_free(c->client_version);
    c->client_version = mg_strdup(cmd->client_version ? cmd->client_version : "");
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConnected cd = PULSAR__PROTO__COMMAND_CONNECTED__INIT;
    Pulsar__Proto__FeatureFlags ff = PULSAR__PROTO__FEATURE_FLAGS__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED;
    out.connected = &cd;
    cd.server_version = SERVER_VERSION;
    cd.has_protocol_version = 1;
    /* negotiate: the lower of the client's and ours */
    cd.protocol_version = c->protocol_version < MG_PROTOCOL_VERSION ? c->protocol_version
                                                                    : MG_PROTOCOL_VERSION;
    cd.has_max_message_size = 1;
    cd.max_message_size = c->b->cfg->max_message_size;
    ff.has_supports_auth_refresh = 1;
    ff.supports_auth_refresh = c->b->auth != NULL; /* expired tokens are challenged */
    cd.feature_flags = &ff;
    conn_send_cmd(c, &out);
}

/* AUTH_RESPONSE to our challenge: a new token for the same role keeps the connection (with its
 * new expiry), anything else ends it, as Pulsar does. */
static void handle_auth_response(conn_t *c, Pulsar__Proto__CommandAuthResponse *cmd)
{
    const mg_auth_t *a = c->b->auth;
    Pulsar__Proto__AuthData *d = cmd->response;
    char role[256], err[300];
    int64_t exp = 0;
    if (!a || !c->role) {
        conn_close(c, "unexpected AUTH_RESPONSE");
        return;
    }
    if (!d || !d->auth_method_name || strcmp(d->auth_method_name, "token") || !d->has_auth_data ||
        auth_token_check(a, (const char *)d->auth_data.data, d->auth_data.len, (int64_t)time(NULL),
                         role, sizeof role, &exp, err, sizeof err) < 0) {
        log_warn("%s: refreshed credentials of %s refused; closing", c->addr, c->role);
        conn_close(c, "authentication refresh failed");
        return;
    }
    if (strcmp(role, c->role)) {
        log_warn("%s: refreshed credentials name %s, not %s; closing", c->addr, role, c->role);
        conn_close(c, "authentication refresh changed the role");
        return;
    }
    c->auth_exp_s = exp;
    c->challenged_ms = 0;
    log_info("%s: credentials of %s refreshed", c->addr, role);
}

void conn_check_auth_expiry(broker_t *b)
{
    int64_t now_s = (int64_t)time(NULL);
    uint64_t now_ms = mg_mono_ms(), grace = (uint64_t)b->cfg->auth_refresh_check_s * 1000;
    for (conn_t *c = b->conns, *next; c; c = next) {
        next = c->next;
        if (!c->auth_exp_s || now_s < c->auth_exp_s || c->closing) continue;
        if (!c->auth_refresh) {
            log_info("%s: the token of %s expired; closing (the client cannot refresh it)", c->addr,
                     c->role ? c->role : "");
            conn_close(c, "authentication data expired");
        } else if (!c->challenged_ms) {
            Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
            Pulsar__Proto__CommandAuthChallenge ch = PULSAR__PROTO__COMMAND_AUTH_CHALLENGE__INIT;
            Pulsar__Proto__AuthData ad = PULSAR__PROTO__AUTH_DATA__INIT;
            out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__AUTH_CHALLENGE;
            out.authchallenge = &ch;
            ch.server_version = SERVER_VERSION;
            ch.has_protocol_version = 1;
            ch.protocol_version = c->protocol_version;
            ch.challenge = &ad;
            ad.auth_method_name = "token";
            ad.has_auth_data = 1;
            ad.auth_data.data = (uint8_t *)"refresh"; /* Pulsar's AuthData.REFRESH_AUTH_DATA */
            ad.auth_data.len = 7;
            conn_send_cmd(c, &out);
            c->challenged_ms = now_ms ? now_ms : 1;
        } else if (now_ms - c->challenged_ms >= grace) {
            log_info("%s: no refreshed credentials from %s; closing", c->addr, c->role ? c->role : "");
            conn_close(c, "authentication refresh timed out");
        }
    }
}

static void send_lookup_response(conn_t *c, uint64_t rid, int type, int err, const char *msg)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandLookupTopicResponse r = PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP_RESPONSE;
    out.lookuptopicresponse = &r;
    r.request_id = rid;
    r.has_response = 1;
    r.response = type;
    if (type == PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Connect) {
        r.brokerserviceurl = c->b->service_url[0] ? c->b->service_url : NULL; /* NULL: TLS only */
        if (c->b->service_url_tls[0]) r.brokerserviceurltls = c->b->service_url_tls;
        r.has_authoritative = 1;
        r.authoritative = 1;
        r.has_proxy_through_service_url = 1;
        r.proxy_through_service_url = 0;
    } else {
        r.has_error = 1;
        r.error = err;
        r.message = (char *)msg;
    }
    conn_send_cmd(c, &out);
}

/* What LOOKUP and PARTITIONED_METADATA check first: the name parses, its namespace exists, the
 * role may produce or consume there. 0, or the ServerError code with the reason in err
 * (`what`: the operation, for the authorization message). */
static int lookup_check(conn_t *c, const char *topic, const char *what, mg_topic_name_t *tn,
                        char *err, size_t errlen)
{
    if (topic_name_parse(topic, tn, err, errlen))
        return PULSAR__PROTO__SERVER_ERROR__InvalidTopicName;
    if (!namespace_exists(c->b, tn->tenant, tn->ns)) {
        snprintf(err, errlen, "Namespace %s/%s does not exist", tn->tenant, tn->ns);
        return PULSAR__PROTO__SERVER_ERROR__TopicNotFound;
    }
    if (!auth_can(c->b, c->role, tn->full, AUTH_PRODUCE | AUTH_CONSUME)) {
        snprintf(err, errlen, "Client is not authorized to %s %s", what, tn->full);
        return PULSAR__PROTO__SERVER_ERROR__AuthorizationError;
    }
    return 0;
}

static void handle_lookup(conn_t *c, Pulsar__Proto__CommandLookupTopic *cmd)
{
    mg_topic_name_t tn;
    char err[300];
    int code = lookup_check(c, cmd->topic, "Lookup topic", &tn, err, sizeof err);
    if (code) {
        send_lookup_response(c, cmd->request_id,
                             PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Failed, code,
                             err);
        return;
    }
    /* Standalone: this broker owns every bundle, so the answer is always "connect here". */
    send_lookup_response(c, cmd->request_id,
                         PULSAR__PROTO__COMMAND_LOOKUP_TOPIC_RESPONSE__LOOKUP_TYPE__Connect, 0,
                         NULL);
}

static void handle_partitioned_metadata(conn_t *c, Pulsar__Proto__CommandPartitionedTopicMetadata *cmd)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandPartitionedTopicMetadataResponse r =
        PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA_RESPONSE;
    out.partitionmetadataresponse = &r;
    r.request_id = cmd->request_id;
    r.has_response = 1;
    mg_topic_name_t tn;
    char err[300];
    int code = lookup_check(c, cmd->topic, "get the partitions of", &tn, err, sizeof err);
    if (code) {
        r.response = PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA_RESPONSE__LOOKUP_TYPE__Failed;
        r.has_error = 1;
        r.error = code;
        r.message = err;
        conn_send_cmd(c, &out);
        return;
    }
    int n = tn.partition >= 0 ? -1 : topic_partitions(c->b, tn.full);
    if (n < 0 && tn.partition < 0 && c->b->cfg->allow_auto_topic_creation &&
        !strcmp(c->b->cfg->auto_topic_creation_type, "partitioned") && !topic_exists(c->b, &tn)) {
        /* auto-create as partitioned, as Pulsar does with allowAutoTopicCreationType=partitioned */
        if (!topic_set_partitions(c->b, tn.full, c->b->cfg->default_num_partitions))
            n = c->b->cfg->default_num_partitions;
    }
    r.response = PULSAR__PROTO__COMMAND_PARTITIONED_TOPIC_METADATA_RESPONSE__LOOKUP_TYPE__Success;
    r.has_partitions = 1;
    r.partitions = n > 0 ? (uint32_t)n : 0;
    conn_send_cmd(c, &out);
}

/* Topics of a namespace as full names, gathered from the topic registry
 * (/topics/<tenant>/<ns>/<local>: every non-partitioned topic and partition with a log). */
typedef struct topics_list {
    char **names;
    size_t n, cap;
    const char *tenant, *ns;
    size_t prefix_len;
} topics_list_t;

static int collect_topic(void *arg, const char *key, const char *val, size_t len)
{
    topics_list_t *tl = arg;
    if (tl->n == tl->cap) {
        size_t cap = tl->cap ? tl->cap * 2 : 16;
        char **nn = mg_realloc(tl->names, cap * sizeof *nn);
        if (!nn) return 1;
        tl->names = nn;
        tl->cap = cap;
    }
    char full[1200];
    snprintf(full, sizeof full, "persistent://%s/%s/%s", tl->tenant, tl->ns, key + tl->prefix_len);
    tl->names[tl->n++] = mg_strdup(full);
    return 0;
}

static void handle_get_topics(conn_t *c, Pulsar__Proto__CommandGetTopicsOfNamespace *cmd)
{
    char tenant[MG_NAME_MAX], ns[MG_NAME_MAX];
    const char *slash = cmd->namespace_ ? strchr(cmd->namespace_, '/') : NULL;
    if (!slash || (size_t)(slash - cmd->namespace_) >= sizeof tenant || strlen(slash + 1) >= sizeof ns) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__MetadataError,
                        "Invalid namespace name '%s'", cmd->namespace_ ? cmd->namespace_ : "");
        return;
    }
    snprintf(tenant, sizeof tenant, "%.*s", (int)(slash - cmd->namespace_), cmd->namespace_);
    snprintf(ns, sizeof ns, "%s", slash + 1);
    if (!namespace_exists(c->b, tenant, ns)) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__MetadataError,
                        "Namespace %s/%s does not exist", tenant, ns);
        return;
    }
    if (!auth_ns_granted(c->b, c->role, tenant, ns, AUTH_PRODUCE | AUTH_CONSUME) &&
        !auth_is_tenant_admin(c->b, c->role, tenant)) {
        conn_send_error(c, cmd->request_id, PULSAR__PROTO__SERVER_ERROR__AuthorizationError,
                        "Client is not authorized to list the topics of %s/%s", tenant, ns);
        return;
    }
    char prefix[600];
    snprintf(prefix, sizeof prefix, "/topics/%s/%s/", tenant, ns);
    topics_list_t tl = {.tenant = tenant, .ns = ns, .prefix_len = strlen(prefix)};
    meta_list(c->b->meta, prefix, collect_topic, &tl);
    char **names = tl.names;
    size_t n = tl.n;
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetTopicsOfNamespaceResponse r =
        PULSAR__PROTO__COMMAND_GET_TOPICS_OF_NAMESPACE_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_TOPICS_OF_NAMESPACE_RESPONSE;
    out.gettopicsofnamespaceresponse = &r;
    r.request_id = cmd->request_id;
    r.n_topics = n;
    r.topics = names;
    r.has_filtered = 1;
    r.filtered = 0;
    r.has_changed = 1;
    r.changed = 1;
    conn_send_cmd(c, &out);
    for (size_t i = 0; i < n; i++) mg_free(names[i]);
    mg_free(names);
}

static void handle_frame(conn_t *c, frame_t *f)
{
    pb_cmd_t *cmd = f->cmd;
    if (!c->connected && cmd->type != PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT) {
        conn_close(c, "command before CONNECT");
        return;
    }
#define NEED(field)                                                                                \
    if (!cmd->field) {                                                                             \
        conn_close(c, "command without its body");                                                 \
        return;                                                                                    \
    }
    switch (cmd->type) {
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT:
        NEED(connect);
        handle_connect(c, cmd->connect);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PING: {
        Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandPong pong = PULSAR__PROTO__COMMAND_PONG__INIT;
        out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PONG;
        out.pong = &pong;
        conn_send_cmd(c, &out);
        break;
    }
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PONG:
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP:
        NEED(lookuptopic);
        handle_lookup(c, cmd->lookuptopic);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA:
        NEED(partitionmetadata);
        handle_partitioned_metadata(c, cmd->partitionmetadata);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_TOPICS_OF_NAMESPACE:
        NEED(gettopicsofnamespace);
        handle_get_topics(c, cmd->gettopicsofnamespace);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER:
        NEED(producer);
        handle_producer(c, cmd->producer);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SEND:
        NEED(send);
        handle_send(c, cmd->send, f->payload, f->payload_len);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_PRODUCER:
        NEED(close_producer);
        handle_close_producer(c, cmd->close_producer);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SUBSCRIBE:
        NEED(subscribe);
        handle_subscribe(c, cmd->subscribe);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW:
        NEED(flow);
        handle_flow(c, cmd->flow);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__ACK:
        NEED(ack);
        handle_ack(c, cmd->ack);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__REDELIVER_UNACKNOWLEDGED_MESSAGES:
        NEED(redeliverunacknowledgedmessages);
        handle_redeliver(c, cmd->redeliverunacknowledgedmessages);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__UNSUBSCRIBE:
        NEED(unsubscribe);
        handle_unsubscribe(c, cmd->unsubscribe);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_CONSUMER:
        NEED(close_consumer);
        handle_close_consumer(c, cmd->close_consumer);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SEEK:
        NEED(seek);
        handle_seek(c, cmd->seek);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID:
        NEED(getlastmessageid);
        handle_get_last_message_id(c, cmd->getlastmessageid);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CONSUMER_STATS:
        NEED(consumerstats);
        handle_consumer_stats(c, cmd->consumerstats);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_SCHEMA:
        NEED(getschema);
        handle_get_schema(c, cmd->getschema);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_OR_CREATE_SCHEMA:
        NEED(getorcreateschema);
        handle_get_or_create_schema(c, cmd->getorcreateschema);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__TC_CLIENT_CONNECT_REQUEST:
        NEED(tcclientconnectrequest);
        {
            Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
            Pulsar__Proto__CommandTcClientConnectResponse r =
                PULSAR__PROTO__COMMAND_TC_CLIENT_CONNECT_RESPONSE__INIT;
            out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__TC_CLIENT_CONNECT_RESPONSE;
            out.tcclientconnectresponse = &r;
            r.request_id = cmd->tcclientconnectrequest->request_id;
            r.has_error = 1;
            r.error = PULSAR__PROTO__SERVER_ERROR__NotAllowedError;
            r.message = "Transactions are not supported by this broker";
            conn_send_cmd(c, &out);
        }
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__AUTH_RESPONSE:
        NEED(authresponse);
        handle_auth_response(c, cmd->authresponse);
        break;
    default:
        log_debug("%s: ignoring unsupported command %s (%d)", c->addr, cmd_type_name(cmd->type),
                  cmd->type);
        break;
    }
#undef NEED
}

/* A SEND larger than the limit: answer SEND_ERROR and skip its bytes instead of buffering
 * them, so the producer's connection survives (Pulsar's clients check the size themselves;
 * this catches the ones that do not). Returns true when it started skipping a frame. */
static bool refuse_oversized_send(conn_t *c, uint32_t max_frame)
{
    size_t avail = buf_readable(&c->in);
    if (avail < 8) return false;
    const uint8_t *p = buf_head(&c->in);
    uint32_t total = rd_u32be(p), csize = rd_u32be(p + 4);
    if (total <= max_frame || csize == 0 || csize > 65536 || csize > total - 4) return false;
    if (avail < 8 + (size_t)csize) return false; /* wait for the whole command */
    pb_cmd_t *cmd = pulsar__proto__base_command__unpack(NULL, csize, p + 8);
    if (!cmd) return false;
    bool is_send = cmd->type == PULSAR__PROTO__BASE_COMMAND__TYPE__SEND && cmd->send;
    if (is_send) {
        char msg[160];
        snprintf(msg, sizeof msg, "Message of %u bytes exceeds maxMessageSize (%d bytes)", total,
                 c->b->cfg->max_message_size);
        Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandSendError e = PULSAR__PROTO__COMMAND_SEND_ERROR__INIT;
        out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_ERROR;
        out.send_error = &e;
        e.producer_id = cmd->send->producer_id;
        e.sequence_id = cmd->send->sequence_id;
        e.error = PULSAR__PROTO__SERVER_ERROR__NotAllowedError;
        e.message = msg;
        conn_send_cmd(c, &out);
        log_warn("%s: %s", c->addr, msg);
        c->discard = (uint64_t)total + 4;
    }
    pulsar__proto__base_command__free_unpacked(cmd, NULL);
    return is_send;
}

/* A frame whose payload is at least this large, and not all read yet, has the rest of it read
 * straight into an entry (conn_t.rx_entry): a SEND's bytes then go to storage and to the
 * subscriptions without being copied (with 100 KB batches, that copy was most of the broker's
 * instructions per message). A smaller payload is copied: less than the bookkeeping. */
#define RX_DIRECT_MIN (16u << 10)
#define RX_AFTER_DIRECT 4096 /* bytes read into `in` behind a payload read apart */
/* An entry is allocated at the size a frame's head announces, before its bytes arrive: all
 * connections together hold at most this much so (a peer that announces large frames and
 * stalls gets no more); past it, frames are buffered as their bytes come. */
#define RX_DIRECT_BUDGET ((uint64_t)64 << 20)

/* frame_decode_in asked for more bytes: when the frame's command is in and its payload is
 * large, move the payload bytes read so far into a new entry and have the rest read there.
 * True when it did; false leaves the frame to be buffered whole. */
static bool rx_direct_start(conn_t *c)
{
    size_t avail = buf_readable(&c->in);
    if (avail < 8) return false;
    const uint8_t *p = buf_head(&c->in);
    /* frame_decode_in has checked totalSize against the limit and commandSize against it */
    uint32_t total = rd_u32be(p), csize = rd_u32be(p + 4);
    size_t hdr = 8 + (size_t)csize, plen = (size_t)total - 4 - csize;
    if (avail < hdr || plen < RX_DIRECT_MIN) return false;
    if (c->b->rx_direct_bytes + plen > RX_DIRECT_BUDGET) return false;
    mg_entry_t *e = entry_alloc((uint32_t)plen);
    if (!e) return false;
    size_t have = avail - hdr; /* < plen: the frame is not complete */
    memcpy(e->data, p + hdr, have);
    c->in.len -= have;
    c->rx_entry = e;
    c->b->rx_direct_bytes += plen;
    c->rx_have = (uint32_t)have;
    return true;
}

/* Handle the complete frames buffered in `in`. False when the caller must stop: the
 * connection closed, or reading paused (back-pressure; conn_resume_read comes back here). */
static bool process_input(conn_t *c)
{
    uint32_t max_frame = (uint32_t)c->b->cfg->max_message_size + MG_FRAME_OVERHEAD;
    for (;;) {
        if (c->discard) { /* skipping the rest of an oversized SEND */
            size_t n = buf_readable(&c->in) < c->discard ? buf_readable(&c->in) : c->discard;
            buf_consume(&c->in, n);
            c->discard -= n;
            if (c->discard) return true;
            continue;
        }
        mg_entry_t *held = NULL; /* the frame's payload, read apart (rx_direct_start) */
        if (c->rx_entry) {
            if (c->rx_have < c->rx_entry->len) return true;
            held = rx_take(c);
        } else if (refuse_oversized_send(c, max_frame)) {
            continue;
        }
        frame_t f;
        char err[200];
        mg_arena_t *arena = &c->b->arena;
        mg_arena_mark_t mark = mg_arena_mark(arena);
        ssize_t n = held ? frame_decode_split(buf_head(&c->in), buf_readable(&c->in), held->data,
                                              held->len, max_frame, &f, err, sizeof err, arena)
                         : frame_decode_in(buf_head(&c->in), buf_readable(&c->in), max_frame, &f,
                                           err, sizeof err, arena);
        if (n <= 0) mg_arena_release(arena, mark);
        if (n == 0 && !held) {
            if (rx_direct_start(c)) continue;
            return true;
        }
        if (n <= 0) {
            if (n == 0) snprintf(err, sizeof err, "frame head lost"); /* cannot happen */
            entry_unref(held);
            log_warn("%s: bad frame: %s; closing connection", c->addr, err);
            conn_close(c, err);
            return false;
        }
        size_t in_bytes = (size_t)n - (held ? held->len : 0); /* of `in`: the head only, if held */
        c->rx_frame_entry = held;
        handle_frame(c, &f);
        c->rx_frame_entry = NULL;
        frame_release(&f);
        mg_arena_release(arena, mark); /* the command decoded for this frame, and all it held */
        entry_unref(held);
        if (c->closing) return false; /* the handler closed the connection */
        buf_consume(&c->in, in_bytes);
        if (c->read_paused) return false;
    }
}

static void on_readable(conn_t *c)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (buf_reserve(&c->in, 65536)) {
            conn_close(c, "out of memory");
            return;
        }
        /* The rest of a payload being read apart first, then what follows it: only a little
         * of that, so that the next large frame's head is read here and its payload, again,
         * into its own entry (a whole 100 KB frame read into `in` would be copied). */
        struct iovec iov[2];
        int niov = 0;
        size_t need = c->rx_entry ? c->rx_entry->len - c->rx_have : 0;
        size_t room = c->in.cap - c->in.len;
        if (need) {
            iov[niov++] = (struct iovec){c->rx_entry->data + c->rx_have, need};
            if (room > RX_AFTER_DIRECT) room = RX_AFTER_DIRECT;
        }
        iov[niov++] = (struct iovec){c->in.data + c->in.len, room};
        size_t want = need + room;
        if (c->ssl && !c->tls_ready) {
            if (conn_flush(c)) return; /* the handshake (closes on failure) */
            if (!c->tls_ready) return;
        }
        ssize_t r = c->ssl ? tls_readv(c, iov, niov) : readv(c->fd, iov, niov);
        if (r == 0) {
            conn_close(c, "peer closed");
            return;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            conn_close(c, "read error");
            return;
        }
        size_t to_entry = (size_t)r < need ? (size_t)r : need;
        c->rx_have += (uint32_t)to_entry;
        c->in.len += (size_t)r - to_entry;
        c->last_rx_ms = mg_mono_ms();
        if (!process_input(c)) return;
        if ((size_t)r < want) break;
    }
    if (tls_pending(c) && !c->read_paused) { /* 16 rounds ended with input left in TLS */
        c->tls_read_pending = true;
        schedule_flush(c);
    }
}

static void on_conn_event(mg_loop_t *l, int fd, int events, void *arg)
{
    conn_t *c = arg;
    if (events & LOOP_WRITE) {
        if (conn_flush(c)) return;
    }
    if (events & LOOP_READ) on_readable(c);
}
