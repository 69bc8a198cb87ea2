#pragma once
// Changes made to the backing tree from outside the mount, pushed to the kernel as they
// happen. A fanotify group marks every directory the kernel knows (events on the directory
// and on its children); a thread turns each change made by another process into a FUSE
// invalidation: of the name (create, delete, rename) or of the inode (attributes, data).
// While every known directory is marked, the kernel may keep names and attributes for
// kWatchedTimeout instead of the --cache=auto second, and still sees outside changes at once.
// Changes the daemon makes itself (on behalf of the mount) are skipped: the kernel already
// knows them.
#include <fuse_lowlevel.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "core/stats.hpp"
#include "fs/inode_table.hpp"
#include "sys/fd.hpp"

namespace splicefs::fs {

class BackingWatch {
public:
    // Names and attributes under watched directories. Outside changes arrive as events, so
    // this only bounds how long a missed one could go unseen (a change racing a lookup, a
    // file written through a hard link outside the watched directories).
    static constexpr double kWatchedTimeout = 10.0;

    // Null when fanotify with file handles is unavailable here (needs root, Linux 5.9+ and a
    // backing filesystem that exports file handles), with the reason logged once.
    [[nodiscard]] static std::unique_ptr<BackingWatch> create(InodeTable& inodes, Stats& stats,
                                                              std::size_t max_dirs);
    ~BackingWatch();
    BackingWatch(const BackingWatch&) = delete;
    BackingWatch& operator=(const BackingWatch&) = delete;

    // Marks the directory node `id` and pins its O_PATH fd; idempotent. Once a directory
    // cannot be marked (mark limit, max_dirs), covers() turns false for good.
    void watch(std::uint64_t id);
    // Removes the mark of a forgotten directory (fd: its pinned fd).
    void unwatch(Inode& dir, int fd) noexcept;

    // Whether every directory the kernel knows is marked: then long timeouts are safe.
    [[nodiscard]] bool covers() const noexcept { return covers_.load(std::memory_order_acquire); }
    // Bumped before each outside change to a name is pushed: a lookup that saw it change
    // while it ran answers with the short timeouts (the kernel may not hold its entry yet
    // when the invalidation arrives).
    [[nodiscard]] std::uint64_t generation() const noexcept {
        return generation_.load(std::memory_order_acquire);
    }

    // The thread that reads events and notifies the kernel; start after fuse_daemonize()
    // (threads do not survive its fork), stop before the session is destroyed.
    void start(fuse_session* se);
    void stop() noexcept;

private:
    BackingWatch(InodeTable& inodes, Stats& stats, std::size_t max_dirs, sys::UniqueFd group,
                 sys::UniqueFd wake);
    // Shared by the thread and stop(): a thread still blocked in the kernel when stop() gives
    // up on it (an invalidation waiting for the lock of a directory whose request will never be
    // answered, the loop having ended) is left to end with the process, and then must find
    // `stopping` without touching the watch object, which may be gone.
    struct ThreadState {
        std::atomic<bool> stopping{false};
        std::mutex mu;
        std::condition_variable cv;
        bool exited = false;  // under mu
    };

    void run(const ThreadState& state) noexcept;
    // False when stopping was seen: the caller returns at once.
    bool handle_batch(const char* buf, std::size_t len, const ThreadState& state);
    void lost_coverage(const char* why, int err) noexcept;

    InodeTable& inodes_;
    Stats& stats_;
    const std::size_t max_dirs_;
    const sys::UniqueFd group_;  // the fanotify group
    const sys::UniqueFd wake_;   // eventfd: stop() wakes the thread through it
    int self_pid_ = 0;
    fuse_session* se_ = nullptr;
    std::atomic<bool> covers_{true};
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<std::int64_t> marks_{0};
    std::shared_ptr<ThreadState> state_ = std::make_shared<ThreadState>();
    std::thread thread_;
};

}  // namespace splicefs::fs
