# SPDX-License-Identifier: Apache-2.0
"""Deterministic data sets and keyspace comparison (scenarios.md F8, Appendix C).

    written = fill(master.client(), 1000, seed=7, ttl_ratio=0.2)
    wait_until(lambda: not compare_keyspaces(master, replica), msg="replica caught up")
    assert_same_keyspace(master, replica)
    assert snapshot(replica) == expected_snapshot(1000, seed=7, ttl_ratio=0.2)

A snapshot is {key: Entry(type, value, has_ttl)} read with SCAN on a raw connection
(no redis-py callbacks, so any cursor format works). Strings are read with GET; a key
whose GET fails with WRONGTYPE is read by TYPE and a per-type dump (hash, list, set, zset;
other types are recorded by type only). Keys that vanish during the scan (expired) are
left out.
"""
import collections
import hashlib
import random

import redis

from .diff import raw_connection

__all__ = ["Entry", "key_name", "generate", "fill", "expected_snapshot", "snapshot",
           "compare_keyspaces", "assert_same_keyspace", "digest"]

Entry = collections.namedtuple("Entry", "type value has_ttl")


def key_name(prefix, i):
    """The i-th key of a data set: prefix + decimal i, as bytes."""
    return ("%s%d" % (prefix, i)).encode()


def generate(n, seed=0, *, prefix="key:", min_size=1, max_size=64, ttl_ratio=0.0,
             ttl_seconds=100000, printable=False):
    """The data set fill() writes: a list of (key, value, ttl_seconds or None).

    Same arguments, same list, on every run. Values are random bytes (binary unless
    printable=True) of min_size..max_size bytes; a ttl_ratio fraction of the keys get
    ttl_seconds (long enough not to expire during a test, so only its presence matters).
    """
    rng = random.Random(seed)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    items = []
    for i in range(n):
        size = rng.randint(min_size, max_size)
        if printable:
            value = bytes(rng.choice(alphabet) for _ in range(size))
        else:
            value = rng.randbytes(size)
        ttl = ttl_seconds if rng.random() < ttl_ratio else None
        items.append((key_name(prefix, i), value, ttl))
    return items


def _client(target):
    if hasattr(target, "client") and not hasattr(target, "connection_pool"):
        return target.client()
    return target


def fill(client, n, seed=0, *, prefix="key:", min_size=1, max_size=64, ttl_ratio=0.0,
         ttl_seconds=100000, printable=False, batch=500):
    """Write generate(...)'s data set with SET [EX] in pipelines of `batch` commands
    (no MULTI). `client` is a redis.Redis or a Server. Returns {key: value}."""
    c = _client(client)
    items = generate(n, seed, prefix=prefix, min_size=min_size, max_size=max_size,
                     ttl_ratio=ttl_ratio, ttl_seconds=ttl_seconds, printable=printable)
    for start in range(0, len(items), batch):
        pipe = c.pipeline(transaction=False)
        for key, value, ttl in items[start:start + batch]:
            if ttl is None:
                pipe.execute_command("SET", key, value)
            else:
                pipe.execute_command("SET", key, value, "EX", ttl)
        for reply in pipe.execute(raise_on_error=True):
            if reply not in (True, b"OK", "OK"):
                raise AssertionError("SET replied %r" % (reply,))
    return {key: value for key, value, _ in items}


def expected_snapshot(n, seed=0, **kw):
    """What snapshot() of a server holding only fill(n, seed, **kw) returns."""
    kw.pop("batch", None)
    return {key: Entry("string", value, ttl is not None)
            for key, value, ttl in generate(n, seed, **kw)}


def _pipeline(conn, commands):
    """Send commands at once on a raw connection; replies with errors as exceptions."""
    conn.send_packed_command(conn.pack_commands(commands))
    replies = []
    for _ in commands:
        try:
            replies.append(conn.read_response())
        except redis.exceptions.ResponseError as exc:
            replies.append(exc)
    return replies


def _scan_keys(conn, match, count):
    keys = []
    cursor = b"0"
    for _ in range(10_000_000):
        args = ["SCAN", cursor]
        if match is not None:
            args += ["MATCH", match]
        args += ["COUNT", count]
        conn.send_command(*args)
        cursor, batch = conn.read_response()
        keys.extend(batch)
        if cursor in (b"0", 0, "0"):
            break
    return sorted(set(keys))


def _dump_other(conn, key):
    conn.send_command("TYPE", key)
    kind = conn.read_response()
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind == "none":
        return None
    if kind == "hash":
        conn.send_command("HGETALL", key)
        flat = conn.read_response()
        return kind, tuple(sorted(zip(flat[0::2], flat[1::2])))
    if kind == "list":
        conn.send_command("LRANGE", key, 0, -1)
        return kind, tuple(conn.read_response())
    if kind == "set":
        conn.send_command("SMEMBERS", key)
        return kind, tuple(sorted(conn.read_response()))
    if kind == "zset":
        conn.send_command("ZRANGE", key, 0, -1, "WITHSCORES")
        flat = conn.read_response()
        return kind, tuple((m, float(s)) for m, s in zip(flat[0::2], flat[1::2]))
    return kind, None


def snapshot(target, match=None, count=1000, batch=200):
    """{key: Entry(type, value, has_ttl)} of every key (matching `match`) on a redis.Redis
    or a Server."""
    conn = raw_connection(target)
    try:
        keys = _scan_keys(conn, match, count)
        result = {}
        for start in range(0, len(keys), batch):
            chunk = keys[start:start + batch]
            cmds = []
            for key in chunk:
                cmds.append(("GET", key))
                cmds.append(("PTTL", key))
            replies = _pipeline(conn, cmds)
            for i, key in enumerate(chunk):
                value, pttl = replies[2 * i], replies[2 * i + 1]
                if isinstance(pttl, Exception):
                    raise pttl
                if pttl == -2:
                    continue
                if isinstance(value, redis.exceptions.ResponseError):
                    if "WRONGTYPE" not in str(value):
                        raise value
                    dumped = _dump_other(conn, key)
                    if dumped is None:
                        continue
                    result[key] = Entry(dumped[0], dumped[1], pttl >= 0)
                elif value is None:
                    continue
                else:
                    result[key] = Entry("string", value, pttl >= 0)
        return result
    finally:
        conn.disconnect()


def _show(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


def compare_keyspaces(a, b, *, match=None, check_ttl=True):
    """Differences between two servers' keyspaces as a list of lines (empty = same):
    keys only on one side, values or types that differ, TTL present on one side only.
    a and b are redis.Redis clients, Servers, or snapshots (dicts) already taken."""
    sa = a if isinstance(a, dict) else snapshot(a, match)
    sb = b if isinstance(b, dict) else snapshot(b, match)
    diffs = []
    for key in sorted(set(sa) | set(sb)):
        ea, eb = sa.get(key), sb.get(key)
        if ea is None:
            diffs.append("only in b: %r" % key)
        elif eb is None:
            diffs.append("only in a: %r" % key)
        elif ea.type != eb.type:
            diffs.append("type differs for %r: a=%s b=%s" % (key, ea.type, eb.type))
        elif ea.value != eb.value:
            diffs.append("value differs for %r: a=%s b=%s"
                         % (key, _show(ea.value), _show(eb.value)))
        elif check_ttl and ea.has_ttl != eb.has_ttl:
            diffs.append("TTL presence differs for %r: a=%s b=%s"
                         % (key, ea.has_ttl, eb.has_ttl))
    return diffs


def assert_same_keyspace(a, b, *, match=None, check_ttl=True, limit=20):
    """Raise AssertionError listing the first `limit` differences, if any."""
    diffs = compare_keyspaces(a, b, match=match, check_ttl=check_ttl)
    if diffs:
        shown = diffs[:limit]
        more = "" if len(diffs) <= limit else "\n... and %d more" % (len(diffs) - limit)
        raise AssertionError("keyspaces differ (%d differences):\n%s%s"
                             % (len(diffs), "\n".join(shown), more))


def digest(target, match=None, check_ttl=True):
    """A SHA-1 hex digest of the keyspace snapshot (keys, types, values, TTL presence)."""
    snap = target if isinstance(target, dict) else snapshot(target, match)
    h = hashlib.sha1()
    for key in sorted(snap):
        e = snap[key]
        h.update(repr((key, e.type, e.value, e.has_ttl if check_ttl else None)).encode())
    return h.hexdigest()
