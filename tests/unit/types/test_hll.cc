// SPDX-License-Identifier: Apache-2.0
//
// The HyperLogLog type layer (types/hll.h): MurmurHash64A and the register choice, the 6-bit
// register packing inside a 768-byte segment (Redis's dense layout), the estimator, and
// PFADD/PFCOUNT/PFMERGE on a real RocksDB (layout, sparse segments, merge, types, corruption,
// accuracy).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "fixture.h"
#include "storage/keys.h"
#include "storage/meta.h"
#include "types/hll.h"
#include "types/str.h"

namespace {

TEST(HllPure, MurmurAndElement)
{
    // Reference values from an independent implementation of MurmurHash64A (Redis's seed).
    struct {
        const char *s;
        uint64_t hash;
        uint32_t index;
        uint8_t value;
    } cases[] = {
        {"", UINT64_C(0xd8dfea6585bc9732), 5938, 2},
        {"a", UINT64_C(0x53d2470a9b43b1a7), 12711, 2},
        {"hello", UINT64_C(0x0f656f01eecfe400), 9216, 1},
        {"abcdefgh", UINT64_C(0xf3a65df559914567), 1383, 1},
        {"abcdefghi", UINT64_C(0x834fba4d9152daf7), 6903, 1},
        {"The quick brown fox jumps over the lazy dog", UINT64_C(0x51606c5c5b561ace), 6862, 4},
    };
    for (auto &c : cases) {
        EXPECT_EQ(hll_murmur64a(c.s, strlen(c.s), HLL_HASH_SEED), c.hash) << c.s;
        uint32_t index = 0;
        uint8_t value = 0;
        hll_element(kv_slice_cstr(c.s), &index, &value);
        EXPECT_EQ(index, c.index) << c.s;
        EXPECT_EQ(value, c.value) << c.s;
    }
    EXPECT_NE(hll_murmur64a("a", 1, 0), hll_murmur64a("a", 1, HLL_HASH_SEED));
}

TEST(HllPure, RegisterPacking)
{
    uint8_t seg[HLL_SEGMENT_BYTES];
    memset(seg, 0, sizeof seg);
    // Redis's dense layout: 6 bits per register, LSB first.
    hll_segment_set(seg, 0, 63);
    EXPECT_EQ(seg[0], 0x3F);
    hll_segment_set(seg, 1, 63);
    EXPECT_EQ(seg[0], 0xFF);
    EXPECT_EQ(seg[1], 0x0F);
    hll_segment_set(seg, 2, 1);
    EXPECT_EQ(seg[1], 0x1F);
    EXPECT_EQ(seg[2], 0x00);
    hll_segment_set(seg, 3, 63);
    EXPECT_EQ(seg[2], 0xFC);
    hll_segment_set(seg, 1, 0b100001);
    EXPECT_EQ(seg[0], 0x7F);
    EXPECT_EQ(seg[1], 0x18);
    EXPECT_EQ(hll_segment_get(seg, 0), 63);
    EXPECT_EQ(hll_segment_get(seg, 1), 33);
    EXPECT_EQ(hll_segment_get(seg, 2), 1);
    EXPECT_EQ(hll_segment_get(seg, 3), 63);
    // Every register independently, up to the last one (byte 767).
    memset(seg, 0, sizeof seg);
    for (uint32_t i = 0; i < HLL_SEGMENT_REGISTERS; i++)
        hll_segment_set(seg, i, (uint8_t)((i * 7 + 3) % 64));
    for (uint32_t i = 0; i < HLL_SEGMENT_REGISTERS; i++)
        ASSERT_EQ(hll_segment_get(seg, i), (i * 7 + 3) % 64) << i;
    hll_segment_set(seg, 1023, 63);
    EXPECT_EQ(seg[767] & 0xFC, 0xFC);
    EXPECT_EQ(hll_segment_get(seg, 1022), (1022 * 7 + 3) % 64);
}

TEST(HllPure, Estimate)
{
    std::vector<uint8_t> regs(HLL_REGISTERS, 0);
    EXPECT_EQ(hll_estimate(regs.data()), 0u);
    regs[5] = 1;
    EXPECT_EQ(hll_estimate(regs.data()), 1u);
    regs[77] = 2;
    EXPECT_EQ(hll_estimate(regs.data()), 2u);
}

class HllTest : public StorageTest {
  protected:
    static struct kv_slice
    L(const char *lit) {
        return kv_slice_cstr(lit);
    }

    bool
    Add(const std::string &key, const std::vector<std::string> &elems)
    {
        std::vector<struct kv_slice> s;
        for (auto &e : elems)
            s.push_back(S(e));
        bool changed = false;
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(hll_add(&db_, S(key), s.data(), s.size(), &changed, &err), KV_OK) << err.msg;
        return changed;
    }

    uint64_t
    Count(const std::vector<std::string> &keys, enum kv_code want = KV_OK)
    {
        std::vector<struct kv_slice> s;
        for (auto &k : keys)
            s.push_back(S(k));
        uint64_t n = 0;
        EXPECT_EQ(hll_count(&db_, s.data(), s.size(), &n, nullptr), want);
        return n;
    }

    enum kv_code
    Merge(const std::string &dest, const std::vector<std::string> &srcs)
    {
        std::vector<struct kv_slice> s;
        for (auto &k : srcs)
            s.push_back(S(k));
        return hll_merge(&db_, S(dest), s.data(), s.size(), nullptr);
    }

    std::vector<std::pair<std::string, std::string>>
    Segments(const std::string &key)
    {
        struct kv_buf raw = KV_BUF_INIT, lower = KV_BUF_INIT, upper = KV_BUF_INIT;
        struct meta m;
        EXPECT_EQ(db_get_meta(&db_, S(key), META_HLL, &m, &raw, nullptr), KV_OK);
        db_subkey_prefix(&db_, S(key), m.version, &lower);
        keys_prefix_end(&upper, kv_buf_slice(&lower));
        struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_SUBKEY, kv_buf_slice(&lower),
                                                   kv_buf_slice(&upper));
        std::vector<std::pair<std::string, std::string>> out;
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
            struct kv_slice k = storage_iter_key(it), v = storage_iter_value(it);
            out.emplace_back(std::string(k.ptr + lower.len, k.len - lower.len),
                             std::string(v.ptr, v.len));
        }
        storage_iter_free(it);
        kv_buf_deinit(&raw);
        kv_buf_deinit(&lower);
        kv_buf_deinit(&upper);
        return out;
    }

    void
    PutMeta(const std::string &key, const struct meta &m)
    {
        struct storage_batch *b = storage_batch_new(st_);
        db_batch_put_meta(&db_, b, S(key), &m);
        ASSERT_EQ(storage_write(st_, b, nullptr), KV_OK);
        storage_batch_free(b);
    }
};

TEST_F(HllTest, AddLayout)
{
    EXPECT_TRUE(Add("h", {}));  // creating the key counts as a change
    EXPECT_FALSE(Add("h", {})); // it exists now
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    ASSERT_EQ(db_get_meta(&db_, L("h"), META_NONE, &m, &raw, nullptr), KV_OK);
    EXPECT_EQ(m.type, META_HLL);
    EXPECT_EQ(m.hll_encoding, 0);
    EXPECT_EQ(m.size, 0u);
    kv_buf_deinit(&raw);
    EXPECT_TRUE(Segments("h").empty()); // an empty HLL is just its metadata
    EXPECT_EQ(Count({"h"}), 0u);
    // "hello" -> register 9216 (segment 9, register 0) value 1; "a" -> 12711 (segment 12,
    // register 423) value 2.
    EXPECT_TRUE(Add("h", {"hello", "a"}));
    auto segs = Segments("h");
    ASSERT_EQ(segs.size(), 2u);
    EXPECT_EQ(segs[0].first, "12");
    EXPECT_EQ(segs[1].first, "9");
    ASSERT_EQ(segs[0].second.size(), (size_t)HLL_SEGMENT_BYTES);
    ASSERT_EQ(segs[1].second.size(), (size_t)HLL_SEGMENT_BYTES);
    EXPECT_EQ((uint8_t)segs[1].second[0], 0x01);
    EXPECT_EQ(hll_segment_get((const uint8_t *)segs[0].second.data(), 423), 2);
    EXPECT_FALSE(Add("h", {"hello", "a"}));
    EXPECT_EQ(Count({"h"}), 2u);
}

TEST_F(HllTest, CountUnionAndMerge)
{
    std::vector<std::string> a, b;
    for (int i = 0; i < 3000; i++)
        a.push_back("x" + std::to_string(i));
    for (int i = 2000; i < 5000; i++)
        b.push_back("x" + std::to_string(i));
    Add("a", a);
    Add("b", b);
    uint64_t ca = Count({"a"}), cb = Count({"b"}), cu = Count({"a", "b", "nokey", "a"});
    EXPECT_NEAR((double)ca, 3000, 3000 * 0.05);
    EXPECT_NEAR((double)cb, 3000, 3000 * 0.05);
    EXPECT_NEAR((double)cu, 5000, 5000 * 0.05);
    // Merging equals counting the union; dest included; nothing changes the sources.
    ASSERT_EQ(Merge("m", {"a", "b", "nokey"}), KV_OK);
    EXPECT_EQ(Count({"m"}), cu);
    EXPECT_EQ(Count({"a"}), ca);
    Add("c", {"only-in-c"});
    ASSERT_EQ(Merge("c", {"a"}), KV_OK);
    EXPECT_EQ(Count({"c"}), Count({"a", "c"}));
    // Merging into an existing HLL keeps its expiry.
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    ASSERT_EQ(db_get_meta(&db_, L("m"), META_HLL, &m, &raw, nullptr), KV_OK);
    m.expire_ms = (uint64_t)clock_now_ms() + 100000;
    struct meta copy = m;
    kv_buf_deinit(&raw);
    PutMeta("m", copy);
    ASSERT_EQ(Merge("m", {"c"}), KV_OK);
    raw = KV_BUF_INIT;
    ASSERT_EQ(db_get_meta(&db_, L("m"), META_HLL, &m, &raw, nullptr), KV_OK);
    EXPECT_EQ(m.expire_ms, copy.expire_ms);
    kv_buf_deinit(&raw);
    // A merge of nothing creates an empty HLL.
    ASSERT_EQ(Merge("e", {}), KV_OK);
    EXPECT_EQ(Count({"e"}), 0u);
    EXPECT_TRUE(Segments("e").empty());
}

TEST_F(HllTest, Types)
{
    struct str_set_opts o = {STR_COND_NONE, STR_TTL_CLEAR, 0, false};
    bool written = false;
    ASSERT_EQ(
        str_set(&db_, L("s"), L("HYLL"), &o, kBitmapStringMax, &written, nullptr, nullptr, nullptr),
        KV_OK);
    struct meta h;
    meta_init(&h, META_HASH);
    h.size = 1;
    PutMeta("hash", h);
    Add("ok", {"x"});
    struct kv_slice e = L("x");
    bool changed = false;
    EXPECT_EQ(hll_add(&db_, L("s"), &e, 1, &changed, nullptr), KV_ERR_INVALID);
    EXPECT_EQ(hll_add(&db_, L("hash"), &e, 1, &changed, nullptr), KV_ERR_WRONGTYPE);
    Count({"ok", "s"}, KV_ERR_INVALID);
    Count({"ok", "hash"}, KV_ERR_WRONGTYPE);
    EXPECT_EQ(Merge("ok", {"s"}), KV_ERR_INVALID);
    EXPECT_EQ(Merge("s", {"ok"}), KV_ERR_INVALID);
    EXPECT_EQ(Merge("hash", {"ok"}), KV_ERR_WRONGTYPE);
    EXPECT_EQ(Count({"ok"}), 1u); // unchanged
}

TEST_F(HllTest, CorruptSegment)
{
    Add("h", {"hello"});
    struct kv_buf raw = KV_BUF_INIT, sk = KV_BUF_INIT;
    struct meta m;
    ASSERT_EQ(db_get_meta(&db_, L("h"), META_HLL, &m, &raw, nullptr), KV_OK);
    db_subkey(&db_, L("h"), m.version, L("9"), &sk);
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), L("short"));
    ASSERT_EQ(storage_write(st_, b, nullptr), KV_OK);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&sk);
    Count({"h"}, KV_ERR_CORRUPT);
    struct kv_slice e = L("hello");
    bool changed = false;
    EXPECT_EQ(hll_add(&db_, L("h"), &e, 1, &changed, nullptr), KV_ERR_CORRUPT);
}

TEST_F(HllTest, AccuracyOn100kDistinct)
{
    const int n = 100000;
    std::vector<std::string> batch;
    for (int i = 0; i < n; i++) {
        batch.push_back("element:" + std::to_string(i));
        if (batch.size() == 5000) {
            Add("big", batch);
            batch.clear();
        }
    }
    uint64_t c = Count({"big"});
    // Redis's standard error is 0.81%; allow three of them.
    EXPECT_NEAR((double)c, n, n * 0.0081 * 3) << c;
}

} // namespace
