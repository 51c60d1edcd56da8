# SPDX-License-Identifier: Apache-2.0
"""Sorted set commands, differentially against Debian's redis-server 7.0: a fixed script of
edge cases and errors, a seeded random stream of a few thousand commands over every zset
command (options, errors, wrong types, sets as inputs), and RESP3 byte-for-byte shapes.

What cannot match and is compared loosely: ZRANDMEMBER (random: reply type and length),
ZSCAN (our cursor pages by COUNT; with a COUNT larger than the zset both answer in one
call, compared as a set of pairs). ZRANK/ZREVRANK WITHSCORE is Redis 7.2 (7.0 refuses it)
and is not sent. Lexicographic commands only run on a zset whose members share one score,
the only case Redis defines.
"""
import random

import pytest

from helpers.diff import Cmd, ErrorReply, assert_same_replies, diff_replies, format_mismatches
from raw_resp import RawConn

pytestmark = pytest.mark.needs_redis

# --------------------------------------------------------------------------------------
# Loose comparisons


def _randmember_same(a, b):
    """ZRANDMEMBER: the same kind of reply with the same length."""
    if isinstance(a, ErrorReply) or isinstance(b, ErrorReply) or a is None or b is None:
        return a == b
    if isinstance(a, bytes):
        return isinstance(b, bytes)
    return isinstance(b, list) and len(a) == len(b)


def _randmember_all(a, b):
    """ZRANDMEMBER with a count covering the zset: the whole zset, any order."""
    if not (isinstance(a, list) and isinstance(b, list)):
        return a == b
    return sorted(a) == sorted(b)


def _randmember_pairs_all(a, b):
    if not (isinstance(a, list) and isinstance(b, list)) or len(a) % 2 or len(b) % 2:
        return a == b
    return sorted(zip(a[0::2], a[1::2])) == sorted(zip(b[0::2], b[1::2]))


def _scan_same(a, b):
    """ZSCAN answered in one call: cursor 0 and the same (member, score) pairs."""
    if not (isinstance(a, list) and isinstance(b, list)):
        return a == b
    if a[0] != b[0]:
        return False
    fa, fb = a[1], b[1]
    return sorted(zip(fa[0::2], fa[1::2])) == sorted(zip(fb[0::2], fb[1::2]))


# --------------------------------------------------------------------------------------
# Fixed script

FIXED = [
    ["ZADD", "z", "1", "a", "2", "b", "3.5", "c", "-0", "d", "inf", "e", "-inf", "f"],
    ["ZSCORE", "z", "d"], ["ZSCORE", "z", "e"], ["ZSCORE", "z", "nosuch"],
    ["ZADD", "z", "0x10", "hex"], ["ZADD", "z", "1e-310", "tiny"], ["ZSCORE", "z", "tiny"],
    ["ZADD", "z", "1e400", "x"], ["ZADD", "z", "1e-400", "x"], ["ZADD", "z", " 1", "x"],
    ["ZADD", "z", "nan", "x"], ["ZADD", "z", "abc", "x"], ["ZADD", "z", "", "x"],
    ["ZADD", "z", "NX", "XX", "1", "a"], ["ZADD", "z", "GT", "LT", "1", "a"],
    ["ZADD", "z", "NX", "GT", "1", "a"], ["ZADD", "z", "INCR", "1", "a", "2", "b"],
    ["ZADD", "z", "NX", "1"], ["ZADD", "z", "1", "a", "2"], ["ZADD", "z", "XX", "NX", "1"],
    ["ZADD", "z", "XX", "CH", "5", "a", "6", "new"], ["ZADD", "z", "NX", "CH", "7", "a", "8", "n2"],
    ["ZADD", "z", "GT", "CH", "1", "a", "9", "b"], ["ZADD", "z", "LT", "CH", "1", "a", "99", "b"],
    ["ZADD", "z", "1", "dup", "2", "dup", "3", "dup"], ["ZSCORE", "z", "dup"],
    ["ZADD", "z", "CH", "1", "dup2", "2", "dup2"],
    ["ZADD", "z", "INCR", "1", "a"], ["ZADD", "z", "INCR", "XX", "1", "nosuch"],
    ["ZADD", "z", "INCR", "NX", "1", "a"], ["ZADD", "z", "INCR", "GT", "-1", "a"],
    ["ZADD", "z", "INCR", "LT", "-1", "a"], ["ZADD", "z", "INCR", "0", "a"],
    ["ZADD", "inc", "INCR", "inf", "m"], ["ZADD", "inc", "INCR", "-inf", "m"],
    ["ZINCRBY", "inc", "-inf", "m"], ["ZINCRBY", "inc", "1", "m"], ["ZINCRBY", "inc", "x", "m"],
    ["ZINCRBY", "inc", "nx", "m"], ["ZINCRBY", "new", "-0", "m"], ["ZSCORE", "new", "m"],
    ["ZADD", "nokey", "XX", "1", "a"], ["EXISTS", "nokey"],
    ["ZADD", "nokey", "XX", "INCR", "1", "a"], ["EXISTS", "nokey"],
    ["ZCARD", "z"], ["ZCARD", "nosuch"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "-3", "-1"],
    ["ZRANGE", "z", "5", "2"], ["ZRANGE", "z", "-100", "100"], ["ZRANGE", "z", "100", "200"],
    ["ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"], ["ZREVRANGE", "z", "1", "3", "WITHSCORES"],
    ["ZRANGE", "z", "x", "1"], ["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
    ["ZRANGE", "z", "0", "1", "REV", "REV"], ["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
    ["ZRANGE", "z", "0", "1", "WITHSCORES", "WITHSCORES"],
    ["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "1", "2", "WITHSCORES"],
    ["ZRANGE", "z", "+inf", "(1", "BYSCORE", "REV", "LIMIT", "0", "3"],
    ["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"], ["ZRANGE", "z", "0", "1", "LIMIT", "1"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"],
    ["ZRANGEBYSCORE", "z", "(", "(5"], ["ZRANGEBYSCORE", "z", "", " 2"],
    ["ZRANGEBYSCORE", "z", "(1", "1 "], ["ZRANGEBYSCORE", "z", "1e-400", "1e400"],
    ["ZRANGEBYSCORE", "z", "(nan", "1"], ["ZRANGEBYSCORE", "z", "0\x001", "2"],
    ["ZRANGEBYSCORE", "z", "2", "1"], ["ZRANGEBYSCORE", "z", "(2", "2"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "-1"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "0"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "100", "1"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "BYSCORE"], ["ZREVRANGE", "z", "0", "1", "REV"],
    ["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES", "LIMIT", "1", "3"],
    ["ZREVRANGEBYSCORE", "z", "(3.5", "(-inf"], ["ZREVRANGEBYSCORE", "z", "1", "2"],
    ["ZCOUNT", "z", "-inf", "+inf"], ["ZCOUNT", "z", "(1", "(3.5"], ["ZCOUNT", "z", "-", "1"],
    ["ZCOUNT", "nosuch", "0", "1"], ["ZCOUNT", "z", "inf", "-inf"],
    ["ZRANK", "z", "c"], ["ZREVRANK", "z", "c"], ["ZRANK", "z", "nosuch"],
    ["ZRANK", "nosuch", "a"], ["ZRANK", "z", "f"], ["ZREVRANK", "z", "e"],
    ["ZMSCORE", "z", "a", "nosuch", "e"], ["ZMSCORE", "nosuch", "a", "b"],
    ["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "", "0", "ab"],
    ["ZRANGEBYLEX", "lex", "-", "+"], ["ZRANGEBYLEX", "lex", "[b", "(d"],
    ["ZRANGEBYLEX", "lex", "(", "+"], ["ZRANGEBYLEX", "lex", "[", "[a"],
    ["ZRANGEBYLEX", "lex", "+", "-"], ["ZRANGEBYLEX", "lex", "-", "-"],
    ["ZRANGEBYLEX", "lex", "(a", "(a"], ["ZRANGEBYLEX", "lex", "[a", "[a"],
    ["ZRANGEBYLEX", "lex", "a", "+"], ["ZRANGEBYLEX", "lex", "", "+"],
    ["ZRANGEBYLEX", "lex", "+x", "+"], ["ZRANGEBYLEX", "lex", "-\x00", "+"],
    ["ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "1", "2"],
    ["ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "-1", "2"],
    ["ZRANGEBYLEX", "lex", "-", "+", "WITHSCORES"],
    ["ZREVRANGEBYLEX", "lex", "+", "-", "LIMIT", "1", "3"],
    ["ZREVRANGEBYLEX", "lex", "(d", "[b"], ["ZRANGE", "lex", "[e", "(b", "BYLEX", "REV"],
    ["ZLEXCOUNT", "lex", "-", "+"], ["ZLEXCOUNT", "lex", "(a", "[c"],
    ["ZLEXCOUNT", "lex", "1", "2"], ["ZLEXCOUNT", "nosuch", "-", "+"],
    ["ZREMRANGEBYLEX", "lex", "[b", "[c"], ["ZREMRANGEBYLEX", "lex", "x", "[c"],
    ["ZREMRANGEBYLEX", "nosuch", "x", "[c"], ["ZRANGE", "lex", "0", "-1"],
    ["ZREMRANGEBYRANK", "lex", "0", "0"], ["ZREMRANGEBYRANK", "lex", "-1", "-1"],
    ["ZREMRANGEBYRANK", "lex", "x", "1"], ["ZREMRANGEBYRANK", "lex", "5", "1"],
    ["ZREMRANGEBYSCORE", "lex", "(0", "+inf"], ["ZREMRANGEBYSCORE", "lex", "x", "1"],
    ["ZREMRANGEBYSCORE", "lex", "-inf", "+inf"], ["EXISTS", "lex"],
    ["ZREM", "z", "a", "a", "nosuch"], ["ZREM", "nosuch", "a"],
    ["ZPOPMIN", "z"], ["ZPOPMAX", "z", "2"], ["ZPOPMIN", "z", "0"], ["ZPOPMIN", "z", "-1"],
    ["ZPOPMIN", "z", "x"], ["ZPOPMIN", "z", "1", "2"], ["ZPOPMIN", "nosuch"],
    ["ZPOPMIN", "nosuch", "0"], ["ZPOPMAX", "nosuch", "-1"],
    ["ZADD", "m1", "1", "a", "2", "b", "3", "c"], ["ZADD", "m2", "4", "d"],
    ["ZMPOP", "2", "nosuch", "m1", "MIN"], ["ZMPOP", "2", "m1", "m2", "MAX", "COUNT", "10"],
    ["EXISTS", "m1"], ["ZMPOP", "1", "m1", "MIN"], ["ZMPOP", "0", "m1", "MIN"],
    ["ZMPOP", "x", "m1", "MIN"], ["ZMPOP", "3", "m1", "MIN"], ["ZMPOP", "1", "m1", "FOO"],
    ["ZMPOP", "1", "m1", "MIN", "COUNT", "0"], ["ZMPOP", "1", "m1", "MIN", "COUNT", "x"],
    ["ZMPOP", "1", "m1", "MIN", "COUNT", "1", "COUNT", "1"], ["ZMPOP", "1", "m1", "MIN", "X"],
    ["ZMPOP", "9223372036854775807", "m1", "MIN"], ["ZMPOP", "-1", "m1", "MIN"],
    ["ZADD", "m1", "1", "a"], ["BZPOPMIN", "nosuch", "m1", "0"], ["BZPOPMAX", "m1", "x"],
    ["BZPOPMAX", "m1", "-1"], ["BZMPOP", "0", "0", "m1", "MIN"], ["BZMPOP", "x", "1", "m1", "MIN"],
    ["BZMPOP", "x", "0", "m1", "MIN"], ["BZMPOP", "0.01", "1", "m1", "MIN", "COUNT", "x"],
    ["ZADD", "m1", "1", "a"], ["BZMPOP", "0", "1", "m1", "MAX", "COUNT", "2"],
    ["SET", "str", "v"], ["ZADD", "str", "1", "a"], ["ZSCORE", "str", "a"], ["ZCARD", "str"],
    ["ZRANGE", "str", "0", "1"], ["ZRANGE", "str", "x", "1"], ["ZRANK", "str", "a"],
    ["ZPOPMIN", "str"], ["ZPOPMIN", "str", "-1"], ["ZMPOP", "2", "nosuch", "str", "MIN"],
    ["ZMPOP", "2", "str", "nosuch", "MIN"], ["BZPOPMIN", "str", "0"],
    ["ZREM", "str", "a"], ["ZCOUNT", "str", "0", "1"], ["ZCOUNT", "str", "x", "1"],
    ["ZSCAN", "str", "0"], ["ZRANDMEMBER", "str"], ["ZRANDMEMBER", "str", "2"],
    ["ZINCRBY", "str", "1", "a"], ["ZUNION", "1", "str"], ["ZUNION", "1", "str", "BAD"],
    ["ZUNION", "2", "str"], ["ZRANGESTORE", "d", "str", "0", "-1"],
    ["ZADD", "x", "1", "a", "2", "b", "3", "c"], ["ZADD", "y", "1", "b", "2", "c", "3", "d"],
    ["SADD", "s", "a", "d", "e"],
    ["ZUNION", "2", "x", "y", "WITHSCORES"], ["ZUNION", "3", "x", "y", "s", "WITHSCORES"],
    ["ZINTER", "2", "x", "y", "WEIGHTS", "2", "3", "AGGREGATE", "MAX", "WITHSCORES"],
    ["ZINTER", "2", "x", "s", "WITHSCORES"], ["ZDIFF", "2", "x", "y", "WITHSCORES"],
    ["ZDIFF", "2", "s", "x", "WITHSCORES"], ["ZDIFF", "1", "nosuch"],
    ["ZUNION", "1", "x", "WEIGHTS", "-1", "WITHSCORES"],
    ["ZUNION", "2", "x", "y", "WEIGHTS", "inf", "-inf", "WITHSCORES"],
    ["ZUNION", "2", "x", "y", "WEIGHTS", "0", "inf", "AGGREGATE", "MIN", "WITHSCORES"],
    ["ZUNION", "1", "x", "WEIGHTS"], ["ZUNION", "1", "x", "WEIGHTS", "nan"],
    ["ZUNION", "1", "x", "WEIGHTS", "x"], ["ZUNION", "1", "x", "AGGREGATE", "foo"],
    ["ZUNION", "1", "x", "AGGREGATE"], ["ZUNION", "1", "x", "WITHSCORES", "WITHSCORES"],
    ["ZUNION", "0", "x"], ["ZUNION", "-1", "x"], ["ZUNION", "a", "x"], ["ZUNION", "3", "x"],
    ["ZUNION", "9223372036854775807", "x"], ["ZUNION", "1", "x", "LIMIT", "1"],
    ["ZDIFF", "2", "x", "y", "WEIGHTS", "1", "1"], ["ZDIFF", "2", "x", "y", "AGGREGATE", "SUM"],
    ["ZUNIONSTORE", "dst", "2", "x", "y"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "dst", "2", "x", "y", "WITHSCORES"],
    ["ZINTERSTORE", "dst", "2", "x", "y", "AGGREGATE", "MIN"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["ZDIFFSTORE", "dst", "2", "x", "x"],
    ["EXISTS", "dst"], ["ZDIFFSTORE", "dst", "1", "x", "WITHSCORES"],
    ["ZUNIONSTORE", "x", "2", "x", "y"], ["ZRANGE", "x", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "str", "1", "y"], ["TYPE", "str"], ["ZUNIONSTORE", "dst", "0", "x"],
    ["ZINTERCARD", "2", "x", "y"], ["ZINTERCARD", "2", "x", "y", "LIMIT", "1"],
    ["ZINTERCARD", "2", "x", "y", "LIMIT", "0"], ["ZINTERCARD", "1", "x", "LIMIT", "-1"],
    ["ZINTERCARD", "1", "x", "LIMIT", "x"], ["ZINTERCARD", "1", "x", "WITHSCORES"],
    ["ZINTERCARD", "0", "x"], ["ZINTERCARD", "1", "x", "LIMIT", "1", "LIMIT", "2"],
    ["ZINTERCARD", "2", "x", "s"],
    ["ZRANGESTORE", "d2", "x", "0", "1"], ["ZRANGE", "d2", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "d2", "x", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1"],
    ["ZRANGESTORE", "d2", "x", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "d2", "x", "5", "9"],
    ["EXISTS", "d2"], ["ZRANGESTORE", "d2", "nosuch", "0", "-1"],
    ["ZRANDMEMBER", "x", "0"], ["ZRANDMEMBER", "nosuch", "0"], ["ZRANDMEMBER", "x", "x"],
    ["ZRANDMEMBER", "x", "1", "WITHSCORES", "x"], ["ZRANDMEMBER", "x", "1", "FOO"],
    ["ZRANDMEMBER", "x", "-9223372036854775808"],
    ["ZRANDMEMBER", "x", "9223372036854775807", "WITHSCORES"],
    Cmd(["ZRANDMEMBER", "x", "100"], compare=_randmember_all),
    Cmd(["ZRANDMEMBER", "x", "100", "WITHSCORES"], compare=_randmember_pairs_all),
    Cmd(["ZRANDMEMBER", "x", "-5", "WITHSCORES"], compare=_randmember_same),
    ["ZSCAN", "x", "x"], ["ZSCAN", "x", "0", "COUNT", "0"], ["ZSCAN", "x", "0", "MATCH"],
    ["ZSCAN", "nosuch", "0", "COUNT", "0"], ["ZSCAN", "x", "0", "FOO", "bar"],
    Cmd(["ZSCAN", "x", "0"], compare=_scan_same),
    Cmd(["ZSCAN", "x", "0", "MATCH", "[ab]*", "COUNT", "100"], compare=_scan_same),
    ["DEL", "big"], ["ZADD", "big", "100000000000000000", "a", "0.1", "b", "-4e18", "c",
                     "5e18", "d", "123456789012345678", "e", "inf", "f"],
    Cmd(["ZSCAN", "big", "0"], compare=_scan_same), ["ZRANGE", "big", "0", "-1", "WITHSCORES"],
]


def test_fixed_script(server, redis_ref):
    assert_same_replies(server.client(), redis_ref.client(), FIXED)


# --------------------------------------------------------------------------------------
# Random commands

ZKEYS = ["z1", "z2", "z3", "dst"]
MEMBERS = ["a", "b", "c", "d", "e", "f", "g", "h", "", "member-with-a-longer-name", "\x00\xff"]
SCORES = ["0", "1", "-1", "2", "3.5", "-2.5", "10", "0.5", "1e2", "inf", "-inf", "+inf", "-0"]
BAD_SCORES = ["abc", "nan", "", "1e400", "1 "]
RANGE = ["0", "1", "-1", "2", "(1", "(0", "-inf", "+inf", "(-inf", "(+inf", "(2.5", "3.5",
         "(3.5", "10", "(10"]
BAD_RANGE = ["x", "((1", "nan", "1x"]
LEX = ["-", "+", "[a", "(a", "[c", "(c", "[e", "(h", "[", "(", "[zz"]
BAD_LEX = ["a", "", "+x", "x"]
INTS = ["0", "1", "-1", "2", "-2", "3", "5", "-5", "100", "-100"]
BAD_INTS = ["x", "1.5", ""]
WEIGHTS = ["1", "2", "-1", "0.5", "0", "inf"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def pick(self, seq):
        return self.r.choice(seq)

    def chance(self, p):
        return self.r.random() < p

    def key(self):
        return self.pick(ZKEYS) if not self.chance(0.05) else self.pick(["str", "s1", "nokey"])

    def member(self):
        return self.pick(MEMBERS)

    def score(self):
        return self.pick(BAD_SCORES) if self.chance(0.03) else self.pick(SCORES)

    def rng(self):
        return self.pick(BAD_RANGE) if self.chance(0.03) else self.pick(RANGE)

    def lex(self):
        return self.pick(BAD_LEX) if self.chance(0.04) else self.pick(LEX)

    def rng_pair(self, rev=False):
        """(min, max) for a score range, usually in order (max first when rev)."""
        lo, hi = self.rng(), self.rng()
        if self.chance(0.7) and lo not in BAD_RANGE and hi not in BAD_RANGE:
            lo, hi = sorted([lo, hi], key=lambda v: float(v.lstrip("(")))
        return [hi, lo] if rev else [lo, hi]

    def lex_pair(self, rev=False):
        """(min, max) for a lex range, usually in order (max first when rev)."""
        def order(v):
            return {"-": (0, ""), "+": (2, "")}.get(v, (1, v[1:]))
        lo, hi = self.lex(), self.lex()
        if self.chance(0.7) and lo not in BAD_LEX and hi not in BAD_LEX:
            lo, hi = sorted([lo, hi], key=order)
        return [hi, lo] if rev else [lo, hi]

    def int(self):
        return self.pick(BAD_INTS) if self.chance(0.03) else self.pick(INTS)

    def limit(self):
        if not self.chance(0.3):
            return []
        return ["LIMIT", self.pick(["0", "1", "2", "-1"] + [self.int()]),
                self.pick(["1", "2", "3", "-1", "0"] + [self.int()])]

    def keys(self, lo=1, hi=3):
        n = self.r.randint(lo, hi)
        return [self.key() for _ in range(n)]

    def command(self):
        r = self.r
        kind = r.randrange(32)
        if self.chance(0.15):
            kind = 0  # keep the zsets populated
        if kind <= 4:
            opts = [o for o in ("NX", "XX", "GT", "LT", "CH", "INCR") if self.chance(0.12)]
            pairs = []
            for _ in range(r.randint(1, 4 if "INCR" not in opts else 1)):
                pairs += [self.score(), self.member()]
            if self.chance(0.03):
                pairs.pop()
            return ["ZADD", self.key()] + opts + pairs
        if kind == 5:
            return ["ZINCRBY", self.key(), self.score(), self.member()]
        if kind == 6:
            return ["ZREM", self.key()] + [self.member() for _ in range(r.randint(1, 3))]
        if kind == 7:
            return self.pick([["ZCARD", self.key()], ["ZSCORE", self.key(), self.member()],
                              ["ZMSCORE", self.key(), self.member(), self.member()]])
        if kind == 8:
            return [self.pick(["ZRANK", "ZREVRANK"]), self.key(), self.member()]
        if kind == 9:
            return ["ZCOUNT", self.key()] + self.rng_pair()
        if kind <= 12:
            args = ["ZRANGE", self.key()]
            by = self.pick(["", "", "BYSCORE"])
            rev = self.chance(0.4)
            args += self.rng_pair(rev) if by else [self.int(), self.int()]
            opts = []
            if by:
                opts.append(by)
            if rev:
                opts.append("REV")
            if self.chance(0.5):
                opts.append("WITHSCORES")
            if by or self.chance(0.05):
                opts += self.limit()
            r.shuffle(opts)
            return args + opts
        if kind == 13:
            name = self.pick(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"])
            args = [name, self.key()] + self.rng_pair(name.startswith("ZREV"))
            if self.chance(0.5):
                args.append("WITHSCORES")
            return args + self.limit()
        if kind == 14:
            args = ["ZREVRANGE", self.key(), self.int(), self.int()]
            return args + (["WITHSCORES"] if self.chance(0.5) else [])
        if kind <= 16:
            return self.lex_command()
        if kind == 17:
            return self.pick([["ZREMRANGEBYRANK", self.key(), self.int(), self.int()],
                              ["ZREMRANGEBYSCORE", self.key()] + self.rng_pair()])
        if kind == 18:
            args = [self.pick(["ZPOPMIN", "ZPOPMAX"]), self.key()]
            return args + ([self.int()] if self.chance(0.6) else [])
        if kind == 19:
            ks = self.keys()
            n = str(len(ks)) if not self.chance(0.05) else self.int()
            args = ["ZMPOP", n] + ks + [self.pick(["MIN", "MAX", "min", "BAD"])]
            if self.chance(0.5):
                args += ["COUNT", self.int()]
            return args
        if kind == 20:
            # Blocking forms on zsets that are probably non-empty (a short timeout otherwise).
            if self.chance(0.5):
                return [self.pick(["BZPOPMIN", "BZPOPMAX"])] + self.keys(1, 2) + ["0.01"]
            ks = self.keys(1, 2)
            args = ["BZMPOP", "0.01", str(len(ks))] + ks + [self.pick(["MIN", "MAX"])]
            return args + (["COUNT", self.int()] if self.chance(0.5) else [])
        if kind == 21:
            src = self.key()
            by = self.pick(["", "BYSCORE"])
            args = ["ZRANGESTORE", self.pick(ZKEYS), src]
            rev = self.chance(0.3)
            args += self.rng_pair(rev) if by else [self.int(), self.int()]
            opts = ([by] if by else []) + (["REV"] if rev else [])
            if by:
                opts += self.limit()
            return args + opts
        if kind <= 25:
            return self.combine_command()
        if kind == 26:
            ks = self.keys()
            args = ["ZINTERCARD", str(len(ks)) if not self.chance(0.05) else self.int()] + ks
            return args + (["LIMIT", self.int()] if self.chance(0.4) else [])
        if kind == 27:
            key = self.key()
            c = self.r.randint(0, 4)
            if c == 0:
                return Cmd(["ZRANDMEMBER", key], compare=_randmember_same)
            if c == 1:
                return Cmd(["ZRANDMEMBER", key, self.int()], compare=_randmember_same)
            if c == 2:
                return Cmd(["ZRANDMEMBER", key, self.int(), "WITHSCORES"],
                           compare=_randmember_same)
            if c == 3:
                return Cmd(["ZRANDMEMBER", key, "50"], compare=_randmember_all)
            return Cmd(["ZRANDMEMBER", key, "50", "WITHSCORES"], compare=_randmember_pairs_all)
        if kind == 28:
            args = ["ZSCAN", self.key(), "0", "COUNT", "1000"]
            if self.chance(0.4):
                args += ["MATCH", self.pick(["*", "a*", "[a-d]", "*e*", "?"])]
            return Cmd(args, compare=_scan_same)
        if kind == 29:
            return self.pick([["DEL", self.key()], ["SADD", "s1", self.member(), self.member()],
                              ["SREM", "s1", self.member()], ["SET", "str", "v"],
                              ["EXISTS", self.key()], ["TYPE", self.key()]])
        return self.pick([["ZCARD", self.key()], ["ZRANGE", self.key(), "0", "-1", "WITHSCORES"]])

    def lex_command(self):
        r = self.r
        c = r.randrange(8)
        if c == 0 or c == 7:
            return ["ZADD", "lex", "0", self.member(), "0", self.member(), "0", self.member()]
        if c == 1:
            return ["ZRANGEBYLEX", "lex"] + self.lex_pair() + self.limit()
        if c == 2:
            return ["ZREVRANGEBYLEX", "lex"] + self.lex_pair(True) + self.limit()
        if c == 3:
            rev = self.chance(0.5)
            opts = ["BYLEX"] + (["REV"] if rev else []) + self.limit()
            r.shuffle(opts)
            return ["ZRANGE", "lex"] + self.lex_pair(rev) + opts
        if c == 4:
            return ["ZLEXCOUNT", "lex"] + self.lex_pair()
        if c == 5:
            return ["ZREMRANGEBYLEX", "lex"] + self.lex_pair()
        return ["ZRANGESTORE", "lex2", "lex"] + self.lex_pair() + ["BYLEX"] + self.limit()

    def combine_command(self):
        r = self.r
        name = self.pick(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE",
                          "ZDIFFSTORE"])
        ks = self.keys(1, 3)
        if self.chance(0.2):
            ks.append("s1")
        n = str(len(ks)) if not self.chance(0.05) else self.int()
        args = [name] + ([self.pick(ZKEYS)] if name.endswith("STORE") else []) + [n] + ks
        if not name.startswith("ZDIFF") or self.chance(0.05):
            if self.chance(0.4):
                args += ["WEIGHTS"] + [self.pick(WEIGHTS) for _ in ks]
            if self.chance(0.4):
                args += ["AGGREGATE", self.pick(["SUM", "MIN", "MAX", "max", "BAD"])]
        if self.chance(0.5) and (not name.endswith("STORE") or self.chance(0.1)):
            args.append("WITHSCORES")
        return args


def _script(seed, n):
    g = Gen(seed)
    return [g.command() for _ in range(n)]


@pytest.mark.parametrize("seed", [20240601, 7])
def test_random_commands(server, redis_ref, seed):
    commands = _script(seed, 3000)
    mismatches = diff_replies(server.client(), redis_ref.client(), commands)
    assert not mismatches, format_mismatches(mismatches)
    # The final state matches too.
    final = []
    for key in ZKEYS + ["lex", "lex2"]:
        final.append(["ZRANGE", key, "0", "-1", "WITHSCORES"])
        final.append(["TYPE", key])
    assert_same_replies(server.client(), redis_ref.client(), final)


# --------------------------------------------------------------------------------------
# RESP3 shapes, byte for byte

RESP3_SCRIPT = [
    ["ZADD", "z", "1", "a", "2", "b", "3.5", "c", "inf", "d", "-inf", "e"],
    ["ZSCORE", "z", "a"], ["ZSCORE", "z", "d"], ["ZSCORE", "z", "nosuch"],
    ["ZMSCORE", "z", "a", "nosuch"], ["ZADD", "z", "INCR", "1", "a"],
    ["ZADD", "z", "NX", "INCR", "1", "a"], ["ZINCRBY", "z", "0.5", "b"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "0", "-1"],
    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"],
    ["ZREVRANGE", "z", "0", "1", "WITHSCORES"], ["ZRANK", "z", "a"], ["ZRANK", "z", "x"],
    ["ZPOPMIN", "z"], ["ZPOPMIN", "z", "1"], ["ZPOPMAX", "z", "0"], ["ZPOPMIN", "nosuch"],
    ["ZPOPMIN", "nosuch", "1"], ["ZADD", "z", "1", "a", "7", "x"],
    ["ZMPOP", "1", "z", "MIN", "COUNT", "2"], ["ZMPOP", "1", "nosuch", "MIN"],
    ["BZPOPMIN", "z", "0"], ["BZPOPMAX", "nosuch", "0.01"],
    ["BZMPOP", "0.01", "1", "nosuch", "MIN"], ["BZMPOP", "0", "1", "z", "MAX"],
    ["ZADD", "u", "1", "a", "2", "b"], ["ZUNION", "1", "u", "WITHSCORES"],
    ["ZINTER", "1", "u", "WITHSCORES"], ["ZDIFF", "1", "u", "WITHSCORES"],
    ["ZUNION", "1", "u"], ["ZRANDMEMBER", "nosuch"], ["ZRANDMEMBER", "nosuch", "2"],
    ["ZRANDMEMBER", "u", "-3", "WITHSCORES"], ["ZSCAN", "u", "0"], ["ZSCAN", "nosuch", "0"],
    ["ZCARD", "u"], ["ZCOUNT", "u", "-inf", "+inf"], ["ZADD", "u", "XX", "1", "zz"],
    ["ZRANGESTORE", "d", "u", "0", "-1"], ["ZUNIONSTORE", "d", "1", "u"],
    ["ZINTERCARD", "1", "u"], ["ZREM", "u", "a"], ["ZADD", "u", "x", "a"],
]


def _resp3_replies(server, script):
    with RawConn(server.port) as c:
        hello = c.call("HELLO", "3")
        assert hello is not None
        out = []
        for args in script:
            c.send(_encode(args))
            out.append(c.read_raw())
        return out


def _encode(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def test_resp3_shapes(server_factory, redis_ref):
    server = server_factory(resp3_enabled=True)
    ours = _resp3_replies(server, RESP3_SCRIPT)
    theirs = _resp3_replies(redis_ref, RESP3_SCRIPT)
    diffs = []
    for args, a, b in zip(RESP3_SCRIPT, ours, theirs):
        if args[0] == "ZRANDMEMBER" and args[-1] == "WITHSCORES":
            # Random picks: the shape only (an array of 3 [member, double] pairs).
            assert a.startswith(b"*3\r\n*2\r\n") and a.count(b"*2\r\n") == 3, a
            assert a.count(b"\r\n,") == 3, a
            continue
        if a != b:
            diffs.append("%s\n    ours:   %r\n    redis:  %r" % (" ".join(args), a, b))
    assert not diffs, "\n".join(diffs)


def test_larger_zsets(server, redis_ref):
    """Zsets past Redis's listpack limits (skiplist encoding): ranges from both ends, ranks,
    removals and pops with counts, lex ranges over 600 equal scores."""
    rnd = random.Random(99)
    setup = []
    for base in range(0, 600, 100):
        args = ["ZADD", "big"]
        lex = ["ZADD", "lexbig"]
        for i in range(base, base + 100):
            args += [str(rnd.randint(-50, 50) / 2), "m%03d" % rnd.randint(0, 999)]
            lex += ["0", "w%03d" % i]
        setup += [args, lex]
    script = list(setup)
    for _ in range(600):
        c = rnd.randrange(9)
        a, b = rnd.randint(-700, 700), rnd.randint(-700, 700)
        lo, hi = sorted([rnd.randint(-60, 60) / 2, rnd.randint(-60, 60) / 2])
        ex = rnd.choice(["", "("])
        if c == 0:
            script.append(["ZRANGE", "big", str(a), str(b)] +
                          (["WITHSCORES"] if rnd.random() < 0.5 else []))
        elif c == 1:
            script.append(["ZREVRANGE", "big", str(a), str(b), "WITHSCORES"])
        elif c == 2:
            script.append(["ZRANGEBYSCORE", "big", ex + str(lo), str(hi), "WITHSCORES",
                           "LIMIT", str(rnd.randint(0, 50)), str(rnd.randint(-1, 30))])
        elif c == 3:
            script.append(["ZREVRANGEBYSCORE", "big", str(hi), ex + str(lo)])
        elif c == 4:
            m = "m%03d" % rnd.randint(0, 999)
            script += [["ZRANK", "big", m], ["ZREVRANK", "big", m], ["ZSCORE", "big", m]]
        elif c == 5:
            script.append(["ZCOUNT", "big", ex + str(lo), str(hi)])
        elif c == 6:
            x, y = sorted([rnd.randint(0, 650), rnd.randint(0, 650)])
            script.append(["ZRANGEBYLEX", "lexbig", "[w%03d" % x, "(w%03d" % y, "LIMIT", "0",
                           str(rnd.randint(1, 40))])
            script.append(["ZLEXCOUNT", "lexbig", "(w%03d" % x, "+"])
        elif c == 7:
            script.append([rnd.choice(["ZPOPMIN", "ZPOPMAX"]), "big", str(rnd.randint(1, 5))])
            script.append(["ZADD", "big", str(rnd.randint(-50, 50)), "m%03d" % rnd.randint(0, 999)])
        else:
            script.append(["ZRANGESTORE", "dst", "big", str(a), str(b), "REV"])
            script.append(["ZRANGE", "dst", "0", "-1", "WITHSCORES"])
    script += [["ZREMRANGEBYRANK", "big", "100", "-100"], ["ZRANGE", "big", "0", "-1", "WITHSCORES"],
               ["ZREMRANGEBYLEX", "lexbig", "[w100", "(w500"], ["ZCARD", "lexbig"]]
    assert_same_replies(server.client(), redis_ref.client(), script)
