/* SPDX-License-Identifier: Apache-2.0
 *
 * db: the type-agnostic keyspace of one namespace: metadata lookup with type checks and lazy
 * expiry, EXISTS, DEL, TYPE, EXPIRE/TTL, SCAN/KEYS, RENAME/COPY, RANDOMKEY, DBSIZE, FLUSHDB.
 * Knows storage, not clients: no RESP, no sockets.
 *
 * Rules every type module follows (DESIGN.md section 4):
 *   - an expired or (for non-emptyable types) empty record reads as absent; reads never delete;
 *   - a read-modify-write locks its keys with keylock first, then reads, then writes everything
 *     it changes in one storage batch through db_write, which also reports the touched keys;
 *   - re-creating a key gives it a new version, so old sub-keys become unreachable at once.
 *
 * Errors: KV_NOTFOUND (absent), KV_ERR_WRONGTYPE, KV_ERR_IO / KV_ERR_CORRUPT from storage.
 *
 * Threads: any worker; a struct db is a small handle a connection owns (the storage and lock
 * table it points to are shared and thread-safe).
 */
#ifndef KV_TYPES_DB_H
#define KV_TYPES_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"
#include "storage/meta.h"
#include "storage/storage.h"
#include "types/keylock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called after every successful write for each key it modified (WATCH, blocked clients,
 * keyspace statistics). Runs on the writing thread, after the write, with no key lock held. */
struct db_hooks {
    void (*touched)(void *arg, struct kv_slice ns, struct kv_slice key);
    void *arg;
};

struct db {
    struct storage *st;                  /* borrowed: the open storage */
    struct keylock_table *locks;         /* borrowed */
    struct kv_slice ns;                  /* borrowed: the namespace (lives as long as the handle) */
    bool cluster;                        /* keys carry their slot */
    const struct db_hooks *hooks;        /* borrowed; may be NULL */
    const struct storage_snapshot *snap; /* NULL: read latest; else reads use this snapshot */
};

/* --- metadata --- */

/* Read the metadata of `key` into `m` (payload borrowed from `raw`, which the caller owns).
 * want == META_NONE accepts any type. KV_OK for a live key; KV_NOTFOUND when absent, expired or
 * empty; KV_ERR_WRONGTYPE when it has another type than `want`. */
enum kv_code db_get_meta(struct db *db, struct kv_slice key, enum meta_type want, struct meta *m,
                         struct kv_buf *raw, struct kv_err *err);

/* The metadata key of `key` in this namespace (out cleared first). */
void db_meta_key(const struct db *db, struct kv_slice key, struct kv_buf *out);
/* The sub-key prefix of (key, version) (out cleared first). */
void db_subkey_prefix(const struct db *db, struct kv_slice key, uint64_t version,
                      struct kv_buf *out);

/* Write a batch and report `n` touched keys to the hooks. */
enum kv_code db_write(struct db *db, struct storage_batch *b, const struct kv_slice *touched,
                      size_t n, struct kv_err *err);

/* Report `n` keys to the hooks as touched without writing: a command that Redis counts as a
 * modification although it left the data as it was (HSET of a field's current value). */
void db_touch(struct db *db, const struct kv_slice *touched, size_t n);

/* Add to batch `b` the deletion of `key` (its metadata record; sub-keys become unreachable). */
void db_batch_delete_key(struct db *db, struct storage_batch *b, struct kv_slice key);

/* For writers of non-string types: the live metadata of `key` if it has type `type` (KV_OK), or
 * a fresh record of that type (KV_NOTFOUND: absent, expired or empty; *m is meta_init'ed with a
 * new version, so sub-keys of any earlier incarnation are unreachable). KV_ERR_WRONGTYPE when
 * the key is live with another type. Call with the key locked. */
enum kv_code db_get_meta_for_write(struct db *db, struct kv_slice key, enum meta_type type,
                                   struct meta *m, struct kv_buf *raw, struct kv_err *err);

/* Add to `b` the metadata record of `key` (encoded from m). */
void db_batch_put_meta(struct db *db, struct storage_batch *b, struct kv_slice key,
                       const struct meta *m);

/* out = the sub-key (key, version, sub) in this namespace (cleared first). */
void db_subkey(const struct db *db, struct kv_slice key, uint64_t version, struct kv_slice sub,
               struct kv_buf *out);

/* --- keyspace commands --- */

/* Count of live keys among keys[0..n) (a key listed twice counts twice, as EXISTS). */
enum kv_code db_exists(struct db *db, const struct kv_slice *keys, size_t n, int64_t *count,
                       struct kv_err *err);

/* Delete the live keys among keys[0..n) in one batch; *deleted = how many distinct keys existed
 * (a key listed twice counts once, as DEL). */
enum kv_code db_delete(struct db *db, const struct kv_slice *keys, size_t n, int64_t *deleted,
                       struct kv_err *err);

/* TYPE: META_NONE when absent. */
enum kv_code db_type(struct db *db, struct kv_slice key, enum meta_type *type, struct kv_err *err);

/* The name TYPE replies and SCAN ... TYPE matches for a stored type. It is meta_type_name except
 * that bitmap and hyperloglog keys answer "string": in Redis both are strings (clients such as
 * redis-py, and tools that dump or migrate by type, expect only Redis's names), and GET, STRLEN
 * and GETRANGE read a bitmap key as its string. Kvrocks prints "bitmap" and "hyperloglog" here. */
const char *db_type_reply_name(enum meta_type t);

#define DB_EXPIRE_NX 1 /* only when the key has no expiry */
#define DB_EXPIRE_XX 2 /* only when the key has an expiry */
#define DB_EXPIRE_GT 4 /* only when the new expiry is greater (no expiry = infinite) */
#define DB_EXPIRE_LT 8 /* only when the new expiry is less */

/* Set the absolute expiry (ms since the epoch) of a live key under the DB_EXPIRE_* conditions.
 * An expiry at or before now deletes the key. *changed = whether anything was done (EXPIRE's
 * 1/0). */
enum kv_code db_expire(struct db *db, struct kv_slice key, int64_t at_ms, int flags, bool *changed,
                       struct kv_err *err);

/* PERSIST: *changed = whether an expiry was removed. */
enum kv_code db_persist(struct db *db, struct kv_slice key, bool *changed, struct kv_err *err);

/* The absolute expiry in ms: -2 when absent, -1 when none. */
enum kv_code db_expire_at(struct db *db, struct kv_slice key, int64_t *at_ms, struct kv_err *err);

/* Visit live keys in key order, matching the glob `pattern` (ptr NULL or "*" = all, the empty
 * pattern matches only the empty key) and of type `type` (META_NONE = any; otherwise every key
 * whose db_type_reply_name equals that of `type`, so META_STRING also selects bitmaps and
 * hyperloglogs).
 *   after  (in) NULL: from the start; else strictly after this position, as returned in `last`
 *          by an earlier call on the same db (the user key, or in cluster mode the whole record
 *          key; the empty user key is a valid position).
 *   limit  (in) stop after examining this many records, live or not (0 = no limit).
 *   fn     (in) called for each match with the user key and its metadata (both borrowed for the
 *          call); returning false stops the scan after this key.
 *   last   (out) the position of the last record examined (cleared first; meaningful when
 *          *done is false).
 *   done   (out) true when the end of the namespace was reached.
 * Errors: KV_ERR_IO / KV_ERR_CORRUPT from the iterator. Keys that exist for the whole of a
 * resumed scan are visited exactly once; keys written meanwhile may or may not be. */
enum kv_code db_scan(struct db *db, const struct kv_slice *after, struct kv_slice pattern,
                     enum meta_type type, size_t limit,
                     bool (*fn)(void *arg, struct kv_slice key, const struct meta *m), void *arg,
                     struct kv_buf *last, bool *done, struct kv_err *err);

/* Number of live keys in the namespace (scans the metadata). */
enum kv_code db_size(struct db *db, uint64_t *count, struct kv_err *err);

/* A random live key into out (cleared first; the empty key is a valid answer): seeks to a random
 * point between the first and the last record of the namespace and picks one of the next 16
 * live keys from there (wrapping around to the start). A few reads, not a scan; not uniform
 * (keys after a sparse stretch of the key space are favoured), like Kvrocks' sampling.
 * KV_NOTFOUND when the namespace has no live key. */
enum kv_code db_random_key(struct db *db, struct kv_buf *out, struct kv_err *err);

/* Delete every key of the namespace (metadata range delete; sub-keys are reclaimed by
 * compaction). */
enum kv_code db_flush(struct db *db, struct kv_err *err);
/* Delete every key of every namespace. */
enum kv_code db_flush_all(struct storage *st, struct kv_err *err);

/* RENAME / RENAMENX: KV_NOTFOUND when src is absent ("no such key"). With nx and an existing dst
 * nothing happens and *done is false. Renaming a key to itself succeeds without change. */
enum kv_code db_rename(struct db *db, struct kv_slice src, struct kv_slice dst, bool nx, bool *done,
                       struct kv_err *err);

/* COPY src dst [REPLACE]: *done false when src is absent or dst exists without replace. */
enum kv_code db_copy(struct db *db, struct kv_slice src, struct kv_slice dst, bool replace,
                     bool *done, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
