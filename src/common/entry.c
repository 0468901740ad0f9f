/* entry.c - see entry.h. */
#include "common/entry.h"

#include <string.h>

#include "common/alloc.h"

mg_entry_t *entry_alloc(uint32_t len)
{
    mg_entry_t *e = mg_malloc(sizeof *e + len);
    if (!e) return NULL;
    memset(e, 0, sizeof *e);
    atomic_init(&e->refs, 1);
    e->len = len;
    return e;
}

mg_entry_t *entry_new(const void *data, uint32_t len)
{
    mg_entry_t *e = entry_alloc(len);
    if (!e) return NULL;
    if (data) memcpy(e->data, data, len);
    else memset(e->data, 0, len);
    return e;
}

void entry_unref(mg_entry_t *e)
{
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) mg_free(e);
}
