// SPDX-License-Identifier: Apache-2.0
//
// compact_filter: write metadata and sub-keys straight through the storage API (tiny RocksDB
// buffers from the fixture), compact every column family, then list the raw column families and
// check exactly what survived (kvrocks-notes.md 2.8). Runs in both key layouts (with and
// without the cluster slot).
#include <set>
#include <stdint.h>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "common/buf.h"
#include "common/clock.h"
#include "fixture.h"
#include "storage/compact_filter.h"
#include "storage/keys.h"
#include "storage/meta.h"
#include "storage/storage.h"

namespace {

std::string
Str(struct kv_slice s)
{
    return std::string(s.ptr == nullptr ? "" : s.ptr, s.len);
}

const struct kv_slice kNone = {nullptr, 0};
const int64_t kMinute = 60 * 1000;

// One sub-key as (user key, version, sub-key), decoded back from the raw CF.
using SubKey = std::tuple<std::string, uint64_t, std::string>;

} // namespace

class CompactFilterTest : public StorageTest, public ::testing::WithParamInterface<bool> {
  protected:
    bool
    Cluster() const override
    {
        return GetParam();
    }

    struct kv_slice
    Ns(const std::string &ns)
    {
        return ns.empty() ? kv_slice_cstr(KEYS_DEFAULT_NAMESPACE) : S(ns);
    }

    std::string
    MetaKey(const std::string &key, const std::string &ns = "")
    {
        struct kv_buf b = KV_BUF_INIT;
        keys_meta_key(&b, Ns(ns), Cluster(), S(key));
        std::string out(b.ptr, b.len);
        kv_buf_deinit(&b);
        return out;
    }

    std::string
    SubKeyOf(const std::string &key, uint64_t version, const std::string &sub,
             const std::string &ns = "")
    {
        struct kv_buf b = KV_BUF_INIT;
        keys_subkey(&b, Ns(ns), Cluster(), S(key), version, S(sub));
        std::string out(b.ptr, b.len);
        kv_buf_deinit(&b);
        return out;
    }

    void
    Raw(enum kv_cf cf, const std::string &k, const std::string &v)
    {
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, cf, S(k), S(v));
        Write(b);
        storage_batch_free(b);
    }

    void
    Write(struct storage_batch *b)
    {
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
    }

    // A metadata record and its sub-keys in one batch, as a command would write them.
    uint64_t
    PutKey(const std::string &key, enum meta_type type, int64_t expire_ms,
           const std::vector<std::string> &subs, enum kv_cf cf = KV_CF_SUBKEY,
           const std::string &ns = "", uint64_t size = UINT64_MAX)
    {
        struct meta m;
        meta_init(&m, type);
        m.expire_ms = (uint64_t)expire_ms;
        m.size = size == UINT64_MAX ? subs.size() : size;
        struct kv_buf val = KV_BUF_INIT;
        meta_encode(&m, &val);
        struct storage_batch *b = storage_batch_new(st_);
        std::string mk = MetaKey(key, ns);
        storage_batch_put(b, KV_CF_METADATA, S(mk), kv_buf_slice(&val));
        for (const std::string &sub : subs) {
            std::string sk = SubKeyOf(key, m.version, sub, ns);
            storage_batch_put(b, cf, S(sk), kv_slice_cstr("value"));
        }
        Write(b);
        storage_batch_free(b);
        kv_buf_deinit(&val);
        return m.version;
    }

    void
    PutSub(enum kv_cf cf, const std::string &key, uint64_t version, const std::string &sub,
           const std::string &value = "value", const std::string &ns = "")
    {
        Raw(cf, SubKeyOf(key, version, sub, ns), value);
    }

    void
    DelMeta(const std::string &key, const std::string &ns = "")
    {
        struct storage_batch *b = storage_batch_new(st_);
        std::string mk = MetaKey(key, ns);
        storage_batch_delete(b, KV_CF_METADATA, S(mk));
        Write(b);
        storage_batch_free(b);
    }

    // Compact every column family in id order: the sub-key CFs (0, 2, 5) look metadata up while
    // it is still there, as in a server where compactions of different CFs interleave.
    void
    CompactAll()
    {
        for (int i = 0; i < KV_CF_COUNT; i++) {
            struct kv_err err;
            kv_err_clear(&err);
            ASSERT_EQ(storage_compact(st_, (enum kv_cf)i, kNone, kNone, &err), KV_OK) << err.msg;
        }
    }

    std::vector<std::string>
    RawKeys(enum kv_cf cf)
    {
        std::vector<std::string> out;
        struct storage_iter *it = storage_iter_new(st_, nullptr, cf, kNone, kNone);
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it))
            out.push_back(Str(storage_iter_key(it)));
        EXPECT_EQ(storage_iter_status(it, nullptr), KV_OK);
        storage_iter_free(it);
        return out;
    }

    // Decoded sub-keys of cf (namespace included in the user key as "ns/key" when not default).
    std::set<SubKey>
    SubKeys(enum kv_cf cf)
    {
        std::set<SubKey> out;
        for (const std::string &raw : RawKeys(cf)) {
            struct kv_slice ns, user, sub;
            uint64_t version = 0;
            if (keys_decode_subkey(S(raw), Cluster(), &ns, &user, &version, &sub) != KV_OK) {
                out.insert(SubKey("<raw>" + raw, 0, ""));
                continue;
            }
            std::string name = Str(user);
            if (Str(ns) != KEYS_DEFAULT_NAMESPACE)
                name = Str(ns) + "/" + name;
            out.insert(SubKey(name, version, Str(sub)));
        }
        return out;
    }

    // Files in level 0 of the sub-key CF (a string property).
    int
    L0Files()
    {
        struct kv_buf v = KV_BUF_INIT;
        int n = -1;
        if (storage_property(st_, KV_CF_SUBKEY, "rocksdb.num-files-at-level0", &v) == KV_OK)
            n = std::stoi(std::string(v.ptr, v.len));
        kv_buf_deinit(&v);
        return n;
    }

    std::set<std::string>
    MetaKeys()
    {
        std::set<std::string> out;
        for (const std::string &raw : RawKeys(KV_CF_METADATA)) {
            struct kv_slice ns, user;
            uint16_t slot = 0;
            if (keys_decode_meta_key(S(raw), Cluster(), &ns, &slot, &user) != KV_OK) {
                out.insert("<raw>" + raw);
                continue;
            }
            std::string name = Str(user);
            if (Str(ns) != KEYS_DEFAULT_NAMESPACE)
                name = Str(ns) + "/" + name;
            out.insert(name);
        }
        return out;
    }
};

INSTANTIATE_TEST_SUITE_P(Layouts, CompactFilterTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &info) {
                             return info.param ? std::string("Cluster") : std::string("Plain");
                         });

TEST_P(CompactFilterTest, DropsExactlyTheDeadSubKeys)
{
    const int64_t now = clock_now_ms();
    // Overwritten: v1 with a, b; then v2 with c, d.
    uint64_t v1 = PutKey("h", META_HASH, 0, {"a", "b"});
    uint64_t v2 = PutKey("h", META_HASH, 0, {"c", "d"});
    ASSERT_NE(v1, v2);
    // Deleted (metadata gone).
    uint64_t vdel = PutKey("deleted", META_HASH, 0, {"x", "y"});
    DelMeta("deleted");
    // Expired more than 5 minutes ago, and 1 minute ago.
    uint64_t vold = PutKey("old", META_SET, now - 10 * kMinute, {"m1", "m2"});
    uint64_t vrecent = PutKey("recent", META_SET, now - kMinute, {"r1", "r2"});
    // Live: no expiry, and an expiry in the future; sub-keys in every sub-key CF.
    uint64_t vlive = PutKey("live", META_ZSET, 0, {"z1"});
    PutSub(KV_CF_ZSET_SCORE, "live", vlive, "score+z1");
    uint64_t vfuture = PutKey("future", META_HASH, now + 60 * kMinute, {"f1"});
    uint64_t vstream = PutKey("stream", META_STREAM, 0, {"id1"}, KV_CF_STREAM);
    // Overwritten by a string: the old sub-keys go, the string stays.
    uint64_t vstr = PutKey("str", META_LIST, 0, {"e1"});
    {
        struct meta m;
        meta_init(&m, META_STRING);
        m.payload = kv_slice_cstr("now a string");
        struct kv_buf val = KV_BUF_INIT;
        meta_encode(&m, &val);
        Raw(KV_CF_METADATA, MetaKey("str"), std::string(val.ptr, val.len));
        kv_buf_deinit(&val);
    }
    // Emptied collection (size 0): dead; an empty stream is not.
    uint64_t vempty = PutKey("empty", META_HASH, 0, {"gone"}, KV_CF_SUBKEY, "", 0);
    uint64_t vestream = PutKey("estream", META_STREAM, 0, {"group"}, KV_CF_STREAM, "", 0);
    // Orphans: sub-keys of a key that never had metadata, in all three CFs.
    PutSub(KV_CF_SUBKEY, "orphan", 1, "o");
    PutSub(KV_CF_ZSET_SCORE, "orphan", 1, "o");
    PutSub(KV_CF_STREAM, "orphan", 1, "o");
    // Another namespace: the same user key lives there while the default one was deleted.
    uint64_t vns = PutKey("deleted", META_HASH, 0, {"n1"}, KV_CF_SUBKEY, "ns2");
    // Bitmaps: an all-zero segment goes, a segment with a bit set stays.
    uint64_t vbit = PutKey("bits", META_BITMAP, 0, {}, KV_CF_SUBKEY, "", 1125);
    PutSub(KV_CF_SUBKEY, "bits", vbit, "0", std::string(1024, '\0'));
    PutSub(KV_CF_SUBKEY, "bits", vbit, "1024", std::string(100, '\0') + "\x01");
    // Records that do not decode are kept.
    Raw(KV_CF_SUBKEY, "garbage", "v");
    Raw(KV_CF_METADATA, MetaKey("badmeta"), std::string("\x8f", 1));
    PutSub(KV_CF_SUBKEY, "badmeta", 77, "kept");
    // Pubsub messages and propagate records.
    Raw(KV_CF_PUBSUB, "channel", "message");
    Raw(KV_CF_PUBSUB, "channel2", "message2");
    Raw(KV_CF_PROPAGATE, "script", "SCRIPT FLUSH");
    Raw(KV_CF_SEARCH, "idx", "x");

    std::set<SubKey> before = SubKeys(KV_CF_SUBKEY);
    EXPECT_EQ(before.size(), 20u);

    CompactAll();

    std::string raw_garbage("<raw>garbage");
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY), (std::set<SubKey>{
                                         {"h", v2, "c"},
                                         {"h", v2, "d"},
                                         {"recent", vrecent, "r1"},
                                         {"recent", vrecent, "r2"},
                                         {"live", vlive, "z1"},
                                         {"future", vfuture, "f1"},
                                         {"ns2/deleted", vns, "n1"},
                                         {"bits", vbit, "1024"},
                                         {"badmeta", 77, "kept"},
                                         {raw_garbage, 0, ""},
                                     }));
    EXPECT_EQ(SubKeys(KV_CF_ZSET_SCORE), (std::set<SubKey>{{"live", vlive, "score+z1"}}));
    EXPECT_EQ(SubKeys(KV_CF_STREAM), (std::set<SubKey>{
                                         {"stream", vstream, "id1"},
                                         {"estream", vestream, "group"},
                                     }));
    // Metadata: expired and emptied records are gone; undecodable ones stay.
    EXPECT_EQ(MetaKeys(), (std::set<std::string>{"h", "live", "future", "stream", "str", "estream",
                                                 "ns2/deleted", "bits", "badmeta"}));
    EXPECT_EQ(RawKeys(KV_CF_PUBSUB).size(), 0u);
    EXPECT_EQ(RawKeys(KV_CF_PROPAGATE), std::vector<std::string>{"script"});
    EXPECT_EQ(RawKeys(KV_CF_SEARCH), std::vector<std::string>{"idx"});
    (void)vdel;
    (void)vold;
    (void)vstr;
    (void)vempty;

    // The recently expired key's sub-keys go once its metadata is gone (next compaction).
    CompactAll();
    std::set<SubKey> after = SubKeys(KV_CF_SUBKEY);
    EXPECT_EQ(after.count(SubKey("recent", vrecent, "r1")), 0u);
    EXPECT_EQ(after.count(SubKey("h", v2, "c")), 1u);
    EXPECT_EQ(after.size(), 8u);

    // Everything survives a reopen unchanged.
    Reopen();
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY), after);
}

TEST_P(CompactFilterTest, RecentlyExpiredSubKeysKeptWhileMetadataStays)
{
    // Compacting only the sub-key CF: an expiry within the grace period keeps sub-keys, one past
    // it drops them, whatever order the keys come in.
    const int64_t now = clock_now_ms();
    uint64_t a = PutKey("a", META_HASH, now - 4 * kMinute, {"1", "2"});
    uint64_t b = PutKey("b", META_HASH, now - 6 * kMinute, {"1", "2"});
    uint64_t c = PutKey("c", META_HASH, now - 4 * kMinute, {"1"});
    struct kv_err err;
    ASSERT_EQ(storage_compact(st_, KV_CF_SUBKEY, kNone, kNone, &err), KV_OK);
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY),
              (std::set<SubKey>{{"a", a, "1"}, {"a", a, "2"}, {"c", c, "1"}}));
    (void)b;
    // Readers already treat all three as gone; the metadata filter drops all three.
    ASSERT_EQ(storage_compact(st_, KV_CF_METADATA, kNone, kNone, &err), KV_OK);
    EXPECT_EQ(MetaKeys().size(), 0u);
}

TEST_P(CompactFilterTest, NeverDropsLiveKeys)
{
    // Many live keys of mixed types, interleaved with dead ones, written across several
    // memtables and compacted twice: every live record stays, byte for byte.
    const int64_t now = clock_now_ms();
    std::set<SubKey> live_subs;
    std::set<std::string> live_meta;
    std::string big(300, 'v');
    for (int i = 0; i < 600; i++) {
        std::string key = "key:" + std::to_string(i);
        std::vector<std::string> subs;
        for (int f = 0; f < 5; f++)
            subs.push_back("field" + std::to_string(f));
        switch (i % 4) {
        case 0: { // live, no expiry
            uint64_t v = PutKey(key, META_HASH, 0, subs);
            for (const auto &s : subs)
                live_subs.insert(SubKey(key, v, s));
            live_meta.insert(key);
            break;
        }
        case 1: { // live, expires in an hour
            uint64_t v = PutKey(key, META_SET, now + 60 * kMinute, subs);
            for (const auto &s : subs)
                live_subs.insert(SubKey(key, v, s));
            live_meta.insert(key);
            break;
        }
        case 2: // deleted
            PutKey(key, META_HASH, 0, subs);
            DelMeta(key);
            break;
        case 3: { // overwritten: only the second version lives
            PutKey(key, META_HASH, 0, subs);
            uint64_t v = PutKey(key, META_HASH, 0, {"only"});
            live_subs.insert(SubKey(key, v, "only"));
            live_meta.insert(key);
            break;
        }
        }
        Raw(KV_CF_PROPAGATE, "pad:" + std::to_string(i), big); // more memtable churn
    }
    CompactAll();
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY), live_subs);
    EXPECT_EQ(MetaKeys(), live_meta);
    CompactAll();
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY), live_subs);
    EXPECT_EQ(MetaKeys(), live_meta);
    // Values untouched.
    struct kv_buf val = KV_BUF_INIT;
    struct kv_err err;
    std::string mk = MetaKey("key:0");
    ASSERT_EQ(storage_get(st_, nullptr, KV_CF_METADATA, S(mk), &val, &err), KV_OK);
    struct meta m;
    ASSERT_EQ(meta_decode(kv_buf_slice(&val), &m), KV_OK);
    EXPECT_EQ(m.type, META_HASH);
    EXPECT_EQ(m.size, 5u);
    std::string sk = SubKeyOf("key:0", m.version, "field3");
    ASSERT_EQ(storage_get(st_, nullptr, KV_CF_SUBKEY, S(sk), &val, &err), KV_OK);
    EXPECT_EQ(std::string(val.ptr, val.len), "value");
    kv_buf_deinit(&val);
}

TEST_P(CompactFilterTest, AutomaticCompactionsAndCloseAreClean)
{
    // Background compactions run the filters while writes continue; closing in the middle must
    // neither crash nor leak (run under ASan), and reopening finds the live data.
    const int64_t now = clock_now_ms();
    std::string big(2000, 'p');
    uint64_t v = PutKey("keep", META_HASH, 0, {"f"});
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 800; i++) {
            std::string key = "k" + std::to_string(round) + ":" + std::to_string(i);
            PutKey(key, META_HASH, i % 2 ? now - 10 * kMinute : 0, {big});
            Raw(KV_CF_PUBSUB, key, big);
        }
        Reopen();
    }
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY).count(SubKey("keep", v, "f")), 1u);
    CompactAll();
    std::set<SubKey> subs = SubKeys(KV_CF_SUBKEY);
    EXPECT_EQ(subs.size(), 1u + 3 * 400);
    EXPECT_EQ(subs.count(SubKey("keep", v, "f")), 1u);
    for (const SubKey &sk : subs) {
        const std::string &key = std::get<0>(sk);
        if (key != "keep") {
            int i = std::stoi(key.substr(key.find(':') + 1));
            EXPECT_EQ(i % 2, 0) << key;
        }
    }
    EXPECT_EQ(MetaKeys().size(), 1u + 3 * 400);
    EXPECT_EQ(RawKeys(KV_CF_PUBSUB).size(), 0u);
}

TEST_P(CompactFilterTest, CompactionStartedAtOpenFilters)
{
    // L0 files left by the previous run make RocksDB compact right after opening: the sub-key
    // filter must already see the metadata then, or it keeps everything it reads.
    cfg_->rocksdb_disable_auto_compactions = true;
    Reopen();
    const int64_t now = clock_now_ms();
    std::set<SubKey> live;
    for (int file = 0; file < 6; file++) {
        for (int i = 0; i < 50; i++) {
            std::string key = "f" + std::to_string(file) + ":" + std::to_string(i);
            uint64_t v = PutKey(key, META_HASH, i % 2 ? now - 10 * kMinute : 0, {"a", "b"});
            if (i % 2 == 0) {
                live.insert(SubKey(key, v, "a"));
                live.insert(SubKey(key, v, "b"));
            }
        }
        struct kv_err err;
        ASSERT_EQ(storage_flush(st_, &err), KV_OK) << err.msg;
    }
    ASSERT_GE(L0Files(), 4);
    cfg_->rocksdb_disable_auto_compactions = false;
    Reopen();
    // Wait for the automatic compaction of the sub-key CF (trigger: 4 L0 files).
    int64_t deadline = clock_mono_ms() + 20000;
    while (L0Files() > 0 ||
           storage_property_int(st_, KV_CF_SUBKEY, "rocksdb.num-running-compactions") > 0) {
        ASSERT_LT(clock_mono_ms(), deadline) << "no automatic compaction";
        clock_sleep_ms(10);
    }
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY), live);
}

TEST_P(CompactFilterTest, CompactAllReclaimsExpiredKeysAtOnce)
{
    // Expired within the grace period: compacting the sub-key CFs alone would keep the sub-keys
    // (see above). storage_compact_all compacts the metadata CF first, so they go at once, in
    // every sub-key CF, while a live key keeps everything.
    const int64_t now = clock_now_ms();
    uint64_t gone = PutKey("gone", META_ZSET, now - kMinute, {"1", "2"});
    PutSub(KV_CF_ZSET_SCORE, "gone", gone, "score1");
    uint64_t live = PutKey("live", META_ZSET, 0, {"1"});
    PutSub(KV_CF_ZSET_SCORE, "live", live, "score1");
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(storage_compact_all(st_, &err), KV_OK) << err.msg;
    EXPECT_EQ(MetaKeys(), (std::set<std::string>{"live"}));
    EXPECT_EQ(SubKeys(KV_CF_SUBKEY), (std::set<SubKey>{{"live", live, "1"}}));
    EXPECT_EQ(SubKeys(KV_CF_ZSET_SCORE), (std::set<SubKey>{{"live", live, "score1"}}));
}
