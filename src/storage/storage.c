/* SPDX-License-Identifier: Apache-2.0
 *
 * storage: RocksDB through its C API. See storage.h for the contract. The compaction filters
 * (expired metadata, orphaned sub-keys, pubsub) live in compact_filter.c.
 */
#include "storage/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "common/endian.h"
#include "common/file.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "storage/compact_filter.h"
#include "storage/rowcache.h"
#include "storage/stage_index.h"
#include "storage/storage_int.h"

/* Teardown order (storage_close): background work stopped, filters detached, CF handles, DB,
 * then the options (which own the sub-key filter factories), then the filter ctx (which owns
 * the metadata and pubsub filters the options point to). */

struct storage_batch {
    rocksdb_writebatch_t *wb;            /* owned */
    rocksdb_column_family_handle_t **cf; /* borrowed from the storage the batch was made for;
                                            NULL for a batch made from wire data */
    int log_records;
    bool has_range_delete;         /* a range delete cannot be staged (storage_stage) */
    uint32_t records[KV_CF_COUNT]; /* puts, deletes and range deletes per column family, added
                                      to the storage's keys_written when the batch is written */
};

/* Group commit: a thread's staged writes (storage.h, storage_stage_*), kept as one write batch
 * in RocksDB's wire format (each staged batch's records appended), with an index from column
 * family and key to the key's latest staged record, for the thread's point reads and for
 * leaving superseded records out of the commit. `st` is set while records are staged. */
struct storage_stage {
    bool enabled;
    bool held;                /* a transaction: only storage_stage_hold_end commits */
    bool enabled_before_hold; /* `enabled` when the hold began, restored when it ends */
    bool failed;              /* a commit failed since storage_stage_take_failure */
    struct storage *st;       /* borrowed; non-NULL while records are staged */
    struct kv_buf rep;        /* owned: header (filled at commit) then the records */
    uint32_t count;           /* records that consume a sequence number */
    uint32_t superseded;      /* records of a superseding column family a later record replaced */
    struct stage_index index; /* owned: (cf, key) -> stage_ref of its latest record */
    struct kv_buf compacted;  /* owned: scratch for the commit without superseded records */
    uint32_t records[KV_CF_COUNT];
};

static _Thread_local struct storage_stage stage;
/* storage_write and storage_write_raw calls of this thread (storage_thread_writes). */
static _Thread_local uint64_t thread_writes;

/* A stage bigger than this is committed at once: it bounds the memory and the reply delay a
 * long pipeline of big writes could build up. A batch bigger than STAGE_MAX_BATCH is written
 * directly (its offsets must fit a stage_ref). */
#define STAGE_MAX_BYTES (1u << 20)
#define STAGE_MAX_BATCH (64u << 20)
/* A held stage (a transaction) is not committed past STAGE_MAX_BYTES, so it takes bigger
 * batches too, as long as every offset and length still fits a stage_ref (32 and 31 bits). */
#define STAGE_MAX_HELD ((size_t)3 << 30)
#define STAGE_MAX_HELD_BATCH ((size_t)1 << 30)

/* An index value: where the latest staged value of a key is in stage.rep, or that its latest
 * staged record deletes it (with the offset of that record's key, so each record has its own
 * reference). Never 0 (keys and values start after the batch header). */
#define STAGE_REF_DELETED (1ull << 63)
static void *
stage_ref(bool deleted, size_t off, size_t len)
{
    return (void *)(uintptr_t)((deleted ? STAGE_REF_DELETED : 0) | ((uint64_t)len << 32) |
                               (uint64_t)off);
}

static void written(struct storage *st, const uint32_t *records);

struct storage_snapshot {
    const rocksdb_snapshot_t *snap; /* owned; released through the DB */
    rocksdb_readoptions_t *ro;      /* owned; reads at snap */
    uint64_t seq;
    bool held; /* taken in a transaction: reads through it also see the thread's held stage */
};

struct storage_iter {
    rocksdb_iterator_t *it;          /* owned */
    rocksdb_writebatch_wi_t *delta;  /* owned: the held stage's records that `it` reads over the
                                        DB (storage_stage_hold_begin), or NULL; freed after it */
    rocksdb_readoptions_t *ro;       /* owned; points into lower/upper */
    struct kv_buf lower;             /* owned copy of the bound */
    struct kv_buf upper;             /* owned copy of the bound */
    uint64_t moves;                  /* seeks and steps so far, added to *keys_read when freed */
    atomic_uint_fast64_t *keys_read; /* borrowed: the storage's counter for this iterator's CF */
};

static void
count_add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Column families in id order: the creation order is part of the disk format. */
static const char *const cf_names[KV_CF_COUNT] = {
    "default", "metadata", "zset_score", "pubsub", "propagate", "stream", "search",
};

const char *
cf_name(enum kv_cf cf)
{
    if ((int)cf < 0 || cf >= KV_CF_COUNT)
        return "unknown";
    return cf_names[cf];
}

static enum kv_code
take_error(char *errptr, struct kv_err *err, const char *what)
{
    enum kv_code code = KV_ERR_IO;
    if (strstr(errptr, "Corruption") != NULL)
        code = KV_ERR_CORRUPT;
    kv_err_set(err, code, "%s: %s", what, errptr);
    rocksdb_free(errptr);
    return code;
}

static int
compression_of(int c)
{
    switch (c) {
    case CONFIG_COMPRESSION_SNAPPY:
        return rocksdb_snappy_compression;
    case CONFIG_COMPRESSION_ZLIB:
        return rocksdb_zlib_compression;
    case CONFIG_COMPRESSION_LZ4:
        return rocksdb_lz4_compression;
    case CONFIG_COMPRESSION_ZSTD:
        return rocksdb_zstd_compression;
    default:
        return rocksdb_no_compression;
    }
}

/* The zset score index's memtable is a sixty-fourth of rocksdb.write_buffer_size (at least 1 MiB,
 * at most the whole): 1 MiB with the default 64 MiB. The index is never point-read: its
 * memtable only takes inserts (two a ZADD that moves a member: the old score's delete and the
 * new score) and range scans, and a skiplist insert costs a search whose cache misses grow
 * with the memtable; in the profile of ZADD on one hot zset (redis-benchmark, 100k random
 * members, 8 workers on 2 cores) an insert into this 4 MiB memtable cost as much as one into
 * the 64 MiB sub-key memtable. Measured against redis-server in the same runs: 64 MiB -> 4 MiB
 * took ZADD from 0.56 to 0.60 of its rate at -P 1 and from 0.20 to 0.32 at -P 16; 4 MiB -> 1 MiB
 * from 0.71-0.73 to 0.74-0.79 at -P 1 and from 0.28-0.31 to 0.33-0.35 at -P 16 (two A/B runs),
 * with ZRANGE of 100 members unchanged within the noise. The price: more, smaller flushes of
 * this column family. The metadata column family is sized by entries
 * (storage_tune_memtables). The sub-key one keeps the configured size: it is point-read on
 * every write, and in a smaller memtable more of those reads go to SST files (a fixed 16 or
 * 4 MiB cost LPOP at -P 16 20% to 35%; 8 MiB left ZADD 0.92-0.94x). */
static uint64_t
cf_write_buffer_size(enum kv_cf cf, uint64_t configured)
{
    if (cf != KV_CF_ZSET_SCORE)
        return configured;
    uint64_t size = configured / 64;
    if (size < (1u << 20))
        size = configured < (1u << 20) ? configured : (1u << 20);
    return size;
}

static void
set_cf_options(struct storage *st, rocksdb_options_t *o, const struct config *cfg, enum kv_cf cf)
{
    rocksdb_options_set_block_based_table_factory(o, st->table_opts);
    rocksdb_options_set_write_buffer_size(
        o, (size_t)cf_write_buffer_size(cf, atomic_load(&st->write_buffer_limit)));
    rocksdb_options_set_max_write_buffer_number(o, cfg->rocksdb_max_write_buffer_number);
    /* Merging two memtables per flush writes fewer, larger L0 files (Kvrocks does the same);
     * RocksDB lowers it to max_write_buffer_number - 1 when that is smaller. */
    rocksdb_options_set_min_write_buffer_number_to_merge(o, 2);
    rocksdb_options_set_target_file_size_base(o,
                                              (uint64_t)cfg->rocksdb_target_file_size_base << 20);
    rocksdb_options_set_level0_file_num_compaction_trigger(
        o, cfg->rocksdb_level0_file_num_compaction_trigger);
    rocksdb_options_set_level0_slowdown_writes_trigger(o,
                                                       cfg->rocksdb_level0_slowdown_writes_trigger);
    rocksdb_options_set_level0_stop_writes_trigger(o, cfg->rocksdb_level0_stop_writes_trigger);
    /* Off while opening: see enable_auto_compactions. */
    rocksdb_options_set_disable_auto_compactions(o, 1);
    /* Compression above level 1 only, as Kvrocks: the first levels churn too fast to pay. */
    int comp = compression_of(cfg->rocksdb_compression);
    int levels[7] = {rocksdb_no_compression, rocksdb_no_compression, comp, comp, comp, comp, comp};
    rocksdb_options_set_num_levels(o, 7);
    rocksdb_options_set_compression_per_level(o, levels, 7);
    if (cf == KV_CF_METADATA) {
        /* Point reads of metadata dominate (every command does one): a whole-key bloom filter
         * in the memtable answers most misses without a search. */
        rocksdb_options_set_memtable_whole_key_filtering(o, 1);
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.1);
    }
    compact_filter_install(st->filter_ctx, o, cf);
}

/* The block cache, split into as few shards as needed for one shard to hold the data block of
 * the longest string a client can write.
 *
 * RocksDB's LRU cache divides its capacity evenly among 2^num_shard_bits shards, each with its
 * own mutex and LRU list; the automatic choice (-1, GetDefaultCacheShardBits) is 64 shards from
 * 32 MiB up, 64 MiB each at our default 4096 MiB. A block bigger than its shard is never kept
 * (cache/lru_cache.cc, 7.8.3: InsertItem first evicts the shard's whole LRU list to make room,
 * admits the block anyway since the reader holds a handle, and Release erases it as soon as the
 * reader is done, usage_ being over capacity_). A string lives in a data block of the metadata
 * column family, and it shares that block with the metadata of the keys sorted just before it:
 * FlushBlockBySizePolicy (table/block_based/flush_block_policy.cc) closes a block before a
 * record only if it is already over 90% of block_size. Measured with a 70 MiB string (a 73 MB
 * block, charged 80 MiB: jemalloc rounds a large allocation up by as much as a quarter) and
 * 2000 two-member sets on each side, release build: each SISMEMBER of a set in its block took
 * 48-76 ms and read the 73 MB again (a set's metadata is read at a snapshot, past the row
 * cache), every time; so did each GET of the string; COMPACT took 17.8 s and read 26 GB, the
 * sub-key filter looking up the metadata of each set in that block. A 40 MiB string (charged
 * 48 MiB) fits in a 64 MiB shard and was not affected.
 *
 * So a shard must hold proto-max-bulk-len (at start-up) plus a block of neighbours and a page
 * for the key and trailer, plus a quarter for the allocator; the cache gets the most shards, up
 * to RocksDB's 64, of at least that size, or one shard if it is smaller. With the defaults
 * (4096 MiB, 512 MiB) that is 4 shards of 1 GiB. In the same run the SISMEMBERs then took
 * 0.05 ms and read nothing (COMPACT had brought the block in), GET read nothing, and COMPACT
 * took 0.7 s and read 147 MB. Fewer shards put more threads on one mutex, held for a hash
 * lookup and a list splice per block access: SISMEMBER of 200k random sets in SST files (every
 * read through the block cache; 8 workers, 50 clients, -P 16, 2 cores), alternating runs,
 * measured 142k-331k requests/s with 64 shards and 150k-330k with 4: the same within the
 * noise (2 cores cannot show contention among more threads). A proto-max-bulk-len raised later
 * (CONFIG SET) does not re-shard the cache. Keeping big values out of data blocks altogether
 * (BlobDB: enable_blob_files, min_blob_size) would also end the sharing, but it changes the
 * files on disk, compaction, space reclaim and full sync: not done. */
static rocksdb_cache_t *
block_cache_create(const struct config *cfg)
{
    uint64_t capacity = (uint64_t)cfg->rocksdb_block_cache_size << 20;
    uint64_t block = (uint64_t)cfg->proto_max_bulk_len + (uint64_t)cfg->rocksdb_block_size + 4096;
    uint64_t charge = block + block / 4;
    int bits = 6;
    while (bits > 0 && (capacity >> bits) < charge)
        bits--;
    LOG_INFO("block cache: %llu MiB in %d shard%s of %llu MiB, %s the block of a "
             "proto-max-bulk-len string (%lld bytes)",
             (unsigned long long)(capacity >> 20), 1 << bits, bits > 0 ? "s" : "",
             (unsigned long long)((capacity >> bits) >> 20),
             (capacity >> bits) >= charge ? "each holding" : "too small for",
             (long long)cfg->proto_max_bulk_len);
    rocksdb_lru_cache_options_t *lo = rocksdb_lru_cache_options_create();
    rocksdb_lru_cache_options_set_capacity(lo, (size_t)capacity);
    rocksdb_lru_cache_options_set_num_shard_bits(lo, bits);
    rocksdb_cache_t *cache = rocksdb_cache_create_lru_opts(lo);
    rocksdb_lru_cache_options_destroy(lo);
    return cache;
}

/* The cluster mode a directory was written in is fixed: keys carry a slot or they don't, and
 * nothing in a key tells which. It is recorded in a small file beside RocksDB's own files (not in
 * the DB: a replica must never write to its DB outside the replication stream). A directory
 * without the file (new, or a checkpoint from a full sync) takes the mode it is opened with. */
#define MODE_FILE "KVROCKS_CLUSTER_MODE"

static const char *
mode_word(bool cluster)
{
    return cluster ? "yes" : "no";
}

/* Refuse a directory whose marker names the other mode (or is unreadable). *exists tells
 * whether the marker is there. Reads only. */
static enum kv_code
check_mode_file(const char *dir, bool cluster, bool *exists, struct kv_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, MODE_FILE);
    *exists = false;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return KV_OK;
        return kv_err_set(err, KV_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    *exists = true;
    char got[16] = {0};
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    while (n > 0 && (got[n - 1] == '\n' || got[n - 1] == ' ' || got[n - 1] == '\r'))
        got[--n] = '\0';
    if (strcmp(got, "yes") != 0 && strcmp(got, "no") != 0)
        return kv_err_set(err, KV_ERR_INVALID,
                          "%s does not say yes or no: cannot tell whether the data directory was "
                          "written with cluster-enabled; refusing to open it",
                          path);
    if (strcmp(got, mode_word(cluster)) != 0)
        return kv_err_set(err, KV_ERR_INVALID,
                          "the data directory %s was written with cluster-enabled %s; refusing to "
                          "open it with cluster-enabled %s (keys %s a slot)",
                          dir, got, mode_word(cluster), cluster ? "would lack" : "carry");
    return KV_OK;
}

/* Record the mode (written atomically and durably). */
static enum kv_code
write_mode_file(const char *dir, bool cluster, struct kv_err *err)
{
    char path[4096], line[8];
    snprintf(path, sizeof path, "%s/%s", dir, MODE_FILE);
    int n = snprintf(line, sizeof line, "%s\n", mode_word(cluster));
    return file_write_atomic(path, line, (size_t)n, err);
}

/* Automatic compactions start only once the sub-key filters can look metadata up. RocksDB may
 * schedule a compaction while opening (L0 files left by the last run), and a filter that runs
 * before compact_filter_attach_db keeps everything, leaving garbage that even a later manual
 * compaction running concurrently may miss. */
static enum kv_code
enable_auto_compactions(struct storage *st, struct kv_err *err)
{
    const char *keys[1] = {"disable_auto_compactions"};
    const char *values[1] = {"false"};
    for (int i = 0; i < KV_CF_COUNT; i++) {
        char *errptr = NULL;
        rocksdb_set_options_cf(st->db, st->cf[i], 1, keys, values, &errptr);
        if (errptr != NULL)
            return take_error(errptr, err, "enable auto compactions");
    }
    return KV_OK;
}

/* Replace *opts with a copy that has the options of `spec` ("name=value;..." in RocksDB's
 * options-string syntax) set too. False (logged; *opts unchanged, so RocksDB's defaults stay)
 * when RocksDB refuses the string. */
static bool
apply_options_string(rocksdb_options_t **opts, const char *spec)
{
    rocksdb_options_t *updated = rocksdb_options_create();
    char *errptr = NULL;
    rocksdb_get_options_from_string(*opts, spec, updated, &errptr);
    if (errptr != NULL) {
        LOG_WARN("storage: RocksDB refused options '%s' (its defaults stay): %s", spec, errptr);
        rocksdb_free(errptr);
        rocksdb_options_destroy(updated);
        return false;
    }
    rocksdb_options_destroy(*opts);
    *opts = updated;
    return true;
}

enum kv_code
storage_open(const struct config *cfg, const char *path, struct storage **out, struct kv_err *err)
{
    /* Refuse the other mode before RocksDB touches the directory. */
    bool have_mode_file = false;
    enum kv_code rc = check_mode_file(path, cfg->cluster_enabled, &have_mode_file, err);
    if (rc != KV_OK)
        return rc;

    struct storage *st = kv_calloc(1, sizeof *st);
    /* Each storage counts its raw writes up from its own base, so one opened where a closed one
     * was (a full sync's swap) never shows a count that one showed (storage_raw_writes). */
    static atomic_uint_fast64_t opened;
    atomic_init(&st->raw_writes, (uint64_t)atomic_fetch_add(&opened, 1) << 40);
    st->path = kv_strdup(path);
    st->filter_ctx = compact_filter_ctx_new(cfg->cluster_enabled);

    /* Sub-keys outnumber keys in the workloads the caches help most (read-modify-writes of big
     * keys): three quarters for them. */
    size_t row_bytes = (size_t)cfg->row_cache_size << 20;
    st->rows[0] = rowcache_new(row_bytes - row_bytes / 4);
    st->rows[1] = rowcache_new(row_bytes / 4);
    st->cache = block_cache_create(cfg);
    st->table_opts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(st->table_opts, st->cache);
    rocksdb_block_based_options_set_block_size(st->table_opts, (size_t)cfg->rocksdb_block_size);
    st->filter = rocksdb_filterpolicy_create_bloom_full(10);
    rocksdb_block_based_options_set_filter_policy(st->table_opts, st->filter);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(st->table_opts, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(st->table_opts, 1);
    rocksdb_block_based_options_set_format_version(st->table_opts, 5);
    /* As Kvrocks (kvrocks-notes.md 2.1): partitioned index and filters, so big SST files do not
     * pin big index blocks in the cache, and a hash index inside data blocks for point reads.
     * These shape SST internals only, never the keys and values. */
    rocksdb_block_based_options_set_index_type(
        st->table_opts, rocksdb_block_based_table_index_type_two_level_index_search);
    rocksdb_block_based_options_set_partition_filters(st->table_opts, 1);
    rocksdb_block_based_options_set_metadata_block_size(st->table_opts, 4096);
    rocksdb_block_based_options_set_pin_top_level_index_and_filter(st->table_opts, 1);
    rocksdb_block_based_options_set_data_block_index_type(
        st->table_opts, rocksdb_block_based_table_data_block_index_type_binary_search_and_hash);
    rocksdb_block_based_options_set_data_block_hash_ratio(st->table_opts, 0.75);

    st->db_opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(st->db_opts, 1);
    rocksdb_options_set_create_missing_column_families(st->db_opts, 1);
    rocksdb_options_set_max_open_files(st->db_opts, cfg->rocksdb_max_open_files);
    rocksdb_options_set_max_background_jobs(st->db_opts, cfg->rocksdb_max_background_jobs);
    rocksdb_options_set_WAL_ttl_seconds(st->db_opts, (uint64_t)cfg->rocksdb_wal_ttl_seconds);
    rocksdb_options_set_WAL_size_limit_MB(st->db_opts, (uint64_t)cfg->rocksdb_wal_size_limit_mb);
    rocksdb_options_set_max_total_wal_size(st->db_opts,
                                           (uint64_t)cfg->rocksdb_max_total_wal_size << 20);
    rocksdb_options_set_keep_log_file_num(st->db_opts, 12);
    rocksdb_options_set_max_log_file_size(st->db_opts, 256u << 20);
    rocksdb_options_set_max_manifest_file_size(st->db_opts, 64u << 20);
    rocksdb_options_set_max_subcompactions(st->db_opts, 2);
    /* Writers that join a write group wait for its leader: a short while yielding the CPU
     * (sched_yield), then blocked on a futex. With RocksDB's default yield phase (up to 100 us,
     * given up after three yields slower than 3 us) and a batch per command, profiles of SET at
     * -P 1 showed ~15% of the server's samples in sched_yield. With group commit (one batch per
     * worker round) a 30 us phase whose yields count as slow only past 30 us spares most of the
     * futex sleeps and wake-ups instead: SET and INCR at -P 1 with 8 workers on 2 cores +10%,
     * -P 16 and 2 workers unchanged. The C API has no setter for these two. */
    rocksdb_options_set_enable_write_thread_adaptive_yield(st->db_opts, 1);
    (void)apply_options_string(&st->db_opts,
                               "write_thread_max_yield_usec=30;write_thread_slow_yield_usec=30");
    /* The group leader inserts the whole write group into the memtable, rather than every
     * writer inserting its own batch in parallel and then waiting for the others
     * (CompleteParallelMemTableWriter), which costs a futex wake-up per writer. With one batch
     * per command this gave SET at -P 1 (50 clients, 2 cores) +15% to +40% requests/s; with group
     * commit (a batch per worker round) both settings measure the same, and so does
     * enable_pipelined_write. */
    rocksdb_options_set_allow_concurrent_memtable_write(st->db_opts, 0);

    const char *names[KV_CF_COUNT];
    const rocksdb_options_t *opts[KV_CF_COUNT];
    /* The metadata memtable starts at the configured size; storage_tune_memtables adjusts it. */
    atomic_store(&st->write_buffer_limit, (uint64_t)cfg->rocksdb_write_buffer_size << 20);
    atomic_store(&st->meta_write_buffer, (uint64_t)cfg->rocksdb_write_buffer_size << 20);
    for (int i = 0; i < KV_CF_COUNT; i++) {
        st->cf_opts[i] = rocksdb_options_create_copy(st->db_opts);
        /* Table options and filters are per column family. */
        set_cf_options(st, st->cf_opts[i], cfg, (enum kv_cf)i);
        names[i] = cf_names[i];
        opts[i] = st->cf_opts[i];
    }
    char *errptr = NULL;
    st->db =
        rocksdb_open_column_families(st->db_opts, path, KV_CF_COUNT, names, opts, st->cf, &errptr);
    if (errptr != NULL) {
        rc = take_error(errptr, err, "open rocksdb");
        st->db = NULL;
        storage_close(st);
        return rc;
    }
    compact_filter_attach_db(st->filter_ctx, st->db, st->cf[KV_CF_METADATA]);
    if (!cfg->rocksdb_disable_auto_compactions) {
        rc = enable_auto_compactions(st, err);
        if (rc != KV_OK) {
            storage_close(st);
            return rc;
        }
    }

    st->read_opts = rocksdb_readoptions_create();
    st->write_opts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->write_opts, cfg->rocksdb_write_options_sync);

    if (!have_mode_file) {
        rc = write_mode_file(path, cfg->cluster_enabled, err);
        if (rc != KV_OK) {
            storage_close(st);
            return rc;
        }
    }
    *out = st;
    return KV_OK;
}

void
storage_thread_init(void)
{
    rocksdb_set_perf_level(rocksdb_disable);
}

void
storage_cancel_background(struct storage *st)
{
    if (st && st->db)
        rocksdb_cancel_all_background_work(st->db, 1);
}

void
storage_close(struct storage *st)
{
    if (st == NULL)
        return;
    if (st->db) {
        rocksdb_cancel_all_background_work(st->db, 1);
        compact_filter_detach_db(st->filter_ctx);
        for (int i = 0; i < KV_CF_COUNT; i++) {
            if (st->cf[i])
                rocksdb_column_family_handle_destroy(st->cf[i]);
        }
        rocksdb_close(st->db);
    }
    for (int i = 0; i < KV_CF_COUNT; i++) {
        if (st->cf_opts[i])
            rocksdb_options_destroy(st->cf_opts[i]);
    }
    if (st->db_opts)
        rocksdb_options_destroy(st->db_opts);
    if (st->table_opts)
        rocksdb_block_based_options_destroy(st->table_opts);
    if (st->cache)
        rocksdb_cache_destroy(st->cache);
    if (st->read_opts)
        rocksdb_readoptions_destroy(st->read_opts);
    if (st->write_opts)
        rocksdb_writeoptions_destroy(st->write_opts);
    compact_filter_ctx_free(st->filter_ctx);
    for (int i = 0; i < ROW_CACHED; i++)
        rowcache_free(st->rows[i]);
    kv_free(st->path);
    kv_free(st);
}

const char *
storage_path(const struct storage *st)
{
    return st->path;
}

/* The row cache lane of a column family (storage_int.h, ROW_CACHED), or -1. */
static int
row_lane_of(enum kv_cf cf)
{
    return cf == KV_CF_SUBKEY ? 0 : cf == KV_CF_METADATA ? 1 : -1;
}

enum kv_code
storage_get(struct storage *st, const struct storage_snapshot *snap, enum kv_cf cf,
            struct kv_slice key, struct kv_buf *val, struct kv_err *err)
{
    char *errptr = NULL;
    if ((snap == NULL || snap->held) && stage.st == st) {
        /* This thread's staged writes first. */
        uint64_t ref = stage_index_get(&stage.index, stage.rep.ptr, cf, key);
        if (ref != 0) {
            count_add(&st->keys_read[cf], 1);
            kv_buf_clear(val);
            if (ref & STAGE_REF_DELETED)
                return KV_NOTFOUND;
            kv_buf_append(val, stage.rep.ptr + (uint32_t)ref, (size_t)(ref >> 32));
            return KV_OK;
        }
    }
    /* Then the row cache, which only knows the latest values. */
    int lane = snap == NULL ? row_lane_of(cf) : -1;
    struct rowcache *rows = lane >= 0 ? st->rows[lane] : NULL;
    struct rowcache_ticket miss = {0};
    if (rows != NULL) {
        enum rowcache_hit hit = rowcache_get(rows, key, val, &miss);
        if (hit != ROWCACHE_MISS) {
            count_add(&st->keys_read[cf], 1);
            return hit == ROWCACHE_VALUE ? KV_OK : KV_NOTFOUND;
        }
    }
    const rocksdb_readoptions_t *ro = snap != NULL ? snap->ro : st->read_opts;
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(st->db, ro, st->cf[cf], key.ptr, key.len, &errptr);
    count_add(&st->keys_read[cf], 1);
    kv_buf_clear(val);
    if (errptr != NULL)
        return take_error(errptr, err, "get");
    if (ps == NULL)
        return KV_NOTFOUND; /* not cached: a miss of a random key would evict a useful entry */
    size_t n = 0;
    const char *p = rocksdb_pinnableslice_value(ps, &n);
    kv_buf_append(val, p, n);
    rocksdb_pinnableslice_destroy(ps);
    if (rows != NULL) {
        struct kv_slice got = kv_buf_slice(val);
        rowcache_fill(rows, key, &miss, &got);
    }
    return KV_OK;
}

struct storage_batch *
storage_batch_new(struct storage *st)
{
    struct storage_batch *b = kv_calloc(1, sizeof *b);
    b->wb = rocksdb_writebatch_create();
    b->cf = st->cf;
    return b;
}

/* Below this a batch's few regrowths cost less than sizing it (a mapping and a copy). */
#define SIZED_BATCH_MIN (1u << 20)

struct storage_batch *
storage_batch_new_sized(struct storage *st, size_t bytes)
{
    struct storage_batch *b = storage_batch_new(st);
    if (bytes < SIZED_BATCH_MIN)
        return b;
    /* A batch made from a representation of n bytes holds them in a buffer of that size, and
     * clearing it keeps the buffer (WriteBatch::Clear clears its std::string). The n bytes are
     * read from an anonymous read-only mapping, which maps the zero page (a huge one where
     * transparent huge pages are allowed for it) and allocates nothing. */
    void *zeros = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (zeros == MAP_FAILED)
        return b; /* merely unsized */
    (void)madvise(zeros, bytes, MADV_HUGEPAGE);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from(zeros, bytes);
    munmap(zeros, bytes);
    rocksdb_writebatch_clear(wb);
    rocksdb_writebatch_destroy(b->wb);
    b->wb = wb;
    return b;
}

void
storage_batch_free(struct storage_batch *b)
{
    if (b == NULL)
        return;
    rocksdb_writebatch_destroy(b->wb);
    kv_free(b);
}

void
storage_batch_clear(struct storage_batch *b)
{
    rocksdb_writebatch_clear(b->wb);
    b->log_records = 0;
    b->has_range_delete = false;
    memset(b->records, 0, sizeof b->records);
}

void
storage_batch_put(struct storage_batch *b, enum kv_cf cf, struct kv_slice key, struct kv_slice val)
{
    KV_ASSERT(b->cf != NULL && (unsigned)cf < KV_CF_COUNT);
    rocksdb_writebatch_put_cf(b->wb, b->cf[cf], key.ptr, key.len, val.ptr, val.len);
    b->records[cf]++;
}

void
storage_batch_delete(struct storage_batch *b, enum kv_cf cf, struct kv_slice key)
{
    KV_ASSERT(b->cf != NULL && (unsigned)cf < KV_CF_COUNT);
    rocksdb_writebatch_delete_cf(b->wb, b->cf[cf], key.ptr, key.len);
    b->records[cf]++;
}

void
storage_batch_delete_range(struct storage_batch *b, enum kv_cf cf, struct kv_slice begin,
                           struct kv_slice end)
{
    KV_ASSERT(b->cf != NULL && (unsigned)cf < KV_CF_COUNT);
    rocksdb_writebatch_delete_range_cf(b->wb, b->cf[cf], begin.ptr, begin.len, end.ptr, end.len);
    b->records[cf]++;
    b->has_range_delete = true;
}

void
storage_batch_log_data(struct storage_batch *b, struct kv_slice blob)
{
    rocksdb_writebatch_put_log_data(b->wb, blob.ptr, blob.len);
    b->log_records++;
}

int
storage_batch_count(struct storage_batch *b)
{
    return rocksdb_writebatch_count(b->wb);
}

struct kv_slice
storage_batch_data(struct storage_batch *b)
{
    size_t n = 0;
    const char *p = rocksdb_writebatch_data(b->wb, &n);
    return kv_slice_make(p, n);
}

/* RocksDB's write-batch wire format (db/write_batch.cc, db/dbformat.h): a 12-byte header
 * (sequence u64 LE, record count u32 LE), then records, each a tag byte, for the column family
 * variants the CF id as a varint32, then varint32-length-prefixed strings. */
enum {
    WB_DELETION = 0x0,
    WB_VALUE = 0x1,
    WB_LOG_DATA = 0x3,
    WB_CF_DELETION = 0x4,
    WB_CF_VALUE = 0x5,
    WB_SINGLE_DELETION = 0x7,
    WB_CF_SINGLE_DELETION = 0x8,
    WB_NOOP = 0xd,
    WB_CF_RANGE_DELETION = 0xe,
    WB_RANGE_DELETION = 0xf,
};
#define WB_HEADER 12

static bool
read_varint32(const char **p, const char *end, uint32_t *out)
{
    uint32_t v = 0;
    for (int shift = 0; shift <= 28 && *p < end; shift += 7) {
        uint8_t c = (uint8_t) * (*p)++;
        v |= (uint32_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool
read_varstring(const char **p, const char *end, struct kv_slice *out)
{
    uint32_t n = 0;
    if (!read_varint32(p, end, &n) || (size_t)(end - *p) < n)
        return false;
    *out = kv_slice_make(*p, n);
    *p += n;
    return true;
}

enum kv_code
storage_batch_foreach(struct kv_slice rep, storage_record_fn fn, void *arg, struct kv_err *err)
{
    if (rep.len < WB_HEADER)
        return kv_err_set(err, KV_ERR_CORRUPT, "write batch shorter than its header (%zu bytes)",
                          rep.len);
    const char *p = rep.ptr + WB_HEADER;
    const char *end = rep.ptr + rep.len;
    uint32_t want = kv_get_u32le(rep.ptr + 8);
    uint32_t found = 0;
    while (p < end) {
        size_t at = (size_t)(p - rep.ptr);
        uint8_t tag = (uint8_t)*p++;
        uint32_t cf = 0;
        bool ok = true;
        struct kv_slice key = {NULL, 0}, value = {NULL, 0};
        enum storage_record_kind kind = STORAGE_REC_PUT;
        switch (tag) {
        case WB_CF_DELETION:
        case WB_CF_VALUE:
        case WB_CF_SINGLE_DELETION:
        case WB_CF_RANGE_DELETION:
            ok = read_varint32(&p, end, &cf);
            if (ok && cf >= KV_CF_COUNT)
                return kv_err_set(err, KV_ERR_CORRUPT,
                                  "write batch record at byte %zu names column family %u, which "
                                  "this server does not have",
                                  at, (unsigned)cf);
            break;
        default:
            break;
        }
        switch (tag) {
        case WB_DELETION:
        case WB_CF_DELETION:
        case WB_SINGLE_DELETION:
        case WB_CF_SINGLE_DELETION:
            ok = ok && read_varstring(&p, end, &key);
            kind = STORAGE_REC_DELETE;
            found++;
            break;
        case WB_VALUE:
        case WB_CF_VALUE:
            ok = ok && read_varstring(&p, end, &key) && read_varstring(&p, end, &value);
            kind = STORAGE_REC_PUT;
            found++;
            break;
        case WB_RANGE_DELETION:
        case WB_CF_RANGE_DELETION:
            ok = ok && read_varstring(&p, end, &key) && read_varstring(&p, end, &value);
            kind = STORAGE_REC_DELETE_RANGE;
            found++;
            break;
        case WB_LOG_DATA:
            ok = read_varstring(&p, end, &value);
            kind = STORAGE_REC_LOG_DATA;
            break;
        case WB_NOOP:
            continue;
        default:
            return kv_err_set(err, KV_ERR_CORRUPT,
                              "write batch record at byte %zu has unsupported tag 0x%02x", at,
                              (unsigned)tag);
        }
        if (!ok)
            return kv_err_set(err, KV_ERR_CORRUPT, "write batch record at byte %zu is truncated",
                              at);
        if (fn != NULL)
            fn(arg, kind, (enum kv_cf)cf, key, value);
    }
    if (found != want)
        return kv_err_set(err, KV_ERR_CORRUPT,
                          "write batch header counts %u records but it holds %u", (unsigned)want,
                          (unsigned)found);
    return KV_OK;
}

enum kv_code
storage_batch_validate(struct kv_slice rep, struct kv_err *err)
{
    return storage_batch_foreach(rep, NULL, NULL, err);
}

/* storage_record_fn counting the records of each column family into a uint32_t[KV_CF_COUNT]. */
static void
count_record(void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
             struct kv_slice value)
{
    uint32_t *records = arg;
    (void)key;
    (void)value;
    if (kind != STORAGE_REC_LOG_DATA)
        records[cf]++;
}

struct storage_batch *
storage_batch_from_data(struct kv_slice rep)
{
    /* RocksDB only parses a batch while inserting it into the memtable, after writing it to the
     * WAL: a malformed batch would fail there, leave the DB refusing writes, and make the next
     * open fail replaying the WAL. So nothing malformed gets this far. */
    uint32_t records[KV_CF_COUNT] = {0};
    if (storage_batch_foreach(rep, count_record, records, NULL) != KV_OK)
        return NULL;
    struct storage_batch *b = kv_calloc(1, sizeof *b);
    memcpy(b->records, records, sizeof records);
    b->wb = rocksdb_writebatch_create_from(rep.ptr, rep.len);
    b->cf = NULL; /* a raw batch is written as is; puts into it are not allowed */
    return b;
}

void
storage_set_write_listener(struct storage *st, void (*fn)(void *arg), void *arg)
{
    st->write_listener_arg = arg;
    st->write_listener = fn;
}

/* After a successful write: count its records, wake the listener. */
static void
written(struct storage *st, const uint32_t *records)
{
    for (int i = 0; i < KV_CF_COUNT; i++) {
        if (records[i] != 0)
            count_add(&st->keys_written[i], records[i]);
    }
    if (st->write_listener != NULL)
        st->write_listener(st->write_listener_arg);
}

/* The records of one write in the column families with a row cache (ROW_CACHED), between
 * rowcache_begin before it and rowcache_end after it (rowcache.h), one lane per cache. Keys and
 * values are borrowed from the batch being written. */
struct row_lane {
    struct rowcache *c;       /* borrowed; NULL: this column family has none */
    struct rowcache_write *w; /* inline, or owned when more than fit there */
    size_t n, cap;
    bool bulk; /* the write has a range delete in this column family */
    struct rowcache_write inline_w[8];
};

/* A write with more records in one cached column family than this (a big APPLYBATCH, say) is
 * followed as a bulk write: its bookkeeping stays bounded. */
#define ROW_WRITES_MAX 65536

struct row_writes {
    struct row_lane lane[ROW_CACHED];
    size_t records; /* in the whole batch: what a lane that outgrows its inline room takes */
};

static void
row_record(void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
           struct kv_slice value)
{
    struct row_writes *r = arg;
    int i = row_lane_of(cf);
    if (i < 0 || r->lane[i].c == NULL || kind == STORAGE_REC_LOG_DATA)
        return;
    struct row_lane *l = &r->lane[i];
    if (kind == STORAGE_REC_DELETE_RANGE || l->n == ROW_WRITES_MAX) {
        l->bulk = true;
        return;
    }
    if (l->bulk)
        return; /* the whole cache goes stale anyway */
    if (l->n == l->cap) {
        size_t cap = r->records > l->cap ? r->records : l->cap * 4;
        if (cap > ROW_WRITES_MAX)
            cap = ROW_WRITES_MAX;
        struct rowcache_write *w = kv_malloc(cap * sizeof *w);
        memcpy(w, l->w, l->n * sizeof *w);
        if (l->w != l->inline_w)
            kv_free(l->w);
        l->w = w;
        l->cap = cap;
    }
    l->w[l->n++] =
        (struct rowcache_write){.key = key, .val = value, .put = kind == STORAGE_REC_PUT};
}

/* Before st writes the batch `rep`: the row caches drop the keys it changes. */
static void
rows_begin(struct row_writes *r, struct storage *st, struct kv_slice rep)
{
    bool any = false;
    for (int i = 0; i < ROW_CACHED; i++) {
        struct row_lane *l = &r->lane[i];
        l->c = st->rows[i];
        l->w = l->inline_w;
        l->n = 0;
        l->cap = sizeof l->inline_w / sizeof l->inline_w[0];
        l->bulk = false;
        any = any || l->c != NULL;
    }
    if (!any)
        return;
    r->records = rep.len >= WB_HEADER ? kv_get_u32le(rep.ptr + 8) : 0;
    if (storage_batch_foreach(rep, row_record, r, NULL) != KV_OK) {
        /* A malformed batch: whatever RocksDB makes of it, nothing cached survives it. */
        for (int i = 0; i < ROW_CACHED; i++)
            r->lane[i].bulk = true;
    }
    for (int i = 0; i < ROW_CACHED; i++) {
        struct row_lane *l = &r->lane[i];
        if (l->bulk)
            rowcache_bulk_begin(l->c);
        rowcache_begin(l->c, l->w, l->n);
    }
}

/* After the write (ok: it succeeded): the caches take the values written. */
static void
rows_end(struct row_writes *r, bool ok)
{
    for (int i = 0; i < ROW_CACHED; i++) {
        struct row_lane *l = &r->lane[i];
        rowcache_end(l->c, l->w, l->n, ok);
        if (l->bulk)
            rowcache_bulk_end(l->c);
        if (l->w != l->inline_w)
            kv_free(l->w);
        l->w = NULL;
        l->n = 0;
    }
}

static enum kv_code stage_commit(struct kv_err *err);

enum kv_code
storage_write_raw(struct storage *st, struct kv_slice rep, uint32_t *count, struct kv_err *err)
{
    thread_writes++;
    /* First what this thread staged, held or not: the order of the writes matters more than
     * keeping a transaction in one batch. */
    enum kv_code rc = stage_commit(err);
    if (rc != KV_OK)
        return rc;
    uint32_t records[KV_CF_COUNT] = {0};
    rc = storage_batch_foreach(rep, count_record, records, err);
    if (rc != KV_OK)
        return rc;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from(rep.ptr, rep.len);
    if (count != NULL)
        *count = (uint32_t)rocksdb_writebatch_count(wb);
    char *errptr = NULL;
    struct row_writes rows;
    rows_begin(&rows, st, rep);
    rocksdb_write(st->db, st->write_opts, wb, &errptr);
    rows_end(&rows, errptr == NULL);
    rocksdb_writebatch_destroy(wb);
    /* After the write: a reader that still sees the old count read the key before it. */
    atomic_fetch_add_explicit(&st->raw_writes, 1, memory_order_release);
    if (errptr != NULL)
        return take_error(errptr, err, "write");
    written(st, records);
    return KV_OK;
}

struct stage_walk {
    const char *base; /* the staged batch's data */
    size_t shift;     /* its records start at stage.rep offset base + WB_HEADER + shift */
};

/* Column families whose records a later record of the same key may replace within one commit
 * (storage_stage_commit). Not pubsub and propagate, whose records are messages, each delivered
 * on replicas however many share a key. */
static bool
supersedes(enum kv_cf cf)
{
    return cf == KV_CF_METADATA || cf == KV_CF_SUBKEY || cf == KV_CF_ZSET_SCORE;
}

/* The stage_ref naming one put or delete record: its value's offset and length in stage.rep, or
 * for a delete, its key's offset. */
static uint64_t
record_ref(enum storage_record_kind kind, size_t key_off, size_t value_off, size_t value_len)
{
    if (kind == STORAGE_REC_DELETE)
        return (uint64_t)(uintptr_t)stage_ref(true, key_off, 0);
    return (uint64_t)(uintptr_t)stage_ref(false, value_off, value_len);
}

static void
stage_index_record(void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
                   struct kv_slice value)
{
    const struct stage_walk *w = arg;
    if (kind != STORAGE_REC_PUT && kind != STORAGE_REC_DELETE)
        return; /* log data; range deletes are never staged */
    /* Offsets of the same bytes in stage.rep, where the walked batch's records were appended. */
    size_t key_off = (size_t)(key.ptr - w->base) + w->shift;
    size_t value_off = kind == STORAGE_REC_PUT ? (size_t)(value.ptr - w->base) + w->shift : 0;
    uint64_t old = stage_index_set(&stage.index, stage.rep.ptr, cf, key_off, key.len,
                                   record_ref(kind, key_off, value_off, value.len));
    if (old != 0 && supersedes(cf))
        stage.superseded++;
}

/* Append b's records to this thread's stage (b was built for st and has no range delete). */
static enum kv_code
stage_batch(struct storage *st, struct storage_batch *b, struct kv_err *err)
{
    if (stage.st != NULL && stage.st != st) {
        enum kv_code rc = stage_commit(err);
        if (rc != KV_OK)
            return rc;
    }
    if (stage.st == NULL) {
        stage.st = st;
        atomic_fetch_add(&st->staged_threads, 1);
    }
    if (stage.rep.len < WB_HEADER)
        kv_buf_resize(&stage.rep, WB_HEADER);
    struct kv_slice data = storage_batch_data(b);
    size_t at = stage.rep.len;
    kv_buf_append(&stage.rep, data.ptr + WB_HEADER, data.len - WB_HEADER);
    stage.count += (uint32_t)rocksdb_writebatch_count(b->wb);
    struct stage_walk w = {.base = data.ptr, .shift = at - WB_HEADER};
    enum kv_code rc = storage_batch_foreach(data, stage_index_record, &w, err);
    KV_ASSERT(rc == KV_OK); /* we built b */
    for (int i = 0; i < KV_CF_COUNT; i++)
        stage.records[i] += b->records[i];
    if (stage.rep.len > STAGE_MAX_BYTES && !stage.held)
        (void)stage_commit(NULL); /* a failure is kept for storage_stage_take_failure */
    return KV_OK;
}

/* Whether storage_write may add b (with wire data `data`) to this thread's stage. */
static bool
stageable(struct storage *st, struct storage_batch *b, struct kv_slice data)
{
    if (!stage.enabled || b->cf != st->cf || b->has_range_delete || atomic_load(&st->write_failed))
        return false;
    if (!stage.held)
        return data.len <= STAGE_MAX_BATCH;
    return data.len <= STAGE_MAX_HELD_BATCH && stage.rep.len + data.len <= STAGE_MAX_HELD;
}

enum kv_code
storage_write(struct storage *st, struct storage_batch *b, struct kv_err *err)
{
    thread_writes++;
    if (rocksdb_writebatch_count(b->wb) == 0)
        return KV_OK;
    if (stageable(st, b, storage_batch_data(b)))
        return stage_batch(st, b, err);
    /* First what this thread staged, if anything, held or not (as storage_write_raw). */
    enum kv_code rc = stage_commit(err);
    if (rc != KV_OK)
        return rc;
    char *errptr = NULL;
    struct row_writes rows;
    rows_begin(&rows, st, storage_batch_data(b));
    rocksdb_write(st->db, st->write_opts, b->wb, &errptr);
    rows_end(&rows, errptr == NULL);
    if (errptr != NULL) {
        atomic_store(&st->write_failed, true);
        return take_error(errptr, err, "write");
    }
    if (atomic_load_explicit(&st->write_failed, memory_order_relaxed))
        atomic_store(&st->write_failed, false); /* writes work again: back to staging */
    written(st, b->records);
    return KV_OK;
}

uint64_t
storage_thread_writes(void)
{
    return thread_writes;
}

uint64_t
storage_raw_writes(struct storage *st)
{
    return (uint64_t)atomic_load_explicit(&st->raw_writes, memory_order_acquire);
}

bool
storage_stage_enable(bool on)
{
    bool was = stage.enabled;
    stage.enabled = on;
    return was;
}

bool
storage_stage_enabled(void)
{
    return stage.enabled;
}

bool
storage_stage_pending(void)
{
    return stage.st != NULL;
}

/* storage_batch_foreach callback of stage_compact: copy the record unless a later record of
 * its key replaced it. Records are contiguous: each one starts where the one before ended. */
struct stage_copy {
    const char *next; /* where the next record starts in stage.rep */
};

static void
copy_latest_record(void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
                   struct kv_slice value)
{
    struct stage_copy *c = arg;
    const char *start = c->next;
    c->next = kind == STORAGE_REC_DELETE ? key.ptr + key.len : value.ptr + value.len;
    if (kind != STORAGE_REC_LOG_DATA) {
        if (supersedes(cf)) {
            const char *base = stage.rep.ptr;
            size_t key_off = (size_t)(key.ptr - base);
            size_t value_off = kind == STORAGE_REC_PUT ? (size_t)(value.ptr - base) : 0;
            if (stage_index_get(&stage.index, base, cf, key) !=
                record_ref(kind, key_off, value_off, value.len))
                return; /* superseded */
        }
        stage.count++;
        stage.records[cf]++;
    }
    kv_buf_append(&stage.compacted, start, (size_t)(c->next - start));
}

/* stage.compacted = the stage without its superseded records: for each key of a superseding
 * column family only its latest put or delete, which leaves every key as writing them all
 * would (puts and deletes only: range deletes and merges are never staged). Log data stays
 * where it was. Recounts stage.count and stage.records. */
static void
stage_compact(void)
{
    kv_buf_resize(&stage.compacted, WB_HEADER);
    memset(stage.compacted.ptr, 0, WB_HEADER);    /* sequence: assigned by the write */
    kv_put_u32le(stage.rep.ptr + 8, stage.count); /* what the walk checks */
    stage.count = 0;
    memset(stage.records, 0, sizeof stage.records);
    struct stage_copy c = {.next = stage.rep.ptr + WB_HEADER};
    enum kv_code rc = storage_batch_foreach(kv_buf_slice(&stage.rep), copy_latest_record, &c, NULL);
    KV_ASSERT(rc == KV_OK); /* we built the records */
    kv_put_u32le(stage.compacted.ptr + 8, stage.count);
}

enum kv_code
storage_stage_commit(struct kv_err *err)
{
    return stage.held ? KV_OK : stage_commit(err);
}

void
storage_stage_hold_begin(void)
{
    KV_ASSERT(!stage.held);
    (void)stage_commit(NULL); /* a failure is kept for storage_stage_take_failure */
    stage.enabled_before_hold = stage.enabled;
    stage.enabled = true;
    stage.held = true;
}

enum kv_code
storage_stage_hold_end(struct kv_err *err)
{
    KV_ASSERT(stage.held);
    stage.held = false;
    stage.enabled = stage.enabled_before_hold;
    return stage_commit(err);
}

bool
storage_stage_held(void)
{
    return stage.held;
}

/* Write this thread's staged records now, held or not (storage_stage_commit). */
static enum kv_code
stage_commit(struct kv_err *err)
{
    struct storage *st = stage.st;
    if (st == NULL)
        return KV_OK;
    const struct kv_buf *out = &stage.rep;
    if (stage.superseded > 0) {
        stage_compact();
        out = &stage.compacted;
    } else {
        memset(stage.rep.ptr, 0, 8); /* sequence: assigned by the write */
        kv_put_u32le(stage.rep.ptr + 8, stage.count);
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from(out->ptr, out->len);
    char *errptr = NULL;
    struct row_writes rows;
    rows_begin(&rows, st, kv_buf_slice(out));
    rocksdb_write(st->db, st->write_opts, wb, &errptr);
    rows_end(&rows, errptr == NULL);
    rocksdb_writebatch_destroy(wb);
    kv_buf_resize(&stage.rep, WB_HEADER);
    if (stage.compacted.cap > 2 * STAGE_MAX_BYTES)
        kv_buf_deinit(&stage.compacted); /* a big batch's copy: not kept for every round */
    stage.count = 0;
    stage.superseded = 0;
    stage_index_clear(&stage.index);
    uint32_t records[KV_CF_COUNT];
    memcpy(records, stage.records, sizeof records);
    memset(stage.records, 0, sizeof stage.records);
    stage.st = NULL;
    /* Only now: whoever waits for no staged writes must find these in the DB. */
    atomic_fetch_sub(&st->staged_threads, 1);
    if (errptr != NULL) {
        stage.failed = true;
        atomic_store(&st->write_failed, true);
        struct kv_err local;
        enum kv_code rc = take_error(errptr, err != NULL ? err : &local, "write");
        LOG_ERROR("group commit failed: %s", err != NULL ? err->msg : local.msg);
        return rc;
    }
    written(st, records);
    return KV_OK;
}

bool
storage_stage_failed(void)
{
    return stage.failed;
}

bool
storage_stage_take_failure(void)
{
    bool f = stage.failed;
    stage.failed = false;
    return f;
}

bool
storage_has_staged(struct storage *st)
{
    return atomic_load(&st->staged_threads) > 0;
}

void
storage_stage_thread_exit(void)
{
    stage.held = false;
    (void)stage_commit(NULL);
    kv_buf_deinit(&stage.rep);
    kv_buf_deinit(&stage.compacted);
    stage_index_deinit(&stage.index);
    stage.enabled = false;
}

struct storage_snapshot *
storage_snapshot_new(struct storage *st)
{
    /* A snapshot sees the thread's staged writes: commit them (a failure is kept for
     * storage_stage_take_failure). A held stage stays: reads through the snapshot look at it
     * first, as reads without one do. In a transaction no other thread writes (EXEC holds the
     * server lock exclusively) and the callers read through a snapshot only before they write,
     * so the DB and the stage are still what they were when the snapshot was taken. */
    (void)storage_stage_commit(NULL);
    struct storage_snapshot *s = kv_calloc(1, sizeof *s);
    s->held = stage.held;
    /* The C API of this RocksDB has no snapshot sequence getter: take the snapshot between two
     * equal readings of the latest sequence, so its sequence is known exactly. */
    for (;;) {
        uint64_t before = rocksdb_get_latest_sequence_number(st->db);
        s->snap = rocksdb_create_snapshot(st->db);
        uint64_t after = rocksdb_get_latest_sequence_number(st->db);
        if (before == after) {
            s->seq = after;
            s->ro = rocksdb_readoptions_create();
            rocksdb_readoptions_set_snapshot(s->ro, s->snap);
            return s;
        }
        rocksdb_release_snapshot(st->db, s->snap);
    }
}

void
storage_snapshot_free(struct storage *st, struct storage_snapshot *snap)
{
    if (snap == NULL)
        return;
    rocksdb_readoptions_destroy(snap->ro);
    rocksdb_release_snapshot(st->db, snap->snap);
    kv_free(snap);
}

uint64_t
storage_snapshot_seq(const struct storage_snapshot *snap)
{
    return snap->seq;
}

/* storage_batch_foreach callback of held_delta: index the puts and deletes of one column family
 * that fall within an iterator's bounds. */
struct delta_fill {
    rocksdb_writebatch_wi_t *wbwi;
    rocksdb_column_family_handle_t *handle;
    enum kv_cf cf;
    const struct kv_buf *lower; /* empty: no bound */
    const struct kv_buf *upper; /* empty: no bound */
    int records;
};

static void
delta_record(void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
             struct kv_slice value)
{
    struct delta_fill *d = arg;
    if (cf != d->cf || (kind != STORAGE_REC_PUT && kind != STORAGE_REC_DELETE))
        return;
    if ((d->lower->len > 0 && kv_slice_cmp(key, kv_buf_slice(d->lower)) < 0) ||
        (d->upper->len > 0 && kv_slice_cmp(key, kv_buf_slice(d->upper)) >= 0))
        return;
    if (kind == STORAGE_REC_PUT)
        rocksdb_writebatch_wi_put_cf(d->wbwi, d->handle, key.ptr, key.len, value.ptr, value.len);
    else
        rocksdb_writebatch_wi_delete_cf(d->wbwi, d->handle, key.ptr, key.len);
    d->records++;
}

/* The held stage's records of cf within its bounds, indexed, or NULL when there are none. The
 * delta gets no bounds of its own (the C API passes no read options to the merged iterator), so
 * only records within them go in. Costs a walk of the whole stage: only transactions that read
 * ranges after writing pay it. */
static rocksdb_writebatch_wi_t *
held_delta(struct storage *st, enum kv_cf cf, const struct storage_iter *it)
{
    rocksdb_writebatch_wi_t *wbwi = rocksdb_writebatch_wi_create(0, 1);
    struct delta_fill d = {wbwi, st->cf[cf], cf, &it->lower, &it->upper, 0};
    kv_put_u32le(stage.rep.ptr + 8, stage.count); /* what the walk checks */
    enum kv_code rc = storage_batch_foreach(kv_buf_slice(&stage.rep), delta_record, &d, NULL);
    KV_ASSERT(rc == KV_OK); /* we built the records */
    if (d.records == 0) {
        rocksdb_writebatch_wi_destroy(wbwi);
        return NULL;
    }
    return wbwi;
}

struct storage_iter *
storage_iter_new(struct storage *st, const struct storage_snapshot *snap, enum kv_cf cf,
                 struct kv_slice lower, struct kv_slice upper)
{
    /* Iterators read the DB only: commit the thread's staged writes first (a failure is kept
     * for storage_stage_take_failure). A held stage stays, and the iterator reads it over the
     * DB (a snapshot taken in the transaction too: see storage_snapshot_new). */
    (void)storage_stage_commit(NULL);
    struct storage_iter *it = kv_calloc(1, sizeof *it);
    it->ro = rocksdb_readoptions_create();
    if (snap != NULL)
        rocksdb_readoptions_set_snapshot(it->ro, snap->snap);
    if (lower.ptr != NULL) {
        kv_buf_set(&it->lower, lower.ptr, lower.len);
        rocksdb_readoptions_set_iterate_lower_bound(it->ro, it->lower.ptr, it->lower.len);
    }
    if (upper.ptr != NULL && upper.len > 0) {
        kv_buf_set(&it->upper, upper.ptr, upper.len);
        rocksdb_readoptions_set_iterate_upper_bound(it->ro, it->upper.ptr, it->upper.len);
    }
    it->it = rocksdb_create_iterator_cf(st->db, it->ro, st->cf[cf]);
    if (stage.held && stage.st == st && (snap == NULL || snap->held)) {
        it->delta = held_delta(st, cf, it);
        if (it->delta != NULL) /* takes the DB iterator over */
            it->it =
                rocksdb_writebatch_wi_create_iterator_with_base_cf(it->delta, it->it, st->cf[cf]);
    }
    it->keys_read = &st->keys_read[cf];
    return it;
}

void
storage_iter_free(struct storage_iter *it)
{
    if (it == NULL)
        return;
    if (it->moves != 0)
        count_add(it->keys_read, it->moves);
    rocksdb_iter_destroy(it->it);
    if (it->delta != NULL)
        rocksdb_writebatch_wi_destroy(it->delta);
    rocksdb_readoptions_destroy(it->ro);
    kv_buf_deinit(&it->lower);
    kv_buf_deinit(&it->upper);
    kv_free(it);
}

void
storage_iter_seek(struct storage_iter *it, struct kv_slice key)
{
    it->moves++;
    rocksdb_iter_seek(it->it, key.ptr, key.len);
}

void
storage_iter_seek_for_prev(struct storage_iter *it, struct kv_slice key)
{
    it->moves++;
    rocksdb_iter_seek_for_prev(it->it, key.ptr, key.len);
}

void
storage_iter_seek_first(struct storage_iter *it)
{
    it->moves++;
    rocksdb_iter_seek_to_first(it->it);
}

void
storage_iter_seek_last(struct storage_iter *it)
{
    it->moves++;
    rocksdb_iter_seek_to_last(it->it);
}

void
storage_iter_next(struct storage_iter *it)
{
    it->moves++;
    rocksdb_iter_next(it->it);
}

void
storage_iter_prev(struct storage_iter *it)
{
    it->moves++;
    rocksdb_iter_prev(it->it);
}

bool
storage_iter_valid(const struct storage_iter *it)
{
    return rocksdb_iter_valid(it->it) != 0;
}

struct kv_slice
storage_iter_key(const struct storage_iter *it)
{
    size_t n = 0;
    const char *p = rocksdb_iter_key(it->it, &n);
    return kv_slice_make(p, n);
}

struct kv_slice
storage_iter_value(const struct storage_iter *it)
{
    size_t n = 0;
    const char *p = rocksdb_iter_value(it->it, &n);
    return kv_slice_make(p, n);
}

enum kv_code
storage_iter_status(const struct storage_iter *it, struct kv_err *err)
{
    char *errptr = NULL;
    rocksdb_iter_get_error(it->it, &errptr);
    if (errptr != NULL)
        return take_error(errptr, err, "iterator");
    return KV_OK;
}

uint64_t
storage_latest_seq(struct storage *st)
{
    return rocksdb_get_latest_sequence_number(st->db);
}

enum kv_code
storage_flush(struct storage *st, struct kv_err *err)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    enum kv_code rc = KV_OK;
    for (int i = 0; i < KV_CF_COUNT && rc == KV_OK; i++) {
        char *errptr = NULL;
        rocksdb_flush_cf(st->db, fo, st->cf[i], &errptr);
        if (errptr != NULL)
            rc = take_error(errptr, err, "flush");
    }
    rocksdb_flushoptions_destroy(fo);
    return rc;
}

enum kv_code
storage_compact(struct storage *st, enum kv_cf cf, struct kv_slice begin, struct kv_slice end,
                struct kv_err *err)
{
    rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
    rocksdb_compactoptions_set_bottommost_level_compaction(co, 2 /* kForce */);
    rocksdb_compactoptions_set_exclusive_manual_compaction(co, 0);
    rocksdb_compact_range_cf_opt(st->db, st->cf[cf], co, begin.len ? begin.ptr : NULL, begin.len,
                                 end.len ? end.ptr : NULL, end.len);
    rocksdb_compactoptions_destroy(co);
    (void)err;
    return KV_OK;
}

/* Metadata first: its filter drops expired records, and only then does the sub-key filter of
 * the other column families find their metadata gone (an expired but present record protects
 * its sub-keys for COMPACT_FILTER_SUBKEY_GRACE_MS). */
static const enum kv_cf compact_order[KV_CF_COUNT] = {
    KV_CF_METADATA, KV_CF_SUBKEY,    KV_CF_ZSET_SCORE, KV_CF_STREAM,
    KV_CF_PUBSUB,   KV_CF_PROPAGATE, KV_CF_SEARCH,
};

enum kv_code
storage_compact_all(struct storage *st, struct kv_err *err)
{
    for (int i = 0; i < KV_CF_COUNT; i++) {
        enum kv_code rc = storage_compact(st, compact_order[i], kv_slice_make(NULL, 0),
                                          kv_slice_make(NULL, 0), err);
        if (rc != KV_OK)
            return rc;
    }
    return KV_OK;
}

uint64_t
storage_keys_read(struct storage *st, enum kv_cf cf)
{
    return (uint64_t)atomic_load_explicit(&st->keys_read[cf], memory_order_relaxed);
}

uint64_t
storage_keys_written(struct storage *st, enum kv_cf cf)
{
    return (uint64_t)atomic_load_explicit(&st->keys_written[cf], memory_order_relaxed);
}

enum kv_code
storage_property(struct storage *st, enum kv_cf cf, const char *name, struct kv_buf *out)
{
    kv_buf_clear(out);
    char *v = rocksdb_property_value_cf(st->db, st->cf[cf], name);
    if (v == NULL)
        return KV_NOTFOUND;
    kv_buf_append_cstr(out, v);
    rocksdb_free(v);
    return KV_OK;
}

uint64_t
storage_property_int(struct storage *st, enum kv_cf cf, const char *name)
{
    uint64_t v = 0;
    if (rocksdb_property_int_cf(st->db, st->cf[cf], name, &v) != 0)
        return 0;
    return v;
}

struct rowcache_stats
storage_row_cache_stats(struct storage *st, enum kv_cf cf)
{
    int lane = row_lane_of(cf);
    return rowcache_stats(lane >= 0 ? st->rows[lane] : NULL);
}

uint64_t
storage_sst_bytes(struct storage *st)
{
    uint64_t total = 0;
    for (int i = 0; i < KV_CF_COUNT; i++)
        total += storage_property_int(st, (enum kv_cf)i, "rocksdb.total-sst-files-size");
    return total;
}

enum kv_code
storage_set_cf_option(struct storage *st, const char *name, const char *value, struct kv_err *err)
{
    const char *keys[1] = {name};
    const char *values[1] = {value};
    bool wbs = strcmp(name, "write_buffer_size") == 0;
    uint64_t configured = 0;
    if (wbs && strconv_to_uint64(value, strlen(value), &configured) != KV_OK)
        return kv_err_set(err, KV_ERR_INVALID, "write_buffer_size: not a number: '%s'", value);
    for (int i = 0; i < KV_CF_COUNT; i++) {
        char *errptr = NULL;
        char own[32];
        if (wbs) {
            /* Each column family's own share (cf_write_buffer_size). */
            snprintf(own, sizeof own, "%llu",
                     (unsigned long long)cf_write_buffer_size((enum kv_cf)i, configured));
            values[0] = own;
        }
        rocksdb_set_options_cf(st->db, st->cf[i], 1, keys, values, &errptr);
        if (errptr != NULL) {
            kv_err_set(err, KV_ERR_INVALID, "%s", errptr);
            rocksdb_free(errptr);
            return KV_ERR_INVALID;
        }
        if (wbs && i == KV_CF_METADATA) {
            /* Tuning starts again from the new size. */
            atomic_store(&st->write_buffer_limit, configured);
            atomic_store(&st->meta_write_buffer, configured);
        }
    }
    return KV_OK;
}

uint64_t
storage_write_buffer_size(struct storage *st, enum kv_cf cf)
{
    if (cf == KV_CF_METADATA)
        return atomic_load(&st->meta_write_buffer);
    return cf_write_buffer_size(cf, atomic_load(&st->write_buffer_limit));
}

/* The metadata memtable is sized for about this many entries (storage_tune_memtables). Every
 * write of a string or of any key's metadata inserts into it: a skiplist search whose lower
 * levels miss the CPU cache once the memtable holds more than some tens of thousands of
 * entries. With 64-byte values a 64 MiB memtable holds half a million, and its inserts, made
 * one at a time by RocksDB's write group leader (and by a replica's single apply thread), were
 * the limit of SET and MSET on many keys. Measured (2 cores, release RocksDB, sustained
 * redis-benchmark on 1M keys at -P 16): 64-byte SETs 254k/s with 64 MiB, 398k-460k/s with
 * 4 MiB, with less server CPU; MSET of 10 keys twice as fast. A fixed small size is no answer:
 * 1 KiB values lost 40% and 16 KiB values 62% at 4 MiB, to flushes and compactions. Sized by
 * entries, small values get a few MiB and large ones keep the configured size. */
#define META_MEMTABLE_ENTRIES 50000
#define META_MEMTABLE_MIN (4u << 20)
/* The active memtable must hold this much before its bytes per entry are trusted: RocksDB
 * counts its memory in arena blocks of up to 1 MiB. */
#define META_MEMTABLE_SAMPLE (3u << 20)

void
storage_tune_memtables(struct storage *st)
{
    uint64_t bytes = storage_property_int(st, KV_CF_METADATA, "rocksdb.cur-size-active-mem-table");
    uint64_t n = storage_property_int(st, KV_CF_METADATA, "rocksdb.num-entries-active-mem-table");
    if (bytes < META_MEMTABLE_SAMPLE || n == 0)
        return;
    uint64_t limit = atomic_load(&st->write_buffer_limit);
    uint64_t want = bytes / n * META_MEMTABLE_ENTRIES;
    if (want < META_MEMTABLE_MIN)
        want = META_MEMTABLE_MIN;
    if (want > limit)
        want = limit;
    /* Within a factor of 2 of the size now: leave it (each change writes an OPTIONS file). */
    uint64_t cur = atomic_load(&st->meta_write_buffer);
    if (want < cur * 2 && want * 2 > cur)
        return;
    char value[32];
    snprintf(value, sizeof value, "%llu", (unsigned long long)want);
    const char *keys[1] = {"write_buffer_size"};
    const char *values[1] = {value};
    char *errptr = NULL;
    rocksdb_set_options_cf(st->db, st->cf[KV_CF_METADATA], 1, keys, values, &errptr);
    if (errptr != NULL) {
        LOG_WARN("metadata memtable size %s refused: %s", value, errptr);
        rocksdb_free(errptr);
        return;
    }
    atomic_store(&st->meta_write_buffer, want);
    LOG_INFO("metadata memtable: %llu KiB (entries of about %llu bytes)",
             (unsigned long long)(want >> 10), (unsigned long long)(bytes / n));
}
