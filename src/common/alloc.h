/* alloc.h - allocation wrappers with accounting.
 * Every broker buffer goes through these so /metrics can report what the broker holds and a
 * memory cap can refuse work. Thread-safe (atomic counters). mg_malloc returns NULL on failure;
 * callers handle it (the client library never aborts). */
#ifndef MG_ALLOC_H
#define MG_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *mg_malloc(size_t n);
void *mg_calloc(size_t count, size_t n);
void *mg_realloc(void *p, size_t n);
void mg_free(void *p);
char *mg_strdup(const char *s);
char *mg_strndup(const char *s, size_t n);

/* Bytes currently allocated through these wrappers, and allocations outstanding. */
size_t mg_alloc_used(void);
size_t mg_alloc_count(void);

#endif
