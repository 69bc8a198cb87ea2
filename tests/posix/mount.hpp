#pragma once
// RAII helpers for the differential suite: scratch directories and a FUSE mount that is
// always taken down again (fusermount3 -u, then SIGKILL + umount -l as a last resort).
#include <sys/types.h>

#include <string>
#include <vector>

namespace posixtest {

// A fresh directory from mkdtemp, removed recursively on destruction.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "/tmp/posix-");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Runs argv, waits, returns the exit status (or 128+signal, or -1 if it could not start).
int run_command(const std::vector<std::string>& argv, bool quiet = true);

// True if `path` is a mount point listed in /proc/self/mountinfo.
bool is_mountpoint(const std::string& path);

// Which filesystem is mounted and with which extra arguments.
struct FsVariant {
    std::string name;               // test-name suffix, e.g. "splice_cacheauto"
    std::string binary;             // executable
    std::vector<std::string> args;  // extra arguments before BACKING MOUNTPOINT
    bool is_splicefs = true;
};

// The variants under test: POSIX_FS=splicefs (default) or bindfs.
std::vector<FsVariant> variants_from_env();

class Mount {
public:
    // Starts the daemon in the foreground and waits until the mount is visible; throws
    // std::runtime_error with the daemon's log when it does not come up.
    Mount(const FsVariant& variant, const std::string& backing, const std::string& mountpoint,
          const std::string& logfile);
    ~Mount();
    Mount(const Mount&) = delete;
    Mount& operator=(const Mount&) = delete;

    void unmount() noexcept;
    [[nodiscard]] bool daemon_alive();
    [[nodiscard]] const std::string& mountpoint() const { return mountpoint_; }

private:
    pid_t pid_ = -1;
    std::string mountpoint_;
};

}  // namespace posixtest
