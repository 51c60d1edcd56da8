/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_repl: replication commands. User-facing: SLAVEOF/REPLICAOF, ROLE, and DBDIGEST (our
 * consistency check: an order-independent digest of the keyspace, to prove that a replica
 * equals its master at a sequence). Internal, spoken by replicas (kvrocks-notes.md 3.2-3.4):
 * _db_name, REPLCONF, PSYNC, _fetch_meta, _fetch_file. The last three hand the connection's
 * socket over to a replication thread (conn_detach).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands/args.h"
#include "commands/command.h"
#include "commands/errors.h"
#include "common/clock.h"
#include "common/mem.h"
#include "common/slot.h"
#include "common/strconv.h"
#include "repl/repl_digest.h"
#include "repl/repl_master.h"
#include "server/conn.h"
#include "server/repl_ctl.h"
#include "server/server.h"
#include "types/db.h"

/* Whether host:port names this server itself. */
static bool
is_myself(struct server *srv, const char *host, int port)
{
    if (port != srv->cfg->port)
        return false;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
        strcmp(host, "::1") == 0 || strcmp(host, "0.0.0.0") == 0)
        return true;
    char bind[1024];
    snprintf(bind, sizeof bind, "%s", srv->cfg->bind ? srv->cfg->bind : "");
    char *save = NULL;
    for (char *t = strtok_r(bind, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        if (strcmp(t, host) == 0)
            return true;
    }
    return false;
}

/* SLAVEOF host port | NO ONE -> +OK. REPLICAOF is the same command. */
static enum kv_code
cmd_slaveof(struct cmd_ctx *ctx)
{
    struct server *srv = ctx->srv;
    if (srv->cfg->cluster_enabled)
        return args_error(ctx, KV_ERR, "can't change to slave in cluster mode");
    if (args_is(ctx, 1, "no") && args_is(ctx, 2, "one")) {
        enum kv_code rc = repl_ctl_set_master(srv, NULL, 0, ctx->err);
        if (rc == KV_OK)
            resp_write_ok(ctx->out);
        return rc;
    }
    int64_t port;
    if (strconv_to_int64(ctx->argv[2].ptr, ctx->argv[2].len, &port) != KV_OK || port < 1 ||
        port > 65535)
        return args_error(ctx, KV_ERR, "%s", ERR_NOT_INTEGER);
    char host[256];
    args_cstr(ctx, 1, host, sizeof host);
    if (is_myself(srv, host, (int)port))
        return args_error(ctx, KV_ERR, "can't replicate itself");
    struct repl_replica_info reps[64];
    size_t n = repl_master_replicas(repl_ctl_master(srv), reps, 64);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(reps[i].ip, host) == 0 && reps[i].port == (int)port)
            return args_error(ctx, KV_ERR, "can't replicate your own replicas");
    }
    enum kv_code rc = repl_ctl_set_master(srv, host, (int)port, ctx->err);
    if (rc == KV_OK)
        resp_write_ok(ctx->out);
    return rc;
}

/* ROLE -> ["master", offset, [[ip, port, offset]...]] or ["slave", host, port, state, offset]. */
static enum kv_code
cmd_role(struct cmd_ctx *ctx)
{
    repl_ctl_role(ctx->srv, ctx->out);
    return KV_OK;
}

/* _db_name -> the db-name as a raw line (not RESP: Kvrocks' wire format). */
static enum kv_code
cmd_db_name(struct cmd_ctx *ctx)
{
    const char *name = ctx->srv->cfg->db_name;
    resp_write_raw(ctx->out, name, strlen(name));
    resp_write_raw(ctx->out, "\r\n", 2);
    return KV_OK;
}

/* REPLCONF option value [option value ...] -> +OK. Options: listening-port, ip-address, and
 * our extension capa crc32c (checksummed file transfers). */
static enum kv_code
cmd_replconf(struct cmd_ctx *ctx)
{
    if ((ctx->argc - 1) % 2 != 0)
        return args_arity_error(ctx);
    for (int i = 1; i < ctx->argc; i += 2) {
        if (args_is(ctx, i, "listening-port")) {
            int64_t port;
            enum kv_code rc = args_int64_range(ctx, i + 1, 1, 65535, NULL, &port);
            if (rc != KV_OK)
                return rc;
            ctx->conn->repl_port = (int)port;
        } else if (args_is(ctx, i, "ip-address")) {
            if (ctx->argv[i + 1].len == 0)
                return args_error(ctx, KV_ERR, "ip-address should not be empty");
            args_cstr(ctx, i + 1, ctx->conn->repl_ip, sizeof ctx->conn->repl_ip);
        } else if (args_is(ctx, i, "capa") && args_is(ctx, i + 1, "crc32c")) {
            ctx->conn->repl_crc = true;
        } else {
            return args_error(ctx, KV_ERR, "unknown option");
        }
    }
    resp_write_ok(ctx->out);
    return KV_OK;
}

struct feeder_handoff {
    struct server *srv;
    uint64_t id;
    uint64_t seq;
    int port;
    char ip[64];
    char addr[64];
};

static void
start_feeder(void *arg, int fd)
{
    struct feeder_handoff *h = arg;
    if (fd >= 0 && h->srv->repl != NULL)
        repl_master_start_feeder(repl_ctl_master(h->srv), fd, h->id, h->seq, h->ip, h->port,
                                 h->addr);
    else if (fd >= 0)
        close(fd);
    kv_free(h);
}

/* PSYNC seq (or PSYNC replid seq) -> +OK then the WAL stream, written by a feeder thread; or
 * "ERR sequence out of range, please use fullsync". */
static enum kv_code
cmd_psync(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3)
        return args_arity_error(ctx);
    int si = ctx->argc - 1;
    uint64_t seq;
    if (strconv_to_uint64(ctx->argv[si].ptr, ctx->argv[si].len, &seq) != KV_OK)
        return args_error(ctx, KV_ERR, "value is not an unsigned long long or out of range");
    if (ctx->argc == 3 && ctx->argv[1].len != 16)
        return args_error(ctx, KV_ERR, "Wrong replication id length");
    enum kv_code rc = repl_master_psync_check(repl_ctl_master(ctx->srv), seq, ctx->err);
    if (rc != KV_OK)
        return rc;
    struct conn *c = ctx->conn;
    struct feeder_handoff *h = kv_calloc(1, sizeof *h);
    h->srv = ctx->srv;
    h->id = c->id;
    h->seq = seq;
    h->port = c->repl_port;
    const char *ip = c->repl_ip[0] ? c->repl_ip : c->addr;
    snprintf(h->ip, sizeof h->ip, "%s", ip);
    char *colon = strrchr(h->ip, ':');
    if (c->repl_ip[0] == '\0' && colon != NULL)
        *colon = '\0';
    snprintf(h->addr, sizeof h->addr, "%s", c->addr);
    conn_set_flag(c, CONN_F_REPLICA);
    conn_detach(c, start_feeder, h);
    return KV_OK;
}

struct serve_handoff {
    struct server *srv;
    char *names; /* owned; NULL for _fetch_meta */
    bool crc;
};

static void
start_serving(void *arg, int fd)
{
    struct serve_handoff *h = arg;
    if (fd >= 0 && h->srv->repl != NULL) {
        if (h->names == NULL)
            repl_master_serve_meta(repl_ctl_master(h->srv), fd);
        else
            repl_master_serve_files(repl_ctl_master(h->srv), fd, h->names, h->crc);
    } else if (fd >= 0) {
        close(fd);
    }
    kv_free(h->names);
    kv_free(h);
}

/* _fetch_meta -> one line: the checkpoint's files joined by ','. */
static enum kv_code
cmd_fetch_meta(struct cmd_ctx *ctx)
{
    struct serve_handoff *h = kv_calloc(1, sizeof *h);
    h->srv = ctx->srv;
    conn_detach(ctx->conn, start_serving, h);
    return KV_OK;
}

/* _fetch_file name,name,... -> for each file "<size>\r\n" and its bytes. */
static enum kv_code
cmd_fetch_file(struct cmd_ctx *ctx)
{
    struct serve_handoff *h = kv_calloc(1, sizeof *h);
    h->srv = ctx->srv;
    h->names = kv_memdup(ctx->argv[1].ptr, ctx->argv[1].len);
    h->crc = ctx->conn->repl_crc;
    conn_detach(ctx->conn, start_serving, h);
    return KV_OK;
}

/* DBDIGEST [start-slot end-slot] -> [digest (32 hex digits), sequence, keys]: the
 * order-independent digest of the live keys of the client's namespace (only those whose hash
 * slot is in [start, end] when given), taken under one storage snapshot (repl/repl_digest.h
 * says what it covers); `sequence` is the latest sequence that snapshot includes (compare with
 * master_repl_offset), `keys` how many keys were digested. Two servers hold the same data at
 * the same sequence when both fields are equal. O(N): it reads the whole namespace on the
 * calling worker, like KEYS. */
static enum kv_code
cmd_dbdigest(struct cmd_ctx *ctx)
{
    int64_t lo = 0, hi = SLOT_COUNT - 1;
    if (ctx->argc != 1 && ctx->argc != 3)
        return args_arity_error(ctx);
    if (ctx->argc == 3) {
        enum kv_code rc = args_int64_range(ctx, 1, 0, SLOT_COUNT - 1, "Invalid slot range", &lo);
        if (rc == KV_OK)
            rc = args_int64_range(ctx, 2, 0, SLOT_COUNT - 1, "Invalid slot range", &hi);
        if (rc != KV_OK)
            return rc;
        if (lo > hi)
            return args_error(ctx, KV_ERR, "Invalid slot range");
    }
    struct repl_digest d;
    enum kv_code rc = repl_digest_compute(ctx->db->st, ctx->db->ns, ctx->db->cluster, (uint16_t)lo,
                                          (uint16_t)hi, clock_now_ms(), &d, ctx->err);
    if (rc != KV_OK)
        return rc;
    char hex[33];
    repl_digest_hex(&d, hex);
    resp_write_array(ctx->out, 3);
    resp_write_bulk_cstr(ctx->out, hex);
    resp_write_int(ctx->out, (int64_t)d.seq);
    resp_write_int(ctx->out, (int64_t)d.keys);
    return KV_OK;
}

#define REPL_INTERNAL (CMD_REPLICATION | CMD_NO_MULTI | CMD_NO_SCRIPT | CMD_STALE_OK)
/* Allowed while loading: a full sync (with slave-empty-db-before-fullsync, the whole transfer)
 * must stay abortable by SLAVEOF NO ONE / another master. */
#define SLAVEOF_FLAGS (CMD_ADMIN | CMD_NO_MULTI | CMD_STALE_OK | CMD_NO_SCRIPT | CMD_LOADING_OK)

const struct command_spec repl_commands[] = {
    {"_db_name", cmd_db_name, 1, REPL_INTERNAL, 0, 0, 0, NULL, "replication"},
    {"_fetch_file", cmd_fetch_file, 2, REPL_INTERNAL, 0, 0, 0, NULL, "replication"},
    {"_fetch_meta", cmd_fetch_meta, 1, REPL_INTERNAL, 0, 0, 0, NULL, "replication"},
    {"dbdigest", cmd_dbdigest, -1, CMD_READONLY | CMD_SLOW | CMD_STALE_OK, 0, 0, 0, NULL,
     "replication"},
    {"psync", cmd_psync, -2, REPL_INTERNAL, 0, 0, 0, NULL, "replication"},
    {"replconf", cmd_replconf, -3, REPL_INTERNAL, 0, 0, 0, NULL, "replication"},
    {"replicaof", cmd_slaveof, 3, SLAVEOF_FLAGS, 0, 0, 0, NULL, "replication"},
    {"role", cmd_role, 1, CMD_LOADING_OK | CMD_STALE_OK | CMD_FAST, 0, 0, 0, NULL, "replication"},
    {"slaveof", cmd_slaveof, 3, SLAVEOF_FLAGS, 0, 0, 0, NULL, "replication"},
};
const size_t repl_commands_len = sizeof repl_commands / sizeof repl_commands[0];
