# SPDX-License-Identifier: Apache-2.0
"""One server process under test: kvrocks-c, or Debian's redis-server for comparison.

A Server owns a directory (config file, data, logs), a loopback port and at most one live
process. Every call is bounded: start waits for PING with a deadline, stop falls back to
SIGKILL after a deadline and says so, clients always have socket timeouts.

Layout of Server.dir:
    server.conf    the config file, rewritten by set_config() / restart(**overrides)
    output.log     stdout + stderr of every process started here (sanitizer reports land
                   here), with a "=== harness: ..." line before each start
    kvrocks.INFO   glog files (kvrocks kind; log-dir is the server dir)
    db/ ...        whatever the server keeps in `dir`

The kind (KINDS) decides the binary, its argv and the base config; a test only passes
overrides. Config values: str/int written as is, True/False as yes/no, "" as "", a
list/tuple as one line per element, None removes the key. Keyword arguments spell config
keys with "_" for "-" (requirepass="x", slave_read_only=False); keys with dots or
underscores of their own ("rocksdb.write_buffer_size") go in a dict.
"""
import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import redis

from .wait import Deadline, scaled

__all__ = [
    "Server", "ServerError", "StopError", "KINDS", "REPO_ROOT", "SMALL_ROCKSDB",
    "allocate_port", "release_port", "parse_info", "kvrocks_binary", "redis_binary",
    "SANITIZER_PATTERNS", "find_sanitizer_reports",
]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

OUTPUT_LOG = "output.log"
CONFIG_FILE = "server.conf"

# Overrides for tests that want many flushes / SST files (pass as config=SMALL_ROCKSDB).
SMALL_ROCKSDB = {
    "rocksdb.write_buffer_size": 1,
    "rocksdb.target_file_size_base": 1,
}

# Sanitizer report markers, matched against output.log (stderr) and glog files.
SANITIZER_PATTERNS = [
    re.compile(r"ERROR: AddressSanitizer"),
    re.compile(r"ERROR: LeakSanitizer"),
    re.compile(r"(WARNING|ERROR): ThreadSanitizer"),
    re.compile(r"WARNING: MemorySanitizer"),
    re.compile(r"runtime error:"),
    re.compile(r"SUMMARY: UndefinedBehaviorSanitizer"),
]

_ADDR_IN_USE = re.compile(r"(?i)address already in use|EADDRINUSE")


class ServerError(RuntimeError):
    """A server failed to start, answer or stop."""


class StopError(ServerError):
    """stop() needed SIGKILL, or the process survived even that. `.exit_code` is the code
    after SIGKILL (None if it never exited), `.killed` tells whether SIGKILL was sent."""

    def __init__(self, message, exit_code=None, killed=True):
        super().__init__(message)
        self.exit_code = exit_code
        self.killed = killed


# --------------------------------------------------------------------------------------
# Binaries and kinds

def kvrocks_binary():
    """$KVROCKS_BIN, else <repo>/build/kvrocks."""
    return os.environ.get("KVROCKS_BIN") or os.path.join(REPO_ROOT, "build", "kvrocks")


def redis_binary():
    """$REDIS_SERVER_BIN, else redis-server on PATH (None when not installed)."""
    explicit = os.environ.get("REDIS_SERVER_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)


class Kind:
    """How to run one server implementation."""

    name = "?"

    def binary(self):
        raise NotImplementedError

    def argv(self, binary, config_path):
        raise NotImplementedError

    def base_config(self, server):
        raise NotImplementedError

    def env(self):
        return {}


class KvrocksKind(Kind):
    name = "kvrocks"

    def binary(self):
        return kvrocks_binary()

    def argv(self, binary, config_path):
        return [binary, "-c", config_path]

    def base_config(self, server):
        return {
            "bind": "127.0.0.1",
            "port": server.port,
            "dir": server.dir,
            "log-dir": server.dir,
            "daemonize": "no",
            "workers": 2,
        }

    def env(self):
        # glog buffers INFO lines for up to 30 s by default; tests read the log live.
        env = {"GLOG_logbufsecs": "0", "GLOG_logbuflevel": "-1"}
        # glog stamps every line through mktime(), whose tzset frees and copies glibc's saved TZ
        # on each call while TZ is unset, under a lock ThreadSanitizer does not see: a race
        # report between any two threads that log (suppressed as tzset_internal in
        # tests/tsan.supp, but only when the report can be symbolized, which fails while the
        # server is out of file descriptors). With TZ set (the same zone file) tzset returns
        # at once after the first call.
        if "TZ" not in os.environ:
            env["TZ"] = ":/etc/localtime"
        return env


class RedisKind(Kind):
    name = "redis"

    def binary(self):
        return redis_binary()

    def argv(self, binary, config_path):
        return [binary, config_path]

    def base_config(self, server):
        return {
            "bind": "127.0.0.1",
            "port": server.port,
            "dir": server.dir,
            "daemonize": "no",
            "logfile": "",
            "save": "",
            "appendonly": "no",
            "enable-debug-command": "local",
        }


KINDS = {"kvrocks": KvrocksKind(), "redis": RedisKind()}


# --------------------------------------------------------------------------------------
# Ports

_port_lock = threading.Lock()
_ports_in_use = set()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def allocate_port(host="127.0.0.1"):
    """A loopback port that is bindable now and not handed out before in this process.

    Chosen at random below the kernel's ephemeral range, so an outgoing connection's
    source port cannot take it between this check and the server's bind. The check is
    bind-then-close; Server.start() retries with a new port if the bind still collides.
    """
    high = min(_ephemeral_low(), 65536) - 1
    low = 20000 if high > 21000 else 1025
    with _port_lock:
        for _ in range(1000):
            port = random.randint(low, high)
            if port in _ports_in_use:
                continue
            if _bindable(port, host):
                _ports_in_use.add(port)
                return port
        # Fall back to what the kernel picks.
        for _ in range(100):
            s = socket.socket()
            s.bind((host, 0))
            port = s.getsockname()[1]
            s.close()
            if port not in _ports_in_use:
                _ports_in_use.add(port)
                return port
    raise ServerError("no free loopback port found")


def release_port(port):
    """Allow allocate_port() to hand out `port` again."""
    with _port_lock:
        _ports_in_use.discard(port)


# --------------------------------------------------------------------------------------
# Config files

def _config_key(name):
    return name.replace("_", "-")


def merge_config(config=None, **kw):
    """Merge a dict (keys verbatim) and keyword arguments ("_" -> "-") into one dict."""
    merged = dict(config or {})
    for key, value in kw.items():
        merged[_config_key(key)] = value
    return merged


def _format_value(value):
    if value is True:
        return "yes"
    if value is False:
        return "no"
    text = str(value)
    if text == "":
        return '""'
    return text


def render_config(config):
    lines = []
    for key, value in config.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            lines.append("%s %s" % (key, _format_value(v)))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# INFO

_INT_RE = re.compile(r"^-?\d+$")
_FLOAT_RE = re.compile(r"^-?\d+\.\d+(e[-+]?\d+)?$", re.IGNORECASE)
_NESTED_RE = re.compile(r"^[A-Za-z_][\w\-.\[\]]*=[^,]*(,[A-Za-z_][\w\-.\[\]]*=[^,]*)*$")


def _convert(text):
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    return text


def parse_info(text, sections=False):
    """Parse an INFO reply (bytes or str).

    Returns {field: value}, values converted to int/float when they look like numbers, and
    values made of k=v pairs (slave0:ip=..,port=.., db0:keys=..,expires=..) parsed into
    dicts the same way. With sections=True returns {section_name_lower: {field: value}}.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    flat = {}
    by_section = {}
    current = by_section.setdefault("", {})
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = by_section.setdefault(line.lstrip("#").strip().lower(), {})
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if "=" in value and _NESTED_RE.match(value):
            parsed = {}
            for part in value.split(","):
                k, _, v = part.partition("=")
                parsed[k] = _convert(v)
        else:
            parsed = _convert(value)
        flat[key] = parsed
        current[key] = parsed
    if sections:
        if not by_section[""]:
            del by_section[""]
        return by_section
    return flat


# --------------------------------------------------------------------------------------
# Sanitizer reports

def find_sanitizer_reports(text, context_after=30):
    """Return a list of excerpts, one per sanitizer report found in text."""
    lines = text.splitlines()
    reports = []
    i = 0
    while i < len(lines):
        if any(p.search(lines[i]) for p in SANITIZER_PATTERNS):
            start = max(0, i - 2)
            end = min(len(lines), i + context_after)
            reports.append("\n".join(lines[start:end]))
            i = end
        else:
            i += 1
    return reports


# --------------------------------------------------------------------------------------
# Cleanup of processes left behind if pytest dies without running fixture teardown

_live_lock = threading.Lock()
_live = set()


def _kill_leftovers():
    with _live_lock:
        servers = list(_live)
    for s in servers:
        proc = s._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass


atexit.register(_kill_leftovers)


# --------------------------------------------------------------------------------------
# Server

class Server:
    """A server process on 127.0.0.1:<port> with its own directory.

    Server(dir, kind="kvrocks", port=None, config=None, binary=None, env=None, name=None)
    does not start anything; call start(). port=None allocates a free port (and start()
    moves to another one if the bind collides); the port is then kept across restarts.
    """

    def __init__(self, dir, kind="kvrocks", port=None, config=None, binary=None, env=None,
                 name=None, host="127.0.0.1"):
        if isinstance(kind, str):
            if kind not in KINDS:
                raise ValueError("unknown server kind %r (known: %s)" % (kind, sorted(KINDS)))
            kind = KINDS[kind]
        self.kind = kind
        self.host = host
        self.dir = os.path.abspath(str(dir))
        os.makedirs(self.dir, exist_ok=True)
        self.name = name or os.path.basename(self.dir)
        self._auto_port = port is None
        self.port = port if port is not None else allocate_port(host)
        self.binary = binary or kind.binary()
        self.extra_env = dict(env or {})
        self.overrides = dict(config or {})
        self.config_path = os.path.join(self.dir, CONFIG_FILE)
        self.output_path = os.path.join(self.dir, OUTPUT_LOG)
        self._proc = None
        self._expected_exit = True  # nothing running yet
        self._last_exit = None
        self._starts = 0
        self._paused = False
        self._clients = []
        self.write_config()

    # ---- description

    def __repr__(self):
        state = "running pid %d" % self._proc.pid if self.is_running() else "stopped"
        return "<Server %s %s %s:%d %s>" % (self.name, self.kind.name, self.host, self.port,
                                             state)

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None else None

    @property
    def addr(self):
        """"host:port"."""
        return "%s:%d" % (self.host, self.port)

    @property
    def exit_code(self):
        """Exit code of the last process (None while running or never started); negative
        for a signal, as subprocess reports it."""
        if self._proc is not None:
            code = self._proc.poll()
            if code is not None:
                self._last_exit = code
            return code
        return self._last_exit

    # ---- config

    def config(self):
        """The full config the next start() uses (base of the kind + overrides)."""
        merged = self.kind.base_config(self)
        merged.update(self.overrides)
        return merged

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(render_config(self.config()))

    def set_config(self, config=None, **kw):
        """Change overrides and rewrite the config file; takes effect at the next start.
        A None value removes an override (back to the base config, or absent)."""
        for key, value in merge_config(config, **kw).items():
            self.overrides[key] = value
        self.write_config()

    def config_value(self, key, default=None):
        value = self.config().get(key, default)
        return default if value is None else value

    # ---- process control

    def is_running(self):
        """True while the process exists (a SIGSTOPped process counts as running)."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout=30, wait=True, port_retries=5):
        """Start the process and (if wait) wait until it answers PING (PONG, or NOAUTH).

        If the port was allocated automatically and the bind collides, pick another port
        and retry. Raises ServerError with the log tail if the process exits or does not
        answer in time (the process is killed first)."""
        if self.is_running():
            raise ServerError("%s is already running" % self.name)
        if self.binary is None or not os.access(self.binary, os.X_OK):
            raise ServerError("%s binary not found or not executable: %r"
                              % (self.kind.name, self.binary))
        attempts = port_retries + 1 if self._auto_port else 1
        for attempt in range(attempts):
            self.write_config()
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
            except ServerError:
                collided = (not self.is_running()
                            and _ADDR_IN_USE.search(self._output_since_start()))
                if self.is_running():
                    self._force_kill()
                self._expected_exit = True
                if collided and attempt + 1 < attempts:
                    old = self.port
                    self.port = allocate_port(self.host)
                    release_port(old)
                    continue
                raise
            break
        self._auto_port = False
        return self

    def _spawn(self):
        env = dict(os.environ)
        env.update(self.kind.env())
        env.update(self.extra_env)
        argv = self.kind.argv(self.binary, self.config_path)
        self._starts += 1
        with open(self.output_path, "ab") as out:
            out.write(("=== harness: start #%d at %s: %s\n"
                       % (self._starts, time.strftime("%H:%M:%S"), " ".join(argv))).encode())
            out.flush()
            self._start_offset = out.tell()
            self._proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=self.dir, env=env,
                                          start_new_session=True)
        self._expected_exit = False
        self._paused = False
        with _live_lock:
            _live.add(self)

    def _output_since_start(self):
        try:
            with open(self.output_path, "rb") as f:
                f.seek(getattr(self, "_start_offset", 0))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def ping_status(self, timeout=1.0):
        """One raw PING: returns "PONG", "NOAUTH", "LOADING", another error line, or None
        when there is no connection."""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(256)
                    if not chunk:
                        return None
                    data += chunk
        except OSError:
            return None
        line = data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        if line == "+PONG":
            return "PONG"
        if line.startswith("-"):
            word = line[1:].split(" ", 1)[0]
            return word if word in ("NOAUTH", "LOADING") else line[1:]
        return line

    def wait_ready(self, timeout=30, allow_loading=False):
        """Poll PING until PONG (or NOAUTH: up, password required; or LOADING if
        allow_loading). Raises ServerError with the log tail if the process died or the
        deadline (scaled) passed."""
        deadline = Deadline(scaled(timeout))
        last = None
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = self.exit_code
                self._expected_exit = True
                raise ServerError("%s exited with code %s before answering PING\n%s"
                                  % (self.name, code, self.log_tail(40)))
            last = self.ping_status(timeout=min(1.0, max(0.1, deadline.remaining())))
            if last in ("PONG", "NOAUTH") or (allow_loading and last == "LOADING"):
                return self
            if deadline.expired():
                raise ServerError("%s did not answer PING within %.1fs (last reply: %r)\n%s"
                                  % (self.name, deadline.seconds, last, self.log_tail(40)))
            time.sleep(0.05)

    def _signal(self, sig):
        if not self.is_running():
            raise ServerError("%s is not running (exit code %s)" % (self.name, self.exit_code))
        os.kill(self._proc.pid, sig)

    def _force_kill(self):
        proc = self._proc
        try:
            proc.kill()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        return proc.poll()

    def stop(self, timeout=30):
        """SIGTERM (and SIGCONT, in case it is paused), wait up to timeout (scaled).
        Returns the exit code (0 for a clean shutdown; the last code if not running).
        If it does not exit in time, SIGKILL it and raise StopError saying so; StopError
        also if it survives SIGKILL."""
        self._expected_exit = True
        self._close_clients()
        if self._proc is None:
            return self._last_exit
        if self._proc.poll() is not None:
            return self.exit_code
        try:
            os.kill(self._proc.pid, signal.SIGTERM)
            os.kill(self._proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        self._paused = False
        limit = scaled(timeout)
        try:
            code = self._proc.wait(timeout=limit)
            self._last_exit = code
            return code
        except subprocess.TimeoutExpired:
            pass
        code = self._force_kill()
        if code is None:
            raise StopError("%s (pid %d) did not exit within %.1fs of SIGTERM, nor after "
                            "SIGKILL" % (self.name, self._proc.pid, limit),
                            exit_code=None, killed=True)
        self._last_exit = code
        raise StopError("%s (pid %d) did not exit within %.1fs of SIGTERM; killed with "
                        "SIGKILL (exit code %s)" % (self.name, self._proc.pid, limit, code),
                        exit_code=code, killed=True)

    def kill9(self):
        """SIGKILL (a crash: nothing flushed) and reap. Returns the exit code (-9)."""
        self._expected_exit = True
        self._close_clients()
        if not self.is_running():
            return self.exit_code
        code = self._force_kill()
        if code is None:
            raise StopError("%s (pid %d) survived SIGKILL for 10s" % (self.name, self.pid),
                            exit_code=None, killed=True)
        self._paused = False
        self._last_exit = code
        return code

    def wait_exit(self, timeout=30):
        """Wait for the process to exit on its own (after SHUTDOWN, or a fatal error the
        test provokes); returns the exit code. Marks the exit as expected, so the fixture
        does not report it as a crash. Raises ServerError on timeout (process left
        running)."""
        self._expected_exit = True
        if self._proc is None:
            return self._last_exit
        try:
            code = self._proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            raise ServerError("%s did not exit within %.1fs" % (self.name, scaled(timeout)))
        self._last_exit = code
        return code

    def pause(self):
        """SIGSTOP: a frozen peer whose sockets stay open. Prefer `with s.paused():`."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self):
        """SIGCONT."""
        self._signal(signal.SIGCONT)
        self._paused = False

    @property
    def is_paused(self):
        return self._paused and self.is_running()

    def paused(self):
        """Context manager: SIGSTOP on enter, SIGCONT on exit (always, even on error)."""
        server = self

        class _Paused:
            def __enter__(self_inner):
                server.pause()
                return server

            def __exit__(self_inner, *exc):
                if server.is_running():
                    server.resume()
                return False

        return _Paused()

    def restart(self, config=None, *, kill9=False, stop_timeout=30, start_timeout=30,
                wait=True, **kw):
        """Stop (SIGTERM, or SIGKILL if kill9=True), apply config overrides, start again
        on the same dir and port. Returns self. (The timeouts are not named `timeout`,
        which is a config key.)"""
        if self.is_running():
            if kill9:
                self.kill9()
            else:
                self.stop(stop_timeout)
        if config or kw:
            self.set_config(config, **kw)
        return self.start(timeout=start_timeout, wait=wait)

    # ---- clients

    def client(self, **kw):
        """A redis.Redis to this server: decode_responses=False, socket_timeout=10,
        socket_connect_timeout=5 unless given (a None timeout is replaced: never
        infinite). Closed by stop()/kill9() and at fixture teardown."""
        kw.setdefault("host", self.host)
        kw.setdefault("port", self.port)
        kw.setdefault("decode_responses", False)
        if kw.get("socket_timeout") is None:
            kw["socket_timeout"] = 10
        if kw.get("socket_connect_timeout") is None:
            kw["socket_connect_timeout"] = 5
        c = redis.Redis(**kw)
        self._clients.append(c)
        return c

    def _close_clients(self):
        clients, self._clients = self._clients, []
        for c in clients:
            try:
                c.connection_pool.disconnect()
            except Exception:  # noqa: BLE001 - best effort
                pass

    def _password(self):
        value = self.config_value("requirepass")
        return value or None

    def command(self, *args, timeout=10, password=None):
        """Send one command on a fresh connection, authenticated with requirepass from the
        config, and return the raw reply (no redis-py response callbacks). Error replies
        raise redis.ResponseError."""
        conn = redis.Connection(host=self.host, port=self.port, socket_timeout=timeout,
                                socket_connect_timeout=min(timeout, 5),
                                password=password or self._password())
        try:
            conn.send_command(*args)
            return conn.read_response()
        finally:
            conn.disconnect()

    def info(self, section=None, sections=False):
        """INFO [section] parsed by parse_info(): {field: value} (or by section)."""
        args = ["INFO"] + ([section] if section else [])
        return parse_info(self.command(*args), sections=sections)

    def info_field(self, field, section=None, default=None):
        """One INFO field, or default when absent."""
        return self.info(section).get(field, default)

    # ---- logs

    def log_files(self):
        """Log files of this server: output.log first, then glog files (oldest first)."""
        files = []
        if os.path.exists(self.output_path):
            files.append(self.output_path)
        try:
            names = sorted(os.listdir(self.dir))
        except OSError:
            names = []
        glog = []
        for name in names:
            path = os.path.join(self.dir, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            if path == self.output_path:
                continue
            if re.search(r"(INFO|WARNING|ERROR|FATAL)", name) or name.endswith(".log"):
                glog.append(path)
        glog.sort(key=lambda p: (os.path.getmtime(p), p))
        return files + glog

    def _main_log_files(self):
        """output.log plus glog INFO files (INFO files include every severity); every log
        file when there is no INFO file."""
        files = self.log_files()
        info = [f for f in files if "INFO" in os.path.basename(f)]
        if not info:
            return files
        return [f for f in files if f == self.output_path] + info

    def log_mark(self):
        """Current sizes of the log files; pass to log_text(since=...) to see only what
        was logged after this point."""
        mark = {}
        for path in self._main_log_files():
            try:
                mark[path] = os.path.getsize(path)
            except OSError:
                pass
        return mark

    def log_text(self, since=None):
        """Text of output.log and the glog INFO files (which hold every severity),
        concatenated; with since=log_mark(), only what was appended after the mark."""
        parts = []
        for path in self._main_log_files():
            offset = (since or {}).get(path, 0)
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    parts.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(parts)

    def log_tail(self, lines=60):
        """The last lines of each log file, with a header naming the file."""
        out = []
        for path in self.log_files():
            try:
                with open(path, "rb") as f:
                    f.seek(0, os.SEEK_END)
                    size = f.tell()
                    f.seek(max(0, size - 256 * 1024))
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            tail = text.splitlines()[-lines:]
            out.append("----- %s (last %d lines) -----" % (path, len(tail)))
            out.extend(tail)
        if not out:
            out.append("----- %s: no log files -----" % self.dir)
        return "\n".join(out)

    def sanitizer_reports(self):
        """Excerpts of sanitizer reports in every log file of this server."""
        reports = []
        for path in self.log_files():
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for r in find_sanitizer_reports(text):
                reports.append("%s:\n%s" % (path, r))
        return reports

    # ---- teardown (used by the fixture)

    def teardown(self, timeout=30):
        """Stop the process and return a list of problems: a crash before teardown
        (exit not expected by the test), a non-zero exit on SIGTERM, a stop that needed
        SIGKILL. Sanitizer reports are checked separately (sanitizer_reports())."""
        problems = []
        if self._proc is not None:
            was_running = self._proc.poll() is None
            if not was_running and not self._expected_exit:
                problems.append("%s exited during the test with code %s (unexpected)"
                                % (self.name, self.exit_code))
            if was_running:
                try:
                    code = self.stop(timeout)
                except StopError as exc:
                    problems.append(str(exc))
                else:
                    if code != 0:
                        problems.append("%s exited with code %s on SIGTERM at teardown"
                                        % (self.name, code))
        self._expected_exit = True
        self._close_clients()
        with _live_lock:
            _live.discard(self)
        return problems
