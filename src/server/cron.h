/* SPDX-License-Identifier: Apache-2.0
 *
 * cron: the main thread's periodic work (every CRON_TICK_MS): instantaneous statistics (ops,
 * network rates, memory peak), the keyspace statistics refresh (server_keyspace_cron), the
 * metadata memtable's size (server_storage_cron, every CRON_STORAGE_TICKS), and the hooks later
 * issues add (checkpoint cleanup, replication health). Never waits for a client or a peer; a
 * change of the memtable size (rare: only when the size of the values written changes 2x)
 * writes RocksDB's OPTIONS file.
 *
 * Threads: the main thread only.
 */
#ifndef KV_SERVER_CRON_H
#define KV_SERVER_CRON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRON_TICK_MS 100
#define CRON_STORAGE_TICKS 10

struct server;

struct cron {
    struct server *srv; /* borrowed */
    int64_t last_tick_ms;
    uint64_t ticks;
};

void cron_init(struct cron *c, struct server *srv);
/* Run what is due; cheap when nothing is. */
void cron_tick(struct cron *c);

#ifdef __cplusplus
}
#endif

#endif
