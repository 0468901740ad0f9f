/* fuzz_frame: libFuzzer target for the frame decoder and everything the broker does with a
 * decoded frame's bytes before dispatch: frame_decode on arbitrary input (including many frames
 * back to back), payload_parse + checksum + MessageMetadata decode of SEND payloads (and the
 * broker's own metadata scanner, checked against protobuf-c's decoder), and the batch splitter. Must never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/ackset.h"
#include "proto/frame.h"

static void split_batch(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off + 4 <= n) {
        uint32_t ss = rd_u32be(p + off);
        if (ss > n - off - 4) return;
        Pulsar__Proto__SingleMessageMetadata *sm =
            pulsar__proto__single_message_metadata__unpack(NULL, ss, p + off + 4);
        if (!sm) return;
        size_t ps = sm->payload_size < 0 ? 0 : (size_t)sm->payload_size;
        pulsar__proto__single_message_metadata__free_unpacked(sm, NULL);
        if (ps > n - off - 4 - ss) return;
        off += 4 + ss + ps;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        frame_t f;
        char err[200];
        ssize_t r = frame_decode(data + off, size - off, 5u << 20, &f, err, sizeof err);
        if (r <= 0) break;
        { /* the broker reads a large payload apart from its frame's head: decoding it that way
           * gives the same frame, and a payload of the wrong length is refused */
            const uint8_t *h = data + off;
            size_t hlen = 8 + (size_t)rd_u32be(h + 4), plen = f.payload_len;
            uint8_t *apart = malloc(plen ? plen : 1);
            if (!apart) __builtin_trap();
            if (plen) memcpy(apart, f.payload, plen);
            frame_t g;
            ssize_t r2 = frame_decode_split(h, hlen, apart, plen, 5u << 20, &g, err, sizeof err, NULL);
            if (r2 != r || g.cmd->type != f.cmd->type || g.payload_len != plen ||
                (plen && g.payload != apart))
                __builtin_trap();
            frame_release(&g);
            if (frame_decode_split(h, hlen, apart, plen + 1, 5u << 20, &g, err, sizeof err, NULL) != -1)
                __builtin_trap();
            free(apart);
        }
        if (f.payload) {
            payload_view_t pv;
            if (payload_parse(f.payload, f.payload_len, &pv) == 0) {
                pb_meta_t *md = payload_metadata(&pv);
                meta_info_t mi;
                int scan = payload_meta_info(&pv, &mi);
                /* what protobuf-c decodes, the scanner reads the same (it may accept more:
                 * it checks only the fields it reads) */
                if (md && (scan || mi.num_messages != (md->has_num_messages_in_batch ? md->num_messages_in_batch : 1) ||
                           mi.publish_time != md->publish_time ||
                           mi.deliver_at != (md->has_deliver_at_time ? md->deliver_at_time : 0) ||
                           (mi.ordering_key != NULL) != md->has_ordering_key ||
                           (mi.partition_key != NULL) != (md->partition_key != NULL)))
                    __builtin_trap();
                if (md) {
                    if (md->has_num_messages_in_batch && md->compression == 0)
                        split_batch(pv.data, pv.data_len);
                    pulsar__proto__message_metadata__free_unpacked(md, NULL);
                }
            }
        }
        /* acks as the broker applies them: ack sets from untrusted bytes */
        if (f.cmd->ack) {
            ackset_t a;
            ackset_init(&a, 0);
            for (size_t i = 0; i < f.cmd->ack->n_message_id; i++) {
                pb_msgid_t *m = f.cmd->ack->message_id[i];
                uint64_t id = m->entryid & 0xffff;
                if (m->n_ack_set)
                    ackset_ack_batch(&a, id, m->ack_set, m->n_ack_set,
                                     m->has_batch_size ? (m->batch_size & 0xfff) : 0);
                else if (f.cmd->ack->ack_type == 1)
                    ackset_ack_cumulative(&a, id);
                else
                    ackset_ack(&a, id);
            }
            mg_buf_t b;
            buf_init(&b);
            ackset_encode(&a, &b);
            ackset_t c;
            ackset_init(&c, 0);
            ackset_decode(&c, b.data, b.len);
            ackset_free(&c);
            buf_free(&b);
            ackset_free(&a);
        }
        frame_release(&f);
        off += (size_t)r;
    }
    return 0;
}
