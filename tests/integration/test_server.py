# SPDX-License-Identifier: Apache-2.0
"""Server commands: TIME, DBSIZE, FLUSHDB, FLUSHALL, COMMAND, SHUTDOWN, DEBUG SLEEP, SLOWLOG.

Error texts are compared with Debian's redis-server 7.0 where Redis has the same command and
the same behaviour (tests marked needs_redis); Kvrocks-only forms (DBSIZE SCAN) follow
Kvrocks.
"""
import threading
import time

import pytest
import redis

from helpers.diff import ErrorReply, assert_same_replies, raw_connection, run_commands
from helpers.wait import scaled, wait_until
from raw_resp import RawConn, cmd


def raw(server, *commands):
    """Run commands on one raw connection; error replies come back as ErrorReply."""
    conn = raw_connection(server)
    try:
        return run_commands(conn, [list(c) for c in commands])
    finally:
        conn.disconnect()


# --------------------------------------------------------------------------------------
# TIME


def test_time_is_the_wall_clock(server):
    before = time.time()
    secs, usecs = server.command("TIME")
    after = time.time()
    assert isinstance(secs, bytes) and isinstance(usecs, bytes)
    now = int(secs) + int(usecs) / 1e6
    assert 0 <= int(usecs) < 1_000_000
    assert before - 1 <= now <= after + 1


def test_time_rejects_arguments(server):
    assert raw(server, ["TIME", "x"]) == [
        ErrorReply("ERR wrong number of arguments for 'time' command")]


# --------------------------------------------------------------------------------------
# DBSIZE


def test_dbsize_counts_live_keys(server):
    c = server.client()
    assert c.dbsize() == 0
    for i in range(25):
        c.set("k%d" % i, "v")
    assert c.dbsize() == 25
    assert c.delete("k0", "k1", "missing") == 2
    assert c.dbsize() == 23
    # An expired key is not counted, even before compaction removes it.
    c.set("short", "v")
    assert c.pexpire("short", 50) is True
    assert c.dbsize() == 24
    wait_until(lambda: c.get("short") is None, timeout=5, msg="key 'short' expires")
    assert c.dbsize() == 23


def test_dbsize_scan_is_accepted(server):
    c = server.client()
    c.set("a", "1")
    assert c.execute_command("DBSIZE", "SCAN") == b"OK"
    assert c.execute_command("dbsize", "scan") == b"OK"


def test_dbsize_errors(server):
    assert raw(server, ["DBSIZE", "foo"], ["DBSIZE", "scan", "x"]) == [
        ErrorReply("ERR DBSIZE subcommand only supports scan"),
        ErrorReply("ERR DBSIZE subcommand only supports scan"),
    ]


# --------------------------------------------------------------------------------------
# FLUSHDB / FLUSHALL


def fill(c, n, prefix="key"):
    for i in range(n):
        c.set("%s:%d" % (prefix, i), "value-%d" % i)


def test_flushdb_empties_the_keyspace(server):
    c = server.client()
    fill(c, 50)
    c.set("with-ttl", "v", ex=1000)
    assert c.dbsize() == 51
    assert c.flushdb() is True
    assert c.dbsize() == 0
    assert c.get("key:7") is None
    assert c.exists("with-ttl") == 0
    assert c.keys("*") == []
    # The keyspace is usable again at once, and the flush is durable.
    c.set("after", "1")
    server.restart()
    c = server.client()
    assert c.dbsize() == 1
    assert c.get("after") == b"1"
    assert c.get("key:7") is None


@pytest.mark.parametrize("mode", ["ASYNC", "SYNC", "async"])
def test_flushdb_and_flushall_accept_async_and_sync(server, mode):
    c = server.client()
    fill(c, 5)
    assert raw(server, ["FLUSHDB", mode]) == [b"OK"]
    assert c.dbsize() == 0
    fill(c, 5)
    assert raw(server, ["FLUSHALL", mode]) == [b"OK"]
    assert c.dbsize() == 0


def test_flushall_empties_the_keyspace(server):
    c = server.client()
    fill(c, 30)
    assert c.flushall() is True
    assert c.dbsize() == 0
    assert c.get("key:1") is None
    server.restart()
    assert server.client().dbsize() == 0


def test_flush_errors(server):
    c = server.client()
    c.set("survivor", "1")
    assert raw(server, ["FLUSHDB", "foo"], ["FLUSHDB", "async", "sync"], ["FLUSHALL", "now"]) == [
        ErrorReply("ERR syntax error")] * 3
    # A refused flush deletes nothing.
    assert c.get("survivor") == b"1"


@pytest.mark.parametrize("flush", ["FLUSHDB", "FLUSHALL"])
def test_flush_keeps_nothing_acknowledged_before_it(server_factory, flush):
    """Writers on other workers keep adding fields to one hash while a client flushes: after
    each flush, no field acknowledged before it was sent is there. FLUSHDB used to run
    alongside other commands: a write staged by another worker (or just running) from metadata
    read before the flush landed after it, and the hash came back whole with its old fields."""
    server = server_factory(workers=4)
    nwriters = 4
    acked = [-1] * nwriters
    stop = threading.Event()
    errors = []

    def writer(n):
        try:
            with RawConn(server.port, timeout=30) as c:
                i = 0
                while not stop.is_set():
                    c.send(b"".join(cmd("HSET", "h", "f%d:%d" % (n, i + j), "v")
                                    for j in range(8)))
                    for _ in range(8):
                        c.read()
                    acked[n] = i + 7
                    i += 8
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,), daemon=True)
               for n in range(nwriters)]
    for t in threads:
        t.start()
    resurrected = []
    try:
        with RawConn(server.port, timeout=30) as c:
            for _ in range(150):
                before = list(acked)
                wait_until(lambda: all(a > b for a, b in zip(acked, before)) or errors,
                           timeout=10, interval=0.001, msg="writers at work")
                assert not errors, errors
                sent = list(acked)
                assert c.call(flush) == "OK"
                flat = c.call("HGETALL", "h")
                old = [f for f in flat[0::2]
                       if int(f[1:].split(b":")[1]) <= sent[int(f[1:].split(b":")[0])]]
                if old:
                    resurrected.append((len(flat) // 2, old[:3]))
    finally:
        stop.set()
        for t in threads:
            t.join(scaled(10))
    assert not errors, errors
    assert resurrected == [], "fields acknowledged before %s still there after it: %r" % (
        flush, resurrected[:5])


@pytest.mark.needs_redis
def test_flush_errors_match_redis(server, redis_ref):
    assert_same_replies(server, redis_ref, [
        ["FLUSHDB", "foo"],
        ["FLUSHDB", "a", "b"],
        ["FLUSHALL", "foo"],
        ["FLUSHDB", "SYNC"],
        ["FLUSHALL", "ASYNC"],
        ["TIME", "x"],
        ["DBSIZE"],
    ])


# --------------------------------------------------------------------------------------
# COMMAND


def command_info(entry):
    name, arity, flags, first, last, step = entry
    return {"name": name.decode(), "arity": arity, "flags": {f.decode() for f in flags},
            "first": first, "last": last, "step": step}


def test_command_lists_every_command(server):
    entries = server.command("COMMAND")
    count = server.command("COMMAND", "COUNT")
    assert count == len(entries) > 20
    infos = [command_info(e) for e in entries]
    names = [i["name"] for i in infos]
    assert len(set(names)) == len(names), "a command is listed twice"
    for needed in ("get", "set", "del", "info", "config", "client", "command", "ping"):
        assert needed in names
    # COMMAND LIST has the same names.
    listed = sorted(n.decode() for n in server.command("COMMAND", "LIST"))
    assert listed == sorted(names)
    for info in infos:
        if info["first"] > 0:
            assert len(info["flags"] & {"write", "readonly"}) == 1, info


def test_command_info(server):
    get, set_, missing, ping = server.command("COMMAND", "INFO", "get", "SET", "nosuch", "Ping")
    assert missing is None
    get, set_, ping = command_info(get), command_info(set_), command_info(ping)
    assert (get["name"], get["arity"], get["first"], get["last"], get["step"]) == \
        ("get", 2, 1, 1, 1)
    assert "readonly" in get["flags"] and "write" not in get["flags"]
    assert set_["name"] == "set" and set_["arity"] < 0 and "write" in set_["flags"]
    assert (ping["first"], ping["last"], ping["step"]) == (0, 0, 0)
    config = command_info(server.command("COMMAND", "INFO", "config")[0])
    assert "admin" in config["flags"]
    # Without names: every command.
    assert len(server.command("COMMAND", "INFO")) == server.command("COMMAND", "COUNT")


def test_command_info_is_parsed_by_redis_py(server):
    info = server.client().command()
    assert info["get"]["arity"] == 2
    assert info["del"]["first_key_pos"] == 1 and info["del"]["last_key_pos"] == -1


def test_command_docs(server):
    docs = server.command("COMMAND", "DOCS", "get", "nosuch", "client")
    assert docs == [b"get", [b"group", b"string"], b"client", [b"group", b"connection"]]
    assert server.command("COMMAND", "DOCS", "nosuch") == []
    every = server.command("COMMAND", "DOCS")
    assert len(every) == 2 * server.command("COMMAND", "COUNT")


def test_command_list_filters(server):
    names = {n.decode() for n in server.command("COMMAND", "LIST", "FILTERBY", "PATTERN", "c*")}
    assert {"config", "client", "command"} <= names
    assert all(n.startswith("c") for n in names)
    upper = server.command("COMMAND", "LIST", "FILTERBY", "pattern", "CONF?G")
    assert upper == [b"config"]
    assert server.command("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == []
    strings = {n.decode() for n in server.command("COMMAND", "LIST", "FILTERBY", "ACLCAT",
                                                  "string")}
    assert {"get", "set"} <= strings and "config" not in strings
    admin = {n.decode() for n in server.command("COMMAND", "LIST", "FILTERBY", "ACLCAT",
                                                "admin")}
    assert {"config", "shutdown", "flushall"} <= admin and "get" not in admin


def test_command_getkeys(server):
    assert server.command("COMMAND", "GETKEYS", "GET", "k") == [b"k"]
    assert server.command("COMMAND", "GETKEYS", "set", "a", "b") == [b"a"]
    assert server.command("COMMAND", "GETKEYS", "del", "a", "b", "c") == [b"a", b"b", b"c"]
    assert server.command("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2") == [b"a", b"b"]


def test_command_errors(server):
    assert raw(server,
               ["COMMAND", "COUNT", "x"],
               ["COMMAND", "nosuch"],
               ["COMMAND", "GETKEYS", "get"],
               ["COMMAND", "GETKEYS", "nosuch", "a"],
               ["COMMAND", "GETKEYS", "get", "a", "b"],
               ["COMMAND", "GETKEYS", "ping", "x"],
               ["COMMAND", "LIST", "FILTERBY"],
               ["COMMAND", "LIST", "FILTERBY", "foo", "x"],
               ["COMMAND", "LIST", "x"]) == [
        ErrorReply("ERR wrong number of arguments for 'command|count' command"),
        ErrorReply("ERR unknown subcommand 'nosuch'. Try COMMAND HELP."),
        ErrorReply("ERR wrong number of arguments for 'command|getkeys' command"),
        ErrorReply("ERR Invalid command specified"),
        ErrorReply("ERR Invalid number of arguments specified for command"),
        ErrorReply("ERR The command has no key arguments"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR syntax error"),
    ]


@pytest.mark.needs_redis
def test_command_errors_match_redis(server, redis_ref):
    assert_same_replies(server, redis_ref, [
        ["COMMAND", "COUNT", "x"],
        ["COMMAND", "nosuch"],
        ["COMMAND", "GETKEYS"],
        ["COMMAND", "GETKEYS", "get"],
        ["COMMAND", "GETKEYS", "nosuch", "a"],
        ["COMMAND", "GETKEYS", "get", "a", "b"],
        ["COMMAND", "GETKEYS", "ping", "x"],
        ["COMMAND", "GETKEYS", "get", "a"],
        ["COMMAND", "GETKEYS", "del", "a", "b"],
        ["COMMAND", "LIST", "FILTERBY"],
        ["COMMAND", "LIST", "FILTERBY", "foo", "x"],
        ["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
        ["COMMAND", "DOCS", "nosuch"],
        ["COMMAND", "INFO", "nosuch"],
    ])


def test_command_help(server):
    lines = server.command("COMMAND", "HELP")
    assert lines[0].startswith(b"COMMAND <subcommand>")
    assert b"COUNT" in lines and lines[-2:] == [b"HELP", b"    Prints this help."]


# --------------------------------------------------------------------------------------
# SHUTDOWN


def shutdown_and_wait(server, *args):
    c = server.client()
    with pytest.raises(redis.ConnectionError):
        c.execute_command("SHUTDOWN", *args)
    return server.wait_exit(timeout=15)


def test_shutdown_stops_cleanly_and_keeps_the_data(server):
    c = server.client()
    fill(c, 100)
    c.set("last", "written just before SHUTDOWN")
    assert shutdown_and_wait(server) == 0
    assert not server.is_running()
    log = server.log_text()
    assert "SHUTDOWN command received" in log and "database closed" in log
    server.start()
    c = server.client()
    assert c.dbsize() == 101
    assert c.get("last") == b"written just before SHUTDOWN"
    assert c.get("key:99") == b"value-99"


@pytest.mark.parametrize("args", [("NOSAVE",), ("save",), ("NOW", "FORCE"), ("NOSAVE", "NOW")])
def test_shutdown_options(server, args):
    server.client().set("k", "v")
    assert shutdown_and_wait(server, *args) == 0
    server.start()
    assert server.client().get("k") == b"v"


def test_shutdown_errors_keep_the_server_running(server):
    assert raw(server, ["SHUTDOWN", "foo"], ["SHUTDOWN", "SAVE", "NOSAVE"],
               ["SHUTDOWN", "ABORT"], ["SHUTDOWN", "NOW", "ABORT"]) == [
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR No shutdown in progress."),
        ErrorReply("ERR syntax error"),
    ]
    assert server.is_running()
    assert server.client().ping() is True


@pytest.mark.needs_redis
def test_shutdown_errors_match_redis(server, redis_ref):
    assert_same_replies(server, redis_ref, [
        ["SHUTDOWN", "foo"],
        ["SHUTDOWN", "SAVE", "NOSAVE"],
        ["SHUTDOWN", "ABORT"],
        ["SHUTDOWN", "NOW", "FORCE", "ABORT"],
    ])


def test_shutdown_with_other_clients_connected(server_factory):
    server = server_factory(workers=4)
    others = [server.client() for _ in range(6)]
    for i, o in enumerate(others):
        o.set("client:%d" % i, i)
    assert shutdown_and_wait(server) == 0
    for o in others:
        with pytest.raises(redis.ConnectionError):
            o.ping()


# --------------------------------------------------------------------------------------
# DEBUG SLEEP


def test_debug_sleep_blocks_the_caller(server):
    c = server.client()
    start = time.monotonic()
    assert c.execute_command("DEBUG", "SLEEP", "0.5") == b"OK"
    assert time.monotonic() - start >= 0.45
    # Like Redis (strtod): zero, negative and garbage sleep 0 s.
    for arg in ("0", "-1", "abc"):
        start = time.monotonic()
        assert c.execute_command("DEBUG", "SLEEP", arg) == b"OK"
        assert time.monotonic() - start < scaled(0.5)


def test_debug_errors(server):
    assert raw(server, ["DEBUG", "foo"], ["DEBUG", "SLEEP"], ["DEBUG", "sleep", "1", "2"]) == [
        ErrorReply("ERR unknown subcommand or wrong number of arguments for 'foo'. "
                   "Try DEBUG HELP."),
        ErrorReply("ERR unknown subcommand or wrong number of arguments for 'SLEEP'. "
                   "Try DEBUG HELP."),
        ErrorReply("ERR unknown subcommand or wrong number of arguments for 'sleep'. "
                   "Try DEBUG HELP."),
    ]


@pytest.mark.needs_redis
def test_debug_errors_match_redis(server, redis_ref):
    assert_same_replies(server, redis_ref, [
        ["DEBUG", "foo"],
        ["DEBUG", "SLEEP"],
        ["DEBUG", "sleep", "1", "2"],
        ["DEBUG"],
        ["DEBUG", "SLEEP", "0"],
    ])


def test_debug_sleep_blocks_only_its_own_worker(server_factory):
    """With 4 workers, clients accepted by the other workers are served while one worker
    sleeps. The kernel spreads connections over the workers' SO_REUSEPORT sockets, so among
    8 other clients at least one lands on another worker than the sleeper, except with
    probability 4^-8."""
    server = server_factory(workers=4)
    sleeper = server.client()
    others = [server.client() for _ in range(8)]
    for o in others:
        assert o.ping() is True  # connected (and accepted) before the sleep starts
    sleep_s = 2.0
    done = {}
    stop = threading.Event()
    replies = {i: [] for i in range(len(others))}

    def sleep():
        try:
            done["reply"] = sleeper.execute_command("DEBUG", "SLEEP", str(sleep_s))
        finally:
            done["at"] = time.monotonic()
            stop.set()

    def ping(i, o):
        # Each client pings in a loop until the sleep is over; a client on the sleeping
        # worker gets one late reply, the others many during the sleep.
        while not stop.is_set():
            o.ping()
            replies[i].append(time.monotonic())

    started = time.monotonic()
    threads = [threading.Thread(target=sleep)]
    threads += [threading.Thread(target=ping, args=(i, o)) for i, o in enumerate(others)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(15))
    assert not any(t.is_alive() for t in threads)
    assert done.get("reply") == b"OK"
    assert done["at"] - started >= sleep_s * 0.9
    # Replies well inside the sleep window prove another worker kept serving.
    during = [i for i, times in replies.items()
              if any(started + 0.5 < at < done["at"] - 0.5 for at in times)]
    assert during, "no client was served while one worker slept: %r" % {
        i: [round(at - started, 2) for at in times[:5]] for i, times in replies.items()}


def test_sigterm_interrupts_debug_sleep(server_factory):
    """A worker in DEBUG SLEEP gives up when the server shuts down: the stop is prompt and
    clean, not delayed by the sleep."""
    server = server_factory(workers=4)
    sleeper = server.client()
    sleeper.ping()

    def sleep():
        try:
            sleeper.execute_command("DEBUG", "SLEEP", "60")
        except redis.ConnectionError:
            pass  # the server went away: expected

    t = threading.Thread(target=sleep, daemon=True)
    t.start()
    # A probe may land on the sleeping worker and time out: then it is simply retried.
    wait_until(lambda: b"cmd=debug" in server.command("CLIENT", "LIST", timeout=1), timeout=20,
               msg="DEBUG SLEEP running")
    start = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - start < scaled(5)
    t.join(scaled(10))
    assert not t.is_alive()


# --------------------------------------------------------------------------------------
# SLOWLOG


def test_slowlog_len_get_reset(server):
    c = server.client()
    assert c.execute_command("SLOWLOG", "RESET") == b"OK"
    assert c.execute_command("SLOWLOG", "LEN") == 0
    assert server.command("SLOWLOG", "GET") == []
    assert server.command("SLOWLOG", "GET", "-1") == []
    assert server.command("SLOWLOG", "GET", "5") == []


def test_slowlog_errors(server):
    assert raw(server, ["SLOWLOG", "foo"], ["SLOWLOG", "GET", "abc"], ["SLOWLOG", "GET", "-2"],
               ["SLOWLOG", "GET", "1", "2"], ["SLOWLOG", "LEN", "x"], ["SLOWLOG"]) == [
        ErrorReply("ERR unknown subcommand 'foo'. Try SLOWLOG HELP."),
        ErrorReply("ERR count should be greater than or equal to -1"),
        ErrorReply("ERR count should be greater than or equal to -1"),
        ErrorReply("ERR unknown subcommand or wrong number of arguments for 'GET'. "
                   "Try SLOWLOG HELP."),
        ErrorReply("ERR wrong number of arguments for 'slowlog|len' command"),
        ErrorReply("ERR wrong number of arguments for 'slowlog' command"),
    ]


@pytest.mark.needs_redis
def test_slowlog_errors_match_redis(server, redis_ref):
    assert_same_replies(server, redis_ref, [
        ["SLOWLOG", "RESET"],
        ["SLOWLOG", "foo"],
        ["SLOWLOG", "GET", "abc"],
        ["SLOWLOG", "GET", "-2"],
        ["SLOWLOG", "GET", "1", "2"],
        ["SLOWLOG", "LEN", "x"],
        ["SLOWLOG", "RESET", "x"],
        ["SLOWLOG", "HELP"],
    ])


def test_slowlog_records_slow_commands(server):
    c = server.client()
    c.config_set("slowlog-log-slower-than", 0)
    c.execute_command("SLOWLOG", "RESET")
    c.client_setname("slowpoke")
    c.set("k", "x" * 200)
    entries = server.command("SLOWLOG", "GET", "-1")
    assert entries, "nothing was recorded with slowlog-log-slower-than 0"
    set_entries = [e for e in entries if e[3][0].lower() == b"set"]
    assert set_entries
    ident, when, usec, args, addr, name = set_entries[0]
    assert args[1] == b"k"
    assert args[2] == b"x" * 128 + b"... (72 more bytes)"
    assert name == b"slowpoke" and b":" in addr
    assert abs(when - time.time()) < 60 and usec >= 0
    # slowlog-max-len trims, negative threshold disables.
    c.config_set("slowlog-max-len", 2)
    for i in range(5):
        c.get("k%d" % i)
    assert c.execute_command("SLOWLOG", "LEN") == 2
    c.config_set("slowlog-log-slower-than", -1)
    c.execute_command("SLOWLOG", "RESET")
    c.get("k")
    assert c.execute_command("SLOWLOG", "LEN") == 0
