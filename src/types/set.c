/* SPDX-License-Identifier: Apache-2.0
 *
 * set: members as sub-keys of CF default with empty values (see set.h). Helpers first, then
 * reads, then writes.
 */
#include "types/set.h"

#include <string.h>

#include "common/mem.h"
#include "storage/meta.h"
#include "storage/storage.h"

/* --- helpers --- */

/* Whether `member` is in (key, version): *in. sk and scratch are the caller's buffers. */
static enum kv_code
has_member(struct db *db, struct kv_slice key, uint64_t version, struct kv_slice member,
           struct kv_buf *sk, struct kv_buf *scratch, bool *in, struct kv_err *err)
{
    db_subkey(db, key, version, member, sk);
    enum kv_code rc = storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(sk), scratch, err);
    if (rc == KV_OK || rc == KV_NOTFOUND) {
        *in = rc == KV_OK;
        return KV_OK;
    }
    return rc;
}

/* An iterator over the members of one key version. */
struct member_iter {
    struct storage_iter *it; /* owned */
    size_t plen;             /* length of the sub-key prefix */
};

static void
member_iter_open(struct db *db, struct kv_slice key, uint64_t version, struct member_iter *mi)
{
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT;
    subkey_bounds(db, key, version, &lower, &upper);
    mi->plen = lower.len;
    mi->it = storage_iter_new(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&lower),
                              kv_buf_slice(&upper));
    storage_iter_seek_first(mi->it);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
}

/* The current member: borrowed until the iterator moves. */
static struct kv_slice
member_iter_member(const struct member_iter *mi)
{
    struct kv_slice k = storage_iter_key(mi->it);
    return kv_slice_make(k.ptr + mi->plen, k.len - mi->plen);
}

/* The iterator's status, then free it. */
static enum kv_code
member_iter_close(struct member_iter *mi, struct kv_err *err)
{
    enum kv_code rc = KV_OK;
    if (mi->it != NULL) {
        rc = storage_iter_status(mi->it, err);
        storage_iter_free(mi->it);
        mi->it = NULL;
    }
    return rc;
}

/* One source of a combination. */
struct source {
    struct meta m;
    struct kv_buf raw; /* owned: m's record */
    bool live;
};

/* Look every key up (type-checking all of them). sources[] zeroed by the caller. */
static enum kv_code
load_sources(struct db *db, const struct kv_slice *keys, size_t n, struct source *sources,
             struct kv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        enum kv_code rc = db_get_meta(db, keys[i], META_SET, &sources[i].m, &sources[i].raw, err);
        if (rc == KV_OK)
            sources[i].live = true;
        else if (rc != KV_NOTFOUND)
            return rc;
    }
    return KV_OK;
}

static void
free_sources(struct source *sources, size_t n)
{
    for (size_t i = 0; sources != NULL && i < n; i++)
        kv_buf_deinit(&sources[i].raw);
    kv_free(sources);
}

/* Intersection: iterate the smallest set, probe the others. */
static enum kv_code
combine_inter(struct db *db, const struct kv_slice *keys, size_t n, const struct source *s,
              set_member_fn fn, void *arg, struct kv_err *err)
{
    size_t driver = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s[i].live)
            return KV_OK;
        if (s[i].m.size < s[driver].m.size)
            driver = i;
    }
    struct kv_buf sk = KV_BUF_INIT, scratch = KV_BUF_INIT;
    struct member_iter mi;
    member_iter_open(db, keys[driver], s[driver].m.version, &mi);
    enum kv_code rc = KV_OK;
    for (; storage_iter_valid(mi.it); storage_iter_next(mi.it)) {
        struct kv_slice member = member_iter_member(&mi);
        bool in_all = true;
        for (size_t j = 0; j < n && in_all; j++) {
            if (j == driver || kv_slice_eq(keys[j], keys[driver]))
                continue;
            rc = has_member(db, keys[j], s[j].m.version, member, &sk, &scratch, &in_all, err);
            if (rc != KV_OK)
                goto out;
        }
        if (in_all && !fn(arg, member))
            break;
    }
out:;
    enum kv_code irc = member_iter_close(&mi, err);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&scratch);
    return rc != KV_OK ? rc : irc;
}

/* Difference: iterate the first set, probe the others. */
static enum kv_code
combine_diff(struct db *db, const struct kv_slice *keys, size_t n, const struct source *s,
             set_member_fn fn, void *arg, struct kv_err *err)
{
    if (!s[0].live)
        return KV_OK;
    for (size_t j = 1; j < n; j++) {
        if (kv_slice_eq(keys[j], keys[0]))
            return KV_OK; /* A minus A */
    }
    struct kv_buf sk = KV_BUF_INIT, scratch = KV_BUF_INIT;
    struct member_iter mi;
    member_iter_open(db, keys[0], s[0].m.version, &mi);
    enum kv_code rc = KV_OK;
    for (; storage_iter_valid(mi.it); storage_iter_next(mi.it)) {
        struct kv_slice member = member_iter_member(&mi);
        bool in_other = false;
        for (size_t j = 1; j < n && !in_other; j++) {
            if (!s[j].live)
                continue;
            rc = has_member(db, keys[j], s[j].m.version, member, &sk, &scratch, &in_other, err);
            if (rc != KV_OK)
                goto out;
        }
        if (!in_other && !fn(arg, member))
            break;
    }
out:;
    enum kv_code irc = member_iter_close(&mi, err);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&scratch);
    return rc != KV_OK ? rc : irc;
}

/* Union: a k-way merge of the sorted member streams, each member given once. */
static enum kv_code
combine_union(struct db *db, const struct kv_slice *keys, size_t n, const struct source *s,
              set_member_fn fn, void *arg, struct kv_err *err)
{
    struct member_iter *mi = kv_calloc(n, sizeof *mi);
    struct kv_buf cur = KV_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = kv_slice_eq(keys[j], keys[i]);
        if (s[i].live && !dup)
            member_iter_open(db, keys[i], s[i].m.version, &mi[i]);
    }
    for (;;) {
        struct kv_slice min = {NULL, 0};
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (mi[i].it == NULL || !storage_iter_valid(mi[i].it))
                continue;
            struct kv_slice m = member_iter_member(&mi[i]);
            if (!any || kv_slice_cmp(m, min) < 0)
                min = m;
            any = true;
        }
        if (!any)
            break;
        kv_buf_set(&cur, min.ptr, min.len);
        if (!fn(arg, kv_buf_slice(&cur)))
            break;
        for (size_t i = 0; i < n; i++) {
            if (mi[i].it != NULL && storage_iter_valid(mi[i].it) &&
                kv_slice_eq(member_iter_member(&mi[i]), kv_buf_slice(&cur)))
                storage_iter_next(mi[i].it);
        }
    }
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < n; i++) {
        enum kv_code irc = member_iter_close(&mi[i], err);
        if (rc == KV_OK)
            rc = irc;
    }
    kv_free(mi);
    kv_buf_deinit(&cur);
    return rc;
}

static enum kv_code
combine(struct db *db, enum set_op op, const struct kv_slice *keys, size_t n,
        const struct source *s, set_member_fn fn, void *arg, struct kv_err *err)
{
    switch (op) {
    case SET_OP_INTER:
        return combine_inter(db, keys, n, s, fn, arg, err);
    case SET_OP_DIFF:
        return combine_diff(db, keys, n, s, fn, arg, err);
    case SET_OP_UNION:
    default:
        return combine_union(db, keys, n, s, fn, arg, err);
    }
}

/* --- reads --- */

enum kv_code
set_card(struct db *db, struct kv_slice key, uint64_t *card, struct kv_err *err)
{
    return subkey_key_size(db, key, META_SET, card, err);
}

enum kv_code
set_is_member(struct db *db, struct kv_slice key, const struct kv_slice *members, size_t n,
              bool *is_member, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT, scratch = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(&view, key, META_SET, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        for (size_t i = 0; i < n; i++)
            is_member[i] = false;
        rc = KV_OK;
    } else {
        for (size_t i = 0; rc == KV_OK && i < n; i++)
            rc = has_member(&view, key, m.version, members[i], &sk, &scratch, &is_member[i], err);
    }
    subkey_view_end(db, snap);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&scratch);
    return rc;
}

enum kv_code
set_scan(struct db *db, struct kv_slice key, const struct kv_slice *after, struct kv_slice pattern,
         size_t limit, subkey_fn fn, void *arg, struct kv_buf *last, bool *done, struct kv_err *err)
{
    return subkey_key_scan(db, key, META_SET, after, pattern, limit, fn, arg, last, done, err);
}

enum kv_code
set_random(struct db *db, struct kv_slice key, uint64_t count, bool distinct,
           struct subkey_sample *out, struct kv_err *err)
{
    return subkey_key_sample(db, key, META_SET, count, distinct, out, err);
}

enum kv_code
set_combine(struct db *db, enum set_op op, const struct kv_slice *keys, size_t n, set_member_fn fn,
            void *arg, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct source *s = kv_calloc(n ? n : 1, sizeof *s);
    enum kv_code rc = load_sources(&view, keys, n, s, err);
    if (rc == KV_OK)
        rc = combine(&view, op, keys, n, s, fn, arg, err);
    free_sources(s, n);
    subkey_view_end(db, snap);
    return rc;
}

/* --- writes --- */

enum kv_code
set_add(struct db *db, struct kv_slice key, const struct kv_slice *members, size_t n,
        uint64_t *added, struct kv_err *err)
{
    struct keylock_guard g;
    if (subkey_lock_unless_unchanged(db, key, META_SET, members, n, 1, false, &g)) {
        *added = 0; /* every member already there */
        return KV_OK;
    }
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT, scratch = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    size_t nuniq = 0;
    size_t *uniq = NULL;
    struct meta m;
    uint64_t n_added = 0;
    enum kv_code rc = db_get_meta_for_write(db, key, META_SET, &m, &raw, err);
    bool fresh = rc == KV_NOTFOUND;
    if (rc != KV_OK && !fresh)
        goto out;
    rc = KV_OK;
    uniq = subkey_unique(members, n, 1, &nuniq);
    b = storage_batch_new(db->st);
    for (size_t i = 0; i < nuniq; i++) {
        struct kv_slice member = members[uniq[i]];
        bool in = false;
        if (!fresh) {
            rc = has_member(db, key, m.version, member, &sk, &scratch, &in, err);
            if (rc != KV_OK)
                goto out;
            if (in)
                continue;
        }
        db_subkey(db, key, m.version, member, &sk);
        storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), kv_slice_make("", 0));
        n_added++;
    }
    if (n_added > 0) {
        m.size += n_added;
        db_batch_put_meta(db, b, key, &m);
        rc = db_write(db, b, &key, 1, err);
    }
    if (rc == KV_OK)
        *added = n_added;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_free(uniq);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&scratch);
    return rc;
}

enum kv_code
set_remove(struct db *db, struct kv_slice key, const struct kv_slice *members, size_t n,
           uint64_t *removed, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT, scratch = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    size_t nuniq = 0;
    size_t *uniq = NULL;
    struct meta m;
    uint64_t n_removed = 0;
    enum kv_code rc = db_get_meta(db, key, META_SET, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto done;
    }
    if (rc != KV_OK)
        goto out;
    uniq = subkey_unique(members, n, 1, &nuniq);
    b = storage_batch_new(db->st);
    for (size_t i = 0; i < nuniq; i++) {
        bool in = false;
        rc = has_member(db, key, m.version, members[uniq[i]], &sk, &scratch, &in, err);
        if (rc != KV_OK)
            goto out;
        if (!in)
            continue;
        storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&sk));
        n_removed++;
    }
    if (n_removed > 0) {
        m.size = m.size > n_removed ? m.size - n_removed : 0;
        if (m.size == 0)
            db_batch_delete_key(db, b, key);
        else
            db_batch_put_meta(db, b, key, &m);
        rc = db_write(db, b, &key, 1, err);
    }
done:
    if (rc == KV_OK)
        *removed = n_removed;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_free(uniq);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&scratch);
    return rc;
}

enum kv_code
set_pop(struct db *db, struct kv_slice key, uint64_t count, struct subkey_list *out,
        struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT, last = KV_BUF_INIT;
    struct subkey_sample sample = {SUBKEY_LIST_INIT, NULL, 0};
    struct storage_batch *b = NULL;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, META_SET, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK || count == 0)
        goto out;
    b = storage_batch_new(db->st);
    if (count >= m.size) {
        /* Everything goes: reply with all members and drop the metadata; the sub-keys become
         * unreachable at once and compaction reclaims them. */
        bool done = false;
        rc = subkey_scan(db, key, m.version, NULL, kv_slice_make(NULL, 0), 0, subkey_list_collect,
                         out, &last, &done, err);
        if (rc != KV_OK)
            goto out;
        db_batch_delete_key(db, b, key);
    } else {
        rc = subkey_sample(db, key, m.version, m.size, count, true, &sample, err);
        if (rc != KV_OK)
            goto out;
        for (size_t i = 0; i < sample.npicks; i++) {
            struct kv_slice member = subkey_list_sub(&sample.entries, sample.picks[i]);
            subkey_list_add(out, member, kv_slice_make("", 0));
            db_subkey(db, key, m.version, member, &sk);
            storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&sk));
        }
        m.size -= sample.npicks;
        if (m.size == 0)
            db_batch_delete_key(db, b, key);
        else
            db_batch_put_meta(db, b, key, &m);
    }
    rc = db_write(db, b, &key, 1, err);
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    subkey_sample_deinit(&sample);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&last);
    return rc;
}

enum kv_code
set_move(struct db *db, struct kv_slice src, struct kv_slice dst, struct kv_slice member,
         bool *moved, struct kv_err *err)
{
    struct kv_slice keys[2] = {src, dst};
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, 2, &g);
    struct kv_buf sraw = KV_BUF_INIT, draw = KV_BUF_INIT, sk = KV_BUF_INIT, scratch = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct meta sm, dm;
    bool in = false;
    enum kv_code rc = db_get_meta(db, src, META_SET, &sm, &sraw, err);
    if (rc == KV_NOTFOUND) {
        *moved = false;
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    rc = db_get_meta_for_write(db, dst, META_SET, &dm, &draw, err);
    bool dst_fresh = rc == KV_NOTFOUND;
    if (rc != KV_OK && !dst_fresh)
        goto out;
    rc = has_member(db, src, sm.version, member, &sk, &scratch, &in, err);
    if (rc != KV_OK)
        goto out;
    if (!in || kv_slice_eq(src, dst)) {
        *moved = in;
        goto out;
    }
    b = storage_batch_new(db->st);
    storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&sk));
    if (--sm.size == 0)
        db_batch_delete_key(db, b, src);
    else
        db_batch_put_meta(db, b, src, &sm);
    bool dst_has = false;
    if (!dst_fresh) {
        rc = has_member(db, dst, dm.version, member, &sk, &scratch, &dst_has, err);
        if (rc != KV_OK)
            goto out;
    }
    if (!dst_has) {
        db_subkey(db, dst, dm.version, member, &sk);
        storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), kv_slice_make("", 0));
        dm.size++;
        db_batch_put_meta(db, b, dst, &dm);
    }
    rc = db_write(db, b, keys, 2, err);
    if (rc == KV_OK)
        *moved = true;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&sraw);
    kv_buf_deinit(&draw);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&scratch);
    return rc;
}

/* Where a STORE streams its result: into dst's batch under dst's new version. */
struct store_ctx {
    struct db *db;
    struct storage_batch *b;
    struct kv_slice dst;
    uint64_t version;
    uint64_t count;
    struct kv_buf sk;
};

static bool
store_member(void *arg, struct kv_slice member)
{
    struct store_ctx *c = arg;
    db_subkey(c->db, c->dst, c->version, member, &c->sk);
    storage_batch_put(c->b, KV_CF_SUBKEY, kv_buf_slice(&c->sk), kv_slice_make("", 0));
    c->count++;
    return true;
}

enum kv_code
set_combine_store(struct db *db, enum set_op op, struct kv_slice dst, const struct kv_slice *keys,
                  size_t n, uint64_t *card, struct kv_err *err)
{
    struct kv_slice *all = kv_malloc((n + 1) * sizeof *all);
    memcpy(all, keys, n * sizeof *all);
    all[n] = dst;
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, all, n + 1, &g);
    struct source *s = kv_calloc(n ? n : 1, sizeof *s);
    struct kv_buf draw = KV_BUF_INIT;
    struct store_ctx c = {db, storage_batch_new(db->st), dst, 0, 0, KV_BUF_INIT};
    struct meta dm;
    enum kv_code rc = load_sources(db, keys, n, s, err);
    if (rc != KV_OK)
        goto out;
    struct meta old;
    rc = db_get_meta(db, dst, META_NONE, &old, &draw, err);
    bool dst_exists = rc == KV_OK;
    if (rc != KV_OK && rc != KV_NOTFOUND)
        goto out;
    meta_init(&dm, META_SET);
    c.version = dm.version;
    rc = combine(db, op, keys, n, s, store_member, &c, err);
    if (rc != KV_OK)
        goto out;
    if (c.count > 0) {
        dm.size = c.count;
        db_batch_put_meta(db, c.b, dst, &dm);
        rc = db_write(db, c.b, &dst, 1, err);
    } else if (dst_exists) {
        db_batch_delete_key(db, c.b, dst);
        rc = db_write(db, c.b, &dst, 1, err);
    }
    if (rc == KV_OK)
        *card = c.count;
out:
    keylock_unlock(&g);
    storage_batch_free(c.b);
    kv_buf_deinit(&c.sk);
    kv_buf_deinit(&draw);
    free_sources(s, n);
    kv_free(all);
    return rc;
}
