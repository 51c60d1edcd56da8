/* SPDX-License-Identifier: Apache-2.0
 *
 * glob: Redis-compatible glob matching (KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE): '*', '?',
 * '[abc]', '[^a]', '[a-z]', '\x' escapes; binary safe. Same results as Redis's stringmatchlen,
 * including its recursion limit for pathological patterns (returns false, never crashes).
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

bool glob_match(const char *pattern, size_t plen, const char *str, size_t slen, bool nocase);

/* If the pattern matches exactly the strings that start with some fixed prefix (e.g. "user:*",
 * "abc", "*"), return true and set *prefix_len to that prefix's length (the pattern's first
 * *prefix_len bytes are the literal prefix, with no escapes). Lets SCAN/KEYS seek instead of
 * scanning everything. Patterns with '?', '[', '\\' before the final '*', or a '*' that is not
 * last, return false. */
bool glob_literal_prefix(const char *pattern, size_t plen, size_t *prefix_len);

#ifdef __cplusplus
}
#endif

#endif
