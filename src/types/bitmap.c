/* SPDX-License-Identifier: Apache-2.0
 *
 * bitmap: see bitmap.h. Every algorithm here but BITOP's works on bytes in Redis bit order; a
 * bitmap segment is bit-reversed byte by byte when it is loaded (load_segment) and when it is
 * stored (put_segment), and a string key's value is used as it is. Segment keys sort as decimal
 * strings ("10240" < "2048"), not by number, so a walk that needs numeric order either probes
 * segments one by one (short ranges) or collects and sorts the indexes of the segments that
 * exist; BITOP needs no order (see its section).
 *
 * Threads: any worker; no state of its own.
 */
#include "types/bitmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/strconv.h"
#include "storage/keys.h"
#include "storage/storage.h"
#include "types/keylock.h"

/* A range of at most this many segments is read by point lookups, in order; a longer one by
 * one scan of the key's segments. Ordered walks probe this many segments before scanning, and a
 * BITOP result this short is computed from point lookups too. */
#define PROBE_SEGMENTS 16

uint8_t
bitmap_reverse_byte(uint8_t b)
{
    b = (uint8_t)((b & 0xF0u) >> 4 | (b & 0x0Fu) << 4);
    b = (uint8_t)((b & 0xCCu) >> 2 | (b & 0x33u) << 2);
    b = (uint8_t)((b & 0xAAu) >> 1 | (b & 0x55u) << 1);
    return b;
}

/* The bits of each of the 8 bytes of w reversed: bitmap_reverse_byte on a whole word. */
static uint64_t
reverse_word_bytes(uint64_t w)
{
    w = (w & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4 | (w & UINT64_C(0x0F0F0F0F0F0F0F0F)) << 4;
    w = (w & UINT64_C(0xCCCCCCCCCCCCCCCC)) >> 2 | (w & UINT64_C(0x3333333333333333)) << 2;
    w = (w & UINT64_C(0xAAAAAAAAAAAAAAAA)) >> 1 | (w & UINT64_C(0x5555555555555555)) << 1;
    return w;
}

/* dst[i] = bitmap_reverse_byte(src[i]) for i < n, a word at a time. */
static void
reverse_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i = 0;
    for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
        uint64_t w;
        memcpy(&w, src + i, sizeof w);
        w = reverse_word_bytes(w);
        memcpy(dst + i, &w, sizeof w);
    }
    for (; i < n; i++)
        dst[i] = bitmap_reverse_byte(src[i]);
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* --- segment keys and values --- */

/* out = the sub-key of segment `idx` of (key, version). */
static void
segment_key(struct db *db, struct kv_slice key, uint64_t version, uint64_t idx, struct kv_buf *out)
{
    char num[STRCONV_INT64_BUF];
    size_t n = strconv_from_uint64(idx * BITMAP_SEGMENT_BYTES, num);
    db_subkey(db, key, version, kv_slice_make(num, n), out);
}

/* The segment index a sub-key suffix names. KV_ERR_CORRUPT unless it is a decimal multiple of
 * the segment size. */
static enum kv_code
segment_index_of(struct kv_slice sub, uint64_t *idx, struct kv_err *err)
{
    uint64_t off;
    if (sub.len == 0 || strconv_to_uint64(sub.ptr, sub.len, &off) != KV_OK ||
        off % BITMAP_SEGMENT_BYTES != 0)
        return kv_err_set(err, KV_ERR_CORRUPT, "bad bitmap segment key");
    *idx = off / BITMAP_SEGMENT_BYTES;
    return KV_OK;
}

/* Copy a stored segment into `dst` (BITMAP_SEGMENT_BYTES bytes) in Redis order, keeping only the
 * bytes below `size` (the key's length) and zeroing the rest. Returns the number of bytes kept. */
static size_t
segment_to_redis(uint64_t idx, struct kv_slice stored, uint64_t size, uint8_t *dst)
{
    uint64_t base = idx * BITMAP_SEGMENT_BYTES;
    size_t n = stored.len < BITMAP_SEGMENT_BYTES ? stored.len : BITMAP_SEGMENT_BYTES;
    if (base >= size)
        n = 0;
    else if (n > size - base)
        n = (size_t)(size - base);
    reverse_bytes(dst, (const uint8_t *)stored.ptr, n);
    memset(dst + n, 0, BITMAP_SEGMENT_BYTES - n);
    return n;
}

/* Point read of segment `idx` into dst (Redis order). KV_OK with *n bytes, or KV_NOTFOUND. */
static enum kv_code
load_segment(struct db *db, struct kv_slice key, uint64_t version, uint64_t size, uint64_t idx,
             uint8_t *dst, size_t *n, struct kv_err *err)
{
    struct kv_buf sk = KV_BUF_INIT, val = KV_BUF_INIT;
    segment_key(db, key, version, idx, &sk);
    enum kv_code rc = storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&sk), &val, err);
    if (rc == KV_OK)
        *n = segment_to_redis(idx, kv_buf_slice(&val), size, dst);
    kv_buf_deinit(&sk);
    kv_buf_deinit(&val);
    return rc;
}

/* Add to `b` segment `idx` holding `n` bytes of `src` (Redis order), stored LSB-first. */
static void
put_segment(struct db *db, struct storage_batch *b, struct kv_slice key, uint64_t version,
            uint64_t idx, const uint8_t *src, size_t n)
{
    uint8_t stored[BITMAP_SEGMENT_BYTES];
    reverse_bytes(stored, src, n);
    struct kv_buf sk = KV_BUF_INIT;
    segment_key(db, key, version, idx, &sk);
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), kv_slice_make(stored, n));
    kv_buf_deinit(&sk);
}

/* An iterator over every sub-key of (key, version). Free with storage_iter_free. */
static struct storage_iter *
segment_iter(struct db *db, struct kv_slice key, uint64_t version)
{
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT;
    db_subkey_prefix(db, key, version, &lower);
    keys_prefix_end(&upper, kv_buf_slice(&lower));
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&lower),
                                               kv_buf_slice(&upper));
    storage_iter_seek_first(it);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
    return it;
}

/* The segment suffix of an iterator key, given the prefix length. */
static struct kv_slice
segment_suffix(const struct storage_iter *it, size_t prefix_len)
{
    struct kv_slice k = storage_iter_key(it);
    if (k.len < prefix_len)
        return kv_slice_make(NULL, 0);
    return kv_slice_make(k.ptr + prefix_len, k.len - prefix_len);
}

static size_t
subkey_prefix_len(struct db *db, struct kv_slice key, uint64_t version)
{
    struct kv_buf p = KV_BUF_INIT;
    db_subkey_prefix(db, key, version, &p);
    size_t n = p.len;
    kv_buf_deinit(&p);
    return n;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The sorted indexes of the existing segments of (key, version) within [lo, hi] into *out
 * (owned by the caller, kv_free), *n of them. */
static enum kv_code
list_segments(struct db *db, struct kv_slice key, uint64_t version, uint64_t lo, uint64_t hi,
              uint64_t **out, size_t *n, struct kv_err *err)
{
    size_t plen = subkey_prefix_len(db, key, version);
    struct storage_iter *it = segment_iter(db, key, version);
    uint64_t *idx = NULL;
    size_t cnt = 0, cap = 0;
    enum kv_code rc = KV_OK;
    for (; storage_iter_valid(it); storage_iter_next(it)) {
        uint64_t s = 0;
        if ((rc = segment_index_of(segment_suffix(it, plen), &s, err)) != KV_OK)
            break;
        if (s < lo || s > hi)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            idx = kv_realloc(idx, cap * sizeof *idx);
        }
        idx[cnt++] = s;
    }
    if (rc == KV_OK)
        rc = storage_iter_status(it, err);
    storage_iter_free(it);
    if (rc != KV_OK) {
        kv_free(idx);
        return rc;
    }
    if (cnt > 1)
        qsort(idx, cnt, sizeof *idx, cmp_u64);
    *out = idx;
    *n = cnt;
    return KV_OK;
}

/* --- views --- */

enum kv_code
bitmap_view_open(struct db *db, struct kv_slice key, struct bitmap_view *v, struct kv_err *err)
{
    memset(v, 0, sizeof *v);
    v->db = *db;
    v->key = key;
    kv_buf_init(&v->raw);
    if (db->snap == NULL) {
        v->snap = storage_snapshot_new(db->st);
        v->db.snap = v->snap;
    }
    enum kv_code rc = db_get_meta(&v->db, key, META_NONE, &v->meta, &v->raw, err);
    if (rc != KV_OK)
        return rc;
    if (v->meta.type == META_STRING)
        v->len = v->meta.payload.len;
    else if (v->meta.type == META_BITMAP)
        v->len = v->meta.size;
    else
        return kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    return KV_OK;
}

void
bitmap_view_close(struct bitmap_view *v)
{
    if (v->snap != NULL)
        storage_snapshot_free(v->db.st, v->snap);
    v->snap = NULL;
    kv_buf_deinit(&v->raw);
}

/* Called for each segment a walk visits: its index, its bytes in Redis order (the segment
 * buffer, BITMAP_SEGMENT_BYTES long, zero beyond n) and the number n of bytes below the view's
 * length. Returns false to stop the walk. */
typedef bool (*segment_fn)(void *arg, uint64_t idx, const uint8_t *bytes, size_t n);

/* Visit the existing segments of the view with indexes in [first, last]; in ascending index
 * order when `ordered`. A string view is cut into segment-sized pieces. */
static enum kv_code
walk_segments(struct bitmap_view *v, uint64_t first, uint64_t last, bool ordered, segment_fn fn,
              void *arg, struct kv_err *err)
{
    uint8_t seg[BITMAP_SEGMENT_BYTES];
    if (v->meta.type == META_STRING) {
        const uint8_t *p = (const uint8_t *)v->meta.payload.ptr;
        for (uint64_t s = first; s <= last; s++) {
            uint64_t base = s * BITMAP_SEGMENT_BYTES;
            if (base >= v->len)
                break;
            size_t n = (size_t)min_u64(BITMAP_SEGMENT_BYTES, v->len - base);
            memcpy(seg, p + base, n);
            memset(seg + n, 0, BITMAP_SEGMENT_BYTES - n);
            if (!fn(arg, s, seg, n))
                break;
        }
        return KV_OK;
    }
    uint64_t version = v->meta.version;
    enum kv_code rc = KV_OK;
    uint64_t scan_from = first;
    if (ordered || last - first < PROBE_SEGMENTS) {
        uint64_t probe_last = last - first < PROBE_SEGMENTS ? last : first + PROBE_SEGMENTS - 1;
        for (uint64_t s = first; s <= probe_last; s++) {
            size_t n = 0;
            rc = load_segment(&v->db, v->key, version, v->len, s, seg, &n, err);
            if (rc == KV_NOTFOUND)
                continue;
            if (rc != KV_OK)
                return rc;
            if (!fn(arg, s, seg, n))
                return KV_OK;
        }
        if (probe_last == last)
            return KV_OK;
        scan_from = probe_last + 1;
    }
    if (ordered) {
        uint64_t *idx = NULL;
        size_t cnt = 0;
        rc = list_segments(&v->db, v->key, version, scan_from, last, &idx, &cnt, err);
        if (rc != KV_OK)
            return rc;
        for (size_t i = 0; i < cnt; i++) {
            size_t n = 0;
            rc = load_segment(&v->db, v->key, version, v->len, idx[i], seg, &n, err);
            if (rc == KV_NOTFOUND) {
                rc = KV_OK;
                continue;
            }
            if (rc != KV_OK || !fn(arg, idx[i], seg, n))
                break;
        }
        kv_free(idx);
        return rc;
    }
    size_t plen = subkey_prefix_len(&v->db, v->key, version);
    struct storage_iter *it = segment_iter(&v->db, v->key, version);
    for (; storage_iter_valid(it); storage_iter_next(it)) {
        uint64_t s = 0;
        if ((rc = segment_index_of(segment_suffix(it, plen), &s, err)) != KV_OK)
            break;
        if (s < scan_from || s > last)
            continue;
        size_t n = segment_to_redis(s, storage_iter_value(it), v->len, seg);
        if (!fn(arg, s, seg, n))
            break;
    }
    if (rc == KV_OK)
        rc = storage_iter_status(it, err);
    storage_iter_free(it);
    return rc;
}

enum kv_code
bitmap_view_getbit(struct bitmap_view *v, uint64_t offset, int *bit, struct kv_err *err)
{
    uint64_t byte = offset / 8;
    *bit = 0;
    if (byte >= v->len)
        return KV_OK;
    uint8_t b;
    if (v->meta.type == META_STRING) {
        b = (uint8_t)v->meta.payload.ptr[byte];
    } else {
        uint8_t seg[BITMAP_SEGMENT_BYTES];
        size_t n = 0;
        enum kv_code rc = load_segment(&v->db, v->key, v->meta.version, v->len,
                                       byte / BITMAP_SEGMENT_BYTES, seg, &n, err);
        if (rc == KV_NOTFOUND)
            return KV_OK;
        if (rc != KV_OK)
            return rc;
        b = seg[byte % BITMAP_SEGMENT_BYTES];
    }
    *bit = (b >> (7 - offset % 8)) & 1;
    return KV_OK;
}

/* The mask of the bits of byte `byte` that lie within bits [first, last] (Redis order: bit 0 of
 * a byte is 0x80). */
static uint8_t
range_mask(uint64_t byte, uint64_t first, uint64_t last)
{
    unsigned mask = 0xFF;
    if (byte == first / 8)
        mask &= 0xFFu >> (first % 8);
    if (byte == last / 8)
        mask &= (0xFFu << (7 - last % 8)) & 0xFFu;
    return (uint8_t)mask;
}

struct count_state {
    uint64_t first, last; /* bits */
    uint64_t count;
};

static bool
count_segment(void *arg, uint64_t idx, const uint8_t *bytes, size_t n)
{
    struct count_state *st = arg;
    uint64_t base = idx * BITMAP_SEGMENT_BYTES;
    if (n == 0)
        return true;
    uint64_t lo = max_u64(st->first / 8, base), hi = min_u64(st->last / 8, base + n - 1);
    uint64_t i = lo;
    while (i <= hi) {
        /* Whole 8-byte words strictly between the range's edge bytes need no mask. */
        if (i > st->first / 8 && i + 8 <= hi + 1 && i + 8 <= st->last / 8) {
            uint64_t w;
            memcpy(&w, bytes + (i - base), 8);
            st->count += (uint64_t)__builtin_popcountll(w);
            i += 8;
            continue;
        }
        uint8_t b = bytes[i - base] & range_mask(i, st->first, st->last);
        st->count += (uint64_t)__builtin_popcount(b);
        i++;
    }
    return true;
}

enum kv_code
bitmap_view_count(struct bitmap_view *v, uint64_t first, uint64_t last, uint64_t *count,
                  struct kv_err *err)
{
    struct count_state st = {first, last, 0};
    enum kv_code rc = walk_segments(v, first / BITMAP_SEGMENT_BITS, last / BITMAP_SEGMENT_BITS,
                                    false, count_segment, &st, err);
    if (rc == KV_OK)
        *count = st.count;
    return rc;
}

struct find_state {
    int bit;
    uint64_t first, last; /* bits */
    uint64_t expect;      /* the next segment index the ordered walk should see */
    int64_t pos;          /* -1 until found */
};

static bool
find_segment(void *arg, uint64_t idx, const uint8_t *bytes, size_t n)
{
    struct find_state *st = arg;
    if (st->bit == 0 && idx > st->expect) {
        /* A missing segment inside the range: all zeros. */
        st->pos = (int64_t)max_u64(st->first, st->expect * BITMAP_SEGMENT_BITS);
        return false;
    }
    st->expect = idx + 1;
    uint64_t base = idx * BITMAP_SEGMENT_BYTES;
    uint64_t lo = max_u64(st->first / 8, base);
    uint64_t hi = min_u64(st->last / 8, base + BITMAP_SEGMENT_BYTES - 1);
    for (uint64_t i = lo; i <= hi; i++) {
        uint8_t b = i - base < n ? bytes[i - base] : 0;
        if (st->bit == 0)
            b = (uint8_t)~b;
        b &= range_mask(i, st->first, st->last);
        if (b != 0) {
            st->pos = (int64_t)(i * 8 + (uint64_t)(__builtin_clz(b) - 24));
            return false;
        }
    }
    return true;
}

enum kv_code
bitmap_view_find(struct bitmap_view *v, int bit, uint64_t first, uint64_t last, int64_t *pos,
                 struct kv_err *err)
{
    uint64_t first_seg = first / BITMAP_SEGMENT_BITS, last_seg = last / BITMAP_SEGMENT_BITS;
    struct find_state st = {bit, first, last, first_seg, -1};
    enum kv_code rc = walk_segments(v, first_seg, last_seg, true, find_segment, &st, err);
    if (rc != KV_OK)
        return rc;
    if (st.pos < 0 && bit == 0 && st.expect <= last_seg)
        st.pos = (int64_t)max_u64(first, st.expect * BITMAP_SEGMENT_BITS);
    *pos = st.pos;
    return KV_OK;
}

struct read_state {
    uint64_t off, n;
    uint8_t *dst;
};

static bool
read_segment(void *arg, uint64_t idx, const uint8_t *bytes, size_t n)
{
    struct read_state *st = arg;
    uint64_t base = idx * BITMAP_SEGMENT_BYTES;
    uint64_t lo = max_u64(st->off, base), hi = min_u64(st->off + st->n, base + n);
    if (lo < hi)
        memcpy(st->dst + (lo - st->off), bytes + (lo - base), (size_t)(hi - lo));
    return true;
}

enum kv_code
bitmap_view_read(struct bitmap_view *v, uint64_t off, uint64_t n, struct kv_buf *out,
                 struct kv_err *err)
{
    kv_buf_clear(out);
    if (n == 0)
        return KV_OK;
    if (n > SIZE_MAX / 2)
        return kv_err_set(err, KV_ERR_NOMEM, "%s", "");
    char *mem = kv_try_malloc((size_t)n + 1);
    if (mem == NULL)
        return kv_err_set(err, KV_ERR_NOMEM, "%s", "");
    kv_buf_deinit(out);
    out->ptr = mem;
    out->cap = (size_t)n;
    out->len = (size_t)n;
    memset(mem, 0, (size_t)n + 1);
    if (off >= v->len)
        return KV_OK;
    uint64_t end = min_u64(off + n, v->len);
    struct read_state st = {off, end - off, (uint8_t *)mem};
    return walk_segments(v, off / BITMAP_SEGMENT_BYTES, (end - 1) / BITMAP_SEGMENT_BYTES, false,
                         read_segment, &st, err);
}

/* --- writes: a cache of the segments one command touches --- */

struct seg_entry {
    uint64_t idx;
    uint8_t data[BITMAP_SEGMENT_BYTES]; /* Redis order; zero beyond len */
    size_t len;                         /* bytes to store */
    bool dirty;
};

struct seg_cache {
    struct db *db;
    struct kv_slice key;
    uint64_t version;
    uint64_t old_size; /* the key's size before this command; 0 for a new key */
    bool fresh;        /* a new key: nothing to load */
    struct seg_entry **e;
    size_t n, cap;
};

static void
seg_cache_init(struct seg_cache *c, struct db *db, struct kv_slice key, const struct meta *m,
               bool fresh)
{
    memset(c, 0, sizeof *c);
    c->db = db;
    c->key = key;
    c->version = m->version;
    c->old_size = fresh ? 0 : m->size;
    c->fresh = fresh;
}

static void
seg_cache_deinit(struct seg_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        kv_free(c->e[i]);
    kv_free(c->e);
    c->e = NULL;
    c->n = c->cap = 0;
}

/* The cached segment `idx`, loaded on first use (bytes at or beyond the old size zeroed). */
static enum kv_code
seg_cache_get(struct seg_cache *c, uint64_t idx, struct seg_entry **out, struct kv_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i]->idx == idx) {
            *out = c->e[i];
            return KV_OK;
        }
    }
    struct seg_entry *e = kv_calloc(1, sizeof *e);
    e->idx = idx;
    if (!c->fresh) {
        enum kv_code rc =
            load_segment(c->db, c->key, c->version, c->old_size, idx, e->data, &e->len, err);
        if (rc != KV_OK && rc != KV_NOTFOUND) {
            kv_free(e);
            return rc;
        }
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->e = kv_realloc(c->e, c->cap * sizeof *c->e);
    }
    c->e[c->n++] = e;
    *out = e;
    return KV_OK;
}

/* Add every changed segment to `b`. */
static void
seg_cache_flush(struct seg_cache *c, struct storage_batch *b)
{
    for (size_t i = 0; i < c->n; i++) {
        struct seg_entry *e = c->e[i];
        if (e->dirty)
            put_segment(c->db, b, c->key, c->version, e->idx, e->data, e->len);
    }
}

/* Read n bytes at byte offset `off` through the cache. */
static enum kv_code
seg_cache_read(struct seg_cache *c, uint64_t off, size_t n, uint8_t *dst, struct kv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct seg_entry *e;
        uint64_t pos = off + i;
        enum kv_code rc = seg_cache_get(c, pos / BITMAP_SEGMENT_BYTES, &e, err);
        if (rc != KV_OK)
            return rc;
        dst[i] = e->data[pos % BITMAP_SEGMENT_BYTES];
    }
    return KV_OK;
}

/* Write n bytes at byte offset `off` through the cache, marking segments dirty. */
static enum kv_code
seg_cache_write(struct seg_cache *c, uint64_t off, size_t n, const uint8_t *src, struct kv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct seg_entry *e;
        uint64_t pos = off + i;
        enum kv_code rc = seg_cache_get(c, pos / BITMAP_SEGMENT_BYTES, &e, err);
        if (rc != KV_OK)
            return rc;
        size_t at = (size_t)(pos % BITMAP_SEGMENT_BYTES);
        e->data[at] = src[i];
        if (e->len < at + 1)
            e->len = at + 1;
        e->dirty = true;
    }
    return KV_OK;
}

/* Read the key for a bit write: *m is a live string or bitmap record (payload borrowed from raw),
 * or a fresh bitmap record with *fresh set. KV_ERR_WRONGTYPE for other types. */
static enum kv_code
read_for_write(struct db *db, struct kv_slice key, struct meta *m, struct kv_buf *raw, bool *fresh,
               struct kv_err *err)
{
    enum kv_code rc = db_get_meta(db, key, META_NONE, m, raw, err);
    *fresh = false;
    if (rc == KV_NOTFOUND) {
        meta_init(m, META_BITMAP);
        *fresh = true;
        return KV_OK;
    }
    if (rc != KV_OK)
        return rc;
    if (m->type != META_STRING && m->type != META_BITMAP)
        return kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    return KV_OK;
}

/* Add a LogData descriptor "6 <args>" to b. */
static void
log_bitmap_op(struct storage_batch *b, const struct kv_buf *args)
{
    struct kv_buf blob = KV_BUF_INIT;
    kv_buf_printf(&blob, "%d ", (int)META_BITMAP);
    kv_buf_append_slice(&blob, kv_buf_slice(args));
    storage_batch_log_data(b, kv_buf_slice(&blob));
    kv_buf_deinit(&blob);
}

enum kv_code
bitmap_setbit(struct db *db, struct kv_slice key, uint64_t offset, int value, int *old,
              struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, val = KV_BUF_INIT, args = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct seg_cache cache;
    bool fresh = false;
    struct meta m;
    uint64_t byte = offset / 8;
    uint8_t mask = (uint8_t)(0x80u >> (offset % 8));
    memset(&cache, 0, sizeof cache);
    enum kv_code rc = read_for_write(db, key, &m, &raw, &fresh, err);
    if (rc != KV_OK)
        goto out;
    b = storage_batch_new(db->st);
    if (m.type == META_STRING) {
        kv_buf_set(&val, m.payload.ptr, m.payload.len);
        if (val.len < byte + 1)
            kv_buf_resize(&val, (size_t)byte + 1);
        uint8_t *p = (uint8_t *)val.ptr + byte;
        *old = (*p & mask) != 0;
        *p = value ? (uint8_t)(*p | mask) : (uint8_t)(*p & ~mask);
        m.payload = kv_buf_slice(&val);
        db_batch_put_meta(db, b, key, &m);
    } else {
        seg_cache_init(&cache, db, key, &m, fresh);
        uint8_t cur;
        if ((rc = seg_cache_read(&cache, byte, 1, &cur, err)) != KV_OK)
            goto out;
        *old = (cur & mask) != 0;
        cur = value ? (uint8_t)(cur | mask) : (uint8_t)(cur & ~mask);
        if ((rc = seg_cache_write(&cache, byte, 1, &cur, err)) != KV_OK)
            goto out;
        kv_buf_printf(&args, "9 %llu", (unsigned long long)offset);
        log_bitmap_op(b, &args);
        seg_cache_flush(&cache, b);
        if (fresh || m.size < byte + 1) {
            m.size = max_u64(m.size, byte + 1);
            db_batch_put_meta(db, b, key, &m);
        }
    }
    rc = db_write(db, b, &key, 1, err);
out:
    keylock_unlock(&g);
    seg_cache_deinit(&cache);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&val);
    kv_buf_deinit(&args);
    return rc;
}

/* --- BITOP --- */

/* BITOP computes in stored (LSB-first) bit order: AND, OR, XOR and NOT act on each bit alone, so
 * they commute with the bit reversal, and a bitmap source's segments go from RocksDB into the
 * result unconverted; only string sources are reversed. The result is Redis's string cut into
 * segments, the all-zero ones left out.
 *
 * Each bitmap source is read by one iterator over its segments. Iterators yield segments in key
 * order (decimal strings, "10240" < "2048"), the same order for every source, so they advance
 * together, merged on the segment key (bitop_merge): every segment some bitmap source stores is
 * computed once with all its inputs at hand, and a segment no source stores costs no read. A
 * second pass (bitop_fill) computes the segments the merge did not reach that can still be
 * nonzero: all of them for NOT, and those a string source covers, bitmap sources reading as zeros
 * there. So the batch holds the segments in that order rather than by number, which RocksDB does
 * not mind. A result of at most PROBE_SEGMENTS segments is computed in order from point reads
 * instead (bitop_probe), which cost less than creating the iterators. */

#define SEGMENT_WORDS (BITMAP_SEGMENT_BYTES / sizeof(uint64_t))

static const uint8_t zero_segment[BITMAP_SEGMENT_BYTES];

/* One BITOP source as read under the lock. */
struct bitop_src {
    enum meta_type type;     /* META_NONE (absent), META_STRING or META_BITMAP */
    struct kv_buf raw;       /* the metadata record (strings: the value lives here) */
    struct kv_slice value;   /* strings: the bytes, in Redis order */
    uint64_t version;        /* bitmaps */
    uint64_t len;            /* bytes */
    struct storage_iter *it; /* owned: a bitmap's segments, during the merge; else NULL */
    size_t prefix_len;       /* of its keys: the sub-key prefix before the segment number */
    bool here;               /* the merge's current segment is under it */
};

/* One BITOP's computation: the result's segments go into `b`. */
struct bitop_run {
    enum bitmap_op op;
    struct bitop_src *srcs;
    size_t n;
    uint64_t len;  /* the result's length in bytes */
    uint64_t nseg; /* its segments */
    /* Per source: its bytes of the current segment, stored order, a whole segment zero-padded
     * (borrowed from zero_segment, an iterator's value or copies[i]), and room for a copy. */
    const uint8_t **in;
    uint8_t (*copies)[BITMAP_SEGMENT_BYTES];
    uint64_t *done; /* a bit per segment: computed by the merge */
    struct storage_batch *b;
    struct kv_buf key; /* dest's sub-key prefix (prefix_len bytes), then a segment number */
    size_t prefix_len;
};

/* Point r->in[i] at source i's bytes of segment idx. `stored` is the bitmap segment under its
 * iterator, or NULL (none there, or not a bitmap). Returns whether the source has any bytes
 * there (bytes at or beyond its length do not count). */
static bool
bitop_input(struct bitop_run *r, size_t i, uint64_t idx, const struct kv_slice *stored)
{
    const struct bitop_src *s = &r->srcs[i];
    uint64_t base = idx * BITMAP_SEGMENT_BYTES;
    size_t n = base < s->len ? (size_t)min_u64(BITMAP_SEGMENT_BYTES, s->len - base) : 0;
    const uint8_t *src = NULL;
    if (s->type == META_STRING && n > 0) {
        reverse_bytes(r->copies[i], (const uint8_t *)s->value.ptr + base, n);
        src = r->copies[i];
    } else if (stored != NULL && n > 0) {
        n = (size_t)min_u64(n, stored->len);
        src = (const uint8_t *)stored->ptr;
        if (n < BITMAP_SEGMENT_BYTES)
            memcpy(r->copies[i], src, n);
    }
    if (src == NULL || n == 0) {
        r->in[i] = zero_segment;
        return false;
    }
    if (n < BITMAP_SEGMENT_BYTES) {
        memset(r->copies[i] + n, 0, BITMAP_SEGMENT_BYTES - n);
        src = r->copies[i];
    }
    r->in[i] = src;
    return true;
}

/* out = op(in[0..n)) over a whole segment, a word at a time. */
static void
bitop_words(enum bitmap_op op, const uint8_t *const *in, size_t n, uint64_t *out)
{
    memcpy(out, in[0], BITMAP_SEGMENT_BYTES);
    if (op == BITMAP_OP_NOT) {
        for (size_t w = 0; w < SEGMENT_WORDS; w++)
            out[w] = ~out[w];
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x[SEGMENT_WORDS];
        memcpy(x, in[i], sizeof x);
        switch (op) {
        case BITMAP_OP_AND:
            for (size_t w = 0; w < SEGMENT_WORDS; w++)
                out[w] &= x[w];
            break;
        case BITMAP_OP_OR:
            for (size_t w = 0; w < SEGMENT_WORDS; w++)
                out[w] |= x[w];
            break;
        case BITMAP_OP_XOR:
            for (size_t w = 0; w < SEGMENT_WORDS; w++)
                out[w] ^= x[w];
            break;
        case BITMAP_OP_NOT: /* one source, inverted above */
            break;
        }
    }
}

/* Compute segment idx (< r->nseg) of the result from r->in, `has` sources having bytes there,
 * and add it to the batch unless it is all zeros. */
static void
bitop_segment(struct bitop_run *r, uint64_t idx, size_t has)
{
    if (r->op == BITMAP_OP_AND ? has < r->n : r->op != BITMAP_OP_NOT && has == 0)
        return; /* zeros: an AND with a missing input, or nothing to OR/XOR */
    uint64_t out[SEGMENT_WORDS];
    bitop_words(r->op, r->in, r->n, out);
    size_t len = (size_t)min_u64(BITMAP_SEGMENT_BYTES, r->len - idx * BITMAP_SEGMENT_BYTES);
    memset((uint8_t *)out + len, 0, BITMAP_SEGMENT_BYTES - len); /* past the end: NOT set them */
    uint64_t any = 0;
    for (size_t w = 0; w < SEGMENT_WORDS; w++)
        any |= out[w];
    if (any == 0)
        return;
    char num[STRCONV_INT64_BUF];
    size_t numlen = strconv_from_uint64(idx * BITMAP_SEGMENT_BYTES, num);
    kv_buf_resize(&r->key, r->prefix_len);
    kv_buf_append(&r->key, num, numlen);
    storage_batch_put(r->b, KV_CF_SUBKEY, kv_buf_slice(&r->key), kv_slice_make(out, len));
}

/* Every segment some bitmap source stores, each once, the sources' iterators advancing
 * together in key order. */
static enum kv_code
bitop_merge(struct bitop_run *r, struct kv_err *err)
{
    for (;;) {
        struct kv_slice first = kv_slice_make(NULL, 0);
        bool any = false;
        for (size_t i = 0; i < r->n; i++) {
            const struct bitop_src *s = &r->srcs[i];
            if (s->it == NULL || !storage_iter_valid(s->it))
                continue;
            struct kv_slice sub = segment_suffix(s->it, s->prefix_len);
            if (!any || kv_slice_cmp(sub, first) < 0)
                first = sub;
            any = true;
        }
        if (!any)
            break;
        uint64_t idx = 0;
        enum kv_code rc = segment_index_of(first, &idx, err);
        if (rc != KV_OK)
            return rc;
        size_t has = 0;
        for (size_t i = 0; i < r->n; i++) {
            struct bitop_src *s = &r->srcs[i];
            s->here = s->it != NULL && storage_iter_valid(s->it) &&
                      kv_slice_eq(segment_suffix(s->it, s->prefix_len), first);
            struct kv_slice stored = s->here ? storage_iter_value(s->it) : kv_slice_make(NULL, 0);
            has += bitop_input(r, i, idx, s->here ? &stored : NULL);
        }
        /* A segment beyond every source's length (a bitmap keeps none) reads as zeros. */
        if (idx < r->nseg) {
            bitop_segment(r, idx, has);
            r->done[idx / 64] |= UINT64_C(1) << (idx % 64);
        }
        for (size_t i = 0; i < r->n; i++) {
            if (r->srcs[i].here)
                storage_iter_next(r->srcs[i].it);
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->srcs[i].it != NULL) {
            enum kv_code rc = storage_iter_status(r->srcs[i].it, err);
            if (rc != KV_OK)
                return rc;
        }
    }
    return KV_OK;
}

/* The segments below `end` that the merge did not reach, where bitmap sources read as zeros. */
static void
bitop_fill(struct bitop_run *r, uint64_t end)
{
    for (uint64_t idx = 0; idx < end; idx++) {
        if (r->done[idx / 64] & UINT64_C(1) << (idx % 64))
            continue;
        size_t has = 0;
        for (size_t i = 0; i < r->n; i++)
            has += bitop_input(r, i, idx, NULL);
        bitop_segment(r, idx, has);
    }
}

/* A short result, segment by segment, each bitmap source's segment by a point read: for a few
 * segments cheaper than an iterator per source. */
static enum kv_code
bitop_probe(struct bitop_run *r, struct db *db, const struct kv_slice *keys, struct kv_err *err)
{
    struct kv_buf sk = KV_BUF_INIT;
    struct kv_buf *vals = kv_calloc(r->n, sizeof *vals); /* r->in may point into them */
    enum kv_code rc = KV_OK;
    for (uint64_t idx = 0; idx < r->nseg && rc == KV_OK; idx++) {
        size_t has = 0;
        for (size_t i = 0; i < r->n && rc == KV_OK; i++) {
            const struct bitop_src *s = &r->srcs[i];
            struct kv_slice stored = kv_slice_make(NULL, 0);
            bool found = false;
            if (s->type == META_BITMAP && idx * BITMAP_SEGMENT_BYTES < s->len) {
                segment_key(db, keys[i], s->version, idx, &sk);
                rc = storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&sk), &vals[i], err);
                found = rc == KV_OK;
                if (rc == KV_NOTFOUND)
                    rc = KV_OK;
                stored = kv_buf_slice(&vals[i]);
            }
            has += bitop_input(r, i, idx, found ? &stored : NULL);
        }
        if (rc == KV_OK)
            bitop_segment(r, idx, has);
    }
    for (size_t i = 0; i < r->n; i++)
        kv_buf_deinit(&vals[i]);
    kv_free(vals);
    kv_buf_deinit(&sk);
    return rc;
}

/* Where bitop_fill stops: past it the merge computes every segment that can be nonzero. */
static uint64_t
bitop_fill_end(enum bitmap_op op, const struct bitop_src *srcs, size_t n, uint64_t nseg)
{
    if (op == BITMAP_OP_NOT)
        return nseg;
    /* Sources all present and not empty for AND (else it computes nothing): with a bitmap
     * among them, a segment the merge does not reach has a zero input. */
    uint64_t end = op == BITMAP_OP_AND ? nseg : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t covered = (srcs[i].len + BITMAP_SEGMENT_BYTES - 1) / BITMAP_SEGMENT_BYTES;
        if (op == BITMAP_OP_AND)
            end = srcs[i].type == META_STRING ? min_u64(end, covered) : 0;
        else if (srcs[i].type == META_STRING)
            end = max_u64(end, covered);
    }
    return end;
}

/* Add to `b` the nonzero segments of op(srcs), a result of `len` (> 0) bytes stored as dest's
 * segments of `version`; fill_end from bitop_fill_end. */
static enum kv_code
bitop_compute(struct db *db, enum bitmap_op op, struct kv_slice dest, uint64_t version,
              const struct kv_slice *keys, struct bitop_src *srcs, size_t n, uint64_t len,
              uint64_t fill_end, struct storage_batch *b, struct kv_err *err)
{
    struct bitop_run r = {
        .op = op,
        .srcs = srcs,
        .n = n,
        .len = len,
        .nseg = (len - 1) / BITMAP_SEGMENT_BYTES + 1,
        .b = b,
    };
    r.in = kv_malloc(n * sizeof *r.in);
    r.copies = kv_malloc(n * sizeof *r.copies);
    r.done = kv_calloc((size_t)(r.nseg + 63) / 64, sizeof *r.done);
    db_subkey_prefix(db, dest, version, &r.key);
    r.prefix_len = r.key.len;
    enum kv_code rc = KV_OK;
    if (r.nseg <= PROBE_SEGMENTS) {
        rc = bitop_probe(&r, db, keys, err);
    } else {
        for (size_t i = 0; i < n; i++) {
            struct bitop_src *s = &srcs[i];
            if (s->type == META_BITMAP && s->len > 0) {
                s->it = segment_iter(db, keys[i], s->version);
                s->prefix_len = subkey_prefix_len(db, keys[i], s->version);
            }
        }
        rc = bitop_merge(&r, err);
        if (rc == KV_OK)
            bitop_fill(&r, fill_end);
    }
    for (size_t i = 0; i < n; i++) {
        storage_iter_free(srcs[i].it);
        srcs[i].it = NULL;
    }
    kv_free(r.in);
    kv_free(r.copies);
    kv_free(r.done);
    kv_buf_deinit(&r.key);
    return rc;
}

static const char *
bitop_name(enum bitmap_op op)
{
    switch (op) {
    case BITMAP_OP_AND:
        return "AND";
    case BITMAP_OP_OR:
        return "OR";
    case BITMAP_OP_XOR:
        return "XOR";
    case BITMAP_OP_NOT:
        return "NOT";
    }
    return "?";
}

enum kv_code
bitmap_bitop(struct db *db, enum bitmap_op op, struct kv_slice dest, const struct kv_slice *srcs,
             size_t n, uint64_t *len, struct kv_err *err)
{
    struct kv_slice *keys = kv_malloc((n + 1) * sizeof *keys);
    keys[0] = dest;
    if (n > 0)
        memcpy(keys + 1, srcs, n * sizeof *keys);
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, n + 1, &g);
    struct bitop_src *s = kv_calloc(n ? n : 1, sizeof *s);
    struct storage_batch *b = NULL;
    struct kv_buf args = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    uint64_t maxlen = 0;
    bool any_absent = false;
    for (size_t i = 0; i < n; i++) {
        struct meta m;
        rc = db_get_meta(db, srcs[i], META_NONE, &m, &s[i].raw, err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            any_absent = true;
            continue;
        }
        if (rc != KV_OK)
            goto out;
        if (m.type == META_STRING) {
            s[i].value = m.payload;
            s[i].len = m.payload.len;
        } else if (m.type == META_BITMAP) {
            s[i].version = m.version;
            s[i].len = m.size;
        } else {
            rc = kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
            goto out;
        }
        s[i].type = m.type;
        if (s[i].len == 0)
            any_absent = true;
        maxlen = max_u64(maxlen, s[i].len);
    }
    if (maxlen == 0) {
        b = storage_batch_new(db->st);
        struct kv_buf raw = KV_BUF_INIT;
        struct meta m;
        rc = db_get_meta(db, dest, META_NONE, &m, &raw, err);
        kv_buf_deinit(&raw);
        if (rc == KV_OK) {
            db_batch_delete_key(db, b, dest);
            rc = db_write(db, b, &dest, 1, err);
        } else if (rc == KV_NOTFOUND) {
            rc = KV_OK;
        }
        if (rc == KV_OK)
            *len = 0;
        goto out;
    }
    struct meta dm;
    meta_init(&dm, META_BITMAP);
    dm.size = maxlen;
    /* An AND with an empty input is all zeros: no segment to store. */
    bool compute = !(op == BITMAP_OP_AND && any_absent);
    uint64_t fill_end = 0;
    if (compute)
        fill_end = bitop_fill_end(op, s, n, (maxlen - 1) / BITMAP_SEGMENT_BYTES + 1);
    kv_buf_printf(&args, "10 %s", bitop_name(op));
    for (size_t i = 0; i < n; i++) {
        kv_buf_append_byte(&args, ' ');
        kv_buf_append_slice(&args, srcs[i]);
    }
    /* Room for the segments bitop_fill computes (NOT of a sparse bitmap: nearly all of them; too
     * much only where NOT meets segments of all ones), a segment's record being its value, the
     * sub-key prefix and up to 16 bytes more (its number, the lengths, the tag), then for the
     * descriptor and the metadata; not for the segments the merge finds. */
    size_t room = (size_t)fill_end * (BITMAP_SEGMENT_BYTES + subkey_prefix_len(db, dest, 0) + 16) +
                  args.len + dest.len + 256;
    b = storage_batch_new_sized(db->st, room);
    log_bitmap_op(b, &args);
    if (compute) {
        rc = bitop_compute(db, op, dest, dm.version, srcs, s, n, maxlen, fill_end, b, err);
        if (rc != KV_OK)
            goto out;
    }
    db_batch_put_meta(db, b, dest, &dm);
    rc = db_write(db, b, &dest, 1, err);
    if (rc == KV_OK)
        *len = maxlen;
out:
    keylock_unlock(&g);
    for (size_t i = 0; i < n; i++)
        kv_buf_deinit(&s[i].raw);
    kv_free(s);
    kv_free(keys);
    kv_buf_deinit(&args);
    storage_batch_free(b);
    return rc;
}

/* --- BITFIELD --- */

/* The low `bits` bits set. */
static uint64_t
low_mask(unsigned bits)
{
    return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* Raw bits of a signed field as an int64 (sign-extended). */
static int64_t
sign_extend(uint64_t raw, unsigned bits)
{
    if (bits < 64 && (raw & (UINT64_C(1) << (bits - 1))) != 0)
        raw |= ~low_mask(bits);
    return (int64_t)raw;
}

bool
bitmap_field_apply(const struct bitmap_field_op *op, uint64_t old_raw, uint64_t *new_raw,
                   int64_t *reply)
{
    unsigned bits = op->bits;
    uint64_t mask = low_mask(bits);
    /* over: +1 the result is above the maximum, -1 below the minimum, 0 fits. */
    int over = 0;
    uint64_t wrapped;
    if (op->is_signed) {
        int64_t max = bits == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
        int64_t min = -max - 1;
        int64_t oldv = sign_extend(old_raw & mask, bits);
        /* Redis's checkSignedBitfieldOverflow, including its wrapping of max - value and
         * min - value: SET checks (value, incr 0), INCRBY (old value, increment). So a SET far
         * below the minimum of a narrow type saturates to the maximum, as in Redis. */
        int64_t value = op->kind == BITMAP_FIELD_SET ? op->value : oldv;
        int64_t incr = op->kind == BITMAP_FIELD_SET ? 0 : op->value;
        int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
        int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
        if (value > max || (bits != 64 && incr > maxincr) ||
            (value >= 0 && incr > 0 && incr > maxincr))
            over = 1;
        else if (value < min || (bits != 64 && incr < minincr) ||
                 (value < 0 && incr < 0 && incr < minincr))
            over = -1;
        wrapped = ((uint64_t)value + (uint64_t)incr) & mask;
        if (over != 0 && op->overflow == BITMAP_OVERFLOW_FAIL)
            return false;
        if (over > 0 && op->overflow == BITMAP_OVERFLOW_SAT)
            wrapped = (uint64_t)max & mask;
        else if (over < 0 && op->overflow == BITMAP_OVERFLOW_SAT)
            wrapped = (uint64_t)min & mask;
        *new_raw = wrapped;
        *reply = op->kind == BITMAP_FIELD_SET ? oldv : sign_extend(wrapped, bits);
        return true;
    }
    uint64_t max = mask;
    uint64_t oldv = old_raw & mask;
    if (op->kind == BITMAP_FIELD_SET) {
        uint64_t v = (uint64_t)op->value;
        over = v > max ? 1 : 0;
        wrapped = v & mask;
    } else {
        int64_t incr = op->value;
        if (incr > 0 && (uint64_t)incr > max - oldv)
            over = 1;
        else if (incr < 0 && (uint64_t)(-(incr + 1)) + 1 > oldv)
            over = -1;
        wrapped = (oldv + (uint64_t)incr) & mask;
    }
    if (over != 0 && op->overflow == BITMAP_OVERFLOW_FAIL)
        return false;
    if (over > 0 && op->overflow == BITMAP_OVERFLOW_SAT)
        wrapped = max;
    else if (over < 0 && op->overflow == BITMAP_OVERFLOW_SAT)
        wrapped = 0;
    *new_raw = wrapped;
    *reply = (int64_t)(op->kind == BITMAP_FIELD_SET ? oldv : wrapped);
    return true;
}

/* The bytes a field covers: first byte and count (at most 9). */
static void
field_span(const struct bitmap_field_op *op, uint64_t *first, size_t *n)
{
    *first = op->offset / 8;
    *n = (size_t)((op->offset + op->bits - 1) / 8 - *first + 1);
}

/* The field's raw bits from its bytes (Redis order, most significant bit first). */
static uint64_t
field_get(const uint8_t *bytes, const struct bitmap_field_op *op)
{
    uint64_t v = 0;
    unsigned start = (unsigned)(op->offset % 8);
    for (unsigned j = 0; j < op->bits; j++) {
        unsigned p = start + j;
        v = (v << 1) | ((bytes[p / 8] >> (7 - p % 8)) & 1u);
    }
    return v;
}

static void
field_set(uint8_t *bytes, const struct bitmap_field_op *op, uint64_t raw)
{
    unsigned start = (unsigned)(op->offset % 8);
    for (unsigned j = 0; j < op->bits; j++) {
        unsigned p = start + j;
        uint8_t m = (uint8_t)(0x80u >> (p % 8));
        if ((raw >> (op->bits - 1 - j)) & 1u)
            bytes[p / 8] |= m;
        else
            bytes[p / 8] &= (uint8_t)~m;
    }
}

/* BITFIELD with GET operations only. */
static enum kv_code
bitfield_read(struct db *db, struct kv_slice key, const struct bitmap_field_op *ops, size_t n,
              struct bitmap_field_result *results, struct kv_err *err)
{
    struct bitmap_view v;
    struct kv_buf bytes = KV_BUF_INIT;
    enum kv_code rc = bitmap_view_open(db, key, &v, err);
    bool absent = rc == KV_NOTFOUND;
    if (absent)
        rc = KV_OK;
    for (size_t i = 0; rc == KV_OK && i < n; i++) {
        uint64_t first;
        size_t nb;
        field_span(&ops[i], &first, &nb);
        uint8_t buf[9] = {0};
        if (!absent) {
            if ((rc = bitmap_view_read(&v, first, nb, &bytes, err)) != KV_OK)
                break;
            memcpy(buf, bytes.ptr, nb);
        }
        uint64_t raw = field_get(buf, &ops[i]);
        results[i].is_nil = false;
        results[i].value =
            ops[i].is_signed ? sign_extend(raw, ops[i].bits) : (int64_t)(raw & low_mask(63));
    }
    bitmap_view_close(&v);
    kv_buf_deinit(&bytes);
    return rc;
}

/* The BITFIELD log descriptor of the write operations: "11 [OVERFLOW how] SET type off v ...". */
static void
bitfield_log_args(const struct bitmap_field_op *ops, size_t n, struct kv_buf *args)
{
    static const char *const how[] = {"WRAP", "SAT", "FAIL"};
    enum bitmap_overflow cur = BITMAP_OVERFLOW_WRAP;
    kv_buf_printf(args, "11");
    for (size_t i = 0; i < n; i++) {
        const struct bitmap_field_op *op = &ops[i];
        if (op->kind == BITMAP_FIELD_GET)
            continue;
        if (op->overflow != cur) {
            cur = op->overflow;
            kv_buf_printf(args, " OVERFLOW %s", how[cur]);
        }
        kv_buf_printf(args, " %s %c%u %llu %lld", op->kind == BITMAP_FIELD_SET ? "SET" : "INCRBY",
                      op->is_signed ? 'i' : 'u', op->bits, (unsigned long long)op->offset,
                      (long long)op->value);
    }
}

enum kv_code
bitmap_bitfield(struct db *db, struct kv_slice key, const struct bitmap_field_op *ops, size_t n,
                struct bitmap_field_result *results, struct kv_err *err)
{
    bool writes = false;
    uint64_t highest = 0; /* highest bit written, when writes */
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != BITMAP_FIELD_GET) {
            writes = true;
            highest = max_u64(highest, ops[i].offset + ops[i].bits - 1);
        }
    }
    if (!writes)
        return bitfield_read(db, key, ops, n, results, err);

    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT, val = KV_BUF_INIT, args = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct seg_cache cache;
    memset(&cache, 0, sizeof cache);
    bool fresh = false, changed = false;
    struct meta m;
    uint64_t need = highest / 8 + 1; /* bytes the key must have */
    enum kv_code rc = read_for_write(db, key, &m, &raw, &fresh, err);
    if (rc != KV_OK)
        goto out;
    bool is_string = m.type == META_STRING;
    if (is_string) {
        kv_buf_set(&val, m.payload.ptr, m.payload.len);
        if (val.len < need) {
            kv_buf_resize(&val, (size_t)need);
            changed = true;
        }
    } else {
        seg_cache_init(&cache, db, key, &m, fresh);
        if (fresh || m.size < need)
            changed = true;
    }
    for (size_t i = 0; i < n; i++) {
        const struct bitmap_field_op *op = &ops[i];
        uint64_t first;
        size_t nb;
        field_span(op, &first, &nb);
        uint8_t buf[9] = {0};
        if (is_string) {
            for (size_t j = 0; j < nb; j++)
                buf[j] = first + j < val.len ? (uint8_t)val.ptr[first + j] : 0;
        } else if ((rc = seg_cache_read(&cache, first, nb, buf, err)) != KV_OK) {
            goto out;
        }
        uint64_t old_raw = field_get(buf, op);
        results[i].is_nil = false;
        if (op->kind == BITMAP_FIELD_GET) {
            results[i].value =
                op->is_signed ? sign_extend(old_raw, op->bits) : (int64_t)(old_raw & low_mask(63));
            continue;
        }
        uint64_t new_raw;
        if (!bitmap_field_apply(op, old_raw, &new_raw, &results[i].value)) {
            results[i].is_nil = true;
            continue;
        }
        field_set(buf, op, new_raw);
        changed = true;
        if (is_string)
            memcpy(val.ptr + first, buf, nb);
        else if ((rc = seg_cache_write(&cache, first, nb, buf, err)) != KV_OK)
            goto out;
    }
    if (!changed)
        goto out;
    b = storage_batch_new(db->st);
    if (is_string) {
        m.payload = kv_buf_slice(&val);
        db_batch_put_meta(db, b, key, &m);
    } else {
        bitfield_log_args(ops, n, &args);
        log_bitmap_op(b, &args);
        seg_cache_flush(&cache, b);
        if (fresh || m.size < need) {
            m.size = max_u64(m.size, need);
            db_batch_put_meta(db, b, key, &m);
        }
    }
    rc = db_write(db, b, &key, 1, err);
out:
    keylock_unlock(&g);
    seg_cache_deinit(&cache);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&val);
    kv_buf_deinit(&args);
    return rc;
}
