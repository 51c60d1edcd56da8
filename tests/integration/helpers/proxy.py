# SPDX-License-Identifier: Apache-2.0
"""Loopback TCP fault injection: a proxy in front of a server, and a port that never
answers (scenarios.md 0.2, F1 and F4).

Proxy(target_host, target_port) listens on 127.0.0.1:<port> and forwards every accepted
connection to the target. One daemon thread runs a poll() loop over all sockets; the
methods below hand work to that thread and return once it is done, so after cut()
returns the connections are closed.

Modes, per direction ("up" = client to target, "down" = target to client, "both"):
    pass        forward
    blackhole   keep both sockets open, forward nothing, send no FIN: bytes that arrive
                are read and thrown away (a pulled cable; the peers only notice by their
                own timeouts). New connections are accepted and connected to the target,
                but nothing moves.
    pause       stop forwarding but keep the bytes; read until buffer_limit (64 KiB) is
                held, then stop reading, so the sender's socket buffer fills and its writes
                block (Kvrocks' PausableTCPProxy). resume() delivers what was held.
    slow        forward at most bytes_per_sec per connection in that direction.
and, for the whole proxy:
    cut         close every connection now (RST by default, FIN with rst=False) and
                reset every new one at once, until another mode is set.
    drop_connections()   close every current connection once, keep accepting.

An EOF from one side is forwarded (as a half-close) only when the direction is pass or
slow and its held bytes are delivered; a connection is closed when both directions are.
"""
import collections
import errno
import select
import socket
import struct
import threading
import time

__all__ = ["Proxy", "ProxyError", "HangingPort", "PASS", "BLACKHOLE", "PAUSE", "SLOW"]

PASS = "pass"
BLACKHOLE = "blackhole"
PAUSE = "pause"
SLOW = "slow"

UP = "up"
DOWN = "down"

_READ_SIZE = 65536


class ProxyError(RuntimeError):
    pass


def _abort(sock):
    """Close with RST (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _close(sock):
    """Close with FIN."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _directions(direction):
    if direction in ("both", None):
        return (UP, DOWN)
    if direction in (UP, DOWN):
        return (direction,)
    raise ValueError("direction must be 'up', 'down' or 'both', not %r" % (direction,))


class _Pipe:
    """One direction of one connection."""

    __slots__ = ("dir", "buf", "eof", "reset", "shut", "tokens", "stamp")

    def __init__(self, direction):
        self.dir = direction
        self.buf = bytearray()
        self.eof = False    # the source sent FIN (or failed)
        self.reset = False  # the source failed (RST): abort instead of half-close
        self.shut = False   # the EOF has been passed on
        self.tokens = 0.0
        self.stamp = time.monotonic()


class _Link:
    __slots__ = ("client", "upstream", "connecting", "up", "down", "dead")

    def __init__(self, client, upstream, connecting):
        self.client = client
        self.upstream = upstream
        self.connecting = connecting
        self.up = _Pipe(UP)
        self.down = _Pipe(DOWN)
        self.dead = False

    def ends(self, pipe):
        """(source, destination) sockets of a pipe."""
        if pipe is self.up:
            return self.client, self.upstream
        return self.upstream, self.client


class Proxy:
    """Threaded loopback TCP proxy. See the module docstring for the modes.

    Proxy(target_host, target_port, *, host="127.0.0.1", port=0, buffer_limit=65536,
    name=None). Attributes: .host, .port, .addr ("host:port"), .target ((host, port)).
    Counters (read any time): .accepted, .refused, .connect_failures,
    .bytes_forwarded {"up", "down"}, .bytes_swallowed {"up", "down"}.
    """

    def __init__(self, target_host, target_port, *, host="127.0.0.1", port=0,
                 buffer_limit=64 * 1024, name=None):
        self.target = (target_host, int(target_port))
        self.host = host
        self.name = name or "proxy->%s:%d" % self.target
        self.buffer_limit = buffer_limit
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._modes = {UP: PASS, DOWN: PASS}
        self._rates = {UP: None, DOWN: None}
        self._saved = {}
        self._refusing = False
        self._refuse_rst = True
        self._links = []
        self.accepted = 0
        self.refused = 0
        self.connect_failures = 0
        self.bytes_forwarded = {UP: 0, DOWN: 0}
        self.bytes_swallowed = {UP: 0, DOWN: 0}
        self.loop_error = None
        self._lock = threading.Lock()
        self._calls = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    # ---- public API

    def __repr__(self):
        return "<Proxy %s:%d -> %s:%d %s>" % (self.host, self.port, self.target[0],
                                              self.target[1], self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def modes(self):
        """{"up": mode, "down": mode}; "cut" for both while refusing."""
        if self._refusing:
            return {UP: "cut", DOWN: "cut"}
        return dict(self._modes)

    @property
    def mode(self):
        """The mode when both directions agree, else "up=<m>,down=<m>"."""
        m = self.modes
        if m[UP] == m[DOWN]:
            return m[UP]
        return "up=%s,down=%s" % (m[UP], m[DOWN])

    @property
    def active_connections(self):
        return len(self._links)

    def set_mode(self, mode, direction="both", bytes_per_sec=None):
        """Generic setter: mode in pass/blackhole/pause/slow (cut has its own method)."""
        if mode == PASS:
            return self.passthrough(direction)
        if mode == BLACKHOLE:
            return self.blackhole(direction)
        if mode == PAUSE:
            return self.pause(direction)
        if mode == SLOW:
            return self.slow(bytes_per_sec, direction)
        if mode == "cut":
            return self.cut()
        raise ValueError("unknown proxy mode %r" % (mode,))

    def passthrough(self, direction="both"):
        """Forward again (also ends cut, and forgets a pending pause)."""
        self._call(lambda: self._set(direction, PASS, None))

    def blackhole(self, direction="both"):
        """Swallow everything in that direction; bytes held so far are dropped too."""
        self._call(lambda: self._set(direction, BLACKHOLE, None))

    def slow(self, bytes_per_sec, direction="both"):
        """Throttle each connection to bytes_per_sec in that direction."""
        if not bytes_per_sec or bytes_per_sec <= 0:
            raise ValueError("bytes_per_sec must be > 0")
        self._call(lambda: self._set(direction, SLOW, float(bytes_per_sec)))

    def pause(self, direction="both"):
        """Hold bytes (up to buffer_limit, then stop reading) until resume()."""
        def do():
            for d in _directions(direction):
                if self._modes[d] != PAUSE:
                    self._saved[d] = (self._modes[d], self._rates[d])
            self._set(direction, PAUSE, None, keep_saved=True)
        self._call(do)

    def resume(self, direction="both"):
        """Undo pause(): back to the mode set before it (pass if none); held bytes flow."""
        def do():
            for d in _directions(direction):
                if self._modes[d] == PAUSE:
                    mode, rate = self._saved.pop(d, (PASS, None))
                    self._set(d, mode, rate, keep_saved=True)
        self._call(do)

    def cut(self, rst=True):
        """Close all connections (RST unless rst=False) and reset new ones until another
        mode is set."""
        def do():
            self._refusing = True
            self._refuse_rst = rst
            self._drop_all(rst)
        self._call(do)

    def drop_connections(self, rst=True):
        """Close all current connections once (RST unless rst=False); keep accepting."""
        self._call(lambda: self._drop_all(rst))

    def set_target(self, host, port):
        """Send new connections to another address (current ones stay)."""
        def do():
            self.target = (host, int(port))
        self._call(do)

    def close(self, timeout=5):
        """Stop the loop, close every socket. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            # The loop is stuck somewhere unexpected: close the sockets under it.
            self._close_all(rst=True)
        for s in (self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    # ---- plumbing between the caller and the loop thread

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _call(self, fn, timeout=5):
        if threading.current_thread() is self._thread:
            return fn()
        if self._closed or not self._thread.is_alive():
            raise ProxyError("%s is closed%s" % (
                self.name, "" if self.loop_error is None else
                " (loop failed: %r)" % (self.loop_error,)))
        done = threading.Event()
        box = {}
        with self._lock:
            self._calls.append((fn, done, box))
        self._wake()
        if not done.wait(timeout):
            raise ProxyError("%s: loop thread did not run the request within %ss"
                             % (self.name, timeout))
        if "exc" in box:
            raise box["exc"]
        return box.get("result")

    def _run_calls(self):
        while True:
            with self._lock:
                if not self._calls:
                    return
                fn, done, box = self._calls.popleft()
            try:
                box["result"] = fn()
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                box["exc"] = exc
            done.set()

    # ---- state changes (loop thread)

    def _set(self, direction, mode, rate, keep_saved=False):
        self._refusing = False
        now = time.monotonic()
        for d in _directions(direction):
            if not keep_saved:
                self._saved.pop(d, None)
            self._modes[d] = mode
            self._rates[d] = rate
            for link in self._links:
                pipe = link.up if d == UP else link.down
                if mode == BLACKHOLE and pipe.buf:
                    self.bytes_swallowed[d] += len(pipe.buf)
                    pipe.buf.clear()
                pipe.tokens = 0.0
                pipe.stamp = now

    def _drop_all(self, rst):
        links, self._links = self._links, []
        for link in links:
            self._kill_link(link, rst)

    def _kill_link(self, link, rst=True):
        link.dead = True
        for s in (link.client, link.upstream):
            if rst:
                _abort(s)
            else:
                _close(s)

    def _close_all(self, rst):
        self._drop_all(rst)
        try:
            self._listener.close()
        except OSError:
            pass

    # ---- the loop

    def _run(self):
        try:
            while not self._stopping:
                self._run_calls()
                self._step()
        except Exception as exc:  # noqa: BLE001 - reported through loop_error / _call
            self.loop_error = exc
        finally:
            self._close_all(rst=True)
            # Release callers waiting on requests that will never run.
            with self._lock:
                pending, self._calls = list(self._calls), collections.deque()
            for _fn, done, box in pending:
                box["exc"] = ProxyError("%s closed" % self.name)
                done.set()

    def _burst(self, rate):
        return max(1.0, min(rate * 0.05, float(self.buffer_limit)))

    def _refill(self, pipe, rate, now):
        pipe.tokens = min(self._burst(rate), pipe.tokens + rate * (now - pipe.stamp))
        pipe.stamp = now

    def _step(self):
        now = time.monotonic()
        timeout = 0.5
        masks = collections.defaultdict(int)
        socks = {}

        def want(sock, bit):
            masks[sock.fileno()] |= bit
            socks[sock.fileno()] = sock

        want(self._wake_r, select.POLLIN)
        want(self._listener, select.POLLIN)
        for link in self._links:
            if link.connecting:
                want(link.upstream, select.POLLOUT)
            for pipe in (link.up, link.down):
                src, dst = link.ends(pipe)
                mode = self._modes[pipe.dir]
                readable = not (pipe is link.down and link.connecting)
                if readable and not pipe.eof and (mode == BLACKHOLE
                                                  or len(pipe.buf) < self.buffer_limit):
                    want(src, select.POLLIN)
                if link.connecting or not pipe.buf or mode not in (PASS, SLOW):
                    continue
                if mode == SLOW:
                    rate = self._rates[pipe.dir]
                    self._refill(pipe, rate, now)
                    need = min(len(pipe.buf), self._burst(rate))
                    if pipe.tokens < need:
                        timeout = min(timeout, (need - pipe.tokens) / rate)
                        continue
                want(dst, select.POLLOUT)

        poller = select.poll()
        for fd, mask in masks.items():
            poller.register(fd, mask)
        events = poller.poll(max(1, int(timeout * 1000) + 1))
        ready = {fd: ev for fd, ev in events}

        if self._wake_r.fileno() in ready:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
        if self._listener.fileno() in ready:
            self._accept()

        now = time.monotonic()
        for link in list(self._links):
            if link.dead:
                continue
            cfd = link.client.fileno()
            ufd = link.upstream.fileno()
            if link.connecting:
                if ufd in ready:
                    err = link.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        self.connect_failures += 1
                        self._remove(link, rst=True)
                        continue
                    link.connecting = False
                else:
                    # Client data may still be read while the connect is pending.
                    if cfd in ready and ready[cfd] & (select.POLLIN | select.POLLHUP
                                                      | select.POLLERR):
                        self._read(link, link.up)
                    continue
            for pipe in (link.up, link.down):
                src, dst = link.ends(pipe)
                ev = ready.get(src.fileno(), 0)
                if ev & (select.POLLIN | select.POLLHUP | select.POLLERR) and \
                        masks.get(src.fileno(), 0) & select.POLLIN:
                    self._read(link, pipe)
                if link.dead:
                    break
                ev = ready.get(dst.fileno(), 0)
                if ev & (select.POLLOUT | select.POLLERR) and \
                        masks.get(dst.fileno(), 0) & select.POLLOUT:
                    self._write(link, pipe, now)
                if link.dead:
                    break
            if link.dead:
                continue
            self._propagate_eof(link)

    def _accept(self):
        while True:
            try:
                client, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.accepted += 1
            client.setblocking(False)
            if self._refusing:
                self.refused += 1
                if self._refuse_rst:
                    _abort(client)
                else:
                    _close(client)
                continue
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setblocking(False)
            for s in (client, upstream):
                try:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            err = upstream.connect_ex(self.target)
            if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
                self.connect_failures += 1
                _abort(client)
                upstream.close()
                continue
            self._links.append(_Link(client, upstream, connecting=(err != 0)))

    def _remove(self, link, rst):
        if link in self._links:
            self._links.remove(link)
        if not link.dead:
            self._kill_link(link, rst)

    def _read(self, link, pipe):
        src, _dst = link.ends(pipe)
        try:
            data = src.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pipe.eof = True
            pipe.reset = True
            return
        if not data:
            pipe.eof = True
            return
        if self._modes[pipe.dir] == BLACKHOLE:
            self.bytes_swallowed[pipe.dir] += len(data)
        else:
            pipe.buf += data

    def _write(self, link, pipe, now):
        _src, dst = link.ends(pipe)
        mode = self._modes[pipe.dir]
        n = len(pipe.buf)
        if mode == SLOW:
            self._refill(pipe, self._rates[pipe.dir], now)
            n = min(n, int(pipe.tokens))
            if n <= 0:
                return
        try:
            sent = dst.send(pipe.buf[:n])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._remove(link, rst=True)
            return
        del pipe.buf[:sent]
        self.bytes_forwarded[pipe.dir] += sent
        if mode == SLOW:
            pipe.tokens -= sent

    def _propagate_eof(self, link):
        for pipe in (link.up, link.down):
            if not pipe.eof or pipe.shut or pipe.buf:
                continue
            if self._modes[pipe.dir] not in (PASS, SLOW):
                continue
            if pipe.reset:
                self._remove(link, rst=True)
                return
            _src, dst = link.ends(pipe)
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                self._remove(link, rst=True)
                return
            pipe.shut = True
        if link.up.shut and link.down.shut:
            self._remove(link, rst=False)


class HangingPort:
    """A loopback port where connect() never completes (F4): a listener with backlog 0
    that never accepts, its accept queue filled by idle connects, so later SYNs are
    dropped and a client's connect() waits for its own timeout.

    HangingPort(host="127.0.0.1", fill=3); .port, .addr, .close(); context manager.
    """

    def __init__(self, host="127.0.0.1", fill=3):
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers = []
        for _ in range(fill):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, self.port))
            self._fillers.append(s)

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        for s in self._fillers:
            _abort(s)
        self._fillers = []
        try:
            self._listener.close()
        except OSError:
            pass
