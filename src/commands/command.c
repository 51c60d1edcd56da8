/* SPDX-License-Identifier: Apache-2.0 */
#include "commands/command.h"

#include <stdio.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"

/* Every group table, listed explicitly: no constructor magic, no link-order dependence. */
struct group_table {
    const struct command_spec *rows;
    const size_t *len;
};

static const struct group_table groups[] = {
    {conn_commands, &conn_commands_len},       {server_commands, &server_commands_len},
    {key_commands, &key_commands_len},         {string_commands, &string_commands_len},
    {repl_commands, &repl_commands_len},       {hash_commands, &hash_commands_len},
    {list_commands, &list_commands_len},       {set_commands, &set_commands_len},
    {zset_commands, &zset_commands_len},       {bitmap_commands, &bitmap_commands_len},
    {hll_commands, &hll_commands_len},         {txn_commands, &txn_commands_len},
    {pubsub_commands, &pubsub_commands_len},   {cluster_commands, &cluster_commands_len},
    {migrate_commands, &migrate_commands_len}, {sort_commands, &sort_commands_len},
};

/* Registry values: the row and its position in `all` (the index of its statistics slot). */
struct registry_entry {
    const struct command_spec *spec;
    size_t index;
};

static struct dict *registry;
static const struct command_spec **all;
static size_t nall;

static enum kv_code
validate(const struct command_spec *c, struct kv_err *err)
{
    if (c->name == NULL || c->proc == NULL)
        return kv_err_set(err, KV_ERR_INVALID, "command table row without name or proc");
    for (const char *p = c->name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            return kv_err_set(err, KV_ERR_INVALID, "command '%s': name must be lower case",
                              c->name);
    }
    if (c->arity == 0)
        return kv_err_set(err, KV_ERR_INVALID, "command '%s': arity 0", c->name);
    bool keyed = c->first_key > 0 || c->keys_fn != NULL;
    bool w = (c->flags & CMD_WRITE) != 0, r = (c->flags & CMD_READONLY) != 0;
    if (keyed && w == r)
        return kv_err_set(err, KV_ERR_INVALID,
                          "command '%s': a keyed command needs exactly one of WRITE/READONLY",
                          c->name);
    if (c->first_key > 0) {
        int min_words = c->arity > 0 ? c->arity : -c->arity;
        if (c->first_key >= min_words)
            return kv_err_set(err, KV_ERR_INVALID, "command '%s': first key beyond arity", c->name);
        if (c->key_step <= 0)
            return kv_err_set(err, KV_ERR_INVALID, "command '%s': key step must be > 0", c->name);
        if (c->last_key > 0 && c->last_key < c->first_key)
            return kv_err_set(err, KV_ERR_INVALID, "command '%s': last key before first", c->name);
    }
    return KV_OK;
}

enum kv_code
command_table_init(struct kv_err *err)
{
    if (registry != NULL)
        return KV_OK;
    size_t total = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        total += *groups[g].len;
    struct dict *d = dict_new(kv_free, true);
    const struct command_spec **list = kv_calloc(total ? total : 1, sizeof *list);
    size_t n = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        for (size_t i = 0; i < *groups[g].len; i++) {
            const struct command_spec *c = &groups[g].rows[i];
            enum kv_code rc = validate(c, err);
            struct registry_entry *e = kv_malloc(sizeof *e);
            e->spec = c;
            e->index = n;
            if (rc == KV_OK && dict_add(d, c->name, strlen(c->name), e) != KV_OK) {
                rc = kv_err_set(err, KV_ERR_INVALID, "command '%s' registered twice", c->name);
                kv_free(e);
            } else if (rc != KV_OK) {
                kv_free(e);
            }
            if (rc != KV_OK) {
                dict_free(d);
                kv_free(list);
                return rc;
            }
            list[n++] = c;
        }
    }
    registry = d;
    all = list;
    nall = n;
    return KV_OK;
}

void
command_table_free(void)
{
    dict_free(registry);
    registry = NULL;
    kv_free(all);
    all = NULL;
    nall = 0;
}

const struct command_spec *
command_lookup(struct kv_slice name, size_t *index)
{
    if (registry == NULL)
        return NULL;
    const struct registry_entry *e = dict_get(registry, name.ptr, name.len);
    if (e == NULL)
        return NULL;
    if (index != NULL)
        *index = e->index;
    return e->spec;
}

size_t
command_count(void)
{
    return nall;
}

const struct command_spec *
command_at(size_t i)
{
    return i < nall ? all[i] : NULL;
}

int
command_get_keys(const struct command_spec *cmd, int argc, const struct kv_slice *argv, int *idx,
                 int cap)
{
    if (cmd->keys_fn != NULL)
        return cmd->keys_fn(argc, argv, idx, cap);
    if (cmd->first_key <= 0)
        return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    if (last >= argc)
        last = argc - 1;
    int n = 0;
    for (int i = cmd->first_key; i <= last && n < cap; i += cmd->key_step)
        idx[n++] = i;
    return n;
}
