#pragma once
// The failover harness: a splicefs daemon run from a chosen binary, the worker of a
// supervisor, a seeded loop that SIGKILLs workers (or upgrades the daemon) at random moments,
// a prober that times the pauses from the test side, a census of the daemon's fds, and one
// report row per phase (printed, and appended to FAILOVER_REPORT for scripts/chaos.sh).
#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace splicefs::failover {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Knobs from the environment: FAILOVER_SEED (default: from the clock, always printed),
// FAILOVER_KILLS (kills per kill phase), FAILOVER_UPGRADES (upgrades per upgrade phase),
// FAILOVER_POSIX_OPS (operations per run of the POSIX random mode); FAILOVER_PROFILE=sanitizer
// makes the defaults of those three smaller;
// FAILOVER_REPORT (a file the phase rows are appended to), SPLICEFS_BIN (another daemon).
struct Settings {
    std::uint64_t seed = 0;
    int kills = 45;
    int upgrades = 10;
    int posix_ops = 20000;  // FAILOVER_POSIX_OPS: operations per POSIX random run
    std::string report_file;
    std::string binary;
    static const Settings& get();
};

// What every chaos mount adds to its command line: the crash-loop limit raised far above
// the kill loop's rate (the loop kills ~4 workers a second; the default limit is 5 in 10 s).
// FAILOVER_DAEMON_ARGS replaces them.
[[nodiscard]] std::vector<std::string> chaos_daemon_args();

// Thread-safe list of what went wrong, and how many data checks passed.
class Findings {
public:
    void error(const std::string& what);
    void check() { checks_.fetch_add(1, std::memory_order_relaxed); }
    void checks(long n) { checks_.fetch_add(n, std::memory_order_relaxed); }
    [[nodiscard]] long errors() const;
    [[nodiscard]] long checks() const { return checks_.load(); }
    [[nodiscard]] std::string summary(std::size_t max_lines = 12) const;

private:
    mutable std::mutex mu_;
    std::vector<std::string> errors_;
    std::atomic<long> checks_{0};
};

// /proc helpers. state_of: 'R', 'S', 'D', 'Z', ... or 0 when the process is gone.
[[nodiscard]] char state_of(pid_t pid);
[[nodiscard]] pid_t parent_of(pid_t pid);
[[nodiscard]] std::vector<pid_t> children_of(pid_t pid);
[[nodiscard]] std::vector<std::string> cmdline_of(pid_t pid);
// The supervisor's live (not zombie) child, the newest when there are several; -1 if none.
[[nodiscard]] pid_t worker_of(pid_t supervisor);
[[nodiscard]] std::string read_text(const fs::path& p);
[[nodiscard]] bool is_splicefs_mounted(const fs::path& mnt);
// Waits until the process behind pidfd has exited (a zombie counts): the pidfd's POLLIN, or
// /proc saying Z or gone, since the POLLIN of a multi-threaded zombie can come late.
bool wait_dead(int pidfd, pid_t pid, std::chrono::milliseconds timeout);
// Polls pred every 5 ms until it holds or the timeout passes.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// Runs argv with stdout+stderr captured; SIGKILL after the timeout (exit_code -1).
struct RunResult {
    int exit_code = -1;
    std::string output;
};
RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout = 120s,
              const std::vector<std::string>& env = {});

// A splicefs daemon in the foreground (-f) on caller-chosen dirs, from `binary`. The
// destructor always unmounts (fusermount3 -u, lazily as the last resort) and reaps.
class Daemon {
public:
    Daemon(const fs::path& binary, const fs::path& backing, const fs::path& mnt, const fs::path& log_dir,
           const std::vector<std::string>& args);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] const fs::path& mnt() const noexcept { return mnt_; }
    [[nodiscard]] bool alive();
    // The exit status once the daemon has exited on its own within `timeout`.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    // fusermount3 -u and reap: the wait status, or nullopt when fallbacks were needed.
    std::optional<int> unmount();
    [[nodiscard]] std::string log() const;
    [[nodiscard]] const fs::path& log_file() const noexcept { return log_file_; }  // --log-file
    [[nodiscard]] const fs::path& out_file() const noexcept { return out_file_; }  // stdout+stderr

private:
    fs::path mnt_, log_file_, out_file_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// The user.splicefs.stats JSON of a mount ("" on error), and a top-level number or string in it.
[[nodiscard]] std::string stats_json(const fs::path& mnt);
[[nodiscard]] std::optional<std::int64_t> json_int(const std::string& json, const std::string& key);
[[nodiscard]] std::optional<std::string> json_string(const std::string& json, const std::string& key);

// What the disruptions aim at: the supervisor and mountpoint of the mount under test, which
// can change during a phase (the POSIX suite mounts afresh for every run). -1 / "" when none.
struct Target {
    std::function<pid_t()> supervisor;
    std::function<fs::path()> mountpoint;
};

// Asks the daemon something it cannot answer from the kernel's caches (getxattr of an
// absent name on the mount root) every millisecond, and times when the first probe started
// after a mark was answered: the end of a failover pause as a program sees it.
class Prober {
public:
    Prober(Target target, Findings* findings);  // findings: where unexpected errors go (or null)
    ~Prober();
    Prober(const Prober&) = delete;
    Prober& operator=(const Prober&) = delete;
    void stop();
    // Forget earlier answers: from now on wait for a probe started after `t`.
    void mark(Clock::time_point t);
    // The end of the first probe started after the mark, once there is one.
    [[nodiscard]] std::optional<Clock::time_point> answered() const;
    // The longest a probe started after the mark waited, and whether a probe started after
    // `t` has been answered (an upgrade's pause: the longest wait while it ran).
    [[nodiscard]] Clock::duration longest_since_mark() const;
    [[nodiscard]] bool answered_a_probe_started_after(Clock::time_point t) const;
    [[nodiscard]] long probes() const { return probes_.load(); }

private:
    void loop(const std::stop_token& st);
    Target target_;
    Findings* findings_;
    mutable std::mutex mu_;
    std::int64_t mark_ns_ = 0;        // under mu_
    std::int64_t answer_ns_ = 0;      // under mu_
    std::int64_t longest_ns_ = 0;     // under mu_
    std::int64_t last_start_ns_ = 0;  // under mu_: start of the last answered probe
    std::atomic<long> probes_{0};
    std::jthread thread_;
};

// A loop that disrupts the daemon `target` times (SIGKILL of the worker, or an upgrade) at
// seeded random moments, in its own thread.
class Disruption {
public:
    enum class Kind { kill, upgrade };
    Disruption(Kind kind, Target target, Prober* prober, Findings* findings, std::uint64_t seed,
               int target_count, fs::path binary);
    ~Disruption();
    Disruption(const Disruption&) = delete;
    Disruption& operator=(const Disruption&) = delete;

    [[nodiscard]] bool done() const { return count_.load() >= target_count_ || failed_.load(); }
    [[nodiscard]] int count() const { return count_.load(); }
    void stop();
    // Test-side pauses (ms), one per disruption whose end a probe saw.
    [[nodiscard]] std::vector<double> pauses_ms() const;
    [[nodiscard]] int storm_kills() const { return storm_.load(); }
    [[nodiscard]] Kind kind() const noexcept { return kind_; }

private:
    void kill_loop(const std::stop_token& st);
    void upgrade_loop(const std::stop_token& st);
    bool sleep_for(const std::stop_token& st, std::chrono::milliseconds d);
    void measure(const std::stop_token& st, pid_t supervisor, Clock::time_point start);

    Kind kind_;
    Target target_;
    Prober* prober_;
    Findings* findings_;
    std::mt19937_64 rng_;
    int target_count_;
    fs::path binary_;
    std::atomic<int> count_{0};
    std::atomic<int> storm_{0};
    std::atomic<bool> failed_{false};
    mutable std::mutex mu_;
    std::vector<double> pauses_;
    std::jthread thread_;
};

// The daemon's fd table (shared by supervisor and worker) by kind.
struct FdCensus {
    int total = -1;
    int backing_open = 0;  // regular/directory fds below the backing dir that are not O_PATH
    int opath = 0;         // O_PATH fds (inode table)
    int pipes = 0;
    int other = 0;
    std::string listing;
};
[[nodiscard]] FdCensus census(pid_t pid, const fs::path& backing);
// Threads of a process (from /proc/PID/status), 0 when gone.
[[nodiscard]] int threads_of(pid_t pid);
// Drops the kernel's dentry caches (FORGETs) until the daemon's O_PATH fds stop falling.
void settle(pid_t pid, const fs::path& backing);

// One row of the report.
struct PhaseRow {
    std::string phase;
    std::string kind;
    int disruptions = 0;
    std::int64_t failovers_in_stats = -1;  // -1: not readable (the POSIX runs' own mounts)
    std::int64_t resent = -1;              // requests the kernel resent (stats: requests_resent)
    std::int64_t window_hits = -1;         // resends answered by the in-flight rule (resend_window_hits)
    std::vector<double> pauses_ms;
    long errors = 0;
    long checks = 0;
    std::string fds;  // "before->after"
    double seconds = 0;
};
void report(const PhaseRow& row);
[[nodiscard]] double percentile(std::vector<double> v, double p);

}  // namespace splicefs::failover
