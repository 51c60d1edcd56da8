/* SPDX-License-Identifier: Apache-2.0
 *
 * pubsub: registry, subscriptions and cross-worker delivery (see pubsub.h). Layout:
 *
 *   registry.channels: channel -> struct dict *subscribers (8-byte conn id -> struct worker *)
 *   registry.patterns: pattern -> the same
 *   conn->pubsub:      the connection's channels and patterns, each a dict for lookups plus a
 *                      list in subscription order
 *
 * A PUBLISH builds, under the registry mutex, one struct delivery per worker that has targets
 * (connection id + which pattern matched, if any). Deliveries for other workers share one
 * reference-counted copy of channel, message and matched patterns, and are posted to those
 * workers; the delivery for the publisher's own worker runs at once on the caller's bytes.
 * Posted deliveries stay on an in-flight list until they run, so one still queued when a worker
 * stops is not a leak as far as LeakSanitizer is concerned (worker_free drops unrun tasks).
 */
#include "server/pubsub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/dict.h"
#include "common/dlist.h"
#include "common/glob.h"
#include "common/log.h"
#include "common/mem.h"
#include "resp/resp_write.h"
#include "server/conn.h"
#include "server/repl_ctl.h"
#include "server/server.h"
#include "server/worker.h"
#include "storage/storage.h"

/* One channel or pattern a connection subscribed to. */
struct sub_name {
    struct dlist node; /* in sub_set.order */
    size_t len;
    char name[];
};

struct sub_set {
    struct dict *byname; /* name -> struct sub_name * (owned by the set, freed by hand) */
    struct dlist order;  /* struct sub_name, oldest first */
};

struct pubsub_state {
    struct sub_set channels;
    struct sub_set patterns;
};

static struct {
    pthread_mutex_t mu;
    struct dict *channels;       /* NULL while empty; see the top comment */
    struct dict *patterns;       /* NULL while empty */
    atomic_size_t subscriptions; /* (connection, channel or pattern) pairs: publish's fast path */
} registry = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0};

/* Bytes shared by the posted deliveries of one PUBLISH; the last one frees it. */
struct payload {
    atomic_int refs;
    size_t channel_len, message_len, patterns_len;
    char bytes[]; /* channel, message, matched patterns */
};

#define TARGET_CHANNEL SIZE_MAX

struct target {
    uint64_t conn_id;
    size_t pat_off; /* into the matched patterns */
    size_t pat_len; /* TARGET_CHANNEL: a channel subscription */
};

struct delivery {
    struct dlist node;       /* in `inflight` while posted */
    struct worker *w;        /* borrowed: where the targets live */
    struct payload *payload; /* shared reference (posted deliveries only) */
    size_t n, cap;
    struct target *targets; /* owned */
};

static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dlist inflight = {&inflight, &inflight};

/* --- per-connection subscriptions --- */

static void
set_init(struct sub_set *s)
{
    s->byname = dict_new(NULL, false);
    dlist_init(&s->order);
}

static void
set_deinit(struct sub_set *s)
{
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &s->order)
    {
        kv_free(dlist_entry(pos, struct sub_name, node));
    }
    dict_free(s->byname);
}

static bool
set_contains(const struct sub_set *s, struct kv_slice name)
{
    return dict_contains(s->byname, name.ptr, name.len);
}

static void
set_add(struct sub_set *s, struct kv_slice name)
{
    struct sub_name *sn = kv_malloc(sizeof *sn + name.len);
    sn->len = name.len;
    if (name.len > 0)
        memcpy(sn->name, name.ptr, name.len);
    dlist_insert_tail(&s->order, &sn->node);
    dict_set(s->byname, name.ptr, name.len, sn);
}

static void
set_remove(struct sub_set *s, struct kv_slice name)
{
    void *v = NULL;
    if (dict_take(s->byname, name.ptr, name.len, &v) != KV_OK)
        return;
    struct sub_name *sn = v;
    dlist_remove(&sn->node);
    kv_free(sn);
}

/* Publish c's counts for CLIENT LIST. */
static void
update_counts(struct conn *c)
{
    struct pubsub_state *ps = c->pubsub;
    atomic_store_explicit(&c->nsub, ps ? (int)dict_size(ps->channels.byname) : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&c->npsub, ps ? (int)dict_size(ps->patterns.byname) : 0,
                          memory_order_relaxed);
}

static size_t
total_of(const struct pubsub_state *ps)
{
    return ps == NULL ? 0 : dict_size(ps->channels.byname) + dict_size(ps->patterns.byname);
}

static struct pubsub_state *
state_of(struct conn *c)
{
    if (c->pubsub == NULL) {
        struct pubsub_state *ps = kv_calloc(1, sizeof *ps);
        set_init(&ps->channels);
        set_init(&ps->patterns);
        c->pubsub = ps;
    }
    return c->pubsub;
}

static void
state_free(struct pubsub_state *ps)
{
    if (ps == NULL)
        return;
    set_deinit(&ps->channels);
    set_deinit(&ps->patterns);
    kv_free(ps);
}

/* --- registry --- */

static void
free_subscribers(void *val)
{
    dict_free(val);
}

static void
registry_add(struct dict **table, struct kv_slice name, const struct conn *c)
{
    pthread_mutex_lock(&registry.mu);
    if (*table == NULL)
        *table = dict_new(free_subscribers, false);
    struct dict *subs = dict_get(*table, name.ptr, name.len);
    if (subs == NULL) {
        subs = dict_new(NULL, false);
        dict_set(*table, name.ptr, name.len, subs);
    }
    if (dict_add(subs, &c->id, sizeof c->id, c->w) == KV_OK)
        atomic_fetch_add(&registry.subscriptions, 1);
    pthread_mutex_unlock(&registry.mu);
}

static void
registry_remove(struct dict **table, struct kv_slice name, const struct conn *c)
{
    pthread_mutex_lock(&registry.mu);
    struct dict *subs = *table != NULL ? dict_get(*table, name.ptr, name.len) : NULL;
    if (subs != NULL && dict_delete(subs, &c->id, sizeof c->id) == KV_OK) {
        atomic_fetch_sub(&registry.subscriptions, 1);
        if (dict_size(subs) == 0)
            dict_delete(*table, name.ptr, name.len);
        if (dict_size(*table) == 0) {
            dict_free(*table);
            *table = NULL;
        }
    }
    pthread_mutex_unlock(&registry.mu);
}

static size_t
subscribe_generic(struct conn *c, struct kv_slice name, bool pattern)
{
    struct pubsub_state *ps = state_of(c);
    struct sub_set *set = pattern ? &ps->patterns : &ps->channels;
    if (!set_contains(set, name)) {
        set_add(set, name);
        registry_add(pattern ? &registry.patterns : &registry.channels, name, c);
    }
    conn_set_flag(c, CONN_F_PUBSUB);
    update_counts(c);
    return total_of(ps);
}

static size_t
unsubscribe_generic(struct conn *c, struct kv_slice name, bool pattern)
{
    struct pubsub_state *ps = c->pubsub;
    if (ps == NULL)
        return 0;
    struct sub_set *set = pattern ? &ps->patterns : &ps->channels;
    if (set_contains(set, name)) {
        set_remove(set, name);
        registry_remove(pattern ? &registry.patterns : &registry.channels, name, c);
    }
    size_t left = total_of(ps);
    if (left == 0) {
        state_free(ps);
        c->pubsub = NULL;
        conn_clear_flag(c, CONN_F_PUBSUB);
    }
    update_counts(c);
    return left;
}

size_t
pubsub_subscribe(struct conn *c, struct kv_slice channel)
{
    return subscribe_generic(c, channel, false);
}

size_t
pubsub_psubscribe(struct conn *c, struct kv_slice pattern)
{
    return subscribe_generic(c, pattern, true);
}

size_t
pubsub_unsubscribe(struct conn *c, struct kv_slice channel)
{
    return unsubscribe_generic(c, channel, false);
}

size_t
pubsub_punsubscribe(struct conn *c, struct kv_slice pattern)
{
    return unsubscribe_generic(c, pattern, true);
}

static bool
first_of(const struct sub_set *s, struct kv_buf *out)
{
    kv_buf_clear(out);
    if (dlist_empty(&s->order))
        return false;
    const struct sub_name *sn = dlist_entry(s->order.next, struct sub_name, node);
    kv_buf_append(out, sn->name, sn->len);
    return true;
}

bool
pubsub_first_channel(const struct conn *c, struct kv_buf *out)
{
    if (c->pubsub == NULL) {
        kv_buf_clear(out);
        return false;
    }
    return first_of(&c->pubsub->channels, out);
}

bool
pubsub_first_pattern(const struct conn *c, struct kv_buf *out)
{
    if (c->pubsub == NULL) {
        kv_buf_clear(out);
        return false;
    }
    return first_of(&c->pubsub->patterns, out);
}

size_t
pubsub_conn_channels(const struct conn *c)
{
    return c->pubsub == NULL ? 0 : dict_size(c->pubsub->channels.byname);
}

size_t
pubsub_conn_patterns(const struct conn *c)
{
    return c->pubsub == NULL ? 0 : dict_size(c->pubsub->patterns.byname);
}

void
pubsub_conn_free(struct conn *c)
{
    struct pubsub_state *ps = c->pubsub;
    if (ps == NULL)
        return;
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &ps->channels.order)
    {
        struct sub_name *sn = dlist_entry(pos, struct sub_name, node);
        registry_remove(&registry.channels, kv_slice_make(sn->name, sn->len), c);
    }
    dlist_foreach_safe(pos, tmp, &ps->patterns.order)
    {
        struct sub_name *sn = dlist_entry(pos, struct sub_name, node);
        registry_remove(&registry.patterns, kv_slice_make(sn->name, sn->len), c);
    }
    state_free(ps);
    c->pubsub = NULL;
    conn_clear_flag(c, CONN_F_PUBSUB);
    update_counts(c);
}

/* --- registry queries --- */

void
pubsub_write_channels(const struct kv_slice *pattern, struct resp_out *out)
{
    struct kv_buf names = KV_BUF_INIT; /* [len u32 native][bytes] ... */
    size_t n = 0;
    pthread_mutex_lock(&registry.mu);
    if (registry.channels != NULL) {
        struct dict_iter it;
        dict_iter_init(&it, registry.channels);
        const void *k;
        size_t klen;
        void *v;
        while (dict_iter_next(&it, &k, &klen, &v)) {
            if (pattern != NULL && !glob_match(pattern->ptr, pattern->len, k, klen, false))
                continue;
            uint32_t len32 = (uint32_t)klen;
            kv_buf_append(&names, &len32, sizeof len32);
            kv_buf_append(&names, k, klen);
            n++;
        }
    }
    pthread_mutex_unlock(&registry.mu);
    resp_write_array(out, n);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len32;
        memcpy(&len32, names.ptr + off, sizeof len32);
        off += sizeof len32;
        resp_write_bulk(out, names.ptr + off, len32);
        off += len32;
    }
    kv_buf_deinit(&names);
}

int64_t
pubsub_numsub(struct kv_slice channel)
{
    int64_t n = 0;
    pthread_mutex_lock(&registry.mu);
    struct dict *subs =
        registry.channels != NULL ? dict_get(registry.channels, channel.ptr, channel.len) : NULL;
    if (subs != NULL)
        n = (int64_t)dict_size(subs);
    pthread_mutex_unlock(&registry.mu);
    return n;
}

static size_t
table_size(struct dict **table)
{
    pthread_mutex_lock(&registry.mu);
    size_t n = *table != NULL ? dict_size(*table) : 0;
    pthread_mutex_unlock(&registry.mu);
    return n;
}

size_t
pubsub_channel_count(void)
{
    return table_size(&registry.channels);
}

size_t
pubsub_pattern_count(void)
{
    return table_size(&registry.patterns);
}

/* --- delivery --- */

static void
add_target(struct delivery **per, int nworkers, struct worker *w, uint64_t id, size_t off,
           size_t len)
{
    if (w->id < 0 || w->id >= nworkers)
        return;
    struct delivery *d = per[w->id];
    if (d == NULL) {
        d = kv_calloc(1, sizeof *d);
        dlist_init(&d->node);
        d->w = w;
        per[w->id] = d;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 4;
        d->targets = kv_realloc(d->targets, d->cap * sizeof *d->targets);
    }
    d->targets[d->n].conn_id = id;
    d->targets[d->n].pat_off = off;
    d->targets[d->n].pat_len = len;
    d->n++;
}

/* Add a target per subscriber in `subs`. Caller holds the registry mutex. */
static int64_t
add_subscribers(struct delivery **per, int nworkers, struct dict *subs, size_t off, size_t len)
{
    int64_t n = 0;
    struct dict_iter it;
    dict_iter_init(&it, subs);
    const void *k;
    size_t klen;
    void *v;
    while (dict_iter_next(&it, &k, &klen, &v)) {
        uint64_t id;
        memcpy(&id, k, sizeof id);
        add_target(per, nworkers, v, id, off, len);
        n++;
    }
    return n;
}

static void
delivery_free(struct delivery *d)
{
    kv_free(d->targets);
    kv_free(d);
}

static void
payload_release(struct payload *p)
{
    if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
        kv_free(p);
}

/* Is c still subscribed to what `t` was delivered for? */
static bool
still_subscribed(const struct conn *c, const struct target *t, struct kv_slice channel,
                 const char *patterns)
{
    if (c->pubsub == NULL)
        return false;
    if (t->pat_len == TARGET_CHANNEL)
        return set_contains(&c->pubsub->channels, channel);
    return set_contains(&c->pubsub->patterns, kv_slice_make(patterns + t->pat_off, t->pat_len));
}

/* Write the message to each target of d, on d's worker (the calling thread). `self` is the
 * connection whose command is running on this thread (the publisher), or NULL: its output is
 * flushed by its own dispatcher, and it may not be freed here. */
static void
deliver(struct delivery *d, struct kv_slice channel, struct kv_slice message, const char *patterns,
        struct conn *self)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct target *t = &d->targets[i];
        struct conn *c = worker_find_conn(d->w, t->conn_id);
        if (c == NULL || conn_has_flag(c, CONN_F_CLOSE_ASAP | CONN_F_CLOSE_AFTER_REPLY))
            continue;
        if (!still_subscribed(c, t, channel, patterns))
            continue;
        if (t->pat_len == TARGET_CHANNEL) {
            resp_write_push(&c->rout, 3);
            resp_write_bulk(&c->rout, "message", 7);
        } else {
            resp_write_push(&c->rout, 4);
            resp_write_bulk(&c->rout, "pmessage", 8);
            resp_write_bulk(&c->rout, patterns + t->pat_off, t->pat_len);
        }
        resp_write_bulk_slice(&c->rout, channel);
        resp_write_bulk_slice(&c->rout, message);
        size_t pending = conn_pending_output(c);
        if (pending > PUBSUB_OUTPUT_LIMIT_BYTES) {
            LOG_WARN("closing subscriber id=%llu addr=%s: %zu bytes of output pending, over the "
                     "pubsub limit of %u",
                     (unsigned long long)c->id, c->addr, pending, PUBSUB_OUTPUT_LIMIT_BYTES);
            atomic_fetch_add_explicit(&c->srv->stats.client_output_limit_disconnections, 1,
                                      memory_order_relaxed);
            conn_request_close(c);
            continue;
        }
        if (c != self)
            conn_flush(c); /* may free c */
    }
}

static void
delivery_task(void *arg)
{
    struct delivery *d = arg;
    pthread_mutex_lock(&inflight_mu);
    dlist_remove(&d->node);
    pthread_mutex_unlock(&inflight_mu);
    struct payload *p = d->payload;
    struct kv_slice channel = kv_slice_make(p->bytes, p->channel_len);
    struct kv_slice message = kv_slice_make(p->bytes + p->channel_len, p->message_len);
    deliver(d, channel, message, p->bytes + p->channel_len + p->message_len, NULL);
    payload_release(p);
    delivery_free(d);
}

int64_t
pubsub_publish_by(struct server *srv, struct conn *self, struct kv_slice channel,
                  struct kv_slice message)
{
    if (atomic_load(&registry.subscriptions) == 0)
        return 0;
    int nworkers = srv->nworkers;
    if (nworkers <= 0)
        return 0;
    struct delivery **per = kv_calloc((size_t)nworkers, sizeof *per);
    struct kv_buf patterns = KV_BUF_INIT; /* matched patterns, concatenated */
    int64_t receivers = 0;
    pthread_mutex_lock(&registry.mu);
    if (registry.channels != NULL) {
        struct dict *subs = dict_get(registry.channels, channel.ptr, channel.len);
        if (subs != NULL)
            receivers += add_subscribers(per, nworkers, subs, 0, TARGET_CHANNEL);
    }
    if (registry.patterns != NULL) {
        struct dict_iter it;
        dict_iter_init(&it, registry.patterns);
        const void *k;
        size_t klen;
        void *v;
        while (dict_iter_next(&it, &k, &klen, &v)) {
            if (!glob_match(k, klen, channel.ptr, channel.len, false))
                continue;
            size_t off = patterns.len;
            kv_buf_append(&patterns, k, klen);
            receivers += add_subscribers(per, nworkers, v, off, klen);
        }
    }
    pthread_mutex_unlock(&registry.mu);

    struct worker *here = server_current_worker();
    int remote = 0;
    for (int i = 0; i < nworkers; i++)
        remote += per[i] != NULL && per[i]->w != here;
    struct payload *p = NULL;
    if (remote > 0) {
        p = kv_malloc(sizeof *p + channel.len + message.len + patterns.len);
        atomic_init(&p->refs, remote);
        p->channel_len = channel.len;
        p->message_len = message.len;
        p->patterns_len = patterns.len;
        char *b = p->bytes;
        if (channel.len > 0)
            memcpy(b, channel.ptr, channel.len);
        if (message.len > 0)
            memcpy(b + channel.len, message.ptr, message.len);
        if (patterns.len > 0)
            memcpy(b + channel.len + message.len, patterns.ptr, patterns.len);
    }
    for (int i = 0; i < nworkers; i++) {
        struct delivery *d = per[i];
        if (d == NULL)
            continue;
        if (d->w == here) {
            deliver(d, channel, message, patterns.ptr, self);
            delivery_free(d);
            continue;
        }
        d->payload = p;
        pthread_mutex_lock(&inflight_mu);
        dlist_insert_tail(&inflight, &d->node);
        pthread_mutex_unlock(&inflight_mu);
        worker_post(d->w, delivery_task, d);
    }
    kv_buf_deinit(&patterns);
    kv_free(per);
    return receivers;
}

int64_t
pubsub_publish(struct server *srv, struct kv_slice channel, struct kv_slice message)
{
    return pubsub_publish_by(srv, NULL, channel, message);
}

enum kv_code
pubsub_write_record(struct server *srv, struct storage *st, struct kv_slice channel,
                    struct kv_slice message, struct kv_err *err)
{
    if (repl_ctl_is_replica(srv))
        return KV_OK;
    struct storage_batch *b = storage_batch_new(st);
    storage_batch_put(b, KV_CF_PUBSUB, channel, message);
    enum kv_code rc = storage_write(st, b, err);
    storage_batch_free(b);
    return rc;
}
