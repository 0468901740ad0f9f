/* map.h - open-addressing hash maps: string keys (copied, owned by the map) and uint64 keys.
 * Values are caller-owned pointers. Not thread-safe. Iteration order is unspecified;
 * deleting during iteration is allowed for the current key only (map_iter_* handles it). */
#ifndef MG_MAP_H
#define MG_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct map_slot {
    char *skey;     /* string maps; NULL = empty; (char*)1 = tombstone */
    uint64_t ukey;
    uint8_t state;  /* 0 empty, 1 used, 2 tombstone */
    void *val;
} map_slot_t;

typedef struct mg_map {
    map_slot_t *slots;
    size_t cap, count, used; /* used counts tombstones too */
    int is_str;
} mg_map_t;

void map_init_str(mg_map_t *m);
void map_init_u64(mg_map_t *m);
void map_free(mg_map_t *m); /* frees keys, not values */

void *map_get(const mg_map_t *m, const char *key);
int map_put(mg_map_t *m, const char *key, void *val); /* replaces; 0 or -1 */
void *map_del(mg_map_t *m, const char *key);          /* returns the old value */

void *map_get_u64(const mg_map_t *m, uint64_t key);
int map_put_u64(mg_map_t *m, uint64_t key, void *val);
void *map_del_u64(mg_map_t *m, uint64_t key);

static inline size_t map_count(const mg_map_t *m) { return m->count; }

/* Iterate: for (size_t i = 0; map_next(m, &i, &k, &uk, &v);) { ... } */
int map_next(const mg_map_t *m, size_t *iter, const char **skey, uint64_t *ukey, void **val);

uint64_t hash_bytes(const void *p, size_t n);

#endif
