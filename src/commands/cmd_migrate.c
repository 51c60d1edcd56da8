/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_migrate: the bodies of CLUSTERX MIGRATE and CLUSTER IMPORT (called by commands/cmd_cluster.c,
 * which checked cluster mode), and APPLYBATCH, which a migration source in raw-key-value mode
 * (and, for bitmaps and hyperloglogs, in redis-command mode) sends to the destination.
 * Kvrocks's texts and checks, in Kvrocks's order (kvrocks-notes 4.2, 4.3, 4.6).
 */
#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/migrate.h"
#include "commands/args.h"
#include "commands/command.h"
#include "common/clock.h"
#include "common/strconv.h"
#include "server/cluster_ctl.h"
#include "server/conn.h"
#include "server/migrate_ctl.h"
#include "server/server.h"

/* The checks of kvrocks-notes 4.6 against snapshot t; KV_OK with *dst the destination. */
static enum kv_code
migrate_precheck(struct cmd_ctx *ctx, const struct cluster_topology *t, struct cluster_slot_range r,
                 struct kv_slice dst_id, const struct nodes_node **dst)
{
    int32_t di = nodes_find(t, dst_id.ptr, dst_id.len);
    if (di == NODES_NONE)
        return args_error(ctx, KV_ERR, MIGRATE_ERR_NO_DST);
    for (uint32_t slot = r.start; slot <= r.end; slot++)
        if (!cluster_owns_slot(t, (uint16_t)slot))
            return args_error(ctx, KV_ERR, MIGRATE_ERR_NOT_MINE);
    if (t->myself == NODES_NONE || t->nodes[t->myself].role != NODES_ROLE_MASTER)
        return args_error(ctx, KV_ERR, MIGRATE_ERR_SLAVE);
    if (t->nodes[di].role != NODES_ROLE_MASTER)
        return args_error(ctx, KV_ERR, MIGRATE_ERR_DST_SLAVE);
    if (di == t->myself)
        return args_error(ctx, KV_ERR, MIGRATE_ERR_MYSELF);
    *dst = &t->nodes[di];
    return KV_OK;
}

enum kv_code
migrate_cmd_clusterx_migrate(struct cmd_ctx *ctx)
{
    struct server *srv = ctx->srv;
    struct cluster_slot_range r;
    enum kv_code rc = migrate_parse_range(ctx->argv[2], &r, ctx->err);
    if (rc != KV_OK)
        return rc;
    bool sync = false;
    int64_t timeout_s = 0;
    if (ctx->argc >= 5) {
        if (args_is(ctx, 4, "sync")) {
            sync = true;
        } else if (args_is(ctx, 4, "async")) {
            if (ctx->argc > 5)
                return args_error(ctx, KV_ERR, MIGRATE_ERR_ASYNC_TIMEOUT);
        } else {
            return args_syntax_error(ctx);
        }
    }
    if (sync && ctx->argc >= 6) {
        if (ctx->argc > 6)
            return args_syntax_error(ctx);
        if (strconv_to_int64(ctx->argv[5].ptr, ctx->argv[5].len, &timeout_s) != KV_OK ||
            timeout_s < 0)
            return args_error(ctx, KV_ERR, MIGRATE_ERR_SYNC_TIMEOUT);
    }

    const struct cluster_topology *t = cluster_ctl_acquire(srv);
    const struct nodes_node *dst = NULL;
    rc = migrate_precheck(ctx, t, r, ctx->argv[3], &dst);
    if (rc != KV_OK || dst == NULL) { /* KV_OK always comes with dst */
        cluster_topology_unref(t);
        return rc != KV_OK ? rc : args_error(ctx, KV_ERR, MIGRATE_ERR_NO_DST);
    }
    const struct config *cfg = srv->cfg;
    char dst_id[NODES_ID_LEN + 1];
    snprintf(dst_id, sizeof dst_id, "%s", dst->id);
    struct migrate_ctl_request req = {
        .range = r,
        .dst_id = dst_id,
        .dst_host = dst->host,
        .dst_port = dst->port,
        .password = cfg->requirepass != NULL ? cfg->requirepass : "",
        .opts =
            {
                .speed = cfg->migrate_speed,
                .pipeline = cfg->migrate_pipeline_size,
                .sequence_gap = cfg->migrate_sequence_gap,
                .raw = cfg->migrate_type == CONFIG_MIGRATE_RAW_KEY_VALUE,
            },
        .connect_ms = cfg->replication_connect_timeout_ms,
        .io_ms = cfg->replication_recv_timeout_ms,
    };
    /* A sync client is parked before the thread starts, so the answer (posted to this worker)
     * always finds it parked. Inside EXEC it cannot wait: it gets +OK as async does. */
    bool park = sync && !ctx->in_exec && ctx->conn != NULL;
    int64_t deadline = timeout_s > 0 ? clock_mono_ms() + timeout_s * 1000 : 0;
    if (park)
        conn_set_flag(ctx->conn, CONN_F_BLOCKED);
    rc = migrate_ctl_start(srv, &req, park ? ctx->conn : NULL, deadline, ctx->err);
    cluster_topology_unref(t);
    if (rc != KV_OK) {
        if (park)
            conn_clear_flag(ctx->conn, CONN_F_BLOCKED);
        return rc;
    }
    if (!park)
        resp_write_ok(ctx->out);
    return KV_OK;
}

enum kv_code
migrate_cmd_cluster_import(struct cmd_ctx *ctx)
{
    struct server *srv = ctx->srv;
    struct cluster_slot_range r;
    enum kv_code rc = migrate_parse_range(ctx->argv[2], &r, ctx->err);
    if (rc != KV_OK)
        return rc;
    int64_t state = -1;
    if (strconv_to_int64(ctx->argv[3].ptr, ctx->argv[3].len, &state) != KV_OK || state < 0 ||
        state > 2)
        return args_error(ctx, KV_ERR, MIGRATE_ERR_IMPORT_STATE);
    const struct cluster_topology *t = cluster_ctl_acquire(srv);
    if (t->myself == NODES_NONE || t->nodes[t->myself].role != NODES_ROLE_MASTER) {
        cluster_topology_unref(t);
        return args_error(ctx, KV_ERR, MIGRATE_ERR_IMPORT_SLAVE);
    }
    for (uint32_t slot = r.start; slot <= r.end; slot++) {
        if (t->slot_owner[slot] == t->myself) {
            cluster_topology_unref(t);
            return args_error(ctx, KV_ERR, MIGRATE_ERR_IMPORT_MINE);
        }
    }
    cluster_topology_unref(t);
    rc = migrate_ctl_import(srv, ctx->conn, r, (int)state, ctx->err);
    if (rc == KV_OK)
        resp_write_ok(ctx->out);
    return rc;
}

/* APPLYBATCH <raw write batch> -> integer: the batch's size in bytes (Kvrocks). The batch is
 * validated first; a malformed one changes nothing. */
static enum kv_code
cmd_applybatch(struct cmd_ctx *ctx)
{
    uint32_t count = 0;
    enum kv_code rc = storage_write_raw(ctx->db->st, ctx->argv[1], &count, ctx->err);
    if (rc == KV_ERR_CORRUPT)
        return args_error(ctx, KV_ERR, "Invalid write batch: %s", ctx->err->msg);
    if (rc != KV_OK)
        return rc;
    resp_write_int(ctx->out, (int64_t)ctx->argv[1].len);
    return KV_OK;
}

const struct command_spec migrate_commands[] = {
    {"applybatch", cmd_applybatch, 2, CMD_WRITE | CMD_ADMIN | CMD_NO_SCRIPT, 0, 0, 0, NULL,
     "cluster"},
};
const size_t migrate_commands_len = sizeof migrate_commands / sizeof migrate_commands[0];
