/* avro_check.c - Avro schema model and the schema-resolution checker behind
 * schema_avro_can_read() and schema_avro_validate().
 *
 * avro-c validates a schema, but its resolver does not implement reader defaults, so the
 * compatibility decision is ours: we parse the JSON with jansson into a small type graph
 * (av_node_t; named types are shared nodes, so recursive types become cycles), then walk a
 * reader graph against a writer graph following "Schema Resolution" in the Avro 1.11
 * specification. Cycles are cut by memoising (reader, writer) pairs: a pair met again while
 * it is still being checked is assumed compatible (the usual co-inductive argument; Avro's Java
 * and Python checkers do the same). See docs/schema.md for the rules and the known limits. */
#include "schema/compat.h"

#include "common/util.h"

#include <avro.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

/* Recursion limit of the reader/writer walk. Each step descends into the reader or the writer,
 * so for sane schemas the depth stays below the sum of their nesting depths; this only stops
 * pathological mutually recursive pairs from exhausting the stack. */
#define RC_MAX_DEPTH 1000

enum av_kind {
    AV_NULL,
    AV_BOOLEAN,
    AV_INT,
    AV_LONG,
    AV_FLOAT,
    AV_DOUBLE,
    AV_BYTES,
    AV_STRING,
    AV_RECORD,
    AV_ENUM,
    AV_ARRAY,
    AV_MAP,
    AV_UNION,
    AV_FIXED,
};

static const char *const av_kind_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed",
};

typedef struct av_node av_node_t;

typedef struct av_field {
    const char *name; /* borrowed from the JSON tree */
    json_t *aliases;  /* borrowed JSON array of strings, or NULL */
    av_node_t *type;
    int has_default;
} av_field_t;

struct av_node {
    int kind;
    size_t id;          /* index in av_schema_t.nodes */
    const char *name;   /* named types: unqualified name (borrowed) */
    char *fullname;     /* named types: owned */
    char *ns;           /* named types: owned namespace, NULL for the null namespace */
    json_t *aliases;    /* named types: borrowed JSON array, or NULL */
    av_field_t *fields; /* record */
    size_t n_fields;
    json_t *symbols;          /* enum: borrowed JSON array of strings */
    const char *enum_default; /* enum: borrowed, or NULL */
    av_node_t *child;         /* array items, map values */
    av_node_t **branches;     /* union */
    size_t n_branches;
    json_int_t size; /* fixed */
};

typedef struct av_schema {
    json_t *root;
    av_node_t *top;    /* the schema's root type */
    av_node_t **nodes; /* every node, owned; nodes[i]->id == i */
    size_t n_nodes, cap_nodes;
    av_node_t **named; /* open-addressing hash of named nodes by fullname (borrowed) */
    size_t named_cap, n_named;
    char *err;
    size_t err_len;
} av_schema_t;

/* ------------------------------------------------------------------------------------------
 * Parsing JSON into the type graph
 * ---------------------------------------------------------------------------------------- */

static int av_primitive_kind(const char *s)
{
    for (int k = AV_NULL; k <= AV_STRING; k++)
        if (strcmp(s, av_kind_names[k]) == 0) return k;
    return -1;
}

/* [A-Za-z_$][A-Za-z0-9_$]* for n bytes of s. The '$' is Pulsar's CompatibleNameValidator
 * extension (Java reflection puts nested classes in namespaces like "com.x.Outer$"); avro-c
 * still refuses it in names, though not in namespaces. */
static int av_valid_ident(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
        if (!alpha && (i == 0 || c < '0' || c > '9')) return 0;
    }
    return 1;
}

/* A dotted name: identifiers separated by single dots. */
static int av_valid_fullname(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!av_valid_ident(p, n)) return 0;
        if (!dot) return 1;
        p = dot + 1;
    }
}

static uint64_t av_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static av_node_t *av_lookup(const av_schema_t *s, const char *fullname)
{
    if (s->named_cap == 0) return NULL;
    size_t mask = s->named_cap - 1;
    for (size_t i = av_hash(fullname) & mask;; i = (i + 1) & mask) {
        av_node_t *n = s->named[i];
        if (!n) return NULL;
        if (strcmp(n->fullname, fullname) == 0) return n;
    }
}

static int av_register(av_schema_t *s, av_node_t *node)
{
    if ((s->n_named + 1) * 2 > s->named_cap) {
        size_t cap = s->named_cap ? s->named_cap * 2 : 16;
        av_node_t **t = mg_calloc(cap, sizeof(*t));
        if (!t) return -1;
        for (size_t i = 0; i < s->named_cap; i++) {
            av_node_t *n = s->named[i];
            if (!n) continue;
            size_t j = av_hash(n->fullname) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = n;
        }
        mg_free(s->named);
        s->named = t;
        s->named_cap = cap;
    }
    size_t j = av_hash(node->fullname) & (s->named_cap - 1);
    while (s->named[j])
        j = (j + 1) & (s->named_cap - 1);
    s->named[j] = node;
    s->n_named++;
    return 0;
}

static void av_err(av_schema_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_err(av_schema_t *s, const char *fmt, ...)
{
    if (s->err[0]) return; /* keep the first (innermost) error */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->err_len, fmt, ap);
    va_end(ap);
}

static av_node_t *av_new(av_schema_t *s, int kind)
{
    if (s->n_nodes >= SCHEMA_MAX_NODES) {
        av_err(s, "schema has more than %d types", SCHEMA_MAX_NODES);
        return NULL;
    }
    if (s->n_nodes == s->cap_nodes) {
        size_t cap = s->cap_nodes ? s->cap_nodes * 2 : 32;
        av_node_t **t = mg_realloc(s->nodes, cap * sizeof(*t));
        if (!t) {
            av_err(s, "out of memory");
            return NULL;
        }
        s->nodes = t;
        s->cap_nodes = cap;
    }
    av_node_t *n = mg_calloc(1, sizeof(*n));
    if (!n) {
        av_err(s, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->id = s->n_nodes;
    s->nodes[s->n_nodes++] = n;
    return n;
}

static void av_schema_free(av_schema_t *s)
{
    for (size_t i = 0; i < s->n_nodes; i++) {
        av_node_t *n = s->nodes[i];
        mg_free(n->fullname);
        mg_free(n->ns);
        mg_free(n->fields);
        mg_free(n->branches);
        mg_free(n);
    }
    mg_free(s->nodes);
    mg_free(s->named);
    if (s->root) json_decref(s->root);
    memset(s, 0, sizeof(*s));
}

static av_node_t *av_parse(av_schema_t *s, json_t *j, const char *ns, int depth);

/* A type name used as a reference: primitive, or a named type defined earlier (or being defined:
 * that is how recursion is written). Relative names are qualified with the enclosing namespace. */
static av_node_t *av_parse_ref(av_schema_t *s, const char *name, const char *ns)
{
    int k = av_primitive_kind(name);
    if (k >= 0) return av_new(s, k);
    av_node_t *n = NULL;
    if (strchr(name, '.') || !ns) {
        n = av_lookup(s, name);
    } else {
        size_t len = strlen(ns) + 1 + strlen(name) + 1;
        char *full = mg_malloc(len);
        if (!full) {
            av_err(s, "out of memory");
            return NULL;
        }
        snprintf(full, len, "%s.%s", ns, name);
        n = av_lookup(s, full);
        mg_free(full);
    }
    if (!n) av_err(s, "unknown type name '%s'", name);
    return n;
}

/* Check an optional "aliases" member: an array of valid (possibly dotted) names. */
static int av_check_aliases(av_schema_t *s, json_t *obj, const char *owner, json_t **out)
{
    json_t *a = json_object_get(obj, "aliases");
    *out = NULL;
    if (!a) return 0;
    if (!json_is_array(a)) {
        av_err(s, "'aliases' of '%s' must be an array of names", owner);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !av_valid_fullname(json_string_value(v))) {
            av_err(s, "'aliases' of '%s' contains an invalid name", owner);
            return -1;
        }
    }
    *out = a;
    return 0;
}

/* Named types (record, enum, fixed): name, namespace, aliases; registers the node so that its
 * own body can refer to it. */
static av_node_t *av_parse_named(av_schema_t *s, json_t *j, int kind, const char *ns)
{
    json_t *jn = json_object_get(j, "name");
    if (!json_is_string(jn)) {
        av_err(s, "%s without a string 'name'", av_kind_names[kind]);
        return NULL;
    }
    const char *name = json_string_value(jn);
    if (!av_valid_fullname(name)) {
        av_err(s, "invalid %s name '%s'", av_kind_names[kind], name);
        return NULL;
    }
    const char *dot = strrchr(name, '.');
    const char *shortname = dot ? dot + 1 : name;
    char *own_ns = NULL;
    if (dot) {
        own_ns = mg_strndup(name, (size_t)(dot - name));
        if (!own_ns) {
            av_err(s, "out of memory");
            return NULL;
        }
    } else {
        json_t *jns = json_object_get(j, "namespace");
        const char *nsv = ns;
        if (jns && !json_is_null(jns)) {
            if (!json_is_string(jns)) {
                av_err(s, "'namespace' of '%s' must be a string", name);
                return NULL;
            }
            nsv = json_string_value(jns);
            if (nsv[0] && !av_valid_fullname(nsv)) {
                av_err(s, "invalid namespace '%s' of '%s'", nsv, name);
                return NULL;
            }
        }
        if (nsv && nsv[0]) {
            own_ns = mg_strdup(nsv);
            if (!own_ns) {
                av_err(s, "out of memory");
                return NULL;
            }
        }
    }
    if (av_primitive_kind(shortname) >= 0) {
        mg_free(own_ns);
        av_err(s, "%s may not be named after the primitive type '%s'", av_kind_names[kind],
               shortname);
        return NULL;
    }
    size_t flen = (own_ns ? strlen(own_ns) + 1 : 0) + strlen(shortname) + 1;
    char *full = mg_malloc(flen);
    if (!full) {
        mg_free(own_ns);
        av_err(s, "out of memory");
        return NULL;
    }
    if (own_ns)
        snprintf(full, flen, "%s.%s", own_ns, shortname);
    else
        snprintf(full, flen, "%s", shortname);
    if (av_lookup(s, full)) {
        av_err(s, "type '%s' is defined twice", full);
        mg_free(own_ns);
        mg_free(full);
        return NULL;
    }
    av_node_t *n = av_new(s, kind);
    if (!n) {
        mg_free(own_ns);
        mg_free(full);
        return NULL;
    }
    n->name = shortname;
    n->ns = own_ns;
    n->fullname = full;
    if (av_check_aliases(s, j, full, &n->aliases) < 0) return NULL;
    if (av_register(s, n) < 0) {
        av_err(s, "out of memory");
        return NULL;
    }
    return n;
}

static av_node_t *av_parse_record(av_schema_t *s, json_t *j, const char *ns, int depth)
{
    av_node_t *n = av_parse_named(s, j, AV_RECORD, ns);
    if (!n) return NULL;
    json_t *fields = json_object_get(j, "fields");
    if (!json_is_array(fields)) {
        av_err(s, "record '%s' without a 'fields' array", n->fullname);
        return NULL;
    }
    size_t nf = json_array_size(fields);
    if (nf) {
        n->fields = mg_calloc(nf, sizeof(*n->fields));
        if (!n->fields) {
            av_err(s, "out of memory");
            return NULL;
        }
    }
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_array_get(fields, i);
        if (!json_is_object(f)) {
            av_err(s, "field %zu of record '%s' is not an object", i, n->fullname);
            return NULL;
        }
        json_t *fn = json_object_get(f, "name");
        if (!json_is_string(fn) ||
            !av_valid_ident(json_string_value(fn), strlen(json_string_value(fn)))) {
            av_err(s, "field %zu of record '%s' has no valid 'name'", i, n->fullname);
            return NULL;
        }
        const char *fname = json_string_value(fn);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(n->fields[k].name, fname) == 0) {
                av_err(s, "record '%s' has two fields named '%s'", n->fullname, fname);
                return NULL;
            }
        }
        json_t *ft = json_object_get(f, "type");
        if (!ft) {
            av_err(s, "field '%s' of record '%s' has no 'type'", fname, n->fullname);
            return NULL;
        }
        av_field_t *fd = &n->fields[i];
        fd->name = fname;
        fd->has_default = json_object_get(f, "default") != NULL;
        if (av_check_aliases(s, f, fname, &fd->aliases) < 0) return NULL;
        fd->type = av_parse(s, ft, n->ns, depth + 1);
        if (!fd->type) return NULL;
        n->n_fields = i + 1;
    }
    return n;
}

static av_node_t *av_parse_enum(av_schema_t *s, json_t *j, const char *ns)
{
    av_node_t *n = av_parse_named(s, j, AV_ENUM, ns);
    if (!n) return NULL;
    json_t *sy = json_object_get(j, "symbols");
    if (!json_is_array(sy)) {
        av_err(s, "enum '%s' without a 'symbols' array", n->fullname);
        return NULL;
    }
    size_t count = json_array_size(sy);
    for (size_t i = 0; i < count; i++) {
        json_t *v = json_array_get(sy, i);
        if (!json_is_string(v) ||
            !av_valid_ident(json_string_value(v), strlen(json_string_value(v)))) {
            av_err(s, "enum '%s' has an invalid symbol at index %zu", n->fullname, i);
            return NULL;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(json_string_value(json_array_get(sy, k)), json_string_value(v)) == 0) {
                av_err(s, "enum '%s' lists symbol '%s' twice", n->fullname, json_string_value(v));
                return NULL;
            }
        }
    }
    n->symbols = sy;
    json_t *d = json_object_get(j, "default");
    if (d) {
        int found = 0;
        if (json_is_string(d))
            for (size_t i = 0; i < count && !found; i++)
                found = strcmp(json_string_value(json_array_get(sy, i)), json_string_value(d)) == 0;
        if (!found) {
            av_err(s, "default of enum '%s' is not one of its symbols", n->fullname);
            return NULL;
        }
        n->enum_default = json_string_value(d);
    }
    return n;
}

static av_node_t *av_parse_union(av_schema_t *s, json_t *j, const char *ns, int depth)
{
    av_node_t *n = av_new(s, AV_UNION);
    if (!n) return NULL;
    size_t nb = json_array_size(j);
    if (nb) {
        n->branches = mg_calloc(nb, sizeof(*n->branches));
        if (!n->branches) {
            av_err(s, "out of memory");
            return NULL;
        }
    }
    for (size_t i = 0; i < nb; i++) {
        av_node_t *b = av_parse(s, json_array_get(j, i), ns, depth + 1);
        if (!b) return NULL;
        if (b->kind == AV_UNION) {
            av_err(s, "a union may not directly contain another union");
            return NULL;
        }
        for (size_t k = 0; k < i; k++) {
            av_node_t *o = n->branches[k];
            int named = b->kind == AV_RECORD || b->kind == AV_ENUM || b->kind == AV_FIXED;
            if (o->kind == b->kind && (!named || strcmp(o->fullname, b->fullname) == 0)) {
                av_err(s, "union contains %s '%s' twice", av_kind_names[b->kind],
                       named ? b->fullname : av_kind_names[b->kind]);
                return NULL;
            }
        }
        n->branches[i] = b;
        n->n_branches = i + 1;
    }
    return n;
}

/* Parse one schema (string, object or array) in namespace ns. Returns NULL with s->err set. */
static av_node_t *av_parse(av_schema_t *s, json_t *j, const char *ns, int depth)
{
    if (depth > SCHEMA_MAX_DEPTH) {
        av_err(s, "schema nested deeper than %d levels", SCHEMA_MAX_DEPTH);
        return NULL;
    }
    if (json_is_string(j)) return av_parse_ref(s, json_string_value(j), ns);
    if (json_is_array(j)) return av_parse_union(s, j, ns, depth);
    if (!json_is_object(j)) {
        av_err(s, "a schema must be a type name, an object or an array (union)");
        return NULL;
    }
    json_t *jt = json_object_get(j, "type");
    if (!json_is_string(jt)) {
        av_err(s, "schema object without a string 'type'");
        return NULL;
    }
    const char *t = json_string_value(jt);
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0)
        return av_parse_record(s, j, ns, depth);
    if (strcmp(t, "enum") == 0) return av_parse_enum(s, j, ns);
    if (strcmp(t, "fixed") == 0) {
        av_node_t *n = av_parse_named(s, j, AV_FIXED, ns);
        if (!n) return NULL;
        json_t *sz = json_object_get(j, "size");
        if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
            av_err(s, "fixed '%s' without a non-negative integer 'size'", n->fullname);
            return NULL;
        }
        n->size = json_integer_value(sz);
        return n;
    }
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        int is_array = t[0] == 'a';
        json_t *c = json_object_get(j, is_array ? "items" : "values");
        if (!c) {
            av_err(s, "%s without '%s'", t, is_array ? "items" : "values");
            return NULL;
        }
        av_node_t *n = av_new(s, is_array ? AV_ARRAY : AV_MAP);
        if (!n) return NULL;
        n->child = av_parse(s, c, ns, depth + 1);
        return n->child ? n : NULL;
    }
    /* {"type": "int", "logicalType": ...} or {"type": "SomeNamedType"}; logical types resolve
     * as their underlying type, so the annotation is ignored. */
    return av_parse_ref(s, t, ns);
}

/* Load `json` into s: size limit, jansson, avro-c, then our model. Returns 0 or -1 (s->err). */
static int av_load(av_schema_t *s, const char *json, size_t len, char *err, size_t err_len)
{
    memset(s, 0, sizeof(*s));
    s->err = err;
    s->err_len = err_len;
    err[0] = '\0';
    if (!json || len == 0) {
        av_err(s, "empty schema definition");
        return -1;
    }
    if (len > SCHEMA_MAX_BYTES) {
        av_err(s, "schema definition is %zu bytes, the limit is %u", len, SCHEMA_MAX_BYTES);
        return -1;
    }
    json_error_t jerr;
    s->root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!s->root) {
        av_err(s, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return -1;
    }
    /* Our own walk first: it enforces the depth and size limits before avro-c recurses. */
    s->top = av_parse(s, s->root, NULL, 0);
    if (!s->top) {
        if (!err[0]) av_err(s, "invalid schema");
        return -1;
    }
    avro_schema_t as = NULL;
    if (avro_schema_from_json_length(json, len, &as) != 0) {
        const char *e = avro_strerror();
        av_err(s, "avro-c rejects the schema: %s", e && e[0] ? e : "unknown error");
        return -1;
    }
    avro_schema_decref(as);
    return 0;
}

int schema_avro_validate(const char *json, size_t len, char *reason, size_t reason_len)
{
    char err[256];
    av_schema_t s;
    int rc = av_load(&s, json, len, err, sizeof(err));
    av_schema_free(&s);
    if (rc < 0) {
        mg_set_err(reason, reason_len, "%s", err);
        return -1;
    }
    mg_set_err(reason, reason_len, "%s", "");
    return 1;
}

/* ------------------------------------------------------------------------------------------
 * The reader/writer walk
 * ---------------------------------------------------------------------------------------- */

enum { MEMO_IN_PROGRESS = 1, MEMO_OK = 2 };

typedef struct rc_ctx {
    char path[256]; /* where we are in the reader, e.g. "User.address.zip" */
    size_t plen;
    char *reason;
    size_t reason_len;
    uint64_t *memo_keys; /* (reader id + 1) << 32 | (writer id + 1); 0 = empty slot */
    uint8_t *memo_state;
    size_t memo_cap, memo_n;
} rc_ctx_t;

static uint8_t *rc_memo_slot(rc_ctx_t *c, const av_node_t *r, const av_node_t *w, int create)
{
    uint64_t key = ((uint64_t)(r->id + 1) << 32) | (uint64_t)(w->id + 1);
    if (create && (c->memo_n + 1) * 2 > c->memo_cap) {
        size_t cap = c->memo_cap ? c->memo_cap * 2 : 64;
        uint64_t *k = mg_calloc(cap, sizeof(*k));
        uint8_t *st = mg_calloc(cap, 1);
        if (!k || !st) {
            mg_free(k);
            mg_free(st);
            return NULL;
        }
        for (size_t i = 0; i < c->memo_cap; i++) {
            if (!c->memo_keys[i]) continue;
            size_t j = (c->memo_keys[i] * 0x9E3779B97F4A7C15ull >> 17) & (cap - 1);
            while (k[j])
                j = (j + 1) & (cap - 1);
            k[j] = c->memo_keys[i];
            st[j] = c->memo_state[i];
        }
        mg_free(c->memo_keys);
        mg_free(c->memo_state);
        c->memo_keys = k;
        c->memo_state = st;
        c->memo_cap = cap;
    }
    if (c->memo_cap == 0) return NULL;
    size_t mask = c->memo_cap - 1;
    for (size_t j = (key * 0x9E3779B97F4A7C15ull >> 17) & mask;; j = (j + 1) & mask) {
        if (c->memo_keys[j] == key) return &c->memo_state[j];
        if (!c->memo_keys[j]) {
            if (!create) return NULL;
            c->memo_keys[j] = key;
            c->memo_n++;
            return &c->memo_state[j];
        }
    }
}

/* Human-readable type: "int", "record 'ns.User'", "union [null, string]". */
static const char *av_desc(const av_node_t *n, char *buf, size_t len)
{
    if (n->fullname) {
        snprintf(buf, len, "%s '%s'", av_kind_names[n->kind], n->fullname);
    } else if (n->kind == AV_UNION) {
        size_t o = (size_t)snprintf(buf, len, "union [");
        for (size_t i = 0; i < n->n_branches && o < len; i++) {
            const av_node_t *b = n->branches[i];
            o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
                                  b->fullname ? b->fullname : av_kind_names[b->kind]);
        }
        if (o < len) snprintf(buf + o, len - o, "]");
    } else if (n->kind == AV_ARRAY || n->kind == AV_MAP) {
        const av_node_t *ch = n->child;
        snprintf(buf, len, "%s<%s>", av_kind_names[n->kind],
                 ch->fullname ? ch->fullname : av_kind_names[ch->kind]);
    } else {
        snprintf(buf, len, "%s", av_kind_names[n->kind]);
    }
    return buf;
}

static void rc_fail(rc_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rc_fail(rc_ctx_t *c, const char *fmt, ...)
{
    if (!c->reason || c->reason_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->reason, c->reason_len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < c->reason_len)
        snprintf(c->reason + n, c->reason_len - (size_t)n, " (at %s)",
                 c->plen ? c->path : "top level");
}

/* Append a path segment; returns the previous length to restore. */
static size_t rc_push(rc_ctx_t *c, const char *sep, const char *seg)
{
    size_t old = c->plen;
    if (c->plen < sizeof(c->path)) {
        int n =
            snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen ? sep : "", seg);
        if (n > 0) c->plen += (size_t)n;
        if (c->plen >= sizeof(c->path)) c->plen = sizeof(c->path) - 1;
    }
    return old;
}

static void rc_pop(rc_ctx_t *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* Reader named type matches writer named type: same unqualified name, or one of the reader's
 * aliases (relative ones qualified with the reader's namespace) equals the writer's full name. */
static int av_names_match(const av_node_t *r, const av_node_t *w)
{
    if (strcmp(r->name, w->name) == 0) return 1;
    if (!r->aliases) return 0;
    size_t i;
    json_t *a;
    json_array_foreach(r->aliases, i, a)
    {
        const char *al = json_string_value(a);
        if (strchr(al, '.') || !r->ns) {
            if (strcmp(al, w->fullname) == 0) return 1;
        } else {
            size_t nl = strlen(r->ns);
            if (strncmp(w->fullname, r->ns, nl) == 0 && w->fullname[nl] == '.' &&
                strcmp(w->fullname + nl + 1, al) == 0)
                return 1;
        }
    }
    return 0;
}

/* Writer kind w may be read as reader kind r by promotion (spec: int->long,float,double;
 * long->float,double; float->double; string<->bytes). */
static int av_promotes(int w, int r)
{
    switch (w) {
    case AV_INT:
        return r == AV_LONG || r == AV_FLOAT || r == AV_DOUBLE;
    case AV_LONG:
        return r == AV_FLOAT || r == AV_DOUBLE;
    case AV_FLOAT:
        return r == AV_DOUBLE;
    case AV_STRING:
        return r == AV_BYTES;
    case AV_BYTES:
        return r == AV_STRING;
    default:
        return 0;
    }
}

/* The spec's shallow "match" of a reader union branch against a (non-union) writer:
 * 2 = same kind (and, for named types, matching names), 1 = by promotion, 0 = no match. */
static int av_branch_match(const av_node_t *r, const av_node_t *w)
{
    if (r->kind == w->kind) {
        if (r->kind == AV_RECORD || r->kind == AV_ENUM || r->kind == AV_FIXED)
            return av_names_match(r, w) ? 2 : 0;
        return 2;
    }
    return av_promotes(w->kind, r->kind) ? 1 : 0;
}

static int rc_check(rc_ctx_t *c, const av_node_t *r, const av_node_t *w, int depth);

static int rc_record(rc_ctx_t *c, const av_node_t *r, const av_node_t *w, int depth)
{
    char d1[160];
    for (size_t i = 0; i < r->n_fields; i++) {
        const av_field_t *rf = &r->fields[i];
        const av_field_t *wf = NULL;
        for (size_t k = 0; k < w->n_fields && !wf; k++)
            if (strcmp(w->fields[k].name, rf->name) == 0) wf = &w->fields[k];
        if (!wf && rf->aliases) {
            size_t ai;
            json_t *a;
            json_array_foreach(rf->aliases, ai, a)
            {
                for (size_t k = 0; k < w->n_fields && !wf; k++)
                    if (strcmp(w->fields[k].name, json_string_value(a)) == 0) wf = &w->fields[k];
                if (wf) break;
            }
        }
        if (!wf) {
            if (rf->has_default) continue; /* the reader's default fills it in */
            rc_fail(c, "field '%s' (%s) in reader has no default and is missing in writer",
                    rf->name, av_desc(rf->type, d1, sizeof(d1)));
            return 0;
        }
        size_t old = rc_push(c, ".", rf->name);
        int rc = rc_check(c, rf->type, wf->type, depth + 1);
        rc_pop(c, old);
        if (rc != 1) return rc;
    }
    /* Writer fields the reader lacks are skipped when reading: nothing to check. */
    return 1;
}

static int rc_enum(rc_ctx_t *c, const av_node_t *r, const av_node_t *w)
{
    size_t wi;
    json_t *ws;
    json_array_foreach(w->symbols, wi, ws)
    {
        const char *sym = json_string_value(ws);
        int found = 0;
        for (size_t ri = 0; ri < json_array_size(r->symbols) && !found; ri++)
            found = strcmp(json_string_value(json_array_get(r->symbols, ri)), sym) == 0;
        if (!found && !r->enum_default) {
            rc_fail(c,
                    "writer enum '%s' symbol '%s' is not in reader enum '%s', which has no default",
                    w->fullname, sym, r->fullname);
            return 0;
        }
    }
    return 1;
}

/* The core: 1 if reader r can read everything writer w writes, 0 if not (reason set), -1 if
 * the walk is too deep (reason set). */
static int rc_check(rc_ctx_t *c, const av_node_t *r, const av_node_t *w, int depth)
{
    char d1[160], d2[160];
    if (depth > RC_MAX_DEPTH) {
        rc_fail(c, "schemas too deeply recursive to compare (more than %d steps)", RC_MAX_DEPTH);
        return -1;
    }
    uint8_t *st = rc_memo_slot(c, r, w, 0);
    if (st && *st)
        return 1; /* already shown compatible, or in progress: assume so (recursive types) */
    st = rc_memo_slot(c, r, w, 1);
    if (!st) {
        rc_fail(c, "out of memory");
        return -1;
    }
    *st = MEMO_IN_PROGRESS;
    int rc = 1;

    if (w->kind == AV_UNION) {
        /* Any branch may have been written: each must be readable. */
        for (size_t i = 0; i < w->n_branches && rc == 1; i++) {
            rc = rc_check(c, r, w->branches[i], depth + 1);
        }
    } else if (r->kind == AV_UNION) {
        /* The first reader branch matching the writer type (exact before promotion) is used. */
        const av_node_t *best = NULL;
        int best_q = 0;
        for (size_t i = 0; i < r->n_branches; i++) {
            int q = av_branch_match(r->branches[i], w);
            if (q > best_q) {
                best = r->branches[i];
                best_q = q;
            }
            if (q == 2) break;
        }
        if (!best) {
            rc_fail(c, "reader %s has no branch for writer type %s", av_desc(r, d1, sizeof(d1)),
                    av_desc(w, d2, sizeof(d2)));
            rc = 0;
        } else {
            rc = rc_check(c, best, w, depth + 1);
        }
    } else if (r->kind == w->kind) {
        switch (r->kind) {
        case AV_ARRAY:
        case AV_MAP: {
            size_t old = rc_push(c, "", r->kind == AV_ARRAY ? "[]" : "{}");
            rc = rc_check(c, r->child, w->child, depth + 1);
            rc_pop(c, old);
            break;
        }
        case AV_RECORD:
        case AV_ENUM:
        case AV_FIXED:
            if (!av_names_match(r, w)) {
                rc_fail(
                    c,
                    "reader %s does not match writer %s (names differ and no reader alias matches)",
                    av_desc(r, d1, sizeof(d1)), av_desc(w, d2, sizeof(d2)));
                rc = 0;
            } else if (r->kind == AV_FIXED && r->size != w->size) {
                rc_fail(c, "reader fixed '%s' has size %lld but writer fixed '%s' has size %lld",
                        r->fullname, (long long)r->size, w->fullname, (long long)w->size);
                rc = 0;
            } else if (r->kind == AV_ENUM) {
                rc = rc_enum(c, r, w);
            } else if (r->kind == AV_RECORD) {
                size_t old = c->plen ? c->plen : rc_push(c, "", r->name);
                rc = rc_record(c, r, w, depth);
                rc_pop(c, old);
            }
            break;
        default:
            break; /* same primitive */
        }
    } else if (!av_promotes(w->kind, r->kind)) {
        rc_fail(c, "reader type %s cannot read writer type %s", av_desc(r, d1, sizeof(d1)),
                av_desc(w, d2, sizeof(d2)));
        rc = 0;
    }

    /* Re-find the slot: the table may have grown while we recursed. */
    st = rc_memo_slot(c, r, w, 0);
    if (st) *st = rc == 1 ? MEMO_OK : 0;
    return rc;
}

int schema_avro_can_read(const char *reader_json, size_t rlen, const char *writer_json, size_t wlen,
                         char *reason, size_t reason_len)
{
    char err[256];
    av_schema_t rs, ws;
    int rc;
    if (av_load(&rs, reader_json, rlen, err, sizeof(err)) < 0) {
        mg_set_err(reason, reason_len, "invalid reader schema: %s", err);
        av_schema_free(&rs);
        return -1;
    }
    if (av_load(&ws, writer_json, wlen, err, sizeof(err)) < 0) {
        mg_set_err(reason, reason_len, "invalid writer schema: %s", err);
        av_schema_free(&rs);
        av_schema_free(&ws);
        return -1;
    }
    rc_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.reason = reason;
    c.reason_len = reason_len;
    mg_set_err(reason, reason_len, "%s", "");
    rc = rc_check(&c, rs.top, ws.top, 0);
    if (rc == 1) mg_set_err(reason, reason_len, "%s", "");
    mg_free(c.memo_keys);
    mg_free(c.memo_state);
    av_schema_free(&rs);
    av_schema_free(&ws);
    return rc;
}
