#pragma once
// Field-by-field comparison of a stat seen through the mount with the backing's.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "test_util.hpp"

namespace splicefs::test {

inline void expect_same_stat(const struct stat& mnt, const struct stat& bck, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(mnt.st_ino, bck.st_ino);
    EXPECT_EQ(mnt.st_mode, bck.st_mode);
    EXPECT_EQ(mnt.st_nlink, bck.st_nlink);
    EXPECT_EQ(mnt.st_size, bck.st_size);
    EXPECT_EQ(mnt.st_uid, bck.st_uid);
    EXPECT_EQ(mnt.st_gid, bck.st_gid);
    EXPECT_EQ(mnt.st_mtim.tv_sec, bck.st_mtim.tv_sec);
    EXPECT_EQ(mnt.st_mtim.tv_nsec, bck.st_mtim.tv_nsec);
    EXPECT_EQ(mnt.st_rdev, bck.st_rdev);
}

// lstat of the same relative path through the mount and in the backing dir.
inline void expect_same_lstat(const std::filesystem::path& mnt, const std::filesystem::path& bck) {
    expect_same_stat(lstat_of(mnt), lstat_of(bck), mnt.c_str());
}

}  // namespace splicefs::test
