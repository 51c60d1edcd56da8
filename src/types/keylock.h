/* SPDX-License-Identifier: Apache-2.0
 *
 * keylock: striped per-key mutexes for read-modify-write commands. A key (namespace + user key)
 * hashes to one of KEYLOCK_STRIPES mutexes; a command locks all its keys' stripes in ascending
 * stripe order (duplicates once), so two commands never deadlock.
 *
 * Group commit (storage.h, storage_stage_*): a thread whose writes are staged, or that has
 * staging enabled (a worker in its round), keeps its guards' stripes locked after
 * keylock_unlock, until it calls keylock_release_deferred after the commit (the worker's round
 * end); its own later guards take such stripes over without waiting. Before it would wait for a
 * stripe, keylock_lock commits the thread's staged writes and releases its deferred stripes, so a
 * thread never waits while holding stripes for uncommitted writes. A held stage (a transaction,
 * storage_stage_hold_begin) stays uncommitted there and its stripes are released all the same:
 * its holder runs EXEC under the exclusive server lock, so no other thread takes a stripe before
 * the commit.
 *
 * Threads: any. A guard is used by one thread and must be released by it.
 */
#ifndef KV_TYPES_KEYLOCK_H
#define KV_TYPES_KEYLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KEYLOCK_STRIPES 16384
#define KEYLOCK_GUARD_INLINE 8

struct keylock_table;

struct keylock_guard {
    struct keylock_table *t;
    uint32_t *stripes; /* sorted, unique; points to inline_stripes or an owned array */
    size_t n;
    uint32_t inline_stripes[KEYLOCK_GUARD_INLINE];
};

struct keylock_table *keylock_table_new(void);
void keylock_table_free(struct keylock_table *t);

/* Lock the stripes of `n` keys of namespace `ns`. Always succeeds (blocks until acquired). */
void keylock_lock(struct keylock_table *t, struct kv_slice ns, const struct kv_slice *keys,
                  size_t n, struct keylock_guard *g);
/* Convenience for one key. */
void keylock_lock1(struct keylock_table *t, struct kv_slice ns, struct kv_slice key,
                   struct keylock_guard *g);
/* Lock one key's stripe only if that needs no wait (it is free, or this thread holds it for its
 * staged writes): true with *g holding it, false with *g zeroed and nothing held. */
bool keylock_trylock1(struct keylock_table *t, struct kv_slice ns, struct kv_slice key,
                      struct keylock_guard *g);
/* Release what keylock_lock acquired; a zeroed guard is a no-op. With staged writes pending or
 * staging enabled on the calling thread the stripes stay locked until keylock_release_deferred. */
void keylock_unlock(struct keylock_guard *g);
/* Unlock the stripes the calling thread kept for its staged writes (after committing them). */
void keylock_release_deferred(void);
/* A number that changes whenever the calling thread releases stripes: while it stays the same,
 * every stripe the thread took since it read the number is still held by it, so no other thread
 * has written those keys meanwhile (list_pop's read-ahead relies on it). */
uint64_t keylock_epoch(void);
/* Whether the calling thread found a stripe held by another thread since the last call. */
bool keylock_take_waited(void);
/* True while the calling thread keeps deferred stripes. */
bool keylock_holds_deferred(void);
/* Commit the calling thread's staged writes, then release its deferred stripes (what a thread
 * does before it waits; a no-op for a thread with neither). */
void keylock_settle(void);
/* Release, then free the calling thread's deferred-stripe list (before the thread exits). */
void keylock_thread_exit(void);

#ifdef __cplusplus
}
#endif

#endif
