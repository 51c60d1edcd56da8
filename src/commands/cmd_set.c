/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_set: placeholder table until the set group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec set_commands[] = {
    {"scard", cmd_placeholder, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "set"},
};
const size_t set_commands_len = sizeof set_commands / sizeof set_commands[0];
