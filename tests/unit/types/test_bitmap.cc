// SPDX-License-Identifier: Apache-2.0
//
// The bitmap type layer (types/bitmap.h) on a real RocksDB: the on-disk layout (decimal segment
// keys, LSB-first bytes, size = bytes used), conversion to Redis bit order at the edges, segment
// boundaries, sparse far offsets, string keys staying strings, BITOP, BITFIELD arithmetic and
// growth, and the error paths.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "fixture.h"
#include "storage/keys.h"
#include "storage/meta.h"
#include "types/bitmap.h"
#include "types/str.h"

namespace {

class BitmapTest : public StorageTest {
  protected:
    static struct kv_slice
    L(const char *lit) {
        return kv_slice_cstr(lit);
    }

    int
    SetBit(const std::string &key, uint64_t off, int v)
    {
        int old = -1;
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(bitmap_setbit(&db_, S(key), off, v, &old, &err), KV_OK) << err.msg;
        return old;
    }

    // GETBIT through a view: -1 for an absent key, -2 for another error.
    int
    GetBit(const std::string &key, uint64_t off)
    {
        struct bitmap_view v;
        int bit = 0;
        enum kv_code rc = bitmap_view_open(&db_, S(key), &v, nullptr);
        if (rc == KV_OK)
            rc = bitmap_view_getbit(&v, off, &bit, nullptr);
        bitmap_view_close(&v);
        if (rc == KV_NOTFOUND)
            return -1;
        return rc == KV_OK ? bit : -2;
    }

    uint64_t
    Count(const std::string &key, uint64_t first, uint64_t last)
    {
        struct bitmap_view v;
        uint64_t n = 0;
        EXPECT_EQ(bitmap_view_open(&db_, S(key), &v, nullptr), KV_OK);
        EXPECT_EQ(bitmap_view_count(&v, first, last, &n, nullptr), KV_OK);
        bitmap_view_close(&v);
        return n;
    }

    int64_t
    Find(const std::string &key, int bit, uint64_t first, uint64_t last)
    {
        struct bitmap_view v;
        int64_t pos = -7;
        EXPECT_EQ(bitmap_view_open(&db_, S(key), &v, nullptr), KV_OK);
        EXPECT_EQ(bitmap_view_find(&v, bit, first, last, &pos, nullptr), KV_OK);
        bitmap_view_close(&v);
        return pos;
    }

    uint64_t
    Len(const std::string &key)
    {
        struct bitmap_view v;
        EXPECT_EQ(bitmap_view_open(&db_, S(key), &v, nullptr), KV_OK);
        uint64_t n = v.len;
        bitmap_view_close(&v);
        return n;
    }

    // GET: the string form, "<nil>" or "<wrongtype>".
    std::string
    Get(const std::string &key)
    {
        struct kv_buf raw = KV_BUF_INIT;
        struct kv_slice v;
        enum kv_code rc = str_get(&db_, S(key), kBitmapStringMax, &raw, &v, nullptr);
        std::string out = rc == KV_OK              ? std::string(v.ptr, v.len)
                          : rc == KV_NOTFOUND      ? "<nil>"
                          : rc == KV_ERR_WRONGTYPE ? "<wrongtype>"
                                                   : "<error>";
        kv_buf_deinit(&raw);
        return out;
    }

    struct meta
    Meta(const std::string &key, struct kv_buf *raw)
    {
        struct meta m;
        memset(&m, 0, sizeof m);
        EXPECT_EQ(db_get_meta(&db_, S(key), META_NONE, &m, raw, nullptr), KV_OK);
        return m;
    }

    enum meta_type
    Type(const std::string &key)
    {
        enum meta_type t = META_NONE;
        EXPECT_EQ(db_type(&db_, S(key), &t, nullptr), KV_OK);
        return t;
    }

    // The stored segments of a bitmap key: decimal sub-key -> raw stored bytes.
    std::vector<std::pair<std::string, std::string>>
    Segments(const std::string &key)
    {
        struct kv_buf raw = KV_BUF_INIT, lower = KV_BUF_INIT, upper = KV_BUF_INIT;
        struct meta m = Meta(key, &raw);
        db_subkey_prefix(&db_, S(key), m.version, &lower);
        keys_prefix_end(&upper, kv_buf_slice(&lower));
        struct storage_iter *it = storage_iter_new(st_, nullptr, KV_CF_SUBKEY, kv_buf_slice(&lower),
                                                   kv_buf_slice(&upper));
        std::vector<std::pair<std::string, std::string>> out;
        for (storage_iter_seek_first(it); storage_iter_valid(it); storage_iter_next(it)) {
            struct kv_slice k = storage_iter_key(it), v = storage_iter_value(it);
            out.emplace_back(std::string(k.ptr + lower.len, k.len - lower.len),
                             std::string(v.ptr, v.len));
        }
        storage_iter_free(it);
        kv_buf_deinit(&raw);
        kv_buf_deinit(&lower);
        kv_buf_deinit(&upper);
        return out;
    }

    void
    PutSegment(const std::string &key, uint64_t version, const std::string &sub,
               const std::string &value)
    {
        struct kv_buf sk = KV_BUF_INIT;
        db_subkey(&db_, S(key), version, S(sub), &sk);
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, KV_CF_SUBKEY, kv_buf_slice(&sk), S(value));
        ASSERT_EQ(storage_write(st_, b, nullptr), KV_OK);
        storage_batch_free(b);
        kv_buf_deinit(&sk);
    }

    void
    PutMeta(const std::string &key, const struct meta &m)
    {
        struct storage_batch *b = storage_batch_new(st_);
        db_batch_put_meta(&db_, b, S(key), &m);
        ASSERT_EQ(storage_write(st_, b, nullptr), KV_OK);
        storage_batch_free(b);
    }

    void
    SetString(const std::string &key, const std::string &value, int64_t expire_at_ms = 0)
    {
        struct str_set_opts o = {STR_COND_NONE, expire_at_ms ? STR_TTL_AT : STR_TTL_CLEAR,
                                 expire_at_ms, false};
        bool written = false;
        ASSERT_EQ(str_set(&db_, S(key), S(value), &o, kBitmapStringMax, &written, nullptr, nullptr,
                          nullptr),
                  KV_OK);
    }

    enum kv_code
    BitOp(enum bitmap_op op, const std::string &dest, std::vector<std::string> srcs, uint64_t *len)
    {
        std::vector<struct kv_slice> s;
        for (auto &x : srcs)
            s.push_back(S(x));
        return bitmap_bitop(&db_, op, S(dest), s.data(), s.size(), len, nullptr);
    }

    // The whole value in Redis order through a view (no string-form size limit); "" for an
    // absent key.
    std::string
    Value(const std::string &key)
    {
        struct bitmap_view v;
        struct kv_buf out = KV_BUF_INIT;
        enum kv_code rc = bitmap_view_open(&db_, S(key), &v, nullptr);
        if (rc == KV_OK)
            EXPECT_EQ(bitmap_view_read(&v, 0, v.len, &out, nullptr), KV_OK);
        else
            EXPECT_EQ(rc, KV_NOTFOUND);
        bitmap_view_close(&v);
        std::string s(out.ptr ? out.ptr : "", out.len);
        kv_buf_deinit(&out);
        return s;
    }

    // Redis's BITOP over string values: shorter ones zero-padded to the longest.
    static std::string
    RefBitOp(enum bitmap_op op, const std::vector<std::string> &vals)
    {
        size_t len = 0;
        for (auto &v : vals)
            len = std::max(len, v.size());
        std::string out(len, '\0');
        for (size_t j = 0; j < len; j++) {
            auto at = [&](size_t i) { return j < vals[i].size() ? (uint8_t)vals[i][j] : 0; };
            uint8_t o = op == BITMAP_OP_NOT ? (uint8_t)~at(0) : at(0);
            for (size_t i = 1; i < vals.size(); i++)
                o = op == BITMAP_OP_AND  ? (uint8_t)(o & at(i))
                    : op == BITMAP_OP_OR ? (uint8_t)(o | at(i))
                                         : (uint8_t)(o ^ at(i));
            out[j] = (char)o;
        }
        return out;
    }

    // The segments a bitmap key holding `value` stores: the nonzero ones, LSB-first, each as
    // long as the value allows, in key order (as Segments lists them).
    static std::vector<std::pair<std::string, std::string>>
    WantSegments(const std::string &value)
    {
        std::vector<std::pair<std::string, std::string>> out;
        for (size_t base = 0; base < value.size(); base += BITMAP_SEGMENT_BYTES) {
            std::string seg = value.substr(base, BITMAP_SEGMENT_BYTES);
            if (seg.find_first_not_of('\0') == std::string::npos)
                continue;
            for (auto &c : seg)
                c = (char)bitmap_reverse_byte((uint8_t)c);
            out.emplace_back(std::to_string(base), seg);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    // The stored bytes of the segment at byte offset `off` among `segs`, or "<none>".
    static std::string
    SegmentAt(const std::vector<std::pair<std::string, std::string>> &segs, uint64_t off)
    {
        for (auto &s : segs) {
            if (s.first == std::to_string(off))
                return s.second;
        }
        return "<none>";
    }

    static ::testing::AssertionResult
    SameBytes(const std::string &got, const std::string &want)
    {
        if (got == want)
            return ::testing::AssertionSuccess();
        size_t i = 0;
        while (i < got.size() && i < want.size() && got[i] == want[i])
            i++;
        return ::testing::AssertionFailure() << "lengths " << got.size() << " and " << want.size()
                                             << ", first difference at " << i;
    }

    static ::testing::AssertionResult
    SameSegments(const std::vector<std::pair<std::string, std::string>> &got,
                 const std::vector<std::pair<std::string, std::string>> &want)
    {
        for (size_t i = 0; i < std::max(got.size(), want.size()); i++) {
            if (i >= got.size())
                return ::testing::AssertionFailure() << "segment " << want[i].first << " missing";
            if (i >= want.size())
                return ::testing::AssertionFailure() << "segment " << got[i].first << " extra";
            if (got[i].first != want[i].first)
                return ::testing::AssertionFailure()
                       << "segment " << got[i].first << " where " << want[i].first << " is due";
            if (got[i].second != want[i].second)
                return ::testing::AssertionFailure()
                       << "segment " << got[i].first << ": "
                       << SameBytes(got[i].second, want[i].second).message();
        }
        return ::testing::AssertionSuccess();
    }

    // BITOP checked against Redis's result on the sources' values: the reply, dest's type,
    // size, value, and its stored segments (exactly the nonzero ones, at full length).
    void
    CheckBitOp(enum bitmap_op op, const std::string &dest, const std::vector<std::string> &srcs)
    {
        SCOPED_TRACE(::testing::Message() << "op " << op << " into " << dest);
        std::vector<std::string> vals;
        for (auto &k : srcs)
            vals.push_back(Value(k));
        std::string want = RefBitOp(op, vals);
        uint64_t len = 0;
        ASSERT_EQ(BitOp(op, dest, srcs, &len), KV_OK);
        EXPECT_EQ(len, want.size());
        if (want.empty()) {
            EXPECT_EQ(Type(dest), META_NONE);
            return;
        }
        ASSERT_EQ(Type(dest), META_BITMAP);
        struct kv_buf raw = KV_BUF_INIT;
        struct meta m = Meta(dest, &raw);
        EXPECT_EQ(m.size, want.size());
        EXPECT_EQ(m.expire_ms, 0u);
        kv_buf_deinit(&raw);
        EXPECT_TRUE(SameBytes(Value(dest), want));
        EXPECT_TRUE(SameSegments(Segments(dest), WantSegments(want)));
    }
};

struct bitmap_field_op
Field(enum bitmap_field_kind kind, bool is_signed, unsigned bits, uint64_t offset, int64_t value,
      enum bitmap_overflow ow = BITMAP_OVERFLOW_WRAP)
{
    struct bitmap_field_op op;
    op.kind = kind;
    op.overflow = ow;
    op.is_signed = is_signed;
    op.bits = bits;
    op.offset = offset;
    op.value = value;
    return op;
}

TEST(BitmapPure, ReverseByte)
{
    EXPECT_EQ(bitmap_reverse_byte(0x01), 0x80);
    EXPECT_EQ(bitmap_reverse_byte(0x80), 0x01);
    EXPECT_EQ(bitmap_reverse_byte(0xF0), 0x0F);
    EXPECT_EQ(bitmap_reverse_byte(0xA1), 0x85);
    for (int b = 0; b < 256; b++)
        EXPECT_EQ(bitmap_reverse_byte(bitmap_reverse_byte((uint8_t)b)), b);
}

TEST_F(BitmapTest, NewKeyLayoutIsLsbFirstSegments)
{
    EXPECT_EQ(SetBit("k", 0, 1), 0);
    EXPECT_EQ(SetBit("k", 0, 1), 1);
    EXPECT_EQ(SetBit("k", 9, 1), 0);
    EXPECT_EQ(Type("k"), META_BITMAP);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m = Meta("k", &raw);
    EXPECT_EQ(m.size, 2u); // bytes used
    kv_buf_deinit(&raw);
    // Redis bit 0 is the stored byte's bit 0x01; bit 9 is byte 1's 0x02.
    auto segs = Segments("k");
    ASSERT_EQ(segs.size(), 1u);
    EXPECT_EQ(segs[0].first, "0");
    EXPECT_EQ(segs[0].second, std::string("\x01\x02", 2));
    // GET answers in Redis order.
    EXPECT_EQ(Get("k"), std::string("\x80\x40", 2));
    // A bit in the second segment: sub-key "1024", byte 1 of that segment.
    EXPECT_EQ(SetBit("k", 8 * 1024 + 15, 1), 0);
    segs = Segments("k");
    ASSERT_EQ(segs.size(), 2u);
    EXPECT_EQ(segs[1].first, "1024");
    EXPECT_EQ(segs[1].second, std::string("\x00\x80", 2));
    EXPECT_EQ(Len("k"), 1026u);
    std::string g = Get("k");
    ASSERT_EQ(g.size(), 1026u);
    EXPECT_EQ((uint8_t)g[1025], 0x01);
    EXPECT_EQ(g.substr(2, 1023), std::string(1023, '\0'));
    // Clearing keeps the size and the segment.
    EXPECT_EQ(SetBit("k", 8 * 1024 + 15, 0), 1);
    EXPECT_EQ(Len("k"), 1026u);
    EXPECT_EQ(GetBit("k", 8 * 1024 + 15), 0);
    EXPECT_EQ(GetBit("nokey", 3), -1);
}

TEST_F(BitmapTest, SegmentBoundaries)
{
    SetBit("k", 8191, 1); // last bit of segment 0
    SetBit("k", 8192, 1); // first bit of segment 1
    EXPECT_EQ(Segments("k").size(), 2u);
    EXPECT_EQ(GetBit("k", 8191), 1);
    EXPECT_EQ(GetBit("k", 8192), 1);
    EXPECT_EQ(GetBit("k", 8190), 0);
    EXPECT_EQ(GetBit("k", 8193), 0);
    EXPECT_EQ(Count("k", 0, 8 * Len("k") - 1), 2u);
    EXPECT_EQ(Count("k", 8191, 8191), 1u);
    EXPECT_EQ(Count("k", 8192, 8199), 1u);
    EXPECT_EQ(Count("k", 8000, 8191), 1u);
    EXPECT_EQ(Find("k", 1, 0, 8199), 8191);
    EXPECT_EQ(Find("k", 1, 8192, 8199), 8192);
    EXPECT_EQ(Find("k", 0, 8191, 8199), 8193);
    EXPECT_EQ(Find("k", 1, 8193, 8199), -1);
    // A bit range inside one byte, masks on both sides.
    SetBit("k", 3, 1);
    SetBit("k", 4, 1);
    EXPECT_EQ(Count("k", 4, 6), 1u);
    EXPECT_EQ(Count("k", 2, 3), 1u);
    EXPECT_EQ(Find("k", 1, 4, 6), 4);
    EXPECT_EQ(Find("k", 0, 3, 4), -1);
}

TEST_F(BitmapTest, SparseFarOffsets)
{
    // The last valid bit: one segment, not 512 MiB.
    EXPECT_EQ(SetBit("k", BITMAP_MAX_OFFSET, 1), 0);
    EXPECT_EQ(Len("k"), UINT64_C(1) << 29);
    auto segs = Segments("k");
    ASSERT_EQ(segs.size(), 1u);
    EXPECT_EQ(segs[0].first, std::to_string((uint64_t)((UINT64_C(1) << 29) - 1024)));
    EXPECT_EQ(segs[0].second.size(), 1024u);
    EXPECT_EQ((uint8_t)segs[0].second[1023], 0x80); // Redis's last bit = stored MSB
    EXPECT_EQ(GetBit("k", BITMAP_MAX_OFFSET), 1);
    uint64_t last = BITMAP_MAX_OFFSET;
    EXPECT_EQ(Count("k", 0, last), 1u);
    EXPECT_EQ(Find("k", 1, 0, last), (int64_t)BITMAP_MAX_OFFSET);
    EXPECT_EQ(Find("k", 0, 0, last), 0);
    // Segments in between are missing: a clear bit is found in the first gap after a full one.
    std::string ff(1024, '\xff');
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m = Meta("k", &raw);
    PutSegment("k", m.version, "0", ff);
    PutSegment("k", m.version, "2048", ff);
    kv_buf_deinit(&raw);
    EXPECT_EQ(Find("k", 0, 0, last), 8192);
    EXPECT_EQ(Find("k", 1, 8192, last), 2 * 8192);
    EXPECT_EQ(Find("k", 0, 2 * 8192, last), 3 * 8192);
    EXPECT_EQ(Count("k", 0, last), 2u * 8192 + 1);
    EXPECT_EQ(Count("k", 100, 3 * 8192 - 1), 2u * 8192 - 100);
    // A far bit is found after the probe window, through the sorted segment list.
    EXPECT_EQ(Find("k", 1, 3 * 8192, last), (int64_t)BITMAP_MAX_OFFSET);
    // GETRANGE of a far slice reads only that part.
    struct kv_buf out = KV_BUF_INIT;
    ASSERT_EQ(str_getrange(&db_, L("k"), -2, -1, kBitmapStringMax, &out, nullptr), KV_OK);
    EXPECT_EQ(std::string(out.ptr, out.len), std::string("\x00\x01", 2));
    int64_t len = 0;
    ASSERT_EQ(str_strlen(&db_, L("k"), &len, nullptr), KV_OK);
    EXPECT_EQ(len, INT64_C(1) << 29);
    // The whole string form is refused above the limit rather than allocated.
    raw = KV_BUF_INIT;
    struct kv_slice v;
    EXPECT_EQ(str_get(&db_, L("k"), kBitmapStringMax, &raw, &v, nullptr), KV_ERR);
    kv_buf_deinit(&raw);
    kv_buf_deinit(&out);
}

TEST_F(BitmapTest, ReadsKvrocksWrittenSegments)
{
    // A record as Kvrocks may leave it: a short segment and one longer than the size (its SETBIT
    // grows segments by doubling); bytes at or beyond the size are not part of the value.
    struct meta m;
    meta_init(&m, META_BITMAP);
    m.size = 1030;
    PutMeta("k", m);
    PutSegment("k", m.version, "0", std::string("\x01", 1));
    std::string seg1(1024, '\0');
    seg1[0] = '\x80';
    seg1[5] = '\x01'; // byte 1029: inside the size
    seg1[6] = '\xff'; // byte 1030: beyond the size, ignored
    PutSegment("k", m.version, "1024", seg1);
    std::string g = Get("k");
    ASSERT_EQ(g.size(), 1030u);
    EXPECT_EQ((uint8_t)g[0], 0x80);
    EXPECT_EQ((uint8_t)g[1024], 0x01);
    EXPECT_EQ((uint8_t)g[1029], 0x80);
    EXPECT_EQ(Count("k", 0, 8 * 1030 - 1), 3u);
    // Growing the key must not resurrect the stale bytes.
    EXPECT_EQ(SetBit("k", 8 * 1031, 1), 0);
    g = Get("k");
    ASSERT_EQ(g.size(), 1032u);
    EXPECT_EQ((uint8_t)g[1030], 0x00);
    EXPECT_EQ((uint8_t)g[1031], 0x80);
    // A malformed segment key is reported by a scan (a range of more than 16 segments), not
    // skipped.
    PutSegment("k", m.version, "12x", "junk");
    struct kv_buf raw = KV_BUF_INIT;
    struct meta cur = Meta("k", &raw);
    cur.size = 40 * 1024;
    struct meta copy = cur;
    kv_buf_deinit(&raw);
    PutMeta("k", copy);
    struct bitmap_view v;
    uint64_t n = 0;
    ASSERT_EQ(bitmap_view_open(&db_, L("k"), &v, nullptr), KV_OK);
    EXPECT_EQ(bitmap_view_count(&v, 0, 8 * 40 * 1024 - 1, &n, nullptr), KV_ERR_CORRUPT);
    EXPECT_EQ(bitmap_view_count(&v, 0, 8 * 1032 - 1, &n, nullptr), KV_OK); // point reads
    EXPECT_EQ(n, 4u);
    bitmap_view_close(&v);
}

TEST_F(BitmapTest, StringKeysStayStrings)
{
    int64_t at = clock_now_ms() + 100000;
    SetString("s", std::string("\xff\x00", 2), at);
    EXPECT_EQ(GetBit("s", 0), 1);
    EXPECT_EQ(GetBit("s", 8), 0);
    EXPECT_EQ(Count("s", 0, 15), 8u);
    EXPECT_EQ(Find("s", 0, 0, 15), 8);
    EXPECT_EQ(SetBit("s", 8, 1), 0);
    EXPECT_EQ(SetBit("s", 31, 1), 0); // grows the string
    EXPECT_EQ(Type("s"), META_STRING);
    EXPECT_EQ(Get("s"), std::string("\xff\x80\x00\x01", 4));
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m = Meta("s", &raw);
    EXPECT_EQ((int64_t)m.expire_ms, at); // expiry kept
    kv_buf_deinit(&raw);
    // Another type is refused.
    struct meta h;
    meta_init(&h, META_HASH);
    h.size = 1;
    PutMeta("h", h);
    int old = 0;
    EXPECT_EQ(bitmap_setbit(&db_, L("h"), 1, 1, &old, nullptr), KV_ERR_WRONGTYPE);
    EXPECT_EQ(GetBit("h", 1), -2);
    EXPECT_EQ(Type("h"), META_HASH);
}

TEST_F(BitmapTest, BitOp)
{
    SetString("s", std::string("\xf0\x0f\xff", 3));
    SetBit("b", 0, 1);        // 0x80
    SetBit("b", 8 * 1024, 1); // a second segment
    uint64_t len = 0;
    ASSERT_EQ(BitOp(BITMAP_OP_OR, "d", {"s", "b"}, &len), KV_OK);
    EXPECT_EQ(len, 1025u);
    EXPECT_EQ(Type("d"), META_BITMAP);
    std::string want(1025, '\0');
    want[0] = '\xf0';
    want[1] = '\x0f';
    want[2] = '\xff';
    want[1024] = '\x80';
    EXPECT_EQ(Get("d"), want);
    ASSERT_EQ(BitOp(BITMAP_OP_AND, "d", {"s", "b"}, &len), KV_OK);
    want.assign(1025, '\0');
    want[0] = '\x80';
    EXPECT_EQ(Get("d"), want);
    EXPECT_EQ(Segments("d").size(), 1u); // zero segments are not stored
    ASSERT_EQ(BitOp(BITMAP_OP_XOR, "d", {"s", "s"}, &len), KV_OK);
    EXPECT_EQ(len, 3u);
    EXPECT_EQ(Get("d"), std::string(3, '\0'));
    EXPECT_TRUE(Segments("d").empty());
    // NOT, with dest among the sources.
    ASSERT_EQ(BitOp(BITMAP_OP_NOT, "s", {"s"}, &len), KV_OK);
    EXPECT_EQ(Get("s"), std::string("\x0f\xf0\x00", 3));
    EXPECT_EQ(Type("s"), META_BITMAP);
    // AND with an absent key: zeros of the longest length.
    ASSERT_EQ(BitOp(BITMAP_OP_AND, "d", {"b", "nokey"}, &len), KV_OK);
    EXPECT_EQ(len, 1025u);
    EXPECT_EQ(Count("d", 0, 8 * 1025 - 1), 0u);
    // An empty result deletes dest (any type).
    SetString("empty", "");
    ASSERT_EQ(BitOp(BITMAP_OP_OR, "d", {"nokey", "empty"}, &len), KV_OK);
    EXPECT_EQ(len, 0u);
    EXPECT_EQ(Type("d"), META_NONE);
    // A source of another type fails before dest is touched.
    struct meta h;
    meta_init(&h, META_HASH);
    h.size = 1;
    PutMeta("h", h);
    EXPECT_EQ(BitOp(BITMAP_OP_OR, "b", {"s", "h"}, &len), KV_ERR_WRONGTYPE);
    EXPECT_EQ(GetBit("b", 0), 1);
    EXPECT_EQ(Len("b"), 1025u);
}

// Segment keys sort as decimal strings, so the sources' segments interleave in key order
// ("1024" < "10240" < "102400" < "2048"): each source has some the others lack, some shared, and
// segments of every key length.
TEST_F(BitmapTest, BitOpMergesSegmentsInKeyOrder)
{
    for (uint64_t idx : {0, 1, 10, 100, 1000})
        SetBit("a", idx * BITMAP_SEGMENT_BITS + idx % 7, 1);
    for (uint64_t idx : {2, 10, 101, 1000, 5000})
        SetBit("b", idx * BITMAP_SEGMENT_BITS + 8 * 1023 + 7 - idx % 5, 1);
    SetBit("b", 10 * BITMAP_SEGMENT_BITS + 1, 1); // shares a byte with a's bit in segment 10
    std::string str(3000, '\0');
    for (size_t i = 0; i < str.size(); i += 97)
        str[i] = (char)(0x5a ^ i);
    SetString("s", str);
    for (auto op : {BITMAP_OP_AND, BITMAP_OP_OR, BITMAP_OP_XOR}) {
        CheckBitOp(op, "d", {"a", "b"});
        CheckBitOp(op, "d", {"b", "a", "s"});
        CheckBitOp(op, "d", {"s", "a"});
        CheckBitOp(op, "d", {"a", "a"}); // the same source twice
    }
    CheckBitOp(BITMAP_OP_NOT, "d", {"a"});
    CheckBitOp(BITMAP_OP_NOT, "d", {"b"});
    CheckBitOp(BITMAP_OP_NOT, "d", {"s"});
    // XOR of a bitmap with itself: all zeros, no segment stored.
    CheckBitOp(BITMAP_OP_XOR, "d", {"b", "b"});
    EXPECT_TRUE(Segments("d").empty());
}

// Sources of different lengths, each ending inside a segment: the result is as long as the
// longest, and its last segment is partial. Once with results of a few segments (point reads),
// once with everything 20 segments further (iterators).
TEST_F(BitmapTest, BitOpLengthsAndPartialSegments)
{
    for (uint64_t shift : {0, 20}) {
        SCOPED_TRACE(shift);
        const uint64_t base = shift * BITMAP_SEGMENT_BYTES, bits = 8 * base;
        for (const char *k : {"long", "mid", "short"}) {
            struct kv_slice key = L(k);
            int64_t deleted = 0;
            ASSERT_EQ(db_delete(&db_, &key, 1, &deleted, nullptr), KV_OK);
        }
        SetBit("long", bits + 8 * 1500 - 1, 1); // ends 476 bytes into its last segment
        SetBit("long", bits + 3, 1);
        SetBit("mid", bits + 8 * 1024, 1); // one byte into its last segment
        SetBit("mid", bits + 8 * 1023 + 2, 1);
        SetBit("short", bits + 7, 1);
        SetString("str", std::string(base, '\x11') + std::string(1030, '\xff'));
        SetString("empty", "");
        for (auto op : {BITMAP_OP_AND, BITMAP_OP_OR, BITMAP_OP_XOR}) {
            CheckBitOp(op, "d", {"long", "mid", "short"});
            CheckBitOp(op, "d", {"short", "str"});
            CheckBitOp(op, "d", {"mid", "str", "long"});
            CheckBitOp(op, "d", {"str", "nokey"});
            CheckBitOp(op, "d", {"empty", "short"});
        }
        for (const char *k : {"long", "mid", "short", "str"})
            CheckBitOp(BITMAP_OP_NOT, "d", {k});
        uint64_t len = 0;
        ASSERT_EQ(BitOp(BITMAP_OP_NOT, "d", {"long"}, &len), KV_OK);
        EXPECT_EQ(len, base + 1500);
        auto segs = Segments("d");
        ASSERT_EQ(segs.size(), shift + 2);
        EXPECT_EQ(SegmentAt(segs, base + 1024), std::string(475, '\xff') + "\x7f"); // last bit
        // NOT of an all-ones string is all zeros: dest keeps the length, stores no segment.
        SetString("ones", std::string(base + 1030, '\xff'));
        CheckBitOp(BITMAP_OP_NOT, "d", {"ones"});
        EXPECT_TRUE(Segments("d").empty());
        EXPECT_EQ(Len("d"), base + 1030);
    }
}

// An AND with an absent or empty source is zeros of the longest length; an empty result
// deletes dest; dest may be any of the sources.
TEST_F(BitmapTest, BitOpAbsentSourcesAndDestAmongSources)
{
    SetBit("a", 8 * 5000, 1);
    SetBit("a", 5, 1);
    SetBit("b", 8 * 2000 + 1, 1);
    SetBit("b", 5, 1);
    SetString("s", "\x04\x00\x80");
    SetString("empty", "");
    CheckBitOp(BITMAP_OP_AND, "d", {"a", "nokey"});
    EXPECT_TRUE(Segments("d").empty());
    EXPECT_EQ(Len("d"), 5001u);
    CheckBitOp(BITMAP_OP_AND, "d", {"s", "a", "empty"});
    EXPECT_TRUE(Segments("d").empty());
    CheckBitOp(BITMAP_OP_OR, "d", {"nokey", "b"});
    CheckBitOp(BITMAP_OP_XOR, "d", {"nokey", "nokey2", "empty"});
    CheckBitOp(BITMAP_OP_NOT, "d", {"nokey"});
    // dest among the sources, as a bitmap and as a string.
    CheckBitOp(BITMAP_OP_AND, "a", {"a", "b"});
    CheckBitOp(BITMAP_OP_OR, "b", {"a", "b", "s"});
    CheckBitOp(BITMAP_OP_XOR, "s", {"b", "s"});
    CheckBitOp(BITMAP_OP_NOT, "b", {"b"});
    CheckBitOp(BITMAP_OP_NOT, "b", {"b"});
    SetString("s2", "\xf0\x0f");
    CheckBitOp(BITMAP_OP_NOT, "s2", {"s2"});
}

// Segments as Kvrocks may store them: shorter than the segment, longer than the size allows,
// all ones, and entirely beyond the size. Bytes at or beyond the size are not part of the value
// and never reach the result. Once with results of a few segments (point reads), once with
// everything 20 segments further (iterators).
TEST_F(BitmapTest, BitOpReadsOnlyTheValueOfStoredSegments)
{
    for (uint64_t shift : {0, 20}) {
        SCOPED_TRACE(shift);
        const uint64_t base = shift * BITMAP_SEGMENT_BYTES;
        auto at = [&](uint64_t off) { return std::to_string(base + off); };
        struct meta m;
        meta_init(&m, META_BITMAP);
        m.size = base + 2050;
        PutMeta("k", m);
        if (shift > 0)
            PutSegment("k", m.version, "0", std::string("\x10", 1));
        PutSegment("k", m.version, at(0), std::string("\x01\xff", 2)); // short: zeros follow
        std::string ones(1024, '\xff');
        PutSegment("k", m.version, at(1024), ones);                   // all ones
        PutSegment("k", m.version, at(2048), std::string(9, '\x0f')); // 2 bytes inside the size
        PutSegment("k", m.version, at(3072), ones);                   // the first beyond the size
        PutSegment("k", m.version, at(4096), ones);
        ASSERT_EQ(Value("k").size(), base + 2050);
        struct kv_slice key = L("b");
        int64_t deleted = 0;
        ASSERT_EQ(db_delete(&db_, &key, 1, &deleted, nullptr), KV_OK);
        SetBit("b", 8 * (base + 4096) + 3, 1); // longer than k, where k has a stale segment
        SetBit("b", 8 * (base + 2049), 1);
        CheckBitOp(BITMAP_OP_NOT, "d", {"k"});
        auto segs = Segments("d"); // segment at(1024) was all ones: not stored
        EXPECT_EQ(segs.size(), shift + 2);
        EXPECT_EQ(SegmentAt(segs, base + 2048), std::string("\xf0\xf0", 2));
        for (auto op : {BITMAP_OP_AND, BITMAP_OP_OR, BITMAP_OP_XOR}) {
            CheckBitOp(op, "d", {"k", "b"});
            CheckBitOp(op, "d", {"b", "k", "k"});
        }
    }
}

// Segments far apart, of every key length up to 8 digits: NOT stores every segment between
// them, AND/OR/XOR only where the sources have segments.
TEST_F(BitmapTest, BitOpSparseFarSegments)
{
    for (uint64_t idx : {0, 9, 99, 999, 9999})
        SetBit("a", idx * BITMAP_SEGMENT_BITS + 8 * (idx % 1024) + 1, 1);
    for (uint64_t idx : {9, 98, 999, 4000})
        SetBit("b", idx * BITMAP_SEGMENT_BITS + 8 * 1023, 1);
    SetString("s", std::string(2100, '\x81'));
    CheckBitOp(BITMAP_OP_OR, "d", {"a", "b"});
    EXPECT_EQ(Segments("d").size(), 7u);
    CheckBitOp(BITMAP_OP_AND, "d", {"a", "b", "s"});
    CheckBitOp(BITMAP_OP_XOR, "d", {"a", "s", "b"});
    CheckBitOp(BITMAP_OP_NOT, "d", {"b"});
    EXPECT_EQ(Segments("d").size(), 4001u);
    CheckBitOp(BITMAP_OP_NOT, "d", {"a"});
    EXPECT_EQ(Segments("d").size(), 10000u);
}

// Random sources (bitmaps with bits near segment edges and far, strings of any length, absent
// keys) and random BITOPs, dest often a source, each checked against Redis's result.
TEST_F(BitmapTest, BitOpMatchesRedisOnRandomSources)
{
    std::mt19937_64 rng(20240611);
    const std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4"};
    auto offset = [&]() -> uint64_t {
        uint64_t seg = rng() % 3 == 0 ? rng() % 1200 : rng() % 4;
        uint64_t bit =
            rng() % 2 ? rng() % BITMAP_SEGMENT_BITS : BITMAP_SEGMENT_BITS - 1 - rng() % 9;
        return seg * BITMAP_SEGMENT_BITS + bit;
    };
    for (int round = 0; round < 150; round++) {
        SCOPED_TRACE(round);
        const std::string &k = keys[rng() % keys.size()];
        switch (rng() % 6) {
        case 0: {
            std::string v(rng() % 3000, '\0');
            for (auto &c : v)
                c = rng() % 4 ? '\0' : (char)rng();
            SetString(k, v);
            break;
        }
        case 1:
            SetString(k, "");
            break;
        case 2: {
            struct kv_slice key = S(k);
            int64_t deleted = 0;
            ASSERT_EQ(db_delete(&db_, &key, 1, &deleted, nullptr), KV_OK);
            break;
        }
        default:
            for (int j = rng() % 6; j >= 0; j--)
                SetBit(k, offset(), rng() % 5 != 0);
            break;
        }
        enum bitmap_op op = (enum bitmap_op)(rng() % 4);
        std::vector<std::string> srcs;
        size_t n = op == BITMAP_OP_NOT ? 1 : 1 + rng() % 4;
        for (size_t i = 0; i < n; i++)
            srcs.push_back(rng() % 8 == 0 ? "absent" : keys[rng() % keys.size()]);
        CheckBitOp(op, keys[rng() % keys.size()], srcs);
    }
}

TEST(BitmapPure, FieldArithmetic)
{
    uint64_t raw = 0;
    int64_t reply = 0;
    // Unsigned INCRBY: wrap, saturate, fail.
    auto op = Field(BITMAP_FIELD_INCRBY, false, 8, 0, 10);
    ASSERT_TRUE(bitmap_field_apply(&op, 250, &raw, &reply));
    EXPECT_EQ(raw, 4u);
    EXPECT_EQ(reply, 4);
    op.overflow = BITMAP_OVERFLOW_SAT;
    ASSERT_TRUE(bitmap_field_apply(&op, 250, &raw, &reply));
    EXPECT_EQ(reply, 255);
    op.value = -300;
    ASSERT_TRUE(bitmap_field_apply(&op, 250, &raw, &reply));
    EXPECT_EQ(reply, 0);
    op.overflow = BITMAP_OVERFLOW_FAIL;
    EXPECT_FALSE(bitmap_field_apply(&op, 250, &raw, &reply));
    op.value = -250;
    ASSERT_TRUE(bitmap_field_apply(&op, 250, &raw, &reply));
    EXPECT_EQ(reply, 0);
    // Unsigned SET: the reply is the old value; a negative value is huge, so SAT gives the max.
    op = Field(BITMAP_FIELD_SET, false, 4, 0, -1, BITMAP_OVERFLOW_SAT);
    ASSERT_TRUE(bitmap_field_apply(&op, 3, &raw, &reply));
    EXPECT_EQ(raw, 15u);
    EXPECT_EQ(reply, 3);
    op.overflow = BITMAP_OVERFLOW_WRAP;
    op.value = 17;
    ASSERT_TRUE(bitmap_field_apply(&op, 3, &raw, &reply));
    EXPECT_EQ(raw, 1u);
    // Signed: i8 127 + 1.
    op = Field(BITMAP_FIELD_INCRBY, true, 8, 0, 1);
    ASSERT_TRUE(bitmap_field_apply(&op, 127, &raw, &reply));
    EXPECT_EQ(reply, -128);
    EXPECT_EQ(raw, 0x80u);
    op.overflow = BITMAP_OVERFLOW_SAT;
    ASSERT_TRUE(bitmap_field_apply(&op, 127, &raw, &reply));
    EXPECT_EQ(reply, 127);
    op.value = -1;
    ASSERT_TRUE(bitmap_field_apply(&op, 0x80, &raw, &reply)); // -128 - 1
    EXPECT_EQ(reply, -128);
    op.overflow = BITMAP_OVERFLOW_FAIL;
    EXPECT_FALSE(bitmap_field_apply(&op, 0x80, &raw, &reply));
    // i64 at the edges.
    op = Field(BITMAP_FIELD_INCRBY, true, 64, 0, 1, BITMAP_OVERFLOW_SAT);
    ASSERT_TRUE(bitmap_field_apply(&op, (uint64_t)INT64_MAX, &raw, &reply));
    EXPECT_EQ(reply, INT64_MAX);
    op.overflow = BITMAP_OVERFLOW_WRAP;
    ASSERT_TRUE(bitmap_field_apply(&op, (uint64_t)INT64_MAX, &raw, &reply));
    EXPECT_EQ(reply, INT64_MIN);
    op = Field(BITMAP_FIELD_INCRBY, true, 64, 0, INT64_MIN, BITMAP_OVERFLOW_SAT);
    ASSERT_TRUE(bitmap_field_apply(&op, (uint64_t)-1, &raw, &reply));
    EXPECT_EQ(reply, INT64_MIN); // -1 + INT64_MIN
    // Redis's quirk: a SET far below the minimum of a narrow type "overflows upwards".
    op = Field(BITMAP_FIELD_SET, true, 8, 0, INT64_MIN, BITMAP_OVERFLOW_SAT);
    ASSERT_TRUE(bitmap_field_apply(&op, 0, &raw, &reply));
    EXPECT_EQ(raw, 127u);
    op.value = -200;
    ASSERT_TRUE(bitmap_field_apply(&op, 0, &raw, &reply));
    EXPECT_EQ(raw, 0x80u); // -128
    op.overflow = BITMAP_OVERFLOW_WRAP;
    ASSERT_TRUE(bitmap_field_apply(&op, 0, &raw, &reply));
    EXPECT_EQ(raw, 56u); // -200 mod 256 = 56
}

TEST_F(BitmapTest, BitFieldAcrossSegmentsAndGrowth)
{
    // A u16 straddling the segment boundary (bits 8188 .. 8203).
    std::vector<struct bitmap_field_op> ops = {
        Field(BITMAP_FIELD_SET, false, 16, 8188, 0xABCD),
        Field(BITMAP_FIELD_GET, false, 16, 8188, 0),
        Field(BITMAP_FIELD_GET, false, 4, 8192, 0),
    };
    std::vector<struct bitmap_field_result> res(ops.size());
    ASSERT_EQ(bitmap_bitfield(&db_, L("k"), ops.data(), ops.size(), res.data(), nullptr), KV_OK);
    EXPECT_EQ(res[0].value, 0);
    EXPECT_EQ(res[1].value, 0xABCD);
    EXPECT_EQ(res[2].value, 0xB);
    EXPECT_EQ(Type("k"), META_BITMAP);
    EXPECT_EQ(Len("k"), 1026u);
    EXPECT_EQ(Segments("k").size(), 2u);
    std::string g = Get("k");
    EXPECT_EQ((uint8_t)g[1023], 0x0A);
    EXPECT_EQ((uint8_t)g[1024], 0xBC);
    EXPECT_EQ((uint8_t)g[1025], 0xD0);
    // A failing write still grows the key to cover it, as Redis does.
    ops = {Field(BITMAP_FIELD_INCRBY, false, 8, 8 * 2000, 300, BITMAP_OVERFLOW_FAIL)};
    res.assign(1, {});
    ASSERT_EQ(bitmap_bitfield(&db_, L("k"), ops.data(), 1, res.data(), nullptr), KV_OK);
    EXPECT_TRUE(res[0].is_nil);
    EXPECT_EQ(Len("k"), 2001u);
    EXPECT_EQ(Segments("k").size(), 2u); // nothing stored for the zeros
    // Only GETs: a read; an absent key reads zeros and stays absent.
    ops = {Field(BITMAP_FIELD_GET, true, 64, 0, 0)};
    ASSERT_EQ(bitmap_bitfield(&db_, L("nokey"), ops.data(), 1, res.data(), nullptr), KV_OK);
    EXPECT_EQ(res[0].value, 0);
    EXPECT_EQ(Type("nokey"), META_NONE);
    // On a string key: stays a string, grows.
    SetString("s", "a");
    ops = {Field(BITMAP_FIELD_INCRBY, true, 8, 0, 1), Field(BITMAP_FIELD_SET, false, 8, 8, 66)};
    res.assign(2, {});
    ASSERT_EQ(bitmap_bitfield(&db_, L("s"), ops.data(), 2, res.data(), nullptr), KV_OK);
    EXPECT_EQ(res[0].value, 'b');
    EXPECT_EQ(Get("s"), "bB");
    EXPECT_EQ(Type("s"), META_STRING);
    // Another type.
    struct meta h;
    meta_init(&h, META_HASH);
    h.size = 1;
    PutMeta("h", h);
    EXPECT_EQ(bitmap_bitfield(&db_, L("h"), ops.data(), 2, res.data(), nullptr), KV_ERR_WRONGTYPE);
}

TEST_F(BitmapTest, ExpiredBitmapIsRecreated)
{
    SetBit("k", 100, 1);
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m = Meta("k", &raw);
    uint64_t old_version = m.version;
    m.expire_ms = (uint64_t)clock_now_ms() - 1;
    struct meta copy = m;
    kv_buf_deinit(&raw);
    PutMeta("k", copy);
    EXPECT_EQ(GetBit("k", 100), -1);
    EXPECT_EQ(SetBit("k", 3, 1), 0); // a new key: the old segment is unreachable
    raw = KV_BUF_INIT;
    m = Meta("k", &raw);
    EXPECT_NE(m.version, old_version);
    EXPECT_EQ(m.expire_ms, 0u);
    EXPECT_EQ(m.size, 1u);
    kv_buf_deinit(&raw);
    EXPECT_EQ(GetBit("k", 100), 0);
}

bool
CollectKey(void *arg, struct kv_slice key, const struct meta *)
{
    static_cast<std::vector<std::string> *>(arg)->emplace_back(key.ptr, key.len);
    return true;
}

TEST_F(BitmapTest, TypeNameAndScanTypeAnswerString)
{
    EXPECT_STREQ(db_type_reply_name(META_BITMAP), "string");
    EXPECT_STREQ(db_type_reply_name(META_HLL), "string");
    EXPECT_STREQ(db_type_reply_name(META_STRING), "string");
    EXPECT_STREQ(db_type_reply_name(META_HASH), "hash");
    EXPECT_STREQ(db_type_reply_name(META_NONE), "none");
    SetBit("b", 1, 1);
    SetString("s", "v");
    struct meta h;
    meta_init(&h, META_HLL);
    PutMeta("hll", h);
    meta_init(&h, META_HASH);
    h.size = 1;
    PutMeta("hash", h);
    std::vector<std::string> got;
    struct kv_buf last = KV_BUF_INIT;
    bool done = false;
    ASSERT_EQ(db_scan(&db_, nullptr, kv_slice_make(nullptr, 0), META_STRING, 0, CollectKey, &got,
                      &last, &done, nullptr),
              KV_OK);
    EXPECT_EQ(got, (std::vector<std::string>{"b", "hll", "s"}));
    got.clear();
    ASSERT_EQ(db_scan(&db_, nullptr, kv_slice_make(nullptr, 0), META_HASH, 0, CollectKey, &got,
                      &last, &done, nullptr),
              KV_OK);
    EXPECT_EQ(got, (std::vector<std::string>{"hash"}));
    kv_buf_deinit(&last);
}

} // namespace
