/* SPDX-License-Identifier: Apache-2.0
 *
 * reads: what the read commands of the data types share, so each is written once:
 *   - INFO's keyspace_hits / keyspace_misses, counted where Redis counts them;
 *   - the body of HSCAN / SSCAN / ZSCAN (cursor, Redis's checking order, options, the cursor
 *     table of commands/scan_cursor.h, the reply);
 *   - the body of HRANDFIELD / SRANDMEMBER / ZRANDMEMBER (count rules, errors, RESP2/RESP3
 *     shapes).
 * A type plugs in through a small table of its storage functions (types/<type>.h). Nothing here
 * knows a type's encoding.
 *
 * Threads: the connection's worker.
 */
#ifndef KV_COMMANDS_READS_H
#define KV_COMMANDS_READS_H

#include <stdbool.h>
#include <stdint.h>

#include "commands/command.h"
#include "commands/scan_cursor.h"
#include "types/subkey.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Count a read lookup's outcome in INFO's keyspace_hits (KV_OK, and KV_ERR_WRONGTYPE: Redis
 * counts a key of another type as a hit) or keyspace_misses (KV_NOTFOUND); other codes count
 * nothing. Call it where Redis counts: on read lookups (GET, MGET, GETRANGE, STRLEN, GETEX,
 * GETDEL, GETSET, SET ... GET, LCS, the collection reads, the bit reads), not on the lookups of
 * writes (INCR, APPEND, SETNX, HSET, ...). */
void reads_count_lookup(struct cmd_ctx *ctx, enum kv_code rc);

/* The most bytes of a bitmap key's string form a command may read (types/str.h's `bitmap_max`):
 * max-bitmap-to-string-mb in bytes, read from the config (stable while the command runs under
 * the server lock). */
uint64_t reads_bitmap_string_max(const struct cmd_ctx *ctx);

/* The number of elements of a collection key: KV_OK (0 when absent), KV_ERR_WRONGTYPE. */
typedef enum kv_code (*reads_size_fn)(struct db *db, struct kv_slice key, uint64_t *size,
                                      struct kv_err *err);

/* A collection's *SCAN: hash_scan, set_scan, zset_scan. */
struct reads_scan_ops {
    reads_size_fn size;
    enum kv_code (*scan)(struct db *db, struct kv_slice key, const struct kv_slice *after,
                         struct kv_slice pattern, size_t limit, subkey_fn fn, void *arg,
                         struct kv_buf *last, bool *done, struct kv_err *err);
    subkey_fn collect;          /* appends to a subkey_list what the reply shows */
    enum scan_cursor_kind kind; /* the cursor table's kind for this command */
    bool pairs;                 /* reply (sub-key, value) pairs; else sub-keys only */
};

/* <X>SCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor (bulk), [element, ...]].
 * Checks in Redis 7.0's order: the cursor ("invalid cursor"), then the key (absent: [0, []]
 * whatever the options), then the options, in any order, the last of each winning (COUNT below
 * 1 or any other word: syntax error). An unknown cursor restarts from the first element; COUNT
 * bounds the elements examined. */
enum kv_code reads_scan_generic(struct cmd_ctx *ctx, const struct reads_scan_ops *ops);

/* A collection's random picks: hash_random, set_random, zset_random. */
struct reads_random_ops {
    reads_size_fn size;
    enum kv_code (*random)(struct db *db, struct kv_slice key, uint64_t count, bool distinct,
                           struct subkey_sample *out, struct kv_err *err);
    const char *with_opt; /* "withvalues" / "withscores", or NULL when the command has none */
    /* Writes one picked element's value after it, when with_opt was given. */
    void (*write_value)(struct cmd_ctx *ctx, struct kv_slice value);
};

/* <X>RANDMEMBER key [count [WITH...]] -> without count a random element or nil; with a count an
 * array: distinct elements (count > 0, at most the collection), or |count| picks with
 * repetitions (count < 0); with the option each element is followed by its value (flat in RESP2,
 * pairs in RESP3). Errors in Redis 7.0's order; counts Redis could not answer in memory are
 * refused ("value is out of range", see SUBKEY_SAMPLE_MAX_REPEATED). */
enum kv_code reads_random_generic(struct cmd_ctx *ctx, const struct reads_random_ops *ops);

#ifdef __cplusplus
}
#endif

#endif
