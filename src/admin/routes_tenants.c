/* routes_tenants.c - /admin/v2/clusters and /admin/v2/tenants (Pulsar's ClusterData and
 * TenantInfo JSON), plus the metadata helpers the other route files share. Loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "broker/auth.h"
#include "common/alloc.h"

json_t *meta_get_json(broker_t *b, const char *key)
{
    char *v;
    size_t n;
    if (meta_get(b->meta, key, &v, &n)) return NULL;
    json_t *j = n ? json_loadb(v, n, JSON_DECODE_ANY, NULL) : json_object();
    mg_free(v);
    return j ? j : json_object();
}

static int put_json(broker_t *b, const char *key, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) return -1;
    int rc = meta_put(b->meta, key, s, strlen(s), true);
    free(s);
    return rc;
}

typedef struct children_ctx {
    size_t plen;
    json_t *out;
} children_ctx_t;

static int child_cb(void *arg, const char *key, const char *val, size_t len)
{
    children_ctx_t *c = arg;
    const char *name = key + c->plen;
    if (*name && !strchr(name, '/')) json_array_append_new(c->out, json_string(name));
    return 0;
}

json_t *meta_children(broker_t *b, const char *prefix)
{
    children_ctx_t c = {strlen(prefix), json_array()};
    meta_list(b->meta, prefix, child_cb, &c);
    return c.out;
}

bool tenant_exists(broker_t *b, const char *tenant)
{
    char key[400], *v;
    size_t n;
    snprintf(key, sizeof key, "/admin/policies/%s", tenant);
    if (meta_get(b->meta, key, &v, &n)) return false;
    mg_free(v);
    return true;
}

bool cluster_exists(broker_t *b, const char *cluster)
{
    char key[400], *v;
    size_t n;
    snprintf(key, sizeof key, "/admin/clusters/%s", cluster);
    if (meta_get(b->meta, key, &v, &n)) return false;
    mg_free(v);
    return true;
}

json_t *policies_load(broker_t *b, const char *tenant, const char *ns)
{
    char key[700];
    snprintf(key, sizeof key, "/admin/policies/%s/%s", tenant, ns);
    json_t *j = meta_get_json(b, key);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    return j;
}

int policies_store(broker_t *b, const char *tenant, const char *ns, json_t *pol)
{
    char key[700];
    snprintf(key, sizeof key, "/admin/policies/%s/%s", tenant, ns);
    int rc = put_json(b, key, pol);
    ns_policies_invalidate(b, tenant, ns);
    auth_recheck_namespace(b, tenant, ns); /* a revoked grant closes what it allowed */
    return rc;
}

/* --- clusters ---------------------------------------------------------------------------- */

static json_t *cluster_view(json_t *stored)
{
    json_t *o = json_object();
    const char *str_keys[] = {"serviceUrl", "serviceUrlTls", "brokerServiceUrl",
                              "brokerServiceUrlTls", NULL};
    for (int i = 0; str_keys[i]; i++) {
        json_t *v = json_object_get(stored, str_keys[i]);
        if (json_is_string(v)) json_object_set(o, str_keys[i], v);
    }
    json_object_set_new(o, "brokerClientTlsEnabled", json_false());
    json_object_set_new(o, "tlsAllowInsecureConnection", json_false());
    json_object_set_new(o, "brokerClientTlsEnabledWithKeyStore", json_false());
    json_object_set_new(o, "brokerClientTlsTrustStoreType", json_string("JKS"));
    json_object_set_new(o, "brokerClientTlsKeyStoreType", json_string("JKS"));
    json_object_update_missing(o, stored);
    return o;
}

void route_clusters(admin_req_t *r)
{
    broker_t *b = r->b;
    const char *m = r->method;
    if (r->nseg == 3) {
        if (strcmp(m, "GET")) return reply_405(r);
        return reply_json(r, 200, meta_children(b, "/admin/clusters/"));
    }
    if (r->nseg != 4) return reply_err(r, 404, "Not found");
    const char *name = r->segs[3];
    char key[400];
    snprintf(key, sizeof key, "/admin/clusters/%s", name);
    if (!strcmp(m, "GET")) {
        json_t *j = meta_get_json(b, key);
        if (!j) return reply_err(r, 404, "Cluster does not exist");
        json_t *v = cluster_view(j);
        json_decref(j);
        return reply_json(r, 200, v);
    }
    if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
        bool create = !strcmp(m, "PUT");
        if (!name_is_valid(name)) return reply_err(r, 412, "Cluster name is not valid");
        json_t *body = areq_json(r);
        if (!body) return;
        if (!json_is_object(body)) {
            json_decref(body);
            return reply_err(r, 400, "Cluster data must be a JSON object");
        }
        const char *keys[] = {"serviceUrl", "serviceUrlTls", "brokerServiceUrl",
                              "brokerServiceUrlTls", NULL};
        for (int i = 0; keys[i]; i++) {
            json_t *v = json_object_get(body, keys[i]);
            if (v && !json_is_string(v) && !json_is_null(v)) {
                json_decref(body);
                return reply_err(r, 400, "%s must be a string", keys[i]);
            }
        }
        bool exists = cluster_exists(b, name);
        if (create && exists) {
            json_decref(body);
            return reply_err(r, 409, "Cluster already exists");
        }
        if (!create && !exists) {
            json_decref(body);
            return reply_err(r, 404, "Cluster does not exist");
        }
        put_json(b, key, body);
        json_decref(body);
        return reply_empty(r, 204);
    }
    if (!strcmp(m, "DELETE")) {
        if (!cluster_exists(b, name)) return reply_err(r, 404, "Cluster does not exist");
        if (!strcmp(name, b->cfg->cluster_name))
            return reply_err(r, 412, "Cluster %s is the local cluster and cannot be deleted", name);
        meta_del(b->meta, key);
        return reply_empty(r, 204);
    }
    reply_405(r);
}

/* --- tenants ----------------------------------------------------------------------------- */

/* Validate a TenantInfo body; returns a normalised object or NULL after replying. */
static json_t *tenant_info_from_body(admin_req_t *r, bool required)
{
    json_t *body;
    if (!r->body_len && !required) {
        body = json_object();
    } else {
        body = areq_json(r);
        if (!body) return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        reply_err(r, 400, "Tenant info must be a JSON object");
        return NULL;
    }
    json_t *out = json_object();
    const char *lists[] = {"adminRoles", "allowedClusters"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(body, lists[i]);
        json_t *arr = json_array();
        if (v && !json_is_null(v)) {
            if (!json_is_array(v)) goto bad;
            size_t k;
            json_t *e;
            json_array_foreach(v, k, e)
            {
                if (!json_is_string(e)) goto bad;
                json_array_append(arr, e);
            }
        }
        json_object_set_new(out, lists[i], arr);
        continue;
    bad:
        json_decref(arr);
        json_decref(out);
        json_decref(body);
        reply_err(r, 400, "%s must be a list of strings", lists[i]);
        return NULL;
    }
    json_decref(body);
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(out, "allowedClusters"), k, e)
    {
        const char *c = json_string_value(e);
        if (!name_is_valid(c) || !cluster_exists(r->b, c)) {
            json_decref(out);
            reply_err(r, 412, "Clusters do not exist");
            return NULL;
        }
    }
    return out;
}

static bool tenant_has_namespaces(broker_t *b, const char *tenant)
{
    char prefix[400];
    snprintf(prefix, sizeof prefix, "/admin/policies/%s/", tenant);
    json_t *l = meta_children(b, prefix);
    bool any = json_array_size(l) > 0;
    json_decref(l);
    return any;
}

void route_tenants(admin_req_t *r)
{
    broker_t *b = r->b;
    const char *m = r->method;
    if (r->nseg == 3) {
        if (strcmp(m, "GET")) return reply_405(r);
        return reply_json(r, 200, meta_children(b, "/admin/policies/"));
    }
    if (r->nseg != 4) return reply_err(r, 404, "Not found");
    const char *name = r->segs[3];
    char key[400];
    snprintf(key, sizeof key, "/admin/policies/%s", name);
    if (!strcmp(m, "GET")) {
        json_t *j = name_is_valid(name) ? meta_get_json(b, key) : NULL;
        if (!j) return reply_err(r, 404, "Tenant does not exist");
        json_t *out = json_object();
        json_t *ar = json_object_get(j, "adminRoles"), *ac = json_object_get(j, "allowedClusters");
        json_object_set_new(out, "adminRoles", json_is_array(ar) ? json_incref(ar) : json_array());
        json_object_set_new(out, "allowedClusters",
                            json_is_array(ac) ? json_incref(ac) : json_array());
        json_decref(j);
        return reply_json(r, 200, out);
    }
    if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
        bool create = !strcmp(m, "PUT");
        if (!name_is_valid(name)) return reply_err(r, 412, "Tenant name is not valid");
        bool exists = tenant_exists(b, name);
        if (create && exists) return reply_err(r, 409, "Tenant already exists");
        if (!create && !exists) return reply_err(r, 404, "Tenant does not exist");
        json_t *info = tenant_info_from_body(r, !create);
        if (!info) return;
        put_json(b, key, info);
        json_decref(info);
        return reply_empty(r, 204);
    }
    if (!strcmp(m, "DELETE")) {
        if (!name_is_valid(name) || !tenant_exists(b, name))
            return reply_err(r, 404, "Tenant does not exist");
        bool force = areq_arg_true(r, "force");
        if (force && !b->cfg->force_delete_tenant_allowed)
            return reply_err(r, 405, "Broker doesn't allow forced deletion of tenants");
        if (tenant_has_namespaces(b, name) && !force)
            return reply_err(r, 409, "The tenant still has active namespaces");
        if (force) { /* as Pulsar: every namespace goes, with its topics */
            char prefix[400];
            snprintf(prefix, sizeof prefix, "/admin/policies/%s/", name);
            json_t *l = meta_children(b, prefix);
            size_t i;
            json_t *e;
            json_array_foreach(l, i, e) ns_delete(b, name, json_string_value(e), true);
            json_decref(l);
            snprintf(prefix, sizeof prefix, "/admin/partitioned-topics/%s/", name);
            meta_del_prefix(b->meta, prefix);
            snprintf(prefix, sizeof prefix, "/schemas/%s/", name);
            meta_del_prefix(b->meta, prefix);
        }
        meta_del(b->meta, key);
        return reply_empty(r, 204);
    }
    reply_405(r);
}
