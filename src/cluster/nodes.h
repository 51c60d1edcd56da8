/* SPDX-License-Identifier: Apache-2.0
 *
 * nodes: the cluster topology as data. It parses the text a controller pushes with
 * `CLUSTERX SETNODES "<nodes>" <version>` (and the `node ...` lines of nodes.conf) into a
 * `struct cluster_topology`, validates it all-or-nothing, and prints the pieces of it that other
 * formats share (compressed slot ranges, nodes.conf). It knows nothing about versions policy,
 * routing or snapshots (cluster.h), files (nodes_file.h), sockets or the server.
 *
 * SETNODES text (kvrocks-notes 4.2). Lines are separated by '\n' (one trailing '\r' per line is
 * ignored, empty lines are skipped); fields by spaces (runs of spaces are one separator):
 *
 *   <id> <host> <port> master - [<slot> | <start>-<end>] ...
 *   <id> <host> <port> slave|replica <master id>
 *
 *   id      exactly NODES_ID_LEN (40) printable non-space bytes. Kvrocks checks only the length
 *           (its tests use random letters), so hex is not required.
 *   host    1..NODES_HOST_MAX printable non-space bytes (Kvrocks does not check it; we bound it
 *           so "<slot> <host>:<port>" always fits a struct kv_err).
 *   port    decimal 1..65535 (Kvrocks also takes 0; no node can listen there).
 *   role    master, slave or replica, ASCII case-insensitive.
 *   slots   decimal 0..16383, or start-end with start < end. Digits only: Kvrocks's lenient
 *           split also takes "-5" or "3--5"; we refuse them.
 *
 * Errors (code KV_ERR_INVALID, the text in err->msg, replied as "-ERR <text>"), checked in
 * Kvrocks's order, line by line, then across lines:
 *   NODES_ERR_INFO      no node line; a line with fewer than 5 fields; a slave line with
 *                       more than 5 fields
 *   NODES_ERR_ID        id not 40 bytes; a master's 5th field not "-"; a slave's master id
 *                       not 40 bytes
 *   NODES_ERR_HOST      host too long or with control bytes
 *   NODES_ERR_PORT      port not a number in 1..65535
 *   NODES_ERR_ROLE      role not master/slave/replica
 *   NODES_ERR_NEWLINE   a 40-hex-digit token where a slot is expected (two node lines joined)
 *   NODES_ERR_SLOT      a slot that is not a number in 0..16383, a range with start >= end,
 *                       anything else in a slot position
 *   NODES_ERR_OVERLAP   a slot listed twice (in one master or in two)
 *   and, beyond Kvrocks (which accepts these and then misbehaves):
 *   "Invalid cluster nodes info: duplicate node id <id>"
 *   "Invalid cluster nodes info: node <id> replicates itself"
 *   "Invalid cluster nodes info: master <mid> of node <id> is not in the topology"
 *   "Invalid cluster nodes info: master <mid> of node <id> is a slave"   (no chains, so no
 *                                                                         cycles either)
 *
 * Invariants of a topology built here: node ids are unique; every slave's master is a master
 * of the same topology; slot_owner[] names only masters; nodes[].slot_count, size and
 * slots_assigned agree with slot_owner[]; my_id is "" or 40 bytes and myself indexes it (or is
 * NODES_NONE when the id is not a node).
 *
 * Threads: any; no shared state. A topology that is being built belongs to its builder; once
 * published through cluster_state (cluster.h) it is immutable and read concurrently.
 */
#ifndef KV_CLUSTER_NODES_H
#define KV_CLUSTER_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slot.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NODES_ID_LEN 40
#define NODES_HOST_MAX 255
/* CLUSTER NODES prints "<host>:<port>@<port + NODES_BUS_PORT_INCR>". */
#define NODES_BUS_PORT_INCR 10000
/* "no node": in slot_owner[], nodes[].master and myself. */
#define NODES_NONE (-1)
/* Bytes for "<host>:<port>" plus its NUL. */
#define NODES_ADDR_MAX (NODES_HOST_MAX + 1 + 5 + 1)

/* Kvrocks's texts, byte for byte (src/cluster/cluster_defs.h and cluster.cc). */
#define NODES_ERR_VERSION "Invalid cluster version"
#define NODES_ERR_INFO "Invalid cluster nodes info"
#define NODES_ERR_ID "Invalid cluster node id"
#define NODES_ERR_PORT "Invalid cluster node port"
#define NODES_ERR_ROLE "Invalid cluster node role"
#define NODES_ERR_SLOT "Slot is out of range"
#define NODES_ERR_OVERLAP "Slot distribution is overlapped"
#define NODES_ERR_NEWLINE "Invalid nodes definition: Missing newline between node entries."
#define NODES_ERR_NOT_INIT "The cluster is not initialized"
#define NODES_ERR_NOT_MASTER "The node isn't a master"
#define NODES_ERR_NO_NODE "No this node in the cluster"
/* Ours (Kvrocks does not check the host). */
#define NODES_ERR_HOST "Invalid cluster node host"

/* Values never reach disk as numbers (nodes.conf spells the role), but keep them stable. */
enum nodes_role {
    NODES_ROLE_MASTER = 1,
    NODES_ROLE_SLAVE = 2,
};

struct nodes_node {
    char id[NODES_ID_LEN + 1];     /* NUL-terminated */
    char host[NODES_HOST_MAX + 1]; /* NUL-terminated, non-empty */
    uint16_t port;                 /* 1..65535 */
    enum nodes_role role;
    char master_id[NODES_ID_LEN + 1]; /* slaves: the master's id; masters: "" */
    int32_t master;                   /* slaves: index of the master in nodes[]; masters: NONE */
    uint32_t slot_count;              /* masters: slots in slot_owner[] that name this node */
    uint32_t replica_first;           /* masters: first index of its slaves in replicas[] */
    uint32_t replica_count;           /* masters: how many; slaves: 0 */
};

/* One topology. Built by nodes_parse / nodes_parse_conf / nodes_topology_copy; shared and
 * freed through cluster_topology_ref/unref (cluster.h). */
struct cluster_topology {
    long refs;                    /* private to cluster.c (atomic builtins); 1 when built here */
    int64_t version;              /* -1: not initialised (then there are no nodes) */
    char my_id[NODES_ID_LEN + 1]; /* "" when unknown (no SETNODEID and no match) */
    int32_t myself;               /* index of my_id in nodes[], or NODES_NONE */
    size_t node_count;
    struct nodes_node *nodes; /* owned; node_count entries, in text order */
    int32_t *replicas;        /* owned; node_count entries: slave indexes grouped by master, in
                                 text order; a master's group is replicas[replica_first..] */
    uint32_t size;            /* masters owning at least one slot (cluster_size) */
    uint32_t slots_assigned;  /* slots with an owner */
    int32_t slot_owner[SLOT_COUNT]; /* index of the serving master, or NODES_NONE */
};

/* An inclusive slot range. A zero-initialised range is "no range" (set == false). */
struct cluster_slot_range {
    bool set;
    uint16_t start;
    uint16_t end; /* >= start */
};

/* Parse and validate SETNODES text into a new topology with the given version (not checked
 * here: see cluster_setnodes_prepare), no my_id and refs 1.
 *   text, len (in) the text, binary-safe (embedded NULs are refused as bad fields).
 *   out (out) the topology, owned by the caller (cluster_topology_unref); untouched on error.
 * Returns KV_OK, or KV_ERR_INVALID with one of the texts above; nothing stays allocated.
 */
enum kv_code nodes_parse(const char *text, size_t len, int64_t version,
                         struct cluster_topology **out, struct kv_err *err);

/* A new topology with version -1, no nodes, no owners, no my_id, refs 1. Never fails. */
struct cluster_topology *nodes_topology_new_empty(void);

/* A deep copy of `t` with refs 1 (the base of SETNODEID and SETSLOT). Never fails. */
struct cluster_topology *nodes_topology_copy(const struct cluster_topology *t);

/* Free a topology regardless of its count. For the builder of an unpublished topology and
 * for cluster_topology_unref; NULL is a no-op. */
void nodes_topology_free(struct cluster_topology *t);

/* Set my id on an unpublished topology and recompute myself. len 0 clears it. Returns KV_OK,
 * or KV_ERR_INVALID with NODES_ERR_ID when len is neither 0 nor 40 or a byte is not printable
 * (then t is unchanged). The id need not be a node of t (myself is then NODES_NONE). */
enum kv_code nodes_set_my_id(struct cluster_topology *t, const char *id, size_t len,
                             struct kv_err *err);

/* Index of the node with this id, or NODES_NONE. Linear in node_count. */
int32_t nodes_find(const struct cluster_topology *t, const char *id, size_t len);

/* Index of the first node whose port is `port` and whose host equals one of hosts[0..n)
 * (Kvrocks's way of finding itself when no id was set), or NODES_NONE. */
int32_t nodes_find_by_addr(const struct cluster_topology *t, uint16_t port,
                           const char *const *hosts, size_t n);

/* The slots served by node `node` as maximal ranges in ascending order.
 *   ranges (out) owned by the caller (kv_free); NULL when *count is 0.
 *   count (out) at most SLOT_COUNT / 2 (every other slot). */
void nodes_slot_ranges(const struct cluster_topology *t, int32_t node,
                       struct cluster_slot_range **ranges, size_t *count);

/* Append node `node`'s slots as Kvrocks prints them: "0-2 4-8193 10000 10002-11002", single
 * slots bare, ranges "a-b", separated by one space, nothing when it owns none. */
void nodes_format_slots(const struct cluster_topology *t, int32_t node, struct kv_buf *out);

/* Append one range as Kvrocks prints it ("7" or "1-3"); nothing when !r.set. */
void nodes_format_range(struct cluster_slot_range r, struct kv_buf *out);

/* nodes.conf (kvrocks-notes 4.1), also Kvrocks's own format, so files move between servers:
 *
 *   version <n>\n                           always; -1 before the first topology
 *   id <my id>\n                            only when my_id is set
 *   node <id> <host> <port> master - <slots as nodes_format_slots>\n   (no slots: "... master -")
 *   node <id> <host> <port> slave <master id>\n
 *
 * nodes_format_conf appends that text for t. */
void nodes_format_conf(const struct cluster_topology *t, struct kv_buf *out);

/* Parse nodes.conf text. Blank lines and lines starting with '#' are skipped; each other line is
 * "<key> <value>" with key version, id or node. The result has refs 1 and my_id set from `id`.
 * A file with version -1 must have no node lines (it records only an id, written after
 * SETNODEID and before any SETNODES); a file with version >= 0 must have node lines.
 * Returns KV_OK, or KV_ERR_CORRUPT with "missing version" or "line <n>: <reason>" (reason:
 * "unknown key: <k>", NODES_ERR_VERSION, NODES_ERR_ID, or a SETNODES validation text, reported
 * at the first node line). out is untouched on error. */
enum kv_code nodes_parse_conf(const char *text, size_t len, struct cluster_topology **out,
                              struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
