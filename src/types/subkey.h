/* SPDX-License-Identifier: Apache-2.0
 *
 * subkey: what the collection types (hash, set, and any type whose elements are plain sub-keys of
 * CF default) share about the sub-keys of one key version:
 *   - bounded iteration in byte order, resumable after a position (HSCAN/SSCAN, HGETALL,
 *     SMEMBERS), with Redis's MATCH glob;
 *   - random sampling (HRANDFIELD, SRANDMEMBER, SPOP) that never loads the whole collection;
 *   - an owned list of (sub-key, value) entries in which callers collect results before they
 *     reply (a reply's length comes first);
 *   - de-duplication of the members named by one command (SADD a a, HSET f 1 f 2).
 * The sub-keys of (key, version) are the records in [prefix(version), prefix(version + 1)) of CF
 * default (storage/keys.h); the "sub-key" passed around here is the part after that prefix: the
 * hash field or set member itself.
 *
 * Apart from the whole-key reads (subkey_key_*), nothing here reads or writes metadata: the
 * caller has looked up the key's metadata (version, size), holds the key lock when it writes,
 * and sets db->snap when it wants a consistent view
 * (subkey_view_begin makes one, for any type whose reader needs metadata and sub-keys to agree).
 *
 * Threads: any worker; the random generator is per thread.
 */
#ifndef KV_TYPES_SUBKEY_H
#define KV_TYPES_SUBKEY_H

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

/* --- result lists --- */

struct subkey_entry {
    size_t sub_off, sub_len; /* the sub-key bytes within the list's buffer */
    size_t val_off, val_len; /* the value bytes */
};

/* (sub-key, value) pairs copied back to back. A zeroed struct (SUBKEY_LIST_INIT) is empty. */
struct subkey_list {
    struct kv_buf bytes;        /* owned */
    struct subkey_entry *items; /* owned; n used, cap allocated */
    size_t n;
    size_t cap;
};

#define SUBKEY_LIST_INIT                                                                           \
    {                                                                                              \
        KV_BUF_INIT, NULL, 0, 0                                                                    \
    }

void subkey_list_deinit(struct subkey_list *l); /* frees and leaves an empty list */
void subkey_list_add(struct subkey_list *l, struct kv_slice sub, struct kv_slice value);
/* The i-th entry's bytes: borrowed until the list changes. */
struct kv_slice subkey_list_sub(const struct subkey_list *l, size_t i);
struct kv_slice subkey_list_value(const struct subkey_list *l, size_t i);
/* A subkey_fn (below) that appends to the subkey_list `arg`; always continues. */
bool subkey_list_collect(void *arg, struct kv_slice sub, struct kv_slice value);

/* --- iteration --- */

/* Called for each visited sub-key; both slices are borrowed for the call. Return false to stop. */
typedef bool (*subkey_fn)(void *arg, struct kv_slice sub, struct kv_slice value);

/* Iterator bounds of the sub-keys of (key, version): lower = prefix(version), upper =
 * prefix(version + 1) (both cleared first). */
void subkey_bounds(const struct db *db, struct kv_slice key, uint64_t version, struct kv_buf *lower,
                   struct kv_buf *upper);

/* Visit the sub-keys of (key, version) in byte order, reading through db->snap (NULL: latest).
 *   after   (in) NULL: from the first; else strictly after this sub-key (any bytes; it need not
 *           exist).
 *   pattern (in) Redis glob on the sub-key: ptr NULL or "*" = all (the empty sub-key included).
 *           A literal prefix of the pattern narrows the range examined.
 *   limit   (in) stop after examining this many records, matching or not (0 = no limit).
 *   fn      (in) called for each match; returning false stops after that record.
 *   last    (out) the last sub-key examined (cleared first; meaningful when !*done).
 *   done    (out) true when no sub-key is left after `last`.
 * KV_OK, or KV_ERR_IO / KV_ERR_CORRUPT from the iterator. Sub-keys present for the whole of a
 * resumed scan are visited exactly once. */
enum kv_code subkey_scan(struct db *db, struct kv_slice key, uint64_t version,
                         const struct kv_slice *after, struct kv_slice pattern, size_t limit,
                         subkey_fn fn, void *arg, struct kv_buf *last, bool *done,
                         struct kv_err *err);

/* --- sampling --- */

/* Collections up to this many members are sampled exactly uniformly by one bounded pass; larger
 * ones, when few members are wanted, by random descents (see subkey_sample). */
#define SUBKEY_SAMPLE_EXACT_MAX 65536

/* The most picks with repetitions the commands ask for (SRANDMEMBER/HRANDFIELD with a negative
 * count). Redis has no such bound and would build any reply until memory runs out; we refuse
 * larger counts ("value is out of range") so that no request can exhaust the server's memory. */
#define SUBKEY_SAMPLE_MAX_REPEATED (1u << 24)

/* The result of subkey_sample: the entries read, and the reply order. */
struct subkey_sample {
    struct subkey_list entries; /* owned */
    size_t *picks;              /* owned: npicks indexes into entries, in reply order */
    size_t npicks;
};

void subkey_sample_deinit(struct subkey_sample *s); /* frees; a zeroed struct is valid */

/* Pick `count` random sub-keys (with their values) of (key, version), whose metadata says it
 * has `size` (> 0) of them, reading through db->snap.
 *   distinct: no sub-key twice (SRANDMEMBER with a positive count, SPOP, HRANDFIELD); with
 *     count >= size every sub-key is returned once, in byte order; otherwise in random order.
 *   !distinct: `count` independent picks (negative counts); repetitions expected.
 * Memory is bounded by what is returned (plus 8 bytes per pick), never by the collection.
 * Distribution: exactly uniform when one pass over the sub-keys is affordable (size <=
 * SUBKEY_SAMPLE_EXACT_MAX, or count above 1/256 of size); otherwise each pick descends the trie
 * of sub-keys from its root, choosing uniformly among the existing next bytes at every branching
 * level (a few seeks per level): every member can be picked, and keys with balanced prefixes
 * (hashes, UUIDs, fixed-width ids) are picked close to uniformly, but members in sparse branches
 * are favoured.
 * `out` must be zeroed; free it with subkey_sample_deinit even on failure. KV_OK, or KV_ERR_IO /
 * KV_ERR_CORRUPT. Fewer picks than asked only when the sub-keys disagree with `size`. */
enum kv_code subkey_sample(struct db *db, struct kv_slice key, uint64_t version, uint64_t size,
                           uint64_t count, bool distinct, struct subkey_sample *out,
                           struct kv_err *err);

/* --- read views --- */

/* A consistent read view for a reader of a key's metadata and sub-keys: *view = *db reading
 * through a snapshot taken here, or through db->snap when db already has one (then *snap is
 * NULL). Release with subkey_view_end(db, *snap), which frees only a snapshot taken here. */
void subkey_view_begin(struct db *db, struct db *view, struct storage_snapshot **snap);
void subkey_view_end(struct db *db, struct storage_snapshot *snap);

/* --- whole-key reads: a collection key's metadata and its sub-keys, from one view --- */

/* The size of a collection key of type `type` (0 when absent). KV_OK, KV_ERR_WRONGTYPE. */
enum kv_code subkey_key_size(struct db *db, struct kv_slice key, enum meta_type type,
                             uint64_t *size, struct kv_err *err);

/* subkey_scan over the live key of type `type` (an absent key: nothing visited, *done true, last
 * cleared). KV_OK, KV_ERR_WRONGTYPE, KV_ERR_IO / KV_ERR_CORRUPT. */
enum kv_code subkey_key_scan(struct db *db, struct kv_slice key, enum meta_type type,
                             const struct kv_slice *after, struct kv_slice pattern, size_t limit,
                             subkey_fn fn, void *arg, struct kv_buf *last, bool *done,
                             struct kv_err *err);

/* subkey_sample over the live key of type `type`. KV_OK, KV_NOTFOUND (absent: no picks),
 * KV_ERR_WRONGTYPE, KV_ERR_IO / KV_ERR_CORRUPT. */
enum kv_code subkey_key_sample(struct db *db, struct kv_slice key, enum meta_type type,
                               uint64_t count, bool distinct, struct subkey_sample *out,
                               struct kv_err *err);

/* --- helpers --- */

/* The members named by one command, without repetitions: items[0], items[stride], ... (n of
 * them, stride 1 for SADD/HDEL, 2 for HSET's field/value pairs). Returns an owned array (free
 * with kv_free) of indexes into `items` of the distinct members, keeping the LAST occurrence of
 * each (HSET f 1 f 2 sets 2), sorted by member bytes; *nuniq receives its length. */
size_t *subkey_unique(const struct kv_slice *items, size_t n, size_t stride, size_t *nuniq);

/* For a writer that finds its key's lock held by another thread (a hot key): whether the command
 * would change nothing, found without the lock. True when the live key of type `type` has every
 * sub-key items[0], items[stride], ... (n of them, as subkey_unique) and, with `values`, each
 * with the value that follows it (a field given twice must have both of its values). The metadata
 * is read before and after the sub-keys: the same record both times means that version was live
 * throughout (a deleted or expired version never comes back), so each sub-key found was in the key
 * when it was read, and the command can take effect at that moment without writing. False on
 * anything else (absent key, other type, a sub-key missing or different, a change in between, an
 * error, more than SUBKEY_UNLOCKED_MAX items): the caller then takes the lock and runs as usual,
 * which gives any error its reply. */
#define SUBKEY_UNLOCKED_MAX 16
bool subkey_unchanged_unlocked(struct db *db, struct kv_slice key, enum meta_type type,
                               const struct kv_slice *items, size_t n, size_t stride, bool values);

/* How the writers that may change nothing (SADD, HSET, HSETNX, ZADD) take their key's lock: at once
 * when it is free (or this thread's), else first the check above. True when the command changes
 * nothing (*g zeroed, nothing held); false with *g holding the key's lock. */
bool subkey_lock_unless_unchanged(struct db *db, struct kv_slice key, enum meta_type type,
                                  const struct kv_slice *items, size_t n, size_t stride,
                                  bool values, struct keylock_guard *g);

/* A uniformly distributed number in [0, n) (n > 0) from a per-thread generator; not for
 * cryptography. */
uint64_t subkey_random_below(uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
