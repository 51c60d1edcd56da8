/* SPDX-License-Identifier: Apache-2.0
 *
 * hash: fields as sub-keys of CF default (see hash.h). Helpers first, then reads, then writes.
 */
#include "types/hash.h"

#include <math.h>
#include <string.h>

#include "common/mem.h"
#include "common/strconv.h"
#include "storage/meta.h"
#include "storage/storage.h"

/* --- helpers --- */

/* Read field `field` of (key, m) into val (may be NULL: existence only, val is then a scratch
 * buffer of the caller or a local one). KV_OK, KV_NOTFOUND, KV_ERR_IO. */
static enum kv_code
read_field(struct db *db, struct kv_slice key, const struct meta *m, struct kv_slice field,
           struct kv_buf *sk, struct kv_buf *val, struct kv_err *err)
{
    db_subkey(db, key, m->version, field, sk);
    struct kv_buf scratch = KV_BUF_INIT;
    enum kv_code rc =
        storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(sk), val ? val : &scratch, err);
    kv_buf_deinit(&scratch);
    return rc;
}

/* Write one field's new value in one batch, with the metadata (size already updated) when the
 * field is new: an existing field's new value leaves the metadata as it is (as Kvrocks does). */
static enum kv_code
write_field(struct db *db, struct kv_slice key, const struct meta *m, bool new_field,
            struct kv_slice field, struct kv_slice value, struct kv_err *err)
{
    struct kv_buf sk = KV_BUF_INIT;
    struct storage_batch *b = storage_batch_new(db->st);
    db_subkey(db, key, m->version, field, &sk);
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), value);
    if (new_field)
        db_batch_put_meta(db, b, key, m);
    enum kv_code rc = db_write(db, b, &key, 1, err);
    storage_batch_free(b);
    kv_buf_deinit(&sk);
    return rc;
}

/* --- reads --- */

enum kv_code
hash_get(struct db *db, struct kv_slice key, struct kv_slice field, struct kv_buf *value,
         struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_HASH, &m, &raw, err);
    if (rc == KV_OK)
        rc = read_field(db, key, &m, field, &sk, value, err);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    return rc;
}

enum kv_code
hash_mget(struct db *db, struct kv_slice key, const struct kv_slice *fields, size_t n,
          struct kv_buf *values, bool *found, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(&view, key, META_HASH, &m, &raw, err);
    for (size_t i = 0; i < n; i++)
        found[i] = false;
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto out;
    }
    for (size_t i = 0; rc == KV_OK && i < n; i++) {
        rc = read_field(&view, key, &m, fields[i], &sk, &values[i], err);
        if (rc == KV_OK)
            found[i] = true;
        else if (rc == KV_NOTFOUND)
            rc = KV_OK;
    }
out:
    subkey_view_end(db, snap);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    return rc;
}

enum kv_code
hash_size(struct db *db, struct kv_slice key, uint64_t *size, struct kv_err *err)
{
    return subkey_key_size(db, key, META_HASH, size, err);
}

enum kv_code
hash_scan(struct db *db, struct kv_slice key, const struct kv_slice *after, struct kv_slice pattern,
          size_t limit, subkey_fn fn, void *arg, struct kv_buf *last, bool *done,
          struct kv_err *err)
{
    return subkey_key_scan(db, key, META_HASH, after, pattern, limit, fn, arg, last, done, err);
}

enum kv_code
hash_random(struct db *db, struct kv_slice key, uint64_t count, bool distinct,
            struct subkey_sample *out, struct kv_err *err)
{
    return subkey_key_sample(db, key, META_HASH, count, distinct, out, err);
}

/* --- writes --- */

enum kv_code
hash_set(struct db *db, struct kv_slice key, const struct kv_slice *fv, size_t npairs, bool nx,
         uint64_t *added, struct kv_err *err)
{
    struct keylock_guard g;
    if (subkey_lock_unless_unchanged(db, key, META_HASH, fv, npairs, 2, !nx, &g)) {
        /* Every field already has its value (HSETNX: exists). Such an HSET still counts as a
         * change of the key, as below. */
        if (!nx)
            db_touch(db, &key, 1);
        *added = 0;
        return KV_OK;
    }
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT, cur = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    size_t nuniq = 0;
    size_t *uniq = NULL;
    struct meta m;
    enum kv_code rc = db_get_meta_for_write(db, key, META_HASH, &m, &raw, err);
    bool fresh = rc == KV_NOTFOUND;
    if (rc != KV_OK && !fresh)
        goto out;
    rc = KV_OK;
    uniq = subkey_unique(fv, npairs, 2, &nuniq);
    b = storage_batch_new(db->st);
    uint64_t n_added = 0;
    bool wrote = false, same = false;
    for (size_t i = 0; i < nuniq; i++) {
        struct kv_slice field = fv[uniq[i]], value = fv[uniq[i] + 1];
        bool exists = false;
        if (!fresh) {
            rc = read_field(db, key, &m, field, &sk, &cur, err);
            if (rc == KV_OK)
                exists = true;
            else if (rc != KV_NOTFOUND)
                goto out;
            rc = KV_OK;
        }
        if (exists && nx)
            continue;
        /* A field that already has this value is left unwritten (as Kvrocks does): an HSET
         * that repeats values writes nothing, yet counts as a change of the key below. */
        if (exists && kv_slice_eq(kv_buf_slice(&cur), value)) {
            same = true;
            continue;
        }
        db_subkey(db, key, m.version, field, &sk);
        storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), value);
        wrote = true;
        if (!exists)
            n_added++;
    }
    if (wrote) {
        /* New fields change the size (a new key always has some); new values of existing
         * fields leave the metadata as it is. */
        if (n_added > 0) {
            m.size += n_added;
            db_batch_put_meta(db, b, key, &m);
        }
        rc = db_write(db, b, &key, 1, err);
    } else if (same) {
        /* Redis's HSET signals the key even when no value changed: WATCH sees it. */
        db_touch(db, &key, 1);
    }
    if (rc == KV_OK)
        *added = n_added;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_free(uniq);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&cur);
    return rc;
}

enum kv_code
hash_delete(struct db *db, struct kv_slice key, const struct kv_slice *fields, size_t n,
            uint64_t *deleted, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    size_t nuniq = 0;
    size_t *uniq = NULL;
    struct meta m;
    uint64_t n_deleted = 0;
    enum kv_code rc = db_get_meta(db, key, META_HASH, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto done;
    }
    if (rc != KV_OK)
        goto out;
    uniq = subkey_unique(fields, n, 1, &nuniq);
    b = storage_batch_new(db->st);
    for (size_t i = 0; i < nuniq; i++) {
        rc = read_field(db, key, &m, fields[uniq[i]], &sk, NULL, err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            continue;
        }
        if (rc != KV_OK)
            goto out;
        storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&sk));
        n_deleted++;
    }
    if (n_deleted > 0) {
        m.size = m.size > n_deleted ? m.size - n_deleted : 0;
        if (m.size == 0)
            db_batch_delete_key(db, b, key);
        else
            db_batch_put_meta(db, b, key, &m);
        rc = db_write(db, b, &key, 1, err);
    }
done:
    if (rc == KV_OK)
        *deleted = n_deleted;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_free(uniq);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    return rc;
}

enum kv_code
hash_incrby(struct db *db, struct kv_slice key, struct kv_slice field, int64_t incr,
            int64_t *result, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT, val = KV_BUF_INIT;
    struct meta m;
    int64_t old = 0;
    bool new_field = true;
    enum kv_code rc = db_get_meta_for_write(db, key, META_HASH, &m, &raw, err);
    if (rc == KV_OK) {
        rc = read_field(db, key, &m, field, &sk, &val, err);
        if (rc == KV_OK) {
            new_field = false;
            if (strconv_to_int64(val.ptr, val.len, &old) != KV_OK) {
                rc = kv_err_set(err, KV_ERR_INVALID, "hash value is not an integer");
                goto out;
            }
        } else if (rc == KV_NOTFOUND) {
            m.size++;
        } else {
            goto out;
        }
    } else if (rc == KV_NOTFOUND) {
        m.size = 1;
    } else {
        goto out;
    }
    if ((incr < 0 && old < 0 && incr < INT64_MIN - old) ||
        (incr > 0 && old > 0 && incr > INT64_MAX - old)) {
        rc = kv_err_set(err, KV_ERR_RANGE, "increment or decrement would overflow");
        goto out;
    }
    int64_t sum = old + incr;
    char num[STRCONV_INT64_BUF];
    size_t len = strconv_from_int64(sum, num);
    rc = write_field(db, key, &m, new_field, field, kv_slice_make(num, len), err);
    if (rc == KV_OK)
        *result = sum;
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&val);
    return rc;
}

enum kv_code
hash_incrbyfloat(struct db *db, struct kv_slice key, struct kv_slice field, long double incr,
                 struct kv_buf *out, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT, val = KV_BUF_INIT;
    struct meta m;
    long double old = 0;
    bool new_field = true;
    char *num = NULL;
    enum kv_code rc = db_get_meta_for_write(db, key, META_HASH, &m, &raw, err);
    if (rc == KV_OK) {
        rc = read_field(db, key, &m, field, &sk, &val, err);
        if (rc == KV_OK) {
            new_field = false;
            if (strconv_to_long_double(val.ptr, val.len, &old) != KV_OK) {
                rc = kv_err_set(err, KV_ERR_INVALID, "hash value is not a float");
                goto out;
            }
        } else if (rc == KV_NOTFOUND) {
            m.size++;
        } else {
            goto out;
        }
    } else if (rc == KV_NOTFOUND) {
        m.size = 1;
    } else {
        goto out;
    }
    long double sum = old + incr;
    if (isnan(sum) || isinf(sum)) {
        rc = kv_err_set(err, KV_ERR_RANGE, "increment would produce NaN or Infinity");
        goto out;
    }
    num = kv_malloc(STRCONV_LONG_DOUBLE_BUF);
    size_t len = strconv_from_long_double(sum, num);
    rc = write_field(db, key, &m, new_field, field, kv_slice_make(num, len), err);
    if (rc == KV_OK)
        kv_buf_set(out, num, len);
out:
    keylock_unlock(&g);
    kv_free(num);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&val);
    return rc;
}
