/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_pubsub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB
 * CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB/HELP, with Redis 7.0's replies. The registry
 * and the delivery to subscribers on every worker live in server/pubsub.c. Confirmations are
 * arrays in RESP2 and pushes in RESP3; there is no sharded pub/sub (SSUBSCRIBE), so the SHARD
 * subcommands report nothing.
 *
 * PUBLISH on a master also writes `channel -> message` into the pubsub column family, so the
 * message reaches replicas through the WAL (Kvrocks' format: the raw channel as key, the message
 * as value; the pubsub compaction filter drops these records).
 */
#include <stdint.h>
#include <stdio.h>

#include "commands/args.h"
#include "commands/command.h"
#include "common/buf.h"
#include "server/conn.h"
#include "server/pubsub.h"

/* ["subscribe" | "unsubscribe" | ..., name or null, count] as an array (RESP2) or push (RESP3). */
static void
write_confirmation(struct resp_out *out, const char *kind, const struct kv_slice *name,
                   size_t count)
{
    resp_write_push(out, 3);
    resp_write_bulk_cstr(out, kind);
    if (name != NULL)
        resp_write_bulk_slice(out, *name);
    else
        resp_write_null(out);
    resp_write_int(out, (int64_t)count);
}

/* SUBSCRIBE channel [channel ...] -> one confirmation per channel. */
static enum kv_code
cmd_subscribe(struct cmd_ctx *ctx)
{
    for (int i = 1; i < ctx->argc; i++) {
        size_t n = pubsub_subscribe(ctx->conn, ctx->argv[i]);
        write_confirmation(ctx->out, "subscribe", &ctx->argv[i], n);
    }
    return KV_OK;
}

/* PSUBSCRIBE pattern [pattern ...] -> one confirmation per pattern. */
static enum kv_code
cmd_psubscribe(struct cmd_ctx *ctx)
{
    for (int i = 1; i < ctx->argc; i++) {
        size_t n = pubsub_psubscribe(ctx->conn, ctx->argv[i]);
        write_confirmation(ctx->out, "psubscribe", &ctx->argv[i], n);
    }
    return KV_OK;
}

/* (P)UNSUBSCRIBE [name ...]: one confirmation per name; without names, one per subscription
 * (oldest first), or a single one with a null name when there is none. */
static enum kv_code
unsubscribe_generic(struct cmd_ctx *ctx, bool pattern)
{
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    size_t (*drop)(struct conn *, struct kv_slice) =
        pattern ? pubsub_punsubscribe : pubsub_unsubscribe;
    if (ctx->argc > 1) {
        for (int i = 1; i < ctx->argc; i++) {
            size_t n = drop(ctx->conn, ctx->argv[i]);
            write_confirmation(ctx->out, kind, &ctx->argv[i], n);
        }
        return KV_OK;
    }
    struct kv_buf name = KV_BUF_INIT;
    bool any = false;
    while (pattern ? pubsub_first_pattern(ctx->conn, &name)
                   : pubsub_first_channel(ctx->conn, &name)) {
        struct kv_slice s = kv_buf_slice(&name);
        size_t n = drop(ctx->conn, s);
        write_confirmation(ctx->out, kind, &s, n);
        any = true;
    }
    kv_buf_deinit(&name);
    if (!any) {
        size_t n = pubsub_conn_channels(ctx->conn) + pubsub_conn_patterns(ctx->conn);
        write_confirmation(ctx->out, kind, NULL, n);
    }
    return KV_OK;
}

/* UNSUBSCRIBE [channel ...] */
static enum kv_code
cmd_unsubscribe(struct cmd_ctx *ctx)
{
    return unsubscribe_generic(ctx, false);
}

/* PUNSUBSCRIBE [pattern ...] */
static enum kv_code
cmd_punsubscribe(struct cmd_ctx *ctx)
{
    return unsubscribe_generic(ctx, true);
}

/* PUBLISH channel message -> integer: the number of receivers on this node. */
static enum kv_code
cmd_publish(struct cmd_ctx *ctx)
{
    enum kv_code rc =
        pubsub_write_record(ctx->srv, ctx->db->st, ctx->argv[1], ctx->argv[2], ctx->err);
    if (rc != KV_OK)
        return rc;
    int64_t n = pubsub_publish_by(ctx->srv, ctx->conn, ctx->argv[1], ctx->argv[2]);
    resp_write_int(ctx->out, n);
    return KV_OK;
}

/* The error Redis gives for a known PUBSUB subcommand with a wrong argument count that the
 * command table's arity admits (addReplySubcommandSyntaxError). */
static enum kv_code
subcommand_syntax_error(struct cmd_ctx *ctx)
{
    size_t len = ctx->argv[1].len < 128 ? ctx->argv[1].len : 128;
    return args_error(ctx, KV_ERR,
                      "unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB "
                      "HELP.",
                      (int)len, ctx->argv[1].ptr);
}

/* PUBSUB CHANNELS [pattern] -> array of active channels. */
static enum kv_code
cmd_pubsub_channels(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3)
        return subcommand_syntax_error(ctx);
    pubsub_write_channels(ctx->argc == 3 ? &ctx->argv[2] : NULL, ctx->out);
    return KV_OK;
}

/* PUBSUB NUMSUB [channel ...] -> flat array channel, count, ... (an array in RESP3 too). */
static enum kv_code
cmd_pubsub_numsub(struct cmd_ctx *ctx)
{
    resp_write_array(ctx->out, (size_t)(ctx->argc - 2) * 2);
    for (int i = 2; i < ctx->argc; i++) {
        resp_write_bulk_slice(ctx->out, ctx->argv[i]);
        resp_write_int(ctx->out, pubsub_numsub(ctx->argv[i]));
    }
    return KV_OK;
}

/* PUBSUB NUMPAT -> integer: distinct patterns with subscribers. */
static enum kv_code
cmd_pubsub_numpat(struct cmd_ctx *ctx)
{
    resp_write_int(ctx->out, (int64_t)pubsub_pattern_count());
    return KV_OK;
}

/* PUBSUB SHARDCHANNELS [pattern] -> empty array (no sharded pub/sub). */
static enum kv_code
cmd_pubsub_shardchannels(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3)
        return subcommand_syntax_error(ctx);
    resp_write_array(ctx->out, 0);
    return KV_OK;
}

/* PUBSUB SHARDNUMSUB [channel ...] -> channel, 0, ... */
static enum kv_code
cmd_pubsub_shardnumsub(struct cmd_ctx *ctx)
{
    resp_write_array(ctx->out, (size_t)(ctx->argc - 2) * 2);
    for (int i = 2; i < ctx->argc; i++) {
        resp_write_bulk_slice(ctx->out, ctx->argv[i]);
        resp_write_int(ctx->out, 0);
    }
    return KV_OK;
}

/* PUBSUB HELP -> Redis' help lines. */
static enum kv_code
cmd_pubsub_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    resp_write_array(ctx->out, n);
    for (size_t i = 0; i < n; i++)
        resp_write_status(ctx->out, lines[i]);
    return KV_OK;
}

struct pubsub_subcommand {
    const char *name; /* lower case */
    command_proc proc;
    int arity; /* counting PUBSUB and the subcommand, with Redis' sign convention */
};

static const struct pubsub_subcommand pubsub_subcommands[] = {
    {"channels", cmd_pubsub_channels, -2},
    {"help", cmd_pubsub_help, 2},
    {"numpat", cmd_pubsub_numpat, 2},
    {"numsub", cmd_pubsub_numsub, -2},
    {"shardchannels", cmd_pubsub_shardchannels, -2},
    {"shardnumsub", cmd_pubsub_shardnumsub, -2},
};

/* PUBSUB <subcommand> [...] */
static enum kv_code
cmd_pubsub(struct cmd_ctx *ctx)
{
    for (size_t i = 0; i < sizeof pubsub_subcommands / sizeof pubsub_subcommands[0]; i++) {
        const struct pubsub_subcommand *sub = &pubsub_subcommands[i];
        if (!args_is(ctx, 1, sub->name))
            continue;
        int a = sub->arity;
        if ((a > 0 && ctx->argc != a) || (a < 0 && ctx->argc < -a))
            return args_error(ctx, KV_ERR, "wrong number of arguments for 'pubsub|%s' command",
                              sub->name);
        return sub->proc(ctx);
    }
    size_t len = ctx->argv[1].len < 128 ? ctx->argv[1].len : 128;
    return args_error(ctx, KV_ERR, "unknown subcommand '%.*s'. Try PUBSUB HELP.", (int)len,
                      ctx->argv[1].ptr);
}

const struct command_spec pubsub_commands[] = {
    {"psubscribe", cmd_psubscribe, -2, CMD_PUBSUB | CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK,
     0, 0, 0, NULL, "pubsub"},
    {"publish", cmd_publish, 3, CMD_FAST | CMD_STALE_OK, 0, 0, 0, NULL, "pubsub"},
    {"pubsub", cmd_pubsub, -2, CMD_LOADING_OK | CMD_STALE_OK | CMD_SLOW, 0, 0, 0, NULL, "pubsub"},
    {"punsubscribe", cmd_punsubscribe, -1,
     CMD_PUBSUB | CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK, 0, 0, 0, NULL, "pubsub"},
    {"subscribe", cmd_subscribe, -2, CMD_PUBSUB | CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK, 0,
     0, 0, NULL, "pubsub"},
    {"unsubscribe", cmd_unsubscribe, -1, CMD_PUBSUB | CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK,
     0, 0, 0, NULL, "pubsub"},
};
const size_t pubsub_commands_len = sizeof pubsub_commands / sizeof pubsub_commands[0];
