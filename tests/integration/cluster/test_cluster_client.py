# SPDX-License-Identifier: Apache-2.0
"""A 3-master / 3-replica cluster built only with CLUSTERX SETNODES, driven by redis-py's
RedisCluster client: a mixed workload with checked results, reads from replicas, and a
failover pushed by SETNODES under write load (acknowledged writes lost are counted)."""
import random
import threading

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException

from cluster.clusterutil import (cluster_config, master_line, push, slave_line, topology,
                                 wait_role)
from helpers.wait import wait_until
from repl.replutil import wait_consistent

pytestmark = pytest.mark.cluster

RANGES = ("0-5460", "5461-10922", "10923-16383")


def six_nodes(server_factory):
    srv = {nm: server_factory(cluster_config(), name=nm)
           for nm in ("m1", "m2", "m3", "s1", "s2", "s3")}
    lines = [master_line("m%d" % i, srv["m%d" % i], RANGES[i - 1]) for i in (1, 2, 3)]
    lines += [slave_line("s%d" % i, srv["s%d" % i], "m%d" % i) for i in (1, 2, 3)]
    push(list(srv.values()), topology(*lines), 1)
    for i in (1, 2, 3):
        wait_role(srv["s%d" % i], srv["m%d" % i])
    return srv


def client_for(srv, **kw):
    m1 = srv["m1"]
    return RedisCluster(startup_nodes=[ClusterNode(m1.host, m1.port)], socket_timeout=10,
                        socket_connect_timeout=5, **kw)


def test_redis_cluster_client_mixed_workload(server_factory):
    srv = six_nodes(server_factory)
    rc = client_for(srv)
    try:
        rng = random.Random(7)
        strings, counters, hashes, lists, sets = {}, {}, {}, {}, {}
        for i in range(400):
            op = rng.randrange(6)
            k = "key:%d" % rng.randrange(120)
            if op == 0:
                strings["s" + k] = str(i)
                assert rc.set("s" + k, str(i))
            elif op == 1:
                counters["c" + k] = counters.get("c" + k, 0) + 3
                assert rc.incrby("c" + k, 3) == counters["c" + k]
            elif op == 2:
                hashes.setdefault("h" + k, {})["f%d" % (i % 5)] = str(i)
                rc.hset("h" + k, "f%d" % (i % 5), str(i))
            elif op == 3:
                lists.setdefault("l" + k, []).append(str(i))
                assert rc.rpush("l" + k, str(i)) == len(lists["l" + k])
            elif op == 4:
                sets.setdefault("z" + k, set()).add(str(i % 7))
                rc.sadd("z" + k, str(i % 7))
            else:
                tag = "{t%d}" % (i % 9)
                rc.mset({tag + "a": str(i), tag + "b": str(-i)})
                strings[tag + "a"], strings[tag + "b"] = str(i), str(-i)
        for k, v in strings.items():
            assert rc.get(k) == v.encode(), k
        for k, v in counters.items():
            assert int(rc.get(k)) == v, k
        for k, v in hashes.items():
            assert rc.hgetall(k) == {f.encode(): x.encode() for f, x in v.items()}, k
        for k, v in lists.items():
            assert rc.lrange(k, 0, -1) == [x.encode() for x in v], k
        for k, v in sets.items():
            assert rc.smembers(k) == {x.encode() for x in v}, k
        # a multi-key command across slots is refused by the client or the server
        with pytest.raises((RedisClusterException, redis.ResponseError)):
            rc.execute_command("MSET", "x1", "1", "x2", "2")
        # every key landed on the master owning its slot, and each replica has its master's data
        total = sum(srv["m%d" % i].client().dbsize() for i in (1, 2, 3))
        assert total == len(strings) + len(counters) + len(hashes) + len(lists) + len(sets)
        for i in (1, 2, 3):
            wait_consistent(srv["m%d" % i], srv["s%d" % i])
        ro = client_for(srv, read_from_replicas=True)
        try:
            for k, v in list(strings.items())[:50]:
                assert ro.get(k) == v.encode(), k
        finally:
            ro.close()
    finally:
        rc.close()


class AckWriter(threading.Thread):
    """RPUSH log<w>:{<n % 3>} n through the cluster client; remembers every acknowledged n."""

    def __init__(self, srv, wid):
        super().__init__(daemon=True, name="ack-writer-%d" % wid)
        self.wid = wid
        self.rc = client_for(srv, cluster_error_retry_attempts=10)
        self.acked = []
        self.failed = 0
        self.stop_evt = threading.Event()

    def run(self):
        n = 0
        while not self.stop_evt.is_set():
            try:
                self.rc.rpush("log%d:{%d}" % (self.wid, n % 3), n)
                self.acked.append(n)
            except redis.RedisError:
                self.failed += 1
            n += 1

    def stop(self):
        self.stop_evt.set()
        self.join(30)
        self.rc.close()


@pytest.mark.parametrize("order", ["all-at-once", "promote-first"])
def test_failover_by_setnodes_under_write_load(server_factory, order):
    """all-at-once: the controller pushes v2 to every node in parallel; promote-first: to the new
    master first, then to the others one by one (the widest window in which the old master
    still acknowledges writes the new one will never have)."""
    srv = six_nodes(server_factory)
    writers = [AckWriter(srv, i) for i in range(3)]
    for w in writers:
        w.start()

    def acked():
        return sum(len(w.acked) for w in writers)

    try:
        wait_until(lambda: acked() >= 600, timeout=20)
        # v2: s1 promoted, m1 demoted to its replica (what a controller does on failover)
        lines = [master_line("s1", srv["s1"], RANGES[0]),
                 master_line("m2", srv["m2"], RANGES[1]),
                 master_line("m3", srv["m3"], RANGES[2]),
                 slave_line("m1", srv["m1"], "s1"),
                 slave_line("s2", srv["s2"], "m2"), slave_line("s3", srv["s3"], "m3")]
        at = acked()
        if order == "all-at-once":
            push(list(srv.values()), topology(*lines), 2)
        else:
            for nm in ("s1", "m1", "m2", "m3", "s2", "s3"):
                push([srv[nm]], topology(*lines), 2)
        wait_until(lambda: acked() >= at + 600, timeout=30)
    finally:
        for w in writers:
            w.stop()
    wait_role(srv["m1"], srv["s1"], timeout=10)
    rc = client_for(srv)
    lost = []
    try:
        for w in writers:
            present = set()
            for shard in range(3):
                present.update(int(x) for x in rc.lrange("log%d:{%d}" % (w.wid, shard), 0, -1))
            lost += [(w.wid, n) for n in sorted(set(w.acked) - present)]
    finally:
        rc.close()
    print("failover (%s): %d writes acknowledged, %d failed, %d acknowledged writes lost: %s"
          % (order, acked(), sum(w.failed for w in writers), len(lost), lost[:20]))
    # Asynchronous replication may lose what m1 acknowledged after s1 stopped following it:
    # only keys of m1's old slots, only a short tail of each writer's writes there.
    for wid, n in lost:
        assert key_slot(("log%d:{%d}" % (wid, n % 3)).encode()) <= 5460, (wid, n)
    assert len(lost) <= 100, lost
    wait_consistent(srv["s1"], srv["m1"])
