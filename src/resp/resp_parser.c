/* SPDX-License-Identifier: Apache-2.0
 *
 * resp_parser: the incremental request parser; the contract, the limits and the Redis quirks it
 * keeps are in resp_parser.h.
 *
 * Invariants between calls:
 *   pos <= cursor <= scan <= len of the last call;
 *   mb_left < 0: no multibulk in progress, cursor == pos is the start of the next request, and
 *     scan/line_blocked describe the search for its first line's end;
 *   mb_left > 0: argv[0..argc) are the completed arguments of the request starting at pos;
 *     bulk_len < 0 means cursor is at a bulk header line (scan/line_blocked describe the search
 *     for its CR), bulk_len >= 0 means cursor is at the first byte of that bulk's data;
 *   nothing before scan is searched again, nothing before cursor is parsed again.
 *
 * Threads: as the header says, one connection's worker.
 */
#include "resp/resp_parser.h"

#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/strconv.h"

/* resp_parser_done gives back an argv larger than this, so one huge request does not pin its
 * argument array for the life of the connection. */
#define RESP_ARGV_KEEP 1024

enum line_state {
    LINE_READY,   /* the terminator is at *end */
    LINE_PARTIAL, /* not found yet; more bytes may bring it */
    LINE_TOO_BIG, /* not within the first max_line + 1 bytes: a protocol error */
};

/* Find the terminator of the line starting at `start`, resuming the search at p->scan. The
 * terminator must lie within the first max_line + 1 bytes of the line. A NUL before it blocks
 * the line for good (Redis's strchr stops there), so only the length limit can end the wait. */
static enum line_state
find_line_end(struct resp_parser *p, const char *buf, size_t len, size_t start, char term,
              size_t max_line, size_t *end)
{
    size_t window = len - start;
    size_t limit = max_line < SIZE_MAX ? max_line + 1 : SIZE_MAX;
    size_t stop = window > limit ? start + limit : len;
    if (!p->line_blocked && p->scan < stop) {
        size_t n = stop - p->scan;
        const char *from = buf + p->scan;
        const char *t = memchr(from, term, n);
        size_t before = t != NULL ? (size_t)(t - from) : n;
        const char *z = memchr(from, '\0', before);
        if (z != NULL) {
            p->scanned += (size_t)(z - from) + 1;
            p->scan += (size_t)(z - from);
            p->line_blocked = true;
        } else if (t != NULL) {
            p->scanned += before + 1;
            p->scan += before;
            *end = p->scan;
            return LINE_READY;
        } else {
            p->scanned += n;
            p->scan = stop;
        }
    }
    return window > max_line ? LINE_TOO_BIG : LINE_PARTIAL;
}

/* Append an argument; `more` bounds how many may follow in this request, so the array never
 * grows past the request's size. Growth is geometric, and only for arguments that arrived. */
static void
push_arg(struct resp_parser *p, size_t off, size_t len, size_t more)
{
    if (p->argc == p->argv_cap) {
        size_t cap = p->argv_cap ? p->argv_cap * 2 : 8;
        if (cap - p->argc - 1 > more)
            cap = p->argc + 1 + more;
        p->argv = kv_realloc(p->argv, cap * sizeof *p->argv);
        p->argv_cap = cap;
    }
    p->argv[p->argc].off = off;
    p->argv[p->argc].len = len;
    p->argc++;
}

/* Start the next line at `at` (a new request, a new bulk header). */
static void
begin_line(struct resp_parser *p, size_t at)
{
    p->cursor = at;
    p->scan = at;
    p->line_blocked = false;
}

/* isspace() in the C locale, which is what sdssplitargs uses for blanks. */
static bool
is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Redis's sdssplitargs over line[0..n) (no NUL inside: find_line_end blocks on NUL). Unescaped
 * bytes go to inline_buf, which holds at least n bytes (unescaping never lengthens). Returns
 * false on unbalanced quotes, with argc back at 0. */
static bool
split_inline(struct resp_parser *p, const char *line, size_t n)
{
    char *out = p->inline_buf;
    size_t o = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && is_blank((unsigned char)line[i]))
            i++;
        if (i == n)
            return true;
        size_t arg_start = o;
        bool in_dq = false;
        bool in_sq = false;
        bool done = false;
        while (!done) {
            if (in_dq) {
                if (i == n)
                    goto unbalanced;
                char c = line[i];
                if (c == '\\' && i + 3 < n && line[i + 1] == 'x' &&
                    hex_value((unsigned char)line[i + 2]) >= 0 &&
                    hex_value((unsigned char)line[i + 3]) >= 0) {
                    out[o++] = (char)(hex_value((unsigned char)line[i + 2]) * 16 +
                                      hex_value((unsigned char)line[i + 3]));
                    i += 3;
                } else if (c == '\\' && i + 1 < n) {
                    i++;
                    switch (line[i]) {
                    case 'n':
                        out[o++] = '\n';
                        break;
                    case 'r':
                        out[o++] = '\r';
                        break;
                    case 't':
                        out[o++] = '\t';
                        break;
                    case 'b':
                        out[o++] = '\b';
                        break;
                    case 'a':
                        out[o++] = '\a';
                        break;
                    default:
                        out[o++] = line[i];
                        break;
                    }
                } else if (c == '"') {
                    /* A closing quote must be followed by a blank or the end. */
                    if (i + 1 < n && !is_blank((unsigned char)line[i + 1]))
                        goto unbalanced;
                    done = true;
                } else {
                    out[o++] = c;
                }
            } else if (in_sq) {
                if (i == n)
                    goto unbalanced;
                char c = line[i];
                if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
                    i++;
                    out[o++] = '\'';
                } else if (c == '\'') {
                    if (i + 1 < n && !is_blank((unsigned char)line[i + 1]))
                        goto unbalanced;
                    done = true;
                } else {
                    out[o++] = c;
                }
            } else if (i == n) {
                done = true;
            } else {
                /* Unquoted words end only here; \v and \f belong to the word. */
                switch (line[i]) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                    done = true;
                    break;
                case '"':
                    in_dq = true;
                    break;
                case '\'':
                    in_sq = true;
                    break;
                default:
                    out[o++] = line[i];
                    break;
                }
            }
            if (i < n)
                i++;
        }
        push_arg(p, arg_start, o - arg_start, n - i);
    }
unbalanced:
    p->argc = 0;
    return false;
}

/* An inline request starting at cursor. KV_OK with argc == 0 means a blank line was consumed. */
static enum kv_code
parse_inline(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim,
             struct kv_err *err)
{
    size_t start = p->cursor;
    size_t nl = 0;
    switch (find_line_end(p, buf, len, start, '\n', lim->max_inline, &nl)) {
    case LINE_TOO_BIG:
        return kv_err_set(err, KV_ERR_PROTOCOL, "Protocol error: too big inline request");
    case LINE_PARTIAL:
        return KV_NOTFOUND;
    case LINE_READY:
        break;
    }
    size_t end = nl;
    if (end > start && buf[end - 1] == '\r')
        end--;
    size_t n = end - start;
    if (n > p->inline_buf_cap) {
        /* n <= max_inline + 1: bounded by configuration, not by the peer. */
        kv_free(p->inline_buf);
        p->inline_buf = kv_malloc(n);
        p->inline_buf_cap = n;
    }
    if (!split_inline(p, buf + start, n))
        return kv_err_set(err, KV_ERR_PROTOCOL, "Protocol error: unbalanced quotes in request");
    begin_line(p, nl + 1);
    p->pos = p->cursor;
    p->is_inline = true;
    return KV_OK;
}

/* The `*N` line at cursor. KV_OK: mb_left > 0, or an empty request (N <= 0) was consumed. */
static enum kv_code
parse_count_line(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim,
                 struct kv_err *err)
{
    size_t start = p->cursor;
    size_t cr = 0;
    switch (find_line_end(p, buf, len, start, '\r', lim->max_inline, &cr)) {
    case LINE_TOO_BIG:
        return kv_err_set(err, KV_ERR_PROTOCOL, "Protocol error: too big mbulk count string");
    case LINE_PARTIAL:
        return KV_NOTFOUND;
    case LINE_READY:
        break;
    }
    if (len - cr < 2)
        return KV_NOTFOUND; /* the byte after CR (not checked to be LF) */
    int64_t count = 0;
    if (strconv_to_int64(buf + start + 1, cr - start - 1, &count) != KV_OK ||
        (count > 0 && (uint64_t)count > lim->max_multibulk))
        return kv_err_set(err, KV_ERR_PROTOCOL, "Protocol error: invalid multibulk length");
    begin_line(p, cr + 2);
    if (count <= 0) {
        p->pos = p->cursor;
        return KV_OK;
    }
    p->mb_left = count;
    p->bulk_len = -1;
    p->argc = 0;
    return KV_OK;
}

/* The `$L` line at cursor; on KV_OK bulk_len is set and cursor is at the data. */
static enum kv_code
parse_bulk_header(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim,
                  struct kv_err *err)
{
    size_t start = p->cursor;
    size_t cr = 0;
    switch (find_line_end(p, buf, len, start, '\r', lim->max_inline, &cr)) {
    case LINE_TOO_BIG:
        return kv_err_set(err, KV_ERR_PROTOCOL, "Protocol error: too big bulk count string");
    case LINE_PARTIAL:
        return KV_NOTFOUND;
    case LINE_READY:
        break;
    }
    if (len - cr < 2)
        return KV_NOTFOUND;
    if (buf[start] != '$')
        return kv_err_set(err, KV_ERR_PROTOCOL, "Protocol error: expected '$', got '%c'",
                          buf[start]);
    int64_t blen = 0;
    if (strconv_to_int64(buf + start + 1, cr - start - 1, &blen) != KV_OK || blen < 0 ||
        (uint64_t)blen > lim->max_bulk)
        return kv_err_set(err, KV_ERR_PROTOCOL, "Protocol error: invalid bulk length");
    begin_line(p, cr + 2);
    p->bulk_len = blen;
    return KV_OK;
}

void
resp_parser_init(struct resp_parser *p)
{
    memset(p, 0, sizeof *p);
    p->mb_left = -1;
    p->bulk_len = -1;
}

void
resp_parser_deinit(struct resp_parser *p)
{
    kv_free(p->argv);
    kv_free(p->inline_buf);
    resp_parser_init(p);
}

enum kv_code
resp_parser_next(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim,
                 struct kv_err *err)
{
    KV_ASSERT(p->scan <= len);
    resp_parser_done(p);
    p->want = 0;
    enum kv_code rc;
    while (p->mb_left < 0) {
        if (p->cursor == len)
            return KV_NOTFOUND;
        if (buf[p->cursor] == '*') {
            rc = parse_count_line(p, buf, len, lim, err);
        } else {
            rc = parse_inline(p, buf, len, lim, err);
            if (rc == KV_OK && p->argc > 0)
                return KV_OK;
        }
        if (rc != KV_OK)
            return rc;
    }
    while (p->mb_left > 0) {
        if (p->bulk_len < 0) {
            rc = parse_bulk_header(p, buf, len, lim, err);
            if (rc != KV_OK)
                return rc;
        }
        /* The two bytes after the data are skipped unchecked, as Redis does. */
        uint64_t need = (uint64_t)p->bulk_len + 2;
        uint64_t have = len - p->cursor;
        if (have < need) {
            p->want = (size_t)(need - have);
            return KV_NOTFOUND;
        }
        push_arg(p, p->cursor, (size_t)p->bulk_len, (size_t)(p->mb_left - 1));
        begin_line(p, p->cursor + (size_t)need);
        p->bulk_len = -1;
        p->mb_left--;
    }
    p->mb_left = -1;
    p->pos = p->cursor;
    p->is_inline = false;
    return KV_OK;
}

const char *
resp_parser_arg(const struct resp_parser *p, const char *buf, size_t i)
{
    KV_ASSERT(i < p->argc);
    return (p->is_inline ? p->inline_buf : buf) + p->argv[i].off;
}

void
resp_parser_done(struct resp_parser *p)
{
    if (p->mb_left >= 0)
        return;
    p->argc = 0;
    if (p->argv_cap > RESP_ARGV_KEEP) {
        kv_free(p->argv);
        p->argv = NULL;
        p->argv_cap = 0;
    }
}

void
resp_parser_rebase(struct resp_parser *p, size_t n)
{
    KV_ASSERT(n <= p->pos);
    KV_ASSERT(p->mb_left >= 0 || p->argc == 0);
    if (n == 0)
        return;
    p->pos -= n;
    p->cursor -= n;
    p->scan -= n;
    /* Arguments of a multibulk still arriving: once per request, since pos only moves when a
     * request completes. */
    for (size_t i = 0; i < p->argc; i++)
        p->argv[i].off -= n;
}
