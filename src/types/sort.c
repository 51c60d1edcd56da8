/* SPDX-License-Identifier: Apache-2.0 */
#include "types/sort.h"

#include <string.h>

#include "types/hash.h"
#include "types/str.h"

/* Kvrocks's LogData descriptor of an RPUSH ("<list type> <rpush>"), which a store resembles:
 * WAL consumers that rebuild commands see a list written from the left end on. */
#define SORT_STORE_LOG "3 7"

/* The first occurrence of "->" in s, or NULL. */
static const char *
find_arrow(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] == '-' && s[i + 1] == '>')
            return s + i;
    }
    return NULL;
}

enum kv_code
sort_lookup(struct db *db, struct kv_slice pattern, struct kv_slice elem, uint64_t bitmap_max,
            struct kv_buf *out, struct kv_err *err)
{
    kv_buf_clear(out);
    if (pattern.len == 1 && pattern.ptr[0] == '#') {
        kv_buf_append_slice(out, elem);
        return KV_OK;
    }
    const char *star = memchr(pattern.ptr, '*', pattern.len);
    if (star == NULL)
        return KV_NOTFOUND;
    const char *end = pattern.ptr + pattern.len;
    const char *arrow = find_arrow(star + 1, (size_t)(end - star - 1));
    bool has_field = arrow != NULL && arrow + 2 < end;
    const char *key_end = has_field ? arrow : end;
    struct kv_buf key = KV_BUF_INIT, raw = KV_BUF_INIT;
    kv_buf_append(&key, pattern.ptr, (size_t)(star - pattern.ptr));
    kv_buf_append_slice(&key, elem);
    kv_buf_append(&key, star + 1, (size_t)(key_end - star - 1));
    struct kv_slice k = kv_slice_make(key.ptr != NULL ? key.ptr : "", key.len);
    enum kv_code rc;
    if (has_field) {
        struct kv_slice field = kv_slice_make(arrow + 2, (size_t)(end - arrow - 2));
        rc = hash_get(db, k, field, out, err);
    } else {
        struct kv_slice v;
        rc = str_get(db, k, bitmap_max, &raw, &v, err);
        if (rc == KV_OK)
            kv_buf_set(out, v.ptr, v.len);
    }
    /* Another type (or a bitmap too big to read as a string) is no value, as in Redis. */
    if (rc == KV_ERR_WRONGTYPE || rc == KV_ERR) {
        kv_err_clear(err);
        rc = KV_NOTFOUND;
    }
    kv_buf_deinit(&key);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
sort_store_list(struct db *db, struct kv_slice dst, const struct kv_slice *elems, size_t n,
                struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, dst, &g);
    struct storage_batch *b = storage_batch_new(db->st);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT, sk = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    if (n == 0) {
        struct meta old;
        rc = db_get_meta(db, dst, META_NONE, &old, &raw, err);
        if (rc == KV_OK) {
            db_batch_delete_key(db, b, dst);
            rc = db_write(db, b, &dst, 1, err);
        } else if (rc == KV_NOTFOUND) {
            rc = KV_OK;
        }
        goto out;
    }
    struct meta m;
    meta_init(&m, META_LIST); /* a new version: sub-keys of whatever dst held are unreachable */
    storage_batch_log_data(b, kv_slice_cstr(SORT_STORE_LOG));
    db_subkey_prefix(db, dst, m.version, &prefix);
    for (size_t i = 0; i < n; i++) {
        kv_buf_clear(&sk);
        kv_buf_append(&sk, prefix.ptr, prefix.len);
        kv_buf_append_u64be(&sk, m.list_tail + i);
        storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), elems[i]);
    }
    m.list_tail += n;
    m.size = n;
    db_batch_put_meta(db, b, dst, &m);
    rc = db_write(db, b, &dst, 1, err);
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    kv_buf_deinit(&sk);
    return rc;
}
