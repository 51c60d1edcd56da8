/* SPDX-License-Identifier: Apache-2.0 */
#include "types/str.h"

#include <math.h>
#include <string.h>

#include "common/clock.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "storage/meta.h"
#include "storage/storage.h"
#include "types/bitmap.h"

/* Bytes before the value in a 64-bit string record: [flags u8][expire_ms u64]. */
#define STR_HDR 9

/* --- helpers --- */

static bool
expired_at(int64_t expire_at_ms)
{
    return expire_at_ms != 0 && expire_at_ms <= clock_now_ms();
}

/* Add to `b` the record of a string key (value, expiry in ms, 0 = none). */
static void
batch_put_string(struct db *db, struct storage_batch *b, struct kv_slice key, struct kv_slice value,
                 uint64_t expire_ms)
{
    struct meta m;
    meta_init(&m, META_STRING);
    m.expire_ms = expire_ms;
    m.payload = value;
    struct kv_buf k = KV_BUF_INIT, v = KV_BUF_INIT;
    db_meta_key(db, key, &k);
    meta_encode(&m, &v);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&k), kv_buf_slice(&v));
    kv_buf_deinit(&k);
    kv_buf_deinit(&v);
}

/* Add to `b` an already encoded record of `key`. */
static void
batch_put_record(struct db *db, struct storage_batch *b, struct kv_slice key, struct kv_slice rec)
{
    struct kv_buf k = KV_BUF_INIT;
    db_meta_key(db, key, &k);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&k), rec);
    kv_buf_deinit(&k);
}

/* Write `key` as a string in its own batch, or delete it when the expiry has already passed. */
static enum kv_code
write_string(struct db *db, struct kv_slice key, struct kv_slice value, int64_t expire_at_ms,
             struct kv_err *err)
{
    struct storage_batch *b = storage_batch_new(db->st);
    if (expired_at(expire_at_ms))
        db_batch_delete_key(db, b, key);
    else
        batch_put_string(db, b, key, value, (uint64_t)expire_at_ms);
    enum kv_code rc = db_write(db, b, &key, 1, err);
    storage_batch_free(b);
    return rc;
}

/* Write an encoded record of `key` in its own batch. */
static enum kv_code
write_record(struct db *db, struct kv_slice key, struct kv_slice rec, struct kv_err *err)
{
    struct storage_batch *b = storage_batch_new(db->st);
    batch_put_record(db, b, key, rec);
    enum kv_code rc = db_write(db, b, &key, 1, err);
    storage_batch_free(b);
    return rc;
}

/* Delete `key` in its own batch. */
static enum kv_code
delete_key(struct db *db, struct kv_slice key, struct kv_err *err)
{
    struct storage_batch *b = storage_batch_new(db->st);
    db_batch_delete_key(db, b, key);
    enum kv_code rc = db_write(db, b, &key, 1, err);
    storage_batch_free(b);
    return rc;
}

/* Make `raw`, which holds the decoded live string record `m`, a 64-bit record (STR_HDR bytes then
 * the value) that can be edited in place: a legacy record (32-bit fields) is re-encoded. m's
 * payload is re-pointed into the new buffer. */
static void
own_record(struct kv_buf *raw, struct meta *m)
{
    if (raw->len >= STR_HDR && ((uint8_t)raw->ptr[0] & META_FLAG_64BIT) != 0)
        return;
    struct kv_buf tmp = KV_BUF_INIT;
    meta_encode(m, &tmp);
    kv_buf_deinit(raw);
    *raw = tmp;
    m->payload = kv_slice_make(raw->ptr + STR_HDR, raw->len - STR_HDR);
}

/* An empty 64-bit string record without expiry in `raw`. */
static void
empty_record(struct kv_buf *raw, struct meta *m)
{
    meta_init(m, META_STRING);
    meta_encode(m, raw);
    m->payload = kv_slice_make(raw->ptr + STR_HDR, 0);
}

/* Read `key` under the caller's lock: KV_OK with a live string, KV_NOTFOUND, KV_ERR_WRONGTYPE. */
static enum kv_code
read_string(struct db *db, struct kv_slice key, struct meta *m, struct kv_buf *raw,
            struct kv_err *err)
{
    return db_get_meta(db, key, META_STRING, m, raw, err);
}

/* The string form of bytes [start..end] (str_range rules; the whole value when `whole`) of a
 * bitmap key, read from a consistent view, into out; KV_ERR when that is more than `max` bytes.
 * The view also accepts a string key, in case the key was overwritten since the caller looked. */
static enum kv_code
bitmap_string_form(struct db *db, struct kv_slice key, bool whole, int64_t start, int64_t end,
                   uint64_t max, struct kv_buf *out, struct kv_err *err)
{
    struct bitmap_view v;
    enum kv_code rc = bitmap_view_open(db, key, &v, err);
    if (rc == KV_OK) {
        size_t off = 0, n = (size_t)v.len;
        if (!whole)
            str_range((size_t)v.len, start, end, &off, &n);
        if (n > max)
            rc = kv_err_set(err, KV_ERR, "%s", STR_ERR_BITMAP_TOO_LONG);
        else
            rc = bitmap_view_read(&v, off, n, out, err);
    }
    bitmap_view_close(&v);
    return rc;
}

/* Turn the live record `m` (payload borrowed from `raw`) of `key`, read under the caller's lock,
 * into a string record, for the commands that see a bitmap key as the string Redis would hold:
 * a string key is left as it is; a bitmap key becomes the equivalent string record (its string
 * form and its expiry, encoded in `raw` as a 64-bit record, so it can be edited in place and
 * written back, which makes the key a plain string). KV_ERR_WRONGTYPE for other types (a
 * HyperLogLog key included); KV_ERR when the string form is longer than `bitmap_max`. With
 * `as_number`, a bitmap key too long to spell any number (STRCONV_LONG_DOUBLE_BUF bytes or more,
 * more than the number parsers accept) is KV_ERR_INVALID without being read, as Redis refuses
 * such a string. */
static enum kv_code
as_string(struct db *db, struct kv_slice key, bool as_number, uint64_t bitmap_max, struct meta *m,
          struct kv_buf *raw, struct kv_err *err)
{
    if (m->type == META_STRING)
        return KV_OK;
    if (m->type != META_BITMAP)
        return kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    if (as_number && m->size >= STRCONV_LONG_DOUBLE_BUF)
        return kv_err_set(err, KV_ERR_INVALID, "%s", "");
    struct kv_buf form = KV_BUF_INIT;
    enum kv_code rc = bitmap_string_form(db, key, true, 0, 0, bitmap_max, &form, err);
    if (rc == KV_OK) {
        uint64_t expire_ms = m->expire_ms;
        meta_init(m, META_STRING);
        m->expire_ms = expire_ms;
        m->payload = kv_buf_slice(&form);
        meta_encode(m, raw);
        m->payload = kv_slice_make(raw->ptr + STR_HDR, raw->len - STR_HDR);
    }
    kv_buf_deinit(&form);
    return rc;
}

/* db_get_meta then as_string: KV_OK with a string record, KV_NOTFOUND, or as_string's errors. */
static enum kv_code
read_as_string(struct db *db, struct kv_slice key, bool as_number, uint64_t bitmap_max,
               struct meta *m, struct kv_buf *raw, struct kv_err *err)
{
    enum kv_code rc = db_get_meta(db, key, META_NONE, m, raw, err);
    if (rc == KV_OK)
        rc = as_string(db, key, as_number, bitmap_max, m, raw, err);
    return rc;
}

/* --- reads --- */

enum kv_code
str_get(struct db *db, struct kv_slice key, uint64_t bitmap_max, struct kv_buf *raw,
        struct kv_slice *value, struct kv_err *err)
{
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, raw, err);
    if (rc != KV_OK)
        return rc;
    if (m.type == META_BITMAP) {
        rc = bitmap_string_form(db, key, true, 0, 0, bitmap_max, raw, err);
        if (rc == KV_OK)
            *value = kv_buf_slice(raw);
        return rc;
    }
    if (m.type != META_STRING)
        return kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    *value = m.payload;
    return KV_OK;
}

enum kv_code
str_strlen(struct db *db, struct kv_slice key, int64_t *len, struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    *len = 0;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    if (rc == KV_OK) {
        if (m.type == META_STRING)
            *len = (int64_t)m.payload.len;
        else if (m.type == META_BITMAP)
            *len = (int64_t)m.size;
        else
            rc = kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    }
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_getrange(struct db *db, struct kv_slice key, int64_t start, int64_t end, uint64_t bitmap_max,
             struct kv_buf *out, struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    kv_buf_clear(out);
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    if (rc == KV_OK) {
        if (m.type == META_STRING) {
            size_t off = 0, n = 0;
            str_range(m.payload.len, start, end, &off, &n);
            if (n > 0)
                kv_buf_set(out, m.payload.ptr + off, n);
        } else if (m.type == META_BITMAP) {
            rc = bitmap_string_form(db, key, false, start, end, bitmap_max, out, err);
        } else {
            rc = kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
        }
    }
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_mget(struct db *db, const struct kv_slice *keys, size_t n, uint64_t bitmap_max,
         struct kv_buf *raws, struct kv_slice *values, enum meta_type *types, struct kv_err *err)
{
    struct db view = *db;
    struct storage_snapshot *snap = NULL;
    if (view.snap == NULL && n > 1) {
        snap = storage_snapshot_new(db->st);
        view.snap = snap;
    }
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < n; i++) {
        struct meta m;
        types[i] = META_NONE;
        values[i] = kv_slice_make(NULL, 0);
        rc = db_get_meta(&view, keys[i], META_NONE, &m, &raws[i], err);
        if (rc == KV_OK && m.type == META_BITMAP && view.snap == NULL) {
            /* A single key read without a snapshot: read it again from one, so its metadata
             * and its segments come from the same view. */
            snap = storage_snapshot_new(db->st);
            view.snap = snap;
            rc = db_get_meta(&view, keys[i], META_NONE, &m, &raws[i], err);
        }
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            continue;
        }
        if (rc != KV_OK)
            break;
        types[i] = m.type;
        if (m.type == META_STRING) {
            values[i] = m.payload;
        } else if (m.type == META_BITMAP) {
            rc = bitmap_string_form(&view, keys[i], true, 0, 0, bitmap_max, &raws[i], err);
            if (rc != KV_OK)
                break;
            types[i] = META_STRING;
            values[i] = raws[i].len > 0 ? kv_buf_slice(&raws[i]) : kv_slice_make("", 0);
        }
    }
    if (snap != NULL)
        storage_snapshot_free(db->st, snap);
    return rc;
}

void
str_range(size_t len, int64_t start, int64_t end, size_t *off, size_t *n)
{
    *off = 0;
    *n = 0;
    if (len == 0 || (start < 0 && end < 0 && start > end))
        return;
    int64_t l = (int64_t)len;
    if (start < 0)
        start += l;
    if (end < 0)
        end += l;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= l)
        end = l - 1;
    if (start > end)
        return;
    *off = (size_t)start;
    *n = (size_t)(end - start + 1);
}

/* --- writes --- */

enum kv_code
str_set(struct db *db, struct kv_slice key, struct kv_slice value, const struct str_set_opts *opts,
        uint64_t bitmap_max, bool *written, struct kv_buf *old, bool *had_old, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    bool exists = false;
    enum kv_code rc = KV_OK;
    if (opts->cond != STR_COND_NONE || opts->get || opts->ttl == STR_TTL_KEEP) {
        if (opts->get)
            rc = read_as_string(db, key, false, bitmap_max, &m, &raw, err);
        else
            rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
        if (rc == KV_OK)
            exists = true;
        else if (rc == KV_NOTFOUND)
            rc = KV_OK;
        else
            goto out;
    }
    if ((opts->cond == STR_COND_NX && exists) || (opts->cond == STR_COND_XX && !exists)) {
        if (opts->get) {
            if (exists)
                kv_buf_set(old, m.payload.ptr, m.payload.len);
            *had_old = exists;
        }
        *written = false;
        goto out;
    }
    int64_t expire_at_ms = 0;
    if (opts->ttl == STR_TTL_KEEP && exists)
        expire_at_ms = (int64_t)m.expire_ms;
    else if (opts->ttl == STR_TTL_AT)
        expire_at_ms = opts->expire_at_ms;
    rc = write_string(db, key, value, expire_at_ms, err);
    if (rc != KV_OK)
        goto out;
    if (opts->get) {
        if (exists)
            kv_buf_set(old, m.payload.ptr, m.payload.len);
        *had_old = exists;
    }
    *written = true;
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_mset(struct db *db, const struct kv_slice *kv, size_t n, bool nx, bool *written,
         struct kv_err *err)
{
    struct kv_slice *keys = kv_malloc((n ? n : 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = kv[2 * i];
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, n, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    enum kv_code rc = KV_OK;
    if (nx) {
        for (size_t i = 0; i < n; i++) {
            struct meta m;
            rc = db_get_meta(db, keys[i], META_NONE, &m, &raw, err);
            if (rc == KV_NOTFOUND) {
                rc = KV_OK;
                continue;
            }
            if (rc == KV_OK)
                *written = false;
            goto out;
        }
    }
    b = storage_batch_new(db->st);
    for (size_t i = 0; i < n; i++)
        batch_put_string(db, b, kv[2 * i], kv[2 * i + 1], 0);
    rc = db_write(db, b, keys, n, err);
    if (rc == KV_OK)
        *written = true;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_free(keys);
    return rc;
}

enum kv_code
str_getdel(struct db *db, struct kv_slice key, uint64_t bitmap_max, struct kv_buf *out,
           struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = read_as_string(db, key, false, bitmap_max, &m, &raw, err);
    if (rc == KV_OK)
        rc = delete_key(db, key, err);
    if (rc == KV_OK)
        kv_buf_set(out, m.payload.ptr, m.payload.len);
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_getex(struct db *db, struct kv_slice key, enum str_ttl ttl, int64_t expire_at_ms,
          uint64_t bitmap_max, struct kv_buf *out, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    if (rc != KV_OK)
        goto out;
    /* A bitmap key answers with its string form and stays a bitmap: only its expiry changes. */
    if (m.type == META_STRING)
        kv_buf_set(out, m.payload.ptr, m.payload.len);
    else if (m.type == META_BITMAP)
        rc = bitmap_string_form(db, key, true, 0, 0, bitmap_max, out, err);
    else
        rc = kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    if (rc != KV_OK)
        goto out;
    if (ttl == STR_TTL_AT && expired_at(expire_at_ms)) {
        rc = delete_key(db, key, err);
    } else if ((ttl == STR_TTL_AT && (uint64_t)expire_at_ms != m.expire_ms) ||
               (ttl == STR_TTL_CLEAR && m.expire_ms != 0)) {
        m.expire_ms = ttl == STR_TTL_AT ? (uint64_t)expire_at_ms : 0;
        struct storage_batch *b = storage_batch_new(db->st);
        db_batch_put_meta(db, b, key, &m);
        rc = db_write(db, b, &key, 1, err);
        storage_batch_free(b);
    }
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

/* Whether a value of offset + len bytes would exceed max_len (offset >= 0). */
static bool
too_long(uint64_t offset, uint64_t len, uint64_t max_len)
{
    return offset > max_len || len > max_len - offset;
}

enum kv_code
str_setrange(struct db *db, struct kv_slice key, int64_t offset, struct kv_slice value,
             uint64_t max_len, uint64_t bitmap_max, int64_t *new_len, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        if (value.len == 0) {
            *new_len = 0;
            rc = KV_OK;
            goto out;
        }
        empty_record(&raw, &m);
        rc = KV_OK;
    } else if (rc != KV_OK) {
        goto out;
    } else if (m.type != META_STRING && m.type != META_BITMAP) {
        rc = kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
        goto out;
    } else if (value.len == 0) {
        *new_len = (int64_t)(m.type == META_STRING ? m.payload.len : m.size);
        goto out;
    }
    if (offset < 0 || too_long((uint64_t)offset, value.len, max_len)) {
        rc = kv_err_set(err, KV_ERR_RANGE, "%s", "");
        goto out;
    }
    if ((rc = as_string(db, key, false, bitmap_max, &m, &raw, err)) != KV_OK)
        goto out;
    own_record(&raw, &m);
    size_t need = STR_HDR + (size_t)offset + value.len;
    if (raw.len < need)
        kv_buf_resize(&raw, need);
    memcpy(raw.ptr + STR_HDR + offset, value.ptr, value.len);
    rc = write_record(db, key, kv_buf_slice(&raw), err);
    if (rc == KV_OK)
        *new_len = (int64_t)(raw.len - STR_HDR);
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_append(struct db *db, struct kv_slice key, struct kv_slice value, uint64_t max_len,
           uint64_t bitmap_max, int64_t *new_len, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_NONE, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = write_string(db, key, value, 0, err);
        if (rc == KV_OK)
            *new_len = (int64_t)value.len;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    if (m.type != META_STRING && m.type != META_BITMAP) {
        rc = kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
        goto out;
    }
    if (too_long(m.type == META_STRING ? m.payload.len : m.size, value.len, max_len)) {
        rc = kv_err_set(err, KV_ERR_RANGE, "%s", "");
        goto out;
    }
    if ((rc = as_string(db, key, false, bitmap_max, &m, &raw, err)) != KV_OK)
        goto out;
    own_record(&raw, &m);
    kv_buf_append_slice(&raw, value);
    rc = write_record(db, key, kv_buf_slice(&raw), err);
    if (rc == KV_OK)
        *new_len = (int64_t)(raw.len - STR_HDR);
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_incrby(struct db *db, struct kv_slice key, int64_t incr, uint64_t bitmap_max, int64_t *result,
           struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    int64_t cur = 0;
    uint64_t expire_ms = 0;
    enum kv_code rc = read_as_string(db, key, true, bitmap_max, &m, &raw, err);
    if (rc == KV_OK) {
        if (strconv_to_int64(m.payload.ptr, m.payload.len, &cur) != KV_OK) {
            rc = kv_err_set(err, KV_ERR_INVALID, "%s", "");
            goto out;
        }
        expire_ms = m.expire_ms;
    } else if (rc == KV_NOTFOUND) {
        rc = KV_OK;
    } else {
        goto out;
    }
    if ((incr < 0 && cur < 0 && incr < INT64_MIN - cur) ||
        (incr > 0 && cur > 0 && incr > INT64_MAX - cur)) {
        rc = kv_err_set(err, KV_ERR_RANGE, "%s", "");
        goto out;
    }
    int64_t sum = cur + incr;
    char buf[STRCONV_INT64_BUF];
    size_t len = strconv_from_int64(sum, buf);
    rc = write_string(db, key, kv_slice_make(buf, len), (int64_t)expire_ms, err);
    if (rc == KV_OK)
        *result = sum;
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_incrbyfloat(struct db *db, struct kv_slice key, struct kv_slice incr, uint64_t bitmap_max,
                struct kv_buf *out, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, text = KV_BUF_INIT;
    struct meta m;
    long double cur = 0, by = 0;
    uint64_t expire_ms = 0;
    enum kv_code rc = read_as_string(db, key, true, bitmap_max, &m, &raw, err);
    if (rc == KV_OK) {
        if (strconv_to_long_double(m.payload.ptr, m.payload.len, &cur) != KV_OK) {
            rc = kv_err_set(err, KV_ERR_INVALID, "%s", "");
            goto out;
        }
        expire_ms = m.expire_ms;
    } else if (rc == KV_NOTFOUND) {
        rc = KV_OK;
    } else {
        goto out;
    }
    if (strconv_to_long_double(incr.ptr, incr.len, &by) != KV_OK) {
        rc = kv_err_set(err, KV_ERR_INVALID, "%s", "");
        goto out;
    }
    long double sum = cur + by;
    if (isnan(sum) || isinf(sum)) {
        rc = kv_err_set(err, KV_ERR_RANGE, "%s", "");
        goto out;
    }
    kv_buf_resize(&text, STRCONV_LONG_DOUBLE_BUF);
    size_t len = strconv_from_long_double(sum, text.ptr);
    if (len == 0) {
        rc = kv_err_set(err, KV_ERR_RANGE, "%s", "");
        goto out;
    }
    kv_buf_resize(&text, len);
    rc = write_string(db, key, kv_buf_slice(&text), (int64_t)expire_ms, err);
    if (rc == KV_OK)
        kv_buf_set(out, text.ptr, text.len);
out:
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&text);
    return rc;
}

enum kv_code
str_cas(struct db *db, struct kv_slice key, struct kv_slice expected, struct kv_slice value,
        int64_t expire_at_ms, int *result, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = read_string(db, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        *result = -1;
        rc = KV_OK;
    } else if (rc == KV_OK) {
        if (!kv_slice_eq(m.payload, expected)) {
            *result = 0;
        } else {
            rc = write_string(db, key, value, expire_at_ms, err);
            if (rc == KV_OK)
                *result = 1;
        }
    }
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
str_cad(struct db *db, struct kv_slice key, struct kv_slice expected, int *result,
        struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = read_string(db, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        *result = -1;
        rc = KV_OK;
    } else if (rc == KV_OK) {
        if (!kv_slice_eq(m.payload, expected)) {
            *result = 0;
        } else {
            rc = delete_key(db, key, err);
            if (rc == KV_OK)
                *result = 1;
        }
    }
    keylock_unlock(&g);
    kv_buf_deinit(&raw);
    return rc;
}

/* --- LCS --- */

void
str_lcs_deinit(struct str_lcs *r)
{
    kv_buf_deinit(&r->str);
    kv_free(r->matches);
    r->matches = NULL;
    r->nmatches = 0;
    r->len = 0;
}

static void
lcs_add_match(struct str_lcs *r, size_t *cap, uint32_t a_start, uint32_t a_end, uint32_t b_start,
              uint32_t b_end)
{
    if (r->nmatches == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        r->matches = kv_realloc(r->matches, *cap * sizeof *r->matches);
    }
    struct str_lcs_match *mt = &r->matches[r->nmatches++];
    mt->a_start = a_start;
    mt->a_end = a_end;
    mt->b_start = b_start;
    mt->b_end = b_end;
}

enum kv_code
str_lcs_compute(struct kv_slice a, struct kv_slice b, bool want_str, bool want_matches,
                int64_t min_match_len, struct str_lcs *out, struct kv_err *err)
{
    if ((uint64_t)a.len >= UINT32_MAX - 1 || (uint64_t)b.len >= UINT32_MAX - 1)
        return kv_err_set(err, KV_ERR_RANGE, "%s", "");
    uint32_t alen = (uint32_t)a.len, blen = (uint32_t)b.len;
    const unsigned char *pa = (const unsigned char *)a.ptr;
    const unsigned char *pb = (const unsigned char *)b.ptr;
    /* dp[i * (blen + 1) + j] = LCS length of a[0..i) and b[0..j). */
    uint64_t cells = (uint64_t)(alen + 1) * (uint64_t)(blen + 1);
    uint32_t *dp = NULL;
    if (cells <= SIZE_MAX / sizeof *dp)
        dp = kv_try_malloc((size_t)cells * sizeof *dp);
    if (dp == NULL)
        return kv_err_set(err, KV_ERR_NOMEM, "%s", "");
    size_t row = (size_t)blen + 1;
#define LCS_AT(i, j) dp[(size_t)(i)*row + (size_t)(j)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0) {
                LCS_AT(i, j) = 0;
            } else if (pa[i - 1] == pb[j - 1]) {
                LCS_AT(i, j) = LCS_AT(i - 1, j - 1) + 1;
            } else {
                uint32_t up = LCS_AT(i - 1, j), left = LCS_AT(i, j - 1);
                LCS_AT(i, j) = up > left ? up : left;
            }
        }
    }
    uint32_t total = LCS_AT(alen, blen);
    out->len = total;
    if (want_str || want_matches) {
        /* Walk back from the end, collecting the subsequence right to left and the runs of
         * contiguous matches in both strings as they close. */
        if (want_str)
            kv_buf_resize(&out->str, total);
        size_t cap = 0;
        uint32_t k = total;
        uint32_t i = alen, j = blen;
        bool open = false;
        uint32_t as = 0, ae = 0, bs = 0, be = 0;
        while (i > 0 && j > 0) {
            bool close = false;
            if (pa[i - 1] == pb[j - 1]) {
                if (want_str)
                    out->str.ptr[k - 1] = (char)pa[i - 1];
                if (!open) {
                    open = true;
                    as = ae = i - 1;
                    bs = be = j - 1;
                } else if (as == i && bs == j) {
                    as--;
                    bs--;
                } else {
                    close = true;
                }
                if (as == 0 || bs == 0)
                    close = true;
                k--;
                i--;
                j--;
            } else {
                if (LCS_AT(i - 1, j) > LCS_AT(i, j - 1))
                    i--;
                else
                    j--;
                if (open)
                    close = true;
            }
            if (close) {
                uint32_t run = ae - as + 1;
                if (want_matches && (min_match_len <= 0 || (int64_t)run >= min_match_len))
                    lcs_add_match(out, &cap, as, ae, bs, be);
                open = false;
            }
        }
    }
#undef LCS_AT
    kv_free(dp);
    return KV_OK;
}
