/* SPDX-License-Identifier: Apache-2.0
 *
 * glob: Redis-compatible glob matching (KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE): '*', '?',
 * '[abc]', '[^a]', '[a-z]', '\x' escapes; binary safe. Same results as Redis 7.0's
 * stringmatchlen (checked against redis-server 7.0.15), including its odd corners:
 *   - the empty string is matched only by the empty pattern: glob_match("*", "") is false.
 *     Redis's KEYS and SCAN special-case the pattern "*" as "everything" before matching; a
 *     caller that wants that must do the same;
 *   - a reversed range matches as if it were in order: "[z-a]" == "[a-z]";
 *   - inside a class "\x" matches x (case-sensitively, even in nocase mode), and "[a-]" is the
 *     range 'a'..']';
 *   - an unterminated class ends at the end of the pattern: "[ab" matches "a" and "b", "[^"
 *     matches any one byte, "[" matches nothing;
 *   - a '\' at the very end of the pattern is a literal backslash;
 *   - a pattern whose '*'s would nest more than 1000 deep (1001 or more separate runs of '*'
 *     before its end, as in "a*" x 1001 + "a") matches nothing: the limit Redis added against
 *     abusive patterns.
 * A failed suffix search is not retried from a longer expansion of an earlier '*', so matching
 * costs about O(plen * slen) at worst, never exponential time.
 * Bytes are compared as unsigned values, so a range such as "[a-\xff]" means 0x61..0xff.
 * (Redis compares plain `char`, which is signed on x86: there, ranges with bytes >= 0x80 differ.)
 * nocase folds ASCII letters only.
 *
 * Threads: any; no state.
 */
#ifndef KV_COMMON_GLOB_H
#define KV_COMMON_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when `str` matches `pattern`. Both are byte ranges (not NUL-terminated). */
bool glob_match(const char *pattern, size_t plen, const char *str, size_t slen, bool nocase);

/* The literal prefix of a pattern, for SCAN/KEYS to seek instead of scanning everything.
 * Sets *prefix_len (out) to the length of the pattern's leading run of bytes that are none of
 * '*', '?', '[', '\': every string the pattern matches case-sensitively starts with those
 * bytes. Returns true when the rest of the pattern is only '*'s (one or more), so the pattern
 * matches exactly the strings that start with the prefix and glob_match may be skipped
 * ("user:*", "*", "ab**"; for an empty prefix the empty string is the exception, see above).
 * Returns false otherwise ("abc" matches only itself; "a?c*", "a*b", "a\*" need glob_match).
 * Not valid for nocase matching. */
bool glob_literal_prefix(const char *pattern, size_t plen, size_t *prefix_len);

#ifdef __cplusplus
}
#endif

#endif
