/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_server: server and introspection commands: INFO, CONFIG, DBSIZE, FLUSHDB, FLUSHALL, TIME,
 * COMMAND, CLIENT, SHUTDOWN, DEBUG SLEEP, SLOWLOG.
 *
 * Replies and error texts are Redis 7.0's, except where the command is Kvrocks' own or Kvrocks
 * decides the semantics:
 *   - CONFIG SET works on Kvrocks' options, so its value errors read as Kvrocks words them:
 *     "ERR CONFIG SET '<name>' error: <reason>" (also for a duplicate name); the shape of the
 *     command (several pairs, arity, unknown subcommands) is Redis 7.0's. Several pairs are
 *     applied all or nothing.
 *   - DBSIZE SCAN (Kvrocks): starts a background count and replies +OK; DBSIZE itself counts
 *     the live keys of the namespace now (exact), which also refreshes INFO keyspace.
 *   - COMMAND and COMMAND INFO give Kvrocks' 6-element entries (name, arity, flags, first key,
 *     last key, step), with Redis' flag names; COMMAND DOCS gives only each command's group.
 *   - CLIENT SETNAME refuses names longer than CONN_NAME_MAX - 1 bytes (Redis has no limit;
 *     the connection keeps its name in a fixed buffer), rather than truncating them.
 *   - SHUTDOWN accepts Redis' NOSAVE/SAVE/NOW/FORCE (all the same here: the WAL already holds
 *     every acknowledged write) and ABORT ("No shutdown in progress.": ours is immediate).
 *   - DEBUG (only SLEEP) needs an admin connection.
 *   - COMPACT (Kvrocks, admin) replies +OK once the compaction is done, where Kvrocks replies
 *     at once and compacts in the background (see cmd_compact).
 * CONFIG is CMD_EXCLUSIVE as a whole (Kvrocks makes only CONFIG SET exclusive; our table has one
 * flag word per command, and CONFIG GET is rare and cheap). FLUSHDB is CMD_EXCLUSIVE too, as
 * FLUSHALL (Kvrocks runs it alongside other commands: see cmd_flushdb).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands/args.h"
#include "commands/command.h"
#include "common/clock.h"
#include "common/glob.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/strconv.h"
#include "server/blocking.h"
#include "server/conn.h"
#include "server/migrate_ctl.h"
#include "server/server.h"
#include "server/watch.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers shared by the container commands (CONFIG, CLIENT, COMMAND, SLOWLOG)                */

struct subcommand {
    const char *name; /* lower case */
    command_proc proc;
    int arity; /* counting the command and the subcommand, with Redis' sign convention */
};

/* Run the subcommand named by argv[1]: Redis 7.0's arity and unknown-subcommand errors. */
static enum kv_code
run_subcommand(struct cmd_ctx *ctx, const struct subcommand *subs, size_t n, const char *upper)
{
    for (size_t i = 0; i < n; i++) {
        if (!args_is(ctx, 1, subs[i].name))
            continue;
        int a = subs[i].arity;
        if ((a > 0 && ctx->argc != a) || (a < 0 && ctx->argc < -a))
            return args_error(ctx, KV_ERR, "wrong number of arguments for '%s|%s' command",
                              ctx->cmd->name, subs[i].name);
        return subs[i].proc(ctx);
    }
    size_t len = ctx->argv[1].len < 128 ? ctx->argv[1].len : 128;
    return args_error(ctx, KV_ERR, "unknown subcommand '%.*s'. Try %s HELP.", (int)len,
                      ctx->argv[1].ptr, upper);
}

/* A HELP reply: the heading, the given lines, then HELP's own two lines (Redis' addReplyHelp). */
static void
write_help(struct resp_out *out, const char *upper, const char *const *lines)
{
    size_t n = 0;
    while (lines[n] != NULL)
        n++;
    char head[128];
    snprintf(head, sizeof head,
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
    resp_write_array(out, n + 3);
    resp_write_status(out, head);
    for (size_t i = 0; i < n; i++)
        resp_write_status(out, lines[i]);
    resp_write_status(out, "HELP");
    resp_write_status(out, "    Prints this help.");
}

/* A NUL-terminated owned copy of argv[i] (free with kv_free). */
static char *
arg_dup(const struct cmd_ctx *ctx, int i)
{
    return kv_memdup(ctx->argv[i].ptr, ctx->argv[i].len);
}

/* The namespace of the client, as a C string. */
static void
client_ns(const struct cmd_ctx *ctx, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)ctx->db->ns.len, ctx->db->ns.ptr);
}

/* ------------------------------------------------------------------------------------------ */
/* INFO                                                                                       */

/* INFO [section ...] -> the INFO text (bulk string; verbatim in RESP3). */
static enum kv_code
cmd_info(struct cmd_ctx *ctx)
{
    char ns[CONN_NS_MAX];
    client_ns(ctx, ns, sizeof ns);
    struct kv_buf text = KV_BUF_INIT;
    server_info(ctx->srv, ns, ctx->argv + 1, (size_t)(ctx->argc - 1), &text);
    resp_write_verbatim(ctx->out, "txt", text.ptr, text.len);
    kv_buf_deinit(&text);
    return KV_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* CONFIG                                                                                     */

/* CONFIG GET's result: each option once, in the order the patterns found them. */
struct config_pairs {
    char **items; /* owned: name, value, name, value ... */
    size_t count; /* number of strings in items */
    size_t cap;
};

static bool
pairs_has(const struct config_pairs *p, const char *name)
{
    for (size_t i = 0; i < p->count; i += 2) {
        if (strcmp(p->items[i], name) == 0)
            return true;
    }
    return false;
}

static void
collect_pair(const char *name, const char *value, void *arg)
{
    struct config_pairs *p = arg;
    if (pairs_has(p, name))
        return;
    if (p->count + 2 > p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->items = kv_realloc(p->items, p->cap * sizeof *p->items);
    }
    p->items[p->count++] = kv_strdup(name);
    p->items[p->count++] = kv_strdup(value);
}

/* CONFIG GET pattern [pattern ...] -> name/value pairs (a map in RESP3), each option once. */
static enum kv_code
cmd_config_get(struct cmd_ctx *ctx)
{
    struct config_pairs p;
    memset(&p, 0, sizeof p);
    for (int i = 2; i < ctx->argc; i++) {
        char *pattern = arg_dup(ctx, i);
        config_match(ctx->srv->cfg, pattern, collect_pair, &p);
        kv_free(pattern);
    }
    resp_write_map(ctx->out, p.count / 2);
    for (size_t i = 0; i < p.count; i++) {
        resp_write_bulk_cstr(ctx->out, p.items[i]);
        kv_free(p.items[i]);
    }
    kv_free(p.items);
    return KV_OK;
}

/* CONFIG SET name value [name value ...] -> +OK; all pairs or none are applied. */
static enum kv_code
cmd_config_set(struct cmd_ctx *ctx)
{
    if (ctx->argc % 2 != 0)
        return args_syntax_error(ctx);
    int npairs = (ctx->argc - 2) / 2;
    for (int i = 0; i < npairs; i++) {
        for (int j = 0; j < i; j++) {
            const struct kv_slice a = ctx->argv[2 + 2 * i], b = ctx->argv[2 + 2 * j];
            if (a.len == b.len && strncasecmp(a.ptr, b.ptr, a.len) == 0)
                return args_error(ctx, KV_ERR, "CONFIG SET '%.*s' error: duplicate parameter",
                                  (int)a.len, a.ptr);
        }
    }
    struct config *cfg = ctx->srv->cfg;
    char **old = kv_calloc((size_t)npairs, sizeof *old);
    enum kv_code rc = KV_OK;
    int applied = 0;
    for (; applied < npairs; applied++) {
        char *name = arg_dup(ctx, 2 + 2 * applied);
        char *value = arg_dup(ctx, 3 + 2 * applied);
        struct kv_buf cur = KV_BUF_INIT;
        if (config_get(cfg, name, &cur) == KV_OK)
            old[applied] = kv_buf_steal(&cur, NULL);
        kv_buf_deinit(&cur);
        struct kv_err why;
        kv_err_clear(&why);
        rc = config_set_runtime(cfg, name, value, &why);
        if (rc != KV_OK)
            args_error(ctx, KV_ERR, "CONFIG SET '%s' error: %s", name, why.msg);
        else
            LOG_INFO("CONFIG SET %s changed by %s", name, ctx->conn->addr);
        kv_free(name);
        kv_free(value);
        if (rc != KV_OK)
            break;
    }
    if (rc != KV_OK) {
        /* Put back what the earlier pairs changed, newest first. */
        for (int i = applied - 1; i >= 0; i--) {
            char *name = arg_dup(ctx, 2 + 2 * i);
            struct kv_err ignored;
            if (old[i] != NULL && config_set_runtime(cfg, name, old[i], &ignored) != KV_OK)
                LOG_WARN("CONFIG SET: cannot restore %s to '%s': %s", name, old[i], ignored.msg);
            kv_free(name);
        }
    }
    for (int i = 0; i < npairs; i++)
        kv_free(old[i]);
    kv_free(old);
    if (rc != KV_OK)
        return KV_ERR;
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* CONFIG REWRITE -> +OK after rewriting the config file. */
static enum kv_code
cmd_config_rewrite(struct cmd_ctx *ctx)
{
    enum kv_code rc = config_rewrite(ctx->srv->cfg, ctx->err);
    if (rc != KV_OK)
        return rc;
    LOG_INFO("CONFIG REWRITE executed with success");
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* CONFIG RESETSTAT -> +OK after zeroing INFO stats and commandstats. */
static enum kv_code
cmd_config_resetstat(struct cmd_ctx *ctx)
{
    server_reset_stats(ctx->srv);
    resp_write_ok(ctx->out);
    return KV_OK;
}

static enum kv_code
cmd_config_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL,
    };
    write_help(ctx->out, "CONFIG", lines);
    return KV_OK;
}

static const struct subcommand config_subcommands[] = {
    {"get", cmd_config_get, -3},        {"set", cmd_config_set, -4},
    {"rewrite", cmd_config_rewrite, 2}, {"resetstat", cmd_config_resetstat, 2},
    {"help", cmd_config_help, 2},
};

/* CONFIG GET|SET|REWRITE|RESETSTAT|HELP ... */
static enum kv_code
cmd_config(struct cmd_ctx *ctx)
{
    return run_subcommand(ctx, config_subcommands,
                          sizeof config_subcommands / sizeof config_subcommands[0], "CONFIG");
}

/* ------------------------------------------------------------------------------------------ */
/* Keyspace-wide commands                                                                     */

/* DBSIZE -> the number of live keys of the client's namespace; DBSIZE SCAN -> +OK (Kvrocks:
 * starts a background count that INFO keyspace then shows). */
static enum kv_code
cmd_dbsize(struct cmd_ctx *ctx)
{
    if (ctx->argc == 1) {
        struct keyspace_stats ks;
        enum kv_code rc = server_keyspace_scan(ctx->srv, ctx->db, &ks, ctx->err);
        if (rc != KV_OK)
            return rc;
        resp_write_int(ctx->out, (int64_t)ks.keys);
        return KV_OK;
    }
    if (ctx->argc == 2 && args_is(ctx, 1, "scan")) {
        char ns[CONN_NS_MAX];
        client_ns(ctx, ns, sizeof ns);
        enum kv_code rc = server_keyspace_scan_async(ctx->srv, ns, ctx->err);
        if (rc != KV_OK)
            return rc;
        resp_write_ok(ctx->out);
        return KV_OK;
    }
    return args_error(ctx, KV_ERR, "DBSIZE subcommand only supports scan");
}

/* The optional ASYNC|SYNC of FLUSHDB/FLUSHALL (both do the same: a range delete). */
static enum kv_code
flush_mode(struct cmd_ctx *ctx)
{
    if (ctx->argc == 1 || (ctx->argc == 2 && (args_is(ctx, 1, "async") || args_is(ctx, 1, "sync"))))
        return KV_OK;
    return args_syntax_error(ctx);
}

/* FLUSHDB [ASYNC|SYNC] -> +OK after deleting every key of the client's namespace.
 * CMD_EXCLUSIVE, as FLUSHALL (Kvrocks runs FLUSHDB alongside other commands): the range delete
 * only drops the metadata records, so a write made from metadata read before it but written
 * after it (another worker's command staged until its round ends, or simply still running)
 * would bring the key back whole, with every old sub-key of its version. Alone, it comes after
 * every such write is in the DB (server_wait_unstaged). */
static enum kv_code
cmd_flushdb(struct cmd_ctx *ctx)
{
    enum kv_code rc = flush_mode(ctx);
    if (rc != KV_OK)
        return rc;
    rc = db_flush(ctx->db, ctx->err);
    if (rc != KV_OK)
        return rc;
    watch_on_flush(ctx->srv, &ctx->db->ns);
    migrate_ctl_on_flush(ctx->srv);
    char ns[CONN_NS_MAX];
    client_ns(ctx, ns, sizeof ns);
    server_keyspace_flushed(ctx->srv, ns);
    LOG_WARN("DB keys in namespace %s were flushed by %s", ns, ctx->conn->addr);
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* FLUSHALL [ASYNC|SYNC] -> +OK after deleting every key of every namespace. */
static enum kv_code
cmd_flushall(struct cmd_ctx *ctx)
{
    enum kv_code rc = flush_mode(ctx);
    if (rc != KV_OK)
        return rc;
    rc = db_flush_all(ctx->db->st, ctx->err);
    if (rc != KV_OK)
        return rc;
    watch_on_flush(ctx->srv, NULL);
    migrate_ctl_on_flush(ctx->srv);
    server_keyspace_flushed(ctx->srv, NULL);
    LOG_WARN("all DB keys were flushed by %s", ctx->conn->addr);
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* COMPACT -> +OK after compacting every column family (storage_compact_all): the sub-keys of
 * deleted, overwritten and expired keys are then gone from disk. The reply waits for the end of
 * the compaction, so it tells when the space is back, and no background job is left to stop at
 * shutdown or before a full sync swaps the DB. Meanwhile this worker's other clients and any
 * exclusive command wait; refused inside MULTI, whose EXEC would run it exclusively. */
static enum kv_code
cmd_compact(struct cmd_ctx *ctx)
{
    LOG_INFO("manual compaction of every column family requested by %s", ctx->conn->addr);
    int64_t start = clock_mono_ms();
    enum kv_code rc = storage_compact_all(ctx->db->st, ctx->err);
    if (rc != KV_OK)
        return rc;
    LOG_INFO("manual compaction done in %lld ms", (long long)(clock_mono_ms() - start));
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* TIME -> [unix seconds, microseconds] as bulk strings. */
static enum kv_code
cmd_time(struct cmd_ctx *ctx)
{
    int64_t now = clock_now_us();
    resp_write_array(ctx->out, 2);
    resp_write_bulk_int(ctx->out, now / 1000000);
    resp_write_bulk_int(ctx->out, now % 1000000);
    return KV_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* COMMAND                                                                                    */

struct flag_name {
    uint32_t flag;
    const char *name;
};

/* Our flags under Redis' names (COMMAND INFO); flags Redis has no word for are not shown. */
static const struct flag_name flag_names[] = {
    {CMD_WRITE, "write"},        {CMD_READONLY, "readonly"},  {CMD_ADMIN, "admin"},
    {CMD_PUBSUB, "pubsub"},      {CMD_NO_SCRIPT, "noscript"}, {CMD_BLOCKING, "blocking"},
    {CMD_LOADING_OK, "loading"}, {CMD_STALE_OK, "stale"},     {CMD_SKIP_MONITOR, "skip_monitor"},
    {CMD_FAST, "fast"},          {CMD_NO_AUTH, "no_auth"},    {CMD_NO_MULTI, "no_multi"},
};

/* One COMMAND INFO entry: [name, arity, [flags...], first key, last key, step]. */
static void
write_command_info(struct resp_out *out, const struct command_spec *c)
{
    size_t nflags = 0;
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
        nflags += (c->flags & flag_names[i].flag) != 0;
    if (c->keys_fn != NULL)
        nflags++;
    resp_write_array(out, 6);
    resp_write_bulk_cstr(out, c->name);
    resp_write_int(out, c->arity);
    resp_write_set(out, nflags);
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
        if (c->flags & flag_names[i].flag)
            resp_write_status(out, flag_names[i].name);
    }
    if (c->keys_fn != NULL)
        resp_write_status(out, "movablekeys");
    resp_write_int(out, c->first_key);
    resp_write_int(out, c->last_key);
    resp_write_int(out, c->key_step);
}

/* COMMAND COUNT -> the number of commands. */
static enum kv_code
cmd_command_count(struct cmd_ctx *ctx)
{
    resp_write_int(ctx->out, (int64_t)command_count());
    return KV_OK;
}

/* COMMAND INFO [name ...] -> an entry per name (nil when unknown); every command when none. */
static enum kv_code
cmd_command_info(struct cmd_ctx *ctx)
{
    if (ctx->argc == 2) {
        resp_write_array(ctx->out, command_count());
        for (size_t i = 0; i < command_count(); i++)
            write_command_info(ctx->out, command_at(i));
        return KV_OK;
    }
    resp_write_array(ctx->out, (size_t)(ctx->argc - 2));
    for (int i = 2; i < ctx->argc; i++) {
        const struct command_spec *c = command_lookup(ctx->argv[i], NULL);
        if (c == NULL)
            resp_write_null(ctx->out);
        else
            write_command_info(ctx->out, c);
    }
    return KV_OK;
}

static void
write_command_docs(struct resp_out *out, const struct command_spec *c)
{
    resp_write_bulk_cstr(out, c->name);
    resp_write_map(out, 1);
    resp_write_bulk_cstr(out, "group");
    resp_write_bulk_cstr(out, c->group != NULL ? c->group : "server");
}

/* COMMAND DOCS [name ...] -> a map name -> {group}; unknown names are left out (as Redis);
 * every command when none is given. */
static enum kv_code
cmd_command_docs(struct cmd_ctx *ctx)
{
    if (ctx->argc == 2) {
        resp_write_map(ctx->out, command_count());
        for (size_t i = 0; i < command_count(); i++)
            write_command_docs(ctx->out, command_at(i));
        return KV_OK;
    }
    size_t found = 0;
    for (int i = 2; i < ctx->argc; i++)
        found += command_lookup(ctx->argv[i], NULL) != NULL;
    resp_write_map(ctx->out, found);
    for (int i = 2; i < ctx->argc; i++) {
        const struct command_spec *c = command_lookup(ctx->argv[i], NULL);
        if (c != NULL)
            write_command_docs(ctx->out, c);
    }
    return KV_OK;
}

/* Whether c belongs to the ACL category `cat`: its group, or a category its flags imply. */
static bool
in_category(const struct command_spec *c, struct kv_slice cat)
{
    if (c->group != NULL && kv_slice_eq_nocase(cat, c->group))
        return true;
    if (kv_slice_eq_nocase(cat, "read"))
        return (c->flags & CMD_READONLY) != 0;
    if (kv_slice_eq_nocase(cat, "write"))
        return (c->flags & CMD_WRITE) != 0;
    if (kv_slice_eq_nocase(cat, "admin"))
        return (c->flags & CMD_ADMIN) != 0;
    if (kv_slice_eq_nocase(cat, "fast"))
        return (c->flags & CMD_FAST) != 0;
    if (kv_slice_eq_nocase(cat, "slow"))
        return (c->flags & CMD_FAST) == 0;
    if (kv_slice_eq_nocase(cat, "blocking"))
        return (c->flags & CMD_BLOCKING) != 0;
    if (kv_slice_eq_nocase(cat, "pubsub"))
        return (c->flags & CMD_PUBSUB) != 0;
    return false;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern] -> command names. */
static enum kv_code
cmd_command_list(struct cmd_ctx *ctx)
{
    enum { ALL, MODULE, ACLCAT, PATTERN } filter = ALL;
    if (ctx->argc == 5 && args_is(ctx, 2, "filterby")) {
        if (args_is(ctx, 3, "module"))
            filter = MODULE;
        else if (args_is(ctx, 3, "aclcat"))
            filter = ACLCAT;
        else if (args_is(ctx, 3, "pattern"))
            filter = PATTERN;
        else
            return args_syntax_error(ctx);
    } else if (ctx->argc != 2) {
        return args_syntax_error(ctx);
    }
    size_t n = command_count();
    bool *pick = kv_calloc(n ? n : 1, sizeof *pick);
    size_t picked = 0;
    for (size_t i = 0; i < n; i++) {
        const struct command_spec *c = command_at(i);
        switch (filter) {
        case ALL:
            pick[i] = true;
            break;
        case MODULE:
            pick[i] = false; /* no modules */
            break;
        case ACLCAT:
            pick[i] = in_category(c, ctx->argv[4]);
            break;
        case PATTERN:
            pick[i] =
                glob_match(ctx->argv[4].ptr, ctx->argv[4].len, c->name, strlen(c->name), true);
            break;
        }
        picked += pick[i];
    }
    resp_write_array(ctx->out, picked);
    for (size_t i = 0; i < n; i++) {
        if (pick[i])
            resp_write_bulk_cstr(ctx->out, command_at(i)->name);
    }
    kv_free(pick);
    return KV_OK;
}

/* COMMAND GETKEYS command [arg ...] -> the key arguments of that request. */
static enum kv_code
cmd_command_getkeys(struct cmd_ctx *ctx)
{
    const struct command_spec *c = command_lookup(ctx->argv[2], NULL);
    if (c == NULL)
        return args_error(ctx, KV_ERR, "Invalid command specified");
    int argc = ctx->argc - 2;
    if ((c->arity > 0 && argc != c->arity) || (c->arity < 0 && argc < -c->arity))
        return args_error(ctx, KV_ERR, "Invalid number of arguments specified for command");
    int *idx = kv_malloc((size_t)argc * sizeof *idx);
    int n = command_get_keys(c, argc, ctx->argv + 2, idx, argc);
    enum kv_code rc = KV_OK;
    if (n < 0) {
        rc = args_error(ctx, KV_ERR, "Invalid arguments specified for command");
    } else if (n == 0) {
        rc = args_error(ctx, KV_ERR, "The command has no key arguments");
    } else {
        resp_write_array(ctx->out, (size_t)n);
        for (int i = 0; i < n; i++)
            resp_write_bulk_slice(ctx->out, ctx->argv[2 + idx[i]]);
    }
    kv_free(idx);
    return rc;
}

static enum kv_code
cmd_command_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        NULL,
    };
    write_help(ctx->out, "COMMAND", lines);
    return KV_OK;
}

static const struct subcommand command_subcommands[] = {
    {"count", cmd_command_count, 2},      {"info", cmd_command_info, -2},
    {"docs", cmd_command_docs, -2},       {"list", cmd_command_list, -2},
    {"getkeys", cmd_command_getkeys, -4}, {"help", cmd_command_help, 2},
};

/* COMMAND -> every command's entry; COMMAND COUNT|INFO|DOCS|LIST|GETKEYS|HELP ... */
static enum kv_code
cmd_command(struct cmd_ctx *ctx)
{
    if (ctx->argc == 1) {
        resp_write_array(ctx->out, command_count());
        for (size_t i = 0; i < command_count(); i++)
            write_command_info(ctx->out, command_at(i));
        return KV_OK;
    }
    return run_subcommand(ctx, command_subcommands,
                          sizeof command_subcommands / sizeof command_subcommands[0], "COMMAND");
}

/* ------------------------------------------------------------------------------------------ */
/* CLIENT                                                                                     */

/* CLIENT ID -> the connection's id. */
static enum kv_code
cmd_client_id(struct cmd_ctx *ctx)
{
    resp_write_int(ctx->out, (int64_t)ctx->conn->id);
    return KV_OK;
}

/* CLIENT INFO -> the CLIENT LIST line of this connection. */
static enum kv_code
cmd_client_info(struct cmd_ctx *ctx)
{
    struct kv_buf line = KV_BUF_INIT;
    conn_describe(ctx->conn, &line);
    kv_buf_append_byte(&line, '\n');
    resp_write_verbatim(ctx->out, "txt", line.ptr, line.len);
    kv_buf_deinit(&line);
    return KV_OK;
}

/* A client type name (CLIENT LIST/KILL TYPE); KV_ERR "Unknown client type '<t>'" otherwise. */
static enum kv_code
parse_client_type(struct cmd_ctx *ctx, int i, int *type)
{
    if (args_is(ctx, i, "normal"))
        *type = SERVER_CLIENT_NORMAL;
    else if (args_is(ctx, i, "pubsub"))
        *type = SERVER_CLIENT_PUBSUB;
    else if (args_is(ctx, i, "replica") || args_is(ctx, i, "slave"))
        *type = SERVER_CLIENT_REPLICA;
    else if (args_is(ctx, i, "master"))
        *type = SERVER_CLIENT_MASTER;
    else
        return args_error(ctx, KV_ERR, "Unknown client type '%.*s'", (int)ctx->argv[i].len,
                          ctx->argv[i].ptr);
    return KV_OK;
}

/* CLIENT LIST [TYPE normal|master|replica|pubsub] | [ID id [id ...]] -> one line per client. */
static enum kv_code
cmd_client_list(struct cmd_ctx *ctx)
{
    struct kv_buf text = KV_BUF_INIT;
    if (ctx->argc == 2) {
        server_client_list(ctx->srv, 0, &text);
    } else if (ctx->argc == 4 && args_is(ctx, 2, "type")) {
        struct client_filter f = {.type = SERVER_CLIENT_ANY};
        enum kv_code rc = parse_client_type(ctx, 3, &f.type);
        if (rc != KV_OK)
            return rc;
        server_client_list_filter(ctx->srv, &f, &text);
    } else if (ctx->argc >= 4 && args_is(ctx, 2, "id")) {
        int64_t *ids = kv_malloc((size_t)(ctx->argc - 3) * sizeof *ids);
        for (int i = 3; i < ctx->argc; i++) {
            if (strconv_to_int64(ctx->argv[i].ptr, ctx->argv[i].len, &ids[i - 3]) != KV_OK) {
                kv_free(ids);
                return args_error(ctx, KV_ERR, "Invalid client ID");
            }
        }
        for (int i = 0; i < ctx->argc - 3; i++) {
            if (ids[i] > 0)
                server_client_list(ctx->srv, (uint64_t)ids[i], &text);
        }
        kv_free(ids);
    } else {
        return args_syntax_error(ctx);
    }
    resp_write_verbatim(ctx->out, "txt", text.ptr != NULL ? text.ptr : "", text.len);
    kv_buf_deinit(&text);
    return KV_OK;
}

/* CLIENT SETNAME name -> +OK (the empty name clears it). */
static enum kv_code
cmd_client_setname(struct cmd_ctx *ctx)
{
    struct kv_slice name = ctx->argv[2];
    /* Names are shown in CLIENT LIST, which must stay splittable on spaces. */
    for (size_t i = 0; i < name.len; i++) {
        unsigned char ch = (unsigned char)name.ptr[i];
        if (ch < '!' || ch > '~')
            return args_error(ctx, KV_ERR,
                              "Client names cannot contain spaces, newlines or special "
                              "characters.");
    }
    if (name.len >= CONN_NAME_MAX)
        return args_error(ctx, KV_ERR, "Client names cannot be longer than %d bytes",
                          CONN_NAME_MAX - 1);
    conn_set_name(ctx->conn, name);
    resp_write_ok(ctx->out);
    return KV_OK;
}

/* CLIENT GETNAME -> the name, or nil when none was set. */
static enum kv_code
cmd_client_getname(struct cmd_ctx *ctx)
{
    /* The owning worker is the only writer of its connection's name: no lock to read it. */
    if (ctx->conn->name[0] == '\0')
        resp_write_null(ctx->out);
    else
        resp_write_bulk_cstr(ctx->out, ctx->conn->name);
    return KV_OK;
}

/* CLIENT KILL ip:port -> +OK or "No such client";
 * CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [TYPE type] [USER name] [SKIPME yes|no]
 * -> the number of clients killed. */
static enum kv_code
cmd_client_kill(struct cmd_ctx *ctx)
{
    char addr[128], laddr[128];
    struct client_filter f = {.type = SERVER_CLIENT_ANY, .me = ctx->conn};
    if (ctx->argc == 3) {
        f.addr = args_cstr(ctx, 2, addr, sizeof addr);
        if (server_client_kill(ctx->srv, &f) == 0)
            return args_error(ctx, KV_ERR, "No such client");
        resp_write_ok(ctx->out);
        return KV_OK;
    }
    f.skipme = true;
    for (int i = 2; i < ctx->argc; i += 2) {
        if (i + 1 >= ctx->argc)
            return args_syntax_error(ctx);
        int v = i + 1;
        if (args_is(ctx, i, "id")) {
            int64_t id;
            if (strconv_to_int64(ctx->argv[v].ptr, ctx->argv[v].len, &id) != KV_OK || id < 1)
                return args_error(ctx, KV_ERR, "client-id should be greater than 0");
            f.id = (uint64_t)id;
        } else if (args_is(ctx, i, "addr")) {
            f.addr = args_cstr(ctx, v, addr, sizeof addr);
        } else if (args_is(ctx, i, "laddr")) {
            f.laddr = args_cstr(ctx, v, laddr, sizeof laddr);
        } else if (args_is(ctx, i, "type")) {
            enum kv_code rc = parse_client_type(ctx, v, &f.type);
            if (rc != KV_OK)
                return rc;
        } else if (args_is(ctx, i, "user")) {
            /* Every connection is user "default". */
            if (!args_is(ctx, v, "default"))
                return args_error(ctx, KV_ERR, "No such user '%.*s'", (int)ctx->argv[v].len,
                                  ctx->argv[v].ptr);
        } else if (args_is(ctx, i, "skipme")) {
            if (args_is(ctx, v, "yes"))
                f.skipme = true;
            else if (args_is(ctx, v, "no"))
                f.skipme = false;
            else
                return args_syntax_error(ctx);
        } else {
            return args_syntax_error(ctx);
        }
    }
    resp_write_int(ctx->out, server_client_kill(ctx->srv, &f));
    return KV_OK;
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR] -> integer: 1 when the client was blocked (it then gets the
 * timeout reply of its command, or with ERROR "-UNBLOCKED client unblocked via CLIENT UNBLOCK"),
 * 0 otherwise (no such client, not blocked). */
static enum kv_code
cmd_client_unblock(struct cmd_ctx *ctx)
{
    if (ctx->argc > 4)
        return args_error(ctx, KV_ERR,
                          "unknown subcommand or wrong number of arguments for '%.*s'. Try "
                          "CLIENT HELP.",
                          (int)(ctx->argv[1].len < 128 ? ctx->argv[1].len : 128), ctx->argv[1].ptr);
    int64_t id;
    enum kv_code rc = args_int64(ctx, 2, &id);
    if (rc != KV_OK)
        return rc;
    enum blocking_unblock_how how = BLOCKING_UNBLOCK_TIMEOUT;
    if (ctx->argc == 4) {
        if (args_is(ctx, 3, "error"))
            how = BLOCKING_UNBLOCK_ERROR;
        else if (!args_is(ctx, 3, "timeout"))
            return args_error(ctx, KV_ERR, "CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    }
    bool found = id > 0 && blocking_unblock(ctx->srv, (uint64_t)id, how);
    resp_write_int(ctx->out, found ? 1 : 0);
    return KV_OK;
}

static enum kv_code
cmd_client_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        NULL,
    };
    write_help(ctx->out, "CLIENT", lines);
    return KV_OK;
}

static const struct subcommand client_subcommands[] = {
    {"id", cmd_client_id, 2},           {"info", cmd_client_info, 2},
    {"list", cmd_client_list, -2},      {"setname", cmd_client_setname, 3},
    {"getname", cmd_client_getname, 2}, {"kill", cmd_client_kill, -3},
    {"help", cmd_client_help, 2},       {"unblock", cmd_client_unblock, -3},
};

/* CLIENT ID|INFO|LIST|SETNAME|GETNAME|KILL|UNBLOCK|HELP ... */
static enum kv_code
cmd_client(struct cmd_ctx *ctx)
{
    return run_subcommand(ctx, client_subcommands,
                          sizeof client_subcommands / sizeof client_subcommands[0], "CLIENT");
}

/* ------------------------------------------------------------------------------------------ */
/* SHUTDOWN, DEBUG                                                                            */

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] | SHUTDOWN ABORT -> no reply on success: the server
 * stops (every acknowledged write is already in the WAL, so SAVE and NOSAVE are the same). */
static enum kv_code
cmd_shutdown(struct cmd_ctx *ctx)
{
    bool save = false, nosave = false, abort_ = false;
    for (int i = 1; i < ctx->argc; i++) {
        if (args_is(ctx, i, "nosave"))
            nosave = true;
        else if (args_is(ctx, i, "save"))
            save = true;
        else if (args_is(ctx, i, "now") || args_is(ctx, i, "force"))
            continue;
        else if (args_is(ctx, i, "abort"))
            abort_ = true;
        else
            return args_syntax_error(ctx);
    }
    if ((save && nosave) || (abort_ && ctx->argc != 2))
        return args_syntax_error(ctx);
    if (abort_)
        return args_error(ctx, KV_ERR, "No shutdown in progress.");
    LOG_INFO("SHUTDOWN command received from %s, stopping the server", ctx->conn->addr);
    server_request_shutdown(ctx->srv);
    conn_set_flag(ctx->conn, CONN_F_CLOSE_ASAP);
    return KV_OK;
}

/* Sleep for usec, waking every 100 ms to give up early when the server shuts down. */
static void
debug_sleep_us(struct server *srv, int64_t usec)
{
    int64_t end = clock_mono_us() + usec;
    for (;;) {
        int64_t left = end - clock_mono_us();
        if (left <= 0 || atomic_load(&srv->shutting_down))
            return;
        clock_sleep_ms(left > 100000 ? 100 : (left + 999) / 1000);
    }
}

/* DEBUG SLEEP seconds -> +OK after blocking this worker for that long (as Redis: the argument
 * is read with strtod, so garbage sleeps 0 s). Blocking the worker is the point (tests use it
 * to stall one worker); the other workers keep serving. The sleep holds the shared server lock
 * like any command, so an exclusive command (CONFIG, FLUSHALL) waits for it to end. */
static enum kv_code
cmd_debug(struct cmd_ctx *ctx)
{
    if (ctx->argc == 3 && args_is(ctx, 1, "sleep")) {
        char *text = arg_dup(ctx, 2);
        double seconds = strtod(text, NULL);
        kv_free(text);
        if (isfinite(seconds) && seconds > 0) {
            /* A day is as good as forever here, and keeps the conversion defined. */
            double usec = seconds > 86400.0 ? 86400e6 : seconds * 1e6;
            debug_sleep_us(ctx->srv, (int64_t)usec);
        }
        resp_write_ok(ctx->out);
        return KV_OK;
    }
    if (ctx->argc == 2 && args_is(ctx, 1, "help")) {
        static const char *const lines[] = {
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            NULL,
        };
        write_help(ctx->out, "DEBUG", lines);
        return KV_OK;
    }
    size_t len = ctx->argv[1].len < 128 ? ctx->argv[1].len : 128;
    return args_error(ctx, KV_ERR,
                      "unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                      (int)len, ctx->argv[1].ptr);
}

/* ------------------------------------------------------------------------------------------ */
/* SLOWLOG                                                                                    */

/* SLOWLOG GET [count] -> the newest count entries (10 by default, -1 for all). */
static enum kv_code
cmd_slowlog_get(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3) {
        size_t len = ctx->argv[1].len < 128 ? ctx->argv[1].len : 128;
        return args_error(
            ctx, KV_ERR,
            "unknown subcommand or wrong number of arguments for '%.*s'. Try SLOWLOG HELP.",
            (int)len, ctx->argv[1].ptr);
    }
    int64_t count = 10;
    if (ctx->argc == 3) {
        enum kv_code rc = args_int64_range(ctx, 2, -1, INT64_MAX,
                                           "count should be greater than or equal to -1", &count);
        if (rc != KV_OK)
            return rc;
    }
    server_slowlog_reply(ctx->srv, count, ctx->out);
    return KV_OK;
}

/* SLOWLOG LEN -> the number of entries. */
static enum kv_code
cmd_slowlog_len(struct cmd_ctx *ctx)
{
    resp_write_int(ctx->out, (int64_t)server_slowlog_len(ctx->srv));
    return KV_OK;
}

/* SLOWLOG RESET -> +OK after emptying the slowlog. */
static enum kv_code
cmd_slowlog_reset(struct cmd_ctx *ctx)
{
    server_slowlog_reset(ctx->srv);
    resp_write_ok(ctx->out);
    return KV_OK;
}

static enum kv_code
cmd_slowlog_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        NULL,
    };
    write_help(ctx->out, "SLOWLOG", lines);
    return KV_OK;
}

static const struct subcommand slowlog_subcommands[] = {
    {"get", cmd_slowlog_get, -2},
    {"len", cmd_slowlog_len, 2},
    {"reset", cmd_slowlog_reset, 2},
    {"help", cmd_slowlog_help, 2},
};

/* SLOWLOG GET|LEN|RESET|HELP ... */
static enum kv_code
cmd_slowlog(struct cmd_ctx *ctx)
{
    return run_subcommand(ctx, slowlog_subcommands,
                          sizeof slowlog_subcommands / sizeof slowlog_subcommands[0], "SLOWLOG");
}

const struct command_spec server_commands[] = {
    {"info", cmd_info, -1, CMD_LOADING_OK | CMD_STALE_OK, 0, 0, 0, NULL, "server"},
    {"config", cmd_config, -2,
     CMD_ADMIN | CMD_EXCLUSIVE | CMD_LOADING_OK | CMD_STALE_OK | CMD_NO_SCRIPT, 0, 0, 0, NULL,
     "server"},
    {"dbsize", cmd_dbsize, -1, CMD_READONLY, 0, 0, 0, NULL, "server"},
    {"flushdb", cmd_flushdb, -1, CMD_WRITE | CMD_EXCLUSIVE, 0, 0, 0, NULL, "server"},
    {"flushall", cmd_flushall, -1, CMD_WRITE | CMD_ADMIN | CMD_EXCLUSIVE, 0, 0, 0, NULL, "server"},
    {"compact", cmd_compact, 1, CMD_ADMIN | CMD_NO_MULTI | CMD_NO_SCRIPT | CMD_SLOW, 0, 0, 0, NULL,
     "server"},
    {"time", cmd_time, 1, CMD_FAST | CMD_LOADING_OK | CMD_STALE_OK, 0, 0, 0, NULL, "server"},
    {"command", cmd_command, -1, CMD_LOADING_OK | CMD_STALE_OK, 0, 0, 0, NULL, "server"},
    {"client", cmd_client, -2, CMD_LOADING_OK | CMD_STALE_OK | CMD_NO_SCRIPT, 0, 0, 0, NULL,
     "connection"},
    {"shutdown", cmd_shutdown, -1,
     CMD_ADMIN | CMD_NO_MULTI | CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK, 0, 0, 0, NULL,
     "server"},
    {"debug", cmd_debug, -2, CMD_ADMIN | CMD_NO_SCRIPT | CMD_LOADING_OK | CMD_STALE_OK, 0, 0, 0,
     NULL, "server"},
    {"slowlog", cmd_slowlog, -2, CMD_LOADING_OK | CMD_STALE_OK, 0, 0, 0, NULL, "server"},
};
const size_t server_commands_len = sizeof server_commands / sizeof server_commands[0];
