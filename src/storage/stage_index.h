/* SPDX-License-Identifier: Apache-2.0
 *
 * stage_index: the group-commit stage's index (storage.c, storage_stage_*), from a column family
 * and a key to the latest staged record of that key. Keys are not copied: each entry names the
 * offset and length of its key's bytes in the stage's own buffer, which the caller passes as
 * `base` to every call (the buffer may move when it grows; the offsets stay valid). Open
 * addressing with linear probing: an insert costs one hash and no allocation, and clearing
 * after a commit frees nothing but a table that grew far beyond its use.
 *
 * A reference is an opaque non-zero uint64_t chosen by the caller.
 *
 * Threads: none; each stage owns its index.
 */
#ifndef KV_STORAGE_STAGE_INDEX_H
#define KV_STORAGE_STAGE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#ifdef __cplusplus
extern "C" {
#endif

struct stage_index_slot;

struct stage_index {
    struct stage_index_slot *slots; /* owned; NULL until the first insert */
    size_t cap;                     /* a power of two, or 0 */
    size_t used;
};

#define STAGE_INDEX_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void stage_index_deinit(struct stage_index *ix);
/* Map (cf, the key at base[key_off, key_off + key_len)) to ref (non-zero). Returns the reference
 * it replaces, or 0 when the key was not in the index. */
uint64_t stage_index_set(struct stage_index *ix, const char *base, unsigned cf, size_t key_off,
                         size_t key_len, uint64_t ref);
/* The reference of (cf, key), or 0. */
uint64_t stage_index_get(const struct stage_index *ix, const char *base, unsigned cf,
                         struct kv_slice key);
/* Forget every entry. */
void stage_index_clear(struct stage_index *ix);

#ifdef __cplusplus
}
#endif

#endif
