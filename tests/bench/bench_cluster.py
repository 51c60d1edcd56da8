#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Cluster-mode latency figures for kvrocks-c (standalone; starts its own servers).

    /usr/bin/python3 tests/bench/bench_cluster.py [--binary build/kvrocks] [--pushes 100]
                                                  [--links 20]

Prints:
  1. link-up time: from sending CLUSTERX SETNODES that makes R a replica of M until R's INFO
     replication shows master_link_status:up (R alternates between replica and master, so
     every measured push starts a new link; M holds a few thousand small keys);
  2. SETNODES latency (p50 / p99 / max over --pushes pushes, each a role change) with a healthy
     old master, and with the old master blackholed by a proxy in the middle of a rate-limited
     full sync (max-replication-mb 1), where every other push points R back at it.
Machines here are shared and noisy: read the numbers as orders of magnitude.
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from helpers.proxy import Proxy  # noqa: E402
from helpers.server import Server  # noqa: E402
from helpers.wait import wait_until  # noqa: E402
from repl.replutil import PURGE_WAL_CONFIG, purge_wal_and_restart  # noqa: E402

BASE = {"cluster-enabled": "yes", "replication-connect-timeout-ms": 2000,
        "replication-recv-timeout-ms": 2000, "workers": 2}


def node_id(name):
    return hashlib.sha1(name.encode()).hexdigest()


def line_master(name, host, port, slots=""):
    return ("%s %s %d master - %s" % (node_id(name), host, port, slots)).rstrip()


def line_slave(name, host, port, master):
    return "%s %s %d slave %s" % (node_id(name), host, port, node_id(master))


def setnodes(server, text, version):
    start = time.monotonic()
    reply = server.command("CLUSTERX", "SETNODES", text, str(version))
    elapsed = time.monotonic() - start
    assert reply == b"OK", reply
    return elapsed


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def report(title, values):
    ms = [x * 1000 for x in values]
    print("%-58s n=%-4d p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms"
          % (title, len(ms), pct(ms, 50), pct(ms, 99), max(ms)))


def link(server):
    return server.info("replication").get("master_link_status")


def bench_link_up(tmp, binary, rounds):
    m = Server(os.path.join(tmp, "m"), config=BASE, binary=binary, name="m")
    r = Server(os.path.join(tmp, "r"), config=BASE, binary=binary, name="r")
    try:
        m.start()
        r.start()
        t_master = "\n".join([line_master("m", m.host, m.port, "0-16383"),
                              line_master("r", r.host, r.port)])
        t_slave = "\n".join([line_master("m", m.host, m.port, "0-16383"),
                             line_slave("r", r.host, r.port, "m")])
        for s, nm in ((m, "m"), (r, "r")):
            s.command("CLUSTERX", "SETNODEID", node_id(nm))
            setnodes(s, t_master, 1)
        c = m.client()
        for first in range(0, 5000, 500):
            p = c.pipeline(transaction=False)
            for i in range(first, first + 500):
                p.set("k%d" % i, "v%d" % i)
            p.execute()
        version = 1
        up_times, push_times = [], []
        for _ in range(rounds):
            version += 1
            start = time.monotonic()
            push_times.append(setnodes(r, t_slave, version))
            wait_until(lambda: link(r) == "up", timeout=30, interval=0.001, scale=False)
            up_times.append(time.monotonic() - start)
            version += 1
            push_times.append(setnodes(r, t_master, version))
            wait_until(lambda: r.info("replication")["role"] == "master", timeout=10,
                       interval=0.001, scale=False)
        report("SETNODES -> replica link up", up_times)
        report("SETNODES latency, healthy master (role change each)", push_times)
    finally:
        m.stop()
        r.stop()


def bench_blackholed(tmp, binary, pushes):
    cfg = dict(BASE, **{"rocksdb.write_buffer_size": 1, "rocksdb.target_file_size_base": 1,
                        "max-replication-mb": 1}, **PURGE_WAL_CONFIG)
    m = Server(os.path.join(tmp, "bm"), config=cfg, binary=binary, name="bm")
    o = Server(os.path.join(tmp, "bo"), config=BASE, binary=binary, name="bo")
    r = Server(os.path.join(tmp, "br"), config=BASE, binary=binary, name="br")
    proxy = None
    try:
        for s in (m, o, r):
            s.start()
        proxy = Proxy(m.host, m.port)
        lines_common = [line_master("m", proxy.host, proxy.port, "0-16383"),
                        line_master("o", o.host, o.port)]
        t_m = "\n".join(lines_common + [line_slave("r", r.host, r.port, "m")])
        t_o = "\n".join(lines_common + [line_slave("r", r.host, r.port, "o")])
        for s, nm in ((m, "m"), (o, "o"), (r, "r")):
            s.command("CLUSTERX", "SETNODEID", node_id(nm))
        setnodes(m, "\n".join(lines_common + [line_master("r", r.host, r.port)]), 1)
        c = m.client(socket_timeout=60)
        for first in range(0, 30, 10):
            p = c.pipeline(transaction=False)
            for i in range(first, first + 10):
                p.set("big%d" % i, os.urandom(100_000))
            p.execute()
        purge_wal_and_restart(m)  # the replica must full-sync
        setnodes(r, t_m, 2)
        wait_until(lambda: os.path.isdir(os.path.join(r.dir, "sync_checkpoint")), timeout=20,
                   interval=0.01, scale=False)
        proxy.blackhole()
        times = []
        version = 2
        for i in range(pushes):
            version += 1
            times.append(setnodes(r, t_o if i % 2 == 0 else t_m, version))
        report("SETNODES latency, old master blackholed mid full sync", times)
    finally:
        if proxy is not None:
            proxy.close()
        for s in (m, o, r):
            s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.environ.get("KVROCKS_BIN") or os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "build", "kvrocks"))
    ap.add_argument("--pushes", type=int, default=100)
    ap.add_argument("--links", type=int, default=50)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_cluster.")
    try:
        bench_link_up(tmp, os.path.abspath(args.binary), args.links)
        bench_blackholed(tmp, os.path.abspath(args.binary), args.pushes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
