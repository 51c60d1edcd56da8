/* SPDX-License-Identifier: Apache-2.0
 *
 * server: the server object. It owns the storage, the key-lock table, the workers and the
 * server-wide statistics, and knows the start and stop order. It borrows the config (main owns
 * it). Commands reach it through cmd_ctx->srv for admin work (INFO, CONFIG, CLIENT, SHUTDOWN).
 *
 * Locking: `lock` is the server-wide reader/writer lock of DESIGN.md section 2. Every command
 * runs holding it shared, except CMD_EXCLUSIVE ones which hold it exclusively; no holder ever
 * waits on the network.
 *
 * Threads: created and stopped by the main thread; the accessors below are safe from workers.
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
#include "storage/storage.h"
#include "types/keylock.h"

#ifdef __cplusplus
extern "C" {
#endif

struct worker;
struct conn;
struct command_spec;

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
    /* instantaneous ops/sec, sampled by cron */
    atomic_uint_fast64_t inst_ops_per_sec;
    uint64_t last_sample_commands; /* cron only */
    int64_t last_sample_ms;        /* cron only */
};

struct server {
    struct config *cfg;          /* borrowed from main; runtime changes under `lock` exclusive */
    struct storage *st;          /* owned */
    struct keylock_table *locks; /* owned */
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

/* --- client registry across workers (CLIENT LIST / KILL) --- */

/* Append CLIENT LIST lines for every connection (or only `id` when id != 0) to out. */
void server_client_list(struct server *srv, uint64_t only_id, struct kv_buf *out);

struct client_filter {
    uint64_t id;       /* 0 = any */
    const char *addr;  /* NULL = any; "ip:port" */
    const char *laddr; /* NULL = any */
    int type;          /* -1 any, 0 normal, 1 pubsub, 2 replica, 3 master */
    bool skipme;       /* do not kill the caller */
    const struct conn *me;
};
/* Close every connection matching the filter (asynchronously on its worker); returns how many
 * matched. */
int server_client_kill(struct server *srv, const struct client_filter *f);

/* Apply a runtime config change (CONFIG SET hook): log level, rocksdb mutable options, ... */
enum kv_code server_apply_config(struct config *cfg, const char *name, void *arg,
                                 struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
