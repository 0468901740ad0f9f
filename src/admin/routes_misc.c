/* routes_misc.c - /admin/v2/brokers (health with a real produce+consume round trip through
 * storage, ready, the active brokers of a cluster, leader, version), the HTTP lookup
 * /lookup/v2/topic/... that Pulsar clients use with an http:// service URL. Loop thread. */
#include <stdio.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "proto/frame.h"

/* --- health ---------------------------------------------------------------------------- */

/* Checks in flight at once (probes of a slow disk overlap) share the health-check log: the
 * first opens it, the last to finish closes it. */
typedef struct health {
    admin_req_t *r;
    mg_log_t *log;
    struct health *next, **pprev; /* admin_health_list */
    char payload[64];
} health_t;

/* Take h off the list; close the shared log when no other check uses it. */
static void health_unlist(health_t *h)
{
    *h->pprev = h->next;
    if (h->next) h->next->pprev = h->pprev;
    if (!*admin_health_list(h->r->b)) log_close(h->log); /* it was the last one */
}

void health_abandon_all(health_t **list)
{
    mg_log_t *log = *list ? (*list)->log : NULL;
    while (*list) { /* their requests have ended: only the state is left */
        health_t *h = *list;
        *list = h->next;
        mg_free(h);
    }
    if (log) log_close(log); /* waits for the write; drops the completions */
}

static void health_done(health_t *h, bool ok, const char *why)
{
    admin_req_t *r = h->r;
    health_unlist(h);
    if (ok) reply_text(r, 200, "text/plain", "ok", 2);
    else reply_err(r, 500, "Health check failed: %s", why);
    mg_free(h);
    areq_finish(r);
}

static void health_appended(void *arg, int status, uint64_t entry_id)
{
    health_t *h = arg;
    if (status) return health_done(h, false, "write failed");
    mg_entry_t *e;
    if (log_read(h->log, entry_id, &e)) return health_done(h, false, "read back failed");
    payload_view_t pv;
    bool ok = payload_layout(e->data, e->len, &pv) == 0 && pv.data_len == strlen(h->payload) &&
              !memcmp(pv.data, h->payload, pv.data_len);
    entry_unref(e);
    /* keep the health-check log small: drop what earlier checks wrote */
    log_trim(h->log, entry_id);
    health_done(h, ok, "the message read back differs from the one written");
}

static void health_check(admin_req_t *r)
{
    broker_t *b = r->b;
    char name[400], err[256];
    snprintf(name, sizeof name, "persistent://pulsar/%s/__magnetar_healthcheck",
             b->cfg->cluster_name);
    health_t *h = mg_calloc(1, sizeof *h);
    if (!h) return reply_err(r, 500, "out of memory");
    h->r = r;
    snprintf(h->payload, sizeof h->payload, "health-check-%llu", (unsigned long long)mg_now_ms());
    health_t **list = admin_health_list(b);
    h->log = *list ? (*list)->log : log_open(b->store, name, true, err, sizeof err);
    if (!h->log) {
        mg_free(h);
        return reply_err(r, 500, "Health check failed: %s", err);
    }
    pb_meta_t md = PULSAR__PROTO__MESSAGE_METADATA__INIT;
    md.producer_name = "health-check";
    md.sequence_id = 0;
    md.publish_time = mg_now_ms();
    mg_buf_t buf;
    buf_init(&buf);
    mg_entry_t *e = NULL;
    if (entry_encode(&buf, &md, h->payload, strlen(h->payload)) == 0)
        e = entry_new(buf.data, (uint32_t)buf.len);
    buf_free(&buf);
    r->deferred = true;
    h->next = *list; /* listed first: the callback unlists it */
    h->pprev = list;
    if (*list) (*list)->pprev = &h->next;
    *list = h;
    int rc = e ? log_append(h->log, e, health_appended, h) : -1;
    entry_unref(e);
    if (rc) {
        r->deferred = false;
        health_unlist(h);
        mg_free(h);
        if (!e) return reply_err(r, 500, "Health check failed: out of memory");
        return reply_err(r, 500, "Health check failed: the log refused the write");
    }
}

void route_brokers(admin_req_t *r)
{
    broker_t *b = r->b;
    if (strcmp(r->method, "GET")) return reply_405(r);
    if (r->nseg == 4 && !strcmp(r->segs[3], "health")) return health_check(r);
    if (r->nseg == 4 && !strcmp(r->segs[3], "ready")) return reply_text(r, 200, "text/plain", "ok", 2);
    if (r->nseg == 4 && !strcmp(r->segs[3], "version"))
        return reply_text(r, 200, "text/plain", MG_VERSION, strlen(MG_VERSION));
    char self[400];
    const char *host = b->cfg->advertised_address[0] ? b->cfg->advertised_address : "localhost";
    snprintf(self, sizeof self, "%s:%d", host, b->web_port >= 0 ? b->web_port : b->web_port_tls);
    if (r->nseg == 4 && !strcmp(r->segs[3], "leaderBroker"))
        return reply_json(r, 200, json_pack("{s:s,s:s}", "brokerId", self, "serviceUrl",
                                            b->web_url[0] ? b->web_url : b->web_url_tls));
    if (r->nseg == 3) return reply_json(r, 200, json_pack("[s]", self));
    if (r->nseg == 4) {
        if (!cluster_exists(b, r->segs[3])) return reply_err(r, 404, "Cluster does not exist");
        if (strcmp(r->segs[3], b->cfg->cluster_name)) return reply_json(r, 200, json_array());
        return reply_json(r, 200, json_pack("[s]", self));
    }
    reply_err(r, 404, "Not found");
}

/* --- lookup ------------------------------------------------------------------------------ */

void route_lookup(admin_req_t *r)
{
    broker_t *b = r->b;
    if (strcmp(r->method, "GET")) return reply_405(r);
    if (r->nseg != 7 || (strcmp(r->segs[3], "persistent") && strcmp(r->segs[3], "non-persistent")))
        return reply_err(r, 404, "Not found");
    char name[3000], err[300];
    mg_topic_name_t tn;
    snprintf(name, sizeof name, "%s://%s/%s/%s", r->segs[3], r->segs[4], r->segs[5], r->segs[6]);
    if (topic_name_parse(name, &tn, err, sizeof err)) return reply_err(r, 412, "%s", err);
    if (!namespace_exists(b, tn.tenant, tn.ns))
        return reply_err(r, 404, "Namespace %s/%s does not exist", tn.tenant, tn.ns);
    /* Pulsar's LookupData: a URL is null while its port is off */
#define URL_OR_NULL(u) ((u)[0] ? json_string(u) : json_null())
    json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o}", "brokerUrl", URL_OR_NULL(b->service_url),
                          "brokerUrlTls", URL_OR_NULL(b->service_url_tls), "httpUrl",
                          URL_OR_NULL(b->web_url), "httpUrlTls", URL_OR_NULL(b->web_url_tls),
                          "nativeUrl",
                          URL_OR_NULL(b->service_url[0] ? b->service_url : b->service_url_tls));
#undef URL_OR_NULL
    reply_json(r, 200, o);
}
