/* SPDX-License-Identifier: Apache-2.0
 *
 * thread: named threads that can be asked to stop and joined with a bound. A thread started
 * here gets a stop flag and a stop fd (an eventfd). kv_thread_request_stop sets the flag and
 * makes the fd readable for good, so a thread blocked in poll() on a socket (common/netio.h
 * takes the fd as `stop_fd`) wakes at once, and a thread in a loop sees the flag on its next
 * kv_thread_should_stop. Stopping is cooperative: nothing is cancelled or killed, the thread
 * function returns when it notices. This module does not own what the thread does; the owner
 * still frees the thread's own resources after the join.
 *
 * The handle is opaque (its flag is a C11 atomic, which C++ code cannot see through a header);
 * kv_thread_start allocates it and a successful join frees it.
 *
 * Threads: kv_thread_start, kv_thread_join_timeout and kv_thread_stop are called by the owner
 * (one thread). kv_thread_request_stop, kv_thread_should_stop, kv_thread_stop_fd and
 * kv_thread_is_running may be called from any thread, including the started one, from start
 * until the join succeeds.
 */
#ifndef KV_COMMON_THREAD_H
#define KV_COMMON_THREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kv_thread;

/* The body of a thread. `self` is its own handle (to poll kv_thread_should_stop or pass
 * kv_thread_stop_fd to blocking calls); `arg` is what was given to kv_thread_start. */
typedef void (*kv_thread_fn)(struct kv_thread *self, void *arg);

/* Longest thread name the kernel keeps (pthread_setname_np); longer names are truncated. */
#define KV_THREAD_NAME_MAX 15

/* Start a thread running fn(self, arg) named `name` (shown by top -H, gdb and /proc; e.g.
 * "repl-replica"). The new thread starts with SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2,
 * SIGALRM, SIGCHLD and SIGPIPE blocked, so process signals go to the main thread.
 *   out  (out) the handle, owned by the caller until a successful join; untouched on failure.
 *   fn, arg (in) arg is borrowed by the thread: it must outlive it.
 *   name (in) copied.
 * Returns KV_OK, or KV_ERR_IO (eventfd or pthread_create failed; text in err). */
enum kv_code kv_thread_start(struct kv_thread **out, kv_thread_fn fn, void *arg, const char *name,
                             struct kv_err *err);

/* Ask the thread to stop: sets the flag and makes the stop fd readable. Idempotent, never
 * blocks, async-signal-safe. */
void kv_thread_request_stop(struct kv_thread *t);

/* True once kv_thread_request_stop was called. */
bool kv_thread_should_stop(const struct kv_thread *t);

/* An fd that becomes readable (POLLIN) when a stop is requested and stays readable. Poll it;
 * never read, write or close it. Valid until the join succeeds. */
int kv_thread_stop_fd(const struct kv_thread *t);

/* True from kv_thread_start until the thread function has returned. */
bool kv_thread_is_running(const struct kv_thread *t);

/* Wait at most timeout_ms (>= 0; 0 only checks) for the thread to end.
 * Returns KV_OK when it has ended: the handle is freed and must not be used again.
 * Returns KV_ERR_TIMEOUT when it is still running: the handle stays valid and the caller may
 * retry (usually after logging the thread's name); the process must not exit normally while
 * a thread it started can still touch shared state. Does not request a stop itself.
 * Must not be called by the thread on itself. */
enum kv_code kv_thread_join_timeout(struct kv_thread *t, int64_t timeout_ms);

/* kv_thread_request_stop, then kv_thread_join_timeout. */
enum kv_code kv_thread_stop(struct kv_thread *t, int64_t timeout_ms);

/* The handle of the calling thread, or NULL when it was not started by kv_thread_start (the
 * main thread). Lets deep code find its stop fd without threading it through every call. */
struct kv_thread *kv_thread_current(void);

/* The name given at start (truncated to KV_THREAD_NAME_MAX bytes). */
const char *kv_thread_name(const struct kv_thread *t);

#ifdef __cplusplus
}
#endif

#endif
