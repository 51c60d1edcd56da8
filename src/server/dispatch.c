/* SPDX-License-Identifier: Apache-2.0 */
#include "server/dispatch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "commands/command.h"
#include "commands/errors.h"
#include "common/clock.h"
#include "common/log.h"
#include "server/cluster_ctl.h"
#include "server/conn.h"
#include "server/multi.h"
#include "server/repl_ctl.h"
#include "server/server.h"
#include "server/worker.h"
#include "storage/storage.h"
#include "types/keylock.h"

struct error_prefix {
    enum kv_code code;
    const char *prefix;
    const char *default_msg;
};

/* The one table from codes to RESP error prefixes. */
static const struct error_prefix prefixes[] = {
    {KV_ERR_SYNTAX, "ERR", ERR_SYNTAX},
    {KV_ERR_WRONGTYPE, "WRONGTYPE", ERR_WRONGTYPE},
    {KV_ERR_MOVED, "MOVED", ""},
    {KV_ERR_ASK, "ASK", ""},
    {KV_ERR_CROSSSLOT, "CROSSSLOT", "Keys in request don't hash to the same slot"},
    {KV_ERR_CLUSTERDOWN, "CLUSTERDOWN", "Hash slot not served"},
    {KV_ERR_TRYAGAIN, "TRYAGAIN", "Multiple keys request during rehashing of slot"},
    {KV_ERR_READONLY, "READONLY", ERR_READONLY},
    {KV_ERR_LOADING, "LOADING", ERR_LOADING},
    {KV_ERR_NOAUTH, "NOAUTH", ERR_NOAUTH},
    {KV_ERR_EXECABORT, "EXECABORT", "Transaction discarded because of previous errors."},
    {KV_ERR_NOPROTO, "NOPROTO", "unsupported protocol version"},
    {KV_ERR_MASTERDOWN, "MASTERDOWN",
     "Link with MASTER is down and slave-serve-stale-data is set to 'no'."},
    {KV_ERR_NOSCRIPT, "NOSCRIPT", "No matching script. Please use EVAL."},
    {KV_ERR_BUSYKEY, "BUSYKEY", "Target key name already exists."},
};

/* The error line (without '-') for (code, msg) into line. */
static void
format_error(enum kv_code code, const char *msg, char *line, size_t cap)
{
    const char *prefix = "ERR";
    const char *def = "internal error";
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (prefixes[i].code == code) {
            prefix = prefixes[i].prefix;
            def = prefixes[i].default_msg;
            break;
        }
    }
    const char *text = msg != NULL && msg[0] != '\0' ? msg : def;
    /* Messages are at most KV_ERR_MSG_MAX, plus the EXECABORT wrapping; the bound keeps the
     * compiler's truncation analysis (-O3) quiet about longer hypothetical inputs. */
    snprintf(line, cap, "%s %.*s", prefix, KV_ERR_MSG_MAX + 100, text);
}

void
dispatch_write_error(struct resp_out *out, enum kv_code code, const char *msg)
{
    char line[KV_ERR_MSG_MAX + 300];
    format_error(code, msg, line, sizeof line);
    resp_write_error(out, line);
}

static void
reply_error(struct conn *c, enum kv_code code, const char *msg)
{
    dispatch_write_error(&c->rout, code, msg);
    atomic_fetch_add_explicit(&c->srv->stats.error_replies, 1, memory_order_relaxed);
}

static void
reply_unknown(struct conn *c, int argc, const struct kv_slice *argv)
{
    char args[256] = "";
    size_t used = 0;
    for (int i = 1; i < argc && used < 128; i++) {
        int room = 128 - (int)used;
        int n =
            snprintf(args + used, sizeof args - used, "'%.*s' ",
                     (int)(argv[i].len < (size_t)room ? argv[i].len : (size_t)room), argv[i].ptr);
        if (n < 0)
            break;
        used += (size_t)n;
        if (used >= sizeof args)
            used = sizeof args - 1;
    }
    char msg[KV_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "unknown command '%.*s', with args beginning with: %s",
             (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].ptr, args);
    reply_error(c, KV_ERR, msg);
}

/* A client whose command is named POST or "Host:" is most likely a web browser tricked into
 * posting to this port (cross-protocol scripting: an HTTP request whose body holds commands,
 * relying on the server to skip the header lines it does not understand). Like Redis, do not
 * answer: drop the connection, replies still queued for its earlier requests included, so
 * nothing of the body runs and the page learns nothing. The warning is logged at most once a
 * minute, so a flood of such requests cannot fill the log. */
static atomic_int_fast64_t cross_protocol_logged_ms; /* monotonic; 0 = never */

static bool
is_http_request(struct kv_slice name)
{
    return kv_slice_eq_nocase(name, "post") || kv_slice_eq_nocase(name, "host:");
}

static void
refuse_http_request(struct conn *c, struct kv_slice name)
{
    int64_t now = clock_mono_ms();
    int_fast64_t last = atomic_load_explicit(&cross_protocol_logged_ms, memory_order_relaxed);
    if ((last == 0 || now - last >= 60000) &&
        atomic_compare_exchange_strong_explicit(&cross_protocol_logged_ms, &last, now,
                                                memory_order_relaxed, memory_order_relaxed))
        LOG_WARN("possible cross-protocol attack: client %s sent '%.*s' as a command, as an "
                 "HTTP request does (a web page may be trying to send commands to this server); "
                 "connection closed without a reply (logged at most once a minute)",
                 c->addr, (int)name.len, name.ptr);
    conn_set_flag(c, CONN_F_CLOSE_ASAP);
}

/* Inside MULTI, a refused command makes EXEC abort (Redis' flagTransaction). */
static void
flag_transaction(struct conn *c)
{
    if (conn_has_flag(c, CONN_F_MULTI))
        conn_set_flag(c, CONN_F_DIRTY_EXEC);
}

/* A generic check refused the command. A refused EXEC discards the transaction and says why
 * (Redis' execCommandAbort): "EXECABORT Transaction discarded because of: <error>", where the
 * error loses an ERR prefix but keeps any other ("NOAUTH ..."). */
static void
reject(struct conn *c, const struct command_spec *cmd, struct command_stat *st, enum kv_code code,
       const char *msg)
{
    atomic_fetch_add_explicit(&st->rejected_calls, 1, memory_order_relaxed);
    if (strcmp(cmd->name, "exec") == 0) {
        multi_discard(c);
        char line[KV_ERR_MSG_MAX + 300];
        format_error(code, msg, line, sizeof line);
        const char *inner = strncmp(line, "ERR ", 4) == 0 ? line + 4 : line;
        char abort_msg[KV_ERR_MSG_MAX + 400];
        snprintf(abort_msg, sizeof abort_msg, "Transaction discarded because of: %s", inner);
        reply_error(c, KV_ERR_EXECABORT, abort_msg);
        return;
    }
    reply_error(c, code, msg);
    flag_transaction(c);
}

/* Commands whose first argument is a subcommand: Redis names them "name|sub" in messages. */
static const char *const container_commands[] = {
    "acl",    "client", "cluster", "clusterx", "command", "config",  "function", "latency",
    "memory", "module", "object",  "pubsub",   "script",  "slowlog", "xgroup",   "xinfo",
};

/* Redis' command full name: "get", or "config|get" for a subcommand. */
static void
command_fullname(const struct command_spec *cmd, int argc, const struct kv_slice *argv, char *out,
                 size_t cap)
{
    snprintf(out, cap, "%s", cmd->name);
    if (argc < 2 || argv[1].len == 0 || argv[1].len > 64)
        return;
    for (size_t i = 0; i < sizeof container_commands / sizeof container_commands[0]; i++) {
        if (strcmp(cmd->name, container_commands[i]) != 0)
            continue;
        size_t used = strlen(out);
        if (used + 1 + argv[1].len + 1 > cap)
            return;
        out[used++] = '|';
        for (size_t j = 0; j < argv[1].len; j++) {
            char ch = argv[1].ptr[j];
            out[used++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        out[used] = '\0';
        return;
    }
}

/* Call the proc and account for it. The caller holds the server lock (or EXEC does). */
static void
run_proc(struct conn *c, const struct command_spec *cmd, size_t index, int argc,
         struct kv_slice *argv, bool in_exec)
{
    struct server *srv = c->srv;
    struct command_stat *st = &srv->cmd_stats[index];
    struct kv_err err;
    kv_err_clear(&err);
    struct cmd_ctx ctx = {
        .conn = c,
        .srv = srv,
        .cmd = cmd,
        .argc = argc,
        .argv = argv,
        .out = &c->rout,
        .db = &c->db,
        .err = &err,
        .in_exec = in_exec,
    };
    /* A full sync may have swapped the storage since the last command (under the exclusive
     * lock, so reading it here, with the lock held, is safe). EXEC's queued commands come here
     * without dispatch_command. */
    c->db.st = srv->st;
    int64_t start = clock_mono_us();
    enum kv_code rc = cmd->proc(&ctx);
    int64_t elapsed = clock_mono_us() - start;
    server_slowlog_push(srv, c, argc, argv, elapsed);
    atomic_fetch_add_explicit(&st->calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->usec, (uint64_t)elapsed, memory_order_relaxed);
    if (rc != KV_OK) {
        if (rc == KV_NOTFOUND && err.msg[0] == '\0')
            snprintf(err.msg, sizeof err.msg, "%s", ERR_NO_SUCH_KEY);
        reply_error(c, rc, err.msg);
        atomic_fetch_add_explicit(&st->failed_calls, 1, memory_order_relaxed);
    }
}

/* Cluster mode: may this node run the command (cluster_ctl_route)? KV_OK, or the routing error
 * in err. Outside cluster mode always KV_OK. */
static enum kv_code
cluster_check(struct conn *c, const struct command_spec *cmd, int argc, struct kv_slice *argv,
              struct kv_err *err)
{
    if (!c->srv->cfg->cluster_enabled)
        return KV_OK;
    kv_err_clear(err);
    return cluster_ctl_route(c->srv, c, cmd, argc, argv, err);
}

/* A keyed command in cluster mode is answered by routing (a replica owns no slot, so writes get
 * MOVED), not by the read-only replica check. */
static bool
routed_by_cluster(const struct server *srv, const struct command_spec *cmd)
{
    return srv->cfg->cluster_enabled && (cmd->first_key > 0 || cmd->keys_fn != NULL);
}

/* May the command's writes be staged (group commit, worker.h)? Keyed data commands, which
 * neither run alone nor administer the server. The others (INFO, replication, cluster, EXEC,
 * FLUSHALL, MIGRATE ...) commit what is staged first and write directly: they read sequences,
 * wait on other threads or on the network, or expect every earlier write in the DB. */
static bool
stageable(const struct command_spec *cmd)
{
    if (cmd->flags & (CMD_EXCLUSIVE | CMD_ADMIN | CMD_REPLICATION | CMD_MULTI_CTRL))
        return false;
    if (!(cmd->flags & (CMD_WRITE | CMD_READONLY)))
        return false;
    return cmd->first_key > 0 || cmd->keys_fn != NULL;
}

void
dispatch_run_queued(struct conn *c, const struct command_spec *cmd, size_t index, int argc,
                    struct kv_slice *argv)
{
    /* Routed again under EXEC's lock hold: the slot may have moved since it was queued. */
    struct kv_err err;
    enum kv_code rc = cluster_check(c, cmd, argc, argv, &err);
    if (rc != KV_OK) {
        reply_error(c, rc, err.msg);
        return;
    }
    run_proc(c, cmd, index, argc, argv, true);
}

void
dispatch_command(struct conn *c, int argc, struct kv_slice *argv)
{
    struct server *srv = c->srv;
    size_t cmd_index = 0;
    const struct command_spec *cmd = command_lookup(argv[0], &cmd_index);
    /* Before any other check, but only among names that are no command: the lookup is needed
     * anyway, and a command's name costs nothing more. */
    if (cmd == NULL && is_http_request(argv[0])) {
        refuse_http_request(c, argv[0]);
        return;
    }
    atomic_fetch_add_explicit(&srv->stats.total_commands, 1, memory_order_relaxed);
    if (cmd == NULL) {
        reply_unknown(c, argc, argv);
        flag_transaction(c);
        return;
    }
    atomic_store_explicit(&c->last_cmd, cmd, memory_order_relaxed);
    struct command_stat *st = &srv->cmd_stats[cmd_index];
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        char msg[KV_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "wrong number of arguments for '%s' command", cmd->name);
        reject(c, cmd, st, KV_ERR, msg);
        return;
    }
    if (!conn_has_flag(c, CONN_F_AUTHED) && !(cmd->flags & CMD_NO_AUTH)) {
        reject(c, cmd, st, KV_ERR_NOAUTH, NULL);
        return;
    }
    if ((cmd->flags & CMD_ADMIN) && !conn_has_flag(c, CONN_F_ADMIN)) {
        reject(c, cmd, st, KV_ERR, ERR_ADMIN_REQUIRED);
        return;
    }
    bool in_multi = conn_has_flag(c, CONN_F_MULTI);
    if (in_multi && (cmd->flags & CMD_NO_MULTI)) {
        reject(c, cmd, st, KV_ERR, ERR_NOT_IN_MULTI);
        return;
    }
    /* RESP2 subscribed mode: the connection only carries pub/sub traffic (RESP3 pushes can be
     * told apart from replies, so RESP3 has no such restriction). */
    if (c->proto == 2 && conn_has_flag(c, CONN_F_PUBSUB) && !(cmd->flags & CMD_PUBSUB)) {
        char name[160];
        command_fullname(cmd, argc, argv, name, sizeof name);
        char msg[KV_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, ERR_PUBSUB_CONTEXT, name);
        reject(c, cmd, st, KV_ERR, msg);
        return;
    }
    if (atomic_load_explicit(&srv->loading, memory_order_acquire) &&
        !(cmd->flags & CMD_LOADING_OK)) {
        reject(c, cmd, st, KV_ERR_LOADING, NULL);
        return;
    }
    if (repl_ctl_is_replica(srv)) {
        /* Before the server lock: the atomic copies of the options (CONFIG SET, server.h). */
        if ((cmd->flags & CMD_WRITE) &&
            atomic_load_explicit(&srv->slave_read_only, memory_order_relaxed) &&
            !routed_by_cluster(srv, cmd)) {
            reject(c, cmd, st, KV_ERR_READONLY, NULL);
            return;
        }
        if (!atomic_load_explicit(&srv->slave_serve_stale_data, memory_order_relaxed) &&
            !(cmd->flags & CMD_STALE_OK) && !repl_ctl_link_up(srv)) {
            reject(c, cmd, st, KV_ERR_MASTERDOWN, NULL);
            return;
        }
    }
    struct kv_err route_err;
    enum kv_code route_rc;
    if (in_multi && !(cmd->flags & CMD_MULTI_CTRL)) {
        /* A routing error while queueing makes EXEC abort (Redis, Kvrocks). Routing may look
         * keys up (ASK during a migration): under the shared lock, with the storage bound. */
        route_rc = KV_OK;
        if (srv->cfg->cluster_enabled) {
            server_lock_shared(srv);
            c->db.st = srv->st;
            route_rc = cluster_check(c, cmd, argc, argv, &route_err);
            pthread_rwlock_unlock(&srv->lock);
        }
        if (route_rc != KV_OK) {
            reject(c, cmd, st, route_rc, route_err.msg);
            return;
        }
        multi_queue(c, cmd, cmd_index, argc, argv);
        resp_write_status(&c->rout, "QUEUED");
        return;
    }

    bool exclusive = (cmd->flags & CMD_EXCLUSIVE) != 0;
    bool staged = stageable(cmd);
    bool was_staging = false;
    if (!staged) {
        keylock_settle();
        was_staging = storage_stage_enable(false);
    }
    if (exclusive) {
        pthread_rwlock_wrlock(&srv->lock);
        server_wait_unstaged(srv);
    } else {
        server_lock_shared(srv);
    }
    /* Routed in the same lock hold as the execution (migrate_ctl.h), against the storage of
     * this lock hold (routing may look keys up). */
    c->db.st = srv->st;
    if ((route_rc = cluster_check(c, cmd, argc, argv, &route_err)) != KV_OK) {
        pthread_rwlock_unlock(&srv->lock);
        reject(c, cmd, st, route_rc, route_err.msg);
    } else {
        run_proc(c, cmd, cmd_index, argc, argv, false);
        pthread_rwlock_unlock(&srv->lock);
    }
    if (!staged)
        storage_stage_enable(was_staging);
}
