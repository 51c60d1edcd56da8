/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_txn: placeholder table until the txn group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec txn_commands[] = {
    {"multi", cmd_placeholder, 1, CMD_FAST, 0, 0, 0, NULL, "txn"},
};
const size_t txn_commands_len = sizeof txn_commands / sizeof txn_commands[0];
