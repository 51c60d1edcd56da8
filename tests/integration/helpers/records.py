# SPDX-License-Identifier: Apache-2.0
"""Count what a command costs in RocksDB records, not in seconds.

INFO rocksdb exposes per-column-family counters (src/server/info.c): keys_read[<cf>] counts the
records the server read (point reads, plus iterator seeks and steps) and keys_written[<cf>] the
records it wrote. The sub-key column families (SUBKEY_CFS) have no background reader or writer,
so the difference of the counters around one command is that command's cost, whatever the load
on the machine: a slice read asserts it read O(slice) records, an O(1) DEL that it read none.

    reply, cost = counted(server, lambda: c.zrange("big", -3, -1))
    assert cost.read() <= 3 + 2
    assert cost.written("metadata") == 1
"""

__all__ = ["SUBKEY_CFS", "Cost", "counted"]

SUBKEY_CFS = ("default", "zset_score")


class Cost:
    """The counter differences between two INFO rocksdb snapshots."""

    __slots__ = ("before", "after")

    def __init__(self, before, after):
        self.before = before
        self.after = after

    def _delta(self, name, cfs):
        cfs = cfs or SUBKEY_CFS
        return sum(self.after["%s[%s]" % (name, cf)] - self.before["%s[%s]" % (name, cf)]
                   for cf in cfs)

    def read(self, *cfs):
        """Records read in the column families cfs (default: the sub-key ones)."""
        return self._delta("keys_read", cfs)

    def written(self, *cfs):
        """Records written in the column families cfs (default: the sub-key ones)."""
        return self._delta("keys_written", cfs)

    def __repr__(self):
        return "Cost(read=%d, written=%d, metadata read=%d, metadata written=%d)" % (
            self.read(), self.written(), self.read("metadata"), self.written("metadata"))


def counted(server, fn):
    """Run fn() between two INFO rocksdb calls on `server` (a helpers.server.Server); return
    (fn's result, Cost)."""
    before = server.info("rocksdb")
    result = fn()
    after = server.info("rocksdb")
    return result, Cost(before, after)
