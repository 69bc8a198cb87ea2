// Failover's own process rules (issue 13; the chaos, upgrade-loop and crash-loop suites are
// tests/failover): a worker's death is invisible to a program reading an open file; without
// a supervisor (--no-failover) the daemon is what it always was; where the kernel lacks
// FUSE_HAS_RESEND (simulated with a test-only environment variable, the only way on a kernel
// that has it) a worker's death ends the mount cleanly; `splicefs upgrade` refuses a binary of
// another handoff version and hands the mount to one of the same.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

constexpr std::size_t kFileBytes = 8u << 20;

pid_t worker_of(pid_t daemon) {
    std::ifstream in("/proc/" + std::to_string(daemon) + "/task/" + std::to_string(daemon) + "/children");
    pid_t pid = 0;
    return in >> pid ? pid : 0;
}

std::int64_t number(const std::string& json, std::string_view key) {
    return test::json_number(json, "", key).value_or(-1);
}

Bytes pattern(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>((i * 131u) ^ (i >> 12));
    return b;
}

// Sets an environment variable for the daemons started in this scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

std::string daemon_binary() {
    const char* env = std::getenv("SPLICEFS_BIN");
    return env != nullptr && *env != '\0' ? env : SPLICEFS_BINARY;
}

// Runs a shell command line, returns {exit code, stdout+stderr}.
std::pair<int, std::string> shell(const std::string& command) {
    std::string out;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) return {-1, out};
    std::array<char, 512> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) out += buf.data();
    const int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(FailoverModes, AWorkerDeathIsInvisibleToAReaderOfAnOpenFile) {
    Dirs dirs;
    test::write_file(dirs.backing / "f.bin", pattern(kFileBytes));
    Daemon d(dirs.backing, dirs.mnt, dirs.root.path());
    std::optional<test::Fd> fd(test::open_fd(dirs.mnt / "f.bin", O_RDONLY));
    ASSERT_TRUE(fd->valid());
    Bytes got(kFileBytes);
    const std::size_t half = kFileBytes / 2;
    ASSERT_EQ(::pread(fd->get(), got.data(), half, 0), static_cast<ssize_t>(half));

    const std::string before = stats_json(dirs.mnt);
    const pid_t worker = worker_of(d.pid());
    ASSERT_GT(worker, 0) << d.log();
    EXPECT_EQ(number(before, "supervisor_pid"), d.pid()) << before;
    EXPECT_EQ(number(before, "worker_pid"), worker) << before;
    EXPECT_EQ(number(before, "failover"), 1) << before;
    ASSERT_EQ(::kill(worker, SIGKILL), 0);

    // The already-open file (its fd is the kernel's fh, in the fd table the worker shared).
    ASSERT_EQ(::pread(fd->get(), got.data() + half, kFileBytes - half, static_cast<off_t>(half)),
              static_cast<ssize_t>(kFileBytes - half))
        << std::strerror(errno) << "\n"
        << d.log();
    EXPECT_EQ(test::first_difference(got, pattern(kFileBytes)), kFileBytes);
    const std::string after = stats_json(dirs.mnt);
    EXPECT_EQ(number(after, "failovers"), 1) << after;
    EXPECT_EQ(number(after, "supervisor_pid"), d.pid()) << after;
    EXPECT_NE(number(after, "worker_pid"), worker) << after;
    EXPECT_GT(number(after, "failover_last_pause_us"), 0) << after;
    fd.reset();  // an open file keeps fusermount3 -u busy
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.log();
}

TEST(FailoverModes, NoFailoverIsOneProcessWhoseDeathEndsTheMount) {
    Dirs dirs;
    std::optional<Daemon> d(std::in_place, dirs.backing, dirs.mnt, dirs.root.path(),
                            std::vector<std::string>{"-o", "no_failover"});
    const std::string json = stats_json(dirs.mnt);
    EXPECT_EQ(number(json, "failover"), 0) << json;
    EXPECT_NE(json.find("\"failover_reason\":\"--no-failover\""), std::string::npos) << json;
    EXPECT_EQ(number(json, "supervisor_pid"), d->pid()) << json;
    EXPECT_EQ(number(json, "worker_pid"), d->pid()) << json;
    EXPECT_EQ(worker_of(d->pid()), 0) << "no worker process without failover";
    EXPECT_NE(d->log().find("failover off: --no-failover"), std::string::npos) << d->log();
    // No supervisor, no live upgrade: one line saying why.
    const auto [refused, out] = shell(std::string(SPLICEFS_BINARY) + " upgrade " + dirs.mnt.string());
    EXPECT_EQ(refused, 1) << out;
    EXPECT_NE(out.find("runs without failover (--no-failover)"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

    d->kill_hard();
    // getxattr always asks the daemon (a stat may be answered from cached attributes).
    errno = 0;
    EXPECT_EQ(::getxattr(dirs.mnt.c_str(), "user.splicefs.stats", nullptr, 0), -1);
    EXPECT_EQ(errno, ENOTCONN) << "today's behaviour: the dead mount stays, not connected";
    EXPECT_TRUE(test::is_splicefs_mounted(dirs.mnt));
    EXPECT_EQ(::umount2(dirs.mnt.c_str(), MNT_DETACH), 0) << std::strerror(errno);
}

TEST(FailoverModes, WithoutHasResendAWorkerDeathAbortsAndUnmounts) {
    Dirs dirs;
    test::write_file(dirs.backing / "f.bin", pattern(4096));
    const ScopedEnv hide("SPLICEFS_TEST_HIDE_HAS_RESEND", "1");
    Daemon d(dirs.backing, dirs.mnt, dirs.root.path());
    const std::string json = stats_json(dirs.mnt);
    EXPECT_EQ(number(json, "failover"), 0) << json;
    EXPECT_NE(json.find("FUSE_HAS_RESEND"), std::string::npos) << json;
    const pid_t worker = worker_of(d.pid());
    ASSERT_GT(worker, 0);
    ASSERT_EQ(::kill(worker, SIGKILL), 0);

    // The supervisor gives up: connection aborted, unmounted, exit status 7.
    ASSERT_TRUE(wait_until([&] { return !d.alive(); }, 10s)) << d.log();
    EXPECT_FALSE(test::is_splicefs_mounted(dirs.mnt)) << d.log();
    const std::string log = d.log();
    EXPECT_NE(log.find("failover off: the kernel does not offer FUSE_HAS_RESEND"), std::string::npos) << log;
    EXPECT_NE(log.find("and failover is off"), std::string::npos) << log;
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 7) << log;
}

TEST(FailoverModes, UpgradeRefusesAnotherHandoffVersionAndTakesTheSame) {
    Dirs dirs;
    test::write_file(dirs.backing / "f.bin", pattern(kFileBytes));
    // The daemon runs from a copy, so that "the binary now on disk" can be replaced.
    const fs::path bin = dirs.root.path() / "splicefs";
    fs::copy_file(daemon_binary(), bin);
    const ScopedEnv use_copy("SPLICEFS_BIN", bin.string());
    Daemon d(dirs.backing, dirs.mnt, dirs.root.path());
    std::optional<test::Fd> fd(test::open_fd(dirs.mnt / "f.bin", O_RDONLY));
    ASSERT_TRUE(fd->valid());

    // An incompatible binary on disk (renamed over the daemon's, as a package upgrade does).
    const fs::path fake = dirs.root.path() / "fake";
    {
        std::ofstream out(fake);
        out << "#!/bin/sh\n[ \"$1\" = --handoff-version ] && echo 99.0\n";
    }
    fs::permissions(fake, fs::perms::owner_all);
    fs::rename(bin, dirs.root.path() / "real");
    fs::rename(fake, bin);
    const auto [refused, refused_out] = shell(std::string(SPLICEFS_BINARY) + " upgrade " + dirs.mnt.string());
    EXPECT_EQ(refused, 1) << refused_out;
    EXPECT_NE(refused_out.find("handoff version 99.0"), std::string::npos) << refused_out;
    const std::string after_refusal = stats_json(dirs.mnt);
    EXPECT_EQ(number(after_refusal, "upgrade_failures"), 1) << after_refusal;
    EXPECT_EQ(number(after_refusal, "upgrades"), 0) << after_refusal;

    // The real one back: the mount moves to it, the daemon keeps its pid, the open file works.
    fs::rename(dirs.root.path() / "real", bin);
    const pid_t old_worker = worker_of(d.pid());
    const auto [ok, ok_out] = shell(std::string(SPLICEFS_BINARY) + " upgrade " + dirs.mnt.string());
    EXPECT_EQ(ok, 0) << ok_out << d.log();
    EXPECT_NE(ok_out.find("upgraded "), std::string::npos) << ok_out;
    const std::string after = stats_json(dirs.mnt);
    EXPECT_EQ(number(after, "upgrades"), 1) << after;
    EXPECT_EQ(number(after, "supervisor_pid"), d.pid()) << after;
    EXPECT_NE(number(after, "worker_pid"), old_worker) << after;
    Bytes got(kFileBytes);
    ASSERT_EQ(::pread(fd->get(), got.data(), got.size(), 0), static_cast<ssize_t>(got.size()))
        << std::strerror(errno);
    EXPECT_EQ(test::first_difference(got, pattern(kFileBytes)), kFileBytes);
    test::write_file(dirs.mnt / "new.txt", "after the upgrade");
    EXPECT_EQ(test::read_file(dirs.backing / "new.txt"), test::to_bytes("after the upgrade"));

    fd.reset();
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.log();
    EXPECT_FALSE(test::is_splicefs_mounted(dirs.mnt));
}

}  // namespace
}  // namespace splicefs::reltest
