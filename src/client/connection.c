/* connection.c - one TCP connection per broker, shared by every producer and consumer of the
 * client that lives on that broker: blocking connect with a timeout (on the caller's thread;
 * for pulsar+ssl clients the TLS handshake too, tls.c), CONNECT/CONNECTED handshake, frame
 * decoding and dispatch on the I/O thread, request/response matching by request_id,
 * keep-alive PING/PONG, and failure propagation (pending requests fail, producers and
 * consumers go to reconnect). All functions expect cl->lock held. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/internal.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

#define DEFAULT_MAX_MESSAGE (5 * 1024 * 1024)

static int tcp_connect(const char *host, int port, int timeout_ms)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) || !res) return -1;
    int fd = -1;
    uint64_t deadline = mg_mono_ms() + (uint64_t)timeout_ms;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc && errno == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            uint64_t now = mg_mono_ms();
            int left = now < deadline ? (int)(deadline - now) : 0;
            if (poll(&pf, 1, left) == 1) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
                rc = err ? -1 : 0;
            }
        }
        if (rc == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static void conn_unlink_locked(conn_t *c)
{
    struct mg_client *cl = c->cl;
    for (conn_t **pp = &cl->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            c->next = cl->dead;
            cl->dead = c;
            return;
        }
}

void conn_free(conn_t *c)
{
    tls_free(c->ssl, false);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    map_free(&c->producers);
    map_free(&c->consumers);
    map_free(&c->reqs);
    mg_free(c);
}

/* The token of conf.auth_token_file as it is now (first line, white space trimmed), into buf;
 * NULL when it cannot be read (the broker then refuses, and says why). */
static const char *token_from_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_warn("client: cannot read the token file %s", path);
        return NULL;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = buf;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    size_t len = strcspn(p, "\r\n");
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    p[len] = 0;
    return p;
}

/* The credentials to send now, into a CONNECT's or AUTH_RESPONSE's auth_data (left unset when
 * there are none): the token file's content (into buf), or the configured data. */
static void set_auth_data(struct mg_client *cl, char *buf, size_t cap, protobuf_c_boolean *has,
                          ProtobufCBinaryData *d)
{
    const char *t = cl->auth_token_file ? token_from_file(cl->auth_token_file, buf, cap) : NULL;
    if (t && *t) {
        *has = 1;
        *d = (ProtobufCBinaryData){strlen(t), (uint8_t *)t};
    } else if (!cl->auth_token_file && cl->auth_data) {
        *has = 1;
        *d = (ProtobufCBinaryData){cl->conf.auth_data_len, cl->auth_data};
    }
}

static void send_connect_locked(conn_t *c)
{
    struct mg_client *cl = c->cl;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConnect cc = PULSAR__PROTO__COMMAND_CONNECT__INIT;
    Pulsar__Proto__FeatureFlags ff = PULSAR__PROTO__FEATURE_FLAGS__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT;
    cmd.connect = &cc;
    cc.client_version = MG_CLIENT_VERSION;
    cc.has_protocol_version = 1;
    cc.protocol_version = 20;
    cc.auth_method_name = cl->auth_method ? cl->auth_method : "none";
    char tok[16384];
    set_auth_data(cl, tok, sizeof tok, &cc.has_auth_data, &cc.auth_data);
    ff.has_supports_broker_entry_metadata = 1;
    ff.supports_broker_entry_metadata = 1;
    /* a token can be asked for again when it expires (AUTH_CHALLENGE, answered below) */
    ff.has_supports_auth_refresh = 1;
    ff.supports_auth_refresh = cl->auth_method && !strcmp(cl->auth_method, "token");
    cc.feature_flags = &ff;
    conn_send_cmd_locked(c, &cmd);
}

/* AUTH_CHALLENGE: answer with the token as it is now (a rotated token file's new one). */
static void answer_auth_challenge_locked(conn_t *c)
{
    struct mg_client *cl = c->cl;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandAuthResponse ar = PULSAR__PROTO__COMMAND_AUTH_RESPONSE__INIT;
    Pulsar__Proto__AuthData ad = PULSAR__PROTO__AUTH_DATA__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__AUTH_RESPONSE;
    cmd.authresponse = &ar;
    ar.client_version = MG_CLIENT_VERSION;
    ar.has_protocol_version = 1;
    ar.protocol_version = 20;
    ar.response = &ad;
    ad.auth_method_name = cl->auth_method ? cl->auth_method : "none";
    char tok[16384];
    set_auth_data(cl, tok, sizeof tok, &ad.has_auth_data, &ad.auth_data);
    log_debug("client: %s asked for credentials again; answered", c->addr);
    conn_send_cmd_locked(c, &cmd);
}

mg_result conn_get_locked(struct mg_client *cl, const char *host, int port, conn_t **out)
{
    char addr[300];
    snprintf(addr, sizeof addr, "%s:%d", host, port);
    uint64_t deadline = deadline_after(cl->conf.connection_timeout_ms);
    for (;;) {
        if (cl->stopping) return MG_ERR_ALREADY_CLOSED;
        conn_t *c = NULL;
        for (conn_t *x = cl->conns; x; x = x->next)
            if (!strcmp(x->addr, addr) && x->state != CONN_CLOSED) c = x;
        if (c && c->state == CONN_READY) {
            *out = c;
            return MG_OK;
        }
        if (c) { /* another thread is connecting it */
            if (!cl_wait_locked(cl, deadline)) return MG_ERR_TIMEOUT;
            continue;
        }
        c = mg_calloc(1, sizeof *c);
        if (!c) return MG_ERR_NO_MEMORY;
        c->cl = cl;
        snprintf(c->addr, sizeof c->addr, "%s", addr);
        snprintf(c->host, sizeof c->host, "%s", host);
        c->port = port;
        c->fd = -1;
        c->state = CONN_CONNECTING;
        c->max_message_size = DEFAULT_MAX_MESSAGE;
        buf_init(&c->in);
        buf_init(&c->out);
        map_init_u64(&c->producers);
        map_init_u64(&c->consumers);
        map_init_u64(&c->reqs);
        c->next = cl->conns;
        cl->conns = c;
        pthread_mutex_unlock(&cl->lock);
        int fd = tcp_connect(host, port, cl->conf.connection_timeout_ms);
        struct ssl_st *ssl = NULL;
        char tls_err[256] = "";
        if (fd >= 0 && cl->tls) { /* the handshake, within what is left of the timeout */
            ssl = tls_handshake(cl, fd, host, port, deadline, tls_err, sizeof tls_err);
            if (!ssl) {
                close(fd);
                fd = -1;
            }
        }
        pthread_mutex_lock(&cl->lock);
        if (fd < 0 || cl->stopping) {
            tls_free(ssl, false);
            if (fd >= 0) close(fd);
            if (tls_err[0] && !cl->stopping) {
                /* a TLS failure will not go away by retrying: say why, once */
                log_warn("client: %s", tls_err);
                snprintf(c->errmsg, sizeof c->errmsg, "%s", tls_err);
                client_set_error(tls_err);
            } else {
                log_debug("client: cannot connect to %s", addr);
            }
            conn_fail_locked(c, MG_ERR_CONNECT);
            return cl->stopping ? MG_ERR_ALREADY_CLOSED : MG_ERR_CONNECT;
        }
        c->fd = fd;
        c->ssl = ssl;
        c->last_recv_ms = mg_mono_ms();
        send_connect_locked(c);
        cl_wake(cl);
        while (c->state == CONN_CONNECTING)
            if (!cl_wait_locked(cl, deadline)) break;
        if (c->state == CONN_READY) {
            *out = c;
            return MG_OK;
        }
        mg_result r = c->state == CONN_CLOSED ? c->err : MG_ERR_TIMEOUT;
        if (c->state != CONN_CLOSED) conn_fail_locked(c, MG_ERR_TIMEOUT);
        if (c->errmsg[0]) client_set_error(c->errmsg); /* refused: the broker's or TLS's reason */
        return r ? r : MG_ERR_CONNECT;
    }
}

/* Remember why a TLS connection failed while CONNECT was pending, for the caller waiting on it. */
static void conn_tls_error(conn_t *c, const char *err)
{
    if (c->state == CONN_CONNECTING && !c->errmsg[0])
        snprintf(c->errmsg, sizeof c->errmsg, "TLS connection to %s failed: %s", c->addr, err);
    log_warn("client: TLS connection to %s failed: %s", c->addr, err);
}

/* Send what the socket (or the TLS session) takes of p[0..n) without blocking. Returns the
 * bytes sent; when that is less than n, errno tells why (EAGAIN: full). With TLS, bytes the
 * session did not take after EAGAIN must be offered again first (connection.c's out buffer). */
static size_t send_nowait(conn_t *c, const uint8_t *p, size_t n)
{
    size_t done = 0;
    while (c->ssl && done < n) {
        char err[256];
        long w = tls_send(c->ssl, p + done, n - done, err, sizeof err);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (errno != EAGAIN) {
            /* a broker that refuses the handshake after it completed on our side (TLS 1.3:
             * our certificate) sends an alert; a reset on writing may hide it, so look */
            char rerr[256] = "";
            uint8_t scratch[1024];
            if (c->state == CONN_CONNECTING &&
                tls_recv(c->ssl, scratch, sizeof scratch, rerr, sizeof rerr) < 0 &&
                errno != EAGAIN && strstr(rerr, "alert"))
                snprintf(err, sizeof err, "%s", rerr);
            conn_tls_error(c, err);
            errno = EPIPE;
        }
        return done;
    }
    while (done < n) {
        ssize_t w = send(c->fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) done += (size_t)w;
        else if (w < 0 && errno == EINTR) continue;
        else break;
    }
    return done;
}

void conn_flush_locked(conn_t *c)
{
    if (c->fd < 0 || !buf_readable(&c->out)) return;
    buf_consume(&c->out, send_nowait(c, buf_head(&c->out), buf_readable(&c->out)));
    if (!buf_readable(&c->out)) {
        buf_reset(&c->out);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        cl_wake(c->cl); /* let the I/O thread poll for POLLOUT */
    } else {
        conn_fail_locked(c, MG_ERR_CONNECT);
    }
}

int conn_send_raw_locked(conn_t *c, const void *p, size_t n)
{
    if (c->state == CONN_CLOSED) return -1;
    if (c->fd >= 0 && !buf_readable(&c->out)) {
        /* nothing queued before these bytes: send them from where they are, and queue (copy)
         * only what the socket does not take now */
        size_t w = send_nowait(c, p, n);
        if (w == n) return 0;
        p = (const uint8_t *)p + w;
        n -= w;
    }
    if (buf_append(&c->out, p, n)) return -1;
    if (c->fd >= 0) conn_flush_locked(c);
    return 0;
}

int conn_send_cmd_locked(conn_t *c, const pb_cmd_t *cmd)
{
    if (c->state == CONN_CLOSED) return -1;
    if (frame_write_cmd(&c->out, cmd)) return -1;
    if (c->fd >= 0) conn_flush_locked(c);
    return 0;
}

static void set_request_id(pb_cmd_t *cmd, uint64_t id)
{
    switch (cmd->type) {
    case PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP: cmd->lookuptopic->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA: cmd->partitionmetadata->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER: cmd->producer->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SUBSCRIBE: cmd->subscribe->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_PRODUCER: cmd->close_producer->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_CONSUMER: cmd->close_consumer->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__UNSUBSCRIBE: cmd->unsubscribe->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SEEK: cmd->seek->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID: cmd->getlastmessageid->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_TOPICS_OF_NAMESPACE: cmd->gettopicsofnamespace->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_SCHEMA: cmd->getschema->request_id = id; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__ACK:
        cmd->ack->has_request_id = 1;
        cmd->ack->request_id = id;
        break;
    default: break;
    }
}

mg_result conn_rpc_locked(conn_t *c, const pb_cmd_t *cmdc, req_t *r, int timeout_ms)
{
    struct mg_client *cl = c->cl;
    pb_cmd_t *cmd = (pb_cmd_t *)cmdc;
    memset(r, 0, sizeof *r);
    if (c->state != CONN_READY) return MG_ERR_CONNECT;
    r->id = cl->next_req_id++;
    set_request_id(cmd, r->id);
    if (map_put_u64(&c->reqs, r->id, r)) return MG_ERR_NO_MEMORY;
    if (conn_send_cmd_locked(c, cmd)) {
        map_del_u64(&c->reqs, r->id);
        return MG_ERR_CONNECT;
    }
    uint64_t deadline = deadline_after(timeout_ms);
    while (!r->done)
        if (!cl_wait_locked(cl, deadline)) break;
    if (!r->done) {
        map_del_u64(&c->reqs, r->id);
        return MG_ERR_TIMEOUT;
    }
    if (r->res && r->resp) {
        pulsar__proto__base_command__free_unpacked(r->resp, NULL);
        r->resp = NULL;
    }
    return r->res;
}

static void complete_req_locked(conn_t *c, uint64_t id, frame_t *f, mg_result res, const char *msg)
{
    req_t *r = map_del_u64(&c->reqs, id);
    if (!r) return;
    r->done = true;
    r->res = res;
    if (msg) snprintf(r->errmsg, sizeof r->errmsg, "%s", msg);
    if (f) {
        r->resp = f->cmd;
        f->cmd = NULL;
    }
    pthread_cond_broadcast(&c->cl->cond);
}

void conn_fail_locked(conn_t *c, mg_result why)
{
    if (c->state == CONN_CLOSED) return;
    struct mg_client *cl = c->cl;
    c->state = CONN_CLOSED;
    c->err = why;
    tls_free(c->ssl, why == MG_ERR_ALREADY_CLOSED);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    buf_reset(&c->out);
    buf_reset(&c->in);
    uint64_t k;
    void *v;
    for (size_t it = 0; map_next(&c->reqs, &it, NULL, &k, &v);) {
        req_t *r = v;
        r->done = true;
        r->res = why == MG_ERR_ALREADY_CLOSED ? why : MG_ERR_CONNECT;
    }
    map_free(&c->reqs);
    map_init_u64(&c->reqs);
    size_t np = map_count(&c->producers), nc = map_count(&c->consumers), i = 0;
    void **tmp = mg_malloc((np + nc + 1) * sizeof *tmp);
    if (tmp) {
        for (size_t it = 0; map_next(&c->producers, &it, NULL, &k, &v);) tmp[i++] = v;
        for (size_t it = 0; map_next(&c->consumers, &it, NULL, &k, &v);) tmp[i++] = v;
    }
    map_free(&c->producers);
    map_init_u64(&c->producers);
    map_free(&c->consumers);
    map_init_u64(&c->consumers);
    if (tmp) {
        for (size_t j = 0; j < np; j++) producer_on_closed_locked(tmp[j]);
        for (size_t j = np; j < i; j++) consumer_on_closed_locked(tmp[j], false);
        mg_free(tmp);
    }
    conn_unlink_locked(c);
    log_debug("client: connection to %s closed (%s)", c->addr, mg_strerror(why));
    cl->maint_kick = true;
    pthread_cond_broadcast(&cl->cond);
}

static void handle_frame_locked(conn_t *c, frame_t *f)
{
    pb_cmd_t *cmd = f->cmd;
    switch (cmd->type) {
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED:
        if (cmd->connected && cmd->connected->has_max_message_size &&
            cmd->connected->max_message_size > 0)
            c->max_message_size = (uint32_t)cmd->connected->max_message_size;
        c->state = CONN_READY;
        pthread_cond_broadcast(&c->cl->cond);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PING: {
        Pulsar__Proto__BaseCommand o = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandPong pong = PULSAR__PROTO__COMMAND_PONG__INIT;
        o.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PONG;
        o.pong = &pong;
        conn_send_cmd_locked(c, &o);
        break;
    }
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PONG: c->ping_sent_ms = 0; break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__AUTH_CHALLENGE: answer_auth_challenge_locked(c); break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_RECEIPT:
        if (cmd->send_receipt) producer_on_receipt_locked(c, cmd->send_receipt);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_ERROR:
        if (cmd->send_error) producer_on_send_error_locked(c, cmd->send_error);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__MESSAGE:
        if (cmd->message) consumer_on_message_locked(c, cmd->message, f->payload, f->payload_len);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SUCCESS:
        if (cmd->success) complete_req_locked(c, cmd->success->request_id, f, MG_OK, NULL);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR:
        if (cmd->error && c->state == CONN_CONNECTING) {
            /* CONNECT refused (AuthenticationError with request_id -1, as Pulsar answers a
             * missing or bad token): nothing is pending on this connection yet, and connecting
             * again would be refused the same way, so the caller gets the broker's error
             * (MG_ERR_AUTH) and its reason instead of a plain connection failure. */
            snprintf(c->errmsg, sizeof c->errmsg, "%s",
                     cmd->error->message ? cmd->error->message : "");
            log_warn("client: %s refused CONNECT: %s", c->addr,
                     c->errmsg[0] ? c->errmsg
                                  : mg_strerror(server_error_result(cmd->error->error)));
            conn_fail_locked(c, server_error_result(cmd->error->error));
        } else if (cmd->error)
            complete_req_locked(c, cmd->error->request_id, NULL, server_error_result(cmd->error->error),
                                cmd->error->message);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS:
        if (cmd->producer_success && (!cmd->producer_success->has_producer_ready ||
                                      cmd->producer_success->producer_ready))
            complete_req_locked(c, cmd->producer_success->request_id, f, MG_OK, NULL);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_SCHEMA_RESPONSE:
        if (cmd->getschemaresponse) {
            Pulsar__Proto__CommandGetSchemaResponse *g = cmd->getschemaresponse;
            if (g->has_error_code)
                complete_req_locked(c, g->request_id, NULL, server_error_result(g->error_code),
                                    g->error_message);
            else
                complete_req_locked(c, g->request_id, f, MG_OK, NULL);
        }
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__LOOKUP_RESPONSE:
        if (cmd->lookuptopicresponse)
            complete_req_locked(c, cmd->lookuptopicresponse->request_id, f, MG_OK, NULL);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PARTITIONED_METADATA_RESPONSE:
        if (cmd->partitionmetadataresponse)
            complete_req_locked(c, cmd->partitionmetadataresponse->request_id, f, MG_OK, NULL);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_LAST_MESSAGE_ID_RESPONSE:
        if (cmd->getlastmessageidresponse)
            complete_req_locked(c, cmd->getlastmessageidresponse->request_id, f, MG_OK, NULL);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__GET_TOPICS_OF_NAMESPACE_RESPONSE:
        if (cmd->gettopicsofnamespaceresponse)
            complete_req_locked(c, cmd->gettopicsofnamespaceresponse->request_id, f, MG_OK, NULL);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__ACK_RESPONSE:
        if (cmd->ackresponse && cmd->ackresponse->has_request_id)
            complete_req_locked(c, cmd->ackresponse->request_id, f,
                                cmd->ackresponse->has_error ? server_error_result(cmd->ackresponse->error) : MG_OK,
                                cmd->ackresponse->message);
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_PRODUCER:
        if (cmd->close_producer) {
            struct mg_producer *p = map_del_u64(&c->producers, cmd->close_producer->producer_id);
            if (p) producer_on_closed_locked(p);
        }
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__CLOSE_CONSUMER:
        if (cmd->close_consumer) {
            struct mg_consumer *cs = map_del_u64(&c->consumers, cmd->close_consumer->consumer_id);
            if (cs) consumer_on_closed_locked(cs, true);
        }
        break;
    default:
        log_debug("client: ignoring %s from %s", cmd_type_name(cmd->type), c->addr);
        break;
    }
}

/* Read what the TLS session has: every record until it wants more from the socket, or up to
 * 4 MB (then the I/O thread comes back at once: conn_has_buffered_locked). 0, or -1 when the
 * connection failed (closed here). */
static int tls_read_locked(conn_t *c)
{
    size_t got = 0;
    while (got < 4 * 1024 * 1024) {
        if (buf_reserve(&c->in, 64 * 1024)) {
            conn_fail_locked(c, MG_ERR_NO_MEMORY);
            return -1;
        }
        char err[256];
        long r = tls_recv(c->ssl, c->in.data + c->in.len, c->in.cap - c->in.len, err, sizeof err);
        if (r > 0) {
            c->in.len += (size_t)r;
            got += (size_t)r;
            c->last_recv_ms = mg_mono_ms();
            continue;
        }
        if (r < 0 && errno == EAGAIN) break;
        if (r < 0) conn_tls_error(c, err);
        conn_fail_locked(c, MG_ERR_CONNECT);
        return -1;
    }
    return 0;
}

bool conn_has_buffered_locked(conn_t *c)
{
    return c->state != CONN_CLOSED && tls_has_pending(c->ssl);
}

void conn_on_readable_locked(conn_t *c)
{
    if (c->ssl && tls_read_locked(c)) return;
    while (!c->ssl) { /* a plain socket */
        if (buf_reserve(&c->in, 64 * 1024)) {
            conn_fail_locked(c, MG_ERR_NO_MEMORY);
            return;
        }
        ssize_t r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
        if (r > 0) {
            c->in.len += (size_t)r;
            c->last_recv_ms = mg_mono_ms();
            if ((size_t)r < 64 * 1024) break;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        conn_fail_locked(c, MG_ERR_CONNECT);
        return;
    }
    uint32_t max = (c->max_message_size > DEFAULT_MAX_MESSAGE ? c->max_message_size : DEFAULT_MAX_MESSAGE) +
                   MG_FRAME_OVERHEAD * 8;
    while (c->state != CONN_CLOSED) {
        frame_t f;
        char err[200];
        ssize_t n = frame_decode(buf_head(&c->in), buf_readable(&c->in), max, &f, err, sizeof err);
        if (n == 0) break;
        if (n < 0) {
            log_warn("client: bad frame from %s: %s", c->addr, err);
            conn_fail_locked(c, MG_ERR_PROTOCOL);
            return;
        }
        handle_frame_locked(c, &f);
        frame_release(&f);
        if (c->state == CONN_CLOSED) return;
        buf_consume(&c->in, (size_t)n);
    }
}

void conn_tick_locked(conn_t *c, uint64_t now)
{
    int iv = c->cl->conf.keep_alive_interval_s;
    if (iv <= 0) return;
    uint64_t ivms = (uint64_t)iv * 1000;
    if (c->ping_sent_ms && c->last_recv_ms > c->ping_sent_ms) c->ping_sent_ms = 0;
    if (now - c->last_recv_ms > 2 * ivms) {
        log_warn("client: %s silent for %d s, closing", c->addr, 2 * iv);
        conn_fail_locked(c, MG_ERR_TIMEOUT);
        return;
    }
    if (now - c->last_recv_ms > ivms && !c->ping_sent_ms) {
        Pulsar__Proto__BaseCommand o = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandPing ping = PULSAR__PROTO__COMMAND_PING__INIT;
        o.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PING;
        o.ping = &ping;
        c->ping_sent_ms = now;
        conn_send_cmd_locked(c, &o);
    }
}
