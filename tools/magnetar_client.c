/* magnetar-client - produce and consume from the command line, with the grammar of Pulsar's
 * pulsar-client:
 *   magnetar-client [--url URL] produce TOPIC -m MSG [-m MSG2|-m a,b] [-n N] [-k KEY]
 *                   [-p k=v ...] [-z|--compression lz4|zlib|zstd|snappy|none] [-r RATE] [-c]
 *   magnetar-client [--url URL] consume TOPIC -s SUB [-n N] [-t Exclusive|Shared|Failover|Key_Shared]
 *                   [-p Earliest|Latest] [--regex] [--hex]
 * Authentication and TLS as pulsar-client's global options (before or after the command):
 *   --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationToken
 *   --auth-params token:<jwt> | file:///path/to/token   (auth_opts.h)
 *   --url pulsar+ssl://host:6651 --tls-trust-cert-path ca.pem [--tls-allow-insecure]
 *   [--tls-enable-hostname-verification] [--auth-plugin ...AuthenticationTls
 *   --auth-params tlsCertFile:/path,tlsKeyFile:/path]
 * consume prints each message as pulsar-client does ("----- got message -----" then
 * "key:[K], properties:[a=b], content:...") and exits 0 after N messages (0 = forever). */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth_opts.h"
#include "magnetar/magnetar.h"

static volatile sig_atomic_t stop;
/* First SIGINT/SIGTERM: stop after the current message (a send blocked on a reconnect may take
 * a while, so exit anyway after 5 s); a second one exits at once. */
static void on_alarm(int s) { _exit(130); }
static void on_sig(int s)
{
    if (stop) _exit(130);
    stop = 1;
    signal(SIGALRM, on_alarm);
    alarm(5);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: magnetar-client [--url pulsar://host:port] [--auth-plugin PLUGIN --auth-params PARAMS]\n"
            "       magnetar-client [--url pulsar://host:port] produce TOPIC -m MSG [-n N] [-k KEY]\n"
            "                       [-p key=value] [-z lz4|zlib|zstd|snappy|none] [-r RATE] [-c]\n"
            "       magnetar-client [--url pulsar://host:port] consume TOPIC -s SUB [-n N]\n"
            "                       [-t Exclusive|Shared|Failover|Key_Shared] [-p Earliest|Latest]\n"
            "                       [--regex] [--hex] [-r RATE]\n"
            "       auth: --auth-plugin " AUTH_PLUGIN_TOKEN "\n"
            "             --auth-params token:<jwt> | file:///path/to/token-file\n"
            "          or --auth-plugin " AUTH_PLUGIN_TLS "\n"
            "             --auth-params tlsCertFile:/path/cert.pem,tlsKeyFile:/path/key.pem\n"
            "       TLS (--url pulsar+ssl://host:6651): --tls-trust-cert-path CA.pem\n"
            "             [--tls-allow-insecure] [--tls-enable-hostname-verification]\n");
}

static int parse_compression(const char *s, mg_compression *out)
{
    static const char *names[] = {"none", "lz4", "zlib", "zstd", "snappy"};
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(s, names[i])) {
            *out = (mg_compression)i;
            return 0;
        }
    return -1;
}

static void sleep_rate(double rate, int i, struct timespec *start)
{
    if (rate <= 0) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
    double due = (double)i / rate;
    if (due > el) usleep((useconds_t)((due - el) * 1e6));
}

static int cmd_produce(mg_client_t *cl, int argc, char **argv)
{
    static struct option lo[] = {{"messages", required_argument, 0, 'm'},
                                 {"num-produce", required_argument, 0, 'n'},
                                 {"key", required_argument, 0, 'k'},
                                 {"property", required_argument, 0, 'p'},
                                 {"compression", required_argument, 0, 'z'},
                                 {"rate", required_argument, 0, 'r'},
                                 {"chunking", no_argument, 0, 'c'},
                                 {"disable-batching", no_argument, 0, 'B'},
                                 {0, 0, 0, 0}};
    char *msgs[256];
    int nmsgs = 0, n = 1;
    const char *key = NULL;
    char *props[128];
    int nprops = 0;
    double rate = 0;
    mg_producer_conf_t pc;
    mg_producer_conf_init(&pc);
    pc.batching_enabled = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:n:k:p:z:r:c", lo, NULL)) != -1) {
        switch (o) {
        case 'm': {
            char *s = strdup(optarg), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t && nmsgs < 256; t = strtok_r(NULL, ",", &save))
                msgs[nmsgs++] = strdup(t);
            free(s);
            break;
        }
        case 'n': n = atoi(optarg); break;
        case 'k': key = optarg; break;
        case 'p':
            if (!strchr(optarg, '=') || nprops >= 128) {
                fprintf(stderr, "bad property '%s' (want key=value)\n", optarg);
                return 1;
            }
            props[nprops++] = optarg;
            break;
        case 'z':
            if (parse_compression(optarg, &pc.compression)) {
                fprintf(stderr, "unknown compression '%s'\n", optarg);
                return 1;
            }
            break;
        case 'r': rate = atof(optarg); break;
        case 'c': pc.chunking_enabled = true; break;
        case 'B': break;
        default: usage(); return 1;
        }
    }
    if (optind >= argc || !nmsgs) {
        usage();
        return 1;
    }
    const char *topic = argv[optind];
    mg_producer_t *p;
    mg_result r = mg_producer_create(cl, topic, &pc, &p);
    if (r) {
        char what[1100];
        snprintf(what, sizeof what, "cannot create producer on %s", topic);
        tool_print_error(what, r);
        for (int j = 0; j < nmsgs; j++) free(msgs[j]);
        return 1;
    }
    int sent = 0, rc = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < n && !stop && !rc; i++)
        for (int j = 0; j < nmsgs && !stop; j++) {
            sleep_rate(rate, sent, &start);
            mg_message_t *m = mg_message_new(msgs[j], strlen(msgs[j]));
            if (key) mg_message_set_key(m, key);
            for (int k = 0; k < nprops; k++) {
                char *eq = strchr(props[k], '=');
                *eq = 0;
                mg_message_set_property(m, props[k], eq + 1);
                *eq = '=';
            }
            r = mg_producer_send(p, m, NULL);
            mg_message_free(m);
            if (r) {
                tool_print_error("send failed", r);
                rc = 1;
                break;
            }
            sent++;
        }
    mg_producer_close(p);
    for (int j = 0; j < nmsgs; j++) free(msgs[j]);
    printf("%d messages successfully produced\n", sent);
    return rc;
}

static int parse_sub_type(const char *s, mg_sub_type *t)
{
    static const char *names[] = {"Exclusive", "Shared", "Failover", "Key_Shared"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, names[i])) {
            *t = (mg_sub_type)i;
            return 0;
        }
    return -1;
}

static void print_message(const mg_message_t *m, bool hex)
{
    printf("----- got message -----\n");
    const char *key = mg_message_key(m);
    printf("key:[%s], ", key ? key : "null");
    size_t np = mg_message_property_count(m);
    if (np) {
        printf("properties:[");
        for (size_t i = 0; i < np; i++) {
            const char *k, *v;
            mg_message_property_at(m, i, &k, &v);
            printf("%s%s=%s", i ? ", " : "", k, v);
        }
        printf("], ");
    }
    printf("content:");
    const unsigned char *d = mg_message_data(m);
    size_t len = mg_message_len(m);
    if (hex) {
        for (size_t i = 0; i < len; i++) printf("%02x", d[i]);
    } else {
        fwrite(d, 1, len, stdout);
    }
    printf("\n");
    fflush(stdout);
}

static int cmd_consume(mg_client_t *cl, int argc, char **argv)
{
    static struct option lo[] = {{"subscription-name", required_argument, 0, 's'},
                                 {"num-messages", required_argument, 0, 'n'},
                                 {"subscription-type", required_argument, 0, 't'},
                                 {"subscription-position", required_argument, 0, 'p'},
                                 {"rate", required_argument, 0, 'r'},
                                 {"regex", no_argument, 0, 'R'},
                                 {"hex", no_argument, 0, 'H'},
                                 {0, 0, 0, 0}};
    const char *sub = NULL;
    int n = 1;
    bool regex = false, hex = false;
    double rate = 0;
    mg_consumer_conf_t cc;
    mg_consumer_conf_init(&cc);
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "s:n:t:p:r:", lo, NULL)) != -1) {
        switch (o) {
        case 's': sub = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 't':
            if (parse_sub_type(optarg, &cc.type)) {
                fprintf(stderr, "unknown subscription type '%s'\n", optarg);
                return 1;
            }
            break;
        case 'p':
            if (!strcasecmp(optarg, "Earliest")) cc.initial_position = MG_POS_EARLIEST;
            else if (!strcasecmp(optarg, "Latest")) cc.initial_position = MG_POS_LATEST;
            else {
                fprintf(stderr, "unknown subscription position '%s'\n", optarg);
                return 1;
            }
            break;
        case 'r': rate = atof(optarg); break;
        case 'R': regex = true; break;
        case 'H': hex = true; break;
        default: usage(); return 1;
        }
    }
    if (optind >= argc || !sub) {
        usage();
        return 1;
    }
    const char *topic = argv[optind];
    mg_consumer_t *c;
    mg_result r = regex ? mg_consumer_subscribe_pattern(cl, topic, sub, &cc, &c)
                        : mg_consumer_subscribe(cl, topic, sub, &cc, &c);
    if (r) {
        char what[1100];
        snprintf(what, sizeof what, "cannot subscribe to %s", topic);
        tool_print_error(what, r);
        return 1;
    }
    int got = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!stop && (n <= 0 || got < n)) {
        mg_message_t *m;
        r = mg_consumer_receive(c, &m, 200);
        if (r == MG_ERR_TIMEOUT) continue;
        if (r) {
            fprintf(stderr, "receive failed: %s\n", mg_strerror(r));
            break;
        }
        print_message(m, hex);
        mg_consumer_ack(c, m);
        mg_message_free(m);
        got++;
        sleep_rate(rate, got, &start);
    }
    mg_consumer_close(c);
    fprintf(stderr, "%d messages successfully consumed\n", got);
    return r && r != MG_ERR_TIMEOUT ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *url = getenv("MAGNETAR_URL") ? getenv("MAGNETAR_URL") : "pulsar://localhost:6650";
    auth_opts_t auth = {0};
    int i = 1, t;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc) url = argv[++i];
        else if (!strncmp(argv[i], "--url=", 6)) url = argv[i] + 6;
        else if ((t = auth_opts_take(&auth, argc, argv, &i)) < 0) return 1;
        else if (!t) break;
    }
    if (i >= argc || (strcmp(argv[i], "produce") && strcmp(argv[i], "consume"))) {
        usage();
        return 1;
    }
    /* --url and the auth options may also follow the command */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int na = 0;
    for (int j = i; j < argc; j++) {
        if (!strcmp(argv[j], "--url") && j + 1 < argc) url = argv[++j];
        else if (!strncmp(argv[j], "--url=", 6)) url = argv[j] + 6;
        else if ((t = auth_opts_take(&auth, argc, argv, &j)) < 0) {
            free(args);
            return 1;
        } else if (!t) args[na++] = argv[j];
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGPIPE, SIG_IGN);
    mg_client_conf_t conf;
    mg_client_conf_init(&conf);
    conf.operation_timeout_ms = 10000;
    char err[600];
    int ar = auth_opts_apply(&auth, &conf, err, sizeof err);
    if (ar) {
        fprintf(stderr, "%s\n", err);
        if (ar == -1) usage();
        auth_opts_free(&auth);
        free(args);
        return 1;
    }
    mg_client_t *cl;
    mg_result r = mg_client_create(url, &conf, &cl);
    auth_opts_free(&auth); /* mg_client_create copied the token */
    if (r == MG_ERR_INVALID_URL) {
        fprintf(stderr, "bad service URL '%s': %s\n", url, mg_strerror(r));
        free(args);
        return 1;
    }
    if (r) { /* a TLS file that cannot be loaded */
        tool_print_error("cannot create client", r);
        free(args);
        return 1;
    }
    int rc = !strcmp(args[0], "produce") ? cmd_produce(cl, na, args) : cmd_consume(cl, na, args);
    mg_client_close(cl);
    free(args);
    return rc;
}
