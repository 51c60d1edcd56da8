/* SPDX-License-Identifier: Apache-2.0
 *
 * repl_replica: the replica side of replication, one thread running an explicit state machine
 * (DESIGN.md section 6, kvrocks-notes.md 3.2-3.5):
 *
 *   CONNECT -> AUTH (if masterauth) -> DB_NAME (_db_name must equal our db-name) -> REPLCONF
 *   (listening-port) -> PSYNC <latest + 1>
 *     +OK        -> STREAMING: read bulk-framed write batches, apply each unchanged (so our
 *                   sequence numbers equal the master's), "ping" bulks are heartbeats.
 *     -ERR ...   -> FETCH_META (_fetch_meta on a new connection: the checkpoint's file list)
 *                -> FETCH_FILES (1..4 parallel connections, `_fetch_file a,b,...`, into
 *                   <dir>/sync_checkpoint; files already there from a broken attempt are
 *                   skipped, except CURRENT; sizes always checked, crc32c when the master
 *                   accepts `REPLCONF capa crc32c`)
 *                -> RESTORE (hooks->restore swaps the DB) -> back to CONNECT, PSYNC again.
 *   Any failure -> wait (1 s doubling up to 30 s, reset after a session that streamed) -> CONNECT.
 *
 * Every connect, read and write has a deadline (replication-connect-timeout-ms,
 * replication-recv-timeout-ms, replication-send-timeout-ms), and every wait also polls the
 * thread's stop fd: repl_replica_stop returns within milliseconds whatever the master does. A
 * silent master (no bytes, no FIN) is detected within the receive timeout, since the master
 * sends a heartbeat every second.
 *
 * The replica writes to its DB only what the master sent (storage_write_raw), so its latest
 * sequence is its replication offset across restarts. A batch whose first sequence is not our
 * latest + 1 is never applied (RocksDB would renumber it): the link restarts and PSYNCs from
 * what is really in the DB. Files kept from a broken full sync are reused only when they are
 * SST files (immutable under their name); MANIFEST, WAL, OPTIONS and CURRENT are always
 * fetched again. With slave-empty-db-before-fullsync, hooks.empty_db drops the local data once
 * the file list has arrived.
 *
 * Threads: repl_replica_start/stop/free by the owner (server, under its replication mutex);
 * repl_replica_status from any thread.
 */
#ifndef KV_REPL_REPL_REPLICA_H
#define KV_REPL_REPL_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/status.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

struct repl_replica;
struct kv_thread;

enum repl_state {
    REPL_STATE_CONNECT = 1,
    REPL_STATE_AUTH,
    REPL_STATE_DB_NAME,
    REPL_STATE_REPLCONF,
    REPL_STATE_PSYNC,
    REPL_STATE_FETCH_META,
    REPL_STATE_FETCH_FILES,
    REPL_STATE_RESTORE,
    REPL_STATE_STREAMING,
    REPL_STATE_WAIT, /* backing off before reconnecting */
};

/* What the replica needs from the server. */
struct repl_replica_hooks {
    void *arg;
    /* The storage to apply batches to (it changes after a restore). */
    struct storage *(*storage)(void *arg);
    /* Replace the DB with the checkpoint in `dir` (which the callee moves into place). Must give
     * up promptly with KV_ERR_STOPPED when kv_thread_should_stop(self). On failure the previous
     * DB must be serving again. */
    enum kv_code (*restore)(void *arg, const char *dir, struct kv_thread *self, struct kv_err *err);
    /* The fetch of a full sync has started: prepare what `restore` needs that does not depend
     * on the files (so it is not done while the server is loading). Called by the replication
     * thread while the fetchers run; may be NULL; same stop rule as restore; a failure only
     * means restore does the work itself. */
    void (*prepare_restore)(void *arg, struct kv_thread *self);
    /* A batch was applied (side effects: deliver PUBLISH to local subscribers, wake readers).
     * May be NULL. */
    void (*applied)(void *arg, struct kv_slice rep);
    /* slave-empty-db-before-fullsync: drop the local data once the master's file list has
     * arrived, before fetching (the server then answers -LOADING until `restore` ends or
     * `abort_fullsync` is called). Called only when the option is on; same stop rule as
     * restore. */
    enum kv_code (*empty_db)(void *arg, struct kv_thread *self, struct kv_err *err);
    /* A full sync failed or was stopped after empty_db succeeded (also after a failed
     * restore, so it must be a no-op when restore already ended the loading state): stop
     * loading. The DB stays empty; its sequence 0 makes the next PSYNC start from the master's
     * beginning or fail into a full sync. */
    void (*abort_fullsync)(void *arg);
};

struct repl_replica_options {
    const char *host; /* copied */
    int port;
    const char *masterauth;  /* copied; "" = none */
    const char *db_name;     /* copied */
    int listening_port;      /* announced with REPLCONF listening-port */
    const char *announce_ip; /* copied; "" = none */
    const char *dir;         /* copied: data directory (sync_checkpoint lives there) */
    int connect_timeout_ms;
    int recv_timeout_ms;
    int send_timeout_ms;
    bool empty_db_before_fullsync; /* call hooks.empty_db before fetching files */
};

struct repl_replica_status {
    enum repl_state state;
    char host[256];
    int port;
    bool link_up;          /* streaming */
    bool sync_in_progress; /* fetching a checkpoint */
    int64_t last_io_ms;    /* monotonic time of the last byte from the master, 0 = never */
    uint64_t files_total;  /* current full sync */
    uint64_t files_done;
    uint64_t bytes_done;
    uint64_t full_syncs;    /* completed full syncs since start */
    uint64_t skipped_files; /* files reused from an earlier broken attempt, last full sync */
};

/* Start replicating from o->host:o->port. The sync_checkpoint directory of an earlier master is
 * removed first. KV_ERR_IO when the thread cannot start. */
enum kv_code repl_replica_start(const struct repl_replica_options *o,
                                const struct repl_replica_hooks *hooks, struct repl_replica **out,
                                struct kv_err *err);

/* Ask the thread to stop and wait up to timeout_ms. KV_OK: stopped and freed. KV_ERR_TIMEOUT:
 * still running (the handle stays valid; call again). */
enum kv_code repl_replica_stop(struct repl_replica *rr, int64_t timeout_ms);

/* Ask to stop without waiting (call repl_replica_stop later to join). */
void repl_replica_request_stop(struct repl_replica *rr);

void repl_replica_status(struct repl_replica *rr, struct repl_replica_status *out);

const char *repl_state_name(enum repl_state s);

#ifdef __cplusplus
}
#endif

#endif
