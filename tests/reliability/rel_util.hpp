#pragma once
// Helpers for the reliability tests: a daemon launcher that can reuse a mountpoint, lower
// RLIMIT_NOFILE or be SIGKILLed; a size-limited tmpfs; /proc probes (fd count, peak RSS);
// the kernel-forget trigger; a tree snapshot for "nothing changed" checks.
#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::reltest {

namespace fs = std::filesystem;
using test::Bytes;
using namespace std::chrono_literals;

// A splicefs daemon run in the foreground on caller-chosen dirs. Unlike test::Mount it
// tolerates a dead mount already on the mountpoint (it waits for a live one) and can start
// under a given RLIMIT_NOFILE. The destructor always unmounts and reaps.
class Daemon {
public:
    Daemon(fs::path backing, fs::path mnt, fs::path log_dir, std::vector<std::string> args = {},
           std::optional<rlimit> nofile = std::nullopt);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] bool alive() const;  // not exited (checked with waitpid WNOHANG)
    // SIGKILL and reap: leaves the dead FUSE mount behind on purpose.
    void kill_hard();
    // fusermount3 -u and reap; the wait status, or nullopt when SIGKILL/umount -l were needed.
    std::optional<int> unmount();
    [[nodiscard]] std::string log() const;
    [[nodiscard]] std::string output() const;  // the daemon's stdout + stderr only

private:
    fs::path backing_, mnt_, log_file_, out_file_;
    pid_t pid_ = -1;
    mutable std::optional<int> status_;
};

// Result of a short foreground run of the binary that is expected to exit on its own.
struct RunResult {
    int exit_code = -1;  // -1: killed (timeout) or signalled
    std::string output;  // stdout + stderr
};
// Runs splicefs with argv (without the program name); SIGTERM after `timeout`.
RunResult run_splicefs(const std::vector<std::string>& args, std::chrono::seconds timeout = 15s);

// mount -t tmpfs -o size=<size> on `where` (created if missing); unmounted on destruction.
class Tmpfs {
public:
    Tmpfs(fs::path where, const std::string& size);
    ~Tmpfs();
    Tmpfs(const Tmpfs&) = delete;
    Tmpfs& operator=(const Tmpfs&) = delete;

private:
    fs::path where_;
};

// Entries in /proc/PID/fd (-1 if gone); with `under`, only those pointing below it (the
// daemon's inode and handle fds, not its per-thread pipes or /dev/fuse).
[[nodiscard]] int fd_count(pid_t pid, const fs::path& under = {});
[[nodiscard]] long status_kb(pid_t pid, const std::string& field);  // "VmHWM", "VmRSS"; -1 if gone
[[nodiscard]] long soft_nofile_limit(pid_t pid);                    // from /proc/PID/limits
// "fd -> target" lines of /proc/PID/fd, for failure messages about leaks.
[[nodiscard]] std::string fd_targets(pid_t pid);
// The daemon's live counters (getxattr user.splicefs.stats on the mount root); "" on error.
[[nodiscard]] std::string stats_json(const fs::path& mnt);
void drop_caches();  // echo 2 > /proc/sys/vm/drop_caches: evicts dentries/inodes -> FORGETs
// Drops caches every second until fd_count(pid, under) <= target; returns the last count.
int wait_fds_at_most(pid_t pid, int target, std::chrono::seconds timeout, const fs::path& under = {});

// Polls pred every 20 ms until true or timeout.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

[[nodiscard]] std::uint64_t fnv1a(const unsigned char* p, std::size_t n);
[[nodiscard]] inline std::uint64_t fnv1a(const Bytes& b) {
    return fnv1a(b.data(), b.size());
}

// Every entry below root (relative name -> type, mode, owner, size, mtime, nlink, content hash,
// link target, xattrs), so two snapshots compare equal only when nothing changed.
[[nodiscard]] std::map<std::string, std::string> snapshot_tree(const fs::path& root);
// The same description for one path (lstat, no following).
[[nodiscard]] std::string describe_path(const fs::path& p);

// A temp root with backing/ and mnt/ made by hand (for tests that mount something on backing/
// first, or reuse one mountpoint across daemons).
struct Dirs {
    test::TempDir root{"splicefs-rel."};
    fs::path backing = root.path() / "backing";
    fs::path mnt = root.path() / "mnt";
    Dirs() {
        fs::create_directory(backing);
        fs::create_directory(mnt);
    }
};

}  // namespace splicefs::reltest
