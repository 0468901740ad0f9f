/* test_arena: the broker's two allocation-free steady-state helpers. The scoped bump allocator
 * commands are decoded into: alignment, nested marks, blocks chained for large needs and freed
 * on release, the first block kept (a steady state allocates nothing), protobuf commands decoded
 * into it. The free-list pool per-entry objects are recycled through: reuse, the cap, destroy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "common/pool.h"
#include "proto/frame.h"

static void test_marks_and_blocks(void **s)
{
    (void)s;
    size_t before = mg_alloc_count();
    mg_arena_t a;
    assert_int_equal(mg_arena_init(&a, 1024), 0);
    size_t with_first = mg_alloc_count();
    assert_int_equal(with_first, before + 1);

    mg_arena_mark_t m0 = mg_arena_mark(&a);
    uint8_t *p1 = mg_arena_alloc(&a, 3);
    uint8_t *p2 = mg_arena_alloc(&a, 17);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_int_equal((uintptr_t)p1 % 16, 0);
    assert_int_equal((uintptr_t)p2 % 16, 0);
    assert_true(p2 >= p1 + 3);
    memset(p1, 1, 3);
    memset(p2, 2, 17);

    mg_arena_mark_t m1 = mg_arena_mark(&a);  /* a nested scope */
    uint8_t *big = mg_arena_alloc(&a, 5000); /* larger than a block: chained */
    assert_non_null(big);
    memset(big, 3, 5000);
    assert_int_equal(mg_alloc_count(), with_first + 1);
    uint8_t *more = mg_arena_alloc(&a, 900); /* does not fit the rest: another block */
    assert_non_null(more);
    assert_int_equal(mg_alloc_count(), with_first + 2);
    mg_arena_release(&a, m1);
    assert_int_equal(mg_alloc_count(), with_first); /* the chained blocks are gone */
    assert_int_equal(p1[2], 1);                     /* the outer scope's memory is intact */
    assert_int_equal(p2[16], 2);

    uint8_t *again = mg_arena_alloc(&a, 8); /* reuses the released space */
    assert_true(again > p2 && again < p2 + 1024);
    mg_arena_release(&a, m0);
    for (int round = 0; round < 1000; round++) { /* steady state: no malloc at all */
        mg_arena_mark_t m = mg_arena_mark(&a);
        assert_non_null(mg_arena_alloc(&a, 700));
        assert_non_null(mg_arena_alloc(&a, 300));
        mg_arena_release(&a, m);
    }
    assert_int_equal(mg_alloc_count(), with_first);
    assert_null(mg_arena_alloc(&a, SIZE_MAX - 3)); /* overflow of the rounding: refused */
    mg_arena_destroy(&a);
    assert_int_equal(mg_alloc_count(), before);
}

static void test_commands_in_arena(void **s)
{
    (void)s;
    Pulsar__Proto__BaseCommand cmd = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandProducer pr = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    cmd.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER;
    cmd.producer = &pr;
    pr.topic = "persistent://public/default/arena";
    pr.producer_id = 7;
    pr.request_id = 9;
    pr.producer_name = "p";
    mg_buf_t b;
    buf_init(&b);
    assert_int_equal(frame_write_cmd(&b, &cmd), 0);

    mg_arena_t a;
    assert_int_equal(mg_arena_init(&a, 256), 0); /* small: the command chains a block */
    size_t base = mg_alloc_count();
    for (int round = 0; round < 3; round++) {
        mg_arena_mark_t m = mg_arena_mark(&a);
        frame_t f;
        char err[100];
        assert_int_equal(frame_decode_in(b.data, b.len, 1 << 20, &f, err, sizeof err, &a),
                         (ssize_t)b.len);
        assert_true(f.in_arena);
        assert_string_equal(f.cmd->producer->topic, "persistent://public/default/arena");
        assert_int_equal(f.cmd->producer->producer_id, 7);
        frame_release(&f);
        mg_arena_release(&a, m);
        assert_int_equal(mg_alloc_count(), base);
    }
    /* an undecodable command leaves nothing behind either */
    mg_arena_mark_t m = mg_arena_mark(&a);
    b.data[8] = 0xff;
    frame_t f;
    char err[100];
    assert_int_equal(frame_decode_in(b.data, b.len, 1 << 20, &f, err, sizeof err, &a), -1);
    mg_arena_release(&a, m);
    assert_int_equal(mg_alloc_count(), base);
    mg_arena_destroy(&a);
    buf_free(&b);
}

static void test_pool(void **s)
{
    (void)s;
    size_t before = mg_alloc_count();
    mg_pool_t p;
    mg_pool_init(&p, 3, 2); /* smaller than a pointer: rounded up */
    assert_true(p.size >= sizeof(void *));
    void *a = mg_pool_get(&p), *b = mg_pool_get(&p), *c = mg_pool_get(&p);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(mg_alloc_count(), before + 3);
    mg_pool_put(&p, a);
    mg_pool_put(&p, b);
    mg_pool_put(&p, c); /* past max_free: freed */
    mg_pool_put(&p, NULL);
    assert_int_equal(mg_alloc_count(), before + 2);
    assert_int_equal(p.nfree, 2);
    void *x = mg_pool_get(&p), *y = mg_pool_get(&p); /* the list, newest first */
    assert_ptr_equal(x, b);
    assert_ptr_equal(y, a);
    assert_int_equal(mg_alloc_count(), before + 2);
    for (int i = 0; i < 1000; i++) { /* steady state: get and put, no malloc */
        void *o = mg_pool_get(&p);
        memset(o, 0xab, p.size);
        mg_pool_put(&p, o);
    }
    assert_int_equal(mg_alloc_count(), before + 3);
    mg_pool_put(&p, x);
    mg_pool_put(&p, y);
    mg_pool_destroy(&p);
    assert_int_equal(mg_alloc_count(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marks_and_blocks),
        cmocka_unit_test(test_commands_in_arena),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
