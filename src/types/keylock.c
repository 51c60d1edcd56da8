/* SPDX-License-Identifier: Apache-2.0 */
#include "types/keylock.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "storage/storage.h"

#if defined(__SANITIZE_THREAD__)
#define KEYLOCK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KEYLOCK_TSAN 1
#endif
#endif

#ifdef KEYLOCK_TSAN
/* ThreadSanitizer's deadlock detector follows at most 64 locks held by one thread and aborts the
 * process beyond that (a CHECK in sanitizer_deadlock_detector.h), trylocks included. A command
 * holds one stripe per distinct key (MSET of 100 keys), and a worker keeps its round's stripes
 * until the commit. Under TSan the stripes are therefore locks on an atomic flag, which TSan
 * orders through their acquire and release like any atomic, and which its deadlock detector
 * does not follow; it still watches every pthread mutex. Other builds use pthread mutexes. */
typedef atomic_bool stripe_lock;

static void
stripe_init(stripe_lock *l)
{
    atomic_init(l, false);
}

static void
stripe_destroy(stripe_lock *l)
{
    (void)l;
}

static bool
stripe_trylock(stripe_lock *l)
{
    return !atomic_load_explicit(l, memory_order_relaxed) &&
           !atomic_exchange_explicit(l, true, memory_order_acquire);
}

static void
stripe_lock_wait(stripe_lock *l)
{
    while (!stripe_trylock(l)) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

static void
stripe_unlock(stripe_lock *l)
{
    atomic_store_explicit(l, false, memory_order_release);
}
#else
typedef pthread_mutex_t stripe_lock;

static void
stripe_init(stripe_lock *l)
{
    pthread_mutex_init(l, NULL);
}

static void
stripe_destroy(stripe_lock *l)
{
    pthread_mutex_destroy(l);
}

static bool
stripe_trylock(stripe_lock *l)
{
    return pthread_mutex_trylock(l) == 0;
}

static void
stripe_lock_wait(stripe_lock *l)
{
    pthread_mutex_lock(l);
}

static void
stripe_unlock(stripe_lock *l)
{
    pthread_mutex_unlock(l);
}
#endif

struct keylock_table {
    stripe_lock mu[KEYLOCK_STRIPES];
};

/* Stripes this thread still holds for its staged writes (keylock.h, group commit). A stripe is
 * held when its bit is set; `list` names every stripe set since the last release, possibly
 * twice (a stripe taken back by a guard has its bit cleared and is listed again when that guard
 * defers it again). */
struct deferred {
    struct keylock_table *t;
    uint64_t held[KEYLOCK_STRIPES / 64];
    uint32_t *list; /* owned */
    size_t n, cap;
};

static _Thread_local struct deferred deferred;
static _Thread_local bool waited;       /* keylock_take_waited */
static _Thread_local uint64_t releases; /* keylock_epoch */

uint64_t
keylock_epoch(void)
{
    return releases;
}

bool
keylock_take_waited(void)
{
    bool w = waited;
    waited = false;
    return w;
}

static bool
deferred_has(const struct keylock_table *t, uint32_t s)
{
    return deferred.t == t && (deferred.held[s / 64] >> (s % 64) & 1u) != 0;
}

static void
deferred_clear(uint32_t s)
{
    deferred.held[s / 64] &= ~(1ull << (s % 64));
}

static void
deferred_add(struct keylock_table *t, uint32_t s)
{
    KV_ASSERT(deferred.t == NULL || deferred.t == t || deferred.n == 0);
    deferred.t = t;
    deferred.held[s / 64] |= 1ull << (s % 64);
    if (deferred.n == deferred.cap) {
        deferred.cap = deferred.cap ? deferred.cap * 2 : 64;
        deferred.list = kv_realloc(deferred.list, deferred.cap * sizeof *deferred.list);
    }
    deferred.list[deferred.n++] = s;
}

void
keylock_release_deferred(void)
{
    if (deferred.n > 0)
        releases++;
    for (size_t i = 0; i < deferred.n; i++) {
        uint32_t s = deferred.list[i];
        if (deferred_has(deferred.t, s)) {
            deferred_clear(s);
            stripe_unlock(&deferred.t->mu[s]);
        }
    }
    deferred.n = 0;
    deferred.t = NULL;
}

bool
keylock_holds_deferred(void)
{
    return deferred.n > 0;
}

void
keylock_settle(void)
{
    (void)storage_stage_commit(NULL); /* a failure is kept for storage_stage_take_failure */
    keylock_release_deferred();
}

void
keylock_thread_exit(void)
{
    keylock_release_deferred();
    kv_free(deferred.list);
    deferred.list = NULL;
    deferred.cap = 0;
}

struct keylock_table *
keylock_table_new(void)
{
    struct keylock_table *t = kv_malloc(sizeof *t);
    for (size_t i = 0; i < KEYLOCK_STRIPES; i++)
        stripe_init(&t->mu[i]);
    return t;
}

void
keylock_table_free(struct keylock_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < KEYLOCK_STRIPES; i++)
        stripe_destroy(&t->mu[i]);
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

/* How many times a thread gives up the CPU (sched_yield) for a stripe before it blocks on it. A
 * stripe is held by another thread until the end of that thread's round (group commit), tens of
 * microseconds; a thread that blocks makes the holder's unlock a futex wake-up and itself wait
 * for the scheduler, and on a hot key (every worker's commands on one key) these hand-overs
 * were most of the server's time. Yielding lets the holder run, and the unlock then wakes no
 * one: LPUSH, SADD and HSET at -P 1 on one key, 8 workers on 2 cores, +35% to +50%. With nothing
 * else to run a yield returns at once, so a thread that finds no holder running gives up after
 * well under 100 us and blocks. */
#define KEYLOCK_YIELDS 100

/* Yield, then try the lock again, up to KEYLOCK_YIELDS times; true once it is taken. */
static bool
yield_for(stripe_lock *mu)
{
    for (int i = 0; i < KEYLOCK_YIELDS; i++) {
        sched_yield();
        if (stripe_trylock(mu))
            return true;
    }
    return false;
}

/* Take stripe st if that needs no wait: held since an earlier command of this thread (the guard
 * takes it over from the deferred ones), or free. */
static bool
take_at_once(struct keylock_table *t, uint32_t st)
{
    if (deferred_has(t, st)) {
        deferred_clear(st);
        return true;
    }
    return stripe_trylock(&t->mu[st]);
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
    for (size_t i = 0; i < u; i++) {
        uint32_t st = g->stripes[i];
        if (take_at_once(t, st))
            continue;
        /* About to wait: never while holding stripes for staged writes, which another thread
         * may be waiting for in turn. Commit them and release every deferred stripe this guard
         * has not taken over; the guard then holds only stripes below st, as the ascending
         * order requires. (A held stage stays uncommitted: keylock.h.) */
        waited = true;
        keylock_settle();
        if (!yield_for(&t->mu[st]))
            stripe_lock_wait(&t->mu[st]);
    }
}

void
keylock_lock1(struct keylock_table *t, struct kv_slice ns, struct kv_slice key,
              struct keylock_guard *g)
{
    keylock_lock(t, ns, &key, 1, g);
}

bool
keylock_trylock1(struct keylock_table *t, struct kv_slice ns, struct kv_slice key,
                 struct keylock_guard *g)
{
    uint32_t st = stripe_of(ns, key);
    if (!take_at_once(t, st)) {
        memset(g, 0, sizeof *g);
        return false;
    }
    g->t = t;
    g->stripes = g->inline_stripes;
    g->stripes[0] = st;
    g->n = 1;
    return true;
}

void
keylock_unlock(struct keylock_guard *g)
{
    if (g->t == NULL)
        return;
    if (storage_stage_pending() || storage_stage_enabled()) {
        /* The writes made under this guard are staged, not yet in the DB: whoever takes these
         * keys next must wait for the commit (keylock_release_deferred). A staging thread keeps
         * the stripes of commands that wrote nothing too, until its round ends: a hot key then
         * changes hands once a round, not once a command (each hand-over is a futex wake-up and
         * mostly a context switch). */
        for (size_t i = 0; i < g->n; i++)
            deferred_add(g->t, g->stripes[i]);
    } else {
        releases++;
        for (size_t i = g->n; i > 0; i--)
            stripe_unlock(&g->t->mu[g->stripes[i - 1]]);
    }
    if (g->stripes != g->inline_stripes)
        kv_free(g->stripes);
    g->t = NULL;
    g->n = 0;
}
