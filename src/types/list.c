/* SPDX-License-Identifier: Apache-2.0 */
#include "types/list.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/endian.h"
#include "common/mem.h"
#include "storage/meta.h"
#include "storage/storage.h"
#include "types/keylock.h"
#include "types/subkey.h"

/* Kvrocks' command codes in the LogData descriptor of list batches (kvrocks-notes.md 2.9; they
 * reach the WAL: never renumber). */
enum list_log_cmd {
    LIST_LOG_LSET = 0,
    LIST_LOG_LINSERT = 1,
    LIST_LOG_LTRIM = 2,
    LIST_LOG_LPOP = 3,
    LIST_LOG_RPOP = 4,
    LIST_LOG_LREM = 5,
    LIST_LOG_LPUSH = 6,
    LIST_LOG_RPUSH = 7,
    LIST_LOG_LMOVE = 12,
};

/* --- list_values --- */

void
list_values_deinit(struct list_values *v)
{
    kv_buf_deinit(&v->bytes);
    kv_free(v->ends);
    v->ends = NULL;
    v->n = 0;
    v->cap = 0;
}

void
list_values_clear(struct list_values *v)
{
    kv_buf_clear(&v->bytes);
    v->n = 0;
}

void
list_values_append(struct list_values *v, struct kv_slice elem)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->ends = kv_realloc(v->ends, v->cap * sizeof *v->ends);
    }
    kv_buf_append_slice(&v->bytes, elem);
    v->ends[v->n++] = v->bytes.len;
}

struct kv_slice
list_values_at(const struct list_values *v, size_t i)
{
    size_t start = i == 0 ? 0 : v->ends[i - 1];
    return kv_slice_make(v->bytes.ptr + start, v->ends[i] - start);
}

bool
list_normalize_range(uint64_t len, int64_t start, int64_t stop, uint64_t *first, uint64_t *last)
{
    /* len <= INT64_MAX (it counts indexes of a 2^64 space starting in the middle). */
    int64_t l = (int64_t)len;
    if (start < 0)
        start += l;
    if (stop < 0)
        stop += l;
    if (start < 0)
        start = 0;
    if (start > stop || start >= l)
        return false;
    if (stop >= l)
        stop = l - 1;
    *first = (uint64_t)start;
    *last = (uint64_t)stop;
    return true;
}

/* --- helpers --- */

/* out = prefix ++ index (big-endian): the sub-key of one element. */
static void
element_key(struct kv_buf *out, const struct kv_buf *prefix, uint64_t index)
{
    kv_buf_clear(out);
    kv_buf_append(out, prefix->ptr, prefix->len);
    kv_buf_append_u64be(out, index);
}

/* Begin the batch of a list write with its LogData descriptor "3 <cmd>[ <arg>...]". */
static void
put_log(struct storage_batch *b, enum list_log_cmd cmd, const struct kv_slice *args, size_t nargs)
{
    struct kv_buf lb = KV_BUF_INIT;
    kv_buf_printf(&lb, "%d %d", (int)META_LIST, (int)cmd);
    for (size_t i = 0; i < nargs; i++) {
        kv_buf_append_byte(&lb, ' ');
        kv_buf_append_slice(&lb, args[i]);
    }
    storage_batch_log_data(b, kv_buf_slice(&lb));
    kv_buf_deinit(&lb);
}

/* Read the metadata of a list key: KV_OK, KV_NOTFOUND, KV_ERR_WRONGTYPE. */
static enum kv_code
read_list(struct db *db, struct kv_slice key, struct meta *m, struct kv_buf *raw,
          struct kv_err *err)
{
    return db_get_meta(db, key, META_LIST, m, raw, err);
}

static enum kv_code
missing_element(struct kv_err *err)
{
    return kv_err_set(err, KV_ERR_CORRUPT, "list element missing inside [head, tail)");
}

/* Called for each element visited by scan_elements; returns false to stop. */
typedef bool (*element_fn)(void *arg, uint64_t index, struct kv_slice value);

/* Visit the elements with indexes in [from, to), in increasing index order or (reverse) in
 * decreasing order, through one bounded iterator. Every index in the range must have its
 * sub-key (KV_ERR_CORRUPT otherwise). */
static enum kv_code
scan_elements(struct db *db, const struct kv_buf *prefix, uint64_t from, uint64_t to, bool reverse,
              element_fn fn, void *arg, struct kv_err *err)
{
    if (from >= to)
        return KV_OK;
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT;
    element_key(&lower, prefix, from);
    element_key(&upper, prefix, to);
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&lower),
                                               kv_buf_slice(&upper));
    if (reverse) {
        element_key(&upper, prefix, to - 1);
        storage_iter_seek_for_prev(it, kv_buf_slice(&upper));
    } else {
        storage_iter_seek(it, kv_buf_slice(&lower));
    }
    uint64_t expect = reverse ? to - 1 : from;
    bool complete = false;
    enum kv_code rc = KV_OK;
    while (storage_iter_valid(it)) {
        struct kv_slice k = storage_iter_key(it);
        if (k.len != prefix->len + 8 || kv_get_u64be(k.ptr + prefix->len) != expect) {
            rc = missing_element(err);
            break;
        }
        if (!fn(arg, expect, storage_iter_value(it))) {
            complete = true;
            break;
        }
        if (expect == (reverse ? from : to - 1)) {
            complete = true;
            break;
        }
        if (reverse) {
            expect--;
            storage_iter_prev(it);
        } else {
            expect++;
            storage_iter_next(it);
        }
    }
    if (rc == KV_OK)
        rc = storage_iter_status(it, err);
    if (rc == KV_OK && !complete)
        rc = missing_element(err);
    storage_iter_free(it);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
    return rc;
}

static bool
collect_fn(void *arg, uint64_t index, struct kv_slice value)
{
    list_values_append(arg, value);
    return true;
}

/* Read one element into out. */
static enum kv_code
get_element(struct db *db, const struct kv_buf *prefix, uint64_t index, struct kv_buf *out,
            struct kv_err *err)
{
    struct kv_buf k = KV_BUF_INIT;
    element_key(&k, prefix, index);
    enum kv_code rc = storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&k), out, err);
    kv_buf_deinit(&k);
    if (rc == KV_NOTFOUND)
        rc = missing_element(err);
    return rc;
}

/* Add the deletion of the elements with indexes in [from, to) to b (one record each, as Kvrocks
 * writes them, so WAL consumers can count them). */
static void
delete_elements(struct storage_batch *b, const struct kv_buf *prefix, uint64_t from, uint64_t to)
{
    struct kv_buf k = KV_BUF_INIT;
    for (uint64_t i = from; i < to; i++) {
        element_key(&k, prefix, i);
        storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&k));
    }
    kv_buf_deinit(&k);
}

static void
put_element(struct storage_batch *b, const struct kv_buf *prefix, uint64_t index,
            struct kv_slice value, struct kv_buf *scratch)
{
    element_key(scratch, prefix, index);
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(scratch), value);
}

/* Add the new metadata of `key` to b, or its deletion when the list became empty. */
static void
put_meta_or_delete(struct db *db, struct storage_batch *b, struct kv_slice key,
                   const struct meta *m)
{
    if (m->size == 0)
        db_batch_delete_key(db, b, key);
    else
        db_batch_put_meta(db, b, key, m);
}

static struct kv_slice
int_arg(char *buf, size_t cap, int64_t v)
{
    int n = snprintf(buf, cap, "%" PRId64, v);
    return kv_slice_make(buf, (size_t)n);
}

static enum kv_code
index_overflow(struct kv_err *err)
{
    return kv_err_set(err, KV_ERR_RANGE, "list index space exhausted");
}

/* --- reads --- */

enum kv_code
list_len(struct db *db, struct kv_slice key, uint64_t *len, struct kv_err *err)
{
    return subkey_key_size(db, key, META_LIST, len, err);
}

enum kv_code
list_index(struct db *db, struct kv_slice key, int64_t index, struct kv_buf *out,
           struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = read_list(&view, key, &m, &raw, err);
    if (rc != KV_OK)
        goto out;
    int64_t len = (int64_t)m.size;
    if (index < 0)
        index += len;
    if (index < 0 || index >= len) {
        rc = KV_NOTFOUND;
        goto out;
    }
    db_subkey_prefix(&view, key, m.version, &prefix);
    rc = get_element(&view, &prefix, m.list_head + (uint64_t)index, out, err);
out:
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    subkey_view_end(db, snap);
    return rc;
}

enum kv_code
list_range(struct db *db, struct kv_slice key, int64_t start, int64_t stop, struct list_values *out,
           struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT;
    struct meta m;
    uint64_t first, last;
    enum kv_code rc = read_list(&view, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK || !list_normalize_range(m.size, start, stop, &first, &last))
        goto out;
    db_subkey_prefix(&view, key, m.version, &prefix);
    rc = scan_elements(&view, &prefix, m.list_head + first, m.list_head + last + 1, false,
                       collect_fn, out, err);
out:
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    subkey_view_end(db, snap);
    return rc;
}

struct pos_scan {
    struct kv_slice value;
    uint64_t head;
    uint64_t skip;  /* matches to pass over before recording (|rank| - 1) */
    uint64_t count; /* 0 = all */
    int64_t *pos;   /* owned until handed to the caller */
    size_t n, cap;
};

static bool
pos_fn(void *arg, uint64_t index, struct kv_slice value)
{
    struct pos_scan *ps = arg;
    if (!kv_slice_eq(value, ps->value))
        return true;
    if (ps->skip > 0) {
        ps->skip--;
        return true;
    }
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 8;
        ps->pos = kv_realloc(ps->pos, ps->cap * sizeof *ps->pos);
    }
    ps->pos[ps->n++] = (int64_t)(index - ps->head);
    return ps->count == 0 || ps->n < ps->count;
}

enum kv_code
list_pos(struct db *db, struct kv_slice key, struct kv_slice value, int64_t rank, uint64_t count,
         uint64_t maxlen, int64_t **pos, size_t *npos, struct kv_err *err)
{
    struct db view;
    struct storage_snapshot *snap;
    subkey_view_begin(db, &view, &snap);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT;
    struct meta m;
    struct pos_scan ps = {.value = value, .count = count};
    enum kv_code rc = read_list(&view, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    bool reverse = rank < 0;
    uint64_t r = rank == INT64_MIN ? 1 : (uint64_t)(rank < 0 ? -rank : rank);
    ps.skip = r - 1;
    ps.head = m.list_head;
    uint64_t span = maxlen == 0 || maxlen > m.size ? m.size : maxlen;
    uint64_t from = reverse ? m.list_tail - span : m.list_head;
    uint64_t to = reverse ? m.list_tail : m.list_head + span;
    db_subkey_prefix(&view, key, m.version, &prefix);
    rc = scan_elements(&view, &prefix, from, to, reverse, pos_fn, &ps, err);
out:
    if (rc == KV_OK) {
        *pos = ps.pos;
        *npos = ps.n;
    } else {
        kv_free(ps.pos);
    }
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    subkey_view_end(db, snap);
    return rc;
}

/* --- writes --- */

enum kv_code
list_push(struct db *db, struct kv_slice key, const struct kv_slice *elems, size_t n, bool left,
          bool only_existing, uint64_t *new_len, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT, k = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct meta m;
    enum kv_code rc = db_get_meta_for_write(db, key, META_LIST, &m, &raw, err);
    if (rc == KV_NOTFOUND && only_existing) {
        *new_len = 0;
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK && rc != KV_NOTFOUND)
        goto out;
    if (left ? m.list_head < n : UINT64_MAX - m.list_tail <= n) {
        rc = index_overflow(err);
        goto out;
    }
    b = storage_batch_new(db->st);
    put_log(b, left ? LIST_LOG_LPUSH : LIST_LOG_RPUSH, NULL, 0);
    db_subkey_prefix(db, key, m.version, &prefix);
    for (size_t i = 0; i < n; i++) {
        uint64_t index = left ? --m.list_head : m.list_tail++;
        put_element(b, &prefix, index, elems[i], &k);
    }
    m.size += n;
    db_batch_put_meta(db, b, key, &m);
    rc = db_write(db, b, &key, 1, err);
    if (rc == KV_OK)
        *new_len = m.size;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    kv_buf_deinit(&k);
    return rc;
}

/* --- pop read-ahead ---
 *
 * A queue drained by pipelined LPOPs (or RPOPs) pops one element after another from the same end
 * of one list, and each pop's point read searches the sub-key memtables afresh (twice when the
 * element has moved to an immutable memtable). When a worker pops single elements from the same
 * end of the same list twice in a row, holding the list's key lock throughout, the second pop
 * reads the next POP_AHEAD_MIN elements (at most POP_AHEAD_BYTES, at least one) through one
 * iterator and the following pops take theirs from that copy; each further read of the same run
 * reads twice as many, up to POP_AHEAD_MAX, so a short run (a round of unpipelined clients)
 * reads little it does not pop.
 *
 * The copy is used only while it is certainly current: the thread has kept the key's lock since
 * (keylock_epoch: no other thread can have written the key), has written nothing but these pops
 * (storage_thread_writes: an LSET, LINSERT or LPUSH in between drops it), no raw batch was
 * written by anyone and the DB was not swapped (storage_raw_writes: raw batches take no key
 * locks), and the list has the same version (its sub-key prefix). The pops only move the list's
 * end past the elements they took. Threads that do not stage their writes (all but the workers)
 * release the lock after each command, so they never reuse a copy.
 *
 * Pipelined LPOP on one list (redis-benchmark -P 16, 8 workers on 2 cores): 0.25-0.26 ->
 * 0.32-0.38 of redis-server in three A/B runs, -P 1 unchanged. */
#define POP_AHEAD_MIN 8
#define POP_AHEAD_MAX 32
#define POP_AHEAD_BYTES (64u << 10)

struct pop_ahead {
    struct storage *st;      /* borrowed; NULL while nothing is remembered */
    struct kv_buf prefix;    /* owned: the list's sub-key prefix (namespace, key, version) */
    bool left;               /* the end of the last pop */
    uint64_t lock_epoch;     /* keylock_epoch() after the last pop's write */
    uint64_t own_writes;     /* storage_thread_writes() after the last pop's write */
    uint64_t raw_writes;     /* storage_raw_writes() before the copy was read */
    uint64_t start;          /* index of vals' first element; the next ones go away from the
                                end popped (upwards for the left end, downwards for the right) */
    size_t want;             /* elements the next read of this run reads */
    struct list_values vals; /* owned: the copied elements, possibly none */
};

static _Thread_local struct pop_ahead ahead;

void
list_thread_exit(void)
{
    kv_buf_deinit(&ahead.prefix);
    list_values_deinit(&ahead.vals);
    memset(&ahead, 0, sizeof ahead);
}

/* Whether this thread's last pop was from the same end of the same list and nothing but pops
 * can have changed the list since (raw: storage_raw_writes now). */
static bool
ahead_follows(struct storage *st, const struct kv_buf *prefix, bool left, uint64_t raw)
{
    return ahead.st == st && ahead.left == left && ahead.lock_epoch == keylock_epoch() &&
           ahead.own_writes == storage_thread_writes() && ahead.raw_writes == raw &&
           kv_slice_eq(kv_buf_slice(&ahead.prefix), kv_buf_slice(prefix));
}

/* Position of element `index` in the copy, or -1 when it holds no such element. */
static ptrdiff_t
ahead_position(uint64_t index)
{
    uint64_t d = ahead.left ? index - ahead.start : ahead.start - index;
    if ((ahead.left ? index < ahead.start : index > ahead.start) || d >= ahead.vals.n)
        return -1;
    return (ptrdiff_t)d;
}

/* Drop the copy; its memory too once a big element grew it (a read always takes the element
 * asked for, whatever its size), so that a worker does not keep that much for good. */
static void
ahead_clear(void)
{
    if (ahead.vals.bytes.cap > 2 * POP_AHEAD_BYTES)
        list_values_deinit(&ahead.vals);
    else
        list_values_clear(&ahead.vals);
}

static bool
ahead_collect(void *arg, uint64_t index, struct kv_slice value)
{
    (void)index;
    struct list_values *v = arg;
    if (v->n > 0 && v->bytes.len + value.len > POP_AHEAD_BYTES)
        return false; /* the first element always: the pop needs it */
    list_values_append(v, value);
    return v->n < ahead.want;
}

/* Append the element at `index` to got: the next one at the `left` end of the list with sub-key
 * prefix `prefix` and metadata m. *remember: whether list_pop must call ahead_stamp after its
 * write. */
static enum kv_code
pop_read(struct db *db, const struct kv_buf *prefix, const struct meta *m, bool left,
         uint64_t index, struct list_values *got, bool *remember, struct kv_err *err)
{
    *remember = db->snap == NULL && storage_stage_enabled();
    uint64_t raw = *remember ? storage_raw_writes(db->st) : 0;
    bool follows = *remember && ahead_follows(db->st, prefix, left, raw);
    ptrdiff_t at = follows ? ahead_position(index) : -1;
    if (at >= 0) {
        list_values_append(got, list_values_at(&ahead.vals, (size_t)at));
        if ((size_t)at + 1 == ahead.vals.n)
            ahead_clear(); /* used up: the next pop of the run reads on */
        return KV_OK;
    }
    ahead.st = NULL;
    ahead_clear();
    enum kv_code rc;
    if (follows) {
        /* A later pop of the run: copy the elements the next pops will want. */
        uint64_t lo = left ? index : m->list_head, hi = left ? m->list_tail : index + 1;
        ahead.start = index;
        rc = scan_elements(db, prefix, lo, hi, !left, ahead_collect, &ahead.vals, err);
        ahead.want = ahead.want < POP_AHEAD_MAX / 2 ? 2 * ahead.want : POP_AHEAD_MAX;
        if (rc == KV_OK)
            list_values_append(got, list_values_at(&ahead.vals, 0));
        if (rc != KV_OK || ahead.vals.n == 1)
            ahead_clear(); /* nothing left for the next pops (a big element, the list's end) */
    } else {
        ahead.want = POP_AHEAD_MIN;
        struct kv_buf one = KV_BUF_INIT;
        rc = get_element(db, prefix, index, &one, err);
        if (rc == KV_OK)
            list_values_append(got, kv_buf_slice(&one));
        kv_buf_deinit(&one);
    }
    if (*remember && rc == KV_OK) {
        kv_buf_set(&ahead.prefix, prefix->ptr, prefix->len);
        ahead.left = left;
        ahead.raw_writes = raw;
    }
    return rc;
}

/* After the write of a pop that pop_read asked to remember (ok: the write succeeded). */
static void
ahead_stamp(struct storage *st, bool ok)
{
    ahead.st = ok ? st : NULL;
    ahead.lock_epoch = keylock_epoch();
    ahead.own_writes = storage_thread_writes();
}

enum kv_code
list_pop(struct db *db, struct kv_slice key, bool left, uint64_t count, bool other_type_absent,
         struct list_values *out, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct list_values got = LIST_VALUES_INIT;
    struct meta m;
    bool remember = false;
    enum kv_code rc = read_list(db, key, &m, &raw, err);
    if (rc == KV_ERR_WRONGTYPE && other_type_absent)
        rc = KV_NOTFOUND;
    if (rc != KV_OK || count == 0)
        goto out;
    uint64_t k = count < m.size ? count : m.size;
    uint64_t from = left ? m.list_head : m.list_tail - k;
    uint64_t to = from + k;
    db_subkey_prefix(db, key, m.version, &prefix);
    if (k == 1)
        rc = pop_read(db, &prefix, &m, left, from, &got, &remember, err);
    else
        rc = scan_elements(db, &prefix, from, to, !left, collect_fn, &got, err);
    if (rc != KV_OK)
        goto out;
    b = storage_batch_new(db->st);
    put_log(b, left ? LIST_LOG_LPOP : LIST_LOG_RPOP, NULL, 0);
    delete_elements(b, &prefix, from, to);
    if (left)
        m.list_head += k;
    else
        m.list_tail -= k;
    m.size -= k;
    put_meta_or_delete(db, b, key, &m);
    rc = db_write(db, b, &key, 1, err);
    if (remember)
        ahead_stamp(db->st, rc == KV_OK);
    if (rc == KV_OK) {
        for (size_t i = 0; i < got.n; i++)
            list_values_append(out, list_values_at(&got, i));
    }
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    list_values_deinit(&got);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    return rc;
}

enum kv_code
list_set(struct db *db, struct kv_slice key, int64_t index, struct kv_slice value,
         struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT, k = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct meta m;
    enum kv_code rc = read_list(db, key, &m, &raw, err);
    if (rc != KV_OK)
        goto out;
    int64_t len = (int64_t)m.size;
    if (index < 0)
        index += len;
    if (index < 0 || index >= len) {
        rc = kv_err_set(err, KV_ERR_RANGE, "index out of range");
        goto out;
    }
    b = storage_batch_new(db->st);
    char nb[24];
    struct kv_slice arg = int_arg(nb, sizeof nb, index);
    put_log(b, LIST_LOG_LSET, &arg, 1);
    db_subkey_prefix(db, key, m.version, &prefix);
    put_element(b, &prefix, m.list_head + (uint64_t)index, value, &k);
    rc = db_write(db, b, &key, 1, err);
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    kv_buf_deinit(&k);
    return rc;
}

struct find_first {
    struct kv_slice value;
    bool found;
    uint64_t index;
};

static bool
find_first_fn(void *arg, uint64_t index, struct kv_slice value)
{
    struct find_first *f = arg;
    if (!kv_slice_eq(value, f->value))
        return true;
    f->found = true;
    f->index = index;
    return false;
}

/* Re-put every visited element at its index + delta (a shift by one slot). */
struct shift {
    struct storage_batch *b;
    const struct kv_buf *prefix;
    int64_t delta;
    struct kv_buf scratch;
};

static bool
shift_fn(void *arg, uint64_t index, struct kv_slice value)
{
    struct shift *s = arg;
    put_element(s->b, s->prefix, index + (uint64_t)s->delta, value, &s->scratch);
    return true;
}

enum kv_code
list_insert(struct db *db, struct kv_slice key, bool before, struct kv_slice pivot,
            struct kv_slice value, int64_t *result, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct shift sh = {.scratch = KV_BUF_INIT};
    struct meta m;
    enum kv_code rc = read_list(db, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        *result = 0;
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    db_subkey_prefix(db, key, m.version, &prefix);
    struct find_first f = {.value = pivot};
    rc = scan_elements(db, &prefix, m.list_head, m.list_tail, false, find_first_fn, &f, err);
    if (rc != KV_OK)
        goto out;
    if (!f.found) {
        *result = -1;
        goto out;
    }
    /* The new element goes between slots at-1 and at; shift the shorter side by one. */
    uint64_t at = before ? f.index : f.index + 1;
    bool shift_left = at - m.list_head <= m.list_tail - at;
    if (shift_left ? m.list_head == 0 : m.list_tail == UINT64_MAX) {
        rc = index_overflow(err);
        goto out;
    }
    b = storage_batch_new(db->st);
    struct kv_slice args[3] = {kv_slice_cstr(before ? "1" : "0"), pivot, value};
    put_log(b, LIST_LOG_LINSERT, args, 3);
    sh.b = b;
    sh.prefix = &prefix;
    if (shift_left) {
        sh.delta = -1;
        rc = scan_elements(db, &prefix, m.list_head, at, false, shift_fn, &sh, err);
        put_element(b, &prefix, at - 1, value, &sh.scratch);
        m.list_head--;
    } else {
        sh.delta = 1;
        rc = scan_elements(db, &prefix, at, m.list_tail, false, shift_fn, &sh, err);
        put_element(b, &prefix, at, value, &sh.scratch);
        m.list_tail++;
    }
    if (rc != KV_OK)
        goto out;
    m.size++;
    db_batch_put_meta(db, b, key, &m);
    rc = db_write(db, b, &key, 1, err);
    if (rc == KV_OK)
        *result = (int64_t)m.size;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    kv_buf_deinit(&sh.scratch);
    return rc;
}

/* LREM pass 1: the indexes of the elements to remove, in scan order. */
struct rem_find {
    struct kv_slice value;
    uint64_t limit; /* 0 = all */
    uint64_t *idx;  /* owned */
    size_t n, cap;
};

static bool
rem_find_fn(void *arg, uint64_t index, struct kv_slice value)
{
    struct rem_find *rf = arg;
    if (!kv_slice_eq(value, rf->value))
        return true;
    if (rf->n == rf->cap) {
        rf->cap = rf->cap ? rf->cap * 2 : 16;
        rf->idx = kv_realloc(rf->idx, rf->cap * sizeof *rf->idx);
    }
    rf->idx[rf->n++] = index;
    return rf->limit == 0 || rf->n < rf->limit;
}

/* LREM pass 2: move the surviving elements of one side over the removed ones. The removed
 * indexes idx[0..n) are sorted ascending; the scan visits the side in the direction of the
 * compaction, and `next` is the slot the next survivor goes to. */
struct rem_compact {
    struct storage_batch *b;
    const struct kv_buf *prefix;
    const uint64_t *idx;
    size_t n;
    size_t cursor; /* towards the next removed index to meet, in scan order */
    bool reverse;
    uint64_t next;
    struct kv_buf scratch;
};

static bool
rem_compact_fn(void *arg, uint64_t index, struct kv_slice value)
{
    struct rem_compact *rc = arg;
    if (rc->cursor < rc->n) {
        size_t i = rc->reverse ? rc->n - 1 - rc->cursor : rc->cursor;
        if (rc->idx[i] == index) {
            rc->cursor++;
            return true;
        }
    }
    if (index != rc->next)
        put_element(rc->b, rc->prefix, rc->next, value, &rc->scratch);
    rc->next = rc->reverse ? rc->next - 1 : rc->next + 1;
    return true;
}

enum kv_code
list_rem(struct db *db, struct kv_slice key, int64_t count, struct kv_slice value,
         uint64_t *removed, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct rem_find rf = {.value = value};
    struct rem_compact cp = {.scratch = KV_BUF_INIT};
    struct meta m;
    enum kv_code rc = read_list(db, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        *removed = 0;
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    bool from_right = count < 0;
    rf.limit =
        count == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)(count < 0 ? -count : count);
    db_subkey_prefix(db, key, m.version, &prefix);
    rc = scan_elements(db, &prefix, m.list_head, m.list_tail, from_right, rem_find_fn, &rf, err);
    if (rc != KV_OK)
        goto out;
    if (rf.n == 0) {
        *removed = 0;
        goto out;
    }
    if (from_right) {
        for (size_t i = 0; i < rf.n / 2; i++) {
            uint64_t t = rf.idx[i];
            rf.idx[i] = rf.idx[rf.n - 1 - i];
            rf.idx[rf.n - 1 - i] = t;
        }
    }
    b = storage_batch_new(db->st);
    char nb[24];
    struct kv_slice args[2] = {int_arg(nb, sizeof nb, count), value};
    put_log(b, LIST_LOG_LREM, args, 2);
    uint64_t k = rf.n;
    if (k < m.size) {
        uint64_t lo = rf.idx[0], hi = rf.idx[k - 1];
        /* Compact the side with fewer elements to move: the left part [head, hi] moves right,
         * or the right part [lo, tail) moves left. */
        bool move_left_part = hi - m.list_head <= m.list_tail - 1 - lo;
        cp.b = b;
        cp.prefix = &prefix;
        cp.idx = rf.idx;
        cp.n = k;
        cp.reverse = move_left_part;
        if (move_left_part) {
            cp.next = hi;
            rc = scan_elements(db, &prefix, m.list_head, hi + 1, true, rem_compact_fn, &cp, err);
            delete_elements(b, &prefix, m.list_head, m.list_head + k);
            m.list_head += k;
        } else {
            cp.next = lo;
            rc = scan_elements(db, &prefix, lo, m.list_tail, false, rem_compact_fn, &cp, err);
            delete_elements(b, &prefix, m.list_tail - k, m.list_tail);
            m.list_tail -= k;
        }
        if (rc != KV_OK)
            goto out;
    }
    m.size -= k;
    put_meta_or_delete(db, b, key, &m);
    rc = db_write(db, b, &key, 1, err);
    if (rc == KV_OK)
        *removed = k;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_free(rf.idx);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    kv_buf_deinit(&cp.scratch);
    return rc;
}

enum kv_code
list_trim(struct db *db, struct kv_slice key, int64_t start, int64_t stop, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, prefix = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct meta m;
    enum kv_code rc = read_list(db, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        rc = KV_OK;
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    uint64_t first = 0, last = 0;
    bool keep = list_normalize_range(m.size, start, stop, &first, &last);
    b = storage_batch_new(db->st);
    char nb1[24], nb2[24];
    struct kv_slice args[2] = {int_arg(nb1, sizeof nb1, keep ? (int64_t)first : start),
                               int_arg(nb2, sizeof nb2, keep ? (int64_t)last : stop)};
    put_log(b, LIST_LOG_LTRIM, args, 2);
    if (!keep) {
        /* Nothing survives: drop the metadata; the sub-keys are unreachable from now on. */
        db_batch_delete_key(db, b, key);
    } else if (first > 0 || last + 1 < m.size) {
        db_subkey_prefix(db, key, m.version, &prefix);
        uint64_t new_head = m.list_head + first, new_tail = m.list_head + last + 1;
        delete_elements(b, &prefix, m.list_head, new_head);
        delete_elements(b, &prefix, new_tail, m.list_tail);
        m.list_head = new_head;
        m.list_tail = new_tail;
        m.size = last - first + 1;
        db_batch_put_meta(db, b, key, &m);
    }
    /* A trim that keeps everything writes nothing but still counts as a modification (Redis
     * signals the key), so it is reported. */
    rc = db_write(db, b, &key, 1, err);
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&prefix);
    return rc;
}

enum kv_code
list_move(struct db *db, struct kv_slice src, struct kv_slice dst, bool src_left, bool dst_left,
          bool src_other_type_absent, struct kv_buf *out, struct kv_err *err)
{
    struct kv_slice keys[2] = {src, dst};
    bool same = kv_slice_eq(src, dst);
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, same ? 1 : 2, &g);
    struct kv_buf sraw = KV_BUF_INIT, draw = KV_BUF_INIT, sprefix = KV_BUF_INIT,
                  dprefix = KV_BUF_INIT, elem = KV_BUF_INIT, k = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct meta sm, dm;
    enum kv_code rc = read_list(db, src, &sm, &sraw, err);
    if (rc == KV_ERR_WRONGTYPE && src_other_type_absent)
        rc = KV_NOTFOUND;
    if (rc != KV_OK)
        goto out;
    if (!same) {
        rc = db_get_meta_for_write(db, dst, META_LIST, &dm, &draw, err);
        if (rc != KV_OK && rc != KV_NOTFOUND)
            goto out;
        if (dst_left ? dm.list_head == 0 : dm.list_tail == UINT64_MAX) {
            rc = index_overflow(err);
            goto out;
        }
    }
    uint64_t src_index = src_left ? sm.list_head : sm.list_tail - 1;
    db_subkey_prefix(db, src, sm.version, &sprefix);
    rc = get_element(db, &sprefix, src_index, &elem, err);
    if (rc != KV_OK)
        goto out;
    b = storage_batch_new(db->st);
    struct kv_slice args[4] = {src, dst, kv_slice_cstr(src_left ? "left" : "right"),
                               kv_slice_cstr(dst_left ? "left" : "right")};
    put_log(b, LIST_LOG_LMOVE, args, 4);
    if (same) {
        /* A rotation; popping and pushing at the same end, or a single element, changes
         * nothing on disk (but is still a modification of the key, as in Redis). */
        if (src_left != dst_left && sm.size > 1) {
            if (src_left ? sm.list_tail == UINT64_MAX : sm.list_head == 0) {
                rc = index_overflow(err);
                goto out;
            }
            element_key(&k, &sprefix, src_index);
            storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&k));
            if (src_left) {
                put_element(b, &sprefix, sm.list_tail, kv_buf_slice(&elem), &k);
                sm.list_head++;
                sm.list_tail++;
            } else {
                put_element(b, &sprefix, sm.list_head - 1, kv_buf_slice(&elem), &k);
                sm.list_head--;
                sm.list_tail--;
            }
            db_batch_put_meta(db, b, src, &sm);
        }
        rc = db_write(db, b, &src, 1, err);
    } else {
        element_key(&k, &sprefix, src_index);
        storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&k));
        if (src_left)
            sm.list_head++;
        else
            sm.list_tail--;
        sm.size--;
        put_meta_or_delete(db, b, src, &sm);
        db_subkey_prefix(db, dst, dm.version, &dprefix);
        uint64_t dst_index = dst_left ? --dm.list_head : dm.list_tail++;
        put_element(b, &dprefix, dst_index, kv_buf_slice(&elem), &k);
        dm.size++;
        db_batch_put_meta(db, b, dst, &dm);
        rc = db_write(db, b, keys, 2, err);
    }
    if (rc == KV_OK)
        kv_buf_set(out, elem.ptr, elem.len);
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&sraw);
    kv_buf_deinit(&draw);
    kv_buf_deinit(&sprefix);
    kv_buf_deinit(&dprefix);
    kv_buf_deinit(&elem);
    kv_buf_deinit(&k);
    return rc;
}
