# SPDX-License-Identifier: Apache-2.0
"""Pub/sub: SUBSCRIBE / PSUBSCRIBE / (P)UNSUBSCRIBE / PUBLISH / PUBSUB with Redis 7.0's
replies (byte-compared against redis-server in RESP2 and RESP3), delivery to many
subscribers spread over several workers with per-publisher ordering, the RESP2 subscribed
mode restrictions, the registry counts, PUBLISH's record in the pubsub column family, and a
subscriber that never reads being cut at the output limit while a reading one keeps up and
the publisher is never held back.
"""
import threading

import pytest

from helpers.wait import wait_until
from raw_resp import ConnectionClosed, Error, RawConn, cmd

OUTPUT_LIMIT = 32 << 20  # PUBSUB_OUTPUT_LIMIT_BYTES


def subscribe(conn, *channels, kind="SUBSCRIBE"):
    """Send one (P)SUBSCRIBE and consume its confirmations; return their counts."""
    conn.send(cmd(kind, *channels))
    counts = []
    for ch in channels:
        reply = conn.read()
        assert reply[:2] == [kind.lower().encode(), ch.encode() if isinstance(ch, str) else ch]
        counts.append(reply[2])
    return counts


def exchange(conn, steps):
    """steps: (args, number of replies). Returns the raw bytes of each step's replies."""
    out = []
    for args, n in steps:
        conn.send(cmd(*args))
        out.append(b"".join(conn.read_raw() for _ in range(n)))
    return out


def assert_same_raw(kv_port, redis_port, steps, setup=()):
    with RawConn(kv_port) as a, RawConn(redis_port) as b:
        for args in setup:  # run, do not compare (HELLO: the servers describe themselves)
            a.call(*args)
            b.call(*args)
        ra = exchange(a, steps)
        rb = exchange(b, steps)
    mismatches = [(steps[i][0], ra[i], rb[i]) for i in range(len(steps)) if ra[i] != rb[i]]
    assert not mismatches, "\n".join("%r:\n  kvrocks %r\n  redis   %r" % m for m in mismatches)


# --------------------------------------------------------------------------------------
# Reply shapes against redis-server


RESP2_STEPS = [
    (["UNSUBSCRIBE"], 1),
    (["PUNSUBSCRIBE"], 1),
    (["UNSUBSCRIBE", "a", "b"], 2),
    (["PUBSUB", "NUMSUB"], 1),
    (["PUBSUB", "NUMSUB", "a", "b"], 1),
    (["PUBSUB", "NUMPAT"], 1),
    (["PUBSUB", "CHANNELS"], 1),
    (["PUBSUB", "CHANNELS", "a", "b"], 1),
    (["PUBSUB", "NUMPAT", "x"], 1),
    (["PUBSUB", "HELP"], 1),
    (["PUBSUB", "HELP", "x"], 1),
    (["PUBSUB", "nosuch"], 1),
    (["PUBSUB"], 1),
    (["PUBSUB", "SHARDCHANNELS"], 1),
    (["PUBSUB", "SHARDNUMSUB", "a"], 1),
    (["SUBSCRIBE"], 1),
    (["PSUBSCRIBE"], 1),
    (["PUBLISH", "a"], 1),
    (["PUBLISH", "nobody", "hello"], 1),
    (["SUBSCRIBE", "a", "b", "a"], 3),
    (["PSUBSCRIBE", "p*", "a", "p*"], 3),
    (["PING"], 1),
    (["PING", "hello"], 1),
    (["PING", "a", "b"], 1),
    (["GET", "x"], 1),
    (["SET", "x", "1"], 1),
    (["PUBLISH", "a", "x"], 1),
    (["PUBSUB", "NUMPAT"], 1),
    (["PUBSUB", "CHANNELS"], 1),
    (["MULTI"], 1),
    (["NOSUCHCMD"], 1),
    (["SUBSCRIBE", "c"], 1),
    (["UNSUBSCRIBE", "c", "never"], 2),
    (["PUNSUBSCRIBE", "never"], 1),
    (["PUNSUBSCRIBE"], 2),
    (["UNSUBSCRIBE", "a"], 1),
    (["UNSUBSCRIBE"], 1),
    (["UNSUBSCRIBE"], 1),
    (["GET", "x"], 1),
    (["PSUBSCRIBE", "x?", "[ab]"], 2),
    (["UNSUBSCRIBE"], 1),
    (["PUNSUBSCRIBE", "x?"], 1),
    (["PUNSUBSCRIBE", "[ab]"], 1),
    (["PING"], 1),
]


@pytest.mark.needs_redis
def test_resp2_replies_match_redis(server, redis_ref):
    assert_same_raw(server.port, redis_ref.port, RESP2_STEPS)


@pytest.mark.needs_redis
def test_resp3_replies_match_redis(server_factory, redis_ref):
    srv = server_factory(resp3_enabled=True)
    steps = [
        (["UNSUBSCRIBE"], 1),
        (["SUBSCRIBE", "a", "b"], 2),
        (["PSUBSCRIBE", "a*"], 1),
        (["PING"], 1),
        (["PING", "x"], 1),
        (["GET", "nokey"], 1),
        # The client's own message comes before PUBLISH's reply, as Redis writes it.
        (["PUBLISH", "a", "hello"], 3),
        (["PUBLISH", "b", "hi"], 2),
        (["PUBSUB", "NUMSUB", "a", "b", "c"], 1),
        (["PUBSUB", "NUMPAT"], 1),
        (["PUBSUB", "CHANNELS", "[a]"], 1),
        (["PUNSUBSCRIBE"], 1),
        (["UNSUBSCRIBE", "b"], 1),
        (["UNSUBSCRIBE"], 1),
        (["UNSUBSCRIBE"], 1),
    ]
    assert_same_raw(srv.port, redis_ref.port, steps, setup=[["HELLO", "3"]])


# --------------------------------------------------------------------------------------
# Delivery


def test_messages_reach_subscribers_on_every_worker_in_order(server_factory):
    srv = server_factory(workers=4)
    subs = [RawConn(srv.port) for _ in range(16)]
    try:
        for s in subs:
            assert subscribe(s, "news") == [1]
            assert subscribe(s, "n*", kind="PSUBSCRIBE") == [2]
        pub = srv.client()
        assert pub.execute_command("PUBSUB", "NUMSUB", "news") == [b"news", 16]
        assert pub.execute_command("PUBSUB", "NUMPAT") == 1
        for i in range(50):
            assert pub.publish("news", "m%d" % i) == 32
        assert pub.publish("other", "x") == 0
        assert pub.publish("nx", "p") == 16  # pattern only
        for s in subs:
            for i in range(50):
                assert s.read() == [b"message", b"news", b"m%d" % i]
                assert s.read() == [b"pmessage", b"n*", b"news", b"m%d" % i]
            assert s.read() == [b"pmessage", b"n*", b"nx", b"p"]
    finally:
        for s in subs:
            s.close()


def test_concurrent_publishers_keep_their_own_order(server_factory):
    srv = server_factory(workers=4)
    subs = [RawConn(srv.port) for _ in range(6)]
    npub, nmsg = 4, 150
    errors = []
    try:
        for s in subs:
            assert subscribe(s, "ch") == [1]

        def publisher(j):
            try:
                c = srv.client()
                for i in range(nmsg):
                    assert c.publish("ch", "%d:%d" % (j, i)) == len(subs)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=publisher, args=(j,)) for j in range(npub)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        for s in subs:
            last = [-1] * npub
            for _ in range(npub * nmsg):
                kind, channel, data = s.read()
                assert (kind, channel) == (b"message", b"ch")
                j, i = map(int, data.split(b":"))
                assert i == last[j] + 1, "publisher %d: %d after %d" % (j, i, last[j])
                last[j] = i
            assert last == [nmsg - 1] * npub
    finally:
        for s in subs:
            s.close()


def test_resp3_subscriber_gets_pushes_and_can_run_commands(server_factory):
    srv = server_factory(resp3_enabled=True, workers=4)
    with RawConn(srv.port) as s:
        s.call("HELLO", "3")
        s.send(cmd("SUBSCRIBE", "ch"))
        assert s.read_raw() == b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        s.send(cmd("PSUBSCRIBE", "c?"))
        assert s.read_raw() == b">3\r\n$10\r\npsubscribe\r\n$2\r\nc?\r\n:2\r\n"
        assert s.call("SET", "k", "v") == "OK"  # no subscribed-mode restriction in RESP3
        assert srv.client().publish("ch", "hello") == 2
        assert s.read_raw() == b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
        assert s.read_raw() == b">4\r\n$8\r\npmessage\r\n$2\r\nc?\r\n$2\r\nch\r\n$5\r\nhello\r\n"
        assert s.call("GET", "k") == b"v"


def test_unsubscribed_client_gets_nothing_more(server_factory):
    srv = server_factory(workers=4)
    pub = srv.client()
    with RawConn(srv.port) as a, RawConn(srv.port) as b:
        subscribe(a, "ch")
        subscribe(b, "ch")
        a.send(cmd("UNSUBSCRIBE", "ch"))
        assert a.read() == [b"unsubscribe", b"ch", 0]
        assert pub.publish("ch", "1") == 1
        assert b.read() == [b"message", b"ch", b"1"]
        # a is a normal client again and received nothing.
        assert a.call("PING") == "PONG"


def test_binary_channels_messages_and_patterns(server):
    pub = server.client()
    chan = b"ch\x00\r\n\xff"
    msg = bytes(range(256)) * 4
    with RawConn(server.port) as s:
        subscribe(s, chan)
        subscribe(s, b"ch\x00*", kind="PSUBSCRIBE")
        assert pub.publish(chan, msg) == 2
        assert s.read() == [b"message", chan, msg]
        assert s.read() == [b"pmessage", b"ch\x00*", chan, msg]
        assert pub.publish(b"", b"") == 0


# --------------------------------------------------------------------------------------
# Subscribed mode and counts


def test_resp2_subscribed_mode_allows_only_pubsub_commands(server):
    with RawConn(server.port) as s:
        subscribe(s, "ch")
        err = s.call("GET", "k")
        assert err == Error("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                            "PING / QUIT / RESET are allowed in this context")
        assert s.call("CONFIG", "GET", "port").startswith("ERR Can't execute 'config|get'")
        assert s.call("PING") == [b"pong", b""]
        s.send(cmd("UNSUBSCRIBE"))
        assert s.read() == [b"unsubscribe", b"ch", 0]
        assert s.call("PING") == "PONG"
        assert s.call("GET", "k") is None
        subscribe(s, "ch")
        s.send(cmd("QUIT"))
        assert s.read_until_closed() == b"+OK\r\n"


def test_counts_follow_subscribers_on_all_workers(server_factory):
    srv = server_factory(workers=4)
    r = srv.client()
    conns = [RawConn(srv.port) for _ in range(8)]
    try:
        for i, c in enumerate(conns):
            subscribe(c, "all", "ch%d" % (i % 3))
            subscribe(c, "p%d*" % (i % 2), "all*", kind="PSUBSCRIBE")
        assert sorted(r.execute_command("PUBSUB", "CHANNELS")) == [b"all", b"ch0", b"ch1",
                                                                   b"ch2"]
        assert sorted(r.execute_command("PUBSUB", "CHANNELS", "ch*")) == [b"ch0", b"ch1",
                                                                          b"ch2"]
        assert r.execute_command("PUBSUB", "NUMSUB", "all", "ch0", "ch1", "ch2", "none") == [
            b"all", 8, b"ch0", 3, b"ch1", 3, b"ch2", 2, b"none", 0]
        assert r.execute_command("PUBSUB", "NUMPAT") == 3  # distinct patterns
        stats = srv.info("stats")
        assert (stats["pubsub_channels"], stats["pubsub_patterns"]) == (4, 3)
        assert r.publish("all", "x") == 16  # 8 channel + 8 "all*" subscriptions
        for c in conns[:4]:
            c.close()
        wait_until(lambda: r.execute_command("PUBSUB", "NUMSUB", "all") == [b"all", 4],
                   timeout=5, msg="subscribers of closed connections forgotten")
        assert r.publish("all", "y") == 8
        for c in conns[4:]:
            c.close()
        wait_until(lambda: r.execute_command("PUBSUB", "CHANNELS") == [], timeout=5,
                   msg="no channel left")
        assert r.execute_command("PUBSUB", "NUMPAT") == 0
        stats = srv.info("stats")
        assert (stats["pubsub_channels"], stats["pubsub_patterns"]) == (0, 0)
        assert r.publish("all", "z") == 0
    finally:
        for c in conns:
            c.close()


def test_client_list_and_idle_timeout_see_subscribers(server_factory):
    srv = server_factory(timeout=1)
    r = srv.client()
    with RawConn(srv.port) as s:
        subscribe(s, "ch")
        line = [ln for ln in r.execute_command("CLIENT", "LIST").decode().splitlines()
                if "cmd=subscribe" in ln]
        assert line and " flags=P " in line[0] and " sub=1 psub=0 " in line[0], line
        subscribe(s, "a*", "b*", kind="PSUBSCRIBE")
        line = [ln for ln in r.execute_command("CLIENT", "LIST").decode().splitlines()
                if "cmd=psubscribe" in ln]
        assert line and " sub=1 psub=2 " in line[0], line
        # Subscribers are exempt from the idle timeout (Redis): still subscribed later.
        with RawConn(srv.port) as idle:
            idle.call("PING")
            wait_until(lambda: not idle.is_open(0.05), timeout=10, msg="idle client closed")
        assert s.is_open(0.05)
        assert r.publish("ch", "still here") == 1
        assert s.read() == [b"message", b"ch", b"still here"]
        s.send(cmd("UNSUBSCRIBE"))
        assert s.read() == [b"unsubscribe", b"ch", 2]
        line = [ln for ln in r.execute_command("CLIENT", "LIST").decode().splitlines()
                if "cmd=unsubscribe" in ln]
        assert line and " sub=0 psub=2 " in line[0], line


def test_publish_writes_a_record_to_the_pubsub_column_family(server):
    def pubsub_keys():
        return server.info("rocksdb").get("estimate_keys[pubsub]")

    before = pubsub_keys()
    assert before is not None, "INFO rocksdb has no estimate_keys[pubsub]"
    r = server.client()
    for i in range(5):
        assert r.publish("cf%d" % i, "m") == 0
    assert pubsub_keys() == before + 5


# --------------------------------------------------------------------------------------
# Output limit


def test_slow_subscriber_is_cut_while_a_fast_one_keeps_up(server_factory):
    srv = server_factory(workers=4)
    size = 256 << 10
    count = 200  # 50 MiB: past the limit plus whatever the sockets can buffer
    assert size * count > OUTPUT_LIMIT + (16 << 20)

    def payload(i):
        return (b"%08d" % i) * (size // 8)

    slow = RawConn(srv.port, rcvbuf=4096)  # subscribes, then never reads
    fast = RawConn(srv.port, timeout=30)
    subscribe(slow, "ch")
    subscribe(fast, "ch")
    received = []
    errors = []
    progress = threading.Condition()

    def reader():
        try:
            for _ in range(count):
                msg = fast.read()
                with progress:
                    received.append(msg)
                    progress.notify_all()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            with progress:
                progress.notify_all()

    t = threading.Thread(target=reader)
    t.start()
    pub = srv.client()
    replies = []
    try:
        for i in range(count):
            replies.append(pub.publish("ch", payload(i)))
            # Flow control for the fast reader only (it shares this process's CPU): it may
            # lag by a few messages, far below the limit. The slow one is never waited for.
            with progress:
                progress.wait_for(lambda: len(received) >= i - 8 or errors, timeout=30)
            assert not errors, errors
    finally:
        t.join(60)
    assert not errors, errors
    assert len(received) == count
    for i, msg in enumerate(received):
        assert msg == [b"message", b"ch", payload(i)], "message %d" % i
    # The slow subscriber was counted while it was there, then dropped.
    assert replies[0] == 2
    assert replies[-1] == 1
    assert replies == sorted(replies, reverse=True)
    wait_until(lambda: srv.info("stats").get("client_output_buffer_limit_disconnections") == 1,
               timeout=10, msg="one output-limit disconnection counted")
    assert pub.execute_command("PUBSUB", "NUMSUB", "ch") == [b"ch", 1]
    # What the slow client had received before the cut, then the end of the connection.
    data = slow.read_until_closed(timeout=30)
    assert len(data) < size * count
    assert "over the pubsub limit" in srv.log_text(), "no log line for the cut"
    slow.close()
    fast.close()
