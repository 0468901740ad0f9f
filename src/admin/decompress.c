/* decompress.c - the admin plane's payload decoder for peek-messages and examinemessage,
 * which answer with the decompressed payload as Pulsar does (PersistentTopicsBase decodes
 * with CompressionCodecProvider before writing the body). The framings are Pulsar's: LZ4 raw
 * block (no frame header), ZLIB in zlib format, ZSTD frame, SNAPPY raw. uncompressed_size
 * from the MessageMetadata gives the exact output length. The client library has its own
 * copy (src/client/compress.c); the broker does not link the client, so this stays here.
 * Pure function; any thread. */
#include <lz4.h>
#include <snappy-c.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "admin/admin_int.h"
#include "common/alloc.h"

/* Largest payload we inflate for a peek: the broker's frames are capped far below this. */
#define ADMIN_MAX_UNCOMPRESSED (256u * 1024 * 1024)

int admin_decompress(int codec, const uint8_t *in, size_t n, size_t unc, uint8_t **out)
{
    *out = NULL;
    if (unc > ADMIN_MAX_UNCOMPRESSED || n > (size_t)INT32_MAX) return -1;
    uint8_t *o = mg_malloc(unc ? unc : 1);
    if (!o) return -1;
    bool ok = false;
    switch (codec) {
    case PULSAR__PROTO__COMPRESSION_TYPE__NONE:
        ok = n == unc;
        if (ok && n) memcpy(o, in, n);
        break;
    case PULSAR__PROTO__COMPRESSION_TYPE__LZ4:
        ok = LZ4_decompress_safe((const char *)in, (char *)o, (int)n, (int)unc) == (int)unc;
        break;
    case PULSAR__PROTO__COMPRESSION_TYPE__ZLIB: {
        uLongf ol = (uLongf)unc;
        ok = uncompress(o, &ol, in, (uLong)n) == Z_OK && ol == unc;
        break;
    }
    case PULSAR__PROTO__COMPRESSION_TYPE__ZSTD: {
        size_t r = ZSTD_decompress(o, unc, in, n);
        ok = !ZSTD_isError(r) && r == unc;
        break;
    }
    case PULSAR__PROTO__COMPRESSION_TYPE__SNAPPY: {
        size_t ol = 0;
        ok = snappy_uncompressed_length((const char *)in, n, &ol) == SNAPPY_OK && ol == unc &&
             snappy_uncompress((const char *)in, n, (char *)o, &ol) == SNAPPY_OK;
        break;
    }
    default:
        break;
    }
    if (!ok) {
        mg_free(o);
        return -1;
    }
    *out = o;
    return 0;
}
