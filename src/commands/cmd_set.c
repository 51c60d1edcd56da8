/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_set: the set commands (Redis 7.0 semantics, replies and error texts): SADD, SREM, SCARD,
 * SMEMBERS, SISMEMBER, SMISMEMBER, SPOP, SRANDMEMBER, SMOVE, SDIFF, SINTER, SUNION, SDIFFSTORE,
 * SINTERSTORE, SUNIONSTORE, SINTERCARD, SSCAN. The storage work is in types/set.h; here are
 * argument parsing in Redis's checking order and the replies (RESP3 sets where Redis 7.0 sends
 * them: SMEMBERS, SINTER/SUNION/SDIFF, SPOP with a count; SRANDMEMBER with a count is an array).
 *
 * SSCAN cursors are integers from the server-wide table of commands/scan_cursor.h, bound to the
 * key; COUNT bounds the members examined per call.
 *
 * Threads: the connection's worker.
 */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/reads.h"
#include "commands/scan_cursor.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "server/server.h"
#include "types/set.h"

/* --- shared helpers --- */

/* A set_member_fn appending to the subkey_list `arg`. */
static bool
collect_member(void *arg, struct kv_slice member)
{
    subkey_list_add(arg, member, kv_slice_make("", 0));
    return true;
}

/* Reply the members of l as a RESP3 set (RESP2 array). */
static void
reply_members_set(struct cmd_ctx *ctx, const struct subkey_list *l)
{
    resp_write_set(ctx->out, l->n);
    for (size_t i = 0; i < l->n; i++)
        resp_write_bulk_slice(ctx->out, subkey_list_sub(l, i));
}

/* --- procs --- */

/* SADD key member [member ...] -> integer: the number of members added. */
static enum kv_code
cmd_sadd(struct cmd_ctx *ctx)
{
    uint64_t added = 0;
    enum kv_code rc =
        set_add(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)ctx->argc - 2, &added, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)added);
    return rc;
}

/* SREM key member [member ...] -> integer: the number of members removed. */
static enum kv_code
cmd_srem(struct cmd_ctx *ctx)
{
    uint64_t removed = 0;
    enum kv_code rc =
        set_remove(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)ctx->argc - 2, &removed, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)removed);
    return rc;
}

/* SCARD key -> integer: the number of members (0 when absent). */
static enum kv_code
cmd_scard(struct cmd_ctx *ctx)
{
    uint64_t n = 0;
    enum kv_code rc = set_card(ctx->db, ctx->argv[1], &n, ctx->err);
    reads_count_lookup(ctx, rc == KV_OK && n == 0 ? KV_NOTFOUND : rc);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)n);
    return rc;
}

/* SMEMBERS key -> set of all members. */
static enum kv_code
cmd_smembers(struct cmd_ctx *ctx)
{
    struct subkey_list l = SUBKEY_LIST_INIT;
    struct kv_buf last = KV_BUF_INIT;
    bool done = false;
    enum kv_code rc = set_scan(ctx->db, ctx->argv[1], NULL, kv_slice_make(NULL, 0), 0,
                               subkey_list_collect, &l, &last, &done, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_NOTFOUND)
        rc = KV_OK;
    if (rc == KV_OK)
        reply_members_set(ctx, &l);
    subkey_list_deinit(&l);
    kv_buf_deinit(&last);
    return rc;
}

/* SISMEMBER key member -> integer 1 or 0. SMISMEMBER key member [member ...] -> array of them. */
static enum kv_code
ismember_generic(struct cmd_ctx *ctx, bool multi)
{
    size_t n = (size_t)ctx->argc - 2;
    bool *in = kv_calloc(n, sizeof *in);
    enum kv_code rc = set_is_member(ctx->db, ctx->argv[1], &ctx->argv[2], n, in, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK) {
        if (multi)
            resp_write_array(ctx->out, n);
        for (size_t i = 0; i < n; i++)
            resp_write_int(ctx->out, in[i] ? 1 : 0);
    }
    kv_free(in);
    return rc;
}

/* SISMEMBER key member -> integer. */
static enum kv_code
cmd_sismember(struct cmd_ctx *ctx)
{
    return ismember_generic(ctx, false);
}

/* SMISMEMBER key member [member ...] -> array of integers. */
static enum kv_code
cmd_smismember(struct cmd_ctx *ctx)
{
    return ismember_generic(ctx, true);
}

/* SPOP key [count] -> without count a random member or nil; with a count a set of up to count
 * distinct members (all of them when count >= the size; the key is then deleted). */
static enum kv_code
cmd_spop(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3)
        return args_syntax_error(ctx);
    int64_t count = 1;
    enum kv_code rc;
    if (ctx->argc == 3 &&
        (rc = args_int64_range(ctx, 2, 0, INT64_MAX, ERR_OUT_OF_RANGE_POSITIVE, &count)) != KV_OK)
        return rc;
    struct subkey_list l = SUBKEY_LIST_INIT;
    rc = set_pop(ctx->db, ctx->argv[1], (uint64_t)count, &l, ctx->err);
    if (rc == KV_OK) {
        if (ctx->argc == 3)
            reply_members_set(ctx, &l);
        else if (l.n > 0)
            resp_write_bulk_slice(ctx->out, subkey_list_sub(&l, 0));
        else
            resp_write_null(ctx->out);
    }
    subkey_list_deinit(&l);
    return rc;
}

/* SRANDMEMBER key [count] -> without count a random member or nil; with a count an array:
 * distinct members (count > 0, at most the set), or |count| picks with repetitions. */
static enum kv_code
cmd_srandmember(struct cmd_ctx *ctx)
{
    static const struct reads_random_ops ops = {set_card, set_random, NULL, NULL};
    return reads_random_generic(ctx, &ops);
}

/* SMOVE source destination member -> integer: 1 when moved, 0 when source lacks it. */
static enum kv_code
cmd_smove(struct cmd_ctx *ctx)
{
    bool moved = false;
    enum kv_code rc = set_move(ctx->db, ctx->argv[1], ctx->argv[2], ctx->argv[3], &moved, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, moved ? 1 : 0);
    return rc;
}

/* SINTER / SUNION / SDIFF key [key ...] -> set of the result. */
static enum kv_code
combine_generic(struct cmd_ctx *ctx, enum set_op op)
{
    struct subkey_list l = SUBKEY_LIST_INIT;
    enum kv_code rc = set_combine(ctx->db, op, &ctx->argv[1], (size_t)ctx->argc - 1, collect_member,
                                  &l, ctx->err);
    if (rc == KV_OK)
        reply_members_set(ctx, &l);
    subkey_list_deinit(&l);
    return rc;
}

/* SINTER key [key ...] -> set. */
static enum kv_code
cmd_sinter(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, SET_OP_INTER);
}

/* SUNION key [key ...] -> set. */
static enum kv_code
cmd_sunion(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, SET_OP_UNION);
}

/* SDIFF key [key ...] -> set. */
static enum kv_code
cmd_sdiff(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, SET_OP_DIFF);
}

/* SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key [key ...] -> integer: the size of the
 * stored result (destination replaced whatever its type; deleted when the result is empty). */
static enum kv_code
store_generic(struct cmd_ctx *ctx, enum set_op op)
{
    uint64_t card = 0;
    enum kv_code rc = set_combine_store(ctx->db, op, ctx->argv[1], &ctx->argv[2],
                                        (size_t)ctx->argc - 2, &card, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)card);
    return rc;
}

/* SINTERSTORE destination key [key ...] -> integer. */
static enum kv_code
cmd_sinterstore(struct cmd_ctx *ctx)
{
    return store_generic(ctx, SET_OP_INTER);
}

/* SUNIONSTORE destination key [key ...] -> integer. */
static enum kv_code
cmd_sunionstore(struct cmd_ctx *ctx)
{
    return store_generic(ctx, SET_OP_UNION);
}

/* SDIFFSTORE destination key [key ...] -> integer. */
static enum kv_code
cmd_sdiffstore(struct cmd_ctx *ctx)
{
    return store_generic(ctx, SET_OP_DIFF);
}

/* Counts SINTERCARD's result, stopping at the limit. */
struct card_ctx {
    uint64_t count;
    uint64_t limit; /* 0 = none */
};

static bool
count_member(void *arg, struct kv_slice member)
{
    (void)member;
    struct card_ctx *c = arg;
    c->count++;
    return c->limit == 0 || c->count < c->limit;
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] -> integer: the size of the intersection, or
 * the limit when it is reached first (0 = no limit). */
static enum kv_code
cmd_sintercard(struct cmd_ctx *ctx)
{
    int64_t numkeys = 0, limit = 0;
    enum kv_code rc = args_int64_range(ctx, 1, 1, INT64_MAX, ERR_NUMKEYS_POSITIVE, &numkeys);
    if (rc != KV_OK)
        return rc;
    if (numkeys > ctx->argc - 2)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_NUMKEYS_TOO_MANY);
    for (int i = 2 + (int)numkeys; i < ctx->argc; i++) {
        if (args_is(ctx, i, "limit") && i + 1 < ctx->argc) {
            i++;
            rc = args_int64_range(ctx, i, 0, INT64_MAX, ERR_LIMIT_NEGATIVE, &limit);
            if (rc != KV_OK)
                return rc;
        } else {
            return args_syntax_error(ctx);
        }
    }
    struct card_ctx c = {0, (uint64_t)limit};
    rc = set_combine(ctx->db, SET_OP_INTER, &ctx->argv[2], (size_t)numkeys, count_member, &c,
                     ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)c.count);
    return rc;
}

/* The keys of SINTERCARD: numkeys of them after the count; -1 when numkeys is malformed. */
static int
sintercard_keys(int argc, const struct kv_slice *argv, int *idx, int cap)
{
    int64_t numkeys;
    if (argc < 3 || strconv_to_int64(argv[1].ptr, argv[1].len, &numkeys) != KV_OK || numkeys < 1 ||
        numkeys > argc - 2)
        return -1;
    int n = 0;
    for (int64_t i = 0; i < numkeys && n < cap; i++)
        idx[n++] = 2 + (int)i;
    return n;
}

/* SSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor (bulk), [member, ...]]
 * (reads_scan_generic). */
static enum kv_code
cmd_sscan(struct cmd_ctx *ctx)
{
    static const struct reads_scan_ops ops = {set_card, set_scan, subkey_list_collect,
                                              SCAN_CURSOR_SET, false};
    return reads_scan_generic(ctx, &ops);
}

const struct command_spec set_commands[] = {
    {"sadd", cmd_sadd, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "set"},
    {"scard", cmd_scard, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "set"},
    {"sdiff", cmd_sdiff, -2, CMD_READONLY | CMD_SLOW, 1, -1, 1, NULL, "set"},
    {"sdiffstore", cmd_sdiffstore, -3, CMD_WRITE | CMD_SLOW, 1, -1, 1, NULL, "set"},
    {"sinter", cmd_sinter, -2, CMD_READONLY | CMD_SLOW, 1, -1, 1, NULL, "set"},
    {"sintercard", cmd_sintercard, -3, CMD_READONLY | CMD_SLOW, 0, 0, 0, sintercard_keys, "set"},
    {"sinterstore", cmd_sinterstore, -3, CMD_WRITE | CMD_SLOW, 1, -1, 1, NULL, "set"},
    {"sismember", cmd_sismember, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "set"},
    {"smembers", cmd_smembers, 2, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "set"},
    {"smismember", cmd_smismember, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "set"},
    {"smove", cmd_smove, 4, CMD_WRITE | CMD_FAST, 1, 2, 1, NULL, "set"},
    {"spop", cmd_spop, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "set"},
    {"srandmember", cmd_srandmember, -2, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "set"},
    {"srem", cmd_srem, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "set"},
    {"sscan", cmd_sscan, -3, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "set"},
    {"sunion", cmd_sunion, -2, CMD_READONLY | CMD_SLOW, 1, -1, 1, NULL, "set"},
    {"sunionstore", cmd_sunionstore, -3, CMD_WRITE | CMD_SLOW, 1, -1, 1, NULL, "set"},
};
const size_t set_commands_len = sizeof set_commands / sizeof set_commands[0];
