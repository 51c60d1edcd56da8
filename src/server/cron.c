/* SPDX-License-Identifier: Apache-2.0 */
#include "server/cron.h"

#include "common/clock.h"
#include "common/mem.h"
#include "server/repl_ctl.h"
#include "server/server.h"

void
cron_init(struct cron *c, struct server *srv)
{
    c->srv = srv;
    c->last_tick_ms = clock_mono_ms();
    c->ticks = 0;
    srv->stats.last_sample_ms = c->last_tick_ms;
    srv->stats.last_sample_commands = atomic_load(&srv->stats.total_commands);
    srv->stats.last_sample_input = atomic_load(&srv->stats.net_input_bytes);
    srv->stats.last_sample_output = atomic_load(&srv->stats.net_output_bytes);
}

/* Per-second rate of a counter since the last sample. CONFIG RESETSTAT may have lowered the
 * counter meanwhile: then the rate restarts from the new value. */
static uint64_t
rate(uint64_t now_value, uint64_t *last, int64_t dt_ms)
{
    uint64_t r = now_value >= *last ? (now_value - *last) * 1000 / (uint64_t)dt_ms : 0;
    *last = now_value;
    return r;
}

/* Instantaneous rates over the last second and the memory peak, sampled once per second. */
static void
sample_stats(struct server *srv, int64_t now)
{
    struct server_stats *st = &srv->stats;
    int64_t dt = now - st->last_sample_ms;
    if (dt < 1000)
        return;
    atomic_store(&st->inst_ops_per_sec,
                 rate(atomic_load(&st->total_commands), &st->last_sample_commands, dt));
    atomic_store(&st->inst_input_bytes_per_sec,
                 rate(atomic_load(&st->net_input_bytes), &st->last_sample_input, dt));
    atomic_store(&st->inst_output_bytes_per_sec,
                 rate(atomic_load(&st->net_output_bytes), &st->last_sample_output, dt));
    st->last_sample_ms = now;
    (void)server_raise_peak_memory(srv, kv_mem_used());
}

void
cron_tick(struct cron *c)
{
    int64_t now = clock_mono_ms();
    if (now - c->last_tick_ms < CRON_TICK_MS / 2)
        return;
    c->last_tick_ms = now;
    c->ticks++;
    sample_stats(c->srv, now);
    server_keyspace_cron(c->srv);
    if (c->ticks % CRON_STORAGE_TICKS == 0)
        server_storage_cron(c->srv);
    repl_ctl_cron(c->srv);
}
