# SPDX-License-Identifier: Apache-2.0
"""Differential testing: run one command script against two servers, compare the replies.

Replies are read raw: one dedicated connection per side (so MULTI, SELECT and CLIENT state
carry from one command to the next), no redis-py response callbacks, and error replies
kept whole ("ERR ...", "WRONGTYPE ...": redis-py would strip "ERR " and remap some codes).
An error reply becomes ErrorReply(text), also inside arrays (EXEC).

    mismatches = diff_replies(kvrocks.client(), redis_ref.client(), [
        ["SET", "k", "v"],
        ["GET", "k"],
        Cmd(["SRANDMEMBER", "s"], compare="ignore"),
    ])
    assert not mismatches, format_mismatches(mismatches)

or assert_same_replies(a, b, commands, ...), which raises with the formatted list.

Comparison per command: "exact" (default), "unordered" (flat array compared as a
multiset), "pairs" (array of field/value pairs compared as a set of pairs: HGETALL,
ZRANGE .. WITHSCORES), "ignore" (run, do not compare), or a callable (a, b) -> bool.
DEFAULT_COMPARE picks the mode by command name; Cmd(args, compare=...) overrides it.
Errors compare by errors="exact" (whole text), "code" (first word: ERR, WRONGTYPE...) or
"any" (both are errors).
"""
import redis

__all__ = ["ErrorReply", "Cmd", "Mismatch", "DEFAULT_COMPARE", "raw_connection",
           "run_commands", "diff_replies", "format_mismatches", "assert_same_replies"]

DEFAULT_COMPARE = {
    "SMEMBERS": "unordered",
    "KEYS": "unordered",
    "HKEYS": "unordered",
    "HVALS": "unordered",
    "SUNION": "unordered",
    "SINTER": "unordered",
    "SDIFF": "unordered",
    "HGETALL": "pairs",
    "TIME": "ignore",
    "RANDOMKEY": "ignore",
    "SRANDMEMBER": "ignore",
    "SPOP": "ignore",
    "HRANDFIELD": "ignore",
    "ZRANDMEMBER": "ignore",
}


class ErrorReply:
    """An error reply: .text is the whole line without "-", .code its first word."""

    __slots__ = ("text",)

    def __init__(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.text = str(text)

    @property
    def code(self):
        return self.text.split(" ", 1)[0] if self.text else ""

    def __eq__(self, other):
        return isinstance(other, ErrorReply) and other.text == self.text

    def __hash__(self):
        return hash(("ErrorReply", self.text))

    def __repr__(self):
        return "ErrorReply(%r)" % self.text


class Cmd:
    """A command with its own comparison mode: Cmd(["SMEMBERS", "s"], compare="unordered")."""

    __slots__ = ("args", "compare")

    def __init__(self, args, compare="exact"):
        self.args = list(args)
        self.compare = compare

    def __repr__(self):
        return "Cmd(%r, compare=%r)" % (self.args, self.compare)


class Mismatch:
    """One difference: .index in the script, .command (args), .reply_a, .reply_b."""

    __slots__ = ("index", "command", "reply_a", "reply_b")

    def __init__(self, index, command, reply_a, reply_b):
        self.index = index
        self.command = command
        self.reply_a = reply_a
        self.reply_b = reply_b

    def __repr__(self):
        return "Mismatch(#%d %r: %r != %r)" % (self.index, self.command, self.reply_a,
                                               self.reply_b)

    def __str__(self):
        return "#%d %s\n    a: %r\n    b: %r" % (self.index, _show_args(self.command),
                                                 self.reply_a, self.reply_b)


def _show_args(args):
    parts = []
    for a in args:
        if isinstance(a, bytes):
            a = a.decode("utf-8", "backslashreplace")
        text = str(a)
        if len(text) > 60:
            text = text[:60] + "...(%d)" % len(text)
        parts.append(text)
    return " ".join(parts)


class _RawErrorParser(redis.connection.PythonParser):
    """Keeps error replies whole: no code stripping, no exception remapping."""

    EXCEPTION_CLASSES = {}


def raw_connection(client_or_server, timeout=None):
    """A redis.Connection with the same address/credentials as a redis.Redis client (or a
    helpers.server.Server), reading raw replies. Socket timeouts default to the client's,
    or 10 s; never infinite. Caller disconnects it."""
    if hasattr(client_or_server, "connection_pool"):
        kwargs = dict(client_or_server.connection_pool.connection_kwargs)
    else:
        kwargs = {"host": client_or_server.host, "port": client_or_server.port}
        password = getattr(client_or_server, "_password", lambda: None)()
        if password:
            kwargs["password"] = password
    kwargs.pop("parser_class", None)
    kwargs.pop("retry", None)
    kwargs["decode_responses"] = False
    if timeout is not None:
        kwargs["socket_timeout"] = timeout
    if kwargs.get("socket_timeout") is None:
        kwargs["socket_timeout"] = 10
    if kwargs.get("socket_connect_timeout") is None:
        kwargs["socket_connect_timeout"] = 5
    return redis.Connection(parser_class=_RawErrorParser, **kwargs)


def _wrap_errors(reply):
    if isinstance(reply, redis.exceptions.ResponseError):
        return ErrorReply(str(reply))
    if isinstance(reply, list):
        return [_wrap_errors(r) for r in reply]
    return reply


def _split(entry):
    if isinstance(entry, Cmd):
        return entry.args, entry.compare
    args = list(entry)
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    return args, DEFAULT_COMPARE.get(name.upper(), "exact")


def run_commands(conn, commands):
    """Run each command (list of args or Cmd) on a raw connection (raw_connection());
    return the replies, error replies as ErrorReply. Connection failures propagate."""
    replies = []
    for entry in commands:
        args, _ = _split(entry)
        conn.send_command(*args)
        try:
            reply = conn.read_response()
        except redis.exceptions.ResponseError as exc:
            reply = ErrorReply(str(exc))
        replies.append(_wrap_errors(reply))
    return replies


def _sort_key(value):
    return repr(value)


def _normalize_error(reply, errors):
    if isinstance(reply, ErrorReply):
        if errors == "code":
            return ErrorReply(reply.code)
        if errors == "any":
            return ErrorReply("<error>")
    if isinstance(reply, list):
        return [_normalize_error(r, errors) for r in reply]
    return reply


def _equal(a, b, compare):
    if callable(compare):
        return bool(compare(a, b))
    if compare == "ignore":
        return True
    if compare == "exact":
        return a == b
    if not (isinstance(a, list) and isinstance(b, list)):
        return a == b
    if compare == "unordered":
        return sorted(a, key=_sort_key) == sorted(b, key=_sort_key)
    if compare == "pairs":
        if len(a) % 2 or len(b) % 2:
            return a == b
        pa = sorted(zip(a[0::2], a[1::2]), key=_sort_key)
        pb = sorted(zip(b[0::2], b[1::2]), key=_sort_key)
        return pa == pb
    raise ValueError("unknown compare mode %r" % (compare,))


def diff_replies(a, b, commands, *, errors="exact", normalize=None, stop_on_first=False,
                 timeout=None):
    """Run `commands` on a and b (redis.Redis clients or Servers), each side on its own
    raw connection, and return a list of Mismatch (empty when every reply matches).

    errors: "exact" | "code" | "any" (see module docstring).
    normalize: optional fn(index, args, reply) -> reply applied to both sides before
    comparing (e.g. round floats). stop_on_first: return at the first mismatch.
    The commands run interleaved (a then b, command by command), so both servers see the
    same order even for time-dependent commands.
    """
    ca = raw_connection(a, timeout)
    cb = raw_connection(b, timeout)
    mismatches = []
    try:
        for index, entry in enumerate(commands):
            args, compare = _split(entry)
            ra = run_commands(ca, [Cmd(args)])[0]
            rb = run_commands(cb, [Cmd(args)])[0]
            na, nb = ra, rb
            if normalize is not None:
                na = normalize(index, args, na)
                nb = normalize(index, args, nb)
            na = _normalize_error(na, errors)
            nb = _normalize_error(nb, errors)
            if not _equal(na, nb, compare):
                mismatches.append(Mismatch(index, args, ra, rb))
                if stop_on_first:
                    break
    finally:
        ca.disconnect()
        cb.disconnect()
    return mismatches


def format_mismatches(mismatches, limit=20):
    """Human-readable list (first `limit`)."""
    if not mismatches:
        return "no mismatches"
    lines = ["%d mismatching replies:" % len(mismatches)]
    lines.extend(str(m) for m in mismatches[:limit])
    if len(mismatches) > limit:
        lines.append("... and %d more" % (len(mismatches) - limit))
    return "\n".join(lines)


def assert_same_replies(a, b, commands, **kw):
    """diff_replies(...) and raise AssertionError listing the mismatches, if any."""
    mismatches = diff_replies(a, b, commands, **kw)
    if mismatches:
        raise AssertionError(format_mismatches(mismatches))
