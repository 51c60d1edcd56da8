// SPDX-License-Identifier: Apache-2.0
#include <string>

#include <gtest/gtest.h>

#include "common/crc32c.h"

TEST(Crc32c, KnownVectorsAndIncremental)
{
    // The standard check value of CRC-32C.
    EXPECT_EQ(crc32c_update(0, "123456789", 9), 0xE3069283u);
    EXPECT_EQ(crc32c_update(0, "", 0), 0u);
    std::string zeros(32, '\0');
    EXPECT_EQ(crc32c_update(0, zeros.data(), zeros.size()), 0x8A9136AAu);
    std::string s = "The quick brown fox jumps over the lazy dog, many times over.";
    uint32_t whole = crc32c_update(0, s.data(), s.size());
    for (size_t cut = 0; cut <= s.size(); cut++) {
        uint32_t part = crc32c_update(0, s.data(), cut);
        EXPECT_EQ(crc32c_update(part, s.data() + cut, s.size() - cut), whole) << cut;
    }
}
