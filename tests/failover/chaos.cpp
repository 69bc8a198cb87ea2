#include "chaos.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace splicefs::failover {
namespace {

std::int64_t ns_of(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point tp_of(std::int64_t ns) {
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

std::string errname(int e) {
    return std::generic_category().message(e);
}

// Undoes the octal escapes of /proc/self/mountinfo (\040 for space and friends).
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::vector<char*> c_argv(std::vector<std::string>& args) {
    std::vector<char*> out;
    for (auto& a : args) out.push_back(a.data());
    out.push_back(nullptr);
    return out;
}

bool reap(pid_t pid, std::chrono::milliseconds timeout, int* status) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return true;
        if (r < 0 && errno != EINTR) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

// A live splicefs mount answers statfs() as FUSE and is listed in mountinfo.
bool live_mount(const fs::path& mnt) {
    struct statfs sfs {};
    return ::statfs(mnt.c_str(), &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC && is_splicefs_mounted(mnt);
}

long env_long(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 0) : fallback;
}

}  // namespace

const Settings& Settings::get() {
    static const Settings s = [] {
        Settings out;
        const char* seed = std::getenv("FAILOVER_SEED");
        out.seed = seed != nullptr && *seed != '\0' ? std::strtoull(seed, nullptr, 0)
                                                    : (std::random_device{}() & 0xffffffffu);
        const char* profile = std::getenv("FAILOVER_PROFILE");
        const bool small = profile != nullptr && std::string(profile) == "sanitizer";
        out.kills = static_cast<int>(env_long("FAILOVER_KILLS", small ? 12 : 45));
        out.upgrades = static_cast<int>(env_long("FAILOVER_UPGRADES", small ? 3 : 10));
        out.posix_ops = static_cast<int>(env_long("FAILOVER_POSIX_OPS", small ? 5000 : 20000));
        if (const char* r = std::getenv("FAILOVER_REPORT"); r != nullptr) out.report_file = r;
        const char* bin = std::getenv("SPLICEFS_BIN");
        out.binary = bin != nullptr && *bin != '\0' ? bin : SPLICEFS_BINARY;
        std::cout << "[failover] seed " << out.seed << " (FAILOVER_SEED=" << out.seed << " repeats it), "
                  << out.kills << " kills / " << out.upgrades << " upgrades per phase, binary " << out.binary
                  << std::endl;
        return out;
    }();
    return s;
}

std::vector<std::string> chaos_daemon_args() {
    const char* env = std::getenv("FAILOVER_DAEMON_ARGS");
    std::istringstream words(env != nullptr ? env : "--crash-loop=1000000/10");
    std::vector<std::string> out;
    for (std::string w; words >> w;) out.push_back(w);
    return out;
}

void Findings::error(const std::string& what) {
    const std::lock_guard lock(mu_);
    errors_.push_back(what);
}

long Findings::errors() const {
    const std::lock_guard lock(mu_);
    return static_cast<long>(errors_.size());
}

std::string Findings::summary(std::size_t max_lines) const {
    const std::lock_guard lock(mu_);
    std::string out;
    for (std::size_t i = 0; i < errors_.size() && i < max_lines; ++i) out += "  " + errors_[i] + "\n";
    if (errors_.size() > max_lines) out += "  ... " + std::to_string(errors_.size() - max_lines) + " more\n";
    return out;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// /proc/PID/stat: "pid (comm) S ppid ...", comm may hold spaces and parentheses.
namespace {
std::vector<std::string> stat_fields(pid_t pid) {
    const std::string s = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto close = s.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream rest(s.substr(close + 1));
    std::vector<std::string> out;
    for (std::string w; rest >> w;) out.push_back(w);
    return out;  // [0] state, [1] ppid, ... [19] starttime
}
}  // namespace

char state_of(pid_t pid) {
    const auto f = stat_fields(pid);
    return f.empty() ? '\0' : f[0][0];
}

pid_t parent_of(pid_t pid) {
    const auto f = stat_fields(pid);
    return f.size() > 1 ? static_cast<pid_t>(std::stol(f[1])) : -1;
}

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    std::istringstream in(
        read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
    for (long c = 0; in >> c;) out.push_back(static_cast<pid_t>(c));
    return out;
}

std::vector<std::string> cmdline_of(pid_t pid) {
    const std::string raw = read_text("/proc/" + std::to_string(pid) + "/cmdline");
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\0') {
            out.push_back(raw.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

pid_t worker_of(pid_t supervisor) {
    pid_t best = -1;
    unsigned long long best_start = 0;
    for (const pid_t c : children_of(supervisor)) {
        const auto f = stat_fields(c);
        if (f.size() < 20 || f[0] == "Z" || f[0] == "X") continue;
        const unsigned long long start = std::stoull(f[19]);
        if (best < 0 || start >= best_start) {
            best = c;
            best_start = start;
        }
    }
    return best;
}

bool is_splicefs_mounted(const fs::path& mnt) {
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        std::istringstream ls(line);
        std::string id, parent, devno, root, mp;
        ls >> id >> parent >> devno >> root >> mp;
        const auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream tail(line.substr(dash + 3));
        std::string fstype;
        tail >> fstype;
        if (fstype == "fuse.splicefs" && unescape(mp) == mnt.string()) return true;
    }
    return false;
}

bool wait_dead(int pidfd, pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        pollfd p{pidfd, POLLIN, 0};
        if (poll(&p, 1, 1) > 0) return true;
        const char s = state_of(pid);
        if (s == '\0' || s == 'Z' || s == 'X') return true;
        if (Clock::now() >= deadline) return false;
    }
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout,
              const std::vector<std::string>& env) {
    char templ[] = "/tmp/splicefs-failover-out.XXXXXX";
    const int out_fd = mkstemp(templ);
    if (out_fd < 0) throw std::system_error(errno, std::generic_category(), "mkstemp");
    const fs::path out_path = templ;
    std::vector<std::string> args = argv;
    auto cargv = c_argv(args);
    // The environment is built before fork: the child only calls async-signal-safe functions.
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), env.begin(), env.end());
    auto cenv = c_argv(envs);
    const pid_t pid = fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in >= 0) dup2(in, STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
        execvpe(cargv[0], cargv.data(), cenv.data());
        _exit(127);
    }
    close(out_fd);
    RunResult r;
    int status = 0;
    if (!reap(pid, timeout, &status)) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        r.output = "(killed after " + std::to_string(timeout.count()) + " s)\n";
    } else if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.output = "(killed by signal " + std::to_string(WTERMSIG(status)) + ")\n";
    }
    r.output += read_text(out_path);
    fs::remove(out_path);
    return r;
}

Daemon::Daemon(const fs::path& binary, const fs::path& backing, const fs::path& mnt, const fs::path& log_dir,
               const std::vector<std::string>& args)
    : mnt_(mnt) {
    static std::atomic<int> serial{0};
    const std::string tag = std::to_string(++serial);
    log_file_ = log_dir / ("daemon" + tag + ".log");
    out_file_ = log_dir / ("daemon" + tag + ".out");
    std::vector<std::string> argv{binary.string(), "-f", "--log-file", log_file_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(backing.string());
    argv.push_back(mnt.string());
    auto cargv = c_argv(argv);
    const std::string out_path = out_file_.string();
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
        // A dying test process takes the daemon down cleanly.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
        const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (in >= 0) dup2(in, STDIN_FILENO);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(cargv[0], cargv.data());
        _exit(127);
    }
    const auto deadline = Clock::now() + 15s;
    while (!live_mount(mnt_)) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("splicefs exited before mounting (status " + std::to_string(status) +
                                     ")\n" + log());
        }
        if (Clock::now() >= deadline) {
            unmount();
            throw std::runtime_error("splicefs did not mount within 15 s\n" + log());
        }
        std::this_thread::sleep_for(5ms);
    }
}

Daemon::~Daemon() {
    unmount();
}

bool Daemon::alive() {
    if (pid_ < 0 || status_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        return false;
    }
    return true;
}

std::optional<int> Daemon::wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ < 0) return std::nullopt;
    if (!status_) {
        int status = 0;
        if (!reap(pid_, timeout, &status)) return std::nullopt;
        status_ = status;
    }
    return status_;
}

std::optional<int> Daemon::unmount() {
    if (pid_ < 0) return 0;
    bool fallback = false;
    if (alive() && is_splicefs_mounted(mnt_)) {
        for (int attempt = 0; attempt < 40; ++attempt) {
            const RunResult r = run({"fusermount3", "-u", mnt_.string()}, 10s);
            if (r.exit_code == 0 || !is_splicefs_mounted(mnt_)) break;
            std::this_thread::sleep_for(50ms);
        }
    }
    if (!status_) {
        int status = 0;
        if (!reap(pid_, 15s, &status)) {
            fallback = true;
            kill(pid_, SIGKILL);
            while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
        }
        status_ = status;
    }
    const int status = *status_;
    pid_ = -1;
    if (is_splicefs_mounted(mnt_)) {
        // Our daemon is gone: whatever splicefs mount is left here is ours.
        fallback = true;
        umount2(mnt_.c_str(), MNT_DETACH);
    }
    if (fallback) return std::nullopt;
    return status;
}

std::string Daemon::log() const {
    return "--- " + log_file_.string() + " ---\n" + read_text(log_file_) + "--- " + out_file_.string() +
           " ---\n" + read_text(out_file_);
}

std::string stats_json(const fs::path& mnt) {
    std::string buf(1 << 17, '\0');
    const ssize_t n = getxattr(mnt.c_str(), "user.splicefs.stats", buf.data(), buf.size());
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
}

namespace {
// The text right after "key": at the top level of a JSON object (depth 1).
std::optional<std::string_view> top_level_value(const std::string& json, const std::string& key) {
    const std::string needle = "\"" + key + "\":";
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        } else if (c == '"') {
            if (depth == 1 && json.compare(i, needle.size(), needle) == 0)
                return std::string_view(json).substr(i + needle.size());
            in_string = true;
        }
    }
    return std::nullopt;
}
}  // namespace

std::optional<std::int64_t> json_int(const std::string& json, const std::string& key) {
    const auto v = top_level_value(json, key);
    if (!v || v->empty()) return std::nullopt;
    char* end = nullptr;
    const std::string s(v->substr(0, 24));
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (end == s.c_str()) return std::nullopt;
    return static_cast<std::int64_t>(n);
}

std::optional<std::string> json_string(const std::string& json, const std::string& key) {
    const auto v = top_level_value(json, key);
    if (!v || v->empty() || (*v)[0] != '"') return std::nullopt;
    const auto end = v->find('"', 1);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(v->substr(1, end - 1));
}

// --- Prober -------------------------------------------------------------------------------

Prober::Prober(Target target, Findings* findings)
    : target_(std::move(target)),
      findings_(findings),
      thread_([this](const std::stop_token& st) { loop(st); }) {}

Prober::~Prober() {
    stop();
}

void Prober::stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

void Prober::mark(Clock::time_point t) {
    const std::lock_guard lock(mu_);
    mark_ns_ = ns_of(t);
    answer_ns_ = 0;
    longest_ns_ = 0;
}

Clock::duration Prober::longest_since_mark() const {
    const std::lock_guard lock(mu_);
    return std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(longest_ns_));
}

bool Prober::answered_a_probe_started_after(Clock::time_point t) const {
    const std::lock_guard lock(mu_);
    return last_start_ns_ > ns_of(t);
}

std::optional<Clock::time_point> Prober::answered() const {
    const std::lock_guard lock(mu_);
    if (answer_ns_ == 0) return std::nullopt;
    return tp_of(answer_ns_);
}

void Prober::loop(const std::stop_token& st) {
    std::array<char, 64> buf{};
    while (!st.stop_requested()) {
        const fs::path mp = target_.mountpoint();
        if (mp.empty()) {
            std::this_thread::sleep_for(1ms);
            continue;
        }
        const auto start = Clock::now();
        const ssize_t r = getxattr(mp.c_str(), "user.failover.probe", buf.data(), buf.size());
        const int err = errno;
        const auto end = Clock::now();
        probes_.fetch_add(1, std::memory_order_relaxed);
        if (r < 0 && err != ENODATA && err != EOPNOTSUPP && findings_ != nullptr)
            findings_->error("probe getxattr(" + mp.string() + "): " + errname(err));
        {
            const std::lock_guard lock(mu_);
            if (mark_ns_ != 0 && ns_of(start) > mark_ns_) {
                if (answer_ns_ == 0) answer_ns_ = ns_of(end);
                longest_ns_ = std::max(longest_ns_, ns_of(end) - ns_of(start));
            }
            last_start_ns_ = ns_of(start);
        }
        std::this_thread::sleep_until(start + 1ms);
    }
}

// --- Disruption ---------------------------------------------------------------------------

Disruption::Disruption(Kind kind, Target target, Prober* prober, Findings* findings, std::uint64_t seed,
                       int target_count, fs::path binary)
    : kind_(kind),
      target_(std::move(target)),
      prober_(prober),
      findings_(findings),
      rng_(seed),
      target_count_(target_count),
      binary_(std::move(binary)) {
    thread_ = std::jthread([this](const std::stop_token& st) {
        if (kind_ == Kind::kill) {
            kill_loop(st);
        } else {
            upgrade_loop(st);
        }
    });
}

Disruption::~Disruption() {
    stop();
}

void Disruption::stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
}

std::vector<double> Disruption::pauses_ms() const {
    const std::lock_guard lock(mu_);
    return pauses_;
}

bool Disruption::sleep_for(const std::stop_token& st, std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (Clock::now() < until) {
        if (st.stop_requested()) return false;
        std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), 2ms));
    }
    return !st.stop_requested();
}

// Waits for the first probe started after the mark to be answered. Not bounded by the
// phase's end: a mount that does not answer within 30 s is a hang, whatever else happens.
void Disruption::measure(const std::stop_token& st, pid_t supervisor, Clock::time_point start) {
    (void)st;
    const auto deadline = Clock::now() + 30s;
    while (Clock::now() < deadline) {
        if (const auto t = prober_->answered()) {
            const std::lock_guard lock(mu_);
            pauses_.push_back(std::chrono::duration<double, std::milli>(*t - start).count());
            return;
        }
        if (target_.supervisor() != supervisor) return;  // that mount ended (a POSIX run)
        std::this_thread::sleep_for(200us);
    }
    findings_->error("no probe answered within 30 s of disruption #" + std::to_string(count_.load()) +
                     ": the mount hangs");
    failed_ = true;
}

void Disruption::kill_loop(const std::stop_token& st) {
    std::uniform_int_distribution<int> delay(20, 500);
    std::uniform_int_distribution<int> percent(0, 99);
    pid_t last = -1;
    pid_t last_supervisor = -1;
    bool immediate = false;
    auto since = Clock::now();
    while (!st.stop_requested() && count_.load() < target_count_) {
        const pid_t sup = target_.supervisor();
        if (sup <= 0) {
            std::this_thread::sleep_for(2ms);
            since = Clock::now();
            continue;
        }
        if (sup != last_supervisor) {
            last_supervisor = sup;
            since = Clock::now();
            immediate = false;
        }
        const pid_t w = worker_of(sup);
        if (w <= 0 || w == last) {
            if (Clock::now() - since > 15s && target_.supervisor() == sup && state_of(sup) != 'Z') {
                findings_->error("no new worker 15 s after the kill of worker " + std::to_string(last));
                failed_ = true;
                return;
            }
            std::this_thread::sleep_for(1ms);
            continue;
        }
        if (!immediate && !sleep_for(st, std::chrono::milliseconds(delay(rng_)))) return;
        immediate = false;
        // Through a pidfd, after checking the pid still names that supervisor's worker.
        const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, w, 0));
        if (pidfd < 0) continue;
        if (parent_of(w) != sup || state_of(w) == 'Z') {
            close(pidfd);
            continue;
        }
        const auto t_kill = Clock::now();
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) != 0) {
            close(pidfd);
            continue;
        }
        const bool dead = wait_dead(pidfd, w, 10s);
        close(pidfd);
        if (!dead) {
            findings_->error("worker " + std::to_string(w) + " still alive 10 s after SIGKILL");
            failed_ = true;
            return;
        }
        const auto t_dead = Clock::now();
        count_.fetch_add(1);
        last = w;
        since = t_dead;
        // One kill in ten is followed at once by the next (the new worker still recovering).
        if (percent(rng_) < 10) {
            immediate = true;
            storm_.fetch_add(1);
            continue;
        }
        if (prober_ != nullptr) {
            prober_->mark(t_dead);
            measure(st, sup, t_kill);
            if (failed_) return;
        }
    }
}

void Disruption::upgrade_loop(const std::stop_token& st) {
    std::uniform_int_distribution<int> delay(50, 400);
    while (!st.stop_requested() && count_.load() < target_count_) {
        if (!sleep_for(st, std::chrono::milliseconds(delay(rng_)))) return;
        const pid_t sup = target_.supervisor();
        const fs::path mp = target_.mountpoint();
        // A POSIX run's daemon exists a little before its mount and after it: an upgrade then
        // rightly answers "not a splicefs mount". Only a mount that is there before the command
        // and still there after it, under the same daemon, must upgrade.
        if (sup <= 0 || mp.empty() || !is_splicefs_mounted(mp)) continue;
        const pid_t before = worker_of(sup);
        const auto t0 = Clock::now();
        if (prober_ != nullptr) prober_->mark(t0);
        const RunResult r = run({binary_.string(), "upgrade", mp.string()}, 60s);
        if (r.exit_code != 0) {
            if (target_.supervisor() != sup || !is_splicefs_mounted(mp))
                continue;  // that mount ended meanwhile
            findings_->error("splicefs upgrade " + mp.string() + " exited " + std::to_string(r.exit_code) +
                             ": " + r.output);
            failed_ = true;
            return;
        }
        count_.fetch_add(1);
        const pid_t after = worker_of(sup);
        if (before > 0 && after == before)
            findings_->error("upgrade #" + std::to_string(count_.load()) + " left worker " +
                             std::to_string(before) + " in place");
        if (prober_ != nullptr) {
            // The pause of an upgrade: the longest a probe waited from the command's start
            // until a probe started after its end was answered.
            const auto t1 = Clock::now();
            const auto deadline = t1 + 30s;
            while (!prober_->answered_a_probe_started_after(t1) && target_.supervisor() == sup) {
                if (Clock::now() > deadline) {
                    findings_->error("no probe answered within 30 s of upgrade #" +
                                     std::to_string(count_.load()) + ": the mount hangs");
                    failed_ = true;
                    return;
                }
                std::this_thread::sleep_for(200us);
            }
            const std::lock_guard lock(mu_);
            pauses_.push_back(
                std::chrono::duration<double, std::milli>(prober_->longest_since_mark()).count());
        }
    }
}

// --- fds ----------------------------------------------------------------------------------

FdCensus census(pid_t pid, const fs::path& backing) {
    FdCensus c;
    const fs::path dir = "/proc/" + std::to_string(pid) + "/fd";
    const std::string prefix = backing.string();
    std::error_code ec;
    int total = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        const std::string target = fs::read_symlink(it->path(), ec2).string();
        if (ec2) continue;
        ++total;
        const std::string info =
            read_text("/proc/" + std::to_string(pid) + "/fdinfo/" + it->path().filename().string());
        unsigned long flags = 0;
        if (const auto pos = info.find("flags:"); pos != std::string::npos)
            flags = std::strtoul(info.c_str() + pos + 6, nullptr, 8);
        c.listing += it->path().filename().string() + " -> " + target + "\n";
        if (target.rfind("pipe:", 0) == 0) {
            ++c.pipes;
        } else if ((flags & O_PATH) != 0) {
            ++c.opath;
        } else if (target == prefix || target.rfind(prefix + "/", 0) == 0) {
            ++c.backing_open;
        } else {
            ++c.other;
        }
    }
    c.total = ec ? -1 : total;
    return c;
}

int threads_of(pid_t pid) {
    std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    }
    return 0;
}

void settle(pid_t pid, const fs::path& backing) {
    int last = census(pid, backing).opath;
    int still = 0;
    const auto deadline = Clock::now() + 10s;
    while (still < 3 && Clock::now() < deadline) {
        sync();
        std::ofstream("/proc/sys/vm/drop_caches") << "2\n";
        std::this_thread::sleep_for(150ms);
        const int now = census(pid, backing).opath;
        still = now >= last ? still + 1 : 0;
        last = now;
    }
}

// --- report -------------------------------------------------------------------------------

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(rank, v.size() - 1)];
}

void report(const PhaseRow& row) {
    char line[512];
    std::snprintf(
        line, sizeof line,
        "[failover] %-22s %-7s %5d done, failovers in stats %5lld, resent %lld (in-flight window "
        "%lld), pause ms p50 %7.1f p99 %7.1f max %7.1f (%zu timed), errors %ld, data checks %ld, %.0f s, "
        "daemon fds %s",
        row.phase.c_str(), row.kind.c_str(), row.disruptions, static_cast<long long>(row.failovers_in_stats),
        static_cast<long long>(row.resent), static_cast<long long>(row.window_hits),
        percentile(row.pauses_ms, 50), percentile(row.pauses_ms, 99), percentile(row.pauses_ms, 100),
        row.pauses_ms.size(), row.errors, row.checks, row.seconds, row.fds.c_str());
    std::cout << line << std::endl;
    const auto& file = Settings::get().report_file;
    if (file.empty()) return;
    std::ofstream out(file, std::ios::app);
    out << row.phase << '\t' << row.kind << '\t' << row.disruptions << '\t' << row.failovers_in_stats << '\t'
        << row.resent << '\t' << row.window_hits << '\t' << row.errors << '\t' << row.checks << '\t'
        << row.seconds << '\t' << row.fds << '\t';
    for (std::size_t i = 0; i < row.pauses_ms.size(); ++i) out << (i ? "," : "") << row.pauses_ms[i];
    out << '\n';
}

}  // namespace splicefs::failover
