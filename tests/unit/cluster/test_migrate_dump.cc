// SPDX-License-Identifier: Apache-2.0
// Unit tests of server/migrate_dump against a real RocksDB in cluster mode: the commands each
// type becomes, TTLs, replacement of keys re-sent by a WAL round, the range walk (other slots
// and dead keys skipped), raw batches that validate and carry the key's records, and a sink
// error stopping the dump.
#include <map>
#include <string>
#include <vector>

#include "fixture.h"

extern "C" {
#include "common/clock.h"
#include "common/slot.h"
#include "server/migrate_dump.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/str.h"
#include "types/zset.h"
}

namespace {

using Cmd = std::vector<std::string>;

struct Sink {
    std::vector<Cmd> cmds;
    size_t fail_after = SIZE_MAX;
};

enum kv_code
Collect(void *arg, size_t argc, const kv_slice *argv, kv_err *err)
{
    auto *s = static_cast<Sink *>(arg);
    if (s->cmds.size() >= s->fail_after)
        return kv_err_set(err, KV_ERR_CLOSED, "sink closed");
    Cmd c;
    for (size_t i = 0; i < argc; i++)
        c.emplace_back(argv[i].ptr, argv[i].len);
    s->cmds.push_back(c);
    return KV_OK;
}

// A key of `slot` named after `name`.
std::string
KeyIn(uint16_t slot, const std::string &name)
{
    for (int i = 0;; i++) {
        std::string tag = "t" + std::to_string(i);
        if (slot_of_key(tag.data(), tag.size()) == slot)
            return "{" + tag + "}" + name;
    }
}

class MigrateDumpTest : public StorageTest {
  protected:
    bool
    Cluster() const override
    {
        return true;
    }

    void
    SetString(const std::string &k, const std::string &v, int64_t expire_at = 0)
    {
        str_set_opts o{};
        o.ttl = expire_at ? STR_TTL_AT : STR_TTL_CLEAR;
        o.expire_at_ms = expire_at;
        bool written = false, had = false;
        ASSERT_EQ(str_set(&db_, S(k), S(v), &o, kBitmapStringMax, &written, nullptr, &had, nullptr),
                  KV_OK);
    }

    std::vector<Cmd>
    DumpKey(const std::string &k, bool replace, bool raw = false)
    {
        Sink sink;
        migrate_dump_opts o{};
        o.raw = raw;
        migrate_dump_stats ds{};
        storage_snapshot *snap = storage_snapshot_new(st_);
        kv_err err{};
        EXPECT_EQ(migrate_dump_key(st_, snap, S(k), replace, &o, Collect, &sink, &ds, &err), KV_OK)
            << err.msg;
        storage_snapshot_free(st_, snap);
        return sink.cmds;
    }
};

TEST_F(MigrateDumpTest, StringWithAndWithoutExpiry)
{
    std::string k = KeyIn(5, "s"), t = KeyIn(5, "t");
    SetString(k, std::string("a\0b", 3));
    int64_t at = clock_now_ms() + 100000;
    SetString(t, "v", at);
    EXPECT_EQ(DumpKey(k, false), (std::vector<Cmd>{{"SET", k, std::string("a\0b", 3)}}));
    EXPECT_EQ(DumpKey(t, false), (std::vector<Cmd>{{"SET", t, "v", "PXAT", std::to_string(at)}}));
}

TEST_F(MigrateDumpTest, HashBecomesHsetInChunksAndReplaceDeletesFirst)
{
    std::string k = KeyIn(9, "h");
    std::vector<std::string> words;
    for (int i = 0; i < 20; i++) {
        words.push_back("f" + std::to_string(100 + i));
        words.push_back("v" + std::to_string(i));
    }
    std::vector<kv_slice> fv;
    for (auto &w : words)
        fv.push_back(S(w));
    uint64_t added = 0;
    ASSERT_EQ(hash_set(&db_, S(k), fv.data(), 20, false, &added, nullptr), KV_OK);
    auto cmds = DumpKey(k, true);
    ASSERT_EQ(cmds.size(), 3u);
    EXPECT_EQ(cmds[0], (Cmd{"DEL", k}));
    EXPECT_EQ(cmds[1].size(), 2u + 2 * MIGRATE_DUMP_ITEMS);
    EXPECT_EQ(cmds[1][0], "HSET");
    EXPECT_EQ(cmds[2].size(), 2u + 2 * (20 - MIGRATE_DUMP_ITEMS));
    std::map<std::string, std::string> got;
    for (size_t c = 1; c < 3; c++)
        for (size_t i = 2; i + 1 < cmds[c].size(); i += 2)
            got[cmds[c][i]] = cmds[c][i + 1];
    ASSERT_EQ(got.size(), 20u);
    EXPECT_EQ(got["f107"], "v7");
}

TEST_F(MigrateDumpTest, ListKeepsOrderAndZsetKeepsScores)
{
    std::string l = KeyIn(1, "l"), z = KeyIn(1, "z");
    std::vector<std::string> elems = {"c", "a", "b"};
    std::vector<kv_slice> ev;
    for (auto &e : elems)
        ev.push_back(S(e));
    uint64_t len = 0;
    ASSERT_EQ(list_push(&db_, S(l), ev.data(), 3, false, false, &len, nullptr), KV_OK);
    std::string x = "x";
    ASSERT_EQ(list_push(&db_, S(l), &ev[0], 0, false, false, &len, nullptr), KV_OK);
    kv_slice front = S(x);
    ASSERT_EQ(list_push(&db_, S(l), &front, 1, true, false, &len, nullptr), KV_OK);
    EXPECT_EQ(DumpKey(l, false), (std::vector<Cmd>{{"RPUSH", l, "x", "c", "a", "b"}}));

    double scores[] = {2.5, -1, 1e300};
    std::string m[] = {"two", "neg", "big"};
    kv_slice ms[] = {S(m[0]), S(m[1]), S(m[2])};
    zset_add_result res{};
    ASSERT_EQ(zset_add(&db_, S(z), scores, ms, 3, 0, &res, nullptr), KV_OK);
    auto cmds = DumpKey(z, false);
    ASSERT_EQ(cmds.size(), 1u);
    EXPECT_EQ(cmds[0],
              (Cmd{"ZADD", z, "-1", "neg", "2.5", "two", "1.0000000000000001e+300", "big"}));
}

TEST_F(MigrateDumpTest, AbsentOrExpiredKeyIsOnlyDeletedOnReplace)
{
    std::string k = KeyIn(3, "gone");
    EXPECT_TRUE(DumpKey(k, false).empty());
    EXPECT_EQ(DumpKey(k, true), (std::vector<Cmd>{{"DEL", k}}));
    SetString(k, "v", clock_now_ms() - 1000);
    EXPECT_TRUE(DumpKey(k, false).empty());
    EXPECT_EQ(DumpKey(k, true), (std::vector<Cmd>{{"DEL", k}}));
}

TEST_F(MigrateDumpTest, RawModeSendsValidBatchesWithTheKeysRecords)
{
    std::string k = KeyIn(4, "set");
    std::vector<std::string> members;
    for (int i = 0; i < 2000; i++)
        members.push_back(std::string(50, 'm') + std::to_string(i));
    std::vector<kv_slice> mv;
    for (auto &m : members)
        mv.push_back(S(m));
    uint64_t added = 0;
    ASSERT_EQ(set_add(&db_, S(k), mv.data(), mv.size(), &added, nullptr), KV_OK);
    auto cmds = DumpKey(k, true, true);
    ASSERT_GE(cmds.size(), 2u); // over MIGRATE_DUMP_BATCH_BYTES: split
    size_t puts = 0, metas = 0, ranges = 0;
    for (auto &c : cmds) {
        ASSERT_EQ(c.size(), 2u);
        EXPECT_EQ(c[0], "APPLYBATCH");
        kv_err err{};
        ASSERT_EQ(storage_batch_validate(S(c[1]), &err), KV_OK) << err.msg;
        struct Count {
            size_t *puts, *metas, *ranges;
        } cnt{&puts, &metas, &ranges};
        ASSERT_EQ(storage_batch_foreach(
                      S(c[1]),
                      [](void *arg, storage_record_kind kind, kv_cf cf, kv_slice, kv_slice) {
                          auto *n = static_cast<Count *>(arg);
                          if (kind == STORAGE_REC_DELETE_RANGE)
                              (*n->ranges)++;
                          else if (kind == STORAGE_REC_PUT && cf == KV_CF_METADATA)
                              (*n->metas)++;
                          else if (kind == STORAGE_REC_PUT && cf == KV_CF_SUBKEY)
                              (*n->puts)++;
                      },
                      &cnt, &err),
                  KV_OK);
    }
    EXPECT_EQ(metas, 1u);
    EXPECT_EQ(puts, 2000u);
    EXPECT_EQ(ranges, 2u); // the version's old sub-keys on the destination, both CFs
}

TEST_F(MigrateDumpTest, RawModePacksSmallKeysIntoOneBatch)
{
    for (int i = 0; i < 50; i++)
        SetString(KeyIn(30, "k" + std::to_string(i)), "v" + std::to_string(i));
    Sink sink;
    migrate_dump_opts o{};
    o.raw = true;
    migrate_dump_stats ds{};
    kv_err err{};
    ASSERT_EQ(migrate_dump_range(st_, nullptr, cluster_slot_range{true, 30, 30}, &o, Collect, &sink,
                                 &ds, &err),
              KV_OK);
    ASSERT_EQ(sink.cmds.size(), 1u);
    EXPECT_EQ(ds.keys, 50u);
    ASSERT_EQ(storage_batch_validate(S(sink.cmds[0][1]), &err), KV_OK);
    // Written on another DB, the batch recreates the keys: here, over the same DB after a flush.
    ASSERT_EQ(db_flush(&db_, &err), KV_OK);
    uint32_t count = 0;
    ASSERT_EQ(storage_write_raw(st_, S(sink.cmds[0][1]), &count, &err), KV_OK);
    EXPECT_EQ(count, 50u);
    kv_buf raw{};
    kv_slice v{};
    ASSERT_EQ(str_get(&db_, S(KeyIn(30, "k7")), kBitmapStringMax, &raw, &v, &err), KV_OK);
    EXPECT_EQ(std::string(v.ptr, v.len), "v7");
    kv_buf_deinit(&raw);
}

TEST_F(MigrateDumpTest, RangeWalkSkipsOtherSlotsAndDeadKeys)
{
    SetString(KeyIn(10, "a"), "1");
    SetString(KeyIn(11, "b"), "2");
    SetString(KeyIn(12, "c"), "3");
    SetString(KeyIn(11, "dead"), "4", clock_now_ms() - 1);
    SetString(KeyIn(13, "d"), "5");
    Sink sink;
    migrate_dump_opts o{};
    migrate_dump_stats ds{};
    storage_snapshot *snap = storage_snapshot_new(st_);
    SetString(KeyIn(11, "late"), "after the snapshot");
    kv_err err{};
    ASSERT_EQ(migrate_dump_range(st_, snap, cluster_slot_range{true, 11, 12}, &o, Collect, &sink,
                                 &ds, &err),
              KV_OK);
    storage_snapshot_free(st_, snap);
    std::vector<std::string> keys;
    for (auto &c : sink.cmds)
        keys.push_back(c[1]);
    EXPECT_EQ(keys, (std::vector<std::string>{KeyIn(11, "b"), KeyIn(12, "c")}));
    EXPECT_EQ(ds.keys, 2u);
}

TEST_F(MigrateDumpTest, SinkErrorStopsTheDump)
{
    for (int i = 0; i < 10; i++)
        SetString(KeyIn(20, "k" + std::to_string(i)), "v");
    Sink sink;
    sink.fail_after = 3;
    migrate_dump_opts o{};
    migrate_dump_stats ds{};
    kv_err err{};
    EXPECT_EQ(migrate_dump_range(st_, nullptr, cluster_slot_range{true, 20, 20}, &o, Collect, &sink,
                                 &ds, &err),
              KV_ERR_CLOSED);
    EXPECT_EQ(sink.cmds.size(), 3u);
    EXPECT_STREQ(err.msg, "sink closed");
}

} // namespace
