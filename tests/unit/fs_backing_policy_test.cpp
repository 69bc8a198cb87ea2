// The backing policy: which filesystems get the backing watch, what the options force, and
// the stamp the OPEN check compares.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>

#include "fs/backing_policy.hpp"
#include "sys/fd.hpp"

namespace splicefs::fs {
namespace {

TEST(BackingPolicy, LocalTypesAreAnExplicitList) {
    EXPECT_TRUE(is_local_fs_type(EXT4_SUPER_MAGIC));
    EXPECT_TRUE(is_local_fs_type(XFS_SUPER_MAGIC));
    EXPECT_TRUE(is_local_fs_type(BTRFS_SUPER_MAGIC));
    EXPECT_TRUE(is_local_fs_type(TMPFS_MAGIC));
    EXPECT_TRUE(is_local_fs_type(F2FS_SUPER_MAGIC));
    EXPECT_FALSE(is_local_fs_type(FUSE_SUPER_MAGIC));  // GlusterFS, bindfs, sshfs, ...
    EXPECT_FALSE(is_local_fs_type(NFS_SUPER_MAGIC));
    EXPECT_FALSE(is_local_fs_type(CEPH_SUPER_MAGIC));
    EXPECT_FALSE(is_local_fs_type(SMB2_SUPER_MAGIC));
    EXPECT_FALSE(is_local_fs_type(PROC_SUPER_MAGIC));
    EXPECT_FALSE(is_local_fs_type(0));
}

class PolicyOn : public ::testing::Test {
protected:
    static BackingPolicy decide(const Config& c, const char* path) {
        const sys::UniqueFd fd{::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)};
        EXPECT_TRUE(fd.valid()) << path;
        return decide_backing_policy(c, fd.get());
    }
};

TEST_F(PolicyOn, ProcIsNotLocalSoNoWatchUnlessForced) {
    Config c;
    auto p = decide(c, "/proc");
    EXPECT_EQ(p.fs_type, "proc");
    EXPECT_FALSE(p.local);
    EXPECT_FALSE(p.watch);
    EXPECT_NE(p.reason.find("not a local filesystem"), std::string::npos) << p.reason;
    c.watch = WatchMode::On;
    p = decide(c, "/proc");
    EXPECT_TRUE(p.watch);
    EXPECT_NE(p.reason.find("forced"), std::string::npos) << p.reason;
}

TEST_F(PolicyOn, OptionsThatRuleTheWatchOutWinOverOn) {
    Config c;
    c.watch = WatchMode::On;
    c.attr_timeout = 2.0;
    EXPECT_FALSE(decide(c, "/proc").watch);
    c.attr_timeout.reset();
    c.cache = CacheMode::Never;
    EXPECT_FALSE(decide(c, "/proc").watch);
    c.cache = CacheMode::Auto;
    c.watch = WatchMode::Off;
    const auto p = decide(c, "/proc");
    EXPECT_FALSE(p.watch);
    EXPECT_EQ(p.reason, "--watch=off");
}

TEST(BackingPolicy, StampTellsSizeMtimeAndCtime) {
    struct stat a {};
    a.st_size = 4;
    a.st_mtim = {100, 1};
    a.st_ctim = {100, 1};
    const auto base = content_stamp(a);
    EXPECT_NE(base, 0u);
    auto b = a;
    EXPECT_EQ(content_stamp(b), base);
    b.st_size = 5;
    EXPECT_NE(content_stamp(b), base);
    b = a;
    b.st_mtim.tv_nsec = 2;
    EXPECT_NE(content_stamp(b), base);
    b = a;
    b.st_ctim.tv_sec = 101;
    EXPECT_NE(content_stamp(b), base);
    b = a;
    b.st_atim.tv_sec = 7;  // reading a file is no change
    EXPECT_EQ(content_stamp(b), base);
}

}  // namespace
}  // namespace splicefs::fs
