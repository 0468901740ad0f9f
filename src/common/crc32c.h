/* crc32c.h - CRC32-C (Castagnoli), as Pulsar checksums message payloads.
 * Computed by ISA-L (libisal), which uses the CPU's fastest instructions. */
#ifndef MG_CRC32C_H
#define MG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a checksum: crc32c(0, buf, n) starts a new one. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);
/* The checksum of A followed by B from crc1 = crc32c(0, A), crc2 = crc32c(0, B), len2 = |B|.
 * (Also continues: crc32c(c, B) == crc32c_combine(c, crc32c(0, B), |B|).) */
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

#endif
