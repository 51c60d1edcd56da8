/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_hll: placeholder table until the hll group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec hll_commands[] = {
    {"pfcount", cmd_placeholder, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "hll"},
};
const size_t hll_commands_len = sizeof hll_commands / sizeof hll_commands[0];
