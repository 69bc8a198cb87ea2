#pragma once
// The one filesystem object of a mount: configuration, the backing root, the inode table
// and the statistics. The lowlevel op adapters reach it through fuse_req_userdata().
#include <fuse_lowlevel.h>
#include <chrono>

#include <functional>
#include <memory>

#include "core/config.hpp"
#include "core/stats.hpp"

namespace splicefs::fs {

class Fs;

struct FsDeleter {
    void operator()(Fs* fs) const noexcept;
};
using FsPtr = std::unique_ptr<Fs, FsDeleter>;

// Opens the backing root (throws std::system_error on failure) and builds the filesystem.
// `shared_stats`: where the counters live when they must survive a worker (the survival
// area's Stats, fs/survival_area.hpp); null: inside the Fs.
[[nodiscard]] FsPtr make_fs(const Config& config, Stats* shared_stats = nullptr);

// The libfuse op table; userdata for fuse_session_new() must be the Fs from make_fs().
[[nodiscard]] const fuse_lowlevel_ops& lowlevel_ops() noexcept;

[[nodiscard]] Stats& stats_of(Fs& fs) noexcept;

// Call after fuse_session_mount() and before the session loop: attaches what the fs needs
// from the live session (the I/O hooks that amend INIT and, with Config::passthrough, OPEN).
// `fuse_fd` >= 0: a session that never mounted, serving an inherited /dev/fuse fd (a live
// upgrade). False when libfuse refused the hooks (then failover cannot work either).
bool attach_session(fuse_session* se, Fs& fs, int fuse_fd = -1);

// Runs `job` once, on the thread of the first request after INIT: the kernel sends none
// before it has processed the INIT reply. Set before the loop starts. (Doing this from a
// thread that touches the mount, e.g. statfs, made an immediate fusermount3 -u fail EBUSY.)
void run_after_init(Fs& fs, std::function<void()> job);

// Hybrid serving (offload.hpp): starts the pool for slow ops before a single-threaded loop,
// and drains it once the loop has returned (before the session is destroyed).
void start_offload(Fs& fs, unsigned threads, unsigned max_threads);
// How long the one thread reading /dev/fuse may spin before it sleeps (receive_spin.hpp); 0 = never.
void set_receive_spin(Fs& fs, unsigned microseconds) noexcept;
void stop_offload(Fs& fs) noexcept;
// A worker handing over (failover_supervisor.hpp): waits at most `limit`; false when a blocked
// op is left to the kernel's resend (the worker _exit()s next).
bool stop_offload_within(Fs& fs, std::chrono::milliseconds limit) noexcept;

// The backing watch (backing_watch.hpp), when on: its thread starts after fuse_daemonize()
// and stops once the loop has returned, before the session is destroyed.
void start_watch(fuse_session* se, Fs& fs);
void stop_watch(Fs& fs) noexcept;

// Logs the transfer totals (spliced vs copied) at info level; called at unmount.
void log_totals(const Fs& fs);

}  // namespace splicefs::fs
