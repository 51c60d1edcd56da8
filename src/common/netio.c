/* SPDX-License-Identifier: Apache-2.0
 *
 * netio: every operation is "poll the socket and the stop fd until the deadline, then one
 * non-blocking send/recv", repeated until done. Polling first means a pending stop request wins
 * over further I/O, and a deadline in the past still allows I/O that needs no wait (poll with a
 * zero timeout). The reader never holds a partial line across calls: bytes of a line being
 * assembled move into the caller's kv_buf, so the read-ahead buffer never has to grow.
 *
 * Threads: any; see netio.h.
 */
#include "common/netio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/file.h"

static const char *
errno_text(int e, char *buf, size_t size)
{
    /* GNU strerror_r (we build with _GNU_SOURCE): returns the text, maybe not in buf. */
    return strerror_r(e, buf, size);
}

/* A failed send/recv: the peer going away is KV_ERR_CLOSED, anything else KV_ERR_IO. */
static enum kv_code
socket_error(int e, const char *what, struct kv_err *err)
{
    char tmp[128];
    enum kv_code code = (e == EPIPE || e == ECONNRESET) ? KV_ERR_CLOSED : KV_ERR_IO;
    return kv_err_set(err, code, "%s: %s", what, errno_text(e, tmp, sizeof tmp));
}

static bool
would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* Wait until fd reports `events` (or an error/hangup, left for the next send/recv to report),
 * the stop fd becomes readable, or the deadline passes. */
static enum kv_code
wait_ready(int fd, short events, int64_t deadline_ms, int stop_fd, const char *what,
           struct kv_err *err)
{
    for (;;) {
        struct pollfd pfd[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
        nfds_t nfds = stop_fd >= 0 ? 2 : 1;
        int64_t left_ms = deadline_ms - clock_mono_ms();
        int timeout = left_ms <= 0 ? 0 : (left_ms > INT_MAX ? INT_MAX : (int)left_ms);
        int n = poll(pfd, nfds, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return socket_error(errno, "poll", err);
        }
        if (nfds == 2 && pfd[1].revents != 0)
            return kv_err_set(err, KV_ERR_STOPPED, "%s: stop requested", what);
        if (pfd[0].revents & POLLNVAL)
            return kv_err_set(err, KV_ERR_IO, "%s: invalid socket %d", what, fd);
        if (pfd[0].revents != 0)
            return KV_OK;
        if (left_ms <= 0)
            return kv_err_set(err, KV_ERR_TIMEOUT, "%s: timed out", what);
    }
}

void
netio_reader_init(struct netio_reader *r, int fd)
{
    r->fd = fd;
    r->pos = 0;
    r->len = 0;
}

size_t
netio_reader_buffered(const struct netio_reader *r)
{
    return r->len - r->pos;
}

/* Try one address. Returns KV_OK with *fd_out set, KV_ERR_IO to try the next address, or
 * KV_ERR_TIMEOUT / KV_ERR_STOPPED to give up. */
static enum kv_code
connect_one(const struct addrinfo *ai, const char *where, int64_t deadline_ms, int stop_fd,
            int *fd_out, struct kv_err *err)
{
    char tmp[128];
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return kv_err_set(err, KV_ERR_IO, "socket for %s: %s", where,
                          errno_text(errno, tmp, sizeof tmp));
    enum kv_code rc = KV_OK;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            rc = kv_err_set(err, KV_ERR_IO, "connect to %s: %s", where,
                            errno_text(errno, tmp, sizeof tmp));
            goto fail;
        }
        rc = wait_ready(fd, POLLOUT, deadline_ms, stop_fd, "connect", err);
        if (rc != KV_OK) {
            if (rc == KV_ERR_TIMEOUT)
                kv_err_set(err, rc, "connect to %s: timed out", where);
            goto fail;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
        if (soerr != 0) {
            rc = kv_err_set(err, KV_ERR_IO, "connect to %s: %s", where,
                            errno_text(soerr, tmp, sizeof tmp));
            goto fail;
        }
    }
    /* Small request/reply exchanges (REPLCONF, PSYNC) must not wait for Nagle. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd_out = fd;
    return KV_OK;
fail:
    close(fd);
    return rc;
}

enum kv_code
netio_connect(const char *host, uint16_t port, int64_t deadline_ms, int stop_fd, int *fd_out,
              struct kv_err *err)
{
    char where[300];
    snprintf(where, sizeof where, "%s:%u", host, (unsigned)port);
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(host, service, &hints, &list);
    if (gai != 0) {
        if (gai == EAI_SYSTEM) {
            char tmp[128];
            return kv_err_set(err, KV_ERR_IO, "resolve %s: %s", where,
                              errno_text(errno, tmp, sizeof tmp));
        }
        return kv_err_set(err, KV_ERR_IO, "resolve %s: %s", where, gai_strerror(gai));
    }
    enum kv_code rc = kv_err_set(err, KV_ERR_IO, "resolve %s: no address", where);
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        rc = connect_one(ai, where, deadline_ms, stop_fd, fd_out, err);
        if (rc != KV_ERR_IO)
            break;
    }
    freeaddrinfo(list);
    return rc;
}

enum kv_code
netio_write_all(int fd, const void *p, size_t n, int64_t deadline_ms, int stop_fd,
                struct kv_err *err)
{
    const char *c = p;
    size_t off = 0;
    while (off < n) {
        enum kv_code rc = wait_ready(fd, POLLOUT, deadline_ms, stop_fd, "write", err);
        if (rc != KV_OK)
            return rc;
        ssize_t w = send(fd, c + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (would_block(errno))
                continue;
            return socket_error(errno, "write", err);
        }
        off += (size_t)w;
    }
    return KV_OK;
}

enum kv_code
netio_sendfile_all(int fd, int file_fd, uint64_t off, size_t n, int64_t deadline_ms, int stop_fd,
                   struct kv_err *err)
{
    off_t pos = (off_t)off;
    size_t left = n;
    while (left > 0) {
        enum kv_code rc = wait_ready(fd, POLLOUT, deadline_ms, stop_fd, "write", err);
        if (rc != KV_OK)
            return rc;
        ssize_t w = sendfile(fd, file_fd, &pos, left);
        if (w < 0) {
            if (would_block(errno))
                continue;
            return socket_error(errno, "sendfile", err);
        }
        if (w == 0)
            return kv_err_set(err, KV_ERR_IO, "sendfile: file ends %zu bytes early", left);
        left -= (size_t)w;
    }
    return KV_OK;
}

enum kv_code
netio_read_some(int fd, void *p, size_t cap, size_t *n, int64_t deadline_ms, int stop_fd,
                struct kv_err *err)
{
    for (;;) {
        enum kv_code rc = wait_ready(fd, POLLIN, deadline_ms, stop_fd, "read", err);
        if (rc != KV_OK)
            return rc;
        ssize_t got = recv(fd, p, cap, MSG_DONTWAIT);
        if (got > 0) {
            *n = (size_t)got;
            return KV_OK;
        }
        if (got == 0)
            return kv_err_set(err, KV_ERR_CLOSED, "read: connection closed by peer");
        if (!would_block(errno))
            return socket_error(errno, "read", err);
    }
}

/* Receive more bytes into the reader's free space (moving what is buffered to the front
 * first when the tail is full). */
static enum kv_code
reader_fill(struct netio_reader *r, int64_t deadline_ms, int stop_fd, struct kv_err *err)
{
    if (r->pos == r->len) {
        r->pos = 0;
        r->len = 0;
    } else if (r->len == sizeof r->buf) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    size_t got;
    enum kv_code rc = netio_read_some(r->fd, r->buf + r->len, sizeof r->buf - r->len, &got,
                                      deadline_ms, stop_fd, err);
    if (rc == KV_OK)
        r->len += got;
    return rc;
}

/* Copy up to cap buffered bytes into p; returns the count. */
static size_t
reader_take(struct netio_reader *r, void *p, size_t cap)
{
    size_t avail = r->len - r->pos;
    size_t k = avail < cap ? avail : cap;
    if (k > 0) {
        memcpy(p, r->buf + r->pos, k);
        r->pos += k;
    }
    return k;
}

enum kv_code
netio_reader_read_some(struct netio_reader *r, void *p, size_t cap, size_t *n, int64_t deadline_ms,
                       int stop_fd, struct kv_err *err)
{
    if (netio_reader_buffered(r) == 0) {
        if (cap >= sizeof r->buf)
            return netio_read_some(r->fd, p, cap, n, deadline_ms, stop_fd, err);
        enum kv_code rc = reader_fill(r, deadline_ms, stop_fd, err);
        if (rc != KV_OK)
            return rc;
    }
    *n = reader_take(r, p, cap);
    return KV_OK;
}

enum kv_code
netio_read_line(struct netio_reader *r, struct kv_buf *line, size_t max_len, int64_t deadline_ms,
                int stop_fd, struct kv_err *err)
{
    kv_buf_clear(line);
    for (;;) {
        const char *start = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        const char *nl = avail > 0 ? memchr(start, '\n', avail) : NULL;
        size_t take = nl != NULL ? (size_t)(nl - start) : avail;
        if (take > 0)
            kv_buf_append(line, start, take);
        r->pos += take + (nl != NULL ? 1 : 0);
        if (nl != NULL) {
            if (line->len > 0 && line->ptr[line->len - 1] == '\r')
                kv_buf_resize(line, line->len - 1);
            if (line->len > max_len)
                break;
            return KV_OK;
        }
        /* One byte of slack: it may be the '\r' of a terminator still in flight. */
        if (line->len > max_len && line->len - max_len > 1)
            break;
        enum kv_code rc = reader_fill(r, deadline_ms, stop_fd, err);
        if (rc != KV_OK)
            return rc;
    }
    return kv_err_set(err, KV_ERR_PROTOCOL, "read: line longer than %zu bytes", max_len);
}

enum kv_code
netio_read_n(struct netio_reader *r, void *dst, size_t n, int64_t deadline_ms, int stop_fd,
             struct kv_err *err)
{
    char *d = dst;
    size_t got = reader_take(r, d, n);
    while (got < n) {
        enum kv_code rc;
        if (n - got >= sizeof r->buf) {
            size_t k;
            rc = netio_read_some(r->fd, d + got, n - got, &k, deadline_ms, stop_fd, err);
            if (rc == KV_OK)
                got += k;
        } else {
            rc = reader_fill(r, deadline_ms, stop_fd, err);
            if (rc == KV_OK)
                got += reader_take(r, d + got, n - got);
        }
        if (rc != KV_OK)
            return rc;
    }
    return KV_OK;
}

enum kv_code
netio_reader_splice_some(struct netio_reader *r, const int pipe_fds[2], int file_fd, size_t cap,
                         size_t *n, int64_t deadline_ms, int stop_fd, struct kv_err *err)
{
    size_t buffered = netio_reader_buffered(r);
    if (buffered > 0) {
        size_t k = buffered < cap ? buffered : cap;
        enum kv_code rc = file_write_all(file_fd, r->buf + r->pos, k, err);
        if (rc != KV_OK)
            return rc;
        r->pos += k;
        *n = k;
        return KV_OK;
    }
    for (;;) {
        enum kv_code rc = wait_ready(r->fd, POLLIN, deadline_ms, stop_fd, "read", err);
        if (rc != KV_OK)
            return rc;
        ssize_t got =
            splice(r->fd, NULL, pipe_fds[1], NULL, cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (got == 0)
            return kv_err_set(err, KV_ERR_CLOSED, "read: connection closed by peer");
        if (got < 0) {
            if (would_block(errno))
                continue;
            return socket_error(errno, "read", err);
        }
        /* Everything that went into the pipe goes on to the file before returning. */
        for (size_t left = (size_t)got; left > 0;) {
            ssize_t w = splice(pipe_fds[0], NULL, file_fd, NULL, left, SPLICE_F_MOVE);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return kv_err_set(err, KV_ERR_IO, "write to file: %s",
                                  w < 0 ? strerror(errno) : "no progress");
            left -= (size_t)w;
        }
        *n = (size_t)got;
        return KV_OK;
    }
}
