/* compress.c - Pulsar's payload codecs, with the framings the official clients use (checked
 * against fixtures 03-06): LZ4 raw block (no frame header), ZLIB deflate in zlib format,
 * ZSTD frame, SNAPPY raw. MessageMetadata.uncompressed_size carries the original size, so
 * every decoder is given the exact output length. Pure functions; thread-safe. */
#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"

int compress_buf(int codec, const uint8_t *in, size_t n, mg_buf_t *out)
{
    switch (codec) {
    case MG_COMPRESSION_NONE:
        return buf_append(out, in, n);
    case MG_COMPRESSION_LZ4: {
        if (n > LZ4_MAX_INPUT_SIZE) return -1;
        int bound = LZ4_compressBound((int)n);
        if (buf_reserve(out, (size_t)bound)) return -1;
        int r = LZ4_compress_default((const char *)in, (char *)out->data + out->len, (int)n, bound);
        if (r <= 0) return -1;
        out->len += (size_t)r;
        return 0;
    }
    case MG_COMPRESSION_ZLIB: {
        uLongf bound = compressBound((uLong)n);
        if (buf_reserve(out, bound)) return -1;
        if (compress2(out->data + out->len, &bound, in, (uLong)n, Z_DEFAULT_COMPRESSION) != Z_OK)
            return -1;
        out->len += bound;
        return 0;
    }
    case MG_COMPRESSION_ZSTD: {
        size_t bound = ZSTD_compressBound(n);
        if (buf_reserve(out, bound)) return -1;
        size_t r = ZSTD_compress(out->data + out->len, bound, in, n, 3);
        if (ZSTD_isError(r)) return -1;
        out->len += r;
        return 0;
    }
    case MG_COMPRESSION_SNAPPY: {
        size_t bound = snappy_max_compressed_length(n);
        if (buf_reserve(out, bound)) return -1;
        if (snappy_compress((const char *)in, n, (char *)out->data + out->len, &bound) != SNAPPY_OK)
            return -1;
        out->len += bound;
        return 0;
    }
    }
    return -1;
}

int compress_view(int codec, const uint8_t *in, size_t n, mg_buf_t *z, const uint8_t **data,
                  size_t *len)
{
    if (codec == MG_COMPRESSION_NONE) {
        *data = in;
        *len = n;
        return 0;
    }
    if (compress_buf(codec, in, n, z)) return -1;
    *data = z->data;
    *len = z->len;
    return 0;
}

int decompress_buf(int codec, const uint8_t *in, size_t n, size_t unc, uint8_t **out)
{
    *out = NULL;
    if (unc > (size_t)INT32_MAX) return -1;
    uint8_t *o = mg_malloc(unc ? unc : 1);
    if (!o) return -1;
    int ok = 0;
    switch (codec) {
    case MG_COMPRESSION_NONE:
        ok = n == unc;
        if (ok && n) memcpy(o, in, n);
        break;
    case MG_COMPRESSION_LZ4:
        ok = LZ4_decompress_safe((const char *)in, (char *)o, (int)n, (int)unc) == (int)unc;
        break;
    case MG_COMPRESSION_ZLIB: {
        uLongf ol = (uLongf)unc;
        ok = uncompress(o, &ol, in, (uLong)n) == Z_OK && ol == unc;
        break;
    }
    case MG_COMPRESSION_ZSTD: {
        size_t r = ZSTD_decompress(o, unc, in, n);
        ok = !ZSTD_isError(r) && r == unc;
        break;
    }
    case MG_COMPRESSION_SNAPPY: {
        size_t ol = 0;
        ok = snappy_uncompressed_length((const char *)in, n, &ol) == SNAPPY_OK && ol == unc &&
             snappy_uncompress((const char *)in, n, (char *)o, &ol) == SNAPPY_OK;
        break;
    }
    }
    if (!ok) {
        mg_free(o);
        return -1;
    }
    *out = o;
    return 0;
}
