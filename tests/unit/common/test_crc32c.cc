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

// The table version (CPUs without SSE 4.2) gives the standard vectors too, and both versions
// agree on every length and alignment of pseudo-random data.
TEST(Crc32c, PortableAndHardwareAgree)
{
    EXPECT_EQ(crc32c_update_portable(0, "123456789", 9), 0xE3069283u);
    std::string data(3 * 4096 * 3 + 4096 + 7, '\0');
    uint32_t x = 2463534242u;
    for (char &c : data) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = (char)(x & 0xff);
    }
    for (size_t off = 0; off < 8; off++) {
        // Past 3 x 4096 bytes the hardware version interleaves three lanes and joins them.
        for (size_t len : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096, 3 * 4096 - 1, 3 * 4096,
                           3 * 4096 + 1, 3 * 4096 + 4095, 2 * 3 * 4096, 3 * 3 * 4096 + 4096}) {
            uint32_t seed = (uint32_t)(off * 2654435761u + len);
            EXPECT_EQ(crc32c_update(seed, data.data() + off, len),
                      crc32c_update_portable(seed, data.data() + off, len))
                << off << " " << len;
        }
    }
}
