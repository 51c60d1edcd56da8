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

/* Take the server lock exclusively, giving up when the replication thread is asked to stop (a
 * role change may hold the lock shared while it waits for that thread: waiting here without a
 * limit would deadlock). */
static bool
lock_exclusive_or_stop(struct server *srv, struct kv_thread *self)
{
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_rwlock_timedwrlock(&srv->lock, &ts) == 0)
            return true;
        if (kv_thread_should_stop(self))
            return false;
    }
}

/* The full-sync DB swap (DESIGN.md section 6): new commands get -LOADING, running ones drain,
 * the DB moves aside, the checkpoint moves into place and opens; on failure the old DB is put
 * back. */
static enum kv_code
hook_restore(void *arg, const char *sync_dir, struct kv_thread *self, struct kv_err *err)
{
    struct server *srv = arg;
    struct repl_ctl_state *rs = srv->repl;
    /* Replicas of this node cannot follow a DB swap: they will reconnect and full-sync. */
    repl_master_stop_feeders(rs->master, clock_mono_ms() + 1000);
    atomic_store(&srv->loading, true);
    if (!lock_exclusive_or_stop(srv, self)) {
        atomic_store(&srv->loading, false);
        return kv_err_set(err, KV_ERR_STOPPED, "restore abandoned: replication stopping");
    }
    char db[4096], old[4096];
    struct kv_buf dbdir = KV_BUF_INIT;
    config_db_dir(srv->cfg, &dbdir);
    snprintf(db, sizeof db, "%s", dbdir.ptr);
    kv_buf_deinit(&dbdir);
    path_join(old, sizeof old, srv->cfg->dir, "db.replaced");
    checkpoint_remove_dir(old, err);
    enum kv_code rc = KV_OK;
    storage_close(srv->st);
    srv->st = NULL;
    struct storage *st = NULL;
    if (rename(db, old) != 0) {
        rc = kv_err_set(err, KV_ERR_IO, "rename %s: %s", db, strerror(errno));
    } else if (rename(sync_dir, db) != 0) {
        rc = kv_err_set(err, KV_ERR_IO, "rename %s: %s", sync_dir, strerror(errno));
        rename(old, db);
    } else {
        rc = storage_open(srv->cfg, db, &st, err);
        if (rc != KV_OK) {
            LOG_ERROR("cannot open the fetched checkpoint: %s; restoring the previous DB",
                      err->msg);
            struct kv_err ignored;
            checkpoint_remove_dir(db, &ignored);
            rename(old, db);
        }
    }
    if (rc != KV_OK) {
        struct kv_err again;
        if (storage_open(srv->cfg, db, &st, &again) != KV_OK) {
            LOG_FATAL("cannot reopen the previous database after a failed restore: %s", again.msg);
            abort();
        }
    }
    srv->st = st;
    repl_master_set_storage(rs->master, st);
    pthread_rwlock_unlock(&srv->lock);
    atomic_store(&srv->loading, false);
    struct kv_err ignored;
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
        .applied = hook_applied,
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

void
repl_ctl_shutdown(struct server *srv, int64_t deadline_ms)
{
    struct repl_ctl_state *rs = srv->repl;
    if (rs == NULL)
        return;
    pthread_mutex_lock(&rs->mu);
    if (rs->replica != NULL)
        repl_replica_request_stop(rs->replica);
    stop_replica_locked(rs);
    int64_t left = deadline_ms - clock_mono_ms();
    join_stopping(rs, left > 0 ? left : 0);
    pthread_mutex_unlock(&rs->mu);
    repl_master_free(rs->master, deadline_ms);
    if (rs->nstopping > 0)
        return; /* threads still running: leave the state allocated */
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
    if (host == NULL) {
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
    }
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

void
repl_ctl_restart_link(struct server *srv)
{
    struct repl_ctl_state *rs = srv->repl;
    pthread_mutex_lock(&rs->mu);
    if (rs->replica != NULL) {
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
