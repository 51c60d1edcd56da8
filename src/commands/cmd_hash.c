/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_hash: placeholder table until the hash group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec hash_commands[] = {
    {"hlen", cmd_placeholder, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "hash"},
};
const size_t hash_commands_len = sizeof hash_commands / sizeof hash_commands[0];
