/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_cluster: CLUSTER, CLUSTERX (Kvrocks's topology administration), READONLY, READWRITE and
 * ASKING. Replies follow Kvrocks (kvrocks-notes 4.2, 4.3), and Redis 7.0 for what Kvrocks lacks
 * (SHARDS, COUNTKEYSINSLOT, GETKEYSINSLOT). The topology lives in server/cluster_ctl.c; slot
 * migration (CLUSTERX MIGRATE, CLUSTER IMPORT) in server/migrate_ctl.c.
 */
#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"
#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/mem.h"
#include "common/slot.h"
#include "common/strconv.h"
#include "server/cluster_ctl.h"
#include "server/conn.h"
#include "server/migrate_ctl.h"
#include "server/repl_ctl.h"
#include "server/server.h"

#define ERR_CLUSTER_DISABLED "Cluster mode is not enabled"
#define ERR_CLUSTERX_USAGE                                                                         \
    "CLUSTERX command, CLUSTERX VERSION|MYID|SETNODEID|SETNODES|SETSLOT|MIGRATE"
#define ERR_CLUSTER_USAGE                                                                          \
    "CLUSTER command, CLUSTER INFO|NODES|SLOTS|SHARDS|KEYSLOT|COUNTKEYSINSLOT|GETKEYSINSLOT|"      \
    "REPLICAS|RESET|IMPORT"
#define ERR_SETNODES_OPTIONS "Invalid setnodes options"
#define ERR_SETSLOT_OPTIONS "Invalid setslot options"
#define ERR_SLOT_RANGE "Invalid slot range"
#define ERR_SLOT_ID_RANGE "Invalid slot id: out of numeric range"
#define ERR_INVALID_SLOT "Invalid slot"
#define ERR_SLOT_OR_KEYS "Invalid slot or number of keys"

/* A decimal slot number in 0..16383: KV_OK; KV_ERR_RANGE for a number beyond it; KV_ERR_INVALID
 * for anything else. */
static enum kv_code
parse_slot(const char *p, size_t len, uint16_t *out)
{
    int64_t v;
    if (len == 0 || p[0] == '-' || p[0] == '+' || strconv_to_int64(p, len, &v) != KV_OK)
        return KV_ERR_INVALID;
    if (v >= SLOT_COUNT)
        return KV_ERR_RANGE;
    *out = (uint16_t)v;
    return KV_OK;
}

/* SETSLOT's "<slot|start-end> ..." (space separated) into ranges (owned by the caller). */
static enum kv_code
parse_slot_list(struct cmd_ctx *ctx, struct kv_slice arg, struct cluster_slot_range **ranges,
                size_t *count)
{
    struct cluster_slot_range *r = kv_calloc(arg.len / 2 + 1, sizeof *r);
    size_t n = 0;
    size_t i = 0;
    enum kv_code rc = KV_OK;
    while (i < arg.len && rc == KV_OK) {
        while (i < arg.len && arg.ptr[i] == ' ')
            i++;
        size_t start = i;
        while (i < arg.len && arg.ptr[i] != ' ')
            i++;
        if (i == start)
            break;
        const char *tok = arg.ptr + start;
        size_t len = i - start;
        const char *dash = memchr(tok, '-', len);
        uint16_t a, b;
        enum kv_code ra, rb;
        if (dash == NULL) {
            ra = rb = parse_slot(tok, len, &a);
            b = a;
        } else {
            ra = parse_slot(tok, (size_t)(dash - tok), &a);
            rb = parse_slot(dash + 1, len - (size_t)(dash - tok) - 1, &b);
        }
        if (ra == KV_ERR_RANGE || rb == KV_ERR_RANGE)
            rc = args_error(ctx, KV_ERR, "%s", ERR_SLOT_ID_RANGE);
        else if (ra != KV_OK || rb != KV_OK || a > b)
            rc = args_error(ctx, KV_ERR, "%s", ERR_SLOT_RANGE);
        else
            r[n++] = (struct cluster_slot_range){.set = true, .start = a, .end = b};
    }
    if (rc == KV_OK && n == 0)
        rc = args_error(ctx, KV_ERR, "%s", ERR_SLOT_RANGE);
    if (rc != KV_OK) {
        kv_free(r);
        return rc;
    }
    *ranges = r;
    *count = n;
    return KV_OK;
}

/* CLUSTERX SETNODES "<nodes>" <version> [force] -> +OK */
static enum kv_code
clusterx_setnodes(struct cmd_ctx *ctx)
{
    if (ctx->argc != 4 && ctx->argc != 5)
        return args_error(ctx, KV_ERR, "%s", ERR_CLUSTERX_USAGE);
    bool force = false;
    if (ctx->argc == 5) {
        if (!args_is(ctx, 4, "force"))
            return args_error(ctx, KV_ERR, "%s", ERR_SETNODES_OPTIONS);
        force = true;
    }
    int64_t version;
    enum kv_code rc = args_int64(ctx, 3, &version);
    if (rc != KV_OK)
        return rc;
    rc = cluster_ctl_setnodes(ctx->srv, ctx->argv[2].ptr, ctx->argv[2].len, version, force,
                              ctx->err);
    if (rc != KV_OK)
        return rc;
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* CLUSTERX SETSLOT <slot|range list> NODE <id> <version> -> +OK */
static enum kv_code
clusterx_setslot(struct cmd_ctx *ctx)
{
    if (ctx->argc != 6)
        return args_error(ctx, KV_ERR, "%s", ERR_CLUSTERX_USAGE);
    if (!args_is(ctx, 3, "node"))
        return args_error(ctx, KV_ERR, "%s", ERR_SETSLOT_OPTIONS);
    int64_t version;
    enum kv_code rc = args_int64(ctx, 5, &version);
    if (rc != KV_OK)
        return rc;
    struct cluster_slot_range *ranges = NULL;
    size_t n = 0;
    if ((rc = parse_slot_list(ctx, ctx->argv[2], &ranges, &n)) != KV_OK)
        return rc;
    rc = cluster_ctl_setslot(ctx->srv, ranges, n, ctx->argv[4].ptr, ctx->argv[4].len, version,
                             ctx->err);
    kv_free(ranges);
    if (rc != KV_OK)
        return rc;
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* CLUSTERX VERSION|MYID|SETNODEID|SETNODES|SETSLOT|MIGRATE (admin). */
static enum kv_code
cmd_clusterx(struct cmd_ctx *ctx)
{
    struct server *srv = ctx->srv;
    if (!srv->cfg->cluster_enabled)
        return args_error(ctx, KV_ERR, "%s", ERR_CLUSTER_DISABLED);
    if (args_is(ctx, 1, "version") && ctx->argc == 2) {
        const struct cluster_topology *t = cluster_ctl_acquire(srv);
        resp_write_bulk_int(ctx->out, t->version);
        cluster_topology_unref(t);
        return KV_OK;
    }
    if (args_is(ctx, 1, "myid") && ctx->argc == 2) {
        const struct cluster_topology *t = cluster_ctl_acquire(srv);
        resp_write_bulk_cstr(ctx->out, t->my_id);
        cluster_topology_unref(t);
        return KV_OK;
    }
    if (args_is(ctx, 1, "setnodeid") && ctx->argc == 3) {
        enum kv_code rc = cluster_ctl_setnodeid(srv, ctx->argv[2].ptr, ctx->argv[2].len, ctx->err);
        if (rc == KV_OK)
            resp_write_ok(ctx->out);
        return rc;
    }
    if (args_is(ctx, 1, "setnodes"))
        return clusterx_setnodes(ctx);
    if (args_is(ctx, 1, "setslot"))
        return clusterx_setslot(ctx);
    if (args_is(ctx, 1, "migrate") && ctx->argc >= 4)
        return migrate_cmd_clusterx_migrate(ctx);
    return args_error(ctx, KV_ERR, "%s", ERR_CLUSTERX_USAGE);
}

/* CLUSTER INFO -> text: the topology lines, then the migration lines. */
static enum kv_code
cluster_info(struct cmd_ctx *ctx, const struct cluster_topology *t)
{
    struct kv_buf text = KV_BUF_INIT;
    enum kv_code rc = cluster_format_info(t, &text, ctx->err);
    if (rc == KV_OK) {
        migrate_ctl_info(ctx->srv, &text);
        resp_write_verbatim(ctx->out, "txt", text.ptr, text.len);
    }
    kv_buf_deinit(&text);
    return rc;
}

/* CLUSTER NODES -> text, one line per node (with my migration marks). */
static enum kv_code
cluster_nodes(struct cmd_ctx *ctx, const struct cluster_topology *t)
{
    struct kv_buf text = KV_BUF_INIT;
    struct cluster_migration_view mv;
    migrate_ctl_view_acquire(ctx->srv, &mv);
    enum kv_code rc = cluster_format_nodes(t, &mv, clock_now_ms(), &text, ctx->err);
    migrate_ctl_view_release(ctx->srv, &mv);
    if (rc == KV_OK)
        resp_write_verbatim(ctx->out, "txt", text.ptr, text.len);
    kv_buf_deinit(&text);
    return rc;
}

static void
write_node_triple(struct resp_out *out, const struct nodes_node *n)
{
    resp_write_array(out, 3);
    resp_write_bulk_cstr(out, n->host);
    resp_write_int(out, n->port);
    resp_write_bulk_cstr(out, n->id);
}

/* CLUSTER SLOTS -> [[start, end, [host, port, id], [replica ...]...] ...] */
static enum kv_code
cluster_slots(struct cmd_ctx *ctx, const struct cluster_topology *t)
{
    struct cluster_slot_run *runs = NULL;
    size_t count = 0;
    enum kv_code rc = cluster_slot_runs(t, &runs, &count, ctx->err);
    if (rc != KV_OK)
        return rc;
    resp_write_array(ctx->out, count);
    for (size_t i = 0; i < count; i++) {
        const struct nodes_node *m = &t->nodes[runs[i].master];
        resp_write_array(ctx->out, 3 + m->replica_count);
        resp_write_int(ctx->out, runs[i].start);
        resp_write_int(ctx->out, runs[i].end);
        write_node_triple(ctx->out, m);
        for (uint32_t r = 0; r < m->replica_count; r++)
            write_node_triple(ctx->out, &t->nodes[t->replicas[m->replica_first + r]]);
    }
    kv_free(runs);
    return KV_OK;
}

static void
write_shard_node(struct resp_out *out, const struct nodes_node *n)
{
    resp_write_map(out, 7);
    resp_write_bulk_cstr(out, "id");
    resp_write_bulk_cstr(out, n->id);
    resp_write_bulk_cstr(out, "port");
    resp_write_int(out, n->port);
    resp_write_bulk_cstr(out, "ip");
    resp_write_bulk_cstr(out, n->host);
    resp_write_bulk_cstr(out, "endpoint");
    resp_write_bulk_cstr(out, n->host);
    resp_write_bulk_cstr(out, "role");
    resp_write_bulk_cstr(out, n->role == NODES_ROLE_MASTER ? "master" : "replica");
    resp_write_bulk_cstr(out, "replication-offset");
    resp_write_int(out, 0); /* not known without gossip */
    resp_write_bulk_cstr(out, "health");
    resp_write_bulk_cstr(out, "online");
}

/* CLUSTER SHARDS (Redis 7.0) -> one map per master: slots [start, end, ...] and its nodes. */
static enum kv_code
cluster_shards(struct cmd_ctx *ctx, const struct cluster_topology *t)
{
    if (t->version < 0)
        return args_error(ctx, KV_ERR_CLUSTERDOWN, "%s", NODES_ERR_NOT_INIT);
    size_t masters = 0;
    for (size_t i = 0; i < t->node_count; i++)
        masters += t->nodes[i].role == NODES_ROLE_MASTER;
    resp_write_array(ctx->out, masters);
    for (size_t i = 0; i < t->node_count; i++) {
        const struct nodes_node *m = &t->nodes[i];
        if (m->role != NODES_ROLE_MASTER)
            continue;
        struct cluster_slot_range *ranges = NULL;
        size_t n = 0;
        nodes_slot_ranges(t, (int32_t)i, &ranges, &n);
        resp_write_map(ctx->out, 2);
        resp_write_bulk_cstr(ctx->out, "slots");
        resp_write_array(ctx->out, n * 2);
        for (size_t r = 0; r < n; r++) {
            resp_write_int(ctx->out, ranges[r].start);
            resp_write_int(ctx->out, ranges[r].end);
        }
        kv_free(ranges);
        resp_write_bulk_cstr(ctx->out, "nodes");
        resp_write_array(ctx->out, 1 + m->replica_count);
        write_shard_node(ctx->out, m);
        for (uint32_t r = 0; r < m->replica_count; r++)
            write_shard_node(ctx->out, &t->nodes[t->replicas[m->replica_first + r]]);
    }
    return KV_OK;
}

/* A slot argument for COUNTKEYSINSLOT / GETKEYSINSLOT (Redis 7.0's checks and texts). */
static enum kv_code
slot_arg(struct cmd_ctx *ctx, int i, const char *msg, uint16_t *slot)
{
    int64_t v;
    enum kv_code rc = args_int64(ctx, i, &v);
    if (rc != KV_OK)
        return rc;
    if (v < 0 || v >= SLOT_COUNT)
        return args_error(ctx, KV_ERR, "%s", msg);
    *slot = (uint16_t)v;
    return KV_OK;
}

static void
collect_key(void *arg, struct kv_slice key)
{
    struct kv_buf *b = arg;
    uint32_t len = (uint32_t)key.len;
    kv_buf_append(b, &len, sizeof len);
    kv_buf_append(b, key.ptr, key.len);
}

/* CLUSTER GETKEYSINSLOT slot count -> array of keys. */
static enum kv_code
cluster_getkeysinslot(struct cmd_ctx *ctx)
{
    int64_t max;
    uint16_t slot = 0;
    enum kv_code rc = args_int64(ctx, 2, &(int64_t){0});
    if (rc == KV_OK)
        rc = args_int64(ctx, 3, &max);
    if (rc != KV_OK)
        return rc;
    if (slot_arg(ctx, 2, ERR_SLOT_OR_KEYS, &slot) != KV_OK || max < 0)
        return args_error(ctx, KV_ERR, "%s", ERR_SLOT_OR_KEYS);
    if (max == 0) {
        resp_write_array(ctx->out, 0);
        return KV_OK;
    }
    struct kv_buf keys = KV_BUF_INIT;
    uint64_t n = 0;
    rc = cluster_ctl_slot_keys(ctx->db, slot, (uint64_t)max, collect_key, &keys, &n, ctx->err);
    if (rc == KV_OK) {
        resp_write_array(ctx->out, n);
        for (size_t off = 0; off < keys.len;) {
            uint32_t len;
            memcpy(&len, keys.ptr + off, sizeof len);
            off += sizeof len;
            resp_write_bulk(ctx->out, keys.ptr + off, len);
            off += len;
        }
    }
    kv_buf_deinit(&keys);
    return rc;
}

/* CLUSTER COUNTKEYSINSLOT slot -> integer. */
static enum kv_code
cluster_countkeysinslot(struct cmd_ctx *ctx)
{
    uint16_t slot = 0;
    enum kv_code rc = slot_arg(ctx, 2, ERR_INVALID_SLOT, &slot);
    if (rc != KV_OK)
        return rc;
    uint64_t n = 0;
    rc = cluster_ctl_slot_keys(ctx->db, slot, 0, NULL, NULL, &n, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)n);
    return rc;
}

/* CLUSTER REPLICAS <master id> -> text (Kvrocks: NODES lines of its replicas). */
static enum kv_code
cluster_replicas(struct cmd_ctx *ctx, const struct cluster_topology *t)
{
    struct kv_buf text = KV_BUF_INIT;
    enum kv_code rc = cluster_format_replicas(t, ctx->argv[2].ptr, ctx->argv[2].len, clock_now_ms(),
                                              &text, ctx->err);
    if (rc == KV_OK)
        resp_write_bulk(ctx->out, text.ptr, text.len);
    kv_buf_deinit(&text);
    return rc;
}

/* Subcommands that read the keyspace answer LOADING while a full sync swaps the DB in (the
 * stand-in DB is empty): the topology ones answer from memory. */
static bool
reads_keyspace(const struct cmd_ctx *ctx)
{
    return args_is(ctx, 1, "countkeysinslot") || args_is(ctx, 1, "getkeysinslot") ||
           args_is(ctx, 1, "reset") || args_is(ctx, 1, "import");
}

/* CLUSTER INFO|NODES|SLOTS|SHARDS|KEYSLOT|COUNTKEYSINSLOT|GETKEYSINSLOT|REPLICAS|RESET|IMPORT
 * (admin). */
static enum kv_code
cmd_cluster(struct cmd_ctx *ctx)
{
    struct server *srv = ctx->srv;
    if (!srv->cfg->cluster_enabled)
        return args_error(ctx, KV_ERR, "%s", ERR_CLUSTER_DISABLED);
    if (reads_keyspace(ctx) && atomic_load(&srv->loading))
        return args_error(ctx, KV_ERR_LOADING, "%s", ERR_LOADING);
    int argc = ctx->argc;
    if (args_is(ctx, 1, "keyslot") && argc == 3) {
        resp_write_int(ctx->out, slot_of_key(ctx->argv[2].ptr, ctx->argv[2].len));
        return KV_OK;
    }
    if (args_is(ctx, 1, "countkeysinslot") && argc == 3)
        return cluster_countkeysinslot(ctx);
    if (args_is(ctx, 1, "getkeysinslot") && argc == 4)
        return cluster_getkeysinslot(ctx);
    if (args_is(ctx, 1, "import") && argc == 4)
        return migrate_cmd_cluster_import(ctx);
    if (args_is(ctx, 1, "reset") &&
        (argc == 2 || (argc == 3 && (args_is(ctx, 2, "hard") || args_is(ctx, 2, "soft"))))) {
        enum kv_code rc = cluster_ctl_reset(srv, ctx->db, ctx->err);
        if (rc == KV_OK)
            resp_write_ok(ctx->out);
        return rc;
    }
    enum kv_code rc = KV_OK;
    const struct cluster_topology *t = cluster_ctl_acquire(srv);
    if (args_is(ctx, 1, "info") && argc == 2)
        rc = cluster_info(ctx, t);
    else if (args_is(ctx, 1, "nodes") && argc == 2)
        rc = cluster_nodes(ctx, t);
    else if (args_is(ctx, 1, "slots") && argc == 2)
        rc = cluster_slots(ctx, t);
    else if (args_is(ctx, 1, "shards") && argc == 2)
        rc = cluster_shards(ctx, t);
    else if ((args_is(ctx, 1, "replicas") || args_is(ctx, 1, "slaves")) && argc == 3)
        rc = cluster_replicas(ctx, t);
    else
        rc = args_error(ctx, KV_ERR, "%s", ERR_CLUSTER_USAGE);
    cluster_topology_unref(t);
    return rc;
}

/* READONLY -> +OK: this connection may read slots of my master while I am its replica. */
static enum kv_code
cmd_readonly(struct cmd_ctx *ctx)
{
    conn_set_flag(ctx->conn, CONN_F_READONLY);
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* READWRITE -> +OK */
static enum kv_code
cmd_readwrite(struct cmd_ctx *ctx)
{
    conn_clear_flag(ctx->conn, CONN_F_READONLY);
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* ASKING -> +OK: the next command may use a slot being imported here. */
static enum kv_code
cmd_asking(struct cmd_ctx *ctx)
{
    if (!ctx->srv->cfg->cluster_enabled)
        return args_error(ctx, KV_ERR, "%s", ERR_CLUSTER_DISABLED);
    conn_set_flag(ctx->conn, CONN_F_ASKING);
    resp_write_ok(ctx->out);
    return KV_OK;
}

#define CLUSTER_ADMIN_FLAGS (CMD_ADMIN | CMD_LOADING_OK | CMD_STALE_OK | CMD_NO_SCRIPT)
#define CLUSTER_CONN_FLAGS (CMD_FAST | CMD_LOADING_OK | CMD_STALE_OK)

const struct command_spec cluster_commands[] = {
    {"asking", cmd_asking, 1, CLUSTER_CONN_FLAGS, 0, 0, 0, NULL, "cluster"},
    {"cluster", cmd_cluster, -2, CLUSTER_ADMIN_FLAGS, 0, 0, 0, NULL, "cluster"},
    {"clusterx", cmd_clusterx, -2, CLUSTER_ADMIN_FLAGS, 0, 0, 0, NULL, "cluster"},
    {"readonly", cmd_readonly, 1, CLUSTER_CONN_FLAGS, 0, 0, 0, NULL, "cluster"},
    {"readwrite", cmd_readwrite, 1, CLUSTER_CONN_FLAGS, 0, 0, 0, NULL, "cluster"},
};
const size_t cluster_commands_len = sizeof cluster_commands / sizeof cluster_commands[0];
