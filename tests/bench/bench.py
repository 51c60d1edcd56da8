#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark kvrocks-c against Debian's redis-server in the same run.

Starts both servers on free loopback ports in temporary directories, runs the same load against
each, and prints a table of requests/s with the ratio kvrocks/redis:

- redis-benchmark's own tests (-t ping_inline,set,get,incr,mset,lpush,lpop,sadd,hset,zadd,
  lrange_100);
- ZRANGE key 0 99 on a zset seeded with 100 members (a redis-benchmark custom command);
- the blocking pair: 4 redis-benchmark clients looping on BRPOP while one LPUSHes, all
  pipelined by -P; the figure is elements pushed and popped per second.

Each row runs at every pipeline depth of --pipelines, --repeat times on both servers (the table
shows medians and the range of the per-run ratios). Machines here are shared and noisy: only
the ratio measured in one run means anything, never the absolute numbers alone.

    ./x.py bench [--quick] [--tests set,get,...] [--extra zrange,brpop] [--requests N]
                 [--clients C] [--pipelines 1,16] [--workers W] [--repeat 3]
    ./x.py bench repl ...           replication figures: see bench_repl.py
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

DEFAULT_TESTS = "ping_inline,set,get,incr,mset,lpush,lpop,sadd,hset,zadd,lrange_100"
DEFAULT_EXTRA = "zrange,brpop"
ZSET_KEY = "bench:zset"
QUEUE_KEY = "bench:queue"


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


def blocking_pair(port, elements, pipeline, consumers=4, timeout=300):
    """Elements per second through the blocking pair: `consumers` redis-benchmark clients
    looping on BRPOP (parked in BRPOP before anything is pushed, so the pushes exercise the
    wake-up path) and one producer client LPUSHing `elements` values, both pipelining
    `pipeline` commands. Timed from the producer's start until the consumers have popped all
    `elements` (redis-benchmark stops after exactly -n requests when -n is a multiple of -P)."""
    elements -= elements % pipeline
    c = benchlib.Client(port)
    try:
        c.call("DEL", QUEUE_KEY)
    finally:
        c.close()
    base = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(elements),
            "-P", str(pipeline), "-q"]
    cons = subprocess.Popen(base + ["-c", str(consumers), "BRPOP", QUEUE_KEY, "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prod = None
    try:
        benchlib.wait_until(
            lambda: int(benchlib.info(port, "clients").get("blocked_clients", "0")) >= consumers,
            30, "consumers blocked in BRPOP", interval=0.01)
        start = time.monotonic()
        prod = subprocess.Popen(base + ["-c", "1", "LPUSH", QUEUE_KEY, "x" * 64],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cons.wait(timeout=timeout)
        elapsed = time.monotonic() - start
        prod.wait(timeout=timeout)
    finally:
        for p in (cons, prod):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    c = benchlib.Client(port)
    try:
        remaining = c.call("LLEN", QUEUE_KEY)
    finally:
        c.close()
    if cons.returncode != 0 or prod.returncode != 0 or remaining != 0:
        raise RuntimeError(f"blocking pair failed: consumers exit {cons.returncode}, producer "
                           f"exit {prod.returncode}, {remaining} elements left")
    return elements / elapsed


def requests_for(args, pipeline):
    """Pipelined runs go several times faster: give them twice the requests, so that their
    measurement does not shrink to a fraction of a second."""
    return args.requests * (2 if pipeline > 1 else 1)


def workloads(args):
    """The rows of the table, in order: (key, runner) where runner(port, pipeline) returns
    {row name: rps} for one server."""
    out = []
    for test in [t for t in args.tests.split(",") if t]:
        def run(port, pipeline, test=test):
            got = benchlib.redis_benchmark(port, requests_for(args, pipeline), args.clients,
                                           pipeline, tests=test, datasize=args.datasize)
            # LRANGE tests first fill their list with an LPUSH row of their own: not a row here.
            return {k: v for k, v in got.items() if "needed to benchmark" not in k}
        out.append(run)
    extra = [e for e in args.extra.split(",") if e]
    if "zrange" in extra:
        def zrange(port, pipeline):
            seed_zset(port)
            got = benchlib.redis_benchmark(port, requests_for(args, pipeline), args.clients,
                                           pipeline, command=["ZRANGE", ZSET_KEY, "0", "99"],
                                           keyspace=0)
            return {"ZRANGE_100 (ZRANGE key 0 99)": next(iter(got.values()), 0.0)}
        out.append(zrange)
    if "brpop" in extra:
        out.append(lambda port, pipeline: {
            "LPUSH->BRPOP (elements/s)": blocking_pair(port, args.blocking_elements, pipeline)})
    return out


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
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs of each row on both servers, medians reported (3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="fewer requests, for a smoke run")
    args = ap.parse_args()
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
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
        i = 0
        for p in [int(x) for x in args.pipelines.split(",")]:
            for run in workloads(args):
                # Both servers run each row back to back, so load from elsewhere on the machine
                # hits both alike; alternate who goes first so neither always runs warmer. The
                # pair runs --repeat times: one pair's ratio swings by 20% on a shared machine.
                pairs = {}
                for _ in range(args.repeat):
                    if i % 2 == 0:
                        r_rd = run(rd_port, p)
                        r_kv = run(kv_port, p)
                    else:
                        r_kv = run(kv_port, p)
                        r_rd = run(rd_port, p)
                    i += 1
                    for name in r_rd:
                        pairs.setdefault(name, []).append((r_kv.get(name, 0.0), r_rd[name]))
                for name, runs in pairs.items():
                    results.append((name, p, runs))
    finally:
        if kv is not None:
            benchlib.stop(kv)
        if rd is not None:
            benchlib.stop(rd)
        shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    print()
    print(f"requests={args.requests} (x2 when pipelined) clients={args.clients} datasize={args.datasize} "
          f"kvrocks workers={args.workers} blocking pair: {args.blocking_elements} elements, "
          f"4 BRPOP clients, 1 LPUSH client")
    print(f"RocksDB: {benchlib.rocksdb_used()}")
    print(f"took {time.monotonic() - started:.0f}s; load average at the end "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"each row: {args.repeat} run(s) of both servers; rps are medians, ratio is the ratio "
          f"of the medians, range the lowest and highest ratio of one pair of runs")
    table = []
    for name, p, runs in results:
        kv_rps = statistics.median(k for k, _ in runs)
        rd_rps = statistics.median(r for _, r in runs)
        ratio = kv_rps / rd_rps if rd_rps else 0.0
        each = [k / r for k, r in runs if r]
        spread = f"{min(each):.2f}-{max(each):.2f}" if each else "-"
        table.append([name, p, f"{kv_rps:.0f}", f"{rd_rps:.0f}", f"{ratio:.2f}", spread])
    benchlib.print_table(["test", "-P", "kvrocks rps", "redis rps", "ratio", "range"], table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
