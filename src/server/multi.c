/* SPDX-License-Identifier: Apache-2.0
 *
 * multi: the MULTI queue of a connection and EXEC (see multi.h).
 */
#include "server/multi.h"

#include <string.h>

#include "commands/command.h"
#include "common/mem.h"
#include "server/conn.h"
#include "server/dispatch.h"
#include "server/watch.h"
#include "storage/storage.h"

struct multi_cmd {
    const struct command_spec *cmd;
    size_t index; /* registry index, for statistics */
    int argc;
    struct kv_slice *argv; /* owned: one block holding the slices, then the argument bytes */
};

struct multi_state {
    size_t n, cap;
    struct multi_cmd *cmds; /* owned */
};

static void
free_state(struct conn *c, struct multi_state *ms)
{
    atomic_store_explicit(&c->nqueued, 0, memory_order_relaxed);
    if (ms == NULL)
        return;
    for (size_t i = 0; i < ms->n; i++)
        kv_free(ms->cmds[i].argv);
    kv_free(ms->cmds);
    kv_free(ms);
}

void
multi_queue(struct conn *c, const struct command_spec *cmd, size_t index, int argc,
            const struct kv_slice *argv)
{
    struct multi_state *ms = c->multi;
    if (ms == NULL) {
        ms = kv_calloc(1, sizeof *ms);
        c->multi = ms;
    }
    if (ms->n == ms->cap) {
        ms->cap = ms->cap ? ms->cap * 2 : 8;
        ms->cmds = kv_realloc(ms->cmds, ms->cap * sizeof *ms->cmds);
    }
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    struct kv_slice *copy = kv_malloc((size_t)argc * sizeof *copy + bytes);
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        if (argv[i].len > 0)
            memcpy(p, argv[i].ptr, argv[i].len);
        copy[i] = kv_slice_make(p, argv[i].len);
        p += argv[i].len;
    }
    struct multi_cmd *mc = &ms->cmds[ms->n++];
    mc->cmd = cmd;
    mc->index = index;
    mc->argc = argc;
    mc->argv = copy;
    atomic_store_explicit(&c->nqueued, (int)ms->n, memory_order_relaxed);
}

size_t
multi_queued_count(const struct conn *c)
{
    return c->multi != NULL ? c->multi->n : 0;
}

void
multi_discard(struct conn *c)
{
    free_state(c, c->multi);
    c->multi = NULL;
    conn_clear_flag(c, CONN_F_MULTI | CONN_F_DIRTY_EXEC);
    watch_clear(c);
}

enum kv_code
multi_exec(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    if (!conn_has_flag(c, CONN_F_MULTI))
        return kv_err_set(ctx->err, KV_ERR, "EXEC without MULTI");
    if (conn_has_flag(c, CONN_F_DIRTY_EXEC)) {
        multi_discard(c);
        return kv_err_set(ctx->err, KV_ERR_EXECABORT,
                          "Transaction discarded because of previous errors.");
    }
    if (watch_is_dirty(c)) {
        multi_discard(c);
        resp_write_null_array(ctx->out);
        return KV_OK;
    }
    watch_clear(c);
    /* Take the queue out first: a queued command may not touch it (MULTI, EXEC and DISCARD are
     * never queued), but the connection must not look like it still has one afterwards. */
    struct multi_state *ms = c->multi;
    c->multi = NULL;
    size_t n = ms != NULL ? ms->n : 0;
    resp_write_array(ctx->out, n);
    /* One batch for every write of the transaction (storage.h, storage_stage_hold_begin), so a
     * crash leaves all of it or none, and replicas get it whole. Committed before the server
     * lock is released. A failed commit is remembered: the worker then closes the connection
     * instead of sending the replies (worker.h). */
    storage_stage_hold_begin();
    for (size_t i = 0; i < n; i++) {
        struct multi_cmd *mc = &ms->cmds[i];
        dispatch_run_queued(c, mc->cmd, mc->index, mc->argc, mc->argv);
    }
    (void)storage_stage_hold_end(NULL);
    free_state(c, ms);
    conn_clear_flag(c, CONN_F_MULTI | CONN_F_DIRTY_EXEC);
    return KV_OK;
}

void
multi_conn_free(struct conn *c)
{
    free_state(c, c->multi);
    c->multi = NULL;
}
