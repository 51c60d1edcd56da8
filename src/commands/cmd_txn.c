/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_txn: transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis 7.0 semantics). The queue
 * lives in server/multi.c (the dispatcher fills it), the watched keys in server/watch.c. EXEC is
 * CMD_EXCLUSIVE, so the dispatcher holds the server lock exclusively while the queued commands
 * run: no other client's command interleaves with a transaction.
 *
 * MULTI, EXEC, DISCARD and WATCH are CMD_MULTI_CTRL (they run at once inside MULTI); UNWATCH is
 * queued like any command, as Redis does.
 */
#include "commands/args.h"
#include "commands/command.h"
#include "server/conn.h"
#include "server/multi.h"
#include "server/watch.h"
#include "types/keylock.h"

/* MULTI -> +OK; the following commands are queued until EXEC or DISCARD. */
static enum kv_code
cmd_multi(struct cmd_ctx *ctx)
{
    if (conn_has_flag(ctx->conn, CONN_F_MULTI))
        return args_error(ctx, KV_ERR, "MULTI calls can not be nested");
    conn_set_flag(ctx->conn, CONN_F_MULTI);
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* EXEC -> an array of the queued commands' replies, a null array when a watched key changed, or
 * -EXECABORT when a command was refused while queueing. */
static enum kv_code
cmd_exec(struct cmd_ctx *ctx)
{
    return multi_exec(ctx);
}

/* DISCARD -> +OK after dropping the queue and the watched keys. */
static enum kv_code
cmd_discard(struct cmd_ctx *ctx)
{
    if (!conn_has_flag(ctx->conn, CONN_F_MULTI))
        return args_error(ctx, KV_ERR, "DISCARD without MULTI");
    multi_discard(ctx->conn);
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* WATCH key [key ...] -> +OK. */
static enum kv_code
cmd_watch(struct cmd_ctx *ctx)
{
    if (conn_has_flag(ctx->conn, CONN_F_MULTI))
        return args_error(ctx, KV_ERR, "WATCH inside MULTI is not allowed");
    /* Under the keys' locks: another worker's write to them that is staged but not committed
     * (group commit, server/worker.h) holds those locks until it is in the DB. A write that
     * reported its keys before this registration is thus committed before WATCH replies, so
     * the client's reads after WATCH see it; any later write finds the registration. */
    struct keylock_guard g;
    keylock_lock(ctx->db->locks, ctx->db->ns, &ctx->argv[1], (size_t)ctx->argc - 1, &g);
    enum kv_code rc = KV_OK;
    for (int i = 1; i < ctx->argc && rc == KV_OK; i++)
        rc = watch_add(ctx->conn, ctx->argv[i], ctx->err);
    keylock_unlock(&g);
    if (rc != KV_OK)
        return rc;
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* UNWATCH -> +OK after forgetting every watched key. */
static enum kv_code
cmd_unwatch(struct cmd_ctx *ctx)
{
    watch_clear(ctx->conn);
    resp_write_ok(ctx->out);
    return KV_OK;
}

const struct command_spec txn_commands[] = {
    {"discard", cmd_discard, 1,
     CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK | CMD_FAST | CMD_MULTI_CTRL, 0, 0, 0, NULL,
     "transactions"},
    {"exec", cmd_exec, 1, CMD_NO_SCRIPT | CMD_STALE_OK | CMD_MULTI_CTRL | CMD_EXCLUSIVE, 0, 0, 0,
     NULL, "transactions"},
    {"multi", cmd_multi, 1,
     CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK | CMD_FAST | CMD_MULTI_CTRL, 0, 0, 0, NULL,
     "transactions"},
    {"unwatch", cmd_unwatch, 1, CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK | CMD_FAST, 0, 0, 0,
     NULL, "transactions"},
    {"watch", cmd_watch, -2,
     CMD_READONLY | CMD_NO_SCRIPT | CMD_STALE_OK | CMD_FAST | CMD_MULTI_CTRL, 1, -1, 1, NULL,
     "transactions"},
};
const size_t txn_commands_len = sizeof txn_commands / sizeof txn_commands[0];
