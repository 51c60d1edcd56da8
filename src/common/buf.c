/* SPDX-License-Identifier: Apache-2.0 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/endian.h"
#include "common/mem.h"

void
kv_buf_init(struct kv_buf *b)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

void
kv_buf_deinit(struct kv_buf *b)
{
    kv_free(b->ptr);
    kv_buf_init(b);
}

void
kv_buf_reserve(struct kv_buf *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need <= b->cap && b->ptr != NULL)
        return;
    size_t cap = b->cap ? b->cap : 32;
    while (cap < need)
        cap = cap < (1u << 20) ? cap * 2 : cap + cap / 2;
    b->ptr = kv_realloc(b->ptr, cap + 1);
    b->cap = cap;
    b->ptr[b->len] = '\0';
}

void
kv_buf_clear(struct kv_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

void
kv_buf_resize(struct kv_buf *b, size_t len)
{
    if (len > b->len) {
        kv_buf_reserve(b, len - b->len);
        memset(b->ptr + b->len, 0, len - b->len);
    }
    b->len = len;
    if (b->ptr)
        b->ptr[len] = '\0';
}

void
kv_buf_append(struct kv_buf *b, const void *p, size_t n)
{
    kv_buf_reserve(b, n);
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

void
kv_buf_append_slice(struct kv_buf *b, struct kv_slice s)
{
    kv_buf_append(b, s.ptr, s.len);
}

void
kv_buf_append_cstr(struct kv_buf *b, const char *s)
{
    kv_buf_append(b, s, strlen(s));
}

void
kv_buf_append_byte(struct kv_buf *b, uint8_t c)
{
    kv_buf_append(b, &c, 1);
}

void
kv_buf_printf(struct kv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        kv_buf_append(b, tmp, (size_t)n);
        return;
    }
    kv_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
kv_buf_set(struct kv_buf *b, const void *p, size_t n)
{
    kv_buf_clear(b);
    kv_buf_append(b, p, n);
}

void
kv_buf_append_u16be(struct kv_buf *b, uint16_t v)
{
    uint8_t tmp[2];
    kv_put_u16be(tmp, v);
    kv_buf_append(b, tmp, sizeof tmp);
}

void
kv_buf_append_u32be(struct kv_buf *b, uint32_t v)
{
    uint8_t tmp[4];
    kv_put_u32be(tmp, v);
    kv_buf_append(b, tmp, sizeof tmp);
}

void
kv_buf_append_u64be(struct kv_buf *b, uint64_t v)
{
    uint8_t tmp[8];
    kv_put_u64be(tmp, v);
    kv_buf_append(b, tmp, sizeof tmp);
}

char *
kv_buf_steal(struct kv_buf *b, size_t *len)
{
    if (b->ptr == NULL)
        kv_buf_reserve(b, 0);
    char *p = b->ptr;
    if (len)
        *len = b->len;
    kv_buf_init(b);
    return p;
}
