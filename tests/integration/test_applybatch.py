# SPDX-License-Identifier: Apache-2.0
"""APPLYBATCH (Kvrocks): a malformed raw write batch is refused with its reason and changes
nothing."""
from helpers.diff import ErrorReply, raw_connection, run_commands


def test_a_malformed_batch_is_refused_with_its_reason_and_writes_nothing(server):
    conn = raw_connection(server)
    try:
        def r(*args):
            return run_commands(conn, [list(args)])[0]

        assert r("SET", "k", "v") == b"OK"
        got = r("APPLYBATCH", "abcde")
        assert isinstance(got, ErrorReply)
        assert got.text == "ERR Invalid write batch: write batch shorter than its header (5 bytes)"
        # A header (8-byte sequence, 4-byte count) that announces a record it does not hold.
        got = r("APPLYBATCH", b"\x00" * 8 + b"\x01\x00\x00\x00")
        assert isinstance(got, ErrorReply)
        assert got.text.startswith("ERR Invalid write batch: ")
        assert "Invalid write batch: Invalid" not in got.text
        assert r("DBSIZE") == 1
        assert r("GET", "k") == b"v"
    finally:
        conn.disconnect()
