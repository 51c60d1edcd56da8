# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the replication scenarios (reference/scenarios.md, Appendix C).

Oracles: every test asserts exact counter deltas on the master (counters(), delta()) and ends
with wait_consistent(master, replica): DBDIGEST equal at an equal sequence, which proves the
replica holds exactly the master's keyspace at the master's offset.

    REPL_CONFIG          short replication timeouts for tests (T_conn 2 s, T_recv 2 s, T_send 3 s,
                         times timeout_scale())
    STRETCH_CONFIG       many small SST files and a 1 MB/s file transfer (scenarios.md F6)
    PURGE_WAL_CONFIG     WAL files deleted as soon as they are flushed
    counters(s)          {"sync_full", "sync_partial_ok", "sync_partial_err"} of INFO stats
    delta(before, after) the same keys, after - before
    repl(s)              INFO replication, parsed
    offset(s)            master_repl_offset
    dbdigest(s)          (digest, sequence, keys)
    wait_consistent(m, r)    DBDIGEST (digest and sequence) equal on both, then returns it
    wait_link(r, up)     master_link_status up / down
    timed_command(s, *a) (reply or exception, seconds) of one command on a fresh connection
    Prober               thread: PING + GET on a server every 20 ms, records the worst latency
    Writer               thread: INCR c0..c2, SET v:<n>, APPEND log: exactly-once oracle
    fill_values(s, n, size, prefix)   n random incompressible values, pipelined
    purge_wal_and_restart(m)  restart m with default WAL retention after its WAL was purged, so
                         a new replica must full-sync while later batches stay in the WAL
    fetched_files(r)     checkpoint files the replica has completely fetched so far
    partly_fetched_files(r)  checkpoint files the replica is in the middle of fetching
    task_count(s)        threads of the server process (/proc/<pid>/task)
    thread_names(s, p)   names of the server's threads starting with p ("repl-": ours)
    crc32c(data)         CRC-32C of bytes, as common/crc32c.h and the checksum line of
                         _fetch_file
"""
import os
import socket
import threading
import time

import redis

from helpers.wait import scaled, timed, timeout_scale, wait_until

# Replication timeouts used by every test unless it overrides them (longer in sanitizer builds,
# where a master can take seconds to read a large WAL record).
T_CONN_MS = int(2000 * timeout_scale())
T_RECV_MS = int(2000 * timeout_scale())
T_SEND_MS = int(3000 * timeout_scale())
REPL_CONFIG = {
    "replication-connect-timeout-ms": T_CONN_MS,
    "replication-recv-timeout-ms": T_RECV_MS,
    "replication-send-timeout-ms": T_SEND_MS,
}

# Many small SST files and a rate-limited transfer (scenarios.md F6).
STRETCH_CONFIG = {
    "rocksdb.write_buffer_size": 1,
    "rocksdb.target_file_size_base": 1,
    "max-replication-mb": 1,
}

# WAL files are removed as soon as their memtables are flushed.
PURGE_WAL_CONFIG = {
    "rocksdb.wal_ttl_seconds": 0,
    "rocksdb.wal_size_limit_mb": 0,
}

COUNTERS = ("sync_full", "sync_partial_ok", "sync_partial_err")


def config(*dicts, **kw):
    """Merge config dicts (later wins) and keyword overrides ("_" -> "-")."""
    merged = dict(REPL_CONFIG)
    for d in dicts:
        merged.update(d)
    for key, value in kw.items():
        merged[key.replace("_", "-")] = value
    return merged


def counters(server):
    stats = server.info("stats")
    return {name: int(stats.get(name, 0)) for name in COUNTERS}


def delta(before, after):
    return {name: after[name] - before[name] for name in COUNTERS}


def repl(server):
    return server.info("replication")


def offset(server):
    return int(repl(server)["master_repl_offset"])


def dbdigest(server, *slots):
    reply = server.command("DBDIGEST", *slots, timeout=60)
    digest = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
    return digest, int(reply[1]), int(reply[2])


def slaveof(replica, master):
    """SLAVEOF master (a Server, a Proxy or (host, port)) on replica; returns the elapsed time."""
    host, port = addr_of(master)
    reply, elapsed = timed(replica.command, "SLAVEOF", host, str(port))
    assert reply in (b"OK", "OK"), reply
    return elapsed


def slaveof_no_one(replica):
    reply, elapsed = timed(replica.command, "SLAVEOF", "NO", "ONE")
    assert reply in (b"OK", "OK"), reply
    return elapsed


def addr_of(target):
    if isinstance(target, tuple):
        return target
    return target.host, target.port


def slaveof_config(master):
    host, port = addr_of(master)
    return "%s %d" % (host, port)


def wait_link(replica, up=True, timeout=10):
    want = "up" if up else "down"
    wait_until(lambda: repl(replica).get("master_link_status") == want, timeout=timeout,
               msg=lambda: "master_link_status:%s on %s (replication: %s)"
               % (want, replica.name, _safe_repl(replica)))


def _safe_repl(server):
    try:
        return repl(server)
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return repr(exc)


def wait_consistent(master, replica, timeout=20, slots=()):
    """Wait until DBDIGEST on both gives the same digest at the same sequence; returns
    (digest, sequence, keys)."""
    box = {}

    def same():
        m = dbdigest(master, *slots)
        r = dbdigest(replica, *slots)
        box["last"] = (m, r)
        return m if m[:2] == r[:2] else None

    return wait_until(same, timeout=timeout, interval=0.1,
                      msg=lambda: "DBDIGEST equal on %s and %s (last master, replica: %s; "
                      "replica replication: %s)" % (master.name, replica.name, box.get("last"),
                                                     _safe_repl(replica)))


def timed_command(server, *args, timeout=10):
    """(reply or the exception raised, elapsed seconds) of one command."""
    start = time.monotonic()
    try:
        reply = server.command(*args, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - returned to the caller
        reply = exc
    return reply, time.monotonic() - start


class Prober(threading.Thread):
    """PING and GET on `server` every `interval` s until stop(); .worst is the slowest round
    trip in seconds, .errors the failures (connection refused, timeouts...), .loading the
    -LOADING answers (a replica swapping its DB)."""

    def __init__(self, server, key="probe:key", interval=0.02, timeout=5):
        super().__init__(daemon=True, name="prober-%s" % server.name)
        self.server = server
        self.key = key
        self.interval = interval
        self.timeout = timeout
        self.worst = 0.0
        self.count = 0
        self.loading = 0
        self.errors = []
        self._stop_evt = threading.Event()

    def run(self):
        conn = None
        while not self._stop_evt.is_set():
            start = time.monotonic()
            try:
                if conn is None:
                    conn = redis.Connection(host=self.server.host, port=self.server.port,
                                            socket_timeout=self.timeout,
                                            socket_connect_timeout=self.timeout)
                for args in (("PING",), ("GET", self.key)):
                    conn.send_command(*args)
                    try:
                        conn.read_response()
                    except redis.BusyLoadingError:
                        self.loading += 1  # -LOADING during a DB swap is an answer too
                self.count += 1
            except Exception as exc:  # noqa: BLE001 - recorded
                self.errors.append(repr(exc))
                if conn is not None:
                    conn.disconnect()
                conn = None
            self.worst = max(self.worst, time.monotonic() - start)
            self._stop_evt.wait(self.interval)
        if conn is not None:
            conn.disconnect()

    def stop(self):
        self._stop_evt.set()
        self.join(30)
        return self


class Writer(threading.Thread):
    """Writes until stop(): per round, INCR c<k> (k = n % 3), SET v:<n> <n> and
    APPEND log "<n>," in one pipeline. Only acknowledged rounds count; check(server) then
    verifies exactly-once application (counters and the log have no holes or repeats)."""

    def __init__(self, server, prefix="w", pause=0.0):
        super().__init__(daemon=True, name="writer-%s" % server.name)
        self.server = server
        self.prefix = prefix
        self.pause = pause
        self.rounds = 0
        self.error = None
        self._stop_evt = threading.Event()

    def run(self):
        c = redis.Redis(host=self.server.host, port=self.server.port, socket_timeout=10,
                        socket_connect_timeout=5)
        try:
            while not self._stop_evt.is_set():
                n = self.rounds
                p = c.pipeline(transaction=False)
                p.incr("%s:c%d" % (self.prefix, n % 3))
                p.set("%s:v:%d" % (self.prefix, n), n)
                p.append("%s:log" % self.prefix, "%d," % n)
                p.execute()
                self.rounds += 1
                if self.pause:
                    self._stop_evt.wait(self.pause)
        except Exception as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc
        finally:
            c.close()

    def stop(self):
        self._stop_evt.set()
        self.join(30)
        assert not self.is_alive(), "writer did not stop"
        assert self.error is None, "writer failed: %r" % (self.error,)
        return self.rounds

    def check(self, server):
        c = server.client()
        n = self.rounds
        for k in range(3):
            want = len(range(k, n, 3))
            got = int(c.get("%s:c%d" % (self.prefix, k)) or 0)
            assert got == want, "%s: counter c%d is %d, expected %d" % (server.name, k, got, want)
        log = c.get("%s:log" % self.prefix) or b""
        assert log == "".join("%d," % i for i in range(n)).encode(), \
            "%s: log differs (%d bytes, expected %d rounds)" % (server.name, len(log), n)


def fill_values(server, n, size, prefix="big:", batch=50, start=0):
    """SET n keys of `size` random (incompressible) bytes."""
    c = server.client(socket_timeout=60)
    for first in range(start, start + n, batch):
        p = c.pipeline(transaction=False)
        for i in range(first, min(first + batch, start + n)):
            p.set("%s%d" % (prefix, i), os.urandom(size))
        p.execute()


def fill_small(server, n, prefix="key:", value=b"v"):
    """SET n small keys with MSET batches of 100 (fewer sequences than single SETs)."""
    c = server.client()
    for first in range(0, n, 100):
        c.mset({"%s%d" % (prefix, i): value + b"%d" % i for i in range(first, min(first + 100, n))})


def purge_wal_and_restart(master):
    """The master ran with PURGE_WAL_CONFIG: restart it with default WAL retention. The restart
    flushes the recovered WAL into SST files and deletes it, so the oldest WAL sequence is past
    what a new replica asks for (PSYNC 1 is refused: full sync), while every batch written from
    now on stays in the WAL (the post-restore PSYNC is accepted)."""
    master.restart()  # recovery flushes the WAL into SST files; TTL 0 deletes it
    master.restart({"rocksdb.wal_ttl_seconds": None, "rocksdb.wal_size_limit_mb": None})
    info = repl(master)
    assert int(info.get("oldest_wal_sequence", 0)) != 1, info


# The mark a replica keeps in a directory of fetched files until they are synced
# (storage/checkpoint.h); it holds the boot id of the kernel that wrote them.
UNSYNCED_MARK = "UNSYNCED"


def partly_fetched_files(replica):
    """Names of the checkpoint files the replica is in the middle of fetching: a non-empty
    <name>.tmp in <dir>/sync_checkpoint."""
    d = os.path.join(replica.dir, "sync_checkpoint")
    try:
        names = os.listdir(d)
    except OSError:
        return []
    out = []
    for n in names:
        if n.startswith(UNSYNCED_MARK):
            continue
        try:
            if n.endswith(".tmp") and os.path.getsize(os.path.join(d, n)) > 0:
                out.append(n[:-4])
        except OSError:
            pass  # renamed or removed meanwhile
    return out


def fetched_files(replica):
    """Names of the checkpoint files completely fetched into <dir>/sync_checkpoint (read from
    disk: INFO replication is not shown while the replica is loading)."""
    try:
        names = os.listdir(os.path.join(replica.dir, "sync_checkpoint"))
    except OSError:
        return []
    return [n for n in names if not n.endswith(".tmp") and not n.startswith(UNSYNCED_MARK)]


def task_count(server):
    try:
        return len(os.listdir("/proc/%d/task" % server.pid))
    except OSError:
        return -1


def thread_names(server, prefix=""):
    """Sorted names (/proc/<pid>/task/*/comm) of the server's threads starting with prefix."""
    names = []
    base = "/proc/%d/task" % server.pid
    try:
        tids = os.listdir(base)
    except OSError:
        return names
    for tid in tids:
        try:
            with open(os.path.join(base, tid, "comm")) as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith(prefix):
            names.append(name)
    return sorted(names)


def log_count(server, needle, since=None):
    return server.log_text(since).count(needle)


def wait_log(server, needle, since=None, timeout=10, count=1):
    wait_until(lambda: log_count(server, needle, since) >= count, timeout=timeout,
               msg="%r (x%d) in the log of %s" % (needle, count, server.name))


def cpu_seconds(server):
    """user + system CPU seconds of the server process."""
    with open("/proc/%d/stat" % server.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def refused_port():
    """A loopback port with nothing listening (connects are refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bounded(seconds):
    """A wall-time bound for 'returns within N s' checks: scaled in sanitizer builds."""
    return scaled(seconds)


# --- CRC32C (Castagnoli, reflected 0x82F63B78), as common/crc32c.h -----------------------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value
