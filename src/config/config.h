/* SPDX-License-Identifier: Apache-2.0
 *
 * config: the server's options, as one table (name, type, default, bounds, mutability) that
 * serves the file parser, CONFIG GET/SET/REWRITE and the defaults of kvrocks.conf. Option names,
 * syntax and defaults are Kvrocks' (../shared/reference/kvrocks-notes.md section 5).
 *
 * File syntax: one `name value...` per line; a line whose first non-blank is '#' is a comment
 * ('#' later in a line is part of the value); words are separated by blanks and may be quoted
 * with "..." (escapes \n \r \t \a \b \\ \" \xHH; any other \c is c) or '...' (only \'). Only
 * list options (`bind`) and `slaveof` take several words; any other option takes one word (an
 * absent word is the empty string). Names are case-insensitive; when an option repeats, the
 * last line wins. An unknown option, a bad value or an unreadable file fails the load with
 * "<file>:<line>: <reason>" in err->msg.
 *
 * Values: booleans yes/no (any case); integers in plain decimal with an optional '-', within
 * the bounds written next to each field; `proto-max-bulk-len` also takes k/m/g (x1000) and
 * kb/mb/gb (x1024) units; enums by name (any case). CONFIG GET shows numbers in decimal, so
 * `proto-max-bulk-len 1mb` reads back as 1048576.
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

/* migrate-type: how slot migration ships keys. */
enum config_migrate_type {
    CONFIG_MIGRATE_REDIS_COMMAND = 0, /* as commands (SET, RPUSH, ...) */
    CONFIG_MIGRATE_RAW_KEY_VALUE,     /* as raw RocksDB write batches (APPLYBATCH) */
};

enum config_compression {
    CONFIG_COMPRESSION_NO = 0,
    CONFIG_COMPRESSION_SNAPPY,
    CONFIG_COMPRESSION_ZLIB,
    CONFIG_COMPRESSION_LZ4,
    CONFIG_COMPRESSION_ZSTD,
};

struct config;

/* Called after a successful runtime change of option `name` (already stored in cfg). Returning
 * an error makes config_set_runtime restore the old value and fail with that error. */
typedef enum kv_code (*config_apply_fn)(struct config *cfg, const char *name, void *arg,
                                        struct kv_err *err);

struct config {
    char *path; /* owned; the file loaded (NULL when none), target of CONFIG REWRITE */

    /* network */
    char *bind;                 /* owned; addresses joined by one space, default "127.0.0.1";
                                   never empty (an empty list reads as "127.0.0.1") */
    int port;                   /* 6666, 1..65535 */
    int workers;                /* 8, 1..256; mutable */
    int tcp_backlog;            /* 511, >= 0 */
    int maxclients;             /* 10240, >= 1; mutable */
    int timeout;                /* idle seconds, 0 = never; mutable */
    int64_t proto_max_bulk_len; /* bytes, 512 MiB, min 1 MiB; mutable */
    /* MiB, 16, >= 0; mutable: the longest string form of a bitmap key that GET and the other
     * string reads produce; 0 lets none be read (types/str.h, bitmap_max) */
    int max_bitmap_to_string_mb;

    /* process */
    bool daemonize;              /* no */
    char *pidfile;               /* owned; default "" meaning <dir>/kvrocks.pid */
    char *dir;                   /* owned; default "/tmp/kvrocks"; never empty after a load */
    char *db_name;               /* owned; "change.me.db" */
    char *log_dir;               /* owned; "" means dir; "stdout" */
    int log_level;               /* enum log_level, default info (debug/info/warning/error/
                                    fatal); mutable */
    char *requirepass;           /* owned; "" = none; mutable */
    int slowlog_log_slower_than; /* us, 200000; -1 disables; mutable */
    int slowlog_max_len;         /* 128, >= 0; mutable */
    bool resp3_enabled;          /* no (HELLO 3 still works; this only gates the default);
                                    mutable */

    /* replication */
    char *masterauth; /* owned; ""; mutable */
    /* owned; "" = not a replica. Config: `slaveof host port`; `slaveof ""` or `slaveof no one`
     * = none. Not mutable: the SLAVEOF command changes the role, not this field. */
    char *slaveof_host;
    int slaveof_port;                    /* 1..65535; 0 when not set */
    bool slave_read_only;                /* yes; mutable */
    bool slave_serve_stale_data;         /* yes; mutable */
    bool slave_empty_db_before_fullsync; /* no; mutable */
    int max_replication_mb;              /* MiB/s for full-sync files, 0 = unlimited; mutable */
    int replication_connect_timeout_ms;  /* 3100, >= 1; mutable */
    int replication_recv_timeout_ms;     /* 3200, >= 1; mutable */
    int replication_send_timeout_ms;     /* 30000, >= 1; mutable */
    int max_replication_lag;             /* sequences, 100000000 (Kvrocks PR #3357); a master
                                            drops a replica further behind; 0 = unlimited;
                                            mutable */

    /* cluster */
    bool cluster_enabled;               /* no */
    bool persist_cluster_nodes_enabled; /* yes; mutable */
    /* slot migration (read when a migration starts) */
    int migrate_speed;         /* commands per second, 4096; 0 = unlimited; mutable */
    int migrate_pipeline_size; /* commands in flight, 16, 1..65536; mutable */
    int migrate_sequence_gap;  /* WAL sequences left before the write-forbidden tail, 10000,
                                  >= 1; mutable */
    int migrate_type;          /* enum config_migrate_type, redis-command; mutable */

    /* rocksdb ("mutable" below means CONFIG SET accepts it; the apply hook must pass the
     * change to RocksDB) */
    int row_cache_size; /* MiB for the row caches (sub-keys 3/4, metadata 1/4), 0 = none */
    int rocksdb_block_cache_size;               /* MiB, 4096 (Kvrocks' sample value), >= 1 */
    int rocksdb_write_buffer_size;              /* MiB, 64, 1..4096; mutable */
    int rocksdb_max_write_buffer_number;        /* 4, 1..256; mutable */
    int rocksdb_target_file_size_base;          /* MiB, 128, 1..1024; mutable */
    int rocksdb_max_open_files;                 /* 8096, -1 = unlimited; mutable */
    int rocksdb_max_background_jobs;            /* 4, 1..32; mutable */
    int rocksdb_compression;                    /* enum config_compression, default no; mutable */
    int rocksdb_block_size;                     /* bytes, 16384, >= 1 */
    int rocksdb_wal_ttl_seconds;                /* 10800, >= 0 */
    int rocksdb_wal_size_limit_mb;              /* 16384, >= 0 */
    int rocksdb_max_total_wal_size;             /* MiB, 512, >= 0; mutable */
    bool rocksdb_disable_auto_compactions;      /* no; mutable */
    int rocksdb_level0_slowdown_writes_trigger; /* 20, 1..1024; mutable */
    int rocksdb_level0_stop_writes_trigger;     /* 40, 1..1024; mutable */
    int rocksdb_level0_file_num_compaction_trigger; /* 4, 1..1024; mutable */
    bool rocksdb_write_options_sync;                /* no */

    /* not options: the runtime-change hook (config_set_apply_hook) */
    config_apply_fn apply_fn; /* NULL = none */
    void *apply_arg;          /* borrowed; passed to apply_fn */
};

/* A config with every default. Never NULL. */
struct config *config_new(void);
void config_free(struct config *cfg); /* NULL is a no-op */

/* Load `path` over the current values (records cfg->path), then run config_validate. On error
 * cfg may be partly updated; the caller exits. Errors:
 *   KV_ERR_IO      cannot read: "<path>: <strerror>";
 *   KV_ERR_INVALID a bad line: "<path>:<line>: <reason>", where reason is one of
 *                    "unknown option '<name>'",
 *                    "invalid value '<value>' for '<name>': <why>" (why: "not an integer",
 *                      "must be between <min> and <max>", "expected yes or no",
 *                      "expected one of <names>", "expected '<host> <port>'", ...),
 *                    "too many arguments for '<name>' (quote a value that contains spaces)",
 *                    "unbalanced quotes";
 *                  or a failed config_validate: "<path>: <reason>". */
enum kv_code config_load_file(struct config *cfg, const char *path, struct kv_err *err);

/* Checks across options, run at the end of config_load_file; call it again after command-line
 * overrides. KV_ERR_INVALID with the reason: `slaveof` together with `cluster-enabled yes`, or
 * an empty `dir`. */
enum kv_code config_validate(const struct config *cfg, struct kv_err *err);

/* Set one option from its text form, as a config line would (any option, mutable or not). Used
 * for `--name value` command-line overrides. `value` is one string: for list options and
 * `slaveof` it is split on blanks, for the others it is taken whole (no quote processing).
 * KV_ERR_INVALID with "unknown option '<name>'" or the same "invalid value ..." reasons as a
 * file line (without position). On error the option keeps its old value. */
enum kv_code config_set(struct config *cfg, const char *name, const char *value,
                        struct kv_err *err);

/* CONFIG SET: refuses unknown and immutable options with KV_ERR and Kvrocks' reason
 * "Unsupported CONFIG parameter: <name>"; a bad value fails with KV_ERR_INVALID and the
 * config_set reason. Otherwise stores, then calls the apply hook with the canonical (lower case)
 * name; if the hook fails the old value is restored and its error returned. Kvrocks' CONFIG
 * command replies "-ERR CONFIG SET '<name>' error: <msg>": the command adds that prefix. */
enum kv_code config_set_runtime(struct config *cfg, const char *name, const char *value,
                                struct kv_err *err);

/* Register the hook for runtime changes (one hook; NULL clears). */
void config_set_apply_hook(struct config *cfg, config_apply_fn fn, void *arg);

/* The current value of `name` in its text form (as CONFIG GET shows it: yes/no for booleans,
 * the enum's name, numbers in decimal). KV_NOTFOUND for an unknown name. */
enum kv_code config_get(const struct config *cfg, const char *name, struct kv_buf *out);

/* Call fn for every option whose name matches the glob `pattern` (case-insensitive), in table
 * order, with the canonical name and the value's text form (both valid only during the call). */
void config_match(const struct config *cfg, const char *pattern,
                  void (*fn)(const char *name, const char *value, void *arg), void *arg);

/* CONFIG REWRITE: rewrite cfg->path with the current values, keeping comments, blank lines,
 * unreadable lines and the order of the existing lines. Each option line is rewritten as
 * `name value` (canonical name, quoted where needed); when an option appears several times the
 * first line is kept and the others dropped. Options whose value differs from the default and
 * that the file lacks are appended after a "# Generated by CONFIG REWRITE" line (written once).
 * A missing file is created. Written to "<path>.tmp-<pid>", fsynced and renamed over the
 * original (keeping its mode). KV_ERR when no file was loaded ("The server is running without a
 * config file"); KV_ERR_IO with "<file>: <strerror>". Loading the result gives the same values
 * as cfg. */
enum kv_code config_rewrite(const struct config *cfg, struct kv_err *err);

/* Derived paths, written into `out` (cleared first). */
void config_db_dir(const struct config *cfg, struct kv_buf *out); /* <dir>/db */
void config_pidfile_path(const struct config *cfg,
                         struct kv_buf *out); /* pidfile or <dir>/kvrocks.pid */
void config_log_dir(const struct config *cfg, struct kv_buf *out); /* log-dir or dir or "stdout" */

/* Number of options in the table, and the canonical name of option i (for tests and COMMAND
 * DOCS-like listings). For i out of range the name and default are NULL, mutable is false. */
size_t config_option_count(void);
const char *config_option_name(size_t i);
/* The default value's text form of option i (as config_get shows it). */
const char *config_option_default(size_t i);
bool config_option_is_mutable(size_t i);

#ifdef __cplusplus
}
#endif

#endif
