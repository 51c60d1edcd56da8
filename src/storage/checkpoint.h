/* SPDX-License-Identifier: Apache-2.0
 *
 * checkpoint: a consistent copy of the database as files in a directory (hard links where the
 * file system allows), the unit of a replication full sync. Opening the directory as a database
 * gives exactly the data of the moment of creation; its latest sequence is where the replica
 * continues with PSYNC.
 *
 * Threads: any.
 */
#ifndef KV_STORAGE_CHECKPOINT_H
#define KV_STORAGE_CHECKPOINT_H

#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Create a checkpoint of st in `dir`, which must not exist. `flush_log_bytes`: when the live WAL
 * is larger than this, memtables are flushed first (smaller transfer), else the WAL files are
 * copied. *seq receives the latest sequence at the start of the creation (the checkpoint holds at
 * least everything up to it). KV_ERR_IO on failure (a partial directory is removed). */
enum kv_code checkpoint_create(struct storage *st, const char *dir, uint64_t flush_log_bytes,
                               uint64_t *seq, struct kv_err *err);

/* The regular files of `dir`, names only, joined by ',' (the _fetch_meta reply), into out
 * (cleared first). */
enum kv_code checkpoint_list_files(const char *dir, struct kv_buf *out, struct kv_err *err);

/* rm -rf dir (no error when absent). */
enum kv_code checkpoint_remove_dir(const char *dir, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
