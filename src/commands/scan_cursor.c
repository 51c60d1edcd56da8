/* SPDX-License-Identifier: Apache-2.0 */
#include "commands/scan_cursor.h"

#include <pthread.h>

#include "common/mem.h"

/* Positions bigger than this are not kept allocated after their slot is reused. */
#define SCAN_CURSOR_KEEP_BYTES 4096
/* Sequences wrap here so that (sequence << 14) stays below 2^63. */
#define SCAN_CURSOR_SEQ_LIMIT (UINT64_C(1) << (63 - SCAN_CURSOR_SLOT_BITS))

struct scan_cursor_entry {
    uint64_t cursor;            /* 0 = empty slot */
    enum scan_cursor_kind kind; /* the family that issued it */
    struct kv_buf scope;        /* owned: [ns_len u32][ns][key] */
    struct kv_buf pos;          /* owned: where the iteration resumes (strictly after) */
};

struct scan_cursor_table {
    pthread_mutex_t mu;
    uint64_t seq;                      /* last sequence used; under mu */
    struct scan_cursor_entry *entries; /* owned; SCAN_CURSOR_SLOTS, under mu */
};

struct scan_cursor_table *
scan_cursor_table_new(void)
{
    struct scan_cursor_table *t = kv_calloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->entries = kv_calloc(SCAN_CURSOR_SLOTS, sizeof *t->entries);
    return t;
}

void
scan_cursor_table_free(struct scan_cursor_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < SCAN_CURSOR_SLOTS; i++) {
        kv_buf_deinit(&t->entries[i].scope);
        kv_buf_deinit(&t->entries[i].pos);
    }
    kv_free(t->entries);
    pthread_mutex_destroy(&t->mu);
    kv_free(t);
}

static struct scan_cursor_table *shared_table;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void
shared_init(void)
{
    shared_table = scan_cursor_table_new();
}

struct scan_cursor_table *
scan_cursor_shared(void)
{
    pthread_once(&shared_once, shared_init);
    return shared_table;
}

/* The scope bytes of (ns, key): the namespace is length-prefixed so that no two (ns, key)
 * pairs share a scope. */
static void
make_scope(struct kv_slice ns, struct kv_slice key, struct kv_buf *out)
{
    kv_buf_clear(out);
    kv_buf_append_u32be(out, (uint32_t)ns.len);
    kv_buf_append_slice(out, ns);
    kv_buf_append_slice(out, key);
}

/* Replace the contents of b, dropping a large allocation first so that a slot does not keep
 * the memory of a huge key forever. */
static void
set_bounded(struct kv_buf *b, struct kv_slice s)
{
    if (b->cap > SCAN_CURSOR_KEEP_BYTES && s.len <= SCAN_CURSOR_KEEP_BYTES)
        kv_buf_deinit(b);
    kv_buf_set(b, s.ptr, s.len);
}

uint64_t
scan_cursor_save(struct scan_cursor_table *t, enum scan_cursor_kind kind, struct kv_slice ns,
                 struct kv_slice key, struct kv_slice pos)
{
    struct kv_buf scope = KV_BUF_INIT;
    make_scope(ns, key, &scope);
    pthread_mutex_lock(&t->mu);
    t->seq++;
    if (t->seq >= SCAN_CURSOR_SEQ_LIMIT)
        t->seq = 1;
    uint64_t slot = t->seq & (SCAN_CURSOR_SLOTS - 1);
    uint64_t cursor = (t->seq << SCAN_CURSOR_SLOT_BITS) | slot;
    struct scan_cursor_entry *e = &t->entries[slot];
    e->cursor = cursor;
    e->kind = kind;
    set_bounded(&e->scope, kv_buf_slice(&scope));
    set_bounded(&e->pos, pos);
    pthread_mutex_unlock(&t->mu);
    kv_buf_deinit(&scope);
    return cursor;
}

bool
scan_cursor_find(struct scan_cursor_table *t, uint64_t cursor, enum scan_cursor_kind kind,
                 struct kv_slice ns, struct kv_slice key, struct kv_buf *pos)
{
    kv_buf_clear(pos);
    if (cursor == 0)
        return false;
    struct kv_buf scope = KV_BUF_INIT;
    make_scope(ns, key, &scope);
    bool found = false;
    pthread_mutex_lock(&t->mu);
    const struct scan_cursor_entry *e = &t->entries[cursor & (SCAN_CURSOR_SLOTS - 1)];
    if (e->cursor == cursor && e->kind == kind &&
        kv_slice_eq(kv_buf_slice(&e->scope), kv_buf_slice(&scope))) {
        kv_buf_set(pos, e->pos.ptr, e->pos.len);
        found = true;
    }
    pthread_mutex_unlock(&t->mu);
    kv_buf_deinit(&scope);
    return found;
}

enum kv_code
scan_cursor_parse(struct kv_slice text, uint64_t *cursor)
{
    size_t i = 0;
    bool neg = false;
    if (text.len == 0) {
        *cursor = 0;
        return KV_OK;
    }
    if (text.ptr[0] == '+' || text.ptr[0] == '-') {
        neg = text.ptr[0] == '-';
        i = 1;
    }
    if (i == text.len)
        return KV_ERR_INVALID;
    uint64_t v = 0;
    for (; i < text.len; i++) {
        char c = text.ptr[i];
        if (c < '0' || c > '9')
            return KV_ERR_INVALID;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return KV_ERR_INVALID;
        v = v * 10 + d;
    }
    *cursor = neg ? (uint64_t)0 - v : v;
    return KV_OK;
}
