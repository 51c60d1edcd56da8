/* SPDX-License-Identifier: Apache-2.0
 *
 * slot: key -> cluster hash slot (0..16383). The slot is CRC16 of the key, or of its hash tag:
 * the bytes between the first '{' and the first '}' after it, when that is non-empty.
 * Threads: any.
 */
#ifndef KV_COMMON_SLOT_H
#define KV_COMMON_SLOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLOT_COUNT 16384

uint16_t slot_of_key(const char *key, size_t len);

#ifdef __cplusplus
}
#endif

#endif
