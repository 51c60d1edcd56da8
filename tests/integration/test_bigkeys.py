# SPDX-License-Identifier: Apache-2.0
"""Big keys: a hash, a set, a list and a zset of N members (env KV_BIG_N, default 200000;
the 1,000,000-member variants are marked slow and run with --run-slow).

What a user of big keys relies on, checked on a real server:
  - the sizes (HLEN/SCARD/LLEN/ZCARD) and spot-checked members are right;
  - reading a slice (HMGET/SMISMEMBER of 100 members, LRANGE of 100 elements in the middle,
    ZRANGE BYSCORE of 100 scores in the middle, ZRANGE of the last 100 ranks) returns the right
    elements and touches only that slice. "Touches" is counted, not timed: INFO rocksdb
    keys_read[<column family>] counts the records the server read (point reads plus iterator
    seeks and steps), and the sub-key column families have no background reader;
  - DEL of the big key is O(1): it writes exactly one record (the metadata delete) and reads no
    sub-key record (the version trick: the sub-keys become unreachable);
  - the space comes back: after DEL (or expiry) COMPACT drops the sub-keys, so the sub-key
    column families' SST bytes and estimated keys fall to about zero, while a key re-created
    under the same name keeps exactly its new members.
ZRANGE by rank in the middle is O(rank) in this layout (as in Kvrocks: the score index has no
rank counts): the test pins that it walks from the nearer end of the index.

A big string (70 MiB): the SST data block holding it, which it shares with the metadata of the
keys sorted just before it, stays in the block cache, so reading those keys (or the string)
again does not read the block from the file again. Counted in bytes the server process read
(/proc/<pid>/io), not timed.
"""
import os
import random

import pytest
import redis

from helpers.records import SUBKEY_CFS, counted
from helpers.wait import wait_until

DEFAULT_N = int(os.environ.get("KV_BIG_N", "200000"))
SIZES = [DEFAULT_N, pytest.param(1_000_000, marks=pytest.mark.slow, id="1M")]
KINDS = ["hash", "set", "list", "zset"]
CHUNK = 1000  # members per loading command
PIPE = 20  # loading commands per round trip
SLICE = 100
KEY = "big"


def field(i):
    return b"f:%07d" % i


def load(c, kind, n, key=KEY):
    """Build `key` with n members, pipelined in chunks. Member i is field(i) (value v:i) for a
    hash, field(i) for a set and a zset (score i), b"e:i" at index i for a list."""
    pipe = c.pipeline(transaction=False)
    queued = 0
    for start in range(0, n, CHUNK):
        idx = range(start, min(n, start + CHUNK))
        if kind == "hash":
            args = []
            for i in idx:
                args += [field(i), b"v:%d" % i]
            pipe.execute_command("HSET", key, *args)
        elif kind == "set":
            pipe.execute_command("SADD", key, *[field(i) for i in idx])
        elif kind == "list":
            pipe.execute_command("RPUSH", key, *[b"e:%d" % i for i in idx])
        else:
            args = []
            for i in idx:
                args += [i, field(i)]
            pipe.execute_command("ZADD", key, *args)
        queued += 1
        if queued == PIPE:
            pipe.execute()
            queued = 0
    if queued:
        pipe.execute()


def card(c, kind, key=KEY):
    cmd = {"hash": "HLEN", "set": "SCARD", "list": "LLEN", "zset": "ZCARD"}[kind]
    return c.execute_command(cmd, key)


def rocks(server):
    return server.info("rocksdb")


def subkey_sst_bytes(info):
    return sum(info["sst_files_size[%s]" % cf] for cf in SUBKEY_CFS)


def subkey_estimate(info):
    return sum(info["estimate_keys[%s]" % cf] for cf in SUBKEY_CFS)


def brief(info):
    """The fields of INFO rocksdb these tests look at, for assertion messages."""
    return {k: v for k, v in info.items()
            if k.startswith(("estimate_keys[", "sst_files_size[", "keys_read[", "keys_written["))
            and k.partition("[")[2].rstrip("]") in SUBKEY_CFS + ("metadata",)}


def spot_check(c, kind, n):
    rng = random.Random(n)
    for i in [0, n - 1] + rng.sample(range(n), 20):
        if kind == "hash":
            assert c.execute_command("HGET", KEY, field(i)) == b"v:%d" % i
        elif kind == "set":
            assert c.execute_command("SISMEMBER", KEY, field(i)) == 1
        elif kind == "list":
            assert c.execute_command("LINDEX", KEY, i) == b"e:%d" % i
            assert c.execute_command("LINDEX", KEY, i - n) == b"e:%d" % i
        else:
            assert float(c.execute_command("ZSCORE", KEY, field(i))) == i
    absent = b"f:%07d" % (n + 5)
    if kind == "hash":
        assert c.execute_command("HGET", KEY, absent) is None
    elif kind == "set":
        assert c.execute_command("SISMEMBER", KEY, absent) == 0
    elif kind == "list":
        assert c.execute_command("LINDEX", KEY, n) is None
    else:
        assert c.execute_command("ZSCORE", KEY, absent) is None


def subkey_reads(server, fn):
    """Run fn(); return (its result, sub-key records it read)."""
    result, cost = counted(server, fn)
    return result, cost.read()


def check_slices(server, c, kind, n):
    """Slice reads in the middle return the slice and read O(slice) sub-key records."""
    mid = n // 2
    idx = list(range(mid, mid + SLICE))
    # A seek plus the slice, and one step past its end to find it.
    bound = SLICE + 2
    if kind == "hash":
        got, reads = subkey_reads(server, lambda: c.execute_command(
            "HMGET", KEY, *[field(i) for i in idx]))
        assert got == [b"v:%d" % i for i in idx]
        assert SLICE <= reads <= bound, reads
    elif kind == "set":
        got, reads = subkey_reads(server, lambda: c.execute_command(
            "SMISMEMBER", KEY, *[field(i) for i in idx]))
        assert got == [1] * SLICE
        assert SLICE <= reads <= bound, reads
    elif kind == "list":
        got, reads = subkey_reads(server, lambda: c.execute_command(
            "LRANGE", KEY, mid, mid + SLICE - 1))
        assert got == [b"e:%d" % i for i in idx]
        assert SLICE <= reads <= bound, reads
        got, reads = subkey_reads(server, lambda: c.execute_command(
            "LRANGE", KEY, -mid - SLICE, -mid - 1))
        assert got == [b"e:%d" % i for i in range(n - mid - SLICE, n - mid)]
        assert SLICE <= reads <= bound, reads
    else:
        got, reads = subkey_reads(server, lambda: c.execute_command(
            "ZRANGE", KEY, mid, mid + SLICE - 1, "BYSCORE", "WITHSCORES"))
        assert got == [x for i in idx for x in (field(i), b"%d" % i)]
        assert SLICE <= reads <= bound, reads
        got, reads = subkey_reads(server, lambda: c.execute_command(
            "ZREVRANGEBYSCORE", KEY, mid + SLICE - 1, mid))
        assert got == [field(i) for i in reversed(idx)]
        assert SLICE <= reads <= bound, reads
        got, reads = subkey_reads(server, lambda: c.execute_command("ZRANGE", KEY, -SLICE, -1))
        assert got == [field(i) for i in range(n - SLICE, n)]
        assert SLICE <= reads <= bound, reads
        # By rank in the middle: O(rank), from the nearer end of the score index.
        start = n // 3
        got, reads = subkey_reads(server, lambda: c.execute_command(
            "ZRANGE", KEY, start, start + SLICE - 1))
        assert got == [field(i) for i in range(start, start + SLICE)]
        assert start + SLICE <= reads <= start + bound, reads


@pytest.mark.timeout(900)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_big_key(server, kind, n):
    c = server.client()
    load(c, kind, n)
    assert card(c, kind) == n
    spot_check(c, kind, n)
    check_slices(server, c, kind, n)

    # COMPACT flushes the memtables: the key's sub-keys are now counted in SST files.
    assert c.execute_command("COMPACT") == b"OK"
    full = rocks(server)
    assert subkey_estimate(full) >= n * 9 // 10, brief(full)
    assert subkey_sst_bytes(full) >= n * 8, brief(full)

    # DEL is O(1): one metadata delete, no sub-key read or written.
    deleted, cost = counted(server, lambda: c.execute_command("DEL", KEY))
    assert deleted == 1
    assert cost.written("metadata") == 1, cost
    assert cost.written() == 0 and cost.read() == 0, cost
    assert c.execute_command("EXISTS", KEY) == 0
    assert card(c, kind) == 0

    # Re-created under the same name: a new version, so none of the old members shows.
    load(c, kind, 3)
    assert c.execute_command("COMPACT") == b"OK"
    reclaimed = rocks(server)
    assert subkey_estimate(reclaimed) <= n // 100, brief(reclaimed)
    assert subkey_sst_bytes(reclaimed) <= subkey_sst_bytes(full) // 50, brief(reclaimed)
    assert card(c, kind) == 3
    if kind == "hash":
        assert c.execute_command("HGETALL", KEY) == {field(i): b"v:%d" % i for i in range(3)}
    elif kind == "set":
        assert sorted(c.execute_command("SMEMBERS", KEY)) == [field(i) for i in range(3)]
    elif kind == "list":
        assert c.execute_command("LRANGE", KEY, 0, -1) == [b"e:0", b"e:1", b"e:2"]
    else:
        assert c.execute_command("ZRANGE", KEY, 0, -1) == [field(i) for i in range(3)]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["hash", "zset"])
def test_expired_big_key_is_reclaimed(server, kind, n):
    """An expired big key's sub-keys go at the first COMPACT: the metadata column family is
    compacted first, its filter drops the expired record, and the sub-key filter then finds no
    owner (an expired record still present would protect them for a 5-minute grace period)."""
    c = server.client()
    load(c, kind, n)
    c.execute_command("SET", "small", "kept")
    assert c.execute_command("COMPACT") == b"OK"
    full = rocks(server)
    assert subkey_sst_bytes(full) >= n * 8, brief(full)

    assert c.execute_command("PEXPIRE", KEY, 50) == 1
    wait_until(lambda: c.execute_command("EXISTS", KEY) == 0, timeout=10,
               msg="the big key to expire")
    assert c.execute_command("COMPACT") == b"OK"
    reclaimed = rocks(server)
    assert subkey_estimate(reclaimed) <= n // 100, brief(reclaimed)
    assert subkey_sst_bytes(reclaimed) <= subkey_sst_bytes(full) // 50, brief(reclaimed)
    assert reclaimed["estimate_keys[metadata]"] == 1, brief(reclaimed)
    assert c.execute_command("GET", "small") == b"kept"


def test_compact_command(server):
    """COMPACT (Kvrocks): no arguments, refused inside MULTI, keeps live data, and drops the
    sub-keys of a key overwritten by another type."""
    c = server.client()
    load(c, "hash", 2000, key="h")
    c.execute_command("HSET", "kept", "a", "1")
    assert c.execute_command("COMPACT") == b"OK"
    assert subkey_estimate(rocks(server)) >= 2001
    assert c.execute_command("SET", "h", "now a string") is True
    assert c.execute_command("COMPACT") == b"OK"
    assert subkey_estimate(rocks(server)) == 1, brief(rocks(server))
    assert c.execute_command("GET", "h") == b"now a string"
    assert c.execute_command("HGETALL", "kept") == {b"a": b"1"}

    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'compact'"):
        c.execute_command("COMPACT", "now")
    with c.pipeline(transaction=False) as pipe:
        pipe.execute_command("MULTI")
        pipe.execute_command("COMPACT")
        pipe.execute_command("EXEC")
        replies = pipe.execute(raise_on_error=False)
    assert replies[0] in (b"OK", True)
    assert isinstance(replies[1], redis.ResponseError)
    assert "Command not allowed inside a transaction" in str(replies[1])
    assert isinstance(replies[2], redis.ResponseError)
    assert str(replies[2]).startswith("Transaction discarded")


def bytes_read(server):
    """What the server process has read so far with read(2), pread(2) and the like
    (/proc/<pid>/io rchar): its SST files, whether the page cache served them or not, and its
    sockets."""
    with open("/proc/%d/io" % server.pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/%d/io" % server.pid)


def block_state(server):
    """The fields of INFO rocksdb that tell where the big string's block is, for messages."""
    info = rocks(server)
    return {k: v for k, v in info.items()
            if k == "block_cache_usage" or k.endswith("[metadata]") and k.startswith(
                ("sst_files_size", "num_files_at_level0", "keys_read"))}


def test_big_string_block_stays_cached(server):
    """A 70 MiB string shares its data block with the metadata of the 100 small sets sorted
    before it (a block takes records until it is over 90% full). That block must fit in one
    shard of the block cache: with RocksDB's automatic 64 shards of 64 MiB (4096 MiB cache) it
    was never kept, so every SISMEMBER of those sets read the whole 73 MB block from the SST file
    again, and COMPACT read it once for every set whose sub-keys it filtered (7.4 GB). The
    bounds allow a few reads of the block, not one a set: COMPACT reads it as a compaction input
    and for the sub-key filter's first lookup, and a restarted server's background keyspace scan
    may miss the cache at the same moment as the first SISMEMBER (both then read it)."""
    c = server.client()
    sets = [b"n%03d" % i for i in range(100)]  # sort just before b"o"
    with c.pipeline(transaction=False) as pipe:
        for k in sets:
            pipe.execute_command("SADD", k, "member")
        pipe.execute()
    big = 70 << 20
    assert c.execute_command("SET", "o", b"x" * big) is True

    start = bytes_read(server)
    assert c.execute_command("COMPACT") == b"OK"
    compact = bytes_read(server) - start
    assert compact < 10 * big, ("COMPACT read %d bytes" % compact, block_state(server))
    state = block_state(server)
    assert state["block_cache_usage"] >= big, ("the string's block is not cached", state)

    start = bytes_read(server)
    for k in sets:
        assert c.execute_command("SISMEMBER", k, "member") == 1
    for _ in range(3):
        assert c.execute_command("STRLEN", "o") == big
    again = bytes_read(server) - start
    assert again < big, ("100 SISMEMBERs and 3 STRLENs read %d bytes" % again,
                         block_state(server))

    # After a restart the block cache is empty: the first read brings the block in.
    server.stop()
    server.start()
    c = server.client()
    start = bytes_read(server)
    for k in sets:
        assert c.execute_command("SISMEMBER", k, "member") == 1
    cold = bytes_read(server) - start
    assert cold < 10 * big, ("100 SISMEMBERs after a restart read %d bytes" % cold,
                             block_state(server))
