/* SPDX-License-Identifier: Apache-2.0
 *
 * glob: a backtracking matcher with the same state machine as Redis's stringmatchlen, so that
 * malformed patterns (unterminated classes, trailing backslashes, reversed ranges) give the
 * same answers. Two guards bound the work: recursion on '*' is limited to GLOB_MAX_NESTING
 * levels, and once the rest of a pattern failed to match at every position after a '*', no
 * outer '*' retries (a longer expansion of an earlier '*' cannot help).
 *
 * Threads: any; no state.
 */
#include "common/glob.h"

#include <stdint.h>

/* Redis's limit: deeper patterns fail instead of exhausting the stack. */
#define GLOB_MAX_NESTING 1000

struct glob_state {
    bool nocase;
    bool give_up; /* a '*' found no match for the rest of the pattern at any position */
};

static unsigned char
ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool
byte_eq(unsigned char a, unsigned char b, bool nocase)
{
    return nocase ? ascii_lower(a) == ascii_lower(b) : a == b;
}

/* Match one byte c against the class that starts at p[*pi] (just after the '['). Leaves *pi on
 * the closing ']', or on the last byte of the pattern when the class is unterminated. */
static bool
match_class(const unsigned char *p, size_t plen, size_t *pi, unsigned char c, bool nocase)
{
    size_t i = *pi;
    bool negate = i < plen && p[i] == '^';
    if (negate)
        i++;
    bool found = false;
    for (;; i++) {
        if (i < plen && p[i] == '\\' && plen - i >= 2) {
            i++;
            if (p[i] == c)
                found = true;
        } else if (i < plen && p[i] == ']') {
            break;
        } else if (i >= plen) {
            /* Unterminated: the caller's step past the class must land on the end. */
            i--;
            break;
        } else if (plen - i >= 3 && p[i + 1] == '-') {
            unsigned char lo = p[i], hi = p[i + 2], x = c;
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (nocase) {
                lo = ascii_lower(lo);
                hi = ascii_lower(hi);
                x = ascii_lower(x);
            }
            i += 2;
            if (x >= lo && x <= hi)
                found = true;
        } else if (byte_eq(p[i], c, nocase)) {
            found = true;
        }
    }
    *pi = i;
    return negate ? !found : found;
}

static bool
match_from(const unsigned char *p, size_t plen, const unsigned char *s, size_t slen,
           struct glob_state *st, int nesting)
{
    if (nesting > GLOB_MAX_NESTING)
        return false;
    size_t pi = 0, si = 0;
    while (pi < plen && si < slen) {
        switch (p[pi]) {
        case '*':
            while (pi + 1 < plen && p[pi + 1] == '*')
                pi++;
            if (pi + 1 == plen)
                return true;
            for (; si < slen; si++) {
                if (match_from(p + pi + 1, plen - pi - 1, s + si, slen - si, st, nesting + 1))
                    return true;
                if (st->give_up)
                    return false;
            }
            st->give_up = true;
            return false;
        case '?':
            si++;
            break;
        case '[':
            pi++;
            if (!match_class(p, plen, &pi, s[si], st->nocase))
                return false;
            si++;
            break;
        case '\\':
            /* The escaped byte is compared literally; a lone '\' at the end is itself. */
            if (plen - pi >= 2)
                pi++;
            /* fall through */
        default:
            if (!byte_eq(p[pi], s[si], st->nocase))
                return false;
            si++;
            break;
        }
        pi++;
        if (si == slen) {
            /* Trailing '*'s match the empty rest of the string. */
            while (pi < plen && p[pi] == '*')
                pi++;
            break;
        }
    }
    return pi == plen && si == slen;
}

bool
glob_match(const char *pattern, size_t plen, const char *str, size_t slen, bool nocase)
{
    struct glob_state st = {nocase, false};
    return match_from((const unsigned char *)pattern, plen, (const unsigned char *)str, slen, &st,
                      0);
}

bool
glob_literal_prefix(const char *pattern, size_t plen, size_t *prefix_len)
{
    size_t i = 0;
    while (i < plen && pattern[i] != '*' && pattern[i] != '?' && pattern[i] != '[' &&
           pattern[i] != '\\')
        i++;
    *prefix_len = i;
    if (i == plen)
        return false;
    for (size_t j = i; j < plen; j++) {
        if (pattern[j] != '*')
            return false;
    }
    return true;
}
