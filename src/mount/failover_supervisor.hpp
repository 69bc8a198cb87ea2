#pragma once
// Failover: the process that mounted stays a single-threaded supervisor holding /dev/fuse;
// the filesystem is served by a worker, a clone(CLONE_FILES) child without CLONE_VM — fork
// semantics (a copy of the supervisor's pristine, pre-INIT Fs and session) but one shared fd
// table, so every fd a worker opens outlives it. When a worker dies the supervisor starts
// another, which replays the saved INIT and asks the kernel to resend what was in flight
// (fs/failover_hooks.hpp). A crash loop aborts the connection and unmounts. SIGUSR2 (sent by
// `splicefs upgrade`) drains the worker and execs the binary now on disk, handing it the fds.
#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "fs/handoff.hpp"
#include "fs/survival.hpp"

namespace splicefs::fs {
class Fs;
}

namespace splicefs::mount {

// The handoff record's layout version; with the survival area's it makes the handoff version
// a new binary must speak to take over a live mount ("1.0": record 1, no survival area).
inline constexpr std::uint32_t kHandoffFormat = 1;
[[nodiscard]] std::string handoff_version_text();

// Why failover is off for these options ("" when it is on). The kernel's part (FUSE_HAS_RESEND)
// is known only at INIT: the first worker says it then.
[[nodiscard]] std::string failover_off_reason(const Config& config);

// Worker exit statuses the supervisor reads (besides 0 = the mount went away, 7 = loop error).
inline constexpr int kWorkerSignalled = 76;  // its loop was stopped by a signal

// RAII: blocks the signals the supervisor takes with sigwaitinfo (TERM, INT, HUP, USR2, CHLD),
// from before the mount on, so none is lost and none kills the supervisor with a live mount.
class BlockedSignals {
public:
    BlockedSignals();
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;
    ~BlockedSignals();
    [[nodiscard]] static sigset_t set() noexcept;

private:
    sigset_t old_{};
};

// Runs in a new worker: serves until the session ends and returns its exit status (never
// throws). `recovering`: a worker after another one (rebuild from the survival area).
using WorkerEntry = std::function<int(bool recovering)>;

struct SupervisorParts {
    const Config& config;
    fs::Fs& fs;
    fs::HandoffArea& handoff;
    fs::survival::Area& area;
    int fuse_fd;
    WorkerEntry worker;
    bool resumed;  // started by a live upgrade's exec: the kernel's INIT is already answered
    std::filesystem::path start_dir;  // the cwd the arguments were given in (daemonising leaves it)
};

class Supervisor {
public:
    explicit Supervisor(SupervisorParts parts);
    // Until the mount goes away or a stop signal (0), or a crash loop / a worker refusing to
    // serve / a death without failover (non-zero, the connection aborted and unmounted).
    // A successful upgrade does not return (exec).
    int run();

private:
    void spawn(bool recovering);
    std::optional<int> on_worker_end(int status);
    int fatal(const std::string& why);
    void sweep();
    void begin_upgrade();
    void fail_upgrade(const std::string& why);
    void exec_new_binary();

    SupervisorParts p_;
    fs::HandoffRecord& rec_;
    std::vector<int> keep_;  // fds open before the first worker
    std::filesystem::path exe_;
    std::vector<std::string> argv_;
    std::optional<unsigned long> connection_;
    pid_t worker_ = -1;
    bool stopping_ = false;
    bool upgrading_ = false;
    std::uint64_t drain_deadline_ns_ = 0;
    std::deque<std::uint64_t> deaths_;  // monotonic ns, within the crash-loop window
};

}  // namespace splicefs::mount
