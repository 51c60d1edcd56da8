# SPDX-License-Identifier: Apache-2.0
"""Group commit (server/worker.h): a worker stages the writes of the commands of one event-loop
round and commits them as one batch before it sends their replies.

What a client must not notice: a pipeline reads its own writes (point reads and range reads),
concurrent read-modify-write commands on other workers lose no update, cross-key commands in
opposite orders never deadlock, WATCH still sees every write committed after it, and an
acknowledged write survives kill -9."""
import os
import resource
import threading

import pytest
import redis

N_THREADS = 6


def client(server, **kw):
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30, **kw)


def run_threads(fns, timeout=120):
    errors = []

    def wrap(fn):
        def body():
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        return body

    threads = [threading.Thread(target=wrap(fn)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a client thread did not finish: a worker is stuck"
    assert not errors, errors


def test_a_pipeline_reads_its_own_staged_writes(server):
    c = client(server)
    p = c.pipeline(transaction=False)
    p.set("s", "v1")
    p.get("s")
    p.append("s", "+")
    p.get("s")
    p.incr("n")
    p.incrby("n", 5)
    p.rpush("l", "a", "b", "c")
    p.lpop("l")
    p.lrange("l", 0, -1)   # an iterator read after staged point writes
    p.hset("h", mapping={"f1": "1", "f2": "2"})
    p.hincrby("h", "f1", 10)
    p.hgetall("h")
    p.zadd("z", {"m1": 1, "m2": 2})
    p.zincrby("z", 5, "m1")
    p.zrange("z", 0, -1, withscores=True)
    p.sadd("st", "x", "y")
    p.srem("st", "x")
    p.smembers("st")
    p.delete("s")
    p.exists("s")
    p.set("s", "again")
    p.getdel("s")
    got = p.execute()
    assert got == [True, b"v1", 3, b"v1+", 1, 6, 3, b"a", [b"b", b"c"], 2, 11,
                   {b"f1": b"11", b"f2": b"2"}, 2, 6.0, [(b"m2", 2.0), (b"m1", 6.0)], 2, 1,
                   {b"y"}, 1, 0, True, b"again"]


@pytest.mark.timeout(180)
def test_concurrent_read_modify_writes_on_other_workers_lose_no_update(server_factory):
    srv = server_factory(workers=4)
    rounds, depth = 150, 16

    def worker():
        c = client(srv)
        for _ in range(rounds):
            p = c.pipeline(transaction=False)
            for _ in range(depth):
                p.incr("counter")
                p.hincrby("h", "f", 2)
                p.rpush("list", "x")
                p.zincrby("z", 1, "m")
            p.execute()

    run_threads([worker] * N_THREADS)
    c = client(srv)
    total = N_THREADS * rounds * depth
    assert int(c.get("counter")) == total
    assert int(c.hget("h", "f")) == 2 * total
    assert c.llen("list") == total
    assert c.zscore("z", "m") == total


def test_no_change_writes_on_a_hot_key_never_hide_a_change(server_factory):
    """SADD of present members and HSET of current values answer without the key lock while
    another worker holds it (README, "Write path"). Clients on several workers each own one
    field and one member of a hot hash and set and keep changing them, pipelined, between
    no-change writes of their own and of shared ones: each reads back its own last change, and
    the counts stay exact."""
    srv = server_factory(workers=4)
    rounds, depth = 100, 8

    def worker(i):
        c = client(srv)
        f, m = f"f{i}", f"m{i}"
        for r in range(rounds):
            p = c.pipeline(transaction=False)
            for d in range(depth):
                v = f"{r}:{d}"
                p.hset("h", "shared", "same")  # no change after the first
                p.sadd("s", "shared")
                p.hset("h", f, v)  # a change
                p.hset("h", f, v)  # the same value again: no change
                p.hget("h", f)
                p.srem("s", m)
                p.sadd("s", m)  # a change
                p.sadd("s", m)  # no change
                p.sismember("s", m)
            out = p.execute()
            for d in range(depth):
                o = out[9 * d:9 * (d + 1)]
                assert o[3] == 0 and o[4] == f"{r}:{d}".encode(), (i, r, d, o)
                assert o[6] == 1 and o[7] == 0 and o[8] == 1, (i, r, d, o)

    run_threads([lambda i=i: worker(i) for i in range(N_THREADS)])
    c = client(srv)
    assert c.hlen("h") == N_THREADS + 1
    assert c.hgetall("h") == dict([(b"shared", b"same")] + [
        (f"f{i}".encode(), f"{rounds - 1}:{depth - 1}".encode()) for i in range(N_THREADS)])
    assert c.smembers("s") == {b"shared"} | {f"m{i}".encode() for i in range(N_THREADS)}
    assert c.scard("s") == N_THREADS + 1


def test_zadd_of_current_scores_on_a_hot_zset_never_hides_a_change(server_factory):
    """ZADD of members at the scores they have (NX: of members there) answers without the key
    lock while another worker holds it (README, "Write path"). Clients on several workers each
    own one member of a hot zset and keep moving it, pipelined, between no-change ZADDs of
    their own and of a shared member: each reads back its own last score, and the zset ends
    exact."""
    srv = server_factory(workers=4)
    rounds, depth = 100, 8

    def worker(i):
        c = client(srv)
        m = f"m{i}"
        for r in range(rounds):
            p = c.pipeline(transaction=False)
            for d in range(depth):
                s = r * depth + d
                p.zadd("z", {"shared": 1})  # no change after the first
                p.zadd("z", {"shared": 5}, nx=True)  # no change
                p.zadd("z", {m: s})  # a change (a new score)
                p.zadd("z", {m: s}, ch=True)  # the same score: no change
                p.zscore("z", m)
            out = p.execute()
            for d in range(depth):
                o = out[5 * d:5 * (d + 1)]
                assert o[1] == 0 and o[3] == 0 and o[4] == r * depth + d, (i, r, d, o)

    run_threads([lambda i=i: worker(i) for i in range(N_THREADS)])
    c = client(srv)
    assert c.zrange("z", 0, -1, withscores=True) == [(b"shared", 1.0)] + [
        (f"m{i}".encode(), float(rounds * depth - 1)) for i in range(N_THREADS)]


@pytest.mark.timeout(180)
def test_a_queue_drained_by_pipelined_pops_on_several_workers_loses_and_repeats_nothing(
        server_factory):
    """Runs of single LPOPs or RPOPs read ahead while their worker holds the list (list_pop):
    producers on other workers push at both ends meanwhile, reusing the indexes the pops just
    freed. Every value pushed is popped exactly once, or is still in the list at the end."""
    srv = server_factory(workers=4)
    rounds, depth = 60, 16
    popped = [[] for _ in range(N_THREADS // 2)]

    def producer(i):
        c = client(srv)
        for r in range(rounds):
            p = c.pipeline(transaction=False)
            for d in range(depth):
                v = f"p{i}:{r}:{d}"
                if d % 2:
                    p.lpush("q", v)
                else:
                    p.rpush("q", v)
            p.execute()

    def consumer(i):
        c = client(srv)
        for r in range(rounds):
            p = c.pipeline(transaction=False)
            for d in range(depth):
                if (r + i) % 2:
                    p.lpop("q")
                else:
                    p.rpop("q")
            popped[i].extend(v for v in p.execute() if v is not None)

    run_threads([lambda i=i: producer(i) for i in range(N_THREADS // 2)] +
                [lambda i=i: consumer(i) for i in range(N_THREADS // 2)])
    c = client(srv)
    rest = c.lrange("q", 0, -1)
    got = [v.decode() for vs in popped for v in vs] + [v.decode() for v in rest]
    pushed = [f"p{i}:{r}:{d}" for i in range(N_THREADS // 2) for r in range(rounds)
              for d in range(depth)]
    assert len(got) == len(set(got)), "a value was popped twice"
    assert sorted(got) == sorted(pushed)
    assert sum(len(vs) for vs in popped) > len(pushed) // 4  # the pops did take values


@pytest.mark.timeout(180)
def test_cross_key_commands_in_opposite_orders_do_not_deadlock(server_factory):
    srv = server_factory(workers=4)
    c = client(srv)
    c.sadd("sa", *range(200))
    c.rpush("la", *range(200))
    rounds, depth = 100, 16

    def mover(forward):
        def body():
            c = client(srv)
            src_s, dst_s = ("sa", "sb") if forward else ("sb", "sa")
            src_l, dst_l = ("la", "lb") if forward else ("lb", "la")
            for i in range(rounds):
                p = c.pipeline(transaction=False)
                for j in range(depth):
                    p.smove(src_s, dst_s, (i * depth + j) % 200)
                    p.lmove(src_l, dst_l, "LEFT", "RIGHT")
                    # Several keys locked at once, listed in both orders.
                    keys = ["k1", "k2", "k3"] if forward else ["k3", "k2", "k1"]
                    p.mset({k: i for k in keys})
                    p.incr("k1" if forward else "k3")
                p.execute()
        return body

    run_threads([mover(True), mover(False)] * (N_THREADS // 2))
    assert c.scard("sa") + c.scard("sb") == 200
    assert sorted(int(x) for x in c.sunion("sa", "sb")) == list(range(200))
    assert c.llen("la") + c.llen("lb") == 200
    assert sorted(int(x) for x in c.lrange("la", 0, -1) + c.lrange("lb", 0, -1)) == \
        list(range(200))


@pytest.mark.timeout(180)
def test_watch_sees_writes_staged_on_other_workers(server_factory):
    """Optimistic increments (WATCH, GET, MULTI, SET, EXEC) race plain INCRs from other
    workers. A write staged before WATCH registered must be committed before WATCH replies,
    else the GET after WATCH reads the old value and an EXEC that should abort overwrites an
    acknowledged INCR."""
    srv = server_factory(workers=4)
    client(srv).set("k", 0)
    incrs, attempts = 12000, 1500
    done = {"exec": 0}
    lock = threading.Lock()

    def incr():
        c = client(srv)
        for _ in range(incrs // 100):
            p = c.pipeline(transaction=False)
            for _ in range(100):
                p.incr("k")
            p.execute()

    def optimistic():
        c = client(srv)
        ok = 0
        for _ in range(attempts):
            with c.pipeline(transaction=True) as p:
                try:
                    p.watch("k")
                    v = int(p.get("k"))
                    p.multi()
                    p.set("k", v + 1)
                    p.execute()
                    ok += 1
                except redis.WatchError:
                    pass
        with lock:
            done["exec"] += ok

    run_threads([incr, incr, incr, optimistic, optimistic, optimistic])
    assert int(client(srv).get("k")) == 3 * incrs + done["exec"]


def test_acknowledged_pipelined_writes_survive_kill9(server_factory):
    srv = server_factory(workers=2)
    acked = {}

    def writer(t):
        def body():
            c = client(srv)
            for i in range(50):
                p = c.pipeline(transaction=False)
                for j in range(20):
                    p.set(f"t{t}:{i}:{j}", f"{i}.{j}")
                    p.rpush(f"t{t}:list", f"{i}.{j}")
                p.execute()
            acked[t] = 50 * 20
        return body

    run_threads([writer(t) for t in range(4)])
    srv.kill9()
    srv.start()
    c = client(srv)
    for t, n in acked.items():
        assert c.llen(f"t{t}:list") == n
        assert c.get(f"t{t}:49:19") == b"49.19"
        assert c.get(f"t{t}:0:0") == b"0.0"


@pytest.mark.timeout(180)
def test_a_long_pipeline_does_not_hold_back_other_clients_replies(server_factory):
    """One worker. Client A streams 300k SETs while reading its replies; client B's PINGs on the
    same worker are answered while A's stream is still going: A's pipeline continues in later
    rounds, so each round's commit and replies are not held until A's input runs dry."""
    import socket
    srv = server_factory(workers=1)
    n = 300000
    a = socket.create_connection(("127.0.0.1", srv.port))
    a.settimeout(60)
    state = {"done": False, "error": None}

    def send():
        cmd = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nx\r\n"
        chunk = cmd * 1000
        for _ in range(n // 1000):
            a.sendall(chunk)

    def read():
        try:
            want, got = n * 5, 0  # "+OK\r\n"
            while got < want:
                data = a.recv(1 << 20)
                if not data:
                    raise RuntimeError("connection closed")
                got += len(data)
        except Exception as e:  # noqa: BLE001 - reported below
            state["error"] = e
        state["done"] = True

    ts = [threading.Thread(target=send), threading.Thread(target=read)]
    for t in ts:
        t.start()
    b = client(srv)
    during = 0
    while not state["done"]:
        assert b.ping()
        if not state["done"]:
            during += 1
    for t in ts:
        t.join(60)
    a.close()
    assert state["error"] is None, state["error"]
    assert during >= 10, f"only {during} PINGs answered while the pipeline ran"


def _wal_files(srv):
    db = os.path.join(srv.dir, "db")
    return [os.path.join(db, n) for n in os.listdir(db) if n.endswith(".log")]


def test_a_failed_commit_acknowledges_nothing_and_later_writes_get_an_error(server_factory):
    """Fault injection without a test hook: a file-size limit (prlimit RLIMIT_FSIZE on the
    running server, which ignores SIGXFSZ) makes the WAL append fail with EFBIG. The client whose
    round failed is disconnected without a reply; the next writes get an error reply, reads go
    on; after a restart every acknowledged write is there."""
    srv = server_factory()
    c = client(srv)
    c.set("before", "1")
    limit = max(os.path.getsize(p) for p in _wal_files(srv)) + (256 << 10)
    resource.prlimit(srv.pid, resource.RLIMIT_FSIZE, (limit, limit))
    acked, failure = 0, None
    value = "v" * 100
    for batch in range(2000):
        p = c.pipeline(transaction=False)
        for i in range(100):
            p.set("k:%d" % (batch * 100 + i), value)
        try:
            p.execute()
        except (redis.ConnectionError, redis.ResponseError) as e:
            failure = e
            break
        acked = (batch + 1) * 100
    assert failure is not None, "the WAL never ran into the limit"
    assert acked > 0
    # the failed round's client got no reply at all: its connection was closed
    assert isinstance(failure, redis.ConnectionError), repr(failure)
    c2 = client(srv)
    with pytest.raises(redis.ResponseError) as e:
        c2.set("after", "1")
    assert "File too large" in str(e.value) or "IO error" in str(e.value), str(e.value)
    assert c2.ping()
    assert c2.get("before") == b"1" and c2.get("k:0") == value.encode()
    srv.restart()  # a new process: no limit
    c3 = client(srv)
    got = c3.mget(["k:%d" % k for k in range(acked)])
    missing = [k for k in range(acked) if got[k] != value.encode()]
    assert not missing, "acknowledged writes lost: %d, first %s" % (len(missing), missing[:5])
    assert c3.set("after", "1")
