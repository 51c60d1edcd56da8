#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark kvrocks-c against Debian's redis-server in the same run.

Starts both servers on free loopback ports in temporary directories, runs the same load against
each, and prints a table of requests/s with the ratio kvrocks/redis:

- redis-benchmark's own tests (-t ping_inline,set,get,incr,mset,lpush,lpop,sadd,hset,zadd,
  lrange_100);
- ZRANGE key 0 99 on a zset seeded with 100 members (a redis-benchmark custom command);
- the blocking pair: consumers waiting in BRPOP while a producer LPUSHes (pipelined by -P);
  the figure is elements pushed and popped per second.

Each row runs at every pipeline depth of --pipelines. Machines here are shared and noisy: only
the ratio measured in one run means anything, never the absolute numbers alone.

    ./x.py bench [--quick] [--tests set,get,...] [--extra zrange,brpop] [--requests N]
                 [--clients C] [--pipelines 1,16] [--workers W]
    ./x.py bench repl ...           replication figures: see bench_repl.py
"""
import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

DEFAULT_TESTS = "ping_inline,set,get,incr,mset,lpush,lpop,sadd,hset,zadd,lrange_100"
DEFAULT_EXTRA = "zrange,brpop"
ZSET_KEY = "bench:zset"
QUEUE_KEY = "bench:queue"
STOP = b"stop"


def seed_zset(port, members=100):
    c = benchlib.Client(port)
    try:
        c.call("DEL", ZSET_KEY)
        args = []
        for i in range(members):
            args += [i, f"member:{i:03d}"]
        c.call("ZADD", ZSET_KEY, *args)
        n = c.call("ZCARD", ZSET_KEY)
        if n != members:
            raise RuntimeError(f"seeded zset has {n} members, expected {members}")
    finally:
        c.close()


def consumer(port, ready, results):
    """Pop from QUEUE_KEY with BRPOP until the STOP element; report how many were popped."""
    c = benchlib.Client(port, timeout=60)
    popped = 0
    cmd = benchlib.encode("BRPOP", QUEUE_KEY, 0)
    ready.put(True)
    try:
        while True:
            c.send(cmd)
            reply = c.read()
            if reply is None:
                continue
            if reply[1] == STOP:
                break
            popped += 1
    finally:
        c.close()
    results.put(popped)


def blocking_pair(port, elements, pipeline, consumers=4, timeout=300):
    """Elements per second through LPUSH (one producer, `pipeline` commands per round trip)
    and BRPOP (`consumers` clients, each waiting in BRPOP when the list is empty)."""
    benchlib.Client(port).call("DEL", QUEUE_KEY)
    ctx = multiprocessing.get_context("fork")
    ready, results = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=consumer, args=(port, ready, results)) for _ in range(consumers)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=30)
        # Start with the consumers parked in BRPOP, so the first pushes exercise the wake-up
        # path rather than a plain pop.
        benchlib.wait_until(
            lambda: int(benchlib.info(port, "clients").get("blocked_clients", "0")) >= consumers,
            30, "consumers blocked in BRPOP")
        prod = benchlib.Client(port, timeout=60)
        value = b"x" * 64
        one = benchlib.encode("LPUSH", QUEUE_KEY, value)
        start = time.monotonic()
        sent = 0
        while sent < elements:
            n = min(pipeline, elements - sent)
            prod.send(one * n)
            for _ in range(n):
                prod.read()
            sent += n
        stop_cmd = benchlib.encode("LPUSH", QUEUE_KEY, STOP)
        # Consumers stop at the first STOP they pop, and only after everything pushed before
        # it: push them after the data so the clock stops once the queue is drained.
        for _ in procs:
            prod.send(stop_cmd)
        for _ in procs:
            prod.read()
        popped = sum(results.get(timeout=timeout) for _ in procs)
        elapsed = time.monotonic() - start
        prod.close()
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    if popped != elements:
        raise RuntimeError(f"blocking pair popped {popped} of {elements} elements")
    return elements / elapsed


def run_all(port, args, pipeline):
    """{row name: rps} for one server at one pipeline depth."""
    rows = {}
    if args.tests:
        got = benchlib.redis_benchmark(port, args.requests, args.clients, pipeline,
                                       tests=args.tests, datasize=args.datasize)
        for name, rps in got.items():
            if "needed to benchmark" in name:  # the LPUSH that fills LRANGE's list
                continue
            rows[name] = rps
    extra = [e for e in args.extra.split(",") if e]
    if "zrange" in extra:
        seed_zset(port)
        got = benchlib.redis_benchmark(port, args.requests, args.clients, pipeline,
                                       command=["ZRANGE", ZSET_KEY, "0", "99"], keyspace=0)
        rows["ZRANGE_100 (ZRANGE key 0 99)"] = next(iter(got.values()), 0.0)
    if "brpop" in extra:
        rows["LPUSH->BRPOP (elements/s)"] = blocking_pair(port, args.blocking_elements, pipeline)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvrocks", required=True)
    ap.add_argument("--tests", default=DEFAULT_TESTS, help="redis-benchmark -t list")
    ap.add_argument("--extra", default=DEFAULT_EXTRA, help="zrange,brpop or empty")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--blocking-elements", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--datasize", type=int, default=64)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="fewer requests, for a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.requests = 10000
        args.blocking_elements = 2000
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        print("redis-benchmark and redis-server are required (./x.py deps)", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="kvrocks-bench-")
    kv = rd = None
    results = []
    started = time.monotonic()
    try:
        kv, kv_port = benchlib.start_kvrocks(args.kvrocks, os.path.join(workdir, "kvrocks"),
                                             args.workers)
        rd, rd_port = benchlib.start_redis(os.path.join(workdir, "redis"))
        for i, p in enumerate(int(x) for x in args.pipelines.split(",")):
            # Alternate the order so neither server always runs on a warmer machine.
            if i % 2 == 0:
                r_rd = run_all(rd_port, args, p)
                r_kv = run_all(kv_port, args, p)
            else:
                r_kv = run_all(kv_port, args, p)
                r_rd = run_all(rd_port, args, p)
            for name in r_rd:
                results.append((name, p, r_kv.get(name, 0.0), r_rd[name]))
    finally:
        if kv is not None:
            benchlib.stop(kv)
        if rd is not None:
            benchlib.stop(rd)
        shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    print()
    print(f"requests={args.requests} clients={args.clients} datasize={args.datasize} "
          f"kvrocks workers={args.workers} blocking elements={args.blocking_elements} "
          f"(4 BRPOP consumers)")
    print(f"took {time.monotonic() - started:.0f}s; load average at the end "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    table = []
    for name, p, kv_rps, rd_rps in sorted(results, key=lambda r: (r[1], 0)):
        ratio = kv_rps / rd_rps if rd_rps else 0.0
        table.append([name, p, f"{kv_rps:.0f}", f"{rd_rps:.0f}", f"{ratio:.2f}"])
    benchlib.print_table(["test", "-P", "kvrocks rps", "redis rps", "ratio"], table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
