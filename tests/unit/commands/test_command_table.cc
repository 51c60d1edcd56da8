// SPDX-License-Identifier: Apache-2.0
//
// The command table: the registry built from the group tables (command.c) and the rules every
// row must follow (STYLE.md 3.6). The validation command_table_init runs at start-up is
// repeated here row by row, with the offending command named in each failure.
#include <set>
#include <string.h>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "commands/command.h"

namespace {

struct Group {
    const char *name;
    const struct command_spec *rows;
    size_t len;
};

// Every group table, as command.c lists them. A new cmd_<group>.c must be added here too:
// CountIsTheSumOfTheGroupTables then fails until it is.
std::vector<Group>
Groups()
{
    return {
        {"conn", conn_commands, conn_commands_len},
        {"server", server_commands, server_commands_len},
        {"key", key_commands, key_commands_len},
        {"string", string_commands, string_commands_len},
        {"repl", repl_commands, repl_commands_len},
        {"hash", hash_commands, hash_commands_len},
        {"list", list_commands, list_commands_len},
        {"set", set_commands, set_commands_len},
        {"zset", zset_commands, zset_commands_len},
        {"bitmap", bitmap_commands, bitmap_commands_len},
        {"hll", hll_commands, hll_commands_len},
        {"txn", txn_commands, txn_commands_len},
        {"pubsub", pubsub_commands, pubsub_commands_len},
        {"sort", sort_commands, sort_commands_len},
        {"cluster", cluster_commands, cluster_commands_len},
        {"migrate", migrate_commands, migrate_commands_len},
    };
}

std::vector<const struct command_spec *>
AllRows()
{
    std::vector<const struct command_spec *> rows;
    for (const Group &g : Groups())
        for (size_t i = 0; i < g.len; i++)
            rows.push_back(&g.rows[i]);
    return rows;
}

struct kv_slice
Slice(const char *s)
{
    return kv_slice_make(s, strlen(s));
}

class CommandTableTest : public ::testing::Test {
  protected:
    void
    SetUp() override
    {
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(command_table_init(&err), KV_OK) << err.msg;
    }
};

TEST_F(CommandTableTest, InitSucceedsAndIsIdempotent)
{
    struct kv_err err;
    kv_err_clear(&err);
    size_t n = command_count();
    EXPECT_GT(n, 0u);
    EXPECT_EQ(command_table_init(&err), KV_OK) << err.msg;
    EXPECT_EQ(command_count(), n);
}

TEST_F(CommandTableTest, CanBeFreedAndBuiltAgain)
{
    size_t n = command_count();
    command_table_free();
    EXPECT_EQ(command_count(), 0u);
    EXPECT_EQ(command_lookup(Slice("get"), nullptr), nullptr);
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(command_table_init(&err), KV_OK) << err.msg;
    EXPECT_EQ(command_count(), n);
    EXPECT_NE(command_lookup(Slice("get"), nullptr), nullptr);
}

TEST_F(CommandTableTest, CountIsTheSumOfTheGroupTables)
{
    size_t sum = 0;
    for (const Group &g : Groups())
        sum += g.len;
    EXPECT_EQ(command_count(), sum);
}

TEST_F(CommandTableTest, EveryCommandIsRegisteredOnce)
{
    std::set<std::string> names;
    for (const struct command_spec *c : AllRows()) {
        ASSERT_NE(c->name, nullptr);
        EXPECT_TRUE(names.insert(c->name).second) << c->name << " appears twice";
        // The lookup finds this very row, and the index agrees with command_at.
        size_t index = SIZE_MAX;
        EXPECT_EQ(command_lookup(Slice(c->name), &index), c) << c->name;
        ASSERT_LT(index, command_count()) << c->name;
        EXPECT_EQ(command_at(index), c) << c->name;
    }
    // command_at enumerates each row exactly once.
    std::set<const struct command_spec *> seen;
    for (size_t i = 0; i < command_count(); i++)
        EXPECT_TRUE(seen.insert(command_at(i)).second) << command_at(i)->name;
    EXPECT_EQ(seen.size(), AllRows().size());
    EXPECT_EQ(command_at(command_count()), nullptr);
}

TEST_F(CommandTableTest, RowsAreWellFormed)
{
    for (const struct command_spec *c : AllRows()) {
        SCOPED_TRACE(c->name);
        EXPECT_NE(c->proc, nullptr);
        EXPECT_NE(c->arity, 0);
        ASSERT_NE(c->group, nullptr);
        EXPECT_GT(strlen(c->group), 0u);
        EXPECT_GT(strlen(c->name), 0u);
        for (const char *p = c->name; *p; p++)
            EXPECT_FALSE(*p >= 'A' && *p <= 'Z') << "names are lower case";
    }
}

TEST_F(CommandTableTest, KeyedCommandsHaveExactlyOneOfWriteAndReadonly)
{
    for (const struct command_spec *c : AllRows()) {
        bool keyed = c->first_key > 0 || c->keys_fn != nullptr;
        bool w = (c->flags & CMD_WRITE) != 0;
        bool r = (c->flags & CMD_READONLY) != 0;
        if (keyed)
            EXPECT_NE(w, r) << c->name << ": a keyed command is either WRITE or READONLY";
        else
            EXPECT_FALSE(w && r) << c->name << ": WRITE and READONLY together";
    }
}

TEST_F(CommandTableTest, KeySpecsFitTheArity)
{
    for (const struct command_spec *c : AllRows()) {
        SCOPED_TRACE(c->name);
        int min_words = c->arity > 0 ? c->arity : -c->arity;
        if (c->first_key <= 0) {
            EXPECT_EQ(c->first_key, 0);
            EXPECT_EQ(c->last_key, 0);
            EXPECT_EQ(c->key_step, 0);
            continue;
        }
        // The first key is always present: the arity guarantees that many words.
        EXPECT_LT(c->first_key, min_words);
        EXPECT_GT(c->key_step, 0);
        if (c->last_key > 0) {
            EXPECT_GE(c->last_key, c->first_key);
            EXPECT_LT(c->last_key, min_words);
        } else {
            // Counted from the end: with the fewest words, it must not end before the first.
            EXPECT_LT(c->last_key, 0);
            EXPECT_GE(min_words + c->last_key, c->first_key);
        }
        // The shortest valid request has at least one key.
        std::vector<struct kv_slice> argv(static_cast<size_t>(min_words), Slice("k"));
        argv[0] = Slice(c->name);
        std::vector<int> idx(static_cast<size_t>(min_words));
        int n = command_get_keys(c, min_words, argv.data(), idx.data(), min_words);
        EXPECT_GE(n, 1);
        for (int i = 0; i < n; i++) {
            EXPECT_GE(idx[static_cast<size_t>(i)], 1);
            EXPECT_LT(idx[static_cast<size_t>(i)], min_words);
        }
    }
}

TEST_F(CommandTableTest, LookupIsCaseInsensitive)
{
    const struct command_spec *get = command_lookup(Slice("get"), nullptr);
    ASSERT_NE(get, nullptr);
    EXPECT_EQ(command_lookup(Slice("GET"), nullptr), get);
    EXPECT_EQ(command_lookup(Slice("gEt"), nullptr), get);
    const struct command_spec *config = command_lookup(Slice("config"), nullptr);
    ASSERT_NE(config, nullptr);
    EXPECT_EQ(command_lookup(Slice("CoNfIg"), nullptr), config);
    for (const struct command_spec *c : AllRows()) {
        std::string upper(c->name);
        for (char &ch : upper)
            if (ch >= 'a' && ch <= 'z')
                ch = static_cast<char>(ch - 'a' + 'A');
        EXPECT_EQ(command_lookup(kv_slice_make(upper.data(), upper.size()), nullptr), c) << upper;
    }
}

TEST_F(CommandTableTest, UnknownNamesAreNotFound)
{
    EXPECT_EQ(command_lookup(Slice("no-such-command"), nullptr), nullptr);
    EXPECT_EQ(command_lookup(Slice(""), nullptr), nullptr);
    EXPECT_EQ(command_lookup(Slice("ge"), nullptr), nullptr);
    EXPECT_EQ(command_lookup(Slice("gett"), nullptr), nullptr);
    // Not NUL-terminated at the name's end: only `len` bytes count.
    EXPECT_NE(command_lookup(kv_slice_make("getx", 3), nullptr), nullptr);
    // An embedded NUL is part of the name.
    EXPECT_EQ(command_lookup(kv_slice_make("get\0", 4), nullptr), nullptr);
    size_t index = 12345;
    EXPECT_EQ(command_lookup(Slice("nope"), &index), nullptr);
    EXPECT_EQ(index, 12345u) << "the index is left alone on a miss";
}

TEST_F(CommandTableTest, GetKeysFollowsTheSpec)
{
    const struct command_spec *get = command_lookup(Slice("get"), nullptr);
    ASSERT_NE(get, nullptr);
    struct kv_slice get_argv[] = {Slice("get"), Slice("k")};
    int idx[8];
    ASSERT_EQ(command_get_keys(get, 2, get_argv, idx, 8), 1);
    EXPECT_EQ(idx[0], 1);

    const struct command_spec *del = command_lookup(Slice("del"), nullptr);
    ASSERT_NE(del, nullptr);
    struct kv_slice del_argv[] = {Slice("del"), Slice("a"), Slice("b"), Slice("c")};
    ASSERT_EQ(command_get_keys(del, 4, del_argv, idx, 8), 3);
    EXPECT_EQ(idx[0], 1);
    EXPECT_EQ(idx[1], 2);
    EXPECT_EQ(idx[2], 3);
    // The cap bounds the output.
    EXPECT_EQ(command_get_keys(del, 4, del_argv, idx, 2), 2);

    const struct command_spec *ping = command_lookup(Slice("ping"), nullptr);
    ASSERT_NE(ping, nullptr);
    struct kv_slice ping_argv[] = {Slice("ping"), Slice("x")};
    EXPECT_EQ(command_get_keys(ping, 2, ping_argv, idx, 8), 0);
}

TEST_F(CommandTableTest, ServerCommandsCarryTheirFlags)
{
    struct Expect {
        const char *name;
        uint32_t must;
        uint32_t must_not;
    };
    const Expect expected[] = {
        {"config", CMD_ADMIN | CMD_EXCLUSIVE, 0},
        {"flushall", CMD_ADMIN | CMD_WRITE | CMD_EXCLUSIVE, CMD_READONLY},
        {"flushdb", CMD_WRITE | CMD_EXCLUSIVE, CMD_ADMIN | CMD_READONLY},
        {"shutdown", CMD_ADMIN | CMD_NO_MULTI | CMD_LOADING_OK, 0},
        {"info", CMD_LOADING_OK, CMD_ADMIN | CMD_EXCLUSIVE},
        {"time", CMD_LOADING_OK | CMD_FAST, CMD_ADMIN},
        {"dbsize", CMD_READONLY, CMD_WRITE | CMD_ADMIN},
        {"client", 0, CMD_ADMIN | CMD_EXCLUSIVE},
        {"command", CMD_LOADING_OK, CMD_ADMIN},
        {"debug", CMD_ADMIN, CMD_EXCLUSIVE},
        {"slowlog", 0, CMD_EXCLUSIVE},
    };
    for (const Expect &e : expected) {
        const struct command_spec *c = command_lookup(Slice(e.name), nullptr);
        ASSERT_NE(c, nullptr) << e.name;
        EXPECT_EQ(c->flags & e.must, e.must) << e.name;
        EXPECT_EQ(c->flags & e.must_not, 0u) << e.name;
    }
}

} // namespace
