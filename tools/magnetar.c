/* magnetar.c - the broker binary: `magnetar standalone [-c broker.conf] [--data-dir DIR]`.
 * Loads the configuration (file, then environment overrides), starts the broker and stops it
 * cleanly on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"

static broker_t *g_broker;

static void on_signal(int sig)
{
    if (g_broker) broker_request_stop(g_broker);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: magnetar standalone [-c|--config broker.conf] [--data-dir DIR]\n"
               "                           [--port N] [--web-port N]\n"
               "       magnetar --version\n"
               "Config keys use Pulsar's names (brokerServicePort, webServicePort, clusterName,\n"
               "advertisedAddress, maxMessageSize, brokerDeduplicationEnabled, journalSyncData,\n"
               "...); an environment variable with the same name overrides the file.\n");
}

int main(int argc, char **argv)
{
    mg_log_init();
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        printf("magnetar %s\n", MG_VERSION);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "standalone")) {
        usage(argc < 2 ? stdout : stderr);
        return argc < 2 ? 0 : 2;
    }
    const char *conf = NULL, *data_dir = NULL, *port = NULL, *web_port = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && next) conf = argv[++i];
        else if (!strcmp(a, "--data-dir") && next) data_dir = argv[++i];
        else if (!strcmp(a, "--port") && next) port = argv[++i];
        else if (!strcmp(a, "--web-port") && next) web_port = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "magnetar: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    static mg_config_t cfg;
    char err[512];
    config_defaults(&cfg);
    if (config_load(&cfg, conf, err, sizeof err)) {
        fprintf(stderr, "magnetar: %s\n", err);
        return 1;
    }
    if (data_dir) snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data_dir);
    if (port && config_set(&cfg, "brokerServicePort", port)) {
        fprintf(stderr, "magnetar: bad --port '%s'\n", port);
        return 2;
    }
    if (web_port && config_set(&cfg, "webServicePort", web_port)) {
        fprintf(stderr, "magnetar: bad --web-port '%s'\n", web_port);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    broker_t *b = broker_new(&cfg, err, sizeof err);
    if (!b) {
        fprintf(stderr, "magnetar: cannot start: %s\n", err);
        return 1;
    }
    g_broker = b;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int rc = broker_run(b);
    g_broker = NULL;
    broker_free(b);
    return rc;
}
