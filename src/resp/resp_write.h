/* SPDX-License-Identifier: Apache-2.0
 *
 * resp_write: reply encoders appending to an evbuffer, in RESP2 or RESP3 as the connection
 * negotiated with HELLO. Aggregate shapes that only RESP3 has (map, set, push, double, bool,
 * null, verbatim) degrade to their RESP2 equivalents, as Redis does:
 *     map n        -> %n         | *2n
 *     set n        -> ~n         | *n
 *     push n       -> >n         | *n
 *     double d     -> ,d         | $len d
 *     bool b       -> #t / #f    | :1 / :0
 *     null         -> _          | $-1
 *     null array   -> _          | *-1
 *     verbatim     -> =len txt:  | $len
 *
 * Threads: the writer belongs to the connection's worker.
 */
#ifndef KV_RESP_RESP_WRITE_H
#define KV_RESP_RESP_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

#ifdef __cplusplus
extern "C" {
#endif

struct evbuffer;

struct resp_out {
    struct evbuffer *buf; /* borrowed: the connection's output buffer */
    int proto;            /* 2 or 3 */
};

void resp_write_raw(struct resp_out *o, const void *p, size_t n);
void resp_write_status(struct resp_out *o, const char *s); /* +s */
void resp_write_ok(struct resp_out *o);                    /* +OK */
/* -<text>: `text` is the whole error line without '-' and CRLF, e.g. "ERR syntax error". CR and
 * LF inside `text` are replaced by spaces. */
void resp_write_error(struct resp_out *o, const char *text);
void resp_write_error_len(struct resp_out *o, const char *text, size_t len);
void resp_write_int(struct resp_out *o, int64_t v);
void resp_write_bulk(struct resp_out *o, const void *p, size_t n);
void resp_write_bulk_slice(struct resp_out *o, struct kv_slice s);
void resp_write_bulk_cstr(struct resp_out *o, const char *s);
void resp_write_bulk_int(struct resp_out *o, int64_t v); /* an integer as a bulk string */
void resp_write_null(struct resp_out *o);
void resp_write_null_array(struct resp_out *o);
void resp_write_array(struct resp_out *o, size_t n);
void resp_write_map(struct resp_out *o, size_t pairs);
void resp_write_set(struct resp_out *o, size_t n);
void resp_write_push(struct resp_out *o, size_t n);
void resp_write_double(struct resp_out *o, double d);
void resp_write_bool(struct resp_out *o, bool b);
/* `fmt` is a 3-letter format ("txt"), used only in RESP3. */
void resp_write_verbatim(struct resp_out *o, const char *fmt, const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
