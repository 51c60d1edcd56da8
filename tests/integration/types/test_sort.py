# SPDX-License-Identifier: Apache-2.0
"""SORT and SORT_RO: differentially against Debian's redis-server 7.0 (a fixed script over
lists, sets and sorted sets with every option, BY/GET patterns on strings and hash fields,
STORE, errors), then explicit checks of what a user relies on: the errors, STORE replacing
any type and dropping the expiry, an empty result deleting the destination, SORT_RO
refusing STORE, the key specs (COMMAND GETKEYS), and SORT being a write command on a
replica-facing table.

Not compared with Redis: SORT BY nosort on a set without STORE (Redis answers in its hash
order, we in member order: compared as a multiset), and ALPHA ties under BY (Redis leaves
their order unspecified; the script avoids them).
"""
import random

import pytest
import redis

from helpers.diff import Cmd, assert_same_replies
from helpers.wait import wait_until
from raw_resp import RawConn

pytestmark = pytest.mark.needs_redis

SETUP = [
    ["RPUSH", "nums", "3", "1", "2", "10", "-5", "2.5", "1e2", "0"],
    ["RPUSH", "words", "pear", "apple", "fig", "banana", "apple"],
    ["RPUSH", "mixed", "1", "x", "2"],
    ["SADD", "s", "5", "3", "9", "1", "7"],
    ["SADD", "sw", "b", "a", "d", "c"],
    ["ZADD", "z", "1", "30", "2", "10", "3", "20", "4", "5"],
    ["ZADD", "zw", "3", "c", "1", "b", "2", "a"],
    ["MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "5", "w_-5", "7", "w_0", "-1"],
    ["MSET", "w_2.5", "2", "w_1e2", "4", "o_3", "three", "o_1", "one", "o_2", "two"],
    ["HSET", "h_pear", "rank", "4", "name", "PEAR"],
    ["HSET", "h_apple", "rank", "1", "name", "APPLE"],
    ["HSET", "h_fig", "rank", "3"],
    ["HSET", "h_banana", "rank", "2", "name", "BANANA"],
    ["MSET", "aw_pear", "d", "aw_apple", "a", "aw_fig", "c", "aw_banana", "b"],
    ["SET", "str", "hello"],
    ["HSET", "hash", "f", "v"],
    ["RPUSH", "badw", "1", "2"],
    ["SET", "bw_1", "abc"],
    ["SET", "bw_2", "3"],
]

FIXED = SETUP + [
    # Numeric (default), DESC, ALPHA, LIMIT.
    ["SORT", "nums"],
    ["SORT", "nums", "DESC"],
    ["SORT", "nums", "ASC"],
    ["SORT", "nums", "LIMIT", "1", "3"],
    ["SORT", "nums", "LIMIT", "0", "0"],
    ["SORT", "nums", "LIMIT", "-3", "2"],
    ["SORT", "nums", "LIMIT", "2", "-1"],
    ["SORT", "nums", "LIMIT", "100", "5"],
    ["SORT", "nums", "LIMIT", "7", "100"],
    ["SORT", "nums", "DESC", "LIMIT", "2", "3"],
    ["SORT", "nums", "ALPHA"],
    ["SORT", "words", "ALPHA"],
    ["SORT", "words", "ALPHA", "DESC", "LIMIT", "1", "2"],
    ["SORT", "words"],
    ["SORT", "mixed"],
    ["SORT", "mixed", "ALPHA"],
    ["SORT", "s"],
    ["SORT", "s", "DESC"],
    ["SORT", "sw", "ALPHA"],
    ["SORT", "sw"],
    ["SORT", "z"],
    ["SORT", "z", "DESC", "LIMIT", "0", "2"],
    ["SORT", "zw", "ALPHA"],
    ["SORT", "missing"],
    ["SORT", "missing", "ALPHA", "LIMIT", "0", "10", "GET", "#"],
    # BY patterns.
    ["SORT", "nums", "BY", "w_*"],
    ["SORT", "nums", "BY", "w_*", "DESC"],
    ["SORT", "nums", "BY", "w_*", "LIMIT", "2", "3"],
    ["SORT", "words", "BY", "h_*->rank"],
    ["SORT", "words", "BY", "h_*->rank", "DESC"],
    ["SORT", "words", "BY", "aw_*", "ALPHA"],
    ["SORT", "words", "BY", "aw_*", "ALPHA", "DESC"],
    ["SORT", "s", "BY", "w_*"],
    ["SORT", "z", "BY", "w_*"],
    ["SORT", "nums", "BY", "nokey_*"],
    # No sorting: lists and zsets keep their order, DESC reverses it, LIMIT slices it.
    ["SORT", "nums", "BY", "nosort"],
    ["SORT", "nums", "BY", "nosort", "DESC"],
    ["SORT", "nums", "BY", "nosort", "LIMIT", "2", "3"],
    ["SORT", "nums", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
    ["SORT", "z", "BY", "nosort"],
    ["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
    ["SORT", "words", "BY", "nosort"],
    Cmd(["SORT", "s", "BY", "nosort"], compare="unordered"),
    # GET patterns.
    ["SORT", "z", "GET", "o_*"],
    ["SORT", "z", "GET", "#", "GET", "o_*"],
    ["SORT", "z", "GET", "nope_*", "GET", "#"],
    ["SORT", "z", "GET", "constant"],
    ["SORT", "words", "BY", "h_*->rank", "GET", "h_*->name", "GET", "#"],
    ["SORT", "words", "ALPHA", "GET", "h_*->nofield"],
    ["SORT", "words", "ALPHA", "GET", "h_*->"],
    ["SORT", "words", "ALPHA", "GET", "aw_*->x"],
    ["SORT", "nums", "GET", "w_*", "LIMIT", "0", "3"],
    ["SORT", "nums", "BY", "nosort", "GET", "#", "GET", "w_*"],
    # SORT_RO.
    ["SORT_RO", "nums"],
    ["SORT_RO", "words", "BY", "h_*->rank", "GET", "#", "GET", "h_*->name", "DESC"],
    ["SORT_RO", "z", "LIMIT", "1", "1"],
    # STORE.
    ["SORT", "nums", "STORE", "dst"],
    ["LRANGE", "dst", "0", "-1"],
    ["SORT", "words", "BY", "h_*->rank", "GET", "h_*->name", "STORE", "dst2"],
    ["LRANGE", "dst2", "0", "-1"],
    ["SORT", "s", "BY", "nosort", "STORE", "dst3"],
    ["LRANGE", "dst3", "0", "-1"],
    ["SORT", "sw", "BY", "nosort", "DESC", "STORE", "dst3"],
    ["LRANGE", "dst3", "0", "-1"],
    ["SET", "dst4", "old"],
    ["EXPIRE", "dst4", "100"],
    ["SORT", "z", "STORE", "dst4"],
    ["TYPE", "dst4"],
    ["TTL", "dst4"],
    ["LRANGE", "dst4", "0", "-1"],
    ["SORT", "missing", "STORE", "dst4"],
    ["EXISTS", "dst4"],
    ["SORT", "nums", "LIMIT", "0", "0", "STORE", "dst"],
    ["EXISTS", "dst"],
    ["SORT", "nums", "STORE", "nums"],
    ["LRANGE", "nums", "0", "-1"],
    ["SORT", "z", "STORE", "a", "STORE", "b"],
    ["EXISTS", "a", "b"],
    # Errors.
    ["SORT", "str"],
    ["SORT", "hash"],
    ["SORT_RO", "str"],
    ["SORT", "str", "STORE", "x"],
    ["EXISTS", "x"],
    ["SORT", "words"],
    ["SORT", "badw", "BY", "bw_*"],
    ["SORT", "words", "STORE", "dstw"],
    ["EXISTS", "dstw"],
    ["SORT", "nums", "LIMIT", "1"],
    ["SORT", "nums", "LIMIT", "a", "1"],
    ["SORT", "nums", "LIMIT", "1", "b"],
    ["SORT", "nums", "BY"],
    ["SORT", "nums", "GET"],
    ["SORT", "nums", "STORE"],
    ["SORT", "nums", "FOO"],
    ["SORT_RO", "nums", "STORE", "x"],
    ["SORT_RO", "nums", "BY"],
    ["SORT", "str", "FOO"],
    ["SORT"],
    ["SORT_RO"],
    ["SORT", "nums", "ALPHA", "DESC", "ASC"],
    ["SORT", "nums", "BY", "nosort", "BY", "w_*"],
    ["SORT", "nums", "BY", "w_*", "BY", "nosort"],
    ["SORT", "s", "BY", "nosort", "BY", "w_*", "STORE", "dst5"],
    ["LRANGE", "dst5", "0", "-1"],
]


def test_fixed_script(server, redis_ref):
    assert_same_replies(server.client(), redis_ref.client(), FIXED)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sorts(server, redis_ref, seed):
    """Random lists, sets and zsets of numbers and words, sorted with random options."""
    rnd = random.Random(seed)
    script = []
    for i in range(40):
        script.append(["SET", "wt_%d" % i, str(rnd.randint(-50, 50))])
        script.append(["HSET", "hf_%d" % i, "w", str(rnd.random() * 100)])
    nums = [str(rnd.randint(0, 39)) for _ in range(30)]
    script.append(["RPUSH", "L"] + nums)
    script.append(["SADD", "S"] + nums)
    zargs = []
    for n in nums:
        zargs += [str(rnd.randint(-3, 3)), n]
    script.append(["ZADD", "Z"] + zargs)
    for _ in range(150):
        key = rnd.choice(["L", "S", "Z"])
        args = ["SORT", key]
        by = rnd.choice([None, None, "wt_*", "hf_*->w", "nosort"])
        if by is not None and not (by == "nosort" and key == "S"):
            args += ["BY", by]
        if rnd.random() < 0.3 and by is None:
            args.append("ALPHA")
        if rnd.random() < 0.5:
            args.append(rnd.choice(["ASC", "DESC"]))
        if rnd.random() < 0.5:
            args += ["LIMIT", str(rnd.randint(-2, 35)), str(rnd.randint(-2, 35))]
        for _ in range(rnd.randint(0, 2)):
            args += ["GET", rnd.choice(["#", "wt_*", "hf_*->w", "none_*"])]
        if rnd.random() < 0.3:
            args += ["STORE", "out"]
            script.append(args)
            script.append(["LRANGE", "out", "0", "-1"])
        else:
            script.append(args)
    assert_same_replies(server.client(), redis_ref.client(), script)


def test_errors_change_nothing(server):
    c = server.client()
    c.rpush("l", "b", "a")
    c.rpush("dst", "keep")
    with pytest.raises(Exception, match="One or more scores can't be converted into double"):
        c.execute_command("SORT", "l", "STORE", "dst")
    assert c.lrange("dst", 0, -1) == [b"keep"]
    with pytest.raises(Exception, match="^syntax error$"):
        c.execute_command("SORT_RO", "l", "ALPHA", "STORE", "dst")
    assert c.lrange("dst", 0, -1) == [b"keep"]
    c.set("str", "x")
    with pytest.raises(Exception, match="^WRONGTYPE"):
        c.execute_command("SORT", "str", "ALPHA", "STORE", "dst")
    assert c.lrange("dst", 0, -1) == [b"keep"]
    # A good one then replaces the list.
    assert c.execute_command("SORT", "l", "ALPHA", "STORE", "dst") == 2
    assert c.lrange("dst", 0, -1) == [b"a", b"b"]


def test_store_replaces_every_type_and_drops_expiry(server):
    c = server.client()
    c.rpush("src", "3", "1", "2")
    creators = {
        "string": lambda k: c.set(k, "v"),
        "hash": lambda k: c.hset(k, "f", "v"),
        "list": lambda k: c.rpush(k, "x", "y", "z", "w"),
        "set": lambda k: c.sadd(k, "m"),
        "zset": lambda k: c.zadd(k, {"m": 1}),
        "bitmap": lambda k: c.setbit(k, 100, 1),
        "hll": lambda k: c.pfadd(k, "a", "b"),
    }
    for name, make in creators.items():
        dst = "dst_" + name
        make(dst)
        c.expire(dst, 1000)
        assert c.execute_command("SORT", "src", "STORE", dst) == 3, name
        assert c.type(dst) == b"list", name
        assert c.lrange(dst, 0, -1) == [b"1", b"2", b"3"], name
        assert c.ttl(dst) == -1, name
        assert c.llen(dst) == 3, name
    # An empty result deletes the destination, whatever it was.
    c.sadd("dst_set2", "a")
    assert c.execute_command("SORT", "nothing", "STORE", "dst_set2") == 0
    assert c.exists("dst_set2") == 0


def test_large_list_store_and_limit(server):
    c = server.client()
    vals = list(range(2000))
    random.Random(7).shuffle(vals)
    c.rpush("big", *vals)
    assert c.execute_command("SORT", "big", "DESC", "STORE", "bigdst") == 2000
    assert c.lrange("bigdst", 0, 2) == [b"1999", b"1998", b"1997"]
    assert c.lindex("bigdst", -1) == b"0"
    assert c.execute_command("SORT", "big", "LIMIT", "1500", "3") == [b"1500", b"1501", b"1502"]


def test_command_table_entries(server):
    with RawConn(server.port) as c:
        assert c.call("COMMAND", "GETKEYS", "SORT", "k") == [b"k"]
        assert c.call("COMMAND", "GETKEYS", "SORT", "k", "BY", "store", "GET", "store",
                      "LIMIT", "0", "1", "STORE", "d1", "STORE", "d2") == [b"k", b"d2"]
        assert c.call("COMMAND", "GETKEYS", "SORT_RO", "k", "ALPHA") == [b"k"]
        info = c.call("COMMAND", "INFO", "sort", "sort_ro")
    flags = [set(x.decode() if isinstance(x, bytes) else x for x in row[2]) for row in info]
    assert "write" in flags[0] and "movablekeys" in flags[0]
    assert "readonly" in flags[1]


def test_store_wakes_blocked_clients_and_watch(server):
    """STORE reports its destination as touched: a WATCHing transaction fails."""
    c = server.client()
    c.rpush("src", "2", "1")
    p = server.client().pipeline(transaction=True)
    p.watch("dst")
    p.multi()
    p.set("other", "1")
    c.execute_command("SORT", "src", "STORE", "dst")
    with pytest.raises(Exception):
        p.execute()
    assert c.exists("other") == 0
    assert c.lrange("dst", 0, -1) == [b"1", b"2"]


def test_sort_on_replica_is_refused_but_sort_ro_works(server_factory):
    master = server_factory()
    replica = server_factory(slaveof="127.0.0.1 %d" % master.port)
    m = master.client()
    m.rpush("l", "2", "1", "3")
    r = replica.client()
    wait_until(lambda: r.exists("l") == 1, msg="replicated")
    assert r.execute_command("SORT_RO", "l") == [b"1", b"2", b"3"]
    with pytest.raises(redis.exceptions.ReadOnlyError):
        r.execute_command("SORT", "l")
