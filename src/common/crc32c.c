/* SPDX-License-Identifier: Apache-2.0 */
#include "common/crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static bool have_hw; /* the CPU has SSE 4.2's crc32 instruction (set once, with the table) */

#if defined(__x86_64__)
/* The same CRC with the crc32 instruction (SSE 4.2 computes exactly CRC-32C), eight bytes per
 * instruction. These work on the raw register (no pre/post inversion). */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw_lane(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

/* The instruction has a latency of three cycles but can start one per cycle, so long inputs run
 * as three interleaved lanes of HW_LANE bytes, each its own CRC (the 2nd and 3rd from 0), then
 * joined: the register is linear, so crc(r, A|B) = shift(crc(r, A), |B|) ^ crc(0, B), where
 * shift(x, n) is x run through n zero bytes; lane_shift holds that map for n = HW_LANE, one
 * 256-entry table per byte of x. About three times one lane's speed. */
#define HW_LANE 4096
static uint32_t lane_shift[4][256];

static void
build_lane_shift(void)
{
    static const uint8_t zeros[HW_LANE];
    for (uint32_t k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++)
            lane_shift[k][b] = crc32c_hw_lane(b << (8 * k), zeros, HW_LANE);
    }
}

static uint32_t
shift_lane(uint32_t x)
{
    return lane_shift[0][x & 0xff] ^ lane_shift[1][(x >> 8) & 0xff] ^
           lane_shift[2][(x >> 16) & 0xff] ^ lane_shift[3][x >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len >= 3 * HW_LANE) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        for (size_t i = 0; i < HW_LANE; i += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p + i, 8);
            memcpy(&v1, p + HW_LANE + i, 8);
            memcpy(&v2, p + 2 * HW_LANE + i, 8);
            c0 = __builtin_ia32_crc32di(c0, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        crc = shift_lane(shift_lane((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * HW_LANE;
        len -= 3 * HW_LANE;
    }
    return crc32c_hw_lane(crc, p, len);
}
#endif

static void
build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (int t = 1; t < 8; t++) {
        for (uint32_t i = 0; i < 256; i++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
    if (have_hw)
        build_lane_shift();
#endif
}

uint32_t
crc32c_update_portable(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&table_once, build_table);
    const uint8_t *p = buf;
    crc = ~crc;
    /* Eight bytes at a time (slicing-by-8), then the tail. */
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
              table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

uint32_t
crc32c_update(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&table_once, build_table);
#if defined(__x86_64__)
    if (have_hw)
        return ~crc32c_hw(~crc, buf, len);
#endif
    return crc32c_update_portable(crc, buf, len);
}
