/* SPDX-License-Identifier: Apache-2.0
 *
 * info: the INFO sections (see info.h for the fields). Each section is one function appending
 * its lines; info_render picks and joins them.
 */
#include "server/info.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "commands/command.h"
#include "common/clock.h"
#include "common/mem.h"
#include "repl/repl_master.h"
#include "server/blocking.h"
#include "server/conn.h"
#include "server/pubsub.h"
#include "server/repl_ctl.h"
#include "server/server.h"
#include "storage/cf.h"
#include "storage/storage.h"

enum info_section {
    INFO_SERVER = 1u << 0,
    INFO_CLIENTS = 1u << 1,
    INFO_MEMORY = 1u << 2,
    INFO_PERSISTENCE = 1u << 3,
    INFO_STATS = 1u << 4,
    INFO_REPLICATION = 1u << 5,
    INFO_CPU = 1u << 6,
    INFO_COMMANDSTATS = 1u << 7,
    INFO_CLUSTER = 1u << 8,
    INFO_KEYSPACE = 1u << 9,
    INFO_ROCKSDB = 1u << 10,
};

#define INFO_ALL 0x7ffu
#define INFO_DEFAULT (INFO_ALL & ~(unsigned)(INFO_COMMANDSTATS | INFO_ROCKSDB))

struct section_name {
    const char *name;
    unsigned bits;
};

static const struct section_name section_names[] = {
    {"server", INFO_SERVER},   {"clients", INFO_CLIENTS},
    {"memory", INFO_MEMORY},   {"persistence", INFO_PERSISTENCE},
    {"stats", INFO_STATS},     {"replication", INFO_REPLICATION},
    {"cpu", INFO_CPU},         {"commandstats", INFO_COMMANDSTATS},
    {"cluster", INFO_CLUSTER}, {"keyspace", INFO_KEYSPACE},
    {"rocksdb", INFO_ROCKSDB}, {"default", INFO_DEFAULT},
    {"all", INFO_ALL},         {"everything", INFO_ALL},
};

/* Redis' bytesToHuman: "1000B", "1.50K", "2.00M", ... */
static void
bytes_to_human(uint64_t n, char *out, size_t cap)
{
    static const char units[] = "KMGTPE";
    if (n < 1024) {
        snprintf(out, cap, "%lluB", (unsigned long long)n);
        return;
    }
    double v = (double)n / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units - 1) {
        v /= 1024.0;
        u++;
    }
    snprintf(out, cap, "%.2f%c", v, units[u]);
}

static uint64_t
rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
}

static struct utsname uname_cache;
static pthread_once_t uname_once = PTHREAD_ONCE_INIT;

static void
load_uname(void)
{
    if (uname(&uname_cache) != 0)
        memset(&uname_cache, 0, sizeof uname_cache);
}

static void
section_server(struct server *srv, struct kv_buf *out)
{
    pthread_once(&uname_once, load_uname);
    const char *mode = srv->cfg->cluster_enabled ? "cluster" : "standalone";
    int64_t uptime = server_uptime_s(srv);
    kv_buf_append_cstr(out, "# Server\r\n");
    kv_buf_printf(out, "version:%s\r\n", KV_VERSION);
    kv_buf_printf(out, "kvrocks_version:%s\r\n", KV_VERSION);
    kv_buf_printf(out, "redis_version:%s\r\n", SERVER_REDIS_VERSION);
    kv_buf_printf(out, "redis_mode:%s\r\n", mode);
    kv_buf_printf(out, "kvrocks_mode:%s\r\n", mode);
    kv_buf_printf(out, "os:%s %s %s\r\n", uname_cache.sysname, uname_cache.release,
                  uname_cache.machine);
    kv_buf_printf(out, "arch_bits:%d\r\n", (int)(sizeof(void *) * 8));
#ifdef __GNUC__
    kv_buf_printf(out, "gcc_version:%d.%d.%d\r\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
    kv_buf_printf(out, "process_id:%ld\r\n", (long)getpid());
    kv_buf_printf(out, "run_id:%s\r\n", srv->run_id);
    kv_buf_printf(out, "tcp_port:%d\r\n", srv->cfg->port);
    kv_buf_printf(out, "server_time_usec:%lld\r\n", (long long)clock_now_us());
    kv_buf_printf(out, "uptime_in_seconds:%lld\r\n", (long long)uptime);
    kv_buf_printf(out, "uptime_in_days:%lld\r\n", (long long)(uptime / 86400));
    kv_buf_printf(out, "executable:%s\r\n", srv->executable);
    kv_buf_printf(out, "config_file:%s\r\n", srv->config_file);
}

static void
section_clients(struct server *srv, struct kv_buf *out)
{
    kv_buf_append_cstr(out, "# Clients\r\n");
    kv_buf_printf(out, "maxclients:%d\r\n", srv->cfg->maxclients);
    kv_buf_printf(out, "connected_clients:%d\r\n", atomic_load(&srv->connected_clients));
    kv_buf_printf(out, "monitor_clients:%d\r\n", server_count_clients_with(srv, CONN_F_MONITOR));
    kv_buf_printf(out, "blocked_clients:%d\r\n", blocking_count(srv));
}

static void
section_memory(struct server *srv, struct kv_buf *out)
{
    char h[32];
    uint64_t used = kv_mem_used();
    uint64_t rss = rss_bytes();
    uint64_t peak = server_raise_peak_memory(srv, used);
    kv_buf_append_cstr(out, "# Memory\r\n");
    bytes_to_human(used, h, sizeof h);
    kv_buf_printf(out, "used_memory:%llu\r\nused_memory_human:%s\r\n", (unsigned long long)used, h);
    bytes_to_human(rss, h, sizeof h);
    kv_buf_printf(out, "used_memory_rss:%llu\r\nused_memory_rss_human:%s\r\n",
                  (unsigned long long)rss, h);
    bytes_to_human(peak, h, sizeof h);
    kv_buf_printf(out, "used_memory_peak:%llu\r\nused_memory_peak_human:%s\r\n",
                  (unsigned long long)peak, h);
    kv_buf_printf(out, "used_memory_startup:%llu\r\n",
                  (unsigned long long)srv->used_memory_startup);
    kv_buf_printf(out, "mem_allocator:%s\r\n", kv_mem_allocator());
}

static void
section_persistence(struct server *srv, struct kv_buf *out)
{
    kv_buf_append_cstr(out, "# Persistence\r\n");
    kv_buf_printf(out, "loading:%d\r\n", atomic_load(&srv->loading) ? 1 : 0);
    /* No BGSAVE yet: Kvrocks' fields with the values of "never ran". */
    kv_buf_append_cstr(out, "bgsave_in_progress:0\r\n");
    kv_buf_printf(out, "last_bgsave_time:%lld\r\n", (long long)(srv->start_time_ms / 1000));
    kv_buf_append_cstr(out, "last_bgsave_status:ok\r\n");
    kv_buf_append_cstr(out, "last_bgsave_time_sec:-1\r\n");
}

static unsigned long long
load(atomic_uint_fast64_t *v)
{
    return (unsigned long long)atomic_load_explicit(v, memory_order_relaxed);
}

static void
section_stats(struct server *srv, struct kv_buf *out)
{
    struct server_stats *st = &srv->stats;
    kv_buf_append_cstr(out, "# Stats\r\n");
    kv_buf_printf(out, "total_connections_received:%llu\r\n", load(&st->total_connections));
    kv_buf_printf(out, "total_commands_processed:%llu\r\n", load(&st->total_commands));
    kv_buf_printf(out, "instantaneous_ops_per_sec:%llu\r\n", load(&st->inst_ops_per_sec));
    kv_buf_printf(out, "total_net_input_bytes:%llu\r\n", load(&st->net_input_bytes));
    kv_buf_printf(out, "total_net_output_bytes:%llu\r\n", load(&st->net_output_bytes));
    kv_buf_printf(out, "instantaneous_input_kbps:%.2f\r\n",
                  (double)load(&st->inst_input_bytes_per_sec) / 1024.0);
    kv_buf_printf(out, "instantaneous_output_kbps:%.2f\r\n",
                  (double)load(&st->inst_output_bytes_per_sec) / 1024.0);
    kv_buf_printf(out, "rejected_connections:%llu\r\n", load(&st->rejected_connections));
    struct repl_master *rm = repl_ctl_master(srv);
    kv_buf_printf(out, "sync_full:%llu\r\n", (unsigned long long)repl_master_sync_full(rm));
    kv_buf_printf(out, "sync_partial_ok:%llu\r\n",
                  (unsigned long long)repl_master_sync_partial_ok(rm));
    kv_buf_printf(out, "sync_partial_err:%llu\r\n",
                  (unsigned long long)repl_master_sync_partial_err(rm));
    kv_buf_printf(out, "keyspace_hits:%llu\r\n", load(&st->keyspace_hits));
    kv_buf_printf(out, "keyspace_misses:%llu\r\n", load(&st->keyspace_misses));
    kv_buf_printf(out, "total_error_replies:%llu\r\n", load(&st->error_replies));
    kv_buf_printf(out, "client_output_buffer_limit_disconnections:%llu\r\n",
                  load(&st->client_output_limit_disconnections));
    kv_buf_printf(out, "pubsub_channels:%zu\r\n", pubsub_channel_count());
    kv_buf_printf(out, "pubsub_patterns:%zu\r\n", pubsub_pattern_count());
}

static void
section_replication(struct server *srv, struct kv_buf *out)
{
    kv_buf_append_cstr(out, "# Replication\r\n");
    repl_ctl_info(srv, out);
}

static void
section_cpu(struct kv_buf *out)
{
    struct rusage self, children;
    memset(&self, 0, sizeof self);
    memset(&children, 0, sizeof children);
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    kv_buf_append_cstr(out, "# CPU\r\n");
    kv_buf_printf(out, "used_cpu_sys:%ld.%06ld\r\n", (long)self.ru_stime.tv_sec,
                  (long)self.ru_stime.tv_usec);
    kv_buf_printf(out, "used_cpu_user:%ld.%06ld\r\n", (long)self.ru_utime.tv_sec,
                  (long)self.ru_utime.tv_usec);
    kv_buf_printf(out, "used_cpu_sys_children:%ld.%06ld\r\n", (long)children.ru_stime.tv_sec,
                  (long)children.ru_stime.tv_usec);
    kv_buf_printf(out, "used_cpu_user_children:%ld.%06ld\r\n", (long)children.ru_utime.tv_sec,
                  (long)children.ru_utime.tv_usec);
}

static void
section_commandstats(struct server *srv, struct kv_buf *out)
{
    kv_buf_append_cstr(out, "# Commandstats\r\n");
    for (size_t i = 0; i < command_count(); i++) {
        struct command_stat *cs = &srv->cmd_stats[i];
        unsigned long long calls = load(&cs->calls);
        unsigned long long rejected = load(&cs->rejected_calls);
        unsigned long long failed = load(&cs->failed_calls);
        if (calls == 0 && rejected == 0 && failed == 0)
            continue;
        unsigned long long usec = load(&cs->usec);
        kv_buf_printf(out,
                      "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                      "failed_calls=%llu\r\n",
                      command_at(i)->name, calls, usec, calls ? (double)usec / (double)calls : 0.0,
                      rejected, failed);
    }
}

static void
section_cluster(struct server *srv, struct kv_buf *out)
{
    kv_buf_append_cstr(out, "# Cluster\r\n");
    kv_buf_printf(out, "cluster_enabled:%d\r\n", srv->cfg->cluster_enabled ? 1 : 0);
}

static void
section_keyspace(struct server *srv, const char *ns, struct kv_buf *out)
{
    struct keyspace_stats ks;
    server_keyspace_cached(srv, ns, &ks);
    kv_buf_append_cstr(out, "# Keyspace\r\n");
    kv_buf_printf(out, "db0:keys=%llu,expires=%llu,avg_ttl=%llu,expired=0\r\n",
                  (unsigned long long)ks.keys, (unsigned long long)ks.expires,
                  (unsigned long long)ks.avg_ttl_ms);
    kv_buf_printf(out, "last_dbsize_scan_time:%lld\r\n", (long long)ks.scan_time_s);
    kv_buf_printf(out, "sequence:%llu\r\n", (unsigned long long)storage_latest_seq(srv->st));
    kv_buf_printf(out, "used_db_size:%llu\r\n", (unsigned long long)storage_sst_bytes(srv->st));
    struct statvfs vfs;
    if (statvfs(storage_path(srv->st), &vfs) == 0 && vfs.f_blocks > 0) {
        unsigned long long capacity = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
        unsigned long long used = (unsigned long long)(vfs.f_blocks - vfs.f_bavail) * vfs.f_frsize;
        kv_buf_printf(out, "disk_capacity:%llu\r\n", capacity);
        kv_buf_printf(out, "used_disk_size:%llu\r\n", used);
        kv_buf_printf(out, "used_disk_percent:%.2f%%\r\n", (double)used * 100.0 / (double)capacity);
    }
}

/* Sum of an integer property over every column family. */
static uint64_t
property_sum(struct storage *st, const char *name)
{
    uint64_t total = 0;
    for (int i = 0; i < KV_CF_COUNT; i++)
        total += storage_property_int(st, (enum kv_cf)i, name);
    return total;
}

static void
section_rocksdb(struct server *srv, struct kv_buf *out)
{
    struct storage *st = srv->st;
    kv_buf_append_cstr(out, "# RocksDB\r\n");
    /* Every column family shares one block cache: one reading is the whole usage. */
    kv_buf_printf(
        out, "block_cache_usage:%llu\r\n",
        (unsigned long long)storage_property_int(st, KV_CF_SUBKEY, "rocksdb.block-cache-usage"));
    uint64_t row_bytes = 0;
    for (int i = 0; i < KV_CF_COUNT; i++)
        row_bytes += storage_row_cache_stats(st, (enum kv_cf)i).bytes;
    kv_buf_printf(out, "row_cache_size:%llu\r\n", (unsigned long long)row_bytes);
    for (int i = 0; i < KV_CF_COUNT; i++) {
        struct rowcache_stats rc = storage_row_cache_stats(st, (enum kv_cf)i);
        if (rc.bytes > 0)
            kv_buf_printf(out, "row_cache_hits[%s]:%llu\r\nrow_cache_misses[%s]:%llu\r\n",
                          cf_name((enum kv_cf)i), (unsigned long long)rc.hits,
                          cf_name((enum kv_cf)i), (unsigned long long)rc.misses);
    }
    static const struct {
        const char *field;
        const char *property;
    } per_cf[] = {
        {"estimate_keys", "rocksdb.estimate-num-keys"},
        {"block_cache_pinned_usage", "rocksdb.block-cache-pinned-usage"},
        {"index_and_filter_cache_usage", "rocksdb.estimate-table-readers-mem"},
        {"sst_files_size", "rocksdb.total-sst-files-size"},
        {"num_files_at_level0", "rocksdb.num-files-at-level0"},
    };
    for (int i = 0; i < KV_CF_COUNT; i++) {
        for (size_t j = 0; j < sizeof per_cf / sizeof per_cf[0]; j++) {
            kv_buf_printf(
                out, "%s[%s]:%llu\r\n", per_cf[j].field, cf_name((enum kv_cf)i),
                (unsigned long long)storage_property_int(st, (enum kv_cf)i, per_cf[j].property));
        }
        kv_buf_printf(out, "write_buffer_size[%s]:%llu\r\n", cf_name((enum kv_cf)i),
                      (unsigned long long)storage_write_buffer_size(st, (enum kv_cf)i));
        kv_buf_printf(out, "keys_read[%s]:%llu\r\n", cf_name((enum kv_cf)i),
                      (unsigned long long)storage_keys_read(st, (enum kv_cf)i));
        kv_buf_printf(out, "keys_written[%s]:%llu\r\n", cf_name((enum kv_cf)i),
                      (unsigned long long)storage_keys_written(st, (enum kv_cf)i));
    }
    static const struct {
        const char *field;
        const char *property;
    } totals[] = {
        {"all_mem_tables", "rocksdb.size-all-mem-tables"},
        {"cur_mem_tables", "rocksdb.cur-size-all-mem-tables"},
        {"num_immutable_tables", "rocksdb.num-immutable-mem-table"},
        {"memtable_flush_pending", "rocksdb.mem-table-flush-pending"},
        {"compaction_pending", "rocksdb.compaction-pending"},
        {"num_live_versions", "rocksdb.num-live-versions"},
        {"estimate_pending_compaction_bytes", "rocksdb.estimate-pending-compaction-bytes"},
    };
    for (size_t j = 0; j < sizeof totals / sizeof totals[0]; j++)
        kv_buf_printf(out, "%s:%llu\r\n", totals[j].field,
                      (unsigned long long)property_sum(st, totals[j].property));
    /* DB-wide properties: any column family answers them. */
    static const struct {
        const char *field;
        const char *property;
    } db_wide[] = {
        {"snapshots", "rocksdb.num-snapshots"},
        {"num_running_flushes", "rocksdb.num-running-flushes"},
        {"num_running_compactions", "rocksdb.num-running-compactions"},
        {"num_super_version", "rocksdb.current-super-version-number"},
        {"num_background_errors", "rocksdb.background-errors"},
    };
    for (size_t j = 0; j < sizeof db_wide / sizeof db_wide[0]; j++)
        kv_buf_printf(
            out, "%s:%llu\r\n", db_wide[j].field,
            (unsigned long long)storage_property_int(st, KV_CF_METADATA, db_wide[j].property));
}

static unsigned
parse_sections(const struct kv_slice *sections, size_t n)
{
    if (n == 0)
        return INFO_DEFAULT;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof section_names / sizeof section_names[0]; j++) {
            if (kv_slice_eq_nocase(sections[i], section_names[j].name))
                bits |= section_names[j].bits;
        }
    }
    return bits;
}

void
info_render(struct server *srv, const char *ns, const struct kv_slice *sections, size_t n,
            struct kv_buf *out)
{
    unsigned bits = parse_sections(sections, n);
    if (atomic_load(&srv->loading))
        bits &= ~(unsigned)(INFO_REPLICATION | INFO_KEYSPACE | INFO_ROCKSDB);
    bool first = true;
    for (unsigned bit = 1; bit <= INFO_ROCKSDB; bit <<= 1) {
        if (!(bits & bit))
            continue;
        if (!first)
            kv_buf_append_cstr(out, "\r\n");
        first = false;
        switch ((enum info_section)bit) {
        case INFO_SERVER:
            section_server(srv, out);
            break;
        case INFO_CLIENTS:
            section_clients(srv, out);
            break;
        case INFO_MEMORY:
            section_memory(srv, out);
            break;
        case INFO_PERSISTENCE:
            section_persistence(srv, out);
            break;
        case INFO_STATS:
            section_stats(srv, out);
            break;
        case INFO_REPLICATION:
            section_replication(srv, out);
            break;
        case INFO_CPU:
            section_cpu(out);
            break;
        case INFO_COMMANDSTATS:
            section_commandstats(srv, out);
            break;
        case INFO_CLUSTER:
            section_cluster(srv, out);
            break;
        case INFO_KEYSPACE:
            section_keyspace(srv, ns, out);
            break;
        case INFO_ROCKSDB:
            section_rocksdb(srv, out);
            break;
        }
    }
}
