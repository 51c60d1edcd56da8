/* SPDX-License-Identifier: Apache-2.0
 *
 * watch: WATCH/UNWATCH bookkeeping for optimistic transactions. A connection watching keys is
 * registered per key in a registry shared by all workers (one per process: the process runs one
 * server); a write to a watched key by anyone, the watcher included, marks every watcher dirty,
 * and EXEC of a dirty transaction replies a null array. Expiry counts as a change: a key that was
 * live at WATCH time and has expired by EXEC time makes the transaction dirty (Redis 7.0). So does
 * FLUSHDB/FLUSHALL for keys that existed (watch_on_flush).
 *
 * Nothing here compares values: a key is dirty because a write reported it (types/db.h hooks,
 * through server/notify.c), so every writer must report the keys it touched.
 *
 * Registry key of a watched key: [ns_len u8][ns bytes][user key] (the namespace is part of the
 * identity, as in the metadata CF).
 *
 * Locking: the registry has its own mutex, a leaf (nothing else is taken while holding it). The
 * touched path is lock-free while nobody watches anything (an atomic count), which is ordered
 * against WATCH's registration with a full fence, so a write either is seen by WATCH's baseline
 * reads or marks the watcher dirty.
 *
 * Threads: watch_add/watch_clear/watch_is_dirty/watch_conn_free on the connection's worker;
 * watch_on_touched/watch_on_flush from any writing thread.
 */
#ifndef KV_SERVER_WATCH_H
#define KV_SERVER_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;

/* WATCH one key of c's namespace. Watching a key twice keeps the first registration (and its
 * "live at WATCH time" state), as Redis. Reads the key's metadata to record whether it is live:
 * KV_ERR_IO / KV_ERR_CORRUPT from storage (nothing is registered then). */
enum kv_code watch_add(struct conn *c, struct kv_slice key, struct kv_err *err);

/* UNWATCH, EXEC, DISCARD: forget all of c's watched keys and the dirty state. */
void watch_clear(struct conn *c);

/* True when a watched key was written (or flushed) since it was watched, or was live at WATCH
 * time and is absent now (expired). Reads each such key's metadata; a storage error counts as
 * dirty (the transaction is refused rather than run on an unknown state). Call with the server
 * lock held exclusively (EXEC) so no write runs meanwhile. */
bool watch_is_dirty(struct conn *c);

/* A write touched (ns, key): mark the watchers of that key dirty. */
void watch_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key);

/* FLUSHDB (ns given) or FLUSHALL (ns NULL) ran: mark dirty every watcher of a key of that
 * namespace (or of any) that was live when it was watched. A key that did not exist then and was
 * created later is dirty already, so this is Redis' "watched keys that existed are touched". */
void watch_on_flush(struct server *srv, const struct kv_slice *ns);

/* Forget everything about c (its worker, before freeing it). */
void watch_conn_free(struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
