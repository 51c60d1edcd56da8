/* SPDX-License-Identifier: Apache-2.0
 *
 * rowcache: a bounded cache of the values of one column family's keys, in front of RocksDB
 * point reads, kept exact by the writers (storage.c has one for sub-keys and one for metadata).
 * A point read of a key that sits in a big memtable is a skiplist search whose lower levels
 * miss the CPU cache; a read-modify-write command on a hot key (ZADD reading a member's old
 * score, say) pays one for every command. A hit here costs one hash, one bucket lock and a
 * copy.
 *
 * Exact, not "mostly fresh": storage.c calls rowcache_begin with the records of a write batch
 * in the cache's column family before it writes the batch, and rowcache_end after;
 * rowcache_bulk_begin/_end around a write it cannot follow record by record (a range delete). A
 * lookup then returns what a RocksDB read at that instant would return, or a miss:
 *   - rowcache_begin drops the key's entry and marks its bucket busy, so until rowcache_end a
 *     lookup of the key misses and reads RocksDB;
 *   - rowcache_end installs the written value only if the key was cached at the begin and
 *     nothing else touched the bucket since (no other writer began or ended there, none is
 *     still busy there): two writers of one key in flight at once (a raw batch beside a
 *     command) leave it uncached;
 *   - a reader that missed may install what it read (rowcache_fill) only if no writer was busy
 *     in the bucket at the miss and none began until the fill;
 *   - a bulk write makes every lookup miss while it runs and every entry stale after.
 * None of this relies on the key locks. Buckets have 4 entries, replaced least recently used
 * first; an entry holds a key and value of at most ROWCACHE_ENTRY_BYTES together (longer ones
 * are never cached), or the fact that the key is absent.
 *
 * Threads: any; each bucket has its own spin lock, held for well under a microsecond.
 */
#ifndef KV_STORAGE_ROWCACHE_H
#define KV_STORAGE_ROWCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ROWCACHE_ENTRY_BYTES 136

struct rowcache;

enum rowcache_hit {
    ROWCACHE_MISS,
    ROWCACHE_VALUE,  /* the key's value, copied into the caller's buffer */
    ROWCACHE_ABSENT, /* the key has no value */
};

/* What a reader or writer remembers between the two halves of its protocol. */
struct rowcache_ticket {
    uint64_t hash;
    uint64_t epoch;   /* the cache's bulk-write epoch at the start */
    uint32_t changes; /* the bucket's change count at the start */
    bool usable;      /* false: whatever happens, install nothing */
    bool cached;      /* a writer's key was cached at its begin */
};

/* A cache of about `bytes` (at least one bucket), its memory touched at once so the process's
 * resident size does not creep up as it fills. NULL when bytes is 0: every call below accepts
 * a NULL cache and does nothing (lookups miss). */
struct rowcache *rowcache_new(size_t bytes);
void rowcache_free(struct rowcache *c);

/* The cached state of key: VALUE (*val replaced by a copy) or ABSENT, or MISS with *miss set
 * for a reader that goes on to read RocksDB: it may then offer what it read (val, or NULL for
 * an absent key) with rowcache_fill, which installs it only if no write to the key's bucket was
 * in flight at the miss or began after it. */
enum rowcache_hit rowcache_get(struct rowcache *c, struct kv_slice key, struct kv_buf *val,
                               struct rowcache_ticket *miss);
void rowcache_fill(struct rowcache *c, struct kv_slice key, const struct rowcache_ticket *miss,
                   const struct kv_slice *val);

/* One sub-key record of a write: the key, and the value a put writes. */
struct rowcache_write {
    struct kv_slice key;
    struct kv_slice val;
    bool put; /* false: a delete */
    struct rowcache_ticket t;
};

/* Writers: rowcache_begin with the write's sub-key records (in record order) before the write,
 * rowcache_end with the same after it (ok: it succeeded; a failed write installs nothing). A
 * write never installs a key that was not cached before it: a key is cached once read. */
void rowcache_begin(struct rowcache *c, struct rowcache_write *w, size_t n);
void rowcache_end(struct rowcache *c, const struct rowcache_write *w, size_t n, bool ok);

/* Around a write that changes sub-keys other than record by record (a range delete). */
void rowcache_bulk_begin(struct rowcache *c);
void rowcache_bulk_end(struct rowcache *c);

/* For INFO: the cache's size in bytes (0 for NULL), and its lookups since creation that hit (a
 * value or an absence) and that missed. */
struct rowcache_stats {
    uint64_t bytes, hits, misses;
};
struct rowcache_stats rowcache_stats(const struct rowcache *c);

#ifdef __cplusplus
}
#endif

#endif
