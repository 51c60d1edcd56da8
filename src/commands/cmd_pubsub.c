/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_pubsub: placeholder table until the pubsub group lands (issue 3).
 */
#include "commands/args.h"
#include "commands/command.h"

static enum kv_code
cmd_placeholder(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "not implemented yet");
}

const struct command_spec pubsub_commands[] = {
    {"publish", cmd_placeholder, 3, CMD_FAST, 0, 0, 0, NULL, "pubsub"},
};
const size_t pubsub_commands_len = sizeof pubsub_commands / sizeof pubsub_commands[0];
