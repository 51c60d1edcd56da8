/* SPDX-License-Identifier: Apache-2.0
 *
 * multi: the queued commands of a connection inside MULTI (owned copies of their arguments, since
 * the read buffer moves on), run by EXEC. The dispatcher queues (after its generic checks, which
 * flag the transaction with CONN_F_DIRTY_EXEC when a command is refused); cmd_txn.c implements
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH on top of this module and watch.h.
 *
 * EXEC is CMD_EXCLUSIVE: the dispatcher holds the server lock exclusively while multi_exec runs
 * the queued procs, so the transaction is atomic with respect to every other client on every
 * worker. The queued procs run without re-taking the lock (dispatch_run_queued), with
 * cmd_ctx.in_exec set, so blocking commands do not block. Their writes are held in the worker's
 * stage and committed as one batch at the end (storage.h, storage_stage_hold_begin): on disk and
 * on replicas the transaction is all or nothing too, except across a command whose write cannot
 * be staged (FLUSHDB, FLUSHALL), which is written in order but on its own.
 *
 * Threads: the connection's worker.
 */
#ifndef KV_SERVER_MULTI_H
#define KV_SERVER_MULTI_H

#include <stddef.h>

#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct conn;
struct cmd_ctx;
struct command_spec;

/* Queue a command of c (inside MULTI) with a copy of argv[0..argc). `index` is the command's
 * registry index (statistics). Does not reply (the dispatcher writes +QUEUED). */
void multi_queue(struct conn *c, const struct command_spec *cmd, size_t index, int argc,
                 const struct kv_slice *argv);

/* Number of commands queued by c (0 outside MULTI). */
size_t multi_queued_count(const struct conn *c);

/* DISCARD (and the end of every EXEC): drop the queue, leave MULTI (clears CONN_F_MULTI and
 * CONN_F_DIRTY_EXEC) and unwatch every key. */
void multi_discard(struct conn *c);

/* EXEC for ctx->conn, with the server lock held exclusively by the caller:
 *   - not inside MULTI: KV_ERR "EXEC without MULTI";
 *   - a command was refused while queueing: discard, KV_ERR_EXECABORT;
 *   - a watched key changed or expired: discard, reply a null array, KV_OK;
 *   - otherwise reply an array with one reply per queued command (errors are elements), leave
 *     MULTI, KV_OK. */
enum kv_code multi_exec(struct cmd_ctx *ctx);

/* Free the queued commands of c (disconnect). */
void multi_conn_free(struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
