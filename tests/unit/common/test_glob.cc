// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/glob.h"

namespace {

bool
Match(const std::string &pattern, const std::string &s, bool nocase = false)
{
    return glob_match(pattern.data(), pattern.size(), s.data(), s.size(), nocase);
}

struct RedisGlobCase {
    const char *pattern;
    std::vector<std::string> matches;
};

// Recorded from redis-server 7.0.15: every subject was SET as a key, then KEYS <pattern> was
// run (KEYS calls stringmatchlen for every pattern except exactly "*", which it special-cases
// as "all keys"; the "*" row is therefore the special case, see the EmptyString test).
static const char *const kSubjects[] = {
    "",        "a",      "b",     "c",     "d",     "z",     "x",       "ab",   "abc",     "aXb",
    "acb",     "aab",    "hello", "hallo", "hxllo", "hbllo", "h",       "hllo", "heeello", "*",
    "?",       "[",      "]",     "-",     "\\",    "a\\",   "a[",      "a[b",  "x[",      "[a",
    "ab[",     "[ab",    "A",     "Z",     "aaaab", "aaaa",  "abc.def", ".",    "user:1",  "user:*",
    "xaxbxcx", "abcabc", "ax",    "zx",    "]x",    "-x",    "bx",      "[x",   "^",       "!",
    "x\\y",    "xy",     "ba",    "a]",    "[a-",
};

static const struct RedisGlobCase kRedisCases[] = {
    {"*", {"",        "a",      "b",       "c",    "d",       "z",     "x",      "ab",
           "abc",     "aXb",    "acb",     "aab",  "hello",   "hallo", "hxllo",  "hbllo",
           "h",       "hllo",   "heeello", "*",    "?",       "[",     "]",      "-",
           "\\",      "a\\",    "a[",      "a[b",  "x[",      "[a",    "ab[",    "[ab",
           "A",       "Z",      "aaaab",   "aaaa", "abc.def", ".",     "user:1", "user:*",
           "xaxbxcx", "abcabc", "ax",      "zx",   "]x",      "-x",    "bx",     "[x",
           "^",       "!",      "x\\y",    "xy",   "ba",      "a]",    "[a-"}},
    {"**", {"a",   "b",      "c",      "d",       "z",      "x",     "ab",    "abc",  "aXb",
            "acb", "aab",    "hello",  "hallo",   "hxllo",  "hbllo", "h",     "hllo", "heeello",
            "*",   "?",      "[",      "]",       "-",      "\\",    "a\\",   "a[",   "a[b",
            "x[",  "[a",     "ab[",    "[ab",     "A",      "Z",     "aaaab", "aaaa", "abc.def",
            ".",   "user:1", "user:*", "xaxbxcx", "abcabc", "ax",    "zx",    "]x",   "-x",
            "bx",  "[x",     "^",      "!",       "x\\y",   "xy",    "ba",    "a]",   "[a-"}},
    {"", {""}},
    {"?",
     {"a", "b", "c", "d", "z", "x", "h", "*", "?", "[", "]", "-", "\\", "A", "Z", ".", "^", "!"}},
    {"a", {"a"}},
    {"a*",
     {"a", "ab", "abc", "aXb", "acb", "aab", "a\\", "a[", "a[b", "ab[", "aaaab", "aaaa", "abc.def",
      "abcabc", "ax", "a]"}},
    {"*a", {"a", "[a", "aaaa", "ba"}},
    {"a*b", {"ab", "aXb", "acb", "aab", "a[b", "aaaab"}},
    {"a?c", {"abc"}},
    {"[abc]", {"a", "b", "c"}},
    {"[^abc]", {"d", "z", "x", "h", "*", "?", "[", "]", "-", "\\", "A", "Z", ".", "^", "!"}},
    {"[a-c]", {"a", "b", "c"}},
    {"[c-a]", {"a", "b", "c"}},
    {"[z-a]x", {"ax", "zx", "bx"}},
    {"[a-]", {"a", "]", "^"}},
    {"[-a]", {"a", "-"}},
    {"[]]", {}},
    {"[^]]", {"a]"}},
    {"[\\]]", {"]"}},
    {"[\\-]", {"-"}},
    {"[a\\-c]", {"a", "c", "-"}},
    {"\\*", {"*"}},
    {"\\?", {"?"}},
    {"\\[", {"["}},
    {"a\\", {"a\\"}},
    {"\\", {"\\"}},
    {"[", {}},
    {"[a", {"a"}},
    {"[^",
     {"a", "b", "c", "d", "z", "x", "h", "*", "?", "[", "]", "-", "\\", "A", "Z", ".", "^", "!"}},
    {"x[", {}},
    {"a[b", {"ab"}},
    {"[a-", {"a", "-"}},
    {"*[", {}},
    {"h?llo", {"hello", "hallo", "hxllo", "hbllo"}},
    {"h*llo", {"hello", "hallo", "hxllo", "hbllo", "hllo", "heeello"}},
    {"h[ae]llo", {"hello", "hallo"}},
    {"h[^e]llo", {"hallo", "hxllo", "hbllo"}},
    {"h[a-b]llo", {"hallo", "hbllo"}},
    {"*.*", {"abc.def", "."}},
    {"*a*b*c*", {"abc", "abc.def", "xaxbxcx", "abcabc"}},
    {"a*a*a*a*b", {"aaaab"}},
    {"user:*", {"user:1", "user:*"}},
    {"user:\\*", {"user:*"}},
    {"[[]", {"["}},
    {"[*]", {"*"}},
    {"[?]", {"?"}},
    {"*?", {"a",   "b",      "c",      "d",       "z",      "x",     "ab",    "abc",  "aXb",
            "acb", "aab",    "hello",  "hallo",   "hxllo",  "hbllo", "h",     "hllo", "heeello",
            "*",   "?",      "[",      "]",       "-",      "\\",    "a\\",   "a[",   "a[b",
            "x[",  "[a",     "ab[",    "[ab",     "A",      "Z",     "aaaab", "aaaa", "abc.def",
            ".",   "user:1", "user:*", "xaxbxcx", "abcabc", "ax",    "zx",    "]x",   "-x",
            "bx",  "[x",     "^",      "!",       "x\\y",   "xy",    "ba",    "a]",   "[a-"}},
    {"?*", {"a",   "b",      "c",      "d",       "z",      "x",     "ab",    "abc",  "aXb",
            "acb", "aab",    "hello",  "hallo",   "hxllo",  "hbllo", "h",     "hllo", "heeello",
            "*",   "?",      "[",      "]",       "-",      "\\",    "a\\",   "a[",   "a[b",
            "x[",  "[a",     "ab[",    "[ab",     "A",      "Z",     "aaaab", "aaaa", "abc.def",
            ".",   "user:1", "user:*", "xaxbxcx", "abcabc", "ax",    "zx",    "]x",   "-x",
            "bx",  "[x",     "^",      "!",       "x\\y",   "xy",    "ba",    "a]",   "[a-"}},
    {"??", {"ab", "a\\", "a[", "x[", "[a", "ax", "zx", "]x", "-x", "bx", "[x", "xy", "ba", "a]"}},
    {"a**b", {"ab", "aXb", "acb", "aab", "a[b", "aaaab"}},
    {"*\\", {"\\", "a\\"}},
    {"[A-Z]", {"A", "Z"}},
    {"[a-z]*", {"a",    "b",       "c",      "d",      "z",       "x",      "ab",    "abc",
                "aXb",  "acb",     "aab",    "hello",  "hallo",   "hxllo",  "hbllo", "h",
                "hllo", "heeello", "a\\",    "a[",     "a[b",     "x[",     "ab[",   "aaaab",
                "aaaa", "abc.def", "user:1", "user:*", "xaxbxcx", "abcabc", "ax",    "zx",
                "bx",   "x\\y",    "xy",     "ba",     "a]"}},
    {"ab[", {}},
    {"[ab", {"a", "b"}},
    {"[a-]]", {"a", "]", "^"}},
    {"]", {"]"}},
    {"[^a-c]x", {"zx", "]x", "-x", "[x"}},
    {"[!a]", {"a", "!"}},
    {"\\a", {"a"}},
    {"x\\y", {"xy"}},
    {"[\\", {"\\"}},
    {"[a\\", {"a", "\\"}},
};

} // namespace

TEST(Glob, MatchesRedisOnRecordedCases)
{
    for (const RedisGlobCase &c : kRedisCases) {
        std::string pattern = c.pattern;
        for (const char *subject : kSubjects) {
            bool want = std::find(c.matches.begin(), c.matches.end(), subject) != c.matches.end();
            if (pattern == "*" && *subject == '\0')
                want = false; // KEYS * bypasses stringmatchlen; "**" shows the real answer
            EXPECT_EQ(Match(pattern, subject), want)
                << "pattern '" << pattern << "' subject '" << subject << "'";
        }
    }
}

TEST(Glob, EmptyString)
{
    EXPECT_TRUE(Match("", ""));
    EXPECT_FALSE(Match("*", ""));
    EXPECT_FALSE(Match("**", ""));
    EXPECT_FALSE(Match("?", ""));
    EXPECT_FALSE(Match("", "a"));
    // Once something matched, trailing stars match the empty rest.
    EXPECT_TRUE(Match("a*", "a"));
    EXPECT_TRUE(Match("a***", "a"));
}

TEST(Glob, BinarySafe)
{
    std::string key("a\0b", 3);
    EXPECT_TRUE(Match(std::string("a\0b", 3), key));
    EXPECT_TRUE(Match("a?b", key));
    EXPECT_TRUE(Match("a*", key));
    EXPECT_FALSE(Match("a", key));
    EXPECT_FALSE(Match(std::string("a\0c", 3), key));
    EXPECT_TRUE(Match(std::string("[\0]", 3), std::string("\0", 1)));
    // Bytes compare unsigned: 0xe9 is inside a-\xff, and a NUL is not.
    EXPECT_TRUE(Match("[a-\xff]", "\xe9"));
    EXPECT_FALSE(Match("[a-\xff]", std::string("\0", 1)));
    EXPECT_TRUE(Match("\xe9*", "\xe9t\xe9"));
}

TEST(Glob, Nocase)
{
    EXPECT_TRUE(Match("HeLLo", "hello", true));
    EXPECT_FALSE(Match("HeLLo", "hello", false));
    EXPECT_TRUE(Match("maxmemory*", "MAXMEMORY-POLICY", true));
    EXPECT_TRUE(Match("h[A-C]llo", "hbllo", true));
    EXPECT_TRUE(Match("h[a-c]llo", "hBllo", true));
    EXPECT_FALSE(Match("h[a-c]llo", "hBllo", false));
    EXPECT_TRUE(Match("[XYZ]", "y", true));
    EXPECT_TRUE(Match("[^XYZ]", "a", true));
    EXPECT_FALSE(Match("[^XYZ]", "y", true));
    // An escape inside a class compares exactly, even in nocase mode (as Redis does).
    EXPECT_FALSE(Match("[\\A]", "a", true));
    EXPECT_TRUE(Match("[\\A]", "A", true));
    // Escapes outside a class do fold.
    EXPECT_TRUE(Match("\\A", "a", true));
    // Only ASCII letters fold.
    EXPECT_FALSE(Match("\xc9", "\xe9", true));
}

TEST(Glob, NestingLimitMatchesRedis)
{
    // redis-server 7.0.15: KEYS of these patterns against a key of 1200 'a's.
    std::string s(1200, 'a');
    auto stars = [](int k, const char *unit) {
        std::string p;
        for (int i = 0; i < k; i++)
            p += unit;
        return p;
    };
    EXPECT_TRUE(Match(stars(1000, "a*") + "a", s));
    EXPECT_FALSE(Match(stars(1001, "a*") + "a", s));
    EXPECT_TRUE(Match(stars(1000, "*a"), s));
    EXPECT_FALSE(Match(stars(1001, "*a"), s));
    EXPECT_TRUE(Match(stars(1001, "a*"), s)); // the last '*' is trailing: no recursion
    EXPECT_FALSE(Match(stars(1002, "a*"), s));
}

TEST(Glob, PathologicalPatternIsFast)
{
    // Exponential for a naive backtracker; must finish at once (and not match).
    std::string s(200, 'a');
    std::string p;
    for (int i = 0; i < 60; i++)
        p += "a*";
    p += "b";
    EXPECT_FALSE(Match(p, s));
    EXPECT_FALSE(Match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
    EXPECT_TRUE(Match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*", s));
}

TEST(Glob, LiteralPrefix)
{
    auto prefix = [](const std::string &p, size_t *len) {
        return glob_literal_prefix(p.data(), p.size(), len);
    };
    size_t n = 99;
    EXPECT_TRUE(prefix("user:*", &n));
    EXPECT_EQ(n, 5u);
    EXPECT_TRUE(prefix("user:**", &n));
    EXPECT_EQ(n, 5u);
    EXPECT_TRUE(prefix("*", &n));
    EXPECT_EQ(n, 0u);
    EXPECT_FALSE(prefix("abc", &n));
    EXPECT_EQ(n, 3u);
    EXPECT_FALSE(prefix("", &n));
    EXPECT_EQ(n, 0u);
    EXPECT_FALSE(prefix("a?c*", &n));
    EXPECT_EQ(n, 1u);
    EXPECT_FALSE(prefix("ab[c]*", &n));
    EXPECT_EQ(n, 2u);
    EXPECT_FALSE(prefix("a\\*", &n));
    EXPECT_EQ(n, 1u);
    EXPECT_FALSE(prefix("a*b", &n));
    EXPECT_EQ(n, 1u);
    EXPECT_FALSE(prefix("a*?", &n));
    EXPECT_EQ(n, 1u);

    // The promise behind a true answer: matches are exactly the strings with the prefix.
    for (const char *pat : {"user:*", "ab**", "x*"}) {
        std::string p = pat;
        ASSERT_TRUE(prefix(p, &n));
        for (const char *s : kSubjects) {
            std::string subject = s;
            bool has_prefix = subject.compare(0, n, p, 0, n) == 0 && subject.size() >= n;
            EXPECT_EQ(Match(p, subject), has_prefix) << p << " vs " << subject;
        }
    }
}
