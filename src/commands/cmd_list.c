/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_list: list commands (Redis 7.0 semantics, replies and error texts): LPUSH, RPUSH, LPUSHX,
 * RPUSHX, LPOP, RPOP, LLEN, LINDEX, LRANGE, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH,
 * LMPOP and the blocking BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. The storage work is in
 * types/list.h; blocking goes through server/blocking.h. Here are argument parsing in Redis'
 * order (options are checked before the key is looked at, except LINDEX and LSET, which look at
 * the key before the index, as Redis does), and the replies.
 */
#include <stdint.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "server/blocking.h"
#include "types/list.h"

/* --- shared parsing --- */

/* LEFT or RIGHT (case-insensitive) in argv[i]; anything else is a syntax error. */
static enum kv_code
parse_side(struct cmd_ctx *ctx, int i, bool *left)
{
    if (args_is(ctx, i, "LEFT"))
        *left = true;
    else if (args_is(ctx, i, "RIGHT"))
        *left = false;
    else
        return args_syntax_error(ctx);
    return KV_OK;
}

/* Key extraction for LMPOP (numkeys at argv[1]) and BLMPOP (numkeys at argv[2]). */
static int
mpop_keys_at(int at, int argc, const struct kv_slice *argv, int *idx, int cap)
{
    int64_t numkeys;
    if (at >= argc || strconv_to_int64(argv[at].ptr, argv[at].len, &numkeys) != KV_OK ||
        numkeys < 1 || numkeys > argc - at - 2)
        return -1;
    int n = 0;
    for (int i = 0; i < numkeys && n < cap; i++)
        idx[n++] = at + 1 + i;
    return n;
}

static int
lmpop_keys(int argc, const struct kv_slice *argv, int *idx, int cap)
{
    return mpop_keys_at(1, argc, argv, idx, cap);
}

static int
blmpop_keys(int argc, const struct kv_slice *argv, int *idx, int cap)
{
    return mpop_keys_at(2, argc, argv, idx, cap);
}

static void
write_values(struct cmd_ctx *ctx, const struct list_values *v)
{
    resp_write_array(ctx->out, v->n);
    for (size_t i = 0; i < v->n; i++)
        resp_write_bulk_slice(ctx->out, list_values_at(v, i));
}

/* --- pushes --- */

static enum kv_code
push_generic(struct cmd_ctx *ctx, bool left, bool only_existing)
{
    uint64_t len = 0;
    enum kv_code rc = list_push(ctx->db, ctx->argv[1], &ctx->argv[2], (size_t)ctx->argc - 2, left,
                                only_existing, &len, ctx->err);
    if (rc != KV_OK)
        return rc;
    resp_write_int(ctx->out, (int64_t)len);
    return KV_OK;
}

/* LPUSH key element [element ...] -> integer: the length after the push. */
static enum kv_code
cmd_lpush(struct cmd_ctx *ctx)
{
    return push_generic(ctx, true, false);
}

/* RPUSH key element [element ...] -> integer: the length after the push. */
static enum kv_code
cmd_rpush(struct cmd_ctx *ctx)
{
    return push_generic(ctx, false, false);
}

/* LPUSHX key element [element ...] -> integer: the new length, 0 when the key is absent. */
static enum kv_code
cmd_lpushx(struct cmd_ctx *ctx)
{
    return push_generic(ctx, true, true);
}

/* RPUSHX key element [element ...] -> integer: the new length, 0 when the key is absent. */
static enum kv_code
cmd_rpushx(struct cmd_ctx *ctx)
{
    return push_generic(ctx, false, true);
}

/* --- pops --- */

static enum kv_code
pop_generic(struct cmd_ctx *ctx, bool left)
{
    if (ctx->argc > 3)
        return args_arity_error(ctx);
    bool with_count = ctx->argc == 3;
    int64_t count = 1;
    enum kv_code rc;
    if (with_count &&
        (rc = args_int64_range(ctx, 2, 0, INT64_MAX, ERR_OUT_OF_RANGE_POSITIVE, &count)) != KV_OK)
        return rc;
    struct list_values v = LIST_VALUES_INIT;
    rc = list_pop(ctx->db, ctx->argv[1], left, (uint64_t)count, false, &v, ctx->err);
    if (rc == KV_NOTFOUND) {
        if (with_count)
            resp_write_null_array(ctx->out);
        else
            resp_write_null(ctx->out);
        rc = KV_OK;
    } else if (rc == KV_OK) {
        if (with_count)
            write_values(ctx, &v);
        else
            resp_write_bulk_slice(ctx->out, list_values_at(&v, 0));
    }
    list_values_deinit(&v);
    return rc;
}

/* LPOP key [count] -> bulk (nil when absent); with count an array (nil array when absent). */
static enum kv_code
cmd_lpop(struct cmd_ctx *ctx)
{
    return pop_generic(ctx, true);
}

/* RPOP key [count] -> as LPOP, from the right. */
static enum kv_code
cmd_rpop(struct cmd_ctx *ctx)
{
    return pop_generic(ctx, false);
}

/* Pop `count` elements from the first non-empty list among keys[0..n) and reply [key, element]
 * (single) or [key, [elements...]] (mpop). *served is false when every key is empty. On a retry
 * of a blocked command, keys of another type are skipped (Redis 7.0 keeps waiting). */
static enum kv_code
pop_first_nonempty(struct cmd_ctx *ctx, const struct kv_slice *keys, size_t n, bool left,
                   uint64_t count, bool mpop, bool *served)
{
    bool retry = blocking_is_retry(ctx);
    struct list_values v = LIST_VALUES_INIT;
    enum kv_code rc = KV_OK;
    *served = false;
    for (size_t i = 0; i < n; i++) {
        rc = list_pop(ctx->db, keys[i], left, count, retry, &v, ctx->err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            continue;
        }
        if (rc != KV_OK)
            break;
        resp_write_array(ctx->out, 2);
        resp_write_bulk_slice(ctx->out, keys[i]);
        if (mpop)
            write_values(ctx, &v);
        else
            resp_write_bulk_slice(ctx->out, list_values_at(&v, 0));
        *served = true;
        break;
    }
    list_values_deinit(&v);
    return rc;
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] -> [key, [elements...]], or a nil array
 * when every list is empty. */
static enum kv_code
cmd_lmpop(struct cmd_ctx *ctx)
{
    struct args_mpop a;
    enum kv_code rc = args_mpop(ctx, 1, "left", "right", &a);
    if (rc != KV_OK)
        return rc;
    bool served;
    rc = pop_first_nonempty(ctx, &ctx->argv[a.first_key], a.numkeys, a.first, a.count, true,
                            &served);
    if (rc == KV_OK && !served)
        resp_write_null_array(ctx->out);
    return rc;
}

/* BLPOP / BRPOP key [key ...] timeout. */
static enum kv_code
bpop_generic(struct cmd_ctx *ctx, bool left)
{
    int64_t deadline;
    enum kv_code rc = args_deadline_ms(ctx, ctx->argc - 1, &deadline);
    if (rc != KV_OK)
        return rc;
    const struct kv_slice *keys = &ctx->argv[1];
    size_t n = (size_t)ctx->argc - 2;
    bool served;
    rc = pop_first_nonempty(ctx, keys, n, left, 1, false, &served);
    if (rc != KV_OK || served)
        return rc;
    if (!blocking_can_block(ctx)) {
        resp_write_null_array(ctx->out);
        return KV_OK;
    }
    return blocking_block(ctx, keys, n, deadline, BLOCKING_REPLY_NULL_ARRAY);
}

/* BLPOP key [key ...] timeout -> [key, element]; a nil array on timeout. */
static enum kv_code
cmd_blpop(struct cmd_ctx *ctx)
{
    return bpop_generic(ctx, true);
}

/* BRPOP key [key ...] timeout -> [key, element]; a nil array on timeout. */
static enum kv_code
cmd_brpop(struct cmd_ctx *ctx)
{
    return bpop_generic(ctx, false);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] -> as LMPOP; a nil array on
 * timeout. The timeout is checked after the other arguments, as Redis does. */
static enum kv_code
cmd_blmpop(struct cmd_ctx *ctx)
{
    struct args_mpop a;
    enum kv_code rc = args_mpop(ctx, 2, "left", "right", &a);
    if (rc != KV_OK)
        return rc;
    int64_t deadline;
    if ((rc = args_deadline_ms(ctx, 1, &deadline)) != KV_OK)
        return rc;
    const struct kv_slice *keys = &ctx->argv[a.first_key];
    bool served;
    rc = pop_first_nonempty(ctx, keys, a.numkeys, a.first, a.count, true, &served);
    if (rc != KV_OK || served)
        return rc;
    if (!blocking_can_block(ctx)) {
        resp_write_null_array(ctx->out);
        return KV_OK;
    }
    return blocking_block(ctx, keys, a.numkeys, deadline, BLOCKING_REPLY_NULL_ARRAY);
}

/* --- moves --- */

/* Move one element; *moved is false when src is empty (nothing replied then). */
static enum kv_code
move_generic(struct cmd_ctx *ctx, bool src_left, bool dst_left, bool *moved)
{
    struct kv_buf elem = KV_BUF_INIT;
    enum kv_code rc = list_move(ctx->db, ctx->argv[1], ctx->argv[2], src_left, dst_left,
                                blocking_is_retry(ctx), &elem, ctx->err);
    *moved = rc == KV_OK;
    if (rc == KV_OK)
        resp_write_bulk(ctx->out, elem.ptr, elem.len);
    else if (rc == KV_NOTFOUND)
        rc = KV_OK;
    kv_buf_deinit(&elem);
    return rc;
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT -> bulk: the element moved; nil when source is
 * empty. */
static enum kv_code
cmd_lmove(struct cmd_ctx *ctx)
{
    bool from_left = false, to_left = false, moved;
    enum kv_code rc;
    if ((rc = parse_side(ctx, 3, &from_left)) != KV_OK ||
        (rc = parse_side(ctx, 4, &to_left)) != KV_OK)
        return rc;
    rc = move_generic(ctx, from_left, to_left, &moved);
    if (rc == KV_OK && !moved)
        resp_write_null(ctx->out);
    return rc;
}

/* RPOPLPUSH source destination -> as LMOVE source destination RIGHT LEFT. */
static enum kv_code
cmd_rpoplpush(struct cmd_ctx *ctx)
{
    bool moved;
    enum kv_code rc = move_generic(ctx, false, true, &moved);
    if (rc == KV_OK && !moved)
        resp_write_null(ctx->out);
    return rc;
}

static enum kv_code
bmove_generic(struct cmd_ctx *ctx, bool from_left, bool to_left, int timeout_arg)
{
    int64_t deadline;
    enum kv_code rc = args_deadline_ms(ctx, timeout_arg, &deadline);
    if (rc != KV_OK)
        return rc;
    bool moved;
    rc = move_generic(ctx, from_left, to_left, &moved);
    if (rc != KV_OK || moved)
        return rc;
    if (!blocking_can_block(ctx)) {
        resp_write_null(ctx->out);
        return KV_OK;
    }
    return blocking_block(ctx, &ctx->argv[1], 1, deadline, BLOCKING_REPLY_NULL_ARRAY);
}

/* BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout -> bulk: the element moved; a nil
 * array on timeout (Redis 7.0), a nil bulk inside MULTI. */
static enum kv_code
cmd_blmove(struct cmd_ctx *ctx)
{
    bool from_left = false, to_left = false;
    enum kv_code rc;
    if ((rc = parse_side(ctx, 3, &from_left)) != KV_OK ||
        (rc = parse_side(ctx, 4, &to_left)) != KV_OK)
        return rc;
    return bmove_generic(ctx, from_left, to_left, 5);
}

/* BRPOPLPUSH source destination timeout -> as BLMOVE source destination RIGHT LEFT timeout. */
static enum kv_code
cmd_brpoplpush(struct cmd_ctx *ctx)
{
    return bmove_generic(ctx, false, true, 3);
}

/* --- reads --- */

/* LLEN key -> integer: the length, 0 when absent. */
static enum kv_code
cmd_llen(struct cmd_ctx *ctx)
{
    uint64_t len;
    enum kv_code rc = list_len(ctx->db, ctx->argv[1], &len, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)len);
    return rc;
}

/* LINDEX/LSET with an index that is not an integer: Redis looks the key up before it parses the
 * index, so an absent key (nil for LINDEX, "no such key" for LSET) or a key of another type
 * answers first. */
static enum kv_code
bad_index(struct cmd_ctx *ctx, bool nil_when_absent)
{
    uint64_t len;
    enum kv_code rc = list_len(ctx->db, ctx->argv[1], &len, ctx->err);
    if (rc != KV_OK)
        return rc;
    if (len > 0) {
        int64_t unused;
        return args_int64(ctx, 2, &unused);
    }
    if (!nil_when_absent)
        return args_error(ctx, KV_ERR, "%s", ERR_NO_SUCH_KEY);
    resp_write_null(ctx->out);
    return KV_OK;
}

/* LINDEX key index -> bulk, nil when absent or out of range. */
static enum kv_code
cmd_lindex(struct cmd_ctx *ctx)
{
    int64_t index;
    if (strconv_to_int64(ctx->argv[2].ptr, ctx->argv[2].len, &index) != KV_OK)
        return bad_index(ctx, true);
    struct kv_buf out = KV_BUF_INIT;
    enum kv_code rc = list_index(ctx->db, ctx->argv[1], index, &out, ctx->err);
    if (rc == KV_OK) {
        resp_write_bulk(ctx->out, out.ptr, out.len);
    } else if (rc == KV_NOTFOUND) {
        resp_write_null(ctx->out);
        rc = KV_OK;
    }
    kv_buf_deinit(&out);
    return rc;
}

/* LRANGE key start stop -> array of the elements in [start, stop]. */
static enum kv_code
cmd_lrange(struct cmd_ctx *ctx)
{
    int64_t start, stop;
    enum kv_code rc;
    if ((rc = args_int64(ctx, 2, &start)) != KV_OK || (rc = args_int64(ctx, 3, &stop)) != KV_OK)
        return rc;
    struct list_values v = LIST_VALUES_INIT;
    rc = list_range(ctx->db, ctx->argv[1], start, stop, &v, ctx->err);
    if (rc == KV_OK)
        write_values(ctx, &v);
    list_values_deinit(&v);
    return rc;
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] -> integer (nil when no
 * match), or with COUNT an array of positions. */
static enum kv_code
cmd_lpos(struct cmd_ctx *ctx)
{
    int64_t rank = 1, count = -1, maxlen = 0;
    enum kv_code rc;
    for (int j = 3; j < ctx->argc; j++) {
        bool more = j + 1 < ctx->argc;
        if (more && args_is(ctx, j, "RANK")) {
            if ((rc = args_int64(ctx, ++j, &rank)) != KV_OK)
                return rc;
            if (rank == 0)
                return args_error(ctx, KV_ERR, "%s", ERR_LPOS_RANK_ZERO);
        } else if (more && args_is(ctx, j, "COUNT")) {
            if ((rc = args_int64_range(ctx, ++j, 0, INT64_MAX, ERR_LPOS_COUNT_NEGATIVE, &count)) !=
                KV_OK)
                return rc;
        } else if (more && args_is(ctx, j, "MAXLEN")) {
            if ((rc = args_int64_range(ctx, ++j, 0, INT64_MAX, ERR_LPOS_MAXLEN_NEGATIVE,
                                       &maxlen)) != KV_OK)
                return rc;
        } else {
            return args_syntax_error(ctx);
        }
    }
    int64_t *pos = NULL;
    size_t npos = 0;
    uint64_t limit = count == -1 ? 1 : (uint64_t)count;
    rc = list_pos(ctx->db, ctx->argv[1], ctx->argv[2], rank, limit, (uint64_t)maxlen, &pos, &npos,
                  ctx->err);
    if (rc == KV_OK) {
        if (count != -1) {
            resp_write_array(ctx->out, npos);
            for (size_t i = 0; i < npos; i++)
                resp_write_int(ctx->out, pos[i]);
        } else if (npos > 0) {
            resp_write_int(ctx->out, pos[0]);
        } else {
            resp_write_null(ctx->out);
        }
    }
    kv_free(pos);
    return rc;
}

/* --- edits --- */

/* LSET key index element -> +OK; ERR no such key, ERR index out of range. */
static enum kv_code
cmd_lset(struct cmd_ctx *ctx)
{
    int64_t index;
    if (strconv_to_int64(ctx->argv[2].ptr, ctx->argv[2].len, &index) != KV_OK)
        return bad_index(ctx, false);
    enum kv_code rc = list_set(ctx->db, ctx->argv[1], index, ctx->argv[3], ctx->err);
    if (rc == KV_NOTFOUND)
        return args_error(ctx, KV_ERR, "%s", ERR_NO_SUCH_KEY);
    if (rc == KV_ERR_RANGE)
        return args_error(ctx, KV_ERR, "%s", ERR_INDEX_OUT_OF_RANGE);
    if (rc == KV_OK)
        resp_write_ok(ctx->out);
    return rc;
}

/* LINSERT key BEFORE|AFTER pivot element -> integer: the new length, -1 when the pivot is not
 * found, 0 when the key is absent. */
static enum kv_code
cmd_linsert(struct cmd_ctx *ctx)
{
    bool before;
    if (args_is(ctx, 2, "BEFORE"))
        before = true;
    else if (args_is(ctx, 2, "AFTER"))
        before = false;
    else
        return args_syntax_error(ctx);
    int64_t result;
    enum kv_code rc =
        list_insert(ctx->db, ctx->argv[1], before, ctx->argv[3], ctx->argv[4], &result, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, result);
    return rc;
}

/* LREM key count element -> integer: the number of removed elements. */
static enum kv_code
cmd_lrem(struct cmd_ctx *ctx)
{
    int64_t count;
    enum kv_code rc = args_int64(ctx, 2, &count);
    if (rc != KV_OK)
        return rc;
    uint64_t removed;
    rc = list_rem(ctx->db, ctx->argv[1], count, ctx->argv[3], &removed, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)removed);
    return rc;
}

/* LTRIM key start stop -> +OK. */
static enum kv_code
cmd_ltrim(struct cmd_ctx *ctx)
{
    int64_t start, stop;
    enum kv_code rc;
    if ((rc = args_int64(ctx, 2, &start)) != KV_OK || (rc = args_int64(ctx, 3, &stop)) != KV_OK)
        return rc;
    rc = list_trim(ctx->db, ctx->argv[1], start, stop, ctx->err);
    if (rc == KV_OK)
        resp_write_ok(ctx->out);
    return rc;
}

#define BLOCKING_CMD (CMD_WRITE | CMD_BLOCKING)

const struct command_spec list_commands[] = {
    {"blmove", cmd_blmove, 6, BLOCKING_CMD, 1, 2, 1, NULL, "list"},
    {"blmpop", cmd_blmpop, -5, BLOCKING_CMD, 0, 0, 0, blmpop_keys, "list"},
    {"blpop", cmd_blpop, -3, BLOCKING_CMD, 1, -2, 1, NULL, "list"},
    {"brpop", cmd_brpop, -3, BLOCKING_CMD, 1, -2, 1, NULL, "list"},
    {"brpoplpush", cmd_brpoplpush, 4, BLOCKING_CMD, 1, 2, 1, NULL, "list"},
    {"lindex", cmd_lindex, 3, CMD_READONLY, 1, 1, 1, NULL, "list"},
    {"linsert", cmd_linsert, 5, CMD_WRITE, 1, 1, 1, NULL, "list"},
    {"llen", cmd_llen, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "list"},
    {"lmove", cmd_lmove, 5, CMD_WRITE, 1, 2, 1, NULL, "list"},
    {"lmpop", cmd_lmpop, -4, CMD_WRITE, 0, 0, 0, lmpop_keys, "list"},
    {"lpop", cmd_lpop, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "list"},
    {"lpos", cmd_lpos, -3, CMD_READONLY, 1, 1, 1, NULL, "list"},
    {"lpush", cmd_lpush, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "list"},
    {"lpushx", cmd_lpushx, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "list"},
    {"lrange", cmd_lrange, 4, CMD_READONLY, 1, 1, 1, NULL, "list"},
    {"lrem", cmd_lrem, 4, CMD_WRITE, 1, 1, 1, NULL, "list"},
    {"lset", cmd_lset, 4, CMD_WRITE, 1, 1, 1, NULL, "list"},
    {"ltrim", cmd_ltrim, 4, CMD_WRITE, 1, 1, 1, NULL, "list"},
    {"rpop", cmd_rpop, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "list"},
    {"rpoplpush", cmd_rpoplpush, 3, CMD_WRITE, 1, 2, 1, NULL, "list"},
    {"rpush", cmd_rpush, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "list"},
    {"rpushx", cmd_rpushx, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "list"},
};
const size_t list_commands_len = sizeof list_commands / sizeof list_commands[0];
