/* SPDX-License-Identifier: Apache-2.0
 *
 * nodes_file: <dir>/nodes.conf on disk (persist-cluster-nodes-enabled). The format is
 * nodes.h's nodes_format_conf (Kvrocks's own), so a file moves between Kvrocks and us. Saving
 * is atomic: the text goes to "<path>.tmp", is fsynced, renamed over <path>, and the directory
 * is fsynced, so a crash at any point leaves either the old file or the new one, never a mix.
 * It does not decide when to save (the server does, before publishing a new topology) and does
 * not apply what it loads (the server publishes it and acts on the role, cluster.h).
 *
 * Threads: any; the caller serialises saves of one path (the cluster writer lock).
 */
#ifndef KV_CLUSTER_NODES_FILE_H
#define KV_CLUSTER_NODES_FILE_H

#include "cluster/nodes.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write t to `path` atomically (see above). Returns KV_OK, or KV_ERR_IO with
 * "<file>: <strerror>" when writing, syncing or renaming the temp file failed (the old file, if
 * any, is then intact and the temp file removed). The directory fsync after the rename is best
 * effort: once the rename happened the call succeeds. */
enum kv_code nodes_file_save(const char *path, const struct cluster_topology *t,
                             struct kv_err *err);

/* Read `path` into a new topology (refs 1, my_id from the file; owned by the caller, release
 * with cluster_topology_unref or nodes_topology_free before publishing).
 * Returns KV_OK; KV_NOTFOUND when the file does not exist (a fresh node: *out untouched);
 * KV_ERR_IO with "<path>: <strerror>"; KV_ERR_CORRUPT with "<path>: line <n>: <reason>"
 * (nodes_parse_conf) for a file that does not parse or does not validate. */
enum kv_code nodes_file_load(const char *path, struct cluster_topology **out, struct kv_err *err);

/* Delete `path` (CLUSTER RESET, CONFIG SET persist-cluster-nodes-enabled no) and a stale
 * "<path>.tmp". A missing file is KV_OK; KV_ERR_IO with "<path>: <strerror>" otherwise. */
enum kv_code nodes_file_remove(const char *path, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
