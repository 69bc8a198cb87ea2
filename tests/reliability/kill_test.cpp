// SIGKILLs in the middle of a large write. The worker first: its supervisor starts another
// and the writer never notices (failover). Then the daemon itself (the supervisor; its
// worker follows it): fsync'ed data survives, the mount answers ENOTCONN, and a new daemon
// recovers the stale mount (or refuses with --no-recover-stale).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

constexpr std::size_t kChunk = 1 << 20;  // one 1 MiB write(2) per step
constexpr std::size_t kChunksPerFsync = 4;
constexpr std::size_t kKillWorkerAfter = 12u << 20;  // kill the worker once this much is fsync'ed
constexpr std::size_t kKillAfter = 24u << 20;        // then the daemon
constexpr std::size_t kMaxBytes = 512u << 20;        // the writer never goes beyond

// Byte i of the stream the writer produces (the same at any offset, so a prefix can be checked).
Bytes stream_bytes(std::size_t off, std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t x = off + i;
        b[i] = static_cast<unsigned char>((x * 2654435761u) >> 13);
    }
    return b;
}

// The supervisor's only child: its worker (0 when there is none).
pid_t worker_of(pid_t daemon) {
    std::ifstream in("/proc/" + std::to_string(daemon) + "/task/" + std::to_string(daemon) + "/children");
    pid_t pid = 0;
    return in >> pid ? pid : 0;
}

std::size_t count_lines_with(const std::string& text, const std::string& needle) {
    std::size_t n = 0, pos = 0;
    while ((pos = text.find(needle, pos)) != std::string::npos) {
        ++n;
        pos += needle.size();
    }
    return n;
}

TEST(Kill, FsyncedDataSurvivesAndStaleMountIsRecovered) {
    Dirs dirs;
    std::optional<Daemon> d1(std::in_place, dirs.backing, dirs.mnt, dirs.root.path());
    const fs::path file = dirs.mnt / "big.bin";

    std::atomic<std::size_t> synced{0};
    std::atomic<bool> stop{false};
    std::atomic<int> writer_errno{0};
    std::thread writer([&] {
        const test::Fd fd = test::open_fd(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!fd.valid()) {
            writer_errno = errno;
            return;
        }
        std::size_t off = 0;
        std::size_t chunks = 0;
        while (!stop && off < kMaxBytes) {
            const Bytes chunk = stream_bytes(off, kChunk);
            const ssize_t w = pwrite(fd.get(), chunk.data(), chunk.size(), static_cast<off_t>(off));
            if (w <= 0) {
                writer_errno = w < 0 ? errno : EIO;
                return;
            }
            off += static_cast<std::size_t>(w);
            if (++chunks % kChunksPerFsync == 0) {
                if (fsync(fd.get()) != 0) {
                    writer_errno = errno;
                    return;
                }
                synced = off;  // only after fsync returned
            }
        }
    });
    // The worker dies: a new one takes over, the writer goes on without an error. Over the
    // rings failover is off (README "Failover and live upgrade"): only the daemon's death
    // below is tested there.
    const bool failover = stats_json(dirs.mnt).find("\"failover\":1,") != std::string::npos;
    bool reached_worker_kill = true;
    if (failover) {
        reached_worker_kill =
            wait_until([&] { return synced.load() >= kKillWorkerAfter || writer_errno != 0; }, 60s);
        const pid_t worker = worker_of(d1->pid());
        ASSERT_GT(worker, 0) << "no worker under the daemon\n" << d1->log();
        ASSERT_EQ(::kill(worker, SIGKILL), 0);
    }
    const bool reached = wait_until([&] { return synced.load() >= kKillAfter || writer_errno != 0; }, 60s);
    EXPECT_TRUE(reached_worker_kill);
    EXPECT_EQ(writer_errno.load(), 0)
        << "the worker's death reached the writer: " << std::strerror(writer_errno) << "\n"
        << d1->log();
    if (failover) {
        const std::string after_failover = stats_json(dirs.mnt);
        EXPECT_NE(after_failover.find("\"failovers\":1,"), std::string::npos) << after_failover;
    }

    d1->kill_hard();  // the daemon, while the writer is still issuing 1 MiB writes
    stop = true;
    writer.join();
    ASSERT_TRUE(reached) << "writer too slow";
    // Over the rings, a request the kernel hands to a dead queue's task ends with ECANCELED
    // (fs/fuse/dev_uring.c, fuse_uring_send_in_task when the task is gone).
    ASSERT_EQ(writer_errno.load() == 0 || writer_errno.load() == ENOTCONN || writer_errno.load() == EIO ||
                  writer_errno.load() == ECONNABORTED || writer_errno.load() == ECANCELED,
              true)
        << "writer failed before the kill: " << std::strerror(writer_errno.load());

    // Every fsync'ed byte is in the backing file.
    const std::size_t n = synced.load();
    const Bytes backing = test::read_file(dirs.backing / "big.bin");
    ASSERT_GE(backing.size(), n);
    const Bytes want = stream_bytes(0, n);
    const Bytes got(backing.begin(), backing.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(test::first_difference(got, want), n) << "fsync'ed data lost or corrupt";
    RecordProperty("fsynced_bytes_before_kill", std::to_string(n));
    RecordProperty("backing_bytes_after_kill", std::to_string(backing.size()));

    // The dead mount: Transport endpoint is not connected, once the worker has followed its
    // supervisor (it gets SIGTERM when the supervisor dies and ends after its current
    // request). getxattr always asks the daemon: a stat meanwhile could cache attributes.
    EXPECT_TRUE(wait_until(
        [&] {
            return ::getxattr(dirs.mnt.c_str(), "user.splicefs.stats", nullptr, 0) == -1 && errno == ENOTCONN;
        },
        10s));
    // statfs too: stat may still be answered from cached root attributes.
    struct statfs sfs {};
    errno = 0;
    EXPECT_EQ(statfs(dirs.mnt.c_str(), &sfs), -1);
    EXPECT_EQ(errno, ENOTCONN) << std::strerror(errno);
    EXPECT_TRUE(test::is_splicefs_mounted(dirs.mnt));

    // --no-recover-stale: a clear one-line refusal and a non-zero exit.
    const RunResult refused =
        run_splicefs({"-f", "--no-recover-stale", dirs.backing.string(), dirs.mnt.string()});
    EXPECT_EQ(refused.exit_code, 2) << refused.output;
    EXPECT_NE(refused.output.find("not connected"), std::string::npos) << refused.output;
    EXPECT_NE(refused.output.find("fusermount3 -u"), std::string::npos) << refused.output;
    EXPECT_EQ(std::count(refused.output.begin(), refused.output.end(), '\n'), 1) << refused.output;
    errno = 0;
    EXPECT_EQ(statfs(dirs.mnt.c_str(), &sfs), -1) << "the refusing run must leave the mount alone";
    EXPECT_EQ(errno, ENOTCONN);

    // Default: recognises the stale mount, says so once, mounts afresh.
    Daemon d2(dirs.backing, dirs.mnt, dirs.root.path());
    EXPECT_EQ(count_lines_with(d2.output(), "dead FUSE mount"), 1u) << d2.log();
    const Bytes through = test::read_file(file);
    EXPECT_EQ(through.size(), backing.size());
    EXPECT_EQ(test::first_difference(through, backing), backing.size());
    test::write_file(dirs.mnt / "after.txt", "works again");
    EXPECT_EQ(test::read_file(dirs.backing / "after.txt"), test::to_bytes("works again"));
    const auto status = d2.unmount();
    ASSERT_TRUE(status.has_value()) << d2.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d2.log();
    EXPECT_FALSE(test::is_splicefs_mounted(dirs.mnt)) << "the stale mount must be gone too";
}

}  // namespace
}  // namespace splicefs::reltest
