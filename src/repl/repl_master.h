/* SPDX-License-Identifier: Apache-2.0
 *
 * repl_master: the master side of replication (DESIGN.md section 6, kvrocks-notes.md 3.3-3.4).
 *
 *   PSYNC <seq>  -> repl_master_psync_check decides; on success the connection's socket is
 *                   handed to repl_master_start_feeder, whose thread writes "+OK\r\n" and then
 *                   streams every WAL batch from seq as a RESP bulk string, with "$4\r\nping\r\n"
 *                   heartbeats when idle (~1 s). Small batches are coalesced (up to 16 KiB or 16
 *                   batches) but the tail is never held back: whatever is read is sent as soon
 *                   as the WAL has nothing more.
 *   _fetch_meta  -> repl_master_serve_meta: create (or reuse, when still continuable from the
 *                   WAL) a checkpoint in <dir>/checkpoint, reply the comma-separated file list
 *                   as one line, count sync_full, close.
 *   _fetch_file a,b,...
 *                -> repl_master_serve_files: for each file "<size>\r\n" + bytes (with the crc32c
 *                   extension: then "<crc32c hex>\r\n"), throttled by max-replication-mb, close.
 *
 * Every socket write has a deadline (replication-send-timeout-ms for each 64 KiB, i.e. from
 * the last progress) and watches the thread's stop fd: a stuck replica is dropped in bounded
 * time (counted in slow_replicas_dropped) and never slows the worker threads, which only hand
 * sockets over. Several replicas fetching at once share one checkpoint ("Using current existing
 * checkpoint"); the throttle splits max-replication-mb between the file-serving threads.
 *
 * When this node is itself a replica and swaps its DB (full sync), repl_ctl detaches the storage
 * first (repl_master_detach_storage: feeders and checkpoint creators stop, PSYNC is refused)
 * and attaches the new one afterwards.
 *
 * Threads: the API is called by workers (commands), the main thread (cron, shutdown) and the
 * replication thread of this node (detach/attach around a DB swap). Feeder and file-serving
 * threads are owned by this module.
 */
#ifndef KV_REPL_REPL_MASTER_H
#define KV_REPL_REPL_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"
#include "config/config.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

struct repl_master;

/* One attached replica, for INFO replication / ROLE. */
struct repl_replica_info {
    uint64_t id;     /* feeder id (the client id of the connection it came from) */
    char ip[64];     /* announced (REPLCONF ip-address) or peer ip */
    int port;        /* announced listening port */
    char addr[64];   /* peer ip:port of the connection */
    uint64_t offset; /* last sequence sent */
};

/* `cfg` is borrowed for the module's life: fields are read when a thread starts (a runtime
 * change of max-replication-mb / replication-send-timeout-ms applies to threads started later).
 * `dir` is the server's data directory (the checkpoint lives in <dir>/checkpoint). */
struct repl_master *repl_master_new(struct storage *st, const struct config *cfg, const char *dir);
/* Shutdown, step 1 (workers may still run): refuse every new job and stop the running threads,
 * waiting until deadline_ms (monotonic). KV_OK when all ended, KV_ERR_TIMEOUT otherwise. The
 * module stays usable by workers (INFO, PSYNC is refused by closing the socket). */
enum kv_code repl_master_stop(struct repl_master *rm, int64_t deadline_ms);
/* Shutdown, step 2: free, once no worker can call in any more. A module whose threads did not
 * end is left allocated (logged). NULL is a no-op. */
void repl_master_free(struct repl_master *rm);

/* Install our write listener on `st` (wakes feeders). Call before any other thread can write to
 * st: storage_set_write_listener is not synchronised with writers. No-op when already done. */
void repl_master_listen(struct repl_master *rm, struct storage *st);

/* Stop using the storage before the server closes it (a DB swap during a full sync of this node
 * as a replica): from now on PSYNC answers KV_ERR_LOADING and new feeders and checkpoint
 * requests are refused (their sockets closed); running feeders and checkpoint creators are
 * stopped and joined until deadline_ms; the checkpoint is removed. KV_OK when no thread uses the
 * old storage any more, KV_ERR_TIMEOUT when one is still running (the storage must stay open;
 * call again, or re-attach it). */
enum kv_code repl_master_detach_storage(struct repl_master *rm, int64_t deadline_ms);
/* Serve replicas from `st` (after a swap, or to undo a detach); calls repl_master_listen, so
 * for a new storage call it before other threads write to st. */
void repl_master_attach_storage(struct repl_master *rm, struct storage *st);

/* PSYNC decision for a replica asking for `seq`: KV_OK (sync_partial_ok += 1) or
 * KV_ERR_WAL_GAP with "sequence out of range, please use fullsync" (sync_partial_err += 1). */
enum kv_code repl_master_psync_check(struct repl_master *rm, uint64_t seq, struct kv_err *err);

/* Take ownership of `fd` (a connected socket, any blocking mode) and stream from `seq`.
 * ip/port: what the replica announced (port 0 when unknown); addr: the peer address. */
void repl_master_start_feeder(struct repl_master *rm, int fd, uint64_t id, uint64_t seq,
                              const char *ip, int port, const char *addr);

/* Take ownership of fd and serve one _fetch_meta, then close it. */
void repl_master_serve_meta(struct repl_master *rm, int fd);

/* Take ownership of fd and serve the files named in `names` (comma separated; copied), then
 * close it. with_crc: append "<crc32c hex>\r\n" after each file (negotiated extension). */
void repl_master_serve_files(struct repl_master *rm, int fd, const char *names, bool with_crc);

/* Attached replicas (at most cap), for INFO/ROLE. Returns the count written. */
size_t repl_master_replicas(struct repl_master *rm, struct repl_replica_info *out, size_t cap);
size_t repl_master_replica_count(struct repl_master *rm);

/* CLIENT KILL of replica links: ask every feeder whose id (the client id of the connection that
 * sent PSYNC; 0 = any) and peer address ("ip:port"; NULL = any) match to stop, without waiting.
 * Returns how many were asked. The replica notices the closed link and reconnects. */
int repl_master_kill_feeders(struct repl_master *rm, uint64_t id, const char *addr);

/* Periodic work (main thread, ~100 ms): reap finished threads, remove a checkpoint nobody uses
 * that is older than its reuse window or idle for 30 s. */
void repl_master_cron(struct repl_master *rm);

/* Counters (INFO stats). */
uint64_t repl_master_sync_full(const struct repl_master *rm);
uint64_t repl_master_sync_partial_ok(const struct repl_master *rm);
uint64_t repl_master_sync_partial_err(const struct repl_master *rm);
/* Feeders dropped because the replica stopped reading for replication-send-timeout-ms. */
uint64_t repl_master_dropped_slow(const struct repl_master *rm);
void repl_master_reset_stats(struct repl_master *rm);

#ifdef __cplusplus
}
#endif

#endif
