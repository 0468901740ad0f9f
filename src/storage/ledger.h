/* ledger.h - embedded durable storage: one append-only log per topic partition.
 *
 * Model: a topic partition has one Pulsar "ledger id" (assigned when its log is first created,
 * unique in the store, never reused) and entry ids 0, 1, 2, ... for its whole life. On disk the
 * log is a series of segment files named by their first entry id; retention deletes whole
 * segments. Each record carries its own CRC32-C, so a torn tail write is detected at open and
 * cut, never served.
 *
 * Threads: every function here is called on the broker loop thread only, except where noted.
 * A few storage workers per store (IO_THREADS) do write() + fdatasync(): each takes one log
 * and everything queued on it, and a log's fdatasyncs may overlap. They signal completions
 * through an eventfd; the loop calls store_dispatch_completions() when that fd is readable,
 * which runs the append callbacks in append order per log.
 */
#ifndef MG_STORAGE_LEDGER_H
#define MG_STORAGE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/entry.h"
#include "common/timeutil.h"

typedef struct mg_store mg_store_t;
typedef struct mg_log mg_log_t;

typedef struct store_opts {
    bool sync_data;           /* fdatasync before an append completes (journalSyncData) */
    int group_wait_ms;        /* writer waits up to this long to gather a group (0 = none) */
    uint64_t segment_max_bytes; /* roll to a new segment file past this size */
    uint64_t cache_max_bytes;   /* budget for recently appended entries kept in memory */
    int recycle_max;            /* segment files kept for reuse when trimmed (0: delete them) */
    bool batch_wakeups;         /* log_append wakes no worker: the loop calls store_kick once
                                 * per pass, before it sleeps */
} store_opts_t;

/* status: 0 when durable (or written, when !sync_data), negative errno on I/O failure.
 * entry_id: the id that append assigned. Runs on the loop thread. */
typedef void (*log_append_cb)(void *arg, int status, uint64_t entry_id);

/* Open or create a store under dir (creates dir/ledgers). NULL + err on failure. */
mg_store_t *store_open(const char *dir, const store_opts_t *o, char *err, size_t errlen);
/* Flush queued appends (their callbacks are dropped), stop the writer, close every log. */
void store_close(mg_store_t *s);
/* fd to watch for readability on the loop; then call store_dispatch_completions(). */
int store_event_fd(mg_store_t *s);
void store_dispatch_completions(mg_store_t *s);
/* With batch_wakeups: wake a worker for each log appended to since the last call. The loop
 * calls it before it sleeps, so a pass that reads many SENDs wakes the workers once, and they
 * find bigger batches, instead of being woken (and preempting the loop) at every append. */
void store_kick(mg_store_t *s);
/* How many wake-ups store_kick would give now: one per log made ready by an append since the
 * last kick (a log already waiting for a worker is not counted twice). Loop thread only. */
int store_kicks_pending(const mg_store_t *s);

/* Open (create when create=true) the log of one topic partition, by its canonical full name
 * (persistent://tenant/ns/topic[-partition-N]); the name is encoded safely into a directory
 * name. Recovery happens here: scan the tail segment, cut a torn or corrupt tail.
 * Returns NULL with err set; err is "not found" when !create and the log does not exist. */
mg_log_t *log_open(mg_store_t *s, const char *topic, bool create, char *err, size_t errlen);
/* Close a log. Callbacks of appends still queued are not invoked afterwards. */
void log_close(mg_log_t *l);
bool log_exists(mg_store_t *s, const char *topic);
/* Delete every file of a closed (or never opened) log. 0, or -1. */
int log_delete(mg_store_t *s, const char *topic);

uint64_t log_ledger_id(const mg_log_t *l);
/* Append: assigns e->ledger_id/e->entry_id synchronously, keeps a reference to e (the caller
 * keeps its own), puts e in the read cache and queues it for the writer. cb fires once, later,
 * on the loop thread. Returns 0, or -1 when the log has failed (I/O error) or is closing. */
int log_append(mg_log_t *l, mg_entry_t *e, log_append_cb cb, void *arg);

/* Ids: entries [first, durable_end) are readable; next_id is what the next append gets.
 * first == durable_end means empty. */
uint64_t log_first_id(const mg_log_t *l);
uint64_t log_durable_end(const mg_log_t *l);
uint64_t log_next_id(const mg_log_t *l);

/* Read one durable entry: 0 and *out (a new reference, caller unrefs), -ENOENT when the id is
 * trimmed or not durable yet, -EIO on a read or checksum failure. Served from the cache when
 * there, else from the segment (sequential reads are O(1) amortised). */
int log_read(mg_log_t *l, uint64_t entry_id, mg_entry_t **out);

/* An open segment file for sendfile. Loop thread only; reference counted so it outlives a
 * trim or a log close while output still refers to it. */
typedef struct mg_segfile mg_segfile_t;
/* The segment file holding e's bytes (e from log l, written or read back) and their offset:
 * a new reference, or NULL when not known (then send from memory). */
mg_segfile_t *log_entry_file(mg_log_t *l, const mg_entry_t *e, uint64_t *off);
int segfile_fd(const mg_segfile_t *f);
void segfile_unref(mg_segfile_t *f);

/* The time each completed append spent with a storage worker: from the worker taking it to
 * its bytes durable (pwritev, then the fdatasync covering them; the write alone when not
 * syncing). Pulsar's pulsar_storage_ledger_write_latency, a bookie's add: the disk's share of
 * the whole path that pulsar_storage_write_latency times. Loop thread. */
const mg_lat_hist_t *log_write_latency(const mg_log_t *l);

/* Bytes stored on disk, and approximate bytes of entries with id >= from_id. */
uint64_t log_size_bytes(const mg_log_t *l);
uint64_t log_bytes_from(const mg_log_t *l, uint64_t from_id);

typedef struct log_segment_info {
    uint64_t first_id;  /* first entry id in the segment */
    uint64_t end_id;    /* one past the last entry id */
    uint64_t bytes;
    uint64_t mtime_ms;  /* last write time (used for time-based retention) */
} log_segment_info_t;
/* Fill up to max segments, oldest first; returns how many exist. */
int log_segments(const mg_log_t *l, log_segment_info_t *out, int max);
/* Delete whole closed segments whose entries are all < before_id (never the active segment).
 * Returns how many segments were deleted. log_first_id() moves forward accordingly. */
int log_trim(mg_log_t *l, uint64_t before_id);

#endif
