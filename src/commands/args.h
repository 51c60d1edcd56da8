/* SPDX-License-Identifier: Apache-2.0
 *
 * args: argument parsing helpers for command procs. Each converts ctx->argv[i] and, on failure,
 * fills ctx->err with the Redis wording and returns the code, so a proc writes
 *     if ((rc = args_int64(ctx, 2, &n)) != KV_OK) return rc;
 * Nothing is replied here: the dispatcher writes the error.
 *
 * Threads: the connection's worker.
 */
#ifndef KV_COMMANDS_ARGS_H
#define KV_COMMANDS_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "commands/command.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ERR value is not an integer or out of range */
enum kv_code args_int64(struct cmd_ctx *ctx, int i, int64_t *out);
/* As args_int64, then requires min <= v <= max ("value is out of range, must be ..." is not
 * used: Redis says ERR_NOT_INTEGER for these too unless `msg` is given). msg may be NULL. */
enum kv_code args_int64_range(struct cmd_ctx *ctx, int i, int64_t min, int64_t max, const char *msg,
                              int64_t *out);
/* ERR value is not a valid float */
enum kv_code args_double(struct cmd_ctx *ctx, int i, double *out);
enum kv_code args_long_double(struct cmd_ctx *ctx, int i, long double *out);
/* A blocking timeout in seconds with decimals (BLPOP ...), converted as Redis 7.0 does:
 * ceil(seconds * 1000) ms, so -0.0005 is 0 and 0.0001 is 1 ms. ERR timeout is not a float or out
 * of range (not a number, NaN, blanks); ERR timeout is negative (below 0 after rounding, or beyond
 * the 64-bit range, infinities included, which Redis's conversion turns negative). Result in ms,
 * 0 = forever (also for timeouts too long for a deadline). */
enum kv_code args_timeout_ms(struct cmd_ctx *ctx, int i, int64_t *out_ms);

/* A blocking timeout in argv[i] (as args_timeout_ms) turned into a deadline on the monotonic
 * clock in ms (0 = forever). */
enum kv_code args_deadline_ms(struct cmd_ctx *ctx, int i, int64_t *deadline_ms);

/* The arguments of LMPOP / ZMPOP (and of BLMPOP / BZMPOP after the timeout), from argv[at]:
 * numkeys key [key ...] <first>|<second> [COUNT count], checked in Redis 7.0's order: numkeys
 * ("numkeys should be greater than 0"; more than the arguments left: syntax error), the word
 * (case-insensitive), then COUNT at most once ("count should be greater than 0"); anything else
 * is a syntax error. */
struct args_mpop {
    int first_key;  /* argv index of the first key */
    size_t numkeys; /* >= 1 */
    bool first;     /* the word was `first` (LEFT, MIN), not `second` (RIGHT, MAX) */
    uint64_t count; /* 1 without COUNT */
};
enum kv_code args_mpop(struct cmd_ctx *ctx, int at, const char *first, const char *second,
                       struct args_mpop *a);

/* Case-insensitive comparison of argv[i] with an option name. */
bool args_is(const struct cmd_ctx *ctx, int i, const char *opt);

/* Fill ctx->err with code and a printf-style message; returns code. */
enum kv_code args_error(struct cmd_ctx *ctx, enum kv_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ERR syntax error */
enum kv_code args_syntax_error(struct cmd_ctx *ctx);
/* ERR wrong number of arguments for '<name>' command: for the few commands whose valid word
 * counts a single arity number cannot express (PING takes 1 or 2). */
enum kv_code args_arity_error(struct cmd_ctx *ctx);

/* The argument as a NUL-terminated copy in buf (truncated to cap-1 bytes); returns buf. For
 * messages and small option values. */
const char *args_cstr(const struct cmd_ctx *ctx, int i, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
