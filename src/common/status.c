/* SPDX-License-Identifier: Apache-2.0 */
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum kv_code
kv_err_set(struct kv_err *err, enum kv_code code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    for (char *p = err->msg; *p; p++) {
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    }
    return code;
}

void
kv_err_clear(struct kv_err *err)
{
    if (err == NULL)
        return;
    err->code = KV_OK;
    err->msg[0] = '\0';
}

const char *
kv_code_name(enum kv_code code)
{
    switch (code) {
    case KV_OK:
        return "ok";
    case KV_ERR:
        return "err";
    case KV_ERR_NOMEM:
        return "nomem";
    case KV_ERR_INVALID:
        return "invalid";
    case KV_ERR_RANGE:
        return "range";
    case KV_ERR_SYNTAX:
        return "syntax";
    case KV_NOTFOUND:
        return "notfound";
    case KV_ERR_WRONGTYPE:
        return "wrongtype";
    case KV_ERR_CORRUPT:
        return "corrupt";
    case KV_ERR_EXISTS:
        return "exists";
    case KV_ERR_IO:
        return "io";
    case KV_ERR_TIMEOUT:
        return "timeout";
    case KV_ERR_CLOSED:
        return "closed";
    case KV_ERR_STOPPED:
        return "stopped";
    case KV_ERR_MOVED:
        return "moved";
    case KV_ERR_ASK:
        return "ask";
    case KV_ERR_CROSSSLOT:
        return "crossslot";
    case KV_ERR_CLUSTERDOWN:
        return "clusterdown";
    case KV_ERR_TRYAGAIN:
        return "tryagain";
    case KV_ERR_READONLY:
        return "readonly";
    case KV_ERR_LOADING:
        return "loading";
    case KV_ERR_NOAUTH:
        return "noauth";
    case KV_ERR_EXECABORT:
        return "execabort";
    case KV_ERR_NOPROTO:
        return "noproto";
    case KV_ERR_MASTERDOWN:
        return "masterdown";
    case KV_ERR_NOSCRIPT:
        return "noscript";
    case KV_ERR_BUSYKEY:
        return "busykey";
    case KV_ERR_PROTOCOL:
        return "protocol";
    case KV_ERR_WAL_GAP:
        return "wal_gap";
    case KV_ERR_NEED_FULLSYNC:
        return "need_fullsync";
    }
    return "unknown";
}
