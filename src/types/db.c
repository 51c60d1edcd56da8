/* SPDX-License-Identifier: Apache-2.0 */
#include "types/db.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/glob.h"
#include "common/mem.h"
#include "storage/keys.h"

void
db_meta_key(const struct db *db, struct kv_slice key, struct kv_buf *out)
{
    keys_meta_key(out, db->ns, db->cluster, key);
}

void
db_subkey_prefix(const struct db *db, struct kv_slice key, uint64_t version, struct kv_buf *out)
{
    keys_subkey_prefix(out, db->ns, db->cluster, key, version);
}

enum kv_code
db_get_meta(struct db *db, struct kv_slice key, enum meta_type want, struct meta *m,
            struct kv_buf *raw, struct kv_err *err)
{
    struct kv_buf mk = KV_BUF_INIT;
    db_meta_key(db, key, &mk);
    enum kv_code rc = storage_get(db->st, db->snap, KV_CF_METADATA, kv_buf_slice(&mk), raw, err);
    kv_buf_deinit(&mk);
    if (rc != KV_OK)
        return rc;
    rc = meta_decode(kv_buf_slice(raw), m);
    if (rc != KV_OK)
        return kv_err_set(err, KV_ERR_CORRUPT, "corrupt metadata record");
    if (!meta_is_live(m, clock_now_ms()))
        return KV_NOTFOUND;
    if (want != META_NONE && m->type != want)
        return kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    return KV_OK;
}

enum kv_code
db_write(struct db *db, struct storage_batch *b, const struct kv_slice *touched, size_t n,
         struct kv_err *err)
{
    enum kv_code rc = storage_write(db->st, b, err);
    if (rc != KV_OK)
        return rc;
    db_touch(db, touched, n);
    return KV_OK;
}

void
db_touch(struct db *db, const struct kv_slice *touched, size_t n)
{
    if (db->hooks != NULL && db->hooks->touched != NULL) {
        for (size_t i = 0; i < n; i++)
            db->hooks->touched(db->hooks->arg, db->ns, touched[i]);
    }
}

void
db_batch_delete_key(struct db *db, struct storage_batch *b, struct kv_slice key)
{
    struct kv_buf mk = KV_BUF_INIT;
    db_meta_key(db, key, &mk);
    storage_batch_delete(b, KV_CF_METADATA, kv_buf_slice(&mk));
    kv_buf_deinit(&mk);
}

enum kv_code
db_get_meta_for_write(struct db *db, struct kv_slice key, enum meta_type type, struct meta *m,
                      struct kv_buf *raw, struct kv_err *err)
{
    enum kv_code rc = db_get_meta(db, key, type, m, raw, err);
    if (rc == KV_NOTFOUND)
        meta_init(m, type);
    return rc;
}

void
db_batch_put_meta(struct db *db, struct storage_batch *b, struct kv_slice key, const struct meta *m)
{
    struct kv_buf mk = KV_BUF_INIT, val = KV_BUF_INIT;
    db_meta_key(db, key, &mk);
    meta_encode(m, &val);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&mk), kv_buf_slice(&val));
    kv_buf_deinit(&mk);
    kv_buf_deinit(&val);
}

void
db_subkey(const struct db *db, struct kv_slice key, uint64_t version, struct kv_slice sub,
          struct kv_buf *out)
{
    keys_subkey(out, db->ns, db->cluster, key, version, sub);
}

enum kv_code
db_exists(struct db *db, const struct kv_slice *keys, size_t n, int64_t *count, struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT;
    int64_t c = 0;
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < n; i++) {
        struct meta m;
        rc = db_get_meta(db, keys[i], META_NONE, &m, &raw, err);
        if (rc == KV_OK)
            c++;
        else if (rc != KV_NOTFOUND)
            break;
        rc = KV_OK;
    }
    kv_buf_deinit(&raw);
    if (rc == KV_OK)
        *count = c;
    return rc;
}

static int
slice_cmp_qsort(const void *a, const void *b)
{
    return kv_slice_cmp(*(const struct kv_slice *)a, *(const struct kv_slice *)b);
}

enum kv_code
db_delete(struct db *db, const struct kv_slice *keys, size_t n, int64_t *deleted,
          struct kv_err *err)
{
    /* Sorted and deduplicated, so a key listed twice is counted once without a quadratic scan. */
    struct kv_slice *uniq = kv_malloc((n ? n : 1) * sizeof *uniq);
    if (n > 0)
        memcpy(uniq, keys, n * sizeof *uniq);
    qsort(uniq, n, sizeof *uniq, slice_cmp_qsort);
    size_t nuniq = 0;
    for (size_t i = 0; i < n; i++) {
        if (nuniq == 0 || !kv_slice_eq(uniq[nuniq - 1], uniq[i]))
            uniq[nuniq++] = uniq[i];
    }
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, uniq, nuniq, &g);
    struct storage_batch *b = storage_batch_new(db->st);
    struct kv_buf raw = KV_BUF_INIT;
    size_t ngone = 0;
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < nuniq; i++) {
        struct meta m;
        rc = db_get_meta(db, uniq[i], META_NONE, &m, &raw, err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            continue;
        }
        if (rc != KV_OK)
            break;
        db_batch_delete_key(db, b, uniq[i]);
        uniq[ngone++] = uniq[i]; /* ngone <= i: compacts the deleted keys in place */
    }
    if (rc == KV_OK && ngone > 0)
        rc = db_write(db, b, uniq, ngone, err);
    keylock_unlock(&g);
    if (rc == KV_OK)
        *deleted = (int64_t)ngone;
    kv_free(uniq);
    kv_buf_deinit(&raw);
    storage_batch_free(b);
    return rc;
}

const char *
db_type_reply_name(enum meta_type t)
{
    if (t == META_BITMAP || t == META_HLL)
        return meta_type_name(META_STRING);
    return meta_type_name(t);
}

enum kv_code
db_type(struct db *db, struct kv_slice key, enum meta_type *type, struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    kv_buf_deinit(&raw);
    if (rc == KV_NOTFOUND) {
        *type = META_NONE;
        return KV_OK;
    }
    if (rc == KV_OK)
        *type = m.type;
    return rc;
}

/* Rewrite the metadata record of a live key with a new expiry, in one batch. */
static enum kv_code
write_meta(struct db *db, struct kv_slice key, const struct meta *m, struct kv_err *err)
{
    struct kv_buf mk = KV_BUF_INIT, val = KV_BUF_INIT;
    db_meta_key(db, key, &mk);
    meta_encode(m, &val);
    struct storage_batch *b = storage_batch_new(db->st);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&mk), kv_buf_slice(&val));
    enum kv_code rc = db_write(db, b, &key, 1, err);
    storage_batch_free(b);
    kv_buf_deinit(&mk);
    kv_buf_deinit(&val);
    return rc;
}

enum kv_code
db_expire(struct db *db, struct kv_slice key, int64_t at_ms, int flags, bool *changed,
          struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    *changed = false;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    bool has = m.expire_ms != 0;
    if ((flags & DB_EXPIRE_NX) && has)
        goto out;
    if ((flags & DB_EXPIRE_XX) && !has)
        goto out;
    /* No expiry counts as an infinite TTL for GT and LT. */
    if ((flags & DB_EXPIRE_GT) && (!has || at_ms <= (int64_t)m.expire_ms))
        goto out;
    if ((flags & DB_EXPIRE_LT) && has && at_ms >= (int64_t)m.expire_ms)
        goto out;
    if (at_ms <= clock_now_ms()) {
        struct storage_batch *b = storage_batch_new(db->st);
        db_batch_delete_key(db, b, key);
        rc = db_write(db, b, &key, 1, err);
        storage_batch_free(b);
    } else {
        m.expire_ms = (uint64_t)at_ms;
        rc = write_meta(db, key, &m, err);
    }
    if (rc == KV_OK)
        *changed = true;
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
db_persist(struct db *db, struct kv_slice key, bool *changed, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    *changed = false;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
    } else if (rc == KV_OK && m.expire_ms != 0) {
        m.expire_ms = 0;
        rc = write_meta(db, key, &m, err);
        *changed = rc == KV_OK;
    }
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
db_expire_at(struct db *db, struct kv_slice key, int64_t *at_ms, struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    kv_buf_deinit(&raw);
    if (rc == KV_NOTFOUND) {
        *at_ms = -2;
        return KV_OK;
    }
    if (rc != KV_OK)
        return rc;
    *at_ms = m.expire_ms == 0 ? -1 : (int64_t)m.expire_ms;
    return KV_OK;
}

/* Iterator bounds over the metadata records of this namespace (all slots in cluster mode). */
static void
ns_bounds(const struct db *db, struct kv_buf *lower, struct kv_buf *upper)
{
    kv_buf_clear(lower);
    kv_buf_append_byte(lower, (uint8_t)db->ns.len);
    kv_buf_append_slice(lower, db->ns);
    keys_prefix_end(upper, kv_buf_slice(lower));
}

/* The user key of a metadata record key (after the namespace and, in cluster mode, the slot). */
static struct kv_slice
user_key_of(const struct db *db, struct kv_slice raw_key)
{
    size_t skip = 1 + db->ns.len + (db->cluster ? 2 : 0);
    if (raw_key.len < skip)
        return kv_slice_make(raw_key.ptr, 0);
    return kv_slice_make(raw_key.ptr + skip, raw_key.len - skip);
}

enum kv_code
db_scan(struct db *db, const struct kv_slice *after, struct kv_slice pattern, enum meta_type type,
        size_t limit, bool (*fn)(void *arg, struct kv_slice key, const struct meta *m), void *arg,
        struct kv_buf *last, bool *done, struct kv_err *err)
{
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT, seek = KV_BUF_INIT;
    ns_bounds(db, &lower, &upper);
    size_t ns_prefix_len = lower.len;
    bool match_all = pattern.ptr == NULL || (pattern.len == 1 && pattern.ptr[0] == '*');
    bool need_glob = !match_all;
    if (!match_all && !db->cluster) {
        /* Every key the pattern matches starts with its literal prefix: narrow the range to it
         * (in cluster mode the slot comes first, so the range can't be narrowed). When the rest
         * of the pattern is only stars, the range alone decides. */
        size_t prefix_len = 0;
        bool only_stars = glob_literal_prefix(pattern.ptr, pattern.len, &prefix_len);
        if (prefix_len > 0) {
            kv_buf_append(&lower, pattern.ptr, prefix_len);
            keys_prefix_end(&upper, kv_buf_slice(&lower));
            need_glob = !only_stars;
        }
    }
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_METADATA,
                                               kv_buf_slice(&lower), kv_buf_slice(&upper));
    if (after != NULL) {
        /* In cluster mode the position is the whole record key (slot included); otherwise it is
         * the user key. A position below the lower bound is clamped to it by the iterator. */
        if (db->cluster) {
            kv_buf_append_slice(&seek, *after);
        } else {
            kv_buf_append(&seek, lower.ptr, ns_prefix_len);
            kv_buf_append_slice(&seek, *after);
        }
        storage_iter_seek(it, kv_buf_slice(&seek));
        if (storage_iter_valid(it) && kv_slice_eq(storage_iter_key(it), kv_buf_slice(&seek)))
            storage_iter_next(it);
    } else {
        storage_iter_seek_first(it);
    }
    int64_t now = clock_now_ms();
    size_t examined = 0;
    bool stopped = false;
    kv_buf_clear(last);
    for (; storage_iter_valid(it); storage_iter_next(it)) {
        if (limit > 0 && examined >= limit) {
            stopped = true;
            break;
        }
        examined++;
        struct kv_slice rk = storage_iter_key(it);
        struct kv_slice uk = user_key_of(db, rk);
        if (db->cluster)
            kv_buf_set(last, rk.ptr, rk.len);
        else
            kv_buf_set(last, uk.ptr, uk.len);
        struct meta m;
        if (meta_decode(storage_iter_value(it), &m) != KV_OK || !meta_is_live(&m, now))
            continue;
        if (type != META_NONE && m.type != type &&
            strcmp(db_type_reply_name(m.type), db_type_reply_name(type)) != 0)
            continue;
        if (need_glob && !glob_match(pattern.ptr, pattern.len, uk.ptr, uk.len, false))
            continue;
        if (!fn(arg, uk, &m)) {
            stopped = true;
            storage_iter_next(it);
            break;
        }
    }
    enum kv_code rc = storage_iter_status(it, err);
    *done = !stopped || !storage_iter_valid(it);
    storage_iter_free(it);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
    kv_buf_deinit(&seek);
    return rc;
}

static bool
count_one(void *arg, struct kv_slice key, const struct meta *m)
{
    (*(uint64_t *)arg)++;
    return true;
}

enum kv_code
db_size(struct db *db, uint64_t *count, struct kv_err *err)
{
    uint64_t n = 0;
    struct kv_buf last = KV_BUF_INIT;
    bool done = false;
    enum kv_code rc =
        db_scan(db, NULL, kv_slice_make(NULL, 0), META_NONE, 0, count_one, &n, &last, &done, err);
    kv_buf_deinit(&last);
    if (rc == KV_OK)
        *count = n;
    return rc;
}

/* A random record key between `first` and `last` (first <= last, same namespace): keep their
 * common prefix, then pick the next 8 bytes uniformly between theirs (read as big-endian
 * numbers, missing bytes as zeros). */
static void
random_position(struct kv_slice first, struct kv_slice last, struct kv_buf *out)
{
    size_t common = 0;
    while (common < first.len && common < last.len && first.ptr[common] == last.ptr[common])
        common++;
    uint64_t lo = 0, hi = 0;
    for (size_t i = 0; i < 8; i++) {
        size_t j = common + i;
        lo = (lo << 8) | (j < first.len ? (uint8_t)first.ptr[j] : 0);
        hi = (hi << 8) | (j < last.len ? (uint8_t)last.ptr[j] : 0);
    }
    uint64_t r = ((uint64_t)(uint32_t)rand() << 32) ^ ((uint64_t)(uint32_t)rand() << 1) ^
                 (uint64_t)(uint32_t)rand();
    uint64_t span = hi - lo; /* hi >= lo: last sorts after first */
    uint64_t pick = span == UINT64_MAX ? r : lo + r % (span + 1);
    kv_buf_set(out, first.ptr, common);
    kv_buf_append_u64be(out, pick);
}

/* Live keys examined per RANDOMKEY: one of them is picked at random. */
#define DB_RANDOM_WINDOW 16

/* Reservoir sampling over the live records from `from` (NULL: the start) up to `stop`
 * (exclusive; NULL: the end), until *seen reaches DB_RANDOM_WINDOW: the k-th live key replaces
 * the pick in out with probability 1/k. */
static void
sample_live(const struct db *db, struct storage_iter *it, const struct kv_slice *from,
            const struct kv_slice *stop, int64_t now, int *seen, struct kv_buf *out)
{
    if (from != NULL)
        storage_iter_seek(it, *from);
    else
        storage_iter_seek_first(it);
    for (; storage_iter_valid(it) && *seen < DB_RANDOM_WINDOW; storage_iter_next(it)) {
        struct kv_slice rk = storage_iter_key(it);
        if (stop != NULL && kv_slice_cmp(rk, *stop) >= 0)
            break;
        struct meta m;
        if (meta_decode(storage_iter_value(it), &m) != KV_OK || !meta_is_live(&m, now))
            continue;
        (*seen)++;
        if (rand() % *seen == 0) {
            struct kv_slice uk = user_key_of(db, rk);
            kv_buf_set(out, uk.ptr, uk.len);
        }
    }
}

enum kv_code
db_random_key(struct db *db, struct kv_buf *out, struct kv_err *err)
{
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT, first = KV_BUF_INIT, pos = KV_BUF_INIT;
    ns_bounds(db, &lower, &upper);
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_METADATA,
                                               kv_buf_slice(&lower), kv_buf_slice(&upper));
    int64_t now = clock_now_ms();
    kv_buf_clear(out);
    int seen = 0;
    storage_iter_seek_first(it);
    if (storage_iter_valid(it)) {
        struct kv_slice k = storage_iter_key(it);
        kv_buf_set(&first, k.ptr, k.len);
        storage_iter_seek_last(it);
        if (storage_iter_valid(it)) {
            random_position(kv_buf_slice(&first), storage_iter_key(it), &pos);
            struct kv_slice p = kv_buf_slice(&pos);
            /* From the random point, wrapping around to the start when the end comes first. */
            sample_live(db, it, &p, NULL, now, &seen, out);
            if (seen < DB_RANDOM_WINDOW && storage_iter_status(it, NULL) == KV_OK)
                sample_live(db, it, NULL, &p, now, &seen, out);
        }
    }
    bool found = seen > 0;
    enum kv_code rc = storage_iter_status(it, err);
    storage_iter_free(it);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
    kv_buf_deinit(&first);
    kv_buf_deinit(&pos);
    if (rc != KV_OK)
        return rc;
    return found ? KV_OK : KV_NOTFOUND;
}

enum kv_code
db_flush(struct db *db, struct kv_err *err)
{
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT;
    ns_bounds(db, &lower, &upper);
    struct storage_batch *b = storage_batch_new(db->st);
    storage_batch_delete_range(b, KV_CF_METADATA, kv_buf_slice(&lower), kv_buf_slice(&upper));
    enum kv_code rc = db_write(db, b, NULL, 0, err);
    storage_batch_free(b);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
    return rc;
}

enum kv_code
db_flush_all(struct storage *st, struct kv_err *err)
{
    /* Every metadata key starts with its namespace length byte, so [0x00, 0xff 0xff...) covers
     * them all; a key can't start with 0xff ... 0xff longer than the bound. */
    static const char lo[1] = {0};
    static const char hi[9] = {(char)0xff, (char)0xff, (char)0xff, (char)0xff, (char)0xff,
                               (char)0xff, (char)0xff, (char)0xff, (char)0xff};
    struct storage_batch *b = storage_batch_new(st);
    storage_batch_delete_range(b, KV_CF_METADATA, kv_slice_make(lo, 1), kv_slice_make(hi, 9));
    enum kv_code rc = storage_write(st, b, err);
    storage_batch_free(b);
    return rc;
}

/* Column families holding sub-keys of a type. */
static int
subkey_cfs(enum meta_type t, enum kv_cf *cfs)
{
    switch (t) {
    case META_STRING:
    case META_JSON:
    case META_NONE:
        return 0;
    case META_ZSET:
        cfs[0] = KV_CF_SUBKEY;
        cfs[1] = KV_CF_ZSET_SCORE;
        return 2;
    case META_STREAM:
        cfs[0] = KV_CF_STREAM;
        return 1;
    default:
        cfs[0] = KV_CF_SUBKEY;
        return 1;
    }
}

/* Add to `b` the records that make `dst` a copy of the live key `src` (metadata m), with a new
 * version for complex types. The copy keeps src's expiry. */
static enum kv_code
copy_records(struct db *db, struct storage_batch *b, struct kv_slice src, struct kv_slice dst,
             const struct meta *m, struct kv_err *err)
{
    struct meta nm = *m;
    if (m->type != META_STRING && m->type != META_JSON)
        nm.version = meta_new_version();
    struct kv_buf k = KV_BUF_INIT, v = KV_BUF_INIT, prefix = KV_BUF_INIT, upper = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    enum kv_cf cfs[2];
    int ncf = subkey_cfs(m->type, cfs);
    for (int c = 0; c < ncf && rc == KV_OK; c++) {
        db_subkey_prefix(db, src, m->version, &prefix);
        keys_prefix_end(&upper, kv_buf_slice(&prefix));
        struct storage_iter *it =
            storage_iter_new(db->st, db->snap, cfs[c], kv_buf_slice(&prefix), kv_buf_slice(&upper));
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
            struct kv_slice rk = storage_iter_key(it);
            struct kv_slice sub = kv_slice_make(rk.ptr + prefix.len, rk.len - prefix.len);
            keys_subkey(&k, db->ns, db->cluster, dst, nm.version, sub);
            storage_batch_put(b, cfs[c], kv_buf_slice(&k), storage_iter_value(it));
        }
        rc = storage_iter_status(it, err);
        storage_iter_free(it);
    }
    if (rc == KV_OK) {
        db_meta_key(db, dst, &k);
        meta_encode(&nm, &v);
        storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&k), kv_buf_slice(&v));
    }
    kv_buf_deinit(&k);
    kv_buf_deinit(&v);
    kv_buf_deinit(&prefix);
    kv_buf_deinit(&upper);
    return rc;
}

enum kv_code
db_rename(struct db *db, struct kv_slice src, struct kv_slice dst, bool nx, bool *done,
          struct kv_err *err)
{
    struct kv_slice keys[2] = {src, dst};
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, 2, &g);
    struct kv_buf raw = KV_BUF_INIT, raw2 = KV_BUF_INIT;
    struct meta m, dm;
    *done = false;
    struct storage_batch *b = NULL;
    enum kv_code rc = db_get_meta(db, src, META_NONE, &m, &raw, err);
    if (rc != KV_OK)
        goto out;
    if (kv_slice_eq(src, dst)) {
        *done = !nx;
        goto out;
    }
    if (nx) {
        rc = db_get_meta(db, dst, META_NONE, &dm, &raw2, err);
        if (rc == KV_OK)
            goto out;
        if (rc != KV_NOTFOUND)
            goto out;
        rc = KV_OK;
    }
    b = storage_batch_new(db->st);
    rc = copy_records(db, b, src, dst, &m, err);
    if (rc != KV_OK)
        goto out;
    db_batch_delete_key(db, b, src);
    rc = db_write(db, b, keys, 2, err);
    if (rc == KV_OK)
        *done = true;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&raw2);
    return rc;
}

enum kv_code
db_copy(struct db *db, struct kv_slice src, struct kv_slice dst, bool replace, bool *done,
        struct kv_err *err)
{
    struct kv_slice keys[2] = {src, dst};
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, 2, &g);
    struct kv_buf raw = KV_BUF_INIT, raw2 = KV_BUF_INIT;
    struct meta m, dm;
    *done = false;
    struct storage_batch *b = NULL;
    enum kv_code rc = db_get_meta(db, src, META_NONE, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    rc = db_get_meta(db, dst, META_NONE, &dm, &raw2, err);
    if (rc == KV_OK && !replace)
        goto out;
    if (rc != KV_OK && rc != KV_NOTFOUND)
        goto out;
    rc = KV_OK;
    if (kv_slice_eq(src, dst))
        goto out; /* COPY to itself is refused by the command; nothing to do here */
    b = storage_batch_new(db->st);
    rc = copy_records(db, b, src, dst, &m, err);
    if (rc != KV_OK)
        goto out;
    rc = db_write(db, b, &dst, 1, err);
    if (rc == KV_OK)
        *done = true;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&raw2);
    return rc;
}
