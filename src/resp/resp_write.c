/* SPDX-License-Identifier: Apache-2.0 */
#include "resp/resp_write.h"

#include <string.h>

#include <event2/buffer.h>

#include "common/strconv.h"

/* Header "<c><n>\r\n" for aggregates and bulks, formatted without printf. */
static void
write_header(struct resp_out *o, char c, int64_t n)
{
    char tmp[32];
    tmp[0] = c;
    size_t len = 1 + strconv_from_int64(n, tmp + 1);
    tmp[len++] = '\r';
    tmp[len++] = '\n';
    evbuffer_add(o->buf, tmp, len);
}

void
resp_write_raw(struct resp_out *o, const void *p, size_t n)
{
    evbuffer_add(o->buf, p, n);
}

void
resp_write_status(struct resp_out *o, const char *s)
{
    size_t n = strlen(s);
    char small[128];
    if (n + 3 <= sizeof small) {
        small[0] = '+';
        memcpy(small + 1, s, n);
        small[n + 1] = '\r';
        small[n + 2] = '\n';
        evbuffer_add(o->buf, small, n + 3);
        return;
    }
    evbuffer_add(o->buf, "+", 1);
    evbuffer_add(o->buf, s, n);
    evbuffer_add(o->buf, "\r\n", 2);
}

void
resp_write_ok(struct resp_out *o)
{
    evbuffer_add(o->buf, "+OK\r\n", 5);
}

void
resp_write_error_len(struct resp_out *o, const char *text, size_t len)
{
    evbuffer_add(o->buf, "-", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r' || text[i] == '\n') {
            evbuffer_add(o->buf, text + start, i - start);
            evbuffer_add(o->buf, " ", 1);
            start = i + 1;
        }
    }
    evbuffer_add(o->buf, text + start, len - start);
    evbuffer_add(o->buf, "\r\n", 2);
}

void
resp_write_error(struct resp_out *o, const char *text)
{
    resp_write_error_len(o, text, strlen(text));
}

void
resp_write_int(struct resp_out *o, int64_t v)
{
    write_header(o, ':', v);
}

void
resp_write_bulk(struct resp_out *o, const void *p, size_t n)
{
    if (n <= 256) {
        char tmp[300];
        tmp[0] = '$';
        size_t len = 1 + strconv_from_uint64(n, tmp + 1);
        tmp[len++] = '\r';
        tmp[len++] = '\n';
        if (n)
            memcpy(tmp + len, p, n);
        len += n;
        tmp[len++] = '\r';
        tmp[len++] = '\n';
        evbuffer_add(o->buf, tmp, len);
        return;
    }
    write_header(o, '$', (int64_t)n);
    evbuffer_add(o->buf, p, n);
    evbuffer_add(o->buf, "\r\n", 2);
}

void
resp_write_bulk_slice(struct resp_out *o, struct kv_slice s)
{
    resp_write_bulk(o, s.ptr, s.len);
}

void
resp_write_bulk_cstr(struct resp_out *o, const char *s)
{
    resp_write_bulk(o, s, strlen(s));
}

void
resp_write_bulk_int(struct resp_out *o, int64_t v)
{
    char tmp[STRCONV_INT64_BUF];
    size_t n = strconv_from_int64(v, tmp);
    resp_write_bulk(o, tmp, n);
}

void
resp_write_null(struct resp_out *o)
{
    if (o->proto >= 3)
        evbuffer_add(o->buf, "_\r\n", 3);
    else
        evbuffer_add(o->buf, "$-1\r\n", 5);
}

void
resp_write_null_array(struct resp_out *o)
{
    if (o->proto >= 3)
        evbuffer_add(o->buf, "_\r\n", 3);
    else
        evbuffer_add(o->buf, "*-1\r\n", 5);
}

void
resp_write_array(struct resp_out *o, size_t n)
{
    write_header(o, '*', (int64_t)n);
}

void
resp_write_map(struct resp_out *o, size_t pairs)
{
    if (o->proto >= 3)
        write_header(o, '%', (int64_t)pairs);
    else
        write_header(o, '*', (int64_t)(pairs * 2));
}

void
resp_write_set(struct resp_out *o, size_t n)
{
    write_header(o, o->proto >= 3 ? '~' : '*', (int64_t)n);
}

void
resp_write_push(struct resp_out *o, size_t n)
{
    write_header(o, o->proto >= 3 ? '>' : '*', (int64_t)n);
}

void
resp_write_double(struct resp_out *o, double d)
{
    char tmp[STRCONV_DOUBLE_BUF];
    size_t n = strconv_from_double(d, tmp);
    if (o->proto >= 3) {
        evbuffer_add(o->buf, ",", 1);
        evbuffer_add(o->buf, tmp, n);
        evbuffer_add(o->buf, "\r\n", 2);
    } else {
        resp_write_bulk(o, tmp, n);
    }
}

void
resp_write_bool(struct resp_out *o, bool b)
{
    if (o->proto >= 3)
        evbuffer_add(o->buf, b ? "#t\r\n" : "#f\r\n", 4);
    else
        evbuffer_add(o->buf, b ? ":1\r\n" : ":0\r\n", 4);
}

void
resp_write_verbatim(struct resp_out *o, const char *fmt, const void *p, size_t n)
{
    if (o->proto < 3) {
        resp_write_bulk(o, p, n);
        return;
    }
    write_header(o, '=', (int64_t)(n + 4));
    evbuffer_add(o->buf, fmt, 3);
    evbuffer_add(o->buf, ":", 1);
    evbuffer_add(o->buf, p, n);
    evbuffer_add(o->buf, "\r\n", 2);
}
