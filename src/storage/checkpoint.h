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

#include <stdbool.h>
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

/* Fetched files on their way to disk. A replica writes the files of a full sync without waiting
 * for the disk (as a plain copy does), puts them in service, and only then syncs them
 * (checkpoint_settle). Until then the directory holds a mark, CHECKPOINT_UNSYNCED_MARK, naming
 * the boot of the kernel whose page cache holds the files: within that boot they are whole
 * whatever happens to the process; after a crash of the machine they may be torn. */
#define CHECKPOINT_UNSYNCED_MARK "UNSYNCED"

enum checkpoint_sync_state {
    CHECKPOINT_SYNCED,             /* no mark */
    CHECKPOINT_UNSYNCED_THIS_BOOT, /* marked by this boot: whole, just not synced yet */
    CHECKPOINT_UNSYNCED_OTHER_BOOT /* marked before the machine restarted: may be torn */
};

/* Put the mark in `dir` (durably), before the first unsynced file is written there. */
enum kv_code checkpoint_mark_unsynced(const char *dir, struct kv_err *err);

/* What the mark of `dir` says. A mark that cannot be read, or a boot that cannot be told, counts
 * as another boot. */
enum checkpoint_sync_state checkpoint_sync_state(const char *dir);

/* fsync every file of `dir`, `dir` itself and its parent (which saw it renamed into place),
 * then remove the mark. The files may be in service meanwhile. */
enum kv_code checkpoint_settle(const char *dir, struct kv_err *err);

/* Start-up check of the database directory `dir`, before it is opened. Marked by this boot (the
 * process ended before checkpoint_settle): settle it now. Marked by an earlier boot: move it to
 * `aside` (replacing an older one there), so the node starts empty and a replica fetches its
 * data again; *moved_aside tells. Unmarked: nothing to do. */
enum kv_code checkpoint_recover(const char *dir, const char *aside, bool *moved_aside,
                                struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
