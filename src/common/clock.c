/* SPDX-License-Identifier: Apache-2.0 */
#include "common/clock.h"

#include <errno.h>
#include <time.h>

static int64_t
read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_now_ms(void)
{
    return read_us(CLOCK_REALTIME) / 1000;
}

int64_t
clock_now_us(void)
{
    return read_us(CLOCK_REALTIME);
}

int64_t
clock_mono_ms(void)
{
    return read_us(CLOCK_MONOTONIC) / 1000;
}

int64_t
clock_mono_us(void)
{
    return read_us(CLOCK_MONOTONIC);
}

void
clock_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
