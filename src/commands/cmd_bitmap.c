/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_bitmap: the bit commands with Redis 7.0 semantics, replies and error texts: SETBIT, GETBIT,
 * BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO. They work on string keys (the value's bits) and
 * on Kvrocks bitmap keys alike; the storage work is in types/bitmap.h. Here are argument parsing
 * in Redis's order (some replies come before later arguments are even looked at: BITCOUNT and
 * BITPOS of an absent key), the index arithmetic and the replies.
 */
#include <stdint.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/reads.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "server/server.h"
#include "types/bitmap.h"

#define ERR_BIT_VALUE "bit is not an integer or out of range"
#define ERR_BITPOS_BIT "The bit argument must be 1 or 0."
#define ERR_BITOP_NOT "BITOP NOT must be called with a single source key."
#define ERR_BITFIELD_TYPE                                                                          \
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
#define ERR_BITFIELD_OVERFLOW "Invalid OVERFLOW type specified"
#define ERR_BITFIELD_RO "BITFIELD_RO only supports the GET subcommand"

/* --- shared parsing --- */

/* A bit offset in argv[i] (Redis's getBitOffsetFromArgument): an integer, or with `hash_bits`
 * > 0 also "#n" meaning n * hash_bits; negative or beyond BITMAP_MAX_OFFSET is an error. */
static enum kv_code
parse_bit_offset(struct cmd_ctx *ctx, int i, unsigned hash_bits, uint64_t *out)
{
    struct kv_slice a = ctx->argv[i];
    bool hash = hash_bits > 0 && a.len > 0 && a.ptr[0] == '#';
    int64_t v;
    if (hash)
        a = kv_slice_make(a.ptr + 1, a.len - 1);
    if (strconv_to_int64(a.ptr, a.len, &v) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_BIT_OFFSET);
    if (hash) {
        if (v < 0 || v > INT64_MAX / (int64_t)hash_bits)
            return args_error(ctx, KV_ERR_INVALID, "%s", ERR_BIT_OFFSET);
        v *= (int64_t)hash_bits;
    }
    if (v < 0 || (uint64_t)v > BITMAP_MAX_OFFSET)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_BIT_OFFSET);
    *out = (uint64_t)v;
    return KV_OK;
}

/* The BIT|BYTE unit word in argv[i]: *is_bit. Syntax error otherwise. */
static enum kv_code
parse_unit(struct cmd_ctx *ctx, int i, bool *is_bit)
{
    if (args_is(ctx, i, "bit"))
        *is_bit = true;
    else if (args_is(ctx, i, "byte"))
        *is_bit = false;
    else
        return args_syntax_error(ctx);
    return KV_OK;
}

/* Redis's index normalisation: negative indexes count from the end of total units, both are
 * clamped to [0, total - 1] (end may stay -1 when total is 0). */
static void
normalize_range(int64_t total, int64_t *start, int64_t *end)
{
    if (*start < 0)
        *start += total;
    if (*end < 0)
        *end += total;
    if (*start < 0)
        *start = 0;
    if (*end < 0)
        *end = 0;
    if (*end >= total)
        *end = total - 1;
}

/* The inclusive bit range of units start..end (bits, or bytes when !is_bit). */
static void
bit_range(bool is_bit, int64_t start, int64_t end, uint64_t *first, uint64_t *last)
{
    if (is_bit) {
        *first = (uint64_t)start;
        *last = (uint64_t)end;
    } else {
        *first = (uint64_t)start * 8;
        *last = (uint64_t)end * 8 + 7;
    }
}

/* --- procs --- */

/* SETBIT key offset value -> integer: the previous bit. */
static enum kv_code
cmd_setbit(struct cmd_ctx *ctx)
{
    uint64_t offset = 0;
    int64_t value;
    enum kv_code rc = parse_bit_offset(ctx, 2, 0, &offset);
    if (rc != KV_OK)
        return rc;
    if (strconv_to_int64(ctx->argv[3].ptr, ctx->argv[3].len, &value) != KV_OK ||
        (value != 0 && value != 1))
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_BIT_VALUE);
    int old = 0;
    rc = bitmap_setbit(ctx->db, ctx->argv[1], offset, (int)value, &old, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, old);
    return rc;
}

/* GETBIT key offset -> integer: the bit, 0 beyond the end or for an absent key. */
static enum kv_code
cmd_getbit(struct cmd_ctx *ctx)
{
    uint64_t offset = 0;
    enum kv_code rc = parse_bit_offset(ctx, 2, 0, &offset);
    if (rc != KV_OK)
        return rc;
    struct bitmap_view v;
    int bit = 0;
    rc = bitmap_view_open(ctx->db, ctx->argv[1], &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK)
        rc = bitmap_view_getbit(&v, offset, &bit, ctx->err);
    else if (rc == KV_NOTFOUND)
        rc = KV_OK;
    if (rc == KV_OK)
        resp_write_int(ctx->out, bit);
    bitmap_view_close(&v);
    return rc;
}

/* The BITCOUNT reply for an open view (argv checked in Redis's order). */
static enum kv_code
bitcount_of(struct cmd_ctx *ctx, struct bitmap_view *v, int64_t *count)
{
    int64_t total = (int64_t)v->len, start, end;
    bool is_bit = false;
    enum kv_code rc;
    *count = 0;
    if (ctx->argc == 4 || ctx->argc == 5) {
        if ((rc = args_int64(ctx, 2, &start)) != KV_OK || (rc = args_int64(ctx, 3, &end)) != KV_OK)
            return rc;
        if (start < 0 && end < 0 && start > end)
            return KV_OK;
        if (ctx->argc == 5 && (rc = parse_unit(ctx, 4, &is_bit)) != KV_OK)
            return rc;
        if (is_bit)
            total *= 8;
        normalize_range(total, &start, &end);
    } else if (ctx->argc == 2) {
        start = 0;
        end = total - 1;
    } else {
        return args_syntax_error(ctx);
    }
    if (start > end)
        return KV_OK;
    uint64_t first, last, n = 0;
    bit_range(is_bit, start, end, &first, &last);
    rc = bitmap_view_count(v, first, last, &n, ctx->err);
    if (rc == KV_OK)
        *count = (int64_t)n;
    return rc;
}

/* BITCOUNT key [start end [BYTE|BIT]] -> integer: the set bits in the range (0 when absent). */
static enum kv_code
cmd_bitcount(struct cmd_ctx *ctx)
{
    struct bitmap_view v;
    int64_t count = 0;
    enum kv_code rc = bitmap_view_open(ctx->db, ctx->argv[1], &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK)
        rc = bitcount_of(ctx, &v, &count);
    else if (rc == KV_NOTFOUND)
        rc = KV_OK;
    if (rc == KV_OK)
        resp_write_int(ctx->out, count);
    bitmap_view_close(&v);
    return rc;
}

/* The BITPOS reply for an open view. */
static enum kv_code
bitpos_of(struct cmd_ctx *ctx, struct bitmap_view *v, int bit, int64_t *pos)
{
    int64_t total = (int64_t)v->len, start, end;
    bool is_bit = false, end_given = false;
    enum kv_code rc;
    if (ctx->argc >= 4 && ctx->argc <= 6) {
        if ((rc = args_int64(ctx, 3, &start)) != KV_OK)
            return rc;
        if (ctx->argc == 6 && (rc = parse_unit(ctx, 5, &is_bit)) != KV_OK)
            return rc;
        if (ctx->argc >= 5) {
            if ((rc = args_int64(ctx, 4, &end)) != KV_OK)
                return rc;
            end_given = true;
        } else {
            end = total - 1;
        }
        if (is_bit)
            total *= 8;
        normalize_range(total, &start, &end);
    } else if (ctx->argc == 3) {
        start = 0;
        end = total - 1;
    } else {
        return args_syntax_error(ctx);
    }
    *pos = -1;
    if (start > end)
        return KV_OK;
    uint64_t first, last;
    bit_range(is_bit, start, end, &first, &last);
    rc = bitmap_view_find(v, bit, first, last, pos, ctx->err);
    if (rc != KV_OK)
        return rc;
    /* No clear bit in the range: without an explicit end the string counts as zero-padded, so
     * the answer is the first bit after the last byte of the range. */
    if (*pos < 0 && bit == 0 && !end_given)
        *pos = (int64_t)((last / 8 + 1) * 8);
    return KV_OK;
}

/* BITPOS key bit [start [end [BYTE|BIT]]] -> integer: the first bit set to `bit`, or -1. */
static enum kv_code
cmd_bitpos(struct cmd_ctx *ctx)
{
    int64_t bit;
    enum kv_code rc = args_int64(ctx, 2, &bit);
    if (rc != KV_OK)
        return rc;
    if (bit != 0 && bit != 1)
        return args_error(ctx, KV_ERR, "%s", ERR_BITPOS_BIT);
    struct bitmap_view v;
    int64_t pos = bit ? -1 : 0;
    rc = bitmap_view_open(ctx->db, ctx->argv[1], &v, ctx->err);
    reads_count_lookup(ctx, rc);
    if (rc == KV_OK)
        rc = bitpos_of(ctx, &v, (int)bit, &pos);
    else if (rc == KV_NOTFOUND)
        rc = KV_OK;
    if (rc == KV_OK)
        resp_write_int(ctx->out, pos);
    bitmap_view_close(&v);
    return rc;
}

/* BITOP AND|OR|XOR|NOT destkey key [key ...] -> integer: the length of the result (dest is
 * deleted when it is 0). */
static enum kv_code
cmd_bitop(struct cmd_ctx *ctx)
{
    enum bitmap_op op;
    if (args_is(ctx, 1, "and"))
        op = BITMAP_OP_AND;
    else if (args_is(ctx, 1, "or"))
        op = BITMAP_OP_OR;
    else if (args_is(ctx, 1, "xor"))
        op = BITMAP_OP_XOR;
    else if (args_is(ctx, 1, "not"))
        op = BITMAP_OP_NOT;
    else
        return args_syntax_error(ctx);
    size_t n = (size_t)ctx->argc - 3;
    if (op == BITMAP_OP_NOT && n != 1)
        return args_error(ctx, KV_ERR, "%s", ERR_BITOP_NOT);
    uint64_t len = 0;
    enum kv_code rc = bitmap_bitop(ctx->db, op, ctx->argv[2], &ctx->argv[3], n, &len, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, (int64_t)len);
    return rc;
}

/* A BITFIELD type word (Redis's getBitfieldTypeFromArgument): 'i' or 'u' then the width. */
static enum kv_code
parse_field_type(struct cmd_ctx *ctx, int i, bool *is_signed, unsigned *bits)
{
    struct kv_slice a = ctx->argv[i];
    int64_t w;
    if (a.len == 0 || (a.ptr[0] != 'i' && a.ptr[0] != 'u'))
        return args_error(ctx, KV_ERR, "%s", ERR_BITFIELD_TYPE);
    *is_signed = a.ptr[0] == 'i';
    if (strconv_to_int64(a.ptr + 1, a.len - 1, &w) != KV_OK || w < 1 || w > (*is_signed ? 64 : 63))
        return args_error(ctx, KV_ERR, "%s", ERR_BITFIELD_TYPE);
    *bits = (unsigned)w;
    return KV_OK;
}

/* Parse the BITFIELD subcommands from argv[2..] into ops (capacity argc), *n of them, as Redis
 * does: every error is reported before the key is looked at. */
static enum kv_code
parse_bitfield(struct cmd_ctx *ctx, struct bitmap_field_op *ops, size_t *n)
{
    enum bitmap_overflow overflow = BITMAP_OVERFLOW_WRAP;
    *n = 0;
    for (int j = 2; j < ctx->argc; j++) {
        int rem = ctx->argc - j - 1;
        struct bitmap_field_op op;
        memset(&op, 0, sizeof op);
        if (args_is(ctx, j, "get") && rem >= 2) {
            op.kind = BITMAP_FIELD_GET;
        } else if (args_is(ctx, j, "set") && rem >= 3) {
            op.kind = BITMAP_FIELD_SET;
        } else if (args_is(ctx, j, "incrby") && rem >= 3) {
            op.kind = BITMAP_FIELD_INCRBY;
        } else if (args_is(ctx, j, "overflow") && rem >= 1) {
            j++;
            if (args_is(ctx, j, "wrap"))
                overflow = BITMAP_OVERFLOW_WRAP;
            else if (args_is(ctx, j, "sat"))
                overflow = BITMAP_OVERFLOW_SAT;
            else if (args_is(ctx, j, "fail"))
                overflow = BITMAP_OVERFLOW_FAIL;
            else
                return args_error(ctx, KV_ERR, "%s", ERR_BITFIELD_OVERFLOW);
            continue;
        } else {
            return args_syntax_error(ctx);
        }
        enum kv_code rc = parse_field_type(ctx, j + 1, &op.is_signed, &op.bits);
        if (rc != KV_OK)
            return rc;
        if ((rc = parse_bit_offset(ctx, j + 2, op.bits, &op.offset)) != KV_OK)
            return rc;
        if (op.kind != BITMAP_FIELD_GET && (rc = args_int64(ctx, j + 3, &op.value)) != KV_OK)
            return rc;
        op.overflow = overflow;
        ops[(*n)++] = op;
        j += op.kind == BITMAP_FIELD_GET ? 2 : 3;
    }
    return KV_OK;
}

/* BITFIELD / BITFIELD_RO common part. */
static enum kv_code
bitfield_generic(struct cmd_ctx *ctx, bool readonly)
{
    struct bitmap_field_op *ops = kv_malloc((size_t)ctx->argc * sizeof *ops);
    struct bitmap_field_result *res = NULL;
    size_t n = 0;
    enum kv_code rc = parse_bitfield(ctx, ops, &n);
    if (rc != KV_OK)
        goto out;
    if (readonly) {
        for (size_t i = 0; i < n; i++) {
            if (ops[i].kind != BITMAP_FIELD_GET) {
                rc = args_error(ctx, KV_ERR, "%s", ERR_BITFIELD_RO);
                goto out;
            }
        }
    }
    res = kv_calloc(n ? n : 1, sizeof *res);
    rc = bitmap_bitfield(ctx->db, ctx->argv[1], ops, n, res, ctx->err);
    if (rc != KV_OK)
        goto out;
    resp_write_array(ctx->out, n);
    for (size_t i = 0; i < n; i++) {
        if (res[i].is_nil)
            resp_write_null(ctx->out);
        else
            resp_write_int(ctx->out, res[i].value);
    }
out:
    kv_free(ops);
    kv_free(res);
    return rc;
}

/* BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment |
 * OVERFLOW WRAP|SAT|FAIL ...] -> array: one integer (or nil on a FAIL overflow) per operation. */
static enum kv_code
cmd_bitfield(struct cmd_ctx *ctx)
{
    return bitfield_generic(ctx, false);
}

/* BITFIELD_RO key [GET type offset ...] -> array of integers. */
static enum kv_code
cmd_bitfield_ro(struct cmd_ctx *ctx)
{
    return bitfield_generic(ctx, true);
}

const struct command_spec bitmap_commands[] = {
    {"setbit", cmd_setbit, 4, CMD_WRITE, 1, 1, 1, NULL, "bitmap"},
    {"getbit", cmd_getbit, 3, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "bitmap"},
    {"bitcount", cmd_bitcount, -2, CMD_READONLY, 1, 1, 1, NULL, "bitmap"},
    {"bitpos", cmd_bitpos, -3, CMD_READONLY, 1, 1, 1, NULL, "bitmap"},
    {"bitop", cmd_bitop, -4, CMD_WRITE, 2, -1, 1, NULL, "bitmap"},
    {"bitfield", cmd_bitfield, -2, CMD_WRITE, 1, 1, 1, NULL, "bitmap"},
    {"bitfield_ro", cmd_bitfield_ro, -2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "bitmap"},
};
const size_t bitmap_commands_len = sizeof bitmap_commands / sizeof bitmap_commands[0];
