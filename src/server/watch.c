/* SPDX-License-Identifier: Apache-2.0
 *
 * watch: the registry of watched keys (see watch.h). Layout:
 *
 *   registry.keys: registry key -> struct dict *watchers
 *                  watchers: 8-byte struct watch_state pointer -> struct watch_entry * (borrowed:
 *                  the entry belongs to the watching connection's state)
 *   conn->watch:   struct watch_state, the entries the connection owns
 *
 * An entry is unlinked from the registry (under the mutex) before its owner frees it, so a
 * writer that finds an entry under the mutex may set its owner's dirty flag.
 */
#include "server/watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/dict.h"
#include "common/mem.h"
#include "server/conn.h"
#include "types/db.h"

struct watch_entry {
    struct watch_state *owner; /* borrowed: the state that owns this entry */
    bool live;                 /* the key existed (not expired) when it was watched */
    size_t len;                /* bytes of rkey */
    char rkey[];               /* registry key: [ns_len u8][ns][user key] */
};

struct watch_state {
    atomic_bool dirty; /* set by any writer under the registry mutex */
    size_t n, cap;
    struct watch_entry **entries; /* owned, in WATCH order */
};

static struct {
    pthread_mutex_t mu;
    struct dict *keys;      /* NULL while nothing is watched; see the top comment */
    atomic_size_t nentries; /* registered entries: the writers' fast path */
} registry = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

static void
free_watchers(void *val)
{
    dict_free(val);
}

/* The registry key of (ns, key) into out. */
static void
registry_key(struct kv_slice ns, struct kv_slice key, struct kv_buf *out)
{
    kv_buf_clear(out);
    size_t nslen = ns.len > 255 ? 255 : ns.len;
    kv_buf_append_byte(out, (uint8_t)nslen);
    kv_buf_append(out, ns.ptr, nslen);
    kv_buf_append(out, key.ptr, key.len);
}

static struct kv_slice
entry_ns(const struct watch_entry *e)
{
    return kv_slice_make(e->rkey + 1, (uint8_t)e->rkey[0]);
}

static struct kv_slice
entry_key(const struct watch_entry *e)
{
    size_t off = 1 + (size_t)(uint8_t)e->rkey[0];
    return kv_slice_make(e->rkey + off, e->len - off);
}

/* Unlink e from the registry. Caller holds the mutex. */
static void
unregister_locked(struct watch_entry *e)
{
    struct dict *watchers = registry.keys ? dict_get(registry.keys, e->rkey, e->len) : NULL;
    if (watchers == NULL)
        return;
    struct watch_state *owner = e->owner;
    if (dict_delete(watchers, &owner, sizeof owner) == KV_OK)
        atomic_fetch_sub(&registry.nentries, 1);
    if (dict_size(watchers) == 0)
        dict_delete(registry.keys, e->rkey, e->len);
    if (dict_size(registry.keys) == 0) {
        dict_free(registry.keys);
        registry.keys = NULL;
    }
}

enum kv_code
watch_add(struct conn *c, struct kv_slice key, struct kv_err *err)
{
    struct watch_state *ws = c->watch;
    if (ws == NULL) {
        ws = kv_calloc(1, sizeof *ws);
        atomic_init(&ws->dirty, false);
        c->watch = ws;
    }
    struct kv_buf rk = KV_BUF_INIT;
    registry_key(c->db.ns, key, &rk);
    struct watch_entry *e = kv_malloc(sizeof *e + rk.len);
    e->owner = ws;
    e->live = false;
    e->len = rk.len;
    memcpy(e->rkey, rk.ptr, rk.len);
    kv_buf_deinit(&rk);

    pthread_mutex_lock(&registry.mu);
    if (registry.keys == NULL)
        registry.keys = dict_new(free_watchers, false);
    struct dict *watchers = dict_get(registry.keys, e->rkey, e->len);
    if (watchers == NULL) {
        watchers = dict_new(NULL, false);
        dict_set(registry.keys, e->rkey, e->len, watchers);
    }
    if (dict_contains(watchers, &ws, sizeof ws)) {
        pthread_mutex_unlock(&registry.mu);
        kv_free(e);
        return KV_OK; /* already watched: keep the first registration */
    }
    dict_set(watchers, &ws, sizeof ws, e);
    /* seq_cst RMW: a full barrier between this registration and the baseline read below (the
     * writers' side has the matching fence in watch_on_touched). */
    atomic_fetch_add(&registry.nentries, 1);
    pthread_mutex_unlock(&registry.mu);

    struct meta m;
    struct kv_buf raw = KV_BUF_INIT;
    enum kv_code rc = db_get_meta(&c->db, key, META_NONE, &m, &raw, err);
    kv_buf_deinit(&raw);
    if (rc != KV_OK && rc != KV_NOTFOUND) {
        pthread_mutex_lock(&registry.mu);
        unregister_locked(e);
        pthread_mutex_unlock(&registry.mu);
        kv_free(e);
        return rc;
    }
    e->live = rc == KV_OK;
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 4;
        ws->entries = kv_realloc(ws->entries, ws->cap * sizeof *ws->entries);
    }
    ws->entries[ws->n++] = e;
    return KV_OK;
}

void
watch_clear(struct conn *c)
{
    struct watch_state *ws = c->watch;
    if (ws == NULL)
        return;
    if (ws->n > 0) {
        pthread_mutex_lock(&registry.mu);
        for (size_t i = 0; i < ws->n; i++)
            unregister_locked(ws->entries[i]);
        pthread_mutex_unlock(&registry.mu);
    }
    for (size_t i = 0; i < ws->n; i++)
        kv_free(ws->entries[i]);
    kv_free(ws->entries);
    kv_free(ws);
    c->watch = NULL;
}

bool
watch_is_dirty(struct conn *c)
{
    struct watch_state *ws = c->watch;
    if (ws == NULL)
        return false;
    if (atomic_load(&ws->dirty))
        return true;
    struct kv_buf raw = KV_BUF_INIT;
    bool dirty = false;
    for (size_t i = 0; i < ws->n && !dirty; i++) {
        struct watch_entry *e = ws->entries[i];
        if (!e->live)
            continue;
        struct db db = c->db;
        db.ns = entry_ns(e);
        struct meta m;
        enum kv_code rc = db_get_meta(&db, entry_key(e), META_NONE, &m, &raw, NULL);
        dirty = rc != KV_OK;
    }
    kv_buf_deinit(&raw);
    return dirty;
}

/* Mark every watcher in `watchers` dirty; with only_live, only those whose key was live when
 * watched. Caller holds the mutex. */
static void
mark_watchers_locked(struct dict *watchers, bool only_live)
{
    struct dict_iter it;
    dict_iter_init(&it, watchers);
    const void *k;
    size_t klen;
    void *v;
    while (dict_iter_next(&it, &k, &klen, &v)) {
        struct watch_entry *e = v;
        if (!only_live || e->live)
            atomic_store(&e->owner->dirty, true);
    }
}

void
watch_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key)
{
    (void)srv;
    /* Orders the caller's completed write before the load of the count (see watch_add). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&registry.nentries, memory_order_relaxed) == 0)
        return;
    char small[256];
    struct kv_buf rk = KV_BUF_INIT;
    const char *p;
    size_t len = 1 + (ns.len > 255 ? 255 : ns.len) + key.len;
    if (len <= sizeof small) {
        size_t nslen = len - 1 - key.len;
        small[0] = (char)(uint8_t)nslen;
        if (nslen > 0)
            memcpy(small + 1, ns.ptr, nslen);
        if (key.len > 0)
            memcpy(small + 1 + nslen, key.ptr, key.len);
        p = small;
    } else {
        registry_key(ns, key, &rk);
        p = rk.ptr;
    }
    pthread_mutex_lock(&registry.mu);
    struct dict *watchers = registry.keys ? dict_get(registry.keys, p, len) : NULL;
    if (watchers != NULL)
        mark_watchers_locked(watchers, false);
    pthread_mutex_unlock(&registry.mu);
    kv_buf_deinit(&rk);
}

void
watch_on_flush(struct server *srv, const struct kv_slice *ns)
{
    (void)srv;
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&registry.nentries, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&registry.mu);
    if (registry.keys != NULL) {
        struct dict_iter it;
        dict_iter_init(&it, registry.keys);
        const void *k;
        size_t klen;
        void *v;
        while (dict_iter_next(&it, &k, &klen, &v)) {
            const char *rk = k;
            if (ns != NULL) {
                size_t nslen = (uint8_t)rk[0];
                if (nslen != ns->len || klen < 1 + nslen || memcmp(rk + 1, ns->ptr, nslen) != 0)
                    continue;
            }
            mark_watchers_locked(v, true);
        }
    }
    pthread_mutex_unlock(&registry.mu);
}

void
watch_conn_free(struct conn *c)
{
    watch_clear(c);
}
