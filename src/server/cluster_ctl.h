/* SPDX-License-Identifier: Apache-2.0
 *
 * cluster_ctl: the server's cluster state (cluster mode only). It holds the current topology
 * snapshot (cluster/cluster.h's cluster_state), applies CLUSTERX SETNODES / SETNODEID / SETSLOT
 * and CLUSTER RESET all-or-nothing, persists every applied topology to <dir>/nodes.conf
 * (persist-cluster-nodes-enabled) before publishing it, loads that file at start-up before
 * anything could write to the DB, turns the role a topology gives this node into replication
 * requests, and routes keyed commands (MOVED / ASK / TRYAGAIN / CROSSSLOT / CLUSTERDOWN).
 *
 * The order of an update (cluster.h's contract): writer lock; staleness decided before parsing;
 * parse and validate the whole text; save nodes.conf (a failure refuses the update, so memory
 * and the file never disagree); publish one immutable snapshot; tell the migration code;
 * request the replication role the new topology gives (repl_ctl_set_master, which returns
 * within milliseconds and never waits on the network); unlock. Any refusal changes nothing:
 * not the version, the slot map, the role, the replication link or nodes.conf.
 *
 * Threads: cluster_ctl_init/free on the main thread (before the workers start / after they
 * stopped); everything else on workers while the command holds srv->lock shared (never
 * exclusive: role changes never wait under it), except cluster_ctl_config_changed, which runs
 * from CONFIG SET's apply hook under the exclusive lock.
 */
#ifndef KV_SERVER_CLUSTER_CTL_H
#define KV_SERVER_CLUSTER_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;
struct command_spec;
struct db;

/* Start-up in cluster mode, after repl_ctl_init and before the workers start: creates
 * srv->cluster, loads <dir>/nodes.conf when persist-cluster-nodes-enabled (a missing file is a
 * fresh node), publishes it and starts replicating when it makes this node a replica.
 * KV_ERR_CORRUPT / KV_ERR_IO with the file's reason stop start-up (a node must not guess its
 * role). Outside cluster mode: KV_OK, srv->cluster stays NULL. */
enum kv_code cluster_ctl_init(struct server *srv, struct kv_err *err);

/* Shutdown, once the workers are stopped. NULL srv->cluster is a no-op. */
void cluster_ctl_free(struct server *srv);

/* The current snapshot with a reference (release with cluster_topology_unref). Never NULL in
 * cluster mode. */
const struct cluster_topology *cluster_ctl_acquire(struct server *srv);

/* CLUSTERX SETNODES text version [force]. KV_OK (also for the equal-version no-op, which only
 * re-requests the current role so a link that died for good is repaired), KV_ERR_INVALID with a
 * nodes.h text (nothing changed), KV_ERR_IO when nodes.conf could not be written (nothing
 * changed), or an error from the replication request (the topology was applied; the reply says
 * the role could not be). */
enum kv_code cluster_ctl_setnodes(struct server *srv, const char *text, size_t len, int64_t version,
                                  bool force, struct kv_err *err);

/* CLUSTERX SETNODEID id: as SETNODES, for cluster_setnodeid_prepare. */
enum kv_code cluster_ctl_setnodeid(struct server *srv, const char *id, size_t len,
                                   struct kv_err *err);

/* CLUSTERX SETSLOT ranges NODE id version: as SETNODES, for cluster_setslot_prepare. */
enum kv_code cluster_ctl_setslot(struct server *srv, const struct cluster_slot_range *ranges,
                                 size_t n, const char *id, size_t id_len, int64_t version,
                                 struct kv_err *err);

/* CLUSTER RESET: refused while a migration or an import runs and when db (the client's
 * keyspace) holds a key, with Kvrocks's texts; otherwise stop replicating, publish the empty
 * topology (version -1, no id) and delete nodes.conf. */
enum kv_code cluster_ctl_reset(struct server *srv, struct db *db, struct kv_err *err);

/* Route one command of connection c (dispatch, cluster mode): KV_OK to execute it here, or the
 * routing error (KV_ERR_MOVED / ASK / TRYAGAIN / CROSSSLOT / CLUSTERDOWN, message without its
 * prefix in err). Commands without keys always pass. Also ends a pending ASKING (it covers one
 * command). The caller holds srv->lock shared for the command's execution (migrate_ctl.h). */
enum kv_code cluster_ctl_route(struct server *srv, struct conn *c, const struct command_spec *cmd,
                               int argc, const struct kv_slice *argv, struct kv_err *err);

/* CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT: visit the live keys of `slot` in db's namespace in
 * key order, at most `max` of them (0 = all): fn gets each user key (borrowed for the call) and
 * returns false to stop. *count (out) the number visited. KV_ERR_IO / KV_ERR_CORRUPT from the
 * iterator. */
enum kv_code cluster_ctl_slot_keys(struct db *db, uint16_t slot, uint64_t max,
                                   void (*fn)(void *arg, struct kv_slice key), void *arg,
                                   uint64_t *count, struct kv_err *err);

/* CONFIG SET of a cluster option (server_apply_config): persist-cluster-nodes-enabled no deletes
 * nodes.conf (Kvrocks), yes writes the current topology. Under the exclusive lock. */
enum kv_code cluster_ctl_config_changed(struct server *srv, const char *name, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
