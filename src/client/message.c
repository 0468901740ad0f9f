/* message.c - messages, message ids (with Pulsar's MessageIdData serialization) and the
 * result strings of the public API. Pure data; no client lock needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/alloc.h"

const char *mg_version(void) { return MG_VERSION; }

const char *mg_strerror(mg_result r)
{
    switch (r) {
    case MG_OK: return "Ok";
    case MG_ERR_INVALID_ARG: return "Invalid argument";
    case MG_ERR_INVALID_URL: return "Invalid service URL";
    case MG_ERR_INVALID_TOPIC: return "Invalid topic name";
    case MG_ERR_CONNECT: return "Connection error";
    case MG_ERR_TIMEOUT: return "Timeout";
    case MG_ERR_ALREADY_CLOSED: return "Already closed";
    case MG_ERR_NO_MEMORY: return "Out of memory";
    case MG_ERR_BROKER: return "Broker error";
    case MG_ERR_TOPIC_NOT_FOUND: return "Topic not found";
    case MG_ERR_SUBSCRIPTION_NOT_FOUND: return "Subscription not found";
    case MG_ERR_PRODUCER_BUSY: return "Producer busy";
    case MG_ERR_CONSUMER_BUSY: return "Consumer busy";
    case MG_ERR_QUEUE_FULL: return "Producer queue is full";
    case MG_ERR_MESSAGE_TOO_BIG: return "Message too big";
    case MG_ERR_LOOKUP: return "Lookup error";
    case MG_ERR_PROTOCOL: return "Protocol error";
    case MG_ERR_COMPRESSION: return "Compression error";
    case MG_ERR_NOT_SUPPORTED: return "Not supported";
    case MG_ERR_AUTH: return "Authentication or authorization error";
    case MG_ERR_NOT_ALLOWED: return "Operation not allowed";
    case MG_ERR_CHECKSUM: return "Checksum error";
    case MG_ERR_INCOMPATIBLE_SCHEMA: return "Incompatible schema";
    case MG_ERR_PRODUCER_FENCED: return "Producer fenced";
    case MG_ERR_SERVICE_NOT_READY: return "Service not ready";
    case MG_ERR_TOPIC_TERMINATED: return "Topic terminated";
    }
    return "Unknown error";
}

/* ---- message ids --------------------------------------------------------------------------- */
mg_message_id_t *msgid_new(const struct mg_message_id *id)
{
    mg_message_id_t *m = mg_malloc(sizeof *m);
    if (m) *m = *id;
    return m;
}

mg_message_id_t *mg_message_id_create(int64_t ledger, int64_t entry, int32_t partition,
                                      int32_t batch_index)
{
    struct mg_message_id id = {ledger, entry, partition, batch_index, 0};
    return msgid_new(&id);
}
mg_message_id_t *mg_message_id_earliest(void) { return mg_message_id_create(-1, -1, -1, -1); }
mg_message_id_t *mg_message_id_latest(void)
{
    return mg_message_id_create(INT64_MAX, INT64_MAX, -1, -1);
}
mg_message_id_t *mg_message_id_dup(const mg_message_id_t *id) { return id ? msgid_new(id) : NULL; }
void mg_message_id_free(mg_message_id_t *id) { mg_free(id); }
int64_t mg_message_id_ledger(const mg_message_id_t *id) { return id ? id->ledger : -1; }
int64_t mg_message_id_entry(const mg_message_id_t *id) { return id ? id->entry : -1; }
int32_t mg_message_id_partition(const mg_message_id_t *id) { return id ? id->partition : -1; }
int32_t mg_message_id_batch_index(const mg_message_id_t *id) { return id ? id->batch_index : -1; }

int mg_message_id_compare(const mg_message_id_t *a, const mg_message_id_t *b)
{
    if (a->ledger != b->ledger) return a->ledger < b->ledger ? -1 : 1;
    if (a->entry != b->entry) return a->entry < b->entry ? -1 : 1;
    if (a->batch_index != b->batch_index) return a->batch_index < b->batch_index ? -1 : 1;
    return 0;
}

char *mg_message_id_str(const mg_message_id_t *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "(%lld,%lld,%d,%d)", (long long)id->ledger, (long long)id->entry,
             id->partition, id->batch_index);
    return out;
}

mg_result mg_message_id_serialize(const mg_message_id_t *id, uint8_t **out, size_t *len)
{
    if (!id || !out || !len) return MG_ERR_INVALID_ARG;
    Pulsar__Proto__MessageIdData d = PULSAR__PROTO__MESSAGE_ID_DATA__INIT;
    d.ledgerid = (uint64_t)id->ledger;
    d.entryid = (uint64_t)id->entry;
    d.has_partition = 1;
    d.partition = id->partition;
    d.has_batch_index = 1;
    d.batch_index = id->batch_index;
    if (id->batch_size > 0) {
        d.has_batch_size = 1;
        d.batch_size = id->batch_size;
    }
    size_t n = pulsar__proto__message_id_data__get_packed_size(&d);
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return MG_ERR_NO_MEMORY;
    pulsar__proto__message_id_data__pack(&d, p);
    *out = p;
    *len = n;
    return MG_OK;
}

mg_result mg_message_id_deserialize(const uint8_t *p, size_t len, mg_message_id_t **out)
{
    if (!p || !out) return MG_ERR_INVALID_ARG;
    Pulsar__Proto__MessageIdData *d = pulsar__proto__message_id_data__unpack(NULL, len, p);
    if (!d) return MG_ERR_INVALID_ARG;
    struct mg_message_id id = {(int64_t)d->ledgerid, (int64_t)d->entryid,
                               d->has_partition ? d->partition : -1,
                               d->has_batch_index ? d->batch_index : -1,
                               d->has_batch_size ? d->batch_size : 0};
    pulsar__proto__message_id_data__free_unpacked(d, NULL);
    *out = msgid_new(&id);
    return *out ? MG_OK : MG_ERR_NO_MEMORY;
}

/* ---- batch ack trackers -------------------------------------------------------------------- */
batch_acks_t *batch_acks_new(int n)
{
    size_t words = ((size_t)n + 63) / 64;
    batch_acks_t *b = mg_calloc(1, sizeof *b + words * 8);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->n = n;
    for (int i = 0; i < n; i++) b->bits[i / 64] |= 1ull << (i % 64);
    return b;
}

void batch_acks_unref(batch_acks_t *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) mg_free(b);
}

/* ---- messages ------------------------------------------------------------------------------ */
mg_message_t *message_alloc(void)
{
    mg_message_t *m = mg_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->id = (struct mg_message_id){-1, -1, -1, -1, 0};
    return m;
}

mg_message_t *mg_message_new(const void *data, size_t len)
{
    mg_message_t *m = message_alloc();
    if (!m) return NULL;
    m->data = mg_malloc(len ? len : 1);
    if (!m->data) {
        mg_free(m);
        return NULL;
    }
    if (len) memcpy(m->data, data, len);
    m->len = len;
    return m;
}

void mg_message_free(mg_message_t *m)
{
    if (!m) return;
    mg_free(m->data);
    mg_free(m->key);
    mg_free(m->okey);
    for (size_t i = 0; i < m->nprops * 2; i++) mg_free(m->props[i]);
    mg_free(m->props);
    mg_free(m->topic);
    mg_free(m->producer_name);
    mg_free(m->chunk_entries);
    mg_free(m->schema_ver);
    batch_acks_unref(m->backs);
    message_unref_consumer(m);
    mg_free(m);
}

void mg_messages_free(mg_message_t **msgs, size_t n)
{
    if (!msgs) return;
    for (size_t i = 0; i < n; i++) mg_message_free(msgs[i]);
    mg_free(msgs);
}

static char *dup_or_null(const char *s) { return s ? mg_strdup(s) : NULL; }

/* Deep copy of the user-visible fields (no consumer reference, no ack tracker). */
mg_message_t *message_clone(const mg_message_t *m)
{
    mg_message_t *c = mg_message_new(m->data, m->len);
    if (!c) return NULL;
    c->key = dup_or_null(m->key);
    c->key_b64 = m->key_b64;
    if (m->okey_len) {
        c->okey = mg_malloc(m->okey_len);
        if (c->okey) memcpy(c->okey, m->okey, m->okey_len);
        c->okey_len = c->okey ? m->okey_len : 0;
    }
    for (size_t i = 0; i < m->nprops; i++)
        mg_message_set_property(c, m->props[2 * i], m->props[2 * i + 1]);
    c->event_time = m->event_time;
    c->publish_time = m->publish_time;
    c->deliver_at = m->deliver_at;
    c->seq = m->seq;
    c->has_seq = m->has_seq;
    c->redelivery_count = m->redelivery_count;
    c->id = m->id;
    c->topic = dup_or_null(m->topic);
    c->producer_name = dup_or_null(m->producer_name);
    if (m->schema_ver_len && (c->schema_ver = mg_malloc(m->schema_ver_len))) {
        memcpy(c->schema_ver, m->schema_ver, m->schema_ver_len);
        c->schema_ver_len = m->schema_ver_len;
    }
    return c;
}

mg_result mg_message_set_key(mg_message_t *m, const char *key)
{
    if (!m) return MG_ERR_INVALID_ARG;
    mg_free(m->key);
    m->key = key ? mg_strdup(key) : NULL;
    m->key_b64 = false;
    return !key || m->key ? MG_OK : MG_ERR_NO_MEMORY;
}

mg_result mg_message_set_ordering_key(mg_message_t *m, const void *key, size_t len)
{
    if (!m) return MG_ERR_INVALID_ARG;
    mg_free(m->okey);
    m->okey = NULL;
    m->okey_len = 0;
    if (!key || !len) return MG_OK;
    if (!(m->okey = mg_malloc(len))) return MG_ERR_NO_MEMORY;
    memcpy(m->okey, key, len);
    m->okey_len = len;
    return MG_OK;
}

mg_result mg_message_set_property(mg_message_t *m, const char *name, const char *value)
{
    if (!m || !name || !value) return MG_ERR_INVALID_ARG;
    for (size_t i = 0; i < m->nprops; i++)
        if (!strcmp(m->props[2 * i], name)) {
            char *v = mg_strdup(value);
            if (!v) return MG_ERR_NO_MEMORY;
            mg_free(m->props[2 * i + 1]);
            m->props[2 * i + 1] = v;
            return MG_OK;
        }
    char **np = mg_realloc(m->props, (m->nprops + 1) * 2 * sizeof *np);
    if (!np) return MG_ERR_NO_MEMORY;
    m->props = np;
    np[2 * m->nprops] = mg_strdup(name);
    np[2 * m->nprops + 1] = mg_strdup(value);
    if (!np[2 * m->nprops] || !np[2 * m->nprops + 1]) {
        mg_free(np[2 * m->nprops]);
        mg_free(np[2 * m->nprops + 1]);
        return MG_ERR_NO_MEMORY;
    }
    m->nprops++;
    return MG_OK;
}

mg_result mg_message_set_event_time(mg_message_t *m, uint64_t ms)
{
    if (!m) return MG_ERR_INVALID_ARG;
    m->event_time = ms;
    return MG_OK;
}

mg_result mg_message_set_deliver_after(mg_message_t *m, uint64_t delay_ms)
{
    if (!m) return MG_ERR_INVALID_ARG;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->deliver_at = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + delay_ms;
    return MG_OK;
}

mg_result mg_message_set_deliver_at(mg_message_t *m, uint64_t epoch_ms)
{
    if (!m) return MG_ERR_INVALID_ARG;
    m->deliver_at = epoch_ms;
    return MG_OK;
}

mg_result mg_message_set_sequence_id(mg_message_t *m, int64_t seq)
{
    if (!m || seq < 0) return MG_ERR_INVALID_ARG;
    m->seq = seq;
    m->has_seq = true;
    return MG_OK;
}

const void *mg_message_data(const mg_message_t *m) { return m ? m->data : NULL; }
size_t mg_message_len(const mg_message_t *m) { return m ? m->len : 0; }
const char *mg_message_key(const mg_message_t *m) { return m ? m->key : NULL; }
const void *mg_message_ordering_key(const mg_message_t *m, size_t *len)
{
    if (len) *len = m ? m->okey_len : 0;
    return m ? m->okey : NULL;
}
const char *mg_message_property(const mg_message_t *m, const char *name)
{
    if (!m || !name) return NULL;
    for (size_t i = 0; i < m->nprops; i++)
        if (!strcmp(m->props[2 * i], name)) return m->props[2 * i + 1];
    return NULL;
}
size_t mg_message_property_count(const mg_message_t *m) { return m ? m->nprops : 0; }
bool mg_message_property_at(const mg_message_t *m, size_t i, const char **name, const char **value)
{
    if (!m || i >= m->nprops) return false;
    if (name) *name = m->props[2 * i];
    if (value) *value = m->props[2 * i + 1];
    return true;
}
const mg_message_id_t *mg_message_get_id(const mg_message_t *m) { return m ? &m->id : NULL; }
uint64_t mg_message_publish_time(const mg_message_t *m) { return m ? m->publish_time : 0; }
uint64_t mg_message_event_time(const mg_message_t *m) { return m ? m->event_time : 0; }
uint32_t mg_message_redelivery_count(const mg_message_t *m) { return m ? m->redelivery_count : 0; }
int64_t mg_message_sequence_id(const mg_message_t *m) { return m && m->has_seq ? m->seq : -1; }
const char *mg_message_topic(const mg_message_t *m) { return m ? m->topic : NULL; }
const char *mg_message_producer_name(const mg_message_t *m) { return m ? m->producer_name : NULL; }
