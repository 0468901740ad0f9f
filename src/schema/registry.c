/* registry.c - versioned schema storage in the metadata store (see registry.h for the layout)
 * and the registration rules of Pulsar's SchemaRegistryServiceImpl.putSchemaIfAbsent on top of
 * the checker in compat.c. */
#include "schema/registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/timeutil.h"

#define REC_MAGIC "MGS1"

void registry_schema_id(const mg_topic_name_t *tn, char *id, size_t idlen)
{
    /* tn->base is "<domain>://tenant/ns/local" without -partition-N */
    const char *p = strstr(tn->base, "://");
    snprintf(id, idlen, "%s", p ? p + 3 : tn->base);
}

static void key_prefix(const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "/schemas/%s/", id);
}

static void key_version(const char *id, int64_t v, char *out, size_t outlen)
{
    snprintf(out, outlen, "/schemas/%s/%019" PRId64, id, v);
}

void registry_rec_free(schema_rec_t *r)
{
    if (!r) return;
    mg_free(r->data);
    if (r->props) json_decref(r->props);
    r->data = NULL;
    r->props = NULL;
}

void registry_list_free(schema_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) registry_rec_free(&l->v[i]);
    mg_free(l->v);
    memset(l, 0, sizeof *l);
}

/* Decode one stored value; 0 or -1 when malformed. */
static int rec_decode(const char *val, size_t len, schema_rec_t *r)
{
    memset(r, 0, sizeof *r);
    if (len < 8 || memcmp(val, REC_MAGIC, 4)) return -1;
    const uint8_t *u = (const uint8_t *)val + 4;
    size_t hl = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
    if (hl > len - 8) return -1;
    json_t *h = json_loadb(val + 8, hl, 0, NULL);
    if (!json_is_object(h)) {
        json_decref(h);
        return -1;
    }
    r->type = (int)json_integer_value(json_object_get(h, "type"));
    r->timestamp = json_integer_value(json_object_get(h, "timestamp"));
    r->deleted = json_is_true(json_object_get(h, "deleted"));
    json_t *p = json_object_get(h, "props");
    r->props = json_is_object(p) ? json_incref(p) : json_object();
    json_decref(h);
    r->len = len - 8 - hl;
    if (r->len) {
        r->data = mg_malloc(r->len);
        if (!r->data) {
            registry_rec_free(r);
            return -1;
        }
        memcpy(r->data, val + 8 + hl, r->len);
    }
    return 0;
}

static int rec_store(mg_meta_t *m, const char *id, int64_t version, int type, const void *data,
                     size_t len, json_t *props, bool deleted)
{
    json_t *h = json_pack("{s:i, s:I, s:b, s:o}", "type", type, "timestamp",
                          (json_int_t)mg_now_ms(), "deleted", deleted, "props",
                          props ? json_incref(props) : json_object());
    char *hs = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!hs) return REG_ERROR;
    size_t hl = strlen(hs);
    uint8_t *buf = mg_malloc(8 + hl + len);
    if (!buf) {
        free(hs);
        return REG_ERROR;
    }
    memcpy(buf, REC_MAGIC, 4);
    buf[4] = (uint8_t)(hl >> 24);
    buf[5] = (uint8_t)(hl >> 16);
    buf[6] = (uint8_t)(hl >> 8);
    buf[7] = (uint8_t)hl;
    memcpy(buf + 8, hs, hl);
    if (len) memcpy(buf + 8 + hl, data, len);
    free(hs);
    char key[SCHEMA_ID_MAX + 40];
    key_version(id, version, key, sizeof key);
    int rc = meta_put(m, key, buf, 8 + hl + len, true);
    mg_free(buf);
    return rc ? REG_ERROR : REG_OK;
}

typedef struct load_ctx {
    schema_list_t *l;
    size_t cap;
    size_t plen;
    bool failed;
} load_ctx_t;

static int load_cb(void *arg, const char *key, const char *val, size_t len)
{
    load_ctx_t *c = arg;
    const char *vs = key + c->plen;
    /* only direct children made of digits: another topic named "<topic>/..." cannot exist */
    if (strlen(vs) != 19 || strspn(vs, "0123456789") != 19) return 0;
    schema_rec_t r;
    if (rec_decode(val, len, &r)) return 0; /* skip a corrupt version rather than fail all */
    r.version = strtoll(vs, NULL, 10);
    if (c->l->n == c->cap) {
        size_t n = c->cap ? c->cap * 2 : 8;
        schema_rec_t *v = mg_realloc(c->l->v, n * sizeof *v);
        if (!v) {
            registry_rec_free(&r);
            c->failed = true;
            return 1;
        }
        c->l->v = v;
        c->cap = n;
    }
    c->l->v[c->l->n++] = r;
    return 0;
}

int registry_load(mg_meta_t *m, const char *id, schema_list_t *out)
{
    memset(out, 0, sizeof *out);
    char prefix[SCHEMA_ID_MAX + 16];
    key_prefix(id, prefix, sizeof prefix);
    load_ctx_t c = {.l = out, .plen = strlen(prefix)};
    if (meta_list(m, prefix, load_cb, &c) < 0 || c.failed) {
        registry_list_free(out);
        return REG_ERROR;
    }
    /* keys are in order, so versions ascend */
    for (size_t i = 0; i < out->n; i++)
        if (out->v[i].deleted) out->first_live = i + 1;
    return REG_OK;
}

const schema_rec_t *registry_list_get(const schema_list_t *l, int64_t v)
{
    if (!l->n) return NULL;
    if (v < 0) return &l->v[l->n - 1];
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].version == v) return &l->v[i];
    return NULL;
}

bool registry_list_has_schema(const schema_list_t *l)
{
    return l->n && !l->v[l->n - 1].deleted;
}

int64_t registry_find(const schema_list_t *l, int type, const void *data, size_t len)
{
    for (size_t i = l->first_live; i < l->n; i++) {
        const schema_rec_t *r = &l->v[i];
        if (r->type == type && r->len == len && (!len || !memcmp(r->data, data, len)))
            return r->version;
    }
    return -1;
}

static int prop_type(json_t *props, const char *k)
{
    const char *s = props ? json_string_value(json_object_get(props, k)) : NULL;
    if (!s) return SCHEMA_TYPE_UNKNOWN;
    int t = schema_type_parse(s);
    return t < 0 ? SCHEMA_TYPE_UNKNOWN : t;
}

void registry_ref(schema_ref_t *ref, int type, const void *data, size_t len, json_t *props,
                  int64_t version)
{
    memset(ref, 0, sizeof *ref);
    ref->type = type;
    ref->data = data;
    ref->len = len;
    ref->key_type = prop_type(props, "key.schema.type");
    ref->value_type = prop_type(props, "value.schema.type");
    ref->version = version;
}

int registry_check(const schema_list_t *l, int strategy, const schema_ref_t *s, bool consumer,
                   char *reason, size_t rlen)
{
    if (reason && rlen) reason[0] = 0;
    if (s->len > SCHEMA_MAX_BYTES) {
        snprintf(reason, rlen, "Invalid schema: %zu bytes exceeds the limit of %u bytes", s->len,
                 SCHEMA_MAX_BYTES);
        return REG_INVALID;
    }
    size_t n = l->n - l->first_live;
    existing_schema_t *ex = n ? mg_calloc(n, sizeof *ex) : NULL;
    if (n && !ex) {
        snprintf(reason, rlen, "out of memory");
        return REG_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        const schema_rec_t *r = &l->v[l->first_live + i];
        registry_ref(&ex[i], r->type, r->data, r->len, r->props, r->version);
    }
    const existing_schema_t *cmp = ex;
    size_t ncmp = n;
    int strat = strategy;
    if (consumer) {
        if (strat == SCHEMA_COMPAT_BACKWARD || strat == SCHEMA_COMPAT_FORWARD ||
            strat == SCHEMA_COMPAT_FORWARD_TRANSITIVE || strat == SCHEMA_COMPAT_FULL) {
            strat = SCHEMA_COMPAT_BACKWARD;
            if (n) {
                cmp = &ex[n - 1];
                ncmp = 1;
            }
        }
    }
    int rc = schema_check_compat_ref(strat, s, cmp, ncmp, reason, rlen);
    mg_free(ex);
    if (rc == 1) return REG_OK;
    if (rc == 0) return REG_INCOMPATIBLE;
    return REG_INVALID;
}

int registry_put(mg_meta_t *m, const char *id, int strategy, bool auto_update, int type,
                 const void *data, size_t len, json_t *props, int64_t *version, char *reason,
                 size_t rlen)
{
    if (reason && rlen) reason[0] = 0;
    if (len > SCHEMA_MAX_BYTES) {
        snprintf(reason, rlen, "Invalid schema: %zu bytes exceeds the limit of %u bytes", len,
                 SCHEMA_MAX_BYTES);
        return REG_INVALID;
    }
    schema_list_t l;
    if (registry_load(m, id, &l)) {
        snprintf(reason, rlen, "Failed to read the schemas of %s from the metadata store", id);
        return REG_ERROR;
    }
    int rc;
    int64_t found = registry_find(&l, type, data, len);
    if (found >= 0) {
        *version = found;
        rc = REG_OK;
    } else if (!auto_update) {
        snprintf(reason, rlen, "Schema not found and schema auto updating is disabled.");
        rc = REG_NOT_ALLOWED;
    } else {
        schema_ref_t s;
        registry_ref(&s, type, data, len, props, -1);
        rc = registry_check(&l, strategy, &s, false, reason, rlen);
        if (rc == REG_OK) {
            int64_t next = l.n ? l.v[l.n - 1].version + 1 : 0;
            rc = rec_store(m, id, next, type, data, len, props, false);
            if (rc == REG_OK) *version = next;
            else snprintf(reason, rlen, "Failed to store the schema of %s", id);
        }
    }
    registry_list_free(&l);
    return rc;
}

int registry_delete(mg_meta_t *m, const char *id, bool force, int64_t *version)
{
    *version = -1;
    schema_list_t l;
    if (registry_load(m, id, &l)) return REG_ERROR;
    int rc = REG_OK;
    if (!l.n || (!force && l.v[l.n - 1].deleted)) {
        rc = REG_NOT_FOUND;
    } else if (force) {
        *version = l.v[l.n - 1].version;
        char prefix[SCHEMA_ID_MAX + 16];
        key_prefix(id, prefix, sizeof prefix);
        if (meta_del_prefix(m, prefix) < 0) rc = REG_ERROR;
    } else {
        int64_t next = l.v[l.n - 1].version + 1;
        rc = rec_store(m, id, next, l.v[l.n - 1].type, NULL, 0, NULL, true);
        if (rc == REG_OK) *version = next;
    }
    registry_list_free(&l);
    return rc;
}
