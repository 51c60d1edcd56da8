/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_hash: the hash commands (Redis 7.0 semantics, replies and error texts): HSET, HSETNX, HMSET,
 * HGET, HMGET, HDEL, HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT,
 * HRANDFIELD, HSCAN. The storage work is in types/hash.h; here are argument parsing in Redis's
 * checking order, and the replies (RESP3 map for HGETALL, pairs for HRANDFIELD WITHVALUES).
 *
 * HSCAN cursors are integers from the server-wide table of commands/scan_cursor.h, bound to the
 * key; COUNT bounds the fields examined per call.
 *
 * Threads: the connection's worker.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/reads.h"
#include "commands/scan_cursor.h"
#include "common/mem.h"
#include "server/server.h"
#include "types/hash.h"

/* --- shared helpers --- */

/* Collect fields only (HKEYS) or values only (HVALS) into a subkey_list. */
static bool
collect_field(void *arg, struct kv_slice field, struct kv_slice value)
{
    (void)value;
    subkey_list_add(arg, field, kv_slice_make("", 0));
    return true;
}

static bool
collect_value(void *arg, struct kv_slice field, struct kv_slice value)
{
    (void)field;
    subkey_list_add(arg, kv_slice_make("", 0), value);
    return true;
}

/* Read the whole hash into l (empty when absent). */
static enum kv_code
read_all(struct cmd_ctx *ctx, subkey_fn fn, struct subkey_list *l)
{
    struct kv_buf last = KV_BUF_INIT;
    bool done = false;
    enum kv_code rc = hash_scan(ctx->db, ctx->argv[1], NULL, kv_slice_make(NULL, 0), 0, fn, l,
                                &last, &done, ctx->err);
    reads_count_lookup(ctx, rc);
    kv_buf_deinit(&last);
    return rc == KV_NOTFOUND ? KV_OK : rc;
}

/* --- procs --- */

/* HSET key field value [field value ...] -> integer: the number of fields created. */
static enum kv_code
cmd_hset(struct cmd_ctx *ctx)
{
    if (ctx->argc % 2 != 0)
        return args_arity_error(ctx);
    uint64_t added = 0;
    enum kv_code rc = hash_set(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)(ctx->argc - 2) / 2,
                               false, &added, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)added);
    return rc;
}

/* HMSET key field value [field value ...] -> +OK. */
static enum kv_code
cmd_hmset(struct cmd_ctx *ctx)
{
    if (ctx->argc % 2 != 0)
        return args_arity_error(ctx);
    uint64_t added = 0;
    enum kv_code rc = hash_set(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)(ctx->argc - 2) / 2,
                               false, &added, ctx->err);
    if (rc == KV_OK)
        resp_write_ok(ctx->out);
    return rc;
}

/* HSETNX key field value -> integer: 1 when the field was created, 0 when it existed. */
static enum kv_code
cmd_hsetnx(struct cmd_ctx *ctx)
{
    uint64_t added = 0;
    enum kv_code rc = hash_set(ctx->db, ctx->argv[1], &ctx->argv[2], 1, true, &added, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)added);
    return rc;
}

/* HGET key field -> bulk value, or nil. */
static enum kv_code
cmd_hget(struct cmd_ctx *ctx)
{
    struct kv_buf v = KV_BUF_INIT;
    enum kv_code rc = hash_get(ctx->db, ctx->argv[1], ctx->argv[2], &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK) {
        resp_write_bulk(ctx->out, v.ptr != NULL ? v.ptr : "", v.len);
    } else if (rc == KV_NOTFOUND) {
        resp_write_null(ctx->out);
        rc = KV_OK;
    }
    kv_buf_deinit(&v);
    return rc;
}

/* HMGET key field [field ...] -> array of bulk values or nils. */
static enum kv_code
cmd_hmget(struct cmd_ctx *ctx)
{
    size_t n = (size_t)ctx->argc - 2;
    struct kv_buf *values = kv_calloc(n, sizeof *values);
    bool *found = kv_calloc(n, sizeof *found);
    enum kv_code rc = hash_mget(ctx->db, ctx->argv[1], &ctx->argv[2], n, values, found, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK) {
        resp_write_array(ctx->out, n);
        for (size_t i = 0; i < n; i++) {
            if (found[i])
                resp_write_bulk(ctx->out, values[i].ptr != NULL ? values[i].ptr : "",
                                values[i].len);
            else
                resp_write_null(ctx->out);
        }
    }
    for (size_t i = 0; i < n; i++)
        kv_buf_deinit(&values[i]);
    kv_free(values);
    kv_free(found);
    return rc;
}

/* HDEL key field [field ...] -> integer: the number of fields removed. */
static enum kv_code
cmd_hdel(struct cmd_ctx *ctx)
{
    uint64_t deleted = 0;
    enum kv_code rc = hash_delete(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)ctx->argc - 2,
                                  &deleted, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)deleted);
    return rc;
}

/* HLEN key -> integer: the number of fields (0 when absent). */
static enum kv_code
cmd_hlen(struct cmd_ctx *ctx)
{
    uint64_t n = 0;
    enum kv_code rc = hash_size(ctx->db, ctx->argv[1], &n, ctx->err);
    reads_count_lookup(ctx, rc == KV_OK && n == 0 ? KV_NOTFOUND : rc);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)n);
    return rc;
}

/* HSTRLEN key field -> integer: the length of the value (0 when absent). */
static enum kv_code
cmd_hstrlen(struct cmd_ctx *ctx)
{
    struct kv_buf v = KV_BUF_INIT;
    enum kv_code rc = hash_get(ctx->db, ctx->argv[1], ctx->argv[2], &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK || rc == KV_NOTFOUND) {
        resp_write_int(ctx->out, rc == KV_OK ? (int64_t)v.len : 0);
        rc = KV_OK;
    }
    kv_buf_deinit(&v);
    return rc;
}

/* HEXISTS key field -> integer: 1 when the field exists, else 0. */
static enum kv_code
cmd_hexists(struct cmd_ctx *ctx)
{
    enum kv_code rc = hash_get(ctx->db, ctx->argv[1], ctx->argv[2], NULL, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK || rc == KV_NOTFOUND) {
        resp_write_int(ctx->out, rc == KV_OK ? 1 : 0);
        rc = KV_OK;
    }
    return rc;
}

/* HKEYS key -> array of the fields. */
static enum kv_code
cmd_hkeys(struct cmd_ctx *ctx)
{
    struct subkey_list l = SUBKEY_LIST_INIT;
    enum kv_code rc = read_all(ctx, collect_field, &l);
    if (rc == KV_OK) {
        resp_write_array(ctx->out, l.n);
        for (size_t i = 0; i < l.n; i++)
            resp_write_bulk_slice(ctx->out, subkey_list_sub(&l, i));
    }
    subkey_list_deinit(&l);
    return rc;
}

/* HVALS key -> array of the values. */
static enum kv_code
cmd_hvals(struct cmd_ctx *ctx)
{
    struct subkey_list l = SUBKEY_LIST_INIT;
    enum kv_code rc = read_all(ctx, collect_value, &l);
    if (rc == KV_OK) {
        resp_write_array(ctx->out, l.n);
        for (size_t i = 0; i < l.n; i++)
            resp_write_bulk_slice(ctx->out, subkey_list_value(&l, i));
    }
    subkey_list_deinit(&l);
    return rc;
}

/* HGETALL key -> map of field -> value (RESP2: flat array field, value, ...). */
static enum kv_code
cmd_hgetall(struct cmd_ctx *ctx)
{
    struct subkey_list l = SUBKEY_LIST_INIT;
    enum kv_code rc = read_all(ctx, subkey_list_collect, &l);
    if (rc == KV_OK) {
        resp_write_map(ctx->out, l.n);
        for (size_t i = 0; i < l.n; i++) {
            resp_write_bulk_slice(ctx->out, subkey_list_sub(&l, i));
            resp_write_bulk_slice(ctx->out, subkey_list_value(&l, i));
        }
    }
    subkey_list_deinit(&l);
    return rc;
}

/* HINCRBY key field increment -> integer: the new value. */
static enum kv_code
cmd_hincrby(struct cmd_ctx *ctx)
{
    int64_t incr, result = 0;
    enum kv_code rc = args_int64(ctx, 3, &incr);
    if (rc != KV_OK)
        return rc;
    rc = hash_incrby(ctx->db, ctx->argv[1], ctx->argv[2], incr, &result, ctx->err);
    if (rc == KV_ERR_INVALID)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_HASH_NOT_INTEGER);
    if (rc == KV_ERR_RANGE)
        return args_error(ctx, KV_ERR_RANGE, "%s", ERR_OVERFLOW);
    if (rc == KV_OK)
        resp_write_int(ctx->out, result);
    return rc;
}

/* HINCRBYFLOAT key field increment -> bulk: the new value as Redis prints it. */
static enum kv_code
cmd_hincrbyfloat(struct cmd_ctx *ctx)
{
    long double incr;
    enum kv_code rc = args_long_double(ctx, 3, &incr);
    if (rc != KV_OK)
        return rc;
    if (isnan(incr) || isinf(incr))
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_VALUE_NAN_OR_INF);
    struct kv_buf out = KV_BUF_INIT;
    rc = hash_incrbyfloat(ctx->db, ctx->argv[1], ctx->argv[2], incr, &out, ctx->err);
    if (rc == KV_ERR_INVALID)
        rc = args_error(ctx, KV_ERR_INVALID, "%s", ERR_HASH_NOT_FLOAT);
    else if (rc == KV_ERR_RANGE)
        rc = args_error(ctx, KV_ERR_RANGE, "%s", ERR_NAN_OR_INF);
    else if (rc == KV_OK)
        resp_write_bulk(ctx->out, out.ptr, out.len);
    kv_buf_deinit(&out);
    return rc;
}

/* Writes a field's value after it. */
static void
write_field_value(struct cmd_ctx *ctx, struct kv_slice value)
{
    resp_write_bulk_slice(ctx->out, value);
}

/* HRANDFIELD key [count [WITHVALUES]] -> without count a random field or nil; with a count an
 * array: distinct fields (count > 0, at most the hash), or |count| picks with repetitions. */
static enum kv_code
cmd_hrandfield(struct cmd_ctx *ctx)
{
    static const struct reads_random_ops ops = {hash_size, hash_random, "withvalues",
                                                write_field_value};
    return reads_random_generic(ctx, &ops);
}

/* HSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor (bulk), [field, value, ...]]
 * (reads_scan_generic). */
static enum kv_code
cmd_hscan(struct cmd_ctx *ctx)
{
    static const struct reads_scan_ops ops = {hash_size, hash_scan, subkey_list_collect,
                                              SCAN_CURSOR_HASH, true};
    return reads_scan_generic(ctx, &ops);
}

const struct command_spec hash_commands[] = {
    {"hdel", cmd_hdel, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hexists", cmd_hexists, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hget", cmd_hget, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hgetall", cmd_hgetall, 2, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "hash"},
    {"hincrby", cmd_hincrby, 4, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hincrbyfloat", cmd_hincrbyfloat, 4, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hkeys", cmd_hkeys, 2, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "hash"},
    {"hlen", cmd_hlen, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hmget", cmd_hmget, -3, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hmset", cmd_hmset, -4, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hrandfield", cmd_hrandfield, -2, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "hash"},
    {"hscan", cmd_hscan, -3, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "hash"},
    {"hset", cmd_hset, -4, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hsetnx", cmd_hsetnx, 4, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hstrlen", cmd_hstrlen, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "hash"},
    {"hvals", cmd_hvals, 2, CMD_READONLY | CMD_SLOW, 1, 1, 1, NULL, "hash"},
};
const size_t hash_commands_len = sizeof hash_commands / sizeof hash_commands[0];
