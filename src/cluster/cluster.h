/* SPDX-License-Identifier: Apache-2.0
 *
 * cluster: the pure core of cluster mode (DESIGN.md section 7, kvrocks-notes 4): the current
 * topology as an immutable reference-counted snapshot, the SETNODES / SETNODEID / SETSLOT
 * decisions, request routing, the role this node derives from a topology, and the text of
 * CLUSTER NODES / REPLICAS / INFO and the data of CLUSTER SLOTS / SHARDS. No sockets, no
 * threads of its own, no storage, no server: the server wires the results into replication
 * (start/stop repl_replica), key deletion and replies.
 *
 * Snapshots. A published topology never changes. A reader (a worker, per command) calls
 * cluster_state_acquire, uses the snapshot for the whole command (routing, MULTI/EXEC, replies)
 * and calls cluster_topology_unref. A writer builds a new topology (cluster_*_prepare), and
 * cluster_state_publish swaps it in at once; the old snapshot is freed when its last reader lets
 * go. Everything a reader needs -- version, nodes, slot map, my id and myself -- is in the one
 * snapshot, so SETNODEID also publishes a new snapshot, and no reader can pair one topology with
 * another's id.
 *
 * How CLUSTERX SETNODES "<text>" <version> [force] is applied (the order is the contract):
 *
 *   cluster_state_writer_lock(s);                      serialises writers, never readers
 *   cur = cluster_state_acquire(s);
 *   rc = cluster_setnodes_prepare(cur, text, len, version, force, &self, &next, err);
 *        - version < 0, or lower than cur's without force: refused (NODES_ERR_VERSION) before
 *          the text is looked at;
 *        - equal without force: KV_OK with next == NULL: reply +OK, change nothing;
 *        - otherwise the text is parsed and validated all-or-nothing (nodes.h).
 *   if (rc == KV_OK && next != NULL) {
 *       if persisting: nodes_file_save(path, next) -- on failure unref next and refuse,
 *           so memory and nodes.conf never disagree;
 *       cluster_role_of(cur, &before); cluster_role_of(next, &after);
 *       cluster_state_publish(s, next);                the swap; takes next's reference
 *       change = cluster_role_change(&before, &after);
 *   }
 *   cluster_topology_unref(cur);
 *   cluster_state_writer_unlock(s);
 *   then act on `change` with asynchronous requests only (start replicating after.master_host,
 *   stop replicating), and drop the keys of slots that cur gave me and next does not, if they
 *   were migrated away (see cluster_owns_slot).
 *
 * SETNODEID and SETSLOT follow the same pattern with cluster_setnodeid_prepare and
 * cluster_setslot_prepare; CLUSTER RESET publishes nodes_topology_new_empty(); start-up publishes
 * what nodes_file_load returned, before anything writes to the DB.
 *
 * Threads: cluster_state_acquire, cluster_topology_ref/unref and every function taking a const
 * topology: any thread. Writers (prepare + publish) hold the writer lock; publish may wait for
 * readers that are inside acquire (see cluster_state_publish), never for a reader's command.
 */
#ifndef KV_CLUSTER_CLUSTER_H
#define KV_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/nodes.h"
#include "common/buf.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Routing texts (the dispatcher adds the prefix: CROSSSLOT, CLUSTERDOWN, TRYAGAIN). CROSSSLOT
 * has Redis's wording, as DESIGN.md section 7 fixes it (Kvrocks says "Attempted to access keys
 * that don't hash to the same slot"; clients only look at the prefix). */
#define CLUSTER_ERR_CROSSSLOT "Keys in request don't hash to the same slot"
#define CLUSTER_ERR_NOT_SERVED "Hash slot not served"
#define CLUSTER_ERR_WRITE_FORBIDDEN                                                                \
    "Can't write to slot being migrated which is in write forbidden phase"
/* Redis's text for a multi-key command whose keys are partly migrated. */
#define CLUSTER_ERR_MULTI_MIGRATING "Multiple keys request during rehashing of slot"

/* Take one more reference on t and return it. Any thread. */
const struct cluster_topology *cluster_topology_ref(const struct cluster_topology *t);

/* Drop one reference; the last one frees t. NULL is a no-op. Any thread. */
void cluster_topology_unref(const struct cluster_topology *t);

/* The holder of the current snapshot: an atomic pointer, a writer lock, and the reader gate that
 * lets publish free the old snapshot safely. Opaque. */
struct cluster_state;

/* A state whose current snapshot is `initial` (its reference passes to the state), or an empty
 * topology (version -1) when initial is NULL. Never fails. */
struct cluster_state *cluster_state_new(struct cluster_topology *initial);

/* Free the state and drop its reference on the current snapshot. No reader or writer may be
 * using the state. NULL is a no-op. */
void cluster_state_free(struct cluster_state *s);

/* The current snapshot with a reference for the caller (release with cluster_topology_unref).
 * Never NULL, never blocks: a few atomic operations, retried only if a publish happens in the
 * middle. Any thread. */
const struct cluster_topology *cluster_state_acquire(struct cluster_state *s);

/* Make `next` current. The caller's reference on next passes to the state; the state's
 * reference on the previous snapshot is dropped once no reader can still be taking one: publish
 * waits for the readers caught inside acquire's few instructions (nanoseconds; a time slice if
 * one of them was preempted there), never for a reader's command, and never blocks a reader.
 * Readers already holding the old snapshot keep it alive. next must not be modified afterwards.
 * The caller holds the writer lock. */
void cluster_state_publish(struct cluster_state *s, struct cluster_topology *next);

/* Serialise writers: prepare (which reads the current snapshot) and publish must happen under
 * one hold, or two SETNODES could publish out of order. Readers never take it. */
void cluster_state_writer_lock(struct cluster_state *s);
void cluster_state_writer_unlock(struct cluster_state *s);

/* Topology updates. Pure: the writer publishes the result. */

/* The staleness rule of SETNODES, decided before any parsing (kvrocks-notes 4.2):
 *   proposed < 0                       -> KV_ERR_INVALID, NODES_ERR_VERSION (even with force)
 *   proposed < current and !force      -> KV_ERR_INVALID, NODES_ERR_VERSION
 *   proposed == current and !force     -> KV_OK, *apply = false (a no-op +OK, even if the text
 *                                         differs: do not parse it)
 *   otherwise                          -> KV_OK, *apply = true (parse and replace)
 * *apply is untouched on error. */
enum kv_code cluster_check_version(int64_t current, int64_t proposed, bool force, bool *apply,
                                   struct kv_err *err);

/* How this node recognises itself when it has no id (or on force), as Kvrocks does: the first
 * node whose port is `port` and whose host is one of hosts[] (the bind addresses, plus the
 * local interface addresses when binding a wildcard -- the server collects them). */
struct cluster_self_addr {
    uint16_t port;
    const char *const *hosts; /* borrowed for the call */
    size_t host_count;
};

/* CLUSTERX SETNODES: cluster_check_version(cur->version, version, force), then nodes_parse.
 * The new topology keeps cur's my_id; when that is empty, or force is given, and `self` finds
 * a node, that node's id becomes my_id (no match keeps the old id).
 *   cur (in) the current snapshot; self (in) may be NULL.
 *   out (out) the new unpublished topology (refs 1, owned by the caller), or NULL for the
 *       equal-version no-op; untouched on error.
 * Returns KV_OK, or KV_ERR_INVALID with a nodes.h text. cur is never changed. */
enum kv_code cluster_setnodes_prepare(const struct cluster_topology *cur, const char *text,
                                      size_t len, int64_t version, bool force,
                                      const struct cluster_self_addr *self,
                                      struct cluster_topology **out, struct kv_err *err);

/* CLUSTERX SETNODEID: a copy of cur with my_id = id (which need not be a node yet).
 * Returns KV_OK, or KV_ERR_INVALID with NODES_ERR_ID when id is not 40 printable bytes. */
enum kv_code cluster_setnodeid_prepare(const struct cluster_topology *cur, const char *id,
                                       size_t len, struct cluster_topology **out,
                                       struct kv_err *err);

/* CLUSTERX SETSLOT <ranges> NODE <id> <version>: a copy of cur where the slots of ranges[0..n)
 * belong to node `id`, with version `version`. Checks, in Kvrocks's order:
 *   version <= 0 or != cur->version + 1 -> NODES_ERR_VERSION
 *   id not 40 bytes                     -> NODES_ERR_ID
 *   id not a node of cur                -> NODES_ERR_NO_NODE
 *   the node is a slave                 -> NODES_ERR_NOT_MASTER
 *   a range not set or beyond 16383     -> NODES_ERR_SLOT
 * all KV_ERR_INVALID. out untouched on error. */
enum kv_code cluster_setslot_prepare(const struct cluster_topology *cur,
                                     const struct cluster_slot_range *ranges, size_t n,
                                     const char *id, size_t id_len, int64_t version,
                                     struct cluster_topology **out, struct kv_err *err);

/* True when t names me and I am the master serving `slot`. */
bool cluster_owns_slot(const struct cluster_topology *t, uint16_t slot);

/* A range this node migrated away with success while the topology still names it the owner. */
struct cluster_migrated_slots {
    struct cluster_slot_range range;
    char addr[NODES_ADDR_MAX]; /* the destination, "<host>:<port>" */
};

/* What the migration and import code knows, as routing and CLUSTER NODES read it. The
 * migration code fills it (a zero-initialised view means "nothing migrating"); how it keeps
 * it consistent across threads (a lock, or its own snapshot) is its business: these functions
 * only read a view for the duration of one call. */
struct cluster_migration_view {
    /* Source side. */
    const struct cluster_migrated_slots *migrated; /* borrowed; done, topology not updated yet:
                                                      MOVED to its addr */
    size_t migrated_count;
    struct cluster_slot_range migrating;     /* a running migration (NODES mark, ASK) */
    char migrating_dst_id[NODES_ID_LEN + 1]; /* its destination's id (NODES mark) */
    char migrating_addr[NODES_ADDR_MAX];     /* its destination, "<host>:<port>" (ASK) */
    bool ask_absent_keys;                    /* answer ASK for keys of `migrating` that
                                                are absent here (see cluster_route) */
    struct cluster_slot_range forbidden;     /* writes get TRYAGAIN (final catch-up) */
    /* Destination side. */
    struct cluster_slot_range importing;       /* the import link and ASKING clients may use
                                                  it; NODES mark */
    const struct cluster_slot_range *imported; /* borrowed; done, topology not updated yet:
                                                  served here */
    size_t imported_count;
};

/* What the command knows about its keys, for ASK (only asked for when cluster_route set
 * check_keys). */
enum cluster_keys_presence {
    CLUSTER_KEYS_UNCHECKED = 0,
    CLUSTER_KEYS_ALL_PRESENT,
    CLUSTER_KEYS_ALL_ABSENT,
    CLUSTER_KEYS_SOME_ABSENT,
};

struct cluster_route_req {
    const uint16_t *slots; /* borrowed: the slot of each key (slot_of_key), or NULL if nslots 0 */
    size_t nslots;         /* 0: a command without keys, always executed here */
    bool is_write;         /* the command has CMD_WRITE */
    bool readonly_conn;    /* the connection sent READONLY */
    bool asking;           /* the connection sent ASKING just before this command */
    bool importing_conn;   /* the connection is the migration source's import link */
    enum cluster_keys_presence keys;
};

struct cluster_route_res {
    int32_t slot;    /* the request's slot, or -1 without keys (also set on errors after the
                        CROSSSLOT check) */
    bool check_keys; /* KV_OK, but the slot is migrating with ask_absent_keys: look the keys up
                        and call again with req.keys set */
};

/* Decide whether this node executes a keyed command (Kvrocks's CanExecByMySelf, kvrocks-notes
 * 4.5), in this order:
 *   1. no keys -> KV_OK. Keys in two slots -> KV_ERR_CROSSSLOT, CLUSTER_ERR_CROSSSLOT.
 *   2. no owner (also before any topology) -> KV_ERR_CLUSTERDOWN, CLUSTER_ERR_NOT_SERVED.
 *   3. I own the slot:
 *      - it is in mv->migrated          -> KV_ERR_MOVED "<slot> <dst addr>"
 *      - a write in mv->forbidden       -> KV_ERR_TRYAGAIN, CLUSTER_ERR_WRITE_FORBIDDEN
 *      - in mv->migrating with ask_absent_keys and a migrating_addr (Redis's MIGRATING):
 *          keys UNCHECKED               -> KV_OK with res->check_keys
 *          ALL_ABSENT                   -> KV_ERR_ASK "<slot> <dst addr>"
 *          SOME_ABSENT                  -> KV_ERR_TRYAGAIN, CLUSTER_ERR_MULTI_MIGRATING
 *          ALL_PRESENT                  -> KV_OK
 *      - else                           -> KV_OK
 *   4. in mv->importing and (importing_conn or asking) -> KV_OK
 *   5. in one of mv->imported                          -> KV_OK
 *   6. I am a slave, not a write, readonly_conn, my master owns the slot -> KV_OK
 *   7. otherwise KV_ERR_MOVED "<slot> <owner host>:<owner port>"
 * (4-6 need me in the topology.) The message goes to err->msg without the prefix.
 *
 * ASK: Kvrocks never asks (its migration copies keys, so the source still has them). If the
 * migration code wants Redis's behaviour for keys that already left, it sets ask_absent_keys;
 * the server then, on check_keys, looks up the command's keys in the snapshot the command will
 * use and calls cluster_route again with keys set; a client that follows ASK sends ASKING to
 * the destination, which executes by rule 4.
 *   t (in) the command's snapshot; mv (in) may be NULL; res (out) may be NULL. */
enum kv_code cluster_route(const struct cluster_topology *t,
                           const struct cluster_migration_view *mv,
                           const struct cluster_route_req *req, struct cluster_route_res *res,
                           struct kv_err *err);

enum cluster_role_kind {
    CLUSTER_ROLE_NONE = 0, /* no topology, no my_id, or my_id not in it: not a member */
    CLUSTER_ROLE_MASTER,
    CLUSTER_ROLE_REPLICA,
};

struct cluster_role {
    enum cluster_role_kind kind;
    char master_id[NODES_ID_LEN + 1];     /* REPLICA: my master's id; else "" */
    char master_host[NODES_HOST_MAX + 1]; /* REPLICA: where to replicate from; else "" */
    uint16_t master_port;                 /* REPLICA; else 0 */
};

/* The role t gives to my_id. Never fails. */
void cluster_role_of(const struct cluster_topology *t, struct cluster_role *out);

enum cluster_role_change {
    CLUSTER_ROLE_UNCHANGED = 0,  /* same kind, and for replicas the same master host:port */
    CLUSTER_ROLE_BECOME_MASTER,  /* stop replicating (if we were) */
    CLUSTER_ROLE_BECOME_REPLICA, /* (re)start replicating after.master_host:master_port */
    CLUSTER_ROLE_LEAVE,          /* was a member, is not now: stop replicating */
};

/* What the server must do to go from `before` to `after`. A replica whose master keeps its
 * host:port is UNCHANGED even if the master's id changed (the link is to an address; PSYNC
 * sorts out the history). The server may also compare `after` with what its replication
 * actually does (a link that died for good) and repair it even when this says UNCHANGED. */
enum cluster_role_change cluster_role_change(const struct cluster_role *before,
                                             const struct cluster_role *after);

/* CLUSTER NODES text (kvrocks-notes 4.3), one '\n'-terminated line per node in text order:
 *   <id> <host>:<port>@<port+10000> [myself,]master - <now_ms-1> <now_ms> <version> connected[
 * <slots>] <id> <host>:<port>@<port+10000> [myself,]slave <master id> <now_ms-1> <now_ms> <version>
 * connected My line ends with " [<range>->-<dst id>]" while mv->migrating is set and "
 * [<range>-<-<src id>]" while mv->importing is set (src: the owner of the range's first slot in t).
 * Appends to out; KV_ERR_CLUSTERDOWN with NODES_ERR_NOT_INIT (out untouched) before any
 * topology. mv may be NULL. */
enum kv_code cluster_format_nodes(const struct cluster_topology *t,
                                  const struct cluster_migration_view *mv, int64_t now_ms,
                                  struct kv_buf *out, struct kv_err *err);

/* CLUSTER REPLICAS <id>: the NODES line of each slave of `id` (no myself flag, no slots).
 * KV_ERR_CLUSTERDOWN NODES_ERR_NOT_INIT; KV_ERR_INVALID NODES_ERR_ID (unknown id);
 * KV_ERR_INVALID NODES_ERR_NOT_MASTER (a slave). An empty text for a master without slaves. */
enum kv_code cluster_format_replicas(const struct cluster_topology *t, const char *id, size_t len,
                                     int64_t now_ms, struct kv_buf *out, struct kv_err *err);

/* CLUSTER INFO, CRLF lines: cluster_state:ok, cluster_slots_assigned, cluster_slots_ok,
 * cluster_slots_pfail:0, cluster_slots_fail:0, cluster_known_nodes, cluster_size,
 * cluster_current_epoch, cluster_my_epoch (both the version). The server appends the migration
 * fields. KV_ERR_CLUSTERDOWN NODES_ERR_NOT_INIT before any topology. */
enum kv_code cluster_format_info(const struct cluster_topology *t, struct kv_buf *out,
                                 struct kv_err *err);

/* One maximal run of consecutive slots served by one master (CLUSTER SLOTS entry: start, end,
 * the master, then t->replicas[nodes[master].replica_first ..] in order). */
struct cluster_slot_run {
    uint16_t start;
    uint16_t end;
    int32_t master; /* index in t->nodes */
};

/* CLUSTER SLOTS data in slot order. runs (out) owned by the caller (kv_free), NULL when
 * *count is 0. KV_ERR_CLUSTERDOWN NODES_ERR_NOT_INIT before any topology.
 * (CLUSTER SHARDS: for each master, nodes_slot_ranges and its replicas.) */
enum kv_code cluster_slot_runs(const struct cluster_topology *t, struct cluster_slot_run **runs,
                               size_t *count, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
