/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/meta.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/endian.h"

/* The low 11 bits of a version come from this counter, which starts at a random value so two
 * processes (a master and its promoted replica, say) rarely pick the same version for a key in
 * the same microsecond. */
static atomic_uint_fast64_t version_counter;
static atomic_bool version_seeded;
/* The last version handed out: a new one is always greater, even if the wall clock stalls or
 * steps back, or more than 2048 versions are taken within one microsecond. */
static atomic_uint_fast64_t version_last;

uint64_t
meta_new_version(void)
{
    if (!atomic_load_explicit(&version_seeded, memory_order_acquire)) {
        uint32_t seed = 0;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed)
            seed = (uint32_t)clock_mono_us();
        uint_fast64_t expected = 0;
        atomic_compare_exchange_strong(&version_counter, &expected, seed % 2048);
        atomic_store_explicit(&version_seeded, true, memory_order_release);
    }
    uint64_t c = atomic_fetch_add_explicit(&version_counter, 1, memory_order_relaxed);
    uint64_t want = ((uint64_t)clock_now_us() << 11) + (c % 2048);
    uint_fast64_t last = atomic_load_explicit(&version_last, memory_order_relaxed);
    for (;;) {
        uint64_t v = want > last ? want : last + 1;
        if (atomic_compare_exchange_weak_explicit(&version_last, &last, v, memory_order_relaxed,
                                                  memory_order_relaxed))
            return v;
    }
}

void
meta_init(struct meta *m, enum meta_type type)
{
    m->type = type;
    m->expire_ms = 0;
    m->version = type == META_STRING ? 0 : meta_new_version();
    m->size = 0;
    m->list_head = META_LIST_INITIAL_INDEX;
    m->list_tail = META_LIST_INITIAL_INDEX;
    m->hll_encoding = 0;
    m->payload = kv_slice_make(NULL, 0);
}

static bool
type_known(unsigned t)
{
    return t >= META_STRING && t <= META_HLL;
}

enum meta_type
meta_peek_type(struct kv_slice raw)
{
    if (raw.len < 1)
        return META_NONE;
    return (enum meta_type)((uint8_t)raw.ptr[0] & META_TYPE_MASK);
}

enum kv_code
meta_decode(struct kv_slice raw, struct meta *out)
{
    if (raw.len < 1)
        return KV_ERR_CORRUPT;
    uint8_t flags = (uint8_t)raw.ptr[0];
    unsigned type = flags & META_TYPE_MASK;
    if (!type_known(type))
        return KV_ERR_CORRUPT;
    bool wide = (flags & META_FLAG_64BIT) != 0;
    size_t int_len = wide ? 8 : 4; /* expire and size */
    const char *p = raw.ptr + 1;
    size_t left = raw.len - 1;
    struct meta m = {
        .type = (enum meta_type)type,
        .list_head = META_LIST_INITIAL_INDEX,
        .list_tail = META_LIST_INITIAL_INDEX,
    };
    if (left < int_len)
        return KV_ERR_CORRUPT;
    /* Legacy records count expiry in seconds. */
    m.expire_ms = wide ? kv_get_u64be(p) : (uint64_t)kv_get_u32be(p) * 1000;
    p += int_len;
    left -= int_len;
    if (type != META_STRING && type != META_JSON) {
        if (left < 8 + int_len)
            return KV_ERR_CORRUPT;
        m.version = kv_get_u64be(p);
        m.size = wide ? kv_get_u64be(p + 8) : kv_get_u32be(p + 8);
        p += 8 + int_len;
        left -= 8 + int_len;
        if (type == META_LIST) {
            if (left < 16)
                return KV_ERR_CORRUPT;
            m.list_head = kv_get_u64be(p);
            m.list_tail = kv_get_u64be(p + 8);
            p += 16;
            left -= 16;
        } else if (type == META_HLL && left >= 1) {
            m.hll_encoding = (uint8_t)p[0];
            p += 1;
            left -= 1;
        }
    }
    m.payload = kv_slice_make(p, left);
    *out = m;
    return KV_OK;
}

void
meta_encode(const struct meta *m, struct kv_buf *out)
{
    kv_buf_clear(out);
    kv_buf_append_byte(out, (uint8_t)(META_FLAG_64BIT | ((unsigned)m->type & META_TYPE_MASK)));
    kv_buf_append_u64be(out, m->expire_ms);
    if (m->type == META_STRING || m->type == META_JSON) {
        kv_buf_append_slice(out, m->payload);
        return;
    }
    kv_buf_append_u64be(out, m->version);
    kv_buf_append_u64be(out, m->size);
    if (m->type == META_LIST) {
        kv_buf_append_u64be(out, m->list_head);
        kv_buf_append_u64be(out, m->list_tail);
    } else if (m->type == META_HLL) {
        kv_buf_append_byte(out, m->hll_encoding);
    } else if (m->payload.len) {
        kv_buf_append_slice(out, m->payload);
    }
}

bool
meta_is_expired(const struct meta *m, int64_t now_ms)
{
    return m->expire_ms != 0 && (int64_t)m->expire_ms <= now_ms;
}

bool
meta_type_is_emptyable(enum meta_type t)
{
    return t == META_STRING || t == META_STREAM || t == META_BLOOM || t == META_JSON ||
           t == META_HLL;
}

bool
meta_is_live(const struct meta *m, int64_t now_ms)
{
    if (meta_is_expired(m, now_ms))
        return false;
    return meta_type_is_emptyable(m->type) || m->size > 0;
}

const char *
meta_type_name(enum meta_type t)
{
    switch (t) {
    case META_NONE:
        return "none";
    case META_STRING:
        return "string";
    case META_HASH:
        return "hash";
    case META_LIST:
        return "list";
    case META_SET:
        return "set";
    case META_ZSET:
        return "zset";
    case META_BITMAP:
        return "bitmap";
    case META_SORTEDINT:
        return "sortedint";
    case META_STREAM:
        return "stream";
    case META_BLOOM:
        return "MBbloom--";
    case META_JSON:
        return "ReJSON-RL";
    case META_HLL:
        return "hyperloglog";
    }
    return "none";
}
