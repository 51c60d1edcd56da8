/* SPDX-License-Identifier: Apache-2.0
 *
 * compact_filter: RocksDB compaction filters that reclaim space (kvrocks-notes.md 2.8).
 *   metadata CF: drops records whose expiry has passed;
 *   default, zset_score, stream CFs: drop sub-keys whose metadata is missing, is a string, has
 *     another version, or expired more than 5 minutes ago (the grace period avoids racing a
 *     concurrent EXPIRE/PERSIST);
 *   pubsub CF: drops everything (messages only travel through the WAL).
 * Filters never write; they only decide what compaction keeps, so a replica stays byte-equal to
 * its master in the replication sense (sequence numbers are not affected).
 *
 * Private to storage/. Threads: filters run on RocksDB's compaction threads.
 */
#ifndef KV_STORAGE_COMPACT_FILTER_H
#define KV_STORAGE_COMPACT_FILTER_H

#include <stdbool.h>

#include <rocksdb/c.h>

#include "storage/cf.h"

#ifdef __cplusplus
extern "C" {
#endif

struct compact_filter_ctx;

struct compact_filter_ctx *compact_filter_ctx_new(bool cluster);
void compact_filter_ctx_free(struct compact_filter_ctx *ctx);
/* Install the filter (factory) for column family `cf` into its options. */
void compact_filter_install(struct compact_filter_ctx *ctx, rocksdb_options_t *opts, enum kv_cf cf);
/* Give the sub-key filters the DB to look metadata up in (after open). Until then they keep
 * everything. */
void compact_filter_attach_db(struct compact_filter_ctx *ctx, rocksdb_t *db,
                              rocksdb_column_family_handle_t *meta_cf);
/* Forget the DB (before it closes). */
void compact_filter_detach_db(struct compact_filter_ctx *ctx);

/* Grace period after expiry before sub-keys are dropped. */
#define COMPACT_FILTER_SUBKEY_GRACE_MS (5 * 60 * 1000)

#ifdef __cplusplus
}
#endif

#endif
