/* buf.h - growable byte buffer with a read offset, used for socket input/output and encoding.
 * Not thread-safe; owned by one thread at a time. Allocations go through mg_alloc. */
#ifndef MG_BUF_H
#define MG_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct mg_buf {
    uint8_t *data;
    size_t len; /* bytes written */
    size_t off; /* bytes already consumed from the front */
    size_t cap;
} mg_buf_t;

void buf_init(mg_buf_t *b);
void buf_free(mg_buf_t *b);
/* Make room for n more bytes; returns 0, or -1 on allocation failure. */
int buf_reserve(mg_buf_t *b, size_t n);
int buf_append(mg_buf_t *b, const void *p, size_t n);
int buf_append_u32be(mg_buf_t *b, uint32_t v);
int buf_append_u16be(mg_buf_t *b, uint16_t v);
static inline size_t buf_readable(const mg_buf_t *b) { return b->len - b->off; }
static inline uint8_t *buf_head(const mg_buf_t *b) { return b->data + b->off; }
/* Drop n consumed bytes from the front; compacts when more than half is consumed. */
void buf_consume(mg_buf_t *b, size_t n);
/* Give the memory back when the buffer is empty and holds more than keep bytes (idle
 * connections stay small; busy ones keep their buffer instead of reallocating per frame). */
void buf_trim(mg_buf_t *b, size_t keep);
void buf_reset(mg_buf_t *b);

static inline uint32_t rd_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint16_t rd_u16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void wr_u32be(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static inline void wr_u16be(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }

#endif
