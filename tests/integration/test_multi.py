# SPDX-License-Identifier: Apache-2.0
"""Transactions: MULTI / EXEC / DISCARD / WATCH / UNWATCH with Redis 7.0 semantics.

Queued replies and their exact bytes, errors inside EXEC (elements, not aborts), EXECABORT
after a command refused while queueing, WATCH aborting on a write by any client on any
worker (the watcher included), on expiry and on FLUSHALL but not on unrelated keys,
UNWATCH / DISCARD / EXEC forgetting watched keys, the null reply in RESP2 and RESP3,
atomicity of EXEC against concurrent writers on other workers, a transaction's reads of its
own writes (all of every type, over data already there), and a differential script against
redis-server.
"""
import threading

import pytest

from helpers.dataset import snapshot
from helpers.diff import ErrorReply, assert_same_replies, raw_connection, run_commands
from helpers.wait import wait_until
from raw_resp import RawConn, cmd

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


def run(conn, *commands):
    """Run commands on a raw connection (helpers.diff), errors as ErrorReply."""
    return run_commands(conn, [list(c) for c in commands])


@pytest.fixture
def conn(server):
    c = raw_connection(server)
    yield c
    c.disconnect()


# --------------------------------------------------------------------------------------
# Queueing and EXEC replies


def test_queued_commands_run_in_order_and_exec_returns_their_replies(server):
    with RawConn(server.port) as c:
        c.send(cmd("MULTI"))
        assert c.read_raw() == b"+OK\r\n"
        for args in (("SET", "k", "1"), ("INCR", "k"), ("GET", "k"), ("DEL", "nokey")):
            c.send(cmd(*args))
            assert c.read_raw() == b"+QUEUED\r\n"
        c.send(cmd("EXEC"))
        assert c.read_raw() == b"*4\r\n+OK\r\n:2\r\n$1\r\n2\r\n:0\r\n"
        # Nothing ran before EXEC: a second client saw no key while the queue was open.
        assert c.call("GET", "k") == b"2"


def test_nothing_runs_before_exec(server):
    r = server.client()
    with RawConn(server.port) as c:
        assert c.call("MULTI") == "OK"
        assert c.call("SET", "k", "v") == "QUEUED"
        assert r.get("k") is None
        assert c.call("EXEC") == ["OK"]
    assert r.get("k") == b"v"


def test_client_list_shows_the_open_transaction(server):
    r = server.client()
    with RawConn(server.port) as c:
        c.call("CLIENT", "SETNAME", "txn")

        def line():
            lines = r.execute_command("CLIENT", "LIST").decode().splitlines()
            return [ln for ln in lines if " name=txn " in ln][0]

        assert " multi=-1 " in line() and " flags=N " in line()
        assert c.call("MULTI") == "OK"
        assert c.call("SET", "a", "1") == "QUEUED"
        assert c.call("SET", "b", "2") == "QUEUED"
        assert " multi=2 " in line() and " flags=x " in line()
        assert c.call("EXEC") == ["OK", "OK"]
        assert " multi=-1 " in line() and " flags=N " in line() and " cmd=exec " in line()


def test_empty_transaction(conn):
    assert run(conn, ["MULTI"], ["EXEC"]) == [b"OK", []]


def test_errors_inside_exec_are_elements_not_aborts(conn):
    replies = run(conn, ["MULTI"], ["SET", "a", "x"], ["INCR", "a"], ["SET", "b", "y"],
                  ["GET", "a"], ["EXEC"], ["GET", "b"])
    assert replies[:5] == [b"OK", b"QUEUED", b"QUEUED", b"QUEUED", b"QUEUED"]
    assert replies[5] == [b"OK", ErrorReply("ERR value is not an integer or out of range"),
                          b"OK", b"x"]
    assert replies[6] == b"y"


def test_execabort_after_unknown_command_and_arity_error(server, conn):
    replies = run(conn, ["MULTI"], ["SET", "k", "v"], ["NOSUCHCMD", "x"], ["GET"], ["EXEC"],
                  ["EXEC"])
    assert replies[2] == ErrorReply(
        "ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' ")
    assert replies[3] == ErrorReply("ERR wrong number of arguments for 'get' command")
    assert replies[4] == ErrorReply(EXECABORT)
    # The transaction is gone: nothing ran, and the client is out of MULTI.
    assert replies[5] == ErrorReply("ERR EXEC without MULTI")
    assert server.client().get("k") is None


def test_one_refused_command_aborts_even_after_valid_ones(conn):
    replies = run(conn, ["MULTI"], ["INCR", "n"], ["INCR"], ["INCR", "n"], ["EXEC"],
                  ["GET", "n"])
    assert replies[4] == ErrorReply(EXECABORT)
    assert replies[5] is None


def test_no_multi_command_is_refused_and_flags_the_transaction(server, conn):
    replies = run(conn, ["MULTI"], ["SHUTDOWN"], ["EXEC"])
    assert replies[1] == ErrorReply("ERR Command not allowed inside a transaction")
    assert replies[2] == ErrorReply(EXECABORT)
    assert server.client().ping()


def test_nested_multi_and_watch_inside_multi_are_errors_that_do_not_abort(conn):
    replies = run(conn, ["MULTI"], ["MULTI"], ["WATCH", "k"], ["SET", "k", "1"], ["EXEC"])
    assert replies[1] == ErrorReply("ERR MULTI calls can not be nested")
    assert replies[2] == ErrorReply("ERR WATCH inside MULTI is not allowed")
    assert replies[4] == [b"OK"]


def test_exec_and_discard_without_multi(conn):
    assert run(conn, ["EXEC"], ["DISCARD"]) == [
        ErrorReply("ERR EXEC without MULTI"), ErrorReply("ERR DISCARD without MULTI")]


def test_discard_drops_the_queue(server, conn):
    replies = run(conn, ["MULTI"], ["SET", "k", "v"], ["DISCARD"], ["GET", "k"], ["EXEC"])
    assert replies[2] == b"OK"
    assert replies[3] is None
    assert replies[4] == ErrorReply("ERR EXEC without MULTI")


def test_discard_clears_a_queue_time_error(conn):
    replies = run(conn, ["MULTI"], ["NOSUCHCMD"], ["DISCARD"], ["MULTI"], ["PING"], ["EXEC"])
    assert replies[5] == [b"PONG"]


def test_queued_arguments_survive_a_long_pipeline(server):
    """The queue keeps its own copies: the read buffer is compacted and reused while a long
    pipeline of big arguments is queued."""
    values = [(b"%04d" % i) * 2500 for i in range(120)]  # 10 KB each, 1.2 MB in all
    with RawConn(server.port) as c:
        payload = [cmd("MULTI")]
        payload += [cmd("SET", "k%d" % i, v) for i, v in enumerate(values)]
        payload.append(cmd("EXEC"))
        c.send(b"".join(payload))
        assert c.read() == "OK"
        for _ in values:
            assert c.read() == "QUEUED"
        assert c.read() == ["OK"] * len(values)
    r = server.client()
    assert r.mget(["k%d" % i for i in range(len(values))]) == values


def test_blocking_commands_do_not_block_inside_exec(server, conn):
    replies = run(conn, ["MULTI"], ["BLPOP", "nolist", "0"], ["RPUSH", "l", "a"],
                  ["BLMOVE", "empty", "dst", "LEFT", "RIGHT", "0"], ["BLPOP", "l", "0"],
                  ["LPUSH", "l", "x"], ["EXEC"])
    # Empty keys answer at once (nil), as the non-blocking forms would.
    assert replies[6] == [None, 1, None, [b"l", b"a"], 1]
    assert server.client().lrange("l", 0, -1) == [b"x"]


def test_unwatch_is_queued_inside_multi(conn):
    assert run(conn, ["MULTI"], ["UNWATCH"], ["EXEC"]) == [b"OK", b"QUEUED", [b"OK"]]


# --------------------------------------------------------------------------------------
# WATCH


def test_watch_aborts_when_other_clients_on_any_worker_write(server_factory):
    srv = server_factory(workers=4)
    watcher = raw_connection(srv)
    # Several writer connections: the kernel spreads them over the four workers, so the
    # writes come from other workers than the watcher's (and maybe its own).
    writers = [srv.client() for _ in range(8)]
    try:
        for i, w in enumerate(writers):
            assert run(watcher, ["SET", "k", "start"], ["WATCH", "k"]) == [b"OK", b"OK"]
            w.set("k", "writer%d" % i)
            replies = run(watcher, ["MULTI"], ["SET", "k", "watcher"], ["EXEC"])
            assert replies[2] is None, "EXEC ran although writer %d changed the key" % i
            assert run(watcher, ["GET", "k"]) == [b"writer%d" % i]
    finally:
        watcher.disconnect()


def test_watch_aborts_on_delete_and_on_other_types_of_write(server, conn):
    r = server.client()
    for change in (lambda: r.delete("k"), lambda: r.incr("k"), lambda: r.expire("k", 100),
                   lambda: r.append("k", "x"), lambda: r.rename("src", "k")):
        r.set("k", "1")
        r.set("src", "2")
        assert run(conn, ["WATCH", "k"]) == [b"OK"]
        change()
        assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] is None


def test_watch_aborts_on_the_watchers_own_write(conn):
    replies = run(conn, ["WATCH", "k"], ["SET", "k", "mine"], ["MULTI"], ["GET", "k"],
                  ["EXEC"])
    assert replies[4] is None


def test_watch_of_a_missing_key_aborts_when_it_is_created(server, conn):
    r = server.client()
    assert run(conn, ["WATCH", "new"]) == [b"OK"]
    r.set("new", "v")
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] is None


def test_write_to_an_unrelated_key_does_not_abort(server, conn):
    r = server.client()
    r.set("k", "1")
    assert run(conn, ["WATCH", "k", "k2"]) == [b"OK"]
    r.set("other", "x")
    r.set("k3", "x")
    r.set("k" * 2, "x")  # "kk": a prefix of nothing watched
    assert run(conn, ["MULTI"], ["INCR", "k"], ["EXEC"])[2] == [2]


def test_watch_is_per_namespace_key_not_per_name_prefix(server, conn):
    r = server.client()
    assert run(conn, ["WATCH", "ab"]) == [b"OK"]
    r.set("a", "1")
    r.set("abc", "1")
    r.set("b", "1")
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] == [b"PONG"]


def test_watch_aborts_when_a_watched_key_expires(server, conn):
    r = server.client()
    r.set("k", "v")
    assert run(conn, ["WATCH", "k"]) == [b"OK"]
    assert r.pexpire("k", 30)
    wait_until(lambda: r.exists("k") == 0, timeout=5, msg="k expired")
    assert run(conn, ["MULTI"], ["SET", "x", "1"], ["EXEC"])[2] is None
    assert r.get("x") is None


def test_watch_of_a_key_absent_at_watch_time_does_not_abort_while_absent(server, conn):
    r = server.client()
    r.set("gone", "v", px=1)
    wait_until(lambda: r.exists("gone") == 0, timeout=5, msg="gone expired")
    assert run(conn, ["WATCH", "gone", "never"]) == [b"OK"]
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] == [b"PONG"]


def test_watch_with_a_ttl_that_does_not_pass_before_exec(server, conn):
    r = server.client()
    r.set("k", "v", ex=100)
    assert run(conn, ["WATCH", "k"], ["MULTI"], ["GET", "k"], ["EXEC"])[3] == [b"v"]


def test_flushall_and_flushdb_abort_watchers_of_existing_keys(server, conn):
    r = server.client()
    for flush in (r.flushall, r.flushdb):
        r.set("k", "v")
        assert run(conn, ["WATCH", "k"]) == [b"OK"]
        flush()
        assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] is None
    # A key that did not exist is not touched by a flush (Redis 7.0).
    assert run(conn, ["WATCH", "missing"]) == [b"OK"]
    r.flushall()
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] == [b"PONG"]


def test_unwatch_forgets_watched_keys(server, conn):
    r = server.client()
    assert run(conn, ["WATCH", "k"], ["UNWATCH"]) == [b"OK", b"OK"]
    r.set("k", "changed")
    assert run(conn, ["MULTI"], ["GET", "k"], ["EXEC"])[2] == [b"changed"]


def test_unwatch_clears_a_dirty_state(server, conn):
    r = server.client()
    assert run(conn, ["WATCH", "k"]) == [b"OK"]
    r.set("k", "changed")
    assert run(conn, ["UNWATCH"], ["MULTI"], ["PING"], ["EXEC"])[3] == [b"PONG"]


def test_discard_and_exec_forget_watched_keys(server, conn):
    r = server.client()
    assert run(conn, ["WATCH", "k"], ["MULTI"], ["DISCARD"]) == [b"OK", b"OK", b"OK"]
    r.set("k", "1")
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] == [b"PONG"]
    assert run(conn, ["WATCH", "k"], ["MULTI"], ["EXEC"]) == [b"OK", b"OK", []]
    r.set("k", "2")
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] == [b"PONG"]


def test_aborted_exec_also_forgets_watched_keys(server, conn):
    r = server.client()
    assert run(conn, ["WATCH", "k"]) == [b"OK"]
    r.set("k", "1")
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] is None
    r.set("k", "2")
    assert run(conn, ["MULTI"], ["PING"], ["EXEC"])[2] == [b"PONG"]


def test_watch_twice_and_many_watchers_of_one_key(server):
    r = server.client()
    r.set("k", "v")
    watchers = [raw_connection(server) for _ in range(5)]
    try:
        for w in watchers:
            assert run(w, ["WATCH", "k", "k"], ["WATCH", "k"]) == [b"OK", b"OK"]
        r.set("k", "w")
        for w in watchers:
            assert run(w, ["MULTI"], ["PING"], ["EXEC"])[2] is None
    finally:
        for w in watchers:
            w.disconnect()


def test_disconnect_of_a_watcher_leaves_others_working(server):
    r = server.client()
    gone = raw_connection(server)
    stay = raw_connection(server)
    try:
        assert run(gone, ["WATCH", "k"]) == [b"OK"]
        assert run(stay, ["WATCH", "k"]) == [b"OK"]
        gone.disconnect()
        r.set("k", "1")
        assert run(stay, ["MULTI"], ["PING"], ["EXEC"])[2] is None
        # The server still answers, and a new watcher works normally.
        assert run(stay, ["WATCH", "k"], ["MULTI"], ["PING"], ["EXEC"])[3] == [b"PONG"]
    finally:
        stay.disconnect()


def test_null_reply_bytes_in_resp2_and_resp3(server_factory):
    srv = server_factory(resp3_enabled=True)
    r = srv.client()
    for proto, null in ((2, b"*-1\r\n"), (3, b"_\r\n")):
        with RawConn(srv.port) as c:
            if proto == 3:
                c.call("HELLO", "3")
            assert c.call("WATCH", "k") == "OK"
            r.set("k", str(proto))
            assert c.call("MULTI") == "OK"
            assert c.call("GET", "k") == "QUEUED"
            c.send(cmd("EXEC"))
            assert c.read_raw() == null


# --------------------------------------------------------------------------------------
# Atomicity


def test_exec_is_atomic_against_writers_on_other_workers(server_factory):
    srv = server_factory(workers=4)
    stop = threading.Event()
    errors = []

    def plain_writer():
        c = srv.client()
        try:
            while not stop.is_set():
                c.incr("a")
                c.incr("b")
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def txn_writer():
        c = raw_connection(srv)
        try:
            while not stop.is_set():
                r = run(c, ["MULTI"], ["INCR", "x"], ["INCR", "y"], ["EXEC"])
                assert r[3] is not None and r[3][0] == r[3][1], r
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            c.disconnect()

    threads = [threading.Thread(target=plain_writer) for _ in range(3)]
    threads += [threading.Thread(target=txn_writer) for _ in range(2)]
    for t in threads:
        t.start()
    reader = raw_connection(srv)
    try:
        changed = 0
        last = None
        for _ in range(200):
            r = run(reader, ["MULTI"], ["GET", "a"], ["GET", "b"], ["GET", "x"], ["GET", "a"],
                    ["GET", "b"], ["GET", "y"], ["EXEC"])[7]
            # Nothing else ran between the reads of one transaction.
            assert r[0] == r[3] and r[1] == r[4], r
            # Transactions of other clients are all-or-nothing for this reader.
            assert r[2] == r[5], r
            if r != last:
                changed += 1
            last = r
        # The writers were really running meanwhile.
        assert changed > 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        reader.disconnect()
    assert not errors, errors


# --------------------------------------------------------------------------------------
# Reads of the transaction's own writes

# EXEC keeps its writes until it ends (one batch: test_crash_types.py), so its commands read
# them over the DB: point reads, range reads (iterators, with and without a snapshot), RENAME
# and COPY (which copy sub-keys), stores, pops and a FLUSHDB in the middle (written at once,
# after what came before). Every type, on keys that already hold data (OWN_WRITES_SETUP).
OWN_WRITES_SETUP = [
    ["RPUSH", "l", "0", "1"],
    ["SADD", "s", "s0"],
    ["HSET", "h", "f0", "v0"],
    ["ZADD", "z", "0", "zero"],
    ["SETBIT", "b", "5", "1"],
    ["PFADD", "p", "p0"],
    ["SADD", "big"] + ["m%d" % i for i in range(1500)],
]
OWN_WRITES_SCRIPT = [
    ["RPUSH", "l", "a", "b", "c", "d", "e"], ["LRANGE", "l", "0", "-1"], ["LPOP", "l"],
    ["LPOP", "l"], ["LPOP", "l", "2"], ["RPOP", "l"], ["LRANGE", "l", "0", "-1"],
    ["LPUSH", "l", "x", "y"], ["LINDEX", "l", "-1"], ["LPOS", "l", "x"],
    ["LINSERT", "l", "BEFORE", "x", "w"], ["LSET", "l", "0", "Y"], ["LREM", "l", "0", "c"], ["LTRIM", "l", "0", "3"],
    ["LRANGE", "l", "0", "-1"], ["LMOVE", "l", "l2", "LEFT", "RIGHT"], ["LRANGE", "l2", "0", "-1"],
    ["SORT", "l", "ALPHA"],
    ["SADD", "s", "a", "b", "c"], ["SMEMBERS", "s"], ["SREM", "s", "b"], ["SCARD", "s"],
    ["SISMEMBER", "s", "a"], ["SINTER", "s", "s"], ["SUNIONSTORE", "s3", "s", "s"],
    ["SMEMBERS", "s3"], ["SMOVE", "s", "s2", "a"], ["SMEMBERS", "s2"], ["SSCAN", "s", "0"],
    ["SDIFFSTORE", "s4", "s3", "s2"], ["SMEMBERS", "s4"],
    ["HSET", "h", "f1", "v1", "f2", "v2"], ["HGETALL", "h"], ["HDEL", "h", "f1"], ["HKEYS", "h"],
    ["HVALS", "h"], ["HLEN", "h"], ["HSCAN", "h", "0"], ["HINCRBY", "h", "n", "5"],
    ["HMGET", "h", "f0", "f1", "n"], ["HGETALL", "h"],
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZRANGEBYSCORE", "z", "2", "+inf"], ["ZINCRBY", "z", "5", "a"], ["ZREVRANGE", "z", "0", "-1"],
    ["ZRANK", "z", "a"], ["ZREM", "z", "b"], ["ZCARD", "z"], ["ZCOUNT", "z", "-inf", "+inf"],
    ["ZUNIONSTORE", "zu", "2", "z", "z"], ["ZRANGE", "zu", "0", "-1", "WITHSCORES"],
    ["ZREMRANGEBYSCORE", "z", "0", "3"], ["ZRANGE", "z", "0", "-1"], ["ZPOPMIN", "zu"],
    ["ZSCAN", "zu", "0"], ["ZRANGEBYLEX", "zu", "-", "+"],
    ["SETBIT", "b", "10", "1"], ["SETBIT", "b", "100000", "1"], ["BITCOUNT", "b"],
    ["BITPOS", "b", "1"], ["GETBIT", "b", "10"], ["GET", "b"], ["BITOP", "OR", "b2", "b", "b"],
    ["BITCOUNT", "b2"],
    ["PFADD", "p", "a", "b", "c"], ["PFCOUNT", "p"], ["PFADD", "p2", "c", "d"],
    ["PFMERGE", "p3", "p", "p2"], ["PFCOUNT", "p3"],
    ["SET", "str", "v"], ["APPEND", "str", "w"], ["GET", "str"], ["INCR", "n"],
    ["MGET", "str", "n", "b", "nokey"],
    ["RENAME", "h", "h2"], ["HGETALL", "h2"], ["EXISTS", "h"], ["COPY", "z", "zc"],
    ["ZRANGE", "zc", "0", "-1", "WITHSCORES"], ["DEL", "s2"], ["SMEMBERS", "s2"],
    ["RENAME", "l2", "l3"], ["LRANGE", "l3", "0", "-1"],
    ["SCARD", "big"], ["DEL", "big"], ["SADD", "big", "again"], ["SMEMBERS", "big"],
    ["EXPIRE", "zc", "100000"], ["PERSIST", "zc"], ["TYPE", "zc"],
    ["KEYS", "*"], ["SCAN", "0", "COUNT", "100"], ["EXISTS", "l", "s", "h2", "zu", "b", "p3"],
    ["FLUSHDB"], ["KEYS", "*"], ["HGETALL", "h2"], ["SADD", "s", "late"], ["SMEMBERS", "s"],
    ["RPUSH", "l", "late"], ["LRANGE", "l", "0", "-1"], ["KEYS", "*"],
]


def test_exec_reads_its_own_writes_like_plain_commands(server):
    with RawConn(server.port, timeout=30) as c:
        for a in OWN_WRITES_SETUP:
            c.call(*a)
        plain = [c.call(*a) for a in OWN_WRITES_SCRIPT]
        after_plain = snapshot(server.client())
        assert c.call("FLUSHALL") == "OK"
        for a in OWN_WRITES_SETUP:
            c.call(*a)
        c.send(cmd("MULTI") + b"".join(cmd(*a) for a in OWN_WRITES_SCRIPT) + cmd("EXEC"))
        assert [c.read() for _ in range(len(OWN_WRITES_SCRIPT) + 1)] == \
            ["OK"] + ["QUEUED"] * len(OWN_WRITES_SCRIPT)
        in_exec = c.read()
    assert [(a, p, e) for a, p, e in zip(OWN_WRITES_SCRIPT, plain, in_exec) if p != e] == []
    assert snapshot(server.client()) == after_plain
    server.restart(kill9=True)
    assert snapshot(server.client()) == after_plain


# --------------------------------------------------------------------------------------
# Differential: reply shapes against redis-server


@pytest.mark.needs_redis
def test_transaction_replies_match_redis(server, redis_ref):
    script = [
        ["FLUSHALL"],
        ["EXEC"],
        ["DISCARD"],
        ["MULTI"],
        ["MULTI"],
        ["WATCH", "k"],
        ["SET", "k", "v"],
        ["INCR", "k"],
        ["APPEND", "k", "x"],
        ["GET", "k"],
        ["UNWATCH"],
        ["EXEC"],
        ["MULTI"],
        ["EXEC"],
        ["MULTI"],
        ["SET", "a", "1"],
        ["NOSUCHCMD", "a", "b"],
        ["SET", "a"],
        ["EXEC"],
        ["GET", "a"],
        ["MULTI"],
        ["GET"],
        ["DISCARD"],
        ["MULTI"],
        ["PING"],
        ["ECHO", "hello"],
        ["GETRANGE", "k", "0", "x"],
        ["EXEC"],
        ["WATCH", "k", "a"],
        ["SET", "a", "2"],
        ["MULTI"],
        ["GET", "a"],
        ["EXEC"],
        ["WATCH", "k"],
        ["MULTI"],
        ["GET", "k"],
        ["DEL", "k"],
        ["EXEC"],
        ["EXISTS", "k"],
        ["WATCH", "nokey"],
        ["FLUSHALL"],
        ["MULTI"],
        ["SET", "nokey", "1"],
        ["EXEC"],
        ["MULTI"],
        ["SHUTDOWN"],
        ["EXEC"],
        ["WATCH"],
        ["MULTI", "extra"],
        ["EXEC", "extra"],
        ["MULTI"],
        ["SET", "a", "3"],
        ["EXEC", "extra"],
        ["EXEC"],
        ["GET", "a"],
        ["MULTI"],
        ["DISCARD", "extra"],
        ["PING"],
        ["EXEC"],
        ["MULTI"],
        ["SET", "s", "1"],
        ["LPUSH", "s", "x"],
        ["BLPOP", "nolist", "0"],
        ["EXEC"],
        ["SUBSCRIBE", "ch"],
        ["EXEC"],
        ["MULTI"],
        ["UNSUBSCRIBE"],
        ["MULTI"],
        ["EXEC"],
    ]
    assert_same_replies(server, redis_ref, script)
