/* magnetar.c - the broker binary: `magnetar standalone [-c broker.conf] [--data-dir DIR]`.
 * Loads the configuration (file, then environment overrides), starts the broker and stops it
 * cleanly on SIGTERM/SIGINT. `magnetar tokens ...` makes and reads the tokens of token
 * authentication, as `pulsar tokens` does (docs/security.md). */
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/auth.h"
#include "broker/broker.h"
#include "common/alloc.h"
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
               "       magnetar tokens create-secret-key [--output FILE] [--base64]\n"
               "       magnetar tokens create --secret-key file:///path|data:;base64,...|<base64>\n"
               "                              --subject ROLE [--expiry-time 30s|10m|2h|7d|1y]\n"
               "                              [--signature-algorithm HS256|HS384|HS512]\n"
               "       magnetar tokens show (-i TOKEN | -f FILE)\n"
               "       magnetar tokens validate --secret-key ... (-i TOKEN | -f FILE)\n"
               "       magnetar --version\n"
               "Config keys use Pulsar's names (brokerServicePort, webServicePort, clusterName,\n"
               "advertisedAddress, maxMessageSize, brokerDeduplicationEnabled, journalSyncData,\n"
               "...); an environment variable with the same name overrides the file.\n");
}

/* "30s", "10m", "2h", "7d", "1y" (Pulsar's --expiry-time units; a bare number is seconds):
 * seconds, or -1 when it does not parse. */
static int64_t parse_duration(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    int64_t unit = !*end               ? 1
                   : !strcmp(end, "s") ? 1
                   : !strcmp(end, "m") ? 60
                   : !strcmp(end, "h") ? 3600
                   : !strcmp(end, "d") ? 86400
                   : !strcmp(end, "w") ? 7 * 86400
                   : !strcmp(end, "y") ? 365 * 86400
                                       : -1;
    return unit < 0 ? -1 : v * unit;
}

/* The token from -i TOKEN or -f FILE (its first line), into buf. */
static const char *token_arg(const char *inline_tok, const char *file, char *buf, size_t cap)
{
    if (inline_tok) return inline_tok;
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f || !fgets(buf, (int)cap, f)) {
        if (f) fclose(f);
        fprintf(stderr, "magnetar tokens: %s\n",
                file ? "cannot read the token file" : "give -i TOKEN or -f FILE");
        return NULL;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = 0;
    return buf;
}

static int tokens_main(int argc, char **argv)
{
    const char *cmd = argc > 2 ? argv[2] : "";
    const char *out = NULL, *key = NULL, *subject = NULL, *expiry = NULL, *alg = "HS256";
    const char *tok = NULL, *file = NULL;
    bool b64 = false;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "--output") || !strcmp(a, "-o")) && next)
            out = argv[++i];
        else if (!strcmp(a, "--base64"))
            b64 = true;
        else if ((!strcmp(a, "--secret-key") || !strcmp(a, "-sk")) && next)
            key = argv[++i];
        else if ((!strcmp(a, "--subject") || !strcmp(a, "-s")) && next)
            subject = argv[++i];
        else if ((!strcmp(a, "--expiry-time") || !strcmp(a, "-e")) && next)
            expiry = argv[++i];
        else if ((!strcmp(a, "--signature-algorithm") || !strcmp(a, "-sa")) && next)
            alg = argv[++i];
        else if ((!strcmp(a, "-i") || !strcmp(a, "--token")) && next)
            tok = argv[++i];
        else if ((!strcmp(a, "-f") || !strcmp(a, "--token-file")) && next)
            file = argv[++i];
        else {
            fprintf(stderr, "magnetar tokens: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    char err[300], buf[16384];
    if (!strcmp(cmd, "create-secret-key")) {
        uint8_t k[32]; /* HS256's key size, as pulsar tokens create-secret-key */
        if (RAND_bytes(k, sizeof k) != 1) {
            fprintf(stderr, "magnetar tokens: no randomness\n");
            return 1;
        }
        char *enc = b64 ? auth_base64(k, sizeof k) : NULL;
        FILE *f = out ? fopen(out, "wb") : stdout;
        if (!f) {
            fprintf(stderr, "magnetar tokens: cannot write %s\n", out);
            return 1;
        }
        size_t n = enc ? fwrite(enc, 1, strlen(enc), f) : fwrite(k, 1, sizeof k, f);
        bool ok = n == (enc ? strlen(enc) : sizeof k);
        if (enc && f == stdout) fputc('\n', f);
        if (out) ok = fclose(f) == 0 && ok;
        mg_free(enc);
        return ok ? 0 : 1;
    }
    if (!strcmp(cmd, "create")) {
        if (!key || !subject) {
            fprintf(stderr, "magnetar tokens create: --secret-key and --subject are required\n");
            return 2;
        }
        int64_t exp = -1;
        if (expiry) {
            int64_t d = parse_duration(expiry);
            if (d < 0) {
                fprintf(stderr, "magnetar tokens create: bad --expiry-time '%s'\n", expiry);
                return 2;
            }
            exp = (int64_t)time(NULL) + d;
        }
        char *t = auth_token_create(key, alg, subject, exp, err, sizeof err);
        if (!t) {
            fprintf(stderr, "magnetar tokens create: %s\n", err);
            return 1;
        }
        printf("%s\n", t);
        mg_free(t);
        return 0;
    }
    if (!strcmp(cmd, "show")) {
        const char *t = token_arg(tok, file, buf, sizeof buf);
        if (!t) return 1;
        char *s = auth_token_show(t, strlen(t));
        if (!s) {
            fprintf(stderr, "magnetar tokens show: not a JWT\n");
            return 1;
        }
        printf("%s\n", s);
        mg_free(s);
        return 0;
    }
    if (!strcmp(cmd, "validate")) {
        const char *t = token_arg(tok, file, buf, sizeof buf);
        if (!t) return 1;
        if (!key) {
            fprintf(stderr, "magnetar tokens validate: --secret-key is required\n");
            return 2;
        }
        static mg_config_t cfg;
        config_defaults(&cfg);
        cfg.authentication_enabled = true;
        snprintf(cfg.authentication_providers, sizeof cfg.authentication_providers,
                 "AuthenticationProviderToken");
        snprintf(cfg.token_secret_key, sizeof cfg.token_secret_key, "%s", key);
        mg_auth_t *a = auth_new(&cfg, err, sizeof err);
        char role[256];
        if (!a || auth_token_role(a, t, strlen(t), (int64_t)time(NULL), role, sizeof role, err,
                                  sizeof err)) {
            fprintf(stderr, "magnetar tokens validate: invalid: %s\n", err);
            auth_free(a);
            return 1;
        }
        auth_free(a);
        printf("valid: subject %s\n", role);
        return 0;
    }
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    mg_log_init();
    if (argc >= 2 && !strcmp(argv[1], "tokens")) return tokens_main(argc, argv);
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
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && next)
            conf = argv[++i];
        else if (!strcmp(a, "--data-dir") && next)
            data_dir = argv[++i];
        else if (!strcmp(a, "--port") && next)
            port = argv[++i];
        else if (!strcmp(a, "--web-port") && next)
            web_port = argv[++i];
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
