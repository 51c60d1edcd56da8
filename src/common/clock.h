/* SPDX-License-Identifier: Apache-2.0
 *
 * clock: wall-clock and monotonic time. Wall time is for expiry timestamps (ms or us since the
 * Unix epoch); monotonic time is for deadlines and durations, which must not jump.
 *
 * Threads: any.
 */
#ifndef KV_COMMON_CLOCK_H
#define KV_COMMON_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int64_t clock_now_ms(void);  /* wall clock, ms since the epoch */
int64_t clock_now_us(void);  /* wall clock, us since the epoch */
int64_t clock_mono_ms(void); /* monotonic, ms */
int64_t clock_mono_us(void); /* monotonic, us */
/* Sleep for ms milliseconds (restarted on EINTR). Only for threads that own no client. */
void clock_sleep_ms(int64_t ms);

#ifdef __cplusplus
}
#endif

#endif
