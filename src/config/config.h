/* SPDX-License-Identifier: Apache-2.0
 *
 * config: the server's options, as one table (name, type, default, bounds, mutability) that
 * serves the file parser, CONFIG GET/SET/REWRITE and the defaults of kvrocks.conf. Option names,
 * syntax and defaults are Kvrocks' (../shared/reference/kvrocks-notes.md section 5).
 *
 * File syntax: one `name value...` per line; '#' starts a comment line; values may be quoted
 * with "..." (C-style escapes) or '...'; names are case-insensitive. An unknown option, a bad
 * value or an unreadable file fails the load with "<file>:<line>: <reason>" in err->msg.
 *
 * Threads: loaded by the main thread before workers start. Afterwards fields are read by any
 * thread; a runtime change (config_set_runtime) happens only while the caller holds the server's
 * exclusive lock, so readers under the shared lock never see a half-written value. String fields
 * are owned by the struct (kv_malloc'd) and are replaced, never edited in place.
 */
#ifndef KV_CONFIG_CONFIG_H
#define KV_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum config_compression {
    CONFIG_COMPRESSION_NO = 0,
    CONFIG_COMPRESSION_SNAPPY,
    CONFIG_COMPRESSION_ZLIB,
    CONFIG_COMPRESSION_LZ4,
    CONFIG_COMPRESSION_ZSTD,
};

struct config {
    char *path; /* owned; the file loaded (NULL when none), target of CONFIG REWRITE */

    /* network */
    char *bind;                 /* owned; space-separated addresses, default "127.0.0.1" */
    int port;                   /* 6666 */
    int workers;                /* 8, 1..256 */
    int tcp_backlog;            /* 511 */
    int maxclients;             /* 10240 */
    int timeout;                /* idle seconds, 0 = never */
    int64_t proto_max_bulk_len; /* 512 MiB, min 1 MiB */

    /* process */
    bool daemonize;              /* no */
    char *pidfile;               /* owned; default "" meaning <dir>/kvrocks.pid */
    char *dir;                   /* owned; default "/tmp/kvrocks" */
    char *db_name;               /* owned; "change.me.db" */
    char *log_dir;               /* owned; "" means dir; "stdout" */
    int log_level;               /* enum log_level, default info; mutable */
    char *requirepass;           /* owned; "" = none; mutable */
    int slowlog_log_slower_than; /* us, 200000; -1 disables; mutable */
    int slowlog_max_len;         /* 128; mutable */
    bool resp3_enabled;          /* no (HELLO 3 still works; this only gates the default) */

    /* replication */
    char *masterauth;            /* owned; "" */
    char *slaveof_host;          /* owned; "" = not a replica (config: `slaveof host port`) */
    int slaveof_port;            /* 0 when not set */
    bool slave_read_only;        /* yes */
    bool slave_serve_stale_data; /* yes */
    bool slave_empty_db_before_fullsync; /* no */
    int max_replication_mb;              /* 0 = unlimited */
    int replication_connect_timeout_ms;  /* 3100 */
    int replication_recv_timeout_ms;     /* 3200 */
    int replication_send_timeout_ms;     /* 30000 */
    int max_replication_lag;             /* sequences; 0 = unlimited */

    /* cluster */
    bool cluster_enabled;               /* no */
    bool persist_cluster_nodes_enabled; /* yes */

    /* rocksdb */
    int rocksdb_block_cache_size;          /* MiB, 4096 in the sample conf; code default 4096 */
    int rocksdb_write_buffer_size;         /* MiB, 64 */
    int rocksdb_max_write_buffer_number;   /* 4 */
    int rocksdb_target_file_size_base;     /* MiB, 128 */
    int rocksdb_max_open_files;            /* 8096 */
    int rocksdb_max_background_jobs;       /* 4 */
    int rocksdb_compression;               /* enum config_compression, default no */
    int rocksdb_block_size;                /* bytes, 16384 */
    int rocksdb_wal_ttl_seconds;           /* 10800 */
    int rocksdb_wal_size_limit_mb;         /* 16384 */
    int rocksdb_max_total_wal_size;        /* MiB, 512 */
    bool rocksdb_disable_auto_compactions; /* no */
    int rocksdb_level0_slowdown_writes_trigger;     /* 20 */
    int rocksdb_level0_stop_writes_trigger;         /* 40 */
    int rocksdb_level0_file_num_compaction_trigger; /* 4 */
    bool rocksdb_write_options_sync;                /* no */
};

/* Called after a successful runtime change of option `name` (already stored in cfg). Returning
 * an error makes config_set_runtime restore the old value and fail with that error. */
typedef enum kv_code (*config_apply_fn)(struct config *cfg, const char *name, void *arg,
                                        struct kv_err *err);

/* A config with every default. Never NULL. */
struct config *config_new(void);
void config_free(struct config *cfg); /* NULL is a no-op */

/* Load `path` over the current values (records cfg->path). On error cfg may be partly updated;
 * the caller exits. Errors: KV_ERR_IO (cannot read: "<path>: <strerror>"), KV_ERR_INVALID
 * ("<path>:<line>: <reason>", e.g. "unknown option 'foo'", "invalid value 'x' for 'port'"). */
enum kv_code config_load_file(struct config *cfg, const char *path, struct kv_err *err);

/* Set one option from its text form, as a config line would (any option, mutable or not). Used
 * for the file and for `--name value` command-line overrides. */
enum kv_code config_set(struct config *cfg, const char *name, const char *value,
                        struct kv_err *err);

/* CONFIG SET: refuses unknown and immutable options with the Kvrocks/Redis message
 * ("Unsupported CONFIG parameter: <name>"), validates, stores, then calls the apply hook; if
 * the hook fails the old value is restored. */
enum kv_code config_set_runtime(struct config *cfg, const char *name, const char *value,
                                struct kv_err *err);

/* Register the hook for runtime changes (one hook; NULL clears). */
void config_set_apply_hook(struct config *cfg, config_apply_fn fn, void *arg);

/* The current value of `name` in its text form (as CONFIG GET shows it: yes/no for booleans,
 * the enum's name, numbers in decimal). KV_NOTFOUND for an unknown name. */
enum kv_code config_get(const struct config *cfg, const char *name, struct kv_buf *out);

/* Call fn for every option whose name matches the glob `pattern` (case-insensitive), in table
 * order, with the value's text form (valid only during the call). */
void config_match(const struct config *cfg, const char *pattern,
                  void (*fn)(const char *name, const char *value, void *arg), void *arg);

/* CONFIG REWRITE: rewrite cfg->path with the current values, keeping comments, blank lines and
 * the order of the existing lines; options whose value differs from the default and that the
 * file lacks are appended. Written to a temp file, fsynced and renamed over the original.
 * KV_ERR when no file was loaded ("The server is running without a config file"). */
enum kv_code config_rewrite(const struct config *cfg, struct kv_err *err);

/* Derived paths, written into `out` (cleared first). */
void config_db_dir(const struct config *cfg, struct kv_buf *out); /* <dir>/db */
void config_pidfile_path(const struct config *cfg,
                         struct kv_buf *out); /* pidfile or <dir>/kvrocks.pid */
void config_log_dir(const struct config *cfg, struct kv_buf *out); /* log-dir or dir or "stdout" */

/* Number of options in the table, and the name of option i (for tests and COMMAND DOCS-like
 * listings). */
size_t config_option_count(void);
const char *config_option_name(size_t i);
/* The default value's text form of option i. */
const char *config_option_default(size_t i);
bool config_option_is_mutable(size_t i);

#ifdef __cplusplus
}
#endif

#endif
