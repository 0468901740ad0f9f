/* test_storage.c - unit tests for the embedded ledger store (src/storage/ledger.c): append and
 * completion order, reopen, recovery of torn and corrupt tails, segment roll and trim, ledger
 * ids, cache eviction, the sync_data=false path, I/O failure, many logs, recycled segment files.
 * Each test works in its own mkdtemp directory, removed at teardown.
 * Run one test: CMOCKA_TEST_ABORT=1 build/bin/test_storage, or filter with CMOCKA_FILTER. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/crc32c.h"
#include "storage/ledger.h"

#define TOPIC "persistent://public/default/t1"

typedef struct fixture {
    char dir[64];
} fixture_t;

typedef struct done {
    int n;
    int errors;
    int last_status;
    uint64_t ids[4096];
} done_t;

static void on_done(void *arg, int status, uint64_t id)
{
    done_t *d = arg;
    if (status < 0) d->errors++;
    d->last_status = status;
    if (d->n < 4096) d->ids[d->n] = id;
    d->n++;
}

/* Dispatch completions until d->n reaches want (fails after 10 s without progress). */
static void wait_done(mg_store_t *s, done_t *d, int want)
{
    while (d->n < want) {
        struct pollfd p = {.fd = store_event_fd(s), .events = POLLIN};
        int r = poll(&p, 1, 10000);
        assert_true(r > 0);
        store_dispatch_completions(s);
    }
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    return remove(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mg-storage-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static store_opts_t opts(uint64_t seg_max, uint64_t cache_max, bool sync)
{
    store_opts_t o = {.sync_data = sync, .group_wait_ms = 0, .segment_max_bytes = seg_max,
                      .cache_max_bytes = cache_max};
    return o;
}

static mg_store_t *open_store(fixture_t *f, store_opts_t o)
{
    char err[256] = "";
    mg_store_t *s = store_open(f->dir, &o, err, sizeof err);
    if (!s) fail_msg("store_open: %s", err);
    return s;
}

static mg_log_t *open_log(mg_store_t *s, const char *topic, bool create)
{
    char err[256] = "";
    mg_log_t *l = log_open(s, topic, create, err, sizeof err);
    if (!l) fail_msg("log_open(%s): %s", topic, err);
    return l;
}

/* Entry i of a test: "entry-<i>-" padded with a byte pattern to len bytes. */
static mg_entry_t *make_entry(int i, uint32_t len)
{
    mg_entry_t *e = entry_new(NULL, len);
    assert_non_null(e);
    char head[32];
    int n = snprintf(head, sizeof head, "entry-%d-", i);
    for (uint32_t k = 0; k < len; k++)
        e->data[k] = k < (uint32_t)n ? (uint8_t)head[k] : (uint8_t)(i * 7 + k);
    return e;
}

static void append_n(mg_log_t *l, int from, int n, uint32_t len, done_t *d)
{
    for (int i = from; i < from + n; i++) {
        mg_entry_t *e = make_entry(i, len);
        assert_int_equal(log_append(l, e, on_done, d), 0);
        assert_int_equal(e->entry_id, (uint64_t)i);
        assert_int_equal(e->ledger_id, log_ledger_id(l));
        entry_unref(e);
    }
}

static void check_entry(mg_log_t *l, int i, uint32_t len)
{
    mg_entry_t *e = NULL;
    int rc = log_read(l, (uint64_t)i, &e);
    if (rc != 0) fail_msg("log_read(%d) = %d", i, rc);
    mg_entry_t *want = make_entry(i, len);
    assert_int_equal(e->len, len);
    assert_int_equal(e->entry_id, (uint64_t)i);
    assert_int_equal(e->ledger_id, log_ledger_id(l));
    assert_memory_equal(e->data, want->data, len);
    entry_unref(want);
    entry_unref(e);
}

/* Files in dir (names not starting with '.'); their inode numbers in ino[] when given, the
 * last name in last when given. */
static int list_files(const char *dir, ino_t *ino, int max, char *last, size_t lastlen)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (ino && n < max) ino[n] = de->d_ino;
        if (last) snprintf(last, lastlen, "%s", de->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* Path of the only log directory of the store (tests with one log). */
static void log_dir_of(fixture_t *f, char *out, size_t outlen)
{
    char ld[128], name[256];
    snprintf(ld, sizeof ld, "%s/ledgers", f->dir);
    assert_int_equal(list_files(ld, NULL, 0, name, sizeof name), 1);
    snprintf(out, outlen, "%s/%s", ld, name);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}


/* Files in the store's recycled-segment directory (their inodes in ino[] when given). */
static int recycled_files(fixture_t *f, ino_t *ino, int max)
{
    char rdir[128];
    snprintf(rdir, sizeof rdir, "%s/ledgers/.recycled", f->dir);
    return list_files(rdir, ino, max, NULL, 0);
}

/* Reopen the store and the log of topic: it holds entries [first, end) of 100 bytes. */
static void reopen_check(fixture_t *f, store_opts_t o, const char *topic, int first, int end)
{
    mg_store_t *s = open_store(f, o);
    mg_log_t *l = open_log(s, topic, false);
    assert_int_equal(log_first_id(l), (uint64_t)first);
    assert_int_equal(log_durable_end(l), (uint64_t)end);
    for (int i = first; i < end; i++) check_entry(l, i, 100);
    store_close(s);
}

/* Options of the recycling tests: 1000-byte segments (8 records of 124 bytes each), up to
 * recycle_max segment files kept. */
static store_opts_t recycling_opts(int recycle_max)
{
    store_opts_t o = opts(1000, 1 << 20, true);
    o.recycle_max = recycle_max;
    return o;
}

/* A store with options o and TOPIC holding entries 0..n-1 of 100 bytes, durable. */
static mg_store_t *store_with_entries(fixture_t *f, store_opts_t o, int n, mg_log_t **l)
{
    mg_store_t *s = open_store(f, o);
    *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(*l, 0, n, 100, &d);
    wait_done(s, &d, n);
    return s;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* ------------------------------------------------------------------------------------------ */

static void test_append_order(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    assert_true(log_ledger_id(l) > 0);
    assert_int_equal(log_first_id(l), 0);
    assert_int_equal(log_durable_end(l), 0);
    done_t d = {0};
    append_n(l, 0, 100, 64, &d);
    assert_int_equal(log_next_id(l), 100);
    wait_done(s, &d, 100);
    assert_int_equal(d.errors, 0);
    for (int i = 0; i < 100; i++) assert_int_equal(d.ids[i], (uint64_t)i);
    assert_int_equal(log_durable_end(l), 100);
    for (int i = 0; i < 100; i++) check_entry(l, i, 64);
    mg_entry_t *e = NULL;
    assert_int_equal(log_read(l, 100, &e), -ENOENT);
    assert_null(e);
    assert_int_equal(log_size_bytes(l), 100 * (24 + 64));
    store_close(s);
}

static void test_group_wait_and_zero_len(void **state)
{
    fixture_t *f = *state;
    store_opts_t o = opts(1 << 20, 1 << 20, true);
    o.group_wait_ms = 5;
    mg_store_t *s = open_store(f, o);
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 10, 0, &d);
    append_n(l, 10, 10, 300, &d);
    wait_done(s, &d, 20);
    assert_int_equal(d.errors, 0);
    for (int i = 0; i < 10; i++) check_entry(l, i, 0);
    for (int i = 10; i < 20; i++) check_entry(l, i, 300);
    store_close(s);
}

static void test_reopen(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    char err[128] = "";
    assert_null(log_open(s, TOPIC, false, err, sizeof err));
    assert_string_equal(err, "not found");
    assert_false(log_exists(s, TOPIC));
    mg_log_t *l = open_log(s, TOPIC, true);
    assert_true(log_exists(s, TOPIC));
    assert_null(log_open(s, TOPIC, true, err, sizeof err)); /* already open */
    uint64_t lid = log_ledger_id(l);
    done_t d = {0};
    append_n(l, 0, 50, 200, &d);
    wait_done(s, &d, 50);
    store_close(s);

    s = open_store(f, opts(1 << 20, 1 << 20, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_ledger_id(l), lid);
    assert_int_equal(log_first_id(l), 0);
    assert_int_equal(log_durable_end(l), 50);
    assert_int_equal(log_next_id(l), 50);
    for (int i = 0; i < 50; i++) check_entry(l, i, 200);
    done_t d2 = {0};
    append_n(l, 50, 10, 200, &d2);
    wait_done(s, &d2, 10);
    assert_int_equal(d2.ids[0], 50);
    for (int i = 0; i < 60; i++) check_entry(l, i, 200);
    log_close(l);
    l = open_log(s, TOPIC, false);
    for (int i = 59; i >= 0; i--) check_entry(l, i, 200); /* backwards: index path */
    store_close(s);
}

static void test_torn_tail(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 10, 100, &d);
    wait_done(s, &d, 10);
    store_close(s);

    char ldir[512], seg[1024];
    log_dir_of(f, ldir, sizeof ldir);
    snprintf(seg, sizeof seg, "%s/00000000000000000000.seg", ldir);
    off_t sz = file_size(seg);
    assert_int_equal(sz, 10 * 124);
    /* cut the last record in the middle, then add garbage as a torn write would */
    assert_int_equal(truncate(seg, sz - 50), 0);
    int fd = open(seg, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage-garbage-garbage", 23), 23);
    close(fd);

    s = open_store(f, opts(1 << 20, 1 << 20, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 9);
    assert_int_equal(log_next_id(l), 9);
    assert_int_equal(file_size(seg), 9 * 124);
    for (int i = 0; i < 9; i++) check_entry(l, i, 100);
    mg_entry_t *e;
    assert_int_equal(log_read(l, 9, &e), -ENOENT);
    done_t d2 = {0};
    append_n(l, 9, 3, 100, &d2);
    wait_done(s, &d2, 3);
    assert_int_equal(d2.errors, 0);
    store_close(s);

    s = open_store(f, opts(1 << 20, 1 << 20, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 12);
    for (int i = 0; i < 12; i++) check_entry(l, i, 100);
    store_close(s);
}

static void test_corrupt_crc_in_tail(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 10, 100, &d);
    wait_done(s, &d, 10);
    store_close(s);

    char ldir[512], seg[1024];
    log_dir_of(f, ldir, sizeof ldir);
    snprintf(seg, sizeof seg, "%s/00000000000000000000.seg", ldir);
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    off_t at = 5 * 124 + 24 + 40; /* inside the data of entry 5 */
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);

    s = open_store(f, opts(1 << 20, 1 << 20, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 5);
    assert_int_equal(file_size(seg), 5 * 124);
    for (int i = 0; i < 5; i++) check_entry(l, i, 100);
    done_t d2 = {0};
    append_n(l, 5, 5, 100, &d2);
    wait_done(s, &d2, 5);
    for (int i = 0; i < 10; i++) check_entry(l, i, 100);
    store_close(s);
}

static void test_roll_and_trim(void **state)
{
    fixture_t *f = *state;
    /* 124-byte records, 8 per 1000-byte segment */
    mg_store_t *s = open_store(f, opts(1000, 1 << 20, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 50, 100, &d);
    wait_done(s, &d, 50);
    log_segment_info_t si[16];
    int n = log_segments(l, si, 16);
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++) {
        assert_int_equal(si[i].first_id, (uint64_t)i * 8);
        assert_int_equal(si[i].end_id, i == 6 ? 50 : (uint64_t)(i + 1) * 8);
        assert_int_equal(si[i].bytes, (si[i].end_id - si[i].first_id) * 124);
        assert_true(si[i].mtime_ms > 0);
    }
    assert_int_equal(log_size_bytes(l), 50 * 124);
    assert_int_equal(log_bytes_from(l, 0), 50 * 124);
    assert_int_equal(log_bytes_from(l, 16), 34 * 124);
    assert_int_equal(log_bytes_from(l, 50), 0);

    assert_int_equal(log_trim(l, 15), 1); /* [8,16) still holds 15 */
    assert_int_equal(log_trim(l, 20), 1);
    assert_int_equal(log_first_id(l), 16);
    mg_entry_t *e;
    assert_int_equal(log_read(l, 15, &e), -ENOENT);
    check_entry(l, 16, 100);
    assert_int_equal(log_trim(l, 1000), 4); /* never the active segment */
    assert_int_equal(recycled_files(f, NULL, 0), 0); /* recycle_max 0: deleted */
    assert_int_equal(log_first_id(l), 48);
    assert_int_equal(log_segments(l, si, 16), 1);
    store_close(s);

    s = open_store(f, opts(1000, 1 << 20, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_first_id(l), 48);
    assert_int_equal(log_durable_end(l), 50);
    check_entry(l, 48, 100);
    check_entry(l, 49, 100);
    assert_int_equal(log_read(l, 47, &e), -ENOENT);
    store_close(s);
}

static void test_recycled_segments(void **state)
{
    fixture_t *f = *state;
    store_opts_t o = recycling_opts(3);
    mg_log_t *l;
    mg_store_t *s = store_with_entries(f, o, 50, &l);
    /* six closed segments trimmed: three are kept for reuse, the others deleted */
    assert_int_equal(log_trim(l, 48), 6);
    char ldir[512], seg[1024];
    log_dir_of(f, ldir, sizeof ldir);
    ino_t kept[3];
    assert_int_equal(recycled_files(f, kept, 3), 3);
    assert_int_equal(list_files(ldir, NULL, 0, NULL, 0), 2); /* meta and segment 48 */

    /* the next three segments are those files, written over */
    done_t d2 = {0};
    append_n(l, 50, 28, 100, &d2);
    wait_done(s, &d2, 28);
    assert_int_equal(d2.errors, 0);
    assert_int_equal(recycled_files(f, NULL, 0), 0);
    for (uint64_t first = 56; first <= 72; first += 8) {
        snprintf(seg, sizeof seg, "%s/%020" PRIu64 ".seg", ldir, first);
        ino_t ino = inode_of(seg);
        assert_true(ino == kept[0] || ino == kept[1] || ino == kept[2]);
    }
    for (int i = 48; i < 78; i++) check_entry(l, i, 100);
    store_close(s);
    /* closed, each file holds its own records only: segment 72 has 6 of the old file's 8 */
    for (uint64_t first = 56; first <= 72; first += 8) {
        snprintf(seg, sizeof seg, "%s/%020" PRIu64 ".seg", ldir, first);
        assert_int_equal(file_size(seg), (first == 72 ? 6 : 8) * 124);
    }
    reopen_check(f, o, TOPIC, 48, 78);
}

/* The case the record tag is for: log B's new segment is log A's old file, whose records have
 * the same sizes and the very ids B writes next. The process ends without closing (as in a
 * crash), so A's records are still there after B's three; recovery must stop at B's. */
static void test_recycled_old_bytes_after_crash(void **state)
{
    fixture_t *f = *state;
    store_opts_t o = recycling_opts(4);
    const char *ta = "persistent://public/default/a", *tb = "persistent://public/default/b";
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        mg_store_t *s = store_open(f->dir, &o, err, sizeof err);
        mg_log_t *a = s ? log_open(s, ta, true, err, sizeof err) : NULL;
        mg_log_t *b = s ? log_open(s, tb, true, err, sizeof err) : NULL;
        if (!a || !b) _exit(2);
        done_t d = {0};
        for (int i = 0; i < 24; i++) {
            mg_entry_t *e = make_entry(i, 100);
            if (log_append(a, e, on_done, &d) < 0) _exit(3);
            entry_unref(e);
        }
        wait_done(s, &d, 24);
        /* recycled: A's segments 0 and 8; the next taken is the one with ids 8..15 */
        if (log_trim(a, 16) != 2) _exit(4);
        done_t d2 = {0};
        for (int i = 0; i < 11; i++) {
            mg_entry_t *e = make_entry(1000 + i, 100);
            if (log_append(b, e, on_done, &d2) < 0) _exit(5);
            entry_unref(e);
        }
        wait_done(s, &d2, 11);
        _exit(d.errors || d2.errors ? 6 : 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);

    mg_store_t *s = open_store(f, o);
    mg_log_t *b = open_log(s, tb, false);
    assert_int_equal(log_durable_end(b), 11);
    mg_entry_t *e;
    for (uint64_t i = 0; i < 11; i++) {
        assert_int_equal(log_read(b, i, &e), 0);
        char want[32];
        int n = snprintf(want, sizeof want, "entry-%d-", 1000 + (int)i);
        assert_memory_equal(e->data, want, (size_t)n);
        entry_unref(e);
    }
    assert_int_equal(log_read(b, 11, &e), -ENOENT);
    store_close(s);
    reopen_check(f, o, ta, 16, 24);
}

/* A segment some output still sends from (a segment file reference) is deleted, not written
 * over: the reference keeps reading the old bytes. */
static void test_recycle_skips_file_in_use(void **state)
{
    fixture_t *f = *state;
    mg_log_t *l;
    mg_store_t *s = store_with_entries(f, recycling_opts(4), 20, &l);
    mg_entry_t *e;
    assert_int_equal(log_read(l, 3, &e), 0);
    uint64_t off = 0;
    mg_segfile_t *sf = log_entry_file(l, e, &off);
    assert_non_null(sf);
    assert_int_equal(log_trim(l, 16), 2);
    assert_int_equal(recycled_files(f, NULL, 0), 1); /* segment 8 only */
    done_t d2 = {0};
    append_n(l, 20, 20, 100, &d2); /* rolls at 24: takes segment 8's file */
    wait_done(s, &d2, 20);
    assert_int_equal(recycled_files(f, NULL, 0), 0);
    uint8_t buf[100];
    assert_int_equal(pread(segfile_fd(sf), buf, 100, (off_t)off), 100);
    assert_memory_equal(buf, e->data, 100);
    segfile_unref(sf);
    entry_unref(e);
    store_close(s);
}

/* Rewrite every record of a segment of 124-byte records (100 data bytes) as a build before
 * record tags wrote it: tag 0, CRC over the header with that 0. */
static void untag_segment(const char *path, int nrec)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    for (int i = 0; i < nrec; i++) {
        uint8_t r[124];
        assert_int_equal(pread(fd, r, sizeof r, (off_t)i * 124), 124);
        memset(r + 12, 0, 4);
        uint32_t crc = crc32c(crc32c(0, r + 8, 16), r + 24, 100);
        for (int k = 0; k < 4; k++) r[4 + k] = (uint8_t)(crc >> (8 * k));
        assert_int_equal(pwrite(fd, r, sizeof r, (off_t)i * 124), 124);
    }
    close(fd);
}

/* A store written before record tags: read as before, continued with tagged records, and its
 * untagged segments deleted when trimmed, never recycled (their bytes carry no log's tag). */
static void test_untagged_records_from_older_builds(void **state)
{
    fixture_t *f = *state;
    store_opts_t o = recycling_opts(4);
    mg_log_t *l;
    store_close(store_with_entries(f, o, 20, &l)); /* segments 0, 8, 16 (4 records) */
    char ldir[512], seg[1024];
    log_dir_of(f, ldir, sizeof ldir);
    for (int first = 0; first <= 16; first += 8) {
        snprintf(seg, sizeof seg, "%s/%020d.seg", ldir, first);
        untag_segment(seg, first == 16 ? 4 : 8);
    }
    mg_store_t *s = open_store(f, o);
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 20);
    for (int i = 0; i < 20; i++) check_entry(l, i, 100);
    done_t d2 = {0};
    append_n(l, 20, 4, 100, &d2); /* into the untagged tail segment */
    wait_done(s, &d2, 4);
    assert_int_equal(log_trim(l, 16), 2);
    assert_int_equal(recycled_files(f, NULL, 0), 0);
    store_close(s);
    reopen_check(f, o, TOPIC, 16, 24);
}

/* batch_wakeups: an append wakes no worker, it counts one wake-up per log it makes ready, and
 * store_kick (the broker's loop calls it before it sleeps) gives them; log_close kicks what is
 * queued itself, so it never waits for a worker nobody woke. Whether a worker is woken cannot be
 * seen from outside without a race (a worker still starting takes a ready log without being
 * woken), so the test checks the count. */
static void test_batch_wakeups(void **state)
{
    fixture_t *f = *state;
    store_opts_t o = opts(1 << 20, 1 << 20, true);
    o.batch_wakeups = true;
    mg_store_t *s = open_store(f, o);
    mg_log_t *l = open_log(s, TOPIC, true);
    mg_log_t *l2 = open_log(s, TOPIC "-2", true);
    done_t d = {0};
    assert_int_equal(store_kicks_pending(s), 0);
    append_n(l, 0, 1, 100, &d);
    assert_int_equal(store_kicks_pending(s), 1);
    append_n(l2, 0, 1, 100, &d);
    assert_int_equal(store_kicks_pending(s), 2);
    store_kick(s);
    assert_int_equal(store_kicks_pending(s), 0);
    wait_done(s, &d, 2);
    assert_int_equal(d.errors, 0);
    append_n(l, 1, 2, 100, &d);
    store_kick(s);
    wait_done(s, &d, 4);
    assert_int_equal(d.errors, 0);
    done_t d2 = {0};
    append_n(l, 3, 2, 100, &d2);
    log_close(l); /* writes them (callbacks dropped) */
    store_close(s);
    reopen_check(f, o, TOPIC, 0, 5);
}

static void test_closed_segment_corrupt_reads_eio(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1000, 0, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 20, 100, &d);
    wait_done(s, &d, 20);
    store_close(s);

    char ldir[512], seg[1024];
    log_dir_of(f, ldir, sizeof ldir);
    snprintf(seg, sizeof seg, "%s/00000000000000000000.seg", ldir);
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b = 0xff;
    assert_int_equal(pwrite(fd, &b, 1, 3 * 124 + 24 + 7), 1);
    close(fd);

    s = open_store(f, opts(1000, 0, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 20); /* only the tail is scanned at open */
    mg_entry_t *e = NULL;
    check_entry(l, 2, 100);
    assert_int_equal(log_read(l, 3, &e), -EIO);
    assert_null(e);
    check_entry(l, 4, 100);
    check_entry(l, 12, 100);
    store_close(s);
}

static void test_delete_recreate_new_ledger_id(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    uint64_t id1 = log_ledger_id(l);
    mg_log_t *l2 = open_log(s, TOPIC "-other", true);
    uint64_t id2 = log_ledger_id(l2);
    assert_true(id2 != id1);
    done_t d = {0};
    append_n(l, 0, 5, 10, &d);
    wait_done(s, &d, 5);
    assert_int_equal(log_delete(s, TOPIC), -1); /* still open */
    log_close(l);
    assert_int_equal(log_delete(s, TOPIC), 0);
    assert_false(log_exists(s, TOPIC));
    assert_true(log_exists(s, TOPIC "-other"));
    l = open_log(s, TOPIC, true);
    uint64_t id3 = log_ledger_id(l);
    assert_true(id3 > id1 && id3 > id2);
    assert_int_equal(log_next_id(l), 0);
    log_close(l);
    assert_int_equal(log_delete(s, TOPIC), 0);
    store_close(s);

    s = open_store(f, opts(1 << 20, 1 << 20, true));
    l = open_log(s, TOPIC, true);
    assert_true(log_ledger_id(l) > id3);
    l2 = open_log(s, TOPIC "-other", false);
    assert_int_equal(log_ledger_id(l2), id2);
    store_close(s);
}

static void test_cache_eviction_reads_disk(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(8000, 4096, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    mg_log_t *l2 = open_log(s, TOPIC "-b", true);
    done_t d = {0};
    append_n(l, 0, 200, 100, &d);
    append_n(l2, 0, 200, 100, &d);
    wait_done(s, &d, 400);
    assert_int_equal(d.errors, 0);
    int order[] = {150, 3, 77, 199, 0, 31, 32, 33, 64, 63};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        check_entry(l, order[i], 100);
        check_entry(l2, order[i], 100);
    }
    for (int i = 0; i < 200; i++) check_entry(l, i, 100);
    for (int i = 0; i < 200; i++) check_entry(l2, i, 100);
    /* an entry larger than the whole cache is not cached, still readable */
    done_t d2 = {0};
    mg_entry_t *big = make_entry(200, 10000);
    assert_int_equal(log_append(l, big, on_done, &d2), 0);
    entry_unref(big);
    wait_done(s, &d2, 1);
    check_entry(l, 200, 10000);
    store_close(s);
}

static void test_no_sync_data(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(4096, 0, false));
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 300, 50, &d);
    wait_done(s, &d, 300);
    assert_int_equal(d.errors, 0);
    for (int i = 0; i < 300; i++) assert_int_equal(d.ids[i], (uint64_t)i);
    for (int i = 0; i < 300; i++) check_entry(l, i, 50);
    store_close(s);
    s = open_store(f, opts(4096, 0, false));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 300);
    for (int i = 0; i < 300; i++) check_entry(l, i, 50);
    store_close(s);
}

static void test_close_drops_callbacks(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 100, 100, &d);
    log_close(l);
    store_dispatch_completions(s);
    assert_int_equal(d.n, 0);
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 100); /* queued appends were still written */
    append_n(l, 100, 20, 100, &d);
    store_close(s); /* flushes queued appends, drops callbacks */
    assert_int_equal(d.n, 0);
    s = open_store(f, opts(1 << 20, 1 << 20, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 120);
    for (int i = 0; i < 120; i++) check_entry(l, i, 100);
    store_close(s);
}

/* A callback that closes its own log while later completions of it are being dispatched. */
typedef struct closer {
    mg_log_t *l;
    int calls;
} closer_t;

static void on_done_close(void *arg, int status, uint64_t id)
{
    closer_t *c = arg;
    c->calls++;
    if (c->l) {
        log_close(c->l);
        c->l = NULL;
    }
}

static void test_close_from_callback(void **state)
{
    fixture_t *f = *state;
    store_opts_t o = opts(1 << 20, 1 << 20, true);
    o.group_wait_ms = 20; /* gather all appends in one group */
    mg_store_t *s = open_store(f, o);
    mg_log_t *l = open_log(s, TOPIC, true);
    closer_t c = {.l = l};
    for (int i = 0; i < 10; i++) {
        mg_entry_t *e = make_entry(i, 10);
        assert_int_equal(log_append(l, e, on_done_close, &c), 0);
        entry_unref(e);
    }
    while (c.l) {
        struct pollfd p = {.fd = store_event_fd(s), .events = POLLIN};
        assert_true(poll(&p, 1, 10000) > 0);
        store_dispatch_completions(s);
    }
    assert_true(c.calls >= 1);
    int calls = c.calls;
    store_dispatch_completions(s);
    assert_int_equal(c.calls, calls);
    store_close(s);
}

static void test_write_failure_fails_log(void **state)
{
    fixture_t *f = *state;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    mg_store_t *s = open_store(f, opts(64 << 20, 1 << 20, true));
    mg_log_t *l = open_log(s, TOPIC, true);
    done_t d = {0};
    append_n(l, 0, 2, 100, &d);
    wait_done(s, &d, 2);

    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 1 << 20;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    mg_entry_t *e = make_entry(2, 2 << 20);
    assert_int_equal(log_append(l, e, on_done, &d), 0);
    entry_unref(e);
    e = make_entry(3, 10);
    assert_int_equal(log_append(l, e, on_done, &d), 0);
    entry_unref(e);
    wait_done(s, &d, 4);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(d.errors, 2);
    assert_int_equal(d.last_status, -EFBIG);
    assert_int_equal(log_durable_end(l), 2);
    e = make_entry(4, 10);
    assert_int_equal(log_append(l, e, on_done, &d), -1);
    entry_unref(e);
    check_entry(l, 1, 100);
    store_close(s);

    /* the partial record was cut: reopening gives the two good entries */
    s = open_store(f, opts(64 << 20, 1 << 20, true));
    l = open_log(s, TOPIC, false);
    assert_int_equal(log_durable_end(l), 2);
    store_close(s);
}

static void test_many_logs(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, false));
    enum { N = 1000 };
    static mg_log_t *logs[N];
    done_t *d = calloc(1, sizeof *d);
    for (int i = 0; i < N; i++) {
        char t[128];
        snprintf(t, sizeof t, "persistent://tenant/ns/topic-%d-partition-%d", i / 10, i % 10);
        logs[i] = open_log(s, t, true);
        mg_entry_t *e = make_entry(0, 32);
        assert_int_equal(log_append(logs[i], e, on_done, d), 0);
        entry_unref(e);
    }
    wait_done(s, d, N);
    assert_int_equal(d->errors, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(log_durable_end(logs[i]), 1);
        check_entry(logs[i], 0, 32);
        log_close(logs[i]);
    }
    store_close(s);
    s = open_store(f, opts(1 << 20, 1 << 20, false));
    for (int i = 0; i < N; i += 37) {
        char t[128];
        snprintf(t, sizeof t, "persistent://tenant/ns/topic-%d-partition-%d", i / 10, i % 10);
        mg_log_t *l = open_log(s, t, false);
        check_entry(l, 0, 32);
    }
    store_close(s);
    free(d);
}

/* Several logs appended in bursts while completions are dispatched: the workers write one log
 * at a time but overlap its fdatasyncs and roll small segments meanwhile; every log must still
 * complete its appends in id order, all durable, all readable after a reopen. */
static void test_interleaved_logs_overlapping_syncs(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(16 * 1024, 1 << 20, true));
    enum { L = 4, N = 300 };
    mg_log_t *logs[L];
    done_t *d = calloc(L, sizeof *d);
    for (int k = 0; k < L; k++) {
        char t[128];
        snprintf(t, sizeof t, "persistent://tenant/ns/burst-partition-%d", k);
        logs[k] = open_log(s, t, true);
    }
    for (int i = 0; i < N; i += 10) {
        for (int k = 0; k < L; k++) append_n(logs[k], i, 10, 700 + (uint32_t)k, &d[k]);
        store_dispatch_completions(s); /* take whatever is done so far, keep appending */
    }
    for (int k = 0; k < L; k++) {
        wait_done(s, &d[k], N);
        assert_int_equal(d[k].errors, 0);
        for (int i = 0; i < N; i++) assert_int_equal(d[k].ids[i], (uint64_t)i);
        assert_int_equal(log_durable_end(logs[k]), N);
        log_close(logs[k]);
    }
    store_close(s);
    s = open_store(f, opts(16 * 1024, 1 << 20, true));
    for (int k = 0; k < L; k++) {
        char t[128];
        snprintf(t, sizeof t, "persistent://tenant/ns/burst-partition-%d", k);
        mg_log_t *l = open_log(s, t, false);
        assert_int_equal(log_next_id(l), N);
        for (int i = 0; i < N; i += 7) check_entry(l, i, 700 + (uint32_t)k);
    }
    store_close(s);
    free(d);
}

/* An entry whose checksum the broker already knows (has_tail_crc: of its bytes after the first
 * crc_skip) gets its record CRC derived from it: right hints read back after a reopen, a wrong
 * one is caught as a corrupt tail. */
static void test_known_tail_crc(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    mg_log_t *l = open_log(s, "persistent://t/n/crc-hint", true);
    done_t d = {0};
    for (int i = 0; i < 5; i++) {
        mg_entry_t *e = make_entry(i, 20000);
        e->crc_skip = (uint8_t)(i % 3 == 0 ? 6 : i); /* as the broker sets it, and others */
        e->tail_crc = crc32c(0, e->data + e->crc_skip, e->len - e->crc_skip);
        if (i == 4) e->tail_crc ^= 1; /* a lie: the record fails its check on reopen */
        e->has_tail_crc = 1;
        assert_int_equal(log_append(l, e, on_done, &d), 0);
        entry_unref(e);
    }
    wait_done(s, &d, 5);
    assert_int_equal(d.errors, 0);
    log_close(l);
    store_close(s);
    s = open_store(f, opts(1 << 20, 1 << 20, true));
    l = open_log(s, "persistent://t/n/crc-hint", false);
    assert_int_equal(log_next_id(l), 4); /* the bad record is cut at open */
    for (int i = 0; i < 4; i++) check_entry(l, i, 20000);
    store_close(s);
}

static void test_names_stay_inside(void **state)
{
    fixture_t *f = *state;
    mg_store_t *s = open_store(f, opts(1 << 20, 1 << 20, true));
    const char *evil[] = {"..", ".", "../../x", "persistent://a/../../b", "a/b\n\x01c"};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        mg_log_t *l = open_log(s, evil[i], true);
        log_close(l);
        assert_true(log_exists(s, evil[i]));
    }
    /* every log directory is a direct, visible child of ledgers/ */
    char ld[128];
    snprintf(ld, sizeof ld, "%s/ledgers", f->dir);
    DIR *d = opendir(ld);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        assert_null(strchr(de->d_name, '/'));
        n++;
    }
    closedir(d);
    assert_int_equal(n, 5);
    char err[64];
    assert_null(log_open(s, "", true, err, sizeof err));
    /* very long names are shortened with a hash and still distinct */
    char *a = malloc(3001), *b = malloc(3001);
    memset(a, 'x', 3000);
    a[3000] = '\0';
    memcpy(b, a, 3001);
    b[2999] = 'y';
    mg_log_t *la = open_log(s, a, true), *lb = open_log(s, b, true);
    assert_true(log_ledger_id(la) != log_ledger_id(lb));
    log_close(la);
    log_close(lb);
    assert_true(log_exists(s, a));
    la = open_log(s, a, false);
    log_close(la);
    free(a);
    free(b);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_wait_and_zero_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_crc_in_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_and_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycled_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycled_old_bytes_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycle_skips_file_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untagged_records_from_older_builds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_wakeups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_segment_corrupt_reads_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_recreate_new_ledger_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_eviction_reads_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_sync_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_drops_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_fails_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_logs_overlapping_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_tail_crc, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
