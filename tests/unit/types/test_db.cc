// SPDX-License-Identifier: Apache-2.0
//
// Unit tests of types/db.c on a real RocksDB: EXISTS/DEL/TYPE, the expire family and its
// NX/XX/GT/LT conditions, lazy expiry, SCAN ordering with limits and resumption, DBSIZE,
// FLUSHDB, RENAME/COPY for strings and for a hand-built hash (sub-keys move to a new version),
// RANDOMKEY, write hooks, and the cluster-mode key layout.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "fixture.h"
#include "storage/meta.h"

namespace {

struct Touched {
    std::vector<std::string> keys;
    static void
    Fn(void *arg, struct kv_slice ns, struct kv_slice key)
    {
        static_cast<Touched *>(arg)->keys.emplace_back(key.ptr, key.len);
    }
};

bool
CollectKey(void *arg, struct kv_slice key, const struct meta *m)
{
    static_cast<std::vector<std::string> *>(arg)->emplace_back(key.ptr, key.len);
    return true;
}

class DbTest : public StorageTest {
  protected:
    void
    PutMeta(const std::string &key, const struct meta &m)
    {
        struct kv_buf k = KV_BUF_INIT, v = KV_BUF_INIT;
        db_meta_key(&db_, S(key), &k);
        meta_encode(&m, &v);
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&k), kv_buf_slice(&v));
        struct kv_err err;
        ASSERT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
        storage_batch_free(b);
        kv_buf_deinit(&k);
        kv_buf_deinit(&v);
    }

    void
    PutString(const std::string &key, const std::string &val, uint64_t expire_ms = 0)
    {
        struct meta m;
        meta_init(&m, META_STRING);
        m.expire_ms = expire_ms;
        m.payload = S(val);
        PutMeta(key, m);
    }

    // A hash built by hand: metadata (size = number of fields) plus one sub-key per field.
    uint64_t
    PutHash(const std::string &key, const std::map<std::string, std::string> &fields,
            uint64_t expire_ms = 0)
    {
        struct meta m;
        meta_init(&m, META_HASH);
        m.expire_ms = expire_ms;
        m.size = fields.size();
        struct kv_buf k = KV_BUF_INIT;
        struct storage_batch *b = storage_batch_new(st_);
        for (const auto &f : fields) {
            keys_subkey(&k, db_.ns, db_.cluster, S(key), m.version, S(f.first));
            storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&k), S(f.second));
        }
        struct kv_err err;
        EXPECT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
        storage_batch_free(b);
        kv_buf_deinit(&k);
        PutMeta(key, m);
        return m.version;
    }

    // The sub-keys stored under (key, version), whatever the metadata says.
    std::map<std::string, std::string>
    SubKeys(const std::string &key, uint64_t version)
    {
        std::map<std::string, std::string> out;
        struct kv_buf prefix = KV_BUF_INIT, upper = KV_BUF_INIT;
        db_subkey_prefix(&db_, S(key), version, &prefix);
        keys_prefix_end(&upper, kv_buf_slice(&prefix));
        struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_SUBKEY,
                                                   kv_buf_slice(&prefix), kv_buf_slice(&upper));
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
            struct kv_slice k = storage_iter_key(it), v = storage_iter_value(it);
            out[std::string(k.ptr + prefix.len, k.len - prefix.len)] = std::string(v.ptr, v.len);
        }
        EXPECT_EQ(storage_iter_status(it, nullptr), KV_OK);
        storage_iter_free(it);
        kv_buf_deinit(&prefix);
        kv_buf_deinit(&upper);
        return out;
    }

    // The metadata of a live key; KV_NOTFOUND etc. reported through rc.
    enum kv_code
    Meta(const std::string &key, struct meta *m, std::string *payload = nullptr,
         enum meta_type want = META_NONE)
    {
        struct kv_buf raw = KV_BUF_INIT;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = db_get_meta(&db_, S(key), want, m, &raw, &err);
        if (rc == KV_OK && payload != nullptr)
            payload->assign(m->payload.ptr, m->payload.len);
        m->payload = kv_slice_make(nullptr, 0); // raw is freed below
        kv_buf_deinit(&raw);
        return rc;
    }

    std::string
    Get(const std::string &key)
    {
        struct meta m;
        std::string v;
        enum kv_code rc = Meta(key, &m, &v, META_STRING);
        return rc == KV_OK ? v : std::string("<") + kv_code_name(rc) + ">";
    }

    int64_t
    Exists(const std::vector<std::string> &keys)
    {
        std::vector<struct kv_slice> s;
        for (const auto &k : keys)
            s.push_back(S(k));
        int64_t n = -1;
        struct kv_err err;
        EXPECT_EQ(db_exists(&db_, s.data(), s.size(), &n, &err), KV_OK) << err.msg;
        return n;
    }

    int64_t
    Del(const std::vector<std::string> &keys)
    {
        std::vector<struct kv_slice> s;
        for (const auto &k : keys)
            s.push_back(S(k));
        int64_t n = -1;
        struct kv_err err;
        EXPECT_EQ(db_delete(&db_, s.data(), s.size(), &n, &err), KV_OK) << err.msg;
        return n;
    }

    int64_t
    ExpireAt(const std::string &key)
    {
        int64_t at = 0;
        struct kv_err err;
        EXPECT_EQ(db_expire_at(&db_, S(key), &at, &err), KV_OK) << err.msg;
        return at;
    }

    // 1/0 as EXPIRE replies.
    int
    Expire(const std::string &key, int64_t at_ms, int flags = 0)
    {
        bool changed = false;
        struct kv_err err;
        EXPECT_EQ(db_expire(&db_, S(key), at_ms, flags, &changed, &err), KV_OK) << err.msg;
        return changed ? 1 : 0;
    }

    std::string
    TypeName(const std::string &key)
    {
        enum meta_type t = META_STRING;
        struct kv_err err;
        EXPECT_EQ(db_type(&db_, S(key), &t, &err), KV_OK) << err.msg;
        return meta_type_name(t);
    }

    std::vector<std::string>
    Keys(const char *pattern)
    {
        std::vector<std::string> out;
        struct kv_buf last = KV_BUF_INIT;
        bool done = false;
        struct kv_err err;
        struct kv_slice p = pattern ? kv_slice_cstr(pattern) : kv_slice_make(nullptr, 0);
        EXPECT_EQ(db_scan(&db_, nullptr, p, META_NONE, 0, CollectKey, &out, &last, &done, &err),
                  KV_OK)
            << err.msg;
        EXPECT_TRUE(done);
        kv_buf_deinit(&last);
        return out;
    }

    // A whole iteration in steps of `limit` records, each step resuming from the last position.
    std::vector<std::string>
    ScanAll(size_t limit, const char *pattern = nullptr, enum meta_type type = META_NONE,
            int *calls = nullptr)
    {
        std::vector<std::string> out;
        struct kv_buf last = KV_BUF_INIT;
        std::string pos;
        bool have_pos = false, done = false;
        int n = 0;
        struct kv_slice p = pattern ? kv_slice_cstr(pattern) : kv_slice_make(nullptr, 0);
        while (!done && n < 100000) {
            struct kv_slice after = S(pos);
            std::vector<std::string> batch;
            struct kv_err err;
            EXPECT_EQ(db_scan(&db_, have_pos ? &after : nullptr, p, type, limit, CollectKey, &batch,
                              &last, &done, &err),
                      KV_OK)
                << err.msg;
            EXPECT_LE(batch.size(), limit);
            out.insert(out.end(), batch.begin(), batch.end());
            pos.assign(last.ptr ? last.ptr : "", last.len);
            have_pos = true;
            n++;
        }
        kv_buf_deinit(&last);
        if (calls)
            *calls = n;
        return out;
    }

    uint64_t
    Size()
    {
        uint64_t n = 0;
        struct kv_err err;
        EXPECT_EQ(db_size(&db_, &n, &err), KV_OK) << err.msg;
        return n;
    }
};

class ClusterDbTest : public DbTest {
  protected:
    bool
    Cluster() const override
    {
        return true;
    }
};

TEST_F(DbTest, ExistsDeleteType)
{
    PutString("a", "1");
    PutString("b", "2");
    EXPECT_EQ(Exists({"a", "b", "nokey"}), 2);
    EXPECT_EQ(Exists({"a", "a", "a"}), 3);
    EXPECT_EQ(Exists({}), 0);
    EXPECT_EQ(TypeName("a"), "string");
    EXPECT_EQ(TypeName("nokey"), "none");
    PutHash("h", {{"f", "v"}});
    EXPECT_EQ(TypeName("h"), "hash");

    // A key listed twice is deleted (and counted) once.
    EXPECT_EQ(Del({"a", "a", "nokey"}), 1);
    EXPECT_EQ(Exists({"a", "b"}), 1);
    EXPECT_EQ(Del({"a"}), 0);
    EXPECT_EQ(Del({"b", "h"}), 2);
    EXPECT_EQ(Exists({"b", "h"}), 0);
    EXPECT_EQ(Size(), 0u);
}

TEST_F(DbTest, DeleteManyKeysInOneCall)
{
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; i++) {
        keys.push_back("k" + std::to_string(i));
        if (i % 2 == 0)
            PutString(keys.back(), "v");
    }
    std::vector<std::string> twice = keys;
    twice.insert(twice.end(), keys.begin(), keys.end());
    EXPECT_EQ(Del(twice), 1500);
    EXPECT_EQ(Size(), 0u);
}

TEST_F(DbTest, WrongTypeAndCorruptMetadata)
{
    PutHash("h", {{"f", "v"}});
    struct meta m;
    EXPECT_EQ(Meta("h", &m, nullptr, META_STRING), KV_ERR_WRONGTYPE);
    EXPECT_EQ(Meta("h", &m, nullptr, META_HASH), KV_OK);
    EXPECT_EQ(Meta("nokey", &m, nullptr, META_HASH), KV_NOTFOUND);

    // A record with an unknown type byte is reported, not taken as absent.
    struct kv_buf k = KV_BUF_INIT;
    db_meta_key(&db_, S("bad"), &k);
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&k), S(std::string("\x8f", 1)));
    struct kv_err err;
    ASSERT_EQ(storage_write(st_, b, &err), KV_OK);
    storage_batch_free(b);
    kv_buf_deinit(&k);
    EXPECT_EQ(Meta("bad", &m), KV_ERR_CORRUPT);
    // Scans skip it rather than failing the whole iteration.
    EXPECT_EQ(Keys(nullptr), (std::vector<std::string>{"h"}));
}

TEST_F(DbTest, ExpiredAndEmptyRecordsReadAsAbsent)
{
    int64_t now = clock_now_ms();
    PutString("old", "v", (uint64_t)(now - 1));
    PutString("live", "v", (uint64_t)(now + 100000));
    struct meta m;
    meta_init(&m, META_HASH); // size 0: an empty hash does not exist
    PutMeta("empty", m);
    EXPECT_EQ(Exists({"old", "empty", "live"}), 1);
    EXPECT_EQ(TypeName("old"), "none");
    EXPECT_EQ(ExpireAt("old"), -2);
    EXPECT_EQ(Get("old"), "<notfound>");
    EXPECT_EQ(Keys(nullptr), (std::vector<std::string>{"live"}));
    EXPECT_EQ(Size(), 1u);
    EXPECT_EQ(Del({"old", "empty"}), 0);
    // EXPIRE, PERSIST and RENAME do not resurrect an expired key.
    EXPECT_EQ(Expire("old", now + 100000), 0);
    bool changed = true;
    struct kv_err err;
    EXPECT_EQ(db_persist(&db_, S("old"), &changed, &err), KV_OK);
    EXPECT_FALSE(changed);
    bool done = true;
    EXPECT_EQ(db_rename(&db_, S("old"), S("x"), false, &done, &err), KV_NOTFOUND);
    EXPECT_FALSE(done);
    EXPECT_EQ(Exists({"old", "x"}), 0);
}

TEST_F(DbTest, ExpireSetsPersistAndTtl)
{
    PutString("k", "v");
    EXPECT_EQ(ExpireAt("k"), -1);
    EXPECT_EQ(ExpireAt("nokey"), -2);
    int64_t at = clock_now_ms() + 60000;
    EXPECT_EQ(Expire("k", at), 1);
    EXPECT_EQ(ExpireAt("k"), at);
    EXPECT_EQ(Get("k"), "v"); // the value survives the metadata rewrite
    EXPECT_EQ(Expire("nokey", at), 0);

    bool changed = false;
    struct kv_err err;
    ASSERT_EQ(db_persist(&db_, S("k"), &changed, &err), KV_OK);
    EXPECT_TRUE(changed);
    EXPECT_EQ(ExpireAt("k"), -1);
    ASSERT_EQ(db_persist(&db_, S("k"), &changed, &err), KV_OK);
    EXPECT_FALSE(changed);
    ASSERT_EQ(db_persist(&db_, S("nokey"), &changed, &err), KV_OK);
    EXPECT_FALSE(changed);

    // A complex key keeps its version and size through an expiry change.
    uint64_t version = PutHash("h", {{"a", "1"}, {"b", "2"}});
    EXPECT_EQ(Expire("h", at), 1);
    struct meta m;
    ASSERT_EQ(Meta("h", &m), KV_OK);
    EXPECT_EQ(m.version, version);
    EXPECT_EQ(m.size, 2u);
    EXPECT_EQ(m.expire_ms, (uint64_t)at);
}

TEST_F(DbTest, ExpireInThePastDeletes)
{
    PutString("k", "v");
    EXPECT_EQ(Expire("k", clock_now_ms() - 1000), 1);
    EXPECT_EQ(Exists({"k"}), 0);
    PutString("k", "v");
    EXPECT_EQ(Expire("k", -5), 1);
    EXPECT_EQ(Exists({"k"}), 0);
    PutString("k", "v");
    EXPECT_EQ(Expire("k", INT64_MIN), 1);
    EXPECT_EQ(Exists({"k"}), 0);
}

TEST_F(DbTest, ExpireConditions)
{
    int64_t now = clock_now_ms();
    int64_t t1 = now + 100000, t2 = now + 200000;

    // NX: only without an expiry.
    PutString("k", "v");
    EXPECT_EQ(Expire("k", t1, DB_EXPIRE_NX), 1);
    EXPECT_EQ(Expire("k", t2, DB_EXPIRE_NX), 0);
    EXPECT_EQ(ExpireAt("k"), t1);

    // XX: only with an expiry.
    PutString("p", "v");
    EXPECT_EQ(Expire("p", t1, DB_EXPIRE_XX), 0);
    EXPECT_EQ(ExpireAt("p"), -1);
    EXPECT_EQ(Expire("k", t2, DB_EXPIRE_XX), 1);
    EXPECT_EQ(ExpireAt("k"), t2);

    // GT: no expiry counts as infinite, so GT never applies to a persistent key.
    EXPECT_EQ(Expire("p", t1, DB_EXPIRE_GT), 0);
    EXPECT_EQ(ExpireAt("p"), -1);
    EXPECT_EQ(Expire("k", t1, DB_EXPIRE_GT), 0);
    EXPECT_EQ(Expire("k", t2, DB_EXPIRE_GT), 0); // equal is not greater
    EXPECT_EQ(Expire("k", t2 + 1, DB_EXPIRE_GT), 1);
    EXPECT_EQ(ExpireAt("k"), t2 + 1);

    // LT: always applies to a persistent key.
    EXPECT_EQ(Expire("k", t2 + 1, DB_EXPIRE_LT), 0); // equal is not less
    EXPECT_EQ(Expire("k", t1, DB_EXPIRE_LT), 1);
    EXPECT_EQ(ExpireAt("k"), t1);
    EXPECT_EQ(Expire("p", t2, DB_EXPIRE_LT), 1);
    EXPECT_EQ(ExpireAt("p"), t2);

    // XX|GT and XX|LT combine.
    PutString("q", "v");
    EXPECT_EQ(Expire("q", t2, DB_EXPIRE_XX | DB_EXPIRE_LT), 0);
    EXPECT_EQ(ExpireAt("q"), -1);
    EXPECT_EQ(Expire("k", t2, DB_EXPIRE_XX | DB_EXPIRE_GT), 1);
    EXPECT_EQ(ExpireAt("k"), t2);

    // A condition that fails keeps the key even when the time is in the past.
    EXPECT_EQ(Expire("k", now - 1, DB_EXPIRE_GT), 0);
    EXPECT_EQ(Exists({"k"}), 1);
    EXPECT_EQ(Expire("k", now - 1, DB_EXPIRE_LT), 1);
    EXPECT_EQ(Exists({"k"}), 0);
}

TEST_F(DbTest, ScanOrderLimitAndResume)
{
    std::set<std::string> all;
    for (int i = 0; i < 250; i++) {
        std::string k = "key:" + std::to_string(i);
        PutString(k, "v");
        all.insert(k);
    }
    for (int i = 0; i < 20; i++) {
        std::string k = "other:" + std::to_string(i);
        PutString(k, "v");
        all.insert(k);
    }
    std::vector<std::string> sorted(all.begin(), all.end());
    EXPECT_EQ(Keys(nullptr), sorted);
    EXPECT_EQ(Keys("*"), sorted);

    for (size_t limit : {1u, 7u, 100u, 1000u}) {
        int calls = 0;
        EXPECT_EQ(ScanAll(limit, nullptr, META_NONE, &calls), sorted) << "limit " << limit;
        EXPECT_GE(calls, (int)((all.size() + limit - 1) / limit));
    }

    // Exactly `limit` records left: the call that examines them may or may not report the end,
    // but the next one does, and nothing is returned twice.
    int calls = 0;
    EXPECT_EQ(ScanAll(all.size(), nullptr, META_NONE, &calls), sorted);
    EXPECT_LE(calls, 2);

    // A pattern narrows the result but the limit still bounds the work of each call.
    std::vector<std::string> expect;
    for (const auto &k : sorted) {
        if (k.rfind("key:1", 0) == 0)
            expect.push_back(k);
    }
    EXPECT_EQ(Keys("key:1*"), expect);
    EXPECT_EQ(ScanAll(3, "key:1*"), expect);
    expect.clear();
    for (const auto &k : sorted) {
        if (k.size() == 6 && k.rfind("key:", 0) == 0 && k[5] == '7')
            expect.push_back(k);
    }
    EXPECT_EQ(Keys("key:?7"), expect);
    EXPECT_EQ(ScanAll(5, "key:?7"), expect);
    EXPECT_EQ(Keys("key:42"), (std::vector<std::string>{"key:42"}));
    EXPECT_EQ(Keys("key:4\\2"), (std::vector<std::string>{"key:42"}));
    EXPECT_EQ(Keys("[o]ther:1[0-1]"), (std::vector<std::string>{"other:10", "other:11"}));
    EXPECT_EQ(Keys("*:19*"),
              (std::vector<std::string>{"key:19", "key:190", "key:191", "key:192", "key:193",
                                        "key:194", "key:195", "key:196", "key:197", "key:198",
                                        "key:199", "other:19"}));
    EXPECT_TRUE(Keys("nomatch*").empty());
    EXPECT_TRUE(Keys("").empty());

    // Resuming after a position that no longer exists continues after where it would sort.
    std::vector<std::string> got;
    struct kv_buf last = KV_BUF_INIT;
    bool done = false;
    struct kv_err err;
    std::string key5 = "key:5";
    struct kv_slice after = S(key5);
    ASSERT_EQ(db_scan(&db_, &after, kv_slice_make(nullptr, 0), META_NONE, 3, CollectKey, &got,
                      &last, &done, &err),
              KV_OK);
    EXPECT_EQ(got, (std::vector<std::string>{"key:50", "key:51", "key:52"}));
    EXPECT_FALSE(done);
    EXPECT_EQ(std::string(last.ptr, last.len), "key:52");
    kv_buf_deinit(&last);
}

TEST_F(DbTest, ScanSkipsExpiredAndFiltersType)
{
    int64_t now = clock_now_ms();
    for (int i = 0; i < 30; i++)
        PutString("s" + std::to_string(i), "v", i % 3 == 0 ? (uint64_t)(now - 10) : 0);
    PutHash("h1", {{"f", "v"}});
    PutHash("h2", {{"f", "v"}}, (uint64_t)(now - 10));
    std::vector<std::string> strings = ScanAll(4, nullptr, META_STRING);
    EXPECT_EQ(strings.size(), 20u);
    for (const auto &k : strings)
        EXPECT_NE(std::stoi(k.substr(1)) % 3, 0) << k;
    EXPECT_EQ(ScanAll(4, nullptr, META_HASH), (std::vector<std::string>{"h1"}));
    EXPECT_TRUE(ScanAll(4, nullptr, META_ZSET).empty());
    EXPECT_EQ(Size(), 21u);
}

TEST_F(DbTest, ScanFnCanStopEarly)
{
    for (char c = 'a'; c <= 'e'; c++)
        PutString(std::string(1, c), "v");
    struct kv_buf last = KV_BUF_INIT;
    bool done = true;
    struct kv_err err;
    std::string first;
    auto take_one = [](void *arg, struct kv_slice key, const struct meta *m) -> bool {
        static_cast<std::string *>(arg)->assign(key.ptr, key.len);
        return false;
    };
    ASSERT_EQ(db_scan(&db_, nullptr, kv_slice_make(nullptr, 0), META_NONE, 0, take_one, &first,
                      &last, &done, &err),
              KV_OK);
    EXPECT_EQ(first, "a");
    EXPECT_FALSE(done);
    EXPECT_EQ(std::string(last.ptr, last.len), "a");
    // Stopping at the very last key reports the end.
    std::string d = "d";
    struct kv_slice after = S(d);
    ASSERT_EQ(db_scan(&db_, &after, kv_slice_make(nullptr, 0), META_NONE, 0, take_one, &first,
                      &last, &done, &err),
              KV_OK);
    EXPECT_EQ(first, "e");
    EXPECT_TRUE(done);
    kv_buf_deinit(&last);
}

TEST_F(DbTest, ScanResumesAfterTheEmptyKey)
{
    PutString("", "empty");
    PutString("a", "v");
    PutString("b", "v");
    EXPECT_EQ(Keys(nullptr), (std::vector<std::string>{"", "a", "b"}));
    EXPECT_EQ(Keys("*"), (std::vector<std::string>{"", "a", "b"}));
    EXPECT_EQ(Keys(""), (std::vector<std::string>{""}));
    EXPECT_EQ(Keys("**"), (std::vector<std::string>{"a", "b"})); // Redis: only "*" is "all"
    EXPECT_EQ(ScanAll(1), (std::vector<std::string>{"", "a", "b"}));
}

TEST_F(DbTest, SizeAndFlush)
{
    EXPECT_EQ(Size(), 0u);
    for (int i = 0; i < 100; i++)
        PutString("k" + std::to_string(i), "v");
    PutHash("h", {{"f", "v"}});
    EXPECT_EQ(Size(), 101u);

    // Another namespace is not counted and not flushed.
    struct db other = db_;
    other.ns = kv_slice_cstr("ns2");
    struct db saved = db_;
    db_ = other;
    PutString("x", "y");
    EXPECT_EQ(Size(), 1u);
    db_ = saved;
    EXPECT_EQ(Size(), 101u);

    struct kv_err err;
    ASSERT_EQ(db_flush(&db_, &err), KV_OK) << err.msg;
    EXPECT_EQ(Size(), 0u);
    EXPECT_EQ(Exists({"k1", "h"}), 0);
    db_ = other;
    EXPECT_EQ(Size(), 1u);
    EXPECT_EQ(Get("x"), "y");
    db_ = saved;

    ASSERT_EQ(db_flush_all(st_, &err), KV_OK) << err.msg;
    db_ = other;
    EXPECT_EQ(Size(), 0u);
    db_ = saved;
}

TEST_F(DbTest, RenameString)
{
    int64_t at = clock_now_ms() + 100000;
    PutString("src", "value", (uint64_t)at);
    PutString("dst", "old");
    struct kv_err err;
    bool done = false;
    ASSERT_EQ(db_rename(&db_, S("src"), S("dst"), false, &done, &err), KV_OK) << err.msg;
    EXPECT_TRUE(done);
    EXPECT_EQ(Get("dst"), "value");
    EXPECT_EQ(ExpireAt("dst"), at); // the expiry moves with the value
    EXPECT_EQ(Exists({"src"}), 0);

    // Missing source.
    EXPECT_EQ(db_rename(&db_, S("src"), S("x"), false, &done, &err), KV_NOTFOUND);
    EXPECT_EQ(db_rename(&db_, S("src"), S("src"), false, &done, &err), KV_NOTFOUND);

    // To itself: success without change; NX reports "not done".
    ASSERT_EQ(db_rename(&db_, S("dst"), S("dst"), false, &done, &err), KV_OK);
    EXPECT_TRUE(done);
    ASSERT_EQ(db_rename(&db_, S("dst"), S("dst"), true, &done, &err), KV_OK);
    EXPECT_FALSE(done);
    EXPECT_EQ(Get("dst"), "value");

    // NX with an existing destination changes nothing.
    PutString("other", "o");
    ASSERT_EQ(db_rename(&db_, S("dst"), S("other"), true, &done, &err), KV_OK);
    EXPECT_FALSE(done);
    EXPECT_EQ(Get("dst"), "value");
    EXPECT_EQ(Get("other"), "o");
    ASSERT_EQ(db_rename(&db_, S("dst"), S("fresh"), true, &done, &err), KV_OK);
    EXPECT_TRUE(done);
    EXPECT_EQ(Get("fresh"), "value");
    EXPECT_EQ(Exists({"dst"}), 0);

    // NX over an expired destination counts it as absent.
    PutString("gone", "g", (uint64_t)(clock_now_ms() - 1));
    ASSERT_EQ(db_rename(&db_, S("fresh"), S("gone"), true, &done, &err), KV_OK);
    EXPECT_TRUE(done);
    EXPECT_EQ(Get("gone"), "value");
    EXPECT_EQ(ExpireAt("gone"), at);
}

TEST_F(DbTest, RenameHashMovesSubKeysToANewVersion)
{
    std::map<std::string, std::string> fields = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
    uint64_t v1 = PutHash("h", fields);
    // A destination hash whose sub-keys must not leak into the result.
    uint64_t vd = PutHash("d", {{"zzz", "old"}});
    struct kv_err err;
    bool done = false;
    ASSERT_EQ(db_rename(&db_, S("h"), S("d"), false, &done, &err), KV_OK) << err.msg;
    EXPECT_TRUE(done);

    struct meta m;
    ASSERT_EQ(Meta("d", &m), KV_OK);
    EXPECT_EQ(m.type, META_HASH);
    EXPECT_EQ(m.size, 3u);
    EXPECT_NE(m.version, v1);
    EXPECT_NE(m.version, vd);
    EXPECT_EQ(SubKeys("d", m.version), fields);
    EXPECT_EQ(Meta("h", &m), KV_NOTFOUND);
    // The old sub-keys are still on disk (compaction drops them) but nothing points at them: the
    // source has no metadata, and the destination's version is a new one.
    EXPECT_EQ(SubKeys("h", v1), fields);
    EXPECT_EQ(SubKeys("d", vd).count("zzz"), 1u);

    // Re-creating the source name does not bring the old fields back.
    uint64_t v2 = PutHash("h", {{"new", "x"}});
    EXPECT_NE(v2, v1);
    EXPECT_EQ(SubKeys("h", v2), (std::map<std::string, std::string>{{"new", "x"}}));

    // Renaming a hash over a string changes the type.
    PutString("s", "str");
    ASSERT_EQ(db_rename(&db_, S("d"), S("s"), false, &done, &err), KV_OK);
    EXPECT_EQ(TypeName("s"), "hash");
    ASSERT_EQ(Meta("s", &m), KV_OK);
    EXPECT_EQ(SubKeys("s", m.version), fields);
}

TEST_F(DbTest, CopyStringAndHash)
{
    int64_t at = clock_now_ms() + 100000;
    PutString("s", "v", (uint64_t)at);
    struct kv_err err;
    bool done = false;
    ASSERT_EQ(db_copy(&db_, S("s"), S("c"), false, &done, &err), KV_OK) << err.msg;
    EXPECT_TRUE(done);
    EXPECT_EQ(Get("c"), "v");
    EXPECT_EQ(Get("s"), "v");
    EXPECT_EQ(ExpireAt("c"), at);

    // Existing destination: refused without replace, overwritten with it.
    PutString("s", "w");
    ASSERT_EQ(db_copy(&db_, S("s"), S("c"), false, &done, &err), KV_OK);
    EXPECT_FALSE(done);
    EXPECT_EQ(Get("c"), "v");
    ASSERT_EQ(db_copy(&db_, S("s"), S("c"), true, &done, &err), KV_OK);
    EXPECT_TRUE(done);
    EXPECT_EQ(Get("c"), "w");
    EXPECT_EQ(ExpireAt("c"), -1);

    // Missing source.
    ASSERT_EQ(db_copy(&db_, S("nokey"), S("c"), true, &done, &err), KV_OK);
    EXPECT_FALSE(done);
    EXPECT_EQ(Get("c"), "w");

    // A hash: both copies are independent (distinct versions, same fields).
    std::map<std::string, std::string> fields = {{"f1", "a"}, {"f2", "b"}};
    uint64_t v = PutHash("h", fields);
    ASSERT_EQ(db_copy(&db_, S("h"), S("h2"), false, &done, &err), KV_OK);
    EXPECT_TRUE(done);
    struct meta m;
    ASSERT_EQ(Meta("h2", &m), KV_OK);
    EXPECT_NE(m.version, v);
    EXPECT_EQ(m.size, 2u);
    EXPECT_EQ(SubKeys("h2", m.version), fields);
    ASSERT_EQ(Meta("h", &m), KV_OK);
    EXPECT_EQ(m.version, v);
    EXPECT_EQ(SubKeys("h", v), fields);

    // Replace a hash with a string: the type changes.
    ASSERT_EQ(db_copy(&db_, S("s"), S("h2"), true, &done, &err), KV_OK);
    EXPECT_EQ(TypeName("h2"), "string");
}

TEST_F(DbTest, RandomKey)
{
    struct kv_buf out = KV_BUF_INIT;
    struct kv_err err;
    EXPECT_EQ(db_random_key(&db_, &out, &err), KV_NOTFOUND);

    PutString("only", "v");
    ASSERT_EQ(db_random_key(&db_, &out, &err), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), "only");

    // Only expired keys: none.
    Del({"only"});
    PutString("x", "v", (uint64_t)(clock_now_ms() - 1));
    EXPECT_EQ(db_random_key(&db_, &out, &err), KV_NOTFOUND);

    // The empty key is a valid answer, also with a reused buffer.
    PutString("", "e");
    ASSERT_EQ(db_random_key(&db_, &out, &err), KV_OK);
    EXPECT_EQ(out.len, 0u);

    // With many keys, several different ones come up and all are live.
    Del({""});
    std::set<std::string> live;
    for (int i = 0; i < 200; i++) {
        std::string k = "key:" + std::to_string(i);
        PutString(k, "v");
        live.insert(k);
    }
    std::set<std::string> seen;
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ(db_random_key(&db_, &out, &err), KV_OK);
        std::string k(out.ptr, out.len);
        EXPECT_EQ(live.count(k), 1u) << k;
        seen.insert(k);
    }
    EXPECT_GE(seen.size(), 10u);
    kv_buf_deinit(&out);
}

TEST_F(DbTest, HooksReportTouchedKeys)
{
    Touched t;
    struct db_hooks hooks = {Touched::Fn, &t};
    db_.hooks = &hooks;
    PutString("a", "1");
    PutString("b", "2");
    EXPECT_EQ(Del({"a", "nokey", "a"}), 1);
    EXPECT_EQ(t.keys, (std::vector<std::string>{"a"}));
    t.keys.clear();
    EXPECT_EQ(Del({"nokey"}), 0);
    EXPECT_TRUE(t.keys.empty());

    struct kv_err err;
    bool done = false;
    ASSERT_EQ(db_rename(&db_, S("b"), S("c"), false, &done, &err), KV_OK);
    std::sort(t.keys.begin(), t.keys.end());
    EXPECT_EQ(t.keys, (std::vector<std::string>{"b", "c"}));
    t.keys.clear();
    EXPECT_EQ(Expire("c", clock_now_ms() + 10000), 1);
    EXPECT_EQ(t.keys, (std::vector<std::string>{"c"}));
    t.keys.clear();
    EXPECT_EQ(Expire("c", clock_now_ms() + 10000, DB_EXPIRE_NX), 0);
    EXPECT_TRUE(t.keys.empty());
    db_.hooks = nullptr;
}

TEST_F(DbTest, SurvivesReopen)
{
    int64_t at = clock_now_ms() + 100000;
    PutString("k", "v");
    EXPECT_EQ(Expire("k", at), 1);
    Reopen();
    EXPECT_EQ(Get("k"), "v");
    EXPECT_EQ(ExpireAt("k"), at);
}

TEST_F(ClusterDbTest, ScanRenameAndCopyWithSlots)
{
    std::set<std::string> all;
    for (int i = 0; i < 60; i++) {
        std::string k = "key:" + std::to_string(i);
        PutString(k, std::to_string(i));
        all.insert(k);
    }
    // Records are ordered by slot first, so compare as sets; each key exactly once.
    std::vector<std::string> got = ScanAll(7);
    EXPECT_EQ(got.size(), all.size());
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), all);
    got = ScanAll(5, "key:1*");
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
              (std::set<std::string>{"key:1", "key:10", "key:11", "key:12", "key:13", "key:14",
                                     "key:15", "key:16", "key:17", "key:18", "key:19"}));
    EXPECT_EQ(Size(), 60u);

    struct kv_err err;
    bool done = false;
    ASSERT_EQ(db_rename(&db_, S("{t}a"), S("{t}b"), false, &done, &err), KV_NOTFOUND);
    PutHash("{t}a", {{"f", "v"}});
    ASSERT_EQ(db_rename(&db_, S("{t}a"), S("{t}b"), false, &done, &err), KV_OK);
    struct meta m;
    ASSERT_EQ(Meta("{t}b", &m), KV_OK);
    EXPECT_EQ(SubKeys("{t}b", m.version), (std::map<std::string, std::string>{{"f", "v"}}));
    ASSERT_EQ(db_copy(&db_, S("key:1"), S("key:1copy"), false, &done, &err), KV_OK);
    EXPECT_TRUE(done);
    EXPECT_EQ(Get("key:1copy"), "1");

    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(db_random_key(&db_, &out, &err), KV_OK);
    EXPECT_GT(out.len, 0u);
    kv_buf_deinit(&out);
}

} // namespace
