#pragma once
// The typed, validated configuration of one mount. Filled by cli/, read by mount/ and fs/.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/reshape.hpp"

namespace splicefs {

enum class CacheMode { Auto, Always, Never };
enum class AtimeMode { Relatime, Noatime, Strictatime };
enum class DirectIo { Auto, On, Off };
// Whether to watch the backing tree (fs/backing_policy.hpp decides `Auto` by filesystem type).
enum class WatchMode { Auto, On, Off };
// How requests travel: read(2)/write(2) on /dev/fuse, or FUSE over io_uring (src/transport).
enum class Transport { Dev, Uring };

struct Config {
    std::filesystem::path backing;     // canonical, absolute
    std::filesystem::path mountpoint;  // canonical, absolute

    // Process and loop.
    bool foreground = false;
    bool debug = false;  // implies foreground; also libfuse's own debug output
    bool single_thread = false;
    unsigned threads = 0;  // > 0: libfuse's multi-threaded loop with this max_threads; 0: hybrid serving
    bool clone_fd = false;
    // Microseconds the one serving thread may poll /dev/fuse before it sleeps (fs/receive_spin.hpp).
    unsigned spin_us = 0;       // off unless asked for (README: why)
    bool recover_stale = true;  // lazily unmount a dead splicefs mount on the mountpoint first
    // Failover (mount/failover_supervisor.hpp): a supervisor keeps /dev/fuse and replaces a
    // worker that dies; off with --no-failover (or where it cannot work: see the log line).
    bool failover = true;
    // The crash-loop rule: this many worker deaths within this many seconds end the mount.
    unsigned crash_loop_deaths = 5;
    unsigned crash_loop_seconds = 10;
    // Set only on the command line a live upgrade execs (hidden --resume): the inherited fds.
    struct Resume {
        int fuse_fd = -1;
        int handoff_fd = -1;
        int area_fd = -1;
    };
    std::optional<Resume> resume;
    Transport transport = Transport::Dev;

    // Data path. "reads" are READ replies (daemon -> kernel), "writes" are WRITE requests.
    bool splice_reads = true;
    bool splice_writes = true;
    bool splice_move = false;
    // Every handle bypasses the FUSE page cache: On, Off, or Auto = with --cache=never (not with
    // writeback caching or passthrough), when the kernel lets direct-io files be mmapped.
    DirectIo direct_io = DirectIo::Auto;
    // Kernel passthrough (Linux 6.9+, root): the kernel reads and writes the backing file
    // itself; files it refuses fall back to the splice/copy path chosen above.
    bool passthrough = false;

    // Caching.
    CacheMode cache = CacheMode::Auto;
    std::optional<double> attr_timeout;   // seconds; default depends on cache mode
    std::optional<double> entry_timeout;  // seconds; default depends on cache mode
    bool writeback_cache = false;
    // --cache=auto: push outside changes of the backing tree to the kernel (fs/backing_watch.hpp)
    // and let it cache names and attributes longer. Auto: only on local filesystems whose
    // changes all pass through this kernel (fs/backing_policy.hpp).
    WatchMode watch = WatchMode::Auto;

    // Access.
    bool default_permissions = true;
    bool read_only = false;
    bool allow_other = false;

    // VFS mount flags (mount(8) words). dev and suid reach the kernel only when the daemon
    // runs as root; the defaults are libfuse's safe nodev,nosuid.
    bool dev = false;
    bool suid = false;
    bool exec = true;
    // atime policy for the backing reads the daemon does (FUSE inodes never update atime in
    // the kernel): noatime and nodiratime open backing files/directories with O_NOATIME.
    AtimeMode atime = AtimeMode::Relatime;
    bool nodiratime = false;
    // -o remount: change the live mount on `mountpoint` (ro/rw) instead of mounting.
    bool remount = false;

    // Reshaping (bindfs's ownership, permission and policy options; core/reshape.hpp).
    Reshape reshape;

    // Options passed through to libfuse's mount (-o words we do not interpret ourselves).
    std::vector<std::string> fuse_options;

    // Logging.
    std::string log_level = "info";  // trace, debug, info, warn, error, critical, off
    std::optional<std::filesystem::path> log_file;
    bool syslog = false;

    // Whether --cache=never's default applies (fs::Fs::direct_io_for_all() adds the kernel's say).
    [[nodiscard]] bool direct_io_unless_mmap_breaks() const {
        return direct_io == DirectIo::Auto && cache == CacheMode::Never && !writeback_cache && !passthrough;
    }

    // Whether the options leave room for the backing watch (the backing filesystem decides the
    // rest): explicit timeouts are honoured as given; writeback caching and kernel passthrough
    // change backing files from the clients' own processes, which the watch would take for
    // outsiders.
    [[nodiscard]] bool watch_allowed() const {
        return watch != WatchMode::Off && cache == CacheMode::Auto && !attr_timeout && !entry_timeout &&
               !writeback_cache && !passthrough;
    }
    [[nodiscard]] double effective_attr_timeout() const {
        if (attr_timeout) return *attr_timeout;
        return cache == CacheMode::Never ? 0.0 : cache == CacheMode::Always ? 86400.0 : 1.0;
    }
    [[nodiscard]] double effective_entry_timeout() const {
        if (entry_timeout) return *entry_timeout;
        return cache == CacheMode::Never ? 0.0 : cache == CacheMode::Always ? 86400.0 : 1.0;
    }
};

}  // namespace splicefs
