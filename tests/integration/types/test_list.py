# SPDX-License-Identifier: Apache-2.0
"""List commands end to end: a seeded random command stream (valid and malformed: wrong
arity, bad numbers, bad options, wrong types) compared reply by reply with redis-server 7.0 in
RESP2 and in RESP3 (raw bytes), error texts recorded from redis-server 7.0.15, persistence
across a restart, and big lists (100k elements here, 1M in the slow variant): LLEN is O(1),
LRANGE of a slice and LINDEX do not walk the list, DEL is instant.

Blocking commands are in test_blocking.py.
"""
import random

import pytest

from helpers.diff import ErrorReply, diff_replies, format_mismatches, raw_connection, run_commands
from helpers.records import counted
from helpers.wait import wait_until
from raw_resp import RawConn, cmd

KEYS = ["l0", "l1", "l2", b"l\x00bin", "str"]
VALUES = ["a", "b", "c", "", "1", "-1", b"\x00\xff", "a" * 40]


class Gen:
    """Random list commands from one seed."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def key(self):
        return self.rng.choice(KEYS)

    def list_key(self):
        return self.rng.choice(KEYS[:4])

    def value(self):
        return self.rng.choice(VALUES)

    def int_arg(self, lo=-6, hi=6):
        rng = self.rng
        if rng.random() < 0.85:
            return str(rng.randint(lo, hi))
        return rng.choice(["9223372036854775807", "-9223372036854775808", "9223372036854775808",
                           "x", "", "1.5", " 1", "0x1"])

    def side(self):
        return self.rng.choice(["LEFT", "RIGHT", "left", "Right", "up"]
                               if self.rng.random() < 0.1 else ["LEFT", "RIGHT", "left", "right"])

    def lpos_opts(self):
        rng = self.rng
        opts = []
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            name = rng.choice(["RANK", "COUNT", "MAXLEN", "rank", "FOO"])
            if rng.random() < 0.1:
                opts.append(name)  # missing value
                continue
            if name.upper() == "RANK":
                value = rng.choice(["1", "2", "-1", "-2", "3", "0", "-9223372036854775808",
                                    "9223372036854775807", "x"])
            else:
                value = rng.choice(["0", "1", "2", "5", "-1", "x", "9223372036854775807"])
            opts += [name, value]
        return opts

    def mpop(self, blocking):
        rng = self.rng
        keys = [self.key() for _ in range(rng.randint(1, 3))]
        numkeys = str(len(keys))
        if rng.random() < 0.1:
            numkeys = rng.choice(["0", "-1", "x", str(len(keys) + 1), "2147483648"])
        args = (["BLMPOP", rng.choice(["0.01", "0.01", "-1", "x"])] if blocking
                else ["LMPOP"]) + [numkeys] + keys + [self.side()]
        if rng.random() < 0.5:
            args += [rng.choice(["COUNT", "count"]), rng.choice(["1", "2", "10", "0", "-1", "x"])]
        if rng.random() < 0.05:
            args.append(rng.choice(["COUNT", "FOO"]))
        return args

    def command(self):
        rng = self.rng
        k, v = self.key, self.value
        choice = rng.randrange(30)
        if choice < 6:
            name = rng.choice(["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"])
            return [name, k()] + [v() for _ in range(rng.randint(1, 4))]
        if choice < 9:
            name = rng.choice(["LPOP", "RPOP"])
            r = rng.random()
            if r < 0.5:
                return [name, k()]
            if r < 0.95:
                return [name, k(), rng.choice(["0", "1", "2", "5", "-1", "x", "1.5",
                                               "9223372036854775807", "9223372036854775808"])]
            return [name, k(), "1", "2"]
        if choice == 9:
            return ["LLEN", k()]
        if choice == 10:
            return ["LINDEX", k(), self.int_arg()]
        if choice in (11, 12):
            return ["LRANGE", k(), self.int_arg(), self.int_arg(-10, 10)]
        if choice == 13:
            return ["LSET", k(), self.int_arg(), v()]
        if choice == 14:
            return ["LINSERT", k(), rng.choice(["BEFORE", "AFTER", "after", "middle"]), v(), v()]
        if choice == 15:
            return ["LREM", k(), self.int_arg(-3, 3), v()]
        if choice == 16:
            return ["LTRIM", k(), self.int_arg(-3, 3), self.int_arg(-8, 8)]
        if choice in (17, 18):
            return ["LPOS", k(), v()] + self.lpos_opts()
        if choice == 19:
            return ["LMOVE", k(), k(), self.side(), self.side()]
        if choice == 20:
            return ["RPOPLPUSH", k(), k()]
        if choice == 21:
            return self.mpop(False)
        if choice == 22:
            # Blocking forms on keys that may be empty: the tiny timeout expires the same way on
            # both servers; nothing else writes meanwhile.
            name = rng.choice(["BLPOP", "BRPOP"])
            return [name] + [k() for _ in range(rng.randint(1, 3))] + [
                rng.choice(["0.01", "0.01", "-1", "x", "0.001"])]
        if choice == 23:
            return rng.choice([
                ["BLMOVE", k(), k(), self.side(), self.side(), rng.choice(["0.01", "-1", "x"])],
                ["BRPOPLPUSH", k(), k(), rng.choice(["0.01", "-1"])],
                self.mpop(True),
            ])
        if choice == 24:
            return ["SET", "str", v()]
        if choice == 25:
            return ["DEL"] + [k() for _ in range(rng.randint(1, 2))]
        if choice == 26:
            return [rng.choice(["EXISTS", "TYPE"]), k()]
        if choice == 27:
            base = rng.choice([["LLEN", k()], ["LINDEX", k(), "0"], ["LSET", k(), "0", "x"],
                               ["LRANGE", k(), "0", "1"], ["LINSERT", k(), "BEFORE", "a", "b"],
                               ["LREM", k(), "0", "a"], ["LTRIM", k(), "0", "1"],
                               ["LMOVE", k(), k(), "LEFT", "LEFT"], ["RPOPLPUSH", k(), k()],
                               ["BLMOVE", k(), k(), "LEFT", "LEFT", "0.01"],
                               ["BRPOPLPUSH", k(), k(), "0.01"]])
            return base[:-1] if rng.random() < 0.5 else base + ["extra"]
        if choice == 28:
            return [rng.choice(["LPUSH", "RPUSH", "LPOP", "LPOS", "LMPOP", "BLPOP", "BLMPOP"])]
        return ["LRANGE", self.list_key(), "0", "-1"]

    def commands(self, n):
        return [self.command() for _ in range(n)]


@pytest.mark.needs_redis
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_list_commands_match_redis(server, redis_ref, seed):
    commands = Gen(seed).commands(1200)
    mismatches = diff_replies(server, redis_ref, commands, errors="exact")
    assert not mismatches, format_mismatches(mismatches)
    final = [["LRANGE", key, "0", "-1"] for key in KEYS[:4]] + [["TYPE", "str"]]
    mismatches = diff_replies(server, redis_ref, final)
    assert not mismatches, format_mismatches(mismatches)


@pytest.mark.needs_redis
def test_list_commands_match_redis_in_resp3(server_factory, redis_ref):
    server = server_factory({"resp3-enabled": "yes"})
    commands = Gen(7).commands(800)
    a, b = RawConn(server.port), RawConn(redis_ref.port)
    try:
        for conn in (a, b):
            hello = conn.call("HELLO", "3")
            assert isinstance(hello, list), hello
        diffs = []
        for args in commands:
            a.send(cmd(*args))
            b.send(cmd(*args))
            ra, rb = a.read_raw(), b.read_raw()
            if ra != rb:
                diffs.append((args, ra, rb))
        assert not diffs, "\n".join("%r\n    kvrocks: %r\n    redis:   %r" % d
                                    for d in diffs[:20])
    finally:
        a.close()
        b.close()


class Raw:
    """Commands on a raw connection: bytes/int/list/None replies, errors as ErrorReply."""

    def __init__(self, server):
        self.conn = raw_connection(server)

    def __call__(self, *args):
        return run_commands(self.conn, [list(args)])[0]

    def close(self):
        self.conn.disconnect()


def test_error_texts_and_edge_cases(server):
    """Replies recorded from redis-server 7.0.15 (so they hold without a live reference)."""
    r = Raw(server)
    try:
        assert r("RPUSH", "l", "a", "b", "c", "a") == 4
        assert r("LPOP", "l", "0") == []
        assert r("LPOP", "nokey", "0") is None
        assert r("LPOP", "l", "-1") == ErrorReply("ERR value is out of range, must be positive")
        assert r("LPOP", "l", "x") == ErrorReply("ERR value is out of range, must be positive")
        assert r("LPOP", "l", "1", "2") == ErrorReply(
            "ERR wrong number of arguments for 'lpop' command")
        assert r("LPOS", "l", "a", "RANK", "0") == ErrorReply(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list")
        assert r("LPOS", "l", "a", "COUNT", "-1") == ErrorReply("ERR COUNT can't be negative")
        assert r("LPOS", "l", "a", "MAXLEN", "x") == ErrorReply("ERR MAXLEN can't be negative")
        assert r("LPOS", "l", "a", "COUNT") == ErrorReply("ERR syntax error")
        assert r("LPOS", "l", "a", "RANK", "-1", "COUNT", "0") == [3, 0]
        assert r("LPOS", "l", "a", "RANK", "-9223372036854775808", "COUNT", "0") == [3, 0]
        assert r("LPOS", "l", "z") is None
        assert r("LPOS", "l", "z", "COUNT", "0") == []
        assert r("LSET", "nokey", "0", "x") == ErrorReply("ERR no such key")
        assert r("LSET", "nokey", "x", "x") == ErrorReply("ERR no such key")
        assert r("LSET", "l", "4", "x") == ErrorReply("ERR index out of range")
        assert r("LSET", "l", "x", "x") == ErrorReply(
            "ERR value is not an integer or out of range")
        assert r("LINDEX", "nokey", "x") is None
        assert r("LINSERT", "l", "middle", "a", "x") == ErrorReply("ERR syntax error")
        assert r("LINSERT", "l", "BEFORE", "zz", "x") == -1
        assert r("LINSERT", "nokey", "BEFORE", "a", "x") == 0
        assert r("LMOVE", "l", "l", "up", "left") == ErrorReply("ERR syntax error")
        assert r("LMPOP", "0", "l", "LEFT") == ErrorReply("ERR numkeys should be greater than 0")
        assert r("LMPOP", "2", "l", "LEFT") == ErrorReply("ERR syntax error")
        assert r("LMPOP", "1", "l", "LEFT", "COUNT", "0") == ErrorReply(
            "ERR count should be greater than 0")
        assert r("LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1") == ErrorReply(
            "ERR syntax error")
        assert r("LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "3") == [b"l", [b"a", b"c", b"b"]]
        assert r("BLPOP", "l", "-1") == ErrorReply("ERR timeout is negative")
        assert r("BLPOP", "l", "x") == ErrorReply("ERR timeout is not a float or out of range")
        assert r("BLMPOP", "x", "1", "l", "up") == ErrorReply("ERR syntax error")
        assert r("BLMPOP", "-1", "1", "l", "left") == ErrorReply("ERR timeout is negative")
        assert r("SET", "s", "v") == b"OK"
        wrongtype = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
        for args in (["LPUSH", "s", "a"], ["LPUSHX", "s", "a"], ["LLEN", "s"],
                     ["LINDEX", "s", "0"], ["LINDEX", "s", "x"], ["LRANGE", "s", "0", "1"],
                     ["LSET", "s", "x", "v"], ["LPOP", "s", "0"], ["LPOS", "s", "a"],
                     ["LREM", "s", "0", "a"], ["LTRIM", "s", "0", "1"],
                     ["LINSERT", "s", "AFTER", "a", "b"], ["LMOVE", "s", "l", "LEFT", "LEFT"],
                     ["RPOPLPUSH", "l", "s"], ["LMPOP", "2", "nokey", "s", "LEFT"],
                     ["BLPOP", "nokey", "s", "0.01"], ["BLMOVE", "l", "s", "LEFT", "LEFT", "1"]):
            assert r(*args) == wrongtype, args
        # An empty source does not look at the destination's type.
        assert r("LMOVE", "nokey", "s", "LEFT", "LEFT") is None
        assert r("BLMOVE", "nokey", "s", "LEFT", "LEFT", "0.01") is None
        # The failed moves changed nothing.
        assert r("LRANGE", "l", "0", "-1") == [b"a"]
        assert r("GET", "s") == b"v"
    finally:
        r.close()


def test_each_command_with_lists(server):
    c = server.client()
    assert c.rpush("l", "a", "b", "c") == 3
    assert c.lpush("l", "z") == 4
    assert c.lpushx("l", "y") == 5 and c.rpushx("l", "d") == 6
    assert c.lpushx("nokey", "y") == 0 and c.exists("nokey") == 0
    assert c.lrange("l", 0, -1) == [b"y", b"z", b"a", b"b", b"c", b"d"]
    assert c.lrange("l", -2, 100) == [b"c", b"d"]
    assert c.lrange("l", 4, 2) == []
    assert c.llen("l") == 6
    assert c.lindex("l", -1) == b"d" and c.lindex("l", 6) is None
    assert c.lset("l", 0, "Y") is True
    assert c.linsert("l", "AFTER", "a", "a2") == 7
    assert c.lrem("l", 1, "z") == 1
    assert c.lrange("l", 0, -1) == [b"Y", b"a", b"a2", b"b", b"c", b"d"]
    assert c.lpos("l", "c") == 4
    assert c.lmove("l", "m", "LEFT", "RIGHT") == b"Y"
    assert c.rpoplpush("l", "m") == b"d"
    assert c.lrange("m", 0, -1) == [b"d", b"Y"]
    assert c.ltrim("l", 1, 2) is True
    assert c.lrange("l", 0, -1) == [b"a2", b"b"]
    assert c.lpop("l") == b"a2" and c.rpop("l") == b"b"
    assert c.exists("l") == 0 and c.type("m") == b"list"
    assert c.rpop("l") is None
    # Expiry applies to lists as to any key.
    c.rpush("e", "1")
    assert c.pexpire("e", 50)
    wait_until(lambda: c.exists("e") == 0, timeout=5, msg="list e expired")
    assert c.lrange("e", 0, -1) == [] and c.rpush("e", "2") == 1


def test_lists_survive_restart(server):
    c = server.client()
    c.rpush("p", *[str(i) for i in range(100)])
    c.lrem("p", 0, "50")
    c.linsert("p", "BEFORE", "10", "x")
    c.ltrim("p", 1, -2)
    before = c.lrange("p", 0, -1)
    server.restart()
    c = server.client()
    assert c.lrange("p", 0, -1) == before
    assert c.llen("p") == len(before)


def big_list(server, n, chunk=10000):
    c = server.client(socket_timeout=120)
    pipe = c.pipeline(transaction=False)
    for start in range(0, n, chunk):
        pipe.rpush("big", *[b"e%d" % i for i in range(start, min(n, start + chunk))])
    pipe.execute()
    return c


def check_big_list(server, c, n):
    """Operations on a big list whose cost does not depend on its length. The cost is counted
    in records read (helpers/records.py), not timed; a range may read 2 records beyond itself
    (the seek, and the step past its end)."""
    length, cost = counted(server, lambda: c.llen("big"))
    assert length == n and cost.read() == 0, cost
    mid = n // 2
    items, cost = counted(server, lambda: c.lrange("big", mid, mid + 9))
    assert items == [b"e%d" % i for i in range(mid, mid + 10)]
    assert 10 <= cost.read() <= 10 + 2, cost
    item, cost = counted(server, lambda: c.lindex("big", -3))
    assert item == b"e%d" % (n - 3) and cost.read() == 1, cost
    items, cost = counted(server, lambda: c.lrange("big", -2, -1))
    assert items == [b"e%d" % (n - 2), b"e%d" % (n - 1)]
    assert 2 <= cost.read() <= 2 + 2, cost
    assert c.lpop("big", 3) == [b"e0", b"e1", b"e2"]
    assert c.rpush("big", "tail") == n - 2
    assert c.lset("big", -1, "TAIL") is True and c.lindex("big", -1) == b"TAIL"
    # LPOS with MAXLEN looks only at the first elements.
    pos, cost = counted(server, lambda: c.lpos("big", "e10", None, None, 20))
    assert pos == 7 and cost.read() <= 20 + 2, cost
    _, cost = counted(server, lambda: c.lpos("big", "nothere", None, None, 20))
    assert 20 <= cost.read() <= 20 + 2, cost
    # DEL is O(1): one metadata record deleted, no element read or written.
    deleted, cost = counted(server, lambda: c.delete("big"))
    assert deleted == 1
    assert cost.read() == 0 and cost.written() == 0 and cost.written("metadata") == 1, cost
    assert c.llen("big") == 0 and c.rpush("big", "new") == 1
    assert c.lrange("big", 0, -1) == [b"new"]


def test_big_list_100k(server):
    c = big_list(server, 100000)
    check_big_list(server, c, 100000)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_big_list_1m(server):
    c = big_list(server, 1000000)
    check_big_list(server, c, 1000000)
