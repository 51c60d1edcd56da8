# SPDX-License-Identifier: Apache-2.0
"""RESP spoken by hand over a plain socket, for what redis-py cannot show or send: the exact
bytes of a RESP3 reply (redis-py 4.3.4 cannot parse RESP3), or a server's replication
commands, whose replies are raw lines and byte streams rather than RESP values.

    RawSocket(server)    send(*args) one request; line() the next line without its CRLF;
                         exact(n) the next n bytes
    Resp3(server)        a RawSocket after HELLO 3; call(*args) -> the reply's exact bytes
"""
import socket


class RawSocket:
    """A connection to server (anything with .host and .port) that speaks RESP by hand."""

    def __init__(self, server, timeout=10):
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, *args):
        """One request, an array of bulk strings (str, bytes or numbers)."""
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("connection closed")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


class Resp3(RawSocket):
    """A raw socket in RESP3 (HELLO 3) returning each reply as its exact bytes."""

    def __init__(self, server, timeout=10):
        super().__init__(server, timeout)
        hello = self.call("HELLO", "3")
        assert hello.startswith(b"%"), hello

    def _read(self, out):
        line = self.line()
        out += line + b"\r\n"
        kind, rest = line[:1], line[1:]
        if kind in (b"$", b"=", b"!"):
            n = int(rest)
            if n >= 0:
                out += self.exact(n + 2)
        elif kind in (b"*", b"~", b">"):
            for _ in range(max(int(rest), 0)):
                self._read(out)
        elif kind == b"%":
            for _ in range(2 * int(rest)):
                self._read(out)

    def call(self, *args):
        self.send(*args)
        out = bytearray()
        self._read(out)
        return bytes(out)
