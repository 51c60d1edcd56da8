/* SPDX-License-Identifier: Apache-2.0
 *
 * status: the one result-code space of the project and a fixed-size error record.
 *
 * Every fallible function returns an `enum kv_code`; KV_OK is zero. When the caller may need the
 * reason, the last parameter is a `struct kv_err *` (may be NULL) that receives a code and a
 * message. Error paths never allocate and nobody frees an error. Only the dispatcher turns codes
 * into RESP error prefixes (server/dispatch.c).
 *
 * Threads: any. A kv_err belongs to the caller that declared it.
 */
#ifndef KV_COMMON_STATUS_H
#define KV_COMMON_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum kv_code {
    KV_OK = 0,
    /* generic */
    KV_ERR = 1,     /* plain "-ERR <msg>" */
    KV_ERR_NOMEM,   /* allocation of a network-sized amount failed */
    KV_ERR_INVALID, /* bad argument value; replied as -ERR <msg> */
    KV_ERR_RANGE,   /* value out of range; replied as -ERR <msg> */
    KV_ERR_SYNTAX,  /* -ERR syntax error (or msg) */
    /* data */
    KV_NOTFOUND = 20, /* an expected outcome, not an error: key or field absent */
    KV_ERR_WRONGTYPE, /* -WRONGTYPE Operation against a key holding the wrong kind of value */
    KV_ERR_CORRUPT,   /* on-disk record cannot be decoded */
    KV_ERR_EXISTS,    /* NX-style condition: target already exists */
    /* I/O */
    KV_ERR_IO = 40, /* storage or socket error; msg says which */
    KV_ERR_TIMEOUT, /* a deadline passed */
    KV_ERR_CLOSED,  /* the peer closed the connection */
    KV_ERR_STOPPED, /* the calling thread was asked to stop */
    /* protocol and cluster: the message is the text after the prefix */
    KV_ERR_MOVED = 60,
    KV_ERR_ASK,
    KV_ERR_CROSSSLOT,
    KV_ERR_CLUSTERDOWN,
    KV_ERR_TRYAGAIN,
    KV_ERR_READONLY,
    KV_ERR_LOADING,
    KV_ERR_NOAUTH,
    KV_ERR_EXECABORT,
    KV_ERR_NOPROTO, /* -NOPROTO (HELLO with an unsupported version) */
    KV_ERR_MASTERDOWN,
    KV_ERR_NOSCRIPT,
    KV_ERR_BUSYKEY,
    KV_ERR_PROTOCOL, /* request framing error: reply then close the connection */
    /* replication */
    KV_ERR_WAL_GAP = 80,
    KV_ERR_NEED_FULLSYNC,
};

/* Size of the message buffer in struct kv_err, including the terminating NUL. */
#define KV_ERR_MSG_MAX 512

struct kv_err {
    enum kv_code code;
    char msg[KV_ERR_MSG_MAX]; /* NUL-terminated; empty means "use the code's default text" */
};

/* Record `code` and a printf-style message in `err` (when err is not NULL). Returns `code`, so a
 * caller can write `return kv_err_set(err, KV_ERR_INVALID, "value is not an integer")`. Newlines
 * in the message are replaced by spaces so it is always a valid RESP error line. */
enum kv_code kv_err_set(struct kv_err *err, enum kv_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err to KV_OK with an empty message. */
void kv_err_clear(struct kv_err *err);

/* A stable lower-case name for a code, for logs ("ok", "wrongtype", "timeout", ...). */
const char *kv_code_name(enum kv_code code);

#ifdef __cplusplus
}
#endif

#endif
