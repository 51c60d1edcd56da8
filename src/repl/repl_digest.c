/* SPDX-License-Identifier: Apache-2.0 */
#include "repl/repl_digest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/endian.h"
#include "common/slot.h"
#include "storage/keys.h"
#include "storage/meta.h"

#define XXH_P1 0x9E3779B185EBCA87ULL
#define XXH_P2 0xC2B2AE3D27D4EB4FULL
#define XXH_P3 0x165667B19E3779F9ULL
#define XXH_P4 0x85EBCA77C2B2AE63ULL
#define XXH_P5 0x27D4EB2F165667C5ULL
#define DIGEST_SEED_A 0
#define DIGEST_SEED_B 0x6b7672636b732d63ULL /* "kvrcks-c" */

/* Streaming XXH64 (the reference algorithm; XXH64("", 0) = 0xef46db3751d8e999). */
struct xxh64 {
    uint64_t v[4];
    uint64_t total;
    uint8_t mem[32];
    size_t memsize;
    uint64_t seed;
};

static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
xxh_round(uint64_t acc, uint64_t input)
{
    acc += input * XXH_P2;
    acc = rotl64(acc, 31);
    return acc * XXH_P1;
}

static inline uint64_t
xxh_merge(uint64_t acc, uint64_t val)
{
    acc ^= xxh_round(0, val);
    return acc * XXH_P1 + XXH_P4;
}

static void
xxh64_init(struct xxh64 *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->v[0] = seed + XXH_P1 + XXH_P2;
    s->v[1] = seed + XXH_P2;
    s->v[2] = seed;
    s->v[3] = seed - XXH_P1;
}

static void
xxh64_update(struct xxh64 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    const uint8_t *end = p + len;
    s->total += len;
    if (s->memsize + len < 32) {
        memcpy(s->mem + s->memsize, p, len);
        s->memsize += len;
        return;
    }
    if (s->memsize > 0) {
        size_t fill = 32 - s->memsize;
        memcpy(s->mem + s->memsize, p, fill);
        for (int i = 0; i < 4; i++)
            s->v[i] = xxh_round(s->v[i], kv_get_u64le(s->mem + 8 * i));
        p += fill;
        s->memsize = 0;
    }
    while (p + 32 <= end) {
        for (int i = 0; i < 4; i++)
            s->v[i] = xxh_round(s->v[i], kv_get_u64le(p + 8 * i));
        p += 32;
    }
    if (p < end) {
        memcpy(s->mem, p, (size_t)(end - p));
        s->memsize = (size_t)(end - p);
    }
}

static uint64_t
xxh64_final(const struct xxh64 *s)
{
    uint64_t h;
    if (s->total >= 32) {
        h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) + rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
        for (int i = 0; i < 4; i++)
            h = xxh_merge(h, s->v[i]);
    } else {
        h = s->seed + XXH_P5;
    }
    h += s->total;
    const uint8_t *p = s->mem;
    const uint8_t *end = p + s->memsize;
    while (p + 8 <= end) {
        h ^= xxh_round(0, kv_get_u64le(p));
        h = rotl64(h, 27) * XXH_P1 + XXH_P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)kv_get_u32le(p) * XXH_P1;
        h = rotl64(h, 23) * XXH_P2 + XXH_P3;
        p += 4;
    }
    while (p < end) {
        h ^= (uint64_t)(*p) * XXH_P5;
        h = rotl64(h, 11) * XXH_P1;
        p++;
    }
    h ^= h >> 33;
    h *= XXH_P2;
    h ^= h >> 29;
    h *= XXH_P3;
    h ^= h >> 32;
    return h;
}

uint64_t
repl_digest_xxh64(const void *p, size_t n, uint64_t seed)
{
    struct xxh64 s;
    xxh64_init(&s, seed);
    xxh64_update(&s, p, n);
    return xxh64_final(&s);
}

/* Two lanes of one key's hash. */
struct key_hash {
    struct xxh64 a, b;
};

static void
kh_bytes(struct key_hash *h, const void *p, size_t n)
{
    xxh64_update(&h->a, p, n);
    xxh64_update(&h->b, p, n);
}

static void
kh_u64(struct key_hash *h, uint64_t v)
{
    uint8_t b[8];
    kv_put_u64be(b, v);
    kh_bytes(h, b, sizeof b);
}

/* A length-prefixed field. */
static void
kh_field(struct key_hash *h, struct kv_slice s)
{
    kh_u64(h, (uint64_t)s.len);
    kh_bytes(h, s.ptr, s.len);
}

struct digest_run {
    struct storage *st;
    const struct storage_snapshot *snap;
    struct kv_slice ns;
    bool cluster;
    struct kv_buf prefix, upper; /* scratch */
    struct kv_err *err;
};

/* Feed every record of (key, version) in cf into h. */
static enum kv_code
hash_subkeys(struct digest_run *r, struct key_hash *h, enum kv_cf cf, struct kv_slice key,
             uint64_t version)
{
    keys_subkey_prefix(&r->prefix, r->ns, r->cluster, key, version);
    keys_prefix_end(&r->upper, kv_buf_slice(&r->prefix));
    struct storage_iter *it =
        storage_iter_new(r->st, r->snap, cf, kv_buf_slice(&r->prefix), kv_buf_slice(&r->upper));
    size_t skip = r->prefix.len;
    for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
        struct kv_slice k = storage_iter_key(it);
        kh_field(h, kv_slice_make(k.ptr + skip, k.len - skip));
        kh_field(h, storage_iter_value(it));
    }
    enum kv_code rc = storage_iter_status(it, r->err);
    storage_iter_free(it);
    return rc;
}

static enum kv_code
digest_key(struct digest_run *r, struct kv_slice key, const struct meta *m, struct repl_digest *d)
{
    struct key_hash h;
    xxh64_init(&h.a, DIGEST_SEED_A);
    xxh64_init(&h.b, DIGEST_SEED_B);
    kh_field(&h, key);
    uint8_t type = (uint8_t)m->type;
    kh_bytes(&h, &type, 1);
    kh_u64(&h, m->expire_ms);
    if (m->type == META_STRING) {
        kh_field(&h, m->payload);
    } else {
        enum kv_code rc = hash_subkeys(r, &h, KV_CF_SUBKEY, key, m->version);
        if (rc == KV_OK && m->type == META_STREAM)
            rc = hash_subkeys(r, &h, KV_CF_STREAM, key, m->version);
        if (rc != KV_OK)
            return rc;
    }
    d->lane[0] += xxh64_final(&h.a);
    d->lane[1] += xxh64_final(&h.b);
    d->keys++;
    return KV_OK;
}

/* Digest the metadata records under `prefix` (a namespace, or one slot of it in cluster mode). */
static enum kv_code
digest_range(struct digest_run *r, struct kv_slice prefix, uint16_t slot_lo, uint16_t slot_hi,
             int64_t now_ms, struct repl_digest *d)
{
    struct kv_buf upper = KV_BUF_INIT;
    keys_prefix_end(&upper, prefix);
    struct storage_iter *it =
        storage_iter_new(r->st, r->snap, KV_CF_METADATA, prefix, kv_buf_slice(&upper));
    enum kv_code rc = KV_OK;
    bool all_slots = slot_lo == 0 && slot_hi == SLOT_COUNT - 1;
    for (storage_iter_seek_first(it); rc == KV_OK && storage_iter_valid(it);
         storage_iter_next(it)) {
        struct kv_slice ns, key;
        uint16_t slot;
        struct meta m;
        if (keys_decode_meta_key(storage_iter_key(it), r->cluster, &ns, &slot, &key) != KV_OK ||
            meta_decode(storage_iter_value(it), &m) != KV_OK || !meta_is_live(&m, now_ms))
            continue;
        if (!all_slots && !r->cluster) {
            slot = slot_of_key(key.ptr, key.len);
            if (slot < slot_lo || slot > slot_hi)
                continue;
        }
        rc = digest_key(r, key, &m, d);
    }
    if (rc == KV_OK)
        rc = storage_iter_status(it, r->err);
    storage_iter_free(it);
    kv_buf_deinit(&upper);
    return rc;
}

enum kv_code
repl_digest_compute(struct storage *st, struct kv_slice ns, bool cluster, uint16_t slot_lo,
                    uint16_t slot_hi, int64_t now_ms, struct repl_digest *out, struct kv_err *err)
{
    struct storage_snapshot *snap = storage_snapshot_new(st);
    struct digest_run r = {.st = st, .snap = snap, .ns = ns, .cluster = cluster, .err = err};
    struct repl_digest d = {.seq = storage_snapshot_seq(snap)};
    struct kv_buf prefix = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    if (cluster) {
        /* Metadata keys start with the slot: one range per slot. */
        for (uint32_t s = slot_lo; rc == KV_OK && s <= slot_hi; s++) {
            keys_ns_scan_prefix(&prefix, ns, true, (uint16_t)s);
            rc = digest_range(&r, kv_buf_slice(&prefix), slot_lo, slot_hi, now_ms, &d);
        }
    } else {
        keys_ns_scan_prefix(&prefix, ns, false, 0);
        rc = digest_range(&r, kv_buf_slice(&prefix), slot_lo, slot_hi, now_ms, &d);
    }
    kv_buf_deinit(&prefix);
    kv_buf_deinit(&r.prefix);
    kv_buf_deinit(&r.upper);
    storage_snapshot_free(st, snap);
    if (rc == KV_OK)
        *out = d;
    return rc;
}

void
repl_digest_hex(const struct repl_digest *d, char out[33])
{
    snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, d->lane[0], d->lane[1]);
}
