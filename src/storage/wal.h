/* SPDX-License-Identifier: Apache-2.0
 *
 * wal: reading the write-ahead log by sequence number, for replication (DESIGN.md section 6).
 * Every write batch in the WAL has a first sequence and a count of records; the next batch
 * starts at seq + count. A replica that applied everything up to sequence S asks for S + 1,
 * which is valid when S + 1 == latest + 1 (nothing new yet) or when a batch in the WAL starts
 * exactly at S + 1. WAL files are kept for rocksdb.wal_ttl_seconds / rocksdb.wal_size_limit_mb,
 * which bounds how long a replica can be away and still resume.
 *
 * Batch wire format (RocksDB's WriteBatch "rep"): [seq u64 LE][count u32 LE][records...].
 *
 * Threads: any; an iterator belongs to one thread.
 */
#ifndef KV_STORAGE_WAL_H
#define KV_STORAGE_WAL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/status.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wal_iter;

/* Open an iterator whose first batch starts exactly at `seq`. KV_ERR_WAL_GAP when `seq` is not
 * the first sequence of a batch still in the WAL (purged, inside a batch, or beyond the latest
 * sequence); seq == latest + 1 is also KV_ERR_WAL_GAP here (nothing to read yet: callers check
 * wal_can_resume first). */
enum kv_code wal_iter_open(struct storage *st, uint64_t seq, struct wal_iter **out,
                           struct kv_err *err);
void wal_iter_free(struct wal_iter *it); /* NULL is a no-op */

/* The current batch: first sequence, record count and raw bytes (borrowed until the next
 * wal_iter_next or wal_iter_free). KV_NOTFOUND when nothing newer is readable yet: call it
 * again after new writes; it continues from where it stopped. */
enum kv_code wal_iter_batch(struct wal_iter *it, uint64_t *seq, uint32_t *count,
                            struct kv_slice *rep, struct kv_err *err);
/* Move past the current batch. */
void wal_iter_next(struct wal_iter *it);

/* How many times the iterator had to recreate its RocksDB iterator since wal_iter_open. Tailing
 * continues the open iterator while the WAL stays in one file, so this grows only when RocksDB
 * switches to a new WAL file (memtable flush) or refuses to continue; tests use it. */
uint64_t wal_iter_reopens(const struct wal_iter *it);

/* PSYNC decision: KV_OK when a replica that asks for `seq` can continue from the WAL (seq ==
 * latest + 1, or a batch starts exactly at seq); KV_ERR_WAL_GAP otherwise. */
enum kv_code wal_can_resume(struct storage *st, uint64_t seq, struct kv_err *err);

/* The first sequence still readable from the WAL (0 when the WAL holds nothing readable). */
uint64_t wal_oldest_seq(struct storage *st);

/* Decode the header of a batch's raw bytes. false when too short. */
bool wal_batch_header(struct kv_slice rep, uint64_t *seq, uint32_t *count);

#ifdef __cplusplus
}
#endif

#endif
