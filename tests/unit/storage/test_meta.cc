// SPDX-License-Identifier: Apache-2.0
//
// meta: byte-exact metadata values (kvrocks-notes.md 2.5), both encodings, liveness rules and
// version generation. Expected bytes are written by hand.
#include <algorithm>
#include <stdint.h>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/slice.h"
#include "common/status.h"
#include "slice_util.h"
#include "storage/meta.h"

namespace {

std::string
Str(struct kv_slice s)
{
    return std::string(s.ptr == nullptr ? "" : s.ptr, s.len);
}

std::string
Encode(const struct meta &m)
{
    struct kv_buf out;
    kv_buf_init(&out);
    kv_buf_append_cstr(&out, "garbage"); // cleared first
    meta_encode(&m, &out);
    std::string s(out.ptr, out.len);
    kv_buf_deinit(&out);
    return s;
}

std::string
U64(uint64_t v)
{
    std::string s(8, '\0');
    for (int i = 7; i >= 0; i--, v >>= 8)
        s[i] = (char)(v & 0xff);
    return s;
}

std::string
U32(uint32_t v)
{
    std::string s(4, '\0');
    for (int i = 3; i >= 0; i--, v >>= 8)
        s[i] = (char)(v & 0xff);
    return s;
}

struct meta
Blank(enum meta_type t)
{
    struct meta m = {};
    m.type = t;
    m.list_head = META_LIST_INITIAL_INDEX;
    m.list_tail = META_LIST_INITIAL_INDEX;
    return m;
}

} // namespace

TEST(Meta, HelpersAreBigEndian)
{
    EXPECT_EQ(U64(0x0102030405060708ULL), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
    EXPECT_EQ(U32(0x0a0b0c0d), std::string("\x0a\x0b\x0c\x0d", 4));
}

TEST(Meta, TypeNumbersAreTheDiskFormat)
{
    EXPECT_EQ(META_NONE, 0);
    EXPECT_EQ(META_STRING, 1);
    EXPECT_EQ(META_HASH, 2);
    EXPECT_EQ(META_LIST, 3);
    EXPECT_EQ(META_SET, 4);
    EXPECT_EQ(META_ZSET, 5);
    EXPECT_EQ(META_BITMAP, 6);
    EXPECT_EQ(META_SORTEDINT, 7);
    EXPECT_EQ(META_STREAM, 8);
    EXPECT_EQ(META_BLOOM, 9);
    EXPECT_EQ(META_JSON, 10);
    EXPECT_EQ(META_HLL, 11);
    EXPECT_EQ(META_LIST_INITIAL_INDEX, 0x7fffffffffffffffULL);
}

TEST(Meta, EncodeString)
{
    struct meta m = Blank(META_STRING);
    m.payload = kv_slice_cstr("bar");
    EXPECT_EQ(Encode(m), std::string("\x81\0\0\0\0\0\0\0\0bar", 12));

    m.expire_ms = 0x0000018bcfe56800ULL;
    m.payload = kv_slice_make("", 0);
    EXPECT_EQ(Encode(m), std::string("\x81\x00\x00\x01\x8b\xcf\xe5\x68\x00", 9));

    // Binary values go in unchanged; version and size are not encoded for strings.
    m.expire_ms = 0;
    m.version = 12345;
    m.size = 7;
    std::string v("\x00\xff\x00", 3);
    m.payload = S(v);
    EXPECT_EQ(Encode(m), std::string("\x81", 1) + U64(0) + v);
}

TEST(Meta, EncodeHash)
{
    struct meta m = Blank(META_HASH);
    m.version = 0x0102030405060708ULL;
    m.size = 3;
    EXPECT_EQ(Encode(m), std::string("\x82"
                                     "\x00\x00\x00\x00\x00\x00\x00\x00"
                                     "\x01\x02\x03\x04\x05\x06\x07\x08"
                                     "\x00\x00\x00\x00\x00\x00\x00\x03",
                                     25));
    m.expire_ms = 1700000000123ULL;
    EXPECT_EQ(Encode(m), std::string("\x82", 1) + U64(1700000000123ULL) + U64(m.version) + U64(3));
}

TEST(Meta, EncodeOtherCollections)
{
    const struct {
        enum meta_type t;
        uint8_t flags;
    } cases[] = {{META_SET, 0x84}, {META_ZSET, 0x85}, {META_BITMAP, 0x86}, {META_SORTEDINT, 0x87}};
    for (const auto &c : cases) {
        struct meta m = Blank(c.t);
        m.version = 42;
        m.size = 9;
        EXPECT_EQ(Encode(m), std::string(1, (char)c.flags) + U64(0) + U64(42) + U64(9));
    }
}

TEST(Meta, EncodeList)
{
    struct meta m = Blank(META_LIST);
    m.version = 7;
    m.size = 0;
    std::string want = std::string("\x83", 1) + U64(0) + U64(7) + U64(0) +
                       std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8) +
                       std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
    EXPECT_EQ(Encode(m), want);
    EXPECT_EQ(want.size(), 41u);

    m.list_head = META_LIST_INITIAL_INDEX - 2;
    m.list_tail = META_LIST_INITIAL_INDEX + 1;
    m.size = 3;
    EXPECT_EQ(Encode(m), std::string("\x83", 1) + U64(0) + U64(7) + U64(3) +
                             U64(0x7ffffffffffffffdULL) + U64(0x8000000000000000ULL));
}

TEST(Meta, EncodeHyperLogLog)
{
    struct meta m = Blank(META_HLL);
    m.version = 5;
    m.size = 0;
    m.hll_encoding = 0;
    EXPECT_EQ(Encode(m), std::string("\x8b", 1) + U64(0) + U64(5) + U64(0) + std::string(1, '\0'));
}

TEST(Meta, EncodeStreamKeepsPayload)
{
    // Stream (and bloom) tails are built by their type module and carried in the payload.
    struct meta m = Blank(META_STREAM);
    m.version = 1;
    m.size = 2;
    std::string tail = U64(10) + U64(11);
    m.payload = S(tail);
    EXPECT_EQ(Encode(m), std::string("\x88", 1) + U64(0) + U64(1) + U64(2) + tail);
}

TEST(Meta, RoundTripEveryType)
{
    for (int t = META_STRING; t <= META_HLL; t++) {
        struct meta m = Blank((enum meta_type)t);
        m.expire_ms = 1700000000000ULL + t;
        if (t != META_STRING && t != META_JSON) {
            m.version = 0x1234567890ULL + t;
            m.size = 100 + t;
        }
        if (t == META_LIST) {
            m.list_head = 5;
            m.list_tail = 105;
        }
        std::string payload;
        if (t == META_STRING || t == META_JSON || t == META_STREAM || t == META_BLOOM)
            payload = "payload";
        m.payload = S(payload);
        std::string raw = Encode(m);
        struct meta d;
        ASSERT_EQ(meta_decode(S(raw), &d), KV_OK) << t;
        EXPECT_EQ(d.type, t);
        EXPECT_EQ(d.expire_ms, m.expire_ms);
        EXPECT_EQ(d.version, m.version);
        EXPECT_EQ(d.size, m.size);
        EXPECT_EQ(d.list_head, m.list_head);
        EXPECT_EQ(d.list_tail, m.list_tail);
        EXPECT_EQ(Str(d.payload), payload);
        EXPECT_EQ(meta_peek_type(S(raw)), t);
        // Re-encoding gives the same bytes.
        EXPECT_EQ(Encode(d), raw);
    }
}

TEST(Meta, DecodeHandWritten64)
{
    std::string raw = std::string("\x82", 1) + U64(1700000000123ULL) + U64(99) + U64(4);
    struct meta m;
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.type, META_HASH);
    EXPECT_EQ(m.expire_ms, 1700000000123ULL);
    EXPECT_EQ(m.version, 99u);
    EXPECT_EQ(m.size, 4u);
    EXPECT_EQ(m.payload.len, 0u);

    raw = std::string("\x81", 1) + U64(0) + "value";
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.type, META_STRING);
    EXPECT_EQ(m.expire_ms, 0u);
    EXPECT_EQ(Str(m.payload), "value");
    EXPECT_EQ(m.payload.ptr, raw.data() + 9); // borrowed

    // HLL with its encoding byte, and without (accepted as dense).
    raw = std::string("\x8b", 1) + U64(0) + U64(3) + U64(0) + std::string(1, '\0');
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.type, META_HLL);
    EXPECT_EQ(m.hll_encoding, 0);
    EXPECT_EQ(m.payload.len, 0u);
    ASSERT_EQ(meta_decode(S(raw.substr(0, 25)), &m), KV_OK);
    EXPECT_EQ(m.hll_encoding, 0);
}

TEST(Meta, DecodeLegacyString)
{
    // flags 0x01 (no 0x80): expire is u32 seconds.
    std::string raw = std::string("\x01", 1) + U32(100) + "v";
    struct meta m;
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.type, META_STRING);
    EXPECT_EQ(m.expire_ms, 100000u);
    EXPECT_EQ(Str(m.payload), "v");

    raw = std::string("\x01", 1) + U32(0xffffffffu);
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.expire_ms, 0xffffffffULL * 1000);
    EXPECT_EQ(m.payload.len, 0u);

    raw = std::string("\x01", 1) + U32(0);
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.expire_ms, 0u);

    // Re-encoding writes the 64-bit form.
    raw = std::string("\x01", 1) + U32(1700000000) + "abc";
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(Encode(m), std::string("\x81", 1) + U64(1700000000000ULL) + "abc");
}

TEST(Meta, DecodeLegacyHashAndList)
{
    // [0x02][expire u32 s][version u64][size u32]
    std::string raw = std::string("\x02", 1) + U32(1700000000) + U64(0xabcdef) + U32(7);
    ASSERT_EQ(raw.size(), 17u);
    struct meta m;
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.type, META_HASH);
    EXPECT_EQ(m.expire_ms, 1700000000000ULL);
    EXPECT_EQ(m.version, 0xabcdefu);
    EXPECT_EQ(m.size, 7u);
    EXPECT_EQ(m.payload.len, 0u);
    EXPECT_EQ(Encode(m), std::string("\x82", 1) + U64(1700000000000ULL) + U64(0xabcdef) + U64(7));

    raw = std::string("\x03", 1) + U32(0) + U64(9) + U32(2) + U64(100) + U64(102);
    ASSERT_EQ(meta_decode(S(raw), &m), KV_OK);
    EXPECT_EQ(m.type, META_LIST);
    EXPECT_EQ(m.size, 2u);
    EXPECT_EQ(m.list_head, 100u);
    EXPECT_EQ(m.list_tail, 102u);
}

TEST(Meta, DecodeCorrupt)
{
    const std::string bad[] = {
        std::string(),                                                       // empty
        std::string("\x80", 1) + U64(0),                                     // type 0
        std::string("\x8c", 1) + U64(0) + U64(0) + U64(0),                   // type 12
        std::string("\x8f", 1) + U64(0) + U64(0) + U64(0),                   // type 15
        std::string("\x00", 1) + U32(0),                                     // legacy type 0
        std::string("\x81", 1),                                              // no expire
        std::string("\x81", 1) + U64(0).substr(0, 7),                        // expire cut
        std::string("\x01", 1) + U32(0).substr(0, 3),                        // legacy expire cut
        std::string("\x82", 1) + U64(0),                                     // no version
        std::string("\x82", 1) + U64(0) + U64(1).substr(0, 5),               // version cut
        std::string("\x82", 1) + U64(0) + U64(1),                            // no size
        std::string("\x82", 1) + U64(0) + U64(1) + U32(1),                   // 64-bit size cut to 4
        std::string("\x02", 1) + U32(0) + U64(1) + U32(1).substr(0, 3),      // legacy size cut
        std::string("\x83", 1) + U64(0) + U64(1) + U64(0),                   // list: no head/tail
        std::string("\x83", 1) + U64(0) + U64(1) + U64(0) + U64(5),          // list: no tail
        std::string("\x83", 1) + U64(0) + U64(1) + U64(0) + U64(5) + U32(0), // tail cut
    };
    for (const std::string &raw : bad) {
        struct meta m = Blank(META_SET);
        m.version = 777;
        m.size = 888;
        m.expire_ms = 999;
        EXPECT_EQ(meta_decode(S(raw), &m), KV_ERR_CORRUPT) << testing::PrintToString(raw);
        // Left unchanged on failure.
        EXPECT_EQ(m.type, META_SET);
        EXPECT_EQ(m.version, 777u);
        EXPECT_EQ(m.size, 888u);
        EXPECT_EQ(m.expire_ms, 999u);
    }
    EXPECT_EQ(meta_peek_type(S("")), META_NONE);
    EXPECT_EQ(meta_peek_type(S(std::string("\x85", 1))), META_ZSET);
    EXPECT_EQ(meta_peek_type(S(std::string("\x05", 1))), META_ZSET);
}

TEST(Meta, Init)
{
    struct meta m;
    meta_init(&m, META_LIST);
    EXPECT_EQ(m.type, META_LIST);
    EXPECT_EQ(m.expire_ms, 0u);
    EXPECT_EQ(m.size, 0u);
    EXPECT_NE(m.version, 0u);
    EXPECT_EQ(m.list_head, 0x7fffffffffffffffULL);
    EXPECT_EQ(m.list_tail, 0x7fffffffffffffffULL);
    EXPECT_EQ(m.payload.len, 0u);

    struct meta h;
    meta_init(&h, META_HASH);
    EXPECT_GT(h.version, m.version);

    meta_init(&m, META_STRING);
    EXPECT_EQ(m.version, 0u);
    EXPECT_EQ(Encode(m), std::string("\x81", 1) + U64(0));
}

TEST(Meta, ExpiryAndLiveness)
{
    const int64_t now = 1700000000000LL;
    struct meta m = Blank(META_HASH);
    m.size = 1;
    EXPECT_FALSE(meta_is_expired(&m, now)); // 0 = no expiry
    EXPECT_TRUE(meta_is_live(&m, now));
    m.expire_ms = now + 1;
    EXPECT_FALSE(meta_is_expired(&m, now));
    EXPECT_TRUE(meta_is_live(&m, now));
    m.expire_ms = now;
    EXPECT_TRUE(meta_is_expired(&m, now));
    EXPECT_FALSE(meta_is_live(&m, now));
    m.expire_ms = now - 1;
    EXPECT_TRUE(meta_is_expired(&m, now));
    EXPECT_FALSE(meta_is_live(&m, now));

    // Size 0 means absent for collections, not for the "emptyable" types.
    m.expire_ms = 0;
    m.size = 0;
    for (int t = META_STRING; t <= META_HLL; t++) {
        m.type = (enum meta_type)t;
        bool emptyable = t == META_STRING || t == META_STREAM || t == META_BLOOM ||
                         t == META_JSON || t == META_HLL;
        EXPECT_EQ(meta_type_is_emptyable(m.type), emptyable) << t;
        EXPECT_EQ(meta_is_live(&m, now), emptyable) << t;
    }
    // An expired emptyable record is still dead.
    m.type = META_STRING;
    m.expire_ms = now - 1000;
    EXPECT_FALSE(meta_is_live(&m, now));
}

TEST(Meta, TypeNames)
{
    EXPECT_STREQ(meta_type_name(META_NONE), "none");
    EXPECT_STREQ(meta_type_name(META_STRING), "string");
    EXPECT_STREQ(meta_type_name(META_HASH), "hash");
    EXPECT_STREQ(meta_type_name(META_LIST), "list");
    EXPECT_STREQ(meta_type_name(META_SET), "set");
    EXPECT_STREQ(meta_type_name(META_ZSET), "zset");
    EXPECT_STREQ(meta_type_name(META_BITMAP), "bitmap");
    EXPECT_STREQ(meta_type_name(META_SORTEDINT), "sortedint");
    EXPECT_STREQ(meta_type_name(META_STREAM), "stream");
    EXPECT_STREQ(meta_type_name(META_BLOOM), "MBbloom--");
    EXPECT_STREQ(meta_type_name(META_JSON), "ReJSON-RL");
    EXPECT_STREQ(meta_type_name(META_HLL), "hyperloglog");
}

TEST(Meta, NewVersionLayout)
{
    // (wall-clock us << 11) + counter: the high bits are the time of the call.
    for (int i = 0; i < 100; i++) {
        int64_t before = clock_now_us();
        uint64_t v = meta_new_version();
        int64_t after = clock_now_us();
        EXPECT_GE((int64_t)(v >> 11), before);
        // Only a burst of over 2048 versions in one microsecond could push it past.
        EXPECT_LE((int64_t)(v >> 11), after + 1);
    }
}

TEST(Meta, NewVersionStrictlyIncreasingAcrossThreads)
{
    const int kThreads = 4;
    const int kPerThread = 100000;
    std::vector<std::vector<uint64_t>> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&got, t] {
            got[t].reserve(kPerThread);
            for (int i = 0; i < kPerThread; i++)
                got[t].push_back(meta_new_version());
        });
    }
    for (auto &th : threads)
        th.join();
    std::unordered_set<uint64_t> all;
    all.reserve((size_t)kThreads * kPerThread);
    for (int t = 0; t < kThreads; t++) {
        for (int i = 1; i < kPerThread; i++)
            ASSERT_GT(got[t][i], got[t][i - 1]) << "thread " << t << " index " << i;
        all.insert(got[t].begin(), got[t].end());
    }
    EXPECT_EQ(all.size(), (size_t)kThreads * kPerThread);
    // And a version taken afterwards exceeds every one of them.
    uint64_t next = meta_new_version();
    for (int t = 0; t < kThreads; t++)
        EXPECT_GT(next, got[t].back());
}
