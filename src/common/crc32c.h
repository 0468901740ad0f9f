/* crc32c.h - CRC32-C (Castagnoli), as Pulsar checksums message payloads.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, else a slicing table. */
#ifndef MG_CRC32C_H
#define MG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a checksum: crc32c(0, buf, n) starts a new one. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);

#endif
