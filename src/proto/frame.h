/* frame.h - Pulsar binary protocol framing, shared by broker and client library.
 *
 * Frame:   [totalSize u32][commandSize u32][BaseCommand][payload...]   (big-endian sizes;
 *          totalSize counts everything after itself)
 * Payload: [0x0e02 u16][size u32][BrokerEntryMetadata]  (optional)
 *          [0x0e01 u16][crc32c u32][metadataSize u32][MessageMetadata][data]
 * The CRC covers everything after it (metadataSize, metadata, data).
 * Pure functions; thread-safe. Decoded commands are heap objects freed by frame_release. */
#ifndef MG_PROTO_FRAME_H
#define MG_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "PulsarApi.pb-c.h"
#include "common/buf.h"

typedef Pulsar__Proto__BaseCommand pb_cmd_t;
typedef Pulsar__Proto__MessageMetadata pb_meta_t;
typedef Pulsar__Proto__MessageIdData pb_msgid_t;

#define MG_MAGIC_CRC32C 0x0e01
#define MG_MAGIC_BROKER_ENTRY_METADATA 0x0e02
#define MG_PROTOCOL_VERSION 21      /* highest protocol version we speak */
#define MG_FRAME_OVERHEAD (10 * 1024) /* headers allowed on top of maxMessageSize */

typedef struct mg_arena mg_arena_t;

typedef struct frame {
    pb_cmd_t *cmd;          /* decoded command; owned, freed by frame_release (or in an arena) */
    const uint8_t *payload; /* bytes after the command inside the frame, or NULL */
    size_t payload_len;
    size_t frame_len;       /* bytes this frame occupies in the input (4 + totalSize) */
    bool in_arena;          /* cmd lives in an arena: frame_release leaves it to the arena's release */
} frame_t;

/* Decode one frame from the front of buf. Returns the frame length (>0) with *out filled,
 * 0 when more bytes are needed, or -1 when the frame is invalid (err says why): oversized
 * (totalSize > max_frame), commandSize out of range, or an undecodable BaseCommand. After -1
 * the stream cannot be resynchronised: close the connection. */
ssize_t frame_decode(const uint8_t *buf, size_t len, uint32_t max_frame, frame_t *out, char *err,
                     size_t errlen);
/* The same, with the command decoded into arena a (no malloc; it goes with the arena's next
 * release to a mark taken before this call). NULL a: as frame_decode. */
ssize_t frame_decode_in(const uint8_t *buf, size_t len, uint32_t max_frame, frame_t *out, char *err,
                        size_t errlen, mg_arena_t *a);
/* As frame_decode_in for a frame whose payload is held apart from its head: buf holds the size
 * words and the command (8 + commandSize bytes; more are ignored), payload the plen bytes that
 * follow them in the stream. Returns the frame's length in the stream (4 + totalSize), 0 when
 * buf does not hold the whole command yet, -1 when invalid (plen not what totalSize leaves). */
ssize_t frame_decode_split(const uint8_t *buf, size_t len, const uint8_t *payload, size_t plen,
                           uint32_t max_frame, frame_t *out, char *err, size_t errlen, mg_arena_t *a);
void frame_release(frame_t *f);

typedef struct payload_view {
    const uint8_t *entry;  /* from the 0x0e01 magic: what storage keeps */
    size_t entry_len;
    const uint8_t *meta;
    size_t meta_len;
    const uint8_t *data;   /* message data (a whole batch when batched), possibly compressed */
    size_t data_len;
    bool has_checksum;     /* false for old clients that send no magic/crc */
    bool checksum_ok;
} payload_view_t;

/* Parse a payload (the bytes after the command) and verify its checksum. 0, or -1 when
 * malformed. */
int payload_parse(const uint8_t *p, size_t len, payload_view_t *out);
/* The same without the checksum pass (checksum_ok stays false): for bytes verified already, as
 * a stored entry is (at SEND, and by its record CRC when read back). */
int payload_layout(const uint8_t *p, size_t len, payload_view_t *out);
/* Decode the MessageMetadata of a parsed payload; NULL when malformed. Free with
 * pulsar__proto__message_metadata__free_unpacked(m, NULL). */
pb_meta_t *payload_metadata(const payload_view_t *v);

/* The few MessageMetadata fields the broker acts on, read straight off the wire: no
 * allocation, no copy (the key pointers point into the payload). */
typedef struct meta_info {
    int32_t num_messages;          /* num_messages_in_batch (11); 1 when absent */
    uint64_t publish_time;         /* 3 */
    int64_t deliver_at;            /* deliver_at_time (19); 0 when absent */
    const uint8_t *ordering_key;   /* 18; NULL when absent */
    size_t ordering_key_len;
    const uint8_t *partition_key;  /* 6; NULL when absent */
    size_t partition_key_len;
} meta_info_t;

/* Scan the MessageMetadata of a parsed payload for meta_info_t. 0, or -1 when it is not a
 * well-formed MessageMetadata: bad varint or length, a group, a field it reads (1-3, 6, 11, 18,
 * 19) in the wrong wire type, or a required field (1-3) missing. Other fields, nested messages
 * included, are skipped unchecked, so it accepts all protobuf-c's decoder accepts and some more;
 * the last occurrence of a field wins, as in protobuf. */
int payload_meta_info(const payload_view_t *v, meta_info_t *out);

/* Append a command-only frame. 0 or -1 (allocation). */
int frame_write_cmd(mg_buf_t *out, const pb_cmd_t *cmd);
/* Append the head of a payload frame: sizes + command, with totalSize counting payload_len
 * more bytes that the caller sends right after (e.g. a stored entry, without copying it). */
int frame_write_cmd_head(mg_buf_t *out, const pb_cmd_t *cmd, size_t payload_len);
/* Build stored-entry bytes: 0x0e01, crc32c, metadata size, metadata, data. */
int entry_encode(mg_buf_t *out, const pb_meta_t *md, const void *data, size_t len);
/* Append a whole payload frame (a SEND): the head for cmd, then the entry encoded from md and
 * data right behind it, in one pass. */
int frame_write_entry(mg_buf_t *out, const pb_cmd_t *cmd, const pb_meta_t *md, const void *data,
                      size_t len);

/* Name of a BaseCommand type for logs ("SEND"), "UNKNOWN" when not a known type. */
const char *cmd_type_name(int type);
/* Name of a ServerError value ("TopicNotFound"). */
const char *server_error_name(int err);

#endif
