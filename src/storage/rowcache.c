/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/rowcache.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"

#define WAYS 4
#define ABSENT_LEN UINT16_MAX
#define LINE 64

/* A bucket's bookkeeping, in one cache line: a lookup that misses and a writer's begin and end
 * for a key that is not cached touch nothing else. */
struct bucket {
    _Alignas(LINE) atomic_uint lock;
    uint32_t busy;       /* writers begun and not yet ended here */
    uint32_t changes;    /* writers begun and ended here; compared for equality only */
    uint32_t clock;      /* ticks at every use of an entry */
    uint32_t tag[WAYS];  /* the high half of each entry's key hash */
    uint32_t used[WAYS]; /* the clock at the entry's last use; 0 = empty */
};

struct entry {
    uint64_t epoch; /* valid only while equal to the cache's */
    uint16_t klen;
    uint16_t vlen; /* ABSENT_LEN: the key is absent */
    char data[ROWCACHE_ENTRY_BYTES];
};

_Static_assert(sizeof(struct bucket) == LINE, "a bucket's bookkeeping fills one cache line");

struct rowcache {
    void *mem;        /* owned: the buckets, then the entries */
    struct bucket *b; /* n, line-aligned, in mem */
    struct entry *e;  /* n * WAYS, in mem */
    size_t n;
    /* Bulk writes running now, and begun so far (an entry or ticket from an earlier epoch is
     * stale). A reader loads bulk first (rowcache_bulk_end bumps the epoch before bulk drops). */
    _Alignas(LINE) atomic_uint_fast64_t bulk;
    atomic_uint_fast64_t epoch;
    _Alignas(LINE) atomic_uint_fast64_t hits;
    _Alignas(LINE) atomic_uint_fast64_t misses;
};

struct rowcache *
rowcache_new(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    struct rowcache *c = kv_calloc(1, sizeof *c);
    size_t per = sizeof(struct bucket) + WAYS * sizeof(struct entry);
    c->n = bytes / per > 0 ? bytes / per : 1;
    c->mem = kv_malloc(LINE + c->n * per);
    /* Zeroed here rather than by calloc: every page is touched now, so the resident size is
     * what it will stay. An all-zero bucket is unlocked and empty. */
    memset(c->mem, 0, LINE + c->n * per);
    c->b = (struct bucket *)(((uintptr_t)c->mem + LINE - 1) & ~(uintptr_t)(LINE - 1));
    c->e = (struct entry *)(c->b + c->n);
    return c;
}

void
rowcache_free(struct rowcache *c)
{
    if (c == NULL)
        return;
    kv_free(c->mem);
    kv_free(c);
}

static void
bucket_lock(struct bucket *b)
{
    for (unsigned spins = 0;; spins++) {
        unsigned free_ = 0;
        if (atomic_load_explicit(&b->lock, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&b->lock, &free_, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        /* Held for a few hundred nanoseconds at most, unless its holder lost its CPU. */
        if (spins >= 100)
            sched_yield();
    }
}

static void
bucket_unlock(struct bucket *b)
{
    atomic_store_explicit(&b->lock, 0, memory_order_release);
}

struct slot {
    struct bucket *b;
    struct entry *e; /* the bucket's WAYS entries */
    uint32_t tag;
};

static struct slot
slot_of(struct rowcache *c, uint64_t hash)
{
    size_t i = hash % c->n;
    return (struct slot){&c->b[i], &c->e[i * WAYS], (uint32_t)(hash >> 32)};
}

/* The way holding key, or -1. */
static int
find(const struct slot *s, struct kv_slice key)
{
    for (int i = 0; i < WAYS; i++) {
        const struct entry *e = &s->e[i];
        if (s->b->used[i] != 0 && s->b->tag[i] == s->tag && e->klen == key.len &&
            (key.len == 0 || memcmp(e->data, key.ptr, key.len) == 0))
            return i;
    }
    return -1;
}

static void
touch(struct bucket *b, int way)
{
    if (b->clock == UINT32_MAX) {
        /* Renumber the entries 1..WAYS in the same order before the clock wraps. */
        uint32_t rank[WAYS];
        for (int i = 0; i < WAYS; i++) {
            rank[i] = 0;
            for (int j = 0; b->used[i] != 0 && j < WAYS; j++)
                rank[i] += b->used[j] != 0 && b->used[j] <= b->used[i];
        }
        memcpy(b->used, rank, sizeof rank);
        b->clock = WAYS;
    }
    b->used[way] = ++b->clock;
}

/* No bulk write running and the epoch is still `epoch`. */
static bool
epoch_current(struct rowcache *c, uint64_t epoch)
{
    return atomic_load(&c->bulk) == 0 && atomic_load(&c->epoch) == epoch;
}

/* key -> val (NULL: absent) in s, over the key's old entry, else an empty or the least recently
 * used one. A key and value too long for an entry are not cached. Bucket locked. */
static void
install(const struct slot *s, struct kv_slice key, const struct kv_slice *val, uint64_t epoch)
{
    size_t vlen = val != NULL ? val->len : 0;
    int way = find(s, key);
    if (key.len + vlen > ROWCACHE_ENTRY_BYTES) {
        if (way >= 0)
            s->b->used[way] = 0;
        return;
    }
    if (way < 0) {
        way = 0;
        for (int i = 1; i < WAYS; i++) {
            if (s->b->used[i] < s->b->used[way])
                way = i;
        }
    }
    struct entry *e = &s->e[way];
    e->epoch = epoch;
    e->klen = (uint16_t)key.len;
    e->vlen = val != NULL ? (uint16_t)vlen : ABSENT_LEN;
    if (key.len > 0)
        memcpy(e->data, key.ptr, key.len);
    if (vlen > 0)
        memcpy(e->data + key.len, val->ptr, vlen);
    s->b->tag[way] = s->tag;
    touch(s->b, way);
}

enum rowcache_hit
rowcache_get(struct rowcache *c, struct kv_slice key, struct kv_buf *val,
             struct rowcache_ticket *miss)
{
    *miss = (struct rowcache_ticket){0};
    if (c == NULL)
        return ROWCACHE_MISS;
    uint64_t hash = dict_hash(key.ptr, key.len);
    struct slot s = slot_of(c, hash);
    enum rowcache_hit hit = ROWCACHE_MISS;
    bucket_lock(s.b);
    int way = find(&s, key);
    if (way >= 0 && epoch_current(c, s.e[way].epoch)) {
        const struct entry *e = &s.e[way];
        kv_buf_clear(val);
        if (e->vlen == ABSENT_LEN) {
            hit = ROWCACHE_ABSENT;
        } else {
            kv_buf_append(val, e->data + e->klen, e->vlen);
            hit = ROWCACHE_VALUE;
        }
        touch(s.b, way);
    } else {
        miss->hash = hash;
        miss->changes = s.b->changes;
        miss->usable = s.b->busy == 0 && atomic_load(&c->bulk) == 0;
        miss->epoch = atomic_load(&c->epoch);
    }
    bucket_unlock(s.b);
    atomic_fetch_add_explicit(hit != ROWCACHE_MISS ? &c->hits : &c->misses, 1,
                              memory_order_relaxed);
    return hit;
}

void
rowcache_fill(struct rowcache *c, struct kv_slice key, const struct rowcache_ticket *miss,
              const struct kv_slice *val)
{
    if (c == NULL || !miss->usable)
        return;
    struct slot s = slot_of(c, miss->hash);
    bucket_lock(s.b);
    /* No writer was busy here at the miss and none began since: what was read is current. */
    if (s.b->changes == miss->changes && epoch_current(c, miss->epoch))
        install(&s, key, val, miss->epoch);
    bucket_unlock(s.b);
}

void
rowcache_begin(struct rowcache *c, struct rowcache_write *w, size_t n)
{
    if (c == NULL)
        return;
    /* The buckets are loaded all at once: a group commit names hundreds of keys, and its key
     * locks are held meanwhile. */
    for (size_t i = 0; i < n; i++) {
        w[i].t = (struct rowcache_ticket){0};
        w[i].t.hash = dict_hash(w[i].key.ptr, w[i].key.len);
        __builtin_prefetch(slot_of(c, w[i].t.hash).b, 1);
    }
    for (size_t i = 0; i < n; i++) {
        struct rowcache_ticket *t = &w[i].t;
        struct slot s = slot_of(c, t->hash);
        bucket_lock(s.b);
        int way = find(&s, w[i].key);
        if (way >= 0) {
            t->cached = epoch_current(c, s.e[way].epoch);
            s.b->used[way] = 0;
        }
        s.b->busy++;
        t->changes = ++s.b->changes;
        t->usable = s.b->busy == 1;
        t->epoch = atomic_load(&c->epoch);
        bucket_unlock(s.b);
    }
}

void
rowcache_end(struct rowcache *c, const struct rowcache_write *w, size_t n, bool ok)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct rowcache_ticket *t = &w[i].t;
        struct slot s = slot_of(c, t->hash);
        bucket_lock(s.b);
        /* The only writer here from begin to end: what it wrote is the key's value now. */
        if (ok && t->cached && t->usable && s.b->busy == 1 && s.b->changes == t->changes &&
            epoch_current(c, t->epoch))
            install(&s, w[i].key, w[i].put ? &w[i].val : NULL, t->epoch);
        s.b->busy--;
        s.b->changes++;
        bucket_unlock(s.b);
    }
}

void
rowcache_bulk_begin(struct rowcache *c)
{
    if (c != NULL)
        atomic_fetch_add(&c->bulk, 1);
}

void
rowcache_bulk_end(struct rowcache *c)
{
    if (c == NULL)
        return;
    atomic_fetch_add(&c->epoch, 1); /* before bulk drops: see epoch_current */
    atomic_fetch_sub(&c->bulk, 1);
}

struct rowcache_stats
rowcache_stats(const struct rowcache *c)
{
    struct rowcache_stats s = {0, 0, 0};
    if (c != NULL) {
        s.bytes = c->n * (sizeof(struct bucket) + WAYS * sizeof(struct entry));
        s.hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
        s.misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
    }
    return s;
}
