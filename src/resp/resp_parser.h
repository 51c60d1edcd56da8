/* SPDX-License-Identifier: Apache-2.0
 *
 * resp_parser: the incremental RESP2 request parser (multibulk `*N\r\n$L\r\n...` and inline
 * `word word "quoted word"\r\n`), as Redis parses requests (processMultibulkBuffer and
 * processInlineBuffer in networking.c). It does not parse replies or RESP3 types.
 *
 * The parser never copies multibulk argument bytes: it records each argument as an (offset,
 * length) pair into the caller's read buffer. The caller owns the buffer and passes its current
 * bytes on every call; the parser keeps only offsets, so the caller may realloc the buffer between
 * calls. When the caller drops consumed bytes from the front of the buffer it calls
 * resp_parser_rebase. Inline arguments are unescaped into the parser's own buffer.
 *
 * Typical loop in a connection (conn.c):
 *     while ((rc = resp_parser_next(&p, buf, len, &lim, &err)) == KV_OK) {
 *         execute(p.argc, resp_parser_arg(&p, buf, i), p.argv[i].len ...);
 *         resp_parser_done(&p);
 *     }
 *     if (rc == KV_ERR_PROTOCOL) reply "-ERR <err.msg>" and close
 *     // rc == KV_NOTFOUND: need more bytes; p.want says how many are known to be missing.
 *     // Bytes [0, p.pos) are no longer needed: drop them, then resp_parser_rebase(&p, p.pos).
 *
 * Cost: linear in the input however it is split. State survives between calls: completed
 * arguments are never looked at again, a bulk in progress costs O(1) per call, and the search
 * for a header or inline line end resumes where the previous call stopped.
 *
 * Limits (DESIGN.md section 3): multibulk count <= max_multibulk (1,048,576), bulk length <=
 * max_bulk (proto-max-bulk-len), inline line and header line (`*N`, `$L`) <= max_inline (64 KiB;
 * Redis uses PROTO_INLINE_MAX_SIZE for all three). Errors (err->msg, the text after "ERR "),
 * exactly as Redis words them:
 *     "Protocol error: invalid multibulk length"     count not an integer, or > max_multibulk
 *     "Protocol error: invalid bulk length"          length not an integer, < 0 or > max_bulk
 *     "Protocol error: expected '$', got 'X'"        a bulk header line not starting with '$'
 *     "Protocol error: too big mbulk count string"   no CR in the first max_inline + 1 bytes
 *     "Protocol error: too big bulk count string"    same, for a bulk header line
 *     "Protocol error: too big inline request"       no LF in the first max_inline + 1 bytes
 *     "Protocol error: unbalanced quotes in request"
 * Integers follow Redis's string2ll: no '+', no leading zeros, no "-0", no spaces.
 * Empty requests (`*0\r\n`, `*-N\r\n`, empty or blank inline lines) are consumed silently.
 * Inline requests accept "\n" alone as the line end, as Redis does.
 *
 * Redis quirks kept on purpose, verified against redis-server 7.0:
 *   - a header line ends at its first CR; the byte after the CR is skipped without checking that
 *     it is LF (`*1\rX$4\r\nPING\r\n` is PING), and the two bytes after a bulk's data are skipped
 *     unchecked (`$4\r\nPINGxx` is accepted);
 *   - a NUL byte before the end of a header or inline line hides the line end (Redis searches
 *     with strchr), so such a line waits for more bytes until the "too big" limit is crossed;
 *   - inline splitting is sdssplitargs: blanks are isspace() in the C locale, but an unquoted
 *     word ends only at space, tab, CR or LF ("a\vb" is one word); "..." knows \n \r \t \b \a
 *     \xHH and backslash-anything; '...' knows only \'; a closing quote must be followed by a
 *     blank or the line end.
 * The line-length limits are applied deterministically (the verdict does not depend on how the
 * bytes were split): a line whose terminator is within its first max_inline + 1 bytes is always
 * accepted, as Redis always does; a longer one is always refused, which Redis does whenever a
 * read ends inside it past the limit.
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
    size_t max_inline;    /* max bytes in one inline line or header line */
};

struct resp_arg {
    size_t off; /* offset of the first byte in the caller's buffer (or in inline_buf) */
    size_t len;
};

struct resp_parser {
    /* Result of the last KV_OK: argc arguments in argv[0..argc). While a multibulk request is
     * still arriving, argv[0..argc) holds its completed arguments. */
    struct resp_arg *argv; /* owned; grows as arguments arrive, never ahead of the data */
    size_t argc;
    size_t argv_cap;
    /* Offset just past the last complete request (empty requests included). After KV_OK it is the
     * end of the request in argv; after KV_NOTFOUND it is the start of the request in progress.
     * Bytes [0, pos) are not needed any more once resp_parser_done was called. */
    size_t pos;
    /* After KV_NOTFOUND: bytes known to be missing for the request in progress (0 if unknown).
     * For a bulk in progress this is the rest of the bulk plus its CRLF, so the caller can reserve
     * buffer space once for a big bulk. 0 after KV_OK. */
    size_t want;
    /* private state */
    size_t cursor;     /* next unparsed byte; >= pos; only moves forward (except by rebase) */
    size_t scan;       /* where the search for the current line's terminator resumes */
    uint64_t scanned;  /* bytes examined by line-end searches, ever; a work counter for tests */
    int64_t mb_left;   /* bulks still to read in the current multibulk; -1 when none started */
    int64_t bulk_len;  /* length of the bulk being read; -1 when its header is not read yet */
    bool line_blocked; /* a NUL precedes the current line's terminator (see quirks above) */
    bool is_inline;    /* the last complete request was inline (args point into inline_buf) */
    size_t inline_buf_cap;
    char *inline_buf; /* owned; unescaped inline arguments live here, see resp_parser_arg */
};

/* Make `p` an empty parser. Cannot fail; allocates nothing until input arrives. */
void resp_parser_init(struct resp_parser *p);
/* Free what the parser owns. Safe on an initialized parser in any state; p may then be
 * initialized again. */
void resp_parser_deinit(struct resp_parser *p);

/* Parse the next request from buf[0 .. len), resuming where the previous call stopped.
 * `buf` must hold the same bytes as before from offset p->pos on (the caller may append, realloc,
 * or drop a prefix it announced with resp_parser_rebase); len must not shrink below what was
 * already parsed. A complete request still in argv is implicitly marked done.
 *   KV_OK: one complete request is in argv/argc (argc >= 1) and p->pos is just past it.
 *   KV_NOTFOUND: incomplete, call again with more bytes (p->want may say how many).
 *   KV_ERR_PROTOCOL: bad input, err->msg says why (may be NULL); the connection must be closed.
 *     The parser state is left as it was, so calling again reports the same error.
 * Memory: argv grows with arguments that have arrived; inline_buf is at most max_inline. */
enum kv_code resp_parser_next(struct resp_parser *p, const char *buf, size_t len,
                              const struct resp_limits *lim, struct kv_err *err);

/* Pointer to argument i (< argc) of the last complete request; its length is p->argv[i].len. For
 * multibulk requests it points into `buf` (the same buffer passed to resp_parser_next); for inline
 * requests into the parser's own inline_buf (quotes and escapes resolved). Borrowed: valid until
 * the next resp_parser_next, resp_parser_done or resp_parser_rebase call, or until the buffer is
 * changed. */
const char *resp_parser_arg(const struct resp_parser *p, const char *buf, size_t i);

/* Mark the last complete request as executed (clears argc; gives back a large argv). A no-op
 * while a multibulk request is still arriving. */
void resp_parser_done(struct resp_parser *p);

/* The caller removed `n` bytes from the front of its buffer: shift offsets. Requires n <= p->pos
 * and no complete request pending (call resp_parser_done first). Arguments of a multibulk request
 * still arriving stay valid: they lie at or after pos. */
void resp_parser_rebase(struct resp_parser *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
