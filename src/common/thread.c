/* SPDX-License-Identifier: Apache-2.0
 *
 * thread: pthreads plus a stop flag and an eventfd. The eventfd is written once per stop
 * request and never read, so its counter stays non-zero and every later poll() on it returns
 * at once: a stop cannot be "consumed" by one waiter and missed by the next.
 *
 * Joining uses pthread_timedjoin_np, whose deadline is CLOCK_REALTIME; the wait is cut into
 * short slices re-checked against the monotonic clock, so a wall-clock jump cannot stretch or
 * shrink the bound by more than a slice.
 *
 * Threads: see thread.h.
 */
#include "common/thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"

/* Longest single pthread_timedjoin_np wait, so the monotonic deadline is re-checked often. */
#define JOIN_SLICE_MS 50

struct kv_thread {
    pthread_t tid;
    kv_thread_fn fn;
    void *arg;           /* borrowed: the caller's argument to fn */
    int stop_fd;         /* owned eventfd; closed by the successful join */
    atomic_bool stop;    /* set once by kv_thread_request_stop, never cleared */
    atomic_bool running; /* true until fn returns */
    char name[KV_THREAD_NAME_MAX + 1];
};

static _Thread_local struct kv_thread *current_thread;

static void *
trampoline(void *p)
{
    struct kv_thread *t = p;
    current_thread = t;
    pthread_setname_np(pthread_self(), t->name);
    t->fn(t, t->arg);
    atomic_store(&t->running, false);
    return NULL;
}

enum kv_code
kv_thread_start(struct kv_thread **out, kv_thread_fn fn, void *arg, const char *name,
                struct kv_err *err)
{
    struct kv_thread *t = kv_calloc(1, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    atomic_init(&t->stop, false);
    atomic_init(&t->running, true);
    size_t n = strlen(name);
    if (n > KV_THREAD_NAME_MAX)
        n = KV_THREAD_NAME_MAX;
    memcpy(t->name, name, n);
    t->name[n] = '\0';

    t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->stop_fd < 0) {
        int e = errno;
        kv_free(t);
        return kv_err_set(err, KV_ERR_IO, "eventfd for thread %s: %s", name, strerror(e));
    }

    /* The new thread inherits the mask in effect at pthread_create. */
    sigset_t block, saved;
    sigemptyset(&block);
    int blocked[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGPIPE};
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        sigaddset(&block, blocked[i]);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    int rc = pthread_create(&t->tid, NULL, trampoline, t);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0) {
        close(t->stop_fd);
        kv_free(t);
        return kv_err_set(err, KV_ERR_IO, "pthread_create for thread %s: %s", name, strerror(rc));
    }
    *out = t;
    return KV_OK;
}

void
kv_thread_request_stop(struct kv_thread *t)
{
    atomic_store(&t->stop, true);
    uint64_t one = 1;
    /* Can only fail with EAGAIN when the counter is near 2^64: it is readable then anyway. */
    ssize_t w = write(t->stop_fd, &one, sizeof one);
    (void)w;
}

bool
kv_thread_should_stop(const struct kv_thread *t)
{
    return atomic_load(&((struct kv_thread *)t)->stop);
}

int
kv_thread_stop_fd(const struct kv_thread *t)
{
    return t->stop_fd;
}

bool
kv_thread_is_running(const struct kv_thread *t)
{
    return atomic_load(&((struct kv_thread *)t)->running);
}

enum kv_code
kv_thread_join_timeout(struct kv_thread *t, int64_t timeout_ms)
{
    KV_ASSERT(!pthread_equal(t->tid, pthread_self()));
    int64_t deadline_ms = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int64_t left_ms = deadline_ms - clock_mono_ms();
        int64_t slice_ms = left_ms <= 0 ? 0 : (left_ms < JOIN_SLICE_MS ? left_ms : JOIN_SLICE_MS);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(slice_ms * 1000000);
        while (until.tv_nsec >= 1000000000L) {
            until.tv_nsec -= 1000000000L;
            until.tv_sec++;
        }
        int rc = pthread_timedjoin_np(t->tid, NULL, &until);
        if (rc == 0)
            break;
        KV_ASSERT(rc == ETIMEDOUT);
        if (left_ms <= 0)
            return KV_ERR_TIMEOUT;
    }
    close(t->stop_fd);
    kv_free(t);
    return KV_OK;
}

enum kv_code
kv_thread_stop(struct kv_thread *t, int64_t timeout_ms)
{
    kv_thread_request_stop(t);
    return kv_thread_join_timeout(t, timeout_ms);
}

struct kv_thread *
kv_thread_current(void)
{
    return current_thread;
}

const char *
kv_thread_name(const struct kv_thread *t)
{
    return t->name;
}
