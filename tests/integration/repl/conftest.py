# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the replication scenarios (helpers live in replutil.py).

    master(**cfg)               a started kvrocks-c server with REPL_CONFIG + cfg
    replica_of(target, **cfg)   a started server with `slaveof target` in its config (target: a
                                Server, a Proxy or (host, port)); waits for the link to come up
                                unless wait_up=False
"""
import pytest

from repl import replutil


@pytest.fixture
def master(server_factory):
    def make(cfg=None, name=None, **kw):
        return server_factory(replutil.config(cfg or {}, **kw), name=name)
    return make


@pytest.fixture
def replica_of(server_factory):
    def make(target, cfg=None, name=None, wait_up=True, timeout=20, **kw):
        merged = replutil.config(cfg or {}, **kw)
        merged["slaveof"] = replutil.slaveof_config(target)
        r = server_factory(merged, name=name)
        if wait_up:
            replutil.wait_link(r, True, timeout=timeout)
        return r
    return make
