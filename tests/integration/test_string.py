# SPDX-License-Identifier: Apache-2.0
"""String commands end to end: every command and option, the error paths (wrong arity,
syntax, non-integer and invalid expiries, overflow, size limit, wrong type), RESP3 shapes,
expiry, atomicity under concurrency and persistence across a restart.

Expected replies and error texts were recorded from redis-server 7.0.15 (Kvrocks for CAS and
CAD); test_string_diff.py compares against a live redis-server.
"""
import socket
import threading
import time

import pytest

from helpers.diff import ErrorReply, raw_connection, run_commands
from helpers.rawresp import Resp3
from helpers.server import parse_info
from helpers.wait import wait_until

# --------------------------------------------------------------------------------------
# Local helpers


class Raw:
    """Commands on a raw connection: replies as redis-py parses them without response
    callbacks (bytes, int, list, None), errors as ErrorReply."""

    def __init__(self, server):
        self.conn = raw_connection(server)

    def __call__(self, *args):
        return run_commands(self.conn, [list(args)])[0]

    def close(self):
        self.conn.disconnect()


@pytest.fixture
def r(server):
    conn = Raw(server)
    yield conn
    conn.close()


def err(text):
    return ErrorReply(text)


SYNTAX = err("ERR syntax error")
NOT_INT = err("ERR value is not an integer or out of range")
NOT_FLOAT = err("ERR value is not a valid float")
OVERFLOW = err("ERR increment or decrement would overflow")
WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
TOO_BIG = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


# INCRBYFLOAT of 1e308 as redis-server 7.0.15 prints it.
E308 = (b"99999999999999999996685879655845645660560099847415567207797047994921734868838061872"
        b"10012692188853932044674722505401322315213474959396058359742081443019641876795910001"
        b"96031907786631096045071066679391533957889389145605435630612683649016186302170865892"
        b"53444881623791300855757318142424510452728255046343928578048")


def invalid_expire(cmd):
    return err("ERR invalid expire time in '%s' command" % cmd)


def arity(cmd):
    return err("ERR wrong number of arguments for '%s' command" % cmd)


def pexpiretime(r, key):
    reply = r("PEXPIRETIME", key)
    if isinstance(reply, ErrorReply) and "unknown command" in reply.text:
        pytest.skip("PEXPIRETIME is not available in this build")
    return reply


def now_ms():
    return int(time.time() * 1000)


def make_non_string(r, key):
    """Create a key of another type with whatever command this build has; skip if none."""
    for args in (["HSET", key, "f", "v"], ["RPUSH", key, "e"], ["SADD", key, "m"],
                 ["ZADD", key, "1", "m"]):
        reply = r(*args)
        if not isinstance(reply, ErrorReply):
            return
        if "unknown command" not in reply.text:
            raise AssertionError("%s failed: %r" % (args, reply))
    pytest.skip("no non-string type in this build yet")


# --------------------------------------------------------------------------------------
# GET / SET


def test_get_set_values(r):
    assert r("GET", "k") is None
    assert r("SET", "k", "v1") == b"OK"
    assert r("GET", "k") == b"v1"
    assert r("SET", "k", "v2") == b"OK"
    assert r("GET", "k") == b"v2"
    binary = b"a\x00b\r\n\xff" * 3
    assert r("SET", b"bin\x00key", binary) == b"OK"
    assert r("GET", b"bin\x00key") == binary
    assert r("SET", "empty", "") == b"OK"
    assert r("GET", "empty") == b""
    assert r("EXISTS", "empty") == 1
    big = bytes(range(256)) * 4096  # 1 MiB
    assert r("SET", "big", big) == b"OK"
    assert r("GET", "big") == big
    assert r("DEL", "k") == 1
    assert r("GET", "k") is None


def test_set_conditions_and_get(r):
    assert r("SET", "k", "a", "XX") is None
    assert r("EXISTS", "k") == 0
    assert r("SET", "k", "a", "NX") == b"OK"
    assert r("SET", "k", "b", "NX") is None
    assert r("GET", "k") == b"a"
    assert r("SET", "k", "c", "XX") == b"OK"
    assert r("GET", "k") == b"c"
    # GET returns the old value whether or not the condition lets the write happen.
    assert r("SET", "k", "d", "GET") == b"c"
    assert r("SET", "k", "e", "NX", "GET") == b"d"
    assert r("GET", "k") == b"d"
    assert r("SET", "k2", "x", "NX", "GET") is None
    assert r("GET", "k2") == b"x"
    assert r("SET", "k3", "x", "XX", "GET") is None
    assert r("EXISTS", "k3") == 0
    assert r("SET", "k", "f", "XX", "GET") == b"d"
    assert r("SET", "k", "g", "get", "get") == b"f"
    # The same flag twice is accepted; options are case-insensitive.
    assert r("SET", "k", "h", "nx", "NX") is None
    assert r("SET", "k", "h", "xx", "Xx") == b"OK"
    assert r("GET", "k") == b"h"


@pytest.mark.parametrize("opts", [
    ["NX", "XX"], ["XX", "NX"], ["EX", "10", "PX", "100"], ["PX", "10", "EXAT", "100"],
    ["EXAT", "100", "PXAT", "100"], ["KEEPTTL", "EX", "1"], ["EX", "1", "KEEPTTL"],
    ["PXAT", "1", "KEEPTTL"], ["EX"], ["PX"], ["EXAT"], ["PXAT"], ["foo"], ["PERSIST"],
    ["NX", "EX"], ["GET", "1"],
])
def test_set_syntax_errors(r, opts):
    assert r("SET", "k", "old") == b"OK"
    assert r("SET", "k", "new", *opts) == SYNTAX
    assert r("GET", "k") == b"old"


@pytest.mark.parametrize("opts", [
    ["EX", "0"], ["EX", "-1"], ["PX", "0"], ["PX", "-100"], ["EXAT", "0"], ["PXAT", "-1"],
    ["EX", "9223372036854775807"], ["PX", "9223372036854775807"],
    ["EXAT", "9223372036854775807"], ["EX", "9223372036854775"], ["EX", "9223372036854774"],
    ["EXAT", "9223372036854776"], ["PX", "9223372036854000000"],
])
def test_set_invalid_expire(r, opts):
    assert r("SET", "k", "old") == b"OK"
    assert r("SET", "k", "new", *opts) == invalid_expire("set")
    assert r("SET", "k", "new", "GET", *opts) == invalid_expire("set")
    assert r("GET", "k") == b"old"


@pytest.mark.parametrize("value", ["abc", "1.5", "", " 1", "9223372036854775808", "1e3"])
def test_set_expire_not_integer(r, value):
    assert r("SET", "k", "v", "EX", value) == NOT_INT
    assert r("SET", "k", "v", "PXAT", value) == NOT_INT
    assert r("EXISTS", "k") == 0


def test_set_expiry_options(r):
    before = now_ms()
    assert r("SET", "k", "v", "EX", "100") == b"OK"
    at = pexpiretime(r, "k")
    assert before + 100000 <= at <= now_ms() + 100000
    assert r("SET", "k", "v", "PX", "5000") == b"OK"
    at = pexpiretime(r, "k")
    assert before + 5000 <= at <= now_ms() + 5000
    future_s = now_ms() // 1000 + 1000
    assert r("SET", "k", "v", "EXAT", str(future_s)) == b"OK"
    assert pexpiretime(r, "k") == future_s * 1000
    future_ms = now_ms() + 123456
    assert r("SET", "k", "v", "PXAT", str(future_ms)) == b"OK"
    assert pexpiretime(r, "k") == future_ms
    # The last of repeated expiries wins; absolute PXAT may be huge.
    assert r("SET", "k", "v", "PXAT", "1", "PXAT", str(future_ms + 1)) == b"OK"
    assert pexpiretime(r, "k") == future_ms + 1
    assert r("SET", "huge", "v", "PXAT", "9223372036854775807") == b"OK"
    assert r("GET", "huge") == b"v"
    # KEEPTTL keeps it (also on XX/GET paths), a plain SET clears it.
    assert r("SET", "k", "w", "KEEPTTL") == b"OK"
    assert pexpiretime(r, "k") == future_ms + 1
    assert r("SET", "k", "x", "XX", "KEEPTTL", "GET") == b"w"
    assert pexpiretime(r, "k") == future_ms + 1
    assert r("SET", "k", "y") == b"OK"
    assert pexpiretime(r, "k") == -1
    assert r("SET", "new", "y", "KEEPTTL") == b"OK"
    assert pexpiretime(r, "new") == -1
    # An absolute expiry in the past: the write happens and the key is gone at once.
    assert r("SET", "k", "z", "PXAT", "1", "GET") == b"y"
    assert r("GET", "k") is None
    assert r("EXISTS", "k") == 0
    assert r("SET", "k", "z", "EXAT", "1") == b"OK"
    assert r("EXISTS", "k") == 0


def test_expired_keys_are_absent(r):
    assert r("SET", "k", "v", "PX", "50") == b"OK"
    assert r("SET", "k2", "v", "PX", "50") == b"OK"
    assert r("SET", "k3", "5", "PX", "50") == b"OK"
    wait_until(lambda: r("EXISTS", "k", "k2", "k3") == 0, timeout=10, interval=0.02,
               msg="keys set with PX 50 to expire")
    assert r("GET", "k") is None
    assert r("SET", "k", "new", "GET") is None
    assert r("GET", "k") == b"new"
    assert r("GETEX", "k2", "PERSIST") is None
    assert r("GETEX", "k2") is None
    assert r("INCR", "k3") == 1
    assert r("MGET", "k", "k2", "k3") == [b"new", None, b"1"]


# --------------------------------------------------------------------------------------
# SETNX / SETEX / PSETEX / GETSET / GETDEL


def test_setnx(r):
    assert r("SETNX", "k", "a") == 1
    assert r("SETNX", "k", "b") == 0
    assert r("GET", "k") == b"a"


def test_setex_psetex(r):
    before = now_ms()
    assert r("SETEX", "k", "100", "v") == b"OK"
    assert r("GET", "k") == b"v"
    assert before + 100000 <= pexpiretime(r, "k") <= now_ms() + 100000
    assert r("PSETEX", "k", "100000", "w") == b"OK"
    assert r("GET", "k") == b"w"
    assert before + 100000 <= pexpiretime(r, "k") <= now_ms() + 100000
    for cmd in ("SETEX", "PSETEX"):
        for bad in ("0", "-1"):
            assert r(cmd, "k", bad, "x") == invalid_expire(cmd.lower())
        assert r(cmd, "k", "abc", "x") == NOT_INT
        assert r(cmd, "k", "1.5", "x") == NOT_INT
    assert r("SETEX", "k", "9223372036854775", "x") == invalid_expire("setex")
    assert r("PSETEX", "k", "9223372036854775807", "x") == invalid_expire("psetex")
    assert r("GET", "k") == b"w"


def test_getset(r):
    assert r("GETSET", "k", "a") is None
    assert r("GETSET", "k", "b") == b"a"
    assert r("GET", "k") == b"b"
    assert r("SET", "k", "c", "EX", "100") == b"OK"
    assert r("GETSET", "k", "d") == b"c"
    assert pexpiretime(r, "k") == -1


def test_getdel(r):
    assert r("GETDEL", "k") is None
    assert r("SET", "k", "v") == b"OK"
    assert r("GETDEL", "k") == b"v"
    assert r("EXISTS", "k") == 0
    assert r("GETDEL", "k") is None


# --------------------------------------------------------------------------------------
# GETEX


def test_getex(r):
    assert r("GETEX", "nokey") is None
    assert r("GETEX", "nokey", "EX", "10") is None
    assert r("EXISTS", "nokey") == 0
    assert r("SET", "k", "v") == b"OK"
    assert r("GETEX", "k") == b"v"
    assert pexpiretime(r, "k") == -1
    before = now_ms()
    assert r("GETEX", "k", "EX", "100") == b"v"
    assert before + 100000 <= pexpiretime(r, "k") <= now_ms() + 100000
    assert r("GETEX", "k", "PX", "200000") == b"v"
    assert before + 200000 <= pexpiretime(r, "k") <= now_ms() + 200000
    future_s = now_ms() // 1000 + 500
    assert r("GETEX", "k", "EXAT", str(future_s)) == b"v"
    assert pexpiretime(r, "k") == future_s * 1000
    assert r("GETEX", "k", "pxat", str(future_s * 1000 + 7)) == b"v"
    assert pexpiretime(r, "k") == future_s * 1000 + 7
    assert r("GETEX", "k") == b"v"  # no option: the expiry stays
    assert pexpiretime(r, "k") == future_s * 1000 + 7
    assert r("GETEX", "k", "EX", "10", "EX", "20") == b"v"
    assert r("GETEX", "k", "PERSIST") == b"v"
    assert pexpiretime(r, "k") == -1
    assert r("GETEX", "k", "PERSIST", "PERSIST") == b"v"
    # An absolute time in the past deletes the key after replying with its value.
    assert r("GETEX", "k", "PXAT", "1") == b"v"
    assert r("EXISTS", "k") == 0


@pytest.mark.parametrize("opts", [
    ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX"], ["PERSIST", "EX", "10"],
    ["EX", "10", "PERSIST"], ["EX", "10", "PX", "10"], ["foo"], ["EX", "10", "foo"],
])
def test_getex_syntax_errors(r, opts):
    assert r("SET", "k", "v") == b"OK"
    assert r("GETEX", "k", *opts) == SYNTAX
    assert r("GETEX", "nokey", *opts) == SYNTAX


def test_getex_invalid_expire_is_checked_after_the_lookup(r):
    assert r("SET", "k", "v") == b"OK"
    for opts in (["EX", "0"], ["PX", "-1"], ["EXAT", "9223372036854775807"],
                 ["EX", "9223372036854775"]):
        assert r("GETEX", "k", *opts) == invalid_expire("getex")
        assert r("GETEX", "nokey", *opts) is None  # absent: nil, as Redis
    assert r("GETEX", "k", "EX", "abc") == NOT_INT
    assert r("GETEX", "nokey", "EX", "abc") is None
    assert r("GET", "k") == b"v"
    assert pexpiretime(r, "k") == -1


# --------------------------------------------------------------------------------------
# MGET / MSET / MSETNX


def test_mget_mset_msetnx(r):
    assert r("MSET", "a", "1", "b", "2", "a", "3") == b"OK"
    assert r("MGET", "a", "b", "c", "a") == [b"3", b"2", None, b"3"]
    assert r("MSET", "a") == arity("mset")
    assert r("MSET", "a", "1", "b") == arity("mset")
    assert r("MSETNX", "x", "1", "y") == arity("msetnx")
    assert r("MSETNX", "c", "1", "b", "9") == 0
    assert r("MGET", "c", "b") == [None, b"2"]
    assert r("MSETNX", "c", "1", "d", "2") == 1
    assert r("MGET", "c", "d") == [b"1", b"2"]
    assert r("MSETNX", "e", "1", "e", "2") == 1
    assert r("GET", "e") == b"2"
    # MSET clears expiries; an expired key does not block MSETNX.
    assert r("SET", "t", "v", "EX", "100") == b"OK"
    assert r("MSET", "t", "w") == b"OK"
    assert pexpiretime(r, "t") == -1
    assert r("SET", "gone", "v", "PXAT", "1") == b"OK"
    assert r("MSETNX", "gone", "back") == 1
    assert r("GET", "gone") == b"back"


# --------------------------------------------------------------------------------------
# GETRANGE / SUBSTR / SETRANGE / APPEND / STRLEN


@pytest.mark.parametrize("start,end,expected", [
    ("0", "-1", b"hello"), ("-1", "-5", b""), ("-5", "-1", b"hello"), ("5", "10", b""),
    ("4", "10", b"o"), ("-100", "100", b"hello"), ("2", "1", b""), ("0", "-100", b"h"),
    ("1", "3", b"ell"), ("-3", "-2", b"ll"), ("0", "0", b"h"),
    ("9223372036854775807", "-9223372036854775808", b""),
    ("-9223372036854775808", "9223372036854775807", b"hello"),
])
def test_getrange(r, start, end, expected):
    assert r("SET", "s", "hello") == b"OK"
    assert r("GETRANGE", "s", start, end) == expected
    assert r("SUBSTR", "s", start, end) == expected


def test_getrange_errors_and_absent(r):
    assert r("GETRANGE", "nokey", "0", "-1") == b""
    assert r("SET", "s", "hello") == b"OK"
    assert r("GETRANGE", "s", "x", "1") == NOT_INT
    assert r("GETRANGE", "s", "1", "1.5") == NOT_INT
    assert r("GETRANGE", "s", "9223372036854775808", "1") == NOT_INT
    assert r("SET", "e", "") == b"OK"
    assert r("GETRANGE", "e", "0", "-1") == b""


def test_setrange(r):
    assert r("SETRANGE", "s", "3", "ab") == 5
    assert r("GET", "s") == b"\x00\x00\x00ab"
    assert r("SETRANGE", "s", "1", "XYZW") == 5
    assert r("GET", "s") == b"\x00XYZW"
    assert r("SETRANGE", "s", "10", "!") == 11
    assert r("GET", "s") == b"\x00XYZW" + b"\x00" * 5 + b"!"
    # An empty value changes nothing: the length, or 0 without creating the key.
    assert r("SETRANGE", "s", "100", "") == 11
    assert r("SETRANGE", "nokey", "5", "") == 0
    assert r("EXISTS", "nokey") == 0
    assert r("SETRANGE", "s", "-1", "x") == err("ERR offset is out of range")
    assert r("SETRANGE", "s", "x", "x") == NOT_INT
    assert r("SETRANGE", "s", "9223372036854775808", "x") == NOT_INT
    assert r("SETRANGE", "s", "9223372036854775807", "x") == TOO_BIG
    assert r("SETRANGE", "s", "536870912", "x") == TOO_BIG
    assert r("SETRANGE", "nokey", "536870912", "x") == TOO_BIG
    assert r("EXISTS", "nokey") == 0
    assert r("STRLEN", "s") == 11
    # The expiry is kept.
    assert r("SET", "t", "abc", "EX", "100") == b"OK"
    at = pexpiretime(r, "t")
    assert r("SETRANGE", "t", "1", "X") == 3
    assert r("GET", "t") == b"aXc"
    assert pexpiretime(r, "t") == at


def test_append_strlen(r):
    assert r("STRLEN", "k") == 0
    assert r("APPEND", "k", "hello") == 5
    assert r("APPEND", "k", " world") == 11
    assert r("APPEND", "k", "") == 11
    assert r("GET", "k") == b"hello world"
    assert r("STRLEN", "k") == 11
    assert r("APPEND", "b", b"\x00\xff") == 2
    assert r("STRLEN", "b") == 2
    assert r("SET", "t", "v", "EX", "100") == b"OK"
    at = pexpiretime(r, "t")
    assert r("APPEND", "t", "w") == 2
    assert pexpiretime(r, "t") == at


def test_size_limit_follows_proto_max_bulk_len(server_factory):
    s = server_factory(proto_max_bulk_len=1048576)
    r = Raw(s)
    try:
        assert r("SETRANGE", "k", "1048575", "x") == 1048576
        assert r("STRLEN", "k") == 1048576
        assert r("SETRANGE", "k", "1048576", "x") == TOO_BIG
        assert r("SETRANGE", "k", "1048575", "xy") == TOO_BIG
        assert r("SETRANGE", "k", "0", "y") == 1048576
        assert r("APPEND", "k", "z") == TOO_BIG
        assert r("STRLEN", "k") == 1048576
        assert r("SET", "j", "a" * 1048575) == b"OK"
        assert r("APPEND", "j", "b") == 1048576
        assert r("APPEND", "j", "c") == TOO_BIG
        assert r("SETRANGE", "new", "1048576", "x") == TOO_BIG
        assert r("EXISTS", "new") == 0
    finally:
        r.close()


# --------------------------------------------------------------------------------------
# INCR / DECR / INCRBY / DECRBY / INCRBYFLOAT


def test_incr_decr(r):
    assert r("INCR", "n") == 1
    assert r("INCR", "n") == 2
    assert r("DECR", "n") == 1
    assert r("INCRBY", "n", "10") == 11
    assert r("DECRBY", "n", "20") == -9
    assert r("INCRBY", "n", "-1") == -10
    assert r("GET", "n") == b"-10"
    assert r("DECR", "m") == -1
    assert r("DECRBY", "o", "5") == -5
    assert r("INCRBY", "p", "-5") == -5
    # Expiry is kept.
    assert r("SET", "t", "1", "EX", "100") == b"OK"
    at = pexpiretime(r, "t")
    assert r("INCR", "t") == 2
    assert pexpiretime(r, "t") == at


def test_incr_overflow(r):
    assert r("SET", "n", "9223372036854775807") == b"OK"
    assert r("INCR", "n") == OVERFLOW
    assert r("INCRBY", "n", "1") == OVERFLOW
    assert r("INCRBY", "n", "0") == 9223372036854775807
    assert r("DECRBY", "n", "-1") == OVERFLOW
    assert r("DECR", "n") == 9223372036854775806
    assert r("SET", "n", "-9223372036854775808") == b"OK"
    assert r("DECR", "n") == OVERFLOW
    assert r("DECRBY", "n", "1") == OVERFLOW
    assert r("INCRBY", "n", "-1") == OVERFLOW
    assert r("GET", "n") == b"-9223372036854775808"
    assert r("INCRBY", "n", "9223372036854775807") == -1
    assert r("DECRBY", "n", "-9223372036854775808") == err("ERR decrement would overflow")
    assert r("INCRBY", "n", "-9223372036854775808") == OVERFLOW
    assert r("INCRBY", "n", "-9223372036854775807") == -9223372036854775808


@pytest.mark.parametrize("value", [
    "abc", "", " 1", "1 ", "01", "-0", "+1", "1.0", "1e3", "0x10", "9223372036854775808",
    "-9223372036854775809", "1\x00",
])
def test_incr_on_non_integer_values(r, value):
    assert r("SET", "n", value) == b"OK"
    for args in (["INCR", "n"], ["DECR", "n"], ["INCRBY", "n", "1"], ["DECRBY", "n", "1"]):
        assert r(*args) == NOT_INT
    assert r("GET", "n") == value.encode()


@pytest.mark.parametrize("incr", ["1.5", "abc", "", "9223372036854775808", " 1", "0x1"])
def test_incrby_bad_increment(r, incr):
    assert r("SET", "n", "5") == b"OK"
    assert r("INCRBY", "n", incr) == NOT_INT
    assert r("DECRBY", "n", incr) == NOT_INT
    assert r("INCRBY", "nokey", incr) == NOT_INT
    assert r("EXISTS", "nokey") == 0
    assert r("GET", "n") == b"5"


def test_incrbyfloat(r):
    assert r("INCRBYFLOAT", "f", "10.5") == b"10.5"
    assert r("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert r("INCRBYFLOAT", "f", "-10.6") == b"0"
    assert r("GET", "f") == b"0"
    assert r("SET", "f", "1.0e3") == b"OK"
    assert r("INCRBYFLOAT", "f", "0") == b"1000"
    assert r("INCRBYFLOAT", "f", "5.0e3") == b"6000"
    assert r("INCRBYFLOAT", "f", ".5") == b"6000.5"
    assert r("INCRBYFLOAT", "f", "0x10") == b"6016.5"
    assert r("INCRBYFLOAT", "f", "-6016.5") == b"0"
    assert r("INCRBYFLOAT", "g", "3") == b"3"
    assert r("INCRBYFLOAT", "g", "1e-20") == b"3"
    # Printed in full with Redis's "%.17Lf" (long double keeps 2e308 finite).
    assert r("INCRBYFLOAT", "h", "1e308") == E308
    assert r("GET", "h") == E308
    twice = r("INCRBYFLOAT", "h", "1e308")
    assert len(twice) == 309 and twice.startswith(b"19999999999999999999337")
    for bad in ("abc", "", " 1", "1 ", "nan", "1e", "--1"):
        assert r("INCRBYFLOAT", "f", bad) == NOT_FLOAT
    assert r("INCRBYFLOAT", "f", "inf") == err("ERR increment would produce NaN or Infinity")
    assert r("INCRBYFLOAT", "f", "-inf") == err("ERR increment would produce NaN or Infinity")
    assert r("GET", "f") == b"0"
    assert r("SET", "s", "abc") == b"OK"
    assert r("INCRBYFLOAT", "s", "1") == NOT_FLOAT
    assert r("SET", "t", "1.5", "EX", "100") == b"OK"
    at = pexpiretime(r, "t")
    assert r("INCRBYFLOAT", "t", "1") == b"2.5"
    assert pexpiretime(r, "t") == at


# --------------------------------------------------------------------------------------
# LCS


def test_lcs(r):
    assert r("MSET", "key1", "ohmytext", "key2", "mynewtext") == b"OK"
    assert r("LCS", "key1", "key2") == b"mytext"
    assert r("LCS", "key1", "key2", "LEN") == 6
    assert r("LCS", "key1", "key2", "len", "LEN") == 6
    assert r("LCS", "key1", "key2", "IDX") == [
        b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert r("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4") == [
        b"matches", [[[4, 7], [5, 8]]], b"len", 6]
    assert r("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == [
        b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]
    assert r("LCS", "key1", "key2", "WITHMATCHLEN", "IDX") == [
        b"matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len", 6]
    assert r("LCS", "key1", "key2", "MINMATCHLEN", "-5", "IDX") == [
        b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert r("LCS", "key1", "key2", "MINMATCHLEN", "100") == b"mytext"
    assert r("LCS", "nokey", "nokey2") == b""
    assert r("LCS", "nokey", "nokey2", "IDX") == [b"matches", [], b"len", 0]
    assert r("LCS", "key1", "nokey", "LEN") == 0
    assert r("LCS", "key1", "key1") == b"ohmytext"


def test_lcs_errors(r):
    assert r("MSET", "key1", "ohmytext", "key2", "mynewtext") == b"OK"
    both = err("ERR If you want both the length and indexes, please just use IDX.")
    assert r("LCS", "key1", "key2", "LEN", "IDX") == both
    assert r("LCS", "key1", "key2", "IDX", "LEN") == both
    assert r("LCS", "key1", "key2", "MINMATCHLEN") == SYNTAX
    assert r("LCS", "key1", "key2", "MINMATCHLEN", "x") == NOT_INT
    assert r("LCS", "key1", "key2", "FOO") == SYNTAX
    assert r("LCS", "key1") == arity("lcs")


def test_lcs_refuses_a_table_beyond_proto_max_bulk_len(r):
    # (len(a) + 1) * (len(b) + 1) cells of 4 bytes: 2 x 100 KB would ask for 40 GB.
    big = err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    assert r("SET", "a", "x" * 100000) == b"OK"
    assert r("SET", "b", "y" * 100000) == b"OK"
    assert r("LCS", "a", "b") == big
    assert r("LCS", "a", "b", "IDX") == big
    assert r("PING") == b"PONG"
    # At the limit it runs: 1 MiB limit / 4 bytes = 262144 cells = 512 * 512.
    assert r("CONFIG", "SET", "proto-max-bulk-len", str(1 << 20)) == b"OK"
    assert r("SET", "a", "ab" * 255 + "a") == b"OK"  # 511 bytes
    assert r("SET", "b", "b" * 511) == b"OK"
    assert r("LCS", "a", "b", "LEN") == 255
    assert r("APPEND", "b", "b") == 512  # 512 * 513 cells: one row too many
    assert r("LCS", "a", "b", "LEN") == big


# --------------------------------------------------------------------------------------
# Kvrocks CAS / CAD


def test_cas_cad(r):
    assert r("CAS", "k", "a", "b") == -1
    assert r("EXISTS", "k") == 0
    assert r("SET", "k", "a", "EX", "100") == b"OK"
    assert r("CAS", "k", "x", "b") == 0
    assert r("GET", "k") == b"a"
    assert r("CAS", "k", "a", "b") == 1
    assert r("GET", "k") == b"b"
    assert pexpiretime(r, "k") == -1  # no expiry option: none
    before = now_ms()
    assert r("CAS", "k", "b", "c", "EX", "100") == 1
    assert before + 100000 <= pexpiretime(r, "k") <= now_ms() + 100000
    assert r("CAS", "k", "c", "d", "PX", "200000") == 1
    assert before + 200000 <= pexpiretime(r, "k") <= now_ms() + 200000
    assert r("CAS", "k", "d", "e", "px", "200000", "px", "300000") == 1
    assert before + 300000 <= pexpiretime(r, "k") <= now_ms() + 300000
    assert r("CAD", "k", "x") == 0
    assert r("CAD", "k", "e") == 1
    assert r("EXISTS", "k") == 0
    assert r("CAD", "k", "e") == -1


def test_cas_cad_errors(r):
    assert r("SET", "k", "a") == b"OK"
    assert r("CAS", "k", "a") == arity("cas")
    assert r("CAD", "k") == arity("cad")
    assert r("CAD", "k", "a", "b") == arity("cad")
    assert r("CAS", "k", "a", "b", "EX") == SYNTAX
    assert r("CAS", "k", "a", "b", "FOO", "1") == SYNTAX
    assert r("CAS", "k", "a", "b", "EX", "10", "PX", "10") == SYNTAX
    assert r("CAS", "k", "a", "b", "EX", "abc") == NOT_INT
    assert r("CAS", "k", "a", "b", "EX", "0") == invalid_expire("cas")
    assert r("CAS", "k", "a", "b", "PX", "-1") == invalid_expire("cas")
    assert r("GET", "k") == b"a"


# --------------------------------------------------------------------------------------
# Arity, wrong type


@pytest.mark.parametrize("args", [
    ["GET"], ["GET", "a", "b"], ["SET", "k"], ["SETNX", "k"], ["SETNX", "k", "v", "x"],
    ["SETEX", "k", "10"], ["PSETEX", "k", "10"], ["GETSET", "k"], ["GETDEL"],
    ["GETDEL", "a", "b"], ["GETEX"], ["MGET"], ["MSET"], ["MSET", "k"], ["MSETNX", "k"],
    ["GETRANGE", "k", "0"], ["SUBSTR", "k"], ["SETRANGE", "k", "0"], ["APPEND", "k"],
    ["STRLEN"], ["INCR"], ["INCR", "a", "b"], ["DECR"], ["INCRBY", "k"], ["DECRBY", "k"],
    ["INCRBYFLOAT", "k"], ["LCS", "a"], ["CAS", "k", "a"], ["CAD", "k"],
])
def test_wrong_arity(r, args):
    assert r(*args) == arity(args[0].lower())


def test_wrong_type(r):
    make_non_string(r, "h")
    for args in (["GET", "h"], ["GETRANGE", "h", "0", "1"], ["STRLEN", "h"], ["APPEND", "h", "x"],
                 ["SETRANGE", "h", "0", "x"], ["SETRANGE", "h", "0", ""], ["INCR", "h"],
                 ["DECRBY", "h", "1"], ["INCRBYFLOAT", "h", "1"], ["INCRBYFLOAT", "h", "abc"],
                 ["GETDEL", "h"], ["GETEX", "h", "PERSIST"], ["GETSET", "h", "x"],
                 ["SET", "h", "x", "GET"], ["CAS", "h", "a", "b"], ["CAD", "h", "a"]):
        assert r(*args) == WRONGTYPE, args
    assert r("GETEX", "h", "EX", "0") == WRONGTYPE  # the type is checked before the expiry
    assert r("LCS", "h", "nokey") == err("ERR The specified keys must contain string values")
    assert r("MGET", "h", "nokey") == [None, None]
    assert r("SET", "h", "x", "NX") is None
    assert r("MSETNX", "h", "x") == 0
    assert r("SET", "h", "s") == b"OK"  # overwrites the other type
    assert r("GET", "h") == b"s"


# --------------------------------------------------------------------------------------
# RESP3


def test_resp3_shapes(server_factory):
    s = server_factory(resp3_enabled=True)
    c = Resp3(s)
    try:
        assert c.call("GET", "nokey") == b"_\r\n"
        assert c.call("SET", "k", "v") == b"+OK\r\n"
        assert c.call("SET", "k", "v", "NX") == b"_\r\n"
        assert c.call("SET", "k2", "v", "XX", "GET") == b"_\r\n"
        assert c.call("SET", "k", "w", "GET") == b"$1\r\nv\r\n"
        assert c.call("MGET", "k", "nokey") == b"*2\r\n$1\r\nw\r\n_\r\n"
        assert c.call("GETEX", "nokey") == b"_\r\n"
        assert c.call("GETDEL", "nokey") == b"_\r\n"
        assert c.call("GETSET", "nokey", "x") == b"_\r\n"
        assert c.call("GETRANGE", "nokey3", "0", "1") == b"$0\r\n\r\n"
        assert c.call("INCRBYFLOAT", "f", "1.5") == b"$3\r\n1.5\r\n"
        assert c.call("SETNX", "k", "v") == b":0\r\n"
        assert c.call("MSET", "key1", "ohmytext", "key2", "mynewtext") == b"+OK\r\n"
        assert c.call("LCS", "key1", "key2", "IDX", "WITHMATCHLEN") == (
            b"%2\r\n$7\r\nmatches\r\n*2\r\n"
            b"*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
            b"*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n"
            b"$3\r\nlen\r\n:6\r\n")
        assert c.call("LCS", "key1", "nokey4", "IDX") == (
            b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n")
        assert c.call("INCR", "k") == b"-ERR value is not an integer or out of range\r\n"
    finally:
        c.close()


def test_resp2_nil_shapes(server):
    c = socket.create_connection((server.host, server.port), timeout=10)
    try:
        c.sendall(b"*2\r\n$3\r\nGET\r\n$5\r\nnokey\r\n"
                  b"*3\r\n$4\r\nMGET\r\n$5\r\nnokey\r\n$5\r\nnokey\r\n"
                  b"*5\r\n$3\r\nLCS\r\n$1\r\na\r\n$1\r\nb\r\n$3\r\nIDX\r\n$12\r\nWITHMATCHLEN\r\n")
        expected = (b"$-1\r\n" + b"*2\r\n$-1\r\n$-1\r\n"
                    + b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while len(data) < len(expected) and time.monotonic() < deadline:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data == expected
    finally:
        c.close()


# --------------------------------------------------------------------------------------
# INFO keyspace_hits / keyspace_misses


def test_keyspace_hits_and_misses(r):
    def counts():
        info = parse_info(r("INFO", "stats"))
        return info["keyspace_hits"], info["keyspace_misses"]

    assert r("SET", "a", "1") == b"OK"
    hits, misses = counts()
    # The same sequence on redis-server 7.0.15 counts 6 hits and 7 misses: read lookups count,
    # write lookups (INCR, SET without GET) do not.
    for args in (["GET", "a"], ["GET", "zz"], ["MGET", "a", "zz", "zz"],
                 ["GETRANGE", "a", "0", "1"], ["STRLEN", "zz"], ["SET", "a", "2", "GET"],
                 ["GETEX", "zz"], ["INCR", "a"], ["LCS", "a", "zz"], ["GETDEL", "zz"],
                 ["GETSET", "a", "5"], ["SETNX", "zz", "1"], ["APPEND", "a", "x"]):
        assert not isinstance(r(*args), ErrorReply), args
    assert counts() == (hits + 6, misses + 7)


# --------------------------------------------------------------------------------------
# Concurrency and persistence


def test_concurrent_incr_and_atomic_mset(server):
    rounds = 300
    errors = []
    stop = threading.Event()

    def incr_worker():
        c = Raw(server)
        try:
            for _ in range(rounds):
                reply = c("INCR", "counter")
                if not isinstance(reply, int):
                    errors.append(reply)
        finally:
            c.close()

    def reader():
        c = Raw(server)
        try:
            while not stop.is_set():
                vals = c("MGET", "x", "y", "z")
                if vals[0] is not None and len(set(vals)) != 1:
                    errors.append(("torn MSET", vals))
        finally:
            c.close()

    threads = [threading.Thread(target=incr_worker) for _ in range(4)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    w = Raw(server)
    try:
        for i in range(rounds):
            v = str(i) * 10
            assert w("MSET", "x", v, "y", v, "z", v) == b"OK"
    finally:
        w.close()
    for t in threads[:-1]:
        t.join(60)
    stop.set()
    threads[-1].join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    r = Raw(server)
    try:
        assert r("GET", "counter") == str(4 * rounds).encode()
    finally:
        r.close()


def test_values_survive_restart(server):
    r = Raw(server)
    assert r("MSET", "a", "1", "b", b"\x00\xff") == b"OK"
    assert r("SET", "t", "v", "EX", "1000") == b"OK"
    assert r("INCRBYFLOAT", "f", "2.5") == b"2.5"
    assert r("SET", "gone", "v", "PXAT", "1") == b"OK"
    r.close()
    server.restart()
    r = Raw(server)
    try:
        assert r("MGET", "a", "b", "t", "f", "gone") == [b"1", b"\x00\xff", b"v", b"2.5", None]
        assert pexpiretime(r, "t") > now_ms()
    finally:
        r.close()
