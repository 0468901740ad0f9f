/* buf.c - see buf.h. */
#include "common/buf.h"

#include <string.h>

#include "common/alloc.h"

void buf_init(mg_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void buf_free(mg_buf_t *b)
{
    mg_free(b->data);
    memset(b, 0, sizeof *b);
}

int buf_reserve(mg_buf_t *b, size_t n)
{
    if (b->len + n <= b->cap) return 0;
    if (b->off > 0 && b->off >= b->len / 2) { /* compact first */
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + n <= b->cap) return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t *d = mg_realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int buf_append(mg_buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n)) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_append_u32be(mg_buf_t *b, uint32_t v)
{
    uint8_t t[4];
    wr_u32be(t, v);
    return buf_append(b, t, 4);
}

int buf_append_u16be(mg_buf_t *b, uint16_t v)
{
    uint8_t t[2];
    wr_u16be(t, v);
    return buf_append(b, t, 2);
}

void buf_consume(mg_buf_t *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) b->off = b->len = 0; /* the memory stays for the next frame */
}

void buf_trim(mg_buf_t *b, size_t keep)
{
    if (b->off >= b->len && b->cap > keep) {
        mg_free(b->data);
        b->data = NULL;
        b->cap = b->len = b->off = 0;
    }
}

void buf_reset(mg_buf_t *b)
{
    b->off = b->len = 0;
}
