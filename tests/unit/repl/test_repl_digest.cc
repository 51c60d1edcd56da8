// SPDX-License-Identifier: Apache-2.0
//
// repl_digest: the hash is XXH64, the digest does not depend on write order, and any change of
// a key, value, type or expiry changes it; slot ranges split it additively.
#include <string>
#include <vector>

#include "common/buf.h"
#include "common/slot.h"
#include "fixture.h"
#include "repl/repl_digest.h"
#include "storage/keys.h"
#include "storage/meta.h"

namespace {

const int64_t kNow = 1700000000000; // a fixed "now" for liveness

class DigestTest : public StorageTest {
  protected:
    // Write the metadata record of a string key.
    void
    PutString(const std::string &key, const std::string &value, uint64_t expire_ms = 0)
    {
        struct meta m;
        meta_init(&m, META_STRING);
        m.expire_ms = expire_ms;
        m.payload = S(value);
        Put(key, m);
    }

    void
    Put(const std::string &key, const struct meta &m)
    {
        struct kv_buf mk = KV_BUF_INIT, mv = KV_BUF_INIT;
        keys_meta_key(&mk, db_.ns, db_.cluster, S(key));
        meta_encode(&m, &mv);
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&mk), kv_buf_slice(&mv));
        Write(b);
        kv_buf_deinit(&mk);
        kv_buf_deinit(&mv);
    }

    // A hash-like key: metadata with `version` plus sub-keys in the default column family.
    void
    PutFields(const std::string &key, uint64_t version,
              const std::vector<std::pair<std::string, std::string>> &fields)
    {
        struct meta m;
        meta_init(&m, META_HASH);
        m.version = version;
        m.size = fields.size();
        struct storage_batch *b = storage_batch_new(st_);
        struct kv_buf sk = KV_BUF_INIT;
        for (const auto &f : fields) {
            keys_subkey(&sk, db_.ns, db_.cluster, S(key), version, S(f.first));
            storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), S(f.second));
        }
        Write(b);
        kv_buf_deinit(&sk);
        Put(key, m);
    }

    void
    Delete(const std::string &key)
    {
        struct kv_buf mk = KV_BUF_INIT;
        keys_meta_key(&mk, db_.ns, db_.cluster, S(key));
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_delete(b, KV_CF_METADATA, kv_buf_slice(&mk));
        Write(b);
        kv_buf_deinit(&mk);
    }

    void
    Write(struct storage_batch *b)
    {
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
        storage_batch_free(b);
    }

    struct repl_digest
    Digest(uint16_t lo = 0, uint16_t hi = SLOT_COUNT - 1)
    {
        struct repl_digest d = {};
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(repl_digest_compute(st_, db_.ns, db_.cluster, lo, hi, kNow, &d, &err), KV_OK)
            << err.msg;
        return d;
    }

    std::string
    Hex(const struct repl_digest &d)
    {
        char hex[33];
        repl_digest_hex(&d, hex);
        return hex;
    }
};

class ClusterDigestTest : public DigestTest {
  protected:
    bool
    Cluster() const override
    {
        return true;
    }
};

TEST(ReplDigestHash, Xxh64ReferenceVectors)
{
    EXPECT_EQ(repl_digest_xxh64("", 0, 0), 0xef46db3751d8e999ULL);
    EXPECT_EQ(repl_digest_xxh64("a", 1, 0), 0xd24ec4f1a98c6e5bULL);
    EXPECT_EQ(repl_digest_xxh64("abc", 3, 0), 0x44bc2cf5ad770999ULL);
    const std::string s = "Nobody inspects the spammish repetition";
    EXPECT_EQ(repl_digest_xxh64(s.data(), s.size(), 0), 0xfbcea83c8a378bf1ULL);
}

TEST_F(DigestTest, EmptyKeyspace)
{
    struct repl_digest d = Digest();
    EXPECT_EQ(Hex(d), std::string(32, '0'));
    EXPECT_EQ(d.keys, 0u);
    EXPECT_EQ(d.seq, storage_latest_seq(st_));
}

TEST_F(DigestTest, OrderIndependentAndSensitiveToEveryField)
{
    PutString("a", "1");
    PutString("b", "2", kNow + 100000);
    PutFields("h", 7, {{"f1", "v1"}, {"f2", "v2"}});
    struct repl_digest first = Digest();
    EXPECT_EQ(first.keys, 3u);
    std::string base = Hex(first);

    // The same logical data written in another order, through other versions and detours.
    Delete("a");
    Delete("b");
    Delete("h");
    PutFields("h", 99, {{"old", "x"}}); // an older incarnation: must not count once replaced
    PutFields("h", 1000, {{"f2", "v2"}, {"f1", "v1"}});
    PutString("b", "2", kNow + 100000);
    PutString("a", "junk");
    PutString("a", "1");
    struct repl_digest again = Digest();
    EXPECT_EQ(Hex(again), base);
    EXPECT_GT(again.seq, first.seq);

    std::vector<std::string> seen{base};
    auto changed = [&](const char *what) {
        std::string d = Hex(Digest());
        for (const auto &s : seen)
            EXPECT_NE(d, s) << what;
        seen.push_back(d);
    };
    PutString("a", "2");
    changed("one byte of a value");
    PutString("a", "1", kNow + 5000);
    changed("an expiry added");
    PutString("a", "1", kNow + 5001);
    changed("an expiry moved by 1 ms");
    PutString("a", "1");
    EXPECT_EQ(Hex(Digest()), base);
    PutFields("h", 1001, {{"f1", "v1"}, {"f2", "v3"}});
    changed("one field value");
    PutFields("h", 1002, {{"f1", "v1"}, {"f3", "v2"}});
    changed("one field name");
    PutFields("h", 1003, {{"f1", "v1"}, {"f2", "v2"}});
    EXPECT_EQ(Hex(Digest()), base);
    Delete("a");
    PutFields("a", 5, {{"1", ""}});
    changed("same key, another type");
}

TEST_F(DigestTest, ExpiredKeysAreLeftOut)
{
    PutString("stay", "1");
    std::string base = Hex(Digest());
    PutString("gone", "1", kNow - 1);
    PutString("now", "1", kNow); // gone from the millisecond it expires at
    struct repl_digest d = Digest();
    EXPECT_EQ(Hex(d), base);
    EXPECT_EQ(d.keys, 1u);
}

TEST_F(DigestTest, SlotRangesAddUp)
{
    for (int i = 0; i < 200; i++)
        PutString("k" + std::to_string(i), std::string(i % 17, 'x'));
    struct repl_digest all = Digest(), lo = Digest(0, 8191), hi = Digest(8192, 16383);
    EXPECT_EQ(lo.keys + hi.keys, all.keys);
    EXPECT_EQ(lo.lane[0] + hi.lane[0], all.lane[0]);
    EXPECT_EQ(lo.lane[1] + hi.lane[1], all.lane[1]);
    uint16_t slot = slot_of_key("k7", 2);
    struct repl_digest one = Digest(slot, slot);
    EXPECT_GE(one.keys, 1u);
}

TEST_F(ClusterDigestTest, SlotRangesInClusterMode)
{
    for (int i = 0; i < 100; i++)
        PutString("k" + std::to_string(i), "v");
    struct repl_digest all = Digest(), lo = Digest(0, 5000), hi = Digest(5001, 16383);
    EXPECT_EQ(all.keys, 100u);
    EXPECT_EQ(lo.keys + hi.keys, all.keys);
    EXPECT_EQ(lo.lane[0] + hi.lane[0], all.lane[0]);
    uint16_t slot = slot_of_key("k1", 2);
    EXPECT_GE(Digest(slot, slot).keys, 1u);
}

} // namespace
