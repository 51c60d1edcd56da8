// SPDX-License-Identifier: Apache-2.0
//
// The set type layer (types/set.h) on a real RocksDB: the byte layout, member counts, deletion of
// emptied sets, type errors, SPOP/SRANDMEMBER sampling, SMOVE, unions/intersections/differences
// and their STORE forms (one batch, destination of any type replaced or deleted), a 100k-member
// set (sampling by descent, scan, O(1) DEL, compaction), and atomicity under concurrent writers.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/endian.h"
#include "fixture.h"
#include "storage/meta.h"
#include "types/set.h"
#include "types/str.h"
#include "types/subkey.h"

namespace {

using Members = std::set<std::string>;

struct kv_slice
Sl(const std::string &s)
{
    return kv_slice_make(s.data(), s.size());
}

std::vector<struct kv_slice>
Slices(const std::vector<std::string> &v)
{
    std::vector<struct kv_slice> out;
    for (const auto &s : v)
        out.push_back(Sl(s));
    return out;
}

bool
collect(void *arg, struct kv_slice member)
{
    static_cast<std::vector<std::string> *>(arg)->emplace_back(member.ptr, member.len);
    return true;
}

class SetTest : public StorageTest {
  protected:
    uint64_t
    SAdd(const std::string &key, const std::vector<std::string> &members, enum kv_code want = KV_OK)
    {
        auto s = Slices(members);
        uint64_t added = 999;
        EXPECT_EQ(set_add(&db_, S(key), s.data(), s.size(), &added, nullptr), want);
        return added;
    }

    uint64_t
    SRem(const std::string &key, const std::vector<std::string> &members, enum kv_code want = KV_OK)
    {
        auto s = Slices(members);
        uint64_t removed = 999;
        EXPECT_EQ(set_remove(&db_, S(key), s.data(), s.size(), &removed, nullptr), want);
        return removed;
    }

    uint64_t
    SCard(const std::string &key)
    {
        uint64_t n = 999;
        EXPECT_EQ(set_card(&db_, S(key), &n, nullptr), KV_OK);
        return n;
    }

    // SMEMBERS as a std::set; *rc_out receives the code.
    Members
    SMembers(const std::string &key, enum kv_code *rc_out = nullptr)
    {
        struct subkey_list l = SUBKEY_LIST_INIT;
        struct kv_buf last = KV_BUF_INIT;
        bool done = false;
        enum kv_code rc = set_scan(&db_, S(key), nullptr, kv_slice_make(nullptr, 0), 0,
                                   subkey_list_collect, &l, &last, &done, nullptr);
        if (rc_out)
            *rc_out = rc;
        Members out;
        for (size_t i = 0; i < l.n; i++) {
            struct kv_slice m = subkey_list_sub(&l, i);
            EXPECT_EQ(subkey_list_value(&l, i).len, 0u);
            out.insert(std::string(m.ptr, m.len));
        }
        subkey_list_deinit(&l);
        kv_buf_deinit(&last);
        return out;
    }

    // SUNION/SINTER/SDIFF in the order produced; *rc receives the code.
    std::vector<std::string>
    Combine(enum set_op op, const std::vector<std::string> &keys, enum kv_code *rc = nullptr)
    {
        auto k = Slices(keys);
        std::vector<std::string> out;
        enum kv_code r = set_combine(&db_, op, k.data(), k.size(), collect, &out, nullptr);
        if (rc)
            *rc = r;
        return out;
    }

    enum kv_code
    Store(enum set_op op, const std::string &dst, const std::vector<std::string> &keys,
          uint64_t *card)
    {
        auto k = Slices(keys);
        return set_combine_store(&db_, op, S(dst), k.data(), k.size(), card, nullptr);
    }

    std::vector<std::string>
    Pop(const std::string &key, uint64_t count, enum kv_code want = KV_OK)
    {
        struct subkey_list l = SUBKEY_LIST_INIT;
        EXPECT_EQ(set_pop(&db_, S(key), count, &l, nullptr), want);
        std::vector<std::string> out;
        for (size_t i = 0; i < l.n; i++) {
            struct kv_slice m = subkey_list_sub(&l, i);
            out.emplace_back(m.ptr, m.len);
        }
        subkey_list_deinit(&l);
        return out;
    }

    std::vector<std::string>
    Random(const std::string &key, uint64_t count, bool distinct, enum kv_code want = KV_OK)
    {
        struct subkey_sample s = {SUBKEY_LIST_INIT, nullptr, 0};
        EXPECT_EQ(set_random(&db_, S(key), count, distinct, &s, nullptr), want);
        std::vector<std::string> out;
        for (size_t i = 0; i < s.npicks; i++) {
            struct kv_slice m = subkey_list_sub(&s.entries, s.picks[i]);
            out.emplace_back(m.ptr, m.len);
        }
        subkey_sample_deinit(&s);
        return out;
    }

    std::string
    RawMeta(const std::string &key)
    {
        struct kv_buf mk = KV_BUF_INIT, v = KV_BUF_INIT;
        db_meta_key(&db_, S(key), &mk);
        enum kv_code rc = storage_get(st_, nullptr, KV_CF_METADATA, kv_buf_slice(&mk), &v, nullptr);
        std::string out = rc == KV_OK ? std::string(v.ptr ? v.ptr : "", v.len) : "";
        kv_buf_deinit(&mk);
        kv_buf_deinit(&v);
        return out;
    }

    uint64_t
    Version(const std::string &key)
    {
        std::string raw = RawMeta(key);
        EXPECT_EQ(raw.size(), 25u);
        return raw.size() == 25 ? kv_get_u64be(raw.data() + 9) : 0;
    }

    size_t
    CountSubKeys(const std::string &key, uint64_t version)
    {
        struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT;
        subkey_bounds(&db_, S(key), version, &lower, &upper);
        struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_SUBKEY, kv_buf_slice(&lower),
                                                   kv_buf_slice(&upper));
        size_t n = 0;
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it))
            n++;
        storage_iter_free(it);
        kv_buf_deinit(&lower);
        kv_buf_deinit(&upper);
        return n;
    }

    void
    SetString(const std::string &key, const std::string &value)
    {
        struct str_set_opts opts = {};
        bool written = false;
        ASSERT_EQ(str_set(&db_, S(key), S(value), &opts, kBitmapStringMax, &written, nullptr,
                          nullptr, nullptr),
                  KV_OK);
    }

    enum meta_type
    Type(const std::string &key)
    {
        enum meta_type t = META_NONE;
        EXPECT_EQ(db_type(&db_, S(key), &t, nullptr), KV_OK);
        return t;
    }
};

TEST_F(SetTest, LayoutCountsAndDuplicates)
{
    EXPECT_EQ(SAdd("s", {"b", "a", "b", ""}), 3u);
    std::string raw = RawMeta("s");
    ASSERT_EQ(raw.size(), 25u);
    EXPECT_EQ((uint8_t)raw[0], 0x80 | META_SET);
    EXPECT_EQ(kv_get_u64be(raw.data() + 17), 3u);
    // Member "a": [ns prefix][key_len u32]["s"][version u64]["a"] -> "" in CF default.
    uint64_t version = kv_get_u64be(raw.data() + 9);
    std::string sk;
    sk.push_back((char)strlen(KEYS_DEFAULT_NAMESPACE));
    sk += KEYS_DEFAULT_NAMESPACE;
    sk += std::string("\0\0\0\x01", 4) + "s";
    for (int i = 7; i >= 0; i--)
        sk.push_back((char)(version >> (8 * i)));
    sk += "a";
    struct kv_buf v = KV_BUF_INIT;
    ASSERT_EQ(storage_get(st_, nullptr, KV_CF_SUBKEY, S(sk), &v, nullptr), KV_OK);
    EXPECT_EQ(v.len, 0u);
    kv_buf_deinit(&v);
    EXPECT_EQ(CountSubKeys("s", version), 3u);
    EXPECT_EQ(SAdd("s", {"a", "c"}), 1u);
    EXPECT_EQ(SCard("s"), 4u);
    EXPECT_EQ(SMembers("s"), (Members{"", "a", "b", "c"}));
    std::vector<std::string> q = {"a", "x", "", "c"};
    auto qs = Slices(q);
    bool in[4];
    ASSERT_EQ(set_is_member(&db_, kv_slice_cstr("s"), qs.data(), 4, in, nullptr), KV_OK);
    EXPECT_TRUE(in[0]);
    EXPECT_FALSE(in[1]);
    EXPECT_TRUE(in[2]);
    EXPECT_TRUE(in[3]);
    ASSERT_EQ(set_is_member(&db_, kv_slice_cstr("nokey"), qs.data(), 4, in, nullptr), KV_OK);
    for (bool b : in)
        EXPECT_FALSE(b);
    EXPECT_EQ(SCard("nokey"), 0u);
}

TEST_F(SetTest, RemoveAndEmptiedSetIsDeleted)
{
    SAdd("s", {"a", "b", "c"});
    uint64_t version = Version("s");
    EXPECT_EQ(SRem("s", {"a", "a", "zz"}), 1u);
    EXPECT_EQ(SCard("s"), 2u);
    EXPECT_EQ(SRem("nokey", {"a"}), 0u);
    EXPECT_EQ(SRem("s", {"b", "c"}), 2u);
    EXPECT_EQ(RawMeta("s"), "");
    EXPECT_EQ(CountSubKeys("s", version), 0u);
    EXPECT_EQ(Type("s"), META_NONE);
}

TEST_F(SetTest, WrongTypeChangesNothing)
{
    SetString("str", "v");
    SAdd("s", {"a"});
    SAdd("str", {"a"}, KV_ERR_WRONGTYPE);
    SRem("str", {"a"}, KV_ERR_WRONGTYPE);
    uint64_t n;
    EXPECT_EQ(set_card(&db_, kv_slice_cstr("str"), &n, nullptr), KV_ERR_WRONGTYPE);
    enum kv_code rc;
    SMembers("str", &rc);
    EXPECT_EQ(rc, KV_ERR_WRONGTYPE);
    Pop("str", 1, KV_ERR_WRONGTYPE);
    Pop("str", 0, KV_ERR_WRONGTYPE);
    Random("str", 1, true, KV_ERR_WRONGTYPE);
    // Every source is type-checked before anything is produced, even after a missing key.
    for (enum set_op op : {SET_OP_UNION, SET_OP_INTER, SET_OP_DIFF}) {
        EXPECT_TRUE(Combine(op, {"nokey", "s", "str"}, &rc).empty());
        EXPECT_EQ(rc, KV_ERR_WRONGTYPE);
        uint64_t card = 7;
        EXPECT_EQ(Store(op, "dst", {"s", "str"}, &card), KV_ERR_WRONGTYPE);
        EXPECT_EQ(card, 7u);
        EXPECT_EQ(Type("dst"), META_NONE);
    }
    bool moved = true;
    EXPECT_EQ(set_move(&db_, kv_slice_cstr("s"), kv_slice_cstr("str"), kv_slice_cstr("a"), &moved,
                       nullptr),
              KV_ERR_WRONGTYPE);
    EXPECT_EQ(set_move(&db_, kv_slice_cstr("str"), kv_slice_cstr("s"), kv_slice_cstr("a"), &moved,
                       nullptr),
              KV_ERR_WRONGTYPE);
    // An absent source answers 0 before the destination's type is looked at (Redis's order).
    ASSERT_EQ(set_move(&db_, kv_slice_cstr("nokey"), kv_slice_cstr("str"), kv_slice_cstr("a"),
                       &moved, nullptr),
              KV_OK);
    EXPECT_FALSE(moved);
    EXPECT_EQ(SMembers("s"), (Members{"a"}));
    EXPECT_EQ(Type("str"), META_STRING);
}

TEST_F(SetTest, PopAndRandom)
{
    std::vector<std::string> all;
    for (int i = 0; i < 20; i++)
        all.push_back("m" + std::to_string(i));
    SAdd("s", all);
    Members full(all.begin(), all.end());
    // Distinct random members.
    auto r = Random("s", 5, true);
    EXPECT_EQ(r.size(), 5u);
    EXPECT_EQ(Members(r.begin(), r.end()).size(), 5u);
    for (const auto &m : r)
        EXPECT_EQ(full.count(m), 1u);
    auto whole = Random("s", 50, true); // count >= size: the whole set, once each, in order
    EXPECT_EQ(whole, std::vector<std::string>(full.begin(), full.end()));
    auto rep = Random("s", 100, false);
    EXPECT_EQ(rep.size(), 100u);
    for (const auto &m : rep)
        EXPECT_EQ(full.count(m), 1u);
    EXPECT_TRUE(Random("nokey", 3, true, KV_NOTFOUND).empty());
    // SPOP removes what it returns.
    auto p = Pop("s", 3);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(Members(p.begin(), p.end()).size(), 3u);
    EXPECT_EQ(SCard("s"), 17u);
    Members left = SMembers("s");
    for (const auto &m : p) {
        EXPECT_EQ(full.count(m), 1u);
        EXPECT_EQ(left.count(m), 0u);
    }
    EXPECT_TRUE(Pop("s", 0).empty());
    EXPECT_EQ(SCard("s"), 17u);
    EXPECT_TRUE(Pop("nokey", 3).empty());
    // Popping at least the size returns everything and deletes the key.
    auto rest = Pop("s", 17);
    EXPECT_EQ(Members(rest.begin(), rest.end()), left);
    EXPECT_EQ(Type("s"), META_NONE);
    SAdd("one", {"x"});
    EXPECT_EQ(Pop("one", 1), (std::vector<std::string>{"x"}));
    EXPECT_EQ(Type("one"), META_NONE);
}

// SPOP of single members drains a set uniformly: over many rounds each member is popped first
// about equally often.
TEST_F(SetTest, PopIsUniformOnSmallSets)
{
    std::vector<int> first(5, 0);
    for (int round = 0; round < 1000; round++) {
        SAdd("s", {"0", "1", "2", "3", "4"});
        auto p = Pop("s", 1);
        ASSERT_EQ(p.size(), 1u);
        first[p[0][0] - '0']++;
        Pop("s", 10);
    }
    for (int n : first) {
        EXPECT_GT(n, 130);
        EXPECT_LT(n, 270);
    }
}

TEST_F(SetTest, Move)
{
    SAdd("a", {"1", "2"});
    SAdd("b", {"2", "3"});
    auto move = [&](const char *src, const char *dst, const char *m) {
        bool moved = false;
        EXPECT_EQ(set_move(&db_, kv_slice_cstr(src), kv_slice_cstr(dst), kv_slice_cstr(m), &moved,
                           nullptr),
                  KV_OK);
        return moved;
    };
    EXPECT_TRUE(move("a", "b", "1"));
    EXPECT_EQ(SMembers("a"), (Members{"2"}));
    EXPECT_EQ(SMembers("b"), (Members{"1", "2", "3"}));
    EXPECT_FALSE(move("a", "b", "9"));
    // Already in the destination: removed from the source only; the last member deletes it.
    EXPECT_TRUE(move("a", "b", "2"));
    EXPECT_EQ(Type("a"), META_NONE);
    EXPECT_EQ(SCard("b"), 3u);
    // Same key: membership, no change.
    EXPECT_TRUE(move("b", "b", "3"));
    EXPECT_FALSE(move("b", "b", "9"));
    EXPECT_EQ(SCard("b"), 3u);
    // To a new key.
    EXPECT_TRUE(move("b", "c", "3"));
    EXPECT_EQ(SMembers("c"), (Members{"3"}));
    EXPECT_EQ(SCard("b"), 2u);
}

TEST_F(SetTest, CombineOperations)
{
    SAdd("a", {"1", "2", "3", "4"});
    SAdd("b", {"3", "4", "5"});
    SAdd("c", {"4", "6"});
    enum kv_code rc;
    EXPECT_EQ(Combine(SET_OP_UNION, {"a", "b", "c"}),
              (std::vector<std::string>{"1", "2", "3", "4", "5", "6"}));
    EXPECT_EQ(Combine(SET_OP_UNION, {"a", "nokey", "a"}),
              (std::vector<std::string>{"1", "2", "3", "4"}));
    EXPECT_EQ(Combine(SET_OP_INTER, {"a", "b"}), (std::vector<std::string>{"3", "4"}));
    EXPECT_EQ(Combine(SET_OP_INTER, {"a", "b", "c"}), (std::vector<std::string>{"4"}));
    EXPECT_EQ(Combine(SET_OP_INTER, {"a", "a"}), (std::vector<std::string>{"1", "2", "3", "4"}));
    EXPECT_TRUE(Combine(SET_OP_INTER, {"a", "nokey"}, &rc).empty());
    EXPECT_EQ(rc, KV_OK);
    EXPECT_EQ(Combine(SET_OP_DIFF, {"a", "b"}), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(Combine(SET_OP_DIFF, {"a", "b", "c", "nokey"}), (std::vector<std::string>{"1", "2"}));
    EXPECT_TRUE(Combine(SET_OP_DIFF, {"a", "a"}).empty());
    EXPECT_TRUE(Combine(SET_OP_DIFF, {"nokey", "a"}).empty());
    EXPECT_EQ(Combine(SET_OP_DIFF, {"a"}), (std::vector<std::string>{"1", "2", "3", "4"}));
    // A callback that stops (SINTERCARD LIMIT) stops the stream.
    std::vector<std::string> got;
    struct kv_slice keys[2] = {kv_slice_cstr("a"), kv_slice_cstr("b")};
    auto stop_after_one = [](void *arg, struct kv_slice m) {
        static_cast<std::vector<std::string> *>(arg)->emplace_back(m.ptr, m.len);
        return false;
    };
    ASSERT_EQ(set_combine(&db_, SET_OP_UNION, keys, 2, stop_after_one, &got, nullptr), KV_OK);
    EXPECT_EQ(got.size(), 1u);
}

TEST_F(SetTest, StoreReplacesAnyTypeAndDeletesOnEmpty)
{
    SAdd("a", {"1", "2", "3"});
    SAdd("b", {"2", "3", "4"});
    uint64_t card = 0;
    // Over a string with a TTL: replaced, TTL gone.
    SetString("dst", "text");
    bool changed = false;
    ASSERT_EQ(db_expire(&db_, kv_slice_cstr("dst"), clock_now_ms() + 100000, 0, &changed, nullptr),
              KV_OK);
    ASSERT_EQ(Store(SET_OP_INTER, "dst", {"a", "b"}, &card), KV_OK);
    EXPECT_EQ(card, 2u);
    EXPECT_EQ(SMembers("dst"), (Members{"2", "3"}));
    int64_t at = 0;
    ASSERT_EQ(db_expire_at(&db_, kv_slice_cstr("dst"), &at, nullptr), KV_OK);
    EXPECT_EQ(at, -1);
    // Over an existing set: a new version, the old members gone.
    uint64_t old_version = Version("dst");
    ASSERT_EQ(Store(SET_OP_UNION, "dst", {"a", "b"}, &card), KV_OK);
    EXPECT_EQ(card, 4u);
    EXPECT_EQ(SMembers("dst"), (Members{"1", "2", "3", "4"}));
    EXPECT_NE(Version("dst"), old_version);
    EXPECT_EQ(SCard("dst"), 4u);
    // The destination as a source.
    ASSERT_EQ(Store(SET_OP_DIFF, "dst", {"dst", "a"}, &card), KV_OK);
    EXPECT_EQ(card, 1u);
    EXPECT_EQ(SMembers("dst"), (Members{"4"}));
    // An empty result deletes the destination; an absent one stays absent.
    ASSERT_EQ(Store(SET_OP_INTER, "dst", {"a", "nokey"}, &card), KV_OK);
    EXPECT_EQ(card, 0u);
    EXPECT_EQ(Type("dst"), META_NONE);
    ASSERT_EQ(Store(SET_OP_DIFF, "dst", {"a", "a"}, &card), KV_OK);
    EXPECT_EQ(card, 0u);
    EXPECT_EQ(Type("dst"), META_NONE);
    // Sources are unchanged.
    EXPECT_EQ(SMembers("a"), (Members{"1", "2", "3"}));
    EXPECT_EQ(SMembers("b"), (Members{"2", "3", "4"}));
}

TEST_F(SetTest, ScanWithPositionsAndPatterns)
{
    std::vector<std::string> all;
    for (int i = 0; i < 30; i++)
        all.push_back("m" + std::to_string(100 + i));
    SAdd("s", all);
    std::vector<std::string> seen;
    std::string pos;
    bool done = false, first = true;
    while (!done) {
        struct subkey_list l = SUBKEY_LIST_INIT;
        struct kv_buf last = KV_BUF_INIT;
        struct kv_slice a = Sl(pos);
        ASSERT_EQ(set_scan(&db_, kv_slice_cstr("s"), first ? nullptr : &a, kv_slice_cstr("m1?[05]"),
                           4, subkey_list_collect, &l, &last, &done, nullptr),
                  KV_OK);
        for (size_t i = 0; i < l.n; i++)
            seen.emplace_back(subkey_list_sub(&l, i).ptr, subkey_list_sub(&l, i).len);
        pos.assign(last.ptr ? last.ptr : "", last.len);
        first = false;
        subkey_list_deinit(&l);
        kv_buf_deinit(&last);
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"m100", "m105", "m110", "m115", "m120", "m125"}));
    struct subkey_list l = SUBKEY_LIST_INIT;
    struct kv_buf last = KV_BUF_INIT;
    EXPECT_EQ(set_scan(&db_, kv_slice_cstr("nokey"), nullptr, kv_slice_make(nullptr, 0), 10,
                       subkey_list_collect, &l, &last, &done, nullptr),
              KV_NOTFOUND);
    EXPECT_TRUE(done);
    subkey_list_deinit(&l);
    kv_buf_deinit(&last);
}

// A 100k-member set: counts from the metadata, random picks by descent that cover the set, pops,
// a full union stream, O(1) DEL and compaction reclaiming the members.
TEST_F(SetTest, BigSet)
{
    const int kMembers = 100000;
    for (int base = 0; base < kMembers; base += 1000) {
        std::vector<std::string> chunk;
        for (int i = base; i < base + 1000; i++)
            chunk.push_back(std::to_string(i)); // unpadded numbers: an unbalanced trie
        ASSERT_EQ(SAdd("big", chunk), 1000u);
    }
    EXPECT_EQ(SCard("big"), (uint64_t)kMembers);
    std::set<std::string> picked;
    for (int round = 0; round < 100; round++) {
        auto r = Random("big", 20, true);
        ASSERT_EQ(r.size(), 20u);
        EXPECT_EQ(Members(r.begin(), r.end()).size(), 20u);
        for (const auto &m : r) {
            int n = atoi(m.c_str());
            EXPECT_TRUE(n >= 0 && n < kMembers && std::to_string(n) == m) << m;
            picked.insert(m);
        }
    }
    EXPECT_GT(picked.size(), 1000u); // not stuck on a few members
    auto rep = Random("big", 30, false);
    EXPECT_EQ(rep.size(), 30u);
    auto p = Pop("big", 10);
    EXPECT_EQ(Members(p.begin(), p.end()).size(), 10u);
    EXPECT_EQ(SCard("big"), (uint64_t)kMembers - 10);
    uint64_t version = Version("big");
    EXPECT_EQ(CountSubKeys("big", version), (size_t)kMembers - 10);
    size_t n = 0;
    struct kv_slice k = kv_slice_cstr("big");
    auto count = [](void *arg, struct kv_slice) {
        (*static_cast<size_t *>(arg))++;
        return true;
    };
    ASSERT_EQ(set_combine(&db_, SET_OP_UNION, &k, 1, count, &n, nullptr), KV_OK);
    EXPECT_EQ(n, (size_t)kMembers - 10);
    ASSERT_EQ(storage_compact(st_, KV_CF_SUBKEY, kv_slice_make(nullptr, 0),
                              kv_slice_make(nullptr, 0), nullptr),
              KV_OK);
    int64_t deleted = 0;
    int64_t t0 = clock_mono_us();
    ASSERT_EQ(db_delete(&db_, &k, 1, &deleted, nullptr), KV_OK);
    EXPECT_LT(clock_mono_us() - t0, 100000);
    EXPECT_EQ(deleted, 1);
    ASSERT_EQ(storage_compact(st_, KV_CF_SUBKEY, kv_slice_make(nullptr, 0),
                              kv_slice_make(nullptr, 0), nullptr),
              KV_OK);
    EXPECT_EQ(CountSubKeys("big", version), 0u);
}

// SMOVE is one batch: a reader taking the union of both sets (one snapshot) always sees every
// member exactly once while writers move members back and forth; concurrent SADDs of distinct
// members keep the count exact.
TEST_F(SetTest, MoveIsAtomicAndAddsAreSerialised)
{
    std::vector<std::string> all;
    for (int i = 0; i < 20; i++)
        all.push_back("m" + std::to_string(i));
    SAdd("a", all);
    std::atomic<bool> stop{false};
    std::atomic<int> torn{0};
    std::thread reader([&] {
        struct kv_slice keys[2] = {kv_slice_cstr("a"), kv_slice_cstr("b")};
        while (!stop.load()) {
            size_t n = 0;
            auto count = [](void *arg, struct kv_slice) {
                (*static_cast<size_t *>(arg))++;
                return true;
            };
            if (set_combine(&db_, SET_OP_UNION, keys, 2, count, &n, nullptr) != KV_OK || n != 20)
                torn++;
        }
    });
    std::vector<std::thread> movers;
    for (int t = 0; t < 2; t++) {
        movers.emplace_back([&, t] {
            for (int i = 0; i < 300; i++) {
                std::string m = "m" + std::to_string((i + t) % 20);
                bool moved = false;
                const char *src = (i % 2) ? "a" : "b", *dst = (i % 2) ? "b" : "a";
                EXPECT_EQ(
                    set_move(&db_, kv_slice_cstr(src), kv_slice_cstr(dst), Sl(m), &moved, nullptr),
                    KV_OK);
            }
        });
    }
    std::vector<std::thread> adders;
    for (int t = 0; t < 3; t++) {
        adders.emplace_back([&, t] {
            for (int i = 0; i < 200; i++) {
                std::string m = "x" + std::to_string(t) + ":" + std::to_string(i);
                struct kv_slice s = Sl(m);
                uint64_t added = 0;
                EXPECT_EQ(set_add(&db_, kv_slice_cstr("c"), &s, 1, &added, nullptr), KV_OK);
                EXPECT_EQ(added, 1u);
            }
        });
    }
    for (auto &t : movers)
        t.join();
    for (auto &t : adders)
        t.join();
    stop = true;
    reader.join();
    EXPECT_EQ(torn.load(), 0);
    EXPECT_EQ(SCard("a") + SCard("b"), 20u);
    EXPECT_EQ(SCard("c"), 600u);
    EXPECT_EQ(SMembers("c").size(), 600u);
}

struct TouchLog {
    std::vector<std::string> keys;
};

void
record_touch(void *arg, struct kv_slice ns, struct kv_slice key)
{
    (void)ns;
    static_cast<TouchLog *>(arg)->keys.emplace_back(key.ptr, key.len);
}

TEST_F(SetTest, WritesReportTouchedKeys)
{
    TouchLog log;
    struct db_hooks hooks = {record_touch, &log};
    db_.hooks = &hooks;
    SAdd("a", {"1", "2"});
    SAdd("a", {"1"});  // nothing added: no write
    SRem("a", {"zz"}); // nothing removed: no write
    uint64_t card = 0;
    ASSERT_EQ(Store(SET_OP_INTER, "d", {"a", "nokey"}, &card), KV_OK); // absent stays absent
    bool moved = false;
    ASSERT_EQ(
        set_move(&db_, kv_slice_cstr("a"), kv_slice_cstr("b"), kv_slice_cstr("1"), &moved, nullptr),
        KV_OK);
    ASSERT_EQ(Store(SET_OP_UNION, "d", {"a", "b"}, &card), KV_OK);
    Pop("d", 1);
    EXPECT_EQ(log.keys, (std::vector<std::string>{"a", "a", "b", "d", "d"}));
    db_.hooks = nullptr;
}

TEST_F(SetTest, SaddOfPresentMembersDoesNotWaitForAKeyLockHeldElsewhere)
{
    SAdd("k", {"a", "b", "c"});
    HeldKey held(locks_, db_.ns, "k");
    // Members all there: answered at once, without the lock.
    EXPECT_EQ(SAdd("k", {"a", "c", "a"}), 0u);
    ASSERT_TRUE(held.StillHeld()) << "SADD of present members waited for the key lock";
    // A new member needs the lock: this SADD waits for the holder.
    std::atomic<bool> done{false};
    uint64_t added = 999;
    std::vector<std::string> members = {"a", "new"};
    std::thread adder([&] {
        auto s = Slices(members);
        EXPECT_EQ(set_add(&db_, S("k"), s.data(), s.size(), &added, nullptr), KV_OK);
        done.store(true);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(done.load()) << "SADD of a new member did not wait for the key lock";
    held.Release();
    adder.join();
    EXPECT_EQ(added, 1u);
    EXPECT_EQ(SMembers("k"), (Members{"a", "b", "c", "new"}));
}

TEST_F(SetTest, UnlockedCheckFindsOnlyLiveKeysOfTheTypeWithEveryMember)
{
    auto check = [this](const std::string &key, const std::vector<std::string> &members) {
        auto s = Slices(members);
        return subkey_unchanged_unlocked(&db_, S(key), META_SET, s.data(), s.size(), 1, false);
    };
    SAdd("k", {"a", "b"});
    EXPECT_TRUE(check("k", {"a"}));
    EXPECT_TRUE(check("k", {"b", "a", "b"}));
    EXPECT_FALSE(check("k", {"a", "zz"}));
    EXPECT_FALSE(check("nokey", {"a"}));
    EXPECT_FALSE(check("k", {}));
    SetString("str", "a");
    EXPECT_FALSE(check("str", {"a"})); // the locked path gives WRONGTYPE
    std::vector<std::string> many;
    for (int i = 0; i <= SUBKEY_UNLOCKED_MAX; i++) {
        many.push_back("m" + std::to_string(i));
        SAdd("k", {many.back()});
    }
    EXPECT_FALSE(check("k", many)); // more than SUBKEY_UNLOCKED_MAX: always locked
    many.pop_back();
    EXPECT_TRUE(check("k", many));
    // An expired key's members (still in the DB until compaction) are not members.
    bool changed = false;
    ASSERT_EQ(db_expire(&db_, S("k"), clock_now_ms() + 50, 0, &changed, nullptr), KV_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(check("k", {"a"}));
    // Nor are those of a deleted and re-created key's old version.
    SAdd("r", {"a", "b"});
    int64_t n = 0;
    struct kv_slice key = S("r");
    ASSERT_EQ(db_delete(&db_, &key, 1, &n, nullptr), KV_OK);
    SAdd("r", {"b"});
    EXPECT_FALSE(check("r", {"a"}));
    EXPECT_TRUE(check("r", {"b"}));
}

} // namespace
