/* SPDX-License-Identifier: Apache-2.0
 *
 * dispatch: runs one request of a connection. It does the generic checks exactly once, in the
 * fixed order of DESIGN.md section 3 (unknown command, arity, authentication, admin permission,
 * loading, read-only replica, MULTI queueing), takes the server lock (shared, or exclusive for
 * CMD_EXCLUSIVE commands), calls the proc, turns an error code into the RESP error reply through
 * one table, and updates command statistics.
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

/* Execute the request argv[0..argc) for c; the reply (or error) is appended to c's output. */
void dispatch_command(struct conn *c, int argc, struct kv_slice *argv);

/* Write the RESP error for (code, msg) to out, with the prefix table:
 * ERR (default), WRONGTYPE, MOVED, ASK, CROSSSLOT, CLUSTERDOWN, TRYAGAIN, READONLY, LOADING,
 * NOAUTH, EXECABORT, NOPROTO, MASTERDOWN, NOSCRIPT, BUSYKEY. An empty msg uses the code's
 * default text (e.g. KV_ERR_SYNTAX -> "ERR syntax error"). */
void dispatch_write_error(struct resp_out *out, enum kv_code code, const char *msg);

#ifdef __cplusplus
}
#endif

#endif
