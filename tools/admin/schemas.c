/* schemas.c - magnetar-admin schemas get | upload | delete | test-compatibility, with the
 * grammar of pulsar-admin's CmdSchemas (`compatibility` is accepted as an alias of
 * `test-compatibility`), against /admin/v2/schemas/{tenant}/{ns}/{topic}/...; and the
 * `schemas:` section of `apply -f` manifests (schemas_apply).
 *
 * A schema definition file is Pulsar's PostSchemaPayload:
 *   {"type": "AVRO", "schema": "<the Avro schema as a JSON string>", "properties": {}}
 * `get` prints what pulsar-admin prints (SchemaInfoWithVersion: version, then schemaInfo with
 * name, schema (parsed when it is JSON), type, timestamp, properties). Single-threaded; fatal
 * errors exit the process through cli_fail / cli_call. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/cli.h"

/* "/admin/v2/schemas/t/ns/local/<op>" for a topic name in any of pulsar-admin's forms. */
static void schema_path(const char *topic, const char *op, char *out, size_t n)
{
    char tp[2400];
    topic_path(topic, tp, sizeof tp); /* "/admin/v2/<domain>/t/ns/local" (escaped) */
    const char *rest = strchr(tp + strlen("/admin/v2/"), '/');
    snprintf(out, n, "/admin/v2/schemas%s/%s", rest ? rest : "/", op);
}

static const char *local_name(const char *topic)
{
    const char *s = strrchr(topic, '/');
    return s ? s + 1 : topic;
}

/* The topic: the first argument that is neither an option nor an option's value. -f takes a
 * value (the file) unless f_is_flag (delete's --force). Unknown options are refused. */
static const char *topic_arg(cli_args_t *a, bool f_is_flag, const char *const *valued,
                             const char *const *flags)
{
    const char *topic = NULL;
    for (int i = 0; i < a->argc; i++) {
        const char *s = a->argv[i];
        if (s[0] != '-' || !s[1]) {
            if (topic) cli_fail("Only one topic is accepted (got %s and %s)", topic, s);
            topic = s;
            continue;
        }
        bool known = false;
        size_t l = strcspn(s, "=");
        for (int k = 0; valued[k]; k++)
            if (strlen(valued[k]) == l && !strncmp(s, valued[k], l)) {
                known = true;
                if (!s[l] && !(f_is_flag && !strcmp(s, "-f"))) i++;
            }
        for (int k = 0; flags[k]; k++)
            if (!strcmp(s, flags[k])) known = true;
        if (!known) cli_fail("Unknown option %s", s);
    }
    if (!topic) cli_fail("A topic name persistent://tenant/namespace/topic is required");
    return topic;
}

/* A schema definition file (PostSchemaPayload); a new reference. */
static json_t *load_payload(const char *file)
{
    json_error_t e;
    json_t *j = json_load_file(file, JSON_DECODE_ANY, &e);
    if (!j) cli_fail("Cannot read the schema file %s: %s (line %d)", file, e.text, e.line);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "type")))
        cli_fail("%s: a schema definition file is a JSON object {\"type\": \"AVRO\", "
                 "\"schema\": \"...\", \"properties\": {}}",
                 file);
    return j;
}

/* GetSchemaResponse -> pulsar-admin's SchemaInfoWithVersion. */
static json_t *info_of(json_t *resp, const char *local)
{
    const char *data = json_string_value(json_object_get(resp, "data"));
    json_t *sch = data && *data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
    if (sch && !json_is_object(sch) && !json_is_array(sch)) {
        json_decref(sch);
        sch = NULL;
    }
    if (!sch) sch = json_string(data ? data : "");
    json_t *props = json_object_get(resp, "properties");
    json_t *info = json_pack("{s:s, s:o, s:O, s:O, s:o}", "name", local, "schema", sch, "type",
                             json_object_get(resp, "type") ?: json_null(), "timestamp",
                             json_object_get(resp, "timestamp") ?: json_null(), "properties",
                             props ? json_incref(props) : json_object());
    return json_pack("{s:O, s:o}", "version", json_object_get(resp, "version") ?: json_null(),
                     "schemaInfo", info ? info : json_object());
}

int cmd_schemas(const char *sub, cli_args_t *a)
{
    char path[3000];
    if (!strcmp(sub, "get")) {
        const char *topic = topic_arg(a, false, O("-v", "--version"), O("-a", "--all-version"));
        const char *v = opt(a, O("-v", "--version"));
        bool all = flag(a, O("-a", "--all-version"));
        if (v && all)
            cli_fail("Only one or neither of --version and --all-version can be specified.");
        if (all) {
            schema_path(topic, "schemas", path, sizeof path);
            json_t *r = cli_call("GET", path, NULL);
            json_t *out = json_array(), *e;
            size_t i;
            json_array_foreach(json_object_get(r, "getSchemaResponses"), i, e)
                json_array_append_new(out, info_of(e, local_name(topic)));
            json_decref(r);
            cli_print_json(out);
            return 0;
        }
        if (v) {
            char *end;
            long long n = strtoll(v, &end, 10);
            if (!*v || *end || n < 0)
                cli_fail("Option --version must be a number >= 0, but found %s", v);
            char op[64];
            snprintf(op, sizeof op, "schema/%lld", n);
            schema_path(topic, op, path, sizeof path);
        } else {
            schema_path(topic, "schema", path, sizeof path);
        }
        json_t *r = cli_call("GET", path, NULL);
        cli_print_json(info_of(r, local_name(topic)));
        json_decref(r);
    } else if (!strcmp(sub, "upload") || !strcmp(sub, "test-compatibility") ||
               !strcmp(sub, "compatibility")) {
        const char *topic = topic_arg(a, false, O("-f", "--filename"), O(NULL));
        const char *file = opt(a, O("-f", "--filename"));
        if (!file) cli_fail("The schema definition file is required: -f/--filename FILE");
        json_t *p = load_payload(file);
        char *body = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(p);
        bool up = !strcmp(sub, "upload");
        schema_path(topic, up ? "schema" : "compatibility", path, sizeof path);
        json_t *r = cli_call("POST", path, body);
        free(body);
        if (up) { /* pulsar-admin prints nothing */
            json_decref(r);
            return 0;
        }
        bool ok = json_is_true(json_object_get(r, "compatibility"));
        const char *why = json_string_value(json_object_get(r, "reason"));
        if (!ok) fprintf(stderr, "Incompatible schema\n\nReason: %s\n", why ? why : "(none given)");
        cli_print_json(r);
        return ok ? 0 : 1;
    } else if (!strcmp(sub, "delete")) {
        const char *topic = topic_arg(a, true, O("-f"), O("--force"));
        schema_path(topic, flag(a, O("-f", "--force")) ? "schema?force=true" : "schema", path,
                    sizeof path);
        json_decref(cli_call("DELETE", path, NULL));
    } else {
        cli_fail("Unknown command 'schemas %s' (see magnetar-admin --help)", sub);
    }
    return 0;
}

/* --- apply -f: the schemas: section ------------------------------------------------------- */

static bool struct_type(const char *type)
{
    return !strcasecmp(type, "AVRO") || !strcasecmp(type, "JSON") || !strcasecmp(type, "PROTOBUF");
}

/* The same schema text? JSON texts are compared as JSON (key order and spacing aside). */
static bool same_schema(const char *x, const char *y)
{
    if (!strcmp(x, y)) return true;
    json_t *a = json_loads(x, JSON_DECODE_ANY, NULL), *b = json_loads(y, JSON_DECODE_ANY, NULL);
    bool eq = a && b && json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return eq;
}

static bool same_type(const char *x, const char *y)
{
    bool xn = !strcasecmp(x, "NONE") || !strcasecmp(x, "BYTES");
    bool yn = !strcasecmp(y, "NONE") || !strcasecmp(y, "BYTES");
    return xn == yn && (xn || !strcasecmp(x, y));
}

/* The PostSchemaPayload a manifest entry asks for (new reference); exits on a bad entry. */
static json_t *wanted(json_t *e, const char *where, const char *manifest)
{
    json_t *file = json_object_get(e, "file"), *sch = json_object_get(e, "schema");
    json_t *type = json_object_get(e, "type"), *props = json_object_get(e, "properties");
    json_t *p;
    if (file) {
        if (!json_is_string(file)) cli_fail("apply: %s: 'file' must be a path", where);
        if (sch) cli_fail("apply: %s: give either 'schema' or 'file', not both", where);
        const char *f = json_string_value(file);
        char full[4096];
        const char *slash = strrchr(manifest, '/');
        if (f[0] == '/' || !slash)
            snprintf(full, sizeof full, "%s", f);
        else
            snprintf(full, sizeof full, "%.*s/%s", (int)(slash - manifest), manifest, f);
        p = load_payload(full); /* the file names its type and properties ... */
        if (json_is_string(type)) json_object_set(p, "type", type); /* ... unless overridden */
        if (!json_object_get(p, "schema")) json_object_set_new(p, "schema", json_string(""));
    } else {
        if (!json_is_string(type))
            cli_fail("apply: %s: a 'type' (AVRO, JSON, STRING, ...) is required", where);
        char *text;
        if (!sch || json_is_null(sch))
            text = strdup("");
        else if (json_is_string(sch))
            text = strdup(json_string_value(sch));
        else
            text = json_dumps(sch, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        p = json_pack("{s:O, s:s}", "type", type, "schema", text ? text : "");
        free(text);
    }
    /* struct schemas are sent as compact JSON, whatever the manifest's layout */
    const char *ts = json_string_value(json_object_get(p, "type"));
    json_t *s = json_object_get(p, "schema");
    if (!json_is_string(s)) { /* an inline object in a schema file */
        char *text = json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        json_object_set_new(p, "schema", json_string(text ? text : ""));
        free(text);
    } else if (ts && struct_type(ts)) {
        json_t *parsed = json_loads(json_string_value(s), JSON_DECODE_ANY, NULL);
        if (parsed) {
            char *text = json_dumps(parsed, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            json_object_set_new(p, "schema", json_string(text ? text : ""));
            free(text);
            json_decref(parsed);
        }
    }
    /* properties are a string -> string map: YAML numbers and booleans become their text */
    if (props && !file) json_object_set(p, "properties", props);
    json_t *in = json_object_get(p, "properties"), *out = json_object(), *v;
    const char *k;
    if (in && !json_is_object(in) && !json_is_null(in))
        cli_fail("apply: %s: 'properties' must be a map", where);
    json_object_foreach(in, k, v)
    {
        char buf[64];
        if (json_is_string(v))
            json_object_set(out, k, v);
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            json_object_set_new(out, k, json_string(buf));
        } else if (json_is_boolean(v))
            json_object_set_new(out, k, json_string(json_is_true(v) ? "true" : "false"));
        else
            cli_fail("apply: %s: property '%s' must be a string", where, k);
    }
    json_object_set_new(p, "properties", out);
    return p;
}

static const char *reason_of(cli_res_t *r, json_t **keep)
{
    *keep = json_loads(r->body, 0, NULL);
    const char *s = json_string_value(json_object_get(*keep, "reason"));
    return s ? s : r->body;
}

int schemas_apply(const char *tenant, const char *ns, json_t *list, const char *manifest, bool dry,
                  int *refused)
{
    if (!list) return 0;
    if (!json_is_array(list))
        cli_fail("apply: 'schemas' of namespace %s/%s must be a list", tenant, ns);
    int changes = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "topic"));
        if (!json_is_object(e) || !t)
            cli_fail("apply: schema %zu of namespace %s/%s needs a topic", i, tenant, ns);
        char full[2048], where[2200], path[3000];
        if (strchr(t, '/'))
            snprintf(full, sizeof full, "%s%s", strstr(t, "://") ? "" : "persistent://", t);
        else
            snprintf(full, sizeof full, "persistent://%s/%s/%s", tenant, ns, t);
        snprintf(where, sizeof where, "schema of %s", full);
        json_t *want = wanted(e, where, manifest);
        const char *wtype = json_string_value(json_object_get(want, "type"));
        schema_path(full, "schema", path, sizeof path);

        cli_res_t r;
        long st = cli_http("GET", path, NULL, &r);
        if (st == 0) cli_fail("Cannot reach %s: %s", cli_url, r.body);
        json_t *have = st == 200 ? json_loads(r.body, 0, NULL) : NULL;
        json_t *err = NULL;
        if (st != 200 && st != 404) cli_fail("GET %s failed: %s", path, reason_of(&r, &err));
        cli_res_free(&r);
        long long latest = -1;
        if (have) {
            latest = (long long)json_integer_value(json_object_get(have, "version"));
            const char *htype = json_string_value(json_object_get(have, "type")) ?: "";
            const char *hdata = json_string_value(json_object_get(have, "data")) ?: "";
            json_t *hp = json_object_get(have, "properties");
            json_t *wp = json_object_get(want, "properties");
            bool same = same_type(htype, wtype) &&
                        same_schema(hdata, json_string_value(json_object_get(want, "schema")));
            /* The registry knows a schema by its type and data (Pulsar's SchemaHash): an upload
             * that changes only the properties returns the existing version unchanged. */
            if (same && !(hp ? json_equal(hp, wp) : json_object_size(wp) == 0))
                fprintf(stderr,
                        "warning: the schema for %s differs only in its properties, "
                        "which the registry does not version; not changed\n",
                        full);
            json_decref(have);
            if (same) { /* unchanged: nothing to say */
                json_decref(want);
                continue;
            }
        }
        char *body = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (latest >= 0) {
            /* An older live version with this data would be returned as is (Pulsar's
             * putSchemaIfAbsent), never made the latest again: say so instead of uploading. */
            schema_path(full, "version", path, sizeof path);
            st = cli_http("POST", path, body, &r);
            json_t *fv = st == 200 ? json_loads(r.body, 0, NULL) : NULL;
            cli_res_free(&r);
            if (fv) {
                fprintf(stderr,
                        "warning: the schema for %s is its version %lld, older than the "
                        "latest (%lld); the registry does not register it again; not changed\n",
                        full, (long long)json_integer_value(json_object_get(fv, "version")),
                        latest);
                json_decref(fv);
                free(body);
                json_decref(want);
                continue;
            }
            schema_path(full, "schema", path, sizeof path);
        }
        changes++;
        char vs[64] = "";
        if (latest >= 0) snprintf(vs, sizeof vs, " (latest version %lld)", latest);
        if (dry) {
            printf("would upload %s schema for %s%s\n", wtype, full, vs);
            /* ask the registry whether it would take it (404: the namespace is not there yet) */
            schema_path(full, "compatibility", path, sizeof path);
            st = cli_http("POST", path, body, &r);
            json_t *c = st == 200 ? json_loads(r.body, 0, NULL) : NULL;
            if (st == 200 && c && !json_is_true(json_object_get(c, "compatibility"))) {
                const char *why = json_string_value(json_object_get(c, "reason"));
                fprintf(stderr, "error: the schema for %s would be refused: %s\n", full,
                        why ? why : "incompatible");
                (*refused)++;
            } else if (st != 200 && st != 404) {
                fprintf(stderr, "error: the schema for %s would be refused: %s\n", full,
                        st ? reason_of(&r, &err) : r.body);
                (*refused)++;
            }
            json_decref(c);
            cli_res_free(&r);
        } else {
            st = cli_http("POST", path, body, &r);
            if (st < 200 || st >= 300) {
                const char *why = st ? reason_of(&r, &err) : r.body;
                fprintf(stderr, "apply: the schema for %s was refused\n\nReason: %s\n", full, why);
                fprintf(stderr, "(HTTP %ld POST %s)\n", st, path);
                exit(1);
            }
            json_t *res = json_loads(r.body, 0, NULL);
            long long v = (long long)json_integer_value(
                json_object_get(json_object_get(res, "version"), "version"));
            printf("upload %s schema for %s%s: version %lld\n", wtype, full, vs, v);
            json_decref(res);
            cli_res_free(&r);
        }
        json_decref(err);
        free(body);
        json_decref(want);
    }
    return changes;
}
