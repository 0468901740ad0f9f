/* 08-protocol-fuzz: mutated official-client byte streams (shared fixtures) sent to the live
 * broker over real sockets: bit flips inside commands, re-encoded commands with extreme field
 * values, truncated and duplicated frames. The broker must answer or close the connection,
 * never crash, and keep serving a well-behaved client. Deterministic (fixed seed), ~8 s. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "mgtest.h"

#define T(x) PULSAR__PROTO__BASE_COMMAND__TYPE__##x

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct stream {
    uint8_t *b;
    size_t n;
} stream_t;

static int load(stream_t *out, int max)
{
    DIR *d = opendir(MG_FIXTURES);
    assert_non_null(d);
    struct dirent *de;
    int k = 0;
    while ((de = readdir(d)) && k < max) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".bin") || strstr(de->d_name, "chunking")) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", MG_FIXTURES, de->d_name);
        FILE *f = fopen(p, "rb");
        fseek(f, 0, SEEK_END);
        out[k].n = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        out[k].b = malloc(out[k].n);
        assert_int_equal(fread(out[k].b, 1, out[k].n, f), out[k].n);
        fclose(f);
        k++;
    }
    closedir(d);
    return k;
}

/* Re-encode a decoded command with hostile values in its numeric fields. */
static void poison(pb_cmd_t *c)
{
    static const uint64_t vals[] = {0, 1, UINT64_MAX, UINT64_MAX - 1, (uint64_t)INT64_MAX, 1ull << 32};
    uint64_t v = vals[rnd() % 6];
    if (c->flow) c->flow->messagepermits = (uint32_t)v;
    if (c->ack && c->ack->n_message_id) {
        c->ack->message_id[0]->entryid = v;
        c->ack->ack_type = (int)(rnd() % 2);
    }
    if (c->seek && c->seek->message_id) c->seek->message_id->entryid = v;
    if (c->subscribe) {
        c->subscribe->subtype = (int)(rnd() % 6);
        if (c->subscribe->start_message_id) c->subscribe->start_message_id->entryid = v;
    }
    if (c->send) c->send->num_messages = (int32_t)v;
    if (c->producer) c->producer->producer_access_mode = (int)(rnd() % 5);
    if (c->redeliverunacknowledgedmessages && c->redeliverunacknowledgedmessages->n_message_ids)
        c->redeliverunacknowledgedmessages->message_ids[0]->entryid = v;
}

static void mutate(const stream_t *s, mg_buf_t *out)
{
    size_t off = 0;
    int mode = (int)(rnd() % 4);
    while (off < s->n) {
        frame_t f;
        char err[100];
        ssize_t r = frame_decode(s->b + off, s->n - off, 64u << 20, &f, err, sizeof err);
        if (r <= 0) break;
        bool first = off == 0; /* keep CONNECT intact so the rest is processed */
        if (!first && mode == 0 && rnd() % 3 == 0) {
            poison(f.cmd);
            frame_write_cmd_head(out, f.cmd, f.payload_len);
            if (f.payload_len) buf_append(out, f.payload, f.payload_len);
        } else {
            size_t at = out->len;
            buf_append(out, s->b + off, (size_t)r);
            if (!first && mode == 1 && rnd() % 4 == 0) /* flip bits anywhere in the frame */
                for (int k = 0; k < 3; k++) out->data[at + 8 + rnd() % ((size_t)r - 8)] ^= (uint8_t)(1u << (rnd() % 8));
            if (!first && mode == 2 && rnd() % 5 == 0) buf_append(out, s->b + off, (size_t)r); /* dup */
        }
        frame_release(&f);
        off += (size_t)r;
    }
    if (mode == 3 && out->len > 20) out->len -= rnd() % (out->len / 2); /* truncated stream */
}

static void test_fuzz_live_broker(void **st)
{
    mgt_broker_t *b = mgt_broker_start("keepAliveIntervalSeconds=2\n");
    static stream_t streams[32];
    int ns = load(streams, 32);
    assert_true(ns >= 10);
    /* MG_FUZZ_SEED / MG_FUZZ_MS: other seeds and longer runs by hand */
    if (getenv("MG_FUZZ_SEED")) rng = strtoull(getenv("MG_FUZZ_SEED"), NULL, 0) | 1;
    uint64_t ms = getenv("MG_FUZZ_MS") ? strtoull(getenv("MG_FUZZ_MS"), NULL, 0) : 8000;
    uint64_t end = mg_mono_ms() + ms;
    int runs = 0;
    while (mg_mono_ms() < end) {
        mg_buf_t m;
        buf_init(&m);
        mutate(&streams[rnd() % (uint64_t)ns], &m);
        mgt_conn_t *c = mgt_connect(b->port, false);
        mgt_send_raw(c, m.data, m.len);
        frame_t f;
        while (mgt_recv(c, &f, 10) == 1) {
        }
        mgt_close(c);
        buf_free(&m);
        runs++;
        assert_true(mgt_broker_alive(b));
    }
    fprintf(stderr, "protocol fuzz: %d mutated streams\n", runs);
    /* a well-behaved client is still served */
    mgt_conn_t *c = mgt_connect(b->port, true);
    frame_t f;
    assert_int_equal(mgt_producer(c, "after-fuzz", 1, "af", &f), T(PRODUCER_SUCCESS));
    mgt_send(c, 1, 0, "af", "ok", 2, NULL, 0);
    assert_int_equal(mgt_expect(c, T(SEND_RECEIPT), &f, 5000), 1);
    assert_int_equal(mgt_subscribe(c, "after-fuzz", "s", 0, 1, true, &f), T(SUCCESS));
    mgt_flow(c, 1, 10);
    mgt_msg_t msg;
    assert_int_equal(mgt_recv_message(c, &msg, 3000), 1);
    assert_string_equal(msg.data, "ok");
    mgt_close(c);
    for (int i = 0; i < ns; i++) free(streams[i].b);
    assert_int_equal(mgt_broker_stop(b), 0); /* clean shutdown after all that */
    mgt_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_live_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
