/* SPDX-License-Identifier: Apache-2.0 */
#include "types/keylock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"

struct keylock_table {
    pthread_mutex_t mu[KEYLOCK_STRIPES];
};

struct keylock_table *
keylock_table_new(void)
{
    struct keylock_table *t = kv_malloc(sizeof *t);
    for (size_t i = 0; i < KEYLOCK_STRIPES; i++)
        pthread_mutex_init(&t->mu[i], NULL);
    return t;
}

void
keylock_table_free(struct keylock_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < KEYLOCK_STRIPES; i++)
        pthread_mutex_destroy(&t->mu[i]);
    kv_free(t);
}

static uint32_t
stripe_of(struct kv_slice ns, struct kv_slice key)
{
    uint64_t h = dict_hash(key.ptr, key.len) ^ (dict_hash(ns.ptr, ns.len) * 0x9E3779B97F4A7C15ULL);
    return (uint32_t)(h % KEYLOCK_STRIPES);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

void
keylock_lock(struct keylock_table *t, struct kv_slice ns, const struct kv_slice *keys, size_t n,
             struct keylock_guard *g)
{
    g->t = t;
    g->stripes = n <= KEYLOCK_GUARD_INLINE ? g->inline_stripes : kv_malloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
        g->stripes[i] = stripe_of(ns, keys[i]);
    qsort(g->stripes, n, sizeof(uint32_t), cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || g->stripes[u - 1] != g->stripes[i])
            g->stripes[u++] = g->stripes[i];
    }
    g->n = u;
    for (size_t i = 0; i < u; i++)
        pthread_mutex_lock(&t->mu[g->stripes[i]]);
}

void
keylock_lock1(struct keylock_table *t, struct kv_slice ns, struct kv_slice key,
              struct keylock_guard *g)
{
    keylock_lock(t, ns, &key, 1, g);
}

void
keylock_unlock(struct keylock_guard *g)
{
    if (g->t == NULL)
        return;
    for (size_t i = g->n; i > 0; i--)
        pthread_mutex_unlock(&g->t->mu[g->stripes[i - 1]]);
    if (g->stripes != g->inline_stripes)
        kv_free(g->stripes);
    g->t = NULL;
    g->n = 0;
}
