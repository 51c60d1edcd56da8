// SPDX-License-Identifier: Apache-2.0
//
// keys: byte-exact RocksDB key encodings (DESIGN.md section 4, kvrocks-notes.md 2.3-2.4). The
// expected bytes are spelled out by hand, never produced by the code under test.
#include <stdint.h>
#include <string>

#include <gtest/gtest.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/slot.h"
#include "common/status.h"
#include "slice_util.h"
#include "storage/keys.h"

namespace {

std::string
Str(struct kv_slice s)
{
    return std::string(s.ptr == nullptr ? "" : s.ptr, s.len);
}

// The default namespace prefix: 0x0B then the 11 bytes "__namespace".
const std::string kNs = std::string("\x0b", 1) + "__namespace";

class Buf {
  public:
    Buf()
    {
        kv_buf_init(&b_);
    }
    ~Buf()
    {
        kv_buf_deinit(&b_);
    }
    struct kv_buf *
    get()
    {
        return &b_;
    }
    std::string
    str() const
    {
        return std::string(b_.ptr == nullptr ? "" : b_.ptr, b_.len);
    }

  private:
    struct kv_buf b_;
};

const struct kv_slice kDefaultNs = {KEYS_DEFAULT_NAMESPACE, sizeof(KEYS_DEFAULT_NAMESPACE) - 1};

} // namespace

TEST(Keys, DefaultNamespaceLiteral)
{
    EXPECT_EQ(std::string(KEYS_DEFAULT_NAMESPACE), "__namespace");
    EXPECT_EQ(kNs.size(), 12u);
    EXPECT_EQ((uint8_t)kNs[0], 0x0b);
}

TEST(Keys, MetaKeyNonCluster)
{
    Buf out;
    keys_meta_key(out.get(), kDefaultNs, false, S("foo"));
    EXPECT_EQ(out.str(), std::string("\x0b__namespacefoo", 15));
}

TEST(Keys, MetaKeyCluster)
{
    // CLUSTER KEYSLOT foo = 12182 = 0x2F96, big-endian between the namespace and the key.
    ASSERT_EQ(slot_of_key("foo", 3), 12182);
    Buf out;
    keys_meta_key(out.get(), kDefaultNs, true, S("foo"));
    EXPECT_EQ(out.str(), std::string("\x0b__namespace\x2f\x96"
                                     "foo",
                                     17));
}

TEST(Keys, MetaKeyClusterHashTag)
{
    // "{user1000}.following" hashes on "user1000": slot 3443 = 0x0D73.
    ASSERT_EQ(slot_of_key("user1000", 8), 3443);
    Buf out;
    keys_meta_key(out.get(), kDefaultNs, true, S("{user1000}.following"));
    EXPECT_EQ(out.str(), kNs + std::string("\x0d\x73", 2) + "{user1000}.following");
}

TEST(Keys, MetaKeyOtherNamespacesAndBinary)
{
    Buf out;
    keys_meta_key(out.get(), kv_slice_cstr("ns1"), false, S(std::string("a\0b", 3)));
    EXPECT_EQ(out.str(), std::string("\x03ns1a\0b", 7));

    // The empty namespace: a single zero length byte.
    keys_meta_key(out.get(), kv_slice_make("", 0), false, S("k"));
    EXPECT_EQ(out.str(), std::string("\x00k", 2));

    // The empty user key: only the prefix. The buffer is cleared first.
    keys_meta_key(out.get(), kDefaultNs, false, S(""));
    EXPECT_EQ(out.str(), kNs);

    // A 255-byte namespace is the longest the u8 length can carry.
    std::string ns255(255, 'n');
    keys_meta_key(out.get(), S(ns255), false, S("k"));
    EXPECT_EQ(out.str(), std::string("\xff", 1) + ns255 + "k");
}

TEST(Keys, SubKeyNonCluster)
{
    Buf out;
    keys_subkey(out.get(), kDefaultNs, false, S("foo"), 0x0102030405060708ULL, S("field"));
    std::string want = kNs + std::string("\x00\x00\x00\x03", 4) + "foo" +
                       std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) + "field";
    EXPECT_EQ(out.str(), want);

    keys_subkey_prefix(out.get(), kDefaultNs, false, S("foo"), 0x0102030405060708ULL);
    EXPECT_EQ(out.str(), want.substr(0, want.size() - 5));
}

TEST(Keys, SubKeyCluster)
{
    Buf out;
    keys_subkey(out.get(), kDefaultNs, true, S("foo"), 0xfedcba9876543210ULL, S(""));
    std::string want = kNs + std::string("\x2f\x96", 2) + std::string("\x00\x00\x00\x03", 4) +
                       "foo" + std::string("\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
    EXPECT_EQ(out.str(), want);
}

TEST(Keys, SubKeyLongKeyLength)
{
    // The key length is a full u32: 0x00000101 for 257 bytes.
    std::string key(257, 'k');
    Buf out;
    keys_subkey(out.get(), kDefaultNs, false, S(key), 1, S(std::string("\x00\xff", 2)));
    std::string want = kNs + std::string("\x00\x00\x01\x01", 4) + key +
                       std::string("\x00\x00\x00\x00\x00\x00\x00\x01", 8) +
                       std::string("\x00\xff", 2);
    EXPECT_EQ(out.str(), want);
}

TEST(Keys, NsScanPrefix)
{
    Buf out;
    keys_ns_scan_prefix(out.get(), kDefaultNs, false, 1234);
    EXPECT_EQ(out.str(), kNs);
    keys_ns_scan_prefix(out.get(), kDefaultNs, true, 0x2f96);
    EXPECT_EQ(out.str(), kNs + std::string("\x2f\x96", 2));
    keys_ns_scan_prefix(out.get(), kDefaultNs, true, 0);
    EXPECT_EQ(out.str(), kNs + std::string("\x00\x00", 2));
}

TEST(Keys, AppendNsPrefixAppends)
{
    Buf out;
    kv_buf_append_cstr(out.get(), "x");
    keys_append_ns_prefix(out.get(), kDefaultNs, true, S("foo"));
    EXPECT_EQ(out.str(), "x" + kNs + std::string("\x2f\x96", 2));
}

TEST(Keys, DecodeMetaKeyRoundTrip)
{
    for (bool cluster : {false, true}) {
        for (const std::string &key :
             {std::string("foo"), std::string(""), std::string("a\0b", 3), std::string("{tag}x")}) {
            Buf out;
            keys_meta_key(out.get(), kv_slice_cstr("ns"), cluster, S(key));
            struct kv_slice ns = {nullptr, 0}, user = {nullptr, 0};
            uint16_t slot = 0xffff;
            ASSERT_EQ(keys_decode_meta_key(kv_buf_slice(out.get()), cluster, &ns, &slot, &user),
                      KV_OK);
            EXPECT_EQ(Str(ns), "ns");
            EXPECT_EQ(Str(user), key);
            EXPECT_EQ(slot, cluster ? slot_of_key(key.data(), key.size()) : 0);
        }
    }
}

TEST(Keys, DecodeMetaKeyHandWritten)
{
    std::string raw("\x0b__namespace\x2f\x96"
                    "foo",
                    17);
    struct kv_slice ns, user;
    uint16_t slot = 0;
    ASSERT_EQ(keys_decode_meta_key(S(raw), true, &ns, &slot, &user), KV_OK);
    EXPECT_EQ(Str(ns), "__namespace");
    EXPECT_EQ(slot, 0x2f96);
    EXPECT_EQ(Str(user), "foo");
    // Slices borrow from the input.
    EXPECT_EQ(ns.ptr, raw.data() + 1);
    EXPECT_EQ(user.ptr, raw.data() + 14);
}

TEST(Keys, DecodeMetaKeyMalformed)
{
    struct kv_slice ns = {"unchanged", 9}, user = {"unchanged", 9};
    uint16_t slot = 7;
    // Empty input.
    EXPECT_EQ(keys_decode_meta_key(S(""), false, &ns, &slot, &user), KV_ERR_CORRUPT);
    // Namespace length beyond the end.
    EXPECT_EQ(keys_decode_meta_key(S(std::string("\x0b__name", 7)), false, &ns, &slot, &user),
              KV_ERR_CORRUPT);
    EXPECT_EQ(keys_decode_meta_key(S(std::string("\xff", 1)), false, &ns, &slot, &user),
              KV_ERR_CORRUPT);
    // Cluster mode: the slot is missing or cut.
    EXPECT_EQ(keys_decode_meta_key(S(kNs), true, &ns, &slot, &user), KV_ERR_CORRUPT);
    EXPECT_EQ(keys_decode_meta_key(S(kNs + "\x01"), true, &ns, &slot, &user), KV_ERR_CORRUPT);
    // Outputs untouched on failure.
    EXPECT_EQ(Str(ns), "unchanged");
    EXPECT_EQ(Str(user), "unchanged");
    EXPECT_EQ(slot, 7);
    // The prefix alone is a valid key with an empty user key.
    ASSERT_EQ(keys_decode_meta_key(S(kNs), false, &ns, &slot, &user), KV_OK);
    EXPECT_EQ(user.len, 0u);
    ASSERT_EQ(keys_decode_meta_key(S(kNs + std::string("\x00\x01", 2)), true, &ns, &slot, &user),
              KV_OK);
    EXPECT_EQ(slot, 1);
    EXPECT_EQ(user.len, 0u);
}

TEST(Keys, DecodeSubKeyRoundTrip)
{
    const uint64_t versions[] = {0, 1, 0x8000000000000000ULL, UINT64_MAX};
    for (bool cluster : {false, true}) {
        for (uint64_t v : versions) {
            for (const std::string &sub :
                 {std::string(""), std::string("field"), std::string("\x00\x00\xff", 3)}) {
                Buf out;
                keys_subkey(out.get(), kDefaultNs, cluster, S("the key"), v, S(sub));
                struct kv_slice ns, user, got_sub;
                uint64_t ver = 0;
                ASSERT_EQ(keys_decode_subkey(kv_buf_slice(out.get()), cluster, &ns, &user, &ver,
                                             &got_sub),
                          KV_OK);
                EXPECT_EQ(Str(ns), "__namespace");
                EXPECT_EQ(Str(user), "the key");
                EXPECT_EQ(ver, v);
                EXPECT_EQ(Str(got_sub), sub);
            }
        }
    }
}

TEST(Keys, DecodeSubKeyHandWritten)
{
    std::string raw = kNs + std::string("\x00\x00\x00\x03", 4) + "foo" +
                      std::string("\x00\x00\x00\x00\x00\x00\x01\x00", 8) + "f";
    struct kv_slice ns, user, sub;
    uint64_t ver = 0;
    ASSERT_EQ(keys_decode_subkey(S(raw), false, &ns, &user, &ver, &sub), KV_OK);
    EXPECT_EQ(Str(ns), "__namespace");
    EXPECT_EQ(Str(user), "foo");
    EXPECT_EQ(ver, 256u);
    EXPECT_EQ(Str(sub), "f");
    EXPECT_EQ(sub.ptr, raw.data() + raw.size() - 1);
}

TEST(Keys, DecodeSubKeyMalformed)
{
    const std::string klen3("\x00\x00\x00\x03", 4);
    const std::string ver8("\x00\x00\x00\x00\x00\x00\x00\x05", 8);
    struct kv_slice ns = {"unchanged", 9}, user = {"unchanged", 9}, sub = {"unchanged", 9};
    uint64_t ver = 99;
    const std::string bad[] = {
        std::string(),                                  // empty
        std::string("\x05ns", 3),                       // namespace cut
        kNs,                                            // no key length
        kNs + std::string("\x00\x00\x00", 3),           // key length cut
        kNs + klen3 + "fo",                             // key cut
        kNs + klen3 + "foo",                            // no version
        kNs + klen3 + "foo" + ver8.substr(0, 7),        // version cut
        kNs + std::string("\xff\xff\xff\xff", 4) + "x", // absurd key length
    };
    for (const std::string &raw : bad) {
        EXPECT_EQ(keys_decode_subkey(S(raw), false, &ns, &user, &ver, &sub), KV_ERR_CORRUPT)
            << testing::PrintToString(raw);
    }
    // A non-cluster sub-key read in cluster mode is cut (2 more bytes expected).
    std::string ok = kNs + klen3 + "foo" + ver8;
    EXPECT_EQ(keys_decode_subkey(S(ok), true, &ns, &user, &ver, &sub), KV_ERR_CORRUPT);
    EXPECT_EQ(Str(ns), "unchanged");
    EXPECT_EQ(Str(user), "unchanged");
    EXPECT_EQ(Str(sub), "unchanged");
    EXPECT_EQ(ver, 99u);
    // The exact minimum decodes, with an empty sub-key.
    ASSERT_EQ(keys_decode_subkey(S(ok), false, &ns, &user, &ver, &sub), KV_OK);
    EXPECT_EQ(ver, 5u);
    EXPECT_EQ(sub.len, 0u);
}

TEST(Keys, SubKeysOfOneVersionSortTogether)
{
    // Every sub-key of (key, v) lies in [prefix(v), prefix(v+1)), and a longer key sharing the
    // first bytes does not fall inside (the u32 length keeps keys apart).
    Buf lo, hi, a, b, other;
    keys_subkey_prefix(lo.get(), kDefaultNs, false, S("k"), 10);
    keys_subkey_prefix(hi.get(), kDefaultNs, false, S("k"), 11);
    keys_subkey(a.get(), kDefaultNs, false, S("k"), 10, S(""));
    keys_subkey(b.get(), kDefaultNs, false, S("k"), 10, S(std::string(100, '\xff')));
    keys_subkey(other.get(), kDefaultNs, false, S("kk"), 10, S(""));
    EXPECT_LE(lo.str(), a.str());
    EXPECT_LT(b.str(), hi.str());
    EXPECT_TRUE(other.str() < lo.str() || other.str() >= hi.str());
}

TEST(Keys, PrefixEnd)
{
    struct {
        std::string in, want;
    } cases[] = {
        {"abc", "abd"},
        {std::string("ab\xff", 3), "ac"},
        {std::string("a\xff\xff", 3), "b"},
        {std::string("\xfe\xff", 2), "\xff"},
        {std::string("\x00", 1), std::string("\x01", 1)},
        {std::string("a\x00\xff", 3), std::string("a\x01", 2)},
        {std::string("\xff", 1), ""},
        {std::string("\xff\xff\xff", 3), ""},
        {"", ""},
    };
    for (const auto &c : cases) {
        Buf out;
        kv_buf_append_cstr(out.get(), "garbage"); // cleared first
        keys_prefix_end(out.get(), S(c.in));
        EXPECT_EQ(out.str(), c.want) << testing::PrintToString(c.in);
        // Every key starting with the prefix sorts below the result (when there is one).
        if (!c.want.empty()) {
            EXPECT_LT(c.in, c.want);
            EXPECT_LT(c.in + std::string(50, '\xff'), c.want);
        }
    }
    // The namespace prefix bound ends in '_'+1 (the last byte of "__namespace" is 'e').
    Buf out;
    keys_prefix_end(out.get(), S(kNs));
    EXPECT_EQ(out.str(), std::string("\x0b__namespacf", 12));
}

TEST(KeysDeathTest, NamespaceLongerThan255Aborts)
{
    // The length is one byte: encoding a longer namespace would corrupt every key after it.
    std::string ns256(256, 'n');
    Buf out;
    EXPECT_DEATH(keys_meta_key(out.get(), S(ns256), false, S("k")), "");
    EXPECT_DEATH(keys_ns_scan_prefix(out.get(), S(ns256), false, 0), "");
}
