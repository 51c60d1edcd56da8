# SPDX-License-Identifier: Apache-2.0
"""A raw RESP client for protocol-level tests: it sends exactly the bytes it is given and
reads replies byte-exact (RESP2 and RESP3), with a deadline on every read.

    c = RawConn(server.port)
    c.send(b"*1\\r\\n$4\\r\\nPING\\r\\n")
    assert c.read_raw() == b"+PONG\\r\\n"      # one whole reply, as bytes
    assert c.read() == Status("PONG")          # or parsed
    c.send(b"*abc\\r\\n")
    assert c.read_until_closed() == b"-ERR Protocol error: invalid multibulk length\\r\\n"

Parsed values: Status (str subclass) for +, Error (str subclass) for -, int for : and (,
bytes for $ and = (verbatim: the payload after "txt:"), None for nulls ($-1, *-1, _),
list for * ~ >, Map (list of (key, value) pairs) for %, float for ",", bool for #.
"""
import socket
import time

from helpers.wait import scaled

__all__ = ["RawConn", "Status", "Error", "Map", "ConnectionClosed", "cmd"]


class Status(str):
    def __repr__(self):
        return "Status(%s)" % str.__repr__(self)


class Error(str):
    def __repr__(self):
        return "Error(%s)" % str.__repr__(self)


class Map(list):
    def __repr__(self):
        return "Map(%s)" % list.__repr__(self)

    def as_dict(self):
        return {k: v for k, v in self}


class ConnectionClosed(Exception):
    """The peer closed the connection before a whole reply arrived (.data: what did)."""

    def __init__(self, data=b""):
        super().__init__("connection closed by the server after %d bytes: %r"
                         % (len(data), data[:200]))
        self.data = data


def cmd(*args):
    """Encode one request as a RESP multibulk."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Incomplete(Exception):
    pass


def _parse(buf, pos):
    """Parse one reply at buf[pos:]; return (value, end). _Incomplete if more bytes are
    needed."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        raise _Incomplete()
    kind = buf[pos:pos + 1]
    line = bytes(buf[pos + 1:nl])
    end = nl + 2
    if kind == b"+":
        return Status(line.decode("utf-8", "replace")), end
    if kind == b"-":
        return Error(line.decode("utf-8", "replace")), end
    if kind in (b":", b"("):
        return int(line), end
    if kind == b",":
        return float(line), end
    if kind == b"#":
        return line == b"t", end
    if kind == b"_":
        return None, end
    if kind in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return None, end
        if len(buf) < end + n + 2:
            raise _Incomplete()
        data = bytes(buf[end:end + n])
        if kind == b"=":
            data = data[4:]
        return data, end + n + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return None, end
        count = n * 2 if kind in (b"%", b"|") else n
        items = []
        for _ in range(count):
            v, end = _parse(buf, end)
            items.append(v)
        if kind in (b"%", b"|"):
            return Map(zip(items[0::2], items[1::2])), end
        return items, end
    raise ValueError("bad reply type byte %r at %d in %r" % (kind, pos, bytes(buf[:200])))


class RawConn:
    def __init__(self, port, host="127.0.0.1", timeout=10, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(scaled(5))
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.settimeout(scaled(self.timeout))
        self.sock.sendall(data)

    def call(self, *args):
        """Send one command, return its parsed reply."""
        self.send(cmd(*args))
        return self.read()

    def _fill(self, deadline):
        """Receive more bytes; False on EOF. socket.timeout when the deadline passes."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no reply within the deadline; have %r" % bytes(self.buf[:200]))
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _next(self, timeout):
        deadline = time.monotonic() + scaled(self.timeout if timeout is None else timeout)
        while True:
            try:
                value, end = _parse(self.buf, 0)
                raw = bytes(self.buf[:end])
                del self.buf[:end]
                return value, raw
            except _Incomplete:
                pass
            if not self._fill(deadline):
                raise ConnectionClosed(bytes(self.buf))

    def read(self, timeout=None):
        """The next reply, parsed."""
        return self._next(timeout)[0]

    def read_raw(self, timeout=None):
        """The next reply, as its exact bytes."""
        return self._next(timeout)[1]

    def read_until_closed(self, timeout=5):
        """Everything the server sends until it closes the connection. AssertionError if it
        does not close within the (scaled) timeout."""
        deadline = time.monotonic() + scaled(timeout)
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            raise AssertionError("the server did not close the connection within %.1fs; got %r"
                                 % (scaled(timeout), bytes(self.buf[:300])))
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def is_open(self, wait=0.2):
        """True if no EOF arrives within `wait` seconds (not scaled) and nothing unexpected
        was sent either (bytes that arrive are kept for read())."""
        deadline = time.monotonic() + max(wait, 0.001)  # 0: just look at what is there
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            return True
        return False
