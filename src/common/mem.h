/* SPDX-License-Identifier: Apache-2.0
 *
 * mem: the project's allocator entry points. In normal builds malloc is jemalloc (linked in);
 * sanitizer builds use the libc allocator so ASan sees everything.
 *
 * kv_malloc/kv_calloc/kv_realloc never return NULL: on exhaustion they log and abort (Redis's
 * zmalloc policy). Sizes that come from the network are checked against a config limit first, or
 * use kv_try_malloc, which may return NULL.
 *
 * Threads: any.
 */
#ifndef KV_COMMON_MEM_H
#define KV_COMMON_MEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *kv_malloc(size_t size);
void *kv_calloc(size_t n, size_t size);
void *kv_realloc(void *ptr, size_t size);
void *kv_try_malloc(size_t size); /* may return NULL */
void kv_free(void *ptr);          /* kv_free(NULL) is a no-op */

/* Owned copies; free with kv_free. kv_memdup appends a NUL after the copied bytes. */
char *kv_strdup(const char *s);
char *kv_memdup(const void *p, size_t len);

/* Bytes currently allocated by the process as the allocator reports it (jemalloc's
 * stats.allocated, or the RSS when that is unavailable). For INFO memory. */
size_t kv_mem_used(void);

/* Name of the allocator in use ("jemalloc-5.3.0" or "libc"). */
const char *kv_mem_allocator(void);

#ifdef __cplusplus
}
#endif

#endif
