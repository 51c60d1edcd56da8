/* SPDX-License-Identifier: Apache-2.0
 *
 * str: the string type. A string is one metadata record in CF metadata,
 *     [flags 0x81][expire_ms u64][value bytes]
 * with no version and no sub-keys (DESIGN.md section 4). Writing a string over a key of another
 * type replaces its metadata record; the old sub-keys become unreachable and are dropped by
 * compaction.
 *
 * A bitmap key (META_BITMAP, types/bitmap.h) is a string to Redis, so every command here that
 * reads a value sees it as its string form (its bytes in Redis bit order), up to `bitmap_max`
 * bytes (see below): GET, MGET, GETRANGE, STRLEN, LCS, and the old value of SET ... GET, GETSET,
 * GETDEL, GETEX. A write that replaces the value (SET, GETSET, MSET, INCR*, APPEND,
 * SETRANGE) leaves a plain string, which answers every command as the bitmap did; GETEX changes
 * only the expiry and keeps the bitmap. A HyperLogLog key is not a string here (our registers are
 * not Redis's HLL encoding, so its bytes would not match Redis's anyway): the string commands
 * refuse it with KV_ERR_WRONGTYPE, MGET reads it as nil and LCS as a non-string key. Kvrocks' CAS
 * and CAD take string keys only.
 *
 * Every function follows the rules of types/db.h: reads treat expired keys as absent and never
 * delete; a write locks its keys (all keys of a multi-key write in one keylock_lock call), reads
 * under the lock, and writes everything in one storage batch through db_write, which reports the
 * touched keys. Nothing here knows about clients or RESP; the wording of error replies belongs to
 * the command layer, which maps these codes:
 *     KV_NOTFOUND       the key is absent (or expired): an outcome, not an error
 *     KV_ERR_WRONGTYPE  the key holds another type
 *     KV_ERR_INVALID    the stored value (or an increment) is not a number of the needed kind
 *     KV_ERR_RANGE      the result would overflow, be NaN/infinite, or exceed max_len
 *     KV_ERR_NOMEM      LCS could not allocate its table
 *     KV_ERR            a bitmap key's string form is longer than `bitmap_max` (err->msg holds
 *                       Kvrocks' text, STR_ERR_BITMAP_TOO_LONG)
 *     KV_ERR_IO / KV_ERR_CORRUPT from storage
 * Output parameters are left unchanged on failure unless stated otherwise.
 *
 * Expiry times are absolute milliseconds since the epoch; the caller computes them (with Redis's
 * overflow rules). A write whose new expiry is at or before now deletes the key instead, which is
 * what a reader would observe anyway.
 *
 * Threads: any worker thread; no state of its own.
 */
#ifndef KV_TYPES_STR_H
#define KV_TYPES_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"
#include "types/db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- reads --- */

/* `bitmap_max`, taken by every function below that may read a bitmap key as a string: the most
 * bytes of a bitmap key's string form it produces, the option max-bitmap-to-string-mb in bytes
 * (the caller reads the option; 0 refuses every bitmap key, as in Kvrocks). A longer string form
 * (for GETRANGE: a longer range) is not read: the call fails with KV_ERR and Kvrocks' reply text,
 * STR_ERR_BITMAP_TOO_LONG, in err->msg, and changes nothing. STRLEN needs no string form, and
 * INCR* refuse a bitmap too long to spell a number without reading it (KV_ERR_INVALID, as Redis
 * answers), whatever the limit. */
#define STR_ERR_BITMAP_TOO_LONG                                                                    \
    "Operation aborted: The size of the bitmap string exceeds the configuration item "             \
    "max-bitmap-to-string-mb"

/* GET: the value of a string key, or a bitmap key's string form. *value borrows from `raw` (owned
 * by the caller, reused across calls), valid until raw changes. KV_OK, KV_NOTFOUND,
 * KV_ERR_WRONGTYPE, KV_ERR (a bitmap beyond bitmap_max). */
enum kv_code str_get(struct db *db, struct kv_slice key, uint64_t bitmap_max, struct kv_buf *raw,
                     struct kv_slice *value, struct kv_err *err);

/* STRLEN: the length of a string key, or of a bitmap key's string form (its size; nothing is
 * read but the metadata). KV_OK, KV_NOTFOUND (*len 0), KV_ERR_WRONGTYPE. */
enum kv_code str_strlen(struct db *db, struct kv_slice key, int64_t *len, struct kv_err *err);

/* GETRANGE: the bytes start..end (str_range rules) of a string key, or of a bitmap key's string
 * form (only the segments in the range are read), copied into `out` (cleared first). KV_OK,
 * KV_NOTFOUND (out empty), KV_ERR_WRONGTYPE, KV_ERR for a bitmap range longer than
 * bitmap_max. */
enum kv_code str_getrange(struct db *db, struct kv_slice key, int64_t start, int64_t end,
                          uint64_t bitmap_max, struct kv_buf *out, struct kv_err *err);

/* Read n keys from one consistent view (a snapshot unless db->snap is set, or n is 1 and the key
 * is a string). raws[i] (caller initialised, n of them) receive the records. types[i] is
 * META_NONE for an absent key; META_STRING for a string or a bitmap key, whose value or string
 * form values[i] borrows from raws[i]; or the type of a key of another type (values[i] then
 * empty). The caller decides what other types mean: nil for MGET, an error for LCS. KV_ERR when a
 * bitmap's string form is longer than bitmap_max. */
enum kv_code str_mget(struct db *db, const struct kv_slice *keys, size_t n, uint64_t bitmap_max,
                      struct kv_buf *raws, struct kv_slice *values, enum meta_type *types,
                      struct kv_err *err);

/* GETRANGE's index arithmetic (Redis 7.0 rules: negative indexes count from the end, both ends
 * inclusive, clamped). Sets *off and *n to the byte range of a value of length len to return;
 * *n == 0 means the empty string. */
void str_range(size_t len, int64_t start, int64_t end, size_t *off, size_t *n);

/* --- writes --- */

enum str_cond {
    STR_COND_NONE = 0,
    STR_COND_NX, /* only when the key does not exist (any type) */
    STR_COND_XX, /* only when the key exists (any type) */
};

enum str_ttl {
    STR_TTL_CLEAR = 0, /* the new value has no expiry (plain SET, GETSET, MSET) */
    STR_TTL_KEEP,      /* keep the expiry of the existing key, whatever its type (KEEPTTL) */
    STR_TTL_AT,        /* expire at expire_at_ms */
};

struct str_set_opts {
    enum str_cond cond;
    enum str_ttl ttl;
    int64_t expire_at_ms; /* for STR_TTL_AT */
    bool get;             /* also return the old value (SET ... GET, GETSET) */
};

/* SET key value with options. *written tells whether the condition held and the value was
 * stored. With opts->get, the old value of a string key (a bitmap key's string form) is copied
 * into `old` and *had_old set (false when the key was absent); an existing key of another type
 * then fails the whole call with KV_ERR_WRONGTYPE and nothing is written. Without opts->get any
 * type is overwritten. `old` and had_old may be NULL when !opts->get; bitmap_max matters only
 * with opts->get. */
enum kv_code str_set(struct db *db, struct kv_slice key, struct kv_slice value,
                     const struct str_set_opts *opts, uint64_t bitmap_max, bool *written,
                     struct kv_buf *old, bool *had_old, struct kv_err *err);

/* MSET / MSETNX: kv holds n (key, value) pairs as 2n slices. Written in one batch under one lock
 * of all keys; a key given twice takes its last value. With nx, nothing is written if any key
 * exists (any type), and *written is false. Values get no expiry. */
enum kv_code str_mset(struct db *db, const struct kv_slice *kv, size_t n, bool nx, bool *written,
                      struct kv_err *err);

/* GETDEL: copy the value of a string key (a bitmap key's string form) into `out` and delete the
 * key. KV_NOTFOUND, or KV_ERR_WRONGTYPE (nothing deleted). */
enum kv_code str_getdel(struct db *db, struct kv_slice key, uint64_t bitmap_max, struct kv_buf *out,
                        struct kv_err *err);

/* GETEX: copy the value (a bitmap key's string form) into `out`, then change the expiry:
 * STR_TTL_KEEP leaves it, STR_TTL_CLEAR removes it (PERSIST), STR_TTL_AT sets it (deleting the key
 * when at or before now). A bitmap key stays a bitmap. KV_NOTFOUND, KV_ERR_WRONGTYPE. */
enum kv_code str_getex(struct db *db, struct kv_slice key, enum str_ttl ttl, int64_t expire_at_ms,
                       uint64_t bitmap_max, struct kv_buf *out, struct kv_err *err);

/* SETRANGE: overwrite the value from byte `offset` (>= 0) with `value`, zero-padding as needed;
 * the expiry is kept. *new_len = the resulting length. An empty `value` changes nothing (an absent
 * key stays absent, *new_len 0). KV_ERR_RANGE when offset + value.len would exceed max_len (no
 * write); KV_ERR_WRONGTYPE. A bitmap key is edited as its string form and becomes a plain
 * string. */
enum kv_code str_setrange(struct db *db, struct kv_slice key, int64_t offset, struct kv_slice value,
                          uint64_t max_len, uint64_t bitmap_max, int64_t *new_len,
                          struct kv_err *err);

/* APPEND: append to the value (creating the key); the expiry is kept. KV_ERR_RANGE when an
 * existing value would grow beyond max_len; KV_ERR_WRONGTYPE. A bitmap key is appended to as its
 * string form and becomes a plain string. */
enum kv_code str_append(struct db *db, struct kv_slice key, struct kv_slice value, uint64_t max_len,
                        uint64_t bitmap_max, int64_t *new_len, struct kv_err *err);

/* INCRBY: add `incr` to the integer value (an absent key counts as 0); the expiry is kept.
 * KV_ERR_INVALID when the value is not an integer (Redis string2ll grammar), KV_ERR_RANGE when the
 * sum overflows int64; KV_ERR_WRONGTYPE. A bitmap key's string form is parsed like a value (the
 * key then becomes a plain string holding the sum). */
enum kv_code str_incrby(struct db *db, struct kv_slice key, int64_t incr, uint64_t bitmap_max,
                        int64_t *result, struct kv_err *err);

/* INCRBYFLOAT: add the long double spelled by `incr` to the value (absent = 0; a bitmap key's
 * string form, as INCRBY) and store the sum printed as Redis prints it
 * (strconv_from_long_double); the expiry is kept. The printed sum is copied into `out`. Checks in
 * Redis's order: KV_ERR_WRONGTYPE, then KV_ERR_INVALID when the value or the increment is not a
 * valid float, then KV_ERR_RANGE when the sum is NaN or infinite. */
enum kv_code str_incrbyfloat(struct db *db, struct kv_slice key, struct kv_slice incr,
                             uint64_t bitmap_max, struct kv_buf *out, struct kv_err *err);

/* Kvrocks CAS: when the string key holds exactly `expected`, replace it with `value` (expiry
 * expire_at_ms, 0 = none) and set *result 1; 0 when the value differs; -1 when the key is
 * absent. KV_ERR_WRONGTYPE. */
enum kv_code str_cas(struct db *db, struct kv_slice key, struct kv_slice expected,
                     struct kv_slice value, int64_t expire_at_ms, int *result, struct kv_err *err);

/* Kvrocks CAD: delete the string key when it holds exactly `expected` (*result 1); 0 when it
 * differs; -1 when absent. KV_ERR_WRONGTYPE. */
enum kv_code str_cad(struct db *db, struct kv_slice key, struct kv_slice expected, int *result,
                     struct kv_err *err);

/* --- LCS (pure computation over two values) --- */

/* One common run: a[a_start..a_end] == b[b_start..b_end], inclusive. */
struct str_lcs_match {
    uint32_t a_start, a_end;
    uint32_t b_start, b_end;
};

struct str_lcs {
    uint32_t len;                  /* length of the longest common subsequence */
    struct kv_buf str;             /* owned: the subsequence itself, when asked for */
    struct str_lcs_match *matches; /* owned: the runs, last one first (Redis order) */
    size_t nmatches;
};

/* Compute the LCS of a and b as Redis 7.0's LCS does (its DP table, tie-breaking and run order).
 * want_str fills out->str; want_matches fills out->matches with the runs of length at least
 * min_match_len (0 = all). `out` must be zeroed (or deinit'ed) before; free it with
 * str_lcs_deinit even on failure. KV_ERR_RANGE when a string is too long (>= UINT32_MAX - 1
 * bytes), KV_ERR_NOMEM when the table cannot be allocated. */
enum kv_code str_lcs_compute(struct kv_slice a, struct kv_slice b, bool want_str, bool want_matches,
                             int64_t min_match_len, struct str_lcs *out, struct kv_err *err);
void str_lcs_deinit(struct str_lcs *r);

#ifdef __cplusplus
}
#endif

#endif
