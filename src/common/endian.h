/* SPDX-License-Identifier: Apache-2.0
 *
 * endian: big-endian fixed-width put/get for the storage encodings (DESIGN.md section 4), and
 * little-endian ones for RocksDB's write-batch header and hashing. Pointers need no alignment.
 * Threads: any.
 */
#ifndef KV_COMMON_ENDIAN_H
#define KV_COMMON_ENDIAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline void
kv_put_u16be(void *dst, uint16_t v)
{
    uint8_t *p = (uint8_t *)dst;
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void
kv_put_u32be(void *dst, uint32_t v)
{
    uint8_t *p = (uint8_t *)dst;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void
kv_put_u64be(void *dst, uint64_t v)
{
    kv_put_u32be(dst, (uint32_t)(v >> 32));
    kv_put_u32be((uint8_t *)dst + 4, (uint32_t)v);
}

static inline uint16_t
kv_get_u16be(const void *src)
{
    const uint8_t *p = (const uint8_t *)src;
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
kv_get_u32be(const void *src)
{
    const uint8_t *p = (const uint8_t *)src;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
kv_get_u64be(const void *src)
{
    return (uint64_t)kv_get_u32be(src) << 32 | kv_get_u32be((const uint8_t *)src + 4);
}

static inline void
kv_put_u32le(void *dst, uint32_t v)
{
    uint8_t *p = (uint8_t *)dst;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
kv_get_u32le(const void *src)
{
    const uint8_t *p = (const uint8_t *)src;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
kv_get_u64le(const void *src)
{
    return (uint64_t)kv_get_u32le((const uint8_t *)src + 4) << 32 | kv_get_u32le(src);
}

#ifdef __cplusplus
}
#endif

#endif
