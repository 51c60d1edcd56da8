/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_int: the storage object's fields, shared by the files of storage/ (storage.c, wal.c,
 * checkpoint.c). Private to storage/: nothing outside this folder includes it.
 */
#ifndef KV_STORAGE_STORAGE_INT_H
#define KV_STORAGE_STORAGE_INT_H

#include <stdatomic.h>

#include <rocksdb/c.h>

#include "storage/cf.h"

struct compact_filter_ctx;

#define ROW_CACHED 2

struct storage {
    rocksdb_t *db;                                   /* owned */
    char *path;                                      /* owned */
    rocksdb_options_t *db_opts;                      /* owned */
    rocksdb_options_t *cf_opts[KV_CF_COUNT];         /* owned; each owns its filter factory */
    rocksdb_column_family_handle_t *cf[KV_CF_COUNT]; /* owned */
    rocksdb_block_based_table_options_t *table_opts; /* owned; copied into each CF's options */
    rocksdb_cache_t *cache; /* owned wrapper; RocksDB shares the cache itself */
    /* Row caches (rowcache.h) of the sub-key and metadata column families; owned, NULL when
     * off. */
    struct rowcache *rows[ROW_CACHED];
    rocksdb_filterpolicy_t *filter;        /* owned by table_opts once set */
    rocksdb_readoptions_t *read_opts;      /* owned */
    rocksdb_writeoptions_t *write_opts;    /* owned */
    struct compact_filter_ctx *filter_ctx; /* owned; must outlive db and cf_opts */
    /* Called after every successful write (replication feeders wake up on it). Set once by the
     * owner before other threads write; read without a lock. */
    void (*write_listener)(void *arg);
    void *write_listener_arg;
    /* Records read and written per column family since open (storage_keys_read/_written):
     * point reads plus iterator positionings, and puts/deletes/range deletes written. Relaxed
     * atomics: counters, not synchronisation. An iterator adds its positionings when freed. */
    atomic_uint_fast64_t keys_read[KV_CF_COUNT];
    atomic_uint_fast64_t keys_written[KV_CF_COUNT];
    /* Threads holding staged writes for this storage (storage_stage_*): the exclusive holder of
     * the server lock waits for 0 before it swaps the DB or reads the WAL tail. */
    atomic_int staged_threads;
    /* The last write failed (a commit of staged writes or a direct write): writes go straight
     * to RocksDB, so each command gets the error in its reply, until one succeeds again. */
    atomic_bool write_failed;
    /* Raw batches written (storage_write_raw): they take no key locks (storage_raw_writes). */
    atomic_uint_fast64_t raw_writes;
    /* rocksdb.write_buffer_size in bytes as last applied, and the metadata memtable's size now
     * (storage_tune_memtables may set it below the former). */
    atomic_uint_fast64_t write_buffer_limit;
    atomic_uint_fast64_t meta_write_buffer;
};

#endif
