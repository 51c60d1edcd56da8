/* SPDX-License-Identifier: Apache-2.0
 *
 * buf: an owning, growable, binary-safe byte buffer. The bytes are always followed by a NUL that
 * is not counted in `len`, so `ptr` can be handed to functions that want a C string when the
 * content has no embedded NUL.
 *
 * A zero-initialised struct kv_buf (KV_BUF_INIT) is a valid empty buffer. kv_buf_deinit frees
 * the memory and leaves an empty buffer.
 *
 * Threads: a buffer belongs to one thread at a time.
 */
#ifndef KV_COMMON_BUF_H
#define KV_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kv_buf {
    char *ptr;  /* owned; NULL only while cap == 0 */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated, excluding the NUL slot */
};

#define KV_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void kv_buf_init(struct kv_buf *b);
void kv_buf_deinit(struct kv_buf *b);

/* Make room for at least `extra` more bytes beyond len. */
void kv_buf_reserve(struct kv_buf *b, size_t extra);
/* Set len to 0, keeping the memory. */
void kv_buf_clear(struct kv_buf *b);
/* Truncate or zero-extend to exactly `len` bytes. */
void kv_buf_resize(struct kv_buf *b, size_t len);

void kv_buf_append(struct kv_buf *b, const void *p, size_t n);
void kv_buf_append_slice(struct kv_buf *b, struct kv_slice s);
void kv_buf_append_cstr(struct kv_buf *b, const char *s);
void kv_buf_append_byte(struct kv_buf *b, uint8_t c);
void kv_buf_printf(struct kv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kv_buf_set(struct kv_buf *b, const void *p, size_t n);

/* Big-endian fixed-width appends (storage encodings). */
void kv_buf_append_u16be(struct kv_buf *b, uint16_t v);
void kv_buf_append_u32be(struct kv_buf *b, uint32_t v);
void kv_buf_append_u64be(struct kv_buf *b, uint64_t v);

/* Take the memory out of the buffer: returns ptr (owned by the caller, free with kv_free), and
 * leaves `b` empty. Never returns NULL. */
char *kv_buf_steal(struct kv_buf *b, size_t *len);

static inline struct kv_slice
kv_buf_slice(const struct kv_buf *b)
{
    return kv_slice_make(b->ptr, b->len);
}

#ifdef __cplusplus
}
#endif

#endif
