# SPDX-License-Identifier: Apache-2.0
"""INFO: sections, field names tools parse, and counters that move with the traffic."""
import os
import re
import socket
import threading
import time

import pytest

from helpers.diff import raw_connection, run_commands
from helpers.server import parse_info
from helpers.wait import wait_for_value, wait_until

DEFAULT_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                    "cluster", "keyspace"]
ALL_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                "commandstats", "cluster", "keyspace", "rocksdb"]


def sections_of(text):
    """Section names in the order they appear."""
    if isinstance(text, bytes):
        text = text.decode()
    return [line[2:].strip().lower() for line in text.split("\r\n") if line.startswith("# ")]


def info_text(server, *sections):
    return server.command("INFO", *sections).decode()


# --------------------------------------------------------------------------------------
# Sections and format


def test_default_sections(server):
    text = info_text(server)
    assert sections_of(text) == DEFAULT_SECTIONS
    assert sections_of(info_text(server, "default")) == DEFAULT_SECTIONS


@pytest.mark.parametrize("group", ["all", "everything", "ALL"])
def test_all_sections(server, group):
    assert sections_of(info_text(server, group)) == ALL_SECTIONS


def test_section_selection(server):
    assert sections_of(info_text(server, "server")) == ["server"]
    assert sections_of(info_text(server, "CPU")) == ["cpu"]
    # Several names: the fixed order, each once.
    assert sections_of(info_text(server, "keyspace", "server", "Server")) == ["server",
                                                                               "keyspace"]
    assert sections_of(info_text(server, "default", "commandstats")) == [
        "server", "clients", "memory", "persistence", "stats", "replication", "cpu",
        "commandstats", "cluster", "keyspace"]
    assert sections_of(info_text(server, "rocksdb")) == ["rocksdb"]


def test_unknown_section_is_empty(server):
    assert server.command("INFO", "nosuchsection") == b""
    assert sections_of(info_text(server, "nosuch", "stats")) == ["stats"]


def test_format_is_crlf_lines_with_blank_line_between_sections(server):
    text = info_text(server, "server", "clients")
    assert text.endswith("\r\n") and not text.endswith("\r\n\r\n")
    assert "\r\n\r\n# Clients\r\n" in text
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            assert re.match(r"^[a-z_0-9\[\]]+:", line), line
    assert "\n" not in text.replace("\r\n", "")


def test_info_in_resp3_is_a_verbatim_string(server_factory):
    server = server_factory({"resp3-enabled": "yes"})
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(b"HELLO 3\r\n")
        data = b""
        while b"modules" not in data:
            data += s.recv(4096)
        s.sendall(b"INFO cpu\r\n")
        data = b""
        while not data.endswith(b"\r\n") or data.count(b"\r\n") < 6:
            chunk = s.recv(4096)
            assert chunk, "connection closed"
            data += chunk
    assert data.startswith(b"=")
    header, body = data.split(b"\r\n", 1)
    assert body.startswith(b"txt:# CPU\r\n")
    assert int(header[1:]) == len(body) - 2


# --------------------------------------------------------------------------------------
# Fields


def test_server_section_fields(server):
    info = server.info("server")
    assert info["redis_version"] == "7.0.0"
    assert info["redis_mode"] == "standalone"
    assert isinstance(info["kvrocks_version"], str) and info["version"]
    assert info["os"].startswith("Linux")
    assert info["arch_bits"] == 64
    assert info["process_id"] == server.pid
    assert re.fullmatch(r"[0-9a-f]{40}", info["run_id"])
    assert info["tcp_port"] == server.port
    assert info["uptime_in_seconds"] >= 0 and info["uptime_in_days"] == 0
    assert abs(info["server_time_usec"] / 1e6 - time.time()) < 60
    assert os.path.realpath(info["executable"]) == os.path.realpath(server.binary)
    assert info["config_file"] == os.path.realpath(server.config_path)


def test_run_id_changes_across_restarts(server):
    first = server.info("server")["run_id"]
    assert server.info("server")["run_id"] == first
    server.restart()
    assert server.info("server")["run_id"] != first


def test_clients_and_memory_fields(server_factory):
    server = server_factory(maxclients=777)
    info = server.info()
    assert info["maxclients"] == 777
    assert info["connected_clients"] >= 1
    assert info["blocked_clients"] == 0 and info["monitor_clients"] == 0
    assert info["used_memory"] > 0 and info["used_memory_rss"] > 0
    assert info["used_memory_peak"] >= info["used_memory_startup"] > 0
    assert re.fullmatch(r"\d+(\.\d\d[KMGT]|B)", info["used_memory_human"])
    assert re.fullmatch(r"\d+(\.\d\d[KMGT]|B)", info["used_memory_rss_human"])
    assert info["mem_allocator"]
    assert info["loading"] == 0


def test_replication_cpu_cluster_fields(server):
    info = server.info()
    assert info["role"] == "master"
    assert info["connected_slaves"] == 0
    assert isinstance(info["master_repl_offset"], int)
    assert info["cluster_enabled"] == 0
    for field in ("used_cpu_sys", "used_cpu_user"):
        assert isinstance(info[field], float) and info[field] >= 0
    for field in ("sync_full", "sync_partial_ok", "sync_partial_err"):
        assert info[field] == 0


def test_master_repl_offset_follows_writes(server):
    c = server.client()
    before = server.info("replication")["master_repl_offset"]
    for i in range(10):
        c.set("k%d" % i, "v")
    after = server.info("replication")["master_repl_offset"]
    assert after >= before + 10
    assert server.info("keyspace")["sequence"] == after


def test_rocksdb_section(server):
    c = server.client()
    for i in range(20):
        c.set("k%d" % i, "v")
    info = server.info("rocksdb")
    for cf in ("default", "metadata", "zset_score", "pubsub", "propagate", "stream", "search"):
        for field in ("estimate_keys", "block_cache_pinned_usage", "index_and_filter_cache_usage",
                      "sst_files_size", "num_files_at_level0"):
            assert isinstance(info["%s[%s]" % (field, cf)], int)
    assert info["estimate_keys[metadata]"] >= 20
    for field in ("block_cache_usage", "all_mem_tables", "cur_mem_tables", "snapshots",
                  "num_running_flushes", "num_running_compactions", "num_background_errors",
                  "compaction_pending", "memtable_flush_pending"):
        assert isinstance(info[field], int), field
    assert info["cur_mem_tables"] > 0


# --------------------------------------------------------------------------------------
# Counters


def test_total_commands_processed_counts_exactly(server):
    conn = raw_connection(server)
    try:
        first = parse_info(run_commands(conn, [["INFO", "stats"]])[0])
        run_commands(conn, [["PING"]] * 5 + [["NOSUCHCOMMAND"]])
        second = parse_info(run_commands(conn, [["INFO", "stats"]])[0])
    finally:
        conn.disconnect()
    # 5 PINGs, the unknown command and the second INFO itself.
    assert second["total_commands_processed"] - first["total_commands_processed"] == 7
    assert second["total_error_replies"] - first["total_error_replies"] == 1
    assert second["total_net_input_bytes"] > first["total_net_input_bytes"]
    assert second["total_net_output_bytes"] > first["total_net_output_bytes"]


def cmdstat(server, name):
    return server.info("commandstats").get("cmdstat_" + name,
                                           {"calls": 0, "rejected_calls": 0, "failed_calls": 0})


def test_commandstats_count_calls_rejections_and_failures(server):
    c = server.client()
    ping0, get0, config0 = cmdstat(server, "ping"), cmdstat(server, "get"), cmdstat(server,
                                                                                 "config")
    for _ in range(7):
        c.ping()
    conn = raw_connection(server)
    try:
        replies = run_commands(conn, [["GET"], ["GET"], ["CONFIG", "SET", "nosuch", "1"],
                                      ["GET", "missing"]])
    finally:
        conn.disconnect()
    assert [type(r).__name__ for r in replies] == ["ErrorReply"] * 3 + ["NoneType"]
    ping1, get1, config1 = cmdstat(server, "ping"), cmdstat(server, "get"), cmdstat(server,
                                                                                 "config")
    assert ping1["calls"] - ping0["calls"] == 7
    assert ping1["usec"] >= 0 and isinstance(ping1["usec_per_call"], float)
    assert get1["rejected_calls"] - get0["rejected_calls"] == 2  # arity: never ran
    assert get1["calls"] - get0["calls"] == 1
    assert config1["failed_calls"] - config0["failed_calls"] == 1
    assert config1["calls"] - config0["calls"] == 1


def test_commandstats_line_format(server):
    server.client().ping()
    text = info_text(server, "commandstats")
    line = [ln for ln in text.split("\r\n") if ln.startswith("cmdstat_ping:")][0]
    assert re.fullmatch(r"cmdstat_ping:calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,"
                        r"rejected_calls=\d+,failed_calls=\d+", line)


def test_connections_counters(server):
    base = server.info("stats")["total_connections_received"]
    clients = [server.client() for _ in range(3)]
    for c in clients:
        c.ping()
    info = server.info()
    # 3 clients plus the connections server.info() opened (one per call).
    assert info["total_connections_received"] - base == 3 + 1
    assert info["connected_clients"] >= 4
    for c in clients:
        c.connection_pool.disconnect()
    wait_for_value(lambda: server.info("clients")["connected_clients"], 1, timeout=10,
                   msg="connected_clients after the clients closed")


def test_rejected_connections_counted(server):
    c = server.client()
    c.config_set("maxclients", 1)
    try:
        with socket.create_connection((server.host, server.port), timeout=10) as s:
            assert s.recv(100) == b"-ERR max number of clients reached\r\n"
    finally:
        c.config_set("maxclients", 100)
    assert server.info("stats")["rejected_connections"] == 1


def test_instantaneous_ops_per_sec_moves(server):
    stop = threading.Event()

    def load():
        c = server.client()
        while not stop.is_set():
            c.ping()

    t = threading.Thread(target=load)
    t.start()
    try:
        wait_until(lambda: server.info("stats")["instantaneous_ops_per_sec"] > 10, timeout=10,
                   msg="instantaneous_ops_per_sec under load")
        assert server.info("stats")["instantaneous_input_kbps"] > 0
    finally:
        stop.set()
        t.join(10)
    # Polling twice a second adds about 2 ops/s of its own.
    wait_for_value(lambda: server.info("stats")["instantaneous_ops_per_sec"] <= 5, True,
                   timeout=10, interval=0.5, msg="instantaneous_ops_per_sec back to idle")


def test_config_resetstat_zeroes_counters(server):
    c = server.client()
    for _ in range(5):
        c.ping()
    c.set("k", "v")
    conn = raw_connection(server)
    try:
        replies = run_commands(conn, [["CONFIG", "RESETSTAT"], ["INFO", "commandstats"],
                                      ["INFO", "stats"]])
    finally:
        conn.disconnect()
    assert replies[0] == b"OK"
    # Only the RESETSTAT itself was counted after the reset (an INFO is recorded after it
    # ran, so the first INFO is not in its own output).
    lines = [ln for ln in replies[1].decode().split("\r\n") if ln.startswith("cmdstat_")]
    assert len(lines) == 1 and lines[0].startswith("cmdstat_config:calls=1,"), lines
    stats = parse_info(replies[2])
    assert stats["total_commands_processed"] == 2  # the two INFOs
    assert stats["total_connections_received"] == 0
    assert stats["total_error_replies"] == 0
    # The keys are untouched.
    assert c.get("k") == b"v"


# --------------------------------------------------------------------------------------
# Keyspace


def db0(server):
    return server.info("keyspace")["db0"]


def test_keyspace_after_dbsize(server):
    c = server.client()
    for i in range(30):
        c.set("k%d" % i, "v")
    for i in range(10):
        assert c.expire("k%d" % i, 1000 + i) is True
    assert c.dbsize() == 30  # DBSIZE counts now and refreshes the cached numbers
    info = db0(server)
    assert info["keys"] == 30 and info["expires"] == 10 and info["expired"] == 0
    assert 990 * 1000 <= info["avg_ttl"] <= 1010 * 1000  # ms, as Redis
    assert abs(server.info("keyspace")["last_dbsize_scan_time"] - time.time()) < 60


def test_keyspace_after_dbsize_scan(server):
    c = server.client()
    wait_until(lambda: server.info("keyspace")["last_dbsize_scan_time"] > 0, timeout=10,
               msg="the first background count at start-up")
    for i in range(40):
        c.set("k%d" % i, "v")
    assert c.execute_command("DBSIZE", "SCAN") == b"OK"
    wait_for_value(lambda: db0(server)["keys"], 40, timeout=10, msg="db0 keys after DBSIZE SCAN")


def test_keyspace_refreshes_by_itself(server):
    c = server.client()
    # The first count runs at start-up, on the empty database.
    wait_until(lambda: server.info("keyspace")["last_dbsize_scan_time"] > 0, timeout=10,
               msg="the first background count at start-up")
    assert db0(server)["keys"] == 0
    for i in range(12):
        c.set("k%d" % i, "v")
    # The cron recounts a small database every SERVER_KEYSPACE_REFRESH_S (10 s).
    wait_for_value(lambda: db0(server)["keys"], 12, timeout=30, interval=0.5,
                   msg="db0 keys refreshed by the cron")


def test_keyspace_after_flush(server):
    c = server.client()
    for i in range(10):
        c.set("k%d" % i, "v")
    assert c.dbsize() == 10
    c.flushdb()
    assert db0(server)["keys"] == 0
    c.set("x", "1")
    assert c.dbsize() == 1
    c.flushall()
    assert db0(server)["keys"] == 0


def test_keyspace_fields(server):
    info = server.info("keyspace")
    assert set(info["db0"]) == {"keys", "expires", "avg_ttl", "expired"}
    for field in ("sequence", "used_db_size", "disk_capacity", "used_disk_size"):
        assert isinstance(info[field], int), field
    assert info["disk_capacity"] >= info["used_disk_size"] > 0
