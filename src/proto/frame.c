/* frame.c - see frame.h. */
#include "proto/frame.h"

#include <stdio.h>
#include <string.h>

#include "common/arena.h"
#include "common/crc32c.h"

static void *arena_pb_alloc(void *a, size_t n)
{
    return mg_arena_alloc(a, n);
}

static void arena_pb_free(void *a, void *p)
{
    (void)a; /* arena memory goes with the arena's release */
    (void)p;
}

ssize_t frame_decode(const uint8_t *buf, size_t len, uint32_t max_frame, frame_t *out, char *err,
                     size_t errlen)
{
    return frame_decode_in(buf, len, max_frame, out, err, errlen, NULL);
}

/* frame_decode_in, and with `apart` frame_decode_split: the payload is not after the command in
 * buf but at apart (its length checked against totalSize by the caller's plen). */
static ssize_t decode(const uint8_t *buf, size_t len, const uint8_t *apart, size_t plen_apart,
                      uint32_t max_frame, frame_t *out, char *err, size_t errlen, mg_arena_t *a)
{
    memset(out, 0, sizeof *out);
    if (len < 4) return 0;
    uint32_t total = rd_u32be(buf);
    if (total > max_frame) {
        snprintf(err, errlen, "frame of %u bytes exceeds the limit of %u", total, max_frame);
        return -1;
    }
    if (total < 4) {
        snprintf(err, errlen, "frame size %u too small", total);
        return -1;
    }
    if (len < 8) return 0;
    uint32_t csize = rd_u32be(buf + 4);
    if (csize == 0 || csize > total - 4) {
        snprintf(err, errlen, "command size %u does not fit frame size %u", csize, total);
        return -1;
    }
    size_t plen = total - 4 - csize;
    if (apart) {
        if (len < 8 + (size_t)csize) return 0;
        if (plen_apart != plen) {
            snprintf(err, errlen, "payload of %zu bytes held for a frame that has %zu", plen_apart, plen);
            return -1;
        }
    } else if (len < (size_t)total + 4) {
        return 0;
    }
    ProtobufCAllocator pa = {.alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = a};
    pb_cmd_t *cmd = pulsar__proto__base_command__unpack(a ? &pa : NULL, csize, buf + 8);
    if (!cmd) {
        snprintf(err, errlen, "undecodable command (%u bytes)", csize);
        return -1;
    }
    out->cmd = cmd;
    out->in_arena = a != NULL;
    out->frame_len = (size_t)total + 4;
    if (plen) {
        out->payload = apart ? apart : buf + 8 + csize;
        out->payload_len = plen;
    }
    return (ssize_t)out->frame_len;
}

ssize_t frame_decode_in(const uint8_t *buf, size_t len, uint32_t max_frame, frame_t *out, char *err,
                        size_t errlen, mg_arena_t *a)
{
    return decode(buf, len, NULL, 0, max_frame, out, err, errlen, a);
}

ssize_t frame_decode_split(const uint8_t *buf, size_t len, const uint8_t *payload, size_t plen,
                           uint32_t max_frame, frame_t *out, char *err, size_t errlen, mg_arena_t *a)
{
    return decode(buf, len, payload, plen, max_frame, out, err, errlen, a);
}

void frame_release(frame_t *f)
{
    if (f->cmd && !f->in_arena) pulsar__proto__base_command__free_unpacked(f->cmd, NULL);
    f->cmd = NULL;
}

static int parse(const uint8_t *p, size_t len, payload_view_t *out, bool verify)
{
    memset(out, 0, sizeof *out);
    if (len >= 6 && rd_u16be(p) == MG_MAGIC_BROKER_ENTRY_METADATA) {
        uint32_t bs = rd_u32be(p + 2);
        if (bs > len - 6) return -1;
        p += 6 + bs;
        len -= 6 + bs;
    }
    out->entry = p;
    out->entry_len = len;
    if (len >= 2 && rd_u16be(p) == MG_MAGIC_CRC32C) {
        if (len < 10) return -1;
        out->has_checksum = true;
        uint32_t crc = rd_u32be(p + 2);
        if (verify) out->checksum_ok = crc32c(0, p + 6, len - 6) == crc;
        p += 6;
        len -= 6;
    }
    if (len < 4) return -1;
    uint32_t ms = rd_u32be(p);
    if (ms == 0 || ms > len - 4) return -1;
    out->meta = p + 4;
    out->meta_len = ms;
    out->data = p + 4 + ms;
    out->data_len = len - 4 - ms;
    return 0;
}

int payload_parse(const uint8_t *p, size_t len, payload_view_t *out)
{
    return parse(p, len, out, true);
}

int payload_layout(const uint8_t *p, size_t len, payload_view_t *out)
{
    return parse(p, len, out, false);
}

pb_meta_t *payload_metadata(const payload_view_t *v)
{
    return pulsar__proto__message_metadata__unpack(NULL, v->meta_len, v->meta);
}

/* A protobuf varint at *p (< end): 0 and *p advanced, or -1. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The wire type a MessageMetadata field that payload_meta_info reads must have: 0 varint, 2
 * length-delimited; -1 for the others, skipped whatever their type (protobuf-c itself takes a
 * bool in any wire type). */
static int meta_wire(uint64_t field)
{
    switch (field) {
    case 1:
    case 6:
    case 18:
        return 2; /* producer_name, partition_key, ordering_key */
    case 2:
    case 3:
    case 11:
    case 19:
        return 0; /* sequence_id, publish_time, num_messages_in_batch, deliver_at_time */
    default:
        return -1;
    }
}

int payload_meta_info(const payload_view_t *v, meta_info_t *out)
{
    meta_info_t mi = {.num_messages = 1};
    const uint8_t *p = v->meta, *end = v->meta + v->meta_len;
    unsigned required = 0;
    while (p < end) {
        uint64_t key, x = 0;
        if (pb_varint(&p, end, &key)) return -1;
        uint64_t field = (uint32_t)key >> 3; /* a tag is 32 bits, as protobuf-c reads it */
        int wt = (int)(key & 7), want = meta_wire(field);
        if (want >= 0 && want != wt) return -1;
        const uint8_t *ld = NULL;
        switch (wt) {
        case 0:
            if (pb_varint(&p, end, &x)) return -1;
            break;
        case 1:
            if (end - p < 8) return -1;
            p += 8;
            break;
        case 2:
            if (pb_varint(&p, end, &x) || x > (uint64_t)(end - p)) return -1;
            ld = p;
            p += x;
            break;
        case 5:
            if (end - p < 4) return -1;
            p += 4;
            break;
        default: /* groups (3, 4) and the unused 6, 7 */
            return -1;
        }
        switch (field) {
        case 1:
        case 2:
            required |= 1u << field;
            break;
        case 3:
            required |= 1u << field;
            mi.publish_time = x;
            break;
        case 6:
            mi.partition_key = ld;
            mi.partition_key_len = (size_t)x;
            break;
        case 11:
            mi.num_messages = (int32_t)(uint32_t)x;
            break;
        case 18:
            mi.ordering_key = ld;
            mi.ordering_key_len = (size_t)x;
            break;
        case 19:
            mi.deliver_at = (int64_t)x;
            break;
        default:
            break;
        }
    }
    if (required != 0xe) return -1;
    *out = mi;
    return 0;
}

int frame_write_cmd_head(mg_buf_t *out, const pb_cmd_t *cmd, size_t payload_len)
{
    size_t cs = pulsar__proto__base_command__get_packed_size(cmd);
    if (buf_reserve(out, 8 + cs)) return -1;
    uint8_t *p = out->data + out->len;
    wr_u32be(p, (uint32_t)(4 + cs + payload_len));
    wr_u32be(p + 4, (uint32_t)cs);
    pulsar__proto__base_command__pack(cmd, p + 8);
    out->len += 8 + cs;
    return 0;
}

int frame_write_cmd(mg_buf_t *out, const pb_cmd_t *cmd)
{
    return frame_write_cmd_head(out, cmd, 0);
}

#define ENTRY_HEAD 10 /* magic, checksum, metadata size */

int entry_encode(mg_buf_t *out, const pb_meta_t *md, const void *data, size_t len)
{
    size_t ms = pulsar__proto__message_metadata__get_packed_size(md);
    if (buf_reserve(out, ENTRY_HEAD + ms + len)) return -1;
    uint8_t *start = out->data + out->len;
    wr_u16be(start, MG_MAGIC_CRC32C);
    wr_u32be(start + 6, (uint32_t)ms);
    pulsar__proto__message_metadata__pack(md, start + ENTRY_HEAD);
    if (len) memcpy(start + ENTRY_HEAD + ms, data, len);
    wr_u32be(start + 2, crc32c(0, start + 6, 4 + ms + len));
    out->len += ENTRY_HEAD + ms + len;
    return 0;
}

int frame_write_entry(mg_buf_t *out, const pb_cmd_t *cmd, const pb_meta_t *md, const void *data,
                      size_t len)
{
    size_t elen = ENTRY_HEAD + pulsar__proto__message_metadata__get_packed_size(md) + len;
    if (frame_write_cmd_head(out, cmd, elen)) return -1;
    return entry_encode(out, md, data, len);
}

const char *cmd_type_name(int type)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&pulsar__proto__base_command__type__descriptor, type);
    return v ? v->name : "UNKNOWN";
}

const char *server_error_name(int err)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&pulsar__proto__server_error__descriptor, err);
    return v ? v->name : "UnknownError";
}
