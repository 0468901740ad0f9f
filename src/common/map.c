/* map.c - linear probing with tombstones; grows at 70% load (counting tombstones). */
#include "common/map.h"

#include <string.h>

#include "common/alloc.h"

uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

void map_init_str(mg_map_t *m)
{
    memset(m, 0, sizeof *m);
    m->is_str = 1;
}

void map_init_u64(mg_map_t *m)
{
    memset(m, 0, sizeof *m);
}

void map_free(mg_map_t *m)
{
    if (m->is_str)
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].state == 1) mg_free(m->slots[i].skey);
    mg_free(m->slots);
    int s = m->is_str;
    memset(m, 0, sizeof *m);
    m->is_str = s;
}

static size_t find(const mg_map_t *m, const char *skey, uint64_t ukey, int *found)
{
    uint64_t h = m->is_str ? hash_bytes(skey, strlen(skey)) : hash_u64(ukey);
    size_t mask = m->cap - 1, i = h & mask, tomb = (size_t)-1;
    for (;;) {
        map_slot_t *s = &m->slots[i];
        if (s->state == 0) {
            *found = 0;
            return tomb != (size_t)-1 ? tomb : i;
        }
        if (s->state == 2) {
            if (tomb == (size_t)-1) tomb = i;
        } else if (m->is_str ? !strcmp(s->skey, skey) : s->ukey == ukey) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int grow(mg_map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 8;
    if (m->count * 2 < m->cap) ncap = m->cap; /* mostly tombstones: rehash in place size */
    map_slot_t *old = m->slots;
    size_t ocap = m->cap;
    map_slot_t *ns = mg_calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    m->slots = ns;
    m->cap = ncap;
    m->count = m->used = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].state != 1) continue;
        int f;
        size_t j = find(m, old[i].skey, old[i].ukey, &f);
        m->slots[j] = old[i];
        m->count++;
        m->used++;
    }
    mg_free(old);
    return 0;
}

static int put(mg_map_t *m, const char *skey, uint64_t ukey, void *val)
{
    if ((m->used + 1) * 10 >= m->cap * 7 && grow(m)) return -1;
    int f;
    size_t i = find(m, skey, ukey, &f);
    map_slot_t *s = &m->slots[i];
    if (f) {
        s->val = val;
        return 0;
    }
    if (m->is_str) {
        s->skey = mg_strdup(skey);
        if (!s->skey) return -1;
    }
    if (s->state == 0) m->used++;
    s->ukey = ukey;
    s->state = 1;
    s->val = val;
    m->count++;
    return 0;
}

static void *get(const mg_map_t *m, const char *skey, uint64_t ukey)
{
    if (!m->cap) return NULL;
    int f;
    size_t i = find(m, skey, ukey, &f);
    return f ? m->slots[i].val : NULL;
}

static void *del(mg_map_t *m, const char *skey, uint64_t ukey)
{
    if (!m->cap) return NULL;
    int f;
    size_t i = find(m, skey, ukey, &f);
    if (!f) return NULL;
    map_slot_t *s = &m->slots[i];
    void *v = s->val;
    if (m->is_str) mg_free(s->skey);
    s->skey = NULL;
    s->state = 2;
    s->val = NULL;
    m->count--;
    return v;
}

void *map_get(const mg_map_t *m, const char *key) { return get(m, key, 0); }
int map_put(mg_map_t *m, const char *key, void *val) { return put(m, key, 0, val); }
void *map_del(mg_map_t *m, const char *key) { return del(m, key, 0); }
void *map_get_u64(const mg_map_t *m, uint64_t key) { return get(m, NULL, key); }
int map_put_u64(mg_map_t *m, uint64_t key, void *val) { return put(m, NULL, key, val); }
void *map_del_u64(mg_map_t *m, uint64_t key) { return del(m, NULL, key); }

int map_next(const mg_map_t *m, size_t *iter, const char **skey, uint64_t *ukey, void **val)
{
    while (*iter < m->cap) {
        map_slot_t *s = &m->slots[(*iter)++];
        if (s->state != 1) continue;
        if (skey) *skey = s->skey;
        if (ukey) *ukey = s->ukey;
        if (val) *val = s->val;
        return 1;
    }
    return 0;
}
