/* SPDX-License-Identifier: Apache-2.0
 *
 * strconv: strict conversions between byte strings and numbers, with Redis's rules.
 *
 * Parsing (inputs are byte ranges, not NUL-terminated):
 *   - integers: optional '-', decimal digits, no leading '+', no spaces, no leading zeros
 *     (except "0" itself), "-0" refused, overflow refused (Redis string2ll);
 *   - doubles: what strtod accepts over the whole range, no leading or trailing space, no NaN;
 *     "inf", "+inf", "-inf", "infinity" (any case) accepted (Redis string2d / zset scores);
 *   - long doubles: same rules (INCRBYFLOAT).
 * Each returns KV_OK and sets *out, or KV_ERR_INVALID and leaves *out unchanged.
 *
 * Formatting writes into a caller buffer and returns the length written (no NUL counted; a NUL
 * is written when there is room).
 *
 * Threads: any; no state.
 */
#ifndef KV_COMMON_STRCONV_H
#define KV_COMMON_STRCONV_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Buffer sizes that always suffice. */
#define STRCONV_INT64_BUF 21
#define STRCONV_DOUBLE_BUF 64

enum kv_code strconv_to_int64(const char *s, size_t len, int64_t *out);
enum kv_code strconv_to_uint64(const char *s, size_t len, uint64_t *out);
enum kv_code strconv_to_double(const char *s, size_t len, double *out);
enum kv_code strconv_to_long_double(const char *s, size_t len, long double *out);

/* Decimal, as Redis ll2string. buf must hold STRCONV_INT64_BUF bytes. */
size_t strconv_from_int64(int64_t v, char *buf);
size_t strconv_from_uint64(uint64_t v, char *buf);

/* A double as Redis 7.0 replies it ("%.17g"; "inf" / "-inf"; integral values in range print
 * without exponent or fraction, e.g. 3 -> "3"). buf must hold STRCONV_DOUBLE_BUF bytes. */
size_t strconv_from_double(double v, char *buf);

/* A long double the way INCRBYFLOAT/HINCRBYFLOAT print it (Redis ld2string in human-friendly
 * mode: "%.17Lf", trailing zeros and a trailing '.' removed; "inf"/"-inf").
 * buf must hold 5 * STRCONV_DOUBLE_BUF bytes. Returns 0 if the value does not fit. */
size_t strconv_from_long_double(long double v, char *buf);

#ifdef __cplusplus
}
#endif

#endif
