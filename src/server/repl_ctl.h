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
 * The DB swap (and, with slave-empty-db-before-fullsync, the emptying before the fetch): set
 * `loading` (new commands get -LOADING), detach the master side, open an empty stand-in DB in
 * <dir>/db.standin and make it srv->st under the exclusive lock (that drains the running
 * commands), close the real DB, rename <dir>/db to <dir>/db.replaced and the fetched checkpoint
 * to <dir>/db, open it (or put the old one back), make it srv->st, drop the stand-in, clear
 * `loading`. The exclusive lock is held only for the two pointer changes, so commands allowed
 * while loading (INFO shows loading:1, ROLE, CONFIG, CLIENT, SHUTDOWN) are answered during the
 * swap, against the stand-in, and never meet a closed handle.
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

/* Shutdown, step 1, while workers may still run commands: stop the replica thread and every
 * master-side thread, waiting until deadline_ms (monotonic); from now on SLAVEOF is refused and
 * no replication thread starts. KV_OK when every thread ended, KV_ERR_TIMEOUT otherwise (then
 * never call repl_ctl_free: a thread still uses the state). */
enum kv_code repl_ctl_stop(struct server *srv, int64_t deadline_ms);
/* Shutdown, step 2, once the workers are stopped (they read srv->repl in every command):
 * free the state and set srv->repl to NULL. A no-op while a thread still runs. */
void repl_ctl_free(struct server *srv);

/* Become a replica of host:port (host NULL = SLAVEOF NO ONE: become a master). A no-op when it
 * is already the master we replicate. Returns within milliseconds. */
enum kv_code repl_ctl_set_master(struct server *srv, const char *host, int port,
                                 struct kv_err *err);

/* Restart the replica link (CLIENT KILL TYPE master). */
void repl_ctl_restart_link(struct server *srv);

/* CLIENT KILL for the replication links, which are not worker connections (a feeder thread owns
 * the socket of each replica served here; the replication thread owns the link to our master):
 *   - type master (no id): restart the link to our master (matching f->addr "host:port" when
 *     given), as Kvrocks does;
 *   - type replica or any: stop the feeders matching f->id (the client id of the connection
 *     that sent PSYNC) and f->addr (its "ip:port").
 * f->laddr never matches. Returns how many links were killed; never waits on the network. */
struct client_filter;
int repl_ctl_client_kill(struct server *srv, const struct client_filter *f);

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
