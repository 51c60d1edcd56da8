/* SPDX-License-Identifier: Apache-2.0
 *
 * set: the set type (kvrocks-notes.md 2.6). A set is a metadata record of type 4 whose size is
 * the number of members, and one record per member in CF default with an empty value:
 *     [ns prefix][key_len u32][user key][version u64][member bytes]  ->  ""
 * A set whose last member is removed is deleted (its metadata record removed), as in Redis; DEL
 * and overwrites are O(1) through the version (old members are dropped by compaction). Members
 * iterate in byte order, so unions are k-way merges of sorted streams.
 *
 * Rules of types/db.h: reads treat an expired key as absent and never delete; a write locks all
 * its keys in one keylock_lock call, reads under the lock and writes everything in one batch
 * through db_write (reporting the keys it changed). Writes keep the key's expiry, except the
 * STORE operations, whose destination is replaced. Nothing here knows RESP; codes:
 *     KV_NOTFOUND       the key is absent: an outcome, not an error
 *     KV_ERR_WRONGTYPE  a key holds another type
 *     KV_ERR_IO / KV_ERR_CORRUPT from storage
 * Output parameters are left unchanged on failure unless stated otherwise.
 *
 * Big sets: SCARD is O(1); only the functions whose result is the whole set read it whole, and
 * even they stream it (through a callback or into the destination's batch).
 *
 * Threads: any worker thread; no state of its own.
 */
#ifndef KV_TYPES_SET_H
#define KV_TYPES_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"
#include "types/db.h"
#include "types/subkey.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- reads --- */

/* SCARD: the number of members (0 when absent), from the metadata. KV_ERR_WRONGTYPE. */
enum kv_code set_card(struct db *db, struct kv_slice key, uint64_t *card, struct kv_err *err);

/* SISMEMBER / SMISMEMBER: is_member[i] = whether members[i] is in the set (all false when the key
 * is absent), from one consistent view. KV_ERR_WRONGTYPE. */
enum kv_code set_is_member(struct db *db, struct kv_slice key, const struct kv_slice *members,
                           size_t n, bool *is_member, struct kv_err *err);

/* SSCAN / SMEMBERS: visit the members in byte order from one consistent view; the arguments after
 * `key` are those of subkey_scan (values are empty). KV_NOTFOUND when the key is absent (*done is
 * then true and `last` empty), KV_ERR_WRONGTYPE. */
enum kv_code set_scan(struct db *db, struct kv_slice key, const struct kv_slice *after,
                      struct kv_slice pattern, size_t limit, subkey_fn fn, void *arg,
                      struct kv_buf *last, bool *done, struct kv_err *err);

/* SRANDMEMBER: `count` random members (subkey_sample's rules: distinct, or with repetitions) from
 * one consistent view. `out` must be zeroed; free it with subkey_sample_deinit. KV_NOTFOUND when
 * absent, KV_ERR_WRONGTYPE. */
enum kv_code set_random(struct db *db, struct kv_slice key, uint64_t count, bool distinct,
                        struct subkey_sample *out, struct kv_err *err);

enum set_op {
    SET_OP_UNION,
    SET_OP_INTER,
    SET_OP_DIFF, /* keys[0] minus all the others */
};

/* Called with each member of a combination's result (borrowed for the call); false stops. */
typedef bool (*set_member_fn)(void *arg, struct kv_slice member);

/* SUNION / SINTER / SDIFF / SINTERCARD: stream the members of the combination of keys[0..n)
 * (n >= 1; an absent key is an empty set; a key may repeat) to fn, from one consistent view. Every
 * key is type-checked first: KV_ERR_WRONGTYPE when any holds another type, before fn is called.
 * Each member is given once. The order is byte order for union and difference, and that of the
 * smallest set for intersection. */
enum kv_code set_combine(struct db *db, enum set_op op, const struct kv_slice *keys, size_t n,
                         set_member_fn fn, void *arg, struct kv_err *err);

/* --- writes --- */

/* SADD: *added = members newly added (a member named twice counts once). Creates the key. */
enum kv_code set_add(struct db *db, struct kv_slice key, const struct kv_slice *members, size_t n,
                     uint64_t *added, struct kv_err *err);

/* SREM: *removed = members removed; removing the last member deletes the key. */
enum kv_code set_remove(struct db *db, struct kv_slice key, const struct kv_slice *members,
                        size_t n, uint64_t *removed, struct kv_err *err);

/* SPOP key count: remove up to `count` random members and append them to `out` (values empty):
 * all of them, in byte order, when count >= the size (the key is deleted), else distinct members
 * in random order (subkey_sample's distribution). An absent key appends nothing (KV_OK).
 * KV_ERR_WRONGTYPE. */
enum kv_code set_pop(struct db *db, struct kv_slice key, uint64_t count, struct subkey_list *out,
                     struct kv_err *err);

/* SMOVE: move `member` from src to dst in one batch. *moved false when src is absent (whatever
 * dst holds: Redis answers 0 before type checks) or lacks the member. KV_ERR_WRONGTYPE when src
 * or dst holds another type. src == dst: *moved tells membership, nothing is written. */
enum kv_code set_move(struct db *db, struct kv_slice src, struct kv_slice dst,
                      struct kv_slice member, bool *moved, struct kv_err *err);

/* SUNIONSTORE / SINTERSTORE / SDIFFSTORE: compute the combination of keys[0..n) (as set_combine)
 * and replace dst, whatever its type (expiry dropped), with the result in one batch; an empty
 * result deletes dst. dst may be one of the keys. *card = the result's size. KV_ERR_WRONGTYPE (a
 * source) leaves dst untouched. */
enum kv_code set_combine_store(struct db *db, enum set_op op, struct kv_slice dst,
                               const struct kv_slice *keys, size_t n, uint64_t *card,
                               struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
