/* SPDX-License-Identifier: Apache-2.0
 *
 * repl_digest: an order-independent digest of the logical keyspace of one namespace, the
 * consistency oracle behind DBDIGEST: a replica equals its master at a sequence exactly when
 * both give the same digest at that sequence (no reference server has this).
 *
 * The digest is the sum, lane by lane modulo 2^64, of a 128-bit hash of every live key, so it
 * does not depend on the order keys are visited or were written. A key's hash covers, each
 * variable-length field prefixed with its length (u64 big-endian):
 *   the user key; the type (u8, enum meta_type); the absolute expiry in ms (u64 big-endian,
 *   0 = none);
 *   strings: the value;
 *   other types: every (sub-key, value) record of the key's current version in the default
 *   column family, in key order (zsets: only member -> score there, since the zset_score index
 *   is derived data), and for streams also in the stream column family.
 * Versions, sizes and other bookkeeping are left out: two servers holding the same logical data
 * written in a different order give the same digest; a different byte in a key or value, a
 * different expiry or type changes it. A key is live when its metadata is not expired at
 * `now_ms` (and, for types that can be empty, not empty): compare servers on data that does not
 * expire meanwhile. The 128 bits are two runs of XXH64 with different seeds.
 *
 * Threads: any (reads the storage under its own snapshot).
 */
#ifndef KV_REPL_REPL_DIGEST_H
#define KV_REPL_REPL_DIGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/status.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

struct repl_digest {
    uint64_t lane[2]; /* the digest: sums of the key hashes; both 0 for an empty keyspace */
    uint64_t seq;     /* the latest sequence included (the snapshot's) */
    uint64_t keys;    /* live keys digested */
};

/* Digest the live keys of namespace `ns` whose hash slot is in [slot_lo, slot_hi] (0..16383;
 * the slot is computed from the key in standalone mode too), under one snapshot of st.
 * cluster: the keys carry their slot (cluster mode encoding). now_ms: wall-clock ms deciding
 * which keys are expired. O(keys + sub-keys) reads.
 *   out (out) set on KV_OK.
 * Returns KV_OK, or KV_ERR_IO / KV_ERR_CORRUPT from the storage. */
enum kv_code repl_digest_compute(struct storage *st, struct kv_slice ns, bool cluster,
                                 uint16_t slot_lo, uint16_t slot_hi, int64_t now_ms,
                                 struct repl_digest *out, struct kv_err *err);

/* The digest as 32 lower-case hex digits and a NUL. */
void repl_digest_hex(const struct repl_digest *d, char out[33]);

/* XXH64 of n bytes (exposed for tests of the hash). */
uint64_t repl_digest_xxh64(const void *p, size_t n, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif
