/* crc32c.c - CRC32-C through ISA-L's crc32_iscsi (Debian libisal), which picks the fastest
 * code the CPU has at run time: on x86-64 with VPCLMULQDQ it folds 256 bytes a step and runs
 * about 3.5x faster than three interleaved crc32 instruction streams (55 vs 15 GB/s on a
 * 100 KB entry in cache, measured here). What ISA-L does not offer is crc32c_combine: that is a
 * multiplication modulo the polynomial, kept here. The operator for a length is a product of
 * one table entry per byte of the length (4 multiplications for any length under 4 GB, where
 * squaring through its bits took up to 33), and a multiplication is a carry-less multiply and
 * a crc32 instruction where the CPU has them (a loop over 32 bits otherwise): the combine of
 * each stored entry cost the broker 37 instructions a message, now under 1. */
#include "common/crc32c.h"

#include <isa-l/crc.h>
#include <pthread.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define POLY 0x82F63B78u   /* Castagnoli, bit-reflected */
#define CHUNK_MAX ((size_t)1 << 30) /* crc32_iscsi takes an int length */

static uint32_t x2n[64];   /* x^(2^k) mod P, reflected */
static uint32_t byte_op[4][256]; /* [k][b]: x^(8 * b * 256^k) mod P: b bytes at byte k of a length */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* a * b modulo P, both bit-reflected polynomials, a not zero: one bit of a a step */
static uint32_t mulmod_bits(uint32_t a, uint32_t b)
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

#if defined(__x86_64__)
/* The same with a carry-less multiply: the 63-bit product, shifted to 64 bits reflected, has
 * x^63..x^32 in its low word; the crc32 instruction reduces that word times x^32 modulo P. */
__attribute__((target("pclmul,sse4.2"))) static uint32_t mulmod_clmul(uint32_t a, uint32_t b)
{
    __m128i x = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)a), _mm_cvtsi32_si128((int)b), 0);
    uint64_t v = (uint64_t)_mm_cvtsi128_si64(x) << 1;
    return _mm_crc32_u32(0, (uint32_t)v) ^ (uint32_t)(v >> 32);
}
#endif

static uint32_t (*mulmod)(uint32_t, uint32_t) = mulmod_bits;

/* x^(8 * n) mod P: the operator that moves a CRC register past n zero bytes */
static uint32_t x8n(uint64_t n)
{
    uint32_t p = 1u << 31; /* x^0 */
    for (int k = 0; k < 4; k++, n >>= 8)
        if (n & 0xFF) p = mulmod(byte_op[k][n & 0xFF], p);
    for (int k = 35; n; n >>= 1, k++) /* lengths of 4 GB and more: one squaring a bit */
        if (n & 1) p = mulmod(x2n[k & 63], p);
    return p;
}

static void init(void)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.2")) mulmod = mulmod_clmul;
#endif
    x2n[0] = 1u << 30; /* x^1 */
    for (int k = 1; k < 64; k++) x2n[k] = mulmod(x2n[k - 1], x2n[k - 1]);
    for (int k = 0; k < 4; k++) {
        byte_op[k][0] = 1u << 31;
        for (int b = 1; b < 256; b++) byte_op[k][b] = mulmod(x2n[3 + 8 * k], byte_op[k][b - 1]);
    }
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
