// Start-up checks against real directories and real (dead, live) mounts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "core/exit_codes.hpp"
#include "mount/checks.hpp"
#include "mount_test_util.hpp"
#include "sys/fd.hpp"

namespace splicefs::mount {
namespace {

using splicefs::testing::DetachOnExit;
using splicefs::testing::TempDir;

ExitCode code_of(void (*check)(Config&), Config& c) {
    try {
        check(c);
    } catch (const ExitError& e) {
        return e.code();
    }
    return ExitCode::Ok;
}

Config config_for(const std::filesystem::path& b, const std::filesystem::path& m) {
    Config c;
    c.backing = b;
    c.mountpoint = m;
    return c;
}

TEST(CheckBacking, AcceptsAndCanonicalises) {
    TempDir t;
    t.make("b");
    Config c = config_for(t.path() / "x/../b/.", t.path() / "m");
    std::filesystem::create_directory(t.path() / "x");
    EXPECT_EQ(code_of(check_backing, c), ExitCode::Ok);
    EXPECT_EQ(c.backing, std::filesystem::canonical(t.path() / "b"));
}

TEST(CheckBacking, MissingOrFileIsBadArguments) {
    TempDir t;
    std::ofstream(t.path() / "file") << "x";
    Config missing = config_for(t.path() / "none", t.path());
    Config file = config_for(t.path() / "file", t.path());
    EXPECT_EQ(code_of(check_backing, missing), ExitCode::BadArguments);
    EXPECT_EQ(code_of(check_backing, file), ExitCode::BadArguments);
}

TEST(CheckMountpoint, MissingOrFileIsMountpointError) {
    TempDir t;
    std::ofstream(t.path() / "file") << "x";
    Config missing = config_for(t.path(), t.path() / "none");
    Config file = config_for(t.path(), t.path() / "file");
    Config below_file = config_for(t.path(), t.path() / "file/sub");
    EXPECT_EQ(code_of(check_mountpoint, missing), ExitCode::Mountpoint);
    EXPECT_EQ(code_of(check_mountpoint, file), ExitCode::Mountpoint);
    EXPECT_EQ(code_of(check_mountpoint, below_file), ExitCode::Mountpoint);
}

TEST(CheckNoLoop, ReportsEveryLoopAsMountpointError) {
    TempDir t;
    const auto b = t.make("b");
    const auto inside = t.make("b/in");
    const auto m = t.make("m");
    const auto above_b = t.make("m/b2");
    EXPECT_NO_THROW(check_no_loop(config_for(b, m)));
    for (const auto& [back, mnt] : {std::pair{b, b}, std::pair{b, inside}, std::pair{above_b, m}}) {
        try {
            check_no_loop(config_for(back, mnt));
            ADD_FAILURE() << back << " on " << mnt << " accepted";
        } catch (const ExitError& e) {
            EXPECT_EQ(e.code(), ExitCode::Mountpoint);
        }
    }
}

bool can_mount() {
    return ::geteuid() == 0 && ::access("/dev/fuse", R_OK | W_OK) == 0;
}

TEST(CheckMountpoint, LiveMountIsRefused) {
    if (!can_mount()) GTEST_SKIP() << "needs root";
    TempDir t;
    const auto m = t.make("m");
    DetachOnExit guard(m);
    ASSERT_EQ(::mount("tmpfs", m.c_str(), "tmpfs", 0, "size=1m"), 0);
    EXPECT_TRUE(is_mount_root(m));
    Config c = config_for(t.path(), m);
    EXPECT_EQ(code_of(check_mountpoint, c), ExitCode::Mountpoint);
}

// A FUSE mount whose daemon is gone: mount with a /dev/fuse fd, then close the fd.
bool make_dead_fuse_mount(const std::filesystem::path& dir) {
    sys::UniqueFd fd(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
    if (!fd) return false;
    const std::string opts = "fd=" + std::to_string(fd.get()) + ",rootmode=40000,user_id=0,group_id=0";
    return ::mount("dead-test", dir.c_str(), "fuse.splicefs-test", MS_NOSUID | MS_NODEV, opts.c_str()) == 0;
}

TEST(CheckMountpoint, DeadFuseMountIsRecovered) {
    if (!can_mount()) GTEST_SKIP() << "needs root and /dev/fuse";
    TempDir t;
    const auto m = t.make("m");
    DetachOnExit guard(m);
    ASSERT_TRUE(make_dead_fuse_mount(m));
    struct stat st {};
    ASSERT_NE(::stat(m.c_str(), &st), 0);
    ASSERT_EQ(errno, ENOTCONN);

    Config refuse = config_for(t.path(), m);
    refuse.recover_stale = false;
    EXPECT_EQ(code_of(check_mountpoint, refuse), ExitCode::Mountpoint);
    EXPECT_NE(::stat(m.c_str(), &st), 0) << "--no-recover-stale must leave the mount alone";

    Config recover = config_for(t.path(), m);
    EXPECT_EQ(code_of(check_mountpoint, recover), ExitCode::Ok);
    EXPECT_EQ(::stat(m.c_str(), &st), 0);
    EXPECT_FALSE(is_mount_root(m));
}

TEST(CheckDevFuse, OpensWhenPresent) {
    if (::access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/fuse";
    EXPECT_NO_THROW(check_dev_fuse());
}

TEST(RaiseNofile, SoftReachesHard) {
    raise_nofile_limit();
    rlimit lim{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
    EXPECT_EQ(lim.rlim_cur, lim.rlim_max);
}

}  // namespace
}  // namespace splicefs::mount
