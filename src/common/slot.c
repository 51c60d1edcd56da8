/* SPDX-License-Identifier: Apache-2.0
 *
 * slot: Redis Cluster's keyHashSlot. Only the first '{' counts, and the tag ends at the first
 * '}' after it, so "foo{{bar}}" hashes "{bar" and "foo{}{bar}" (empty tag) hashes everything.
 *
 * Threads: any; no state.
 */
#include "common/slot.h"

#include <string.h>

#include "common/crc16.h"

uint16_t
slot_of_key(const char *key, size_t len)
{
    const char *lbrace = len ? memchr(key, '{', len) : NULL;
    if (lbrace != NULL) {
        size_t start = (size_t)(lbrace - key) + 1;
        const char *rbrace = start < len ? memchr(key + start, '}', len - start) : NULL;
        if (rbrace != NULL && rbrace != key + start)
            return (uint16_t)(crc16(key + start, (size_t)(rbrace - (key + start))) &
                              (SLOT_COUNT - 1));
    }
    return (uint16_t)(crc16(key, len) & (SLOT_COUNT - 1));
}
