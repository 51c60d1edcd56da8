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
 * Every socket write has a deadline (replication-send-timeout-ms from the last progress) and
 * watches the thread's stop fd: a stuck replica is dropped in bounded time and never slows the
 * worker threads, which only hand sockets over.
 *
 * Threads: the API is called by workers (commands), the main thread (cron, shutdown) and the
 * replica side of a chained replica (stop before a DB swap). Feeder and file-serving threads are
 * owned by this module.
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
/* Stop every thread (bounded by deadline_ms, monotonic) and free. */
void repl_master_free(struct repl_master *rm, int64_t deadline_ms);

/* The storage changed (a replica finished a full sync): feeders must already be stopped. */
void repl_master_set_storage(struct repl_master *rm, struct storage *st);

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

/* Stop every feeder (CLIENT KILL TYPE slave, before a DB swap, on becoming a replica). Returns
 * how many were stopped. Bounded by deadline_ms. */
int repl_master_stop_feeders(struct repl_master *rm, int64_t deadline_ms);

/* Periodic work (main thread, ~100 ms): reap finished threads, remove a checkpoint nobody uses
 * that is older than its reuse window or idle for 30 s. */
void repl_master_cron(struct repl_master *rm);

/* Counters (INFO stats). */
uint64_t repl_master_sync_full(const struct repl_master *rm);
uint64_t repl_master_sync_partial_ok(const struct repl_master *rm);
uint64_t repl_master_sync_partial_err(const struct repl_master *rm);
void repl_master_reset_stats(struct repl_master *rm);

#ifdef __cplusplus
}
#endif

#endif
