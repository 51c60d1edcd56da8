/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_hll: the HyperLogLog commands PFADD, PFCOUNT and PFMERGE, with Redis 7.0 replies and
 * estimates (types/hll.h). A string key is refused with Redis's wording for a string that is not
 * an HLL: we never read Redis's own HLL string encoding.
 */
#include "commands/args.h"
#include "commands/command.h"
#include "types/hll.h"

#define ERR_NOT_HLL "Key is not a valid HyperLogLog string value."

/* Map the type layer's "this is a string" to Redis's WRONGTYPE wording. */
static enum kv_code
hll_error(struct cmd_ctx *ctx, enum kv_code rc)
{
    if (rc == KV_ERR_INVALID)
        return args_error(ctx, KV_ERR_WRONGTYPE, "%s", ERR_NOT_HLL);
    return rc;
}

/* PFADD key [element ...] -> integer: 1 when the key was created or a register changed, else 0. */
static enum kv_code
cmd_pfadd(struct cmd_ctx *ctx)
{
    bool changed = false;
    enum kv_code rc =
        hll_add(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)ctx->argc - 2, &changed, ctx->err);
    if (rc != KV_OK)
        return hll_error(ctx, rc);
    resp_write_int(ctx->out, changed ? 1 : 0);
    return KV_OK;
}

/* PFCOUNT key [key ...] -> integer: the estimated cardinality of the union (0 for absent keys). */
static enum kv_code
cmd_pfcount(struct cmd_ctx *ctx)
{
    uint64_t count = 0;
    enum kv_code rc = hll_count(ctx->db, &ctx->argv[1], (size_t)ctx->argc - 1, &count, ctx->err);
    if (rc != KV_OK)
        return hll_error(ctx, rc);
    resp_write_int(ctx->out, (int64_t)count);
    return KV_OK;
}

/* PFMERGE destkey [sourcekey ...] -> +OK: destkey becomes the union of itself and the sources. */
static enum kv_code
cmd_pfmerge(struct cmd_ctx *ctx)
{
    enum kv_code rc =
        hll_merge(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)ctx->argc - 2, ctx->err);
    if (rc != KV_OK)
        return hll_error(ctx, rc);
    resp_write_ok(ctx->out);
    return KV_OK;
}

const struct command_spec hll_commands[] = {
    {"pfadd", cmd_pfadd, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "hyperloglog"},
    {"pfcount", cmd_pfcount, -2, CMD_READONLY, 1, -1, 1, NULL, "hyperloglog"},
    {"pfmerge", cmd_pfmerge, -2, CMD_WRITE, 1, -1, 1, NULL, "hyperloglog"},
};
const size_t hll_commands_len = sizeof hll_commands / sizeof hll_commands[0];
