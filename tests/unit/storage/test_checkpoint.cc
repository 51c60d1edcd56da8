// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "storage/checkpoint.h"
#include "tempdir.h"

namespace {

class CheckpointMarkTest : public ::testing::Test {
  protected:
    void
    SetUp() override
    {
        root_ = tmp_.path();
        db_ = root_ + "/db";
        aside_ = root_ + "/db.unsynced";
        ASSERT_EQ(mkdir(db_.c_str(), 0755), 0);
        WriteFile(db_ + "/000007.sst", "table bytes");
        kv_err_clear(&err_);
    }

    static bool
    Exists(const std::string &path)
    {
        return access(path.c_str(), F_OK) == 0;
    }

    std::string
    Mark() const
    {
        return db_ + "/" CHECKPOINT_UNSYNCED_MARK;
    }

    TempDir tmp_;
    std::string root_, db_, aside_;
    struct kv_err err_;
};

TEST_F(CheckpointMarkTest, UnmarkedDirectoryIsSyncedAndRecoveryLeavesItAlone)
{
    EXPECT_EQ(checkpoint_sync_state(db_.c_str()), CHECKPOINT_SYNCED);
    bool moved = true;
    ASSERT_EQ(checkpoint_recover(db_.c_str(), aside_.c_str(), &moved, &err_), KV_OK);
    EXPECT_FALSE(moved);
    EXPECT_TRUE(Exists(db_ + "/000007.sst"));
    // a directory that does not exist yet (first start) is not an error either
    EXPECT_EQ(checkpoint_recover((root_ + "/none").c_str(), aside_.c_str(), &moved, &err_), KV_OK);
    EXPECT_FALSE(moved);
}

TEST_F(CheckpointMarkTest, MarkOfThisBootIsSettledInPlace)
{
    ASSERT_EQ(checkpoint_mark_unsynced(db_.c_str(), &err_), KV_OK) << err_.msg;
    EXPECT_EQ(checkpoint_sync_state(db_.c_str()), CHECKPOINT_UNSYNCED_THIS_BOOT);
    bool moved = true;
    ASSERT_EQ(checkpoint_recover(db_.c_str(), aside_.c_str(), &moved, &err_), KV_OK) << err_.msg;
    EXPECT_FALSE(moved);
    EXPECT_FALSE(Exists(Mark()));
    EXPECT_TRUE(Exists(db_ + "/000007.sst"));
    EXPECT_EQ(checkpoint_sync_state(db_.c_str()), CHECKPOINT_SYNCED);
}

TEST_F(CheckpointMarkTest, SettleRemovesTheMark)
{
    ASSERT_EQ(checkpoint_mark_unsynced(db_.c_str(), &err_), KV_OK);
    ASSERT_EQ(checkpoint_settle(db_.c_str(), &err_), KV_OK) << err_.msg;
    EXPECT_FALSE(Exists(Mark()));
    EXPECT_EQ(checkpoint_settle((root_ + "/none").c_str(), &err_), KV_ERR_IO);
}

TEST_F(CheckpointMarkTest, MarkOfAnotherBootMovesTheDirectoryAside)
{
    WriteFile(Mark(), "00000000-0000-0000-0000-000000000000\n");
    EXPECT_EQ(checkpoint_sync_state(db_.c_str()), CHECKPOINT_UNSYNCED_OTHER_BOOT);
    // an older directory set aside is replaced
    ASSERT_EQ(mkdir(aside_.c_str(), 0755), 0);
    WriteFile(aside_ + "/old", "x");
    bool moved = false;
    ASSERT_EQ(checkpoint_recover(db_.c_str(), aside_.c_str(), &moved, &err_), KV_OK) << err_.msg;
    EXPECT_TRUE(moved);
    EXPECT_FALSE(Exists(db_));
    EXPECT_TRUE(Exists(aside_ + "/000007.sst"));
    EXPECT_FALSE(Exists(aside_ + "/old"));
}

TEST_F(CheckpointMarkTest, EmptyOrUnreadableMarkCountsAsAnotherBoot)
{
    WriteFile(Mark(), "");
    EXPECT_EQ(checkpoint_sync_state(db_.c_str()), CHECKPOINT_UNSYNCED_OTHER_BOOT);
    ASSERT_EQ(unlink(Mark().c_str()), 0);
    ASSERT_EQ(mkdir(Mark().c_str(), 0755), 0); // cannot be read as a file
    EXPECT_EQ(checkpoint_sync_state(db_.c_str()), CHECKPOINT_UNSYNCED_OTHER_BOOT);
}

} // namespace
