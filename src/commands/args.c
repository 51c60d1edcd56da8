/* SPDX-License-Identifier: Apache-2.0 */
#include "commands/args.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands/errors.h"
#include "common/clock.h"
#include "common/strconv.h"

enum kv_code
args_error(struct cmd_ctx *ctx, enum kv_code code, const char *fmt, ...)
{
    if (ctx->err == NULL)
        return code;
    ctx->err->code = code;
    /* Formatted aside first: an argument may be the current message (a reason wrapped in a
     * command's own text), and vsnprintf's output may not overlap its arguments. */
    char msg[sizeof ctx->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(ctx->err->msg, msg, sizeof msg);
    return code;
}

enum kv_code
args_syntax_error(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR_SYNTAX, "%s", ERR_SYNTAX);
}

enum kv_code
args_arity_error(struct cmd_ctx *ctx)
{
    return args_error(ctx, KV_ERR, "wrong number of arguments for '%s' command", ctx->cmd->name);
}

enum kv_code
args_int64(struct cmd_ctx *ctx, int i, int64_t *out)
{
    if (strconv_to_int64(ctx->argv[i].ptr, ctx->argv[i].len, out) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_NOT_INTEGER);
    return KV_OK;
}

enum kv_code
args_int64_range(struct cmd_ctx *ctx, int i, int64_t min, int64_t max, const char *msg,
                 int64_t *out)
{
    int64_t v;
    if (strconv_to_int64(ctx->argv[i].ptr, ctx->argv[i].len, &v) != KV_OK || v < min || v > max)
        return args_error(ctx, KV_ERR_INVALID, "%s", msg ? msg : ERR_NOT_INTEGER);
    *out = v;
    return KV_OK;
}

enum kv_code
args_double(struct cmd_ctx *ctx, int i, double *out)
{
    if (strconv_to_double(ctx->argv[i].ptr, ctx->argv[i].len, out) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_NOT_FLOAT);
    return KV_OK;
}

enum kv_code
args_long_double(struct cmd_ctx *ctx, int i, long double *out)
{
    if (strconv_to_long_double(ctx->argv[i].ptr, ctx->argv[i].len, out) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_NOT_FLOAT);
    return KV_OK;
}

enum kv_code
args_timeout_ms(struct cmd_ctx *ctx, int i, int64_t *out_ms)
{
    long double v;
    if (strconv_to_long_double(ctx->argv[i].ptr, ctx->argv[i].len, &v) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_TIMEOUT_NOT_FLOAT);
    /* Redis 7.0 takes ceill(seconds * 1000) as a long long: a value in (-0.001, 0] rounds to 0
     * (forever), and one beyond the long long range (infinities included) converts to LLONG_MIN
     * on the platforms we run on, so it reads as negative. */
    long double ms = ceill(v * 1000.0L);
    if (ms < 0 || ms >= 9223372036854775808.0L)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_TIMEOUT_NEGATIVE);
    /* Longer than any deadline the monotonic clock can hold: the same as forever. */
    *out_ms = ms > (long double)(INT64_MAX / 4) ? 0 : (int64_t)ms;
    return KV_OK;
}

bool
args_is(const struct cmd_ctx *ctx, int i, const char *opt)
{
    return i < ctx->argc && kv_slice_eq_nocase(ctx->argv[i], opt);
}

const char *
args_cstr(const struct cmd_ctx *ctx, int i, char *buf, size_t cap)
{
    size_t n = ctx->argv[i].len < cap - 1 ? ctx->argv[i].len : cap - 1;
    memcpy(buf, ctx->argv[i].ptr, n);
    buf[n] = '\0';
    return buf;
}

enum kv_code
args_deadline_ms(struct cmd_ctx *ctx, int i, int64_t *deadline_ms)
{
    int64_t ms = 0;
    enum kv_code rc = args_timeout_ms(ctx, i, &ms);
    if (rc != KV_OK)
        return rc;
    *deadline_ms = ms == 0 ? 0 : clock_mono_ms() + ms;
    return KV_OK;
}

enum kv_code
args_mpop(struct cmd_ctx *ctx, int at, const char *first, const char *second, struct args_mpop *a)
{
    int64_t numkeys = 0;
    enum kv_code rc = args_int64_range(ctx, at, 1, INT64_MAX, ERR_NUMKEYS_POSITIVE, &numkeys);
    if (rc != KV_OK)
        return rc;
    if (numkeys > ctx->argc - at - 2)
        return args_syntax_error(ctx);
    a->first_key = at + 1;
    a->numkeys = (size_t)numkeys;
    int where = at + 1 + (int)numkeys;
    if (args_is(ctx, where, first))
        a->first = true;
    else if (args_is(ctx, where, second))
        a->first = false;
    else
        return args_syntax_error(ctx);
    int64_t count = -1;
    for (int j = where + 1; j < ctx->argc; j++) {
        if (count == -1 && args_is(ctx, j, "count") && j + 1 < ctx->argc) {
            j++;
            if ((rc = args_int64_range(ctx, j, 1, INT64_MAX, ERR_COUNT_POSITIVE, &count)) != KV_OK)
                return rc;
        } else {
            return args_syntax_error(ctx);
        }
    }
    a->count = count == -1 ? 1 : (uint64_t)count;
    return KV_OK;
}
