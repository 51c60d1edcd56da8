/* SPDX-License-Identifier: Apache-2.0
 *
 * dispatch: runs one request of a connection. It does the generic checks exactly once, in the
 * fixed order of DESIGN.md section 3 (unknown command, arity, authentication, admin permission,
 * CMD_NO_MULTI inside MULTI, the RESP2 subscribed-mode restriction, loading, read-only replica,
 * MULTI queueing), takes the server lock (shared, or exclusive for CMD_EXCLUSIVE commands), calls
 * the proc, turns an error code into the RESP error reply through one table, and updates command
 * statistics.
 *
 * Before any check, a request named POST or "Host:" (any case) is taken for an HTTP request sent
 * to this port (cross-protocol scripting), as Redis does: the connection gets no reply, its
 * replies still queued are dropped, nothing more of its input runs, and its worker closes it
 * (CONN_F_CLOSE_ASAP). A warning is logged at most once a minute.
 *
 * Inside MULTI, a command refused by a check flags the transaction (CONN_F_DIRTY_EXEC: EXEC then
 * aborts), as Redis' rejectCommand does; a command that passes every check is queued with
 * +QUEUED, except CMD_MULTI_CTRL ones (MULTI, EXEC, DISCARD, WATCH, QUIT), which run at once.
 *
 * Threads: the connection's worker.
 */
#ifndef KV_SERVER_DISPATCH_H
#define KV_SERVER_DISPATCH_H

#include <stddef.h>

#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct conn;
struct resp_out;
struct command_spec;

/* Execute the request argv[0..argc) for c; the reply (or error) is appended to c's output. */
void dispatch_command(struct conn *c, int argc, struct kv_slice *argv);

/* Run one queued command of EXEC (server/multi.c): no checks (they were done when it was
 * queued) and no locking (EXEC holds the server lock exclusively); the proc sees
 * cmd_ctx.in_exec. Writes the reply or the error and updates statistics and the slowlog like
 * dispatch_command. `index` is the command's registry index. */
void dispatch_run_queued(struct conn *c, const struct command_spec *cmd, size_t index, int argc,
                         struct kv_slice *argv);

/* Write the RESP error for (code, msg) to out, with the prefix table:
 * ERR (default), WRONGTYPE, MOVED, ASK, CROSSSLOT, CLUSTERDOWN, TRYAGAIN, READONLY, LOADING,
 * NOAUTH, EXECABORT, NOPROTO, MASTERDOWN, NOSCRIPT, BUSYKEY. An empty msg uses the code's
 * default text (e.g. KV_ERR_SYNTAX -> "ERR syntax error"). */
void dispatch_write_error(struct resp_out *out, enum kv_code code, const char *msg);

#ifdef __cplusplus
}
#endif

#endif
