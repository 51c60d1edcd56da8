# SPDX-License-Identifier: Apache-2.0
"""CLIENT ID/INFO/LIST/SETNAME/GETNAME/KILL/HELP, across workers (workers 4, so clients land
on different worker threads). Error texts are Redis 7.0's and are compared with
redis-server."""
import re
import threading

import pytest
import redis

from helpers.diff import ErrorReply, assert_same_replies, raw_connection, run_commands
from helpers.rawresp import Resp3
from helpers.wait import wait_until

LINE_RE = re.compile(r"^id=(\d+) addr=(\S+) laddr=(\S+) fd=\d+ name=(\S*) age=\d+ idle=\d+ "
                     r"flags=\S+ .*cmd=\S+ .*$")


def raw(client_or_server, *commands):
    conn = raw_connection(client_or_server)
    try:
        return run_commands(conn, [list(c) for c in commands])
    finally:
        conn.disconnect()


def client_list(c, *args):
    """CLIENT LIST [args] of client c, parsed: [{field: value}], in the server's order."""
    text = c.execute_command("CLIENT", "LIST", *args).decode()
    assert text == "" or text.endswith("\n")
    out = []
    for line in text.splitlines():
        assert LINE_RE.match(line), line
        out.append(dict(part.split("=", 1) for part in line.split(" ")))
    return out


def getname(c):
    return c.execute_command("CLIENT", "GETNAME")


def ids_listed(c, *args):
    return {int(e["id"]) for e in client_list(c, *args)}


def local_addr(c):
    """"ip:port" of client c's own socket (connects it first)."""
    c.ping()
    conn = c.connection_pool.get_connection("PING")
    try:
        host, port = conn._sock.getsockname()[:2]
    finally:
        c.connection_pool.release(conn)
    return "%s:%d" % (host, port)


@pytest.fixture
def server4(server_factory):
    return server_factory(workers=4)


# --------------------------------------------------------------------------------------
# ID, INFO, SETNAME, GETNAME


def test_client_id_is_unique_and_increasing(server4):
    clients = [server4.client() for _ in range(6)]
    ids = [c.client_id() for c in clients]
    assert len(set(ids)) == 6 and all(i > 0 for i in ids)
    assert ids == sorted(ids)
    assert clients[0].client_id() == ids[0]  # stable for a connection


def test_client_info_describes_the_caller(server4):
    c = server4.client()
    text = c.execute_command("CLIENT", "INFO").decode()
    assert text.endswith("\n") and text.count("\n") == 1
    fields = dict(part.split("=", 1) for part in text.strip().split(" "))
    assert int(fields["id"]) == c.client_id()
    assert fields["addr"] == local_addr(c)
    assert fields["laddr"] == server4.addr
    assert fields["name"] == "" and fields["db"] == "0" and fields["flags"] == "N"
    assert fields["cmd"] == "client"


def test_setname_getname(server4):
    c = server4.client()
    assert getname(c) is None
    assert c.client_setname("worker-42") is True
    assert getname(c) == b"worker-42"
    mine = [e for e in client_list(c) if int(e["id"]) == c.client_id()]
    assert mine[0]["name"] == "worker-42"
    # Another client sees the name too.
    other = server4.client()
    named = [e for e in client_list(other) if e["name"] == "worker-42"]
    assert len(named) == 1 and int(named[0]["id"]) == c.client_id()
    # The empty name clears it.
    assert c.execute_command("CLIENT", "SETNAME", "") == b"OK"
    assert getname(c) is None


@pytest.mark.parametrize("name", ["a b", "a\nb", "tab\there", "caf\xe9", "\x01", " "])
def test_setname_rejects_special_characters(server4, name):
    c = server4.client()
    c.client_setname("before")
    assert raw(c, ["CLIENT", "SETNAME", name]) == [ErrorReply(
        "ERR Client names cannot contain spaces, newlines or special characters.")]
    assert getname(c) == b"before"


def test_setname_length_limit(server4):
    c = server4.client()
    longest = "n" * 127
    assert c.client_setname(longest) is True
    assert getname(c) == longest.encode()
    assert raw(c, ["CLIENT", "SETNAME", "n" * 128]) == [
        ErrorReply("ERR Client names cannot be longer than 127 bytes")]


# --------------------------------------------------------------------------------------
# LIST


def test_client_list_sees_clients_of_every_worker(server4):
    clients = [server4.client() for _ in range(12)]
    ids = {c.client_id() for c in clients}
    observer = server4.client()
    listed = client_list(observer)
    assert ids | {observer.client_id()} <= {int(e["id"]) for e in listed}
    addrs = {e["addr"] for e in listed}
    for c in clients:
        assert local_addr(c) in addrs
    for e in listed:
        assert e["laddr"] == server4.addr


def test_client_list_filters(server4):
    a, b, c = server4.client(), server4.client(), server4.client()
    ia, ib, ic = a.client_id(), b.client_id(), c.client_id()
    assert ids_listed(a, "ID", ib) == {ib}
    assert ids_listed(a, "id", ia, ic, 999999) == {ia, ic}
    assert ids_listed(a, "ID", 0) == set()
    assert ids_listed(a, "ID", -1) == set()
    assert {ia, ib, ic} <= ids_listed(a, "TYPE", "normal")
    for t in ("pubsub", "replica", "slave", "master", "PUBSUB"):
        assert client_list(a, "TYPE", t) == []


def test_client_list_errors(server4):
    assert raw(server4,
               ["CLIENT", "LIST", "ID", "abc"],
               ["CLIENT", "LIST", "ID", "1", "x"],
               ["CLIENT", "LIST", "ID"],
               ["CLIENT", "LIST", "TYPE"],
               ["CLIENT", "LIST", "TYPE", "foo"],
               ["CLIENT", "LIST", "TYPE", "normal", "extra"],
               ["CLIENT", "LIST", "foo"]) == [
        ErrorReply("ERR Invalid client ID"),
        ErrorReply("ERR Invalid client ID"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR Unknown client type 'foo'"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR syntax error"),
    ]


# --------------------------------------------------------------------------------------
# KILL


class Victim:
    """A client on its own raw connection, which never reconnects behind our back (a
    redis.Redis pool would), so a kill is visible as the end of its connection."""

    def __init__(self, server):
        self.conn = raw_connection(server)
        (self.id,) = run_commands(self.conn, [["CLIENT", "ID"]])
        host, port = self.conn._sock.getsockname()[:2]
        self.addr = "%s:%d" % (host, port)

    def assert_closed(self):
        with pytest.raises(redis.ConnectionError):
            self.conn.send_command("PING")
            self.conn.read_response()

    def assert_alive(self):
        assert run_commands(self.conn, [["PING"]]) == [b"PONG"]


def wait_gone(observer, client_id):
    wait_until(lambda: client_id not in ids_listed(observer), timeout=10,
               msg="client %d gone from CLIENT LIST" % client_id)


def test_kill_by_address_old_form(server4):
    killer, victim, bystander = server4.client(), Victim(server4), Victim(server4)
    assert raw(killer, ["CLIENT", "KILL", victim.addr]) == [b"OK"]
    wait_gone(killer, victim.id)
    victim.assert_closed()
    bystander.assert_alive()
    assert raw(killer, ["CLIENT", "KILL", victim.addr]) == [ErrorReply("ERR No such client")]
    assert raw(killer, ["CLIENT", "KILL", "1.2.3.4:5"]) == [ErrorReply("ERR No such client")]


def test_kill_self_old_form_replies_then_closes(server4):
    me = Victim(server4)
    assert run_commands(me.conn, [["CLIENT", "KILL", me.addr]]) == [b"OK"]
    me.assert_closed()


def test_kill_by_id_across_workers(server4):
    killer = server4.client()
    victims = [Victim(server4) for _ in range(10)]
    for v in victims:
        assert killer.execute_command("CLIENT", "KILL", "ID", v.id) == 1
    for v in victims:
        wait_gone(killer, v.id)
        v.assert_closed()
    # Killed clients cannot be killed twice.
    assert killer.execute_command("CLIENT", "KILL", "ID", victims[0].id) == 0
    assert killer.ping() is True


def test_kill_new_form_filters(server4):
    me = server4.client()
    me.ping()
    others = [Victim(server4) for _ in range(5)]
    target = others[0]
    assert me.execute_command("CLIENT", "KILL", "ADDR", target.addr) == 1
    wait_gone(me, target.id)
    target.assert_closed()
    assert me.execute_command("CLIENT", "KILL", "ADDR", "1.2.3.4:5") == 0
    assert me.execute_command("CLIENT", "KILL", "ID", others[1].id, "ADDR", "1.2.3.4:5") == 0
    assert me.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 0
    assert me.execute_command("CLIENT", "KILL", "TYPE", "master") == 0
    assert me.execute_command("CLIENT", "KILL", "TYPE", "replica") == 0
    assert me.execute_command("CLIENT", "KILL", "USER", "default", "ID", 999999) == 0
    for o in others[1:]:
        o.assert_alive()
    # SKIPME yes is the default: everyone else connected to our address goes, we stay.
    assert me.execute_command("CLIENT", "KILL", "LADDR", server4.addr) == len(others) - 1
    for o in others[1:]:
        wait_gone(me, o.id)
        o.assert_closed()
    assert me.ping() is True


def test_kill_type_normal_skipme_no_kills_the_caller_too(server4):
    me, other = Victim(server4), Victim(server4)
    # (The harness's start-up probe connection may take a moment to be reaped.)
    wait_until(lambda: len(run_commands(me.conn, [["CLIENT", "LIST"]])[0].splitlines()) == 2,
               timeout=10, msg="only our two clients connected")
    assert run_commands(me.conn, [["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"]]) == [2]
    me.assert_closed()
    other.assert_closed()


def test_kill_errors(server4):
    c = server4.client()
    assert raw(c,
               ["CLIENT", "KILL"],
               ["CLIENT", "KILL", "ID", "abc"],
               ["CLIENT", "KILL", "ID", "0"],
               ["CLIENT", "KILL", "ID", "-5"],
               ["CLIENT", "KILL", "foo", "bar"],
               ["CLIENT", "KILL", "TYPE", "foo"],
               ["CLIENT", "KILL", "SKIPME", "maybe"],
               ["CLIENT", "KILL", "USER", "nobody"],
               ["CLIENT", "KILL", "ID", "1", "ADDR"],
               ["CLIENT", "KILL", "ID"]) == [
        ErrorReply("ERR wrong number of arguments for 'client|kill' command"),
        ErrorReply("ERR client-id should be greater than 0"),
        ErrorReply("ERR client-id should be greater than 0"),
        ErrorReply("ERR client-id should be greater than 0"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR Unknown client type 'foo'"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR No such user 'nobody'"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR No such client"),
    ]
    assert c.ping() is True


# --------------------------------------------------------------------------------------
# Shape and errors compared with Redis


def test_client_subcommand_errors(server4):
    assert raw(server4,
               ["CLIENT"],
               ["CLIENT", "foo"],
               ["CLIENT", "ID", "x"],
               ["CLIENT", "GETNAME", "x"],
               ["CLIENT", "SETNAME"],
               ["CLIENT", "INFO", "x"]) == [
        ErrorReply("ERR wrong number of arguments for 'client' command"),
        ErrorReply("ERR unknown subcommand 'foo'. Try CLIENT HELP."),
        ErrorReply("ERR wrong number of arguments for 'client|id' command"),
        ErrorReply("ERR wrong number of arguments for 'client|getname' command"),
        ErrorReply("ERR wrong number of arguments for 'client|setname' command"),
        ErrorReply("ERR wrong number of arguments for 'client|info' command"),
    ]


@pytest.mark.needs_redis
def test_client_errors_match_redis(server4, redis_ref):
    assert_same_replies(server4, redis_ref, [
        ["CLIENT"],
        ["CLIENT", "foo"],
        ["CLIENT", "ID", "x"],
        ["CLIENT", "GETNAME", "x"],
        ["CLIENT", "GETNAME"],
        ["CLIENT", "SETNAME"],
        ["CLIENT", "SETNAME", "a b"],
        ["CLIENT", "SETNAME", "ok-name"],
        ["CLIENT", "GETNAME"],
        ["CLIENT", "SETNAME", ""],
        ["CLIENT", "GETNAME"],
        ["CLIENT", "INFO", "x"],
        ["CLIENT", "KILL"],
        ["CLIENT", "KILL", "1.2.3.4:5"],
        ["CLIENT", "KILL", "ID", "abc"],
        ["CLIENT", "KILL", "ID", "0"],
        ["CLIENT", "KILL", "ID", "999999"],
        ["CLIENT", "KILL", "ADDR", "1.2.3.4:5"],
        ["CLIENT", "KILL", "LADDR", "1.2.3.4:5"],
        ["CLIENT", "KILL", "foo", "bar"],
        ["CLIENT", "KILL", "TYPE", "foo"],
        ["CLIENT", "KILL", "TYPE", "pubsub"],
        ["CLIENT", "KILL", "SKIPME", "maybe"],
        ["CLIENT", "KILL", "USER", "nobody"],
        ["CLIENT", "KILL", "ID", "1", "ADDR"],
        ["CLIENT", "LIST", "ID", "abc"],
        ["CLIENT", "LIST", "ID"],
        ["CLIENT", "LIST", "TYPE"],
        ["CLIENT", "LIST", "TYPE", "foo"],
        ["CLIENT", "LIST", "TYPE", "replica"],
        ["CLIENT", "LIST", "ID", "999999"],
        ["CLIENT", "LIST", "foo"],
    ])


def test_client_help(server4):
    lines = server4.command("CLIENT", "HELP")
    assert lines[0] == b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"SETNAME <name>" in lines and lines[-2:] == [b"HELP", b"    Prints this help."]


def test_connection_count_follows_kills(server4):
    observer = server4.client()
    observer.ping()
    victims = [Victim(server4) for _ in range(4)]
    before = server4.info("clients")["connected_clients"]
    for v in victims:
        assert observer.execute_command("CLIENT", "KILL", "ID", v.id) == 1
    wait_until(lambda: server4.info("clients")["connected_clients"] <= before - 4, timeout=10,
               msg="connected_clients after CLIENT KILL")



def test_client_list_while_clients_switch_protocol(server_factory):
    """HELLO 2 / HELLO 3 on some connections while others run CLIENT LIST: every line shows
    resp=2 or resp=3, and once HELLO has replied, the version it chose. HELLO writes the
    protocol under the worker's lock that CLIENT LIST holds (a TSan build reports a race
    otherwise)."""
    server = server_factory(workers=4, resp3_enabled="yes")
    switchers = [Resp3(server) for _ in range(4)]
    listers = [server.client() for _ in range(4)]
    stop = threading.Event()
    seen = set()

    def list_all():
        while not stop.is_set():
            for c in listers:
                seen.update(e["resp"] for e in client_list(c))

    t = threading.Thread(target=list_all)
    t.start()
    try:
        for i in range(60):
            for s in switchers:
                version = 2 if i % 2 == 0 else 3
                assert s.call("HELLO", version)[:1] == (b"*" if version == 2 else b"%")
    finally:
        stop.set()
        t.join()
    assert seen <= {"2", "3"}
    last = client_list(listers[0])
    assert sorted(e["resp"] for e in last) == ["2"] * 4 + ["3"] * 4
    for s in switchers:
        s.close()
