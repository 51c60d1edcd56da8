/* SPDX-License-Identifier: Apache-2.0
 *
 * hash: the hash type (kvrocks-notes.md 2.6). A hash is a metadata record of type 2 whose size is
 * the number of fields, and one record per field in CF default:
 *     [ns prefix][key_len u32][user key][version u64][field bytes]  ->  field value
 * A hash whose last field is deleted is deleted (its metadata record removed), as in Redis; DEL
 * and overwrites are O(1) through the version (old fields are dropped by compaction).
 *
 * Rules of types/db.h: reads treat an expired key as absent and never delete; a write locks its
 * key, reads under the lock and writes everything in one batch through db_write (reporting the
 * key as touched). Writes keep the key's expiry. Nothing here knows RESP; the command layer
 * words the errors from these codes:
 *     KV_NOTFOUND       the key (or field) is absent: an outcome, not an error
 *     KV_ERR_WRONGTYPE  the key holds another type
 *     KV_ERR_INVALID    HINCRBY/HINCRBYFLOAT: the stored value is not a number of that kind
 *     KV_ERR_RANGE      HINCRBY overflow; HINCRBYFLOAT result NaN or infinite
 *     KV_ERR_IO / KV_ERR_CORRUPT from storage
 * Output parameters are left unchanged on failure unless stated otherwise.
 *
 * Big hashes: no function loads the whole hash except those whose reply is the whole hash
 * (hash_scan with no limit, hash_random with count >= size); HLEN is O(1).
 *
 * Threads: any worker thread; no state of its own.
 */
#ifndef KV_TYPES_HASH_H
#define KV_TYPES_HASH_H

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

/* HGET / HEXISTS / HSTRLEN: the value of `field` into `value` (cleared first; may be NULL to
 * test existence only). KV_OK, KV_NOTFOUND (key or field absent), KV_ERR_WRONGTYPE. */
enum kv_code hash_get(struct db *db, struct kv_slice key, struct kv_slice field,
                      struct kv_buf *value, struct kv_err *err);

/* HMGET: values[i] (caller initialised, n of them) receives the value of fields[i] and found[i]
 * whether it exists, all from one consistent view. An absent key gives all not found (KV_OK).
 * KV_ERR_WRONGTYPE. */
enum kv_code hash_mget(struct db *db, struct kv_slice key, const struct kv_slice *fields, size_t n,
                       struct kv_buf *values, bool *found, struct kv_err *err);

/* HLEN: the number of fields (0 when absent), from the metadata. KV_ERR_WRONGTYPE. */
enum kv_code hash_size(struct db *db, struct kv_slice key, uint64_t *size, struct kv_err *err);

/* HSCAN / HGETALL / HKEYS / HVALS: visit the fields (and values) in byte order, from one
 * consistent view; the arguments after `key` are those of subkey_scan (types/subkey.h).
 * KV_NOTFOUND when the key is absent (*done is then true and `last` empty), KV_ERR_WRONGTYPE. */
enum kv_code hash_scan(struct db *db, struct kv_slice key, const struct kv_slice *after,
                       struct kv_slice pattern, size_t limit, subkey_fn fn, void *arg,
                       struct kv_buf *last, bool *done, struct kv_err *err);

/* HRANDFIELD: `count` random fields with their values (subkey_sample's rules: distinct, or with
 * repetitions), from one consistent view. `out` must be zeroed; free it with
 * subkey_sample_deinit. KV_NOTFOUND when absent, KV_ERR_WRONGTYPE. */
enum kv_code hash_random(struct db *db, struct kv_slice key, uint64_t count, bool distinct,
                         struct subkey_sample *out, struct kv_err *err);

/* --- writes --- */

/* HSET / HMSET / HSETNX: fv holds npairs (field, value) pairs as 2 * npairs slices; a field given
 * twice takes its last value. With nx a field that exists keeps its value. *added = the number of
 * fields created. Creates the key when absent. KV_ERR_WRONGTYPE. */
enum kv_code hash_set(struct db *db, struct kv_slice key, const struct kv_slice *fv, size_t npairs,
                      bool nx, uint64_t *added, struct kv_err *err);

/* HDEL: delete fields[0..n) (a field named twice counts once); deleting the last field deletes
 * the key. *deleted = the number of fields removed. KV_ERR_WRONGTYPE. */
enum kv_code hash_delete(struct db *db, struct kv_slice key, const struct kv_slice *fields,
                         size_t n, uint64_t *deleted, struct kv_err *err);

/* HINCRBY: add incr to the field's integer value (absent = 0; Redis string2ll grammar) and store
 * the decimal result. KV_ERR_INVALID when the value is not an integer, KV_ERR_RANGE when the sum
 * overflows int64 (nothing written), KV_ERR_WRONGTYPE. */
enum kv_code hash_incrby(struct db *db, struct kv_slice key, struct kv_slice field, int64_t incr,
                         int64_t *result, struct kv_err *err);

/* HINCRBYFLOAT: add incr (finite) to the field's value read as a long double (absent = 0) and
 * store the sum printed as Redis prints it (strconv_from_long_double), also copied into `out`
 * (cleared first). KV_ERR_INVALID when the value is not a float, KV_ERR_RANGE when the sum is NaN
 * or infinite (nothing written), KV_ERR_WRONGTYPE. */
enum kv_code hash_incrbyfloat(struct db *db, struct kv_slice key, struct kv_slice field,
                              long double incr, struct kv_buf *out, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
