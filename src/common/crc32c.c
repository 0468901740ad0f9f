/* crc32c.c - CRC32-C through ISA-L's crc32_iscsi (Debian libisal), which picks the fastest
 * code the CPU has at run time: on x86-64 with VPCLMULQDQ it folds 256 bytes a step and runs
 * about 3.5x faster than three interleaved crc32 instruction streams (55 vs 15 GB/s on a
 * 100 KB entry in cache, measured here). What ISA-L does not offer is crc32c_combine: that is a
 * multiplication modulo the polynomial, kept here. */
#include "common/crc32c.h"

#include <isa-l/crc.h>
#include <pthread.h>

#define POLY 0x82F63B78u   /* Castagnoli, bit-reflected */
#define CHUNK_MAX ((size_t)1 << 30) /* crc32_iscsi takes an int length */

static uint32_t x2n[64];   /* x^(2^k) mod P, reflected */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* a * b modulo P, both bit-reflected polynomials */
static uint32_t mulmod(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

/* x^(8 * n) mod P: the operator that moves a CRC register past n zero bytes */
static uint32_t x8n(uint64_t n)
{
    uint32_t p = 1u << 31; /* x^0 */
    for (int k = 3; n; n >>= 1, k++)
        if (n & 1) p = mulmod(x2n[k & 63], p);
    return p;
}

static void init(void)
{
    x2n[0] = 1u << 30; /* x^1 */
    for (int k = 1; k < 64; k++) x2n[k] = mulmod(x2n[k - 1], x2n[k - 1]);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t n)
{
    /* ISA-L keeps the register un-inverted between calls: pass ~crc, invert what it returns */
    const unsigned char *p = buf;
    while (n > CHUNK_MAX) {
        crc = ~crc32_iscsi((unsigned char *)p, (int)CHUNK_MAX, ~crc);
        p += CHUNK_MAX;
        n -= CHUNK_MAX;
    }
    return ~crc32_iscsi((unsigned char *)p, (int)n, ~crc);
}

uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
    pthread_once(&once, init);
    return mulmod(x8n(len2), crc1) ^ crc2;
}
