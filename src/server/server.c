/* SPDX-License-Identifier: Apache-2.0 */
#include "server/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands/command.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/conn.h"
#include "server/worker.h"

static void
make_run_id(char *out)
{
    uint8_t raw[20];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        uint64_t seed = (uint64_t)clock_mono_us() ^ (uint64_t)getpid();
        for (size_t i = 0; i < sizeof raw; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            raw[i] = (uint8_t)(seed >> 56);
        }
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[40] = '\0';
}

/* mkdir -p */
static enum kv_code
make_dirs(const char *path, struct kv_err *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t n = strlen(tmp);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return kv_err_set(err, KV_ERR_IO, "cannot create directory %s: %s", tmp,
                                  strerror(errno));
            tmp[i] = c;
        }
    }
    return KV_OK;
}

enum kv_code
server_new(struct config *cfg, struct server **out, struct kv_err *err)
{
    struct server *srv = kv_calloc(1, sizeof *srv);
    srv->cfg = cfg;
    srv->shutdown_fd = -1;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Exclusive commands must not starve behind a steady stream of shared holders. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&srv->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    atomic_store(&srv->next_client_id, 1);
    srv->start_time_ms = clock_now_ms();
    srv->start_mono_ms = clock_mono_ms();
    make_run_id(srv->run_id);
    if (cfg->path != NULL && realpath(cfg->path, srv->config_file) == NULL)
        snprintf(srv->config_file, sizeof srv->config_file, "%s", cfg->path);
    ssize_t n = readlink("/proc/self/exe", srv->executable, sizeof srv->executable - 1);
    srv->executable[n > 0 ? n : 0] = '\0';

    enum kv_code rc = command_table_init(err);
    if (rc != KV_OK)
        goto fail;
    srv->cmd_stats = kv_calloc(command_count() ? command_count() : 1, sizeof *srv->cmd_stats);
    srv->locks = keylock_table_new();
    srv->shutdown_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    /* Listen first: a port in use must fail start-up before the DB is touched. */
    srv->nworkers = cfg->workers;
    srv->workers = kv_calloc((size_t)srv->nworkers, sizeof *srv->workers);
    for (int i = 0; i < srv->nworkers; i++) {
        rc = worker_new(srv, i, cfg->bind, cfg->port, cfg->tcp_backlog, &srv->workers[i], err);
        if (rc != KV_OK)
            goto fail;
    }

    struct kv_buf dbdir = KV_BUF_INIT;
    rc = make_dirs(cfg->dir, err);
    if (rc == KV_OK) {
        config_db_dir(cfg, &dbdir);
        rc = storage_open(cfg, dbdir.ptr, &srv->st, err);
    }
    kv_buf_deinit(&dbdir);
    if (rc != KV_OK)
        goto fail;
    *out = srv;
    return KV_OK;
fail:
    server_stop_and_free(srv, clock_mono_ms() + 1000);
    return rc;
}

enum kv_code
server_start(struct server *srv, struct kv_err *err)
{
    for (int i = 0; i < srv->nworkers; i++) {
        enum kv_code rc = worker_start(srv->workers[i], err);
        if (rc != KV_OK)
            return rc;
    }
    LOG_INFO("server ready: %d workers on %s:%d, data in %s", srv->nworkers, srv->cfg->bind,
             srv->cfg->port, srv->cfg->dir);
    return KV_OK;
}

void
server_request_shutdown(struct server *srv)
{
    atomic_store(&srv->shutting_down, true);
    uint64_t one = 1;
    if (srv->shutdown_fd >= 0) {
        ssize_t n = write(srv->shutdown_fd, &one, sizeof one);
        (void)n;
    }
}

void
server_stop_and_free(struct server *srv, int64_t deadline_ms)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->shutting_down, true);
    bool all_stopped = true;
    for (int i = 0; i < srv->nworkers; i++) {
        if (srv->workers[i])
            worker_stop_accepting(srv->workers[i]);
    }
    for (int i = 0; i < srv->nworkers; i++) {
        if (srv->workers[i] == NULL)
            continue;
        if (worker_stop(srv->workers[i], deadline_ms) != KV_OK) {
            LOG_WARN("worker %d did not stop before the shutdown deadline", i);
            all_stopped = false;
        }
    }
    if (!all_stopped) {
        /* A worker stuck in a command still uses the DB: leave everything allocated and let
         * the process exit; RocksDB's WAL already holds every acknowledged write. */
        LOG_WARN("shutdown deadline passed; exiting without closing the database cleanly");
        return;
    }
    for (int i = 0; i < srv->nworkers; i++)
        worker_free(srv->workers[i]);
    kv_free(srv->workers);
    if (srv->st != NULL) {
        storage_close(srv->st);
        LOG_INFO("database closed");
    }
    keylock_table_free(srv->locks);
    kv_free(srv->cmd_stats);
    if (srv->shutdown_fd >= 0)
        close(srv->shutdown_fd);
    kv_buf_deinit(&srv->pidfile);
    pthread_rwlock_destroy(&srv->lock);
    command_table_free();
    kv_free(srv);
}

int64_t
server_uptime_s(const struct server *srv)
{
    return (clock_mono_ms() - srv->start_mono_ms) / 1000;
}

void
server_client_list(struct server *srv, uint64_t only_id, struct kv_buf *out)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct worker *w = srv->workers[i];
        pthread_mutex_lock(&w->conns_lock);
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &w->conns)
        {
            struct conn *c = dlist_entry(pos, struct conn, node);
            if (only_id != 0 && c->id != only_id)
                continue;
            conn_describe(c, out);
            kv_buf_append_byte(out, '\n');
        }
        pthread_mutex_unlock(&w->conns_lock);
    }
}

static bool
filter_matches(const struct client_filter *f, const struct conn *c)
{
    if (f->skipme && c == f->me)
        return false;
    if (f->id != 0 && c->id != f->id)
        return false;
    if (f->addr != NULL && strcmp(f->addr, c->addr) != 0)
        return false;
    if (f->laddr != NULL && strcmp(f->laddr, c->laddr) != 0)
        return false;
    if (f->type >= 0) {
        int t = 0;
        if (conn_has_flag(c, CONN_F_MASTER))
            t = 3;
        else if (conn_has_flag(c, CONN_F_REPLICA))
            t = 2;
        else if (conn_has_flag(c, CONN_F_PUBSUB))
            t = 1;
        if (t != f->type)
            return false;
    }
    return true;
}

int
server_client_kill(struct server *srv, const struct client_filter *f)
{
    int killed = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        struct worker *w = srv->workers[i];
        pthread_mutex_lock(&w->conns_lock);
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &w->conns)
        {
            struct conn *c = dlist_entry(pos, struct conn, node);
            if (!filter_matches(f, c))
                continue;
            killed++;
            if (c == f->me)
                conn_close_after_reply(c);
            else
                conn_request_close(c);
        }
        pthread_mutex_unlock(&w->conns_lock);
    }
    return killed;
}

enum kv_code
server_apply_config(struct config *cfg, const char *name, void *arg, struct kv_err *err)
{
    (void)arg;
    if (strcmp(name, "log-level") == 0)
        log_set_level((enum log_level)cfg->log_level);
    return KV_OK;
}
