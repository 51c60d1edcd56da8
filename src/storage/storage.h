/* SPDX-License-Identifier: Apache-2.0
 *
 * storage: the only module that talks to RocksDB. It opens the database with the column families
 * of cf.h, and offers point reads, atomic write batches, iterators with bounds, snapshots,
 * properties, flush/compaction, and the WAL and checkpoint access replication needs. RocksDB
 * handles and error strings never leave this module: callers see `enum kv_cf` ids, kv codes and
 * copied bytes.
 *
 * Errors: KV_ERR_IO (with RocksDB's message in err->msg) for any RocksDB failure; KV_ERR_CORRUPT
 * when RocksDB reports corruption; KV_NOTFOUND for absent keys.
 *
 * Threads: all functions may be called from any thread concurrently (RocksDB is thread-safe),
 * except storage_open/storage_close, which the owner calls while no other thread uses the
 * storage. A batch or an iterator belongs to one thread at a time.
 */
#ifndef KV_STORAGE_STORAGE_H
#define KV_STORAGE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"
#include "config/config.h"
#include "storage/cf.h"
#include "storage/rowcache.h"

#ifdef __cplusplus
extern "C" {
#endif

struct storage;
struct storage_batch;
struct storage_iter;
struct storage_snapshot;

/* Open (creating if missing) the database in `path` with every column family, with options taken
 * from cfg's rocksdb.* fields. cfg is read during the call only. cfg->cluster_enabled is recorded
 * in the file `path`/KVROCKS_CLUSTER_MODE ("yes" or "no") on first open; a directory recorded
 * with the other mode is refused before RocksDB opens it (KV_ERR_INVALID, err->msg names the
 * directory and both modes). On failure *out is unchanged and nothing stays open. */
enum kv_code storage_open(const struct config *cfg, const char *path, struct storage **out,
                          struct kv_err *err);
/* Close and free. Waits for RocksDB's background work to stop. NULL is a no-op. */
void storage_close(struct storage *st);

/* The directory the DB was opened from (borrowed; lives as long as st). */
const char *storage_path(const struct storage *st);

/* Point read into `val` (cleared first). `snap` may be NULL for the latest state.
 * KV_OK, KV_NOTFOUND, or KV_ERR_IO. */
enum kv_code storage_get(struct storage *st, const struct storage_snapshot *snap, enum kv_cf cf,
                         struct kv_slice key, struct kv_buf *val, struct kv_err *err);

/* Write batches: everything one command changes goes into one batch, written atomically and
 * forming one unit of the replication stream. */
/* A new empty batch for `st` (the batch borrows st's column family handles: write it to st,
 * before st is closed). */
struct storage_batch *storage_batch_new(struct storage *st);
/* The same, with room for about `bytes` bytes of records taken at once, for a batch known to
 * grow big (a record costs its key and value plus at most 16 bytes): its buffer is then not
 * regrown (reallocated and copied) again and again while it fills. The room is allocated and
 * touched at once, so size it to what will be written; a batch outgrowing it still grows. Below
 * 1 MiB this is storage_batch_new. (RocksDB 8's rocksdb_writebatch_create_with_params does this;
 * the 7.8 C API has no way to size a batch, see storage.c.) */
struct storage_batch *storage_batch_new_sized(struct storage *st, size_t bytes);
void storage_batch_free(struct storage_batch *b); /* NULL is a no-op */
void storage_batch_clear(struct storage_batch *b);
void storage_batch_put(struct storage_batch *b, enum kv_cf cf, struct kv_slice key,
                       struct kv_slice val);
void storage_batch_delete(struct storage_batch *b, enum kv_cf cf, struct kv_slice key);
/* Delete [begin, end) in one column family. */
void storage_batch_delete_range(struct storage_batch *b, enum kv_cf cf, struct kv_slice begin,
                                struct kv_slice end);
/* A LogData record (consumes no sequence number): Kvrocks' operation descriptor. */
void storage_batch_log_data(struct storage_batch *b, struct kv_slice blob);
/* Number of records (puts, deletes) in the batch, not counting log data. */
int storage_batch_count(struct storage_batch *b);
/* The batch's RocksDB wire representation (borrowed until the batch changes). */
struct kv_slice storage_batch_data(struct storage_batch *b);
/* Check a batch's wire representation before it is written: KV_OK, or KV_ERR_CORRUPT with the
 * reason in err when it is truncated, has a record type we never write (merge, blob, 2PC
 * markers...), names a column family we do not have, or its header count disagrees with its
 * records. RocksDB itself would find these only after writing the batch to the WAL, leaving a DB
 * that refuses writes and cannot be reopened. */
enum kv_code storage_batch_validate(struct kv_slice rep, struct kv_err *err);
/* A batch from its wire representation (replication; `rep` is copied). Returns NULL unless
 * storage_batch_validate accepts `rep`. Such a batch can be written, counted and read back with
 * storage_batch_data, but not added to (no column family handles: put/delete abort). */
/* The records of a batch in its wire form, in order. Keys and values borrow from rep. For
 * DELETE_RANGE, key is the begin and value the end; LOG_DATA has only a value (cf 0). */
enum storage_record_kind {
    STORAGE_REC_PUT,
    STORAGE_REC_DELETE,
    STORAGE_REC_DELETE_RANGE,
    STORAGE_REC_LOG_DATA,
};
typedef void (*storage_record_fn)(void *arg, enum storage_record_kind kind, enum kv_cf cf,
                                  struct kv_slice key, struct kv_slice value);
/* Walk the records (fn may be NULL: validation only). Same errors as storage_batch_validate;
 * fn may have been called for records before the malformed one. */
enum kv_code storage_batch_foreach(struct kv_slice rep, storage_record_fn fn, void *arg,
                                   struct kv_err *err);
struct storage_batch *storage_batch_from_data(struct kv_slice rep);

/* Write the batch atomically (WAL first). KV_OK, or KV_ERR_IO/KV_ERR_CORRUPT. A batch with no
 * records (log data only, or nothing) is not written: it would consume no sequence number. Each
 * put, delete and delete-range consumes one sequence number. */
enum kv_code storage_write(struct storage *st, struct storage_batch *b, struct kv_err *err);

/* Write counters, for a cache of records read under a key lock (list_pop's read-ahead): while
 * neither changes and the lock is held (keylock_epoch), the cached records are current.
 * storage_thread_writes counts the calling thread's storage_write and storage_write_raw calls;
 * storage_raw_writes the raw batches written to st by any thread, which take no key locks,
 * from a base of its own (a storage opened later, such as the DB a full sync swaps in, never
 * shows the same number, even at the same address). */
uint64_t storage_thread_writes(void);
uint64_t storage_raw_writes(struct storage *st);

/* Group commit. A thread that enables its stage (worker threads do) does not write a batch at
 * storage_write: it adds the batch's records to a per-thread stage and returns, and the stage is
 * written as one RocksDB batch by storage_stage_commit. Until then:
 *   - the thread's own point reads without a snapshot (storage_get) see the staged writes;
 *   - other threads do not, so the caller must not reply to a command, nor release the locks it
 *     took to write, before the commit (server/worker.c, types/keylock.c);
 *   - storage_snapshot_new and storage_iter_new commit first (they read the DB only), and so do
 *     storage_write of a batch that cannot be staged (range deletes, a batch from wire data) and
 *     storage_write_raw. A stage past 1 MiB is committed at once, and a batch over 64 MiB is
 *     written directly.
 * Each command's records stay together in one batch, so a command is still atomic on disk and in
 * the replication stream; a batch may hold several commands. The commit leaves out every put or
 * delete of the metadata, subkey and zset_score column families that a later record of the same
 * key replaced (the DB ends the same; a hot key written by a whole round is written once); log
 * data and the records of the other column families (pubsub messages) all stay.
 * A commit that fails is remembered until storage_stage_take_failure: the caller must then not
 * send what depended on the lost writes.
 *
 * Transactions (EXEC): between storage_stage_hold_begin and storage_stage_hold_end the thread's
 * stage is held: its writes are staged and nothing commits them but storage_stage_hold_end, so
 * they reach the DB (and the WAL, and replicas) as one batch, all or nothing across a crash.
 * While held, storage_stage_commit does nothing, the stage is not committed past 1 MiB (it takes
 * batches up to 1 GiB, and up to 3 GiB in all), and snapshots and iterators do not commit: the
 * thread's reads, point reads and iterators, through a snapshot taken in the hold or without
 * one, see the held writes over the DB. The caller makes sure no other thread writes meanwhile
 * (EXEC holds the server lock exclusively). What cannot be staged is still written at once,
 * after the stage, which splits the transaction there but keeps the order of its writes: a batch
 * with a range delete (FLUSHDB, FLUSHALL), a raw batch (storage_write_raw), a batch past those
 * sizes, and any write after a failed one. */
/* Enable (true) or disable staging on the calling thread; returns the previous setting. */
bool storage_stage_enable(bool on);
/* True while staging is enabled on the calling thread. */
bool storage_stage_enabled(void);
/* True while the calling thread has staged, uncommitted records. */
bool storage_stage_pending(void);
/* Write the calling thread's staged records (KV_OK when there are none, or while the stage is
 * held). err may be NULL. */
enum kv_code storage_stage_commit(struct kv_err *err);
/* Hold the calling thread's stage (a transaction; see above): commit what is staged, then
 * enable staging until storage_stage_hold_end. Holds do not nest. */
void storage_stage_hold_begin(void);
/* End the hold: restore the staging setting storage_stage_hold_begin found, then commit the
 * staged writes as one batch (err may be NULL; a failure is also remembered, as any commit's). */
enum kv_code storage_stage_hold_end(struct kv_err *err);
/* True between storage_stage_hold_begin and storage_stage_hold_end on the calling thread. */
bool storage_stage_held(void);
/* A commit of the calling thread failed since the last storage_stage_take_failure. */
bool storage_stage_failed(void);
bool storage_stage_take_failure(void);
/* True while any thread has staged, uncommitted records for st. */
bool storage_has_staged(struct storage *st);
/* Commit, then free the calling thread's stage (before a staging thread exits). */
void storage_stage_thread_exit(void);

/* Snapshots: a consistent read view. Free with storage_snapshot_free before storage_close.
 * storage_snapshot_seq is the latest sequence number at creation: the snapshot sees exactly the
 * writes with sequence numbers <= it. */
struct storage_snapshot *storage_snapshot_new(struct storage *st);
void storage_snapshot_free(struct storage *st, struct storage_snapshot *snap);
uint64_t storage_snapshot_seq(const struct storage_snapshot *snap);

/* Iterators over one column family. `lower` and `upper` are copied: the iterator sees keys in
 * [lower, upper). A lower bound with ptr NULL or len 0, and an upper bound with ptr NULL or
 * len 0 (keys_prefix_end of an all-0xff prefix), mean no bound. `snap` may be NULL. The iterator
 * starts unpositioned: seek before reading. Free it before storage_close. */
struct storage_iter *storage_iter_new(struct storage *st, const struct storage_snapshot *snap,
                                      enum kv_cf cf, struct kv_slice lower, struct kv_slice upper);
void storage_iter_free(struct storage_iter *it); /* NULL is a no-op */
void storage_iter_seek(struct storage_iter *it, struct kv_slice key);
void storage_iter_seek_for_prev(struct storage_iter *it, struct kv_slice key);
void storage_iter_seek_first(struct storage_iter *it);
void storage_iter_seek_last(struct storage_iter *it);
void storage_iter_next(struct storage_iter *it);
void storage_iter_prev(struct storage_iter *it);
bool storage_iter_valid(const struct storage_iter *it);
/* Current key and value: borrowed until the next move or free. */
struct kv_slice storage_iter_key(const struct storage_iter *it);
struct kv_slice storage_iter_value(const struct storage_iter *it);
/* KV_OK, or the error that ended the iteration early. */
enum kv_code storage_iter_status(const struct storage_iter *it, struct kv_err *err);

/* Prepare the calling thread for storage calls on the hot path: turns RocksDB's per-thread perf
 * context counters off (their default level counts on every Get and Write, each a thread-local
 * access through the shared library). Nothing here reads them. Call once per worker thread. */
void storage_thread_init(void);

/* The sequence number of the latest write (0 for an empty DB). */
uint64_t storage_latest_seq(struct storage *st);

/* Flush memtables of every CF (waits). */
enum kv_code storage_flush(struct storage *st, struct kv_err *err);
/* Compact the files of cf overlapping [begin, end] (inclusive; an empty slice leaves that side
 * open), flushing the memtable first if it overlaps, and forcing the bottommost level so
 * compaction filters see every record. Waits for completion. Always KV_OK (RocksDB's C API does
 * not report the status of a manual compaction). */
enum kv_code storage_compact(struct storage *st, enum kv_cf cf, struct kv_slice begin,
                             struct kv_slice end, struct kv_err *err);

/* Compact every column family over its whole key range, as storage_compact does one: the
 * metadata column family first, so that records its filter drops (expired keys) already count
 * as gone when the sub-key filter of the other families looks their owners up. Waits for
 * completion: afterwards the sub-keys of deleted, overwritten and expired keys are gone from
 * disk, except those a live snapshot still sees. Takes as long as rewriting the whole DB.
 * Always KV_OK (see storage_compact). */
enum kv_code storage_compact_all(struct storage *st, struct kv_err *err);

/* Records of column family cf read since open: point reads (storage_get) plus iterator
 * positionings (each seek, next and prev; an iterator adds its count when freed). Records
 * written: every put, delete and range delete of a written batch, raw batches included. Cheap
 * relaxed counters (INFO rocksdb keys_read/keys_written), so callers and tests can check that a
 * command touched O(what it returns) records. */
uint64_t storage_keys_read(struct storage *st, enum kv_cf cf);
uint64_t storage_keys_written(struct storage *st, enum kv_cf cf);

/* A RocksDB property (e.g. "rocksdb.estimate-num-keys") of cf into `out` (cleared first).
 * KV_NOTFOUND for an unknown property. */
enum kv_code storage_property(struct storage *st, enum kv_cf cf, const char *name,
                              struct kv_buf *out);
/* A property as an integer; 0 when unknown. */
uint64_t storage_property_int(struct storage *st, enum kv_cf cf, const char *name);
/* Bytes of live SST files, and of the WAL files on disk. */
uint64_t storage_sst_bytes(struct storage *st);
/* The row cache of cf (rowcache.h, row-cache-size; the sub-key and metadata column families
 * have one): its size in bytes (0: none) and the point reads it answered and did not answer
 * since open. */
struct rowcache_stats storage_row_cache_stats(struct storage *st, enum kv_cf cf);

/* Change one mutable column-family option of every column family at run time (RocksDB's
 * SetOptions: `name` and `value` in RocksDB's option-string syntax, e.g. "write_buffer_size",
 * "67108864"). KV_ERR_INVALID with RocksDB's reason when it refuses; column families changed
 * before the refusal keep the new value. */
enum kv_code storage_set_cf_option(struct storage *st, const char *name, const char *value,
                                   struct kv_err *err);

/* Each column family's memtable size in bytes, as RocksDB uses it now. */
uint64_t storage_write_buffer_size(struct storage *st, enum kv_cf cf);

/* Cap the metadata memtable by entries as well as by bytes: size it for about 50k entries of
 * the size its active memtable holds now, between 4 MiB and rocksdb.write_buffer_size, when
 * that differs by 2x or more from its size now (storage.c explains why). Cheap when nothing
 * changes: call it now and then (the server's cron) from one thread at a time, not alongside
 * storage_set_cf_option. Logs each change. */
void storage_tune_memtables(struct storage *st);

/* Register fn(arg) to be called after every successful storage_write / storage_write_raw (any
 * thread). One listener; NULL clears. Set it before other threads write. fn must be cheap and
 * never block. */
void storage_set_write_listener(struct storage *st, void (*fn)(void *arg), void *arg);

/* Write a replicated batch unchanged (validated first with storage_batch_validate): the records
 * get the next sequence numbers, which equal the master's when the replica is in sync.
 * KV_ERR_CORRUPT for a malformed batch (nothing written). *count receives the records written. */
enum kv_code storage_write_raw(struct storage *st, struct kv_slice rep, uint32_t *count,
                               struct kv_err *err);

/* Stop background compactions/flushes promptly (shutdown). */
void storage_cancel_background(struct storage *st);

#ifdef __cplusplus
}
#endif

#endif
