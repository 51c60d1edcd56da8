// SPDX-License-Identifier: Apache-2.0
//
// WAL access for replication: batches come back unchanged in order, PSYNC positions are accepted
// exactly at batch starts and at latest + 1, and an iterator follows writes made after it opened.
#include <string>
#include <vector>

#include "fixture.h"
#include "storage/wal.h"

namespace {

class WalTest : public StorageTest {
  protected:
    // Write one batch of n puts to the default CF; returns its first sequence.
    uint64_t
    WriteBatch(int n, const std::string &tag)
    {
        uint64_t first = storage_latest_seq(st_) + 1;
        struct storage_batch *b = storage_batch_new(st_);
        for (int i = 0; i < n; i++) {
            std::string k = tag + std::to_string(i);
            storage_batch_put(b, KV_CF_SUBKEY, S(k), S("v" + k));
        }
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
        storage_batch_free(b);
        return first;
    }
};

TEST_F(WalTest, BatchesInOrderWithTheirSequences)
{
    uint64_t s1 = WriteBatch(1, "a");
    uint64_t s2 = WriteBatch(3, "b");
    uint64_t s3 = WriteBatch(2, "c");
    EXPECT_EQ(s2, s1 + 1);
    EXPECT_EQ(s3, s2 + 3);
    struct kv_err err;
    struct wal_iter *it = nullptr;
    ASSERT_EQ(wal_iter_open(st_, s1, &it, &err), KV_OK) << err.msg;
    std::vector<std::pair<uint64_t, uint32_t>> got;
    for (;;) {
        uint64_t seq;
        uint32_t count;
        struct kv_slice rep;
        enum kv_code rc = wal_iter_batch(it, &seq, &count, &rep, &err);
        if (rc == KV_NOTFOUND)
            break;
        ASSERT_EQ(rc, KV_OK) << err.msg;
        uint64_t hseq;
        uint32_t hcount;
        ASSERT_TRUE(wal_batch_header(rep, &hseq, &hcount));
        EXPECT_EQ(hseq, seq);
        EXPECT_EQ(hcount, count);
        got.push_back({seq, count});
        wal_iter_next(it);
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], std::make_pair(s1, 1u));
    EXPECT_EQ(got[1], std::make_pair(s2, 3u));
    EXPECT_EQ(got[2], std::make_pair(s3, 2u));

    // Writes after the end are picked up by the same iterator.
    uint64_t s4 = WriteBatch(1, "d");
    uint64_t seq;
    uint32_t count;
    struct kv_slice rep;
    ASSERT_EQ(wal_iter_batch(it, &seq, &count, &rep, &err), KV_OK) << err.msg;
    EXPECT_EQ(seq, s4);
    wal_iter_free(it);
}

// A feeder alternates: a write arrives, it reads the batch, it finds nothing more. Every batch
// must come back once, in order, and while the WAL stays in one file the same RocksDB iterator
// keeps following the writes instead of being recreated for each batch.
TEST_F(WalTest, TailingFollowsWritesWithoutReopening)
{
    uint64_t first = WriteBatch(1, "t");
    struct kv_err err;
    struct wal_iter *it = nullptr;
    ASSERT_EQ(wal_iter_open(st_, first, &it, &err), KV_OK) << err.msg;
    uint64_t seq;
    uint32_t count;
    struct kv_slice rep;
    uint64_t expect = first;
    for (int i = 0; i < 200; i++) {
        if (i > 0)
            expect = WriteBatch(1 + i % 3, "t" + std::to_string(i) + "_");
        ASSERT_EQ(wal_iter_batch(it, &seq, &count, &rep, &err), KV_OK) << i << ": " << err.msg;
        ASSERT_EQ(seq, expect) << i;
        ASSERT_EQ(count, (uint32_t)(1 + i % 3)) << i;
        wal_iter_next(it);
        ASSERT_EQ(wal_iter_batch(it, &seq, &count, &rep, &err), KV_NOTFOUND) << i;
    }
    EXPECT_EQ(wal_iter_reopens(it), 0u);
    wal_iter_free(it);
}

// A memtable flush starts a new WAL file, which an open RocksDB iterator never sees: the
// iterator must notice and reopen, without skipping or repeating a batch.
TEST_F(WalTest, TailingCrossesWalFiles)
{
    uint64_t first = WriteBatch(2, "x");
    struct kv_err err;
    kv_err_clear(&err);
    struct wal_iter *it = nullptr;
    ASSERT_EQ(wal_iter_open(st_, first, &it, &err), KV_OK) << err.msg;
    uint64_t seq;
    uint32_t count;
    struct kv_slice rep;
    ASSERT_EQ(wal_iter_batch(it, &seq, &count, &rep, &err), KV_OK) << err.msg;
    wal_iter_next(it);
    ASSERT_EQ(wal_iter_batch(it, &seq, &count, &rep, &err), KV_NOTFOUND);
    std::vector<uint64_t> want;
    for (int round = 0; round < 3; round++) {
        ASSERT_EQ(storage_flush(st_, &err), KV_OK) << err.msg;
        want.push_back(WriteBatch(1, "y" + std::to_string(round) + "_"));
        want.push_back(WriteBatch(2, "z" + std::to_string(round) + "_"));
    }
    std::vector<uint64_t> got;
    while (wal_iter_batch(it, &seq, &count, &rep, &err) == KV_OK) {
        got.push_back(seq);
        wal_iter_next(it);
    }
    EXPECT_EQ(err.code, KV_OK) << err.msg;
    EXPECT_EQ(got, want);
    EXPECT_GE(wal_iter_reopens(it), 1u);
    wal_iter_free(it);
}

TEST_F(WalTest, ResumeOnlyAtBatchStartsOrLatestPlusOne)
{
    uint64_t s1 = WriteBatch(1, "a");
    uint64_t s2 = WriteBatch(3, "b");
    uint64_t latest = storage_latest_seq(st_);
    struct kv_err err;
    EXPECT_EQ(wal_can_resume(st_, s1, &err), KV_OK);
    EXPECT_EQ(wal_can_resume(st_, s2, &err), KV_OK);
    EXPECT_EQ(wal_can_resume(st_, s2 + 1, &err), KV_ERR_WAL_GAP); // inside a batch
    EXPECT_EQ(wal_can_resume(st_, latest + 1, &err), KV_OK);
    EXPECT_EQ(wal_can_resume(st_, latest + 2, &err), KV_ERR_WAL_GAP);
    EXPECT_GE(wal_oldest_seq(st_), 1u);
    EXPECT_LE(wal_oldest_seq(st_), s1);
}

TEST_F(WalTest, RawBatchAppliesWithTheSameSequences)
{
    uint64_t s1 = WriteBatch(2, "a");
    struct kv_err err;
    struct wal_iter *it = nullptr;
    ASSERT_EQ(wal_iter_open(st_, s1, &it, &err), KV_OK) << err.msg;
    uint64_t seq;
    uint32_t count;
    struct kv_slice rep;
    ASSERT_EQ(wal_iter_batch(it, &seq, &count, &rep, &err), KV_OK);
    std::string copy(rep.ptr, rep.len);
    wal_iter_free(it);

    // A second, fresh storage receives the batch as a replica would.
    std::string other = dir_ + "/replica";
    struct storage *rst = nullptr;
    ASSERT_EQ(storage_open(cfg_, other.c_str(), &rst, &err), KV_OK) << err.msg;
    uint32_t n = 0;
    ASSERT_EQ(storage_write_raw(rst, S(copy), &n, &err), KV_OK) << err.msg;
    EXPECT_EQ(n, 2u);
    EXPECT_EQ(storage_latest_seq(rst), s1 + 1);
    struct kv_buf v = KV_BUF_INIT;
    EXPECT_EQ(storage_get(rst, nullptr, KV_CF_SUBKEY, S("a1"), &v, &err), KV_OK);
    EXPECT_EQ(std::string(v.ptr, v.len), "va1");
    kv_buf_deinit(&v);
    std::string bad = copy.substr(0, copy.size() - 1);
    EXPECT_EQ(storage_write_raw(rst, S(bad), &n, &err), KV_ERR_CORRUPT);
    EXPECT_EQ(storage_latest_seq(rst), s1 + 1);
    storage_close(rst);
}

} // namespace
