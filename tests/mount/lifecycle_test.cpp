// How the mount looks from outside: fstype and source in mountinfo, read-only mode,
// exit codes for bad input, and daemonised mode returning only once the mount is live.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "mount_fixture.hpp"
#include "mount_info.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using namespace std::chrono_literals;

struct RunResult {
    int exit_code = -1;  // -1 when killed after the timeout or by a signal
    std::string output;
};

// Runs splicefs with `args` to completion (20 s at most); stdout+stderr captured.
RunResult run_splicefs(const std::vector<std::string>& args, const fs::path& out_file) {
    std::vector<std::string> argv{SPLICEFS_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return {};
    if (pid == 0) {
        const int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        if (in >= 0) dup2(in, STDIN_FILENO);
        execv(cargv[0], cargv.data());
        _exit(127);
    }
    RunResult r;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    std::ifstream in(out_file);
    std::ostringstream s;
    s << in.rdbuf();
    r.output = s.str();
    return r;
}

class LifecycleTest : public MountTest {};

TEST_F(LifecycleTest, MountinfoShowsFstypeAndBackingAsSource) {
    const auto entries = read_mountinfo();
    const MountEntry* e = find_mount(entries, mount().mnt());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->fstype, "fuse.splicefs");
    EXPECT_EQ(fs::path(e->source), mount().backing());
    EXPECT_TRUE(has_option(e->mount_options, "rw")) << e->mount_options;
    // Default: not allow_other, kernel permission checks on.
    EXPECT_FALSE(has_option(e->super_options, "allow_other")) << e->super_options;
    EXPECT_TRUE(has_option(e->super_options, "default_permissions")) << e->super_options;
}

TEST_F(LifecycleTest, DaemonSurvivesAndServesAfterManyOps) {
    for (int i = 0; i < 200; ++i) {
        // Appended, not "f" + to_string(): GCC 12 at -O3 reports a false -Wrestrict there.
        std::string name = "f";
        name += std::to_string(i % 7);
        const fs::path p = m(name);
        write_file(p, std::to_string(i));
        EXPECT_EQ(read_file(p), to_bytes(std::to_string(i)));
        if (i % 3 == 0) {
            ASSERT_EQ(unlink(p.c_str()), 0);
        }
    }
    EXPECT_EQ(kill(mount().pid(), 0), 0) << "daemon died";
    const StatsSnapshot s = mount().stats_when_idle();
    EXPECT_EQ(s.open_files, 0) << s.json;
    EXPECT_EQ(s.open_dirs, 0) << s.json;
}

// fusermount3 -u right after the mount appears must work: nothing of the daemon's own may
// hold the mount busy (a statfs on it from a tuning thread once made this fail with EBUSY).
TEST(Lifecycle, UnmountRightAfterMountSucceeds) {
    for (int i = 0; i < 15; ++i) {
        Mount mnt;
        const auto status = mnt.unmount();
        ASSERT_TRUE(status.has_value()) << "round " << i << ": fusermount3 -u failed\n" << mnt.log();
        EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << mnt.log();
    }
}

// The bdi readahead is raised once INIT is through (see tuning.hpp), by the first request.
TEST_F(LifecycleTest, ReadaheadRaisedAfterFirstRequest) {
    struct stat st {};
    ASSERT_EQ(stat(mount().mnt().c_str(), &st), 0);
    const std::string knob = "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                             std::to_string(minor(st.st_dev)) + "/read_ahead_kb";
    if (access(knob.c_str(), W_OK) != 0) GTEST_SKIP() << knob << " is not writable here";
    if (std::getenv("SPLICEFS_TUNE_READAHEAD_KB") != nullptr) GTEST_SKIP() << "readahead overridden";
    std::ifstream in(knob);
    unsigned kb = 0;
    in >> kb;
    EXPECT_EQ(kb, 2016U) << knob << "\n" << mount().log();
}

class ReadOnlyTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--read-only"}; }
};

TEST_F(ReadOnlyTest, RefusesEveryChangeButReads) {
    write_file(b("f"), "data");
    ASSERT_EQ(mkdir(b("d").c_str(), 0755), 0);
    EXPECT_EQ(read_file(m("f")), to_bytes("data"));
    errno = 0;
    EXPECT_FALSE(open_fd(m("f"), O_WRONLY).valid());
    EXPECT_EQ(errno, EROFS);
    errno = 0;
    EXPECT_FALSE(open_fd(m("new"), O_WRONLY | O_CREAT).valid());
    EXPECT_EQ(errno, EROFS);
    EXPECT_ERRNO(mkdir(m("d2").c_str(), 0755), EROFS);
    EXPECT_ERRNO(unlink(m("f").c_str()), EROFS);
    EXPECT_ERRNO(rmdir(m("d").c_str()), EROFS);
    EXPECT_ERRNO(chmod(m("f").c_str(), 0600), EROFS);
    EXPECT_ERRNO(truncate(m("f").c_str(), 0), EROFS);
    EXPECT_ERRNO(rename(m("f").c_str(), m("g").c_str()), EROFS);
    EXPECT_ERRNO(symlink("f", m("l").c_str()), EROFS);
    EXPECT_ERRNO(setxattr(m("f").c_str(), "user.x", "1", 1, 0), EROFS);
    EXPECT_EQ(read_file(b("f")), to_bytes("data"));
    const auto entries = read_mountinfo();
    const MountEntry* e = find_mount(entries, mount().mnt());
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(has_option(e->mount_options, "ro")) << e->mount_options;
}

TEST(ExitCodes, BadOptionIsOne) {
    const TempDir dir("splicefs-mt.");
    ASSERT_EQ(mkdir((dir.path() / "b").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((dir.path() / "m").c_str(), 0755), 0);
    const auto r =
        run_splicefs({"-f", "--no-such-option", (dir.path() / "b").string(), (dir.path() / "m").string()},
                     dir.path() / "out");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_FALSE(is_splicefs_mounted(dir.path() / "m"));
    const auto r2 =
        run_splicefs({"-f", "--cache=sometimes", (dir.path() / "b").string(), (dir.path() / "m").string()},
                     dir.path() / "out");
    EXPECT_EQ(r2.exit_code, 1) << r2.output;
}

TEST(ExitCodes, MissingMountpointIsTwo) {
    const TempDir dir("splicefs-mt.");
    ASSERT_EQ(mkdir((dir.path() / "b").c_str(), 0755), 0);
    const auto r = run_splicefs({"-f", (dir.path() / "b").string(), (dir.path() / "nowhere").string()},
                                dir.path() / "out");
    EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(ExitCodes, MountpointInsideOrEqualToBackingIsTwo) {
    const TempDir dir("splicefs-mt.");
    ASSERT_EQ(mkdir((dir.path() / "b").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((dir.path() / "b" / "inner").c_str(), 0755), 0);
    const auto r = run_splicefs({"-f", (dir.path() / "b").string(), (dir.path() / "b" / "inner").string()},
                                dir.path() / "out");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_FALSE(is_splicefs_mounted(dir.path() / "b" / "inner"));
    const auto same =
        run_splicefs({"-f", (dir.path() / "b").string(), (dir.path() / "b").string()}, dir.path() / "out");
    EXPECT_EQ(same.exit_code, 2) << same.output;
    EXPECT_FALSE(is_splicefs_mounted(dir.path() / "b"));
}

TEST(Daemonised, ReturnsZeroOnlyOnceMounted) {
    const TempDir dir("splicefs-mt.");
    const fs::path bck = dir.path() / "backing", mnt = dir.path() / "mnt";
    ASSERT_EQ(mkdir(bck.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    write_file(bck / "hello", "world");
    std::ofstream(dir.path() / "owner.pid") << getpid() << '\n';
    const auto r = run_splicefs({"--log-file", (dir.path() / "log").string(), bck.string(), mnt.string()},
                                dir.path() / "out");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Already mounted when the parent returned: no polling here on purpose.
    EXPECT_TRUE(is_splicefs_mounted(mnt));
    EXPECT_EQ(read_file(mnt / "hello"), to_bytes("world"));
    // Unmounting ends the daemon (it is not our child: poll the mount table).
    const std::string cmd = "fusermount3 -u '" + mnt.string() + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    for (int i = 0; i < 500 && is_splicefs_mounted(mnt); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(is_splicefs_mounted(mnt));
}

}  // namespace
}  // namespace splicefs::test
