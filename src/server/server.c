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
#include "common/dict.h"
#include "common/dlist.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/thread.h"
#include "repl/repl_master.h"
#include "server/cluster_ctl.h"
#include "server/conn.h"
#include "server/info.h"
#include "server/migrate_ctl.h"
#include "server/notify.h"
#include "server/repl_ctl.h"
#include "server/worker.h"
#include "storage/checkpoint.h"
#include "storage/keys.h"

static struct server_keyspace *keyspace_new(void);
static void keyspace_free(struct server_keyspace *ks);
static struct server_slowlog *slowlog_new(void);
static void slowlog_free(struct server_slowlog *sl);

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

/* A DB whose full sync had not reached the disk when the process ended (storage/checkpoint.h):
 * settled now if the machine has not restarted since, else moved aside (its files may be torn)
 * so this node starts empty and, as a replica, fetches everything again. */
static enum kv_code
recover_unsynced_db(const struct config *cfg, const char *db, struct kv_err *err)
{
    struct kv_buf aside = KV_BUF_INIT;
    kv_buf_printf(&aside, "%s/db.unsynced", cfg->dir);
    bool moved = false;
    enum kv_code rc = checkpoint_recover(db, aside.ptr, &moved, err);
    if (rc == KV_OK && moved)
        LOG_ERROR("%s was restored by a full sync that had not reached the disk when the machine "
                  "restarted: moved to %s, starting empty",
                  db, aside.ptr);
    kv_buf_deinit(&aside);
    return rc;
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

    atomic_store(&srv->auth_required, cfg->requirepass != NULL && cfg->requirepass[0] != '\0');
    atomic_store(&srv->maxclients, cfg->maxclients);
    atomic_store(&srv->timeout_s, cfg->timeout);
    atomic_store(&srv->slave_read_only, cfg->slave_read_only);
    atomic_store(&srv->slave_serve_stale_data, cfg->slave_serve_stale_data);
    srv->keyspace = keyspace_new();
    srv->slowlog = slowlog_new();

    enum kv_code rc = command_table_init(err);
    if (rc != KV_OK)
        goto fail;
    srv->cmd_stats = kv_calloc(command_count() ? command_count() : 1, sizeof *srv->cmd_stats);
    srv->locks = keylock_table_new();
    notify_hooks_init(&srv->db_hooks, srv);
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
        rc = recover_unsynced_db(cfg, dbdir.ptr, err);
    }
    if (rc == KV_OK)
        rc = storage_open(cfg, dbdir.ptr, &srv->st, err);
    kv_buf_deinit(&dbdir);
    /* The replication role is settled before anything could write to the DB. */
    if (rc == KV_OK)
        rc = repl_ctl_init(srv, err);
    /* Cluster mode: the topology (and the role it gives) from nodes.conf, equally early. */
    if (rc == KV_OK)
        rc = cluster_ctl_init(srv, err);
    if (rc == KV_OK && srv->cfg->cluster_enabled)
        rc = migrate_ctl_init(srv, err);
    if (rc != KV_OK)
        goto fail;
    srv->used_memory_startup = kv_mem_used();
    atomic_store(&srv->stats.peak_memory, (uint_fast64_t)srv->used_memory_startup);
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
    /* Replication threads never wait on workers; stop them first (bounded by their own
     * polling of stop fds), so no feeder reads the DB after it closes. */
    migrate_ctl_stop(srv, deadline_ms);
    bool repl_stopped = repl_ctl_stop(srv, deadline_ms) == KV_OK;
    for (int i = 0; i < srv->nworkers; i++) {
        if (srv->workers[i] == NULL)
            continue;
        if (worker_stop(srv->workers[i], deadline_ms) != KV_OK) {
            LOG_WARN("worker %d did not stop before the shutdown deadline", i);
            all_stopped = false;
        }
    }
    if (all_stopped && server_keyspace_stop(srv, deadline_ms) != KV_OK) {
        LOG_WARN("the keyspace scan thread did not stop before the shutdown deadline");
        all_stopped = false;
    }
    if (!repl_stopped)
        all_stopped = false; /* a replication thread outlived the deadline */
    else if (all_stopped)
        repl_ctl_free(srv); /* workers are gone: nothing reads srv->repl any more */
    if (all_stopped) {
        migrate_ctl_free(srv); /* a no-op while its thread still runs */
        cluster_ctl_free(srv);
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
    keyspace_free(srv->keyspace);
    slowlog_free(srv->slowlog);
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

/* ------------------------------------------------------------------------------------------ */
/* Clients across workers                                                                     */

static int
client_type(const struct conn *c)
{
    if (conn_has_flag(c, CONN_F_MASTER))
        return SERVER_CLIENT_MASTER;
    if (conn_has_flag(c, CONN_F_REPLICA))
        return SERVER_CLIENT_REPLICA;
    if (conn_has_flag(c, CONN_F_PUBSUB))
        return SERVER_CLIENT_PUBSUB;
    return SERVER_CLIENT_NORMAL;
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
    if (f->type >= 0 && client_type(c) != f->type)
        return false;
    return true;
}

void
server_client_list_filter(struct server *srv, const struct client_filter *f, struct kv_buf *out)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct worker *w = srv->workers[i];
        pthread_mutex_lock(&w->conns_lock);
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &w->conns)
        {
            struct conn *c = dlist_entry(pos, struct conn, node);
            if (!filter_matches(f, c))
                continue;
            conn_describe(c, out);
            kv_buf_append_byte(out, '\n');
        }
        pthread_mutex_unlock(&w->conns_lock);
    }
}

void
server_client_list(struct server *srv, uint64_t only_id, struct kv_buf *out)
{
    struct client_filter f = {.id = only_id, .type = SERVER_CLIENT_ANY};
    server_client_list_filter(srv, &f, out);
}

int
server_client_kill(struct server *srv, const struct client_filter *f)
{
    int killed = repl_ctl_client_kill(srv, f);
    for (int i = 0; i < srv->nworkers; i++) {
        struct worker *w = srv->workers[i];
        pthread_mutex_lock(&w->conns_lock);
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &w->conns)
        {
            struct conn *c = dlist_entry(pos, struct conn, node);
            if (!filter_matches(f, c))
                continue;
            /* A connection already being closed was killed before: do not count it twice. */
            if (conn_has_flag(c, CONN_F_CLOSE_ASAP))
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

int
server_count_clients_with(struct server *srv, unsigned flags)
{
    int n = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        struct worker *w = srv->workers[i];
        pthread_mutex_lock(&w->conns_lock);
        struct dlist *pos, *tmp;
        dlist_foreach_safe(pos, tmp, &w->conns)
        {
            if (conn_has_flag(dlist_entry(pos, struct conn, node), flags))
                n++;
        }
        pthread_mutex_unlock(&w->conns_lock);
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Runtime configuration                                                                      */

static const char *
compression_name(int c)
{
    switch (c) {
    case CONFIG_COMPRESSION_SNAPPY:
        return "kSnappyCompression";
    case CONFIG_COMPRESSION_ZLIB:
        return "kZlibCompression";
    case CONFIG_COMPRESSION_LZ4:
        return "kLZ4Compression";
    case CONFIG_COMPRESSION_ZSTD:
        return "kZSTD";
    default:
        return "kNoCompression";
    }
}

/* The RocksDB column-family option (name and value text) for a mutable rocksdb.* config option;
 * false when it is not a column-family option. */
static bool
rocksdb_cf_option(const struct config *cfg, const char *name, const char **opt, char *value,
                  size_t cap)
{
    if (strcmp(name, "rocksdb.write_buffer_size") == 0) {
        *opt = "write_buffer_size";
        snprintf(value, cap, "%llu", (unsigned long long)cfg->rocksdb_write_buffer_size << 20);
    } else if (strcmp(name, "rocksdb.max_write_buffer_number") == 0) {
        *opt = "max_write_buffer_number";
        snprintf(value, cap, "%d", cfg->rocksdb_max_write_buffer_number);
    } else if (strcmp(name, "rocksdb.target_file_size_base") == 0) {
        *opt = "target_file_size_base";
        snprintf(value, cap, "%llu", (unsigned long long)cfg->rocksdb_target_file_size_base << 20);
    } else if (strcmp(name, "rocksdb.disable_auto_compactions") == 0) {
        *opt = "disable_auto_compactions";
        snprintf(value, cap, "%s", cfg->rocksdb_disable_auto_compactions ? "true" : "false");
    } else if (strcmp(name, "rocksdb.level0_slowdown_writes_trigger") == 0) {
        *opt = "level0_slowdown_writes_trigger";
        snprintf(value, cap, "%d", cfg->rocksdb_level0_slowdown_writes_trigger);
    } else if (strcmp(name, "rocksdb.level0_stop_writes_trigger") == 0) {
        *opt = "level0_stop_writes_trigger";
        snprintf(value, cap, "%d", cfg->rocksdb_level0_stop_writes_trigger);
    } else if (strcmp(name, "rocksdb.level0_file_num_compaction_trigger") == 0) {
        *opt = "level0_file_num_compaction_trigger";
        snprintf(value, cap, "%d", cfg->rocksdb_level0_file_num_compaction_trigger);
    } else if (strcmp(name, "rocksdb.compression") == 0) {
        /* As at open: no compression on levels 0 and 1, the chosen one below. */
        const char *c = compression_name(cfg->rocksdb_compression);
        *opt = "compression_per_level";
        snprintf(value, cap, "kNoCompression:kNoCompression:%s:%s:%s:%s:%s", c, c, c, c, c);
    } else {
        return false;
    }
    return true;
}

static void slowlog_trim(struct server_slowlog *sl, size_t max_len);

enum kv_code
server_apply_config(struct config *cfg, const char *name, void *arg, struct kv_err *err)
{
    struct server *srv = arg;
    if (strcmp(name, "log-level") == 0) {
        log_set_level((enum log_level)cfg->log_level);
        return KV_OK;
    }
    if (srv == NULL)
        return KV_OK;
    if (strcmp(name, "requirepass") == 0) {
        atomic_store(&srv->auth_required, cfg->requirepass[0] != '\0');
    } else if (strcmp(name, "maxclients") == 0) {
        atomic_store(&srv->maxclients, cfg->maxclients);
    } else if (strcmp(name, "timeout") == 0) {
        atomic_store(&srv->timeout_s, cfg->timeout);
    } else if (strcmp(name, "slave-read-only") == 0) {
        atomic_store(&srv->slave_read_only, cfg->slave_read_only);
    } else if (strcmp(name, "slave-serve-stale-data") == 0) {
        atomic_store(&srv->slave_serve_stale_data, cfg->slave_serve_stale_data);
    } else if (strcmp(name, "slowlog-max-len") == 0) {
        slowlog_trim(srv->slowlog, (size_t)cfg->slowlog_max_len);
    } else if (strcmp(name, "persist-cluster-nodes-enabled") == 0) {
        return cluster_ctl_config_changed(srv, name, err);
    } else if (strcmp(name, "workers") == 0) {
        LOG_WARN("workers set to %d: takes effect at the next start (%d running)", cfg->workers,
                 srv->nworkers);
    } else if (strncmp(name, "rocksdb.", 8) == 0 && srv->st != NULL) {
        const char *opt = NULL;
        char value[256];
        if (rocksdb_cf_option(cfg, name, &opt, value, sizeof value))
            return storage_set_cf_option(srv->st, opt, value, err);
        LOG_WARN("%s changed: takes effect at the next start", name);
    }
    return KV_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Statistics                                                                                 */

uint64_t
server_raise_peak_memory(struct server *srv, uint64_t used)
{
    uint_fast64_t peak = atomic_load_explicit(&srv->stats.peak_memory, memory_order_relaxed);
    while (used > peak &&
           !atomic_compare_exchange_weak_explicit(&srv->stats.peak_memory, &peak, used,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
    return used > peak ? used : peak;
}

void
server_reset_stats(struct server *srv)
{
    struct server_stats *st = &srv->stats;
    atomic_store(&st->total_connections, 0);
    atomic_store(&st->rejected_connections, 0);
    atomic_store(&st->total_commands, 0);
    atomic_store(&st->net_input_bytes, 0);
    atomic_store(&st->net_output_bytes, 0);
    atomic_store(&st->keyspace_hits, 0);
    atomic_store(&st->keyspace_misses, 0);
    atomic_store(&st->error_replies, 0);
    atomic_store(&st->client_output_limit_disconnections, 0);
    if (srv->repl != NULL)
        repl_master_reset_stats(repl_ctl_master(srv));
    atomic_store(&st->peak_memory, (uint_fast64_t)kv_mem_used());
    for (size_t i = 0; i < command_count(); i++) {
        struct command_stat *cs = &srv->cmd_stats[i];
        atomic_store(&cs->calls, 0);
        atomic_store(&cs->usec, 0);
        atomic_store(&cs->rejected_calls, 0);
        atomic_store(&cs->failed_calls, 0);
    }
}

void
server_info(struct server *srv, const char *ns, const struct kv_slice *sections, size_t n,
            struct kv_buf *out)
{
    info_render(srv, ns, sections, n, out);
}

/* ------------------------------------------------------------------------------------------ */
/* Keyspace statistics                                                                        */

struct server_keyspace {
    pthread_mutex_t mu;        /* guards everything below */
    struct dict *cache;        /* namespace -> struct keyspace_stats (owned) */
    struct kv_thread *thread;  /* owned: the scan thread, running or ended; NULL when none */
    bool busy;                 /* the thread is scanning or about to take next_ns */
    char *next_ns;             /* owned: the namespace to scan next, NULL when none */
    int64_t last_auto_mono_ms; /* when cron last asked for a scan */
};

static struct server_keyspace *
keyspace_new(void)
{
    struct server_keyspace *ks = kv_calloc(1, sizeof *ks);
    pthread_mutex_init(&ks->mu, NULL);
    ks->cache = dict_new(kv_free, false);
    return ks;
}

static void
keyspace_free(struct server_keyspace *ks)
{
    if (ks == NULL)
        return;
    dict_free(ks->cache);
    kv_free(ks->next_ns);
    pthread_mutex_destroy(&ks->mu);
    kv_free(ks);
}

static void
keyspace_store(struct server_keyspace *ks, const char *ns, const struct keyspace_stats *v)
{
    struct keyspace_stats *copy = kv_malloc(sizeof *copy);
    *copy = *v;
    pthread_mutex_lock(&ks->mu);
    dict_set(ks->cache, ns, strlen(ns), copy);
    pthread_mutex_unlock(&ks->mu);
}

struct key_count {
    uint64_t keys;
    uint64_t expires;
    long double ttl_sum_ms;
    int64_t now_ms;
    struct kv_thread *self; /* NULL: not stoppable */
    struct server *srv;
    bool stopped;
};

static bool
count_key(void *arg, struct kv_slice key, const struct meta *m)
{
    (void)key;
    struct key_count *kc = arg;
    kc->keys++;
    if (m->expire_ms != 0) {
        kc->expires++;
        if ((int64_t)m->expire_ms > kc->now_ms)
            kc->ttl_sum_ms += (long double)((int64_t)m->expire_ms - kc->now_ms);
    }
    if ((kc->keys & 1023) == 0 &&
        ((kc->self != NULL && kv_thread_should_stop(kc->self)) ||
         atomic_load_explicit(&kc->srv->shutting_down, memory_order_relaxed))) {
        kc->stopped = true;
        return false;
    }
    return true;
}

/* Examined records per db_scan call: a long scan uses many short-lived iterators. */
#define KEYSPACE_SCAN_CHUNK 4096

/* Count the live keys of db's namespace. KV_ERR_STOPPED when asked to stop. */
static enum kv_code
count_namespace(struct server *srv, struct db *db, struct kv_thread *self,
                struct keyspace_stats *out, struct kv_err *err)
{
    struct key_count kc = {.now_ms = clock_now_ms(), .self = self, .srv = srv};
    struct kv_buf last = KV_BUF_INIT, pos = KV_BUF_INIT;
    bool done = false, first = true;
    enum kv_code rc = KV_OK;
    while (!done) {
        struct kv_slice after = kv_buf_slice(&pos);
        /* The background scan holds the server lock shared per chunk, so a DB swap (full sync)
         * can never close the storage under it; DBSIZE (self == NULL) already holds it. */
        if (self != NULL) {
            pthread_rwlock_rdlock(&srv->lock);
            if (atomic_load(&srv->loading)) {
                pthread_rwlock_unlock(&srv->lock);
                rc = kv_err_set(err, KV_ERR_STOPPED, "keyspace scan stopped: loading");
                break;
            }
            db->st = srv->st;
        }
        rc = db_scan(db, first ? NULL : &after, kv_slice_make(NULL, 0), META_NONE,
                     KEYSPACE_SCAN_CHUNK, count_key, &kc, &last, &done, err);
        if (self != NULL)
            pthread_rwlock_unlock(&srv->lock);
        if (rc != KV_OK)
            break;
        if (kc.stopped) {
            rc = kv_err_set(err, KV_ERR_STOPPED, "keyspace scan stopped");
            break;
        }
        first = false;
        kv_buf_set(&pos, last.ptr, last.len);
    }
    kv_buf_deinit(&pos);
    kv_buf_deinit(&last);
    if (rc != KV_OK)
        return rc;
    out->keys = kc.keys;
    out->expires = kc.expires;
    out->avg_ttl_ms = kc.expires ? (uint64_t)(kc.ttl_sum_ms / (long double)kc.expires) : 0;
    out->scan_time_s = clock_now_ms() / 1000;
    return KV_OK;
}

enum kv_code
server_keyspace_scan(struct server *srv, struct db *db, struct keyspace_stats *out,
                     struct kv_err *err)
{
    struct keyspace_stats v;
    enum kv_code rc = count_namespace(srv, db, NULL, &v, err);
    if (rc != KV_OK)
        return rc;
    char ns[CONN_NS_MAX];
    snprintf(ns, sizeof ns, "%.*s", (int)db->ns.len, db->ns.ptr);
    keyspace_store(srv->keyspace, ns, &v);
    *out = v;
    return KV_OK;
}

/* The scan thread: scans the requested namespaces one after the other, then ends. */
static void
keyspace_thread(struct kv_thread *self, void *arg)
{
    struct server *srv = arg;
    struct server_keyspace *ks = srv->keyspace;
    for (;;) {
        pthread_mutex_lock(&ks->mu);
        char *ns = ks->next_ns;
        ks->next_ns = NULL;
        if (ns == NULL || kv_thread_should_stop(self)) {
            ks->busy = false;
            pthread_mutex_unlock(&ks->mu);
            kv_free(ns);
            return;
        }
        pthread_mutex_unlock(&ks->mu);

        struct db db = {
            .st = srv->st,
            .locks = srv->locks,
            .ns = kv_slice_cstr(ns),
            .cluster = srv->cfg->cluster_enabled,
        };
        struct keyspace_stats v;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = count_namespace(srv, &db, self, &v, &err);
        if (rc == KV_OK)
            keyspace_store(ks, ns, &v);
        else if (rc != KV_ERR_STOPPED)
            LOG_WARN("keyspace scan of namespace %s failed: %s", ns, err.msg);
        kv_free(ns);
    }
}

/* Queue a scan of `ns` and make sure the thread runs. Caller holds ks->mu. */
static enum kv_code
keyspace_request_locked(struct server *srv, const char *ns, struct kv_err *err)
{
    struct server_keyspace *ks = srv->keyspace;
    if (atomic_load(&srv->shutting_down))
        return kv_err_set(err, KV_ERR, "the server is shutting down");
    if (ks->next_ns != NULL) {
        if (strcmp(ks->next_ns, ns) == 0)
            return KV_OK; /* already queued */
        return kv_err_set(err, KV_ERR, "scanning the db now");
    }
    ks->next_ns = kv_strdup(ns);
    if (ks->busy)
        return KV_OK; /* the running thread takes it next */
    if (ks->thread != NULL) {
        /* It cleared `busy` on its way out: the join is immediate. */
        if (kv_thread_join_timeout(ks->thread, 1000) != KV_OK) {
            kv_free(ks->next_ns);
            ks->next_ns = NULL;
            return kv_err_set(err, KV_ERR, "scanning the db now");
        }
        ks->thread = NULL;
    }
    enum kv_code rc = kv_thread_start(&ks->thread, keyspace_thread, srv, "keyspace-scan", err);
    if (rc != KV_OK) {
        kv_free(ks->next_ns);
        ks->next_ns = NULL;
        ks->thread = NULL;
        return rc;
    }
    ks->busy = true;
    return KV_OK;
}

enum kv_code
server_keyspace_scan_async(struct server *srv, const char *ns, struct kv_err *err)
{
    struct server_keyspace *ks = srv->keyspace;
    pthread_mutex_lock(&ks->mu);
    enum kv_code rc = keyspace_request_locked(srv, ns, err);
    pthread_mutex_unlock(&ks->mu);
    return rc;
}

void
server_keyspace_flushed(struct server *srv, const char *ns)
{
    struct server_keyspace *ks = srv->keyspace;
    int64_t now_s = clock_now_ms() / 1000;
    pthread_mutex_lock(&ks->mu);
    if (ns == NULL) {
        struct dict_iter it;
        dict_iter_init(&it, ks->cache);
        const void *k;
        size_t klen;
        void *v;
        while (dict_iter_next(&it, &k, &klen, &v)) {
            struct keyspace_stats *st = v;
            memset(st, 0, sizeof *st);
            st->scan_time_s = now_s;
        }
    } else {
        struct keyspace_stats *st = kv_calloc(1, sizeof *st);
        st->scan_time_s = now_s;
        dict_set(ks->cache, ns, strlen(ns), st);
    }
    pthread_mutex_unlock(&ks->mu);
}

void
server_keyspace_cached(struct server *srv, const char *ns, struct keyspace_stats *out)
{
    struct server_keyspace *ks = srv->keyspace;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ks->mu);
    const struct keyspace_stats *v = dict_get(ks->cache, ns, strlen(ns));
    if (v != NULL)
        *out = *v;
    pthread_mutex_unlock(&ks->mu);
}

void
server_storage_cron(struct server *srv)
{
    if (atomic_load(&srv->loading) || atomic_load(&srv->shutting_down))
        return;
    if (pthread_rwlock_tryrdlock(&srv->lock) != 0)
        return;
    if (srv->st != NULL && !atomic_load(&srv->loading))
        storage_tune_memtables(srv->st);
    pthread_rwlock_unlock(&srv->lock);
}

void
server_keyspace_cron(struct server *srv)
{
    struct server_keyspace *ks = srv->keyspace;
    /* srv->st is read below, under the server lock: a full sync swaps it under the lock. */
    if (atomic_load(&srv->loading) || atomic_load(&srv->shutting_down))
        return;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&ks->mu);
    if (!ks->busy && ks->thread != NULL && kv_thread_join_timeout(ks->thread, 0) == KV_OK)
        ks->thread = NULL;
    bool due = !ks->busy && now - ks->last_auto_mono_ms >= SERVER_KEYSPACE_REFRESH_S * 1000;
    if (due) {
        const struct keyspace_stats *v =
            dict_get(ks->cache, KEYS_DEFAULT_NAMESPACE, strlen(KEYS_DEFAULT_NAMESPACE));
        due = v == NULL || clock_now_ms() / 1000 - v->scan_time_s >= SERVER_KEYSPACE_REFRESH_S;
    }
    pthread_mutex_unlock(&ks->mu);
    if (!due)
        return;
    /* The storage may be swapped by a full sync: read it under the shared lock, or skip. */
    if (pthread_rwlock_tryrdlock(&srv->lock) != 0)
        return;
    uint64_t estimate =
        srv->st == NULL || atomic_load(&srv->loading)
            ? UINT64_MAX
            : storage_property_int(srv->st, KV_CF_METADATA, "rocksdb.estimate-num-keys");
    pthread_rwlock_unlock(&srv->lock);
    if (estimate > SERVER_KEYSPACE_AUTO_MAX_KEYS)
        return;
    pthread_mutex_lock(&ks->mu);
    ks->last_auto_mono_ms = now;
    struct kv_err err;
    kv_err_clear(&err);
    (void)keyspace_request_locked(srv, KEYS_DEFAULT_NAMESPACE, &err);
    pthread_mutex_unlock(&ks->mu);
}

enum kv_code
server_keyspace_stop(struct server *srv, int64_t deadline_ms)
{
    struct server_keyspace *ks = srv->keyspace;
    if (ks == NULL)
        return KV_OK;
    pthread_mutex_lock(&ks->mu);
    struct kv_thread *t = ks->thread;
    ks->thread = NULL;
    kv_free(ks->next_ns);
    ks->next_ns = NULL;
    pthread_mutex_unlock(&ks->mu);
    if (t == NULL)
        return KV_OK;
    int64_t left = deadline_ms - clock_mono_ms();
    enum kv_code rc = kv_thread_stop(t, left > 0 ? left : 0);
    if (rc != KV_OK) {
        pthread_mutex_lock(&ks->mu);
        ks->thread = t; /* still running: keep the handle */
        pthread_mutex_unlock(&ks->mu);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Slowlog                                                                                    */

struct slowlog_entry {
    struct dlist node; /* in server_slowlog.entries, newest first */
    uint64_t id;
    int64_t time_s;
    int64_t usec;
    int argc;
    size_t arg_len[SLOWLOG_MAX_ARGC];
    char *args; /* owned: the (possibly shortened) arguments back to back */
    char addr[64];
    char name[CONN_NAME_MAX];
};

struct server_slowlog {
    pthread_mutex_t mu; /* guards everything below */
    struct dlist entries;
    size_t len;
    uint64_t next_id;
};

static struct server_slowlog *
slowlog_new(void)
{
    struct server_slowlog *sl = kv_calloc(1, sizeof *sl);
    pthread_mutex_init(&sl->mu, NULL);
    dlist_init(&sl->entries);
    return sl;
}

static void
slowlog_entry_free(struct slowlog_entry *e)
{
    kv_free(e->args);
    kv_free(e);
}

/* Drop the oldest entries beyond max_len. */
static void
slowlog_trim_locked(struct server_slowlog *sl, size_t max_len)
{
    while (sl->len > max_len) {
        struct dlist *oldest = sl->entries.prev;
        dlist_remove(oldest);
        slowlog_entry_free(dlist_entry(oldest, struct slowlog_entry, node));
        sl->len--;
    }
}

static void
slowlog_trim(struct server_slowlog *sl, size_t max_len)
{
    pthread_mutex_lock(&sl->mu);
    slowlog_trim_locked(sl, max_len);
    pthread_mutex_unlock(&sl->mu);
}

static void
slowlog_free(struct server_slowlog *sl)
{
    if (sl == NULL)
        return;
    slowlog_trim_locked(sl, 0);
    pthread_mutex_destroy(&sl->mu);
    kv_free(sl);
}

void
server_slowlog_push(struct server *srv, const struct conn *c, int argc, const struct kv_slice *argv,
                    int64_t usec)
{
    int64_t threshold = srv->cfg->slowlog_log_slower_than;
    if (threshold < 0 || usec < threshold)
        return;
    struct slowlog_entry *e = kv_calloc(1, sizeof *e);
    e->time_s = clock_now_ms() / 1000;
    e->usec = usec;
    e->argc = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    struct kv_buf args = KV_BUF_INIT;
    for (int i = 0; i < e->argc; i++) {
        size_t before = args.len;
        if (e->argc != argc && i == e->argc - 1) {
            /* The last slot says how many were left out, as Redis. */
            kv_buf_printf(&args, "... (%d more arguments)", argc - e->argc + 1);
        } else if (argv[i].len > SLOWLOG_MAX_ARGLEN) {
            kv_buf_append(&args, argv[i].ptr, SLOWLOG_MAX_ARGLEN);
            kv_buf_printf(&args, "... (%zu more bytes)", argv[i].len - SLOWLOG_MAX_ARGLEN);
        } else {
            kv_buf_append_slice(&args, argv[i]);
        }
        e->arg_len[i] = args.len - before;
    }
    e->args = kv_buf_steal(&args, NULL);
    if (c != NULL) {
        snprintf(e->addr, sizeof e->addr, "%s", c->addr);
        snprintf(e->name, sizeof e->name, "%s", c->name);
    }
    struct server_slowlog *sl = srv->slowlog;
    pthread_mutex_lock(&sl->mu);
    e->id = sl->next_id++;
    dlist_insert_head(&sl->entries, &e->node);
    sl->len++;
    slowlog_trim_locked(sl, (size_t)srv->cfg->slowlog_max_len);
    pthread_mutex_unlock(&sl->mu);
}

size_t
server_slowlog_len(struct server *srv)
{
    pthread_mutex_lock(&srv->slowlog->mu);
    size_t n = srv->slowlog->len;
    pthread_mutex_unlock(&srv->slowlog->mu);
    return n;
}

void
server_slowlog_reset(struct server *srv)
{
    slowlog_trim(srv->slowlog, 0);
}

void
server_slowlog_reply(struct server *srv, int64_t count, struct resp_out *out)
{
    struct server_slowlog *sl = srv->slowlog;
    pthread_mutex_lock(&sl->mu);
    size_t n = sl->len;
    if (count >= 0 && (uint64_t)count < n)
        n = (size_t)count;
    resp_write_array(out, n);
    size_t done = 0;
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &sl->entries)
    {
        if (done == n)
            break;
        const struct slowlog_entry *e = dlist_entry(pos, struct slowlog_entry, node);
        resp_write_array(out, 6);
        resp_write_int(out, (int64_t)e->id);
        resp_write_int(out, e->time_s);
        resp_write_int(out, e->usec);
        resp_write_array(out, (size_t)e->argc);
        size_t off = 0;
        for (int i = 0; i < e->argc; i++) {
            resp_write_bulk(out, e->args + off, e->arg_len[i]);
            off += e->arg_len[i];
        }
        resp_write_bulk_cstr(out, e->addr);
        resp_write_bulk_cstr(out, e->name);
        done++;
    }
    pthread_mutex_unlock(&sl->mu);
}
