/* partner_registration_producer - the partner-management service's publisher from the seed
 * (PulsarEventPublisher): PartnerRegistrationCompleted events, Avro-encoded with the registered
 * schema, to hexabuilders/partner-management/partner-registration (4 partitions), keyed by
 * partner id so that one partner's events stay on one partition and in order.
 *
 * Producer settings as the seed's create_producer: batching on with batches of up to 32
 * messages, up to 1000 pending messages, 30 s send timeout, LZ4, round-robin routing for
 * keyless messages (keyed ones are hashed to a partition as Pulsar's Java client does).
 * Each event carries the seed's properties (correlation_id, event_type, source_service,
 * event_version) and its event time.
 *
 *   hexabuilders-partner-registration-producer [--url pulsar://localhost:6650] [--count 10]
 *       [--poison 1] [--topic TOPIC]
 *
 * --poison N adds N events the notifications service cannot handle (an e-mail address without
 * '@'), to show its negative acks and dead-letter topic. Prints one line per event with its
 * message id, then "produced N events (P poison) ..." and exits 0 when every send was
 * acknowledged by the broker. */
#include <avro.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "hexabuilders.h"
#include "magnetar/magnetar.h"

typedef struct sent {
    char partner_id[32];
    mg_result result;
    char id[96];
} sent_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Send callback, on libmagnetar's I/O thread: record the outcome. */
static void on_sent(mg_result r, const mg_message_id_t *id, void *ctx)
{
    sent_t *s = ctx;
    pthread_mutex_lock(&lock);
    s->result = r;
    if (id) mg_message_id_str(id, s->id, sizeof s->id);
    pthread_mutex_unlock(&lock);
}

static int set_str(avro_value_t *rec, const char *field, const char *v)
{
    avro_value_t f;
    if (avro_value_get_by_name(rec, field, &f, NULL)) return -1;
    return avro_value_set_string(&f, v);
}

static void iso_now(char *out, size_t n)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", b, (int)(tv.tv_usec / 1000));
}

int main(int argc, char **argv)
{
    const char *url = hb_default_url(), *topic = HB_PARTNER_REGISTRATION_TOPIC, *v;
    int count = 10, poison = 1;
    auth_opts_t auth = {0}; /* or $MAGNETAR_AUTH_PARAMS */
    for (int i = 1; i < argc; i++) {
        if ((v = hb_opt(argc, argv, &i, "--url"))) url = v;
        else if ((v = hb_opt(argc, argv, &i, "--count"))) count = atoi(v);
        else if ((v = hb_opt(argc, argv, &i, "--poison"))) poison = atoi(v);
        else if ((v = hb_opt(argc, argv, &i, "--topic"))) topic = v;
        else if (auth_opts_take(&auth, argc, argv, &i) > 0) continue;
        else {
            fprintf(stderr, "usage: %s [--url URL] [--auth-params token:JWT|file:///path] [--count N] [--poison N] [--topic TOPIC]\n", argv[0]);
            return 2;
        }
    }
    if (count < 0 || poison < 0) return 2;

    mg_client_conf_t cc;
    mg_client_conf_init(&cc);
    cc.connection_timeout_ms = 5000; /* the seed's client settings */
    cc.operation_timeout_ms = 30000;
    if (hb_auth(&auth, &cc)) return 2;
    mg_client_t *cl;
    mg_result r = mg_client_create(url, &cc, &cl);
    auth_opts_free(&auth); /* the client copied the token */
    if (r) {
        fprintf(stderr, "client %s: %s\n", url, mg_strerror(r));
        return 1;
    }
    mg_schema_t *schema;
    if ((r = mg_schema_avro(HB_PARTNER_REGISTRATION_SCHEMA, &schema))) {
        fprintf(stderr, "schema: %s\n", mg_strerror(r));
        mg_client_close(cl);
        return 1;
    }
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.name = NULL;                 /* the broker names it */
    pc.batching_enabled = true;     /* batching_enabled=True */
    pc.batching_max_messages = 32;  /* batch_size=32 */
    pc.max_pending_messages = 1000; /* max_pending_messages=1000 */
    pc.block_if_queue_full = true;
    pc.send_timeout_ms = 30000;     /* send_timeout_ms=30000 */
    pc.compression = MG_COMPRESSION_LZ4;
    pc.routing_mode = MG_ROUTING_ROUND_ROBIN;
    mg_producer_t *p;
    r = mg_producer_create_with_schema(cl, topic, &pc, schema, &p);
    if (r) {
        fprintf(stderr, "producer on %s: %s %s\n", topic, mg_strerror(r), mg_last_error_message());
        mg_schema_free(schema);
        mg_client_close(cl);
        return 1;
    }
    printf("producer %s on %s: Avro schema version %lld, batching 32, LZ4\n", mg_producer_name(p), topic,
           (long long)mg_producer_schema_version(p));

    int total = count + poison, failed = 0;
    sent_t *sent = calloc((size_t)(total ? total : 1), sizeof *sent);
    static const char *types[] = {"CONTRACTOR", "SUPPLIER", "CONSULTANT"};
    for (int i = 0; i < total && sent; i++) {
        bool bad = i >= count; /* the poison events come last */
        char pid[32], name[64], email[96], data[160], ts[40], corr[48];
        snprintf(pid, sizeof pid, "partner-%04d", i + 1);
        snprintf(name, sizeof name, "%s Builders %d", bad ? "Broken" : "Hexa", i + 1);
        snprintf(email, sizeof email, bad ? "partner-%04d.example.com" : "partner-%04d@example.com", i + 1);
        snprintf(data, sizeof data, "{\"country\":\"CO\",\"employees\":%d,\"source\":\"web\"}", 5 + i * 3);
        snprintf(corr, sizeof corr, "corr-%08x-%04d", (unsigned)time(NULL), i + 1);
        iso_now(ts, sizeof ts);
        avro_value_t rec, f;
        if (mg_avro_value_new(schema, &rec)) {
            failed++;
            continue;
        }
        set_str(&rec, "partner_id", pid);
        set_str(&rec, "business_name", name);
        set_str(&rec, "email", email);
        set_str(&rec, "partner_type", types[i % 3]);
        set_str(&rec, "registration_data", data);
        set_str(&rec, "registration_timestamp", ts);
        set_str(&rec, "correlation_id", corr);
        if (!avro_value_get_by_name(&rec, "event_version", &f, NULL)) avro_value_set_int(&f, 1);
        mg_message_t *m = NULL;
        r = mg_message_new_avro(&rec, &m);
        avro_value_decref(&rec);
        if (r) {
            fprintf(stderr, "encode %s: %s\n", pid, mg_strerror(r));
            failed++;
            continue;
        }
        mg_message_set_key(m, pid); /* partner id: one partition per partner */
        struct timeval tv;
        gettimeofday(&tv, NULL);
        mg_message_set_event_time(m, (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000);
        mg_message_set_property(m, "correlation_id", corr);
        mg_message_set_property(m, "event_type", "PartnerRegistrationCompleted");
        mg_message_set_property(m, "source_service", "partner-management");
        mg_message_set_property(m, "event_version", "1");
        snprintf(sent[i].partner_id, sizeof sent[i].partner_id, "%s", pid);
        sent[i].result = 1; /* pending */
        r = mg_producer_send_async(p, m, on_sent, &sent[i]);
        mg_message_free(m);
        if (r) {
            fprintf(stderr, "send %s: %s\n", pid, mg_strerror(r));
            sent[i].result = r;
        }
    }
    r = mg_producer_flush(p); /* the open batch goes out; every receipt is in */
    if (r) fprintf(stderr, "flush: %s\n", mg_strerror(r));
    int ok = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < total && sent; i++) {
        if (sent[i].result == MG_OK) {
            ok++;
            printf("produced PartnerRegistrationCompleted partner_id=%s key=%s id=%s%s\n", sent[i].partner_id,
                   sent[i].partner_id, sent[i].id, i >= count ? " (poison: e-mail without '@')" : "");
        } else if (sent[i].partner_id[0]) {
            failed++;
            printf("FAILED partner_id=%s: %s\n", sent[i].partner_id,
                   sent[i].result > 0 ? "no receipt" : mg_strerror(sent[i].result));
        }
    }
    pthread_mutex_unlock(&lock);
    printf("produced %d events (%d poison) to %s, %d failed\n", ok, ok > count ? ok - count : 0, topic, failed);
    mg_producer_close(p);
    mg_schema_free(schema);
    mg_client_close(cl);
    free(sent);
    return failed || !sent ? 1 : 0;
}
