/* SPDX-License-Identifier: Apache-2.0
 *
 * blocking: clients blocked in BLPOP/BRPOP/BLMOVE/BRPOPLPUSH/BLMPOP/BZPOPMIN/BZPOPMAX/BZMPOP.
 *
 * Protocol for a blocking command proc:
 *   1. try the non-blocking operation; if it produced a result, reply and return as usual;
 *   2. otherwise, when blocking is allowed (blocking_can_block: not inside MULTI/EXEC or a
 *      script), call blocking_block(ctx, keys, n, deadline, kind) and return KV_OK WITHOUT
 *      writing a reply. The connection stops processing its input. When blocking is not
 *      allowed, reply as the non-blocking form does when there is nothing (Redis 7.0: a null
 *      array, but a null bulk for BLMOVE/BRPOPLPUSH) and return.
 *   3. When any of the keys is touched by any worker (notify.c), or the deadline passes, the
 *      owning worker re-runs the same command with the same arguments (an owned copy taken by
 *      blocking_block), calling the proc again under the server lock (shared) with a fresh
 *      cmd_ctx. On a retry the proc runs again from step 1 (blocking_is_retry is true);
 *      blocking_block keeps the client's place in every queue and the original deadline. A
 *      retry that replies (a result or an error) unblocks the client, which then goes on with
 *      its pipelined input. On timeout the worker writes the timeout reply for `kind` and
 *      unblocks without calling the proc.
 *   A client that disconnects while blocked leaves no registration behind (blocking_conn_free).
 *
 * Fairness (Redis semantics): the clients waiting on a key are served in the order they
 * blocked. A touch wakes only the first waiter of the key; when its retry ends, the next waiter
 * is woken if the first one was served (or left), or the first one again if the key was touched
 * while it ran. A new waiter that is first on a key retries once right after blocking, so a push
 * that raced with its first attempt is not missed.
 *
 * Retries and types: on a retry, a source key of another type must not fail the command (Redis
 * 7.0 keeps such a client waiting): procs skip it when blocking_is_retry says so.
 *
 * The registry is per process (one server per process): a mutex, a dict from namespace + key to
 * the queue of waiters, and an atomic count of blocked clients, so blocking_on_touched costs one
 * atomic load on every write while nobody waits.
 *
 * Threads: blocking_block/blocking_can_block/blocking_is_retry/blocking_conn_free on the
 * connection's worker; blocking_on_touched, blocking_count, blocking_unblock and
 * blocking_unblock_all from any thread (they only post tasks to the owning workers).
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

/* What a timed-out client receives. Redis 7.0 answers every blocking list and zset command's
 * timeout with a null array (RESP2 "*-1", RESP3 "_"), BLMOVE and BRPOPLPUSH included. */
enum blocking_timeout_reply {
    BLOCKING_REPLY_NULL_ARRAY, /* BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX,
                                  BZMPOP */
    BLOCKING_REPLY_NULL,       /* a null bulk (RESP2 "$-1", RESP3 "_") */
};

/* Whether the current execution may block: false inside MULTI/EXEC and scripts (ctx->in_exec)
 * and without a connection. (A retry whose deadline has passed may block again: the timer,
 * already due, then writes the timeout reply.) */
bool blocking_can_block(const struct cmd_ctx *ctx);

/* Whether this execution is a retry of a blocked command (woken by a touch). */
bool blocking_is_retry(const struct cmd_ctx *ctx);

/* Block ctx->conn on keys[0..n) (n > 0; a key listed twice counts once) until deadline_ms
 * (monotonic ms, clock_mono_ms; 0 = forever). Copies the command's arguments. On a retry the
 * registration and the deadline of the first block are kept whatever is passed. Always KV_OK. */
enum kv_code blocking_block(struct cmd_ctx *ctx, const struct kv_slice *keys, size_t n,
                            int64_t deadline_ms, enum blocking_timeout_reply kind);

/* A write touched (ns, key): wake the first client blocked on it. */
void blocking_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key);

/* Number of blocked clients (INFO clients: blocked_clients). */
int blocking_count(struct server *srv);

/* Forget everything about c (its worker, before freeing it). */
void blocking_conn_free(struct conn *c);

enum blocking_unblock_how {
    BLOCKING_UNBLOCK_TIMEOUT, /* as if the timeout passed (CLIENT UNBLOCK id [TIMEOUT]) */
    BLOCKING_UNBLOCK_ERROR,   /* -UNBLOCKED client unblocked via CLIENT UNBLOCK */
    BLOCKING_UNBLOCK_ROLE,    /* -UNBLOCKED force unblock from blocking operation, instance state
                                 changed (master -> replica?), then the connection is closed
                                 (Redis 7.0) */
};

/* Unblock the client with this id, on its worker, as `how` says. Returns whether it was blocked
 * (the unblocking itself happens shortly after, on the client's worker). */
bool blocking_unblock(struct server *srv, uint64_t client_id, enum blocking_unblock_how how);

/* Unblock every blocked client as `how` says (a master becoming a replica). */
void blocking_unblock_all(struct server *srv, enum blocking_unblock_how how);

/* The slot map changed (a new topology, a slot migrated away): every blocked client is routed
 * again on its worker, and one whose slot this node no longer serves gets the routing error
 * (-MOVED, -CLUSTERDOWN) as Redis Cluster redirects blocked clients; the others keep waiting,
 * in their place and with their deadline. Any thread. */
void blocking_reroute_all(struct server *srv);

#ifdef __cplusplus
}
#endif

#endif
