/* SPDX-License-Identifier: Apache-2.0
 *
 * info: the text of the INFO command, built from getters other modules export (server stats,
 * command statistics, config, storage properties, the keyspace cache). Field names are Redis'
 * or Kvrocks' so existing tools parse them; lines end with CRLF, each section starts with
 * "# <Name>" and sections are separated by an empty line (CRLF), as both do.
 *
 * Sections, in output order:
 *   server       version, kvrocks_version, redis_version (SERVER_REDIS_VERSION), redis_mode,
 * kvrocks_mode, os, arch_bits, gcc_version, process_id, run_id, tcp_port, server_time_usec,
 *                uptime_in_seconds, uptime_in_days, executable, config_file
 *   clients      maxclients, connected_clients, monitor_clients, blocked_clients
 *   memory       used_memory(_human), used_memory_rss(_human), used_memory_peak(_human),
 *                used_memory_startup, mem_allocator
 *   persistence  loading, bgsave_in_progress, last_bgsave_time, last_bgsave_status,
 *                last_bgsave_time_sec
 *   stats        total_connections_received, total_commands_processed,
 *                instantaneous_ops_per_sec, total_net_input_bytes, total_net_output_bytes,
 *                instantaneous_input_kbps, instantaneous_output_kbps, rejected_connections,
 *                sync_full, sync_partial_ok, sync_partial_err, keyspace_hits, keyspace_misses,
 *                total_error_replies, client_output_buffer_limit_disconnections,
 *                pubsub_channels, pubsub_patterns
 *   replication  role, connected_slaves, master_repl_offset (the latest RocksDB sequence)
 *   cpu          used_cpu_sys, used_cpu_user, used_cpu_sys_children, used_cpu_user_children
 *   commandstats cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,
 *                failed_calls=.. (Redis 7.0's line) for every command used since the start or
 *                the last CONFIG RESETSTAT
 *   cluster      cluster_enabled
 *   keyspace     db0:keys=..,expires=..,avg_ttl=..,expired=0 for the client's namespace, from
 *                the cached result of the last full scan (DBSIZE, DBSIZE SCAN, or the cron's
 *                bounded refresh: see server_keyspace_cron), never a scan on the INFO path;
 *                last_dbsize_scan_time (unix seconds, 0 = never), sequence, used_db_size,
 *                disk_capacity, used_disk_size, used_disk_percent
 *   rocksdb      block_cache_usage; per column family estimate_keys[cf],
 *                block_cache_pinned_usage[cf], index_and_filter_cache_usage[cf],
 *                sst_files_size[cf], num_files_at_level0[cf], keys_read[cf] and
 *                keys_written[cf] (records read and written since start-up: see
 *                storage_keys_read; ours, not Kvrocks'); then all_mem_tables,
 *                cur_mem_tables, snapshots, num_immutable_tables, num_running_flushes,
 *                memtable_flush_pending, compaction_pending, num_running_compactions,
 *                num_live_versions, num_super_version, num_background_errors,
 *                estimate_pending_compaction_bytes
 * Groups: no argument or "default" = every section except commandstats and rocksdb (Redis'
 * default set); "all" and "everything" = every section. Names are case-insensitive; unknown
 * names add nothing (an INFO of only unknown sections is empty, as Redis). While the DB is
 * being restored (loading) replication, keyspace and rocksdb are left out, as Kvrocks does,
 * since they read the DB.
 *
 * Threads: any worker; reads atomics, takes the workers' conns locks and the keyspace cache
 * lock briefly, reads RocksDB properties. The caller holds the server lock (shared) so config
 * fields are stable.
 */
#ifndef KV_SERVER_INFO_H
#define KV_SERVER_INFO_H

#include <stddef.h>

#include "common/buf.h"
#include "common/slice.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;

/* Append the INFO text of `sections` (n names; n == 0 means "default") for a client of
 * namespace `ns` to out. */
void info_render(struct server *srv, const char *ns, const struct kv_slice *sections, size_t n,
                 struct kv_buf *out);

#ifdef __cplusplus
}
#endif

#endif
