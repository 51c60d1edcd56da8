/* SPDX-License-Identifier: Apache-2.0
 *
 * blocking: clients blocked in BLPOP/BRPOP/BLMOVE/BRPOPLPUSH/BLMPOP/BZPOPMIN/BZPOPMAX/BZMPOP.
 *
 * Protocol for a blocking command proc:
 *   1. try the non-blocking operation; if it produced a result, reply and return as usual;
 *   2. otherwise, when blocking is allowed (blocking_can_block: not inside MULTI/EXEC, timeout
 *      not already passed on a retry), call blocking_block(ctx, keys, n, deadline, kind) and
 *      return KV_OK WITHOUT writing a reply. The connection stops processing its input.
 *   3. When any of the keys is touched by any worker (notify.c), or the deadline passes, the
 *      owning worker re-runs the same command with the same arguments (an owned copy taken by
 *      blocking_block). On a retry the proc runs again from step 1; blocking_block keeps the
 *      original deadline. On timeout the worker writes the timeout reply for `kind` (null array,
 *      or null bulk) and unblocks without calling the proc.
 *   A client that disconnects while blocked leaves no registration behind (blocking_conn_free).
 *
 * Threads: blocking_block/blocking_conn_free on the connection's worker; blocking_on_touched
 * from any writing thread (it only posts wake-ups to the owning workers).
 */
#ifndef KV_SERVER_BLOCKING_H
#define KV_SERVER_BLOCKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;
struct cmd_ctx;

enum blocking_timeout_reply {
    BLOCKING_REPLY_NULL_ARRAY, /* BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP */
    BLOCKING_REPLY_NULL,       /* BLMOVE, BRPOPLPUSH */
};

/* Whether the current execution may block (false inside MULTI/EXEC and in scripts). */
bool blocking_can_block(const struct cmd_ctx *ctx);

/* Block ctx->conn on keys[0..n) until deadline_ms (monotonic ms; 0 = forever). On a retry the
 * deadline of the first block is kept whatever is passed. */
enum kv_code blocking_block(struct cmd_ctx *ctx, const struct kv_slice *keys, size_t n,
                            int64_t deadline_ms, enum blocking_timeout_reply kind);

/* A write touched (ns, key): wake the clients blocked on it. */
void blocking_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key);

/* Number of blocked clients (INFO clients: blocked_clients). */
int blocking_count(struct server *srv);

/* Forget everything about c (its worker, before freeing it). */
void blocking_conn_free(struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
