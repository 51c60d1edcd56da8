/* SPDX-License-Identifier: Apache-2.0
 *
 * cluster: snapshots, topology updates, routing, roles and reply texts (cluster.h).
 *
 * The reader gate. A reader may load the current pointer and be descheduled before it takes its
 * reference; publish must not drop the old snapshot's last reference meanwhile. A reader reads
 * the generation g, announces itself in counter active[g & 1], and re-reads the generation: if
 * it moved, it withdraws and starts again. Only then does it load the pointer, take its
 * reference and withdraw. Publish (writers are serialised by publish_mu) swaps the pointer, bumps
 * the generation from g to g + 1, and waits until active[g & 1] is zero.
 *
 * Why that suffices: a reader that loaded the old pointer did so before the swap, so its
 * successful re-read saw some generation h <= g. If h == g it is counted in active[g & 1] and
 * the wait covers it. If h < g, publish h (which bumped h to h + 1 after that re-read) waited
 * on active[h & 1], where the reader was counted, so the reader had taken its reference before
 * publish h returned, before this publish began. New readers see g + 1 and count in the other
 * counter, so the wait is bounded by the few instructions of the readers caught mid-window (a
 * reader preempted there delays publish by its time slice; it never delays another reader).
 * All gate operations are seq_cst.
 *
 * Threads: see cluster.h.
 */
#include "cluster/cluster.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "common/mem.h"

struct cluster_state {
    _Atomic(struct cluster_topology *) cur; /* owns one reference */
    atomic_uint gen;                        /* parity picks the reader counter */
    atomic_long active[2];                  /* readers inside acquire, per parity */
    pthread_mutex_t publish_mu;             /* inner: one publish at a time */
    pthread_mutex_t writer_mu;              /* outer: prepare + publish of one writer */
};

const struct cluster_topology *
cluster_topology_ref(const struct cluster_topology *t)
{
    struct cluster_topology *m = (struct cluster_topology *)t; /* refs is the mutable part */
    __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void
cluster_topology_unref(const struct cluster_topology *t)
{
    if (t == NULL)
        return;
    struct cluster_topology *m = (struct cluster_topology *)t;
    if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
        nodes_topology_free(m);
}

struct cluster_state *
cluster_state_new(struct cluster_topology *initial)
{
    struct cluster_state *s = kv_calloc(1, sizeof *s);
    atomic_init(&s->cur, initial != NULL ? initial : nodes_topology_new_empty());
    atomic_init(&s->gen, 0);
    atomic_init(&s->active[0], 0);
    atomic_init(&s->active[1], 0);
    pthread_mutex_init(&s->publish_mu, NULL);
    pthread_mutex_init(&s->writer_mu, NULL);
    return s;
}

void
cluster_state_free(struct cluster_state *s)
{
    if (s == NULL)
        return;
    cluster_topology_unref(atomic_load(&s->cur));
    pthread_mutex_destroy(&s->publish_mu);
    pthread_mutex_destroy(&s->writer_mu);
    kv_free(s);
}

const struct cluster_topology *
cluster_state_acquire(struct cluster_state *s)
{
    unsigned g, p;
    for (;;) {
        g = atomic_load(&s->gen);
        p = g & 1u;
        atomic_fetch_add(&s->active[p], 1);
        if (atomic_load(&s->gen) == g)
            break;
        atomic_fetch_sub(&s->active[p], 1); /* a publish flipped meanwhile: join the new side */
    }
    struct cluster_topology *t = atomic_load(&s->cur);
    cluster_topology_ref(t);
    atomic_fetch_sub(&s->active[p], 1);
    return t;
}

void
cluster_state_publish(struct cluster_state *s, struct cluster_topology *next)
{
    pthread_mutex_lock(&s->publish_mu);
    struct cluster_topology *old = atomic_exchange(&s->cur, next);
    unsigned p = atomic_fetch_add(&s->gen, 1) & 1u;
    for (unsigned spins = 0; atomic_load(&s->active[p]) != 0; spins++) {
        if (spins > 64)
            sched_yield();
    }
    pthread_mutex_unlock(&s->publish_mu);
    cluster_topology_unref(old);
}

void
cluster_state_writer_lock(struct cluster_state *s)
{
    pthread_mutex_lock(&s->writer_mu);
}

void
cluster_state_writer_unlock(struct cluster_state *s)
{
    pthread_mutex_unlock(&s->writer_mu);
}

enum kv_code
cluster_check_version(int64_t current, int64_t proposed, bool force, bool *apply,
                      struct kv_err *err)
{
    if (proposed < 0)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_VERSION);
    if (!force && proposed < current)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_VERSION);
    *apply = force || proposed != current;
    return KV_OK;
}

enum kv_code
cluster_setnodes_prepare(const struct cluster_topology *cur, const char *text, size_t len,
                         int64_t version, bool force, const struct cluster_self_addr *self,
                         struct cluster_topology **out, struct kv_err *err)
{
    bool apply = false;
    enum kv_code rc = cluster_check_version(cur->version, version, force, &apply, err);
    if (rc != KV_OK)
        return rc;
    if (!apply) {
        *out = NULL;
        return KV_OK;
    }
    struct cluster_topology *t;
    rc = nodes_parse(text, len, version, &t, err);
    if (rc != KV_OK)
        return rc;

    const char *id = cur->my_id;
    if ((cur->my_id[0] == '\0' || force) && self != NULL) {
        int32_t i = nodes_find_by_addr(t, self->port, self->hosts, self->host_count);
        if (i != NODES_NONE)
            id = t->nodes[i].id;
    }
    nodes_set_my_id(t, id, strlen(id), NULL); /* a valid id: from cur or from t */
    *out = t;
    return KV_OK;
}

enum kv_code
cluster_setnodeid_prepare(const struct cluster_topology *cur, const char *id, size_t len,
                          struct cluster_topology **out, struct kv_err *err)
{
    if (len != NODES_ID_LEN)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ID);
    struct cluster_topology *t = nodes_topology_copy(cur);
    enum kv_code rc = nodes_set_my_id(t, id, len, err);
    if (rc != KV_OK) {
        nodes_topology_free(t);
        return rc;
    }
    *out = t;
    return KV_OK;
}

/* Recompute slot_count, size and slots_assigned from slot_owner[]. */
static void
recount_slots(struct cluster_topology *t)
{
    t->size = 0;
    t->slots_assigned = 0;
    for (size_t i = 0; i < t->node_count; i++)
        t->nodes[i].slot_count = 0;
    for (size_t s = 0; s < SLOT_COUNT; s++) {
        int32_t o = t->slot_owner[s];
        if (o == NODES_NONE)
            continue;
        t->slots_assigned++;
        if (t->nodes[o].slot_count++ == 0)
            t->size++;
    }
}

enum kv_code
cluster_setslot_prepare(const struct cluster_topology *cur, const struct cluster_slot_range *ranges,
                        size_t n, const char *id, size_t id_len, int64_t version,
                        struct cluster_topology **out, struct kv_err *err)
{
    if (version <= 0 || cur->version < 0 || version != cur->version + 1)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_VERSION);
    if (id_len != NODES_ID_LEN)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ID);
    int32_t node = nodes_find(cur, id, id_len);
    if (node == NODES_NONE)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_NO_NODE);
    if (cur->nodes[node].role != NODES_ROLE_MASTER)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_NOT_MASTER);
    for (size_t i = 0; i < n; i++) {
        if (!ranges[i].set || ranges[i].start > ranges[i].end || ranges[i].end >= SLOT_COUNT)
            return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_SLOT);
    }

    struct cluster_topology *t = nodes_topology_copy(cur);
    t->version = version;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t s = ranges[i].start; s <= ranges[i].end; s++)
            t->slot_owner[s] = node;
    }
    recount_slots(t);
    *out = t;
    return KV_OK;
}

bool
cluster_owns_slot(const struct cluster_topology *t, uint16_t slot)
{
    return slot < SLOT_COUNT && t->myself != NODES_NONE && t->slot_owner[slot] == t->myself;
}

static bool
range_has(struct cluster_slot_range r, uint16_t slot)
{
    return r.set && slot >= r.start && slot <= r.end;
}

enum kv_code
cluster_route(const struct cluster_topology *t, const struct cluster_migration_view *mv,
              const struct cluster_route_req *req, struct cluster_route_res *res,
              struct kv_err *err)
{
    if (res != NULL) {
        res->slot = -1;
        res->check_keys = false;
    }
    if (req->nslots == 0)
        return KV_OK;
    uint16_t slot = req->slots[0];
    for (size_t i = 1; i < req->nslots; i++) {
        if (req->slots[i] != slot)
            return kv_err_set(err, KV_ERR_CROSSSLOT, CLUSTER_ERR_CROSSSLOT);
    }
    if (slot >= SLOT_COUNT) /* not a slot_of_key result: a caller bug, but never index past */
        return kv_err_set(err, KV_ERR_CLUSTERDOWN, CLUSTER_ERR_NOT_SERVED);
    if (res != NULL)
        res->slot = slot;

    int32_t owner = t->slot_owner[slot];
    if (owner == NODES_NONE)
        return kv_err_set(err, KV_ERR_CLUSTERDOWN, CLUSTER_ERR_NOT_SERVED);

    int32_t me = t->myself;
    if (me != NODES_NONE && owner == me) {
        if (mv != NULL) {
            for (size_t i = 0; i < mv->migrated_count; i++) {
                if (range_has(mv->migrated[i].range, slot))
                    return kv_err_set(err, KV_ERR_MOVED, "%u %s", (unsigned)slot,
                                      mv->migrated[i].addr);
            }
            if (req->is_write && range_has(mv->forbidden, slot))
                return kv_err_set(err, KV_ERR_TRYAGAIN, CLUSTER_ERR_WRITE_FORBIDDEN);
            if (mv->ask_absent_keys && mv->migrating_addr[0] != '\0' &&
                range_has(mv->migrating, slot)) {
                switch (req->keys) {
                case CLUSTER_KEYS_UNCHECKED:
                    if (res != NULL)
                        res->check_keys = true;
                    return KV_OK;
                case CLUSTER_KEYS_ALL_ABSENT:
                    return kv_err_set(err, KV_ERR_ASK, "%u %s", (unsigned)slot, mv->migrating_addr);
                case CLUSTER_KEYS_SOME_ABSENT:
                    return kv_err_set(err, KV_ERR_TRYAGAIN, CLUSTER_ERR_MULTI_MIGRATING);
                case CLUSTER_KEYS_ALL_PRESENT:
                    break;
                }
            }
        }
        return KV_OK;
    }

    if (me != NODES_NONE && mv != NULL) {
        if (range_has(mv->importing, slot) && (req->importing_conn || req->asking))
            return KV_OK;
        for (size_t i = 0; i < mv->imported_count; i++) {
            if (range_has(mv->imported[i], slot))
                return KV_OK;
        }
    }

    if (me != NODES_NONE && t->nodes[me].role == NODES_ROLE_SLAVE && !req->is_write &&
        req->readonly_conn && t->nodes[me].master == owner)
        return KV_OK;

    const struct nodes_node *o = &t->nodes[owner];
    return kv_err_set(err, KV_ERR_MOVED, "%u %s:%u", (unsigned)slot, o->host, (unsigned)o->port);
}

void
cluster_role_of(const struct cluster_topology *t, struct cluster_role *out)
{
    memset(out, 0, sizeof *out);
    if (t->myself == NODES_NONE) {
        out->kind = CLUSTER_ROLE_NONE;
        return;
    }
    const struct nodes_node *me = &t->nodes[t->myself];
    if (me->role == NODES_ROLE_MASTER) {
        out->kind = CLUSTER_ROLE_MASTER;
        return;
    }
    const struct nodes_node *m = &t->nodes[me->master];
    out->kind = CLUSTER_ROLE_REPLICA;
    memcpy(out->master_id, m->id, sizeof out->master_id);
    memcpy(out->master_host, m->host, sizeof out->master_host);
    out->master_port = m->port;
}

enum cluster_role_change
cluster_role_change(const struct cluster_role *before, const struct cluster_role *after)
{
    switch (after->kind) {
    case CLUSTER_ROLE_NONE:
        return before->kind == CLUSTER_ROLE_NONE ? CLUSTER_ROLE_UNCHANGED : CLUSTER_ROLE_LEAVE;
    case CLUSTER_ROLE_MASTER:
        return before->kind == CLUSTER_ROLE_MASTER ? CLUSTER_ROLE_UNCHANGED
                                                   : CLUSTER_ROLE_BECOME_MASTER;
    case CLUSTER_ROLE_REPLICA:
        if (before->kind == CLUSTER_ROLE_REPLICA && before->master_port == after->master_port &&
            strcmp(before->master_host, after->master_host) == 0)
            return CLUSTER_ROLE_UNCHANGED;
        return CLUSTER_ROLE_BECOME_REPLICA;
    }
    return CLUSTER_ROLE_UNCHANGED;
}

/* "<id> <host>:<port>@<bus> [myself,]" -- the part every NODES/REPLICAS line starts with. */
static void
append_node_head(const struct cluster_topology *t, int32_t i, bool mark_myself, struct kv_buf *out)
{
    const struct nodes_node *n = &t->nodes[i];
    kv_buf_printf(out, "%s %s:%u@%u ", n->id, n->host, (unsigned)n->port,
                  (unsigned)n->port + NODES_BUS_PORT_INCR);
    if (mark_myself && i == t->myself)
        kv_buf_append_cstr(out, "myself,");
}

static void
append_node_tail(const struct cluster_topology *t, int32_t i, int64_t now_ms, struct kv_buf *out)
{
    const struct nodes_node *n = &t->nodes[i];
    if (n->role == NODES_ROLE_MASTER)
        kv_buf_append_cstr(out, "master - ");
    else
        kv_buf_printf(out, "slave %s ", n->master_id);
    kv_buf_printf(out, "%lld %lld %lld connected", (long long)(now_ms - 1), (long long)now_ms,
                  (long long)t->version);
}

enum kv_code
cluster_format_nodes(const struct cluster_topology *t, const struct cluster_migration_view *mv,
                     int64_t now_ms, struct kv_buf *out, struct kv_err *err)
{
    if (t->version < 0)
        return kv_err_set(err, KV_ERR_CLUSTERDOWN, NODES_ERR_NOT_INIT);
    for (size_t k = 0; k < t->node_count; k++) {
        int32_t i = (int32_t)k;
        append_node_head(t, i, true, out);
        append_node_tail(t, i, now_ms, out);
        if (t->nodes[i].role == NODES_ROLE_MASTER && t->nodes[i].slot_count > 0) {
            kv_buf_append_byte(out, ' ');
            nodes_format_slots(t, i, out);
        }
        if (i == t->myself && mv != NULL) {
            if (mv->migrating.set) {
                kv_buf_append_cstr(out, " [");
                nodes_format_range(mv->migrating, out);
                kv_buf_printf(out, "->-%s]", mv->migrating_dst_id);
            }
            if (mv->importing.set) {
                int32_t src = t->slot_owner[mv->importing.start];
                kv_buf_append_cstr(out, " [");
                nodes_format_range(mv->importing, out);
                kv_buf_printf(out, "-<-%s]", src != NODES_NONE ? t->nodes[src].id : "");
            }
        }
        kv_buf_append_byte(out, '\n');
    }
    return KV_OK;
}

enum kv_code
cluster_format_replicas(const struct cluster_topology *t, const char *id, size_t len,
                        int64_t now_ms, struct kv_buf *out, struct kv_err *err)
{
    if (t->version < 0)
        return kv_err_set(err, KV_ERR_CLUSTERDOWN, NODES_ERR_NOT_INIT);
    int32_t m = nodes_find(t, id, len);
    if (m == NODES_NONE)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ID);
    const struct nodes_node *mn = &t->nodes[m];
    if (mn->role != NODES_ROLE_MASTER)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_NOT_MASTER);
    for (uint32_t k = 0; k < mn->replica_count; k++) {
        int32_t r = t->replicas[mn->replica_first + k];
        append_node_head(t, r, false, out);
        append_node_tail(t, r, now_ms, out);
        kv_buf_append_byte(out, '\n');
    }
    return KV_OK;
}

enum kv_code
cluster_format_info(const struct cluster_topology *t, struct kv_buf *out, struct kv_err *err)
{
    if (t->version < 0)
        return kv_err_set(err, KV_ERR_CLUSTERDOWN, NODES_ERR_NOT_INIT);
    kv_buf_printf(out,
                  "cluster_state:ok\r\n"
                  "cluster_slots_assigned:%u\r\n"
                  "cluster_slots_ok:%u\r\n"
                  "cluster_slots_pfail:0\r\n"
                  "cluster_slots_fail:0\r\n"
                  "cluster_known_nodes:%zu\r\n"
                  "cluster_size:%u\r\n"
                  "cluster_current_epoch:%lld\r\n"
                  "cluster_my_epoch:%lld\r\n",
                  (unsigned)t->slots_assigned, (unsigned)t->slots_assigned, t->node_count,
                  (unsigned)t->size, (long long)t->version, (long long)t->version);
    return KV_OK;
}

enum kv_code
cluster_slot_runs(const struct cluster_topology *t, struct cluster_slot_run **runs, size_t *count,
                  struct kv_err *err)
{
    if (t->version < 0)
        return kv_err_set(err, KV_ERR_CLUSTERDOWN, NODES_ERR_NOT_INIT);
    size_t n = 0, cap = 0;
    struct cluster_slot_run *r = NULL;
    for (uint32_t s = 0; s < SLOT_COUNT; s++) {
        int32_t o = t->slot_owner[s];
        if (o == NODES_NONE)
            continue;
        uint32_t e = s;
        while (e + 1 < SLOT_COUNT && t->slot_owner[e + 1] == o)
            e++;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            r = kv_realloc(r, cap * sizeof *r);
        }
        r[n].start = (uint16_t)s;
        r[n].end = (uint16_t)e;
        r[n].master = o;
        n++;
        s = e;
    }
    *runs = r;
    *count = n;
    return KV_OK;
}
