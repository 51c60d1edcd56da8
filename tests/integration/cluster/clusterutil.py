# SPDX-License-Identifier: Apache-2.0
"""Helpers for the cluster-mode tests: node ids, topology texts, pushing them with SETNODES.

    CLUSTER_CONFIG         cluster-enabled yes plus the replication test timeouts
    node_id(name)          a stable 40-char id for a test node
    Node(name, server)     a topology entry: .master(slots...) / .slave(master) build the line
    topology(*lines)       the SETNODES text
    call(s, *args)         one command; the reply, or the exception of an error reply
    setnodes(s, text, v)   CLUSTERX SETNODES on one server, returns (reply or error, seconds)
    push(servers, text, v) the same on every server (in parallel threads), asserting +OK
    role_of(s)             (role, master_host, master_port, link status) from INFO replication
    wait_role(s, ...)      until INFO replication shows that role (and the link up for slaves)
"""
import hashlib
import threading

from helpers.wait import timed, wait_until
from repl import replutil

CLUSTER_CONFIG = dict(replutil.REPL_CONFIG, **{"cluster-enabled": "yes"})


def cluster_config(*dicts, **kw):
    merged = dict(CLUSTER_CONFIG)
    for d in dicts:
        merged.update(d)
    for key, value in kw.items():
        merged[key.replace("_", "-")] = value
    return merged


def node_id(name):
    return hashlib.sha1(name.encode()).hexdigest()


def _addr(target):
    if isinstance(target, tuple):
        return target
    return target.host, target.port


def master_line(name, target, *slots):
    host, port = _addr(target)
    return " ".join(["%s %s %d master -" % (node_id(name), host, port)] + [str(s) for s in slots])


def slave_line(name, target, master_name):
    host, port = _addr(target)
    return "%s %s %d slave %s" % (node_id(name), host, port, node_id(master_name))


def topology(*lines):
    return "\n".join(lines)


def setnodes(server, text, version, *extra, timeout=10):
    return timed(call, server, "CLUSTERX", "SETNODES", text, str(version), *extra,
                 timeout=timeout)


def call(server, *args, timeout=10):
    try:
        return server.command(*args, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the reply of a refused command
        return exc


def push(servers, text, version, *, setid=None):
    """SETNODES on every server at once; setid maps server -> node name for SETNODEID first."""
    results = {}

    def one(s):
        if setid is not None:
            results[(s.name, "id")] = call(s, "CLUSTERX", "SETNODEID", node_id(setid[s]))
        results[s.name] = setnodes(s, text, version)

    threads = [threading.Thread(target=one, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in servers:
        reply, elapsed = results[s.name]
        assert reply in (b"OK", "OK"), "%s: SETNODES v%s -> %r" % (s.name, version, reply)
    return max(results[s.name][1] for s in servers)


def version(server):
    return int(server.command("CLUSTERX", "VERSION"))


def role_of(server):
    info = replutil.repl(server)
    return (info.get("role"), info.get("master_host"), info.get("master_port"),
            info.get("master_link_status"))


def wait_role(server, master=None, timeout=10):
    """master None: wait for role:master; else (a Server) for role:slave of it with the link up."""
    if master is None:
        want = ("master", None, None, None)
    else:
        want = ("slave", master.host, master.port, "up")
    wait_until(lambda: role_of(server) == want, timeout=timeout,
               msg=lambda: "%s: replication %r, expected %r" % (server.name, role_of(server), want))


def error_text(reply):
    assert isinstance(reply, Exception), "expected an error, got %r" % (reply,)
    return str(reply)
