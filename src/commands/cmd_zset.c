/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_zset: placeholder table until the zset group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec zset_commands[] = {
    {"zcard", cmd_placeholder, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "zset"},
};
const size_t zset_commands_len = sizeof zset_commands / sizeof zset_commands[0];
