/* SPDX-License-Identifier: Apache-2.0
 *
 * cluster_ctl: the server's cluster state (cluster_ctl.h).
 */
#include "server/cluster_ctl.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cluster/nodes_file.h"
#include "commands/command.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/slot.h"
#include "server/blocking.h"
#include "server/conn.h"
#include "server/migrate_ctl.h"
#include "server/repl_ctl.h"
#include "server/server.h"
#include "storage/keys.h"
#include "storage/meta.h"
#include "storage/storage.h"
#include "types/db.h"

#define CLUSTER_CTL_MAX_HOSTS 32
#define CLUSTER_CTL_KEYS_ON_STACK 64

struct cluster_ctl {
    struct cluster_state *state; /* owned */
    struct kv_buf nodes_path;    /* "<dir>/nodes.conf" */
    /* How SETNODES finds this node without an id: the bind addresses (plus the interface
     * addresses when binding a wildcard). Built once at init, read-only afterwards. */
    char hosts[CLUSTER_CTL_MAX_HOSTS][INET6_ADDRSTRLEN];
    const char *host_ptrs[CLUSTER_CTL_MAX_HOSTS];
    size_t host_count;
};

static void
add_host(struct cluster_ctl *cc, const char *h)
{
    if (cc->host_count >= CLUSTER_CTL_MAX_HOSTS || h[0] == '\0')
        return;
    for (size_t i = 0; i < cc->host_count; i++) {
        if (strcmp(cc->hosts[i], h) == 0)
            return;
    }
    snprintf(cc->hosts[cc->host_count], sizeof cc->hosts[0], "%s", h);
    cc->host_ptrs[cc->host_count] = cc->hosts[cc->host_count];
    cc->host_count++;
}

static void
add_interface_hosts(struct cluster_ctl *cc)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL)
            continue;
        char buf[INET6_ADDRSTRLEN];
        const void *a = NULL;
        if (i->ifa_addr->sa_family == AF_INET)
            a = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
        else if (i->ifa_addr->sa_family == AF_INET6)
            a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
        if (a != NULL && inet_ntop(i->ifa_addr->sa_family, a, buf, sizeof buf) != NULL)
            add_host(cc, buf);
    }
    freeifaddrs(ifs);
}

static void
collect_hosts(struct cluster_ctl *cc, const char *bind)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", bind != NULL ? bind : "");
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        if (strcmp(t, "0.0.0.0") == 0 || strcmp(t, "::") == 0 || strcmp(t, "*") == 0)
            add_interface_hosts(cc);
        else
            add_host(cc, t);
    }
}

static bool
persisting(const struct server *srv)
{
    return srv->cfg->persist_cluster_nodes_enabled;
}

/* Ask replication for the role t gives me. Never waits on the network. A node that is not a
 * member stops replicating (it serves no slot: routing refuses its data commands). */
static enum kv_code
request_role(struct server *srv, const struct cluster_topology *t, struct kv_err *err)
{
    struct cluster_role role;
    cluster_role_of(t, &role);
    if (role.kind == CLUSTER_ROLE_REPLICA)
        return repl_ctl_set_master(srv, role.master_host, role.master_port, err);
    if (role.kind == CLUSTER_ROLE_NONE && t->version < 0)
        return KV_OK; /* not initialised yet: leave replication alone (it is off anyway) */
    return repl_ctl_set_master(srv, NULL, 0, err);
}

static void
log_role_change(const struct cluster_topology *cur, const struct cluster_topology *next)
{
    struct cluster_role before, after;
    cluster_role_of(cur, &before);
    cluster_role_of(next, &after);
    switch (cluster_role_change(&before, &after)) {
    case CLUSTER_ROLE_BECOME_MASTER:
        LOG_INFO("cluster: version %lld makes this node a master", (long long)next->version);
        break;
    case CLUSTER_ROLE_BECOME_REPLICA:
        LOG_INFO("cluster: version %lld makes this node a replica of %s:%u",
                 (long long)next->version, after.master_host, after.master_port);
        break;
    case CLUSTER_ROLE_LEAVE:
        LOG_INFO("cluster: version %lld does not include this node", (long long)next->version);
        break;
    case CLUSTER_ROLE_UNCHANGED:
        break;
    }
}

/* True when t would make this node replicate its own address (another id naming my host and
 * port as its address): replication would connect to itself. */
static bool
replicates_itself(const struct cluster_ctl *cc, const struct server *srv,
                  const struct cluster_topology *t)
{
    struct cluster_role role;
    cluster_role_of(t, &role);
    if (role.kind != CLUSTER_ROLE_REPLICA || role.master_port != srv->cfg->port)
        return false;
    for (size_t i = 0; i < cc->host_count; i++) {
        if (strcmp(cc->hosts[i], role.master_host) == 0)
            return true;
    }
    return false;
}

/* The common tail of every update, under the writer lock: save, publish, tell the migration
 * code, request the role. Takes next's reference. */
static enum kv_code
install(struct server *srv, const struct cluster_topology *cur, struct cluster_topology *next,
        struct kv_err *err)
{
    struct cluster_ctl *cc = srv->cluster;
    if (replicates_itself(cc, srv, next)) {
        nodes_topology_free(next);
        return kv_err_set(err, KV_ERR_INVALID, "can't replicate itself");
    }
    if (persisting(srv)) {
        enum kv_code rc = nodes_file_save(cc->nodes_path.ptr, next, err);
        if (rc != KV_OK) {
            nodes_topology_free(next);
            LOG_ERROR("cluster: topology version %lld refused: %s", (long long)next->version,
                      err->msg);
            return rc;
        }
    }
    log_role_change(cur, next);
    cluster_state_publish(cc->state, next);
    migrate_ctl_on_topology(srv, next);
    blocking_reroute_all(srv);
    enum kv_code rc = request_role(srv, next, err);
    if (rc != KV_OK)
        LOG_ERROR("cluster: topology version %lld applied, but the role was not: %s",
                  (long long)next->version, err->msg);
    return rc;
}

enum kv_code
cluster_ctl_init(struct server *srv, struct kv_err *err)
{
    if (!srv->cfg->cluster_enabled)
        return KV_OK;
    struct cluster_ctl *cc = kv_calloc(1, sizeof *cc);
    kv_buf_init(&cc->nodes_path);
    kv_buf_printf(&cc->nodes_path, "%s/nodes.conf", srv->cfg->dir);
    collect_hosts(cc, srv->cfg->bind);
    struct cluster_topology *initial = NULL;
    if (persisting(srv)) {
        enum kv_code rc = nodes_file_load(cc->nodes_path.ptr, &initial, err);
        if (rc == KV_NOTFOUND) {
            initial = NULL;
        } else if (rc != KV_OK) {
            kv_buf_deinit(&cc->nodes_path);
            kv_free(cc);
            return rc;
        }
    }
    cc->state = cluster_state_new(initial);
    srv->cluster = cc;
    const struct cluster_topology *t = cluster_state_acquire(cc->state);
    if (t->version >= 0 || t->my_id[0] != '\0')
        LOG_INFO("cluster: loaded %s: version %lld, id %s", cc->nodes_path.ptr,
                 (long long)t->version, t->my_id[0] ? t->my_id : "(none)");
    enum kv_code rc = request_role(srv, t, err);
    cluster_topology_unref(t);
    return rc;
}

void
cluster_ctl_free(struct server *srv)
{
    struct cluster_ctl *cc = srv->cluster;
    if (cc == NULL)
        return;
    cluster_state_free(cc->state);
    kv_buf_deinit(&cc->nodes_path);
    kv_free(cc);
    srv->cluster = NULL;
}

const struct cluster_topology *
cluster_ctl_acquire(struct server *srv)
{
    return cluster_state_acquire(srv->cluster->state);
}

enum kv_code
cluster_ctl_setnodes(struct server *srv, const char *text, size_t len, int64_t version, bool force,
                     struct kv_err *err)
{
    struct cluster_ctl *cc = srv->cluster;
    struct cluster_self_addr self = {
        .port = (uint16_t)srv->cfg->port,
        .hosts = cc->host_ptrs,
        .host_count = cc->host_count,
    };
    cluster_state_writer_lock(cc->state);
    const struct cluster_topology *cur = cluster_state_acquire(cc->state);
    struct cluster_topology *next = NULL;
    enum kv_code rc = cluster_setnodes_prepare(cur, text, len, version, force, &self, &next, err);
    if (rc == KV_OK && next != NULL)
        rc = install(srv, cur, next, err);
    else if (rc == KV_OK)
        rc = request_role(srv, cur, err); /* equal version: only repair the link */
    cluster_topology_unref(cur);
    cluster_state_writer_unlock(cc->state);
    return rc;
}

enum kv_code
cluster_ctl_setnodeid(struct server *srv, const char *id, size_t len, struct kv_err *err)
{
    struct cluster_ctl *cc = srv->cluster;
    cluster_state_writer_lock(cc->state);
    const struct cluster_topology *cur = cluster_state_acquire(cc->state);
    struct cluster_topology *next = NULL;
    enum kv_code rc = cluster_setnodeid_prepare(cur, id, len, &next, err);
    if (rc == KV_OK)
        rc = install(srv, cur, next, err);
    cluster_topology_unref(cur);
    cluster_state_writer_unlock(cc->state);
    return rc;
}

enum kv_code
cluster_ctl_setslot(struct server *srv, const struct cluster_slot_range *ranges, size_t n,
                    const char *id, size_t id_len, int64_t version, struct kv_err *err)
{
    struct cluster_ctl *cc = srv->cluster;
    cluster_state_writer_lock(cc->state);
    const struct cluster_topology *cur = cluster_state_acquire(cc->state);
    struct cluster_topology *next = NULL;
    enum kv_code rc = cluster_setslot_prepare(cur, ranges, n, id, id_len, version, &next, err);
    if (rc == KV_OK)
        rc = install(srv, cur, next, err);
    cluster_topology_unref(cur);
    cluster_state_writer_unlock(cc->state);
    return rc;
}

enum kv_code
cluster_ctl_reset(struct server *srv, struct db *db, struct kv_err *err)
{
    struct cluster_ctl *cc = srv->cluster;
    if (migrate_ctl_migrating(srv))
        return kv_err_set(err, KV_ERR, "Can't reset cluster while migrating slot");
    if (migrate_ctl_importing(srv))
        return kv_err_set(err, KV_ERR, "Can't reset cluster while importing slot");
    struct kv_buf any = KV_BUF_INIT;
    enum kv_code rc = db_random_key(db, &any, err);
    kv_buf_deinit(&any);
    if (rc == KV_OK)
        return kv_err_set(err, KV_ERR, "Can't reset cluster while database is not empty");
    if (rc != KV_NOTFOUND)
        return rc;
    kv_err_clear(err);
    cluster_state_writer_lock(cc->state);
    rc = repl_ctl_set_master(srv, NULL, 0, err);
    if (rc == KV_OK && persisting(srv))
        rc = nodes_file_remove(cc->nodes_path.ptr, err);
    if (rc == KV_OK) {
        struct cluster_topology *empty = nodes_topology_new_empty();
        cluster_state_publish(cc->state, empty);
        migrate_ctl_on_topology(srv, empty);
        blocking_reroute_all(srv);
        LOG_INFO("cluster: reset");
    }
    cluster_state_writer_unlock(cc->state);
    return rc;
}

/* Which of the command's keys exist here, for ASK (cluster_route's check_keys). */
static enum cluster_keys_presence
keys_presence(struct conn *c, const struct kv_slice *argv, const int *idx, int n)
{
    int present = 0;
    for (int i = 0; i < n; i++) {
        int64_t count = 0;
        struct kv_err e;
        if (db_exists(&c->db, &argv[idx[i]], 1, &count, &e) == KV_OK && count > 0)
            present++;
    }
    if (present == n)
        return CLUSTER_KEYS_ALL_PRESENT;
    return present == 0 ? CLUSTER_KEYS_ALL_ABSENT : CLUSTER_KEYS_SOME_ABSENT;
}

enum kv_code
cluster_ctl_route(struct server *srv, struct conn *c, const struct command_spec *cmd, int argc,
                  const struct kv_slice *argv, struct kv_err *err)
{
    bool asking = conn_has_flag(c, CONN_F_ASKING);
    if (asking && strcmp(cmd->name, "asking") != 0)
        conn_clear_flag(c, CONN_F_ASKING); /* ASKING covers the next command only */
    if (cmd->first_key <= 0 && cmd->keys_fn == NULL)
        return KV_OK;
    int idx_stack[CLUSTER_CTL_KEYS_ON_STACK];
    uint16_t slots_stack[CLUSTER_CTL_KEYS_ON_STACK];
    int *idx = idx_stack;
    uint16_t *slots = slots_stack;
    if (argc > CLUSTER_CTL_KEYS_ON_STACK) {
        idx = kv_malloc((size_t)argc * sizeof *idx);
        slots = kv_malloc((size_t)argc * sizeof *slots);
    }
    enum kv_code rc = KV_OK;
    int n = command_get_keys(cmd, argc, argv, idx, argc);
    if (n > 0) {
        for (int i = 0; i < n; i++)
            slots[i] = slot_of_key(argv[idx[i]].ptr, argv[idx[i]].len);
        struct cluster_route_req req = {
            .slots = slots,
            .nslots = (size_t)n,
            .is_write = (cmd->flags & CMD_WRITE) != 0,
            .readonly_conn = conn_has_flag(c, CONN_F_READONLY),
            .asking = asking,
            .importing_conn = conn_has_flag(c, CONN_F_IMPORTING),
            .keys = CLUSTER_KEYS_UNCHECKED,
        };
        const struct cluster_topology *t = cluster_state_acquire(srv->cluster->state);
        struct cluster_migration_view mv;
        migrate_ctl_view_acquire(srv, &mv);
        struct cluster_route_res res;
        rc = cluster_route(t, &mv, &req, &res, err);
        if (rc == KV_OK && res.check_keys) {
            req.keys = keys_presence(c, argv, idx, n);
            rc = cluster_route(t, &mv, &req, &res, err);
        }
        migrate_ctl_view_release(srv, &mv);
        cluster_topology_unref(t);
    }
    if (idx != idx_stack) {
        kv_free(idx);
        kv_free(slots);
    }
    return rc;
}

enum kv_code
cluster_ctl_config_changed(struct server *srv, const char *name, struct kv_err *err)
{
    struct cluster_ctl *cc = srv->cluster;
    if (cc == NULL || strcmp(name, "persist-cluster-nodes-enabled") != 0)
        return KV_OK;
    if (!persisting(srv))
        return nodes_file_remove(cc->nodes_path.ptr, err);
    cluster_state_writer_lock(cc->state);
    const struct cluster_topology *t = cluster_state_acquire(cc->state);
    enum kv_code rc = nodes_file_save(cc->nodes_path.ptr, t, err);
    cluster_topology_unref(t);
    cluster_state_writer_unlock(cc->state);
    return rc;
}

enum kv_code
cluster_ctl_slot_keys(struct db *db, uint16_t slot, uint64_t max,
                      void (*fn)(void *arg, struct kv_slice key), void *arg, uint64_t *count,
                      struct kv_err *err)
{
    struct kv_buf lower = KV_BUF_INIT, upper = KV_BUF_INIT;
    keys_ns_scan_prefix(&lower, db->ns, true, slot);
    keys_prefix_end(&upper, kv_buf_slice(&lower));
    struct storage_iter *it = storage_iter_new(db->st, db->snap, KV_CF_METADATA,
                                               kv_buf_slice(&lower), kv_buf_slice(&upper));
    int64_t now = clock_now_ms();
    uint64_t n = 0;
    for (storage_iter_seek_first(it); storage_iter_valid(it) && (max == 0 || n < max);
         storage_iter_next(it)) {
        struct kv_slice ns, user_key;
        uint16_t key_slot;
        struct meta m;
        if (keys_decode_meta_key(storage_iter_key(it), true, &ns, &key_slot, &user_key) != KV_OK ||
            key_slot != slot || meta_decode(storage_iter_value(it), &m) != KV_OK ||
            !meta_is_live(&m, now))
            continue;
        n++;
        if (fn != NULL)
            fn(arg, user_key);
    }
    enum kv_code rc = storage_iter_status(it, err);
    storage_iter_free(it);
    kv_buf_deinit(&lower);
    kv_buf_deinit(&upper);
    *count = n;
    return rc;
}
