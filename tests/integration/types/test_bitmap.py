# SPDX-License-Identifier: Apache-2.0
"""Bit commands (src/commands/cmd_bitmap.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
BITFIELD_RO on string keys and on bitmap keys (what SETBIT/BITFIELD/BITOP create on an absent
key), every option and error, RESP3 shapes, the string view of a bitmap key (TYPE, SCAN TYPE and
every string command: GET, MGET, STRLEN, GETRANGE, GETSET, SET GET, GETDEL, GETEX, INCR*, APPEND,
SETRANGE, LCS), sparse far offsets, atomicity and persistence.

Replies and error texts were recorded from redis-server 7.0.15; the differential tests run the
same scripts against a live redis-server (redis_ref), where every key is a plain string, so a
bitmap key must answer exactly as the string Redis builds from the same commands.
"""
import random
import threading

import pytest

from helpers.diff import ErrorReply, diff_replies, format_mismatches, raw_connection, run_commands
from raw_resp import RawConn, cmd

ERR_OFFSET = ErrorReply("ERR bit offset is not an integer or out of range")
ERR_BIT = ErrorReply("ERR bit is not an integer or out of range")
ERR_INT = ErrorReply("ERR value is not an integer or out of range")
ERR_SYNTAX = ErrorReply("ERR syntax error")
ERR_WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
ERR_TYPE = ErrorReply("ERR Invalid bitfield type. Use something like i16 u8. "
                      "Note that u64 is not supported but i64 is.")
# Kvrocks's reply (its rocksdb::Status::Aborted text) to a string read of a bitmap key longer
# than max-bitmap-to-string-mb.
ERR_BITMAP_TOO_LONG = ErrorReply("ERR Operation aborted: The size of the bitmap string exceeds "
                                 "the configuration item max-bitmap-to-string-mb")


class Raw:
    """Commands on a raw connection: replies without redis-py callbacks, errors as
    ErrorReply."""

    def __init__(self, server):
        self.conn = raw_connection(server)

    def __call__(self, *args):
        return run_commands(self.conn, [list(args)])[0]

    def close(self):
        self.conn.disconnect()


@pytest.fixture
def r(server):
    c = Raw(server)
    yield c
    c.close()


def arity(name):
    return ErrorReply("ERR wrong number of arguments for '%s' command" % name)


# --------------------------------------------------------------------------------------
# SETBIT / GETBIT


def test_setbit_getbit(r):
    assert r("SETBIT", "k", 7, 1) == 0
    assert r("SETBIT", "k", 7, 1) == 1
    assert r("GETBIT", "k", 7) == 1
    assert r("GETBIT", "k", 6) == 0
    assert r("GETBIT", "k", 100000) == 0  # beyond the end
    assert r("GETBIT", "nokey", 0) == 0
    assert r("GET", "k") == b"\x01"
    assert r("SETBIT", "k", 0, 1) == 0
    assert r("GET", "k") == b"\x81"
    assert r("SETBIT", "k", 7, 0) == 1
    assert r("GET", "k") == b"\x80"
    assert r("SETBIT", "k", 17, 1) == 0  # grows with zero bytes, Redis order
    assert r("GET", "k") == b"\x80\x00\x40"
    assert r("STRLEN", "k") == 3
    assert r("TYPE", "k") == b"string"


def test_setbit_getbit_errors(r):
    r("SET", "k", "x")
    for off in ("4294967296", "-1", "abc", "1.5", "", "#1"):
        assert r("SETBIT", "k", off, 1) == ERR_OFFSET, off
        assert r("GETBIT", "k", off) == ERR_OFFSET, off
    for bit in ("2", "-1", "x", ""):
        assert r("SETBIT", "k", 1, bit) == ERR_BIT, bit
    assert r("SETBIT", "k", "abc", "x") == ERR_OFFSET  # the offset is checked first
    assert r("GET", "k") == b"x"
    assert r("SETBIT", "k", 1, 1) == 1
    assert r("SETBIT") == arity("setbit")
    assert r("SETBIT", "k", 1) == arity("setbit")
    assert r("SETBIT", "k", 1, 1, 1) == arity("setbit")
    assert r("GETBIT", "k") == arity("getbit")
    assert r("GETBIT", "k", 1, 2) == arity("getbit")
    r("HSET", "hash", "f", "v")
    assert r("SETBIT", "hash", 1, 1) == ERR_WRONGTYPE
    assert r("GETBIT", "hash", 1) == ERR_WRONGTYPE


def test_setbit_on_string_keeps_a_string(r):
    r("SET", "s", b"\xff")
    assert r("GETBIT", "s", 0) == 1
    assert r("BITCOUNT", "s") == 8
    assert r("SETBIT", "s", 0, 0) == 1
    assert r("SETBIT", "s", 15, 1) == 0
    assert r("GET", "s") == b"\x7f\x01"
    # Still a string: string-only commands keep working on it.
    assert r("APPEND", "s", "z") == 3
    assert r("INCR", "s") == ERR_INT
    assert r("GET", "s") == b"\x7f\x01z"
    r("SET", "n", "12")
    assert r("SETBIT", "n", 7, 1) == 1  # "1" is 0x31: its last bit is already set
    assert r("SETBIT", "n", 15, 1) == 0  # "2" 0x32 -> 0x33 "3"
    assert r("INCR", "n") == 14


def test_setbit_keeps_the_expiry(r):
    r("SET", "s", "a", "EX", 1000)
    r("SETBIT", "s", 0, 1)
    assert 990 <= r("TTL", "s") <= 1000
    r("SETBIT", "b", 0, 1)
    r("EXPIRE", "b", 1000)
    r("SETBIT", "b", 100, 1)
    assert 990 <= r("TTL", "b") <= 1000
    assert r("STRLEN", "b") == 13


def test_bitmap_key_string_view(r):
    """A key made by SETBIT reads as a string: GET, STRLEN, GETRANGE, TYPE, SCAN TYPE."""
    r("SETBIT", "b", 3, 1)
    r("SETBIT", "b", 8 * 1024 + 6, 1)  # second 1 KiB segment
    value = b"\x10" + b"\x00" * 1023 + b"\x02"
    assert r("GET", "b") == value
    assert r("STRLEN", "b") == 1025
    assert r("GETRANGE", "b", 0, 0) == b"\x10"
    assert r("GETRANGE", "b", -2, -1) == b"\x00\x02"
    assert r("GETRANGE", "b", 1020, 5000) == value[1020:]
    assert r("GETRANGE", "b", 5, 2) == b""
    assert r("SUBSTR", "b", 1024, 1024) == b"\x02"
    assert r("TYPE", "b") == b"string"
    r("PFADD", "h", "x")
    assert r("TYPE", "h") == b"string"
    r("SET", "s", "v")
    cursor, keys = r("SCAN", 0, "TYPE", "string", "COUNT", 100)
    assert cursor == b"0" and sorted(keys) == [b"b", b"h", b"s"]
    # Kvrocks' own type names select nothing: clients see only Redis's names.
    for t in ("bitmap", "hyperloglog"):
        assert r("SCAN", 0, "TYPE", t) == [b"0", []]
    # Overwriting with SET makes it a plain string again.
    r("SET", "b", "plain")
    assert r("GET", "b") == b"plain"
    assert r("APPEND", "b", "!") == 6


def _bits_of(r, key, value):
    """Make `key` a bitmap key holding the bytes `value` by SETBIT alone."""
    for i, byte in enumerate(value):
        for j in range(8):
            if byte & (0x80 >> j):
                r("SETBIT", key, 8 * i + j, 1)


def test_string_commands_on_a_bitmap_key(r):
    """A bitmap key is a string to every string command, as in Redis: the reads answer its
    string form; GETSET, SET GET, INCR*, APPEND and SETRANGE leave a plain string with the new
    value (keeping the expiry where Redis keeps it); GETDEL deletes it; GETEX changes its TTL."""
    _bits_of(r, "b", b"12")
    assert r("MGET", "b") == [b"12"]
    assert r("MGET", "nokey", "b", "b") == [None, b"12", b"12"]
    assert r("GETEX", "b", "EXAT", 4000000000) == b"12"
    assert r("EXPIRETIME", "b") == 4000000000
    assert r("INCR", "b") == 13
    assert r("GET", "b") == b"13" and r("EXPIRETIME", "b") == 4000000000
    assert r("SETBIT", "b", 7, 0) == 1  # still usable as bits: "13" -> "03"
    assert r("GET", "b") == b"03"
    _bits_of(r, "f", b"1.5")
    assert r("INCRBYFLOAT", "f", "1") == b"2.5"
    _bits_of(r, "d", b"-7")
    assert r("DECRBY", "d", 3) == -10
    # Bytes that are no number are refused, and the key is left as it was.
    _bits_of(r, "x", b"1a")
    assert r("INCR", "x") == ERR_INT
    assert r("INCRBYFLOAT", "x", 1) == ErrorReply("ERR value is not a valid float")
    assert r("GET", "x") == b"1a"
    # APPEND and SETRANGE edit the string form.
    assert r("APPEND", "x", "bc") == 4
    assert r("GET", "x") == b"1abc"
    _bits_of(r, "y", b"\x80")
    r("EXPIRE", "y", 100000)
    assert r("SETRANGE", "y", 0, "") == 1
    assert r("SETRANGE", "y", 2, "zz") == 4
    assert r("GET", "y") == b"\x80\x00zz"
    assert r("TTL", "y") > 0
    assert r("SETRANGE", "y", 536870912, "x") == ErrorReply(
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    # GETSET / SET ... GET answer the bits and leave the new string, without the expiry.
    _bits_of(r, "g", b"\x01\x02")
    r("EXPIRE", "g", 100000)
    assert r("GETSET", "g", "new") == b"\x01\x02"
    assert r("GET", "g") == b"new" and r("TTL", "g") == -1
    _bits_of(r, "h", b"\x03")
    assert r("SET", "h", "v", "NX", "GET") == b"\x03"
    assert r("GET", "h") == b"\x03"
    assert r("SET", "h", "v", "GET") == b"\x03"
    assert r("GET", "h") == b"v"
    # GETDEL answers the bits and deletes the key.
    _bits_of(r, "del", b"ok")
    assert r("GETDEL", "del") == b"ok"
    assert r("EXISTS", "del") == 0
    # LCS compares the string forms.
    _bits_of(r, "l1", b"ohmytext")
    r("SET", "l2", "mynewtext")
    assert r("LCS", "l1", "l2") == b"mytext"
    assert r("LCS", "l2", "l1", "LEN") == 6


def test_string_commands_on_a_bitmap_beyond_the_string_limit(r):
    """A bitmap key past Kvrocks' max-bitmap-to-string-mb (16 MiB) has no string form to read:
    the commands that need its bytes fail as GET does and change nothing; INCR, which can tell
    without reading that no number is that long, and STRLEN answer as Redis."""
    r("SETBIT", "big", 4294967295, 1)
    for args in (["MGET", "big"], ["GETSET", "big", "x"], ["GETDEL", "big"],
                 ["GETEX", "big", "PERSIST"], ["SET", "big", "x", "GET"],
                 ["SETRANGE", "big", 0, "x"], ["LCS", "big", "big"]):
        assert r(*args) == ERR_BITMAP_TOO_LONG, args
    assert r("APPEND", "big", "x") == ErrorReply(  # 512 MiB + 1: Redis's own limit comes first
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    assert r("INCR", "big") == ERR_INT
    assert r("INCRBYFLOAT", "big", 1) == ErrorReply("ERR value is not a valid float")
    assert r("STRLEN", "big") == 536870912
    assert r("BITCOUNT", "big") == 1 and r("TTL", "big") == -1


def test_max_bitmap_to_string_mb(r):
    """max-bitmap-to-string-mb (Kvrocks: default 16, 0..INT_MAX, CONFIG SET at runtime) bounds
    the string form a string command reads from a bitmap key, as Kvrocks's GET and GETEX do
    (GETRANGE: the length of the range; Kvrocks itself answers GETRANGE of a bitmap key with a
    type error). A refused command changes nothing."""
    assert r("CONFIG", "GET", "max-bitmap-to-string-mb") == [b"max-bitmap-to-string-mb", b"16"]
    assert r("CONFIG", "SET", "max-bitmap-to-string-mb", 1) == b"OK"
    assert r("CONFIG", "GET", "max-bitmap-to-string-mb") == [b"max-bitmap-to-string-mb", b"1"]
    mib = 1 << 20
    r("SETBIT", "at", mib * 8 - 1, 1)  # exactly 1 MiB
    r("SETBIT", "past", mib * 8, 1)  # 1 MiB and one byte
    got = r("GET", "at")
    assert len(got) == mib and got[-1:] == b"\x01" and got.count(b"\x00") == mib - 1
    assert r("GET", "past") == ERR_BITMAP_TOO_LONG
    # GETRANGE reads up to the limit of either key, whatever the size of the key.
    assert r("GETRANGE", "past", 1, mib) == b"\x00" * (mib - 1) + b"\x80"
    assert r("GETRANGE", "past", -1, -1) == b"\x80"
    assert r("GETRANGE", "past", 0, -1) == ERR_BITMAP_TOO_LONG
    assert r("GETRANGE", "past", 0, mib) == ERR_BITMAP_TOO_LONG
    for args in (["MGET", "at", "past"], ["GETEX", "past", "EX", 100], ["GETDEL", "past"],
                 ["GETSET", "past", "x"], ["SET", "past", "x", "GET"], ["APPEND", "past", "x"]):
        assert r(*args) == ERR_BITMAP_TOO_LONG, args
    assert r("EXISTS", "past") == 1 and r("TTL", "past") == -1
    assert r("STRLEN", "past") == mib + 1 and r("BITCOUNT", "past") == 1
    # Raised again, the same key reads.
    assert r("CONFIG", "SET", "max-bitmap-to-string-mb", 2) == b"OK"
    assert r("GET", "past") == b"\x00" * mib + b"\x80"
    # 0: no bitmap key is read as a string, however short (as in Kvrocks).
    assert r("CONFIG", "SET", "max-bitmap-to-string-mb", 0) == b"OK"
    r("SETBIT", "tiny", 1, 1)
    assert r("GET", "tiny") == ERR_BITMAP_TOO_LONG
    assert r("GETRANGE", "tiny", 0, 0) == ERR_BITMAP_TOO_LONG
    assert r("GETRANGE", "tiny", 5, 9) == b""  # nothing to read
    assert r("GETBIT", "tiny", 1) == 1 and r("STRLEN", "tiny") == 1
    r("SET", "s", "plain")
    assert r("GET", "s") == b"plain"  # string keys are not bitmaps
    # Invalid values are refused and change nothing.
    for bad in ("-1", "abc", "2147483648", "1.5", ""):
        reply = r("CONFIG", "SET", "max-bitmap-to-string-mb", bad)
        assert isinstance(reply, ErrorReply), bad
        assert reply.text.startswith("ERR CONFIG SET 'max-bitmap-to-string-mb' error: "
                                     "invalid value '%s'" % bad), reply
    assert r("CONFIG", "GET", "max-bitmap-to-string-mb") == [b"max-bitmap-to-string-mb", b"0"]
    assert r("CONFIG", "SET", "max-bitmap-to-string-mb", 2147483647) == b"OK"
    assert r("GET", "tiny") == b"\x40"


def test_max_bitmap_to_string_mb_from_the_config_file(server_factory):
    s = server_factory(config={"max-bitmap-to-string-mb": 0})
    c = raw_connection(s)
    try:
        assert run_commands(c, [["CONFIG", "GET", "max-bitmap-to-string-mb"],
                                ["SETBIT", "b", 0, 1], ["GET", "b"]]) == [
            [b"max-bitmap-to-string-mb", b"0"], 0, ERR_BITMAP_TOO_LONG]
    finally:
        c.disconnect()


def test_kvrocks_type_limits(r):
    """Kvrocks behaviour (a documented deviation from Redis, where both are strings): the bit
    commands refuse a HyperLogLog key."""
    r("PFADD", "hll", "a")
    for args in (["SETBIT", "hll", 1, 1], ["GETBIT", "hll", 1], ["BITCOUNT", "hll"],
                 ["BITPOS", "hll", 1], ["BITFIELD", "hll", "GET", "u8", 0],
                 ["BITOP", "OR", "d", "hll"]):
        assert r(*args) == ERR_WRONGTYPE, args


def test_far_sparse_offsets(server, r):
    """The last valid bit costs one segment, not 512 MiB."""
    last = 4294967295
    assert r("SETBIT", "big", last, 1) == 0
    assert r("GETBIT", "big", last) == 1
    assert r("STRLEN", "big") == 536870912
    assert r("BITCOUNT", "big") == 1
    assert r("BITCOUNT", "big", -1, -1) == 1
    assert r("BITCOUNT", "big", 0, -2) == 0
    assert r("BITPOS", "big", 1) == last
    assert r("BITPOS", "big", 0) == 0
    assert r("BITPOS", "big", 1, -1, -1, "BIT") == last
    assert r("BITPOS", "big", 0, -8, -1, "BIT") == last - 7
    assert r("GETRANGE", "big", -1, -1) == b"\x01"
    assert r("BITFIELD", "big", "GET", "u8", last - 7, "INCRBY", "u4", last - 3, 1) == [1, 2]
    assert r("GETRANGE", "big", -1, -1) == b"\x02"
    # GET refuses a bitmap string above Kvrocks's max-bitmap-to-string-mb (16 MiB).
    assert r("GET", "big") == ERR_BITMAP_TOO_LONG
    with open("/proc/%d/status" % server.pid) as f:
        rss_kb = int([line for line in f if line.startswith("VmRSS:")][0].split()[1])
    assert rss_kb < 400 * 1024, rss_kb  # nothing near the 512 MiB of the string form


# --------------------------------------------------------------------------------------
# BITCOUNT / BITPOS


def test_bitcount(r):
    r("SET", "s", "foobar")
    assert r("BITCOUNT", "s") == 26
    assert r("BITCOUNT", "s", 0, 0) == 4
    assert r("BITCOUNT", "s", 1, 1) == 6
    assert r("BITCOUNT", "s", 1, 1, "BYTE") == 6
    assert r("BITCOUNT", "s", 5, 30, "BIT") == 17
    assert r("BITCOUNT", "s", -2, -1) == 7
    assert r("BITCOUNT", "s", -100, 100) == 26
    assert r("BITCOUNT", "s", 3, 1) == 0
    assert r("BITCOUNT", "s", -1, -2, "nonsense") == 0  # Redis answers before the unit
    assert r("BITCOUNT", "nokey") == 0
    assert r("BITCOUNT", "nokey", "a", "b") == 0  # absent: nothing else is parsed
    r("SET", "e", "")
    assert r("BITCOUNT", "e") == 0
    assert r("BITCOUNT", "e", 0, -1) == 0
    assert r("BITCOUNT", "s", 0) == ERR_SYNTAX
    assert r("BITCOUNT", "s", 0, 1, "BIT", "x") == ERR_SYNTAX
    assert r("BITCOUNT", "s", 0, 1, "bits") == ERR_SYNTAX
    assert r("BITCOUNT", "s", "a", 1) == ERR_INT
    assert r("BITCOUNT", "s", 0, "b") == ERR_INT
    assert r("BITCOUNT") == arity("bitcount")


def test_bitpos(r):
    r("SET", "s", b"\xff\xf0\x00")
    assert r("BITPOS", "s", 0) == 12
    assert r("BITPOS", "s", 1) == 0
    assert r("BITPOS", "s", 1, 2) == -1
    assert r("BITPOS", "s", 0, 2) == 16
    assert r("BITPOS", "s", 1, 7, 15, "BIT") == 7
    assert r("BITPOS", "s", 0, 7, 11, "BIT") == -1  # an explicit end: no zero padding
    assert r("BITPOS", "s", 0, 7, 15, "bit") == 12
    assert r("BITPOS", "s", 1, -1) == -1
    assert r("BITPOS", "s", 1, 2, 1) == -1  # empty range
    r("SET", "ones", b"\xff\xff")
    assert r("BITPOS", "ones", 0) == 16  # no explicit end: the first bit after the string
    assert r("BITPOS", "ones", 0, 0) == 16
    assert r("BITPOS", "ones", 0, 0, -1) == -1
    assert r("BITPOS", "ones", 0, 0, 15, "BIT") == -1
    assert r("BITPOS", "nokey", 0) == 0
    assert r("BITPOS", "nokey", 1) == -1
    assert r("BITPOS", "nokey", 1, "junk") == -1  # absent: nothing else is parsed
    r("SET", "e", "")
    assert r("BITPOS", "e", 0) == -1
    assert r("BITPOS", "e", 1) == -1
    assert r("BITPOS", "s", 2) == ErrorReply("ERR The bit argument must be 1 or 0.")
    assert r("BITPOS", "s", "x") == ERR_INT
    assert r("BITPOS", "s", 1, "a") == ERR_INT
    assert r("BITPOS", "s", 1, 0, "a") == ERR_INT
    assert r("BITPOS", "s", 1, 0, "x", "foo") == ERR_SYNTAX  # the unit before the end
    assert r("BITPOS", "s", 1, 0, 1, "BIT", "x") == ERR_SYNTAX
    assert r("BITPOS", "s") == arity("bitpos")


def test_bitcount_bitpos_across_segments(r):
    # Bits on both sides of the 1 KiB segment boundaries of a bitmap key.
    for off in (8191, 8192, 3 * 8192 + 5, 40 * 8192):
        r("SETBIT", "b", off, 1)
    assert r("BITCOUNT", "b") == 4
    assert r("BITCOUNT", "b", 1023, 1024) == 2
    assert r("BITCOUNT", "b", 8191, 8192, "BIT") == 2
    assert r("BITCOUNT", "b", 8192, 40 * 8192 - 1, "BIT") == 2
    assert r("BITPOS", "b", 1) == 8191
    assert r("BITPOS", "b", 1, 1024) == 8192
    assert r("BITPOS", "b", 1, 8193, -1, "BIT") == 3 * 8192 + 5
    assert r("BITPOS", "b", 1, 3 * 8192 + 6, -1, "BIT") == 40 * 8192
    assert r("BITPOS", "b", 0, 8191, -1, "BIT") == 8193
    assert r("BITPOS", "b", 0, 40 * 1024) == 40 * 8192 + 1


# --------------------------------------------------------------------------------------
# BITOP


def test_bitop(r):
    r("SET", "a", b"\xf0\x0f")
    r("SET", "b", b"\xff")
    assert r("BITOP", "AND", "d", "a", "b") == 2
    assert r("GET", "d") == b"\xf0\x00"
    assert r("BITOP", "or", "d", "a", "b") == 2
    assert r("GET", "d") == b"\xff\x0f"
    assert r("BITOP", "Xor", "d", "a", "b") == 2
    assert r("GET", "d") == b"\x0f\x0f"
    assert r("BITOP", "NOT", "d", "a") == 2
    assert r("GET", "d") == b"\x0f\xf0"
    assert r("BITOP", "AND", "d", "a", "nokey") == 2
    assert r("GET", "d") == b"\x00\x00"
    assert r("TYPE", "d") == b"string"
    # dest among the sources; a bitmap-key source.
    r("SETBIT", "bm", 15, 1)
    assert r("BITOP", "OR", "a", "a", "bm") == 2
    assert r("GET", "a") == b"\xf0\x0f"
    assert r("BITOP", "XOR", "a", "a", "bm") == 2
    assert r("GET", "a") == b"\xf0\x0e"
    # dest of another type is overwritten; an expiry is dropped.
    r("PFADD", "h", "x")
    r("EXPIRE", "d", 1000)
    assert r("BITOP", "OR", "h", "b") == 1
    assert r("GET", "h") == b"\xff"
    assert r("BITOP", "OR", "d", "b") == 1
    assert r("TTL", "d") == -1
    # An empty result deletes dest.
    r("SET", "empty", "")
    assert r("BITOP", "OR", "d", "nokey", "empty") == 0
    assert r("EXISTS", "d") == 0
    assert r("BITOP", "NOT", "d", "nokey") == 0
    # Errors.
    assert r("BITOP", "NOT", "d", "a", "b") == ErrorReply(
        "ERR BITOP NOT must be called with a single source key.")
    assert r("BITOP", "NAND", "d", "a") == ERR_SYNTAX
    assert r("BITOP", "AND", "d") == arity("bitop")
    r("HSET", "h2", "f", "v")
    assert r("BITOP", "OR", "a", "b", "h2") == ERR_WRONGTYPE
    assert r("GET", "a") == b"\xf0\x0e"  # untouched


def test_bitop_large_sparse(r):
    r("SETBIT", "x", 0, 1)
    r("SETBIT", "x", 8 * 1000000, 1)
    r("SETBIT", "y", 8 * 1000000 + 1, 1)
    assert r("BITOP", "OR", "d", "x", "y") == 1000001
    assert r("BITCOUNT", "d") == 3
    assert r("BITPOS", "d", 1, 1) == 8 * 1000000
    assert r("BITOP", "AND", "d", "x", "y") == 1000001
    assert r("BITCOUNT", "d") == 0
    assert r("STRLEN", "d") == 1000001
    assert r("BITOP", "NOT", "d", "x") == 1000001
    assert r("BITCOUNT", "d") == 8 * 1000001 - 2


def _script_bitop_segments():
    """BITOP over sources whose 1 KiB segments (kvrocks) lie far apart, at keys of every length
    ("0", "1024", "10240", "102400", ...), mixed with strings, of different lengths, NOT of a
    partial last segment, AND with an absent key, dest among the sources; each result looked at
    around its segment edges."""
    seg = 8192  # bits in a segment
    cmds = []
    for idx in (0, 1, 9, 10, 99, 100, 999, 1000, 2047):
        cmds.append(["SETBIT", "fa", idx * seg + idx % 13, 1])
    for idx in (1, 2, 10, 11, 100, 1000, 1500):
        cmds.append(["SETBIT", "fb", idx * seg + seg - 1 - idx % 5, 1])
    cmds += [["SETBIT", "fb", 10 * seg, 1],  # shares segment 10 and its first byte with fa
             ["SET", "s", bytes(range(256)) * 9 + b"\xff" * 5],  # 2309 bytes
             ["SETBIT", "part", 8 * 1500 - 1, 1], ["SETBIT", "part", 5, 1],  # ends inside "1024"
             ["SETBIT", "one", 7, 1],
             ["SETBIT", "huge", 8 * (1 << 24) - 1, 1]]  # 16 MiB, one segment

    def look(k, get=True):
        out = [["STRLEN", k], ["BITCOUNT", k], ["BITPOS", k, 1], ["BITPOS", k, 0],
               ["BITCOUNT", k, -1025, -1], ["EXISTS", k]]
        for byte in (0, 1023, 1024, 1499, 1500, 2047, 2048, 2308, 2309, 10239, 10240,
                     102399, 102400, 1024000, 1536000, 2096127):
            out.append(["GETRANGE", k, max(0, byte - 2), byte + 2])
        if get:
            out.append(["GET", k])
        return out

    for op in ("AND", "OR", "XOR"):
        for srcs in (["fa", "fb"], ["fb", "fa", "s"], ["s", "fa"], ["fa", "nokey"],
                     ["part", "one"], ["one", "s", "part"], ["fa", "fa"], ["fb", "fb", "fa"],
                     ["huge", "fa"], ["fa", "huge", "s"]):
            cmds.append(["BITOP", op, "d"] + srcs)
            cmds += look("d", get="huge" not in srcs)
    for src in ("fa", "fb", "s", "part", "one", "huge", "nokey"):
        cmds.append(["BITOP", "NOT", "d", src])
        cmds += look("d", get=src != "huge")
    # dest among the sources.
    cmds += [["COPY", "fa", "fa2"], ["BITOP", "OR", "fa2", "fa2", "fb"]] + look("fa2")
    cmds += [["BITOP", "AND", "fb", "fa", "fb", "s"]] + look("fb")
    cmds += [["BITOP", "NOT", "part", "part"]] + look("part")
    cmds += [["BITOP", "XOR", "s", "s", "one"]] + look("s")
    cmds += [["BITOP", "NOT", "huge", "huge"]] + look("huge", get=False)
    return cmds


@pytest.mark.needs_redis
def test_diff_bitop_segments(server, redis_ref):
    mismatches = diff_replies(server, redis_ref, _script_bitop_segments())
    assert not mismatches, format_mismatches(mismatches)


# --------------------------------------------------------------------------------------
# BITFIELD / BITFIELD_RO


def test_bitfield(r):
    assert r("BITFIELD", "k", "SET", "i8", 0, 100, "GET", "i8", 0) == [0, 100]
    assert r("BITFIELD", "k", "INCRBY", "i8", 0, 100) == [-56]
    assert r("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i8", 0, -100) == [-128]
    assert r("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i8", 0, -1) == [None]
    assert r("BITFIELD", "k", "GET", "u8", 0) == [128]
    assert r("BITFIELD", "k", "SET", "u4", "#1", 15, "GET", "u16", 0) == [0, 0x8F00]
    assert r("BITFIELD", "k", "GET", "i64", 0, "GET", "u63", 1) == [
        -8142508126285856768, 0x0F00000000000000]
    assert r("BITFIELD", "k", "OVERFLOW", "WRAP", "INCRBY", "u2", 100, 5,
             "OVERFLOW", "SAT", "INCRBY", "u2", 102, 5, "OVERFLOW", "FAIL", "INCRBY", "u2",
             104, 5) == [1, 3, None]
    assert r("STRLEN", "k") == 14  # grown to the highest field written (bit 105)
    assert r("BITFIELD", "k") == []
    assert r("BITFIELD", "nokey", "GET", "u8", 0) == [0]
    assert r("EXISTS", "nokey") == 0
    # A failing write still creates and grows the key, as Redis.
    assert r("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", 80, 300) == [None]
    assert r("GET", "f") == b"\x00" * 11
    assert r("BITFIELD_RO", "k", "GET", "u8", 0, "GET", "i4", "#0") == [143, -8]
    assert r("BITFIELD_RO", "nokey", "GET", "u8", 0) == [0]
    assert r("BITFIELD_RO", "k") == []


def test_bitfield_on_string(r):
    r("SET", "s", "abc")
    assert r("BITFIELD", "s", "GET", "u8", 8, "INCRBY", "u8", 8, 1) == [98, 99]
    assert r("GET", "s") == b"acc"
    assert r("APPEND", "s", "d") == 4  # still a string


def test_bitfield_errors(r):
    r("SET", "s", "abc")
    for t in ("I8", "u64", "i65", "i0", "u", "x8", "i8x", "", "i-1"):
        assert r("BITFIELD", "s", "GET", t, 0) == ERR_TYPE, t
    for off in ("-1", "#-1", "4294967296", "#536870912", "x", "#"):
        assert r("BITFIELD", "s", "GET", "u8", off) == ERR_OFFSET, off
    assert r("BITFIELD", "s", "OVERFLOW", "foo", "GET", "u8", 0) == ErrorReply(
        "ERR Invalid OVERFLOW type specified")
    assert r("BITFIELD", "s", "foo") == ERR_SYNTAX
    assert r("BITFIELD", "s", "GET", "u8") == ERR_SYNTAX
    assert r("BITFIELD", "s", "SET", "u8", 0) == ERR_SYNTAX
    assert r("BITFIELD", "s", "SET", "u8", 0, 1, "GET") == ERR_SYNTAX
    assert r("BITFIELD", "s", "SET", "u8", 0, "abc") == ERR_INT
    assert r("BITFIELD", "s", "INCRBY", "u8", 0, "9223372036854775808") == ERR_INT
    # Every argument is checked before anything is applied.
    assert r("BITFIELD", "s", "SET", "u8", 0, 65, "GET", "x8", 0) == ERR_TYPE
    assert r("GET", "s") == b"abc"
    ro = ErrorReply("ERR BITFIELD_RO only supports the GET subcommand")
    assert r("BITFIELD_RO", "s", "SET", "u8", 0, 1) == ro
    assert r("BITFIELD_RO", "s", "INCRBY", "u8", 0, 1) == ro
    assert r("BITFIELD_RO", "s", "GET", "x8", 0) == ERR_TYPE
    r("HSET", "h", "f", "v")
    assert r("BITFIELD", "h", "GET", "u8", 0) == ERR_WRONGTYPE
    assert r("BITFIELD", "h", "SET", "u8", 0, 1) == ERR_WRONGTYPE
    assert r("BITFIELD", "h") == ERR_WRONGTYPE
    assert r("BITFIELD_RO", "h", "GET", "u8", 0) == ERR_WRONGTYPE
    assert r("BITFIELD_RO", "h", "SET", "u8", 0, 1) == ro  # checked before the key
    assert r("BITFIELD") == arity("bitfield")
    assert r("BITFIELD_RO") == arity("bitfield_ro")


def test_resp3_shapes(server_factory):
    s = server_factory(resp3_enabled=True)
    c = RawConn(s.port)
    try:
        c.call("HELLO", "3")
        c.send(cmd("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 9, "GET", "u2", 0))
        assert c.read_raw() == b"*2\r\n_\r\n:0\r\n"
        c.send(cmd("BITFIELD_RO", "k"))
        assert c.read_raw() == b"*0\r\n"
        c.send(cmd("GETBIT", "k", 0))
        assert c.read_raw() == b":0\r\n"
        c.send(cmd("GET", "k"))
        assert c.read_raw() == b"$1\r\n\x00\r\n"
    finally:
        c.close()


# --------------------------------------------------------------------------------------
# Atomicity, WATCH, persistence


def test_concurrent_setbits_are_not_lost(server):
    """Read-modify-write of one segment by many clients: every bit must survive."""
    per_thread, threads = 150, 4
    errors = []

    def work(t):
        try:
            c = server.client()
            p = c.pipeline(transaction=False)
            for i in range(per_thread):
                p.setbit("c", (i * threads + t) * 3, 1)
            p.execute()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert server.client().bitcount("c") == per_thread * threads


def test_watch_sees_bit_writes(server):
    a, b = server.client(), server.client()
    a.setbit("w", 1, 1)
    with a.pipeline() as p:
        p.watch("w")
        b.setbit("w", 2, 1)
        p.multi()
        p.get("w")
        with pytest.raises(Exception) as exc:
            p.execute()
        assert "WatchError" in type(exc.value).__name__


def test_copy_and_rename_bitmap(r):
    r("SETBIT", "b", 8 * 3000 + 2, 1)
    r("SETBIT", "b", 1, 1)
    value = r("GET", "b")
    assert r("COPY", "b", "c") == 1
    assert r("RENAME", "b", "d") == b"OK"
    assert r("GET", "c") == value and r("GET", "d") == value
    assert r("EXISTS", "b") == 0
    r("SETBIT", "c", 1, 0)  # the copy is independent
    assert r("GETBIT", "d", 1) == 1
    assert r("BITCOUNT", "c") == 1


def test_bitmap_survives_restart(server):
    c = server.client()
    c.setbit("p", 8 * 5000 + 1, 1)
    c.set("s", "abc")
    c.setbit("s", 7, 0)
    server.restart()
    c = server.client()
    assert c.getbit("p", 8 * 5000 + 1) == 1
    assert c.strlen("p") == 5001
    assert c.get("s") == b"`bc"


# --------------------------------------------------------------------------------------
# Differential tests against redis-server


def _script_fixed():
    cmds = [
        ["SET", "s", "foobar"], ["SET", "e", ""], ["SET", "bin", b"\x00\xff\x81\x7e"],
        ["HSET", "hash", "f", "v"],
        ["SETBIT", "b", 0, 1], ["SETBIT", "b", 8191, 1], ["SETBIT", "b", 8192, 1],
        ["SETBIT", "b", 20000, 1], ["GET", "b"], ["STRLEN", "b"], ["GETRANGE", "b", 1020, 1030],
    ]
    for k in ("s", "e", "bin", "b", "nokey", "hash"):
        cmds += [
            ["GETBIT", k, 0], ["GETBIT", k, 8192], ["GETBIT", k, 99999],
            ["BITCOUNT", k], ["BITCOUNT", k, 0, -1], ["BITCOUNT", k, 1, 3],
            ["BITCOUNT", k, -3, -1], ["BITCOUNT", k, 5, 2000, "BIT"],
            ["BITCOUNT", k, -9, -2, "BIT"], ["BITCOUNT", k, 0, 0, "BYTE"],
            ["BITCOUNT", k, -2, -3], ["BITCOUNT", k, 1], ["BITCOUNT", k, 0, 1, "x"],
            ["BITPOS", k, 0], ["BITPOS", k, 1], ["BITPOS", k, 0, 1], ["BITPOS", k, 1, -1],
            ["BITPOS", k, 0, 0, -1], ["BITPOS", k, 1, 3, 8200, "BIT"],
            ["BITPOS", k, 0, 8191, 8192, "BIT"], ["BITPOS", k, 1, 2, 1],
            ["BITPOS", k, 0, 1, 2, "BYTE"], ["BITPOS", k, 2], ["BITPOS", k, 1, "x"],
            ["BITFIELD_RO", k, "GET", "u8", 0, "GET", "i16", 8190, "GET", "i64", "#3"],
            ["BITFIELD", k, "GET", "u63", 1],
        ]
    cmds += [
        ["BITOP", "AND", "d", "s", "bin", "b"], ["GET", "d"],
        ["BITOP", "OR", "d", "s", "bin", "b"], ["GET", "d"],
        ["BITOP", "XOR", "d", "s", "bin", "nokey"], ["GET", "d"],
        ["BITOP", "NOT", "d", "b"], ["BITCOUNT", "d"], ["GETRANGE", "d", 1020, 1030],
        ["BITOP", "OR", "d", "e", "nokey"], ["EXISTS", "d"],
        ["BITOP", "OR", "s", "s", "hash"], ["BITOP", "NOT", "d", "s", "b"],
        ["BITFIELD", "f", "SET", "u8", 8188, 255, "INCRBY", "i16", 8190, 300,
         "OVERFLOW", "SAT", "INCRBY", "i4", 8200, -100, "GET", "u32", 8186],
        ["GET", "f"],
        ["BITFIELD", "s", "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 200, "SET", "i8", "#2", -1],
        ["GET", "s"],
        ["SETBIT", "s", 100, 1], ["GET", "s"], ["SETBIT", "hash", 0, 1],
    ]
    return cmds


@pytest.mark.needs_redis
def test_diff_fixed_script(server, redis_ref):
    mismatches = diff_replies(server, redis_ref, _script_fixed())
    assert not mismatches, format_mismatches(mismatches)


def _bits_script(key, value):
    return [["SETBIT", key, 8 * i + j, 1] for i, byte in enumerate(value) for j in range(8)
            if byte & (0x80 >> j)]


def _script_string_commands():
    """Every string command on bitmap keys (two segments, a number, a float, bytes that are
    neither), each followed by what a user would look at next."""
    cmds = []
    look = lambda k: [["TYPE", k], ["GET", k], ["STRLEN", k], ["BITCOUNT", k],  # noqa: E731
                      ["EXPIRETIME", k], ["GETBIT", k, 8200]]
    for key, value in (("n", b"12"), ("neg", b"-40"), ("fl", b"2.5"), ("bad", b"1x"),
                       ("zero", b"00"), ("sp", b" 1")):
        cmds += _bits_script(key, value)
    cmds += [["SETBIT", "two", 5, 1], ["SETBIT", "two", 8200, 1], ["SETBIT", "two", 8203, 1]]
    cmds += [
        ["MGET", "n", "two", "nokey", "neg"], ["MGET", "two"], ["MGET", "fl", "fl"],
        ["LCS", "n", "neg"], ["LCS", "two", "n", "IDX", "WITHMATCHLEN"], ["LCS", "fl", "n", "LEN"],
    ]
    for k in ("n", "neg", "fl", "bad", "zero", "sp", "two"):
        cmds += [["INCR", k], ["DECRBY", k, 5], ["INCRBY", k, "x"], ["INCRBYFLOAT", k, "0.5"]]
        cmds += look(k)
    # Each command on a fresh copy of the two-segment bitmap.
    for i, args in enumerate([["GETSET", "{k}", "new"], ["SET", "{k}", "v", "GET"],
                              ["SET", "{k}", "v", "NX", "GET"], ["SET", "{k}", "v", "XX", "GET"],
                              ["SET", "{k}", "v", "KEEPTTL", "GET"], ["GETDEL", "{k}"],
                              ["GETEX", "{k}"], ["GETEX", "{k}", "PERSIST"],
                              ["GETEX", "{k}", "EXAT", "4100000000"],
                              ["GETEX", "{k}", "PXAT", "1"], ["GETEX", "{k}", "EX", "0"],
                              ["APPEND", "{k}", "tail"], ["APPEND", "{k}", ""],
                              ["SETRANGE", "{k}", 0, "ab"], ["SETRANGE", "{k}", 1024, "ab"],
                              ["SETRANGE", "{k}", 1030, "ab"], ["SETRANGE", "{k}", 0, ""],
                              ["SETRANGE", "{k}", -1, "a"], ["SETRANGE", "{k}", 536870911, "ab"],
                              ["GETRANGE", "{k}", 1020, 1030], ["SUBSTR", "{k}", -3, -1],
                              ["INCR", "{k}"]]):
        k = "c%d" % i
        cmds += [["COPY", "two", k], ["EXPIREAT", k, "4000000000"]]
        cmds.append([a.format(k=k) if isinstance(a, str) else a for a in args])
        cmds += look(k) + [["SETBIT", k, 3, 1], ["GET", k], ["APPEND", k, "!"], ["GET", k]]
    return cmds


@pytest.mark.needs_redis
def test_diff_string_commands_on_bitmap_keys(server, redis_ref):
    mismatches = diff_replies(server, redis_ref, _script_string_commands())
    assert not mismatches, format_mismatches(mismatches)


class Gen:
    """Random bit commands over a few keys (strings made by SET, bitmap keys made by SETBIT,
    BITFIELD and BITOP on absent keys), with offsets near segment boundaries and malformed
    arguments."""

    KEYS = ["b0", "b1", "b2", "s0", "s1"]

    def __init__(self, seed, big):
        self.rng = random.Random(seed)
        self.big = big

    def off(self):
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return rng.randrange(0, 200)
        if r < 0.75:
            return rng.randrange(8100, 8300)
        if r < 0.95:
            return rng.randrange(0, self.big)
        return rng.choice([4294967296, -1, "x", "#3"])

    def idx(self):
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            return rng.randrange(-30, 30)
        if r < 0.9:
            return rng.randrange(-self.big // 8, self.big // 8)
        return rng.choice([9223372036854775807, -9223372036854775808, 0, -1])

    def field_type(self):
        rng = self.rng
        if rng.random() < 0.95:
            return rng.choice("iu") + str(rng.choice([1, 3, 5, 8, 13, 16, 31, 32, 63, 64]))
        return rng.choice(["i0", "u64", "I8", "x"])

    def command(self):
        rng = self.rng
        k = rng.choice(self.KEYS)
        r = rng.randrange(12)
        if r == 0:
            return ["SETBIT", k, self.off(), rng.choice([0, 1, 1, 2])]
        if r == 1:
            return ["GETBIT", k, self.off()]
        if r == 2:
            c = ["BITCOUNT", k]
            n = rng.randrange(4)
            if n >= 1:
                c += [self.idx(), self.idx()]
            if n >= 2:
                c.append(rng.choice(["BIT", "BYTE", "bit", "x"]))
            return c
        if r == 3:
            c = ["BITPOS", k, rng.choice([0, 1, 1, 0, 2])]
            for _ in range(rng.randrange(4)):
                c.append(self.idx())
            if len(c) == 6:
                c[5] = rng.choice(["BIT", "BYTE", "bit", "byte"])
            return c
        if r == 4:
            op = rng.choice(["AND", "OR", "XOR", "NOT", "and"])
            n = 1 if op == "NOT" or rng.random() < 0.2 else rng.randrange(1, 4)
            return ["BITOP", op, rng.choice(self.KEYS)] + [
                rng.choice(self.KEYS + ["nokey"]) for _ in range(n)]
        if r == 5:
            c = ["BITFIELD", k]
            for _ in range(rng.randrange(1, 4)):
                s = rng.randrange(5)
                o = rng.choice([str(self.off()), "#%d" % rng.randrange(0, 50)])
                if s == 0:
                    c += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"])]
                elif s == 1:
                    c += ["GET", self.field_type(), o]
                elif s == 2:
                    c += ["SET", self.field_type(), o, rng.choice(
                        [0, 1, -1, 127, 128, 255, 256, -128, -129, 2 ** 63 - 1, -2 ** 63,
                         rng.randrange(-1000, 1000)])]
                else:
                    c += ["INCRBY", self.field_type(), o, rng.choice(
                        [1, -1, 100, -100, 2 ** 63 - 1, -2 ** 63, rng.randrange(-1000, 1000)])]
            return c
        if r == 6:
            c = ["BITFIELD_RO", k]
            for _ in range(rng.randrange(3)):
                c += ["GET", rng.choice(["i8", "u8", "i64", "u63", "i3"]), str(self.off())]
            return c
        if r == 7:
            return ["GET", k]
        if r == 8:
            return ["STRLEN", k]
        if r == 9:
            return ["GETRANGE", k, self.idx(), self.idx()]
        if r == 10:
            if rng.random() < 0.3:
                return ["DEL", k]
            return ["SET", k, bytes(rng.randrange(256) for _ in range(rng.randrange(20)))]
        return ["TYPE", k]


@pytest.mark.needs_redis
@pytest.mark.parametrize("seed,big,count", [(1, 40000, 2500), (2, 40000, 2500),
                                            (3, 2000000, 1500)])
def test_diff_random_stream(server, redis_ref, seed, big, count):
    gen = Gen(seed, big)
    cmds = [gen.command() for _ in range(count)]
    mismatches = diff_replies(server, redis_ref, cmds)
    assert not mismatches, format_mismatches(mismatches)


@pytest.mark.needs_redis
def test_diff_resp3(server_factory, redis_ref):
    s = server_factory(resp3_enabled=True)
    script = [
        ("SETBIT", "k", 9, 1), ("GETBIT", "k", 9), ("BITCOUNT", "k"), ("BITPOS", "k", 1),
        ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 9, "GET", "u4", 8),
        ("BITFIELD_RO", "k", "GET", "u4", 8), ("BITFIELD", "k"), ("BITOP", "NOT", "d", "k"),
        ("GET", "d"), ("BITOP", "OR", "d", "nokey"), ("GET", "d"), ("BITPOS", "k", 3),
    ]
    a, b = RawConn(s.port), RawConn(redis_ref.port)
    try:
        a.call("HELLO", "3")
        b.call("HELLO", "3")
        for args in script:
            a.send(cmd(*args))
            b.send(cmd(*args))
            assert a.read_raw() == b.read_raw(), args
    finally:
        a.close()
        b.close()
