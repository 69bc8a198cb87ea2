#pragma once
// RAII harness that runs the real splicefs binary (SPLICEFS_BINARY) in the foreground on
// fresh temp dirs and always takes the mount down again, even when a test fails or throws.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splicefs::test {

namespace fs = std::filesystem;

// A directory made by mkdtemp under /tmp; removed recursively on destruction.
class TempDir {
public:
    explicit TempDir(std::string_view prefix, const fs::path& parent = "/tmp");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& path() const noexcept { return path_; }

private:
    fs::path path_;
};

// Spliced vs copied totals of one direction, from the user.splicefs.stats xattr.
struct Transfer {
    std::uint64_t spliced_bytes = 0;
    std::uint64_t spliced_requests = 0;
    std::uint64_t copied_bytes = 0;
    std::uint64_t copied_requests = 0;
    [[nodiscard]] std::uint64_t total_bytes() const noexcept { return spliced_bytes + copied_bytes; }
};

struct StatsSnapshot {
    std::string json;  // raw text, for messages and ad-hoc lookups
    Transfer reads;
    Transfer writes;
    std::int64_t open_files = 0;
    std::int64_t open_dirs = 0;
    std::int64_t known_inodes = 0;
    // calls of one op ("lookup", "fsync", ...); nullopt when the key is absent.
    [[nodiscard]] std::optional<std::uint64_t> op_calls(std::string_view op) const;
};

// Finds the number after "key": inside the object that follows "section": (top level when
// section is empty). A few numbers is all the tests need, so no JSON dependency.
[[nodiscard]] std::optional<std::int64_t> json_number(std::string_view json, std::string_view section,
                                                      std::string_view key);

// Extra daemon arguments for every mount, from SPLICEFS_TEST_ARGS (whitespace-separated).
[[nodiscard]] std::vector<std::string> env_extra_args();
// True when SPLICEFS_TEST_ARGS selects --data-path=passthrough (no READ/WRITE reach the daemon).
[[nodiscard]] bool env_passthrough();
// True when SPLICEFS_TEST_ARGS selects --transport=uring (ring payloads are memory: no splice).
[[nodiscard]] bool env_uring();

// True when /proc/self/mountinfo lists `mountpoint` with fstype fuse.splicefs.
[[nodiscard]] bool is_splicefs_mounted(const fs::path& mountpoint);

class Mount {
public:
    // Creates <tmp>/backing and <tmp>/mnt and mounts with `-f --log-file <tmp>/splicefs.log`
    // plus `extra_args`. Throws std::runtime_error (with the daemon's output) on failure.
    explicit Mount(std::vector<std::string> extra_args = {});
    ~Mount();
    Mount(const Mount&) = delete;
    Mount& operator=(const Mount&) = delete;

    [[nodiscard]] const fs::path& backing() const noexcept { return backing_; }
    [[nodiscard]] const fs::path& mnt() const noexcept { return mnt_; }
    [[nodiscard]] const fs::path& root() const noexcept { return root_.path(); }
    // Path of `rel` inside the backing dir / inside the mount.
    [[nodiscard]] fs::path b(std::string_view rel) const { return backing_ / rel; }
    [[nodiscard]] fs::path m(std::string_view rel) const { return mnt_ / rel; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    [[nodiscard]] StatsSnapshot stats() const;  // throws when the xattr cannot be read
    // The stats once no file or directory is open any more, or after 5 s: the kernel sends
    // RELEASE asynchronously after close(), so a count read right away can still include it.
    [[nodiscard]] StatsSnapshot stats_when_idle() const;
    [[nodiscard]] std::string log() const;  // --log-file plus the daemon's stdout/stderr

    // Unmounts (fusermount3 -u) and reaps the daemon; returns its wait status, or nullopt
    // when the fallbacks (SIGKILL, umount -l) were needed. Idempotent.
    std::optional<int> unmount();
    // unmount(), then mount the same backing dir again with the same arguments: a cold cache.
    void remount();

private:
    void start();

    TempDir root_;
    // SPLICEFS_TEST_BACKING_DIR: the backing dir is made there (another filesystem; the
    // backing matrix) instead of inside root_.
    std::optional<TempDir> backing_root_;
    fs::path backing_;
    fs::path mnt_;
    fs::path log_file_;
    fs::path out_file_;
    std::vector<std::string> args_;
    pid_t pid_ = -1;
};

// Base fixture: a mount per test, torn down in TearDown with a check that nothing stays
// mounted and that the daemon exited cleanly (status 0; ASan leak reports fail it too).
class MountTest : public ::testing::Test {
protected:
    virtual std::vector<std::string> mount_args() const { return {}; }
    void SetUp() override;
    void TearDown() override;
    Mount& mount() { return *mount_; }
    [[nodiscard]] fs::path b(std::string_view rel) const { return mount_->b(rel); }
    [[nodiscard]] fs::path m(std::string_view rel) const { return mount_->m(rel); }

    std::optional<Mount> mount_;
};

// Unmounts and checks the daemon's exit; used by MountTest::TearDown and by tests that
// manage their own Mount objects.
void expect_clean_unmount(Mount& mount);

}  // namespace splicefs::test
