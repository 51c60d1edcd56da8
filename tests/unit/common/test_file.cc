// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/file.h"
#include "tempdir.h"

namespace {

class FileTest : public ::testing::Test {
  protected:
    void
    SetUp() override
    {
        dir_ = tmp_.path();
        kv_err_clear(&err_);
    }

    TempDir tmp_;
    std::string dir_;
    struct kv_err err_;
};

TEST_F(FileTest, WriteAtomicReplacesTheContentAndLeavesNoTemporary)
{
    std::string path = dir_ + "/conf";
    ASSERT_EQ(file_write_atomic(path.c_str(), "first\n", 6, &err_), KV_OK) << err_.msg;
    EXPECT_EQ(ReadFile(path), "first\n");
    ASSERT_EQ(file_write_atomic(path.c_str(), "2", 1, &err_), KV_OK) << err_.msg;
    EXPECT_EQ(ReadFile(path), "2");
    EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
}

TEST_F(FileTest, WriteAtomicKeepsThePermissionsOfTheFileItReplaces)
{
    std::string path = dir_ + "/secret";
    ASSERT_EQ(file_write_atomic(path.c_str(), "a", 1, &err_), KV_OK);
    struct stat sb;
    ASSERT_EQ(stat(path.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0644u);
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
    ASSERT_EQ(file_write_atomic(path.c_str(), "b", 1, &err_), KV_OK);
    ASSERT_EQ(stat(path.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

TEST_F(FileTest, WriteAtomicIntoAMissingDirectoryFailsAndNamesTheFile)
{
    std::string path = dir_ + "/no/such/file";
    EXPECT_EQ(file_write_atomic(path.c_str(), "x", 1, &err_), KV_ERR_IO);
    EXPECT_NE(std::string(err_.msg).find("no/such/file"), std::string::npos) << err_.msg;
}

TEST_F(FileTest, SyncDirFilesSyncsRegularFilesAndSkipsTheRest)
{
    ASSERT_EQ(file_write_atomic((dir_ + "/a").c_str(), "a", 1, &err_), KV_OK);
    ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(symlink("/nonexistent", (dir_ + "/dangling").c_str()), 0);
    ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0644), 0); // opening it must not block
    EXPECT_EQ(file_sync_dir_files(dir_.c_str(), &err_), KV_OK) << err_.msg;
    EXPECT_EQ(file_sync_dir_files((dir_ + "/missing").c_str(), &err_), KV_ERR_IO);
    EXPECT_EQ(file_sync_dir((dir_ + "/missing").c_str(), &err_), KV_ERR_IO);
    EXPECT_EQ(file_sync_parent((dir_ + "/a").c_str(), &err_), KV_OK);
}

} // namespace
