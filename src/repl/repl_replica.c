/* SPDX-License-Identifier: Apache-2.0 */
#include "repl/repl_replica.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/netio.h"
#include "common/strconv.h"
#include "common/thread.h"
#include "storage/checkpoint.h"
#include "storage/wal.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define MAX_FETCHERS 4
#define MAX_BATCH_BYTES (1024ull << 20)
#define READ_CHUNK (1u << 20)
/* Bytes of a fetched file between two requests to start writing it back. */
#define WRITEBACK_STEP (8u << 20)
/* Most bytes one splice moves from a fetcher's socket to its file (also its pipe's size). */
#define SPLICE_CHUNK (1u << 20)

struct repl_replica {
    /* options (owned copies) */
    char *host;
    int port;
    char *masterauth;
    char *db_name;
    int listening_port;
    char *announce_ip;
    char *dir;
    char *sync_dir; /* <dir>/sync_checkpoint */
    int connect_timeout_ms;
    int recv_timeout_ms;
    int send_timeout_ms;
    bool empty_db_before_fullsync;
    struct repl_replica_hooks hooks;

    struct kv_thread *thread; /* owned */

    pthread_mutex_t mu; /* guards status */
    struct repl_replica_status status;
};

/* One connection to the master with its read-ahead buffer. */
struct link {
    struct repl_replica *rr;
    int fd;
    int stop_fd;
    struct netio_reader *rd; /* owned */
};

const char *
repl_state_name(enum repl_state s)
{
    switch (s) {
    case REPL_STATE_CONNECT:
        return "connect";
    case REPL_STATE_AUTH:
        return "auth";
    case REPL_STATE_DB_NAME:
        return "db_name";
    case REPL_STATE_REPLCONF:
        return "replconf";
    case REPL_STATE_PSYNC:
        return "psync";
    case REPL_STATE_FETCH_META:
        return "fetch_meta";
    case REPL_STATE_FETCH_FILES:
        return "fetch_files";
    case REPL_STATE_RESTORE:
        return "restore";
    case REPL_STATE_STREAMING:
        return "streaming";
    case REPL_STATE_WAIT:
        return "wait";
    }
    return "unknown";
}

static void
set_state(struct repl_replica *rr, enum repl_state s, const char *why)
{
    pthread_mutex_lock(&rr->mu);
    enum repl_state old = rr->status.state;
    rr->status.state = s;
    rr->status.link_up = s == REPL_STATE_STREAMING;
    rr->status.sync_in_progress =
        s == REPL_STATE_FETCH_META || s == REPL_STATE_FETCH_FILES || s == REPL_STATE_RESTORE;
    pthread_mutex_unlock(&rr->mu);
    if (old != s)
        LOG_INFO("replication %s:%d: %s -> %s%s%s", rr->host, rr->port, repl_state_name(old),
                 repl_state_name(s), why ? ": " : "", why ? why : "");
}

static void
touch_io(struct repl_replica *rr)
{
    pthread_mutex_lock(&rr->mu);
    rr->status.last_io_ms = clock_mono_ms();
    pthread_mutex_unlock(&rr->mu);
}

static void
link_close(struct link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    kv_free(l->rd);
    l->rd = NULL;
}

static enum kv_code
link_send(struct link *l, int argc, const char *const *argv, struct kv_err *err)
{
    struct kv_buf b = KV_BUF_INIT;
    kv_buf_printf(&b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        kv_buf_printf(&b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    enum kv_code rc = netio_write_all(l->fd, b.ptr, b.len, clock_mono_ms() + l->rr->send_timeout_ms,
                                      l->stop_fd, err);
    kv_buf_deinit(&b);
    return rc;
}

static enum kv_code
link_read_line(struct link *l, struct kv_buf *line, size_t max, struct kv_err *err)
{
    enum kv_code rc = netio_read_line(l->rd, line, max, clock_mono_ms() + l->rr->recv_timeout_ms,
                                      l->stop_fd, err);
    if (rc == KV_OK)
        touch_io(l->rr);
    return rc;
}

/* Read exactly n bytes. The receive timeout counts from the last byte received, not from the
 * start: a large batch or file over a slow link is fine, a link that goes silent is not. */
static enum kv_code
link_read_n(struct link *l, void *dst, size_t n, struct kv_err *err)
{
    char *d = dst;
    size_t got = 0;
    while (got < n) {
        size_t k = 0;
        enum kv_code rc = netio_reader_read_some(
            l->rd, d + got, n - got, &k, clock_mono_ms() + l->rr->recv_timeout_ms, l->stop_fd, err);
        if (rc != KV_OK)
            return rc;
        got += k;
    }
    return KV_OK;
}

/* Connect and authenticate a link. */
static enum kv_code
link_open(struct repl_replica *rr, int stop_fd, struct link *l, struct kv_err *err)
{
    l->rr = rr;
    l->fd = -1;
    l->stop_fd = stop_fd;
    l->rd = NULL;
    enum kv_code rc = netio_connect(rr->host, (uint16_t)rr->port,
                                    clock_mono_ms() + rr->connect_timeout_ms, stop_fd, &l->fd, err);
    if (rc != KV_OK)
        return rc;
    l->rd = kv_malloc(sizeof *l->rd);
    netio_reader_init(l->rd, l->fd);
    if (rr->masterauth[0] != '\0') {
        const char *argv[] = {"AUTH", rr->masterauth};
        struct kv_buf line = KV_BUF_INIT;
        rc = link_send(l, 2, argv, err);
        if (rc == KV_OK)
            rc = link_read_line(l, &line, 1024, err);
        if (rc == KV_OK && strcmp(line.ptr, "+OK") != 0)
            rc = kv_err_set(err, KV_ERR, "AUTH refused by the master: %s", line.ptr);
        kv_buf_deinit(&line);
    }
    if (rc != KV_OK)
        link_close(l);
    return rc;
}

/* Sleep up to ms, returning false when a stop was requested. */
static bool
wait_or_stop(int stop_fd, int64_t ms)
{
    struct pollfd p = {stop_fd, POLLIN, 0};
    int64_t deadline = clock_mono_ms() + ms;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return true;
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return false;
        if (r < 0 && errno != EINTR)
            return true;
    }
}

/* --- streaming --- */

/* Apply one batch from the master. Its first sequence must be the one right after ours:
 * RocksDB numbers a raw batch from its own latest sequence whatever the header says, so a batch
 * that does not follow on (a gap or a repeat) would be applied under the wrong numbers and the
 * replica would diverge silently. */
static enum kv_code
apply_batch(struct repl_replica *rr, struct kv_slice payload, struct kv_err *err)
{
    struct storage *st = rr->hooks.storage(rr->hooks.arg);
    uint64_t seq = 0;
    uint32_t count = 0;
    if (!wal_batch_header(payload, &seq, &count))
        return kv_err_set(err, KV_ERR_PROTOCOL, "batch of %zu bytes is too short", payload.len);
    uint64_t expected = storage_latest_seq(st) + 1;
    if (seq != expected)
        return kv_err_set(err, KV_ERR_PROTOCOL,
                          "batch at sequence %" PRIu64 " does not follow ours (expected %" PRIu64
                          ")",
                          seq, expected);
    return storage_write_raw(st, payload, &count, err);
}

static enum kv_code
stream_batches(struct repl_replica *rr, struct link *l, struct kv_err *err)
{
    struct kv_buf line = KV_BUF_INIT, data = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    uint64_t applied = 0;
    for (;;) {
        rc = link_read_line(l, &line, 64, err);
        if (rc != KV_OK)
            break;
        uint64_t len = 0;
        if (line.len < 2 || line.ptr[0] != '$' ||
            strconv_to_uint64(line.ptr + 1, line.len - 1, &len) != KV_OK || len == 0 ||
            len > MAX_BATCH_BYTES) {
            rc = kv_err_set(err, KV_ERR_PROTOCOL, "bad frame from the master: '%.32s'", line.ptr);
            break;
        }
        kv_buf_resize(&data, (size_t)len + 2);
        rc = link_read_n(l, data.ptr, (size_t)len + 2, err);
        if (rc != KV_OK)
            break;
        touch_io(rr);
        if (data.ptr[len] != '\r' || data.ptr[len + 1] != '\n') {
            rc = kv_err_set(err, KV_ERR_PROTOCOL,
                            "bad frame from the master: no CRLF after %" PRIu64 " bytes", len);
            break;
        }
        struct kv_slice payload = kv_slice_make(data.ptr, (size_t)len);
        if (len == 4 && memcmp(payload.ptr, "ping", 4) == 0)
            continue;
        rc = apply_batch(rr, payload, err);
        if (rc != KV_OK) {
            /* Never continue after a batch we could not apply: reconnect and PSYNC from what is
             * really in the DB. */
            LOG_ERROR("replication: cannot apply a batch: %s", err->msg);
            break;
        }
        applied++;
        if (rr->hooks.applied != NULL)
            rr->hooks.applied(rr->hooks.arg, payload);
        if (data.cap > READ_CHUNK)
            kv_buf_deinit(&data); /* don't keep a huge batch's buffer for the whole session */
    }
    if (applied > 0)
        LOG_INFO("replication: applied %" PRIu64 " batch(es) before the link ended", applied);
    kv_buf_deinit(&line);
    kv_buf_deinit(&data);
    return rc;
}

/* --- full sync --- */

/* The files of one full sync, handed out to the fetchers as each becomes free. */
struct fetch_queue {
    pthread_mutex_t mu;
    char **names; /* borrowed from the file list */
    size_t n;
    size_t next; /* first file not handed out yet (under mu) */
    size_t nf;   /* fetchers */
    int done_fd; /* eventfd a fetcher bumps when it ends, so the wait sees it at once; or -1 */
};

struct fetcher {
    struct repl_replica *rr;
    struct kv_thread *thread;
    struct fetch_queue *q; /* borrowed */
    enum kv_code rc;
    struct kv_err err;
    atomic_bool done;
};

/* The next run of files for one connection: half an even share of what is left, at least one
 * (guided self-scheduling). The fetchers finish together however the file sizes fall, where a
 * fixed deal left three idle while the fourth fetched its large files; a checkpoint of many
 * files still takes few connections. Returns how many (0: none left). */
static size_t
take_files(struct fetch_queue *q, char ***names)
{
    pthread_mutex_lock(&q->mu);
    size_t left = q->n - q->next;
    size_t k = left / (2 * q->nf);
    if (k == 0 && left > 0)
        k = 1;
    *names = q->names + q->next;
    q->next += k;
    pthread_mutex_unlock(&q->mu);
    return k;
}

static void
add_progress(struct repl_replica *rr, uint64_t files, uint64_t bytes)
{
    pthread_mutex_lock(&rr->mu);
    rr->status.files_done += files;
    rr->status.bytes_done += bytes;
    rr->status.last_io_ms = clock_mono_ms();
    pthread_mutex_unlock(&rr->mu);
}

/* Receive one file as announced by "<size>\r\n" into <sync_dir>/<name>.tmp, then rename. The
 * file is not synced here: the swap does not wait for the disk, and the server syncs the
 * directory once the new DB is in service (checkpoint_settle; the mark of prepare_sync_dir
 * covers the meantime). */
static enum kv_code
receive_file(struct fetcher *f, struct link *l, const char *name, bool with_crc)
{
    struct repl_replica *rr = f->rr;
    struct kv_err *err = &f->err;
    struct kv_buf line = KV_BUF_INIT;
    enum kv_code rc = link_read_line(l, &line, 64, err);
    uint64_t size = 0;
    if (rc == KV_OK && (line.len == 0 || line.ptr[0] == '-' ||
                        strconv_to_uint64(line.ptr, line.len, &size) != KV_OK))
        rc = kv_err_set(err, KV_ERR_PROTOCOL, "bad file header for %s: '%.64s'", name,
                        line.ptr ? line.ptr : "");
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", rr->sync_dir, name);
    snprintf(path, sizeof path, "%s/%s", rr->sync_dir, name);
    int fd = -1;
    if (rc == KV_OK) {
        fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            rc = kv_err_set(err, KV_ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    /* The bytes go from the socket to the file with splice (no copy through this thread); the
     * checksum reads each piece back through a read-only mapping right after it landed, while
     * it is still in the CPU cache. A mapping may extend past the end of the file as long as
     * only written bytes are read. */
    int pipe_fds[2] = {-1, -1};
    if (rc == KV_OK && pipe2(pipe_fds, O_CLOEXEC) != 0)
        rc = kv_err_set(err, KV_ERR_IO, "pipe: %s", strerror(errno));
    if (rc == KV_OK)
        (void)fcntl(pipe_fds[1], F_SETPIPE_SZ, (int)SPLICE_CHUNK); /* fewer, larger moves */
    const uint8_t *map = NULL;
    if (rc == KV_OK && with_crc && size > 0) {
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            rc = kv_err_set(err, KV_ERR_IO, "mmap %s: %s", tmp, strerror(errno));
        else
            map = m;
    }
    uint32_t crc = 0;
    uint64_t got = 0;
    while (rc == KV_OK && got < size) {
        size_t cap = size - got > SPLICE_CHUNK ? SPLICE_CHUNK : (size_t)(size - got);
        size_t n = 0;
        rc = netio_reader_splice_some(l->rd, pipe_fds, fd, cap, &n,
                                      clock_mono_ms() + rr->recv_timeout_ms, l->stop_fd, err);
        if (rc != KV_OK)
            break;
        if (map != NULL)
            crc = crc32c_update(crc, map + got, n);
        /* Start writing back what arrived (without waiting for it), as RocksDB's bytes_per_sync
         * does: the disk works while the network does, and the sync after the swap has little
         * left to wait for. */
        if ((got + n) / WRITEBACK_STEP != got / WRITEBACK_STEP)
            (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        got += n;
        add_progress(rr, 0, n);
    }
    if (map != NULL)
        munmap((void *)map, (size_t)size);
    for (int i = 0; i < 2; i++) {
        if (pipe_fds[i] >= 0)
            close(pipe_fds[i]);
    }
    if (rc == KV_OK && with_crc) {
        rc = link_read_line(l, &line, 64, err);
        char want[16];
        snprintf(want, sizeof want, "%08x", crc);
        if (rc == KV_OK && strcmp(line.ptr, want) != 0)
            rc = kv_err_set(err, KV_ERR_CORRUPT, "checksum mismatch for %s: got %s, sent %s", name,
                            want, line.ptr);
    }
    if (fd >= 0 && close(fd) != 0 && rc == KV_OK)
        rc = kv_err_set(err, KV_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (rc == KV_OK && rename(tmp, path) != 0)
        rc = kv_err_set(err, KV_ERR_IO, "rename %s: %s", tmp, strerror(errno));
    if (rc != KV_OK)
        unlink(tmp);
    else
        add_progress(rr, 1, 0);
    kv_buf_deinit(&line);
    return rc;
}

/* Fetch names[0..n) over one new connection (the master closes it after the list). */
static enum kv_code
fetch_run(struct fetcher *f, struct kv_thread *self, char **names, size_t n)
{
    struct repl_replica *rr = f->rr;
    struct link l;
    enum kv_code rc = link_open(rr, kv_thread_stop_fd(self), &l, &f->err);
    if (rc != KV_OK)
        return rc;
    /* Our checksum extension: a Kvrocks master refuses the option and we go without. */
    const char *capa[] = {"REPLCONF", "capa", "crc32c"};
    struct kv_buf line = KV_BUF_INIT;
    rc = link_send(&l, 3, capa, &f->err);
    if (rc == KV_OK)
        rc = link_read_line(&l, &line, 1024, &f->err);
    bool with_crc = rc == KV_OK && strcmp(line.ptr, "+OK") == 0;
    kv_buf_deinit(&line);
    if (rc == KV_OK) {
        struct kv_buf list = KV_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                kv_buf_append_byte(&list, ',');
            kv_buf_append_cstr(&list, names[i]);
        }
        const char *argv[] = {"_fetch_file", list.ptr};
        rc = link_send(&l, 2, argv, &f->err);
        kv_buf_deinit(&list);
    }
    for (size_t i = 0; rc == KV_OK && i < n; i++)
        rc = receive_file(f, &l, names[i], with_crc);
    link_close(&l);
    return rc;
}

static void
fetcher_main(struct kv_thread *self, void *arg)
{
    struct fetcher *f = arg;
    f->rc = KV_OK;
    char **names = NULL;
    size_t n;
    while (f->rc == KV_OK && (n = take_files(f->q, &names)) > 0)
        f->rc = fetch_run(f, self, names, n);
    atomic_store(&f->done, true);
    if (f->q->done_fd >= 0) {
        uint64_t one = 1;
        (void)!write(f->q->done_fd, &one, sizeof one);
    }
}

static bool
name_in(const char *name, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

/* Whether a file fetched by an earlier, broken attempt can stand for the file of that name in a
 * new checkpoint. Only table files qualify: an SST is immutable and its number is never reused
 * by the DB that wrote it. CURRENT has no number at all, and a MANIFEST, WAL or OPTIONS file of
 * a given name keeps growing while the master runs, so a later checkpoint can hold a longer copy
 * (reusing the short one would lose the version edits or writes at its end). */
static bool
is_reusable(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".sst") == 0;
}

/* Make sync_dir hold only files of the new list that can be reused, and mark it unsynced
 * (storage/checkpoint.h) for the files about to be fetched; returns the names still to fetch in
 * *todo (borrowed pointers into names). Files fetched before the machine restarted are not
 * reused: they were never synced, so they may be torn. */
static enum kv_code
prepare_sync_dir(struct repl_replica *rr, char **names, size_t n, char **todo, size_t *ntodo,
                 struct kv_err *err)
{
    if (mkdir(rr->sync_dir, 0755) != 0 && errno != EEXIST)
        return kv_err_set(err, KV_ERR_IO, "%s: %s", rr->sync_dir, strerror(errno));
    bool torn = checkpoint_sync_state(rr->sync_dir) == CHECKPOINT_UNSYNCED_OTHER_BOOT;
    if (torn)
        LOG_WARN("full sync: %s was fetched before the machine restarted; fetching it all again",
                 rr->sync_dir);
    DIR *d = opendir(rr->sync_dir);
    if (d == NULL)
        return kv_err_set(err, KV_ERR_IO, "%s: %s", rr->sync_dir, strerror(errno));
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        bool keep = !torn && is_reusable(e->d_name) && name_in(e->d_name, names, n);
        if (!keep) {
            snprintf(path, sizeof path, "%s/%s", rr->sync_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    enum kv_code rc = checkpoint_mark_unsynced(rr->sync_dir, err);
    if (rc != KV_OK)
        return rc;
    size_t t = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", rr->sync_dir, names[i]);
        struct stat sb;
        if (is_reusable(names[i]) && stat(path, &sb) == 0) {
            LOG_INFO("[skip] %s already fetched", names[i]);
            skipped++;
            continue;
        }
        todo[t++] = names[i];
    }
    *ntodo = t;
    pthread_mutex_lock(&rr->mu);
    rr->status.skipped_files = skipped;
    rr->status.files_total = n;
    rr->status.files_done = skipped;
    rr->status.bytes_done = 0;
    pthread_mutex_unlock(&rr->mu);
    if (skipped > 0)
        LOG_INFO("full sync: skip count: %zu", skipped);
    return KV_OK;
}

/* Fetch the checkpoint files over up to MAX_FETCHERS parallel fetchers (take_files). Kvrocks
 * uses one connection up to 20 files; but a checkpoint of a few large SST files is exactly
 * where parallel streams pay (1 GiB in 17 files: 1.2 s on one connection, 0.8 s on four). */
static enum kv_code
fetch_files(struct repl_replica *rr, struct kv_thread *self, char **todo, size_t ntodo,
            struct kv_err *err)
{
    if (ntodo == 0)
        return KV_OK;
    size_t nf = ntodo < MAX_FETCHERS ? ntodo : MAX_FETCHERS;
    struct fetcher *fs = kv_calloc(nf, sizeof *fs);
    struct fetch_queue q = {.names = todo, .n = ntodo, .next = 0, .nf = nf};
    q.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&q.mu, NULL);
    for (size_t k = 0; k < nf; k++) {
        fs[k].rr = rr;
        fs[k].q = &q;
        kv_err_clear(&fs[k].err);
    }
    enum kv_code rc = KV_OK;
    size_t started = 0;
    for (; started < nf; started++) {
        rc = kv_thread_start(&fs[started].thread, fetcher_main, &fs[started], "repl-fetch", err);
        if (rc != KV_OK)
            break;
    }
    /* Wait for all fetchers, watching our own stop request, doing meanwhile what the restore
     * can do before the files are there. */
    bool stopping = rc != KV_OK;
    if (!stopping && rr->hooks.prepare_restore != NULL)
        rr->hooks.prepare_restore(rr->hooks.arg, self);
    for (;;) {
        bool all_done = true;
        for (size_t k = 0; k < started; k++) {
            if (!atomic_load(&fs[k].done))
                all_done = false;
            else if (fs[k].rc != KV_OK && !stopping) {
                stopping = true; /* one failed: the others stop too */
            }
        }
        if (all_done)
            break;
        if (stopping || kv_thread_should_stop(self)) {
            stopping = true;
            for (size_t k = 0; k < started; k++)
                kv_thread_request_stop(fs[k].thread);
        }
        /* Without the eventfd (creation failed) the poll times out and the loop looks again. */
        struct pollfd p[2] = {{kv_thread_stop_fd(self), POLLIN, 0}, {q.done_fd, POLLIN, 0}};
        if (poll(p, q.done_fd >= 0 ? 2 : 1, stopping ? 10 : 100) > 0 && (p[1].revents & POLLIN)) {
            uint64_t ignored;
            (void)!read(q.done_fd, &ignored, sizeof ignored);
        }
    }
    /* The error to report is the one that ended the fetch, not a fetcher's "stopped" that
     * followed from it. */
    for (size_t k = 0; k < started; k++) {
        while (kv_thread_join_timeout(fs[k].thread, 1000) != KV_OK)
            LOG_WARN("replication: waiting for a fetcher thread to end");
        enum kv_code frc = fs[k].rc;
        if (frc == KV_OK)
            continue;
        if (frc != KV_ERR_STOPPED)
            LOG_WARN("full sync: fetcher %zu failed: %s", k, fs[k].err.msg);
        if (rc == KV_OK || (rc == KV_ERR_STOPPED && frc != KV_ERR_STOPPED)) {
            rc = frc;
            kv_err_set(err, frc, "%s", fs[k].err.msg);
        }
    }
    if (rc == KV_OK && kv_thread_should_stop(self))
        rc = kv_err_set(err, KV_ERR_STOPPED, "stopped");
    pthread_mutex_destroy(&q.mu);
    if (q.done_fd >= 0)
        close(q.done_fd);
    kv_free(fs);
    return rc;
}

static enum kv_code
full_sync(struct repl_replica *rr, struct kv_thread *self, struct kv_err *err)
{
    set_state(rr, REPL_STATE_FETCH_META, NULL);
    struct link l;
    enum kv_code rc = link_open(rr, kv_thread_stop_fd(self), &l, err);
    if (rc != KV_OK)
        return rc;
    struct kv_buf line = KV_BUF_INIT;
    const char *argv[] = {"_fetch_meta"};
    rc = link_send(&l, 1, argv, err);
    if (rc == KV_OK)
        rc = link_read_line(&l, &line, 16u << 20, err);
    link_close(&l);
    if (rc == KV_OK && (line.len == 0 || line.ptr[0] == '-'))
        rc = kv_err_set(err, KV_ERR, "the master cannot provide a checkpoint: %s", line.ptr);
    if (rc != KV_OK) {
        kv_buf_deinit(&line);
        return rc;
    }
    /* Split the file list. */
    size_t n = 1;
    for (size_t i = 0; i < line.len; i++)
        n += line.ptr[i] == ',';
    char **names = kv_calloc(n, sizeof *names);
    char **todo = kv_calloc(n, sizeof *todo);
    size_t count = 0;
    char *save = NULL;
    for (char *t = strtok_r(line.ptr, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (strchr(t, '/') != NULL || strcmp(t, "..") == 0 || strcmp(t, ".") == 0) {
            rc = kv_err_set(err, KV_ERR_PROTOCOL, "bad file name in the list: '%s'", t);
            break;
        }
        names[count++] = t;
    }
    size_t ntodo = 0;
    bool emptied = false;
    if (rc == KV_OK && count == 0)
        rc = kv_err_set(err, KV_ERR_PROTOCOL, "empty checkpoint file list");
    if (rc == KV_OK)
        rc = prepare_sync_dir(rr, names, count, todo, &ntodo, err);
    if (rc == KV_OK && rr->empty_db_before_fullsync && rr->hooks.empty_db != NULL) {
        LOG_INFO("full sync: slave-empty-db-before-fullsync: dropping the local data first");
        rc = rr->hooks.empty_db(rr->hooks.arg, self, err);
        emptied = rc == KV_OK;
    }
    if (rc == KV_OK) {
        set_state(rr, REPL_STATE_FETCH_FILES, NULL);
        LOG_INFO("full sync: %zu file(s) in the checkpoint, %zu to fetch", count, ntodo);
        rc = fetch_files(rr, self, todo, ntodo, err);
    }
    kv_free(names);
    kv_free(todo);
    kv_buf_deinit(&line);
    if (rc != KV_OK) {
        if (emptied && rr->hooks.abort_fullsync != NULL)
            rr->hooks.abort_fullsync(rr->hooks.arg);
        return rc;
    }
    set_state(rr, REPL_STATE_RESTORE, NULL);
    rc = rr->hooks.restore(rr->hooks.arg, rr->sync_dir, self, err);
    if (rc != KV_OK && emptied && rr->hooks.abort_fullsync != NULL)
        rr->hooks.abort_fullsync(rr->hooks.arg); /* a no-op when restore already ended it */
    if (rc == KV_OK) {
        pthread_mutex_lock(&rr->mu);
        rr->status.full_syncs++;
        pthread_mutex_unlock(&rr->mu);
        LOG_INFO("full sync: restored the database from the master's checkpoint");
    }
    return rc;
}

/* One session: handshake, then PSYNC streaming or a full sync. Returns KV_OK after a full sync
 * (reconnect at once to PSYNC), or the error that ended the session; *streamed tells whether
 * batches flowed (resets the back-off). */
static enum kv_code
session(struct repl_replica *rr, struct kv_thread *self, bool *streamed, struct kv_err *err)
{
    *streamed = false;
    int stop_fd = kv_thread_stop_fd(self);
    set_state(rr, REPL_STATE_CONNECT, NULL);
    struct link l;
    enum kv_code rc = link_open(rr, stop_fd, &l, err);
    if (rc != KV_OK)
        return rc;
    struct kv_buf line = KV_BUF_INIT;
    set_state(rr, REPL_STATE_DB_NAME, NULL);
    const char *dbn[] = {"_db_name"};
    rc = link_send(&l, 1, dbn, err);
    if (rc == KV_OK)
        rc = link_read_line(&l, &line, 4096, err);
    if (rc == KV_OK && (line.len == 0 || line.ptr[0] == '-'))
        rc = kv_err_set(err, KV_ERR, "_db_name refused: %s", line.ptr);
    if (rc == KV_OK && strcmp(line.ptr, rr->db_name) != 0)
        rc = kv_err_set(err, KV_ERR, "db-name mismatch: master has '%s', we have '%s'", line.ptr,
                        rr->db_name);
    if (rc == KV_OK) {
        set_state(rr, REPL_STATE_REPLCONF, NULL);
        char port[16];
        snprintf(port, sizeof port, "%d", rr->listening_port);
        const char *with_ip[] = {"REPLCONF", "listening-port", port, "ip-address", rr->announce_ip};
        int argc = rr->announce_ip[0] != '\0' ? 5 : 3;
        rc = link_send(&l, argc, with_ip, err);
        if (rc == KV_OK)
            rc = link_read_line(&l, &line, 4096, err);
        if (rc == KV_OK && strncmp(line.ptr, "-LOADING", 8) == 0)
            rc = kv_err_set(err, KV_ERR_LOADING, "the master is loading");
        /* Other refusals are tolerated: old masters know fewer options. */
    }
    bool need_full = false;
    if (rc == KV_OK) {
        set_state(rr, REPL_STATE_PSYNC, NULL);
        struct storage *st = rr->hooks.storage(rr->hooks.arg);
        char seq[32];
        snprintf(seq, sizeof seq, "%" PRIu64, storage_latest_seq(st) + 1);
        const char *ps[] = {"PSYNC", seq};
        rc = link_send(&l, 2, ps, err);
        if (rc == KV_OK)
            rc = link_read_line(&l, &line, 4096, err);
        if (rc == KV_OK) {
            if (strcmp(line.ptr, "+OK") == 0) {
                LOG_INFO("replication: PSYNC %s accepted, streaming", seq);
                set_state(rr, REPL_STATE_STREAMING, NULL);
                *streamed = true;
                rc = stream_batches(rr, &l, err);
                if (rc == KV_OK)
                    rc = KV_ERR_CLOSED;
            } else if (strncmp(line.ptr, "-LOADING", 8) == 0) {
                rc = kv_err_set(err, KV_ERR_LOADING, "the master is loading");
            } else {
                LOG_INFO("replication: PSYNC %s refused (%s): full sync", seq, line.ptr);
                need_full = true;
            }
        }
    }
    link_close(&l);
    kv_buf_deinit(&line);
    if (need_full)
        rc = full_sync(rr, self, err);
    return rc;
}

static void
replica_main(struct kv_thread *self, void *arg)
{
    struct repl_replica *rr = arg;
    int64_t backoff = BACKOFF_MIN_MS;
    bool full_synced = false; /* the last session ended with a full sync */
    while (!kv_thread_should_stop(self)) {
        struct kv_err err;
        kv_err_clear(&err);
        bool streamed = false;
        enum kv_code rc = session(rr, self, &streamed, &err);
        if (kv_thread_should_stop(self))
            break;
        if (rc == KV_OK && !full_synced) {
            full_synced = true;
            continue; /* a full sync finished: PSYNC from the new DB at once */
        }
        char why[KV_ERR_MSG_MAX + 64];
        if (rc == KV_OK) {
            /* Two full syncs in a row: the master would not continue from its own checkpoint
             * (a checkpoint that opened short of its sequence, say). Without a pause every
             * round would swap the DB again at once, dozens of times a second. */
            snprintf(why, sizeof why,
                     "the master refused PSYNC right after a full sync, retry in %lld ms",
                     (long long)backoff);
        } else {
            full_synced = false;
            if (streamed)
                backoff = BACKOFF_MIN_MS;
            snprintf(why, sizeof why, "%s (%s), retry in %lld ms", err.msg[0] ? err.msg : "failed",
                     kv_code_name(rc), (long long)backoff);
        }
        set_state(rr, REPL_STATE_WAIT, why);
        if (!wait_or_stop(kv_thread_stop_fd(self), backoff))
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    LOG_INFO("replication from %s:%d stopped", rr->host, rr->port);
}

static void
replica_free(struct repl_replica *rr)
{
    pthread_mutex_destroy(&rr->mu);
    kv_free(rr->host);
    kv_free(rr->masterauth);
    kv_free(rr->db_name);
    kv_free(rr->announce_ip);
    kv_free(rr->dir);
    kv_free(rr->sync_dir);
    kv_free(rr);
}

enum kv_code
repl_replica_start(const struct repl_replica_options *o, const struct repl_replica_hooks *hooks,
                   struct repl_replica **out, struct kv_err *err)
{
    struct repl_replica *rr = kv_calloc(1, sizeof *rr);
    rr->host = kv_strdup(o->host);
    rr->port = o->port;
    rr->masterauth = kv_strdup(o->masterauth ? o->masterauth : "");
    rr->db_name = kv_strdup(o->db_name ? o->db_name : "");
    rr->listening_port = o->listening_port;
    rr->announce_ip = kv_strdup(o->announce_ip ? o->announce_ip : "");
    rr->dir = kv_strdup(o->dir);
    struct kv_buf p = KV_BUF_INIT;
    kv_buf_printf(&p, "%s/sync_checkpoint", o->dir);
    rr->sync_dir = kv_buf_steal(&p, NULL);
    rr->connect_timeout_ms = o->connect_timeout_ms;
    rr->recv_timeout_ms = o->recv_timeout_ms;
    rr->send_timeout_ms = o->send_timeout_ms;
    rr->empty_db_before_fullsync = o->empty_db_before_fullsync;
    rr->hooks = *hooks;
    pthread_mutex_init(&rr->mu, NULL);
    snprintf(rr->status.host, sizeof rr->status.host, "%s", o->host);
    rr->status.port = o->port;
    rr->status.state = REPL_STATE_CONNECT;
    /* Files fetched from another master cannot be reused. */
    struct kv_err ignored;
    checkpoint_remove_dir(rr->sync_dir, &ignored);
    enum kv_code rc = kv_thread_start(&rr->thread, replica_main, rr, "repl-replica", err);
    if (rc != KV_OK) {
        replica_free(rr);
        return rc;
    }
    LOG_INFO("replication: starting as a replica of %s:%d", o->host, o->port);
    *out = rr;
    return KV_OK;
}

void
repl_replica_request_stop(struct repl_replica *rr)
{
    kv_thread_request_stop(rr->thread);
}

enum kv_code
repl_replica_stop(struct repl_replica *rr, int64_t timeout_ms)
{
    enum kv_code rc = kv_thread_stop(rr->thread, timeout_ms);
    if (rc != KV_OK)
        return rc;
    replica_free(rr);
    return KV_OK;
}

void
repl_replica_status(struct repl_replica *rr, struct repl_replica_status *out)
{
    pthread_mutex_lock(&rr->mu);
    *out = rr->status;
    pthread_mutex_unlock(&rr->mu);
}
