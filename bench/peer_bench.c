/* peer_bench: the same produce workload as mg_bench_load, against the peers of bench/run.py.
 *   redis: XADD <key> * d <S bytes> over RESP, keys s0..s{P-1} round-robin (appendfsync is the
 *          server's setting: with `always` Redis fsyncs the AOF before replying).
 *   nats:  JetStream publish with an ack: PUB p<i> _INBOX.bench.<n> S, P streams (file storage)
 *          created first; the ack is the JSON reply {"stream":..,"seq":..}.
 * C connections, W messages in flight per connection, optionally paced at R msgs/s in total
 * (latency from the scheduled time). No batching: neither protocol has a produce batch.
 * Plain C, no libraries (no Debian package ships a C NATS client).
 *
 * usage: peer_bench redis|nats --port P [-s 1024] [-n msgs] [-w 256] [-c 1] [-p 4] [-r rate]
 *        [--series F] [--lat F] [--timeout S] [--warmup S] [--rt]
 * Output: one key=value line, as mg_bench_load. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 64

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void die(const char *m)
{
    fprintf(stderr, "peer_bench: %s\n", m);
    exit(1);
}

typedef struct {
    char *d;
    size_t len, off, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t n)
{
    if (b->off && b->off == b->len) b->off = b->len = 0;
    if (b->len + n <= b->cap) return;
    if (b->off) {
        memmove(b->d, b->d + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + n <= b->cap) return;
    }
    b->cap = (b->len + n) * 2;
    b->d = realloc(b->d, b->cap);
    if (!b->d) die("oom");
}

static void sb_add(sbuf *b, const void *p, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

typedef struct {
    int fd;
    sbuf in, out;
    long *fifo; /* redis: message numbers in send order */
    long fhead, ftail;
    long inflight;
} conn_t;

static conn_t cs[MAXC];
static int nc = 1, parts = 4, size = 1024, window = 256, is_nats;
static long total = 100000, acked;
static double rate;
static int rt; /* --rt: SCHED_FIFO for the load thread, as mg_bench_load --rt */
static uint64_t *sched, *lat, t0;
static uint64_t warm_us; /* --warmup S: replies to sends scheduled in the first S seconds are not counted */
static long nlat;
static long *ser;
static long nslots = 36000;

static void on_alarm(int s)
{
    (void)s;
    char m[160];
    int n = snprintf(m, sizeof m, "peer_bench: stalled: acked %ld/%ld\n", acked, total);
    if (write(2, m, (size_t)n) < 0) _exit(3);
    _exit(3);
}

static void xflush(conn_t *c, int blocking)
{
    while (c->out.len > c->out.off) {
        ssize_t w = send(c->fd, c->out.d + c->out.off, c->out.len - c->out.off,
                         blocking ? 0 : MSG_DONTWAIT);
        if (w < 0 && errno == EAGAIN && !blocking) return;
        if (w <= 0) die("write failed");
        c->out.off += (size_t)w;
    }
    c->out.off = c->out.len = 0;
}

static int xfill(conn_t *c, int blocking)
{
    sb_reserve(&c->in, 1 << 16);
    ssize_t r = recv(c->fd, c->in.d + c->in.len, c->in.cap - c->in.len, blocking ? 0 : MSG_DONTWAIT);
    if (r < 0 && errno == EAGAIN && !blocking) return 0;
    if (r <= 0) die("connection closed");
    c->in.len += (size_t)r;
    return 1;
}

/* a line from the input (blocking), without CRLF; valid until the next call */
static char *xline(conn_t *c)
{
    static char line[4096];
    for (;;) {
        char *p = memmem(c->in.d + c->in.off, c->in.len - c->in.off, "\r\n", 2);
        if (p) {
            size_t n = (size_t)(p - (c->in.d + c->in.off));
            if (n >= sizeof line) n = sizeof line - 1;
            memcpy(line, c->in.d + c->in.off, n);
            line[n] = 0;
            c->in.off = (size_t)(p - c->in.d) + 2;
            return line;
        }
        xfill(c, 1);
    }
}

static char *body;

static void send_one(conn_t *c, long n, uint64_t due)
{
    char h[256];
    int k = (int)(n % parts), hl;
    if (is_nats) {
        hl = snprintf(h, sizeof h, "PUB p%d _INBOX.bench.%d.%ld %d\r\n", k, (int)(c - cs), n, size);
        sb_add(&c->out, h, (size_t)hl);
        sb_add(&c->out, body, (size_t)size);
        sb_add(&c->out, "\r\n", 2);
    } else {
        char key[16];
        int kl = snprintf(key, sizeof key, "s%d", k);
        hl = snprintf(h, sizeof h, "*5\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n$1\r\nd\r\n$%d\r\n", kl,
                      key, size);
        sb_add(&c->out, h, (size_t)hl);
        sb_add(&c->out, body, (size_t)size);
        sb_add(&c->out, "\r\n", 2);
        c->fifo[c->ftail++ % (window + 1)] = n;
    }
    sched[n] = due ? due : mono_us();
    c->inflight++;
}

static void done_one(conn_t *c, long n)
{
    if (n < 0 || n >= total) die("bad reply id");
    uint64_t now = mono_us();
    acked++;
    if (!warm_us || sched[n] >= t0 + warm_us) lat[nlat++] = now - sched[n];
    long s = (long)((now - t0) / 100000);
    if (s < nslots) ser[s]++;
    c->inflight--;
}

/* Parse complete replies in c->in; returns when more bytes are needed. */
static void parse(conn_t *c)
{
    for (;;) {
        char *b = c->in.d + c->in.off, *e = c->in.d + c->in.len;
        char *nl = memmem(b, (size_t)(e - b), "\r\n", 2);
        if (!nl) return;
        if (!is_nats) {
            if (*b == '$') {
                long l = atol(b + 1);
                if (l < 0) die("redis: nil reply");
                if (e - (nl + 2) < l + 2) return;
                c->in.off = (size_t)(nl + 2 + l + 2 - c->in.d);
            } else if (*b == '-') {
                *nl = 0;
                die(b);
            } else {
                c->in.off = (size_t)(nl + 2 - c->in.d);
            }
            done_one(c, c->fifo[c->fhead++ % (window + 1)]);
            continue;
        }
        if (!strncmp(b, "MSG ", 4)) {
            /* MSG <subject> <sid> [reply] <#bytes> */
            char *sp = nl;
            while (sp > b && sp[-1] != ' ') sp--;
            long l = atol(sp);
            if (e - (nl + 2) < l + 2) return;
            char *subj = b + 4;
            const char *pre = "_INBOX.bench.";
            if (!strncmp(subj, pre, strlen(pre))) {
                const char *dot = strchr(subj + strlen(pre), '.');
                long n = dot ? atol(dot + 1) : -1;
                if (memmem(nl + 2, (size_t)l, "\"error\"", 7)) {
                    fprintf(stderr, "%.*s\n", (int)l, nl + 2);
                    die("nats: publish error");
                }
                done_one(c, n);
            }
            c->in.off = (size_t)(nl + 2 + l + 2 - c->in.d);
        } else if (!strncmp(b, "PING", 4)) {
            sb_add(&c->out, "PONG\r\n", 6);
            c->in.off = (size_t)(nl + 2 - c->in.d);
        } else if (!strncmp(b, "-ERR", 4)) {
            *nl = 0;
            die(b);
        } else {
            c->in.off = (size_t)(nl + 2 - c->in.d);
        }
    }
}

static void nats_request(conn_t *c, const char *subj, const char *json)
{
    char h[512];
    int hl = snprintf(h, sizeof h, "PUB %s _INBOX.setup %zu\r\n", subj, strlen(json));
    sb_add(&c->out, h, (size_t)hl);
    sb_add(&c->out, json, strlen(json));
    sb_add(&c->out, "\r\n", 2);
    xflush(c, 1);
    for (;;) {
        char *l = xline(c);
        if (!strncmp(l, "PING", 4)) {
            sb_add(&c->out, "PONG\r\n", 6);
            xflush(c, 1);
            continue;
        }
        if (!strncmp(l, "-ERR", 4)) die(l);
        if (strncmp(l, "MSG ", 4)) continue;
        char *sp = l + strlen(l);
        while (sp > l && sp[-1] != ' ') sp--;
        long n = atol(sp);
        while (c->in.len - c->in.off < (size_t)n + 2) xfill(c, 1);
        if (memmem(c->in.d + c->in.off, (size_t)n, "\"error\"", 7) &&
            !memmem(c->in.d + c->in.off, (size_t)n, "already in use", 14)) {
            fprintf(stderr, "%.*s\n", (int)n, c->in.d + c->in.off);
            die("nats: stream create failed");
        }
        c->in.off += (size_t)n + 2;
        return;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    long i = (long)(p * (double)nlat);
    if (i >= nlat) i = nlat - 1;
    return nlat > 0 ? lat[i] / 1000.0 : 0;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *series = NULL, *latf = NULL;
    if (argc < 2) die("usage: peer_bench redis|nats --port P ...");
    is_nats = !strcmp(argv[1], "nats");
    if (!is_nats && strcmp(argv[1], "redis")) die("first argument: redis or nats");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--port") && v) port = atoi(argv[++i]);
        else if (!strcmp(a, "-s") && v) size = atoi(argv[++i]);
        else if (!strcmp(a, "-n") && v) total = atol(argv[++i]);
        else if (!strcmp(a, "-w") && v) window = atoi(argv[++i]);
        else if (!strcmp(a, "-c") && v) nc = atoi(argv[++i]);
        else if (!strcmp(a, "-p") && v) parts = atoi(argv[++i]);
        else if (!strcmp(a, "-r") && v) rate = atof(argv[++i]);
        else if (!strcmp(a, "--rt")) rt = 1;
        else if (!strcmp(a, "--warmup") && v) warm_us = (uint64_t)(atof(argv[++i]) * 1e6);
        else if (!strcmp(a, "--series") && v) series = argv[++i];
        else if (!strcmp(a, "--lat") && v) latf = argv[++i];
        else if (!strcmp(a, "--timeout") && v) alarm((unsigned)atoi(argv[++i]));
        else die("bad arguments");
    }
    if (nc < 1 || nc > MAXC) die("1..64 connections");
    body = malloc((size_t)size);
    memset(body, 'm', (size_t)size);
    sched = calloc((size_t)total, sizeof *sched);
    lat = calloc((size_t)total, sizeof *lat);
    ser = calloc((size_t)nslots, sizeof *ser);
    for (int i = 0; i < nc; i++) {
        conn_t *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa)) die("connect failed");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fifo = calloc((size_t)window + 1, sizeof(long));
        if (is_nats) {
            xline(c); /* INFO */
            char hello[256]; /* each connection gets only its own acks */
            snprintf(hello, sizeof hello,
                     "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"peer_bench\"}\r\n"
                     "SUB _INBOX.setup 1\r\nSUB _INBOX.bench.%d.* 2\r\nPING\r\n", i);
            sb_add(&c->out, hello, strlen(hello));
            xflush(c, 1);
            for (;;) {
                char *l = xline(c);
                if (!strncmp(l, "-ERR", 4)) die(l);
                if (!strcmp(l, "PONG")) break;
            }
            if (i == 0)
                for (int k = 0; k < parts; k++) {
                    char subj[64], json[512];
                    snprintf(subj, sizeof subj, "$JS.API.STREAM.CREATE.P%d", k);
                    snprintf(json, sizeof json,
                             "{\"name\":\"P%d\",\"subjects\":[\"p%d\"],\"storage\":\"file\","
                             "\"retention\":\"limits\",\"num_replicas\":1}",
                             k, k);
                    nats_request(c, subj, json);
                }
        }
    }
    double gap = rate > 0 ? 1e6 / rate : 0;
    long next = 0;
    /* the same pacing conditions as mg_bench_load: 1 µs timer slack, optional real-time priority */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (rt) {
        struct sched_param sp = {.sched_priority = 1};
        if (sched_setscheduler(0, SCHED_FIFO, &sp)) fprintf(stderr, "peer_bench: --rt: %s\n", strerror(errno));
    }
    t0 = mono_us();
    while (acked < total) {
        uint64_t now = mono_us(), wait = 200000;
        int stop = 0;
        while (next < total && !stop) {
            conn_t *c = &cs[next % nc];
            if (c->inflight >= window) break;
            uint64_t due = 0;
            if (gap > 0) {
                due = t0 + (uint64_t)(next * gap);
                if (due > now) {
                    wait = due - now;
                    stop = 1;
                    break;
                }
            }
            send_one(c, next++, due);
        }
        struct pollfd pf[MAXC];
        for (int i = 0; i < nc; i++) {
            if (cs[i].out.len > cs[i].out.off) xflush(&cs[i], 0);
            pf[i] = (struct pollfd){.fd = cs[i].fd,
                                    .events = POLLIN | (cs[i].out.len > cs[i].out.off ? POLLOUT : 0)};
        }
        struct timespec ts = {(time_t)(wait / 1000000), (long)(wait % 1000000) * 1000};
        if (ppoll(pf, (nfds_t)nc, &ts, NULL) < 0 && errno != EINTR) die("poll");
        for (int i = 0; i < nc; i++)
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                xfill(&cs[i], 0);
                parse(&cs[i]);
            }
    }
    double secs = (mono_us() - t0) / 1e6;
    qsort(lat, (size_t)nlat, sizeof *lat, cmp_u64);
    printf("system=%s messages=%ld size=%d window=%d connections=%d partitions=%d rate=%.0f "
           "seconds=%.3f msgs_per_s=%.0f MB_per_s=%.1f pub_p50_ms=%.3f pub_p99_ms=%.3f "
           "pub_p999_ms=%.3f\n",
           argv[1], total, size, window, nc, parts, rate, secs, total / secs,
           total * (double)size / secs / 1048576.0, pct(.5), pct(.99), pct(.999));
    if (series) {
        FILE *f = fopen(series, "w");
        if (!f) die("series");
        long last = 0;
        for (long s = 0; s < nslots; s++)
            if (ser[s]) last = s;
        for (long s = 0; s <= last; s++) fprintf(f, "%.1f %ld 0\n", (s + 1) / 10.0, ser[s] * 10);
        fclose(f);
    }
    if (latf) {
        FILE *f = fopen(latf, "w");
        if (!f) die("lat");
        static const double ps[] = {.5, .75, .9, .95, .99, .995, .999, .9995, .9999};
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
            fprintf(f, "%g %.3f 0\n", ps[i] * 100, pct(ps[i]));
        fclose(f);
    }
    return 0;
}
