/* mgreading.h - integration-test support for the schema tests (36, 52): the Avro record
 * "Reading" in its two versions, built and checked with avro-c through libmagnetar's helpers,
 * and a consumer from the earliest message with a schema. Failures fail the test (cmocka). */
#ifndef MGREADING_H
#define MGREADING_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "magnetar/magnetar.h"

#define READING_V0                                                                             \
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}," \
    "{\"name\":\"value\",\"type\":\"int\"}]}"
/* FULL-compatible evolution of v0: a new optional field with a default */
#define READING_V1                                                                             \
    "{\"type\":\"record\",\"name\":\"Reading\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}," \
    "{\"name\":\"value\",\"type\":\"int\"},"                                                     \
    "{\"name\":\"unit\",\"type\":[\"null\",\"string\"],\"default\":null}]}"

/* A Reading record of sch (v0 or v1; unit is set only when sch has the field, NULL: null);
 * the caller decrefs *rec. */
void mgt_reading_new(const mg_schema_t *sch, const char *name, int value, const char *unit,
                     avro_value_t *rec);
/* The Avro binary of such a record (caller frees *out). */
void mgt_reading_bytes(const mg_schema_t *sch, const char *name, int value, const char *unit,
                       uint8_t **out, size_t *len);
/* Check a decoded Reading's fields; unit NULL means "no unit field" or a null unit. */
void mgt_check_reading(avro_value_t *rec, const char *name, int value, const char *unit);
/* Subscribe c to topic as sub from the earliest message, declaring sch (NULL: none). */
mg_consumer_t *mgt_consumer_earliest(mg_client_t *c, const char *topic, const char *sub,
                                     const mg_schema_t *sch);

#endif
