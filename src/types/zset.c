/* SPDX-License-Identifier: Apache-2.0
 *
 * zset: sorted sets as two records per member (see zset.h): member -> score in CF default and
 * score ++ member in CF zset_score. Order in this file: encodings and parsing, result lists, the
 * open-key helper and the walks over a key's records, reads, combinations, writes.
 */
#include "types/zset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/endian.h"
#include "common/mem.h"
#include "storage/meta.h"
#include "storage/storage.h"
#include "types/set.h"

#define SIGN_BIT (UINT64_C(1) << 63)

/* --- score encoding --- */

static uint64_t
score_bits(double score)
{
    if (score == 0)
        score = 0.0; /* -0 sorts and stores as +0 */
    uint64_t u;
    memcpy(&u, &score, sizeof u);
    return (u & SIGN_BIT) ? ~u : (u | SIGN_BIT);
}

void
zset_encode_score(double score, char *out)
{
    kv_put_u64be(out, score_bits(score));
}

double
zset_decode_score(const char *in)
{
    uint64_t u = kv_get_u64be(in);
    u = (u & SIGN_BIT) ? (u & ~SIGN_BIT) : ~u;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* --- range parsing --- */

/* One bound of a score range, as zslParseRange reads it: the argument as a C string (an embedded
 * NUL ends it), an optional "(", then strtod over the rest, which must consume it all. */
static bool
parse_score_bound(struct kv_slice s, double *v, bool *ex)
{
    char *copy = kv_memdup(s.ptr != NULL ? s.ptr : "", s.len);
    const char *p = copy;
    *ex = false;
    if (p[0] == '(') {
        *ex = true;
        p++;
    }
    char *end = NULL;
    double d = strtod(p, &end);
    bool ok = end != NULL && *end == '\0' && !isnan(d);
    kv_free(copy);
    if (ok)
        *v = d;
    return ok;
}

enum kv_code
zset_parse_score_range(struct kv_slice min, struct kv_slice max, struct zset_score_range *out)
{
    struct zset_score_range r;
    if (!parse_score_bound(min, &r.min, &r.minex) || !parse_score_bound(max, &r.max, &r.maxex))
        return KV_ERR_INVALID;
    *out = r;
    return KV_OK;
}

bool
zset_score_range_is_empty(const struct zset_score_range *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

bool
zset_score_in_range(const struct zset_score_range *r, double s)
{
    bool above_min = r->minex ? s > r->min : s >= r->min;
    bool below_max = r->maxex ? s < r->max : s <= r->max;
    return above_min && below_max;
}

/* One bound of a lex range (zslParseLexRangeItem). */
static bool
parse_lex_bound(struct kv_slice s, struct zset_lex_bound *b)
{
    if (s.len == 0)
        return false;
    b->value = kv_slice_make("", 0);
    switch (s.ptr[0]) {
    case '+':
    case '-':
        if (s.len > 1 && s.ptr[1] != '\0')
            return false;
        b->kind = s.ptr[0] == '+' ? ZSET_LEX_POS_INF : ZSET_LEX_NEG_INF;
        b->ex = true;
        return true;
    case '(':
    case '[':
        b->kind = ZSET_LEX_VALUE;
        b->ex = s.ptr[0] == '(';
        b->value = kv_slice_make(s.ptr + 1, s.len - 1);
        return true;
    default:
        return false;
    }
}

enum kv_code
zset_parse_lex_range(struct kv_slice min, struct kv_slice max, struct zset_lex_range *out)
{
    struct zset_lex_range r;
    if (!parse_lex_bound(min, &r.min) || !parse_lex_bound(max, &r.max))
        return KV_ERR_INVALID;
    *out = r;
    return KV_OK;
}

bool
zset_lex_range_is_empty(const struct zset_lex_range *r)
{
    if (r->min.kind == ZSET_LEX_POS_INF || r->max.kind == ZSET_LEX_NEG_INF)
        return true;
    if (r->min.kind != ZSET_LEX_VALUE || r->max.kind != ZSET_LEX_VALUE)
        return false;
    int cmp = kv_slice_cmp(r->min.value, r->max.value);
    return cmp > 0 || (cmp == 0 && (r->min.ex || r->max.ex));
}

void
zset_range_spec_init(struct zset_range_spec *spec, enum zset_by by)
{
    memset(spec, 0, sizeof *spec);
    spec->by = by;
    spec->offset = 0;
    spec->limit = -1;
}

/* --- result lists --- */

void
zset_list_deinit(struct zset_list *l)
{
    kv_buf_deinit(&l->bytes);
    kv_free(l->items);
    memset(l, 0, sizeof *l);
}

void
zset_list_add(struct zset_list *l, struct kv_slice member, double score)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = kv_realloc(l->items, l->cap * sizeof *l->items);
    }
    struct zset_entry *e = &l->items[l->n++];
    e->off = l->bytes.len;
    e->len = member.len;
    e->score = score;
    kv_buf_append_slice(&l->bytes, member);
}

struct kv_slice
zset_list_member(const struct zset_list *l, size_t i)
{
    const struct zset_entry *e = &l->items[i];
    return kv_slice_make(l->bytes.ptr != NULL ? l->bytes.ptr + e->off : "", e->len);
}

/* A list entry with its member resolved, for sorting. */
struct sort_item {
    struct kv_slice member;
    struct zset_entry e;
};

static int
sort_item_cmp(const void *a, const void *b)
{
    const struct sort_item *x = a, *y = b;
    if (x->e.score < y->e.score)
        return -1;
    if (x->e.score > y->e.score)
        return 1;
    return kv_slice_cmp(x->member, y->member);
}

void
zset_list_sort(struct zset_list *l)
{
    if (l->n < 2)
        return;
    struct sort_item *v = kv_malloc(l->n * sizeof *v);
    for (size_t i = 0; i < l->n; i++) {
        v[i].member = zset_list_member(l, i);
        v[i].e = l->items[i];
    }
    qsort(v, l->n, sizeof *v, sort_item_cmp);
    for (size_t i = 0; i < l->n; i++)
        l->items[i] = v[i].e;
    kv_free(v);
}

/* --- read views and open keys --- */

/* An open zset: its metadata and the bounds of its records in both column families. */
struct zkey {
    struct kv_slice key; /* borrowed: the user key */
    struct meta m;
    struct kv_buf raw;    /* owned: the metadata record m decodes */
    struct kv_buf prefix; /* owned: the sub-key prefix of m.version (lower bound) */
    struct kv_buf end;    /* owned: the prefix of m.version + 1 (upper bound) */
};

static void
zkey_init(struct zkey *z, struct kv_slice key)
{
    memset(z, 0, sizeof *z);
    z->key = key;
}

static void
zkey_deinit(struct zkey *z)
{
    kv_buf_deinit(&z->raw);
    kv_buf_deinit(&z->prefix);
    kv_buf_deinit(&z->end);
}

static void
zkey_set_bounds(struct db *db, struct zkey *z)
{
    subkey_bounds(db, z->key, z->m.version, &z->prefix, &z->end);
}

/* Open a live zset for reading: KV_OK, KV_NOTFOUND, KV_ERR_WRONGTYPE. */
static enum kv_code
zkey_open(struct db *db, struct zkey *z, struct kv_err *err)
{
    enum kv_code rc = db_get_meta(db, z->key, META_ZSET, &z->m, &z->raw, err);
    if (rc == KV_OK)
        zkey_set_bounds(db, z);
    return rc;
}

/* Open for writing (key locked): KV_OK for a live zset, KV_NOTFOUND for a fresh record (new
 * version, size 0; *z is usable), KV_ERR_WRONGTYPE. */
static enum kv_code
zkey_open_for_write(struct db *db, struct zkey *z, struct kv_err *err)
{
    enum kv_code rc = db_get_meta_for_write(db, z->key, META_ZSET, &z->m, &z->raw, err);
    if (rc == KV_OK || rc == KV_NOTFOUND)
        zkey_set_bounds(db, z);
    return rc;
}

/* CF default key of a member: prefix ++ member. */
static void
member_key(const struct zkey *z, struct kv_slice member, struct kv_buf *out)
{
    kv_buf_set(out, z->prefix.ptr, z->prefix.len);
    kv_buf_append_slice(out, member);
}

/* CF zset_score key: prefix ++ encoded score ++ member. */
static void
score_key(const struct zkey *z, double score, struct kv_slice member, struct kv_buf *out)
{
    char enc[ZSET_SCORE_LEN];
    zset_encode_score(score, enc);
    kv_buf_set(out, z->prefix.ptr, z->prefix.len);
    kv_buf_append(out, enc, sizeof enc);
    kv_buf_append_slice(out, member);
}

/* A new batch for a zset write, beginning with Kvrocks' LogData descriptor of the type ("5"),
 * which WAL consumers read to know what a batch is about (kvrocks-notes 2.9). */
static struct storage_batch *
zset_batch_new(struct db *db)
{
    struct storage_batch *b = storage_batch_new(db->st);
    char blob[4];
    int n = snprintf(blob, sizeof blob, "%d", (int)META_ZSET);
    storage_batch_log_data(b, kv_slice_make(blob, (size_t)n));
    return b;
}

/* Add both records of a member to b. */
static void
batch_put_member(struct storage_batch *b, const struct zkey *z, struct kv_slice member,
                 double score, struct kv_buf *scratch)
{
    char enc[ZSET_SCORE_LEN];
    zset_encode_score(score, enc);
    member_key(z, member, scratch);
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(scratch), kv_slice_make(enc, sizeof enc));
    score_key(z, score, member, scratch);
    storage_batch_put(b, KV_CF_ZSET_SCORE, kv_buf_slice(scratch), kv_slice_make("", 0));
}

/* Add the deletion of both records of a member to b. */
static void
batch_del_member(struct storage_batch *b, const struct zkey *z, struct kv_slice member,
                 double score, struct kv_buf *scratch)
{
    member_key(z, member, scratch);
    storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(scratch));
    score_key(z, score, member, scratch);
    storage_batch_delete(b, KV_CF_ZSET_SCORE, kv_buf_slice(scratch));
}

/* The score of `member` through db's view: *found false when absent. */
static enum kv_code
read_member(struct db *db, const struct zkey *z, struct kv_slice member, double *score, bool *found,
            struct kv_buf *scratch, struct kv_err *err)
{
    struct kv_buf val = KV_BUF_INIT;
    member_key(z, member, scratch);
    enum kv_code rc = storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(scratch), &val, err);
    *found = false;
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
    } else if (rc == KV_OK) {
        if (val.len != ZSET_SCORE_LEN) {
            rc = kv_err_set(err, KV_ERR_CORRUPT, "corrupt zset member record");
        } else {
            *score = zset_decode_score(val.ptr);
            *found = true;
        }
    }
    kv_buf_deinit(&val);
    return rc;
}

/* --- walks over the records of one key --- */

/* Called for each entry visited; both borrowed for the call. Return false to stop. */
typedef bool (*entry_fn)(void *arg, struct kv_slice member, double score);

static bool
collect_entry(void *arg, struct kv_slice member, double score)
{
    zset_list_add(arg, member, score);
    return true;
}

static bool
count_entry(void *arg, struct kv_slice member, double score)
{
    (void)member;
    (void)score;
    (*(uint64_t *)arg)++;
    return true;
}

/* Decode a zset_score record key of z into (score, member). */
static enum kv_code
decode_score_record(const struct zkey *z, struct kv_slice k, double *score, struct kv_slice *member,
                    struct kv_err *err)
{
    if (k.len < z->prefix.len + ZSET_SCORE_LEN)
        return kv_err_set(err, KV_ERR_CORRUPT, "corrupt zset score record");
    const char *p = k.ptr + z->prefix.len;
    *score = zset_decode_score(p);
    *member = kv_slice_make(p + ZSET_SCORE_LEN, k.len - z->prefix.len - ZSET_SCORE_LEN);
    return KV_OK;
}

static enum kv_code
iter_finish(struct storage_iter *it, enum kv_code rc, struct kv_err *err)
{
    if (rc == KV_OK)
        rc = storage_iter_status(it, err);
    storage_iter_free(it);
    return rc;
}

/* Walk ranks [a, b] (0 <= a <= b < size) of the score index and call fn in ascending order, or
 * descending when `descending`. Walks from the nearer end of the index. */
static enum kv_code
walk_ranks(struct db *db, const struct zkey *z, uint64_t a, uint64_t b, bool descending,
           entry_fn fn, void *arg, struct kv_err *err)
{
    uint64_t size = z->m.size;
    bool from_low = b + 1 <= size - a;
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_ZSET_SCORE,
                                               kv_buf_slice(&z->prefix), kv_buf_slice(&z->end));
    uint64_t skip = from_low ? a : size - 1 - b;
    uint64_t want = b - a + 1;
    /* The walk order differs from the wanted order: collect, then replay backwards. */
    bool replay = from_low == descending;
    struct zset_list tmp = ZSET_LIST_INIT;
    enum kv_code rc = KV_OK;
    if (from_low)
        storage_iter_seek_first(it);
    else
        storage_iter_seek_last(it);
    for (; storage_iter_valid(it) && want > 0;
         from_low ? storage_iter_next(it) : storage_iter_prev(it)) {
        if (skip > 0) {
            skip--;
            continue;
        }
        double score = 0;
        struct kv_slice member = {NULL, 0};
        rc = decode_score_record(z, storage_iter_key(it), &score, &member, err);
        if (rc != KV_OK)
            break;
        want--;
        if (replay) {
            zset_list_add(&tmp, member, score);
        } else if (!fn(arg, member, score)) {
            break;
        }
    }
    rc = iter_finish(it, rc, err);
    for (size_t i = tmp.n; rc == KV_OK && i > 0; i--) {
        if (!fn(arg, zset_list_member(&tmp, i - 1), tmp.items[i - 1].score))
            break;
    }
    zset_list_deinit(&tmp);
    return rc;
}

/* Redis's rank sanitising: the forward ranks [*a, *b] of spec's start/stop in a zset of `size`;
 * false when the range is empty. */
static bool
rank_bounds(const struct zset_range_spec *spec, uint64_t size, uint64_t *a, uint64_t *b)
{
    int64_t llen = (int64_t)size;
    int64_t start = spec->start, end = spec->stop;
    if (start < 0)
        start += llen;
    if (end < 0)
        end += llen;
    if (start < 0)
        start = 0;
    if (start > end || start >= llen)
        return false;
    if (end >= llen)
        end = llen - 1;
    if (spec->reverse) {
        *a = (uint64_t)(llen - 1 - end);
        *b = (uint64_t)(llen - 1 - start);
    } else {
        *a = (uint64_t)start;
        *b = (uint64_t)end;
    }
    return true;
}

/* Offset/limit bookkeeping of a SCORE or LEX walk. */
struct window {
    int64_t skip; /* matches still to skip */
    int64_t left; /* results still wanted; < 0: unlimited */
};

/* Handle one match: false when the walk is over (limit reached or fn stopped it). */
static bool
window_emit(struct window *w, entry_fn fn, void *arg, struct kv_slice member, double score)
{
    if (w->skip > 0) {
        w->skip--;
        return true;
    }
    if (!fn(arg, member, score))
        return false;
    return !(w->left > 0 && --w->left == 0);
}

/* Walk the members with scores in spec->score, in spec order, with offset and limit. The
 * iterator's bounds are the encoded range itself. */
static enum kv_code
walk_scores(struct db *db, const struct zkey *z, const struct zset_range_spec *spec, entry_fn fn,
            void *arg, struct kv_err *err)
{
    const struct zset_score_range *r = &spec->score;
    struct window w = {spec->offset, spec->limit};
    if (zset_score_range_is_empty(r) || spec->offset < 0 || spec->limit == 0)
        return KV_OK;
    struct kv_buf lo = KV_BUF_INIT, hi = KV_BUF_INIT;
    kv_buf_set(&lo, z->prefix.ptr, z->prefix.len);
    kv_buf_append_u64be(&lo, score_bits(r->min));
    kv_buf_set(&hi, z->prefix.ptr, z->prefix.len);
    kv_buf_append_u64be(&hi, score_bits(r->max) + 1); /* no overflow: +inf is 0xfff0... */
    struct storage_iter *it =
        storage_iter_new(db->st, db->snap, KV_CF_ZSET_SCORE, kv_buf_slice(&lo), kv_buf_slice(&hi));
    kv_buf_deinit(&lo);
    kv_buf_deinit(&hi);
    enum kv_code rc = KV_OK;
    bool fwd = !spec->reverse;
    if (fwd)
        storage_iter_seek_first(it);
    else
        storage_iter_seek_last(it);
    for (; storage_iter_valid(it); fwd ? storage_iter_next(it) : storage_iter_prev(it)) {
        double score = 0;
        struct kv_slice member = {NULL, 0};
        rc = decode_score_record(z, storage_iter_key(it), &score, &member, err);
        if (rc != KV_OK)
            break;
        /* Only the exclusive ends can be inside the bounds without being in the range. */
        bool at_near = fwd ? (r->minex && score == r->min) : (r->maxex && score == r->max);
        bool at_far = fwd ? (r->maxex && score == r->max) : (r->minex && score == r->min);
        if (at_far)
            break;
        if (at_near)
            continue;
        if (!window_emit(&w, fn, arg, member, score))
            break;
    }
    return iter_finish(it, rc, err);
}

/* Walk the members in spec->lex (member order, CF default), in spec order, with offset and
 * limit. The iterator's bounds are the range itself. */
static enum kv_code
walk_lex(struct db *db, const struct zkey *z, const struct zset_range_spec *spec, entry_fn fn,
         void *arg, struct kv_err *err)
{
    const struct zset_lex_range *r = &spec->lex;
    struct window w = {spec->offset, spec->limit};
    if (zset_lex_range_is_empty(r) || spec->offset < 0 || spec->limit == 0)
        return KV_OK;
    struct kv_buf lo = KV_BUF_INIT, hi = KV_BUF_INIT;
    kv_buf_set(&lo, z->prefix.ptr, z->prefix.len);
    if (r->min.kind == ZSET_LEX_VALUE) {
        kv_buf_append_slice(&lo, r->min.value);
        if (r->min.ex)
            kv_buf_append_byte(&lo, 0); /* the first key after the member itself */
    }
    if (r->max.kind == ZSET_LEX_VALUE) {
        kv_buf_set(&hi, z->prefix.ptr, z->prefix.len);
        kv_buf_append_slice(&hi, r->max.value);
        if (!r->max.ex)
            kv_buf_append_byte(&hi, 0);
    } else {
        kv_buf_set(&hi, z->end.ptr, z->end.len);
    }
    enum kv_code rc = KV_OK;
    if (kv_slice_cmp(kv_buf_slice(&lo), kv_buf_slice(&hi)) >= 0) {
        kv_buf_deinit(&lo);
        kv_buf_deinit(&hi);
        return KV_OK;
    }
    struct storage_iter *it =
        storage_iter_new(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&lo), kv_buf_slice(&hi));
    kv_buf_deinit(&lo);
    kv_buf_deinit(&hi);
    bool fwd = !spec->reverse;
    if (fwd)
        storage_iter_seek_first(it);
    else
        storage_iter_seek_last(it);
    for (; storage_iter_valid(it); fwd ? storage_iter_next(it) : storage_iter_prev(it)) {
        struct kv_slice k = storage_iter_key(it), v = storage_iter_value(it);
        if (v.len != ZSET_SCORE_LEN || k.len < z->prefix.len) {
            rc = kv_err_set(err, KV_ERR_CORRUPT, "corrupt zset member record");
            break;
        }
        struct kv_slice member = kv_slice_make(k.ptr + z->prefix.len, k.len - z->prefix.len);
        if (!window_emit(&w, fn, arg, member, zset_decode_score(v.ptr)))
            break;
    }
    return iter_finish(it, rc, err);
}

/* Walk spec's members of the open zset z in spec order. */
static enum kv_code
walk_spec(struct db *db, const struct zkey *z, const struct zset_range_spec *spec, entry_fn fn,
          void *arg, struct kv_err *err)
{
    switch (spec->by) {
    case ZSET_BY_RANK: {
        uint64_t a, b;
        if (!rank_bounds(spec, z->m.size, &a, &b))
            return KV_OK;
        return walk_ranks(db, z, a, b, spec->reverse, fn, arg, err);
    }
    case ZSET_BY_SCORE:
        return walk_scores(db, z, spec, fn, arg, err);
    case ZSET_BY_LEX:
        return walk_lex(db, z, spec, fn, arg, err);
    }
    return KV_OK;
}

/* Walk every member of z in member order (CF default). */
static enum kv_code
walk_members(struct db *db, const struct zkey *z, entry_fn fn, void *arg, struct kv_err *err)
{
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_SUBKEY,
                                               kv_buf_slice(&z->prefix), kv_buf_slice(&z->end));
    enum kv_code rc = KV_OK;
    for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
        struct kv_slice k = storage_iter_key(it), v = storage_iter_value(it);
        if (v.len != ZSET_SCORE_LEN || k.len < z->prefix.len) {
            rc = kv_err_set(err, KV_ERR_CORRUPT, "corrupt zset member record");
            break;
        }
        if (!fn(arg, kv_slice_make(k.ptr + z->prefix.len, k.len - z->prefix.len),
                zset_decode_score(v.ptr)))
            break;
    }
    return iter_finish(it, rc, err);
}

/* --- reads --- */

enum kv_code
zset_card(struct db *db, struct kv_slice key, uint64_t *card, struct kv_err *err)
{
    return subkey_key_size(db, key, META_ZSET, card, err);
}

enum kv_code
zset_score(struct db *db, struct kv_slice key, struct kv_slice member, double *score,
           struct kv_err *err)
{
    bool found = false;
    double s = 0;
    enum kv_code rc = zset_mscore(db, key, &member, 1, &s, &found, err);
    if (rc == KV_OK && !found)
        return KV_NOTFOUND;
    if (rc == KV_OK)
        *score = s;
    return rc;
}

enum kv_code
zset_mscore(struct db *db, struct kv_slice key, const struct kv_slice *members, size_t n,
            double *scores, bool *found, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct zkey z;
    zkey_init(&z, key);
    struct kv_buf scratch = KV_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        found[i] = false;
    enum kv_code rc = zkey_open(&view, &z, err);
    if (rc == KV_NOTFOUND)
        rc = KV_OK;
    else if (rc == KV_OK) {
        for (size_t i = 0; i < n && rc == KV_OK; i++)
            rc = read_member(&view, &z, members[i], &scores[i], &found[i], &scratch, err);
    }
    kv_buf_deinit(&scratch);
    zkey_deinit(&z);
    subkey_view_end(db, snap);
    return rc;
}

enum kv_code
zset_rank(struct db *db, struct kv_slice key, struct kv_slice member, bool reverse, uint64_t *rank,
          double *score, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct zkey z;
    zkey_init(&z, key);
    struct kv_buf sk = KV_BUF_INIT, after = KV_BUF_INIT;
    struct storage_iter *below = NULL, *above = NULL;
    double s = 0;
    bool found = false;
    enum kv_code rc = zkey_open(&view, &z, err);
    if (rc == KV_OK)
        rc = read_member(&view, &z, member, &s, &found, &sk, err);
    if (rc != KV_OK)
        goto out;
    if (!found) {
        rc = KV_NOTFOUND;
        goto out;
    }
    /* Count the entries below the member and those above it in lockstep: whichever side ends
     * first gives the rank after 2 * min(rank, size - 1 - rank) steps. */
    score_key(&z, s, member, &sk);
    kv_buf_set(&after, sk.ptr, sk.len);
    kv_buf_append_byte(&after, 0);
    below = storage_iter_new(view.st, view.snap, KV_CF_ZSET_SCORE, kv_buf_slice(&z.prefix),
                             kv_buf_slice(&sk));
    above = storage_iter_new(view.st, view.snap, KV_CF_ZSET_SCORE, kv_buf_slice(&after),
                             kv_buf_slice(&z.end));
    storage_iter_seek_first(below);
    storage_iter_seek_last(above);
    uint64_t nb = 0, na = 0, low_rank;
    for (;;) {
        if (!storage_iter_valid(below)) {
            low_rank = nb;
            break;
        }
        if (!storage_iter_valid(above)) {
            low_rank = z.m.size > na ? z.m.size - 1 - na : 0;
            break;
        }
        nb++;
        na++;
        storage_iter_next(below);
        storage_iter_prev(above);
    }
    if ((rc = storage_iter_status(below, err)) != KV_OK ||
        (rc = storage_iter_status(above, err)) != KV_OK)
        goto out;
    *rank = reverse ? (z.m.size > low_rank ? z.m.size - 1 - low_rank : 0) : low_rank;
    *score = s;
out:
    storage_iter_free(below);
    storage_iter_free(above);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&after);
    zkey_deinit(&z);
    subkey_view_end(db, snap);
    return rc;
}

/* Open key through a view and walk spec with fn; absent keys walk nothing. */
static enum kv_code
read_spec(struct db *db, struct kv_slice key, const struct zset_range_spec *spec, entry_fn fn,
          void *arg, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct zkey z;
    zkey_init(&z, key);
    enum kv_code rc = zkey_open(&view, &z, err);
    if (rc == KV_OK)
        rc = walk_spec(&view, &z, spec, fn, arg, err);
    else if (rc == KV_NOTFOUND)
        rc = KV_OK;
    zkey_deinit(&z);
    subkey_view_end(db, snap);
    return rc;
}

enum kv_code
zset_range(struct db *db, struct kv_slice key, const struct zset_range_spec *spec,
           struct zset_list *out, struct kv_err *err)
{
    return read_spec(db, key, spec, collect_entry, out, err);
}

enum kv_code
zset_count(struct db *db, struct kv_slice key, const struct zset_range_spec *spec, uint64_t *count,
           struct kv_err *err)
{
    uint64_t n = 0;
    enum kv_code rc = read_spec(db, key, spec, count_entry, &n, err);
    if (rc == KV_OK)
        *count = n;
    return rc;
}

enum kv_code
zset_scan(struct db *db, struct kv_slice key, const struct kv_slice *after, struct kv_slice pattern,
          size_t limit, subkey_fn fn, void *arg, struct kv_buf *last, bool *done,
          struct kv_err *err)
{
    return subkey_key_scan(db, key, META_ZSET, after, pattern, limit, fn, arg, last, done, err);
}

enum kv_code
zset_random(struct db *db, struct kv_slice key, uint64_t count, bool distinct,
            struct subkey_sample *out, struct kv_err *err)
{
    return subkey_key_sample(db, key, META_ZSET, count, distinct, out, err);
}

/* --- combinations --- */

/* One input of a combination. */
struct zsrc {
    size_t arg;          /* position among the keys given */
    enum meta_type type; /* META_NONE (absent: empty), META_ZSET or META_SET */
    uint64_t size;
    double weight;
    struct zkey z; /* type META_ZSET: the open key; otherwise only z.key is used */
};

static int
zsrc_cmp_size(const void *a, const void *b)
{
    const struct zsrc *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->arg < y->arg ? -1 : (x->arg > y->arg ? 1 : 0);
}

/* Open every input through db's view. KV_ERR_WRONGTYPE for a key of another type. `v` has n
 * entries; release with zsrc_free. */
static enum kv_code
zsrc_open(struct db *db, const struct kv_slice *keys, size_t n, const double *weights,
          struct zsrc *v, struct kv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        v[i].arg = i;
        v[i].type = META_NONE;
        v[i].size = 0;
        v[i].weight = weights != NULL ? weights[i] : 1.0;
        zkey_init(&v[i].z, keys[i]);
    }
    for (size_t i = 0; i < n; i++) {
        struct zsrc *s = &v[i];
        enum kv_code rc = db_get_meta(db, keys[i], META_NONE, &s->z.m, &s->z.raw, err);
        if (rc == KV_NOTFOUND)
            continue;
        if (rc != KV_OK)
            return rc;
        if (s->z.m.type != META_ZSET && s->z.m.type != META_SET)
            return kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
        s->type = s->z.m.type;
        s->size = s->z.m.size;
        if (s->type == META_ZSET)
            zkey_set_bounds(db, &s->z);
    }
    return KV_OK;
}

static void
zsrc_free(struct zsrc *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zkey_deinit(&v[i].z);
    kv_free(v);
}

/* Adapter from a set's member stream to an entry_fn with score 1. */
struct set_adapter {
    entry_fn fn;
    void *arg;
};

static bool
set_member_entry(void *arg, struct kv_slice member, struct kv_slice value)
{
    (void)value;
    struct set_adapter *a = arg;
    return a->fn(a->arg, member, 1.0);
}

/* Visit every member of an input with its (unweighted) score. */
static enum kv_code
zsrc_each(struct db *db, struct zsrc *s, entry_fn fn, void *arg, struct kv_err *err)
{
    if (s->type == META_ZSET)
        return walk_members(db, &s->z, fn, arg, err);
    if (s->type != META_SET)
        return KV_OK;
    struct set_adapter a = {fn, arg};
    struct kv_buf last = KV_BUF_INIT;
    bool done = false;
    enum kv_code rc = set_scan(db, s->z.key, NULL, kv_slice_make(NULL, 0), 0, set_member_entry, &a,
                               &last, &done, err);
    kv_buf_deinit(&last);
    return rc == KV_NOTFOUND ? KV_OK : rc;
}

/* Whether an input has `member`, and its score. */
static enum kv_code
zsrc_find(struct db *db, struct zsrc *s, struct kv_slice member, double *score, bool *found,
          struct kv_buf *scratch, struct kv_err *err)
{
    *found = false;
    if (s->type == META_ZSET)
        return read_member(db, &s->z, member, score, found, scratch, err);
    if (s->type != META_SET)
        return KV_OK;
    enum kv_code rc = set_is_member(db, s->z.key, &member, 1, found, err);
    *score = 1.0;
    return rc;
}

static void
aggregate(double *target, double val, enum zset_aggregate agg)
{
    switch (agg) {
    case ZSET_AGG_SUM:
        *target = *target + val;
        if (isnan(*target)) /* inf + -inf: Redis's convention is 0 */
            *target = 0.0;
        break;
    case ZSET_AGG_MIN:
        *target = val < *target ? val : *target;
        break;
    case ZSET_AGG_MAX:
        *target = val > *target ? val : *target;
        break;
    }
}

/* The state of one combination run. */
struct combine {
    struct db *db; /* the view */
    struct zsrc *v;
    size_t n;
    enum zset_aggregate agg;
    struct zset_list *out; /* NULL: count only */
    struct dict *index;    /* union: member -> position in out + 1 */
    double weight;         /* union: the weight of the input being added */
    uint64_t count;        /* intersection: matches so far */
    uint64_t limit;        /* intersection count: stop there (0: none) */
    struct kv_buf scratch;
    enum kv_code rc;
    struct kv_err *err;
};

static bool
union_entry(void *arg, struct kv_slice member, double score)
{
    struct combine *c = arg;
    double s = c->weight * score;
    if (isnan(s))
        s = 0;
    uintptr_t at = (uintptr_t)dict_get(c->index, member.ptr, member.len);
    if (at == 0) {
        zset_list_add(c->out, member, s);
        dict_add(c->index, member.ptr, member.len, (void *)(uintptr_t)c->out->n);
    } else {
        aggregate(&c->out->items[at - 1].score, s, c->agg);
    }
    return true;
}

static bool
inter_entry(void *arg, struct kv_slice member, double score)
{
    struct combine *c = arg;
    double s = c->v[0].weight * score;
    if (isnan(s))
        s = 0;
    for (size_t j = 1; j < c->n; j++) {
        double value = 0;
        bool found = false;
        c->rc = zsrc_find(c->db, &c->v[j], member, &value, &found, &c->scratch, c->err);
        if (c->rc != KV_OK)
            return false;
        if (!found)
            return true;
        aggregate(&s, value * c->v[j].weight, c->agg);
    }
    c->count++;
    if (c->out != NULL)
        zset_list_add(c->out, member, s);
    return !(c->limit != 0 && c->count >= c->limit);
}

static bool
diff_entry(void *arg, struct kv_slice member, double score)
{
    struct combine *c = arg;
    for (size_t j = 1; j < c->n; j++) {
        double value = 0;
        bool found = false;
        c->rc = zsrc_find(c->db, &c->v[j], member, &value, &found, &c->scratch, c->err);
        if (c->rc != KV_OK)
            return false;
        if (found)
            return true;
    }
    zset_list_add(c->out, member, score);
    return true;
}

/* Run op over the inputs (keys) through db's view: the sorted result into out, or, when out is
 * NULL (intersection only), the count into *count. */
static enum kv_code
combine_run(struct db *db, enum zset_op op, const struct zset_sources *src, uint64_t limit,
            struct zset_list *out, uint64_t *count, struct kv_err *err)
{
    struct zsrc *v = kv_calloc(src->n, sizeof *v);
    struct combine c = {db,  v, src->n, src->aggregate, out,   NULL,
                        1.0, 0, limit,  KV_BUF_INIT,    KV_OK, err};
    enum kv_code rc = zsrc_open(db, src->keys, src->n, src->weights, v, err);
    if (rc != KV_OK)
        goto out;
    /* The folding order of Redis: smallest input first (the first input stays first in a
     * difference). qsort with the argument position as tie-break is a stable sort. */
    if (op == ZSET_OP_DIFF) {
        if (src->n > 1)
            qsort(v + 1, src->n - 1, sizeof *v, zsrc_cmp_size);
    } else {
        qsort(v, src->n, sizeof *v, zsrc_cmp_size);
    }
    switch (op) {
    case ZSET_OP_UNION:
        c.index = dict_new(NULL, false);
        for (size_t i = 0; i < src->n && rc == KV_OK; i++) {
            c.weight = v[i].weight;
            rc = zsrc_each(db, &v[i], union_entry, &c, err);
        }
        break;
    case ZSET_OP_INTER:
        if (v[0].size > 0)
            rc = zsrc_each(db, &v[0], inter_entry, &c, err);
        break;
    case ZSET_OP_DIFF:
        if (v[0].size > 0)
            rc = zsrc_each(db, &v[0], diff_entry, &c, err);
        break;
    }
    if (rc == KV_OK)
        rc = c.rc;
    if (rc == KV_OK && out != NULL)
        zset_list_sort(out);
    if (rc == KV_OK && count != NULL)
        *count = c.count;
out:
    dict_free(c.index);
    kv_buf_deinit(&c.scratch);
    zsrc_free(v, src->n);
    return rc;
}

enum kv_code
zset_check_sources(struct db *db, const struct kv_slice *keys, size_t n, struct kv_err *err)
{
    struct kv_buf raw = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < n && rc == KV_OK; i++) {
        struct meta m;
        rc = db_get_meta(db, keys[i], META_NONE, &m, &raw, err);
        if (rc == KV_NOTFOUND)
            rc = KV_OK;
        else if (rc == KV_OK && m.type != META_ZSET && m.type != META_SET)
            rc = kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    }
    kv_buf_deinit(&raw);
    return rc;
}

enum kv_code
zset_combine(struct db *db, enum zset_op op, const struct zset_sources *src, struct zset_list *out,
             struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    enum kv_code rc = combine_run(&view, op, src, 0, out, NULL, err);
    subkey_view_end(db, snap);
    return rc;
}

enum kv_code
zset_inter_card(struct db *db, const struct kv_slice *keys, size_t n, uint64_t limit,
                uint64_t *card, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct zset_sources src = {keys, n, NULL, ZSET_AGG_SUM};
    enum kv_code rc = combine_run(&view, ZSET_OP_INTER, &src, limit, NULL, card, err);
    subkey_view_end(db, snap);
    return rc;
}

/* Add to b the replacement of dst by the members of l (no duplicates): a new version with these
 * members and no expiry, or dst's deletion when l is empty. *changed: whether b changes dst. */
static enum kv_code
batch_replace(struct db *db, struct storage_batch *b, struct kv_slice dst,
              const struct zset_list *l, bool *changed, struct kv_err *err)
{
    *changed = false;
    if (l->n == 0) {
        struct kv_buf raw = KV_BUF_INIT;
        struct meta m;
        enum kv_code rc = db_get_meta(db, dst, META_NONE, &m, &raw, err);
        kv_buf_deinit(&raw);
        if (rc == KV_NOTFOUND)
            return KV_OK;
        if (rc != KV_OK)
            return rc;
        db_batch_delete_key(db, b, dst);
        *changed = true;
        return KV_OK;
    }
    struct zkey z;
    zkey_init(&z, dst);
    meta_init(&z.m, META_ZSET);
    z.m.size = l->n;
    zkey_set_bounds(db, &z);
    struct kv_buf scratch = KV_BUF_INIT;
    for (size_t i = 0; i < l->n; i++)
        batch_put_member(b, &z, zset_list_member(l, i), l->items[i].score, &scratch);
    db_batch_put_meta(db, b, dst, &z.m);
    kv_buf_deinit(&scratch);
    zkey_deinit(&z);
    *changed = true;
    return KV_OK;
}

/* Write the replacement of dst by l in its own batch; the caller holds dst's lock. */
static enum kv_code
write_replace(struct db *db, struct kv_slice dst, const struct zset_list *l, struct kv_err *err)
{
    struct storage_batch *b = zset_batch_new(db);
    bool changed = false;
    enum kv_code rc = batch_replace(db, b, dst, l, &changed, err);
    if (rc == KV_OK && changed)
        rc = db_write(db, b, &dst, 1, err);
    storage_batch_free(b);
    return rc;
}

enum kv_code
zset_combine_store(struct db *db, enum zset_op op, struct kv_slice dst,
                   const struct zset_sources *src, uint64_t *card, struct kv_err *err)
{
    struct kv_slice *locked = kv_malloc((src->n + 1) * sizeof *locked);
    locked[0] = dst;
    memcpy(locked + 1, src->keys, src->n * sizeof *locked);
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, locked, src->n + 1, &g);
    struct zset_list l = ZSET_LIST_INIT;
    enum kv_code rc = combine_run(db, op, src, 0, &l, NULL, err);
    if (rc == KV_OK)
        rc = write_replace(db, dst, &l, err);
    if (rc == KV_OK)
        *card = l.n;
    keylock_unlock(&g);
    zset_list_deinit(&l);
    kv_free(locked);
    return rc;
}

/* --- writes --- */

/* The state of one member named by ZADD while the command runs. */
struct pending {
    struct kv_slice member; /* borrowed from the caller's arguments */
    bool existed;           /* in the zset before the command */
    double old;             /* its score then */
    bool present;           /* in the zset after the pairs applied so far */
    double cur;             /* its score now */
};

/* Take the zset's lock for ZADD, unless another worker holds it and the command would change
 * nothing (subkey_lock_unless_unchanged): every member already has the given score (NX: every
 * member exists). INCR, GT, LT and more than SUBKEY_UNLOCKED_MAX pairs always take the lock. A
 * score is compared by its encoding, so -0 against a stored 0 also takes the lock (which then
 * finds them equal). True when the command changes nothing (*g zeroed, nothing held). */
static bool
zadd_lock(struct db *db, struct kv_slice key, const double *scores, const struct kv_slice *members,
          size_t n, unsigned flags, struct keylock_guard *g)
{
    if (n == 0 || n > SUBKEY_UNLOCKED_MAX ||
        (flags & (ZSET_ADD_INCR | ZSET_ADD_GT | ZSET_ADD_LT)) != 0) {
        keylock_lock1(db->locks, db->ns, key, g);
        return false;
    }
    if (flags & ZSET_ADD_NX)
        return subkey_lock_unless_unchanged(db, key, META_ZSET, members, n, 1, false, g);
    struct kv_slice pairs[2 * SUBKEY_UNLOCKED_MAX];
    char enc[SUBKEY_UNLOCKED_MAX][ZSET_SCORE_LEN];
    for (size_t i = 0; i < n; i++) {
        zset_encode_score(scores[i], enc[i]);
        pairs[2 * i] = members[i];
        pairs[2 * i + 1] = kv_slice_make(enc[i], ZSET_SCORE_LEN);
    }
    return subkey_lock_unless_unchanged(db, key, META_ZSET, pairs, n, 2, true, g);
}

enum kv_code
zset_add(struct db *db, struct kv_slice key, const double *scores, const struct kv_slice *members,
         size_t n, unsigned flags, struct zset_add_result *res, struct kv_err *err)
{
    struct keylock_guard g;
    if (zadd_lock(db, key, scores, members, n, flags, &g)) {
        /* As the locked path below reports it: NX skipped every pair, else each set its
         * member to the score it had. */
        bool nx = flags & ZSET_ADD_NX;
        *res = (struct zset_add_result){0, 0, !nx, nx ? 0 : scores[n - 1]};
        return KV_OK;
    }
    struct zkey z;
    zkey_init(&z, key);
    struct kv_buf scratch = KV_BUF_INIT;
    struct pending *pend = NULL;
    struct dict *index = NULL;
    struct storage_batch *b = NULL;
    struct zset_add_result r = {0, 0, false, 0};
    size_t npend = 0;
    bool nx = flags & ZSET_ADD_NX, xx = flags & ZSET_ADD_XX, gt = flags & ZSET_ADD_GT,
         lt = flags & ZSET_ADD_LT, incr = flags & ZSET_ADD_INCR;
    enum kv_code rc = zkey_open_for_write(db, &z, err);
    bool exists = rc == KV_OK;
    if (rc != KV_OK && rc != KV_NOTFOUND)
        goto out;
    rc = KV_OK;
    if (!exists && xx)
        goto done;
    pend = kv_malloc((n ? n : 1) * sizeof *pend);
    if (n > 1)
        index = dict_new(NULL, false);
    for (size_t i = 0; i < n; i++) {
        struct kv_slice member = members[i];
        struct pending *p = NULL;
        uintptr_t at = index != NULL ? (uintptr_t)dict_get(index, member.ptr, member.len) : 0;
        if (at != 0) {
            p = &pend[at - 1];
        } else {
            p = &pend[npend++];
            p->member = member;
            p->existed = false;
            p->old = 0;
            if (exists) {
                rc = read_member(db, &z, member, &p->old, &p->existed, &scratch, err);
                if (rc != KV_OK)
                    goto out;
            }
            p->present = p->existed;
            p->cur = p->old;
            if (index != NULL)
                dict_add(index, member.ptr, member.len, (void *)(uintptr_t)npend);
        }
        double score = scores[i];
        r.processed = false;
        if (p->present) {
            if (nx)
                continue;
            if (incr) {
                score += p->cur;
                if (isnan(score)) {
                    rc = kv_err_set(err, KV_ERR_RANGE, "resulting score is not a number (NaN)");
                    goto out;
                }
            }
            if ((lt && score >= p->cur) || (gt && score <= p->cur))
                continue;
            r.processed = true;
            r.score = score;
            if (score != p->cur) {
                p->cur = score;
                r.updated++;
            }
        } else if (!xx) {
            p->present = true;
            p->cur = score;
            r.added++;
            r.processed = true;
            r.score = score;
        }
    }
    if (r.added + r.updated > 0) {
        b = zset_batch_new(db);
        for (size_t i = 0; i < npend; i++) {
            struct pending *p = &pend[i];
            if (!p->present || (p->existed && p->cur == p->old))
                continue;
            if (p->existed) {
                score_key(&z, p->old, p->member, &scratch);
                storage_batch_delete(b, KV_CF_ZSET_SCORE, kv_buf_slice(&scratch));
            }
            batch_put_member(b, &z, p->member, p->cur, &scratch);
        }
        /* New members change the size (a new key always has some); new scores of existing
         * members leave the metadata as it is. */
        if (r.added > 0) {
            z.m.size += r.added;
            db_batch_put_meta(db, b, key, &z.m);
        }
        rc = db_write(db, b, &key, 1, err);
    }
done:
    if (rc == KV_OK)
        *res = r;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    dict_free(index);
    kv_free(pend);
    kv_buf_deinit(&scratch);
    zkey_deinit(&z);
    return rc;
}

/* Add the removal of the members of l (all in z) to b, with z's new metadata (or its deletion). */
static void
batch_remove_list(struct db *db, struct storage_batch *b, struct zkey *z, const struct zset_list *l)
{
    struct kv_buf scratch = KV_BUF_INIT;
    for (size_t i = 0; i < l->n; i++)
        batch_del_member(b, z, zset_list_member(l, i), l->items[i].score, &scratch);
    kv_buf_deinit(&scratch);
    z->m.size = z->m.size > l->n ? z->m.size - l->n : 0;
    if (z->m.size == 0)
        db_batch_delete_key(db, b, z->key);
    else
        db_batch_put_meta(db, b, z->key, &z->m);
}

/* Remove the members of l from the open zset z in one batch (nothing when l is empty). */
static enum kv_code
write_remove_list(struct db *db, struct zkey *z, const struct zset_list *l, struct kv_err *err)
{
    if (l->n == 0)
        return KV_OK;
    struct storage_batch *b = zset_batch_new(db);
    batch_remove_list(db, b, z, l);
    enum kv_code rc = db_write(db, b, &z->key, 1, err);
    storage_batch_free(b);
    return rc;
}

enum kv_code
zset_remove(struct db *db, struct kv_slice key, const struct kv_slice *members, size_t n,
            uint64_t *removed, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct zkey z;
    zkey_init(&z, key);
    struct zset_list l = ZSET_LIST_INIT;
    struct kv_buf scratch = KV_BUF_INIT;
    size_t nuniq = 0, *uniq = NULL;
    enum kv_code rc = zkey_open(db, &z, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto done;
    }
    if (rc != KV_OK)
        goto out;
    uniq = subkey_unique(members, n, 1, &nuniq);
    for (size_t i = 0; i < nuniq && rc == KV_OK; i++) {
        double score = 0;
        bool found = false;
        rc = read_member(db, &z, members[uniq[i]], &score, &found, &scratch, err);
        if (rc == KV_OK && found)
            zset_list_add(&l, members[uniq[i]], score);
    }
    if (rc == KV_OK)
        rc = write_remove_list(db, &z, &l, err);
done:
    if (rc == KV_OK)
        *removed = l.n;
out:
    keylock_unlock(&g);
    kv_free(uniq);
    kv_buf_deinit(&scratch);
    zset_list_deinit(&l);
    zkey_deinit(&z);
    return rc;
}

enum kv_code
zset_remove_range(struct db *db, struct kv_slice key, const struct zset_range_spec *spec,
                  uint64_t *removed, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct zkey z;
    zkey_init(&z, key);
    struct zset_list l = ZSET_LIST_INIT;
    enum kv_code rc = zkey_open(db, &z, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
    } else if (rc == KV_OK) {
        rc = walk_spec(db, &z, spec, collect_entry, &l, err);
        if (rc == KV_OK)
            rc = write_remove_list(db, &z, &l, err);
    }
    if (rc == KV_OK)
        *removed = l.n;
    keylock_unlock(&g);
    zset_list_deinit(&l);
    zkey_deinit(&z);
    return rc;
}

enum kv_code
zset_pop(struct db *db, const struct kv_slice *keys, size_t n, bool max, uint64_t count,
         bool skip_other_types, size_t *which, struct zset_list *out, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, n, &g);
    enum kv_code rc = KV_NOTFOUND;
    for (size_t i = 0; i < n; i++) {
        struct zkey z;
        zkey_init(&z, keys[i]);
        rc = zkey_open(db, &z, err);
        if (rc == KV_NOTFOUND || (rc == KV_ERR_WRONGTYPE && skip_other_types)) {
            zkey_deinit(&z);
            rc = KV_NOTFOUND;
            continue;
        }
        if (rc == KV_OK) {
            uint64_t take = count < z.m.size ? count : z.m.size;
            struct zset_list l = ZSET_LIST_INIT;
            if (take > 0) {
                uint64_t a = max ? z.m.size - take : 0;
                rc = walk_ranks(db, &z, a, a + take - 1, max, collect_entry, &l, err);
            }
            if (rc == KV_OK)
                rc = write_remove_list(db, &z, &l, err);
            if (rc == KV_OK) {
                for (size_t j = 0; j < l.n; j++)
                    zset_list_add(out, zset_list_member(&l, j), l.items[j].score);
                *which = i;
            }
            zset_list_deinit(&l);
        }
        zkey_deinit(&z);
        break;
    }
    keylock_unlock(&g);
    return rc;
}

enum kv_code
zset_range_store(struct db *db, struct kv_slice dst, struct kv_slice src,
                 const struct zset_range_spec *spec, uint64_t *card, struct kv_err *err)
{
    struct kv_slice keys[2] = {dst, src};
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, 2, &g);
    struct zset_list l = ZSET_LIST_INIT;
    struct zkey z;
    zkey_init(&z, src);
    enum kv_code rc = zkey_open(db, &z, err);
    if (rc == KV_OK)
        rc = walk_spec(db, &z, spec, collect_entry, &l, err);
    else if (rc == KV_NOTFOUND)
        rc = KV_OK;
    if (rc == KV_OK)
        rc = write_replace(db, dst, &l, err);
    if (rc == KV_OK)
        *card = l.n;
    keylock_unlock(&g);
    zkey_deinit(&z);
    zset_list_deinit(&l);
    return rc;
}
