/* ackset.c - see ackset.h. */
#include "broker/ackset.h"

#include <string.h>

#include "common/alloc.h"

void idset_init(idset_t *s)
{
    memset(s, 0, sizeof *s);
}

void idset_free(idset_t *s)
{
    mg_free(s->r);
    memset(s, 0, sizeof *s);
}

void idset_clear(idset_t *s)
{
    s->n = 0;
}

/* index of the first range with end > id (the range that may contain id) */
static size_t lower(const idset_t *s, uint64_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->r[mid].end <= id) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

bool idset_contains(const idset_t *s, uint64_t id)
{
    size_t i = lower(s, id);
    return i < s->n && s->r[i].start <= id;
}

static int insert_at(idset_t *s, size_t i, idrange_t r)
{
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 4;
        idrange_t *nr = mg_realloc(s->r, c * sizeof *nr);
        if (!nr) return -1;
        s->r = nr;
        s->cap = c;
    }
    memmove(s->r + i + 1, s->r + i, (s->n - i) * sizeof *s->r);
    s->r[i] = r;
    s->n++;
    return 0;
}

static void remove_at(idset_t *s, size_t i, size_t count)
{
    if (!count) return;
    memmove(s->r + i, s->r + i + count, (s->n - i - count) * sizeof *s->r);
    s->n -= count;
}

int idset_add_range(idset_t *s, uint64_t start, uint64_t end)
{
    if (start >= end) return 0;
    /* first range that touches or follows start */
    size_t i = lower(s, start);
    if (i > 0 && s->r[i - 1].end == start) i--;
    size_t j = i;
    while (j < s->n && s->r[j].start <= end) {
        if (s->r[j].start < start) start = s->r[j].start;
        if (s->r[j].end > end) end = s->r[j].end;
        j++;
    }
    if (j > i) {
        s->r[i] = (idrange_t){start, end};
        remove_at(s, i + 1, j - i - 1);
        return 0;
    }
    return insert_at(s, i, (idrange_t){start, end});
}

int idset_add(idset_t *s, uint64_t id)
{
    return idset_add_range(s, id, id + 1);
}

void idset_remove(idset_t *s, uint64_t id)
{
    size_t i = lower(s, id);
    if (i >= s->n || s->r[i].start > id) return;
    idrange_t r = s->r[i];
    if (r.start == id && r.end == id + 1) remove_at(s, i, 1);
    else if (r.start == id) s->r[i].start++;
    else if (r.end == id + 1) s->r[i].end--;
    else {
        s->r[i].end = id;
        insert_at(s, i + 1, (idrange_t){id + 1, r.end});
    }
}

void idset_remove_below(idset_t *s, uint64_t floor)
{
    size_t i = lower(s, floor);
    if (i < s->n && s->r[i].start < floor) s->r[i].start = floor;
    remove_at(s, 0, i);
}

bool idset_min(const idset_t *s, uint64_t *id)
{
    if (!s->n) return false;
    *id = s->r[0].start;
    return true;
}

uint64_t idset_count(const idset_t *s)
{
    uint64_t c = 0;
    for (size_t i = 0; i < s->n; i++) c += s->r[i].end - s->r[i].start;
    return c;
}

uint64_t idset_count_in(const idset_t *s, uint64_t start, uint64_t end)
{
    uint64_t c = 0;
    for (size_t i = lower(s, start); i < s->n && s->r[i].start < end; i++) {
        uint64_t a = s->r[i].start > start ? s->r[i].start : start;
        uint64_t b = s->r[i].end < end ? s->r[i].end : end;
        if (b > a) c += b - a;
    }
    return c;
}

/* --- ackset --- */

void ackset_init(ackset_t *a, uint64_t floor)
{
    a->floor = floor;
    idset_init(&a->acked);
    map_init_u64(&a->batches);
}

static void free_batches(ackset_t *a)
{
    void *v;
    for (size_t it = 0; map_next(&a->batches, &it, NULL, NULL, &v);) mg_free(v);
    map_free(&a->batches);
}

void ackset_free(ackset_t *a)
{
    idset_free(&a->acked);
    free_batches(a);
}

bool ackset_is_acked(const ackset_t *a, uint64_t id)
{
    return id < a->floor || idset_contains(&a->acked, id);
}

static void advance_floor(ackset_t *a)
{
    if (a->acked.n && a->acked.r[0].start <= a->floor) {
        uint64_t nf = a->acked.r[0].end;
        for (uint64_t id = a->floor; id < nf && map_count(&a->batches); id++)
            mg_free(map_del_u64(&a->batches, id));
        a->floor = nf;
        idset_remove_below(&a->acked, a->floor);
    }
}

bool ackset_ack(ackset_t *a, uint64_t id)
{
    if (ackset_is_acked(a, id)) return false;
    mg_free(map_del_u64(&a->batches, id));
    if (id == a->floor) a->floor++;
    else idset_add(&a->acked, id);
    advance_floor(a);
    return true;
}

bool ackset_ack_batch(ackset_t *a, uint64_t id, const int64_t *bits, size_t nwords,
                      int32_t batch_size)
{
    if (ackset_is_acked(a, id)) return false;
    if (batch_size <= 0) batch_size = (int32_t)(nwords * 64);
    batch_bits_t *b = map_get_u64(&a->batches, id);
    if (!b) {
        int nw = (batch_size + 63) / 64;
        b = mg_malloc(sizeof *b + (size_t)nw * 8);
        if (!b) return false;
        b->size = batch_size;
        b->nwords = nw;
        for (int i = 0; i < nw; i++) b->w[i] = ~0ull;
        if (batch_size % 64) b->w[nw - 1] = (1ull << (batch_size % 64)) - 1;
        map_put_u64(&a->batches, id, b);
    }
    bool any = false;
    for (int i = 0; i < b->nwords; i++) {
        uint64_t in = (size_t)i < nwords ? (uint64_t)bits[i] : ~0ull; /* no info: unchanged */
        b->w[i] &= in;
        if (b->w[i]) any = true;
    }
    if (!any) return ackset_ack(a, id);
    return false;
}

void ackset_ack_cumulative(ackset_t *a, uint64_t id)
{
    if (id + 1 <= a->floor) return;
    for (uint64_t i = a->floor; i <= id && map_count(&a->batches); i++)
        mg_free(map_del_u64(&a->batches, i));
    a->floor = id + 1;
    idset_remove_below(&a->acked, a->floor);
    advance_floor(a);
}

const batch_bits_t *ackset_batch(const ackset_t *a, uint64_t id)
{
    return map_get_u64(&a->batches, id);
}

void ackset_reset(ackset_t *a, uint64_t floor)
{
    idset_clear(&a->acked);
    free_batches(a);
    map_init_u64(&a->batches);
    a->floor = floor;
}

uint64_t ackset_acked_in(const ackset_t *a, uint64_t start, uint64_t end)
{
    if (start < a->floor) start = a->floor;
    if (start >= end) return 0;
    return idset_count_in(&a->acked, start, end);
}

/* format: u32 version(1) | u64 floor | u32 nranges | nranges x (u64 start, u64 end)
 *         | u32 nbatches | nbatches x (u64 id, i32 size, u32 nwords, nwords x u64) */
static int put64(mg_buf_t *o, uint64_t v)
{
    return buf_append(o, &v, 8);
}
static int put32(mg_buf_t *o, uint32_t v)
{
    return buf_append(o, &v, 4);
}

int ackset_encode(const ackset_t *a, mg_buf_t *out)
{
    int r = put32(out, 1) | put64(out, a->floor) | put32(out, (uint32_t)a->acked.n);
    for (size_t i = 0; i < a->acked.n; i++)
        r |= put64(out, a->acked.r[i].start) | put64(out, a->acked.r[i].end);
    r |= put32(out, (uint32_t)map_count(&a->batches));
    uint64_t id;
    void *v;
    for (size_t it = 0; map_next(&a->batches, &it, NULL, &id, &v);) {
        batch_bits_t *b = v;
        r |= put64(out, id) | put32(out, (uint32_t)b->size) | put32(out, (uint32_t)b->nwords);
        r |= buf_append(out, b->w, (size_t)b->nwords * 8);
    }
    return r ? -1 : 0;
}

typedef struct rd {
    const uint8_t *p;
    size_t n;
    bool bad;
} rd_t;
static uint64_t get64(rd_t *r)
{
    uint64_t v = 0;
    if (r->n < 8) r->bad = true;
    else {
        memcpy(&v, r->p, 8);
        r->p += 8;
        r->n -= 8;
    }
    return v;
}
static uint32_t get32(rd_t *r)
{
    uint32_t v = 0;
    if (r->n < 4) r->bad = true;
    else {
        memcpy(&v, r->p, 4);
        r->p += 4;
        r->n -= 4;
    }
    return v;
}

int ackset_decode(ackset_t *a, const uint8_t *p, size_t n)
{
    rd_t r = {p, n, false};
    if (get32(&r) != 1) return -1;
    ackset_reset(a, get64(&r));
    uint32_t nr = get32(&r);
    for (uint32_t i = 0; i < nr && !r.bad; i++) {
        uint64_t s = get64(&r), e = get64(&r);
        if (!r.bad) idset_add_range(&a->acked, s, e);
    }
    uint32_t nb = get32(&r);
    for (uint32_t i = 0; i < nb && !r.bad; i++) {
        uint64_t id = get64(&r);
        int32_t size = (int32_t)get32(&r);
        uint32_t nw = get32(&r);
        if (r.bad || nw > 1024 || r.n < (size_t)nw * 8) return -1;
        batch_bits_t *b = mg_malloc(sizeof *b + (size_t)nw * 8);
        if (!b) return -1;
        b->size = size;
        b->nwords = (int)nw;
        memcpy(b->w, r.p, (size_t)nw * 8);
        r.p += nw * 8;
        r.n -= nw * 8;
        map_put_u64(&a->batches, id, b);
    }
    return r.bad ? -1 : 0;
}
