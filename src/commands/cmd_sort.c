/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_sort: SORT and SORT_RO on lists, sets and sorted sets, with Redis 7.0's options, order and
 * replies:
 *     SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
 *              [STORE destination]
 * Numeric by default (every weight must parse as a double, else "One or more scores can't be
 * converted into double"; a missing BY key weighs 0; equal weights order by the element's bytes),
 * ALPHA compares bytes. A BY pattern without '*' (conventionally "nosort") does not sort: lists
 * and sorted sets keep their order (reversed by DESC), sets come in member order, except with
 * STORE, where a set is sorted by ALPHA as Redis does to keep replicas identical. GET patterns
 * and BY use types/sort.h's lookup. STORE writes a list (an empty result deletes the
 * destination) and replies with its length; SORT_RO has no STORE (a syntax error, as Redis).
 *
 * Differences from Redis: ALPHA compares bytes (Redis uses strcoll, the same in the C locale);
 * elements with equal ALPHA BY weights keep their stored order (Redis leaves it unspecified);
 * the source is read, and the destination written, without holding the source's lock.
 *
 * Threads: the connection's worker.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "commands/reads.h"
#include "common/mem.h"
#include "types/list.h"
#include "types/set.h"
#include "types/sort.h"
#include "types/zset.h"

#define ERR_SORT_SCORES "One or more scores can't be converted into double"
#define ERR_SORT_BY_CLUSTER "BY option of SORT denied in Cluster mode."
#define ERR_SORT_GET_CLUSTER "GET option of SORT denied in Cluster mode."

struct sort_opts {
    bool desc, alpha, dontsort;
    bool has_by;
    struct kv_slice by;
    int64_t limit_start, limit_count; /* Redis's defaults: 0, -1 (all) */
    bool has_store;
    struct kv_slice store;
    const struct kv_slice *gets; /* borrowed: the GET patterns, in order */
    size_t ngets;
};

/* One element being sorted. */
struct sort_item {
    struct kv_slice elem;      /* borrowed from the loaded elements */
    size_t pos;                /* load order: the tie-break that keeps equal ALPHA BY weights */
    double score;              /* numeric weight */
    bool has_cmp;              /* ALPHA with BY: whether the BY key has a value */
    struct kv_slice cmp;       /* borrowed from the weights buffer */
    const struct sort_opts *o; /* borrowed: for the comparator */
};

/* Parse the options after the key (argv[2..]) as sortCommandGeneric does, in its order; `gets`
 * is filled with the GET patterns (caller-allocated, argc slots). */
static enum kv_code
parse_sort_opts(struct cmd_ctx *ctx, bool readonly, struct sort_opts *o, struct kv_slice *gets)
{
    memset(o, 0, sizeof *o);
    o->limit_count = -1;
    o->gets = gets;
    for (int j = 2; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        if (args_is(ctx, j, "asc")) {
            o->desc = false;
        } else if (args_is(ctx, j, "desc")) {
            o->desc = true;
        } else if (args_is(ctx, j, "alpha")) {
            o->alpha = true;
        } else if (args_is(ctx, j, "limit") && left >= 2) {
            enum kv_code rc;
            if ((rc = args_int64(ctx, j + 1, &o->limit_start)) != KV_OK ||
                (rc = args_int64(ctx, j + 2, &o->limit_count)) != KV_OK)
                return rc;
            j += 2;
        } else if (!readonly && args_is(ctx, j, "store") && left >= 1) {
            o->has_store = true;
            o->store = ctx->argv[++j];
        } else if (args_is(ctx, j, "by") && left >= 1) {
            o->has_by = true;
            o->by = ctx->argv[++j];
            /* As Redis, a later BY with '*' does not undo an earlier one without. */
            if (memchr(o->by.ptr, '*', o->by.len) == NULL)
                o->dontsort = true;
            else if (ctx->db->cluster)
                return args_error(ctx, KV_ERR, "%s", ERR_SORT_BY_CLUSTER);
        } else if (args_is(ctx, j, "get") && left >= 1) {
            if (ctx->db->cluster)
                return args_error(ctx, KV_ERR, "%s", ERR_SORT_GET_CLUSTER);
            gets[o->ngets++] = ctx->argv[++j];
        } else {
            return args_syntax_error(ctx);
        }
    }
    return KV_OK;
}

/* A subkey_fn appending each set member to the list_values `arg`. */
static bool
collect_member(void *arg, struct kv_slice member, struct kv_slice value)
{
    (void)value;
    list_values_append(arg, member);
    return true;
}

/* Load the elements of the list, set or sorted set `key` into out in its own order (a list's,
 * member byte order for a set, rank order for a sorted set); *type receives its type (META_NONE
 * when absent, then nothing is loaded). KV_ERR_WRONGTYPE for other types. */
static enum kv_code
load_elements(struct cmd_ctx *ctx, struct kv_slice key, enum meta_type *type,
              struct list_values *out)
{
    struct kv_buf raw = KV_BUF_INIT;
    struct meta m;
    enum kv_code rc = db_get_meta(ctx->db, key, META_NONE, &m, &raw, ctx->err);
    kv_buf_deinit(&raw);
    *type = META_NONE;
    if (rc == KV_NOTFOUND)
        return KV_OK;
    if (rc != KV_OK)
        return rc;
    *type = m.type;
    if (m.type == META_LIST)
        return list_range(ctx->db, key, 0, -1, out, ctx->err);
    if (m.type == META_SET) {
        struct kv_buf last = KV_BUF_INIT;
        bool done = false;
        rc = set_scan(ctx->db, key, NULL, kv_slice_make(NULL, 0), 0, collect_member, out, &last,
                      &done, ctx->err);
        kv_buf_deinit(&last);
        return rc == KV_NOTFOUND ? KV_OK : rc;
    }
    if (m.type == META_ZSET) {
        struct zset_range_spec spec;
        zset_range_spec_init(&spec, ZSET_BY_RANK);
        spec.start = 0;
        spec.stop = -1;
        struct zset_list l = ZSET_LIST_INIT;
        rc = zset_range(ctx->db, key, &spec, &l, ctx->err);
        for (size_t i = 0; rc == KV_OK && i < l.n; i++)
            list_values_append(out, zset_list_member(&l, i));
        zset_list_deinit(&l);
        return rc;
    }
    return kv_err_set(ctx->err, KV_ERR_WRONGTYPE, "%s", "");
}

/* Redis's compareStringObjects: bytes, then the shorter first. */
static int
bytes_cmp(struct kv_slice a, struct kv_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* Redis's sortCompare, with the load order as the last tie-break. */
static int
item_cmp(const void *pa, const void *pb)
{
    const struct sort_item *a = pa, *b = pb;
    const struct sort_opts *o = a->o;
    int c;
    if (!o->alpha) {
        c = a->score > b->score ? 1 : a->score < b->score ? -1 : bytes_cmp(a->elem, b->elem);
    } else if (o->has_by) {
        if (!a->has_cmp || !b->has_cmp)
            c = a->has_cmp == b->has_cmp ? 0 : !a->has_cmp ? -1 : 1;
        else
            c = bytes_cmp(a->cmp, b->cmp);
    } else {
        c = bytes_cmp(a->elem, b->elem);
    }
    if (o->desc)
        c = -c;
    if (c == 0)
        c = a->pos < b->pos ? -1 : a->pos > b->pos ? 1 : 0;
    return c;
}

/* A numeric weight as Redis reads it: strtod over the whole text (up to a NUL), no overflow or
 * underflow, not NaN. */
static bool
parse_weight(struct kv_slice s, double *out)
{
    char stack[64];
    char *copy = s.len < sizeof stack ? stack : kv_malloc(s.len + 1);
    if (s.len > 0)
        memcpy(copy, s.ptr, s.len);
    copy[s.len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(copy, &end);
    bool ok = *end == '\0' && errno != ERANGE && !isnan(v);
    if (copy != stack)
        kv_free(copy);
    *out = v;
    return ok;
}

/* Compute the weights of items[0..n) (BY lookups into `weights`). KV_ERR with
 * ERR_SORT_SCORES when a numeric weight does not parse. */
static enum kv_code
compute_weights(struct cmd_ctx *ctx, const struct sort_opts *o, struct sort_item *items, size_t n,
                struct list_values *weights)
{
    struct kv_buf v = KV_BUF_INIT;
    size_t *widx = o->alpha && o->has_by ? kv_calloc(n ? n : 1, sizeof *widx) : NULL;
    bool bad = false;
    enum kv_code rc = KV_OK;
    for (size_t i = 0; i < n; i++) {
        struct kv_slice w = items[i].elem;
        if (o->has_by) {
            rc = sort_lookup(ctx->db, o->by, items[i].elem, reads_bitmap_string_max(ctx), &v,
                             ctx->err);
            if (rc == KV_NOTFOUND) {
                rc = KV_OK;
                continue; /* no weight: 0, or "none" (lowest) with ALPHA */
            }
            if (rc != KV_OK)
                break;
            w = kv_buf_slice(&v);
        }
        if (o->alpha) {
            if (o->has_by) {
                items[i].has_cmp = true;
                widx[i] = weights->n;
                list_values_append(weights, w);
            }
        } else if (!parse_weight(w, &items[i].score)) {
            bad = true;
        }
    }
    /* The weights buffer may move while it grows: take the slices once it is complete. */
    for (size_t i = 0; rc == KV_OK && widx != NULL && i < n; i++) {
        if (items[i].has_cmp)
            items[i].cmp = list_values_at(weights, widx[i]);
    }
    kv_free(widx);
    kv_buf_deinit(&v);
    if (rc == KV_OK && bad)
        rc = args_error(ctx, KV_ERR, "%s", ERR_SORT_SCORES);
    return rc;
}

/* Emit the result rows [start, end]: to the client, or collected for STORE (a missing GET value
 * is stored as the empty string). */
static enum kv_code
emit(struct cmd_ctx *ctx, const struct sort_opts *o, const struct sort_item *items, int64_t start,
     int64_t end)
{
    int64_t rows = end - start + 1;
    size_t outlen = (size_t)rows * (o->ngets ? o->ngets : 1);
    struct kv_buf v = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    /* Look everything up before replying, so an I/O error leaves no partial reply. */
    struct list_values got = LIST_VALUES_INIT;
    bool *found = o->ngets ? kv_calloc(outlen ? outlen : 1, sizeof *found) : NULL;
    for (int64_t j = start; j <= end && o->ngets; j++) {
        for (size_t g = 0; g < o->ngets; g++) {
            rc = sort_lookup(ctx->db, o->gets[g], items[j].elem, reads_bitmap_string_max(ctx), &v,
                             ctx->err);
            size_t slot = (size_t)(j - start) * o->ngets + g;
            if (rc == KV_OK) {
                found[slot] = true;
                list_values_append(&got, kv_buf_slice(&v));
            } else if (rc == KV_NOTFOUND) {
                list_values_append(&got, kv_slice_make("", 0));
                rc = KV_OK;
            } else {
                goto out;
            }
        }
    }
    if (o->has_store) {
        struct kv_slice *elems = kv_malloc((outlen ? outlen : 1) * sizeof *elems);
        for (size_t i = 0; i < outlen; i++)
            elems[i] = o->ngets ? list_values_at(&got, i) : items[start + (int64_t)i].elem;
        rc = sort_store_list(ctx->db, o->store, elems, outlen, ctx->err);
        kv_free(elems);
        if (rc == KV_OK)
            resp_write_int(ctx->out, (int64_t)outlen);
        goto out;
    }
    resp_write_array(ctx->out, outlen);
    for (size_t i = 0; i < outlen; i++) {
        if (o->ngets == 0)
            resp_write_bulk_slice(ctx->out, items[start + (int64_t)i].elem);
        else if (found[i])
            resp_write_bulk_slice(ctx->out, list_values_at(&got, i));
        else
            resp_write_null(ctx->out);
    }
out:
    kv_free(found);
    list_values_deinit(&got);
    kv_buf_deinit(&v);
    return rc;
}

/* SORT / SORT_RO: see the file comment. */
static enum kv_code
sort_generic(struct cmd_ctx *ctx, bool readonly)
{
    struct kv_slice *gets = kv_malloc((size_t)ctx->argc * sizeof *gets);
    struct list_values elems = LIST_VALUES_INIT, weights = LIST_VALUES_INIT;
    struct sort_item *items = NULL;
    struct sort_opts o;
    enum meta_type type = META_NONE;
    enum kv_code rc = parse_sort_opts(ctx, readonly, &o, gets);
    if (rc != KV_OK)
        goto out;
    if ((rc = load_elements(ctx, ctx->argv[1], &type, &elems)) != KV_OK)
        goto out;
    /* A set has no order of its own worth keeping: with STORE, Redis sorts it by ALPHA. */
    if (o.dontsort && type == META_SET && o.has_store) {
        o.dontsort = false;
        o.alpha = true;
        o.has_by = false;
    }
    size_t n = elems.n;
    items = kv_calloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        /* Without sorting, DESC reverses a list's or a sorted set's own order. */
        size_t from = o.dontsort && o.desc && type != META_SET ? n - 1 - i : i;
        items[i].elem = list_values_at(&elems, from);
        items[i].pos = i;
        items[i].o = &o;
    }
    if (!o.dontsort) {
        if ((rc = compute_weights(ctx, &o, items, n, &weights)) != KV_OK)
            goto out;
        qsort(items, n, sizeof *items, item_cmp);
    }
    /* LIMIT as Redis clamps it. */
    int64_t len = (int64_t)n;
    int64_t start = o.limit_start < 0 ? 0 : o.limit_start;
    int64_t end;
    if (o.limit_count < 0 || o.limit_count > len)
        end = len - 1;
    else
        end = start > len ? len : start + o.limit_count - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len)
        end = len - 1;
    rc = emit(ctx, &o, items, start, end);
out:
    kv_free(items);
    kv_free(gets);
    list_values_deinit(&elems);
    list_values_deinit(&weights);
    return rc;
}

/* SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
 * [STORE destination] -> array of elements (or of GET values, nil when missing); with STORE the
 * number of elements stored. */
static enum kv_code
cmd_sort(struct cmd_ctx *ctx)
{
    return sort_generic(ctx, false);
}

/* SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] -> array. */
static enum kv_code
cmd_sort_ro(struct cmd_ctx *ctx)
{
    return sort_generic(ctx, true);
}

/* SORT's keys, as Redis's sortGetKeys finds them: the key, then the last STORE destination,
 * skipping the arguments of LIMIT, GET and BY. Never malformed: option errors are the proc's. */
static int
keys_sort(int argc, const struct kv_slice *argv, int *idx, int cap)
{
    if (cap < 1)
        return 0;
    int n = 0, store = -1;
    idx[n++] = 1;
    for (int i = 2; i < argc; i++) {
        if (kv_slice_eq_nocase(argv[i], "limit"))
            i += 2;
        else if (kv_slice_eq_nocase(argv[i], "get") || kv_slice_eq_nocase(argv[i], "by"))
            i += 1;
        else if (kv_slice_eq_nocase(argv[i], "store") && i + 1 < argc)
            store = i + 1;
    }
    if (store > 0 && n < cap)
        idx[n++] = store;
    return n;
}

const struct command_spec sort_commands[] = {
    {"sort", cmd_sort, -2, CMD_WRITE, 0, 0, 0, keys_sort, "keyspace"},
    {"sort_ro", cmd_sort_ro, -2, CMD_READONLY, 1, 1, 1, NULL, "keyspace"},
};
const size_t sort_commands_len = sizeof sort_commands / sizeof sort_commands[0];
