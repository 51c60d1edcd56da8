/* SPDX-License-Identifier: Apache-2.0 */
#include "common/slice.h"

#include <strings.h>

bool
kv_slice_eq_nocase(struct kv_slice a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && (n == 0 || strncasecmp(a.ptr, lit, n) == 0);
}

int
kv_slice_cmp(struct kv_slice a, struct kv_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}
