// SPDX-License-Identifier: Apache-2.0
//
// Tests for resp/resp_parser: the same verdict however the input is split, pipelines, rebase,
// every limit and error text (as redis-server 7.0 words them), inline quoting, garbage, and a
// work bound for large requests arriving in small pieces.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "resp/resp_parser.h"

namespace {

using Args = std::vector<std::string>;

const struct resp_limits kRedisLimits = {1024 * 1024, 512ull * 1024 * 1024, 64 * 1024};

struct Outcome {
    std::vector<Args> reqs; // complete requests, in order
    std::string error;      // err.msg of KV_ERR_PROTOCOL, empty if none
    size_t leftover = 0;    // bytes not consumed when the input ran out (no error)
    bool
    operator==(const Outcome &o) const
    {
        return reqs == o.reqs && error == o.error && leftover == o.leftover;
    }
};

std::string
describe(const Outcome &o)
{
    std::string s;
    for (const Args &a : o.reqs) {
        s += "[";
        for (const std::string &x : a)
            s += "'" + x + "' ";
        s += "] ";
    }
    s += "error='" + o.error + "' leftover=" + std::to_string(o.leftover);
    return s;
}

struct Driver {
    struct resp_limits lim = kRedisLimits;
    bool rebase = false; // drop consumed bytes after each KV_NOTFOUND, as conn.c will
    uint64_t calls = 0;
    uint64_t scanned = 0;
};

// Feed `input` to a fresh parser in pieces ending at `cuts` (ascending, the last one implied at
// input.size()), collecting every request. Checks on the way: progress never goes back, an error
// repeats on the next call, and the line-end searches look at each byte about once.
Outcome
run(const std::string &input, const std::vector<size_t> &cuts, Driver *d)
{
    Outcome out;
    struct resp_parser p;
    resp_parser_init(&p);
    std::string buf;
    size_t fed = 0;
    size_t dropped = 0; // bytes removed from the front of buf
    size_t last_cursor = 0;
    size_t last_pos = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(input.size());
    for (size_t end : ends) {
        if (end < fed)
            continue;
        buf.append(input, fed, end - fed);
        if (buf.size() < 4096)
            buf.shrink_to_fit(); // move the bytes around: the parser must keep only offsets
        fed = end;
        for (;;) {
            struct kv_err err;
            kv_err_clear(&err);
            d->calls++;
            enum kv_code rc = resp_parser_next(&p, buf.data(), buf.size(), &d->lim, &err);
            EXPECT_GE(p.cursor + dropped, last_cursor) << "progress went back";
            EXPECT_GE(p.pos + dropped, last_pos);
            EXPECT_LE(p.pos, p.cursor);
            last_cursor = p.cursor + dropped;
            last_pos = p.pos + dropped;
            if (rc == KV_OK) {
                EXPECT_GE(p.argc, 1u);
                EXPECT_EQ(p.want, 0u);
                Args a;
                for (size_t i = 0; i < p.argc; i++)
                    a.emplace_back(resp_parser_arg(&p, buf.data(), i), p.argv[i].len);
                out.reqs.push_back(a);
                resp_parser_done(&p);
                continue;
            }
            if (rc == KV_ERR_PROTOCOL) {
                EXPECT_EQ(err.code, KV_ERR_PROTOCOL);
                out.error = err.msg;
                struct kv_err again;
                kv_err_clear(&again);
                EXPECT_EQ(resp_parser_next(&p, buf.data(), buf.size(), &d->lim, &again),
                          KV_ERR_PROTOCOL);
                EXPECT_STREQ(again.msg, err.msg) << "a repeated call must give the same error";
                d->scanned += p.scanned;
                resp_parser_deinit(&p);
                return out;
            }
            EXPECT_EQ(rc, KV_NOTFOUND);
            break;
        }
        if (d->rebase && p.pos > 0) {
            size_t n = p.pos;
            buf.erase(0, n);
            resp_parser_rebase(&p, n);
            dropped += n;
        }
        if (fed == input.size())
            break;
    }
    out.leftover = buf.size() - p.pos;
    d->scanned += p.scanned;
    resp_parser_deinit(&p);
    return out;
}

Outcome
run_whole(const std::string &input, const struct resp_limits &lim = kRedisLimits)
{
    Driver d;
    d.lim = lim;
    return run(input, {}, &d);
}

// One request per complete input, or the error.
Outcome
expect_same_every_split(const std::string &input, const struct resp_limits &lim = kRedisLimits)
{
    Outcome whole = run_whole(input, lim);
    for (int rebase = 0; rebase < 2; rebase++) {
        for (size_t k = 0; k <= input.size(); k++) {
            Driver d;
            d.lim = lim;
            d.rebase = rebase != 0;
            Outcome o = run(input, {k}, &d);
            EXPECT_TRUE(o == whole) << "split at " << k << " rebase " << rebase << ": "
                                    << describe(o) << " vs " << describe(whole);
        }
        Driver d;
        d.lim = lim;
        d.rebase = rebase != 0;
        std::vector<size_t> cuts;
        for (size_t k = 1; k < input.size(); k++)
            cuts.push_back(k);
        Outcome o = run(input, cuts, &d);
        EXPECT_TRUE(o == whole) << "byte by byte: " << describe(o) << " vs " << describe(whole);
        EXPECT_LE(d.scanned, input.size() + d.calls) << "line searches rescanned bytes";
    }
    return whole;
}

std::string
mb(const Args &args)
{
    std::string s = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string &a : args)
        s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return s;
}

std::string
err_of(const std::string &input, const struct resp_limits &lim = kRedisLimits)
{
    return expect_same_every_split(input, lim).error;
}

} // namespace

TEST(RespParser, SimpleMultibulk)
{
    Outcome o = expect_same_every_split("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n");
    ASSERT_EQ(o.reqs.size(), 1u);
    EXPECT_EQ(o.reqs[0], (Args{"SET", "k", "hello"}));
    EXPECT_EQ(o.error, "");
    EXPECT_EQ(o.leftover, 0u);
}

TEST(RespParser, ArgumentsPointIntoTheCallerBuffer)
{
    static const char raw[] = "*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n";
    std::string in(raw, sizeof raw - 1);
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    ASSERT_EQ(p.argc, 2u);
    EXPECT_EQ(p.argv[0].off, 8u);
    EXPECT_EQ(p.argv[0].len, 4u);
    EXPECT_EQ(resp_parser_arg(&p, in.data(), 0), in.data() + 8);
    EXPECT_EQ(std::string(resp_parser_arg(&p, in.data(), 1), 3), std::string("a\0b", 3));
    EXPECT_EQ(p.pos, in.size());
    resp_parser_done(&p);
    EXPECT_EQ(p.argc, 0u);
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_NOTFOUND);
    resp_parser_deinit(&p);
}

TEST(RespParser, EmptyAndBinaryBulks)
{
    std::string bin;
    for (int c = 0; c < 256; c++)
        bin.push_back((char)c);
    Outcome o = expect_same_every_split(mb({"SET", "", bin, "\r\n"}));
    ASSERT_EQ(o.reqs.size(), 1u);
    EXPECT_EQ(o.reqs[0], (Args{"SET", "", bin, "\r\n"}));
}

TEST(RespParser, PipelineOfMixedRequests)
{
    std::string in;
    std::vector<Args> expect;
    for (int i = 0; i < 200; i++) {
        std::string k = "key" + std::to_string(i);
        switch (i % 5) {
        case 0:
            in += mb({"SET", k, std::string((size_t)i, 'v')});
            expect.push_back({"SET", k, std::string((size_t)i, 'v')});
            break;
        case 1:
            in += "GET " + k + "\r\n";
            expect.push_back({"GET", k});
            break;
        case 2:
            in += "*0\r\n*-1\r\n\r\n   \r\n\n"; // empty requests are consumed silently
            break;
        case 3:
            in += "INCR \"" + k + "\"\n";
            expect.push_back({"INCR", k});
            break;
        default:
            in += mb({"PING"});
            expect.push_back({"PING"});
            break;
        }
    }
    Outcome whole = run_whole(in);
    EXPECT_EQ(whole.reqs, expect);
    EXPECT_EQ(whole.error, "");
    EXPECT_EQ(whole.leftover, 0u);
    // Chunks of several odd sizes, with and without dropping consumed bytes.
    for (size_t chunk : {1u, 2u, 3u, 7u, 64u, 1000u}) {
        for (int rebase = 0; rebase < 2; rebase++) {
            std::vector<size_t> cuts;
            for (size_t k = chunk; k < in.size(); k += chunk)
                cuts.push_back(k);
            Driver d;
            d.rebase = rebase != 0;
            Outcome o = run(in, cuts, &d);
            EXPECT_TRUE(o == whole) << "chunk " << chunk;
            EXPECT_LE(d.scanned, in.size() + d.calls);
        }
    }
}

TEST(RespParser, EveryBoundaryOfAPipeline)
{
    std::string in = mb({"SET", "a", "1"}) + "*0\r\n" + "GET a\r\n" + mb({"DEL", "a"}) +
                     "  ECHO 'x y'  \n" + "*-3\r\n" + mb({""}) + "PING";
    Outcome o = expect_same_every_split(in);
    ASSERT_EQ(o.reqs.size(), 5u);
    EXPECT_EQ(o.reqs[3], (Args{"ECHO", "x y"}));
    EXPECT_EQ(o.reqs[4], (Args{""}));
    EXPECT_EQ(o.leftover, 4u); // "PING" has no line end yet
}

TEST(RespParser, EmptyRequestsAreConsumed)
{
    for (const char *in : {"*0\r\n", "*-1\r\n", "*-5\r\n", "\r\n", "\n", "   \r\n", " \t \n"}) {
        Outcome o = expect_same_every_split(in);
        EXPECT_TRUE(o.reqs.empty()) << in;
        EXPECT_EQ(o.error, "") << in;
        EXPECT_EQ(o.leftover, 0u) << in;
    }
    struct resp_parser p;
    resp_parser_init(&p);
    std::string in = "*0\r\n\r\n*-1\r\nPING\r\n";
    struct kv_err err;
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    EXPECT_EQ(p.argc, 1u);
    EXPECT_EQ(p.pos, in.size());
    resp_parser_deinit(&p);
}

TEST(RespParser, NeedMoreAndWant)
{
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    std::string in = "*2\r\n$4\r\nECHO\r\n$10\r\nab";
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_NOTFOUND);
    EXPECT_EQ(p.want, 10u); // 8 data bytes and CRLF
    EXPECT_EQ(p.pos, 0u);
    EXPECT_EQ(p.argc, 1u); // ECHO is parsed and kept
    in += "cdefghij\r";
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_NOTFOUND);
    EXPECT_EQ(p.want, 1u);
    in += "\n";
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    EXPECT_EQ(p.want, 0u);
    EXPECT_EQ(std::string(resp_parser_arg(&p, in.data(), 1), p.argv[1].len), "abcdefghij");
    // A header in progress: how much is missing is unknown.
    resp_parser_done(&p);
    in += "*1\r\n$1";
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_NOTFOUND);
    EXPECT_EQ(p.want, 0u);
    resp_parser_deinit(&p);
}

TEST(RespParser, ImplicitDoneAndDoneWhileArriving)
{
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    std::string in = "PING\r\n*2\r\n$3\r\nGET\r\n";
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    EXPECT_EQ(p.argc, 1u);
    // No resp_parser_done: the next call drops the finished request itself.
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_NOTFOUND);
    EXPECT_EQ(p.argc, 1u); // GET, of the request still arriving
    resp_parser_done(&p);  // a no-op now
    EXPECT_EQ(p.argc, 1u);
    in += "$1\r\nk\r\n";
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    EXPECT_EQ(p.argc, 2u);
    EXPECT_EQ(std::string(resp_parser_arg(&p, in.data(), 0), 3), "GET");
    resp_parser_deinit(&p);
}

TEST(RespParser, RebaseKeepsArgumentsOfARequestInProgress)
{
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    std::string buf = mb({"PING"}) + "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva";
    ASSERT_EQ(resp_parser_next(&p, buf.data(), buf.size(), &kRedisLimits, &err), KV_OK);
    resp_parser_done(&p);
    size_t first = p.pos;
    EXPECT_EQ(first, 14u);
    ASSERT_EQ(resp_parser_next(&p, buf.data(), buf.size(), &kRedisLimits, &err), KV_NOTFOUND);
    EXPECT_EQ(p.pos, first); // the request in progress starts here
    EXPECT_EQ(p.argc, 2u);
    buf.erase(0, p.pos);
    resp_parser_rebase(&p, first);
    EXPECT_EQ(p.pos, 0u);
    EXPECT_EQ(p.argv[0].off, 8u);
    buf += "lue\r\n";
    ASSERT_EQ(resp_parser_next(&p, buf.data(), buf.size(), &kRedisLimits, &err), KV_OK);
    ASSERT_EQ(p.argc, 3u);
    EXPECT_EQ(std::string(resp_parser_arg(&p, buf.data(), 0), p.argv[0].len), "SET");
    EXPECT_EQ(std::string(resp_parser_arg(&p, buf.data(), 1), p.argv[1].len), "key");
    EXPECT_EQ(std::string(resp_parser_arg(&p, buf.data(), 2), p.argv[2].len), "value");
    EXPECT_EQ(p.pos, buf.size());
    resp_parser_done(&p);
    resp_parser_rebase(&p, p.pos);
    EXPECT_EQ(p.pos, 0u);
    resp_parser_rebase(&p, 0);
    // A partial inline line survives a rebase too.
    buf = "GET k";
    ASSERT_EQ(resp_parser_next(&p, buf.data(), buf.size(), &kRedisLimits, &err), KV_NOTFOUND);
    buf += "ey\r\n";
    ASSERT_EQ(resp_parser_next(&p, buf.data(), buf.size(), &kRedisLimits, &err), KV_OK);
    EXPECT_EQ(std::string(resp_parser_arg(&p, buf.data(), 1), p.argv[1].len), "key");
    resp_parser_deinit(&p);
}

TEST(RespParser, RedisQuirksKept)
{
    // The byte after a header's CR is not checked, nor the two after a bulk.
    Outcome o = expect_same_every_split("*1\rX$4\r\nPING\r\n");
    ASSERT_EQ(o.reqs.size(), 1u);
    EXPECT_EQ(o.reqs[0], (Args{"PING"}));
    o = expect_same_every_split("*1\r\n$4\rXPINGXX*1\r\n$4\r\nPING\r\n");
    EXPECT_EQ(o.reqs, (std::vector<Args>{{"PING"}, {"PING"}}));
    // A NUL before a line end hides it: Redis waits until the line is too big.
    for (const std::string &in :
         {std::string("PI\0NG\r\n", 7), std::string("*1\0\r\n$4\r\nPING\r\n", 15),
          std::string("*1\r\n$\0"
                      "4\r\nPING\r\n",
                      15),
          std::string("\0\r\n", 3)}) {
        o = expect_same_every_split(in);
        EXPECT_TRUE(o.reqs.empty());
        EXPECT_EQ(o.error, "");
        EXPECT_EQ(o.leftover, in.size());
    }
    EXPECT_EQ(run_whole(std::string("PI\0NG\r\n", 7) + std::string(70000, 'x')).error,
              "Protocol error: too big inline request");
    EXPECT_EQ(run_whole(std::string("*1\0\r\n", 5) + std::string(70000, 'x')).error,
              "Protocol error: too big mbulk count string");
    EXPECT_EQ(run_whole(std::string("*1\r\n$\0\r\n", 8) + std::string(70000, 'x')).error,
              "Protocol error: too big bulk count string");
    // NUL inside bulk data is just data.
    o = run_whole(std::string("*1\r\n$4\r\nP\0NG\r\n", 14));
    ASSERT_EQ(o.reqs.size(), 1u);
    EXPECT_EQ(o.reqs[0][0], std::string("P\0NG", 4));
}

TEST(RespParser, ProtocolErrorsWithRedisWording)
{
    struct Case {
        std::string in;
        std::string msg;
    } cases[] = {
        {"*abc\r\n", "Protocol error: invalid multibulk length"},
        {"*\r\n", "Protocol error: invalid multibulk length"},
        {"*-0\r\n", "Protocol error: invalid multibulk length"},
        {"*01\r\n", "Protocol error: invalid multibulk length"},
        {"*+1\r\n", "Protocol error: invalid multibulk length"},
        {"* 1\r\n", "Protocol error: invalid multibulk length"},
        {"*1 \r\n", "Protocol error: invalid multibulk length"},
        {"*1\n\r\n", "Protocol error: invalid multibulk length"},
        {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
        {"*1048577\r\n", "Protocol error: invalid multibulk length"},
        {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\n$00\r\n\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"},
        {"*2\r\n$4\r\nECHO\r\n$1a\r\n", "Protocol error: invalid bulk length"},
        {"*1\r\nX\r\n", "Protocol error: expected '$', got 'X'"},
        {"*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"},
        {"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
        {"*1\r\n\r\n", "Protocol error: expected '$', got ' '"}, // CR shown as a space
        {"*2\r\n$4\r\nECHO\r\nhello\r\n", "Protocol error: expected '$', got 'h'"},
        {"ECHO \"a\r\n", "Protocol error: unbalanced quotes in request"},
        {"ECHO 'a\r\n", "Protocol error: unbalanced quotes in request"},
        {"ECHO \"a\"b\r\n", "Protocol error: unbalanced quotes in request"},
        {"ECHO 'a'b\r\n", "Protocol error: unbalanced quotes in request"},
        {"ECHO \"a\"'b'\r\n", "Protocol error: unbalanced quotes in request"},
        {"ECHO \"a\\\r\n", "Protocol error: unbalanced quotes in request"},
        {"ECHO x\"\"y\r\n", "Protocol error: unbalanced quotes in request"},
        {"PING\r\nECHO \"\r\n", "Protocol error: unbalanced quotes in request"},
    };
    for (const Case &c : cases)
        EXPECT_EQ(err_of(c.in), c.msg) << c.in;
    // Requests before the bad one are still delivered.
    Outcome o = run_whole("PING\r\n" + mb({"GET", "k"}) + "*x\r\n");
    EXPECT_EQ(o.reqs.size(), 2u);
    EXPECT_EQ(o.error, "Protocol error: invalid multibulk length");
    // Without the byte after CR the line is not complete yet.
    EXPECT_EQ(run_whole("*abc\r").error, "");
    EXPECT_EQ(run_whole("*1\r\nX").error, "");
    EXPECT_EQ(run_whole("*1\r\nX\r").error, "");
}

TEST(RespParser, ErrorMessageGoesToErrAndNullErrIsAllowed)
{
    struct resp_parser p;
    resp_parser_init(&p);
    std::string in = "*1\r\n$-1\r\n";
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, nullptr), KV_ERR_PROTOCOL);
    struct kv_err err;
    kv_err_clear(&err);
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_ERR_PROTOCOL);
    EXPECT_EQ(err.code, KV_ERR_PROTOCOL);
    EXPECT_STREQ(err.msg, "Protocol error: invalid bulk length");
    resp_parser_deinit(&p);
}

TEST(RespParser, MultibulkCountLimit)
{
    struct resp_limits lim = {3, 100, 64};
    EXPECT_EQ(expect_same_every_split(mb({"a", "b", "c"}), lim).reqs.size(), 1u);
    EXPECT_EQ(err_of(mb({"a", "b", "c", "d"}), lim), "Protocol error: invalid multibulk length");
    // Redis's own limit, at the boundary (only the header: no data needed to decide).
    EXPECT_EQ(run_whole("*1048576\r\n").error, "");
    EXPECT_EQ(run_whole("*1048577\r\n").error, "Protocol error: invalid multibulk length");
}

TEST(RespParser, BulkLengthLimit)
{
    struct resp_limits lim = {16, 5, 64};
    EXPECT_EQ(expect_same_every_split(mb({"12345"}), lim).reqs.size(), 1u);
    EXPECT_EQ(err_of(mb({"123456"}), lim), "Protocol error: invalid bulk length");
    EXPECT_EQ(run_whole("*1\r\n$536870912\r\n").error, "");
    EXPECT_EQ(run_whole("*1\r\n$536870913\r\n").error, "Protocol error: invalid bulk length");
    // No limit at all: lengths near the top of the range must not overflow.
    struct resp_limits huge = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
    Driver d;
    d.lim = huge;
    std::string in = "*1\r\n$9223372036854775807\r\nabc";
    Outcome o = run(in, {}, &d);
    EXPECT_EQ(o.error, "");
    EXPECT_EQ(o.leftover, in.size());
    EXPECT_EQ(run_whole("*1\r\n$9223372036854775808\r\n", huge).error,
              "Protocol error: invalid bulk length");
    o = run_whole(mb({"PING"}) + "PING\n", huge);
    EXPECT_EQ(o.reqs.size(), 2u);
}

TEST(RespParser, LineLengthLimits)
{
    // A line is accepted when its terminator is within the first max_inline + 1 bytes.
    struct resp_limits lim = {16, 100, 8};
    Outcome o = expect_same_every_split("ABCDEFGH\nX\n", lim); // LF at index 8
    EXPECT_EQ(o.reqs, (std::vector<Args>{{"ABCDEFGH"}, {"X"}}));
    EXPECT_EQ(err_of("ABCDEFGHI\n", lim), "Protocol error: too big inline request");
    EXPECT_EQ(err_of("ABCDEFG\r\n", lim), "");
    EXPECT_EQ(err_of("ABCDEFGH\r\n", lim), "Protocol error: too big inline request");
    EXPECT_EQ(err_of("ABCDEFGH", lim), ""); // 8 bytes, no LF: wait
    EXPECT_EQ(err_of("ABCDEFGHI", lim), "Protocol error: too big inline request");
    // Header lines: the CR must be within the first 9 bytes.
    EXPECT_EQ(err_of("*0000001\r\n", lim), "Protocol error: invalid multibulk length");
    EXPECT_EQ(err_of("*00000001\r\n", lim), "Protocol error: too big mbulk count string");
    EXPECT_EQ(err_of("*00000001", lim), "Protocol error: too big mbulk count string");
    EXPECT_EQ(err_of("*0000000", lim), "");
    EXPECT_EQ(err_of("*1\r\n$0000001\r\n", lim), "Protocol error: invalid bulk length");
    EXPECT_EQ(err_of("*1\r\n$00000001\r\n", lim), "Protocol error: too big bulk count string");
    EXPECT_EQ(err_of("*1\r\nXXXXXXXXX", lim), "Protocol error: too big bulk count string");
    EXPECT_EQ(err_of("*1\r\nXXXXXXXX", lim), "");
    // A bulk longer than max_inline is fine: the limit is on lines, not data.
    EXPECT_EQ(expect_same_every_split(mb({std::string(50, 'z')}), lim).reqs.size(), 1u);
}

TEST(RespParser, RedisSizedLineLimits)
{
    std::string ok = "ECHO " + std::string(65536 - 5, 'a') + "\n";
    Outcome o = run_whole(ok);
    ASSERT_EQ(o.reqs.size(), 1u);
    EXPECT_EQ(o.reqs[0][1].size(), 65531u);
    EXPECT_EQ(run_whole(std::string(65537, 'a')).error, "Protocol error: too big inline request");
    EXPECT_EQ(run_whole(std::string(65536, 'a')).error, "");
    EXPECT_EQ(run_whole("*" + std::string(65536, '1')).error,
              "Protocol error: too big mbulk count string");
    EXPECT_EQ(run_whole("*" + std::string(65535, '1')).error, "");
    EXPECT_EQ(run_whole(mb({"ECHO"}).substr(0, 4) + "X" + std::string(70000, 'x')).error,
              "Protocol error: too big bulk count string");
    // The too-big verdict comes as soon as max_inline + 1 bytes are there, byte by byte too.
    std::string line(65537, 'b');
    std::vector<size_t> cuts;
    for (size_t k = 1; k < line.size(); k++)
        cuts.push_back(k);
    Driver d;
    o = run(line, cuts, &d);
    EXPECT_EQ(o.error, "Protocol error: too big inline request");
    EXPECT_LE(d.scanned, line.size() + 1);
}

TEST(RespParser, InlineQuoting)
{
    struct Case {
        std::string in;
        Args args;
    } cases[] = {
        {"SET k v\r\n", {"SET", "k", "v"}},
        {"  SET\t k  v  \n", {"SET", "k", "v"}},
        {"ECHO \"a\\x41\\x4g\\n\\t\\\\\\\"z\"\r\n", {"ECHO", "aAx4g\n\t\\\"z"}},
        {"ECHO \"\\r\\b\\a\\q\"\n", {"ECHO", "\r\b\aq"}},
        {"ECHO \"\\xfF\\x00\"\n", {"ECHO", std::string("\xff\0", 2)}},
        {"ECHO \"\\x\"\n", {"ECHO", "x"}},
        {"ECHO \"\\x4\"\n", {"ECHO", "x4"}},
        {"ECHO 'a\\'b\\n'\r\n", {"ECHO", "a'b\\n"}},
        {"ECHO 'a\"b'\n", {"ECHO", "a\"b"}},
        {"ECHO \"a'b\"\n", {"ECHO", "a'b"}},
        {"ECHO a\"b c\"\r\n", {"ECHO", "ab c"}},
        {"ECHO a'b c'\r\n", {"ECHO", "ab c"}},
        {"ECHO \"\" ''\r\n", {"ECHO", "", ""}},
        {"ECHO \"a\"\vx\r\n", {"ECHO", "a", "x"}}, // \v after a closing quote is a blank
        {"ECHO a\vb\r\n", {"ECHO", "a\vb"}},       // but not inside an unquoted word
        {"\vECHO a\r\n", {"ECHO", "a"}},
        {"ECHO a\fb\n", {"ECHO", "a\fb"}},
        {"ECHO a\rb\r\n", {"ECHO", "a", "b"}},
        {"ECHO a\r\r\n", {"ECHO", "a"}},
        {"ECHO \"a\rb\"\r\n", {"ECHO", "a\rb"}},
        {"ECHO \"a\\\rb\"\r\n", {"ECHO", "a\rb"}},
        {"ECHO \"a b\"\t'c d'\n", {"ECHO", "a b", "c d"}},
        {"ECHO x\"\" y\n", {"ECHO", "x", "y"}},
        {"ECHO \xc3\xa9\xff\n", {"ECHO", "\xc3\xa9\xff"}},
    };
    for (const Case &c : cases) {
        Outcome o = expect_same_every_split(c.in);
        EXPECT_EQ(o.error, "") << c.in;
        ASSERT_EQ(o.reqs.size(), 1u) << c.in;
        EXPECT_EQ(o.reqs[0], c.args) << c.in;
    }
}

TEST(RespParser, InlineBufferIsReusedAcrossRequests)
{
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    std::string in = "ECHO \"" + std::string(1000, 'q') + "\"\r\nECHO 'short'\r\n";
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    EXPECT_EQ(p.argv[1].len, 1000u);
    char *ib = p.inline_buf;
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    EXPECT_EQ(p.inline_buf, ib);
    EXPECT_EQ(std::string(resp_parser_arg(&p, in.data(), 1), p.argv[1].len), "short");
    resp_parser_deinit(&p);
}

// 100k arguments arriving 5 bytes at a time: the work is linear (line-end searches look at each
// byte about once per call), progress only moves forward, argv grows with the data.
TEST(RespParser, LargeMultibulkInSmallChunks)
{
    const size_t n = 100000;
    std::string in = "*" + std::to_string(n + 1) + "\r\n$5\r\nRPUSH\r\n";
    for (size_t i = 0; i < n; i++) {
        std::string v = std::to_string(i);
        in += "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
    }
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    size_t len = 0;
    uint64_t calls = 0;
    size_t last_cursor = 0;
    size_t last_argc = 0;
    enum kv_code rc = KV_NOTFOUND;
    while (rc == KV_NOTFOUND) {
        ASSERT_LT(len, in.size());
        len = std::min(in.size(), len + 5);
        rc = resp_parser_next(&p, in.data(), len, &kRedisLimits, &err);
        calls++;
        ASSERT_GE(p.cursor, last_cursor);
        ASSERT_GE(p.argc, last_argc); // completed arguments are kept, never re-parsed
        ASSERT_LE(p.argv_cap, 2 * p.argc + 8);
        last_cursor = p.cursor;
        last_argc = p.argc;
    }
    ASSERT_EQ(rc, KV_OK);
    EXPECT_EQ(len, in.size());
    ASSERT_EQ(p.argc, n + 1);
    EXPECT_EQ(std::string(resp_parser_arg(&p, in.data(), n), p.argv[n].len), std::to_string(n - 1));
    EXPECT_LE(p.scanned, in.size() + calls);
    resp_parser_done(&p);
    EXPECT_EQ(p.argv_cap, 0u); // a huge argv is given back
    resp_parser_deinit(&p);

    // The same, one byte at a time, dropping consumed bytes: still linear.
    std::vector<size_t> cuts;
    for (size_t k = 1; k < in.size(); k++)
        cuts.push_back(k);
    Driver d;
    d.rebase = true;
    Outcome o = run(in, cuts, &d);
    ASSERT_EQ(o.reqs.size(), 1u);
    EXPECT_EQ(o.reqs[0].size(), n + 1);
    EXPECT_LE(d.scanned, in.size() + d.calls);
}

// A big bulk arriving 4 KiB at a time costs O(1) per call once its header is read.
TEST(RespParser, BigBulkInChunks)
{
    const size_t blen = 8u << 20;
    std::string in = "*2\r\n$3\r\nSET\r\n$" + std::to_string(blen) + "\r\n";
    size_t header = in.size();
    in.append(blen, 'x');
    in += "\r\n";
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    size_t len = 0;
    enum kv_code rc = KV_NOTFOUND;
    size_t last_want = SIZE_MAX;
    uint64_t scanned_at_data = 0;
    while (rc == KV_NOTFOUND) {
        len = std::min(in.size(), len + 4096);
        rc = resp_parser_next(&p, in.data(), len, &kRedisLimits, &err);
        if (rc == KV_NOTFOUND && len >= header) {
            EXPECT_EQ(p.want, in.size() - len);
            EXPECT_LT(p.want, last_want);
            last_want = p.want;
            if (scanned_at_data == 0)
                scanned_at_data = p.scanned;
            EXPECT_EQ(p.scanned, scanned_at_data) << "bulk data must not be searched";
        }
    }
    ASSERT_EQ(rc, KV_OK);
    EXPECT_EQ(p.argv[1].len, blen);
    EXPECT_EQ(p.argv[1].off, header);
    EXPECT_LE(p.scanned, (uint64_t)header);
    resp_parser_deinit(&p);
}

TEST(RespParser, ArgvIsNotSizedByTheClaimedCount)
{
    struct resp_parser p;
    resp_parser_init(&p);
    struct kv_err err;
    std::string in = "*1048576\r\n$1\r\na\r\n";
    ASSERT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_NOTFOUND);
    EXPECT_EQ(p.argc, 1u);
    EXPECT_LE(p.argv_cap, 8u);
    resp_parser_deinit(&p);
}

TEST(RespParser, RandomGarbageNeverCrashes)
{
    std::mt19937_64 rng(12345);
    const char alphabet[] = "*$\r\n0123456789-+ \"'\\xabPING\0\t\v";
    struct resp_limits lim = {64, 64, 32};
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = rng() % 80;
        std::string in;
        for (size_t i = 0; i < n; i++) {
            if (rng() % 4 == 0)
                in.push_back((char)(rng() % 256));
            else
                in.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
        }
        Outcome whole = run_whole(in, lim);
        std::vector<size_t> cuts;
        for (size_t k = rng() % 5 + 1; k < n; k += rng() % 5 + 1)
            cuts.push_back(k);
        Driver d;
        d.lim = lim;
        d.rebase = iter % 2 == 0;
        Outcome o = run(in, cuts, &d);
        EXPECT_TRUE(o == whole) << describe(o) << " vs " << describe(whole);
        EXPECT_LE(d.scanned, in.size() + d.calls);
    }
}

TEST(RespParser, MutatedRequestsNeverCrash)
{
    std::mt19937_64 rng(777);
    std::string base = mb({"SET", "key", "value"}) + "GET \"k\\x41y\" 'v'\r\n" + mb({"PING"});
    for (int iter = 0; iter < 3000; iter++) {
        std::string in = base;
        int edits = 1 + (int)(rng() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = rng() % in.size();
            switch (rng() % 3) {
            case 0:
                in[at] = (char)(rng() % 256);
                break;
            case 1:
                in.erase(at, 1);
                break;
            default:
                in.insert(at, 1, "*$\r\n-0\"'"[rng() % 8]);
                break;
            }
        }
        Outcome whole = run_whole(in);
        std::vector<size_t> cuts;
        for (size_t k = rng() % 3 + 1; k < in.size(); k += rng() % 7 + 1)
            cuts.push_back(k);
        Driver d;
        d.rebase = true;
        Outcome o = run(in, cuts, &d);
        EXPECT_TRUE(o == whole) << describe(o) << " vs " << describe(whole);
    }
}

TEST(RespParser, DeinitAndReinit)
{
    struct resp_parser p;
    resp_parser_init(&p);
    resp_parser_deinit(&p); // nothing allocated yet
    struct kv_err err;
    std::string in = "*2\r\n$1\r\na\r\n";
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_NOTFOUND);
    resp_parser_deinit(&p); // mid-request
    resp_parser_init(&p);
    in = "X Y\n";
    EXPECT_EQ(resp_parser_next(&p, in.data(), in.size(), &kRedisLimits, &err), KV_OK);
    resp_parser_deinit(&p);
}
