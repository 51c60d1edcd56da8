# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the integration tests.

    server_factory(config=None, *, kind="kvrocks", name=None, port=None, start=True,
                   binary=None, env=None, start_timeout=30, **kw) -> Server
        Any number of servers, each in its own directory under the test's tmp_path, on a
        free loopback port. config is a dict of overrides (keys verbatim), kw more
        overrides with "_" spelled "-". kind="redis" runs Debian's redis-server (the test
        is skipped when it is not installed).
    server              one started kvrocks-c server
    redis_factory       server_factory with kind="redis" (skips when not installed)
    redis_ref           one started redis-server
    proxy_factory(target, **kw) -> Proxy   target: a Server, (host, port) or a port

At teardown every server is stopped (SIGTERM, SIGKILL after a deadline) and the test fails
(as a teardown error) if a server crashed during the test without the test expecting it
(Server.wait_exit/stop/kill9 mark an exit as expected), did not exit cleanly on SIGTERM,
or left a sanitizer report in its logs. When the test failed, the tail of every server's
logs is printed ("Captured stdout teardown" in the report).

Every test's setup + call is limited to --test-timeout seconds (default 300, env
KVROCKS_TEST_TIMEOUT; 0 disables; scaled by helpers.wait.timeout_scale()), or to
@pytest.mark.timeout(seconds). On expiry the stacks of all threads are printed and the
test fails; teardown still runs.
"""
import os
import signal
import sys
import threading
import traceback

import pytest

from helpers.proxy import Proxy
from helpers.server import Server, kvrocks_binary, merge_config, redis_binary
from helpers.wait import timeout_scale


# --------------------------------------------------------------------------------------
# Options, markers, skips

def pytest_addoption(parser):
    group = parser.getgroup("kvrocks-c")
    group.addoption("--run-slow", action="store_true", default=False,
                    help="also run tests marked slow")
    group.addoption("--test-timeout", type=float,
                    default=float(os.environ.get("KVROCKS_TEST_TIMEOUT", "300")),
                    help="limit in seconds on each test's setup + call (0: none)")


def pytest_configure(config):
    # A SIGTERM (a CI job timeout) becomes a KeyboardInterrupt, so fixture teardown runs
    # and the servers are stopped; helpers.server also kills leftovers at exit.
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        def on_term(signum, frame):
            raise KeyboardInterrupt("SIGTERM")
        signal.signal(signal.SIGTERM, on_term)


def pytest_report_header(config):
    return ["kvrocks binary: %s" % kvrocks_binary(),
            "redis-server: %s" % (redis_binary() or "not installed"),
            "timeout scale: %g" % timeout_scale()]


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--run-slow")
    have_redis = redis_binary() is not None
    skip_slow = pytest.mark.skip(reason="slow test: use --run-slow")
    skip_redis = pytest.mark.skip(reason="redis-server is not installed")
    for item in items:
        if item.get_closest_marker("slow") and not run_slow:
            item.add_marker(skip_slow)
        if item.get_closest_marker("needs_redis") and not have_redis:
            item.add_marker(skip_redis)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _test_failed(item):
    for when in ("setup", "call"):
        report = getattr(item, "rep_" + when, None)
        if report is not None and report.failed:
            return True
    return False


# --------------------------------------------------------------------------------------
# Per-test time limit (SIGALRM in the main thread; no plugin needed)

_alarm_state = {"armed": False, "limit": 0.0, "nodeid": ""}


def _all_stacks():
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for ident, frame in sys._current_frames().items():
        out.append("--- thread %s (%s) ---" % (names.get(ident, "?"), ident))
        out.extend(line.rstrip("\n") for line in traceback.format_stack(frame)[-12:])
    return "\n".join(out)


def _on_alarm(signum, frame):
    _alarm_state["armed"] = False
    sys.stderr.write("\n=== %s exceeded its time limit of %.0fs; stacks:\n%s\n"
                     % (_alarm_state["nodeid"], _alarm_state["limit"], _all_stacks()))
    pytest.fail("test exceeded its time limit of %.0fs (setup + call)"
                % _alarm_state["limit"])


def _arm(item):
    if not hasattr(signal, "SIGALRM") or \
            threading.current_thread() is not threading.main_thread():
        return
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        limit = float(marker.args[0])
    else:
        limit = item.config.getoption("--test-timeout")
    if not limit or limit <= 0:
        return
    limit *= timeout_scale()
    _alarm_state.update(armed=True, limit=limit, nodeid=item.nodeid)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)


def _disarm():
    if _alarm_state["armed"]:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _alarm_state["armed"] = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    _arm(item)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    try:
        yield
    finally:
        _disarm()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    _disarm()
    yield


# --------------------------------------------------------------------------------------
# Servers

class ServerFactory:
    """Callable that creates Servers for one test and tears them all down."""

    def __init__(self, tmp_path, item):
        self.tmp_path = tmp_path
        self.item = item
        self.servers = []
        self._counts = {}

    def __call__(self, config=None, *, kind="kvrocks", name=None, port=None, start=True,
                 binary=None, env=None, start_timeout=30, **kw):
        if kind == "redis" and binary is None and redis_binary() is None:
            pytest.skip("redis-server is not installed")
        if name is None:
            n = self._counts.get(kind, 0)
            self._counts[kind] = n + 1
            name = "%s%d" % (kind, n)
        if any(s.name == name for s in self.servers):
            raise ValueError("server name %r already used in this test" % name)
        server = Server(self.tmp_path / name, kind=kind, port=port,
                        config=merge_config(config, **kw), binary=binary, env=env, name=name)
        self.servers.append(server)
        if start:
            server.start(timeout=start_timeout)
        return server

    def teardown(self):
        problems = []
        results = {}

        def stop(s):
            try:
                results[s.name] = s.teardown()
            except Exception as exc:  # noqa: BLE001 - reported below
                results[s.name] = ["%s: teardown failed: %r" % (s.name, exc)]

        threads = [threading.Thread(target=stop, args=(s,), daemon=True)
                   for s in self.servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120 * timeout_scale())
        for s in self.servers:
            problems.extend(results.get(s.name, ["%s: teardown did not finish" % s.name]))
        for s in self.servers:
            for report in s.sanitizer_reports():
                problems.append("sanitizer report from %s in %s" % (s.name, report))
        if self.servers and (problems or _test_failed(self.item)):
            print("\n========== logs of the servers started by %s ==========" % self.item.nodeid)
            for s in self.servers:
                print("\n===== %s: %s, %s, dir %s, last exit code %s =====" % (
                    s.name, s.kind.name, s.addr, s.dir, s.exit_code))
                print(s.log_tail(80))
        if problems:
            pytest.fail("server teardown found problems:\n" + "\n".join(problems),
                        pytrace=False)


@pytest.fixture
def server_factory(tmp_path, request):
    """Start servers: server_factory(config=None, *, kind="kvrocks", ...) -> Server."""
    factory = ServerFactory(tmp_path, request.node)
    yield factory
    factory.teardown()


@pytest.fixture
def server(server_factory):
    """One started kvrocks-c server with the default test config."""
    return server_factory()


@pytest.fixture
def redis_factory(server_factory):
    """server_factory for Debian's redis-server; skips the test when not installed."""
    if redis_binary() is None:
        pytest.skip("redis-server is not installed")

    def make(config=None, **kw):
        kw["kind"] = "redis"
        return server_factory(config, **kw)

    return make


@pytest.fixture
def redis_ref(redis_factory):
    """One started redis-server, for differential tests."""
    return redis_factory()


# --------------------------------------------------------------------------------------
# Proxies

@pytest.fixture
def proxy_factory():
    """proxy_factory(target, **kw) -> Proxy in front of target (a Server, (host, port) or
    a port on 127.0.0.1). All proxies are closed at teardown."""
    proxies = []

    def make(target, **kw):
        if isinstance(target, int):
            host, port = "127.0.0.1", target
        elif isinstance(target, tuple):
            host, port = target
        else:
            host, port = target.host, target.port
        proxy = Proxy(host, port, **kw)
        proxies.append(proxy)
        return proxy

    yield make
    errors = []
    for proxy in proxies:
        proxy.close()
        if proxy.loop_error is not None:
            errors.append("%s: loop failed: %r" % (proxy.name, proxy.loop_error))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)
