// SPDX-License-Identifier: Apache-2.0
//
// Unit tests of commands/scan_cursor.c: cursor numbering, lookups bound to kind/namespace/key,
// overwriting of old entries, and Redis 7.0's cursor text rules.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "commands/scan_cursor.h"
#include "slice_util.h"

namespace {

std::string
Str(const struct kv_buf &b)
{
    return std::string(b.ptr ? b.ptr : "", b.len);
}

class ScanCursorTest : public ::testing::Test {
  protected:
    void
    SetUp() override
    {
        t_ = scan_cursor_table_new();
    }
    void
    TearDown() override
    {
        scan_cursor_table_free(t_);
        kv_buf_deinit(&pos_);
    }
    struct scan_cursor_table *t_ = nullptr;
    struct kv_buf pos_ = KV_BUF_INIT;
};

TEST_F(ScanCursorTest, SaveAndFind)
{
    uint64_t c1 = scan_cursor_save(t_, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), S("key:10"));
    uint64_t c2 = scan_cursor_save(t_, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), S(""));
    EXPECT_NE(c1, 0u);
    EXPECT_NE(c2, 0u);
    EXPECT_NE(c1, c2);
    EXPECT_LT(c1, UINT64_C(1) << 63);
    EXPECT_EQ(c1 & (SCAN_CURSOR_SLOTS - 1),
              (c1 >> SCAN_CURSOR_SLOT_BITS) & (SCAN_CURSOR_SLOTS - 1));

    ASSERT_TRUE(scan_cursor_find(t_, c1, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_EQ(Str(pos_), "key:10");
    // Found again: a cursor can be reused (a client retrying a lost reply).
    ASSERT_TRUE(scan_cursor_find(t_, c1, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_EQ(Str(pos_), "key:10");
    // The empty position is a valid one.
    ASSERT_TRUE(scan_cursor_find(t_, c2, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_EQ(pos_.len, 0u);
}

TEST_F(ScanCursorTest, UnknownCursors)
{
    uint64_t c = scan_cursor_save(t_, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), S("k"));
    EXPECT_FALSE(scan_cursor_find(t_, 0, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_FALSE(scan_cursor_find(t_, c + 1, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_FALSE(
        scan_cursor_find(t_, c + SCAN_CURSOR_SLOTS, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_FALSE(scan_cursor_find(t_, UINT64_MAX, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_EQ(pos_.len, 0u);
    // Bound to its kind, namespace and key.
    EXPECT_FALSE(scan_cursor_find(t_, c, SCAN_CURSOR_HASH, S("ns"), S(""), &pos_));
    EXPECT_FALSE(scan_cursor_find(t_, c, SCAN_CURSOR_KEYSPACE, S("other"), S(""), &pos_));
    EXPECT_FALSE(scan_cursor_find(t_, c, SCAN_CURSOR_KEYSPACE, S("n"), S("s"), &pos_));
    uint64_t h = scan_cursor_save(t_, SCAN_CURSOR_HASH, S("ns"), S("myhash"), S("field"));
    EXPECT_FALSE(scan_cursor_find(t_, h, SCAN_CURSOR_HASH, S("ns"), S("other"), &pos_));
    ASSERT_TRUE(scan_cursor_find(t_, h, SCAN_CURSOR_HASH, S("ns"), S("myhash"), &pos_));
    EXPECT_EQ(Str(pos_), "field");
}

TEST_F(ScanCursorTest, OldEntriesAreOverwritten)
{
    uint64_t first = scan_cursor_save(t_, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), S("first"));
    std::set<uint64_t> seen = {first};
    uint64_t last = 0;
    for (unsigned i = 0; i < SCAN_CURSOR_SLOTS - 1; i++) {
        last = scan_cursor_save(t_, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), S(std::to_string(i)));
        seen.insert(last);
    }
    EXPECT_EQ(seen.size(), (size_t)SCAN_CURSOR_SLOTS);
    // The table holds exactly SCAN_CURSOR_SLOTS cursors: the first is still there...
    ASSERT_TRUE(scan_cursor_find(t_, first, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_EQ(Str(pos_), "first");
    // ...until one more is saved.
    scan_cursor_save(t_, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), S(std::string(10000, 'x')));
    EXPECT_FALSE(scan_cursor_find(t_, first, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    ASSERT_TRUE(scan_cursor_find(t_, last, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
    EXPECT_EQ(Str(pos_), std::to_string(SCAN_CURSOR_SLOTS - 2));
}

TEST_F(ScanCursorTest, ConcurrentSaves)
{
    std::vector<std::thread> threads;
    std::vector<std::vector<uint64_t>> got(4);
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([this, t, &got] {
            for (int i = 0; i < 1000; i++) {
                std::string p = std::to_string(t) + ":" + std::to_string(i);
                got[t].push_back(scan_cursor_save(t_, SCAN_CURSOR_KEYSPACE, S("ns"), S(""), S(p)));
            }
        });
    }
    for (auto &th : threads)
        th.join();
    std::set<uint64_t> all;
    for (int t = 0; t < 4; t++) {
        all.insert(got[t].begin(), got[t].end());
        ASSERT_TRUE(
            scan_cursor_find(t_, got[t].back(), SCAN_CURSOR_KEYSPACE, S("ns"), S(""), &pos_));
        EXPECT_EQ(Str(pos_), std::to_string(t) + ":999");
    }
    EXPECT_EQ(all.size(), 4000u);
}

TEST(ScanCursorParse, RedisRules)
{
    uint64_t c = 99;
    EXPECT_EQ(scan_cursor_parse(S("0"), &c), KV_OK);
    EXPECT_EQ(c, 0u);
    EXPECT_EQ(scan_cursor_parse(S("12345"), &c), KV_OK);
    EXPECT_EQ(c, 12345u);
    EXPECT_EQ(scan_cursor_parse(S("007"), &c), KV_OK);
    EXPECT_EQ(c, 7u);
    EXPECT_EQ(scan_cursor_parse(S("+5"), &c), KV_OK);
    EXPECT_EQ(c, 5u);
    EXPECT_EQ(scan_cursor_parse(S("-1"), &c), KV_OK);
    EXPECT_EQ(c, UINT64_MAX);
    EXPECT_EQ(scan_cursor_parse(S(""), &c), KV_OK);
    EXPECT_EQ(c, 0u);
    EXPECT_EQ(scan_cursor_parse(S("18446744073709551615"), &c), KV_OK);
    EXPECT_EQ(c, UINT64_MAX);
    c = 42;
    for (const char *bad : {"18446744073709551616", "99999999999999999999999", " 1", "1 ", "x",
                            "1x", "+", "-", "0x10", "1.0", "--1"}) {
        EXPECT_EQ(scan_cursor_parse(S(bad), &c), KV_ERR_INVALID) << bad;
        EXPECT_EQ(c, 42u) << bad;
    }
    EXPECT_EQ(scan_cursor_parse(S(std::string("1\0", 2)), &c), KV_ERR_INVALID);
}

TEST(ScanCursorShared, OneInstance)
{
    EXPECT_NE(scan_cursor_shared(), nullptr);
    EXPECT_EQ(scan_cursor_shared(), scan_cursor_shared());
}

} // namespace
