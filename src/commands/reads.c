/* SPDX-License-Identifier: Apache-2.0
 *
 * reads: the read-command bodies the data types share (see reads.h).
 */
#include "commands/reads.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>

#include "commands/args.h"
#include "commands/errors.h"
#include "common/strconv.h"
#include "server/server.h"

void
reads_count_lookup(struct cmd_ctx *ctx, enum kv_code rc)
{
    if (rc == KV_OK || rc == KV_ERR_WRONGTYPE)
        atomic_fetch_add_explicit(&ctx->srv->stats.keyspace_hits, 1, memory_order_relaxed);
    else if (rc == KV_NOTFOUND)
        atomic_fetch_add_explicit(&ctx->srv->stats.keyspace_misses, 1, memory_order_relaxed);
}

uint64_t
reads_bitmap_string_max(const struct cmd_ctx *ctx)
{
    int mb = ctx->srv->cfg->max_bitmap_to_string_mb;
    return mb > 0 ? (uint64_t)mb << 20 : 0;
}

/* [MATCH pattern] [COUNT count] from argv[from] on. */
static enum kv_code
parse_scan_opts(struct cmd_ctx *ctx, int from, struct kv_slice *pattern, int64_t *count)
{
    *pattern = kv_slice_make(NULL, 0);
    *count = 10;
    for (int i = from; i < ctx->argc; i += 2) {
        bool has_value = i + 1 < ctx->argc;
        if (args_is(ctx, i, "count") && has_value) {
            enum kv_code rc = args_int64(ctx, i + 1, count);
            if (rc != KV_OK)
                return rc;
            if (*count < 1)
                return args_syntax_error(ctx);
        } else if (args_is(ctx, i, "match") && has_value) {
            *pattern = ctx->argv[i + 1];
        } else {
            return args_syntax_error(ctx);
        }
    }
    return KV_OK;
}

enum kv_code
reads_scan_generic(struct cmd_ctx *ctx, const struct reads_scan_ops *ops)
{
    uint64_t cursor = 0;
    if (scan_cursor_parse(ctx->argv[2], &cursor) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_INVALID_CURSOR);
    uint64_t size = 0;
    enum kv_code rc = ops->size(ctx->db, ctx->argv[1], &size, ctx->err);
    reads_count_lookup(ctx, rc == KV_OK && size == 0 ? KV_NOTFOUND : rc);
    if (rc != KV_OK)
        return rc;
    struct kv_slice pattern = {NULL, 0};
    int64_t count = 10;
    if (size > 0 && (rc = parse_scan_opts(ctx, 3, &pattern, &count)) != KV_OK)
        return rc;
    struct scan_cursor_table *table = scan_cursor_shared();
    struct kv_buf pos = KV_BUF_INIT, last = KV_BUF_INIT;
    struct subkey_list l = SUBKEY_LIST_INIT;
    bool done = true;
    if (size > 0) {
        bool resume = scan_cursor_find(table, cursor, ops->kind, ctx->db->ns, ctx->argv[1], &pos);
        struct kv_slice after = kv_slice_make(pos.ptr != NULL ? pos.ptr : "", pos.len);
        rc = ops->scan(ctx->db, ctx->argv[1], resume ? &after : NULL, pattern, (size_t)count,
                       ops->collect, &l, &last, &done, ctx->err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            done = true;
        }
    }
    if (rc == KV_OK) {
        uint64_t next = done ? 0
                             : scan_cursor_save(table, ops->kind, ctx->db->ns, ctx->argv[1],
                                                kv_buf_slice(&last));
        char num[STRCONV_INT64_BUF];
        size_t n = strconv_from_uint64(next, num);
        resp_write_array(ctx->out, 2);
        resp_write_bulk(ctx->out, num, n);
        resp_write_array(ctx->out, ops->pairs ? l.n * 2 : l.n);
        for (size_t i = 0; i < l.n; i++) {
            resp_write_bulk_slice(ctx->out, subkey_list_sub(&l, i));
            if (ops->pairs)
                resp_write_bulk_slice(ctx->out, subkey_list_value(&l, i));
        }
    }
    kv_buf_deinit(&pos);
    kv_buf_deinit(&last);
    subkey_list_deinit(&l);
    return rc;
}

/* The picks of a random read with a count: elements, or with values as flat pairs (RESP2) or
 * two-element arrays (RESP3). */
static void
reply_picks(struct cmd_ctx *ctx, const struct reads_random_ops *ops, const struct subkey_sample *s,
            bool withvalues)
{
    bool nested = withvalues && ctx->out->proto >= 3;
    resp_write_array(ctx->out, withvalues && !nested ? s->npicks * 2 : s->npicks);
    for (size_t i = 0; i < s->npicks; i++) {
        size_t e = s->picks[i];
        if (nested)
            resp_write_array(ctx->out, 2);
        resp_write_bulk_slice(ctx->out, subkey_list_sub(&s->entries, e));
        if (withvalues)
            ops->write_value(ctx, subkey_list_value(&s->entries, e));
    }
}

enum kv_code
reads_random_generic(struct cmd_ctx *ctx, const struct reads_random_ops *ops)
{
    /* Without an option (SRANDMEMBER) extra words are refused before the count is read. */
    if (ops->with_opt == NULL && ctx->argc > 3)
        return args_syntax_error(ctx);
    struct subkey_sample s = {SUBKEY_LIST_INIT, NULL, 0};
    enum kv_code rc;
    if (ctx->argc == 2) {
        rc = ops->random(ctx->db, ctx->argv[1], 1, true, &s, ctx->err);
        reads_count_lookup(ctx, rc);
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
    if (ops->with_opt != NULL) {
        if (ctx->argc > 4 || (ctx->argc == 4 && !args_is(ctx, 3, ops->with_opt))) {
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
    }
    uint64_t size = 0;
    rc = ops->size(ctx->db, ctx->argv[1], &size, ctx->err);
    reads_count_lookup(ctx, rc == KV_OK && size == 0 ? KV_NOTFOUND : rc);
    if (rc != KV_OK)
        goto out;
    if (size == 0 || l == 0) {
        resp_write_array(ctx->out, 0);
        goto out;
    }
    uint64_t count = l > 0 ? (uint64_t)l : (uint64_t)-l;
    if (l < 0 && count > SUBKEY_SAMPLE_MAX_REPEATED) {
        /* Redis would try to build the reply; we refuse what cannot be answered in memory. */
        rc = args_error(ctx, KV_ERR_INVALID, "%s", ERR_OUT_OF_RANGE);
        goto out;
    }
    rc = ops->random(ctx->db, ctx->argv[1], count, l > 0, &s, ctx->err);
    if (rc == KV_NOTFOUND)
        rc = KV_OK; /* deleted meanwhile: no picks */
    if (rc == KV_OK)
        reply_picks(ctx, ops, &s, withvalues);
out:
    subkey_sample_deinit(&s);
    return rc;
}
