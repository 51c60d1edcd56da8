/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_string: string commands. (Bootstrap: GET and plain SET; the full group is being written.)
 */
#include "commands/args.h"
#include "commands/command.h"
#include "storage/keys.h"

/* GET key -> bulk value or nil. */
static enum kv_code
cmd_get(struct cmd_ctx *ctx)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(ctx->db, ctx->argv[1], META_STRING, &m, &raw, ctx->err);
    if (rc == KV_OK)
        resp_write_bulk_slice(ctx->out, m.payload);
    else if (rc == KV_NOTFOUND) {
        resp_write_null(ctx->out);
        rc = KV_OK;
    }
    kv_buf_deinit(&raw);
    return rc;
}

/* SET key value -> +OK. */
static enum kv_code
cmd_set(struct cmd_ctx *ctx)
{
    struct meta m;
    meta_init(&m, META_STRING);
    m.payload = ctx->argv[2];
    struct kv_buf k = KV_BUF_INIT, v = KV_BUF_INIT;
    db_meta_key(ctx->db, ctx->argv[1], &k);
    meta_encode(&m, &v);
    struct storage_batch *b = storage_batch_new(ctx->db->st);
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&k), kv_buf_slice(&v));
    enum kv_code rc = db_write(ctx->db, b, &ctx->argv[1], 1, ctx->err);
    storage_batch_free(b);
    kv_buf_deinit(&k);
    kv_buf_deinit(&v);
    if (rc == KV_OK)
        resp_write_ok(ctx->out);
    return rc;
}

const struct command_spec string_commands[] = {
    {"get", cmd_get, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"set", cmd_set, 3, CMD_WRITE, 1, 1, 1, NULL, "string"},
};
const size_t string_commands_len = sizeof string_commands / sizeof string_commands[0];
