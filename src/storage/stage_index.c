/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/stage_index.h"

#include <string.h>

#include "common/dict.h"
#include "common/mem.h"

struct stage_index_slot {
    uint64_t hash; /* 0: empty */
    uint64_t ref;
    uint32_t key_off;
    uint32_t key_len;
    uint32_t cf;
};

/* The first table; a clear frees a table this many times bigger than what it held. */
#define INDEX_MIN_CAP 256
#define INDEX_SHRINK_FACTOR 16

static uint64_t
hash_of(unsigned cf, const void *key, size_t len)
{
    uint64_t h = dict_hash(key, len) ^ ((uint64_t)(cf + 1) * 0x9E3779B97F4A7C15ULL);
    return h != 0 ? h : 1;
}

static struct stage_index_slot *
find(const struct stage_index *ix, const char *base, uint64_t h, unsigned cf, const void *key,
     size_t len)
{
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct stage_index_slot *s = &ix->slots[i];
        if (s->hash == 0)
            return s;
        if (s->hash == h && s->cf == cf && s->key_len == len &&
            memcmp(base + s->key_off, key, len) == 0)
            return s;
    }
}

static void
grow(struct stage_index *ix)
{
    size_t cap = ix->cap != 0 ? ix->cap * 2 : INDEX_MIN_CAP;
    struct stage_index_slot *old = ix->slots;
    size_t old_cap = ix->cap;
    ix->slots = kv_calloc(cap, sizeof *ix->slots);
    ix->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].hash == 0)
            continue;
        size_t j = old[i].hash & (cap - 1);
        while (ix->slots[j].hash != 0)
            j = (j + 1) & (cap - 1);
        ix->slots[j] = old[i];
    }
    kv_free(old);
}

uint64_t
stage_index_set(struct stage_index *ix, const char *base, unsigned cf, size_t key_off,
                size_t key_len, uint64_t ref)
{
    if ((ix->used + 1) * 2 > ix->cap)
        grow(ix);
    const char *key = base + key_off;
    uint64_t h = hash_of(cf, key, key_len);
    struct stage_index_slot *s = find(ix, base, h, cf, key, key_len);
    if (s->hash != 0) {
        uint64_t old = s->ref;
        s->ref = ref;
        return old;
    }
    *s = (struct stage_index_slot){.hash = h,
                                   .ref = ref,
                                   .key_off = (uint32_t)key_off,
                                   .key_len = (uint32_t)key_len,
                                   .cf = cf};
    ix->used++;
    return 0;
}

uint64_t
stage_index_get(const struct stage_index *ix, const char *base, unsigned cf, struct kv_slice key)
{
    if (ix->used == 0)
        return 0;
    struct stage_index_slot *s =
        find(ix, base, hash_of(cf, key.ptr, key.len), cf, key.ptr, key.len);
    return s->hash != 0 ? s->ref : 0;
}

void
stage_index_clear(struct stage_index *ix)
{
    if (ix->used == 0)
        return;
    if (ix->cap > INDEX_MIN_CAP && ix->used * INDEX_SHRINK_FACTOR < ix->cap) {
        /* A burst grew the table: give it back rather than wipe it after every commit. */
        kv_free(ix->slots);
        ix->slots = NULL;
        ix->cap = 0;
    } else {
        memset(ix->slots, 0, ix->cap * sizeof *ix->slots);
    }
    ix->used = 0;
}

void
stage_index_deinit(struct stage_index *ix)
{
    kv_free(ix->slots);
    ix->slots = NULL;
    ix->cap = 0;
    ix->used = 0;
}
