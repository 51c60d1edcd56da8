/* SPDX-License-Identifier: Apache-2.0
 *
 * keylock: striped per-key mutexes for read-modify-write commands. A key (namespace + user key)
 * hashes to one of KEYLOCK_STRIPES mutexes; a command locks all its keys' stripes in ascending
 * stripe order (duplicates once), so two commands never deadlock.
 *
 * Threads: any. A guard is used by one thread and must be released by it.
 */
#ifndef KV_TYPES_KEYLOCK_H
#define KV_TYPES_KEYLOCK_H

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
/* Release what keylock_lock acquired; a zeroed guard is a no-op. */
void keylock_unlock(struct keylock_guard *g);

#ifdef __cplusplus
}
#endif

#endif
