// The failover modes around the chaos tests: a crash loop ends cleanly (callers get an error,
// nothing hangs in D state, the daemon exits non-zero with one log line, the mount is gone);
// --no-failover keeps the old behaviour (ENOTCONN once the daemon is killed); an upgrade runs
// the binary now on disk, shows in the stats and keeps open files working.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "chaos.hpp"

namespace splicefs::failover {
namespace {

struct Dirs {
    fs::path root, backing, mnt;
    Dirs() {
        char templ[] = "/tmp/splicefs-failover.XXXXXX";
        if (mkdtemp(templ) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
        root = templ;
        backing = root / "backing";
        mnt = root / "mnt";
        fs::create_directory(backing);
        fs::create_directory(mnt);
    }
    ~Dirs() {
        if (!is_splicefs_mounted(mnt)) {
            std::error_code ec;
            fs::remove_all(root, ec);
        }
    }
    Dirs(const Dirs&) = delete;
    Dirs& operator=(const Dirs&) = delete;
};

// SIGKILL through a pidfd and wait until the process has exited; false if it was not there.
bool kill_and_wait(pid_t pid) {
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) return false;
    const bool sent = syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0;
    if (sent) (void)wait_dead(pidfd, pid, 10s);
    close(pidfd);
    return sent;
}

std::size_t lines_containing(const std::string& text, const std::string& needle) {
    std::istringstream in(text);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        std::transform(line.begin(), line.end(), line.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (line.find(needle) != std::string::npos) ++n;
    }
    return n;
}

// A program using the mount until something fails: exits with that errno (0: never failed).
pid_t start_user(const fs::path& mnt, int k) {
    const pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const std::string file = (mnt / "data").string();
    const std::string mine = (mnt / ("user" + std::to_string(k))).string();
    char buf[4096];
    for (;;) {
        struct stat st {};
        const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) _exit(errno);
        const ssize_t r = read(fd, buf, sizeof buf);
        const int e = errno;
        close(fd);
        if (r < 0) _exit(e);
        const int w = open(mine.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w < 0) _exit(errno);
        const ssize_t n = write(w, buf, 100);
        const int e2 = errno;
        close(w);
        if (n < 0) _exit(e2);
        if (stat(mine.c_str(), &st) != 0) _exit(errno);
    }
}

TEST(CrashLoop, EndsWithAnErrorNotAHang) {
    Dirs dirs;
    Daemon d(Settings::get().binary, dirs.backing, dirs.mnt, dirs.root, {});
    { std::ofstream(dirs.mnt / "data") << std::string(8192, 'x'); }
    ASSERT_TRUE(wait_for([&] { return worker_of(d.pid()) > 0; }, 5s))
        << "no worker process under the daemon: failover is not on by default\n"
        << d.log();
    std::vector<pid_t> users;
    for (int k = 0; k < 3; ++k) users.push_back(start_user(dirs.mnt, k));
    // Kill every worker as soon as it appears, until the supervisor gives up.
    int kills = 0;
    pid_t last = -1;
    const auto deadline = Clock::now() + 60s;
    while (d.alive() && is_splicefs_mounted(dirs.mnt) && Clock::now() < deadline && kills < 50) {
        const pid_t w = worker_of(d.pid());
        if (w > 0 && w != last && kill_and_wait(w)) {
            last = w;
            ++kills;
        }
        std::this_thread::sleep_for(1ms);
    }
    const auto status = d.wait_exit(20s);
    ASSERT_TRUE(status.has_value()) << "the daemon still runs after " << kills << " worker deaths\n"
                                    << d.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0)
        << "want a non-zero exit, status " << *status << "\n"
        << d.log();
    EXPECT_GE(kills, 5);
    EXPECT_LE(kills, 7) << "the crash-loop limit is 5 deaths in 10 s";
    RecordProperty("kills", kills);
    // One line, in the log file and on stderr alike.
    EXPECT_EQ(lines_containing(read_text(d.log_file()), "crash"), 1u) << d.log();
    EXPECT_EQ(lines_containing(read_text(d.out_file()), "crash"), 1u) << d.log();
    EXPECT_TRUE(wait_for([&] { return !is_splicefs_mounted(dirs.mnt); }, 10s)) << "the mount is still there";
    // Every program got an error and ended; none is stuck in D state.
    for (const pid_t u : users) {
        int st = 0;
        bool exited = false;
        const auto until = Clock::now() + 15s;
        while (Clock::now() < until) {
            if (waitpid(u, &st, WNOHANG) == u) {
                exited = true;
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
        if (!exited) {
            ADD_FAILURE() << "program " << u << " still running 15 s after the abort, state " << state_of(u);
            kill(u, SIGKILL);
            waitpid(u, &st, 0);
            continue;
        }
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0) << "program " << u << " ended without an error";
        RecordProperty("user_errno", std::strerror(WEXITSTATUS(st)));
    }
}

TEST(NoFailover, KilledDaemonLeavesENOTCONN) {
    Dirs dirs;
    Daemon d(Settings::get().binary, dirs.backing, dirs.mnt, dirs.root, {"--no-failover"});
    { std::ofstream(dirs.mnt / "data") << "some bytes"; }
    const std::string stats = stats_json(dirs.mnt);
    EXPECT_EQ(json_int(stats, "failover").value_or(-1), 0) << stats.substr(0, 400);
    EXPECT_NE(json_string(stats, "failover_reason").value_or(""), "") << "the stats say why failover is off";
    EXPECT_EQ(worker_of(d.pid()), -1) << "--no-failover serves from the daemon itself";
    const int fd = open((dirs.mnt / "data").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    // Whatever serves the mount dies: the daemon itself, or its worker if it has one.
    const pid_t w = worker_of(d.pid());
    ASSERT_TRUE(kill_and_wait(w > 0 ? w : d.pid()));
    // statfs always asks the connection (stat may be answered from cached attributes).
    struct statfs sfs {};
    int err = 0;
    EXPECT_TRUE(wait_for(
        [&] {
            errno = 0;
            err = statfs(dirs.mnt.c_str(), &sfs) == 0 ? 0 : errno;
            return err == ENOTCONN;
        },
        10s))
        << "statfs of the mount root: " << std::strerror(err);
    char buf[16];
    errno = 0;
    EXPECT_EQ(read(fd, buf, sizeof buf), -1);
    EXPECT_TRUE(errno == ENOTCONN || errno == ECONNABORTED) << std::strerror(errno);
    close(fd);
    EXPECT_TRUE(is_splicefs_mounted(dirs.mnt)) << "the dead mount stays until unmounted, as before";
    (void)d.unmount();
    EXPECT_FALSE(is_splicefs_mounted(dirs.mnt));
}

TEST(Upgrade, RunsTheBinaryOnDiskAndShowsItsVersion) {
    Dirs dirs;
    const fs::path bin = dirs.root / "bin" / "splicefs";
    fs::create_directories(bin.parent_path());
    fs::copy_file(Settings::get().binary, bin);
    const std::string version_text = run({bin.string(), "--version"}, 30s).output;
    Daemon d(bin, dirs.backing, dirs.mnt, dirs.root, {});
    const std::string stats = stats_json(dirs.mnt);
    const auto version = json_string(stats, "version");
    ASSERT_TRUE(version.has_value() && !version->empty())
        << "no \"version\" in the stats: " << stats.substr(0, 300);
    EXPECT_NE(version_text.find(*version), std::string::npos)
        << "stats version " << *version << ", --version says " << version_text;

    // A file open across the upgrade.
    const int fd = open((dirs.mnt / "held").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "before", 6, 0), 6);

    // A new binary on disk (a new inode under the same name, as a package upgrade leaves it).
    fs::copy_file(Settings::get().binary, bin.string() + ".new");
    fs::rename(bin.string() + ".new", bin);
    struct stat on_disk {};
    ASSERT_EQ(stat(bin.c_str(), &on_disk), 0);
    const pid_t worker_before = worker_of(d.pid());

    const RunResult up = run({bin.string(), "upgrade", dirs.mnt.string()}, 60s);
    ASSERT_EQ(up.exit_code, 0) << up.output << d.log();

    struct stat running {};
    const std::string exe = "/proc/" + std::to_string(d.pid()) + "/exe";
    ASSERT_EQ(stat(exe.c_str(), &running), 0);
    EXPECT_EQ(running.st_ino, on_disk.st_ino) << "the daemon does not run the binary now on disk";
    EXPECT_TRUE(d.alive()) << "the supervisor keeps its pid across the upgrade";
    EXPECT_NE(worker_of(d.pid()), worker_before);
    const std::string after = stats_json(dirs.mnt);
    EXPECT_EQ(json_int(after, "upgrades").value_or(-1), 1) << after.substr(0, 300);
    EXPECT_EQ(json_int(after, "upgrade_failures").value_or(-1), 0) << after.substr(0, 300);
    EXPECT_EQ(json_int(after, "supervisor_pid").value_or(-1), d.pid());
    EXPECT_EQ(json_int(after, "worker_pid").value_or(-1), worker_of(d.pid()));
    EXPECT_EQ(json_string(after, "version").value_or(""), *version);

    char buf[16] = {};
    EXPECT_EQ(pread(fd, buf, 6, 0), 6) << std::strerror(errno);
    EXPECT_EQ(std::string(buf, 6), "before");
    EXPECT_EQ(pwrite(fd, "after", 5, 6), 5) << std::strerror(errno);
    EXPECT_EQ(close(fd), 0);
    EXPECT_EQ(read_text(dirs.backing / "held"), "beforeafter");
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.log();
}

TEST(Upgrade, RefusesWhatIsNotASplicefsMount) {
    Dirs dirs;
    const RunResult r = run({Settings::get().binary, "upgrade", dirs.mnt.string()}, 30s);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

}  // namespace
}  // namespace splicefs::failover
