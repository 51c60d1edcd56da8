# SPDX-License-Identifier: Apache-2.0
"""CLUSTER / CLUSTERX / READONLY / READWRITE / ASKING and routing (kvrocks-notes 4.2-4.5,
Kvrocks's cluster_test.go): formats, errors, staleness, MOVED / CROSSSLOT / CLUSTERDOWN,
MULTI/EXEC and blocking pops under routing, nodes.conf, and the data-dir mode check."""
import os
import re

import pytest
import redis
from redis.crc import key_slot

from cluster.clusterutil import (cluster_config, error_text, master_line, node_id, setnodes,
                                 slave_line, topology, version)
from helpers.server import ServerError
from helpers.wait import wait_until

pytestmark = pytest.mark.cluster


def ok(reply):
    assert reply in (b"OK", "OK"), reply


def err(server, *args):
    with pytest.raises(redis.ResponseError) as e:
        server.command(*args)
    return str(e.value)


def test_cluster_commands_need_cluster_mode(server):
    for args in (("CLUSTER", "INFO"), ("CLUSTER", "NODES"), ("CLUSTERX", "VERSION")):
        assert err(server, *args) == "Cluster mode is not enabled"


def test_keyslot_matches_redis_hashing(server_factory):
    s = server_factory(cluster_config())
    keys = ["", "a", "foo", "{user1000}.following", "{}x", "a{b}c{d}", "\xff\x00z"] + \
        ["key:%d" % i for i in range(300)]
    c = s.client()
    for k in keys:
        raw = k.encode("latin-1")
        assert c.execute_command("CLUSTER", "KEYSLOT", raw) == key_slot(raw), k


def test_before_the_first_topology(server_factory):
    s = server_factory(cluster_config())
    assert s.command("CLUSTERX", "VERSION") == b"-1"
    assert s.command("CLUSTERX", "MYID") == b""
    assert err(s, "CLUSTER", "INFO") == "CLUSTERDOWN The cluster is not initialized"
    assert err(s, "CLUSTER", "NODES") == "CLUSTERDOWN The cluster is not initialized"
    assert err(s, "SET", "k", "v") == "CLUSTERDOWN Hash slot not served"
    assert s.command("PING") == b"PONG"  # commands without keys run


def test_setnodes_formats_and_errors(server_factory):
    s = server_factory(cluster_config())
    other = ("127.0.0.1", s.port + 1)
    text = topology(master_line("n1", s, "0-2", 4, "5-8193", 10000, "10002-11002", "16381-16383"),
                    master_line("n2", other, 3, "8194-9999"),
                    slave_line("n3", ("127.0.0.1", s.port + 2), "n2"))
    ok(setnodes(s, text, 2)[0])
    assert version(s) == 2
    assert s.command("CLUSTERX", "MYID").decode() == node_id("n1")  # found by bind address
    lines = s.command("CLUSTER", "NODES").decode().splitlines()
    assert len(lines) == 3
    mine = lines[0].split(" ")
    assert mine[:4] == [node_id("n1"), "127.0.0.1:%d@%d" % (s.port, s.port + 10000),
                        "myself,master", "-"]
    assert mine[6:8] == ["2", "connected"]
    assert " ".join(mine[8:]) == "0-2 4-8193 10000 10002-11002 16381-16383"
    slave = lines[2].split(" ")
    assert slave[2:4] == ["slave", node_id("n2")] and len(slave) == 8
    slots = s.client().execute_command("CLUSTER", "SLOTS")
    assert [(r[0], r[1]) for r in slots][:3] == [(0, 2), (3, 3), (4, 8193)]
    assert slots[1][2][:2] == [b"127.0.0.1", s.port + 1]
    assert slots[1][3][2] == node_id("n3").encode()  # the replica follows its master
    info = s.command("CLUSTER", "INFO").decode()
    for field in ("cluster_state:ok", "cluster_known_nodes:3", "cluster_size:2",
                  "cluster_current_epoch:2", "cluster_my_epoch:2",
                  "cluster_slots_assigned:%d" % (9198 + 1807)):
        assert field + "\r\n" in info, info
    shards = s.client().execute_command("CLUSTER", "SHARDS")
    assert len(shards) == 2
    second = dict(zip(shards[1][::2], shards[1][1::2]))
    assert second[b"slots"] == [3, 3, 8194, 9999]
    assert [dict(zip(n[::2], n[1::2]))[b"role"] for n in second[b"nodes"]] == \
        [b"master", b"replica"]
    replicas = s.command("CLUSTER", "REPLICAS", node_id("n2")).decode()
    assert replicas.count("\n") == 1 and " slave %s " % node_id("n2") in replicas
    assert s.command("CLUSTER", "REPLICAS", node_id("n1")) == b""
    assert err(s, "CLUSTER", "REPLICAS", node_id("n3")) == "The node isn't a master"
    assert err(s, "CLUSTER", "REPLICAS", node_id("zz")) == "Invalid cluster node id"

    def nodes_without_times():
        return [l.split(" ")[:4] + l.split(" ")[6:]
                for l in s.command("CLUSTER", "NODES").decode().splitlines()]

    before = nodes_without_times()
    # staleness first: a lower version is refused without looking at the text
    assert error_text(setnodes(s, "garbage", 1)[0]) == "Invalid cluster version"
    assert error_text(setnodes(s, text, -1)[0]) == "Invalid cluster version"
    ok(setnodes(s, "garbage", 2)[0])  # equal version: a no-op
    joined = "%s %s" % (master_line("n1", s, "0-100"), master_line("n2", other, "101-200"))
    assert "Missing newline" in error_text(setnodes(s, joined, 3)[0])
    overlap = topology(master_line("n1", s, "0-100"), master_line("n2", other, "100-200"))
    assert error_text(setnodes(s, overlap, 3)[0]) == "Slot distribution is overlapped"
    assert error_text(setnodes(s, "x 127.0.0.1 1 master -", 3)[0]) == "Invalid cluster node id"
    assert error_text(setnodes(s, text, 3, "forc")[0]) == "Invalid setnodes options"
    assert error_text(setnodes(s, text, "x")[0]) == "value is not an integer or out of range"
    assert "CLUSTERX" in err(s, "CLUSTERX", "NOSUCH")
    assert "CLUSTER" in err(s, "CLUSTER", "NOSUCH")
    assert version(s) == 2 and nodes_without_times() == before
    # force lowers the version
    ok(setnodes(s, master_line("n1", s, "0-200"), 1, "force")[0])
    assert version(s) == 1
    assert s.command("CLUSTER", "NODES").decode().split(" ")[8:] == ["0-200\n"]


def two_masters(server_factory, **cfg):
    a = server_factory(cluster_config(cfg), name="a")
    b = server_factory(cluster_config(cfg), name="b")
    text = topology(master_line("a", a, "0-8191"), master_line("b", b, "8192-16383"))
    for s, name in ((a, "a"), (b, "b")):
        ok(s.command("CLUSTERX", "SETNODEID", node_id(name)))
        ok(setnodes(s, text, 1)[0])
    return a, b


def key_in(lo, hi, prefix="k"):
    for i in range(100000):
        k = "%s%d" % (prefix, i)
        if lo <= key_slot(k.encode()) <= hi:
            return k
    raise AssertionError("no key")


def test_routing_moved_crossslot_multi_and_blocking(server_factory):
    a, b = two_masters(server_factory)
    ka, kb = key_in(0, 8191), key_in(8192, 16383)
    ca = a.client()
    ca.set(ka, "1")
    assert err(a, "SET", kb, "1") == "MOVED %d 127.0.0.1:%d" % (key_slot(kb.encode()), b.port)
    assert err(a, "GET", kb).startswith("MOVED %d " % key_slot(kb.encode()))
    with pytest.raises(redis.ResponseError, match="Keys in request don't hash to the same slot"):
        ca.execute_command("MSET", ka, "1", key_in(0, 8191, "z"), "2")
    ca.execute_command("MSET", "{%s}x" % ka, "1", "{%s}y" % ka, "2")  # one slot: fine
    assert ca.get("{%s}y" % ka) == b"2"
    # MULTI over several slots of this node runs; a MOVED command aborts EXEC, nothing changes
    ka2 = key_in(0, 8191, "q")
    p = ca.pipeline(transaction=True)
    p.set(ka, "m1").set(ka2, "m2")
    assert p.execute() == [True, True]
    conn = redis.Connection(host=a.host, port=a.port, socket_timeout=5)
    try:
        replies = []
        for args in (("MULTI",), ("SET", ka, "changed"), ("SET", kb, "x"), ("EXEC",)):
            conn.send_command(*args)
            try:
                replies.append(conn.read_response())
            except redis.ResponseError as e:
                replies.append(str(e))
    finally:
        conn.disconnect()
    assert replies[:2] == [b"OK", b"QUEUED"]
    assert replies[2].startswith("MOVED ")
    assert replies[3].startswith("Transaction discarded"), replies
    assert ca.get(ka) == b"m1"
    # blocking pops are routed as well
    with pytest.raises(redis.ResponseError, match="MOVED"):
        ca.blpop([kb], timeout=1)
    with pytest.raises(redis.ResponseError, match="Keys in request don't hash to the same slot"):
        ca.blpop([ka, ka2], timeout=1)
    ca.rpush(ka + "l", "v") if key_slot((ka + "l").encode()) <= 8191 else None
    # an unowned slot after a topology that leaves a gap
    text = topology(master_line("a", a, "0-8191"), master_line("b", b, "8192-16000"))
    ok(setnodes(a, text, 2)[0])
    k_gap = key_in(16001, 16383)
    assert err(a, "GET", k_gap) == "CLUSTERDOWN Hash slot not served"
    # ASKING covers one command, and without an import it changes nothing
    ok(a.command("ASKING"))


def test_readonly_reads_on_a_replica(server_factory):
    m = server_factory(cluster_config(), name="m")
    r = server_factory(cluster_config(), name="r")
    text = topology(master_line("m", m, "0-16383"), slave_line("r", r, "m"))
    for s, name in ((m, "m"), (r, "r")):
        ok(s.command("CLUSTERX", "SETNODEID", node_id(name)))
        ok(setnodes(s, text, 1)[0])
    m.client().set("foo", "bar")
    wait_until(lambda: r.info("replication").get("master_link_status") == "up", timeout=10)
    slot = key_slot(b"foo")
    wait_until(lambda: r.info("replication").get("slave_repl_offset") ==
               m.info("replication").get("master_repl_offset"), timeout=10)
    conn = redis.Connection(host=r.host, port=r.port, socket_timeout=5)
    try:
        conn.send_command("GET", "foo")
        with pytest.raises(redis.ResponseError, match="MOVED %d 127.0.0.1:%d" % (slot, m.port)):
            conn.read_response()
        conn.send_command("READONLY")
        assert conn.read_response() == b"OK"
        conn.send_command("GET", "foo")
        assert conn.read_response() == b"bar"
        conn.send_command("SET", "foo", "x")  # writes are always redirected
        with pytest.raises(redis.ResponseError, match="MOVED"):
            conn.read_response()
        conn.send_command("READWRITE")
        assert conn.read_response() == b"OK"
        conn.send_command("GET", "foo")
        with pytest.raises(redis.ResponseError, match="MOVED"):
            conn.read_response()
    finally:
        conn.disconnect()


def test_setslot_versions(server_factory):
    a, b = two_masters(server_factory)
    k0 = key_in(0, 0, "s")
    assert err(b, "SET", k0, "1") == "MOVED 0 127.0.0.1:%d" % a.port
    for s in (a, b):
        ok(s.command("CLUSTERX", "SETSLOT", "0", "NODE", node_id("b"), "2"))
    assert version(a) == 2 and version(b) == 2
    b.client().set(k0, "1")
    slots = a.client().execute_command("CLUSTER", "SLOTS")
    assert (slots[0][0], slots[0][1], slots[0][2][1]) == (0, 0, b.port)
    ok(a.command("CLUSTERX", "SETSLOT", "1-3 4", "NODE", node_id("b"), "3"))
    for bad in ("5", "3", "-1"):
        assert "version" in err(a, "CLUSTERX", "SETSLOT", "9", "NODE", node_id("b"), bad)
    assert version(a) == 3
    assert err(a, "CLUSTERX", "SETSLOT", "16384", "NODE", node_id("b"), "4") == \
        "Invalid slot id: out of numeric range"
    assert err(a, "CLUSTERX", "SETSLOT", "9-2", "NODE", node_id("b"), "4") == \
        "Invalid slot range"
    assert err(a, "CLUSTERX", "SETSLOT", "9", "NOD", node_id("b"), "4") == \
        "Invalid setslot options"
    assert err(a, "CLUSTERX", "SETSLOT", "9", "NODE", node_id("zz"), "4") == \
        "No this node in the cluster"
    assert version(a) == 3


def test_countkeysinslot_and_getkeysinslot(server_factory):
    s = server_factory(cluster_config())
    ok(setnodes(s, master_line("me", s, "0-16383"), 1)[0])
    c = s.client()
    keys = ["{tag}%d" % i for i in range(25)]
    for k in keys:
        c.set(k, "v")
    c.set("other", "v")
    c.set("{tag}expired", "v", px=1)
    slot = key_slot(b"{tag}")
    wait_until(lambda: c.get("{tag}expired") is None, timeout=5)
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 25
    got = c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10)
    assert len(got) == 10 and set(got) <= {k.encode() for k in keys}
    assert sorted(c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)) == \
        sorted(k.encode() for k in keys)
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", (slot + 1) % 16384) == \
        (1 if key_slot(b"other") == (slot + 1) % 16384 else 0)
    assert err(s, "CLUSTER", "COUNTKEYSINSLOT", "16384") == "Invalid slot"
    assert err(s, "CLUSTER", "COUNTKEYSINSLOT", "x") == "value is not an integer or out of range"
    assert err(s, "CLUSTER", "GETKEYSINSLOT", "1", "-1") == "Invalid slot or number of keys"


def test_reset_and_nodes_conf(server_factory):
    s = server_factory(cluster_config())
    conf = os.path.join(s.dir, "nodes.conf")
    ok(setnodes(s, master_line("me", s, "0-16383"), 3)[0])
    with open(conf) as f:
        text = f.read()
    assert text.startswith("version 3\nid %s\n" % node_id("me")), text
    s.client().set("k", "v")
    assert err(s, "CLUSTER", "RESET") == "Can't reset cluster while database is not empty"
    assert version(s) == 3 and os.path.exists(conf)
    s.client().delete("k")
    ok(s.command("CLUSTER", "RESET", "SOFT"))
    assert version(s) == -1 and s.command("CLUSTERX", "MYID") == b""
    assert not os.path.exists(conf)


def test_persist_cluster_nodes_enabled(server_factory):
    s = server_factory(cluster_config())
    conf = os.path.join(s.dir, "nodes.conf")
    text = topology(master_line("me", s, "0-10", "12-16383"), master_line("o", ("h", 1), 11))
    ok(setnodes(s, text, 2)[0])
    nodes = s.command("CLUSTER", "NODES").decode()
    s.restart()
    assert version(s) == 2
    assert [l.split(" ")[8:] + l.split(" ")[:3] for l in
            s.command("CLUSTER", "NODES").decode().splitlines()] == \
        [l.split(" ")[8:] + l.split(" ")[:3] for l in nodes.splitlines()]
    ok(s.command("CONFIG", "SET", "persist-cluster-nodes-enabled", "no"))
    assert not os.path.exists(conf)
    s.restart()
    assert version(s) == -1


def test_corrupt_nodes_conf_stops_start_up(server_factory):
    s = server_factory(cluster_config())
    ok(setnodes(s, master_line("me", s, "0-16383"), 1)[0])
    s.stop()
    with open(os.path.join(s.dir, "nodes.conf"), "w") as f:
        f.write("version 4\nnode zz\n")
    with pytest.raises(ServerError):
        s.start(timeout=10)
    assert re.search(r"nodes\.conf: line 2", s.log_text())


@pytest.mark.parametrize("first_cluster", [True, False], ids=["cluster-then-plain",
                                                                "plain-then-cluster"])
def test_data_dir_of_the_other_mode_is_refused(server_factory, first_cluster):
    cfg = cluster_config() if first_cluster else {}
    s = server_factory(cfg)
    if first_cluster:
        ok(setnodes(s, master_line("me", s, "0-16383"), 1)[0])
    s.client().set("k", "v")
    s.stop()
    other = {"cluster-enabled": "no" if first_cluster else "yes"}
    s.set_config(other)
    with pytest.raises(ServerError):
        s.start(timeout=10)
    assert "cluster" in s.log_text().lower()
    s.set_config({"cluster-enabled": "yes" if first_cluster else "no"})
    s.start()
    assert s.client().get("k") == b"v"


def test_slaveof_refused_in_cluster_mode(server_factory):
    s = server_factory(cluster_config())
    assert err(s, "SLAVEOF", "127.0.0.1", "1") == "can't change to slave in cluster mode"
    assert s.info("replication")["role"] == "master"


def test_a_topology_that_makes_a_node_replicate_itself_is_refused(server_factory):
    s = server_factory(cluster_config())
    ok(s.command("CLUSTERX", "SETNODEID", node_id("me")))
    ok(setnodes(s, master_line("me", s, "0-16383"), 1)[0])
    # another id claims my address, and I am told to follow it
    text = topology(master_line("ghost", s, "0-16383"), slave_line("me", ("127.0.0.1", 1), "ghost"))
    assert error_text(setnodes(s, text, 2)[0]) == "can't replicate itself"
    assert version(s) == 1 and s.info("replication")["role"] == "master"
