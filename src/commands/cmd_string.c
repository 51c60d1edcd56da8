/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_string: string commands (Redis 7.0 semantics and replies): GET, SET, SETNX, SETEX, PSETEX,
 * MGET, MSET, MSETNX, GETSET, GETDEL, GETEX, GETRANGE, SUBSTR, SETRANGE, APPEND, STRLEN, INCR,
 * DECR, INCRBY, DECRBY, INCRBYFLOAT, LCS, and Kvrocks' CAS and CAD. The storage work is in
 * types/str.h (which also says how a bitmap key, a string to Redis, and a HyperLogLog key, which
 * is not one here, are treated); here are argument parsing, Redis's checking order, and the
 * replies.
 */
#include <stdint.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/reads.h"
#include "common/clock.h"
#include "common/mem.h"
#include "server/server.h"
#include "types/str.h"

/* --- shared parsing --- */

/* Options of SET and GETEX (Redis's parseExtendedStringArgumentsOrReply). */
#define SO_NX (1u << 0)
#define SO_XX (1u << 1)
#define SO_GET (1u << 2)
#define SO_KEEPTTL (1u << 3)
#define SO_PERSIST (1u << 4)
#define SO_EX (1u << 5)
#define SO_PX (1u << 6)
#define SO_EXAT (1u << 7)
#define SO_PXAT (1u << 8)
#define SO_ANY_EXPIRE (SO_EX | SO_PX | SO_EXAT | SO_PXAT)

struct ext_opts {
    unsigned flags; /* SO_* */
    int expire_arg; /* argv index of the expiry value, 0 = none */
};

/* Parse SET (for_set) or GETEX options from argv[first..]. The same option twice is accepted (the
 * last expiry wins); conflicting ones, unknown ones and a missing expiry value are syntax errors,
 * as in Redis. */
static enum kv_code
parse_ext_opts(struct cmd_ctx *ctx, int first, bool for_set, struct ext_opts *o)
{
    o->flags = 0;
    o->expire_arg = 0;
    for (int j = first; j < ctx->argc; j++) {
        bool has_next = j + 1 < ctx->argc;
        unsigned f = o->flags;
        if (for_set && args_is(ctx, j, "NX") && !(f & SO_XX)) {
            o->flags |= SO_NX;
        } else if (for_set && args_is(ctx, j, "XX") && !(f & SO_NX)) {
            o->flags |= SO_XX;
        } else if (for_set && args_is(ctx, j, "GET")) {
            o->flags |= SO_GET;
        } else if (for_set && args_is(ctx, j, "KEEPTTL") && !(f & (SO_PERSIST | SO_ANY_EXPIRE))) {
            o->flags |= SO_KEEPTTL;
        } else if (!for_set && args_is(ctx, j, "PERSIST") && !(f & (SO_KEEPTTL | SO_ANY_EXPIRE))) {
            o->flags |= SO_PERSIST;
        } else if (has_next && args_is(ctx, j, "EX") &&
                   !(f & (SO_KEEPTTL | SO_PERSIST | (SO_ANY_EXPIRE & ~SO_EX)))) {
            o->flags |= SO_EX;
            o->expire_arg = ++j;
        } else if (has_next && args_is(ctx, j, "PX") &&
                   !(f & (SO_KEEPTTL | SO_PERSIST | (SO_ANY_EXPIRE & ~SO_PX)))) {
            o->flags |= SO_PX;
            o->expire_arg = ++j;
        } else if (has_next && args_is(ctx, j, "EXAT") &&
                   !(f & (SO_KEEPTTL | SO_PERSIST | (SO_ANY_EXPIRE & ~SO_EXAT)))) {
            o->flags |= SO_EXAT;
            o->expire_arg = ++j;
        } else if (has_next && args_is(ctx, j, "PXAT") &&
                   !(f & (SO_KEEPTTL | SO_PERSIST | (SO_ANY_EXPIRE & ~SO_PXAT)))) {
            o->flags |= SO_PXAT;
            o->expire_arg = ++j;
        } else {
            return args_syntax_error(ctx);
        }
    }
    return KV_OK;
}

/* The expiry in argv[i] as an absolute time in ms (Redis's getExpireMillisecondsOrReply):
 * in seconds or ms, relative to now or absolute. A non-integer is "value is not an integer";
 * zero, negative, or a value that overflows once scaled or added to now is "invalid expire time
 * in '<command>' command". */
static enum kv_code
parse_expire(struct cmd_ctx *ctx, int i, bool seconds, bool relative, int64_t *at_ms)
{
    int64_t v;
    enum kv_code rc = args_int64(ctx, i, &v);
    if (rc != KV_OK)
        return rc;
    if (v <= 0 || (seconds && v > INT64_MAX / 1000))
        return args_error(ctx, KV_ERR_INVALID, ERR_INVALID_EXPIRE, ctx->cmd->name);
    if (seconds)
        v *= 1000;
    if (relative) {
        int64_t now = clock_now_ms();
        if (v > INT64_MAX - now)
            return args_error(ctx, KV_ERR_INVALID, ERR_INVALID_EXPIRE, ctx->cmd->name);
        v += now;
    }
    *at_ms = v;
    return KV_OK;
}

/* The expiry chosen by SO_EX/PX/EXAT/PXAT options. */
static enum kv_code
ext_expire(struct cmd_ctx *ctx, const struct ext_opts *o, int64_t *at_ms)
{
    bool seconds = (o->flags & (SO_EX | SO_EXAT)) != 0;
    bool relative = (o->flags & (SO_EX | SO_PX)) != 0;
    return parse_expire(ctx, o->expire_arg, seconds, relative, at_ms);
}

/* The maximum string length (proto-max-bulk-len). */
static uint64_t
max_string_len(const struct cmd_ctx *ctx)
{
    int64_t v = ctx->srv->cfg->proto_max_bulk_len;
    return v > 0 ? (uint64_t)v : 0;
}

/* Reply a copied value or nil. */
static void
reply_value_or_null(struct cmd_ctx *ctx, bool found, const struct kv_buf *v)
{
    if (found)
        resp_write_bulk(ctx->out, v->ptr, v->len);
    else
        resp_write_null(ctx->out);
}

/* Common tail of the SET family: run str_set and write the reply: the old value or nil with GET,
 * else :1 / :0 when int_reply (SETNX), else +OK / nil (SET). */
static enum kv_code
set_generic(struct cmd_ctx *ctx, struct kv_slice key, struct kv_slice value,
            const struct str_set_opts *opts, bool int_reply)
{
    struct kv_buf old = KV_BUF_INIT;
    bool written = false, had_old = false;
    enum kv_code rc = str_set(ctx->db, key, value, opts, reads_bitmap_string_max(ctx), &written,
                              &old, &had_old, ctx->err);
    if (opts->get)
        reads_count_lookup(ctx, rc == KV_OK ? (had_old ? KV_OK : KV_NOTFOUND) : rc);
    if (rc == KV_OK) {
        if (opts->get)
            reply_value_or_null(ctx, had_old, &old);
        else if (int_reply)
            resp_write_int(ctx->out, written ? 1 : 0);
        else if (written)
            resp_write_ok(ctx->out);
        else
            resp_write_null(ctx->out);
    }
    kv_buf_deinit(&old);
    return rc;
}

/* --- procs --- */

/* GET key -> bulk value or nil. */
static enum kv_code
cmd_get(struct cmd_ctx *ctx)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct kv_slice v;
    enum kv_code rc =
        str_get(ctx->db, ctx->argv[1], reads_bitmap_string_max(ctx), &raw, &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK) {
        resp_write_bulk_slice(ctx->out, v);
    } else if (rc == KV_NOTFOUND) {
        resp_write_null(ctx->out);
        rc = KV_OK;
    }
    kv_buf_deinit(&raw);
    return rc;
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] -> +OK, nil when the
 * condition fails; with GET the old value or nil. */
static enum kv_code
cmd_set(struct cmd_ctx *ctx)
{
    struct ext_opts o;
    enum kv_code rc = parse_ext_opts(ctx, 3, true, &o);
    if (rc != KV_OK)
        return rc;
    struct str_set_opts so = {STR_COND_NONE, STR_TTL_CLEAR, 0, (o.flags & SO_GET) != 0};
    if (o.flags & SO_NX)
        so.cond = STR_COND_NX;
    else if (o.flags & SO_XX)
        so.cond = STR_COND_XX;
    if (o.flags & SO_KEEPTTL) {
        so.ttl = STR_TTL_KEEP;
    } else if (o.flags & SO_ANY_EXPIRE) {
        so.ttl = STR_TTL_AT;
        if ((rc = ext_expire(ctx, &o, &so.expire_at_ms)) != KV_OK)
            return rc;
    }
    return set_generic(ctx, ctx->argv[1], ctx->argv[2], &so, false);
}

/* SETNX key value -> :1 when set, :0 when the key existed. */
static enum kv_code
cmd_setnx(struct cmd_ctx *ctx)
{
    struct str_set_opts so = {STR_COND_NX, STR_TTL_CLEAR, 0, false};
    return set_generic(ctx, ctx->argv[1], ctx->argv[2], &so, true);
}

/* SETEX key seconds value / PSETEX key ms value -> +OK. */
static enum kv_code
setex_generic(struct cmd_ctx *ctx, bool seconds)
{
    struct str_set_opts so = {STR_COND_NONE, STR_TTL_AT, 0, false};
    enum kv_code rc = parse_expire(ctx, 2, seconds, true, &so.expire_at_ms);
    if (rc != KV_OK)
        return rc;
    return set_generic(ctx, ctx->argv[1], ctx->argv[3], &so, false);
}

/* SETEX key seconds value -> +OK. */
static enum kv_code
cmd_setex(struct cmd_ctx *ctx)
{
    return setex_generic(ctx, true);
}

/* PSETEX key milliseconds value -> +OK. */
static enum kv_code
cmd_psetex(struct cmd_ctx *ctx)
{
    return setex_generic(ctx, false);
}

/* GETSET key value -> the old value or nil; the new value has no expiry. */
static enum kv_code
cmd_getset(struct cmd_ctx *ctx)
{
    struct str_set_opts so = {STR_COND_NONE, STR_TTL_CLEAR, 0, true};
    return set_generic(ctx, ctx->argv[1], ctx->argv[2], &so, false);
}

/* MGET key [key ...] -> array of values (a bitmap key's string form), nil for absent keys and keys
 * of other types. */
static enum kv_code
cmd_mget(struct cmd_ctx *ctx)
{
    size_t n = (size_t)ctx->argc - 1;
    struct kv_buf *raws = kv_calloc(n, sizeof *raws);
    struct kv_slice *values = kv_malloc(n * sizeof *values);
    enum meta_type *types = kv_malloc(n * sizeof *types);
    enum kv_code rc = str_mget(ctx->db, &ctx->argv[1], n, reads_bitmap_string_max(ctx), raws,
                               values, types, ctx->err);
    if (rc == KV_OK) {
        resp_write_array(ctx->out, n);
        for (size_t i = 0; i < n; i++) {
            reads_count_lookup(ctx, types[i] != META_NONE ? KV_OK : KV_NOTFOUND);
            if (types[i] == META_STRING)
                resp_write_bulk_slice(ctx->out, values[i]);
            else
                resp_write_null(ctx->out);
        }
    }
    for (size_t i = 0; i < n; i++)
        kv_buf_deinit(&raws[i]);
    kv_free(raws);
    kv_free(values);
    kv_free(types);
    return rc;
}

/* MSET / MSETNX common part: key value pairs from argv[1]. */
static enum kv_code
mset_generic(struct cmd_ctx *ctx, bool nx)
{
    if (ctx->argc % 2 == 0)
        return args_arity_error(ctx);
    bool written = false;
    enum kv_code rc =
        str_mset(ctx->db, &ctx->argv[1], (size_t)(ctx->argc - 1) / 2, nx, &written, ctx->err);
    if (rc != KV_OK)
        return rc;
    if (nx)
        resp_write_int(ctx->out, written ? 1 : 0);
    else
        resp_write_ok(ctx->out);
    return KV_OK;
}

/* MSET key value [key value ...] -> +OK (atomic). */
static enum kv_code
cmd_mset(struct cmd_ctx *ctx)
{
    return mset_generic(ctx, false);
}

/* MSETNX key value [key value ...] -> :1 when all were set, :0 when any key existed. */
static enum kv_code
cmd_msetnx(struct cmd_ctx *ctx)
{
    return mset_generic(ctx, true);
}

/* GETDEL key -> the value (the key is deleted) or nil. */
static enum kv_code
cmd_getdel(struct cmd_ctx *ctx)
{
    struct kv_buf v = KV_BUF_INIT;
    enum kv_code rc = str_getdel(ctx->db, ctx->argv[1], reads_bitmap_string_max(ctx), &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK || rc == KV_NOTFOUND) {
        reply_value_or_null(ctx, rc == KV_OK, &v);
        rc = KV_OK;
    }
    kv_buf_deinit(&v);
    return rc;
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] -> the value or nil, after changing the expiry.
 * As in Redis, an absent key is nil and a key of another type WRONGTYPE before the expiry value
 * is validated. */
static enum kv_code
cmd_getex(struct cmd_ctx *ctx)
{
    struct ext_opts o;
    enum kv_code rc = parse_ext_opts(ctx, 2, false, &o);
    if (rc != KV_OK)
        return rc;
    enum str_ttl ttl = STR_TTL_KEEP;
    int64_t at_ms = 0;
    if (o.flags & SO_PERSIST) {
        ttl = STR_TTL_CLEAR;
    } else if (o.flags & SO_ANY_EXPIRE) {
        ttl = STR_TTL_AT;
        rc = ext_expire(ctx, &o, &at_ms);
        if (rc != KV_OK) {
            /* Report the expiry error only for a live string (or bitmap) key: STRLEN's type
             * check, which reads no value. */
            int64_t len;
            enum kv_code rrc = str_strlen(ctx->db, ctx->argv[1], &len, ctx->err);
            reads_count_lookup(ctx, rrc);
            if (rrc == KV_NOTFOUND) {
                resp_write_null(ctx->out);
                return KV_OK;
            }
            if (rrc != KV_OK)
                return rrc;
            return ext_expire(ctx, &o, &at_ms);
        }
    }
    struct kv_buf v = KV_BUF_INIT;
    rc = str_getex(ctx->db, ctx->argv[1], ttl, at_ms, reads_bitmap_string_max(ctx), &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK || rc == KV_NOTFOUND) {
        reply_value_or_null(ctx, rc == KV_OK, &v);
        rc = KV_OK;
    }
    kv_buf_deinit(&v);
    return rc;
}

/* GETRANGE key start end (and SUBSTR) -> the inclusive byte range, "" when empty or absent. */
static enum kv_code
cmd_getrange(struct cmd_ctx *ctx)
{
    int64_t start, end;
    enum kv_code rc;
    if ((rc = args_int64(ctx, 2, &start)) != KV_OK || (rc = args_int64(ctx, 3, &end)) != KV_OK)
        return rc;
    struct kv_buf v = KV_BUF_INIT;
    rc =
        str_getrange(ctx->db, ctx->argv[1], start, end, reads_bitmap_string_max(ctx), &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK || rc == KV_NOTFOUND) {
        resp_write_bulk(ctx->out, v.len ? v.ptr : "", v.len);
        rc = KV_OK;
    }
    kv_buf_deinit(&v);
    return rc;
}

/* SETRANGE key offset value -> the new length. */
static enum kv_code
cmd_setrange(struct cmd_ctx *ctx)
{
    int64_t offset;
    enum kv_code rc = args_int64(ctx, 2, &offset);
    if (rc != KV_OK)
        return rc;
    if (offset < 0)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_OFFSET_RANGE);
    int64_t len = 0;
    rc = str_setrange(ctx->db, ctx->argv[1], offset, ctx->argv[3], max_string_len(ctx),
                      reads_bitmap_string_max(ctx), &len, ctx->err);
    if (rc == KV_ERR_RANGE)
        return args_error(ctx, KV_ERR_RANGE, "%s", ERR_STRING_TOO_LONG);
    if (rc == KV_OK)
        resp_write_int(ctx->out, len);
    return rc;
}

/* APPEND key value -> the new length. */
static enum kv_code
cmd_append(struct cmd_ctx *ctx)
{
    int64_t len = 0;
    enum kv_code rc = str_append(ctx->db, ctx->argv[1], ctx->argv[2], max_string_len(ctx),
                                 reads_bitmap_string_max(ctx), &len, ctx->err);
    if (rc == KV_ERR_RANGE)
        return args_error(ctx, KV_ERR_RANGE, "%s", ERR_STRING_TOO_LONG);
    if (rc == KV_OK)
        resp_write_int(ctx->out, len);
    return rc;
}

/* STRLEN key -> the length, 0 when absent. */
static enum kv_code
cmd_strlen(struct cmd_ctx *ctx)
{
    int64_t len = 0;
    enum kv_code rc = str_strlen(ctx->db, ctx->argv[1], &len, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK || rc == KV_NOTFOUND) {
        resp_write_int(ctx->out, len);
        rc = KV_OK;
    }
    return rc;
}

/* INCR/DECR/INCRBY/DECRBY common part -> the new value. */
static enum kv_code
incr_generic(struct cmd_ctx *ctx, int64_t incr)
{
    int64_t v = 0;
    enum kv_code rc =
        str_incrby(ctx->db, ctx->argv[1], incr, reads_bitmap_string_max(ctx), &v, ctx->err);
    if (rc == KV_ERR_INVALID)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_NOT_INTEGER);
    if (rc == KV_ERR_RANGE)
        return args_error(ctx, KV_ERR_RANGE, "%s", ERR_OVERFLOW);
    if (rc == KV_OK)
        resp_write_int(ctx->out, v);
    return rc;
}

/* INCR key -> the new value. */
static enum kv_code
cmd_incr(struct cmd_ctx *ctx)
{
    return incr_generic(ctx, 1);
}

/* DECR key -> the new value. */
static enum kv_code
cmd_decr(struct cmd_ctx *ctx)
{
    return incr_generic(ctx, -1);
}

/* INCRBY key increment -> the new value. */
static enum kv_code
cmd_incrby(struct cmd_ctx *ctx)
{
    int64_t by;
    enum kv_code rc = args_int64(ctx, 2, &by);
    if (rc != KV_OK)
        return rc;
    return incr_generic(ctx, by);
}

/* DECRBY key decrement -> the new value. */
static enum kv_code
cmd_decrby(struct cmd_ctx *ctx)
{
    int64_t by;
    enum kv_code rc = args_int64(ctx, 2, &by);
    if (rc != KV_OK)
        return rc;
    if (by == INT64_MIN)
        return args_error(ctx, KV_ERR_RANGE, "decrement would overflow");
    return incr_generic(ctx, -by);
}

/* INCRBYFLOAT key increment -> the new value as a bulk string. */
static enum kv_code
cmd_incrbyfloat(struct cmd_ctx *ctx)
{
    struct kv_buf v = KV_BUF_INIT;
    enum kv_code rc = str_incrbyfloat(ctx->db, ctx->argv[1], ctx->argv[2],
                                      reads_bitmap_string_max(ctx), &v, ctx->err);
    if (rc == KV_ERR_INVALID)
        rc = args_error(ctx, KV_ERR_INVALID, "%s", ERR_NOT_FLOAT);
    else if (rc == KV_ERR_RANGE)
        rc = args_error(ctx, KV_ERR_RANGE, "%s", ERR_NAN_OR_INF);
    else if (rc == KV_OK)
        resp_write_bulk(ctx->out, v.ptr, v.len);
    kv_buf_deinit(&v);
    return rc;
}

/* Write LCS's IDX reply: {matches: [[[a0, a1], [b0, b1](, len)], ...], len: n}. */
static void
reply_lcs_idx(struct cmd_ctx *ctx, const struct str_lcs *r, bool with_len)
{
    resp_write_map(ctx->out, 2);
    resp_write_bulk_cstr(ctx->out, "matches");
    resp_write_array(ctx->out, r->nmatches);
    for (size_t i = 0; i < r->nmatches; i++) {
        const struct str_lcs_match *mt = &r->matches[i];
        resp_write_array(ctx->out, with_len ? 3 : 2);
        resp_write_array(ctx->out, 2);
        resp_write_int(ctx->out, mt->a_start);
        resp_write_int(ctx->out, mt->a_end);
        resp_write_array(ctx->out, 2);
        resp_write_int(ctx->out, mt->b_start);
        resp_write_int(ctx->out, mt->b_end);
        if (with_len)
            resp_write_int(ctx->out, (int64_t)mt->a_end - mt->a_start + 1);
    }
    resp_write_bulk_cstr(ctx->out, "len");
    resp_write_int(ctx->out, r->len);
}

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] -> the LCS string, its length, or
 * the matching ranges. */
static enum kv_code
cmd_lcs(struct cmd_ctx *ctx)
{
    struct kv_buf raws[2] = {KV_BUF_INIT, KV_BUF_INIT};
    struct kv_slice vals[2];
    enum meta_type types[2];
    struct str_lcs r;
    memset(&r, 0, sizeof r);
    enum kv_code rc = str_mget(ctx->db, &ctx->argv[1], 2, reads_bitmap_string_max(ctx), raws, vals,
                               types, ctx->err);
    if (rc != KV_OK)
        goto out;
    for (int i = 0; i < 2; i++)
        reads_count_lookup(ctx, types[i] != META_NONE ? KV_OK : KV_NOTFOUND);
    if ((types[0] != META_NONE && types[0] != META_STRING) ||
        (types[1] != META_NONE && types[1] != META_STRING)) {
        rc = args_error(ctx, KV_ERR, "The specified keys must contain string values");
        goto out;
    }
    bool idx = false, len = false, withmatchlen = false;
    int64_t minmatchlen = 0;
    for (int j = 3; j < ctx->argc; j++) {
        if (args_is(ctx, j, "IDX")) {
            idx = true;
        } else if (args_is(ctx, j, "LEN")) {
            len = true;
        } else if (args_is(ctx, j, "WITHMATCHLEN")) {
            withmatchlen = true;
        } else if (args_is(ctx, j, "MINMATCHLEN") && j + 1 < ctx->argc) {
            if ((rc = args_int64(ctx, j + 1, &minmatchlen)) != KV_OK)
                goto out;
            if (minmatchlen < 0)
                minmatchlen = 0;
            j++;
        } else {
            rc = args_syntax_error(ctx);
            goto out;
        }
    }
    if (idx && len) {
        rc = args_error(ctx, KV_ERR,
                        "If you want both the length and indexes, please just use IDX.");
        goto out;
    }
    struct kv_slice a = types[0] == META_STRING ? vals[0] : kv_slice_make("", 0);
    struct kv_slice b = types[1] == META_STRING ? vals[1] : kv_slice_make("", 0);
    /* As Redis: the table of (len(a) + 1) * (len(b) + 1) 4-byte cells may not exceed
     * proto-max-bulk-len (two 100 KB strings would otherwise ask for 40 GB). */
    uint64_t cells = ((uint64_t)a.len + 1) * ((uint64_t)b.len + 1);
    if (a.len < UINT32_MAX - 1 && b.len < UINT32_MAX - 1 && cells > max_string_len(ctx) / 4) {
        rc = args_error(ctx, KV_ERR,
                        "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        goto out;
    }
    rc = str_lcs_compute(a, b, !idx && !len, idx, minmatchlen, &r, ctx->err);
    if (rc == KV_ERR_RANGE) {
        rc = args_error(ctx, KV_ERR, "String too long for LCS");
        goto out;
    }
    if (rc == KV_ERR_NOMEM) {
        rc = args_error(ctx, KV_ERR,
                        "Insufficient memory, failed allocating transient memory for LCS");
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    if (idx)
        reply_lcs_idx(ctx, &r, withmatchlen);
    else if (len)
        resp_write_int(ctx->out, r.len);
    else
        resp_write_bulk(ctx->out, r.str.ptr != NULL ? r.str.ptr : "", r.str.len);
out:
    str_lcs_deinit(&r);
    kv_buf_deinit(&raws[0]);
    kv_buf_deinit(&raws[1]);
    return rc;
}

/* CAS key expected new [EX s|PX ms|EXAT s|PXAT ms] (Kvrocks) -> :1 replaced, :0 the value
 * differs, :-1 the key is absent. Without an expiry option the new value has none. */
static enum kv_code
cmd_cas(struct cmd_ctx *ctx)
{
    int64_t at_ms = 0;
    const char *chosen = NULL;
    static const char *const names[] = {"EX", "PX", "EXAT", "PXAT"};
    for (int j = 4; j < ctx->argc; j += 2) {
        size_t k = 0;
        while (k < 4 && !args_is(ctx, j, names[k]))
            k++;
        if (k == 4 || j + 1 >= ctx->argc || (chosen != NULL && chosen != names[k]))
            return args_syntax_error(ctx);
        chosen = names[k];
        enum kv_code rc = parse_expire(ctx, j + 1, k == 0 || k == 2, k < 2, &at_ms);
        if (rc != KV_OK)
            return rc;
    }
    int result = 0;
    enum kv_code rc =
        str_cas(ctx->db, ctx->argv[1], ctx->argv[2], ctx->argv[3], at_ms, &result, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, result);
    return rc;
}

/* CAD key expected (Kvrocks) -> :1 deleted, :0 the value differs, :-1 the key is absent. */
static enum kv_code
cmd_cad(struct cmd_ctx *ctx)
{
    int result = 0;
    enum kv_code rc = str_cad(ctx->db, ctx->argv[1], ctx->argv[2], &result, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, result);
    return rc;
}

const struct command_spec string_commands[] = {
    {"get", cmd_get, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"set", cmd_set, -3, CMD_WRITE, 1, 1, 1, NULL, "string"},
    {"setnx", cmd_setnx, 3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"setex", cmd_setex, 4, CMD_WRITE, 1, 1, 1, NULL, "string"},
    {"psetex", cmd_psetex, 4, CMD_WRITE, 1, 1, 1, NULL, "string"},
    {"getset", cmd_getset, 3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"mget", cmd_mget, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, NULL, "string"},
    {"mset", cmd_mset, -3, CMD_WRITE, 1, -1, 2, NULL, "string"},
    {"msetnx", cmd_msetnx, -3, CMD_WRITE, 1, -1, 2, NULL, "string"},
    {"getdel", cmd_getdel, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"getex", cmd_getex, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"getrange", cmd_getrange, 4, CMD_READONLY, 1, 1, 1, NULL, "string"},
    {"substr", cmd_getrange, 4, CMD_READONLY, 1, 1, 1, NULL, "string"},
    {"setrange", cmd_setrange, 4, CMD_WRITE, 1, 1, 1, NULL, "string"},
    {"append", cmd_append, 3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"strlen", cmd_strlen, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"incr", cmd_incr, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"decr", cmd_decr, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"incrby", cmd_incrby, 3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"decrby", cmd_decrby, 3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"incrbyfloat", cmd_incrbyfloat, 3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "string"},
    {"lcs", cmd_lcs, -3, CMD_READONLY, 1, 2, 1, NULL, "string"},
    {"cas", cmd_cas, -4, CMD_WRITE, 1, 1, 1, NULL, "string"},
    {"cad", cmd_cad, 3, CMD_WRITE, 1, 1, 1, NULL, "string"},
};
const size_t string_commands_len = sizeof string_commands / sizeof string_commands[0];
