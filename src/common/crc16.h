/* SPDX-License-Identifier: Apache-2.0
 *
 * crc16: CRC16-CCITT (XMODEM: poly 0x1021, init 0), the checksum Redis Cluster uses for key slots.
 * Threads: any.
 */
#ifndef KV_COMMON_CRC16_H
#define KV_COMMON_CRC16_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint16_t crc16(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
