/* mg_bench_raw: produce load straight over the Pulsar protocol (no client library), to measure
 * the broker alone: messages/s, MB/s and SEND_RECEIPT latency percentiles for N messages of S
 * bytes, batched B per entry, with W entries in flight, over one connection.
 * usage: mg_bench_raw --port P [-s 1024] [-b 100] [-n 1000000] [-w 64] [--topic T] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "proto/frame.h"

static int fd;
static mg_buf_t in;

static void die(const char *m)
{
    fprintf(stderr, "mg_bench_raw: %s\n", m);
    exit(1);
}

static void send_all(const void *p, size_t n)
{
    const uint8_t *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) die("write failed");
        s += w;
        n -= (size_t)w;
    }
}

static void send_cmd(pb_cmd_t *c)
{
    mg_buf_t b;
    buf_init(&b);
    frame_write_cmd(&b, c);
    send_all(b.data, b.len);
    buf_free(&b);
}

/* Next frame (blocking); returns its command, valid until the next call. */
static pb_cmd_t *next_frame(void)
{
    static frame_t f;
    static size_t last;
    frame_release(&f);
    buf_consume(&in, last);
    last = 0;
    for (;;) {
        char err[100];
        ssize_t n = frame_decode(buf_head(&in), buf_readable(&in), 64u << 20, &f, err, sizeof err);
        if (n < 0) die(err);
        if (n > 0) {
            last = (size_t)n;
            return f.cmd;
        }
        buf_reserve(&in, 65536);
        ssize_t r = read(fd, in.data + in.len, in.cap - in.len);
        if (r <= 0) die("connection closed");
        in.len += (size_t)r;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int port = 6650, size = 1024, batch = 100, window = 64;
    long total = 1000000;
    const char *topic = "persistent://public/default/bench-raw";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-b") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) total = atol(argv[++i]);
        else if (!strcmp(argv[i], "-w") && i + 1 < argc) window = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--topic") && i + 1 < argc) topic = argv[++i];
        else die("usage: mg_bench_raw --port P [-s size] [-b batch] [-n msgs] [-w window] [--topic T]");
    }
    if (batch < 1) batch = 1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) die("connect failed");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_init(&in);

    Pulsar__Proto__BaseCommand c = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandConnect cc = PULSAR__PROTO__COMMAND_CONNECT__INIT;
    c.type = PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECT;
    c.connect = &cc;
    cc.client_version = "mg_bench_raw";
    cc.has_protocol_version = 1;
    cc.protocol_version = 20;
    send_cmd(&c);
    if (next_frame()->type != PULSAR__PROTO__BASE_COMMAND__TYPE__CONNECTED) die("no CONNECTED");
    Pulsar__Proto__CommandProducer pc = PULSAR__PROTO__COMMAND_PRODUCER__INIT;
    c = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
    c.type = PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER;
    c.producer = &pc;
    pc.topic = (char *)topic;
    pc.producer_id = 1;
    pc.request_id = 1;
    send_cmd(&c);
    pb_cmd_t *r = next_frame();
    if (r->type != PULSAR__PROTO__BASE_COMMAND__TYPE__PRODUCER_SUCCESS) die("producer refused");
    char pname[128];
    snprintf(pname, sizeof pname, "%s", r->producer_success->producer_name);

    /* one batch payload: B x ([u32][SingleMessageMetadata][S bytes]) */
    mg_buf_t payload;
    buf_init(&payload);
    char *body = malloc((size_t)size);
    memset(body, 'm', (size_t)size);
    for (int i = 0; i < batch; i++) {
        Pulsar__Proto__SingleMessageMetadata sm = PULSAR__PROTO__SINGLE_MESSAGE_METADATA__INIT;
        sm.payload_size = size;
        size_t ss = pulsar__proto__single_message_metadata__get_packed_size(&sm);
        buf_append_u32be(&payload, (uint32_t)ss);
        buf_reserve(&payload, ss);
        pulsar__proto__single_message_metadata__pack(&sm, payload.data + payload.len);
        payload.len += ss;
        buf_append(&payload, body, (size_t)size);
    }
    long entries = (total + batch - 1) / batch;
    uint64_t *sent_at = calloc((size_t)entries, sizeof *sent_at);
    uint64_t *lat = calloc((size_t)entries, sizeof *lat);
    long next = 0, done = 0;
    mg_buf_t out;
    buf_init(&out);
    uint64_t t0 = mg_mono_us();
    while (done < entries) {
        while (next < entries && next - done < window) {
            Pulsar__Proto__MessageMetadata md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
            md.producer_name = pname;
            md.sequence_id = (uint64_t)next;
            md.publish_time = mg_now_ms();
            md.has_num_messages_in_batch = 1;
            md.num_messages_in_batch = batch;
            mg_buf_t e;
            buf_init(&e);
            entry_encode(&e, &md, payload.data, payload.len);
            Pulsar__Proto__CommandSend sd = PULSAR__PROTO__COMMAND_SEND__INIT;
            c = (Pulsar__Proto__BaseCommand)PULSAR__PROTO__BASE_COMMAND__INIT;
            c.type = PULSAR__PROTO__BASE_COMMAND__TYPE__SEND;
            c.send = &sd;
            sd.producer_id = 1;
            sd.sequence_id = (uint64_t)next;
            sd.has_num_messages = 1;
            sd.num_messages = batch;
            buf_reset(&out);
            frame_write_cmd_head(&out, &c, e.len);
            buf_append(&out, e.data, e.len);
            sent_at[next] = mg_mono_us();
            send_all(out.data, out.len);
            buf_free(&e);
            next++;
        }
        r = next_frame();
        if (r->type == PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_RECEIPT) {
            long seq = (long)r->send_receipt->sequence_id;
            lat[done++] = mg_mono_us() - sent_at[seq];
        } else if (r->type == PULSAR__PROTO__BASE_COMMAND__TYPE__SEND_ERROR) {
            die(r->send_error->message);
        }
    }
    double secs = (double)(mg_mono_us() - t0) / 1e6;
    qsort(lat, (size_t)entries, sizeof *lat, cmp_u64);
    double msgs = (double)entries * batch;
    printf("messages=%.0f size=%d batch=%d window=%d seconds=%.3f msgs_per_s=%.0f MB_per_s=%.1f "
           "receipt_p50_ms=%.3f receipt_p99_ms=%.3f receipt_p999_ms=%.3f\n",
           msgs, size, batch, window, secs, msgs / secs, msgs * size / secs / 1048576.0,
           lat[entries / 2] / 1000.0, lat[entries * 99 / 100] / 1000.0,
           lat[entries * 999 / 1000] / 1000.0);
    return 0;
}
