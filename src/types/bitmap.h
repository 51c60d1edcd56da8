/* SPDX-License-Identifier: Apache-2.0
 *
 * bitmap: the bit commands' storage work (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD) over
 * two representations of the same thing, a Redis string seen as an array of bits:
 *
 *   - a string key (META_STRING): the bytes are the string value, in Redis bit order (bit 0 is
 *     the most significant bit of byte 0). Writes keep it a string;
 *   - a bitmap key (META_BITMAP, kvrocks-notes.md 2.6): metadata [flags 0x86][expire][version]
 *     [size u64] where size is the logical length in bytes, and sparse 1 KiB segments in CF
 *     default:
 *         sub-key  = ASCII decimal of the segment's first byte offset: "0", "1024", "2048", ...
 *         value    = the segment's bytes, at most 1024, possibly fewer (missing bytes are zero;
 *                    bytes at or beyond `size` are ignored)
 *     Inside a stored byte the bits are LSB-first: bit offset 8*i + j lives in bit (1 << j) of
 *     byte i, while Redis keeps it in bit (0x80 >> j). Everything in this module works in Redis
 *     order and converts whole bytes (bit reversal) when a segment is loaded or stored, so the
 *     two representations answer every command identically.
 *
 * An absent key written by SETBIT, BITFIELD or BITOP becomes a bitmap key (as in Kvrocks). A
 * bitmap key's size never shrinks except by being rewritten (BITOP), and a write grows it the way
 * Redis grows the string, so GET/STRLEN of a bitmap key equal Redis's for the same commands.
 * Missing segments read as zeros, so a bit set at offset 2^32-1 costs one segment, not 512 MiB.
 *
 * Write-ahead log descriptors (kvrocks-notes.md 2.9), written into bitmap-key batches only:
 *   SETBIT "6 9 <offset>", BITOP "6 10 <OP> <src>...", BITFIELD "6 11 [OVERFLOW <how>] <SET|INCRBY>
 *   <type> <offset> <value> ...".
 *
 * Errors: KV_NOTFOUND (absent key, for views), KV_ERR_WRONGTYPE (neither string nor bitmap),
 * KV_ERR_CORRUPT (a malformed segment key), KV_ERR_NOMEM (a requested string form larger than the
 * caller's limit could not be allocated), KV_ERR_IO from storage. Nothing here knows about RESP.
 *
 * Threads: any worker. Writers follow types/db.h: keylock, read, one batch through db_write. Reads
 * take a RocksDB snapshot (unless the db handle already carries one) so a view is consistent.
 */
#ifndef KV_TYPES_BITMAP_H
#define KV_TYPES_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"
#include "storage/meta.h"
#include "types/db.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BITMAP_SEGMENT_BYTES 1024
#define BITMAP_SEGMENT_BITS (BITMAP_SEGMENT_BYTES * 8)
/* The largest bit offset a command accepts (SETBIT, GETBIT, BITFIELD): 2^32 - 1, i.e. Redis's
 * limit with the default proto-max-bulk-len of 512 MiB and Kvrocks' uint32 offsets. */
#define BITMAP_MAX_OFFSET UINT64_C(4294967295)

/* Reverse the bit order of one byte (Redis order <-> stored LSB-first order). */
uint8_t bitmap_reverse_byte(uint8_t b);

/* --- reads: a consistent view of one key --- */

struct bitmap_view {
    struct db db;                  /* the caller's handle, reading through `snap` */
    struct storage_snapshot *snap; /* owned; NULL when the caller's handle had a snapshot */
    struct kv_buf raw;             /* owned: the metadata record */
    struct meta meta;              /* META_STRING or META_BITMAP; payload borrows `raw` */
    uint64_t len;                  /* logical length in bytes (string length or bitmap size) */
    struct kv_slice key;           /* borrowed: the user key */
};

/* Open a view of `key` (a string or bitmap key). KV_OK; KV_NOTFOUND when absent (or expired);
 * KV_ERR_WRONGTYPE for another type. `v` must be closed with bitmap_view_close whatever the
 * result. `key` must outlive the view. */
enum kv_code bitmap_view_open(struct db *db, struct kv_slice key, struct bitmap_view *v,
                              struct kv_err *err);
void bitmap_view_close(struct bitmap_view *v);

/* The bit at `offset` (0 beyond the end). */
enum kv_code bitmap_view_getbit(struct bitmap_view *v, uint64_t offset, int *bit,
                                struct kv_err *err);

/* Number of set bits among bits first..last (inclusive, Redis bit numbering); the caller
 * clamps the range to the view (last < 8 * len) and ensures first <= last. */
enum kv_code bitmap_view_count(struct bitmap_view *v, uint64_t first, uint64_t last,
                               uint64_t *count, struct kv_err *err);

/* The first bit equal to `bit` (0 or 1) among bits first..last (inclusive, within the view), or
 * -1 when there is none. */
enum kv_code bitmap_view_find(struct bitmap_view *v, int bit, uint64_t first, uint64_t last,
                              int64_t *pos, struct kv_err *err);

/* Bytes [off, off + n) in Redis order into `out` (cleared first); bytes beyond the end read as
 * zero. KV_ERR_NOMEM when n bytes cannot be allocated. */
enum kv_code bitmap_view_read(struct bitmap_view *v, uint64_t off, uint64_t n, struct kv_buf *out,
                              struct kv_err *err);

/* --- writes --- */

/* SETBIT: set the bit at `offset` (<= BITMAP_MAX_OFFSET) to `value` (0 or 1); *old = its previous
 * value. A string key stays a string (grown with zero bytes as needed); an absent key becomes a
 * bitmap key. The expiry is kept. KV_ERR_WRONGTYPE. */
enum kv_code bitmap_setbit(struct db *db, struct kv_slice key, uint64_t offset, int value, int *old,
                           struct kv_err *err);

enum bitmap_op {
    BITMAP_OP_AND,
    BITMAP_OP_OR,
    BITMAP_OP_XOR,
    BITMAP_OP_NOT, /* exactly one source */
};

/* BITOP: dest = op(srcs[0..n)), sources being string or bitmap keys (absent = empty) and shorter
 * ones zero-padded to the longest. dest (any previous type, no expiry) becomes a bitmap key of
 * that length; when the result is empty (every source absent or empty) dest is deleted.
 * *len = the result length in bytes. A source of another type fails with KV_ERR_WRONGTYPE before
 * anything is written. dest may be one of the sources. */
enum kv_code bitmap_bitop(struct db *db, enum bitmap_op op, struct kv_slice dest,
                          const struct kv_slice *srcs, size_t n, uint64_t *len, struct kv_err *err);

/* --- BITFIELD --- */

enum bitmap_field_kind {
    BITMAP_FIELD_GET,
    BITMAP_FIELD_SET,
    BITMAP_FIELD_INCRBY,
};

enum bitmap_overflow {
    BITMAP_OVERFLOW_WRAP,
    BITMAP_OVERFLOW_SAT,
    BITMAP_OVERFLOW_FAIL,
};

/* One BITFIELD operation on the integer of `bits` bits starting at bit `offset` (most significant
 * bit first, as Redis). */
struct bitmap_field_op {
    enum bitmap_field_kind kind;
    enum bitmap_overflow overflow; /* for SET and INCRBY */
    bool is_signed;
    unsigned bits;   /* 1..64 signed, 1..63 unsigned */
    uint64_t offset; /* <= BITMAP_MAX_OFFSET */
    int64_t value;   /* SET: the new value; INCRBY: the increment */
};

struct bitmap_field_result {
    bool is_nil;   /* an overflow under OVERFLOW FAIL: nothing written */
    int64_t value; /* GET: the value; SET: the old value; INCRBY: the new value */
};

/* Redis's overflow arithmetic for one SET or INCRBY: from the field's current raw bits `old_raw`
 * (the low op->bits bits), compute the raw bits to store in *new_raw and the reply in *reply.
 * Returns false under OVERFLOW FAIL when the result does not fit (nothing to store). For SET the
 * reply is the old value; for INCRBY the new one. Pure. */
bool bitmap_field_apply(const struct bitmap_field_op *op, uint64_t old_raw, uint64_t *new_raw,
                        int64_t *reply);

/* BITFIELD / BITFIELD_RO: run ops[0..n) in order, filling results[0..n). With only GET operations
 * this is a read (an absent key reads as zeros, nothing is written). Otherwise the key (string or
 * bitmap; absent -> a new bitmap key) is first grown to cover the highest bit any SET or INCRBY
 * addresses, even one that then fails, as Redis does, and everything is written in one batch.
 * KV_ERR_WRONGTYPE. */
enum kv_code bitmap_bitfield(struct db *db, struct kv_slice key, const struct bitmap_field_op *ops,
                             size_t n, struct bitmap_field_result *results, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
