/* disk_paced: what the disk alone gives a paced, durable writer: (b)'s storage pattern without
 * a broker. F files, one writer thread each; entries of B bytes are due at R entries/s per file,
 * evenly spaced, and the files take turns: file f's entries are due f/F of an interval after file
 * 0's, as mg_bench_load sends entry g to partition g % F at g / (F * R) s. (With every file in step,
 * four 100 KB writes and their fdatasyncs meet the disk at once, each fdatasync then takes about
 * the time of all four: p50 response 0.42 against 0.18 ms taking turns, this VM, 2026-11-28.)
 * Each writer takes every entry due so far, writes them in one
 * pwritev at the end of its file, fdatasyncs, and stamps each entry with now - its due time: group
 * commit per file, as Magnetar's storage does, with nothing else in the way (no network, no
 * protocol, no checksums). Entries due in the first W seconds are not counted.
 *
 * fio reports each fdatasync's own duration (service time); this reports each entry's wait from
 * its due time to the end of the fdatasync that covered it (response time), which is what a
 * producer of a paced load sees, and what mg_bench_load measures against the broker.
 *
 * With --seg MB each writer rolls to a new file past that size as Magnetar's segments do (the
 * old one synced, the directory synced after a new file), and the file two segments back is
 * deleted, as a segment is once its consumers have passed it. With --recycle that file becomes
 * the new segment instead, written over from offset 0 (its old end cut when it rolls): the
 * steady state of Magnetar's store with recycled segment files.
 *
 * usage: disk_paced --dir D [-f 4] [-b 103060] [-r entries/s per file] [-t seconds] [--warmup W] [--lat F]
 *                   [--seg MB [--recycle]]
 * Output: one key=value line: entries, MB/s, response p50/p99/p99.9/max ms, fdatasync p50/p99/max ms;
 * --lat F writes the response-time percentile table as mg_bench_load does (pct ms 0).
 * The files are removed at the end. Plain C, no libraries. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAXF 64
#define MAXIOV 256

static int nfiles = 4;
static long entry_bytes = 103060;
static double rate = 731; /* entries per second per file */
static double seconds = 8, warmup = 1;
static const char *dir, *lat_file;
static uint64_t seg_bytes; /* --seg: roll past this size (0: one file for the run) */
static int recycle;        /* --recycle: a new segment is the file two segments back */
static uint64_t t0;
static char *data;

typedef struct {
    int fd, idx, seg;
    uint64_t off, stale;
    long n;            /* entries due over the run */
    uint64_t *lat;     /* per counted entry, µs */
    long nlat;
    uint64_t *sync_us; /* per fdatasync */
    long nsync, cap_sync;
    char path[512];
} writer_t;

static writer_t ws[MAXF];

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void die(const char *m)
{
    fprintf(stderr, "disk_paced: %s: %s\n", m, strerror(errno));
    exit(1);
}

static void seg_name(const writer_t *w, int seg, char *out, size_t n)
{
    snprintf(out, n, "%s/disk_paced.%d.%d", dir, w->idx, seg);
}

static void sync_dir(void)
{
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0 || fsync(d)) die("fsync dir");
    close(d);
}

/* Start segment w->seg + 1 (see the top comment). */
static void roll(writer_t *w)
{
    if (fdatasync(w->fd)) die("fdatasync");
    if (w->stale > w->off && ftruncate(w->fd, (off_t)w->off)) die("ftruncate");
    close(w->fd);
    w->seg++;
    seg_name(w, w->seg, w->path, sizeof w->path);
    char old[512];
    seg_name(w, w->seg - 2, old, sizeof old);
    struct stat st;
    if (w->seg >= 2 && recycle && stat(old, &st) == 0 && rename(old, w->path) == 0) {
        w->fd = open(w->path, O_WRONLY | O_CLOEXEC);
        w->stale = (uint64_t)st.st_size;
    } else {
        if (w->seg >= 2) unlink(old);
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        w->stale = 0;
    }
    if (w->fd < 0) die(w->path);
    sync_dir();
    w->off = 0;
}

/* when entry i of file f is due (see the top comment) */
static uint64_t due_at(int f, long i)
{
    return t0 + (uint64_t)(((double)i + (double)f / nfiles) * 1e6 / rate);
}

static void sleep_until(uint64_t at)
{
    struct timespec ts = {(time_t)(at / 1000000), (long)(at % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void *writer(void *arg)
{
    writer_t *w = arg;
    struct iovec iov[MAXIOV];
    long next = 0; /* first entry not yet written */
    while (next < w->n) {
        uint64_t now = mono_us();
        if (due_at(w->idx, next) > now) {
            sleep_until(due_at(w->idx, next));
            now = mono_us();
        }
        long k = 0;
        while (next + k < w->n && k < MAXIOV && due_at(w->idx, next + k) <= now) {
            iov[k].iov_base = data;
            iov[k].iov_len = (size_t)entry_bytes;
            k++;
        }
        size_t want = (size_t)k * (size_t)entry_bytes, done = 0;
        if (seg_bytes && w->off > 0 && w->off + want > seg_bytes) roll(w);
        while (done < want) { /* short writes continue where they stopped */
            ssize_t r = pwritev(w->fd, iov, (int)k, (off_t)w->off);
            if (r < 0) {
                if (errno == EINTR) continue;
                die("writev");
            }
            done += (size_t)r;
            w->off += (uint64_t)r;
            size_t skip = (size_t)r; /* advance the iovecs past what was written */
            int j = 0;
            while (j < k && skip >= iov[j].iov_len) skip -= iov[j++].iov_len;
            if (j < k) {
                iov[j].iov_base = (char *)iov[j].iov_base + skip;
                iov[j].iov_len -= skip;
            }
            memmove(iov, iov + j, (size_t)(k - j) * sizeof *iov);
            k -= j;
        }
        k = (long)(want / (size_t)entry_bytes);
        uint64_t s0 = mono_us();
        if (fdatasync(w->fd)) die("fdatasync");
        uint64_t s1 = mono_us();
        if (w->nsync == w->cap_sync) {
            w->cap_sync = w->cap_sync ? w->cap_sync * 2 : 4096;
            w->sync_us = realloc(w->sync_us, (size_t)w->cap_sync * sizeof *w->sync_us);
            if (!w->sync_us) die("realloc");
        }
        w->sync_us[w->nsync++] = s1 - s0;
        for (long j = 0; j < k; j++, next++) {
            uint64_t d = due_at(w->idx, next);
            if (d >= t0 + (uint64_t)(warmup * 1e6)) w->lat[w->nlat++] = s1 - d;
        }
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *v, long n, double p)
{
    if (!n) return 0;
    long i = (long)(p * (double)n);
    if (i >= n) i = n - 1;
    return (double)v[i] / 1000.0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        if (!strcmp(a, "--dir") && v) dir = argv[++i];
        else if (!strcmp(a, "-f") && v) nfiles = atoi(argv[++i]);
        else if (!strcmp(a, "-b") && v) entry_bytes = atol(argv[++i]);
        else if (!strcmp(a, "-r") && v) rate = atof(argv[++i]);
        else if (!strcmp(a, "-t") && v) seconds = atof(argv[++i]);
        else if (!strcmp(a, "--warmup") && v) warmup = atof(argv[++i]);
        else if (!strcmp(a, "--lat") && v) lat_file = argv[++i];
        else if (!strcmp(a, "--seg") && v) seg_bytes = (uint64_t)atol(argv[++i]) << 20;
        else if (!strcmp(a, "--recycle")) recycle = 1;
        else {
            fprintf(stderr, "usage: disk_paced --dir D [-f files] [-b bytes] [-r entries/s per file] [-t s] [--warmup s] [--lat F] [--seg MB [--recycle]]\n");
            return 2;
        }
    }
    if (!dir || nfiles < 1 || nfiles > MAXF || entry_bytes < 1 || rate <= 0 || seconds <= 0) {
        fprintf(stderr, "disk_paced: --dir is required; files 1..%d, bytes, rate and seconds > 0\n", MAXF);
        return 2;
    }
    data = malloc((size_t)entry_bytes);
    if (!data) die("malloc");
    for (long i = 0; i < entry_bytes; i++) data[i] = (char)(i * 2654435761u >> 13); /* not all zeroes */
    long n = (long)((warmup + seconds) * rate);
    for (int f = 0; f < nfiles; f++) {
        writer_t *w = &ws[f];
        w->idx = f;
        seg_name(w, 0, w->path, sizeof w->path);
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w->fd < 0) die(w->path);
        w->n = n;
        w->lat = malloc((size_t)n * sizeof *w->lat);
        if (!w->lat) die("malloc");
    }
    pthread_t th[MAXF];
    t0 = mono_us() + 10000;
    for (int f = 0; f < nfiles; f++)
        if (pthread_create(&th[f], NULL, writer, &ws[f])) die("pthread_create");
    for (int f = 0; f < nfiles; f++) pthread_join(th[f], NULL);
    double secs = (double)(mono_us() - t0) / 1e6;

    long nl = 0, ns = 0;
    for (int f = 0; f < nfiles; f++) nl += ws[f].nlat, ns += ws[f].nsync;
    uint64_t *lat = malloc((size_t)(nl ? nl : 1) * sizeof *lat), *syn = malloc((size_t)(ns ? ns : 1) * sizeof *syn);
    if (!lat || !syn) die("malloc");
    long li = 0, si = 0;
    for (int f = 0; f < nfiles; f++) {
        memcpy(lat + li, ws[f].lat, (size_t)ws[f].nlat * sizeof *lat);
        li += ws[f].nlat;
        memcpy(syn + si, ws[f].sync_us, (size_t)ws[f].nsync * sizeof *syn);
        si += ws[f].nsync;
        close(ws[f].fd);
        for (int k = ws[f].seg >= 2 ? ws[f].seg - 2 : 0; k <= ws[f].seg; k++) {
            char p[512];
            seg_name(&ws[f], k, p, sizeof p);
            unlink(p);
        }
    }
    qsort(lat, (size_t)nl, sizeof *lat, cmp_u64);
    qsort(syn, (size_t)ns, sizeof *syn, cmp_u64);
    if (lat_file) {
        FILE *f = fopen(lat_file, "w");
        if (!f) die(lat_file);
        static const double ps[] = {.5, .75, .9, .95, .99, .995, .999, .9995, .9999};
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) fprintf(f, "%g %.3f 0\n", ps[i] * 100, pct_ms(lat, nl, ps[i]));
        fclose(f);
    }
    printf("files=%d entry_bytes=%ld rate_per_file=%.0f seconds=%.3f entries=%ld MB_per_s=%.1f "
           "resp_p50_ms=%.3f resp_p99_ms=%.3f resp_p999_ms=%.3f resp_max_ms=%.3f "
           "syncs=%ld entries_per_sync=%.2f sync_p50_ms=%.3f sync_p99_ms=%.3f sync_max_ms=%.3f\n",
           nfiles, entry_bytes, rate, secs, n * nfiles, (double)(n * nfiles) * (double)entry_bytes / secs / 1048576.0,
           pct_ms(lat, nl, .5), pct_ms(lat, nl, .99), pct_ms(lat, nl, .999), nl ? (double)lat[nl - 1] / 1000.0 : 0,
           ns, ns ? (double)(n * nfiles) / (double)ns : 0, pct_ms(syn, ns, .5), pct_ms(syn, ns, .99),
           ns ? (double)syn[ns - 1] / 1000.0 : 0);
    return 0;
}
