/* SPDX-License-Identifier: Apache-2.0
 *
 * command: the command table (one `struct command_spec` row per command, grouped in the
 * cmd_<group>.c files), the context a command proc runs in, and the registry built from the
 * group tables at start-up (lookup, validation, COMMAND introspection).
 *
 * A proc parses its own options, calls the type layer, writes its success reply through
 * ctx->out, and returns KV_OK, or a code with ctx->err filled (kv_err_set). The dispatcher
 * (server/dispatch.c) did the generic checks before (unknown command, arity, auth, admin,
 * loading, read-only replica, MULTI queueing) and turns error codes into RESP errors; procs never
 * repeat those checks and never write an error reply themselves.
 *
 * Threads: procs run on the worker that owns the connection. The registry is built once by the
 * main thread before workers start, then read-only.
 */
#ifndef KV_COMMANDS_COMMAND_H
#define KV_COMMANDS_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/status.h"
#include "resp/resp_write.h"
#include "types/db.h"

#ifdef __cplusplus
extern "C" {
#endif

struct conn;
struct server;

/* Flags: compiler-checked bits, not strings. */
#define CMD_WRITE (1u << 0)    /* may modify the keyspace */
#define CMD_READONLY (1u << 1) /* reads the keyspace only */
#define CMD_ADMIN (1u << 2)    /* needs an admin connection (requirepass, not a namespace token) */
#define CMD_LOADING_OK (1u << 3) /* allowed while the DB is being restored */
#define CMD_STALE_OK (1u << 4)   /* allowed on a replica whose link is down with stale data off */
#define CMD_NO_MULTI (1u << 5)   /* refused inside MULTI */
#define CMD_PUBSUB (1u << 6)     /* allowed in RESP2 subscribed mode */
#define CMD_EXCLUSIVE (1u << 7)  /* runs alone: takes the server lock exclusively */
#define CMD_NO_AUTH (1u << 8)    /* allowed before authentication (AUTH, HELLO, QUIT) */
#define CMD_FAST (1u << 9)       /* O(1) or O(log n) */
#define CMD_SLOW (1u << 10)
#define CMD_SKIP_MONITOR (1u << 11)
#define CMD_BLOCKING (1u << 12)   /* may block the client (BLPOP ...) */
#define CMD_MULTI_CTRL (1u << 13) /* MULTI/EXEC/DISCARD/WATCH/UNWATCH/QUIT/RESET: not queued */
#define CMD_NO_SCRIPT (1u << 14)
#define CMD_REPLICATION (1u << 15) /* replication-internal (PSYNC, _fetch_file ...) */

struct cmd_ctx;

typedef enum kv_code (*command_proc)(struct cmd_ctx *ctx);

/* For commands whose keys are not a (first, last, step) range: fill `idx` with the argv indexes
 * of the keys (at most `cap`), return how many, or -1 when the arguments are malformed (the proc
 * will report the syntax error). */
typedef int (*command_keys_fn)(int argc, const struct kv_slice *argv, int *idx, int cap);

struct command_spec {
    const char *name; /* lower case */
    command_proc proc;
    int arity;      /* N: exactly N words with the name; -N: at least N */
    uint32_t flags; /* CMD_* */
    int first_key;  /* 0 = no keys */
    int last_key;   /* negative counts from the end: -1 = last argument */
    int key_step;
    command_keys_fn keys_fn; /* overrides the range when not NULL */
    const char *group;       /* "string", "keyspace", "server", ... (COMMAND DOCS) */
};

/* The environment of one command execution. */
struct cmd_ctx {
    struct conn *conn;  /* borrowed: the client */
    struct server *srv; /* borrowed */
    const struct command_spec *cmd;
    int argc;
    struct kv_slice *argv; /* borrowed: slices into the connection's buffer, valid during the
                              proc */
    struct resp_out *out;  /* borrowed: the client's reply writer */
    struct db *db;         /* borrowed: the client's keyspace (namespace) */
    struct kv_err *err;    /* where a failing proc describes the error */
    bool in_exec; /* run by EXEC (or a script): blocking commands must not block and behave as
                     their non-blocking forms (server/blocking.h blocking_can_block) */
};

/* Build the registry from every group table and validate it (unique names, exactly one of
 * WRITE/READONLY for keyed commands, key specs within arity). KV_ERR_INVALID with the offending
 * row in err. Idempotent. */
enum kv_code command_table_init(struct kv_err *err);
void command_table_free(void);

/* Lookup by name, case-insensitive. NULL when unknown. When index is not NULL it receives the
 * command's position in the registry (0 .. command_count()-1, the same as command_at). */
const struct command_spec *command_lookup(struct kv_slice name, size_t *index);

/* All commands, for COMMAND / COMMAND COUNT; stable order (table order). */
size_t command_count(void);
const struct command_spec *command_at(size_t i);

/* The argv indexes of the keys of a request (first/last/step or keys_fn). Returns the count (<=
 * cap) or -1 when malformed. */
int command_get_keys(const struct command_spec *cmd, int argc, const struct kv_slice *argv,
                     int *idx, int cap);

/* The group tables (one per cmd_<group>.c). */
extern const struct command_spec string_commands[];
extern const size_t string_commands_len;
extern const struct command_spec key_commands[];
extern const size_t key_commands_len;
extern const struct command_spec server_commands[];
extern const size_t server_commands_len;
extern const struct command_spec conn_commands[];
extern const size_t conn_commands_len;
extern const struct command_spec repl_commands[];
extern const size_t repl_commands_len;
extern const struct command_spec hash_commands[];
extern const size_t hash_commands_len;
extern const struct command_spec list_commands[];
extern const size_t list_commands_len;
extern const struct command_spec set_commands[];
extern const size_t set_commands_len;
extern const struct command_spec zset_commands[];
extern const size_t zset_commands_len;
extern const struct command_spec bitmap_commands[];
extern const size_t bitmap_commands_len;
extern const struct command_spec hll_commands[];
extern const size_t hll_commands_len;
extern const struct command_spec txn_commands[];
extern const size_t txn_commands_len;
extern const struct command_spec pubsub_commands[];
extern const size_t pubsub_commands_len;
extern const struct command_spec sort_commands[];
extern const size_t sort_commands_len;
extern const struct command_spec cluster_commands[];
extern const size_t cluster_commands_len;
extern const struct command_spec migrate_commands[];
extern const size_t migrate_commands_len;

#ifdef __cplusplus
}
#endif

#endif
