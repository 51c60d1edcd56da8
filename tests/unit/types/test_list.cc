// SPDX-License-Identifier: Apache-2.0
//
// The list type layer (types/list.h) on a real RocksDB with tiny write buffers: the on-disk
// layout (metadata, index sub-keys, LogData descriptors in the WAL), every operation against a
// model under random workloads, shifting the shorter side in LINSERT/LREM, bounded reads on a
// big list, O(1) delete with compaction reclaiming the sub-keys, legacy metadata, hooks and
// concurrent writers.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/endian.h"
#include "common/mem.h"
#include "fixture.h"
#include "storage/meta.h"
#include "storage/wal.h"
#include "types/list.h"
#include "types/str.h"

namespace {

using Strings = std::vector<std::string>;

constexpr uint64_t kInit = META_LIST_INITIAL_INDEX;

class ListTest : public StorageTest {
  protected:
    struct kv_err err_ {};

    void RandomOperations(uint64_t seed, bool rounds);

    uint64_t
    Push(const std::string &key, const Strings &elems, bool left, bool only_existing = false)
    {
        std::vector<struct kv_slice> s;
        for (const auto &e : elems)
            s.push_back(S(e));
        uint64_t len = 12345;
        EXPECT_EQ(list_push(&db_, S(key), s.data(), s.size(), left, only_existing, &len, &err_),
                  KV_OK)
            << err_.msg;
        return len;
    }

    static Strings
    ToStrings(const struct list_values &v)
    {
        Strings out;
        for (size_t i = 0; i < v.n; i++) {
            struct kv_slice e = list_values_at(&v, i);
            out.emplace_back(e.ptr, e.len);
        }
        return out;
    }

    Strings
    Range(const std::string &key, int64_t start = 0, int64_t stop = -1)
    {
        struct list_values v = LIST_VALUES_INIT;
        EXPECT_EQ(list_range(&db_, S(key), start, stop, &v, &err_), KV_OK) << err_.msg;
        Strings out = ToStrings(v);
        list_values_deinit(&v);
        return out;
    }

    // The popped elements; rc receives the code.
    Strings
    Pop(const std::string &key, bool left, uint64_t count, enum kv_code *rc = nullptr)
    {
        struct list_values v = LIST_VALUES_INIT;
        enum kv_code r = list_pop(&db_, S(key), left, count, false, &v, &err_);
        if (rc != nullptr)
            *rc = r;
        else
            EXPECT_EQ(r, KV_OK) << err_.msg;
        Strings out = ToStrings(v);
        list_values_deinit(&v);
        return out;
    }

    uint64_t
    Len(const std::string &key)
    {
        uint64_t len = 999;
        EXPECT_EQ(list_len(&db_, S(key), &len, &err_), KV_OK);
        return len;
    }

    std::string
    Index(const std::string &key, int64_t index)
    {
        struct kv_buf out = KV_BUF_INIT;
        enum kv_code rc = list_index(&db_, S(key), index, &out, &err_);
        std::string r =
            rc == KV_OK ? std::string(out.ptr, out.len) : std::string("<") + kv_code_name(rc) + ">";
        kv_buf_deinit(&out);
        return r;
    }

    std::string
    Move(const std::string &src, const std::string &dst, bool src_left, bool dst_left)
    {
        struct kv_buf out = KV_BUF_INIT;
        enum kv_code rc = list_move(&db_, S(src), S(dst), src_left, dst_left, false, &out, &err_);
        std::string r =
            rc == KV_OK ? std::string(out.ptr, out.len) : std::string("<") + kv_code_name(rc) + ">";
        kv_buf_deinit(&out);
        return r;
    }

    std::vector<int64_t>
    Pos(const std::string &key, const std::string &value, int64_t rank, uint64_t count,
        uint64_t maxlen)
    {
        int64_t *pos = nullptr;
        size_t n = 0;
        EXPECT_EQ(list_pos(&db_, S(key), S(value), rank, count, maxlen, &pos, &n, &err_), KV_OK);
        std::vector<int64_t> out(pos, pos + n);
        kv_free(pos);
        return out;
    }

    enum kv_code
    Meta(const std::string &key, struct meta *m)
    {
        struct kv_buf raw = KV_BUF_INIT;
        enum kv_code rc = db_get_meta(&db_, S(key), META_LIST, m, &raw, &err_);
        m->payload = kv_slice_make(nullptr, 0);
        kv_buf_deinit(&raw);
        return rc;
    }

    // Raw metadata record of key ("" when there is none).
    std::string
    RawMeta(const std::string &key)
    {
        struct kv_buf mk = KV_BUF_INIT, val = KV_BUF_INIT;
        db_meta_key(&db_, S(key), &mk);
        enum kv_code rc = storage_get(st_, nullptr, KV_CF_METADATA, kv_buf_slice(&mk), &val, &err_);
        std::string r = rc == KV_OK ? std::string(val.ptr, val.len) : std::string();
        kv_buf_deinit(&mk);
        kv_buf_deinit(&val);
        return r;
    }

    // Every index stored under (key, version), whatever the metadata says.
    std::vector<uint64_t>
    StoredIndexes(const std::string &key, uint64_t version)
    {
        std::vector<uint64_t> out;
        struct kv_buf prefix = KV_BUF_INIT, upper = KV_BUF_INIT;
        db_subkey_prefix(&db_, S(key), version, &prefix);
        keys_prefix_end(&upper, kv_buf_slice(&prefix));
        struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_SUBKEY,
                                                   kv_buf_slice(&prefix), kv_buf_slice(&upper));
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
            struct kv_slice k = storage_iter_key(it);
            EXPECT_EQ(k.len, prefix.len + 8);
            out.push_back(kv_get_u64be(k.ptr + prefix.len));
        }
        storage_iter_free(it);
        kv_buf_deinit(&prefix);
        kv_buf_deinit(&upper);
        return out;
    }

    // Sub-keys stored for `key` under any version.
    size_t
    StoredSubKeysAnyVersion(const std::string &key)
    {
        struct kv_buf prefix = KV_BUF_INIT, upper = KV_BUF_INIT;
        keys_append_ns_prefix(&prefix, db_.ns, db_.cluster, S(key));
        kv_buf_append_u32be(&prefix, (uint32_t)key.size());
        kv_buf_append(&prefix, key.data(), key.size());
        keys_prefix_end(&upper, kv_buf_slice(&prefix));
        struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_SUBKEY,
                                                   kv_buf_slice(&prefix), kv_buf_slice(&upper));
        size_t n = 0;
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it))
            n++;
        storage_iter_free(it);
        kv_buf_deinit(&prefix);
        kv_buf_deinit(&upper);
        return n;
    }

    // The sub-keys of a live list are exactly [head, tail).
    void
    ExpectNoStraySubKeys(const std::string &key)
    {
        struct meta m;
        ASSERT_EQ(Meta(key, &m), KV_OK);
        std::vector<uint64_t> idx = StoredIndexes(key, m.version);
        ASSERT_EQ(idx.size(), m.size);
        ASSERT_EQ(m.list_tail - m.list_head, m.size);
        for (size_t i = 0; i < idx.size(); i++)
            ASSERT_EQ(idx[i], m.list_head + i);
    }

    // The LogData blobs of the batch written at sequence `seq` (the first batch after it).
    Strings
    LogDataAt(uint64_t seq)
    {
        Strings out;
        struct wal_iter *it = nullptr;
        if (wal_iter_open(st_, seq, &it, &err_) != KV_OK) {
            ADD_FAILURE() << "no batch at " << seq << ": " << err_.msg;
            return out;
        }
        uint64_t s;
        uint32_t count;
        struct kv_slice rep;
        if (wal_iter_batch(it, &s, &count, &rep, &err_) == KV_OK) {
            // [seq u64][count u32] then records; a LogData record is tag 0x03, varint32 length,
            // bytes. Collect the leading LogData records.
            size_t p = 12;
            while (p < rep.len && (uint8_t)rep.ptr[p] == 0x03) {
                p++;
                uint32_t len = 0;
                int shift = 0;
                while (p < rep.len) {
                    uint8_t c = (uint8_t)rep.ptr[p++];
                    len |= (uint32_t)(c & 0x7f) << shift;
                    shift += 7;
                    if (!(c & 0x80))
                        break;
                }
                out.emplace_back(rep.ptr + p, len);
                p += len;
            }
        }
        wal_iter_free(it);
        return out;
    }

    uint64_t
    NextSeq()
    {
        return storage_latest_seq(st_) + 1;
    }

    void
    PutString(const std::string &key, const std::string &value)
    {
        struct str_set_opts opts {};
        bool written = false;
        ASSERT_EQ(str_set(&db_, S(key), S(value), &opts, kBitmapStringMax, &written, nullptr,
                          nullptr, &err_),
                  KV_OK);
    }
};

TEST_F(ListTest, AbsentKeyAndWrongType)
{
    EXPECT_EQ(Len("none"), 0u);
    EXPECT_EQ(Range("none"), Strings{});
    EXPECT_EQ(Index("none", 0), "<notfound>");
    enum kv_code rc;
    EXPECT_EQ(Pop("none", true, 1, &rc), Strings{});
    EXPECT_EQ(rc, KV_NOTFOUND);
    EXPECT_EQ(Pop("none", true, 0, &rc), Strings{});
    EXPECT_EQ(rc, KV_NOTFOUND);
    EXPECT_EQ(list_set(&db_, S("none"), 0, S("x"), &err_), KV_NOTFOUND);
    int64_t res = 7;
    EXPECT_EQ(list_insert(&db_, S("none"), true, S("a"), S("b"), &res, &err_), KV_OK);
    EXPECT_EQ(res, 0);
    uint64_t removed = 7;
    EXPECT_EQ(list_rem(&db_, S("none"), 0, S("a"), &removed, &err_), KV_OK);
    EXPECT_EQ(removed, 0u);
    EXPECT_EQ(list_trim(&db_, S("none"), 0, 1, &err_), KV_OK);
    EXPECT_EQ(Pos("none", "a", 1, 0, 0), std::vector<int64_t>{});
    EXPECT_EQ(Move("none", "dst", true, true), "<notfound>");
    EXPECT_EQ(Push("none", {"a"}, true, true), 0u);
    EXPECT_EQ(RawMeta("none"), "");
    EXPECT_EQ(RawMeta("dst"), "");

    PutString("s", "v");
    uint64_t len;
    struct kv_buf out = KV_BUF_INIT;
    struct list_values v = LIST_VALUES_INIT;
    struct kv_slice e = S("x");
    EXPECT_EQ(list_len(&db_, S("s"), &len, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_index(&db_, S("s"), 0, &out, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_range(&db_, S("s"), 0, -1, &v, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_push(&db_, S("s"), &e, 1, true, false, &len, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_push(&db_, S("s"), &e, 1, true, true, &len, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_pop(&db_, S("s"), true, 1, false, &v, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_pop(&db_, S("s"), true, 0, false, &v, &err_), KV_ERR_WRONGTYPE);
    // A retried blocking pop treats it as absent.
    EXPECT_EQ(list_pop(&db_, S("s"), true, 1, true, &v, &err_), KV_NOTFOUND);
    EXPECT_EQ(list_set(&db_, S("s"), 0, e, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_insert(&db_, S("s"), true, e, e, &res, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_rem(&db_, S("s"), 0, e, &removed, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(list_trim(&db_, S("s"), 0, 1, &err_), KV_ERR_WRONGTYPE);
    int64_t *pos = nullptr;
    size_t npos = 0;
    EXPECT_EQ(list_pos(&db_, S("s"), e, 1, 0, 0, &pos, &npos, &err_), KV_ERR_WRONGTYPE);
    EXPECT_EQ(Move("s", "dst", true, true), "<wrongtype>");
    EXPECT_EQ(v.n, 0u);
    kv_buf_deinit(&out);
    list_values_deinit(&v);
}

TEST_F(ListTest, OnDiskLayout)
{
    EXPECT_EQ(Push("l", {"a", "b", "c"}, true), 3u); // c b a
    EXPECT_EQ(Push("l", {"d"}, false), 4u);          // c b a d
    std::string raw = RawMeta("l");
    ASSERT_EQ(raw.size(), 1u + 8 + 8 + 8 + 8 + 8);
    EXPECT_EQ((uint8_t)raw[0], 0x83);                    // 64-bit fields, type list
    EXPECT_EQ(kv_get_u64be(raw.data() + 1), 0u);         // no expiry
    EXPECT_EQ(kv_get_u64be(raw.data() + 17), 4u);        // size
    EXPECT_EQ(kv_get_u64be(raw.data() + 25), kInit - 3); // head
    EXPECT_EQ(kv_get_u64be(raw.data() + 33), kInit + 1); // tail
    uint64_t version = kv_get_u64be(raw.data() + 9);

    // Sub-key = [ns prefix][key_len u32][key][version u64][index u64 BE] -> element.
    struct kv_buf k = KV_BUF_INIT, val = KV_BUF_INIT;
    kv_buf_append_byte(&k, (uint8_t)strlen(KEYS_DEFAULT_NAMESPACE));
    kv_buf_append_cstr(&k, KEYS_DEFAULT_NAMESPACE);
    kv_buf_append_u32be(&k, 1);
    kv_buf_append_cstr(&k, "l");
    kv_buf_append_u64be(&k, version);
    kv_buf_append_u64be(&k, kInit - 3);
    ASSERT_EQ(storage_get(st_, nullptr, KV_CF_SUBKEY, kv_buf_slice(&k), &val, &err_), KV_OK);
    EXPECT_EQ(std::string(val.ptr, val.len), "c");
    kv_buf_deinit(&k);
    kv_buf_deinit(&val);
    EXPECT_EQ(StoredIndexes("l", version),
              (std::vector<uint64_t>{kInit - 3, kInit - 2, kInit - 1, kInit}));
    EXPECT_EQ(Range("l"), (Strings{"c", "b", "a", "d"}));

    // A list emptied by pops is deleted: its metadata and every sub-key.
    EXPECT_EQ(Pop("l", false, 10), (Strings{"d", "a", "b", "c"}));
    EXPECT_EQ(RawMeta("l"), "");
    EXPECT_EQ(StoredIndexes("l", version), std::vector<uint64_t>{});
    // Re-created with a new version, from the initial indexes.
    Push("l", {"x"}, false);
    struct meta m;
    ASSERT_EQ(Meta("l", &m), KV_OK);
    EXPECT_NE(m.version, version);
    EXPECT_EQ(m.list_head, kInit);
    EXPECT_EQ(m.list_tail, kInit + 1);
}

TEST_F(ListTest, EveryWriteStartsWithKvrocksLogData)
{
    struct {
        std::function<void()> op;
        std::string log;
    } cases[] = {
        {[&] {
             Push("a", {"p", "x", "q", "x"}, true);
         },
         "3 6"},
        {[&] { Push("a", {"r"}, false); }, "3 7"},
        {[&] { Push("a", {"r2"}, false, true); }, "3 7"},
        {[&] { Pop("a", true, 1); }, "3 3"},
        {[&] { Pop("a", false, 1); }, "3 4"},
        {[&] { EXPECT_EQ(list_set(&db_, S("a"), -1, S("z"), &err_), KV_OK); },
         "3 0 3"}, // the normalized index
        {[&] {
             int64_t r;
             EXPECT_EQ(list_insert(&db_, S("a"), true, S("q"), S("new"), &r, &err_), KV_OK);
         },
         "3 1 1 q new"},
        {[&] {
             int64_t r;
             EXPECT_EQ(list_insert(&db_, S("a"), false, S("q"), S("n2"), &r, &err_), KV_OK);
         },
         "3 1 0 q n2"},
        {[&] {
             uint64_t r;
             EXPECT_EQ(list_rem(&db_, S("a"), -2, S("x"), &r, &err_), KV_OK);
         },
         "3 5 -2 x"},
        {[&] { EXPECT_EQ(Move("a", "b", true, false), "new"); }, "3 12 a b left right"},
        {[&] { EXPECT_EQ(Move("a", "a", false, true), "z"); }, "3 12 a a right left"},
        {[&] { EXPECT_EQ(list_trim(&db_, S("a"), 1, -1, &err_), KV_OK); }, "3 2 1 3"},
    };
    for (auto &c : cases) {
        uint64_t seq = NextSeq();
        c.op();
        EXPECT_EQ(LogDataAt(seq), Strings{c.log}) << c.log;
    }
}

TEST_F(ListTest, PushPopOrderAndCounts)
{
    EXPECT_EQ(Push("l", {"1", "2", "3"}, true), 3u);
    EXPECT_EQ(Push("l", {"4", "5"}, false), 5u);
    EXPECT_EQ(Push("l", {"0"}, true, true), 6u);
    EXPECT_EQ(Range("l"), (Strings{"0", "3", "2", "1", "4", "5"}));
    enum kv_code rc;
    EXPECT_EQ(Pop("l", true, 0, &rc), Strings{}); // count 0: nothing, but the key exists
    EXPECT_EQ(rc, KV_OK);
    EXPECT_EQ(Len("l"), 6u);
    EXPECT_EQ(Pop("l", true, 2), (Strings{"0", "3"}));
    EXPECT_EQ(Pop("l", false, 2), (Strings{"5", "4"}));
    EXPECT_EQ(Range("l"), (Strings{"2", "1"}));
    ExpectNoStraySubKeys("l");
    EXPECT_EQ(Pop("l", false, 100), (Strings{"1", "2"}));
    EXPECT_EQ(Len("l"), 0u);
    EXPECT_EQ(Pop("l", false, 1, &rc), Strings{});
    EXPECT_EQ(rc, KV_NOTFOUND);
    // Binary and empty elements.
    std::string bin("a\0b\xff", 4);
    Push("b", {bin, ""}, false);
    EXPECT_EQ(Range("b"), (Strings{bin, ""}));
    EXPECT_EQ(Index("b", 1), "");
}

TEST_F(ListTest, IndexAndRangeRules)
{
    std::deque<std::string> model;
    Strings all;
    for (int i = 0; i < 7; i++) {
        all.push_back("e" + std::to_string(i));
    }
    Push("l", all, false);
    for (int64_t i = -9; i <= 9; i++) {
        int64_t j = i < 0 ? i + 7 : i;
        EXPECT_EQ(Index("l", i), j >= 0 && j < 7 ? all[j] : "<notfound>") << i;
    }
    EXPECT_EQ(Index("l", INT64_MIN), "<notfound>");
    EXPECT_EQ(Index("l", INT64_MAX), "<notfound>");
    int64_t bounds[] = {INT64_MIN, -100, -8, -7, -3, -1, 0, 1, 3, 6, 7, 100, INT64_MAX};
    for (int64_t start : bounds) {
        for (int64_t stop : bounds) {
            // Redis' rule, written out independently.
            int64_t s =
                start < 0 ? std::max<int64_t>(7 + std::max<int64_t>(start, -100), 0) : start;
            int64_t e = stop < 0 ? 7 + std::max<int64_t>(stop, -100) : stop;
            Strings want;
            if (!(s > e || s >= 7)) {
                e = std::min<int64_t>(e, 6);
                for (int64_t k = s; k <= e; k++)
                    want.push_back(all[k]);
            }
            EXPECT_EQ(Range("l", start, stop), want) << start << " " << stop;
        }
    }
}

TEST_F(ListTest, SetInsertRemTrim)
{
    Push("l", {"a", "b", "c", "b", "d"}, false);
    EXPECT_EQ(list_set(&db_, S("l"), 1, S("B"), &err_), KV_OK);
    EXPECT_EQ(list_set(&db_, S("l"), -1, S("D"), &err_), KV_OK);
    EXPECT_EQ(list_set(&db_, S("l"), 5, S("x"), &err_), KV_ERR_RANGE);
    EXPECT_EQ(list_set(&db_, S("l"), -6, S("x"), &err_), KV_ERR_RANGE);
    EXPECT_EQ(Range("l"), (Strings{"a", "B", "c", "b", "D"}));

    int64_t r;
    ASSERT_EQ(list_insert(&db_, S("l"), true, S("b"), S("x"), &r, &err_), KV_OK);
    EXPECT_EQ(r, 6);
    ASSERT_EQ(list_insert(&db_, S("l"), false, S("a"), S("y"), &r, &err_), KV_OK);
    EXPECT_EQ(r, 7);
    ASSERT_EQ(list_insert(&db_, S("l"), true, S("nope"), S("y"), &r, &err_), KV_OK);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(Range("l"), (Strings{"a", "y", "B", "c", "x", "b", "D"}));
    ExpectNoStraySubKeys("l");

    uint64_t removed;
    Push("l", {"y", "y"}, false); // a y B c x b D y y
    ASSERT_EQ(list_rem(&db_, S("l"), -2, S("y"), &removed, &err_), KV_OK);
    EXPECT_EQ(removed, 2u);
    EXPECT_EQ(Range("l"), (Strings{"a", "y", "B", "c", "x", "b", "D"}));
    ASSERT_EQ(list_rem(&db_, S("l"), 0, S("zz"), &removed, &err_), KV_OK);
    EXPECT_EQ(removed, 0u);
    ASSERT_EQ(list_rem(&db_, S("l"), 1, S("c"), &removed, &err_), KV_OK);
    EXPECT_EQ(removed, 1u);
    EXPECT_EQ(Range("l"), (Strings{"a", "y", "B", "x", "b", "D"}));
    ExpectNoStraySubKeys("l");

    ASSERT_EQ(list_trim(&db_, S("l"), 1, -2, &err_), KV_OK);
    EXPECT_EQ(Range("l"), (Strings{"y", "B", "x", "b"}));
    ExpectNoStraySubKeys("l");
    ASSERT_EQ(list_trim(&db_, S("l"), 0, -1, &err_), KV_OK);
    EXPECT_EQ(Range("l"), (Strings{"y", "B", "x", "b"}));
    ASSERT_EQ(list_trim(&db_, S("l"), 5, 10, &err_), KV_OK); // empty range: the key goes
    EXPECT_EQ(RawMeta("l"), "");

    // Removing every element deletes the key.
    Push("r", {"q", "q"}, false);
    ASSERT_EQ(list_rem(&db_, S("r"), 0, S("q"), &removed, &err_), KV_OK);
    EXPECT_EQ(removed, 2u);
    EXPECT_EQ(RawMeta("r"), "");
}

TEST_F(ListTest, InsertAndRemRewriteTheShorterSide)
{
    Strings all;
    for (int i = 0; i < 100; i++)
        all.push_back(std::to_string(i));
    Push("l", all, false);
    struct meta before, after;
    ASSERT_EQ(Meta("l", &before), KV_OK);
    int64_t r;
    // Near the right end: the right side moves, the head stays.
    ASSERT_EQ(list_insert(&db_, S("l"), true, S("97"), S("R"), &r, &err_), KV_OK);
    ASSERT_EQ(Meta("l", &after), KV_OK);
    EXPECT_EQ(after.list_head, before.list_head);
    EXPECT_EQ(after.list_tail, before.list_tail + 1);
    // Near the left end: the left side moves, the tail stays.
    before = after;
    ASSERT_EQ(list_insert(&db_, S("l"), false, S("1"), S("L"), &r, &err_), KV_OK);
    ASSERT_EQ(Meta("l", &after), KV_OK);
    EXPECT_EQ(after.list_head, before.list_head - 1);
    EXPECT_EQ(after.list_tail, before.list_tail);
    Strings want = all;
    want.insert(want.begin() + 97, "R");
    want.insert(want.begin() + 2, "L");
    EXPECT_EQ(Range("l"), want);
    ExpectNoStraySubKeys("l");

    uint64_t removed;
    before = after;
    ASSERT_EQ(list_rem(&db_, S("l"), 0, S("L"), &removed, &err_), KV_OK);
    ASSERT_EQ(Meta("l", &after), KV_OK);
    EXPECT_EQ(after.list_head, before.list_head + 1);
    EXPECT_EQ(after.list_tail, before.list_tail);
    before = after;
    ASSERT_EQ(list_rem(&db_, S("l"), 0, S("R"), &removed, &err_), KV_OK);
    ASSERT_EQ(Meta("l", &after), KV_OK);
    EXPECT_EQ(after.list_head, before.list_head);
    EXPECT_EQ(after.list_tail, before.list_tail - 1);
    EXPECT_EQ(Range("l"), all);
    ExpectNoStraySubKeys("l");
}

TEST_F(ListTest, PosRankCountMaxlen)
{
    Push("l", {"a", "b", "a", "c", "a", "b"}, false);
    using V = std::vector<int64_t>;
    EXPECT_EQ(Pos("l", "a", 1, 1, 0), V{0});
    EXPECT_EQ(Pos("l", "a", 1, 0, 0), (V{0, 2, 4}));
    EXPECT_EQ(Pos("l", "a", 2, 0, 0), (V{2, 4}));
    EXPECT_EQ(Pos("l", "a", -1, 0, 0), (V{4, 2, 0}));
    EXPECT_EQ(Pos("l", "a", -2, 1, 0), V{2});
    EXPECT_EQ(Pos("l", "a", -4, 0, 0), V{});
    EXPECT_EQ(Pos("l", "a", INT64_MIN, 0, 0), (V{4, 2, 0})); // as Redis 7.0: like -1
    EXPECT_EQ(Pos("l", "a", INT64_MAX, 0, 0), V{});
    EXPECT_EQ(Pos("l", "a", 1, 0, 3), (V{0, 2}));
    EXPECT_EQ(Pos("l", "b", -1, 0, 2), V{5});
    EXPECT_EQ(Pos("l", "c", -1, 0, 2), V{});
    EXPECT_EQ(Pos("l", "c", 1, 2, 100), V{3});
    EXPECT_EQ(Pos("l", "zz", 1, 0, 0), V{});
}

TEST_F(ListTest, MoveBetweenAndWithinLists)
{
    Push("src", {"1", "2", "3"}, false);
    EXPECT_EQ(Move("src", "dst", true, true), "1");
    EXPECT_EQ(Move("src", "dst", false, false), "3");
    EXPECT_EQ(Range("src"), Strings{"2"});
    EXPECT_EQ(Range("dst"), (Strings{"1", "3"}));
    EXPECT_EQ(Move("src", "dst", true, true), "2");
    EXPECT_EQ(RawMeta("src"), ""); // emptied: deleted
    EXPECT_EQ(Range("dst"), (Strings{"2", "1", "3"}));
    // Rotations.
    EXPECT_EQ(Move("dst", "dst", true, false), "2");
    EXPECT_EQ(Range("dst"), (Strings{"1", "3", "2"}));
    EXPECT_EQ(Move("dst", "dst", false, true), "2");
    EXPECT_EQ(Range("dst"), (Strings{"2", "1", "3"}));
    EXPECT_EQ(Move("dst", "dst", true, true), "2");
    EXPECT_EQ(Range("dst"), (Strings{"2", "1", "3"}));
    ExpectNoStraySubKeys("dst");
    // A destination of another type: nothing moves.
    PutString("str", "v");
    EXPECT_EQ(Move("dst", "str", true, true), "<wrongtype>");
    EXPECT_EQ(Range("dst"), (Strings{"2", "1", "3"}));
    // An empty source does not look at the destination.
    EXPECT_EQ(Move("none", "str", true, true), "<notfound>");
    // A retried BLMOVE sees a source of another type as empty; the destination still counts.
    struct kv_buf out = KV_BUF_INIT;
    EXPECT_EQ(list_move(&db_, S("str"), S("dst"), true, true, true, &out, &err_), KV_NOTFOUND);
    EXPECT_EQ(list_move(&db_, S("dst"), S("str"), true, true, true, &out, &err_), KV_ERR_WRONGTYPE);
    kv_buf_deinit(&out);
}

// A legacy (32-bit) list record, as older Kvrocks versions wrote it, is read and then rewritten
// in the 64-bit form.
TEST_F(ListTest, LegacyMetadataIsReadAndUpgraded)
{
    uint64_t version = meta_new_version();
    struct kv_buf raw = KV_BUF_INIT, mk = KV_BUF_INIT, k = KV_BUF_INIT;
    kv_buf_append_byte(&raw, META_LIST); // flags without 0x80
    kv_buf_append_u32be(&raw, 0);        // expire (s)
    kv_buf_append_u64be(&raw, version);
    kv_buf_append_u32be(&raw, 2); // size
    kv_buf_append_u64be(&raw, kInit - 1);
    kv_buf_append_u64be(&raw, kInit + 1);
    struct storage_batch *b = storage_batch_new(st_);
    db_meta_key(&db_, S("old"), &mk);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&mk), kv_buf_slice(&raw));
    db_subkey(&db_, S("old"), version, kv_slice_make("\x7f\xff\xff\xff\xff\xff\xff\xfe", 8), &k);
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&k), S("first"));
    db_subkey(&db_, S("old"), version, kv_slice_make("\x7f\xff\xff\xff\xff\xff\xff\xff", 8), &k);
    storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&k), S("second"));
    ASSERT_EQ(storage_write(st_, b, &err_), KV_OK);
    storage_batch_free(b);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&mk);
    kv_buf_deinit(&k);

    EXPECT_EQ(Range("old"), (Strings{"first", "second"}));
    EXPECT_EQ(Push("old", {"third"}, false), 3u);
    EXPECT_EQ((uint8_t)RawMeta("old")[0], 0x83);
    EXPECT_EQ(Range("old"), (Strings{"first", "second", "third"}));
}

TEST_F(ListTest, HooksReportModifications)
{
    static std::vector<std::string> touched;
    touched.clear();
    struct db_hooks hooks = {
        [](void *, struct kv_slice, struct kv_slice key) {
            touched.emplace_back(key.ptr, key.len);
        },
        nullptr,
    };
    db_.hooks = &hooks;
    Push("l", {"a", "b"}, false);
    EXPECT_EQ(touched, Strings{"l"});
    touched.clear();
    Push("none", {"a"}, false, true); // LPUSHX on an absent key: nothing
    enum kv_code rc;
    Pop("none", true, 1, &rc);
    uint64_t removed;
    list_rem(&db_, S("l"), 0, S("zz"), &removed, &err_);
    EXPECT_EQ(touched, Strings{});
    Move("l", "m", true, true);
    EXPECT_EQ(touched, (Strings{"l", "m"}));
    touched.clear();
    list_trim(&db_, S("l"), 0, -1, &err_); // keeps everything, still a modification (Redis)
    EXPECT_EQ(touched, Strings{"l"});
    db_.hooks = nullptr;
}

// Random operations on two lists against std::deque models, with flushes and compactions
// happening underneath (1 MiB write buffers, big elements).
// Random operations on two lists, checked against a model. With `rounds` the thread stages its
// writes as a worker does, ending a "round" (commit, release of the key locks) now and then;
// it also pops runs of single elements, which read ahead (list_pop), between other writes of
// the same round, and other threads write the lists between rounds (LSET) and in the middle of
// one (a raw batch, as APPLYBATCH writes without key locks).
void
ListTest::RandomOperations(uint64_t seed, bool rounds)
{
    std::mt19937_64 rng(seed);
    std::deque<std::string> model[2];
    const char *names[2] = {"x", "y"};
    auto val = [&]() {
        std::string v = std::to_string(rng() % 8);
        if (rng() % 10 == 0)
            v += std::string(2000 + rng() % 3000, 'p'); // fill memtables
        return v;
    };
    auto check = [&](int w) {
        Strings want(model[w].begin(), model[w].end());
        ASSERT_EQ(Range(names[w]), want);
        ASSERT_EQ(Len(names[w]), want.size());
        if (!want.empty())
            ExpectNoStraySubKeys(names[w]);
        else
            ASSERT_EQ(RawMeta(names[w]), "");
    };
    // Back to a thread without staging however the test ends (later tests run on it too).
    struct EndRounds {
        bool on;
        void
        Done()
        {
            if (on) {
                keylock_settle();
                storage_stage_enable(false);
                list_thread_exit();
            }
            on = false;
        }
        ~EndRounds()
        {
            Done();
        }
    } end_rounds{rounds};
    if (rounds)
        storage_stage_enable(true);
    for (int step = 0; step < 3000; step++) {
        int w = (int)(rng() % 2);
        auto &m = model[w];
        std::string key = names[w];
        int64_t sz = (int64_t)m.size();
        if (rounds && rng() % 20 == 0) {
            keylock_settle(); // the round ends
            if (sz > 0 && rng() % 2 == 0) {
                // Another thread (no staging: its write is in the DB when it returns).
                size_t j = (size_t)(rng() % (uint64_t)sz);
                std::string v = "other" + std::to_string(step);
                enum kv_code rc = KV_ERR;
                std::thread t([&] { rc = list_set(&db_, S(key), (int64_t)j, S(v), &err_); });
                t.join();
                ASSERT_EQ(rc, KV_OK);
                m[j] = v;
            }
        }
        switch (rng() % (rounds ? 11 : 9)) {
        case 0:
        case 1: {
            bool left = rng() % 2;
            Strings e;
            for (int i = 0, n = 1 + (int)(rng() % 4); i < n; i++)
                e.push_back(val());
            Push(key, e, left);
            for (auto &s : e) {
                if (left)
                    m.push_front(s);
                else
                    m.push_back(s);
            }
            break;
        }
        case 2: {
            bool left = rng() % 2;
            uint64_t count = rng() % 4;
            enum kv_code rc;
            Strings got = Pop(key, left, count, &rc);
            Strings want;
            for (uint64_t i = 0; i < count && !m.empty(); i++) {
                want.push_back(left ? m.front() : m.back());
                if (left)
                    m.pop_front();
                else
                    m.pop_back();
            }
            ASSERT_EQ(rc, sz == 0 ? KV_NOTFOUND : KV_OK);
            ASSERT_EQ(got, want);
            break;
        }
        case 3: {
            int64_t idx = (int64_t)(rng() % 12) - 6;
            std::string v = val();
            enum kv_code rc = list_set(&db_, S(key), idx, S(v), &err_);
            int64_t j = idx < 0 ? idx + sz : idx;
            if (sz == 0) {
                ASSERT_EQ(rc, KV_NOTFOUND);
            } else if (j < 0 || j >= sz) {
                ASSERT_EQ(rc, KV_ERR_RANGE);
            } else {
                ASSERT_EQ(rc, KV_OK);
                m[(size_t)j] = v;
            }
            break;
        }
        case 4: {
            bool before = rng() % 2;
            std::string pivot = std::to_string(rng() % 8), v = val();
            int64_t r;
            ASSERT_EQ(list_insert(&db_, S(key), before, S(pivot), S(v), &r, &err_), KV_OK);
            auto it = std::find(m.begin(), m.end(), pivot);
            if (sz == 0) {
                ASSERT_EQ(r, 0);
            } else if (it == m.end()) {
                ASSERT_EQ(r, -1);
            } else {
                m.insert(before ? it : it + 1, v);
                ASSERT_EQ(r, (int64_t)m.size());
            }
            break;
        }
        case 5: {
            int64_t count = (int64_t)(rng() % 5) - 2;
            std::string v = std::to_string(rng() % 8);
            uint64_t removed;
            ASSERT_EQ(list_rem(&db_, S(key), count, S(v), &removed, &err_), KV_OK);
            uint64_t want = 0;
            uint64_t limit = count == 0 ? UINT64_MAX : (uint64_t)std::llabs(count);
            if (count >= 0) {
                for (auto it = m.begin(); it != m.end() && want < limit;) {
                    if (*it == v) {
                        it = m.erase(it);
                        want++;
                    } else {
                        ++it;
                    }
                }
            } else {
                for (int64_t i = (int64_t)m.size() - 1; i >= 0 && want < limit; i--) {
                    if (m[(size_t)i] == v) {
                        m.erase(m.begin() + i);
                        want++;
                    }
                }
            }
            ASSERT_EQ(removed, want);
            break;
        }
        case 6: {
            if (rng() % 4 != 0)
                break; // trims shrink a lot: keep them rarer
            int64_t start = (int64_t)(rng() % 6) - 2, stop = (int64_t)(rng() % 30) - 3;
            ASSERT_EQ(list_trim(&db_, S(key), start, stop, &err_), KV_OK);
            uint64_t first, last;
            std::deque<std::string> kept;
            if (list_normalize_range((uint64_t)sz, start, stop, &first, &last))
                kept.assign(m.begin() + (int64_t)first, m.begin() + (int64_t)last + 1);
            m = kept;
            break;
        }
        case 7: {
            int other = rng() % 3 == 0 ? w : 1 - w;
            bool sl = rng() % 2, dl = rng() % 2;
            std::string got = Move(key, names[other], sl, dl);
            if (m.empty()) {
                ASSERT_EQ(got, "<notfound>");
                break;
            }
            std::string e = sl ? m.front() : m.back();
            if (sl)
                m.pop_front();
            else
                m.pop_back();
            if (dl)
                model[other].push_front(e);
            else
                model[other].push_back(e);
            ASSERT_EQ(got, e);
            break;
        }
        case 8: {
            std::string v = std::to_string(rng() % 8);
            int64_t rank = (int64_t)(rng() % 5) - 2;
            if (rank == 0)
                rank = 1;
            uint64_t count = rng() % 3, maxlen = rng() % 6;
            std::vector<int64_t> want;
            uint64_t span = maxlen == 0 || maxlen > m.size() ? m.size() : maxlen;
            uint64_t skip = (uint64_t)std::llabs(rank) - 1;
            for (uint64_t i = 0; i < span; i++) {
                size_t at = rank > 0 ? i : m.size() - 1 - i;
                if (m[at] != v)
                    continue;
                if (skip > 0) {
                    skip--;
                    continue;
                }
                want.push_back((int64_t)at);
                if (count != 0 && want.size() == count)
                    break;
            }
            ASSERT_EQ(Pos(key, v, rank, count, maxlen), want);
            break;
        }
        case 9: {
            // A run of single pops from one end (a drained queue).
            bool left = rng() % 2;
            for (int i = 0, n = 1 + (int)(rng() % 40); i < n; i++) {
                enum kv_code rc;
                Strings got = Pop(key, left, 1, &rc);
                if (m.empty()) {
                    ASSERT_EQ(rc, KV_NOTFOUND);
                    break;
                }
                ASSERT_EQ(rc, KV_OK);
                ASSERT_EQ(got, Strings{left ? m.front() : m.back()}) << "pop " << i;
                if (left)
                    m.pop_front();
                else
                    m.pop_back();
            }
            break;
        }
        case 10: {
            // Another thread writes an element with a raw batch while this one holds the key.
            struct meta meta;
            if (sz == 0 || Meta(key, &meta) != KV_OK)
                break;
            ASSERT_EQ(storage_stage_commit(&err_), KV_OK) << err_.msg; // not overwritten later
            size_t j = (size_t)(rng() % (uint64_t)sz);
            std::string v = "raw" + std::to_string(step);
            struct kv_buf k = KV_BUF_INIT;
            db_subkey_prefix(&db_, S(key), meta.version, &k);
            kv_buf_append_u64be(&k, meta.list_head + j);
            enum kv_code rc = KV_ERR;
            std::thread t([&] {
                struct kv_err err;
                kv_err_clear(&err);
                struct storage_batch *b = storage_batch_new(st_);
                storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&k), S(v));
                rc = storage_write_raw(st_, storage_batch_data(b), nullptr, &err);
                storage_batch_free(b);
            });
            t.join();
            kv_buf_deinit(&k);
            ASSERT_EQ(rc, KV_OK);
            m[j] = v;
            break;
        }
        }
        if (step % 50 == 0 || HasFatalFailure()) {
            check(0);
            check(1);
        }
        if (HasFatalFailure())
            FAIL() << "at step " << step;
    }
    end_rounds.Done();
    check(0);
    check(1);
    // The same after a restart.
    Reopen();
    check(0);
    check(1);
}

// Pops on a worker (staging its writes) read ahead after the second single pop in a row from one
// end (list_pop); what they return must still show every write made since by anyone.
class PopAheadTest : public ListTest {
  protected:
    void
    SetUp() override
    {
        ListTest::SetUp();
        storage_stage_enable(true);
        Strings e;
        for (int i = 0; i < 100; i++)
            e.push_back("e" + std::to_string(i));
        Push("q", e, false);
    }
    void
    TearDown() override
    {
        keylock_settle();
        storage_stage_enable(false);
        list_thread_exit();
        ListTest::TearDown();
    }
    std::string
    Pop1(bool left)
    {
        enum kv_code rc;
        Strings got = Pop("q", left, 1, &rc);
        EXPECT_TRUE(rc == KV_OK || rc == KV_NOTFOUND) << kv_code_name(rc) << " " << err_.msg;
        return got.size() == 1 ? got[0] : "<none>";
    }
    // Another thread without staging (its write is in the DB when it returns).
    void
    OtherThreadSets(int64_t index, const std::string &v)
    {
        enum kv_code rc = KV_ERR;
        std::thread t([&] { rc = list_set(&db_, S("q"), index, S(v), &err_); });
        t.join();
        ASSERT_EQ(rc, KV_OK) << err_.msg;
    }
};

TEST_F(PopAheadTest, RunsOfPopsFromEitherEnd)
{
    for (int i = 0; i < 40; i++)
        ASSERT_EQ(Pop1(true), "e" + std::to_string(i));
    for (int i = 99; i > 59; i--)
        ASSERT_EQ(Pop1(false), "e" + std::to_string(i));
    ASSERT_EQ(Pop1(true), "e40");
    ASSERT_EQ(Pop1(false), "e59");
    ASSERT_EQ(Pop1(true), "e41");
    EXPECT_EQ(Range("q").size(), 17u);
}

TEST_F(PopAheadTest, ElementsWrittenByThisThreadBetweenPopsAreSeen)
{
    ASSERT_EQ(Pop1(true), "e0");
    ASSERT_EQ(Pop1(true), "e1"); // reads ahead
    ASSERT_EQ(list_set(&db_, S("q"), 1, S("mine"), &err_), KV_OK);
    ASSERT_EQ(Pop1(true), "e2");
    ASSERT_EQ(Pop1(true), "mine");
    Push("q", {"pushed"}, true);
    ASSERT_EQ(Pop1(true), "pushed");
    ASSERT_EQ(Pop1(true), "e4");
    int64_t at = 0;
    ASSERT_EQ(list_insert(&db_, S("q"), true, S("e6"), S("ins"), &at, &err_), KV_OK);
    ASSERT_EQ(Pop1(true), "e5");
    ASSERT_EQ(Pop1(true), "ins");
    ASSERT_EQ(Pop1(true), "e6");
}

TEST_F(PopAheadTest, ElementsWrittenByOtherThreadsAfterTheRoundAreSeen)
{
    ASSERT_EQ(Pop1(false), "e99");
    ASSERT_EQ(Pop1(false), "e98"); // reads ahead
    keylock_settle();              // the round ends: the key's lock is released
    OtherThreadSets(-1, "theirs");
    ASSERT_EQ(Pop1(false), "theirs");
    ASSERT_EQ(Pop1(false), "e96");
}

TEST_F(PopAheadTest, RawBatchesOfOtherThreadsAreSeenAtOnce)
{
    ASSERT_EQ(Pop1(true), "e0");
    ASSERT_EQ(Pop1(true), "e1"); // reads ahead
    struct meta m;
    ASSERT_EQ(Meta("q", &m), KV_OK);
    ASSERT_EQ(storage_stage_commit(&err_), KV_OK) << err_.msg;
    // As APPLYBATCH on another worker: a raw batch, written without the key's lock.
    struct kv_buf k = KV_BUF_INIT;
    db_subkey_prefix(&db_, S("q"), m.version, &k);
    kv_buf_append_u64be(&k, m.list_head);
    enum kv_code rc = KV_ERR;
    std::thread t([&] {
        struct kv_err err;
        kv_err_clear(&err);
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&k), S("raw"));
        rc = storage_write_raw(st_, storage_batch_data(b), nullptr, &err);
        storage_batch_free(b);
    });
    t.join();
    kv_buf_deinit(&k);
    ASSERT_EQ(rc, KV_OK);
    ASSERT_EQ(Pop1(true), "raw");
    ASSERT_EQ(Pop1(true), "e3");
}

TEST_F(PopAheadTest, ADbOpenedLaterNeverShowsTheSameRawWriteCount)
{
    // A full sync swaps in another DB, possibly at the same address, between two rounds.
    keylock_settle();
    uint64_t before = storage_raw_writes(st_);
    Reopen();
    EXPECT_NE(storage_raw_writes(st_), before);
    Reopen();
    EXPECT_NE(storage_raw_writes(st_), before);
}

TEST_F(PopAheadTest, BigElementsAndARecreatedList)
{
    // Elements of 40 KiB: a read-ahead stops after 64 KiB, so pops read again and again.
    std::string big(40 << 10, 'b');
    Strings e;
    for (int i = 0; i < 10; i++)
        e.push_back(std::to_string(i) + big);
    Push("q", e, true);
    for (int i = 9; i >= 0; i--)
        ASSERT_EQ(Pop1(true), std::to_string(i) + big);
    ASSERT_EQ(Pop1(true), "e0");
    ASSERT_EQ(Pop1(true), "e1");
    // Deleted and created again in the same round: a new version, nothing of the old one.
    int64_t n = 0;
    struct kv_slice key = S("q");
    ASSERT_EQ(db_delete(&db_, &key, 1, &n, &err_), KV_OK) << err_.msg;
    ASSERT_EQ(n, 1);
    Push("q", {"a", "b", "c"}, false);
    ASSERT_EQ(Pop1(true), "a");
    ASSERT_EQ(Pop1(true), "b");
    ASSERT_EQ(Pop1(true), "c");
    ASSERT_EQ(Pop1(true), "<none>");
}

TEST_F(ListTest, RandomOperationsMatchAModel)
{
    RandomOperations(20240601, false);
}

TEST_F(ListTest, PopRunsInWorkerRoundsMatchAModel)
{
    RandomOperations(20261127, true);
}

// A big list: LLEN reads one record, LRANGE of a slice and LINDEX read only what they return
// (shown by removing a sub-key outside the slice: the slice still reads, the whole list does
// not), DEL is one metadata delete, and compaction then reclaims every sub-key.
TEST_F(ListTest, BigListSlicesDeleteAndCompaction)
{
    const int n = 100000;
    Strings chunk;
    for (int i = 0; i < n; i += 1000) {
        chunk.clear();
        for (int j = i; j < i + 1000; j++)
            chunk.push_back("element-" + std::to_string(j));
        Push("big", chunk, false);
    }
    EXPECT_EQ(Len("big"), (uint64_t)n);
    EXPECT_EQ(Range("big", 50000, 50002),
              (Strings{"element-50000", "element-50001", "element-50002"}));
    EXPECT_EQ(Range("big", -2, -1), (Strings{"element-99998", "element-99999"}));
    EXPECT_EQ(Index("big", 77777), "element-77777");

    struct meta m;
    ASSERT_EQ(Meta("big", &m), KV_OK);
    struct kv_buf k = KV_BUF_INIT;
    uint8_t idx[8];
    kv_put_u64be(idx, m.list_head + 10);
    db_subkey(&db_, S("big"), m.version, kv_slice_make(idx, 8), &k);
    struct storage_batch *b = storage_batch_new(st_);
    storage_batch_delete(b, KV_CF_SUBKEY, kv_buf_slice(&k));
    ASSERT_EQ(storage_write(st_, b, &err_), KV_OK);
    storage_batch_free(b);
    kv_buf_deinit(&k);
    EXPECT_EQ(Range("big", 11, 20).size(), 10u);
    EXPECT_EQ(Range("big", 90000, 90009).size(), 10u);
    struct list_values v = LIST_VALUES_INIT;
    EXPECT_EQ(list_range(&db_, S("big"), 0, 20, &v, &err_), KV_ERR_CORRUPT);
    list_values_deinit(&v);

    // DEL: only the metadata record goes.
    int64_t deleted = 0;
    struct kv_slice key = S("big");
    uint64_t seq = storage_latest_seq(st_);
    ASSERT_EQ(db_delete(&db_, &key, 1, &deleted, &err_), KV_OK);
    EXPECT_EQ(deleted, 1);
    EXPECT_EQ(storage_latest_seq(st_), seq + 1);
    EXPECT_EQ(Len("big"), 0u);
    EXPECT_EQ(StoredSubKeysAnyVersion("big"), (size_t)n - 1);
    // A new list under the same name starts empty.
    Push("big", {"fresh"}, false);
    EXPECT_EQ(Range("big"), Strings{"fresh"});

    ASSERT_EQ(storage_compact(st_, KV_CF_METADATA, S(""), S(""), &err_), KV_OK);
    ASSERT_EQ(storage_compact(st_, KV_CF_SUBKEY, S(""), S(""), &err_), KV_OK);
    EXPECT_EQ(StoredSubKeysAnyVersion("big"), 1u);
    EXPECT_EQ(Range("big"), Strings{"fresh"});
}

// Sub-keys left behind by a list that was trimmed to nothing are reclaimed by compaction too.
TEST_F(ListTest, TrimmedAwayListIsReclaimed)
{
    Strings e;
    for (int i = 0; i < 500; i++)
        e.push_back(std::to_string(i));
    Push("t", e, false);
    ASSERT_EQ(list_trim(&db_, S("t"), 1, 0, &err_), KV_OK);
    EXPECT_EQ(RawMeta("t"), "");
    EXPECT_EQ(StoredSubKeysAnyVersion("t"), 500u);
    ASSERT_EQ(storage_compact(st_, KV_CF_SUBKEY, S(""), S(""), &err_), KV_OK);
    EXPECT_EQ(StoredSubKeysAnyVersion("t"), 0u);
}

// Concurrent pushers, poppers and movers on the same keys: every element is accounted for.
TEST_F(ListTest, ConcurrentWritersLoseNothing)
{
    const int per_thread = 500;
    std::atomic<int> popped{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&, t] {
            struct kv_err err;
            for (int i = 0; i < per_thread; i++) {
                std::string v = std::to_string(t) + ":" + std::to_string(i);
                struct kv_slice s = kv_slice_make(v.data(), v.size());
                uint64_t len;
                ASSERT_EQ(list_push(&db_, S("c"), &s, 1, t % 2 == 0, false, &len, &err), KV_OK);
            }
        });
    }
    for (int t = 0; t < 2; t++) {
        threads.emplace_back([&] {
            struct kv_err err;
            struct kv_buf out = KV_BUF_INIT;
            for (int i = 0; i < per_thread; i++) {
                enum kv_code rc =
                    list_move(&db_, S("c"), S("d"), i % 2 == 0, i % 3 == 0, false, &out, &err);
                ASSERT_TRUE(rc == KV_OK || rc == KV_NOTFOUND);
            }
            kv_buf_deinit(&out);
        });
        threads.emplace_back([&] {
            struct kv_err err;
            struct list_values v = LIST_VALUES_INIT;
            for (int i = 0; i < per_thread; i++) {
                list_values_clear(&v);
                enum kv_code rc = list_pop(&db_, S("d"), i % 2 == 0, 2, false, &v, &err);
                ASSERT_TRUE(rc == KV_OK || rc == KV_NOTFOUND);
                popped += (int)v.n;
            }
            list_values_deinit(&v);
        });
    }
    for (auto &th : threads)
        th.join();
    Strings c = Range("c"), d = Range("d");
    EXPECT_EQ((int)(c.size() + d.size()) + popped.load(), 4 * per_thread);
    std::vector<std::string> all(c.begin(), c.end());
    all.insert(all.end(), d.begin(), d.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::unique(all.begin(), all.end()), all.end());
    if (!c.empty())
        ExpectNoStraySubKeys("c");
    if (!d.empty())
        ExpectNoStraySubKeys("d");
}

} // namespace
