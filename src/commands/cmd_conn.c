/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_conn: connection commands: PING, ECHO, AUTH, HELLO, QUIT, SELECT.
 */
#include <stdio.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "common/strconv.h"
#include "server/conn.h"
#include "server/server.h"

/* PING [message] -> +PONG, or the message as a bulk string. */
static enum kv_code
cmd_ping(struct cmd_ctx *ctx)
{
    if (ctx->argc > 2)
        return args_arity_error(ctx);
    if (ctx->argc == 2)
        resp_write_bulk_slice(ctx->out, ctx->argv[1]);
    else
        resp_write_status(ctx->out, "PONG");
    return KV_OK;
}

/* ECHO message -> the message. */
static enum kv_code
cmd_echo(struct cmd_ctx *ctx)
{
    resp_write_bulk_slice(ctx->out, ctx->argv[1]);
    return KV_OK;
}

/* Check a password; on success mark the connection authenticated (and admin). */
static enum kv_code
authenticate(struct cmd_ctx *ctx, struct kv_slice password)
{
    const char *pass = ctx->srv->cfg->requirepass;
    if (pass == NULL || pass[0] == '\0')
        return args_error(ctx, KV_ERR, "%s", ERR_NO_PASSWORD);
    if (!kv_slice_eq(password, kv_slice_cstr(pass)))
        return args_error(ctx, KV_ERR, "%s", ERR_INVALID_PASSWORD);
    conn_set_flag(ctx->conn, CONN_F_AUTHED | CONN_F_ADMIN);
    return KV_OK;
}

/* AUTH [username] password -> +OK. */
static enum kv_code
cmd_auth(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3)
        return args_syntax_error(ctx);
    enum kv_code rc = authenticate(ctx, ctx->argv[ctx->argc - 1]);
    if (rc != KV_OK)
        return rc;
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* HELLO [protover [AUTH username password] [SETNAME name]] -> a map describing the server. */
static enum kv_code
cmd_hello(struct cmd_ctx *ctx)
{
    int64_t proto = ctx->conn->proto;
    int i = 1;
    if (ctx->argc >= 2) {
        if (strconv_to_int64(ctx->argv[1].ptr, ctx->argv[1].len, &proto) != KV_OK)
            return args_error(ctx, KV_ERR, "Protocol version is not an integer or out of range");
        i = 2;
        if (proto < 2 || proto > 3)
            return args_error(ctx, KV_ERR_NOPROTO, "unsupported protocol version");
    }
    struct kv_slice setname = {NULL, 0};
    bool has_setname = false;
    for (; i < ctx->argc; i++) {
        if (args_is(ctx, i, "AUTH") && i + 2 < ctx->argc) {
            enum kv_code rc = authenticate(ctx, ctx->argv[i + 2]);
            if (rc != KV_OK)
                return rc;
            i += 2;
        } else if (args_is(ctx, i, "SETNAME") && i + 1 < ctx->argc) {
            setname = ctx->argv[++i];
            has_setname = true;
        } else {
            return args_error(ctx, KV_ERR, "Syntax error in HELLO option '%.*s'",
                              (int)ctx->argv[i].len, ctx->argv[i].ptr);
        }
    }
    if (!conn_has_flag(ctx->conn, CONN_F_AUTHED))
        return args_error(ctx, KV_ERR_NOAUTH,
                          "HELLO must be called with the client already "
                          "authenticated, otherwise the HELLO <proto> AUTH "
                          "<user> <pass> option can be used to authenticate "
                          "the client and select the RESP protocol version "
                          "at the same time");
    if (has_setname)
        conn_set_name(ctx->conn, setname);
    ctx->conn->proto = (int)proto;
    ctx->out->proto = (int)proto;
    resp_write_map(ctx->out, 7);
    resp_write_bulk_cstr(ctx->out, "server");
    resp_write_bulk_cstr(ctx->out, "redis");
    resp_write_bulk_cstr(ctx->out, "version");
    resp_write_bulk_cstr(ctx->out, KV_VERSION);
    resp_write_bulk_cstr(ctx->out, "proto");
    resp_write_int(ctx->out, proto);
    resp_write_bulk_cstr(ctx->out, "id");
    resp_write_int(ctx->out, (int64_t)ctx->conn->id);
    resp_write_bulk_cstr(ctx->out, "mode");
    resp_write_bulk_cstr(ctx->out, ctx->srv->cfg->cluster_enabled ? "cluster" : "standalone");
    resp_write_bulk_cstr(ctx->out, "role");
    resp_write_bulk_cstr(ctx->out, "master");
    resp_write_bulk_cstr(ctx->out, "modules");
    resp_write_array(ctx->out, 0);
    return KV_OK;
}

/* QUIT -> +OK, then the connection closes. */
static enum kv_code
cmd_quit(struct cmd_ctx *ctx)
{
    resp_write_ok(ctx->out);
    conn_close_after_reply(ctx->conn);
    return KV_OK;
}

/* SELECT index -> +OK for database 0 only (Kvrocks has namespaces, not numbered databases). */
static enum kv_code
cmd_select(struct cmd_ctx *ctx)
{
    int64_t idx;
    enum kv_code rc = args_int64(ctx, 1, &idx);
    if (rc != KV_OK)
        return rc;
    if (idx != 0)
        return args_error(ctx, KV_ERR, "%s", ERR_DB_INDEX);
    resp_write_ok(ctx->out);
    return KV_OK;
}

const struct command_spec conn_commands[] = {
    {"auth", cmd_auth, -2, CMD_NO_AUTH | CMD_LOADING_OK | CMD_STALE_OK | CMD_FAST, 0, 0, 0, NULL,
     "connection"},
    {"echo", cmd_echo, 2, CMD_FAST, 0, 0, 0, NULL, "connection"},
    {"hello", cmd_hello, -1, CMD_NO_AUTH | CMD_LOADING_OK | CMD_STALE_OK | CMD_FAST, 0, 0, 0, NULL,
     "connection"},
    {"ping", cmd_ping, -1, CMD_FAST | CMD_STALE_OK | CMD_PUBSUB, 0, 0, 0, NULL, "connection"},
    {"quit", cmd_quit, -1,
     CMD_NO_AUTH | CMD_LOADING_OK | CMD_STALE_OK | CMD_FAST | CMD_MULTI_CTRL | CMD_PUBSUB, 0, 0, 0,
     NULL, "connection"},
    {"select", cmd_select, 2, CMD_FAST | CMD_LOADING_OK, 0, 0, 0, NULL, "connection"},
};
const size_t conn_commands_len = sizeof conn_commands / sizeof conn_commands[0];
