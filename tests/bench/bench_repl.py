#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Replication figures for kvrocks-c (issue 4), all from one run on this machine:

(a) full sync: time for a fresh replica to full-sync a dataset of --size bytes from its master
    (SLAVEOF until the replica's sequence equals the master's and the link is up), against a
    plain local copy (cp -r) of the checkpoint the master served. The figure is
    copy_time / sync_time: 1.0 means the sync moves data as fast as cp does. The replica serves
    the fetched files before they reach the disk (README, "Durability of a full sync"), as cp
    leaves them in the page cache; so also the time until its files are on disk (its UNSYNCED
    mark gone) against cp -r followed by sync -f (the copy made durable).
(b) replica lag under a steady write load (redis-benchmark SET on the master): master and
    replica sequences (ROLE, the same numbers as INFO replication's master_repl_offset and
    slave_repl_offset) are sampled every --sample-ms; lag in sequences is master - replica at a sample, lag in ms is how long
    ago the master first reached the replica's sequence. p50/p99/max.
(c) master write throughput (redis-benchmark SET) with 0, 1 and 2 replicas attached.

    ./x.py bench repl [--size 1G] [--quick] [--requests N] [--pipeline 16] [--rounds N]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

VALUE_SIZE = 16 * 1024
PURGE_WAL_CONFIG = "rocksdb.wal_ttl_seconds 0\nrocksdb.wal_size_limit_mb 0\n"
KEYS_PER_MSET = 32


def parse_size(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower()
    for suffix in ("ib", "b"):
        if t.endswith(suffix):
            t = t[:-len(suffix)]
            break
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


def load_dataset(port, size):
    """Write about `size` bytes of incompressible values (VALUE_SIZE each, distinct keys) with
    pipelined MSETs; returns the number of keys."""
    keys = max(1, size // VALUE_SIZE)
    pool = os.urandom(1 << 20)
    c = benchlib.Client(port, timeout=120)
    sent = pending = 0
    try:
        while sent < keys:
            args = ["MSET"]
            for i in range(sent, min(keys, sent + KEYS_PER_MSET)):
                off = (i * 7919) % (len(pool) - VALUE_SIZE)
                args += [f"data:{i:09d}", pool[off:off + VALUE_SIZE]]
            c.send(benchlib.encode(*args))
            sent += (len(args) - 1) // 2
            pending += 1
            if pending >= 8:
                for _ in range(pending):
                    c.read()
                pending = 0
        for _ in range(pending):
            c.read()
    finally:
        c.close()
    return keys


def repl_info(port):
    return benchlib.info(port, "replication")


def latest_seq(port):
    return int(repl_info(port)["master_repl_offset"])


def synced(master_port, replica_port):
    """True when the replica's link is up and it has the master's latest sequence."""
    r = repl_info(replica_port)
    if r.get("master_link_status") != "up" or r.get("master_sync_in_progress") == "1":
        return False
    return int(r.get("slave_repl_offset", "-1")) >= latest_seq(master_port)


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


def one_full_sync(args, rdir, master_port, master_dir, procs):
    """One round of (a): a fresh replica in rdir full-syncs, then cp -r copies the checkpoint.
    Returns (sync_s, on_disk_s, copy_s, copy_and_fsync_s, bytes, port,
    (master_cpu_s, replica_cpu_s)),
    the replica left running (last in procs); procs[0] is the master."""
    proc, port = benchlib.start_kvrocks(args.kvrocks, rdir, args.workers)
    procs.append(proc)
    c = benchlib.Client(port)
    # Both timings start with no dirty pages waiting for writeback: otherwise whichever runs
    # right after the dataset load pays for flushing it to disk.
    os.sync()
    cpu0 = cpu_seconds(procs[0].pid), cpu_seconds(proc.pid)
    start = time.monotonic()
    c.call("SLAVEOF", "127.0.0.1", master_port)
    c.close()
    benchlib.wait_until(lambda: synced(master_port, port), args.sync_timeout,
                        "the replica's full sync", interval=0.01)
    sync_s = time.monotonic() - start
    mark = os.path.join(rdir, "data", "db", "UNSYNCED")
    benchlib.wait_until(lambda: not os.path.exists(mark), args.sync_timeout,
                        "the replica's fetched files on disk", interval=0.005)
    on_disk_s = time.monotonic() - start
    cpu = cpu_seconds(procs[0].pid) - cpu0[0], cpu_seconds(proc.pid) - cpu0[1]
    checkpoint = os.path.join(master_dir, "data", "checkpoint")
    if not os.path.isdir(checkpoint):
        raise RuntimeError(f"the master's checkpoint {checkpoint} is gone "
                           f"(in {os.path.dirname(checkpoint)}: "
                           f"{sorted(os.listdir(os.path.dirname(checkpoint)))})")
    target = os.path.join(os.path.dirname(rdir), "copy")
    os.sync()
    start = time.monotonic()
    subprocess.run(["cp", "-r", checkpoint, target], check=True)
    copy_s = time.monotonic() - start
    # The durability the replica reaches once its mark is gone: the copy's files on disk.
    subprocess.run(["sync", "-f", target], check=True)
    copy_sync_s = time.monotonic() - start
    size = du(target)
    shutil.rmtree(target, ignore_errors=True)
    return sync_s, on_disk_s, copy_s, copy_sync_s, size, port, cpu


def full_sync(args, workdir, master_port, master_dir, procs):
    """(a), args.rounds times, each into a fresh replica (the later rounds reuse the master's
    checkpoint, as concurrent full syncs do). This disk's write speed swings several-fold from
    one minute to the next, so each round times the sync and the copy back to back and the
    figures are medians. Returns ({name: median}, bytes, port of the last replica, left
    running)."""
    rounds = []
    for r in range(args.rounds):
        if r > 0:
            benchlib.stop(procs.pop())
            shutil.rmtree(os.path.join(workdir, f"replica1-{r - 1}"), ignore_errors=True)
        sync_s, on_disk_s, copy_s, copy_sync_s, size, port, cpu = one_full_sync(
            args, os.path.join(workdir, f"replica1-{r}"), master_port, master_dir, procs)
        rounds.append({"sync": sync_s, "on_disk": on_disk_s, "copy": copy_s,
                       "durable": copy_sync_s, "ratio": copy_s / sync_s,
                       "durable_ratio": copy_sync_s / on_disk_s,
                       "master_cpu": cpu[0], "replica_cpu": cpu[1]})
        print(f"full sync round {r + 1}: sync {sync_s:.2f} s (on disk {on_disk_s:.2f} s), "
              f"cp -r {copy_s:.2f} s, cp -r + sync {copy_sync_s:.2f} s", flush=True)
    med = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
    return med, size, port


def cpu_seconds(pid):
    """User + system CPU time of a process so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def lag_under_load(args, master_port, replica_port):
    """(b): (samples, lag sequences list, lag ms list, benchmark rps)."""
    m = benchlib.Client(master_port)
    r = benchlib.Client(replica_port)
    history = []  # (time, master sequence), increasing
    lag_seq, lag_ms = [], []
    result = {}

    def load():
        result["rps"] = benchlib.redis_benchmark(master_port, args.requests, args.clients,
                                                 args.pipeline, tests="set",
                                                 datasize=args.datasize).get("SET", 0.0)

    # ROLE carries the same numbers as INFO replication's master_repl_offset (a master's
    # latest sequence) and slave_repl_offset (a replica's), at a fraction of the cost: INFO
    # also computes fields such as the oldest WAL sequence, which would load the master and
    # slow the sampling down.
    def seq_of(client, index):
        return int(client.call("ROLE")[index])

    t = threading.Thread(target=load)
    t.start()
    try:
        while t.is_alive():
            now = time.monotonic()
            ms = seq_of(m, 1)  # ["master", seq, replicas]
            rs = seq_of(r, 4)  # ["slave", host, port, state, seq]
            history.append((now, ms))
            lag_seq.append(max(0, ms - rs))
            # When did the master first reach the replica's sequence?
            reached = now
            for ht, hs in reversed(history):
                if hs < rs:
                    break
                reached = ht
            lag_ms.append((now - reached) * 1000.0)
            time.sleep(args.sample_ms / 1000.0)
    finally:
        t.join()
        m.close()
        r.close()
    return len(lag_seq), lag_seq, lag_ms, result.get("rps", 0.0)


def set_rps(args, port):
    return benchlib.redis_benchmark(port, args.requests, args.clients, args.pipeline,
                                    tests="set", datasize=args.datasize).get("SET", 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvrocks", required=True)
    ap.add_argument("--size", default="1G", help="full-sync dataset size (1G, 256M, ...)")
    ap.add_argument("--requests", type=int, default=200000, help="SET requests per load run")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--datasize", type=int, default=64)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--sample-ms", type=float, default=5.0)
    ap.add_argument("--sync-timeout", type=float, default=1800.0)
    ap.add_argument("--rounds", type=int, default=3, help="full syncs timed (medians reported)")
    ap.add_argument("--quick", action="store_true", help="64 MiB and fewer requests")
    ap.add_argument("--keep", action="store_true", help="keep the servers' directories and logs")
    args = ap.parse_args()
    if args.quick:
        args.size = "64M"
        args.requests = 50000
    size = parse_size(args.size)
    workdir = tempfile.mkdtemp(prefix="kvrocks-bench-repl-")
    procs = []
    started = time.monotonic()
    try:
        master_dir = os.path.join(workdir, "master")
        # Load with WAL files deleted as soon as they are flushed; restart once so recovery
        # flushes the last WAL into SST files (and deletes it), then again with the default
        # retention. A new replica's PSYNC 1 is then refused and it must full-sync (otherwise
        # it would replay the whole WAL).
        master, mport = benchlib.start_kvrocks(args.kvrocks, master_dir, args.workers,
                                               PURGE_WAL_CONFIG)
        procs.append(master)
        t0 = time.monotonic()
        keys = load_dataset(mport, size)
        load_s = time.monotonic() - t0
        for extra in (PURGE_WAL_CONFIG, ""):
            benchlib.stop(procs.pop())
            master, mport = benchlib.start_kvrocks(args.kvrocks, master_dir, args.workers,
                                                   extra, port=mport)
            procs.append(master)
        oldest = int(repl_info(mport).get("oldest_wal_sequence", "0"))
        if oldest == 1:
            raise RuntimeError("the master still has sequence 1 in its WAL: no full sync")
        # Throughput with no replica first, on the freshly loaded master.
        rps0 = set_rps(args, mport)

        fs, cp_bytes, r1port = full_sync(args, workdir, mport, master_dir, procs)
        rps1 = set_rps(args, mport)
        benchlib.wait_until(lambda: synced(mport, r1port), 120, "replica 1 to catch up")

        n, lag_seq, lag_ms, lag_rps = lag_under_load(args, mport, r1port)
        benchlib.wait_until(lambda: synced(mport, r1port), 120, "replica 1 to catch up")

        r2, r2port = benchlib.start_kvrocks(args.kvrocks, os.path.join(workdir, "replica2"),
                                            args.workers)
        procs.append(r2)
        benchlib.Client(r2port).call("SLAVEOF", "127.0.0.1", mport)
        benchlib.wait_until(lambda: synced(mport, r2port), args.sync_timeout,
                            "replica 2's full sync", interval=0.05)
        rps2 = set_rps(args, mport)
        for port in (r1port, r2port):
            benchlib.wait_until(lambda: synced(mport, port), 120, "replicas to catch up")
    finally:
        for p in procs:
            benchlib.stop(p)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    load = os.getloadavg()
    print()
    print(f"dataset {keys} keys x {VALUE_SIZE} B = {keys * VALUE_SIZE / (1 << 20):.0f} MiB "
          f"written in {load_s:.1f}s; checkpoint on disk {cp_bytes / (1 << 20):.0f} MiB")
    print(f"load: redis-benchmark SET -n {args.requests} -c {args.clients} -P {args.pipeline} "
          f"-d {args.datasize}; kvrocks workers={args.workers}")
    print(f"RocksDB: {benchlib.rocksdb_used()}")
    print(f"took {time.monotonic() - started:.0f}s; load average at the end "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print()
    mib = cp_bytes / (1 << 20)
    rows = [
        [f"(a) full sync (SLAVEOF -> in sync), median of {args.rounds}", f"{fs['sync']:.2f} s",
         f"{mib / fs['sync']:.0f} MiB/s"],
        ["(a) cp -r of the checkpoint", f"{fs['copy']:.2f} s", f"{mib / fs['copy']:.0f} MiB/s"],
        ["(a) copy_time / sync_time", f"{fs['ratio']:.2f}", "target >= 0.8"],
        ["(a) full sync until its files are on disk", f"{fs['on_disk']:.2f} s",
         f"{mib / fs['on_disk']:.0f} MiB/s"],
        ["(a) cp -r + sync (durable copy)", f"{fs['durable']:.2f} s",
         f"{mib / fs['durable']:.0f} MiB/s"],
        ["(a) durable copy_time / on-disk time", f"{fs['durable_ratio']:.2f}", "both durable"],
        ["(a) CPU during the sync, master / replica",
         f"{fs['master_cpu']:.2f} / {fs['replica_cpu']:.2f} s", "user + system"],
        ["(b) lag, sequences p50 / p99 / max",
         f"{percentile(lag_seq, 50):.0f} / {percentile(lag_seq, 99):.0f} / {max(lag_seq or [0])}",
         f"{n} samples"],
        ["(b) lag, ms p50 / p99 / max",
         f"{percentile(lag_ms, 50):.1f} / {percentile(lag_ms, 99):.1f} / "
         f"{max(lag_ms or [0]):.1f}", f"load ran at {lag_rps:.0f} SET/s"],
        ["(c) master SET rps, 0 replicas", f"{rps0:.0f}", "1.00"],
        ["(c) master SET rps, 1 replica", f"{rps1:.0f}", f"{rps1 / rps0:.2f}" if rps0 else "-"],
        ["(c) master SET rps, 2 replicas", f"{rps2:.0f}", f"{rps2 / rps0:.2f}" if rps0 else "-"],
    ]
    benchlib.print_table(["figure", "value", "note"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
