// SPDX-License-Identifier: Apache-2.0
//
// Unit tests of types/sort.c on a real RocksDB: the pattern lookup of SORT's BY and GET ("#",
// the first '*' substituted, "->field" on hashes, strings and bitmaps, every kind of "no value")
// and the STORE writer (a fresh list replacing any type and its expiry, empty = delete, the list
// readable through types/list.h afterwards, the destination reported to the write hooks).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "fixture.h"
#include "types/bitmap.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/sort.h"
#include "types/str.h"

namespace {

struct Touched {
    std::vector<std::string> keys;
    static void
    Fn(void *arg, struct kv_slice ns, struct kv_slice key)
    {
        static_cast<Touched *>(arg)->keys.emplace_back(key.ptr, key.len);
    }
};

class SortTest : public StorageTest {
  protected:
    void
    Set(const std::string &k, const std::string &v)
    {
        struct str_set_opts o {};
        bool written = false;
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(str_set(&db_, S(k), S(v), &o, kBitmapStringMax, &written, nullptr, nullptr, &err),
                  KV_OK)
            << err.msg;
    }

    void
    HSet(const std::string &k, const std::string &f, const std::string &v)
    {
        struct kv_slice fv[2] = {S(f), S(v)};
        uint64_t added = 0;
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(hash_set(&db_, S(k), fv, 1, false, &added, &err), KV_OK) << err.msg;
    }

    // The lookup result: "<nil>" when there is no value.
    std::string
    Lookup(const std::string &pattern, const std::string &elem)
    {
        struct kv_buf out = KV_BUF_INIT;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = sort_lookup(&db_, S(pattern), S(elem), kBitmapStringMax, &out, &err);
        std::string r = rc == KV_OK         ? std::string(out.ptr ? out.ptr : "", out.len)
                        : rc == KV_NOTFOUND ? "<nil>"
                                            : "<error " + std::to_string(rc) + ">";
        kv_buf_deinit(&out);
        return r;
    }

    std::vector<std::string>
    Range(const std::string &k)
    {
        struct list_values v = LIST_VALUES_INIT;
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(list_range(&db_, S(k), 0, -1, &v, &err), KV_OK) << err.msg;
        std::vector<std::string> r;
        for (size_t i = 0; i < v.n; i++) {
            struct kv_slice s = list_values_at(&v, i);
            r.emplace_back(s.ptr, s.len);
        }
        list_values_deinit(&v);
        return r;
    }

    enum kv_code
    Store(const std::string &dst, const std::vector<std::string> &elems)
    {
        std::vector<struct kv_slice> s;
        for (const std::string &e : elems)
            s.push_back(S(e));
        struct kv_err err;
        kv_err_clear(&err);
        return sort_store_list(&db_, S(dst), s.data(), s.size(), &err);
    }
};

TEST_F(SortTest, LookupSubstitutesTheFirstStar)
{
    Set("w_a", "1");
    Set("w_a*", "2");
    Set("pre_b_post", "3");
    EXPECT_EQ(Lookup("w_*", "a"), "1");
    EXPECT_EQ(Lookup("w_**", "a"), "2");
    EXPECT_EQ(Lookup("pre_*_post", "b"), "3");
    EXPECT_EQ(Lookup("*", "w_a"), "1");
    EXPECT_EQ(Lookup("w_*", "zzz"), "<nil>");
    // "#" is the element itself; a pattern without '*' names nothing.
    EXPECT_EQ(Lookup("#", "any thing"), "any thing");
    EXPECT_EQ(Lookup("w_a", "x"), "<nil>");
    EXPECT_EQ(Lookup("##", "x"), "<nil>");
    // Binary-safe elements.
    Set(std::string("k\0x", 3), "nul");
    EXPECT_EQ(Lookup("k*", std::string("\0x", 2)), "nul");
}

TEST_F(SortTest, LookupHashFields)
{
    HSet("h_a", "rank", "7");
    HSet("h_a", "x->y", "arrow");
    EXPECT_EQ(Lookup("h_*->rank", "a"), "7");
    EXPECT_EQ(Lookup("h_*->missing", "a"), "<nil>");
    EXPECT_EQ(Lookup("h_*->rank", "b"), "<nil>");
    // Only the first "->" after the '*' splits; the field may contain "->".
    EXPECT_EQ(Lookup("h_*->x->y", "a"), "arrow");
    // "->" with nothing after it is part of the key name.
    Set("s_a->", "plain");
    EXPECT_EQ(Lookup("s_*->", "a"), "plain");
    // A "->" before the '*' is part of the key name too.
    Set("p->q_a", "before");
    EXPECT_EQ(Lookup("p->q_*", "a"), "before");
}

TEST_F(SortTest, LookupOtherTypesAreNoValue)
{
    HSet("h_a", "f", "v");
    Set("s_a", "str");
    std::string member = "m";
    struct kv_slice m = S(member);
    uint64_t added = 0;
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(set_add(&db_, S("set_a"), &m, 1, &added, &err), KV_OK);
    EXPECT_EQ(Lookup("h_*", "a"), "<nil>");    // a hash read as a string
    EXPECT_EQ(Lookup("s_*->f", "a"), "<nil>"); // a string read as a hash
    EXPECT_EQ(Lookup("set_*", "a"), "<nil>");  // a set
    EXPECT_EQ(Lookup("set_*->m", "a"), "<nil>");
    // A bitmap reads as its string form, as GET does.
    int old = 0;
    ASSERT_EQ(bitmap_setbit(&db_, S("bm_a"), 1, 1, &old, &err), KV_OK) << err.msg;
    EXPECT_EQ(Lookup("bm_*", "a"), std::string(1, '\x40'));
}

TEST_F(SortTest, StoreWritesAFreshListAndReportsTheKey)
{
    Touched t;
    struct db_hooks hooks = {Touched::Fn, &t};
    db_.hooks = &hooks;
    ASSERT_EQ(Store("dst", {"c", "a", "", "b"}), KV_OK);
    EXPECT_EQ(Range("dst"), (std::vector<std::string>{"c", "a", "", "b"}));
    EXPECT_EQ(t.keys, (std::vector<std::string>{"dst"}));
    uint64_t len = 0;
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(list_len(&db_, S("dst"), &len, &err), KV_OK);
    EXPECT_EQ(len, 4u);
    // Replacing a list: nothing of the old one remains, pushes go on from the new ends.
    ASSERT_EQ(Store("dst", {"x"}), KV_OK);
    EXPECT_EQ(Range("dst"), (std::vector<std::string>{"x"}));
    std::string y = "y";
    struct kv_slice e = S(y);
    uint64_t nl = 0;
    ASSERT_EQ(list_push(&db_, S("dst"), &e, 1, true, false, &nl, &err), KV_OK);
    EXPECT_EQ(Range("dst"), (std::vector<std::string>{"y", "x"}));
    // An empty result deletes, and deleting an absent key writes (and reports) nothing.
    t.keys.clear();
    ASSERT_EQ(Store("dst", {}), KV_OK);
    enum meta_type type = META_NONE;
    ASSERT_EQ(db_type(&db_, S("dst"), &type, &err), KV_OK);
    EXPECT_EQ(type, META_NONE);
    EXPECT_EQ(t.keys, (std::vector<std::string>{"dst"}));
    t.keys.clear();
    ASSERT_EQ(Store("dst", {}), KV_OK);
    EXPECT_TRUE(t.keys.empty());
    db_.hooks = nullptr;
}

TEST_F(SortTest, StoreReplacesAnyTypeAndItsExpiry)
{
    HSet("dst", "f", "v");
    bool changed = false;
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(db_expire(&db_, S("dst"), clock_now_ms() + 100000, 0, &changed, &err), KV_OK);
    ASSERT_TRUE(changed);
    ASSERT_EQ(Store("dst", {"1", "2"}), KV_OK);
    enum meta_type type = META_NONE;
    ASSERT_EQ(db_type(&db_, S("dst"), &type, &err), KV_OK);
    EXPECT_EQ(type, META_LIST);
    int64_t at = 0;
    ASSERT_EQ(db_expire_at(&db_, S("dst"), &at, &err), KV_OK);
    EXPECT_EQ(at, -1);
    EXPECT_EQ(Range("dst"), (std::vector<std::string>{"1", "2"}));
    struct kv_buf v = KV_BUF_INIT;
    EXPECT_EQ(hash_get(&db_, S("dst"), S("f"), &v, &err), KV_ERR_WRONGTYPE);
    kv_buf_deinit(&v);
    // Survives a reopen (it is on disk, in one batch).
    Reopen();
    EXPECT_EQ(Range("dst"), (std::vector<std::string>{"1", "2"}));
}

} // namespace
