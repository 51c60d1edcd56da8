# SPDX-License-Identifier: Apache-2.0
"""Full sync: checkpoint transfer, resume, failure and the DB swap (reference/scenarios.md
part A: scenarios 1, 3, 4, 5, 6; kvrocks-notes.md 3.4-3.5 for the shared checkpoint,
slave-empty-db-before-fullsync and INFO loading).

The master's data is spread over many small SST files (STRETCH_CONFIG) and sent at 1 MB/s, and
its WAL is purged (PURGE_WAL_CONFIG, then purge_wal_and_restart) so that a new replica's
PSYNC 1 is refused and it must full-sync. Counter deltas on the master for one full sync of a
fresh replica: sync_partial_err +1 (PSYNC 1 refused), sync_full +1 (the checkpoint), and
sync_partial_ok +1 (the PSYNC from the checkpoint's sequence)."""
import os
import re
import threading

import pytest
import redis

from helpers.rawresp import RawSocket
from helpers.wait import wait_until
from repl.replutil import (PURGE_WAL_CONFIG, STRETCH_CONFIG, Prober, Writer, bounded, config,
                           counters, crc32c, cpu_seconds, dbdigest, delta, fetched_files,
                           fill_small, fill_values, log_count, offset, purge_wal_and_restart,
                           refused_port, repl, slaveof, slaveof_config, slaveof_no_one,
                           wait_consistent, wait_link, wait_log, UNSYNCED_MARK)

pytestmark = pytest.mark.repl

ONE_FULL_SYNC = {"sync_full": 1, "sync_partial_ok": 1, "sync_partial_err": 1}
# SST files stay as they are (no background compaction rewriting them between attempts).
STABLE_FILES = {"rocksdb.disable_auto_compactions": True}


def _big_master(master, values, size=100_000, extra=None, name=None, parts=1):
    """A master with `values` incompressible values of `size` bytes in small SST files, its
    WAL purged (a new replica must full-sync). With parts > 1 the values are written in that
    many parts with a restart after each (recovery flushes each part into SST files of its
    own), so the checkpoint has at least `parts` SST files whatever the flushes did."""
    m = master(config(STRETCH_CONFIG, PURGE_WAL_CONFIG, STABLE_FILES, extra or {}), name=name)
    per = -(-values // parts)
    for first in range(0, values, per):
        if first > 0:
            m.restart()
        fill_values(m, min(per, values - first), size, prefix="m:", start=first)
    purge_wal_and_restart(m)
    return m


def _fetched_ssts(replica):
    return [n for n in fetched_files(replica) if n.endswith(".sst")]


def _wait_fetching(replica, files=1, timeout=20, ssts=0):
    """Wait until the replica is fetching checkpoint files: `files` of them complete in its
    sync_checkpoint directory, or (files=0) the first bytes arrived; and `ssts` SST files among
    the complete ones."""
    def fetching():
        if len(_fetched_ssts(replica)) < ssts:
            return False
        if files == 0:
            return any(n.endswith(".tmp") for n in _sync_dir(replica)) or fetched_files(replica)
        return len(fetched_files(replica)) >= files
    wait_until(fetching, timeout=timeout, interval=0.02,
               msg=lambda: "%s fetching checkpoint files (%s)" % (replica.name,
                                                                  _sync_dir(replica)))


def _sync_dir(replica):
    try:
        return os.listdir(os.path.join(replica.dir, "sync_checkpoint"))
    except OSError:
        return []


def test_s01_master_blackholed_mid_transfer_slaveof_returns_at_once(master, server_factory,
                                                                     proxy_factory):
    m = _big_master(master, 60)
    p = proxy_factory(m)
    r = server_factory(config())
    r.client().set("probe:key", "r")
    slaveof(r, p)
    _wait_fetching(r, files=0)
    p.blackhole()  # no bytes, no FIN: a dead host in the middle of a file
    prober = Prober(r)
    prober.start()
    try:
        elapsed = slaveof(r, ("127.0.0.2", refused_port()))
    finally:
        prober.stop()
    print("measured s01: SLAVEOF other took %.3fs mid-transfer with the master blackholed; "
          "worst PING+GET meanwhile %.3fs" % (elapsed, prober.worst))
    assert elapsed < bounded(1.0), "SLAVEOF took %.3fs while the master was blackholed" % elapsed
    assert prober.errors == []
    assert prober.worst < bounded(1.0), "a client waited %.3fs meanwhile" % prober.worst
    info = repl(r)
    assert info["master_host"] == "127.0.0.2"
    assert info["master_link_status"] == "down"
    assert info["master_sync_in_progress"] == 0
    # it keeps retrying the new master with back-off, not in a busy loop
    mark = r.log_mark()
    cpu = cpu_seconds(r)
    wait_log(r, "connect to 127.0.0.2", since=mark, timeout=10, count=2)
    assert cpu_seconds(r) - cpu < 0.5
    assert r.client().get("probe:key") == b"r"


def test_s03_master_crash_mid_transfer_replica_resumes_and_skips_files(master, server_factory):
    # ~10 MB at 1 MB/s in at least 6 SST files: with 4 fetchers the first SSTs complete while
    # others are still in flight (with only 4 they all end together, at the very end)
    m = _big_master(master, 100, parts=6)
    r = server_factory(config())
    fill_small(r, 3000, prefix="r:")  # unrelated old data, further in sequence than m
    slaveof(r, m)
    # SST files keep their names across the master's restart (auto compactions are off), the
    # MANIFEST and OPTIONS files do not: wait for SSTs. How many files the master's flushes
    # wrote depends on timing, so the count reused is checked against what was fetched.
    _wait_fetching(r, ssts=2)
    m.kill9()
    # between the crash and the restart the replica is honest about its state
    wait_until(lambda: repl(r)["master_sync_in_progress"] == 0, timeout=10)
    mark = r.log_mark()
    wait_log(r, "Connection refused", since=mark, timeout=10)
    info = repl(r)
    assert (info["master_link_status"], info["master_sync_in_progress"]) == ("down", 0)
    assert dbdigest(r)[2] == 3000  # still the old data
    fetched = _fetched_ssts(r)
    assert len(fetched) >= 2, fetched
    m.set_config({"max-replication-mb": 0})
    m.start()
    wait_consistent(m, r, timeout=40)
    wait_link(r, True)
    skips = [int(x) for x in re.findall(r"skip count: (\d+)", r.log_text(mark))]
    assert skips and skips[-1] >= len(fetched), \
        "files fetched before the crash (%s) were not reused: %s" % (fetched, skips)
    assert "[skip] CURRENT" not in r.log_text()
    assert r.client().get("r:1") is None
    assert dbdigest(r)[2] == 100
    # the restarted master counts from zero: PSYNC refused, one checkpoint, the handoff PSYNC
    assert counters(m) == ONE_FULL_SYNC


class _StatePoller(threading.Thread):
    """Samples a replica every 20 ms: 'old' (r:1 there, m:1 not), 'new' (the reverse),
    'empty' (neither), 'loading' (-LOADING), or 'mixed'. Also records INFO loading."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.states = []
        self.loading_seen = set()
        self._stop_evt = threading.Event()

    def run(self):
        c = self.server.client(socket_timeout=5)
        while True:
            # The last sample starts after stop(): the caller saw the replica settled by then,
            # and a swap shorter than the sampling interval must not leave a stale last state.
            final = self._stop_evt.is_set()
            try:
                self.loading_seen.add(self.server.info("persistence")["loading"])
                r1, m1 = c.mget("r:1", "m:1")
                state = {(True, False): "old", (False, True): "new",
                         (False, False): "empty"}.get((r1 is not None, m1 is not None), "mixed")
            except redis.BusyLoadingError:
                state = "loading"
            except Exception as exc:  # noqa: BLE001 - recorded
                state = repr(exc)
            if not self.states or self.states[-1] != state:
                self.states.append(state)
            if final:
                break
            self._stop_evt.wait(0.02)

    def stop(self):
        self._stop_evt.set()
        self.join(10)
        return self.states


@pytest.mark.parametrize("empty_first", [False, True], ids=["keep-old-data", "empty-db-first"])
def test_s04_full_sync_that_dies_halfway(master, server_factory, empty_first):
    m = _big_master(master, 60)
    r = server_factory(config({"slave-empty-db-before-fullsync": empty_first}))
    fill_small(r, 3000, prefix="r:")
    old = dbdigest(r)
    poller = _StatePoller(r)
    poller.start()
    try:
        slaveof(r, m)
        if empty_first:
            # Kvrocks' TestReplicationLoading: loading:1 while the files come
            wait_until(lambda: r.info("persistence")["loading"] == 1, timeout=5)
        _wait_fetching(r, files=1)
        m.kill9()
        mark = r.log_mark()
        wait_log(r, "Connection refused", since=mark, timeout=10, count=2)
        assert r.info("persistence")["loading"] == 0
        if empty_first:
            # documented data loss: the local data went before the fetch
            assert dbdigest(r)[2] == 0
        else:
            assert dbdigest(r)[:1] == old[:1] and dbdigest(r)[2] == 3000
            assert r.client().get("m:1") is None
        m.set_config({"max-replication-mb": 0})
        m.start()
        wait_consistent(m, r, timeout=40)
    finally:
        states = poller.stop()
    assert "mixed" not in states, states
    allowed = {"old", "new", "loading", "empty"} if empty_first else {"old", "new", "loading"}
    assert set(states) <= allowed, states
    assert states[0] == "old" and states[-1] == "new", states
    if not empty_first:
        assert "empty" not in states
    assert r.info("persistence")["loading"] == 0


def test_s05_writes_during_a_long_full_sync_neither_lost_nor_doubled(master, server_factory):
    m = _big_master(master, 40)  # ~4 s of transfer
    r = server_factory(config())
    writers = [Writer(m, prefix="w%d" % i, pause=0.002) for i in range(3)]
    before = counters(m)
    for w in writers:
        w.start()
    try:
        slaveof(r, m)
        wait_link(r, True, timeout=40)
    finally:
        for w in writers:
            w.stop()
    wait_consistent(m, r, timeout=10)
    for w in writers:
        assert w.rounds > 0
        w.check(r)
    assert delta(before, counters(m)) == ONE_FULL_SYNC
    assert repl(r)["master_full_syncs"] == 1  # the replica never asked for a second checkpoint


def test_s06_wal_purged_before_the_first_psync_gives_one_more_full_sync(master, server_factory):
    # keep purging: the WAL after the checkpoint is gone by the time the replica asks for it
    m = master(config(STRETCH_CONFIG, PURGE_WAL_CONFIG))
    fill_values(m, 30, 100_000, prefix="m:")
    r = server_factory(config())
    before = counters(m)
    mark = m.log_mark()
    stop = threading.Event()

    def write_until_second_refusal():
        # ~1.2 MB/s over 20 keys: a memtable flush (and WAL purge) every second or so
        c = m.client()
        i = 0
        while not stop.is_set():
            # the first refusal is the fresh replica's PSYNC 1; the second its PSYNC after
            # the restore: stop writing then, so the next checkpoint stays continuable
            if counters(m)["sync_partial_err"] >= before["sync_partial_err"] + 2:
                return
            c.set("churn:%d" % (i % 20), os.urandom(60_000))
            i += 1
            stop.wait(0.05)

    t = threading.Thread(target=write_until_second_refusal, daemon=True)
    t.start()
    try:
        slaveof(r, m)
        wait_until(lambda: not t.is_alive(), timeout=60,
                   msg="the post-restore PSYNC is refused")
    finally:
        stop.set()
        t.join(10)
    wait_consistent(m, r, timeout=30)
    wait_link(r, True)
    assert delta(before, counters(m)) == \
        {"sync_full": 2, "sync_partial_ok": 1, "sync_partial_err": 2}
    assert log_count(m, "refused", since=mark) >= 2
    assert repl(r)["master_full_syncs"] == 2


def test_several_replicas_syncing_at_once_share_one_checkpoint(master, server_factory):
    m = _big_master(master, 15)
    r1 = server_factory(config(), name="r1")
    r2 = server_factory(config(), name="r2")
    before = counters(m)
    mark = m.log_mark()
    slaveof(r1, m)
    slaveof(r2, m)
    wait_consistent(m, r1, timeout=30)
    wait_consistent(m, r2, timeout=30)
    # Equal data comes with the restore, before the PSYNC that follows it: count after that.
    wait_link(r1, True)
    wait_link(r2, True)
    assert delta(before, counters(m)) == \
        {"sync_full": 2, "sync_partial_ok": 2, "sync_partial_err": 2}
    assert log_count(m, "created checkpoint", since=mark) == 1
    assert log_count(m, "Using current existing checkpoint", since=mark) == 1


def _fetch_meta(server):
    """The master's checkpoint file list (kvrocks-notes.md 3.5)."""
    link = RawSocket(server, timeout=30)
    try:
        link.send("_fetch_meta")
        return link.line().decode().split(",")
    finally:
        link.close()


def _fetch_all(server, names):
    """{name: (bytes, checksum line)} of one _fetch_file of all names, with `capa crc32c`."""
    link = RawSocket(server, timeout=30)
    try:
        link.send("REPLCONF", "capa", "crc32c")
        assert link.line() == b"+OK"
        link.send("_fetch_file", ",".join(names))
        out = {}
        for name in names:
            data = link.exact(int(link.line()))
            out[name] = (data, link.line().decode())
        return out
    finally:
        link.close()


def test_master_sends_every_file_with_its_checksum_on_each_fetch_and_checkpoint(master):
    # Replicas fetching one checkpoint share the checksums the first fetch computed; a new
    # checkpoint has its own, also for its files whose names the old one had.
    m = master(config({"rocksdb.write_buffer_size": 1}, PURGE_WAL_CONFIG))
    fill_values(m, 20, 100_000, prefix="a:")
    mark = m.log_mark()
    names = _fetch_meta(m)
    first = _fetch_all(m, names)
    again = _fetch_all(m, list(reversed(names)))
    for name in names:
        data, crc = first[name]
        assert crc == "%08x" % crc32c(data), name
        assert again[name] == first[name], name
    # Writes flushed and their WAL purged: the first checkpoint cannot be continued any more.
    seq = offset(m)
    fill_values(m, 40, 100_000, prefix="b:")
    wait_until(lambda: int(repl(m)["oldest_wal_sequence"]) > seq + 1, timeout=20,
               msg="the WAL after the first checkpoint purged")
    names2 = _fetch_meta(m)
    assert log_count(m, "created checkpoint", since=mark) == 2
    second = _fetch_all(m, names2)
    for name in names2:
        data, crc = second[name]
        assert crc == "%08x" % crc32c(data), name
    changed = [n for n in names2 if n in first and first[n][0] != second[n][0]]
    assert changed, "no file name of the first checkpoint came back with new contents"


def test_loading_shows_during_the_db_swap(master, server_factory):
    """INFO keeps answering during the swap and shows loading:1; every other command gets
    -LOADING meanwhile, never an error from a closed database."""
    m = _big_master(master, 40, size=20_000, extra={"max-replication-mb": 0})
    r = server_factory(config())
    fill_small(r, 2000, prefix="r:")
    seen = {"loading": set(), "errors": []}
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            try:
                seen["loading"].add(r.info("persistence")["loading"])
            except Exception as exc:  # noqa: BLE001 - recorded
                seen["errors"].append(repr(exc))

    def read():
        c = r.client()
        while not stop.is_set():
            try:
                c.get("r:1")
            except redis.BusyLoadingError:
                seen["refused"] = seen.get("refused", 0) + 1
            except Exception as exc:  # noqa: BLE001 - recorded
                seen["errors"].append(repr(exc))

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(3)]
    threads.append(threading.Thread(target=read, daemon=True))
    for t in threads:
        t.start()
    try:
        slaveof(r, m)
        wait_consistent(m, r, timeout=30)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert seen["errors"] == []
    assert 1 in seen["loading"], "loading:1 never seen during the swap"
    assert seen.get("refused", 0) > 0, "no command got -LOADING during the swap"
    assert r.info("persistence")["loading"] == 0


def test_slaveof_no_one_aborts_an_empty_db_full_sync(master, server_factory):
    """With slave-empty-db-before-fullsync the replica is loading for the whole transfer;
    SLAVEOF NO ONE still answers at once, ends the loading state and leaves an empty master."""
    m = _big_master(master, 60)
    r = server_factory(config({"slave-empty-db-before-fullsync": True}))
    fill_small(r, 1000, prefix="r:")
    slaveof(r, m)
    wait_until(lambda: r.info("persistence")["loading"] == 1, timeout=5)
    _wait_fetching(r, files=1)
    elapsed = slaveof_no_one(r)
    assert elapsed < bounded(1.0), "SLAVEOF NO ONE took %.3fs while loading" % elapsed
    assert r.info("persistence")["loading"] == 0
    assert repl(r)["role"] == "master"
    assert dbdigest(r)[2] == 0  # documented: the old data went before the fetch
    r.client().set("writable", "1")


# --- durability of the fetched files (storage/checkpoint.h): the swap does not wait for the
# disk; the files are synced once the new DB serves, and a mark covers the meantime.

def _boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def _put_mark(path, boot):
    with open(os.path.join(path, UNSYNCED_MARK), "w") as f:
        f.write(boot + "\n")


ANOTHER_BOOT = "00000000-0000-0000-0000-000000000000"


def test_fetched_files_are_synced_after_the_swap_and_the_mark_removed(master, server_factory):
    m = _big_master(master, 15)
    r = server_factory(config())
    mark = r.log_mark()
    slaveof(r, m)
    wait_consistent(m, r, timeout=30)
    wait_log(r, "the fetched files are on disk", since=mark, timeout=20)
    assert not os.path.exists(os.path.join(r.dir, "db", UNSYNCED_MARK))
    assert dbdigest(r) == dbdigest(m)


def test_replica_killed_before_the_sync_keeps_its_data_and_resumes(master, server_factory):
    """A process that dies between the swap and the sync leaves the mark of this boot: the files
    are whole in the page cache, so the restart syncs them and resumes with PSYNC."""
    m = _big_master(master, 15)
    r = server_factory(config(slaveof=slaveof_config(m)))
    wait_consistent(m, r, timeout=30)
    digest = dbdigest(r)
    r.kill9()
    _put_mark(os.path.join(r.dir, "db"), _boot_id())
    before = counters(m)
    r.start()
    assert not os.path.exists(os.path.join(r.dir, "db", UNSYNCED_MARK))
    assert not os.path.exists(os.path.join(r.dir, "db.unsynced"))
    wait_consistent(m, r, timeout=30)
    assert dbdigest(r) == digest
    wait_link(r, True)  # its data is whole before its PSYNC
    assert delta(before, counters(m)) == {"sync_full": 0, "sync_partial_ok": 1,
                                          "sync_partial_err": 0}


def test_replica_restored_before_a_machine_restart_starts_empty_and_fetches_again(
        master, server_factory):
    """A mark from another boot: the unsynced files may be torn. The DB is moved aside (never
    deleted) and the replica full-syncs again."""
    m = _big_master(master, 15)
    r = server_factory(config(slaveof=slaveof_config(m)))
    wait_consistent(m, r, timeout=30)
    r.kill9()
    _put_mark(os.path.join(r.dir, "db"), ANOTHER_BOOT)
    before = counters(m)
    mark = r.log_mark()
    r.start()
    assert "moved to" in r.log_text(mark) and "starting empty" in r.log_text(mark)
    aside = os.path.join(r.dir, "db.unsynced")
    assert any(n.endswith(".sst") for n in os.listdir(aside))
    wait_consistent(m, r, timeout=30)
    assert dbdigest(r)[2] == 15
    wait_link(r, True)  # the PSYNC after the restore is counted too
    assert delta(before, counters(m)) == ONE_FULL_SYNC


def test_files_fetched_before_a_machine_restart_are_not_reused(master, server_factory):
    """As s03, but the partial fetch carries the mark of another boot: nothing is skipped."""
    m = _big_master(master, 100)
    r = server_factory(config())
    slaveof(r, m)
    _wait_fetching(r, ssts=2)  # files that s03 shows would be reused
    m.kill9()
    wait_until(lambda: repl(r)["master_sync_in_progress"] == 0, timeout=10)
    _put_mark(os.path.join(r.dir, "sync_checkpoint"), ANOTHER_BOOT)
    mark = r.log_mark()
    m.set_config({"max-replication-mb": 0})
    m.start()
    wait_consistent(m, r, timeout=40)
    text = r.log_text(mark)
    assert "fetched before the machine restarted" in text
    assert "skip count" not in text and "[skip]" not in text
    assert dbdigest(r)[2] == 100
