/* SPDX-License-Identifier: Apache-2.0
 *
 * blocking: the registry of blocked clients and the wake / retry / timeout machinery
 * (server/blocking.h states the protocol).
 *
 * Data:
 *   - registry (process-wide): `mu` guards the dict of block_keys, every waiter list, and the
 *     fields marked "registry" below; `nblocked` is read without the mutex.
 *   - block_state (one per blocked connection, conn->block): owned by the connection's worker;
 *     only its waiters and the `woken` flag are shared, under the mutex.
 *   - wake-ups travel as worker tasks carrying the connection id (never a pointer): a task for a
 *     connection that is gone, or no longer blocked, finds nothing and does nothing.
 *
 * Invariants (under mu): a block_key is in the dict iff its waiter list is non-empty;
 * bk->serving, when not NULL, is the state of one of bk's waiters; a state's waiters are linked
 * for as long as the state is registered, i.e. from blocking_block until it is unblocked.
 */
#include "server/blocking.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <event2/event.h>

#include "commands/command.h"
#include "common/clock.h"
#include "common/dict.h"
#include "common/dlist.h"
#include "common/log.h"
#include "common/mem.h"
#include "resp/resp_write.h"
#include "server/cluster_ctl.h"
#include "server/conn.h"
#include "server/dispatch.h"
#include "server/server.h"
#include "server/worker.h"

struct block_state;

/* The queue of clients waiting on one (namespace, key). */
struct block_key {
    struct dlist waiters;        /* registry: struct block_waiter via node, in blocking order */
    struct block_state *serving; /* registry: the waiter woken for this key whose retry has not
                                    ended, or NULL */
    bool dirty;                  /* registry: touched while `serving` was set */
    char *dkey;                  /* owned: the dict key ([ns_len u8][ns][key]) */
    size_t dkey_len;
};

/* One key a state waits on. */
struct block_waiter {
    struct dlist node;    /* registry: in bk->waiters */
    struct block_key *bk; /* registry */
    struct block_state *bs;
};

struct block_state {
    struct conn *c; /* borrowed: the blocked connection (this state lives inside it) */
    uint64_t conn_id;
    struct worker *w; /* borrowed: c's worker */
    const struct command_spec *cmd;
    size_t cmd_index; /* registry index, for the command's statistics */
    int argc;
    struct kv_slice *argv; /* owned; slices into argbuf */
    char *argbuf;          /* owned: the arguments back to back */
    int64_t deadline_ms;   /* monotonic; 0 = forever */
    enum blocking_timeout_reply kind;
    struct event *timer;          /* owned; NULL without a deadline */
    struct block_waiter *waiters; /* owned array of nwaiters */
    size_t nwaiters;
    struct dlist all_node; /* registry: in the list of every state */
    bool woken;            /* registry: a wake task is queued and has not started */
    bool retrying;         /* worker: the proc is running again */
    bool reblocked;        /* worker: that run called blocking_block (still nothing to serve) */
};

static struct {
    pthread_mutex_t mu;
    struct dict *keys; /* [ns_len u8][ns][key] -> struct block_key * (not owned by the dict) */
    struct dlist all;  /* every registered block_state */
    bool ready;        /* keys/all initialised */
    atomic_int nblocked;
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* --- helpers --- */

/* The dict key of (ns, key) into buf (cap bytes) or a new allocation; returns it. */
static char *
dict_key(struct kv_slice ns, struct kv_slice key, char *buf, size_t cap, size_t *len)
{
    *len = 1 + ns.len + key.len;
    char *p = *len <= cap ? buf : kv_malloc(*len);
    p[0] = (char)(uint8_t)ns.len;
    memcpy(p + 1, ns.ptr, ns.len);
    if (key.len > 0)
        memcpy(p + 1 + ns.len, key.ptr, key.len);
    return p;
}

static void
registry_ready_locked(void)
{
    if (reg.ready)
        return;
    reg.keys = dict_new(NULL, false);
    dlist_init(&reg.all);
    reg.ready = true;
}

static void wake_task(void *arg);

/* Wake the first waiter of bk (registry locked, bk non-empty). */
static void
wake_first_locked(struct block_key *bk)
{
    struct block_waiter *first = dlist_entry(bk->waiters.next, struct block_waiter, node);
    struct block_state *bs = first->bs;
    bk->serving = bs;
    bk->dirty = false;
    if (!bs->woken) {
        bs->woken = true;
        worker_post(bs->w, wake_task, (void *)(uintptr_t)bs->conn_id);
    }
}

/* The retry (or the wait) of bs on its keys has ended (registry locked). `leaving`: bs is being
 * unregistered (served, timed out, unblocked, or its client gone); otherwise it keeps waiting.
 * Keys bs was being served for pass the turn on: to the next waiter when bs leaves, or to bs
 * again when they were touched during the retry. */
static void
end_turn_locked(struct block_state *bs, bool leaving)
{
    for (size_t i = 0; i < bs->nwaiters; i++) {
        struct block_waiter *wt = &bs->waiters[i];
        struct block_key *bk = wt->bk;
        bool pass_on = false;
        if (bk->serving == bs) {
            bk->serving = NULL;
            pass_on = leaving || bk->dirty;
            bk->dirty = false;
        }
        if (leaving) {
            dlist_remove(&wt->node);
            if (dlist_empty(&bk->waiters)) {
                dict_delete(reg.keys, bk->dkey, bk->dkey_len);
                kv_free(bk->dkey);
                kv_free(bk);
                continue;
            }
        }
        if (pass_on && bk->serving == NULL)
            wake_first_locked(bk);
    }
    if (leaving) {
        dlist_remove(&bs->all_node);
        atomic_fetch_sub(&reg.nblocked, 1);
    }
}

static void
state_free(struct block_state *bs)
{
    if (bs->timer != NULL)
        event_free(bs->timer);
    kv_free(bs->argv);
    kv_free(bs->argbuf);
    kv_free(bs->waiters);
    kv_free(bs);
}

/* Unregister and free c's state; c stops being blocked. Its worker. */
static void
unblock(struct conn *c)
{
    struct block_state *bs = c->block;
    pthread_mutex_lock(&reg.mu);
    end_turn_locked(bs, true);
    pthread_mutex_unlock(&reg.mu);
    c->block = NULL;
    conn_clear_flag(c, CONN_F_BLOCKED);
    state_free(bs);
}

/* After a reply that unblocked c: unblock, run its pipelined input, write. c may be freed. */
static void
unblock_and_continue(struct conn *c)
{
    unblock(c);
    conn_resume_input(c);
    conn_flush(c);
}

static void
write_timeout_reply(struct conn *c, enum blocking_timeout_reply kind)
{
    if (kind == BLOCKING_REPLY_NULL)
        resp_write_null(&c->rout);
    else
        resp_write_null_array(&c->rout);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct block_state *bs = arg;
    struct conn *c = bs->c;
    write_timeout_reply(c, bs->kind);
    unblock_and_continue(c);
}

static void
record_error(struct conn *c, struct block_state *bs, enum kv_code rc, const struct kv_err *err)
{
    dispatch_write_error(&c->rout, rc, err->msg);
    atomic_fetch_add_explicit(&c->srv->stats.error_replies, 1, memory_order_relaxed);
    if (c->srv->cmd_stats != NULL)
        atomic_fetch_add_explicit(&c->srv->cmd_stats[bs->cmd_index].failed_calls, 1,
                                  memory_order_relaxed);
}

/* Run the blocked command of c again (its worker). */
static void
retry(struct conn *c)
{
    struct block_state *bs = c->block;
    struct server *srv = c->srv;
    struct kv_err err;
    kv_err_clear(&err);
    struct cmd_ctx ctx = {
        .conn = c,
        .srv = srv,
        .cmd = bs->cmd,
        .argc = bs->argc,
        .argv = bs->argv,
        .out = &c->rout,
        .db = &c->db,
        .err = &err,
    };
    bs->retrying = true;
    bs->reblocked = false;
    enum kv_code rc;
    server_lock_shared(srv);
    c->db.st = srv->st; /* a full sync may have swapped it while the client waited */
    if (atomic_load_explicit(&srv->loading, memory_order_acquire) &&
        !(bs->cmd->flags & CMD_LOADING_OK))
        rc = kv_err_set(&err, KV_ERR_LOADING, "%s", "");
    else {
        /* Routed again: while the client waited, its slot may have moved (MOVED) or its
         * writes may be held for the last phase of a migration (TRYAGAIN). */
        rc = srv->cfg->cluster_enabled
                 ? cluster_ctl_route(srv, c, bs->cmd, bs->argc, bs->argv, &err)
                 : KV_OK;
        if (rc == KV_OK)
            rc = bs->cmd->proc(&ctx);
    }
    pthread_rwlock_unlock(&srv->lock);
    bs->retrying = false;
    if (rc == KV_OK && bs->reblocked) {
        pthread_mutex_lock(&reg.mu);
        end_turn_locked(bs, false);
        pthread_mutex_unlock(&reg.mu);
        return;
    }
    if (rc != KV_OK) {
        if (rc == KV_NOTFOUND && err.msg[0] == '\0')
            kv_err_set(&err, KV_NOTFOUND, "no such key");
        record_error(c, bs, rc, &err);
    }
    unblock_and_continue(c);
}

/* The still-blocked client a task posted to its worker is for (arg: its id), or NULL when it
 * is gone, no longer blocked, or (unless closing_ok) being closed. */
static struct conn *
task_conn(void *arg, bool closing_ok)
{
    struct worker *w = server_current_worker();
    if (w == NULL)
        return NULL;
    struct conn *c = worker_find_conn(w, (uint64_t)(uintptr_t)arg);
    if (c == NULL || c->block == NULL || (!closing_ok && conn_has_flag(c, CONN_F_CLOSE_ASAP)))
        return NULL;
    return c;
}

static void
wake_task(void *arg)
{
    struct conn *c = task_conn(arg, false);
    if (c == NULL)
        return;
    struct block_state *bs = c->block;
    pthread_mutex_lock(&reg.mu);
    bool due = bs->woken;
    /* Cleared before the retry runs: a touch during the retry on a key bs is not being served
     * for posts a new wake-up instead of being lost. */
    bs->woken = false;
    pthread_mutex_unlock(&reg.mu);
    if (due)
        retry(c);
}

/* --- API --- */

bool
blocking_can_block(const struct cmd_ctx *ctx)
{
    return ctx->conn != NULL && !ctx->in_exec;
}

bool
blocking_is_retry(const struct cmd_ctx *ctx)
{
    return ctx->conn != NULL && ctx->conn->block != NULL && ctx->conn->block->retrying;
}

/* Copy ctx's arguments into bs. */
static void
copy_args(struct block_state *bs, const struct cmd_ctx *ctx)
{
    size_t total = 0;
    for (int i = 0; i < ctx->argc; i++)
        total += ctx->argv[i].len;
    bs->argc = ctx->argc;
    bs->argv = kv_malloc((size_t)ctx->argc * sizeof *bs->argv);
    bs->argbuf = kv_malloc(total ? total : 1);
    size_t off = 0;
    for (int i = 0; i < ctx->argc; i++) {
        if (ctx->argv[i].len > 0)
            memcpy(bs->argbuf + off, ctx->argv[i].ptr, ctx->argv[i].len);
        bs->argv[i] = kv_slice_make(bs->argbuf + off, ctx->argv[i].len);
        off += ctx->argv[i].len;
    }
}

enum kv_code
blocking_block(struct cmd_ctx *ctx, const struct kv_slice *keys, size_t n, int64_t deadline_ms,
               enum blocking_timeout_reply kind)
{
    struct conn *c = ctx->conn;
    KV_ASSERT(c != NULL && n > 0);
    if (c->block != NULL) {
        KV_ASSERT(c->block->retrying);
        c->block->reblocked = true;
        return KV_OK;
    }
    struct block_state *bs = kv_calloc(1, sizeof *bs);
    bs->c = c;
    bs->conn_id = c->id;
    bs->w = c->w;
    bs->cmd = ctx->cmd;
    if (command_lookup(kv_slice_cstr(ctx->cmd->name), &bs->cmd_index) == NULL)
        bs->cmd_index = 0;
    bs->deadline_ms = deadline_ms;
    bs->kind = kind;
    dlist_init(&bs->all_node);
    copy_args(bs, ctx);
    if (deadline_ms != 0) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left < 0)
            left = 0;
        struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
        bs->timer = evtimer_new(c->w->base, on_timeout, bs);
        evtimer_add(bs->timer, &tv);
    }
    bs->waiters = kv_calloc(n, sizeof *bs->waiters);
    c->block = bs;
    conn_set_flag(c, CONN_F_BLOCKED);
    /* Counted before the queues are visible, so a writer that finds a queue also sees a
     * non-zero count. */
    atomic_fetch_add(&reg.nblocked, 1);

    pthread_mutex_lock(&reg.mu);
    registry_ready_locked();
    dlist_insert_tail(&reg.all, &bs->all_node);
    bool need_wake = false;
    for (size_t i = 0; i < n; i++) {
        char small[256];
        size_t dlen;
        char *dk = dict_key(c->db.ns, keys[i], small, sizeof small, &dlen);
        struct block_key *bk = dict_get(reg.keys, dk, dlen);
        if (bk == NULL) {
            bk = kv_calloc(1, sizeof *bk);
            dlist_init(&bk->waiters);
            bk->dkey = kv_memdup(dk, dlen);
            bk->dkey_len = dlen;
            dict_add(reg.keys, dk, dlen, bk);
        }
        if (dk != small)
            kv_free(dk);
        /* A key listed twice: bs already is the last waiter of its queue. */
        if (!dlist_empty(&bk->waiters) &&
            dlist_entry(bk->waiters.prev, struct block_waiter, node)->bs == bs)
            continue;
        struct block_waiter *wt = &bs->waiters[bs->nwaiters++];
        wt->bk = bk;
        wt->bs = bs;
        dlist_insert_tail(&bk->waiters, &wt->node);
        /* First in line and nobody being served: a push between the proc's attempt and now
         * found no queue to wake, so look once more. */
        if (bk->waiters.next == &wt->node && bk->serving == NULL) {
            bk->serving = bs;
            bk->dirty = false;
            need_wake = true;
        }
    }
    if (need_wake) {
        bs->woken = true;
        worker_post(bs->w, wake_task, (void *)(uintptr_t)bs->conn_id);
    }
    pthread_mutex_unlock(&reg.mu);
    return KV_OK;
}

void
blocking_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key)
{
    (void)srv;
    if (atomic_load(&reg.nblocked) == 0)
        return;
    char small[256];
    size_t dlen;
    char *dk = dict_key(ns, key, small, sizeof small, &dlen);
    pthread_mutex_lock(&reg.mu);
    struct block_key *bk = reg.ready ? dict_get(reg.keys, dk, dlen) : NULL;
    if (bk != NULL) {
        if (bk->serving != NULL)
            bk->dirty = true;
        else
            wake_first_locked(bk);
    }
    pthread_mutex_unlock(&reg.mu);
    if (dk != small)
        kv_free(dk);
}

int
blocking_count(struct server *srv)
{
    (void)srv;
    return atomic_load(&reg.nblocked);
}

void
blocking_conn_free(struct conn *c)
{
    if (c->block != NULL)
        unblock(c);
}

static void
unblock_task(void *arg, enum blocking_unblock_how how)
{
    struct conn *c = task_conn(arg, true);
    if (c == NULL)
        return;
    switch (how) {
    case BLOCKING_UNBLOCK_TIMEOUT:
        write_timeout_reply(c, c->block->kind);
        break;
    case BLOCKING_UNBLOCK_ERROR:
        resp_write_error(&c->rout, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        atomic_fetch_add_explicit(&c->srv->stats.error_replies, 1, memory_order_relaxed);
        break;
    case BLOCKING_UNBLOCK_ROLE:
        resp_write_error(&c->rout, "UNBLOCKED force unblock from blocking operation, instance "
                                   "state changed (master -> replica?)");
        atomic_fetch_add_explicit(&c->srv->stats.error_replies, 1, memory_order_relaxed);
        /* As Redis 7.0: the client is closed after this reply (its pipelined input is not
         * run), since what it was waiting for will now only come from a master. */
        conn_close_after_reply(c);
        break;
    }
    unblock_and_continue(c);
}

static void
unblock_timeout_task(void *arg)
{
    unblock_task(arg, BLOCKING_UNBLOCK_TIMEOUT);
}

static void
unblock_error_task(void *arg)
{
    unblock_task(arg, BLOCKING_UNBLOCK_ERROR);
}

static void
unblock_role_task(void *arg)
{
    unblock_task(arg, BLOCKING_UNBLOCK_ROLE);
}

static void
post_unblock_locked(struct block_state *bs, enum blocking_unblock_how how)
{
    void (*fn)(void *) = how == BLOCKING_UNBLOCK_TIMEOUT ? unblock_timeout_task
                         : how == BLOCKING_UNBLOCK_ERROR ? unblock_error_task
                                                         : unblock_role_task;
    worker_post(bs->w, fn, (void *)(uintptr_t)bs->conn_id);
}

bool
blocking_unblock(struct server *srv, uint64_t client_id, enum blocking_unblock_how how)
{
    (void)srv;
    bool found = false;
    pthread_mutex_lock(&reg.mu);
    if (reg.ready) {
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &reg.all)
        {
            struct block_state *bs = dlist_entry(pos, struct block_state, all_node);
            if (bs->conn_id == client_id) {
                post_unblock_locked(bs, how);
                found = true;
                break;
            }
        }
    }
    pthread_mutex_unlock(&reg.mu);
    return found;
}

void
blocking_unblock_all(struct server *srv, enum blocking_unblock_how how)
{
    (void)srv;
    pthread_mutex_lock(&reg.mu);
    if (reg.ready) {
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &reg.all)
        {
            post_unblock_locked(dlist_entry(pos, struct block_state, all_node), how);
        }
    }
    pthread_mutex_unlock(&reg.mu);
}

static void
reroute_task(void *arg)
{
    struct conn *c = task_conn(arg, false);
    if (c == NULL)
        return;
    struct block_state *bs = c->block;
    struct server *srv = c->srv;
    struct kv_err err;
    kv_err_clear(&err);
    server_lock_shared(srv);
    enum kv_code rc = srv->cfg->cluster_enabled
                          ? cluster_ctl_route(srv, c, bs->cmd, bs->argc, bs->argv, &err)
                          : KV_OK;
    pthread_rwlock_unlock(&srv->lock);
    /* Only a slot served elsewhere or by nobody ends the wait; a TRYAGAIN or ASK is a passing
     * state of a migration still running here (Redis redirects blocked clients the same way). */
    if (rc != KV_ERR_MOVED && rc != KV_ERR_CLUSTERDOWN)
        return;
    record_error(c, bs, rc, &err);
    unblock_and_continue(c);
}

void
blocking_reroute_all(struct server *srv)
{
    (void)srv;
    if (atomic_load(&reg.nblocked) == 0)
        return;
    pthread_mutex_lock(&reg.mu);
    if (reg.ready) {
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &reg.all)
        {
            struct block_state *bs = dlist_entry(pos, struct block_state, all_node);
            worker_post(bs->w, reroute_task, (void *)(uintptr_t)bs->conn_id);
        }
    }
    pthread_mutex_unlock(&reg.mu);
}
