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
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/scan_cursor.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "server/server.h"
#include "types/hash.h"

/* --- shared helpers --- */

/* INFO's keyspace_hits / keyspace_misses for read lookups, as Redis counts them (a key of another
 * type is a hit). */
static void
count_lookup(struct cmd_ctx *ctx, enum kv_code rc)
{
    if (rc == KV_OK || rc == KV_ERR_WRONGTYPE)
        atomic_fetch_add_explicit(&ctx->srv->stats.keyspace_hits, 1, memory_order_relaxed);
    else if (rc == KV_NOTFOUND)
        atomic_fetch_add_explicit(&ctx->srv->stats.keyspace_misses, 1, memory_order_relaxed);
}

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
    count_lookup(ctx, rc);
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
    count_lookup(ctx, rc);
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
    count_lookup(ctx, rc);
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
    count_lookup(ctx, rc == KV_OK && n == 0 ? KV_NOTFOUND : rc);
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
    count_lookup(ctx, rc);
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
    count_lookup(ctx, rc);
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

/* Reply the picks of HRANDFIELD with a count: fields, or with values as flat pairs (RESP2) or
 * two-element arrays (RESP3). */
static void
reply_random_fields(struct cmd_ctx *ctx, const struct subkey_sample *s, bool withvalues)
{
    bool nested = withvalues && ctx->out->proto >= 3;
    resp_write_array(ctx->out, withvalues && !nested ? s->npicks * 2 : s->npicks);
    for (size_t i = 0; i < s->npicks; i++) {
        size_t e = s->picks[i];
        if (nested)
            resp_write_array(ctx->out, 2);
        resp_write_bulk_slice(ctx->out, subkey_list_sub(&s->entries, e));
        if (withvalues)
            resp_write_bulk_slice(ctx->out, subkey_list_value(&s->entries, e));
    }
}

/* HRANDFIELD key [count [WITHVALUES]] -> without count a random field or nil; with a count an
 * array: distinct fields (count > 0, at most the hash), or |count| picks with repetitions. */
static enum kv_code
cmd_hrandfield(struct cmd_ctx *ctx)
{
    struct subkey_sample s = {SUBKEY_LIST_INIT, NULL, 0};
    enum kv_code rc;
    if (ctx->argc == 2) {
        rc = hash_random(ctx->db, ctx->argv[1], 1, true, &s, ctx->err);
        count_lookup(ctx, rc);
        if (rc == KV_OK && s.npicks > 0) {
            resp_write_bulk_slice(ctx->out, subkey_list_sub(&s.entries, s.picks[0]));
        } else if (rc == KV_OK || rc == KV_NOTFOUND) {
            resp_write_null(ctx->out);
            rc = KV_OK;
        }
        goto out;
    }
    int64_t l;
    if ((rc = args_int64(ctx, 2, &l)) != KV_OK)
        goto out;
    if (l == INT64_MIN) {
        rc = args_error(ctx, KV_ERR_INVALID, ERR_RANGE_BETWEEN, -INT64_MAX, INT64_MAX);
        goto out;
    }
    bool withvalues = false;
    if (ctx->argc > 4 || (ctx->argc == 4 && !args_is(ctx, 3, "withvalues"))) {
        rc = args_syntax_error(ctx);
        goto out;
    }
    if (ctx->argc == 4) {
        withvalues = true;
        if (l < -INT64_MAX / 2 || l > INT64_MAX / 2) {
            rc = args_error(ctx, KV_ERR_INVALID, "%s", ERR_OUT_OF_RANGE);
            goto out;
        }
    }
    uint64_t size = 0;
    rc = hash_size(ctx->db, ctx->argv[1], &size, ctx->err);
    count_lookup(ctx, rc == KV_OK && size == 0 ? KV_NOTFOUND : rc);
    if (rc != KV_OK)
        goto out;
    if (size == 0 || l == 0) {
        resp_write_array(ctx->out, 0);
        goto out;
    }
    uint64_t count = l > 0 ? (uint64_t)l : (uint64_t)-l;
    if (l < 0 && count > SUBKEY_SAMPLE_MAX_REPEATED) {
        rc = args_error(ctx, KV_ERR_INVALID, "%s", ERR_OUT_OF_RANGE);
        goto out;
    }
    rc = hash_random(ctx->db, ctx->argv[1], count, l > 0, &s, ctx->err);
    if (rc == KV_NOTFOUND)
        rc = KV_OK; /* deleted meanwhile: no picks */
    if (rc == KV_OK)
        reply_random_fields(ctx, &s, withvalues);
out:
    subkey_sample_deinit(&s);
    return rc;
}

/* The options of HSCAN after the cursor. */
struct hscan_opts {
    struct kv_slice pattern; /* ptr NULL: no MATCH */
    int64_t count;           /* fields to examine, >= 1 */
};

/* [MATCH pattern] [COUNT count] in any order, the last of each winning, as Redis 7.0: a COUNT
 * below 1 or any other word is a syntax error. */
static enum kv_code
parse_hscan_opts(struct cmd_ctx *ctx, int from, struct hscan_opts *o)
{
    o->pattern = kv_slice_make(NULL, 0);
    o->count = 10;
    for (int i = from; i < ctx->argc; i += 2) {
        bool has_value = i + 1 < ctx->argc;
        if (args_is(ctx, i, "count") && has_value) {
            enum kv_code rc = args_int64(ctx, i + 1, &o->count);
            if (rc != KV_OK)
                return rc;
            if (o->count < 1)
                return args_syntax_error(ctx);
        } else if (args_is(ctx, i, "match") && has_value) {
            o->pattern = ctx->argv[i + 1];
        } else {
            return args_syntax_error(ctx);
        }
    }
    return KV_OK;
}

/* HSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor (bulk), [field, value, ...]].
 * Checks in Redis's order: the cursor, then the key (absent: an empty, finished scan whatever the
 * options), then the options. An unknown cursor restarts from the first field. */
static enum kv_code
cmd_hscan(struct cmd_ctx *ctx)
{
    uint64_t cursor = 0;
    if (scan_cursor_parse(ctx->argv[2], &cursor) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_INVALID_CURSOR);
    uint64_t size = 0;
    enum kv_code rc = hash_size(ctx->db, ctx->argv[1], &size, ctx->err);
    count_lookup(ctx, rc == KV_OK && size == 0 ? KV_NOTFOUND : rc);
    if (rc != KV_OK)
        return rc;
    struct hscan_opts o = {{NULL, 0}, 10};
    if (size > 0 && (rc = parse_hscan_opts(ctx, 3, &o)) != KV_OK)
        return rc;
    struct scan_cursor_table *table = scan_cursor_shared();
    struct kv_buf pos = KV_BUF_INIT, last = KV_BUF_INIT;
    struct subkey_list l = SUBKEY_LIST_INIT;
    bool done = true;
    if (size > 0) {
        bool resume =
            scan_cursor_find(table, cursor, SCAN_CURSOR_HASH, ctx->db->ns, ctx->argv[1], &pos);
        struct kv_slice after = kv_slice_make(pos.ptr != NULL ? pos.ptr : "", pos.len);
        rc = hash_scan(ctx->db, ctx->argv[1], resume ? &after : NULL, o.pattern, (size_t)o.count,
                       subkey_list_collect, &l, &last, &done, ctx->err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            done = true;
        }
    }
    if (rc == KV_OK) {
        uint64_t next = done ? 0
                             : scan_cursor_save(table, SCAN_CURSOR_HASH, ctx->db->ns, ctx->argv[1],
                                                kv_buf_slice(&last));
        char num[STRCONV_INT64_BUF];
        size_t n = strconv_from_uint64(next, num);
        resp_write_array(ctx->out, 2);
        resp_write_bulk(ctx->out, num, n);
        resp_write_array(ctx->out, l.n * 2);
        for (size_t i = 0; i < l.n; i++) {
            resp_write_bulk_slice(ctx->out, subkey_list_sub(&l, i));
            resp_write_bulk_slice(ctx->out, subkey_list_value(&l, i));
        }
    }
    kv_buf_deinit(&pos);
    kv_buf_deinit(&last);
    subkey_list_deinit(&l);
    return rc;
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
