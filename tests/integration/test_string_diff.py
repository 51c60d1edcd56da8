# SPDX-License-Identifier: Apache-2.0
"""Differential test of the string commands against redis-server 7.0.

A seeded random stream of string commands (plus DEL and EXISTS), with a small key space so
commands collide, and with malformed variants (wrong arity, syntax errors, bad numbers,
invalid or overflowing expiries, overflowing increments, too-long strings), runs on this
server and on redis-server; every reply must match, error texts included. Expiries are
either far in the future or already past, and no command reads a TTL, so no reply depends on
timing. One stream runs in RESP2 (replies parsed), one in RESP3 (raw bytes compared).
"""
import random
import time

import pytest

from helpers.diff import diff_replies, format_mismatches
from helpers.rawresp import Resp3

pytestmark = pytest.mark.needs_redis

KEYS = ["k0", "k1", "k2", "k3", "k4", "k5", b"k\x00bin", "n"]


class Gen:
    """Random string commands from one seed."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        # Absolute expiries are computed once, so both servers get the same arguments.
        now_s = int(time.time())
        self.future_s = str(now_s + 100000)
        self.future_ms = str((now_s + 100000) * 1000 + 123)

    def key(self):
        return self.rng.choice(KEYS)

    def value(self):
        rng = self.rng
        kind = rng.randrange(9)
        if kind == 0:
            return str(rng.randint(-100, 100))
        if kind == 1:
            return rng.choice(["9223372036854775807", "-9223372036854775808",
                               "9223372036854775806", "-9223372036854775807", "0", "-0",
                               "01", " 1", "1 ", "+1", "9223372036854775808"])
        if kind == 2:
            return rng.choice(["1.5", "-0.25", "3e2", "0.1", ".5", "5.", "1e-3", "10.6",
                               "0x10", "inf", "nan", "1e308", "-1e308", "1.0e3"])
        if kind == 3:
            return ""
        if kind == 4:
            return bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        n = rng.randint(1, 16)
        return "".join(rng.choice("abcdefgh") for _ in range(n))

    def int_arg(self):
        rng = self.rng
        if rng.random() < 0.8:
            return str(rng.randint(-30, 30))
        return rng.choice(["9223372036854775807", "-9223372036854775808",
                           "9223372036854775808", "1.5", "abc", "", "-0", "1e3"])

    def float_arg(self):
        return self.rng.choice(["1", "-1", "0.1", "-0.1", "1.5", "2.5e3", "-7", ".5", "5.",
                                "0x1p3", "1e-20", "inf", "-inf", "nan", "abc", "", " 1",
                                "1e308", "-1e308", "3.14159"])

    def expiry_opt(self):
        rng = self.rng
        name = rng.choice(["EX", "PX", "EXAT", "PXAT"])
        good = {
            "EX": ["100000", "9223372036854"],
            "PX": ["100000000", "9223372036854"],
            "EXAT": [self.future_s, "1", "100"],
            "PXAT": [self.future_ms, "1", "9223372036854775807"],
        }[name]
        bad = ["0", "-1", "abc", "1.5", "9223372036854775807", "9223372036854775",
               "-9223372036854775808"]
        if rng.random() < 0.7:
            return [name, rng.choice(good)]
        return [name, rng.choice(bad)]

    def set_opts(self, for_set):
        rng = self.rng
        opts = []
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            r = rng.random()
            if r < 0.4:
                opts += self.expiry_opt()
            elif for_set:
                opts.append(rng.choice(["NX", "XX", "GET", "KEEPTTL", "nx", "get", "PERSIST",
                                        "FOO", "EX"]))
            else:
                opts.append(rng.choice(["PERSIST", "persist", "NX", "KEEPTTL", "GET", "FOO",
                                        "PX"]))
        return opts

    def index(self):
        rng = self.rng
        if rng.random() < 0.9:
            return str(rng.randint(-20, 20))
        return rng.choice(["9223372036854775807", "-9223372036854775808", "x", "1.5"])

    def command(self):
        rng = self.rng
        k = self.key
        v = self.value
        choice = rng.randrange(26)
        if choice == 0:
            return ["GET", k()]
        if choice in (1, 2):
            return ["SET", k(), v()] + self.set_opts(True)
        if choice == 3:
            return ["SETNX", k(), v()]
        if choice == 4:
            return [rng.choice(["SETEX", "PSETEX"]),
                    k(), rng.choice(["100000", "100000", "100000", "0", "-1", "abc",
                                     "9223372036854775807", "9223372036854775"]), v()]
        if choice == 5:
            return ["GETSET", k(), v()]
        if choice == 6:
            return ["GETDEL", k()]
        if choice == 7:
            return ["GETEX", k()] + self.set_opts(False)
        if choice == 8:
            return ["MGET"] + [k() for _ in range(rng.randint(1, 5))]
        if choice in (9, 10):
            cmd = rng.choice(["MSET", "MSETNX"])
            args = [cmd]
            for _ in range(rng.randint(1, 3)):
                args += [k(), v()]
            if rng.random() < 0.1:
                args.pop()
            return args
        if choice == 11:
            return [rng.choice(["GETRANGE", "SUBSTR"]), k(), self.index(), self.index()]
        if choice == 12:
            off = str(rng.randint(0, 24)) if rng.random() < 0.85 else rng.choice(
                ["-1", "x", "536870912", "9223372036854775807", "536870911"])
            val = v() if off != "536870911" else ""
            return ["SETRANGE", k(), off, val]
        if choice == 13:
            return ["APPEND", k(), v()]
        if choice == 14:
            return ["STRLEN", k()]
        if choice in (15, 16):
            return [rng.choice(["INCR", "DECR"]), rng.choice(["n", k()])]
        if choice == 17:
            return [rng.choice(["INCRBY", "DECRBY"]), rng.choice(["n", k()]), self.int_arg()]
        if choice == 18:
            return ["INCRBYFLOAT", rng.choice(["n", k()]), self.float_arg()]
        if choice == 19:
            args = ["LCS", k(), k()]
            for _ in range(rng.choice([0, 0, 1, 2, 3])):
                r = rng.random()
                if r < 0.25:
                    args.append("IDX")
                elif r < 0.45:
                    args.append("LEN")
                elif r < 0.65:
                    args.append("WITHMATCHLEN")
                elif r < 0.9:
                    args += ["MINMATCHLEN", rng.choice(["0", "1", "2", "3", "-1", "x"])]
                else:
                    args.append(rng.choice(["MINMATCHLEN", "FOO"]))
            return args
        if choice == 20:
            return ["DEL"] + [k() for _ in range(rng.randint(1, 3))]
        if choice == 21:
            return ["EXISTS"] + [k() for _ in range(rng.randint(1, 3))]
        if choice == 22:
            # A value for the counter and the LCS keys, so those paths see real data.
            return ["SET", rng.choice(["n", k()]), rng.choice([self.int_arg(), v()])]
        if choice == 23:
            # Wrong arity: a valid command with one argument too few or too many.
            base = rng.choice([["GET", k()], ["SETNX", k(), v()], ["GETSET", k(), v()],
                               ["INCRBY", k(), "1"], ["GETRANGE", k(), "0", "1"],
                               ["SETRANGE", k(), "0", "x"], ["APPEND", k(), "x"],
                               ["STRLEN", k()], ["SETEX", k(), "100", "v"],
                               ["INCRBYFLOAT", k(), "1"], ["GETDEL", k()]])
            return base[:-1] if rng.random() < 0.5 else base + ["extra"]
        if choice == 24:
            return [rng.choice(["SET", "MSET", "GETEX", "MGET", "LCS"])]
        return ["SET", k(), v(), "GET"] + self.set_opts(True)

    def commands(self, n):
        return [self.command() for _ in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_string_commands_match_redis(server, redis_ref, seed):
    commands = Gen(seed).commands(1500)
    mismatches = diff_replies(server, redis_ref, commands, errors="exact")
    assert not mismatches, format_mismatches(mismatches)
    # The final key spaces agree too.
    final = [["MGET"] + KEYS]
    mismatches = diff_replies(server, redis_ref, final)
    assert not mismatches, format_mismatches(mismatches)


def test_size_limits_match_redis(server_factory, redis_factory):
    kv = server_factory(proto_max_bulk_len=1048576)
    ref = redis_factory(proto_max_bulk_len=1048576)
    commands = [
        ["SETRANGE", "k", "1048575", "x"], ["STRLEN", "k"], ["SETRANGE", "k", "1048576", "x"],
        ["SETRANGE", "k", "1048575", "xy"], ["APPEND", "k", "z"], ["APPEND", "k", ""],
        ["SET", "j", "a" * 1048570], ["APPEND", "j", "123456"], ["APPEND", "j", "1234567"],
        ["SETRANGE", "j", "1048576", ""], ["SETRANGE", "new", "1048576", "x"], ["EXISTS", "new"],
        ["SETRANGE", "new", "1048576", ""], ["GETRANGE", "j", "-3", "-1"], ["STRLEN", "j"],
    ]
    mismatches = diff_replies(kv, ref, commands)
    assert not mismatches, format_mismatches(mismatches)


def test_string_commands_match_redis_resp3(server_factory, redis_ref):
    kv = server_factory(resp3_enabled=True)
    a, b = Resp3(kv), Resp3(redis_ref)
    bad = []
    try:
        for i, args in enumerate(Gen(4).commands(1500)):
            ra, rb = a.call(*args), b.call(*args)
            if ra != rb:
                bad.append("#%d %r\n    kvrocks: %r\n    redis:   %r" % (i, args, ra, rb))
    finally:
        a.close()
        b.close()
    assert not bad, "%d mismatching replies:\n%s" % (len(bad), "\n".join(bad[:20]))
