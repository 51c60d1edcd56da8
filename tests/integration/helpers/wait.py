# SPDX-License-Identifier: Apache-2.0
"""Bounded waiting: every wait in the integration tests goes through here.

There is no bare sleep in a test. A test that needs "eventually X" polls X with a deadline
and fails with a message saying what it waited for and what it saw last, as Redis's
wait_for_condition does.

Deadlines are multiplied by timeout_scale() (3 in sanitizer builds, or
KVROCKS_TEST_TIMEOUT_SCALE), because a deadline is an upper bound for "eventually" and a
sanitized server is several times slower. timed() measures, it never scales.
"""
import os
import time

__all__ = ["timeout_scale", "scaled", "wait_until", "wait_for_value", "timed", "Deadline"]


def timeout_scale():
    """Factor applied to every wait deadline (env KVROCKS_TEST_TIMEOUT_SCALE, else 3 when
    KVROCKS_SANITIZED=1, else 1)."""
    raw = os.environ.get("KVROCKS_TEST_TIMEOUT_SCALE")
    if raw:
        try:
            value = float(raw)
            if value > 0:
                return value
        except ValueError:
            pass
    return 3.0 if os.environ.get("KVROCKS_SANITIZED") == "1" else 1.0


def scaled(seconds):
    """seconds * timeout_scale()."""
    return seconds * timeout_scale()


class Deadline:
    """A monotonic deadline: Deadline(5).remaining(), .expired()."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


def _short(value, limit=500):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "...(%d chars)" % len(text)
    return text


def wait_until(predicate, timeout=10, interval=0.05, msg=None, *, scale=True,
               ignore=(Exception,)):
    """Call predicate() until it returns a truthy value and return that value.

    Exceptions of the types in `ignore` count as a falsy result (a server that is still
    starting refuses connections). On timeout, raise AssertionError naming msg, the time
    waited and the last value or exception seen. `msg` may be a callable, evaluated only on
    failure (to include fresh state such as an INFO dump). The deadline is scaled by
    timeout_scale() unless scale=False.
    """
    limit = scaled(timeout) if scale else timeout
    start = time.monotonic()
    end = start + limit
    last_value = None
    last_exc = None
    attempts = 0
    while True:
        attempts += 1
        try:
            value = predicate()
        except ignore as exc:  # noqa: PERF203 - retried on purpose
            last_exc = exc
            last_value = None
        else:
            if value:
                return value
            last_exc = None
            last_value = value
        now = time.monotonic()
        if now >= end:
            break
        time.sleep(min(interval, max(0.0, end - now)))
    what = msg() if callable(msg) else msg
    what = what or getattr(predicate, "__name__", "condition")
    if last_exc is not None:
        last = "last exception: %s: %s" % (type(last_exc).__name__, last_exc)
    else:
        last = "last value: %s" % _short(last_value)
    raise AssertionError("timed out after %.1fs (%d attempts) waiting for: %s; %s"
                         % (time.monotonic() - start, attempts, what, last))


def wait_for_value(fn, expected, timeout=10, interval=0.05, msg=None, *, scale=True):
    """Poll fn() until it returns == expected; return the value. On timeout the
    AssertionError shows the expected and the last value."""
    box = {}

    def check():
        box["value"] = fn()
        return box["value"] == expected

    def describe():
        head = msg() if callable(msg) else msg
        head = head or getattr(fn, "__name__", "value")
        return "%s == %s (last: %s)" % (head, _short(expected), _short(box.get("value")))

    wait_until(check, timeout=timeout, interval=interval, msg=describe, scale=scale)
    return box["value"]


def timed(fn, *args, **kwargs):
    """Run fn(*args, **kwargs) and return (result, elapsed_seconds). If fn raises, the
    exception propagates with attribute `elapsed` set on it."""
    start = time.monotonic()
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        try:
            exc.elapsed = time.monotonic() - start
        except AttributeError:
            pass
        raise
    return result, time.monotonic() - start
