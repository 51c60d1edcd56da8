// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "common/buf.h"
#include "common/endian.h"

TEST(Buf, AppendAndBigEndian)
{
    struct kv_buf b = KV_BUF_INIT;
    kv_buf_append_cstr(&b, "ab");
    kv_buf_append_u16be(&b, 0x0102);
    kv_buf_append_u32be(&b, 0x03040506);
    kv_buf_append_u64be(&b, 0x0708090a0b0c0d0eULL);
    ASSERT_EQ(b.len, 2u + 2 + 4 + 8);
    EXPECT_EQ(b.ptr[b.len], '\0');
    EXPECT_EQ(kv_get_u16be(b.ptr + 2), 0x0102);
    EXPECT_EQ(kv_get_u32be(b.ptr + 4), 0x03040506u);
    EXPECT_EQ(kv_get_u64be(b.ptr + 8), 0x0708090a0b0c0d0eULL);
    EXPECT_EQ((unsigned char)b.ptr[2], 0x01);
    kv_buf_printf(&b, "%s-%d", "x", 42);
    EXPECT_EQ(std::string(b.ptr + 16, b.len - 16), "x-42");
    kv_buf_resize(&b, 3);
    EXPECT_EQ(b.len, 3u);
    kv_buf_resize(&b, 5);
    EXPECT_EQ(b.ptr[4], '\0');
    kv_buf_deinit(&b);
    EXPECT_EQ(b.ptr, nullptr);
}

TEST(Buf, LongPrintfGrows)
{
    struct kv_buf b = KV_BUF_INIT;
    std::string big(1000, 'z');
    kv_buf_printf(&b, "%s|%s", big.c_str(), big.c_str());
    EXPECT_EQ(b.len, 2001u);
    EXPECT_EQ(b.ptr[1000], '|');
    kv_buf_deinit(&b);
}
