/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until blocking commands land (issue 3). */
#include "server/blocking.h"

#include "commands/command.h"
#include "server/conn.h"

bool
blocking_can_block(const struct cmd_ctx *ctx)
{
    return false;
}

enum kv_code
blocking_block(struct cmd_ctx *ctx, const struct kv_slice *keys, size_t n, int64_t deadline_ms,
               enum blocking_timeout_reply kind)
{
    return KV_ERR;
}

void
blocking_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key)
{
}

int
blocking_count(struct server *srv)
{
    return 0;
}

void
blocking_conn_free(struct conn *c)
{
}
