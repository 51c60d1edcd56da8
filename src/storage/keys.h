/* SPDX-License-Identifier: Apache-2.0
 *
 * keys: how user keys become RocksDB keys (DESIGN.md section 4, kvrocks-notes.md 2.3-2.4).
 * All integers big-endian.
 *
 * Namespace prefix (every key starts with it):
 *     +--------+-----------------+----------------------------+
 *     | ns_len | namespace bytes | slot u16 (cluster mode only) |
 *     |   u8   |  ns_len bytes   |  CRC16 of key or {tag} & 0x3FFF |
 *     +--------+-----------------+----------------------------+
 * The default namespace is the literal "__namespace" (ns_len 0x0B).
 *
 * Metadata key (CF metadata):   [ns prefix][user key]               (no length before the key)
 * Sub-key (CF default, zset_score, stream):
 *     [ns prefix][key_len u32][user key][version u64][sub-key bytes]
 * All live sub-keys of one key version share the prefix with an empty sub-key; the prefix with
 * version+1 bounds them from above.
 *
 * Threads: any; pure functions.
 */
#ifndef KV_STORAGE_KEYS_H
#define KV_STORAGE_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KEYS_DEFAULT_NAMESPACE "__namespace"
/* The namespace length is one byte: longer names are a programmer error (the encoders abort);
 * NAMESPACE ADD must refuse them. */
#define KEYS_MAX_NAMESPACE_LEN 255

/* Append the namespace prefix (and the key's slot in cluster mode) to out. */
void keys_append_ns_prefix(struct kv_buf *out, struct kv_slice ns, bool cluster,
                           struct kv_slice user_key);

/* out = metadata key of user_key (out is cleared first). */
void keys_meta_key(struct kv_buf *out, struct kv_slice ns, bool cluster, struct kv_slice user_key);

/* out = sub-key prefix for (user_key, version): everything but the sub-key bytes. */
void keys_subkey_prefix(struct kv_buf *out, struct kv_slice ns, bool cluster,
                        struct kv_slice user_key, uint64_t version);

/* out = full sub-key. */
void keys_subkey(struct kv_buf *out, struct kv_slice ns, bool cluster, struct kv_slice user_key,
                 uint64_t version, struct kv_slice sub);

/* The namespace prefix of metadata keys of a namespace in non-cluster mode, or of one slot in
 * cluster mode (slot ignored when !cluster): for ranges and scans. out is cleared first. */
void keys_ns_scan_prefix(struct kv_buf *out, struct kv_slice ns, bool cluster, uint16_t slot);

/* Split a metadata key. Slices borrow from `raw`. KV_ERR_CORRUPT if malformed. slot is set to
 * 0 when !cluster. */
enum kv_code keys_decode_meta_key(struct kv_slice raw, bool cluster, struct kv_slice *ns,
                                  uint16_t *slot, struct kv_slice *user_key);

/* Split a sub-key. Slices borrow from `raw`. KV_ERR_CORRUPT if malformed. */
enum kv_code keys_decode_subkey(struct kv_slice raw, bool cluster, struct kv_slice *ns,
                                struct kv_slice *user_key, uint64_t *version, struct kv_slice *sub);

/* Smallest key greater than every key starting with `prefix` (increment the last byte that is
 * not 0xff and truncate). out is cleared first; if prefix is all 0xff, out is left empty, which
 * callers treat as "no upper bound". */
void keys_prefix_end(struct kv_buf *out, struct kv_slice prefix);

#ifdef __cplusplus
}
#endif

#endif
