/* pool.c - see pool.h. */
#include "common/pool.h"

#include "common/alloc.h"
#include "common/asan.h"

void mg_pool_init(mg_pool_t *p, size_t size, size_t max_free)
{
    p->free = NULL;
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
    p->nfree = 0;
    p->max_free = max_free;
}

void mg_pool_destroy(mg_pool_t *p)
{
    while (p->free) {
        void *x = p->free;
        MG_UNPOISON(x, p->size);
        p->free = *(void **)x;
        mg_free(x);
    }
    p->nfree = 0;
}

void *mg_pool_get(mg_pool_t *p)
{
    void *x = p->free;
    if (!x) return mg_malloc(p->size);
    MG_UNPOISON(x, p->size);
    p->free = *(void **)x;
    p->nfree--;
    return x;
}

void mg_pool_put(mg_pool_t *p, void *x)
{
    if (!x) return;
    if (p->nfree >= p->max_free) {
        mg_free(x);
        return;
    }
    *(void **)x = p->free;
    p->free = x;
    p->nfree++;
    MG_POISON(x, p->size);
}
