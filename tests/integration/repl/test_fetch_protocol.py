# SPDX-License-Identifier: Apache-2.0
"""The replica's checkpoint fetch (kvrocks-notes.md 3.4) against a fake master.

FakeMaster is a few threads in this process with a listening socket on 127.0.0.1 that speak just
enough of the protocol: `_db_name` (a raw line), REPLCONF (`capa crc32c` accepted, as kvrocks-c
does, or refused with "-ERR unknown option", as Kvrocks does), PSYNC (refused, or accepted and
then only heartbeats), `_fetch_meta` (one line: the file list) and `_fetch_file a,b` (per file
"<size>\\r\\n", the bytes, and "<crc32c as 8 hex digits>\\r\\n" only on a connection that got +OK
for `capa crc32c`). Every connection has its own thread; fetch connections are closed after
their list, as a real master does. The fake lets a test send what no real master sends: a wrong
checksum, or a checkpoint taken from a master that is gone.
"""
import os
import socket
import threading
import time

import pytest

from helpers.wait import wait_until
from repl.replutil import (PURGE_WAL_CONFIG, UNSYNCED_MARK, bounded, config, crc32c, dbdigest,
                           fill_small, repl, slaveof, slaveof_no_one, wait_link, wait_log)

pytestmark = pytest.mark.repl

DEFAULT_DB_NAME = "change.me.db"  # kvrocks.conf / config defaults: db-name
REFUSE_PSYNC = "-ERR sequence out of range, please use fullsync"
RECV_POLL_S = 0.2  # how often a fake connection thread looks at the stop flag
SEND_TIMEOUT_S = 10
HEARTBEAT_S = 0.5  # well under the replica's receive timeout (2 s in REPL_CONFIG)


def right_crc(name, data):
    return "%08x" % crc32c(data)


def wrong_crc(name, data):
    return "%08x" % (crc32c(data) ^ 0x5A5A5A5A)


# --- RESP requests ------------------------------------------------------------------------------

def parse_request(buf):
    """(argv as a list of bytes, rest) for the first complete request in buf (a RESP array of
    bulk strings, or an inline line), or (None, buf) when more bytes are needed."""
    if not buf:
        return None, buf
    eol = buf.find(b"\r\n")
    if eol < 0:
        return None, buf
    if buf[:1] != b"*":
        return buf[:eol].split(), buf[eol + 2:]
    count = int(buf[1:eol])
    pos = eol + 2
    argv = []
    for _ in range(count):
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None, buf
        if buf[pos:pos + 1] != b"$":
            raise ValueError("not a bulk string: %r" % buf[pos:pos + 20])
        size = int(buf[pos + 1:eol])
        start = eol + 2
        if len(buf) < start + size + 2:
            return None, buf
        argv.append(buf[start:start + size])
        pos = start + size + 2
    return argv, buf[pos:]


class FakeMaster:
    """A fake master on 127.0.0.1:<port>, serving `files` ({name: bytes}, listed in that order).

    crc_capa     answer `REPLCONF capa crc32c` with +OK (kvrocks-c) or "-ERR unknown option"
                 (Kvrocks); without it no CRC line follows a file
    crc_of       (name, data) -> the 8 hex digits sent after a file
    psync        (seq, fake) -> "+OK" (then heartbeats until the end) or an error line
    pause        {name: seconds}: send the first half of that file, wait, then the rest
    Recorded, under .lock: .requests [(connection number, [args as str])], .served [(connection
    number, file name, crc line sent or None)], .connections (count)."""

    def __init__(self, files, db_name=DEFAULT_DB_NAME, crc_capa=True, crc_of=right_crc,
                 psync=None, pause=None):
        self.files = dict(files)
        self.pause = dict(pause or {})
        self.db_name = db_name
        self.crc_capa = crc_capa
        self.crc_of = crc_of
        self.psync = psync or (lambda seq, fake: REFUSE_PSYNC)
        self.lock = threading.Lock()
        self.requests = []
        self.served = []
        self.connections = 0
        self.errors = []
        self._stop = threading.Event()
        self._socks = set()
        self._threads = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(RECV_POLL_S)
        self.host, self.port = self._listener.getsockname()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name="fake-master-accept")
        self._acceptor.start()

    @property
    def addr(self):
        return (self.host, self.port)

    # ---- what the replica did

    def commands(self, name):
        """Every request named `name` (case-insensitive): [(connection, args)]."""
        with self.lock:
            return [(c, a) for c, a in self.requests if a and a[0].lower() == name.lower()]

    def served_files(self):
        with self.lock:
            return list(self.served)

    def all_served(self):
        """Whether every listed file was sent completely at least once."""
        with self.lock:
            names = {n for _, n, _ in self.served}
        return names >= set(self.files)

    # ---- serving

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(RECV_POLL_S)
            with self.lock:
                if self._stop.is_set():
                    conn.close()
                    return
                self.connections += 1
                number = self.connections
                self._socks.add(conn)
                t = threading.Thread(target=self._serve, args=(conn, number), daemon=True,
                                     name="fake-master-%d" % number)
                self._threads.append(t)
            t.start()

    def _send(self, conn, data):
        conn.settimeout(SEND_TIMEOUT_S)
        try:
            conn.sendall(data)
        finally:
            conn.settimeout(RECV_POLL_S)

    def _serve(self, conn, number):
        state = {"crc": False}
        buf = b""
        try:
            while not self._stop.is_set():
                argv, buf = parse_request(buf)
                if argv is None:
                    try:
                        data = conn.recv(65536)
                    except socket.timeout:
                        continue
                    if not data:
                        return
                    buf += data
                    continue
                args = [a.decode("latin-1") for a in argv]
                with self.lock:
                    self.requests.append((number, args))
                if not self._handle(conn, number, args, state):
                    return
        except OSError:
            pass  # the replica went away, or close() shut the socket
        except Exception as exc:  # noqa: BLE001 - a bug of the fake: reported by close()
            with self.lock:
                self.errors.append("connection %d: %r" % (number, exc))
        finally:
            with self.lock:
                self._socks.discard(conn)
            conn.close()

    def _handle(self, conn, number, args, state):
        """Answer one request; False ends the connection."""
        cmd = args[0].lower() if args else ""
        if cmd == "auth":
            self._send(conn, b"+OK\r\n")
        elif cmd == "_db_name":
            self._send(conn, self.db_name.encode() + b"\r\n")
        elif cmd == "replconf":
            if len(args) >= 2 and args[1].lower() == "capa":
                if self.crc_capa and args[2:] == ["crc32c"]:
                    state["crc"] = True
                    self._send(conn, b"+OK\r\n")
                else:
                    self._send(conn, b"-ERR unknown option\r\n")
            else:
                self._send(conn, b"+OK\r\n")
        elif cmd == "psync":
            reply = self.psync(int(args[-1]), self)
            self._send(conn, reply.encode() + b"\r\n")
            if reply == "+OK":
                self._heartbeats(conn)
                return False
        elif cmd == "_fetch_meta":
            self._send(conn, ",".join(self.files).encode() + b"\r\n")
            return False
        elif cmd == "_fetch_file":
            for name in args[1].split(","):
                data = self.files.get(name)
                if data is None:
                    return False  # as a real master: stop and close
                self._send(conn, b"%d\r\n" % len(data))
                if name in self.pause:
                    half = len(data) // 2
                    self._send(conn, data[:half])
                    if self._stop.wait(self.pause[name]):
                        return False
                    self._send(conn, data[half:])
                else:
                    self._send(conn, data)
                crc = self.crc_of(name, data) if state["crc"] else None
                if crc is not None:
                    self._send(conn, crc.encode() + b"\r\n")
                with self.lock:
                    self.served.append((number, name, crc))
            return False
        else:
            self._send(conn, b"-ERR unknown command '%s'\r\n" % args[0].encode())
        return True

    def _heartbeats(self, conn):
        """After an accepted PSYNC: no batches, a heartbeat every HEARTBEAT_S (the link stays
        up), until the replica closes or the fake stops."""
        while not self._stop.wait(HEARTBEAT_S):
            self._send(conn, b"$4\r\nping\r\n")
            try:
                if conn.recv(4096) == b"":  # waits up to RECV_POLL_S
                    return
            except socket.timeout:
                pass

    def close(self):
        """Stop accepting, close every connection, join every thread; returns the problems."""
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        problems = []
        self._acceptor.join(10)
        if self._acceptor.is_alive():
            problems.append("the accept thread did not end")
        with self.lock:
            threads = list(self._threads)
        for t in threads:
            t.join(10)
            if t.is_alive():
                problems.append("%s did not end" % t.name)
        with self.lock:
            problems.extend(self.errors)
        return problems


@pytest.fixture
def fake_master():
    """fake_master(files, **kw) -> a started FakeMaster, closed (threads joined, sockets closed)
    at the end of the test."""
    made = []

    def make(files, **kw):
        fake = FakeMaster(files, **kw)
        made.append(fake)
        return fake

    yield make
    problems = []
    for fake in made:
        problems.extend(fake.close())
    assert problems == [], "fake master: %s" % problems


def _sync_dir(server):
    try:
        return sorted(os.listdir(os.path.join(server.dir, "sync_checkpoint")))
    except OSError:
        return []


def _fetch_connections(fake):
    """Connection numbers that asked for files."""
    return {c for c, _ in fake.commands("_fetch_file")}


# --- a real checkpoint to serve -----------------------------------------------------------------

def _populate(server):
    """Keys of every common type (values worth checking one by one), some in SST files and some
    only in the WAL; returns {key: (type, value)}. The server runs with PURGE_WAL_CONFIG, so the
    checkpoint it makes next holds the SST files and the live WAL (under 1 MiB: not flushed)."""
    c = server.client(socket_timeout=30)
    want = {}
    p = c.pipeline(transaction=False)
    for i in range(300):  # ~1.2 MB of incompressible values: more than one splice piece
        v = os.urandom(4096)
        p.set("big:%d" % i, v)
        want["big:%d" % i] = ("string", v)
    p.execute()
    server.restart()  # recovery flushes the WAL into an SST file and deletes it
    c = server.client(socket_timeout=30)
    c.hset("h", mapping={"f1": "a", "f2": "b"})
    want["h"] = ("hash", {b"f1": b"a", b"f2": b"b"})
    c.rpush("l", "x", "y", "z")
    want["l"] = ("list", [b"x", b"y", b"z"])
    c.sadd("s", "m1", "m2")
    want["s"] = ("set", {b"m1", b"m2"})
    c.zadd("z", {"a": 1, "b": 2.5})
    want["z"] = ("zset", [(b"a", 1.0), (b"b", 2.5)])
    c.set("ttl", "t", ex=3600)
    want["ttl"] = ("string", b"t")
    for i in range(50):
        c.set("wal:%d" % i, "w%d" % i)
        want["wal:%d" % i] = ("string", b"w%d" % i)
    return want


def _read_key(c, key, kind):
    if kind == "string":
        return c.get(key)
    if kind == "hash":
        return c.hgetall(key)
    if kind == "list":
        return c.lrange(key, 0, -1)
    if kind == "set":
        return c.smembers(key)
    if kind == "zset":
        return c.zrange(key, 0, -1, withscores=True)
    raise ValueError(kind)


def _fetch_meta(server):
    """Ask a running kvrocks-c server for a checkpoint, as a replica would: the listed names."""
    with socket.create_connection((server.host, server.port), timeout=30) as s:
        s.settimeout(30)
        s.sendall(b"*1\r\n$11\r\n_fetch_meta\r\n")
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = s.recv(65536)
            assert chunk, "the master closed before the file list (got %r)" % line
            line += chunk
    assert not line.startswith(b"-"), line
    return line[:-2].decode().split(",")


def _real_checkpoint(master):
    """A kvrocks-c master with _populate()'s data: its checkpoint ({name: bytes}, in the listed
    order, read from <dir>/checkpoint: repl_master.c checkpoint_dir), its DBDIGEST and the data.
    The master is stopped: from then on only the fake master has this data."""
    m = master(config(PURGE_WAL_CONFIG))
    want = _populate(m)
    digest = dbdigest(m)
    assert digest[2] == len(want)
    names = _fetch_meta(m)
    cp = os.path.join(m.dir, "checkpoint")
    assert sorted(os.listdir(cp)) == sorted(names)
    files = {}
    for name in names:
        with open(os.path.join(cp, name), "rb") as f:
            files[name] = f.read()
    kinds = {os.path.splitext(n)[1] for n in names}
    assert {".sst", ".log"} <= kinds and "CURRENT" in names, names
    m.stop()
    return files, digest, want


# --- 1. checksums that do not match --------------------------------------------------------------

def test_checksum_mismatch_is_refused_and_the_old_db_kept(master, server_factory, fake_master):
    """A real checkpoint whose files all come with a wrong CRC: had the replica accepted them, it
    would now hold the other master's keys."""
    files, _, _ = _real_checkpoint(master)
    r = server_factory(config())
    fill_small(r, 300, prefix="r:")
    before = dbdigest(r)
    assert before[2] == 300
    fake = fake_master(files, crc_of=wrong_crc)
    mark = r.log_mark()
    slaveof(r, fake.addr)
    # two attempts end: the second one fetches everything again (no file of the first one was
    # kept for reuse)
    wait_log(r, "fetch_files -> wait", since=mark, timeout=20, count=2)
    text = r.log_text(mark)
    assert "restored the database" not in text
    assert "[skip]" not in text, "a file that failed its checksum was kept for reuse"
    # complete files with a CRC line did reach the replica, on connections that asked for CRCs
    fetchers = _fetch_connections(fake)
    capa = {conn for conn, a in fake.commands("replconf") if a[1:] == ["capa", "crc32c"]}
    assert fetchers and fetchers <= capa, (fetchers, capa)
    served = fake.served_files()
    assert served and all(crc is not None for _, _, crc in served), served
    # the replica still serves its own data, unchanged
    assert dbdigest(r) == before
    assert r.client().get("r:1") == b"v1"
    info = repl(r)
    assert (info["role"], info["master_link_status"]) == ("slave", "down")
    elapsed = slaveof_no_one(r)
    assert elapsed < bounded(1.0), "SLAVEOF NO ONE took %.3fs" % elapsed
    wait_log(r, "replication from %s:%d stopped" % fake.addr, since=mark, timeout=10)
    assert repl(r)["role"] == "master"
    left = _sync_dir(r)
    assert not set(left) & set(files), "files that failed their checksum were kept: %s" % left
    assert not [n for n in left if n.endswith(".tmp")], left
    assert dbdigest(r) == before
    r.client().set("after", "1")  # a master again: writable


def test_checksum_mismatch_is_what_the_log_reports(server_factory, fake_master):
    """Four files with a wrong CRC, one per fetch connection; three are still arriving (half
    of each, then a pause well under the receive timeout) when the small one fails its
    checksum. The attempt's end in the log must name the mismatch, not the stop it causes for
    the other fetchers."""
    r = server_factory(config())
    ssts = ["00000%d.sst" % i for i in (7, 8, 9)]
    files = {name: os.urandom(128 * 1024) for name in ssts}
    files["CURRENT"] = b"MANIFEST-000006\n"
    fake = fake_master(files, crc_of=wrong_crc, pause={name: 0.5 for name in ssts})
    mark = r.log_mark()
    slaveof(r, fake.addr)
    wait_log(r, "fetch_files -> wait", since=mark, timeout=20)
    wait_until(fake.served_files, timeout=5, msg="a file served with its CRC line")
    # the log up to the end of the first attempt (the line that ends it included)
    text = r.log_text(mark)
    end = text.index("fetch_files -> wait")
    attempt, end_line = text[:text.find("\n", end)], text[end:text.find("\n", end)]
    assert "checksum mismatch for" in attempt, "the failed fetch is reported as: %s" % end_line
    assert "checksum mismatch for" in end_line, "the attempt ends with: %s" % end_line


# --- 2. a Kvrocks master: no checksum extension ------------------------------------------------

def test_full_sync_from_a_master_without_the_checksum_extension(master, server_factory,
                                                                fake_master):
    """A master that refuses `REPLCONF capa crc32c` (as Kvrocks does) and sends its files
    without CRC lines: the replica full-syncs from it all the same and then holds exactly what
    the real master that made the checkpoint held, at its sequence."""
    files, m_digest, want = _real_checkpoint(master)
    r = server_factory(config())
    fill_small(r, 200, prefix="r:")  # the replica's own data, to be replaced

    def psync(seq, fake):
        # the replica continues from the checkpoint's sequence once it has fetched it all
        return "+OK" if fake.all_served() and seq == m_digest[1] + 1 else REFUSE_PSYNC

    fake = fake_master(files, crc_capa=False, psync=psync)
    mark = r.log_mark()
    slaveof(r, fake.addr)
    wait_log(r, "restored the database", since=mark, timeout=20)
    wait_link(r, True, timeout=10)  # PSYNC <checkpoint sequence + 1> accepted
    # exactly the real master's keyspace, at its sequence
    wait_until(lambda: dbdigest(r) == m_digest, timeout=10,
               msg=lambda: "replica digest %s == master's %s" % (dbdigest(r), m_digest))
    c = r.client()
    for key, (kind, value) in want.items():
        assert _read_key(c, key, kind) == value, key
    assert 0 < c.ttl("ttl") <= 3600
    assert c.get("r:1") is None
    # the extension was asked for, and refused, on every fetch connection; no CRC line was sent
    fetchers = _fetch_connections(fake)
    refused = {conn for conn, a in fake.commands("replconf") if a[1:] == ["capa", "crc32c"]}
    assert fetchers and fetchers <= refused, (fetchers, refused)
    served = fake.served_files()
    assert all(crc is None for _, _, crc in served), served
    assert sorted(n for _, n, _ in served) == sorted(files), "each file fetched once"
    psyncs = [a[-1] for _, a in fake.commands("psync")]
    assert psyncs[-1] == str(m_digest[1] + 1), psyncs
    assert "checksum" not in r.log_text(mark)
    # durability: the mark goes once the files are synced
    wait_log(r, "the fetched files are on disk", since=mark, timeout=20)
    db = os.path.join(r.dir, "db")
    assert not os.path.exists(os.path.join(db, UNSYNCED_MARK)), sorted(os.listdir(db))
    assert not os.path.exists(os.path.join(r.dir, "sync_checkpoint"))
    print("measured: served %d files (%d bytes) without CRC lines; PSYNCs %s"
          % (len(files), sum(len(d) for d in files.values()), psyncs))


# --- 3. a master that never continues from its own checkpoint ---------------------------------

def test_full_syncs_that_never_lead_to_psync_back_off(master, server_factory, fake_master):
    """The fetched checkpoint restores fine, but the master refuses the PSYNC that should
    continue from it (as when a checkpoint opens short of its sequence). The replica must not
    swap its DB again and again at full speed: the second full sync in a row waits for the
    back-off (1 s, then 2 s, ...), and the log says why."""
    files, _, _ = _real_checkpoint(master)
    r = server_factory(config())
    fake = fake_master(files)  # PSYNC always refused
    mark = r.log_mark()
    slaveof(r, fake.addr)
    wait_log(r, "restored the database", since=mark, timeout=20)
    first = r.log_text(mark).count("restored the database")
    mark2 = r.log_mark()
    wait_log(r, "refused PSYNC right after a full sync", since=mark, timeout=20)
    time.sleep(2.5)
    restores = r.log_text(mark2).count("restored the database")
    # without a pause this is dozens (one swap every few tens of ms); with the back-off at most
    # the ones after 1 s and 1 + 2 s
    assert first == 1 and restores <= 3, (first, restores)
    elapsed = slaveof_no_one(r)
    assert elapsed < bounded(1.0), "SLAVEOF NO ONE took %.3fs" % elapsed
