/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_zset: the sorted set commands (Redis 7.0 semantics, replies and error texts): ZADD,
 * ZINCRBY, ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK, ZREVRANK (with Redis 7.2's
 * WITHSCORE), ZRANGE, ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
 * ZREVRANGEBYLEX, ZREM, ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX, ZPOPMIN, ZPOPMAX,
 * ZMPOP, the blocking BZPOPMIN, BZPOPMAX, BZMPOP, ZRANDMEMBER, ZUNION, ZINTER, ZDIFF, their STORE
 * forms, ZINTERCARD and ZSCAN. The storage work is in types/zset.h; blocking goes through
 * server/blocking.h. Here are argument parsing in Redis's checking order and the replies: scores
 * are doubles (RESP3 ",d"), and WITHSCORES replies are flat in RESP2 and [member, score] pairs in
 * RESP3, as Redis 7.0 answers.
 *
 * ZSCAN cursors are integers from the server-wide table of commands/scan_cursor.h, bound to the
 * key; members come in byte order and COUNT bounds the members examined per call. Its scores are
 * printed as Redis prints the scores of the (small, listpack-encoded) zsets it answers in one
 * call: integers without exponent up to 2^62, "%.17g" otherwise.
 *
 * Threads: the connection's worker.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/reads.h"
#include "commands/scan_cursor.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "server/blocking.h"
#include "server/server.h"
#include "types/zset.h"

/* --- shared helpers --- */

/* A score range from argv[i], argv[j] ("min or max is not a float"). */
static enum kv_code
parse_score_range(struct cmd_ctx *ctx, int i, int j, struct zset_score_range *r)
{
    if (zset_parse_score_range(ctx->argv[i], ctx->argv[j], r) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_MIN_MAX_FLOAT);
    return KV_OK;
}

/* A lex range from argv[i], argv[j] ("min or max not valid string range item"). */
static enum kv_code
parse_lex_range(struct cmd_ctx *ctx, int i, int j, struct zset_lex_range *r)
{
    if (zset_parse_lex_range(ctx->argv[i], ctx->argv[j], r) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_MIN_MAX_LEX);
    return KV_OK;
}

/* Redis's getPositiveLongFromObjectOrReply without a message: a non-integer and a negative
 * number are both "value is out of range, must be positive". */
static enum kv_code
parse_positive(struct cmd_ctx *ctx, int i, int64_t *out)
{
    return args_int64_range(ctx, i, 0, INT64_MAX, ERR_OUT_OF_RANGE_POSITIVE, out);
}

/* Reply a list of members, with their scores when asked: flat in RESP2, [member, score] pairs in
 * RESP3. */
static void
reply_list(struct cmd_ctx *ctx, const struct zset_list *l, bool withscores)
{
    bool nested = withscores && ctx->out->proto >= 3;
    resp_write_array(ctx->out, withscores && !nested ? l->n * 2 : l->n);
    for (size_t i = 0; i < l->n; i++) {
        if (nested)
            resp_write_array(ctx->out, 2);
        resp_write_bulk_slice(ctx->out, zset_list_member(l, i));
        if (withscores)
            resp_write_double(ctx->out, l->items[i].score);
    }
}

/* Reply members and scores as one flat array in every protocol (ZPOPMIN without COUNT). */
static void
reply_flat(struct cmd_ctx *ctx, const struct zset_list *l)
{
    resp_write_array(ctx->out, l->n * 2);
    for (size_t i = 0; i < l->n; i++) {
        resp_write_bulk_slice(ctx->out, zset_list_member(l, i));
        resp_write_double(ctx->out, l->items[i].score);
    }
}

/* Reply popped members as [member, score] pairs. */
static void
reply_pairs(struct cmd_ctx *ctx, const struct zset_list *l)
{
    resp_write_array(ctx->out, l->n);
    for (size_t i = 0; i < l->n; i++) {
        resp_write_array(ctx->out, 2);
        resp_write_bulk_slice(ctx->out, zset_list_member(l, i));
        resp_write_double(ctx->out, l->items[i].score);
    }
}

/* --- ZADD / ZINCRBY --- */

/* The options of ZADD (zaddGenericCommand). */
struct zadd_opts {
    unsigned flags;  /* ZSET_ADD_* */
    bool ch;         /* reply added + updated */
    int score_index; /* argv index of the first score */
    size_t n;        /* score-member pairs */
};

/* Parse ZADD's leading options and check the pair count and the conflicts, in Redis's order.
 * `flags` are preset (ZINCRBY: INCR). */
static enum kv_code
parse_zadd_opts(struct cmd_ctx *ctx, unsigned flags, struct zadd_opts *o)
{
    o->flags = flags;
    o->ch = false;
    int i = 2;
    for (; i < ctx->argc; i++) {
        if (args_is(ctx, i, "nx"))
            o->flags |= ZSET_ADD_NX;
        else if (args_is(ctx, i, "xx"))
            o->flags |= ZSET_ADD_XX;
        else if (args_is(ctx, i, "ch"))
            o->ch = true;
        else if (args_is(ctx, i, "incr"))
            o->flags |= ZSET_ADD_INCR;
        else if (args_is(ctx, i, "gt"))
            o->flags |= ZSET_ADD_GT;
        else if (args_is(ctx, i, "lt"))
            o->flags |= ZSET_ADD_LT;
        else
            break;
    }
    o->score_index = i;
    int elements = ctx->argc - i;
    if (elements == 0 || elements % 2 != 0)
        return args_syntax_error(ctx);
    o->n = (size_t)elements / 2;
    unsigned f = o->flags;
    if ((f & ZSET_ADD_NX) && (f & ZSET_ADD_XX))
        return args_error(ctx, KV_ERR_SYNTAX, "%s", ERR_NX_XX);
    if (((f & ZSET_ADD_GT) && (f & ZSET_ADD_NX)) || ((f & ZSET_ADD_LT) && (f & ZSET_ADD_NX)) ||
        ((f & ZSET_ADD_GT) && (f & ZSET_ADD_LT)))
        return args_error(ctx, KV_ERR_SYNTAX, "%s", ERR_GT_LT_NX);
    if ((f & ZSET_ADD_INCR) && o->n > 1)
        return args_error(ctx, KV_ERR_SYNTAX, "%s", ERR_ZADD_INCR_PAIR);
    return KV_OK;
}

/* ZADD / ZINCRBY common part: -> integer (added, or added + updated with CH); with INCR the new
 * score, or nil when a condition skipped it. */
static enum kv_code
zadd_generic(struct cmd_ctx *ctx, unsigned flags)
{
    struct zadd_opts o = {0, false, 0, 0};
    enum kv_code rc = parse_zadd_opts(ctx, flags, &o);
    if (rc != KV_OK)
        return rc;
    double *scores = kv_malloc(o.n * sizeof *scores);
    struct kv_slice *members = kv_malloc(o.n * sizeof *members);
    for (size_t i = 0; i < o.n; i++) {
        int at = o.score_index + 2 * (int)i;
        if ((rc = args_double(ctx, at, &scores[i])) != KV_OK)
            goto out;
        members[i] = ctx->argv[at + 1];
    }
    struct zset_add_result res = {0, 0, false, 0};
    rc = zset_add(ctx->db, ctx->argv[1], scores, members, o.n, o.flags, &res, ctx->err);
    if (rc == KV_ERR_RANGE) {
        rc = args_error(ctx, KV_ERR, "%s", ERR_ZSET_NAN);
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    if (o.flags & ZSET_ADD_INCR) {
        if (res.processed)
            resp_write_double(ctx->out, res.score);
        else
            resp_write_null(ctx->out);
    } else {
        resp_write_int(ctx->out, (int64_t)(o.ch ? res.added + res.updated : res.added));
    }
out:
    kv_free(scores);
    kv_free(members);
    return rc;
}

/* ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...] -> integer, or with INCR
 * the new score (nil when skipped). */
static enum kv_code
cmd_zadd(struct cmd_ctx *ctx)
{
    return zadd_generic(ctx, 0);
}

/* ZINCRBY key increment member -> the new score. (Parsed as ZADD INCR, as Redis does.) */
static enum kv_code
cmd_zincrby(struct cmd_ctx *ctx)
{
    return zadd_generic(ctx, ZSET_ADD_INCR);
}

/* --- simple reads --- */

/* ZCARD key -> integer: the number of members (0 when absent). */
static enum kv_code
cmd_zcard(struct cmd_ctx *ctx)
{
    uint64_t n = 0;
    enum kv_code rc = zset_card(ctx->db, ctx->argv[1], &n, ctx->err);
    reads_count_lookup(ctx, rc == KV_OK && n == 0 ? KV_NOTFOUND : rc);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)n);
    return rc;
}

/* ZCOUNT / ZLEXCOUNT common part. */
static enum kv_code
count_generic(struct cmd_ctx *ctx, enum zset_by by)
{
    struct zset_range_spec spec;
    zset_range_spec_init(&spec, by);
    enum kv_code rc = by == ZSET_BY_SCORE ? parse_score_range(ctx, 2, 3, &spec.score)
                                          : parse_lex_range(ctx, 2, 3, &spec.lex);
    if (rc != KV_OK)
        return rc;
    uint64_t n = 0;
    rc = zset_count(ctx->db, ctx->argv[1], &spec, &n, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)n);
    return rc;
}

/* ZCOUNT key min max -> integer: members with a score in [min, max]. */
static enum kv_code
cmd_zcount(struct cmd_ctx *ctx)
{
    return count_generic(ctx, ZSET_BY_SCORE);
}

/* ZLEXCOUNT key min max -> integer: members in the lexicographic range. */
static enum kv_code
cmd_zlexcount(struct cmd_ctx *ctx)
{
    return count_generic(ctx, ZSET_BY_LEX);
}

/* ZSCORE key member -> the score (a double), or nil. */
static enum kv_code
cmd_zscore(struct cmd_ctx *ctx)
{
    double score = 0;
    bool found = false;
    enum kv_code rc =
        zset_mscore(ctx->db, ctx->argv[1], &ctx->argv[2], 1, &score, &found, ctx->err);
    if (rc != KV_OK)
        return rc;
    if (found)
        resp_write_double(ctx->out, score);
    else
        resp_write_null(ctx->out);
    return KV_OK;
}

/* ZMSCORE key member [member ...] -> array of scores (nil for absent members). */
static enum kv_code
cmd_zmscore(struct cmd_ctx *ctx)
{
    size_t n = (size_t)ctx->argc - 2;
    double *scores = kv_malloc(n * sizeof *scores);
    bool *found = kv_malloc(n * sizeof *found);
    enum kv_code rc = zset_mscore(ctx->db, ctx->argv[1], &ctx->argv[2], n, scores, found, ctx->err);
    if (rc == KV_OK) {
        resp_write_array(ctx->out, n);
        for (size_t i = 0; i < n; i++) {
            if (found[i])
                resp_write_double(ctx->out, scores[i]);
            else
                resp_write_null(ctx->out);
        }
    }
    kv_free(scores);
    kv_free(found);
    return rc;
}

/* ZRANK / ZREVRANK key member [WITHSCORE] (Redis 7.2's option; 7.0 has none). */
static enum kv_code
rank_generic(struct cmd_ctx *ctx, bool reverse)
{
    if (ctx->argc > 4)
        return args_arity_error(ctx);
    bool withscore = false;
    if (ctx->argc == 4) {
        if (!args_is(ctx, 3, "withscore"))
            return args_syntax_error(ctx);
        withscore = true;
    }
    uint64_t rank = 0;
    double score = 0;
    enum kv_code rc =
        zset_rank(ctx->db, ctx->argv[1], ctx->argv[2], reverse, &rank, &score, ctx->err);
    if (rc == KV_NOTFOUND) {
        if (withscore)
            resp_write_null_array(ctx->out);
        else
            resp_write_null(ctx->out);
        return KV_OK;
    }
    if (rc != KV_OK)
        return rc;
    if (withscore)
        resp_write_array(ctx->out, 2);
    resp_write_int(ctx->out, (int64_t)rank);
    if (withscore)
        resp_write_double(ctx->out, score);
    return KV_OK;
}

/* ZRANK key member [WITHSCORE] -> the rank from the lowest score, or nil; with WITHSCORE
 * [rank, score] or a nil array. */
static enum kv_code
cmd_zrank(struct cmd_ctx *ctx)
{
    return rank_generic(ctx, false);
}

/* ZREVRANK key member [WITHSCORE] -> the rank from the highest score, or nil. */
static enum kv_code
cmd_zrevrank(struct cmd_ctx *ctx)
{
    return rank_generic(ctx, true);
}

/* --- ranges --- */

/* What the command fixes before the options are read (zrangeGenericCommand's arguments). */
enum range_by {
    RANGE_AUTO,
    RANGE_RANK,
    RANGE_SCORE,
    RANGE_LEX,
};

enum range_dir {
    DIR_AUTO,
    DIR_FORWARD,
    DIR_REVERSE,
};

struct range_opts {
    struct zset_range_spec spec;
    bool withscores;
};

/* Parse `src min max [options]` from argv[at] on, as Redis 7.0's zrangeGenericCommand: the
 * options (BYSCORE/BYLEX/REV only where the command leaves them open, LIMIT, WITHSCORES unless
 * storing), then the conflicts, then the range itself (swapped for reverse score/lex ranges). */
static enum kv_code
parse_range(struct cmd_ctx *ctx, int at, bool store, enum range_by by, enum range_dir dir,
            struct range_opts *o)
{
    int minidx = at + 1, maxidx = at + 2;
    int64_t offset = 0, limit = -1;
    bool withscores = false;
    enum kv_code rc;
    for (int j = at + 3; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        if (!store && args_is(ctx, j, "withscores")) {
            withscores = true;
        } else if (args_is(ctx, j, "limit") && left >= 2) {
            if ((rc = args_int64(ctx, j + 1, &offset)) != KV_OK ||
                (rc = args_int64(ctx, j + 2, &limit)) != KV_OK)
                return rc;
            j += 2;
        } else if (dir == DIR_AUTO && args_is(ctx, j, "rev")) {
            dir = DIR_REVERSE;
        } else if (by == RANGE_AUTO && args_is(ctx, j, "bylex")) {
            by = RANGE_LEX;
        } else if (by == RANGE_AUTO && args_is(ctx, j, "byscore")) {
            by = RANGE_SCORE;
        } else {
            return args_syntax_error(ctx);
        }
    }
    if (dir == DIR_AUTO)
        dir = DIR_FORWARD;
    if (by == RANGE_AUTO)
        by = RANGE_RANK;
    if (limit != -1 && by == RANGE_RANK)
        return args_error(ctx, KV_ERR_SYNTAX, "%s", ERR_ZRANGE_LIMIT);
    if (withscores && by == RANGE_LEX)
        return args_error(ctx, KV_ERR_SYNTAX, "%s", ERR_ZRANGE_WITHSCORES_LEX);
    bool reverse = dir == DIR_REVERSE;
    if (reverse && by != RANGE_RANK) {
        int tmp = maxidx;
        maxidx = minidx;
        minidx = tmp;
    }
    struct zset_range_spec *spec = &o->spec;
    switch (by) {
    case RANGE_SCORE:
        zset_range_spec_init(spec, ZSET_BY_SCORE);
        rc = parse_score_range(ctx, minidx, maxidx, &spec->score);
        break;
    case RANGE_LEX:
        zset_range_spec_init(spec, ZSET_BY_LEX);
        rc = parse_lex_range(ctx, minidx, maxidx, &spec->lex);
        break;
    default:
        zset_range_spec_init(spec, ZSET_BY_RANK);
        if ((rc = args_int64(ctx, minidx, &spec->start)) == KV_OK)
            rc = args_int64(ctx, maxidx, &spec->stop);
        break;
    }
    if (rc != KV_OK)
        return rc;
    spec->reverse = reverse;
    spec->offset = offset;
    spec->limit = limit;
    o->withscores = withscores;
    return KV_OK;
}

/* The reading range commands: parse, read, reply the members (with scores when asked). */
static enum kv_code
range_generic(struct cmd_ctx *ctx, enum range_by by, enum range_dir dir)
{
    struct range_opts o;
    enum kv_code rc = parse_range(ctx, 1, false, by, dir, &o);
    if (rc != KV_OK)
        return rc;
    struct zset_list l = ZSET_LIST_INIT;
    rc = zset_range(ctx->db, ctx->argv[1], &o.spec, &l, ctx->err);
    if (rc == KV_OK)
        reply_list(ctx, &l, o.withscores);
    zset_list_deinit(&l);
    return rc;
}

/* ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES] -> array. */
static enum kv_code
cmd_zrange(struct cmd_ctx *ctx)
{
    return range_generic(ctx, RANGE_AUTO, DIR_AUTO);
}

/* ZREVRANGE key start stop [WITHSCORES] -> array, highest score first. */
static enum kv_code
cmd_zrevrange(struct cmd_ctx *ctx)
{
    return range_generic(ctx, RANGE_RANK, DIR_REVERSE);
}

/* ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count] -> array. */
static enum kv_code
cmd_zrangebyscore(struct cmd_ctx *ctx)
{
    return range_generic(ctx, RANGE_SCORE, DIR_FORWARD);
}

/* ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count] -> array. */
static enum kv_code
cmd_zrevrangebyscore(struct cmd_ctx *ctx)
{
    return range_generic(ctx, RANGE_SCORE, DIR_REVERSE);
}

/* ZRANGEBYLEX key min max [LIMIT offset count] -> array. */
static enum kv_code
cmd_zrangebylex(struct cmd_ctx *ctx)
{
    return range_generic(ctx, RANGE_LEX, DIR_FORWARD);
}

/* ZREVRANGEBYLEX key max min [LIMIT offset count] -> array. */
static enum kv_code
cmd_zrevrangebylex(struct cmd_ctx *ctx)
{
    return range_generic(ctx, RANGE_LEX, DIR_REVERSE);
}

/* ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] -> integer: the size of
 * dst (deleted when the range is empty). */
static enum kv_code
cmd_zrangestore(struct cmd_ctx *ctx)
{
    struct range_opts o;
    enum kv_code rc = parse_range(ctx, 2, true, RANGE_AUTO, DIR_AUTO, &o);
    if (rc != KV_OK)
        return rc;
    uint64_t card = 0;
    rc = zset_range_store(ctx->db, ctx->argv[1], ctx->argv[2], &o.spec, &card, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)card);
    return rc;
}

/* --- removal --- */

/* ZREM key member [member ...] -> integer: members removed. */
static enum kv_code
cmd_zrem(struct cmd_ctx *ctx)
{
    uint64_t removed = 0;
    enum kv_code rc = zset_remove(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)ctx->argc - 2,
                                  &removed, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)removed);
    return rc;
}

/* ZREMRANGEBY* common part: the range is parsed before the key is looked at. */
static enum kv_code
remrange_generic(struct cmd_ctx *ctx, enum zset_by by)
{
    struct zset_range_spec spec;
    zset_range_spec_init(&spec, by);
    enum kv_code rc;
    if (by == ZSET_BY_SCORE) {
        rc = parse_score_range(ctx, 2, 3, &spec.score);
    } else if (by == ZSET_BY_LEX) {
        rc = parse_lex_range(ctx, 2, 3, &spec.lex);
    } else if ((rc = args_int64(ctx, 2, &spec.start)) == KV_OK) {
        rc = args_int64(ctx, 3, &spec.stop);
    }
    if (rc != KV_OK)
        return rc;
    uint64_t removed = 0;
    rc = zset_remove_range(ctx->db, ctx->argv[1], &spec, &removed, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)removed);
    return rc;
}

/* ZREMRANGEBYRANK key start stop -> integer: members removed. */
static enum kv_code
cmd_zremrangebyrank(struct cmd_ctx *ctx)
{
    return remrange_generic(ctx, ZSET_BY_RANK);
}

/* ZREMRANGEBYSCORE key min max -> integer: members removed. */
static enum kv_code
cmd_zremrangebyscore(struct cmd_ctx *ctx)
{
    return remrange_generic(ctx, ZSET_BY_SCORE);
}

/* ZREMRANGEBYLEX key min max -> integer: members removed. */
static enum kv_code
cmd_zremrangebylex(struct cmd_ctx *ctx)
{
    return remrange_generic(ctx, ZSET_BY_LEX);
}

/* --- pops --- */

/* ZPOPMIN / ZPOPMAX key [count]: without count a flat [member, score] (empty when absent); with
 * a count the same flat list in RESP2 and [member, score] pairs in RESP3. */
static enum kv_code
zpop_generic(struct cmd_ctx *ctx, bool max)
{
    if (ctx->argc > 3)
        return args_syntax_error(ctx);
    int64_t count = -1;
    enum kv_code rc;
    if (ctx->argc == 3 && (rc = parse_positive(ctx, 2, &count)) != KV_OK)
        return rc;
    bool nested = ctx->out->proto >= 3 && count != -1;
    struct zset_list l = ZSET_LIST_INIT;
    size_t which = 0;
    rc = zset_pop(ctx->db, &ctx->argv[1], 1, max, count == -1 ? 1 : (uint64_t)count, false, &which,
                  &l, ctx->err);
    if (rc == KV_NOTFOUND)
        rc = KV_OK;
    if (rc == KV_OK) {
        if (nested)
            reply_pairs(ctx, &l);
        else
            reply_flat(ctx, &l);
    }
    zset_list_deinit(&l);
    return rc;
}

/* ZPOPMIN key [count] -> the members with the lowest scores, removed. */
static enum kv_code
cmd_zpopmin(struct cmd_ctx *ctx)
{
    return zpop_generic(ctx, false);
}

/* ZPOPMAX key [count] -> the members with the highest scores, removed. */
static enum kv_code
cmd_zpopmax(struct cmd_ctx *ctx)
{
    return zpop_generic(ctx, true);
}

/* BZPOPMIN / BZPOPMAX key [key ...] timeout -> [key, member, score] from the first non-empty
 * zset; blocks until one is, or a nil array on timeout. */
static enum kv_code
bzpop_generic(struct cmd_ctx *ctx, bool max)
{
    int64_t deadline;
    enum kv_code rc = args_deadline_ms(ctx, ctx->argc - 1, &deadline);
    if (rc != KV_OK)
        return rc;
    const struct kv_slice *keys = &ctx->argv[1];
    size_t n = (size_t)ctx->argc - 2;
    struct zset_list l = ZSET_LIST_INIT;
    size_t which = 0;
    rc = zset_pop(ctx->db, keys, n, max, 1, blocking_is_retry(ctx), &which, &l, ctx->err);
    if (rc == KV_OK && l.n > 0) {
        resp_write_array(ctx->out, 3);
        resp_write_bulk_slice(ctx->out, keys[which]);
        resp_write_bulk_slice(ctx->out, zset_list_member(&l, 0));
        resp_write_double(ctx->out, l.items[0].score);
    }
    zset_list_deinit(&l);
    if (rc != KV_NOTFOUND)
        return rc;
    if (!blocking_can_block(ctx)) {
        resp_write_null_array(ctx->out);
        return KV_OK;
    }
    return blocking_block(ctx, keys, n, deadline, BLOCKING_REPLY_NULL_ARRAY);
}

/* BZPOPMIN key [key ...] timeout -> [key, member, score], or a nil array on timeout. */
static enum kv_code
cmd_bzpopmin(struct cmd_ctx *ctx)
{
    return bzpop_generic(ctx, false);
}

/* BZPOPMAX key [key ...] timeout -> [key, member, score], or a nil array on timeout. */
static enum kv_code
cmd_bzpopmax(struct cmd_ctx *ctx)
{
    return bzpop_generic(ctx, true);
}

/* Pop for (B)ZMPOP and reply [key, [[member, score], ...]]; *served false when every key is
 * absent (nothing replied). */
static enum kv_code
mpop_reply(struct cmd_ctx *ctx, const struct args_mpop *a, bool *served)
{
    const struct kv_slice *keys = &ctx->argv[a->first_key];
    struct zset_list l = ZSET_LIST_INIT;
    size_t which = 0;
    *served = false;
    enum kv_code rc = zset_pop(ctx->db, keys, a->numkeys, !a->first, a->count,
                               blocking_is_retry(ctx), &which, &l, ctx->err);
    if (rc == KV_OK) {
        *served = true;
        resp_write_array(ctx->out, 2);
        resp_write_bulk_slice(ctx->out, keys[which]);
        reply_pairs(ctx, &l);
    } else if (rc == KV_NOTFOUND) {
        rc = KV_OK;
    }
    zset_list_deinit(&l);
    return rc;
}

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] -> [key, [[member, score], ...]] from the
 * first non-empty zset, or a nil array. */
static enum kv_code
cmd_zmpop(struct cmd_ctx *ctx)
{
    struct args_mpop a;
    enum kv_code rc = args_mpop(ctx, 1, "min", "max", &a);
    if (rc != KV_OK)
        return rc;
    bool served;
    rc = mpop_reply(ctx, &a, &served);
    if (rc == KV_OK && !served)
        resp_write_null_array(ctx->out);
    return rc;
}

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count] -> as ZMPOP, blocking until a zset
 * is non-empty, or a nil array on timeout. */
static enum kv_code
cmd_bzmpop(struct cmd_ctx *ctx)
{
    struct args_mpop a;
    enum kv_code rc = args_mpop(ctx, 2, "min", "max", &a);
    if (rc != KV_OK)
        return rc;
    int64_t deadline;
    if ((rc = args_deadline_ms(ctx, 1, &deadline)) != KV_OK)
        return rc;
    bool served;
    rc = mpop_reply(ctx, &a, &served);
    if (rc != KV_OK || served)
        return rc;
    if (!blocking_can_block(ctx)) {
        resp_write_null_array(ctx->out);
        return KV_OK;
    }
    return blocking_block(ctx, &ctx->argv[a.first_key], a.numkeys, deadline,
                          BLOCKING_REPLY_NULL_ARRAY);
}

/* --- ZRANDMEMBER --- */

/* Writes a member's score after it. */
static void
write_member_score(struct cmd_ctx *ctx, struct kv_slice value)
{
    resp_write_double(ctx->out, value.len == ZSET_SCORE_LEN ? zset_decode_score(value.ptr) : 0.0);
}

/* ZRANDMEMBER key [count [WITHSCORES]] -> without count a random member or nil; with a count an
 * array: distinct members (count > 0, at most the zset), or |count| picks with repetitions;
 * WITHSCORES adds the scores (flat in RESP2, pairs in RESP3). */
static enum kv_code
cmd_zrandmember(struct cmd_ctx *ctx)
{
    static const struct reads_random_ops ops = {zset_card, zset_random, "withscores",
                                                write_member_score};
    return reads_random_generic(ctx, &ops);
}

/* --- ZUNION / ZINTER / ZDIFF and their STORE forms, ZINTERCARD --- */

/* Combination options after the keys (zunionInterDiffGenericCommand). */
struct combine_opts {
    double *weights; /* owned; NULL when not given */
    enum zset_aggregate aggregate;
    bool withscores;
    int64_t limit; /* ZINTERCARD */
};

static enum kv_code
parse_combine_opts(struct cmd_ctx *ctx, int j, size_t setnum, enum zset_op op, bool store,
                   bool card_only, struct combine_opts *o)
{
    enum kv_code rc;
    while (j < ctx->argc) {
        int remaining = ctx->argc - j;
        if (op != ZSET_OP_DIFF && !card_only && (size_t)remaining >= setnum + 1 &&
            args_is(ctx, j, "weights")) {
            j++;
            if (o->weights == NULL)
                o->weights = kv_malloc(setnum * sizeof *o->weights);
            for (size_t i = 0; i < setnum; i++, j++) {
                if (strconv_to_double(ctx->argv[j].ptr, ctx->argv[j].len, &o->weights[i]) != KV_OK)
                    return args_error(ctx, KV_ERR_INVALID, "%s", ERR_WEIGHT_FLOAT);
            }
        } else if (op != ZSET_OP_DIFF && !card_only && remaining >= 2 &&
                   args_is(ctx, j, "aggregate")) {
            j++;
            if (args_is(ctx, j, "sum"))
                o->aggregate = ZSET_AGG_SUM;
            else if (args_is(ctx, j, "min"))
                o->aggregate = ZSET_AGG_MIN;
            else if (args_is(ctx, j, "max"))
                o->aggregate = ZSET_AGG_MAX;
            else
                return args_syntax_error(ctx);
            j++;
        } else if (!store && !card_only && args_is(ctx, j, "withscores")) {
            j++;
            o->withscores = true;
        } else if (card_only && remaining >= 2 && args_is(ctx, j, "limit")) {
            j++;
            if ((rc = args_int64_range(ctx, j, 0, INT64_MAX, ERR_LIMIT_NEGATIVE, &o->limit)) !=
                KV_OK)
                return rc;
            j++;
        } else {
            return args_syntax_error(ctx);
        }
    }
    return KV_OK;
}

/* The combination commands: numkeys at argv[at]; dst at argv[1] when storing; card_only for
 * ZINTERCARD. */
static enum kv_code
combine_generic(struct cmd_ctx *ctx, int at, enum zset_op op, bool store, bool card_only)
{
    int64_t setnum;
    enum kv_code rc = args_int64(ctx, at, &setnum);
    if (rc != KV_OK)
        return rc;
    if (setnum < 1)
        return args_error(ctx, KV_ERR_INVALID, ERR_AT_LEAST_ONE_KEY, ctx->cmd->name);
    if (setnum > ctx->argc - (at + 1))
        return args_syntax_error(ctx);
    const struct kv_slice *keys = &ctx->argv[at + 1];
    size_t n = (size_t)setnum;
    /* Redis looks the inputs up (and refuses other types) before reading the options. */
    if ((rc = zset_check_sources(ctx->db, keys, n, ctx->err)) != KV_OK)
        return rc;
    struct combine_opts o = {NULL, ZSET_AGG_SUM, false, 0};
    struct zset_list l = ZSET_LIST_INIT;
    rc = parse_combine_opts(ctx, at + 1 + (int)n, n, op, store, card_only, &o);
    if (rc != KV_OK)
        goto out;
    struct zset_sources src = {keys, n, o.weights, o.aggregate};
    uint64_t card = 0;
    if (card_only) {
        rc = zset_inter_card(ctx->db, keys, n, (uint64_t)o.limit, &card, ctx->err);
        if (rc == KV_OK)
            resp_write_int(ctx->out, (int64_t)card);
    } else if (store) {
        rc = zset_combine_store(ctx->db, op, ctx->argv[1], &src, &card, ctx->err);
        if (rc == KV_OK)
            resp_write_int(ctx->out, (int64_t)card);
    } else {
        rc = zset_combine(ctx->db, op, &src, &l, ctx->err);
        if (rc == KV_OK)
            reply_list(ctx, &l, o.withscores);
    }
out:
    kv_free(o.weights);
    zset_list_deinit(&l);
    return rc;
}

/* ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] -> array. */
static enum kv_code
cmd_zunion(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, 1, ZSET_OP_UNION, false, false);
}

/* ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] -> array. */
static enum kv_code
cmd_zinter(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, 1, ZSET_OP_INTER, false, false);
}

/* ZDIFF numkeys key [key ...] [WITHSCORES] -> array. */
static enum kv_code
cmd_zdiff(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, 1, ZSET_OP_DIFF, false, false);
}

/* ZUNIONSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE ...] -> integer: dst's size. */
static enum kv_code
cmd_zunionstore(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, 2, ZSET_OP_UNION, true, false);
}

/* ZINTERSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE ...] -> integer: dst's size. */
static enum kv_code
cmd_zinterstore(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, 2, ZSET_OP_INTER, true, false);
}

/* ZDIFFSTORE dst numkeys key [key ...] -> integer: dst's size. */
static enum kv_code
cmd_zdiffstore(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, 2, ZSET_OP_DIFF, true, false);
}

/* ZINTERCARD numkeys key [key ...] [LIMIT limit] -> integer: the intersection's size (at most
 * limit when given and not 0). */
static enum kv_code
cmd_zintercard(struct cmd_ctx *ctx)
{
    return combine_generic(ctx, 1, ZSET_OP_INTER, false, true);
}

/* --- ZSCAN --- */

/* A score as Redis 7.0's d2string writes it into a listpack (what ZSCAN of a small zset
 * returns): "0", integers in +-2^62 without exponent, else "%.17g"; "inf", "-inf". */
static size_t
format_scan_score(double v, char *buf)
{
    if (isnan(v) || isinf(v))
        return strconv_from_double(v, buf);
    if (v == 0)
        return (size_t)snprintf(buf, STRCONV_DOUBLE_BUF, "%s", signbit(v) ? "-0" : "0");
    if (v >= (double)(-LLONG_MAX / 2) && v <= (double)(LLONG_MAX / 2)) {
        long long ll = (long long)v;
        if ((double)ll == v)
            return strconv_from_int64((int64_t)ll, buf);
    }
    return strconv_from_double(v, buf);
}

/* Collects ZSCAN's (member, score text) pairs. */
static bool
collect_scan_entry(void *arg, struct kv_slice member, struct kv_slice value)
{
    char num[STRCONV_DOUBLE_BUF];
    size_t n =
        format_scan_score(value.len == ZSET_SCORE_LEN ? zset_decode_score(value.ptr) : 0.0, num);
    subkey_list_add(arg, member, kv_slice_make(num, n));
    return true;
}

/* ZSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor (bulk), [member, score, ...]]
 * (reads_scan_generic). */
static enum kv_code
cmd_zscan(struct cmd_ctx *ctx)
{
    static const struct reads_scan_ops ops = {zset_card, zset_scan, collect_scan_entry,
                                              SCAN_CURSOR_ZSET, true};
    return reads_scan_generic(ctx, &ops);
}

/* --- key extraction for the numkeys-style commands --- */

/* Keys of `numkeys key...` with numkeys at argv[at]; -1 when malformed. */
static int
numkeys_at(int at, int argc, const struct kv_slice *argv, int *idx, int cap, int *n)
{
    int64_t numkeys;
    if (at >= argc || strconv_to_int64(argv[at].ptr, argv[at].len, &numkeys) != KV_OK ||
        numkeys < 1 || numkeys > argc - at - 1)
        return -1;
    for (int i = 0; i < numkeys && *n < cap; i++)
        idx[(*n)++] = at + 1 + i;
    return *n;
}

/* ZUNION, ZINTER, ZDIFF, ZINTERCARD, ZMPOP: numkeys at argv[1]. */
static int
keys_numkeys1(int argc, const struct kv_slice *argv, int *idx, int cap)
{
    int n = 0;
    return numkeys_at(1, argc, argv, idx, cap, &n);
}

/* BZMPOP: timeout, then numkeys at argv[2]. */
static int
keys_numkeys2(int argc, const struct kv_slice *argv, int *idx, int cap)
{
    int n = 0;
    return numkeys_at(2, argc, argv, idx, cap, &n);
}

/* The STORE forms: dst at argv[1], numkeys at argv[2]. */
static int
keys_store(int argc, const struct kv_slice *argv, int *idx, int cap)
{
    int n = 0;
    if (cap < 1 || argc < 2)
        return -1;
    idx[n++] = 1;
    return numkeys_at(2, argc, argv, idx, cap, &n);
}

#define ZRO (CMD_READONLY)
#define ZRW (CMD_WRITE)

const struct command_spec zset_commands[] = {
    {"bzmpop", cmd_bzmpop, -5, ZRW | CMD_BLOCKING, 0, 0, 0, keys_numkeys2, "zset"},
    {"bzpopmax", cmd_bzpopmax, -3, ZRW | CMD_BLOCKING | CMD_FAST, 1, -2, 1, NULL, "zset"},
    {"bzpopmin", cmd_bzpopmin, -3, ZRW | CMD_BLOCKING | CMD_FAST, 1, -2, 1, NULL, "zset"},
    {"zadd", cmd_zadd, -4, ZRW | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zcard", cmd_zcard, 2, ZRO | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zcount", cmd_zcount, 4, ZRO | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zdiff", cmd_zdiff, -3, ZRO, 0, 0, 0, keys_numkeys1, "zset"},
    {"zdiffstore", cmd_zdiffstore, -4, ZRW, 0, 0, 0, keys_store, "zset"},
    {"zincrby", cmd_zincrby, 4, ZRW | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zinter", cmd_zinter, -3, ZRO, 0, 0, 0, keys_numkeys1, "zset"},
    {"zintercard", cmd_zintercard, -3, ZRO, 0, 0, 0, keys_numkeys1, "zset"},
    {"zinterstore", cmd_zinterstore, -4, ZRW, 0, 0, 0, keys_store, "zset"},
    {"zlexcount", cmd_zlexcount, 4, ZRO | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zmpop", cmd_zmpop, -4, ZRW, 0, 0, 0, keys_numkeys1, "zset"},
    {"zmscore", cmd_zmscore, -3, ZRO | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zpopmax", cmd_zpopmax, -2, ZRW | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zpopmin", cmd_zpopmin, -2, ZRW | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zrandmember", cmd_zrandmember, -2, ZRO, 1, 1, 1, NULL, "zset"},
    {"zrange", cmd_zrange, -4, ZRO, 1, 1, 1, NULL, "zset"},
    {"zrangebylex", cmd_zrangebylex, -4, ZRO, 1, 1, 1, NULL, "zset"},
    {"zrangebyscore", cmd_zrangebyscore, -4, ZRO, 1, 1, 1, NULL, "zset"},
    {"zrangestore", cmd_zrangestore, -5, ZRW, 1, 2, 1, NULL, "zset"},
    {"zrank", cmd_zrank, -3, ZRO | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zrem", cmd_zrem, -3, ZRW | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zremrangebylex", cmd_zremrangebylex, 4, ZRW, 1, 1, 1, NULL, "zset"},
    {"zremrangebyrank", cmd_zremrangebyrank, 4, ZRW, 1, 1, 1, NULL, "zset"},
    {"zremrangebyscore", cmd_zremrangebyscore, 4, ZRW, 1, 1, 1, NULL, "zset"},
    {"zrevrange", cmd_zrevrange, -4, ZRO, 1, 1, 1, NULL, "zset"},
    {"zrevrangebylex", cmd_zrevrangebylex, -4, ZRO, 1, 1, 1, NULL, "zset"},
    {"zrevrangebyscore", cmd_zrevrangebyscore, -4, ZRO, 1, 1, 1, NULL, "zset"},
    {"zrevrank", cmd_zrevrank, -3, ZRO | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zscan", cmd_zscan, -3, ZRO, 1, 1, 1, NULL, "zset"},
    {"zscore", cmd_zscore, 3, ZRO | CMD_FAST, 1, 1, 1, NULL, "zset"},
    {"zunion", cmd_zunion, -3, ZRO, 0, 0, 0, keys_numkeys1, "zset"},
    {"zunionstore", cmd_zunionstore, -4, ZRW, 0, 0, 0, keys_store, "zset"},
};
const size_t zset_commands_len = sizeof zset_commands / sizeof zset_commands[0];
