/* SPDX-License-Identifier: Apache-2.0 */
#include "server/migrate_dump.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/slot.h"
#include "common/strconv.h"
#include "storage/keys.h"
#include "storage/meta.h"
#include "types/zset.h"

/* One command being built: its words are kept in `data` (offsets, since data grows). */
#define CMD_MAX_ARGS (2 + 2 * MIGRATE_DUMP_ITEMS)

struct cmdbuf {
    struct kv_buf data;
    size_t off[CMD_MAX_ARGS];
    size_t len[CMD_MAX_ARGS];
    size_t argc;
    size_t items; /* items added after the fixed words */
    size_t fixed; /* words every command of this key starts with (name, key) */
};

struct dump_ctx {
    migrate_send_fn send;
    void *arg;
    struct migrate_dump_stats *ds;
    struct kv_err *err;
    struct cmdbuf cb;
    /* Raw records of consecutive keys share one batch (one APPLYBATCH, one write on the
     * destination) until it reaches MIGRATE_DUMP_BATCH_BYTES; the dump sends the rest at its
     * end. Keys are independent, so a key's raw records may follow other keys' commands. */
    struct storage_batch *raw_b; /* owned; NULL until the first raw key */
};

static void
cb_word(struct cmdbuf *cb, const void *p, size_t n)
{
    cb->off[cb->argc] = cb->data.len;
    cb->len[cb->argc] = n;
    kv_buf_append(&cb->data, p, n);
    cb->argc++;
}

static void
cb_start(struct cmdbuf *cb, const char *name, struct kv_slice key)
{
    kv_buf_clear(&cb->data);
    cb->argc = 0;
    cb->items = 0;
    cb_word(cb, name, strlen(name));
    cb_word(cb, key.ptr, key.len);
    cb->fixed = 2;
}

static enum kv_code
cb_send(struct dump_ctx *d)
{
    struct cmdbuf *cb = &d->cb;
    struct kv_slice argv[CMD_MAX_ARGS];
    for (size_t i = 0; i < cb->argc; i++)
        argv[i] = kv_slice_make(cb->data.ptr + cb->off[i], cb->len[i]);
    enum kv_code rc = d->send(d->arg, cb->argc, argv, d->err);
    /* Keep the fixed words for the next command of the same key. */
    cb->argc = cb->fixed;
    cb->items = 0;
    cb->data.len = cb->off[cb->fixed - 1] + cb->len[cb->fixed - 1];
    return rc;
}

/* Send the pending items, if any. */
static enum kv_code
cb_flush(struct dump_ctx *d)
{
    return d->cb.items > 0 ? cb_send(d) : KV_OK;
}

static enum kv_code
send_words(struct dump_ctx *d, size_t argc, const struct kv_slice *argv)
{
    return d->send(d->arg, argc, argv, d->err);
}

/* --- iteration over a key's sub-keys under the snapshot --- */

typedef enum kv_code (*record_fn)(struct dump_ctx *d, struct kv_slice full_key, struct kv_slice sub,
                                  struct kv_slice value);

static enum kv_code
for_each_subkey(struct storage *st, const struct storage_snapshot *snap, enum kv_cf cf,
                struct kv_slice key, uint64_t version, record_fn fn, struct dump_ctx *d)
{
    struct kv_slice ns = kv_slice_cstr(KEYS_DEFAULT_NAMESPACE);
    struct kv_buf lo = {0}, hi = {0};
    keys_subkey_prefix(&lo, ns, true, key, version);
    keys_subkey_prefix(&hi, ns, true, key, version + 1);
    struct storage_iter *it = storage_iter_new(st, snap, cf, kv_buf_slice(&lo), kv_buf_slice(&hi));
    enum kv_code rc = KV_OK;
    for (storage_iter_seek(it, kv_buf_slice(&lo)); storage_iter_valid(it); storage_iter_next(it)) {
        struct kv_slice k = storage_iter_key(it);
        if (k.len < lo.len)
            continue;
        struct kv_slice sub = kv_slice_make(k.ptr + lo.len, k.len - lo.len);
        if ((rc = fn(d, k, sub, storage_iter_value(it))) != KV_OK)
            break;
    }
    if (rc == KV_OK)
        rc = storage_iter_status(it, d->err);
    storage_iter_free(it);
    kv_buf_deinit(&lo);
    kv_buf_deinit(&hi);
    return rc;
}

/* hash: field -> value */
static enum kv_code
add_pair(struct dump_ctx *d, struct kv_slice full, struct kv_slice sub, struct kv_slice value)
{
    (void)full;
    cb_word(&d->cb, sub.ptr, sub.len);
    cb_word(&d->cb, value.ptr, value.len);
    if (++d->cb.items >= MIGRATE_DUMP_ITEMS)
        return cb_send(d);
    return KV_OK;
}

/* set: the member is the sub-key */
static enum kv_code
add_sub(struct dump_ctx *d, struct kv_slice full, struct kv_slice sub, struct kv_slice value)
{
    (void)full;
    (void)value;
    cb_word(&d->cb, sub.ptr, sub.len);
    if (++d->cb.items >= MIGRATE_DUMP_ITEMS)
        return cb_send(d);
    return KV_OK;
}

/* list: the element is the value (sub-keys are indexes, in order) */
static enum kv_code
add_value(struct dump_ctx *d, struct kv_slice full, struct kv_slice sub, struct kv_slice value)
{
    (void)full;
    (void)sub;
    cb_word(&d->cb, value.ptr, value.len);
    if (++d->cb.items >= MIGRATE_DUMP_ITEMS)
        return cb_send(d);
    return KV_OK;
}

/* zset_score CF: sub = score(8) ++ member */
static enum kv_code
add_scored(struct dump_ctx *d, struct kv_slice full, struct kv_slice sub, struct kv_slice value)
{
    (void)full;
    (void)value;
    if (sub.len < ZSET_SCORE_LEN)
        return kv_err_set(d->err, KV_ERR_CORRUPT, "malformed zset score record");
    char num[STRCONV_DOUBLE_BUF];
    size_t n = strconv_from_double(zset_decode_score(sub.ptr), num);
    cb_word(&d->cb, num, n);
    cb_word(&d->cb, sub.ptr + ZSET_SCORE_LEN, sub.len - ZSET_SCORE_LEN);
    if (++d->cb.items >= MIGRATE_DUMP_ITEMS)
        return cb_send(d);
    return KV_OK;
}

/* --- raw records (APPLYBATCH) --- */

static enum kv_code
raw_send(struct dump_ctx *d, struct storage_batch *b)
{
    if (storage_batch_count(b) == 0)
        return KV_OK;
    struct kv_slice argv[] = {kv_slice_cstr("APPLYBATCH"), storage_batch_data(b)};
    enum kv_code rc = send_words(d, 2, argv);
    storage_batch_clear(b);
    return rc;
}

static enum kv_code dump_raw(struct storage *st, const struct storage_snapshot *snap,
                             struct kv_slice key, const struct meta *m, struct kv_slice raw_meta,
                             bool replace, struct dump_ctx *d);

/* --- one key --- */

static enum kv_code
send_expire(struct dump_ctx *d, struct kv_slice key, const struct meta *m)
{
    if (m->expire_ms == 0)
        return KV_OK;
    char at[24];
    size_t n = strconv_from_uint64(m->expire_ms, at);
    struct kv_slice argv[] = {kv_slice_cstr("PEXPIREAT"), key, kv_slice_make(at, n)};
    return send_words(d, 3, argv);
}

static enum kv_code
send_del(struct dump_ctx *d, struct kv_slice key)
{
    struct kv_slice argv[] = {kv_slice_cstr("DEL"), key};
    return send_words(d, 2, argv);
}

static enum kv_code
dump_meta(struct storage *st, const struct storage_snapshot *snap, struct kv_slice key,
          const struct meta *m, struct kv_slice raw_meta, bool replace,
          const struct migrate_dump_opts *o, struct dump_ctx *d)
{
    enum kv_code rc = KV_OK;
    if (o->raw || m->type == META_BITMAP || m->type == META_HLL)
        return dump_raw(st, snap, key, m, raw_meta, replace, d);
    if (m->type == META_STRING) {
        char at[24];
        size_t n = strconv_from_uint64(m->expire_ms, at);
        struct kv_slice argv[] = {kv_slice_cstr("SET"), key, m->payload, kv_slice_cstr("PXAT"),
                                  kv_slice_make(at, n)};
        rc = send_words(d, m->expire_ms != 0 ? 5 : 3, argv);
        if (rc == KV_OK)
            d->ds->keys++;
        return rc;
    }
    const char *cmd;
    enum kv_cf cf = KV_CF_SUBKEY;
    record_fn fn;
    switch (m->type) {
    case META_HASH:
        cmd = "HSET";
        fn = add_pair;
        break;
    case META_SET:
        cmd = "SADD";
        fn = add_sub;
        break;
    case META_LIST:
        cmd = "RPUSH";
        fn = add_value;
        break;
    case META_ZSET:
        cmd = "ZADD";
        cf = KV_CF_ZSET_SCORE;
        fn = add_scored;
        break;
    default:
        /* Types this server does not implement as commands: raw records keep them whole. */
        return dump_raw(st, snap, key, m, raw_meta, replace, d);
    }
    if (replace && (rc = send_del(d, key)) != KV_OK)
        return rc;
    cb_start(&d->cb, cmd, key);
    rc = for_each_subkey(st, snap, cf, key, m->version, fn, d);
    if (rc == KV_OK)
        rc = cb_flush(d);
    if (rc == KV_OK)
        rc = send_expire(d, key, m);
    if (rc == KV_OK)
        d->ds->keys++;
    return rc;
}

static enum kv_code
raw_put_record(struct dump_ctx *d, struct kv_slice full, struct kv_slice sub, struct kv_slice value)
{
    (void)sub;
    storage_batch_put(d->raw_b, KV_CF_SUBKEY, full, value);
    if (storage_batch_data(d->raw_b).len >= MIGRATE_DUMP_BATCH_BYTES)
        return raw_send(d, d->raw_b);
    return KV_OK;
}

static enum kv_code
raw_put_score(struct dump_ctx *d, struct kv_slice full, struct kv_slice sub, struct kv_slice value)
{
    (void)sub;
    storage_batch_put(d->raw_b, KV_CF_ZSET_SCORE, full, value);
    if (storage_batch_data(d->raw_b).len >= MIGRATE_DUMP_BATCH_BYTES)
        return raw_send(d, d->raw_b);
    return KV_OK;
}

static enum kv_code
dump_raw(struct storage *st, const struct storage_snapshot *snap, struct kv_slice key,
         const struct meta *m, struct kv_slice raw_meta, bool replace, struct dump_ctx *d)
{
    struct kv_slice ns = kv_slice_cstr(KEYS_DEFAULT_NAMESPACE);
    if (d->raw_b == NULL)
        d->raw_b = storage_batch_new(st);
    struct storage_batch *b = d->raw_b;
    struct kv_buf mk = {0};
    keys_meta_key(&mk, ns, true, key);
    bool complex = m->type != META_STRING;
    if (replace && complex) {
        /* The destination may hold this very version with sub-keys deleted here since. */
        struct kv_buf lo = {0}, hi = {0};
        keys_subkey_prefix(&lo, ns, true, key, m->version);
        keys_subkey_prefix(&hi, ns, true, key, m->version + 1);
        storage_batch_delete_range(b, KV_CF_SUBKEY, kv_buf_slice(&lo), kv_buf_slice(&hi));
        storage_batch_delete_range(b, KV_CF_ZSET_SCORE, kv_buf_slice(&lo), kv_buf_slice(&hi));
        kv_buf_deinit(&lo);
        kv_buf_deinit(&hi);
    }
    storage_batch_put(b, KV_CF_METADATA, kv_buf_slice(&mk), raw_meta);
    kv_buf_deinit(&mk);
    enum kv_code rc = KV_OK;
    if (complex) {
        rc = for_each_subkey(st, snap, KV_CF_SUBKEY, key, m->version, raw_put_record, d);
        if (rc == KV_OK && m->type == META_ZSET)
            rc = for_each_subkey(st, snap, KV_CF_ZSET_SCORE, key, m->version, raw_put_score, d);
    }
    if (rc == KV_OK && storage_batch_data(b).len >= MIGRATE_DUMP_BATCH_BYTES)
        rc = raw_send(d, b);
    if (rc == KV_OK)
        d->ds->keys++;
    return rc;
}

/* The end of a dump: send the raw records still pending, free the buffers. */
static enum kv_code
dump_finish(struct dump_ctx *d, enum kv_code rc)
{
    if (d->raw_b != NULL) {
        if (rc == KV_OK)
            rc = raw_send(d, d->raw_b);
        storage_batch_free(d->raw_b);
        d->raw_b = NULL;
    }
    kv_buf_deinit(&d->cb.data);
    return rc;
}

/* --- API --- */

/* One key as snap sees it (see migrate_dump_keys). */
static enum kv_code
dump_one_key(struct storage *st, const struct storage_snapshot *snap, struct kv_slice key,
             bool replace, const struct migrate_dump_opts *o, struct dump_ctx *d, struct kv_buf *mk,
             struct kv_buf *val)
{
    keys_meta_key(mk, kv_slice_cstr(KEYS_DEFAULT_NAMESPACE), true, key);
    enum kv_code rc = storage_get(st, snap, KV_CF_METADATA, kv_buf_slice(mk), val, d->err);
    struct meta m;
    bool live = false;
    if (rc == KV_OK)
        live = meta_decode(kv_buf_slice(val), &m) == KV_OK && meta_is_live(&m, clock_now_ms());
    else if (rc == KV_NOTFOUND)
        rc = KV_OK;
    if (rc != KV_OK)
        return rc;
    if (live)
        return dump_meta(st, snap, key, &m, kv_buf_slice(val), replace, o, d);
    return replace ? send_del(d, key) : KV_OK;
}

enum kv_code
migrate_dump_keys(struct storage *st, const struct storage_snapshot *snap,
                  const struct kv_slice *keys, size_t n, bool replace,
                  const struct migrate_dump_opts *o, migrate_send_fn send, void *arg,
                  struct migrate_dump_stats *ds, struct kv_err *err)
{
    struct dump_ctx d = {.send = send, .arg = arg, .ds = ds, .err = err};
    struct kv_buf mk = {0}, val = {0};
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < n && rc == KV_OK; i++)
        rc = dump_one_key(st, snap, keys[i], replace, o, &d, &mk, &val);
    rc = dump_finish(&d, rc);
    kv_buf_deinit(&mk);
    kv_buf_deinit(&val);
    return rc;
}

enum kv_code
migrate_dump_key(struct storage *st, const struct storage_snapshot *snap, struct kv_slice key,
                 bool replace, const struct migrate_dump_opts *o, migrate_send_fn send, void *arg,
                 struct migrate_dump_stats *ds, struct kv_err *err)
{
    return migrate_dump_keys(st, snap, &key, 1, replace, o, send, arg, ds, err);
}

enum kv_code
migrate_dump_range(struct storage *st, const struct storage_snapshot *snap,
                   struct cluster_slot_range r, const struct migrate_dump_opts *o,
                   migrate_send_fn send, void *arg, struct migrate_dump_stats *ds,
                   struct kv_err *err)
{
    struct dump_ctx d = {.send = send, .arg = arg, .ds = ds, .err = err};
    struct kv_slice ns = kv_slice_cstr(KEYS_DEFAULT_NAMESPACE);
    struct kv_buf lo = {0}, hi = {0};
    keys_ns_scan_prefix(&lo, ns, true, r.start);
    if (r.end + 1 < SLOT_COUNT) {
        keys_ns_scan_prefix(&hi, ns, true, (uint16_t)(r.end + 1));
    } else {
        struct kv_buf nsp = {0};
        keys_ns_scan_prefix(&nsp, ns, false, 0);
        keys_prefix_end(&hi, kv_buf_slice(&nsp));
        kv_buf_deinit(&nsp);
    }
    struct storage_iter *it =
        storage_iter_new(st, snap, KV_CF_METADATA, kv_buf_slice(&lo), kv_buf_slice(&hi));
    enum kv_code rc = KV_OK;
    int64_t now = clock_now_ms();
    for (storage_iter_seek(it, kv_buf_slice(&lo)); storage_iter_valid(it); storage_iter_next(it)) {
        struct kv_slice kns, user;
        uint16_t slot;
        if (keys_decode_meta_key(storage_iter_key(it), true, &kns, &slot, &user) != KV_OK)
            continue;
        struct kv_slice raw = storage_iter_value(it);
        struct meta m;
        if (meta_decode(raw, &m) != KV_OK || !meta_is_live(&m, now))
            continue;
        if ((rc = dump_meta(st, snap, user, &m, raw, false, o, &d)) != KV_OK)
            break;
    }
    if (rc == KV_OK)
        rc = storage_iter_status(it, err);
    storage_iter_free(it);
    rc = dump_finish(&d, rc);
    kv_buf_deinit(&lo);
    kv_buf_deinit(&hi);
    return rc;
}
