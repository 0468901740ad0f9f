/* mgreading.c - see mgreading.h. */
#include "mgreading.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

void mgt_reading_new(const mg_schema_t *sch, const char *name, int value, const char *unit,
                     avro_value_t *rec)
{
    avro_value_t f, br;
    assert_int_equal(mg_avro_value_new(sch, rec), MG_OK);
    assert_int_equal(avro_value_get_by_name(rec, "name", &f, NULL), 0);
    assert_int_equal(avro_value_set_string(&f, name), 0);
    assert_int_equal(avro_value_get_by_name(rec, "value", &f, NULL), 0);
    assert_int_equal(avro_value_set_int(&f, value), 0);
    if (avro_value_get_by_name(rec, "unit", &f, NULL) == 0) {
        assert_int_equal(avro_value_set_branch(&f, unit ? 1 : 0, &br), 0);
        if (unit) assert_int_equal(avro_value_set_string(&br, unit), 0);
        else assert_int_equal(avro_value_set_null(&br), 0);
    }
}

void mgt_reading_bytes(const mg_schema_t *sch, const char *name, int value, const char *unit,
                       uint8_t **out, size_t *len)
{
    avro_value_t rec;
    mgt_reading_new(sch, name, value, unit, &rec);
    assert_int_equal(mg_avro_encode(&rec, out, len), MG_OK);
    avro_value_decref(&rec);
}

void mgt_check_reading(avro_value_t *rec, const char *name, int value, const char *unit)
{
    avro_value_t f, br;
    const char *s;
    size_t sl;
    int32_t v;
    assert_int_equal(avro_value_get_by_name(rec, "name", &f, NULL), 0);
    assert_int_equal(avro_value_get_string(&f, &s, &sl), 0);
    assert_string_equal(s, name);
    assert_int_equal(avro_value_get_by_name(rec, "value", &f, NULL), 0);
    assert_int_equal(avro_value_get_int(&f, &v), 0);
    assert_int_equal(v, value);
    if (avro_value_get_by_name(rec, "unit", &f, NULL) == 0) {
        int disc;
        assert_int_equal(avro_value_get_discriminant(&f, &disc), 0);
        assert_int_equal(disc, unit ? 1 : 0);
        if (unit) {
            assert_int_equal(avro_value_get_current_branch(&f, &br), 0);
            assert_int_equal(avro_value_get_string(&br, &s, &sl), 0);
            assert_string_equal(s, unit);
        }
    } else {
        assert_null(unit); /* a v0 record has no unit field at all */
    }
}

mg_consumer_t *mgt_consumer_earliest(mg_client_t *c, const char *topic, const char *sub,
                                     const mg_schema_t *sch)
{
    mg_consumer_conf_t cf;
    mg_consumer_conf_init(&cf);
    cf.initial_position = MG_POS_EARLIEST;
    mg_consumer_t *out;
    assert_int_equal(mg_consumer_subscribe_with_schema(c, topic, sub, &cf, sch, &out), MG_OK);
    return out;
}
