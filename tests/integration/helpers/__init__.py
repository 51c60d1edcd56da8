# SPDX-License-Identifier: Apache-2.0
"""Integration-test helpers for kvrocks-c (see tests/integration/conftest.py for fixtures).

    server.py   Server: one kvrocks-c or redis-server process (start/stop/kill9/pause/...)
    wait.py     wait_until, wait_for_value, timed, scaled: bounded waits, never a bare sleep
    proxy.py    Proxy (pass/blackhole/pause/slow/cut), HangingPort: loopback faults
    diff.py     diff_replies: one command script against two servers, raw replies compared
    dataset.py  fill / snapshot / compare_keyspaces / digest: deterministic data and oracles
    records.py  counted: what a command cost in RocksDB records read/written (INFO rocksdb)
"""
from .dataset import (Entry, assert_same_keyspace, compare_keyspaces, digest,
                      expected_snapshot, fill, generate, snapshot)
from .diff import (Cmd, ErrorReply, Mismatch, assert_same_replies, diff_replies,
                   format_mismatches, raw_connection, run_commands)
from .proxy import HangingPort, Proxy, ProxyError
from .records import SUBKEY_CFS, Cost, counted
from .server import (KINDS, SMALL_ROCKSDB, Server, ServerError, StopError, allocate_port,
                     kvrocks_binary, parse_info, redis_binary)
from .wait import Deadline, scaled, timed, timeout_scale, wait_for_value, wait_until

__all__ = [
    "Entry", "assert_same_keyspace", "compare_keyspaces", "digest", "expected_snapshot",
    "fill", "generate", "snapshot",
    "Cmd", "ErrorReply", "Mismatch", "assert_same_replies", "diff_replies",
    "format_mismatches", "raw_connection", "run_commands",
    "HangingPort", "Proxy", "ProxyError",
    "SUBKEY_CFS", "Cost", "counted",
    "KINDS", "SMALL_ROCKSDB", "Server", "ServerError", "StopError", "allocate_port",
    "kvrocks_binary", "parse_info", "redis_binary",
    "Deadline", "scaled", "timed", "timeout_scale", "wait_for_value", "wait_until",
]
