# SPDX-License-Identifier: Apache-2.0
"""Tests of the test harness itself, with Debian's redis-server standing in for kvrocks-c.

Covers helpers.wait, helpers.server (lifecycle, config, INFO, logs, teardown checks),
helpers.proxy (pass, blackhole, cut, slow, pause/resume, HangingPort), helpers.diff and
helpers.dataset.
"""
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest
import redis

from helpers.dataset import (assert_same_keyspace, compare_keyspaces, digest,
                             expected_snapshot, fill, snapshot)
from helpers.diff import Cmd, ErrorReply, diff_replies, format_mismatches
from helpers.proxy import HangingPort
from helpers.server import Server, ServerError, find_sanitizer_reports, parse_info, \
    render_config
from helpers.wait import Deadline, timed, wait_for_value, wait_until


# --------------------------------------------------------------------------------------
# helpers.wait

def test_wait_until_returns_the_truthy_value():
    calls = []

    def pred():
        calls.append(1)
        return len(calls) >= 3 and "done"

    assert wait_until(pred, timeout=5, interval=0.01) == "done"
    assert len(calls) == 3


def test_wait_until_timeout_names_the_condition_and_last_value():
    with pytest.raises(AssertionError) as info:
        wait_until(lambda: 0, timeout=0.2, interval=0.05, msg="the answer", scale=False)
    text = str(info.value)
    assert "the answer" in text and "last value: 0" in text and "timed out" in text


def test_wait_until_reports_the_last_exception():
    def boom():
        raise ConnectionError("refused")

    with pytest.raises(AssertionError, match="ConnectionError: refused"):
        wait_until(boom, timeout=0.2, scale=False)


def test_wait_for_value():
    seq = iter(range(100))
    assert wait_for_value(lambda: next(seq), 5, timeout=5, interval=0.01) == 5
    with pytest.raises(AssertionError, match="== 'x'"):
        wait_for_value(lambda: "y", "x", timeout=0.1, scale=False)


def test_timed():
    result, elapsed = timed(lambda: 42)
    assert result == 42 and 0 <= elapsed < 1


# --------------------------------------------------------------------------------------
# helpers.server: pure parts

def test_parse_info():
    text = (b"# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
            b"slave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0\r\n"
            b"master_repl_offset:42\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n"
            b"# Server\r\nredis_version:7.0.15\r\nused_cpu_sys:0.25\r\n")
    info = parse_info(text)
    assert info["role"] == "master"
    assert info["connected_slaves"] == 1
    assert info["slave0"] == {"ip": "127.0.0.1", "port": 6380, "state": "online",
                              "offset": 42, "lag": 0}
    assert info["db0"]["keys"] == 3
    assert info["redis_version"] == "7.0.15"
    assert info["used_cpu_sys"] == 0.25
    by_section = parse_info(text, sections=True)
    assert by_section["replication"]["master_repl_offset"] == 42
    assert "db0" in by_section["keyspace"]


def test_render_config():
    text = render_config({"port": 1, "appendonly": True, "protected-mode": False,
                          "save": "", "rename-command": ["A B", "C D"], "gone": None,
                          "rocksdb.write_buffer_size": 1})
    assert text.splitlines() == ["port 1", "appendonly yes", "protected-mode no", 'save ""',
                                 "rename-command A B", "rename-command C D",
                                 "rocksdb.write_buffer_size 1"]


def test_find_sanitizer_reports():
    text = ("ordinary line\n==123==ERROR: AddressSanitizer: heap-use-after-free on address\n"
            "    #0 0x1 in f\nsrc/x.c:10:5: runtime error: signed integer overflow\n")
    reports = find_sanitizer_reports(text, context_after=2)
    assert len(reports) == 2
    assert "heap-use-after-free" in reports[0]
    assert find_sanitizer_reports("all good\nno errors\n") == []


def test_sanitizer_reports_are_read_from_the_server_logs(tmp_path):
    s = Server(tmp_path / "s", kind="redis")
    with open(s.output_path, "w") as f:
        f.write("==7==ERROR: LeakSanitizer: detected memory leaks\n")
    assert len(s.sanitizer_reports()) == 1


# --------------------------------------------------------------------------------------
# helpers.server: processes (redis-server as the stand-in)

@pytest.mark.needs_redis
def test_server_basics(redis_ref):
    c = redis_ref.client()
    assert c.ping() is True
    assert c.set(b"k", b"v") is True and c.get(b"k") == b"v"
    assert c.connection_pool.connection_kwargs["socket_timeout"] == 10
    info = redis_ref.info("server")
    assert info["tcp_port"] == redis_ref.port
    assert redis_ref.info_field("role") == "master"
    assert os.path.isfile(redis_ref.config_path)
    assert "Ready to accept connections" in redis_ref.log_text()
    assert redis_ref.is_running()


@pytest.mark.needs_redis
def test_stop_kill9_pause_resume(redis_factory):
    s = redis_factory()
    assert s.stop() == 0 and not s.is_running()
    assert s.stop() == 0  # already stopped: the last exit code
    s.start()
    assert s.kill9() == -9
    s.start()
    c = s.client(socket_timeout=0.3)
    with s.paused():
        assert s.is_paused
        with pytest.raises(redis.TimeoutError):
            c.ping()
    assert c.ping() is True
    s.pause()  # stop() must also work on a paused server
    assert s.stop(timeout=10) == 0


@pytest.mark.needs_redis
def test_restart_keeps_dir_port_and_data(redis_factory):
    s = redis_factory(appendonly=True, appendfsync="always")
    port, data_dir = s.port, s.dir
    s.client().set(b"k", b"v1")
    s.restart()
    assert (s.port, s.dir) == (port, data_dir)
    assert s.client().get(b"k") == b"v1"
    s.client().set(b"k", b"v2")
    s.restart(kill9=True)
    assert s.client().get(b"k") == b"v2"
    s.restart({"maxmemory-policy": "allkeys-lru"})
    assert s.command("CONFIG", "GET", "maxmemory-policy")[1] == b"allkeys-lru"
    assert s.log_text().count("=== harness: start #") == 4


@pytest.mark.needs_redis
def test_requirepass_ready_and_admin_commands(redis_factory):
    s = redis_factory(requirepass="sekret")
    assert s.ping_status() == "NOAUTH"
    assert s.info("server")["tcp_port"] == s.port  # command() authenticates
    assert s.client(password="sekret").ping() is True


@pytest.mark.needs_redis
def test_log_mark(redis_factory):
    s = redis_factory()
    mark = s.log_mark()
    s.restart()
    assert "=== harness: start #2" in s.log_text(since=mark)
    assert "=== harness: start #1" not in s.log_text(since=mark)


@pytest.mark.needs_redis
def test_start_failure_shows_the_log(redis_factory):
    with pytest.raises(ServerError) as info:
        redis_factory({"no-such-directive": "1"})
    assert "no-such-directive" in str(info.value)


@pytest.mark.needs_redis
def test_port_collision_moves_to_another_port(redis_factory):
    s = redis_factory(start=False)
    taken = s.port
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", taken))
    blocker.listen(1)
    try:
        s.start()
        assert s.port != taken and s.client().ping() is True
    finally:
        blocker.close()


@pytest.mark.needs_redis
def test_teardown_reports_an_unexpected_exit(tmp_path):
    s = Server(tmp_path / "crashy", kind="redis")
    s.start()
    os.kill(s.pid, 9)
    wait_until(lambda: not s.is_running(), timeout=5, msg="process gone")
    problems = s.teardown()
    assert len(problems) == 1 and "unexpected" in problems[0]
    s2 = Server(tmp_path / "fine", kind="redis")
    s2.start()
    assert s2.teardown() == []


@pytest.mark.needs_redis
def test_wait_exit_marks_shutdown_as_expected(tmp_path):
    s = Server(tmp_path / "s", kind="redis")
    s.start()
    with pytest.raises(redis.ConnectionError):
        s.command("SHUTDOWN", "NOSAVE")
    assert s.wait_exit(timeout=10) == 0
    assert s.teardown() == []


@pytest.mark.needs_redis
def test_replica_info_is_parsed(redis_factory):
    master = redis_factory({"repl-diskless-sync-delay": 0})
    replica = redis_factory(replicaof="127.0.0.1 %d" % master.port)
    info = wait_until(lambda: (master.info("replication").get("slave0") or {}).get("state")
                      == "online" and master.info("replication"), timeout=10,
                      msg="replica online")
    assert info["connected_slaves"] == 1
    assert info["slave0"]["port"] == replica.port
    assert replica.info("replication")["master_link_status"] == "up"


# --------------------------------------------------------------------------------------
# helpers.proxy

def _roundtrip(sock, payload, expect, timeout):
    """Send payload, read until `expect` is in what was read (expect=None: until the
    deadline), the peer closes or the deadline passes; return the bytes read."""
    sock.sendall(payload)
    data = b""
    deadline = Deadline(timeout)
    while (expect is None or expect not in data) and not deadline.expired():
        sock.settimeout(max(0.01, deadline.remaining()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.needs_redis
def test_proxy_pass(redis_ref, proxy_factory):
    proxy = proxy_factory(redis_ref)
    c = redis.Redis(port=proxy.port, socket_timeout=5)
    assert c.set(b"k", b"x" * 200000) is True
    assert c.get(b"k") == b"x" * 200000
    assert proxy.accepted == 1 and proxy.active_connections == 1
    # Counters are updated by the proxy thread just after each send: poll them.
    wait_until(lambda: proxy.bytes_forwarded["up"] > 200000
               and proxy.bytes_forwarded["down"] > 200000, timeout=5, msg="counters")
    c.connection_pool.disconnect()
    wait_until(lambda: proxy.active_connections == 0, timeout=5, msg="connection closed")


@pytest.mark.needs_redis
def test_proxy_blackhole(redis_ref, proxy_factory):
    proxy = proxy_factory(redis_ref)
    c = redis.Redis(port=proxy.port, socket_timeout=0.5)
    assert c.ping() is True
    proxy.blackhole()
    with pytest.raises(redis.TimeoutError):
        c.ping()
    # A new connection is accepted but gets nothing either.
    c2 = redis.Redis(port=proxy.port, socket_timeout=0.3)
    with pytest.raises(redis.TimeoutError):
        c2.ping()
    assert proxy.active_connections >= 1
    assert proxy.bytes_swallowed["up"] > 0
    proxy.passthrough()
    assert c.ping() is True  # redis-py reconnected after the timeout
    c.connection_pool.disconnect()
    c2.connection_pool.disconnect()


@pytest.mark.needs_redis
def test_proxy_cut(redis_ref, proxy_factory):
    proxy = proxy_factory(redis_ref)
    c = redis.Redis(port=proxy.port, socket_timeout=2)
    assert c.ping() is True
    proxy.cut()
    assert proxy.active_connections == 0
    with pytest.raises(redis.ConnectionError):
        c.ping()  # the old connection was reset
    with pytest.raises(redis.ConnectionError):
        c.ping()  # and a new one is reset at once
    assert proxy.refused >= 1
    proxy.passthrough()
    assert c.ping() is True
    c.connection_pool.disconnect()


@pytest.mark.needs_redis
@pytest.mark.parametrize("rst", [False, True])
def test_proxy_drop_connections_keeps_accepting(redis_ref, proxy_factory, rst):
    proxy = proxy_factory(redis_ref)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        assert _roundtrip(sock, b"PING\r\n", b"\r\n", 5) == b"+PONG\r\n"
        proxy.drop_connections(rst=rst)
        sock.settimeout(5)
        if rst:
            with pytest.raises(ConnectionResetError):
                sock.recv(100)
        else:
            assert sock.recv(100) == b""  # FIN
    # redis-py notices the dead pooled connection and reconnects by itself.
    c = redis.Redis(port=proxy.port, socket_timeout=2)
    assert c.ping() is True
    c.connection_pool.disconnect()


@pytest.mark.needs_redis
def test_proxy_slow(redis_ref, proxy_factory):
    size = 100 * 1000
    redis_ref.client().set(b"big", b"z" * size)
    proxy = proxy_factory(redis_ref)
    proxy.slow(50 * 1000)
    expect_len = len(b"$%d\r\n" % size) + size + 2
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        start = time.monotonic()
        early = _roundtrip(sock, b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", None, 1.5)
        elapsed = time.monotonic() - start
        assert 0 < len(early) < expect_len, \
            "%d of %d bytes after %.2fs at 50 KB/s" % (len(early), expect_len, elapsed)
        rest = b""
        deadline = Deadline(10)
        while len(early) + len(rest) < expect_len and not deadline.expired():
            sock.settimeout(max(0.01, deadline.remaining()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        assert len(early) + len(rest) == expect_len
        assert (early + rest).endswith(b"z\r\n")
        assert time.monotonic() - start >= 1.5


@pytest.mark.needs_redis
def test_proxy_pause_resume(redis_ref, proxy_factory):
    proxy = proxy_factory(redis_ref)
    direct = redis_ref.client()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        assert _roundtrip(sock, b"PING\r\n", b"\r\n", 5) == b"+PONG\r\n"
        proxy.pause()
        held = _roundtrip(sock, b"*3\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\n1\r\n", b"\r\n", 0.3)
        assert held == b""
        assert direct.get(b"p") is None  # the request is held in the proxy
        proxy.resume()
        assert proxy.mode == "pass"
        data = b""
        deadline = Deadline(5)
        while b"\r\n" not in data and not deadline.expired():
            sock.settimeout(max(0.01, deadline.remaining()))
            data += sock.recv(100)
        assert data == b"+OK\r\n"
        assert direct.get(b"p") == b"1"


@pytest.mark.needs_redis
def test_proxy_pause_down_only_holds_replies(redis_ref, proxy_factory):
    proxy = proxy_factory(redis_ref)
    direct = redis_ref.client()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        proxy.pause("down")
        assert proxy.mode == "up=pass,down=pause"
        held = _roundtrip(sock, b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\n2\r\n", b"\r\n", 0.3)
        assert held == b""
        wait_until(lambda: direct.get(b"q") == b"2", timeout=5, msg="SET reached server")
        proxy.resume("down")
        assert _roundtrip(sock, b"", b"\r\n", 5) == b"+OK\r\n"


def test_proxy_target_down_resets_client(proxy_factory):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    proxy = proxy_factory(port)
    c = redis.Redis(port=proxy.port, socket_timeout=2, socket_connect_timeout=2)
    with pytest.raises(redis.ConnectionError):
        c.ping()
    wait_until(lambda: proxy.connect_failures >= 1, timeout=5, msg="connect failure counted")


def test_proxy_close_stops_its_thread(proxy_factory):
    proxy = proxy_factory(("127.0.0.1", 9))
    thread = proxy._thread
    proxy.close()
    assert not thread.is_alive()
    proxy.close()  # idempotent


def test_hanging_port_never_completes_connect():
    with HangingPort() as hp:
        sock = socket.socket()
        sock.settimeout(0.3)
        try:
            with pytest.raises(socket.timeout):
                sock.connect(("127.0.0.1", hp.port))
        finally:
            sock.close()


# --------------------------------------------------------------------------------------
# helpers.diff and helpers.dataset

@pytest.mark.needs_redis
def test_diff_detects_a_mismatch(redis_factory):
    a, b = redis_factory(), redis_factory()
    a.client().set(b"only-a", b"1")
    script = [
        ["SET", "k", "v"],
        ["GET", "k"],
        ["GET"],                                 # same error on both
        ["SADD", "s", "a", "b", "c", "d"],
        ["SMEMBERS", "s"],                       # unordered by default
        ["GET", "only-a"],                       # differs: index 5
        ["MULTI"], ["SET", "t", "1"], ["INCR", "k"], ["EXEC"],  # error inside EXEC
        Cmd(["TIME"], compare="ignore"),
        ["HSET", "h", "f1", "1", "f2", "2"],
        ["HGETALL", "h"],
    ]
    mismatches = diff_replies(a.client(), b.client(), script)
    assert [m.index for m in mismatches] == [5], format_mismatches(mismatches)
    m = mismatches[0]
    assert m.reply_a == b"1" and m.reply_b is None and m.command == ["GET", "only-a"]
    assert "#5 GET only-a" in format_mismatches(mismatches)


@pytest.mark.needs_redis
def test_diff_error_modes(redis_factory):
    a, b = redis_factory(), redis_factory()
    assert diff_replies(a, b, [["GET"], ["LPUSH", "k", "x"], ["LRANGE", "k", 0, -1]]) == []
    a.client().set(b"s", b"abc")
    b.client().hset(b"s", b"f", b"v")
    a.client().set(b"f", b"abc")
    b.client().set(b"f", b"1e4932")
    incr = [["INCR", "s"]]                   # ERR not an integer / WRONGTYPE
    incrf = [["INCRBYFLOAT", "f", "1e4932"]]  # ERR not a valid float / ERR ... Infinity
    mism = diff_replies(a, b, incr)
    assert len(mism) == 1 and isinstance(mism[0].reply_a, ErrorReply)
    assert mism[0].reply_a.code == "ERR" and mism[0].reply_b.code == "WRONGTYPE"
    assert mism[0].reply_a.text.startswith("ERR value is not an integer")
    assert len(diff_replies(a, b, incr, errors="code")) == 1
    assert diff_replies(a, b, incr, errors="any") == []
    assert len(diff_replies(a, b, incrf, errors="exact")) == 1
    assert diff_replies(a, b, incrf, errors="code") == []
    # An error against a value is a mismatch in every mode.
    assert len(diff_replies(a, b, [["GET", "s"]], errors="any")) == 1
    # normalize sees both replies before comparing.
    assert diff_replies(a, b, [["GET", "f"]], normalize=lambda i, args, r: b"x") == []


@pytest.mark.needs_redis
def test_dataset_fill_snapshot_compare(redis_factory):
    a, b = redis_factory(), redis_factory()
    written = fill(a.client(), 300, seed=11, ttl_ratio=0.3)
    assert len(written) == 300
    fill(b, 300, seed=11, ttl_ratio=0.3)
    snap = snapshot(a)
    assert snap == expected_snapshot(300, seed=11, ttl_ratio=0.3)
    assert any(e.has_ttl for e in snap.values()) and not all(e.has_ttl for e in snap.values())
    assert compare_keyspaces(a, b) == []
    assert digest(a) == digest(b)
    for s in (a, b):
        s.client().hset(b"h", mapping={b"f": b"1", b"g": b"2"})
        s.client().rpush(b"l", b"x", b"y")
    assert_same_keyspace(a, b)
    b.client().set(b"key:0", b"changed")
    b.client().persist(b"key:1")
    b.client().expire(b"key:1", 1000)  # same presence as before, or newly added
    b.client().set(b"extra", b"1")
    b.client().rpush(b"l", b"z")
    diffs = compare_keyspaces(a, b)
    assert any("key:0" in d and "value differs" in d for d in diffs)
    assert any("only in b: b'extra'" == d for d in diffs)
    assert any("b'l'" in d for d in diffs)
    assert digest(a) != digest(b)
    with pytest.raises(AssertionError, match="keyspaces differ"):
        assert_same_keyspace(a, b)


@pytest.mark.needs_redis
def test_dataset_detects_ttl_presence(redis_factory):
    a, b = redis_factory(), redis_factory()
    fill(a, 10, seed=3)
    fill(b, 10, seed=3)
    b.client().expire(b"key:4", 5000)
    assert compare_keyspaces(a, b) == ["TTL presence differs for b'key:4': a=False b=True"]
    assert compare_keyspaces(a, b, check_ttl=False) == []


# --------------------------------------------------------------------------------------
# The fixtures' teardown checks, observed from an inner pytest run

INNER_TESTS = """
import os
import pytest
from helpers.wait import wait_until


def _note_pid(s):
    with open(os.environ["PIDS_FILE"], "a") as f:
        f.write("%d\\n" % s.pid)


def test_failure_dumps_logs(redis_factory):
    _note_pid(redis_factory())
    assert False, "deliberate"


def test_sanitizer_report_fails(redis_factory):
    s = redis_factory()
    _note_pid(s)
    with open(s.output_path, "a") as f:
        f.write("==1==ERROR: AddressSanitizer: heap-buffer-overflow\\n")


def test_crash_is_reported(redis_factory):
    s = redis_factory()
    _note_pid(s)
    os.kill(s.pid, 9)
    wait_until(lambda: not s.is_running(), timeout=10)


def test_expected_exit_is_fine(redis_factory):
    s = redis_factory()
    _note_pid(s)
    s.kill9()


@pytest.mark.timeout(1)
def test_time_limit(redis_factory):
    _note_pid(redis_factory())
    wait_until(lambda: False, timeout=60, scale=False)


@pytest.mark.slow
def test_slow_is_skipped():
    assert False
"""


@pytest.mark.needs_redis
def test_fixture_teardown_checks(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    root = tmp_path / "inner"
    root.mkdir()
    shutil.copy(os.path.join(here, "conftest.py"), root)
    shutil.copy(os.path.join(here, "pytest.ini"), root)
    shutil.copytree(os.path.join(here, "helpers"), root / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    pids_file = tmp_path / "pids"
    junit = tmp_path / "junit.xml"
    env = dict(os.environ, PIDS_FILE=str(pids_file), PYTHONDONTWRITEBYTECODE="1")
    env.pop("KVROCKS_TEST_TIMEOUT_SCALE", None)
    env.pop("KVROCKS_SANITIZED", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", str(root), "-q", "-rA",
                           "--junitxml=%s" % junit, "--basetemp=%s" % (tmp_path / "base")],
                          cwd=str(root), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    out = proc.stdout.decode("utf-8", "replace")
    (tmp_path / "inner-output.txt").write_text(out)
    outcome = {}
    for case in ET.parse(str(junit)).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcome.setdefault(case.get("name"), []).extend(kinds)
    assert outcome["test_failure_dumps_logs"] == ["failure"], out
    assert outcome["test_sanitizer_report_fails"] == ["error"], out
    assert outcome["test_crash_is_reported"] == ["error"], out
    assert outcome["test_expected_exit_is_fine"] == [], out
    assert outcome["test_time_limit"] == ["failure"], out
    assert outcome["test_slow_is_skipped"] == ["skipped"], out
    assert "logs of the servers started by test_inner.py::test_failure_dumps_logs" in out
    assert "Ready to accept connections" in out
    assert "sanitizer report from redis0" in out and "heap-buffer-overflow" in out
    assert "exited during the test with code -9 (unexpected)" in out
    assert "exceeded its time limit of 1s" in out
    for line in pids_file.read_text().split():
        pid = int(line)
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().split()[2] == "Z", "server %d left" % pid
