/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate_ctl: slot migration, source and destination sides (see migrate_ctl.h for the
 * contract; the command bodies are in commands/cmd_migrate.c, the per-key encoders in
 * server/migrate_dump.c).
 *
 * The source copies keys, not WAL records: the snapshot stage sends every live key of the range
 * as seen by a RocksDB snapshot; each WAL round takes a new snapshot S, collects the user keys of
 * the range that the WAL batches up to S touched (metadata and sub-key records alike), and sends
 * each of them again as S sees it (DEL first, then the rebuilt key, or only DEL when S has no
 * live key). Keys not touched since the previous round are already right on the destination, so
 * after the write-forbidden round the destination holds exactly the range as the source has it.
 *
 * State: one reader/writer lock (`lock`) guards everything routing and INFO read;
 * `active` lets routing skip the lock until the first migration or import of the process.
 */
#include "server/migrate_ctl.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cluster/migrate.h"
#include "commands/command.h"
#include "common/clock.h"
#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/netio.h"
#include "common/slot.h"
#include "common/thread.h"
#include "server/blocking.h"
#include "server/cluster_ctl.h"
#include "server/conn.h"
#include "server/migrate_dump.h"
#include "server/server.h"
#include "server/worker.h"
#include "storage/keys.h"
#include "storage/wal.h"

/* WAL catch-up rounds before the write-forbidden tail (Kvrocks: 10). */
#define MIGRATE_MAX_WAL_ROUNDS 10
/* Bound of the best-effort CLUSTER IMPORT <range> 2 sent after a failure. */
#define MIGRATE_FAIL_NOTIFY_MS 1000

/* A client parked by CLUSTERX MIGRATE ... sync, answered from its worker. */
struct migrate_waiter {
    struct worker *w; /* borrowed: the connection's worker */
    uint64_t conn_id; /* 0: nobody waits */
    int64_t deadline; /* monotonic ms; 0 = no timeout */
};

struct migrate_job {
    struct server *srv; /* borrowed */
    /* borrowed: the storage when the migration started (read once, under the server lock;
     * a replica's DB swap could replace srv->st, but a node becoming a replica aborts the
     * migration first) */
    struct storage *st;
    struct kv_thread *thread;
    int abort_fd;           /* eventfd: stop_fd of every wait of the thread */
    atomic_bool shutdown;   /* migrate_ctl_stop: no best-effort notify */
    char abort_reason[128]; /* under state lock; "" = not aborted */
    struct cluster_slot_range range;
    char dst_id[NODES_ID_LEN + 1];
    char dst_host[NODES_HOST_MAX + 1];
    uint16_t dst_port;
    char *password; /* owned: my requirepass ("" none) */
    struct migrate_dump_opts opts;
    int64_t connect_ms, io_ms;
    struct migrate_waiter waiter; /* under state lock */
    int64_t wait_due;             /* the thread's copy of waiter.deadline (0 = none) */
    bool done;                    /* under state lock: the thread has set the final state */
    /* the thread's own, for its log line */
    int wal_rounds;          /* catch-up rounds before the write-forbidden one */
    int64_t forbidden_since; /* monotonic ms; 0 = writes never refused */
};

struct migrate_ctl_state {
    pthread_rwlock_t lock;
    atomic_bool active; /* a migration or import happened: routing takes the lock */
    bool stopped;       /* migrate_ctl_stop ran */

    /* source */
    enum migrate_state mstate;
    struct cluster_slot_range mrange;
    char mdst_id[NODES_ID_LEN + 1];
    char mdst_addr[NODES_ADDR_MAX];
    struct cluster_slot_range forbidden;
    struct cluster_migrated_slots *migrated; /* owned */
    size_t nmigrated;
    struct migrate_job *job; /* owned; running or finished, not joined yet */

    /* destination */
    enum import_state istate;
    struct cluster_slot_range irange;
    uint64_t iconn_id;                   /* the import link while istate == IMPORT_START */
    struct cluster_slot_range *imported; /* owned */
    size_t nimported;
};

static struct migrate_ctl_state *
state_of(struct server *srv)
{
    return srv == NULL ? NULL : srv->migrate;
}

/* --- range deletion (both sides) --- */

/* Delete every key of slots [r.start, r.end] in the default namespace: one range delete on the
 * metadata column family (sub-keys become unreachable and are reclaimed by compaction). */
static enum kv_code
delete_range_keys(struct server *srv, struct cluster_slot_range r, struct kv_err *err)
{
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
    struct storage_batch *b = storage_batch_new(srv->st);
    storage_batch_delete_range(b, KV_CF_METADATA, kv_buf_slice(&lo), kv_buf_slice(&hi));
    enum kv_code rc = storage_write(srv->st, b, err);
    storage_batch_free(b);
    kv_buf_deinit(&lo);
    kv_buf_deinit(&hi);
    return rc;
}

/* --- the link to the destination --- */

struct link {
    int fd;
    struct netio_reader rd;
    int abort_fd;
    int64_t io_ms;
    struct migrate_job *job;
    struct kv_buf out;  /* commands not sent yet */
    size_t pending;     /* how many */
    size_t pipeline;    /* send when pending reaches it */
    int64_t speed;      /* commands per second, 0 = unlimited */
    int64_t pace_start; /* monotonic ms */
    uint64_t pace_sent;
    struct kv_buf line;
    struct migrate_dump_stats *stats;
};

/* Answer a parked sync client whose timeout passed (a nil bulk); the migration goes on. */
static void waiter_check_timeout(struct migrate_job *job);

/* Read one reply; KV_ERR with the destination's text when it is an error. */
static enum kv_code
link_read_reply(struct link *l, struct kv_err *err)
{
    int64_t deadline = clock_mono_ms() + l->io_ms;
    enum kv_code rc = netio_read_line(&l->rd, &l->line, 1 << 20, deadline, l->abort_fd, err);
    if (rc != KV_OK)
        return rc;
    int64_t n = 0;
    switch (migrate_reply_classify(kv_buf_slice(&l->line), &n)) {
    case MIGRATE_REPLY_OK:
        return KV_OK;
    case MIGRATE_REPLY_ERROR:
        return kv_err_set(err, KV_ERR, "destination replied: %.*s", (int)(l->line.len - 1),
                          l->line.ptr + 1);
    case MIGRATE_REPLY_BULK: {
        char scratch[4096];
        size_t left = (size_t)n + 2;
        while (left > 0) {
            size_t k = left < sizeof scratch ? left : sizeof scratch;
            rc = netio_read_n(&l->rd, scratch, k, deadline, l->abort_fd, err);
            if (rc != KV_OK)
                return rc;
            left -= k;
        }
        return KV_OK;
    }
    case MIGRATE_REPLY_BAD:
        break;
    }
    return kv_err_set(err, KV_ERR_PROTOCOL, "unexpected reply from the destination");
}

/* Wait ms on the abort fd: KV_ERR_STOPPED when it fires. */
static enum kv_code
wait_or_abort(int abort_fd, int64_t ms, struct kv_err *err)
{
    struct pollfd p = {.fd = abort_fd, .events = POLLIN};
    int64_t end = clock_mono_ms() + ms;
    for (;;) {
        int64_t left = end - clock_mono_ms();
        if (left <= 0)
            return KV_OK;
        int r = poll(&p, 1, (int)(left > 100 ? 100 : left));
        if (r > 0)
            return kv_err_set(err, KV_ERR_STOPPED, "migration aborted");
    }
}

static enum kv_code
link_flush(struct link *l, struct kv_err *err)
{
    if (l->pending == 0)
        return KV_OK;
    waiter_check_timeout(l->job);
    int64_t delay =
        migrate_pace_delay_ms(l->pace_sent + l->pending, clock_mono_ms() - l->pace_start, l->speed);
    enum kv_code rc = KV_OK;
    while (delay > 0 && rc == KV_OK) {
        int64_t step = delay > 200 ? 200 : delay;
        rc = wait_or_abort(l->abort_fd, step, err);
        delay -= step;
        waiter_check_timeout(l->job);
    }
    if (rc != KV_OK)
        return rc;
    rc = netio_write_all(l->fd, l->out.ptr, l->out.len, clock_mono_ms() + l->io_ms, l->abort_fd,
                         err);
    if (rc != KV_OK)
        return rc;
    l->stats->bytes += l->out.len;
    l->stats->commands += l->pending;
    l->pace_sent += l->pending;
    size_t n = l->pending;
    l->pending = 0;
    kv_buf_clear(&l->out);
    for (size_t i = 0; i < n; i++) {
        rc = link_read_reply(l, err);
        if (rc != KV_OK)
            return rc;
    }
    return KV_OK;
}

/* The migrate_dump sink: queue one command, flush when the pipeline is full. */
static enum kv_code
link_send(void *arg, size_t argc, const struct kv_slice *argv, struct kv_err *err)
{
    struct link *l = arg;
    migrate_resp_append(&l->out, argc, argv);
    l->pending++;
    if (l->pending >= l->pipeline)
        return link_flush(l, err);
    return KV_OK;
}

/* Send one command now and check its reply. */
static enum kv_code
link_call(struct link *l, size_t argc, const struct kv_slice *argv, struct kv_err *err)
{
    enum kv_code rc = link_flush(l, err);
    if (rc != KV_OK)
        return rc;
    migrate_resp_append(&l->out, argc, argv);
    l->pending = 1;
    int64_t speed = l->speed;
    l->speed = 0; /* control commands are not paced */
    rc = link_flush(l, err);
    l->speed = speed;
    return rc;
}

/* Connect, AUTH with my own password (Kvrocks: both sides share it), and send
 * CLUSTER IMPORT <range> <state>. */
static enum kv_code
link_open(struct link *l, struct migrate_job *job, int stop_fd, int64_t connect_ms,
          int import_state, struct kv_err *err)
{
    enum kv_code rc = netio_connect(job->dst_host, job->dst_port, clock_mono_ms() + connect_ms,
                                    stop_fd, &l->fd, err);
    if (rc != KV_OK)
        return rc;
    netio_reader_init(&l->rd, l->fd);
    if (job->password[0] != '\0') {
        struct kv_slice auth[] = {kv_slice_cstr("AUTH"), kv_slice_cstr(job->password)};
        if ((rc = link_call(l, 2, auth, err)) != KV_OK)
            return rc;
    }
    char range[MIGRATE_RANGE_STR_MAX];
    char st[4];
    snprintf(st, sizeof st, "%d", import_state);
    struct kv_slice imp[] = {kv_slice_cstr("CLUSTER"), kv_slice_cstr("IMPORT"),
                             kv_slice_cstr(migrate_range_str(&job->range, range)),
                             kv_slice_cstr(st)};
    return link_call(l, 4, imp, err);
}

static void
link_init(struct link *l, struct migrate_job *job, int abort_fd, struct migrate_dump_stats *stats)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    l->abort_fd = abort_fd;
    l->io_ms = job->io_ms;
    l->job = job;
    l->pipeline = job->opts.pipeline > 0 ? (size_t)job->opts.pipeline : 1;
    l->speed = job->opts.speed;
    l->pace_start = clock_mono_ms();
    l->stats = stats;
}

static void
link_close(struct link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    kv_buf_deinit(&l->out);
    kv_buf_deinit(&l->line);
}

/* --- the parked sync client --- */

struct waiter_reply {
    uint64_t conn_id;
    int kind; /* 0 +OK, 1 -ERR msg, 2 nil */
    char msg[KV_ERR_MSG_MAX];
};

static void
waiter_reply_task(void *arg)
{
    struct waiter_reply *r = arg;
    struct worker *w = server_current_worker();
    struct conn *c = w != NULL ? worker_find_conn(w, r->conn_id) : NULL;
    if (c != NULL && conn_has_flag(c, CONN_F_BLOCKED) && c->block == NULL) {
        if (r->kind == 0)
            resp_write_ok(&c->rout);
        else if (r->kind == 1)
            resp_write_error(&c->rout, r->msg);
        else
            resp_write_null(&c->rout);
        conn_clear_flag(c, CONN_F_BLOCKED);
        conn_resume_input(c);
        conn_flush(c);
    }
    kv_free(r);
}

/* Post the reply to the waiter (caller holds the state lock for writing); clears it. */
static void
waiter_post_locked(struct migrate_waiter *wt, int kind, const char *msg)
{
    if (wt->conn_id == 0)
        return;
    struct waiter_reply *r = kv_calloc(1, sizeof *r);
    r->conn_id = wt->conn_id;
    r->kind = kind;
    if (msg != NULL)
        snprintf(r->msg, sizeof r->msg, "ERR %.*s", (int)(sizeof r->msg - 5), msg);
    worker_post(wt->w, waiter_reply_task, r);
    wt->conn_id = 0;
}

static void
waiter_check_timeout(struct migrate_job *job)
{
    /* Most migrations have no timed waiter: skip the lock (routing readers share it). */
    int64_t due = job->wait_due;
    if (due == 0 || clock_mono_ms() < due)
        return;
    job->wait_due = 0;
    struct migrate_ctl_state *s = state_of(job->srv);
    pthread_rwlock_wrlock(&s->lock);
    if (job->waiter.conn_id != 0 && job->waiter.deadline != 0 &&
        clock_mono_ms() >= job->waiter.deadline)
        waiter_post_locked(&job->waiter, 2, NULL);
    pthread_rwlock_unlock(&s->lock);
}

/* --- the migration thread --- */

/* Keys of the range touched by WAL batches in (from, to]; owned by a dict (values unused). */
struct touched {
    struct cluster_slot_range range;
    struct dict *keys;
    bool flushed; /* a range delete covered the metadata of the range (FLUSHDB/FLUSHALL) */
};

static void
touched_record(void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
               struct kv_slice value)
{
    (void)value;
    struct touched *t = arg;
    struct kv_slice ns, user;
    uint16_t slot = 0;
    if (kind == STORAGE_REC_LOG_DATA)
        return;
    if (kind == STORAGE_REC_DELETE_RANGE) {
        if (cf == KV_CF_METADATA)
            t->flushed = true;
        return;
    }
    if (cf == KV_CF_METADATA) {
        if (keys_decode_meta_key(key, true, &ns, &slot, &user) != KV_OK)
            return;
    } else if (cf == KV_CF_SUBKEY || cf == KV_CF_ZSET_SCORE || cf == KV_CF_STREAM) {
        uint64_t version;
        struct kv_slice sub;
        if (keys_decode_subkey(key, true, &ns, &user, &version, &sub) != KV_OK)
            return;
        slot = slot_of_key(user.ptr, user.len);
    } else {
        return;
    }
    if (!kv_slice_eq(ns, kv_slice_cstr(KEYS_DEFAULT_NAMESPACE)) ||
        !migrate_range_contains(&t->range, slot))
        return;
    if (!dict_contains(t->keys, user.ptr, user.len))
        dict_add(t->keys, user.ptr, user.len, NULL);
}

/* Collect the range's keys touched by the batches with sequences in (from, to]. *reached is the
 * last sequence of the last batch read (>= to unless the WAL ended early). */
static enum kv_code
collect_touched(struct storage *st, uint64_t from, uint64_t to, struct touched *t,
                uint64_t *reached, struct kv_err *err)
{
    *reached = from;
    if (to <= from)
        return KV_OK;
    struct wal_iter *it = NULL;
    enum kv_code rc = wal_iter_open(st, from + 1, &it, err);
    if (rc != KV_OK)
        return rc;
    for (;;) {
        uint64_t seq;
        uint32_t count;
        struct kv_slice rep;
        rc = wal_iter_batch(it, &seq, &count, &rep, err);
        if (rc == KV_NOTFOUND) {
            rc = KV_OK;
            break;
        }
        if (rc != KV_OK || seq > to)
            break;
        rc = storage_batch_foreach(rep, touched_record, t, err);
        if (rc != KV_OK)
            break;
        if (count > 0)
            *reached = seq + count - 1;
        wal_iter_next(it);
    }
    wal_iter_free(it);
    if (rc == KV_OK && *reached < to)
        rc = kv_err_set(err, KV_ERR_WAL_GAP, "the WAL ended before sequence %" PRIu64, to);
    return rc;
}

/* One catch-up round: take a snapshot, resend the keys touched since *cur as it sees them. */
static enum kv_code
wal_round(struct migrate_job *job, struct link *l, uint64_t *cur, struct migrate_dump_stats *ds,
          struct kv_err *err)
{
    struct storage *st = job->st;
    struct storage_snapshot *snap = storage_snapshot_new(st);
    uint64_t to = storage_snapshot_seq(snap);
    struct touched t = {.range = job->range, .keys = dict_new(NULL, false)};
    uint64_t reached = *cur;
    enum kv_code rc = collect_touched(st, *cur, to, &t, &reached, err);
    if (rc == KV_OK && t.flushed)
        rc = kv_err_set(err, KV_ERR, "the slot's keys were deleted (FLUSHDB) during migration");
    if (rc == KV_OK) {
        size_t n = dict_size(t.keys), i = 0;
        struct kv_slice *keys = kv_calloc(n > 0 ? n : 1, sizeof *keys);
        struct dict_iter di;
        dict_iter_init(&di, t.keys);
        const void *k;
        size_t klen;
        void *v;
        while (i < n && dict_iter_next(&di, &k, &klen, &v))
            keys[i++] = kv_slice_make(k, klen); /* borrowed from the dict */
        rc = migrate_dump_keys(st, snap, keys, i, true, &job->opts, link_send, l, ds, err);
        kv_free(keys);
    }
    if (rc == KV_OK)
        rc = link_flush(l, err);
    if (rc == KV_OK)
        *cur = reached > to ? reached : to;
    dict_free(t.keys);
    storage_snapshot_free(st, snap);
    return rc;
}

static void
set_forbidden(struct migrate_ctl_state *s, const struct cluster_slot_range *r)
{
    pthread_rwlock_wrlock(&s->lock);
    if (r != NULL)
        s->forbidden = *r;
    else
        memset(&s->forbidden, 0, sizeof s->forbidden);
    pthread_rwlock_unlock(&s->lock);
}

static enum kv_code
run_migration(struct migrate_job *job, struct link *l, struct migrate_dump_stats *ds,
              struct kv_err *err)
{
    struct server *srv = job->srv;
    struct migrate_ctl_state *s = state_of(srv);
    enum kv_code rc = link_open(l, job, job->abort_fd, job->connect_ms, 0, err);
    if (rc != KV_OK)
        return rc;

    /* Snapshot stage. */
    struct storage_snapshot *snap = storage_snapshot_new(job->st);
    uint64_t cur = storage_snapshot_seq(snap);
    rc = migrate_dump_range(job->st, snap, job->range, &job->opts, link_send, l, ds, err);
    storage_snapshot_free(job->st, snap);
    if (rc == KV_OK)
        rc = link_flush(l, err);
    if (rc != KV_OK)
        return rc;
    LOG_INFO("migration of slots %u-%u: %" PRIu64 " keys copied from the snapshot, replaying "
             "the WAL",
             job->range.start, job->range.end, ds->keys);

    /* WAL catch-up. */
    for (int round = 0; round < MIGRATE_MAX_WAL_ROUNDS; round++) {
        uint64_t latest = storage_latest_seq(job->st);
        if (latest <= cur || latest - cur <= (uint64_t)job->opts.sequence_gap)
            break;
        if ((rc = wal_round(job, l, &cur, ds, err)) != KV_OK)
            return rc;
        job->wal_rounds++;
    }

    /* Write-forbidden tail: forbid, then wait out the writes routed before (they hold the
     * server lock shared until they are written), then replay what is left. */
    set_forbidden(s, &job->range);
    job->forbidden_since = clock_mono_ms();
    pthread_rwlock_wrlock(&srv->lock);
    server_wait_unstaged(srv); /* and for the staged ones to be committed (worker.h) */
    pthread_rwlock_unlock(&srv->lock);
    l->speed = 0; /* writes wait for this round: do not pace it */
    if ((rc = wal_round(job, l, &cur, ds, err)) != KV_OK)
        return rc;

    struct kv_slice done[] = {
        kv_slice_cstr("CLUSTER"), kv_slice_cstr("IMPORT"), {0}, kv_slice_cstr("1")};
    char range[MIGRATE_RANGE_STR_MAX];
    done[2] = kv_slice_cstr(migrate_range_str(&job->range, range));
    return link_call(l, 4, done, err);
}

/* After a failure: tell the destination on a fresh connection (the import link may be in the
 * middle of a command) so that it drops the range's keys before we report fail. */
static void
notify_failure(struct migrate_job *job)
{
    if (atomic_load(&job->shutdown))
        return;
    struct migrate_dump_stats ds = {0};
    struct link l;
    link_init(&l, job, -1, &ds);
    l.io_ms = MIGRATE_FAIL_NOTIFY_MS;
    l.speed = 0;
    struct kv_err err = {0};
    if (link_open(&l, job, -1, MIGRATE_FAIL_NOTIFY_MS, 2, &err) != KV_OK)
        LOG_WARN("migration: could not tell the destination about the failure: %s", err.msg);
    link_close(&l);
}

static void
migrate_thread(struct kv_thread *self, void *arg)
{
    (void)self;
    struct migrate_job *job = arg;
    struct server *srv = job->srv;
    struct migrate_ctl_state *s = state_of(srv);
    struct migrate_dump_stats ds = {0};
    struct link l;
    link_init(&l, job, job->abort_fd, &ds);
    struct kv_err err = {0};
    int64_t start = clock_mono_ms();
    enum kv_code rc = run_migration(job, &l, &ds, &err);
    link_close(&l);
    int64_t elapsed = clock_mono_ms() - start;

    char msg[KV_ERR_MSG_MAX];
    if (rc != KV_OK) {
        set_forbidden(s, NULL);
        pthread_rwlock_rdlock(&s->lock);
        if (job->abort_reason[0] != '\0')
            snprintf(msg, sizeof msg, "%s", job->abort_reason);
        else
            snprintf(msg, sizeof msg, "%s", err.msg[0] ? err.msg : kv_code_name(rc));
        pthread_rwlock_unlock(&s->lock);
        LOG_WARN("migration of slots %u-%u to %s:%u failed after %" PRId64 " ms: %s",
                 job->range.start, job->range.end, job->dst_host, job->dst_port, elapsed, msg);
        notify_failure(job);
    } else {
        LOG_INFO("migration of slots %u-%u to %s:%u succeeded: %" PRIu64 " keys, %" PRIu64
                 " commands, %" PRIu64 " bytes in %" PRId64 " ms (%d WAL rounds, writes "
                 "refused for %" PRId64 " ms)",
                 job->range.start, job->range.end, job->dst_host, job->dst_port, ds.keys,
                 ds.commands, ds.bytes, elapsed, job->wal_rounds,
                 clock_mono_ms() - job->forbidden_since);
    }

    pthread_rwlock_wrlock(&s->lock);
    if (rc == KV_OK) {
        s->migrated = kv_realloc(s->migrated, (s->nmigrated + 1) * sizeof *s->migrated);
        struct cluster_migrated_slots *m = &s->migrated[s->nmigrated++];
        memset(m, 0, sizeof *m);
        m->range = job->range;
        snprintf(m->addr, sizeof m->addr, "%s:%u", job->dst_host, job->dst_port);
        s->mstate = MIGRATE_SUCCESS;
        waiter_post_locked(&job->waiter, 0, NULL);
    } else {
        s->mstate = MIGRATE_FAIL;
        waiter_post_locked(&job->waiter, 1, msg);
    }
    memset(&s->forbidden, 0, sizeof s->forbidden);
    job->done = true;
    pthread_rwlock_unlock(&s->lock);
    if (rc == KV_OK)
        blocking_reroute_all(job->srv); /* clients blocked on the slot's keys: -MOVED */
}

static void
job_free(struct migrate_job *job)
{
    if (job == NULL)
        return;
    if (job->abort_fd >= 0)
        close(job->abort_fd);
    kv_free(job->password);
    kv_free(job);
}

static void
job_abort_locked(struct migrate_job *job, const char *reason)
{
    if (job == NULL || job->done)
        return;
    if (job->abort_reason[0] == '\0')
        snprintf(job->abort_reason, sizeof job->abort_reason, "%s", reason);
    uint64_t one = 1;
    ssize_t n = write(job->abort_fd, &one, sizeof one);
    (void)n;
}

/* --- API --- */

enum kv_code
migrate_ctl_init(struct server *srv, struct kv_err *err)
{
    (void)err;
    struct migrate_ctl_state *s = kv_calloc(1, sizeof *s);
    pthread_rwlock_init(&s->lock, NULL);
    srv->migrate = s;
    return KV_OK;
}

void
migrate_ctl_stop(struct server *srv, int64_t deadline_ms)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return;
    pthread_rwlock_wrlock(&s->lock);
    s->stopped = true;
    struct migrate_job *job = s->job;
    if (job != NULL) {
        atomic_store(&job->shutdown, true);
        job_abort_locked(job, "the server is shutting down");
        job->waiter.conn_id = 0;
    }
    pthread_rwlock_unlock(&s->lock);
    if (job == NULL)
        return;
    int64_t left = deadline_ms - clock_mono_ms();
    if (kv_thread_stop(job->thread, left > 0 ? left : 0) != KV_OK) {
        LOG_WARN("migration thread did not stop in time");
        return;
    }
    pthread_rwlock_wrlock(&s->lock);
    s->job = NULL;
    pthread_rwlock_unlock(&s->lock);
    job_free(job);
}

void
migrate_ctl_free(struct server *srv)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL || s->job != NULL)
        return;
    kv_free(s->migrated);
    kv_free(s->imported);
    pthread_rwlock_destroy(&s->lock);
    kv_free(s);
    srv->migrate = NULL;
}

/* How many views the calling thread holds with the read lock taken (acquire takes it only once
 * `active` is set, and `active` may become set between an acquire and its release). */
static _Thread_local int views_locked;

void
migrate_ctl_view_acquire(struct server *srv, struct cluster_migration_view *mv)
{
    memset(mv, 0, sizeof *mv);
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL || !atomic_load_explicit(&s->active, memory_order_acquire))
        return;
    pthread_rwlock_rdlock(&s->lock);
    views_locked++;
    mv->migrated = s->migrated;
    mv->migrated_count = s->nmigrated;
    if (s->mstate == MIGRATE_START) {
        mv->migrating = s->mrange;
        snprintf(mv->migrating_dst_id, sizeof mv->migrating_dst_id, "%s", s->mdst_id);
        snprintf(mv->migrating_addr, sizeof mv->migrating_addr, "%s", s->mdst_addr);
    }
    mv->forbidden = s->forbidden;
    if (s->istate == IMPORT_START)
        mv->importing = s->irange;
    mv->imported = s->imported;
    mv->imported_count = s->nimported;
}

void
migrate_ctl_view_release(struct server *srv, struct cluster_migration_view *mv)
{
    (void)mv;
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL || views_locked == 0)
        return;
    views_locked--;
    pthread_rwlock_unlock(&s->lock);
}

/* Whether t makes me a master serving every slot of r. */
static bool
owns_range(const struct cluster_topology *t, struct cluster_slot_range r)
{
    for (uint32_t slot = r.start; slot <= r.end; slot++)
        if (!cluster_owns_slot(t, (uint16_t)slot))
            return false;
    return true;
}

void
migrate_ctl_on_topology(struct server *srv, const struct cluster_topology *t)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return;
    pthread_rwlock_wrlock(&s->lock);
    if (s->job != NULL && !s->job->done && !owns_range(t, s->job->range))
        job_abort_locked(s->job, "the topology changed: this node no longer owns the slots");
    /* Migrated ranges the topology gave away: delete their keys and forget them. */
    size_t keep = 0;
    for (size_t i = 0; i < s->nmigrated; i++) {
        struct cluster_migrated_slots *m = &s->migrated[i];
        bool still_mine = owns_range(t, m->range);
        if (still_mine) {
            s->migrated[keep++] = *m;
            continue;
        }
        for (uint32_t slot = m->range.start; slot <= m->range.end; slot++) {
            if (cluster_owns_slot(t, (uint16_t)slot))
                continue;
            struct cluster_slot_range one = {true, (uint16_t)slot, (uint16_t)slot};
            struct kv_err err = {0};
            if (delete_range_keys(srv, one, &err) != KV_OK)
                LOG_WARN("could not delete the keys of migrated slot %u: %s", slot, err.msg);
        }
    }
    s->nmigrated = keep;
    /* Imported ranges: the topology now says who serves them (Kvrocks forgets them all). */
    s->nimported = 0;
    pthread_rwlock_unlock(&s->lock);
}

void
migrate_ctl_on_flush(struct server *srv)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return;
    pthread_rwlock_wrlock(&s->lock);
    if (s->job != NULL)
        job_abort_locked(s->job, "the database was flushed during migration");
    pthread_rwlock_unlock(&s->lock);
}

bool
migrate_ctl_migrating(struct server *srv)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return false;
    pthread_rwlock_rdlock(&s->lock);
    bool r = s->mstate == MIGRATE_START;
    pthread_rwlock_unlock(&s->lock);
    return r;
}

bool
migrate_ctl_importing(struct server *srv)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return false;
    pthread_rwlock_rdlock(&s->lock);
    bool r = s->istate == IMPORT_START;
    pthread_rwlock_unlock(&s->lock);
    return r;
}

void
migrate_ctl_info(struct server *srv, struct kv_buf *out)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return;
    char range[MIGRATE_RANGE_STR_MAX];
    pthread_rwlock_rdlock(&s->lock);
    if (s->mstate != MIGRATE_NONE) {
        kv_buf_printf(out, "migrating_slot(s): %s\r\n", migrate_range_str(&s->mrange, range));
        kv_buf_printf(out, "destination_node: %s\r\n", s->mdst_id);
        kv_buf_printf(out, "migrating_state: %s\r\n", migrate_state_name(s->mstate));
    }
    if (s->istate != IMPORT_NONE) {
        kv_buf_printf(out, "importing_slot(s): %s\r\n", migrate_range_str(&s->irange, range));
        kv_buf_printf(out, "import_state: %s\r\n", import_state_name(s->istate));
    }
    pthread_rwlock_unlock(&s->lock);
}

void
migrate_ctl_on_conn_close(struct conn *c)
{
    struct server *srv = c->srv;
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return;
    pthread_rwlock_wrlock(&s->lock);
    bool drop = s->istate == IMPORT_START && s->iconn_id == c->id;
    struct cluster_slot_range r = s->irange;
    if (drop) {
        /* The keys go before the state says error (under the lock, one range delete): whoever
         * sees import_state:error sees no partial key, and a new import of the range cannot
         * start between the two. */
        struct kv_err err = {0};
        LOG_WARN("the import link of slots %u-%u closed before the import ended: dropping "
                 "its keys",
                 r.start, r.end);
        if (delete_range_keys(srv, r, &err) != KV_OK)
            LOG_WARN("could not delete the imported keys: %s", err.msg);
        s->istate = IMPORT_ERROR;
        s->iconn_id = 0;
    }
    pthread_rwlock_unlock(&s->lock);
}

/* --- entry points for commands/cmd_migrate.c --- */

enum kv_code
migrate_ctl_start(struct server *srv, const struct migrate_ctl_request *req, struct conn *waiter,
                  int64_t wait_deadline, struct kv_err *err)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return kv_err_set(err, KV_ERR, "Cluster mode is not enabled");
    pthread_rwlock_wrlock(&s->lock);
    enum kv_code rc = KV_OK;
    if (s->stopped) {
        rc = kv_err_set(err, KV_ERR, "the server is shutting down");
        goto out;
    }
    if (s->job != NULL) {
        if (!s->job->done) {
            rc = kv_err_set(err, KV_ERR, MIGRATE_ERR_BUSY);
            goto out;
        }
        /* Finished: its thread is returning or gone; a short join. */
        if (kv_thread_join_timeout(s->job->thread, 1000) != KV_OK) {
            rc = kv_err_set(err, KV_ERR, MIGRATE_ERR_BUSY);
            goto out;
        }
        job_free(s->job);
        s->job = NULL;
    }
    for (size_t i = 0; i < s->nmigrated; i++) {
        if (migrate_range_overlaps(&s->migrated[i].range, &req->range)) {
            rc = kv_err_set(err, KV_ERR, MIGRATE_ERR_MIGRATED);
            goto out;
        }
    }
    struct migrate_job *job = kv_calloc(1, sizeof *job);
    job->srv = srv;
    job->st = srv->st;
    job->range = req->range;
    snprintf(job->dst_id, sizeof job->dst_id, "%s", req->dst_id);
    snprintf(job->dst_host, sizeof job->dst_host, "%s", req->dst_host);
    job->dst_port = req->dst_port;
    job->password = kv_strdup(req->password);
    job->opts = req->opts;
    job->connect_ms = req->connect_ms;
    job->io_ms = req->io_ms;
    job->abort_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (job->abort_fd < 0) {
        job_free(job);
        rc = kv_err_set(err, KV_ERR_IO, "eventfd failed");
        goto out;
    }
    if (waiter != NULL) {
        job->waiter.w = waiter->w;
        job->waiter.conn_id = waiter->id;
        job->waiter.deadline = wait_deadline;
        job->wait_due = wait_deadline;
    }
    s->mstate = MIGRATE_START;
    s->mrange = req->range;
    snprintf(s->mdst_id, sizeof s->mdst_id, "%s", req->dst_id);
    snprintf(s->mdst_addr, sizeof s->mdst_addr, "%s:%u", req->dst_host, req->dst_port);
    memset(&s->forbidden, 0, sizeof s->forbidden);
    atomic_store_explicit(&s->active, true, memory_order_release);
    s->job = job;
    rc = kv_thread_start(&job->thread, migrate_thread, job, "migrate", err);
    if (rc != KV_OK) {
        s->job = NULL;
        s->mstate = MIGRATE_FAIL;
        job_free(job);
    }
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

enum kv_code
migrate_ctl_import(struct server *srv, struct conn *c, struct cluster_slot_range r, int state,
                   struct kv_err *err)
{
    struct migrate_ctl_state *s = state_of(srv);
    if (s == NULL)
        return kv_err_set(err, KV_ERR, "Cluster mode is not enabled");
    enum kv_code rc = KV_OK;
    pthread_rwlock_wrlock(&s->lock);
    /* Start and failure both begin from an empty range on this side (Kvrocks), dropped under
     * the lock before the new state shows: the import link writes the range only after this
     * reply, so no key of the new import is lost, and whoever sees import_state:error sees no
     * partial key. */
    switch (state) {
    case 0:
        if (s->istate == IMPORT_START && s->iconn_id != c->id &&
            (s->irange.start != r.start || s->irange.end != r.end)) {
            rc = kv_err_set(err, KV_ERR, MIGRATE_ERR_IMPORT_BUSY);
            break;
        }
        rc = delete_range_keys(srv, r, err);
        if (rc != KV_OK)
            break;
        s->istate = IMPORT_START;
        s->irange = r;
        s->iconn_id = c->id;
        conn_set_flag(c, CONN_F_IMPORTING);
        atomic_store_explicit(&s->active, true, memory_order_release);
        break;
    case 1:
        if (s->istate != IMPORT_START || s->irange.start != r.start || s->irange.end != r.end) {
            rc = kv_err_set(err, KV_ERR, "No slot range %u-%u is being imported", r.start, r.end);
            break;
        }
        s->istate = IMPORT_SUCCESS;
        s->iconn_id = 0;
        s->imported = kv_realloc(s->imported, (s->nimported + 1) * sizeof *s->imported);
        s->imported[s->nimported++] = r;
        conn_clear_flag(c, CONN_F_IMPORTING);
        break;
    default:
        /* Failed or not, the import has ended in error. */
        rc = delete_range_keys(srv, r, err);
        if (s->istate == IMPORT_START && s->irange.start == r.start && s->irange.end == r.end) {
            s->istate = IMPORT_ERROR;
            s->iconn_id = 0;
        } else if (s->istate == IMPORT_NONE) {
            s->irange = r;
            s->istate = IMPORT_ERROR;
        }
        atomic_store_explicit(&s->active, true, memory_order_release);
        conn_clear_flag(c, CONN_F_IMPORTING);
        break;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}
