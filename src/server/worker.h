/* SPDX-License-Identifier: Apache-2.0
 *
 * worker: one thread with its own libevent loop. Each worker listens on its own SO_REUSEPORT
 * socket per bind address (the kernel spreads connections across workers), owns the
 * connections it accepted, and has an inbox through which other threads ask it to run a task
 * on its thread (close a client, stop).
 *
 * Threads: worker_new/worker_start/worker_stop/worker_free from the main thread; worker_post
 * from any thread; the rest from the worker's own thread.
 */
#ifndef KV_SERVER_WORKER_H
#define KV_SERVER_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/dlist.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;
struct event_base;
struct event;

#define WORKER_MAX_LISTENERS 16

struct worker_task {
    void (*fn)(void *arg);
    void *arg;
    struct worker_task *next;
};

struct worker {
    int id;
    struct server *srv; /* borrowed */
    pthread_t thread;
    bool running;            /* thread started and not joined */
    struct event_base *base; /* owned */
    int listen_fds[WORKER_MAX_LISTENERS];
    struct event *listen_evs[WORKER_MAX_LISTENERS];
    int nlisten;
    struct event *cron_ev; /* owned: idle timeouts, stats */

    pthread_mutex_t conns_lock; /* guards the list and the shared conn fields (CLIENT LIST) */
    struct dlist conns;         /* struct conn, via conn->node */
    struct dict *conns_by_id;   /* owned: 8-byte id -> struct conn * (borrowed) */
    int nconns;

    pthread_mutex_t inbox_lock;
    struct worker_task *inbox_head; /* owned tasks, FIFO */
    struct worker_task *inbox_tail;
    int inbox_fd; /* eventfd */
    struct event *inbox_ev;
    bool stopping; /* set by the stop task */
    /* Connections whose output waits for the worker's staged writes to be committed (group
     * commit, below): struct conn via conn->held. */
    struct dlist held_out;
    uint64_t reads; /* reads that got client input (worker.c, poll_rounds); worker thread only */
};

/* Create a worker and its listening sockets on every address of `bind` at `port`. */
enum kv_code worker_new(struct server *srv, int id, const char *bind, int port, int backlog,
                        struct worker **out, struct kv_err *err);
enum kv_code worker_start(struct worker *w, struct kv_err *err);
/* Stop accepting new connections (from any thread; takes effect on the worker's thread). */
void worker_stop_accepting(struct worker *w);
/* Ask the loop to end after the current callback, then join until deadline (monotonic ms).
 * KV_ERR_TIMEOUT if the thread did not end in time (it is then left running). */
enum kv_code worker_stop(struct worker *w, int64_t deadline_ms);
/* Free (closes all connections). Only after worker_stop succeeded or the worker never ran. */
void worker_free(struct worker *w);

/* Run fn(arg) on the worker's thread (any thread may call). */
void worker_post(struct worker *w, void (*fn)(void *arg), void *arg);

/* The connection with this id on w, or NULL (worker thread). */
struct conn *worker_find_conn(struct worker *w, uint64_t id);

/* Registration of connections (worker thread). */
/* Group commit (storage.h, storage_stage_*). Commands on a worker stage their writes; the worker
 * commits them once per event-loop round, after running every ready callback, and only then
 * writes the replies that were produced meanwhile: one WAL write covers every command of the
 * round, and no client sees a reply (or data read through the stage) before it is durable.
 *
 * Before anything that may wait on another thread (the server lock, commands that are not
 * staged) and at the end of each round, the worker commits its staged writes and releases the
 * key stripes kept for them (keylock_settle).
 * worker_hold_output: true when c's output must wait for the commit (the thread has staged
 * writes, or a commit failed this round); c is then queued and written after the round. */
bool worker_hold_output(struct worker *w, struct conn *c);

void worker_add_conn(struct worker *w, struct conn *c);
void worker_remove_conn(struct worker *w, struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
