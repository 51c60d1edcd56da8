# SPDX-License-Identifier: Apache-2.0
"""Start-up and shutdown: the command line, config errors (file:line: reason), the port
already in use, the data and log directories, daemonize with a pidfile, and clean exits on
SIGTERM, SIGINT and SHUTDOWN with clients connected.
"""
import os
import signal
import socket
import subprocess
import threading

import pytest

from helpers.server import (allocate_port, find_sanitizer_reports, kvrocks_binary, release_port,
                            render_config)
from helpers.wait import scaled, timed, wait_until
from raw_resp import RawConn, Status, cmd

ENV = dict(os.environ, GLOG_logbufsecs="0")


def run(args, timeout=20, cwd=None):
    """Run kvrocks with args to completion; returns CompletedProcess (text). Fails on a
    sanitizer report in its output."""
    res = subprocess.run([kvrocks_binary()] + list(args), capture_output=True, text=True,
                         timeout=scaled(timeout), cwd=cwd, env=ENV, stdin=subprocess.DEVNULL)
    reports = find_sanitizer_reports(res.stdout + res.stderr)
    assert not reports, "\n\n".join(reports)
    return res


def write_config(path, port, dir, **extra):
    config = {"bind": "127.0.0.1", "port": port, "dir": dir, "log-dir": dir, "workers": 2}
    config.update({k.replace("_", "-"): v for k, v in extra.items()})
    with open(path, "w") as f:
        f.write(render_config(config))
    return path


def pings(port):
    try:
        with RawConn(port, timeout=1) as c:
            c.send(cmd("PING"))
            return c.read_raw(timeout=1) == b"+PONG\r\n"
    except OSError:
        return False


def refuses(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


@pytest.fixture
def port():
    p = allocate_port()
    yield p
    release_port(p)


# --------------------------------------------------------------------------------------
# Command line

def test_version_and_help():
    for flag in ("-v", "--version"):
        res = run([flag])
        assert res.returncode == 0, res
        assert res.stdout.startswith("kvrocks-c version "), res.stdout
    for flag in ("-h", "--help"):
        res = run([flag])
        assert res.returncode == 0, res
        assert res.stdout.startswith("Usage: kvrocks -c <config file>"), res.stdout


@pytest.mark.parametrize("args,message", [
    (["foo"], "unexpected argument 'foo'\n"),
    (["-c"], "-c needs a file name\n"),
    (["--port"], "option --port needs a value\n"),
    (["--port", "abc"], "command line --port: invalid value 'abc' for 'port': not an integer\n"),
    (["--port", "0"],
     "command line --port: invalid value '0' for 'port': must be between 1 and 65535\n"),
    (["--nosuch", "1"], "command line --nosuch: unknown option 'nosuch'\n"),
])
def test_bad_command_lines(tmp_path, args, message):
    res = run(args, cwd=tmp_path)
    assert res.returncode == 1, res
    assert res.stderr.startswith(message), res.stderr


@pytest.mark.parametrize("line,reason", [
    ("foo bar", "unknown option 'foo'"),
    ("workers abc", "invalid value 'abc' for 'workers': not an integer"),
    ("port 99999", "invalid value '99999' for 'port': must be between 1 and 65535"),
    ("daemonize maybe", "invalid value 'maybe' for 'daemonize': expected yes or no"),
    ("proto-max-bulk-len 1000",
     "invalid value '1000' for 'proto-max-bulk-len': must be between 1048576 and "
     "9223372036854775807"),
    ("timeout -1", "invalid value '-1' for 'timeout': must be between 0 and 2147483647"),
])
def test_config_errors_name_file_and_line(tmp_path, port, line, reason):
    conf = str(tmp_path / "k.conf")
    with open(conf, "w") as f:
        f.write("# a comment\n\nbind 127.0.0.1\nport %d\ndir %s\n%s\nworkers 2\n"
                % (port, tmp_path, line))
    res = run(["-c", conf])
    assert res.returncode == 1, res
    assert "%s:6: %s\n" % (conf, reason) in res.stderr, res.stderr
    assert refuses(port)


def test_missing_config_file(tmp_path):
    missing = str(tmp_path / "nope.conf")
    res = run(["-c", missing])
    assert res.returncode == 1, res
    assert res.stderr.startswith("%s: No such file or directory\n" % missing), res.stderr


def test_port_override_on_the_command_line(tmp_path, port):
    other = allocate_port()
    conf = write_config(str(tmp_path / "k.conf"), other, str(tmp_path))
    proc = subprocess.Popen([kvrocks_binary(), "-c", conf, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        wait_until(lambda: pings(port), timeout=20, msg="PING on the --port port")
        assert refuses(other)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(scaled(10)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        release_port(other)


# --------------------------------------------------------------------------------------
# Port in use, directories, logs

def test_port_in_use_by_another_program(tmp_path, port):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen(5)
    try:
        conf = write_config(str(tmp_path / "k.conf"), port, str(tmp_path / "d"))
        res = run(["-c", conf])
        assert res.returncode == 1, res
        assert ("start-up failed: cannot bind 127.0.0.1:%d: Address already in use\n" % port
                in res.stderr), res.stderr
    finally:
        holder.close()


def test_port_in_use_by_another_kvrocks(server, tmp_path):
    """Both would use SO_REUSEPORT: the second must still refuse to start, or the kernel
    would spread the first one's clients over two servers with different data."""
    r = server.client()
    r.set("owner", "first")
    conf = write_config(str(tmp_path / "second.conf"), server.port, str(tmp_path / "second"))
    res = run(["-c", conf])
    assert res.returncode == 1, res
    assert "Address already in use" in res.stderr, res.stderr
    for _ in range(20):  # new connections all reach the first server
        with RawConn(server.port) as c:
            assert c.call("GET", "owner") == b"first"


def test_data_and_log_dirs_are_created(server_factory, tmp_path):
    data = tmp_path / "deep" / "er" / "data"
    logs = tmp_path / "logs" / "kv"
    srv = server_factory({"dir": str(data), "log-dir": str(logs)})
    srv.client().set("k", "v")
    assert (data / "db").is_dir()
    info_log = logs / "kvrocks.INFO"
    assert info_log.exists(), sorted(os.listdir(logs))
    wait_until(lambda: "starting" in info_log.read_text(errors="replace"), timeout=5,
               msg="the start-up line in kvrocks.INFO")


def test_log_dir_that_cannot_be_created(tmp_path, port):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    conf = write_config(str(tmp_path / "k.conf"), port, str(tmp_path / "data"))
    res = run(["-c", conf, "--log-dir", str(blocker / "logs")])
    assert res.returncode == 1, res
    assert res.stderr.startswith("cannot create log directory %s: Not a directory\n"
                                 % (blocker / "logs")), res.stderr


def test_glog_file_in_log_dir_by_default(server):
    # the harness sets log-dir to the server dir, as Kvrocks' tests do
    path = os.path.join(server.dir, "kvrocks.INFO")
    assert os.path.exists(path), sorted(os.listdir(server.dir))
    wait_until(lambda: "server ready" in open(path, errors="replace").read(), timeout=5,
               msg="'server ready' in kvrocks.INFO")


# --------------------------------------------------------------------------------------
# daemonize

def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _kill_daemons_of(conf):
    """SIGKILL any live process started with config file `conf` (cleanup after a failed
    test, when the pidfile may not exist)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if conf.encode() in argv and _pid_alive(int(entry)):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_daemonize_with_pidfile(tmp_path, port):
    pidfile = str(tmp_path / "run" / "k.pid")
    os.makedirs(os.path.dirname(pidfile))
    conf = write_config(str(tmp_path / "k.conf"), port, str(tmp_path / "data"),
                        daemonize="yes", pidfile=pidfile)
    try:
        res = run(["-c", conf])
        # the parent returns once the daemon serves
        assert res.returncode == 0, res
        pid = int(open(pidfile).read().strip())
        assert _pid_alive(pid)
        assert pings(port)
        with RawConn(port) as c:
            assert c.call("SET", "d", "1") == Status("OK")
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _pid_alive(pid), timeout=10, msg="the daemon exits on SIGTERM")
        assert not os.path.exists(pidfile)
    finally:
        _kill_daemons_of(conf)


def test_daemonize_reports_start_up_failure(tmp_path, port):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen(5)
    conf = write_config(str(tmp_path / "k.conf"), port, str(tmp_path / "data"),
                        daemonize="yes", pidfile=str(tmp_path / "k.pid"))
    try:
        res = run(["-c", conf])
        assert res.returncode == 1, res
        assert "Address already in use" in res.stderr, res.stderr
        assert not os.path.exists(str(tmp_path / "k.pid"))
    finally:
        holder.close()
        _kill_daemons_of(conf)


# --------------------------------------------------------------------------------------
# Shutdown

class Pipeliner(threading.Thread):
    """Sends big pipelines of SETs without pause until the connection breaks."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = RawConn(port, timeout=5)
        self.sent = 0
        self.stop = False

    def run(self):
        batch = b"".join(cmd("SET", "p%d" % i, "x" * 100) for i in range(1000))
        try:
            while not self.stop:
                self.conn.send(batch)
                self.sent += 1
                self.conn.sock.settimeout(0)  # send() sets the timeout back
                try:  # throw the replies away, without waiting for them
                    while self.conn.sock.recv(1 << 20):
                        pass
                except BlockingIOError:
                    pass
        except OSError:
            pass  # the server went away


def _clients_in_every_state(port):
    idle = [RawConn(port) for _ in range(5)]
    for c in idle:
        assert c.call("PING") == Status("PONG")
    partial = RawConn(port)
    partial.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\nabc")
    busy = Pipeliner(port)
    busy.start()
    wait_until(lambda: busy.sent >= 3, timeout=10, msg="the pipeline client is busy")
    return idle + [partial], busy


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly_with_clients_connected(server, sig):
    server.client().set("before", "signal")
    conns, busy = _clients_in_every_state(server.port)
    try:
        mark = server.log_mark()
        os.kill(server.pid, sig)
        code, elapsed = timed(server.wait_exit, 10)
        assert code == 0
        assert elapsed < scaled(5), "shutdown took %.1fs" % elapsed
        text = server.log_text(since=mark)
        assert "shutting down (%s)" % sig.name in text, text
        assert "database closed" in text, text
        for c in conns:
            assert c.read_until_closed() == b""
    finally:
        busy.stop = True
        busy.join(scaled(10))
        for c in conns:
            c.close()
        busy.conn.close()
    server.start()
    assert server.client().get("before") == b"signal"


def test_shutdown_command(server_factory, tmp_path):
    pidfile = str(tmp_path / "srv.pid")
    srv = server_factory(pidfile=pidfile)
    assert int(open(pidfile).read()) == srv.pid
    srv.client().set("before", "shutdown")
    idle = RawConn(srv.port)
    assert idle.call("PING") == Status("PONG")
    with RawConn(srv.port) as c:
        c.send(cmd("SHUTDOWN"))
        # no reply: the connection just closes
        assert c.read_until_closed() == b""
    code, elapsed = timed(srv.wait_exit, 10)
    assert code == 0
    assert elapsed < scaled(5)
    assert idle.read_until_closed() == b""
    idle.close()
    assert not os.path.exists(pidfile)
    srv.start()
    assert srv.client().get("before") == b"shutdown"


def test_shutdown_needs_admin_when_password_is_set(server_factory):
    srv = server_factory(requirepass="pw")
    with RawConn(srv.port) as c:
        c.send(cmd("SHUTDOWN"))
        assert c.read_raw() == b"-NOAUTH Authentication required.\r\n"
        c.send(cmd("AUTH", "pw"))
        assert c.read_raw() == b"+OK\r\n"
        c.send(cmd("SHUTDOWN"))
        assert c.read_until_closed() == b""
    assert srv.wait_exit(10) == 0
