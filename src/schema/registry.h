/* registry.h - the schema registry's storage: versioned schemas per topic in the metadata store.
 *
 * A schema id is Pulsar's TopicName.getSchemaName() of the topic's base name: "tenant/ns/local"
 * without the domain and without "-partition-N", so a partitioned topic (and the persistent and
 * non-persistent topics of one name) share one history. Versions are numbered from 0. Each
 * version is one key, Pulsar's schema path plus the zero-padded version:
 *     /schemas/<tenant>/<ns>/<topic>/<version, 19 digits>
 * whose value is "MGS1", a 4-byte big-endian header length, a JSON header
 * {"type":N,"timestamp":ms,"deleted":bool,"props":{...}} and the raw schema data.
 *
 * A soft delete (Pulsar's deleteSchema without force) appends a version with deleted=true and no
 * data; everything up to and including the last such marker is "trimmed" (ignored by lookups by
 * data, compatibility checks and the list of all versions) but still readable by number. A
 * forced delete removes every key, so versions start again from 0.
 *
 * Threading: the broker calls these on its loop thread; they only use the metastore (which is
 * thread-safe) and pure checks, so no state is kept here. Checks of large schemas take
 * milliseconds of CPU on the caller's thread.
 *
 * Errors: functions returning int use REG_* codes and, where they take (reason, rlen), write a
 * human-readable reason for anything but REG_OK. */
#ifndef MG_SCHEMA_REGISTRY_H
#define MG_SCHEMA_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/topic_name.h"
#include "schema/compat.h"
#include "storage/metastore.h"

#define SCHEMA_ID_MAX (MG_TOPIC_MAX + 2 * MG_NAME_MAX + 4)

enum {
    REG_OK = 0,
    REG_INCOMPATIBLE = 1, /* refused by the compatibility strategy */
    REG_INVALID = 2,      /* schema data invalid for its type, or too large */
    REG_NOT_ALLOWED = 3,  /* not registered and auto update is disabled */
    REG_NOT_FOUND = 4,
    REG_ERROR = -1,       /* metastore failure or out of memory */
};

/* One stored version. data is mg_malloc'd (may be NULL when len == 0); props is a JSON object
 * of string values (owned reference, never NULL after a successful load). */
typedef struct schema_rec {
    int64_t version;
    int type; /* SCHEMA_TYPE_* */
    uint8_t *data;
    size_t len;
    json_t *props;
    int64_t timestamp; /* ms since the epoch */
    bool deleted;
} schema_rec_t;

typedef struct schema_list {
    schema_rec_t *v; /* ascending versions */
    size_t n;
    size_t first_live; /* index of the first version after the last delete marker */
} schema_list_t;

/* "tenant/ns/local" of the base (unpartitioned) topic. */
void registry_schema_id(const mg_topic_name_t *tn, char *id, size_t idlen);

/* Every stored version of id, ascending. REG_OK (possibly n == 0) or REG_ERROR. */
int registry_load(mg_meta_t *m, const char *id, schema_list_t *out);
void registry_list_free(schema_list_t *l);
void registry_rec_free(schema_rec_t *r);
/* Pointer into l: version v (any, deleted included), or the latest when v < 0. NULL if none. */
const schema_rec_t *registry_list_get(const schema_list_t *l, int64_t v);
/* Does the topic have a schema: its latest version exists and is not a delete marker. */
bool registry_list_has_schema(const schema_list_t *l);

/* The version of a live (not trimmed) entry with the same type and byte-identical data, or -1. */
int64_t registry_find(const schema_list_t *l, int type, const void *data, size_t len);

/* Check a proposed schema against the live versions under strategy (already resolved).
 * consumer=true applies Pulsar's checkConsumerCompatibility: BACKWARD against the latest for
 * BACKWARD/FORWARD/FULL/FORWARD_TRANSITIVE, else the strategy against all live versions.
 * REG_OK, REG_INCOMPATIBLE or REG_INVALID (reason set). */
int registry_check(const schema_list_t *l, int strategy, const schema_ref_t *s, bool consumer,
                   char *reason, size_t rlen);

/* Pulsar's putSchemaIfAbsent (or, auto_update=false, only the lookup): an identical live
 * version is returned as is; else the schema is validated, checked and stored as the next
 * version. props may be NULL (no properties; borrowed). *version is set on REG_OK. */
int registry_put(mg_meta_t *m, const char *id, int strategy, bool auto_update, int type,
                 const void *data, size_t len, json_t *props, int64_t *version, char *reason,
                 size_t rlen);

/* Delete: soft (append a marker; *version = the marker's version) or force (remove every
 * version; *version = the latest removed). REG_NOT_FOUND when there is nothing to delete
 * (*version = -1). */
int registry_delete(mg_meta_t *m, const char *id, bool force, int64_t *version);

/* The KEY_VALUE sub-types from properties "key.schema.type"/"value.schema.type" (missing =
 * SCHEMA_TYPE_UNKNOWN, i.e. infer). Fills a schema_ref_t for the checker. */
void registry_ref(schema_ref_t *ref, int type, const void *data, size_t len, json_t *props,
                  int64_t version);

#endif
