# SPDX-License-Identifier: Apache-2.0
"""RESP2 request handling through the real server: pipelining, requests split across many
writes, inline commands, big bulks, protocol errors (reply, then close; other clients
unaffected), the request size limits, garbage input, and clients that never finish a request.

Expected texts were checked against Debian's redis-server 7.0.15; the needs_redis tests run
the same inputs against it to keep that true.
"""
import random
import time

import pytest

from helpers.wait import scaled, wait_until
from raw_resp import Error, RawConn, Status, cmd


def ping_ok(port):
    with RawConn(port) as c:
        c.send(b"PING\r\n")
        return c.read_raw() == b"+PONG\r\n"


# --------------------------------------------------------------------------------------
# Pipelining and split requests

def test_pipeline_thousands_of_commands_in_one_write(server):
    n = 5000
    req = b"".join(cmd("SET", "pk%d" % i, "v%d" % i) + cmd("GET", "pk%d" % i) for i in range(n))
    # an unknown command and a wrong arity in the middle do not disturb the order
    req += cmd("NOSUCH", "x") + cmd("GET") + cmd("GET", "pk7")
    with RawConn(server.port) as c:
        c.send(req)
        for i in range(n):
            assert c.read() == Status("OK"), i
            assert c.read() == b"v%d" % i, i
        assert c.read() == Error("ERR unknown command 'NOSUCH', with args beginning with: 'x' ")
        assert c.read() == Error("ERR wrong number of arguments for 'get' command")
        assert c.read() == b"v7"
        assert c.is_open()


def _round_trip(ctl):
    """A PING on the control connection: with one worker, the server has handled whatever
    reached it on the other connection before it answers."""
    ctl.send(b"*1\r\n$4\r\nPING\r\n")
    assert ctl.read_raw() == b"+PONG\r\n"


def test_request_split_byte_by_byte(server_factory):
    srv = server_factory(workers=1)
    value = b"a\r\nb$3\r\n*1\r\n" + bytes(range(256))
    req = (cmd("SET", "split", value) + b"GET split\r\n" + b'ECHO "q\\x41 \\"z\\""\n'
           + cmd("GET", "split"))
    with RawConn(srv.port) as c, RawConn(srv.port) as ctl:
        for i in range(len(req)):
            c.send(req[i:i + 1])
            _round_trip(ctl)
            if i < len(req) - 1 and i % 7 == 0:
                assert c.is_open(0), "closed after %d bytes" % (i + 1)
        assert c.read() == Status("OK")
        assert c.read() == value
        assert c.read() == b'qA "z"'
        assert c.read() == value


def test_pipeline_split_at_random_points(server_factory):
    srv = server_factory(workers=1)
    rnd = random.Random(1234)
    cmds = []
    expected = []
    for i in range(300):
        v = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 5, 100, 3000])))
        cmds.append(cmd("SET", "r%d" % i, v))
        expected.append(Status("OK"))
        cmds.append(cmd("GET", "r%d" % i) if i % 3 else b"GET r%d\r\n" % i)
        expected.append(v)
    data = b"".join(cmds)
    with RawConn(srv.port) as c, RawConn(srv.port) as ctl:
        pos = 0
        while pos < len(data):
            step = rnd.choice([1, 2, 3, 10, 100, 1000, 5000])
            c.send(data[pos:pos + step])
            pos += step
            _round_trip(ctl)
        for i, exp in enumerate(expected):
            assert c.read() == exp, i


def test_inline_commands(server):
    with RawConn(server.port) as c:
        c.send(b"SET inl hello\r\n")
        assert c.read_raw() == b"+OK\r\n"
        c.send(b"GET inl\n")  # LF alone ends an inline request
        assert c.read_raw() == b"$5\r\nhello\r\n"
        c.send(b"  \t GET   \t inl  \r\n")
        assert c.read_raw() == b"$5\r\nhello\r\n"
        c.send(b'SET "in l" "a b\\r\\n\\x00\\x7a"\r\n')
        assert c.read_raw() == b"+OK\r\n"
        c.send(b"GET 'in l'\r\n")
        assert c.read_raw() == b"$7\r\na b\r\n\x00z\r\n"
        # blank lines and empty multibulks are ignored without a reply
        c.send(b"\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n")
        assert c.read_raw() == b"+PONG\r\n"
        assert c.is_open()


def test_big_bulk_8mib(server):
    value = bytes(random.Random(8).randrange(256) for _ in range(4096)) * 2048  # 8 MiB
    with RawConn(server.port, timeout=30) as c:
        c.send(cmd("SET", "big", value) + cmd("GET", "big") + cmd("PING"))
        assert c.read() == Status("OK")
        assert c.read() == value
        assert c.read() == Status("PONG")
    # and through a regular client, twice over the same connection
    r = server.client(socket_timeout=30)
    r.set("big2", value)
    assert r.get("big2") == value
    assert r.get("big") == value


# --------------------------------------------------------------------------------------
# Protocol errors: "-ERR Protocol error: ..." then the connection is closed

PROTOCOL_ERRORS = [
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*2000000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$1000000000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b'set "a\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"set 'a'b c\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
    (b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
    (b"*3\r\n$3\r\nfoo\r\n$2\r\na\rb\r\n$1\r\nc\r\n",
     b"-ERR Protocol error: expected '$', got ' '\r\n"),
    # the complete requests before the bad one are executed and answered first
    (b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$x\r\nPING\r\n",
     b"+PONG\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$3\r\nabc\r\n*x\r\n",
     b"-ERR unknown command 'abc', with args beginning with: \r\n"
     b"-ERR Protocol error: invalid multibulk length\r\n"),
]


@pytest.mark.parametrize("data,expected", PROTOCOL_ERRORS,
                         ids=[repr(d[:24]) for d, _ in PROTOCOL_ERRORS])
def test_protocol_error_replies_then_closes(server, data, expected):
    bystander = RawConn(server.port)
    bystander.send(cmd("SET", "by", "stander"))
    assert bystander.read() == Status("OK")
    with RawConn(server.port) as c:
        c.send(data)
        assert c.read_until_closed() == expected
    bystander.send(cmd("GET", "by"))
    assert bystander.read() == b"stander"
    assert ping_ok(server.port)
    bystander.close()


def test_protocol_error_server_ignores_what_follows(server):
    """After the error nothing else is executed, even if the client keeps sending."""
    with RawConn(server.port) as c:
        c.send(b"*x\r\n" + cmd("SET", "after_error", "1"))
        assert c.read_until_closed() == b"-ERR Protocol error: invalid multibulk length\r\n"
    assert server.client().get("after_error") is None


@pytest.mark.needs_redis
def test_protocol_errors_match_redis(server, redis_ref):
    for data, expected in PROTOCOL_ERRORS:
        got = []
        for s in (server, redis_ref):
            with RawConn(s.port) as c:
                c.send(data)
                got.append(c.read_until_closed())
        assert got[0] == got[1] == expected, data[:40]


# Inputs that do not close the connection; each ends with a PING so the replies are known
# to be complete when +PONG arrives.
ODD_REQUESTS = [
    b"*0\r\n*-1\r\n\r\n   \r\nPING\r\n",
    b"PING\n",
    b"*1\rX$4\r\nPING\r\n",
    b"*1\r\n$4\r\nPINGxx",
    b'ECHO "a b\\x41\\n\\t\\\\"\r\nPING\r\n',
    b"ECHO\t\t'it'   \r\nPING\r\n",
    b"ECHO '\\'q\\''\r\nPING\r\n",
    b"ECHO \"\"\r\nPING\r\n",
    b"foo a b\r\nPING\r\n",
    b"FOO\r\nPING\r\n",
    b"foo " + b"x" * 200 + b"\r\nPING\r\n",
    b"foo " + b"a" * 100 + b" " + b"b" * 100 + b" c\r\nPING\r\n",
    b"fo" + b"o" * 300 + b" a\r\nPING\r\n",
    cmd("f\r\no", "a\r\nb", "c") + b"PING\r\n",
    cmd("fo\x00o", "a\x00b") + b"PING\r\n",
    cmd("GET") + cmd("get", "a", "b") + cmd("ping", "a", "b") + cmd("echo") + cmd("auth")
    + b"PING\r\n",
    cmd("ECHO", "") + cmd("PING", "") + cmd("PING", "hi") + b"PING\r\n",
]


def _replies_until_pong(c):
    out = []
    while True:
        raw = c.read_raw()
        out.append(raw)
        if raw == b"+PONG\r\n":
            return b"".join(out)


@pytest.mark.needs_redis
def test_odd_requests_and_error_texts_match_redis(server, redis_ref):
    for data in ODD_REQUESTS:
        got = []
        for s in (server, redis_ref):
            with RawConn(s.port) as c:
                c.send(data)
                got.append(_replies_until_pong(c))
                assert c.is_open(0.05), data
        assert got[0] == got[1], data[:60]


def test_unknown_command_and_arity_texts(server):
    with RawConn(server.port) as c:
        c.send(b"foo a b\r\n")
        assert c.read_raw() == b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
        c.send(b"FOO\r\n")
        assert c.read_raw() == b"-ERR unknown command 'FOO', with args beginning with: \r\n"
        c.send(cmd("f\r\no", "a\r\nb"))
        assert c.read_raw() == (b"-ERR unknown command 'f  o', with args beginning with: "
                                b"'a  b' \r\n")
        # at most 128 bytes of arguments are quoted
        c.send(b"foo " + b"x" * 200 + b"\r\n")
        assert c.read_raw() == (b"-ERR unknown command 'foo', with args beginning with: '"
                                + b"x" * 128 + b"' \r\n")
        c.send(cmd("get", "a", "b"))
        assert c.read_raw() == b"-ERR wrong number of arguments for 'get' command\r\n"
        c.send(cmd("PING", "a", "b"))
        assert c.read_raw() == b"-ERR wrong number of arguments for 'ping' command\r\n"
        assert c.is_open()


# --------------------------------------------------------------------------------------
# Limits

def test_multibulk_count_limit(server):
    # Kvrocks' limit: 1024 * 1024 arguments
    with RawConn(server.port) as c:
        c.send(b"*1048577\r\n")
        assert c.read_until_closed() == b"-ERR Protocol error: invalid multibulk length\r\n"
    with RawConn(server.port) as c:
        c.send(b"*1048576\r\n$4\r\nPING\r\n")
        assert c.is_open(0.2)  # waiting for the other arguments
    # a big but legal request: 100001 arguments
    n = 100000
    r = server.client(socket_timeout=30)
    r.delete("many")
    with RawConn(server.port, timeout=30) as c:
        c.send(b"*%d\r\n$3\r\nDEL\r\n" % (n + 1) + b"$1\r\nk\r\n" * n)
        assert c.read() == 0


def test_proto_max_bulk_len(server_factory):
    srv = server_factory({"proto-max-bulk-len": "1mb"})
    one_mib = 1 << 20
    with RawConn(srv.port) as c:
        c.send(cmd("SET", "edge", b"e" * one_mib) + cmd("GET", "edge"))
        assert c.read() == Status("OK")
        assert c.read() == b"e" * one_mib
    with RawConn(srv.port) as c:
        c.send(b"*3\r\n$3\r\nSET\r\n$4\r\nedge\r\n$1048577\r\n")
        assert c.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    assert srv.client().get("edge") == b"e" * one_mib


def test_unauthenticated_request_limits(server_factory):
    """Redis 7.0 refuses big requests before AUTH (multibulk > 10, bulk > 16384)."""
    srv = server_factory(requirepass="pw")
    cases = [
        (b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
        (b"*1\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n"),
        (b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1048577\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (cmd("GET", "k" * 16384) + b"*11\r\n",
         b"-NOAUTH Authentication required.\r\n"
         b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
    ]
    for data, expected in cases:
        with RawConn(srv.port) as c:
            c.send(data)
            assert c.read_until_closed() == expected, data[:30]
    with RawConn(srv.port) as c:
        c.send(b"*10\r\n")
        assert c.is_open(0.2)
    # after AUTH (even earlier in the same pipeline) the normal limits apply
    with RawConn(srv.port) as c:
        big = b"v" * 100000
        c.send(cmd("AUTH", "pw") + cmd("SET", "k", big) + cmd("DEL", *["x%d" % i for i in range(20)])
               + cmd("GET", "k"))
        assert c.read() == Status("OK")
        assert c.read() == Status("OK")
        assert c.read() == 0
        assert c.read() == big


@pytest.mark.needs_redis
def test_unauthenticated_limits_match_redis(server_factory, redis_factory):
    kv = server_factory(requirepass="pw")
    rd = redis_factory(requirepass="pw")
    for data in (b"*11\r\n", b"*1\r\n$16385\r\n", cmd("PING") + b"*1\r\n$20000\r\n"):
        got = []
        for s in (kv, rd):
            with RawConn(s.port) as c:
                c.send(data)
                got.append(c.read_until_closed())
        assert got[0] == got[1], data


# --------------------------------------------------------------------------------------
# Cross-protocol scripting: a command named POST or "Host:" is an HTTP request (a web page
# posting to this port), and the connection is closed without a reply, as in Redis. Redis
# 7.0.15 was checked by hand with the same inputs: nothing is sent back, not even the replies
# of earlier requests of the same read (they ran: SET a 1 below did), and nothing after it runs.

HTTP_REQUESTS = [
    b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"post /x HTTP/1.0\r\n",
    b"Host: 127.0.0.1:6666\r\n",
    b"host: x\r\n",
    b"HOST:\r\n",
    cmd("POST"),
    cmd("pOsT", "a", "b"),
    cmd("host:", "x"),
    # replies of the same read are dropped, the requests after it are not run
    b"PING\r\nSET a 1\r\nPOST / HTTP/1.1\r\nSET b 2\r\n",
    cmd("MULTI") + cmd("SET", "b", "2") + cmd("POST") + cmd("EXEC"),
]


@pytest.mark.parametrize("data", HTTP_REQUESTS, ids=[repr(d[:24]) for d in HTTP_REQUESTS])
def test_http_request_closes_without_a_reply(server, data):
    bystander = RawConn(server.port)
    bystander.send(cmd("SET", "by", "stander"))
    assert bystander.read() == Status("OK")
    with RawConn(server.port) as c:
        c.send(data)
        assert c.read_until_closed() == b""
    r = server.client()
    assert r.get("b") is None
    assert r.get("a") == (b"1" if b"SET a 1" in data else None)
    r.delete("a")
    # Other clients are not affected.
    bystander.send(cmd("GET", "by"))
    assert bystander.read() == b"stander"
    bystander.close()
    assert ping_ok(server.port)


def test_http_request_keeps_replies_already_sent(server):
    with RawConn(server.port) as c:
        c.send(b"PING\r\n")
        assert c.read_raw() == b"+PONG\r\n"
        c.send(b"POST / HTTP/1.1\r\n")
        assert c.read_until_closed() == b""


def test_post_and_host_elsewhere_are_ordinary_bytes(server):
    """Only the command name counts, and only exactly POST or Host: (any case)."""
    with RawConn(server.port) as c:
        c.send(cmd("SET", "POST", "x") + cmd("GET", "POST") + cmd("SET", "Host:", "y")
               + cmd("ECHO", "POST") + b"Host:x\r\n" + b"POSTX\r\n" + cmd("POS"))
        assert c.read() == Status("OK")
        assert c.read() == b"x"
        assert c.read() == Status("OK")
        assert c.read() == b"POST"
        assert c.read() == Error("ERR unknown command 'Host:x', with args beginning with: ")
        assert c.read() == Error("ERR unknown command 'POSTX', with args beginning with: ")
        assert c.read() == Error("ERR unknown command 'POS', with args beginning with: ")
        assert c.is_open()
    assert server.client().get("Host:") == b"y"


def test_http_request_before_auth_and_the_warning(server_factory):
    """The check comes before authentication (as in Redis); the warning names the client and
    is logged at most once a minute."""
    srv = server_factory(requirepass="pw")
    mark = srv.log_mark()
    for _ in range(3):
        with RawConn(srv.port) as c:
            c.send(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_until_closed() == b""
    wait_until(lambda: "possible cross-protocol attack" in srv.log_text(since=mark), timeout=10,
               msg="the cross-protocol warning in the log")
    text = srv.log_text(since=mark)
    assert text.count("possible cross-protocol attack") == 1
    assert "sent 'POST' as a command" in text
    assert srv.command("PING") == b"PONG"


@pytest.mark.needs_redis
def test_http_requests_match_redis(server, redis_ref):
    for data in HTTP_REQUESTS + [b"PING\r\n" + cmd("SET", "POST", "x") + b"Host:x\r\n"]:
        got = []
        for s in (server, redis_ref):
            with RawConn(s.port) as c:
                c.send(data)
                if b"Host:x" in data:
                    got.append(c.read_raw() + c.read_raw() + c.read_raw())
                    assert c.is_open(0.05)
                else:
                    got.append(c.read_until_closed())
            got.append(s.client().get("a"))
            s.client().delete("a", "b", "POST")
        assert got[:2] == got[2:], data[:40]


# --------------------------------------------------------------------------------------
# Garbage and slow clients

def _garbage(rnd):
    kind = rnd.randrange(4)
    if kind == 0:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
    tokens = [b"*", b"$", b"\r\n", b"\r", b"\n", b"-1", b"0", b"1", b"2", b"3", b"99999999999",
              b"GET", b"SET", b"PING", b"ECHO", b"HELLO", b"AUTH", b"SELECT", b"EXISTS", b"DEL",
              b"\"", b"'", b"\\", b"\\x", b" ", b"\t", b"\x00", b"k", b"value", b"+", b":"]
    return b"".join(rnd.choice(tokens) for _ in range(rnd.randrange(1, 60)))


def test_garbage_never_crashes_the_server(server):
    rnd = random.Random(20240601)
    r = server.client()
    r.set("canary", "alive")
    for i in range(300):
        data = _garbage(rnd)
        try:
            with RawConn(server.port) as c:
                c.send(data)
                if i % 2:
                    # let the server answer (or not) before closing
                    c.is_open(0.002)
        except OSError:
            pass  # the server may close first: fine
        if i % 25 == 0:
            assert ping_ok(server.port), "server stopped answering after case %d: %r" % (i, data)
    assert server.is_running()
    assert r.get("canary") == b"alive"


def test_never_ending_requests_do_not_block_others(server_factory):
    srv = server_factory(workers=1)  # everyone shares the one worker
    slow = []
    try:
        # a bulk announced at 100 MB of which only 1 MB ever arrives
        a = RawConn(srv.port)
        a.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n" + b"z" * (1 << 20))
        slow.append(a)
        # an inline line that never ends (below the 64 KiB limit)
        b = RawConn(srv.port)
        b.send(b"SET k " + b"y" * 60000)
        slow.append(b)
        # a multibulk whose arguments never come
        c = RawConn(srv.port)
        c.send(b"*1000\r\n$3\r\nDEL\r\n")
        slow.append(c)
        # a trickle: a byte at a time of a request that needs more bytes than will come
        d = RawConn(srv.port)
        slow.append(d)
        trickle = b"*2\r\n$4\r\nECHO\r\n$1000\r\n" + b"x" * 500
        fast = srv.client(socket_timeout=2)
        for i in range(200):
            d.send(trickle[i:i + 1])
            start = time.monotonic()
            fast.set("fast%d" % i, i)
            assert fast.get("fast%d" % i) == str(i).encode()
            assert time.monotonic() - start < scaled(1)
        for s in slow:
            assert s.is_open(0), "a slow client was closed"
        assert fast.get("k") is None
    finally:
        for s in slow:
            s.close()
    assert ping_ok(srv.port)
