# SPDX-License-Identifier: Apache-2.0
"""Connection handling: maxclients, idle timeout, requirepass / AUTH / HELLO (Kvrocks texts
where Kvrocks differs from Redis), RESP3 after HELLO 3, the connection commands, many clients
on many workers, and a client that never reads its replies.
"""
import os
import re
import resource
import shutil
import socket
import subprocess
import threading
import time

import pytest

from helpers.wait import Deadline, scaled, wait_until
from raw_resp import ConnectionClosed, Error, Map, RawConn, Status, cmd


# --------------------------------------------------------------------------------------
# maxclients

def _accepted_conn(port):
    """A connection the server accepted (PING answered). Retried: the server notices the
    harness' own start-up PING connection closing a little after it closed."""
    box = []

    def attempt():
        c = RawConn(port)
        try:
            if c.call("PING") == Status("PONG"):
                box.append(c)
                return True
        except ConnectionClosed:
            pass
        c.close()
        return False

    wait_until(attempt, timeout=5, msg="a connection accepted by the server")
    return box[0]


def _rejected_connections(conn):
    reply = conn.call("INFO", "stats")
    if isinstance(reply, Error) and "unknown command" in reply:
        pytest.skip("INFO is not implemented yet")
    for line in reply.decode().split("\r\n"):
        if line.startswith("rejected_connections:"):
            return int(line.split(":")[1])
    raise AssertionError("no rejected_connections in INFO stats: %r" % reply)


def test_maxclients(server_factory):
    srv = server_factory(maxclients=3)
    conns = []
    try:
        for _ in range(3):
            conns.append(_accepted_conn(srv.port))
        for _ in range(2):
            with RawConn(srv.port) as extra:
                assert extra.read_until_closed() == b"-ERR max number of clients reached\r\n"
        # the accepted ones are unaffected
        assert conns[0].call("ECHO", "still") == b"still"
        # a slot frees when a client leaves
        conns.pop().close()

        def fourth_gets_in():
            with RawConn(srv.port) as c:
                c.send(cmd("PING"))
                return c.read_raw() == b"+PONG\r\n"

        wait_until(fourth_gets_in, timeout=5, msg="a new client accepted after one left")
    finally:
        for c in conns:
            c.close()


def test_maxclients_rejections_are_counted(server_factory):
    srv = server_factory(maxclients=1)
    with _accepted_conn(srv.port) as keep:
        before = _rejected_connections(keep)
        for _ in range(3):
            with RawConn(srv.port) as extra:
                assert extra.read_until_closed() == b"-ERR max number of clients reached\r\n"
        assert _rejected_connections(keep) - before == 3


@pytest.mark.needs_redis
def test_maxclients_text_matches_redis(redis_factory):
    rd = redis_factory(maxclients=1)
    with _accepted_conn(rd.port):
        with RawConn(rd.port) as extra:
            assert extra.read_until_closed() == b"-ERR max number of clients reached\r\n"


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_file_descriptors_does_not_spin_or_block(server_factory):
    """When accept() fails with EMFILE the pending connection keeps the listener readable:
    the worker must back off (not burn a CPU retrying), keep serving its clients, and accept
    the waiting ones once descriptors are free again."""
    srv = server_factory(workers=1)
    keep = RawConn(srv.port)
    assert keep.call("PING") == Status("PONG")
    nfds = len(os.listdir("/proc/%d/fd" % srv.pid))
    old = resource.prlimit(srv.pid, resource.RLIMIT_NOFILE)
    waiting = []
    try:
        resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (nfds + 2, old[1]))
        for _ in range(6):  # a few get in, the others wait in the backlog
            c = RawConn(srv.port)
            c.send(cmd("PING"))
            waiting.append(c)
        cpu0, t0 = _cpu_seconds(srv.pid), time.monotonic()
        while time.monotonic() - t0 < 1.0:
            assert keep.call("PING") == Status("PONG")  # still served
            assert keep.is_open(0.05)
        cpu = _cpu_seconds(srv.pid) - cpu0
        assert cpu < 0.5, "the server used %.2fs of CPU in 1s while out of descriptors" % cpu
    finally:
        resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, old)
    # descriptors are back: every waiting client gets its answer
    for c in waiting:
        assert c.read_raw(timeout=5) == b"+PONG\r\n"
        c.close()
    keep.close()
    assert "accept failed: Too many open files" in srv.log_text()


def _config_set_or_skip(conn, name, value):
    reply = conn.call("CONFIG", "SET", name, value)
    if isinstance(reply, Error) and "unknown command" in reply:
        pytest.skip("CONFIG is not implemented yet")
    assert reply == Status("OK"), (name, value, reply)


def test_runtime_config_changes_apply_to_new_connections(server):
    admin = _accepted_conn(server.port)
    try:
        _config_set_or_skip(admin, "requirepass", "pw")
        with RawConn(server.port) as c:
            c.send(cmd("PING"))
            assert c.read_raw() == b"-NOAUTH Authentication required.\r\n"
        # the connection that was open before keeps its rights, as in Redis
        assert admin.call("PING") == Status("PONG")
        _config_set_or_skip(admin, "requirepass", "")
        with RawConn(server.port) as c:
            assert c.call("PING") == Status("PONG")
        _config_set_or_skip(admin, "proto-max-bulk-len", str(1 << 20))
        with RawConn(server.port) as c:
            c.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n")
            assert c.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
        _config_set_or_skip(admin, "maxclients", "1")
        with RawConn(server.port) as c:
            assert c.read_until_closed() == b"-ERR max number of clients reached\r\n"
        _config_set_or_skip(admin, "maxclients", "100")
        _accepted_conn(server.port).close()
    finally:
        admin.close()


# --------------------------------------------------------------------------------------
# idle timeout

def test_idle_timeout_closes_idle_clients_only(server_factory):
    srv = server_factory(timeout=1)
    idle = RawConn(srv.port)
    busy = RawConn(srv.port)
    try:
        assert idle.call("PING") == Status("PONG")
        last_idle_activity = time.monotonic()
        closed_at = None
        deadline = Deadline(scaled(6))
        while not deadline.expired():
            assert busy.call("PING") == Status("PONG")  # activity keeps `busy` open
            if not idle.is_open(0.1):
                closed_at = time.monotonic()
                break
        assert closed_at is not None, "idle client not closed within %.1fs" % deadline.seconds
        idle_for = closed_at - last_idle_activity
        assert idle_for >= 0.95, "closed after %.2fs idle, before the 1 s timeout" % idle_for
        assert idle_for <= scaled(3.5), "closed only after %.2fs idle" % idle_for
        # the active client was never closed, and still works
        assert busy.call("ECHO", "alive") == b"alive"
    finally:
        idle.close()
        busy.close()


def test_no_timeout_by_default(server_factory):
    srv = server_factory()
    with RawConn(srv.port) as c:
        assert c.call("PING") == Status("PONG")
        assert c.is_open(2.2)
        assert c.call("PING") == Status("PONG")


# --------------------------------------------------------------------------------------
# requirepass, AUTH, HELLO

def test_requirepass_gates_every_command_but_auth_hello_quit(server_factory):
    srv = server_factory(requirepass="s3cret")
    with RawConn(srv.port) as c:
        for args in (["GET", "k"], ["SET", "k", "v"], ["PING"], ["ECHO", "x"], ["SELECT", "0"],
                     ["DEL", "k"], ["EXISTS", "k"], ["SHUTDOWN"]):
            c.send(cmd(*args))
            assert c.read_raw() == b"-NOAUTH Authentication required.\r\n", args
        # unknown commands and wrong arity are reported before authentication, as Redis does
        c.send(cmd("NOPE", "a"))
        assert c.read_raw() == b"-ERR unknown command 'NOPE', with args beginning with: 'a' \r\n"
        c.send(cmd("GET"))
        assert c.read_raw() == b"-ERR wrong number of arguments for 'get' command\r\n"
        c.send(cmd("HELLO", "3"))
        assert c.read_raw() == (
            b"-NOAUTH HELLO must be called with the client already authenticated, otherwise "
            b"the HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            b"select the RESP protocol version at the same time\r\n")
        c.send(cmd("AUTH", "wrong"))
        assert c.read_raw() == b"-ERR Invalid password\r\n"
        c.send(cmd("AUTH", "default", "wrong"))
        assert c.read_raw() == b"-ERR Invalid password\r\n"
        c.send(cmd("AUTH", "someone", "s3cret"))
        assert c.read_raw() == b"-ERR Invalid password\r\n"
        c.send(cmd("AUTH", "a", "b", "c"))
        assert c.read_raw() == b"-ERR syntax error\r\n"
        c.send(cmd("GET", "k"))
        assert c.read_raw() == b"-NOAUTH Authentication required.\r\n"
        c.send(cmd("AUTH", "s3cret") + cmd("SET", "k", "v") + cmd("GET", "k"))
        assert c.read_raw() == b"+OK\r\n"
        assert c.read_raw() == b"+OK\r\n"
        assert c.read_raw() == b"$1\r\nv\r\n"
    with RawConn(srv.port) as c:
        c.send(cmd("AUTH", "default", "s3cret") + cmd("GET", "k"))
        assert c.read_raw() == b"+OK\r\n"
        assert c.read_raw() == b"$1\r\nv\r\n"
    with RawConn(srv.port) as c:
        # QUIT needs no authentication
        c.send(cmd("QUIT") + cmd("PING"))
        assert c.read_until_closed() == b"+OK\r\n"
    with RawConn(srv.port) as c:
        # HELLO AUTH authenticates; a failed one does not
        c.send(cmd("HELLO", "2", "AUTH", "default", "nope"))
        assert c.read_raw() == b"-ERR Invalid password\r\n"
        c.send(cmd("GET", "k"))
        assert c.read_raw() == b"-NOAUTH Authentication required.\r\n"
        # a syntax error after a good AUTH option changes nothing either
        c.send(cmd("HELLO", "2", "AUTH", "default", "s3cret", "BOGUS"))
        assert c.read_raw() == b"-ERR Syntax error in HELLO option 'BOGUS'\r\n"
        c.send(cmd("GET", "k"))
        assert c.read_raw() == b"-NOAUTH Authentication required.\r\n"
        c.send(cmd("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "me"))
        hello = c.read()
        assert isinstance(hello, list) and hello[4:6] == [b"proto", 2], hello
        c.send(cmd("GET", "k"))
        assert c.read_raw() == b"$1\r\nv\r\n"


def test_auth_without_requirepass(server):
    with RawConn(server.port) as c:
        c.send(cmd("AUTH", "x"))
        assert c.read_raw() == b"-ERR Client sent AUTH, but no password is set\r\n"
        c.send(cmd("AUTH", "default", "x"))
        assert c.read_raw() == b"-ERR Client sent AUTH, but no password is set\r\n"
        c.send(cmd("HELLO", "2", "AUTH", "default", "x"))
        assert c.read_raw() == b"-ERR Client sent AUTH, but no password is set\r\n"
        c.send(cmd("AUTH"))
        assert c.read_raw() == b"-ERR wrong number of arguments for 'auth' command\r\n"
        assert c.call("PING") == Status("PONG")


HELLO_KEYS = [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"]


def test_hello_resp2_and_resp3(server_factory):
    srv = server_factory({"resp3-enabled": "yes"})
    with RawConn(srv.port) as c:
        c.send(cmd("HELLO"))
        flat = c.read()
        assert isinstance(flat, list) and not isinstance(flat, Map) and len(flat) == 14
        assert flat[0::2] == HELLO_KEYS
        info = dict(zip(flat[0::2], flat[1::2]))
        assert info[b"server"] == b"redis" and info[b"proto"] == 2
        assert info[b"mode"] == b"standalone" and info[b"role"] == b"master"
        assert info[b"modules"] == [] and isinstance(info[b"id"], int)

        c.send(cmd("HELLO", "4"))
        assert c.read_raw() == b"-NOPROTO unsupported protocol version\r\n"
        c.send(cmd("HELLO", "1"))
        assert c.read_raw() == b"-NOPROTO unsupported protocol version\r\n"
        c.send(cmd("HELLO", "x"))
        assert c.read_raw() == b"-ERR Protocol version is not an integer or out of range\r\n"
        c.send(cmd("HELLO", "3", "foo"))
        assert c.read_raw() == b"-ERR Syntax error in HELLO option 'foo'\r\n"
        c.send(cmd("HELLO", "3", "AUTH", "a"))
        assert c.read_raw() == b"-ERR Syntax error in HELLO option 'AUTH'\r\n"
        c.send(cmd("HELLO", "3", "SETNAME", "a b"))
        assert c.read_raw() == (b"-ERR Client names cannot contain spaces, newlines or special "
                                b"characters.\r\n")
        # none of the failures switched the protocol
        c.send(cmd("GET", "nokey"))
        assert c.read_raw() == b"$-1\r\n"

        c.send(cmd("HELLO", "3", "SETNAME", "myname"))
        raw = c.read_raw()
        assert raw.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), raw
        assert b"$5\r\nproto\r\n:3\r\n" in raw and raw.endswith(b"$7\r\nmodules\r\n*0\r\n")

        # RESP3 replies
        c.send(cmd("GET", "nokey"))
        assert c.read_raw() == b"_\r\n"
        c.send(cmd("SET", "k", "v") + cmd("GET", "k") + cmd("DEL", "k") + cmd("PING")
               + cmd("ECHO", "e") + cmd("NOPE") + cmd("EXISTS", "k"))
        assert c.read_raw() == b"+OK\r\n"
        assert c.read_raw() == b"$1\r\nv\r\n"
        assert c.read_raw() == b":1\r\n"
        assert c.read_raw() == b"+PONG\r\n"
        assert c.read_raw() == b"$1\r\ne\r\n"
        assert c.read_raw() == b"-ERR unknown command 'NOPE', with args beginning with: \r\n"
        assert c.read_raw() == b":0\r\n"
        # HELLO without a version keeps RESP3; HELLO 2 goes back
        c.send(cmd("HELLO"))
        assert c.read_raw().startswith(b"%7\r\n")
        c.send(cmd("HELLO", "2"))
        assert c.read_raw().startswith(b"*14\r\n")
        c.send(cmd("GET", "nokey"))
        assert c.read_raw() == b"$-1\r\n"


def test_hello_3_auth_and_setname_in_one_call(server_factory):
    srv = server_factory({"resp3-enabled": "yes", "requirepass": "pw"})
    with RawConn(srv.port) as c:
        c.send(cmd("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "x"))
        hello = c.read()
        assert isinstance(hello, Map), hello
        assert [k for k, _ in hello] == HELLO_KEYS
        assert hello.as_dict()[b"proto"] == 3
        c.send(cmd("GET", "nokey"))
        assert c.read_raw() == b"_\r\n"
        name = c.call("CLIENT", "GETNAME")
        if not (isinstance(name, Error) and "unknown command" in name):
            assert name == b"x"


def test_hello_3_without_resp3_enabled_stays_resp2(server):
    """Kvrocks: RESP3 only with resp3-enabled yes; otherwise HELLO 3 answers proto 2."""
    with RawConn(server.port) as c:
        c.send(cmd("HELLO", "3"))
        flat = c.read()
        assert not isinstance(flat, Map) and len(flat) == 14
        assert dict(zip(flat[0::2], flat[1::2]))[b"proto"] == 2
        c.send(cmd("GET", "nokey"))
        assert c.read_raw() == b"$-1\r\n"


@pytest.mark.needs_redis
def test_hello_3_and_resp3_replies_match_redis(server_factory, redis_ref):
    srv = server_factory({"resp3-enabled": "yes"})
    script = [cmd("HELLO", "3"), cmd("GET", "nokey"), cmd("SET", "k", "v"), cmd("GET", "k"),
              cmd("DEL", "k"), cmd("EXISTS", "k", "k"), cmd("PING"), cmd("PING", "x"),
              cmd("ECHO", ""), cmd("SELECT", "0"), cmd("HELLO", "4"), cmd("HELLO", "3", "x"),
              cmd("HELLO", "3", "SETNAME", "a\nb"), cmd("AUTH", "a", "b", "c"), cmd("foo", "b")]
    out = []
    for s in (srv, redis_ref):
        replies = []
        with RawConn(s.port) as c:
            for req in script:
                c.send(req)
                replies.append(c.read())
        out.append(replies)
    kv, rd = out
    hello_kv, hello_rd = kv.pop(0), rd.pop(0)
    assert isinstance(hello_kv, Map) and isinstance(hello_rd, Map)
    assert [k for k, _ in hello_kv] == [k for k, _ in hello_rd]
    assert kv == rd


def test_ping_echo_select_quit(server):
    with RawConn(server.port) as c:
        c.send(cmd("PING") + cmd("PING", "hello") + cmd("ECHO", "x\r\ny") + cmd("ECHO", ""))
        assert c.read_raw() == b"+PONG\r\n"
        assert c.read_raw() == b"$5\r\nhello\r\n"
        assert c.read_raw() == b"$4\r\nx\r\ny\r\n"
        assert c.read_raw() == b"$0\r\n\r\n"
        c.send(cmd("SELECT", "0"))
        assert c.read_raw() == b"+OK\r\n"
        for idx in ("1", "16", "-1"):
            c.send(cmd("SELECT", idx))
            assert c.read_raw() == b"-ERR DB index is out of range\r\n"
        c.send(cmd("SELECT", "x"))
        assert c.read_raw() == b"-ERR value is not an integer or out of range\r\n"
        c.send(cmd("SELECT", "99999999999"))
        assert c.read_raw() == (b"-ERR value is out of range, value must between -2147483648 "
                                b"and 2147483647\r\n")
        c.send(cmd("SELECT"))
        assert c.read_raw() == b"-ERR wrong number of arguments for 'select' command\r\n"
        # QUIT: +OK, then closed; what follows in the pipeline is not executed
        c.send(cmd("QUIT") + cmd("SET", "after_quit", "1"))
        assert c.read_until_closed() == b"+OK\r\n"
    assert server.client().get("after_quit") is None


# --------------------------------------------------------------------------------------
# Many clients, many workers

def test_many_clients_on_many_workers(server_factory):
    srv = server_factory(workers=4)
    nclients, nkeys = 200, 25
    errors = []
    start = threading.Barrier(nclients)

    def client(n):
        try:
            with RawConn(srv.port, timeout=30) as c:
                start.wait(scaled(30))
                for i in range(nkeys):
                    key, val = "c%d:k%d" % (n, i), "v%d:%d" % (n, i) * (1 + i % 5)
                    c.send(cmd("SET", key, val) + cmd("GET", key))
                    assert c.read() == Status("OK")
                    got = c.read()
                    assert got == val.encode(), (key, got)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append("client %d: %r" % (n, exc))

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(60))
    assert not any(t.is_alive() for t in threads), "clients still running"
    assert not errors, errors[:5]
    # every key, read back on one connection
    with RawConn(srv.port, timeout=30) as c:
        c.send(b"".join(cmd("GET", "c%d:k%d" % (n, i))
                        for n in range(nclients) for i in range(nkeys)))
        for n in range(nclients):
            for i in range(nkeys):
                assert c.read() == ("v%d:%d" % (n, i) * (1 + i % 5)).encode()


# --------------------------------------------------------------------------------------
# A client that does not read its replies

def test_client_that_never_reads_does_not_make_the_server_buffer_everything(server_factory):
    """64 pipelined GETs of a 1 MiB value, not read: the server stops reading that client
    once ~16 MiB of replies wait (conn.c CONN_OUT_HIGH), so it does not execute (and buffer)
    the rest; other clients are served meanwhile; everything arrives once the client reads."""
    srv = server_factory(workers=1)
    value = bytes(range(256)) * 4096  # 1 MiB
    r = srv.client(socket_timeout=10)
    r.set("big", value)
    n = 64
    # Each GET is followed by a SET that records how far the server got.
    pipeline = b"".join(cmd("GET", "big") + cmd("SET", "progress", str(i)) for i in range(n))
    slow = RawConn(srv.port, rcvbuf=64 * 1024, timeout=60)
    try:
        slow.send(pipeline)

        def progress():
            v = r.get("progress")
            return -1 if v is None else int(v)

        # the server gets going, then stalls well before the end
        wait_until(lambda: progress() >= 4, timeout=10, msg="the slow client's pipeline started")
        last = progress()
        stable = Deadline(0.5)
        while not stable.expired():
            now = progress()
            if now != last:
                last, stable = now, Deadline(0.5)
            # other clients of the same worker are served meanwhile
            t0 = time.monotonic()
            assert r.ping()
            assert time.monotonic() - t0 < scaled(1)
        assert last < 40, "the server executed %d of %d GETs for a client that reads nothing" % (
            last + 1, n)
        # now read: every reply arrives, in order, and the rest of the pipeline runs
        for i in range(n):
            assert slow.read(timeout=30) == value, i
            assert slow.read(timeout=30) == Status("OK"), i
        assert progress() == n - 1
    finally:
        slow.close()


# --------------------------------------------------------------------------------------
# Socket options, half-close

@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_client_sockets_use_tcp_keepalive_of_120s(server):
    with RawConn(server.port) as c:
        assert c.call("PING") == Status("PONG")
        local_port = c.sock.getsockname()[1]
        out = subprocess.run(["ss", "-tnoH", "state", "established",
                              "( sport = :%d and dport = :%d )" % (server.port, local_port)],
                             capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"timer:\(keepalive,([^,]+),", out)
        assert m, out
        units = {"min": 60.0, "sec": 1.0, "ms": 0.001}
        seconds = sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(min|sec|ms)",
                                                                 m.group(1)))
        assert 60 < seconds <= 120, out


def test_replies_reach_a_client_that_half_closed(server):
    """`printf 'PING\\r\\n' | nc host port` style: the request and the FIN arrive together."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=scaled(5)) as s:
        s.sendall(cmd("SET", "hc", "v") + b"GET hc\r\nPING\r\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data == b"+OK\r\n$1\r\nv\r\n+PONG\r\n"


def test_quit_after_a_big_pipelined_output_delivers_everything_first(server):
    value = b"q" * (1 << 20)
    r = server.client()
    r.set("b", value)
    with RawConn(server.port, rcvbuf=32768, timeout=30) as c:
        # 40 MiB of replies, more than the server buffers for a client at once
        c.send(cmd("GET", "b") * 40 + cmd("QUIT") + cmd("SET", "after_quit", "1"))
        for i in range(40):
            assert c.read() == value, i
        assert c.read_until_closed() == b"+OK\r\n"
    assert r.get("after_quit") is None
