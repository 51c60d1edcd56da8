// SPDX-License-Identifier: Apache-2.0
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "common/dict.h"

namespace {

// Counts calls of the free callback: the table must free each owned value exactly once.
int g_freed = 0;

void
FreeCounter(void *v)
{
    g_freed++;
    delete static_cast<std::string *>(v);
}

bool
Add(struct dict *d, const std::string &k, void *v)
{
    return dict_add(d, k.data(), k.size(), v) == KV_OK;
}

void *
Get(struct dict *d, const std::string &k)
{
    return dict_get(d, k.data(), k.size());
}

std::map<std::string, void *>
Collect(struct dict *d)
{
    std::map<std::string, void *> out;
    struct dict_iter it;
    dict_iter_init(&it, d);
    const void *k;
    size_t len;
    void *v;
    while (dict_iter_next(&it, &k, &len, &v)) {
        EXPECT_EQ(static_cast<const char *>(k)[len], '\0');
        EXPECT_TRUE(out.emplace(std::string(static_cast<const char *>(k), len), v).second)
            << "key returned twice";
    }
    return out;
}

} // namespace

TEST(Dict, AddGetReplaceDelete)
{
    g_freed = 0;
    struct dict *d = dict_new(FreeCounter, false);
    EXPECT_EQ(dict_size(d), 0u);
    EXPECT_EQ(Get(d, "a"), nullptr);
    EXPECT_FALSE(dict_contains(d, "a", 1));

    auto *v1 = new std::string("one");
    ASSERT_TRUE(Add(d, "a", v1));
    EXPECT_EQ(Get(d, "a"), v1);
    auto *dup = new std::string("dup");
    EXPECT_EQ(dict_add(d, "a", 1, dup), KV_ERR_EXISTS);
    EXPECT_EQ(g_freed, 0) << "a refused add must not free anything";
    delete dup;

    auto *v2 = new std::string("two");
    dict_set(d, "a", 1, v2);
    EXPECT_EQ(g_freed, 1) << "replace frees the old value";
    EXPECT_EQ(Get(d, "a"), v2);
    EXPECT_EQ(dict_size(d), 1u);

    // Binary keys, the empty key, and a stored NULL.
    ASSERT_TRUE(Add(d, std::string("x\0y", 3), new std::string("bin")));
    EXPECT_EQ(Get(d, "x"), nullptr);
    EXPECT_EQ(*static_cast<std::string *>(Get(d, std::string("x\0y", 3))), "bin");
    ASSERT_TRUE(Add(d, "", new std::string("empty")));
    EXPECT_EQ(*static_cast<std::string *>(Get(d, "")), "empty");
    ASSERT_TRUE(Add(d, "null", nullptr));
    EXPECT_TRUE(dict_contains(d, "null", 4));
    EXPECT_EQ(Get(d, "null"), nullptr);
    EXPECT_EQ(dict_size(d), 4u);

    EXPECT_EQ(dict_delete(d, "a", 1), KV_OK);
    EXPECT_EQ(g_freed, 2);
    EXPECT_EQ(dict_delete(d, "a", 1), KV_NOTFOUND);
    EXPECT_EQ(dict_delete(d, "null", 4), KV_OK);
    EXPECT_EQ(g_freed, 2) << "NULL values are not passed to free_val";

    void *taken = reinterpret_cast<void *>(0x1);
    EXPECT_EQ(dict_take(d, "missing", 7, &taken), KV_NOTFOUND);
    EXPECT_EQ(taken, reinterpret_cast<void *>(0x1));
    ASSERT_EQ(dict_take(d, "", 0, &taken), KV_OK);
    EXPECT_EQ(g_freed, 2) << "take must not free";
    delete static_cast<std::string *>(taken);

    EXPECT_EQ(dict_size(d), 1u);
    dict_free(d);
    EXPECT_EQ(g_freed, 3) << "dict_free frees the remaining value";
    dict_free(nullptr);
}

TEST(Dict, GrowTo100kAndShrink)
{
    struct dict *d = dict_new(nullptr, false);
    const int n = 100000;
    for (intptr_t i = 0; i < n; i++)
        ASSERT_TRUE(Add(d, "key:" + std::to_string(i), reinterpret_cast<void *>(i + 1)));
    EXPECT_EQ(dict_size(d), (size_t)n);
    for (intptr_t i = 0; i < n; i++)
        ASSERT_EQ(Get(d, "key:" + std::to_string(i)), reinterpret_cast<void *>(i + 1)) << i;
    EXPECT_EQ(Get(d, "key:" + std::to_string(n)), nullptr);
    EXPECT_EQ(Collect(d).size(), (size_t)n);

    for (int i = 0; i < n; i += 2) {
        std::string k = "key:" + std::to_string(i);
        ASSERT_EQ(dict_delete(d, k.data(), k.size()), KV_OK);
    }
    // Inserts after mass deletion may shrink the table; everything must stay reachable.
    for (int i = 0; i < n - 10; i++) {
        std::string k = "key:" + std::to_string(i);
        if (i % 2 == 1) {
            ASSERT_EQ(dict_delete(d, k.data(), k.size()), KV_OK);
        }
    }
    EXPECT_EQ(dict_size(d), 5u);
    ASSERT_TRUE(Add(d, "fresh", nullptr));
    for (int i = n - 10; i < n; i++) {
        std::string k = "key:" + std::to_string(i);
        EXPECT_EQ(dict_contains(d, k.data(), k.size()), i % 2 == 1) << k;
    }
    EXPECT_EQ(Collect(d).size(), 6u);
    dict_free(d);
}

TEST(Dict, DeleteDuringIteration)
{
    g_freed = 0;
    struct dict *d = dict_new(FreeCounter, false);
    for (int i = 0; i < 5000; i++)
        ASSERT_TRUE(Add(d, "k" + std::to_string(i), new std::string(std::to_string(i))));

    std::set<std::string> seen;
    struct dict_iter it;
    dict_iter_init(&it, d);
    const void *k;
    size_t len;
    void *v;
    int deleted = 0;
    while (dict_iter_next(&it, &k, &len, &v)) {
        std::string key(static_cast<const char *>(k), len);
        ASSERT_TRUE(seen.insert(key).second) << "key returned twice: " << key;
        EXPECT_EQ(*static_cast<std::string *>(v), key.substr(1));
        if (std::stoi(key.substr(1)) % 3 != 0) {
            // Delete the entry just returned (k points into it: copy first).
            ASSERT_EQ(dict_delete(d, key.data(), key.size()), KV_OK);
            deleted++;
        }
    }
    EXPECT_EQ(seen.size(), 5000u) << "deleting must not make iteration skip entries";
    EXPECT_EQ(g_freed, deleted);
    EXPECT_EQ(dict_size(d), 5000u - deleted);
    auto left = Collect(d);
    EXPECT_EQ(left.size(), dict_size(d));
    for (const auto &kv : left)
        EXPECT_EQ(std::stoi(kv.first.substr(1)) % 3, 0);
    dict_free(d);
    EXPECT_EQ(g_freed, 5000);
}

TEST(Dict, EmptyIteration)
{
    struct dict *d = dict_new(nullptr, false);
    EXPECT_TRUE(Collect(d).empty());
    ASSERT_TRUE(Add(d, "a", nullptr));
    ASSERT_EQ(dict_delete(d, "a", 1), KV_OK);
    EXPECT_TRUE(Collect(d).empty());
    dict_free(d);
}

TEST(Dict, Nocase)
{
    struct dict *d = dict_new(nullptr, true);
    int marker = 0;
    ASSERT_TRUE(Add(d, "ZRangeByScore", &marker));
    EXPECT_EQ(Get(d, "zrangebyscore"), &marker);
    EXPECT_EQ(Get(d, "ZRANGEBYSCORE"), &marker);
    EXPECT_EQ(Get(d, "zrangebyscorE"), &marker);
    EXPECT_EQ(Get(d, "zrangebyscor"), nullptr);
    EXPECT_EQ(dict_add(d, "ZRANGEBYSCORE", 13, nullptr), KV_ERR_EXISTS);
    // Non-letters and bytes >= 0x80 do not fold: '@' (0x40) vs '`' (0x60), 0xC9 vs 0xE9.
    ASSERT_TRUE(Add(d, "a@", nullptr));
    EXPECT_FALSE(dict_contains(d, "a`", 2));
    ASSERT_TRUE(Add(d, "\xc9", nullptr));
    EXPECT_FALSE(dict_contains(d, "\xe9", 1));
    // Iteration shows the case of the first insert.
    auto all = Collect(d);
    EXPECT_EQ(all.count("ZRangeByScore"), 1u);
    EXPECT_EQ(dict_delete(d, "zRANGEbySCORE", 13), KV_OK);
    EXPECT_EQ(dict_size(d), 2u);
    dict_free(d);

    struct dict *cs = dict_new(nullptr, false);
    ASSERT_TRUE(Add(cs, "Get", nullptr));
    EXPECT_FALSE(dict_contains(cs, "get", 3));
    ASSERT_TRUE(Add(cs, "get", nullptr));
    EXPECT_EQ(dict_size(cs), 2u);
    dict_free(cs);
}

TEST(Dict, HashIsSeededAndSpreads)
{
    EXPECT_EQ(dict_hash("abc", 3), dict_hash("abc", 3));
    EXPECT_NE(dict_hash("abc", 3), dict_hash("abd", 3));
    EXPECT_NE(dict_hash("", 0), dict_hash(std::string("\0", 1).data(), 1));
    EXPECT_NE(dict_hash("abcdefgh", 8), dict_hash("abcdefgh\0", 9));
    // Low bits select buckets: sequential keys must spread over 1024 buckets.
    std::set<uint64_t> buckets;
    for (int i = 0; i < 4096; i++) {
        std::string k = "key:" + std::to_string(i);
        buckets.insert(dict_hash(k.data(), k.size()) & 1023);
    }
    EXPECT_GT(buckets.size(), 950u);
}
