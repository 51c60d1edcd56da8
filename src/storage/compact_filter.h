/* SPDX-License-Identifier: Apache-2.0
 *
 * compact_filter: RocksDB compaction filters that reclaim space (kvrocks-notes.md 2.8).
 *   metadata CF: drops records that are not live (meta_is_live): expired, or a collection of
 *     size 0;
 *   default, zset_score, stream CFs: drop sub-keys whose metadata is missing, is a string or
 *     JSON, has another version, or stopped being live more than 5 minutes ago (the grace period
 *     avoids racing a concurrent EXPIRE/PERSIST), and all-zero bitmap segments;
 *   pubsub CF: drops everything (messages only travel through the WAL);
 *   propagate, search CFs: no filter.
 * Records that do not decode are kept. Filters never write; they only decide what compaction
 * keeps, so sequence numbers are not affected. A dropped record becomes a tombstone inside
 * RocksDB, so an older record of the same key in a lower level cannot resurface.
 *
 * Ownership (RocksDB 7.8 C API): rocksdb_options_set_compaction_filter stores a raw pointer, so
 * the metadata and pubsub filters are owned by the ctx; rocksdb_options_set_compaction_filter_
 * factory wraps the factory in a shared_ptr, so each sub-key factory is owned by the options it
 * is installed in (and the DB's copies of them); its state, the ctx, is borrowed. Hence: free the
 * ctx only after the DB is closed and every options object it was installed in is destroyed.
 *
 * Private to storage/. Threads: filters run on RocksDB's compaction threads; the metadata filter
 * is shared by concurrent sub-compactions and keeps no state, a sub-key filter instance belongs
 * to one (sub-)compaction. attach/detach are called by the storage owner.
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
