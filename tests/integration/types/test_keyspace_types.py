# SPDX-License-Identifier: Apache-2.0
"""The keyspace commands on every type: TYPE, DEL, UNLINK, EXISTS, EXPIRE/TTL/PERSIST,
RENAME/RENAMENX, COPY [REPLACE], RANDOMKEY, KEYS and SCAN ... TYPE, on hash, list, set,
zset, bitmap (a "string" to Redis) and HyperLogLog (also a "string") keys, next to a plain
string:

- a renamed or copied key has all its members and its expiry, and the old name is gone
  (RENAME) or untouched and independent (COPY);
- RENAME / COPY REPLACE onto a key of another type replace it entirely;
- an expired complex key vanishes from EXISTS, TYPE, KEYS, SCAN, DBSIZE and RANDOMKEY;
- then the same commands differentially against Debian's redis-server 7.0.
"""
import pytest

from helpers.diff import Cmd, assert_same_replies
from helpers.wait import wait_until

TYPES = ["string", "hash", "list", "set", "zset", "bitmap", "hll"]

# What TYPE answers (and SCAN TYPE selects) for each kind of key, as Redis names them.
REDIS_TYPE = {"string": "string", "hash": "hash", "list": "list", "set": "set", "zset": "zset",
              "bitmap": "string", "hll": "string"}


def make(c, kind, key, n=50):
    """Create `key` of `kind` with n members (or bits, or HLL elements)."""
    if kind == "string":
        c.set(key, "value-%d" % n)
    elif kind == "hash":
        c.hset(key, mapping={"f%d" % i: "v%d" % i for i in range(n)})
    elif kind == "list":
        c.rpush(key, *["e%d" % i for i in range(n)])
    elif kind == "set":
        c.sadd(key, *["m%d" % i for i in range(n)])
    elif kind == "zset":
        c.zadd(key, {"m%d" % i: i * 1.5 for i in range(n)})
    elif kind == "bitmap":
        for i in range(n):
            c.setbit(key, i * 37, 1)
    elif kind == "hll":
        c.pfadd(key, *["x%d" % i for i in range(n)])
    else:
        raise ValueError(kind)


def content(c, kind, key):
    """Everything a user can read back from a key of `kind`."""
    if kind == "string":
        return c.get(key)
    if kind == "hash":
        return sorted(c.hgetall(key).items())
    if kind == "list":
        return c.lrange(key, 0, -1)
    if kind == "set":
        return sorted(c.smembers(key))
    if kind == "zset":
        return c.zrange(key, 0, -1, withscores=True)
    if kind == "bitmap":
        return (c.get(key), c.bitcount(key), c.strlen(key))
    if kind == "hll":
        return c.pfcount(key)
    raise ValueError(kind)


def empty_content(kind):
    return {"string": None, "hash": [], "list": [], "set": [], "zset": [],
            "bitmap": (None, 0, 0), "hll": 0}[kind]


@pytest.mark.parametrize("kind", TYPES)
def test_type_exists_del_unlink(server, kind):
    c = server.client()
    make(c, kind, "k1")
    make(c, kind, "k2")
    assert c.type("k1") == REDIS_TYPE[kind].encode()
    assert c.exists("k1", "k2", "k1", "none") == 3
    assert c.delete("k1", "none", "k1") == 1
    assert c.exists("k1") == 0
    assert c.type("k1") == b"none"
    assert content(c, kind, "k1") == empty_content(kind)
    assert c.unlink("k2") == 1
    assert c.exists("k2") == 0
    # Re-created after DEL: nothing of the old incarnation shows through.
    make(c, kind, "k1", n=3)
    assert content(c, kind, "k1") == content_of_fresh(server, kind, 3)


def content_of_fresh(server, kind, n):
    c = server.client()
    make(c, kind, "__fresh", n=n)
    v = content(c, kind, "__fresh")
    c.delete("__fresh")
    return v


@pytest.mark.parametrize("kind", TYPES)
def test_expire_ttl_persist(server, kind):
    c = server.client()
    make(c, kind, "k")
    before = content(c, kind, "k")
    assert c.ttl("k") == -1
    assert c.expire("k", 100) is True
    assert 98 <= c.ttl("k") <= 100
    assert 0 < c.pttl("k") <= 100000
    assert c.persist("k") is True
    assert c.persist("k") is False
    assert c.ttl("k") == -1
    assert content(c, kind, "k") == before
    # Expiring in the past deletes it.
    assert c.pexpireat("k", 1) is True
    assert c.exists("k") == 0
    assert c.ttl("k") == -2


@pytest.mark.parametrize("kind", TYPES)
def test_rename_keeps_members_and_expiry(server, kind):
    c = server.client()
    make(c, kind, "src")
    want = content(c, kind, "src")
    c.pexpire("src", 200000)
    at = c.execute_command("PEXPIRETIME", "src")
    assert c.rename("src", "dst") is True
    assert c.exists("src") == 0
    assert content(c, kind, "src") == empty_content(kind)
    assert content(c, kind, "dst") == want
    assert c.execute_command("PEXPIRETIME", "dst") == at
    assert c.type("dst") == REDIS_TYPE[kind].encode()
    # The renamed key is writable as its type, and the old name can be re-created apart.
    make(c, kind, "src", n=2)
    assert content(c, kind, "dst") == want
    # RENAMENX refuses an existing destination and changes nothing.
    assert c.renamenx("dst", "src") is False
    assert content(c, kind, "dst") == want
    assert c.renamenx("dst", "dst2") is True
    assert content(c, kind, "dst2") == want
    assert c.exists("dst") == 0


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("other", ["string", "hash", "list", "zset"])
def test_rename_onto_another_type_replaces_it(server, kind, other):
    c = server.client()
    make(c, kind, "src")
    want = content(c, kind, "src")
    make(c, other, "dst", n=80)
    c.expire("dst", 1000)
    assert c.rename("src", "dst") is True
    assert c.type("dst") == REDIS_TYPE[kind].encode()
    assert content(c, kind, "dst") == want
    assert c.ttl("dst") == -1
    assert c.exists("src") == 0


@pytest.mark.parametrize("kind", TYPES)
def test_copy_and_copy_replace(server, kind):
    c = server.client()
    make(c, kind, "src")
    want = content(c, kind, "src")
    c.pexpire("src", 300000)
    at = c.execute_command("PEXPIRETIME", "src")
    assert c.copy("src", "dst") is True
    assert content(c, kind, "dst") == want
    assert content(c, kind, "src") == want
    assert c.execute_command("PEXPIRETIME", "dst") == at
    # The copy is independent: deleting or changing the source leaves it whole.
    c.delete("src")
    assert content(c, kind, "dst") == want
    make(c, kind, "src", n=5)
    assert content(c, kind, "dst") == want
    # An existing destination needs REPLACE, of any type.
    other_kind = "list" if kind != "list" else "set"
    make(c, other_kind, "other", n=7)
    assert c.copy("dst", "other") is False
    assert c.type("other") == other_kind.encode()
    assert c.copy("dst", "other", replace=True) is True
    assert c.type("other") == REDIS_TYPE[kind].encode()
    assert content(c, kind, "other") == want
    # COPY of an absent key: 0, nothing created.
    assert c.copy("absent", "x") is False
    assert c.exists("x") == 0


def test_keys_scan_type_and_randomkey_over_every_type(server):
    c = server.client()
    for kind in TYPES:
        make(c, kind, "key:" + kind, n=20)
    names = sorted(("key:" + k).encode() for k in TYPES)
    assert sorted(c.keys("key:*")) == names
    assert c.dbsize() == len(TYPES)
    for t in ("string", "hash", "list", "set", "zset"):
        got = sorted(k for k in c.scan_iter(match="key:*", count=3, _type=t))
        want = sorted(("key:" + k).encode() for k in TYPES if REDIS_TYPE[k] == t)
        assert got == want, t
    for t in ("bitmap", "hyperloglog", "none", "stream"):
        assert list(c.scan_iter(_type=t)) == [], t
    seen = set()
    wait_until(lambda: seen.add(c.randomkey()) or seen >= set(names), timeout=20,
               msg=lambda: "RANDOMKEY only returned %r" % sorted(seen))
    assert seen == set(names)


@pytest.mark.parametrize("kind", ["hash", "list", "set", "zset", "bitmap", "hll"])
def test_expired_complex_key_disappears_everywhere(server, kind):
    c = server.client()
    make(c, kind, "gone", n=30)
    c.set("stay", "1")
    assert c.pexpire("gone", 150) is True
    wait_until(lambda: c.exists("gone") == 0, timeout=5, msg="the key expired")
    assert c.type("gone") == b"none"
    assert c.keys("*") == [b"stay"]
    assert list(c.scan_iter(count=1)) == [b"stay"]
    assert list(c.scan_iter(_type=REDIS_TYPE[kind])) == ([b"stay"] if kind in ("bitmap", "hll")
                                                          else [])
    assert c.dbsize() == 1
    assert {c.randomkey() for _ in range(20)} == {b"stay"}
    assert c.ttl("gone") == -2
    assert content(c, kind, "gone") == empty_content(kind)
    assert c.rename("stay", "stay2") is True
    with pytest.raises(Exception, match="no such key"):
        c.rename("gone", "x")
    assert c.copy("gone", "x") is False
    assert c.persist("gone") is False
    assert c.expire("gone", 100) is False
    # Writing to the name starts a fresh key of any type.
    make(c, "list", "gone", n=2)
    assert c.lrange("gone", 0, -1) == [b"e0", b"e1"]
    assert c.ttl("gone") == -1


SETUP = [
    ["HSET", "h", "a", "1", "b", "2"],
    ["RPUSH", "l", "x", "y", "z"],
    ["SADD", "s", "p", "q"],
    ["ZADD", "z", "1", "one", "2", "two"],
    ["SETBIT", "bm", "10", "1"],
    ["SETBIT", "bm", "100", "1"],
    ["PFADD", "hl", "a", "b", "c"],
    ["SET", "str", "v"],
]

DIFF = SETUP + [
    ["TYPE", "h"], ["TYPE", "l"], ["TYPE", "s"], ["TYPE", "z"], ["TYPE", "bm"], ["TYPE", "hl"],
    ["EXISTS", "h", "l", "s", "z", "bm", "hl", "str", "none"],
    Cmd(["KEYS", "*"], compare="unordered"),
    Cmd(["SCAN", "0", "COUNT", "100", "TYPE", "string"], compare=lambda a, b:
        a[0] == b[0] and sorted(a[1]) == sorted(b[1])),
    Cmd(["SCAN", "0", "COUNT", "100", "TYPE", "HASH"], compare=lambda a, b:
        a[0] == b[0] and sorted(a[1]) == sorted(b[1])),
    ["SCAN", "0", "COUNT", "100", "TYPE", "bitmap"],
    ["DBSIZE"],
    ["EXPIRE", "h", "100"], ["TTL", "h"], ["PERSIST", "h"], ["TTL", "h"],
    ["EXPIRE", "z", "100", "NX"], ["EXPIRE", "z", "50", "GT"], ["TTL", "z"],
    ["RENAME", "h", "h2"], ["HGETALL", "h2"], ["EXISTS", "h"],
    ["RENAME", "l", "z"], ["TYPE", "z"], ["LRANGE", "z", "0", "-1"], ["TTL", "z"],
    ["RENAMENX", "s", "z"], ["RENAMENX", "s", "s2"], ["SMEMBERS", "s2"],
    ["COPY", "bm", "bm2"], ["GET", "bm2"], ["BITCOUNT", "bm2"],
    ["COPY", "bm", "h2"], ["COPY", "bm", "h2", "REPLACE"], ["TYPE", "h2"], ["GET", "h2"],
    ["COPY", "hl", "hl2"], ["PFCOUNT", "hl2"], ["TYPE", "hl2"],
    ["COPY", "z", "z", "REPLACE"],
    ["RENAME", "none", "x"], ["RENAMENX", "none", "x"], ["COPY", "none", "x"],
    ["RENAME", "z", "z"], ["RENAMENX", "z", "z"],
    ["DEL", "h2", "z", "s2", "bm", "bm2", "hl", "hl2", "str", "none"],
    ["DBSIZE"], ["RANDOMKEY"], ["KEYS", "*"],
]


@pytest.mark.needs_redis
def test_keyspace_commands_match_redis(server, redis_ref):
    assert_same_replies(server.client(), redis_ref.client(), DIFF)


def test_expiry_survives_restart_of_renamed_key(server):
    """The renamed key's expiry is on disk, not only in memory."""
    c = server.client()
    make(c, "zset", "a")
    c.expire("a", 1000)
    c.rename("a", "b")
    server.restart()
    c = server.client()
    assert 990 <= c.ttl("b") <= 1000
    assert c.zcard("b") == 50
