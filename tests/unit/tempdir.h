// SPDX-License-Identifier: Apache-2.0
//
// tempdir: a fresh directory under /tmp for one test, removed with everything in it when the
// object goes; and whole-file read/write helpers for checking what code under test wrote.
#ifndef KV_TESTS_UNIT_TEMPDIR_H
#define KV_TESTS_UNIT_TEMPDIR_H

#include <fstream>
#include <sstream>
#include <stdlib.h>
#include <string>

#include <gtest/gtest.h>

class TempDir {
  public:
    TempDir()
    {
        char tmpl[] = "/tmp/kvrocks-unit-XXXXXX";
        if (mkdtemp(tmpl) == nullptr)
            ADD_FAILURE() << "mkdtemp failed";
        else
            path_ = tmpl;
    }
    ~TempDir()
    {
        if (!path_.empty() && system(("rm -rf '" + path_ + "'").c_str()) != 0)
            ADD_FAILURE() << "cannot remove " << path_;
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &
    path() const
    {
        return path_;
    }

  private:
    std::string path_;
};

inline std::string
ReadFile(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void
WriteFile(const std::string &path, const std::string &text)
{
    std::ofstream out(path);
    out << text;
}

#endif
