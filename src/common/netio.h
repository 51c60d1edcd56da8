/* SPDX-License-Identifier: Apache-2.0
 *
 * netio: blocking-style TCP helpers for threads that own a socket outright (the replication
 * link, cluster and migration clients), in the manner of Redis's syncio.c. Every call takes:
 *   - deadline_ms: an absolute CLOCK_MONOTONIC time in ms (common/clock.h clock_mono_ms() +
 *     timeout). It is required; there is no "0 means forever". A deadline already in the past
 *     still lets a call finish what it can do without waiting.
 *   - stop_fd: an fd polled together with the socket (kv_thread_stop_fd), or -1 for none. When
 *     it becomes readable the call returns KV_ERR_STOPPED at once. It is checked whenever the
 *     call would touch the socket; data already buffered in a netio_reader is returned without
 *     checking it.
 * The evented server never uses this module: its sockets belong to libevent.
 *
 * Results: KV_OK; KV_ERR_TIMEOUT (the deadline passed); KV_ERR_CLOSED (the peer closed the
 * connection: EOF, or EPIPE/ECONNRESET); KV_ERR_STOPPED (stop_fd readable); KV_ERR_IO (any other
 * failure, with strerror text in err); and KV_ERR_PROTOCOL from netio_read_line (line too
 * long). After any result other than KV_OK, how much was sent or consumed is unspecified: close
 * the connection. This module is the only place that looks at errno for sockets.
 *
 * Sockets are driven with MSG_DONTWAIT and poll(), so they may be blocking or non-blocking, but
 * they must be sockets (send/recv), not pipes or files. SIGPIPE is never raised (MSG_NOSIGNAL).
 *
 * Threads: any; a socket and its reader are used by one thread at a time.
 */
#ifndef KV_COMMON_NETIO_H
#define KV_COMMON_NETIO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read-ahead bytes kept per connection by a netio_reader. */
#define NETIO_READER_BUF 16384

/* Buffered reading for line-and-bulk protocols (RESP replies, the replication stream): one
 * recv fills up to NETIO_READER_BUF bytes, and netio_read_line / netio_read_n /
 * netio_reader_read_some take from it first. Once a reader is in use, read the socket only
 * through it, or buffered bytes are skipped. Caller-allocated; nothing to deinit. */
struct netio_reader {
    int fd;     /* borrowed: the socket; its owner closes it */
    size_t pos; /* next unread byte in buf */
    size_t len; /* end of the buffered bytes; pos <= len <= NETIO_READER_BUF */
    char buf[NETIO_READER_BUF];
};

void netio_reader_init(struct netio_reader *r, int fd);

/* Bytes read from the socket but not yet returned to the caller. */
size_t netio_reader_buffered(const struct netio_reader *r);

/* Connect to host:port over TCP. host is a numeric IPv4/IPv6 address or a name, resolved with
 * getaddrinfo; each address is tried in turn until one connects or the deadline passes. The
 * name lookup itself is not interruptible: it is bounded by the resolver's own timeouts, not by
 * deadline_ms (numeric addresses and /etc/hosts names return at once).
 *   fd_out (out) on KV_OK, a connected non-blocking, close-on-exec socket with TCP_NODELAY,
 *   owned by the caller (close(2) it). Untouched on failure.
 * Returns KV_OK, KV_ERR_TIMEOUT, KV_ERR_STOPPED, or KV_ERR_IO (refused, unreachable, unknown
 * host; text in err names host:port). */
enum kv_code netio_connect(const char *host, uint16_t port, int64_t deadline_ms, int stop_fd,
                           int *fd_out, struct kv_err *err);

/* Send all n bytes of p. Returns KV_OK once everything is in the kernel's send buffer. */
enum kv_code netio_write_all(int fd, const void *p, size_t n, int64_t deadline_ms, int stop_fd,
                             struct kv_err *err);

/* Send n bytes of the file file_fd from offset off with sendfile(2): no copy through user
 * space. Returns KV_OK once they are all in the kernel's send buffer; KV_ERR_IO also when the
 * file is shorter than off + n. */
enum kv_code netio_sendfile_all(int fd, int file_fd, uint64_t off, size_t n, int64_t deadline_ms,
                                int stop_fd, struct kv_err *err);

/* Wait until the socket has data, then read between 1 and cap bytes into p.
 *   n (out) bytes read, set on KV_OK only. cap must be > 0.
 * Returns KV_OK, KV_ERR_CLOSED on EOF, or another code as above. Does not look at any reader:
 * use netio_reader_read_some on a socket that has one. */
enum kv_code netio_read_some(int fd, void *p, size_t cap, size_t *n, int64_t deadline_ms,
                             int stop_fd, struct kv_err *err);

/* As netio_read_some, but returns buffered bytes first (without waiting) and reads the socket
 * only when the reader is empty. */
enum kv_code netio_reader_read_some(struct netio_reader *r, void *p, size_t cap, size_t *n,
                                    int64_t deadline_ms, int stop_fd, struct kv_err *err);

/* As netio_reader_read_some, but the bytes go to the file file_fd (at its offset) instead of
 * memory, through splice(2) without passing through user space: buffered bytes are written first
 * (without waiting), then between 1 and cap bytes move from the socket through pipe_fds, a pipe
 * the caller owns and uses for nothing else, to the file.
 *   n (out) bytes that reached the file, set on KV_OK only.
 * Returns as netio_reader_read_some, or KV_ERR_IO when writing the file failed. After a failure
 * the pipe may hold bytes: close it with the connection. */
enum kv_code netio_reader_splice_some(struct netio_reader *r, const int pipe_fds[2], int file_fd,
                                      size_t cap, size_t *n, int64_t deadline_ms, int stop_fd,
                                      struct kv_err *err);

/* Read one line: the bytes up to "\n", with a "\r" before it removed (so "+OK\r\n" and
 * "+OK\n" both give "+OK", as syncReadLine does).
 *   line (out) replaced with the line, terminator excluded. Contents unspecified on failure.
 *   max_len (in) the longest line accepted, terminator excluded.
 * Returns KV_OK, KV_ERR_PROTOCOL when no terminator came within max_len bytes, KV_ERR_CLOSED
 * when the peer closed before a full line (partial bytes are dropped), or another code. */
enum kv_code netio_read_line(struct netio_reader *r, struct kv_buf *line, size_t max_len,
                             int64_t deadline_ms, int stop_fd, struct kv_err *err);

/* Read exactly n bytes into dst (buffered bytes first; large remainders are received straight
 * into dst). Returns KV_OK, KV_ERR_CLOSED when EOF came first, or another code. */
enum kv_code netio_read_n(struct netio_reader *r, void *dst, size_t n, int64_t deadline_ms,
                          int stop_fd, struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
