/* SPDX-License-Identifier: Apache-2.0
 *
 * strconv: the number grammar of Redis 7.0 (string2ll, string2d, string2ld, ll2string,
 * addReplyDouble, ld2string in human mode), checked against redis-server 7.0.15. The
 * floating-point parsers delegate to strtod/strtold on a NUL-terminated copy, because those
 * functions are the definition Redis uses; the checks around them are what make them strict.
 *
 * Threads: any; no state.
 */
#include "common/strconv.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* Longest decimal form of an int64 or uint64, without sign: 20 digits. */
#define DIGITS_MAX 20

/* Accumulate the digits of s[0..len) into *out. The first digit must be 1-9 unless the whole
 * input is "0": leading zeros are refused, as in string2ll. */
static bool
parse_digits(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > DIGITS_MAX)
        return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] < '1' || s[0] > '9')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

enum kv_code
strconv_to_int64(const char *s, size_t len, int64_t *out)
{
    bool negative = len > 0 && s[0] == '-';
    const char *digits = negative ? s + 1 : s;
    size_t ndigits = negative ? len - 1 : len;
    uint64_t mag;
    if (!parse_digits(digits, ndigits, &mag))
        return KV_ERR_INVALID;
    if (negative) {
        /* "-0" is refused: its first digit is not 1-9 and it is not the whole input. */
        if (mag == 0 || mag > (uint64_t)INT64_MAX + 1)
            return KV_ERR_INVALID;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return KV_ERR_INVALID;
        *out = (int64_t)mag;
    }
    return KV_OK;
}

enum kv_code
strconv_to_uint64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v;
    if (!parse_digits(s, len, &v))
        return KV_ERR_INVALID;
    *out = v;
    return KV_OK;
}

/* True when the first byte is one that strtod would silently skip. Redis refuses those
 * explicitly (isspace on the first byte), so we do the same, in the C locale. */
static bool
starts_with_space(const char *s, size_t len)
{
    if (len == 0)
        return false;
    char c = s[0];
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* A NUL-terminated copy of s: in `stack` when it fits, otherwise on the heap (the caller frees
 * the result with kv_free when it is not `stack`). */
static char *
terminated_copy(const char *s, size_t len, char *stack, size_t stack_size)
{
    char *p = len < stack_size ? stack : kv_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

enum kv_code
strconv_to_double(const char *s, size_t len, double *out)
{
    if (len == 0 || starts_with_space(s, len))
        return KV_ERR_INVALID;
    char stack[128];
    char *copy = terminated_copy(s, len, stack, sizeof stack);
    char *end;
    errno = 0;
    double v = strtod(copy, &end);
    /* An embedded NUL stops strtod early, so it fails the length check too. */
    bool ok = (size_t)(end - copy) == len && !isnan(v) &&
              !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0.0));
    if (copy != stack)
        kv_free(copy);
    if (!ok)
        return KV_ERR_INVALID;
    *out = v;
    return KV_OK;
}

enum kv_code
strconv_to_long_double(const char *s, size_t len, long double *out)
{
    if (len == 0 || len >= STRCONV_LONG_DOUBLE_BUF || starts_with_space(s, len))
        return KV_ERR_INVALID;
    char stack[128];
    char *copy = terminated_copy(s, len, stack, sizeof stack);
    char *end;
    errno = 0;
    long double v = strtold(copy, &end);
    bool ok = (size_t)(end - copy) == len && !isnan(v) && errno != EINVAL &&
              !(errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0.0L));
    if (copy != stack)
        kv_free(copy);
    if (!ok)
        return KV_ERR_INVALID;
    *out = v;
    return KV_OK;
}

size_t
strconv_from_uint64(uint64_t v, char *buf)
{
    char tmp[DIGITS_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

size_t
strconv_from_int64(int64_t v, char *buf)
{
    if (v >= 0)
        return strconv_from_uint64((uint64_t)v, buf);
    /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
    buf[0] = '-';
    return 1 + strconv_from_uint64(0 - (uint64_t)v, buf + 1);
}

size_t
strconv_from_double(double v, char *buf)
{
    const char *special = NULL;
    if (isnan(v))
        special = "nan";
    else if (isinf(v))
        special = v > 0 ? "inf" : "-inf";
    if (special != NULL) {
        size_t n = strlen(special);
        memcpy(buf, special, n + 1);
        return n;
    }
    int n = snprintf(buf, STRCONV_DOUBLE_BUF, "%.17g", v);
    return n > 0 && n < STRCONV_DOUBLE_BUF ? (size_t)n : 0;
}

size_t
strconv_from_long_double(long double v, char *buf)
{
    const char *special = NULL;
    if (isnan(v))
        special = "nan";
    else if (isinf(v))
        special = v > 0 ? "inf" : "-inf";
    if (special != NULL) {
        size_t n = strlen(special);
        memcpy(buf, special, n + 1);
        return n;
    }
    int printed = snprintf(buf, STRCONV_LONG_DOUBLE_BUF, "%.17Lf", v);
    if (printed <= 0 || printed >= STRCONV_LONG_DOUBLE_BUF) {
        buf[0] = '\0';
        return 0;
    }
    size_t n = (size_t)printed;
    /* "%.17Lf" always prints a '.', followed by 17 digits. */
    while (buf[n - 1] == '0')
        n--;
    if (buf[n - 1] == '.')
        n--;
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    buf[n] = '\0';
    return n;
}
