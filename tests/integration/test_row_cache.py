# SPDX-License-Identifier: Apache-2.0
"""The row caches (row-cache-size; storage/rowcache.h): point reads of sub-keys and metadata go
through caches that the writers keep exact. What a client must not notice: a read on any worker
after an acknowledged write returns that write or a later one, never an older value, for
strings, hash fields, set members and zset members, while other clients hammer the same keys;
and the server works the same with the caches off."""
import threading

import pytest
from redis.exceptions import ResponseError

from test_group_commit import client, run_threads


def rocksdb_info(c):
    return c.info("rocksdb")


@pytest.mark.timeout(180)
def test_a_read_after_an_acknowledged_write_never_returns_an_older_value(server_factory):
    """Writers on several workers each own a string, a hash field and a zset member of shared
    hot keys and raise them one step at a time; after each acknowledged step a second client of
    the writer (most likely on another worker) reads all three and must see that step or a
    later one. Meanwhile other clients keep reading the same keys (filling the caches) and
    writing other fields and members of the same hash and zset."""
    srv = server_factory(workers=4)
    steps, n_writers = 300, 4
    stop = threading.Event()
    before = rocksdb_info(client(srv))

    def writer(i):
        w, r = client(srv), client(srv)
        for n in range(1, steps + 1):
            w.incr(f"s{i}")
            w.hincrby("h", f"f{i}", 1)
            w.zincrby("z", 1, f"m{i}")
            w.sadd("set", f"m{i}:{n}")
            w.srem("set", f"m{i}:{n - 1}")
            p = r.pipeline(transaction=False)
            p.get(f"s{i}")
            p.hget("h", f"f{i}")
            p.zscore("z", f"m{i}")
            p.sismember("set", f"m{i}:{n}")
            p.sismember("set", f"m{i}:{n - 1}")
            got = p.execute()
            assert int(got[0]) >= n and int(got[1]) >= n and got[2] >= n, (i, n, got)
            assert got[3] and not got[4], (i, n, got)

    def reader():
        c = client(srv)
        while not stop.is_set():
            p = c.pipeline(transaction=False)
            for i in range(n_writers):
                p.get(f"s{i}")
                p.hget("h", f"f{i}")
                p.zscore("z", f"m{i}")
            p.execute()

    def other_writer():
        c = client(srv)
        k = 0
        while not stop.is_set():
            k += 1
            c.hset("h", f"other{k % 50}", k)
            c.zadd("z", {f"other{k % 50}": k})

    bg = [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=other_writer)]
    for t in bg:
        t.start()
    try:
        run_threads([lambda i=i: writer(i) for i in range(n_writers)])
    finally:
        stop.set()
        for t in bg:
            t.join(30)
    c = client(srv)
    for i in range(n_writers):
        assert int(c.get(f"s{i}")) == steps
        assert int(c.hget("h", f"f{i}")) == steps
        assert c.zscore("z", f"m{i}") == steps
    assert c.scard("set") == n_writers
    after = rocksdb_info(c)
    # The reads went through the caches: both answered some of them.
    for cf in ("default", "metadata"):
        assert after[f"row_cache_hits[{cf}]"] > before[f"row_cache_hits[{cf}]"], cf
    assert after["row_cache_size"] > 0


def test_row_cache_size_0_turns_the_caches_off(server_factory):
    srv = server_factory(config={"row-cache-size": "0"})
    c = client(srv)
    assert c.config_get("row-cache-size") == {"row-cache-size": "0"}
    info = rocksdb_info(c)
    assert info["row_cache_size"] == 0
    assert not any(k.startswith("row_cache_hits") for k in info)
    c.hset("h", "f", "v")
    c.zadd("z", {"m": 1})
    c.hincrby("h", "n", 5)
    assert c.hget("h", "f") == b"v" and c.hget("h", "n") == b"5" and c.zscore("z", "m") == 1


def test_row_cache_size_is_set_at_start_only(server):
    c = client(server)
    assert c.config_get("row-cache-size") == {"row-cache-size": "64"}
    with pytest.raises(ResponseError):
        c.config_set("row-cache-size", "1")
    assert c.config_get("row-cache-size") == {"row-cache-size": "64"}
    assert rocksdb_info(c)["row_cache_size"] > 60 << 20
