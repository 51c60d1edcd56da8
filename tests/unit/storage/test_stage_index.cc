// SPDX-License-Identifier: Apache-2.0
//
// stage_index: keys are named by their offset in the caller's buffer, which may move between
// calls; a column family is part of the key; set returns what it replaced; clear forgets all,
// including after the table grew.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "storage/stage_index.h"

namespace {

// Keys appended to a growing buffer (which moves as it grows), with their offsets.
class Keys {
  public:
    size_t
    Add(const std::string &key)
    {
        size_t off = buf_.size();
        buf_ += key;
        return off;
    }
    const char *
    Base() const
    {
        return buf_.data();
    }

  private:
    std::string buf_ = "header"; // offset 0 never names a key here, as in a write batch
};

struct kv_slice
Sl(const std::string &s)
{
    return kv_slice_make(s.data(), s.size());
}

TEST(StageIndex, SetGetReplaceAndColumnFamilies)
{
    struct stage_index ix = STAGE_INDEX_INIT;
    Keys keys;
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 0, Sl("a")), 0u);
    size_t a = keys.Add("a");
    EXPECT_EQ(stage_index_set(&ix, keys.Base(), 0, a, 1, 11), 0u);
    size_t a1 = keys.Add("a");
    EXPECT_EQ(stage_index_set(&ix, keys.Base(), 1, a1, 1, 21), 0u); // another column family
    size_t a2 = keys.Add("a");
    EXPECT_EQ(stage_index_set(&ix, keys.Base(), 0, a2, 1, 12), 11u); // replaces
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 0, Sl("a")), 12u);
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 1, Sl("a")), 21u);
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 2, Sl("a")), 0u);
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 0, Sl("ab")), 0u);
    size_t empty = keys.Add("");
    EXPECT_EQ(stage_index_set(&ix, keys.Base(), 0, empty, 0, 5), 0u); // the empty key is a key
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 0, Sl("")), 5u);
    stage_index_clear(&ix);
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 0, Sl("a")), 0u);
    EXPECT_EQ(stage_index_get(&ix, keys.Base(), 1, Sl("a")), 0u);
    stage_index_deinit(&ix);
}

// Many keys (the table grows several times while the buffer moves), then a clear, then reuse.
TEST(StageIndex, GrowsAndClearsMatchingAModel)
{
    struct stage_index ix = STAGE_INDEX_INIT;
    for (int round = 0; round < 3; round++) {
        Keys keys;
        std::map<std::pair<unsigned, std::string>, uint64_t> model;
        int n = round == 1 ? 20 : 20000;
        for (int i = 0; i < 3 * n; i++) {
            unsigned cf = (unsigned)(i % 3);
            std::string k = "key:" + std::to_string((i * 7919) % n);
            size_t off = keys.Add(k);
            uint64_t ref = (uint64_t)i + 1;
            auto it = model.find({cf, k});
            uint64_t want = it == model.end() ? 0 : it->second;
            ASSERT_EQ(stage_index_set(&ix, keys.Base(), cf, off, k.size(), ref), want) << k;
            model[{cf, k}] = ref;
        }
        for (const auto &e : model)
            ASSERT_EQ(stage_index_get(&ix, keys.Base(), e.first.first, Sl(e.first.second)),
                      e.second);
        stage_index_clear(&ix);
        for (const auto &e : model)
            ASSERT_EQ(stage_index_get(&ix, keys.Base(), e.first.first, Sl(e.first.second)), 0u);
    }
    stage_index_deinit(&ix);
}

} // namespace
