// SPDX-License-Identifier: Apache-2.0
#include <string>

#include <gtest/gtest.h>

#include "common/crc16.h"
#include "common/slot.h"

namespace {

uint16_t
Slot(const std::string &key)
{
    return slot_of_key(key.data(), key.size());
}

} // namespace

TEST(Crc16, KnownValues)
{
    // The CRC-16/XMODEM check value, and the Redis cluster spec's example.
    EXPECT_EQ(crc16("123456789", 9), 0x31c3);
    EXPECT_EQ(crc16("", 0), 0);
    EXPECT_EQ(crc16("A", 1), 0x58e5);
}

TEST(Slot, MatchesRedisClusterKeyslot)
{
    // CLUSTER KEYSLOT answers of redis-server 7.0.15 started with cluster-enabled yes.
    struct {
        const char *key;
        uint16_t slot;
    } cases[] = {
        {"foo", 12182},
        {"bar", 5061},
        {"{user1000}.following", 3443},
        {"{user1000}.followers", 3443},
        {"foo{}{bar}", 8363},    // empty first tag: whole key
        {"foo{{bar}}zap", 4015}, // tag is "{bar"
        {"{bar", 4015},
        {"", 0},
        {"123456789", 12739},
        {"{}", 15257},
        {"a{b}c", 3300},
        {"b", 3300},
        {"foo{bar}{zap}", 5061}, // only the first tag counts
        {"{{}}", 4092},
        {"{a}{", 15495},
        {"}{a}", 15495},
        {"foo{", 7673},
    };
    for (const auto &c : cases)
        EXPECT_EQ(Slot(c.key), c.slot) << c.key;
}

TEST(Slot, HashTagRules)
{
    EXPECT_EQ(Slot("{user1000}.following"), Slot("user1000"));
    EXPECT_EQ(Slot("x{tag}y"), Slot("tag"));
    EXPECT_EQ(Slot("foo{}{bar}"), crc16("foo{}{bar}", 10) & 16383);
    EXPECT_EQ(Slot("foo{bar"), crc16("foo{bar", 7) & 16383); // unterminated: whole key
    EXPECT_EQ(Slot(std::string("{a\0b}", 5)), Slot(std::string("a\0b", 3)));
    for (int i = 0; i < 1000; i++)
        EXPECT_LT(Slot("key:" + std::to_string(i)), SLOT_COUNT);
}
