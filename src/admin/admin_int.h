/* admin_int.h - internals of the admin plane shared by its files: the request as it travels
 * from a libmicrohttpd thread to the broker loop and back, reply helpers, and the route
 * handlers (one file per resource family: clusters/tenants, namespaces, topics, misc).
 *
 * Threading: an admin_req_t is filled by the HTTP thread, then handed to the loop with
 * loop_post(); every route handler runs on the loop thread and may touch broker state. A
 * handler either answers before returning or sets r->deferred and calls areq_finish() later
 * (on the loop thread). After areq_finish the loop side must not touch r again. */
#ifndef MG_ADMIN_INT_H
#define MG_ADMIN_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

#define AREQ_MAX_SEGS 24
#define AREQ_MAX_ARGS 16
#define ADMIN_MAX_BODY (1024 * 1024)

typedef struct admin_req {
    broker_t *b;
    char method[12];
    char *path;                     /* decoded path, split in place into segs */
    char *segs[AREQ_MAX_SEGS];
    int nseg;
    char *arg_k[AREQ_MAX_ARGS], *arg_v[AREQ_MAX_ARGS];
    int nargs;
    char *body;                     /* NUL-terminated; may be NULL */
    size_t body_len;
    /* authentication (filled by the HTTP thread; authz.c reads them on the loop thread) */
    bool authenticated;             /* b->auth is set and the request carries a role */
    char role[256];                 /* the token's role, or anonymousUserRole */
    /* response */
    int status;
    char *resp;                     /* mg_malloc'd */
    size_t resp_len;
    char ctype[64];
    char *hdrs;                     /* "Name: value\n" lines, mg_malloc'd, may be NULL */
    size_t hdrs_len;
    bool deferred;
    bool done;                      /* guarded by the admin mutex */
    bool abandoned;
    struct admin_req *next_abandoned;
} admin_req_t;

/* Query argument, NULL when absent. */
const char *areq_arg(admin_req_t *r, const char *k);
bool areq_arg_true(admin_req_t *r, const char *k);
/* Replies (loop thread). json is stolen. */
void reply_json(admin_req_t *r, int status, json_t *json);
void reply_err(admin_req_t *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void reply_empty(admin_req_t *r, int status);
void reply_text(admin_req_t *r, int status, const char *ctype, const char *data, size_t len);
void reply_header(admin_req_t *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parse the body as JSON (any type); NULL and a 400 reply when malformed or missing. */
json_t *areq_json(admin_req_t *r);
/* Deferred handlers: answer now (loop thread). */
void areq_finish(admin_req_t *r);
void reply_405(admin_req_t *r);

/* Decode a Pulsar payload (decompress.c): codec is a CompressionType, unc the
 * MessageMetadata's uncompressed_size. 0 and *out (mg_malloc'd, unc bytes), or -1 when the
 * codec is unknown or the data does not decode to exactly unc bytes. Any thread. */
int admin_decompress(int codec, const uint8_t *in, size_t n, size_t unc, uint8_t **out);

/* Health checks (routes_misc.c) wait for their entry to be durable. The admin keeps the list
 * of those in flight (they share one log); at shutdown, once their HTTP requests have ended,
 * their state is freed and the log closed (which waits for the writes and drops the
 * completions). Loop thread. */
struct health;
struct health **admin_health_list(broker_t *b);
void health_abandon_all(struct health **list);

/* Authorization (authz.c, loop thread): with authenticationEnabled and authorizationEnabled,
 * may r->role do this request? Pulsar's rules: superusers for clusters (except the list),
 * tenants and brokers; tenant admins for namespaces and topics of their tenant; roles with
 * produce/consume grants for the reads a client needs (lookup, stats, subscriptions). Returns
 * true to go on; false after replying 403 (or 404 for an unknown tenant, as Pulsar). */
bool authz_allow(admin_req_t *r);

/* routes (loop thread) */
void route_clusters(admin_req_t *r);       /* admin/v2/clusters... */
void route_tenants(admin_req_t *r);        /* admin/v2/tenants... */
void route_namespaces(admin_req_t *r);     /* admin/v2/namespaces... */
void route_topics(admin_req_t *r);         /* admin/v2/persistent|non-persistent... */
void route_brokers(admin_req_t *r);        /* admin/v2/brokers... */
void route_schemas(admin_req_t *r);        /* admin/v2/schemas... (routes_schemas.c) */
void route_lookup(admin_req_t *r);         /* lookup/v2/topic... */
void route_metrics(admin_req_t *r);        /* metrics */
void route_console(admin_req_t *r);        /* / and console (console.c) */

/* shared helpers (routes_ns.c) */
json_t *policies_load(broker_t *b, const char *tenant, const char *ns); /* NULL = no namespace */
int policies_store(broker_t *b, const char *tenant, const char *ns, json_t *pol);
bool tenant_exists(broker_t *b, const char *tenant);
/* The Policies' auth_policies object, created with its three maps (namespace_auth,
 * destination_auth, subscription_auth_roles) when missing; borrowed from pol. */
json_t *auth_policies_of(json_t *pol);
/* The request body as a list of AuthAction names (produce, consume, functions, sources, sinks,
 * packages); NULL after a 400 reply. */
json_t *auth_actions_body(admin_req_t *r);
bool cluster_exists(broker_t *b, const char *cluster);
json_t *meta_get_json(broker_t *b, const char *key);
/* Delete a namespace (routes_ns.c). Without force, -ENOTEMPTY while it has topics; with
 * force, its topics go too (clients disconnected), with their cursors and schemas. 0. */
int ns_delete(broker_t *b, const char *tenant, const char *ns, bool force);
/* Every child name directly under prefix (keys prefix + name, no further '/'). */
json_t *meta_children(broker_t *b, const char *prefix);
/* "persistent://t/ns/<name>" for every child name under prefix (routes_topics.c). */
json_t *persistent_topic_names(broker_t *b, const char *prefix, const char *t, const char *ns);

#endif
