/* SPDX-License-Identifier: Apache-2.0 */
#include "server/repl_ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/thread.h"
#include "repl/repl_master.h"
#include "repl/repl_replica.h"
#include "resp/resp_write.h"
#include "server/blocking.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "storage/checkpoint.h"
#include "storage/keys.h"
#include "storage/wal.h"

/* How long a role change waits for the old replica thread before leaving it to the cron. Every
 * wait in that thread polls its stop fd, so this is ample. */
#define REPLICA_STOP_WAIT_MS 500
#define MAX_STOPPING 8

struct repl_ctl_state {
    pthread_mutex_t mu;           /* serialises role changes */
    struct repl_master *master;   /* owned */
    struct repl_replica *replica; /* owned; NULL when this node is a master */
    /* Replica threads asked to stop that had not ended within REPLICA_STOP_WAIT_MS: the cron
     * joins them. They are stopping, so they touch nothing shared any more except the storage
     * pointer through the hooks (read-only) and their own state. */
    struct repl_replica *stopping[MAX_STOPPING];
    int nstopping;
    char host[256];
    int port;
    atomic_bool is_replica;
    /* Held by a replication thread for the whole of a DB swap (hook_empty_db, hook_restore,
     * hook_abort_fullsync): a thread left running after a role change (`stopping`) and its
     * successor must never swap at the same time. Guards master_detached. */
    pthread_mutex_t swap_mu;
    /* The master side was detached from the DB for a swap. */
    bool master_detached;
    /* The thread that emptied the DB (slave-empty-db-before-fullsync) and keeps the server
     * loading until its restore or abort; NULL otherwise. */
    struct kv_thread *emptied_by;
    /* Syncs the files of the last full sync after the swap (settle_main); under swap_mu. */
    struct kv_thread *settler;
    /* The empty stand-in DB of the next swap, opened while the files are fetched
     * (hook_prepare_restore); under swap_mu. Kept for the next attempt if the sync fails. */
    struct storage *standin;
    bool stopped; /* repl_ctl_stop ran: no replica thread starts any more (under mu) */
};

static struct storage *
hook_storage(void *arg)
{
    struct server *srv = arg;
    return srv->st;
}

/* Deliver the PUBLISH messages a replicated batch carries to our own subscribers. */
static void
deliver_record(void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
               struct kv_slice value)
{
    if (kind == STORAGE_REC_PUT && cf == KV_CF_PUBSUB)
        pubsub_publish(arg, key, value);
}

static void
hook_applied(void *arg, struct kv_slice rep)
{
    storage_batch_foreach(rep, deliver_record, arg, NULL);
}

static void
path_join(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Take the server lock (exclusively or shared), giving up when the replication thread is asked
 * to stop: a role change may hold the lock shared while it waits for that thread, so waiting
 * here without a limit could deadlock. */
static bool
lock_or_stop(struct server *srv, struct kv_thread *self, bool exclusive)
{
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int r = exclusive ? pthread_rwlock_timedwrlock(&srv->lock, &ts)
                          : pthread_rwlock_timedrdlock(&srv->lock, &ts);
        if (r == 0) {
            if (exclusive)
                server_wait_unstaged(srv); /* worker.h: staged writes land before the swap */
            return true;
        }
        if (self != NULL && kv_thread_should_stop(self))
            return false;
    }
}

/* Open a database at `path` reading the config under the shared lock (CONFIG SET changes it
 * under the exclusive one). self NULL: wait for the lock whatever happens. */
static enum kv_code
open_db(struct server *srv, struct kv_thread *self, const char *path, struct storage **out,
        struct kv_err *err)
{
    if (!lock_or_stop(srv, self, false))
        return kv_err_set(err, KV_ERR_STOPPED, "replication stopping");
    enum kv_code rc = storage_open(srv->cfg, path, out, err);
    pthread_rwlock_unlock(&srv->lock);
    return rc;
}

/* Make `st` the server's storage, once every running command is done with the previous one
 * (exclusive lock, held only for the pointer change). Returns the previous storage, or NULL
 * when the thread was asked to stop first (nothing changed then). self NULL: cannot give up. */
static bool
install_storage(struct server *srv, struct kv_thread *self, struct storage *st,
                struct storage **old)
{
    if (!lock_or_stop(srv, self, true))
        return false;
    *old = srv->st;
    srv->st = st;
    pthread_rwlock_unlock(&srv->lock);
    return true;
}

/* Stop feeding this node's own replicas from the DB that is about to close. */
static enum kv_code
detach_master_side(struct server *srv, struct kv_err *err)
{
    struct repl_ctl_state *rs = srv->repl;
    if (rs->master_detached)
        return KV_OK;
    if (repl_master_detach_storage(rs->master, clock_mono_ms() + 5000) != KV_OK) {
        repl_master_attach_storage(rs->master, srv->st);
        return kv_err_set(err, KV_ERR_TIMEOUT, "a replica feeder of this node did not stop");
    }
    rs->master_detached = true;
    return KV_OK;
}

static void
attach_master_side(struct server *srv)
{
    struct repl_ctl_state *rs = srv->repl;
    repl_master_attach_storage(rs->master, srv->st);
    rs->master_detached = false;
}

/* The stand-in of a swap: an empty DB in <dir>/db.standin, kept in rs->standin from its
 * opening (take_db_out, or earlier hook_prepare_restore) until it serves. Caller holds
 * swap_mu. */
static enum kv_code
open_standin(struct server *srv, struct kv_thread *self, struct kv_err *err)
{
    struct repl_ctl_state *rs = srv->repl;
    if (rs->standin != NULL)
        return KV_OK;
    char dir[4096];
    path_join(dir, sizeof dir, srv->cfg->dir, "db.standin");
    struct kv_err ignored;
    checkpoint_remove_dir(dir, &ignored);
    struct storage *st = NULL;
    enum kv_code rc = open_db(srv, self, dir, &st, err);
    if (rc == KV_OK)
        rs->standin = st;
    return rc;
}

/* Close a stand-in (NULL: none) and remove its directory. */
static void
close_standin(struct server *srv, struct storage *standin)
{
    if (standin == NULL)
        return;
    storage_close(standin);
    char dir[4096];
    path_join(dir, sizeof dir, srv->cfg->dir, "db.standin");
    struct kv_err ignored;
    checkpoint_remove_dir(dir, &ignored);
}

/* Close the server's DB and serve from a stand-in while its directory changes. From here until
 * put_back_db, commands allowed while loading (INFO, ROLE, CONFIG, CLIENT, ...) keep being
 * answered against an empty stand-in database opened in <dir>/db.standin, instead of waiting
 * for the swap or touching a closed handle; everything else gets -LOADING. The stand-in is the
 * one hook_prepare_restore opened, if any. Caller holds swap_mu. Returns KV_OK with the server
 * on the stand-in and the old DB closed. */
static enum kv_code
take_db_out(struct server *srv, struct kv_thread *self, struct kv_err *err)
{
    struct repl_ctl_state *rs = srv->repl;
    enum kv_code rc = open_standin(srv, self, err);
    if (rc != KV_OK)
        return rc;
    struct storage *old = NULL;
    if (!install_storage(srv, self, rs->standin, &old)) /* the stand-in stays for the next swap */
        return kv_err_set(err, KV_ERR_STOPPED, "restore abandoned: replication stopping");
    rs->standin = NULL; /* the server's DB now */
    storage_cancel_background(old);
    storage_close(old);
    LOG_INFO("replication: database closed for the swap (stand-in %s/db.standin serving)",
             srv->cfg->dir);
    return KV_OK;
}

/* End take_db_out: make `st` the server's DB and drop the stand-in. */
static void
put_back_db(struct server *srv, struct storage *st)
{
    struct storage *standin = NULL;
    install_storage(srv, NULL, st, &standin);
    close_standin(srv, standin);
}

/* Open the DB in `db` again after a failed swap; a DB that cannot be opened where it was open a
 * moment ago leaves nothing sensible to serve. */
static struct storage *
reopen_or_die(struct server *srv, const char *db)
{
    struct storage *st = NULL;
    struct kv_err again;
    kv_err_clear(&again);
    if (open_db(srv, NULL, db, &st, &again) != KV_OK) {
        LOG_FATAL("cannot reopen the database %s after a failed restore: %s", db, again.msg);
        abort();
    }
    return st;
}

/* The thread that makes a restored DB durable: the fetched files went into service unsynced,
 * so the swap never waits for the disk (storage/checkpoint.h). Owns `arg`, the directory. */
static void
settle_main(struct kv_thread *self, void *arg)
{
    (void)self;
    char *dir = arg;
    int64_t started = clock_mono_ms();
    struct kv_err err;
    kv_err_clear(&err);
    if (checkpoint_settle(dir, &err) == KV_OK)
        LOG_INFO("full sync: the fetched files are on disk (synced in %" PRId64 " ms)",
                 clock_mono_ms() - started);
    else
        LOG_ERROR("full sync: cannot sync the fetched files: %s (the directory stays marked "
                  "unsynced: after a crash of the machine it is fetched again)",
                  err.msg);
    kv_free(dir);
}

/* Wait for the settle thread of the previous swap (caller holds swap_mu, or no swap can start
 * any more). Bounded by the disk: an fsync cannot be interrupted. */
static void
settle_wait(struct repl_ctl_state *rs)
{
    if (rs->settler == NULL)
        return;
    while (kv_thread_join_timeout(rs->settler, 1000) != KV_OK)
        LOG_WARN("replication: still syncing the files of the last full sync");
    rs->settler = NULL;
}

/* Take swap_mu, giving up when the thread is asked to stop (another thread's swap is bounded
 * local work, but a stop must not wait for it). */
static bool
swap_lock(struct repl_ctl_state *rs, struct kv_thread *self)
{
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_mutex_timedlock(&rs->swap_mu, &ts) == 0)
            return true;
        if (kv_thread_should_stop(self))
            return false;
    }
}

/* Open the stand-in of take_db_out while the files are fetched: opening a new DB (six column
 * families, each persisting its options) is a good part of the swap's time. */
static void
hook_prepare_restore(void *arg, struct kv_thread *self)
{
    struct server *srv = arg;
    struct repl_ctl_state *rs = srv->repl;
    if (!swap_lock(rs, self))
        return;
    struct kv_err err;
    kv_err_clear(&err);
    if (open_standin(srv, self, &err) != KV_OK)
        LOG_WARN("replication: cannot prepare the stand-in DB (the swap will try again): %s",
                 err.msg);
    pthread_mutex_unlock(&rs->swap_mu);
}

/* slave-empty-db-before-fullsync: the local data goes before the fetch (Kvrocks' pre-fullsync
 * callback). The server stays loading until the restore ends or abort_fullsync. */
static enum kv_code
hook_empty_db(void *arg, struct kv_thread *self, struct kv_err *err)
{
    struct server *srv = arg;
    struct repl_ctl_state *rs = srv->repl;
    if (!swap_lock(rs, self))
        return kv_err_set(err, KV_ERR_STOPPED, "replication stopping");
    settle_wait(rs);
    atomic_store(&srv->loading, true);
    enum kv_code rc = detach_master_side(srv, err);
    if (rc == KV_OK)
        rc = take_db_out(srv, self, err);
    if (rc != KV_OK) {
        if (rs->master_detached)
            attach_master_side(srv);
        atomic_store(&srv->loading, false);
        pthread_mutex_unlock(&rs->swap_mu);
        return rc;
    }
    char db[4096];
    struct kv_buf dbdir = KV_BUF_INIT;
    config_db_dir(srv->cfg, &dbdir);
    snprintf(db, sizeof db, "%s", dbdir.ptr);
    kv_buf_deinit(&dbdir);
    struct kv_err rmerr;
    kv_err_clear(&rmerr);
    if (checkpoint_remove_dir(db, &rmerr) != KV_OK)
        LOG_ERROR("cannot remove %s before the full sync: %s", db, rmerr.msg);
    struct storage *empty = reopen_or_die(srv, db);
    repl_master_listen(rs->master, empty);
    put_back_db(srv, empty);
    rs->emptied_by = self;
    pthread_mutex_unlock(&rs->swap_mu);
    LOG_INFO("replication: local database emptied before the full sync");
    return KV_OK;
}

static void
hook_abort_fullsync(void *arg)
{
    struct server *srv = arg;
    struct repl_ctl_state *rs = srv->repl;
    pthread_mutex_lock(&rs->swap_mu);
    /* Only the thread that emptied the DB ends its loading state: a successor may have
     * emptied it again meanwhile. */
    if (rs->emptied_by == kv_thread_current()) {
        rs->emptied_by = NULL;
        if (rs->master_detached)
            attach_master_side(srv);
        atomic_store(&srv->loading, false);
    }
    pthread_mutex_unlock(&rs->swap_mu);
}

/* The full-sync DB swap (DESIGN.md section 6): new commands get -LOADING, running ones drain,
 * the DB closes and moves aside, the checkpoint moves into place and opens; on failure the old
 * DB is put back. The exclusive lock is held only to change the storage pointer (take_db_out),
 * so INFO shows loading:1 during the swap. */
static enum kv_code
hook_restore(void *arg, const char *sync_dir, struct kv_thread *self, struct kv_err *err)
{
    struct server *srv = arg;
    struct repl_ctl_state *rs = srv->repl;
    /* A thread asked to stop (a role change) must not replace the DB any more. Past
     * take_db_out the swap is committed: bounded local work that runs to its end. */
    if (kv_thread_should_stop(self) || !swap_lock(rs, self))
        return kv_err_set(err, KV_ERR_STOPPED, "restore abandoned: replication stopping");
    settle_wait(rs);
    atomic_store(&srv->loading, true);
    /* Replicas of this node cannot follow a DB swap: they will reconnect and full-sync. */
    enum kv_code rc = detach_master_side(srv, err);
    if (rc == KV_OK)
        rc = take_db_out(srv, self, err);
    if (rc != KV_OK) {
        if (rs->master_detached)
            attach_master_side(srv);
        rs->emptied_by = NULL;
        atomic_store(&srv->loading, false);
        pthread_mutex_unlock(&rs->swap_mu);
        return rc;
    }
    char db[4096], old[4096];
    struct kv_buf dbdir = KV_BUF_INIT;
    config_db_dir(srv->cfg, &dbdir);
    snprintf(db, sizeof db, "%s", dbdir.ptr);
    kv_buf_deinit(&dbdir);
    path_join(old, sizeof old, srv->cfg->dir, "db.replaced");
    struct kv_err ignored;
    checkpoint_remove_dir(old, &ignored);
    struct storage *st = NULL;
    if (rename(db, old) != 0) {
        rc = kv_err_set(err, KV_ERR_IO, "rename %s: %s", db, strerror(errno));
    } else if (rename(sync_dir, db) != 0) {
        rc = kv_err_set(err, KV_ERR_IO, "rename %s: %s", sync_dir, strerror(errno));
        rename(old, db);
    } else {
        rc = open_db(srv, NULL, db, &st, err);
        if (rc != KV_OK) {
            LOG_ERROR("cannot open the fetched checkpoint: %s; restoring the previous DB",
                      err->msg);
            checkpoint_remove_dir(db, &ignored);
            rename(old, db);
        }
    }
    if (rc != KV_OK) {
        st = reopen_or_die(srv, db);
    } else {
        struct kv_err serr;
        char *owned = kv_strdup(db);
        if (kv_thread_start(&rs->settler, settle_main, owned, "repl-settle", &serr) != KV_OK) {
            rs->settler = NULL;
            settle_main(NULL, owned); /* no thread: sync here rather than not at all */
        }
    }
    /* Serve our own replicas from the new DB; its write listener goes in before any worker can
     * write to it. */
    repl_master_attach_storage(rs->master, st);
    rs->master_detached = false;
    put_back_db(srv, st);
    rs->emptied_by = NULL;
    atomic_store(&srv->loading, false);
    pthread_mutex_unlock(&rs->swap_mu);
    checkpoint_remove_dir(old, &ignored);
    return rc;
}

static void
join_stopping(struct repl_ctl_state *rs, int64_t timeout_ms)
{
    int kept = 0;
    for (int i = 0; i < rs->nstopping; i++) {
        if (repl_replica_stop(rs->stopping[i], timeout_ms) != KV_OK)
            rs->stopping[kept++] = rs->stopping[i];
    }
    rs->nstopping = kept;
}

/* Stop the current replica thread (caller holds rs->mu). Never waits long: a thread that has not
 * ended within REPLICA_STOP_WAIT_MS is joined later by the cron. */
static void
stop_replica_locked(struct repl_ctl_state *rs)
{
    if (rs->replica == NULL)
        return;
    struct repl_replica *rr = rs->replica;
    rs->replica = NULL;
    if (repl_replica_stop(rr, REPLICA_STOP_WAIT_MS) == KV_OK)
        return;
    LOG_WARN("replication thread still ending; it will be joined later");
    if (rs->nstopping < MAX_STOPPING) {
        rs->stopping[rs->nstopping++] = rr;
        return;
    }
    /* Too many: wait for this one (bounded by its own polling). */
    while (repl_replica_stop(rr, 1000) != KV_OK)
        LOG_WARN("waiting for a replication thread to end");
}

static enum kv_code
start_replica_locked(struct server *srv, const char *host, int port, struct kv_err *err)
{
    struct repl_ctl_state *rs = srv->repl;
    const struct config *cfg = srv->cfg;
    struct repl_replica_options o = {
        .host = host,
        .port = port,
        .masterauth = cfg->masterauth,
        .db_name = cfg->db_name,
        .listening_port = cfg->port,
        .announce_ip = "",
        .dir = cfg->dir,
        .connect_timeout_ms = cfg->replication_connect_timeout_ms,
        .recv_timeout_ms = cfg->replication_recv_timeout_ms,
        .send_timeout_ms = cfg->replication_send_timeout_ms,
        .empty_db_before_fullsync = cfg->slave_empty_db_before_fullsync,
    };
    struct repl_replica_hooks hooks = {
        .arg = srv,
        .storage = hook_storage,
        .restore = hook_restore,
        .prepare_restore = hook_prepare_restore,
        .applied = hook_applied,
        .empty_db = hook_empty_db,
        .abort_fullsync = hook_abort_fullsync,
    };
    enum kv_code rc = repl_replica_start(&o, &hooks, &rs->replica, err);
    if (rc != KV_OK)
        return rc;
    snprintf(rs->host, sizeof rs->host, "%s", host);
    rs->port = port;
    atomic_store(&rs->is_replica, true);
    return KV_OK;
}

enum kv_code
repl_ctl_init(struct server *srv, struct kv_err *err)
{
    struct repl_ctl_state *rs = kv_calloc(1, sizeof *rs);
    pthread_mutex_init(&rs->mu, NULL);
    pthread_mutex_init(&rs->swap_mu, NULL);
    srv->repl = rs;
    rs->master = repl_master_new(srv->st, srv->cfg, srv->cfg->dir);
    const struct config *cfg = srv->cfg;
    if (cfg->slaveof_host != NULL && cfg->slaveof_host[0] != '\0') {
        pthread_mutex_lock(&rs->mu);
        enum kv_code rc = start_replica_locked(srv, cfg->slaveof_host, cfg->slaveof_port, err);
        pthread_mutex_unlock(&rs->mu);
        return rc;
    }
    return KV_OK;
}

enum kv_code
repl_ctl_stop(struct server *srv, int64_t deadline_ms)
{
    struct repl_ctl_state *rs = srv->repl;
    if (rs == NULL)
        return KV_OK;
    pthread_mutex_lock(&rs->mu);
    rs->stopped = true;
    if (rs->replica != NULL)
        repl_replica_request_stop(rs->replica);
    stop_replica_locked(rs);
    int64_t left = deadline_ms - clock_mono_ms();
    join_stopping(rs, left > 0 ? left : 0);
    bool replica_ended = rs->nstopping == 0;
    pthread_mutex_unlock(&rs->mu);
    /* With every replication thread gone no swap can start a settler any more. A thread left
     * running may still be in a swap: leave the settler to it (a restart settles the files). */
    if (replica_ended) {
        pthread_mutex_lock(&rs->swap_mu);
        settle_wait(rs);
        close_standin(srv, rs->standin); /* prepared and never used */
        rs->standin = NULL;
        pthread_mutex_unlock(&rs->swap_mu);
    }
    enum kv_code rc = repl_master_stop(rs->master, deadline_ms);
    if (!replica_ended) {
        LOG_WARN("the replication thread did not end before the shutdown deadline");
        rc = KV_ERR_TIMEOUT;
    }
    return rc;
}

void
repl_ctl_free(struct server *srv)
{
    struct repl_ctl_state *rs = srv->repl;
    if (rs == NULL)
        return;
    if (rs->nstopping > 0)
        return; /* threads still running: leave the state allocated */
    repl_master_free(rs->master);
    pthread_mutex_destroy(&rs->swap_mu);
    pthread_mutex_destroy(&rs->mu);
    kv_free(rs);
    srv->repl = NULL;
}

enum kv_code
repl_ctl_set_master(struct server *srv, const char *host, int port, struct kv_err *err)
{
    struct repl_ctl_state *rs = srv->repl;
    pthread_mutex_lock(&rs->mu);
    enum kv_code rc = KV_OK;
    if (rs->stopped) {
        rc = kv_err_set(err, KV_ERR, "the server is shutting down");
    } else if (host == NULL) {
        if (rs->replica != NULL || atomic_load(&rs->is_replica)) {
            LOG_INFO("SLAVEOF NO ONE: stop replicating from %s:%d, become a master", rs->host,
                     rs->port);
            stop_replica_locked(rs);
            atomic_store(&rs->is_replica, false);
            rs->host[0] = '\0';
            rs->port = 0;
        }
    } else if (rs->replica != NULL && strcmp(rs->host, host) == 0 && rs->port == port) {
        /* Already replicating from there. */
    } else {
        stop_replica_locked(rs);
        rc = start_replica_locked(srv, host, port, err);
        /* As Redis: clients blocked while this was a master get an -UNBLOCKED error (a replica
         * only changes through its master's stream, so they could wait forever). */
        if (rc == KV_OK)
            blocking_unblock_all(srv, BLOCKING_UNBLOCK_ROLE);
    }
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

void
repl_ctl_restart_link(struct server *srv)
{
    struct repl_ctl_state *rs = srv->repl;
    pthread_mutex_lock(&rs->mu);
    if (rs->replica != NULL && !rs->stopped) {
        char host[256];
        snprintf(host, sizeof host, "%s", rs->host);
        int port = rs->port;
        stop_replica_locked(rs);
        struct kv_err err;
        if (start_replica_locked(srv, host, port, &err) != KV_OK)
            LOG_ERROR("cannot restart replication: %s", err.msg);
    }
    pthread_mutex_unlock(&rs->mu);
}

int
repl_ctl_client_kill(struct server *srv, const struct client_filter *f)
{
    struct repl_ctl_state *rs = srv->repl;
    if (rs == NULL || f->laddr != NULL)
        return 0;
    int killed = 0;
    if (f->type == SERVER_CLIENT_MASTER && f->id == 0) {
        char addr[300];
        pthread_mutex_lock(&rs->mu);
        snprintf(addr, sizeof addr, "%s:%d", rs->host, rs->port);
        bool match = rs->replica != NULL && (f->addr == NULL || strcmp(f->addr, addr) == 0);
        pthread_mutex_unlock(&rs->mu);
        if (match) {
            LOG_INFO("CLIENT KILL TYPE master: restarting the link to %s", addr);
            repl_ctl_restart_link(srv);
            killed++;
        }
    }
    if (f->type == SERVER_CLIENT_ANY || f->type == SERVER_CLIENT_REPLICA)
        killed += repl_master_kill_feeders(rs->master, f->id, f->addr);
    return killed;
}

bool
repl_ctl_is_replica(const struct server *srv)
{
    return srv->repl != NULL && atomic_load(&srv->repl->is_replica);
}

bool
repl_ctl_link_up(struct server *srv)
{
    struct repl_ctl_state *rs = srv->repl;
    bool up = false;
    pthread_mutex_lock(&rs->mu);
    if (rs->replica != NULL) {
        struct repl_replica_status s;
        repl_replica_status(rs->replica, &s);
        up = s.link_up;
    }
    pthread_mutex_unlock(&rs->mu);
    return up;
}

struct repl_master *
repl_ctl_master(struct server *srv)
{
    return srv->repl->master;
}

void
repl_ctl_info(struct server *srv, struct kv_buf *out)
{
    struct repl_ctl_state *rs = srv->repl;
    uint64_t latest = storage_latest_seq(srv->st);
    pthread_mutex_lock(&rs->mu);
    if (rs->replica != NULL) {
        struct repl_replica_status s;
        repl_replica_status(rs->replica, &s);
        int64_t ago = s.last_io_ms ? (clock_mono_ms() - s.last_io_ms) / 1000 : -1;
        kv_buf_append_cstr(out, "role:slave\r\n");
        kv_buf_printf(out, "master_host:%s\r\n", rs->host);
        kv_buf_printf(out, "master_port:%d\r\n", rs->port);
        kv_buf_printf(out, "master_link_status:%s\r\n", s.link_up ? "up" : "down");
        kv_buf_printf(out, "master_sync_unrecoverable_error:no\r\n");
        kv_buf_printf(out, "master_sync_in_progress:%d\r\n", s.sync_in_progress ? 1 : 0);
        kv_buf_printf(out, "master_last_io_seconds_ago:%lld\r\n", (long long)ago);
        kv_buf_printf(out, "master_repl_state:%s\r\n", repl_state_name(s.state));
        if (s.sync_in_progress) {
            kv_buf_printf(out, "master_sync_files_total:%" PRIu64 "\r\n", s.files_total);
            kv_buf_printf(out, "master_sync_files_done:%" PRIu64 "\r\n", s.files_done);
            kv_buf_printf(out, "master_sync_bytes_done:%" PRIu64 "\r\n", s.bytes_done);
            kv_buf_printf(out, "master_sync_files_skipped:%" PRIu64 "\r\n", s.skipped_files);
        }
        kv_buf_printf(out, "master_full_syncs:%" PRIu64 "\r\n", s.full_syncs);
        kv_buf_printf(out, "slave_repl_offset:%" PRIu64 "\r\n", latest);
        kv_buf_append_cstr(out, "slave_priority:100\r\n");
    } else {
        kv_buf_append_cstr(out, "role:master\r\n");
    }
    pthread_mutex_unlock(&rs->mu);
    struct repl_replica_info reps[64];
    size_t n = repl_master_replicas(rs->master, reps, 64);
    kv_buf_printf(out, "connected_slaves:%zu\r\n", n);
    kv_buf_printf(out, "slow_replicas_dropped:%" PRIu64 "\r\n",
                  repl_master_dropped_slow(rs->master));
    for (size_t i = 0; i < n; i++) {
        uint64_t lag = latest > reps[i].offset ? latest - reps[i].offset : 0;
        kv_buf_printf(out, "slave%zu:ip=%s,port=%d,offset=%" PRIu64 ",lag=%" PRIu64 "\r\n", i,
                      reps[i].ip, reps[i].port, reps[i].offset, lag);
    }
    kv_buf_printf(out, "master_repl_offset:%" PRIu64 "\r\n", latest);
    kv_buf_printf(out, "oldest_wal_sequence:%" PRIu64 "\r\n", wal_oldest_seq(srv->st));
}

void
repl_ctl_role(struct server *srv, struct resp_out *out)
{
    struct repl_ctl_state *rs = srv->repl;
    char seq[32];
    snprintf(seq, sizeof seq, "%" PRIu64, storage_latest_seq(srv->st));
    pthread_mutex_lock(&rs->mu);
    if (rs->replica != NULL) {
        struct repl_replica_status s;
        repl_replica_status(rs->replica, &s);
        const char *state = s.link_up ? "connected" : s.sync_in_progress ? "sync" : "connecting";
        char port[16];
        snprintf(port, sizeof port, "%d", rs->port);
        resp_write_array(out, 5);
        resp_write_bulk_cstr(out, "slave");
        resp_write_bulk_cstr(out, rs->host);
        resp_write_bulk_cstr(out, port);
        resp_write_bulk_cstr(out, state);
        resp_write_bulk_cstr(out, seq);
        pthread_mutex_unlock(&rs->mu);
        return;
    }
    pthread_mutex_unlock(&rs->mu);
    struct repl_replica_info reps[64];
    size_t n = repl_master_replicas(rs->master, reps, 64);
    resp_write_array(out, n > 0 ? 3 : 2);
    resp_write_bulk_cstr(out, "master");
    resp_write_bulk_cstr(out, seq);
    if (n > 0) {
        resp_write_array(out, n);
        for (size_t i = 0; i < n; i++) {
            char port[16], off[32];
            snprintf(port, sizeof port, "%d", reps[i].port);
            snprintf(off, sizeof off, "%" PRIu64, reps[i].offset);
            resp_write_array(out, 3);
            resp_write_bulk_cstr(out, reps[i].ip);
            resp_write_bulk_cstr(out, port);
            resp_write_bulk_cstr(out, off);
        }
    }
}

void
repl_ctl_cron(struct server *srv)
{
    struct repl_ctl_state *rs = srv->repl;
    if (rs == NULL)
        return;
    repl_master_cron(rs->master);
    if (pthread_mutex_trylock(&rs->mu) == 0) {
        if (rs->nstopping > 0)
            join_stopping(rs, 0);
        pthread_mutex_unlock(&rs->mu);
    }
}
