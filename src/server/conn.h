/* SPDX-License-Identifier: Apache-2.0
 *
 * conn: one client connection. It reads into its own buffer, parses requests with resp_parser
 * (arguments are slices into that buffer, never copied), hands each complete request to the
 * dispatcher, and writes replies from its output evbuffer. Pipelined requests are all executed
 * before writing; a long pipeline yields to other connections of the worker after a bounded
 * batch. Reading pauses while more than 16 MiB of replies wait for a client that does not read
 * them, and resumes below 1 MiB. Before authentication, requests are limited as in Redis 7.0
 * (at most 10 arguments of at most 16 KiB each: "Protocol error: unauthenticated ... length").
 *
 * Ownership: a conn belongs to exactly one worker for its whole life; only that worker's thread
 * touches its buffers. Other threads may read the fields marked "shared" (CLIENT LIST) while
 * holding the worker's conns lock, and request a close with conn_request_close (which posts to
 * the owning worker).
 *
 * Threads: the owning worker, except where marked.
 */
#ifndef KV_SERVER_CONN_H
#define KV_SERVER_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/dlist.h"
#include "common/slice.h"
#include "resp/resp_parser.h"
#include "resp/resp_write.h"
#include "types/db.h"

#ifdef __cplusplus
extern "C" {
#endif

struct worker;
struct server;
struct command_spec;
struct event;
struct evbuffer;
struct multi_state;
struct watch_state;
struct block_state;
struct pubsub_state;

#define CONN_NAME_MAX 128
#define CONN_NS_MAX 256

/* Connection flags (shared: read by CLIENT LIST under the worker's conns lock). */
#define CONN_F_CLOSE_AFTER_REPLY (1u << 0) /* write pending replies, then close */
#define CONN_F_CLOSE_ASAP (1u << 1)        /* close without writing more */
#define CONN_F_ADMIN (1u << 2)             /* authenticated as admin (or no requirepass) */
#define CONN_F_AUTHED (1u << 3)            /* passed authentication */
#define CONN_F_MULTI (1u << 4)             /* inside MULTI */
#define CONN_F_PUBSUB (1u << 5)            /* subscribed to something */
#define CONN_F_REPLICA (1u << 6)           /* a replica's replication link */
#define CONN_F_MASTER (1u << 7)            /* our link to our master */
#define CONN_F_BLOCKED (1u << 8)           /* waiting in a blocking command */
#define CONN_F_READONLY (1u << 9)          /* cluster READONLY */
#define CONN_F_ASKING (1u << 10)           /* cluster ASKING, for one command */
#define CONN_F_MONITOR (1u << 11)
#define CONN_F_DIRTY_EXEC (1u << 12)  /* a queued command failed: EXEC aborts */
#define CONN_F_PAUSED_READ (1u << 13) /* reading paused: output backlog too big */
#define CONN_F_DETACH (1u << 14)      /* hand the socket over once the output is written */
/* The migration source's import link: set by CLUSTER IMPORT <range> 0 (server/migrate_ctl.c),
 * read by routing (cluster_route_req.importing_conn); conn_free then calls
 * migrate_ctl_on_conn_close. */
#define CONN_F_IMPORTING (1u << 15)

struct conn {
    uint64_t id; /* unique per process, from 1 */
    int fd;
    struct worker *w;   /* borrowed: the owner */
    struct server *srv; /* borrowed */
    struct dlist node;  /* in the worker's connection list */
    struct dlist held;  /* in the worker's held_out list while its output waits for a commit */

    struct event *read_ev;   /* owned */
    struct event *write_ev;  /* owned */
    struct event *resume_ev; /* owned: continues a pipeline after yielding */

    struct kv_buf in; /* read buffer; requests are parsed in place */
    struct resp_parser parser;
    struct evbuffer *out; /* owned: pending reply bytes */
    struct resp_out rout; /* writer over `out` with the negotiated protocol */

    struct db db;         /* keyspace handle for the connection's namespace; db.st is NULL until
                             the worker binds srv->st under the server lock (dispatch, blocking
                             retry), as a full sync swaps the storage under the exclusive lock */
    char ns[CONN_NS_MAX]; /* namespace name; db.ns points here */

    /* shared fields (see top comment) */
    atomic_uint flags;        /* CONN_F_* */
    char name[CONN_NAME_MAX]; /* CLIENT SETNAME; written under the worker's conns lock */
    char addr[64];            /* "ip:port" of the peer */
    char laddr[64];           /* "ip:port" of our end */
    int64_t ctime_ms;         /* connect time (wall) */
    atomic_int_fast64_t last_interaction_ms; /* monotonic */
    const struct command_spec *_Atomic last_cmd;
    atomic_size_t in_len;  /* query buffer length snapshot */
    atomic_size_t out_len; /* output buffer length snapshot */
    int proto;             /* 2 or 3; written under the worker's conns lock */

    /* statistics */
    uint64_t commands;

    /* Per-feature state, NULL until the feature is used; each owned by its module, which frees
     * it in its *_conn_free (called by conn_free). */
    struct multi_state *multi;   /* server/multi.c: queued commands inside MULTI */
    struct watch_state *watch;   /* server/watch.c: WATCHed keys */
    struct block_state *block;   /* server/blocking.c: the blocked command and its keys */
    struct pubsub_state *pubsub; /* server/pubsub.c: channels and patterns */
    /* shared (CLIENT LIST), written by their modules on the owning worker: channels and
     * patterns subscribed (pubsub.c), commands queued inside MULTI (multi.c) */
    atomic_int nsub;
    atomic_int npsub;
    atomic_int nqueued;

    /* conn_detach: who takes the socket over (replication threads). */
    void (*detach_fn)(void *arg, int fd);
    void *detach_arg;

    /* REPLCONF from a replica: announced listening port / ip, and our crc32c extension. */
    int repl_port;
    char repl_ip[64];
    bool repl_crc;
};

/* Create a connection for an accepted socket on worker w (takes ownership of fd). */
struct conn *conn_new(struct worker *w, int fd);

/* Close and free now (owning worker only): unregisters from the worker, closes the socket. */
void conn_free(struct conn *c);

/* Ask for the connection to be closed after the replies already queued are written
 * (QUIT, protocol errors). */
void conn_close_after_reply(struct conn *c);

/* From any thread: close the connection on its worker as soon as possible. */
void conn_request_close(struct conn *c);

/* Start reading (called by the worker once the conn is registered). */
void conn_start(struct conn *c);

/* Hand the socket over: once the replies already queued are written, the connection stops
 * reading, leaves its worker and is freed WITHOUT closing its socket, and fn(arg, fd) is called
 * on the worker's thread; fn owns fd from then on (PSYNC, _fetch_meta, _fetch_file pass it to a
 * replication thread). Bytes the client sent after the current request are dropped. If the
 * connection is closed before that (peer gone), fn is called with fd -1 so it can free arg. */
void conn_detach(struct conn *c, void (*fn)(void *arg, int fd), void *arg);

/* Continue parsing and running buffered requests later on the worker's loop (after a blocked
 * client is served, or when a feature paused input processing). Owning worker only. */
void conn_resume_input(struct conn *c);

/* Try to write pending output now; arms the write event if the socket is full. */
void conn_flush(struct conn *c);

/* Bytes of output not yet written. */
size_t conn_pending_output(const struct conn *c);

bool conn_has_flag(const struct conn *c, unsigned flag);
void conn_set_flag(struct conn *c, unsigned flag);
void conn_clear_flag(struct conn *c, unsigned flag);

/* Switch the keyspace to namespace `ns` (AUTH with a namespace token; takes the worker's conns
 * lock). */
void conn_set_namespace(struct conn *c, const char *ns);

/* CLIENT SETNAME (takes the worker's conns lock). */
void conn_set_name(struct conn *c, struct kv_slice name);

/* HELLO: the protocol version of the connection's replies, 2 or 3 (takes the worker's conns
 * lock; CLIENT LIST shows it). The caller switches its reply writer itself. */
void conn_set_proto(struct conn *c, int proto);

/* One CLIENT LIST / CLIENT INFO line (without the trailing newline) for c, appended to out.
 * Caller holds the owning worker's conns lock or is the owning worker. */
void conn_describe(const struct conn *c, struct kv_buf *out);

#ifdef __cplusplus
}
#endif

#endif
