/* SPDX-License-Identifier: Apache-2.0
 *
 * strconv: strict conversions between byte strings and numbers, with Redis 7.0's rules. It
 * parses and prints; it never allocates for results and never logs. Command-level wording
 * ("value is not an integer or out of range") belongs to the callers.
 *
 * Parsing (inputs are byte ranges, not NUL-terminated; an embedded NUL is refused):
 *   - int64 (Redis string2ll, as INCR/INCRBY/EXPIRE read a value): an optional '-', then
 *     decimal digits, at most 20 bytes in all. Refused: "", "-", "+1", " 1", "1 ", "01", "00",
 *     "-0", "-01", "1.0", "1e3", "0x1", and anything outside [INT64_MIN, INT64_MAX]
 *     ("9223372036854775808", "-9223372036854775809").
 *   - uint64: the same grammar without the '-' and with the range [0, UINT64_MAX]. (Redis's
 *     string2ull falls back to a lenient strtoull above INT64_MAX; we stay strict.)
 *   - double (Redis string2d / getDoubleFromObject, as ZADD reads a score): whatever strtod
 *     accepts over the whole input, so "+1.5", ".5", "5.", "1E3", "0x10", "0x1p3", "inf",
 *     "-INF", "Infinity" are accepted. Refused: "", a leading space (" 1", "\t1"), trailing
 *     bytes ("1 ", "1e", "infin"), any NaN, an overflow ("1e400") and an underflow to zero
 *     ("1e-400"). An underflow to a subnormal ("1e-310") is accepted. No length limit.
 *   - long double (Redis string2ld, as INCRBYFLOAT/HINCRBYFLOAT read a value): the same rules
 *     with strtold, plus inputs of STRCONV_LONG_DOUBLE_BUF (5120) bytes or more are refused.
 *     "inf" is accepted here; INCRBYFLOAT itself refuses an infinite result.
 * Each returns KV_OK and sets *out, or KV_ERR_INVALID and leaves *out unchanged. The strtod
 * family is locale dependent: the process must run in the "C" locale (the default).
 *
 * Formatting writes into a caller buffer of the stated size, NUL-terminates it, and returns the
 * length written (the NUL not counted).
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
/* Redis's MAX_LONG_DOUBLE_CHARS: "%.17Lf" of the largest long double (~1.19e4932) needs about
 * 4952 bytes, and it is also the parse limit of strconv_to_long_double. */
#define STRCONV_LONG_DOUBLE_BUF 5120

enum kv_code strconv_to_int64(const char *s, size_t len, int64_t *out);
enum kv_code strconv_to_uint64(const char *s, size_t len, uint64_t *out);
enum kv_code strconv_to_double(const char *s, size_t len, double *out);
enum kv_code strconv_to_long_double(const char *s, size_t len, long double *out);

/* Decimal, as Redis ll2string. buf must hold STRCONV_INT64_BUF bytes. */
size_t strconv_from_int64(int64_t v, char *buf);
size_t strconv_from_uint64(uint64_t v, char *buf);

/* A double as Redis 7.0's addReplyDouble replies it (ZSCORE, ZINCRBY, WITHSCORES): "%.17g",
 * and "inf" / "-inf" for infinities. So 1.1 -> "1.1000000000000001", 3 -> "3", 1e15 ->
 * "1000000000000000", 1e17 -> "1e+17", 1e-5 -> "1.0000000000000001e-05", -0.0 -> "-0".
 * (Redis answers "0" for a -0 score only in small listpack-encoded zsets, an artefact of its
 * encoding; a caller that wants that must normalise -0 itself.) NaN prints "nan".
 * buf must hold STRCONV_DOUBLE_BUF bytes. */
size_t strconv_from_double(double v, char *buf);

/* A long double the way INCRBYFLOAT/HINCRBYFLOAT print it (Redis ld2string, human-friendly
 * mode): "%.17Lf", then trailing zeros and a trailing '.' removed, and "-0" becomes "0"; "inf" /
 * "-inf" for infinities. So 10.5 + 0.1 -> "10.6", 3.0e3 -> "3000", 1e-20 -> "0", 1e300 -> the
 * 301 digits of the exact value. NaN prints "nan".
 * buf must hold STRCONV_LONG_DOUBLE_BUF bytes, which fits every finite long double. Returns 0
 * only if it did not fit (not expected). */
size_t strconv_from_long_double(long double v, char *buf);

#ifdef __cplusplus
}
#endif

#endif
