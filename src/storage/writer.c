/* writer.c - the storage worker threads (see ledger.h). A worker takes one log with queued
 * appends, writes them with pwritev, hands the log back (so another worker can write the next
 * batch at once), then fdatasyncs the file and completes every batch the sync covers. Writes
 * to one log are serialised (w_busy); its fdatasyncs overlap, so an append waits for one
 * fdatasync that starts after it is written, never for an earlier one still in flight. The
 * worker holding w_busy owns the log's w_* fields; everything else belongs to the loop thread
 * (ledger.c). Completions reach the loop in append order through the eventfd. */
#include "storage/ledger_int.h"

/* ---- storage workers ------------------------------------------------------------------------ */

/* Fail every append of l in the current batch that has not failed yet, and all later ones. */
static void writer_fail(mg_log_t *l, int err)
{
    l->w_err = err;
    for (op_t *op = l->wq_head; op; op = op->next)
        if (op->status == 0) op->status = err;
}

void wfile_unref(wfile_t *wf)
{
    if (--wf->refs == 0) {
        close(wf->fd);
        mg_free(wf);
    }
}

/* Open the active segment for writing at w_off. A new one (create) is a recycled file when one
 * is ready (written over from offset 0, its old bytes cut when it closes), else a new file. */
static int writer_open_seg(mg_store_t *s, mg_log_t *l, bool create)
{
    char path[PATH_MAX];
    seg_path(l->dirpath, l->w_seg_first, path, sizeof path);
    l->w_stale = create ? recycled_take(s, path) : 0;
    int flags = O_WRONLY | O_CLOEXEC | O_CREAT | (create && !l->w_stale ? O_TRUNC : 0);
    wfile_t *wf = mg_malloc(sizeof *wf);
    int fd = wf ? open(path, flags, 0644) : -1;
    if (fd < 0) {
        int e = wf ? errno : ENOMEM;
        log_error("open(%s): %s", path, strerror(e));
        mg_free(wf);
        writer_fail(l, -e);
        return -1;
    }
    wf->fd = fd;
    wf->refs = 1;
    l->wf = wf;
    if (create && s->o.sync_data && fsync_dir(l->dirpath) < 0) {
        writer_fail(l, -EIO);
        return -1;
    }
    return 0;
}

/* Cut the active segment at w_off: whatever lies past it (a partial record, a recycled file's
 * old bytes) is gone once this succeeds. */
static void seg_cut(mg_log_t *l)
{
    if (ftruncate(l->wf->fd, (off_t)l->w_off) < 0)
        log_error("ftruncate(%s seg %" PRIu64 "): %s", l->topic, l->w_seg_first, strerror(errno));
    else
        l->w_stale = 0;
}

void seg_cut_stale(mg_log_t *l)
{
    if (l->w_stale > l->w_off) seg_cut(l);
}

/* Close the active segment (synced first when sync_data) and start one at first_id. The sync
 * covers everything written to the old file, so the batches written there complete with the
 * next fdatasync of the new one. It is needed even when this batch wrote nothing there yet
 * (w_dirty false): an earlier batch's fdatasync of the old file may still be in flight, and a
 * sync of the new file that returns first marks every batch up to its own durable. Without
 * it, that earlier batch could be acknowledged before its file reached the disk. */
static int writer_roll(mg_store_t *s, mg_log_t *l, uint64_t first_id)
{
    if (l->wf) {
        if (s->o.sync_data && fdatasync(l->wf->fd) < 0) {
            int e = errno;
            log_error("fdatasync(%s seg %" PRIu64 "): %s", l->topic, l->w_seg_first, strerror(e));
            writer_fail(l, -e);
            return -1;
        }
        seg_cut_stale(l);
        pthread_mutex_lock(&s->mu);
        wfile_unref(l->wf);
        pthread_mutex_unlock(&s->mu);
        l->wf = NULL;
        l->w_dirty = false;
    }
    l->w_seg_first = first_id;
    l->w_off = 0;
    return writer_open_seg(s, l, true);
}

static int writev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwritev(fd, iov, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        off += (uint64_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Write the queued appends of one log (l->wq, in id order), rolling segments as needed. */
static void writer_write_log(mg_store_t *s, mg_log_t *l)
{
    uint64_t max = s->o.segment_max_bytes;
    struct iovec iov[IOV_BATCH * 2];
    op_t *op = l->wq_head;
    while (op) {
        if (l->w_err) {
            if (op->status == 0) op->status = l->w_err;
            op = op->next;
            continue;
        }
        uint64_t rl = REC_HDR + (uint64_t)op->e->len;
        if (l->w_off > 0 && l->w_off + rl > max) {
            if (writer_roll(s, l, op->e->entry_id) < 0) continue;
        } else if (!l->wf && writer_open_seg(s, l, false) < 0) {
            continue;
        }
        int niov = 0;
        uint64_t total = 0;
        op_t *end = op;
        while (end && niov + 2 <= IOV_BATCH * 2) {
            rl = REC_HDR + (uint64_t)end->e->len;
            if (niov > 0 && l->w_off + total + rl > max) break;
            iov[niov].iov_base = end->hdr;
            iov[niov++].iov_len = REC_HDR;
            if (end->e->len) {
                iov[niov].iov_base = end->e->data;
                iov[niov++].iov_len = end->e->len;
            }
            end->seg_first = l->w_seg_first;
            end->off = l->w_off + total;
            total += rl;
            end = end->next;
        }
        if (writev_all(l->wf->fd, iov, niov, l->w_off) < 0) {
            int e = errno;
            log_error("pwritev(%s seg %" PRIu64 "): %s", l->topic, l->w_seg_first, strerror(e));
            seg_cut(l); /* the file stays a clean prefix */
            writer_fail(l, -e);
            continue;
        }
        l->w_off += total;
        l->w_dirty = true;
        op = end;
    }
}

void log_make_ready(mg_store_t *s, mg_log_t *l)
{
    if (log_queue_ready(s, l)) pthread_cond_signal(&s->wcond);
}

bool log_queue_ready(mg_store_t *s, mg_log_t *l)
{
    if (l->w_busy || l->w_ready) return false;
    l->w_ready = true;
    l->r_next = NULL;
    if (s->r_tail) s->r_tail->r_next = l;
    else s->r_head = l;
    s->r_tail = l;
    return true;
}

/* Move l's written appends that are durable now (batch <= w_durable) to the completion
 * queue, in order (under s->mu). Returns how many. */
static size_t complete_durable(mg_store_t *s, mg_log_t *l)
{
    if (!l->w_syncing) l->w_durable = l->w_wseq; /* nothing in flight: all written is settled */
    op_t *first = l->us_head, *last = NULL;
    if (!first || first->wseq > l->w_durable) return 0;
    uint64_t now = mg_mono_us();
    size_t n = 0;
    for (op_t *op = first; op && op->wseq <= l->w_durable; op = op->next) {
        op->durable_us = now;
        last = op;
        n++;
    }
    l->us_head = last->next;
    if (!l->us_head) l->us_tail = NULL;
    last->next = NULL;
    if (s->c_tail) s->c_tail->next = first;
    else s->c_head = first;
    s->c_tail = last;
    l->w_pending -= n;
    return n;
}

/* log_close may free l once nothing is pending and no worker holds it: not while a write is
 * running, nor while an fdatasync is in flight (a later sync may have completed everything
 * before it returns). Under s->mu; the caller touches l no more after unlocking. */
static void maybe_idle(mg_store_t *s, mg_log_t *l)
{
    if (!l->w_pending && !l->w_syncing && !l->w_busy) pthread_cond_broadcast(&s->dcond);
}

static void wake_loop(mg_store_t *s)
{
    uint64_t one = 1;
    if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_error("write(eventfd): %s", strerror(errno));
}

/* Write one batch of l's appends (the worker holds w_busy), give the log back, then fdatasync
 * the file when sync_data and complete what is durable. */
static void writer_batch(mg_store_t *s, mg_log_t *l, op_t *batch, op_t *tail)
{
    uint64_t picked = mg_mono_us();
    l->wq_head = batch;
    writer_write_log(s, l);
    wfile_t *wf = s->o.sync_data && l->w_dirty ? l->wf : NULL;
    l->w_dirty = false;
    l->wq_head = NULL;

    /* only the worker holding w_busy advances w_wseq, so it can tag the batch before locking */
    uint64_t seq = l->w_wseq + 1;
    for (op_t *op = batch; op; op = op->next) {
        op->wseq = seq;
        op->pick_us = picked;
    }
    pthread_mutex_lock(&s->mu);
    l->w_wseq = seq;
    if (tail) {
        if (l->us_tail) l->us_tail->next = batch;
        else l->us_head = batch;
        l->us_tail = tail;
    }
    if (wf) {
        wf->refs++;
        l->w_syncing++;
    }
    /* after this the worker touches only wf, l->w_* under s->mu, and the ops it completes */
    l->w_busy = false;
    if (l->pq_head) log_make_ready(s, l); /* more arrived meanwhile */
    size_t done = wf ? 0 : complete_durable(s, l);
    maybe_idle(s, l);
    pthread_mutex_unlock(&s->mu);
    if (done) wake_loop(s);
    if (!wf) return;

    int rc = fdatasync(wf->fd) < 0 ? -errno : 0;
    pthread_mutex_lock(&s->mu);
    if (rc < 0) {
        /* what this file held is of unknown durability: fail every append not yet completed,
         * and every later one */
        log_error("fdatasync(%s): %s", l->topic, strerror(-rc));
        if (!l->w_sync_err) l->w_sync_err = rc;
        for (op_t *op = l->us_head; op; op = op->next)
            if (op->status == 0) op->status = rc;
    }
    l->w_syncing--;
    if (seq > l->w_durable) l->w_durable = seq;
    done = complete_durable(s, l);
    wfile_unref(wf);
    maybe_idle(s, l);
    pthread_mutex_unlock(&s->mu);
    if (done) wake_loop(s);
}

/* A storage worker: takes the oldest ready log and everything queued on it. Logs progress
 * independently: an append never waits for another file's fdatasync. Several workers keep
 * several writes and syncs going at once. */
void *writer_main(void *arg)
{
    mg_store_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->r_head && !s->stop) pthread_cond_wait(&s->wcond, &s->mu);
        if (!s->r_head) break; /* stopping and drained */
        mg_log_t *l = s->r_head;
        s->r_head = l->r_next;
        if (!s->r_head) s->r_tail = NULL;
        l->w_ready = false;
        l->w_busy = true;
        if (s->o.group_wait_ms > 0 && !s->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->o.group_wait_ms * 1000000ull;
            ts.tv_sec += (time_t)(ns / 1000000000ull);
            ts.tv_nsec = (long)(ns % 1000000000ull);
            while (!s->stop && pthread_cond_timedwait(&s->wcond, &s->mu, &ts) != ETIMEDOUT) {
            }
        }
        if (l->w_sync_err && !l->w_err) l->w_err = l->w_sync_err;
        op_t *batch = l->pq_head, *tail = l->pq_tail;
        l->pq_head = l->pq_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        writer_batch(s, l, batch, tail);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
