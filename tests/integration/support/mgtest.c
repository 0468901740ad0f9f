/* mgtest.c - see mgtest.h. */
#include "mgtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/timeutil.h"

const char *mgt_bin(void)
{
    const char *b = getenv("MAGNETAR_BIN");
    return b ? b : "build/bin/magnetar";
}

const char *mgt_tools_dir(void)
{
    static char d[600];
    const char *bd = getenv("MG_BUILD_DIR");
    snprintf(d, sizeof d, "%s/bin", bd ? bd : "build");
    return d;
}

const char *mgt_source_dir(void)
{
    const char *s = getenv("MG_SOURCE_DIR");
    return s ? s : ".";
}

int mgt_run(const char *cmd, char *out, size_t outlen)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = 0;
    if (out && outlen) {
        size_t r;
        while (n + 1 < outlen && (r = fread(out + n, 1, outlen - 1 - n, p)) > 0) n += r;
        out[n] = 0;
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Spawn the broker with stdout to a pipe: it prints "magnetar ready brokerServicePort=N
 * webServicePort=M" when it accepts connections. Ports are 0 on first start (the kernel picks
 * free ones); a restart reuses the ports of the first start so clients can reconnect. */
static void spawn(mgt_broker_t *b)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    char conf[400], data[400];
    snprintf(conf, sizeof conf, "%s/broker.conf", b->dir);
    snprintf(data, sizeof data, "%s/data", b->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        int lf = open(b->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (lf >= 0) dup2(lf, 2);
        close(pfd[0]);
        char port[16], wport[16];
        snprintf(port, sizeof port, "%d", b->port);
        snprintf(wport, sizeof wport, "%d", b->web_port);
        /* a plain port turned off in the conf (an empty brokerServicePort / webServicePort)
         * stays off: no --port for it */
        const char *argv[12] = {"magnetar", "standalone", "-c", conf, "--data-dir", data};
        int n = 6;
        if (b->port >= 0) argv[n++] = "--port", argv[n++] = port;
        if (b->web_port >= 0) argv[n++] = "--web-port", argv[n++] = wport;
        argv[n] = NULL;
        execv(mgt_bin(), (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    b->pid = pid;
    char line[512];
    size_t n = 0;
    uint64_t deadline = mg_mono_ms() + 10000;
    for (;;) {
        struct pollfd p = {pfd[0], POLLIN, 0};
        int left = (int)(deadline - mg_mono_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            fprintf(stderr, "broker did not get ready; log %s\n", b->log_path);
            fail();
        }
        ssize_t r = read(pfd[0], line + n, sizeof line - 1 - n);
        if (r <= 0) {
            fprintf(stderr, "broker exited before ready; log %s\n", b->log_path);
            fail();
        }
        n += (size_t)r;
        line[n] = 0;
        char *l = strstr(line, "magnetar ready");
        if (l && strchr(l, '\n')) {
            sscanf(l, "magnetar ready brokerServicePort=%d webServicePort=%d", &b->port, &b->web_port);
            const char *t = strstr(l, "brokerServicePortTls="), *w = strstr(l, "webServicePortTls=");
            b->port_tls = t ? atoi(t + 21) : -1;
            b->web_port_tls = w ? atoi(w + 18) : -1;
            break;
        }
    }
    close(pfd[0]);
}

mgt_broker_t *mgt_broker_start(const char *conf_lines)
{
    signal(SIGPIPE, SIG_IGN); /* a write to a connection the broker closed must fail, not kill */
    mgt_broker_t *b = calloc(1, sizeof *b);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(b->dir, sizeof b->dir, "%s/mgtest-XXXXXX", tmp);
    assert_non_null(mkdtemp(b->dir));
    snprintf(b->log_path, sizeof b->log_path, "%s/broker.log", b->dir);
    char conf[400];
    snprintf(conf, sizeof conf, "%s/broker.conf", b->dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "# test broker\nkeepAliveIntervalSeconds=30\n%s\n", conf_lines ? conf_lines : "");
    fclose(f);
    if (conf_lines && strstr(conf_lines, "brokerServicePort=\n")) b->port = -1;
    if (conf_lines && strstr(conf_lines, "webServicePort=\n")) b->web_port = -1;
    spawn(b);
    return b;
}

void mgt_broker_restart(mgt_broker_t *b)
{
    if (b->pid > 0) mgt_broker_stop(b);
    spawn(b);
}

bool mgt_broker_alive(mgt_broker_t *b)
{
    return b->pid > 0 && kill(b->pid, 0) == 0 && waitpid(b->pid, NULL, WNOHANG) == 0;
}

int mgt_broker_stop(mgt_broker_t *b)
{
    if (b->pid <= 0) return -1;
    kill(b->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 1000; i++) { /* up to 10 s */
        pid_t r = waitpid(b->pid, &st, WNOHANG);
        if (r == b->pid) break;
        if (i == 999) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &st, 0);
        }
        usleep(10000);
    }
    b->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void mgt_broker_kill9(mgt_broker_t *b)
{
    if (b->pid <= 0) return;
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
}

void mgt_broker_free(mgt_broker_t *b)
{
    if (!b) return;
    if (b->pid > 0) {
        int st = mgt_broker_stop(b);
        if (st != 0) {
            fprintf(stderr, "broker exit status %d; log follows\n", st);
            char cmd[400];
            snprintf(cmd, sizeof cmd, "tail -50 %s >&2", b->log_path);
            if (system(cmd)) {
            }
        }
    }
    if (!getenv("MGT_KEEP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
        if (system(cmd)) {
        }
    }
    free(b);
}

/* --- connection --- */

static void pulsar_handshake(mgt_conn_t *c);

mgt_conn_t *mgt_connect(int port, bool handshake)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mgt_conn_t *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    c->next_request_id = 1;
    if (handshake) pulsar_handshake(c);
    return c;
}

mgt_conn_t *mgt_connect_tls(int port, const char *ca_file, const char *cert, const char *key,
                            bool handshake, char *err, size_t errlen)
{
    mgt_conn_t *c = mgt_connect(port, false);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    if (ca_file) assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca_file, NULL), 1);
    SSL_CTX_set_verify(ctx, ca_file ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (cert) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    SSL *s = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    SSL_set_fd(s, c->fd);
    SSL_set_tlsext_host_name(s, "localhost");
    c->ssl = s;
    int r = SSL_connect(s);
    if (r != 1) {
        unsigned long e = ERR_get_error();
        if (err) ERR_error_string_n(e, err, errlen);
        ERR_clear_error();
        mgt_close(c);
        return NULL;
    }
    if (handshake) pulsar_handshake(c);
    return c;
}

int mgt_send_connect(mgt_conn_t *c, const char *client_version, int protocol_version,
                     const char *auth_method, const char *auth_data, int supports_auth_refresh)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConnect cc = PULSAR__PROTO__COMMAND_CONNECT__INIT;
    Pulsar__Proto__FeatureFlags ff = PULSAR__PROTO__FEATURE_FLAGS__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT;
    cmd.connect = &cc;
    cc.client_version = (char *)client_version;
    cc.has_protocol_version = 1;
    cc.protocol_version = protocol_version;
    cc.auth_method_name = (char *)auth_method;
    if (auth_data) {
        cc.has_auth_data = 1;
        cc.auth_data.data = (uint8_t *)auth_data;
        cc.auth_data.len = strlen(auth_data);
    }
    if (supports_auth_refresh >= 0) {
        ff.has_supports_auth_refresh = 1;
        ff.supports_auth_refresh = supports_auth_refresh;
        cc.feature_flags = &ff;
    }
    return mgt_send_cmd(c, &cmd);
}

static void pulsar_handshake(mgt_conn_t *c)
{
    assert_int_equal(mgt_send_connect(c, "mgtest", 20, NULL, NULL, -1), 0);
    frame_t f;
    assert_int_equal(mgt_recv(c, &f, 5000), 1);
    assert_int_equal(f.cmd->type, PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED);
}

void mgt_close(mgt_conn_t *c)
{
    if (!c) return;
    if (c->ssl) SSL_free(c->ssl);
    close(c->fd);
    free(c->buf);
    free(c);
}

int mgt_send_raw(mgt_conn_t *c, const void *p, size_t n)
{
    const uint8_t *s = p;
    while (n) {
        ssize_t w = c->ssl ? SSL_write(c->ssl, s, (int)n) : write(c->fd, s, n);
        if (c->ssl && w <= 0) return -1;
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int mgt_send_cmd(mgt_conn_t *c, const pb_cmd_t *cmd)
{
    mg_buf_t b;
    buf_init(&b);
    frame_write_cmd(&b, cmd);
    int r = mgt_send_raw(c, b.data, b.len);
    buf_free(&b);
    return r;
}

static frame_t last_frame;

int mgt_recv(mgt_conn_t *c, frame_t *f, int timeout_ms)
{
    frame_release(&last_frame);
    if (c->consumed) {
        memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    uint64_t deadline = mg_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char err[200];
        ssize_t n = frame_decode(c->buf, c->len, 64u << 20, f, err, sizeof err);
        if (n > 0) {
            c->consumed = (size_t)n;
            last_frame = *f;
            return 1;
        }
        if (n < 0) return -1;
        int left = (int)(deadline - mg_mono_ms());
        if (left <= 0) return 0;
        struct pollfd p = {c->fd, POLLIN, 0};
        if (!(c->ssl && SSL_pending(c->ssl) > 0) && poll(&p, 1, left) <= 0) return 0;
        if (c->len == c->cap) {
            c->cap *= 2;
            c->buf = realloc(c->buf, c->cap);
        }
        ssize_t r = c->ssl ? SSL_read(c->ssl, c->buf + c->len, (int)(c->cap - c->len))
                           : read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r <= 0) return -1;
        c->len += (size_t)r;
    }
}

int mgt_expect(mgt_conn_t *c, int type, frame_t *f, int timeout_ms)
{
    uint64_t deadline = mg_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int left = (int)(deadline - mg_mono_ms());
        if (left <= 0) return 0;
        int r = mgt_recv(c, f, left);
        if (r <= 0) return r;
        if ((int)f->cmd->type == type) return 1;
        if (f->cmd->type == PULSAR__PROTO__BASE_COMMAND__TYPE__PING) {
            Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
            Pulsar__Proto__CommandPong pong = PULSAR__PROTO__COMMAND_PONG__INIT;
            cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PONG;
            cmd.pong = &pong;
            mgt_send_cmd(c, &cmd);
        }
    }
}

int mgt_producer(mgt_conn_t *c, const char *topic, uint64_t producer_id, const char *name,
                 frame_t *reply)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer p = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER;
    cmd.producer = &p;
    p.topic = (char *)topic;
    p.producer_id = producer_id;
    p.request_id = c->next_request_id++;
    p.producer_name = (char *)name;
    if (mgt_send_cmd(c, &cmd)) return -1;
    for (;;) {
        if (mgt_recv(c, reply, 5000) != 1) return -1;
        int t = reply->cmd->type;
        if (t == PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS ||
            t == PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR)
            return t;
    }
}

static void encode_send(mg_buf_t *out, uint64_t pid, uint64_t seq, int nmsg, const pb_meta_t *md,
                        const void *data, size_t n)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSend s = PULSAR__PROTO__COMMAND_SEND__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEND;
    cmd.send = &s;
    s.producer_id = pid;
    s.sequence_id = seq;
    s.has_num_messages = 1;
    s.num_messages = nmsg;
    frame_write_entry(out, &cmd, md, data, n);
}

static int send_entry(mgt_conn_t *c, uint64_t pid, uint64_t seq, int nmsg, const pb_meta_t *md,
                      const void *data, size_t n)
{
    mg_buf_t out;
    buf_init(&out);
    encode_send(&out, pid, seq, nmsg, md, data, n);
    int r = mgt_send_raw(c, out.data, out.len);
    buf_free(&out);
    return r;
}

void mgt_encode_send(mg_buf_t *out, uint64_t producer_id, uint64_t seq, const char *producer_name,
                     const void *payload, size_t n)
{
    Pulsar__Proto__MessageMetadata md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    md.producer_name = (char *)producer_name;
    md.sequence_id = seq;
    md.publish_time = mg_now_ms();
    encode_send(out, producer_id, seq, 1, &md, payload, n);
}

int mgt_send(mgt_conn_t *c, uint64_t producer_id, uint64_t seq, const char *producer_name,
             const void *payload, size_t n, const char *key, int64_t deliver_at)
{
    Pulsar__Proto__MessageMetadata md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    md.producer_name = (char *)producer_name;
    md.sequence_id = seq;
    md.publish_time = mg_now_ms();
    md.partition_key = (char *)key;
    if (deliver_at) {
        md.has_deliver_at_time = 1;
        md.deliver_at_time = deliver_at;
    }
    return send_entry(c, producer_id, seq, 1, &md, payload, n);
}

int mgt_send_batch(mgt_conn_t *c, uint64_t producer_id, uint64_t seq, const char *producer_name,
                   int n, const char **payloads)
{
    mg_buf_t b;
    buf_init(&b);
    for (int i = 0; i < n; i++) {
        Pulsar__Proto__SingleMessageMetadata sm = PULSAR__PROTO__SINGLE_MESSAGE_METADATA__INIT;
        sm.payload_size = (int32_t)strlen(payloads[i]);
        sm.has_sequence_id = 1;
        sm.sequence_id = seq - (uint64_t)(n - 1) + (uint64_t)i;
        size_t sz = pulsar__proto__single_message_metadata__get_packed_size(&sm);
        buf_append_u32be(&b, (uint32_t)sz);
        buf_reserve(&b, sz);
        pulsar__proto__single_message_metadata__pack(&sm, b.data + b.len);
        b.len += sz;
        buf_append(&b, payloads[i], strlen(payloads[i]));
    }
    Pulsar__Proto__MessageMetadata md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    md.producer_name = (char *)producer_name;
    md.sequence_id = seq;
    md.publish_time = mg_now_ms();
    md.has_num_messages_in_batch = 1;
    md.num_messages_in_batch = n;
    int r = send_entry(c, producer_id, seq, n, &md, b.data, b.len);
    buf_free(&b);
    return r;
}

int mgt_subscribe(mgt_conn_t *c, const char *topic, const char *sub, int type,
                  uint64_t consumer_id, bool earliest, frame_t *reply)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSubscribe s = PULSAR__PROTO__COMMAND_SUBSCRIBE__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SUBSCRIBE;
    cmd.subscribe = &s;
    s.topic = (char *)topic;
    s.subscription = (char *)sub;
    s.subtype = type;
    s.consumer_id = consumer_id;
    s.request_id = c->next_request_id++;
    s.has_initialposition = 1;
    s.initialposition = earliest ? 1 : 0;
    if (mgt_send_cmd(c, &cmd)) return -1;
    for (;;) {
        if (mgt_recv(c, reply, 5000) != 1) return -1;
        int t = reply->cmd->type;
        if (t == PULSAR__PROTO__BASE_COMMAND__TYPE__SUCCESS ||
            t == PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR)
            return t;
    }
}

int mgt_flow(mgt_conn_t *c, uint64_t consumer_id, uint32_t permits)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandFlow f = PULSAR__PROTO__COMMAND_FLOW__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW;
    cmd.flow = &f;
    f.consumer_id = consumer_id;
    f.messagepermits = permits;
    return mgt_send_cmd(c, &cmd);
}

mgt_conn_t *mgt_consumer_on(int port, const char *topic, const char *sub, uint32_t permits)
{
    frame_t f;
    mgt_conn_t *c = mgt_connect(port, true);
    assert_int_equal(mgt_subscribe(c, topic, sub, 0, 1, true, &f), PULSAR__PROTO__BASE_COMMAND__TYPE__SUCCESS);
    assert_int_equal(mgt_flow(c, 1, permits), 0);
    return c;
}

int mgt_ack(mgt_conn_t *c, uint64_t consumer_id, uint64_t ledger, uint64_t entry, bool cumulative)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandAck a = PULSAR__PROTO__COMMAND_ACK__INIT;
    Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    Pulsar__Proto__MessageIdData *ids[1] = {&id};
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__ACK;
    cmd.ack = &a;
    a.consumer_id = consumer_id;
    a.ack_type = cumulative ? 1 : 0;
    a.n_message_id = 1;
    a.message_id = ids;
    id.ledgerid = ledger;
    id.entryid = entry;
    return mgt_send_cmd(c, &cmd);
}

int mgt_recv_message(mgt_conn_t *c, mgt_msg_t *m, int timeout_ms)
{
    frame_t f;
    int r = mgt_expect(c, PULSAR__PROTO__BASE_COMMAND__TYPE__MESSAGE, &f, timeout_ms);
    if (r != 1) return r;
    memset(m, 0, sizeof *m);
    m->consumer_id = f.cmd->message->consumer_id;
    m->ledger = f.cmd->message->message_id->ledgerid;
    m->entry = f.cmd->message->message_id->entryid;
    m->redelivery_count = f.cmd->message->redelivery_count;
    m->n_ack_set = f.cmd->message->n_ack_set;
    payload_view_t pv;
    if (payload_parse(f.payload, f.payload_len, &pv)) return -1;
    if (!pv.checksum_ok) return -1;
    pb_meta_t *md = payload_metadata(&pv);
    if (!md) return -1;
    m->num_in_batch = md->has_num_messages_in_batch ? md->num_messages_in_batch : 1;
    if (md->partition_key) snprintf(m->key, sizeof m->key, "%s", md->partition_key);
    pulsar__proto__message_metadata__free_unpacked(md, NULL);
    m->data_len = pv.data_len < sizeof m->data - 1 ? pv.data_len : sizeof m->data - 1;
    memcpy(m->data, pv.data, m->data_len);
    m->data[m->data_len] = 0;
    return 1;
}
