/* entry.h - a stored message entry: refcounted, shared by storage cache and dispatch.
 * `data` holds the bytes of the SEND frame from the magic 0x0e01 onwards (checksum, metadata
 * size, metadata, payload), exactly as received, so dispatch never re-encodes them.
 * The refcount is atomic because the storage writer thread holds a reference while it writes;
 * the contents are immutable once the entry is handed to storage. */
#ifndef MG_ENTRY_H
#define MG_ENTRY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mg_entry {
    atomic_int refs;
    uint64_t ledger_id;
    uint64_t entry_id;
    /* Filled by the broker from the MessageMetadata (entry_parse_info), not by storage. */
    uint8_t info_ready;
    uint8_t has_key;
    uint8_t has_tail_crc;   /* tail_crc is known: storage need not read those bytes again */
    uint8_t crc_skip;       /* with has_tail_crc: bytes at the head that tail_crc leaves out */
    uint32_t tail_crc;      /* crc32c(0, data + crc_skip, len - crc_skip) */
    /* Where storage keeps the bytes (set by storage on the loop thread once they are written
     * or read back): segment first id and byte offset. Lets dispatch sendfile them. */
    uint8_t has_file;
    uint64_t file_seg, file_off;
    int32_t num_messages;   /* num_messages_in_batch, 1 when not batched */
    uint64_t publish_time;
    int64_t deliver_at;     /* deliver_at_time, 0 when none */
    uint32_t key_hash;      /* Murmur3 of partition_key/ordering_key, for Key_Shared */
    uint32_t len;
    uint8_t data[];
} mg_entry_t;

/* New entry with refs = 1 and a copy of data (NULL -> zeroed); NULL on allocation failure. */
mg_entry_t *entry_new(const void *data, uint32_t len);
/* New entry with refs = 1 whose len bytes of data the caller fills in. */
mg_entry_t *entry_alloc(uint32_t len);
static inline mg_entry_t *entry_ref(mg_entry_t *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}
void entry_unref(mg_entry_t *e);

#endif
