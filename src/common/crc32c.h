/* SPDX-License-Identifier: Apache-2.0
 *
 * crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of full-sync file
 * transfers. Incremental: crc32c_update(crc32c_update(0, a), b) == crc32c_update(0, a ++ b).
 * Threads: any.
 */
#ifndef KV_COMMON_CRC32C_H
#define KV_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);
/* The same with tables only (what crc32c_update uses on CPUs without SSE 4.2's crc32). */
uint32_t crc32c_update_portable(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
