# SPDX-License-Identifier: Apache-2.0
"""Crash safety of every data type: no acknowledged write is lost and no command (nor EXEC) is
left half-applied across kill -9 and SIGTERM, with several clients writing at once.

Each Client thread owns the keys c<n>:* (hashes, sets, sorted sets, lists, a bitmap, a
HyperLogLog, strings, a RENAME pair and a big collection that is deleted and re-created) and a
slice of the shared hot keys (its own field, members, bits and list elements in hot:*). It
sends pipelines of random commands, MULTI/EXEC blocks included, and keeps a model of its keys
that it advances with every acknowledged reply (checking the reply against the model). After a
crash, the state of a client's keys must be its model with a prefix of the commands it had sent
but had no reply for (the commands of a worker's round are committed in order, together): all,
some leading part, or none of them, each command (each EXEC) entirely or not at all. SMOVE,
LMOVE and ZUNIONSTORE are in the model, so an element moved twice or lost shows as a mismatch.
Every key is also checked for metadata that agrees with its contents (xLEN/xCARD against the
elements, ZSCORE and the score index against ZRANGE, BITCOUNT against the bits).

Rounds run on one server directory, each ending with a kill -9 (or a SIGTERM) at a different
point: early, mid-stream with small memtables (flushes all along), right after COMPACT, right
after a FLUSHDB, and right after a DEL of a big collection. The state found after a restart is
the model the next round continues from.

A transaction stopped in the middle (DEBUG SLEEP inside it) is checked on its own: after kill -9
none or all of it is there, after SIGTERM all of it.

KVROCKS_CRASH_SEEDS=n runs the kill -9 and SIGTERM rounds with n seeds instead of one (a longer
hunt; each seed is another random workload).
"""
import copy
import os
import random
import threading

import pytest

from helpers.server import SMALL_ROCKSDB
from helpers.wait import scaled, wait_until
from raw_resp import ConnectionClosed, Error, RawConn, Status, cmd

SKIP = object()  # a reply the model cannot predict (RPUSH on the shared list, PFADD)

HOT = ("hot:h", "hot:s", "hot:z", "hot:b", "hot:l", "hot:p")
OWN = ("h0", "h1", "s0", "s1", "z0", "z1", "zu", "l0", "l1", "b", "p", "str", "cnt", "r0", "r1",
       "big")
BITS_PER_CLIENT = 64


class ErrPrefix(str):
    """An expected error reply: any error starting with this text."""


class WrongType(Exception):
    """The model's reply to a command on a key of another type (it changes nothing)."""


# --------------------------------------------------------------------------------------
# The model: one client's keys, as the server must hold them

class Model:
    """key -> [kind, data, has_ttl]; kind: hash (dict), set (set), zset (dict member -> score),
    list (list), bitmap (set of offsets of 1 bits), hll (set of elements), string (bytes).
    Shared keys hold only this client's slice. Values are bytes, scores floats."""

    def __init__(self):
        self.keys = {}

    def clone(self):
        m = Model()
        m.keys = copy.deepcopy(self.keys)
        return m

    def _get(self, key, kind):
        e = self.keys.get(key)
        if e is None:
            return None
        if e[0] != kind:
            raise WrongType()
        return e[1]

    def _make(self, key, kind, empty):
        if self._get(key, kind) is None:
            self.keys[key] = [kind, empty, False]
        return self.keys[key][1]

    def _drop_if_empty(self, key):
        e = self.keys.get(key)
        if e is not None and e[0] in ("hash", "set", "zset", "list") and not e[1]:
            del self.keys[key]

    def apply(self, argv):
        """Apply one command (a list of bytes) and return the reply it must get."""
        name = argv[0].upper().decode()
        handler = getattr(self, "c_" + name.lower())
        try:
            return handler(*argv[1:])
        except WrongType:
            return ErrPrefix("WRONGTYPE")

    # hashes
    def c_hset(self, key, *fv):
        h = self._make(key, "hash", {})
        new = 0
        for f, v in zip(fv[0::2], fv[1::2]):
            new += f not in h
            h[f] = v
        return new

    def _delete_from(self, key, kind, names):
        """HDEL and ZREM: drop the names present in the dict of `key`; how many were."""
        d = self._get(key, kind)
        if d is None:
            return 0
        n = 0
        for x in names:
            if x in d:
                del d[x]
                n += 1
        self._drop_if_empty(key)
        return n

    def c_hdel(self, key, *fields):
        return self._delete_from(key, "hash", fields)

    def c_hincrby(self, key, field, delta):
        h = self._make(key, "hash", {})
        v = int(h.get(field, b"0")) + int(delta)
        h[field] = b"%d" % v
        return v

    # sets
    def c_sadd(self, key, *members):
        s = self._make(key, "set", set())
        n = len(set(members) - s)
        s.update(members)
        return n

    def c_srem(self, key, *members):
        s = self._get(key, "set")
        if s is None:
            return 0
        n = len(set(members) & s)
        s.difference_update(members)
        self._drop_if_empty(key)
        return n

    def c_smove(self, src, dst, member):
        s = self._get(src, "set")
        self._get(dst, "set")
        if s is None or member not in s:
            return 0
        s.discard(member)
        self._drop_if_empty(src)
        self._make(dst, "set", set()).add(member)
        return 1

    # sorted sets
    def c_zadd(self, key, *sm):
        z = self._make(key, "zset", {})
        new = 0
        for score, member in zip(sm[0::2], sm[1::2]):
            new += member not in z
            z[member] = float(score)
        return new

    def c_zincrby(self, key, inc, member):
        z = self._make(key, "zset", {})
        z[member] = z.get(member, 0.0) + float(inc)
        return z[member]

    def c_zrem(self, key, *members):
        return self._delete_from(key, "zset", members)

    def c_zpopmin(self, key):
        z = self._get(key, "zset")
        if not z:
            return []
        member = min(z, key=lambda m: (z[m], m))
        score = z.pop(member)
        self._drop_if_empty(key)
        return [member, score]

    def c_zunionstore(self, dst, numkeys, *srcs):
        out = {}
        for s in srcs[:int(numkeys)]:
            self._get(s, "zset")
        for s in srcs[:int(numkeys)]:
            for m, score in (self._get(s, "zset") or {}).items():
                out[m] = out.get(m, 0.0) + score
        self.keys.pop(dst, None)
        if out:
            self.keys[dst] = ["zset", out, False]
        return len(out)

    # lists
    def c_lpush(self, key, *elems):
        lst = self._make(key, "list", [])
        for e in elems:
            lst.insert(0, e)
        return len(lst)

    def c_rpush(self, key, *elems):
        lst = self._make(key, "list", [])
        lst.extend(elems)
        return SKIP if key.startswith(b"hot:") else len(lst)

    def c_lpop(self, key, count=None):
        lst = self._get(key, "list")
        if lst is None:
            return None
        n = 1 if count is None else int(count)
        out = lst[:n]
        del lst[:n]
        self._drop_if_empty(key)
        return out[0] if count is None else out

    def c_ltrim(self, key, start, stop):
        lst = self._get(key, "list")
        if lst is not None:
            n = len(lst)
            a, b = int(start), int(stop)
            a = max(a + n if a < 0 else a, 0)
            b = b + n if b < 0 else min(b, n - 1)
            lst[:] = lst[a:b + 1] if a <= b else []
            self._drop_if_empty(key)
        return Status("OK")

    def c_lmove(self, src, dst, wherefrom, whereto):
        lst = self._get(src, "list")
        self._get(dst, "list")
        if lst is None:
            return None
        e = lst.pop(0) if wherefrom.upper() == b"LEFT" else lst.pop()
        self._drop_if_empty(src)
        d = self._make(dst, "list", [])
        if whereto.upper() == b"LEFT":
            d.insert(0, e)
        else:
            d.append(e)
        return e

    # bitmaps, HyperLogLog, strings
    def c_setbit(self, key, offset, bit):
        bits = self._make(key, "bitmap", set())
        off = int(offset)
        old = 1 if off in bits else 0
        if bit == b"1":
            bits.add(off)
        else:
            bits.discard(off)
        return old

    def c_pfadd(self, key, *elems):
        self._make(key, "hll", set()).update(elems)
        return SKIP

    def c_set(self, key, value):
        self.keys[key] = ["string", value, False]
        return Status("OK")

    def c_append(self, key, value):
        self._get(key, "string")
        e = self.keys.setdefault(key, ["string", b"", False])
        e[1] += value
        return len(e[1])

    def c_incr(self, key):
        self._get(key, "string")
        e = self.keys.get(key)
        v = int(e[1]) + 1 if e is not None else 1
        self.keys[key] = ["string", b"%d" % v, e[2] if e is not None else False]
        return v

    # keyspace
    def c_del(self, *keys):
        return sum(self.keys.pop(k, None) is not None for k in keys)

    def c_expire(self, key, seconds):
        e = self.keys.get(key)
        if e is None:
            return 0
        e[2] = True
        return 1

    def c_persist(self, key):
        e = self.keys.get(key)
        if e is None or not e[2]:
            return 0
        e[2] = False
        return 1

    def c_rename(self, src, dst):
        e = self.keys.pop(src, None)
        if e is None:
            return ErrPrefix("ERR no such key")
        self.keys[dst] = e
        return Status("OK")


def reply_matches(got, expected):
    if expected is SKIP:
        return not isinstance(got, Error)
    if isinstance(expected, ErrPrefix):
        return isinstance(got, Error) and got.startswith(expected)
    if isinstance(got, Error):
        return False
    if isinstance(expected, float):
        return isinstance(got, bytes) and float(got) == expected
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(reply_matches(g, e)
                                                 for g, e in zip(got, expected))
    return got == expected


# --------------------------------------------------------------------------------------
# The state as read back, per client

def bits_of(raw):
    """Offsets of the 1 bits of a bitmap's string form."""
    out = set()
    for i, byte in enumerate(raw or b""):
        if byte:
            for j in range(8):
                if byte & (0x80 >> j):
                    out.add(i * 8 + j)
    return out


def slice_of(n, key, kind, data):
    """Client n's part of a shared key's value."""
    if kind == "hash":
        suffix = b"%d" % n
        return {f: v for f, v in data.items() if f[1:] == suffix}
    if kind == "set":
        prefix = b"m%d:" % n
        return {m for m in data if m.startswith(prefix)}
    if kind == "zset":
        member = b"m%d" % n
        return {m: s for m, s in data.items() if m == member}
    if kind == "bitmap":
        lo = n * BITS_PER_CLIENT
        return {b for b in data if lo <= b < lo + BITS_PER_CLIENT}
    if kind == "list":
        prefix = b"%d:" % n
        return [e for e in data if e.startswith(prefix)]
    return None  # hll: only checked with PFADD (hll_lost)


def canonical(n, keys):
    """What the keys of client n must look like: {name: (kind, data, has_ttl)} for its own keys,
    {name: (kind, slice)} for the shared ones (absent when its slice is empty). HyperLogLogs
    count by kind only."""
    out = {}
    keys = copy.deepcopy(keys)
    for name, (kind, data, ttl) in keys.items():
        key = name.decode()
        if key.startswith("hot:"):
            part = slice_of(n, key, kind, data)
            if part:
                out[key] = (kind, part)
        else:
            out[key] = (kind, None if kind == "hll" else data, ttl)
    return out


def read_back(port, nclients):
    """Read every key of every client plus the shared keys. Returns (state, problems): state
    is {name: [kind, data, has_ttl]} as Model.keys holds them, problems the keys whose metadata
    disagrees with their contents."""
    names = [b"c%d:%s" % (n, k.encode()) for n in range(nclients) for k in OWN]
    names += [k.encode() for k in HOT]
    problems = []
    state = {}
    with RawConn(port, timeout=60) as c:
        listed = set(scan_all(c))
        unknown = listed - set(names)
        if unknown:
            problems.append("keys nobody wrote: %r" % sorted(unknown)[:10])
        c.send(b"".join(cmd("TYPE", k) + cmd("PTTL", k) for k in names))
        types = []
        for k in names:
            t, pttl = c.read(), c.read()
            types.append((k, t, pttl))
        for k, t, pttl in types:
            if t == "none":
                if k in listed:
                    problems.append("%r: listed by SCAN but TYPE none" % k)
                continue
            if k not in listed:
                problems.append("%r: TYPE %s but not listed by SCAN" % (k, t))
            kind, data = read_value(c, k, t, problems)
            if kind is not None:
                state[k] = [kind, data, pttl != -1]
    return state, problems


def scan_all(c):
    cursor = b"0"
    out = []
    while True:
        cursor, keys = c.call("SCAN", cursor, "COUNT", 1000)
        out.extend(keys)
        if cursor == b"0":
            return out


def read_value(c, k, t, problems):
    """(kind, data) of key k of TYPE t, after checking its metadata against its contents."""
    own = k.split(b":", 1)[1]
    if t == "hash":
        c.send(cmd("HGETALL", k) + cmd("HLEN", k))
        flat, n = c.read(), c.read()
        data = dict(zip(flat[0::2], flat[1::2]))
        if n != len(data) or n != len(flat) // 2 or n == 0:
            problems.append("%r: HLEN %s, HGETALL %d fields" % (k, n, len(flat) // 2))
        return "hash", data
    if t == "set":
        c.send(cmd("SMEMBERS", k) + cmd("SCARD", k))
        members, n = c.read(), c.read()
        data = set(members)
        if n != len(data) or n != len(members) or n == 0:
            problems.append("%r: SCARD %s, SMEMBERS %d" % (k, n, len(members)))
        return "set", data
    if t == "zset":
        c.send(cmd("ZRANGE", k, 0, -1, "WITHSCORES") + cmd("ZCARD", k) +
               cmd("ZCOUNT", k, "-inf", "+inf") +
               cmd("ZRANGEBYSCORE", k, "-inf", "+inf", "WITHSCORES"))
        flat, n, count, byscore = c.read(), c.read(), c.read(), c.read()
        data = {m: float(s) for m, s in zip(flat[0::2], flat[1::2])}
        if not (n == count == len(data) == len(flat) // 2 == len(byscore) // 2) or n == 0:
            problems.append("%r: ZCARD %s, ZCOUNT %s, ZRANGE %d, ZRANGEBYSCORE %d"
                            % (k, n, count, len(flat) // 2, len(byscore) // 2))
        if byscore != flat:
            problems.append("%r: ZRANGEBYSCORE differs from ZRANGE" % k)
        c.send(b"".join(cmd("ZSCORE", k, m) for m in data))
        for m, s in data.items():
            got = c.read()
            if got is None or float(got) != s:
                problems.append("%r: ZSCORE %r is %r, ZRANGE says %r" % (k, m, got, s))
        return "zset", data
    if t == "list":
        c.send(cmd("LRANGE", k, 0, -1) + cmd("LLEN", k) + cmd("LINDEX", k, 0) +
               cmd("LINDEX", k, -1))
        data, n, first, last = c.read(), c.read(), c.read(), c.read()
        if n != len(data) or n == 0 or first != data[0] or last != data[-1]:
            problems.append("%r: LLEN %s, LRANGE %d, LINDEX 0/-1 %r/%r"
                            % (k, n, len(data), first, last))
        return "list", data
    if t == "string":
        if own == b"p":
            return "hll", None  # hll_lost looks at the elements
        raw = c.call("GET", k)
        if own == b"b":
            data = bits_of(raw)
            n = c.call("BITCOUNT", k)
            if n != len(data):
                problems.append("%r: BITCOUNT %s, %d bits set in GET" % (k, n, len(data)))
            return "bitmap", data
        return "string", raw
    problems.append("%r: unexpected TYPE %r" % (k, t))
    return None, None


def hll_lost(port, model):
    """HyperLogLog elements of a client's model that the server does not have: PFADD of an
    element already counted changes no register and replies 0 (it writes nothing then)."""
    lost = []
    with RawConn(port, timeout=30) as c:
        for name, (kind, data, _) in model.keys.items():
            if kind != "hll":
                continue
            elems = sorted(data)
            c.send(b"".join(cmd("PFADD", name, e) for e in elems))
            for e in elems:
                if c.read() != 0:
                    lost.append((name, e))
    return lost


# --------------------------------------------------------------------------------------
# The clients

class Client(threading.Thread):
    """Sends pipelines of 1..4 operations (a command or a MULTI/EXEC block) on its keys until
    the connection breaks or stop() is called; `model` follows the acknowledged replies,
    `inflight` lists the operations sent without a reply when the connection broke."""

    def __init__(self, port, n, model, rng, *, big=1500, on_big_del=None):
        super().__init__(daemon=True, name="client-%d" % n)
        self.port = port
        self.n = n
        self.model = model
        self.rng = rng
        self.big = big
        self.on_big_del = on_big_del
        self.acked = 0
        self.inflight = []
        self.error = None  # what ended run(): the broken connection, or a failure
        self.failed = False  # a wrong reply or an unexpected exception (not the crash)
        self.stopping = False
        self.seq = 0
        self.big_gen = 0

    def k(self, name):
        return b"c%d:%s" % (self.n, name.encode())

    def stop(self):
        self.stopping = True

    # -- random operations: each is a list of commands (argv lists of bytes); more than one
    # -- command means a MULTI/EXEC block
    def _ops(self):
        r = self.rng
        n = self.n
        self.seq += 1
        s = self.seq
        h = self.k(r.choice(("h0", "h1")))
        st = self.k(r.choice(("s0", "s1")))
        z = self.k(r.choice(("z0", "z1")))
        lst = self.k(r.choice(("l0", "l1")))
        fields = [b"f%d" % r.randrange(40) for _ in range(r.randint(1, 3))]
        members = [b"m%d" % r.randrange(30) for _ in range(r.randint(1, 3))]
        return [
            (6, lambda: [b"HSET", h] + [x for f in fields for x in (f, b"v%d" % s)]),
            (3, lambda: [b"HDEL", h] + fields),
            (3, lambda: [b"HINCRBY", h, b"n%d" % r.randrange(5), b"%d" % r.randint(-9, 9)]),
            (5, lambda: [b"SADD", st] + members),
            (3, lambda: [b"SREM", st] + members),
            (3, lambda: [b"SMOVE", self.k("s0"), self.k("s1"), members[0]] if r.random() < 0.5
             else [b"SMOVE", self.k("s1"), self.k("s0"), members[0]]),
            (5, lambda: [b"ZADD", z, b"%d" % r.randint(-50, 50), members[0]]),
            (3, lambda: [b"ZINCRBY", z, b"%d" % r.randint(-5, 5), members[0]]),
            (2, lambda: [b"ZREM", z] + members),
            (2, lambda: [b"ZUNIONSTORE", self.k("zu"), b"2", self.k("z0"), self.k("z1")]),
            (4, lambda: [b"LPUSH", lst] + [b"e%d" % (s * 4 + i) for i in range(r.randint(1, 3))]),
            (4, lambda: [b"RPUSH", lst] + [b"e%d" % (s * 4 + i) for i in range(r.randint(1, 3))]),
            (3, lambda: [b"LPOP", lst] if r.random() < 0.5 else [b"LPOP", lst, b"2"]),
            (1, lambda: [b"LTRIM", lst, b"%d" % r.randint(-3, 1), b"%d" % r.randint(-2, 20)]),
            (4, lambda: [b"LMOVE", self.k("l0"), self.k("l1"), r.choice((b"LEFT", b"RIGHT")),
                         r.choice((b"LEFT", b"RIGHT"))] if r.random() < 0.5
             else [b"LMOVE", self.k("l1"), self.k("l0"), b"LEFT", b"RIGHT"]),
            (4, lambda: [b"SETBIT", self.k("b"),
                         b"%d" % (r.randrange(40000) if r.random() < 0.8 else r.randrange(300000)),
                         r.choice((b"0", b"1", b"1"))]),
            (2, lambda: [b"PFADD", self.k("p")] + [b"x%d" % r.randrange(5000) for _ in range(3)]),
            (2, lambda: [b"SET", self.k("str"), b"s%d-" % s * r.randint(1, 40)]),
            (1, lambda: [b"APPEND", self.k("str"), b"a%d" % s]),
            # now and then a value that fills a worker's stage at once (committed mid-round)
            (1, lambda: [b"SET", self.k("str"), b"%d" % s * (r.randint(100, 300) << 10)]
             if r.random() < 0.1 else [b"ZPOPMIN", z]),
            (2, lambda: [b"INCR", self.k("cnt")]),
            (2, lambda: [b"EXPIRE", self.k(r.choice(OWN)), b"100000"]),
            (2, lambda: [b"PERSIST", self.k(r.choice(OWN))]),
            (1, lambda: [b"RENAME", self.k("r0"), self.k("r1")] if r.random() < 0.9
             else [b"RENAME", self.k("big"), self.k("r1")]),
            (2, lambda: r.choice((
                [b"HSET", self.k("r0"), b"a", b"%d" % s],
                [b"SET", self.k("r0"), b"%d" % s],
            )) if self.k("r0") not in self.model.keys or r.random() < 0.3 else
                [b"DEL", self.k("r0")]),
            # the shared keys: this client's field, members, bits and list elements
            (3, lambda: [b"HINCRBY", b"hot:h", b"n%d" % n, b"%d" % r.randint(1, 5)]),
            (2, lambda: [b"HSET", b"hot:h", b"f%d" % n, b"%d" % s]),
            (1, lambda: [b"HDEL", b"hot:h", b"f%d" % n]),
            (2, lambda: [b"SADD", b"hot:s", b"m%d:%d" % (n, r.randrange(20))]),
            (2, lambda: [b"SREM", b"hot:s", b"m%d:%d" % (n, r.randrange(20))]),
            (3, lambda: [b"ZINCRBY", b"hot:z", b"1", b"m%d" % n]),
            (2, lambda: [b"SETBIT", b"hot:b", b"%d" % (n * BITS_PER_CLIENT + r.randrange(64)),
                         r.choice((b"0", b"1"))]),
            (2, lambda: [b"RPUSH", b"hot:l", b"%d:%d" % (n, s)]),
            (1, lambda: [b"PFADD", b"hot:p", b"%d:%d" % (n, s)]),
        ]

    def _pick(self):
        ops = self._ops()
        total = sum(w for w, _ in ops)
        x = self.rng.randrange(total)
        for w, make in ops:
            if x < w:
                return make()
            x -= w
        raise AssertionError("unreachable")

    def next_op(self):
        """A list of commands: one command, a MULTI/EXEC block, or the big collection's turn."""
        r = self.rng.random()
        if r < 0.12:
            return [self._pick() for _ in range(self.rng.randint(2, 6))]
        if r < 0.14:
            return [self._big_step()]
        return [self._pick()]

    def _big_step(self):
        """Fill the big collection in chunks of 500; once it has self.big elements, DEL it."""
        key = self.k("big")
        e = self.model.keys.get(key)
        if e is not None and len(e[1]) >= self.big:
            self.big_gen += 1
            return [b"DEL", key]
        kind = e[0] if e is not None else ("hash", "set", "zset", "list")[self.big_gen % 4]
        base = len(e[1]) if e is not None else 0
        items = range(base, base + 500)
        if kind == "hash":
            return [b"HSET", key] + [x for i in items for x in (b"f%d" % i, b"v%d" % i)]
        if kind == "set":
            return [b"SADD", key] + [b"m%d" % i for i in items]
        if kind == "zset":
            return [b"ZADD", key] + [x for i in items for x in (b"%d" % i, b"m%d" % i)]
        return [b"RPUSH", key] + [b"e%d" % i for i in items]

    @staticmethod
    def encode(op):
        if len(op) == 1:
            return cmd(*op[0])
        return cmd("MULTI") + b"".join(cmd(*a) for a in op) + cmd("EXEC")

    def _read_op(self, conn, op):
        """Read op's reply (for a block: +OK, +QUEUED..., then EXEC's array) and apply op to
        the model."""
        if len(op) == 1:
            got = conn.read()
            expected = self.model.apply(op[0])
        else:
            for i in range(len(op) + 1):
                got = conn.read()
                if got != Status("QUEUED" if i else "OK"):
                    raise AssertionError("client %d: %r in MULTI got %r" % (self.n, op, got))
            got = conn.read()
            expected = [self.model.apply(a) for a in op]
        if not reply_matches(got, expected):
            raise AssertionError("client %d: %r got %r, the model says %r"
                                 % (self.n, op, got, expected))

    def run(self):
        conn = None
        pending = []
        try:
            conn = RawConn(self.port, timeout=30)
            while not self.stopping:
                pending = [self.next_op() for _ in range(self.rng.randint(1, 4))]
                big_del = any(op[0][0] == b"DEL" and op[0][1] == self.k("big") for op in pending)
                conn.send(b"".join(self.encode(op) for op in pending))
                if big_del and self.on_big_del is not None:
                    self.on_big_del()
                while pending:
                    self._read_op(conn, pending[0])
                    pending.pop(0)
                    self.acked += 1
        except (OSError, ConnectionClosed) as exc:
            self.inflight = pending
            self.error = exc  # the server went away: expected
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.inflight = pending
            self.error = exc
            self.failed = True
        finally:
            if conn is not None:
                conn.close()


# --------------------------------------------------------------------------------------
# Rounds

def settle(port, clients, round_name, split_exec=False):
    """After a restart: each client's keys must be its model plus a prefix of its unanswered
    operations. Returns the models to continue from. split_exec: count each command of an
    unanswered MULTI/EXEC block as an operation of its own (to tell other failures apart)."""
    state, problems = read_back(port, len(clients))
    assert problems == [], "%s: metadata disagrees with contents:\n%s" % (
        round_name, "\n".join(problems))
    models = []
    for c in clients:
        actual = canonical(c.n, {k: v for k, v in state.items()
                                 if k.startswith(b"c%d:" % c.n) or k.startswith(b"hot:")})
        candidate = c.model.clone()
        found = None
        tried = []
        inflight = [[a] for op in c.inflight for a in op] if split_exec else c.inflight
        for i in range(len(inflight) + 1):
            if i > 0:
                for a in inflight[i - 1]:
                    candidate.apply(a)
            want = canonical(c.n, candidate.keys)
            if want == actual:
                found = candidate.clone()
                break
            tried.append(want)
        assert found is not None, (
            "%s: client %d's keys match neither its acknowledged state nor any prefix of its "
            "%d unanswered operations %r\n%s" % (
                round_name, c.n, len(c.inflight), c.inflight, describe_diff(tried, actual)))
        assert hll_lost(port, c.model) == [], round_name
        models.append(found)
    return models


def describe_diff(tried, actual):
    lines = []
    for i, want in enumerate(tried):
        bad = sorted(k for k in set(want) | set(actual) if want.get(k) != actual.get(k))
        lines.append("after %d unanswered: differs in %s" % (i, bad))
        for k in bad[:4]:
            lines.append("    %s: expected %.300r, found %.300r" % (k, want.get(k),
                                                                   actual.get(k)))
    return "\n".join(lines)


class Round:
    """One round of clients against a started server."""

    def __init__(self, server, models, rngs, *, big=1500, on_big_del=None):
        self.server = server
        self.clients = [Client(server.port, n, models[n], rngs[n], big=big,
                               on_big_del=on_big_del) for n in range(len(models))]

    def start(self):
        for c in self.clients:
            c.start()

    def acked(self):
        return sum(c.acked for c in self.clients)

    def wait_acked(self, n):
        wait_until(lambda: self.acked() >= n or any(c.failed for c in self.clients),
                   timeout=60, msg="%d acknowledged operations" % n)
        self.check_alive()

    def check_alive(self):
        for c in self.clients:
            assert not c.failed, "client %d failed: %r" % (c.n, c.error)
            assert c.is_alive(), "client %d ended early: %r" % (c.n, c.error)

    def join(self):
        for c in self.clients:
            c.join(scaled(30))
            assert not c.is_alive(), "client %d did not stop" % c.n
            assert not c.failed, "client %d failed: %r" % (c.n, c.error)
        return sum(c.acked for c in self.clients)


NCLIENTS = 5


def run_rounds(server, kill_points, seed):
    """Run one round per kill point on `server` (started); returns the operations
    acknowledged."""
    models = [Model() for _ in range(NCLIENTS)]
    rngs = [random.Random(seed * 1000 + n) for n in range(NCLIENTS)]
    total = 0
    for point in kill_points:
        name = "round %r (seed %d)" % (point, seed)
        big_deleted = threading.Event()
        if point == "after-flushdb":
            with RawConn(server.port) as c:
                assert c.call("FLUSHDB") == Status("OK")
            models = [Model() for _ in range(NCLIENTS)]
        rnd = Round(server, models, rngs, on_big_del=big_deleted.set)
        rnd.start()
        if point == "early":
            rnd.wait_acked(20)
        elif point == "mid-stream":
            rnd.wait_acked(1500)
        elif point == "after-compact":
            rnd.wait_acked(300)
            with RawConn(server.port, timeout=60) as c:
                assert c.call("COMPACT") == Status("OK")
        elif point == "after-flushdb":
            rnd.wait_acked(200)
        elif point == "during-big-del":
            # A big DEL is sent now and then; kill right after one is on its way.
            rnd.wait_acked(100)
            big_deleted.clear()
            wait_until(lambda: big_deleted.is_set() or any(c.failed for c in rnd.clients),
                       timeout=60, msg="a DEL of a big collection")
        elif point == "sigterm":
            rnd.wait_acked(800)
        rnd.check_alive()
        if point == "sigterm":
            server.stop()
        else:
            server.kill9()
        total += rnd.join()
        server.start()
        models = settle(server.port, rnd.clients, name)
    # the server keeps serving and persisting after the last restart
    rnd = Round(server, models, rngs)
    rnd.start()
    rnd.wait_acked(100)
    for c in rnd.clients:
        c.stop()
    total += rnd.join()
    server.restart(kill9=True)
    settle(server.port, rnd.clients, "final round (seed %d)" % seed)
    return total


SEEDS = int(os.environ.get("KVROCKS_CRASH_SEEDS", "1"))


@pytest.mark.timeout(240 * SEEDS)
def test_every_type_survives_kill9_rounds(server_factory):
    for seed in range(1, SEEDS + 1):
        server = server_factory(config=SMALL_ROCKSDB, name="kill9-seed%d" % seed)
        total = run_rounds(server, ["early", "mid-stream", "after-compact", "after-flushdb",
                                    "during-big-del", "mid-stream", "during-big-del",
                                    "after-compact"], seed=seed)
        assert total > 4000
        server.stop()


@pytest.mark.timeout(120 * SEEDS)
def test_every_type_survives_sigterm_restart(server_factory):
    for seed in range(1, SEEDS + 1):
        server = server_factory(name="sigterm-seed%d" % seed)
        total = run_rounds(server, ["sigterm", "sigterm"], seed=1000 + seed)
        assert total > 1500
        server.stop()


# --------------------------------------------------------------------------------------
# A transaction caught in the middle

# Keys a transaction changes, each of another type, and what they hold before it. x:big is a
# big hash it deletes; x:r is renamed to x:r2; x:s and x:l give an element each to x:s2 and x:l2.
TXN_BEFORE = [
    ("HSET", "x:h", "f", "0"),
    ("SADD", "x:s", "m1", "m2"),
    ("ZADD", "x:z", "1", "a"),
    ("RPUSH", "x:l", "a", "b", "c"),
    ("SETBIT", "x:b", "3", "1"),
    ("SET", "x:str", "before"),
    ("SET", "x:cnt", "10"),
    ("HSET", "x:r", "f", "r"),
    ("HSET", "x:big") + tuple(x for i in range(2000) for x in ("f%d" % i, "v")),
]
TXN_FIRST = [  # before the sleep
    ("HSET", "x:h", "f", "1", "g", "1"),
    ("SADD", "x:s", "m3"),
    ("ZINCRBY", "x:z", "5", "a"),
    ("RPUSH", "x:l", "d"),
    ("SMOVE", "x:s", "x:s2", "m1"),
    ("LMOVE", "x:l", "x:l2", "LEFT", "RIGHT"),
    ("DEL", "x:big"),
    ("SETBIT", "x:b", "100000", "1"),
]
TXN_LAST = [  # after it
    ("PFADD", "x:p", "e1", "e2"),
    ("SET", "x:str", "after"),
    ("INCR", "x:cnt"),
    ("ZADD", "x:z", "2", "b"),
    ("HDEL", "x:h", "f"),
    ("RENAME", "x:r", "x:r2"),
    ("EXPIRE", "x:l", "100000"),
    ("HSET", "x:big", "new", "1"),
]
TXN_KEYS = ["x:h", "x:s", "x:s2", "x:z", "x:l", "x:l2", "x:b", "x:str", "x:cnt", "x:r", "x:r2",
            "x:big", "x:p"]


def txn_state(port):
    """What the transaction's keys hold: {key: (type, value, has_ttl)}."""
    out = {}
    with RawConn(port, timeout=30) as c:
        for k in TXN_KEYS:
            t = c.call("TYPE", k)
            if t == "none":
                continue
            if k == "x:big":
                v = c.call("HLEN", k)
            elif t == "hash":
                v = sorted(c.call("HGETALL", k))
            elif t == "set":
                v = sorted(c.call("SMEMBERS", k))
            elif t == "zset":
                v = c.call("ZRANGE", k, 0, -1, "WITHSCORES")
            elif t == "list":
                v = c.call("LRANGE", k, 0, -1)
            elif k == "x:p":
                v = c.call("PFCOUNT", k)
            elif k == "x:b":
                v = sorted(bits_of(c.call("GET", k)))
            else:
                v = c.call("GET", k)
            out[k] = (t, v, c.call("PTTL", k) != -1)
    return out


def txn_diff(before, after, found):
    """The keys whose state after the restart differs from before or after the transaction."""
    lines = []
    for k in TXN_KEYS:
        b, a, f = before.get(k), after.get(k), found.get(k)
        if not b == a == f:
            lines.append("%s: before %r, after %r, found %r" % (k, b, a, f))
    return "\n".join(lines)


def run_interrupted_exec(server_factory, stop):
    """Start a transaction that sleeps in the middle (DEBUG SLEEP) on a server holding
    TXN_BEFORE, stop the server with stop(server) while it sleeps, restart it. Returns the
    states before the transaction, after it (on a second server that ran it whole) and after
    the restart."""
    whole = server_factory(workers=4, name="whole")
    server = server_factory(workers=4, name="interrupted")
    for s in (whole, server):
        with RawConn(s.port) as c:
            for a in TXN_BEFORE:
                assert not isinstance(c.call(*a), Error), a
    before = txn_state(server.port)
    with RawConn(whole.port, timeout=30) as c:
        c.send(cmd("MULTI") + b"".join(cmd(*a) for a in TXN_FIRST + TXN_LAST) + cmd("EXEC"))
        for _ in range(len(TXN_FIRST + TXN_LAST) + 1):
            c.read()
        replies = c.read()
        assert not any(isinstance(r, Error) for r in replies), replies
    after = txn_state(whole.port)
    assert after != before
    # The transaction publishes when it gets to its sleep; a subscriber on another worker than
    # the transaction's gets the message at once (with 4 workers, one of 8 subscribers is on
    # another worker except with probability 4^-8; then the stop comes after the transaction,
    # which is allowed too).
    subscribers = [RawConn(server.port, timeout=30) for _ in range(8)]
    for sub in subscribers:
        assert sub.call("SUBSCRIBE", "txn") == [b"subscribe", b"txn", 1]
    txn = RawConn(server.port, timeout=60)
    txn.send(cmd("MULTI") + b"".join(cmd(*a) for a in TXN_FIRST) +
             cmd("PUBLISH", "txn", "sleeping") + cmd("DEBUG", "SLEEP", 30) +
             b"".join(cmd(*a) for a in TXN_LAST))
    for _ in range(len(TXN_FIRST + TXN_LAST) + 3):
        txn.read()
    txn.send(cmd("EXEC"))

    def published():
        for sub in subscribers:
            try:
                if sub.read(timeout=0.05) == [b"message", b"txn", b"sleeping"]:
                    return True
            except OSError:
                pass
        return False

    wait_until(published, timeout=30, msg="the transaction's PUBLISH")
    stop(server)
    for sub in subscribers + [txn]:
        sub.close()
    server.start()
    return before, after, txn_state(server.port)


@pytest.mark.needs_debug
def test_exec_killed_in_the_middle_is_all_or_nothing(server_factory):
    """kill -9 while EXEC runs: none of its writes survive, or all of them, never the first
    half (each queued command used to be written on its own)."""
    before, after, found = run_interrupted_exec(server_factory, lambda s: s.kill9())
    assert found in (before, after), "half-applied EXEC:\n" + txn_diff(before, after, found)


@pytest.mark.needs_debug
def test_exec_in_flight_at_sigterm_completes(server_factory):
    """SIGTERM while EXEC runs: the server finishes the transaction before it exits (DEBUG SLEEP
    gives up at shutdown), so all of it is there after the restart."""
    before, after, found = run_interrupted_exec(server_factory, lambda s: s.stop())
    assert found == after, "EXEC at SIGTERM:\n" + txn_diff(before, after, found)
