// SPDX-License-Identifier: Apache-2.0
//
// storage: a real RocksDB (the StorageTest fixture) opened, written, iterated, snapshotted,
// reopened; column family names and ids checked against the disk format (DESIGN.md section 4)
// through RocksDB's own C API and the write-batch wire format.
#include <atomic>
#include <fstream>
#include <map>
#include <stdint.h>
#include <stdio.h>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/c.h>

#include "fixture.h"
#include "storage/cf.h"
#include "storage/storage.h"
#include "storage/wal.h"

namespace {

std::string
Str(struct kv_slice s)
{
    return std::string(s.ptr == nullptr ? "" : s.ptr, s.len);
}

const struct kv_slice kNone = {nullptr, 0};

const char *const kCfNames[KV_CF_COUNT] = {"default",   "metadata", "zset_score", "pubsub",
                                           "propagate", "stream",   "search"};

std::string
ReadFile(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void
WriteFile(const std::string &path, const std::string &data)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
}

} // namespace

class StorageApiTest : public StorageTest {
  protected:
    void
    Put(enum kv_cf cf, const std::string &k, const std::string &v)
    {
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, cf, S(k), S(v));
        Write(b);
        storage_batch_free(b);
    }

    void
    Del(enum kv_cf cf, const std::string &k)
    {
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_delete(b, cf, S(k));
        Write(b);
        storage_batch_free(b);
    }

    void
    Write(struct storage_batch *b, struct storage *st = nullptr)
    {
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(storage_write(st ? st : st_, b, &err), KV_OK) << err.msg;
    }

    // The value, or "<notfound>".
    std::string
    Get(enum kv_cf cf, const std::string &k, const struct storage_snapshot *snap = nullptr,
        struct storage *st = nullptr)
    {
        struct kv_buf val = KV_BUF_INIT;
        kv_buf_append_cstr(&val, "stale");
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = storage_get(st ? st : st_, snap, cf, S(k), &val, &err);
        std::string out;
        if (rc == KV_OK)
            out = std::string(val.ptr == nullptr ? "" : val.ptr, val.len);
        else if (rc == KV_NOTFOUND)
            out = val.len == 0 ? "<notfound>" : "<notfound, value not cleared>";
        else
            out = std::string("<error ") + err.msg + ">";
        kv_buf_deinit(&val);
        return out;
    }

    // Keys (and values) of cf between the bounds, forwards.
    std::vector<std::string>
    Keys(enum kv_cf cf, struct kv_slice lower = kNone, struct kv_slice upper = kNone,
         const struct storage_snapshot *snap = nullptr)
    {
        std::vector<std::string> out;
        struct storage_iter *it = storage_iter_new(st_, snap, cf, lower, upper);
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it))
            out.push_back(Str(storage_iter_key(it)));
        EXPECT_EQ(storage_iter_status(it, nullptr), KV_OK);
        storage_iter_free(it);
        return out;
    }

    std::string
    KeyAt(struct storage_iter *it)
    {
        return storage_iter_valid(it) ? Str(storage_iter_key(it)) : "<invalid>";
    }

    struct storage *
    OpenOther(const std::string &name, bool cluster = false)
    {
        struct config *cfg = config_new();
        cfg->rocksdb_write_buffer_size = 1;
        cfg->rocksdb_block_cache_size = 8;
        cfg->cluster_enabled = cluster;
        struct storage *st = nullptr;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = storage_open(cfg, (dir_ + "/" + name).c_str(), &st, &err);
        config_free(cfg);
        EXPECT_EQ(rc, KV_OK) << err.msg;
        return st;
    }
};

TEST_F(StorageApiTest, CfNames)
{
    for (int i = 0; i < KV_CF_COUNT; i++)
        EXPECT_STREQ(cf_name((enum kv_cf)i), kCfNames[i]);
    EXPECT_STREQ(cf_name(KV_CF_COUNT), "unknown");
    EXPECT_STREQ(cf_name((enum kv_cf) - 1), "unknown");
    EXPECT_EQ(KV_CF_SUBKEY, 0);
    EXPECT_EQ(KV_CF_METADATA, 1);
    EXPECT_EQ(KV_CF_ZSET_SCORE, 2);
    EXPECT_EQ(KV_CF_PUBSUB, 3);
    EXPECT_EQ(KV_CF_PROPAGATE, 4);
    EXPECT_EQ(KV_CF_STREAM, 5);
    EXPECT_EQ(KV_CF_SEARCH, 6);
    EXPECT_EQ(KV_CF_COUNT, 7);
}

TEST_F(StorageApiTest, ColumnFamiliesOnDisk)
{
    // RocksDB's own list, read from the MANIFEST, in id order.
    Close();
    rocksdb_options_t *opts = rocksdb_options_create();
    size_t n = 0;
    char *errptr = nullptr;
    char **names = rocksdb_list_column_families(opts, (dir_ + "/db").c_str(), &n, &errptr);
    ASSERT_EQ(errptr, nullptr) << errptr;
    ASSERT_EQ(n, (size_t)KV_CF_COUNT);
    for (size_t i = 0; i < n; i++)
        EXPECT_STREQ(names[i], kCfNames[i]) << i;
    rocksdb_list_column_families_destroy(names, n);
    rocksdb_options_destroy(opts);
    Open();
}

TEST_F(StorageApiTest, BatchWireFormatCarriesCfIds)
{
    // The replication stream ships write batches, which name column families by numeric id:
    // header (seq u64 LE, count u32 LE), then per record a tag, the CF id as a varint (except
    // for CF 0), and varint-length-prefixed key and value.
    for (int round = 0; round < 2; round++) {
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_log_data(b, kv_slice_cstr("L"));
        for (int i = 0; i < KV_CF_COUNT; i++)
            storage_batch_put(b, (enum kv_cf)i, kv_slice_cstr("k"), kv_slice_cstr("v"));
        storage_batch_delete(b, KV_CF_SUBKEY, kv_slice_cstr("d"));
        storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("d"));
        storage_batch_delete_range(b, KV_CF_SUBKEY, kv_slice_cstr("a"), kv_slice_cstr("b"));
        storage_batch_delete_range(b, KV_CF_STREAM, kv_slice_cstr("a"), kv_slice_cstr("b"));
        EXPECT_EQ(storage_batch_count(b), KV_CF_COUNT + 4);

        std::string want(8, '\0');
        want += std::string("\x0b\x00\x00\x00", 4); // 11 records, log data not counted
        want += std::string("\x03\x01L", 3);        // kTypeLogData
        want += std::string("\x01\x01k\x01v", 5);   // kTypeValue, CF 0
        for (int i = 1; i < KV_CF_COUNT; i++) {
            want += std::string("\x05", 1); // kTypeColumnFamilyValue
            want += std::string(1, (char)i);
            want += std::string("\x01k\x01v", 4);
        }
        want += std::string("\x00\x01"
                            "d",
                            3); // kTypeDeletion, CF 0
        want += std::string("\x04\x01\x01"
                            "d",
                            4); // kTypeColumnFamilyDeletion, CF 1
        want += std::string("\x0f\x01"
                            "a\x01"
                            "b",
                            5); // kTypeRangeDeletion, CF 0
        want += std::string("\x0e\x05\x01"
                            "a\x01"
                            "b",
                            6); // kTypeColumnFamilyRangeDeletion, 5
        EXPECT_EQ(Str(storage_batch_data(b)), want);
        Write(b);
        storage_batch_free(b);
        // The ids survive a reopen (they are read back from the MANIFEST, not re-assigned).
        Reopen();
    }
}

TEST_F(StorageApiTest, EveryCfKeepsDataAcrossReopen)
{
    for (int i = 0; i < KV_CF_COUNT; i++)
        Put((enum kv_cf)i, "key", std::string("value of ") + kCfNames[i]);
    Reopen();
    for (int i = 0; i < KV_CF_COUNT; i++)
        EXPECT_EQ(Get((enum kv_cf)i, "key"), std::string("value of ") + kCfNames[i]);
    // And after a flush to SST files and another reopen.
    struct kv_err err;
    ASSERT_EQ(storage_flush(st_, &err), KV_OK) << err.msg;
    EXPECT_GT(storage_sst_bytes(st_), 0u);
    Reopen();
    for (int i = 0; i < KV_CF_COUNT; i++) {
        EXPECT_EQ(Get((enum kv_cf)i, "key"), std::string("value of ") + kCfNames[i]);
        EXPECT_EQ(Keys((enum kv_cf)i), std::vector<std::string>{"key"});
    }
}

TEST_F(StorageApiTest, ManyWritesThroughFlushesSurviveReopen)
{
    // 1 MiB memtables: this writes several of them.
    std::string val(1000, 'x');
    for (int i = 0; i < 5000; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%06d", i);
        Put(KV_CF_SUBKEY, key, val + std::to_string(i));
    }
    Reopen();
    std::vector<std::string> keys = Keys(KV_CF_SUBKEY);
    ASSERT_EQ(keys.size(), 5000u);
    for (int i = 0; i < 5000; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%06d", i);
        EXPECT_EQ(keys[i], key);
    }
    EXPECT_EQ(Get(KV_CF_SUBKEY, "k004321"), val + "4321");
    EXPECT_GT(storage_sst_bytes(st_), 1000000u);
}

TEST_F(StorageApiTest, GetBasics)
{
    EXPECT_EQ(Get(KV_CF_METADATA, "absent"), "<notfound>");
    Put(KV_CF_METADATA, "empty", "");
    EXPECT_EQ(Get(KV_CF_METADATA, "empty"), "");
    std::string bin("\x00\xff\x00", 3);
    Put(KV_CF_METADATA, bin, bin + bin);
    EXPECT_EQ(Get(KV_CF_METADATA, bin), bin + bin);
    // Column families are separate key spaces.
    EXPECT_EQ(Get(KV_CF_SUBKEY, bin), "<notfound>");
    Del(KV_CF_METADATA, bin);
    EXPECT_EQ(Get(KV_CF_METADATA, bin), "<notfound>");
    EXPECT_STREQ(storage_path(st_), (dir_ + "/db").c_str());
}

TEST_F(StorageApiTest, LatestSeqCountsRecords)
{
    // A fresh DB: nothing written yet (the fixture's open writes nothing).
    EXPECT_EQ(storage_latest_seq(st_), 0u);
    Put(KV_CF_METADATA, "a", "1");
    EXPECT_EQ(storage_latest_seq(st_), 1u);

    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_log_data(b, kv_slice_cstr("3 6"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("b"), kv_slice_cstr("2"));
    storage_batch_put(b, KV_CF_SUBKEY, kv_slice_cstr("c"), kv_slice_cstr("3"));
    storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("a"));
    storage_batch_log_data(b, kv_slice_cstr("r 0123456789abcdef"));
    EXPECT_EQ(storage_batch_count(b), 3);
    Write(b);
    EXPECT_EQ(storage_latest_seq(st_), 4u);

    // delete_range: one record.
    storage_batch_clear(b);
    EXPECT_EQ(storage_batch_count(b), 0);
    storage_batch_delete_range(b, KV_CF_METADATA, kv_slice_cstr("a"), kv_slice_cstr("z"));
    EXPECT_EQ(storage_batch_count(b), 1);
    Write(b);
    EXPECT_EQ(storage_latest_seq(st_), 5u);

    // Log data alone consumes nothing; an empty batch neither.
    storage_batch_clear(b);
    storage_batch_log_data(b, kv_slice_cstr("only log"));
    EXPECT_EQ(storage_batch_count(b), 0);
    Write(b);
    EXPECT_EQ(storage_latest_seq(st_), 5u);
    storage_batch_clear(b);
    Write(b);
    EXPECT_EQ(storage_latest_seq(st_), 5u);
    storage_batch_free(b);

    // The sequence survives a reopen.
    Reopen();
    EXPECT_EQ(storage_latest_seq(st_), 5u);
    Put(KV_CF_METADATA, "x", "y");
    EXPECT_EQ(storage_latest_seq(st_), 6u);
}

TEST_F(StorageApiTest, BatchIsAtomicForReaders)
{
    // A writer updates two keys in different CFs in one batch; readers with snapshots never see
    // them differ.
    Put(KV_CF_METADATA, "a", "0");
    Put(KV_CF_SUBKEY, "b", "0");
    std::atomic<bool> stop{false};
    std::atomic<int> mismatches{0}, reads{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; r++) {
        readers.emplace_back([&] {
            while (!stop.load()) {
                struct storage_snapshot *snap = storage_snapshot_new(st_);
                std::string a = Get(KV_CF_METADATA, "a", snap);
                std::string b = Get(KV_CF_SUBKEY, "b", snap);
                storage_snapshot_free(st_, snap);
                if (a != b)
                    mismatches++;
                reads++;
            }
        });
    }
    struct storage_batch *b = storage_batch_new(st_);
    for (int i = 1; i <= 3000; i++) {
        storage_batch_clear(b);
        std::string v = std::to_string(i);
        storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("a"), S(v));
        storage_batch_put(b, KV_CF_SUBKEY, kv_slice_cstr("b"), S(v));
        Write(b);
    }
    storage_batch_free(b);
    stop = true;
    for (auto &t : readers)
        t.join();
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(Get(KV_CF_METADATA, "a"), "3000");
    EXPECT_EQ(storage_latest_seq(st_), 2u + 2 * 3000);
}

TEST_F(StorageApiTest, IteratorBoundsSeekAndPrev)
{
    for (const char *k : {"a", "b", "c", "d", "e"})
        Put(KV_CF_METADATA, k, std::string("v") + k);
    Put(KV_CF_SUBKEY, "c2", "other cf");

    EXPECT_EQ(Keys(KV_CF_METADATA), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
    EXPECT_EQ(Keys(KV_CF_METADATA, kv_slice_cstr("b"), kv_slice_cstr("d")),
              (std::vector<std::string>{"b", "c"}));
    EXPECT_EQ(Keys(KV_CF_METADATA, kv_slice_cstr("bb"), kNone),
              (std::vector<std::string>{"c", "d", "e"}));
    EXPECT_EQ(Keys(KV_CF_METADATA, kNone, kv_slice_cstr("c")),
              (std::vector<std::string>{"a", "b"}));
    // An empty upper bound (keys_prefix_end of all-0xff) means none; so does an empty lower.
    EXPECT_EQ(Keys(KV_CF_METADATA, kv_slice_make("", 0), kv_slice_make("", 0)).size(), 5u);
    EXPECT_EQ(Keys(KV_CF_METADATA, kv_slice_cstr("x"), kNone).size(), 0u);

    // Bounds are copied: the caller's memory may change after creation.
    std::string lo = "b", hi = "d";
    struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_METADATA, S(lo), S(hi));
    lo[0] = 'a';
    hi[0] = 'z';
    storage_iter_seek_first(it);
    EXPECT_EQ(KeyAt(it), "b");
    EXPECT_EQ(Str(storage_iter_value(it)), "vb");
    storage_iter_next(it);
    EXPECT_EQ(KeyAt(it), "c");
    storage_iter_next(it);
    EXPECT_EQ(KeyAt(it), "<invalid>");

    storage_iter_seek_last(it);
    EXPECT_EQ(KeyAt(it), "c");
    storage_iter_prev(it);
    EXPECT_EQ(KeyAt(it), "b");
    storage_iter_prev(it);
    EXPECT_EQ(KeyAt(it), "<invalid>");

    storage_iter_seek(it, kv_slice_cstr("a")); // below the lower bound: lands on it
    EXPECT_EQ(KeyAt(it), "b");
    storage_iter_seek(it, kv_slice_cstr("bb"));
    EXPECT_EQ(KeyAt(it), "c");
    storage_iter_seek(it, kv_slice_cstr("d")); // at the upper bound: nothing
    EXPECT_EQ(KeyAt(it), "<invalid>");

    storage_iter_seek_for_prev(it, kv_slice_cstr("c"));
    EXPECT_EQ(KeyAt(it), "c");
    storage_iter_seek_for_prev(it, kv_slice_cstr("bz"));
    EXPECT_EQ(KeyAt(it), "b");
    storage_iter_seek_for_prev(it, kv_slice_cstr("zz")); // above the upper bound: last inside
    EXPECT_EQ(KeyAt(it), "c");
    storage_iter_seek_for_prev(it, kv_slice_cstr("a"));
    EXPECT_EQ(KeyAt(it), "<invalid>");
    EXPECT_EQ(storage_iter_status(it, nullptr), KV_OK);
    storage_iter_free(it);

    // Unbounded: prev walks back from seek_for_prev.
    it = storage_iter_new(st_, nullptr, KV_CF_METADATA, kNone, kNone);
    storage_iter_seek_for_prev(it, kv_slice_cstr("cc"));
    std::string walked;
    for (; storage_iter_valid(it); storage_iter_prev(it))
        walked += Str(storage_iter_key(it));
    EXPECT_EQ(walked, "cba");
    storage_iter_free(it);
    storage_iter_free(nullptr);
}

TEST_F(StorageApiTest, IteratorSeesDeletesAndFlushedData)
{
    for (int i = 0; i < 10; i++)
        Put(KV_CF_ZSET_SCORE, "k" + std::to_string(i), "v");
    struct kv_err err;
    ASSERT_EQ(storage_flush(st_, &err), KV_OK);
    Del(KV_CF_ZSET_SCORE, "k3");
    Put(KV_CF_ZSET_SCORE, "k35", "v");
    EXPECT_EQ(Keys(KV_CF_ZSET_SCORE, kv_slice_cstr("k2"), kv_slice_cstr("k5")),
              (std::vector<std::string>{"k2", "k35", "k4"}));
}

TEST_F(StorageApiTest, SnapshotIsolation)
{
    Put(KV_CF_METADATA, "k", "v1");
    Put(KV_CF_METADATA, "gone", "x");
    uint64_t seq = storage_latest_seq(st_);
    struct storage_snapshot *snap = storage_snapshot_new(st_);
    EXPECT_EQ(storage_snapshot_seq(snap), seq);
    EXPECT_EQ(storage_snapshot_seq(snap), 2u);

    Put(KV_CF_METADATA, "k", "v2");
    Put(KV_CF_METADATA, "new", "n");
    Del(KV_CF_METADATA, "gone");
    struct kv_err err;
    ASSERT_EQ(storage_flush(st_, &err), KV_OK); // the snapshot survives flushes
    EXPECT_EQ(storage_snapshot_seq(snap), 2u);
    EXPECT_EQ(storage_latest_seq(st_), 5u);

    EXPECT_EQ(Get(KV_CF_METADATA, "k", snap), "v1");
    EXPECT_EQ(Get(KV_CF_METADATA, "k"), "v2");
    EXPECT_EQ(Get(KV_CF_METADATA, "new", snap), "<notfound>");
    EXPECT_EQ(Get(KV_CF_METADATA, "gone", snap), "x");
    EXPECT_EQ(Get(KV_CF_METADATA, "gone"), "<notfound>");
    EXPECT_EQ(Keys(KV_CF_METADATA, kNone, kNone, snap), (std::vector<std::string>{"gone", "k"}));
    EXPECT_EQ(Keys(KV_CF_METADATA), (std::vector<std::string>{"k", "new"}));

    struct storage_snapshot *snap2 = storage_snapshot_new(st_);
    EXPECT_EQ(storage_snapshot_seq(snap2), 5u);
    storage_snapshot_free(st_, snap2);
    storage_snapshot_free(st_, snap);
    storage_snapshot_free(st_, nullptr);
}

TEST_F(StorageApiTest, SnapshotSeqUnderConcurrentWrites)
{
    // The snapshot's sequence is exact even while another thread writes: a snapshot sees key
    // "n" (written with sequence n) iff n <= its sequence.
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        for (int i = 1; !stop.load() && i < 200000; i++)
            Put(KV_CF_METADATA, std::to_string(i), "v");
    });
    for (int i = 0; i < 200; i++) {
        struct storage_snapshot *snap = storage_snapshot_new(st_);
        uint64_t s = storage_snapshot_seq(snap);
        if (s > 0) {
            EXPECT_EQ(Get(KV_CF_METADATA, std::to_string(s), snap), "v");
        }
        EXPECT_EQ(Get(KV_CF_METADATA, std::to_string(s + 1), snap), "<notfound>");
        storage_snapshot_free(st_, snap);
    }
    stop = true;
    writer.join();
}

TEST_F(StorageApiTest, DeleteRange)
{
    for (const char *k : {"a", "b", "ba", "c", "d", "e"})
        Put(KV_CF_PROPAGATE, k, "v");
    Put(KV_CF_SUBKEY, "b", "v");
    // (The propagate CF has no compaction filter: raw values in the metadata CF would be read as
    // metadata records by its filter.)
    struct kv_err err;
    ASSERT_EQ(storage_flush(st_, &err), KV_OK); // some in SST files, some in the memtable
    Put(KV_CF_PROPAGATE, "bb", "v");

    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_delete_range(b, KV_CF_PROPAGATE, kv_slice_cstr("b"), kv_slice_cstr("d"));
    Write(b);
    storage_batch_free(b);
    EXPECT_EQ(Keys(KV_CF_PROPAGATE), (std::vector<std::string>{"a", "d", "e"}));
    EXPECT_EQ(Get(KV_CF_PROPAGATE, "c"), "<notfound>");
    EXPECT_EQ(Get(KV_CF_SUBKEY, "b"), "v"); // other CFs untouched

    // Writes after the range delete are visible; it stays deleted after compaction and reopen.
    Put(KV_CF_PROPAGATE, "c", "again");
    ASSERT_EQ(storage_compact(st_, KV_CF_PROPAGATE, kNone, kNone, &err), KV_OK);
    Reopen();
    EXPECT_EQ(Keys(KV_CF_PROPAGATE), (std::vector<std::string>{"a", "c", "d", "e"}));
    EXPECT_EQ(Get(KV_CF_PROPAGATE, "c"), "again");
}

TEST_F(StorageApiTest, BatchDataRoundTrip)
{
    struct storage *other = OpenOther("db2");
    ASSERT_NE(other, nullptr);
    Put(KV_CF_METADATA, "old", "x");
    struct storage_batch *pre = storage_batch_new(other);
    storage_batch_put(pre, KV_CF_METADATA, kv_slice_cstr("old"), kv_slice_cstr("x"));
    storage_batch_put(pre, KV_CF_SUBKEY, kv_slice_cstr("r2"), kv_slice_cstr("x"));
    Write(pre, other);
    storage_batch_free(pre);

    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_log_data(b, kv_slice_cstr("2"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("m"), S(std::string("\x82\x00v", 3)));
    storage_batch_put(b, KV_CF_SUBKEY, kv_slice_cstr("s"), kv_slice_cstr("field"));
    storage_batch_put(b, KV_CF_PROPAGATE, kv_slice_cstr("script"), kv_slice_cstr("flush"));
    storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("old"));
    storage_batch_delete_range(b, KV_CF_SUBKEY, kv_slice_cstr("r1"), kv_slice_cstr("r3"));
    std::string wire = Str(storage_batch_data(b));

    struct storage_batch *copy = storage_batch_from_data(S(wire));
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(Str(storage_batch_data(copy)), wire);
    EXPECT_EQ(storage_batch_count(copy), 5);

    // Applied to both DBs, the same records land.
    Write(b);
    uint64_t before = storage_latest_seq(other);
    Write(copy, other);
    EXPECT_EQ(storage_latest_seq(other), before + 5);
    for (struct storage *s : {st_, other}) {
        EXPECT_EQ(Get(KV_CF_METADATA, "m", nullptr, s), std::string("\x82\x00v", 3));
        EXPECT_EQ(Get(KV_CF_SUBKEY, "s", nullptr, s), "field");
        EXPECT_EQ(Get(KV_CF_PROPAGATE, "script", nullptr, s), "flush");
        EXPECT_EQ(Get(KV_CF_METADATA, "old", nullptr, s), "<notfound>");
        EXPECT_EQ(Get(KV_CF_SUBKEY, "r2", nullptr, s), "<notfound>");
    }
    storage_batch_free(copy);
    storage_batch_free(b);
    storage_batch_free(nullptr);
    storage_close(other);

    // Too short to hold a batch header.
    EXPECT_EQ(storage_batch_from_data(S(std::string(11, '\0'))), nullptr);
    EXPECT_EQ(storage_batch_from_data(kv_slice_make("", 0)), nullptr);
    // A bare header is an empty batch: writing it is a no-op.
    struct storage_batch *empty = storage_batch_from_data(S(std::string(12, '\0')));
    ASSERT_NE(empty, nullptr);
    EXPECT_EQ(storage_batch_count(empty), 0);
    uint64_t seq = storage_latest_seq(st_);
    Write(empty);
    EXPECT_EQ(storage_latest_seq(st_), seq);
    storage_batch_free(empty);
}

TEST_F(StorageApiTest, SizedBatchIsAnOrdinaryBatch)
{
    // Below the threshold, at it and above it; the last one outgrows its room.
    for (size_t room : {size_t(0), size_t(100), size_t(1) << 20, size_t(3) << 20}) {
        SCOPED_TRACE(room);
        struct storage_batch *b = storage_batch_new_sized(st_, room);
        struct storage_batch *plain = storage_batch_new(st_);
        EXPECT_EQ(storage_batch_count(b), 0);
        EXPECT_EQ(Str(storage_batch_data(b)), Str(storage_batch_data(plain)));
        std::string big(300000, 'v');
        for (struct storage_batch *x : {b, plain}) {
            storage_batch_log_data(x, kv_slice_cstr("6 10 NOT k"));
            for (int i = 0; i < 20; i++) {
                std::string k = "sized" + std::to_string(i);
                storage_batch_put(x, KV_CF_SUBKEY, S(k), S(big.substr(0, 1000 + 15000 * i)));
            }
            storage_batch_delete(x, KV_CF_METADATA, kv_slice_cstr("gone"));
        }
        EXPECT_EQ(storage_batch_count(b), 21);
        EXPECT_EQ(Str(storage_batch_data(b)), Str(storage_batch_data(plain)));
        uint64_t seq = storage_latest_seq(st_);
        Write(b);
        EXPECT_EQ(storage_latest_seq(st_), seq + 21);
        EXPECT_EQ(Get(KV_CF_SUBKEY, "sized19"), big.substr(0, 1000 + 15000 * 19));
        storage_batch_free(b);
        storage_batch_free(plain);
    }
}

TEST_F(StorageApiTest, MalformedBatchDataIsRefused)
{
    // RocksDB would only notice these after logging the batch to the WAL, and then refuse all
    // writes and fail to reopen: storage refuses them before they get near RocksDB.
    const std::string hdr0(8, '\0');
    auto count = [](uint32_t n) {
        return std::string(1, (char)(n & 0xff)) + std::string(1, (char)(n >> 8)) +
               std::string(2, '\0');
    };
    struct {
        std::string wire;
        const char *why;
    } bad[] = {
        {std::string(11, '\0'), "shorter than its header"},
        {hdr0 + count(1) + std::string("\x42garbage", 8), "unsupported tag 0x42"},
        {hdr0 + count(1) + std::string("\x02\x01k\x01v", 5), "unsupported tag 0x02"}, // merge
        {hdr0 + count(1) + std::string("\x09", 1), "unsupported tag 0x09"},           // 2PC
        {hdr0 + count(1) + std::string("\x01\x05k", 3), "truncated"},                 // key cut
        {hdr0 + count(1) + std::string("\x01\x01k", 3), "truncated"},                 // no value
        {hdr0 + count(1) + std::string("\x01\x01k\x02v", 5), "truncated"},            // value cut
        {hdr0 + count(1) + std::string("\x05", 1), "truncated"},                      // no CF id
        {hdr0 + count(1) + std::string("\x05\x80", 2), "truncated"},                  // CF id cut
        {hdr0 + count(1) + std::string("\x01\xff\xff\xff\xff\xff", 6), "truncated"},  // varint
        {hdr0 + count(1) + std::string("\x05\x07\x01k\x01v", 6), "column family 7"},
        {hdr0 + count(1) + std::string("\x04\x80\x01\x01k", 5), "column family 128"},
        {hdr0 + count(2) + std::string("\x01\x01k\x01v", 5), "counts 2 records but it holds 1"},
        {hdr0 + count(0) + std::string("\x00\x01k", 3), "counts 0 records but it holds 1"},
        {hdr0 + count(1) + std::string("\x03\x01L", 3), "counts 1 records but it holds 0"},
    };
    uint64_t seq = storage_latest_seq(st_);
    for (const auto &c : bad) {
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(storage_batch_validate(S(c.wire), &err), KV_ERR_CORRUPT) << c.why;
        EXPECT_NE(std::string(err.msg).find(c.why), std::string::npos)
            << "want '" << c.why << "', got '" << err.msg << "'";
        EXPECT_EQ(storage_batch_from_data(S(c.wire)), nullptr) << c.why;
    }
    EXPECT_EQ(storage_latest_seq(st_), seq);

    // What RocksDB writes passes, including every record kind we use.
    const std::string good[] = {
        hdr0 + count(0),
        hdr0 + count(0) + std::string("\x03\x00\x0d", 3),           // empty log data, noop
        hdr0 + count(1) + std::string("\x01\x00\x00", 3),           // empty key and value
        hdr0 + count(2) + std::string("\x07\x01k\x08\x06\x01k", 7), // single deletes
        hdr0 + count(1) +
            std::string("\x0e\x06\x01"
                        "a\x01"
                        "b",
                        6),
    };
    for (const std::string &g : good) {
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(storage_batch_validate(S(g), &err), KV_OK) << err.msg;
        struct storage_batch *b = storage_batch_from_data(S(g));
        ASSERT_NE(b, nullptr);
        Write(b);
        storage_batch_free(b);
    }
    EXPECT_EQ(storage_latest_seq(st_), seq + 4);
    // The DB is healthy: it still takes writes and reopens.
    Put(KV_CF_PROPAGATE, "k", "v");
    Reopen();
    EXPECT_EQ(Get(KV_CF_PROPAGATE, "k"), "v");
}

TEST_F(StorageApiTest, Properties)
{
    Put(KV_CF_METADATA, "a", "1");
    struct kv_buf out = KV_BUF_INIT;
    EXPECT_EQ(storage_property(st_, KV_CF_METADATA, "rocksdb.estimate-num-keys", &out), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "1");
    EXPECT_EQ(storage_property(st_, KV_CF_METADATA, "rocksdb.no-such-property", &out), KV_NOTFOUND);
    EXPECT_EQ(out.len, 0u);
    kv_buf_deinit(&out);
    EXPECT_EQ(storage_property_int(st_, KV_CF_METADATA, "rocksdb.estimate-num-keys"), 1u);
    EXPECT_EQ(storage_property_int(st_, KV_CF_SUBKEY, "rocksdb.estimate-num-keys"), 0u);
    EXPECT_EQ(storage_property_int(st_, KV_CF_METADATA, "rocksdb.no-such-property"), 0u);
}

TEST_F(StorageApiTest, OpenFailuresLeaveNothingOpen)
{
    struct kv_err err;
    kv_err_clear(&err);
    // The directory is already open (RocksDB's LOCK file).
    struct storage *st = (struct storage *)0x1;
    EXPECT_EQ(storage_open(cfg_, (dir_ + "/db").c_str(), &st, &err), KV_ERR_IO);
    EXPECT_EQ(st, (struct storage *)0x1);
    EXPECT_NE(std::string(err.msg).find("open rocksdb"), std::string::npos) << err.msg;
    // A regular file where the directory should be.
    WriteFile(dir_ + "/file", "x");
    kv_err_clear(&err);
    EXPECT_NE(storage_open(cfg_, (dir_ + "/file").c_str(), &st, &err), KV_OK);
    EXPECT_EQ(st, (struct storage *)0x1);
    storage_close(nullptr);
}

TEST_F(StorageApiTest, ClusterModeMarker)
{
    // The fixture opened db in non-cluster mode: the marker says so.
    EXPECT_EQ(ReadFile(dir_ + "/db/KVROCKS_CLUSTER_MODE"), "no\n");
    Put(KV_CF_METADATA, "k", "v");
    Close();

    cfg_->cluster_enabled = true;
    struct storage *st = nullptr;
    struct kv_err err;
    kv_err_clear(&err);
    EXPECT_EQ(storage_open(cfg_, (dir_ + "/db").c_str(), &st, &err), KV_ERR_INVALID);
    EXPECT_EQ(st, nullptr);
    std::string msg = err.msg;
    EXPECT_NE(msg.find("cluster-enabled no"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cluster-enabled yes"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir_ + "/db"), std::string::npos) << msg;
    EXPECT_EQ(ReadFile(dir_ + "/db/KVROCKS_CLUSTER_MODE"), "no\n");

    // A fresh directory in cluster mode records "yes" and refuses non-cluster mode.
    struct storage *c = OpenOther("cdb", true);
    ASSERT_NE(c, nullptr);
    storage_close(c);
    EXPECT_EQ(ReadFile(dir_ + "/cdb/KVROCKS_CLUSTER_MODE"), "yes\n");
    cfg_->cluster_enabled = false;
    kv_err_clear(&err);
    EXPECT_EQ(storage_open(cfg_, (dir_ + "/cdb").c_str(), &st, &err), KV_ERR_INVALID);
    EXPECT_NE(std::string(err.msg).find("cluster-enabled yes"), std::string::npos) << err.msg;

    // An unreadable marker is refused too; a missing one is re-created with the current mode.
    WriteFile(dir_ + "/cdb/KVROCKS_CLUSTER_MODE", "maybe\n");
    kv_err_clear(&err);
    EXPECT_EQ(storage_open(cfg_, (dir_ + "/cdb").c_str(), &st, &err), KV_ERR_INVALID);
    EXPECT_NE(std::string(err.msg).find("KVROCKS_CLUSTER_MODE"), std::string::npos) << err.msg;
    ASSERT_EQ(remove((dir_ + "/cdb/KVROCKS_CLUSTER_MODE").c_str()), 0);
    c = OpenOther("cdb", false);
    ASSERT_NE(c, nullptr);
    storage_close(c);
    EXPECT_EQ(ReadFile(dir_ + "/cdb/KVROCKS_CLUSTER_MODE"), "no\n");

    // The original directory still opens in its own mode with its data.
    Open();
    EXPECT_EQ(Get(KV_CF_METADATA, "k"), "v");
}

TEST_F(StorageApiTest, CancelBackgroundThenClose)
{
    std::string val(4000, 'y');
    for (int i = 0; i < 2000; i++)
        Put(KV_CF_SUBKEY, "k" + std::to_string(i), val);
    storage_cancel_background(st_);
    storage_cancel_background(nullptr);
    // Reads still work; the fixture closes.
    EXPECT_EQ(Get(KV_CF_SUBKEY, "k7"), val);
}

TEST_F(StorageApiTest, SetCfOption)
{
    struct kv_err err;
    kv_err_clear(&err);
    EXPECT_EQ(storage_set_cf_option(st_, "write_buffer_size", "2097152", &err), KV_OK) << err.msg;
    EXPECT_EQ(storage_set_cf_option(st_, "disable_auto_compactions", "true", &err), KV_OK)
        << err.msg;
    EXPECT_EQ(storage_set_cf_option(st_, "level0_file_num_compaction_trigger", "8", &err), KV_OK)
        << err.msg;
    EXPECT_EQ(storage_set_cf_option(st_, "compression_per_level",
                                    "kNoCompression:kNoCompression:kNoCompression:kNoCompression:"
                                    "kNoCompression:kNoCompression:kNoCompression",
                                    &err),
              KV_OK)
        << err.msg;
    kv_err_clear(&err);
    EXPECT_EQ(storage_set_cf_option(st_, "no_such_option", "1", &err), KV_ERR_INVALID);
    EXPECT_NE(err.msg[0], '\0');
    kv_err_clear(&err);
    EXPECT_EQ(storage_set_cf_option(st_, "write_buffer_size", "lots", &err), KV_ERR_INVALID);
    EXPECT_NE(err.msg[0], '\0');
    // The DB still works with the new options.
    Put(KV_CF_METADATA, "k", "v");
    Reopen();
    EXPECT_EQ(Get(KV_CF_METADATA, "k"), "v");
}

TEST_F(StorageApiTest, ReadAndWriteCounters)
{
    auto read = [&](enum kv_cf cf) { return storage_keys_read(st_, cf); };
    auto written = [&](enum kv_cf cf) { return storage_keys_written(st_, cf); };
    uint64_t r_meta = read(KV_CF_METADATA), r_sub = read(KV_CF_SUBKEY);
    uint64_t w_meta = written(KV_CF_METADATA), w_sub = written(KV_CF_SUBKEY);

    // Writes: every put, delete and range delete, per CF; a cleared batch forgets its records.
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_put(b, KV_CF_SUBKEY, kv_slice_cstr("dropped"), kv_slice_cstr("v"));
    storage_batch_clear(b);
    storage_batch_log_data(b, kv_slice_cstr("log"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("m"), kv_slice_cstr("v"));
    for (const char *k : {"x", "y", "z"})
        storage_batch_put(b, KV_CF_SUBKEY, kv_slice_cstr(k), kv_slice_cstr("v"));
    storage_batch_delete(b, KV_CF_SUBKEY, kv_slice_cstr("w"));
    storage_batch_delete_range(b, KV_CF_SUBKEY, kv_slice_cstr("a"), kv_slice_cstr("b"));
    Write(b);
    EXPECT_EQ(written(KV_CF_METADATA), w_meta + 1);
    EXPECT_EQ(written(KV_CF_SUBKEY), w_sub + 5);

    // A batch rebuilt from its wire form, and a raw write, count the same records.
    std::string wire = Str(storage_batch_data(b));
    struct storage_batch *copy = storage_batch_from_data(S(wire));
    ASSERT_NE(copy, nullptr);
    Write(copy);
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(storage_write_raw(st_, S(wire), nullptr, &err), KV_OK) << err.msg;
    EXPECT_EQ(written(KV_CF_METADATA), w_meta + 3);
    EXPECT_EQ(written(KV_CF_SUBKEY), w_sub + 15);
    storage_batch_free(copy);
    storage_batch_free(b);
    EXPECT_EQ(read(KV_CF_METADATA), r_meta);
    EXPECT_EQ(read(KV_CF_SUBKEY), r_sub);

    // Reads: each point read (found or not), and each iterator seek and step, counted when the
    // iterator is freed.
    EXPECT_EQ(Get(KV_CF_SUBKEY, "x"), "v");
    EXPECT_EQ(Get(KV_CF_SUBKEY, "nope"), "<notfound>");
    EXPECT_EQ(read(KV_CF_SUBKEY), r_sub + 2);
    struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_SUBKEY, kNone, kNone);
    storage_iter_seek(it, kv_slice_cstr("y"));
    storage_iter_next(it);
    storage_iter_prev(it);
    EXPECT_EQ(KeyAt(it), "y");
    EXPECT_EQ(read(KV_CF_SUBKEY), r_sub + 2);
    storage_iter_free(it);
    EXPECT_EQ(read(KV_CF_SUBKEY), r_sub + 5);
    EXPECT_EQ(Keys(KV_CF_SUBKEY), (std::vector<std::string>{"x", "y", "z"}));
    EXPECT_EQ(read(KV_CF_SUBKEY), r_sub + 9); // seek_first, then 3 steps (the last runs off)
    EXPECT_EQ(read(KV_CF_METADATA), r_meta);
}

// Group commit: a staging thread's writes wait in its stage; its own point reads see them, other
// threads do not, until storage_stage_commit writes them as one batch.
TEST_F(StorageApiTest, StagedWritesAreReadByTheirThreadOnlyUntilCommitted)
{
    Put(KV_CF_METADATA, "old", "1");
    Put(KV_CF_METADATA, "gone", "1");
    uint64_t seq = storage_latest_seq(st_);
    uint64_t w_meta = storage_keys_written(st_, KV_CF_METADATA);
    auto other_thread_get = [&](const std::string &k) {
        std::string out;
        std::thread t([&] { out = Get(KV_CF_METADATA, k); });
        t.join();
        return out;
    };
    EXPECT_FALSE(storage_stage_enable(true));
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_log_data(b, kv_slice_cstr("cmd 1"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("new"), kv_slice_cstr("a"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("old"), kv_slice_cstr("2"));
    storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("gone"));
    Write(b);
    storage_batch_clear(b);
    storage_batch_log_data(b, kv_slice_cstr("cmd 2"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("new"), kv_slice_cstr("b"));
    storage_batch_put(b, KV_CF_SUBKEY, kv_slice_cstr("new"), kv_slice_cstr("sub"));
    Write(b);
    EXPECT_TRUE(storage_stage_pending());
    EXPECT_TRUE(storage_has_staged(st_));
    EXPECT_EQ(storage_latest_seq(st_), seq);

    // This thread: the latest staged record of each key wins; others come from the DB.
    EXPECT_EQ(Get(KV_CF_METADATA, "new"), "b");
    EXPECT_EQ(Get(KV_CF_METADATA, "old"), "2");
    EXPECT_EQ(Get(KV_CF_METADATA, "gone"), "<notfound>");
    EXPECT_EQ(Get(KV_CF_SUBKEY, "new"), "sub");
    EXPECT_EQ(Get(KV_CF_SUBKEY, "old"), "<notfound>");
    // Another thread sees the DB only.
    EXPECT_EQ(other_thread_get("new"), "<notfound>");
    EXPECT_EQ(other_thread_get("old"), "1");
    EXPECT_EQ(other_thread_get("gone"), "1");

    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(storage_stage_commit(&err), KV_OK) << err.msg;
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_FALSE(storage_has_staged(st_));
    EXPECT_FALSE(storage_stage_take_failure());
    // One batch with both commands' records in order, less the first put of "new", which the
    // second replaced.
    EXPECT_EQ(storage_latest_seq(st_), seq + 4);
    EXPECT_EQ(storage_keys_written(st_, KV_CF_METADATA), w_meta + 3);
    EXPECT_EQ(BatchRecords(st_, seq + 1),
              (std::vector<std::string>{"log cmd 1", "del metadata", "log cmd 2", "put default",
                                        "put metadata", "put metadata"}));
    EXPECT_EQ(other_thread_get("new"), "b");
    EXPECT_EQ(other_thread_get("old"), "2");
    EXPECT_EQ(other_thread_get("gone"), "<notfound>");
    storage_batch_free(b);
    EXPECT_TRUE(storage_stage_enable(false));
}

// Group commit writes each key of metadata, subkey and zset_score only once per commit, with
// its latest record (put or delete); the records of pubsub and propagate are messages and all
// stay; log data stays where it was.
TEST_F(StorageApiTest, CommitLeavesOutSupersededRecords)
{
    Put(KV_CF_METADATA, "del-put", "old");
    Put(KV_CF_METADATA, "put-del", "old");
    uint64_t seq = storage_latest_seq(st_) + 1;
    storage_stage_enable(true);
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_log_data(b, kv_slice_cstr("c1"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("m"), kv_slice_cstr("1"));
    storage_batch_put(b, KV_CF_SUBKEY, kv_slice_cstr("m"), kv_slice_cstr("sub1"));
    storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("del-put"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("put-del"), kv_slice_cstr("new"));
    storage_batch_put(b, KV_CF_PUBSUB, kv_slice_cstr("chan"), kv_slice_cstr("msg1"));
    Write(b);
    storage_batch_clear(b);
    storage_batch_log_data(b, kv_slice_cstr("c2"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("m"), kv_slice_cstr("2"));
    storage_batch_delete(b, KV_CF_ZSET_SCORE, kv_slice_cstr("s"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("del-put"), kv_slice_cstr("new"));
    storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("put-del"));
    storage_batch_put(b, KV_CF_PUBSUB, kv_slice_cstr("chan"), kv_slice_cstr("msg2"));
    Write(b);
    storage_batch_clear(b);
    storage_batch_log_data(b, kv_slice_cstr("c3"));
    storage_batch_put(b, KV_CF_METADATA, kv_slice_cstr("m"), kv_slice_cstr("3"));
    storage_batch_put(b, KV_CF_ZSET_SCORE, kv_slice_cstr("s"), kv_slice_cstr("z"));
    storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("never"));
    storage_batch_delete(b, KV_CF_METADATA, kv_slice_cstr("never"));
    Write(b);
    storage_batch_free(b);
    EXPECT_EQ(Get(KV_CF_METADATA, "m"), "3");
    ASSERT_EQ(storage_stage_commit(nullptr), KV_OK);
    storage_stage_enable(false);

    EXPECT_EQ(WalRecords(st_, seq, true),
              (std::vector<std::string>{
                  "log c1", "put default m=sub1", "put pubsub chan=msg1", "log c2",
                  "put metadata del-put=new", "del metadata put-del", "put pubsub chan=msg2",
                  "log c3", "put metadata m=3", "put zset_score s=z", "del metadata never"}));
    EXPECT_EQ(storage_latest_seq(st_), seq + 7);
    EXPECT_EQ(Get(KV_CF_METADATA, "m"), "3");
    EXPECT_EQ(Get(KV_CF_SUBKEY, "m"), "sub1");
    EXPECT_EQ(Get(KV_CF_METADATA, "del-put"), "new");
    EXPECT_EQ(Get(KV_CF_METADATA, "put-del"), "<notfound>");
    EXPECT_EQ(Get(KV_CF_ZSET_SCORE, "s"), "z");
}

// Many staged writes over few keys (the index grows and is cleared between commits): after each
// commit the DB holds exactly what writing every record one by one would have left.
TEST_F(StorageApiTest, CompactedCommitsMatchAModel)
{
    std::map<std::string, std::string> model; // "<cf>/<key>" -> value; absent: deleted
    uint32_t rnd = 12345;
    auto next = [&rnd] {
        rnd = rnd * 1103515245u + 12345u;
        return rnd >> 8;
    };
    const enum kv_cf cfs[] = {KV_CF_METADATA, KV_CF_SUBKEY, KV_CF_ZSET_SCORE};
    storage_stage_enable(true);
    for (int round = 0; round < 20; round++) {
        int writes = 1 + (int)(next() % 3000);
        for (int i = 0; i < writes; i++) {
            enum kv_cf cf = cfs[next() % 3];
            std::string key = "k" + std::to_string(next() % (round % 2 == 0 ? 20 : 5000));
            std::string id = std::to_string((int)cf) + "/" + key;
            if (next() % 4 == 0) {
                Del(cf, key);
                model.erase(id);
            } else {
                std::string v = "v" + std::to_string(next());
                Put(cf, key, v);
                model[id] = v;
            }
        }
        ASSERT_EQ(storage_stage_commit(nullptr), KV_OK);
        std::map<std::string, std::string> db;
        for (enum kv_cf cf : cfs) {
            struct storage_iter *it = storage_iter_new(st_, nullptr, cf, kNone, kNone);
            for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
                struct kv_slice k = storage_iter_key(it), v = storage_iter_value(it);
                db[std::to_string((int)cf) + "/" + std::string(k.ptr, k.len)] =
                    std::string(v.ptr, v.len);
            }
            storage_iter_free(it);
        }
        ASSERT_EQ(db, model) << "round " << round;
    }
    storage_stage_enable(false);
}

TEST_F(StorageApiTest, IteratorsSnapshotsAndUnstageableBatchesCommitTheStageFirst)
{
    storage_stage_enable(true);
    uint64_t seq = storage_latest_seq(st_);
    Put(KV_CF_METADATA, "a", "1");
    EXPECT_EQ(storage_latest_seq(st_), seq);
    // An iterator reads the DB: the stage is committed when it opens.
    EXPECT_EQ(Keys(KV_CF_METADATA), std::vector<std::string>{"a"});
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), seq + 1);

    Put(KV_CF_METADATA, "b", "1");
    struct storage_snapshot *snap = storage_snapshot_new(st_);
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_snapshot_seq(snap), seq + 2);
    // Staged after the snapshot: the snapshot does not see it, a plain read does.
    Put(KV_CF_METADATA, "c", "1");
    EXPECT_EQ(Get(KV_CF_METADATA, "c", snap), "<notfound>");
    EXPECT_EQ(Get(KV_CF_METADATA, "c"), "1");
    storage_snapshot_free(st_, snap);

    // A range delete is written directly, after the stage.
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_delete_range(b, KV_CF_METADATA, kv_slice_cstr("a"), kv_slice_cstr("b"));
    Write(b);
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), seq + 4);
    EXPECT_EQ(Get(KV_CF_METADATA, "a"), "<notfound>");
    EXPECT_EQ(Get(KV_CF_METADATA, "c"), "1");
    storage_batch_free(b);

    // A big stage commits itself.
    std::string big(300 << 10, 'x');
    for (int i = 0; i < 4; i++)
        Put(KV_CF_SUBKEY, "big" + std::to_string(i), big);
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), seq + 8);

    // Staging off: written at once.
    storage_stage_enable(false);
    Put(KV_CF_METADATA, "d", "1");
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), seq + 9);
}

// A held stage (a transaction, EXEC): nothing but storage_stage_hold_end commits it, so every
// write of the hold reaches the DB in one batch. Meanwhile the thread reads it over the DB
// through point reads, iterators (bounds, both directions) and snapshots; other threads see the
// DB only. A range delete is still written at once, after what is staged.
TEST_F(StorageApiTest, AHeldStageIsCommittedAtTheEndOfTheHoldOnly)
{
    Put(KV_CF_METADATA, "a", "0");
    Put(KV_CF_METADATA, "c", "0");
    Put(KV_CF_SUBKEY, "x1", "0");
    Put(KV_CF_SUBKEY, "x3", "0");
    auto other_thread_keys = [&](enum kv_cf cf) {
        std::vector<std::string> out;
        std::thread t([&] { out = Keys(cf); });
        t.join();
        return out;
    };
    uint64_t seq = storage_latest_seq(st_);
    EXPECT_FALSE(storage_stage_held());
    storage_stage_hold_begin();
    EXPECT_TRUE(storage_stage_held());
    EXPECT_TRUE(storage_stage_enabled());
    Put(KV_CF_METADATA, "b", "1");
    Del(KV_CF_METADATA, "c");
    Put(KV_CF_METADATA, "a", "1");
    Put(KV_CF_SUBKEY, "x2", "1");
    Del(KV_CF_SUBKEY, "x3");
    EXPECT_EQ(storage_stage_commit(nullptr), KV_OK); // does nothing while held
    EXPECT_TRUE(storage_stage_pending());

    EXPECT_EQ(Get(KV_CF_METADATA, "a"), "1");
    EXPECT_EQ(Keys(KV_CF_METADATA), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(Keys(KV_CF_SUBKEY), (std::vector<std::string>{"x1", "x2"}));
    EXPECT_EQ(Keys(KV_CF_SUBKEY, kv_slice_cstr("x2"), kv_slice_cstr("x3")),
              std::vector<std::string>{"x2"});
    EXPECT_EQ(Keys(KV_CF_SUBKEY, kv_slice_cstr("x0"), kv_slice_cstr("x2")),
              std::vector<std::string>{"x1"});
    struct storage_iter *it =
        storage_iter_new(st_, nullptr, KV_CF_METADATA, kv_slice_cstr("a"), kv_slice_cstr("c"));
    storage_iter_seek_last(it);
    EXPECT_EQ(KeyAt(it), "b");
    EXPECT_EQ(Str(storage_iter_value(it)), "1");
    storage_iter_prev(it);
    EXPECT_EQ(KeyAt(it), "a");
    EXPECT_EQ(Str(storage_iter_value(it)), "1");
    storage_iter_prev(it);
    EXPECT_EQ(KeyAt(it), "<invalid>");
    storage_iter_seek_for_prev(it, kv_slice_cstr("zz"));
    EXPECT_EQ(KeyAt(it), "b");
    EXPECT_EQ(storage_iter_status(it, nullptr), KV_OK);
    storage_iter_free(it);
    struct storage_snapshot *snap = storage_snapshot_new(st_);
    EXPECT_EQ(Get(KV_CF_METADATA, "b", snap), "1");
    EXPECT_EQ(Get(KV_CF_METADATA, "c", snap), "<notfound>");
    EXPECT_EQ(Keys(KV_CF_METADATA, kNone, kNone, snap), (std::vector<std::string>{"a", "b"}));
    storage_snapshot_free(st_, snap);
    // A stage past 1 MiB stays too.
    std::string big(300 << 10, 'x');
    for (int i = 0; i < 4; i++)
        Put(KV_CF_SUBKEY, "y" + std::to_string(i), big);
    EXPECT_TRUE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), seq);
    EXPECT_EQ(other_thread_keys(KV_CF_METADATA), (std::vector<std::string>{"a", "c"}));

    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(storage_stage_hold_end(&err), KV_OK) << err.msg;
    EXPECT_FALSE(storage_stage_held());
    EXPECT_FALSE(storage_stage_enabled()); // as before the hold
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), seq + 9); // one batch of every record of the hold
    EXPECT_EQ(BatchRecords(st_, seq + 1).size(), 9u);
    EXPECT_EQ(other_thread_keys(KV_CF_METADATA), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(other_thread_keys(KV_CF_SUBKEY),
              (std::vector<std::string>{"x1", "x2", "y0", "y1", "y2", "y3"}));

    // A range delete splits the hold: what was staged, then the range delete, at once.
    seq = storage_latest_seq(st_);
    storage_stage_hold_begin();
    Put(KV_CF_METADATA, "d", "1");
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_delete_range(b, KV_CF_METADATA, kv_slice_cstr("a"), kv_slice_cstr("c"));
    Write(b);
    storage_batch_free(b);
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), seq + 2);
    Put(KV_CF_METADATA, "e", "1");
    EXPECT_TRUE(storage_stage_pending());
    EXPECT_EQ(Keys(KV_CF_METADATA), (std::vector<std::string>{"d", "e"}));
    ASSERT_EQ(storage_stage_hold_end(nullptr), KV_OK);
    EXPECT_EQ(storage_latest_seq(st_), seq + 3);
    EXPECT_EQ(other_thread_keys(KV_CF_METADATA), (std::vector<std::string>{"d", "e"}));
}

// The sub-key cache (rowcache.h) in front of point reads of the default column family: every
// kind of write keeps it exact. A random model over a few keys, written by direct batches,
// staged commits, raw batches (as APPLYBATCH and replication write them) and range deletes;
// after each write every key is read through the cache and checked against the model, and
// against a snapshot read, which never uses the cache.
TEST_F(StorageApiTest, SubkeyCacheStaysExactThroughEveryKindOfWrite)
{
    std::map<std::string, std::string> model;
    uint32_t rnd = 777;
    auto next = [&rnd] {
        rnd = rnd * 1103515245u + 12345u;
        return rnd >> 8;
    };
    auto key = [](uint32_t i) { return "sk" + std::to_string(i % 24); };
    uint64_t hits = storage_row_cache_stats(st_, KV_CF_SUBKEY).hits;
    ASSERT_GT(storage_row_cache_stats(st_, KV_CF_SUBKEY).bytes, 0u);
    for (int step = 0; step < 600; step++) {
        int kind = (int)(next() % 5);
        struct storage_batch *b = storage_batch_new(st_);
        std::map<std::string, std::string> after = model;
        if (kind == 4) {
            // A range delete of a few keys (key order: "sk10" < "sk2" ...).
            std::string lo = key(next()), hi = key(next());
            if (hi < lo)
                std::swap(lo, hi);
            storage_batch_delete_range(b, KV_CF_SUBKEY, S(lo), S(hi));
            for (auto it = after.lower_bound(lo); it != after.end() && it->first < hi;)
                it = after.erase(it);
        } else {
            for (int n = 1 + (int)(next() % 4); n > 0; n--) {
                std::string k = key(next());
                if (next() % 3 == 0) {
                    storage_batch_delete(b, KV_CF_SUBKEY, S(k));
                    after.erase(k);
                } else {
                    std::string v = "v" + std::to_string(step) + "." + std::to_string(n);
                    storage_batch_put(b, KV_CF_SUBKEY, S(k), S(v));
                    after[k] = v;
                }
            }
        }
        struct kv_err err;
        kv_err_clear(&err);
        if (kind == 1) {
            storage_stage_enable(true);
            ASSERT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
            ASSERT_EQ(storage_stage_commit(&err), KV_OK) << err.msg;
            storage_stage_enable(false);
        } else if (kind == 2) {
            std::string wire = Str(storage_batch_data(b));
            ASSERT_EQ(storage_write_raw(st_, S(wire), nullptr, &err), KV_OK) << err.msg;
        } else {
            ASSERT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
        }
        storage_batch_free(b);
        model = after;
        struct storage_snapshot *snap = storage_snapshot_new(st_);
        for (uint32_t i = 0; i < 24; i++) {
            std::string k = key(i);
            std::string want = model.count(k) ? model[k] : "<notfound>";
            ASSERT_EQ(Get(KV_CF_SUBKEY, k), want) << "step " << step << " kind " << kind;
            ASSERT_EQ(Get(KV_CF_SUBKEY, k, snap), want) << "step " << step;
        }
        storage_snapshot_free(st_, snap);
    }
    EXPECT_GT(storage_row_cache_stats(st_, KV_CF_SUBKEY).hits,
              hits + 1000); // the reads did use the cache
}

// Reads through the cache never go back in time: one thread writes ever larger values to a few
// keys (by direct and raw batches in turn), others read each key through the cache and by
// snapshot in turn, and no reader ever sees a value older than one it saw before.
TEST_F(StorageApiTest, SubkeyCacheReadsNeverGoBackInTime)
{
    const int kKeys = 4;
    std::atomic<bool> stop{false};
    auto val = [](int n) {
        char buf[16];
        snprintf(buf, sizeof buf, "%08d", n);
        return std::string(buf);
    };
    std::thread writer([&] {
        for (int n = 1; n <= 20000 && !stop; n++) {
            struct storage_batch *b = storage_batch_new(st_);
            storage_batch_put(b, KV_CF_SUBKEY, S("mono" + std::to_string(n % kKeys)), S(val(n)));
            struct kv_err err;
            kv_err_clear(&err);
            enum kv_code rc;
            if (n % 2 == 0) {
                std::string wire = Str(storage_batch_data(b));
                rc = storage_write_raw(st_, S(wire), nullptr, &err);
            } else {
                rc = storage_write(st_, b, &err);
            }
            storage_batch_free(b);
            if (rc != KV_OK) {
                ADD_FAILURE() << err.msg;
                return;
            }
        }
    });
    std::vector<std::thread> readers;
    std::atomic<int> backwards{0};
    for (int r = 0; r < 3; r++) {
        readers.emplace_back([&, r] {
            std::string seen[kKeys];
            for (int i = 0; !stop; i++) {
                int k = (i + r) % kKeys;
                const struct storage_snapshot *snap = nullptr;
                struct storage_snapshot *owned = nullptr;
                if (i % 3 == 0)
                    snap = owned = storage_snapshot_new(st_);
                std::string v = Get(KV_CF_SUBKEY, "mono" + std::to_string(k), snap);
                if (owned != nullptr)
                    storage_snapshot_free(st_, owned);
                if (v == "<notfound>")
                    continue;
                if (v < seen[k])
                    backwards++;
                seen[k] = v;
            }
        });
    }
    writer.join();
    stop = true;
    for (auto &t : readers)
        t.join();
    EXPECT_EQ(backwards.load(), 0);
    EXPECT_GT(storage_row_cache_stats(st_, KV_CF_SUBKEY).hits, 0u);
}

// A write with more sub-key records than the cache follows one by one (storage.c,
// ROW_WRITES_MAX) makes the whole cache stale instead: a cached key it rewrites reads back new.
TEST_F(StorageApiTest, SubkeyCacheOfAHugeBatchStaysExact)
{
    Put(KV_CF_SUBKEY, "k00000", "old");
    Put(KV_CF_SUBKEY, "k69999", "old");
    EXPECT_EQ(Get(KV_CF_SUBKEY, "k00000"), "old"); // now cached
    EXPECT_EQ(Get(KV_CF_SUBKEY, "k69999"), "old");
    uint64_t hits = storage_row_cache_stats(st_, KV_CF_SUBKEY).hits;
    EXPECT_EQ(Get(KV_CF_SUBKEY, "k69999"), "old");
    EXPECT_EQ(storage_row_cache_stats(st_, KV_CF_SUBKEY).hits, hits + 1);
    for (bool raw : {false, true}) {
        struct storage_batch *b = storage_batch_new(st_);
        std::string v = raw ? "raw" : "direct";
        for (int i = 0; i < 70000; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%05d", i);
            storage_batch_put(b, KV_CF_SUBKEY, S(k), S(v));
        }
        struct kv_err err;
        kv_err_clear(&err);
        if (raw) {
            std::string wire = Str(storage_batch_data(b));
            ASSERT_EQ(storage_write_raw(st_, S(wire), nullptr, &err), KV_OK) << err.msg;
        } else {
            ASSERT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
        }
        storage_batch_free(b);
        EXPECT_EQ(Get(KV_CF_SUBKEY, "k00000"), v);
        EXPECT_EQ(Get(KV_CF_SUBKEY, "k69999"), v);
        EXPECT_EQ(Get(KV_CF_SUBKEY, "k69999"), v); // cached again by the read before
    }
}
