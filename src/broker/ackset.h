/* ackset.h - cursor acknowledgement state of a subscription, and a set of entry ids.
 *
 * idset_t: sorted disjoint ranges [start, end) of entry ids; O(log n) lookups.
 * ackset_t: Pulsar's cursor model: a mark-delete floor (every id < floor is acknowledged),
 * individually acknowledged ids above it, and for partially acknowledged batches the bitmap of
 * batch indexes *not yet* acknowledged (Pulsar's ack_set convention: bit set = still unacked).
 * Pure data structures; serialisable for the metadata store. Not thread-safe. */
#ifndef MG_BROKER_ACKSET_H
#define MG_BROKER_ACKSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/map.h"

typedef struct idrange {
    uint64_t start, end; /* [start, end) */
} idrange_t;

typedef struct idset {
    idrange_t *r;
    size_t n, cap;
} idset_t;

void idset_init(idset_t *s);
void idset_free(idset_t *s);
void idset_clear(idset_t *s);
int idset_add(idset_t *s, uint64_t id);
int idset_add_range(idset_t *s, uint64_t start, uint64_t end);
bool idset_contains(const idset_t *s, uint64_t id);
void idset_remove(idset_t *s, uint64_t id);
void idset_remove_below(idset_t *s, uint64_t floor);
/* Smallest id in the set, false when empty. */
bool idset_min(const idset_t *s, uint64_t *id);
uint64_t idset_count(const idset_t *s);
/* Number of ids in the set within [start, end). */
uint64_t idset_count_in(const idset_t *s, uint64_t start, uint64_t end);

typedef struct batch_bits {
    int32_t size;   /* batch size (number of messages) */
    int nwords;
    uint64_t w[];   /* bit i set = index i not acknowledged yet */
} batch_bits_t;

typedef struct ackset {
    uint64_t floor;     /* all ids < floor are acknowledged */
    idset_t acked;      /* ids >= floor acknowledged individually */
    mg_map_t batches;   /* u64 id -> batch_bits_t*: partially acknowledged batches */
} ackset_t;

void ackset_init(ackset_t *a, uint64_t floor);
void ackset_free(ackset_t *a);
bool ackset_is_acked(const ackset_t *a, uint64_t id);
/* Acknowledge a whole entry; advances the floor over contiguous acked ids. Returns true when
 * the entry was not acknowledged before. */
bool ackset_ack(ackset_t *a, uint64_t id);
/* Acknowledge batch indexes: unacked_bits is the client's ack_set (bit set = still unacked),
 * nwords 64-bit words, batch_size messages in the entry. Returns true when the entry became
 * fully acknowledged. */
bool ackset_ack_batch(ackset_t *a, uint64_t id, const int64_t *unacked_bits, size_t nwords,
                      int32_t batch_size);
/* Cumulative: everything <= id acknowledged. */
void ackset_ack_cumulative(ackset_t *a, uint64_t id);
/* Remaining (unacked) bits of a partially acked batch, or NULL. */
const batch_bits_t *ackset_batch(const ackset_t *a, uint64_t id);
/* Move the cursor: everything < floor acked, everything >= floor unacked. */
void ackset_reset(ackset_t *a, uint64_t floor);
/* Count of ids acknowledged in [start, end) above the floor (for backlog). */
uint64_t ackset_acked_in(const ackset_t *a, uint64_t start, uint64_t end);

/* Serialise to / from bytes (versioned binary). 0 or -1. */
int ackset_encode(const ackset_t *a, mg_buf_t *out);
int ackset_decode(ackset_t *a, const uint8_t *p, size_t n);

#endif
