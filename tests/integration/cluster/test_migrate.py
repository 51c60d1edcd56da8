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


def info(server, password=None):
    text = server.command("CLUSTER", "INFO", password=password)
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
    """What a user checks of a key: type, value, absolute expiry time (ms; migration keeps it
    exact, and unlike a rounded TTL it does not tick while the test runs)."""
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
    return t, v, c.execute_command("PEXPIRETIME", key)


def hll_count(c, key):
    return c.pfcount(key)


def migrate(a, slot, dst, *extra):
    return call(a, "CLUSTERX", "MIGRATE", str(slot), node_id(dst), *extra)


@pytest.mark.parametrize("mtype", ["redis-command", "raw-key-value"])
def test_migrate_all_types_with_ttl_then_moved(server_factory, mtype):
    a, b = two_masters(server_factory, cfg_a={"migrate-type": mtype})
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


def count_in_slot(server, slot):
    return int(server.command("CLUSTER", "COUNTKEYSINSLOT", str(slot)))


def test_migrate_prechecks(server_factory):
    a = server_factory(cluster_config(), name="a")
    b = server_factory(cluster_config(), name="b")
    r = server_factory(cluster_config(), name="r")
    text = topology(master_line("a", a, "0-100"), master_line("b", b, "101-16383"),
                    slave_line("r", r, "a"))
    push([a, b, r], text, 1, setid={a: "a", b: "b", r: "r"})
    cases = [
        (a, ("5", node_id("x")), "Can't find the destination node id"),
        (a, ("-1", node_id("b")), "Invalid slot range"),
        (a, ("2-1", node_id("b")), "Invalid slot range"),
        (a, ("3--1", node_id("b")), "Invalid slot range"),
        (a, ("4-16384", node_id("b")), "Invalid slot range"),
        (a, ("16384", node_id("b")), "Invalid slot id: out of numeric range"),
        (a, ("200", node_id("b")), "Can't migrate slot which doesn't belong to me"),
        (a, ("100-101", node_id("b")), "Can't migrate slot which doesn't belong to me"),
        (r, ("5", node_id("b")), "Can't migrate slot which doesn't belong to me"),
        (a, ("5", node_id("r")), "Can't migrate slot to a slave"),
        (a, ("5", node_id("a")), "Can't migrate slot to myself"),
        (a, ("5", node_id("b"), "async", "10"), "timeout"),
        (a, ("5", node_id("b"), "sync", "-1"), "timeout"),
        (a, ("5", node_id("b"), "sync", "1.2"), "timeout"),
        (a, ("5", node_id("b"), "sync", "abc"), "timeout"),
        (a, ("5", node_id("b"), "later"), "syntax error"),
    ]
    for server, args, want in cases:
        reply = call(server, "CLUSTERX", "MIGRATE", *args)
        assert want in error_text(reply), (args, reply)
    # Nothing started: no migration lines in CLUSTER INFO.
    assert "migrating_state" not in info(a)
    # Import refusals (kvrocks-notes 4.3).
    assert "Slave can't import slot" in error_text(call(r, "CLUSTER", "IMPORT", "200", "0"))
    assert "Can't import slot which belongs to me" in \
        error_text(call(a, "CLUSTER", "IMPORT", "5", "0"))
    for bad in ("4", "-3", "x"):
        assert "Invalid import state" in error_text(call(b, "CLUSTER", "IMPORT", "5", bad))
    assert "Invalid slot range" in error_text(call(b, "CLUSTER", "IMPORT", "-1", "0"))
    assert "out of numeric range" in error_text(call(b, "CLUSTER", "IMPORT", "16384", "0"))
    assert "import_state" not in info(b)


def test_import_states_and_link_close_drop_keys(server_factory):
    a, b = two_masters(server_factory, slots_a="0-100", slots_b="101-16383")
    tag = tag_for_slot(10)
    imp = b.client()
    ok(imp.execute_command("CLUSTER", "IMPORT", "10", "0"))
    assert info(b)["import_state"] == "start" and info(b)["importing_slot(s)"] == "10"
    assert "[10-<-%s]" % node_id("a") in b.command("CLUSTER", "NODES").decode()
    imp.set("{%s}k" % tag, "v")  # the import link may write the importing slot
    assert count_in_slot(b, 10) == 1
    assert "MOVED" in error_text(call(b, "GET", "{%s}k" % tag))  # normal clients may not
    ok(imp.execute_command("CLUSTER", "IMPORT", "10", "2"))
    assert info(b)["import_state"] == "error"
    assert count_in_slot(b, 10) == 0
    # Closing the import link while importing drops the keys too.
    tag11 = tag_for_slot(11)
    imp2 = b.client()
    ok(imp2.execute_command("CLUSTER", "IMPORT", "11", "0"))
    imp2.set("{%s}k" % tag11, "v")
    assert count_in_slot(b, 11) == 1
    imp2.connection_pool.disconnect()
    wait_state(b, "import_state", "error")
    wait_until(lambda: count_in_slot(b, 11) == 0, timeout=5, msg="slot 11 keys dropped")
    # Success: served by the importer until the topology changes.
    imp3 = b.client()
    ok(imp3.execute_command("CLUSTER", "IMPORT", "12", "0"))
    imp3.set("{%s}k" % tag_for_slot(12), "v")
    ok(imp3.execute_command("CLUSTER", "IMPORT", "12", "1"))
    assert info(b)["import_state"] == "success"
    assert b.client().get("{%s}k" % tag_for_slot(12)) == b"v"


def test_migrate_sync_mode_and_busy(server_factory):
    a, b = two_masters(server_factory)
    ca = a.client()
    tag = tag_for_slot(7)
    ca.rpush("{%s}list" % tag, *range(100))
    # sync without timeout: +OK once done.
    ok(migrate(a, 7, "b", "sync"))
    assert info(a)["migrating_state"] == "success"
    assert b.client().lrange("{%s}list" % tag, 0, -1) == [str(i).encode() for i in range(100)]
    assert "Can't migrate slot which has been migrated" in error_text(migrate(a, 7, "b"))
    # sync with a timeout shorter than the migration: a nil reply, the migration goes on.
    tag8 = tag_for_slot(8)
    ca.rpush("{%s}big" % tag8, *range(2000))
    ca.config_set("migrate-speed", "64")
    d = Deadline(30)
    assert migrate(a, 8, "b", "sync", "1") is None
    assert 0.5 < 30 - d.remaining() < 5
    assert info(a)["migrating_state"] == "start"
    assert "There is already a migrating job" in error_text(migrate(a, 9, "b"))
    assert "[8->-%s]" % node_id("b") in a.command("CLUSTER", "NODES").decode()
    # The source keeps serving reads and writes of the slot while copying.
    assert ca.llen("{%s}big" % tag8) == 2000
    ca.rpush("{%s}big" % tag8, "during")
    ca.config_set("migrate-speed", "0")  # applies to the next migration only
    wait_state(a, "migrating_state", "success", timeout=60)
    big = b.client().lrange("{%s}big" % tag8, 0, -1)
    assert big == [str(i).encode() for i in range(2000)] + [b"during"]
    # Sync inside MULTI cannot wait: queued, then +OK as async.
    c = a.client()
    pipe = c.pipeline(transaction=True)
    pipe.execute_command("CLUSTERX", "MIGRATE", "9", node_id("b"), "sync")
    assert pipe.execute()[0] in (b"OK", True)
    wait_state(a, "migrating_state", "success")


class Writer(threading.Thread):
    """Writes its own keys of the slot until told to stop or redirected, recording every
    acknowledged write, so the final state on the destination can be predicted exactly. A
    TRYAGAIN reply (write-forbidden phase) means the write did not happen."""

    def __init__(self, server, tag, wid, shared):
        super().__init__(daemon=True)
        self.c = server.client()
        self.tag, self.wid, self.shared = tag, wid, shared
        self.stop = threading.Event()
        self.strings, self.list, self.set = {}, [], set()
        self.hash_value = None
        self.incrs = 0
        self.tryagain = 0
        self.errors = []
        self.ops = 0

    def key(self, name):
        return "{%s}w%d_%s" % (self.tag, self.wid, name)

    def run(self):
        i = 0
        while not self.stop.is_set():
            op = i % 5
            try:
                if op == 0 and i % 7 == 0:
                    k = self.key("s%d" % ((i // 5) % 300))
                    self.c.delete(k)  # deleted keys must stay deleted
                    self.strings[k] = None
                elif op == 0:
                    k = self.key("s%d" % (i % 300))
                    self.c.set(k, "v%d" % i, px=3600000 if i % 2 else None)
                    self.strings[k] = b"v%d" % i
                elif op == 1:
                    self.c.rpush(self.key("list"), i)
                    self.list.append(str(i).encode())
                elif op == 2:
                    self.c.sadd(self.key("set"), i)
                    self.set.add(str(i).encode())
                elif op == 3:
                    self.c.hset(self.shared["hash"], "w%d" % self.wid, i)
                    self.hash_value = str(i).encode()
                else:
                    self.c.zincrby(self.shared["zset"], 1, "w%d" % self.wid)
                    self.incrs += 1
                self.ops += 1
            except Exception as exc:  # noqa: BLE001
                text = str(exc)
                if "TRYAGAIN" in text:
                    self.tryagain += 1
                elif "MOVED" in text:
                    return
                else:
                    self.errors.append(text)
                    return
            i += 1

    def check(self, c):
        for k, v in self.strings.items():
            assert c.get(k) == v, k
        assert c.lrange(self.key("list"), 0, -1) == self.list
        assert c.smembers(self.key("set")) == self.set
        assert c.hget(self.shared["hash"], "w%d" % self.wid) == self.hash_value
        score = c.zscore(self.shared["zset"], "w%d" % self.wid)
        assert (score or 0) == self.incrs


@pytest.mark.parametrize("mtype", ["redis-command", "raw-key-value"])
def test_migrate_busy_slot_with_concurrent_writers(server_factory, mtype):
    a, b = two_masters(server_factory, cfg_a={"migrate-type": mtype})
    slot = 777
    tag = tag_for_slot(slot)
    ca = a.client()
    pipe = ca.pipeline(transaction=False)
    for i in range(3000):
        pipe.set("{%s}s%d" % (tag, i), "x" * (i % 50), ex=3600 if i % 3 == 0 else None)
    pipe.execute()
    keys = fill_all_types(ca, tag, n=500)
    untouched = {k: snapshot(ca, k) for n, k in keys.items() if n not in ("hll", "hash", "zset")}
    untouched.update({"{%s}s%d" % (tag, i): snapshot(ca, "{%s}s%d" % (tag, i))
                      for i in range(0, 3000, 7)})
    hash_before = ca.hgetall(keys["hash"])
    hll_before = ca.pfcount(keys["hll"])
    ca.config_set("migrate-speed", "3000")
    ca.config_set("migrate-sequence-gap", "50")
    writers = [Writer(a, tag, w, keys) for w in range(3)]
    for w in writers:
        w.start()
    try:
        wait_until(lambda: all(w.ops > 10 for w in writers), timeout=10, msg="writers started")
        ok(migrate(a, slot, "b"))
        wait_state(a, "migrating_state", "success", timeout=60)
        # Every writer ends on MOVED once the slot is migrated.
        for w in writers:
            w.join(10)
            assert not w.is_alive(), "writer still running after success"
    finally:
        for w in writers:
            w.stop.set()
    for w in writers:
        assert not w.errors, w.errors[:3]
        assert w.ops > 50
    cb = b.client()
    for w in writers:
        w.check(cb)
    for k, want in untouched.items():
        assert snapshot(cb, k) == want, k
    h = cb.hgetall(keys["hash"])
    assert {k: v for k, v in h.items() if not k.startswith(b"w")} == hash_before
    assert cb.pfcount(keys["hll"]) == hll_before
    assert sorted(a.command("CLUSTER", "GETKEYSINSLOT", str(slot), "100000")) == \
        sorted(b.command("CLUSTER", "GETKEYSINSLOT", str(slot), "100000"))


# --- scenario 35: failures end in `fail`, the source serving and the destination clean ---

SLOW_SLOT = 3000
LIST_LEN = 20000


def slow_setup(server_factory, proxy_factory=None):
    """Masters a (all slots) and b (none; reached through a proxy when proxy_factory is
    given), a list of LIST_LEN elements in SLOW_SLOT, and migrate-speed 32 so that copying
    it takes about 40 s."""
    a = server_factory(cluster_config({"migrate-speed": "32"}), name="a")
    b = server_factory(cluster_config(), name="b")
    p = proxy_factory(b) if proxy_factory else None
    text = topology(master_line("a", a, "0-16383"),
                    "%s %s %d master -" % (node_id("b"), (p or b).host, (p or b).port))
    push([a, b], text, 1, setid={a: "a", b: "b"})
    key = "{%s}list" % tag_for_slot(SLOW_SLOT)
    c = a.client()
    for i in range(0, LIST_LEN, 1000):
        c.rpush(key, *range(i, i + 1000))
    return a, b, p, key


def start_slow(a, b, key):
    ok(migrate(a, SLOW_SLOT, "b"))
    assert info(a)["migrating_state"] == "start"
    # Some keys reached the destination's import link before the fault.
    wait_until(lambda: count_in_slot(b, SLOW_SLOT) == 1, timeout=10,
               msg="the list started arriving on the destination")


def assert_source_serves(a, key):
    c = a.client()
    assert c.llen(key) == LIST_LEN  # no MOVED, no TRYAGAIN, nothing lost
    c.rpush(key, "w")
    assert c.rpop(key) == b"w"


def retry_succeeds(a, b, key):
    a.client().config_set("migrate-speed", "0")
    ok(migrate(a, SLOW_SLOT, "b", "sync", "60"))
    assert info(a)["migrating_state"] == "success"
    assert b.client().llen(key) == LIST_LEN


def test_s35_destination_killed(server_factory):
    a, b, _, key = slow_setup(server_factory)
    start_slow(a, b, key)
    d = Deadline(60)
    b.kill9()
    wait_state(a, "migrating_state", "fail", timeout=5)
    assert 60 - d.remaining() < 5
    assert_source_serves(a, key)
    b.start()
    # The restarted destination never serves the partial copy (it does not own the slot) ...
    assert "MOVED" in error_text(call(b, "LLEN", key))
    # ... and a retry starts from an empty range there.
    retry_succeeds(a, b, key)


def test_s35_source_flushed(server_factory):
    a, b, _, key = slow_setup(server_factory)
    start_slow(a, b, key)
    a.client().flushall()
    wait_state(a, "migrating_state", "fail", timeout=5)
    wait_state(b, "import_state", "error", timeout=5)
    assert count_in_slot(b, SLOW_SLOT) == 0
    c = a.client()
    assert c.llen(key) == 0 and c.set(key, "x")  # served here, no MOVED


def test_s35_source_killed_destination_drops_keys(server_factory):
    a, b, _, key = slow_setup(server_factory)
    start_slow(a, b, key)
    a.kill9()
    wait_state(b, "import_state", "error", timeout=5)
    assert count_in_slot(b, SLOW_SLOT) == 0
    a.start()
    assert a.client().llen(key) == LIST_LEN
    retry_succeeds(a, b, key)


def test_s35_source_demoted_by_setnodes(server_factory):
    a, b, _, key = slow_setup(server_factory)
    start_slow(a, b, key)
    v2 = topology(master_line("b", b, "0-16383"), slave_line("a", a, "b"))
    d = Deadline(60)
    push([a, b], v2, 2)
    assert 60 - d.remaining() < 2
    wait_state(a, "migrating_state", "fail", timeout=5)
    wait_state(b, "import_state", "error", timeout=5)
    assert count_in_slot(b, SLOW_SLOT) == 0


def test_s35_network_blackhole(server_factory, proxy_factory):
    a, b, p, key = slow_setup(server_factory, proxy_factory)
    start_slow(a, b, key)
    d = Deadline(60)
    p.blackhole()
    # The source notices within its receive timeout (2 s in the tests) plus the 1 s bound
    # of the failure notice.
    wait_state(a, "migrating_state", "fail", timeout=8)
    assert 60 - d.remaining() < 8
    assert_source_serves(a, key)
    assert "[%d->-" % SLOW_SLOT not in a.command("CLUSTER", "NODES").decode()
    # Once the network heals, the destination's import link is gone: its keys are dropped.
    p.passthrough()
    p.drop_connections()
    wait_state(b, "import_state", "error", timeout=5)
    assert count_in_slot(b, SLOW_SLOT) == 0
    retry_succeeds(a, b, key)


def test_migrated_keys_stay_until_setslot_then_go(server_factory):
    a, b = two_masters(server_factory)
    tag = tag_for_slot(5)
    a.client().rpush("{%s}l" % tag, *range(100))
    ok(migrate(a, 5, "b", "sync"))
    assert count_in_slot(a, 5) == 1  # kept until the topology moves the slot
    assert "MOVED 5 " in error_text(call(a, "LLEN", "{%s}l" % tag))
    for s in (a, b):
        ok(s.command("CLUSTERX", "SETSLOT", "5", "NODE", node_id("b"), "2"))
    assert count_in_slot(a, 5) == 0
    assert b.client().llen("{%s}l" % tag) == 100
    assert "import_state" in info(b)


def test_migrate_empty_slot_and_ranges(server_factory):
    a, b = two_masters(server_factory)
    ok(migrate(a, 16383, "b", "sync"))  # nothing in it
    assert count_in_slot(b, 16383) == 0
    ca = a.client()
    for s in range(0, 10):
        ca.set("{%s}k" % tag_for_slot(s), "v%d" % s)
    ok(call(a, "CLUSTERX", "MIGRATE", "0-9", node_id("b"), "sync"))
    assert info(a)["migrating_slot(s)"] == "0-9"
    assert info(b)["importing_slot(s)"] == "0-9"
    cb = b.client()
    for s in range(0, 10):
        assert cb.get("{%s}k" % tag_for_slot(s)) == b"v%d" % s
    assert "has been migrated" in error_text(call(a, "CLUSTERX", "MIGRATE", "5-12",
                                                  node_id("b")))
    assert ca.set("{%s}k" % tag_for_slot(10), "still mine")


def test_migrate_with_requirepass(server_factory):
    a, b = two_masters(server_factory, cfg_b={"requirepass": "secret"})
    tag = tag_for_slot(42)
    a.client().set("{%s}k" % tag, "v")

    def migrate_as(password):
        c = a.client(password=password)
        try:
            return c.execute_command("CLUSTERX", "MIGRATE", "42", node_id("b"), "sync")
        except Exception as exc:  # noqa: BLE001 - the error reply
            return exc

    # The source authenticates with its own requirepass: none, or a different one, fails.
    assert "NOAUTH" in error_text(migrate_as(None))
    assert info(a)["migrating_state"] == "fail"
    a.client().config_set("requirepass", "wrong")
    assert "password" in error_text(migrate_as("wrong")).lower()
    assert info(a, password="wrong")["migrating_state"] == "fail"
    a.client(password="wrong").config_set("requirepass", "secret")
    assert migrate_as("secret") in (b"OK", True)
    assert b.client(password="secret").get("{%s}k" % tag) == b"v"


def test_migrate_to_a_stopped_destination_fails(server_factory):
    a, b = two_masters(server_factory)
    tag = tag_for_slot(99)
    a.client().set("{%s}k" % tag, "v")
    b.stop()
    d = Deadline(60)
    err = migrate(a, 99, "b", "sync")
    assert 60 - d.remaining() < 5
    assert "refused" in error_text(err).lower(), err
    assert info(a)["migrating_state"] == "fail"
    assert a.client().get("{%s}k" % tag) == b"v"  # still served here


class Blocked(threading.Thread):
    """A client blocked in BLPOP on `key` (timeout in seconds); `reply` holds what it got
    (a value, None on timeout, or the error text)."""

    def __init__(self, server, key, timeout):
        super().__init__(daemon=True)
        self.client = server.client(socket_timeout=timeout + 10)
        self.key, self.timeout = key, timeout
        self.reply = "not yet"

    def run(self):
        try:
            self.reply = self.client.blpop([self.key], timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - the error reply is what the test checks
            self.reply = str(exc)


def blocked_on(server, key, timeout=60):
    t = Blocked(server, key, timeout)
    before = int(server.client().info("clients")["blocked_clients"])
    t.start()
    wait_until(lambda: int(server.client().info("clients")["blocked_clients"]) > before,
               timeout=10, msg="the client to block")
    return t


def test_blocked_client_redirected_when_topology_moves_its_slot(server_factory):
    # Redis Cluster redirects a client blocked on a key whose slot the node stops serving;
    # waiting until the timeout (or forever) would strand it.
    a, b = two_masters(server_factory, slots_a="0-8000", slots_b="8001-16383")
    moving, staying = tag_for_slot(100), tag_for_slot(200)
    gone = blocked_on(a, "{%s}q" % moving)
    kept = blocked_on(a, "{%s}q" % staying)
    d = Deadline(60)
    push([a, b], topology(master_line("a", a, "0-99 101-8000"),
                          master_line("b", b, "100 8001-16383")), 2)
    gone.join(5)
    assert not gone.is_alive(), "the client blocked on a moved slot is still waiting"
    assert gone.reply.startswith("MOVED 100 %s:%d" % (b.host, b.port)), gone.reply
    assert 60 - d.remaining() < 5
    # The other client still waits and is served as before.
    assert kept.is_alive()
    a.client().rpush("{%s}q" % staying, "x")
    kept.join(5)
    assert kept.reply == (("{%s}q" % staying).encode(), b"x")
    # The redirected client's connection goes on working.
    assert gone.client.ping()


def test_blocked_client_redirected_when_its_slot_is_migrated(server_factory):
    a, b = two_masters(server_factory)
    tag = tag_for_slot(321)
    a.client().set("{%s}other" % tag, "v")  # something to migrate
    gone = blocked_on(a, "{%s}q" % tag)
    ok(migrate(a, 321, "b", "sync"))
    gone.join(5)
    assert not gone.is_alive(), "the client blocked on a migrated slot is still waiting"
    assert gone.reply.startswith("MOVED 321 %s:%d" % (b.host, b.port)), gone.reply
    # The list was never created on either side.
    assert b.client().exists("{%s}q" % tag) == 0


def test_blocked_client_keeps_waiting_on_unrelated_topology_change(server_factory):
    a, b = two_masters(server_factory, slots_a="0-8000", slots_b="8001-16383")
    key = "{%s}q" % tag_for_slot(5)
    t = blocked_on(a, key, timeout=2)
    push([a, b], topology(master_line("a", a, "0-7000"),
                          master_line("b", b, "7001-16383")), 2)
    # Still blocked after the reroute, and times out as asked (nil), not earlier.
    d = Deadline(10)
    t.join(8)
    assert not t.is_alive()
    assert t.reply is None
    assert d.remaining() < 10 - 0.5
