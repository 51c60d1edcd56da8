// SPDX-License-Identifier: Apache-2.0
//
// The sorted set type layer (types/zset.h) on a real RocksDB: the score encoding, range parsing,
// the byte layout of both records, ZADD's option semantics applied pair after pair, ranges by
// rank/score/lex against a model (forward, reverse, LIMIT, exclusive ends, both walking
// directions), ranks, removals and pops (emptied zsets are deleted), type errors, combinations
// with weights/aggregates and set inputs, STORE forms, a 100k-member zset (O(1) card, slice
// reads that do not scan, O(1) DEL, compaction of both column families), concurrent writers and
// touched-key reports.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/endian.h"
#include "fixture.h"
#include "storage/meta.h"
#include "storage/wal.h"
#include "types/set.h"
#include "types/str.h"
#include "types/subkey.h"
#include "types/zset.h"

namespace {

using Entry = std::pair<std::string, double>;
using Entries = std::vector<Entry>;

struct kv_slice
Sl(const std::string &s)
{
    return kv_slice_make(s.data(), s.size());
}

std::string
Enc(double d)
{
    char b[ZSET_SCORE_LEN];
    zset_encode_score(d, b);
    return std::string(b, sizeof b);
}

Entries
ToEntries(const struct zset_list &l)
{
    Entries out;
    for (size_t i = 0; i < l.n; i++) {
        struct kv_slice m = zset_list_member(&l, i);
        out.emplace_back(std::string(m.ptr, m.len), l.items[i].score);
    }
    return out;
}

// The model: members sorted as a sorted set orders them.
Entries
Sorted(const std::map<std::string, double> &m)
{
    Entries v(m.begin(), m.end());
    std::sort(v.begin(), v.end(), [](const Entry &a, const Entry &b) {
        if (a.second != b.second)
            return a.second < b.second;
        return a.first < b.first;
    });
    return v;
}

class ZsetTest : public StorageTest {
  protected:
    // ZADD with flags; returns the result, expecting `want`.
    struct zset_add_result
    Add(const std::string &key, const Entries &pairs, unsigned flags = 0, enum kv_code want = KV_OK)
    {
        std::vector<double> scores;
        std::vector<struct kv_slice> members;
        for (const auto &p : pairs) {
            scores.push_back(p.second);
            members.push_back(Sl(p.first));
        }
        struct zset_add_result r = {999, 999, false, 0};
        EXPECT_EQ(
            zset_add(&db_, S(key), scores.data(), members.data(), pairs.size(), flags, &r, nullptr),
            want);
        return r;
    }

    uint64_t
    Card(const std::string &key)
    {
        uint64_t n = 999;
        EXPECT_EQ(zset_card(&db_, S(key), &n, nullptr), KV_OK);
        return n;
    }

    Entries
    Range(const std::string &key, const struct zset_range_spec &spec, enum kv_code want = KV_OK)
    {
        struct zset_list l = ZSET_LIST_INIT;
        EXPECT_EQ(zset_range(&db_, S(key), &spec, &l, nullptr), want);
        Entries out = ToEntries(l);
        zset_list_deinit(&l);
        return out;
    }

    Entries
    All(const std::string &key)
    {
        struct zset_range_spec spec;
        zset_range_spec_init(&spec, ZSET_BY_RANK);
        spec.start = 0;
        spec.stop = -1;
        return Range(key, spec);
    }

    uint64_t
    Version(const std::string &key)
    {
        struct kv_buf raw = KV_BUF_INIT;
        struct meta m;
        EXPECT_EQ(db_get_meta(&db_, S(key), META_ZSET, &m, &raw, nullptr), KV_OK);
        kv_buf_deinit(&raw);
        return m.version;
    }

    // Records of (key, version) in one column family.
    size_t
    CountRecords(const std::string &key, uint64_t version, enum kv_cf cf)
    {
        struct kv_buf lo = KV_BUF_INIT, hi = KV_BUF_INIT;
        db_subkey_prefix(&db_, S(key), version, &lo);
        db_subkey_prefix(&db_, S(key), version + 1, &hi);
        struct storage_iter *it =
            storage_iter_new(st_, nullptr, cf, kv_buf_slice(&lo), kv_buf_slice(&hi));
        size_t n = 0;
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it))
            n++;
        storage_iter_free(it);
        kv_buf_deinit(&lo);
        kv_buf_deinit(&hi);
        return n;
    }

    bool
    Exists(const std::string &key)
    {
        enum meta_type t = META_STRING;
        EXPECT_EQ(db_type(&db_, S(key), &t, nullptr), KV_OK);
        return t != META_NONE;
    }

    Entries
    Combine(enum zset_op op, const std::vector<std::string> &keys,
            const std::vector<double> &weights = {}, enum zset_aggregate agg = ZSET_AGG_SUM,
            enum kv_code want = KV_OK)
    {
        std::vector<struct kv_slice> k;
        for (const auto &s : keys)
            k.push_back(Sl(s));
        struct zset_sources src = {k.data(), k.size(), weights.empty() ? nullptr : weights.data(),
                                   agg};
        struct zset_list l = ZSET_LIST_INIT;
        EXPECT_EQ(zset_combine(&db_, op, &src, &l, nullptr), want);
        Entries out = ToEntries(l);
        zset_list_deinit(&l);
        return out;
    }

    Entries
    Pop(const std::vector<std::string> &keys, bool max, uint64_t count, size_t *which = nullptr,
        enum kv_code want = KV_OK)
    {
        std::vector<struct kv_slice> k;
        for (const auto &s : keys)
            k.push_back(Sl(s));
        struct zset_list l = ZSET_LIST_INIT;
        size_t w = 999;
        EXPECT_EQ(zset_pop(&db_, k.data(), k.size(), max, count, false, &w, &l, nullptr), want);
        if (which != nullptr)
            *which = w;
        Entries out = ToEntries(l);
        zset_list_deinit(&l);
        return out;
    }
};

// --- encodings and parsing ---

TEST(ZsetEncoding, OrderPreservingAndExactBytes)
{
    std::vector<double> v = {-INFINITY, -1e308, -2.5, -1, -1e-310, 0,
                             1e-310,    0.5,    1,    3,  1e308,   INFINITY};
    for (size_t i = 0; i + 1 < v.size(); i++)
        EXPECT_LT(Enc(v[i]), Enc(v[i + 1])) << v[i] << " vs " << v[i + 1];
    for (double d : v) {
        std::string e = Enc(d);
        EXPECT_EQ(zset_decode_score(e.data()), d);
    }
    // IEEE bits of 1.0 are 0x3ff0...: the sign bit is set. -1.0 is 0xbff0...: all bits invert.
    EXPECT_EQ(kv_get_u64be(Enc(1.0).data()), UINT64_C(0xbff0000000000000));
    EXPECT_EQ(kv_get_u64be(Enc(-1.0).data()), UINT64_C(0x400fffffffffffff));
    EXPECT_EQ(kv_get_u64be(Enc(0.0).data()), UINT64_C(0x8000000000000000));
    EXPECT_EQ(Enc(-0.0), Enc(0.0)); // stored and ordered as +0
    EXPECT_FALSE(std::signbit(zset_decode_score(Enc(-0.0).data())));
}

TEST(ZsetParse, ScoreRanges)
{
    struct zset_score_range r;
    ASSERT_EQ(zset_parse_score_range(kv_slice_cstr("(1.5"), kv_slice_cstr("+inf"), &r), KV_OK);
    EXPECT_EQ(r.min, 1.5);
    EXPECT_TRUE(r.minex);
    EXPECT_TRUE(std::isinf(r.max) && r.max > 0);
    EXPECT_FALSE(r.maxex);
    // strtod over a C string: "(" alone and "" are 0, leading blanks pass, "1e400" is inf, an
    // embedded NUL ends the number.
    ASSERT_EQ(zset_parse_score_range(kv_slice_cstr("("), kv_slice_cstr(""), &r), KV_OK);
    EXPECT_TRUE(r.min == 0 && r.minex && r.max == 0 && !r.maxex);
    ASSERT_EQ(zset_parse_score_range(kv_slice_cstr(" 1"), kv_slice_cstr("1e400"), &r), KV_OK);
    EXPECT_EQ(r.min, 1);
    EXPECT_TRUE(std::isinf(r.max));
    ASSERT_EQ(zset_parse_score_range(kv_slice_make("2\0x", 3), kv_slice_cstr("-inf"), &r), KV_OK);
    EXPECT_EQ(r.min, 2);
    for (const char *bad : {"nan", "(nan", "1 ", "x", "((1", "1e", "-"}) {
        EXPECT_EQ(zset_parse_score_range(kv_slice_cstr(bad), kv_slice_cstr("1"), &r),
                  KV_ERR_INVALID)
            << bad;
        EXPECT_EQ(zset_parse_score_range(kv_slice_cstr("1"), kv_slice_cstr(bad), &r),
                  KV_ERR_INVALID)
            << bad;
    }
    struct zset_score_range e = {2, 1, false, false};
    EXPECT_TRUE(zset_score_range_is_empty(&e));
    e = {1, 1, false, false};
    EXPECT_FALSE(zset_score_range_is_empty(&e));
    e.maxex = true;
    EXPECT_TRUE(zset_score_range_is_empty(&e));
    e = {1, 2, true, true};
    EXPECT_FALSE(zset_score_in_range(&e, 1));
    EXPECT_TRUE(zset_score_in_range(&e, 1.5));
    EXPECT_FALSE(zset_score_in_range(&e, 2));
}

TEST(ZsetParse, LexRanges)
{
    struct zset_lex_range r;
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("-"), kv_slice_cstr("+"), &r), KV_OK);
    EXPECT_EQ(r.min.kind, ZSET_LEX_NEG_INF);
    EXPECT_EQ(r.max.kind, ZSET_LEX_POS_INF);
    EXPECT_FALSE(zset_lex_range_is_empty(&r));
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("(a"), kv_slice_make("[b\0c", 4), &r), KV_OK);
    EXPECT_EQ(r.min.kind, ZSET_LEX_VALUE);
    EXPECT_TRUE(r.min.ex);
    EXPECT_EQ(std::string(r.min.value.ptr, r.min.value.len), "a");
    EXPECT_FALSE(r.max.ex);
    EXPECT_EQ(std::string(r.max.value.ptr, r.max.value.len), std::string("b\0c", 3));
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("("), kv_slice_make("-\0", 2), &r), KV_OK);
    EXPECT_EQ(r.min.value.len, 0u);
    EXPECT_EQ(r.max.kind, ZSET_LEX_NEG_INF);
    EXPECT_TRUE(zset_lex_range_is_empty(&r));
    for (const char *bad : {"", "a", "+x", "-x", "]a"}) {
        EXPECT_EQ(zset_parse_lex_range(kv_slice_cstr(bad), kv_slice_cstr("+"), &r), KV_ERR_INVALID)
            << bad;
    }
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("+"), kv_slice_cstr("+"), &r), KV_OK);
    EXPECT_TRUE(zset_lex_range_is_empty(&r));
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("[b"), kv_slice_cstr("[a"), &r), KV_OK);
    EXPECT_TRUE(zset_lex_range_is_empty(&r));
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("[a"), kv_slice_cstr("(a"), &r), KV_OK);
    EXPECT_TRUE(zset_lex_range_is_empty(&r));
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("[a"), kv_slice_cstr("[a"), &r), KV_OK);
    EXPECT_FALSE(zset_lex_range_is_empty(&r));
}

// --- layout and writes ---

TEST_F(ZsetTest, LayoutOfBothRecords)
{
    Add("z", {{"a", 1.5}, {"b", -2}, {"c", -0.0}});
    struct kv_buf raw = KV_BUF_INIT, val = KV_BUF_INIT, k = KV_BUF_INIT;
    db_meta_key(&db_, S("z"), &k);
    ASSERT_EQ(storage_get(st_, nullptr, KV_CF_METADATA, kv_buf_slice(&k), &raw, nullptr), KV_OK);
    EXPECT_EQ((uint8_t)raw.ptr[0], 0x80 | META_ZSET);
    struct meta m;
    ASSERT_EQ(meta_decode(kv_buf_slice(&raw), &m), KV_OK);
    EXPECT_EQ(m.type, META_ZSET);
    EXPECT_EQ(m.size, 3u);
    for (const auto &e : Entries{{"a", 1.5}, {"b", -2}, {"c", 0.0}}) {
        db_subkey(&db_, S("z"), m.version, Sl(e.first), &k);
        ASSERT_EQ(storage_get(st_, nullptr, KV_CF_SUBKEY, kv_buf_slice(&k), &val, nullptr), KV_OK);
        EXPECT_EQ(std::string(val.ptr, val.len), Enc(e.second)) << e.first;
        std::string sub = Enc(e.second) + e.first;
        db_subkey(&db_, S("z"), m.version, Sl(sub), &k);
        ASSERT_EQ(storage_get(st_, nullptr, KV_CF_ZSET_SCORE, kv_buf_slice(&k), &val, nullptr),
                  KV_OK);
        EXPECT_EQ(val.len, 0u);
    }
    // A score change moves the index record: still one record per member in each CF.
    Add("z", {{"a", 7}});
    EXPECT_EQ(CountRecords("z", m.version, KV_CF_SUBKEY), 3u);
    EXPECT_EQ(CountRecords("z", m.version, KV_CF_ZSET_SCORE), 3u);
    std::string old_sub = Enc(1.5) + "a";
    db_subkey(&db_, S("z"), m.version, Sl(old_sub), &k);
    EXPECT_EQ(storage_get(st_, nullptr, KV_CF_ZSET_SCORE, kv_buf_slice(&k), &val, nullptr),
              KV_NOTFOUND);
    EXPECT_EQ(All("z"), (Entries{{"b", -2}, {"c", 0}, {"a", 7}}));
    kv_buf_deinit(&raw);
    kv_buf_deinit(&val);
    kv_buf_deinit(&k);
}

// Every write is one batch that begins with Kvrocks' LogData "5" and changes both records of a
// member together, with the metadata when the size changes (a new score of an existing member
// leaves it as it is, as in Kvrocks).
TEST_F(ZsetTest, OneBatchPerWriteWithLogData)
{
    using V = std::vector<std::string>;
    uint64_t seq = storage_latest_seq(st_) + 1;
    Add("z", {{"a", 1}, {"b", 2}});
    EXPECT_EQ(BatchRecords(st_, seq), (V{"log 5", "put default", "put default", "put metadata",
                                         "put zset_score", "put zset_score"}));
    seq = storage_latest_seq(st_) + 1;
    Add("z", {{"a", 3}});
    EXPECT_EQ(BatchRecords(st_, seq),
              (V{"log 5", "del zset_score", "put default", "put zset_score"}));
    seq = storage_latest_seq(st_) + 1;
    Add("z", {{"a", 4}, {"c", 5}});
    EXPECT_EQ(BatchRecords(st_, seq), (V{"log 5", "del zset_score", "put default", "put default",
                                         "put metadata", "put zset_score", "put zset_score"}));
    seq = storage_latest_seq(st_) + 1;
    struct kv_slice m = kv_slice_cstr("a");
    uint64_t removed = 0;
    ASSERT_EQ(zset_remove(&db_, S("z"), &m, 1, &removed, nullptr), KV_OK);
    EXPECT_EQ(BatchRecords(st_, seq),
              (V{"log 5", "del default", "del zset_score", "put metadata"}));
    seq = storage_latest_seq(st_) + 1;
    Pop({"z"}, false, 5);
    EXPECT_EQ(BatchRecords(st_, seq), (V{"log 5", "del default", "del default", "del metadata",
                                         "del zset_score", "del zset_score"}));
}

TEST_F(ZsetTest, AddOptionsPairAfterPair)
{
    auto r = Add("z", {{"a", 1}, {"a", 2}, {"b", 3}});
    EXPECT_EQ(r.added, 2u);
    EXPECT_EQ(r.updated, 1u);
    EXPECT_EQ(All("z"), (Entries{{"a", 2}, {"b", 3}}));
    r = Add("z", {{"a", 5}, {"c", 1}}, ZSET_ADD_NX);
    EXPECT_EQ(r.added, 1u);
    EXPECT_EQ(r.updated, 0u);
    r = Add("z", {{"a", 5}, {"d", 1}}, ZSET_ADD_XX);
    EXPECT_EQ(r.added, 0u);
    EXPECT_EQ(r.updated, 1u);
    EXPECT_EQ(All("z"), (Entries{{"c", 1}, {"b", 3}, {"a", 5}}));
    r = Add("z", {{"a", 4}, {"b", 4}}, ZSET_ADD_GT);
    EXPECT_EQ(r.updated, 1u); // only b grew
    r = Add("z", {{"a", 4}, {"e", 9}}, ZSET_ADD_LT);
    EXPECT_EQ(r.updated, 1u);
    EXPECT_EQ(r.added, 1u); // GT/LT do not prevent adding
    EXPECT_EQ(All("z"), (Entries{{"c", 1}, {"a", 4}, {"b", 4}, {"e", 9}}));
    // INCR: the new score; skipped pairs report not processed.
    r = Add("z", {{"a", 1.5}}, ZSET_ADD_INCR);
    EXPECT_TRUE(r.processed);
    EXPECT_EQ(r.score, 5.5);
    r = Add("z", {{"a", 1}}, ZSET_ADD_INCR | ZSET_ADD_NX);
    EXPECT_FALSE(r.processed);
    r = Add("z", {{"a", -1}}, ZSET_ADD_INCR | ZSET_ADD_GT);
    EXPECT_FALSE(r.processed);
    r = Add("z", {{"new", -0.0}}, ZSET_ADD_INCR);
    EXPECT_TRUE(r.processed && r.score == 0 && std::signbit(r.score)); // replied as -0 ...
    double s = 1;
    ASSERT_EQ(zset_score(&db_, S("z"), S("new"), &s, nullptr), KV_OK);
    EXPECT_FALSE(std::signbit(s)); // ... stored as 0
    // NaN from INCR: an error and nothing written.
    Add("inf", {{"m", INFINITY}});
    uint64_t version = Version("inf");
    Add("inf", {{"m", -INFINITY}}, ZSET_ADD_INCR, KV_ERR_RANGE);
    ASSERT_EQ(zset_score(&db_, S("inf"), S("m"), &s, nullptr), KV_OK);
    EXPECT_TRUE(std::isinf(s) && s > 0);
    EXPECT_EQ(Version("inf"), version);
    // XX on an absent key creates nothing.
    r = Add("none", {{"a", 1}}, ZSET_ADD_XX);
    EXPECT_EQ(r.added, 0u);
    EXPECT_FALSE(Exists("none"));
    // The expiry of an existing key is kept.
    bool changed = false;
    ASSERT_EQ(db_expire(&db_, S("z"), clock_now_ms() + 100000, 0, &changed, nullptr), KV_OK);
    Add("z", {{"q", 1}});
    int64_t at = 0;
    ASSERT_EQ(db_expire_at(&db_, S("z"), &at, nullptr), KV_OK);
    EXPECT_GT(at, 0);
}

TEST_F(ZsetTest, ScoresRanksAndMissing)
{
    Add("z", {{"a", 1}, {"b", 2}, {"c", 2}, {"d", 3}});
    double s = 0;
    EXPECT_EQ(zset_score(&db_, S("z"), S("x"), &s, nullptr), KV_NOTFOUND);
    EXPECT_EQ(zset_score(&db_, S("nokey"), S("a"), &s, nullptr), KV_NOTFOUND);
    struct kv_slice ms[3] = {kv_slice_cstr("c"), kv_slice_cstr("x"), kv_slice_cstr("a")};
    double scores[3];
    bool found[3];
    ASSERT_EQ(zset_mscore(&db_, S("z"), ms, 3, scores, found, nullptr), KV_OK);
    EXPECT_TRUE(found[0] && !found[1] && found[2]);
    EXPECT_EQ(scores[0], 2);
    EXPECT_EQ(scores[2], 1);
    const char *order[] = {"a", "b", "c", "d"};
    for (uint64_t i = 0; i < 4; i++) {
        uint64_t rank = 99;
        ASSERT_EQ(zset_rank(&db_, S("z"), kv_slice_cstr(order[i]), false, &rank, &s, nullptr),
                  KV_OK);
        EXPECT_EQ(rank, i);
        ASSERT_EQ(zset_rank(&db_, S("z"), kv_slice_cstr(order[i]), true, &rank, &s, nullptr),
                  KV_OK);
        EXPECT_EQ(rank, 3 - i);
    }
    uint64_t rank;
    EXPECT_EQ(zset_rank(&db_, S("z"), S("x"), false, &rank, &s, nullptr), KV_NOTFOUND);
    EXPECT_EQ(zset_rank(&db_, S("nokey"), S("a"), false, &rank, &s, nullptr), KV_NOTFOUND);
    EXPECT_EQ(Card("nokey"), 0u);
}

// Ranges of every kind against the model, on a zset with many ties.
TEST_F(ZsetTest, RangesMatchTheModel)
{
    std::mt19937 rng(42);
    std::map<std::string, double> model;
    Entries adds;
    for (int i = 0; i < 300; i++) {
        std::string m = "m" + std::to_string(rng() % 1000);
        double score = (double)((int)(rng() % 21) - 10) / 2;
        model[m] = score;
        adds.emplace_back(m, score);
    }
    Add("z", adds);
    Entries sorted = Sorted(model);
    int64_t n = (int64_t)sorted.size();
    ASSERT_EQ(Card("z"), (uint64_t)n);
    ASSERT_EQ(All("z"), sorted);
    for (int round = 0; round < 400; round++) {
        struct zset_range_spec spec;
        int by = round % 3;
        zset_range_spec_init(&spec, by == 0 ? ZSET_BY_RANK : ZSET_BY_SCORE);
        spec.reverse = rng() % 2;
        Entries want;
        if (by == 0) {
            spec.start = (int64_t)(rng() % (2 * n + 10)) - n - 5;
            spec.stop = (int64_t)(rng() % (2 * n + 10)) - n - 5;
            int64_t a = spec.start < 0 ? spec.start + n : spec.start;
            int64_t b = spec.stop < 0 ? spec.stop + n : spec.stop;
            a = std::max<int64_t>(a, 0);
            b = std::min<int64_t>(b, n - 1);
            for (int64_t i = a; i <= b; i++)
                want.push_back(spec.reverse ? sorted[n - 1 - i] : sorted[i]);
        } else {
            spec.score.min = (double)((int)(rng() % 25) - 12) / 2;
            spec.score.max = (double)((int)(rng() % 25) - 12) / 2;
            spec.score.minex = rng() % 2;
            spec.score.maxex = rng() % 2;
            if (by == 2) {
                spec.offset = (int64_t)(rng() % 20) - 2;
                spec.limit = (int64_t)(rng() % 30) - 2;
            }
            Entries in;
            for (const auto &e : sorted) {
                if (zset_score_in_range(&spec.score, e.second))
                    in.push_back(e);
            }
            if (spec.reverse)
                std::reverse(in.begin(), in.end());
            if (spec.offset >= 0) {
                for (size_t i = (size_t)spec.offset; i < in.size(); i++) {
                    if (spec.limit >= 0 && want.size() >= (size_t)spec.limit)
                        break;
                    want.push_back(in[i]);
                }
            }
            uint64_t count = 999;
            ASSERT_EQ(zset_count(&db_, S("z"), &spec, &count, nullptr), KV_OK);
            EXPECT_EQ(count, want.size());
        }
        EXPECT_EQ(Range("z", spec), want) << "round " << round;
    }
    // Every rank, from both ends.
    for (int64_t i = 0; i < n; i++) {
        uint64_t rank = 0;
        double s = 0;
        ASSERT_EQ(zset_rank(&db_, S("z"), Sl(sorted[i].first), false, &rank, &s, nullptr), KV_OK);
        EXPECT_EQ(rank, (uint64_t)i);
        EXPECT_EQ(s, sorted[i].second);
        ASSERT_EQ(zset_rank(&db_, S("z"), Sl(sorted[i].first), true, &rank, &s, nullptr), KV_OK);
        EXPECT_EQ(rank, (uint64_t)(n - 1 - i));
    }
}

TEST_F(ZsetTest, LexRanges)
{
    Add("z",
        {{"a", 0}, {"b", 0}, {"c", 0}, {"cc", 0}, {"d", 0}, {"", 0}, {std::string("c\0", 2), 0}});
    auto lex = [&](const char *min, const char *max, bool rev = false, int64_t off = 0,
                   int64_t lim = -1) {
        struct zset_range_spec spec;
        zset_range_spec_init(&spec, ZSET_BY_LEX);
        EXPECT_EQ(zset_parse_lex_range(kv_slice_cstr(min), kv_slice_cstr(max), &spec.lex), KV_OK);
        spec.reverse = rev;
        spec.offset = off;
        spec.limit = lim;
        std::vector<std::string> out;
        for (const auto &e : Range("z", spec))
            out.push_back(e.first);
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(lex("-", "+"), (V{"", "a", "b", "c", std::string("c\0", 2), "cc", "d"}));
    EXPECT_EQ(lex("(b", "[cc"), (V{"c", std::string("c\0", 2), "cc"}));
    EXPECT_EQ(lex("[b", "(c"), (V{"b"}));
    EXPECT_EQ(lex("(c", "+", false, 1, 1), (V{"cc"}));
    EXPECT_EQ(lex("-", "(c", true), (V{"b", "a", ""}));
    EXPECT_EQ(lex("[", "[a"), (V{"", "a"}));
    EXPECT_EQ(lex("(", "[a"), (V{"a"}));
    EXPECT_EQ(lex("+", "-"), V{});
    EXPECT_EQ(lex("[d", "[c"), V{});
    struct zset_range_spec spec;
    zset_range_spec_init(&spec, ZSET_BY_LEX);
    ASSERT_EQ(zset_parse_lex_range(kv_slice_cstr("[b"), kv_slice_cstr("[c"), &spec.lex), KV_OK);
    uint64_t n = 0;
    ASSERT_EQ(zset_count(&db_, S("z"), &spec, &n, nullptr), KV_OK);
    EXPECT_EQ(n, 2u);
    ASSERT_EQ(zset_remove_range(&db_, S("z"), &spec, &n, nullptr), KV_OK);
    EXPECT_EQ(n, 2u);
    EXPECT_EQ(lex("-", "+"), (V{"", "a", std::string("c\0", 2), "cc", "d"}));
    EXPECT_EQ(Card("z"), 5u);
}

TEST_F(ZsetTest, RemovalsPopsAndEmptiedZsetsAreDeleted)
{
    Add("z", {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}});
    uint64_t version = Version("z");
    std::vector<struct kv_slice> rm = {kv_slice_cstr("a"), kv_slice_cstr("a"), kv_slice_cstr("x")};
    uint64_t removed = 0;
    ASSERT_EQ(zset_remove(&db_, S("z"), rm.data(), rm.size(), &removed, nullptr), KV_OK);
    EXPECT_EQ(removed, 1u);
    EXPECT_EQ(CountRecords("z", version, KV_CF_SUBKEY), 4u);
    EXPECT_EQ(CountRecords("z", version, KV_CF_ZSET_SCORE), 4u);
    size_t which = 9;
    EXPECT_EQ(Pop({"nokey", "z"}, true, 2, &which), (Entries{{"e", 5}, {"d", 4}}));
    EXPECT_EQ(which, 1u);
    EXPECT_EQ(Pop({"z"}, false, 1), (Entries{{"b", 2}}));
    Pop({"nokey"}, false, 1, nullptr, KV_NOTFOUND);
    struct zset_range_spec spec;
    zset_range_spec_init(&spec, ZSET_BY_RANK);
    spec.start = 5;
    spec.stop = 9;
    ASSERT_EQ(zset_remove_range(&db_, S("z"), &spec, &removed, nullptr), KV_OK);
    EXPECT_EQ(removed, 0u);
    EXPECT_EQ(Pop({"z"}, false, 10), (Entries{{"c", 3}}));
    EXPECT_FALSE(Exists("z"));
    EXPECT_EQ(CountRecords("z", version, KV_CF_SUBKEY), 0u);
    EXPECT_EQ(CountRecords("z", version, KV_CF_ZSET_SCORE), 0u);
    // Re-created: a new version.
    Add("z", {{"a", 1}});
    EXPECT_NE(Version("z"), version);
    ASSERT_EQ(zset_remove(&db_, S("z"), rm.data(), 1, &removed, nullptr), KV_OK);
    EXPECT_FALSE(Exists("z"));
    // Removal by score, down to nothing.
    Add("s", {{"a", 1}, {"b", 2}});
    zset_range_spec_init(&spec, ZSET_BY_SCORE);
    spec.score = {-INFINITY, INFINITY, false, false};
    ASSERT_EQ(zset_remove_range(&db_, S("s"), &spec, &removed, nullptr), KV_OK);
    EXPECT_EQ(removed, 2u);
    EXPECT_FALSE(Exists("s"));
}

TEST_F(ZsetTest, WrongTypeChangesNothing)
{
    bool written = false;
    struct str_set_opts so = {STR_COND_NONE, STR_TTL_CLEAR, 0, false};
    ASSERT_EQ(
        str_set(&db_, S("str"), S("v"), &so, kBitmapStringMax, &written, nullptr, nullptr, nullptr),
        KV_OK);
    Add("str", {{"a", 1}}, 0, KV_ERR_WRONGTYPE);
    uint64_t n;
    double s;
    EXPECT_EQ(zset_card(&db_, S("str"), &n, nullptr), KV_ERR_WRONGTYPE);
    EXPECT_EQ(zset_score(&db_, S("str"), S("a"), &s, nullptr), KV_ERR_WRONGTYPE);
    EXPECT_EQ(zset_rank(&db_, S("str"), S("a"), false, &n, &s, nullptr), KV_ERR_WRONGTYPE);
    struct zset_range_spec spec;
    zset_range_spec_init(&spec, ZSET_BY_RANK);
    spec.stop = -1;
    Range("str", spec, KV_ERR_WRONGTYPE);
    EXPECT_EQ(zset_remove_range(&db_, S("str"), &spec, &n, nullptr), KV_ERR_WRONGTYPE);
    struct kv_slice m = kv_slice_cstr("a");
    EXPECT_EQ(zset_remove(&db_, S("str"), &m, 1, &n, nullptr), KV_ERR_WRONGTYPE);
    Pop({"nokey", "str", "z"}, false, 1, nullptr, KV_ERR_WRONGTYPE);
    // A blocked client's retry skips other types.
    Add("z", {{"a", 1}});
    struct kv_slice keys[2] = {kv_slice_cstr("str"), kv_slice_cstr("z")};
    struct zset_list l = ZSET_LIST_INIT;
    size_t which = 0;
    EXPECT_EQ(zset_pop(&db_, keys, 2, false, 1, true, &which, &l, nullptr), KV_OK);
    EXPECT_EQ(which, 1u);
    zset_list_deinit(&l);
    Combine(ZSET_OP_UNION, {"nokey", "str"}, {}, ZSET_AGG_SUM, KV_ERR_WRONGTYPE);
    EXPECT_EQ(zset_check_sources(&db_, keys, 2, nullptr), KV_ERR_WRONGTYPE);
    uint64_t card = 0;
    EXPECT_EQ(zset_range_store(&db_, S("d"), S("str"), &spec, &card, nullptr), KV_ERR_WRONGTYPE);
    EXPECT_FALSE(Exists("d"));
    struct kv_buf raw = KV_BUF_INIT;
    struct kv_slice v;
    ASSERT_EQ(str_get(&db_, S("str"), kBitmapStringMax, &raw, &v, nullptr), KV_OK);
    EXPECT_EQ(std::string(v.ptr, v.len), "v");
    kv_buf_deinit(&raw);
}

TEST_F(ZsetTest, CombinationsWithWeightsAggregatesAndSets)
{
    Add("x", {{"a", 1}, {"b", 2}, {"c", 3}});
    Add("y", {{"b", 1}, {"c", 2}, {"d", 3}});
    std::vector<struct kv_slice> sm = {kv_slice_cstr("a"), kv_slice_cstr("d"), kv_slice_cstr("e")};
    uint64_t added;
    ASSERT_EQ(set_add(&db_, S("s"), sm.data(), sm.size(), &added, nullptr), KV_OK);
    EXPECT_EQ(Combine(ZSET_OP_UNION, {"x", "y"}),
              (Entries{{"a", 1}, {"b", 3}, {"d", 3}, {"c", 5}}));
    EXPECT_EQ(Combine(ZSET_OP_UNION, {"x", "y", "s", "nokey"}),
              (Entries{{"e", 1}, {"a", 2}, {"b", 3}, {"d", 4}, {"c", 5}}));
    EXPECT_EQ(Combine(ZSET_OP_INTER, {"x", "y"}, {2, 3}, ZSET_AGG_MAX),
              (Entries{{"b", 4}, {"c", 6}}));
    EXPECT_EQ(Combine(ZSET_OP_INTER, {"x", "y"}, {}, ZSET_AGG_MIN), (Entries{{"b", 1}, {"c", 2}}));
    EXPECT_EQ(Combine(ZSET_OP_INTER, {"x", "s"}), (Entries{{"a", 2}}));
    EXPECT_EQ(Combine(ZSET_OP_INTER, {"x", "nokey"}), Entries{});
    EXPECT_EQ(Combine(ZSET_OP_DIFF, {"x", "y"}), (Entries{{"a", 1}}));
    EXPECT_EQ(Combine(ZSET_OP_DIFF, {"s", "x"}), (Entries{{"d", 1}, {"e", 1}}));
    EXPECT_EQ(Combine(ZSET_OP_DIFF, {"nokey", "x"}), Entries{});
    // inf * 0 counts as 0; inf + -inf sums to 0.
    EXPECT_EQ(Combine(ZSET_OP_UNION, {"x"}, {INFINITY}),
              (Entries{{"a", INFINITY}, {"b", INFINITY}, {"c", INFINITY}}));
    EXPECT_EQ(Combine(ZSET_OP_INTER, {"x", "y"}, {INFINITY, -INFINITY}),
              (Entries{{"b", 0}, {"c", 0}}));
    Entries neg = Combine(ZSET_OP_UNION, {"x"}, {0});
    EXPECT_EQ(neg.size(), 3u);
    uint64_t card = 0;
    struct kv_slice k2[2] = {kv_slice_cstr("x"), kv_slice_cstr("y")};
    ASSERT_EQ(zset_inter_card(&db_, k2, 2, 0, &card, nullptr), KV_OK);
    EXPECT_EQ(card, 2u);
    ASSERT_EQ(zset_inter_card(&db_, k2, 2, 1, &card, nullptr), KV_OK);
    EXPECT_EQ(card, 1u);
    // STORE: replaces a string destination (dropping its expiry), a source may be the
    // destination, and an empty result deletes it.
    bool written = false;
    struct str_set_opts so = {STR_COND_NONE, STR_TTL_AT, clock_now_ms() + 100000, false};
    ASSERT_EQ(
        str_set(&db_, S("d"), S("v"), &so, kBitmapStringMax, &written, nullptr, nullptr, nullptr),
        KV_OK);
    struct zset_sources src = {k2, 2, nullptr, ZSET_AGG_SUM};
    ASSERT_EQ(zset_combine_store(&db_, ZSET_OP_UNION, S("d"), &src, &card, nullptr), KV_OK);
    EXPECT_EQ(card, 4u);
    EXPECT_EQ(All("d"), (Entries{{"a", 1}, {"b", 3}, {"d", 3}, {"c", 5}}));
    int64_t at = 0;
    ASSERT_EQ(db_expire_at(&db_, S("d"), &at, nullptr), KV_OK);
    EXPECT_EQ(at, -1);
    ASSERT_EQ(zset_combine_store(&db_, ZSET_OP_INTER, S("x"), &src, &card, nullptr), KV_OK);
    EXPECT_EQ(All("x"), (Entries{{"b", 3}, {"c", 5}}));
    struct kv_slice same[2] = {kv_slice_cstr("x"), kv_slice_cstr("x")};
    struct zset_sources diff = {same, 2, nullptr, ZSET_AGG_SUM};
    ASSERT_EQ(zset_combine_store(&db_, ZSET_OP_DIFF, S("d"), &diff, &card, nullptr), KV_OK);
    EXPECT_EQ(card, 0u);
    EXPECT_FALSE(Exists("d"));
    // ZRANGESTORE.
    struct zset_range_spec spec;
    zset_range_spec_init(&spec, ZSET_BY_SCORE);
    spec.score = {3, INFINITY, true, false};
    ASSERT_EQ(zset_range_store(&db_, S("r"), S("y"), &spec, &card, nullptr), KV_OK);
    EXPECT_EQ(card, 0u);
    EXPECT_FALSE(Exists("r"));
    spec.score.minex = false;
    ASSERT_EQ(zset_range_store(&db_, S("r"), S("y"), &spec, &card, nullptr), KV_OK);
    EXPECT_EQ(All("r"), (Entries{{"d", 3}}));
    ASSERT_EQ(zset_range_store(&db_, S("r"), S("nokey"), &spec, &card, nullptr), KV_OK);
    EXPECT_FALSE(Exists("r"));
}

TEST_F(ZsetTest, ScanAndRandom)
{
    Entries adds;
    for (int i = 0; i < 50; i++)
        adds.emplace_back("k" + std::to_string(i), i);
    Add("z", adds);
    std::map<std::string, double> seen;
    struct kv_buf pos = KV_BUF_INIT, last = KV_BUF_INIT;
    bool done = false, first = true;
    int calls = 0;
    while (!done) {
        struct subkey_list l = SUBKEY_LIST_INIT;
        struct kv_slice after = kv_buf_slice(&pos);
        ASSERT_EQ(zset_scan(&db_, S("z"), first ? nullptr : &after, kv_slice_make(nullptr, 0), 7,
                            subkey_list_collect, &l, &last, &done, nullptr),
                  KV_OK);
        for (size_t i = 0; i < l.n; i++) {
            struct kv_slice m = subkey_list_sub(&l, i), v = subkey_list_value(&l, i);
            ASSERT_EQ(v.len, (size_t)ZSET_SCORE_LEN);
            EXPECT_TRUE(seen.emplace(std::string(m.ptr, m.len), zset_decode_score(v.ptr)).second);
        }
        kv_buf_set(&pos, last.ptr, last.len);
        first = false;
        subkey_list_deinit(&l);
        calls++;
    }
    EXPECT_EQ(seen.size(), 50u);
    EXPECT_EQ(seen["k7"], 7);
    EXPECT_GE(calls, 8);
    struct subkey_list l = SUBKEY_LIST_INIT;
    EXPECT_EQ(zset_scan(&db_, S("nokey"), nullptr, kv_slice_make(nullptr, 0), 7,
                        subkey_list_collect, &l, &last, &done, nullptr),
              KV_NOTFOUND);
    subkey_list_deinit(&l);
    struct subkey_sample s = {SUBKEY_LIST_INIT, nullptr, 0};
    ASSERT_EQ(zset_random(&db_, S("z"), 10, true, &s, nullptr), KV_OK);
    EXPECT_EQ(s.npicks, 10u);
    std::map<std::string, int> picks;
    for (size_t i = 0; i < s.npicks; i++) {
        struct kv_slice m = subkey_list_sub(&s.entries, s.picks[i]);
        struct kv_slice v = subkey_list_value(&s.entries, s.picks[i]);
        std::string name(m.ptr, m.len);
        picks[name]++;
        EXPECT_EQ(zset_decode_score(v.ptr), seen[name]);
    }
    EXPECT_EQ(picks.size(), 10u);
    subkey_sample_deinit(&s);
    struct subkey_sample s2 = {SUBKEY_LIST_INIT, nullptr, 0};
    EXPECT_EQ(zset_random(&db_, S("nokey"), 1, true, &s2, nullptr), KV_NOTFOUND);
    subkey_sample_deinit(&s2);
    kv_buf_deinit(&pos);
    kv_buf_deinit(&last);
}

// A 100k-member zset: ZCARD from the metadata, slices by score and rank that read only the
// slice (timed against a full walk), O(1) DEL, and compaction reclaiming both column families.
TEST_F(ZsetTest, BigZset)
{
    const int kMembers = 100000;
    for (int base = 0; base < kMembers; base += 2000) {
        Entries chunk;
        for (int i = base; i < base + 2000; i++)
            chunk.emplace_back("member:" + std::to_string(i), i);
        ASSERT_EQ(Add("big", chunk).added, 2000u);
    }
    EXPECT_EQ(Card("big"), (uint64_t)kMembers);
    uint64_t version = Version("big");
    struct zset_range_spec all;
    zset_range_spec_init(&all, ZSET_BY_SCORE);
    all.score = {-INFINITY, INFINITY, false, false};
    uint64_t n = 0;
    int64_t t0 = clock_mono_us();
    ASSERT_EQ(zset_count(&db_, S("big"), &all, &n, nullptr), KV_OK);
    int64_t full_us = clock_mono_us() - t0;
    EXPECT_EQ(n, (uint64_t)kMembers);
    struct zset_range_spec slice;
    zset_range_spec_init(&slice, ZSET_BY_SCORE);
    slice.score = {50000, 50009, false, false};
    t0 = clock_mono_us();
    Entries got;
    for (int i = 0; i < 10; i++)
        got = Range("big", slice);
    int64_t slice_us = (clock_mono_us() - t0) / 10;
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got[0], (Entry{"member:50000", 50000}));
    EXPECT_LT(slice_us * 20, full_us) << "slice " << slice_us << "us, full " << full_us << "us";
    // The last ranks walk from the high end.
    struct zset_range_spec tail;
    zset_range_spec_init(&tail, ZSET_BY_RANK);
    tail.start = -3;
    tail.stop = -1;
    t0 = clock_mono_us();
    got = Range("big", tail);
    EXPECT_LT((clock_mono_us() - t0) * 20, full_us);
    EXPECT_EQ(got,
              (Entries{{"member:99997", 99997}, {"member:99998", 99998}, {"member:99999", 99999}}));
    uint64_t rank = 0;
    double s = 0;
    ASSERT_EQ(zset_rank(&db_, S("big"), S("member:99990"), false, &rank, &s, nullptr), KV_OK);
    EXPECT_EQ(rank, 99990u);
    EXPECT_EQ(CountRecords("big", version, KV_CF_SUBKEY), (size_t)kMembers);
    EXPECT_EQ(CountRecords("big", version, KV_CF_ZSET_SCORE), (size_t)kMembers);
    struct kv_slice k = kv_slice_cstr("big");
    int64_t deleted = 0;
    t0 = clock_mono_us();
    ASSERT_EQ(db_delete(&db_, &k, 1, &deleted, nullptr), KV_OK);
    EXPECT_LT(clock_mono_us() - t0, 100000);
    EXPECT_EQ(deleted, 1);
    // A background compaction that began before the DEL may still write out records it saw as
    // live; manual compactions after it drop them.
    for (enum kv_cf cf : {KV_CF_SUBKEY, KV_CF_ZSET_SCORE}) {
        size_t left = 1;
        for (int round = 0; round < 5 && left > 0; round++) {
            ASSERT_EQ(storage_compact(st_, cf, kv_slice_make(nullptr, 0), kv_slice_make(nullptr, 0),
                                      nullptr),
                      KV_OK);
            left = CountRecords("big", version, cf);
        }
        EXPECT_EQ(left, 0u) << cf_name(cf);
    }
}

// Concurrent ZINCRBYs on one member are serialised (no lost update) while a reader keeps taking
// consistent views of the zset.
TEST_F(ZsetTest, ConcurrentIncrementsAreSerialised)
{
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&] {
            for (int i = 0; i < 250; i++) {
                Add("c", {{"m", 1}}, ZSET_ADD_INCR);
                Add("c", {{"t" + std::to_string(i), 1}});
            }
        });
    }
    std::atomic<bool> stop{false};
    std::atomic<int> torn{0};
    std::thread reader([&] {
        while (!stop.load()) {
            struct zset_list l = ZSET_LIST_INIT;
            struct kv_slice k = kv_slice_cstr("c");
            struct zset_sources src = {&k, 1, nullptr, ZSET_AGG_SUM};
            if (zset_combine(&db_, ZSET_OP_UNION, &src, &l, nullptr) != KV_OK)
                torn++;
            uint64_t card = 0;
            zset_card(&db_, S("c"), &card, nullptr);
            zset_list_deinit(&l);
        }
    });
    for (auto &t : threads)
        t.join();
    stop = true;
    reader.join();
    EXPECT_EQ(torn.load(), 0);
    double s = 0;
    ASSERT_EQ(zset_score(&db_, S("c"), S("m"), &s, nullptr), KV_OK);
    EXPECT_EQ(s, 1000);
    EXPECT_EQ(Card("c"), 251u);
    EXPECT_EQ(All("c").size(), 251u);
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

TEST_F(ZsetTest, ZaddOfCurrentScoresDoesNotWaitForAKeyLockHeldElsewhere)
{
    Add("z", {{"a", 1}, {"b", 2}, {"c", -0.5}});
    TouchLog log;
    struct db_hooks hooks = {record_touch, &log};
    db_.hooks = &hooks;
    {
        HeldKey held(locks_, db_.ns, "z");
        // Every member has that score already (NX: every member exists): answered at once,
        // without the lock, with what the locked path would reply, and nothing touched.
        auto r = Add("z", {{"a", 1}, {"c", -0.5}, {"a", 1}});
        EXPECT_EQ(r.added + r.updated, 0u);
        EXPECT_TRUE(r.processed);
        EXPECT_EQ(r.score, 1);
        r = Add("z", {{"b", 2}}, ZSET_ADD_XX);
        EXPECT_EQ(r.added + r.updated, 0u);
        r = Add("z", {{"a", 7}, {"b", 8}}, ZSET_ADD_NX);
        EXPECT_EQ(r.added + r.updated, 0u);
        EXPECT_FALSE(r.processed);
        ASSERT_TRUE(held.StillHeld()) << "ZADD of current scores waited for the key lock";
        EXPECT_TRUE(log.keys.empty());
    }
    // A ZADD that another worker holds the zset for, which must wait for it: its result.
    auto waits = [this](const Entries &pairs, unsigned flags, const char *what) {
        HeldKey held(locks_, db_.ns, "z");
        std::atomic<bool> done{false};
        struct zset_add_result got = {};
        std::thread adder([&] {
            got = Add("z", pairs, flags);
            done.store(true);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_FALSE(done.load()) << what << " did not wait for the key lock";
        held.Release();
        adder.join();
        return got;
    };
    EXPECT_EQ(waits({{"a", 1}, {"b", 3}}, 0, "a new score").updated, 1u);
    // INCR by the member's own score is no "same score": it waits, and doubles it.
    EXPECT_EQ(waits({{"a", 1}}, ZSET_ADD_INCR, "INCR").score, 2);
    // A member given two scores ends with its own but changed twice.
    EXPECT_EQ(waits({{"a", 1}, {"a", 2}}, 0, "a member given two scores").updated, 2u);
    EXPECT_EQ(All("z"), (Entries{{"c", -0.5}, {"a", 2}, {"b", 3}}));
    db_.hooks = nullptr;
}

TEST_F(ZsetTest, WritesReportTouchedKeys)
{
    TouchLog log;
    struct db_hooks hooks = {record_touch, &log};
    db_.hooks = &hooks;
    Add("a", {{"1", 1}});
    Add("a", {{"1", 1}});              // no change: no write
    Add("a", {{"2", 1}}, ZSET_ADD_XX); // nothing: no write
    Add("b", {{"1", 1}}, ZSET_ADD_XX); // absent stays absent
    Pop({"nokey", "a"}, false, 1);     // a emptied and deleted
    uint64_t card = 0;
    struct kv_slice k = kv_slice_cstr("nokey");
    struct zset_sources src = {&k, 1, nullptr, ZSET_AGG_SUM};
    ASSERT_EQ(zset_combine_store(&db_, ZSET_OP_UNION, S("d"), &src, &card, nullptr), KV_OK);
    Add("a", {{"x", 2}});
    ASSERT_EQ(zset_combine_store(&db_, ZSET_OP_UNION, S("d"), &src, &card, nullptr), KV_OK);
    struct kv_slice ka = kv_slice_cstr("a");
    struct zset_sources srca = {&ka, 1, nullptr, ZSET_AGG_SUM};
    ASSERT_EQ(zset_combine_store(&db_, ZSET_OP_UNION, S("d"), &srca, &card, nullptr), KV_OK);
    ASSERT_EQ(zset_combine_store(&db_, ZSET_OP_UNION, S("d"), &src, &card, nullptr), KV_OK);
    EXPECT_EQ(log.keys, (std::vector<std::string>{"a", "a", "a", "d", "d"}));
    db_.hooks = nullptr;
}

} // namespace
