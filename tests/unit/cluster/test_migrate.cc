// SPDX-License-Identifier: Apache-2.0
// Unit tests of cluster/migrate: slot range parsing and printing, RESP framing, reply
// classification and migrate-speed pacing.
#include <string>

#include <gtest/gtest.h>

#include "slice_util.h"

extern "C" {
#include "cluster/migrate.h"
#include "common/buf.h"
}

namespace {

std::string
ParseErr(const std::string &text)
{
    cluster_slot_range r{};
    kv_err err{};
    if (migrate_parse_range(S(text), &r, &err) == KV_OK)
        return "ok";
    return err.msg;
}

TEST(MigrateRange, ParsesSlotsAndRanges)
{
    cluster_slot_range r{};
    ASSERT_EQ(migrate_parse_range(S("10"), &r, nullptr), KV_OK);
    EXPECT_TRUE(r.set);
    EXPECT_EQ(r.start, 10);
    EXPECT_EQ(r.end, 10);
    ASSERT_EQ(migrate_parse_range(S("0-9"), &r, nullptr), KV_OK);
    EXPECT_EQ(r.start, 0);
    EXPECT_EQ(r.end, 9);
    ASSERT_EQ(migrate_parse_range(S("11-11"), &r, nullptr), KV_OK);
    EXPECT_EQ(r.start, 11);
    EXPECT_EQ(r.end, 11);
    ASSERT_EQ(migrate_parse_range(S("16383-16383"), &r, nullptr), KV_OK);
    EXPECT_EQ(r.start, 16383);
}

TEST(MigrateRange, RefusesWithKvrocksTexts)
{
    for (const char *bad : {"-1", "2-1", "-1-3", "3--1", "4-16384", "", "a", "1-", "-", "1-a"})
        EXPECT_EQ(ParseErr(bad), MIGRATE_ERR_RANGE) << bad;
    EXPECT_EQ(ParseErr("16384"), MIGRATE_ERR_SLOT_ID);
}

TEST(MigrateRange, FailedParseLeavesOutputAlone)
{
    cluster_slot_range r{true, 5, 6};
    EXPECT_NE(migrate_parse_range(S("9-1"), &r, nullptr), KV_OK);
    EXPECT_EQ(r.start, 5);
    EXPECT_EQ(r.end, 6);
}

TEST(MigrateRange, PrintsAndCompares)
{
    char buf[MIGRATE_RANGE_STR_MAX];
    cluster_slot_range one{true, 7, 7}, many{true, 0, 16383}, none{};
    EXPECT_STREQ(migrate_range_str(&one, buf), "7");
    EXPECT_STREQ(migrate_range_str(&many, buf), "0-16383");
    EXPECT_STREQ(migrate_range_str(&none, buf), "");
    cluster_slot_range a{true, 0, 9}, b{true, 9, 12}, c{true, 10, 12};
    EXPECT_TRUE(migrate_range_overlaps(&a, &b));
    EXPECT_FALSE(migrate_range_overlaps(&a, &c));
    EXPECT_FALSE(migrate_range_overlaps(&a, &none));
    EXPECT_TRUE(migrate_range_contains(&a, 9));
    EXPECT_FALSE(migrate_range_contains(&a, 10));
    EXPECT_FALSE(migrate_range_contains(&none, 0));
}

TEST(MigrateState, Names)
{
    EXPECT_STREQ(migrate_state_name(MIGRATE_START), "start");
    EXPECT_STREQ(migrate_state_name(MIGRATE_SUCCESS), "success");
    EXPECT_STREQ(migrate_state_name(MIGRATE_FAIL), "fail");
    EXPECT_STREQ(import_state_name(IMPORT_ERROR), "error");
    EXPECT_STREQ(import_state_name(IMPORT_SUCCESS), "success");
}

TEST(MigrateResp, FramesBinarySafeArrays)
{
    kv_buf out{};
    std::string bin("a\0b\r\n", 5);
    kv_slice argv[] = {S("SET"), S(bin), S("")};
    migrate_resp_append(&out, 3, argv);
    static const char want[] = "*3\r\n$3\r\nSET\r\n$5\r\na\0b\r\n\r\n$0\r\n\r\n";
    EXPECT_EQ(std::string(out.ptr, out.len), std::string(want, sizeof want - 1));
    kv_buf_deinit(&out);
}

TEST(MigrateResp, ClassifiesReplies)
{
    int64_t n = -1;
    EXPECT_EQ(migrate_reply_classify(S("+OK"), &n), MIGRATE_REPLY_OK);
    EXPECT_EQ(migrate_reply_classify(S(":12"), &n), MIGRATE_REPLY_OK);
    EXPECT_EQ(migrate_reply_classify(S("$-1"), &n), MIGRATE_REPLY_OK);
    EXPECT_EQ(migrate_reply_classify(S("-ERR x"), &n), MIGRATE_REPLY_ERROR);
    EXPECT_EQ(migrate_reply_classify(S("$5"), &n), MIGRATE_REPLY_BULK);
    EXPECT_EQ(n, 5);
    EXPECT_EQ(migrate_reply_classify(S("*2"), &n), MIGRATE_REPLY_BAD);
    EXPECT_EQ(migrate_reply_classify(S(""), &n), MIGRATE_REPLY_BAD);
    EXPECT_EQ(migrate_reply_classify(S("$x"), &n), MIGRATE_REPLY_BAD);
}

TEST(MigratePace, KeepsTheRate)
{
    EXPECT_EQ(migrate_pace_delay_ms(1000, 0, 0), 0);    // unlimited
    EXPECT_EQ(migrate_pace_delay_ms(16, 0, 16), 1000);  // 16 cmds at 16/s: wait a second
    EXPECT_EQ(migrate_pace_delay_ms(16, 400, 16), 600); // part of it already passed
    EXPECT_EQ(migrate_pace_delay_ms(16, 2000, 16), 0);  // behind schedule: no wait
    EXPECT_EQ(migrate_pace_delay_ms(4096, 500, 4096), 500);
}

} // namespace
