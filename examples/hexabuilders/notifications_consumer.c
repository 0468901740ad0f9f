/* notifications_consumer - the notifications service's consumer from the seed
 * (PulsarEventConsumer): it welcomes every newly registered partner by reading
 * PartnerRegistrationCompleted events from hexabuilders/partner-management/partner-registration.
 *
 * Consumer settings as the seed's create_consumer: subscription
 * "notifications-partner-registration" (f"{service_name}-{subscription_name}"), Shared, from the
 * earliest message, the Avro schema declared, ack timeout 30 s, negative-ack redelivery after
 * 1 s, at most 3 redeliveries and then the dead-letter topic
 * f"{topic}-notifications-dlq", and batch receive of up to 10 messages (timeout 5 s; shorter
 * with --batch-timeout-ms for demos). A handler failure is negatively acknowledged, as the
 * seed's start_consuming does; an event whose e-mail address has no '@' always fails, so it is
 * delivered 4 times (redelivery count 0..3) and then lands in the dead-letter topic, which this
 * program also watches (subscription "notifications-dlq-monitor") to report it.
 *
 *   hexabuilders-notifications-consumer [--url pulsar://localhost:6650] [--expect N]
 *       [--expect-dead M] [--timeout SECONDS] [--batch-timeout-ms MS]
 *
 * With --expect / --expect-dead it exits 0 once N partners were notified and M events reached
 * the dead-letter topic (1 after --timeout, default 60 s); without them it runs until SIGINT. */
#include <avro.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hexabuilders.h"
#include "magnetar/magnetar.h"

#define MAX_REDELIVER 3

static volatile sig_atomic_t stop;
static void on_sig(int s) { stop = 1; }

/* Writer schemas by version (the producer may have registered a newer one). */
typedef struct schema_cache {
    int64_t version[8];
    mg_schema_t *schema[8];
    int n;
} schema_cache_t;

static mg_schema_t *writer_schema(mg_client_t *cl, schema_cache_t *sc, int64_t version)
{
    for (int i = 0; i < sc->n; i++)
        if (sc->version[i] == version) return sc->schema[i];
    mg_schema_t *s = NULL;
    if (mg_client_get_schema(cl, HB_PARTNER_REGISTRATION_TOPIC, version, &s)) return NULL;
    if (sc->n == 8) {
        mg_schema_free(sc->schema[0]);
        memmove(&sc->version[0], &sc->version[1], 7 * sizeof sc->version[0]);
        memmove(&sc->schema[0], &sc->schema[1], 7 * sizeof sc->schema[0]);
        sc->n--;
    }
    sc->version[sc->n] = version;
    sc->schema[sc->n++] = s;
    return s;
}

static void get_str(avro_value_t *rec, const char *field, char *out, size_t n)
{
    avro_value_t f;
    const char *s = NULL;
    size_t len = 0;
    out[0] = 0;
    if (!avro_value_get_by_name(rec, field, &f, NULL) && !avro_value_get_string(&f, &s, &len) && s)
        snprintf(out, n, "%s", s);
}

typedef struct partner {
    char id[64], name[128], email[128], type[32];
} partner_t;

static int decode(mg_client_t *cl, schema_cache_t *sc, const mg_message_t *m, partner_t *p)
{
    mg_schema_t *w = writer_schema(cl, sc, mg_message_schema_version(m));
    avro_value_t rec;
    if (!w || mg_message_get_avro(m, w, NULL, &rec)) return -1;
    get_str(&rec, "partner_id", p->id, sizeof p->id);
    get_str(&rec, "business_name", p->name, sizeof p->name);
    get_str(&rec, "email", p->email, sizeof p->email);
    get_str(&rec, "partner_type", p->type, sizeof p->type);
    avro_value_decref(&rec);
    return 0;
}

/* The event handler: "send" the welcome e-mail. Fails for an address without '@'. */
static int notify_partner(const partner_t *p)
{
    if (!strchr(p->email, '@')) return -1;
    printf("notified partner_id=%s (%s, %s): welcome e-mail to %s\n", p->id, p->name, p->type, p->email);
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = hb_default_url(), *v;
    int expect = -1, expect_dead = -1, timeout_s = 60, batch_timeout_ms = 5000;
    auth_opts_t auth = {0}; /* or $MAGNETAR_AUTH_PARAMS */
    for (int i = 1; i < argc; i++) {
        if ((v = hb_opt(argc, argv, &i, "--url"))) url = v;
        else if ((v = hb_opt(argc, argv, &i, "--expect"))) expect = atoi(v);
        else if ((v = hb_opt(argc, argv, &i, "--expect-dead"))) expect_dead = atoi(v);
        else if ((v = hb_opt(argc, argv, &i, "--timeout"))) timeout_s = atoi(v);
        else if ((v = hb_opt(argc, argv, &i, "--batch-timeout-ms"))) batch_timeout_ms = atoi(v);
        else if (auth_opts_take(&auth, argc, argv, &i) > 0) continue;
        else {
            fprintf(stderr, "usage: %s [--url URL] [--auth-params token:JWT|file:///path] [--expect N] [--expect-dead M] [--timeout S] "
                            "[--batch-timeout-ms MS]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    mg_client_conf_t ccf;
    mg_client_conf_init(&ccf);
    if (hb_auth(&auth, &ccf)) return 2;
    mg_client_t *cl;
    mg_result r = mg_client_create(url, &ccf, &cl);
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
    mg_consumer_conf_t cc;
    mg_consumer_conf_init(&cc);
    cc.type = MG_SUB_SHARED;                    /* consumer_type=Shared */
    cc.initial_position = MG_POS_EARLIEST;      /* subscription_initial_position=Earliest */
    cc.ack_timeout_ms = 30000;                  /* ack_timeout_ms=30000 */
    cc.nack_redelivery_delay_ms = 1000;         /* negative_ack_redelivery_delay_ms=1000 */
    cc.max_redeliver_count = MAX_REDELIVER;     /* max_redeliver_count=3 */
    cc.dead_letter_topic = HB_NOTIFICATIONS_DLQ; /* f"{topic}-{service_name}-dlq" */
    cc.batch_max_messages = 10;                 /* BatchReceivePolicy(max_num_messages=10, */
    cc.batch_timeout_ms = batch_timeout_ms;     /*                    timeout_ms=5000) */
    cc.consumer_name = "notifications-1";
    cc.batch_index_ack_enabled = true; /* acked members of a nacked batch are not redelivered */
    mg_consumer_t *c = NULL, *dlq = NULL;
    r = mg_consumer_subscribe_with_schema(cl, HB_PARTNER_REGISTRATION_TOPIC, HB_NOTIFICATIONS_SUBSCRIPTION, &cc,
                                          schema, &c);
    if (r) {
        fprintf(stderr, "subscribe %s: %s %s\n", HB_PARTNER_REGISTRATION_TOPIC, mg_strerror(r), mg_last_error_message());
        goto out;
    }
    /* watch the dead-letter topic (what an operator's DLQ alerting would do) */
    mg_consumer_conf_t dc;
    mg_consumer_conf_init(&dc);
    dc.initial_position = MG_POS_EARLIEST;
    r = mg_consumer_subscribe(cl, HB_NOTIFICATIONS_DLQ, "notifications-dlq-monitor", &dc, &dlq);
    if (r) {
        fprintf(stderr, "subscribe %s: %s\n", HB_NOTIFICATIONS_DLQ, mg_strerror(r));
        goto out;
    }
    printf("subscribed %s to %s (Shared, max %d redeliveries, DLQ %s)\n", HB_NOTIFICATIONS_SUBSCRIPTION,
           HB_PARTNER_REGISTRATION_TOPIC, MAX_REDELIVER, HB_NOTIFICATIONS_DLQ);
    fflush(stdout);

    schema_cache_t sc = {0};
    int notified = 0, nacks = 0, dead = 0;
    time_t end = time(NULL) + timeout_s;
    bool bounded = expect >= 0 || expect_dead >= 0;
    while (!stop) {
        if (bounded && notified >= (expect < 0 ? 0 : expect) && dead >= (expect_dead < 0 ? 0 : expect_dead)) break;
        if (bounded && time(NULL) >= end) {
            fprintf(stderr, "timed out: %d notified (want %d), %d dead-lettered (want %d)\n", notified, expect,
                    dead, expect_dead);
            r = MG_ERR_TIMEOUT;
            break;
        }
        mg_message_t **msgs;
        size_t n;
        if ((r = mg_consumer_batch_receive(c, &msgs, &n))) break;
        for (size_t i = 0; i < n; i++) {
            mg_message_t *m = msgs[i];
            partner_t p;
            uint32_t rc = mg_message_redelivery_count(m);
            if (decode(cl, &sc, m, &p)) {
                printf("cannot decode event %zu bytes (schema version %lld): negative ack\n", mg_message_len(m),
                       (long long)mg_message_schema_version(m));
                mg_consumer_nack(c, m);
                nacks++;
            } else if (notify_partner(&p) == 0) {
                mg_consumer_ack(c, m);
                notified++;
            } else {
                printf("notification failed for partner_id=%s: invalid e-mail '%s' (redelivery count %u): "
                       "negative ack%s\n", p.id, p.email, rc,
                       rc >= MAX_REDELIVER ? " -> dead-letter topic" : ", redelivered in 1 s");
                mg_consumer_nack(c, m);
                nacks++;
            }
        }
        fflush(stdout);
        mg_messages_free(msgs, n);
        /* what reached the dead-letter topic */
        mg_message_t *m;
        while (mg_consumer_receive(dlq, &m, 0) == MG_OK) {
            partner_t p = {{0}};
            decode(cl, &sc, m, &p);
            const char *real = mg_message_property(m, "REAL_TOPIC"), *origin = mg_message_property(m, "ORIGIN_MESSAGE_ID");
            printf("dead-lettered partner_id=%s to %s (REAL_TOPIC=%s ORIGIN_MESSAGE_ID=%s correlation_id=%s)\n",
                   p.id[0] ? p.id : "?", HB_NOTIFICATIONS_DLQ, real ? real : "?", origin ? origin : "?",
                   mg_message_property(m, "correlation_id") ? mg_message_property(m, "correlation_id") : "?");
            mg_consumer_ack(dlq, m);
            mg_message_free(m);
            dead++;
        }
        fflush(stdout);
    }
    printf("notifications: %d partners notified, %d negative acks, %d events dead-lettered\n", notified, nacks, dead);
    for (int i = 0; i < sc.n; i++) mg_schema_free(sc.schema[i]);
out:
    if (dlq) mg_consumer_close(dlq);
    if (c) mg_consumer_close(c);
    mg_schema_free(schema);
    mg_client_close(cl);
    return r ? 1 : 0;
}
