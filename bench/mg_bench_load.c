/* mg_bench_load: multi-partition produce / consume load over the raw Pulsar protocol, for the
 * side-by-side benchmark (bench/run.py). One thread, one poll loop, no client library.
 *
 *   produce:  one connection, P producers on <topic>-partition-0..P-1, entries of B messages of
 *             S bytes round-robin over the partitions, W entries in flight per partition,
 *             optionally paced at R msgs/s (latency measured from the scheduled send time, so
 *             a stall is not hidden by coordinated omission).
 *   consume:  K subscriptions (one connection each, Exclusive, initial position Earliest) on
 *             every partition; every entry's checksum is verified (as a Pulsar client does);
 *             end-to-end latency = receive time - send time stamped in the first message of
 *             each entry; cumulative ACKs; FLOW refills. While producing, the consumers run on
 *             a second thread so the load generator is not the bottleneck on two cores.
 *   --catchup produce everything first, then subscribe and time the read of the backlog.
 *   --idle T  open T producers on T distinct topics (over 10 connections), print when all
 *             are ready, then stay idle for --hold seconds (the driver samples the broker RSS).
 *
 * Output: one line of key=value figures on stdout; --series FILE writes per-100ms rates
 * (t_s acked_msgs_per_s delivered_msgs_per_s), --lat FILE writes latency percentiles
 * (pct publish_ms e2e_ms), --trace FILE each entry's partition, scheduled time and publish
 * latency (µs).
 *
 * usage: mg_bench_load --port P [-s 1024] [-b 100] [-n msgs] [-w 16] [-p 4] [-k 0] [-r rate]
 *        [--topic T] [--catchup] [--idle T --hold S] [--series F] [--lat F] [--trace F]
 *        [--warmup S]: latencies of entries scheduled in the first S seconds are not counted */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "proto/frame.h"

#define MAXC 64

typedef struct conn {
    int fd;
    mg_buf_t in, out;
    int sub;            /* subscription index, -1 for the producer connection */
} conn_t;

static conn_t conns[MAXC];
static int nconns;

static int size = 1024, batch = 100, window = 16, parts = 4, nsubs = 0;
static long total = 200000;
static double rate = 0;
static const char *topic = "persistent://public/default/bench";
static int rt_producer; /* --rt: the producer thread runs SCHED_FIFO (see main) */

static void die(const char *m)
{
    fprintf(stderr, "mg_bench_load: %s\n", m);
    exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static conn_t *conn_open(int port, int sub)
{
    if (nconns == MAXC) die("too many connections");
    conn_t *c = &conns[nconns++];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa)) die("connect failed");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_init(&c->in);
    buf_init(&c->out);
    c->sub = sub;
    return c;
}

static void queue_cmd(conn_t *c, pb_cmd_t *cmd) { frame_write_cmd(&c->out, cmd); }

/* Write what can be written without blocking (blocking=1: everything). */
static void flush_out(conn_t *c, int blocking)
{
    while (buf_readable(&c->out)) {
        ssize_t w = send(c->fd, buf_head(&c->out), buf_readable(&c->out),
                         blocking ? 0 : MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !blocking) return;
        if (w <= 0) die("write failed");
        buf_consume(&c->out, (size_t)w);
    }
    buf_reset(&c->out);
}

/* Decode the next buffered frame of c into f (0: none buffered yet). */
static int take_frame(conn_t *c, frame_t *f, size_t *used)
{
    char err[100];
    ssize_t n = frame_decode(buf_head(&c->in), buf_readable(&c->in), 256u << 20, f, err, sizeof err);
    if (n < 0) die(err);
    *used = (size_t)n;
    return n > 0;
}

#define RECV_CHUNK ((size_t)64 << 10)

/* Reads at most RECV_CHUNK, and never past the end of a frame whose head is buffered: the
 * buffer then empties at frame ends (no compaction copies), and an entry's checksum is
 * verified while its bytes are still in this core's cache (64 KB reads: the copy out of the
 * socket and the CRC pass took 21% of both cores in fan-out, against 31% with 1 MB reads). */
static int fill_in(conn_t *c, int blocking)
{
    size_t want = RECV_CHUNK, have = buf_readable(&c->in);
    if (have >= 4) {
        size_t flen = 4 + (size_t)rd_u32be(buf_head(&c->in));
        if (flen > have && flen - have < want) want = flen - have;
    }
    buf_reserve(&c->in, want);
    ssize_t r = recv(c->fd, c->in.data + c->in.len, want, blocking ? 0 : MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !blocking) return 0;
    if (r <= 0) die("connection closed");
    c->in.len += (size_t)r;
    return 1;
}

static void handle_frame(conn_t *c, frame_t *f);

/* Blocking: wait for a frame of the given type (skipping others such as PING handled inline). */
static void expect(conn_t *c, int type, const char *what)
{
    flush_out(c, 1);
    for (;;) {
        frame_t f = {0};
        size_t used;
        while (!take_frame(c, &f, &used)) fill_in(c, 1);
        int t = f.cmd->type;
        if (t == PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR) {
            fprintf(stderr, "%s: %s\n", what, f.cmd->error->message);
            die("server error");
        }
        if (t != type) handle_frame(c, &f);
        frame_release(&f);
        buf_consume(&c->in, used);
        if (t == type) return;
    }
}

static void do_connect(conn_t *c)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConnect cc = PULSAR__PROTO__COMMAND_CONNECT__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT;
    cmd.connect = &cc;
    cc.client_version = "mg_bench_load";
    cc.has_protocol_version = 1;
    cc.protocol_version = 20;
    queue_cmd(c, &cmd);
    expect(c, PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED, "connect");
}

static void queue_producer(conn_t *c, const char *t, uint64_t id)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer pc = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER;
    cmd.producer = &pc;
    pc.topic = (char *)t;
    pc.producer_id = id;
    pc.request_id = id;
    queue_cmd(c, &cmd);
}

static void part_name(char *out, size_t n, int p) { snprintf(out, n, "%s-partition-%d", topic, p); }

static uint32_t permits_chunk;

static void flow(conn_t *c, uint64_t cid, uint32_t n)
{
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandFlow fl = PULSAR__PROTO__COMMAND_FLOW__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__FLOW;
    cmd.flow = &fl;
    fl.consumer_id = cid;
    fl.messagepermits = n;
    queue_cmd(c, &cmd);
}

/* Subscription k on every partition. One connection per consumer: the broker does not
 * reschedule the other consumers of a connection when one of them filled its output buffer and
 * it drained without EAGAIN (see bench/README.md), so shared connections can stall. */
static void subscribe_all(int port, int k, int with_permits)
{
    char sub[64], t[512];
    snprintf(sub, sizeof sub, "bench-sub-%d", k);
    for (int p = 0; p < parts; p++) {
        conn_t *c = conn_open(port, k);
        do_connect(c);
        part_name(t, sizeof t, p);
        Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandSubscribe sc = PULSAR__PROTO__COMMAND_SUBSCRIBE__INIT;
        cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SUBSCRIBE;
        cmd.subscribe = &sc;
        sc.topic = t;
        sc.subscription = sub;
        sc.subtype = PULSAR__PROTO__COMMAND_SUBSCRIBE__SUB_TYPE__Exclusive;
        sc.consumer_id = (uint64_t)p;
        sc.request_id = (uint64_t)p + 1;
        sc.has_initialposition = 1;
        sc.initialposition = PULSAR__PROTO__COMMAND_SUBSCRIBE__INITIAL_POSITION__Earliest;
        queue_cmd(c, &cmd);
        expect(c, PULSAR__PROTO__BASE_COMMAND__TYPE__SUCCESS, "subscribe");
        if (with_permits) flow(c, (uint64_t)p, permits_chunk * 2);
        flush_out(c, 1);
    }
}

/* ---- run state ---- */
static long entries, next_entry, acked_entries;
static long n_pub;                 /* entries in pub_lat: those scheduled after the warm-up */
static uint64_t warm_us;           /* --warmup: latencies of entries scheduled before t0 + this are not counted */
static uint64_t *sched_at;         /* per entry: scheduled (or actual) send time */
static uint64_t *pub_lat;          /* per acked entry */
static uint64_t *ack_at;           /* per entry: receipt time (--trace) */
static uint64_t *e2e_lat;          /* per delivered entry (all subscriptions) */
static long n_e2e, e2e_cap;
static _Atomic long delivered_msgs; /* over all subscriptions (consumer thread writes) */
static long inflight[256];
static uint32_t since_flow[MAXC][256];
static uint32_t since_ack[MAXC][256];
static char pname[256][128];
static mg_buf_t payload;
static size_t stamp_off;           /* offset of the first message's body in the payload */
static uint64_t t0;

/* series */
#define SLOT_US 100000
static long *ser_acked, *ser_deliv;
static long nslots;

static void series_add(long *arr, uint64_t now, long n)
{
    long s = (long)((now - t0) / SLOT_US);
    if (s >= 0 && s < nslots) arr[s] += n;
}

static void send_entry(conn_t *c, long g, uint64_t when)
{
    int p = (int)(g % parts);
    uint64_t seq = (uint64_t)(g / parts);
    uint64_t now = mg_mono_us(), stamp = when ? when : now; /* e2e from the scheduled time too */
    memcpy(payload.data + stamp_off, &stamp, sizeof stamp);
    Pulsar__Proto__MessageMetadata md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    md.producer_name = pname[p];
    md.sequence_id = seq;
    md.publish_time = mg_now_ms();
    md.has_num_messages_in_batch = 1;
    md.num_messages_in_batch = batch;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandSend sd = PULSAR__PROTO__COMMAND_SEND__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEND;
    cmd.send = &sd;
    sd.producer_id = (uint64_t)p;
    sd.sequence_id = seq;
    sd.has_num_messages = 1;
    sd.num_messages = batch;
    frame_write_entry(&c->out, &cmd, &md, payload.data, payload.len);
    sched_at[g] = when ? when : now;
    inflight[p]++;
}

static void on_alarm(int sig)
{
    (void)sig;
    char m[200];
    int n = snprintf(m, sizeof m, "mg_bench_load: stalled: acked %ld/%ld entries, delivered %ld msgs\n",
                     acked_entries, entries, atomic_load(&delivered_msgs));
    if (write(2, m, (size_t)n) < 0) _exit(3);
    _exit(3);
}

static void handle_frame(conn_t *c, frame_t *f)
{
    pb_cmd_t *r = f->cmd;
    uint64_t now = mg_mono_us();
    switch (r->type) {
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_RECEIPT: {
        long g = (long)r->send_receipt->sequence_id * parts + (long)r->send_receipt->producer_id;
        if (g < 0 || g >= entries) die("bad receipt");
        acked_entries++;
        if (!warm_us || sched_at[g] >= t0 + warm_us) pub_lat[n_pub++] = now - sched_at[g];
        if (ack_at) ack_at[g] = now;
        inflight[r->send_receipt->producer_id]--;
        series_add(ser_acked, now, batch);
        break;
    }
    case PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_ERROR:
        die(r->send_error->message ? r->send_error->message : "send error");
        break;
    case PULSAR__PROTO__BASE_COMMAND__TYPE__MESSAGE: {
        int p = (int)r->message->consumer_id;
        payload_view_t v;
        int parsed = payload_parse(f->payload, f->payload_len, &v) == 0;
        if (parsed && v.has_checksum && !v.checksum_ok) die("checksum mismatch on a delivered entry");
        if (parsed && v.data_len >= stamp_off + 8) {
            uint64_t ts;
            memcpy(&ts, v.data + stamp_off, 8);
            if (n_e2e < e2e_cap && (!warm_us || ts >= t0 + warm_us)) e2e_lat[n_e2e++] = now - ts;
        }
        delivered_msgs += batch;
        series_add(ser_deliv, now, batch);
        since_flow[c->sub][p] += (uint32_t)batch;
        if (since_flow[c->sub][p] >= permits_chunk) {
            flow(c, (uint64_t)p, since_flow[c->sub][p]);
            since_flow[c->sub][p] = 0;
        }
        if (++since_ack[c->sub][p] >= 16) {
            since_ack[c->sub][p] = 0;
            Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
            Pulsar__Proto__CommandAck ack = PULSAR__PROTO__COMMAND_ACK__INIT;
            Pulsar__Proto__MessageIdData id = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
            Pulsar__Proto__MessageIdData *ids[1] = {&id};
            id.ledgerid = r->message->message_id->ledgerid;
            id.entryid = r->message->message_id->entryid;
            cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__ACK;
            cmd.ack = &ack;
            ack.consumer_id = (uint64_t)p;
            ack.ack_type = PULSAR__PROTO__COMMAND_ACK__ACK_TYPE__Cumulative;
            ack.n_message_id = 1;
            ack.message_id = ids;
            queue_cmd(c, &cmd);
        }
        break;
    }
    case PULSAR__PROTO__BASE_COMMAND__TYPE__PING: {
        Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
        Pulsar__Proto__CommandPong pong = PULSAR__PROTO__COMMAND_PONG__INIT;
        cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PONG;
        cmd.pong = &pong;
        queue_cmd(c, &cmd);
        break;
    }
    default:
        break;
    }
}

/* One poll round over connections [from, to); timeout in µs. */
static void pump_range(int from, int to, uint64_t timeout_us)
{
    struct pollfd pf[MAXC];
    int k = to - from;
    for (int i = 0; i < k; i++) {
        pf[i].fd = conns[from + i].fd;
        pf[i].events = POLLIN | (buf_readable(&conns[from + i].out) ? POLLOUT : 0);
        pf[i].revents = 0;
    }
    struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
    int n = ppoll(pf, (nfds_t)k, &ts, NULL);
    if (n < 0 && errno != EINTR) die("poll failed");
    for (int i = 0; i < k && n > 0; i++) {
        conn_t *c = &conns[from + i];
        if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            fill_in(c, 0);
            frame_t f = {0};
            size_t used;
            while (take_frame(c, &f, &used)) {
                handle_frame(c, &f);
                frame_release(&f);
                buf_consume(&c->in, used);
                f = (frame_t){0};
            }
        }
        if (buf_readable(&c->out)) flush_out(c, 0);
    }
}

static void pump(uint64_t timeout_us) { pump_range(0, nconns, timeout_us); }

/* The consumer thread: every subscription connection (conns[1..]) until all is delivered. */
static long want_deliv_all;
static uint64_t t_deliv_done;
static void *consume_main(void *arg)
{
    (void)arg;
    while (atomic_load(&delivered_msgs) < want_deliv_all) {
        for (int i = 1; i < nconns; i++)
            if (buf_readable(&conns[i].out)) flush_out(&conns[i], 0);
        pump_range(1, nconns, 200000);
    }
    t_deliv_done = mg_mono_us();
    return NULL;
}

static void write_series(const char *file)
{
    FILE *f = fopen(file, "w");
    if (!f) die("cannot write series");
    long last = 0;
    for (long s = 0; s < nslots; s++)
        if (ser_acked[s] || ser_deliv[s]) last = s;
    for (long s = 0; s <= last; s++)
        fprintf(f, "%.1f %ld %ld\n", (s + 1) * SLOT_US / 1e6, ser_acked[s] * 10, ser_deliv[s] * 10);
    fclose(f);
}

static double pct(uint64_t *a, long n, double p)
{
    if (n == 0) return 0;
    long i = (long)(p * (double)n);
    if (i >= n) i = n - 1;
    return a[i] / 1000.0;
}

int main(int argc, char **argv)
{
    int port = 6650, catchup = 0, idle = 0;
    double hold = 0;
    const char *series = NULL, *latf = NULL, *tracef = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--port") && v) port = atoi(argv[++i]);
        else if (!strcmp(a, "-s") && v) size = atoi(argv[++i]);
        else if (!strcmp(a, "-b") && v) batch = atoi(argv[++i]);
        else if (!strcmp(a, "-n") && v) total = atol(argv[++i]);
        else if (!strcmp(a, "-w") && v) window = atoi(argv[++i]);
        else if (!strcmp(a, "-p") && v) parts = atoi(argv[++i]);
        else if (!strcmp(a, "-k") && v) nsubs = atoi(argv[++i]);
        else if (!strcmp(a, "-r") && v) rate = atof(argv[++i]);
        else if (!strcmp(a, "--rt")) rt_producer = 1;
        else if (!strcmp(a, "--topic") && v) topic = argv[++i];
        else if (!strcmp(a, "--catchup")) catchup = 1;
        else if (!strcmp(a, "--idle") && v) idle = atoi(argv[++i]);
        else if (!strcmp(a, "--hold") && v) hold = atof(argv[++i]);
        else if (!strcmp(a, "--timeout") && v) alarm((unsigned)atoi(argv[++i]));
        else if (!strcmp(a, "--series") && v) series = argv[++i];
        else if (!strcmp(a, "--lat") && v) latf = argv[++i];
        else if (!strcmp(a, "--trace") && v) tracef = argv[++i];
        else if (!strcmp(a, "--warmup") && v) warm_us = (uint64_t)(atof(argv[++i]) * 1e6);
        else die("usage: mg_bench_load --port P [-s size] [-b batch] [-n msgs] [-w window] [-p parts] "
                 "[-k subs] [-r rate] [--topic T] [--catchup] [--idle T --hold S] [--series F] [--lat F] [--trace F] [--warmup S]");
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    if (batch < 1) batch = 1;
    if (size < 16) size = 16;
    if (parts < 1 || parts > 256) die("1..256 partitions");
    if (nsubs * parts > MAXC - 11) die("too many subscriptions x partitions");

    if (idle > 0) {
        /* idle topics: producers spread over 10 connections, pipelined */
        int nc = 10;
        uint64_t ts = mg_mono_us();
        for (int i = 0; i < nc; i++) do_connect(conn_open(port, -1));
        char t[512];
        for (int i = 0; i < idle; i++) {
            snprintf(t, sizeof t, "%s-idle-%d", topic, i);
            queue_producer(&conns[i % nc], t, (uint64_t)i);
        }
        for (int i = 0; i < nc; i++) flush_out(&conns[i], 1);
        for (int i = 0; i < nc; i++)
            for (int j = i; j < idle; j += nc)
                expect(&conns[i], PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS, "producer");
        printf("idle_topics=%d setup_seconds=%.3f\n", idle, (mg_mono_us() - ts) / 1e6);
        fflush(stdout);
        uint64_t end = mg_mono_us() + (uint64_t)(hold * 1e6);
        while (mg_mono_us() < end) pump(100000);
        return 0;
    }

    entries = (total + batch - 1) / batch;
    if (entries < parts) entries = parts;
    entries -= entries % parts; /* equal entries per partition */
    sched_at = calloc((size_t)entries, sizeof *sched_at);
    pub_lat = calloc((size_t)entries, sizeof *pub_lat);
    if (tracef) ack_at = calloc((size_t)entries, sizeof *ack_at);
    e2e_cap = entries * (nsubs > 0 ? nsubs : 1);
    e2e_lat = calloc((size_t)e2e_cap, sizeof *e2e_lat);
    nslots = 36000; /* one hour at 100 ms */
    ser_acked = calloc((size_t)nslots, sizeof(long));
    ser_deliv = calloc((size_t)nslots, sizeof(long));
    permits_chunk = (uint32_t)(batch * 32 > 1000 ? batch * 32 : 1000);

    conn_t *pc = conn_open(port, -1);
    do_connect(pc);
    char t[512];
    for (int p = 0; p < parts; p++) {
        part_name(t, sizeof t, p);
        queue_producer(pc, t, (uint64_t)p);
        flush_out(pc, 1);
        for (;;) { /* PRODUCER_SUCCESS carries the producer name we must use */
            frame_t f = {0};
            size_t used;
            while (!take_frame(pc, &f, &used)) fill_in(pc, 1);
            int ty = f.cmd->type;
            if (ty == PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR) die(f.cmd->error->message);
            if (ty == PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS)
                snprintf(pname[p], sizeof pname[p], "%s", f.cmd->producer_success->producer_name);
            frame_release(&f);
            buf_consume(&pc->in, used);
            if (ty == PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS) break;
        }
    }
    /* subscriptions exist before the first message (with retention 0 a backlog is only kept
     * for existing subscriptions); in catch-up mode they get no permits until the end */
    for (int k = 0; k < nsubs; k++) subscribe_all(port, k, !catchup);

    /* one batch payload: B x ([u32][SingleMessageMetadata][S bytes]); stamp in the first body */
    buf_init(&payload);
    char *body = malloc((size_t)size);
    memset(body, 'm', (size_t)size);
    for (int i = 0; i < batch; i++) {
        Pulsar__Proto__SingleMessageMetadata sm = PULSAR__PROTO__SINGLE_MESSAGE_METADATA__INIT;
        sm.payload_size = size;
        size_t ss = pulsar__proto__single_message_metadata__get_packed_size(&sm);
        buf_append_u32be(&payload, (uint32_t)ss);
        buf_reserve(&payload, ss);
        pulsar__proto__single_message_metadata__pack(&sm, payload.data + payload.len);
        payload.len += ss;
        if (i == 0) stamp_off = payload.len;
        buf_append(&payload, body, (size_t)size);
    }
    free(body);

    long want_deliv = catchup ? 0 : (long)entries * batch * nsubs;
    double entry_gap_us = rate > 0 ? 1e6 * batch / rate : 0;
    /* paced sends wake on time: the default 50 µs timer slack would show up as latency */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    t0 = mg_mono_us();
    uint64_t t_start = t0, t_ack_done = 0;
    pthread_t consumer;
    bool threaded = want_deliv > 0; /* pc is conns[0]; the subscriptions are the rest */
    want_deliv_all = want_deliv;
    if (threaded && pthread_create(&consumer, NULL, consume_main, NULL)) die("pthread_create");
    /* --rt: on a machine shared with the broker, the producer thread (light: it sleeps between
     * paced sends) gets a real-time priority so its own wake-up delays are not reported as the
     * broker's latency; the consumer thread, created just before, stays normal */
    if (rt_producer) {
        struct sched_param sp = {.sched_priority = 1};
        if (sched_setscheduler(0, SCHED_FIFO, &sp)) fprintf(stderr, "mg_bench_load: --rt: %s\n", strerror(errno));
    }
    while (acked_entries < entries || (!threaded && delivered_msgs < want_deliv)) {
        uint64_t now = mg_mono_us(), wait = 200000;
        while (next_entry < entries) {
            int p = (int)(next_entry % parts);
            if (inflight[p] >= window) break;
            uint64_t due = 0;
            if (entry_gap_us > 0) {
                due = t0 + (uint64_t)(next_entry * entry_gap_us);
                if (due > now) {
                    wait = due - now;
                    break;
                }
            }
            send_entry(pc, next_entry++, due);
            if (buf_readable(&pc->out) > (1u << 20)) flush_out(pc, 0);
        }
        if (buf_readable(&pc->out)) flush_out(pc, 0);
        if (threaded) pump_range(0, 1, wait);
        else pump(wait);
        if (!t_ack_done && acked_entries == entries) t_ack_done = mg_mono_us();
    }
    if (threaded) pthread_join(consumer, NULL);
    uint64_t t_pub = t_ack_done ? t_ack_done : mg_mono_us();
    double pub_secs = (t_pub - t_start) / 1e6;
    double msgs = (double)entries * batch;

    double cu_secs = 0;
    if (catchup && nsubs > 0) {
        want_deliv = (long)entries * batch * nsubs;
        uint64_t tc = mg_mono_us();
        t0 = tc; /* series restart: delivery over time */
        memset(ser_acked, 0, (size_t)nslots * sizeof(long));
        memset(ser_deliv, 0, (size_t)nslots * sizeof(long));
        for (int i = 0; i < nconns; i++)
            if (conns[i].sub >= 0) flow(&conns[i], (uint64_t)((i - 1) % parts), permits_chunk * 2);
        while (delivered_msgs < want_deliv) {
            for (int i = 0; i < nconns; i++)
                if (buf_readable(&conns[i].out)) flush_out(&conns[i], 0);
            pump(200000);
        }
        cu_secs = (mg_mono_us() - tc) / 1e6;
    }
    double deliv_secs = catchup ? cu_secs : (t_deliv_done - t_start) / 1e6;

    qsort(pub_lat, (size_t)n_pub, sizeof *pub_lat, cmp_u64);
    qsort(e2e_lat, (size_t)n_e2e, sizeof *e2e_lat, cmp_u64);
    printf("messages=%.0f size=%d batch=%d window=%d partitions=%d subs=%d rate=%.0f seconds=%.3f "
           "msgs_per_s=%.0f MB_per_s=%.1f pub_p50_ms=%.3f pub_p99_ms=%.3f pub_p999_ms=%.3f",
           msgs, size, batch, window, parts, nsubs, rate, pub_secs, msgs / pub_secs,
           msgs * size / pub_secs / 1048576.0, pct(pub_lat, n_pub, .5),
           pct(pub_lat, n_pub, .99), pct(pub_lat, n_pub, .999));
    if (warm_us) printf(" warmup_s=%.1f", warm_us / 1e6);
    if (nsubs > 0)
        printf(" delivered=%ld deliver_seconds=%.3f deliver_msgs_per_s=%.0f deliver_MB_per_s=%.1f"
               " e2e_p50_ms=%.3f e2e_p99_ms=%.3f e2e_p999_ms=%.3f",
               delivered_msgs, deliv_secs, delivered_msgs / deliv_secs,
               delivered_msgs * (double)size / deliv_secs / 1048576.0, pct(e2e_lat, n_e2e, .5),
               pct(e2e_lat, n_e2e, .99), pct(e2e_lat, n_e2e, .999));
    printf("\n");
    if (series) write_series(series);
    if (tracef && ack_at) { /* per entry: partition, scheduled time and publish latency (µs) */
        FILE *f = fopen(tracef, "w");
        if (f) {
            fprintf(f, "# partition sched_us publish_us\n");
            for (long g = 0; g < entries; g++)
                fprintf(f, "%ld %llu %llu\n", g % parts, (unsigned long long)(sched_at[g] - t0),
                        (unsigned long long)(ack_at[g] - sched_at[g]));
            fclose(f);
        }
    }
    if (latf) {
        FILE *f = fopen(latf, "w");
        if (!f) die("cannot write lat");
        static const double ps[] = {.5, .75, .9, .95, .99, .995, .999, .9995, .9999};
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
            fprintf(f, "%g %.3f %.3f\n", ps[i] * 100, pct(pub_lat, n_pub, ps[i]),
                    pct(e2e_lat, n_e2e, ps[i]));
        fclose(f);
    }
    return 0;
}
