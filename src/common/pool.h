/* pool.h - a free list of fixed-size objects for one thread: what the hot path allocates per
 * entry (storage ops, cache nodes, send contexts, pending deliveries) is recycled instead of
 * going back to malloc. Up to max_free objects wait on the list; beyond that they are freed.
 * Objects on the list are poisoned under ASan, so a use after put is still caught. */
#ifndef MG_POOL_H
#define MG_POOL_H

#include <stddef.h>

typedef struct mg_pool {
    void *free;  /* singly linked through each object's first word */
    size_t size; /* object size, at least a pointer */
    size_t nfree, max_free;
} mg_pool_t;

void mg_pool_init(mg_pool_t *p, size_t size, size_t max_free);
void mg_pool_destroy(mg_pool_t *p);      /* frees the objects on the list (not those handed out) */
void *mg_pool_get(mg_pool_t *p);         /* uninitialised; NULL when out of memory */
void mg_pool_put(mg_pool_t *p, void *x); /* x may be NULL */

#endif
