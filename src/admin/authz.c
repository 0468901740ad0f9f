/* authz.c - authorization of admin REST requests (authorizationEnabled=true), checked once in
 * route() before any handler runs, so no handler can forget it. The rules are those of Pulsar's
 * admin resources with PulsarAuthorizationProvider:
 *   - superusers (superUserRoles) may do everything;
 *   - clusters: the list is open to any authenticated role; get/create/update/delete need a
 *     superuser (ClustersBase);
 *   - tenants: list, get, create, update, delete need a superuser (TenantsBase);
 *   - brokers: health, the active brokers, leaderBroker need a superuser (BrokersBase);
 *     `ready` and `version` only need authentication;
 *   - namespaces and topics of a tenant need a tenant admin (TenantInfo.adminRoles), with the
 *     reads a client needs also open to roles granted produce/consume, as Pulsar's
 *     allowTopicOperation: lookup, partitioned metadata, stats and schema reads (produce or
 *     consume), subscriptions and their operations, peek, lastMessageId and examinemessage
 *     (consume), and a namespace's topic list (a namespace-level produce or consume grant).
 * Refusals answer 401 {"reason"} with Pulsar's messages, as Pulsar's code does (its API
 * documentation lists 403); a tenant that does not exist answers 404 "Tenant does not exist"
 * (Pulsar's validateAdminAccessForTenant). Loop thread. */
#include <stdio.h>
#include <string.h>

#include "admin/admin_int.h"
#include "broker/auth.h"

static bool need_superuser(admin_req_t *r)
{
    reply_err(r, 401, "This operation requires super-user access");
    return false;
}

static bool tenant_known(admin_req_t *r, const char *tenant)
{
    if (tenant_exists(r->b, tenant)) return true;
    reply_err(r, 404, "Tenant does not exist");
    return false;
}

static bool need_tenant_admin(admin_req_t *r, const char *tenant)
{
    if (!tenant_known(r, tenant)) return false;
    if (auth_is_tenant_admin(r->b, r->role, tenant)) return true;
    reply_err(r, 401, "Don't have permission to administrate resources on this tenant");
    return false;
}

/* A namespace read a client may do (GET_TOPICS): tenant admin, or a namespace grant. */
static bool need_ns_client(admin_req_t *r, const char *t, const char *ns)
{
    if (!tenant_known(r, t)) return false;
    if (auth_is_tenant_admin(r->b, r->role, t) ||
        auth_ns_granted(r->b, r->role, t, ns, AUTH_PRODUCE | AUTH_CONSUME))
        return true;
    char name[600];
    snprintf(name, sizeof name, "%s/%s", t, ns);
    reply_err(r, 401,
              "Unauthorized to validateNamespaceOperation for operation [GET_TOPICS] on "
              "namespace [%s]",
              name);
    return false;
}

/* A topic operation a client may do: tenant admin, or auth_can(actions) on the topic. */
static bool need_topic_client(admin_req_t *r, const char *tenant, const char *topic, int actions,
                              const char *op)
{
    if (!tenant_known(r, tenant)) return false;
    if (auth_is_tenant_admin(r->b, r->role, tenant) || auth_can(r->b, r->role, topic, actions))
        return true;
    reply_err(r, 401, "Unauthorized to validateTopicOperation for operation [%s] on topic [%s]", op,
              topic);
    return false;
}

static bool is(const char *a, const char *b)
{
    return !strcmp(a, b);
}

/* /admin/v2/persistent|non-persistent/{t}/{ns}[/{topic}[/...]] */
static bool topics_allow(admin_req_t *r)
{
    char **s = r->segs;
    int n = r->nseg;
    bool get = is(r->method, "GET");
    if (n < 5) return true; /* the handler answers 404 */
    if (n == 5 || (n == 6 && get && is(s[5], "partitioned"))) return need_ns_client(r, s[3], s[4]);
    char topic[3000];
    snprintf(topic, sizeof topic, "%s://%s/%s/%s", s[2], s[3], s[4], s[5]);
    const char *act = n >= 7 ? s[6] : "";
    if (get && n == 7 &&
        (is(act, "stats") || is(act, "partitioned-stats") || is(act, "internalStats") ||
         is(act, "partitions")))
        return need_topic_client(r, s[3], topic, AUTH_PRODUCE | AUTH_CONSUME,
                                 is(act, "partitions") ? "GET_METADATA" : "GET_STATS");
    if ((get && n == 7 && is(act, "subscriptions")) || is(act, "subscription") ||
        is(act, "all_subscription"))
        return need_topic_client(r, s[3], topic, AUTH_CONSUME, "CONSUME");
    if (get && n == 7 && (is(act, "lastMessageId") || is(act, "examinemessage")))
        return need_topic_client(r, s[3], topic, AUTH_CONSUME, "PEEK_MESSAGES");
    /* create, delete, partitions update, unload, terminate, permissions */
    return need_tenant_admin(r, s[3]);
}

/* /admin/v2/schemas/{t}/{ns}/{topic}/... */
static bool schemas_allow(admin_req_t *r)
{
    char **s = r->segs;
    int n = r->nseg;
    if (n < 4) return true;
    if (n < 6) return need_tenant_admin(r, s[3]);
    char topic[3000];
    snprintf(topic, sizeof topic, "persistent://%s/%s/%s", s[3], s[4], s[5]);
    bool read = is(r->method, "GET") || (is(r->method, "POST") && n == 7 &&
                                         (is(s[6], "compatibility") || is(s[6], "version")));
    if (read) return need_topic_client(r, s[3], topic, AUTH_PRODUCE | AUTH_CONSUME, "GET_SCHEMA");
    return need_tenant_admin(r, s[3]); /* upload, delete */
}

bool authz_allow(admin_req_t *r)
{
    broker_t *b = r->b;
    if (!b->auth) return true;
    if (!r->authenticated) { /* not reached: admin.c authenticates every path routed here */
        reply_err(r, 401, "Authentication required");
        return false;
    }
    if (!b->cfg->authorization_enabled || auth_is_superuser(b->cfg, r->role)) return true;
    char **s = r->segs;
    int n = r->nseg;
    if (n >= 3 && is(s[0], "lookup") && is(s[1], "v2") && is(s[2], "topic")) {
        if (n != 7 || (!is(s[3], "persistent") && !is(s[3], "non-persistent")))
            return true; /* the handler answers 404 */
        char topic[3000];
        snprintf(topic, sizeof topic, "%s://%s/%s/%s", s[3], s[4], s[5], s[6]);
        return need_topic_client(r, s[4], topic, AUTH_PRODUCE | AUTH_CONSUME, "LOOKUP");
    }
    if (n < 3 || !is(s[0], "admin") || !is(s[1], "v2")) return true; /* 404 */
    const char *res = s[2];
    if (is(res, "clusters")) {
        if (n == 3 && is(r->method, "GET")) return true;
        return need_superuser(r);
    }
    if (is(res, "tenants")) return need_superuser(r);
    if (is(res, "brokers")) {
        if (n == 4 && (is(s[3], "ready") || is(s[3], "version"))) return true;
        return need_superuser(r);
    }
    if (is(res, "namespaces")) {
        if (n < 4) return true;
        if (n == 6 && is(s[5], "topics") && is(r->method, "GET"))
            return need_ns_client(r, s[3], s[4]);
        return need_tenant_admin(r, s[3]);
    }
    if (is(res, "persistent") || is(res, "non-persistent")) return topics_allow(r);
    if (is(res, "schemas")) return schemas_allow(r);
    return true; /* unknown resource: 404 */
}
