/* SPDX-License-Identifier: Apache-2.0
 *
 * repl_ctl: the server's replication role. It owns the master side (repl/repl_master.c, always
 * present: any node can feed replicas) and, while this node is a replica, the replica thread
 * (repl/repl_replica.c). It implements the DB swap of a full sync (repl_ctl's restore hook) and
 * answers INFO replication and ROLE.
 *
 * Role changes (SLAVEOF/REPLICAOF, later CLUSTERX SETNODES) are requests that never wait on the
 * network: stopping the replica thread is a stop request plus a join that is bounded because
 * every wait in that thread also polls its stop fd, and the DB swap gives up when a stop is
 * requested instead of waiting for the exclusive lock.
 *
 * Threads: repl_ctl_set_master/repl_ctl_status/... from workers (commands, holding the server
 * lock shared, never exclusive); init/shutdown/cron from the main thread.
 */
#ifndef KV_SERVER_REPL_CTL_H
#define KV_SERVER_REPL_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct resp_out;
struct repl_master;

/* Create the master side and, when the config has `slaveof`, start replicating. Called before
 * the workers start, and before anything else could write to the DB. */
enum kv_code repl_ctl_init(struct server *srv, struct kv_err *err);

/* Stop the replica thread and every feeder (bounded by deadline_ms), free. */
void repl_ctl_shutdown(struct server *srv, int64_t deadline_ms);

/* Become a replica of host:port (host NULL = SLAVEOF NO ONE: become a master). A no-op when it
 * is already the master we replicate. Returns within milliseconds. */
enum kv_code repl_ctl_set_master(struct server *srv, const char *host, int port,
                                 struct kv_err *err);

/* Restart the replica link (CLIENT KILL TYPE master). */
void repl_ctl_restart_link(struct server *srv);

bool repl_ctl_is_replica(const struct server *srv);
/* A replica whose link is streaming. */
bool repl_ctl_link_up(struct server *srv);

struct repl_master *repl_ctl_master(struct server *srv);

/* INFO replication section (without the header line). */
void repl_ctl_info(struct server *srv, struct kv_buf *out);
/* The ROLE reply. */
void repl_ctl_role(struct server *srv, struct resp_out *out);

/* Main thread, every tick. */
void repl_ctl_cron(struct server *srv);

#ifdef __cplusplus
}
#endif

#endif
