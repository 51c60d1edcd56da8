// SPDX-License-Identifier: Apache-2.0
//
// The string type layer (types/str.h) on a real RocksDB: values, options, expiry, type
// overwrites, number parsing and overflow, growth limits, multi-key atomicity and LCS.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "fixture.h"
#include "storage/meta.h"
#include "types/bitmap.h"
#include "types/str.h"

namespace {

struct kv_slice
Sl(const std::string &s)
{
    return kv_slice_make(s.data(), s.size());
}

class StrTest : public StorageTest {
  protected:
    // A slice of a string literal (StorageTest::S of a literal would view a temporary).
    static struct kv_slice
    L(const char *lit) {
        return kv_slice_cstr(lit);
    }

    // GET: the value, or "<nil>" / "<wrongtype>" / "<error N>".
    std::string
    Get(const std::string &key)
    {
        struct kv_buf raw = KV_BUF_INIT;
        struct kv_slice v;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = str_get(&db_, S(key), kBitmapStringMax, &raw, &v, &err);
        std::string out;
        if (rc == KV_OK)
            out.assign(v.ptr, v.len);
        else if (rc == KV_NOTFOUND)
            out = "<nil>";
        else if (rc == KV_ERR_WRONGTYPE)
            out = "<wrongtype>";
        else
            out = "<error " + std::to_string(rc) + ">";
        kv_buf_deinit(&raw);
        return out;
    }

    enum kv_code
    Set(const std::string &key, const std::string &value, struct str_set_opts opts = {},
        bool *written = nullptr, std::string *old = nullptr, bool *had_old = nullptr)
    {
        struct kv_buf o = KV_BUF_INIT;
        bool w = false, h = false;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc =
            str_set(&db_, S(key), S(value), &opts, kBitmapStringMax, &w, &o, &h, &err);
        if (written)
            *written = w;
        if (had_old)
            *had_old = h;
        if (old)
            old->assign(o.ptr ? o.ptr : "", o.len);
        kv_buf_deinit(&o);
        return rc;
    }

    // The absolute expiry: -2 absent, -1 none.
    int64_t
    ExpireAt(const std::string &key)
    {
        int64_t at = 0;
        EXPECT_EQ(db_expire_at(&db_, S(key), &at, nullptr), KV_OK);
        return at;
    }

    // Write a raw metadata record for key.
    void
    PutRaw(const std::string &key, const std::string &record)
    {
        struct kv_buf mk = KV_BUF_INIT;
        db_meta_key(&db_, S(key), &mk);
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&mk), S(record));
        ASSERT_EQ(storage_write(st_, b, nullptr), KV_OK);
        storage_batch_free(b);
        kv_buf_deinit(&mk);
    }

    std::string
    GetRaw(const std::string &key)
    {
        struct kv_buf mk = KV_BUF_INIT, v = KV_BUF_INIT;
        db_meta_key(&db_, S(key), &mk);
        std::string out;
        if (storage_get(st_, nullptr, KV_CF_METADATA, kv_buf_slice(&mk), &v, nullptr) == KV_OK)
            out.assign(v.ptr, v.len);
        kv_buf_deinit(&mk);
        kv_buf_deinit(&v);
        return out;
    }

    // A live hash metadata record (size 1) under key.
    void
    PutHash(const std::string &key, uint64_t expire_ms = 0)
    {
        struct meta m;
        meta_init(&m, META_HASH);
        m.size = 1;
        m.expire_ms = expire_ms;
        struct kv_buf v = KV_BUF_INIT;
        meta_encode(&m, &v);
        PutRaw(key, std::string(v.ptr, v.len));
        kv_buf_deinit(&v);
    }

    // A string record with an expiry in the past, bypassing the API's delete-on-past rule.
    void
    PutExpiredString(const std::string &key, const std::string &value)
    {
        struct meta m;
        meta_init(&m, META_STRING);
        m.expire_ms = (uint64_t)(clock_now_ms() - 1000);
        m.payload = S(value);
        struct kv_buf v = KV_BUF_INIT;
        meta_encode(&m, &v);
        PutRaw(key, std::string(v.ptr, v.len));
        kv_buf_deinit(&v);
    }

    enum kv_code
    Incr(const std::string &key, int64_t by, int64_t *out)
    {
        return str_incrby(&db_, S(key), by, kBitmapStringMax, out, nullptr);
    }

    enum kv_code
    IncrFloat(const std::string &key, const std::string &by, std::string *out)
    {
        struct kv_buf o = KV_BUF_INIT;
        enum kv_code rc = str_incrbyfloat(&db_, S(key), S(by), kBitmapStringMax, &o, nullptr);
        if (rc == KV_OK)
            out->assign(o.ptr, o.len);
        kv_buf_deinit(&o);
        return rc;
    }

    enum kv_code
    SetRange(const std::string &key, int64_t off, const std::string &v, uint64_t max, int64_t *len)
    {
        return str_setrange(&db_, S(key), off, S(v), max, kBitmapStringMax, len, nullptr);
    }

    enum kv_code
    Append(const std::string &key, const std::string &v, uint64_t max, int64_t *len)
    {
        return str_append(&db_, S(key), S(v), max, kBitmapStringMax, len, nullptr);
    }
};

struct str_set_opts
Opts(enum str_cond cond, enum str_ttl ttl = STR_TTL_CLEAR, int64_t at = 0, bool get = false)
{
    struct str_set_opts o;
    o.cond = cond;
    o.ttl = ttl;
    o.expire_at_ms = at;
    o.get = get;
    return o;
}

TEST_F(StrTest, SetGetOverwriteAndBinaryValues)
{
    EXPECT_EQ(Get("k"), "<nil>");
    ASSERT_EQ(Set("k", "v1"), KV_OK);
    EXPECT_EQ(Get("k"), "v1");
    ASSERT_EQ(Set("k", "v2"), KV_OK);
    EXPECT_EQ(Get("k"), "v2");
    std::string bin("a\0b\r\n\xff", 6);
    ASSERT_EQ(Set("bin", bin), KV_OK);
    EXPECT_EQ(Get("bin"), bin);
    ASSERT_EQ(Set("empty", ""), KV_OK);
    EXPECT_EQ(Get("empty"), "");
    std::string key_with_nul("k\0x", 3);
    ASSERT_EQ(Set(key_with_nul, "other"), KV_OK);
    EXPECT_EQ(Get(key_with_nul), "other");
    EXPECT_EQ(Get("k"), "v2");
    // The record is [0x81][expire u64][value].
    std::string raw = GetRaw("k");
    ASSERT_EQ(raw.size(), 11u);
    EXPECT_EQ((uint8_t)raw[0], 0x81);
    EXPECT_EQ(raw.substr(1, 8), std::string(8, '\0'));
    EXPECT_EQ(raw.substr(9), "v2");
    // Survives a reopen.
    Reopen();
    EXPECT_EQ(Get("k"), "v2");
    EXPECT_EQ(Get("bin"), bin);
}

TEST_F(StrTest, SetConditionsAndGet)
{
    bool written = true, had_old = true;
    std::string old;
    ASSERT_EQ(Set("k", "a", Opts(STR_COND_XX), &written), KV_OK);
    EXPECT_FALSE(written);
    EXPECT_EQ(Get("k"), "<nil>");
    ASSERT_EQ(Set("k", "a", Opts(STR_COND_NX), &written), KV_OK);
    EXPECT_TRUE(written);
    ASSERT_EQ(Set("k", "b", Opts(STR_COND_NX), &written), KV_OK);
    EXPECT_FALSE(written);
    EXPECT_EQ(Get("k"), "a");
    ASSERT_EQ(Set("k", "c", Opts(STR_COND_XX), &written), KV_OK);
    EXPECT_TRUE(written);
    EXPECT_EQ(Get("k"), "c");
    // GET returns the old value whether or not the condition holds.
    ASSERT_EQ(Set("k", "d", Opts(STR_COND_NX, STR_TTL_CLEAR, 0, true), &written, &old, &had_old),
              KV_OK);
    EXPECT_FALSE(written);
    EXPECT_TRUE(had_old);
    EXPECT_EQ(old, "c");
    ASSERT_EQ(Set("k", "e", Opts(STR_COND_NONE, STR_TTL_CLEAR, 0, true), &written, &old, &had_old),
              KV_OK);
    EXPECT_TRUE(written);
    EXPECT_EQ(old, "c");
    EXPECT_EQ(Get("k"), "e");
    ASSERT_EQ(
        Set("new", "x", Opts(STR_COND_NONE, STR_TTL_CLEAR, 0, true), &written, &old, &had_old),
        KV_OK);
    EXPECT_TRUE(written);
    EXPECT_FALSE(had_old);
}

TEST_F(StrTest, ExpiryInThePastReadsAsAbsent)
{
    int64_t now = clock_now_ms();
    // Through the API: an expiry at or before now deletes the key.
    ASSERT_EQ(Set("k", "v"), KV_OK);
    ASSERT_EQ(Set("k", "v2", Opts(STR_COND_NONE, STR_TTL_AT, now - 1)), KV_OK);
    EXPECT_EQ(Get("k"), "<nil>");
    EXPECT_EQ(ExpireAt("k"), -2);
    EXPECT_EQ(GetRaw("k"), "");
    // A stored record that has expired is absent for every read and write path.
    PutExpiredString("e", "5");
    EXPECT_EQ(Get("e"), "<nil>");
    int64_t n = 0;
    ASSERT_EQ(Incr("e", 1, &n), KV_OK);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(ExpireAt("e"), -1); // INCR on an absent key creates it without expiry
    PutExpiredString("e", "old");
    bool written = false, had_old = true;
    std::string old;
    ASSERT_EQ(Set("e", "new", Opts(STR_COND_NX, STR_TTL_CLEAR, 0, true), &written, &old, &had_old),
              KV_OK);
    EXPECT_TRUE(written);
    EXPECT_FALSE(had_old);
    EXPECT_EQ(Get("e"), "new");
    PutExpiredString("e", "old");
    int64_t len = 0;
    ASSERT_EQ(Append("e", "xy", 1 << 20, &len), KV_OK);
    EXPECT_EQ(len, 2);
    EXPECT_EQ(Get("e"), "xy");
    PutExpiredString("e", "old");
    struct kv_buf out = KV_BUF_INIT;
    EXPECT_EQ(str_getex(&db_, L("e"), STR_TTL_CLEAR, 0, kBitmapStringMax, &out, nullptr),
              KV_NOTFOUND);
    EXPECT_EQ(str_getdel(&db_, L("e"), kBitmapStringMax, &out, nullptr), KV_NOTFOUND);
    int result = 0;
    EXPECT_EQ(str_cas(&db_, L("e"), L("old"), L("x"), 0, &result, nullptr), KV_OK);
    EXPECT_EQ(result, -1);
    kv_buf_deinit(&out);
}

TEST_F(StrTest, ExpiryOptionsKeepClearAndSet)
{
    int64_t at = clock_now_ms() + 100000;
    ASSERT_EQ(Set("k", "v", Opts(STR_COND_NONE, STR_TTL_AT, at)), KV_OK);
    EXPECT_EQ(ExpireAt("k"), at);
    // KEEPTTL keeps it; INCR, APPEND, SETRANGE keep it; a plain SET clears it.
    ASSERT_EQ(Set("k", "1", Opts(STR_COND_NONE, STR_TTL_KEEP)), KV_OK);
    EXPECT_EQ(ExpireAt("k"), at);
    int64_t n = 0, len = 0;
    ASSERT_EQ(Incr("k", 5, &n), KV_OK);
    EXPECT_EQ(ExpireAt("k"), at);
    ASSERT_EQ(Append("k", "0", 1 << 20, &len), KV_OK);
    EXPECT_EQ(ExpireAt("k"), at);
    ASSERT_EQ(SetRange("k", 0, "7", 1 << 20, &len), KV_OK);
    EXPECT_EQ(ExpireAt("k"), at);
    std::string f;
    ASSERT_EQ(IncrFloat("k", "0.5", &f), KV_OK);
    EXPECT_EQ(f, "70.5");
    EXPECT_EQ(ExpireAt("k"), at);
    ASSERT_EQ(Set("k", "v"), KV_OK);
    EXPECT_EQ(ExpireAt("k"), -1);
    // KEEPTTL on an absent key: no expiry.
    ASSERT_EQ(Set("k2", "v", Opts(STR_COND_NONE, STR_TTL_KEEP)), KV_OK);
    EXPECT_EQ(ExpireAt("k2"), -1);
    // GETEX: set, keep, persist, and delete when in the past.
    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(str_getex(&db_, L("k"), STR_TTL_AT, at, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "v");
    EXPECT_EQ(ExpireAt("k"), at);
    ASSERT_EQ(str_getex(&db_, L("k"), STR_TTL_KEEP, 0, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(ExpireAt("k"), at);
    ASSERT_EQ(str_getex(&db_, L("k"), STR_TTL_CLEAR, 0, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(ExpireAt("k"), -1);
    EXPECT_EQ(Get("k"), "v");
    ASSERT_EQ(str_getex(&db_, L("k"), STR_TTL_AT, 1, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "v");
    EXPECT_EQ(Get("k"), "<nil>");
    kv_buf_deinit(&out);
}

TEST_F(StrTest, OtherTypes)
{
    PutHash("h");
    EXPECT_EQ(Get("h"), "<wrongtype>");
    struct kv_buf raw = KV_BUF_INIT;
    struct kv_slice v;
    EXPECT_EQ(str_get(&db_, L("h"), kBitmapStringMax, &raw, &v, nullptr), KV_ERR_WRONGTYPE);
    // A bitmap key reads as its string form (types/bitmap.h): 3 zero bytes, no segment stored.
    {
        struct meta m;
        meta_init(&m, META_BITMAP);
        m.size = 3;
        struct kv_buf rec = KV_BUF_INIT;
        meta_encode(&m, &rec);
        PutRaw("bm", std::string(rec.ptr, rec.len));
        kv_buf_deinit(&rec);
    }
    EXPECT_EQ(Get("bm"), std::string(3, '\0'));
    int64_t n = 0, len = 0;
    EXPECT_EQ(Incr("h", 1, &n), KV_ERR_WRONGTYPE);
    std::string f;
    EXPECT_EQ(IncrFloat("h", "1", &f), KV_ERR_WRONGTYPE);
    EXPECT_EQ(IncrFloat("h", "abc", &f), KV_ERR_WRONGTYPE); // type first, as Redis
    EXPECT_EQ(Append("h", "x", 1 << 20, &len), KV_ERR_WRONGTYPE);
    EXPECT_EQ(SetRange("h", 0, "x", 1 << 20, &len), KV_ERR_WRONGTYPE);
    EXPECT_EQ(SetRange("h", 0, "", 1 << 20, &len), KV_ERR_WRONGTYPE);
    struct kv_buf out = KV_BUF_INIT;
    EXPECT_EQ(str_getdel(&db_, L("h"), kBitmapStringMax, &out, nullptr), KV_ERR_WRONGTYPE);
    EXPECT_EQ(str_getex(&db_, L("h"), STR_TTL_CLEAR, 0, kBitmapStringMax, &out, nullptr),
              KV_ERR_WRONGTYPE);
    int result = 7;
    EXPECT_EQ(str_cas(&db_, L("h"), L("a"), L("b"), 0, &result, nullptr), KV_ERR_WRONGTYPE);
    EXPECT_EQ(str_cad(&db_, L("h"), L("a"), &result, nullptr), KV_ERR_WRONGTYPE);
    enum meta_type t;
    ASSERT_EQ(db_type(&db_, L("h"), &t, nullptr), KV_OK);
    EXPECT_EQ(t, META_HASH); // nothing above changed it
    // SET ... GET refuses and writes nothing; NX sees the hash as existing.
    bool written = true;
    EXPECT_EQ(Set("h", "s", Opts(STR_COND_NONE, STR_TTL_CLEAR, 0, true), &written),
              KV_ERR_WRONGTYPE);
    ASSERT_EQ(Set("h", "s", Opts(STR_COND_NX), &written), KV_OK);
    EXPECT_FALSE(written);
    ASSERT_EQ(db_type(&db_, L("h"), &t, nullptr), KV_OK);
    EXPECT_EQ(t, META_HASH);
    // The multi-read reports each key's type; a string's value, nothing for the others.
    PutExpiredString("exp", "x");
    ASSERT_EQ(Set("s", "str"), KV_OK);
    struct kv_slice keys[4] = {L("h"), L("nokey"), L("exp"), L("s")};
    struct kv_buf raws[4] = {KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT};
    struct kv_slice vals[4];
    enum meta_type types[4];
    ASSERT_EQ(str_mget(&db_, keys, 4, kBitmapStringMax, raws, vals, types, nullptr), KV_OK);
    EXPECT_EQ(types[0], META_HASH);
    EXPECT_EQ(vals[0].len, 0u);
    EXPECT_EQ(types[1], META_NONE);
    EXPECT_EQ(types[2], META_NONE);
    EXPECT_EQ(types[3], META_STRING);
    EXPECT_EQ(std::string(vals[3].ptr, vals[3].len), "str");
    // A plain SET replaces the hash; KEEPTTL keeps the hash's expiry.
    int64_t at = clock_now_ms() + 50000;
    PutHash("h2", (uint64_t)at);
    ASSERT_EQ(Set("h", "s"), KV_OK);
    EXPECT_EQ(Get("h"), "s");
    ASSERT_EQ(Set("h2", "s", Opts(STR_COND_NONE, STR_TTL_KEEP)), KV_OK);
    EXPECT_EQ(Get("h2"), "s");
    EXPECT_EQ(ExpireAt("h2"), at);
    // MSET overwrites other types too.
    PutHash("h3");
    struct kv_slice kv[2] = {L("h3"), L("m")};
    ASSERT_EQ(str_mset(&db_, kv, 1, false, &written, nullptr), KV_OK);
    EXPECT_EQ(Get("h3"), "m");
    // An expired hash is absent: SET GET sees nothing old.
    PutHash("h4", (uint64_t)(clock_now_ms() - 10));
    bool had_old = true;
    ASSERT_EQ(
        Set("h4", "s", Opts(STR_COND_NX, STR_TTL_CLEAR, 0, true), &written, nullptr, &had_old),
        KV_OK);
    EXPECT_TRUE(written);
    EXPECT_FALSE(had_old);
    for (auto &rw : raws)
        kv_buf_deinit(&rw);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&out);
}

// A bitmap key is a string to Redis: every string command sees its string form (Redis bit
// order); writes that replace the value leave a plain string, GETEX keeps the bitmap.
TEST_F(StrTest, BitmapKeyReadsAndWritesAsItsString)
{
    // Bits of "12" (0x31 0x32) in Redis order make a two-byte bitmap key.
    auto make12 = [&](const std::string &key) {
        for (uint64_t bit : {2, 3, 7, 10, 11, 14}) {
            int old = 0;
            ASSERT_EQ(bitmap_setbit(&db_, S(key), bit, 1, &old, nullptr), KV_OK);
        }
    };
    auto type_of = [&](const std::string &key) {
        enum meta_type t = META_NONE;
        EXPECT_EQ(db_type(&db_, S(key), &t, nullptr), KV_OK);
        return t;
    };
    make12("b");
    ASSERT_EQ(type_of("b"), META_BITMAP);
    EXPECT_EQ(Get("b"), "12");

    // MGET, alone (read again from a snapshot) and with other keys.
    for (size_t n : {1, 3}) {
        struct kv_slice keys[3] = {L("b"), L("nokey"), L("b")};
        struct kv_buf raws[3] = {KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT};
        struct kv_slice vals[3];
        enum meta_type types[3];
        ASSERT_EQ(str_mget(&db_, keys, n, kBitmapStringMax, raws, vals, types, nullptr), KV_OK);
        EXPECT_EQ(types[0], META_STRING);
        EXPECT_EQ(std::string(vals[0].ptr, vals[0].len), "12");
        if (n == 3) {
            EXPECT_EQ(types[1], META_NONE);
            EXPECT_EQ(std::string(vals[2].ptr, vals[2].len), "12");
        }
        for (auto &rw : raws)
            kv_buf_deinit(&rw);
    }

    // GETEX changes the expiry of the bitmap and keeps it a bitmap.
    int64_t at = clock_now_ms() + 100000;
    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(str_getex(&db_, L("b"), STR_TTL_AT, at, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "12");
    EXPECT_EQ(ExpireAt("b"), at);
    EXPECT_EQ(type_of("b"), META_BITMAP);

    // INCR parses the string form; the key becomes a string with the sum and keeps its expiry.
    int64_t n = 0;
    ASSERT_EQ(Incr("b", 1, &n), KV_OK);
    EXPECT_EQ(n, 13);
    EXPECT_EQ(type_of("b"), META_STRING);
    EXPECT_EQ(Get("b"), "13");
    EXPECT_EQ(ExpireAt("b"), at);
    make12("f");
    std::string f;
    ASSERT_EQ(IncrFloat("f", "0.5", &f), KV_OK);
    EXPECT_EQ(f, "12.5");
    EXPECT_EQ(type_of("f"), META_STRING);

    // A bitmap that is not a number is refused and left as it is.
    int old = 0;
    ASSERT_EQ(bitmap_setbit(&db_, L("x"), 1, 1, &old, nullptr), KV_OK);
    EXPECT_EQ(Incr("x", 1, &n), KV_ERR_INVALID);
    EXPECT_EQ(IncrFloat("x", "1", &f), KV_ERR_INVALID);
    EXPECT_EQ(type_of("x"), META_BITMAP);

    // APPEND and SETRANGE edit the string form; the key becomes a plain string.
    int64_t len = 0;
    ASSERT_EQ(Append("x", "yz", 1 << 20, &len), KV_OK);
    EXPECT_EQ(len, 3);
    EXPECT_EQ(Get("x"), std::string("\x40yz"));
    EXPECT_EQ(type_of("x"), META_STRING);
    make12("r");
    ASSERT_EQ(SetRange("r", 0, "", 1 << 20, &len), KV_OK); // nothing to write: stays a bitmap
    EXPECT_EQ(len, 2);
    EXPECT_EQ(type_of("r"), META_BITMAP);
    EXPECT_EQ(SetRange("r", 1 << 20, "a", 1 << 20, &len), KV_ERR_RANGE);
    EXPECT_EQ(type_of("r"), META_BITMAP);
    ASSERT_EQ(SetRange("r", 3, "ab", 1 << 20, &len), KV_OK);
    EXPECT_EQ(len, 5);
    EXPECT_EQ(Get("r"), std::string("12\0ab", 5));
    EXPECT_EQ(type_of("r"), META_STRING);

    // SET ... GET (GETSET) answers the string form and leaves the new string.
    make12("g");
    std::string prev;
    bool written = false, had_old = false;
    ASSERT_EQ(
        Set("g", "new", Opts(STR_COND_NONE, STR_TTL_CLEAR, 0, true), &written, &prev, &had_old),
        KV_OK);
    EXPECT_TRUE(written && had_old);
    EXPECT_EQ(prev, "12");
    EXPECT_EQ(Get("g"), "new");
    EXPECT_EQ(type_of("g"), META_STRING);

    // GETDEL answers the string form and deletes the key.
    make12("d");
    ASSERT_EQ(str_getdel(&db_, L("d"), kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "12");
    EXPECT_EQ(Get("d"), "<nil>");

    // Beyond bitmap_max (16 MiB here) no string form is read: INCR knows without reading that
    // no number is that long; the commands that need the bytes fail and change nothing.
    ASSERT_EQ(bitmap_setbit(&db_, L("big"), BITMAP_MAX_OFFSET, 1, &old, nullptr), KV_OK);
    EXPECT_EQ(Incr("big", 1, &n), KV_ERR_INVALID);
    EXPECT_EQ(Get("big"), "<error " + std::to_string(KV_ERR) + ">");
    EXPECT_EQ(Append("big", "x", UINT64_MAX, &len), KV_ERR);
    EXPECT_EQ(str_getdel(&db_, L("big"), kBitmapStringMax, &out, nullptr), KV_ERR);
    EXPECT_EQ(type_of("big"), META_BITMAP);
    ASSERT_EQ(str_strlen(&db_, L("big"), &len, nullptr), KV_OK);
    EXPECT_EQ(len, (int64_t)(BITMAP_MAX_OFFSET / 8 + 1));
    kv_buf_deinit(&out);
}

// bitmap_max bounds every read of a bitmap key's string form (for GETRANGE, of the range): a
// longer one fails with KV_ERR and Kvrocks' text, and nothing is written; 0 refuses any bitmap.
TEST_F(StrTest, BitmapStringFormLimit)
{
    int old = 0;
    ASSERT_EQ(bitmap_setbit(&db_, L("b"), 23, 1, &old, nullptr), KV_OK); // 3 bytes: 00 00 01
    const std::string form("\x00\x00\x01", 3);
    struct kv_buf raw = KV_BUF_INIT, out = KV_BUF_INIT;
    struct kv_slice v;
    struct kv_err err;
    auto refused = [&](enum kv_code rc) {
        bool ok = rc == KV_ERR && std::string(err.msg) == STR_ERR_BITMAP_TOO_LONG;
        kv_err_clear(&err);
        return ok;
    };
    kv_err_clear(&err);

    ASSERT_EQ(str_get(&db_, L("b"), 3, &raw, &v, &err), KV_OK);
    EXPECT_EQ(std::string(v.ptr, v.len), form);
    EXPECT_TRUE(refused(str_get(&db_, L("b"), 2, &raw, &v, &err)));
    EXPECT_TRUE(refused(str_get(&db_, L("b"), 0, &raw, &v, &err)));
    EXPECT_STREQ(STR_ERR_BITMAP_TOO_LONG, "Operation aborted: The size of the bitmap string "
                                          "exceeds the configuration item max-bitmap-to-string-mb");

    // GETRANGE: the range's length counts, not the bitmap's.
    ASSERT_EQ(str_getrange(&db_, L("b"), 1, 2, 2, &out, &err), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), form.substr(1));
    EXPECT_TRUE(refused(str_getrange(&db_, L("b"), 0, -1, 2, &out, &err)));
    ASSERT_EQ(str_getrange(&db_, L("b"), 5, 9, 0, &out, &err), KV_OK); // empty range
    EXPECT_EQ(out.len, 0u);

    // MGET fails as a whole.
    struct kv_slice keys[] = {L("b")};
    struct kv_buf raws[1] = {KV_BUF_INIT};
    struct kv_slice vals[1];
    enum meta_type types[1];
    EXPECT_TRUE(refused(str_mget(&db_, keys, 1, 2, raws, vals, types, &err)));
    kv_buf_deinit(&raws[0]);

    // The reads of writes refuse before writing: the key stays the same bitmap.
    struct str_set_opts get = {STR_COND_NONE, STR_TTL_CLEAR, 0, true};
    bool written = false, had_old = false;
    int64_t n = 0;
    EXPECT_TRUE(refused(str_set(&db_, L("b"), L("x"), &get, 2, &written, &out, &had_old, &err)));
    EXPECT_TRUE(refused(str_getdel(&db_, L("b"), 2, &out, &err)));
    EXPECT_TRUE(
        refused(str_getex(&db_, L("b"), STR_TTL_AT, clock_now_ms() + 100000, 2, &out, &err)));
    EXPECT_TRUE(refused(str_setrange(&db_, L("b"), 0, L("x"), UINT64_MAX, 2, &n, &err)));
    EXPECT_TRUE(refused(str_append(&db_, L("b"), L("x"), UINT64_MAX, 2, &n, &err)));
    EXPECT_TRUE(refused(str_incrby(&db_, L("b"), 1, 2, &n, &err)));
    EXPECT_TRUE(refused(str_incrbyfloat(&db_, L("b"), L("1"), 2, &out, &err)));
    enum meta_type t = META_NONE;
    ASSERT_EQ(db_type(&db_, L("b"), &t, nullptr), KV_OK);
    EXPECT_EQ(t, META_BITMAP);
    EXPECT_EQ(ExpireAt("b"), -1);
    EXPECT_EQ(Get("b"), form);

    // At the limit, GETDEL reads it and deletes the key.
    ASSERT_EQ(str_getdel(&db_, L("b"), 3, &out, &err), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), form);
    EXPECT_EQ(Get("b"), "<nil>");
    kv_buf_deinit(&raw);
    kv_buf_deinit(&out);
}

TEST_F(StrTest, IncrByParsingAndOverflow)
{
    int64_t n = 0;
    ASSERT_EQ(Incr("n", 1, &n), KV_OK);
    EXPECT_EQ(n, 1);
    ASSERT_EQ(Incr("n", -10, &n), KV_OK);
    EXPECT_EQ(n, -9);
    EXPECT_EQ(Get("n"), "-9");
    ASSERT_EQ(Set("n", "9223372036854775807"), KV_OK);
    EXPECT_EQ(Incr("n", 1, &n), KV_ERR_RANGE);
    EXPECT_EQ(Get("n"), "9223372036854775807"); // unchanged
    ASSERT_EQ(Incr("n", 0, &n), KV_OK);
    EXPECT_EQ(n, INT64_MAX);
    ASSERT_EQ(Incr("n", INT64_MIN, &n), KV_OK);
    EXPECT_EQ(n, -1);
    ASSERT_EQ(Set("n", "-9223372036854775808"), KV_OK);
    EXPECT_EQ(Incr("n", -1, &n), KV_ERR_RANGE);
    ASSERT_EQ(Incr("n", INT64_MAX, &n), KV_OK);
    EXPECT_EQ(n, -1);
    for (const char *bad : {"", " 1", "1 ", "01", "-0", "+1", "1.0", "abc", "9223372036854775808",
                            "-9223372036854775809", "1e3"}) {
        ASSERT_EQ(Set("bad", bad), KV_OK);
        EXPECT_EQ(Incr("bad", 1, &n), KV_ERR_INVALID) << "value '" << bad << "'";
        EXPECT_EQ(Get("bad"), bad);
    }
    std::string with_nul("1\0", 2);
    ASSERT_EQ(Set("bad", with_nul), KV_OK);
    EXPECT_EQ(Incr("bad", 1, &n), KV_ERR_INVALID);
}

TEST_F(StrTest, IncrByFloat)
{
    std::string out;
    ASSERT_EQ(IncrFloat("f", "10.5", &out), KV_OK);
    EXPECT_EQ(out, "10.5");
    ASSERT_EQ(IncrFloat("f", "0.1", &out), KV_OK);
    EXPECT_EQ(out, "10.6");
    EXPECT_EQ(Get("f"), "10.6");
    ASSERT_EQ(IncrFloat("f", "-10.6", &out), KV_OK);
    EXPECT_EQ(out, "0");
    ASSERT_EQ(Set("f", "1.0e3"), KV_OK);
    ASSERT_EQ(IncrFloat("f", "0", &out), KV_OK);
    EXPECT_EQ(out, "1000");
    ASSERT_EQ(Set("f", "5"), KV_OK);
    ASSERT_EQ(IncrFloat("f", "5.0e3", &out), KV_OK);
    EXPECT_EQ(out, "5005");
    EXPECT_EQ(IncrFloat("f", "abc", &out), KV_ERR_INVALID);
    EXPECT_EQ(IncrFloat("f", "", &out), KV_ERR_INVALID);
    EXPECT_EQ(IncrFloat("f", " 1", &out), KV_ERR_INVALID);
    EXPECT_EQ(IncrFloat("f", "nan", &out), KV_ERR_INVALID);
    EXPECT_EQ(IncrFloat("f", "inf", &out), KV_ERR_RANGE);
    EXPECT_EQ(Get("f"), "5005");
    ASSERT_EQ(Set("f", "abc"), KV_OK);
    EXPECT_EQ(IncrFloat("f", "1", &out), KV_ERR_INVALID);
    EXPECT_EQ(Get("f"), "abc");
}

TEST_F(StrTest, AppendAndSetRangeGrowthAndLimits)
{
    int64_t len = -1;
    ASSERT_EQ(Append("a", "hello", 16, &len), KV_OK);
    EXPECT_EQ(len, 5);
    ASSERT_EQ(Append("a", " world", 16, &len), KV_OK);
    EXPECT_EQ(len, 11);
    EXPECT_EQ(Get("a"), "hello world");
    EXPECT_EQ(Append("a", "123456", 16, &len), KV_ERR_RANGE);
    EXPECT_EQ(Get("a"), "hello world");
    ASSERT_EQ(Append("a", "12345", 16, &len), KV_OK);
    EXPECT_EQ(len, 16);
    // A new key is created even beyond the limit (the value was accepted on the wire).
    ASSERT_EQ(Append("big", std::string(20, 'x'), 16, &len), KV_OK);
    EXPECT_EQ(len, 20);

    ASSERT_EQ(SetRange("r", 3, "ab", 16, &len), KV_OK);
    EXPECT_EQ(len, 5);
    EXPECT_EQ(Get("r"), std::string("\0\0\0ab", 5));
    ASSERT_EQ(SetRange("r", 1, "XYZW", 16, &len), KV_OK);
    EXPECT_EQ(len, 5);
    EXPECT_EQ(Get("r"), std::string("\0XYZW", 5));
    ASSERT_EQ(SetRange("r", 0, "", 16, &len), KV_OK);
    EXPECT_EQ(len, 5);
    ASSERT_EQ(SetRange("none", 100, "", 16, &len), KV_OK);
    EXPECT_EQ(len, 0);
    EXPECT_EQ(Get("none"), "<nil>");
    EXPECT_EQ(SetRange("r", 15, "ab", 16, &len), KV_ERR_RANGE);
    EXPECT_EQ(SetRange("none", 16, "a", 16, &len), KV_ERR_RANGE);
    EXPECT_EQ(Get("none"), "<nil>");
    EXPECT_EQ(SetRange("r", INT64_MAX, "a", 16, &len), KV_ERR_RANGE);
    ASSERT_EQ(SetRange("r", 15, "a", 16, &len), KV_OK);
    EXPECT_EQ(len, 16);
    EXPECT_EQ(Get("r"), std::string("\0XYZW", 5) + std::string(10, '\0') + "a");
}

TEST_F(StrTest, LegacyRecordsAreReadAndRewritten)
{
    // Legacy encoding: flags without 0x80, expire as u32 seconds.
    std::string legacy("\x01\x00\x00\x00\x00", 5);
    PutRaw("l", legacy + "abc");
    EXPECT_EQ(Get("l"), "abc");
    int64_t len = 0;
    ASSERT_EQ(Append("l", "def", 1 << 20, &len), KV_OK);
    EXPECT_EQ(len, 6);
    EXPECT_EQ(Get("l"), "abcdef");
    std::string raw = GetRaw("l");
    EXPECT_EQ((uint8_t)raw[0], 0x81);
    EXPECT_EQ(raw.size(), 9u + 6u);
    PutRaw("l2", legacy + "xyz");
    ASSERT_EQ(SetRange("l2", 1, "Q", 1 << 20, &len), KV_OK);
    EXPECT_EQ(Get("l2"), "xQz");
    // A legacy expiry in seconds is honoured.
    uint32_t future = (uint32_t)(clock_now_ms() / 1000 + 1000);
    std::string with_exp("\x01", 1);
    for (int s = 24; s >= 0; s -= 8)
        with_exp.push_back((char)((future >> s) & 0xff));
    PutRaw("l3", with_exp + "v");
    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(str_getex(&db_, L("l3"), STR_TTL_KEEP, 0, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(ExpireAt("l3"), (int64_t)future * 1000);
    ASSERT_EQ(str_getex(&db_, L("l3"), STR_TTL_CLEAR, 0, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(ExpireAt("l3"), -1);
    EXPECT_EQ(Get("l3"), "v");
    kv_buf_deinit(&out);
}

TEST_F(StrTest, GetDelCasCad)
{
    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(Set("k", "v"), KV_OK);
    ASSERT_EQ(str_getdel(&db_, L("k"), kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "v");
    EXPECT_EQ(Get("k"), "<nil>");
    EXPECT_EQ(str_getdel(&db_, L("k"), kBitmapStringMax, &out, nullptr), KV_NOTFOUND);

    int r = 9;
    ASSERT_EQ(str_cas(&db_, L("c"), L("a"), L("b"), 0, &r, nullptr), KV_OK);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(Get("c"), "<nil>");
    ASSERT_EQ(Set("c", "a", Opts(STR_COND_NONE, STR_TTL_AT, clock_now_ms() + 100000)), KV_OK);
    ASSERT_EQ(str_cas(&db_, L("c"), L("x"), L("b"), 0, &r, nullptr), KV_OK);
    EXPECT_EQ(r, 0);
    EXPECT_EQ(Get("c"), "a");
    ASSERT_EQ(str_cas(&db_, L("c"), L("a"), L("b"), 0, &r, nullptr), KV_OK);
    EXPECT_EQ(r, 1);
    EXPECT_EQ(Get("c"), "b");
    EXPECT_EQ(ExpireAt("c"), -1); // no expiry option: none
    int64_t at = clock_now_ms() + 200000;
    ASSERT_EQ(str_cas(&db_, L("c"), L("b"), L("c"), at, &r, nullptr), KV_OK);
    EXPECT_EQ(r, 1);
    EXPECT_EQ(ExpireAt("c"), at);

    ASSERT_EQ(str_cad(&db_, L("c"), L("b"), &r, nullptr), KV_OK);
    EXPECT_EQ(r, 0);
    ASSERT_EQ(str_cad(&db_, L("c"), L("c"), &r, nullptr), KV_OK);
    EXPECT_EQ(r, 1);
    EXPECT_EQ(Get("c"), "<nil>");
    ASSERT_EQ(str_cad(&db_, L("c"), L("c"), &r, nullptr), KV_OK);
    EXPECT_EQ(r, -1);
    kv_buf_deinit(&out);
}

TEST_F(StrTest, MsetAndMsetnx)
{
    std::vector<struct kv_slice> kv = {L("a"), L("1"), L("b"), L("2"), L("a"), L("3")};
    bool written = false;
    ASSERT_EQ(str_mset(&db_, kv.data(), 3, false, &written, nullptr), KV_OK);
    EXPECT_TRUE(written);
    EXPECT_EQ(Get("a"), "3"); // the last value of a repeated key wins
    EXPECT_EQ(Get("b"), "2");
    // MSETNX: nothing is written when any key exists.
    std::vector<struct kv_slice> kv2 = {L("c"), L("x"), L("b"), L("y")};
    ASSERT_EQ(str_mset(&db_, kv2.data(), 2, true, &written, nullptr), KV_OK);
    EXPECT_FALSE(written);
    EXPECT_EQ(Get("c"), "<nil>");
    EXPECT_EQ(Get("b"), "2");
    std::vector<struct kv_slice> kv3 = {L("c"), L("x"), L("d"), L("y")};
    ASSERT_EQ(str_mset(&db_, kv3.data(), 2, true, &written, nullptr), KV_OK);
    EXPECT_TRUE(written);
    EXPECT_EQ(Get("c"), "x");
    EXPECT_EQ(Get("d"), "y");
    // An expired key does not block MSETNX; an expiring one is cleared by MSET.
    PutExpiredString("e", "old");
    std::vector<struct kv_slice> kv4 = {L("e"), L("new")};
    ASSERT_EQ(str_mset(&db_, kv4.data(), 1, true, &written, nullptr), KV_OK);
    EXPECT_TRUE(written);
    ASSERT_EQ(Set("t", "v", Opts(STR_COND_NONE, STR_TTL_AT, clock_now_ms() + 100000)), KV_OK);
    std::vector<struct kv_slice> kv5 = {L("t"), L("w")};
    ASSERT_EQ(str_mset(&db_, kv5.data(), 1, false, &written, nullptr), KV_OK);
    EXPECT_EQ(ExpireAt("t"), -1);
}

struct TouchLog {
    std::vector<std::string> keys;
};

static void
record_touch(void *arg, struct kv_slice ns, struct kv_slice key)
{
    static_cast<TouchLog *>(arg)->keys.emplace_back(key.ptr, key.len);
}

TEST_F(StrTest, WritesReportTouchedKeys)
{
    TouchLog log;
    struct db_hooks hooks = {record_touch, &log};
    db_.hooks = &hooks;
    std::vector<struct kv_slice> kv = {L("a"), L("1"), L("b"), L("2")};
    bool written = false;
    ASSERT_EQ(str_mset(&db_, kv.data(), 2, false, &written, nullptr), KV_OK);
    EXPECT_EQ(log.keys, (std::vector<std::string>{"a", "b"}));
    log.keys.clear();
    int64_t n = 0;
    ASSERT_EQ(Incr("a", 1, &n), KV_OK);
    EXPECT_EQ(log.keys, (std::vector<std::string>{"a"}));
    log.keys.clear();
    // Failed conditions and errors write nothing and touch nothing.
    ASSERT_EQ(Set("a", "x", Opts(STR_COND_NX)), KV_OK);
    ASSERT_EQ(Set("b", "x", Opts(STR_COND_NONE)), KV_OK);
    EXPECT_EQ(log.keys, (std::vector<std::string>{"b"}));
    log.keys.clear();
    ASSERT_EQ(str_mset(&db_, kv.data(), 2, true, &written, nullptr), KV_OK);
    EXPECT_EQ(Incr("b", 1, &n), KV_ERR_INVALID);
    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(str_getex(&db_, L("a"), STR_TTL_CLEAR, 0, kBitmapStringMax, &out, nullptr),
              KV_OK); // no TTL: no write
    EXPECT_TRUE(log.keys.empty());
    kv_buf_deinit(&out);
    db_.hooks = nullptr;
}

// MSET is one batch: a reader using MGET (one snapshot) never sees a half-applied MSET, and
// concurrent INCRs never lose an update.
TEST_F(StrTest, MsetIsAtomicAndIncrIsSerialised)
{
    const int kRounds = 400;
    std::atomic<bool> stop{false};
    std::atomic<int> torn{0};
    std::thread reader([&] {
        struct kv_slice keys[3] = {L("x"), L("y"), L("z")};
        struct kv_buf raws[3] = {KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT};
        struct kv_slice vals[3];
        enum meta_type types[3];
        while (!stop.load()) {
            if (str_mget(&db_, keys, 3, kBitmapStringMax, raws, vals, types, nullptr) != KV_OK) {
                torn++;
                break;
            }
            if (types[0] == META_NONE)
                continue;
            std::string a(vals[0].ptr, vals[0].len), b(vals[1].ptr, vals[1].len),
                c(vals[2].ptr, vals[2].len);
            if (types[1] != META_STRING || types[2] != META_STRING || a != b || b != c)
                torn++;
        }
        for (auto &r : raws)
            kv_buf_deinit(&r);
    });
    std::vector<std::thread> incrs;
    for (int t = 0; t < 4; t++) {
        incrs.emplace_back([&] {
            for (int i = 0; i < kRounds; i++) {
                int64_t n = 0;
                EXPECT_EQ(str_incrby(&db_, L("counter"), 1, kBitmapStringMax, &n, nullptr), KV_OK);
            }
        });
    }
    for (int i = 0; i < kRounds; i++) {
        std::string v = std::to_string(i) + std::string(100, 'p');
        struct kv_slice kv[6] = {L("x"), S(v), L("y"), S(v), L("z"), S(v)};
        bool written = false;
        ASSERT_EQ(str_mset(&db_, kv, 3, false, &written, nullptr), KV_OK);
    }
    for (auto &t : incrs)
        t.join();
    stop = true;
    reader.join();
    EXPECT_EQ(torn.load(), 0);
    EXPECT_EQ(Get("counter"), std::to_string(4 * kRounds));
}

TEST(StrRange, RedisIndexRules)
{
    struct Case {
        size_t len;
        int64_t start, end;
        const char *want; // of "hello"
    };
    const Case cases[] = {
        {5, 0, -1, "hello"},
        {5, -1, -5, ""},
        {5, -5, -1, "hello"},
        {5, 5, 10, ""},
        {5, 4, 10, "o"},
        {5, -100, 100, "hello"},
        {5, 2, 1, ""},
        {5, 0, -100, "h"},
        {5, INT64_MAX, INT64_MIN, ""},
        {5, INT64_MIN, INT64_MAX, "hello"},
        {5, 1, 3, "ell"},
        {5, -3, -2, "ll"},
        {0, 0, -1, ""},
        {0, 0, 0, ""},
    };
    const char *s = "hello";
    for (const auto &c : cases) {
        size_t off = 99, n = 99;
        str_range(c.len, c.start, c.end, &off, &n);
        EXPECT_EQ(std::string(s + (n ? off : 0), n), c.want)
            << "GETRANGE " << c.start << " " << c.end << " on len " << c.len;
    }
}

std::string
LcsStr(const std::string &a, const std::string &b)
{
    struct str_lcs r;
    memset(&r, 0, sizeof r);
    EXPECT_EQ(str_lcs_compute(Sl(a), Sl(b), true, false, 0, &r, nullptr), KV_OK);
    std::string out(r.str.ptr ? r.str.ptr : "", r.str.len);
    EXPECT_EQ(out.size(), r.len);
    str_lcs_deinit(&r);
    return out;
}

TEST(StrLcs, MatchesRedis)
{
    // Replies recorded from redis-server 7.0.15.
    EXPECT_EQ(LcsStr("ohmytext", "mynewtext"), "mytext");
    EXPECT_EQ(LcsStr("", "abc"), "");
    EXPECT_EQ(LcsStr("abc", ""), "");
    EXPECT_EQ(LcsStr("abc", "abc"), "abc");
    EXPECT_EQ(LcsStr("abc", "xyz"), "");

    struct str_lcs r;
    memset(&r, 0, sizeof r);
    ASSERT_EQ(str_lcs_compute(Sl("ohmytext"), Sl("mynewtext"), false, true, 0, &r, nullptr), KV_OK);
    EXPECT_EQ(r.len, 6u);
    ASSERT_EQ(r.nmatches, 2u);
    EXPECT_EQ(r.matches[0].a_start, 4u);
    EXPECT_EQ(r.matches[0].a_end, 7u);
    EXPECT_EQ(r.matches[0].b_start, 5u);
    EXPECT_EQ(r.matches[0].b_end, 8u);
    EXPECT_EQ(r.matches[1].a_start, 2u);
    EXPECT_EQ(r.matches[1].a_end, 3u);
    EXPECT_EQ(r.matches[1].b_start, 0u);
    EXPECT_EQ(r.matches[1].b_end, 1u);
    str_lcs_deinit(&r);

    memset(&r, 0, sizeof r);
    ASSERT_EQ(str_lcs_compute(Sl("ohmytext"), Sl("mynewtext"), false, true, 4, &r, nullptr), KV_OK);
    ASSERT_EQ(r.nmatches, 1u);
    EXPECT_EQ(r.matches[0].a_start, 4u);
    str_lcs_deinit(&r);

    // Length only: no string and no matches are built.
    memset(&r, 0, sizeof r);
    ASSERT_EQ(str_lcs_compute(Sl("ohmytext"), Sl("mynewtext"), false, false, 0, &r, nullptr),
              KV_OK);
    EXPECT_EQ(r.len, 6u);
    EXPECT_EQ(r.nmatches, 0u);
    EXPECT_EQ(r.str.len, 0u);
    str_lcs_deinit(&r);
}

} // namespace
