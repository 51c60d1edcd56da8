/* SPDX-License-Identifier: Apache-2.0
 *
 * dict: a hash table from binary-safe byte-string keys to void * values. The table owns a copy
 * of every key; values are owned by the table only if a free callback was given (called on
 * delete, replace and dict_free, for non-NULL values). Incremental resizing is not needed for
 * our sizes: the table doubles when the load factor reaches 1 and never blocks for long because
 * it is only used for small registries (commands, pubsub channels, cluster nodes, blocked keys).
 * It does not shrink on delete (so deleting during iteration is safe); an insert into a table
 * that is less than 1/8 full shrinks it first.
 *
 * Keys are hashed with a seeded hash whose seed is drawn once per process from getrandom(2)
 * (falling back to /dev/urandom), so clients cannot precompute colliding channel names.
 *
 * Threads: none of its own; the owner serialises access. dict_hash may be called from any
 * thread.
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

/* Iteration cursor; the fields are private. */
struct dict_iter {
    const struct dict *d;
    size_t bucket; /* next bucket to scan */
    void *entry;   /* next entry to return in the current chain, or NULL */
};

/* New empty table. free_val may be NULL. nocase makes key comparison and hashing ASCII
 * case-insensitive (command names); the stored key keeps the case of the first insert. */
struct dict *dict_new(void (*free_val)(void *val), bool nocase);
void dict_free(struct dict *d); /* NULL is a no-op */

size_t dict_size(const struct dict *d);

/* The value stored under key, or NULL when absent (a stored NULL value is also returned as
 * NULL: use dict_contains to tell). */
void *dict_get(const struct dict *d, const void *key, size_t len);
bool dict_contains(const struct dict *d, const void *key, size_t len);

/* Insert; KV_ERR_EXISTS (and nothing changes) when the key is present. */
enum kv_code dict_add(struct dict *d, const void *key, size_t len, void *val);
/* Insert or replace (the old value goes to free_val; the stored key is kept). */
void dict_set(struct dict *d, const void *key, size_t len, void *val);
/* Remove; the value goes to free_val. KV_NOTFOUND when absent. */
enum kv_code dict_delete(struct dict *d, const void *key, size_t len);
/* Remove without calling free_val; returns the value in *val. KV_NOTFOUND when absent (and *val
 * is left unchanged). */
enum kv_code dict_take(struct dict *d, const void *key, size_t len, void **val);

/* Iteration in unspecified order. The table must not be modified during iteration, except
 * removing the entry just returned with dict_delete or dict_take. The returned key points at
 * the table's copy: len bytes followed by a NUL, valid until that entry is removed or the
 * table freed. */
void dict_iter_init(struct dict_iter *it, const struct dict *d);
bool dict_iter_next(struct dict_iter *it, const void **key, size_t *len, void **val);

/* A fast, seeded 64-bit hash of bytes (process-random seed; differs between runs). */
uint64_t dict_hash(const void *p, size_t len);

#ifdef __cplusplus
}
#endif

#endif
