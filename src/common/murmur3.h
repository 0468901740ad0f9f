/* murmur3.h - MurmurHash3 x86 32-bit, seed 0: Pulsar hashes message keys with it for
 * partition routing (client) and Key_Shared hash ranges (broker). */
#ifndef MG_MURMUR3_H
#define MG_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

uint32_t murmur3_32(const void *key, size_t len, uint32_t seed);
/* Pulsar's key hash: murmur3_32(key, 0) & INT32_MAX (non-negative, as Java's makeHash). */
static inline uint32_t pulsar_key_hash(const void *key, size_t len)
{
    return murmur3_32(key, len, 0) & 0x7fffffffu;
}

#endif
