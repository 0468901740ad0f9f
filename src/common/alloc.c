/* alloc.c - accounting wrappers: a 16-byte header stores the size of each block. */
#include "common/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16

static atomic_size_t used_bytes;
static atomic_size_t used_count;

void *mg_malloc(size_t n)
{
    unsigned char *p = malloc(n + HDR);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    atomic_fetch_add_explicit(&used_bytes, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&used_count, 1, memory_order_relaxed);
    return p + HDR;
}

void *mg_calloc(size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n) return NULL;
    void *p = mg_malloc(count * n);
    if (p) memset(p, 0, count * n);
    return p;
}

void mg_free(void *p)
{
    if (!p) return;
    unsigned char *b = (unsigned char *)p - HDR;
    size_t n;
    memcpy(&n, b, sizeof n);
    atomic_fetch_sub_explicit(&used_bytes, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&used_count, 1, memory_order_relaxed);
    free(b);
}

void *mg_realloc(void *p, size_t n)
{
    if (!p) return mg_malloc(n);
    unsigned char *b = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, b, sizeof old);
    unsigned char *nb = realloc(b, n + HDR);
    if (!nb) return NULL;
    memcpy(nb, &n, sizeof n);
    atomic_fetch_add_explicit(&used_bytes, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&used_bytes, old, memory_order_relaxed);
    return nb + HDR;
}

char *mg_strndup(const char *s, size_t n)
{
    size_t l = strnlen(s, n);
    char *d = mg_malloc(l + 1);
    if (!d) return NULL;
    memcpy(d, s, l);
    d[l] = 0;
    return d;
}

char *mg_strdup(const char *s)
{
    return mg_strndup(s, strlen(s));
}

size_t mg_alloc_used(void)
{
    return atomic_load(&used_bytes);
}

size_t mg_alloc_count(void)
{
    return atomic_load(&used_count);
}
