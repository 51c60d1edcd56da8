#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""x.py: the one front door of kvrocks-c.

    ./x.py deps                     install missing Debian packages (apt-get, only when missing)
    ./x.py build [--debug] [--sanitize=address,undefined|thread]
    ./x.py run [-c FILE]            build, then run build/kvrocks in the foreground
    ./x.py test [unit|integration] [-k EXPR] [--sanitize=...] [--slow]
    ./x.py check [format]           exits 1 when the tree is not clang-format clean
    ./x.py format                   reformat the tree in place
    ./x.py bench [--quick]          redis-benchmark against kvrocks and Debian's redis-server
    ./x.py bench repl [--size N]    full sync, replica lag, write throughput with replicas
    ./x.py bench cluster            SETNODES latency, time to a new replica link
    ./x.py bench migrate            slot-migration throughput

Every command prints the commands it runs. It uses only the standard library, so it runs under
any python3; pytest runs under Debian's /usr/bin/python3, where python3-pytest and python3-redis
live.
"""
import argparse
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


def do_build(args):
    ensure_packages(BUILD_PACKAGES)
    bdir = build_dir_for(args)
    btype = "Debug" if args.debug else "RelWithDebInfo"
    cfg = ["cmake", "-S", ROOT, "-B", bdir, f"-DCMAKE_BUILD_TYPE={btype}",
           f"-DKV_SANITIZE={args.sanitize or ''}"]
    must(cfg)
    jobs = str(max(2, os.cpu_count() or 2))
    must(["cmake", "--build", bdir, "-j", jobs])
    return bdir


def cmd_deps(args):
    ensure_packages(BUILD_PACKAGES + TEST_PACKAGES + CHECK_PACKAGES)


def cmd_build(args):
    do_build(args)


def cmd_run(args):
    args.debug = False
    args.sanitize = None
    bdir = do_build(args)
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


def build_release():
    """The optimised build the benchmarks use, in its own directory (build-release/), without
    the unit tests. Warnings are errors here too."""
    ensure_packages(BUILD_PACKAGES)
    bdir = os.path.join(ROOT, "build-release")
    must(["cmake", "-S", ROOT, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release",
          "-DCMAKE_C_FLAGS=-g", "-DKV_BUILD_TESTS=OFF",
          "-DKV_SANITIZE="])
    must(["cmake", "--build", bdir, "-j", "2"])
    return bdir


def cmd_bench(args):
    ensure_packages(BUILD_PACKAGES + TEST_PACKAGES)
    bdir = build_release()
    rest = list(args.rest)
    # ./x.py bench [repl|cluster|migrate] [options of that script]
    scripts = {"repl": ("bench_repl.py", "--kvrocks"), "cluster": ("bench_cluster.py", "--binary"),
               "migrate": ("bench_migrate.py", "--binary")}
    script, bin_opt = "bench.py", "--kvrocks"
    if rest and rest[0] in scripts:
        script, bin_opt = scripts[rest[0]]
        rest = rest[1:]
    script = os.path.join(ROOT, "tests", "bench", script)
    cmd = [SYSTEM_PYTHON, script, bin_opt, os.path.join(bdir, "kvrocks")] + rest
    r = run(cmd, cwd=ROOT)
    sys.exit(r.returncode)


def main():
    ap = argparse.ArgumentParser(prog="x.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    sub.add_parser("deps", help="install missing Debian packages").set_defaults(fn=cmd_deps)

    b = sub.add_parser("build", help="configure and build")
    b.add_argument("--debug", action="store_true")
    b.add_argument("--sanitize", default=None, help="address,undefined or thread")
    b.set_defaults(fn=cmd_build)

    r = sub.add_parser("run", help="build and run the server in the foreground")
    r.add_argument("-c", "--config", default=None)
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
