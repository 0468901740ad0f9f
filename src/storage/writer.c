/* writer.c - the storage writer thread (see ledger.h): takes every queued append, writes each
 * log with writev, fdatasyncs the dirty files (in parallel with the sync helpers when there are
 * several), and hands the completions to the loop through the eventfd. It owns the w_* fields
 * of each log; everything else belongs to the loop thread (ledger.c). */
#include "storage/ledger_int.h"

/* ---- writer thread ------------------------------------------------------------------------ */

/* Fail every append of l in the current group that has not failed yet, and all later ones. */
static void writer_fail(mg_log_t *l, int err)
{
    l->w_err = err;
    for (op_t *op = l->wq_head; op; op = op->next)
        if (op->status == 0) op->status = err;
}

static int writer_open_seg(mg_store_t *s, mg_log_t *l, bool create)
{
    char path[PATH_MAX];
    seg_path(l->dirpath, l->w_seg_first, path, sizeof path);
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_CREAT | (create ? O_TRUNC : 0);
    l->wfd = open(path, flags, 0644);
    if (l->wfd < 0) {
        int e = errno;
        log_error("open(%s): %s", path, strerror(e));
        writer_fail(l, -e);
        return -1;
    }
    if (create && s->o.sync_data && fsync_dir(l->dirpath) < 0) {
        writer_fail(l, -EIO);
        return -1;
    }
    return 0;
}

/* Close the active segment (synced first when sync_data) and start one at first_id. */
static int writer_roll(mg_store_t *s, mg_log_t *l, uint64_t first_id)
{
    if (l->wfd >= 0) {
        if (s->o.sync_data && l->w_dirty && fdatasync(l->wfd) < 0) {
            int e = errno;
            log_error("fdatasync(%s seg %" PRIu64 "): %s", l->topic, l->w_seg_first, strerror(e));
            writer_fail(l, -e);
            return -1;
        }
        close(l->wfd);
        l->wfd = -1;
        l->w_dirty = false;
    }
    l->w_seg_first = first_id;
    l->w_off = 0;
    return writer_open_seg(s, l, true);
}

static int writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
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
        } else if (l->wfd < 0 && writer_open_seg(s, l, false) < 0) {
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
        if (writev_all(l->wfd, iov, niov) < 0) {
            int e = errno;
            log_error("writev(%s seg %" PRIu64 "): %s", l->topic, l->w_seg_first, strerror(e));
            /* cut a partial record so the file stays a clean prefix */
            if (ftruncate(l->wfd, (off_t)l->w_off) < 0)
                log_error("ftruncate(%s seg %" PRIu64 "): %s", l->topic, l->w_seg_first,
                          strerror(errno));
            writer_fail(l, -e);
            continue;
        }
        l->w_off += total;
        l->w_dirty = true;
        op = end;
    }
}

void *syncer_main(void *arg)
{
    mg_store_t *s = arg;
    pthread_mutex_lock(&s->smu);
    for (;;) {
        while (!s->sstop && s->snext >= s->snwork) pthread_cond_wait(&s->scv, &s->smu);
        if (s->sstop) break;
        mg_log_t *l = s->swork[s->snext++];
        pthread_mutex_unlock(&s->smu);
        l->w_sync_err = fdatasync(l->wfd) < 0 ? -errno : 0;
        pthread_mutex_lock(&s->smu);
        if (--s->sremaining == 0) pthread_cond_signal(&s->sdone);
    }
    pthread_mutex_unlock(&s->smu);
    return NULL;
}

/* fdatasync every log in dl (writer thread): in parallel with the helpers when there are
 * several, so a group costs about one fsync, not one per file. Results in w_sync_err. */
static void sync_logs(mg_store_t *s, mg_log_t **dl, int k)
{
    if (k == 1 || s->nsyncers == 0) {
        for (int i = 0; i < k; i++) dl[i]->w_sync_err = fdatasync(dl[i]->wfd) < 0 ? -errno : 0;
        return;
    }
    pthread_mutex_lock(&s->smu);
    s->swork = dl;
    s->snwork = k;
    s->snext = 0;
    s->sremaining = k;
    pthread_cond_broadcast(&s->scv);
    while (s->snext < s->snwork) {
        mg_log_t *l = s->swork[s->snext++];
        pthread_mutex_unlock(&s->smu);
        l->w_sync_err = fdatasync(l->wfd) < 0 ? -errno : 0;
        pthread_mutex_lock(&s->smu);
        s->sremaining--;
    }
    while (s->sremaining > 0) pthread_cond_wait(&s->sdone, &s->smu);
    s->swork = NULL;
    s->snwork = s->snext = 0;
    pthread_mutex_unlock(&s->smu);
}

/* One group commit: write every queued append, one fdatasync per dirty file, then hand the
 * completions to the loop in append order per log and signal the eventfd. */
static void writer_group(mg_store_t *s, op_t *batch)
{
    mg_log_t *glist = NULL, *gtail = NULL;
    while (batch) {
        op_t *op = batch;
        batch = op->next;
        op->next = NULL;
        mg_log_t *l = op->log;
        if (!l->w_in_group) {
            l->w_in_group = true;
            l->w_gnext = NULL;
            l->wq_head = l->wq_tail = NULL;
            if (gtail) gtail->w_gnext = l;
            else glist = l;
            gtail = l;
        }
        if (l->wq_tail) l->wq_tail->next = op;
        else l->wq_head = op;
        l->wq_tail = op;
    }
    for (mg_log_t *l = glist; l; l = l->w_gnext) writer_write_log(s, l);
    if (s->o.sync_data) {
        int k = 0, cap = 0;
        mg_log_t *small[64], **dl = small;
        for (mg_log_t *l = glist; l; l = l->w_gnext) cap++;
        if (cap > 64 && !(dl = mg_malloc((size_t)cap * sizeof *dl))) dl = NULL;
        for (mg_log_t *l = glist; l; l = l->w_gnext) {
            if (!l->w_dirty || l->wfd < 0) continue;
            if (dl) dl[k++] = l;
            else l->w_sync_err = fdatasync(l->wfd) < 0 ? -errno : 0; /* no memory: one by one */
        }
        if (dl && k) sync_logs(s, dl, k);
        if (dl && dl != small) mg_free(dl);
        for (mg_log_t *l = glist; l; l = l->w_gnext) {
            if (!l->w_dirty || l->wfd < 0) continue;
            if (l->w_sync_err < 0) {
                log_error("fdatasync(%s seg %" PRIu64 "): %s", l->topic, l->w_seg_first,
                          strerror(-l->w_sync_err));
                writer_fail(l, l->w_sync_err);
            }
            l->w_sync_err = 0;
        }
    }
    for (mg_log_t *l = glist; l; l = l->w_gnext) l->w_dirty = false;
    /* after this block the writer touches neither these logs nor their ops */
    pthread_mutex_lock(&s->mu);
    for (mg_log_t *l = glist, *next; l; l = next) {
        next = l->w_gnext;
        size_t n = 0;
        for (op_t *op = l->wq_head; op; op = op->next) n++;
        if (s->c_tail) s->c_tail->next = l->wq_head;
        else s->c_head = l->wq_head;
        s->c_tail = l->wq_tail;
        l->wq_head = l->wq_tail = NULL;
        l->w_in_group = false;
        l->w_pending -= n;
    }
    pthread_cond_broadcast(&s->dcond);
    pthread_mutex_unlock(&s->mu);
    uint64_t one = 1;
    if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_error("write(eventfd): %s", strerror(errno));
}

void *writer_main(void *arg)
{
    mg_store_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->q_head && !s->stop) pthread_cond_wait(&s->wcond, &s->mu);
        if (!s->q_head) break; /* stopping and drained */
        if (s->o.group_wait_ms > 0 && !s->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->o.group_wait_ms * 1000000ull;
            ts.tv_sec += (time_t)(ns / 1000000000ull);
            ts.tv_nsec = (long)(ns % 1000000000ull);
            while (!s->stop && pthread_cond_timedwait(&s->wcond, &s->mu, &ts) != ETIMEDOUT) {
            }
        }
        op_t *batch = s->q_head;
        s->q_head = s->q_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        writer_group(s, batch);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
