/* arena.c - see arena.h. */
#include "common/arena.h"

#include <stdint.h>

#include "common/alloc.h"
#include "common/asan.h"

struct mg_arena_block {
    mg_arena_block_t *prev;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

static mg_arena_block_t *block_new(mg_arena_block_t *prev, size_t size)
{
    mg_arena_block_t *b = mg_malloc(sizeof *b + size);
    if (!b) return NULL;
    b->prev = prev;
    b->size = size;
    b->used = 0;
    MG_POISON(b->data, size);
    return b;
}

int mg_arena_init(mg_arena_t *a, size_t block_size)
{
    a->block_size = block_size;
    a->cur = block_new(NULL, block_size);
    return a->cur ? 0 : -1;
}

void mg_arena_destroy(mg_arena_t *a)
{
    while (a->cur) {
        mg_arena_block_t *p = a->cur->prev;
        MG_UNPOISON(a->cur->data, a->cur->size);
        mg_free(a->cur);
        a->cur = p;
    }
}

void *mg_arena_alloc(mg_arena_t *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) return NULL;
    mg_arena_block_t *b = a->cur;
    if (!b || b->size - b->used < need) {
        b = block_new(b, need > a->block_size ? need : a->block_size);
        if (!b) return NULL;
        a->cur = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    MG_UNPOISON(p, n);
    return p;
}

mg_arena_mark_t mg_arena_mark(const mg_arena_t *a)
{
    return (mg_arena_mark_t){a->cur, a->cur ? a->cur->used : 0};
}

void mg_arena_release(mg_arena_t *a, mg_arena_mark_t m)
{
    while (a->cur && a->cur != m.block) {
        mg_arena_block_t *p = a->cur->prev;
        MG_UNPOISON(a->cur->data, a->cur->size);
        mg_free(a->cur);
        a->cur = p;
    }
    if (a->cur) {
        MG_POISON(a->cur->data + m.used, a->cur->used - m.used);
        a->cur->used = m.used;
    }
}
