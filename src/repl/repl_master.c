/* SPDX-License-Identifier: Apache-2.0 */
#include "repl/repl_master.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/dict.h"
#include "common/dlist.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/netio.h"
#include "common/thread.h"
#include "storage/checkpoint.h"
#include "storage/wal.h"

/* Feeder batching: flush at this many bytes or batches; heartbeat after this much idle time. */
#define FEED_FLUSH_BYTES (16 * 1024)
#define FEED_FLUSH_BATCHES 16
#define FEED_HEARTBEAT_MS 1000
/* A checkpoint nobody fetches from is removed after this idle time. */
#define CHECKPOINT_IDLE_MS (30 * 1000)
#define FILE_CHUNK (256 * 1024)
/* Live WAL size below which a new checkpoint copies the WAL instead of flushing memtables. */
#define CHECKPOINT_FLUSH_WAL_BYTES (1u << 20)

enum job_kind { JOB_FEEDER, JOB_META, JOB_FILES };

struct job {
    struct repl_master *rm; /* borrowed */
    enum job_kind kind;
    struct kv_thread *thread; /* owned; joined by cron or at stop. Set by job_start after the
                                 thread may already run: the thread itself uses stop_fd. */
    int stop_fd;              /* the thread's stop fd, set by the thread at its start */
    struct dlist node;        /* in rm->jobs */
    atomic_bool done;         /* the thread function returned */
    int fd;                   /* owned by the thread while it runs */
    /* feeder */
    uint64_t id;
    char ip[64];
    int port;
    char addr[64];
    atomic_uint_fast64_t offset; /* last sequence sent */
    uint64_t start_seq;
    int wake_fd; /* eventfd: the WAL grew */
    atomic_bool wake_pending;
    /* file serving */
    char *names; /* owned */
    bool with_crc;
    /* config snapshot */
    int send_timeout_ms;
    int max_replication_mb;
};

struct repl_master {
    const struct config *cfg; /* borrowed */
    char *dir;                /* owned: data directory */
    char *checkpoint_dir;     /* owned: <dir>/checkpoint */
    /* NULL while the server swaps its DB (repl_master_detach_storage): no feeder or checkpoint
     * creator may start then. Changed under mu; meta threads read it under cp_mu. */
    _Atomic(struct storage *) st;

    pthread_mutex_t mu;    /* guards jobs (taken by every write while feeders exist: short) */
    pthread_mutex_t cp_mu; /* guards the checkpoint state (held while creating one: long) */
    struct dlist jobs;
    atomic_int nfeeders;
    bool stopping;            /* repl_master_stop was called: no job starts (under mu) */
    struct storage *listened; /* the last storage given our write listener (owner only) */

    bool cp_exists;
    uint64_t cp_seq;
    /* Bumped whenever the checkpoint is created or removed: a file job stores the checksum it
     * computed only if the checkpoint it read is still the current one. */
    uint64_t cp_gen;
    /* File name -> struct file_crc of the current checkpoint's files, computed by the first
     * job that sent each: replicas fetching the same checkpoint share them. Its files never
     * change while it exists (hard links to immutable SST files, or copies made for it). */
    struct dict *cp_crcs;
    int64_t cp_created_ms;     /* monotonic */
    int64_t cp_last_access_ms; /* monotonic */

    atomic_uint_fast64_t sync_full;
    atomic_uint_fast64_t sync_partial_ok;
    atomic_uint_fast64_t sync_partial_err;
    atomic_uint_fast64_t dropped_slow; /* feeders ended by replication-send-timeout-ms */
};

static void
on_write(void *arg)
{
    struct repl_master *rm = arg;
    if (atomic_load_explicit(&rm->nfeeders, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&rm->mu);
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &rm->jobs)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        if (j->kind != JOB_FEEDER || atomic_exchange(&j->wake_pending, true))
            continue;
        uint64_t one = 1;
        ssize_t n = write(j->wake_fd, &one, sizeof one);
        (void)n;
    }
    pthread_mutex_unlock(&rm->mu);
}

struct file_crc {
    uint64_t size;
    uint32_t crc;
};

/* Remove the checkpoint directory and forget its checksums. Under cp_mu. */
static enum kv_code
checkpoint_drop(struct repl_master *rm, struct kv_err *err)
{
    rm->cp_exists = false;
    rm->cp_gen++;
    dict_free(rm->cp_crcs);
    rm->cp_crcs = dict_new(kv_free, false);
    return checkpoint_remove_dir(rm->checkpoint_dir, err);
}

struct repl_master *
repl_master_new(struct storage *st, const struct config *cfg, const char *dir)
{
    struct repl_master *rm = kv_calloc(1, sizeof *rm);
    rm->cfg = cfg;
    rm->dir = kv_strdup(dir);
    struct kv_buf p = KV_BUF_INIT;
    kv_buf_printf(&p, "%s/checkpoint", dir);
    rm->checkpoint_dir = kv_buf_steal(&p, NULL);
    atomic_store(&rm->st, st);
    pthread_mutex_init(&rm->mu, NULL);
    pthread_mutex_init(&rm->cp_mu, NULL);
    dlist_init(&rm->jobs);
    /* A checkpoint left by an earlier process is stale: its sequence is unknown. */
    struct kv_err err;
    if (checkpoint_drop(rm, &err) != KV_OK)
        LOG_WARN("cannot remove old checkpoint: %s", err.msg);
    repl_master_listen(rm, st);
    return rm;
}

static void
job_free(struct job *j)
{
    if (j->wake_fd >= 0)
        close(j->wake_fd);
    kv_free(j->names);
    kv_free(j);
}

#define KIND_BIT(k) (1u << (k))
#define ALL_KINDS (KIND_BIT(JOB_FEEDER) | KIND_BIT(JOB_META) | KIND_BIT(JOB_FILES))

/* Join and free finished jobs; with `all`, first ask the jobs of the kinds in `kinds` to stop
 * and wait for them until deadline_ms. Jobs still running past the deadline stay listed.
 * Returns the number of feeders joined; *left (may be NULL) receives how many jobs of those
 * kinds are still running. */
static int
reap(struct repl_master *rm, bool all, unsigned kinds, int64_t deadline_ms, int *left)
{
    struct dlist taken;
    dlist_init(&taken);
    pthread_mutex_lock(&rm->mu);
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &rm->jobs)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        if (!(kinds & KIND_BIT(j->kind)))
            continue;
        if (!all && !atomic_load(&j->done))
            continue;
        if (all)
            kv_thread_request_stop(j->thread);
        dlist_remove(&j->node);
        dlist_insert_tail(&taken, &j->node);
    }
    pthread_mutex_unlock(&rm->mu);
    /* Join outside the lock: a thread's last steps may need it. */
    int stopped = 0;
    dlist_foreach_safe(pos, tmp, &taken)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        int64_t wait_ms = deadline_ms - clock_mono_ms();
        if (atomic_load(&j->done) || wait_ms < 0)
            wait_ms = atomic_load(&j->done) ? 1000 : 0;
        if (kv_thread_join_timeout(j->thread, wait_ms) != KV_OK)
            continue;
        dlist_remove(&j->node);
        if (j->kind == JOB_FEEDER) {
            atomic_fetch_sub(&rm->nfeeders, 1);
            stopped++;
        }
        job_free(j);
    }
    int remaining = 0;
    pthread_mutex_lock(&rm->mu);
    dlist_foreach_safe(pos, tmp, &taken)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        dlist_remove(&j->node);
        dlist_insert_tail(&rm->jobs, &j->node);
        remaining++;
    }
    pthread_mutex_unlock(&rm->mu);
    if (left != NULL)
        *left = remaining;
    return stopped;
}

enum kv_code
repl_master_stop(struct repl_master *rm, int64_t deadline_ms)
{
    pthread_mutex_lock(&rm->mu);
    rm->stopping = true;
    pthread_mutex_unlock(&rm->mu);
    int left = 0;
    reap(rm, true, ALL_KINDS, deadline_ms, &left);
    if (left > 0)
        LOG_WARN("%d replication thread(s) of the master side still running", left);
    return left == 0 ? KV_OK : KV_ERR_TIMEOUT;
}

void
repl_master_free(struct repl_master *rm)
{
    if (rm == NULL)
        return;
    pthread_mutex_lock(&rm->mu);
    bool leftover = !dlist_empty(&rm->jobs);
    pthread_mutex_unlock(&rm->mu);
    if (leftover) {
        LOG_WARN("replication threads still running at shutdown; leaving them");
        return;
    }
    if (rm->listened != NULL)
        storage_set_write_listener(rm->listened, NULL, NULL);
    struct kv_err err;
    checkpoint_remove_dir(rm->checkpoint_dir, &err);
    dict_free(rm->cp_crcs);
    pthread_mutex_destroy(&rm->mu);
    pthread_mutex_destroy(&rm->cp_mu);
    kv_free(rm->dir);
    kv_free(rm->checkpoint_dir);
    kv_free(rm);
}

void
repl_master_listen(struct repl_master *rm, struct storage *st)
{
    if (st == NULL || st == rm->listened)
        return;
    storage_set_write_listener(st, on_write, rm);
    rm->listened = st;
}

enum kv_code
repl_master_detach_storage(struct repl_master *rm, int64_t deadline_ms)
{
    /* The old storage keeps its write listener: writers may still be running, and on_write
     * finds no feeder to wake. */
    pthread_mutex_lock(&rm->mu);
    atomic_store(&rm->st, NULL);
    pthread_mutex_unlock(&rm->mu);
    int left = 0;
    int stopped = reap(rm, true, KIND_BIT(JOB_FEEDER) | KIND_BIT(JOB_META), deadline_ms, &left);
    if (stopped > 0)
        LOG_INFO("stopped %d replica feeder(s): the database is being replaced", stopped);
    pthread_mutex_lock(&rm->cp_mu);
    struct kv_err err;
    if (checkpoint_drop(rm, &err) != KV_OK)
        LOG_WARN("cannot remove the checkpoint: %s", err.msg);
    pthread_mutex_unlock(&rm->cp_mu);
    return left == 0 ? KV_OK : KV_ERR_TIMEOUT;
}

void
repl_master_attach_storage(struct repl_master *rm, struct storage *st)
{
    repl_master_listen(rm, st);
    pthread_mutex_lock(&rm->mu);
    atomic_store(&rm->st, st);
    pthread_mutex_unlock(&rm->mu);
}

enum kv_code
repl_master_psync_check(struct repl_master *rm, uint64_t seq, struct kv_err *err)
{
    struct storage *st = atomic_load(&rm->st);
    if (st == NULL)
        return kv_err_set(err, KV_ERR_LOADING, "the database is being replaced");
    struct kv_err why;
    kv_err_clear(&why);
    enum kv_code rc = wal_can_resume(st, seq, &why);
    uint64_t latest = storage_latest_seq(st);
    int64_t max_lag = rm->cfg->max_replication_lag;
    if (rc == KV_OK && max_lag > 0 && seq <= latest && latest - seq + 1 > (uint64_t)max_lag) {
        rc = KV_ERR_WAL_GAP;
        kv_err_set(&why, KV_ERR_WAL_GAP, "lag %" PRIu64 " exceeds max-replication-lag",
                   latest - seq + 1);
    }
    if (rc != KV_OK) {
        atomic_fetch_add(&rm->sync_partial_err, 1);
        LOG_INFO("PSYNC %" PRIu64 " refused (latest %" PRIu64 "): %s", seq, latest, why.msg);
        return kv_err_set(err, KV_ERR_WAL_GAP, "sequence out of range, please use fullsync");
    }
    atomic_fetch_add(&rm->sync_partial_ok, 1);
    return KV_OK;
}

/* Write all of p. replication-send-timeout-ms bounds each SEND_STEP bytes rather than the
 * whole buffer, so it measures a replica that stopped reading, not a large buffer. */
#define SEND_STEP (64 * 1024)
static enum kv_code
send_all(struct job *j, const void *p, size_t n, struct kv_err *err)
{
    const char *c = p;
    for (size_t off = 0; off < n;) {
        size_t k = n - off > SEND_STEP ? SEND_STEP : n - off;
        enum kv_code rc = netio_write_all(j->fd, c + off, k, clock_mono_ms() + j->send_timeout_ms,
                                          j->stop_fd, err);
        if (rc != KV_OK)
            return rc;
        off += k;
    }
    return KV_OK;
}

static void
make_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
append_bulk(struct kv_buf *out, struct kv_slice data)
{
    kv_buf_printf(out, "$%zu\r\n", data.len);
    kv_buf_append_slice(out, data);
    kv_buf_append(out, "\r\n", 2);
}

/* The replica sends nothing after PSYNC; a readable socket means EOF or garbage to discard.
 * Returns false when the peer is gone. */
static bool
peer_alive(int fd)
{
    char tmp[512];
    for (;;) {
        ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            return false;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
}

static void
feeder_main(struct kv_thread *self, void *arg)
{
    struct job *j = arg;
    struct repl_master *rm = j->rm;
    j->stop_fd = kv_thread_stop_fd(self);
    struct kv_err err;
    kv_err_clear(&err);
    struct kv_buf out = KV_BUF_INIT;
    struct wal_iter *it = NULL;
    uint64_t next = j->start_seq;
    int stop_fd = kv_thread_stop_fd(self);
    const char *why = "stopped";
    make_nonblocking(j->fd);
    LOG_INFO("replica %s (port %d) attached, streaming from sequence %" PRIu64, j->addr, j->port,
             next);
    if (send_all(j, "+OK\r\n", 5, &err) != KV_OK) {
        why = err.msg;
        goto out;
    }
    int64_t last_send = clock_mono_ms();
    while (!kv_thread_should_stop(self)) {
        atomic_store(&j->wake_pending, false);
        uint64_t drain;
        ssize_t dn = read(j->wake_fd, &drain, sizeof drain);
        (void)dn;
        struct storage *st = atomic_load(&rm->st);
        if (st == NULL) {
            why = "the database is being replaced";
            goto out;
        }
        int batches = 0;
        if (it == NULL && storage_latest_seq(st) >= next) {
            if (wal_iter_open(st, next, &it, &err) != KV_OK) {
                why = err.msg;
                goto out;
            }
        }
        while (it != NULL) {
            uint64_t seq;
            uint32_t count;
            struct kv_slice rep;
            enum kv_code rc = wal_iter_batch(it, &seq, &count, &rep, &err);
            if (rc == KV_NOTFOUND)
                break;
            if (rc != KV_OK) {
                why = err.msg;
                goto out;
            }
            append_bulk(&out, rep);
            next = seq + count;
            wal_iter_next(it);
            batches++;
            if (out.len >= FEED_FLUSH_BYTES || batches >= FEED_FLUSH_BATCHES) {
                if (send_all(j, out.ptr, out.len, &err) != KV_OK) {
                    why = err.msg;
                    goto out;
                }
                kv_buf_clear(&out);
                atomic_store(&j->offset, next - 1);
                last_send = clock_mono_ms();
                batches = 0;
            }
        }
        /* Never hold back the tail: what was read goes out now. */
        if (out.len > 0) {
            if (send_all(j, out.ptr, out.len, &err) != KV_OK) {
                why = err.msg;
                goto out;
            }
            kv_buf_clear(&out);
            atomic_store(&j->offset, next - 1);
            last_send = clock_mono_ms();
        }
        if (storage_latest_seq(st) >= next)
            continue;
        int64_t now = clock_mono_ms();
        if (now - last_send >= FEED_HEARTBEAT_MS) {
            static const char ping[] = "$4\r\nping\r\n";
            if (send_all(j, ping, sizeof ping - 1, &err) != KV_OK) {
                why = err.msg;
                goto out;
            }
            last_send = now = clock_mono_ms();
        }
        struct pollfd fds[3] = {{j->wake_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}, {j->fd, POLLIN, 0}};
        int timeout = (int)(FEED_HEARTBEAT_MS - (now - last_send));
        if (timeout < 1)
            timeout = 1;
        if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
            why = strerror(errno);
            goto out;
        }
        if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) && !peer_alive(j->fd)) {
            why = "replica closed the connection";
            goto out;
        }
    }
out:
    if (err.code == KV_ERR_TIMEOUT) {
        atomic_fetch_add(&rm->dropped_slow, 1);
        LOG_WARN("replica %s (port %d) stopped reading for %d ms: dropping it", j->addr, j->port,
                 j->send_timeout_ms);
    }
    LOG_INFO("replica %s detached at sequence %" PRIu64 ": %s", j->addr, next - 1, why);
    wal_iter_free(it);
    kv_buf_deinit(&out);
    close(j->fd);
    j->fd = -1;
    atomic_store(&j->done, true);
}

static struct job *
job_new(struct repl_master *rm, enum job_kind kind, int fd)
{
    struct job *j = kv_calloc(1, sizeof *j);
    j->rm = rm;
    j->kind = kind;
    j->fd = fd;
    j->wake_fd = -1;
    j->send_timeout_ms = rm->cfg->replication_send_timeout_ms;
    j->max_replication_mb = rm->cfg->max_replication_mb;
    dlist_init(&j->node);
    return j;
}

/* Register and start a job's thread; on failure close its fd and free it. */
static void
job_start(struct job *j, kv_thread_fn fn, const char *name)
{
    struct repl_master *rm = j->rm;
    struct kv_err err;
    pthread_mutex_lock(&rm->mu);
    if (rm->stopping || (j->kind != JOB_FILES && atomic_load(&rm->st) == NULL)) {
        pthread_mutex_unlock(&rm->mu);
        LOG_INFO("refusing a replica (%s): %s", name,
                 rm->stopping ? "shutting down" : "the database is being replaced");
        if (j->fd >= 0)
            close(j->fd);
        job_free(j);
        return;
    }
    if (kv_thread_start(&j->thread, fn, j, name, &err) != KV_OK) {
        pthread_mutex_unlock(&rm->mu);
        LOG_ERROR("cannot start %s thread: %s", name, err.msg);
        if (j->fd >= 0)
            close(j->fd);
        job_free(j);
        return;
    }
    dlist_insert_tail(&rm->jobs, &j->node);
    if (j->kind == JOB_FEEDER)
        atomic_fetch_add(&rm->nfeeders, 1);
    pthread_mutex_unlock(&rm->mu);
}

void
repl_master_start_feeder(struct repl_master *rm, int fd, uint64_t id, uint64_t seq, const char *ip,
                         int port, const char *addr)
{
    struct job *j = job_new(rm, JOB_FEEDER, fd);
    j->id = id;
    j->start_seq = seq;
    atomic_store(&j->offset, seq > 0 ? seq - 1 : 0);
    snprintf(j->ip, sizeof j->ip, "%s", ip ? ip : "");
    snprintf(j->addr, sizeof j->addr, "%s", addr ? addr : "");
    j->port = port;
    j->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (j->wake_fd < 0) {
        LOG_ERROR("eventfd: %s", strerror(errno));
        close(fd);
        job_free(j);
        return;
    }
    job_start(j, feeder_main, "repl-feeder");
}

/* File-serving threads still sending (finished ones waiting for the cron's join don't count). */
static int
running_file_jobs(struct repl_master *rm)
{
    int n = 0;
    pthread_mutex_lock(&rm->mu);
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &rm->jobs)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        if (j->kind == JOB_FILES && !atomic_load(&j->done))
            n++;
    }
    pthread_mutex_unlock(&rm->mu);
    return n;
}

/* The checkpoint can serve a new full sync if a replica that loads it can continue from the
 * WAL, and it is younger than the reuse window (clamp(wal_ttl / 2, 10 min, 60 min)). */
static bool
checkpoint_reusable(struct repl_master *rm, struct storage *st)
{
    if (!rm->cp_exists)
        return false;
    int64_t window_ms = (int64_t)rm->cfg->rocksdb_wal_ttl_seconds * 1000 / 2;
    if (window_ms < 10 * 60 * 1000)
        window_ms = 10 * 60 * 1000;
    if (window_ms > 60 * 60 * 1000)
        window_ms = 60 * 60 * 1000;
    if (clock_mono_ms() - rm->cp_created_ms > window_ms)
        return false;
    struct kv_err err;
    return wal_can_resume(st, rm->cp_seq + 1, &err) == KV_OK ||
           storage_latest_seq(st) == rm->cp_seq;
}

static void
meta_main(struct kv_thread *self, void *arg)
{
    struct job *j = arg;
    struct repl_master *rm = j->rm;
    j->stop_fd = kv_thread_stop_fd(self);
    struct kv_err err;
    kv_err_clear(&err);
    struct kv_buf reply = KV_BUF_INIT;
    make_nonblocking(j->fd);
    pthread_mutex_lock(&rm->cp_mu);
    /* Read under cp_mu: repl_master_detach_storage waits for this thread before the storage
     * closes, and never while we hold cp_mu. */
    struct storage *st = atomic_load(&rm->st);
    enum kv_code rc = KV_OK;
    if (st == NULL) {
        rc = kv_err_set(&err, KV_ERR_LOADING, "the database is being replaced");
    } else if (checkpoint_reusable(rm, st)) {
        LOG_INFO("Using current existing checkpoint (sequence %" PRIu64 ")", rm->cp_seq);
    } else if (rm->cp_exists && running_file_jobs(rm) > 0) {
        /* Another replica is still fetching the old checkpoint: don't pull it away. */
        rc = kv_err_set(&err, KV_ERR, "the current checkpoint is in use and too old");
    } else {
        checkpoint_drop(rm, &err);
        /* Flush the memtables unless the live WAL is tiny. Kvrocks flushes only past
         * write_buffer_size, but a replica then replays the copied WAL when it opens the
         * checkpoint, and replaying is ~8x slower than the flush (1 GiB bench: 0.8 s for a
         * 24 MiB WAL against 0.1 s to flush it): flushing here is the cheaper place. */
        uint64_t flush_bytes = CHECKPOINT_FLUSH_WAL_BYTES;
        rc = checkpoint_create(st, rm->checkpoint_dir, flush_bytes, &rm->cp_seq, &err);
        if (rc == KV_OK) {
            rm->cp_exists = true;
            rm->cp_created_ms = clock_mono_ms();
            LOG_INFO("created checkpoint %s at sequence %" PRIu64, rm->checkpoint_dir, rm->cp_seq);
        }
    }
    if (rc == KV_OK) {
        rm->cp_last_access_ms = clock_mono_ms();
        rc = checkpoint_list_files(rm->checkpoint_dir, &reply, &err);
    }
    pthread_mutex_unlock(&rm->cp_mu);
    if (rc == KV_OK) {
        atomic_fetch_add(&rm->sync_full, 1);
        kv_buf_append(&reply, "\r\n", 2);
    } else {
        LOG_WARN("full sync: cannot provide a checkpoint: %s", err.msg);
        kv_buf_set(&reply, "-can't create db checkpoint\r\n", 29);
    }
    if (send_all(j, reply.ptr, reply.len, &err) != KV_OK)
        LOG_WARN("full sync: cannot send the file list: %s", err.msg);
    kv_buf_deinit(&reply);
    close(j->fd);
    j->fd = -1;
    atomic_store(&j->done, true);
}

void
repl_master_serve_meta(struct repl_master *rm, int fd)
{
    job_start(job_new(rm, JOB_META, fd), meta_main, "repl-meta");
}

/* This file job's share of max-replication-mb, in bytes per second (0: no limit). */
static uint64_t
job_bytes_per_s(struct job *j)
{
    int limit = j->max_replication_mb;
    if (limit <= 0)
        return 0;
    int share = running_file_jobs(j->rm);
    uint64_t rate = ((uint64_t)limit << 20) / (uint64_t)(share > 0 ? share : 1);
    return rate > 0 ? rate : 1;
}

/* Bytes sent between two throttle pauses: about 50 ms worth at the job's rate (at least 4 KiB),
 * so a throttled stream never goes quiet for long. With FILE_CHUNK steps, a low rate split
 * across many fetchers (8 jobs sharing 1 MB/s: 256 KiB every 2 s) left the replica without a
 * byte for longer than its receive timeout. */
static size_t
throttle_step(struct job *j)
{
    uint64_t rate = job_bytes_per_s(j);
    if (rate == 0)
        return FILE_CHUNK;
    uint64_t step = rate / 20;
    if (step < 4096)
        step = 4096;
    return step < FILE_CHUNK ? (size_t)step : FILE_CHUNK;
}

/* Send one checkpoint file: "<size>\r\n", the bytes, and with crc "<hex>\r\n". Sleeps as needed
 * to stay under the per-thread share of max-replication-mb. */
static enum kv_code
send_file(struct job *j, const char *name, struct kv_err *err)
{
    struct repl_master *rm = j->rm;
    if (strchr(name, '/') != NULL || strcmp(name, "..") == 0 || name[0] == '\0')
        return kv_err_set(err, KV_ERR_INVALID, "bad file name '%s'", name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", rm->checkpoint_dir, name);
    /* Under cp_mu the directory holds the files of checkpoint generation gen. */
    pthread_mutex_lock(&rm->cp_mu);
    rm->cp_last_access_ms = clock_mono_ms();
    uint64_t gen = rm->cp_gen;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int open_errno = errno;
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) != 0) {
        open_errno = errno;
        close(fd);
        fd = -1;
    }
    bool known = false; /* the checksum is known from an earlier job */
    uint32_t crc = 0;
    if (fd >= 0 && j->with_crc) {
        const struct file_crc *fc = dict_get(rm->cp_crcs, name, strlen(name));
        if (fc != NULL && fc->size == (uint64_t)sb.st_size) {
            known = true;
            crc = fc->crc;
        }
    }
    pthread_mutex_unlock(&rm->cp_mu);
    if (fd < 0)
        return kv_err_set(err, KV_ERR_IO, "%s: %s", path, strerror(open_errno));
    char head[64];
    int hn = snprintf(head, sizeof head, "%lld\r\n", (long long)sb.st_size);
    enum kv_code rc = send_all(j, head, (size_t)hn, err);
    /* The bytes go out with sendfile (no copy through this thread); the checksum, unless an
     * earlier job sent this file of this checkpoint, reads them through a read-only mapping of
     * the same page-cache pages. Checkpoint files are immutable (hard links to SST files, or
     * copies made for this checkpoint), so the mapping cannot shrink under us. */
    uint64_t size = (uint64_t)sb.st_size;
    const uint8_t *map = NULL;
    if (rc == KV_OK && j->with_crc && !known && size > 0) {
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            rc = kv_err_set(err, KV_ERR_IO, "mmap %s: %s", path, strerror(errno));
        } else {
            map = m;
            (void)madvise(m, (size_t)size, MADV_SEQUENTIAL);
        }
    }
    int64_t started = clock_mono_ms();
    uint64_t sent = 0;
    while (rc == KV_OK && sent < size) {
        size_t n = size - sent > FILE_CHUNK ? FILE_CHUNK : (size_t)(size - sent);
        size_t step = throttle_step(j);
        if (n > step)
            n = step;
        if (map != NULL)
            crc = crc32c_update(crc, map + sent, n);
        /* A fresh deadline per SEND_STEP, as send_all: it measures a replica that stopped
         * reading, not the size of the file. */
        for (size_t off = 0; rc == KV_OK && off < n; off += SEND_STEP) {
            size_t k = n - off > SEND_STEP ? SEND_STEP : n - off;
            rc = netio_sendfile_all(j->fd, fd, sent + off, k, clock_mono_ms() + j->send_timeout_ms,
                                    j->stop_fd, err);
        }
        sent += n;
        if (rc == KV_OK && j->max_replication_mb > 0) {
            uint64_t bytes_per_s = job_bytes_per_s(j);
            int64_t due_ms = (int64_t)(sent * 1000 / (bytes_per_s ? bytes_per_s : 1));
            int64_t wait = due_ms - (clock_mono_ms() - started);
            if (wait > 0) {
                struct pollfd pfd = {j->stop_fd, POLLIN, 0};
                if (poll(&pfd, 1, (int)wait) > 0)
                    rc = kv_err_set(err, KV_ERR_STOPPED, "stopped");
            }
        }
    }
    if (map != NULL)
        munmap((void *)map, (size_t)size);
    close(fd);
    if (rc == KV_OK && j->with_crc && !known) {
        struct file_crc *fc = kv_malloc(sizeof *fc);
        *fc = (struct file_crc){.size = size, .crc = crc};
        pthread_mutex_lock(&rm->cp_mu);
        if (rm->cp_gen == gen)
            dict_set(rm->cp_crcs, name, strlen(name), fc);
        else
            kv_free(fc);
        pthread_mutex_unlock(&rm->cp_mu);
    }
    if (rc == KV_OK && j->with_crc) {
        hn = snprintf(head, sizeof head, "%08x\r\n", crc);
        rc = send_all(j, head, (size_t)hn, err);
    }
    return rc;
}

static void
files_main(struct kv_thread *self, void *arg)
{
    struct job *j = arg;
    j->stop_fd = kv_thread_stop_fd(self);
    struct kv_err err;
    kv_err_clear(&err);
    make_nonblocking(j->fd);
    char *save = NULL;
    size_t count = 0;
    for (char *name = strtok_r(j->names, ",", &save); name != NULL;
         name = strtok_r(NULL, ",", &save)) {
        if (send_file(j, name, &err) != KV_OK) {
            LOG_WARN("full sync: stopped serving files: %s", err.msg);
            break;
        }
        count++;
    }
    LOG_INFO("full sync: served %zu file(s)", count);
    close(j->fd);
    j->fd = -1;
    atomic_store(&j->done, true);
}

void
repl_master_serve_files(struct repl_master *rm, int fd, const char *names, bool with_crc)
{
    struct job *j = job_new(rm, JOB_FILES, fd);
    j->names = kv_strdup(names);
    j->with_crc = with_crc;
    job_start(j, files_main, "repl-files");
}

size_t
repl_master_replicas(struct repl_master *rm, struct repl_replica_info *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&rm->mu);
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &rm->jobs)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        if (j->kind != JOB_FEEDER || atomic_load(&j->done) || n >= cap)
            continue;
        struct repl_replica_info *r = &out[n++];
        r->id = j->id;
        snprintf(r->ip, sizeof r->ip, "%s", j->ip);
        snprintf(r->addr, sizeof r->addr, "%s", j->addr);
        r->port = j->port;
        r->offset = atomic_load(&j->offset);
    }
    pthread_mutex_unlock(&rm->mu);
    return n;
}

size_t
repl_master_replica_count(struct repl_master *rm)
{
    size_t n = 0;
    pthread_mutex_lock(&rm->mu);
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &rm->jobs)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        if (j->kind == JOB_FEEDER && !atomic_load(&j->done))
            n++;
    }
    pthread_mutex_unlock(&rm->mu);
    return n;
}

int
repl_master_kill_feeders(struct repl_master *rm, uint64_t id, const char *addr)
{
    int n = 0;
    pthread_mutex_lock(&rm->mu);
    struct dlist *pos, *tmp;
    dlist_foreach_safe(pos, tmp, &rm->jobs)
    {
        struct job *j = dlist_entry(pos, struct job, node);
        if (j->kind != JOB_FEEDER || atomic_load(&j->done) || kv_thread_should_stop(j->thread))
            continue;
        if (id != 0 && j->id != id)
            continue;
        if (addr != NULL && strcmp(addr, j->addr) != 0)
            continue;
        kv_thread_request_stop(j->thread);
        LOG_INFO("replica %s (port %d) killed by CLIENT KILL", j->addr, j->port);
        n++;
    }
    pthread_mutex_unlock(&rm->mu);
    return n;
}

void
repl_master_cron(struct repl_master *rm)
{
    reap(rm, false, ALL_KINDS, 0, NULL);
    pthread_mutex_lock(&rm->cp_mu);
    if (rm->cp_exists && running_file_jobs(rm) == 0 &&
        clock_mono_ms() - rm->cp_last_access_ms > CHECKPOINT_IDLE_MS) {
        struct kv_err err;
        if (checkpoint_drop(rm, &err) == KV_OK) {
            LOG_INFO("removed idle checkpoint %s", rm->checkpoint_dir);
        }
    }
    pthread_mutex_unlock(&rm->cp_mu);
}

uint64_t
repl_master_sync_full(const struct repl_master *rm)
{
    return atomic_load(&((struct repl_master *)rm)->sync_full);
}

uint64_t
repl_master_sync_partial_ok(const struct repl_master *rm)
{
    return atomic_load(&((struct repl_master *)rm)->sync_partial_ok);
}

uint64_t
repl_master_sync_partial_err(const struct repl_master *rm)
{
    return atomic_load(&((struct repl_master *)rm)->sync_partial_err);
}

uint64_t
repl_master_dropped_slow(const struct repl_master *rm)
{
    return atomic_load(&((struct repl_master *)rm)->dropped_slow);
}

void
repl_master_reset_stats(struct repl_master *rm)
{
    atomic_store(&rm->dropped_slow, 0);
    atomic_store(&rm->sync_full, 0);
    atomic_store(&rm->sync_partial_ok, 0);
    atomic_store(&rm->sync_partial_err, 0);
}
