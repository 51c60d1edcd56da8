# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the benchmarks: starting and stopping servers, running redis-benchmark, a
minimal RESP client, and the table printer. Standard library only (runs under any python3)."""
import csv
import io
import os
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout, what, interval=0.05):
    """Poll cond() until it returns a true value (returned) or raise after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_ready(port, proc, timeout=30):
    def ready():
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(1)
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    wait_until(ready, timeout, f"server on port {port}")


def started(proc, port):
    """Wait for a server just spawned; never leave it running when it does not come up."""
    try:
        wait_ready(port, proc)
    except BaseException:
        stop(proc)
        raise


def start_kvrocks(binary, workdir, workers, extra="", port=None):
    """Start kvrocks with its data in workdir/data (kept across restarts in the same workdir);
    `extra` is appended to the generated config. Returns (process, port)."""
    os.makedirs(workdir, exist_ok=True)
    port = port or free_port()
    conf = os.path.join(workdir, "kvrocks.conf")
    with open(conf, "w") as f:
        f.write(f"bind 127.0.0.1\nport {port}\ndir {workdir}/data\nlog-dir {workdir}\n"
                f"workers {workers}\n{extra}")
    log = open(os.path.join(workdir, "stdout.log"), "a")
    proc = subprocess.Popen([binary, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    started(proc, port)
    return proc, port


def start_redis(workdir):
    os.makedirs(workdir, exist_ok=True)
    port = free_port()
    log = open(os.path.join(workdir, "redis.log"), "w")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", workdir, "--save", "", "--appendonly", "no"],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    started(proc, port)
    return proc, port


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def redis_benchmark(port, requests, clients, pipeline, tests=None, command=None, datasize=64,
                    keyspace=100000, timeout=900):
    """Run redis-benchmark against port; {test name: requests per second}. Either `tests`
    (its -t list) or `command` (an argument list run as a custom command)."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(requests),
           "-c", str(clients), "-P", str(pipeline), "-d", str(datasize), "--csv"]
    if keyspace:
        cmd += ["-r", str(keyspace)]
    if tests:
        cmd += ["-t", tests]
    if command:
        cmd += list(command)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         timeout=timeout).stdout
    rows = {}
    for row in csv.reader(io.StringIO(out)):
        if len(row) < 2 or row[0] == "test":
            continue
        try:
            rows[row[0]] = float(row[1])
        except ValueError:
            continue
    return rows


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Client:
    """A blocking RESP2 client with a timeout on every socket operation."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b":"):
            return int(rest) if t == b":" else rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data = bytes(self.buf[:n])
            del self.buf[:n + 2]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.send(encode(*args))
        return self.read()


def info(port, section, timeout=10.0):
    c = Client(port, timeout)
    try:
        text = c.call("INFO", section).decode()
    finally:
        c.close()
    fields = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k] = v
    return fields


def rocksdb_used():
    """The RocksDB library the kvrocks binary was linked with, as x.py bench reports it."""
    return os.environ.get("KVROCKS_ROCKSDB", "unknown (not run through x.py bench)")


def print_table(header, rows):
    """rows: lists of cells; the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        cells = [str(r[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(r[1:], widths[1:])]
        print("  ".join(cells))
