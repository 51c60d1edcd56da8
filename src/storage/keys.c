/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/keys.h"

#include "common/endian.h"
#include "common/log.h"
#include "common/slot.h"

void
keys_append_ns_prefix(struct kv_buf *out, struct kv_slice ns, bool cluster,
                      struct kv_slice user_key)
{
    KV_ASSERT(ns.len <= KEYS_MAX_NAMESPACE_LEN);
    kv_buf_append_byte(out, (uint8_t)ns.len);
    kv_buf_append_slice(out, ns);
    if (cluster)
        kv_buf_append_u16be(out, slot_of_key(user_key.ptr, user_key.len));
}

void
keys_meta_key(struct kv_buf *out, struct kv_slice ns, bool cluster, struct kv_slice user_key)
{
    kv_buf_clear(out);
    kv_buf_reserve(out, 1 + ns.len + 2 + user_key.len);
    keys_append_ns_prefix(out, ns, cluster, user_key);
    kv_buf_append_slice(out, user_key);
}

void
keys_subkey_prefix(struct kv_buf *out, struct kv_slice ns, bool cluster, struct kv_slice user_key,
                   uint64_t version)
{
    kv_buf_clear(out);
    kv_buf_reserve(out, 1 + ns.len + 2 + 4 + user_key.len + 8);
    keys_append_ns_prefix(out, ns, cluster, user_key);
    kv_buf_append_u32be(out, (uint32_t)user_key.len);
    kv_buf_append_slice(out, user_key);
    kv_buf_append_u64be(out, version);
}

void
keys_subkey(struct kv_buf *out, struct kv_slice ns, bool cluster, struct kv_slice user_key,
            uint64_t version, struct kv_slice sub)
{
    keys_subkey_prefix(out, ns, cluster, user_key, version);
    kv_buf_append_slice(out, sub);
}

void
keys_ns_scan_prefix(struct kv_buf *out, struct kv_slice ns, bool cluster, uint16_t slot)
{
    KV_ASSERT(ns.len <= KEYS_MAX_NAMESPACE_LEN);
    kv_buf_clear(out);
    kv_buf_append_byte(out, (uint8_t)ns.len);
    kv_buf_append_slice(out, ns);
    if (cluster)
        kv_buf_append_u16be(out, slot);
}

static enum kv_code
split_ns(struct kv_slice raw, bool cluster, struct kv_slice *ns, uint16_t *slot, size_t *pos)
{
    if (raw.len < 1)
        return KV_ERR_CORRUPT;
    size_t ns_len = (uint8_t)raw.ptr[0];
    size_t p = 1 + ns_len;
    if (raw.len < p)
        return KV_ERR_CORRUPT;
    *ns = kv_slice_make(raw.ptr + 1, ns_len);
    *slot = 0;
    if (cluster) {
        if (raw.len < p + 2)
            return KV_ERR_CORRUPT;
        *slot = kv_get_u16be(raw.ptr + p);
        p += 2;
    }
    *pos = p;
    return KV_OK;
}

enum kv_code
keys_decode_meta_key(struct kv_slice raw, bool cluster, struct kv_slice *ns, uint16_t *slot,
                     struct kv_slice *user_key)
{
    size_t p = 0;
    struct kv_slice n;
    uint16_t s;
    enum kv_code rc = split_ns(raw, cluster, &n, &s, &p);
    if (rc != KV_OK)
        return rc;
    *ns = n;
    *slot = s;
    *user_key = kv_slice_make(raw.ptr + p, raw.len - p);
    return KV_OK;
}

enum kv_code
keys_decode_subkey(struct kv_slice raw, bool cluster, struct kv_slice *ns,
                   struct kv_slice *user_key, uint64_t *version, struct kv_slice *sub)
{
    size_t p = 0;
    struct kv_slice n;
    uint16_t s;
    enum kv_code rc = split_ns(raw, cluster, &n, &s, &p);
    if (rc != KV_OK)
        return rc;
    if (raw.len < p + 4)
        return KV_ERR_CORRUPT;
    size_t klen = kv_get_u32be(raw.ptr + p);
    p += 4;
    if (raw.len < p + klen + 8)
        return KV_ERR_CORRUPT;
    *ns = n;
    *user_key = kv_slice_make(raw.ptr + p, klen);
    p += klen;
    *version = kv_get_u64be(raw.ptr + p);
    p += 8;
    *sub = kv_slice_make(raw.ptr + p, raw.len - p);
    return KV_OK;
}

void
keys_prefix_end(struct kv_buf *out, struct kv_slice prefix)
{
    kv_buf_set(out, prefix.ptr, prefix.len);
    while (out->len > 0) {
        uint8_t c = (uint8_t)out->ptr[out->len - 1];
        if (c != 0xff) {
            out->ptr[out->len - 1] = (char)(c + 1);
            return;
        }
        kv_buf_resize(out, out->len - 1);
    }
}
