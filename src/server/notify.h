/* SPDX-License-Identifier: Apache-2.0
 *
 * notify: the one place a successful write reports the keys it touched (types/db.h db_hooks).
 * It fans the event out to the modules that react to key changes: blocked clients waiting on a
 * key (blocking.c) and transactions watching it (watch.c). Cheap when nobody waits or watches:
 * each module keeps an atomic count and returns at once when it is zero.
 *
 * Threads: any thread that writes (workers; later the replication thread).
 */
#ifndef KV_SERVER_NOTIFY_H
#define KV_SERVER_NOTIFY_H

#include "common/slice.h"
#include "types/db.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;

/* The db_hooks every connection's struct db points to (arg is the server). */
void notify_hooks_init(struct db_hooks *hooks, struct server *srv);

/* The touched callback itself (exposed for writers that do not go through a struct db). */
void notify_touched(void *srv, struct kv_slice ns, struct kv_slice key);

#ifdef __cplusplus
}
#endif

#endif
