/* ledger_int.h - internals shared by the storage files: the on-disk record constants, the log
 * and store structures, and the helpers both the loop side (ledger.c) and the writer thread
 * (writer.c) use. Not part of the storage interface (that is ledger.h). */
#ifndef MG_STORAGE_LEDGER_INT_H
#define MG_STORAGE_LEDGER_INT_H

#include "storage/ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/pool.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/map.h"
#include "common/timeutil.h"

#define REC_HDR 24
#define REC_MAGIC 0x3152474du        /* "MGR1" read as a little-endian u32 */
#define REC_MAX_LEN (256u << 20)     /* sanity bound on a record's length field */
/* A record's tag (header bytes 12..15): its log's ledger id, so that bytes left in a recycled
 * segment file by another log never pass for records (0: written before tags existed). */
#define REC_TAG(ledger_id) (0x80000000u | (uint32_t)((ledger_id) & 0x7fffffffu))
#define RECYCLED_DIR ".recycled"     /* under ledgers/: segment files kept for reuse */
#define IDX_EVERY 32                 /* sparse index: one offset per 32 entries */
#define SCAN_BUF (1u << 20)
#define IOV_BATCH 256                /* records per writev */
#define IO_THREADS 4                 /* storage workers: each writes + fdatasyncs one log at a time */
#define READ_HINTS 8                 /* sequential-read hints per log */
#define RTAB_SLOTS 64                /* recent-read table slots per log */
#define ENC_SHORT_MAX 200            /* longer encoded names are shortened + hashed */
#define DEFAULT_SEGMENT_MAX (64ull << 20)
#define COUNTER_FILE ".next-ledger-id"
#define META_MAX 8192                /* bound on a log meta file (topic names are < 4 KiB) */

/* One queued append. Created by log_append (loop), written by the writer, completed and freed
 * by store_dispatch_completions (loop). Holds its own reference on e. */
typedef struct op {
    struct op *next;
    mg_log_t *log;
    mg_entry_t *e;
    log_append_cb cb;
    void *arg;
    int status;          /* set by the writer: 0 or -errno */
    uint64_t seg_first;  /* segment the record went to (writer) */
    uint64_t off;        /* its offset in that segment (writer) */
    uint64_t wseq;       /* the write batch it went out in (per log, from 1) */
    uint64_t pick_us;    /* a worker took it (writer) */
    uint64_t durable_us; /* its fdatasync returned, or its write when not syncing (writer) */
    uint8_t hdr[REC_HDR];
} op_t;

/* An open segment file being appended to. The writer holds one reference while it is the
 * active segment, each fdatasync in flight on it one more; refs under s->mu. */
typedef struct wfile {
    int fd;
    int refs;
} wfile_t;

/* A cached entry: on the store-wide FIFO (oldest first) and in its log's ring (by id). */
typedef struct cnode {
    struct cnode *prev, *next;
    mg_log_t *log;
    mg_entry_t *e;
    size_t cost;
} cnode_t;

/* A segment as the loop thread knows it. */
typedef struct seg {
    uint64_t first_id;
    uint64_t valid_end;  /* one past the last record known good (indexed segments) */
    uint64_t bytes;
    uint64_t mtime_ms;
    uint64_t *idx;       /* idx[k] = offset of entry first_id + k * IDX_EVERY */
    size_t nidx, capidx;
    bool indexed;        /* false: closed segment not scanned yet (scanned on first read) */
} seg_t;

struct mg_segfile {
    int fd;
    int refs;
    uint64_t seg;   /* first entry id of the segment */
    mg_log_t *log;  /* on log->sf_live while both exist (a trim must not recycle the file) */
    struct mg_segfile *prev, *next;
};

struct mg_log {
    mg_store_t *s;
    char *topic;
    char *dirpath;
    uint64_t ledger_id;
    uint32_t tag;         /* REC_TAG(ledger_id) */

    /* loop thread */
    uint64_t first_id, durable_end, next_id;
    seg_t *segs;
    size_t nsegs, capsegs;
    int rfd;              /* read fd of segment rfd_seg, or -1 */
    uint64_t rfd_seg;
    /* Sequential-read hints, one per concurrent reader (subscriptions at different places):
     * entry `id` starts at `off` in segment `seg`. Replaced round robin. */
    struct read_hint {
        uint64_t id, off, seg;
    } hints[READ_HINTS];
    unsigned hint_next;
    /* Entries recently read from disk, direct-mapped by id (lazily allocated): readers at
     * nearby positions share one pread and checksum check. Bounded store-wide. */
    mg_entry_t **rtab;
    cnode_t **cring;      /* cached entries, contiguous ids, oldest at chead */
    mg_segfile_t *sfile[2]; /* segment files open for sendfile: [0] newest, [1] the one before */
    mg_segfile_t *sf_live;  /* every segment file of this log still referenced anywhere */
    size_t ccap, chead, ccount;
    bool failed;
    bool closing;
    mg_lat_hist_t write_lat; /* completed appends, by durable_us - pick_us */

    /* under s->mu: appends submitted and not yet completed (w_pending); those not yet taken
     * by a worker (pq); those written and waiting for an fdatasync (us, in id order, each
     * tagged with its write batch); the log's place on the store's ready list */
    size_t w_pending;
    op_t *pq_head, *pq_tail;
    op_t *us_head, *us_tail;
    uint64_t w_wseq;      /* last write batch handed over */
    uint64_t w_durable;   /* every batch <= this one is durable (or failed) */
    int w_syncing;        /* fdatasyncs in flight on this log's files */
    int w_sync_err;       /* a failed fdatasync (sticky): later appends fail too */
    bool w_ready;         /* on s->r_head.. list, waiting for a worker */
    bool w_busy;          /* a worker is writing it (one writer at a time; syncs overlap) */
    mg_log_t *r_next;

    /* the worker holding w_busy only (set up by log_open before the first append is queued;
     * handed from worker to worker through s->mu) */
    wfile_t *wf;          /* active segment, NULL until opened */
    uint64_t w_seg_first, w_off;
    uint64_t w_stale;     /* the active file's size when it was taken recycled (old bytes past
                           * w_off are cut when it closes), else 0 */
    int w_err;
    bool w_dirty;         /* written since the last fdatasync was requested */
    op_t *wq_head;        /* the batch being written */
};

struct mg_store {
    char *dir;
    char *ldir;
    char *rdir;              /* ldir/RECYCLED_DIR */
    uint64_t rseq;           /* next name for a recycled file (loop thread) */
    store_opts_t o;
    int efd;
    uint64_t next_ledger_id; /* loop thread */
    mg_map_t logs;           /* open logs by topic, loop thread */

    /* recycled per-append objects, loop thread */
    mg_pool_t op_pool, cnode_pool;

    /* cache, loop thread */
    cnode_t *chead, *ctail;
    uint64_t cache_bytes;
    uint64_t rtab_bytes;     /* bytes held by every log's recent-read table */
    bool dispatching;
    op_t **dlist; /* completions being dispatched (store_dispatch_completions), or NULL */

    pthread_mutex_t mu;
    pthread_cond_t wcond; /* workers wait for a ready log */
    pthread_cond_t dcond; /* log_close waits for a log's appends to be written */
    mg_log_t *r_head, *r_tail; /* logs with submitted appends and no worker, FIFO */
    int kicks;               /* logs made ready by appends, workers not woken yet (loop) */
    uint64_t *rpool;         /* recycled segment files ready for reuse, by name (room for
                              * recycle_max) */
    size_t nrpool;
    op_t *c_head, *c_tail; /* completed, for the loop */
    bool stop;
    pthread_t workers[IO_THREADS];
    int nworkers;
};

/* ledger.c helpers used by the writer */
/* Move a recycled segment file to path (the new segment of a log) when one is ready: its size,
 * or 0 when none (then create the file). Any thread; takes s->mu. */
uint64_t recycled_take(mg_store_t *s, const char *path);
void seg_path(const char *dirpath, uint64_t first, char *out, size_t outlen);
int fsync_dir(const char *path);
void put_le32(uint8_t *p, uint32_t v);
void put_le64(uint8_t *p, uint64_t v);

/* writer.c: the storage worker threads */
void *writer_main(void *arg);
/* Drop a reference on a segment file (under s->mu, or once no worker can hold it); the last
 * one closes it. */
void wfile_unref(wfile_t *wf);
/* Cut what a recycled active segment held before, past w_off (it is closing: a roll, or
 * log_close). The worker holding w_busy, or once no worker can hold l. */
void seg_cut_stale(mg_log_t *l);
/* Put l on the ready list for a worker unless one is writing it or it is there already
 * (under s->mu). */
void log_make_ready(mg_store_t *s, mg_log_t *l);
/* The same without waking a worker: true when l was added (the caller wakes one later). */
bool log_queue_ready(mg_store_t *s, mg_log_t *l);

#endif
