// SPDX-License-Identifier: Apache-2.0
//
// fixture: a real RocksDB in a fresh temporary directory, opened through storage_open with tiny
// write buffers and SST files so flushes and compactions happen during tests, plus a struct db
// handle for the default namespace. Removed (directory and all) at teardown.
#ifndef KV_TESTS_UNIT_FIXTURE_H
#define KV_TESTS_UNIT_FIXTURE_H

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/status.h"
#include "config/config.h"
#include "slice_util.h"
#include "storage/keys.h"
#include "storage/storage.h"
#include "storage/wal.h"
#include "types/db.h"
#include "types/keylock.h"

// max-bitmap-to-string-mb's default (16) in bytes: the `bitmap_max` the types/str.h and
// types/sort.h calls get in tests that are not about that limit.
constexpr uint64_t kBitmapStringMax = UINT64_C(16) << 20;

class StorageTest : public ::testing::Test {
  protected:
    void
    SetUp() override
    {
        char tmpl[] = "/tmp/kvrocks-unit-XXXXXX";
        char *d = mkdtemp(tmpl);
        ASSERT_NE(d, nullptr);
        dir_ = d;
        cfg_ = config_new();
        cfg_->rocksdb_write_buffer_size = 1; // MiB: the minimum, so memtables flush often
        cfg_->rocksdb_target_file_size_base = 1;
        cfg_->rocksdb_block_cache_size = 8;
        cfg_->row_cache_size = 1; // MiB: small, so its entries get evicted too
        cfg_->cluster_enabled = Cluster();
        Open();
    }

    void
    TearDown() override
    {
        Close();
        config_free(cfg_);
        std::string cmd = "rm -rf '" + dir_ + "'";
        if (system(cmd.c_str()) != 0) {
            ADD_FAILURE() << "cannot remove " << dir_;
        }
    }

    virtual bool
    Cluster() const
    {
        return false;
    }

    void
    Open()
    {
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(storage_open(cfg_, (dir_ + "/db").c_str(), &st_, &err), KV_OK) << err.msg;
        locks_ = keylock_table_new();
        db_.st = st_;
        db_.locks = locks_;
        db_.ns = kv_slice_cstr(KEYS_DEFAULT_NAMESPACE);
        db_.cluster = cfg_->cluster_enabled;
        db_.hooks = nullptr;
        db_.snap = nullptr;
    }

    void
    Close()
    {
        storage_close(st_);
        st_ = nullptr;
        keylock_table_free(locks_);
        locks_ = nullptr;
    }

    void
    Reopen()
    {
        Close();
        Open();
    }

    std::string dir_;
    struct config *cfg_ = nullptr;
    struct storage *st_ = nullptr;
    struct keylock_table *locks_ = nullptr;
    struct db db_ {};
};

// Another thread holds a key's lock (as a worker does for its round on a hot key) until
// Release(), or for at most 3 s, so that a test whose code waits for the lock fails instead of
// hanging: StillHeld() tells whether that has happened.
class HeldKey {
  public:
    HeldKey(struct keylock_table *locks, struct kv_slice ns, const std::string &key)
    {
        t_ = std::thread([this, locks, ns, key] {
            struct keylock_guard g;
            keylock_lock1(locks, ns, kv_slice_make(key.data(), key.size()), &g);
            locked_.store(true);
            auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
            while (!release_.load() && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            timed_out_.store(!release_.load());
            keylock_unlock(&g);
        });
        while (!locked_.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~HeldKey()
    {
        Release();
    }
    bool
    StillHeld() const
    {
        return !timed_out_.load() && !release_.load();
    }
    void
    Release()
    {
        release_.store(true);
        if (t_.joinable())
            t_.join();
    }

  private:
    std::thread t_;
    std::atomic<bool> locked_{false}, release_{false}, timed_out_{false};
};

// The records of the write batch that starts at sequence seq, in order: "<kind> <cf>", or with
// `keys` "put <cf> <key>=<value>" and "del <cf> <key>"; LogData as "log <blob>".
inline std::vector<std::string>
WalRecords(struct storage *st, uint64_t seq, bool keys)
{
    struct wal_iter *it = nullptr;
    std::vector<std::string> out;
    EXPECT_EQ(wal_iter_open(st, seq, &it, nullptr), KV_OK);
    if (it == nullptr)
        return out;
    uint64_t first = 0;
    uint32_t count = 0;
    struct kv_slice rep;
    EXPECT_EQ(wal_iter_batch(it, &first, &count, &rep, nullptr), KV_OK);
    EXPECT_EQ(first, seq);
    struct walk {
        std::vector<std::string> *out;
        bool keys;
    } w = {&out, keys};
    auto fn = [](void *arg, enum storage_record_kind kind, enum kv_cf cf, struct kv_slice key,
                 struct kv_slice value) {
        auto *wk = static_cast<struct walk *>(arg);
        std::string k(key.ptr == nullptr ? "" : key.ptr, key.len);
        std::string v(value.ptr == nullptr ? "" : value.ptr, value.len);
        if (kind == STORAGE_REC_LOG_DATA)
            wk->out->push_back("log " + v);
        else if (kind == STORAGE_REC_PUT)
            wk->out->push_back(std::string("put ") + cf_name(cf) +
                               (wk->keys ? " " + k + "=" + v : ""));
        else
            wk->out->push_back(std::string("del ") + cf_name(cf) + (wk->keys ? " " + k : ""));
    };
    EXPECT_EQ(storage_batch_foreach(rep, fn, &w, nullptr), KV_OK);
    wal_iter_free(it);
    return out;
}

// WalRecords without keys, a LogData first (when the batch has one), then the records sorted by
// kind and cf.
inline std::vector<std::string>
BatchRecords(struct storage *st, uint64_t seq)
{
    std::vector<std::string> out = WalRecords(st, seq, false);
    bool log_first = !out.empty() && out[0].compare(0, 4, "log ") == 0;
    std::sort(out.begin() + (log_first ? 1 : 0), out.end());
    return out;
}

#endif
