// SPDX-License-Identifier: Apache-2.0
//
// The hash type layer (types/hash.h) and the shared sub-key helpers (types/subkey.h) on a real
// RocksDB: the byte layout of fields and metadata, field counts, deletion of emptied hashes,
// type errors, expiry, HINCRBY/HINCRBYFLOAT numbers, scans with positions and patterns, random
// sampling (exact and by descent), a 100k-field hash whose sub-keys are reclaimed by compaction
// after DEL, atomicity under concurrent writers, and legacy metadata records.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/endian.h"
#include "common/mem.h"
#include "fixture.h"
#include "storage/meta.h"
#include "types/hash.h"
#include "types/str.h"
#include "types/subkey.h"

namespace {

struct kv_slice
Sl(const std::string &s)
{
    return kv_slice_make(s.data(), s.size());
}

class HashTest : public StorageTest {
  protected:
    // HSET with pairs; returns the code, *added the count.
    enum kv_code
    HSet(const std::string &key, const std::vector<std::string> &fv, uint64_t *added = nullptr,
         bool nx = false)
    {
        std::vector<struct kv_slice> s;
        for (const auto &x : fv)
            s.push_back(Sl(x));
        uint64_t a = 0;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = hash_set(&db_, S(key), s.data(), s.size() / 2, nx, &a, &err);
        if (added)
            *added = a;
        return rc;
    }

    // HGET: the value, "<nil>", "<wrongtype>" or "<error N>".
    std::string
    HGet(const std::string &key, const std::string &field)
    {
        struct kv_buf v = KV_BUF_INIT;
        enum kv_code rc = hash_get(&db_, S(key), S(field), &v, nullptr);
        std::string out;
        if (rc == KV_OK)
            out.assign(v.ptr ? v.ptr : "", v.len);
        else if (rc == KV_NOTFOUND)
            out = "<nil>";
        else if (rc == KV_ERR_WRONGTYPE)
            out = "<wrongtype>";
        else
            out = "<error " + std::to_string(rc) + ">";
        kv_buf_deinit(&v);
        return out;
    }

    uint64_t
    HLen(const std::string &key)
    {
        uint64_t n = 999;
        EXPECT_EQ(hash_size(&db_, S(key), &n, nullptr), KV_OK);
        return n;
    }

    enum kv_code
    HDel(const std::string &key, const std::vector<std::string> &fields, uint64_t *deleted)
    {
        std::vector<struct kv_slice> s;
        for (const auto &x : fields)
            s.push_back(Sl(x));
        return hash_delete(&db_, S(key), s.data(), s.size(), deleted, nullptr);
    }

    // Every field through hash_scan (no limit).
    std::map<std::string, std::string>
    All(const std::string &key, enum kv_code *rc_out = nullptr)
    {
        struct subkey_list l = SUBKEY_LIST_INIT;
        struct kv_buf last = KV_BUF_INIT;
        bool done = false;
        enum kv_code rc = hash_scan(&db_, S(key), nullptr, kv_slice_make(nullptr, 0), 0,
                                    subkey_list_collect, &l, &last, &done, nullptr);
        if (rc_out)
            *rc_out = rc;
        std::map<std::string, std::string> out;
        for (size_t i = 0; i < l.n; i++) {
            struct kv_slice f = subkey_list_sub(&l, i), v = subkey_list_value(&l, i);
            out[std::string(f.ptr, f.len)] = std::string(v.ptr, v.len);
        }
        if (rc == KV_OK) {
            EXPECT_TRUE(done);
        }
        subkey_list_deinit(&l);
        kv_buf_deinit(&last);
        return out;
    }

    // The raw metadata record of a key ("" when absent).
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

    struct meta
    Meta(const std::string &key)
    {
        struct kv_buf raw = KV_BUF_INIT;
        struct meta m;
        memset(&m, 0, sizeof m);
        EXPECT_EQ(db_get_meta(&db_, S(key), META_NONE, &m, &raw, nullptr), KV_OK);
        m.payload = kv_slice_make(nullptr, 0);
        kv_buf_deinit(&raw);
        return m;
    }

    // Count the records of CF default under (key, version), whatever the metadata says.
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
        EXPECT_EQ(storage_iter_status(it, nullptr), KV_OK);
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
};

TEST_F(HashTest, LayoutOfMetadataAndFields)
{
    uint64_t added = 0;
    ASSERT_EQ(HSet("h", {"f1", "v1", "f2", "v2"}, &added), KV_OK);
    EXPECT_EQ(added, 2u);
    // Metadata: [flags 0x82][expire u64 0][version u64][size u64 2].
    std::string raw = RawMeta("h");
    ASSERT_EQ(raw.size(), 1u + 8 + 8 + 8);
    EXPECT_EQ((uint8_t)raw[0], 0x80 | META_HASH);
    EXPECT_EQ(kv_get_u64be(raw.data() + 1), 0u);
    uint64_t version = kv_get_u64be(raw.data() + 9);
    EXPECT_EQ(kv_get_u64be(raw.data() + 17), 2u);
    // Field f1: [ns prefix][key_len u32][key][version u64]["f1"] -> "v1", in CF default.
    std::string sk;
    sk.push_back((char)strlen(KEYS_DEFAULT_NAMESPACE));
    sk += KEYS_DEFAULT_NAMESPACE;
    sk += std::string("\0\0\0\x01", 4) + "h";
    for (int i = 7; i >= 0; i--)
        sk.push_back((char)(version >> (8 * i)));
    sk += "f1";
    struct kv_buf v = KV_BUF_INIT;
    ASSERT_EQ(storage_get(st_, nullptr, KV_CF_SUBKEY, S(sk), &v, nullptr), KV_OK);
    EXPECT_EQ(std::string(v.ptr, v.len), "v1");
    kv_buf_deinit(&v);
    EXPECT_EQ(CountSubKeys("h", version), 2u);
}

// A write that adds fields writes them with the metadata (its size changes); new values of
// existing fields leave the metadata as it is, as in Kvrocks (HSET, HINCRBY, HINCRBYFLOAT).
TEST_F(HashTest, MetadataIsWrittenOnlyWhenTheSizeChanges)
{
    using V = std::vector<std::string>;
    uint64_t seq = storage_latest_seq(st_) + 1;
    ASSERT_EQ(HSet("h", {"a", "1", "b", "2"}), KV_OK);
    EXPECT_EQ(BatchRecords(st_, seq), (V{"put default", "put default", "put metadata"}));
    seq = storage_latest_seq(st_) + 1;
    ASSERT_EQ(HSet("h", {"a", "3"}), KV_OK);
    EXPECT_EQ(BatchRecords(st_, seq), (V{"put default"}));
    seq = storage_latest_seq(st_) + 1;
    int64_t r = 0;
    ASSERT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("a"), 2, &r, nullptr), KV_OK);
    EXPECT_EQ(r, 5);
    EXPECT_EQ(BatchRecords(st_, seq), (V{"put default"}));
    seq = storage_latest_seq(st_) + 1;
    ASSERT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("n"), 2, &r, nullptr), KV_OK);
    EXPECT_EQ(BatchRecords(st_, seq), (V{"put default", "put metadata"}));
    seq = storage_latest_seq(st_) + 1;
    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(hash_incrbyfloat(&db_, kv_slice_cstr("h"), kv_slice_cstr("n"), 0.5, &out, nullptr),
              KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "2.5");
    kv_buf_deinit(&out);
    EXPECT_EQ(BatchRecords(st_, seq), (V{"put default"}));
    EXPECT_EQ(HLen("h"), 3u);
    EXPECT_EQ(All("h"), (std::map<std::string, std::string>{{"a", "5"}, {"b", "2"}, {"n", "2.5"}}));
}

TEST_F(HashTest, SetGetCountsDuplicatesAndBinary)
{
    uint64_t added = 0;
    // A field named twice counts once and takes its last value.
    ASSERT_EQ(HSet("h", {"a", "1", "b", "2", "a", "3"}, &added), KV_OK);
    EXPECT_EQ(added, 2u);
    EXPECT_EQ(HGet("h", "a"), "3");
    EXPECT_EQ(HLen("h"), 2u);
    // Overwriting is not adding.
    ASSERT_EQ(HSet("h", {"a", "x", "c", "y"}, &added), KV_OK);
    EXPECT_EQ(added, 1u);
    EXPECT_EQ(HGet("h", "a"), "x");
    EXPECT_EQ(HLen("h"), 3u);
    // Empty and binary fields and values.
    std::string bin("\0\xff\n", 3);
    ASSERT_EQ(HSet("h", {"", "empty-field", bin, "", "z", bin}, &added), KV_OK);
    EXPECT_EQ(added, 3u);
    EXPECT_EQ(HGet("h", ""), "empty-field");
    EXPECT_EQ(HGet("h", bin), "");
    EXPECT_EQ(HGet("h", "z"), bin);
    EXPECT_EQ(HGet("h", "missing"), "<nil>");
    EXPECT_EQ(HGet("nokey", "a"), "<nil>");
    EXPECT_EQ(HLen("nokey"), 0u);
    EXPECT_EQ(HLen("h"), 6u);
    std::map<std::string, std::string> want = {{"a", "x"},          {"b", "2"}, {"c", "y"},
                                               {"", "empty-field"}, {bin, ""},  {"z", bin}};
    EXPECT_EQ(All("h"), want);
    // A field that is a prefix of another is its own record.
    ASSERT_EQ(HSet("p", {"ab", "1", "a", "2", "abc", "3"}, &added), KV_OK);
    EXPECT_EQ(All("p"),
              (std::map<std::string, std::string>{{"a", "2"}, {"ab", "1"}, {"abc", "3"}}));
}

TEST_F(HashTest, SetNxKeepsExistingFields)
{
    uint64_t added = 0;
    ASSERT_EQ(HSet("h", {"a", "1"}, &added, true), KV_OK);
    EXPECT_EQ(added, 1u);
    ASSERT_EQ(HSet("h", {"a", "2"}, &added, true), KV_OK);
    EXPECT_EQ(added, 0u);
    EXPECT_EQ(HGet("h", "a"), "1");
    ASSERT_EQ(HSet("h", {"b", "2"}, &added, true), KV_OK);
    EXPECT_EQ(added, 1u);
    EXPECT_EQ(HLen("h"), 2u);
}

TEST_F(HashTest, MgetReadsFieldsAndMissingKeys)
{
    ASSERT_EQ(HSet("h", {"a", "1", "b", ""}), KV_OK);
    std::vector<struct kv_slice> f = {kv_slice_cstr("a"), kv_slice_cstr("x"), kv_slice_cstr("b"),
                                      kv_slice_cstr("a")};
    std::vector<struct kv_buf> vals(4, KV_BUF_INIT);
    bool found[4];
    ASSERT_EQ(hash_mget(&db_, kv_slice_cstr("h"), f.data(), 4, vals.data(), found, nullptr), KV_OK);
    EXPECT_TRUE(found[0]);
    EXPECT_FALSE(found[1]);
    EXPECT_TRUE(found[2]);
    EXPECT_TRUE(found[3]);
    EXPECT_EQ(std::string(vals[0].ptr, vals[0].len), "1");
    EXPECT_EQ(vals[2].len, 0u);
    ASSERT_EQ(hash_mget(&db_, kv_slice_cstr("nokey"), f.data(), 4, vals.data(), found, nullptr),
              KV_OK);
    for (bool b : found)
        EXPECT_FALSE(b);
    for (auto &v : vals)
        kv_buf_deinit(&v);
}

TEST_F(HashTest, DeleteCountsAndEmptiedHashIsDeleted)
{
    ASSERT_EQ(HSet("h", {"a", "1", "b", "2", "c", "3"}), KV_OK);
    uint64_t version = Meta("h").version;
    uint64_t deleted = 99;
    ASSERT_EQ(HDel("h", {"a", "a", "zz"}, &deleted), KV_OK);
    EXPECT_EQ(deleted, 1u);
    EXPECT_EQ(HLen("h"), 2u);
    EXPECT_EQ(CountSubKeys("h", version), 2u);
    ASSERT_EQ(HDel("nokey", {"a"}, &deleted), KV_OK);
    EXPECT_EQ(deleted, 0u);
    ASSERT_EQ(HDel("h", {"b", "c"}, &deleted), KV_OK);
    EXPECT_EQ(deleted, 2u);
    // The metadata record is gone, not left with size 0, and so are the field records.
    EXPECT_EQ(RawMeta("h"), "");
    EXPECT_EQ(CountSubKeys("h", version), 0u);
    EXPECT_EQ(HGet("h", "b"), "<nil>");
    // Re-created with a new version.
    ASSERT_EQ(HSet("h", {"a", "new"}), KV_OK);
    EXPECT_NE(Meta("h").version, version);
    EXPECT_EQ(All("h"), (std::map<std::string, std::string>{{"a", "new"}}));
}

TEST_F(HashTest, WrongTypeChangesNothing)
{
    SetString("s", "text");
    uint64_t n = 0;
    EXPECT_EQ(HSet("s", {"a", "1"}, &n), KV_ERR_WRONGTYPE);
    EXPECT_EQ(HGet("s", "a"), "<wrongtype>");
    EXPECT_EQ(hash_size(&db_, kv_slice_cstr("s"), &n, nullptr), KV_ERR_WRONGTYPE);
    EXPECT_EQ(HDel("s", {"a"}, &n), KV_ERR_WRONGTYPE);
    int64_t r = 0;
    EXPECT_EQ(hash_incrby(&db_, kv_slice_cstr("s"), kv_slice_cstr("a"), 1, &r, nullptr),
              KV_ERR_WRONGTYPE);
    struct kv_buf out = KV_BUF_INIT;
    EXPECT_EQ(hash_incrbyfloat(&db_, kv_slice_cstr("s"), kv_slice_cstr("a"), 1.0L, &out, nullptr),
              KV_ERR_WRONGTYPE);
    enum kv_code rc = KV_OK;
    All("s", &rc);
    EXPECT_EQ(rc, KV_ERR_WRONGTYPE);
    struct subkey_sample smp = {SUBKEY_LIST_INIT, nullptr, 0};
    EXPECT_EQ(hash_random(&db_, kv_slice_cstr("s"), 1, true, &smp, nullptr), KV_ERR_WRONGTYPE);
    subkey_sample_deinit(&smp);
    struct kv_slice f = kv_slice_cstr("a");
    struct kv_buf v = KV_BUF_INIT;
    bool found = false;
    EXPECT_EQ(hash_mget(&db_, kv_slice_cstr("s"), &f, 1, &v, &found, nullptr), KV_ERR_WRONGTYPE);
    struct kv_buf raw = KV_BUF_INIT;
    struct kv_slice sv;
    ASSERT_EQ(str_get(&db_, kv_slice_cstr("s"), kBitmapStringMax, &raw, &sv, nullptr), KV_OK);
    EXPECT_EQ(std::string(sv.ptr, sv.len), "text");
    kv_buf_deinit(&raw);
    kv_buf_deinit(&out);
    kv_buf_deinit(&v);
}

TEST_F(HashTest, ExpiryIsKeptByWritesAndExpiredHashReadsAsAbsent)
{
    ASSERT_EQ(HSet("h", {"a", "1"}), KV_OK);
    bool changed = false;
    int64_t at = clock_now_ms() + 100000;
    ASSERT_EQ(db_expire(&db_, kv_slice_cstr("h"), at, 0, &changed, nullptr), KV_OK);
    ASSERT_EQ(HSet("h", {"b", "2"}), KV_OK);
    int64_t r = 0;
    ASSERT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("n"), 5, &r, nullptr), KV_OK);
    uint64_t deleted = 0;
    ASSERT_EQ(HDel("h", {"b"}, &deleted), KV_OK);
    EXPECT_EQ(Meta("h").expire_ms, (uint64_t)at);
    // Expire it by rewriting the metadata with a past expiry (as a replica or a slow clock
    // would see it): reads see nothing, writes start a fresh hash without the old fields.
    struct meta m = Meta("h");
    m.expire_ms = (uint64_t)clock_now_ms() - 1;
    struct storage_batch *b = storage_batch_new(st_);
    db_batch_put_meta(&db_, b, kv_slice_cstr("h"), &m);
    ASSERT_EQ(storage_write(st_, b, nullptr), KV_OK);
    storage_batch_free(b);
    EXPECT_EQ(HGet("h", "a"), "<nil>");
    EXPECT_EQ(HLen("h"), 0u);
    enum kv_code rc = KV_OK;
    EXPECT_TRUE(All("h", &rc).empty());
    EXPECT_EQ(rc, KV_NOTFOUND);
    uint64_t added = 0;
    ASSERT_EQ(HSet("h", {"c", "3"}, &added), KV_OK);
    EXPECT_EQ(added, 1u);
    EXPECT_EQ(All("h"), (std::map<std::string, std::string>{{"c", "3"}}));
    EXPECT_EQ(Meta("h").expire_ms, 0u);
}

TEST_F(HashTest, IncrByParsingAndOverflow)
{
    int64_t r = 0;
    ASSERT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("n"), 5, &r, nullptr), KV_OK);
    EXPECT_EQ(r, 5);
    EXPECT_EQ(HLen("h"), 1u);
    ASSERT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("n"), -7, &r, nullptr), KV_OK);
    EXPECT_EQ(r, -2);
    EXPECT_EQ(HGet("h", "n"), "-2");
    EXPECT_EQ(HLen("h"), 1u);
    for (const char *bad : {"", " 1", "1 ", "01", "-0", "1.5", "abc", "9223372036854775808"}) {
        ASSERT_EQ(HSet("h", {"bad", bad}), KV_OK);
        r = 12345;
        EXPECT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("bad"), 1, &r, nullptr),
                  KV_ERR_INVALID)
            << bad;
        EXPECT_EQ(r, 12345);
        EXPECT_EQ(HGet("h", "bad"), bad);
    }
    ASSERT_EQ(HSet("h", {"max", "9223372036854775807", "min", "-9223372036854775808"}), KV_OK);
    EXPECT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("max"), 1, &r, nullptr),
              KV_ERR_RANGE);
    EXPECT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("min"), -1, &r, nullptr),
              KV_ERR_RANGE);
    EXPECT_EQ(HGet("h", "max"), "9223372036854775807");
    ASSERT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("max"), INT64_MIN, &r, nullptr),
              KV_OK);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(HLen("h"), 4u); // n, bad, max, min
}

TEST_F(HashTest, IncrByFloatFormatsAsRedis)
{
    struct kv_buf out = KV_BUF_INIT;
    auto incr = [&](const char *field, long double by) {
        enum kv_code rc =
            hash_incrbyfloat(&db_, kv_slice_cstr("h"), kv_slice_cstr(field), by, &out, nullptr);
        return rc == KV_OK ? std::string(out.ptr, out.len) : "<" + std::to_string(rc) + ">";
    };
    EXPECT_EQ(incr("f", 10.5L), "10.5");
    EXPECT_EQ(incr("f", 0.1L), "10.6");
    EXPECT_EQ(incr("f", -10.6L), "0");
    EXPECT_EQ(incr("g", 3.0e3L), "3000");
    EXPECT_EQ(HGet("h", "g"), "3000");
    ASSERT_EQ(HSet("h", {"i", "5", "hex", "0x10", "sp", " 1", "inf", "inf"}), KV_OK);
    EXPECT_EQ(incr("i", 1.5L), "6.5");
    EXPECT_EQ(incr("hex", 1.0L), "17");
    EXPECT_EQ(incr("sp", 1.0L), "<" + std::to_string(KV_ERR_INVALID) + ">");
    // An infinite stored value parses, but the sum is refused and nothing changes.
    EXPECT_EQ(incr("inf", 1.0L), "<" + std::to_string(KV_ERR_RANGE) + ">");
    EXPECT_EQ(HGet("h", "inf"), "inf");
    ASSERT_EQ(HSet("h", {"big", "1e4932"}), KV_OK);
    EXPECT_EQ(incr("big", 1e4932L), "<" + std::to_string(KV_ERR_RANGE) + ">");
    kv_buf_deinit(&out);
}

// Scans visit fields in byte order, resume strictly after any position, honour the limit and
// narrow the range to a pattern's literal prefix.
TEST_F(HashTest, ScanPositionsLimitsAndPatterns)
{
    std::vector<std::string> fv;
    for (int i = 0; i < 50; i++) {
        char f[16];
        snprintf(f, sizeof f, "f%02d", i);
        fv.push_back(f);
        fv.push_back("v" + std::to_string(i));
    }
    fv.insert(fv.end(), {"", "empty", "g", "gv", "f", "short"});
    ASSERT_EQ(HSet("h", fv), KV_OK);
    auto scan = [&](const std::string *after, const char *pattern, size_t limit, bool *done,
                    std::string *last) {
        struct subkey_list l = SUBKEY_LIST_INIT;
        struct kv_buf lb = KV_BUF_INIT;
        struct kv_slice a = after ? Sl(*after) : kv_slice_make(nullptr, 0);
        struct kv_slice pat = pattern ? kv_slice_cstr(pattern) : kv_slice_make(nullptr, 0);
        EXPECT_EQ(hash_scan(&db_, kv_slice_cstr("h"), after ? &a : nullptr, pat, limit,
                            subkey_list_collect, &l, &lb, done, nullptr),
                  KV_OK);
        std::vector<std::string> out;
        for (size_t i = 0; i < l.n; i++) {
            struct kv_slice f = subkey_list_sub(&l, i);
            out.emplace_back(f.ptr, f.len);
        }
        last->assign(lb.ptr ? lb.ptr : "", lb.len);
        subkey_list_deinit(&l);
        kv_buf_deinit(&lb);
        return out;
    };
    bool done = false;
    std::string last;
    // Everything in byte order; the empty field first ("*" matches it).
    auto all = scan(nullptr, "*", 0, &done, &last);
    ASSERT_EQ(all.size(), 53u);
    EXPECT_EQ(all[0], "");
    EXPECT_EQ(all[1], "f");
    EXPECT_EQ(all[2], "f00");
    EXPECT_EQ(all.back(), "g");
    EXPECT_TRUE(done);
    // Paging with a limit visits each field exactly once.
    std::vector<std::string> paged;
    std::string pos;
    bool first = true;
    int pages = 0;
    do {
        auto page = scan(first ? nullptr : &pos, nullptr, 7, &done, &last);
        paged.insert(paged.end(), page.begin(), page.end());
        pos = last;
        first = false;
        pages++;
    } while (!done);
    EXPECT_EQ(paged, all);
    EXPECT_EQ(pages, 8);
    // Resuming after a position that is not a field.
    auto rest = scan(&(pos = "f47x"), nullptr, 0, &done, &last);
    EXPECT_EQ(rest, (std::vector<std::string>{"f48", "f49", "g"}));
    // Patterns: a literal prefix narrows the range, globs filter, and the limit counts records
    // examined (matching or not).
    EXPECT_EQ(scan(nullptr, "f4*", 0, &done, &last).size(), 10u);
    EXPECT_EQ(scan(nullptr, "f?7", 0, &done, &last),
              (std::vector<std::string>{"f07", "f17", "f27", "f37", "f47"}));
    EXPECT_EQ(scan(nullptr, "*9", 0, &done, &last).size(), 5u);
    EXPECT_EQ(scan(nullptr, "g", 0, &done, &last), (std::vector<std::string>{"g"}));
    auto part = scan(nullptr, "*5", 20, &done, &last);
    EXPECT_FALSE(done);
    EXPECT_EQ(part, (std::vector<std::string>{"f05", "f15"}));
    // A position before a narrowed range starts at the range without skipping its first field.
    EXPECT_EQ(scan(&(pos = "a"), "f0*", 3, &done, &last),
              (std::vector<std::string>{"f00", "f01", "f02"}));
    // The empty pattern matches only the empty field.
    EXPECT_EQ(scan(nullptr, "", 0, &done, &last), (std::vector<std::string>{""}));
}

// Sampling a small hash is exact: distinct picks are distinct fields of the hash with their
// values, the whole hash comes back for count >= size, and repetitions follow the count.
TEST_F(HashTest, RandomSmallHash)
{
    std::vector<std::string> fv;
    std::map<std::string, std::string> want;
    for (int i = 0; i < 10; i++) {
        fv.push_back("k" + std::to_string(i));
        fv.push_back("v" + std::to_string(i));
        want["k" + std::to_string(i)] = "v" + std::to_string(i);
    }
    ASSERT_EQ(HSet("h", fv), KV_OK);
    std::map<std::string, int> hits;
    for (int round = 0; round < 2000; round++) {
        struct subkey_sample s = {SUBKEY_LIST_INIT, nullptr, 0};
        ASSERT_EQ(hash_random(&db_, kv_slice_cstr("h"), 3, true, &s, nullptr), KV_OK);
        ASSERT_EQ(s.npicks, 3u);
        std::set<std::string> seen;
        for (size_t i = 0; i < s.npicks; i++) {
            struct kv_slice f = subkey_list_sub(&s.entries, s.picks[i]);
            struct kv_slice v = subkey_list_value(&s.entries, s.picks[i]);
            std::string fs(f.ptr, f.len);
            EXPECT_EQ(want[fs], std::string(v.ptr, v.len));
            seen.insert(fs);
            hits[fs]++;
        }
        EXPECT_EQ(seen.size(), 3u);
        subkey_sample_deinit(&s);
    }
    // Each field is picked 600 times on average; far from it means a biased sampler.
    ASSERT_EQ(hits.size(), 10u);
    for (const auto &h : hits) {
        EXPECT_GT(h.second, 450) << h.first;
        EXPECT_LT(h.second, 750) << h.first;
    }
    struct subkey_sample s = {SUBKEY_LIST_INIT, nullptr, 0};
    ASSERT_EQ(hash_random(&db_, kv_slice_cstr("h"), 100, true, &s, nullptr), KV_OK);
    ASSERT_EQ(s.npicks, 10u);
    for (size_t i = 0; i < s.npicks; i++) // the whole hash, in byte order
        EXPECT_EQ(std::string(subkey_list_sub(&s.entries, s.picks[i]).ptr,
                              subkey_list_sub(&s.entries, s.picks[i]).len),
                  "k" + std::to_string(i));
    subkey_sample_deinit(&s);
    ASSERT_EQ(hash_random(&db_, kv_slice_cstr("h"), 1000, false, &s, nullptr), KV_OK);
    EXPECT_EQ(s.npicks, 1000u);
    EXPECT_LE(s.entries.n, 10u); // repeated picks share their entry
    subkey_sample_deinit(&s);
    EXPECT_EQ(hash_random(&db_, kv_slice_cstr("nokey"), 1, true, &s, nullptr), KV_NOTFOUND);
    subkey_sample_deinit(&s);
}

// A big hash: HLEN from the metadata, sampling by descent (beyond SUBKEY_SAMPLE_EXACT_MAX),
// a full scan in pages, O(1) DEL, and the fields reclaimed by compaction afterwards.
TEST_F(HashTest, BigHashSampleScanDeleteAndCompact)
{
    const int kFields = 100000;
    const int kChunk = 1000;
    for (int base = 0; base < kFields; base += kChunk) {
        std::vector<std::string> fv;
        for (int i = base; i < base + kChunk; i++) {
            char f[32];
            snprintf(f, sizeof f, "field:%06d", i);
            fv.push_back(f);
            fv.push_back(std::to_string(i));
        }
        ASSERT_EQ(HSet("big", fv), KV_OK);
    }
    EXPECT_EQ(HLen("big"), (uint64_t)kFields);
    uint64_t version = Meta("big").version;
    // Distinct picks by descent: valid, distinct, spread over the whole key range.
    std::map<int, int> by_ten_thousand;
    for (int round = 0; round < 200; round++) {
        struct subkey_sample s = {SUBKEY_LIST_INIT, nullptr, 0};
        ASSERT_EQ(hash_random(&db_, kv_slice_cstr("big"), 10, true, &s, nullptr), KV_OK);
        ASSERT_EQ(s.npicks, 10u);
        std::set<std::string> seen;
        for (size_t i = 0; i < s.npicks; i++) {
            struct kv_slice f = subkey_list_sub(&s.entries, s.picks[i]);
            struct kv_slice v = subkey_list_value(&s.entries, s.picks[i]);
            std::string fs(f.ptr, f.len);
            ASSERT_EQ(fs.size(), 12u);
            int n = atoi(fs.c_str() + 6);
            EXPECT_EQ(std::string(v.ptr, v.len), std::to_string(n));
            seen.insert(fs);
            by_ten_thousand[n / 10000]++;
        }
        EXPECT_EQ(seen.size(), 10u);
        subkey_sample_deinit(&s);
    }
    // Fixed-width fields form a balanced trie: every tenth of the hash gets about 200 picks.
    ASSERT_EQ(by_ten_thousand.size(), 10u);
    for (const auto &b : by_ten_thousand) {
        EXPECT_GT(b.second, 100) << b.first;
        EXPECT_LT(b.second, 300) << b.first;
    }
    struct subkey_sample s = {SUBKEY_LIST_INIT, nullptr, 0};
    ASSERT_EQ(hash_random(&db_, kv_slice_cstr("big"), 50, false, &s, nullptr), KV_OK);
    EXPECT_EQ(s.npicks, 50u);
    subkey_sample_deinit(&s);
    // A full scan in pages of 1000.
    size_t seen = 0, pages = 0;
    std::string pos;
    bool done = false, first = true;
    while (!done) {
        struct subkey_list l = SUBKEY_LIST_INIT;
        struct kv_buf last = KV_BUF_INIT;
        struct kv_slice a = Sl(pos);
        ASSERT_EQ(hash_scan(&db_, kv_slice_cstr("big"), first ? nullptr : &a,
                            kv_slice_make(nullptr, 0), 1000, subkey_list_collect, &l, &last, &done,
                            nullptr),
                  KV_OK);
        seen += l.n;
        pages++;
        pos.assign(last.ptr ? last.ptr : "", last.len);
        first = false;
        subkey_list_deinit(&l);
        kv_buf_deinit(&last);
    }
    EXPECT_EQ(seen, (size_t)kFields);
    EXPECT_LE(pages, 101u);
    // DEL removes only the metadata record; a manual compaction then drops every field. (The
    // first compaction settles the background compactions the writes started: one that began
    // before the DEL saw the hash alive and would keep the fields it was rewriting.)
    ASSERT_EQ(storage_compact(st_, KV_CF_SUBKEY, kv_slice_make(nullptr, 0),
                              kv_slice_make(nullptr, 0), nullptr),
              KV_OK);
    EXPECT_EQ(CountSubKeys("big", version), (size_t)kFields);
    struct kv_slice k = kv_slice_cstr("big");
    int64_t deleted = 0;
    int64_t t0 = clock_mono_us();
    ASSERT_EQ(db_delete(&db_, &k, 1, &deleted, nullptr), KV_OK);
    EXPECT_LT(clock_mono_us() - t0, 100000); // O(1): no per-field work
    EXPECT_EQ(deleted, 1);
    EXPECT_EQ(HLen("big"), 0u);
    EXPECT_EQ(CountSubKeys("big", version), (size_t)kFields); // unreachable, not yet reclaimed
    ASSERT_EQ(storage_compact(st_, KV_CF_SUBKEY, kv_slice_make(nullptr, 0),
                              kv_slice_make(nullptr, 0), nullptr),
              KV_OK);
    EXPECT_EQ(CountSubKeys("big", version), 0u);
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

TEST_F(HashTest, WritesReportTouchedKeysOnlyWhenTheyChangeSomething)
{
    TouchLog log;
    struct db_hooks hooks = {record_touch, &log};
    db_.hooks = &hooks;
    ASSERT_EQ(HSet("h", {"a", "1"}), KV_OK);
    uint64_t n = 0;
    ASSERT_EQ(HSet("h", {"a", "2"}, &n, true), KV_OK); // NX on an existing field: no write
    ASSERT_EQ(HDel("h", {"zz"}, &n), KV_OK);           // nothing deleted: no write
    int64_t r = 0;
    ASSERT_EQ(HSet("h", {"s", "x"}), KV_OK);
    EXPECT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("s"), 1, &r, nullptr),
              KV_ERR_INVALID);
    ASSERT_EQ(HDel("h", {"a"}, &n), KV_OK);
    EXPECT_EQ(log.keys, (std::vector<std::string>{"h", "h", "h"}));
    // HSET of a field's current value writes nothing but still reports the key (Redis signals
    // it: WATCH aborts).
    uint64_t seq = storage_latest_seq(st_);
    ASSERT_EQ(HSet("h", {"s", "x"}, &n), KV_OK);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(storage_latest_seq(st_), seq);
    EXPECT_EQ(log.keys, (std::vector<std::string>{"h", "h", "h", "h"}));
    db_.hooks = nullptr;
}

// Concurrent HINCRBYs never lose an update and concurrent HSETs of distinct fields keep the
// field count exact.
TEST_F(HashTest, ConcurrentWritersAreSerialised)
{
    const int kThreads = 4, kRounds = 300;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRounds; i++) {
                int64_t r = 0;
                EXPECT_EQ(hash_incrby(&db_, kv_slice_cstr("h"), kv_slice_cstr("n"), 1, &r, nullptr),
                          KV_OK);
                std::string f = "t" + std::to_string(t) + ":" + std::to_string(i);
                struct kv_slice fv[2] = {Sl(f), kv_slice_cstr("v")};
                uint64_t added = 0;
                EXPECT_EQ(hash_set(&db_, kv_slice_cstr("h"), fv, 1, false, &added, nullptr), KV_OK);
                EXPECT_EQ(added, 1u);
            }
        });
    }
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(HGet("h", "n"), std::to_string(kThreads * kRounds));
    EXPECT_EQ(HLen("h"), (uint64_t)(kThreads * kRounds + 1));
    EXPECT_EQ(All("h").size(), (size_t)(kThreads * kRounds + 1));
}

// A hash written with the legacy 32-bit metadata encoding is read, and rewritten in the 64-bit
// form by the next write, keeping its fields.
TEST_F(HashTest, LegacyMetadataIsReadAndRewritten)
{
    uint64_t version = 12345678;
    std::string rec;
    rec.push_back((char)META_HASH); // no 0x80: legacy
    rec += std::string(4, '\0');    // expire u32 = 0
    for (int i = 7; i >= 0; i--)
        rec.push_back((char)(version >> (8 * i)));
    rec += std::string("\0\0\0\x01", 4); // size u32 = 1
    struct kv_buf mk = KV_BUF_INIT, sk = KV_BUF_INIT;
    db_meta_key(&db_, kv_slice_cstr("old"), &mk);
    db_subkey(&db_, kv_slice_cstr("old"), version, kv_slice_cstr("f"), &sk);
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&mk), Sl(rec));
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), kv_slice_cstr("v"));
    ASSERT_EQ(storage_write(st_, b, nullptr), KV_OK);
    storage_batch_free(b);
    kv_buf_deinit(&mk);
    kv_buf_deinit(&sk);
    EXPECT_EQ(HGet("old", "f"), "v");
    EXPECT_EQ(HLen("old"), 1u);
    ASSERT_EQ(HSet("old", {"g", "w"}), KV_OK);
    std::string raw = RawMeta("old");
    ASSERT_EQ(raw.size(), 25u);
    EXPECT_EQ((uint8_t)raw[0], 0x80 | META_HASH);
    EXPECT_EQ(kv_get_u64be(raw.data() + 9), version);
    EXPECT_EQ(kv_get_u64be(raw.data() + 17), 2u);
    EXPECT_EQ(All("old"), (std::map<std::string, std::string>{{"f", "v"}, {"g", "w"}}));
}

TEST(SubkeyUnique, KeepsLastOccurrenceInByteOrder)
{
    std::vector<struct kv_slice> items = {kv_slice_cstr("b"), kv_slice_cstr("1"),
                                          kv_slice_cstr("a"), kv_slice_cstr("2"),
                                          kv_slice_cstr("b"), kv_slice_cstr("3")};
    size_t n = 0;
    size_t *idx = subkey_unique(items.data(), 3, 2, &n);
    ASSERT_EQ(n, 2u);
    EXPECT_EQ(idx[0], 2u); // "a"
    EXPECT_EQ(idx[1], 4u); // the second "b"
    kv_free(idx);
    idx = subkey_unique(items.data(), 0, 1, &n);
    EXPECT_EQ(n, 0u);
    kv_free(idx);
}

TEST_F(HashTest, HsetOfCurrentValuesDoesNotWaitForAKeyLockHeldElsewhere)
{
    ASSERT_EQ(HSet("h", {"f", "1", "g", "2"}), KV_OK);
    TouchLog touches;
    struct db_hooks hooks = {record_touch, &touches};
    db_.hooks = &hooks;
    {
        HeldKey held(locks_, db_.ns, "h");
        uint64_t added = 9;
        // The values they already have: at once, and still a change of the key (WATCH).
        ASSERT_EQ(HSet("h", {"g", "2", "f", "1"}, &added), KV_OK);
        EXPECT_EQ(added, 0u);
        EXPECT_EQ(touches.keys, (std::vector<std::string>{"h"}));
        // HSETNX of existing fields: at once, and no change.
        ASSERT_EQ(HSet("h", {"f", "other"}, &added, true), KV_OK);
        EXPECT_EQ(added, 0u);
        EXPECT_EQ(touches.keys.size(), 1u);
        ASSERT_TRUE(held.StillHeld()) << "HSET of current values waited for the key lock";
        // A new value (here a field given twice, the last value new) waits for the lock.
        std::atomic<bool> done{false};
        std::thread writer([&] {
            EXPECT_EQ(HSet("h", {"f", "1", "f", "3"}), KV_OK);
            done.store(true);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_FALSE(done.load()) << "HSET of a new value did not wait for the key lock";
        held.Release();
        writer.join();
    }
    EXPECT_EQ(HGet("h", "f"), "3");
    EXPECT_EQ(HGet("h", "g"), "2");
    EXPECT_EQ(touches.keys, (std::vector<std::string>{"h", "h"}));
    db_.hooks = nullptr;
}

TEST(SubkeyRandom, BelowIsInRangeAndCoversIt)
{
    std::vector<int> hits(7, 0);
    for (int i = 0; i < 7000; i++) {
        uint64_t r = subkey_random_below(7);
        ASSERT_LT(r, 7u);
        hits[r]++;
    }
    for (int h : hits) {
        EXPECT_GT(h, 800);
        EXPECT_LT(h, 1200);
    }
    EXPECT_EQ(subkey_random_below(1), 0u);
}

} // namespace
