/* batch.c - Pulsar batch payloads: a sequence of [u32 BE size][SingleMessageMetadata][data],
 * compressed as a whole by the producer (see compress.c). Pure functions; thread-safe. */
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"

int batch_append(mg_buf_t *b, const mg_message_t *m, int64_t seq)
{
    Pulsar__Proto__SingleMessageMetadata s = PULSAR__PROTO__SINGLE_MESSAGE_METADATA__INIT;
    Pulsar__Proto__KeyValue kvs[64], *kvp[64];
    size_t np = m->nprops < 64 ? m->nprops : 64;
    for (size_t i = 0; i < np; i++) {
        kvs[i] = (Pulsar__Proto__KeyValue)PULSAR__PROTO__KEY_VALUE__INIT;
        kvs[i].key = m->props[2 * i];
        kvs[i].value = m->props[2 * i + 1];
        kvp[i] = &kvs[i];
    }
    s.n_properties = np;
    s.properties = kvp;
    s.partition_key = m->key;
    if (m->key && m->key_b64) {
        s.has_partition_key_b64_encoded = 1;
        s.partition_key_b64_encoded = 1;
    }
    s.payload_size = (int32_t)m->len;
    if (m->event_time) {
        s.has_event_time = 1;
        s.event_time = m->event_time;
    }
    if (m->okey_len) {
        s.has_ordering_key = 1;
        s.ordering_key.data = m->okey;
        s.ordering_key.len = m->okey_len;
    }
    s.has_sequence_id = 1;
    s.sequence_id = (uint64_t)seq;
    size_t ms = pulsar__proto__single_message_metadata__get_packed_size(&s);
    if (buf_reserve(b, 4 + ms + m->len)) return -1;
    buf_append_u32be(b, (uint32_t)ms);
    pulsar__proto__single_message_metadata__pack(&s, b->data + b->len);
    b->len += ms;
    if (m->len) buf_append(b, m->data, m->len);
    return 0;
}

static int set_props(mg_message_t *m, Pulsar__Proto__KeyValue **kv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && kv[i]->value && mg_message_set_property(m, kv[i]->key, kv[i]->value))
            return -1;
    return 0;
}

int batch_split(const uint8_t *p, size_t len, int n, mg_message_t **out)
{
    size_t off = 0;
    int i = 0;
    for (; i < n; i++) {
        out[i] = NULL;
        if (len - off < 4) goto bad;
        uint32_t ms = rd_u32be(p + off);
        off += 4;
        if (ms > len - off) goto bad;
        Pulsar__Proto__SingleMessageMetadata *s =
            pulsar__proto__single_message_metadata__unpack(NULL, ms, p + off);
        if (!s) goto bad;
        off += ms;
        if (s->payload_size < 0 || (size_t)s->payload_size > len - off) {
            pulsar__proto__single_message_metadata__free_unpacked(s, NULL);
            goto bad;
        }
        mg_message_t *m = mg_message_new(p + off, (size_t)s->payload_size);
        off += (size_t)s->payload_size;
        if (!m) {
            pulsar__proto__single_message_metadata__free_unpacked(s, NULL);
            goto bad;
        }
        out[i] = m;
        int rc = set_props(m, s->properties, s->n_properties);
        if (s->partition_key) rc |= mg_message_set_key(m, s->partition_key);
        m->key_b64 = s->partition_key && s->has_partition_key_b64_encoded &&
                     s->partition_key_b64_encoded;
        if (s->has_ordering_key) rc |= mg_message_set_ordering_key(m, s->ordering_key.data, s->ordering_key.len);
        if (s->has_event_time) m->event_time = s->event_time;
        if (s->has_sequence_id) {
            m->seq = (int64_t)s->sequence_id;
            m->has_seq = true;
        }
        pulsar__proto__single_message_metadata__free_unpacked(s, NULL);
        if (rc) {
            i++;
            goto bad;
        }
    }
    return 0;
bad:
    for (int j = 0; j < i && j < n; j++) mg_message_free(out[j]);
    for (int j = 0; j < n; j++) out[j] = NULL;
    return -1;
}

int message_fill_from_meta(mg_message_t *m, const pb_meta_t *md)
{
    int rc = 0;
    if (md->producer_name && !m->producer_name) rc |= !(m->producer_name = mg_strdup(md->producer_name));
    m->publish_time = md->publish_time;
    if (!m->has_seq) {
        m->seq = (int64_t)md->sequence_id;
        m->has_seq = true;
    }
    if (md->has_schema_version && md->schema_version.len && !m->schema_ver) {
        rc |= !(m->schema_ver = mg_malloc(md->schema_version.len));
        if (m->schema_ver) {
            memcpy(m->schema_ver, md->schema_version.data, md->schema_version.len);
            m->schema_ver_len = md->schema_version.len;
        }
    }
    if (md->num_messages_in_batch <= 1 || !md->has_num_messages_in_batch) {
        rc |= set_props(m, md->properties, md->n_properties);
        if (md->partition_key) {
            /* a batch of one keeps the flag its SingleMessageMetadata gave (batch_split) */
            bool b64 = md->has_num_messages_in_batch
                           ? m->key_b64
                           : md->has_partition_key_b64_encoded && md->partition_key_b64_encoded;
            rc |= mg_message_set_key(m, md->partition_key);
            m->key_b64 = b64;
        }
        if (md->has_ordering_key)
            rc |= mg_message_set_ordering_key(m, md->ordering_key.data, md->ordering_key.len);
        if (md->has_event_time) m->event_time = md->event_time;
    }
    return rc ? -1 : 0;
}
