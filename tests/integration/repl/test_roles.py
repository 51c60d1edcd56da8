# SPDX-License-Identifier: Apache-2.0
"""Role changes without a cluster (reference/scenarios.md part D: scenario 27)."""
import random
import threading

import pytest

from helpers.wait import wait_until
from repl.replutil import (Prober, bounded, config, repl, slaveof, thread_names, timed_command,
                           wait_consistent, wait_link)

pytestmark = pytest.mark.repl


def _mset_batches(server, prefix, batches, size, first=None):
    """MSET batches of `size` keys: every batch takes `size` sequences, so the batches start at
    known sequences (1 + size * k, shifted by a first batch of `first` keys when given)."""
    c = server.client()
    if first:
        c.mset({"%s:first:%d" % (prefix, i): i for i in range(first)})
    for b in range(batches):
        c.mset({"%s:%d:%d" % (prefix, b, i): b * size + i for i in range(size)})


def test_s27_rapid_master_switching_and_slaveof_racing_a_disconnect(master, server_factory):
    m1 = master(name="m1")
    m2 = master(name="m2")
    # Different data, and batch boundaries that never line up (m1: 1 + 10k, m2: 6 + 10k), so
    # a replica moved from one to the other can never have its PSYNC accepted by mistake
    # (without replication ids, equal sequences are all PSYNC can compare: scenario 15).
    _mset_batches(m1, "one", 100, 10)
    _mset_batches(m2, "two", 70, 10, first=5)
    r = server_factory(config(), name="r")
    assert thread_names(r, "repl-") == []
    prober = Prober(r)
    prober.start()
    rng = random.Random(27)
    slow = []
    try:
        for i in range(50):
            targets = [m1, m2]
            rng.shuffle(targets)
            barrier = threading.Barrier(3 if i % 5 == 0 else 2)
            results = []

            def switch(target):
                barrier.wait(5)
                results.append((target.name,) + timed_command(
                    r, "SLAVEOF", target.host, str(target.port)))

            def kill_link():
                barrier.wait(5)
                results.append(("kill",) + timed_command(m1, "CLIENT", "KILL", "TYPE", "slave"))

            threads = [threading.Thread(target=switch, args=(t,)) for t in targets]
            if i % 5 == 0:
                threads.append(threading.Thread(target=kill_link))
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            for name, reply, elapsed in results:
                if isinstance(reply, Exception):
                    raise AssertionError("round %d: %s: %r" % (i, name, reply))
                if elapsed >= bounded(1.0):
                    slow.append((i, name, elapsed))
            # let some rounds get somewhere (a handshake, a fetch) before the next switch
            if i % 10 == 9:
                wait_until(lambda: repl(r).get("master_repl_state") not in ("connect", None),
                           timeout=5)
        # the last word: m2
        assert slaveof(r, m2) < bounded(1.0)
        # the data may already match m2's from an earlier round: wait for the link itself
        wait_link(r, True, timeout=30)
        assert repl(r)["master_port"] == m2.port
        wait_consistent(m2, r, timeout=30)
    finally:
        prober.stop()
    assert slow == [], "role changes slower than 1 s: %s" % slow
    assert prober.errors == []
    assert prober.worst < bounded(1.0), "PING/GET waited %.3fs" % prober.worst
    # no leaked replication threads: one replication thread (RocksDB may have started
    # background threads of its own, so the total is not compared)
    wait_until(lambda: thread_names(r, "repl-") == ["repl-replica"], timeout=5,
               msg=lambda: "replication threads %s" % thread_names(r, "repl-"))
    # and the replica follows m2 from now on
    m2.client().set("after", "1")
    wait_consistent(m2, r)
    assert r.client().get("one:0:0") is None
