/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_key: keyspace commands. (Bootstrap: DEL and EXISTS; the full group is being written.)
 */
#include "commands/args.h"
#include "commands/command.h"

/* DEL key [key ...] -> number of keys removed. */
static enum kv_code
cmd_del(struct cmd_ctx *ctx)
{
    int64_t n = 0;
    enum kv_code rc = db_delete(ctx->db, &ctx->argv[1], (size_t)ctx->argc - 1, &n, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, n);
    return rc;
}

/* EXISTS key [key ...] -> number of keys that exist. */
static enum kv_code
cmd_exists(struct cmd_ctx *ctx)
{
    int64_t n = 0;
    enum kv_code rc = db_exists(ctx->db, &ctx->argv[1], (size_t)ctx->argc - 1, &n, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, n);
    return rc;
}

const struct command_spec key_commands[] = {
    {"del", cmd_del, -2, CMD_WRITE, 1, -1, 1, NULL, "keyspace"},
    {"exists", cmd_exists, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, NULL, "keyspace"},
};
const size_t key_commands_len = sizeof key_commands / sizeof key_commands[0];
