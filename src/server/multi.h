/* SPDX-License-Identifier: Apache-2.0
 *
 * multi: the queued commands of a connection inside MULTI (owned copies of their arguments),
 * run by EXEC. The dispatcher queues; cmd_txn.c implements MULTI/EXEC/DISCARD/WATCH/UNWATCH.
 *
 * Threads: the connection's worker.
 */
#ifndef KV_SERVER_MULTI_H
#define KV_SERVER_MULTI_H

#ifdef __cplusplus
extern "C" {
#endif

struct conn;

/* Free the queued commands of c (DISCARD, EXEC, disconnect). */
void multi_conn_free(struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
