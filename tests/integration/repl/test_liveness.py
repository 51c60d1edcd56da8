# SPDX-License-Identifier: Apache-2.0
"""Liveness: bounded, interruptible waits on every replication path (reference/scenarios.md
part C and scenario 2: scenarios 2, 20, 22, 23, 26).

The bounds come from REPL_CONFIG (T_conn 2 s, T_recv 2 s, T_send 3 s); role changes and
shutdown must return within 1 s whatever the peer does."""
import time

import pytest

from helpers.proxy import HangingPort
from helpers.wait import wait_until
from repl.replutil import (PURGE_WAL_CONFIG, STRETCH_CONFIG, T_CONN_MS, T_RECV_MS, T_SEND_MS,
                           Prober, bounded, config, counters, dbdigest, delta,
                           fill_small, fill_values, log_count, partly_fetched_files,
                           purge_wal_and_restart,
                           refused_port, repl, slaveof, slaveof_no_one, timed_command,
                           wait_consistent, wait_link, wait_log)

pytestmark = pytest.mark.repl

PSYNC_ONLY = {"sync_full": 0, "sync_partial_ok": 1, "sync_partial_err": 0}


def test_s02_unreachable_master_at_connect_time(master, server_factory):
    r = server_factory(config())
    prober = Prober(r)
    prober.start()
    try:
        with HangingPort() as hang:
            # connect never completes: SLAVEOF still returns at once
            t = slaveof(r, ("127.0.0.1", hang.port))
            print("measured s02: SLAVEOF a hanging port %.3fs" % t)
            assert t < bounded(1.0)
            info = repl(r)
            assert (info["role"], info["master_link_status"], info["master_sync_in_progress"]) \
                == ("slave", "down", 0)
            mark = r.log_mark()
            wait_log(r, "connect to 127.0.0.1:%d: timed out" % hang.port, since=mark,
                     timeout=T_CONN_MS / 1000 + 2)
            info = repl(r)
            assert (info["master_link_status"], info["master_sync_in_progress"]) == ("down", 0)
            t = slaveof_no_one(r)
            print("measured s02: SLAVEOF NO ONE while connecting %.3fs" % t)
            assert t < bounded(1.0)
            assert repl(r)["role"] == "master"
        # refused at once: fails fast and retries with back-off (1 s, 2 s, 4 s ...)
        port = refused_port()
        mark = r.log_mark()
        start = time.monotonic()
        assert slaveof(r, ("127.0.0.1", port)) < bounded(1.0)
        wait_log(r, "127.0.0.1:%d: Connection refused" % port, since=mark, timeout=5, count=3)
        elapsed = time.monotonic() - start
        assert elapsed >= 2.5, "3 attempts in %.1fs: no back-off" % elapsed
        attempts = log_count(r, "127.0.0.1:%d: Connection refused" % port, since=mark)
        assert attempts <= 4, "%d attempts in %.1fs" % (attempts, elapsed)
        # once pointed at a live master the link is up within 5 s and the data equal
        m = master()
        fill_small(m, 100)
        assert slaveof(r, m) < bounded(1.0)
        wait_link(r, True, timeout=5)
        wait_consistent(m, r)
    finally:
        prober.stop()
    assert prober.errors == []
    assert prober.worst < bounded(1.0), "PING/GET waited %.3fs" % prober.worst


def _wait_feeder_stuck(m, timeout=20):
    """Wait until the feeder's sent offset stops moving while the master is ahead."""
    box = {"last": None, "since": time.monotonic()}

    def stuck():
        info = repl(m)
        slave = info.get("slave0")
        if not isinstance(slave, dict):
            return False
        now = time.monotonic()
        if slave["offset"] != box["last"]:
            box["last"], box["since"] = slave["offset"], now
            return False
        return slave["lag"] > 0 and now - box["since"] > 0.3

    wait_until(stuck, timeout=timeout, interval=0.05, msg="the feeder is blocked")


def test_s20_stuck_replica_is_dropped_within_send_timeout(master, replica_of, proxy_factory):
    m = master()
    p = proxy_factory(m)
    r = replica_of(p)
    fill_small(m, 100)
    wait_consistent(m, r)
    before = counters(m)
    # the proxy stops reading from the master: its socket buffers fill and the feeder's writes
    # block; the replica still sees an open socket
    p.pause("down")
    fill_values(m, 30, 1 << 20, batch=4)  # far more than the kernel buffers hold
    written = time.monotonic()
    prober = Prober(m)
    prober.start()
    try:
        wait_until(lambda: repl(m)["connected_slaves"] == 0,
                   timeout=T_SEND_MS / 1000 + 2, msg="the stuck replica is dropped")
    finally:
        prober.stop()
    dropped_after = time.monotonic() - written
    assert repl(m)["slow_replicas_dropped"] == 1
    assert log_count(m, "stopped reading") == 1
    assert prober.errors == []
    assert prober.worst < bounded(0.1), "the master's clients waited %.3fs" % prober.worst
    # the replica recovers with PSYNC once it can read again
    p.resume()
    wait_consistent(m, r, timeout=20)
    wait_link(r, True)
    assert delta(before, counters(m)) == PSYNC_ONLY
    # CLIENT KILL TYPE slave on a blocked feeder returns at once
    p.pause("down")
    fill_values(m, 30, 1 << 20, batch=4, prefix="more:")
    _wait_feeder_stuck(m)
    reply, elapsed = timed_command(m, "CLIENT", "KILL", "TYPE", "slave")
    assert reply == 1 and elapsed < bounded(0.2), (reply, elapsed)
    wait_until(lambda: repl(m)["connected_slaves"] == 0, timeout=1)
    assert repl(m)["slow_replicas_dropped"] == 1
    p.resume()
    wait_consistent(m, r, timeout=20)
    assert delta(before, counters(m)) == \
        {"sync_full": 0, "sync_partial_ok": 2, "sync_partial_err": 0}
    assert dropped_after < T_SEND_MS / 1000 + 2
    print("measured s20: stuck replica dropped %.3fs after the writes; worst PING+GET %.3fs; "
          "CLIENT KILL TYPE slave %.3fs" % (dropped_after, prober.worst, elapsed))


def test_s22_silent_master_is_detected_within_recv_timeout(master, replica_of, proxy_factory):
    m = master()
    p = proxy_factory(m)
    r = replica_of(p)
    m.client().set("a", "1")
    wait_consistent(m, r)
    # idle link: the master's heartbeats keep the replica's last I/O recent
    samples = []

    def idle_for_a_while():
        samples.append(repl(r)["master_last_io_seconds_ago"])
        return len(samples) >= 12

    wait_until(idle_for_a_while, timeout=10, interval=0.25)
    assert max(samples) <= 1, samples
    before = counters(m)
    mark = r.log_mark()
    start = time.monotonic()
    p.blackhole()  # no bytes, no FIN
    wait_link(r, False, timeout=T_RECV_MS / 1000 + 2)
    detected = time.monotonic() - start
    assert detected < T_RECV_MS / 1000 + 2
    assert "read: timed out" in r.log_text(mark)
    # role changes during the fault return at once
    t1 = slaveof_no_one(r)
    assert t1 < bounded(1.0)
    assert repl(r)["role"] == "master"
    t2 = slaveof(r, p)
    assert t2 < bounded(1.0)
    print("measured s22: SLAVEOF NO ONE %.3fs, SLAVEOF %.3fs during the blackhole" % (t1, t2))
    healed = time.monotonic()
    p.passthrough()
    wait_link(r, True, timeout=T_RECV_MS / 1000 + 3)
    recovered = time.monotonic() - healed
    # the handshake sent into the blackhole times out first, then one back-off step
    assert recovered < T_RECV_MS / 1000 + 3
    print("measured s22: silent master detected in %.3fs, link up %.3fs after healing"
          % (detected, recovered))
    m.client().set("b", "2")
    wait_consistent(m, r)
    assert delta(before, counters(m)) == PSYNC_ONLY


def test_s23_master_accepts_but_never_finishes_the_handshake(master, server_factory):
    m = master()
    fill_small(m, 100)
    r = server_factory(config())
    mark = r.log_mark()
    with m.paused():  # the kernel still completes the TCP handshake
        start = time.monotonic()
        assert slaveof(r, m) < bounded(1.0)
        wait_log(r, "read: timed out", since=mark, timeout=T_RECV_MS / 1000 + 2)
        took = time.monotonic() - start
        print("measured s23: handshake timeout noticed after %.3fs" % took)
        assert took < T_RECV_MS / 1000 + 2
        info = repl(r)
        assert (info["master_link_status"], info["master_sync_in_progress"]) == ("down", 0)
    wait_link(r, True, timeout=10)
    wait_consistent(m, r)
    before = counters(m)
    with m.paused():
        # the link breaks (silent master), the next handshake hangs: SLAVEOF NO ONE is prompt
        wait_link(r, False, timeout=T_RECV_MS / 1000 + 2)
        t = slaveof_no_one(r)
        print("measured s23: SLAVEOF NO ONE with a frozen master %.3fs" % t)
        assert t < bounded(1.0)
        assert repl(r)["role"] == "master"
    assert delta(before, counters(m)) == {"sync_full": 0, "sync_partial_ok": 0,
                                          "sync_partial_err": 0}


def _blocked_replica(phase, master, server_factory, replica_of, proxy_factory):
    if phase == "mid-file":
        m = master(config(STRETCH_CONFIG, PURGE_WAL_CONFIG))
        fill_values(m, 40, 100_000, prefix="m:")
        purge_wal_and_restart(m)
        p = proxy_factory(m)
        r = server_factory(config())
        slaveof(r, p)
        # Blackholed in the middle of a file (the fetchers run in parallel: small files such
        # as OPTIONS may already be complete).
        wait_until(lambda: partly_fetched_files(r), timeout=10, interval=0.02,
                   msg="a file is being fetched")
        p.blackhole()
        return r
    m = master()
    p = proxy_factory(m)
    if phase == "tailing":
        r = replica_of(p)
        p.blackhole()
        return r
    # handshake
    p.blackhole()
    r = server_factory(config())
    slaveof(r, p)
    wait_until(lambda: repl(r)["master_repl_state"] == "db_name", timeout=5)
    return r


@pytest.mark.parametrize("phase,how", [("tailing", "sigterm"), ("handshake", "sigterm"),
                                       ("mid-file", "sigterm"), ("mid-file", "shutdown")])
def test_s26_replica_with_a_blocked_replication_thread_shuts_down_at_once(
        master, server_factory, replica_of, proxy_factory, phase, how):
    r = _blocked_replica(phase, master, server_factory, replica_of, proxy_factory)
    start = time.monotonic()
    if how == "sigterm":
        code = r.stop(timeout=10)
    else:
        try:
            r.command("SHUTDOWN", timeout=5)
        except Exception:  # noqa: BLE001 - the connection closes as the server exits
            pass
        code = r.wait_exit(timeout=10)
    elapsed = time.monotonic() - start
    print("measured s26: %s while %s took %.3fs" % (how, phase, elapsed))
    assert code == 0
    assert elapsed < bounded(1.0), "%s took %.3fs with the replication thread blocked (%s)" % (
        how, elapsed, phase)
    text = r.log_text()
    for bad in ("abort", "Aborted", "signal", "FATAL", "still running"):
        assert bad not in text, "%r in the log" % bad
    # the data directory opens cleanly
    r.set_config({"slaveof": None})
    r.start()
    dbdigest(r)
