# SPDX-License-Identifier: Apache-2.0
"""Cluster-mode reliability scenarios (reference/scenarios.md 13 and 30-34), each with several
real processes, plus the bound on SETNODES while the old master is blackholed mid full sync."""
import os
import threading

import pytest
import redis
from redis.crc import key_slot

from cluster.clusterutil import (call, cluster_config, error_text, master_line, node_id, push,
                                 role_of, setnodes, slave_line, topology, version, wait_role)
from helpers.wait import Deadline, wait_until
from repl.replutil import (PURGE_WAL_CONFIG, STRETCH_CONFIG, Prober, bounded, counters,
                           cpu_seconds, delta, fill_values, purge_wal_and_restart,
                           repl, timed_command, wait_consistent)

pytestmark = pytest.mark.cluster


def ok(reply):
    assert reply in (b"OK", "OK"), reply


def nodes_without_times(server):
    return sorted(l.split(" ")[:4] + l.split(" ")[6:]
                  for l in server.command("CLUSTER", "NODES").decode().splitlines())


def read_file(path):
    with open(path) as f:
        return f.read()


def test_s13_cluster_replica_restarted_gets_updates_to_existing_keys(server_factory,
                                                                      proxy_factory):
    m = server_factory(cluster_config(), name="m")
    p = proxy_factory(m)  # the replica reaches its master through p (topology names p)
    r = server_factory(cluster_config(), name="r")
    text = topology(master_line("m", p, "0-16383"), slave_line("r", r, "m"))
    push([m, r], text, 1, setid={m: "m", r: "r"})
    wait_role(r, p)
    c = m.client()
    c.set("k0", "v0")
    c.rpush("k1", "a", "b")
    wait_consistent(m, r)
    seq_before = int(r.info("replication")["master_repl_offset"])
    r.stop()
    c.set("k0", "v1")
    c.hset("k2", mapping={"f1": "1", "f2": "2"})
    before = counters(m)
    # Keep the link down while R starts: its sequence right after start-up must be the one it
    # stopped with (no start-up housekeeping may write to a replica's DB).
    p.blackhole()
    r.start()
    assert version(r) == 1  # the role came from nodes.conf, not from a controller
    seq_on_disk = int(r.info("replication")["master_repl_offset"])
    p.passthrough()
    p.drop_connections()
    wait_role(r, p, timeout=20)
    wait_consistent(m, r)
    rc = r.client()
    assert rc.execute_command("READONLY") in (b"OK", True)
    assert rc.get("k0") == b"v1"
    assert rc.hgetall("k2") == {b"f1": b"1", b"f2": b"2"}
    d = delta(before, counters(m))
    assert d["sync_full"] == 0 and d["sync_partial_ok"] >= 1, d
    assert seq_on_disk == seq_before, (seq_on_disk, seq_before)


def test_s30_stale_topology_is_refused_without_side_effects(server_factory):
    m1 = server_factory(cluster_config(), name="m1")
    m2 = server_factory(cluster_config(), name="m2")
    n = server_factory(cluster_config(), name="n")
    v5 = topology(master_line("m1", m1, "0-8191"), master_line("m2", m2, "8192-16383"),
                  slave_line("n", n, "m1"))
    push([m1, m2, n], v5, 5)
    wait_role(n, m1)
    conf = os.path.join(n.dir, "nodes.conf")
    nodes0, file0, c0 = nodes_without_times(n), read_file(conf), counters(m1)
    role0 = role_of(n)

    def unchanged(expect_version=5):
        assert version(n) == expect_version
        assert role_of(n) == role0
        assert delta(c0, counters(m1)) == {"sync_full": 0, "sync_partial_ok": 0,
                                            "sync_partial_err": 0}
        assert int(m1.info("replication")["connected_slaves"]) == 1

    # v4 names m2 as n's master and moves slots: refused before parsing
    v4 = topology(master_line("m1", m1, "0-100"), master_line("m2", m2, "101-16383"),
                  slave_line("n", n, "m2"))
    assert error_text(setnodes(n, v4, 4)[0]) == "Invalid cluster version"
    unchanged()
    assert nodes_without_times(n) == nodes0 and read_file(conf) == file0
    # the same version with another body: +OK and nothing changes
    ok(setnodes(n, v4, 5)[0])
    unchanged()
    assert nodes_without_times(n) == nodes0 and read_file(conf) == file0
    # a malformed body at a higher version: refused, nothing applied
    bad = v4 + "\n" + master_line("m3", ("127.0.0.1", 1), "5-6")  # overlaps m1's slots
    assert error_text(setnodes(n, bad, 6)[0]) == "Slot distribution is overlapped"
    unchanged()
    assert nodes_without_times(n) == nodes0 and read_file(conf) == file0
    # SETSLOT needs exactly current + 1
    assert "version" in error_text(call(n, "CLUSTERX", "SETSLOT", "0", "NODE", node_id("m2"),
                                        "7"))
    unchanged()
    ok(n.command("CLUSTERX", "SETSLOT", "0", "NODE", node_id("m2"), "6"))
    unchanged(6)
    assert "version 6\n" in read_file(conf)


def test_s31_out_of_order_topologies_cannot_create_cycles(server_factory):
    a = server_factory(cluster_config(), name="a")
    b = server_factory(cluster_config(), name="b")
    n = server_factory(cluster_config(), name="n")
    v1 = topology(master_line("a", a, "0-8191"), slave_line("b", b, "a"),
                  master_line("n", n, "8192-16383"))
    push([a, b, n], v1, 1)
    wait_role(b, a)
    low = [("k%d" % i).encode() for i in range(1000) if key_slot(("k%d" % i).encode()) <= 8191]
    a.client().set(low[0], b"1")
    wait_consistent(a, b)
    # v2: failover, b becomes the master of a; delivered to a and b only (held for n)
    v2 = topology(master_line("b", b, "0-8191"), slave_line("a", a, "b"),
                  master_line("n", n, "8192-16383"))
    push([a, b], v2, 2)
    # v3: n gives slots 8192-9000 to b
    v3 = topology(master_line("b", b, "0-9000"), slave_line("a", a, "b"),
                  master_line("n", n, "9001-16383"))
    push([a, b, n], v3, 3)
    # the held v2 finally reaches n: stale
    assert error_text(setnodes(n, v2, 2)[0]) == "Invalid cluster version"
    assert [version(s) for s in (a, b, n)] == [3, 3, 3]
    wait_role(a, b)
    wait_role(b)
    wait_role(n)
    for s in (a, b, n):
        host, port = role_of(s)[1:3]
        assert (host, port) != (s.host, s.port)
    # clients are sent to the v3 owners
    k = next("k%d" % i for i in range(10000) if 8192 <= key_slot(b"k%d" % i) <= 9000)
    with pytest.raises(redis.ResponseError, match="MOVED %d 127.0.0.1:%d" % (key_slot(k.encode()),
                                                                            b.port)):
        n.client().get(k)
    # forced mutual case: a is told it follows b, b that it follows a (each text is valid)
    ta = topology(master_line("b", b, "0-9000"), slave_line("a", a, "b"),
                  master_line("n", n, "9001-16383"))
    tb = topology(master_line("a", a, "0-9000"), slave_line("b", b, "a"),
                  master_line("n", n, "9001-16383"))
    ok(setnodes(a, ta, 10)[0])
    ok(setnodes(b, tb, 10)[0])
    wait_until(lambda: role_of(b)[0] == "slave", timeout=5)
    cpu0 = {s.name: cpu_seconds(s) for s in (a, b)}
    links0 = {s.name: counters(s) for s in (a, b)}
    # observe for 3 s: no reconnect storm, no busy loop
    window = Deadline(3)

    def quiet_until_the_window_ends():
        for s in (a, b):
            d = delta(links0[s.name], counters(s))
            assert sum(d.values()) <= 3, (s.name, d)
        return window.expired()

    wait_until(quiet_until_the_window_ends, timeout=5, interval=0.2, ignore=())
    for s in (a, b):
        assert cpu_seconds(s) - cpu0[s.name] < 1.0, s.name
    # a correct topology with a higher version repairs it
    v11 = topology(master_line("a", a, "0-9000"), slave_line("b", b, "a"),
                   master_line("n", n, "9001-16383"))
    push([a, b, n], v11, 11)
    wait_role(a)
    wait_role(b, a)
    a.client().set(low[1], b"2")
    wait_consistent(a, b)


def test_s32_role_transitions_start_and_stop_replication(server_factory):
    names = ["m1", "m2", "m3", "s1", "s2", "s3"]
    srv = {nm: server_factory(cluster_config(), name=nm) for nm in names}
    m1, m2, m3, s1, s2, s3 = (srv[nm] for nm in names)
    v1 = topology(master_line("m1", m1, "0-5460"), master_line("m2", m2, "5461-10922"),
                  master_line("m3", m3, "10923-16383"), slave_line("s1", s1, "m1"),
                  slave_line("s2", s2, "m2"), slave_line("s3", s3, "m3"))
    push(list(srv.values()), v1, 1)
    for s, m in ((s1, m1), (s2, m2), (s3, m3)):
        wait_role(s, m)
    for m in (m1, m2, m3):
        wait_role(m)
    # v2: s1 promoted, m1 demoted under it
    v2 = topology(master_line("s1", s1, "0-5460"), master_line("m2", m2, "5461-10922"),
                  master_line("m3", m3, "10923-16383"), slave_line("m1", m1, "s1"),
                  slave_line("s2", s2, "m2"), slave_line("s3", s3, "m3"))
    push(list(srv.values()), v2, 2)
    wait_role(s1, timeout=5)
    wait_role(m1, s1, timeout=5)
    # v3: s2 leaves the topology
    v3 = topology(master_line("s1", s1, "0-5460"), master_line("m2", m2, "5461-10922"),
                  master_line("m3", m3, "10923-16383"), slave_line("m1", m1, "s1"),
                  slave_line("s3", s3, "m3"))
    push(list(srv.values()), v3, 3)
    wait_role(s2, timeout=5)
    wait_until(lambda: int(m2.info("replication")["connected_slaves"]) == 0, timeout=5)
    k = next("k%d" % i for i in range(10000) if 5461 <= key_slot(b"k%d" % i) <= 10922)
    with pytest.raises(redis.ResponseError, match="MOVED %d 127.0.0.1:%d" % (key_slot(k.encode()),
                                                                            m2.port)):
        s2.client().get(k)
    # v4: s2 comes back under m3
    v4 = v3 + "\n" + slave_line("s2", s2, "m3")
    push(list(srv.values()), v4, 4)
    wait_role(s2, m3, timeout=5)
    wait_until(lambda: int(m3.info("replication")["connected_slaves"]) == 2, timeout=5)
    m3c = m3.client()
    k3 = next("k%d" % i for i in range(10000) if key_slot(b"k%d" % i) >= 10923)
    m3c.set(k3, "x")
    wait_consistent(m3, s2)
    wait_consistent(m3, s3)


def test_s33_topology_persisted_replica_resumes_alone(server_factory):
    m = server_factory(cluster_config(), name="m")
    r = server_factory(cluster_config(), name="r")
    v2 = topology(master_line("m", m, "0-16383"), slave_line("r", r, "m"))
    push([m, r], v2, 2)
    wait_role(r, m)
    m.client().set("a", "1")
    wait_consistent(m, r)
    nodes0 = nodes_without_times(r)
    r.kill9()
    m.client().set("a", "2")
    m.client().set("b", "3")
    before = counters(m)
    r.start()
    assert version(r) == 2
    assert nodes_without_times(r) == nodes0
    wait_role(r, m, timeout=20)
    wait_consistent(m, r)
    d = delta(before, counters(m))
    assert d == {"sync_full": 0, "sync_partial_ok": 1, "sync_partial_err": 0}, d

    # kill -9 during a SETNODES storm: nodes.conf holds one whole version, old or new
    stop = threading.Event()
    sent = []

    def storm():
        v = 3
        while not stop.is_set():
            try:
                r.command("CLUSTERX", "SETNODES", v2, str(v), timeout=2)
                sent.append(v)
            except Exception:  # noqa: BLE001 - the process was killed under us
                return
            v += 1

    t = threading.Thread(target=storm, daemon=True)
    t.start()
    wait_until(lambda: len(sent) >= 20, timeout=10)
    r.kill9()
    stop.set()
    t.join(10)
    r.start()
    got = version(r)
    assert sent[-1] <= got <= sent[-1] + 1, (got, sent[-1])
    wait_role(r, m, timeout=20)


def _stretched_master(server_factory, values=40):
    m = server_factory(cluster_config(STRETCH_CONFIG, PURGE_WAL_CONFIG), name="m")
    push([m], master_line("m", m, "0-16383"), 1, setid={m: "m"})
    fill_values(m, values, 100_000, prefix="m:")
    purge_wal_and_restart(m)
    return m


def test_s34_cluster_commands_while_a_replica_restores(server_factory):
    m = _stretched_master(server_factory)
    r = server_factory(cluster_config({"slave-empty-db-before-fullsync": "yes"}), name="r")
    v2 = topology(master_line("m", m, "0-16383"), slave_line("r", r, "m"))
    ok(r.command("CLUSTERX", "SETNODEID", node_id("r")))
    push([m, r], v2, 2)
    wait_until(lambda: r.info("persistence")["loading"] == 1, timeout=10, interval=0.02)
    limit = bounded(1.0)
    for args in (("CLUSTERX", "VERSION"), ("CLUSTER", "NODES"), ("CLUSTER", "INFO"),
                 ("INFO", "replication"), ("GET", "m:1")):
        reply, elapsed = timed_command(r, *args)
        assert elapsed < limit, (args, elapsed)
        if args[0] == "GET":
            assert "LOADING" in repr(reply) or isinstance(reply, redis.BusyLoadingError), reply
        else:
            assert not isinstance(reply, Exception), (args, reply)
    assert r.command("CLUSTERX", "VERSION") == b"2"
    # a newer topology with the same roles is accepted during the restore
    v3 = v2 + "\n" + master_line("x", ("127.0.0.1", 1))
    reply, elapsed = timed_command(r, "CLUSTERX", "SETNODES", v3, "3")
    assert reply == b"OK" and elapsed < limit, (reply, elapsed)
    ok(m.command("CLUSTERX", "SETNODES", v3, "3"))
    assert r.command("CLUSTERX", "VERSION") == b"3"
    wait_role(r, m, timeout=60)
    wait_consistent(m, r, timeout=30)
    assert r.info("persistence")["loading"] == 0
    assert version(r) == 3


def test_setnodes_returns_at_once_when_the_old_master_is_blackholed(server_factory,
                                                                     proxy_factory):
    m = _stretched_master(server_factory)
    p = proxy_factory(m)
    r = server_factory(cluster_config(), name="r")
    other = server_factory(cluster_config(), name="o")
    v2 = topology(master_line("m", p, "0-16383"), slave_line("r", r, "m"),
                  master_line("o", other))
    push([m, r, other], v2, 2, setid={m: "m", r: "r", other: "o"})
    wait_until(lambda: r.info("replication").get("master_sync_in_progress") == 1 or
               os.path.isdir(os.path.join(r.dir, "sync_checkpoint")), timeout=10,
               interval=0.02)
    p.blackhole()
    prober = Prober(r)
    prober.start()
    try:
        # v3: r now follows o (the old master is dead to it); v4: r becomes a master
        v3 = topology(master_line("m", p, "0-16383"), slave_line("r", r, "o"),
                      master_line("o", other))
        reply, elapsed = setnodes(r, v3, 3)
        ok(reply)
        assert elapsed < bounded(1.0), elapsed
        wait_role(r, other, timeout=10)
        v4 = topology(master_line("m", p, "0-8191"), master_line("r", r, "8192-16383"),
                      master_line("o", other))
        reply, elapsed = setnodes(r, v4, 4)
        ok(reply)
        assert elapsed < bounded(1.0), elapsed
        wait_role(r, timeout=5)
        wait_until(lambda: prober.count > 0, timeout=5)  # r now serves probe:key's slot
    finally:
        prober.stop()
    assert prober.worst < bounded(1.0), prober.worst
    # r serves no slot here: MOVED is its answer; anything else (timeouts) is a failure
    assert all("MOVED" in e for e in prober.errors), prober.errors[:3]
