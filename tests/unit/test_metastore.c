/* test_metastore.c - unit tests for the LMDB metadata store (src/storage/metastore.c): put/get/del,
 * values with NUL bytes, prefix listing in key order with early stop, prefix delete, reopen.
 * Each test works in its own mkdtemp directory, removed at teardown. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "storage/metastore.h"

typedef struct fixture {
    char dir[64];
    mg_meta_t *m;
} fixture_t;

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    return remove(path);
}

static mg_meta_t *open_meta(const char *dir)
{
    char err[256] = "";
    mg_meta_t *m = meta_open(dir, err, sizeof err);
    if (!m) fail_msg("meta_open: %s", err);
    return m;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mg-meta-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    f->m = open_meta(f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    meta_close(f->m);
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void put_str(mg_meta_t *m, const char *k, const char *v, bool sync)
{
    assert_int_equal(meta_put(m, k, v, strlen(v), sync), 0);
}

static void assert_val(mg_meta_t *m, const char *k, const char *want)
{
    char *v = NULL;
    size_t len = 0;
    assert_int_equal(meta_get(m, k, &v, &len), 0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(v, want); /* NUL-terminated copy */
    mg_free(v);
}

static void test_put_get_del(void **state)
{
    fixture_t *f = *state;
    char *v = (char *)1;
    size_t len = 7;
    assert_int_equal(meta_get(f->m, "/admin/clusters/standalone", &v, &len), 1);
    assert_null(v);
    put_str(f->m, "/admin/clusters/standalone", "{\"serviceUrl\":\"x\"}", true);
    assert_val(f->m, "/admin/clusters/standalone", "{\"serviceUrl\":\"x\"}");
    put_str(f->m, "/admin/clusters/standalone", "{}", false);
    assert_val(f->m, "/admin/clusters/standalone", "{}");
    assert_int_equal(meta_del(f->m, "/admin/clusters/standalone"), 0);
    assert_int_equal(meta_del(f->m, "/admin/clusters/standalone"), 1);
    assert_int_equal(meta_get(f->m, "/admin/clusters/standalone", &v, &len), 1);
    /* binary values and empty values */
    const uint8_t bin[] = {0, 1, 2, 0, 255};
    assert_int_equal(meta_put(f->m, "/bin", bin, sizeof bin, false), 0);
    assert_int_equal(meta_get(f->m, "/bin", &v, &len), 0);
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(v, bin, sizeof bin);
    mg_free(v);
    assert_int_equal(meta_put(f->m, "/empty", "", 0, true), 0);
    assert_val(f->m, "/empty", "");
    assert_int_equal(meta_put(f->m, "", "x", 1, true), -1);
}

typedef struct seen {
    int n;
    char keys[16][64];
    int stop_after;
} seen_t;

static int on_key(void *arg, const char *key, const char *val, size_t len)
{
    seen_t *s = arg;
    assert_int_equal(strlen(val), len);
    snprintf(s->keys[s->n++], 64, "%s", key);
    return s->stop_after && s->n >= s->stop_after;
}

static void test_list_and_del_prefix(void **state)
{
    fixture_t *f = *state;
    const char *keys[] = {"/admin/policies/t1/ns2", "/admin/policies/t1/ns1",
                          "/admin/policies/t2/ns1", "/admin/policies/t1", "/admin/policiez",
                          "/admin/partitioned-topics/t1/ns1/persistent/a"};
    for (size_t i = 0; i < 6; i++) put_str(f->m, keys[i], keys[i], false);
    meta_sync(f->m);
    seen_t s = {0};
    assert_int_equal(meta_list(f->m, "/admin/policies/t1", on_key, &s), 3);
    assert_string_equal(s.keys[0], "/admin/policies/t1");
    assert_string_equal(s.keys[1], "/admin/policies/t1/ns1");
    assert_string_equal(s.keys[2], "/admin/policies/t1/ns2");
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    assert_int_equal(meta_list(f->m, "/admin/policies/", on_key, &s), 2);
    memset(&s, 0, sizeof s);
    assert_int_equal(meta_list(f->m, "", on_key, &s), 6);
    assert_string_equal(s.keys[0], "/admin/partitioned-topics/t1/ns1/persistent/a");
    assert_int_equal(meta_list(f->m, "/nothing", on_key, &s), 0);
    assert_int_equal(meta_list(f->m, "/zzz", on_key, &s), 0); /* past the last key */

    assert_int_equal(meta_del_prefix(f->m, "/admin/policies/t1"), 3);
    assert_int_equal(meta_del_prefix(f->m, "/admin/policies/t1"), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(meta_list(f->m, "/admin/", on_key, &s), 3);
    assert_string_equal(s.keys[1], "/admin/policies/t2/ns1");
    assert_string_equal(s.keys[2], "/admin/policiez");
}

static void test_many_and_del_prefix_all(void **state)
{
    fixture_t *f = *state;
    char k[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "/managed-ledgers/t/ns/persistent/x/cursor-%05d", i);
        put_str(f->m, k, "{\"markDelete\":\"1:2\"}", false);
    }
    put_str(f->m, "/managed-ledgers/t/ns/persistent/y", "1", true);
    assert_int_equal(meta_list(f->m, "/managed-ledgers/t/ns/persistent/x/", NULL, NULL), 2000);
    assert_int_equal(meta_del_prefix(f->m, "/managed-ledgers/t/ns/persistent/x/"), 2000);
    assert_int_equal(meta_list(f->m, "/managed-ledgers/", NULL, NULL), 1);
}

static void test_reopen(void **state)
{
    fixture_t *f = *state;
    put_str(f->m, "/a", "1", true);
    put_str(f->m, "/b", "2", false);
    meta_close(f->m);
    f->m = open_meta(f->dir);
    assert_val(f->m, "/a", "1");
    assert_val(f->m, "/b", "2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_del_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_and_del_prefix_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
