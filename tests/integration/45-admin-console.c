/* 45-admin-console: the web console. GET /console answers web/console.html byte for byte (it
 * is embedded at build time) as text/html with Cache-Control and a Content-Security-Policy;
 * the page names the REST paths it reads, all relative (same origin), and builds its DOM
 * without innerHTML. GET / redirects to /console; HEAD answers the headers with the page's
 * length; other methods are 405 with {"reason"}. The paths the page reads answer 200 on a
 * fresh broker, so an empty console has no broken panel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mghttp.h"
#include "mgtest.h"

static mgt_broker_t *B;

typedef mgt_http_res_t resp_t;

/* One request, redirects followed only when asked; free with resp_free. */
static resp_t *http(const char *method, const char *path, bool follow)
{
    resp_t *r = calloc(1, sizeof *r);
    mgt_http(B->web_port, method, path, !strcmp(method, "POST") ? "{}" : NULL, follow, r);
    return r;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    free(r);
}

/* The value of header `name` of the last response in r (after redirects), or "" when absent. */
static const char *header(resp_t *r, const char *name, char *out, size_t outlen)
{
    if (!mgt_http_header(r, name, out, outlen)) out[0] = 0; /* "" when absent */
    return out;
}

/* The repository's page. */
static char *read_source(size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/web/console.html", mgt_source_dir());
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void test_console_page(void **state)
{
    size_t srclen;
    char *src = read_source(&srclen);
    char v[512];
    resp_t *r = http("GET", "/console", false);
    assert_int_equal(r->status, 200);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    assert_string_equal(header(r, "Cache-Control", v, sizeof v), "no-cache");
    assert_string_equal(header(r, "X-Content-Type-Options", v, sizeof v), "nosniff");
    assert_non_null(strstr(header(r, "Content-Security-Policy", v, sizeof v), "connect-src 'self'"));
    /* embedded = the repository file, byte for byte */
    assert_true(srclen > 10000);
    assert_int_equal(r->len, srclen);
    assert_memory_equal(r->body, src, srclen);
    snprintf(v, sizeof v, "%zu", srclen);
    char cl[64];
    assert_string_equal(header(r, "Content-Length", cl, sizeof cl), v);

    const char *page = r->body;
    assert_non_null(strstr(page, "<title>Magnetar console</title>"));
    static const char *const paths[] = {
        "'/admin/v2/brokers/health'", "'/admin/v2/brokers/version'", "'/admin/v2/clusters'",
        "'/admin/v2/tenants'", "'/admin/v2/namespaces/'", "'/partitioned'", "'/stats'",
        "'/partitioned-stats?perPartition=true'", "'/partitions'", "'/subscription/'",
        "'/position/'", "'/admin/v2/schemas/'", "'/schema'", "'/metrics'",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        if (!strstr(page, paths[i])) fprintf(stderr, "the page does not use %s\n", paths[i]);
        assert_non_null(strstr(page, paths[i]));
    }
    /* same origin only, nothing loaded from elsewhere, and no markup built from data */
    assert_null(strstr(page, "http://"));
    assert_null(strstr(page, "https://"));
    assert_null(strstr(page, "innerHTML"));
    assert_null(strstr(page, "outerHTML"));
    assert_null(strstr(page, "insertAdjacentHTML"));
    assert_null(strstr(page, "document.write"));
    assert_null(strstr(page, "<link rel=\"stylesheet\""));
    assert_null(strstr(page, "<script src"));
    resp_free(r);

    /* a trailing slash is the same page */
    r = http("GET", "/console/", false);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->len, srclen);
    resp_free(r);
    free(src);
}

static void test_root_redirects(void **state)
{
    char v[256];
    resp_t *r = http("GET", "/", false);
    assert_int_equal(r->status, 302);
    assert_string_equal(header(r, "Location", v, sizeof v), "/console");
    resp_free(r);

    size_t srclen;
    char *src = read_source(&srclen);
    r = http("GET", "/", true);
    assert_int_equal(r->status, 200);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    assert_int_equal(r->len, srclen);
    assert_memory_equal(r->body, src, srclen);
    resp_free(r);
    free(src);
}

static void test_head(void **state)
{
    size_t srclen;
    char *src = read_source(&srclen);
    char v[256], want[64];
    resp_t *r = http("HEAD", "/console", false);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->len, 0);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    assert_string_equal(header(r, "Cache-Control", v, sizeof v), "no-cache");
    snprintf(want, sizeof want, "%zu", srclen);
    assert_string_equal(header(r, "Content-Length", v, sizeof v), want);
    resp_free(r);

    r = http("HEAD", "/", false);
    assert_int_equal(r->status, 302);
    assert_string_equal(header(r, "Location", v, sizeof v), "/console");
    resp_free(r);
    free(src);
}

static void test_wrong_method(void **state)
{
    static const char *const cases[][2] = {
        {"POST", "/console"}, {"PUT", "/console"}, {"DELETE", "/console"}, {"POST", "/"},
        {"DELETE", "/"},
    };
    char v[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        resp_t *r = http(cases[i][0], cases[i][1], false);
        assert_int_equal(r->status, 405);
        assert_string_equal(header(r, "Content-Type", v, sizeof v), "application/json");
        assert_string_equal(header(r, "Allow", v, sizeof v), "GET, HEAD");
        json_t *j = json_loads(r->body, 0, NULL);
        assert_non_null(j);
        assert_true(json_is_string(json_object_get(j, "reason")));
        json_decref(j);
        resp_free(r);
    }
    /* below /console there is nothing */
    resp_t *r = http("GET", "/console/x", false);
    assert_int_equal(r->status, 404);
    json_t *j = json_loads(r->body, 0, NULL);
    assert_true(json_is_string(json_object_get(j, "reason")));
    json_decref(j);
    resp_free(r);
}

/* What the page reads on a fresh broker answers, in the types the page expects. */
static void test_page_api_answers(void **state)
{
    static const char *const ok[] = {
        "/admin/v2/brokers/health", "/admin/v2/brokers/version", "/admin/v2/clusters",
        "/admin/v2/clusters/standalone", "/admin/v2/brokers/standalone", "/admin/v2/tenants",
        "/admin/v2/tenants/public", "/admin/v2/namespaces/public", "/admin/v2/namespaces/public/default",
        "/admin/v2/persistent/public/default", "/admin/v2/persistent/public/default/partitioned",
        "/admin/v2/non-persistent/public/default", "/metrics",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        resp_t *r = http("GET", ok[i], false);
        if (r->status != 200) fprintf(stderr, "GET %s -> %ld %s\n", ok[i], r->status, r->body);
        assert_int_equal(r->status, 200);
        resp_free(r);
    }
    /* the process panel's series */
    resp_t *r = http("GET", "/metrics", false);
    static const char *const series[] = {
        "\nprocess_resident_memory_bytes ", "\nprocess_open_fds ", "\nmagnetar_alloc_used_bytes ",
        "\nprocess_cpu_seconds_total ", "\nprocess_start_time_seconds ", "\nmagnetar_connections ",
    };
    for (size_t i = 0; i < sizeof series / sizeof *series; i++) assert_non_null(strstr(r->body, series[i]));
    resp_free(r);
    /* errors the page turns into a notice: {"reason"} with 404 */
    r = http("GET", "/admin/v2/schemas/public/default/none/schema", false);
    assert_int_equal(r->status, 404);
    json_t *j = json_loads(r->body, 0, NULL);
    assert_true(json_is_string(json_object_get(j, "reason")));
    json_decref(j);
    resp_free(r);
}

static int setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    B = mgt_broker_start(NULL);
    return B ? 0 : -1;
}

static int teardown(void **state)
{
    mgt_broker_free(B);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_page),
        cmocka_unit_test(test_root_redirects),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_wrong_method),
        cmocka_unit_test(test_page_api_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
