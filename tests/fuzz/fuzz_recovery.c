/* fuzz_recovery: libFuzzer target for the store's recovery (src/storage/ledger.c): what a crash,
 * a torn write or a damaged disk leaves in a log's segment files, read back by store_open and
 * log_open.
 *
 * A template log of ENTRIES records over a few segment files is written once. Each input then
 * rewrites its first or its last file and opens the store on it:
 * - input[0] even, a torn tail: the tail segment becomes the first K bytes of its good contents
 *   (K from input[1..2]) followed by the rest of the input. Every record wholly inside those K
 *   bytes was acknowledged, so it must be read back exactly, as must the whole closed segment;
 *   then an append must succeed and be read back after another reopen.
 * - input[0] odd, a damaged closed segment: the first file becomes the rest of the input. Only
 *   that nothing crashes, leaks or reads out of bounds is checked (a read may fail; the fuzzer
 *   can forge a record's CRC, so a read that succeeds is not compared).
 * Must never crash. The work directory is under $TMPDIR (default /tmp). */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "storage/ledger.h"
#include "storage/ledger_int.h"

#define TOPIC "persistent://public/default/fuzz"
#define ENTRIES 12
#define SEG_MAX 1000 /* rolls the template into two files or more */

static char dir[256], logdir[512], seg0[600], seg1[600];
static uint8_t *tail_good; /* the tail segment's good contents */
static size_t tail_len;
static uint64_t tail_first;     /* the tail segment's first entry id */
static size_t rec_end[ENTRIES]; /* offset past each record of the tail segment (from tail_first) */

static uint32_t entry_len(int i)
{
    return 40u + (uint32_t)i * 13u;
}

static mg_entry_t *make_entry(int i)
{
    uint32_t n = entry_len(i);
    mg_entry_t *e = entry_new(NULL, n);
    if (!e) __builtin_trap();
    for (uint32_t k = 0; k < n; k++)
        e->data[k] = (uint8_t)(i * 31 + k * 7);
    return e;
}

static void on_done(void *arg, int status, uint64_t id)
{
    int *st = arg;
    *st = status < 0 ? status : (int)id;
}

static store_opts_t opts(void)
{
    store_opts_t o = {.sync_data = false, .segment_max_bytes = SEG_MAX, .cache_max_bytes = 0};
    return o;
}

static mg_store_t *open_store(void)
{
    char err[256];
    store_opts_t o = opts();
    mg_store_t *s = store_open(dir, &o, err, sizeof err);
    if (!s) __builtin_trap();
    return s;
}

/* Append entry i; returns the id it got, or -1 on failure. */
static int64_t append_wait(mg_store_t *s, mg_log_t *l, int i)
{
    int st = -1000;
    mg_entry_t *e = make_entry(i);
    int r = log_append(l, e, on_done, &st);
    entry_unref(e);
    if (r < 0) return -1;
    store_kick(s);
    while (st == -1000) {
        struct pollfd p = {.fd = store_event_fd(s), .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0) __builtin_trap();
        store_dispatch_completions(s);
    }
    return st < 0 ? -1 : st;
}

static bool entry_is(mg_log_t *l, uint64_t id, int i)
{
    mg_entry_t *e = NULL;
    if (log_read(l, id, &e) != 0) return false;
    mg_entry_t *want = make_entry(i);
    bool same = e->len == want->len && !memcmp(e->data, want->data, want->len);
    entry_unref(want);
    entry_unref(e);
    return same;
}

static void write_file(const char *path, const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) __builtin_trap();
    if ((alen && write(fd, a, alen) != (ssize_t)alen) ||
        (blen && write(fd, b, blen) != (ssize_t)blen))
        __builtin_trap();
    close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) __builtin_trap();
    struct stat st;
    if (fstat(fd, &st) < 0) __builtin_trap();
    uint8_t *p = malloc((size_t)st.st_size + 1);
    if (!p || read(fd, p, (size_t)st.st_size) != st.st_size) __builtin_trap();
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

/* Remove the segment files an iteration added after the template's. */
static void remove_extra_segments(void)
{
    DIR *d = opendir(logdir);
    if (!d) __builtin_trap();
    struct dirent *de;
    char path[1024];
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".seg")) continue;
        snprintf(path, sizeof path, "%s/%s", logdir, de->d_name);
        if (strtoull(de->d_name, NULL, 10) > tail_first) unlink(path);
    }
    closedir(d);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void remove_dir(void)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void init(void)
{
    mg_log_level = MG_LOG_ERROR - 1; /* recovery logs every cut tail: quiet */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mg-fuzz-recovery-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) __builtin_trap();
    atexit(remove_dir);
    mg_store_t *s = open_store();
    char err[256];
    mg_log_t *l = log_open(s, TOPIC, true, err, sizeof err);
    if (!l) __builtin_trap();
    for (int i = 0; i < ENTRIES; i++)
        if (append_wait(s, l, i) != i) __builtin_trap();
    store_close(s);

    /* the log's directory */
    char ld[300];
    snprintf(ld, sizeof ld, "%s/ledgers", dir);
    DIR *d = opendir(ld);
    if (!d) __builtin_trap();
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') snprintf(logdir, sizeof logdir, "%s/%s", ld, de->d_name);
    closedir(d);
    /* the first segment file (closed) and the last (the tail), named by their first ids */
    seg_path(logdir, 0, seg0, sizeof seg0);
    d = opendir(logdir);
    if (!d) __builtin_trap();
    tail_first = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 4 && !strcmp(de->d_name + n - 4, ".seg")) {
            uint64_t first = strtoull(de->d_name, NULL, 10);
            if (first > tail_first) tail_first = first;
        }
    }
    closedir(d);
    if (!tail_first) __builtin_trap(); /* SEG_MAX must roll the template */
    seg_path(logdir, tail_first, seg1, sizeof seg1);
    int first = (int)tail_first;
    size_t off;
    tail_good = read_file(seg1, &tail_len);
    off = 0;
    for (int i = first; i < ENTRIES; i++)
        rec_end[i - first] = off += REC_HDR + entry_len(i);
    if (off != tail_len) __builtin_trap(); /* the layout is not what this target assumes */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *seg0_good;
    static size_t seg0_len;
    if (!tail_good) {
        init();
        seg0_good = read_file(seg0, &seg0_len);
    }
    if (size < 3) return 0;
    bool torn = !(data[0] & 1);
    size_t keep = ((size_t)data[1] << 8 | data[2]) % (tail_len + 1);
    remove_extra_segments();
    write_file(seg0, seg0_good, torn ? seg0_len : 0, torn ? NULL : data + 3, torn ? 0 : size - 3);
    write_file(seg1, tail_good, torn ? keep : tail_len, torn ? data + 3 : NULL,
               torn ? size - 3 : 0);

    mg_store_t *s = open_store();
    char err[256];
    mg_log_t *l = log_open(s, TOPIC, false, err, sizeof err);
    if (!l) { /* refusing to open a damaged log is allowed; crashing is not */
        store_close(s);
        return 0;
    }
    uint64_t end = log_durable_end(l);
    for (uint64_t id = log_first_id(l); id < end; id++) {
        mg_entry_t *e = NULL;
        if (log_read(l, id, &e) == 0) entry_unref(e);
    }
    if (!torn) {
        store_close(s);
        return 0;
    }
    /* a torn tail: every acknowledged record before the tear reads back */
    uint64_t whole = tail_first;
    while (whole - tail_first < (uint64_t)(ENTRIES - (int)tail_first) &&
           rec_end[whole - tail_first] <= keep)
        whole++;
    if (log_first_id(l) != 0 || end < whole || log_next_id(l) != end) __builtin_trap();
    for (uint64_t id = 0; id < whole; id++)
        if (!entry_is(l, id, (int)id)) __builtin_trap();
    /* and the log takes appends again, which survive a reopen */
    int64_t got = append_wait(s, l, 5);
    if (got != (int64_t)end) __builtin_trap();
    store_close(s);
    s = open_store();
    l = log_open(s, TOPIC, false, err, sizeof err);
    if (!l || log_durable_end(l) != end + 1 || !entry_is(l, end, 5)) __builtin_trap();
    store_close(s);
    return 0;
}
