// SPDX-License-Identifier: Apache-2.0
//
// Tests for resp/resp_write: the exact bytes of every writer, in RESP2 and RESP3.
#include <cmath>
#include <limits>
#include <string>

#include <event2/buffer.h>
#include <gtest/gtest.h>

#include "resp/resp_write.h"

namespace {

// One writer over a fresh evbuffer; take() returns and drains what was written.
class Out {
  public:
    explicit Out(int proto) : buf_(evbuffer_new())
    {
        o_.buf = buf_;
        o_.proto = proto;
    }
    ~Out()
    {
        evbuffer_free(buf_);
    }
    Out(const Out &) = delete;
    Out &operator=(const Out &) = delete;
    struct resp_out *
    get()
    {
        return &o_;
    }
    std::string
    take()
    {
        size_t n = evbuffer_get_length(buf_);
        const char *p = n ? (const char *)evbuffer_pullup(buf_, -1) : "";
        std::string s(p, n);
        evbuffer_drain(buf_, n);
        return s;
    }

  private:
    struct evbuffer *buf_;
    struct resp_out o_;
};

} // namespace

TEST(RespWrite, ScalarsAreTheSameInBothProtocols)
{
    for (int proto : {2, 3}) {
        Out out(proto);
        struct resp_out *o = out.get();
        resp_write_ok(o);
        EXPECT_EQ(out.take(), "+OK\r\n");
        resp_write_status(o, "PONG");
        EXPECT_EQ(out.take(), "+PONG\r\n");
        resp_write_status(o, "");
        EXPECT_EQ(out.take(), "+\r\n");
        std::string long_status(500, 's');
        resp_write_status(o, long_status.c_str());
        EXPECT_EQ(out.take(), "+" + long_status + "\r\n");
        std::string edge(125, 'e'); // exactly fills the on-stack buffer
        resp_write_status(o, edge.c_str());
        EXPECT_EQ(out.take(), "+" + edge + "\r\n");
        edge += "e";
        resp_write_status(o, edge.c_str());
        EXPECT_EQ(out.take(), "+" + edge + "\r\n");

        resp_write_int(o, 0);
        EXPECT_EQ(out.take(), ":0\r\n");
        resp_write_int(o, -1);
        EXPECT_EQ(out.take(), ":-1\r\n");
        resp_write_int(o, INT64_MAX);
        EXPECT_EQ(out.take(), ":9223372036854775807\r\n");
        resp_write_int(o, INT64_MIN);
        EXPECT_EQ(out.take(), ":-9223372036854775808\r\n");

        resp_write_array(o, 0);
        EXPECT_EQ(out.take(), "*0\r\n");
        resp_write_array(o, 3);
        EXPECT_EQ(out.take(), "*3\r\n");
        resp_write_raw(o, "raw\r\n", 5);
        EXPECT_EQ(out.take(), "raw\r\n");
        resp_write_raw(o, "", 0);
        EXPECT_EQ(out.take(), "");
    }
}

TEST(RespWrite, Errors)
{
    Out out(2);
    struct resp_out *o = out.get();
    resp_write_error(o, "ERR syntax error");
    EXPECT_EQ(out.take(), "-ERR syntax error\r\n");
    resp_write_error(o, "ERR bad\r\nthing\rx\ny");
    EXPECT_EQ(out.take(), "-ERR bad  thing x y\r\n");
    resp_write_error(o, "\r\n");
    EXPECT_EQ(out.take(), "-  \r\n");
    resp_write_error_len(o, "WRONGTYPE Operation", 9);
    EXPECT_EQ(out.take(), "-WRONGTYPE\r\n");
    resp_write_error_len(o, "", 0);
    EXPECT_EQ(out.take(), "-\r\n");
    resp_write_error_len(o, "a\nb\0c", 5); // the length is what counts
    EXPECT_EQ(out.take(), std::string("-a b\0c\r\n", 8));
    Out out3(3);
    resp_write_error(out3.get(), "NOAUTH Authentication required.");
    EXPECT_EQ(out3.take(), "-NOAUTH Authentication required.\r\n");
}

TEST(RespWrite, Bulks)
{
    for (int proto : {2, 3}) {
        Out out(proto);
        struct resp_out *o = out.get();
        resp_write_bulk(o, "hello", 5);
        EXPECT_EQ(out.take(), "$5\r\nhello\r\n");
        resp_write_bulk(o, "", 0);
        EXPECT_EQ(out.take(), "$0\r\n\r\n");
        resp_write_bulk(o, nullptr, 0);
        EXPECT_EQ(out.take(), "$0\r\n\r\n");
        resp_write_bulk(o, "a\0\r\n", 4);
        EXPECT_EQ(out.take(), std::string("$4\r\na\0\r\n\r\n", 10));
        // Around the small-bulk fast path.
        for (size_t n : {255u, 256u, 257u, 1000u, 100000u}) {
            std::string v(n, 'v');
            resp_write_bulk(o, v.data(), v.size());
            EXPECT_EQ(out.take(), "$" + std::to_string(n) + "\r\n" + v + "\r\n");
        }
        resp_write_bulk_cstr(o, "abc");
        EXPECT_EQ(out.take(), "$3\r\nabc\r\n");
        resp_write_bulk_cstr(o, "");
        EXPECT_EQ(out.take(), "$0\r\n\r\n");
        struct kv_slice s;
        s.ptr = "slice";
        s.len = 3;
        resp_write_bulk_slice(o, s);
        EXPECT_EQ(out.take(), "$3\r\nsli\r\n");
        resp_write_bulk_int(o, 0);
        EXPECT_EQ(out.take(), "$1\r\n0\r\n");
        resp_write_bulk_int(o, -42);
        EXPECT_EQ(out.take(), "$3\r\n-42\r\n");
        resp_write_bulk_int(o, INT64_MIN);
        EXPECT_EQ(out.take(), "$20\r\n-9223372036854775808\r\n");
        resp_write_bulk_int(o, INT64_MAX);
        EXPECT_EQ(out.take(), "$19\r\n9223372036854775807\r\n");
    }
}

TEST(RespWrite, NullsResp2)
{
    Out out(2);
    resp_write_null(out.get());
    EXPECT_EQ(out.take(), "$-1\r\n");
    resp_write_null_array(out.get());
    EXPECT_EQ(out.take(), "*-1\r\n");
}

TEST(RespWrite, NullsResp3)
{
    Out out(3);
    resp_write_null(out.get());
    EXPECT_EQ(out.take(), "_\r\n");
    resp_write_null_array(out.get());
    EXPECT_EQ(out.take(), "_\r\n");
}

TEST(RespWrite, AggregatesResp2)
{
    Out out(2);
    struct resp_out *o = out.get();
    resp_write_map(o, 2);
    EXPECT_EQ(out.take(), "*4\r\n");
    resp_write_map(o, 0);
    EXPECT_EQ(out.take(), "*0\r\n");
    resp_write_set(o, 3);
    EXPECT_EQ(out.take(), "*3\r\n");
    resp_write_push(o, 3);
    EXPECT_EQ(out.take(), "*3\r\n");
    resp_write_array(o, 1048576);
    EXPECT_EQ(out.take(), "*1048576\r\n");
}

TEST(RespWrite, AggregatesResp3)
{
    Out out(3);
    struct resp_out *o = out.get();
    resp_write_map(o, 2);
    EXPECT_EQ(out.take(), "%2\r\n");
    resp_write_map(o, 0);
    EXPECT_EQ(out.take(), "%0\r\n");
    resp_write_set(o, 3);
    EXPECT_EQ(out.take(), "~3\r\n");
    resp_write_push(o, 3);
    EXPECT_EQ(out.take(), ">3\r\n");
    resp_write_array(o, 2);
    EXPECT_EQ(out.take(), "*2\r\n");
}

TEST(RespWrite, BoolsAndDoubles)
{
    Out out2(2);
    Out out3(3);
    resp_write_bool(out2.get(), true);
    EXPECT_EQ(out2.take(), ":1\r\n");
    resp_write_bool(out2.get(), false);
    EXPECT_EQ(out2.take(), ":0\r\n");
    resp_write_bool(out3.get(), true);
    EXPECT_EQ(out3.take(), "#t\r\n");
    resp_write_bool(out3.get(), false);
    EXPECT_EQ(out3.take(), "#f\r\n");

    // Redis 7.0 formats doubles with "%.17g" (addReplyDouble), inf explicitly.
    struct Case {
        double d;
        const char *text;
    } cases[] = {
        {1.5, "1.5"},
        {3.0, "3"},
        {-2.0, "-2"},
        {0.0, "0"},
        {0.1, "0.10000000000000001"},
        {1e20, "1e+20"},
        {std::numeric_limits<double>::infinity(), "inf"},
        {-std::numeric_limits<double>::infinity(), "-inf"},
    };
    for (const Case &c : cases) {
        std::string t = c.text;
        resp_write_double(out2.get(), c.d);
        EXPECT_EQ(out2.take(), "$" + std::to_string(t.size()) + "\r\n" + t + "\r\n") << t;
        resp_write_double(out3.get(), c.d);
        EXPECT_EQ(out3.take(), "," + t + "\r\n") << t;
    }
}

TEST(RespWrite, Verbatim)
{
    Out out2(2);
    Out out3(3);
    resp_write_verbatim(out2.get(), "txt", "hello", 5);
    EXPECT_EQ(out2.take(), "$5\r\nhello\r\n");
    resp_write_verbatim(out3.get(), "txt", "hello", 5);
    EXPECT_EQ(out3.take(), "=9\r\ntxt:hello\r\n");
    resp_write_verbatim(out3.get(), "mkd", "", 0);
    EXPECT_EQ(out3.take(), "=4\r\nmkd:\r\n");
    std::string big(1000, 'b');
    resp_write_verbatim(out3.get(), "txt", big.data(), big.size());
    EXPECT_EQ(out3.take(), "=1004\r\ntxt:" + big + "\r\n");
}

TEST(RespWrite, ANestedReplyInBothProtocols)
{
    // HGETALL-like: a map of two pairs whose second value is null.
    for (int proto : {2, 3}) {
        Out out(proto);
        struct resp_out *o = out.get();
        resp_write_map(o, 2);
        resp_write_bulk_cstr(o, "f1");
        resp_write_int(o, 7);
        resp_write_bulk_cstr(o, "f2");
        resp_write_null(o);
        if (proto == 2)
            EXPECT_EQ(out.take(), "*4\r\n$2\r\nf1\r\n:7\r\n$2\r\nf2\r\n$-1\r\n");
        else
            EXPECT_EQ(out.take(), "%2\r\n$2\r\nf1\r\n:7\r\n$2\r\nf2\r\n_\r\n");
    }
}
