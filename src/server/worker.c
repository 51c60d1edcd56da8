/* SPDX-License-Identifier: Apache-2.0 */
#include "server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "commands/errors.h"
#include "common/clock.h"
#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/conn.h"
#include "server/server.h"
#include "storage/storage.h"
#include "types/keylock.h"
#include "types/list.h"

static _Thread_local struct worker *current_worker;

struct worker *
server_current_worker(void)
{
    return current_worker;
}

/* Bind a socket on host:port and listen. With `probe`, only check that the address is free:
 * bind without SO_REUSEPORT (which fails if any socket holds the address, even a SO_REUSEPORT
 * listener of another kvrocks run by the same user, which the workers' own SO_REUSEPORT binds
 * would silently join) and close again; *out_fd is not touched. */
static enum kv_code
listen_on(const char *host, int port, int backlog, bool probe, int *out_fd, struct kv_err *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0)
        return kv_err_set(err, KV_ERR_IO, "cannot resolve bind address %s: %s", host,
                          gai_strerror(gai));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return kv_err_set(err, KV_ERR_IO, "socket: %s", strerror(errno));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!probe)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(res);
        return kv_err_set(err, KV_ERR_IO, "cannot bind %s:%d: %s", host, port, strerror(e));
    }
    freeaddrinfo(res);
    if (probe) {
        close(fd);
        return KV_OK;
    }
    if (listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        return kv_err_set(err, KV_ERR_IO, "cannot listen on %s:%d: %s", host, port, strerror(e));
    }
    *out_fd = fd;
    return KV_OK;
}

static void
reject(struct worker *w, int fd)
{
    static const char msg[] = "-ERR " ERR_MAX_CLIENTS "\r\n";
    /* Counted before the client can see the refusal: one that reads it and then asks INFO
     * must find it counted. */
    atomic_fetch_add(&w->srv->stats.rejected_connections, 1);
    ssize_t n = write(fd, msg, sizeof msg - 1);
    (void)n;
    close(fd);
}

/* How long accepting pauses when the process is out of file descriptors or memory: the
 * pending connection keeps the listener readable, so retrying at once would spin. */
#define WORKER_ACCEPT_PAUSE_MS 100

static void
resume_accepting(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    if (w->stopping)
        return;
    for (int i = 0; i < w->nlisten; i++) {
        if (w->listen_evs[i] != NULL)
            event_add(w->listen_evs[i], NULL);
    }
}

static void
pause_accepting(struct worker *w, int err)
{
    static _Thread_local int64_t last_log_ms;
    int64_t now = clock_mono_ms();
    if (now - last_log_ms >= 1000) {
        last_log_ms = now;
        LOG_WARN("accept failed: %s; not accepting for %d ms", strerror(err),
                 WORKER_ACCEPT_PAUSE_MS);
    }
    for (int i = 0; i < w->nlisten; i++) {
        if (w->listen_evs[i] != NULL)
            event_del(w->listen_evs[i]);
    }
    struct timeval tv = {0, WORKER_ACCEPT_PAUSE_MS * 1000};
    if (event_base_once(w->base, -1, EV_TIMEOUT, resume_accepting, w, &tv) != 0)
        resume_accepting(-1, 0, w);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct worker *w = arg;
    struct server *srv = w->srv;
    int maxclients = atomic_load_explicit(&srv->maxclients, memory_order_relaxed);
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
                pause_accepting(w, e);
            else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED)
                LOG_WARN("accept failed: %s", strerror(e));
            return;
        }
        int n = atomic_fetch_add(&srv->connected_clients, 1);
        if (n >= maxclients) {
            atomic_fetch_sub(&srv->connected_clients, 1);
            reject(w, fd);
            continue;
        }
        atomic_fetch_add(&srv->stats.total_connections, 1);
        struct conn *c = conn_new(w, fd);
        worker_add_conn(w, c);
        conn_start(c);
    }
}

static void
drain_inbox(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    uint64_t v;
    ssize_t n = read(w->inbox_fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&w->inbox_lock);
    struct worker_task *t = w->inbox_head;
    w->inbox_head = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    while (t != NULL) {
        struct worker_task *next = t->next;
        t->fn(t->arg);
        kv_free(t);
        t = next;
    }
}

/* Every second: close clients idle longer than `timeout` (not replicas, not blocked, not
 * subscribed, as Redis). */
static void
on_cron(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    int timeout = atomic_load_explicit(&w->srv->timeout_s, memory_order_relaxed);
    if (timeout <= 0)
        return;
    int64_t now = clock_mono_ms();
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &w->conns)
    {
        struct conn *c = dlist_entry(pos, struct conn, node);
        if (conn_has_flag(c, CONN_F_REPLICA | CONN_F_MASTER | CONN_F_BLOCKED | CONN_F_PUBSUB))
            continue;
        int64_t last = atomic_load_explicit(&c->last_interaction_ms, memory_order_relaxed);
        if (now - last >= (int64_t)timeout * 1000) {
            LOG_INFO("closing idle client %s (idle %lld s)", c->addr,
                     (long long)((now - last) / 1000));
            conn_free(c);
        }
    }
}

enum kv_code
worker_new(struct server *srv, int id, const char *bind_list, int port, int backlog,
           struct worker **out, struct kv_err *err)
{
    struct worker *w = kv_calloc(1, sizeof *w);
    w->id = id;
    w->srv = srv;
    dlist_init(&w->conns);
    dlist_init(&w->held_out);
    w->conns_by_id = dict_new(NULL, false);
    pthread_mutex_init(&w->conns_lock, NULL);
    pthread_mutex_init(&w->inbox_lock, NULL);
    w->inbox_fd = -1;
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    enum kv_code rc = KV_OK;
    if (w->base == NULL) {
        rc = kv_err_set(err, KV_ERR_IO, "cannot create event base");
        goto fail;
    }
    w->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->inbox_fd < 0) {
        rc = kv_err_set(err, KV_ERR_IO, "eventfd: %s", strerror(errno));
        goto fail;
    }
    w->inbox_ev = event_new(w->base, w->inbox_fd, EV_READ | EV_PERSIST, drain_inbox, w);
    event_add(w->inbox_ev, NULL);
    w->cron_ev = event_new(w->base, -1, EV_PERSIST, on_cron, w);
    struct timeval one_sec = {1, 0};
    event_add(w->cron_ev, &one_sec);

    char *list = kv_strdup(bind_list && bind_list[0] ? bind_list : "127.0.0.1");
    char *save = NULL;
    for (char *tok = strtok_r(list, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        if (w->nlisten >= WORKER_MAX_LISTENERS)
            break;
        int fd = -1;
        /* The first worker makes sure nobody else listens there before any worker joins a
         * SO_REUSEPORT group on the address. */
        if (id == 0)
            rc = listen_on(tok, port, backlog, true, &fd, err);
        if (rc == KV_OK)
            rc = listen_on(tok, port, backlog, false, &fd, err);
        if (rc != KV_OK)
            break;
        w->listen_fds[w->nlisten] = fd;
        w->listen_evs[w->nlisten] = event_new(w->base, fd, EV_READ | EV_PERSIST, on_accept, w);
        event_add(w->listen_evs[w->nlisten], NULL);
        w->nlisten++;
    }
    kv_free(list);
    if (rc != KV_OK)
        goto fail;
    *out = w;
    return KV_OK;
fail:
    worker_free(w);
    return rc;
}

void
server_lock_shared(struct server *srv)
{
    if (pthread_rwlock_tryrdlock(&srv->lock) == 0)
        return;
    keylock_settle();
    pthread_rwlock_rdlock(&srv->lock);
}

void
server_wait_unstaged(struct server *srv)
{
    /* Workers with staged writes commit them at the end of their round, or before they would
     * wait for the lock held here: this ends within a round's time. */
    int64_t start = clock_mono_ms(), logged = start;
    while (srv->st != NULL && storage_has_staged(srv->st)) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
        int64_t now = clock_mono_ms();
        if (now - logged >= 1000) {
            logged = now;
            LOG_WARN("exclusive lock: still waiting for staged writes after %lld ms",
                     (long long)(now - start));
        }
    }
}

bool
worker_hold_output(struct worker *w, struct conn *c)
{
    if (server_current_worker() != w || (!storage_stage_pending() && !storage_stage_failed()))
        return false;
    if (!dlist_linked(&c->held))
        dlist_insert_tail(&w->held_out, &c->held);
    return true;
}

/* After a round of callbacks: commit, then write the replies that waited for it. When a commit
 * failed, those replies may acknowledge lost writes or show data that never reached the DB:
 * close their connections instead (the clients see no reply, as after a crash). */
static void
end_round(struct worker *w)
{
    keylock_settle();
    bool failed = storage_stage_take_failure();
    while (!dlist_empty(&w->held_out)) {
        struct conn *c = dlist_entry(w->held_out.next, struct conn, held);
        dlist_remove(&c->held);
        if (failed) {
            LOG_WARN("closing client %s: the write of its commands failed", c->addr);
            conn_free(c);
        } else {
            conn_flush(c); /* may free c */
        }
    }
}

/* After a round that read client input, how many times the worker yields the CPU and looks for
 * more input without sleeping (epoll_wait with no timeout) before it goes back to a blocking
 * wait. A worker asleep in epoll_wait is woken by the kernel when a client writes, which on a
 * machine with more workers than cores (or a virtual one) costs a wake-up across CPUs and a
 * context switch per round: with 8 workers on 2 cores that was a quarter of the server's time
 * at -P 1. Yielding lets the clients and the other workers run meanwhile; with nothing else to
 * run a yield returns at once, so an idle worker stops polling within tens of microseconds.
 * GET +35%, SET +20% at -P 1 (8 workers, 2 cores), -P 16 unchanged. */
#define WORKER_POLL_YIELDS 20

/* Run rounds without sleeping while input keeps coming, up to WORKER_POLL_YIELDS idle looks in a
 * row. Not after a round that waited for a key lock: a hot key's workers then do better asleep,
 * letting requests gather into bigger rounds (fewer hand-overs of the key). */
static void
poll_rounds(struct worker *w)
{
    for (int idle = 0; idle < WORKER_POLL_YIELDS && !w->stopping; idle++) {
        sched_yield();
        uint64_t reads = w->reads;
        if (event_base_loop(w->base, EVLOOP_NONBLOCK) < 0)
            return; /* the blocking loop reports it */
        end_round(w);
        if (keylock_take_waited())
            return;
        if (w->reads != reads)
            idle = -1; /* input: start counting again */
    }
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    current_worker = w;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", w->id);
    pthread_setname_np(pthread_self(), name);
    storage_thread_init();
    storage_stage_enable(true);
    while (!w->stopping) {
        uint64_t reads = w->reads;
        (void)keylock_take_waited();
        if (event_base_loop(w->base, EVLOOP_ONCE) < 0) {
            LOG_ERROR("worker %d: event loop failed", w->id);
            break;
        }
        end_round(w);
        if (w->reads != reads && !keylock_take_waited())
            poll_rounds(w);
    }
    end_round(w);
    storage_stage_thread_exit();
    keylock_thread_exit();
    list_thread_exit();
    return NULL;
}

enum kv_code
worker_start(struct worker *w, struct kv_err *err)
{
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e != 0)
        return kv_err_set(err, KV_ERR_IO, "cannot start worker thread: %s", strerror(e));
    w->running = true;
    return KV_OK;
}

static void
stop_accepting_task(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->nlisten; i++) {
        if (w->listen_evs[i]) {
            event_free(w->listen_evs[i]);
            w->listen_evs[i] = NULL;
        }
        if (w->listen_fds[i] >= 0) {
            close(w->listen_fds[i]);
            w->listen_fds[i] = -1;
        }
    }
}

void
worker_stop_accepting(struct worker *w)
{
    if (w->running)
        worker_post(w, stop_accepting_task, w);
    else
        stop_accepting_task(w);
}

static void
stop_task(void *arg)
{
    struct worker *w = arg;
    w->stopping = true;
    event_base_loopbreak(w->base);
}

enum kv_code
worker_stop(struct worker *w, int64_t deadline_ms)
{
    if (!w->running)
        return KV_OK;
    worker_post(w, stop_task, w);
    int64_t left = deadline_ms - clock_mono_ms();
    if (left < 0)
        left = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int e = pthread_timedjoin_np(w->thread, NULL, &ts);
    if (e != 0)
        return KV_ERR_TIMEOUT;
    w->running = false;
    return KV_OK;
}

void
worker_free(struct worker *w)
{
    if (w == NULL)
        return;
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &w->conns)
    {
        conn_free(dlist_entry(pos, struct conn, node));
    }
    stop_accepting_task(w);
    if (w->inbox_ev)
        event_free(w->inbox_ev);
    if (w->cron_ev)
        event_free(w->cron_ev);
    if (w->inbox_fd >= 0)
        close(w->inbox_fd);
    struct worker_task *t = w->inbox_head;
    while (t != NULL) {
        struct worker_task *next = t->next;
        kv_free(t);
        t = next;
    }
    if (w->base)
        event_base_free(w->base);
    dict_free(w->conns_by_id);
    pthread_mutex_destroy(&w->conns_lock);
    pthread_mutex_destroy(&w->inbox_lock);
    kv_free(w);
}

void
worker_post(struct worker *w, void (*fn)(void *arg), void *arg)
{
    struct worker_task *t = kv_malloc(sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&w->inbox_lock);
    bool was_empty = w->inbox_head == NULL;
    if (w->inbox_tail)
        w->inbox_tail->next = t;
    else
        w->inbox_head = t;
    w->inbox_tail = t;
    pthread_mutex_unlock(&w->inbox_lock);
    /* A non-empty inbox has a wake-up pending already: drain_inbox reads the eventfd before it
     * takes the list, so whoever made the inbox non-empty wrote the eventfd after the last
     * drain, and that drain-to-come takes this task too. Bursts (a PUBLISH to many
     * subscribers, many blocked clients served) then cost one write and one wake-up. */
    if (was_empty) {
        uint64_t one = 1;
        ssize_t n = write(w->inbox_fd, &one, sizeof one);
        (void)n;
    }
}

void
worker_add_conn(struct worker *w, struct conn *c)
{
    pthread_mutex_lock(&w->conns_lock);
    dlist_insert_tail(&w->conns, &c->node);
    dict_set(w->conns_by_id, &c->id, sizeof c->id, c);
    w->nconns++;
    pthread_mutex_unlock(&w->conns_lock);
}

void
worker_remove_conn(struct worker *w, struct conn *c)
{
    pthread_mutex_lock(&w->conns_lock);
    if (dlist_linked(&c->node)) {
        dlist_remove(&c->node);
        dict_delete(w->conns_by_id, &c->id, sizeof c->id);
        w->nconns--;
    }
    pthread_mutex_unlock(&w->conns_lock);
}

struct conn *
worker_find_conn(struct worker *w, uint64_t id)
{
    return dict_get(w->conns_by_id, &id, sizeof id);
}
