/* frame.c - see frame.h. */
#include "proto/frame.h"

#include <stdio.h>
#include <string.h>

#include "common/crc32c.h"

ssize_t frame_decode(const uint8_t *buf, size_t len, uint32_t max_frame, frame_t *out, char *err,
                     size_t errlen)
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
    if (len < (size_t)total + 4) return 0;
    pb_cmd_t *cmd = pulsar__proto__base_command__unpack(NULL, csize, buf + 8);
    if (!cmd) {
        snprintf(err, errlen, "undecodable command (%u bytes)", csize);
        return -1;
    }
    out->cmd = cmd;
    out->frame_len = (size_t)total + 4;
    size_t plen = total - 4 - csize;
    if (plen) {
        out->payload = buf + 8 + csize;
        out->payload_len = plen;
    }
    return (ssize_t)out->frame_len;
}

void frame_release(frame_t *f)
{
    if (f->cmd) pulsar__proto__base_command__free_unpacked(f->cmd, NULL);
    f->cmd = NULL;
}

int payload_parse(const uint8_t *p, size_t len, payload_view_t *out)
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
        out->checksum_ok = crc32c(0, p + 6, len - 6) == crc;
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

pb_meta_t *payload_metadata(const payload_view_t *v)
{
    return pulsar__proto__message_metadata__unpack(NULL, v->meta_len, v->meta);
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
