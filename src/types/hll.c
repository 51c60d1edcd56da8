/* SPDX-License-Identifier: Apache-2.0
 *
 * hll: see hll.h. Registers travel in two forms: packed segments (storage, 768 bytes per 1024
 * registers) and an unpacked array of 16384 bytes (counting and merging).
 *
 * Threads: any worker; no state of its own.
 */
#include "types/hll.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"
#include "common/strconv.h"
#include "storage/storage.h"
#include "types/keylock.h"

/* Redis's HLL_Q: the hash bits left after the register index. */
#define HLL_Q (64 - HLL_P)
/* 0.5 / ln(2), the estimator's constant for m -> infinity. */
#define HLL_ALPHA_INF 0.721347520444481703680

uint64_t
hll_murmur64a(const void *key, size_t len, uint32_t seed)
{
    const uint64_t m = UINT64_C(0xc6a4a7935bd1e995);
    const int r = 47;
    const uint8_t *p = key;
    uint64_t h = seed ^ ((uint64_t)len * m);
    size_t blocks = len / 8;
    for (size_t i = 0; i < blocks; i++, p += 8) {
        uint64_t k = 0;
        for (int j = 7; j >= 0; j--)
            k = (k << 8) | p[j];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail > 0) {
        for (size_t j = tail; j-- > 0;)
            h ^= (uint64_t)p[j] << (8 * j);
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

void
hll_element(struct kv_slice element, uint32_t *index, uint8_t *value)
{
    uint64_t h = hll_murmur64a(element.ptr, element.len, HLL_HASH_SEED);
    *index = (uint32_t)(h & (HLL_REGISTERS - 1));
    h >>= HLL_P;
    h |= UINT64_C(1) << HLL_Q; /* the run of zeros ends by bit HLL_Q at the latest */
    *value = (uint8_t)(__builtin_ctzll(h) + 1);
}

uint8_t
hll_segment_get(const uint8_t *segment, uint32_t i)
{
    uint32_t bit = i * HLL_BITS;
    uint32_t byte = bit / 8, shift = bit % 8;
    unsigned v = (unsigned)segment[byte] >> shift;
    if (shift > 8 - HLL_BITS)
        v |= (unsigned)segment[byte + 1] << (8 - shift);
    return (uint8_t)(v & HLL_REGISTER_MAX);
}

void
hll_segment_set(uint8_t *segment, uint32_t i, uint8_t v)
{
    uint32_t bit = i * HLL_BITS;
    uint32_t byte = bit / 8, shift = bit % 8;
    unsigned val = v & HLL_REGISTER_MAX;
    segment[byte] = (uint8_t)((segment[byte] & ~(HLL_REGISTER_MAX << shift)) | (val << shift));
    if (shift > 8 - HLL_BITS) {
        unsigned rest = 8 - shift; /* register bits already placed in `byte` */
        segment[byte + 1] =
            (uint8_t)((segment[byte + 1] & ~(HLL_REGISTER_MAX >> rest)) | (val >> rest));
    }
}

/* Ertl's sigma(x) (arXiv:1702.01284), iterated until the sum stops changing. */
static double
hll_sigma(double x)
{
    if (x == 1.)
        return INFINITY;
    double z_prev;
    double y = 1;
    double z = x;
    do {
        x *= x;
        z_prev = z;
        z += x * y;
        y += y;
    } while (z_prev != z);
    return z;
}

/* Ertl's tau(x), likewise. */
static double
hll_tau(double x)
{
    if (x == 0. || x == 1.)
        return 0.;
    double z_prev;
    double y = 1.0;
    double z = 1 - x;
    do {
        x = sqrt(x);
        z_prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (z_prev != z);
    return z / 3;
}

uint64_t
hll_estimate(const uint8_t *registers)
{
    int hist[64] = {0};
    for (uint32_t i = 0; i < HLL_REGISTERS; i++)
        hist[registers[i] & 63]++;
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - hist[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += hist[j];
        z *= 0.5;
    }
    z += m * hll_sigma(hist[0] / m);
    double e = (double)llroundl(HLL_ALPHA_INF * m * m / z);
    return (uint64_t)e;
}

/* --- storage --- */

/* Packed segments of one key, loaded lazily. */
struct hll_segments {
    uint8_t data[HLL_SEGMENTS][HLL_SEGMENT_BYTES];
    bool loaded[HLL_SEGMENTS];
    bool dirty[HLL_SEGMENTS];
};

static void
segment_key(struct db *db, struct kv_slice key, uint64_t version, uint32_t s, struct kv_buf *out)
{
    char num[STRCONV_INT64_BUF];
    size_t n = strconv_from_uint64(s, num);
    db_subkey(db, key, version, kv_slice_make(num, n), out);
}

/* Read segment s of (key, version) into dst; a missing one is all zeros. */
static enum kv_code
load_segment(struct db *db, struct kv_slice key, uint64_t version, uint32_t s, uint8_t *dst,
             struct kv_err *err)
{
    struct kv_buf sk = KV_BUF_INIT, val = KV_BUF_INIT;
    segment_key(db, key, version, s, &sk);
    enum kv_code rc = storage_get(db->st, db->snap, KV_CF_SUBKEY, kv_buf_slice(&sk), &val, err);
    if (rc == KV_NOTFOUND) {
        memset(dst, 0, HLL_SEGMENT_BYTES);
        rc = KV_OK;
    } else if (rc == KV_OK) {
        if (val.len != HLL_SEGMENT_BYTES)
            rc = kv_err_set(err, KV_ERR_CORRUPT, "invalid hyperloglog segment size %zu", val.len);
        else
            memcpy(dst, val.ptr, HLL_SEGMENT_BYTES);
    }
    kv_buf_deinit(&sk);
    kv_buf_deinit(&val);
    return rc;
}

/* Read the metadata of an HLL key: KV_OK, KV_NOTFOUND, KV_ERR_INVALID (a string or a bitmap,
 * which Redis would hold as a string), KV_ERR_WRONGTYPE (another type). */
static enum kv_code
read_meta(struct db *db, struct kv_slice key, struct meta *m, struct kv_buf *raw,
          struct kv_err *err)
{
    enum kv_code rc = db_get_meta(db, key, META_NONE, m, raw, err);
    if (rc != KV_OK)
        return rc;
    if (m->type == META_STRING || m->type == META_BITMAP)
        return kv_err_set(err, KV_ERR_INVALID, "%s", "");
    if (m->type != META_HLL)
        return kv_err_set(err, KV_ERR_WRONGTYPE, "%s", "");
    return KV_OK;
}

/* Max the registers of a live HLL key (version) into regs (unpacked). */
static enum kv_code
merge_key(struct db *db, struct kv_slice key, uint64_t version, uint8_t *regs, struct kv_err *err)
{
    uint8_t seg[HLL_SEGMENT_BYTES];
    for (uint32_t s = 0; s < HLL_SEGMENTS; s++) {
        enum kv_code rc = load_segment(db, key, version, s, seg, err);
        if (rc != KV_OK)
            return rc;
        uint8_t *r = regs + s * HLL_SEGMENT_REGISTERS;
        for (uint32_t i = 0; i < HLL_SEGMENT_REGISTERS; i++) {
            uint8_t v = hll_segment_get(seg, i);
            if (v > r[i])
                r[i] = v;
        }
    }
    return KV_OK;
}

static void
log_hll_op(struct storage_batch *b)
{
    char blob[8];
    int n = snprintf(blob, sizeof blob, "%d", (int)META_HLL);
    storage_batch_log_data(b, kv_slice_make(blob, (size_t)n));
}

enum kv_code
hll_add(struct db *db, struct kv_slice key, const struct kv_slice *elements, size_t n,
        bool *changed, struct kv_err *err)
{
    struct keylock_guard g;
    keylock_lock1(db->locks, db->ns, key, &g);
    struct kv_buf raw = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct hll_segments *segs = kv_calloc(1, sizeof *segs);
    struct meta m;
    bool created = false, dirty = false;
    enum kv_code rc = read_meta(db, key, &m, &raw, err);
    if (rc == KV_NOTFOUND) {
        meta_init(&m, META_HLL);
        m.hll_encoding = 0;
        created = true;
        rc = KV_OK;
    }
    if (rc != KV_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        uint32_t index;
        uint8_t value;
        hll_element(elements[i], &index, &value);
        uint32_t s = index / HLL_SEGMENT_REGISTERS, r = index % HLL_SEGMENT_REGISTERS;
        if (!segs->loaded[s]) {
            if (!created && (rc = load_segment(db, key, m.version, s, segs->data[s], err)) != KV_OK)
                goto out;
            segs->loaded[s] = true;
        }
        if (value > hll_segment_get(segs->data[s], r)) {
            hll_segment_set(segs->data[s], r, value);
            segs->dirty[s] = true;
            dirty = true;
        }
    }
    if (created || dirty) {
        b = storage_batch_new(db->st);
        log_hll_op(b);
        struct kv_buf sk = KV_BUF_INIT;
        for (uint32_t s = 0; s < HLL_SEGMENTS; s++) {
            if (!segs->dirty[s])
                continue;
            segment_key(db, key, m.version, s, &sk);
            storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk),
                              kv_slice_make(segs->data[s], HLL_SEGMENT_BYTES));
        }
        kv_buf_deinit(&sk);
        if (created)
            db_batch_put_meta(db, b, key, &m);
        rc = db_write(db, b, &key, 1, err);
    }
    if (rc == KV_OK)
        *changed = created || dirty;
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_free(segs);
    return rc;
}

enum kv_code
hll_count(struct db *db, const struct kv_slice *keys, size_t n, uint64_t *count, struct kv_err *err)
{
    struct db view = *db;
    struct storage_snapshot *snap = NULL;
    if (view.snap == NULL) {
        snap = storage_snapshot_new(db->st);
        view.snap = snap;
    }
    uint8_t *regs = kv_calloc(HLL_REGISTERS, 1);
    struct kv_buf raw = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < n; i++) {
        struct meta m;
        rc = read_meta(&view, keys[i], &m, &raw, err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            continue;
        }
        if (rc != KV_OK || (rc = merge_key(&view, keys[i], m.version, regs, err)) != KV_OK)
            break;
    }
    if (rc == KV_OK)
        *count = hll_estimate(regs);
    kv_free(regs);
    kv_buf_deinit(&raw);
    if (snap != NULL)
        storage_snapshot_free(db->st, snap);
    return rc;
}

enum kv_code
hll_merge(struct db *db, struct kv_slice dest, const struct kv_slice *srcs, size_t n,
          struct kv_err *err)
{
    struct kv_slice *keys = kv_malloc((n + 1) * sizeof *keys);
    keys[0] = dest;
    if (n > 0)
        memcpy(keys + 1, srcs, n * sizeof *keys);
    struct keylock_guard g;
    keylock_lock(db->locks, db->ns, keys, n + 1, &g);
    uint8_t *regs = kv_calloc(HLL_REGISTERS, 1);
    struct hll_segments *old = kv_calloc(1, sizeof *old);
    struct kv_buf draw = KV_BUF_INIT, raw = KV_BUF_INIT, sk = KV_BUF_INIT;
    struct storage_batch *b = NULL;
    struct meta dm;
    enum kv_code rc = read_meta(db, dest, &dm, &draw, err);
    if (rc == KV_NOTFOUND) {
        meta_init(&dm, META_HLL);
        dm.hll_encoding = 0;
        rc = KV_OK;
    } else if (rc == KV_OK) {
        for (uint32_t s = 0; s < HLL_SEGMENTS && rc == KV_OK; s++)
            rc = load_segment(db, dest, dm.version, s, old->data[s], err);
        for (uint32_t s = 0; s < HLL_SEGMENTS; s++)
            for (uint32_t i = 0; i < HLL_SEGMENT_REGISTERS; i++)
                regs[s * HLL_SEGMENT_REGISTERS + i] = hll_segment_get(old->data[s], i);
    }
    if (rc != KV_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct meta m;
        rc = read_meta(db, srcs[i], &m, &raw, err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            continue;
        }
        if (rc != KV_OK || (rc = merge_key(db, srcs[i], m.version, regs, err)) != KV_OK)
            goto out;
    }
    b = storage_batch_new(db->st);
    log_hll_op(b);
    uint8_t seg[HLL_SEGMENT_BYTES];
    memset(seg, 0, sizeof seg);
    for (uint32_t s = 0; s < HLL_SEGMENTS; s++) {
        for (uint32_t i = 0; i < HLL_SEGMENT_REGISTERS; i++)
            hll_segment_set(seg, i, regs[s * HLL_SEGMENT_REGISTERS + i]);
        if (memcmp(seg, old->data[s], HLL_SEGMENT_BYTES) == 0)
            continue;
        segment_key(db, dest, dm.version, s, &sk);
        storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk),
                          kv_slice_make(seg, HLL_SEGMENT_BYTES));
    }
    db_batch_put_meta(db, b, dest, &dm);
    rc = db_write(db, b, &dest, 1, err);
out:
    keylock_unlock(&g);
    storage_batch_free(b);
    kv_buf_deinit(&draw);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    kv_free(regs);
    kv_free(old);
    kv_free(keys);
    return rc;
}
