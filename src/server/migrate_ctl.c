/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate_ctl: slot migration, source and destination sides (see migrate_ctl.h).
 * (Stub: the interface compiles; the implementation follows.)
 */
#include "server/migrate_ctl.h"

#include <string.h>

#include "commands/command.h"
#include "server/server.h"

enum kv_code
migrate_ctl_init(struct server *srv, struct kv_err *err)
{
    (void)srv;
    (void)err;
    return KV_OK;
}

void
migrate_ctl_stop(struct server *srv, int64_t deadline_ms)
{
    (void)srv;
    (void)deadline_ms;
}

void
migrate_ctl_free(struct server *srv)
{
    (void)srv;
}

void
migrate_ctl_view_acquire(struct server *srv, struct cluster_migration_view *mv)
{
    (void)srv;
    memset(mv, 0, sizeof *mv);
}

void
migrate_ctl_view_release(struct server *srv, struct cluster_migration_view *mv)
{
    (void)srv;
    (void)mv;
}

void
migrate_ctl_on_topology(struct server *srv, const struct cluster_topology *t)
{
    (void)srv;
    (void)t;
}

void
migrate_ctl_on_flush(struct server *srv)
{
    (void)srv;
}

bool
migrate_ctl_migrating(struct server *srv)
{
    (void)srv;
    return false;
}

bool
migrate_ctl_importing(struct server *srv)
{
    (void)srv;
    return false;
}

void
migrate_ctl_info(struct server *srv, struct kv_buf *out)
{
    (void)srv;
    (void)out;
}

void
migrate_ctl_on_conn_close(struct conn *c)
{
    (void)c;
}

enum kv_code
migrate_cmd_clusterx_migrate(struct cmd_ctx *ctx)
{
    return kv_err_set(ctx->err, KV_ERR, "slot migration is not implemented yet");
}

enum kv_code
migrate_cmd_cluster_import(struct cmd_ctx *ctx)
{
    return kv_err_set(ctx->err, KV_ERR, "slot import is not implemented yet");
}
