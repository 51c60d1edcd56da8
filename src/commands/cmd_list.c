/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_list: placeholder table until the list group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec list_commands[] = {
    {"llen", cmd_placeholder, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "list"},
};
const size_t list_commands_len = sizeof list_commands / sizeof list_commands[0];
