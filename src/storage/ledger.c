/* ledger.c - embedded durable storage: one append-only log per topic partition (see ledger.h).
 *
 * On disk (docs/storage.md has the long form):
 *   <dir>/ledgers/.next-ledger-id        store-wide ledger id counter, "N\n" = next id to hand
 *                                        out; rewritten with write + fsync + rename + dir fsync
 *   <dir>/ledgers/<encoded topic>/meta   "ledger_id=N\ntopic=<full name>\n" (written durably)
 *   <dir>/ledgers/<encoded topic>/<first entry id, 20 digits>.seg
 *   <dir>/ledgers/.recycled/<20 digits>  trimmed segment files kept to be written over
 * A segment is a sequence of records, each a 24-byte little-endian header then the entry bytes:
 *   u32 magic "MGR1" | u32 crc32c(header bytes 8..23 + data) | u32 len | u32 tag |
 *   u64 entry_id
 * Entry ids inside a segment are consecutive from the id in its file name, so recovery can check
 * every record's id as well as its CRC. The tag is REC_TAG(ledger id) (0 in records written
 * before tags): a new segment may be a recycled file, and the old bytes past its last record
 * belong to another log (other tag) or to an older segment of this one (lower ids), so neither
 * can pass for the next record.
 *
 * Threads: IO_THREADS storage workers per store (writer.c) write and fdatasync the logs: one
 * worker writes a given log at a time, its fdatasyncs may overlap, and different logs never
 * wait for each other. The worker writing a log owns its w_* fields (the append fd and offset).
 * Everything else, including the segment list, sparse indexes, read fds and the cache, belongs
 * to the loop thread and is updated only when a completion is dispatched. The two meet at
 * s->mu: each log's submit and written queues, the store's ready list and completion queue,
 * and each log's w_pending count.
 */
#include "storage/ledger_int.h"

#include "common/util.h"

/* ---- small helpers ------------------------------------------------------------------------ */

void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Fill a record header for entry e with id. When the broker already knows the checksum of
 * the bytes (it verified the client's), the record's is derived from it without a pass. */
static void rec_header(uint8_t *h, uint32_t tag, uint64_t id, const mg_entry_t *e)
{
    put_le32(h, REC_MAGIC);
    put_le32(h + 8, e->len);
    put_le32(h + 12, tag);
    put_le64(h + 16, id);
    uint32_t crc = crc32c(0, h + 8, REC_HDR - 8);
    if (e->has_tail_crc && e->crc_skip <= e->len) { /* one combine: header + head, then tail */
        crc = crc32c(crc, e->data, e->crc_skip);
        put_le32(h + 4, crc32c_combine(crc, e->tail_crc, e->len - e->crc_skip));
    } else {
        put_le32(h + 4, crc32c(crc, e->data, e->len));
    }
}

/* Check a header's fixed fields: 0 and *len, or -1. The CRC is checked by rec_crc_ok. */
static int rec_parse(const uint8_t *h, uint32_t tag, uint64_t want_id, uint32_t *len)
{
    uint32_t t = get_le32(h + 12);
    if (get_le32(h) != REC_MAGIC || (t != tag && t != 0)) return -1;
    if (get_le64(h + 16) != want_id) return -1;
    *len = get_le32(h + 8);
    return *len <= REC_MAX_LEN ? 0 : -1;
}

static bool rec_crc_ok(const uint8_t *h, const uint8_t *data, uint32_t len)
{
    uint32_t crc = crc32c(0, h + 8, REC_HDR - 8);
    return crc32c(crc, data, len) == get_le32(h + 4);
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* pread exactly n bytes; returns bytes read (< n only at EOF), or -1. */
static ssize_t pread_full(int fd, void *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)p + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        log_error("open(%s): %s", path, strerror(errno));
        return -1;
    }
    int rc = fsync(fd);
    if (rc < 0) log_error("fsync(%s): %s", path, strerror(errno));
    close(fd);
    return rc;
}

static int mkdir_ok(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    log_error("mkdir(%s): %s", path, strerror(errno));
    return -1;
}

/* Replace dir/name with data durably: write name.tmp, fsync, rename, fsync the directory. */
static int file_write_durable(const char *dir, const char *name, const void *data, size_t len)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp ||
        snprintf(dst, sizeof dst, "%s/%s", dir, name) >= (int)sizeof dst) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("open(%s): %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, data, len) < 0) {
        log_error("write(%s): %s", tmp, strerror(errno));
        goto fail;
    }
    if (fsync(fd) < 0) {
        log_error("fsync(%s): %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    if (rename(tmp, dst) < 0) {
        log_error("rename(%s): %s", dst, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return fsync_dir(dir);
fail:
    close(fd);
    unlink(tmp);
    return -1;
}

/* Read a small file whole into buf (NUL-terminated). Returns its length, -1 with errno. */
static ssize_t file_read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = pread_full(fd, buf, cap - 1, 0);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    if ((size_t)n == cap - 1) {
        errno = EFBIG;
        return -1;
    }
    buf[n] = '\0';
    return n;
}

/* Encode a topic name into one safe directory name: [A-Za-z0-9._-] pass through (except a
 * leading '.'), anything else becomes %XX, so no '/', "..", control character or hidden file
 * name can reach the filesystem. Names whose encoding is too long are cut and suffixed with
 * "~<64-bit FNV hash>" ('~' never appears otherwise); the meta file keeps the full name, which
 * log_open checks. Returns 0, or -1 for an empty name. */
static int name_encode(const char *topic, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0, tlen = strlen(topic);
    if (tlen == 0 || outlen < ENC_SHORT_MAX + 24) return -1;
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)topic[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || (c == '.' && i > 0);
        size_t need = plain ? 1 : 3;
        if (n + need > ENC_SHORT_MAX) {
            /* too long: keep what fits and add a hash of the whole name */
            snprintf(out + n, outlen - n, "~%016" PRIx64, hash_bytes(topic, tlen));
            return 0;
        }
        if (plain) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return 0;
}

static int log_dirpath(mg_store_t *s, const char *topic, char *out, size_t outlen)
{
    char enc[ENC_SHORT_MAX + 32];
    if (!topic || strlen(topic) > META_MAX / 2 || name_encode(topic, enc, sizeof enc) < 0)
        return -1;
    if (snprintf(out, outlen, "%s/%s", s->ldir, enc) >= (int)outlen) return -1;
    return 0;
}

void seg_path(const char *dirpath, uint64_t first, char *out, size_t outlen)
{
    /* dirpath is bounded (log_dirpath), so this never truncates */
    if (snprintf(out, outlen, "%s/%020" PRIu64 ".seg", dirpath, first) >= (int)outlen)
        out[0] = '\0';
}

/* Parse a log's meta file: 0 and *ledger_id / topic in name (NUL-terminated), -1 with errno
 * (ENOENT when there is none). */
static int meta_read(const char *dirpath, uint64_t *ledger_id, char *name, size_t namelen)
{
    char path[PATH_MAX], buf[META_MAX];
    snprintf(path, sizeof path, "%s/meta", dirpath);
    ssize_t n = file_read_small(path, buf, sizeof buf);
    if (n < 0) return -1;
    char *end;
    if (strncmp(buf, "ledger_id=", 10) != 0) goto bad;
    errno = 0;
    *ledger_id = strtoull(buf + 10, &end, 10);
    if (errno || end == buf + 10 || strncmp(end, "\ntopic=", 7) != 0) goto bad;
    char *t = end + 7;
    size_t tl = strlen(t);
    if (tl == 0 || t[tl - 1] != '\n' || tl > namelen) goto bad;
    memcpy(name, t, tl - 1);
    name[tl - 1] = '\0';
    return 0;
bad:
    log_error("log meta %s is malformed", path);
    errno = EINVAL;
    return -1;
}

/* ---- segments (loop thread) --------------------------------------------------------------- */

static int seg_idx_push(seg_t *sg, uint64_t off)
{
    if (sg->nidx == sg->capidx) {
        size_t nc = sg->capidx ? sg->capidx * 2 : 16;
        uint64_t *ni = mg_realloc(sg->idx, nc * sizeof *ni);
        if (!ni) return -1;
        sg->idx = ni;
        sg->capidx = nc;
    }
    sg->idx[sg->nidx++] = off;
    return 0;
}

static void seg_unindex(seg_t *sg)
{
    mg_free(sg->idx);
    sg->idx = NULL;
    sg->nidx = sg->capidx = 0;
    sg->indexed = false;
}

/* Scan the records of segment sg from offset 0, rebuilding its sparse index. verify checks
 * each record's CRC too (recovery of the tail); otherwise only headers are checked. On return
 * *good_end is the offset just past the last good record and sg->valid_end its id + 1.
 * Returns 0, or -1 on a read error (logged). */
static int seg_scan(int fd, const char *path, uint32_t tag, seg_t *sg, bool verify,
                    uint64_t *good_end)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        log_error("fstat(%s): %s", path, strerror(errno));
        return -1;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    size_t cap = SCAN_BUF;
    uint8_t *buf = mg_malloc(cap);
    if (!buf) return -1;
    uint64_t boff = 0, blen = 0; /* buf holds file bytes [boff, boff + blen) */
    uint64_t off = 0, id = sg->first_id;
    sg->nidx = 0;
    int rc = 0;
    for (;;) {
        if (off + REC_HDR > fsize) break;
        /* want the header, and with verify the data too, in buf */
        uint64_t need = REC_HDR;
        uint32_t len = 0;
        for (int pass = 0; pass < 2; pass++) {
            if (off < boff || off + need > boff + blen) {
                if (need > cap) {
                    uint8_t *nb = mg_realloc(buf, (size_t)need);
                    if (!nb) {
                        rc = -1;
                        goto out;
                    }
                    buf = nb;
                    cap = (size_t)need;
                }
                ssize_t r = pread_full(fd, buf, cap, off);
                if (r < 0) {
                    log_error("pread(%s): %s", path, strerror(errno));
                    rc = -1;
                    goto out;
                }
                boff = off;
                blen = (uint64_t)r;
                if (off + need > boff + blen) goto done;
            }
            if (pass == 0) {
                if (rec_parse(buf + (off - boff), tag, id, &len) < 0) goto done;
                if (off + REC_HDR + len > fsize) goto done;
                if (!verify) break;
                need = REC_HDR + (uint64_t)len;
            }
        }
        if (verify) {
            const uint8_t *h = buf + (off - boff);
            if (!rec_crc_ok(h, h + REC_HDR, len)) goto done;
        }
        if ((id - sg->first_id) % IDX_EVERY == 0 && seg_idx_push(sg, off) < 0) {
            rc = -1;
            goto out;
        }
        off += REC_HDR + (uint64_t)len;
        id++;
    }
done:
    *good_end = off;
    sg->valid_end = id;
    sg->indexed = true;
out:
    mg_free(buf);
    if (rc < 0) seg_unindex(sg);
    return rc;
}

static int segs_push(mg_log_t *l, uint64_t first)
{
    if (l->nsegs == l->capsegs) {
        size_t nc = l->capsegs ? l->capsegs * 2 : 4;
        seg_t *ns = mg_realloc(l->segs, nc * sizeof *ns);
        if (!ns) return -1;
        l->segs = ns;
        l->capsegs = nc;
    }
    seg_t *sg = &l->segs[l->nsegs++];
    memset(sg, 0, sizeof *sg);
    sg->first_id = sg->valid_end = first;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* List the segment files of a log directory, sorted. Returns how many (ids in *out, mg_malloc'd),
 * or -1. */
static int segs_list(const char *dirpath, uint64_t **out)
{
    DIR *d = opendir(dirpath);
    if (!d) {
        log_error("opendir(%s): %s", dirpath, strerror(errno));
        return -1;
    }
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (strlen(nm) != 24 || strcmp(nm + 20, ".seg") != 0) continue;
        bool digits = true;
        for (int i = 0; i < 20; i++) digits &= nm[i] >= '0' && nm[i] <= '9';
        if (!digits) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            uint64_t *ni = mg_realloc(ids, nc * sizeof *ni);
            if (!ni) {
                mg_free(ids);
                closedir(d);
                return -1;
            }
            ids = ni;
            cap = nc;
        }
        ids[n++] = strtoull(nm, NULL, 10);
    }
    closedir(d);
    if (n) qsort(ids, n, sizeof *ids, cmp_u64);
    *out = ids;
    return (int)n;
}

/* Remove every file in a directory, meta first (a log dir without meta counts as absent),
 * then the directory. 0 or -1. */
static int dir_remove(const char *dirpath)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/meta", dirpath);
    if (unlink(path) < 0 && errno != ENOENT) {
        log_error("unlink(%s): %s", path, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dirpath);
    if (!d) {
        if (errno == ENOENT) return 0;
        log_error("opendir(%s): %s", dirpath, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name);
        if (unlink(path) < 0 && errno != ENOENT) {
            log_error("unlink(%s): %s", path, strerror(errno));
            rc = -1;
        }
    }
    closedir(d);
    if (rc == 0 && rmdir(dirpath) < 0) {
        log_error("rmdir(%s): %s", dirpath, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* ---- cache (loop thread) ------------------------------------------------------------------ */

static void cache_unlink(mg_store_t *s, cnode_t *c)
{
    if (c->prev) c->prev->next = c->next;
    else s->chead = c->next;
    if (c->next) c->next->prev = c->prev;
    else s->ctail = c->prev;
    s->cache_bytes -= c->cost;
    entry_unref(c->e);
    mg_pool_put(&s->cnode_pool, c);
}

/* Drop the oldest cached entry of l. */
static void cache_pop_front(mg_log_t *l)
{
    cnode_t *c = l->cring[l->chead];
    l->chead = (l->chead + 1) % l->ccap;
    l->ccount--;
    cache_unlink(l->s, c);
}

static void cache_clear_log(mg_log_t *l)
{
    while (l->ccount) cache_pop_front(l);
    mg_free(l->cring);
    l->cring = NULL;
    l->ccap = l->chead = 0;
}

static uint64_t cache_front_id(const mg_log_t *l)
{
    return l->cring[l->chead]->e->entry_id;
}

/* Keep a reference to e (just appended) in the cache, then evict the oldest entries of any log
 * past cache_max_bytes. A log's cached ids stay contiguous: when e cannot be cached, the log's
 * cache is emptied. */
static void cache_add(mg_log_t *l, mg_entry_t *e)
{
    mg_store_t *s = l->s;
    size_t cost = sizeof(mg_entry_t) + e->len + sizeof(cnode_t);
    if (l->ccount && l->cring[(l->chead + l->ccount - 1) % l->ccap]->e->entry_id + 1 !=
                         e->entry_id)
        cache_clear_log(l);
    if (cost > s->o.cache_max_bytes) {
        cache_clear_log(l);
        return;
    }
    if (l->ccount == l->ccap) {
        size_t nc = l->ccap ? l->ccap * 2 : 16;
        cnode_t **nr = mg_malloc(nc * sizeof *nr);
        if (!nr) {
            cache_clear_log(l);
            return;
        }
        for (size_t i = 0; i < l->ccount; i++) nr[i] = l->cring[(l->chead + i) % l->ccap];
        mg_free(l->cring);
        l->cring = nr;
        l->ccap = nc;
        l->chead = 0;
    }
    cnode_t *c = mg_pool_get(&s->cnode_pool);
    if (!c) {
        cache_clear_log(l);
        return;
    }
    c->log = l;
    c->e = entry_ref(e);
    c->cost = cost;
    c->next = NULL;
    c->prev = s->ctail;
    if (s->ctail) s->ctail->next = c;
    else s->chead = c;
    s->ctail = c;
    s->cache_bytes += cost;
    l->cring[(l->chead + l->ccount) % l->ccap] = c;
    l->ccount++;
    /* the global FIFO and every log's ring are both in append order, so the global oldest is
     * always the front of its log's ring */
    while (s->cache_bytes > s->o.cache_max_bytes && s->chead) cache_pop_front(s->chead->log);
}

/* ---- recycled segment files --------------------------------------------------------------
 * A trimmed segment file is kept (up to recycle_max store-wide) and becomes a later segment of
 * any log, written over from offset 0. An fdatasync of records written over blocks the file
 * already has writes the data and flushes the cache, nothing else: after an append it must
 * also make the new blocks and size durable (on the test VM's journal-less ext4, synchronous
 * writes of the inode and of the block map; with a journal, a commit). There the disk alone
 * answered (b)'s pattern in about half the time (docs/design.md). The record tag keeps the old
 * bytes from passing for records. */

static void recycled_path(const mg_store_t *s, uint64_t n, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%020" PRIu64, s->rdir, n);
}

uint64_t recycled_take(mg_store_t *s, const char *path)
{
    pthread_mutex_lock(&s->mu);
    bool have = s->nrpool > 0;
    uint64_t n = have ? s->rpool[--s->nrpool] : 0;
    pthread_mutex_unlock(&s->mu);
    if (!have) return 0;
    char from[PATH_MAX];
    recycled_path(s, n, from, sizeof from);
    struct stat st;
    if (stat(from, &st) < 0 || rename(from, path) < 0) {
        log_error("reuse %s as %s: %s", from, path, strerror(errno));
        unlink(from);
        return 0;
    }
    return (uint64_t)st.st_size;
}

/* Keep the trimmed segment `first` of l (at path) for reuse: true when it was moved to the
 * recycled files, false when it is to be deleted: no room, a send still reads from it (writing
 * over it would change what goes out), or its records have no tag (written before tags: its
 * bytes could pass for another log's records). */
static bool seg_recycle(mg_log_t *l, uint64_t first, const char *path)
{
    mg_store_t *s = l->s;
    pthread_mutex_lock(&s->mu);
    bool room = s->nrpool < (size_t)s->o.recycle_max;
    pthread_mutex_unlock(&s->mu);
    if (!room) return false;
    for (int i = 0; i < 2; i++) {
        if (l->sfile[i] && l->sfile[i]->seg == first) {
            segfile_unref(l->sfile[i]);
            l->sfile[i] = NULL;
        }
    }
    for (mg_segfile_t *f = l->sf_live; f; f = f->next)
        if (f->seg == first) return false;
    uint8_t h[REC_HDR];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool tagged = fd >= 0 && pread_full(fd, h, REC_HDR, 0) == REC_HDR &&
                  get_le32(h) == REC_MAGIC && get_le32(h + 12) == l->tag;
    if (fd >= 0) close(fd);
    if (!tagged) return false;
    char to[PATH_MAX];
    uint64_t n = s->rseq++;
    recycled_path(s, n, to, sizeof to);
    if (rename(path, to) < 0) {
        log_error("rename(%s, %s): %s", path, to, strerror(errno));
        return false;
    }
    pthread_mutex_lock(&s->mu); /* workers only take: the room checked above is still there */
    s->rpool[s->nrpool++] = n;
    pthread_mutex_unlock(&s->mu);
    return true;
}

/* At store_open: list the recycled files left by the last run, keep up to recycle_max. */
static int recycled_load(mg_store_t *s)
{
    if (mkdir_ok(s->rdir) < 0) return -1;
    DIR *d = opendir(s->rdir);
    if (!d) return -1;
    struct dirent *de;
    char path[PATH_MAX];
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (nm[0] == '.') continue;
        bool digits = strlen(nm) == 20;
        for (int i = 0; digits && i < 20; i++) digits = nm[i] >= '0' && nm[i] <= '9';
        uint64_t n = digits ? strtoull(nm, NULL, 10) : 0;
        if (digits && n >= s->rseq) s->rseq = n + 1;
        if (digits && s->nrpool < (size_t)s->o.recycle_max) {
            s->rpool[s->nrpool++] = n;
        } else {
            snprintf(path, sizeof path, "%s/%s", s->rdir, nm);
            unlink(path);
        }
    }
    closedir(d);
    return 0;
}

/* ---- store -------------------------------------------------------------------------------- */


mg_store_t *store_open(const char *dir, const store_opts_t *o, char *err, size_t errlen)
{
    mg_store_t *s = mg_calloc(1, sizeof *s);
    if (!s) {
        mg_set_err(err, errlen, "out of memory");
        return NULL;
    }
    s->efd = -1;
    s->o = *o;
    mg_pool_init(&s->op_pool, sizeof(op_t), 4096);
    mg_pool_init(&s->cnode_pool, sizeof(cnode_t), 4096);
    if (!s->o.segment_max_bytes) s->o.segment_max_bytes = DEFAULT_SEGMENT_MAX;
    if (s->o.group_wait_ms < 0) s->o.group_wait_ms = 0;
    map_init_str(&s->logs);
    s->dir = mg_strdup(dir);
    size_t ll = strlen(dir) + sizeof "/ledgers";
    s->ldir = mg_malloc(ll);
    if (!s->dir || !s->ldir) {
        mg_set_err(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(s->ldir, ll, "%s/ledgers", dir);
    if (mkdir_ok(dir) < 0 || mkdir_ok(s->ldir) < 0) {
        mg_set_err(err, errlen, "mkdir %s: %s", s->ldir, strerror(errno));
        goto fail;
    }
    if (s->o.recycle_max < 0) s->o.recycle_max = 0;
    size_t rl = strlen(s->ldir) + sizeof "/" RECYCLED_DIR;
    if (!(s->rdir = mg_malloc(rl))) {
        mg_set_err(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(s->rdir, rl, "%s/%s", s->ldir, RECYCLED_DIR);
    /* at most recycle_max are ever kept: the array never grows */
    s->rpool = mg_calloc((size_t)s->o.recycle_max + 1, sizeof *s->rpool);
    if (!s->rpool) {
        mg_set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (recycled_load(s) < 0) {
        mg_set_err(err, errlen, "%s: %s", s->rdir, strerror(errno));
        goto fail;
    }
    char path[PATH_MAX], buf[64];
    snprintf(path, sizeof path, "%s/%s", s->ldir, COUNTER_FILE);
    if (file_read_small(path, buf, sizeof buf) >= 0) {
        char *end;
        errno = 0;
        s->next_ledger_id = strtoull(buf, &end, 10);
        if (errno || end == buf || *end != '\n') {
            mg_set_err(err, errlen, "%s is malformed", path);
            goto fail;
        }
    } else if (errno == ENOENT) {
        s->next_ledger_id = 1;
    } else {
        mg_set_err(err, errlen, "read %s: %s", path, strerror(errno));
        goto fail;
    }
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        mg_set_err(err, errlen, "eventfd: %s", strerror(errno));
        log_error("eventfd: %s", strerror(errno));
        goto fail;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wcond, &ca);
    pthread_cond_init(&s->dcond, NULL);
    pthread_condattr_destroy(&ca);
    int rc = 0;
    for (int i = 0; i < IO_THREADS; i++) {
        rc = pthread_create(&s->workers[i], NULL, writer_main, s);
        if (rc != 0) break;
        s->nworkers++;
    }
    if (s->nworkers == 0) {
        mg_set_err(err, errlen, "pthread_create: %s", strerror(rc));
        log_error("pthread_create: %s", strerror(rc));
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->wcond);
        pthread_cond_destroy(&s->dcond);
        goto fail;
    }
    return s;
fail:
    if (s->efd >= 0) close(s->efd);
    map_free(&s->logs);
    mg_free(s->dir);
    mg_free(s->ldir);
    mg_free(s->rdir);
    mg_free(s->rpool);
    mg_free(s);
    return NULL;
}

static void ops_free(mg_store_t *s, op_t *op)
{
    while (op) {
        op_t *n = op->next;
        entry_unref(op->e);
        mg_pool_put(&s->op_pool, op);
        op = n;
    }
}

void store_close(mg_store_t *s)
{
    if (!s) return;
    /* the workers drain the ready list before they exit */
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->wcond);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL);

    size_t n = map_count(&s->logs), k = 0;
    mg_log_t **all = n ? mg_malloc(n * sizeof *all) : NULL;
    const char *key;
    uint64_t uk;
    void *v;
    for (size_t it = 0; all && map_next(&s->logs, &it, &key, &uk, &v);) all[k++] = v;
    for (size_t i = 0; i < k; i++) log_close(all[i]);
    mg_free(all);
    ops_free(s, s->c_head); /* completions of logs closed above are already gone */
    s->c_head = s->c_tail = NULL;

    map_free(&s->logs);
    close(s->efd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wcond);
    pthread_cond_destroy(&s->dcond);
    mg_pool_destroy(&s->op_pool);
    mg_pool_destroy(&s->cnode_pool);
    mg_free(s->dir);
    mg_free(s->ldir);
    mg_free(s->rdir);
    mg_free(s->rpool);
    mg_free(s);
}

int store_event_fd(mg_store_t *s) { return s->efd; }

void store_kick(mg_store_t *s)
{
    if (!s->kicks) return; /* only the loop changes it */
    pthread_mutex_lock(&s->mu);
    for (; s->kicks > 0; s->kicks--) pthread_cond_signal(&s->wcond);
    pthread_mutex_unlock(&s->mu);
}

int store_kicks_pending(const mg_store_t *s) { return s->kicks; }

/* Apply one completed append to the loop's view of its log. Returns the status to report. */
static int log_complete(mg_log_t *l, op_t *op)
{
    if (op->status < 0) {
        l->failed = true;
        return op->status;
    }
    uint64_t id = op->e->entry_id;
    seg_t *sg = &l->segs[l->nsegs - 1];
    if (sg->first_id != op->seg_first) {
        if (segs_push(l, op->seg_first) < 0) {
            log_error("log %s: out of memory tracking a new segment", l->topic);
            l->failed = true;
            return -ENOMEM;
        }
        sg = &l->segs[l->nsegs - 1];
        sg->indexed = true;
    }
    if (sg->indexed) {
        if (sg->valid_end != id) seg_unindex(sg); /* not contiguous: rescan when read */
        else if ((id - sg->first_id) % IDX_EVERY == 0 && seg_idx_push(sg, op->off) < 0)
            seg_unindex(sg);
        else sg->valid_end = id + 1;
    }
    sg->bytes = op->off + REC_HDR + op->e->len;
    sg->mtime_ms = mg_now_ms();
    mg_lat_hist_add(&l->write_lat, op->durable_us > op->pick_us ? op->durable_us - op->pick_us : 0);
    l->durable_end = id + 1;
    op->e->file_seg = op->seg_first;
    op->e->file_off = op->off + REC_HDR;
    op->e->has_file = 1;
    return 0;
}

void store_dispatch_completions(mg_store_t *s)
{
    if (s->dispatching) return; /* called again from a callback: the outer call continues */
    uint64_t v;
    if (read(s->efd, &v, sizeof v) < 0 && errno != EAGAIN)
        log_error("read(eventfd): %s", strerror(errno));
    op_t *list;
    pthread_mutex_lock(&s->mu);
    list = s->c_head;
    s->c_head = s->c_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    s->dispatching = true;
    /* callbacks may close logs; log_close removes that log's ops from this list */
    s->dlist = &list;
    while (list) {
        op_t *op = list;
        list = op->next;
        int st = log_complete(op->log, op);
        log_append_cb cb = op->cb;
        void *arg = op->arg;
        uint64_t id = op->e->entry_id;
        entry_unref(op->e);
        mg_pool_put(&s->op_pool, op);
        if (cb) cb(arg, st, id);
    }
    s->dlist = NULL;
    s->dispatching = false;
}

/* ---- logs --------------------------------------------------------------------------------- */

static void rtab_free(mg_log_t *l);

int segfile_fd(const mg_segfile_t *f) { return f->fd; }

void segfile_unref(mg_segfile_t *f)
{
    if (f && --f->refs == 0) {
        if (f->log) {
            if (f->prev) f->prev->next = f->next;
            else f->log->sf_live = f->next;
            if (f->next) f->next->prev = f->prev;
        }
        close(f->fd);
        mg_free(f);
    }
}

mg_segfile_t *log_entry_file(mg_log_t *l, const mg_entry_t *e, uint64_t *off)
{
    if (!e->has_file || e->ledger_id != l->ledger_id || e->entry_id < l->first_id ||
        e->entry_id >= l->durable_end)
        return NULL;
    mg_segfile_t *f = NULL;
    for (int i = 0; i < 2; i++)
        if (l->sfile[i] && l->sfile[i]->seg == e->file_seg) f = l->sfile[i];
    if (!f) {
        char path[PATH_MAX];
        seg_path(l->dirpath, e->file_seg, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return NULL;
        if (!(f = mg_malloc(sizeof *f))) {
            close(fd);
            return NULL;
        }
        f->fd = fd;
        f->refs = 1; /* the log's */
        f->seg = e->file_seg;
        f->log = l;
        f->prev = NULL;
        f->next = l->sf_live;
        if (f->next) f->next->prev = f;
        l->sf_live = f;
        segfile_unref(l->sfile[1]);
        l->sfile[1] = l->sfile[0];
        l->sfile[0] = f;
    }
    f->refs++;
    *off = e->file_off;
    return f;
}

static void log_free(mg_log_t *l)
{
    if (!l) return;
    segfile_unref(l->sfile[0]);
    segfile_unref(l->sfile[1]);
    for (mg_segfile_t *f = l->sf_live; f; f = f->next) f->log = NULL; /* outlive the log */
    cache_clear_log(l);
    rtab_free(l);
    for (size_t i = 0; i < l->nsegs; i++) mg_free(l->segs[i].idx);
    mg_free(l->segs);
    if (l->rfd >= 0) close(l->rfd);
    if (l->wf) wfile_unref(l->wf); /* log_close waited: no worker or fdatasync holds it */
    mg_free(l->topic);
    mg_free(l->dirpath);
    mg_free(l);
}

/* Scan the tail segment (last of l->segs), cut a torn or corrupt tail, set the log's ids. */
static int log_recover_tail(mg_log_t *l, char *err, size_t errlen)
{
    seg_t *sg = &l->segs[l->nsegs - 1];
    char path[PATH_MAX];
    seg_path(l->dirpath, sg->first_id, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        mg_set_err(err, errlen, "open %s: %s", path, strerror(errno));
        log_error("open(%s): %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    uint64_t good = 0;
    if (seg_scan(fd, path, l->tag, sg, true, &good) < 0 || fstat(fd, &st) < 0) {
        mg_set_err(err, errlen, "scan %s failed", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size != good) {
        log_warn("log %s: cutting %s at offset %" PRIu64 " (size %" PRIu64
                 "): torn, corrupt or old (recycled file) record at entry %" PRIu64,
                 l->topic, path, good, (uint64_t)st.st_size, sg->valid_end);
        if (ftruncate(fd, (off_t)good) < 0 || fsync(fd) < 0) {
            mg_set_err(err, errlen, "truncate %s: %s", path, strerror(errno));
            log_error("ftruncate/fsync(%s): %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    close(fd);
    sg->bytes = good;
    sg->mtime_ms = (uint64_t)st.st_mtim.tv_sec * 1000 + (uint64_t)st.st_mtim.tv_nsec / 1000000;
    l->durable_end = l->next_id = sg->valid_end;
    l->w_seg_first = sg->first_id;
    l->w_off = good;
    return 0;
}

mg_log_t *log_open(mg_store_t *s, const char *topic, bool create, char *err, size_t errlen)
{
    char dirpath[PATH_MAX], path[PATH_MAX];
    if (!topic || log_dirpath(s, topic, dirpath, sizeof dirpath) < 0) {
        mg_set_err(err, errlen, "invalid topic name");
        return NULL;
    }
    if (map_get(&s->logs, topic)) {
        mg_set_err(err, errlen, "log already open");
        return NULL;
    }
    mg_log_t *l = mg_calloc(1, sizeof *l);
    if (!l) {
        mg_set_err(err, errlen, "out of memory");
        return NULL;
    }
    l->s = s;
    l->rfd = -1;
    for (int i = 0; i < READ_HINTS; i++) l->hints[i].id = UINT64_MAX;
    l->topic = mg_strdup(topic);
    l->dirpath = mg_strdup(dirpath);
    size_t tlen = META_MAX;
    char *name = mg_malloc(tlen);
    uint64_t *ids = NULL;
    if (!l->topic || !l->dirpath || !name) {
        mg_set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (meta_read(dirpath, &l->ledger_id, name, tlen) == 0) {
        if (strcmp(name, topic) != 0) {
            mg_set_err(err, errlen, "log directory %s belongs to another topic", dirpath);
            log_error("log directory %s belongs to %s, not %s", dirpath, name, topic);
            goto fail;
        }
    } else if (errno != ENOENT) {
        mg_set_err(err, errlen, "read meta of %s: %s", dirpath, strerror(errno));
        goto fail;
    } else if (!create) {
        mg_set_err(err, errlen, "not found");
        goto fail;
    } else {
        /* a directory without meta is left from a creation or deletion cut short: clear it */
        if (dir_remove(dirpath) < 0 || mkdir_ok(dirpath) < 0) {
            mg_set_err(err, errlen, "create %s: %s", dirpath, strerror(errno));
            goto fail;
        }
        uint64_t id = s->next_ledger_id;
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", id + 1);
        if (file_write_durable(s->ldir, COUNTER_FILE, buf, (size_t)n) < 0) {
            mg_set_err(err, errlen, "write ledger id counter: %s", strerror(errno));
            goto fail;
        }
        s->next_ledger_id = id + 1;
        l->ledger_id = id;
        seg_path(dirpath, 0, path, sizeof path);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            mg_set_err(err, errlen, "create %s: %s", path, strerror(errno));
            log_error("open(%s): %s", path, strerror(errno));
            goto fail;
        }
        close(fd);
        size_t ml = strlen(topic) + 64;
        char *meta = mg_malloc(ml);
        if (!meta) {
            mg_set_err(err, errlen, "out of memory");
            goto fail;
        }
        n = snprintf(meta, ml, "ledger_id=%" PRIu64 "\ntopic=%s\n", id, topic);
        int rc = file_write_durable(dirpath, "meta", meta, (size_t)n);
        mg_free(meta);
        if (rc < 0 || fsync_dir(s->ldir) < 0) {
            mg_set_err(err, errlen, "write meta of %s: %s", dirpath, strerror(errno));
            goto fail;
        }
    }
    mg_free(name);
    name = NULL;

    int n = segs_list(dirpath, &ids);
    if (n < 0) {
        mg_set_err(err, errlen, "list %s failed", dirpath);
        goto fail;
    }
    if (n == 0) {
        /* meta but no segment: cannot happen through this code; start an empty one */
        log_warn("log %s has no segment file; starting an empty one", topic);
        seg_path(dirpath, 0, path, sizeof path);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            mg_set_err(err, errlen, "create %s: %s", path, strerror(errno));
            log_error("open(%s): %s", path, strerror(errno));
            goto fail;
        }
        close(fd);
        if (segs_push(l, 0) < 0) goto nomem;
    }
    for (int i = 0; i < n; i++) {
        if (segs_push(l, ids[i]) < 0) goto nomem;
        seg_t *sg = &l->segs[i];
        sg->valid_end = i + 1 < n ? ids[i + 1] : ids[i];
        if (i + 1 < n) {
            struct stat st;
            seg_path(dirpath, ids[i], path, sizeof path);
            if (stat(path, &st) < 0) {
                mg_set_err(err, errlen, "stat %s: %s", path, strerror(errno));
                log_error("stat(%s): %s", path, strerror(errno));
                goto fail;
            }
            sg->bytes = (uint64_t)st.st_size;
            sg->mtime_ms =
                (uint64_t)st.st_mtim.tv_sec * 1000 + (uint64_t)st.st_mtim.tv_nsec / 1000000;
        }
    }
    mg_free(ids);
    ids = NULL;
    l->tag = REC_TAG(l->ledger_id);
    if (log_recover_tail(l, err, errlen) < 0) goto fail;
    l->first_id = l->segs[0].first_id;
    if (map_put(&s->logs, topic, l) < 0) goto nomem;
    return l;
nomem:
    mg_set_err(err, errlen, "out of memory");
fail:
    mg_free(name);
    mg_free(ids);
    log_free(l);
    return NULL;
}

void log_close(mg_log_t *l)
{
    if (!l) return;
    mg_store_t *s = l->s;
    l->closing = true;
    store_kick(s); /* appends not handed to a worker yet must be written before l goes */
    /* wait until no worker holds this log (its appends written and synced), then drop its
     * completions without running callbacks */
    op_t *drop = NULL;
    pthread_mutex_lock(&s->mu);
    while (l->w_pending || l->w_syncing || l->w_busy) pthread_cond_wait(&s->dcond, &s->mu);
    op_t **pp = &s->c_head;
    s->c_tail = NULL;
    while (*pp) {
        op_t *op = *pp;
        if (op->log == l) {
            *pp = op->next;
            op->next = drop;
            drop = op;
        } else {
            s->c_tail = op;
            pp = &op->next;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (l->wf) seg_cut_stale(l); /* no worker holds l now */
    for (pp = s->dlist; pp && *pp;) {
        op_t *op = *pp;
        if (op->log == l) {
            *pp = op->next;
            op->next = drop;
            drop = op;
        } else {
            pp = &op->next;
        }
    }
    ops_free(s, drop);
    map_del(&s->logs, l->topic);
    log_free(l);
}

bool log_exists(mg_store_t *s, const char *topic)
{
    char dirpath[PATH_MAX];
    if (log_dirpath(s, topic, dirpath, sizeof dirpath) < 0) return false;
    size_t tlen = META_MAX;
    char *name = mg_malloc(tlen);
    uint64_t id;
    bool ok = name && meta_read(dirpath, &id, name, tlen) == 0 && strcmp(name, topic) == 0;
    mg_free(name);
    return ok;
}

int log_delete(mg_store_t *s, const char *topic)
{
    char dirpath[PATH_MAX];
    if (log_dirpath(s, topic, dirpath, sizeof dirpath) < 0) return -1;
    if (map_get(&s->logs, topic)) {
        log_error("log_delete(%s): log is open", topic);
        return -1;
    }
    if (dir_remove(dirpath) < 0) return -1;
    return fsync_dir(s->ldir);
}

uint64_t log_ledger_id(const mg_log_t *l) { return l->ledger_id; }
uint64_t log_first_id(const mg_log_t *l) { return l->first_id; }
uint64_t log_durable_end(const mg_log_t *l) { return l->durable_end; }
uint64_t log_next_id(const mg_log_t *l) { return l->next_id; }

int log_append(mg_log_t *l, mg_entry_t *e, log_append_cb cb, void *arg)
{
    if (l->failed || l->closing) return -1;
    mg_store_t *s = l->s;
    op_t *op = mg_pool_get(&s->op_pool);
    if (!op) return -1;
    e->ledger_id = l->ledger_id;
    e->entry_id = l->next_id++;
    op->next = NULL;
    op->log = l;
    op->e = entry_ref(e);
    op->cb = cb;
    op->arg = arg;
    op->status = 0;
    op->seg_first = op->off = 0;
    rec_header(op->hdr, l->tag, e->entry_id, e);
    cache_add(l, e);
    pthread_mutex_lock(&s->mu);
    if (l->pq_tail) l->pq_tail->next = op;
    else l->pq_head = op;
    l->pq_tail = op;
    l->w_pending++;
    if (!s->o.batch_wakeups) log_make_ready(s, l);
    else if (log_queue_ready(s, l)) s->kicks++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* The read fd of segment sg, opened on demand (one cached per log). -1 on failure (logged). */
static int log_seg_fd(mg_log_t *l, const seg_t *sg)
{
    if (l->rfd >= 0 && l->rfd_seg == sg->first_id) return l->rfd;
    if (l->rfd >= 0) close(l->rfd);
    char path[PATH_MAX];
    seg_path(l->dirpath, sg->first_id, path, sizeof path);
    l->rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (l->rfd < 0) log_error("open(%s): %s", path, strerror(errno));
    l->rfd_seg = sg->first_id;
    return l->rfd;
}

static size_t log_seg_find(const mg_log_t *l, uint64_t id)
{
    size_t lo = 0, hi = l->nsegs; /* find the last segment with first_id <= id */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (l->segs[mid].first_id <= id) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Keep a reference to an entry just read from disk, within half the cache budget. */
static void rtab_put(mg_log_t *l, mg_entry_t *e)
{
    mg_store_t *s = l->s;
    if (!l->rtab) {
        if (s->rtab_bytes + e->len > s->o.cache_max_bytes / 2) return;
        l->rtab = mg_calloc(RTAB_SLOTS, sizeof *l->rtab);
        if (!l->rtab) return;
    }
    mg_entry_t **slot = &l->rtab[e->entry_id % RTAB_SLOTS];
    uint64_t old = *slot ? (*slot)->len : 0;
    if (s->rtab_bytes - old + e->len > s->o.cache_max_bytes / 2) return;
    if (*slot) entry_unref(*slot);
    *slot = entry_ref(e);
    s->rtab_bytes = s->rtab_bytes - old + e->len;
}

static void rtab_free(mg_log_t *l)
{
    if (!l->rtab) return;
    for (int i = 0; i < RTAB_SLOTS; i++)
        if (l->rtab[i]) {
            l->s->rtab_bytes -= l->rtab[i]->len;
            entry_unref(l->rtab[i]);
        }
    mg_free(l->rtab);
    l->rtab = NULL;
}

int log_read(mg_log_t *l, uint64_t entry_id, mg_entry_t **out)
{
    *out = NULL;
    if (entry_id < l->first_id || entry_id >= l->durable_end) return -ENOENT;
    if (l->ccount) {
        uint64_t f = cache_front_id(l);
        if (entry_id >= f && entry_id - f < l->ccount) {
            *out = entry_ref(l->cring[(l->chead + (entry_id - f)) % l->ccap]->e);
            return 0;
        }
    }
    if (l->rtab) {
        mg_entry_t *x = l->rtab[entry_id % RTAB_SLOTS];
        if (x && x->entry_id == entry_id) {
            *out = entry_ref(x);
            return 0;
        }
    }
    seg_t *sg = &l->segs[log_seg_find(l, entry_id)];
    int fd = log_seg_fd(l, sg);
    if (fd < 0) return -EIO;
    char path[PATH_MAX];
    seg_path(l->dirpath, sg->first_id, path, sizeof path);
    if (!sg->indexed) {
        uint64_t good;
        if (seg_scan(fd, path, l->tag, sg, false, &good) < 0) return -EIO;
        uint64_t want = sg + 1 < l->segs + l->nsegs ? sg[1].first_id : l->durable_end;
        if (sg->valid_end < want)
            log_error("log %s: segment %s holds entries up to %" PRIu64 ", expected %" PRIu64,
                      l->topic, path, sg->valid_end, want);
    }
    if (entry_id >= sg->valid_end) return -EIO;
    uint8_t h[REC_HDR];
    uint32_t len;
    uint64_t off;
    int hint = -1;
    for (int i = 0; i < READ_HINTS; i++)
        if (l->hints[i].id == entry_id && l->hints[i].seg == sg->first_id) hint = i;
    if (hint >= 0) {
        off = l->hints[hint].off;
    } else {
        uint64_t k = (entry_id - sg->first_id) / IDX_EVERY;
        if (k >= sg->nidx) return -EIO;
        off = sg->idx[k];
        for (uint64_t id = sg->first_id + k * IDX_EVERY; id < entry_id; id++) {
            if (pread_full(fd, h, REC_HDR, off) != REC_HDR || rec_parse(h, l->tag, id, &len) < 0) {
                log_error("log %s: bad record header for entry %" PRIu64 " in %s", l->topic, id,
                          path);
                return -EIO;
            }
            off += REC_HDR + (uint64_t)len;
        }
    }
    ssize_t r = pread_full(fd, h, REC_HDR, off);
    if (r != REC_HDR || rec_parse(h, l->tag, entry_id, &len) < 0) {
        if (r < 0) log_error("pread(%s): %s", path, strerror(errno));
        else log_error("log %s: bad record header for entry %" PRIu64 " in %s", l->topic,
                       entry_id, path);
        return -EIO;
    }
    mg_entry_t *e = entry_alloc(len);
    if (!e) return -ENOMEM;
    r = pread_full(fd, e->data, len, off + REC_HDR);
    if (r != (ssize_t)len || !rec_crc_ok(h, e->data, len)) {
        if (r < 0) log_error("pread(%s): %s", path, strerror(errno));
        else log_error("log %s: checksum mismatch for entry %" PRIu64 " in %s", l->topic,
                       entry_id, path);
        entry_unref(e);
        return -EIO;
    }
    e->ledger_id = l->ledger_id;
    e->entry_id = entry_id;
    e->file_seg = sg->first_id;
    e->file_off = off + REC_HDR;
    e->has_file = 1;
    if (hint < 0) hint = (int)(l->hint_next++ % READ_HINTS);
    l->hints[hint].id = entry_id + 1;
    l->hints[hint].off = off + REC_HDR + len;
    l->hints[hint].seg = sg->first_id;
    rtab_put(l, e);
    *out = e;
    return 0;
}

static uint64_t log_seg_end(const mg_log_t *l, size_t i)
{
    return i + 1 < l->nsegs ? l->segs[i + 1].first_id : l->durable_end;
}

const mg_lat_hist_t *log_write_latency(const mg_log_t *l) { return &l->write_lat; }

uint64_t log_size_bytes(const mg_log_t *l)
{
    uint64_t t = 0;
    for (size_t i = 0; i < l->nsegs; i++) t += l->segs[i].bytes;
    return t;
}

uint64_t log_bytes_from(const mg_log_t *l, uint64_t from_id)
{
    uint64_t t = 0;
    for (size_t i = 0; i < l->nsegs; i++) {
        const seg_t *sg = &l->segs[i];
        uint64_t end = log_seg_end(l, i);
        if (end <= from_id || end <= sg->first_id) continue;
        if (sg->first_id >= from_id) t += sg->bytes;
        else t += (uint64_t)((double)sg->bytes * (double)(end - from_id) /
                             (double)(end - sg->first_id));
    }
    return t;
}

int log_segments(const mg_log_t *l, log_segment_info_t *out, int max)
{
    for (size_t i = 0; i < l->nsegs && (int)i < max; i++) {
        out[i].first_id = l->segs[i].first_id;
        out[i].end_id = log_seg_end(l, i);
        out[i].bytes = l->segs[i].bytes;
        out[i].mtime_ms = l->segs[i].mtime_ms;
    }
    return (int)l->nsegs;
}

int log_trim(mg_log_t *l, uint64_t before_id)
{
    int n = 0;
    char path[PATH_MAX];
    /* segs[0] is closed once a later segment is known here: the writer has moved past it */
    while (l->nsegs > 1 && l->segs[1].first_id <= before_id) {
        seg_t *sg = &l->segs[0];
        seg_path(l->dirpath, sg->first_id, path, sizeof path);
        if (!seg_recycle(l, sg->first_id, path) && unlink(path) < 0 && errno != ENOENT) {
            log_error("unlink(%s): %s", path, strerror(errno));
            break;
        }
        if (l->rfd >= 0 && l->rfd_seg == sg->first_id) {
            close(l->rfd);
            l->rfd = -1;
        }
        for (int i = 0; i < READ_HINTS; i++)
            if (l->hints[i].seg == sg->first_id) l->hints[i].id = UINT64_MAX;
        mg_free(sg->idx);
        memmove(&l->segs[0], &l->segs[1], (l->nsegs - 1) * sizeof *l->segs);
        l->nsegs--;
        n++;
    }
    if (n) {
        l->first_id = l->segs[0].first_id;
        while (l->ccount && cache_front_id(l) < l->first_id) cache_pop_front(l);
    }
    return n;
}
