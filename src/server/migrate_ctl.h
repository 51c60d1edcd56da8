/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate_ctl: slot migration (DESIGN.md section 7, kvrocks-notes 4.6), both sides.
 *
 * Source side: CLUSTERX MIGRATE starts one migration thread ("migrate") that connects to the
 * destination, sends CLUSTER IMPORT <range> 0, copies the range's keys from a RocksDB snapshot
 * as ordinary commands (migrate-type redis-command), replays the WAL for the range until the gap
 * is at most migrate-sequence-gap, then makes the range write-forbidden (TRYAGAIN), replays the
 * tail, sends CLUSTER IMPORT <range> 1 and records the range as migrated (MOVED to the
 * destination until the topology gives the range away). Any failure clears the forbidden range,
 * sends CLUSTER IMPORT <range> 2 (best effort, bounded) and ends in state fail; the source keeps
 * serving the range.
 *
 * Destination side: CLUSTER IMPORT <range> 0 marks the connection as the import link
 * (CONN_F_IMPORTING) and the range as
 * importing (after deleting its keys); 1 records the range as imported (served here until the
 * topology says so); 2, or the link closing while the import is in state start, deletes the range's
 * keys and ends in state error.
 *
 * Bounds: connecting to the destination waits at most replication-connect-timeout-ms, every send
 * and every reply at most replication-recv-timeout-ms, and every wait also polls the job's abort
 * fd, so a dead or blackholed destination, a topology change that takes the range away, FLUSHDB
 * / FLUSHALL and shutdown all end the thread within those bounds (the abort cases within
 * milliseconds). After a failure the source spends at most 1 s telling the destination (a fresh
 * connection sending CLUSTER IMPORT <range> 2) before it reports fail, so that a controller
 * that sees `fail` finds the destination clean when it is reachable; an unreachable one cleans
 * up when the import link closes, or at the next CLUSTER IMPORT <range> 0.
 *
 * Known limits: keys of a slot are re-sent whole when a WAL round finds them touched, so a very
 * large key written continuously costs a full copy per round (at most 10 rounds, then the
 * write-forbidden one). A blocked client (BLMOVE ...) woken during the write-forbidden phase is
 * not routed again and could write the range after its tail was read.
 *
 * What the server must do (the cluster wiring):
 *   - srv->migrate (struct migrate_ctl_state *) is owned by this module: migrate_ctl_init
 *     creates it in cluster mode (leave it NULL otherwise: every function below accepts a
 *     server whose srv->migrate is NULL and then does nothing / fills an empty view);
 *   - routing must run while the command holds the server lock shared (srv->lock), in the same
 *     hold as the command's execution: the migration thread makes the range write-forbidden,
 *     then takes srv->lock exclusively for an instant to wait out writes that were routed
 *     before, and only then reads the WAL tail. A write routed outside that hold could land
 *     after the tail was copied and be lost;
 *   - conn_free of a connection with CONN_F_IMPORTING calls migrate_ctl_on_conn_close.
 *
 * Threads: migrate_cmd_* and migrate_ctl_on_conn_close on the connection's worker (commands
 * hold srv->lock shared); view_acquire/release from any worker; on_topology/on_flush from
 * whichever thread applies them (never blocks); init/stop/free from the main thread.
 */
#ifndef KV_SERVER_MIGRATE_CTL_H
#define KV_SERVER_MIGRATE_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "common/buf.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;
struct cmd_ctx;
struct migrate_ctl_state;

/* Server start in cluster mode (after the topology from nodes.conf is published, before the
 * workers start): creates srv->migrate. KV_OK, or an error that stops start-up. */
enum kv_code migrate_ctl_init(struct server *srv, struct kv_err *err);

/* Shutdown, while workers may still run: stop a running migration (its thread ends within a
 * few ms: every wait polls its stop fd) waiting until deadline_ms (monotonic). Later
 * CLUSTERX MIGRATE is refused. A parked sync-mode client gets no reply (it is being closed). */
void migrate_ctl_stop(struct server *srv, int64_t deadline_ms);

/* Shutdown, once the workers are stopped: free srv->migrate and set it to NULL. A no-op while
 * the thread still runs (migrate_ctl_stop timed out). */
void migrate_ctl_free(struct server *srv);

/* Fill *mv (zeroed first) for one routing decision or one CLUSTER NODES text. The borrowed
 * arrays (migrated, imported) stay valid until migrate_ctl_view_release(srv, mv), which must
 * be called by the same thread soon (it holds a read lock when a migration or import has ever
 * happened; nothing is held otherwise). Never blocks on the network. */
void migrate_ctl_view_acquire(struct server *srv, struct cluster_migration_view *mv);
void migrate_ctl_view_release(struct server *srv, struct cluster_migration_view *mv);

/* A new topology t was published (SETNODES, SETSLOT, SETNODEID, CLUSTER RESET; call after the
 * swap). Aborts a running migration when t no longer makes me a master owning the whole range
 * (the thread fails within a few ms: the source keeps serving); deletes the keys of migrated
 * ranges whose slots t no longer gives me (the caller does not) and forgets them; forgets
 * imported ranges t gives me. Never blocks. */
void migrate_ctl_on_topology(struct server *srv, const struct cluster_topology *t);

/* FLUSHDB / FLUSHALL ran: a running migration fails (Kvrocks does the same). */
void migrate_ctl_on_flush(struct server *srv);

/* True while a migration runs / an import is in state start (CLUSTER RESET refuses then:
 * "Can't reset cluster while migrating slot" / "... importing slot"). */
bool migrate_ctl_migrating(struct server *srv);
bool migrate_ctl_importing(struct server *srv);

/* Append the CLUSTER INFO migration lines (CRLF-terminated), only for what happened since
 * start-up:
 *   migrating_slot(s): <range>\r\n destination_node: <id>\r\n migrating_state: start|success|fail
 *   importing_slot(s): <range>\r\n import_state: start|success|error
 * (Kvrocks's names, with a space after the colon; a range prints as N or A-B.) */
void migrate_ctl_info(struct server *srv, struct kv_buf *out);

/* The import link (a connection with CONN_F_IMPORTING) is being freed: if its import is still
 * in state start, delete the range's keys and end in state error. Its worker. */
void migrate_ctl_on_conn_close(struct conn *c);

/* CLUSTERX MIGRATE <slot|start-end> <dst-id> [async | sync [timeout-seconds]]: the whole
 * subcommand (argv[0] "clusterx", argv[1] "migrate"). The caller checked cluster mode and
 * that argc >= 4. Returns +OK (async), or parks the client and answers when the migration
 * ends (sync: +OK, -ERR <reason>, or a nil bulk when the timeout passes first); or an error
 * with ctx->err set (pre-check texts of kvrocks-notes 4.6). */
enum kv_code migrate_cmd_clusterx_migrate(struct cmd_ctx *ctx);

/* CLUSTER IMPORT <slot|start-end> <0|1|2>: the whole subcommand (argv[0] "cluster", argv[1]
 * "import"). The caller checked cluster mode and that argc == 4. */
enum kv_code migrate_cmd_cluster_import(struct cmd_ctx *ctx);

/* --- for commands/cmd_migrate.c --- */

/* Options of one migration, read from the config when it starts. */
struct migrate_dump_opts {
    int64_t speed;        /* migrate-speed: commands per second, 0 = unlimited */
    int pipeline;         /* migrate-pipeline-size */
    int64_t sequence_gap; /* migrate-sequence-gap */
    bool raw;             /* migrate-type raw-key-value */
};

struct migrate_ctl_request {
    struct cluster_slot_range range;
    const char *dst_id;
    const char *dst_host;
    uint16_t dst_port;
    const char *password; /* my requirepass, "" for none */
    struct migrate_dump_opts opts;
    int64_t connect_ms; /* connect timeout */
    int64_t io_ms;      /* every send and every reply wait */
};

/* Start a migration thread (the caller checked topology and roles). `waiter`, when not NULL, is
 * answered when the migration ends (+OK / -ERR reason) or, if wait_deadline (monotonic ms, 0 =
 * none) passes first, with a nil bulk; the caller parks it. KV_ERR with MIGRATE_ERR_BUSY or
 * MIGRATE_ERR_MIGRATED, or a thread start failure. Worker, under srv->lock shared. */
enum kv_code migrate_ctl_start(struct server *srv, const struct migrate_ctl_request *req,
                               struct conn *waiter, int64_t wait_deadline, struct kv_err *err);

/* CLUSTER IMPORT on connection c with state 0 (start: c becomes the import link), 1 (success)
 * or 2 (failed); the caller checked role and ownership. Start and failure delete the range's
 * keys. KV_ERR when another range is being imported (0) or r is not being imported (1). */
enum kv_code migrate_ctl_import(struct server *srv, struct conn *c, struct cluster_slot_range r,
                                int state, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
