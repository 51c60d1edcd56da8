# SPDX-License-Identifier: Apache-2.0
"""Persistence: every acknowledged write survives a clean restart (SIGTERM) and a crash
(kill -9 while several clients are writing).
"""
import threading

from helpers.wait import scaled, wait_until
from raw_resp import RawConn, Status, cmd


def _check_all(server, expected):
    """GET every key of `expected` on one pipelined connection; returns the mismatches."""
    keys = list(expected)
    bad = []
    with RawConn(server.port, timeout=60) as c:
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            c.send(b"".join(cmd("GET", k) for k in chunk))
            for k in chunk:
                got = c.read()
                if got != expected[k]:
                    bad.append((k, expected[k][:40], got if got is None else got[:40]))
    return bad


def test_acknowledged_writes_survive_sigterm_restart(server):
    expected = {}
    with RawConn(server.port, timeout=30) as c:
        for i in range(3000):
            expected["t%d" % i] = b"value-%d-" % i * (1 + i % 7)
        big = bytes(range(256)) * 8192  # 2 MiB
        expected["big"] = big
        items = list(expected.items())
        c.send(b"".join(cmd("SET", k, v) for k, v in items))
        for k, _ in items:
            assert c.read() == Status("OK"), k
        # overwritten and deleted keys keep their last state
        c.send(cmd("SET", "t1", "overwritten") + cmd("DEL", "t2"))
        assert c.read() == Status("OK")
        assert c.read() == 1
    expected["t1"] = b"overwritten"
    expected["t2"] = None
    for _ in range(2):
        server.restart()  # SIGTERM; the harness checks the exit code is 0
        assert _check_all(server, expected) == []


class Writer(threading.Thread):
    """SETs its own keys until the connection breaks, recording what was acknowledged.

    Unique keys w<n>:<i> (value must be exactly what was sent), and one hot key w<n>:hot
    overwritten with a counter (after the crash its value must be at least the last
    acknowledged counter, and at most the last one sent)."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.conn = RawConn(port, timeout=10)
        self.n = n
        self.acked = {}
        self.hot_acked = -1
        self.hot_sent = -1
        self.error = None

    def run(self):
        i = 0
        try:
            while True:
                key = "w%d:%d" % (self.n, i)
                value = b"%d:%d:" % (self.n, i) + b"x" * (i % 300)
                self.hot_sent = i
                # two commands per round trip: a unique key and the hot key
                self.conn.send(cmd("SET", key, value) + cmd("SET", "w%d:hot" % self.n, i))
                if self.conn.read() != Status("OK"):
                    raise AssertionError("SET %s not OK" % key)
                self.acked[key] = value
                if self.conn.read() != Status("OK"):
                    raise AssertionError("SET hot not OK")
                self.hot_acked = i
                i += 1
        except (OSError, EOFError, Exception) as exc:  # noqa: BLE001 - the crash ends it
            self.error = exc


def test_acknowledged_writes_survive_kill9(server):
    nwriters = 6
    writers = [Writer(server.port, n) for n in range(nwriters)]
    for w in writers:
        w.start()
    # kill while they are writing, after a few thousand acknowledged SETs
    wait_until(lambda: sum(len(w.acked) for w in writers) >= 3000, timeout=30,
               msg="3000 acknowledged writes")
    assert all(w.is_alive() for w in writers), [repr(w.error) for w in writers]
    server.kill9()
    for w in writers:
        w.join(scaled(15))
        assert not w.is_alive()
        w.conn.close()
    total = sum(len(w.acked) for w in writers)
    assert total >= 3000
    server.start()
    expected = {}
    for w in writers:
        expected.update(w.acked)
    assert _check_all(server, expected) == []
    with RawConn(server.port) as c:
        for w in writers:
            got = c.call("GET", "w%d:hot" % w.n)
            assert got is not None and w.hot_acked <= int(got) <= w.hot_sent, (
                w.n, got, w.hot_acked, w.hot_sent)
    # and the restarted server keeps working and persisting
    server.client().set("after", "crash")
    server.restart(kill9=True)
    assert server.client().get("after") == b"crash"
