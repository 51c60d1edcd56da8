# SPDX-License-Identifier: Apache-2.0
"""Sorted set commands end to end: every command and option, the error paths (syntax,
conflicting options, not-a-float, NaN, invalid ranges, wrong types), RESP2 and RESP3 reply
shapes, blocking pops (wake-up, timeout, fairness, MULTI, wrong type while blocked), ZSCAN
cursors, persistence across a restart, and big zsets (100k members here, 1M marked slow):
O(1) ZCARD and DEL, slices that cost the slice, not the zset.

Expected replies and error texts were recorded from redis-server 7.0.15 (ZRANK/ZREVRANK
WITHSCORE from Redis 7.2, which 7.0 lacks); test_zset_diff.py compares against a live
redis-server.
"""
import threading
import time

import pytest

from helpers.diff import ErrorReply, raw_connection, run_commands
from helpers.records import counted
from helpers.wait import timed, wait_for_value
from raw_resp import Error, RawConn, cmd


class Raw:
    """Commands on a raw connection: replies as redis-py parses them without response
    callbacks (bytes, int, list, None), errors as ErrorReply with their whole text."""

    def __init__(self, server):
        self.conn = raw_connection(server)

    def __call__(self, *args):
        return run_commands(self.conn, [list(args)])[0]

    def close(self):
        self.conn.disconnect()


@pytest.fixture
def r(server):
    raw = Raw(server)
    yield raw
    raw.close()


def E(text):
    return ErrorReply(text)


SYNTAX = E("ERR syntax error")
WRONGTYPE = E("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_FLOAT = E("ERR value is not a valid float")
NOT_INT = E("ERR value is not an integer or out of range")
MINMAX_FLOAT = E("ERR min or max is not a float")
MINMAX_LEX = E("ERR min or max not valid string range item")

# --------------------------------------------------------------------------------------
# ZADD / ZINCRBY


def test_zadd_options_and_replies(r):
    assert r("ZADD", "z", "1", "a", "2", "b") == 2
    assert r("ZADD", "z", "1", "a", "3", "c") == 1           # a unchanged, c new
    assert r("ZADD", "z", "CH", "5", "a", "3", "c", "4", "d") == 2  # a changed, d added
    assert r("ZADD", "z", "NX", "9", "a", "6", "e") == 1
    assert r("ZSCORE", "z", "a") == b"5"
    assert r("ZADD", "z", "XX", "CH", "9", "a", "7", "new") == 1
    assert r("ZSCORE", "z", "new") is None
    assert r("ZADD", "z", "GT", "CH", "1", "a", "10", "b") == 1  # only b grows
    assert r("ZADD", "z", "LT", "CH", "100", "a", "0", "c") == 1  # only c shrinks
    assert r("ZADD", "z", "GT", "XX", "CH", "11", "a", "1", "zz") == 1
    assert r("ZRANGE", "z", "0", "-1", "WITHSCORES") == [
        b"c", b"0", b"d", b"4", b"e", b"6", b"b", b"10", b"a", b"11"]
    # Pairs apply one after the other: 1 a then 2 a adds then updates.
    assert r("ZADD", "dup", "1", "m", "2", "m") == 1
    assert r("ZADD", "dup", "CH", "3", "m", "4", "m") == 2   # two updates
    assert r("ZSCORE", "dup", "m") == b"4"
    # Scores: inf, hex, exponents; -0 is stored as 0 (what Redis answers for small zsets).
    assert r("ZADD", "s", "inf", "i", "-inf", "j", "0x10", "h", "1e3", "k", "-0", "zero") == 5
    assert r("ZRANGE", "s", "0", "-1", "WITHSCORES") == [
        b"j", b"-inf", b"zero", b"0", b"h", b"16", b"k", b"1000", b"i", b"inf"]
    assert r("ZADD", "s", "1.1", "f") == 1
    assert r("ZSCORE", "s", "f") == b"1.1000000000000001"


def test_zadd_incr_and_zincrby(r):
    assert r("ZADD", "z", "INCR", "1.5", "a") == b"1.5"
    assert r("ZADD", "z", "INCR", "1", "a") == b"2.5"
    assert r("ZADD", "z", "INCR", "NX", "1", "a") is None
    assert r("ZADD", "z", "INCR", "XX", "1", "nosuch") is None
    assert r("ZADD", "z", "INCR", "GT", "-1", "a") is None
    assert r("ZADD", "z", "INCR", "LT", "-1", "a") == b"1.5"
    assert r("ZINCRBY", "z", "2", "a") == b"3.5"
    assert r("ZINCRBY", "z", "-0", "new") == b"-0"   # the reply keeps the sign ...
    assert r("ZSCORE", "z", "new") == b"0"           # ... the stored score is 0
    assert r("ZINCRBY", "z", "inf", "a") == b"inf"
    assert r("ZINCRBY", "z", "-inf", "a") == E("ERR resulting score is not a number (NaN)")
    assert r("ZSCORE", "z", "a") == b"inf"           # unchanged after the error
    assert r("ZINCRBY", "z", "abc", "a") == NOT_FLOAT
    assert r("ZINCRBY", "z", "nx", "a") == SYNTAX    # parsed as ZADD options, as Redis does
    assert r("ZADD", "nokey", "XX", "INCR", "1", "a") is None
    assert r("EXISTS", "nokey") == 0


def test_zadd_errors(r):
    assert r("ZADD", "z", "NX", "XX", "1", "a") == E(
        "ERR XX and NX options at the same time are not compatible")
    for opts in (["GT", "LT"], ["NX", "GT"], ["NX", "LT"]):
        assert r("ZADD", "z", *opts, "1", "a") == E(
            "ERR GT, LT, and/or NX options at the same time are not compatible")
    assert r("ZADD", "z", "INCR", "1", "a", "2", "b") == E(
        "ERR INCR option supports a single increment-element pair")
    assert r("ZADD", "z", "1", "a", "2") == SYNTAX
    assert r("ZADD", "z", "NX", "1") == SYNTAX
    assert r("ZADD", "z", "1") == E("ERR wrong number of arguments for 'zadd' command")
    for bad in ("nan", "abc", "", " 1", "1 ", "1e400", "1e-400"):
        assert r("ZADD", "z", "1", "ok", bad, "x") == NOT_FLOAT, bad
    assert r("EXISTS", "z") == 0  # nothing was added by the failing commands


# --------------------------------------------------------------------------------------
# Reads and ranges


@pytest.fixture
def z(r):
    r("ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d", "4.5", "e", "inf", "f", "-inf", "g")
    return r


def test_card_score_mscore_count(z):
    r = z
    assert r("ZCARD", "z") == 7
    assert r("ZCARD", "nosuch") == 0
    assert r("ZSCORE", "z", "e") == b"4.5"
    assert r("ZSCORE", "z", "f") == b"inf"
    assert r("ZSCORE", "z", "x") is None
    assert r("ZMSCORE", "z", "a", "x", "g") == [b"1", None, b"-inf"]
    assert r("ZMSCORE", "nosuch", "a") == [None]
    assert r("ZCOUNT", "z", "-inf", "+inf") == 7
    assert r("ZCOUNT", "z", "(1", "3") == 3
    assert r("ZCOUNT", "z", "(2", "(2") == 0
    assert r("ZCOUNT", "z", "(-inf", "(inf") == 5
    assert r("ZCOUNT", "z", "3", "1") == 0
    assert r("ZCOUNT", "z", "x", "1") == MINMAX_FLOAT
    assert r("ZCOUNT", "z", "nan", "1") == MINMAX_FLOAT
    assert r("ZCOUNT", "z", "(nan", "1") == MINMAX_FLOAT
    assert r("ZCOUNT", "z", "-", "+") == MINMAX_FLOAT


def test_rank_and_withscore(z):
    r = z
    assert r("ZRANK", "z", "g") == 0
    assert r("ZRANK", "z", "c") == 3
    assert r("ZREVRANK", "z", "c") == 3
    assert r("ZREVRANK", "z", "f") == 0
    assert r("ZRANK", "z", "x") is None
    assert r("ZRANK", "nosuch", "x") is None
    # Redis 7.2's WITHSCORE.
    assert r("ZRANK", "z", "e", "WITHSCORE") == [5, b"4.5"]
    assert r("ZREVRANK", "z", "e", "withscore") == [1, b"4.5"]
    assert r("ZRANK", "z", "x", "WITHSCORE") is None
    assert r("ZRANK", "z", "e", "FOO") == SYNTAX
    assert r("ZRANK", "z", "e", "WITHSCORE", "x") == E(
        "ERR wrong number of arguments for 'zrank' command")


def test_ranges_by_rank(z):
    r = z
    assert r("ZRANGE", "z", "0", "-1") == [b"g", b"a", b"b", b"c", b"d", b"e", b"f"]
    assert r("ZRANGE", "z", "-2", "-1", "WITHSCORES") == [b"e", b"4.5", b"f", b"inf"]
    assert r("ZRANGE", "z", "1", "2", "REV") == [b"e", b"d"]
    assert r("ZREVRANGE", "z", "0", "1", "WITHSCORES") == [b"f", b"inf", b"e", b"4.5"]
    assert r("ZRANGE", "z", "-100", "1") == [b"g", b"a"]
    assert r("ZRANGE", "z", "5", "100") == [b"e", b"f"]
    assert r("ZRANGE", "z", "3", "2") == []
    assert r("ZRANGE", "z", "7", "10") == []
    assert r("ZRANGE", "nosuch", "0", "-1") == []
    assert r("ZRANGE", "z", "x", "1") == NOT_INT
    assert r("ZRANGE", "z", "0", "1", "LIMIT", "0", "1") == E(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    assert r("ZRANGE", "z", "0", "1", "REV", "REV") == SYNTAX
    assert r("ZRANGE", "z", "0", "1", "FOO") == SYNTAX
    assert r("ZREVRANGE", "z", "0", "1", "REV") == SYNTAX


def test_ranges_by_score(z):
    r = z
    assert r("ZRANGEBYSCORE", "z", "(1", "3") == [b"b", b"c", b"d"]
    assert r("ZRANGEBYSCORE", "z", "-inf", "(2", "WITHSCORES") == [b"g", b"-inf", b"a", b"1"]
    assert r("ZRANGEBYSCORE", "z", "2", "+inf", "LIMIT", "1", "2") == [b"c", b"d"]
    assert r("ZRANGEBYSCORE", "z", "2", "+inf", "LIMIT", "1", "-1") == [b"c", b"d", b"e", b"f"]
    assert r("ZRANGEBYSCORE", "z", "2", "+inf", "LIMIT", "-1", "2") == []
    assert r("ZRANGEBYSCORE", "z", "2", "+inf", "LIMIT", "0", "0") == []
    assert r("ZREVRANGEBYSCORE", "z", "(4.5", "2", "WITHSCORES") == [
        b"d", b"3", b"c", b"2", b"b", b"2"]
    assert r("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "1") == [b"e"]
    assert r("ZRANGE", "z", "(1", "(4.5", "BYSCORE", "REV") == []          # reversed bounds
    assert r("ZRANGE", "z", "(4.5", "(1", "BYSCORE", "REV", "WITHSCORES") == [
        b"d", b"3", b"c", b"2", b"b", b"2"]
    assert r("ZRANGE", "z", "2", "2", "BYSCORE") == [b"b", b"c"]
    assert r("ZRANGE", "z", "(2", "2", "BYSCORE") == []
    assert r("ZRANGEBYSCORE", "z", "(", "(3") == [b"a", b"b", b"c"]  # "(" alone is (0
    assert r("ZRANGEBYSCORE", "z", "x", "1") == MINMAX_FLOAT
    assert r("ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "1") == SYNTAX
    assert r("ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "a", "1") == NOT_INT
    assert r("ZRANGEBYSCORE", "z", "1", "2", "BYSCORE") == SYNTAX


def test_ranges_by_lex(r):
    r("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "aa")
    assert r("ZRANGEBYLEX", "l", "-", "+") == [b"a", b"aa", b"b", b"c", b"d", b"e"]
    assert r("ZRANGEBYLEX", "l", "(a", "[c") == [b"aa", b"b", b"c"]
    assert r("ZRANGEBYLEX", "l", "[aa", "(c", "LIMIT", "1", "5") == [b"b"]
    assert r("ZREVRANGEBYLEX", "l", "+", "(c") == [b"e", b"d"]
    assert r("ZRANGE", "l", "[d", "-", "BYLEX", "REV", "LIMIT", "0", "2") == [b"d", b"c"]
    assert r("ZRANGEBYLEX", "l", "+", "-") == []
    assert r("ZRANGEBYLEX", "l", "(a", "(a") == []
    assert r("ZLEXCOUNT", "l", "[b", "+") == 4
    assert r("ZLEXCOUNT", "nosuch", "-", "+") == 0
    for bad in ("a", "", "+x"):
        assert r("ZRANGEBYLEX", "l", bad, "+") == MINMAX_LEX
        assert r("ZLEXCOUNT", "l", "-", bad) == MINMAX_LEX
    assert r("ZRANGEBYLEX", "l", "-", "+", "WITHSCORES") == E(
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    assert r("ZREMRANGEBYLEX", "l", "[aa", "[c") == 3
    assert r("ZRANGE", "l", "0", "-1") == [b"a", b"d", b"e"]


def test_zrangestore(z):
    r = z
    r("SET", "dst", "string")
    assert r("ZRANGESTORE", "dst", "z", "1", "2") == 2
    assert r("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"a", b"1", b"b", b"2"]
    assert r("ZRANGESTORE", "dst", "z", "(2", "+inf", "BYSCORE", "LIMIT", "1", "2") == 2
    assert r("ZRANGE", "dst", "0", "-1") == [b"e", b"f"]
    assert r("ZRANGESTORE", "dst", "z", "+inf", "(3", "BYSCORE", "REV") == 2
    assert r("ZRANGE", "dst", "0", "-1") == [b"e", b"f"]
    assert r("ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES") == SYNTAX
    assert r("ZRANGESTORE", "dst", "z", "5", "1") == 0
    assert r("EXISTS", "dst") == 0                       # an empty result deletes dst
    r("SET", "str", "v")
    assert r("ZRANGESTORE", "dst", "str", "0", "-1") == WRONGTYPE
    assert r("ZRANGESTORE", "z", "z", "0", "0") == 1     # src == dst
    assert r("ZRANGE", "z", "0", "-1") == [b"g"]


# --------------------------------------------------------------------------------------
# Removal and pops


def test_removals_delete_emptied_keys(z):
    r = z
    assert r("ZREM", "z", "a", "a", "x") == 1
    assert r("ZREM", "nosuch", "a") == 0
    assert r("ZREMRANGEBYRANK", "z", "0", "0") == 1        # g
    assert r("ZREMRANGEBYRANK", "z", "-1", "-1") == 1      # f
    assert r("ZREMRANGEBYRANK", "z", "5", "1") == 0
    assert r("ZREMRANGEBYRANK", "z", "x", "1") == NOT_INT
    assert r("ZREMRANGEBYSCORE", "z", "(2", "+inf") == 2   # d, e
    assert r("ZREMRANGEBYSCORE", "z", "x", "1") == MINMAX_FLOAT
    assert r("ZREMRANGEBYLEX", "z", "x", "+") == MINMAX_LEX
    assert r("ZRANGE", "z", "0", "-1") == [b"b", b"c"]
    assert r("ZREMRANGEBYSCORE", "z", "-inf", "+inf") == 2
    assert r("EXISTS", "z") == 0
    assert r("TYPE", "z") == b"none"


def test_pops(z):
    r = z
    assert r("ZPOPMIN", "z") == [b"g", b"-inf"]
    assert r("ZPOPMAX", "z", "2") == [b"f", b"inf", b"e", b"4.5"]
    assert r("ZPOPMIN", "z", "0") == []
    assert r("ZPOPMIN", "z", "-1") == E("ERR value is out of range, must be positive")
    assert r("ZPOPMIN", "z", "x") == E("ERR value is out of range, must be positive")
    assert r("ZPOPMIN", "z", "1", "2") == SYNTAX
    assert r("ZPOPMIN", "nosuch") == []
    assert r("ZMPOP", "2", "nosuch", "z", "MIN", "COUNT", "2") == [
        b"z", [[b"a", b"1"], [b"b", b"2"]]]
    assert r("ZMPOP", "1", "z", "MAX") == [b"z", [[b"d", b"3"]]]
    assert r("ZMPOP", "1", "nosuch", "MAX") is None
    assert r("ZMPOP", "0", "z", "MIN") == E("ERR numkeys should be greater than 0")
    assert r("ZMPOP", "x", "z", "MIN") == E("ERR numkeys should be greater than 0")
    assert r("ZMPOP", "2", "z", "MIN") == SYNTAX
    assert r("ZMPOP", "1", "z", "MIDDLE") == SYNTAX
    assert r("ZMPOP", "1", "z", "MIN", "COUNT", "0") == E("ERR count should be greater than 0")
    assert r("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1") == SYNTAX
    assert r("ZPOPMAX", "z", "100") == [b"c", b"2"]
    assert r("EXISTS", "z") == 0


# --------------------------------------------------------------------------------------
# Blocking pops


@pytest.fixture
def srv(server_factory):
    return server_factory(workers=4, resp3_enabled=True)


def blocked(server):
    return server.info_field("blocked_clients", "clients")


def block(server, *args):
    """A connection that sent a blocking command and is counted blocked."""
    conn = RawConn(server.port)
    before = blocked(server)
    conn.send(cmd(*args))
    wait_for_value(lambda: blocked(server), before + 1, timeout=10, msg="blocked_clients")
    return conn


def test_bzpop_serves_at_once_when_possible(srv):
    c = srv.client()
    c.zadd("b", {"x": 1, "y": 2})
    with RawConn(srv.port) as conn:
        assert conn.call("BZPOPMIN", "nosuch", "b", "0") == [b"b", b"x", b"1"]
        assert conn.call("BZPOPMAX", "b", "0") == [b"b", b"y", b"2"]
        c.zadd("m", {"p": 1, "q": 2, "r": 3})
        assert conn.call("BZMPOP", "0", "2", "nosuch", "m", "MAX", "COUNT", "2") == [
            b"m", [[b"r", b"3"], [b"q", b"2"]]]
        assert conn.call("BZPOPMIN", "b", "x") == Error(
            "ERR timeout is not a float or out of range")
        assert conn.call("BZPOPMIN", "b", "-1") == Error("ERR timeout is negative")
        assert conn.call("BZMPOP", "0", "0", "m", "MIN") == Error(
            "ERR numkeys should be greater than 0")
        c.set("str", "v")
        assert conn.call("BZPOPMIN", "str", "0").startswith("WRONGTYPE")


def test_bzpop_wakes_on_zadd_and_times_out(srv):
    c = srv.client()
    waiter = block(srv, "BZPOPMIN", "k1", "k2", "0")
    assert c.zadd("k2", {"m": 5}) == 1
    assert waiter.read() == [b"k2", b"m", b"5"]
    waiter.close()
    assert c.exists("k2") == 0
    mp = block(srv, "BZMPOP", "0", "1", "k3", "MIN", "COUNT", "5")
    c.zadd("k3", {"a": 1, "b": 2})
    assert mp.read() == [b"k3", [[b"a", b"1"], [b"b", b"2"]]]
    mp.close()
    with RawConn(srv.port) as conn:
        reply, elapsed = timed(conn.call, "BZPOPMAX", "none", "0.2")
        assert reply is None
        assert 0.15 <= elapsed < 5
        conn.send(cmd("BZMPOP", "0.1", "1", "none", "MIN"))
        assert conn.read_raw() == b"*-1\r\n"
        conn.call("HELLO", "3")
        conn.send(cmd("BZPOPMIN", "none", "0.1"))
        assert conn.read_raw() == b"_\r\n"


def test_bzpop_first_blocked_is_served_first(srv):
    c = srv.client()
    first = block(srv, "BZPOPMIN", "q", "0")
    second = block(srv, "BZPOPMIN", "q", "0")
    c.zadd("q", {"one": 1})
    assert first.read() == [b"q", b"one", b"1"]
    c.zadd("q", {"two": 2})
    assert second.read() == [b"q", b"two", b"2"]
    first.close()
    second.close()


def test_bzpop_keeps_waiting_on_wrong_type_and_not_in_multi(srv):
    c = srv.client()
    waiter = block(srv, "BZPOPMIN", "w", "0")
    c.set("w", "string")                   # a touch with the wrong type: still blocked
    assert waiter.is_open(0.2)
    assert blocked(srv) == 1
    c.delete("w")
    c.zadd("w", {"m": 1})
    assert waiter.read() == [b"w", b"m", b"1"]
    waiter.close()
    with RawConn(srv.port) as conn:
        assert conn.call("MULTI") == "OK"
        assert conn.call("BZPOPMIN", "empty", "0") == "QUEUED"
        assert conn.call("BZMPOP", "0", "1", "empty", "MIN") == "QUEUED"
        assert conn.call("EXEC") == [None, None]


def test_many_consumers_lose_nothing(srv):
    c = srv.client()
    n_consumers, per = 6, 20
    got = []
    lock = threading.Lock()

    def consume():
        with RawConn(srv.port, timeout=30) as conn:
            for _ in range(per):
                reply = conn.call("BZPOPMIN", "work", "10")
                with lock:
                    got.append(reply[1])

    threads = [threading.Thread(target=consume) for _ in range(n_consumers)]
    for t in threads:
        t.start()
    for i in range(n_consumers * per):
        c.zadd("work", {"item%d" % i: i})
    for t in threads:
        t.join(60)
    assert sorted(got) == sorted(b"item%d" % i for i in range(n_consumers * per))


# --------------------------------------------------------------------------------------
# ZRANDMEMBER


def test_zrandmember(r):
    members = {b"m%d" % i: float(i) for i in range(10)}
    r("ZADD", "z", *[x for m, s in members.items() for x in (str(s), m)])
    assert r("ZRANDMEMBER", "z") in members
    assert r("ZRANDMEMBER", "nosuch") is None
    picks = r("ZRANDMEMBER", "z", "5")
    assert len(picks) == 5 and len(set(picks)) == 5 and set(picks) <= set(members)
    assert sorted(r("ZRANDMEMBER", "z", "50")) == sorted(members)
    reps = r("ZRANDMEMBER", "z", "-30")
    assert len(reps) == 30 and set(reps) <= set(members)
    flat = r("ZRANDMEMBER", "z", "-7", "WITHSCORES")
    assert len(flat) == 14
    for m, s in zip(flat[0::2], flat[1::2]):
        assert float(s) == members[m]
    assert r("ZRANDMEMBER", "z", "0") == []
    assert r("ZRANDMEMBER", "nosuch", "3") == []
    assert r("ZRANDMEMBER", "z", "x") == NOT_INT
    assert r("ZRANDMEMBER", "z", "1", "FOO") == SYNTAX
    assert r("ZRANDMEMBER", "z", "-9223372036854775808") == E(
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert r("ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES") == E(
        "ERR value is out of range")


# --------------------------------------------------------------------------------------
# Combinations


def test_union_inter_diff(r):
    r("ZADD", "x", "1", "a", "2", "b", "3", "c")
    r("ZADD", "y", "1", "b", "2", "c", "3", "d")
    r("SADD", "s", "a", "d", "e")
    assert r("ZUNION", "2", "x", "y", "WITHSCORES") == [
        b"a", b"1", b"b", b"3", b"d", b"3", b"c", b"5"]
    assert r("ZUNION", "3", "x", "y", "s", "WITHSCORES") == [
        b"e", b"1", b"a", b"2", b"b", b"3", b"d", b"4", b"c", b"5"]
    assert r("ZINTER", "2", "x", "y", "WEIGHTS", "2", "3", "AGGREGATE", "MAX",
             "WITHSCORES") == [b"b", b"4", b"c", b"6"]
    assert r("ZINTER", "2", "x", "y", "AGGREGATE", "min") == [b"b", b"c"]
    assert r("ZDIFF", "2", "x", "y", "WITHSCORES") == [b"a", b"1"]
    assert r("ZDIFF", "2", "s", "x") == [b"d", b"e"]
    assert r("ZUNION", "1", "x", "WEIGHTS", "-1", "WITHSCORES") == [
        b"c", b"-3", b"b", b"-2", b"a", b"-1"]
    assert r("ZINTER", "2", "x", "y", "WEIGHTS", "inf", "-inf", "WITHSCORES") == [
        b"b", b"0", b"c", b"0"]                      # inf + -inf sums to 0
    assert r("ZINTERCARD", "2", "x", "y") == 2
    assert r("ZINTERCARD", "2", "x", "y", "LIMIT", "1") == 1
    assert r("ZINTERCARD", "3", "x", "y", "nosuch") == 0
    assert r("ZUNIONSTORE", "d", "2", "x", "y", "WEIGHTS", "1", "2") == 4
    assert r("ZRANGE", "d", "0", "-1", "WITHSCORES") == [
        b"a", b"1", b"b", b"4", b"d", b"6", b"c", b"7"]
    assert r("ZINTERSTORE", "d", "2", "x", "y") == 2
    assert r("ZDIFFSTORE", "d", "2", "x", "x") == 0
    assert r("EXISTS", "d") == 0
    assert r("ZUNIONSTORE", "x", "2", "x", "y") == 4        # a source as destination
    assert r("ZSCORE", "x", "c") == b"5"


def test_combination_errors(r):
    r("ZADD", "x", "1", "a")
    r("SET", "str", "v")
    assert r("ZUNION", "0", "x") == E("ERR at least 1 input key is needed for 'zunion' command")
    assert r("ZINTERSTORE", "d", "-1", "x") == E(
        "ERR at least 1 input key is needed for 'zinterstore' command")
    assert r("ZINTERCARD", "0", "x") == E(
        "ERR at least 1 input key is needed for 'zintercard' command")
    assert r("ZUNION", "a", "x") == NOT_INT
    assert r("ZUNION", "2", "x") == SYNTAX
    assert r("ZUNION", "1", "x", "WEIGHTS") == SYNTAX
    assert r("ZUNION", "1", "x", "WEIGHTS", "nan") == E("ERR weight value is not a float")
    assert r("ZUNION", "1", "x", "AGGREGATE", "AVG") == SYNTAX
    assert r("ZUNIONSTORE", "d", "1", "x", "WITHSCORES") == SYNTAX
    assert r("ZDIFF", "1", "x", "WEIGHTS", "1") == SYNTAX
    assert r("ZINTERCARD", "1", "x", "LIMIT", "-1") == E("ERR LIMIT can't be negative")
    assert r("ZINTERCARD", "1", "x", "WITHSCORES") == SYNTAX
    # The type is checked before the options are read.
    assert r("ZUNION", "2", "x", "str", "BAD") == WRONGTYPE
    assert r("ZUNIONSTORE", "d", "1", "str") == WRONGTYPE
    assert r("EXISTS", "d") == 0


# --------------------------------------------------------------------------------------
# Wrong types, ZSCAN, expiry, persistence, RESP3


def test_wrong_type_everywhere(r):
    r("SET", "s", "v")
    for args in (["ZADD", "s", "1", "a"], ["ZINCRBY", "s", "1", "a"], ["ZCARD", "s"],
                 ["ZSCORE", "s", "a"], ["ZMSCORE", "s", "a"], ["ZRANK", "s", "a"],
                 ["ZCOUNT", "s", "0", "1"], ["ZLEXCOUNT", "s", "-", "+"],
                 ["ZRANGE", "s", "0", "1"], ["ZRANGEBYSCORE", "s", "0", "1"],
                 ["ZRANGEBYLEX", "s", "-", "+"], ["ZREM", "s", "a"],
                 ["ZREMRANGEBYRANK", "s", "0", "1"], ["ZREMRANGEBYSCORE", "s", "0", "1"],
                 ["ZREMRANGEBYLEX", "s", "-", "+"], ["ZPOPMIN", "s"], ["ZPOPMAX", "s", "-1"],
                 ["ZMPOP", "1", "s", "MIN"], ["ZRANDMEMBER", "s"], ["ZRANDMEMBER", "s", "1"],
                 ["ZSCAN", "s", "0"], ["ZINTERCARD", "1", "s"], ["ZDIFF", "1", "s"]):
        want = WRONGTYPE
        if args[0] == "ZPOPMAX":
            want = E("ERR value is out of range, must be positive")  # parsed before lookup
        assert r(*args) == want, args
    assert r("GET", "s") == b"v"
    r("ZADD", "z", "1", "a")
    assert r("GET", "z") == WRONGTYPE
    assert r("TYPE", "z") == b"zset"


def test_zscan_iterates_everything(r):
    for base in range(0, 1000, 250):
        args = []
        for i in range(base, base + 250):
            args += [str(i), "m%04d" % i]
        r("ZADD", "big", *args)
    seen = {}
    cursor = b"0"
    calls = 0
    while True:
        cursor, items = r("ZSCAN", "big", cursor, "COUNT", "100")
        calls += 1
        for m, s in zip(items[0::2], items[1::2]):
            assert m not in seen
            seen[m] = s
        if cursor == b"0":
            break
    assert len(seen) == 1000 and calls >= 10
    assert seen[b"m0123"] == b"123"
    cursor, items = r("ZSCAN", "big", "0", "MATCH", "m000*", "COUNT", "5000")
    assert cursor == b"0"
    assert sorted(items[0::2]) == [b"m%04d" % i for i in range(10)]
    r("ZADD", "f", "1.5", "a", "1e17", "b", "-inf", "c")
    cursor, items = r("ZSCAN", "f", "0")
    assert dict(zip(items[0::2], items[1::2])) == {
        b"a": b"1.5", b"b": b"100000000000000000", b"c": b"-inf"}
    assert r("ZSCAN", "nosuch", "0", "COUNT", "0") == [b"0", []]
    assert r("ZSCAN", "f", "0", "COUNT", "0") == SYNTAX
    assert r("ZSCAN", "f", "x") == E("ERR invalid cursor")


def test_expiry_and_restart(server):
    c = server.client()
    c.zadd("keep", {"a": 1.5, "b": -2})
    c.zadd("gone", {"a": 1})
    assert c.pexpire("gone", 100)
    wait_for_value(lambda: c.exists("gone"), 0, timeout=5, msg="zset expired")
    assert c.zadd("gone", {"new": 1}) == 1        # re-created empty, not resurrected
    assert c.zrange("gone", 0, -1) == [b"new"]
    server.restart()
    c = server.client()
    assert c.zrange("keep", 0, -1, withscores=True) == [(b"b", -2.0), (b"a", 1.5)]
    assert c.zcard("gone") == 1


def test_resp3_shapes(server_factory):
    s = server_factory(resp3_enabled=True)
    with RawConn(s.port) as c:
        c.call("HELLO", "3")
        script = [
            (["ZADD", "z", "1", "a", "2.5", "b"], b":2\r\n"),
            (["ZSCORE", "z", "b"], b",2.5\r\n"),
            (["ZSCORE", "z", "x"], b"_\r\n"),
            (["ZADD", "z", "INCR", "1", "a"], b",2\r\n"),
            (["ZADD", "z", "NX", "INCR", "1", "a"], b"_\r\n"),
            (["ZMSCORE", "z", "a", "x"], b"*2\r\n,2\r\n_\r\n"),
            (["ZRANGE", "z", "0", "-1", "WITHSCORES"],
             b"*2\r\n*2\r\n$1\r\na\r\n,2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"),
            (["ZUNION", "1", "z", "WITHSCORES"],
             b"*2\r\n*2\r\n$1\r\na\r\n,2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"),
            (["ZRANK", "z", "b", "WITHSCORE"], b"*2\r\n:1\r\n,2.5\r\n"),
            (["ZSCAN", "z", "0"], b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n"
                                  b"$3\r\n2.5\r\n"),
            (["ZPOPMIN", "z"], b"*2\r\n$1\r\na\r\n,2\r\n"),
            (["ZADD", "z", "inf", "i"], b":1\r\n"),
            (["ZPOPMAX", "z", "1"], b"*1\r\n*2\r\n$1\r\ni\r\n,inf\r\n"),
            (["ZMPOP", "1", "z", "MIN"], b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"),
            (["ZMPOP", "1", "z", "MIN"], b"_\r\n"),
            (["ZRANDMEMBER", "z"], b"_\r\n"),
            (["ZPOPMIN", "z"], b"*0\r\n"),
        ]
        for args, want in script:
            c.send(cmd(*args))
            assert c.read_raw() == want, args


def test_command_table_rows(server):
    info = server.client().execute_command("COMMAND", "INFO", "zadd", "zrange", "zunionstore",
                                           "bzpopmin", "zintercard", "zrangestore")
    assert info["zadd"]["arity"] == -4 and "write" in info["zadd"]["flags"]
    assert info["zrange"]["arity"] == -4 and "readonly" in info["zrange"]["flags"]
    assert "movablekeys" in info["zunionstore"]["flags"]
    assert "blocking" in info["bzpopmin"]["flags"]
    assert (info["bzpopmin"]["first_key_pos"], info["bzpopmin"]["last_key_pos"]) == (1, -2)
    assert "movablekeys" in info["zintercard"]["flags"]
    assert (info["zrangestore"]["first_key_pos"], info["zrangestore"]["last_key_pos"]) == (1, 2)


# --------------------------------------------------------------------------------------
# Big zsets


def _fill(c, key, n, chunk=2000):
    pipe = c.pipeline(transaction=False)
    for base in range(0, n, chunk):
        pipe.zadd(key, {"member:%07d" % i: i for i in range(base, min(n, base + chunk))})
        if (base // chunk) % 20 == 19:
            pipe.execute()
    pipe.execute()


def _big_checks(server, n):
    """Reads of a slice cost the slice: counted in records read (helpers/records.py), not
    timed, so the checks hold on a loaded machine. A slice may read 2 records beyond itself
    (the seek, and the step past its end)."""
    c = server.client()
    _fill(c, "big", n)
    assert c.zcard("big") == n
    # The counters see a walk of the whole key (so the bounds below can fail).
    assert c.zcount("big", "(0", "+inf") == n - 1
    _, cost = counted(server, lambda: c.zrangebyscore("big", "-inf", "+inf", start=0, num=n))
    assert cost.read() >= n, cost
    mid = n // 2
    # A slice by score, by rank at the high end, and a rank near the end cost the slice only.
    result, cost = counted(server, lambda: c.zrangebyscore("big", mid, mid + 9, withscores=True))
    assert result == [(b"member:%07d" % i, float(i)) for i in range(mid, mid + 10)]
    assert 10 <= cost.read() <= 10 + 2, cost
    result, cost = counted(server, lambda: c.zrange("big", -3, -1))
    assert result == [b"member:%07d" % i for i in range(n - 3, n)]
    assert 3 <= cost.read() <= 3 + 2, cost
    result, cost = counted(server, lambda: c.zrevrangebyscore("big", "+inf", "-inf", start=0,
                                                               num=5))
    assert result == [b"member:%07d" % i for i in range(n - 1, n - 6, -1)]
    assert 5 <= cost.read() <= 5 + 2, cost
    result, cost = counted(server, lambda: c.zrevrank("big", "member:%07d" % (n - 2)))
    assert result == 1
    assert cost.read() <= 1 + 2 + 2, cost  # the member's score, then ranks 0..1 from the top
    assert c.zscore("big", "member:%07d" % mid) == mid
    result, cost = counted(server, lambda: c.zpopmin("big", 2))
    assert result == [(b"member:0000000", 0.0), (b"member:0000001", 1.0)]
    assert cost.read() <= 2 + 2, cost
    assert c.zcard("big") == n - 2
    # DEL is O(1): one metadata record deleted, no member read or written.
    deleted, cost = counted(server, lambda: c.delete("big"))
    assert deleted == 1
    assert cost.read() == 0 and cost.written() == 0 and cost.written("metadata") == 1, cost
    assert c.exists("big") == 0


def test_big_zset_100k(server):
    _big_checks(server, 100_000)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_big_zset_1m(server):
    _big_checks(server, 1_000_000)
