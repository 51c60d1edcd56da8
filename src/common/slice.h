/* SPDX-License-Identifier: Apache-2.0
 *
 * slice: a non-owning view of bytes. A slice never frees what it points to; its lifetime is the
 * lifetime of the memory it views, which the producer states.
 *
 * Threads: any.
 */
#ifndef KV_COMMON_SLICE_H
#define KV_COMMON_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kv_slice {
    const char *ptr;
    size_t len;
};

static inline struct kv_slice
kv_slice_make(const void *ptr, size_t len)
{
    struct kv_slice s = {(const char *)ptr, len};
    return s;
}

static inline struct kv_slice
kv_slice_cstr(const char *s)
{
    return kv_slice_make(s, strlen(s));
}

static inline bool
kv_slice_eq(struct kv_slice a, struct kv_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Case-insensitive ASCII comparison with a C string (option names, subcommands). */
bool kv_slice_eq_nocase(struct kv_slice a, const char *lit);

/* memcmp-style ordering, shorter prefix first. */
int kv_slice_cmp(struct kv_slice a, struct kv_slice b);

#ifdef __cplusplus
}
#endif

#endif
