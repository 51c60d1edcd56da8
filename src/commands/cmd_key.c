/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_key: the keyspace commands, generic over every type: DEL, UNLINK, EXISTS, TOUCH, TYPE,
 * EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT, TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, KEYS, SCAN,
 * RANDOMKEY, RENAME, RENAMENX, COPY. Replies and error texts are Redis 7.0's. KEYS and SCAN take
 * full glob patterns (not Kvrocks' prefix-only KEYS). SCAN cursors are integers from the
 * server-wide table of commands/scan_cursor.h.
 *
 * Not here: DBSIZE, FLUSHDB, FLUSHALL (server commands); there is a single database, so COPY
 * accepts only DB 0.
 *
 * Threads: the connection's worker.
 */
#include <limits.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/scan_cursor.h"
#include "common/clock.h"
#include "common/mem.h"
#include "common/strconv.h"

/* Keys collected by KEYS and SCAN before the reply (whose length comes first). */
struct key_list {
    struct kv_buf bytes; /* owned: the keys, back to back */
    size_t *lens;        /* owned: the length of each key */
    size_t n;
    size_t cap;
};

static bool
key_list_add(void *arg, struct kv_slice key, const struct meta *m)
{
    struct key_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->lens = kv_realloc(l->lens, l->cap * sizeof *l->lens);
    }
    l->lens[l->n++] = key.len;
    kv_buf_append_slice(&l->bytes, key);
    return true;
}

static void
key_list_write(struct resp_out *out, const struct key_list *l)
{
    resp_write_array(out, l->n);
    size_t off = 0;
    for (size_t i = 0; i < l->n; i++) {
        resp_write_bulk(out, l->bytes.ptr + off, l->lens[i]);
        off += l->lens[i];
    }
}

static void
key_list_deinit(struct key_list *l)
{
    kv_buf_deinit(&l->bytes);
    kv_free(l->lens);
    memset(l, 0, sizeof *l);
}

/* DEL key [key ...] -> integer: number of keys removed. UNLINK is the same (deletion is O(1)
 * here: sub-keys are reclaimed by compaction). */
static enum kv_code
cmd_del(struct cmd_ctx *ctx)
{
    int64_t n = 0;
    enum kv_code rc = db_delete(ctx->db, &ctx->argv[1], (size_t)ctx->argc - 1, &n, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, n);
    return rc;
}

/* EXISTS key [key ...] -> integer: number of the keys that exist (a repeated key counts each
 * time). TOUCH is the same (there is no access time to update). */
static enum kv_code
cmd_exists(struct cmd_ctx *ctx)
{
    int64_t n = 0;
    enum kv_code rc = db_exists(ctx->db, &ctx->argv[1], (size_t)ctx->argc - 1, &n, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, n);
    return rc;
}

/* TYPE key -> status: the type name as Redis names it (db_type_reply_name: bitmap and
 * hyperloglog keys are "string"), or "none". */
static enum kv_code
cmd_type(struct cmd_ctx *ctx)
{
    enum meta_type t = META_NONE;
    enum kv_code rc = db_type(ctx->db, ctx->argv[1], &t, ctx->err);
    if (rc == KV_OK)
        resp_write_status(ctx->out, db_type_reply_name(t));
    return rc;
}

/* The NX/XX/GT/LT options of the EXPIRE family (argv[from..]), with Redis 7.0's checks. */
static enum kv_code
parse_expire_flags(struct cmd_ctx *ctx, int from, int *flags)
{
    *flags = 0;
    for (int i = from; i < ctx->argc; i++) {
        if (args_is(ctx, i, "nx")) {
            *flags |= DB_EXPIRE_NX;
        } else if (args_is(ctx, i, "xx")) {
            *flags |= DB_EXPIRE_XX;
        } else if (args_is(ctx, i, "gt")) {
            *flags |= DB_EXPIRE_GT;
        } else if (args_is(ctx, i, "lt")) {
            *flags |= DB_EXPIRE_LT;
        } else {
            /* Redis prints the option as a C string: up to an embedded NUL. */
            const struct kv_slice o = ctx->argv[i];
            const char *nul = memchr(o.ptr, '\0', o.len);
            int n = (int)(nul != NULL ? (size_t)(nul - o.ptr) : o.len);
            return args_error(ctx, KV_ERR_SYNTAX, "Unsupported option %.*s", n, o.ptr);
        }
    }
    if ((*flags & DB_EXPIRE_NX) && (*flags & (DB_EXPIRE_XX | DB_EXPIRE_GT | DB_EXPIRE_LT)))
        return args_error(ctx, KV_ERR_SYNTAX,
                          "NX and XX, GT or LT options at the same time are not compatible");
    if ((*flags & DB_EXPIRE_GT) && (*flags & DB_EXPIRE_LT))
        return args_error(ctx, KV_ERR_SYNTAX,
                          "GT and LT options at the same time are not compatible");
    return KV_OK;
}

/* EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT] -> integer: 1 when the expiry was
 * set (or the key deleted because the time is past), 0 when the key is absent or a condition
 * failed. `relative`: time counts from now; `seconds`: time is in seconds. */
static enum kv_code
expire_generic(struct cmd_ctx *ctx, bool relative, bool seconds)
{
    int flags;
    enum kv_code rc = parse_expire_flags(ctx, 3, &flags);
    if (rc != KV_OK)
        return rc;
    int64_t when;
    if ((rc = args_int64(ctx, 2, &when)) != KV_OK)
        return rc;
    /* Only overflow is refused; a time in the past is allowed and deletes the key. */
    if (seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000)
            return args_error(ctx, KV_ERR_INVALID, ERR_INVALID_EXPIRE, ctx->cmd->name);
        when *= 1000;
    }
    int64_t base = relative ? clock_now_ms() : 0;
    if (when > INT64_MAX - base)
        return args_error(ctx, KV_ERR_INVALID, ERR_INVALID_EXPIRE, ctx->cmd->name);
    when += base;
    bool changed = false;
    rc = db_expire(ctx->db, ctx->argv[1], when, flags, &changed, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, changed ? 1 : 0);
    return rc;
}

/* EXPIRE key seconds [NX|XX|GT|LT] -> integer. */
static enum kv_code
cmd_expire(struct cmd_ctx *ctx)
{
    return expire_generic(ctx, true, true);
}

/* PEXPIRE key milliseconds [NX|XX|GT|LT] -> integer. */
static enum kv_code
cmd_pexpire(struct cmd_ctx *ctx)
{
    return expire_generic(ctx, true, false);
}

/* EXPIREAT key unix-seconds [NX|XX|GT|LT] -> integer. */
static enum kv_code
cmd_expireat(struct cmd_ctx *ctx)
{
    return expire_generic(ctx, false, true);
}

/* PEXPIREAT key unix-milliseconds [NX|XX|GT|LT] -> integer. */
static enum kv_code
cmd_pexpireat(struct cmd_ctx *ctx)
{
    return expire_generic(ctx, false, false);
}

/* TTL/PTTL/EXPIRETIME/PEXPIRETIME key -> integer: -2 when absent, -1 without expiry, else the
 * remaining time (`absolute` false) or the unix time of expiry, in ms or in seconds rounded to
 * the nearest (Redis's (ms + 500) / 1000, computed without overflow). */
static enum kv_code
ttl_generic(struct cmd_ctx *ctx, bool ms, bool absolute)
{
    int64_t at = 0;
    enum kv_code rc = db_expire_at(ctx->db, ctx->argv[1], &at, ctx->err);
    if (rc != KV_OK)
        return rc;
    if (at < 0) {
        resp_write_int(ctx->out, at);
        return KV_OK;
    }
    int64_t v = absolute ? at : at - clock_now_ms();
    if (v < 0)
        v = 0;
    resp_write_int(ctx->out, ms ? v : v / 1000 + (v % 1000 >= 500 ? 1 : 0));
    return KV_OK;
}

/* TTL key -> integer: seconds to live, -1 without expiry, -2 when absent. */
static enum kv_code
cmd_ttl(struct cmd_ctx *ctx)
{
    return ttl_generic(ctx, false, false);
}

/* PTTL key -> integer: milliseconds to live, -1 without expiry, -2 when absent. */
static enum kv_code
cmd_pttl(struct cmd_ctx *ctx)
{
    return ttl_generic(ctx, true, false);
}

/* EXPIRETIME key -> integer: unix time of expiry in seconds, -1, or -2. */
static enum kv_code
cmd_expiretime(struct cmd_ctx *ctx)
{
    return ttl_generic(ctx, false, true);
}

/* PEXPIRETIME key -> integer: unix time of expiry in milliseconds, -1, or -2. */
static enum kv_code
cmd_pexpiretime(struct cmd_ctx *ctx)
{
    return ttl_generic(ctx, true, true);
}

/* PERSIST key -> integer: 1 when an expiry was removed, else 0. */
static enum kv_code
cmd_persist(struct cmd_ctx *ctx)
{
    bool changed = false;
    enum kv_code rc = db_persist(ctx->db, ctx->argv[1], &changed, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, changed ? 1 : 0);
    return rc;
}

/* KEYS pattern -> array of the live keys matching the glob pattern, in key order. */
static enum kv_code
cmd_keys(struct cmd_ctx *ctx)
{
    struct key_list l = {KV_BUF_INIT, NULL, 0, 0};
    struct kv_buf last = KV_BUF_INIT;
    bool done = false;
    enum kv_code rc = db_scan(ctx->db, NULL, ctx->argv[1], META_NONE, 0, key_list_add, &l, &last,
                              &done, ctx->err);
    if (rc == KV_OK)
        key_list_write(ctx->out, &l);
    kv_buf_deinit(&last);
    key_list_deinit(&l);
    return rc;
}

/* The options of SCAN after the cursor. */
struct scan_opts {
    struct kv_slice pattern; /* ptr NULL: no MATCH */
    int64_t count;           /* records to examine, >= 1 */
    bool has_type;
    struct kv_slice type_name;
};

/* [MATCH pattern] [COUNT count] [TYPE type] in any order, the last of each winning, as Redis
 * 7.0: a COUNT below 1 or an unknown word is a syntax error. */
static enum kv_code
parse_scan_opts(struct cmd_ctx *ctx, int from, struct scan_opts *o)
{
    o->pattern = kv_slice_make(NULL, 0);
    o->count = 10;
    o->has_type = false;
    o->type_name = kv_slice_make(NULL, 0);
    for (int i = from; i < ctx->argc; i += 2) {
        bool has_value = i + 1 < ctx->argc;
        if (args_is(ctx, i, "count") && has_value) {
            enum kv_code rc = args_int64(ctx, i + 1, &o->count);
            if (rc != KV_OK)
                return rc;
            if (o->count < 1)
                return args_syntax_error(ctx);
        } else if (args_is(ctx, i, "match") && has_value) {
            o->pattern = ctx->argv[i + 1];
        } else if (args_is(ctx, i, "type") && has_value) {
            o->has_type = true;
            o->type_name = ctx->argv[i + 1];
        } else {
            return args_syntax_error(ctx);
        }
    }
    return KV_OK;
}

/* The type a SCAN TYPE name selects (case-insensitive, as Redis 7.0 compares it, against
 * db_type_reply_name: "string" selects strings, bitmaps and hyperloglogs); false when no key can
 * have that type ("none", unknown names, Kvrocks' "bitmap" and "hyperloglog"). */
static bool
scan_type_of(struct kv_slice name, enum meta_type *out)
{
    for (int t = META_STRING; t <= META_HLL; t++) {
        if (kv_slice_eq_nocase(name, db_type_reply_name((enum meta_type)t))) {
            *out = (enum meta_type)t;
            return true;
        }
    }
    return false;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] -> [next cursor as a bulk string,
 * array of keys]. COUNT bounds the records examined per call; cursor 0 starts and, in a reply,
 * ends an iteration. An unknown cursor restarts from the beginning. */
static enum kv_code
cmd_scan(struct cmd_ctx *ctx)
{
    uint64_t cursor = 0;
    if (scan_cursor_parse(ctx->argv[1], &cursor) != KV_OK)
        return args_error(ctx, KV_ERR_INVALID, "%s", ERR_INVALID_CURSOR);
    struct scan_opts o;
    enum kv_code rc = parse_scan_opts(ctx, 2, &o);
    if (rc != KV_OK)
        return rc;
    enum meta_type type = META_NONE;
    if (o.has_type && !scan_type_of(o.type_name, &type)) {
        /* No key has this type: the iteration is complete and empty. */
        resp_write_array(ctx->out, 2);
        resp_write_bulk_cstr(ctx->out, "0");
        resp_write_array(ctx->out, 0);
        return KV_OK;
    }
    struct scan_cursor_table *table = scan_cursor_shared();
    struct kv_slice nokey = kv_slice_make("", 0);
    struct kv_buf pos = KV_BUF_INIT, last = KV_BUF_INIT;
    struct key_list l = {KV_BUF_INIT, NULL, 0, 0};
    bool resume = scan_cursor_find(table, cursor, SCAN_CURSOR_KEYSPACE, ctx->db->ns, nokey, &pos);
    /* The empty key is a valid position: give it a non-NULL pointer. */
    struct kv_slice after = kv_slice_make(pos.ptr != NULL ? pos.ptr : "", pos.len);
    bool done = false;
    rc = db_scan(ctx->db, resume ? &after : NULL, o.pattern, type, (size_t)o.count, key_list_add,
                 &l, &last, &done, ctx->err);
    if (rc == KV_OK) {
        uint64_t next = done ? 0
                             : scan_cursor_save(table, SCAN_CURSOR_KEYSPACE, ctx->db->ns, nokey,
                                                kv_buf_slice(&last));
        char num[STRCONV_INT64_BUF];
        size_t n = strconv_from_uint64(next, num);
        resp_write_array(ctx->out, 2);
        resp_write_bulk(ctx->out, num, n);
        key_list_write(ctx->out, &l);
    }
    kv_buf_deinit(&pos);
    kv_buf_deinit(&last);
    key_list_deinit(&l);
    return rc;
}

/* RANDOMKEY -> a random live key, or nil when the keyspace is empty. */
static enum kv_code
cmd_randomkey(struct cmd_ctx *ctx)
{
    struct kv_buf key = KV_BUF_INIT;
    enum kv_code rc = db_random_key(ctx->db, &key, ctx->err);
    if (rc == KV_OK) {
        resp_write_bulk(ctx->out, key.ptr != NULL ? key.ptr : "", key.len);
    } else if (rc == KV_NOTFOUND) {
        resp_write_null(ctx->out);
        rc = KV_OK;
    }
    kv_buf_deinit(&key);
    return rc;
}

/* RENAME key newkey -> +OK; ERR no such key when key is absent (also when renaming to itself).
 * RENAMENX key newkey -> integer: 1 when renamed, 0 when newkey exists (or is key itself). */
static enum kv_code
rename_generic(struct cmd_ctx *ctx, bool nx)
{
    bool done = false;
    enum kv_code rc = db_rename(ctx->db, ctx->argv[1], ctx->argv[2], nx, &done, ctx->err);
    if (rc == KV_NOTFOUND)
        return args_error(ctx, KV_ERR, "%s", ERR_NO_SUCH_KEY);
    if (rc != KV_OK)
        return rc;
    if (nx)
        resp_write_int(ctx->out, done ? 1 : 0);
    else
        resp_write_ok(ctx->out);
    return KV_OK;
}

/* RENAME key newkey -> +OK. */
static enum kv_code
cmd_rename(struct cmd_ctx *ctx)
{
    return rename_generic(ctx, false);
}

/* RENAMENX key newkey -> integer. */
static enum kv_code
cmd_renamenx(struct cmd_ctx *ctx)
{
    return rename_generic(ctx, true);
}

/* COPY source destination [DB destination-db] [REPLACE] -> integer: 1 when copied, 0 when source
 * is absent or destination exists without REPLACE. There is one database: DB must be 0. */
static enum kv_code
cmd_copy(struct cmd_ctx *ctx)
{
    bool replace = false;
    for (int i = 3; i < ctx->argc; i++) {
        if (args_is(ctx, i, "replace")) {
            replace = true;
        } else if (args_is(ctx, i, "db") && i + 1 < ctx->argc) {
            int64_t dbid;
            enum kv_code rc = args_int64_range(ctx, i + 1, INT_MIN, INT_MAX, NULL, &dbid);
            if (rc != KV_OK)
                return rc;
            if (dbid != 0)
                return args_error(ctx, KV_ERR, "%s", ERR_DB_INDEX);
            i++;
        } else {
            return args_syntax_error(ctx);
        }
    }
    if (kv_slice_eq(ctx->argv[1], ctx->argv[2]))
        return args_error(ctx, KV_ERR, "%s", ERR_SAME_OBJECT);
    bool done = false;
    enum kv_code rc = db_copy(ctx->db, ctx->argv[1], ctx->argv[2], replace, &done, ctx->err);
    if (rc == KV_OK)
        resp_write_int(ctx->out, done ? 1 : 0);
    return rc;
}

const struct command_spec key_commands[] = {
    {"copy", cmd_copy, -3, CMD_WRITE, 1, 2, 1, NULL, "keyspace"},
    {"del", cmd_del, -2, CMD_WRITE, 1, -1, 1, NULL, "keyspace"},
    {"exists", cmd_exists, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, NULL, "keyspace"},
    {"expire", cmd_expire, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"expireat", cmd_expireat, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"expiretime", cmd_expiretime, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"keys", cmd_keys, 2, CMD_READONLY | CMD_SLOW, 0, 0, 0, NULL, "keyspace"},
    {"persist", cmd_persist, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"pexpire", cmd_pexpire, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"pexpireat", cmd_pexpireat, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"pexpiretime", cmd_pexpiretime, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"pttl", cmd_pttl, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"randomkey", cmd_randomkey, 1, CMD_READONLY, 0, 0, 0, NULL, "keyspace"},
    {"rename", cmd_rename, 3, CMD_WRITE, 1, 2, 1, NULL, "keyspace"},
    {"renamenx", cmd_renamenx, 3, CMD_WRITE | CMD_FAST, 1, 2, 1, NULL, "keyspace"},
    {"scan", cmd_scan, -2, CMD_READONLY, 0, 0, 0, NULL, "keyspace"},
    {"touch", cmd_exists, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, NULL, "keyspace"},
    {"ttl", cmd_ttl, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"type", cmd_type, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, NULL, "keyspace"},
    {"unlink", cmd_del, -2, CMD_WRITE | CMD_FAST, 1, -1, 1, NULL, "keyspace"},
};
const size_t key_commands_len = sizeof key_commands / sizeof key_commands[0];
