#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Slot migration throughput: keys/s and MB/s for one slot of mixed keys, with and without
concurrent writers.

Starts two cluster-mode kvrocks-c servers (a owns every slot, b none) on free loopback ports in
temporary directories, fills one slot of a with --keys mixed keys (40 % strings of 64-256 bytes,
then hashes, lists, sets and sorted sets of 10 items each; every fifth key with a TTL), runs
CLUSTERX MIGRATE <slot> <b> sync, and reports the time the sync reply took, the keys and bytes the
source logged for the migration, and checks that b then holds as many keys of the slot as a.
With writers, --writers threads keep writing keys of the slot (new strings, HSET, RPUSH), each
at most --write-rate writes/s, until the source answers MOVED. Each scenario gets fresh servers. Shared, noisy machines: compare runs
made together only.

    /usr/bin/python3 tests/bench/bench_migrate.py [--binary build/kvrocks] [--keys 100000]
        [--writers 2] [--write-rate 2000] [--pipeline 16] [--type redis-command|raw-key-value]
"""
import argparse
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.crc import key_slot

SLOT = 4242


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_id(name):
    return hashlib.sha1(name.encode()).hexdigest()


class Server:
    def __init__(self, binary, root, name, extra):
        self.name = name
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.port = free_port()
        conf = os.path.join(self.dir, "kvrocks.conf")
        with open(conf, "w") as f:
            f.write("bind 127.0.0.1\nport %d\ndir %s\nlog-dir %s\nworkers 4\n"
                    "cluster-enabled yes\n%s" % (self.port, self.dir, self.dir, extra))
        self.out = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([binary, "-c", conf], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        self.client = redis.Redis(port=self.port, socket_timeout=120, socket_connect_timeout=5)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.client.ping():
                    break
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("%s did not start" % name)
                time.sleep(0.05)

    def log_text(self):
        text = ""
        for f in sorted(os.listdir(self.dir)):
            if f.startswith("kvrocks.INFO"):
                with open(os.path.join(self.dir, f), errors="replace") as fh:
                    text += fh.read()
        return text

    def stop(self):
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def tag_for_slot(slot):
    i = 0
    while key_slot(("b%d" % i).encode()) != slot:
        i += 1
    return "b%d" % i


def fill(c, tag, n, seed=1):
    rnd = random.Random(seed)
    payload = 0
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        k = "{%s}k%d" % (tag, i)
        kind = i % 20
        if kind < 8:
            v = "v" * rnd.randint(64, 256)
            pipe.set(k, v)
            payload += len(k) + len(v)
        elif kind < 11:
            pipe.hset(k, mapping={"f%d" % j: "value%d" % j for j in range(10)})
            payload += len(k) + 10 * 12
        elif kind < 14:
            pipe.rpush(k, *["element%d" % j for j in range(10)])
            payload += len(k) + 10 * 9
        elif kind < 17:
            pipe.sadd(k, *["member%d" % j for j in range(10)])
            payload += len(k) + 10 * 7
        else:
            pipe.zadd(k, {"m%d" % j: j * 1.5 for j in range(10)})
            payload += len(k) + 10 * 10
        if i % 5 == 0:
            pipe.expire(k, 3600)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return payload


def writer(port, tag, wid, stop, counts, rate):
    c = redis.Redis(port=port, socket_timeout=30)
    i = 0
    start = time.monotonic()
    while not stop.is_set():
        if rate > 0:
            ahead = i / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        try:
            op = i % 3
            if op == 0:
                c.set("{%s}w%d_%d" % (tag, wid, i), "x" * 100)
            elif op == 1:
                c.hset("{%s}k%d" % (tag, (i * 7919) % 1000 * 20 + 8), "w%d" % wid, i)
            else:
                c.rpush("{%s}wl%d" % (tag, wid), i)
            counts[wid] = counts.get(wid, 0) + 1
        except redis.exceptions.ResponseError as exc:
            if "MOVED" in str(exc):
                break
            if "TRYAGAIN" not in str(exc):
                raise
        i += 1
    c.close()


def run(args, writers):
    root = tempfile.mkdtemp(prefix="bench-migrate-")
    extra = "migrate-speed 0\nmigrate-pipeline-size %d\nmigrate-type %s\n" % (
        args.pipeline, args.type)
    a = b = None
    try:
        a = Server(args.binary, root, "a", extra)
        b = Server(args.binary, root, "b", extra)
        text = "%s 127.0.0.1 %d master - 0-16383\n%s 127.0.0.1 %d master -" % (
            node_id("a"), a.port, node_id("b"), b.port)
        for s, name in ((a, "a"), (b, "b")):
            s.client.execute_command("CLUSTERX", "SETNODEID", node_id(name))
            s.client.execute_command("CLUSTERX", "SETNODES", text, "1")
        tag = tag_for_slot(SLOT)
        payload = fill(a.client, tag, args.keys)
        stop = threading.Event()
        counts = {}
        threads = [threading.Thread(target=writer, args=(a.port, tag, w, stop, counts, args.write_rate))
                   for w in range(writers)]
        for t in threads:
            t.start()
        time.sleep(0.5 if writers else 0)  # let the writers get going
        t0 = time.monotonic()
        reply = a.client.execute_command("CLUSTERX", "MIGRATE", str(SLOT), node_id("b"),
                                         "sync", "0")
        elapsed = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join(60)
        if reply not in (b"OK", True):
            raise RuntimeError("migration failed: %r" % (reply,))
        m = re.findall(r"succeeded: (\d+) keys, (\d+) commands, (\d+) bytes in (\d+) ms "
                       r"\((\d+) WAL rounds, writes refused for (\d+) ms\)", a.log_text())
        keys, cmds, wire, ms, rounds, refused_ms = (int(x) for x in m[-1])
        na = a.client.execute_command("CLUSTER", "COUNTKEYSINSLOT", str(SLOT))
        nb = b.client.execute_command("CLUSTER", "COUNTKEYSINSLOT", str(SLOT))
        if na != nb:
            raise RuntimeError("key counts differ: source %d, destination %d" % (na, nb))
        return {
            "writers": writers, "keys_in_slot": nb, "keys_sent": keys, "commands": cmds,
            "wire_mb": wire / 1e6, "payload_mb": payload / 1e6, "seconds": elapsed,
            "server_ms": ms, "keys_per_s": nb / elapsed, "wire_mb_per_s": wire / 1e6 / elapsed,
            "writes_during": sum(counts.values()), "wal_rounds": rounds,
            "refused_ms": refused_ms,
        }
    finally:
        for s in (a, b):
            if s is not None:
                s.stop()
        shutil.rmtree(root, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_bin = os.environ.get("KVROCKS_BIN",
                                 os.path.join(here, "..", "..", "build", "kvrocks"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=default_bin)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--write-rate", type=int, default=2000,
                    help="writes per second per writer (0 = as fast as possible)")
    ap.add_argument("--type", default="redis-command",
                    choices=("redis-command", "raw-key-value"))
    args = ap.parse_args()
    print("binary %s, %d keys in slot %d, pipeline %d, %s, writers at %s writes/s each"
          % (args.binary, args.keys, SLOT, args.pipeline, args.type, args.write_rate or "max"))
    print("%-8s %9s %9s %9s %8s %10s %9s %10s %8s %7s %11s" % (
        "writers", "keys", "sent", "commands", "wire MB", "seconds", "keys/s", "wire MB/s",
        "writes", "rounds", "refused ms"))
    for w in (0, args.writers) if args.writers else (0,):
        r = run(args, w)
        print("%-8d %9d %9d %9d %8.1f %10.2f %9.0f %10.2f %8d %7d %11d" % (
            r["writers"], r["keys_in_slot"], r["keys_sent"], r["commands"], r["wire_mb"],
            r["seconds"], r["keys_per_s"], r["wire_mb_per_s"], r["writes_during"],
            r["wal_rounds"], r["refused_ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
