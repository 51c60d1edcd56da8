// SPDX-License-Identifier: Apache-2.0
//
// rowcache: the contract of rowcache.h, checked from outside. A NULL cache does nothing; a
// reader's fill is an exact copy and is refused when a writer of its bucket was busy at the miss
// or began after it; a writer installs only a key that was cached, only at its end, only when it
// was alone in the bucket and succeeded; a bulk write makes every lookup miss while it runs and
// every entry stale after; a bucket holds 4 entries replaced least recently used first; and
// under concurrent readers, keyed writers and an unkeyed writer every hit is a value the
// "database" held at some instant during the lookup.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/buf.h"
#include "slice_util.h"
#include "storage/rowcache.h"

namespace {

struct CacheFree {
    void
    operator()(struct rowcache *c) const
    {
        rowcache_free(c);
    }
};
using Cache = std::unique_ptr<struct rowcache, CacheFree>;

// A cache of exactly `buckets` buckets: rowcache_new(1) has one, and its size is one bucket's.
Cache
NewCache(size_t buckets)
{
    Cache one(rowcache_new(1));
    size_t per = rowcache_stats(one.get()).bytes;
    Cache c(rowcache_new(per * buckets));
    EXPECT_EQ(rowcache_stats(c.get()).bytes, per * buckets);
    return c;
}

// What a lookup returned: the kind and, for a value, the bytes.
struct Got {
    enum rowcache_hit hit;
    std::string val;
    struct rowcache_ticket miss;
};

Got
Get(struct rowcache *c, const std::string &key)
{
    struct kv_buf b = KV_BUF_INIT;
    kv_buf_set(&b, "stale bytes the hit must replace", 32);
    Got g;
    g.hit = rowcache_get(c, S(key), &b, &g.miss);
    if (g.hit == ROWCACHE_VALUE)
        g.val.assign(b.ptr == nullptr ? "" : b.ptr, b.len);
    kv_buf_deinit(&b);
    return g;
}

// The lookup's kind only.
enum rowcache_hit
Kind(struct rowcache *c, const std::string &key)
{
    return Get(c, key).hit;
}

// Fill key from a miss ticket: a value, or (val NULL) the key's absence.
void
Fill(struct rowcache *c, const std::string &key, const struct rowcache_ticket &t,
     const std::string *val)
{
    if (val == nullptr) {
        rowcache_fill(c, S(key), &t, nullptr);
    } else {
        struct kv_slice v = S(*val);
        rowcache_fill(c, S(key), &t, &v);
    }
}

// A reader's whole protocol: a lookup that must miss, then a fill with what it "read".
void
Load(struct rowcache *c, const std::string &key, const std::string *val)
{
    Got g = Get(c, key);
    ASSERT_EQ(g.hit, ROWCACHE_MISS) << key;
    Fill(c, key, g.miss, val);
}

void
LoadValue(struct rowcache *c, const std::string &key, const std::string &val)
{
    Load(c, key, &val);
}

// One writer's records; the strings are owned here so the slices stay valid from begin to end.
class Write {
  public:
    Write &
    Put(const std::string &key, const std::string &val)
    {
        recs_.push_back({key, val, true});
        return *this;
    }
    Write &
    Del(const std::string &key)
    {
        recs_.push_back({key, "", false});
        return *this;
    }
    void
    Begin(struct rowcache *c)
    {
        w_.assign(recs_.size(), rowcache_write{});
        for (size_t i = 0; i < recs_.size(); i++) {
            w_[i].key = S(recs_[i].key);
            w_[i].val = S(recs_[i].val);
            w_[i].put = recs_[i].put;
        }
        rowcache_begin(c, w_.data(), w_.size());
    }
    void
    End(struct rowcache *c, bool ok = true)
    {
        rowcache_end(c, w_.data(), w_.size(), ok);
    }
    void
    Run(struct rowcache *c, bool ok = true)
    {
        Begin(c);
        End(c, ok);
    }

  private:
    struct Rec {
        std::string key, val;
        bool put;
    };
    std::vector<Rec> recs_;
    std::vector<struct rowcache_write> w_;
};

TEST(RowCache, NullCacheDoesNothing)
{
    struct rowcache *c = rowcache_new(0);
    ASSERT_EQ(c, nullptr);
    std::string v = "v", big(1000, 'x');
    struct kv_buf b = KV_BUF_INIT;
    kv_buf_set(&b, "keep", 4);
    struct rowcache_ticket t = {};
    EXPECT_EQ(rowcache_get(c, S("k"), &b, &t), ROWCACHE_MISS);
    EXPECT_EQ(std::string(b.ptr, b.len), "keep"); // the caller's buffer is left alone
    struct kv_slice vs = S(v);
    rowcache_fill(c, S("k"), &t, &vs);
    rowcache_fill(c, S("k"), &t, nullptr);
    EXPECT_EQ(rowcache_get(c, S("k"), &b, &t), ROWCACHE_MISS); // a fill installed nothing
    struct rowcache_write w[2] = {};
    w[0].key = S("k");
    w[0].val = S(v);
    w[0].put = true;
    w[1].key = S("j");
    rowcache_begin(c, w, 2);
    rowcache_end(c, w, 2, true);
    rowcache_bulk_begin(c);
    rowcache_bulk_end(c);
    EXPECT_EQ(rowcache_get(c, S("k"), &b, &t), ROWCACHE_MISS); // nor did a write
    EXPECT_EQ(rowcache_get(c, S("j"), &b, &t), ROWCACHE_MISS);
    EXPECT_EQ(std::string(b.ptr, b.len), "keep");
    EXPECT_EQ(rowcache_stats(c).hits, 0u);
    EXPECT_EQ(rowcache_stats(c).misses, 0u);
    EXPECT_EQ(rowcache_stats(c).bytes, 0u);
    rowcache_free(c);
    kv_buf_deinit(&b);
}

TEST(RowCache, AtLeastOneBucket)
{
    Cache c(rowcache_new(1));
    ASSERT_NE(c.get(), nullptr);
    EXPECT_GT(rowcache_stats(c.get()).bytes, 0u);
    LoadValue(c.get(), "k", "v"); // and that one bucket works
    Got g = Get(c.get(), "k");
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "v");
}

TEST(RowCache, FillThenHitIsAnExactCopy)
{
    Cache c(rowcache_new(64 << 10));
    ASSERT_NE(c.get(), nullptr);
    EXPECT_EQ(rowcache_stats(c.get()).hits, 0u);
    EXPECT_EQ(rowcache_stats(c.get()).misses, 0u);

    const std::string key("k\0x", 3), other("k\0y", 3);
    const std::string val("a\0b\xff\0\x01z", 7);
    Got g = Get(c.get(), key);
    ASSERT_EQ(g.hit, ROWCACHE_MISS);
    EXPECT_EQ(rowcache_stats(c.get()).misses, 1u);
    EXPECT_EQ(rowcache_stats(c.get()).hits, 0u);
    Fill(c.get(), key, g.miss, &val);

    g = Get(c.get(), key);
    ASSERT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, val); // all 7 bytes, NULs included, and the buffer's old bytes gone
    EXPECT_EQ(g.val.size(), 7u);
    EXPECT_EQ(rowcache_stats(c.get()).hits, 1u);
    EXPECT_EQ(rowcache_stats(c.get()).misses, 1u);
    g = Get(c.get(), key); // a hit does not consume the entry
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, val);
    EXPECT_EQ(rowcache_stats(c.get()).hits, 2u);

    // Keys that differ after an embedded NUL, or are a prefix, are other keys.
    EXPECT_EQ(Kind(c.get(), other), ROWCACHE_MISS);
    EXPECT_EQ(Kind(c.get(), std::string("k")), ROWCACHE_MISS);
    EXPECT_EQ(Kind(c.get(), std::string("k\0xx", 4)), ROWCACHE_MISS);
    EXPECT_EQ(rowcache_stats(c.get()).misses, 4u);

    // Absent (val NULL): a hit of kind ABSENT, counted as a hit.
    Load(c.get(), "gone", nullptr);
    EXPECT_EQ(rowcache_stats(c.get()).misses, 5u);
    EXPECT_EQ(Kind(c.get(), "gone"), ROWCACHE_ABSENT);
    EXPECT_EQ(rowcache_stats(c.get()).hits, 3u);

    // An empty value is a value, not an absence.
    LoadValue(c.get(), "empty", "");
    g = Get(c.get(), "empty");
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "");
    EXPECT_EQ(rowcache_stats(c.get()).hits, 4u);
    EXPECT_EQ(rowcache_stats(c.get()).misses, 6u);

    // The cache copied the bytes: the caller's memory may change after the fill.
    std::string mutable_val = "original";
    LoadValue(c.get(), "copied", mutable_val);
    mutable_val.assign("XXXXXXXX");
    g = Get(c.get(), "copied");
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "original");

    // The empty key is a key like any other.
    const std::string empty_key;
    LoadValue(c.get(), empty_key, "for the empty key");
    g = Get(c.get(), empty_key);
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "for the empty key");
}

TEST(RowCache, KeyAndValueLongerThanAnEntryAreNotCached)
{
    Cache c(rowcache_new(64 << 10));
    const std::string k = "k"; // 1 byte
    const std::string fits(ROWCACHE_ENTRY_BYTES - 1, '\0');
    const std::string too_long(ROWCACHE_ENTRY_BYTES, 'x');

    LoadValue(c.get(), k, fits); // exactly ROWCACHE_ENTRY_BYTES together: cached
    Got g = Get(c.get(), k);
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, fits);

    LoadValue(c.get(), "k2", too_long); // one byte more: not cached
    EXPECT_EQ(Kind(c.get(), "k2"), ROWCACHE_MISS);

    // An absent key is cached if the key alone fits.
    const std::string key_fits(ROWCACHE_ENTRY_BYTES, 'a'),
        key_too_long(ROWCACHE_ENTRY_BYTES + 1, 'a');
    Load(c.get(), key_fits, nullptr);
    EXPECT_EQ(Kind(c.get(), key_fits), ROWCACHE_ABSENT);
    Load(c.get(), key_too_long, nullptr);
    EXPECT_EQ(Kind(c.get(), key_too_long), ROWCACHE_MISS);
}

TEST(RowCache, LongerValueDropsTheExistingEntry)
{
    Cache c(rowcache_new(64 << 10));
    const std::string too_long(ROWCACHE_ENTRY_BYTES, 'x');

    // By a fill: two readers miss; the first installs a short value, the second (also entitled
    // to fill, no writer came) offers one too long for an entry: the old entry must not survive.
    Got a = Get(c.get(), "k");
    Got b = Get(c.get(), "k");
    ASSERT_EQ(a.hit, ROWCACHE_MISS);
    ASSERT_EQ(b.hit, ROWCACHE_MISS);
    std::string shortv = "short";
    Fill(c.get(), "k", a.miss, &shortv);
    ASSERT_EQ(Kind(c.get(), "k"), ROWCACHE_VALUE);
    Fill(c.get(), "k", b.miss, &too_long);
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // By a write: a short put installs (the baseline), a long put leaves the key uncached.
    LoadValue(c.get(), "w", "v0");
    Write().Put("w", "v1").Run(c.get());
    Got g = Get(c.get(), "w");
    ASSERT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "v1");
    Write().Put("w", too_long).Run(c.get());
    EXPECT_EQ(Kind(c.get(), "w"), ROWCACHE_MISS);
    // ... and so does the next short put: the key was not cached before it.
    Write().Put("w", "v2").Run(c.get());
    EXPECT_EQ(Kind(c.get(), "w"), ROWCACHE_MISS);
}

TEST(RowCache, WriteOfAnUncachedKeyInstallsNothing)
{
    Cache c = NewCache(1);
    Write().Put("k", "v").Run(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);
    Write().Del("k").Run(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);
    // Another key cached in the same bucket does not make this one count as cached.
    LoadValue(c.get(), "other", "o");
    Write().Put("k", "v").Run(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);
    EXPECT_EQ(Kind(c.get(), "other"), ROWCACHE_VALUE);
}

TEST(RowCache, WriteOfACachedKeyInstallsAtEnd)
{
    Cache c = NewCache(1);
    LoadValue(c.get(), "k", "old");

    Write put;
    put.Put("k", std::string("n\0ew", 4));
    put.Begin(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS); // between begin and end: a miss
    put.End(c.get());
    Got g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, std::string("n\0ew", 4));

    Write del;
    del.Del("k");
    del.Begin(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);
    del.End(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_ABSENT);

    // An absent entry is cached too: a put over it installs the value.
    Write().Put("k", "back").Run(c.get());
    g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "back");

    // Writes follow one another: each installs over the last.
    Write().Del("k").Run(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_ABSENT);
    Write().Put("k", "again").Run(c.get());
    g = Get(c.get(), "k");
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "again");
}

TEST(RowCache, FailedWriteInstallsNothing)
{
    Cache c = NewCache(1);
    LoadValue(c.get(), "k", "old");
    Write w;
    w.Put("k", "new");
    w.Begin(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);
    w.End(c.get(), false);
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS); // neither the new value nor the old one

    LoadValue(c.get(), "d", "old");
    Write().Del("d").Run(c.get(), false);
    EXPECT_EQ(Kind(c.get(), "d"), ROWCACHE_MISS);

    // The bucket is usable again afterwards.
    LoadValue(c.get(), "k", "old");
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_VALUE);
}

TEST(RowCache, FillRefusedWhenAWriterOfTheBucketBeganAfterTheMiss)
{
    Cache c = NewCache(1); // one bucket: every key shares it
    std::string v = "v";

    // Began after the miss and still busy at the fill.
    Got g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_MISS);
    Write other;
    other.Put("other", "o");
    other.Begin(c.get());
    Fill(c.get(), "k", g.miss, &v);
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);
    other.End(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // Began and ended between the miss and the fill.
    g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_MISS);
    Write().Del("other").Run(c.get());
    Fill(c.get(), "k", g.miss, &v);
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // A failed write counts too: it may have written part of what it meant to.
    g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_MISS);
    Write().Put("other", "o").Run(c.get(), false);
    Fill(c.get(), "k", g.miss, nullptr);
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // A writer of the same key, of course.
    g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_MISS);
    Write().Put("k", "new").Run(c.get());
    Fill(c.get(), "k", g.miss, &v);
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // With no writer between a fresh miss and its fill, the fill is allowed again.
    LoadValue(c.get(), "k", "v");
    Got h = Get(c.get(), "k");
    EXPECT_EQ(h.hit, ROWCACHE_VALUE);
    EXPECT_EQ(h.val, "v");
}

TEST(RowCache, FillRefusedWhenAWriterWasBusyAtTheMiss)
{
    Cache c = NewCache(1);
    std::string v = "v";
    Write other;
    other.Put("other", "o");
    other.Begin(c.get());
    Got g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_MISS);
    other.End(c.get());
    Fill(c.get(), "k", g.miss, &v); // no writer between miss and fill, but one busy at the miss
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // Even a fill made while the writer is still busy.
    Write again;
    again.Del("other");
    again.Begin(c.get());
    g = Get(c.get(), "k");
    ASSERT_EQ(g.hit, ROWCACHE_MISS);
    Fill(c.get(), "k", g.miss, nullptr);
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);
    again.End(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // Allowed again once no writer is busy at the miss.
    LoadValue(c.get(), "k", "v");
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_VALUE);
}

TEST(RowCache, OverlappingWritersInOneBucketInstallNothing)
{
    Cache c = NewCache(1);

    // Two writers of one key (a raw batch beside a command): the first ends first.
    LoadValue(c.get(), "k", "v0");
    Write w1, w2;
    w1.Put("k", "v1");
    w2.Put("k", "v2");
    w1.Begin(c.get());
    w2.Begin(c.get());
    w1.End(c.get());
    w2.End(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // The second ends first.
    LoadValue(c.get(), "k", "v2");
    Write w3, w4;
    w3.Put("k", "v3");
    w4.Del("k");
    w3.Begin(c.get());
    w4.Begin(c.get());
    w4.End(c.get());
    w3.End(c.get());
    EXPECT_EQ(Kind(c.get(), "k"), ROWCACHE_MISS);

    // Two keys of one bucket, each cached, the second writer wholly inside the first: when the
    // first ends it is alone again, but the bucket was touched meanwhile.
    LoadValue(c.get(), "a", "a0");
    LoadValue(c.get(), "b", "b0");
    Write wa, wb;
    wa.Put("a", "a1");
    wb.Put("b", "b1");
    wa.Begin(c.get());
    wb.Begin(c.get());
    wb.End(c.get());
    wa.End(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);
    EXPECT_EQ(Kind(c.get(), "b"), ROWCACHE_MISS);

    // Once they are gone, a lone writer installs again.
    LoadValue(c.get(), "a", "a1");
    Write().Put("a", "a2").Run(c.get());
    Got g = Get(c.get(), "a");
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "a2");
}

// Same key twice in one batch: whatever the cache holds afterwards, it is not the first record.
TEST(RowCache, SameKeyTwiceInOneBatchNeverKeepsTheFirst)
{
    Cache c(rowcache_new(64 << 10));

    LoadValue(c.get(), "k", "v0");
    Write().Put("k", "first").Del("k").Run(c.get());
    Got g = Get(c.get(), "k");
    EXPECT_TRUE(g.hit == ROWCACHE_MISS || g.hit == ROWCACHE_ABSENT) << g.hit << " " << g.val;

    Cache c2(rowcache_new(64 << 10));
    LoadValue(c2.get(), "k", "v0");
    Write().Del("k").Put("k", "last").Run(c2.get());
    g = Get(c2.get(), "k");
    EXPECT_TRUE(g.hit == ROWCACHE_MISS || (g.hit == ROWCACHE_VALUE && g.val == "last"))
        << g.hit << " " << g.val;

    Cache c3(rowcache_new(64 << 10));
    LoadValue(c3.get(), "k", "v0");
    Write().Put("k", "first").Put("k", "last").Run(c3.get());
    g = Get(c3.get(), "k");
    EXPECT_TRUE(g.hit == ROWCACHE_MISS || (g.hit == ROWCACHE_VALUE && g.val == "last"))
        << g.hit << " " << g.val;

    // Not even between: a lookup during the batch misses.
    Cache c4(rowcache_new(64 << 10));
    LoadValue(c4.get(), "k", "v0");
    Write w;
    w.Put("k", "first").Del("k");
    w.Begin(c4.get());
    EXPECT_EQ(Kind(c4.get(), "k"), ROWCACHE_MISS);
    w.End(c4.get());
    g = Get(c4.get(), "k");
    EXPECT_TRUE(g.hit == ROWCACHE_MISS || g.hit == ROWCACHE_ABSENT) << g.hit << " " << g.val;
}

TEST(RowCache, BulkWriteMissesWhileRunningAndStalesAfter)
{
    Cache c(rowcache_new(64 << 10));
    std::string v = "v";
    LoadValue(c.get(), "a", "a0");
    Load(c.get(), "z", nullptr);
    Got before = Get(c.get(), "b"); // a ticket from before the bulk write
    ASSERT_EQ(before.hit, ROWCACHE_MISS);

    rowcache_bulk_begin(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);
    EXPECT_EQ(Kind(c.get(), "z"), ROWCACHE_MISS);
    Got during = Get(c.get(), "d");
    ASSERT_EQ(during.hit, ROWCACHE_MISS);
    Fill(c.get(), "d", during.miss, &v); // refused: a bulk write is running
    EXPECT_EQ(Kind(c.get(), "d"), ROWCACHE_MISS);
    Fill(c.get(), "b", before.miss, &v); // refused: the bulk write began after its miss
    EXPECT_EQ(Kind(c.get(), "b"), ROWCACHE_MISS);
    rowcache_bulk_end(c.get());

    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS); // stale now
    EXPECT_EQ(Kind(c.get(), "z"), ROWCACHE_MISS);
    EXPECT_EQ(Kind(c.get(), "d"), ROWCACHE_MISS);
    Fill(c.get(), "d", during.miss, &v); // a ticket from during the bulk write: still refused
    EXPECT_EQ(Kind(c.get(), "d"), ROWCACHE_MISS);
    Fill(c.get(), "b", before.miss, &v); // and from before it
    EXPECT_EQ(Kind(c.get(), "b"), ROWCACHE_MISS);

    // A write of a key whose entry went stale does not install it (it was not cached).
    Write().Put("a", "a1").Run(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);

    // Fresh fills work.
    LoadValue(c.get(), "a", "a2");
    Got g = Get(c.get(), "a");
    EXPECT_EQ(g.hit, ROWCACHE_VALUE);
    EXPECT_EQ(g.val, "a2");

    // A writer that began before a bulk write and ended after it installs nothing.
    Write w;
    w.Put("a", "a3");
    w.Begin(c.get());
    rowcache_bulk_begin(c.get());
    rowcache_bulk_end(c.get());
    w.End(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);

    // Nor does a writer that ends while a bulk write runs.
    LoadValue(c.get(), "a", "a3");
    Write w2;
    w2.Put("a", "a4");
    w2.Begin(c.get());
    rowcache_bulk_begin(c.get());
    w2.End(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);
    rowcache_bulk_end(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);

    // Two bulk writes at once: until both end, lookups miss and fills are refused.
    LoadValue(c.get(), "a", "a4");
    rowcache_bulk_begin(c.get());
    rowcache_bulk_begin(c.get());
    rowcache_bulk_end(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);
    Got mid = Get(c.get(), "e");
    ASSERT_EQ(mid.hit, ROWCACHE_MISS);
    Fill(c.get(), "e", mid.miss, &v);
    EXPECT_EQ(Kind(c.get(), "e"), ROWCACHE_MISS);
    rowcache_bulk_end(c.get());
    EXPECT_EQ(Kind(c.get(), "a"), ROWCACHE_MISS);
    LoadValue(c.get(), "e", "e1");
    EXPECT_EQ(Kind(c.get(), "e"), ROWCACHE_VALUE);
}

TEST(RowCache, LruWithinABucketOfFourWays)
{
    Cache c = NewCache(1); // one bucket of 4 ways
    for (const char *k : {"A", "B", "C", "D"})
        LoadValue(c.get(), k, std::string("v") + k);
    for (const char *k : {"A", "B", "C", "D"})
        ASSERT_EQ(Kind(c.get(), k), ROWCACHE_VALUE) << k; // four fit; uses A, B, C, D in order
    EXPECT_EQ(Kind(c.get(), "A"), ROWCACHE_VALUE);        // now C is the least recently used
    EXPECT_EQ(Kind(c.get(), "B"), ROWCACHE_VALUE);
    LoadValue(c.get(), "E", "vE"); // evicts C
    LoadValue(c.get(), "F", "vF"); // then D
    EXPECT_EQ(Kind(c.get(), "C"), ROWCACHE_MISS);
    EXPECT_EQ(Kind(c.get(), "D"), ROWCACHE_MISS);
    for (const char *k : {"A", "B", "E", "F"}) {
        Got g = Get(c.get(), k);
        EXPECT_EQ(g.hit, ROWCACHE_VALUE) << k;
        EXPECT_EQ(g.val, std::string("v") + k);
    }

    // A slot freed by a writer's begin (its write failed) is reused before any live entry.
    Write().Put("A", "x").Run(c.get(), false);
    LoadValue(c.get(), "G", "vG");
    for (const char *k : {"B", "E", "F", "G"})
        EXPECT_EQ(Kind(c.get(), k), ROWCACHE_VALUE) << k;
}

// Concurrency: readers (rowcache_get; on a miss, read the "database" and rowcache_fill), keyed
// writers (a per-key mutex held around begin..end) and one raw writer (no key mutex, batches
// that may name a key twice, a failed write now and then, a bulk delete now and then). Every
// database write has a global sequence number, and every value carries its own. A hit must be
// what the database held at some instant during the lookup: a value whose sequence is at least
// that of the latest write of the key that had ended before the lookup began (and byte for
// byte what that write wrote); an absence needs a delete at least that recent.
constexpr int kKeys = 16;
constexpr size_t kHeader = 25; // "kNN:<16 hex seq>:<3 digit pad>:"

std::string
KeyName(int k)
{
    char b[16];
    snprintf(b, sizeof b, "key-%02d", k);
    return b;
}

// The value key k's write `seq` writes, `pad` bytes of binary padding after the header.
void
FormatValue(char *out, int k, uint64_t seq, unsigned pad)
{
    char h[kHeader + 1];
    snprintf(h, sizeof h, "k%02d:%016llx:%03u:", k, (unsigned long long)seq, pad);
    memcpy(out, h, kHeader);
    for (unsigned i = 0; i < pad; i++)
        out[kHeader + i] = (char)(uint8_t)(seq * 31 + i * 7); // NULs and high bytes included
}

// The sequence in a value, or 0 when it is not exactly a value FormatValue makes for key k.
uint64_t
ParseValue(const std::string &v, int k)
{
    if (v.size() < kHeader)
        return 0;
    unsigned long long seq = 0;
    unsigned pad = 0, key = 0;
    if (sscanf(v.c_str(), "k%02u:%16llx:%03u:", &key, &seq, &pad) != 3 || (int)key != k ||
        v.size() != kHeader + pad || seq == 0)
        return 0;
    std::string want(v.size(), '\0');
    FormatValue(&want[0], k, seq, pad);
    return want == v ? seq : 0;
}

struct Db {
    std::mutex mu;
    uint64_t seq = 0;                 // the last write's
    std::map<int, std::string> vals;  // present keys
    uint64_t last_delete[kKeys] = {}; // the latest delete applied per key (0: the initial state)
    std::atomic<uint64_t> ended[kKeys] = {}; // per key: highest seq of a write that has ended
    std::mutex key_lock[kKeys];
};

void
RaiseTo(std::atomic<uint64_t> &a, uint64_t v)
{
    uint64_t cur = a.load();
    while (cur < v && !a.compare_exchange_weak(cur, v)) {
    }
}

struct Errors {
    std::atomic<uint64_t> n{0};
    std::mutex mu;
    std::string first;
    void
    Add(const std::string &msg)
    {
        if (n.fetch_add(1) < 5) {
            std::lock_guard<std::mutex> g(mu);
            first += msg + "\n";
        }
    }
};

struct Counts {
    std::atomic<uint64_t> value_hits{0}, absent_hits{0}, misses{0}, writes{0}, bulks{0};
};

const std::string *const kKeyNames = [] {
    static std::string names[kKeys];
    for (int k = 0; k < kKeys; k++)
        names[k] = KeyName(k);
    return names;
}();

void
ReadOnce(struct rowcache *c, Db &db, int k, Errors &err, Counts &cnt)
{
    uint64_t floor = db.ended[k].load();
    struct kv_buf b = KV_BUF_INIT;
    struct rowcache_ticket t;
    enum rowcache_hit hit = rowcache_get(c, S(kKeyNames[k]), &b, &t);
    if (hit == ROWCACHE_VALUE) {
        cnt.value_hits++;
        std::string v(b.ptr == nullptr ? "" : b.ptr, b.len);
        uint64_t seq = ParseValue(v, k);
        if (seq == 0)
            err.Add(kKeyNames[k] + ": a hit that no write wrote");
        else if (seq < floor)
            err.Add(kKeyNames[k] + ": stale value hit, seq " + std::to_string(seq) + " < ended " +
                    std::to_string(floor));
    } else if (hit == ROWCACHE_ABSENT) {
        cnt.absent_hits++;
        uint64_t del;
        {
            std::lock_guard<std::mutex> g(db.mu);
            del = db.last_delete[k];
        }
        if (del < floor)
            err.Add(kKeyNames[k] + ": stale absent hit, last delete " + std::to_string(del) +
                    " < ended " + std::to_string(floor));
    } else {
        cnt.misses++;
        std::string v;
        bool present;
        {
            std::lock_guard<std::mutex> g(db.mu);
            auto it = db.vals.find(k);
            present = it != db.vals.end();
            if (present)
                v = it->second;
        }
        if (present) {
            struct kv_slice s = S(v);
            rowcache_fill(c, S(kKeyNames[k]), &t, &s);
        } else {
            rowcache_fill(c, S(kKeyNames[k]), &t, nullptr);
        }
    }
    kv_buf_deinit(&b);
}

struct Rec {
    int key;
    bool put;
    std::string val; // sized before begin; the header is written in place at the write
    uint64_t seq;
};

// One batch: begin, apply to the database (or fail), end, then publish the sequences as ended.
void
WriteOnce(struct rowcache *c, Db &db, std::vector<Rec> &recs, bool ok, Counts &cnt)
{
    std::vector<struct rowcache_write> w(recs.size());
    for (size_t i = 0; i < recs.size(); i++) {
        w[i].key = S(kKeyNames[recs[i].key]);
        w[i].val = S(recs[i].val);
        w[i].put = recs[i].put;
    }
    rowcache_begin(c, w.data(), w.size());
    if (ok) {
        std::lock_guard<std::mutex> g(db.mu);
        for (Rec &r : recs) {
            r.seq = ++db.seq;
            if (r.put) {
                FormatValue(&r.val[0], r.key, r.seq, (unsigned)(r.val.size() - kHeader));
                db.vals[r.key] = r.val;
            } else {
                db.vals.erase(r.key);
                db.last_delete[r.key] = r.seq;
            }
        }
    }
    rowcache_end(c, w.data(), w.size(), ok);
    if (ok) {
        for (const Rec &r : recs)
            RaiseTo(db.ended[r.key], r.seq);
        cnt.writes++;
    }
}

Rec
RandomRec(std::mt19937 &rng, int key)
{
    Rec r;
    r.key = key;
    r.put = rng() % 4 != 0;
    r.seq = 0;
    if (r.put) {
        // Header 25 + pad 0..140 with a 6-byte key: most fit an entry, some do not.
        r.val.assign(kHeader + rng() % 141, '?');
    }
    return r;
}

TEST(RowCache, ConcurrentHitsAreAlwaysCurrent)
{
    Cache cache = NewCache(3); // 3 buckets x 4 ways for 16 keys: collisions and evictions
    struct rowcache *c = cache.get();
    Db db;
    Errors err;
    Counts cnt;
    constexpr int kOps = 50000;

    // The raw writer: no key lock, batches of 1..3 records (a key may repeat), now and then a
    // failed write or a bulk delete of a range of keys.
    auto raw = [&](unsigned seed) {
        std::mt19937 rng(seed);
        for (int i = 0; i < kOps; i++) {
            unsigned dice = rng() % 100;
            if (dice < 2) {
                int lo = (int)(rng() % kKeys), hi = std::min(kKeys, lo + 4);
                rowcache_bulk_begin(c);
                uint64_t last = 0;
                {
                    std::lock_guard<std::mutex> g(db.mu);
                    for (int k = lo; k < hi; k++) {
                        last = ++db.seq;
                        db.vals.erase(k);
                        db.last_delete[k] = last;
                    }
                }
                rowcache_bulk_end(c);
                for (int k = lo; k < hi; k++)
                    RaiseTo(db.ended[k], last - (uint64_t)(hi - 1 - k));
                cnt.bulks++;
            } else if (dice < 40) {
                std::vector<Rec> recs;
                for (int n = 1 + (int)(rng() % 3); n > 0; n--)
                    recs.push_back(RandomRec(rng, (int)(rng() % kKeys)));
                WriteOnce(c, db, recs, rng() % 50 != 0, cnt);
            } else {
                ReadOnce(c, db, (int)(rng() % kKeys), err, cnt);
            }
        }
    };
    // Keyed threads: mostly reads; writes hold the key locks (taken in key order) from before
    // begin until after end, as a command does.
    auto keyed = [&](unsigned seed) {
        std::mt19937 rng(seed);
        for (int i = 0; i < kOps; i++) {
            if (rng() % 100 < 30) {
                std::vector<int> keys;
                for (int n = 1 + (int)(rng() % 3); n > 0; n--) {
                    int k = (int)(rng() % kKeys);
                    if (std::find(keys.begin(), keys.end(), k) == keys.end())
                        keys.push_back(k);
                }
                std::sort(keys.begin(), keys.end());
                std::vector<Rec> recs;
                for (int k : keys)
                    recs.push_back(RandomRec(rng, k));
                for (int k : keys)
                    db.key_lock[k].lock();
                WriteOnce(c, db, recs, rng() % 50 != 0, cnt);
                for (auto it = keys.rbegin(); it != keys.rend(); ++it)
                    db.key_lock[*it].unlock();
            } else {
                ReadOnce(c, db, (int)(rng() % kKeys), err, cnt);
            }
        }
    };

    std::vector<std::thread> threads;
    threads.emplace_back(raw, 1u);
    for (unsigned s = 2; s <= 4; s++)
        threads.emplace_back(keyed, s);
    for (auto &t : threads)
        t.join();

    EXPECT_EQ(err.n.load(), 0u) << err.first;
    // Not vacuous: the cache served values and absences, and writes and bulk writes happened.
    EXPECT_GT(cnt.value_hits.load(), 1000u);
    EXPECT_GT(cnt.absent_hits.load(), 100u);
    EXPECT_GT(cnt.misses.load(), 1000u);
    EXPECT_GT(cnt.bulks.load(), 0u);
    EXPECT_EQ(rowcache_stats(c).hits, cnt.value_hits.load() + cnt.absent_hits.load());
    EXPECT_EQ(rowcache_stats(c).misses, cnt.misses.load());

    // Quiescent now: every key either misses or holds exactly the database's value.
    for (int k = 0; k < kKeys; k++) {
        Got g = Get(c, kKeyNames[k]);
        auto it = db.vals.find(k);
        if (g.hit == ROWCACHE_VALUE) {
            ASSERT_NE(it, db.vals.end()) << kKeyNames[k];
            EXPECT_EQ(g.val, it->second) << kKeyNames[k];
        } else if (g.hit == ROWCACHE_ABSENT) {
            EXPECT_EQ(it, db.vals.end()) << kKeyNames[k];
        }
    }
}

} // namespace
