/* SPDX-License-Identifier: Apache-2.0 */
#include "common/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef KV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "common/log.h"

static void
oom(size_t size)
{
    LOG_FATAL("out of memory allocating %zu bytes", size);
    abort();
}

void *
kv_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *
kv_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *
kv_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *
kv_try_malloc(size_t size)
{
    return malloc(size ? size : 1);
}

void
kv_free(void *ptr)
{
    free(ptr);
}

char *
kv_strdup(const char *s)
{
    return kv_memdup(s, strlen(s));
}

char *
kv_memdup(const void *p, size_t len)
{
    char *d = kv_malloc(len + 1);
    if (len)
        memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

static size_t
rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

size_t
kv_mem_used(void)
{
#ifdef KV_HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0;
    sz = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) == 0)
        return allocated;
#endif
    return rss_bytes();
}

const char *
kv_mem_allocator(void)
{
#ifdef KV_HAVE_JEMALLOC
    static char name[64];
    if (name[0] == '\0') {
        const char *v = NULL;
        size_t sz = sizeof v;
        if (mallctl("version", &v, &sz, NULL, 0) == 0 && v != NULL)
            snprintf(name, sizeof name, "jemalloc-%.*s", (int)strcspn(v, "-"), v);
        else
            snprintf(name, sizeof name, "jemalloc");
    }
    return name;
#else
    return "libc";
#endif
}
