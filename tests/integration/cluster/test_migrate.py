# SPDX-License-Identifier: Apache-2.0
"""Slot migration (CLUSTERX MIGRATE / CLUSTER IMPORT, kvrocks-notes 4.6, scenarios.md 35):
pre-check errors, every data type with its TTL, sync mode, writes during a migration, and
failures that must end in `fail` with the source serving and the destination clean."""
import threading

import pytest
from redis.crc import key_slot

from cluster.clusterutil import call, cluster_config, error_text, master_line, node_id, push, \
    slave_line, topology
from helpers.wait import Deadline, wait_until

pytestmark = pytest.mark.cluster


def ok(reply):
    assert reply in (b"OK", "OK", True), reply


def tag_for_slot(slot):
    """A hash tag whose keys all live in `slot`."""
    i = 0
    while True:
        tag = "t%d" % i
        if key_slot(tag.encode()) == slot:
            return tag
        i += 1


def info(server):
    text = server.command("CLUSTER", "INFO")
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def wait_state(server, key, want, timeout=10):
    wait_until(lambda: info(server).get(key) == want, timeout=timeout,
               msg=lambda: "%s: CLUSTER INFO %s = %r, want %r"
               % (server.name, key, info(server).get(key), want))


def two_masters(server_factory, slots_a="0-16383", slots_b=None, cfg_a=None, cfg_b=None):
    a = server_factory(cluster_config(cfg_a or {}), name="a")
    b = server_factory(cluster_config(cfg_b or {}), name="b")
    lines = [master_line("a", a, slots_a)]
    lines.append(master_line("b", b, slots_b) if slots_b else
                 "%s %s %d master -" % (node_id("b"), b.host, b.port))
    push([a, b], topology(*lines), 1, setid={a: "a", b: "b"})
    return a, b


def fill_all_types(c, tag, n=50, ttl=True):
    """One key of each type in the tag's slot; returns the keys."""
    keys = {
        "str": "{%s}str" % tag, "hash": "{%s}hash" % tag, "list": "{%s}list" % tag,
        "set": "{%s}set" % tag, "zset": "{%s}zset" % tag, "bits": "{%s}bits" % tag,
        "hll": "{%s}hll" % tag, "bin": "{%s}\x00bin\r\n" % tag, "empty": "{%s}empty" % tag,
    }
    c.set(keys["str"], "v" * 100)
    c.set(keys["bin"], b"\x00\xff\r\n")
    c.set(keys["empty"], "")
    c.hset(keys["hash"], mapping={"f%d" % i: "v%d" % i for i in range(n)})
    c.rpush(keys["list"], *["e%d" % i for i in range(n)])
    c.lset(keys["list"], 3, "changed")
    c.linsert(keys["list"], "BEFORE", "e5", "inserted")
    c.sadd(keys["set"], *["m%d" % i for i in range(n)])
    c.zadd(keys["zset"], {"z%d" % i: i * 1.5 - 7 for i in range(n)})
    c.zadd(keys["zset"], {"inf": float("inf"), "ninf": float("-inf"), "frac": 0.1})
    for off in (0, 7, 100, 8191, 8192 * 3 + 5):
        c.setbit(keys["bits"], off, 1)
    c.setbit(keys["bits"], 100000, 0)  # extends the length without a set bit
    c.pfadd(keys["hll"], *["h%d" % i for i in range(200)])
    if ttl:
        for k in ("str", "hash", "list", "zset", "bits"):
            c.expire(keys[k], 1000)
    return keys


def snapshot(c, key):
    """What a user checks of a key: type, value, TTL (rounded)."""
    t = c.type(key)
    if t == b"string":
        v = (c.get(key), c.bitcount(key), c.strlen(key))
    elif t == b"hash":
        v = c.hgetall(key)
    elif t == b"list":
        v = c.lrange(key, 0, -1)
    elif t == b"set":
        v = sorted(c.smembers(key))
    elif t == b"zset":
        v = c.zrange(key, 0, -1, withscores=True)
    else:
        v = None
    ttl = c.pttl(key)
    return t, v, ((ttl + 5000) // 10000 if ttl > 0 else ttl)


def hll_count(c, key):
    return c.pfcount(key)


def migrate(a, slot, dst, *extra):
    return call(a, "CLUSTERX", "MIGRATE", str(slot), node_id(dst), *extra)


def test_migrate_all_types_with_ttl_then_moved(server_factory):
    a, b = two_masters(server_factory)
    slot = 1234
    tag = tag_for_slot(slot)
    ca, cb = a.client(), b.client()
    keys = fill_all_types(ca, tag)
    other = "{%s}other" % tag_for_slot(4321)
    ca.set(other, "stays")
    expired = "{%s}expired" % tag
    ca.set(expired, "x", px=1)
    want = {k: snapshot(ca, k) for n, k in keys.items() if n != "hll"}
    want_hll = hll_count(ca, keys["hll"])
    ok(migrate(a, slot, "b"))
    wait_state(a, "migrating_state", "success")
    assert info(a)["migrating_slot(s)"] == str(slot)
    assert info(a)["destination_node"] == node_id("b")
    assert info(b)["import_state"] == "success"
    assert info(b)["importing_slot(s)"] == str(slot)
    # The source answers MOVED for the slot, keeps other slots.
    err = call(a, "GET", keys["str"])
    assert "MOVED %d %s:%d" % (slot, b.host, b.port) in error_text(err)
    assert ca.get(other) == b"stays"
    # The destination serves the slot (imported, topology not updated yet).
    for k, w in want.items():
        assert snapshot(cb, k) == w, k
    assert hll_count(cb, keys["hll"]) == want_hll
    assert cb.exists(expired) == 0
    assert "MOVED" in str(call(b, "EXISTS", other))
    cb.set(keys["str"], "new")  # writes accepted on the destination
    assert cb.get(keys["str"]) == b"new"
