/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_bitmap: placeholder table until the bitmap group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec bitmap_commands[] = {
    {"getbit", cmd_placeholder, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "bitmap"},
};
const size_t bitmap_commands_len = sizeof bitmap_commands / sizeof bitmap_commands[0];
