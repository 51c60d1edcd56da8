# SPDX-License-Identifier: Apache-2.0
"""Keyspace commands (src/commands/cmd_key.c): DEL, UNLINK, EXISTS, TOUCH, TYPE, KEYS, SCAN,
RANDOMKEY, RENAME, RENAMENX, COPY, PERSIST and the argument errors of the EXPIRE family.

Replies and error texts are checked against Redis 7.0 twice: by literal assertions against
kvrocks-c alone, and by running the same scripts against Debian's redis-server
(needs_redis tests). Expiry behaviour is in test_expire.py.
"""
import random
import threading

import pytest
import redis

from helpers.diff import Cmd, ErrorReply, assert_same_replies, raw_connection, run_commands

SCAN_MAX_CALLS = 100000


@pytest.fixture
def conn(server):
    """A raw connection to the kvrocks-c server: replies as they are, errors whole."""
    c = raw_connection(server)
    yield c
    c.disconnect()


def call(c, *args):
    """One command on a raw connection; an error reply comes back as ErrorReply."""
    return run_commands(c, [list(args)])[0]


def err(text):
    return ErrorReply(text)


def scan_all(c, *opts, cursor=b"0", limit=SCAN_MAX_CALLS):
    """A whole SCAN iteration with options; returns (keys in order, number of calls). Every
    reply is checked for shape: [bulk cursor, array of bulk keys]."""
    keys = []
    calls = 0
    while True:
        reply = call(c, "SCAN", cursor, *opts)
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor, batch = reply
        assert isinstance(cursor, bytes) and cursor.isdigit(), reply
        assert isinstance(batch, list), reply
        keys.extend(batch)
        calls += 1
        if cursor == b"0":
            return keys, calls
        assert calls < limit, "SCAN did not finish in %d calls" % limit


def fill(c, keys, value=b"v"):
    for k in keys:
        assert call(c, "SET", k, value) == b"OK"


# --------------------------------------------------------------------------------------
# DEL / UNLINK / EXISTS / TOUCH / TYPE

def test_del_unlink_exists_touch(conn):
    fill(conn, [b"a", b"b", b"c", b"d"])
    assert call(conn, "EXISTS", "a") == 1
    assert call(conn, "EXISTS", "a", "b", "nokey") == 2
    assert call(conn, "EXISTS", "a", "a", "a") == 3
    assert call(conn, "TOUCH", "a", "nokey", "a") == 2
    assert call(conn, "DEL", "a", "a", "nokey") == 1
    assert call(conn, "EXISTS", "a") == 0
    assert call(conn, "GET", "a") is None
    assert call(conn, "DEL", "a") == 0
    assert call(conn, "UNLINK", "b", "c", "nokey") == 2
    assert call(conn, "EXISTS", "b", "c", "d") == 1
    assert call(conn, "del", "D") == 0  # keys are case-sensitive, commands are not
    assert call(conn, "DeL", "d") == 1
    assert call(conn, "KEYS", "*") == []


def test_type(conn):
    assert call(conn, "TYPE", "nokey") == b"none"
    fill(conn, [b"s"])
    assert call(conn, "TYPE", "s") == b"string"


def test_binary_and_empty_keys(conn):
    keys = [b"", b"\x00", b"a\x00b", b"\xff\xfe", b"sp ace", b"new\r\nline"]
    for i, k in enumerate(keys):
        assert call(conn, "SET", k, b"v%d" % i) == b"OK"
    assert call(conn, "EXISTS", *keys) == len(keys)
    assert sorted(call(conn, "KEYS", "*")) == sorted(keys)
    keys_scanned, _ = scan_all(conn, "COUNT", 1)
    assert sorted(keys_scanned) == sorted(keys)
    assert call(conn, "RENAME", b"a\x00b", b"a\x00c") == b"OK"
    assert call(conn, "GET", b"a\x00c") == b"v2"
    assert call(conn, "EXISTS", b"a\x00b") == 0
    assert call(conn, "DEL", *keys) == len(keys) - 1


@pytest.mark.parametrize("args", [
    ["DEL"], ["UNLINK"], ["EXISTS"], ["TOUCH"], ["TYPE"], ["TYPE", "a", "b"],
    ["KEYS"], ["KEYS", "a", "b"], ["SCAN"], ["RANDOMKEY", "x"], ["RENAME", "a"],
    ["RENAME", "a", "b", "c"], ["RENAMENX", "a"], ["COPY", "a"], ["PERSIST"],
    ["PERSIST", "a", "b"], ["EXPIRE", "a"], ["PEXPIRE", "a"], ["EXPIREAT", "a"],
    ["PEXPIREAT", "a"], ["TTL"], ["PTTL", "a", "b"], ["EXPIRETIME"], ["PEXPIRETIME", "a", "b"],
])
def test_arity_errors(conn, args):
    assert call(conn, *args) == \
        err("ERR wrong number of arguments for '%s' command" % args[0].lower())


# --------------------------------------------------------------------------------------
# KEYS

KEYS_DATASET = [
    b"key:1", b"key:2", b"key:10", b"key:22", b"key:100", b"kay:1", b"kxy:1", b"other",
    b"a*b", b"a?b", b"axb", b"a[b", b"a\\b", b"[x]", b"x", b"hello", b"hallo", b"hxllo",
    b"hllo", b"heeeello", b"Hello", b"user:1000:name", b"user:1001:mail", b"",
]

KEYS_PATTERNS = [
    "*", "", "**", "key:*", "key:?", "key:??", "k?y:1", "k*y:1*", "*:1", "*1", "*1*",
    "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h[b-a]llo", "[Hh]ello", "hello",
    "HELLO", "a\\*b", "a\\?b", "a?b", "a*b", "a[*]b", "a[[]b", "a\\\\b", "\\[x\\]", "[[]x]",
    "user:*:name", "user:100[0-1]:*", "*:*:*", "nomatch*", "?", "x*", "*x", "[a-", "[",
    "\\", "key:1\\", "*[0-9]",
]


def test_keys_glob_patterns(conn):
    fill(conn, KEYS_DATASET)
    got = {p: sorted(call(conn, "KEYS", p)) for p in KEYS_PATTERNS}
    assert got["*"] == sorted(KEYS_DATASET)
    assert got[""] == [b""]
    assert b"" not in got["**"] and len(got["**"]) == len(KEYS_DATASET) - 1
    assert got["key:*"] == sorted([b"key:1", b"key:2", b"key:10", b"key:22", b"key:100"])
    assert got["key:?"] == [b"key:1", b"key:2"]
    assert got["k?y:1"] == [b"kay:1", b"key:1", b"kxy:1"]
    assert got["h[^e]llo"] == [b"hallo", b"hxllo"]
    assert got["h[b-a]llo"] == [b"hallo"]
    assert got["a\\*b"] == [b"a*b"]
    assert got["a?b"] == sorted([b"a*b", b"a?b", b"axb", b"a[b", b"a\\b"])
    assert got["hello"] == [b"hello"]
    assert got["HELLO"] == []
    assert got["user:100[0-1]:*"] == [b"user:1000:name", b"user:1001:mail"]
    assert got["nomatch*"] == []


@pytest.mark.needs_redis
def test_keys_glob_patterns_match_redis(server, redis_ref):
    script = [["SET", k, "v"] for k in KEYS_DATASET]
    script += [Cmd(["KEYS", p], compare="unordered") for p in KEYS_PATTERNS]
    script += [Cmd(["SCAN", "0", "MATCH", p, "COUNT", "1000"],
                   compare=lambda a, b: sorted(a[1]) == sorted(b[1]))
               for p in KEYS_PATTERNS]
    assert_same_replies(server, redis_ref, script)


def test_keys_skips_deleted_and_overwritten(conn):
    fill(conn, [b"k%d" % i for i in range(100)])
    assert call(conn, "DEL", *[b"k%d" % i for i in range(0, 100, 2)]) == 50
    assert sorted(call(conn, "KEYS", "k*")) == sorted(b"k%d" % i for i in range(1, 100, 2))
    fill(conn, [b"k1"], b"again")
    assert len(call(conn, "KEYS", "*")) == 50


# --------------------------------------------------------------------------------------
# SCAN

def test_scan_full_iteration_any_count(conn):
    keys = [b"key:%d" % i for i in range(500)]
    fill(conn, keys)
    for count in (1, 3, 10, 99, 500, 501, 100000):
        got, calls = scan_all(conn, "COUNT", count)
        assert len(got) == len(set(got)) == 500, count
        assert sorted(got) == sorted(keys)
        assert calls >= 500 // count
    # Default COUNT is 10: a 500-key iteration needs many calls, each returning <= 10 keys.
    got, calls = scan_all(conn)
    assert sorted(got) == sorted(keys) and calls >= 50
    first = call(conn, "SCAN", "0")
    assert len(first[1]) <= 10 and first[0] != b"0"


def test_scan_count_bounds_each_reply(conn):
    fill(conn, [b"k%03d" % i for i in range(50)])
    cursor = b"0"
    while True:
        cursor, batch = call(conn, "SCAN", cursor, "COUNT", 7)
        assert len(batch) <= 7
        if cursor == b"0":
            break


def test_scan_match_and_type(conn):
    fill(conn, [b"user:%d" % i for i in range(60)] + [b"item:%d" % i for i in range(40)])
    got, _ = scan_all(conn, "MATCH", "user:*", "COUNT", 7)
    assert sorted(got) == sorted(b"user:%d" % i for i in range(60))
    got, _ = scan_all(conn, "MATCH", "*:1?", "COUNT", 5)
    assert sorted(got) == sorted([b"user:%d" % i for i in range(10, 20)] +
                                 [b"item:%d" % i for i in range(10, 20)])
    got, _ = scan_all(conn, "MATCH", "nothing*")
    assert got == []
    got, _ = scan_all(conn, "TYPE", "string", "COUNT", 30)
    assert len(got) == 100
    got, _ = scan_all(conn, "TYPE", "STRING", "MATCH", "item:3*")
    assert sorted(got) == sorted([b"item:3"] + [b"item:%d" % i for i in range(30, 40)])
    # Types no key has (or no type at all) give a complete, empty iteration.
    for t in ("hash", "list", "set", "zset", "stream", "none", "nosuchtype"):
        got, _ = scan_all(conn, "TYPE", t)
        assert got == [], t
    # The last of a repeated option wins.
    got, _ = scan_all(conn, "MATCH", "user:*", "MATCH", "item:*", "COUNT", 1, "COUNT", 50)
    assert sorted(got) == sorted(b"item:%d" % i for i in range(40))


def test_scan_errors(conn):
    fill(conn, [b"a"])
    assert call(conn, "SCAN", "x") == err("ERR invalid cursor")
    assert call(conn, "SCAN", " 1") == err("ERR invalid cursor")
    assert call(conn, "SCAN", "1 ") == err("ERR invalid cursor")
    assert call(conn, "SCAN", "1.5") == err("ERR invalid cursor")
    assert call(conn, "SCAN", "18446744073709551616") == err("ERR invalid cursor")
    assert call(conn, "SCAN", "x", "COUNT", "0") == err("ERR invalid cursor")
    assert call(conn, "SCAN", "0", "COUNT", "0") == err("ERR syntax error")
    assert call(conn, "SCAN", "0", "COUNT", "-1") == err("ERR syntax error")
    assert call(conn, "SCAN", "0", "COUNT", "x") == \
        err("ERR value is not an integer or out of range")
    assert call(conn, "SCAN", "0", "COUNT", "99999999999999999999") == \
        err("ERR value is not an integer or out of range")
    assert call(conn, "SCAN", "0", "MATCH") == err("ERR syntax error")
    assert call(conn, "SCAN", "0", "COUNT") == err("ERR syntax error")
    assert call(conn, "SCAN", "0", "TYPE") == err("ERR syntax error")
    assert call(conn, "SCAN", "0", "FOO", "bar") == err("ERR syntax error")
    assert call(conn, "SCAN", "0", "MATCH", "*", "extra") == err("ERR syntax error")
    # Cursor texts Redis accepts (strtoul): leading zeros, a sign, the empty string.
    for cursor in ("00", "+0", "-0", ""):
        assert call(conn, "SCAN", cursor, "COUNT", 100) == [b"0", [b"a"]], cursor


def test_scan_unknown_cursor_restarts(conn):
    fill(conn, [b"k%d" % i for i in range(30)])
    # (5 << 14) | 6: the slot bits never differ from the sequence bits in an issued cursor.
    for cursor in ("12345", "-1", "18446744073709551615", str((5 << 14) | 6)):
        got, _ = scan_all(conn, "COUNT", 4, cursor=cursor)
        assert sorted(got) == sorted(b"k%d" % i for i in range(30)), cursor


def test_scan_cursor_is_reusable(conn):
    """A client may retry a call (lost reply): the same cursor gives the same next page."""
    fill(conn, [b"k%02d" % i for i in range(20)])
    cursor, first = call(conn, "SCAN", "0", "COUNT", 5)
    again = call(conn, "SCAN", cursor, "COUNT", 5)
    assert call(conn, "SCAN", cursor, "COUNT", 5)[1] == again[1]
    assert not set(first) & set(again[1])


def test_scan_interleaved_iterations_and_clients(server):
    """Several iterations at once, on different connections, do not disturb each other."""
    a, b = raw_connection(server), raw_connection(server)
    try:
        keys = [b"key:%d" % i for i in range(200)]
        fill(a, keys)
        cur = {"a": b"0", "b": b"0", "c": b"0"}
        got = {"a": [], "b": [], "c": []}
        conns = {"a": a, "b": b, "c": a}
        counts = {"a": 3, "b": 7, "c": 11}
        started = set()
        for _ in range(SCAN_MAX_CALLS):
            live = [n for n in cur if cur[n] != b"0" or n not in started]
            if not live:
                break
            for n in live:
                started.add(n)
                cur[n], batch = call(conns[n], "SCAN", cur[n], "COUNT", counts[n])
                got[n].extend(batch)
        for n in got:
            assert sorted(got[n]) == sorted(keys), n
    finally:
        a.disconnect()
        b.disconnect()


def test_scan_returns_keys_that_exist_throughout_despite_writes(conn):
    """Keys present for the whole iteration come back (exactly once here, as positions are
    ordered); keys added or deleted meanwhile may or may not."""
    stable = [b"stable:%03d" % i for i in range(300)]
    fill(conn, stable)
    fill(conn, [b"churn:%03d" % i for i in range(100)])
    rng = random.Random(5)
    cursor = b"0"
    got = []
    step = 0
    while True:
        cursor, batch = call(conn, "SCAN", cursor, "COUNT", 9)
        got.extend(batch)
        step += 1
        # Churn between calls: delete and create other keys on both sides of the position.
        assert call(conn, "DEL", b"churn:%03d" % rng.randrange(100)) in (0, 1)
        assert call(conn, "SET", b"new:%d" % step, b"x") == b"OK"
        assert call(conn, "SET", b"a-new:%d" % step, b"x") == b"OK"
        if cursor == b"0":
            break
        assert step < 10000
    got_stable = [k for k in got if k.startswith(b"stable:")]
    assert sorted(got_stable) == stable
    assert len(got) == len(set(got))


def test_scan_survives_cursor_table_churn(server):
    """Other clients issuing many cursors meanwhile: an overwritten cursor restarts the
    iteration (as Kvrocks), which must still return every stable key."""
    c = raw_connection(server)
    other = raw_connection(server)
    try:
        fill(c, [b"k%d" % i for i in range(50)])
        cursor, got = call(c, "SCAN", "0", "COUNT", 10)
        # Push this cursor out of the table: 16384 slots.
        for _ in range(16384 // 4 + 1):
            for _ in range(4):
                other.send_command("SCAN", "0", "COUNT", 1)
            for _ in range(4):
                other.read_response()
        while cursor != b"0":
            cursor, batch = call(c, "SCAN", cursor, "COUNT", 10)
            got.extend(batch)
        assert set(got) == {b"k%d" % i for i in range(50)}
    finally:
        c.disconnect()
        other.disconnect()


@pytest.mark.needs_redis
def test_scan_errors_match_redis(server, redis_ref):
    script = [["SET", "a", "1"]]
    for args in (["x"], [" 1"], ["1 "], ["+"], ["-"], ["0x1"], ["18446744073709551616"],
                 ["0", "COUNT", "0"], ["0", "COUNT", "-5"], ["0", "COUNT", "abc"],
                 ["0", "COUNT", "1.5"], ["0", "MATCH"], ["0", "TYPE"], ["0", "COUNT"],
                 ["0", "BAD", "1"], ["0", "MATCH", "*", "COUNT"], ["x", "COUNT", "0"]):
        script.append(["SCAN"] + args)
    for args in (["0"], ["00"], ["+0"], [""], ["0", "count", "5", "match", "a", "type", "String"],
                 ["0", "TYPE", "none"], ["0", "TYPE", "hash"]):
        script.append(["SCAN"] + args + ["COUNT", "100"])
    assert_same_replies(server, redis_ref, script)


# --------------------------------------------------------------------------------------
# RANDOMKEY

def test_randomkey(conn):
    assert call(conn, "RANDOMKEY") is None
    fill(conn, [b"only"])
    assert call(conn, "RANDOMKEY") == b"only"
    keys = {b"key:%d" % i for i in range(100)}
    fill(conn, keys)
    seen = {call(conn, "RANDOMKEY") for _ in range(200)}
    assert seen <= keys | {b"only"}
    assert len(seen) > 1
    call(conn, "DEL", *keys)
    assert call(conn, "RANDOMKEY") == b"only"
    call(conn, "DEL", "only")
    assert call(conn, "RANDOMKEY") is None


# --------------------------------------------------------------------------------------
# RENAME / RENAMENX

def test_rename(conn):
    assert call(conn, "RENAME", "nokey", "x") == err("ERR no such key")
    assert call(conn, "RENAME", "nokey", "nokey") == err("ERR no such key")
    fill(conn, [b"a"], b"va")
    assert call(conn, "RENAME", "a", "a") == b"OK"
    assert call(conn, "GET", "a") == b"va"
    assert call(conn, "RENAME", "a", "b") == b"OK"
    assert call(conn, "EXISTS", "a") == 0
    assert call(conn, "GET", "b") == b"va"
    fill(conn, [b"c"], b"vc")
    assert call(conn, "RENAME", "b", "c") == b"OK"  # overwrites
    assert call(conn, "GET", "c") == b"va"
    assert call(conn, "KEYS", "*") == [b"c"]


def test_renamenx(conn):
    assert call(conn, "RENAMENX", "nokey", "x") == err("ERR no such key")
    assert call(conn, "RENAMENX", "nokey", "nokey") == err("ERR no such key")
    fill(conn, [b"a"], b"va")
    fill(conn, [b"b"], b"vb")
    assert call(conn, "RENAMENX", "a", "a") == 0
    assert call(conn, "RENAMENX", "a", "b") == 0
    assert call(conn, "GET", "a") == b"va" and call(conn, "GET", "b") == b"vb"
    assert call(conn, "RENAMENX", "a", "c") == 1
    assert call(conn, "EXISTS", "a") == 0 and call(conn, "GET", "c") == b"va"


def test_rename_keeps_ttl_and_clears_destination_ttl(conn):
    fill(conn, [b"a"], b"1")
    fill(conn, [b"b"], b"2")
    assert call(conn, "EXPIRE", "b", 1000) == 1
    assert call(conn, "RENAME", "a", "b") == b"OK"
    assert call(conn, "TTL", "b") == -1  # the source had none
    assert call(conn, "EXPIRE", "b", 500) == 1
    assert call(conn, "RENAME", "b", "c") == b"OK"
    assert 499 <= call(conn, "TTL", "c") <= 500


# --------------------------------------------------------------------------------------
# COPY

def test_copy(conn):
    assert call(conn, "COPY", "nokey", "x") == 0
    fill(conn, [b"a"], b"va")
    assert call(conn, "COPY", "a", "a") == err("ERR source and destination objects are the same")
    assert call(conn, "COPY", "a", "b") == 1
    assert call(conn, "GET", "a") == b"va" and call(conn, "GET", "b") == b"va"
    fill(conn, [b"a"], b"new")
    assert call(conn, "COPY", "a", "b") == 0
    assert call(conn, "GET", "b") == b"va"
    assert call(conn, "COPY", "a", "b", "REPLACE") == 1
    assert call(conn, "GET", "b") == b"new"
    assert call(conn, "COPY", "a", "c", "db", "0", "replace", "DB", "0") == 1
    assert call(conn, "GET", "c") == b"new"
    # The copy is independent of the source.
    assert call(conn, "DEL", "a") == 1
    assert call(conn, "GET", "c") == b"new"


def test_copy_keeps_ttl(conn):
    fill(conn, [b"a"], b"1")
    assert call(conn, "EXPIRE", "a", 100) == 1
    assert call(conn, "COPY", "a", "b") == 1
    assert 99 <= call(conn, "TTL", "b") <= 100
    fill(conn, [b"c"], b"3")
    assert call(conn, "COPY", "c", "b", "REPLACE") == 1
    assert call(conn, "TTL", "b") == -1


def test_copy_errors(conn):
    fill(conn, [b"a"])
    # Only database 0 exists: any other index is out of range.
    assert call(conn, "COPY", "a", "b", "DB", "1") == err("ERR DB index is out of range")
    assert call(conn, "COPY", "a", "b", "DB", "16") == err("ERR DB index is out of range")
    assert call(conn, "COPY", "a", "b", "DB", "-1") == err("ERR DB index is out of range")
    assert call(conn, "COPY", "a", "b", "DB", "x") == \
        err("ERR value is not an integer or out of range")
    assert call(conn, "COPY", "a", "b", "DB", "4294967296") == \
        err("ERR value is not an integer or out of range")
    assert call(conn, "COPY", "a", "b", "DB") == err("ERR syntax error")
    assert call(conn, "COPY", "a", "b", "FOO") == err("ERR syntax error")
    assert call(conn, "COPY", "a", "b", "REPLACE", "x") == err("ERR syntax error")
    # Option errors come before the same-key check, as in Redis.
    assert call(conn, "COPY", "a", "a", "FOO") == err("ERR syntax error")
    assert call(conn, "COPY", "nokey", "nokey") == \
        err("ERR source and destination objects are the same")
    assert call(conn, "EXISTS", "b") == 0


@pytest.mark.needs_redis
def test_rename_copy_del_match_redis(server, redis_ref):
    script = [
        ["SET", "a", "1"], ["SET", "b", "2"], ["SET", "c", "3"],
        ["RENAME", "nokey", "x"], ["RENAME", "nokey", "nokey"], ["RENAMENX", "nokey", "a"],
        ["RENAME", "a", "a"], ["RENAMENX", "a", "a"], ["RENAMENX", "a", "b"],
        ["RENAME", "a", "z"], ["GET", "z"], ["EXISTS", "a", "z", "z"],
        ["RENAMENX", "z", "a"], ["GET", "a"],
        ["COPY", "a", "a"], ["COPY", "nokey", "nokey"], ["COPY", "a", "b"],
        ["COPY", "a", "b", "REPLACE"], ["GET", "b"], ["COPY", "a", "n", "DB", "0"],
        ["COPY", "a", "n2", "DB", "16"], ["COPY", "a", "n2", "DB", "-1"],
        ["COPY", "a", "n2", "DB", "x"], ["COPY", "a", "n2", "DB"], ["COPY", "a", "n2", "BAD"],
        ["COPY", "a", "a", "BAD"], ["COPY", "a", "n2", "replace", "replace"],
        ["COPY", "nokey", "n3"], ["EXISTS", "n3"],
        ["TYPE", "a"], ["TYPE", "nokey"], ["TOUCH", "a", "b", "nokey", "a"],
        ["DEL", "a", "a", "nokey"], ["UNLINK", "b", "c", "b"], ["DEL"], ["EXISTS"],
        ["RANDOMKEY", "x"], ["KEYS", "*", "x"], ["TYPE"],
        Cmd(["KEYS", "*"], compare="unordered"),
        ["DEL", "z", "n", "n2"], ["RANDOMKEY"], ["KEYS", "*"],
        ["SCAN", "0"],
    ]
    assert_same_replies(server, redis_ref, script)


# --------------------------------------------------------------------------------------
# Commands from several clients at once

def test_concurrent_renames_and_deletes_stay_consistent(server):
    """Many clients renaming keys around a ring: at the end every value is held by exactly
    one key (RENAME is atomic, no value is duplicated or lost)."""
    setup = raw_connection(server)
    try:
        n = 20
        fill(setup, [b"r%d" % i for i in range(n)])
        for i in range(n):
            assert call(setup, "SET", b"r%d" % i, b"value%d" % i) == b"OK"
    finally:
        setup.disconnect()
    errors = []

    def worker(seed):
        c = raw_connection(server)
        rng = random.Random(seed)
        try:
            for _ in range(200):
                src = b"r%d" % rng.randrange(n)
                if rng.random() < 0.5:
                    dst = b"t%d" % rng.randrange(n)
                else:
                    dst = b"r%d" % rng.randrange(n)
                reply = call(c, "RENAMENX", src, dst)
                if reply not in (0, 1, err("ERR no such key")):
                    errors.append(reply)
                back = call(c, "RENAMENX", dst, src)
                if back not in (0, 1, err("ERR no such key")):
                    errors.append(back)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            c.disconnect()

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
    c = server.client()
    values = [c.get(k) for k in c.keys("*")]
    assert sorted(values) == sorted(b"value%d" % i for i in range(n))


def test_redis_py_client_api(server):
    """What a user of redis-py would call."""
    c = server.client()
    assert c.set("a", 1) and c.set("b", 2)
    assert c.exists("a", "b", "c") == 2
    assert c.type("a") == b"string"
    assert sorted(c.keys()) == [b"a", b"b"]
    assert sorted(c.scan_iter(count=1)) == [b"a", b"b"]
    assert sorted(c.scan_iter(match="a*")) == [b"a"]
    assert c.randomkey() in (b"a", b"b")
    assert c.rename("a", "c") is True
    assert c.renamenx("c", "b") is False
    assert c.copy("c", "d") is True
    assert c.delete("b", "c", "d") == 3
    with pytest.raises(redis.ResponseError, match="no such key"):
        c.rename("nokey", "x")
