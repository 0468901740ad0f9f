/* topic_name.c - see topic_name.h. */
#include "common/topic_name.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool name_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= MG_NAME_MAX) return false;
    if (!strcmp(s, ".") || !strcmp(s, "..")) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || c == '_' || c == '-' || c == '=' || c == ':' || c == '.')) return false;
    }
    return true;
}

static bool local_is_valid(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '/') return false;
    }
    return true;
}

static int fail(char *err, size_t errlen, const char *why, const char *in)
{
    snprintf(err, errlen, "Invalid topic name '%.200s': %s", in, why);
    return -1;
}

int topic_name_parse(const char *in, mg_topic_name_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->partition = -1;
    if (!in || !*in) return fail(err, errlen, "empty", "");
    if (strlen(in) >= MG_TOPIC_MAX) return fail(err, errlen, "too long", in);
    const char *rest = in;
    out->persistent = true;
    if (!strncmp(in, "persistent://", 13)) rest = in + 13;
    else if (!strncmp(in, "non-persistent://", 17)) {
        rest = in + 17;
        out->persistent = false;
    } else if (strstr(in, "://")) return fail(err, errlen, "unknown domain", in);

    bool had_domain = rest != in;
    const char *s1 = strchr(rest, '/');
    if (!s1) {
        if (had_domain) return fail(err, errlen, "expected tenant/namespace/topic", in);
        strcpy(out->tenant, "public");
        strcpy(out->ns, "default");
        snprintf(out->local, sizeof out->local, "%s", rest);
    } else {
        const char *s2 = strchr(s1 + 1, '/');
        if (!s2) return fail(err, errlen, "expected tenant/namespace/topic", in);
        if (strchr(s2 + 1, '/'))
            return fail(err, errlen, "too many '/' (v1 cluster names are not supported)", in);
        size_t tl = (size_t)(s1 - rest), nl = (size_t)(s2 - s1 - 1);
        if (tl >= MG_NAME_MAX || nl >= MG_NAME_MAX) return fail(err, errlen, "name too long", in);
        memcpy(out->tenant, rest, tl);
        memcpy(out->ns, s1 + 1, nl);
        snprintf(out->local, sizeof out->local, "%s", s2 + 1);
    }
    if (!name_is_valid(out->tenant)) return fail(err, errlen, "invalid tenant", in);
    if (!name_is_valid(out->ns)) return fail(err, errlen, "invalid namespace", in);
    if (!local_is_valid(out->local)) return fail(err, errlen, "invalid local name", in);
    snprintf(out->full, sizeof out->full, "%s://%s/%s/%s",
             out->persistent ? "persistent" : "non-persistent", out->tenant, out->ns, out->local);
    snprintf(out->base, sizeof out->base, "%s", out->full);
    const char *p = strstr(out->local, "-partition-");
    if (p) {
        const char *d = p + 11;
        char *end;
        long n = strtol(d, &end, 10);
        if (*d && isdigit((unsigned char)*d) && !*end && n >= 0 && n < 100000) {
            out->partition = (int)n;
            size_t cut = strlen(out->full) - strlen(p);
            out->base[cut] = 0;
        }
    }
    return 0;
}

void topic_partition_name(const char *base, int i, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s-partition-%d", base, i);
}
