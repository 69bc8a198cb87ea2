#include "mount/failover_supervisor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <memory>
#include <system_error>

#ifdef SPLICEFS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "core/exit_codes.hpp"
#include "core/log.hpp"
#include "fs/failover_hooks.hpp"
#include "fs/filesystem.hpp"
#include "mount/failover_connection.hpp"
#include "mount/failover_exec.hpp"

namespace splicefs::mount {

namespace {

constexpr std::uint64_t kNsPerSec = 1'000'000'000;
constexpr std::uint64_t kDrainTimeoutNs = 5 * kNsPerSec;  // then the worker is killed: resend covers it

void notify(const char* state) noexcept {
#ifdef SPLICEFS_HAVE_SYSTEMD
    (void)sd_notify(0, state);  // a no-op unless systemd set NOTIFY_SOCKET
#else
    (void)state;
#endif
}

std::vector<int> open_fds() {
    std::vector<int> out;
    const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/fd"), ::closedir);
    if (!dir) return out;
    const int own = ::dirfd(dir.get());
    while (const dirent* e = ::readdir(dir.get())) {  // NOLINT(concurrency-mt-unsafe): its own DIR
        const std::string_view name(e->d_name);
        int fd = -1;
        if (std::from_chars(name.data(), name.data() + name.size(), fd).ec == std::errc{} && fd != own) {
            out.push_back(fd);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string describe(int status) {
    if (WIFSIGNALED(status)) {
        return fmt::format(
            "was killed by signal {} ({})", WTERMSIG(status),
            ::sigabbrev_np(WTERMSIG(status)) != nullptr ? ::sigabbrev_np(WTERMSIG(status)) : "?");
    }
    if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
    return fmt::format("ended (wait status {:#x})", status);
}

void set_text(std::array<char, 160>& out, std::string_view text) noexcept {
    const std::size_t n = std::min(text.size(), out.size() - 1);
    std::copy_n(text.begin(), n, out.begin());
    out[n] = '\0';
}

}  // namespace

std::string handoff_version_text() {
    return fmt::format("{}.{}", kHandoffFormat, fs::survival::kFormatVersion);
}

std::string failover_off_reason(const Config& config) {
    if (!config.failover) return "--no-failover";
    if (config.clone_fd) {
        return "--clone-fd (the kernel fails the requests of a per-thread fd when its worker dies)";
    }
    if (config.transport == Transport::Uring) {
        return "--transport=uring (requests in a dead worker's ring entries are not requeued by the kernel)";
    }
    return {};
}

BlockedSignals::BlockedSignals() {
    const sigset_t s = set();
    ::sigprocmask(SIG_BLOCK, &s, &old_);  // NOLINT(concurrency-mt-unsafe): the supervisor has one thread
}

BlockedSignals::~BlockedSignals() {
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);  // NOLINT(concurrency-mt-unsafe): as above
}

sigset_t BlockedSignals::set() noexcept {
    sigset_t s;
    ::sigemptyset(&s);
    for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGCHLD}) ::sigaddset(&s, sig);
    return s;
}

Supervisor::Supervisor(SupervisorParts parts)
    : p_(std::move(parts)), rec_(p_.handoff.record()), exe_(current_executable()), argv_(own_arguments()) {}

int Supervisor::run() {
    keep_ = open_fds();  // before the first worker: what the supervisor itself holds
    connection_ = fuse_connection_of(p_.config.mountpoint);
    rec_.counters.daemon_pid.store(::getpid());
    if (p_.resumed) {
        rec_.counters.upgrades.fetch_add(1);
        set_text(rec_.counters.upgrade_error, "");
        spdlog::info("upgrade: {} now serves {} (supervisor pid {})", exe_.string(),
                     p_.config.mountpoint.string(), ::getpid());
        fs::prepare_replay(p_.fs);
    }
    spawn(p_.resumed);
    notify("READY=1");

    const sigset_t set = BlockedSignals::set();
    for (;;) {
        siginfo_t info{};
        int sig = 0;
        if (upgrading_) {
            const timespec tick{0, 100'000'000};
            sig = ::sigtimedwait(&set, &info, &tick);
            if (sig < 0 && errno == EAGAIN && fs::monotonic_ns() > drain_deadline_ns_ && worker_ > 0) {
                spdlog::warn("upgrade: worker {} did not stop within 5 s; killing it (the kernel resends)",
                             worker_);
                ::kill(worker_, SIGKILL);
                drain_deadline_ns_ = UINT64_MAX;
            }
        } else {
            sig = ::sigwaitinfo(&set, &info);
        }
        if (sig < 0) continue;  // EINTR, or the drain tick
        if (sig == SIGCHLD) {
            int status = 0;
            pid_t pid = 0;
            while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid != worker_) continue;
                if (const auto code = on_worker_end(status)) return *code;
            }
        } else if (sig == SIGUSR2) {
            begin_upgrade();
        } else if (!stopping_) {
            spdlog::info("stopping on signal {}", sig);
            notify("STOPPING=1");
            stopping_ = true;
            if (worker_ > 0) ::kill(worker_, SIGTERM);
        }
    }
}

void Supervisor::spawn(bool recovering) {
    // fork semantics (a private copy of memory) with one fd table for supervisor and worker.
    const long pid = ::syscall(SYS_clone, CLONE_FILES | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "clone of a worker");
    if (pid == 0) ::_exit(p_.worker(recovering));  // never the destructors: they would close shared fds
    worker_ = static_cast<pid_t>(pid);
}

std::optional<int> Supervisor::on_worker_end(int status) {
    const pid_t dead = worker_;
    worker_ = -1;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) return to_int(ExitCode::Ok);  // the mount went away (unmounted)
    if (stopping_) return to_int(ExitCode::Ok);  // also when a stop came during an upgrade's drain
    if (upgrading_) {
        exec_new_binary();  // returns only when the exec failed: serve on with this binary
        upgrading_ = false;
        fs::prepare_replay(p_.fs);
        spawn(true);
        return std::nullopt;
    }
    if (code == fs::kWorkerRefusedExit) return fatal(fmt::format("worker {} refused to serve", dead));

    const std::uint64_t now = fs::monotonic_ns();
    const std::string what = fmt::format("worker {} {}", dead, describe(status));
    if (rec_.state() != fs::InitState::Accepted || rec_.resend_offered.load() == 0) {
        const std::string reason(rec_.counters.reason.data());
        return fatal(what + " and failover is off" +
                     (reason.empty() ? std::string(" (INIT not answered yet)") : ": " + reason));
    }
    deaths_.push_back(now);
    const std::uint64_t window = std::uint64_t{p_.config.crash_loop_seconds} * kNsPerSec;
    while (!deaths_.empty() && now - deaths_.front() > window) deaths_.pop_front();
    if (deaths_.size() >= p_.config.crash_loop_deaths) {
        return fatal(fmt::format("crash loop: {} worker deaths within {} s (the last: {})", deaths_.size(),
                                 p_.config.crash_loop_seconds, what));
    }
    spdlog::warn("failover: {}; starting another", what);
    sweep();
    rec_.pause_start_ns.store(now);
    rec_.counters.failovers.fetch_add(1);
    fs::prepare_replay(p_.fs);
    spawn(true);
    return std::nullopt;
}

int Supervisor::fatal(const std::string& why) {
    std::string err;
    const bool aborted = connection_ && abort_connection(*connection_, err);
    spdlog::critical("{}: aborting the connection ({}) and unmounting {}", why,
                     aborted ? fmt::format("/sys/fs/fuse/connections/{}/abort", *connection_)
                             : "closing /dev/fuse" + (err.empty() ? std::string{} : "; " + err),
                     p_.config.mountpoint.string());
    // Otherwise libfuse's unmount at the end closes /dev/fuse (the last holder: the connection
    // aborts) and then unmounts; after a fusectl abort it would skip the unmount.
    if ((aborted || p_.resumed) && !lazy_unmount(p_.config.mountpoint)) {
        spdlog::error("could not unmount {}: unmount it with fusermount3 -u", p_.config.mountpoint.string());
    }
    log::flush();
    return to_int(ExitCode::Runtime);
}

void Supervisor::sweep() {
    std::vector<int> refs = fs::survival::referenced_fds(p_.area);
    std::sort(refs.begin(), refs.end());
    std::size_t closed = 0;
    for (const int fd : open_fds()) {
        if (std::binary_search(keep_.begin(), keep_.end(), fd) ||
            std::binary_search(refs.begin(), refs.end(), fd))
            continue;
        ::close(fd);
        ++closed;
    }
    if (closed > 0) spdlog::debug("failover: closed {} fds the dead worker left behind", closed);
}

void Supervisor::fail_upgrade(const std::string& why) {
    set_text(rec_.counters.upgrade_error, why);
    rec_.counters.upgrade_failures.fetch_add(1, std::memory_order_release);
    spdlog::error("upgrade refused: {}", why);
}

void Supervisor::begin_upgrade() {
    if (upgrading_ || stopping_ || worker_ < 0) return;
    if (rec_.state() != fs::InitState::Accepted || rec_.resend_offered.load() == 0) {
        fail_upgrade("failover is off on this mount");
        return;
    }
    std::string theirs;
    std::string err;
    if (!handoff_version_of(exe_, theirs, err)) {
        fail_upgrade(exe_.string() + ": " + err);
        return;
    }
    if (theirs != handoff_version_text()) {
        fail_upgrade(fmt::format("{} speaks handoff version {}, this daemon {}: unmount and mount again",
                                 exe_.string(), theirs, handoff_version_text()));
        return;
    }
    spdlog::info("upgrade: draining worker {} to hand the mount to {}", worker_, exe_.string());
    upgrading_ = true;
    const std::uint64_t now = fs::monotonic_ns();
    drain_deadline_ns_ = now + kDrainTimeoutNs;
    rec_.pause_start_ns.store(now);
    ::kill(worker_, SIGTERM);  // libfuse's loop ends at a request boundary
}

void Supervisor::exec_new_binary() {
    sweep();
    std::vector<int> pass = fs::survival::referenced_fds(p_.area);
    for (const int fd : {p_.fuse_fd, p_.handoff.fd(), p_.area.fd()}) {
        if (fd >= 0) pass.push_back(fd);
    }
    // Everything else stays with this process: fds opened without O_CLOEXEC (spdlog's log
    // files among them) would otherwise pile up in the new binary, one set per upgrade.
    std::sort(pass.begin(), pass.end());
    for (const int fd : open_fds()) {
        if (fd > STDERR_FILENO && !std::binary_search(pass.begin(), pass.end(), fd)) {
            const int flags = ::fcntl(fd, F_GETFD);
            if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
    }
    const std::string resume = fmt::format("--resume={},{},{}", p_.fuse_fd, p_.handoff.fd(), p_.area.fd());
    log::flush();
    const std::string err = exec_with_fds(exe_, argv_, resume, pass, p_.start_dir);
    fail_upgrade("exec of " + exe_.string() + " failed: " + err);
}

}  // namespace splicefs::mount
