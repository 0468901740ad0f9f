/* magnetar-perf - throughput / latency load generator with pulsar-perf's flag names:
 *   magnetar-perf produce TOPIC [-u URL] [-r RATE] [-s SIZE] [-n PRODUCERS] [-t TOPICS]
 *       [-m NUM_MESSAGES] [-time|--test-duration SECONDS] [-b BATCH_MS] [-bm BATCH_MAX_MSGS]
 *       [-bb BATCH_MAX_BYTES] [-db] [-z|--compression lz4|zlib|zstd|snappy|none]
 *       [-o MAX_PENDING] [-k KEY_PREFIX] [-ch]
 *   magnetar-perf consume TOPIC [-u URL] [-n CONSUMERS] [-t TOPICS] [-ss SUB] [-st TYPE]
 *       [-q RECEIVER_QUEUE] [-time SECONDS] [-m NUM_MESSAGES] [-p Earliest|Latest]
 * Both take pulsar-perf's --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationToken
 * --auth-params token:<jwt> | file:///path/to/token (auth_opts.h), and for -u pulsar+ssl://
 * --trust-cert-file (or --tls-trust-cert-path) CA.pem, --tls-allow-insecure,
 * --tls-enable-hostname-verification, AuthenticationTls with tlsCertFile:..,tlsKeyFile:...
 * With -t N > 1 the topics are TOPIC-0 .. TOPIC-(N-1). A partitioned TOPIC is used as is.
 * Prints a one-line report every second (msg/s, MB/s, latency p50/p99/p999 in ms) and a final
 * summary with the full latency histogram. Latency: send -> receipt (produce), publish time ->
 * receive (consume). */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "auth_opts.h"
#include "magnetar/magnetar.h"

/* ---- latency histogram: 2^k major buckets of 32 sub-buckets, in microseconds -------------- */
#define SUB 32
#define MAJ 40
typedef struct hist {
    atomic_ullong b[MAJ * SUB];
    atomic_ullong n, sum;
    atomic_ullong max;
} hist_t;

static int bucket(uint64_t us)
{
    if (us < SUB) return (int)us;
    int k = 63 - __builtin_clzll(us); /* >= 5 */
    int maj = k - 4;
    int sub = (int)((us >> (k - 5)) & (SUB - 1));
    int i = maj * SUB + sub;
    return i < MAJ * SUB ? i : MAJ * SUB - 1;
}
static uint64_t bucket_low(int i)
{
    int maj = i / SUB, sub = i % SUB;
    if (!maj) return (uint64_t)sub;
    int k = maj + 4;
    return ((uint64_t)1 << k) + ((uint64_t)sub << (k - 5));
}
static void hist_add(hist_t *h, uint64_t us)
{
    atomic_fetch_add(&h->b[bucket(us)], 1);
    atomic_fetch_add(&h->n, 1);
    atomic_fetch_add(&h->sum, us);
    uint64_t m = atomic_load(&h->max);
    while (us > m && !atomic_compare_exchange_weak(&h->max, &m, us)) {
    }
}
static double hist_pct(hist_t *h, double p)
{
    uint64_t n = atomic_load(&h->n), want = (uint64_t)ceil(p * (double)n), acc = 0;
    if (!n) return 0;
    for (int i = 0; i < MAJ * SUB; i++) {
        acc += atomic_load(&h->b[i]);
        if (acc >= want) return (double)bucket_low(i) / 1000.0;
    }
    return (double)atomic_load(&h->max) / 1000.0;
}
static void hist_reset(hist_t *h)
{
    for (int i = 0; i < MAJ * SUB; i++) atomic_store(&h->b[i], 0);
    atomic_store(&h->n, 0);
    atomic_store(&h->sum, 0);
    atomic_store(&h->max, 0);
}
static void hist_merge(hist_t *dst, hist_t *src)
{
    for (int i = 0; i < MAJ * SUB; i++) atomic_fetch_add(&dst->b[i], atomic_load(&src->b[i]));
    atomic_fetch_add(&dst->n, atomic_load(&src->n));
    atomic_fetch_add(&dst->sum, atomic_load(&src->sum));
    uint64_t m = atomic_load(&src->max);
    if (m > atomic_load(&dst->max)) atomic_store(&dst->max, m);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- options ----------------------------------------------------------------------------- */
typedef struct opts {
    const char *url, *topic, *sub, *key_prefix;
    double rate;
    int size, n, topics, duration, batch_ms, batch_max, pending, queue;
    long long num_messages;
    size_t batch_bytes;
    bool no_batch, chunking, earliest;
    mg_compression codec;
    mg_sub_type st;
    auth_opts_t auth;
} opts_t;

static volatile sig_atomic_t stop;
static void on_sig(int s) { stop = 1; }

static hist_t win, total;
static atomic_ullong msgs, bytes, errors, total_msgs, total_bytes;
static atomic_int producers_done; /* producer threads that sent their -m share and closed */
static atomic_int setup_failed;   /* a producer or consumer could not be created: exit 1 */

static void usage(void)
{
    fprintf(stderr, "usage: magnetar-perf produce|consume TOPIC [-u URL] [-r RATE] [-s SIZE] [-n N] [-t TOPICS]\n"
                    "       [-m NUM] [-time SECONDS] [-b BATCH_MS] [-bm MAX_MSGS] [-bb MAX_BYTES] [-db]\n"
                    "       [-z none|lz4|zlib|zstd|snappy] [-o MAX_PENDING] [-k KEY_PREFIX] [-ch]\n"
                    "       [-ss SUB] [-st Exclusive|Shared|Failover|Key_Shared] [-q QUEUE] [-p Earliest|Latest]\n"
                    "       [--auth-plugin " AUTH_PLUGIN_TOKEN "\n"
                    "        --auth-params token:<jwt>|file:///path/to/token-file]\n"
                    "       [--auth-plugin " AUTH_PLUGIN_TLS "\n"
                    "        --auth-params tlsCertFile:/path/cert.pem,tlsKeyFile:/path/key.pem]\n"
                    "       [--trust-cert-file|--tls-trust-cert-path CA.pem] [--tls-allow-insecure]\n"
                    "       [--tls-enable-hostname-verification]\n");
}

static int parse(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->url = "pulsar://localhost:6650";
    o->size = 1024;
    o->n = 1;
    o->topics = 1;
    o->batch_ms = 1;
    o->batch_max = 1000;
    o->batch_bytes = 128 * 1024;
    o->pending = 1000;
    o->queue = 1000;
    o->sub = "sub";
    o->rate = 100;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define IS(s) (!strcmp(a, s))
#define NEED()                                                                                     \
    if (!v) {                                                                                      \
        fprintf(stderr, "%s needs a value\n", a);                                                  \
        return -1;                                                                                 \
    }                                                                                              \
    i++
        int took = auth_opts_take(&o->auth, argc, argv, &i);
        if (took < 0) return -1;
        if (took) continue;
        if (IS("-u") || IS("--service-url")) { NEED(); o->url = v; }
        else if (IS("-r") || IS("--rate")) { NEED(); o->rate = atof(v); }
        else if (IS("-s") || IS("--size")) { NEED(); o->size = atoi(v); }
        else if (IS("-n") || IS("--num-producers") || IS("--num-consumers")) { NEED(); o->n = atoi(v); }
        else if (IS("-t") || IS("--num-topic") || IS("--num-topics")) { NEED(); o->topics = atoi(v); }
        else if (IS("-m") || IS("--num-messages")) { NEED(); o->num_messages = atoll(v); }
        else if (IS("-time") || IS("--test-duration")) { NEED(); o->duration = atoi(v); }
        else if (IS("-b") || IS("--batch-time-window")) { NEED(); o->batch_ms = atoi(v); }
        else if (IS("-bm") || IS("--batch-max-messages")) { NEED(); o->batch_max = atoi(v); }
        else if (IS("-bb") || IS("--batch-max-bytes")) { NEED(); o->batch_bytes = (size_t)atol(v); }
        else if (IS("-db") || IS("--disable-batching")) o->no_batch = true;
        else if (IS("-ch") || IS("--chunking")) o->chunking = true;
        else if (IS("-o") || IS("--max-outstanding")) { NEED(); o->pending = atoi(v); }
        else if (IS("-k") || IS("--message-key-prefix")) { NEED(); o->key_prefix = v; }
        else if (IS("-ss") || IS("--subscriber-name")) { NEED(); o->sub = v; }
        else if (IS("-q") || IS("--receiver-queue-size")) { NEED(); o->queue = atoi(v); }
        else if (IS("-p") || IS("--subscription-position")) { NEED(); o->earliest = !strcasecmp(v, "Earliest"); }
        else if (IS("-st") || IS("--subscription-type")) {
            NEED();
            const char *t[] = {"Exclusive", "Shared", "Failover", "Key_Shared"};
            int k = 0;
            while (k < 4 && strcasecmp(v, t[k])) k++;
            if (k == 4) return -1;
            o->st = (mg_sub_type)k;
        } else if (IS("-z") || IS("--compression")) {
            NEED();
            const char *c[] = {"none", "lz4", "zlib", "zstd", "snappy"};
            int k = 0;
            while (k < 5 && strcasecmp(v, c[k])) k++;
            if (k == 5) return -1;
            o->codec = (mg_compression)k;
        } else if (a[0] != '-' && !o->topic) o->topic = a;
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return -1;
        }
    }
    return o->topic ? 0 : -1;
}

static void topic_name(const opts_t *o, int i, char *out, size_t n)
{
    if (o->topics > 1) snprintf(out, n, "%s-%d", o->topic, i);
    else snprintf(out, n, "%s", o->topic);
}

/* ---- produce ------------------------------------------------------------------------------- */
typedef struct ptask {
    opts_t *o;
    mg_client_t *cl;
    int idx;
} ptask_t;

static void on_sent(mg_result r, const mg_message_id_t *id, void *ctx)
{
    uint64_t t0 = (uint64_t)(uintptr_t)ctx;
    if (r) {
        atomic_fetch_add(&errors, 1);
        return;
    }
    uint64_t us = now_us() - t0;
    hist_add(&win, us);
}

static void *producer_main(void *arg)
{
    ptask_t *t = arg;
    opts_t *o = t->o;
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = !o->no_batch && !o->chunking;
    pc.batching_max_delay_ms = o->batch_ms;
    pc.batching_max_messages = o->batch_max;
    pc.batching_max_bytes = o->batch_bytes;
    pc.compression = o->codec;
    pc.max_pending_messages = o->pending;
    pc.block_if_queue_full = true;
    pc.chunking_enabled = o->chunking;
    pc.send_timeout_ms = 0;
    char topic[1024];
    topic_name(o, t->idx % o->topics, topic, sizeof topic);
    mg_producer_t *p;
    mg_result r = mg_producer_create(t->cl, topic, &pc, &p);
    if (r) {
        char what[1100];
        snprintf(what, sizeof what, "producer on %s", topic);
        tool_print_error(what, r);
        atomic_store(&setup_failed, 1);
        stop = 1;
        return NULL;
    }
    uint8_t *payload = malloc((size_t)o->size);
    for (int i = 0; i < o->size; i++) payload[i] = (uint8_t)('a' + i % 26);
    mg_message_t *m = mg_message_new(payload, (size_t)o->size);
    double per = o->rate > 0 ? o->rate / o->n : 0;
    uint64_t start = now_us();
    long long sent = 0, limit = o->num_messages > 0 ? o->num_messages / o->n : 0;
    while (!stop && (!limit || sent < limit)) {
        if (per > 0) {
            uint64_t due = start + (uint64_t)((double)sent * 1e6 / per);
            uint64_t now = now_us();
            if (due > now + 1000) usleep((useconds_t)(due - now > 100000 ? 100000 : due - now));
            if (due > now_us()) continue;
        }
        if (o->key_prefix) {
            char k[128];
            snprintf(k, sizeof k, "%s%lld", o->key_prefix, sent % 1000);
            mg_message_set_key(m, k);
        }
        r = mg_producer_send_async(p, m, on_sent, (void *)(uintptr_t)now_us());
        if (r) {
            atomic_fetch_add(&errors, 1);
            if (r == MG_ERR_ALREADY_CLOSED) break;
            continue;
        }
        atomic_fetch_add(&msgs, 1);
        atomic_fetch_add(&bytes, (unsigned long long)o->size);
        sent++;
    }
    mg_producer_flush(p);
    mg_producer_close(p);
    mg_message_free(m);
    free(payload);
    atomic_fetch_add(&producers_done, 1);
    return NULL;
}

/* ---- consume ------------------------------------------------------------------------------- */
static void *consumer_main(void *arg)
{
    ptask_t *t = arg;
    opts_t *o = t->o;
    mg_consumer_conf_t cc;
    mg_consumer_conf_init(&cc);
    cc.type = o->st;
    cc.receiver_queue_size = o->queue;
    cc.initial_position = o->earliest ? MG_POS_EARLIEST : MG_POS_LATEST;
    char topic[1024];
    topic_name(o, t->idx % o->topics, topic, sizeof topic);
    char sub[256];
    if (o->st == MG_SUB_EXCLUSIVE && o->n > o->topics) snprintf(sub, sizeof sub, "%s-%d", o->sub, t->idx);
    else snprintf(sub, sizeof sub, "%s", o->sub);
    mg_consumer_t *c;
    mg_result r = mg_consumer_subscribe(t->cl, topic, sub, &cc, &c);
    if (r) {
        char what[1100];
        snprintf(what, sizeof what, "consumer on %s", topic);
        tool_print_error(what, r);
        atomic_store(&setup_failed, 1);
        stop = 1;
        return NULL;
    }
    while (!stop) {
        mg_message_t *m;
        r = mg_consumer_receive(c, &m, 100);
        if (r == MG_ERR_TIMEOUT) continue;
        if (r) break;
        uint64_t now = wall_ms(), pt = mg_message_publish_time(m);
        hist_add(&win, now > pt ? (now - pt) * 1000 : 0);
        atomic_fetch_add(&msgs, 1);
        atomic_fetch_add(&bytes, mg_message_len(m));
        mg_consumer_ack(c, m);
        mg_message_free(m);
        if (o->num_messages > 0 && (long long)atomic_load(&total_msgs) + (long long)atomic_load(&msgs) >= o->num_messages) stop = 1;
    }
    mg_consumer_close(c);
    return NULL;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (argc < 3 || (strcmp(argv[1], "produce") && strcmp(argv[1], "consume")) || parse(argc, argv, &o)) {
        usage();
        return 1;
    }
    bool produce = !strcmp(argv[1], "produce");
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGPIPE, SIG_IGN);
    mg_client_conf_t conf;
    mg_client_conf_init(&conf);
    char err[600];
    int ar = auth_opts_apply(&o.auth, &conf, err, sizeof err);
    if (ar) {
        fprintf(stderr, "%s\n", err);
        if (ar == -1) usage();
        auth_opts_free(&o.auth);
        return 1;
    }
    mg_client_t *cl;
    mg_result r = mg_client_create(o.url, &conf, &cl);
    auth_opts_free(&o.auth); /* mg_client_create copied the token */
    if (r == MG_ERR_INVALID_URL) {
        fprintf(stderr, "bad service URL '%s': %s\n", o.url, mg_strerror(r));
        return 1;
    }
    if (r) { /* a TLS file that cannot be loaded */
        tool_print_error("cannot create client", r);
        return 1;
    }
    int n = o.n > 0 ? o.n : 1;
    pthread_t *th = calloc((size_t)n, sizeof *th);
    ptask_t *tasks = calloc((size_t)n, sizeof *tasks);
    for (int i = 0; i < n; i++) {
        tasks[i] = (ptask_t){&o, cl, i};
        pthread_create(&th[i], NULL, produce ? producer_main : consumer_main, &tasks[i]);
    }
    uint64_t start = now_us(), last = start;
    while (!stop) {
        usleep(100000);
        uint64_t now = now_us();
        if (o.duration > 0 && now - start >= (uint64_t)o.duration * 1000000) stop = 1;
        if (produce && atomic_load(&producers_done) == n) stop = 1; /* -m reached: all acknowledged */
        if (now - last >= 1000000 || stop) {
            double el = (double)(now - last) / 1e6;
            unsigned long long m = atomic_exchange(&msgs, 0), b = atomic_exchange(&bytes, 0);
            atomic_fetch_add(&total_msgs, m);
            atomic_fetch_add(&total_bytes, b);
            printf("%s: %10.1f msg/s  %8.2f MB/s  latency ms: p50 %7.2f  p99 %7.2f  p999 %7.2f  max %7.2f%s\n",
                   produce ? "Produced" : "Received", (double)m / el, (double)b / el / 1048576.0,
                   hist_pct(&win, 0.5), hist_pct(&win, 0.99), hist_pct(&win, 0.999),
                   (double)atomic_load(&win.max) / 1000.0,
                   atomic_load(&errors) ? "  (errors)" : "");
            fflush(stdout);
            hist_merge(&total, &win);
            hist_reset(&win);
            last = now;
        }
    }
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    if (atomic_load(&setup_failed)) { /* said why already; no summary of nothing */
        mg_client_close(cl);
        free(th);
        free(tasks);
        return 1;
    }
    hist_merge(&total, &win);
    atomic_fetch_add(&total_msgs, atomic_exchange(&msgs, 0));
    atomic_fetch_add(&total_bytes, atomic_exchange(&bytes, 0));
    double el = (double)(now_us() - start) / 1e6;
    unsigned long long tm = atomic_load(&total_msgs);
    printf("\n=== summary: %s %llu messages in %.1f s: %.1f msg/s, %.2f MB/s, %llu errors\n",
           produce ? "produced" : "received", tm, el, (double)tm / el,
           (double)atomic_load(&total_bytes) / el / 1048576.0, atomic_load(&errors));
    uint64_t hn = atomic_load(&total.n);
    printf("latency ms: mean %.3f  p50 %.3f  p95 %.3f  p99 %.3f  p999 %.3f  p9999 %.3f  max %.3f\n",
           hn ? (double)atomic_load(&total.sum) / (double)hn / 1000.0 : 0.0, hist_pct(&total, 0.5),
           hist_pct(&total, 0.95), hist_pct(&total, 0.99), hist_pct(&total, 0.999), hist_pct(&total, 0.9999),
           (double)atomic_load(&total.max) / 1000.0);
    printf("latency histogram (ms range: count, cumulative %%):\n");
    uint64_t acc = 0;
    for (int maj = 0; maj < MAJ; maj++) {
        uint64_t cnt = 0;
        for (int s = 0; s < SUB; s++) cnt += atomic_load(&total.b[maj * SUB + s]);
        if (!cnt) continue;
        acc += cnt;
        uint64_t lo = bucket_low(maj * SUB), hi = maj + 1 < MAJ ? bucket_low((maj + 1) * SUB) : lo * 2;
        printf("  [%10.3f, %10.3f): %10llu  %7.3f%%\n", (double)lo / 1000.0, (double)hi / 1000.0,
               (unsigned long long)cnt, 100.0 * (double)acc / (double)(hn ? hn : 1));
    }
    mg_client_close(cl);
    free(th);
    free(tasks);
    return atomic_load(&errors) ? 2 : 0;
}
