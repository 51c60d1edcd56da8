# SPDX-License-Identifier: Apache-2.0
"""PUBLISH across replication: a message published on the master is written to the pubsub
column family and reaches the replica's subscribers through the WAL stream (Kvrocks' model);
a message published on a replica reaches only that replica's subscribers and writes nothing,
so the replica's sequence stays its master's.
"""
import pytest

from raw_resp import RawConn, cmd
from helpers.wait import wait_until
from repl.replutil import offset, wait_consistent

pytestmark = pytest.mark.repl


def _subscribe(conn, kind, name):
    conn.send(cmd(kind, name))
    assert conn.read()[:2] == [kind.lower().encode(), name.encode()]


def test_master_messages_reach_replica_subscribers_and_replica_publish_stays_local(
        master, replica_of):
    m = master(workers=4)
    r = replica_of(m, workers=4)
    with RawConn(m.port) as on_master, RawConn(r.port) as on_replica, \
            RawConn(r.port) as pattern_sub:
        _subscribe(on_master, "SUBSCRIBE", "ch")
        _subscribe(on_replica, "SUBSCRIBE", "ch")
        _subscribe(pattern_sub, "PSUBSCRIBE", "c*")
        mc = m.client()
        # Receivers are counted on the publishing node only.
        for i in range(20):
            assert mc.publish("ch", "m%d" % i) == 1
        for i in range(20):
            assert on_master.read() == [b"message", b"ch", b"m%d" % i]
            assert on_replica.read() == [b"message", b"ch", b"m%d" % i]
            assert pattern_sub.read() == [b"pmessage", b"c*", b"ch", b"m%d" % i]
        wait_consistent(m, r)
        before = offset(r)
        assert r.client().publish("ch", "local") == 2
        assert on_replica.read() == [b"message", b"ch", b"local"]
        assert pattern_sub.read() == [b"pmessage", b"c*", b"ch", b"local"]
        # Nothing was written on the replica, nothing reached the master's subscriber.
        assert offset(r) == before
        assert mc.publish("ch", "after") == 1
        assert on_master.read() == [b"message", b"ch", b"after"]
        assert on_replica.read() == [b"message", b"ch", b"after"]
        wait_consistent(m, r)
        wait_until(lambda: offset(r) == offset(m), timeout=10, msg="replica caught up")
