/* topics.c - magnetar-admin topics commands (pulsar-admin topics grammar). */
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "PulsarApi.pb-c.h"
#include "admin/cli.h"

static void call_print(const char *method, const char *path, const char *body, bool print)
{
    json_t *r = cli_call(method, path, body);
    if (print) cli_print_json(r);
    else json_decref(r);
}

static void print_list(json_t *l)
{
    size_t i;
    json_t *e;
    json_array_foreach(l, i, e) printf("%s\n", json_string_value(e));
    json_decref(l);
}

/* "latest", "earliest" or "ledger:entry" -> MessageId JSON body */
static char *msgid_body(const char *m)
{
    char buf[128];
    if (!m || !strcmp(m, "latest"))
        snprintf(buf, sizeof buf, "{\"ledgerId\":9223372036854775807,\"entryId\":9223372036854775807,\"partitionIndex\":-1}");
    else if (!strcmp(m, "earliest"))
        snprintf(buf, sizeof buf, "{\"ledgerId\":-1,\"entryId\":-1,\"partitionIndex\":-1}");
    else {
        long long l, e;
        char extra;
        if (sscanf(m, "%lld:%lld%c", &l, &e, &extra) != 2) cli_fail("Invalid message id %s: expected ledgerId:entryId, latest or earliest", m);
        snprintf(buf, sizeof buf, "{\"ledgerId\":%lld,\"entryId\":%lld,\"partitionIndex\":-1}", l, e);
    }
    return strdup(buf);
}

static const char *header(const char *hdrs, const char *name, char *out, size_t n)
{
    size_t l = strlen(name);
    for (const char *p = hdrs; p && *p;) {
        const char *nl = strchr(p, '\n');
        if (!strncasecmp(p, name, l) && p[l] == ':') {
            const char *v = p + l + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)((nl ? nl : v + strlen(v)) - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
            snprintf(out, n, "%.*s", (int)vl, v);
            return out;
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static void hex_dump(const unsigned char *d, size_t len)
{
    printf("+-------------------------------------------------+\n");
    printf("|  0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f |\n");
    printf("+--------+-------------------------------------------------+----------------+\n");
    for (size_t off = 0; off < len; off += 16) {
        printf("|%08zx| ", off);
        for (size_t i = 0; i < 16; i++) {
            if (off + i < len) printf("%02x ", d[off + i]);
            else printf("   ");
        }
        printf("|");
        for (size_t i = 0; i < 16 && off + i < len; i++)
            putchar(isprint(d[off + i]) ? d[off + i] : '.');
        printf("|\n");
    }
    printf("+--------+-------------------------------------------------+----------------+\n");
}

static void print_props(json_t *props)
{
    char *ps = json_dumps(props, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("Properties: %s\n", ps);
    free(ps);
}

/* The messages of a decompressed batch body, as pulsar-admin splits them: each one with its
 * batch index, the entry's properties overlaid with its own, and its own payload. -1 when
 * the body is not a well-formed batch of n messages (then it is dumped whole). */
static int print_batch(const char *id, json_t *props, const unsigned char *p, size_t len, int n)
{
    const unsigned char *end = p + len;
    for (int i = 0; i < n; i++) {
        if (end - p < 4) return -1;
        uint32_t ml = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        p += 4;
        if ((size_t)(end - p) < ml) return -1;
        Pulsar__Proto__SingleMessageMetadata *sm =
            pulsar__proto__single_message_metadata__unpack(NULL, ml, p);
        if (!sm) return -1;
        p += ml;
        if (sm->payload_size < 0 || end - p < sm->payload_size) {
            pulsar__proto__single_message_metadata__free_unpacked(sm, NULL);
            return -1;
        }
        printf("Batch Message ID: %s:%d\n", id, i);
        json_t *mp = json_deep_copy(props);
        for (size_t k = 0; k < sm->n_properties; k++)
            json_object_set_new(mp, sm->properties[k]->key,
                                json_string(sm->properties[k]->value ? sm->properties[k]->value : ""));
        if (sm->partition_key) json_object_set_new(mp, "key", json_string(sm->partition_key));
        print_props(mp);
        json_decref(mp);
        hex_dump(p, (size_t)sm->payload_size);
        p += sm->payload_size;
        pulsar__proto__single_message_metadata__free_unpacked(sm, NULL);
    }
    return 0;
}

/* Print a peeked/examined message as pulsar-admin does: id, properties, hex dump; a batch
 * (X-Pulsar-num-batch-message, not encrypted) as its individual messages. The broker answers
 * with the payload already decompressed, as Pulsar's does. */
static void print_message(cli_res_t *r)
{
    char v[1024], id[256];
    snprintf(id, sizeof id, "%s", header(r->hdrs, "X-Pulsar-Message-ID", v, sizeof v) ?: "?");
    json_t *props = json_object();
    if (header(r->hdrs, "X-Pulsar-publish-time", v, sizeof v))
        json_object_set_new(props, "publish-time", json_string(v));
    for (const char *p = r->hdrs; p && *p;) {
        const char *nl = strchr(p, '\n');
        if (!strncasecmp(p, "X-Pulsar-PROPERTY-", 18)) {
            const char *colon = strchr(p, ':');
            if (colon && (!nl || colon < nl)) {
                char k[256];
                snprintf(k, sizeof k, "%.*s", (int)(colon - p - 18), p + 18);
                const char *val = colon + 1;
                while (*val == ' ') val++;
                size_t vl = (size_t)((nl ? nl : val + strlen(val)) - val);
                while (vl && (val[vl - 1] == '\r')) vl--;
                json_object_set_new(props, k, json_stringn(val, vl));
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    int nbatch = 0;
    if (header(r->hdrs, "X-Pulsar-num-batch-message", v, sizeof v)) {
        json_object_set_new(props, "X-Pulsar-num-batch-message", json_string(v));
        nbatch = atoi(v);
    }
    bool encrypted = header(r->hdrs, "X-Pulsar-Is-Encrypted", v, sizeof v) && !strcmp(v, "true");
    if (nbatch > 0 && !encrypted &&
        !print_batch(id, props, (const unsigned char *)r->body, r->len, nbatch)) {
        json_decref(props);
        return;
    }
    printf("Message ID: %s\n", id);
    print_props(props);
    json_decref(props);
    hex_dump((const unsigned char *)r->body, r->len);
}

int cmd_topics(const char *sub, cli_args_t *a)
{
    char path[3000], sp[3400];
    if (!strcmp(sub, "list") || !strcmp(sub, "list-partitioned-topics")) {
        const char *ns = pos(a, 0);
        if (!ns) cli_fail("A namespace tenant/namespace is required");
        bool part = !strcmp(sub, "list-partitioned-topics");
        if (!strchr(ns, '/') && !part) {
            /* a tenant: list the topics of all its namespaces (pulsar-admin needs a namespace) */
            snprintf(sp, sizeof sp, "/admin/v2/namespaces/%s", ns);
            json_t *nss = cli_call("GET", sp, NULL), *e;
            size_t i;
            json_array_foreach(nss, i, e)
            {
                snprintf(sp, sizeof sp, "/admin/v2/persistent/%s", json_string_value(e));
                print_list(cli_call("GET", sp, NULL));
            }
            json_decref(nss);
            return 0;
        }
        snprintf(sp, sizeof sp, "/admin/v2/persistent/%s%s", ns_arg(ns), part ? "/partitioned" : "");
        print_list(cli_call("GET", sp, NULL));
        return 0;
    }
    topic_path(pos(a, 0), path, sizeof path);
    const char *subname = opt(a, O("-s", "--subscription"));
    bool force = flag(a, O("-f", "--force"));
    if (!strcmp(sub, "create")) {
        call_print("PUT", path, NULL, false);
    } else if (!strcmp(sub, "create-partitioned-topic") || !strcmp(sub, "update-partitioned-topic")) {
        const char *p = opt(a, O("-p", "--partitions"));
        if (!p) cli_fail("--partitions is required");
        snprintf(sp, sizeof sp, "%s/partitions", path);
        call_print(!strcmp(sub, "create-partitioned-topic") ? "PUT" : "POST", sp, p, false);
    } else if (!strcmp(sub, "get-partitioned-topic-metadata")) {
        snprintf(sp, sizeof sp, "%s/partitions", path);
        call_print("GET", sp, NULL, true);
    } else if (!strcmp(sub, "delete") || !strcmp(sub, "delete-partitioned-topic")) {
        snprintf(sp, sizeof sp, "%s%s%s", path, !strcmp(sub, "delete") ? "" : "/partitions",
                 force ? "?force=true" : "");
        call_print("DELETE", sp, NULL, false);
    } else if (!strcmp(sub, "stats") || !strcmp(sub, "stats-internal") ||
               !strcmp(sub, "partitioned-stats") || !strcmp(sub, "lastMessageId") ||
               !strcmp(sub, "last-message-id")) {
        const char *res = !strcmp(sub, "stats") ? "stats"
                          : !strcmp(sub, "stats-internal") ? "internalStats"
                          : !strcmp(sub, "partitioned-stats") ? "partitioned-stats"
                                                              : "lastMessageId";
        snprintf(sp, sizeof sp, "%s/%s%s", path, res,
                 flag(a, O("--per-partition")) ? "?perPartition=true" : "");
        call_print("GET", sp, NULL, true);
    } else if (!strcmp(sub, "subscriptions")) {
        snprintf(sp, sizeof sp, "%s/subscriptions", path);
        print_list(cli_call("GET", sp, NULL));
    } else if (!strcmp(sub, "create-subscription")) {
        if (!subname) cli_fail("--subscription is required");
        char *b = msgid_body(opt(a, O("-m", "--messageId")));
        snprintf(sp, sizeof sp, "%s/subscription/%s", path, subname);
        call_print("PUT", sp, b, false);
        free(b);
    } else if (!strcmp(sub, "unsubscribe")) {
        if (!subname) cli_fail("--subscription is required");
        snprintf(sp, sizeof sp, "%s/subscription/%s%s", path, subname, force ? "?force=true" : "");
        call_print("DELETE", sp, NULL, false);
    } else if (!strcmp(sub, "skip")) {
        const char *n = opt(a, O("-n", "--count"));
        if (!subname || !n) cli_fail("--subscription and --count are required");
        snprintf(sp, sizeof sp, "%s/subscription/%s/skip/%s", path, subname, n);
        call_print("POST", sp, NULL, false);
    } else if (!strcmp(sub, "skip-all") || !strcmp(sub, "clear-backlog")) {
        if (!subname) cli_fail("--subscription is required");
        snprintf(sp, sizeof sp, "%s/subscription/%s/skip_all", path, subname);
        call_print("POST", sp, NULL, false);
    } else if (!strcmp(sub, "expire-messages") || !strcmp(sub, "expire-messages-all-subscriptions")) {
        int64_t t = parse_time_s(opt(a, O("-t", "--expireTime")));
        if (t < 0) cli_fail("--expireTime is required (seconds, or 10m, 1h, ...)");
        if (!strcmp(sub, "expire-messages")) {
            if (!subname) cli_fail("--subscription is required");
            snprintf(sp, sizeof sp, "%s/subscription/%s/expireMessages/%lld", path, subname, (long long)t);
        } else {
            snprintf(sp, sizeof sp, "%s/all_subscription/expireMessages/%lld", path, (long long)t);
        }
        call_print("POST", sp, NULL, false);
    } else if (!strcmp(sub, "reset-cursor")) {
        if (!subname) cli_fail("--subscription is required");
        const char *t = opt(a, O("-t", "--time")), *m = opt(a, O("-m", "--messageId"));
        if (m) {
            char *b = msgid_body(m);
            snprintf(sp, sizeof sp, "%s/subscription/%s/resetcursor", path, subname);
            call_print("POST", sp, b, false);
            free(b);
        } else if (t) {
            int64_t rel = parse_time_s(t);
            if (rel < 0) cli_fail("Invalid --time: %s", t);
            struct timeval tv;
            gettimeofday(&tv, NULL);
            long long ts = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000 - rel * 1000;
            snprintf(sp, sizeof sp, "%s/subscription/%s/resetcursor/%lld", path, subname, ts);
            call_print("POST", sp, NULL, false);
        } else {
            cli_fail("Either --time or --messageId is required");
        }
    } else if (!strcmp(sub, "peek-messages")) {
        if (!subname) cli_fail("--subscription is required");
        const char *n = opt(a, O("-n", "--count"));
        int cnt = n ? atoi(n) : 1;
        for (int i = 1; i <= cnt; i++) {
            snprintf(sp, sizeof sp, "%s/subscription/%s/position/%d", path, subname, i);
            cli_res_t r;
            long st = cli_http("GET", sp, NULL, &r);
            if (st == 404 && i > 1) {
                cli_res_free(&r);
                break;
            }
            if (st != 200) {
                cli_res_free(&r);
                json_decref(cli_call("GET", sp, NULL)); /* reports and exits */
                break;
            }
            print_message(&r);
            cli_res_free(&r);
        }
    } else if (!strcmp(sub, "examine-message")) {
        const char *ip = opt(a, O("-i", "--initialPosition"));
        const char *mp = opt(a, O("-m", "--messagePosition"));
        snprintf(sp, sizeof sp, "%s/examinemessage?initialPosition=%s&messagePosition=%s", path,
                 ip ? ip : "latest", mp ? mp : "1");
        cli_res_t r;
        long st = cli_http("GET", sp, NULL, &r);
        if (st != 200) {
            cli_res_free(&r);
            json_decref(cli_call("GET", sp, NULL));
        } else {
            print_message(&r);
            cli_res_free(&r);
        }
    } else if (!strcmp(sub, "unload")) {
        snprintf(sp, sizeof sp, "%s/unload", path);
        call_print("PUT", sp, NULL, false);
    } else if (!strcmp(sub, "terminate")) {
        snprintf(sp, sizeof sp, "%s/terminate", path);
        json_t *r = cli_call("POST", sp, NULL);
        printf("Topic successfully terminated at %lld:%lld\n",
               (long long)json_integer_value(json_object_get(r, "ledgerId")),
               (long long)json_integer_value(json_object_get(r, "entryId")));
        json_decref(r);
    } else if (!strcmp(sub, "grant-permission") || !strcmp(sub, "revoke-permission")) {
        /* pulsar-admin topics grant-permission --role R --actions produce,consume TOPIC */
        const char *role = opt(a, O("--role"));
        if (!role) cli_fail("--role is required");
        char *esc = curl_easy_escape(NULL, role, 0);
        snprintf(sp, sizeof sp, "%s/permissions/%s", path, esc ? esc : role);
        curl_free(esc);
        if (!strcmp(sub, "revoke-permission")) {
            call_print("DELETE", sp, NULL, false);
        } else {
            const char *actions = opt(a, O("--actions"));
            if (!actions) cli_fail("--actions is required (produce,consume,...)");
            json_t *l = json_array();
            char *dup = strdup(actions), *save = NULL;
            for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (*t) json_array_append_new(l, json_string(t));
            free(dup);
            char *body = json_dumps(l, JSON_COMPACT);
            json_decref(l);
            call_print("POST", sp, body, false);
            free(body);
        }
    } else if (!strcmp(sub, "permissions")) {
        snprintf(sp, sizeof sp, "%s/permissions", path);
        call_print("GET", sp, NULL, true);
    } else if (!strcmp(sub, "lookup")) {
        snprintf(sp, sizeof sp, "/lookup/v2/topic/%s", path + strlen("/admin/v2/"));
        json_t *r = cli_call("GET", sp, NULL);
        /* as pulsar-admin: brokerUrlTls when talking HTTPS ("null" when the broker has no
         * brokerServicePortTls), else brokerUrl */
        bool tls = !strncasecmp(cli_url, "https://", 8);
        const char *u = json_string_value(json_object_get(r, tls ? "brokerUrlTls" : "brokerUrl"));
        printf("%s\n", u ? u : "null");
        json_decref(r);
    } else {
        cli_fail("Unknown command 'topics %s' (see magnetar-admin --help)", sub);
    }
    return 0;
}
