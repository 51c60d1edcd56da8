/* SPDX-License-Identifier: Apache-2.0
 *
 * list: the list type (kvrocks-notes.md 2.5, 2.6, 2.9). A list is a metadata record of type 3
 *     [flags 0x83][expire_ms u64][version u64][size u64][head u64][tail u64]
 * and one sub-key per element in CF default,
 *     [ns prefix][key_len u32][user key][version u64][index u64 BE] -> element bytes
 * Elements occupy the indexes [head, tail) without gaps (size == tail - head); a new list starts
 * with head == tail == 2^63 - 1. LPUSH writes at head - 1, RPUSH at tail. Element i (0-based from
 * the left) is at index head + i.
 *
 * Every write batch starts with Kvrocks' LogData descriptor ("3 <cmd> [args]": LSET 0, LINSERT 1,
 * LTRIM 2, LPOP 3, RPOP 4, LREM 5, LPUSH 6, RPUSH 7, LMOVE 12) and deletes popped or trimmed
 * elements one sub-key at a time, as Kvrocks does, so WAL consumers that rebuild commands from
 * batches (slot migration, kvrocks2redis) see the same records. A list that becomes empty is
 * deleted (its metadata record removed; its sub-keys, if any remain, are unreachable from then on
 * and dropped by compaction).
 *
 * Cost: LLEN, LINDEX, LSET, and pushing or popping k elements touch O(1) or O(k) records; LRANGE
 * of a slice iterates only that slice; LTRIM deletes only what it removes; LPOS, LREM and LINSERT
 * iterate the list without loading it, and LREM/LINSERT rewrite the shorter side of the change.
 * Nothing here holds a whole big list in memory unless the caller asked for all of it.
 *
 * Rules of types/db.h: readers see expired or empty keys as absent and read from one snapshot
 * (metadata and elements agree even while writers run); writers lock their keys, read under the
 * lock and write one batch through db_write, which reports the touched keys (a write that changes
 * nothing reports nothing). Codes:
 *     KV_NOTFOUND       the key is absent (or the element asked for does not exist, as stated)
 *     KV_ERR_WRONGTYPE  the key holds another type
 *     KV_ERR_RANGE      an index is outside the list (list_set), or a push would overflow the
 *                       2^64 index space
 *     KV_ERR_CORRUPT    an element sub-key is missing inside [head, tail)
 *     KV_ERR_IO         from storage
 * Output parameters are left unchanged on failure unless stated otherwise.
 *
 * Threads: any worker thread; no state of its own.
 */
#ifndef KV_TYPES_LIST_H
#define KV_TYPES_LIST_H

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

/* A sequence of elements returned to the caller: all bytes in one buffer. Initialise with
 * LIST_VALUES_INIT (or zero), free with list_values_deinit. */
struct list_values {
    struct kv_buf bytes; /* owned: the elements back to back */
    size_t *ends;        /* owned: ends[i] = end offset of element i in bytes */
    size_t n;            /* number of elements */
    size_t cap;          /* capacity of ends */
};

#define LIST_VALUES_INIT                                                                           \
    {                                                                                              \
        KV_BUF_INIT, NULL, 0, 0                                                                    \
    }

void list_values_deinit(struct list_values *v);
/* Drop the elements, keeping the memory. */
void list_values_clear(struct list_values *v);
void list_values_append(struct list_values *v, struct kv_slice elem);
/* Element i (i < v->n), borrowed until v changes. */
struct kv_slice list_values_at(const struct list_values *v, size_t i);

/* Redis' range rule (LRANGE, LTRIM): negative indexes count from the end, start is clamped to 0
 * and stop to len - 1. Returns false when the range is empty; otherwise [*first, *last] are the
 * 0-based inclusive bounds. */
bool list_normalize_range(uint64_t len, int64_t start, int64_t stop, uint64_t *first,
                          uint64_t *last);

/* --- reads --- */

/* LLEN: *len = the number of elements (0 when absent). KV_ERR_WRONGTYPE. */
enum kv_code list_len(struct db *db, struct kv_slice key, uint64_t *len, struct kv_err *err);

/* LINDEX: the element at `index` (negative counts from the end) copied into out (cleared first).
 * KV_NOTFOUND when the key is absent or the index is outside the list; KV_ERR_WRONGTYPE. */
enum kv_code list_index(struct db *db, struct kv_slice key, int64_t index, struct kv_buf *out,
                        struct kv_err *err);

/* LRANGE: the elements in [start, stop] (list_normalize_range) appended to out. An absent key
 * gives no elements. KV_ERR_WRONGTYPE. Reads only the requested slice. */
enum kv_code list_range(struct db *db, struct kv_slice key, int64_t start, int64_t stop,
                        struct list_values *out, struct kv_err *err);

/* LPOS: the 0-based positions of elements equal to `value`.
 *   rank    (in) non-zero: 1 = from the first match from the left, 2 from the second...;
 *           negative counts matches from the right (-1 = last match); INT64_MIN behaves as -1
 *           (Redis 7.0 negates it with wrap-around and then accepts every match).
 *   count   (in) maximum number of positions to return, 0 = all.
 *   maxlen  (in) compare at most this many elements (from the starting end), 0 = all.
 *   pos     (out) owned array (kv_free) of *npos positions, in the order found; NULL when none.
 * An absent key yields no positions. KV_ERR_WRONGTYPE. */
enum kv_code list_pos(struct db *db, struct kv_slice key, struct kv_slice value, int64_t rank,
                      uint64_t count, uint64_t maxlen, int64_t **pos, size_t *npos,
                      struct kv_err *err);

/* --- writes --- */

/* LPUSH / RPUSH (left: each element in turn becomes the new head) and, with only_existing,
 * LPUSHX / RPUSHX (nothing happens and *new_len is 0 when the key is absent). n > 0.
 * *new_len = the length after the push. KV_ERR_WRONGTYPE, KV_ERR_RANGE. */
enum kv_code list_push(struct db *db, struct kv_slice key, const struct kv_slice *elems, size_t n,
                       bool left, bool only_existing, uint64_t *new_len, struct kv_err *err);

/* LPOP / RPOP: remove up to `count` elements from one end and append them to out in pop order
 * (count 0 only checks the key: KV_OK with nothing appended when it is a list). KV_NOTFOUND when
 * the key is absent (nothing appended). With other_type_absent a key of
 * another type also gives KV_NOTFOUND instead of KV_ERR_WRONGTYPE (a blocked pop that is
 * retried: Redis 7.0 keeps such a client waiting). On a staging thread (a worker), a run of
 * single pops from one end of one list under one hold of its key lock reads ahead (list.c). */
enum kv_code list_pop(struct db *db, struct kv_slice key, bool left, uint64_t count,
                      bool other_type_absent, struct list_values *out, struct kv_err *err);

/* Free the calling thread's pop read-ahead (before a thread that popped from lists exits). */
void list_thread_exit(void);

/* LSET: replace the element at `index` (negative counts from the end). KV_NOTFOUND when the key
 * is absent ("no such key"), KV_ERR_RANGE when the index is outside the list,
 * KV_ERR_WRONGTYPE. */
enum kv_code list_set(struct db *db, struct kv_slice key, int64_t index, struct kv_slice value,
                      struct kv_err *err);

/* LINSERT: insert `value` before or after the first element (from the left) equal to `pivot`.
 * *result = the new length, -1 when no element equals pivot, 0 when the key is absent.
 * KV_ERR_WRONGTYPE, KV_ERR_RANGE. */
enum kv_code list_insert(struct db *db, struct kv_slice key, bool before, struct kv_slice pivot,
                         struct kv_slice value, int64_t *result, struct kv_err *err);

/* LREM: remove elements equal to `value`: count > 0 the first `count` from the left, count < 0
 * the first |count| from the right, 0 all of them. *removed = how many (0 when absent).
 * KV_ERR_WRONGTYPE. */
enum kv_code list_rem(struct db *db, struct kv_slice key, int64_t count, struct kv_slice value,
                      uint64_t *removed, struct kv_err *err);

/* LTRIM: keep only [start, stop] (list_normalize_range); an empty range deletes the key. An
 * absent key is left absent. KV_ERR_WRONGTYPE. */
enum kv_code list_trim(struct db *db, struct kv_slice key, int64_t start, int64_t stop,
                       struct kv_err *err);

/* LMOVE / RPOPLPUSH: pop one element from `src` (its left end when src_left) and push it onto
 * `dst` (its left end when dst_left), atomically; src and dst may be the same list (a rotation).
 * The element is copied into out (cleared first). KV_NOTFOUND when src is absent (dst is not
 * looked at then). KV_ERR_WRONGTYPE when src, or dst when src has an element, holds another
 * type; with src_other_type_absent a src of another type gives KV_NOTFOUND instead (a retried
 * BLMOVE, as Redis 7.0). Nothing is written on any failure. */
enum kv_code list_move(struct db *db, struct kv_slice src, struct kv_slice dst, bool src_left,
                       bool dst_left, bool src_other_type_absent, struct kv_buf *out,
                       struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
