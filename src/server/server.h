/* SPDX-License-Identifier: Apache-2.0
 *
 * server: the server object. It owns the storage, the key-lock table, the workers, the
 * server-wide statistics (counters, per-command stats, the slowlog, the keyspace statistics
 * cache and the thread that fills it), and knows the start and stop order. It borrows the
 * config (main owns it). Commands reach it through cmd_ctx->srv for admin work (INFO, CONFIG,
 * CLIENT, SHUTDOWN, SLOWLOG, DBSIZE).
 *
 * Locking: `lock` is the server-wide reader/writer lock of DESIGN.md section 2. Every command
 * runs holding it shared, except CMD_EXCLUSIVE ones which hold it exclusively; no holder ever
 * waits on the network. Statistics are atomics; the slowlog and the keyspace cache have their
 * own mutexes (leaves: nothing else is locked while holding them).
 *
 * Threads: created and stopped by the main thread; the accessors below are safe from workers
 * unless marked otherwise.
 */
#ifndef KV_SERVER_SERVER_H
#define KV_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"
#include "config/config.h"
#include "resp/resp_write.h"
#include "storage/storage.h"
#include "types/db.h"
#include "types/keylock.h"

#ifdef __cplusplus
extern "C" {
#endif

struct worker;
struct conn;
struct command_spec;

/* The Redis version this server presents (INFO redis_version; HELLO's "version" should say the
 * same, as Kvrocks' does): the release whose command semantics and error texts it follows. */
#define SERVER_REDIS_VERSION "7.0.0"

/* Per-command statistics (INFO commandstats), one slot per command table row. */
struct command_stat {
    atomic_uint_fast64_t calls;
    atomic_uint_fast64_t usec;
    atomic_uint_fast64_t rejected_calls; /* refused before running (arity, auth, ...) */
    atomic_uint_fast64_t failed_calls;   /* ran and replied with an error */
};

struct server_stats {
    atomic_uint_fast64_t total_connections;
    atomic_uint_fast64_t rejected_connections;
    atomic_uint_fast64_t total_commands;
    atomic_uint_fast64_t net_input_bytes;
    atomic_uint_fast64_t net_output_bytes;
    atomic_uint_fast64_t keyspace_hits;
    atomic_uint_fast64_t keyspace_misses;
    atomic_uint_fast64_t error_replies;
    atomic_uint_fast64_t client_output_limit_disconnections;
    /* instantaneous rates, sampled by cron once a second */
    atomic_uint_fast64_t inst_ops_per_sec;
    atomic_uint_fast64_t inst_input_bytes_per_sec;
    atomic_uint_fast64_t inst_output_bytes_per_sec;
    atomic_uint_fast64_t peak_memory; /* highest kv_mem_used() seen by cron or INFO */
    uint64_t last_sample_commands;    /* cron only */
    uint64_t last_sample_input;       /* cron only */
    uint64_t last_sample_output;      /* cron only */
    int64_t last_sample_ms;           /* cron only */
};

/* Key counts of one namespace, from the last full scan of its metadata (INFO keyspace, the
 * `db0:` line). Kvrocks computes them the same way (DBSIZE SCAN), since RocksDB cannot count
 * live keys of a prefix without reading them. */
struct keyspace_stats {
    uint64_t keys;       /* live keys */
    uint64_t expires;    /* live keys with an expiry */
    uint64_t avg_ttl_ms; /* mean remaining TTL of those, 0 when none */
    int64_t scan_time_s; /* wall clock (s) when the scan finished; 0 = never scanned */
};

/* Opaque parts of the server, defined in server.c. */
struct server_keyspace;
struct server_slowlog;
struct repl_ctl_state;
struct cluster_ctl;
struct migrate_ctl_state;

struct server {
    struct config *cfg;          /* borrowed from main; runtime changes under `lock` exclusive */
    struct storage *st;          /* owned */
    struct keylock_table *locks; /* owned */
    struct db_hooks db_hooks;    /* every connection's db points here (server/notify.c) */
    struct worker **workers;     /* owned; nworkers entries */
    int nworkers;
    pthread_rwlock_t lock; /* shared by commands, exclusive by CMD_EXCLUSIVE ones */

    atomic_int connected_clients;
    atomic_uint_fast64_t next_client_id;
    atomic_bool loading; /* DB being restored: commands get -LOADING */
    atomic_bool shutting_down;

    int64_t start_time_ms; /* wall clock at start */
    int64_t start_mono_ms;
    char run_id[41]; /* 40 hex chars, per process */
    char executable[4096];
    char config_file[4096];

    struct server_stats stats;
    struct command_stat *cmd_stats; /* owned; command_count() entries */
    size_t used_memory_startup;     /* kv_mem_used() once the server was built */

    /* Mirrors of mutable options for code that reads them without the server lock (accept,
     * idle timeouts); written by server_apply_config under the exclusive lock. */
    atomic_bool auth_required; /* requirepass is set */
    atomic_int maxclients;
    atomic_int timeout_s;
    atomic_bool slave_read_only; /* the replica checks of dispatch_command */
    atomic_bool slave_serve_stale_data;

    struct server_keyspace *keyspace;  /* owned: keyspace statistics cache and its scanner */
    struct server_slowlog *slowlog;    /* owned */
    struct repl_ctl_state *repl;       /* owned: replication role (server/repl_ctl.c) */
    struct cluster_ctl *cluster;       /* owned: topology, cluster mode only (cluster_ctl.c) */
    struct migrate_ctl_state *migrate; /* owned: slot migration, cluster mode only
                                          (server/migrate_ctl.c) */

    int shutdown_fd;       /* eventfd main waits on; written by server_request_shutdown */
    struct kv_buf pidfile; /* path of the pidfile we wrote ("" when none) */
};

/* Create the server: opens storage at <dir>/db, builds the command table, creates workers and
 * their listening sockets (not yet running). KV_ERR_IO with a reason when the port is in use or
 * the DB cannot be opened. */
enum kv_code server_new(struct config *cfg, struct server **out, struct kv_err *err);

/* Start the worker threads. */
enum kv_code server_start(struct server *srv, struct kv_err *err);

/* Ask the main thread to shut down (SHUTDOWN command, signals). Returns at once. */
void server_request_shutdown(struct server *srv);

/* Stop everything in order within `deadline_ms` (monotonic): stop accepting, stop workers (each
 * finishes its command in flight), close storage. Logs what it waited on. Then free. */
void server_stop_and_free(struct server *srv, int64_t deadline_ms);

/* Seconds since start. */
int64_t server_uptime_s(const struct server *srv);

/* The worker that runs the calling thread, or NULL for non-worker threads. */
struct worker *server_current_worker(void);

/* The server lock with group commit (worker.h). server_lock_shared: take srv->lock shared; a
 * worker that would wait for it settles its staged writes first (a waiting exclusive holder may
 * be waiting for them). server_wait_unstaged: called right after taking srv->lock exclusively,
 * waits until no worker has staged writes left, so that every write routed under an earlier
 * shared hold is in the DB (and its WAL) before the exclusive work starts. */
void server_lock_shared(struct server *srv);
void server_wait_unstaged(struct server *srv);

/* --- client registry across workers (CLIENT LIST / KILL) --- */

/* Client types for CLIENT LIST TYPE / CLIENT KILL TYPE. */
#define SERVER_CLIENT_ANY (-1)
#define SERVER_CLIENT_NORMAL 0
#define SERVER_CLIENT_PUBSUB 1
#define SERVER_CLIENT_REPLICA 2
#define SERVER_CLIENT_MASTER 3

struct client_filter {
    uint64_t id;       /* 0 = any */
    const char *addr;  /* NULL = any; "ip:port" */
    const char *laddr; /* NULL = any */
    int type;          /* SERVER_CLIENT_*: -1 any, 0 normal, 1 pubsub, 2 replica, 3 master */
    bool skipme;       /* do not match the caller */
    const struct conn *me;
};

/* Append CLIENT LIST lines (each ending with '\n') for every connection (or only `id` when
 * id != 0) to out. Takes each worker's conns lock in turn. */
void server_client_list(struct server *srv, uint64_t only_id, struct kv_buf *out);
/* The same for the connections matching `f`. */
void server_client_list_filter(struct server *srv, const struct client_filter *f,
                               struct kv_buf *out);

/* Close every connection matching the filter (asynchronously on its worker; the caller itself,
 * when it matches, is closed after its reply is written); returns how many matched. */
int server_client_kill(struct server *srv, const struct client_filter *f);

/* Count connections with any of the CONN_F_* `flags` (INFO clients: blocked, monitors). */
int server_count_clients_with(struct server *srv, unsigned flags);

/* --- runtime configuration --- */

/* The CONFIG SET hook (config_set_apply_hook; `arg` is the server): applies log-level,
 * requirepass/maxclients/timeout (to the mirrors above: requirepass then applies to new
 * connections, connected clients keep their state, as in Redis), slowlog-max-len, and the
 * RocksDB column-family options (rocksdb.write_buffer_size, max_write_buffer_number,
 * target_file_size_base, compression, disable_auto_compactions, level0_*), which RocksDB
 * changes live. The RocksDB DB-wide options (max_open_files, max_background_jobs,
 * max_total_wal_size) and `workers` are stored and take effect at the next start (the RocksDB
 * C API has no SetDBOptions), which is logged. Runs under the exclusive server lock. */
enum kv_code server_apply_config(struct config *cfg, const char *name, void *arg,
                                 struct kv_err *err);

/* --- statistics --- */

/* CONFIG RESETSTAT: zero the counters of INFO stats and commandstats, as Redis (the slowlog
 * is kept; gauges such as connected clients or memory are not counters and stay). */
void server_reset_stats(struct server *srv);

/* Raise stats.peak_memory to `used` if it is higher; returns the peak after the call. Any thread
 * (cron, INFO on several workers at once): a compare-and-swap, so a lower value stored last
 * never replaces a higher one. */
uint64_t server_raise_peak_memory(struct server *srv, uint64_t used);

/* The INFO text for `sections` (names as given by the client, case-insensitive: none means
 * "default"; "all", "everything", "default" are groups; unknown names add nothing) for a
 * client of namespace `ns`, appended to out. See server/info.h for the sections and fields. */
void server_info(struct server *srv, const char *ns, const struct kv_slice *sections, size_t n,
                 struct kv_buf *out);

/* --- keyspace statistics (INFO keyspace, DBSIZE) --- */

/* Count the live keys of db's namespace now, on the calling thread (DBSIZE), store the result
 * in the cache and return it. Reads the whole metadata range of the namespace. */
enum kv_code server_keyspace_scan(struct server *srv, struct db *db, struct keyspace_stats *out,
                                  struct kv_err *err);
/* DBSIZE SCAN: start a background scan of namespace `ns` (one at a time, on a server thread).
 * KV_ERR "scanning the db now" when a scan is already running (Kvrocks' answer). */
enum kv_code server_keyspace_scan_async(struct server *srv, const char *ns, struct kv_err *err);
/* After FLUSHDB (ns) or FLUSHALL (ns NULL): the cached statistics become "empty, now". */
void server_keyspace_flushed(struct server *srv, const char *ns);
/* The cached statistics of `ns` (all zero with scan_time_s 0 when never scanned). */
void server_keyspace_cached(struct server *srv, const char *ns, struct keyspace_stats *out);
/* Cron: reap a finished background scan; start one for the default namespace when its cached
 * result is older than SERVER_KEYSPACE_REFRESH_S and the metadata column family holds at most
 * SERVER_KEYSPACE_AUTO_MAX_KEYS records (RocksDB's estimate), so INFO keyspace follows the data
 * on ordinary databases without ever putting a full scan of a huge one on a timer. */
#define SERVER_KEYSPACE_REFRESH_S 10
#define SERVER_KEYSPACE_AUTO_MAX_KEYS 1000000
void server_keyspace_cron(struct server *srv);
/* Cron: storage_tune_memtables on the DB in service (skipped while a swap holds the server
 * lock, or while loading). */
void server_storage_cron(struct server *srv);
/* Stop the background scan (it reads the storage): whoever closes or swaps the DB calls this
 * first; server_stop_and_free does. Queued requests are dropped; later requests start a new
 * scan. KV_ERR_TIMEOUT when the thread did not end by deadline_ms (monotonic). Main thread. */
enum kv_code server_keyspace_stop(struct server *srv, int64_t deadline_ms);

/* --- slowlog (SLOWLOG GET/LEN/RESET; slowlog-log-slower-than, slowlog-max-len) --- */

/* Record a command that took `usec` if it is at least slowlog-log-slower-than (and that is
 * not negative). Keeps at most SLOWLOG_MAX_ARGC arguments of at most SLOWLOG_MAX_ARGLEN bytes,
 * as Redis. Called by the dispatcher after each command, on the connection's worker, while it
 * still holds the server lock (the thresholds are config fields CONFIG SET may change). */
#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128
void server_slowlog_push(struct server *srv, const struct conn *c, int argc,
                         const struct kv_slice *argv, int64_t usec);
/* Number of entries. */
size_t server_slowlog_len(struct server *srv);
void server_slowlog_reset(struct server *srv);
/* Write the newest `count` entries (all when count < 0) as SLOWLOG GET replies them: an array
 * of [id, unix time, usec, [args...], "ip:port", client name]. */
void server_slowlog_reply(struct server *srv, int64_t count, struct resp_out *out);

#ifdef __cplusplus
}
#endif

#endif
