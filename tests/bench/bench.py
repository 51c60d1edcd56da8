#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark kvrocks-c against Debian's redis-server in the same run.

Starts both servers on free loopback ports in temporary directories, runs redis-benchmark with
the same parameters against each, and prints a table of requests/s with the ratio
kvrocks/redis. Machines here are shared and noisy: only the ratio measured in one run means
anything, never the absolute numbers alone.

    ./x.py bench [--quick] [--tests set,get,...] [--requests N] [--clients C] [--pipelines 1,16]
"""
import argparse
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

DEFAULT_TESTS = "ping_inline,set,get,incr,mset"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} not ready after {timeout}s")


def start_kvrocks(binary, workdir, workers):
    port = free_port()
    conf = os.path.join(workdir, "kvrocks.conf")
    with open(conf, "w") as f:
        f.write(f"bind 127.0.0.1\nport {port}\ndir {workdir}/data\nlog-dir {workdir}\n"
                f"workers {workers}\n")
    log = open(os.path.join(workdir, "stdout.log"), "w")
    proc = subprocess.Popen([binary, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    wait_ready(port, proc)
    return proc, port


def start_redis(workdir):
    port = free_port()
    log = open(os.path.join(workdir, "redis.log"), "w")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", workdir, "--save", "", "--appendonly", "no"],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_ready(port, proc)
    return proc, port


def run_benchmark(port, tests, requests, clients, pipeline, datasize):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(requests),
           "-c", str(clients), "-P", str(pipeline), "-d", str(datasize), "-r", "100000",
           "-t", tests, "--csv"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         timeout=600).stdout
    rows = {}
    for row in csv.reader(io.StringIO(out)):
        if len(row) < 2 or row[0] == "test":
            continue
        try:
            rows[row[0]] = float(row[1])
        except ValueError:
            continue
    return rows


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvrocks", required=True)
    ap.add_argument("--tests", default=DEFAULT_TESTS)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--datasize", type=int, default=64)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="fewer requests, for a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.requests = 20000
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        print("redis-benchmark and redis-server are required (./x.py deps)", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="kvrocks-bench-")
    kv_dir = os.path.join(workdir, "kvrocks")
    rd_dir = os.path.join(workdir, "redis")
    os.makedirs(kv_dir)
    os.makedirs(rd_dir)
    kv, kv_port = start_kvrocks(args.kvrocks, kv_dir, args.workers)
    rd, rd_port = start_redis(rd_dir)
    results = []
    try:
        for p in [int(x) for x in args.pipelines.split(",")]:
            # Alternate the order so neither server always runs on a warmer machine.
            r_rd = run_benchmark(rd_port, args.tests, args.requests, args.clients, p,
                                 args.datasize)
            r_kv = run_benchmark(kv_port, args.tests, args.requests, args.clients, p,
                                 args.datasize)
            for name in r_rd:
                results.append((name, p, r_kv.get(name, 0.0), r_rd[name]))
    finally:
        stop(kv)
        stop(rd)
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"requests={args.requests} clients={args.clients} datasize={args.datasize} "
          f"kvrocks workers={args.workers}")
    print(f"{'test':<28} {'-P':>3} {'kvrocks rps':>12} {'redis rps':>12} {'ratio':>7}")
    for name, p, kv_rps, rd_rps in results:
        ratio = kv_rps / rd_rps if rd_rps else 0.0
        print(f"{name:<28} {p:>3} {kv_rps:>12.0f} {rd_rps:>12.0f} {ratio:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
