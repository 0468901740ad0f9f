/* metastore.c - the embedded metadata store on LMDB (see metastore.h).
 *
 * One environment in <dir>/metadata with one unnamed database; keys are the metadata paths
 * (without a trailing NUL), values the raw bytes. The environment is opened with MDB_NOSYNC so
 * a commit costs no fsync; meta_put(sync=true), meta_del, meta_del_prefix and meta_sync call
 * mdb_env_sync(force) to make everything committed so far durable. MDB_NOTLS lets read
 * transactions be used from any thread (and alongside a write transaction in meta_list
 * callbacks); LMDB serialises writers itself.
 */
#include "storage/metastore.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/log.h"

#define META_MAPSIZE (1ull << 30)

struct mg_meta {
    MDB_env *env;
    MDB_dbi dbi;
};

static int meta_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    log_error("mkdir(%s): %s", path, strerror(errno));
    return -1;
}

mg_meta_t *meta_open(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/metadata", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "path too long");
        return NULL;
    }
    if (meta_mkdir(dir) < 0 || meta_mkdir(path) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return NULL;
    }
    mg_meta_t *m = mg_calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&m->env);
    if (rc) goto fail;
    if ((rc = mdb_env_set_mapsize(m->env, META_MAPSIZE))) goto fail;
    if ((rc = mdb_env_open(m->env, path, MDB_NOTLS | MDB_NOSYNC, 0644))) goto fail;
    int dead = 0;
    mdb_reader_check(m->env, &dead);
    if ((rc = mdb_txn_begin(m->env, NULL, 0, &txn))) goto fail;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &m->dbi))) goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) goto fail;
    return m;
fail:
    log_error("lmdb open %s: %s", path, mdb_strerror(rc));
    snprintf(err, errlen, "lmdb open %s: %s", path, mdb_strerror(rc));
    if (txn) mdb_txn_abort(txn);
    if (m->env) mdb_env_close(m->env);
    mg_free(m);
    return NULL;
}

void meta_close(mg_meta_t *m)
{
    if (!m) return;
    mdb_env_sync(m->env, 1);
    mdb_env_close(m->env);
    mg_free(m);
}

void meta_sync(mg_meta_t *m)
{
    int rc = mdb_env_sync(m->env, 1);
    if (rc) log_error("mdb_env_sync: %s", mdb_strerror(rc));
}

static int meta_commit(mg_meta_t *m, MDB_txn *txn, const char *what, bool sync)
{
    int rc = mdb_txn_commit(txn);
    if (rc) {
        log_error("mdb_txn_commit (%s): %s", what, mdb_strerror(rc));
        return -1;
    }
    if (sync && (rc = mdb_env_sync(m->env, 1))) {
        log_error("mdb_env_sync (%s): %s", what, mdb_strerror(rc));
        return -1;
    }
    return 0;
}

int meta_put(mg_meta_t *m, const char *key, const void *val, size_t len, bool sync)
{
    MDB_txn *txn;
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
    int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
    if (rc) {
        log_error("mdb_txn_begin: %s", mdb_strerror(rc));
        return -1;
    }
    if ((rc = mdb_put(txn, m->dbi, &k, &v, 0))) {
        log_error("mdb_put(%s): %s", key, mdb_strerror(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    return meta_commit(m, txn, key, sync);
}

int meta_get(mg_meta_t *m, const char *key, char **val, size_t *len)
{
    MDB_txn *txn;
    MDB_val k = {strlen(key), (void *)key}, v;
    *val = NULL;
    *len = 0;
    if (k.mv_size == 0) return 1;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        log_error("mdb_txn_begin: %s", mdb_strerror(rc));
        return -1;
    }
    rc = mdb_get(txn, m->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return 1;
    }
    if (rc) {
        log_error("mdb_get(%s): %s", key, mdb_strerror(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    char *copy = mg_malloc(v.mv_size + 1);
    if (!copy) {
        mdb_txn_abort(txn);
        return -1;
    }
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size] = '\0';
    mdb_txn_abort(txn);
    *val = copy;
    *len = v.mv_size;
    return 0;
}

int meta_del(mg_meta_t *m, const char *key)
{
    MDB_txn *txn;
    MDB_val k = {strlen(key), (void *)key};
    if (k.mv_size == 0) return 1;
    int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
    if (rc) {
        log_error("mdb_txn_begin: %s", mdb_strerror(rc));
        return -1;
    }
    rc = mdb_del(txn, m->dbi, &k, NULL);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return 1;
    }
    if (rc) {
        log_error("mdb_del(%s): %s", key, mdb_strerror(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    return meta_commit(m, txn, key, true) < 0 ? -1 : 0;
}

/* Position c at the first key >= prefix; MDB_FIRST for the empty prefix (LMDB rejects empty
 * keys). Returns 0, MDB_NOTFOUND, or an LMDB error. */
static int meta_seek(MDB_cursor *c, const char *prefix, size_t plen, MDB_val *k, MDB_val *v)
{
    if (plen == 0) return mdb_cursor_get(c, k, v, MDB_FIRST);
    k->mv_size = plen;
    k->mv_data = (void *)prefix;
    return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
}

static bool has_prefix(const MDB_val *k, const char *prefix, size_t plen)
{
    return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0;
}

int meta_del_prefix(mg_meta_t *m, const char *prefix)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    size_t plen = strlen(prefix);
    int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
    if (rc) {
        log_error("mdb_txn_begin: %s", mdb_strerror(rc));
        return -1;
    }
    if ((rc = mdb_cursor_open(txn, m->dbi, &c))) {
        log_error("mdb_cursor_open: %s", mdb_strerror(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    int n = 0;
    for (rc = meta_seek(c, prefix, plen, &k, &v); rc == 0 && has_prefix(&k, prefix, plen);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        /* after a delete the cursor already sits on the next key; MDB_NEXT returns it */
        if ((rc = mdb_cursor_del(c, 0))) break;
        n++;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND) {
        log_error("meta_del_prefix(%s): %s", prefix, mdb_strerror(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    if (n == 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    return meta_commit(m, txn, prefix, true) < 0 ? -1 : n;
}

int meta_list(mg_meta_t *m, const char *prefix, meta_list_cb cb, void *arg)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    size_t plen = strlen(prefix);
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        log_error("mdb_txn_begin: %s", mdb_strerror(rc));
        return -1;
    }
    if ((rc = mdb_cursor_open(txn, m->dbi, &c))) {
        log_error("mdb_cursor_open: %s", mdb_strerror(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    /* callbacks get NUL-terminated copies: LMDB keys and values are not terminated */
    char *kbuf = NULL, *vbuf = NULL;
    size_t kcap = 0, vcap = 0;
    int n = 0;
    for (rc = meta_seek(c, prefix, plen, &k, &v); rc == 0 && has_prefix(&k, prefix, plen);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size + 1 > kcap || v.mv_size + 1 > vcap) {
            size_t nk = k.mv_size + 1 > kcap ? k.mv_size + 64 : kcap;
            size_t nv = v.mv_size + 1 > vcap ? v.mv_size + 256 : vcap;
            char *a = nk != kcap ? mg_realloc(kbuf, nk) : kbuf;
            if (a) kbuf = a, kcap = nk;
            char *b = nv != vcap ? mg_realloc(vbuf, nv) : vbuf;
            if (b) vbuf = b, vcap = nv;
            if (!a || !b) {
                n = -1;
                break;
            }
        }
        memcpy(kbuf, k.mv_data, k.mv_size);
        kbuf[k.mv_size] = '\0';
        memcpy(vbuf, v.mv_data, v.mv_size);
        vbuf[v.mv_size] = '\0';
        n++;
        if (cb && cb(arg, kbuf, vbuf, v.mv_size)) {
            rc = 0;
            break;
        }
    }
    if (rc && rc != MDB_NOTFOUND) {
        log_error("meta_list(%s): %s", prefix, mdb_strerror(rc));
        n = -1;
    }
    mg_free(kbuf);
    mg_free(vbuf);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return n;
}
