/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_server: server commands. (Bootstrap: SHUTDOWN; the full group is being written.)
 */
#include "commands/args.h"
#include "commands/command.h"
#include "server/conn.h"
#include "server/server.h"

/* SHUTDOWN [NOSAVE|SAVE] -> no reply on success: the server stops. */
static enum kv_code
cmd_shutdown(struct cmd_ctx *ctx)
{
    server_request_shutdown(ctx->srv);
    conn_set_flag(ctx->conn, CONN_F_CLOSE_ASAP);
    return KV_OK;
}

const struct command_spec server_commands[] = {
    {"shutdown", cmd_shutdown, -1, CMD_ADMIN | CMD_NO_MULTI | CMD_LOADING_OK | CMD_STALE_OK, 0, 0,
     0, NULL, "server"},
};
const size_t server_commands_len = sizeof server_commands / sizeof server_commands[0];
