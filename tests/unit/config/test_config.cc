// SPDX-License-Identifier: Apache-2.0
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "common/log.h"
#include "config/config.h"
#include "tempdir.h"

namespace {

std::string
Get(const struct config *cfg, const char *name)
{
    struct kv_buf out = KV_BUF_INIT;
    EXPECT_EQ(config_get(cfg, name, &out), KV_OK) << name;
    std::string s(out.ptr != nullptr ? out.ptr : "", out.len);
    kv_buf_deinit(&out);
    return s;
}

std::map<std::string, std::string>
AllValues(const struct config *cfg)
{
    std::map<std::string, std::string> m;
    for (size_t i = 0; i < config_option_count(); i++)
        m[config_option_name(i)] = Get(cfg, config_option_name(i));
    return m;
}

class ConfigTest : public ::testing::Test {
  protected:
    void
    SetUp() override
    {
        dir_ = tmp_.path();
        cfg_ = config_new();
        kv_err_clear(&err_);
    }

    void
    TearDown() override
    {
        config_free(cfg_);
    }

    std::string
    Write(const std::string &content, const std::string &name = "kvrocks.conf")
    {
        std::string path = dir_ + "/" + name;
        std::ofstream out(path, std::ios::trunc);
        out << content;
        return path;
    }

    // Loads `content` into a fresh config; returns the code and leaves the message in err_.
    enum kv_code
    Load(const std::string &content)
    {
        config_free(cfg_);
        cfg_ = config_new();
        path_ = Write(content);
        kv_err_clear(&err_);
        return config_load_file(cfg_, path_.c_str(), &err_);
    }

    // The error message of loading a one-line file, without the path prefix.
    std::string
    LoadError(const std::string &content)
    {
        EXPECT_NE(Load(content), KV_OK) << content;
        std::string msg = err_.msg;
        std::string prefix = path_ + ":";
        if (msg.compare(0, prefix.size(), prefix) == 0)
            return msg.substr(prefix.size());
        return msg;
    }

    TempDir tmp_;
    std::string dir_;
    std::string path_;
    struct config *cfg_ = nullptr;
    struct kv_err err_;
};

TEST_F(ConfigTest, DefaultsMatchTable)
{
    ASSERT_GE(config_option_count(), 45u);
    std::set<std::string> names;
    for (size_t i = 0; i < config_option_count(); i++) {
        const char *name = config_option_name(i);
        ASSERT_NE(name, nullptr);
        EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
        EXPECT_EQ(Get(cfg_, name), config_option_default(i)) << name;
    }
    EXPECT_EQ(config_option_name(config_option_count()), nullptr);
    EXPECT_EQ(config_option_default(config_option_count()), nullptr);
    EXPECT_FALSE(config_option_is_mutable(config_option_count()));

    EXPECT_STREQ(cfg_->bind, "127.0.0.1");
    EXPECT_EQ(cfg_->port, 6666);
    EXPECT_EQ(cfg_->workers, 8);
    EXPECT_EQ(cfg_->tcp_backlog, 511);
    EXPECT_EQ(cfg_->maxclients, 10240);
    EXPECT_EQ(cfg_->timeout, 0);
    EXPECT_EQ(cfg_->proto_max_bulk_len, 512LL << 20);
    EXPECT_FALSE(cfg_->daemonize);
    EXPECT_STREQ(cfg_->pidfile, "");
    EXPECT_STREQ(cfg_->dir, "/tmp/kvrocks");
    EXPECT_STREQ(cfg_->db_name, "change.me.db");
    EXPECT_STREQ(cfg_->log_dir, "");
    EXPECT_EQ(cfg_->log_level, LOG_LEVEL_INFO);
    EXPECT_STREQ(cfg_->requirepass, "");
    EXPECT_EQ(cfg_->slowlog_log_slower_than, 200000);
    EXPECT_EQ(cfg_->slowlog_max_len, 128);
    EXPECT_FALSE(cfg_->resp3_enabled);
    EXPECT_STREQ(cfg_->masterauth, "");
    EXPECT_STREQ(cfg_->slaveof_host, "");
    EXPECT_EQ(cfg_->slaveof_port, 0);
    EXPECT_TRUE(cfg_->slave_read_only);
    EXPECT_TRUE(cfg_->slave_serve_stale_data);
    EXPECT_FALSE(cfg_->slave_empty_db_before_fullsync);
    EXPECT_EQ(cfg_->max_replication_mb, 0);
    EXPECT_EQ(cfg_->replication_connect_timeout_ms, 3100);
    EXPECT_EQ(cfg_->replication_recv_timeout_ms, 3200);
    EXPECT_EQ(cfg_->replication_send_timeout_ms, 30000);
    EXPECT_EQ(cfg_->max_replication_lag, 100000000);
    EXPECT_FALSE(cfg_->cluster_enabled);
    EXPECT_TRUE(cfg_->persist_cluster_nodes_enabled);
    EXPECT_EQ(cfg_->rocksdb_block_cache_size, 4096);
    EXPECT_EQ(cfg_->rocksdb_write_buffer_size, 64);
    EXPECT_EQ(cfg_->rocksdb_max_write_buffer_number, 4);
    EXPECT_EQ(cfg_->rocksdb_target_file_size_base, 128);
    EXPECT_EQ(cfg_->rocksdb_max_open_files, 8096);
    EXPECT_EQ(cfg_->rocksdb_max_background_jobs, 4);
    EXPECT_EQ(cfg_->rocksdb_compression, CONFIG_COMPRESSION_NO);
    EXPECT_EQ(cfg_->rocksdb_block_size, 16384);
    EXPECT_EQ(cfg_->rocksdb_wal_ttl_seconds, 10800);
    EXPECT_EQ(cfg_->rocksdb_wal_size_limit_mb, 16384);
    EXPECT_EQ(cfg_->rocksdb_max_total_wal_size, 512);
    EXPECT_FALSE(cfg_->rocksdb_disable_auto_compactions);
    EXPECT_EQ(cfg_->rocksdb_level0_slowdown_writes_trigger, 20);
    EXPECT_EQ(cfg_->rocksdb_level0_stop_writes_trigger, 40);
    EXPECT_EQ(cfg_->rocksdb_level0_file_num_compaction_trigger, 4);
    EXPECT_FALSE(cfg_->rocksdb_write_options_sync);
    EXPECT_EQ(cfg_->path, nullptr);
}

TEST_F(ConfigTest, Mutability)
{
    std::set<std::string> immutable;
    for (size_t i = 0; i < config_option_count(); i++) {
        if (!config_option_is_mutable(i))
            immutable.insert(config_option_name(i));
    }
    std::set<std::string> expected = {"bind",
                                      "port",
                                      "tcp-backlog",
                                      "daemonize",
                                      "pidfile",
                                      "dir",
                                      "db-name",
                                      "log-dir",
                                      "slaveof",
                                      "cluster-enabled",
                                      "row-cache-size",
                                      "rocksdb.block_cache_size",
                                      "rocksdb.block_size",
                                      "rocksdb.wal_ttl_seconds",
                                      "rocksdb.wal_size_limit_mb",
                                      "rocksdb.write_options.sync"};
    EXPECT_EQ(immutable, expected);
}

TEST_F(ConfigTest, ParsesEveryKind)
{
    ASSERT_EQ(Load("# a comment\n"
                   "\n"
                   "   # indented comment\n"
                   "bind 0.0.0.0   ::1\t10.0.0.1\n"
                   "PORT 7000\r\n"
                   "daemonize YES\n"
                   "slave-read-only no\n"
                   "proto-max-bulk-len 2mb\n"
                   "requirepass secret#notacomment\n"
                   "log-level Warning\n"
                   "rocksdb.compression ZSTD\n"
                   "slaveof 10.1.2.3 6380\n"
                   "slowlog-log-slower-than -1\n"
                   "rocksdb.max_open_files -1\n"
                   "pidfile\n"
                   "masterauth ''\n"),
              KV_OK)
        << err_.msg;
    EXPECT_STREQ(cfg_->path, path_.c_str());
    EXPECT_STREQ(cfg_->bind, "0.0.0.0 ::1 10.0.0.1");
    EXPECT_EQ(cfg_->port, 7000);
    EXPECT_TRUE(cfg_->daemonize);
    EXPECT_FALSE(cfg_->slave_read_only);
    EXPECT_EQ(cfg_->proto_max_bulk_len, 2LL << 20);
    EXPECT_STREQ(cfg_->requirepass, "secret#notacomment");
    EXPECT_EQ(cfg_->log_level, LOG_LEVEL_WARNING);
    EXPECT_EQ(cfg_->rocksdb_compression, CONFIG_COMPRESSION_ZSTD);
    EXPECT_STREQ(cfg_->slaveof_host, "10.1.2.3");
    EXPECT_EQ(cfg_->slaveof_port, 6380);
    EXPECT_EQ(cfg_->slowlog_log_slower_than, -1);
    EXPECT_EQ(cfg_->rocksdb_max_open_files, -1);
    EXPECT_STREQ(cfg_->pidfile, "");
    EXPECT_STREQ(cfg_->masterauth, "");

    EXPECT_EQ(Get(cfg_, "bind"), "0.0.0.0 ::1 10.0.0.1");
    EXPECT_EQ(Get(cfg_, "daemonize"), "yes");
    EXPECT_EQ(Get(cfg_, "proto-max-bulk-len"), "2097152");
    EXPECT_EQ(Get(cfg_, "log-level"), "warning");
    EXPECT_EQ(Get(cfg_, "rocksdb.compression"), "zstd");
    EXPECT_EQ(Get(cfg_, "slaveof"), "10.1.2.3 6380");
    EXPECT_EQ(Get(cfg_, "Slaveof"), "10.1.2.3 6380");

    struct kv_buf out = KV_BUF_INIT;
    EXPECT_EQ(config_get(cfg_, "no-such-option", &out), KV_NOTFOUND);
    kv_buf_deinit(&out);
}

TEST_F(ConfigTest, LastLineWinsAndSlaveofNone)
{
    ASSERT_EQ(Load("port 7000\nport 7001\nslaveof h 1\nslaveof no one\n"), KV_OK) << err_.msg;
    EXPECT_EQ(cfg_->port, 7001);
    EXPECT_STREQ(cfg_->slaveof_host, "");
    EXPECT_EQ(cfg_->slaveof_port, 0);
    EXPECT_EQ(Get(cfg_, "slaveof"), "");
    ASSERT_EQ(Load("slaveof h 1\nslaveof \"\"\n"), KV_OK) << err_.msg;
    EXPECT_STREQ(cfg_->slaveof_host, "");
    ASSERT_EQ(Load("bind \"\"\n"), KV_OK) << err_.msg;
    EXPECT_STREQ(cfg_->bind, "127.0.0.1");
}

TEST_F(ConfigTest, MemoryUnits)
{
    const std::pair<const char *, long long> cases[] = {
        {"1048576", 1048576LL}, {"1mb", 1LL << 20},   {"1MB", 1LL << 20},
        {"2m", 2000000LL},      {"2048k", 2048000LL}, {"1024kb", 1LL << 20},
        {"1g", 1000000000LL},   {"3GB", 3LL << 30},   {"9223372036854775807", INT64_MAX},
    };
    for (const auto &c : cases) {
        ASSERT_EQ(config_set(cfg_, "proto-max-bulk-len", c.first, &err_), KV_OK) << c.first;
        EXPECT_EQ(cfg_->proto_max_bulk_len, c.second) << c.first;
    }
    const char *bad[] = {
        "", "mb", "1tb", "1 mb", "1.5mb", "+1", "9223372036854775808", "99999999999gb"};
    for (const char *v : bad) {
        EXPECT_EQ(config_set(cfg_, "proto-max-bulk-len", v, &err_), KV_ERR_INVALID) << v;
        EXPECT_EQ(std::string(err_.msg),
                  std::string("invalid value '") + v + "' for 'proto-max-bulk-len': not an integer")
            << v;
    }
    EXPECT_EQ(config_set(cfg_, "proto-max-bulk-len", "1000k", &err_), KV_ERR_INVALID);
    EXPECT_STREQ(err_.msg, "invalid value '1000k' for 'proto-max-bulk-len': must be between "
                           "1048576 and 9223372036854775807");
    EXPECT_EQ(cfg_->proto_max_bulk_len, INT64_MAX); // unchanged by failures
    // Units are only for memory options.
    EXPECT_EQ(config_set(cfg_, "port", "1k", &err_), KV_ERR_INVALID);
    EXPECT_STREQ(err_.msg, "invalid value '1k' for 'port': not an integer");
}

TEST_F(ConfigTest, BadValuesGivePositionAndReason)
{
    EXPECT_EQ(LoadError("# c\n\nport 0\n"),
              "3: invalid value '0' for 'port': must be between 1 and 65535");
    EXPECT_EQ(err_.code, KV_ERR_INVALID);
    EXPECT_EQ(LoadError("port 65536\n"),
              "1: invalid value '65536' for 'port': must be between 1 and 65535");
    EXPECT_EQ(LoadError("port abc\n"), "1: invalid value 'abc' for 'port': not an integer");
    EXPECT_EQ(LoadError("port 12x\n"), "1: invalid value '12x' for 'port': not an integer");
    EXPECT_EQ(LoadError("port 99999999999999999999\n"),
              "1: invalid value '99999999999999999999' for 'port': not an integer");
    EXPECT_EQ(LoadError("port\n"), "1: invalid value '' for 'port': not an integer");
    EXPECT_EQ(LoadError("workers 0\n"),
              "1: invalid value '0' for 'workers': must be between 1 and 256");
    EXPECT_EQ(LoadError("workers 257\n"),
              "1: invalid value '257' for 'workers': must be between 1 and 256");
    EXPECT_EQ(LoadError("maxclients 0\n"),
              "1: invalid value '0' for 'maxclients': must be between 1 and 2147483647");
    EXPECT_EQ(LoadError("slowlog-log-slower-than -2\n"),
              "1: invalid value '-2' for 'slowlog-log-slower-than': must be between -1 and "
              "2147483647");
    EXPECT_EQ(LoadError("daemonize true\n"),
              "1: invalid value 'true' for 'daemonize': expected yes or no");
    EXPECT_EQ(LoadError("rocksdb.compression lz5\n"),
              "1: invalid value 'lz5' for 'rocksdb.compression': expected one of no, snappy, "
              "zlib, lz4, zstd");
    EXPECT_EQ(LoadError("log-level verbose\n"),
              "1: invalid value 'verbose' for 'log-level': expected one of debug, info, "
              "warning, error, fatal");
    EXPECT_EQ(LoadError("slaveof host\n"),
              "1: invalid value 'host' for 'slaveof': expected '<host> <port>'");
    EXPECT_EQ(LoadError("slaveof a b c\n"),
              "1: invalid value 'a b c' for 'slaveof': expected '<host> <port>'");
    EXPECT_EQ(LoadError("slaveof host 0\n"),
              "1: invalid value 'host 0' for 'slaveof': port must be between 1 and 65535");
    EXPECT_EQ(LoadError("port 1 2\n"),
              "1: too many arguments for 'port' (quote a value that contains spaces)");
    EXPECT_EQ(LoadError("requirepass a b\n"),
              "1: too many arguments for 'requirepass' (quote a value that contains spaces)");
    EXPECT_EQ(LoadError("port 6666\nfoo bar\n"), "2: unknown option 'foo'");
    EXPECT_EQ(LoadError("requirepass \"abc\n"), "1: unbalanced quotes");
    EXPECT_EQ(LoadError("requirepass 'abc\n"), "1: unbalanced quotes");
    EXPECT_EQ(LoadError("requirepass \"abc\"def\n"), "1: unbalanced quotes");
    EXPECT_EQ(LoadError("requirepass \"a\\x00b\"\n"), "1: a NUL byte in a quoted value");
}

TEST_F(ConfigTest, ErrorMessageIncludesPath)
{
    ASSERT_EQ(Load("\nbogus 1\n"), KV_ERR_INVALID);
    EXPECT_EQ(std::string(err_.msg), path_ + ":2: unknown option 'bogus'");
}

TEST_F(ConfigTest, MissingFile)
{
    std::string path = dir_ + "/nope.conf";
    EXPECT_EQ(config_load_file(cfg_, path.c_str(), &err_), KV_ERR_IO);
    EXPECT_EQ(std::string(err_.msg), path + ": No such file or directory");
    EXPECT_EQ(cfg_->path, nullptr);
}

TEST_F(ConfigTest, ValidationAtLoadEnd)
{
    ASSERT_EQ(Load("cluster-enabled yes\nslaveof 127.0.0.1 6667\n"), KV_ERR_INVALID);
    EXPECT_EQ(std::string(err_.msg),
              path_ + ": 'slaveof' can't be used with 'cluster-enabled yes' (the cluster "
                      "topology sets replication)");
    ASSERT_EQ(Load("dir \"\"\n"), KV_ERR_INVALID);
    EXPECT_EQ(std::string(err_.msg), path_ + ": 'dir' must not be empty");
    ASSERT_EQ(Load("cluster-enabled yes\n"), KV_OK) << err_.msg;
    EXPECT_EQ(config_validate(cfg_, &err_), KV_OK);
}

TEST_F(ConfigTest, QuotesAndEscapes)
{
    ASSERT_EQ(Load("requirepass \"a b\\\"c\\\\d\\n\\r\\t\\x41\\x7a\\q\"\n"
                   "masterauth 'it\\'s \"raw\" \\n'\n"
                   "db-name \"\"\n"
                   "dir \"/tmp/with space\"\n"
                   "bind \"127.0.0.1\" '::1'\n"),
              KV_OK)
        << err_.msg;
    EXPECT_STREQ(cfg_->requirepass, "a b\"c\\d\n\r\tAzq");
    EXPECT_STREQ(cfg_->masterauth, "it's \"raw\" \\n");
    EXPECT_STREQ(cfg_->db_name, "");
    EXPECT_STREQ(cfg_->dir, "/tmp/with space");
    EXPECT_STREQ(cfg_->bind, "127.0.0.1 ::1");
}

TEST_F(ConfigTest, SetFromCommandLineTakesValueWhole)
{
    ASSERT_EQ(config_set(cfg_, "requirepass", "a b", &err_), KV_OK);
    EXPECT_STREQ(cfg_->requirepass, "a b");
    ASSERT_EQ(config_set(cfg_, "bind", " 1.2.3.4  5.6.7.8 ", &err_), KV_OK);
    EXPECT_STREQ(cfg_->bind, "1.2.3.4 5.6.7.8");
    ASSERT_EQ(config_set(cfg_, "port", "7777", &err_), KV_OK); // immutable at run time only
    EXPECT_EQ(cfg_->port, 7777);
    EXPECT_EQ(config_set(cfg_, "nope", "1", &err_), KV_ERR_INVALID);
    EXPECT_STREQ(err_.msg, "unknown option 'nope'");
}

struct HookLog {
    std::vector<std::string> names;
    std::vector<int> workers_seen;
    bool fail = false;
};

enum kv_code
RecordingHook(struct config *cfg, const char *name, void *arg, struct kv_err *err)
{
    auto *log = static_cast<HookLog *>(arg);
    log->names.push_back(name);
    log->workers_seen.push_back(cfg->workers);
    if (log->fail)
        return kv_err_set(err, KV_ERR, "cannot apply %s", name);
    return KV_OK;
}

TEST_F(ConfigTest, RuntimeSet)
{
    ASSERT_EQ(config_set_runtime(cfg_, "WORKERS", "4", &err_), KV_OK) << err_.msg;
    EXPECT_EQ(cfg_->workers, 4);
    ASSERT_EQ(config_set_runtime(cfg_, "requirepass", "pw", &err_), KV_OK);
    EXPECT_STREQ(cfg_->requirepass, "pw");
    ASSERT_EQ(config_set_runtime(cfg_, "log-level", "error", &err_), KV_OK);
    EXPECT_EQ(cfg_->log_level, LOG_LEVEL_ERROR);
    ASSERT_EQ(config_set_runtime(cfg_, "rocksdb.compression", "lz4", &err_), KV_OK);
    EXPECT_EQ(cfg_->rocksdb_compression, CONFIG_COMPRESSION_LZ4);

    EXPECT_EQ(config_set_runtime(cfg_, "port", "7000", &err_), KV_ERR);
    EXPECT_STREQ(err_.msg, "Unsupported CONFIG parameter: port");
    EXPECT_EQ(cfg_->port, 6666);
    EXPECT_EQ(config_set_runtime(cfg_, "Rocksdb.Block_Size", "1", &err_), KV_ERR);
    EXPECT_STREQ(err_.msg, "Unsupported CONFIG parameter: rocksdb.block_size");
    EXPECT_EQ(config_set_runtime(cfg_, "slaveof", "h 1", &err_), KV_ERR);
    EXPECT_STREQ(err_.msg, "Unsupported CONFIG parameter: slaveof");
    EXPECT_EQ(config_set_runtime(cfg_, "foo", "1", &err_), KV_ERR);
    EXPECT_STREQ(err_.msg, "Unsupported CONFIG parameter: foo");

    EXPECT_EQ(config_set_runtime(cfg_, "workers", "300", &err_), KV_ERR_INVALID);
    EXPECT_STREQ(err_.msg, "invalid value '300' for 'workers': must be between 1 and 256");
    EXPECT_EQ(cfg_->workers, 4);
    EXPECT_EQ(config_set_runtime(cfg_, "slave-read-only", "maybe", &err_), KV_ERR_INVALID);
    EXPECT_TRUE(cfg_->slave_read_only);
}

TEST_F(ConfigTest, ApplyHookAndRollback)
{
    HookLog log;
    config_set_apply_hook(cfg_, RecordingHook, &log);
    ASSERT_EQ(config_set_runtime(cfg_, "workers", "16", &err_), KV_OK);
    ASSERT_EQ(log.names.size(), 1u);
    EXPECT_EQ(log.names[0], "workers");
    EXPECT_EQ(log.workers_seen[0], 16); // the hook sees the new value

    // No hook call for refused changes.
    EXPECT_NE(config_set_runtime(cfg_, "workers", "0", &err_), KV_OK);
    EXPECT_NE(config_set_runtime(cfg_, "port", "1", &err_), KV_OK);
    EXPECT_EQ(log.names.size(), 1u);

    log.fail = true;
    EXPECT_EQ(config_set_runtime(cfg_, "Workers", "2", &err_), KV_ERR);
    EXPECT_STREQ(err_.msg, "cannot apply workers");
    EXPECT_EQ(log.workers_seen.back(), 2);
    EXPECT_EQ(cfg_->workers, 16); // restored

    EXPECT_EQ(config_set_runtime(cfg_, "requirepass", "new", &err_), KV_ERR);
    EXPECT_STREQ(cfg_->requirepass, "");
    EXPECT_EQ(config_set_runtime(cfg_, "proto-max-bulk-len", "1gb", &err_), KV_ERR);
    EXPECT_EQ(cfg_->proto_max_bulk_len, 512LL << 20);
    EXPECT_EQ(config_set_runtime(cfg_, "log-level", "debug", &err_), KV_ERR);
    EXPECT_EQ(cfg_->log_level, LOG_LEVEL_INFO);
    EXPECT_EQ(config_set_runtime(cfg_, "rocksdb.compression", "zlib", &err_), KV_ERR);
    EXPECT_EQ(cfg_->rocksdb_compression, CONFIG_COMPRESSION_NO);
    EXPECT_EQ(config_set_runtime(cfg_, "resp3-enabled", "yes", &err_), KV_ERR);
    EXPECT_FALSE(cfg_->resp3_enabled);

    config_set_apply_hook(cfg_, nullptr, nullptr);
    size_t calls = log.names.size();
    ASSERT_EQ(config_set_runtime(cfg_, "workers", "3", &err_), KV_OK);
    EXPECT_EQ(cfg_->workers, 3);
    EXPECT_EQ(log.names.size(), calls);
}

void
CollectMatch(const char *name, const char *value, void *arg)
{
    auto *out = static_cast<std::vector<std::pair<std::string, std::string>> *>(arg);
    out->emplace_back(name, value);
}

std::vector<std::pair<std::string, std::string>>
Match(const struct config *cfg, const char *pattern)
{
    std::vector<std::pair<std::string, std::string>> out;
    config_match(cfg, pattern, CollectMatch, &out);
    return out;
}

TEST_F(ConfigTest, MatchWithGlobs)
{
    EXPECT_EQ(Match(cfg_, "*").size(), config_option_count());
    auto port = Match(cfg_, "PORT");
    ASSERT_EQ(port.size(), 1u);
    EXPECT_EQ(port[0], std::make_pair(std::string("port"), std::string("6666")));
    auto l0 = Match(cfg_, "rocksdb.level0_*");
    ASSERT_EQ(l0.size(), 3u);
    EXPECT_EQ(l0[0].first, "rocksdb.level0_slowdown_writes_trigger"); // table order
    EXPECT_EQ(l0[0].second, "20");
    EXPECT_EQ(l0[2].first, "rocksdb.level0_file_num_compaction_trigger");
    auto timeouts = Match(cfg_, "replication-*-timeout-ms");
    ASSERT_EQ(timeouts.size(), 3u);
    EXPECT_EQ(timeouts[1],
              std::make_pair(std::string("replication-recv-timeout-ms"), std::string("3200")));
    EXPECT_EQ(Match(cfg_, "slave[-]*").size(), 3u);
    EXPECT_EQ(Match(cfg_, "?ind").size(), 1u);
    EXPECT_TRUE(Match(cfg_, "nothing*").empty());
    auto empty = Match(cfg_, "requirepass");
    ASSERT_EQ(empty.size(), 1u);
    EXPECT_EQ(empty[0].second, "");
}

TEST_F(ConfigTest, DerivedPaths)
{
    struct kv_buf out = KV_BUF_INIT;
    config_db_dir(cfg_, &out);
    EXPECT_STREQ(out.ptr, "/tmp/kvrocks/db");
    config_pidfile_path(cfg_, &out);
    EXPECT_STREQ(out.ptr, "/tmp/kvrocks/kvrocks.pid");
    config_log_dir(cfg_, &out);
    EXPECT_STREQ(out.ptr, "/tmp/kvrocks");

    ASSERT_EQ(config_set(cfg_, "dir", "./data/", &err_), KV_OK);
    ASSERT_EQ(config_set(cfg_, "pidfile", "/run/k.pid", &err_), KV_OK);
    ASSERT_EQ(config_set(cfg_, "log-dir", "stdout", &err_), KV_OK);
    config_db_dir(cfg_, &out);
    EXPECT_STREQ(out.ptr, "./data/db");
    config_pidfile_path(cfg_, &out);
    EXPECT_STREQ(out.ptr, "/run/k.pid");
    config_log_dir(cfg_, &out);
    EXPECT_STREQ(out.ptr, "stdout");
    kv_buf_deinit(&out);
}

TEST_F(ConfigTest, RewriteWithoutFile)
{
    EXPECT_EQ(config_rewrite(cfg_, &err_), KV_ERR);
    EXPECT_STREQ(err_.msg, "The server is running without a config file");
}

TEST_F(ConfigTest, RewriteKeepsCommentsOrderAndAppends)
{
    const std::string original = "# top comment\n"
                                 "\n"
                                 "port 7000\n"
                                 "  # indented comment\n"
                                 "Workers   4\n"
                                 "requirepass old\n"
                                 "workers 5\n"
                                 "bind 0.0.0.0 ::1\n"
                                 "\n"
                                 "# tail comment\n";
    ASSERT_EQ(Load(original), KV_OK) << err_.msg;
    EXPECT_EQ(cfg_->workers, 5);
    ASSERT_EQ(config_set_runtime(cfg_, "workers", "6", &err_), KV_OK);
    ASSERT_EQ(config_set_runtime(cfg_, "requirepass", "has space \"q\"", &err_), KV_OK);
    ASSERT_EQ(config_set_runtime(cfg_, "rocksdb.compression", "snappy", &err_), KV_OK);
    ASSERT_EQ(config_set_runtime(cfg_, "masterauth", "", &err_), KV_OK); // default: not added
    ASSERT_EQ(config_set(cfg_, "slaveof", "10.0.0.2 6379", &err_), KV_OK);
    ASSERT_EQ(config_rewrite(cfg_, &err_), KV_OK) << err_.msg;

    const std::string expected = "# top comment\n"
                                 "\n"
                                 "port 7000\n"
                                 "  # indented comment\n"
                                 "workers 6\n"
                                 "requirepass \"has space \\\"q\\\"\"\n"
                                 "bind 0.0.0.0 ::1\n"
                                 "\n"
                                 "# tail comment\n"
                                 "# Generated by CONFIG REWRITE\n"
                                 "slaveof 10.0.0.2 6379\n"
                                 "rocksdb.compression snappy\n";
    EXPECT_EQ(ReadFile(path_), expected);

    // Round trip: loading the rewritten file gives the same values.
    auto before = AllValues(cfg_);
    struct config *again = config_new();
    ASSERT_EQ(config_load_file(again, path_.c_str(), &err_), KV_OK) << err_.msg;
    EXPECT_EQ(AllValues(again), before);

    // A second rewrite after another change does not repeat the banner, and a rewrite with no
    // change is a fixed point.
    ASSERT_EQ(config_set_runtime(again, "timeout", "30", &err_), KV_OK);
    ASSERT_EQ(config_rewrite(again, &err_), KV_OK) << err_.msg;
    EXPECT_EQ(ReadFile(path_), expected + "timeout 30\n");
    ASSERT_EQ(config_rewrite(again, &err_), KV_OK) << err_.msg;
    EXPECT_EQ(ReadFile(path_), expected + "timeout 30\n");
    config_free(again);

    // No temp file is left behind.
    std::string cmd = "test $(ls -A '" + dir_ + "' | wc -l) -eq 1";
    EXPECT_EQ(system(cmd.c_str()), 0);
}

TEST_F(ConfigTest, RewriteRoundTripsAwkwardStrings)
{
    ASSERT_EQ(Load("port 7000\n"), KV_OK) << err_.msg;
    const char *values[] = {"",        "a b",   "tab\there", "nl\nx",         "quote\"s", "it's",
                            "back\\s", "#hash", "\x01\x7f",  "utf8-\xc3\xa9", "trail "};
    for (const char *v : values) {
        ASSERT_EQ(config_set_runtime(cfg_, "requirepass", v, &err_), KV_OK);
        ASSERT_EQ(config_set(cfg_, "db-name", v, &err_), KV_OK);
        ASSERT_EQ(config_rewrite(cfg_, &err_), KV_OK) << err_.msg;
        struct config *again = config_new();
        ASSERT_EQ(config_load_file(again, path_.c_str(), &err_), KV_OK) << err_.msg << "\n"
                                                                        << ReadFile(path_);
        EXPECT_STREQ(again->requirepass, v);
        EXPECT_STREQ(again->db_name, v);
        EXPECT_EQ(AllValues(again), AllValues(cfg_));
        config_free(again);
    }
}

TEST_F(ConfigTest, RewriteKeepsFileMode)
{
    ASSERT_EQ(Load("port 7000\n"), KV_OK) << err_.msg;
    ASSERT_EQ(chmod(path_.c_str(), 0600), 0);
    ASSERT_EQ(config_set_runtime(cfg_, "timeout", "5", &err_), KV_OK);
    ASSERT_EQ(config_rewrite(cfg_, &err_), KV_OK) << err_.msg;
    struct stat st;
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// kvrocks.conf at the repository root documents every option with its default value; the
// options below are the ones the sample sets on purpose for a development checkout.
TEST_F(ConfigTest, SampleConfigListsEveryOptionWithItsDefault)
{
    const std::map<std::string, std::string> deliberate = {
        {"dir", "./data"},
        {"log-dir", "stdout"},
    };
    const std::string path = KV_SOURCE_DIR "/kvrocks.conf";
    ASSERT_EQ(config_load_file(cfg_, path.c_str(), &err_), KV_OK) << err_.msg;

    // Every option has an uncommented line.
    std::set<std::string> lines;
    std::ifstream in(path);
    ASSERT_TRUE(in.good());
    std::string line;
    while (std::getline(in, line)) {
        size_t start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '#')
            continue;
        size_t end = line.find_first_of(" \t", start);
        lines.insert(line.substr(start, end - start));
    }
    for (size_t i = 0; i < config_option_count(); i++) {
        const char *name = config_option_name(i);
        EXPECT_TRUE(lines.count(name)) << name << " is missing from kvrocks.conf";
        auto it = deliberate.find(name);
        const std::string want = it != deliberate.end() ? it->second : config_option_default(i);
        EXPECT_EQ(Get(cfg_, name), want) << name;
        // Each option's comment paragraph states the default.
        std::string doc = ReadFile(path);
        size_t at = doc.find("\n" + std::string(name) + " ");
        ASSERT_NE(at, std::string::npos) << name;
        size_t para = doc.rfind("\n\n", at);
        std::string comment = doc.substr(para, at - para);
        EXPECT_NE(comment.find("# Default: "), std::string::npos) << name;
        EXPECT_NE(comment.find(config_option_is_mutable(i) ? "CONFIG SET: yes" : "CONFIG SET: no"),
                  std::string::npos)
            << name;
    }
    EXPECT_EQ(lines.size(), config_option_count()); // and nothing else
}

} // namespace
