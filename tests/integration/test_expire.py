# SPDX-License-Identifier: Apache-2.0
"""Expiry (src/commands/cmd_key.c, src/types/db.c): EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with
NX/XX/GT/LT, TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, and lazy expiry: an expired key is
gone for every command from the millisecond it expires, without waiting for compaction.

The NX/XX/GT/LT matrix and the overflow errors are also compared with Debian's
redis-server (needs_redis tests), using absolute times so both servers see the same input.
"""
import time

import pytest

from helpers.diff import Cmd, ErrorReply, assert_same_replies, raw_connection, run_commands
from helpers.wait import wait_for_value, wait_until


@pytest.fixture
def conn(server):
    c = raw_connection(server)
    yield c
    c.disconnect()


def call(c, *args):
    return run_commands(c, [list(args)])[0]


def err(text):
    return ErrorReply(text)


def now_ms():
    return int(time.time() * 1000)


def scan_keys(c, *opts):
    cursor, keys = b"0", []
    for _ in range(100000):
        cursor, batch = call(c, "SCAN", cursor, *opts)
        keys.extend(batch)
        if cursor == b"0":
            return keys
    raise AssertionError("SCAN did not finish")


def wait_past(at_ms, margin_ms=20):
    """Poll the local clock (same host as the server) until at_ms + margin has passed."""
    wait_until(lambda: now_ms() > at_ms + margin_ms, timeout=10, interval=0.01,
               msg="wall clock past %d" % at_ms)


def dbsize_is(c, expected):
    """DBSIZE == expected, polled. Skips when the server has no DBSIZE yet; with Kvrocks'
    DBSIZE (the count of the last DBSIZE SCAN) a scan is requested on every poll."""
    reply = call(c, "DBSIZE")
    if isinstance(reply, ErrorReply) and "unknown command" in reply.text:
        pytest.skip("DBSIZE is not implemented by this server yet")

    def current():
        call(c, "DBSIZE", "SCAN")
        return call(c, "DBSIZE")

    wait_for_value(current, expected, timeout=10, msg="DBSIZE")


# --------------------------------------------------------------------------------------
# TTL family

def test_ttl_of_missing_persistent_and_volatile_keys(conn):
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        assert call(conn, cmd, "nokey") == -2, cmd
    call(conn, "SET", "k", "v")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        assert call(conn, cmd, "k") == -1, cmd
    before = now_ms()
    assert call(conn, "EXPIRE", "k", 100) == 1
    after = now_ms()
    assert call(conn, "TTL", "k") in (99, 100)
    assert 98000 < call(conn, "PTTL", "k") <= 100000
    at = call(conn, "PEXPIRETIME", "k")
    assert before + 100000 <= at <= after + 100000
    assert call(conn, "EXPIRETIME", "k") == (at + 500) // 1000


def test_pexpire_precision_and_rounding(conn):
    call(conn, "SET", "k", "v")
    assert call(conn, "PEXPIRE", "k", 1500) == 1
    assert 1300 < call(conn, "PTTL", "k") <= 1500
    # TTL rounds to the nearest second: (ms + 500) / 1000.
    assert call(conn, "PEXPIRE", "k", 10400) == 1
    assert call(conn, "TTL", "k") == 10
    assert call(conn, "PEXPIRE", "k", 10900) == 1
    assert call(conn, "TTL", "k") == 11
    base = (now_ms() // 1000 + 1000) * 1000
    assert call(conn, "PEXPIREAT", "k", base + 499) == 1
    assert call(conn, "PEXPIRETIME", "k") == base + 499
    assert call(conn, "EXPIRETIME", "k") == base // 1000
    assert call(conn, "PEXPIREAT", "k", base + 500) == 1
    assert call(conn, "EXPIRETIME", "k") == base // 1000 + 1
    assert call(conn, "EXPIREAT", "k", base // 1000) == 1
    assert call(conn, "PEXPIRETIME", "k") == base


def test_persist(conn):
    assert call(conn, "PERSIST", "nokey") == 0
    call(conn, "SET", "k", "v")
    assert call(conn, "PERSIST", "k") == 0
    assert call(conn, "EXPIRE", "k", 100) == 1
    assert call(conn, "PERSIST", "k") == 1
    assert call(conn, "TTL", "k") == -1
    assert call(conn, "PERSIST", "k") == 0
    assert call(conn, "GET", "k") == b"v"


def test_set_clears_the_ttl(conn):
    call(conn, "SET", "k", "v")
    assert call(conn, "EXPIRE", "k", 100) == 1
    assert call(conn, "SET", "k", "w") == b"OK"
    assert call(conn, "TTL", "k") == -1


# --------------------------------------------------------------------------------------
# Lazy expiry

def test_key_is_gone_from_the_millisecond_it_expires(conn):
    call(conn, "SET", "k", "v")
    at = now_ms() + 300
    assert call(conn, "PEXPIREAT", "k", at) == 1
    assert call(conn, "EXISTS", "k") == 1
    wait_past(at)
    # No waiting for a background job: the very next reads see it gone.
    assert call(conn, "EXISTS", "k") == 0
    assert call(conn, "GET", "k") is None
    assert call(conn, "TTL", "k") == -2
    assert call(conn, "PTTL", "k") == -2
    assert call(conn, "EXPIRETIME", "k") == -2
    assert call(conn, "TYPE", "k") == b"none"
    assert call(conn, "KEYS", "*") == []
    assert scan_keys(conn) == []
    assert call(conn, "RANDOMKEY") is None
    assert call(conn, "TOUCH", "k") == 0
    assert call(conn, "RENAME", "k", "x") == err("ERR no such key")
    assert call(conn, "RENAMENX", "k", "x") == err("ERR no such key")
    assert call(conn, "COPY", "k", "x") == 0
    assert call(conn, "EXISTS", "x") == 0
    # Writes that need a live key see none, and do not resurrect it.
    assert call(conn, "EXPIRE", "k", 100) == 0
    assert call(conn, "PERSIST", "k") == 0
    assert call(conn, "DEL", "k") == 0
    assert call(conn, "EXISTS", "k") == 0
    # Re-creating it gives a fresh key without the old expiry.
    assert call(conn, "SET", "k", "new") == b"OK"
    assert call(conn, "TTL", "k") == -1
    assert call(conn, "GET", "k") == b"new"


def test_expired_keys_leave_keys_scan_and_dbsize(conn):
    for i in range(50):
        call(conn, "SET", "vol:%d" % i, "v")
        call(conn, "SET", "per:%d" % i, "v")
    at = now_ms() + 400
    for i in range(50):
        assert call(conn, "PEXPIREAT", "vol:%d" % i, at) == 1
    assert len(call(conn, "KEYS", "*")) == 100
    wait_past(at)
    expected = sorted(b"per:%d" % i for i in range(50))
    assert sorted(call(conn, "KEYS", "*")) == expected
    assert call(conn, "KEYS", "vol:*") == []
    assert sorted(scan_keys(conn, "COUNT", 7)) == expected
    assert scan_keys(conn, "MATCH", "vol:*", "COUNT", 7) == []
    assert call(conn, "EXISTS", *["vol:%d" % i for i in range(50)]) == 0
    assert call(conn, "DEL", *["vol:%d" % i for i in range(50)]) == 0
    seen = {call(conn, "RANDOMKEY") for _ in range(50)}
    assert seen and all(k.startswith(b"per:") for k in seen)
    dbsize_is(conn, 50)


def test_expire_with_a_past_time_deletes(conn):
    cases = [
        ("EXPIRE", -1), ("EXPIRE", 0), ("PEXPIRE", -1000), ("PEXPIRE", 0),
        ("EXPIREAT", 1), ("EXPIREAT", 0), ("PEXPIREAT", 0), ("PEXPIREAT", now_ms() - 1),
        ("EXPIRE", -9223372036854775), ("PEXPIRE", -9223372036854775808),
    ]
    for cmd, t in cases:
        call(conn, "SET", "k", "v")
        assert call(conn, cmd, "k", t) == 1, (cmd, t)
        assert call(conn, "EXISTS", "k") == 0, (cmd, t)
        assert call(conn, cmd, "k", t) == 0, (cmd, t)  # nothing left to delete


def test_expire_on_missing_key(conn):
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert call(conn, cmd, "nokey", 100) == 0
        assert call(conn, cmd, "nokey", 100, "LT") == 0
    assert call(conn, "EXISTS", "nokey") == 0


def test_expiry_survives_restart(server):
    c = raw_connection(server)
    try:
        call(c, "SET", "long", "v")
        call(c, "SET", "short", "v")
        at_long = now_ms() + 1000000
        at_short = now_ms() + 500
        assert call(c, "PEXPIREAT", "long", at_long) == 1
        assert call(c, "PEXPIREAT", "short", at_short) == 1
    finally:
        c.disconnect()
    server.restart()
    wait_past(at_short)
    c = raw_connection(server)
    try:
        assert call(c, "PEXPIRETIME", "long") == at_long
        assert call(c, "EXISTS", "short") == 0
        assert call(c, "KEYS", "*") == [b"long"]
    finally:
        c.disconnect()


# --------------------------------------------------------------------------------------
# Options and errors

def test_expire_option_errors(conn):
    call(conn, "SET", "k", "v")
    conflict_nx = err("ERR NX and XX, GT or LT options at the same time are not compatible")
    conflict_gt = err("ERR GT and LT options at the same time are not compatible")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert call(conn, cmd, "k", 100, "NX", "XX") == conflict_nx
        assert call(conn, cmd, "k", 100, "nx", "gt") == conflict_nx
        assert call(conn, cmd, "k", 100, "LT", "NX") == conflict_nx
        assert call(conn, cmd, "k", 100, "NX", "GT", "LT") == conflict_nx
        assert call(conn, cmd, "k", 100, "gt", "LT") == conflict_gt
        assert call(conn, cmd, "k", 100, "XX", "GT", "LT") == conflict_gt
        assert call(conn, cmd, "k", 100, "FOO") == err("ERR Unsupported option FOO")
        assert call(conn, cmd, "k", 100, "NX", "bar") == err("ERR Unsupported option bar")
        # Options are checked before the time argument.
        assert call(conn, cmd, "k", "abc", "FOO") == err("ERR Unsupported option FOO")
        assert call(conn, cmd, "k", "abc", "NX", "XX") == conflict_nx
        assert call(conn, cmd, "k", "abc") == err("ERR value is not an integer or out of range")
        assert call(conn, cmd, "k", "1.5") == err("ERR value is not an integer or out of range")
        assert call(conn, cmd, "k", " 1") == err("ERR value is not an integer or out of range")
        assert call(conn, cmd, "k", "") == err("ERR value is not an integer or out of range")
        assert call(conn, cmd, "k", "9223372036854775808") == \
            err("ERR value is not an integer or out of range")
    # A repeated option is allowed.
    assert call(conn, "EXPIRE", "k", 100, "NX", "NX") == 1
    assert call(conn, "EXPIRE", "k", 200, "GT", "gt", "XX") == 1
    assert 199 <= call(conn, "TTL", "k") <= 200


def test_expire_overflow_errors(conn):
    call(conn, "SET", "k", "v")

    def invalid(cmd):
        return err("ERR invalid expire time in '%s' command" % cmd.lower())

    assert call(conn, "EXPIRE", "k", 9223372036854775807) == invalid("expire")
    assert call(conn, "EXPIRE", "k", 9223372036854776) == invalid("expire")
    assert call(conn, "EXPIRE", "k", 9223372036854775) == invalid("expire")  # + now overflows
    assert call(conn, "EXPIRE", "k", -9223372036854775808) == invalid("expire")
    assert call(conn, "EXPIRE", "k", -9223372036854776) == invalid("expire")
    assert call(conn, "expire", "k", 9223372036854775807) == invalid("expire")
    assert call(conn, "PEXPIRE", "k", 9223372036854775807) == invalid("pexpire")
    assert call(conn, "PEXPIRE", "k", 9223372036854775000) == invalid("pexpire")
    assert call(conn, "EXPIREAT", "k", 9223372036854775807) == invalid("expireat")
    assert call(conn, "EXPIREAT", "k", 9223372036854776) == invalid("expireat")
    assert call(conn, "EXPIREAT", "k", -9223372036854776) == invalid("expireat")
    # Nothing changed by the refused commands.
    assert call(conn, "TTL", "k") == -1
    # The largest representable times are accepted.
    assert call(conn, "EXPIREAT", "k", 9223372036854775) == 1
    assert call(conn, "PEXPIRETIME", "k") == 9223372036854775000
    assert call(conn, "PEXPIREAT", "k", 9223372036854775807) == 1
    assert call(conn, "PEXPIRETIME", "k") == 9223372036854775807
    assert call(conn, "EXPIRETIME", "k") == 9223372036854776
    assert call(conn, "EXISTS", "k") == 1
    assert call(conn, "EXPIRE", "k", 9223372036854) == 1
    assert call(conn, "EXISTS", "k") == 1


def test_expire_conditions(conn):
    call(conn, "SET", "k", "v")
    # NX: only without an expiry.
    assert call(conn, "EXPIRE", "k", 100, "XX") == 0
    assert call(conn, "EXPIRE", "k", 100, "GT") == 0  # no expiry is infinite
    assert call(conn, "TTL", "k") == -1
    assert call(conn, "EXPIRE", "k", 100, "NX") == 1
    assert call(conn, "EXPIRE", "k", 200, "NX") == 0
    assert call(conn, "TTL", "k") in (99, 100)
    assert call(conn, "EXPIRE", "k", 50, "GT") == 0
    assert call(conn, "EXPIRE", "k", 200, "GT") == 1
    assert call(conn, "EXPIRE", "k", 300, "LT") == 0
    assert call(conn, "EXPIRE", "k", 50, "LT") == 1
    assert call(conn, "TTL", "k") in (49, 50)
    assert call(conn, "EXPIRE", "k", 70, "XX") == 1
    assert call(conn, "TTL", "k") in (69, 70)
    assert call(conn, "EXPIRE", "k", -1, "GT") == 0
    assert call(conn, "EXISTS", "k") == 1
    assert call(conn, "EXPIRE", "k", -1, "LT") == 1
    assert call(conn, "EXISTS", "k") == 0
    call(conn, "SET", "p", "v")
    assert call(conn, "EXPIRE", "p", 100, "LT") == 1  # LT applies to a persistent key
    assert call(conn, "TTL", "p") in (99, 100)


# --------------------------------------------------------------------------------------
# Differential checks against redis-server

FLAG_SETS = [[], ["NX"], ["XX"], ["GT"], ["LT"], ["XX", "GT"], ["XX", "LT"], ["GT", "XX"],
             ["NX", "XX"], ["GT", "LT"], ["NX", "LT"], ["nx"], ["Gt"]]


@pytest.mark.needs_redis
def test_expire_condition_matrix_matches_redis(server, redis_ref):
    """Every (key state, option set, new time) with absolute times: the reply, the resulting
    expiry and existence must equal redis-server's."""
    base = now_ms() + 3600 * 1000  # an hour ahead: nothing expires during the test
    states = {"missing": None, "persistent": 0, "volatile": base}
    times = {"earlier": base - 100000, "same": base, "later": base + 100000, "past": 1000}
    script = []
    for state, current in states.items():
        for flags in FLAG_SETS:
            for name, t in times.items():
                for cmd, value in (("PEXPIREAT", t), ("EXPIREAT", t // 1000)):
                    script.append(["DEL", "k"])
                    if current is not None:
                        script.append(["SET", "k", "v"])
                        if current:
                            script.append(["PEXPIREAT", "k", current])
                    script.append([cmd, "k", value] + flags)
                    script.append(["PEXPIRETIME", "k"])
                    script.append(["EXISTS", "k"])
    assert_same_replies(server, redis_ref, script)


def _close_enough(a, b):
    """TTL replies of two servers a few milliseconds apart: equal, or 1 s apart at most."""
    if isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0:
        return abs(a - b) <= 1
    return a == b


@pytest.mark.needs_redis
def test_relative_expire_matrix_matches_redis(server, redis_ref):
    script = []
    for flags in FLAG_SETS:
        for cmd, first, new in (("EXPIRE", 100, 50), ("EXPIRE", 100, 200), ("EXPIRE", 100, -5),
                                ("PEXPIRE", 100000, 50000), ("PEXPIRE", 100000, 200000),
                                ("PEXPIRE", 100000, 0)):
            for start_volatile in (False, True):
                script.append(["DEL", "k"])
                script.append(["SET", "k", "v"])
                if start_volatile:
                    script.append([cmd, "k", first])
                script.append([cmd, "k", new] + flags)
                script.append(Cmd(["TTL", "k"], compare=_close_enough))
                script.append(["EXISTS", "k"])
    assert_same_replies(server, redis_ref, script)


@pytest.mark.needs_redis
def test_expire_errors_match_redis(server, redis_ref):
    script = [["SET", "k", "v"]]
    values = ["abc", "1.5", "", " 1", "+1", "9223372036854775807", "9223372036854775808",
              "-9223372036854775808", "9223372036854775", "9223372036854776",
              "-9223372036854775", "-9223372036854776", "9223372036854775000"]
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT"):
        for v in values:
            script.append(["SET", "k", "v"])
            script.append([cmd, "k", v])
            script.append(["EXISTS", "k"])
    for opts in (["FOO"], ["NX", "XX"], ["XX", "NX"], ["GT", "LT"], ["NX", "GT"], ["LT", "NX"],
                 ["NX", "foo"], ["foo", "NX", "XX"], ["XX", "GT", "LT"], ["NX", "NX"]):
        script.append(["SET", "k", "v"])
        script.append(["EXPIRE", "k", "100"] + opts)
        script.append(["EXPIRE", "k", "abc"] + opts)
        script.append(Cmd(["TTL", "k"], compare=_close_enough))
    script += [["PEXPIREAT", "k", "9223372036854775807"], ["PEXPIRETIME", "k"],
               ["EXPIRETIME", "k"], ["PERSIST", "k"], ["PERSIST", "k"], ["PERSIST", "nokey"],
               ["TTL", "nokey"], ["PTTL", "nokey"], ["EXPIRETIME", "nokey"],
               ["PEXPIRETIME", "nokey"], ["TTL", "k"], ["EXPIRE", "k"], ["TTL"],
               ["TTL", "k", "x"], ["PERSIST"]]
    assert_same_replies(server, redis_ref, script)
