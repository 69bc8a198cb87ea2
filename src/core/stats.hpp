#pragma once
// Lock-free counters of what the daemon did: per-operation counts, errors and latency,
// and bytes moved per direction split by splice vs copy. Read at unmount and at runtime.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace splicefs {

enum class Op : std::uint8_t {
    Init,
    Lookup,
    Forget,
    Getattr,
    Setattr,
    Readlink,
    Mknod,
    Mkdir,
    Unlink,
    Rmdir,
    Symlink,
    Rename,
    Link,
    Open,
    Read,
    Write,
    Flush,
    Release,
    Fsync,
    Opendir,
    Readdir,
    Readdirplus,
    Releasedir,
    Fsyncdir,
    Statfs,
    Setxattr,
    Getxattr,
    Listxattr,
    Removexattr,
    Access,
    Create,
    Getlk,
    Setlk,
    Flock,
    Fallocate,
    CopyFileRange,
    Lseek,
    Count_
};
inline constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::Count_);
[[nodiscard]] std::string_view op_name(Op op) noexcept;

// Power-of-two microsecond buckets: bucket i holds latencies in [2^(i-1), 2^i) us.
struct LatencyHistogram {
    static constexpr std::size_t kBuckets = 40;
    std::array<std::atomic<std::uint64_t>, kBuckets> buckets{};
    std::atomic<std::uint64_t> sum_us{0};  // all recorded latencies added up (Prometheus _sum)
    void record(std::uint64_t micros) noexcept;
    // Upper bound (us) of the bucket holding quantile q in [0,1]; 0 when empty.
    [[nodiscard]] std::uint64_t quantile_upper_bound(double q) const noexcept;
};

struct OpCounters {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> errors{0};
    LatencyHistogram latency;
};

struct TransferCounters {
    std::atomic<std::uint64_t> spliced_bytes{0};
    std::atomic<std::uint64_t> spliced_requests{0};
    std::atomic<std::uint64_t> copied_bytes{0};
    std::atomic<std::uint64_t> copied_requests{0};
    void add(bool spliced, std::uint64_t bytes) noexcept {
        if (spliced) {
            spliced_bytes.fetch_add(bytes, std::memory_order_relaxed);
            spliced_requests.fetch_add(1, std::memory_order_relaxed);
        } else {
            copied_bytes.fetch_add(bytes, std::memory_order_relaxed);
            copied_requests.fetch_add(1, std::memory_order_relaxed);
        }
    }
};

// The spin before a blocking receive (fs/receive_spin.hpp): whether it pays (requests caught
// awake) and what it costs (time spent polling).
struct SpinCounters {
    std::atomic<std::uint32_t> max_us{0};     // the window's bound; 0 when the spin is off
    std::atomic<std::uint64_t> windows{0};    // receives that spun first
    std::atomic<std::uint64_t> caught{0};     // ... and found a request while spinning
    std::atomic<std::uint64_t> contended{0};  // ... and stopped because a yield ran another task
    std::atomic<std::uint64_t> spun_ns{0};    // time spent spinning, all windows added up
};

// Failover and live upgrade (mount/failover_*): kept in the supervisor's shared handoff
// mapping (fs/handoff.hpp), not in a worker's memory, so a worker's death or an upgrade's exec
// does not reset them. Plain atomics and fixed arrays: safe in MAP_SHARED memory.
struct FailoverCounters {
    std::atomic<std::uint32_t> enabled{0};           // 1 while a death would be survived
    std::atomic<std::uint64_t> failovers{0};         // workers replaced after a death
    std::atomic<std::uint64_t> last_pause_us{0};     // death noticed (waitpid) -> first reply written
    std::atomic<std::uint64_t> requests_resent{0};   // requests seen with bit 63 of unique set
    std::atomic<std::uint64_t> upgrades{0};          // successful live upgrades
    std::atomic<std::uint64_t> upgrade_failures{0};  // published after upgrade_error
    std::atomic<std::int64_t> daemon_pid{0};         // the supervisor (the worker is whoever answers)
    // NUL-terminated; written before the counter that announces them.
    std::array<char, 160> upgrade_error{};
    std::array<char, 160> reason{};  // why failover is off; empty when on
};

class Stats {
public:
    std::array<OpCounters, kOpCount> ops{};
    TransferCounters reads;   // READ replies, daemon -> kernel
    TransferCounters writes;  // WRITE requests, kernel -> daemon -> backing file
    std::atomic<std::int64_t> open_files{0};
    std::atomic<std::int64_t> open_dirs{0};
    std::atomic<std::int64_t> known_inodes{0};
    std::atomic<std::int64_t> inode_fds{0};               // known inodes holding an O_PATH fd
    std::atomic<std::uint64_t> inode_reopens{0};          // evicted O_PATH fds reopened by file handle
    std::atomic<std::uint64_t> passthrough_opens{0};      // opens the kernel serves itself
    std::atomic<std::uint64_t> passthrough_fallbacks{0};  // opens that could not be (splice path)
    std::atomic<std::int64_t> watched_dirs{-1};           // directories the backing watch marks; -1: off
    std::atomic<std::uint64_t> outside_changes{0};        // invalidations pushed for outside changes
    std::atomic<std::uint64_t> changed_opens{0};          // opens that found the file changed: cache dropped
    std::atomic<std::uint64_t> splice_fallbacks{0};       // files whose backing refused splice: copied
    // Resent requests (failover) whose record said "started" and whose repeat found the work
    // done: answered as done, which is right unless the worker died before the syscall and the
    // name was there already (docs/design.md §2, the window).
    std::atomic<std::uint64_t> resend_window_hits{0};
    // Resent opens whose first delivery made a handle the kernel never had: closed (inflight.hpp).
    std::atomic<std::uint64_t> handles_unanswered{0};
    SpinCounters spin;
    // The backing filesystem and the watch decision (fs/backing_policy.hpp); set before serving.
    std::string backing_fs;
    bool backing_local = false;
    std::string watch_reason;
    // Null without a supervisor (--no-failover): to_json() then reports failover off.
    const FailoverCounters* failover = nullptr;
    std::string failover_off_reason;  // used when `failover` is null
    std::string handoff_version;      // what a live upgrade's new binary must speak

    OpCounters& op(Op o) noexcept { return ops[static_cast<std::size_t>(o)]; }
    [[nodiscard]] const OpCounters& op(Op o) const noexcept { return ops[static_cast<std::size_t>(o)]; }

    // One line per direction, e.g. "reads: 64.0 MiB in 520 requests, 100.0% spliced".
    [[nodiscard]] std::string transfer_summary() const;
    // Everything, as a JSON object (stable keys; used by `splicefs stats --json` and tests).
    // Each op also carries "sum_us" and "buckets": the non-empty latency buckets keyed by
    // their exclusive upper bound in microseconds ("1", "2", "4", ..., "inf" for the last).
    [[nodiscard]] std::string to_json() const;
};

}  // namespace splicefs
