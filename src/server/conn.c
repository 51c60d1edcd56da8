/* SPDX-License-Identifier: Apache-2.0 */
#include "server/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "commands/command.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/blocking.h"
#include "server/dispatch.h"
#include "server/migrate_ctl.h"
#include "server/multi.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "server/watch.h"
#include "server/worker.h"
#include "storage/keys.h"

/* Read granularity, and the most commands run before yielding to other connections. */
#define CONN_READ_CHUNK (16 * 1024)
#define CONN_MAX_BATCH 256
/* Stop reading a client whose unread replies exceed this; resume below the low mark. */
#define CONN_OUT_HIGH (16u << 20)
#define CONN_OUT_LOW (1u << 20)
/* Keep at most this much idle read-buffer capacity between requests. */
#define CONN_IN_KEEP (64 * 1024)
#define CONN_MAX_INLINE (64 * 1024)
#define CONN_MAX_MULTIBULK (1024 * 1024)
/* TCP keepalive idle time of client sockets (Kvrocks' value). */
#define CONN_KEEPALIVE_S 120
/* A client that has not authenticated yet may not announce big requests (Redis 7.0's
 * processMultibulkBuffer limits): a password-protected server then cannot be made to allocate
 * much by anyone who can merely connect. */
#define CONN_UNAUTH_MAX_MULTIBULK 10
#define CONN_UNAUTH_MAX_BULK 16384

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_resume(evutil_socket_t fd, short what, void *arg);

bool
conn_has_flag(const struct conn *c, unsigned flag)
{
    return (atomic_load_explicit(&c->flags, memory_order_relaxed) & flag) != 0;
}

void
conn_set_flag(struct conn *c, unsigned flag)
{
    atomic_fetch_or_explicit(&c->flags, flag, memory_order_relaxed);
}

void
conn_clear_flag(struct conn *c, unsigned flag)
{
    atomic_fetch_and_explicit(&c->flags, ~flag, memory_order_relaxed);
}

static void
format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, cap, "%s:%d", ip, port);
}

void
conn_set_namespace(struct conn *c, const char *ns)
{
    pthread_mutex_lock(&c->w->conns_lock);
    snprintf(c->ns, sizeof c->ns, "%s", ns);
    c->db.ns = kv_slice_cstr(c->ns);
    pthread_mutex_unlock(&c->w->conns_lock);
}

struct conn *
conn_new(struct worker *w, int fd)
{
    struct server *srv = w->srv;
    struct conn *c = kv_calloc(1, sizeof *c);
    c->id = atomic_fetch_add(&srv->next_client_id, 1);
    c->fd = fd;
    c->w = w;
    c->srv = srv;
    dlist_init(&c->node);
    dlist_init(&c->held);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Keepalive as Kvrocks sets it: first probe after 120 s idle, then every 40 s, give up
     * after 3, so a vanished peer is noticed in about 4 minutes instead of 2 hours. */
    int idle_s = CONN_KEEPALIVE_S, intvl_s = CONN_KEEPALIVE_S / 3, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl_s, sizeof intvl_s);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, c->addr, sizeof c->addr);
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, c->laddr, sizeof c->laddr);
    resp_parser_init(&c->parser);
    c->out = evbuffer_new();
    c->proto = 2;
    c->rout.buf = c->out;
    c->rout.proto = 2;
    c->read_ev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->write_ev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->resume_ev = event_new(w->base, -1, 0, on_resume, c);
    c->db.st = NULL; /* bound under the server lock before each use (conn.h) */
    c->db.locks = srv->locks;
    c->db.cluster = srv->cfg->cluster_enabled;
    c->db.hooks = &srv->db_hooks;
    c->db.snap = NULL;
    conn_set_namespace(c, KEYS_DEFAULT_NAMESPACE);
    c->ctime_ms = clock_now_ms();
    atomic_store(&c->last_interaction_ms, clock_mono_ms());
    /* CONFIG SET keeps an atomic copy of "a password is required". */
    if (!atomic_load_explicit(&srv->auth_required, memory_order_relaxed))
        conn_set_flag(c, CONN_F_AUTHED | CONN_F_ADMIN);
    return c;
}

void
conn_start(struct conn *c)
{
    event_add(c->read_ev, NULL);
}

/* Free c; its socket is closed unless handed to the detach callback. */
static void
release(struct conn *c, bool hand_over)
{
    if (conn_has_flag(c, CONN_F_IMPORTING))
        migrate_ctl_on_conn_close(c);
    blocking_conn_free(c);
    watch_conn_free(c);
    multi_conn_free(c);
    pubsub_conn_free(c);
    worker_remove_conn(c->w, c);
    if (dlist_linked(&c->held))
        dlist_remove(&c->held);
    event_free(c->read_ev);
    event_free(c->write_ev);
    event_free(c->resume_ev);
    evbuffer_free(c->out);
    resp_parser_deinit(&c->parser);
    kv_buf_deinit(&c->in);
    atomic_fetch_sub(&c->srv->connected_clients, 1);
    if (c->detach_fn != NULL) {
        c->detach_fn(c->detach_arg, hand_over ? c->fd : -1);
        if (!hand_over)
            close(c->fd);
    } else {
        close(c->fd);
    }
    kv_free(c);
}

void
conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    release(c, false);
}

void
conn_detach(struct conn *c, void (*fn)(void *arg, int fd), void *arg)
{
    c->detach_fn = fn;
    c->detach_arg = arg;
    conn_set_flag(c, CONN_F_DETACH);
}

void
conn_close_after_reply(struct conn *c)
{
    conn_set_flag(c, CONN_F_CLOSE_AFTER_REPLY);
}

static void
close_task(void *arg)
{
    /* `arg` is the connection id; the connection may be gone already, so look it up on its
     * worker rather than trusting a pointer. */
    struct worker *w = server_current_worker();
    if (w == NULL)
        return;
    struct conn *target = worker_find_conn(w, (uint64_t)(uintptr_t)arg);
    if (target != NULL)
        conn_free(target);
}

void
conn_request_close(struct conn *c)
{
    conn_set_flag(c, CONN_F_CLOSE_ASAP);
    worker_post(c->w, close_task, (void *)(uintptr_t)c->id);
}

size_t
conn_pending_output(const struct conn *c)
{
    return evbuffer_get_length(c->out);
}

void
conn_set_proto(struct conn *c, int proto)
{
    pthread_mutex_lock(&c->w->conns_lock);
    c->proto = proto;
    pthread_mutex_unlock(&c->w->conns_lock);
}

void
conn_set_name(struct conn *c, struct kv_slice name)
{
    pthread_mutex_lock(&c->w->conns_lock);
    size_t n = name.len < sizeof c->name - 1 ? name.len : sizeof c->name - 1;
    memcpy(c->name, name.ptr, n);
    c->name[n] = '\0';
    pthread_mutex_unlock(&c->w->conns_lock);
}

static void
update_snapshots(struct conn *c)
{
    atomic_store_explicit(&c->in_len, c->in.len, memory_order_relaxed);
    atomic_store_explicit(&c->out_len, evbuffer_get_length(c->out), memory_order_relaxed);
}

/* Write what the socket takes. Returns false when the connection was freed. */
static bool
flush_output(struct conn *c)
{
    /* Held first, even when closing: a connection is closed after the commit of its writes, so
     * a client that sees it closed (POST, CLIENT KILL) then reads what it wrote before. */
    if (worker_hold_output(c->w, c)) {
        update_snapshots(c);
        return true; /* written, or closed, after the worker's commit (worker.h) */
    }
    if (conn_has_flag(c, CONN_F_CLOSE_ASAP)) {
        conn_free(c);
        return false;
    }
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                event_add(c->write_ev, NULL);
                update_snapshots(c);
                return true;
            }
            conn_free(c);
            return false;
        }
        if (n == 0)
            break;
        atomic_fetch_add_explicit(&c->srv->stats.net_output_bytes, (uint64_t)n,
                                  memory_order_relaxed);
        /* A client downloading a big reply is not idle (Redis counts writes too). */
        atomic_store_explicit(&c->last_interaction_ms, clock_mono_ms(), memory_order_relaxed);
    }
    if (evbuffer_get_length(c->out) == 0) {
        event_del(c->write_ev);
        if (conn_has_flag(c, CONN_F_CLOSE_AFTER_REPLY)) {
            conn_free(c);
            return false;
        }
        if (conn_has_flag(c, CONN_F_DETACH)) {
            release(c, true);
            return false;
        }
    } else {
        event_add(c->write_ev, NULL);
    }
    if (conn_has_flag(c, CONN_F_PAUSED_READ) && evbuffer_get_length(c->out) < CONN_OUT_LOW) {
        conn_clear_flag(c, CONN_F_PAUSED_READ);
        if (!conn_has_flag(c, CONN_F_CLOSE_AFTER_REPLY)) {
            event_add(c->read_ev, NULL);
            if (c->in.len > 0)
                event_active(c->resume_ev, 0, 0);
        }
    }
    update_snapshots(c);
    return true;
}

void
conn_resume_input(struct conn *c)
{
    event_active(c->resume_ev, 0, 0);
}

void
conn_flush(struct conn *c)
{
    (void)flush_output(c);
}

/* The parser refused a request of a client that has not authenticated, under the reduced
 * limits. If the full limits accept what was refused, the reduced limit was the reason: say so
 * with Redis' wording. The connection is closed after this, so the parser may be left anywhere. */
static void
unauth_limit_message(struct conn *c, const struct resp_limits *full, struct kv_err *err)
{
    struct kv_err again;
    kv_err_clear(&again);
    enum kv_code rc = resp_parser_next(&c->parser, c->in.ptr, c->in.len, full, &again);
    if (rc == KV_OK)
        resp_parser_done(&c->parser);
    if (rc == KV_ERR_PROTOCOL && strcmp(again.msg, err->msg) == 0)
        return; /* refused under any limits */
    if (strstr(err->msg, "invalid multibulk length") != NULL)
        snprintf(err->msg, sizeof err->msg, "Protocol error: unauthenticated multibulk length");
    else if (strstr(err->msg, "invalid bulk length") != NULL)
        snprintf(err->msg, sizeof err->msg, "Protocol error: unauthenticated bulk length");
}

/* Parse and run the complete requests in the read buffer. Returns false when the connection
 * was freed. */
static bool
process_input(struct conn *c)
{
    /* CONFIG SET changes the config under the server lock held exclusively. */
    server_lock_shared(c->srv);
    const struct resp_limits full = {
        .max_multibulk = CONN_MAX_MULTIBULK,
        .max_bulk = (size_t)c->srv->cfg->proto_max_bulk_len,
        .max_inline = CONN_MAX_INLINE,
    };
    pthread_rwlock_unlock(&c->srv->lock);
    struct kv_slice small_argv[16];
    struct kv_slice *argv = small_argv;
    size_t argv_cap = 16;
    size_t consumed = 0;
    int batch = 0;
    bool yielded = false;
    while (!conn_has_flag(c, CONN_F_CLOSE_AFTER_REPLY | CONN_F_CLOSE_ASAP | CONN_F_BLOCKED |
                                 CONN_F_DETACH)) {
        if (batch >= CONN_MAX_BATCH || evbuffer_get_length(c->out) > CONN_OUT_HIGH) {
            yielded = true;
            break;
        }
        struct kv_err err;
        kv_err_clear(&err);
        /* Re-evaluated per request: an AUTH earlier in the pipeline lifts the limits. */
        bool authed = conn_has_flag(c, CONN_F_AUTHED);
        struct resp_limits lim = full;
        if (!authed) {
            lim.max_multibulk = CONN_UNAUTH_MAX_MULTIBULK;
            if (lim.max_bulk > CONN_UNAUTH_MAX_BULK)
                lim.max_bulk = CONN_UNAUTH_MAX_BULK;
        }
        enum kv_code rc = resp_parser_next(&c->parser, c->in.ptr, c->in.len, &lim, &err);
        if (rc == KV_NOTFOUND)
            break;
        if (rc != KV_OK) {
            if (!authed)
                unauth_limit_message(c, &full, &err);
            char line[KV_ERR_MSG_MAX + 8];
            snprintf(line, sizeof line, "ERR %s", err.msg[0] ? err.msg : "Protocol error");
            resp_write_error(&c->rout, line);
            atomic_fetch_add_explicit(&c->srv->stats.error_replies, 1, memory_order_relaxed);
            LOG_INFO("closing client %s: %s", c->addr, err.msg);
            conn_close_after_reply(c);
            break;
        }
        size_t argc = c->parser.argc;
        if (argc > argv_cap) {
            if (argv != small_argv)
                kv_free(argv);
            argv_cap = argc;
            argv = kv_malloc(argv_cap * sizeof *argv);
        }
        for (size_t i = 0; i < argc; i++)
            argv[i] =
                kv_slice_make(resp_parser_arg(&c->parser, c->in.ptr, i), c->parser.argv[i].len);
        dispatch_command(c, (int)argc, argv);
        resp_parser_done(&c->parser);
        consumed = c->parser.pos;
        c->commands++;
        batch++;
    }
    if (argv != small_argv)
        kv_free(argv);
    /* Drop the executed requests from the buffer. Moving the rest costs its length: do it only
     * once at least as much was consumed (the parser keeps absolute offsets meanwhile), so a
     * big read followed by a long pipeline costs linear, not quadratic, time. */
    size_t rest = c->in.len - consumed;
    if (consumed > 0 && rest <= consumed) {
        if (rest > 0)
            memmove(c->in.ptr, c->in.ptr + consumed, rest);
        c->in.len = rest;
        resp_parser_rebase(&c->parser, consumed);
        if (rest == 0 && c->in.cap > CONN_IN_KEEP)
            kv_buf_deinit(&c->in);
    }
    if (conn_has_flag(c, CONN_F_CLOSE_AFTER_REPLY | CONN_F_DETACH)) {
        /* Nothing more will be parsed: stop reading, so a peer that keeps sending cannot
         * grow the input buffer while its last replies drain. */
        event_del(c->read_ev);
    } else if (evbuffer_get_length(c->out) > CONN_OUT_HIGH &&
               !conn_has_flag(c, CONN_F_PAUSED_READ)) {
        conn_set_flag(c, CONN_F_PAUSED_READ);
        event_del(c->read_ev);
    } else if (yielded) {
        /* Continue in the next round, not in this one: an expired timer fires only after the
         * next poll, so the worker commits and sends this round's replies first, however long
         * this client's pipeline is (group commit, worker.h). */
        static const struct timeval now = {0, 0};
        event_add(c->resume_ev, &now);
    }
    return flush_output(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (conn_has_flag(c, CONN_F_CLOSE_ASAP)) {
        conn_free(c);
        return;
    }
    size_t want = CONN_READ_CHUNK;
    if (c->parser.want > want)
        want = c->parser.want;
    kv_buf_reserve(&c->in, want);
    ssize_t n = read(fd, c->in.ptr + c->in.len, c->in.cap - c->in.len);
    if (n == 0) {
        conn_free(c);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        conn_free(c);
        return;
    }
    c->in.len += (size_t)n;
    c->in.ptr[c->in.len] = '\0';
    c->w->reads++;
    atomic_fetch_add_explicit(&c->srv->stats.net_input_bytes, (uint64_t)n, memory_order_relaxed);
    atomic_store_explicit(&c->last_interaction_ms, clock_mono_ms(), memory_order_relaxed);
    process_input(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    flush_output(arg);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (conn_has_flag(c, CONN_F_CLOSE_ASAP)) {
        conn_free(c);
        return;
    }
    if (conn_has_flag(c, CONN_F_PAUSED_READ))
        return;
    process_input(c);
}

static void
describe_flags(unsigned f, char *out)
{
    char *p = out;
    if (f & CONN_F_REPLICA)
        *p++ = 'S';
    if (f & CONN_F_MASTER)
        *p++ = 'M';
    if (f & CONN_F_PUBSUB)
        *p++ = 'P';
    if (f & CONN_F_MULTI)
        *p++ = 'x';
    if (f & CONN_F_BLOCKED)
        *p++ = 'b';
    if (f & CONN_F_CLOSE_AFTER_REPLY)
        *p++ = 'c';
    if (f & CONN_F_READONLY)
        *p++ = 'r';
    if (f & CONN_F_MONITOR)
        *p++ = 'O';
    if (f & CONN_F_CLOSE_ASAP)
        *p++ = 'A';
    if (p == out)
        *p++ = 'N';
    *p = '\0';
}

void
conn_describe(const struct conn *c, struct kv_buf *out)
{
    unsigned f = atomic_load_explicit(&c->flags, memory_order_relaxed);
    char flags[16];
    describe_flags(f, flags);
    int64_t now_ms = clock_now_ms();
    int64_t idle =
        (clock_mono_ms() - atomic_load_explicit(&c->last_interaction_ms, memory_order_relaxed)) /
        1000;
    const struct command_spec *cmd = atomic_load_explicit(&c->last_cmd, memory_order_relaxed);
    kv_buf_printf(out,
                  "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 "
                  "namespace=%s sub=%d psub=%d multi=%d qbuf=%zu obl=0 oll=0 omem=%zu cmd=%s "
                  "user=default resp=%d",
                  (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name,
                  (long long)((now_ms - c->ctime_ms) / 1000), (long long)idle, flags, c->ns,
                  atomic_load_explicit(&c->nsub, memory_order_relaxed),
                  atomic_load_explicit(&c->npsub, memory_order_relaxed),
                  (f & CONN_F_MULTI) ? atomic_load_explicit(&c->nqueued, memory_order_relaxed) : -1,
                  atomic_load_explicit(&c->in_len, memory_order_relaxed),
                  atomic_load_explicit(&c->out_len, memory_order_relaxed), cmd ? cmd->name : "NULL",
                  c->proto);
}
