/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/compact_filter.h"

#include <pthread.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/mem.h"
#include "storage/keys.h"
#include "storage/meta.h"

/* Filters read the ctx only under `lock` (shared): compact_filter_ctx_free takes it exclusively
 * before freeing. RocksDB's close already waits for running compactions, but through its own
 * mutex, which ThreadSanitizer does not follow (tests/tsan.supp ignores what librocksdb does),
 * so without this TSan took a filter's last read of the ctx for a race with the free. */
struct compact_filter_ctx {
    bool cluster;
    pthread_rwlock_t lock; /* guards db/meta_cf against close, the ctx against free */
    rocksdb_t *db;
    rocksdb_column_family_handle_t *meta_cf;
    rocksdb_readoptions_t *ro;
    rocksdb_compactionfilter_t *meta_filter;
    rocksdb_compactionfilter_t *pubsub_filter;
};

/* One sub-key filter per compaction: caches the last metadata looked up, since sub-keys of one
 * key arrive together. */
struct subkey_filter {
    struct compact_filter_ctx *ctx;
    bool cluster;             /* ctx->cluster */
    struct kv_buf cached_key; /* metadata key of the cache entry */
    bool cached_found;
    struct meta cached_meta;
    struct kv_buf cached_raw; /* backing bytes of cached_meta */
    struct kv_buf scratch;
};

static const char *
meta_filter_name(void *state)
{
    return "kvrocks.metadata_filter";
}

static unsigned char
meta_filter(void *state, int level, const char *key, size_t key_len, const char *value,
            size_t value_len, char **new_value, size_t *new_value_len, unsigned char *value_changed)
{
    struct meta m;
    if (meta_decode(kv_slice_make(value, value_len), &m) != KV_OK)
        return 0; /* keep what we cannot read */
    /* Expired, or an empty collection: readers already treat it as absent. RocksDB turns the
     * dropped record into a tombstone, so no older record of the key can resurface. */
    return meta_is_live(&m, clock_now_ms()) ? 0 : 1;
}

static const char *
pubsub_filter_name(void *state)
{
    return "kvrocks.pubsub_filter";
}

static unsigned char
pubsub_filter(void *state, int level, const char *key, size_t key_len, const char *value,
              size_t value_len, char **new_value, size_t *new_value_len,
              unsigned char *value_changed)
{
    return 1;
}

static const char *
subkey_filter_name(void *state)
{
    return "kvrocks.subkey_filter";
}

static void
subkey_filter_destroy(void *state)
{
    struct subkey_filter *f = state;
    kv_buf_deinit(&f->cached_key);
    kv_buf_deinit(&f->cached_raw);
    kv_buf_deinit(&f->scratch);
    kv_free(f);
}

/* Look up the metadata of (ns, user_key); returns false when the DB is unavailable (then the
 * caller keeps the record). */
static bool
lookup_meta(struct subkey_filter *f, struct kv_slice ns, struct kv_slice user_key)
{
    struct compact_filter_ctx *ctx = f->ctx;
    keys_meta_key(&f->scratch, ns, f->cluster, user_key);
    if (f->cached_key.len > 0 &&
        kv_slice_eq(kv_buf_slice(&f->cached_key), kv_buf_slice(&f->scratch)))
        return true;
    bool ok = false;
    pthread_rwlock_rdlock(&ctx->lock);
    if (ctx->db != NULL) {
        char *errptr = NULL;
        size_t n = 0;
        char *v = rocksdb_get_cf(ctx->db, ctx->ro, ctx->meta_cf, f->scratch.ptr, f->scratch.len, &n,
                                 &errptr);
        if (errptr != NULL) {
            rocksdb_free(errptr);
        } else {
            ok = true;
            kv_buf_set(&f->cached_key, f->scratch.ptr, f->scratch.len);
            f->cached_found = false;
            if (v != NULL) {
                kv_buf_set(&f->cached_raw, v, n);
                if (meta_decode(kv_buf_slice(&f->cached_raw), &f->cached_meta) == KV_OK)
                    f->cached_found = true;
                else
                    ok = false; /* undecodable metadata: keep its sub-keys */
            }
        }
        if (v != NULL)
            rocksdb_free(v);
    }
    pthread_rwlock_unlock(&ctx->lock);
    if (!ok)
        kv_buf_clear(&f->cached_key);
    return ok;
}

static bool
all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

static unsigned char
subkey_filter(void *state, int level, const char *key, size_t key_len, const char *value,
              size_t value_len, char **new_value, size_t *new_value_len,
              unsigned char *value_changed)
{
    struct subkey_filter *f = state;
    struct kv_slice ns, user_key, sub;
    uint64_t version = 0;
    if (keys_decode_subkey(kv_slice_make(key, key_len), f->cluster, &ns, &user_key, &version,
                           &sub) != KV_OK)
        return 0;
    if (!lookup_meta(f, ns, user_key))
        return 0;
    if (!f->cached_found)
        return 1;
    const struct meta *m = &f->cached_meta;
    if (m->type == META_STRING || m->type == META_JSON)
        return 1; /* the key was overwritten by a single-value type */
    if (m->version != version)
        return 1; /* the key was deleted and re-created */
    /* Dead for longer than the grace period (or emptied). The grace period protects sub-keys
     * against a compaction that races an EXPIRE/PERSIST on the same key. */
    if (!meta_is_live(m, clock_now_ms() - COMPACT_FILTER_SUBKEY_GRACE_MS))
        return 1;
    /* An all-zero bitmap segment reads the same as a missing one. */
    if (m->type == META_BITMAP && all_zero(value, value_len))
        return 1;
    return 0;
}

static rocksdb_compactionfilter_t *
subkey_factory_create(void *state, rocksdb_compactionfiltercontext_t *context)
{
    struct subkey_filter *f = kv_calloc(1, sizeof *f);
    f->ctx = state;
    pthread_rwlock_rdlock(&f->ctx->lock);
    f->cluster = f->ctx->cluster;
    pthread_rwlock_unlock(&f->ctx->lock);
    return rocksdb_compactionfilter_create(f, subkey_filter_destroy, subkey_filter,
                                           subkey_filter_name);
}

static const char *
subkey_factory_name(void *state)
{
    return "kvrocks.subkey_filter_factory";
}

static void
noop_destroy(void *state)
{
}

struct compact_filter_ctx *
compact_filter_ctx_new(bool cluster)
{
    struct compact_filter_ctx *ctx = kv_calloc(1, sizeof *ctx);
    ctx->cluster = cluster;
    pthread_rwlock_init(&ctx->lock, NULL);
    ctx->ro = rocksdb_readoptions_create();
    ctx->meta_filter =
        rocksdb_compactionfilter_create(ctx, noop_destroy, meta_filter, meta_filter_name);
    ctx->pubsub_filter =
        rocksdb_compactionfilter_create(ctx, noop_destroy, pubsub_filter, pubsub_filter_name);
    return ctx;
}

void
compact_filter_ctx_free(struct compact_filter_ctx *ctx)
{
    if (ctx == NULL)
        return;
    /* The DB is closed: no filter runs any more. Taking the lock orders their reads of the ctx
     * before the free in a way ThreadSanitizer sees (struct compact_filter_ctx). */
    pthread_rwlock_wrlock(&ctx->lock);
    pthread_rwlock_unlock(&ctx->lock);
    rocksdb_compactionfilter_destroy(ctx->meta_filter);
    rocksdb_compactionfilter_destroy(ctx->pubsub_filter);
    rocksdb_readoptions_destroy(ctx->ro);
    pthread_rwlock_destroy(&ctx->lock);
    kv_free(ctx);
}

void
compact_filter_install(struct compact_filter_ctx *ctx, rocksdb_options_t *opts, enum kv_cf cf)
{
    switch (cf) {
    case KV_CF_METADATA:
        rocksdb_options_set_compaction_filter(opts, ctx->meta_filter);
        break;
    case KV_CF_PUBSUB:
        rocksdb_options_set_compaction_filter(opts, ctx->pubsub_filter);
        break;
    case KV_CF_SUBKEY:
    case KV_CF_ZSET_SCORE:
    case KV_CF_STREAM:
        /* The options take ownership of the factory (a shared pointer inside RocksDB). */
        rocksdb_options_set_compaction_filter_factory(
            opts, rocksdb_compactionfilterfactory_create(ctx, noop_destroy, subkey_factory_create,
                                                         subkey_factory_name));
        break;
    default:
        break;
    }
}

void
compact_filter_attach_db(struct compact_filter_ctx *ctx, rocksdb_t *db,
                         rocksdb_column_family_handle_t *meta_cf)
{
    pthread_rwlock_wrlock(&ctx->lock);
    ctx->db = db;
    ctx->meta_cf = meta_cf;
    pthread_rwlock_unlock(&ctx->lock);
}

void
compact_filter_detach_db(struct compact_filter_ctx *ctx)
{
    pthread_rwlock_wrlock(&ctx->lock);
    ctx->db = NULL;
    ctx->meta_cf = NULL;
    pthread_rwlock_unlock(&ctx->lock);
}
