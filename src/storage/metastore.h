/* metastore.h - the embedded metadata store (LMDB), a small key/value interface so a
 * ZooKeeper backend can replace it in a cluster. Keys are paths in Pulsar's metadata layout,
 * e.g. /admin/clusters/standalone, /admin/policies/<tenant>/<ns>,
 * /admin/partitioned-topics/<tenant>/<ns>/persistent/<topic>, /managed-ledgers/.../<cursor>.
 * Values are bytes (JSON for admin objects).
 * Threads: safe from any thread (LMDB serialises writers); the broker uses it from the loop
 * thread and the admin layer through the loop. */
#ifndef MG_STORAGE_METASTORE_H
#define MG_STORAGE_METASTORE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mg_meta mg_meta_t;

/* Open or create the store in dir (creates dir/metadata). NULL + err on failure. */
mg_meta_t *meta_open(const char *dir, char *err, size_t errlen);
void meta_close(mg_meta_t *m);
/* Write a value; sync=true makes it durable before returning (admin objects), false leaves it
 * to the next meta_sync() (cursor positions, written often). 0 or -1. */
int meta_put(mg_meta_t *m, const char *key, const void *val, size_t len, bool sync);
/* 0 and a mg_malloc'd copy (NUL-terminated beyond len, caller mg_frees), 1 not found, -1 error. */
int meta_get(mg_meta_t *m, const char *key, char **val, size_t *len);
/* 0 deleted, 1 not found, -1 error. */
int meta_del(mg_meta_t *m, const char *key);
/* Delete every key starting with prefix; returns how many, or -1. */
int meta_del_prefix(mg_meta_t *m, const char *prefix);
/* Call cb for each key starting with prefix, in key order; cb returns non-zero to stop.
 * Returns the number visited, or -1. */
typedef int (*meta_list_cb)(void *arg, const char *key, const char *val, size_t len);
int meta_list(mg_meta_t *m, const char *prefix, meta_list_cb cb, void *arg);
/* Flush non-synced writes to disk. */
void meta_sync(mg_meta_t *m);

#endif
