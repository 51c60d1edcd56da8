// SPDX-License-Identifier: Apache-2.0
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "common/strconv.h"

namespace {

struct IntCase {
    const char *input;
    size_t len;
    bool ok;
    long long value;
};

struct FloatCase {
    const char *input;
    size_t len;
    const char *reply; // nullptr: Redis refused the input
};

// The tables below were recorded from redis-server 7.0.15 with the command shown above each.
// INCRBY k 0 after SET k <input>: the value parsed by string2ll, or ERR.
static const struct IntCase kIntCases[] = {
    {"0", 1, true, 0LL},
    {"1", 1, true, 1LL},
    {"-1", 2, true, -1LL},
    {"-0", 2, false, 0},
    {"+1", 2, false, 0},
    {" 1", 2, false, 0},
    {"1 ", 2, false, 0},
    {"01", 2, false, 0},
    {"00", 2, false, 0},
    {"-01", 3, false, 0},
    {"9223372036854775807", 19, true, 9223372036854775807LL},
    {"-9223372036854775808", 20, true, -9223372036854775807LL - 1LL},
    {"9223372036854775808", 19, false, 0},
    {"-9223372036854775809", 20, false, 0},
    {"18446744073709551616", 20, false, 0},
    {"99999999999999999999", 20, false, 0},
    {"123456789012345678901", 21, false, 0},
    {"", 0, false, 0},
    {"-", 1, false, 0},
    {"+", 1, false, 0},
    {"0x1", 3, false, 0},
    {"1e3", 3, false, 0},
    {"1.0", 3, false, 0},
    {"12a", 3, false, 0},
    {"a12", 3, false, 0},
    {"1\x00"
     "2",
     3, false, 0},
    {"\xb9", 1, false, 0},
    {"10", 2, true, 10LL},
    {"-10", 3, true, -10LL},
    {"007", 3, false, 0},
};
// ZADD z <input> a; ZSCORE z a, with zset-max-listpack-entries 0 (skiplist encoding).
static const struct FloatCase kDoubleCases[] = {
    {"1.1", 3, "1.1000000000000001"},
    {"3", 1, "3"},
    {"inf", 3, "inf"},
    {"-inf", 4, "-inf"},
    {"+inf", 4, "inf"},
    {"Infinity", 8, "inf"},
    {"-INF", 4, "-inf"},
    {"infinity", 8, "inf"},
    {"+Infinity", 9, "inf"},
    {"INFINITY", 8, "inf"},
    {"infin", 5, nullptr},
    {"nan", 3, nullptr},
    {"NaN", 3, nullptr},
    {"-nan", 4, nullptr},
    {"0x10", 4, "16"},
    {"0x1p3", 5, "8"},
    {" 1", 2, nullptr},
    {"1 ", 2, nullptr},
    {".5", 2, "0.5"},
    {"1e", 2, nullptr},
    {"1e400", 5, nullptr},
    {"-1e400", 6, nullptr},
    {"1e-400", 6, nullptr},
    {"1e-310", 6, "9.9999999999999694e-311"},
    {"-0", 2, "-0"},
    {"+1.5", 4, "1.5"},
    {"1e17", 4, "1e+17"},
    {"4503599627370496", 16, "4503599627370496"},
    {"123456789012345678", 18, "1.2345678901234568e+17"},
    {"0.1", 3, "0.10000000000000001"},
    {"", 0, nullptr},
    {"1e-5", 4, "1.0000000000000001e-05"},
    {"1e16", 4, "10000000000000000"},
    {"1e15", 4, "1000000000000000"},
    {"5.", 2, "5"},
    {"-.5", 3, "-0.5"},
    {"1.7976931348623157e308", 22, "1.7976931348623157e+308"},
    {"2.2250738585072014e-308", 23, "2.2250738585072014e-308"},
    {"4.9e-324", 8, "4.9406564584124654e-324"},
    {"\x09"
     "1",
     2, nullptr},
    {"\x0a"
     "1",
     2, nullptr},
    {"1\x00", 2, nullptr},
    {"1.5e+3", 6, "1500"},
    {"1E3", 3, "1000"},
    {"--1", 3, nullptr},
    {"+-1", 3, nullptr},
    {"0.30000000000000004", 19, "0.30000000000000004"},
    {"-1.1", 4, "-1.1000000000000001"},
    {"1e22", 4, "1e+22"},
    {"1e21", 4, "1e+21"},
    {"123.456", 7, "123.456"},
    {"-2.5e-7", 7, "-2.4999999999999999e-07"},
    {"100", 3, "100"},
    {"1e-7", 4, "9.9999999999999995e-08"},
};
// SET f <input>; INCRBYFLOAT f 0: parsed by string2ld, printed by ld2string (human).
static const struct FloatCase kLongDoubleCases[] = {
    {"10.5", 4, "10.5"},
    {"3.0e3", 5, "3000"},
    {"5.0e3", 5, "5000"},
    {"1e300", 5,
     "100000000000000000000899732407955919387052394427329074793826008232126564659618093575584915208"
     "375049719035037250861427483590359255618467298391309626052074864628732713564184365329408425510"
     "760601678972665293237003055138294762099454029477278188962060617926761162709741065056718738610"
     "5690089424915104006144"},
    {"1e308", 5,
     "999999999999999999966858796558456456605600998474155672077970479949217348688380618721001269218"
     "885393204467472250540132231521347495939605835974208144301964187679591000196031907786631096045"
     "071066679391533957889389145605435630612683649016186302170865892534448816237913008557573181424"
     "24510452728255046343928578048"},
    {"1e4933", 6, nullptr},
    {"1e-4940", 7, "0"},
    {"1e-5000", 7, nullptr},
    {"-0", 2, "0"},
    {"0.1", 3, "0.1"},
    {"1.1", 3, "1.1"},
    {"0x10", 4, "16"},
    {"0x1p-2", 6, "0.25"},
    {"0.12345678901234567890", 22, "0.12345678901234568"},
    {"9007199254740993", 16, "9007199254740993"},
    {"-1.5", 4, "-1.5"},
    {"1e-17", 5, "0.00000000000000001"},
    {"1e-20", 5, "0"},
    {"-1e-20", 6, "0"},
    {"5e-18", 5, "0"},
    {"nan", 3, nullptr},
    {" 1", 2, nullptr},
    {"1 ", 2, nullptr},
    {"", 0, nullptr},
    {"1.e1", 4, "10"},
    {"1e", 2, nullptr},
    {"-0.0", 4, "0"},
    {"100", 3, "100"},
    {"1e18", 4, "1000000000000000000"},
    {"1e19", 4, "10000000000000000000"},
    {"123456789012345678901234567890", 30, "123456789012345678899921813504"},
    {"1.5", 3, "1.5"},
    {"-123.25", 7, "-123.25"},
    {"3.14159265358979323846", 22, "3.14159265358979324"},
};

std::string
FromDouble(double v)
{
    char buf[STRCONV_DOUBLE_BUF];
    size_t n = strconv_from_double(v, buf);
    EXPECT_EQ(buf[n], '\0');
    return std::string(buf, n);
}

std::string
FromLongDouble(long double v)
{
    std::string buf(STRCONV_LONG_DOUBLE_BUF, 'x');
    size_t n = strconv_from_long_double(v, &buf[0]);
    EXPECT_EQ(buf[n], '\0');
    return buf.substr(0, n);
}

} // namespace

TEST(Strconv, Int64MatchesRedis)
{
    for (const IntCase &c : kIntCases) {
        int64_t v = 42;
        enum kv_code rc = strconv_to_int64(c.input, c.len, &v);
        std::string shown(c.input, c.len);
        if (c.ok) {
            EXPECT_EQ(rc, KV_OK) << "'" << shown << "'";
            EXPECT_EQ(v, c.value) << "'" << shown << "'";
        } else {
            EXPECT_EQ(rc, KV_ERR_INVALID) << "'" << shown << "'";
            EXPECT_EQ(v, 42) << "out must be untouched for '" << shown << "'";
        }
    }
}

TEST(Strconv, Int64IgnoresBytesPastLength)
{
    int64_t v = 0;
    EXPECT_EQ(strconv_to_int64("123456", 3, &v), KV_OK);
    EXPECT_EQ(v, 123);
    EXPECT_EQ(strconv_to_int64("-5x", 2, &v), KV_OK);
    EXPECT_EQ(v, -5);
}

TEST(Strconv, Uint64)
{
    uint64_t v = 7;
    EXPECT_EQ(strconv_to_uint64("18446744073709551615", 20, &v), KV_OK);
    EXPECT_EQ(v, UINT64_MAX);
    EXPECT_EQ(strconv_to_uint64("0", 1, &v), KV_OK);
    EXPECT_EQ(v, 0u);
    EXPECT_EQ(strconv_to_uint64("9223372036854775808", 19, &v), KV_OK);
    EXPECT_EQ(v, 9223372036854775808ULL);
    v = 7;
    for (const char *bad : {"18446744073709551616", "99999999999999999999", "-1", "-0", "+1", "01",
                            "", " 1", "1 ", "1.0", "123456789012345678901"}) {
        EXPECT_EQ(strconv_to_uint64(bad, strlen(bad), &v), KV_ERR_INVALID) << bad;
        EXPECT_EQ(v, 7u);
    }
}

TEST(Strconv, FormatIntegers)
{
    char buf[STRCONV_INT64_BUF];
    EXPECT_EQ(strconv_from_int64(0, buf), 1u);
    EXPECT_STREQ(buf, "0");
    EXPECT_EQ(strconv_from_int64(-1, buf), 2u);
    EXPECT_STREQ(buf, "-1");
    EXPECT_EQ(strconv_from_int64(INT64_MAX, buf), 19u);
    EXPECT_STREQ(buf, "9223372036854775807");
    EXPECT_EQ(strconv_from_int64(INT64_MIN, buf), 20u);
    EXPECT_STREQ(buf, "-9223372036854775808");
    EXPECT_EQ(strconv_from_uint64(UINT64_MAX, buf), 20u);
    EXPECT_STREQ(buf, "18446744073709551615");
    EXPECT_EQ(strconv_from_uint64(1000, buf), 4u);
    EXPECT_STREQ(buf, "1000");
    // Round trip through the strict parser.
    for (int64_t v : {INT64_MIN, INT64_MIN + 1, (int64_t)-1000000007, (int64_t)0, (int64_t)9,
                      (int64_t)10, INT64_MAX}) {
        size_t n = strconv_from_int64(v, buf);
        int64_t back = 0;
        ASSERT_EQ(strconv_to_int64(buf, n, &back), KV_OK) << buf;
        EXPECT_EQ(back, v);
    }
}

TEST(Strconv, DoubleParseAndReplyMatchRedis)
{
    for (const FloatCase &c : kDoubleCases) {
        double v = 42.0;
        enum kv_code rc = strconv_to_double(c.input, c.len, &v);
        std::string shown(c.input, c.len);
        if (c.reply == nullptr) {
            EXPECT_EQ(rc, KV_ERR_INVALID) << "'" << shown << "'";
            EXPECT_EQ(v, 42.0) << "out must be untouched for '" << shown << "'";
        } else {
            ASSERT_EQ(rc, KV_OK) << "'" << shown << "'";
            EXPECT_EQ(FromDouble(v), c.reply) << "'" << shown << "'";
        }
    }
}

TEST(Strconv, DoubleHasNoLengthLimit)
{
    // ZADD accepted a 6000-byte score in redis-server 7.0.15.
    std::string s = "1." + std::string(5998, '0');
    double v = 0;
    ASSERT_EQ(strconv_to_double(s.data(), s.size(), &v), KV_OK);
    EXPECT_EQ(v, 1.0);
    s += "x";
    EXPECT_EQ(strconv_to_double(s.data(), s.size(), &v), KV_ERR_INVALID);
}

TEST(Strconv, DoubleReplyFormat)
{
    EXPECT_EQ(FromDouble(1.1), "1.1000000000000001");
    EXPECT_EQ(FromDouble(3), "3");
    EXPECT_EQ(FromDouble(-3), "-3");
    EXPECT_EQ(FromDouble(0.0), "0");
    EXPECT_EQ(FromDouble(-0.0), "-0");
    EXPECT_EQ(FromDouble(INFINITY), "inf");
    EXPECT_EQ(FromDouble(-INFINITY), "-inf");
    EXPECT_EQ(FromDouble(NAN), "nan");
    EXPECT_EQ(FromDouble(-DBL_MAX), "-1.7976931348623157e+308");
    EXPECT_EQ(FromDouble(-DBL_TRUE_MIN), "-4.9406564584124654e-324");
    EXPECT_LT(FromDouble(-DBL_MIN).size(), (size_t)STRCONV_DOUBLE_BUF);
}

TEST(Strconv, LongDoubleParseAndReplyMatchRedis)
{
    for (const FloatCase &c : kLongDoubleCases) {
        long double v = 42.0L;
        enum kv_code rc = strconv_to_long_double(c.input, c.len, &v);
        std::string shown(c.input, c.len);
        if (c.reply == nullptr) {
            EXPECT_EQ(rc, KV_ERR_INVALID) << "'" << shown << "'";
            EXPECT_EQ(v, 42.0L) << "out must be untouched for '" << shown << "'";
        } else {
            ASSERT_EQ(rc, KV_OK) << "'" << shown << "'";
            EXPECT_EQ(FromLongDouble(v), c.reply) << "'" << shown << "'";
        }
    }
}

TEST(Strconv, IncrByFloatResults)
{
    // SET f 10.5; INCRBYFLOAT f 0.1 -> "10.6" etc. (redis-server 7.0.15).
    auto incr = [](const char *a, const char *b) {
        long double x = 0, y = 0;
        EXPECT_EQ(strconv_to_long_double(a, strlen(a), &x), KV_OK);
        EXPECT_EQ(strconv_to_long_double(b, strlen(b), &y), KV_OK);
        return FromLongDouble(x + y);
    };
    EXPECT_EQ(incr("10.5", "0.1"), "10.6");
    EXPECT_EQ(incr("5.0e3", "1"), "5001");
    EXPECT_EQ(incr("5.0e3", "5.0e3"), "10000");
    EXPECT_EQ(incr("0.1", "0.2"), "0.3");
    EXPECT_EQ(incr("1", "-1"), "0");
    EXPECT_EQ(incr("0", "-0"), "0");
    // inf parses (INCRBYFLOAT then refuses the infinite result) and prints as Redis does.
    long double v = 0;
    ASSERT_EQ(strconv_to_long_double("inf", 3, &v), KV_OK);
    EXPECT_TRUE(std::isinf(v));
    EXPECT_EQ(FromLongDouble(v), "inf");
    EXPECT_EQ(FromLongDouble(-v), "-inf");
}

TEST(Strconv, LongDoubleHugeValuesFit)
{
    // Recorded: INCRBYFLOAT of 1e4000 replies 4000 digits, of LDBL_MAX 4933 digits.
    long double v = 0;
    ASSERT_EQ(strconv_to_long_double("1e4000", 6, &v), KV_OK);
    std::string s = FromLongDouble(v);
    EXPECT_EQ(s.size(), 4000u);
    EXPECT_EQ(s.substr(0, 40), "9999999999999999999965463873099623784932");
    EXPECT_EQ(s.substr(s.size() - 20), "06648276349901340672");

    const char *max = "1.18973149535723176502e+4932";
    ASSERT_EQ(strconv_to_long_double(max, strlen(max), &v), KV_OK);
    s = FromLongDouble(v);
    EXPECT_EQ(s.size(), 4933u);
    EXPECT_EQ(s.substr(0, 40), "1189731495357231765021263853030970205169");
    EXPECT_EQ(s.substr(s.size() - 20), "19552086811989770240");

    s = FromLongDouble(-LDBL_MAX);
    EXPECT_EQ(s.size(), 4934u);
    EXPECT_LT(s.size(), (size_t)STRCONV_LONG_DOUBLE_BUF);
}

TEST(Strconv, LongDoubleLengthLimit)
{
    // Recorded: INCRBYFLOAT accepts a 5119-byte value and refuses a 5120-byte one.
    long double v = 0;
    std::string s = "1." + std::string(5117, '0');
    ASSERT_EQ(s.size(), 5119u);
    EXPECT_EQ(strconv_to_long_double(s.data(), s.size(), &v), KV_OK);
    EXPECT_EQ(v, 1.0L);
    s += "0";
    v = 3;
    EXPECT_EQ(strconv_to_long_double(s.data(), s.size(), &v), KV_ERR_INVALID);
    EXPECT_EQ(v, 3.0L);
}
