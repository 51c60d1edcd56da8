/* SPDX-License-Identifier: Apache-2.0
 *
 * cf: the column families of the on-disk layout (DESIGN.md section 4), in creation order. The
 * numeric ids reach disk and the replication stream (write batches carry the CF id): never
 * renumber or reorder them.
 *
 * Threads: any; constants only.
 */
#ifndef KV_STORAGE_CF_H
#define KV_STORAGE_CF_H

#ifdef __cplusplus
extern "C" {
#endif

enum kv_cf {
    KV_CF_SUBKEY = 0,     /* "default": hash fields, set members, list elements, zset member->score,
                             bitmap segments, HLL registers */
    KV_CF_METADATA = 1,   /* "metadata": one record per user key; strings hold their value here */
    KV_CF_ZSET_SCORE = 2, /* "zset_score": score ++ member index */
    KV_CF_PUBSUB = 3,     /* "pubsub": PUBLISH messages, only to reach replicas via the WAL */
    KV_CF_PROPAGATE = 4,  /* "propagate": replication id, scripts, other non-key state */
    KV_CF_STREAM = 5,     /* "stream": stream entries and consumer groups */
    KV_CF_SEARCH = 6,     /* "search": reserved, created but unused */
    KV_CF_COUNT = 7,
};

/* The on-disk name of a column family ("default", "metadata", ...). */
const char *cf_name(enum kv_cf cf);

#ifdef __cplusplus
}
#endif

#endif
