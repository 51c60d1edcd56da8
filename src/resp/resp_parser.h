/* SPDX-License-Identifier: Apache-2.0
 *
 * resp_parser: the incremental RESP2 request parser (multibulk `*N\r\n$L\r\n...` and inline
 * `word word "quoted word"\r\n`), as Redis parses requests.
 *
 * The parser never copies argument bytes: it records each argument as an (offset, length) pair
 * into the caller's read buffer. The caller owns the buffer and passes its current bytes on every
 * call; the parser keeps only offsets, so the caller may realloc the buffer between calls. When
 * the caller drops consumed bytes from the front of the buffer it calls resp_parser_rebase.
 *
 * Typical loop in a connection (conn.c):
 *     while ((rc = resp_parser_next(&p, buf, len, &lim, &err)) == KV_OK) {
 *         execute(p.argv offsets ...);
 *         resp_parser_done(&p);      // the request's bytes [0, p.pos) may now be dropped
 *     }
 *     if (rc == KV_ERR_PROTOCOL) reply "-ERR <err.msg>" and close
 *     // rc == KV_NOTFOUND: need more bytes; p.want says how many are known to be missing
 *
 * Limits (DESIGN.md section 3): multibulk count <= max_multibulk (1,048,576), bulk length <=
 * max_bulk (proto-max-bulk-len), inline line <= max_inline (64 KiB). Errors (err->msg, the text
 * after "ERR "), exactly as Redis words them:
 *     "Protocol error: invalid multibulk length"
 *     "Protocol error: invalid bulk length"
 *     "Protocol error: expected '$', got 'X'"
 *     "Protocol error: too big mbulk count string"
 *     "Protocol error: too big bulk count string"
 *     "Protocol error: too big inline request"
 *     "Protocol error: unbalanced quotes in request"
 * Empty requests (`*0\r\n`, `*-1\r\n`, empty or blank inline lines) are consumed silently.
 * Inline requests accept "\n" alone as the line end, as Redis does.
 *
 * Threads: a parser belongs to one connection and its worker.
 */
#ifndef KV_RESP_RESP_PARSER_H
#define KV_RESP_RESP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct resp_limits {
    size_t max_multibulk; /* max arguments in one request */
    size_t max_bulk;      /* max bytes in one bulk argument */
    size_t max_inline;    /* max bytes in one inline line */
};

struct resp_arg {
    size_t off; /* offset of the first byte in the caller's buffer */
    size_t len;
};

struct resp_parser {
    /* result of the last KV_OK: argc arguments in argv[0..argc) */
    struct resp_arg *argv; /* owned; grows as needed */
    size_t argc;
    size_t argv_cap;
    /* Offset just past the current (complete) request, or how far parsing got. */
    size_t pos;
    /* Bytes known to be missing for the request in progress (0 if unknown), so the caller can
     * reserve buffer space once for a big bulk. */
    size_t want;
    /* private state */
    int64_t mb_left;  /* bulks still to read in the current multibulk; -1 when none started */
    int64_t bulk_len; /* length of the bulk being read; -1 when its header is not read yet */
    size_t inline_buf_cap;
    char *inline_buf; /* owned; unescaped inline arguments live here, see resp_parser_arg */
    bool is_inline;   /* the last complete request was inline (args point into inline_buf) */
};

void resp_parser_init(struct resp_parser *p);
void resp_parser_deinit(struct resp_parser *p);

/* Parse the next request from buf[p->pos .. len). KV_OK: one complete request is in
 * argv/argc (argc >= 1) and p->pos is just past it. KV_NOTFOUND: incomplete, call again with
 * more bytes. KV_ERR_PROTOCOL: bad input, err->msg says why; the connection must be closed. */
enum kv_code resp_parser_next(struct resp_parser *p, const char *buf, size_t len,
                              const struct resp_limits *lim, struct kv_err *err);

/* Pointer to argument i of the last complete request. For multibulk requests it points into
 * `buf` (the same buffer passed to resp_parser_next); for inline requests into the parser's own
 * inline_buf (quotes and escapes resolved). Valid until the next resp_parser_next call or until
 * the buffer is changed. */
const char *resp_parser_arg(const struct resp_parser *p, const char *buf, size_t i);

/* Mark the last complete request as executed (clears argc). */
void resp_parser_done(struct resp_parser *p);

/* The caller removed `n` bytes from the front of its buffer (n <= p->pos): shift offsets. */
void resp_parser_rebase(struct resp_parser *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
