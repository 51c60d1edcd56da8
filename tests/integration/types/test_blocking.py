# SPDX-License-Identifier: Apache-2.0
"""Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) and the blocked-client
machinery, on a server with 4 workers and many connections (the kernel spreads connections
over the workers, so pushers and waiters sit on different workers):

- a push from any connection wakes a blocked client; the client blocked first is served first;
- timeouts with decimals, 0 = forever, the timeout reply shapes (RESP2 and RESP3);
- a pipeline behind a blocked command runs once it is served;
- disconnecting (or being killed) while blocked leaves nothing behind;
- BLMOVE wakes the clients waiting on its destination (chains);
- a key of another type keeps a waiter blocked (Redis 7.0); BLMOVE into a non-list fails;
- inside MULTI the commands do not block;
- a crowd of consumers and producers loses and duplicates nothing.
"""
import socket
import threading
import time

import pytest

from helpers.diff import assert_same_replies
from helpers.wait import wait_until, wait_for_value
from raw_resp import RawConn, cmd


@pytest.fixture
def srv(server_factory):
    return server_factory(workers=4, resp3_enabled=True)


def blocked(server):
    return server.info_field("blocked_clients", "clients")


def wait_blocked(server, n):
    wait_for_value(lambda: blocked(server), n, timeout=10, msg="blocked_clients")


def block(server, *args, expect_blocked=None):
    """Open a connection, send a blocking command, wait until the server counts it blocked."""
    conn = RawConn(server.port)
    before = blocked(server) if expect_blocked is None else expect_blocked - 1
    conn.send(cmd(*args))
    wait_blocked(server, before + 1)
    return conn


def test_push_from_any_connection_wakes_the_waiter(srv):
    c = srv.client()
    for i in range(8):
        waiter = block(srv, "BLPOP", "q%d" % i, "0")
        # A fresh connection each time: over 8 rounds pushers land on other workers.
        pusher = srv.client()
        assert pusher.rpush("q%d" % i, "v%d" % i) == 1
        assert waiter.read() == [b"q%d" % i, b"v%d" % i]
        waiter.close()
        pusher.close()
    wait_blocked(srv, 0)
    assert all(c.exists("q%d" % i) == 0 for i in range(8))


def test_clients_are_served_in_blocking_order(srv):
    c = srv.client()
    waiters = [block(srv, "BLPOP", "fifo", "0") for _ in range(6)]
    # One push with several elements serves the first clients in order...
    assert c.rpush("fifo", "1", "2", "3") == 3
    for i in range(3):
        assert waiters[i].read() == [b"fifo", b"%d" % (i + 1)]
    wait_blocked(srv, 3)
    # ... and pushes one at a time serve the rest, still in order.
    for i in range(3, 6):
        assert c.rpush("fifo", "x%d" % i) == 1
        assert waiters[i].read() == [b"fifo", b"x%d" % i]
    assert c.exists("fifo") == 0
    for w in waiters:
        w.close()


def test_waiter_on_several_keys_and_pop_sides(srv):
    c = srv.client()
    w = block(srv, "BRPOP", "k1", "k2", "k3", "0")
    c.rpush("k2", "a", "b")
    assert w.read() == [b"k2", b"b"]
    assert c.lrange("k2", 0, -1) == [b"a"]
    # Data already there: served at once from the first non-empty key in argument order.
    c.rpush("k3", "z")
    assert w.call("BLPOP", "k1", "k3", "k2", "0") == [b"k3", b"z"]
    # BLMPOP with COUNT takes several.
    w.send(cmd("BLMPOP", "0", "2", "m1", "m2", "LEFT", "COUNT", "5"))
    wait_blocked(srv, 1)
    c.rpush("m2", "1", "2", "3")
    assert w.read() == [b"m2", [b"1", b"2", b"3"]]
    # BRPOPLPUSH and BLMOVE.
    w.send(cmd("BRPOPLPUSH", "src", "dst", "0"))
    wait_blocked(srv, 1)
    c.rpush("src", "s1", "s2")
    assert w.read() == b"s2"
    assert c.lrange("dst", 0, -1) == [b"s2"]
    w.send(cmd("BLMOVE", "empty", "dst", "LEFT", "RIGHT", "0"))
    wait_blocked(srv, 1)
    c.lpush("empty", "e")
    assert w.read() == b"e"
    assert c.lrange("dst", 0, -1) == [b"s2", b"e"]
    # A key given twice, and many keys at once.
    w.send(cmd("BLPOP", "dup", "other", "dup", "0"))
    wait_blocked(srv, 1)
    c.rpush("dup", "1", "2")
    assert w.read() == [b"dup", b"1"]
    assert c.lrange("dup", 0, -1) == [b"2"]
    keys = ["many%d" % i for i in range(20000)]
    w.send(cmd("BRPOP", *keys, "0"))
    wait_blocked(srv, 1)
    c.rpush(keys[-1], "last")
    assert w.read() == [keys[-1].encode(), b"last"]
    wait_blocked(srv, 0)
    w.close()


def test_timeout_with_decimals_and_reply_shapes(srv):
    w = RawConn(srv.port)
    start = time.monotonic()
    w.send(cmd("BLPOP", "none", "0.3"))
    assert w.read_raw(timeout=5) == b"*-1\r\n"
    elapsed = time.monotonic() - start
    assert 0.28 <= elapsed < 3, elapsed
    # Redis 7.0 answers a BLMOVE / BRPOPLPUSH timeout with a null array too.
    for args in (["BLMOVE", "none", "d", "LEFT", "LEFT", "0.05"], ["BRPOPLPUSH", "none", "d", "0.05"],
                 ["BLMPOP", "0.05", "1", "none", "LEFT"], ["BRPOP", "none", "0.05"]):
        w.send(cmd(*args))
        assert w.read_raw(timeout=5) == b"*-1\r\n", args
    # RESP3: a null.
    assert isinstance(w.call("HELLO", "3"), list)
    for args in (["BLPOP", "none", "0.05"], ["BLMOVE", "none", "d", "LEFT", "LEFT", "0.05"]):
        w.send(cmd(*args))
        assert w.read_raw(timeout=5) == b"_\r\n", args
    w.close()
    wait_blocked(srv, 0)


def test_zero_timeout_waits_until_served(srv):
    c = srv.client()
    w = block(srv, "BLPOP", "forever", "0")
    assert w.is_open(wait=0.6)  # no reply, no close
    assert blocked(srv) == 1
    c.rpush("forever", "late")
    assert w.read() == [b"forever", b"late"]
    w.close()


def test_pipeline_behind_a_blocked_command_resumes(srv):
    c = srv.client()
    w = RawConn(srv.port)
    w.send(cmd("BLPOP", "p", "0") + cmd("PING") + cmd("RPUSH", "after", "x") + cmd("ECHO", "hi"))
    wait_blocked(srv, 1)
    assert w.is_open(wait=0.3)
    assert c.exists("after") == 0  # the rest of the pipeline has not run
    c.rpush("p", "v")
    assert w.read() == [b"p", b"v"]
    assert w.read() == "PONG"
    assert w.read() == 1
    assert w.read() == b"hi"
    # The same with a timeout instead of a push.
    w.send(cmd("BLPOP", "p", "0.1") + cmd("LLEN", "after"))
    assert w.read() is None
    assert w.read() == 1
    w.close()


def test_disconnect_while_blocked_leaves_nothing(srv):
    c = srv.client()
    waiters = [block(srv, "BLPOP", "gone", "other", "0") for _ in range(3)]
    for w in waiters:
        w.close()
    wait_blocked(srv, 0)
    # Nobody is left to consume a push.
    c.rpush("gone", "kept")
    assert c.lrange("gone", 0, -1) == [b"kept"]
    # A new waiter behind the vanished ones is served normally.
    c.delete("gone")
    w = block(srv, "BLPOP", "gone", "0")
    c.rpush("gone", "x")
    assert w.read() == [b"gone", b"x"]
    w.close()
    # Killed while blocked: the connection is closed and unregistered.
    w = block(srv, "BLPOP", "killed", "0")
    ids = [line.split()[0].split("=")[1] for line in
           c.execute_command("CLIENT", "LIST").decode().splitlines() if "flags=b" in line]
    assert len(ids) == 1
    assert c.execute_command("CLIENT", "KILL", "ID", ids[0]) == 1
    assert w.read_until_closed() == b""
    wait_blocked(srv, 0)
    c.rpush("killed", "v")
    assert c.llen("killed") == 1


def test_first_waiter_gone_then_next_is_served(srv):
    c = srv.client()
    first = block(srv, "BLPOP", "line", "0")
    second = block(srv, "BLPOP", "line", "0")
    first.close()
    wait_blocked(srv, 1)
    c.rpush("line", "v")
    assert second.read() == [b"line", b"v"]
    second.close()


def test_timed_out_first_waiter_passes_the_turn(srv):
    c = srv.client()
    first = block(srv, "BLPOP", "turn", "0.2")
    second = block(srv, "BLPOP", "turn", "0")
    assert first.read(timeout=5) is None
    wait_blocked(srv, 1)
    c.rpush("turn", "v")
    assert second.read() == [b"turn", b"v"]
    first.close()
    second.close()


def test_rename_and_copy_onto_a_watched_key_serve_it(srv):
    c = srv.client()
    w = block(srv, "BLPOP", "renamed", "0")
    c.rpush("src", "x")
    assert c.rename("src", "renamed") is True
    assert w.read() == [b"renamed", b"x"]
    w.send(cmd("BLPOP", "copied", "0"))
    wait_blocked(srv, 1)
    c.rpush("src", "y")
    assert c.copy("src", "copied") is True
    assert w.read() == [b"copied", b"y"]
    assert c.lrange("src", 0, -1) == [b"y"]
    w.close()


def test_blmove_chain_wakes_destination_waiters(srv):
    c = srv.client()
    a = block(srv, "BLMOVE", "l1", "l2", "LEFT", "LEFT", "0")
    b = block(srv, "BRPOPLPUSH", "l2", "l3", "0")
    d = block(srv, "BLPOP", "l3", "0")
    c.rpush("l1", "token")
    assert a.read() == b"token"
    assert b.read() == b"token"
    assert d.read() == [b"l3", b"token"]
    wait_blocked(srv, 0)
    assert [c.exists(k) for k in ("l1", "l2", "l3")] == [0, 0, 0]
    # BLMOVE from a list onto itself blocks while the list is empty, and a push serves it (a
    # rotation).
    r = block(srv, "BLMOVE", "ring", "ring", "LEFT", "RIGHT", "0")
    c.rpush("ring", "1", "2")
    assert r.read() == b"1"
    assert c.lrange("ring", 0, -1) == [b"2", b"1"]
    for conn in (a, b, d, r):
        conn.close()


def test_other_types_keep_waiters_blocked(srv):
    c = srv.client()
    w = block(srv, "BLPOP", "typed", "0")
    c.set("typed", "string")
    assert w.is_open(wait=0.3)
    assert blocked(srv) == 1
    c.delete("typed")
    c.rpush("typed", "now")
    assert w.read() == [b"typed", b"now"]
    # BLMOVE whose destination became a non-list when the source gets data: WRONGTYPE, and the
    # element stays in the source.
    w.send(cmd("BLMOVE", "from", "to", "LEFT", "LEFT", "0"))
    wait_blocked(srv, 1)
    c.set("to", "string")
    c.rpush("from", "e")
    assert w.read() == "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert c.lrange("from", 0, -1) == [b"e"]
    wait_blocked(srv, 0)
    w.close()


def test_multi_does_not_block(srv):
    w = RawConn(srv.port)
    assert w.call("MULTI") == "OK"
    for args in (["BLPOP", "m", "0"], ["BRPOP", "m", "10"], ["BLMPOP", "0", "1", "m", "LEFT"],
                 ["BLMOVE", "m", "n", "LEFT", "LEFT", "0"], ["BRPOPLPUSH", "m", "n", "0"],
                 ["RPUSH", "m", "x"], ["BLPOP", "m", "0"]):
        assert w.call(*args) == "QUEUED"
    w.send(cmd("EXEC"))
    assert w.read_raw(timeout=5) == (b"*7\r\n*-1\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n:1\r\n"
                                     b"*2\r\n$1\r\nm\r\n$1\r\nx\r\n")
    assert blocked(srv) == 0
    w.close()


def test_push_inside_multi_serves_after_exec(srv):
    c = srv.client()
    w = block(srv, "BLPOP", "tx", "0")
    pipe = c.pipeline(transaction=True)
    pipe.rpush("tx", "1")
    pipe.lpop("tx")
    pipe.execute()
    # Pushed and popped inside one transaction: nothing for the waiter.
    assert w.is_open(wait=0.3)
    pipe = c.pipeline(transaction=True)
    pipe.rpush("tx", "a")
    pipe.rpush("tx", "b")
    pipe.execute()
    assert w.read() == [b"tx", b"a"]
    assert c.lrange("tx", 0, -1) == [b"b"]
    w.close()


def test_info_and_client_list_show_blocked_clients(srv):
    c = srv.client()
    ws = [block(srv, "BLPOP", "i%d" % i, "0") for i in range(3)]
    assert blocked(srv) == 3
    flags = [line for line in c.execute_command("CLIENT", "LIST").decode().splitlines()
             if "flags=b" in line]
    assert len(flags) == 3 and all("cmd=blpop" in line for line in flags)
    for i, w in enumerate(ws):
        c.rpush("i%d" % i, "v")
        assert w.read() == [b"i%d" % i, b"v"]
    wait_blocked(srv, 0)
    for w in ws:
        w.close()


def test_many_timeouts_and_server_stays_responsive(srv):
    c = srv.client()
    ws = []
    for i in range(20):
        w = RawConn(srv.port)
        w.send(cmd("BLPOP", "t%d" % (i % 3), "0.%d" % (2 + i % 3)))
        ws.append(w)
    wait_until(lambda: blocked(srv) >= 1, timeout=5)
    assert c.ping() is True
    for w in ws:
        assert w.read_raw(timeout=5) == b"*-1\r\n"
        w.close()
    wait_blocked(srv, 0)


def test_shutdown_with_blocked_clients(srv):
    ws = [block(srv, "BLPOP", "s", "0") for _ in range(4)]
    srv.stop()  # teardown fails the test if the server does not exit cleanly
    for w in ws:
        w.close()


def test_push_racing_with_the_block_is_not_lost(srv):
    """A push that lands between the waiter's first attempt and its registration must still
    wake it. The waiter watches many keys (its first attempt reads them all, which widens that
    window) and the push goes to the first key, sent at the same moment from another
    connection (often on another worker); many rounds."""
    nkeys = 300
    pairs = [(RawConn(srv.port), RawConn(srv.port)) for _ in range(4)]
    try:
        for round_ in range(400):
            a, b = pairs[round_ % len(pairs)]
            keys = ["race%d-%d" % (round_, i) for i in range(nkeys)]
            a.send(cmd("BLPOP", *keys, "0"))
            b.send(cmd("RPUSH", keys[0], "v"))
            assert b.read() == 1
            assert a.read(timeout=5) == [keys[0].encode(), b"v"], round_
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_producers_and_consumers_deliver_each_element_once(srv):
    n_producers, per_producer, n_consumers = 4, 150, 6
    total = n_producers * per_producer
    got = []
    lock = threading.Lock()
    errors = []

    def consumer():
        conn = RawConn(srv.port, timeout=30)
        try:
            while True:
                reply = conn.call("BLMPOP", "1", "2", "work", "aux", "LEFT")
                if reply is None:
                    return
                key, items = reply
                # Half of the elements take a detour through the second list.
                for item in items:
                    if item.startswith(b"hop:"):
                        conn.call("RPUSH", "aux", item[4:])
                    else:
                        with lock:
                            got.append(item)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    def producer(p):
        c = srv.client()
        for i in range(per_producer):
            item = "p%d-%d" % (p, i)
            c.rpush("work", ("hop:" + item) if i % 2 else item)

    consumers = [threading.Thread(target=consumer) for _ in range(n_consumers)]
    for t in consumers:
        t.start()
    producers = [threading.Thread(target=producer, args=(p,)) for p in range(n_producers)]
    for t in producers:
        t.start()
    for t in producers:
        t.join()
    wait_until(lambda: len(got) >= total, timeout=30, msg=lambda: "%d of %d" % (len(got), total))
    # Consumers now time out (1 s) and exit.
    for t in consumers:
        t.join(30)
    assert not errors, errors
    assert sorted(got) == sorted(b"p%d-%d" % (p, i) for p in range(n_producers)
                                 for i in range(per_producer))
    c = srv.client()
    assert c.exists("work", "aux") == 0
    wait_blocked(srv, 0)


# --------------------------------------------------------------------------------------
# Observability and control: INFO blocked_clients, CLIENT UNBLOCK, SLAVEOF, timeout parsing


def test_info_blocked_clients_follows_waiters(srv):
    c = srv.client()
    assert blocked(srv) == 0
    a = block(srv, "BLPOP", "ia", "0")
    b = block(srv, "BZPOPMIN", "iz", "0")
    t = block(srv, "BRPOP", "ib", "0.5")
    assert blocked(srv) == 3
    c.rpush("ia", "x")
    assert a.read() == [b"ia", b"x"]
    wait_blocked(srv, 2)
    b.close()
    wait_blocked(srv, 1)
    assert t.read_raw(timeout=5) == b"*-1\r\n"
    wait_blocked(srv, 0)
    a.close()
    t.close()


def test_client_unblock_timeout_and_error(srv):
    c = srv.client()
    w = RawConn(srv.port)
    wid = w.call("CLIENT", "ID")
    # Not blocked (yet), or no such client: 0.
    assert c.execute_command("CLIENT", "UNBLOCK", wid) == 0
    assert c.execute_command("CLIENT", "UNBLOCK", 987654321) == 0
    assert c.execute_command("CLIENT", "UNBLOCK", -3) == 0
    # TIMEOUT (the default): the timeout reply of the command, then the pipeline goes on.
    w.send(cmd("BLPOP", "uq", "0") + cmd("PING"))
    wait_blocked(srv, 1)
    assert c.execute_command("CLIENT", "UNBLOCK", wid) == 1
    assert w.read_raw(timeout=5) == b"*-1\r\n"
    assert w.read() == "PONG"
    wait_blocked(srv, 0)
    w.send(cmd("BLMOVE", "uq", "d", "LEFT", "LEFT", "0"))
    wait_blocked(srv, 1)
    assert c.execute_command("CLIENT", "UNBLOCK", wid, "timeout") == 1
    assert w.read_raw(timeout=5) == b"*-1\r\n"
    # ERROR: an -UNBLOCKED error.
    w.send(cmd("BZPOPMAX", "uz", "0"))
    wait_blocked(srv, 1)
    assert c.execute_command("CLIENT", "UNBLOCK", wid, "ERROR") == 1
    assert w.read_raw(timeout=5) == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    wait_blocked(srv, 0)
    # The unblocked client left the key's queue: a later push stays in the list.
    assert c.rpush("uq", "v") == 1
    assert c.lrange("uq", 0, -1) == [b"v"]
    # Unblocking twice: the second finds nothing.
    assert c.execute_command("CLIENT", "UNBLOCK", wid) == 0
    assert w.call("PING") == "PONG"
    w.close()


def test_client_unblock_argument_errors(srv):
    with RawConn(srv.port) as c:
        assert c.call("CLIENT", "UNBLOCK", "abc") == "ERR value is not an integer or out of range"
        assert c.call("CLIENT", "UNBLOCK", "1", "foo") == \
            "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
        assert c.call("CLIENT", "UNBLOCK", "1", "timeout", "x") == \
            "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."
        assert c.call("CLIENT", "UNBLOCK") == \
            "ERR wrong number of arguments for 'client|unblock' command"


def test_becoming_a_replica_unblocks_with_an_error_and_closes(srv, server_factory):
    master = server_factory()
    waiters = [block(srv, "BLPOP", "rq", "0"), block(srv, "BZPOPMIN", "rz", "0"),
               block(srv, "BLMOVE", "rq2", "d", "LEFT", "RIGHT", "100")]
    # A pipelined command behind a waiter is not run: the connection closes after the error.
    waiters[0].send(cmd("RPUSH", "after", "x"))
    c = srv.client()
    assert c.execute_command("SLAVEOF", "127.0.0.1", master.port) is True
    for w in waiters:
        assert w.read_raw(timeout=5) == (
            b"-UNBLOCKED force unblock from blocking operation, instance state changed "
            b"(master -> replica?)\r\n")
        assert w.read_until_closed(timeout=5) == b""
        w.close()
    wait_blocked(srv, 0)
    assert c.execute_command("SLAVEOF", "NO", "ONE") is True
    assert c.exists("after") == 0


@pytest.mark.parametrize("value,error", [
    ("-1", "ERR timeout is negative"),
    ("-0.002", "ERR timeout is negative"),
    ("-inf", "ERR timeout is negative"),
    ("inf", "ERR timeout is negative"),
    ("1e20", "ERR timeout is negative"),
    ("9223372036854776", "ERR timeout is negative"),
    ("abc", "ERR timeout is not a float or out of range"),
    ("nan", "ERR timeout is not a float or out of range"),
    ("", "ERR timeout is not a float or out of range"),
    (" 1", "ERR timeout is not a float or out of range"),
    ("1 ", "ERR timeout is not a float or out of range"),
    ("1e3x", "ERR timeout is not a float or out of range"),
])
def test_invalid_timeouts(srv, value, error):
    with RawConn(srv.port) as c:
        for args in (["BLPOP", "tq", value], ["BRPOP", "tq", value],
                     ["BLMOVE", "tq", "d", "LEFT", "LEFT", value], ["BRPOPLPUSH", "tq", "d", value],
                     ["BLMPOP", value, "1", "tq", "LEFT"], ["BZPOPMIN", "tz", value],
                     ["BZMPOP", value, "1", "tz", "MIN"]):
            assert c.call(*args) == error, args
    assert blocked(srv) == 0


def test_timeout_rounding(srv):
    """Redis 7.0 takes ceil(seconds * 1000) ms: a tiny positive timeout is 1 ms (it times out),
    a tiny negative one rounds to 0 (forever)."""
    c = srv.client()
    with RawConn(srv.port) as w:
        for value in ("0.0001", "1e-300", "+0.001"):
            w.send(cmd("BLPOP", "rt", value))
            assert w.read_raw(timeout=5) == b"*-1\r\n", value
        wid = w.call("CLIENT", "ID")
        for value in ("-0.0009", "-0", "0.0", "0x0"):
            w.send(cmd("BLPOP", "rt", value))
            wait_blocked(srv, 1)
            assert c.rpush("rt", value) == 1
            assert w.read() == [b"rt", value.encode()], value
        # A timeout too long for any deadline blocks like 0.
        w.send(cmd("BZPOPMIN", "rz", "9223372036854775"))
        wait_blocked(srv, 1)
        assert c.execute_command("CLIENT", "UNBLOCK", wid) == 1
        assert w.read_raw(timeout=5) == b"*-1\r\n"
    wait_blocked(srv, 0)


@pytest.mark.needs_redis
def test_timeout_errors_match_redis(srv, redis_ref):
    script = []
    for value in ("-1", "-0.002", "-inf", "inf", "1e20", "9223372036854776", "abc", "nan", "",
                  " 1", "1e3x", "0.0001", "1e-300"):
        script.append(["BLPOP", "dq", value])
        script.append(["BZPOPMAX", "dz", value])
    script.append(["CLIENT", "UNBLOCK", "abc"])
    script.append(["CLIENT", "UNBLOCK", "1", "bad"])
    script.append(["CLIENT", "UNBLOCK", "1", "error", "x"])
    script.append(["CLIENT", "unBlock", "1", "error", "x"])
    script.append(["CLIENT", "UNBLOCK", "999999"])
    assert_same_replies(srv.client(), redis_ref.client(), script)


@pytest.mark.parametrize("how", ["rename", "copy", "sort_store"])
def test_keyspace_writes_serve_waiters(srv, how):
    """RENAME, COPY and SORT ... STORE creating the awaited list serve its first waiter, as
    Redis 7.0 does (they report the destination as touched)."""
    c = srv.client()
    c.rpush("src", "b", "a")
    w = block(srv, "BLPOP", "dst", "0")
    if how == "rename":
        assert c.rename("src", "dst") is True
        want = b"b"
    elif how == "copy":
        assert c.copy("src", "dst") is True
        want = b"b"
    else:
        assert c.execute_command("SORT", "src", "ALPHA", "STORE", "dst") == 2
        want = b"a"
    assert w.read() == [b"dst", want]
    wait_blocked(srv, 0)
    assert c.llen("dst") == 1
    w.close()
