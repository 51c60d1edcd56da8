#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""x.py: the one front door of kvrocks-c.

    ./x.py deps                     install missing Debian packages (apt-get, only when missing)
    ./x.py build [--debug] [--sanitize=address,undefined|thread]
    ./x.py build --release          the optimised build in build-release/, with a release RocksDB
    ./x.py run [-c FILE] [--release]  build, then run build/kvrocks (build-release/kvrocks) in
                                    the foreground
    ./x.py test [unit|integration] [-k EXPR] [--sanitize=...] [--slow]
    ./x.py check [format]           exits 1 when the tree is not clang-format clean
    ./x.py format                   reformat the tree in place
    ./x.py bench [--quick]          redis-benchmark against kvrocks and Debian's redis-server
                                    (--debian-rocksdb: link Debian's librocksdb.a instead)
    ./x.py bench repl [--size N]    full sync, replica lag, write throughput with replicas
    ./x.py bench cluster            SETNODES latency, time to a new replica link
    ./x.py bench migrate            slot-migration throughput

Every command prints the commands it runs. It uses only the standard library, so it runs under
any python3; pytest runs under Debian's /usr/bin/python3, where python3-pytest and python3-redis
live.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))

BUILD_PACKAGES = [
    "cmake", "make", "gcc", "g++", "pkg-config",
    "librocksdb-dev", "libevent-dev", "libgoogle-glog-dev", "libjemalloc-dev", "libgtest-dev",
]
TEST_PACKAGES = ["python3", "python3-pytest", "python3-redis", "redis-tools", "redis-server"]
CHECK_PACKAGES = ["clang-format"]
# To build RocksDB from Debian's source package (release_rocksdb): dpkg-source unpacks it. The
# compression libraries' -dev packages come with librocksdb-dev (BUILD_PACKAGES), which
# depends on them.
ROCKSDB_BUILD_PACKAGES = ["dpkg-dev"]
# Release mode defines NDEBUG; PORTABLE with FORCE_SSE42 runs on any x86-64 CPU with SSE 4.2
# and computes the WAL's and the SST blocks' CRC32C with the crc32 instruction. Only the static
# library is built.
ROCKSDB_CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release", "-DPORTABLE=ON", "-DFORCE_SSE42=ON", "-DWITH_SNAPPY=ON",
    "-DWITH_LZ4=ON", "-DWITH_ZSTD=ON", "-DWITH_ZLIB=ON", "-DWITH_BZ2=ON", "-DWITH_GFLAGS=OFF",
    "-DWITH_LIBURING=OFF", "-DWITH_TESTS=OFF", "-DWITH_ALL_TESTS=OFF", "-DWITH_TOOLS=OFF",
    "-DWITH_CORE_TOOLS=OFF", "-DWITH_BENCHMARK_TOOLS=OFF", "-DFAIL_ON_WARNINGS=OFF",
    "-DROCKSDB_BUILD_SHARED=OFF",
]
SYSTEM_PYTHON = "/usr/bin/python3"


def log(msg):
    print(f"x.py: {msg}", flush=True)


def run(cmd, **kw):
    printable = " ".join(cmd) if isinstance(cmd, list) else cmd
    print(f"+ {printable}", flush=True)
    return subprocess.run(cmd, **kw)


def must(cmd, **kw):
    r = run(cmd, **kw)
    if r.returncode != 0:
        log(f"command failed with exit code {r.returncode}")
        sys.exit(r.returncode or 1)
    return r


def missing_packages(pkgs):
    missing = []
    for p in pkgs:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if r.returncode != 0 or "install ok installed" not in r.stdout:
            missing.append(p)
    return missing


def ensure_packages(pkgs):
    if shutil.which("dpkg-query") is None:
        log("not a Debian system: skipping package installation")
        return
    missing = missing_packages(pkgs)
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"installing missing packages: {' '.join(missing)}")
    r = run(sudo + ["apt-get", "install", "-y", "--no-install-recommends"] + missing, env=env)
    if r.returncode != 0:
        must(sudo + ["apt-get", "update"], env=env)
        must(sudo + ["apt-get", "install", "-y", "--no-install-recommends"] + missing, env=env)
    # redis-server's package may start a system instance on 6379; tests use their own.


def build_dir_for(args):
    if getattr(args, "sanitize", None):
        return os.path.join(ROOT, "build-" + args.sanitize.replace(",", "-"))
    if getattr(args, "debug", False):
        return os.path.join(ROOT, "build-debug")
    return os.path.join(ROOT, "build")


def build_jobs():
    return str(max(2, os.cpu_count() or 2))


def do_build(args):
    ensure_packages(BUILD_PACKAGES)
    bdir = build_dir_for(args)
    btype = "Debug" if args.debug else "RelWithDebInfo"
    cfg = ["cmake", "-S", ROOT, "-B", bdir, f"-DCMAKE_BUILD_TYPE={btype}",
           f"-DKV_SANITIZE={args.sanitize or ''}"]
    must(cfg)
    must(["cmake", "--build", bdir, "-j", build_jobs()])
    return bdir


def cmd_deps(args):
    ensure_packages(BUILD_PACKAGES + TEST_PACKAGES + CHECK_PACKAGES)


def cmd_build(args):
    if args.release:
        build_release()
    else:
        do_build(args)


def cmd_run(args):
    args.debug = False
    args.sanitize = None
    bdir = build_release()[0] if args.release else do_build(args)
    conf = os.path.abspath(args.config) if args.config else os.path.join(ROOT, "kvrocks.conf")
    binary = os.path.join(bdir, "kvrocks")
    # Relative paths in the config (the sample's `dir ./data`) are relative to the repository.
    os.chdir(ROOT)
    print(f"+ cd {ROOT} && {binary} -c {conf}", flush=True)
    os.execv(binary, [binary, "-c", conf])


def cmd_test(args):
    ensure_packages(BUILD_PACKAGES + TEST_PACKAGES)
    bdir = do_build(args)
    what = args.what or "all"
    failed = False
    env = dict(os.environ)
    env["KVROCKS_BIN"] = os.path.join(bdir, "kvrocks")
    if args.sanitize:
        env["KVROCKS_SANITIZED"] = "1"
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.setdefault("TSAN_OPTIONS",
                       "suppressions=" + os.path.join(ROOT, "tests", "tsan.supp"))
    if what in ("all", "unit"):
        cmd = ["ctest", "--test-dir", bdir, "--output-on-failure", "-j", "2"]
        if args.k:
            cmd += ["-R", args.k]
        r = run(cmd, env=env)
        failed |= r.returncode != 0
    if what in ("all", "integration"):
        cmd = [SYSTEM_PYTHON, "-m", "pytest", os.path.join(ROOT, "tests", "integration"),
               "-q", "-rfE", "-p", "no:cacheprovider"]
        if args.k:
            cmd += ["-k", args.k]
        if args.slow:
            cmd += ["--run-slow"]
        if args.x:
            cmd += ["-x"]
        r = run(cmd, env=env, cwd=ROOT)
        failed |= r.returncode != 0
    if failed:
        log("tests FAILED")
        sys.exit(1)
    log("all tests passed")


def source_files():
    out = []
    for top in ("src", "tests"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h", ".cc", ".hpp", ".cpp")):
                    out.append(os.path.join(dirpath, f))
    return sorted(out)


def clang_format_bin():
    ensure_packages(CHECK_PACKAGES)
    for name in ("clang-format", "clang-format-14", "clang-format-15", "clang-format-16"):
        if shutil.which(name):
            return name
    log("clang-format not found")
    sys.exit(2)


def cmd_check(args):
    what = args.what or "format"
    if what != "format":
        log(f"unknown check: {what}")
        sys.exit(2)
    cf = clang_format_bin()
    files = source_files()
    print(f"+ {cf} --dry-run -Werror <{len(files)} files>", flush=True)
    r = subprocess.run([cf, "--dry-run", "-Werror"] + files)
    if r.returncode != 0:
        log("format check failed: run ./x.py format")
        sys.exit(1)
    log("format check passed")


def cmd_format(args):
    cf = clang_format_bin()
    files = source_files()
    print(f"+ {cf} -i <{len(files)} files>", flush=True)
    subprocess.run([cf, "-i"] + files, check=True)


def deb_src_lines():
    """deb-src lines for the machine's own Debian repositories (its "deb" entries, in one-line
    lists and deb822 .sources files alike)."""
    out = []
    for path in glob.glob("/etc/apt/sources.list") + sorted(
            glob.glob("/etc/apt/sources.list.d/*.list")):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("deb "):
                    out.append("deb-src " + line[4:])
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            stanzas = f.read().split("\n\n")
        for stanza in stanzas:
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
            if "deb" not in fields.get("types", "").split() or \
                    fields.get("enabled", "yes").lower() == "no":
                continue
            opts = f"[signed-by={fields['signed-by']}] " if "signed-by" in fields else ""
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    out.append(f"deb-src {opts}{uri} {suite} {fields.get('components', '')}")
    return out


def release_rocksdb():
    """librocksdb.a built in Release mode from Debian's source package of the installed
    librocksdb-dev (same version, so the same rocksdb/c.h), in build-deps/; built once, reused
    after. Debian builds its package without NDEBUG: every assert stays in, so its skiplist
    compares keys three times per step, and its WAL checksum is the portable software CRC.
    None, with a warning, when the source cannot be fetched or built."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "librocksdb-dev"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    version = r.stdout.strip()
    if r.returncode != 0 or not version:
        log("librocksdb-dev is not installed: no release RocksDB")
        return None
    base = os.path.join(ROOT, "build-deps", f"rocksdb-{version}")
    lib = os.path.join(base, "lib", "librocksdb.a")
    stamp = os.path.join(base, "lib", "flags")
    want = " ".join(ROCKSDB_CMAKE_FLAGS)
    if os.path.exists(lib) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == want:
                return lib
    ensure_packages(ROCKSDB_BUILD_PACKAGES)
    log(f"building RocksDB {version} in Release mode from Debian's source package, once "
        f"(about 7 minutes on 2 CPUs) into {base}")
    apt_dir = os.path.join(base, "apt")
    os.makedirs(os.path.join(apt_dir, "lists", "partial"), exist_ok=True)
    os.makedirs(os.path.join(apt_dir, "cache", "archives", "partial"), exist_ok=True)
    with open(os.path.join(apt_dir, "sources.list"), "w") as f:
        f.write("\n".join(deb_src_lines()) + "\n")
    # A private source list and package lists: the machine's apt configuration is left as is.
    apt_opts = ["-o", f"Dir::Etc::sourcelist={apt_dir}/sources.list",
                "-o", "Dir::Etc::sourceparts=-", "-o", f"Dir::State::Lists={apt_dir}/lists",
                "-o", f"Dir::Cache={apt_dir}/cache"]
    src_dir = os.path.join(base, "src")
    shutil.rmtree(src_dir, ignore_errors=True)
    os.makedirs(src_dir)
    if run(["apt-get"] + apt_opts + ["update"]).returncode != 0 or \
            run(["apt-get"] + apt_opts + ["source", f"rocksdb={version}"],
                cwd=src_dir).returncode != 0:
        log("cannot fetch Debian's rocksdb source package: using Debian's librocksdb.a")
        return None
    trees = [d for d in glob.glob(os.path.join(src_dir, "rocksdb-*")) if os.path.isdir(d)]
    if len(trees) != 1:
        log(f"unexpected contents of {src_dir}: using Debian's librocksdb.a")
        return None
    bdir = os.path.join(base, "build")
    if run(["cmake", "-S", trees[0], "-B", bdir] + ROCKSDB_CMAKE_FLAGS).returncode != 0 or \
            run(["nice", "cmake", "--build", bdir, "--target", "rocksdb", "-j", build_jobs()]
                ).returncode != 0:
        log("building RocksDB failed: using Debian's librocksdb.a")
        return None
    os.makedirs(os.path.dirname(lib), exist_ok=True)
    shutil.copyfile(os.path.join(bdir, "librocksdb.a"), lib)
    with open(stamp, "w") as f:
        f.write(want)
    return lib


def build_release(debian_rocksdb=False):
    """The optimised build the benchmarks use, in its own directory (build-release/), without
    the unit tests, linked with a release build of RocksDB (release_rocksdb) unless
    debian_rocksdb. Warnings are errors here too. Returns (directory, RocksDB library used)."""
    ensure_packages(BUILD_PACKAGES)
    bdir = os.path.join(ROOT, "build-release")
    lib = None if debian_rocksdb else release_rocksdb()
    # -U drops a library chosen before, so that FindRocksDB looks for Debian's again.
    pick = [f"-DRocksDB_STATIC_LIBRARY={lib}"] if lib else ["-URocksDB_STATIC_LIBRARY"]
    must(["cmake", "-S", ROOT, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release",
          "-DCMAKE_C_FLAGS=-g", "-DKV_BUILD_TESTS=OFF", "-DKV_ROCKSDB_STATIC=ON",
          "-DKV_SANITIZE="] + pick)
    must(["cmake", "--build", bdir, "-j", "2"])
    used = lib or "Debian's librocksdb.a (built without NDEBUG)"
    log(f"RocksDB: {used}")
    return bdir, used


def cmd_bench(args):
    ensure_packages(BUILD_PACKAGES + TEST_PACKAGES)
    rest = list(args.rest)
    debian_rocksdb = "--debian-rocksdb" in rest
    rest = [a for a in rest if a != "--debian-rocksdb"]
    bdir, rocksdb = build_release(debian_rocksdb)
    # ./x.py bench [repl|cluster|migrate] [options of that script]
    scripts = {"repl": ("bench_repl.py", "--kvrocks"), "cluster": ("bench_cluster.py", "--binary"),
               "migrate": ("bench_migrate.py", "--binary")}
    script, bin_opt = "bench.py", "--kvrocks"
    if rest and rest[0] in scripts:
        script, bin_opt = scripts[rest[0]]
        rest = rest[1:]
    script = os.path.join(ROOT, "tests", "bench", script)
    cmd = [SYSTEM_PYTHON, script, bin_opt, os.path.join(bdir, "kvrocks")] + rest
    r = run(cmd, cwd=ROOT, env=dict(os.environ, KVROCKS_ROCKSDB=rocksdb))
    sys.exit(r.returncode)


def main():
    ap = argparse.ArgumentParser(prog="x.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    sub.add_parser("deps", help="install missing Debian packages").set_defaults(fn=cmd_deps)

    b = sub.add_parser("build", help="configure and build")
    b.add_argument("--debug", action="store_true")
    b.add_argument("--release", action="store_true",
                   help="build-release/, linked with a release build of RocksDB")
    b.add_argument("--sanitize", default=None, help="address,undefined or thread")
    b.set_defaults(fn=cmd_build)

    r = sub.add_parser("run", help="build and run the server in the foreground")
    r.add_argument("-c", "--config", default=None)
    r.add_argument("--release", action="store_true",
                   help="run build-release/kvrocks, linked with a release build of RocksDB")
    r.set_defaults(fn=cmd_run)

    t = sub.add_parser("test", help="build and run the tests")
    t.add_argument("what", nargs="?", choices=["unit", "integration", "all"])
    t.add_argument("-k", default=None, help="test name filter")
    t.add_argument("-x", action="store_true", help="stop at the first failure")
    t.add_argument("--debug", action="store_true")
    t.add_argument("--sanitize", default=None)
    t.add_argument("--slow", action="store_true", help="also run tests marked slow")
    t.set_defaults(fn=cmd_test)

    c = sub.add_parser("check", help="static checks")
    c.add_argument("what", nargs="?", default="format")
    c.set_defaults(fn=cmd_check)

    sub.add_parser("format", help="clang-format the tree").set_defaults(fn=cmd_format)

    be = sub.add_parser("bench", help="benchmark against Debian's redis-server (Release build in "
                        "build-release/); 'bench repl' for replication")
    be.add_argument("rest", nargs=argparse.REMAINDER)
    be.set_defaults(fn=cmd_bench)

    # bench passes its options through to the benchmark script (argparse's REMAINDER does not
    # take a leading option such as --quick).
    args, extra = ap.parse_known_args()
    if extra:
        if args.cmd != "bench":
            ap.error(f"unrecognized arguments: {' '.join(extra)}")
        args.rest = extra + args.rest
    args.fn(args)


if __name__ == "__main__":
    main()
