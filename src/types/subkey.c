/* SPDX-License-Identifier: Apache-2.0
 *
 * subkey: iteration, sampling and result lists over the sub-keys of one key version (see
 * subkey.h). Helpers first, entry points last.
 */
#include "types/subkey.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/dict.h"
#include "common/glob.h"
#include "common/mem.h"
#include "storage/keys.h"
#include "storage/storage.h"

/* --- random numbers --- */

static _Thread_local uint64_t rng_state;

/* splitmix64 over a per-thread state seeded from the clock and the thread. */
static uint64_t
rng_next(void)
{
    if (rng_state == 0)
        rng_state = ((uint64_t)clock_mono_us() << 20) ^ (uint64_t)clock_now_us() ^
                    (uint64_t)(uintptr_t)&rng_state;
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t
subkey_random_below(uint64_t n)
{
    /* Reject the top partial range so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
        r = rng_next();
    } while (r >= limit);
    return r % n;
}

/* --- result lists --- */

void
subkey_list_deinit(struct subkey_list *l)
{
    kv_buf_deinit(&l->bytes);
    kv_free(l->items);
    l->items = NULL;
    l->n = 0;
    l->cap = 0;
}

void
subkey_list_add(struct subkey_list *l, struct kv_slice sub, struct kv_slice value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = kv_realloc(l->items, l->cap * sizeof *l->items);
    }
    struct subkey_entry *e = &l->items[l->n++];
    e->sub_off = l->bytes.len;
    e->sub_len = sub.len;
    kv_buf_append_slice(&l->bytes, sub);
    e->val_off = l->bytes.len;
    e->val_len = value.len;
    kv_buf_append_slice(&l->bytes, value);
}

struct kv_slice
subkey_list_sub(const struct subkey_list *l, size_t i)
{
    const struct subkey_entry *e = &l->items[i];
    return kv_slice_make(e->sub_len ? l->bytes.ptr + e->sub_off : "", e->sub_len);
}

struct kv_slice
subkey_list_value(const struct subkey_list *l, size_t i)
{
    const struct subkey_entry *e = &l->items[i];
    return kv_slice_make(e->val_len ? l->bytes.ptr + e->val_off : "", e->val_len);
}

bool
subkey_list_collect(void *arg, struct kv_slice sub, struct kv_slice value)
{
    subkey_list_add(arg, sub, value);
    return true;
}

/* --- iteration --- */

void
subkey_bounds(const struct db *db, struct kv_slice key, uint64_t version, struct kv_buf *lower,
              struct kv_buf *upper)
{
    db_subkey_prefix(db, key, version, lower);
    db_subkey_prefix(db, key, version + 1, upper);
}

static struct kv_slice
tail_after(struct kv_slice raw, size_t plen)
{
    return kv_slice_make(raw.ptr + plen, raw.len - plen);
}

enum kv_code
subkey_scan(struct db *db, struct kv_slice key, uint64_t version, const struct kv_slice *after,
            struct kv_slice pattern, size_t limit, subkey_fn fn, void *arg, struct kv_buf *last,
            bool *done, struct kv_err *err)
{
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT, seek = KV_BUF_INIT;
    struct kv_buf narrowed = KV_BUF_INIT;
    subkey_bounds(db, key, version, &lower, &upper);
    size_t plen = lower.len;
    bool match_all = pattern.ptr == NULL || (pattern.len == 1 && pattern.ptr[0] == '*');
    bool need_glob = !match_all;
    if (!match_all) {
        /* Every sub-key the pattern matches starts with its literal prefix: examine only those
         * (when the rest is only stars, the range alone decides). */
        size_t lit = 0;
        bool only_stars = glob_literal_prefix(pattern.ptr, pattern.len, &lit);
        if (lit > 0) {
            kv_buf_append(&lower, pattern.ptr, lit);
            keys_prefix_end(&narrowed, kv_buf_slice(&lower));
            if (narrowed.len > 0)
                kv_buf_set(&upper, narrowed.ptr, narrowed.len);
            need_glob = !only_stars;
        }
    }
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&lower),
                                               kv_buf_slice(&upper));
    if (after != NULL) {
        /* A position before the (narrowed) range starts at the range, skipping nothing. */
        db_subkey(db, key, version, *after, &seek);
        bool clamped = kv_slice_cmp(kv_buf_slice(&seek), kv_buf_slice(&lower)) < 0;
        if (clamped)
            kv_buf_set(&seek, lower.ptr, lower.len);
        storage_iter_seek(it, kv_buf_slice(&seek));
        if (!clamped && storage_iter_valid(it) &&
            kv_slice_eq(storage_iter_key(it), kv_buf_slice(&seek)))
            storage_iter_next(it);
    } else {
        storage_iter_seek_first(it);
    }
    size_t examined = 0;
    bool stopped = false;
    kv_buf_clear(last);
    for (; storage_iter_valid(it); storage_iter_next(it)) {
        if (limit > 0 && examined >= limit) {
            stopped = true;
            break;
        }
        examined++;
        struct kv_slice sub = tail_after(storage_iter_key(it), plen);
        kv_buf_set(last, sub.ptr, sub.len);
        if (need_glob && !glob_match(pattern.ptr, pattern.len, sub.ptr, sub.len, false))
            continue;
        if (!fn(arg, sub, storage_iter_value(it))) {
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
    kv_buf_deinit(&narrowed);
    return rc;
}

/* --- sampling --- */

void
subkey_sample_deinit(struct subkey_sample *s)
{
    subkey_list_deinit(&s->entries);
    kv_free(s->picks);
    s->picks = NULL;
    s->npicks = 0;
}

/* Rejected byte guesses per trie level before a descent takes the next existing branch. */
#define DESCENT_RETRIES 8
/* Trie levels one descent may go down (sub-keys longer than this are found by the fallback). */
#define DESCENT_MAX_LEVELS 65536

/* A pick-order array with room for `count` picks. */
static size_t *
picks_new(uint64_t count)
{
    return kv_malloc((size_t)(count ? count : 1) * sizeof(size_t));
}

static void
shuffle(size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)subkey_random_below(i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static int
size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

_Static_assert(sizeof(size_t) >= sizeof(uint64_t), "ranks are stored in size_t");

/* Exact sampling in one pass over the sub-keys, stopping after the last one needed. Distinct:
 * Knuth's selection sampling (each of the `size` positions is taken with probability
 * needed / remaining). With repetitions: `count` uniform ranks, sorted, matched against the
 * positions as the pass goes; the ranks live in the picks array itself, each replaced by its
 * entry index when its position is reached (8 bytes per pick in all). */
static enum kv_code
sample_exact(struct db *db, struct kv_slice lower, struct kv_slice upper, uint64_t size,
             uint64_t count, bool distinct, struct subkey_sample *out, struct kv_err *err)
{
    size_t plen = lower.len;
    uint64_t want = distinct && count > size ? size : count;
    out->picks = picks_new(want);
    if (!distinct) {
        for (uint64_t i = 0; i < count; i++)
            out->picks[i] = (size_t)subkey_random_below(size);
        qsort(out->picks, (size_t)count, sizeof *out->picks, size_cmp);
    }
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_SUBKEY, lower, upper);
    storage_iter_seek_first(it);
    /* Invariant: out->npicks == the number of picks decided so far. */
    uint64_t pos = 0;
    for (; storage_iter_valid(it) && out->npicks < want; storage_iter_next(it), pos++) {
        uint64_t j = out->npicks;
        bool take;
        if (distinct) {
            uint64_t remaining = size > pos ? size - pos : 1;
            take = remaining <= want - j || subkey_random_below(remaining) < want - j;
        } else {
            take = out->picks[j] == pos;
        }
        if (!take)
            continue;
        struct kv_slice sub = tail_after(storage_iter_key(it), plen);
        subkey_list_add(&out->entries, sub, storage_iter_value(it));
        size_t e = out->entries.n - 1;
        out->picks[out->npicks++] = e;
        while (!distinct && out->npicks < want && out->picks[out->npicks] == pos)
            out->picks[out->npicks++] = e;
    }
    enum kv_code rc = storage_iter_status(it, err);
    storage_iter_free(it);
    /* The whole collection comes back in byte order; anything else in random order. */
    if (!(distinct && count >= size))
        shuffle(out->picks, out->npicks);
    return rc;
}

/* Length of the common prefix of a and b. */
static size_t
common_prefix(const struct kv_buf *a, const struct kv_buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len, i = 0;
    while (i < n && a->ptr[i] == b->ptr[i])
        i++;
    return i;
}

/* Scratch buffers of one descent. */
struct descent {
    struct kv_buf lo, hi, first_branch, probe;
};

/* Seek to `target` and copy the key found into `out`; false when the iterator is not valid (the
 * data changed under a reader without a snapshot, or an error). */
static bool
seek_copy(struct storage_iter *it, const struct kv_buf *target, struct kv_buf *out)
{
    storage_iter_seek(it, kv_buf_slice(target));
    if (!storage_iter_valid(it))
        return false;
    struct kv_slice k = storage_iter_key(it);
    kv_buf_set(out, k.ptr, k.len);
    return true;
}

/* Leave `it` on a random sub-key between first and last (whole keys, first <= last, both
 * existing): at each level where lo and hi differ, pick uniformly among "lo itself" (when lo is
 * their common prefix) and the byte values between the first branch and hi's, re-drawing a
 * value no sub-key has up to DESCENT_RETRIES times before taking the next existing one; then
 * narrow lo/hi to the chosen branch. False when the iterator went invalid (caller falls back). */
static bool
descend(struct storage_iter *it, const struct kv_buf *first, const struct kv_buf *last,
        struct descent *d)
{
    kv_buf_set(&d->lo, first->ptr, first->len);
    kv_buf_set(&d->hi, last->ptr, last->len);
    /* Each level lengthens the common prefix of lo and hi; the bound only guards against data
     * that changed under the iterator. */
    for (size_t level = 0; level < DESCENT_MAX_LEVELS; level++) {
        if (kv_slice_eq(kv_buf_slice(&d->lo), kv_buf_slice(&d->hi)))
            return seek_copy(it, &d->lo, &d->probe);
        size_t i = common_prefix(&d->lo, &d->hi);
        bool has_end = d->lo.len == i;
        if (has_end) {
            storage_iter_seek(it, kv_buf_slice(&d->lo));
            if (!storage_iter_valid(it))
                return false;
            storage_iter_next(it);
            if (!storage_iter_valid(it))
                return false;
            struct kv_slice k = storage_iter_key(it);
            kv_buf_set(&d->first_branch, k.ptr, k.len);
        } else {
            kv_buf_set(&d->first_branch, d->lo.ptr, d->lo.len);
        }
        if (d->first_branch.len <= i || d->hi.len <= i)
            return false;
        unsigned blo = (uint8_t)d->first_branch.ptr[i], bhi = (uint8_t)d->hi.ptr[i];
        if (blo > bhi)
            return false;
        unsigned nopt = (has_end ? 1u : 0u) + (bhi - blo + 1);
        unsigned b = 0;
        for (int attempt = 0;; attempt++) {
            unsigned r = (unsigned)subkey_random_below(nopt);
            if (has_end && r == 0)
                return seek_copy(it, &d->lo, &d->probe);
            unsigned cand = blo + r - (has_end ? 1u : 0u);
            if (cand == blo) {
                b = blo;
                kv_buf_set(&d->lo, d->first_branch.ptr, d->first_branch.len);
                break;
            }
            kv_buf_set(&d->probe, d->hi.ptr, i);
            kv_buf_append_byte(&d->probe, (uint8_t)cand);
            if (!seek_copy(it, &d->probe, &d->first_branch) || d->first_branch.len <= i)
                return false;
            unsigned got = (uint8_t)d->first_branch.ptr[i];
            if (got == cand || attempt >= DESCENT_RETRIES) {
                b = got;
                kv_buf_set(&d->lo, d->first_branch.ptr, d->first_branch.len);
                break;
            }
        }
        if (b < bhi) {
            /* hi = the last sub-key of branch b: the one before the first of branch b + 1. */
            kv_buf_set(&d->probe, d->hi.ptr, i);
            kv_buf_append_byte(&d->probe, (uint8_t)(b + 1));
            storage_iter_seek(it, kv_buf_slice(&d->probe));
            if (!storage_iter_valid(it))
                return false;
            storage_iter_prev(it);
            if (!storage_iter_valid(it))
                return false;
            struct kv_slice k = storage_iter_key(it);
            kv_buf_set(&d->hi, k.ptr, k.len);
        }
    }
    return false;
}

/* Sampling by random descents (large collections, few picks). *gave_up is set when the data
 * moved under the iterator or distinct picks kept colliding: the caller then samples exactly. */
static enum kv_code
sample_descend(struct db *db, struct kv_slice lower, struct kv_slice upper, uint64_t count,
               bool distinct, struct subkey_sample *out, bool *gave_up, struct kv_err *err)
{
    size_t plen = lower.len;
    *gave_up = false;
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_SUBKEY, lower, upper);
    struct kv_buf first = KV_BUF_INIT, last = KV_BUF_INIT;
    struct descent d = {KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT};
    struct dict *seen = distinct ? dict_new(NULL, false) : NULL;
    enum kv_code rc = KV_OK;
    out->picks = picks_new(count);
    storage_iter_seek_first(it);
    if (!storage_iter_valid(it)) {
        *gave_up = true;
        goto out;
    }
    kv_buf_set(&first, storage_iter_key(it).ptr, storage_iter_key(it).len);
    storage_iter_seek_last(it);
    if (!storage_iter_valid(it)) {
        *gave_up = true;
        goto out;
    }
    kv_buf_set(&last, storage_iter_key(it).ptr, storage_iter_key(it).len);
    uint64_t attempts = 0, max_attempts = count * 16 + 64;
    while (out->npicks < count) {
        if (++attempts > max_attempts || !descend(it, &first, &last, &d)) {
            *gave_up = true;
            break;
        }
        struct kv_slice sub = tail_after(storage_iter_key(it), plen);
        if (distinct) {
            if (dict_contains(seen, sub.ptr, sub.len))
                continue;
            dict_add(seen, sub.ptr, sub.len, NULL);
        }
        subkey_list_add(&out->entries, sub, storage_iter_value(it));
        out->picks[out->npicks++] = out->entries.n - 1;
    }
out:
    if (rc == KV_OK)
        rc = storage_iter_status(it, err);
    dict_free(seen);
    storage_iter_free(it);
    kv_buf_deinit(&first);
    kv_buf_deinit(&last);
    kv_buf_deinit(&d.lo);
    kv_buf_deinit(&d.hi);
    kv_buf_deinit(&d.first_branch);
    kv_buf_deinit(&d.probe);
    return rc;
}

enum kv_code
subkey_sample(struct db *db, struct kv_slice key, uint64_t version, uint64_t size, uint64_t count,
              bool distinct, struct subkey_sample *out, struct kv_err *err)
{
    if (size == 0 || count == 0)
        return KV_OK;
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT;
    subkey_bounds(db, key, version, &lower, &upper);
    enum kv_code rc = KV_OK;
    bool exact = size <= SUBKEY_SAMPLE_EXACT_MAX || count >= size / 256;
    if (!exact) {
        bool gave_up = false;
        rc = sample_descend(db, kv_buf_slice(&lower), kv_buf_slice(&upper), count, distinct, out,
                            &gave_up, err);
        if (rc == KV_OK && gave_up) {
            subkey_sample_deinit(out);
            exact = true;
        }
    }
    if (rc == KV_OK && exact)
        rc = sample_exact(db, kv_buf_slice(&lower), kv_buf_slice(&upper), size, count, distinct,
                          out, err);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
    return rc;
}

/* --- helpers --- */

/* qsort has no context argument: the sort runs on (slice, index) pairs instead. */
struct unique_item {
    struct kv_slice s;
    size_t idx;
};

static int
unique_cmp(const void *a, const void *b)
{
    const struct unique_item *x = a, *y = b;
    int c = kv_slice_cmp(x->s, y->s);
    if (c != 0)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

size_t *
subkey_unique(const struct kv_slice *items, size_t n, size_t stride, size_t *nuniq)
{
    struct unique_item *tmp = kv_malloc((n ? n : 1) * sizeof *tmp);
    for (size_t i = 0; i < n; i++) {
        tmp[i].s = items[i * stride];
        tmp[i].idx = i * stride;
    }
    qsort(tmp, n, sizeof *tmp, unique_cmp);
    size_t *out = kv_malloc((n ? n : 1) * sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* Equal members are adjacent, by position: keep the last of each run. */
        if (i + 1 < n && kv_slice_eq(tmp[i].s, tmp[i + 1].s))
            continue;
        out[k++] = tmp[i].idx;
    }
    kv_free(tmp);
    *nuniq = k;
    return out;
}

void
subkey_view_begin(struct db *db, struct db *view, struct storage_snapshot **snap)
{
    *view = *db;
    *snap = NULL;
    if (db->snap == NULL) {
        *snap = storage_snapshot_new(db->st);
        view->snap = *snap;
    }
}

void
subkey_view_end(struct db *db, struct storage_snapshot *snap)
{
    if (snap != NULL)
        storage_snapshot_free(db->st, snap);
}

enum kv_code
subkey_key_size(struct db *db, struct kv_slice key, enum meta_type type, uint64_t *size,
                struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(db, key, type, &m, &raw, err);
    kv_buf_deinit(&raw);
    if (rc == KV_NOTFOUND) {
        *size = 0;
        return KV_OK;
    }
    if (rc == KV_OK)
        *size = m.size;
    return rc;
}

enum kv_code
subkey_key_scan(struct db *db, struct kv_slice key, enum meta_type type,
                const struct kv_slice *after, struct kv_slice pattern, size_t limit, subkey_fn fn,
                void *arg, struct kv_buf *last, bool *done, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(&view, key, type, &m, &raw, err);
    if (rc == KV_OK) {
        rc = subkey_scan(&view, key, m.version, after, pattern, limit, fn, arg, last, done, err);
    } else if (rc == KV_NOTFOUND) {
        kv_buf_clear(last);
        *done = true;
    }
    subkey_view_end(db, snap);
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
subkey_key_sample(struct db *db, struct kv_slice key, enum meta_type type, uint64_t count,
                  bool distinct, struct subkey_sample *out, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(&view, key, type, &m, &raw, err);
    if (rc == KV_OK)
        rc = subkey_sample(&view, key, m.version, m.size, count, distinct, out, err);
    subkey_view_end(db, snap);
    kv_buf_deinit(&raw);
    return rc;
}

bool
subkey_unchanged_unlocked(struct db *db, struct kv_slice key, enum meta_type type,
                          const struct kv_slice *items, size_t n, size_t stride, bool values)
{
    if (n == 0 || n > SUBKEY_UNLOCKED_MAX)
        return false;
    struct kv_buf before = KV_BUF_INIT, after = KV_BUF_INIT, sk = KV_BUF_INIT, val = KV_BUF_INIT;
    struct kv_err err; /* what went wrong does not matter: the locked path says it */
    kv_err_clear(&err);
    struct meta m, m2;
    bool same = db_get_meta(db, key, type, &m, &before, &err) == KV_OK;
    for (size_t i = 0; same && i < n; i++) {
        db_subkey(db, key, m.version, items[i * stride], &sk);
        same =
            storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&sk), &val, &err) == KV_OK &&
            (!values || kv_slice_eq(kv_buf_slice(&val), items[i * stride + 1]));
    }
    same = same && db_get_meta(db, key, type, &m2, &after, &err) == KV_OK &&
           kv_slice_eq(kv_buf_slice(&before), kv_buf_slice(&after));
    kv_buf_deinit(&before);
    kv_buf_deinit(&after);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&val);
    return same;
}

bool
subkey_lock_unless_unchanged(struct db *db, struct kv_slice key, enum meta_type type,
                             const struct kv_slice *items, size_t n, size_t stride, bool values,
                             struct keylock_guard *g)
{
    if (keylock_trylock1(db->locks, db->ns, key, g))
        return false;
    /* Another worker has the key (a hot key). */
    if (subkey_unchanged_unlocked(db, key, type, items, n, stride, values))
        return true;
    keylock_lock1(db->locks, db->ns, key, g);
    return false;
}
