/* SPDX-License-Identifier: Apache-2.0
 *
 * file: small durable-file helpers. A file that must survive a crash whole (config, nodes.conf,
 * a marker) is written to a temporary name, fsynced, renamed over the old one, and then its
 * directory is fsynced so the rename itself is on disk.
 *
 * Threads: any.
 */
#ifndef KV_COMMON_FILE_H
#define KV_COMMON_FILE_H

#include <stddef.h>

#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Replace `path` with exactly `len` bytes of `data`, atomically and durably: through
 * "<path>.tmp", which is removed on failure. An existing file keeps its permission bits; a new
 * one gets 0644. The directory is then synced, best effort (the new file is in place whatever
 * that gives). Returns KV_OK or KV_ERR_IO (text in err names the file). */
enum kv_code file_write_atomic(const char *path, const void *data, size_t len, struct kv_err *err);

/* Write all n bytes of data to the file fd at its offset (retrying short writes and EINTR).
 * KV_ERR_IO on failure, errno kept. */
enum kv_code file_write_all(int fd, const void *data, size_t n, struct kv_err *err);

/* fsync the directory `dir` (so renames and creations in it are on disk). KV_ERR_IO on failure. */
enum kv_code file_sync_dir(const char *dir, struct kv_err *err);

/* fsync the directory that holds `path` ("." for a bare name). KV_ERR_IO on failure. */
enum kv_code file_sync_parent(const char *path, struct kv_err *err);

/* fsync every regular file directly in `dir`, then `dir` itself. Files that vanish meanwhile
 * (a database deleting obsolete files) are skipped. KV_ERR_IO on the first failure. */
enum kv_code file_sync_dir_files(const char *dir, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
