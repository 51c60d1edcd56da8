# SPDX-License-Identifier: Apache-2.0
"""CONFIG GET/SET/REWRITE/RESETSTAT/HELP: round trips, effects of runtime changes, errors,
and CONFIG REWRITE surviving a restart.

CONFIG SET value errors follow Kvrocks ("ERR CONFIG SET '<name>' error: <reason>"), since
the options are Kvrocks'; the command's shape (arity, syntax, unknown subcommands) is
Redis 7.0's and is compared with redis-server.
"""
import glob
import os
import re
import socket
import threading

import pytest
import redis

from helpers.diff import ErrorReply, assert_same_replies, raw_connection, run_commands
from helpers.server import KINDS, render_config
from helpers.wait import scaled, wait_until


def raw(server, *commands):
    conn = raw_connection(server)
    try:
        return run_commands(conn, [list(c) for c in commands])
    finally:
        conn.disconnect()


def config_get(server, *patterns):
    reply = server.command("CONFIG", "GET", *patterns)
    return {reply[i].decode(): reply[i + 1].decode() for i in range(0, len(reply), 2)}


class OwnConfigKind(type(KINDS["kvrocks"])):
    """kvrocks on <dir>/own.conf, a file the harness never rewrites (it rewrites server.conf
    at every start), so the next start reads what CONFIG REWRITE wrote."""

    def argv(self, binary, config_path):
        return [binary, "-c", os.path.join(os.path.dirname(config_path), "own.conf")]


class NoConfigKind(type(KINDS["kvrocks"])):
    """kvrocks started without a config file: every option on the command line."""

    def __init__(self):
        self.server = None

    def argv(self, binary, config_path):
        s = self.server
        return [binary, "--bind", "127.0.0.1", "--port", str(s.port), "--dir", s.dir,
                "--log-dir", s.dir, "--workers", "2"]


def own_config_server(server_factory, header="# kept by CONFIG REWRITE\n", **overrides):
    server = server_factory(kind=OwnConfigKind(), name="own", start=False, **overrides)
    with open(os.path.join(server.dir, "own.conf"), "w") as f:
        f.write(header + render_config(server.config()))
    return server.start()


# --------------------------------------------------------------------------------------
# CONFIG GET


def test_config_get(server):
    assert config_get(server, "port") == {"port": str(server.port)}
    assert config_get(server, "PORT") == {"port": str(server.port)}
    assert config_get(server, "daemonize") == {"daemonize": "no"}
    assert config_get(server, "nosuch-option") == {}
    many = config_get(server, "max*")
    assert "maxclients" in many and all(k.startswith("max") for k in many)
    everything = config_get(server, "*")
    assert {"port", "bind", "dir", "workers", "requirepass", "rocksdb.write_buffer_size",
            "slowlog-log-slower-than", "log-level"} <= set(everything)
    assert everything["workers"] == "2"


def test_config_get_several_patterns_lists_each_option_once(server):
    reply = server.command("CONFIG", "GET", "port", "p?rt", "PORT", "timeout")
    assert len(reply) == 4
    assert config_get(server, "port", "timeout") == {"port": str(server.port), "timeout": "0"}


def test_config_get_is_a_map_in_resp3(server_factory):
    server = server_factory({"resp3-enabled": "yes"})
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(b"HELLO 3\r\n")
        data = b""
        while b"modules" not in data:
            data += s.recv(4096)
        s.sendall(b"CONFIG GET timeout\r\n")
        data = b""
        while data.count(b"\r\n") < 5:
            chunk = s.recv(4096)
            assert chunk
            data += chunk
    assert data == b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"


# --------------------------------------------------------------------------------------
# CONFIG SET


ROUND_TRIPS = [
    ("timeout", "30", "30"),
    ("maxclients", "500", "500"),
    ("slowlog-log-slower-than", "1000", "1000"),
    ("slowlog-max-len", "64", "64"),
    ("log-level", "WARNING", "warning"),
    ("proto-max-bulk-len", "2mb", "2097152"),
    ("max-bitmap-to-string-mb", "1", "1"),
    ("max-bitmap-to-string-mb", "0", "0"),
    ("rocksdb.write_buffer_size", "32", "32"),
    ("rocksdb.max_write_buffer_number", "3", "3"),
    ("rocksdb.target_file_size_base", "64", "64"),
    ("rocksdb.level0_slowdown_writes_trigger", "30", "30"),
    ("rocksdb.level0_stop_writes_trigger", "50", "50"),
    ("rocksdb.level0_file_num_compaction_trigger", "8", "8"),
    ("rocksdb.disable_auto_compactions", "yes", "yes"),
    ("rocksdb.compression", "lz4", "lz4"),
    ("rocksdb.compression", "zstd", "zstd"),
    ("rocksdb.compression", "no", "no"),
    ("rocksdb.max_open_files", "1000", "1000"),
    ("rocksdb.max_background_jobs", "6", "6"),
    ("rocksdb.max_total_wal_size", "256", "256"),
    ("masterauth", "some secret", "some secret"),
]


@pytest.mark.parametrize("name,value,shown", ROUND_TRIPS)
def test_config_set_round_trip(server, name, value, shown):
    assert raw(server, ["CONFIG", "SET", name, value]) == [b"OK"]
    assert config_get(server, name) == {name: shown}
    # Upper-case names work too.
    assert raw(server, ["CONFIG", "SET", name.upper(), value]) == [b"OK"]
    assert server.client().ping() is True


def test_config_set_several_pairs(server):
    assert raw(server, ["CONFIG", "SET", "timeout", "11", "slowlog-max-len", "12"]) == [b"OK"]
    assert config_get(server, "timeout", "slowlog-max-len") == {"timeout": "11",
                                                                "slowlog-max-len": "12"}


def test_config_set_is_all_or_nothing(server):
    before = config_get(server, "timeout", "slowlog-max-len", "maxclients")
    reply = raw(server, ["CONFIG", "SET", "timeout", "99", "slowlog-max-len", "7",
                         "maxclients", "abc"])
    assert reply == [ErrorReply("ERR CONFIG SET 'maxclients' error: invalid value 'abc' for "
                                "'maxclients': not an integer")]
    assert config_get(server, "timeout", "slowlog-max-len", "maxclients") == before


def test_config_set_errors(server):
    assert raw(server,
               ["CONFIG", "SET", "nosuch", "1"],
               ["CONFIG", "SET", "port", "1234"],
               ["CONFIG", "SET", "dir", "/tmp"],
               ["CONFIG", "SET", "maxclients", "abc"],
               ["CONFIG", "SET", "log-level", "loud"],
               ["CONFIG", "SET", "timeout", "1", "TIMEOUT", "2"],
               ["CONFIG", "SET", "timeout", "1", "maxclients"],
               ["CONFIG", "SET", "timeout"],
               ["CONFIG", "GET"],
               ["CONFIG"],
               ["CONFIG", "foo"],
               ["CONFIG", "REWRITE", "x"],
               ["CONFIG", "RESETSTAT", "x"]) == [
        ErrorReply("ERR CONFIG SET 'nosuch' error: Unsupported CONFIG parameter: nosuch"),
        ErrorReply("ERR CONFIG SET 'port' error: Unsupported CONFIG parameter: port"),
        ErrorReply("ERR CONFIG SET 'dir' error: Unsupported CONFIG parameter: dir"),
        ErrorReply("ERR CONFIG SET 'maxclients' error: invalid value 'abc' for 'maxclients': "
                   "not an integer"),
        ErrorReply("ERR CONFIG SET 'log-level' error: invalid value 'loud' for 'log-level': "
                   "expected one of debug, info, warning, error, fatal"),
        ErrorReply("ERR CONFIG SET 'TIMEOUT' error: duplicate parameter"),
        ErrorReply("ERR syntax error"),
        ErrorReply("ERR wrong number of arguments for 'config|set' command"),
        ErrorReply("ERR wrong number of arguments for 'config|get' command"),
        ErrorReply("ERR wrong number of arguments for 'config' command"),
        ErrorReply("ERR unknown subcommand 'foo'. Try CONFIG HELP."),
        ErrorReply("ERR wrong number of arguments for 'config|rewrite' command"),
        ErrorReply("ERR wrong number of arguments for 'config|resetstat' command"),
    ]
    # Nothing changed.
    assert config_get(server, "timeout", "port") == {"timeout": "0", "port": str(server.port)}


def test_config_set_out_of_range(server):
    (reply,) = raw(server, ["CONFIG", "SET", "workers", "0"])
    assert isinstance(reply, ErrorReply)
    assert reply.text.startswith("ERR CONFIG SET 'workers' error: invalid value '0' for 'workers'")
    assert config_get(server, "workers") == {"workers": "2"}


@pytest.mark.needs_redis
def test_config_command_shape_matches_redis(server, redis_ref):
    assert_same_replies(server, redis_ref, [
        ["CONFIG"],
        ["CONFIG", "GET"],
        ["CONFIG", "SET", "timeout"],
        ["CONFIG", "SET", "timeout", "1", "maxclients"],
        ["CONFIG", "foo"],
        ["CONFIG", "REWRITE", "x"],
        ["CONFIG", "RESETSTAT", "x"],
        ["CONFIG", "RESETSTAT"],
        ["CONFIG", "GET", "nosuch-option-xyz"],
        ["CONFIG", "SET", "timeout", "0"],
        ["CONFIG", "GET", "timeout"],
        ["CONFIG", "HELP"],
    ])


# --------------------------------------------------------------------------------------
# Effects of runtime changes


def test_maxclients_applies_to_new_connections(server):
    c = server.client()
    c.ping()
    assert raw(server, ["CONFIG", "SET", "maxclients", "1"]) == [b"OK"]
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        assert s.recv(100) == b"-ERR max number of clients reached\r\n"
    assert c.config_set("maxclients", 10) is True
    assert server.client().ping() is True


def test_timeout_closes_idle_clients(server):
    assert raw(server, ["CONFIG", "SET", "timeout", "1"]) == [b"OK"]
    busy = server.client()
    with socket.create_connection((server.host, server.port), timeout=scaled(10)) as idle:
        # An idle client is closed after about a second; recv then sees the end of stream.
        assert idle.recv(100) == b""
    busy.config_set("timeout", 0)
    assert busy.ping() is True


def test_requirepass_applies_to_new_connections(server):
    old = server.client()
    old.ping()
    assert raw(server, ["CONFIG", "SET", "requirepass", "s3cret"]) == [b"OK"]
    try:
        # A connection that was authenticated (no password before) stays so.
        assert old.get("nothing") is None
        with pytest.raises(redis.AuthenticationError):
            server.client().ping()
        fresh = server.client(password="s3cret")
        assert fresh.ping() is True
        with pytest.raises(redis.ResponseError, match="Invalid password"):
            server.client(password="wrong").ping()
    finally:
        assert server.client(password="s3cret").config_set("requirepass", "") is True
    assert server.client().ping() is True


def test_log_level_changes_what_is_logged(server):
    c = server.client()
    mark = server.log_mark()
    c.config_set("log-level", "warning")
    c.config_rewrite()
    c.config_set("log-level", "info")
    c.config_rewrite()
    wait_until(lambda: "CONFIG REWRITE executed" in server.log_text(since=mark), timeout=10,
               msg="the INFO line of the second CONFIG REWRITE")
    assert server.log_text(since=mark).count("CONFIG REWRITE executed") == 1


def newest_options_file(server):
    files = glob.glob(os.path.join(server.dir, "db", "OPTIONS-*"))
    assert files
    return max(files, key=lambda p: int(p.rsplit("-", 1)[1]))


def cf_write_buffer_sizes(server):
    """{column family name: write_buffer_size} from RocksDB's newest OPTIONS file."""
    text = open(newest_options_file(server)).read()
    sizes = {}
    for section in text.split("[CFOptions ")[1:]:
        name = section.split('"')[1]
        sizes[name] = int(re.search(r"\bwrite_buffer_size=(\d+)", section).group(1))
    return sizes


def test_rocksdb_options_reach_rocksdb(server):
    """RocksDB writes a new OPTIONS file after every SetOptions: the change is live."""
    c = server.client()
    c.config_set("rocksdb.write_buffer_size", 3)
    c.config_set("rocksdb.level0_file_num_compaction_trigger", 9)
    c.config_set("rocksdb.compression", "zstd")
    text = open(newest_options_file(server)).read()
    sections = text.split("[CFOptions ")[1:]
    assert len(sections) == 7  # every column family
    for section in sections:
        assert "level0_file_num_compaction_trigger=9" in section
        assert "compression_per_level=kNoCompression:kNoCompression:kZSTD" in section
    # The zset score index's share: a sixty-fourth, at least 1 MiB (storage.c).
    sizes = cf_write_buffer_sizes(server)
    assert sizes.pop("zset_score") == 1 << 20
    assert set(sizes.values()) == {3 << 20}
    c.set("still", "works")
    assert c.get("still") == b"works"


def test_zset_score_index_gets_a_sixty_fourth_of_the_write_buffer(server_factory):
    server = server_factory(config={"rocksdb.write_buffer_size": "256"})
    sizes = cf_write_buffer_sizes(server)
    assert sizes.pop("zset_score") == 4 << 20
    assert len(sizes) == 6 and set(sizes.values()) == {256 << 20}
    c = server.client()
    assert c.config_set("rocksdb.write_buffer_size", 128) is True
    sizes = cf_write_buffer_sizes(server)
    assert sizes.pop("zset_score") == 2 << 20
    assert set(sizes.values()) == {128 << 20}
    # Below 64 MiB the index keeps 1 MiB (the default 64 MiB gives it exactly that); a value
    # RocksDB cannot take changes nothing.
    assert c.config_set("rocksdb.write_buffer_size", 64) is True
    assert cf_write_buffer_sizes(server)["zset_score"] == 1 << 20
    assert c.config_set("rocksdb.write_buffer_size", 1) is True
    assert cf_write_buffer_sizes(server)["zset_score"] == 1 << 20
    with pytest.raises(redis.ResponseError):
        c.config_set("rocksdb.write_buffer_size", 0)
    assert c.config_get("rocksdb.write_buffer_size") == {"rocksdb.write_buffer_size": "1"}
    # Members moved several times: the index (1 MiB) flushes while the members' own column
    # family (32 MiB) does not, and the flushes lose nothing.
    assert c.config_set("rocksdb.write_buffer_size", 32) is True
    for rnd in range(3):
        pipe = c.pipeline(transaction=False)
        for i in range(0, 20000, 500):
            pipe.zadd("z", {f"m{j}": (j * 7 + rnd * 13) % 1000 for j in range(i, i + 500)})
        pipe.execute()
    wait_until(lambda: int(c.info("rocksdb")["sst_files_size[zset_score]"]) > 0, timeout=30,
               msg="a flush of the zset score index")
    assert int(c.info("rocksdb")["sst_files_size[default]"]) == 0
    assert c.zcard("z") == 20000
    got = c.zrange("z", 0, -1, withscores=True)
    want = sorted(((f"m{j}".encode(), float((j * 7 + 26) % 1000)) for j in range(20000)),
                  key=lambda t: (t[1], t[0]))
    assert got == want
    assert c.zrangebyscore("z", 500, 500) == sorted(m for m, sc in want if sc == 500)
    c.set("still", "works")
    assert c.get("still") == b"works"



def test_metadata_memtable_is_sized_by_entries(server_factory):
    """The metadata memtable holds about 50k entries, between 4 MiB and
    rocksdb.write_buffer_size: small strings get a few MiB, large ones the configured size."""
    server = server_factory(config={"rocksdb.write_buffer_size": "64"})
    c = server.client()

    def size():
        return int(c.info("rocksdb")["write_buffer_size[metadata]"])

    assert size() == 64 << 20
    for i in range(0, 60000, 1000):
        c.mset({f"small:{j}": f"v{j}" for j in range(i, i + 1000)})
    wait_until(lambda: size() < 16 << 20, timeout=30, msg="a smaller metadata memtable")
    assert size() >= 4 << 20
    assert cf_write_buffer_sizes(server)["metadata"] == size()  # RocksDB uses it
    assert cf_write_buffer_sizes(server)["default"] == 64 << 20
    big = os.urandom(16384)
    for i in range(0, 2000, 50):
        c.mset({f"big:{j}": big for j in range(i, i + 50)})
    wait_until(lambda: size() == 64 << 20, timeout=30, msg="the configured size again")
    assert cf_write_buffer_sizes(server)["metadata"] == 64 << 20
    # Nothing was lost on the way (each change switches and flushes memtables).
    assert c.dbsize() == 62000
    assert c.mget("small:0", "small:59999", "big:1999") == [b"v0", b"v59999", big]
    # CONFIG SET sets the size again; tuning goes on from there.
    assert c.config_set("rocksdb.write_buffer_size", 32) is True
    assert size() == 32 << 20
    assert cf_write_buffer_sizes(server)["metadata"] == 32 << 20


# --------------------------------------------------------------------------------------
# CONFIG REWRITE


def test_config_rewrite_survives_restart(server_factory):
    server = own_config_server(server_factory)
    c = server.client()
    assert c.config_set("maxclients", 4321) is True
    assert c.config_set("slowlog-max-len", 99) is True
    assert c.config_set("rocksdb.write_buffer_size", 16) is True
    assert raw(server, ["CONFIG", "REWRITE"]) == [b"OK"]
    path = os.path.join(server.dir, "own.conf")
    text = open(path).read()
    assert text.startswith("# kept by CONFIG REWRITE\n")
    assert "maxclients 4321\n" in text and "slowlog-max-len 99\n" in text
    assert "rocksdb.write_buffer_size 16\n" in text
    server.restart()
    assert config_get(server, "maxclients", "slowlog-max-len", "rocksdb.write_buffer_size") == {
        "maxclients": "4321", "slowlog-max-len": "99", "rocksdb.write_buffer_size": "16"}
    assert server.info("clients")["maxclients"] == 4321


def test_config_rewrite_without_config_file(server_factory):
    kind = NoConfigKind()
    server = server_factory(kind=kind, name="noconf", start=False)
    kind.server = server
    server.start()
    assert raw(server, ["CONFIG", "REWRITE"]) == [
        ErrorReply("ERR The server is running without a config file")]
    assert server.info("server")["config_file"] == ""
    assert server.client().ping() is True


def test_config_help(server):
    lines = server.command("CONFIG", "HELP")
    assert lines[0] == b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"REWRITE" in lines and lines[-1] == b"    Prints this help."


def test_replica_options_changed_while_clients_write(server_factory):
    """CONFIG SET slave-read-only / slave-serve-stale-data on a replica while other connections
    (on every worker) write and read: each command sees the old or the new value, and once the
    CONFIG SET has replied, the new one. The dispatcher checks these before taking the server
    lock, from atomic copies (a TSan build reports a race otherwise)."""
    server = server_factory(workers=4)
    admin = server.client()
    with socket.socket() as s:  # a port nobody listens on: the replica's link stays down
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    admin.execute_command("SLAVEOF", "127.0.0.1", str(dead_port))
    clients = [server.client() for _ in range(8)]
    stop = threading.Event()
    unexpected = []

    def load():
        while not stop.is_set():
            for c in clients:
                try:
                    c.set("k", "v")
                    c.get("k")
                except redis.exceptions.ReadOnlyError:
                    pass  # READONLY (redis-py strips the code)
                except redis.ResponseError as e:
                    if not str(e).startswith("MASTERDOWN"):
                        unexpected.append(str(e))

    t = threading.Thread(target=load)
    t.start()
    try:
        for i in range(200):
            admin.config_set("slave-read-only", "no" if i % 2 else "yes")
            admin.config_set("slave-serve-stale-data", "no" if i % 3 == 0 else "yes")
    finally:
        stop.set()
        t.join()
    assert unexpected == []
    admin.config_set("slave-serve-stale-data", "yes")
    admin.config_set("slave-read-only", "yes")
    for c in clients:
        with pytest.raises(redis.exceptions.ReadOnlyError):
            c.set("k", "v")
    admin.config_set("slave-read-only", "no")
    for c in clients:
        assert c.set("k", "v") is True
    admin.config_set("slave-serve-stale-data", "no")
    for c in clients:
        with pytest.raises(redis.ResponseError, match="^MASTERDOWN"):
            c.get("k")
    admin.execute_command("SLAVEOF", "NO", "ONE")
