/* SPDX-License-Identifier: Apache-2.0 */
#include "server/cron.h"

#include "common/clock.h"
#include "server/server.h"

void
cron_init(struct cron *c, struct server *srv)
{
    c->srv = srv;
    c->last_tick_ms = clock_mono_ms();
    c->ticks = 0;
    srv->stats.last_sample_ms = c->last_tick_ms;
    srv->stats.last_sample_commands = atomic_load(&srv->stats.total_commands);
}

/* ops/sec over the last second, sampled once per second. */
static void
sample_ops(struct server *srv, int64_t now)
{
    int64_t dt = now - srv->stats.last_sample_ms;
    if (dt < 1000)
        return;
    uint64_t total = atomic_load(&srv->stats.total_commands);
    uint64_t ops = (total - srv->stats.last_sample_commands) * 1000 / (uint64_t)dt;
    atomic_store(&srv->stats.inst_ops_per_sec, ops);
    srv->stats.last_sample_commands = total;
    srv->stats.last_sample_ms = now;
}

void
cron_tick(struct cron *c)
{
    int64_t now = clock_mono_ms();
    if (now - c->last_tick_ms < CRON_TICK_MS / 2)
        return;
    c->last_tick_ms = now;
    c->ticks++;
    sample_ops(c->srv, now);
}
