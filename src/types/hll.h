/* SPDX-License-Identifier: Apache-2.0
 *
 * hll: the HyperLogLog type (PFADD, PFCOUNT, PFMERGE), with Redis's parameters and estimator so
 * that the same elements give the same PFCOUNT as redis-server 7.0.
 *
 * Storage (kvrocks-notes.md 2.5-2.6):
 *   metadata  [flags 0x8b][expire u64][version u64][size u64 = 0][encode_type u8 = 0 (dense)]
 *   sub-keys  ASCII decimal segment index "0" .. "15" in CF default, each value exactly
 *             HLL_SEGMENT_BYTES (768) bytes holding 1024 registers; a missing segment means all
 *             its registers are zero (so an empty HLL is just its metadata).
 *
 * Register r (0 .. 16383) lives in segment r / 1024 as its register i = r % 1024. Inside a segment
 * the registers are packed 6 bits each, least significant bit first, exactly like Redis's dense
 * representation: register i occupies the bits 6i .. 6i+5 of the segment, counting bit k as bit
 * (k % 8) of byte k / 8 (1 << (k % 8)), with the register's lowest bit at bit 6i:
 *
 *     byte 0   bits 7..6 = reg 1 bits 1..0   bits 5..0 = reg 0 bits 5..0
 *     byte 1   bits 7..4 = reg 2 bits 3..0   bits 3..0 = reg 1 bits 5..2
 *     byte 2   bits 7..2 = reg 3 bits 5..0   bits 1..0 = reg 2 bits 5..4
 *     (and so on: every 3 bytes hold 4 registers)
 *
 * so the 16 segments concatenated are byte for byte Redis's 12288-byte dense register array.
 *
 * Hashing (Redis's hllPatLen): h = MurmurHash64A(element, seed 0xadc83b19); register index =
 * h & 16383; value = 1 + the number of zero bits of h >> 14 below its lowest set bit (bit 50
 * forced on, so values are 1 .. 51). A register keeps the maximum value seen. The estimate is
 * Redis 5+'s: Otmar Ertl's improved estimator over the register histogram, rounded with llroundl.
 *
 * Write-ahead log descriptor (kvrocks-notes.md 2.9): "11", as Kvrocks writes it.
 *
 * Errors: KV_ERR_WRONGTYPE when a key has another type than hyperloglog, string or bitmap;
 * KV_ERR_INVALID when it is a string or a bitmap (both strings to Redis, which would accept one
 * only if it held a Redis HLL encoding, which we do not read; the command layer words it as
 * Redis's "not a valid HyperLogLog string value"); KV_ERR_CORRUPT for a segment that is not 768
 * bytes; KV_ERR_IO from storage.
 *
 * Threads: any worker. Writers lock their keys (types/db.h rules); PFCOUNT reads all its keys
 * from one snapshot.
 */
#ifndef KV_TYPES_HLL_H
#define KV_TYPES_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/status.h"
#include "types/db.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HLL_P 14
#define HLL_REGISTERS (1u << HLL_P) /* 16384 */
#define HLL_BITS 6
#define HLL_REGISTER_MAX ((1u << HLL_BITS) - 1)
#define HLL_SEGMENTS 16
#define HLL_SEGMENT_REGISTERS (HLL_REGISTERS / HLL_SEGMENTS)     /* 1024 */
#define HLL_SEGMENT_BYTES (HLL_SEGMENT_REGISTERS * HLL_BITS / 8) /* 768 */
#define HLL_HASH_SEED 0xadc83b19u

/* --- pure helpers (no storage) --- */

/* MurmurHash64A of len bytes (8-byte blocks read little-endian, as Redis on x86). */
uint64_t hll_murmur64a(const void *key, size_t len, uint32_t seed);

/* The register an element updates and the value it offers (1 .. 51). */
void hll_element(struct kv_slice element, uint32_t *index, uint8_t *value);

/* Register i (0 .. 1023) of a packed segment of HLL_SEGMENT_BYTES. */
uint8_t hll_segment_get(const uint8_t *segment, uint32_t i);
/* Set register i of a packed segment to v (<= HLL_REGISTER_MAX). */
void hll_segment_set(uint8_t *segment, uint32_t i, uint8_t v);

/* The cardinality estimate of HLL_REGISTERS unpacked registers (one byte each). */
uint64_t hll_estimate(const uint8_t *registers);

/* --- commands --- */

/* PFADD key [element ...]: *changed = the key was created or some register grew (Redis's 1/0).
 * Writes nothing when nothing changed. */
enum kv_code hll_add(struct db *db, struct kv_slice key, const struct kv_slice *elements, size_t n,
                     bool *changed, struct kv_err *err);

/* PFCOUNT key [key ...]: the estimate of the union of keys[0..n) (absent keys are empty), read
 * from one snapshot; nothing is written. */
enum kv_code hll_count(struct db *db, const struct kv_slice *keys, size_t n, uint64_t *count,
                       struct kv_err *err);

/* PFMERGE dest [src ...]: dest = union of dest and srcs[0..n) (created when absent; its expiry is
 * kept when it exists). Every key is checked before anything is written. */
enum kv_code hll_merge(struct db *db, struct kv_slice dest, const struct kv_slice *srcs, size_t n,
                       struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
