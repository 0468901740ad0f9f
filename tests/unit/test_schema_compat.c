/* test_schema_compat.c - unit tests for src/schema/compat.h: Avro resolution rules checked
 * against python3-avro as an independent oracle (tests/schema/pairs.json via
 * tests/unit/schema_oracle.py), the compatibility matrix per strategy, transitive vs
 * last-version checks, KEY_VALUE, non-Avro types, and bad input that must give -1, never a crash.
 * Run alone: build-sc/bin/test_schema_compat */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "schema/compat.h"

#ifndef MG_SOURCE_DIR
#define MG_SOURCE_DIR "."
#endif

static int can_read(const char *r, const char *w, char *reason, size_t rl)
{
    return schema_avro_can_read(r, strlen(r), w, strlen(w), reason, rl);
}

/* ------------------------------------------------------------------------------------------
 * Oracle comparison
 * ---------------------------------------------------------------------------------------- */

static void test_pairs_against_oracle(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file(MG_SOURCE_DIR "/tests/schema/pairs.json", 0, &jerr);
    assert_non_null(doc);
    json_t *pairs = json_object_get(doc, "pairs");
    assert_true(json_array_size(pairs) >= 40);

    /* Oracle verdicts, one "name\tverdict" line per pair. */
    FILE *p = popen("/usr/bin/python3 " MG_SOURCE_DIR "/tests/unit/schema_oracle.py " MG_SOURCE_DIR
                    "/tests/schema/pairs.json 2>/dev/null",
                    "r");
    assert_non_null(p);
    json_t *oracle = json_object();
    char line[512];
    while (fgets(line, sizeof(line), p)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        tab[1 + strcspn(tab + 1, "\r\n")] = '\0';
        json_object_set_new(oracle, line, json_string(tab + 1));
    }
    int status = pclose(p);
    int have_oracle = status == 0 && json_object_size(oracle) == json_array_size(pairs);
    if (!have_oracle)
        fprintf(stderr, "schema oracle unavailable (status %d): checking spec verdicts only\n",
                status);

    size_t i, compared = 0, excluded = 0, failures = 0;
    json_t *pr;
    json_array_foreach(pairs, i, pr)
    {
        const char *name = json_string_value(json_object_get(pr, "name"));
        const char *expect = json_string_value(json_object_get(pr, "expect"));
        char *r = json_dumps(json_object_get(pr, "reader"), JSON_ENCODE_ANY | JSON_COMPACT);
        char *w = json_dumps(json_object_get(pr, "writer"), JSON_ENCODE_ANY | JSON_COMPACT);
        char reason[512];
        int rc = can_read(r, w, reason, sizeof(reason));
        const char *mine = rc == 1 ? "compatible" : rc == 0 ? "incompatible" : "error";
        if (strcmp(mine, expect) != 0) {
            fprintf(stderr, "pair %s: magnetar says %s (%s), spec says %s\n", name, mine, reason,
                    expect);
            failures++;
        }
        if (rc == 0 && reason[0] == '\0') {
            fprintf(stderr, "pair %s: incompatible without a reason\n", name);
            failures++;
        }
        json_t *use = json_object_get(pr, "oracle");
        if (use && json_is_false(use)) {
            excluded++; /* spec and python3-avro disagree; "why" in pairs.json explains */
        } else if (have_oracle) {
            const char *o = json_string_value(json_object_get(oracle, name));
            if (!o || strcmp(o, mine) != 0) {
                fprintf(stderr, "pair %s: magnetar says %s (%s), oracle says %s\n", name, mine,
                        reason, o ? o : "nothing");
                failures++;
            }
            compared++;
        }
        free(r);
        free(w);
    }
    fprintf(stderr, "schema pairs: %zu total, %zu compared with python3-avro, %zu excluded\n",
            json_array_size(pairs), compared, excluded);
    json_decref(oracle);
    json_decref(doc);
    assert_int_equal(failures, 0);
    if (!have_oracle) skip();
}

/* ------------------------------------------------------------------------------------------
 * Strategy matrix: one old version, one new version, every strategy
 * ---------------------------------------------------------------------------------------- */

#define REC(fields) "{\"type\":\"record\",\"name\":\"User\",\"fields\":[" fields "]}"
#define F_NAME "{\"name\":\"name\",\"type\":\"string\"}"
#define F_AGE(t) "{\"name\":\"age\",\"type\":\"" t "\"}"
#define COLOR(sym, dflt)                                                                           \
    "{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[" sym "]" dflt "}}"

static const struct change {
    const char *what;
    const char *old_s, *new_s;
    int backward; /* new reads old */
    int forward;  /* old reads new */
} changes[] = {
    {"add field with default", REC(F_NAME),
     REC(F_NAME ",{\"name\":\"age\",\"type\":\"int\",\"default\":0}"), 1, 1},
    {"add field without default", REC(F_NAME), REC(F_NAME "," F_AGE("int")), 0, 1},
    {"remove field with default", REC(F_NAME ",{\"name\":\"age\",\"type\":\"int\",\"default\":0}"),
     REC(F_NAME), 1, 1},
    {"remove field without default", REC(F_NAME "," F_AGE("int")), REC(F_NAME), 1, 0},
    {"promote int to long", REC(F_NAME "," F_AGE("int")), REC(F_NAME "," F_AGE("long")), 1, 0},
    {"narrow long to int", REC(F_NAME "," F_AGE("long")), REC(F_NAME "," F_AGE("int")), 0, 1},
    {"change int to string", REC(F_NAME "," F_AGE("int")), REC(F_NAME "," F_AGE("string")), 0, 0},
    {"string to bytes", REC(F_NAME), REC("{\"name\":\"name\",\"type\":\"bytes\"}"), 1, 1},
    {"rename field via alias", REC(F_NAME "," F_AGE("int")),
     REC(F_NAME ",{\"name\":\"years\",\"type\":\"int\",\"aliases\":[\"age\"]}"), 1, 0},
    {"rename record via alias", REC(F_NAME),
     "{\"type\":\"record\",\"name\":\"Person\",\"aliases\":[\"User\"],\"fields\":[" F_NAME "]}", 1,
     0},
    {"union widening", REC("{\"name\":\"v\",\"type\":[\"null\",\"int\"]}"),
     REC("{\"name\":\"v\",\"type\":[\"null\",\"int\",\"string\"]}"), 1, 0},
    {"enum symbol added, no default", REC(COLOR("\"R\",\"G\"", "")),
     REC(COLOR("\"R\",\"G\",\"B\"", "")), 1, 0},
    {"enum symbol added, enum default", REC(COLOR("\"U\",\"R\",\"G\"", ",\"default\":\"U\"")),
     REC(COLOR("\"U\",\"R\",\"G\",\"B\"", ",\"default\":\"U\"")), 1, 1},
    {"enum symbol removed, no default", REC(COLOR("\"R\",\"G\",\"B\"", "")),
     REC(COLOR("\"R\",\"G\"", "")), 0, 1},
    {"nested record field added without default",
     REC("{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":\"Addr\",\"fields\":[{\"name\":"
         "\"s\",\"type\":\"string\"}]}}"),
     REC("{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":\"Addr\",\"fields\":[{\"name\":"
         "\"s\",\"type\":\"string\"},"
         "{\"name\":\"zip\",\"type\":\"string\"}]}}"),
     0, 1},
};

static int expected_for(int strategy, const struct change *c)
{
    switch (strategy) {
    case SCHEMA_COMPAT_ALWAYS_COMPATIBLE:
        return 1;
    case SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE:
        return 0;
    case SCHEMA_COMPAT_BACKWARD:
    case SCHEMA_COMPAT_BACKWARD_TRANSITIVE:
        return c->backward;
    case SCHEMA_COMPAT_FORWARD:
    case SCHEMA_COMPAT_FORWARD_TRANSITIVE:
        return c->forward;
    default: /* FULL, FULL_TRANSITIVE, UNDEFINED (= broker default FULL) */
        return c->backward && c->forward;
    }
}

static void test_strategy_matrix(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        const struct change *c = &changes[i];
        existing_schema_t old = {SCHEMA_TYPE_AVRO, c->old_s, strlen(c->old_s), -1, -1, 1};
        for (int s = 0; s < SCHEMA_COMPAT_COUNT; s++) {
            char reason[512];
            int want = expected_for(s, c);
            int got = schema_check_compat(s, SCHEMA_TYPE_AVRO, c->new_s, strlen(c->new_s), &old, 1,
                                          reason, sizeof(reason));
            if (got != want) {
                fprintf(stderr, "%s under %s: got %d want %d (%s)\n", c->what,
                        schema_strategy_name(s), got, want, reason);
                failures++;
            }
            if (got == 0 && reason[0] == '\0') {
                fprintf(stderr, "%s under %s: no reason\n", c->what, schema_strategy_name(s));
                failures++;
            }
            /* JSON and PROTOBUF schema data is Avro too: same verdicts. */
            int gj = schema_check_compat(
                s, SCHEMA_TYPE_JSON, c->new_s, strlen(c->new_s),
                &(existing_schema_t){SCHEMA_TYPE_JSON, c->old_s, strlen(c->old_s), -1, -1, 1}, 1,
                NULL, 0);
            if (gj != want) {
                fprintf(stderr, "%s under %s (JSON): got %d want %d\n", c->what,
                        schema_strategy_name(s), gj, want);
                failures++;
            }
        }
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------------------------
 * Transitive vs last-version-only: three versions, v3 compatible with v2 but not with v1
 * ---------------------------------------------------------------------------------------- */

static void test_transitive(void **state)
{
    (void)state;
    char reason[512];
    /* Backward: v3 reader needs 'age' without default; v2 has it, v1 does not. */
    const char *b1 = REC(F_NAME);
    const char *b2 = REC(F_NAME ",{\"name\":\"age\",\"type\":\"int\",\"default\":0}");
    const char *b3 = REC(F_NAME "," F_AGE("int"));
    existing_schema_t bv[2] = {{SCHEMA_TYPE_AVRO, b1, strlen(b1), -1, -1, 0},
                               {SCHEMA_TYPE_AVRO, b2, strlen(b2), -1, -1, 1}};
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_BACKWARD, SCHEMA_TYPE_AVRO, b3, strlen(b3),
                                         bv, 2, reason, sizeof(reason)),
                     1);
    assert_string_equal(reason, "");
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_BACKWARD_TRANSITIVE, SCHEMA_TYPE_AVRO, b3,
                                         strlen(b3), bv, 2, reason, sizeof(reason)),
                     0);
    assert_non_null(strstr(reason, "version 0"));
    assert_non_null(
        strstr(reason, "field 'age' (int) in reader has no default and is missing in writer"));
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FULL_TRANSITIVE, SCHEMA_TYPE_AVRO, b3,
                                         strlen(b3), bv, 2, reason, sizeof(reason)),
                     0);
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FORWARD_TRANSITIVE, SCHEMA_TYPE_AVRO, b3,
                                         strlen(b3), bv, 2, reason, sizeof(reason)),
                     1);

    /* Forward: v1 reader needs 'age'; v2 gives it a default; v3 drops it. */
    existing_schema_t fv[2] = {{SCHEMA_TYPE_AVRO, b3, strlen(b3), -1, -1, 0},
                               {SCHEMA_TYPE_AVRO, b2, strlen(b2), -1, -1, 1}};
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FORWARD, SCHEMA_TYPE_AVRO, b1, strlen(b1),
                                         fv, 2, reason, sizeof(reason)),
                     1);
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FORWARD_TRANSITIVE, SCHEMA_TYPE_AVRO, b1,
                                         strlen(b1), fv, 2, reason, sizeof(reason)),
                     0);
    assert_non_null(strstr(reason, "version 0 cannot read data written with the new schema"));
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FULL, SCHEMA_TYPE_AVRO, b1, strlen(b1), fv,
                                         2, reason, sizeof(reason)),
                     1);
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FULL_TRANSITIVE, SCHEMA_TYPE_AVRO, b1,
                                         strlen(b1), fv, 2, reason, sizeof(reason)),
                     0);

    /* No versions yet: anything valid goes, even under ALWAYS_INCOMPATIBLE. */
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE, SCHEMA_TYPE_AVRO, b1,
                                         strlen(b1), NULL, 0, reason, sizeof(reason)),
                     1);
    /* Re-registering a known version is fine whatever the strategy. */
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE, SCHEMA_TYPE_AVRO, b1,
                                         strlen(b1), bv, 2, reason, sizeof(reason)),
                     1);
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE, SCHEMA_TYPE_AVRO, b3,
                                         strlen(b3), bv, 2, reason, sizeof(reason)),
                     0);
    assert_string_equal(reason, "Schema compatibility strategy is ALWAYS_INCOMPATIBLE");
}

/* ------------------------------------------------------------------------------------------
 * Reasons name the path and rule
 * ---------------------------------------------------------------------------------------- */

static void test_reasons(void **state)
{
    (void)state;
    char reason[512];
    assert_int_equal(can_read(REC(F_NAME "," F_AGE("int")), REC(F_NAME), reason, sizeof(reason)),
                     0);
    assert_string_equal(
        reason, "field 'age' (int) in reader has no default and is missing in writer (at User)");

    assert_int_equal(can_read(REC(F_NAME "," F_AGE("int")), REC(F_NAME "," F_AGE("long")), reason,
                              sizeof(reason)),
                     0);
    assert_string_equal(reason, "reader type int cannot read writer type long (at User.age)");

    assert_int_equal(
        can_read(REC(COLOR("\"R\"", "")), REC(COLOR("\"R\",\"B\"", "")), reason, sizeof(reason)),
        0);
    assert_non_null(strstr(reason, "symbol 'B'"));
    assert_non_null(strstr(reason, "(at User.c)"));

    const char *nested_r =
        REC("{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":"
            "\"Item\",\"fields\":[{\"name\":\"qty\",\"type\":\"int\"}]}}}");
    const char *nested_w =
        REC("{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":"
            "\"Item\",\"fields\":[{\"name\":\"qty\",\"type\":\"double\"}]}}}");
    assert_int_equal(can_read(nested_r, nested_w, reason, sizeof(reason)), 0);
    assert_string_equal(reason, "reader type int cannot read writer type double (at User.a[].qty)");

    assert_int_equal(can_read("[\"null\",\"int\"]", "\"string\"", reason, sizeof(reason)), 0);
    assert_non_null(strstr(reason, "no branch for writer type string"));

    /* A tiny reason buffer truncates but stays terminated; NULL reason is allowed. */
    char tiny[8];
    assert_int_equal(can_read("\"int\"", "\"string\"", tiny, sizeof(tiny)), 0);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(can_read("\"int\"", "\"string\"", NULL, 0), 0);
}

/* ------------------------------------------------------------------------------------------
 * KEY_VALUE and the other types
 * ---------------------------------------------------------------------------------------- */

static size_t kv_encode(uint8_t *out, const char *k, const char *v)
{
    size_t kl = strlen(k), vl = strlen(v), o = 0;
    out[o++] = (uint8_t)(kl >> 24), out[o++] = (uint8_t)(kl >> 16), out[o++] = (uint8_t)(kl >> 8),
    out[o++] = (uint8_t)kl;
    memcpy(out + o, k, kl), o += kl;
    out[o++] = (uint8_t)(vl >> 24), out[o++] = (uint8_t)(vl >> 16), out[o++] = (uint8_t)(vl >> 8),
    out[o++] = (uint8_t)vl;
    memcpy(out + o, v, vl), o += vl;
    return o;
}

static void test_key_value(void **state)
{
    (void)state;
    char reason[512];
    uint8_t v1[1024], v2[1024], v3[1024];
    const char *key =
        "{\"type\":\"record\",\"name\":\"K\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"}]}";
    const char *key_long =
        "{\"type\":\"record\",\"name\":\"K\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}";
    size_t l1 = kv_encode(v1, key, REC(F_NAME));
    size_t l2 =
        kv_encode(v2, key, REC(F_NAME ",{\"name\":\"age\",\"type\":\"int\",\"default\":0}"));
    size_t l3 = kv_encode(v3, key_long, REC(F_NAME "," F_AGE("int")));

    const uint8_t *k, *v;
    size_t kl, vl;
    assert_int_equal(schema_kv_split(v1, l1, &k, &kl, &v, &vl), 0);
    assert_int_equal(kl, strlen(key));
    assert_memory_equal(k, key, kl);
    assert_int_equal(schema_validate(SCHEMA_TYPE_KEY_VALUE, v1, l1, reason, sizeof(reason)), 1);

    existing_schema_t old = {SCHEMA_TYPE_KEY_VALUE, v1, l1, SCHEMA_TYPE_AVRO, SCHEMA_TYPE_AVRO, 1};
    schema_ref_t nw = {SCHEMA_TYPE_KEY_VALUE, v2, l2, SCHEMA_TYPE_AVRO, SCHEMA_TYPE_AVRO, -1};
    assert_int_equal(
        schema_check_compat_ref(SCHEMA_COMPAT_FULL, &nw, &old, 1, reason, sizeof(reason)), 1);
    /* Inferred sub-types (schema_check_compat has none for the new schema). */
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FULL, SCHEMA_TYPE_KEY_VALUE, v2, l2, &old, 1,
                                         reason, sizeof(reason)),
                     1);
    /* Value breaks backward; key breaks forward. */
    nw.data = v3, nw.len = l3;
    assert_int_equal(
        schema_check_compat_ref(SCHEMA_COMPAT_BACKWARD, &nw, &old, 1, reason, sizeof(reason)), 0);
    assert_non_null(strstr(reason, "value schema"));
    assert_non_null(strstr(reason, "'age'"));
    assert_int_equal(
        schema_check_compat_ref(SCHEMA_COMPAT_FORWARD, &nw, &old, 1, reason, sizeof(reason)), 0);
    assert_non_null(strstr(reason, "key schema"));
    /* A changed sub-type is incompatible. */
    nw.data = v2, nw.len = l2, nw.value_type = SCHEMA_TYPE_JSON;
    assert_int_equal(
        schema_check_compat_ref(SCHEMA_COMPAT_FULL, &nw, &old, 1, reason, sizeof(reason)), 0);
    assert_non_null(strstr(reason, "sub-schema types changed"));
    /* Bytes/string parts (empty data) use the default checker. */
    uint8_t p1[16], p2[16];
    size_t pl1 = kv_encode(p1, "", ""), pl2 = kv_encode(p2, "", "");
    existing_schema_t po = {SCHEMA_TYPE_KEY_VALUE, p1, pl1, SCHEMA_TYPE_STRING,
                            SCHEMA_TYPE_INT32,     1};
    schema_ref_t pn = {SCHEMA_TYPE_KEY_VALUE, p2, pl2, SCHEMA_TYPE_STRING, SCHEMA_TYPE_INT64, -1};
    assert_int_equal(
        schema_check_compat_ref(SCHEMA_COMPAT_BACKWARD, &pn, &po, 1, reason, sizeof(reason)), 0);
    pn.value_type = SCHEMA_TYPE_INT32;
    assert_int_equal(
        schema_check_compat_ref(SCHEMA_COMPAT_BACKWARD, &pn, &po, 1, reason, sizeof(reason)), 1);
    /* Null part (length -1) and malformed framing. */
    const uint8_t nullkey[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    assert_int_equal(schema_kv_split(nullkey, sizeof(nullkey), &k, &kl, &v, &vl), 0);
    assert_int_equal(kl, 0);
    const uint8_t bad[] = {0, 0, 0, 9, 'x'};
    assert_int_equal(
        schema_validate(SCHEMA_TYPE_KEY_VALUE, bad, sizeof(bad), reason, sizeof(reason)), -1);
    assert_int_equal(schema_validate(SCHEMA_TYPE_KEY_VALUE, v1, l1 - 1, reason, sizeof(reason)),
                     -1);
}

static void test_other_types(void **state)
{
    (void)state;
    char reason[512];
    existing_schema_t str = {SCHEMA_TYPE_STRING, "", 0, -1, -1, 3};
    /* Pulsar's default checker: same type is compatible unless ALWAYS_INCOMPATIBLE. */
    for (int s = 0; s < SCHEMA_COMPAT_COUNT; s++) {
        int want =
            s == SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE ? 1 : 1; /* identical data: known version */
        assert_int_equal(
            schema_check_compat(s, SCHEMA_TYPE_STRING, "", 0, &str, 1, reason, sizeof(reason)),
            want);
    }
    /* Type change: incompatible except under ALWAYS_COMPATIBLE. */
    const char *avro = REC(F_NAME);
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FULL, SCHEMA_TYPE_AVRO, avro, strlen(avro),
                                         &str, 1, reason, sizeof(reason)),
                     0);
    assert_string_equal(reason,
                        "Incompatible schema: exists schema type STRING, new schema type AVRO");
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_ALWAYS_COMPATIBLE, SCHEMA_TYPE_AVRO, avro,
                                         strlen(avro), &str, 1, reason, sizeof(reason)),
                     1);
    /* Pulsar refuses a top-level union for AVRO (not for JSON), and allows '$' in namespaces
     * (Java nested classes). */
    assert_int_equal(
        schema_validate(SCHEMA_TYPE_AVRO, "[\"null\",\"int\"]", 14, reason, sizeof(reason)), -1);
    assert_string_equal(reason, "Avro schema typed [UNION] is not supported");
    assert_int_equal(
        schema_validate(SCHEMA_TYPE_JSON, "[\"null\",\"int\"]", 14, reason, sizeof(reason)), 1);
    const char *nested =
        "{\"type\":\"record\",\"name\":\"Inner\",\"namespace\":\"com.x.Outer$\",\"fields\":[]}";
    assert_int_equal(
        schema_validate(SCHEMA_TYPE_AVRO, nested, strlen(nested), reason, sizeof(reason)), 1);
    /* Primitive schemas carry no data. */
    assert_int_equal(schema_validate(SCHEMA_TYPE_INT32, "x", 1, reason, sizeof(reason)), -1);
    assert_int_equal(schema_validate(SCHEMA_TYPE_NONE, "\x01\x02", 2, reason, sizeof(reason)), 1);
    const char *pn = "{\"fileDescriptorSet\":\"AAAA\",\"rootMessageTypeName\":\"M\","
                     "\"rootFileDescriptorName\":\"m.proto\"}";
    assert_int_equal(
        schema_validate(SCHEMA_TYPE_PROTOBUF_NATIVE, pn, strlen(pn), reason, sizeof(reason)), 1);
    assert_int_equal(schema_validate(SCHEMA_TYPE_PROTOBUF_NATIVE, "{}", 2, reason, sizeof(reason)),
                     -1);
    assert_int_equal(schema_validate(99, "", 0, reason, sizeof(reason)), -1);
    existing_schema_t pno = {SCHEMA_TYPE_PROTOBUF_NATIVE, pn, strlen(pn), -1, -1, 0};
    const char *pn2 = "{\"fileDescriptorSet\":\"BBBB\",\"rootMessageTypeName\":\"M\","
                      "\"rootFileDescriptorName\":\"m.proto\"}";
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_FULL, SCHEMA_TYPE_PROTOBUF_NATIVE, pn2,
                                         strlen(pn2), &pno, 1, reason, sizeof(reason)),
                     1);
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE,
                                         SCHEMA_TYPE_PROTOBUF_NATIVE, pn2, strlen(pn2), &pno, 1,
                                         reason, sizeof(reason)),
                     0);
    /* Invalid strategy numbers and an invalid stored version. */
    assert_int_equal(
        schema_check_compat(42, SCHEMA_TYPE_STRING, "", 0, &str, 1, reason, sizeof(reason)), -1);
    existing_schema_t broken = {SCHEMA_TYPE_AVRO, "{", 1, -1, -1, 7};
    assert_int_equal(schema_check_compat(SCHEMA_COMPAT_BACKWARD, SCHEMA_TYPE_AVRO, avro,
                                         strlen(avro), &broken, 1, reason, sizeof(reason)),
                     -1);
    assert_non_null(strstr(reason, "version 7 is invalid"));
}

static void test_names(void **state)
{
    (void)state;
    for (int s = 0; s < SCHEMA_COMPAT_COUNT; s++)
        assert_int_equal(schema_strategy_parse(schema_strategy_name(s)), s);
    assert_int_equal(schema_strategy_parse("full_transitive"), SCHEMA_COMPAT_FULL_TRANSITIVE);
    assert_int_equal(schema_strategy_parse("AutoUpdateDisabled"),
                     SCHEMA_COMPAT_ALWAYS_INCOMPATIBLE);
    assert_int_equal(schema_strategy_parse("BackwardTransitive"),
                     SCHEMA_COMPAT_BACKWARD_TRANSITIVE);
    assert_int_equal(schema_strategy_parse("SIDEWAYS"), -1);
    assert_int_equal(schema_strategy_parse(NULL), -1);
    assert_string_equal(schema_strategy_name(77), "UNKNOWN");
    assert_int_equal(schema_strategy_resolve(SCHEMA_COMPAT_UNDEFINED, SCHEMA_COMPAT_BACKWARD),
                     SCHEMA_COMPAT_BACKWARD);
    assert_int_equal(schema_strategy_resolve(SCHEMA_COMPAT_FORWARD, SCHEMA_COMPAT_BACKWARD),
                     SCHEMA_COMPAT_FORWARD);
    assert_int_equal(schema_strategy_resolve(SCHEMA_COMPAT_UNDEFINED, SCHEMA_COMPAT_UNDEFINED),
                     SCHEMA_COMPAT_FULL);
    assert_int_equal(schema_type_parse("KEY_VALUE"), SCHEMA_TYPE_KEY_VALUE);
    assert_int_equal(schema_type_parse("bytes"), SCHEMA_TYPE_NONE);
    assert_int_equal(schema_type_parse("avro"), SCHEMA_TYPE_AVRO);
    assert_int_equal(schema_type_parse("PROTOBUF_NATIVE"), SCHEMA_TYPE_PROTOBUF_NATIVE);
    assert_int_equal(schema_type_parse("nope"), -1);
    assert_string_equal(schema_type_name(SCHEMA_TYPE_JSON), "JSON");
}

/* ------------------------------------------------------------------------------------------
 * Bad input: -1 with a reason, never a crash
 * ---------------------------------------------------------------------------------------- */

static void expect_invalid(const char *s, size_t len, const char *needle)
{
    char reason[512];
    int rc = schema_validate(SCHEMA_TYPE_AVRO, s, len, reason, sizeof(reason));
    if (rc != -1 || !strstr(reason, needle))
        fprintf(stderr, "input %.60s: rc %d reason '%s', wanted '%s'\n", s ? s : "(null)", rc,
                reason, needle);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(reason, needle));
    const char *ok = "\"int\"";
    assert_int_equal(schema_avro_can_read(s, len, ok, strlen(ok), reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "invalid reader schema"));
    assert_int_equal(schema_avro_can_read(ok, strlen(ok), s, len, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "invalid writer schema"));
}

#define EXPECT_INVALID(lit, needle) expect_invalid(lit, strlen(lit), needle)

static void test_bad_input(void **state)
{
    (void)state;
    size_t before = mg_alloc_count();
    EXPECT_INVALID("{\"type\":\"record\",", "invalid JSON");
    EXPECT_INVALID("", "empty");
    expect_invalid(NULL, 0, "empty");
    EXPECT_INVALID("\"integer\"", "unknown type name 'integer'");
    EXPECT_INVALID(
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"Missing\"}]}",
        "unknown type name 'Missing'");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"R\"}", "'fields'");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", "invalid record name");
    EXPECT_INVALID("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "twice");
    EXPECT_INVALID("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}",
                   "default");
    EXPECT_INVALID("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "size");
    EXPECT_INVALID("[\"int\",\"int\"]", "twice");
    EXPECT_INVALID("[\"int\",[\"null\"]]", "another union");
    EXPECT_INVALID("{\"type\":\"array\"}", "items");
    EXPECT_INVALID("42", "must be a type name");
    expect_invalid("\x00\xff\xfe garbage", 11, "invalid JSON");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                   "\"int\"},{\"name\":\"a\","
                   "\"type\":\"int\"}]}",
                   "two fields named 'a'");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"r\",\"type\":{"
                   "\"type\":\"record\",\"name\":"
                   "\"R\",\"fields\":[]}}]}",
                   "defined twice");

    /* Huge: over the size limit. */
    size_t big = SCHEMA_MAX_BYTES + 10;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    memcpy(huge, "\"int\"", 5);
    expect_invalid(huge, big, "limit");
    /* Deep: 10000 nested arrays, well within the byte limit. */
    size_t o = 0;
    for (int i = 0; i < 10000; i++)
        o += (size_t)sprintf(huge + o, "{\"type\":\"array\",\"items\":");
    o += (size_t)sprintf(huge + o, "\"int\"");
    for (int i = 0; i < 10000; i++)
        huge[o++] = '}';
    char reason[256];
    assert_int_equal(schema_validate(SCHEMA_TYPE_AVRO, huge, o, reason, sizeof(reason)), -1);
    /* 60 levels is fine. */
    o = 0;
    for (int i = 0; i < 60; i++)
        o += (size_t)sprintf(huge + o, "{\"type\":\"array\",\"items\":");
    o += (size_t)sprintf(huge + o, "\"int\"");
    for (int i = 0; i < 60; i++)
        huge[o++] = '}';
    assert_int_equal(schema_avro_can_read(huge, o, huge, o, reason, sizeof(reason)), 1);
    /* Many fields: wide but valid. */
    o = (size_t)sprintf(huge, "{\"type\":\"record\",\"name\":\"W\",\"fields\":[");
    for (int i = 0; i < 5000; i++)
        o += (size_t)sprintf(huge + o, "%s{\"name\":\"f%d\",\"type\":\"long\"}", i ? "," : "", i);
    o += (size_t)sprintf(huge + o, "]}");
    assert_int_equal(schema_avro_can_read(huge, o, huge, o, reason, sizeof(reason)), 1);
    free(huge);
    assert_int_equal(mg_alloc_count(), before); /* nothing leaked through the wrappers */
}

/* Mutations of valid schemas (byte flips, truncations): any answer, but no crash or leak. */
static void test_mutations(void **state)
{
    (void)state;
    static const char *seeds[] = {
        REC(F_NAME "," F_AGE("int")),
        REC(COLOR("\"U\",\"R\",\"G\"", ",\"default\":\"U\"")),
        ("{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},{"
         "\"name\":\"n\","
         "\"type\":[\"null\",\"Node\"]}]}"),
        "[\"null\",{\"type\":\"map\",\"values\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}}]",
    };
    size_t before = mg_alloc_count();
    unsigned seed = 12345;
    char buf[512], reason[256];
    for (int iter = 0; iter < 3000; iter++) {
        const char *s = seeds[iter % 4];
        size_t len = strlen(s);
        memcpy(buf, s, len);
        for (int k = 0; k < 1 + iter % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[pos] = "{}[]\",:.aZ0 \\"[(seed >> 8) % 14];
        }
        if (iter % 5 == 0) len = (seed >> 4) % len;
        int rc = schema_avro_can_read(buf, len, seeds[(iter + 1) % 4],
                                      strlen(seeds[(iter + 1) % 4]), reason, sizeof(reason));
        assert_true(rc >= -1 && rc <= 1);
        rc = schema_avro_can_read(buf, len, buf, len, reason, sizeof(reason));
        assert_true(rc == 1 || rc == -1);
    }
    assert_int_equal(mg_alloc_count(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_against_oracle),
        cmocka_unit_test(test_strategy_matrix),
        cmocka_unit_test(test_transitive),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_key_value),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
