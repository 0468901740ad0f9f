/* arena.h - a bump allocator for scoped, short-lived allocations on one thread.
 * Take a mark, allocate, release to the mark: everything allocated since goes at once. The
 * first block stays for the arena's life, so a steady state that fits in it calls malloc
 * never; a larger need chains more blocks, freed again by the release. Releases must come in
 * the reverse order of their marks (scopes nest). Under ASan, released memory is poisoned. */
#ifndef MG_ARENA_H
#define MG_ARENA_H

#include <stddef.h>

typedef struct mg_arena_block mg_arena_block_t;

typedef struct mg_arena {
    mg_arena_block_t *cur; /* the newest block; never NULL after a successful init */
    size_t block_size;
} mg_arena_t;

typedef struct mg_arena_mark {
    mg_arena_block_t *block;
    size_t used;
} mg_arena_mark_t;

int mg_arena_init(mg_arena_t *a, size_t block_size); /* 0, or -1 (no memory) */
void mg_arena_destroy(mg_arena_t *a);
void *mg_arena_alloc(mg_arena_t *a, size_t n); /* 16-byte aligned; NULL when out of memory */
mg_arena_mark_t mg_arena_mark(const mg_arena_t *a);
void mg_arena_release(mg_arena_t *a, mg_arena_mark_t m);

#endif
