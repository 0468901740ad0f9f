/* metrics.c - GET /metrics in the Prometheus text format (0.0.4) with Pulsar's metric names
 * and labels: cluster and namespace always, topic when exposeTopicLevelMetricsInPrometheus is
 * on (otherwise topic metrics are summed per namespace, as Pulsar does), subscription for the
 * subscription metrics (topic level only). Each family is written whole, after its # HELP and
 * # TYPE lines. Then process metrics and the broker allocator's accounting. Loop thread. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "broker/auth.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/timeutil.h"

enum {
    F_SUBS, F_PRODUCERS, F_CONSUMERS, F_RATE_IN, F_RATE_OUT, F_TPUT_IN, F_TPUT_OUT,
    F_STORAGE, F_BACKLOG_SIZE, F_MSG_BACKLOG, F_IN_BYTES, F_IN_MSGS, F_OUT_BYTES, F_OUT_MSGS,
    F_LAT0,                                  /* LAT_FAMILY: the buckets, _count, _sum */
    F_LLAT0 = F_LAT0 + MG_LAT_BUCKETS + 2,   /* the same for the journal write */
    NF = F_LLAT0 + MG_LAT_BUCKETS + 2
};

/* A latency histogram's twelve families (mg_lat_hist_t), in the order of its F_*0 block */
#define LAT_FAMILY(name, what, total)                                                             \
    {name "_le_0_5", "gauge", what " within 0.5 ms"}, {name "_le_1", "gauge", what " within 1 ms"},  \
    {name "_le_5", "gauge", what " within 5 ms"}, {name "_le_10", "gauge", what " within 10 ms"},    \
    {name "_le_20", "gauge", what " within 20 ms"}, {name "_le_50", "gauge", what " within 50 ms"},  \
    {name "_le_100", "gauge", what " within 100 ms"},                                               \
    {name "_le_200", "gauge", what " within 200 ms"},                                               \
    {name "_le_1000", "gauge", what " within 1 s"}, {name "_overflow", "gauge", what " over 1 s"},   \
    {name "_count", "gauge", what " timed"}, {name "_sum", "gauge", total " in microseconds"}

static const struct { const char *name, *type, *help; } FAM[NF] = {
    {"pulsar_subscriptions_count", "gauge", "Number of subscriptions"},
    {"pulsar_producers_count", "gauge", "Number of producers"},
    {"pulsar_consumers_count", "gauge", "Number of consumers"},
    {"pulsar_rate_in", "gauge", "Messages per second published"},
    {"pulsar_rate_out", "gauge", "Messages per second dispatched"},
    {"pulsar_throughput_in", "gauge", "Bytes per second published"},
    {"pulsar_throughput_out", "gauge", "Bytes per second dispatched"},
    {"pulsar_storage_size", "gauge", "Bytes stored"},
    {"pulsar_storage_backlog_size", "gauge", "Bytes of backlog"},
    {"pulsar_msg_backlog", "gauge", "Messages of backlog"},
    {"pulsar_in_bytes_total", "counter", "Bytes published"},
    {"pulsar_in_messages_total", "counter", "Messages published"},
    {"pulsar_out_bytes_total", "counter", "Bytes dispatched"},
    {"pulsar_out_messages_total", "counter", "Messages dispatched"},
    LAT_FAMILY("pulsar_storage_write_latency", "Entry writes", "Total entry write latency"),
    LAT_FAMILY("pulsar_storage_ledger_write_latency", "Journal writes", "Total journal write latency"),
};

typedef struct row {
    char labels[1200];
    double v[NF];
} row_t;

enum { S_BACKLOG, S_UNACKED, S_RATE_OUT, S_TPUT_OUT, S_OUT_TOTAL, S_CONSUMERS, S_BLOCKED, NS };
static const struct { const char *name, *type, *help; } SFAM[NS] = {
    {"pulsar_subscription_back_log", "gauge", "Messages in the subscription backlog"},
    {"pulsar_subscription_unacked_messages", "gauge", "Messages delivered and not acknowledged"},
    {"pulsar_subscription_msg_rate_out", "gauge", "Messages per second dispatched"},
    {"pulsar_subscription_msg_throughput_out", "gauge", "Bytes per second dispatched"},
    {"pulsar_subscription_msg_out_counter", "counter", "Messages dispatched"},
    {"pulsar_subscription_consumers_count", "gauge", "Consumers of the subscription"},
    {"pulsar_subscription_blocked_on_unacked_messages", "gauge",
     "1 when every consumer is blocked on its unacknowledged-message limit"},
};

static void esc(char *out, size_t n, const char *in)
{
    size_t o = 0;
    for (; *in && o + 3 < n; in++) {
        if (*in == '\\' || *in == '"') out[o++] = '\\', out[o++] = *in;
        else if (*in == '\n') out[o++] = '\\', out[o++] = 'n';
        else out[o++] = *in;
    }
    out[o] = 0;
}

static void bprintf(mg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(mg_buf_t *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static row_t *find_row(row_t **rows, size_t *n, size_t *cap, const char *labels)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*rows)[i].labels, labels)) return &(*rows)[i];
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        row_t *nr = mg_realloc(*rows, nc * sizeof *nr);
        if (!nr) return NULL;
        *rows = nr;
        *cap = nc;
    }
    row_t *r = &(*rows)[(*n)++];
    memset(r, 0, sizeof *r);
    snprintf(r->labels, sizeof r->labels, "%s", labels);
    return r;
}

/* A histogram into its block of row values: the buckets from base, then _count and _sum. */
static void row_add_hist(row_t *row, int base, const mg_lat_hist_t *h)
{
    for (int i = 0; i < MG_LAT_BUCKETS; i++) {
        row->v[base + i] += (double)h->buckets[i];
        row->v[base + MG_LAT_BUCKETS] += (double)h->buckets[i];
    }
    row->v[base + MG_LAT_BUCKETS + 1] += (double)h->sum_us;
}

static double process_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static long process_rss_bytes(long *vsz)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) pages = rss = 0;
        fclose(f);
    }
    long ps = sysconf(_SC_PAGESIZE);
    *vsz = pages * ps;
    return rss * ps;
}

static int process_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* minus the directory handle itself */
}

void route_metrics(admin_req_t *r)
{
    broker_t *b = r->b;
    if (strcmp(r->method, "GET")) return reply_405(r);
    bool topic_level = b->cfg->expose_topic_metrics;
    row_t *rows = NULL, *srows = NULL;
    size_t nrows = 0, caprows = 0, nsrows = 0, capsrows = 0;
    char cl[300];
    esc(cl, sizeof cl, b->cfg->cluster_name);
    mg_map_t ns_topics;
    map_init_str(&ns_topics);
    const char *k;
    void *v;
    for (size_t it = 0; map_next(&b->topics, &it, &k, NULL, &v);) {
        topic_t *t = v;
        char ns[600], tp[2200], labels[1200];
        snprintf(labels, sizeof labels, "%s/%s", t->tn.tenant, t->tn.ns);
        esc(ns, sizeof ns, labels);
        esc(tp, sizeof tp, t->name);
        map_put(&ns_topics, ns, (void *)((uintptr_t)map_get(&ns_topics, ns) + 1));
        if (topic_level)
            snprintf(labels, sizeof labels, "cluster=\"%s\",namespace=\"%s\",topic=\"%s\"", cl, ns, tp);
        else snprintf(labels, sizeof labels, "cluster=\"%s\",namespace=\"%s\"", cl, ns);
        row_t *row = find_row(&rows, &nrows, &caprows, labels);
        if (!row) continue;
        row->v[F_SUBS] += (double)map_count(&t->subs);
        row->v[F_PRODUCERS] += (double)map_count(&t->producers);
        row->v[F_RATE_IN] += t->rate_in;
        row->v[F_RATE_OUT] += t->rate_out;
        row->v[F_TPUT_IN] += t->tput_in;
        row->v[F_TPUT_OUT] += t->tput_out;
        row->v[F_STORAGE] += (double)log_size_bytes(t->log);
        row->v[F_BACKLOG_SIZE] += (double)topic_backlog_bytes(t);
        row->v[F_IN_BYTES] += (double)t->bytes_in;
        row->v[F_IN_MSGS] += (double)t->msg_in;
        row->v[F_OUT_BYTES] += (double)t->bytes_out;
        row->v[F_OUT_MSGS] += (double)t->msg_out;
        row_add_hist(row, F_LAT0, &t->write_lat);
        row_add_hist(row, F_LLAT0, log_write_latency(t->log));
        for (size_t j = 0; map_next(&t->subs, &j, &k, NULL, &v);) {
            subscription_t *s = v;
            uint64_t backlog = sub_backlog(s), unacked = 0;
            double rate = 0, tput = 0;
            bool blocked = s->consumers != NULL;
            for (consumer_t *c = s->consumers; c; c = c->next_in_sub) {
                unacked += c->unacked;
                if (!c->blocked) blocked = false;
                rate += c->rate_out;
                tput += c->tput_out;
            }
            row->v[F_CONSUMERS] += s->nconsumers;
            row->v[F_MSG_BACKLOG] += (double)backlog;
            if (!topic_level) continue;
            char sn[600], sl[1200];
            esc(sn, sizeof sn, s->name);
            snprintf(sl, sizeof sl, "%s,subscription=\"%s\"", labels, sn);
            row_t *srow = find_row(&srows, &nsrows, &capsrows, sl);
            if (!srow) continue;
            srow->v[S_BACKLOG] = (double)backlog;
            srow->v[S_UNACKED] = (double)unacked;
            srow->v[S_RATE_OUT] = rate;
            srow->v[S_TPUT_OUT] = tput;
            srow->v[S_OUT_TOTAL] = (double)s->msg_out;
            srow->v[S_CONSUMERS] = s->nconsumers;
            srow->v[S_BLOCKED] = blocked ? 1 : 0;
        }
    }
    mg_buf_t out;
    buf_init(&out);
    bprintf(&out, "# HELP pulsar_topics_count Number of topics loaded\n# TYPE pulsar_topics_count gauge\n");
    for (size_t it = 0; map_next(&ns_topics, &it, &k, NULL, &v);)
        bprintf(&out, "pulsar_topics_count{cluster=\"%s\",namespace=\"%s\"} %llu\n", cl, k,
                (unsigned long long)(uintptr_t)v);
    map_free(&ns_topics);
    for (int f = 0; f < NF; f++) {
        bprintf(&out, "# HELP %s %s\n# TYPE %s %s\n", FAM[f].name, FAM[f].help, FAM[f].name,
                FAM[f].type);
        for (size_t i = 0; i < nrows; i++)
            bprintf(&out, "%s{%s} %.17g\n", FAM[f].name, rows[i].labels, rows[i].v[f]);
    }
    for (int f = 0; f < NS; f++) {
        bprintf(&out, "# HELP %s %s\n# TYPE %s %s\n", SFAM[f].name, SFAM[f].help, SFAM[f].name,
                SFAM[f].type);
        for (size_t i = 0; i < nsrows; i++)
            bprintf(&out, "%s{%s} %.17g\n", SFAM[f].name, srows[i].labels, srows[i].v[f]);
    }
    mg_free(rows);
    mg_free(srows);
    auth_metrics_text(b->auth, &out); /* with authentication on */
    long vsz, rss = process_rss_bytes(&vsz);
    bprintf(&out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
            "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
            "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %ld\n"
            "# HELP process_cpu_seconds_total Total user and system CPU time in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
            "# HELP process_open_fds Number of open file descriptors.\n"
            "# TYPE process_open_fds gauge\nprocess_open_fds %d\n"
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
            rss, vsz, process_cpu_seconds(), process_open_fds(), (double)b->start_ms / 1000.0);
    bprintf(&out,
            "# HELP magnetar_alloc_used_bytes Bytes held through the broker allocator.\n"
            "# TYPE magnetar_alloc_used_bytes gauge\nmagnetar_alloc_used_bytes %zu\n"
            "# HELP magnetar_alloc_count Allocations outstanding in the broker allocator.\n"
            "# TYPE magnetar_alloc_count gauge\nmagnetar_alloc_count %zu\n"
            "# HELP magnetar_connections Client connections open.\n"
            "# TYPE magnetar_connections gauge\nmagnetar_connections %d\n",
            mg_alloc_used(), mg_alloc_count(), b->nconns);
    reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", (const char *)out.data, out.len);
    buf_free(&out);
}
