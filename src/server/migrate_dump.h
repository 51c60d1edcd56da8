/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate_dump: how the migration source turns the keys it reads from a RocksDB snapshot into
 * what it sends to the destination (kvrocks-notes 4.6).
 *
 * migrate-type redis-command (the default):
 *   string  SET k v [PXAT ms]
 *   hash    HSET k f v ... ; set SADD k m ... ; list RPUSH k e ... (in order);
 *   zset    ZADD k score member ...    (at most MIGRATE_DUMP_ITEMS items per command)
 *   then    PEXPIREAT k ms for a key with an expiry.
 *   bitmap and hyperloglog keys, whose segments no Redis command recreates exactly (a bitmap's
 *   byte length, a sparse HLL's registers), go as raw records: APPLYBATCH <write batch>.
 * migrate-type raw-key-value: every key as raw records: APPLYBATCH with its metadata record and
 *   its sub-keys (default and zset_score column families), split into batches of about
 *   MIGRATE_DUMP_BATCH_BYTES.
 * With `replace` (a key sent again by a WAL round) the destination's copy is removed first: DEL k
 * (commands), or a range delete of the sub-keys of the version being sent plus the new metadata
 * (raw). A key that is absent or expired in the snapshot is then only deleted.
 *
 * Threads: the migration thread; the storage is shared and thread-safe.
 */
#ifndef KV_SERVER_MIGRATE_DUMP_H
#define KV_SERVER_MIGRATE_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/nodes.h"
#include "common/slice.h"
#include "common/status.h"
#include "server/migrate_ctl.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MIGRATE_DUMP_ITEMS 16
#define MIGRATE_DUMP_BATCH_BYTES (64 * 1024)

/* Where commands go: one command (argv borrowed for the call). A non-KV_OK return stops the dump
 * and is returned by it. */
typedef enum kv_code (*migrate_send_fn)(void *arg, size_t argc, const struct kv_slice *argv,
                                        struct kv_err *err);

struct migrate_dump_stats {
    uint64_t keys;     /* keys sent (deletions not counted) */
    uint64_t commands; /* commands sent (the sender counts them) */
    uint64_t bytes;    /* bytes sent (the sender counts them) */
};

/* Send the live keys of slots [r.start, r.end] (default namespace) as snap sees them. */
enum kv_code migrate_dump_range(struct storage *st, const struct storage_snapshot *snap,
                                struct cluster_slot_range r, const struct migrate_dump_opts *o,
                                migrate_send_fn send, void *arg, struct migrate_dump_stats *ds,
                                struct kv_err *err);

/* Send one key as snap sees it. With `replace`, the destination's copy is replaced (or deleted
 * when the key is not live in snap). */
enum kv_code migrate_dump_key(struct storage *st, const struct storage_snapshot *snap,
                              struct kv_slice key, bool replace, const struct migrate_dump_opts *o,
                              migrate_send_fn send, void *arg, struct migrate_dump_stats *ds,
                              struct kv_err *err);

/* The same for keys[0..n) in one go (raw records of several keys share batches). */
enum kv_code migrate_dump_keys(struct storage *st, const struct storage_snapshot *snap,
                               const struct kv_slice *keys, size_t n, bool replace,
                               const struct migrate_dump_opts *o, migrate_send_fn send, void *arg,
                               struct migrate_dump_stats *ds, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
