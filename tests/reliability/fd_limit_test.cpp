// fd exhaustion. The daemon keeps an O_PATH fd per inode the kernel knows, up to half its
// open-file limit, and reopens the rest by file handle. Started under a soft RLIMIT_NOFILE of
// 256 and a hard limit far below the tree size, it must raise the soft limit, walk 100,000
// files in one pass without an error and give the fds back when the kernel forgets the
// inodes (drop_caches makes it evict them and send FORGET). Where it cannot reopen by handle
// and runs out, it must fail cleanly and recover.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

constexpr int kFdSlack = 0;  // counted: fds into the backing tree only (no pipes, no /dev/fuse)

std::size_t env_size(const char* name, std::size_t fallback) {
    const char* v = std::getenv(name);
    return v != nullptr ? static_cast<std::size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

// dirs x files empty-ish files made directly in the backing dir.
void make_tree(const fs::path& root, std::size_t dirs, std::size_t files_per_dir) {
    for (std::size_t d = 0; d < dirs; ++d) {
        const fs::path dir = root / ("d" + std::to_string(d));
        fs::create_directory(dir);
        for (std::size_t f = 0; f < files_per_dir; ++f) {
            const std::string name = (dir / ("f" + std::to_string(f))).string();
            const int fd = open(name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            ASSERT_GE(fd, 0) << name << ": " << std::strerror(errno);
            if (f % 100 == 0) {
                ASSERT_EQ(write(fd, name.data(), name.size()), static_cast<ssize_t>(name.size()));
            }
            close(fd);
        }
    }
}

struct WalkResult {
    std::size_t files = 0;
    std::map<int, std::size_t> errors;  // errno -> count
    int peak_fds = 0;
};

// readdir + lstat + an xattr query of every file (and a read of every 100th) through the
// mount. A lookup alone costs the daemon no fd (a new inode is recorded by its file handle);
// the xattr query needs the inode itself, as `ls -l` with SELinux labels or `rsync -X` do.
void walk_dir(const fs::path& dir, WalkResult& out, pid_t daemon) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
        ++out.errors[errno];
        return;
    }
    std::vector<std::string> names;
    while (const dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
    for (const auto& name : names) {
        const fs::path p = dir / name;
        struct stat st {};
        if (lstat(p.c_str(), &st) != 0) {
            ++out.errors[errno];
            continue;
        }
        ++out.files;
        std::array<char, 16> value{};
        if (lgetxattr(p.c_str(), "user.splicefs.absent", value.data(), value.size()) >= 0 || errno != ENODATA)
            ++out.errors[errno == ENODATA ? -2 : errno];
        if (st.st_size > 0) {
            try {
                const Bytes data = test::read_file(p);
                if (std::string(data.begin(), data.end()).find(name) == std::string::npos) ++out.errors[-1];
            } catch (const std::system_error& e) {
                ++out.errors[e.code().value()];
            }
        }
    }
    out.peak_fds = std::max(out.peak_fds, fd_count(daemon));
}

std::string describe(const std::map<int, std::size_t>& errors) {
    std::string s;
    for (const auto& [err, n] : errors)
        s += (err == -1   ? std::string("wrong content")
              : err == -2 ? std::string("xattr present")
                          : std::string(std::strerror(err))) +
             " x" + std::to_string(n) + "; ";
    return s;
}

// 100 directories of SPLICEFS_FDWALK_FILES files (300 in CI: 30,000 files; 1,000 for the
// 100,000-file walk), far more than the fds the daemon may hold.
TEST(FdLimit, RaisesSoftLimitAndWalksTreeFarBeyondIt) {
    const std::size_t dirs_n = env_size("SPLICEFS_FDWALK_DIRS", 100);
    const std::size_t files_n = env_size("SPLICEFS_FDWALK_FILES", SPLICEFS_FDWALK_FILES_DEFAULT);
    rlimit cur{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &cur), 0);
    Dirs dirs;
    const auto t0 = std::chrono::steady_clock::now();
    make_tree(dirs.backing, dirs_n, files_n);
    const double create_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // A hard limit well below the tree size (lowering it needs no privilege), so the daemon
    // cannot keep one fd per known inode and must reopen evicted inodes by file handle.
    const rlim_t hard = std::min<rlim_t>(cur.rlim_max, 8192);
    Daemon d(dirs.backing, dirs.mnt, dirs.root.path(), {}, rlimit{256, hard});
    const long soft = soft_nofile_limit(d.pid());
    EXPECT_TRUE(soft == -2 || soft == static_cast<long>(hard))
        << "daemon did not raise its soft limit from 256: " << soft;
    struct stat st {};
    ASSERT_EQ(stat(dirs.mnt.c_str(), &st), 0);
    const int baseline = fd_count(d.pid(), dirs.backing);

    // Held open across the walk: its inode's fd is evicted meanwhile, and a request on the
    // node id alone (no lookup first) must reopen it by handle.
    const fs::path held_path = dirs.mnt / "d0" / "f0";
    const int held = open(held_path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(held, 0) << std::strerror(errno);

    // One pass, with the kernel keeping every inode cached (no drop_caches in between).
    const std::size_t total = dirs_n * files_n;
    WalkResult walk;
    const auto t1 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < dirs_n; ++i) walk_dir(dirs.mnt / ("d" + std::to_string(i)), walk, d.pid());
    const double walk_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    EXPECT_EQ(walk.files, total) << describe(walk.errors);
    EXPECT_TRUE(walk.errors.empty()) << describe(walk.errors) << "\n" << d.log();
    ASSERT_TRUE(d.alive()) << d.log();
    EXPECT_GT(walk.peak_fds, 256) << "the walk never needed more than 256 fds?";
    EXPECT_LE(walk.peak_fds, static_cast<int>(hard));
    // A request on the held file's node id alone: its fd was evicted during the walk.
    std::array<char, 64> value{};
    errno = 0;
    EXPECT_EQ(fgetxattr(held, "user.splicefs.absent", value.data(), value.size()), -1);
    EXPECT_EQ(errno, ENODATA) << "the held file's node id no longer reaches it: " << std::strerror(errno);
    const Bytes head = test::read_file(held_path);
    EXPECT_NE(std::string(head.begin(), head.end()).find("f0"), std::string::npos);
    close(held);
    // The first directory's fds were evicted long ago: walking it again (fresh lookups, every
    // 100th file opened and read) must reach the same files, with the same contents.
    WalkResult again;
    walk_dir(dirs.mnt / "d0", again, d.pid());
    EXPECT_EQ(again.files, files_n);
    EXPECT_TRUE(again.errors.empty()) << describe(again.errors);
    const std::string stats = stats_json(dirs.mnt);
    const auto at = stats.find("\"inode_reopens\":");
    ASSERT_NE(at, std::string::npos) << stats;
    const unsigned long long reopens = std::strtoull(stats.c_str() + at + 16, nullptr, 10);
    if (total > hard) {
        EXPECT_GT(reopens, 0U) << "the evicted files were not reopened by handle: " << stats;
    }

    const auto t2 = std::chrono::steady_clock::now();
    const int after = wait_fds_at_most(d.pid(), baseline + kFdSlack, 60s, dirs.backing);
    const double forget_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
    EXPECT_LE(after, baseline + kFdSlack) << "fds not returned after the kernel forgot the inodes";

    std::printf(
        "[fd-walk] %zu files in one pass, create %.1f s, walk %.1f s, daemon soft limit %ld, fds: baseline "
        "%d, "
        "peak %d, after forget %d (%.1f s), reopened by handle %llu\n",
        total, create_s, walk_s, soft, baseline, walk.peak_fds, after, forget_s, reopens);
    RecordProperty("files", std::to_string(total));
    RecordProperty("peak_fds", std::to_string(walk.peak_fds));
    RecordProperty("baseline_fds", std::to_string(baseline));
    RecordProperty("fds_after_forget", std::to_string(after));
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.log();
}

TEST(FdLimit, ExhaustionFailsCleanlyAndRecovers) {
    Dirs dirs;
    make_tree(dirs.backing, 5, 400);  // 2000 files against a hard limit of 512
    Daemon d(dirs.backing, dirs.mnt, dirs.root.path(), {}, rlimit{512, 512});
    struct stat st {};
    ASSERT_EQ(stat(dirs.mnt.c_str(), &st), 0);
    const int baseline = fd_count(d.pid(), dirs.backing);

    WalkResult walk;
    for (int i = 0; i < 5; ++i) walk_dir(dirs.mnt / ("d" + std::to_string(i)), walk, d.pid());
    ASSERT_TRUE(d.alive()) << "daemon died when out of fds\n" << d.log();
    EXPECT_LE(walk.peak_fds, 512);
    // Out of fds, lookups must fail with a plain error, not hang or crash.
    for (const auto& [err, n] : walk.errors) {
        EXPECT_TRUE(err == EMFILE || err == ENFILE || err == ENOMEM || err == EIO)
            << (err < 0 ? "wrong content" : std::strerror(err)) << " x" << n;
    }
    std::printf("[fd-exhaust] 2000 files at hard limit 512: %zu ok, errors: %s peak fds %d\n", walk.files,
                describe(walk.errors).c_str(), walk.peak_fds);

    // Once the kernel forgets, the fds come back and everything is reachable again.
    const int after = wait_fds_at_most(d.pid(), baseline + kFdSlack, 60s, dirs.backing);
    EXPECT_LE(after, baseline + kFdSlack);
    WalkResult again;
    walk_dir(dirs.mnt / "d0", again, d.pid());
    EXPECT_EQ(again.files, 400u);
    EXPECT_TRUE(again.errors.empty()) << describe(again.errors);
    ASSERT_TRUE(d.alive()) << d.log();
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.log();
}

}  // namespace
}  // namespace splicefs::reltest
