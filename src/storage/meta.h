/* SPDX-License-Identifier: Apache-2.0
 *
 * meta: the metadata record of a user key (CF metadata), kvrocks-notes.md 2.5.
 *
 *   string:  [flags u8][expire u64]                      [raw value ...]
 *   others:  [flags u8][expire u64][version u64][size u64][type-specific tail]
 *   list tail: [head u64][tail u64]   (elements occupy [head, tail), both start at 2^63 - 1)
 *   hyperloglog tail: [encode_type u8] (0 = dense)
 *
 * flags: bit 0x80 set = 64-bit fields, expire in ms since the epoch (0 = none). Bit 0x80 clear =
 * legacy encoding with u32 expire in seconds and u32 size; we read it and always write the
 * 64-bit form. Low 4 bits: the type (enum meta_type; values reach disk, never renumber). Bits 4-6
 * are zero when we write and ignored when we read.
 *
 * The version is (wall-clock us << 11) + a counter mod 2048 that starts at a random value, so a
 * re-created key never reuses an old version and all old sub-keys become unreachable at once.
 * Within a process versions are strictly increasing: when the clock stalls or steps back, or
 * more than 2048 are taken in one microsecond, the next version is the previous one plus 1.
 *
 * Threads: any.
 */
#ifndef KV_STORAGE_META_H
#define KV_STORAGE_META_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum meta_type {
    META_NONE = 0,
    META_STRING = 1,
    META_HASH = 2,
    META_LIST = 3,
    META_SET = 4,
    META_ZSET = 5,
    META_BITMAP = 6,
    META_SORTEDINT = 7,
    META_STREAM = 8,
    META_BLOOM = 9,
    META_JSON = 10,
    META_HLL = 11,
};

#define META_FLAG_64BIT 0x80
#define META_TYPE_MASK 0x0f
#define META_LIST_INITIAL_INDEX (UINT64_MAX / 2)

struct meta {
    enum meta_type type;
    uint64_t expire_ms;   /* absolute ms since the epoch, 0 = no expiry */
    uint64_t version;     /* not used for strings */
    uint64_t size;        /* element count (bytes for bitmaps); not used for strings */
    uint64_t list_head;   /* lists only */
    uint64_t list_tail;   /* lists only */
    uint8_t hll_encoding; /* hyperloglog only */
    /* strings: the value bytes; other types: the bytes after the known fields. Borrowed from the
     * raw record given to meta_decode. */
    struct kv_slice payload;
};

/* Initialise a fresh record of `type` with a new version and size 0 (lists get the initial
 * head/tail). */
void meta_init(struct meta *m, enum meta_type type);

/* Decode a raw metadata value (either encoding). KV_ERR_CORRUPT if too short or the type is 0
 * or unknown; then *m is left unchanged. m->payload borrows from raw. A hyperloglog record
 * without its encoding byte decodes with hll_encoding 0. */
enum kv_code meta_decode(struct kv_slice raw, struct meta *m);

/* Encode into out (cleared first). For strings, `m->payload` is appended as the value; for other
 * types the type-specific fields follow. */
void meta_encode(const struct meta *m, struct kv_buf *out);

/* Only the type from a raw record (META_NONE if empty). */
enum meta_type meta_peek_type(struct kv_slice raw);

/* expire_ms != 0 and expire_ms <= now_ms (a key is gone from the millisecond it expires at). */
bool meta_is_expired(const struct meta *m, int64_t now_ms);
/* Types for which size 0 still means "exists" (string, stream, bloom, json, hyperloglog). */
bool meta_type_is_emptyable(enum meta_type t);
/* Exists for readers: not expired, and non-empty unless emptyable. */
bool meta_is_live(const struct meta *m, int64_t now_ms);

/* The TYPE command's name of a type ("string", "hash", ..., "none"). */
const char *meta_type_name(enum meta_type t);

/* A new version: (now_us << 11) + counter, or previous + 1 if that is not greater. Thread-safe;
 * strictly increasing within the process. */
uint64_t meta_new_version(void);

#ifdef __cplusplus
}
#endif

#endif
