/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_conn: connection commands: PING, ECHO, AUTH, HELLO, QUIT, SELECT.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "common/strconv.h"
#include "server/conn.h"
#include "server/server.h"

/* PING [message] -> +PONG, or the message as a bulk string; in RESP2 subscribed mode
 * ["pong", message or ""]. */
static enum kv_code
cmd_ping(struct cmd_ctx *ctx)
{
    if (ctx->argc > 2)
        return args_arity_error(ctx);
    if (ctx->conn->proto == 2 && conn_has_flag(ctx->conn, CONN_F_PUBSUB)) {
        resp_write_array(ctx->out, 2);
        resp_write_bulk(ctx->out, "pong", 4);
        if (ctx->argc == 2)
            resp_write_bulk_slice(ctx->out, ctx->argv[1]);
        else
            resp_write_bulk(ctx->out, "", 0);
    } else if (ctx->argc == 2) {
        resp_write_bulk_slice(ctx->out, ctx->argv[1]);
    } else {
        resp_write_status(ctx->out, "PONG");
    }
    return KV_OK;
}

/* ECHO message -> the message. */
static enum kv_code
cmd_echo(struct cmd_ctx *ctx)
{
    resp_write_bulk_slice(ctx->out, ctx->argv[1]);
    return KV_OK;
}

/* Check a password (and the user name of the two-word form, which must be "default": there are
 * no other users, as in Kvrocks); on success mark the connection authenticated (and admin).
 * `user` may be NULL. */
static enum kv_code
authenticate(struct cmd_ctx *ctx, const struct kv_slice *user, struct kv_slice password)
{
    const char *pass = ctx->srv->cfg->requirepass;
    if (pass == NULL || pass[0] == '\0')
        return args_error(ctx, KV_ERR, "%s", ERR_NO_PASSWORD);
    if (user != NULL && !kv_slice_eq(*user, kv_slice_cstr("default")))
        return args_error(ctx, KV_ERR, "%s", ERR_INVALID_PASSWORD);
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
    enum kv_code rc =
        authenticate(ctx, ctx->argc == 3 ? &ctx->argv[1] : NULL, ctx->argv[ctx->argc - 1]);
    if (rc != KV_OK)
        return rc;
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* Redis' rule for client names (CLIENT SETNAME, HELLO SETNAME): printable ASCII without spaces,
 * or empty. */
static bool
valid_client_name(struct kv_slice name)
{
    for (size_t i = 0; i < name.len; i++) {
        unsigned char ch = (unsigned char)name.ptr[i];
        if (ch < '!' || ch > '~')
            return false;
    }
    return true;
}

/* HELLO [protover [AUTH username password] [SETNAME name]] -> a map describing the server.
 * Options are all parsed before anything takes effect, as in Redis: a syntax error changes
 * neither the authentication nor the name nor the protocol. Kvrocks: RESP3 is only switched on
 * when resp3-enabled is yes; otherwise HELLO 3 answers in RESP2 with proto 2. */
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
    const struct kv_slice *user = NULL, *password = NULL, *setname = NULL;
    for (; i < ctx->argc; i++) {
        int more = ctx->argc - 1 - i;
        if (args_is(ctx, i, "AUTH") && more >= 2) {
            user = &ctx->argv[i + 1];
            password = &ctx->argv[i + 2];
            i += 2;
        } else if (args_is(ctx, i, "SETNAME") && more >= 1) {
            setname = &ctx->argv[++i];
        } else {
            char opt[KV_ERR_MSG_MAX];
            return args_error(ctx, KV_ERR, "Syntax error in HELLO option '%s'",
                              args_cstr(ctx, i, opt, sizeof opt));
        }
    }
    if (password != NULL) {
        enum kv_code rc = authenticate(ctx, user, *password);
        if (rc != KV_OK)
            return rc;
    }
    if (!conn_has_flag(ctx->conn, CONN_F_AUTHED))
        return args_error(ctx, KV_ERR_NOAUTH,
                          "HELLO must be called with the client already authenticated, "
                          "otherwise the HELLO AUTH <user> <pass> option can be used to "
                          "authenticate the client and select the RESP protocol version at the "
                          "same time");
    if (setname != NULL) {
        if (!valid_client_name(*setname))
            return args_error(ctx, KV_ERR,
                              "Client names cannot contain spaces, newlines or special "
                              "characters.");
        conn_set_name(ctx->conn, *setname);
    }
    if (!ctx->srv->cfg->resp3_enabled)
        proto = 2;
    conn_set_proto(ctx->conn, (int)proto);
    ctx->out->proto = (int)proto;
    resp_write_map(ctx->out, 7);
    resp_write_bulk_cstr(ctx->out, "server");
    resp_write_bulk_cstr(ctx->out, "redis");
    resp_write_bulk_cstr(ctx->out, "version");
    resp_write_bulk_cstr(ctx->out, SERVER_REDIS_VERSION);
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
    if (idx < INT32_MIN || idx > INT32_MAX) /* Redis parses the index as an int */
        return args_error(ctx, KV_ERR, "value is out of range, value must between %d and %d",
                          INT32_MIN, INT32_MAX);
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
