#pragma once
// The Fs object shared by every op group: configuration, the backing root, the inode table,
// the statistics, and what the kernel and the pipe limit allow for the data path.
#include <fuse_lowlevel.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/stats.hpp"
#include "fs/backing_policy.hpp"
#include "fs/backing_watch.hpp"
#include "fs/dir_cursors.hpp"
#include "fs/failover_hooks.hpp"
#include "fs/fs.hpp"
#include "fs/inode_table.hpp"
#include "fs/offload.hpp"
#include "fs/passthrough.hpp"
#include "sys/fd.hpp"

namespace splicefs::fs {

struct HandoffRecord;
namespace survival {
class Mirror;
}

class Fs {
    // Declared first: `stats` refers to it when no shared Stats is given.
    std::unique_ptr<Stats> own_stats_;

public:
    // `shared_stats`: the counters' home when they must outlive this process's memory (the
    // survival area, survival_area.hpp); null: the Fs keeps its own.
    Fs(const Config& config, sys::UniqueFd root_fd, const struct stat& root_stat, std::size_t fd_budget,
       Stats* shared_stats = nullptr);
    ~Fs();
    Fs(const Fs&) = delete;
    Fs& operator=(const Fs&) = delete;

    const Config config;
    InodeTable inodes;
    Stats& stats;
    // The survival area's writer once survival::attach() ran (failover on); null otherwise.
    std::unique_ptr<survival::Mirror> mirror;
    // An fd that is the kernel's handle (fi->fh) of node: recorded from before the reply that
    // hands it out until before it is closed, so that it outlives a worker (no-ops without
    // failover). Dir: a directory handle.
    void own_handle_fd(int fd, std::uint64_t node, bool dir) noexcept;
    // Whether an open file handle fd is still owned as node's (always without failover).
    [[nodiscard]] bool holds_handle_fd(int fd, std::uint64_t node) const noexcept;
    void drop_handle_fd(int fd) noexcept;
    // This worker's listing state of open directory handles (fi->fh is the directory fd).
    DirCursors dir_cursors;

    const dev_t root_dev;
    const ino_t root_ino;
    const double attr_timeout;
    const double entry_timeout;
    const bool daemon_is_root;
    const std::vector<gid_t> daemon_groups;  // restored after each credential switch
    const sys::UniqueFd dev_null;            // drains unconsumed WRITE payloads from a pipe
    // Any reshaping option (config.reshape, fs/reshape.hpp): the one branch the ops test.
    const bool reshaping;

    // Refuse every change with EROFS: --read-only at start, then whatever
    // `mount -o remount,ro|rw` last asked through the root's control xattr (ops_xattr.cpp).
    [[nodiscard]] bool read_only() const noexcept { return read_only_.load(std::memory_order_relaxed); }
    void set_read_only(bool on) noexcept { read_only_.store(on, std::memory_order_relaxed); }

    // Set once in init(), read by every READ afterwards.
    std::atomic<bool> splice_reads_live{false};
    // FUSE_CAP_DONT_MASK is on: modes arrive unmasked and the caller's umask is ours to apply.
    std::atomic<bool> kernel_leaves_umask{false};

    // Kernel passthrough (passthrough.hpp): the mode, the session fd the ioctls go to, and
    // whether any backing file was accepted yet (an EPERM after that is per inode).
    std::atomic<PassthroughMode> passthrough_mode{PassthroughMode::Off};
    std::atomic<int> session_fd{-1};
    std::atomic<bool> passthrough_worked{false};
    // The wire hooks wait for the INIT request; the kernel accepted FUSE_DIRECT_IO_ALLOW_MMAP.
    std::atomic<bool> init_pending{false};
    std::atomic<bool> direct_io_mmap{false};
    // FUSE_HANDLE_KILLPRIV_V2 accepted: writes, truncates and O_TRUNC opens by callers other
    // than root clear set-id bits here; the kernel no longer does it by SETATTR.
    std::atomic<bool> kills_privs{false};
    // Every open is a direct-io handle: --direct-io, or --cache=never once the kernel accepted
    // FUSE_DIRECT_IO_ALLOW_MMAP (without it shared mmap of those files fails with ENODEV).
    [[nodiscard]] bool direct_io_for_all() const noexcept {
        return config.direct_io == DirectIo::On ||
               (config.direct_io_unless_mmap_breaks() && direct_io_mmap.load(std::memory_order_acquire));
    }

    // Failover (failover_hooks.hpp): the supervisor's shared handoff record (null without a
    // supervisor: --no-failover) and this worker's replay state.
    HandoffRecord* handoff = nullptr;
    WorkerFailover failover;

    // What the backing filesystem allows (backing_policy.hpp), decided at mount.
    const BackingPolicy policy;
    // Outside changes pushed to the kernel (backing_watch.hpp); null when off.
    std::unique_ptr<BackingWatch> watch;
    // The live session, for invalidations sent while serving (set before the loop starts).
    fuse_session* session = nullptr;

    // Timeouts for one reply about the object st. `since` is change_generation() read before
    // the backing tree was looked at: a name that changed meanwhile gets the short ones.
    struct Timeouts {
        double entry;
        double attr;
    };
    [[nodiscard]] std::uint64_t change_generation() const noexcept { return watch ? watch->generation() : 0; }
    [[nodiscard]] Timeouts timeouts(const struct stat& st, std::uint64_t since) const noexcept;

    // Drops n kernel references to id (InodeTable::forget), unmarking a watched directory.
    void forget(fuse_ino_t id, std::uint64_t n);

    // Microseconds the thread serving /dev/fuse may spin before it sleeps (receive_spin.hpp);
    // 0 = never. Set before the loop starts, when exactly one thread reads /dev/fuse.
    std::atomic<std::uint32_t> receive_spin_us{0};

    // Hybrid serving (offload.hpp): the pool for slow ops, or null when every op runs on the
    // thread that read it (libfuse's multi-threaded loop, or -s).
    std::unique_ptr<Offloader> offloader;

    // fs.hpp run_after_init(): called by every op adapter, does its work once.
    void on_request() noexcept {
        if (after_init_pending_.load(std::memory_order_acquire)) [[unlikely]]
            run_after_init_once();
    }
    void set_after_init(std::function<void()> job);

    // The inode for a node id with an open O_PATH fd, or the errno to answer (InodeRef::error).
    [[nodiscard]] InodeRef inode(fuse_ino_t id) { return inodes.find(id); }

    // Warns once per mount that a submount inside the backing tree is hidden.
    void warn_submount_once(const char* name);

private:
    void run_after_init_once() noexcept;

    std::atomic<bool> read_only_;

    std::atomic<bool> warned_submount_{false};
    std::function<void()> after_init_;
    std::atomic<bool> after_init_pending_{false};
};

[[nodiscard]] inline Fs& fs_of(fuse_req_t req) {
    return *static_cast<Fs*>(fuse_req_userdata(req));
}

// "/proc/self/fd/N" for the few calls that take only a path.
[[nodiscard]] std::string proc_fd_path(int fd);

}  // namespace splicefs::fs
