/* SPDX-License-Identifier: Apache-2.0
 *
 * watch: WATCH/UNWATCH bookkeeping for optimistic transactions. A connection watching keys is
 * registered per key in a server-wide table; a write to a watched key by anyone marks every
 * watcher dirty, and EXEC of a dirty transaction replies a null array. Expiry counts as a change:
 * a key that was live at WATCH time and has expired by EXEC time makes the transaction dirty.
 *
 * Threads: watch_add/watch_clear/watch_is_dirty/watch_conn_free on the connection's worker;
 * watch_on_touched from any writing thread.
 */
#ifndef KV_SERVER_WATCH_H
#define KV_SERVER_WATCH_H

#include <stdbool.h>

#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;

enum kv_code watch_add(struct conn *c, struct kv_slice key, struct kv_err *err);
/* UNWATCH, EXEC, DISCARD: forget all of c's watched keys. */
void watch_clear(struct conn *c);
/* True when a watched key changed (or expired) since it was watched. */
bool watch_is_dirty(struct conn *c);
void watch_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key);
void watch_conn_free(struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
