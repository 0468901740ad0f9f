/* 05-official-client-replay: replay what the official Pulsar client (C++ 3.8 via Python)
 * really sent, frame by frame, paced as the client was (after each client frame, wait for the
 * broker frames that followed it in the recorded timeline), and check the broker answers with
 * the same sequence of commands the client got. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgtest.h"

static mgt_broker_t *B;

static int setup(void **s)
{
    B = mgt_broker_start(NULL);
    return 0;
}
static int teardown(void **s)
{
    mgt_broker_free(B);
    return 0;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* The recording's stand-in broker used ledger ids 100 + topic number; client frames echo them
 * (acks, redeliveries, seeks, reader start ids). Map them onto this broker's ledger id. */
static void map_id(pb_msgid_t *m, uint64_t ours)
{
    if (m && ours && m->ledgerid >= 100 && m->ledgerid < 1000) m->ledgerid = ours;
}

static void rewrite_ids(pb_cmd_t *c, uint64_t ours)
{
    if (c->ack)
        for (size_t i = 0; i < c->ack->n_message_id; i++) map_id(c->ack->message_id[i], ours);
    if (c->redeliverunacknowledgedmessages)
        for (size_t i = 0; i < c->redeliverunacknowledgedmessages->n_message_ids; i++)
            map_id(c->redeliverunacknowledgedmessages->message_ids[i], ours);
    if (c->seek) map_id(c->seek->message_id, ours);
    if (c->subscribe) map_id(c->subscribe->start_message_id, ours);
}

/* Replay connection 0 of a fixture; returns the number of broker frames checked. */
static int replay(const char *base)
{
    char path[600];
    size_t nbin, ntxt;
    snprintf(path, sizeof path, "%s/%s.bin", MG_FIXTURES, base);
    char *bin = slurp(path, &nbin);
    snprintf(path, sizeof path, "%s/%s.txt", MG_FIXTURES, base);
    char *txt = slurp(path, &ntxt);
    /* collect the timeline tokens of connection 0 */
    char *tl = strstr(txt, "# timeline of connection 0");
    assert_non_null(tl);
    tl = strchr(tl, '\n') + 1;
    char tokens[512][48];
    int nt = 0;
    while (!strncmp(tl, "#   ", 4)) {
        char *eol = strchr(tl, '\n');
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)(eol - tl - 4), tl + 4);
        for (char *tok = strtok(line, " "); tok && nt < 512; tok = strtok(NULL, " "))
            snprintf(tokens[nt++], sizeof tokens[0], "%s", tok);
        tl = eol + 1;
    }
    mgt_conn_t *c = mgt_connect(B->port, false);
    size_t off = 0;
    int checked = 0;
    uint64_t ledger = 0;
    for (int i = 0; i < nt; i++) {
        if (tokens[i][0] == 'C') {
            frame_t f;
            char err[100];
            ssize_t r = frame_decode((uint8_t *)bin + off, nbin - off, 64u << 20, &f, err, sizeof err);
            assert_true(r > 0);
            assert_string_equal(cmd_type_name(f.cmd->type), tokens[i] + 2);
            rewrite_ids(f.cmd, ledger);
            mg_buf_t out;
            buf_init(&out);
            frame_write_cmd_head(&out, f.cmd, f.payload_len);
            if (f.payload_len) buf_append(&out, f.payload, f.payload_len);
            frame_release(&f);
            assert_int_equal(mgt_send_raw(c, out.data, out.len), 0);
            buf_free(&out);
            off += (size_t)r;
        } else {
            frame_t f;
            int r = mgt_recv(c, &f, 5000);
            if (r != 1) fprintf(stderr, "%s: token %d: expected %s, got nothing\n", base, i, tokens[i] + 2);
            assert_int_equal(r, 1);
            if (strcmp(cmd_type_name(f.cmd->type), tokens[i] + 2))
                fprintf(stderr, "%s: token %d: expected %s, got %s\n", base, i, tokens[i] + 2,
                        cmd_type_name(f.cmd->type));
            assert_string_equal(cmd_type_name(f.cmd->type), tokens[i] + 2);
            if (f.cmd->send_receipt && f.cmd->send_receipt->message_id)
                ledger = f.cmd->send_receipt->message_id->ledgerid;
            if (f.cmd->message) ledger = f.cmd->message->message_id->ledgerid;
            if (f.cmd->type == PULSAR__PROTO__BASE_COMMAND__TYPE__ERROR)
                fprintf(stderr, "%s: error %s\n", base, f.cmd->error->message);
            checked++;
        }
    }
    mgt_close(c);
    free(bin);
    free(txt);
    return checked;
}

static void test_producer_plain(void **s) { assert_true(replay("01-connect-producer-plain") >= 7); }
static void test_batch_none(void **s) { assert_true(replay("02-producer-batch-none") > 4); }
static void test_batch_lz4(void **s) { assert_true(replay("03-producer-batch-lz4") > 4); }
static void test_batch_zstd(void **s) { assert_true(replay("04-producer-batch-zstd") > 4); }
static void test_batch_zlib(void **s) { assert_true(replay("05-producer-batch-zlib") > 4); }
static void test_batch_snappy(void **s) { assert_true(replay("06-producer-batch-snappy") > 4); }
static void test_consumer_exclusive(void **s) { assert_true(replay("07-consumer-exclusive-ack") > 8); }
static void test_dedup_sequence(void **s) { assert_true(replay("17-dedup-sequence") > 4); }
static void test_shared_nack(void **s) { assert_true(replay("08-consumer-shared-nack") > 8); }
static void test_key_shared(void **s) { assert_true(replay("09-consumer-keyshared") > 4); }
static void test_failover(void **s) { assert_true(replay("10-consumer-failover") > 4); }
static void test_batch_index_ack(void **s) { assert_true(replay("11-batch-index-ack") > 4); }
static void test_reader_seek(void **s) { assert_true(replay("12-reader-seek") > 8); }
static void test_partitioned(void **s) { assert_true(replay("14-partitioned-producer") > 8); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_plain), cmocka_unit_test(test_batch_none),
        cmocka_unit_test(test_batch_lz4),      cmocka_unit_test(test_batch_zstd),
        cmocka_unit_test(test_batch_zlib),     cmocka_unit_test(test_batch_snappy),
        cmocka_unit_test(test_consumer_exclusive), cmocka_unit_test(test_dedup_sequence),
        cmocka_unit_test(test_shared_nack),    cmocka_unit_test(test_key_shared),
        cmocka_unit_test(test_failover),       cmocka_unit_test(test_batch_index_ack),
        cmocka_unit_test(test_reader_seek),    cmocka_unit_test(test_partitioned),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
