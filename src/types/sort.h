/* SPDX-License-Identifier: Apache-2.0
 *
 * sort: the storage side of SORT / SORT_RO (commands/cmd_sort.c): reading the keys a BY or GET
 * pattern names, and writing the STORE destination. The sorting itself, the options and the
 * replies are the command's.
 *
 * Patterns (Redis 7.0's lookupKeyByPattern): "#" is the element itself; otherwise the first '*'
 * is replaced by the element, giving a key name; when "->" follows the '*' with at least one byte
 * after it, the key must be a hash and the bytes after "->" name its field, else the key must be
 * a string (a bitmap key reads as its string form, as GET reads it, up to `bitmap_max` bytes:
 * types/str.h). A pattern without '*', an absent key, a key of another type, a bitmap key longer
 * than that and an absent field all give "no value".
 *
 * Rules of types/db.h. Codes: KV_OK, KV_NOTFOUND (no value), KV_ERR_IO / KV_ERR_CORRUPT.
 *
 * Threads: any worker thread; no state of its own.
 */
#ifndef KV_TYPES_SORT_H
#define KV_TYPES_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"
#include "types/db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The value `pattern` names for `elem`, copied into out (cleared first). KV_NOTFOUND when there
 * is none (see above). */
enum kv_code sort_lookup(struct db *db, struct kv_slice pattern, struct kv_slice elem,
                         uint64_t bitmap_max, struct kv_buf *out, struct kv_err *err);

/* SORT ... STORE: replace `dst` (whatever it held, its expiry included) by a list of
 * elems[0..n) in that order, in one batch; n == 0 deletes dst. Locks dst. */
enum kv_code sort_store_list(struct db *db, struct kv_slice dst, const struct kv_slice *elems,
                             size_t n, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
