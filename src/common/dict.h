/* SPDX-License-Identifier: Apache-2.0
 *
 * dict: a hash table from binary-safe byte-string keys to void * values. The table owns a copy
 * of every key; values are owned by the table only if a free callback was given (called on
 * delete, replace and dict_free). Incremental resizing is not needed for our sizes: the table
 * doubles when the load factor reaches 1 and never blocks for long because it is only used for
 * small registries (commands, pubsub channels, cluster nodes, blocked keys).
 *
 * Threads: none of its own; the owner serialises access.
 */
#ifndef KV_COMMON_DICT_H
#define KV_COMMON_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dict;

struct dict_iter {
    const struct dict *d;
    size_t bucket;
    void *entry;
};

/* New empty table. free_val may be NULL. nocase makes key comparison and hashing ASCII
 * case-insensitive (command names). */
struct dict *dict_new(void (*free_val)(void *val), bool nocase);
void dict_free(struct dict *d); /* NULL is a no-op */

size_t dict_size(const struct dict *d);

/* The value stored under key, or NULL when absent (a stored NULL value is also returned as
 * NULL: use dict_contains to tell). */
void *dict_get(const struct dict *d, const void *key, size_t len);
bool dict_contains(const struct dict *d, const void *key, size_t len);

/* Insert; KV_ERR_EXISTS (and nothing changes) when the key is present. */
enum kv_code dict_add(struct dict *d, const void *key, size_t len, void *val);
/* Insert or replace (the old value goes to free_val). */
void dict_set(struct dict *d, const void *key, size_t len, void *val);
/* Remove; the value goes to free_val. KV_NOTFOUND when absent. */
enum kv_code dict_delete(struct dict *d, const void *key, size_t len);
/* Remove without calling free_val; returns the value in *val. KV_NOTFOUND when absent. */
enum kv_code dict_take(struct dict *d, const void *key, size_t len, void **val);

/* Iteration in unspecified order. The table must not be modified during iteration, except
 * deleting the entry just returned with dict_delete. Key pointers are valid until that entry is
 * deleted. */
void dict_iter_init(struct dict_iter *it, const struct dict *d);
bool dict_iter_next(struct dict_iter *it, const void **key, size_t *len, void **val);

/* A fast, seeded hash of bytes (process-random seed). */
uint64_t dict_hash(const void *p, size_t len);

#ifdef __cplusplus
}
#endif

#endif
