#include "mount/run.hpp"

#include <fmt/format.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#ifdef SPLICEFS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "core/exit_codes.hpp"
#include "core/log.hpp"
#include "fs/failover_hooks.hpp"
#include "fs/fs.hpp"
#include "fs/handoff.hpp"
#include "fs/survival.hpp"
#include "fs/tuning.hpp"
#include "mount/checks.hpp"
#include "mount/failover_connection.hpp"
#include "mount/failover_supervisor.hpp"
#include "mount/fuse_args.hpp"
#include "mount/fuse_log.hpp"
#include "mount/remount.hpp"
#include "mount/session.hpp"
#include "transport/uring.hpp"

namespace splicefs::mount {
namespace {

void notify(const char* state) noexcept {
#ifdef SPLICEFS_HAVE_SYSTEMD
    // A no-op unless systemd set NOTIFY_SOCKET (Type=notify units).
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

// The default: serving threads read and answer requests, a pool takes the ops that may block
// (fs/offload.hpp). libfuse's multi-threaded loop when --threads or
// --clone-fd asks for it, one thread and no pool with -s.
bool hybrid(const Config& config) {
    return !config.single_thread && config.threads == 0 && !config.clone_fd;
}

// Hybrid serving threads: the tuning knob, at most one per CPU, at least one.
unsigned serving_threads() {
    const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
    return std::clamp(fs::tuning::knobs().serving_threads, 1U, cpus);
}

constexpr unsigned kPoolThreads = 4;      // blocking ops in flight before the pool grows
constexpr unsigned kPoolMaxThreads = 64;  // grown while flocks wait, like libfuse's workers

// A failover worker waits this long for its pool when it stops, then leaves what is still
// running (a flock waiting on a lock held elsewhere) to the next worker: the kernel resends it.
constexpr std::chrono::milliseconds kWorkerPoolDrain{50};

// libfuse's multi-threaded loop; 0 leaves a setting at libfuse's default.
int run_mt_loop(fuse_session* se, unsigned max_threads, unsigned idle_threads, bool clone_fd) {
    LoopConfigPtr cfg(fuse_loop_cfg_create());
    if (!cfg) throw ExitError(ExitCode::Setup, "cannot create the loop configuration");
    fuse_loop_cfg_set_clone_fd(cfg.get(), clone_fd ? 1U : 0U);
    if (max_threads != 0) fuse_loop_cfg_set_max_threads(cfg.get(), max_threads);
    if (idle_threads != 0) fuse_loop_cfg_set_idle_threads(cfg.get(), idle_threads);
    return fuse_session_loop_mt(se, cfg.get());
}

// The serving threads of hybrid serving: libfuse's loop, capped and kept (never more, none
// retired), since they never block (the pool does).
int serve_hybrid(fuse_session* se, unsigned threads) {
    if (threads <= 1) return fuse_session_loop(se);
    return run_mt_loop(se, threads, threads, /*clone_fd=*/false);
}

// Only when one thread reads /dev/fuse: with more, a sleeping one takes the request first.
// Not under the rings, which carry the requests that would reward it.
void arm_receive_spin(fs::Fs& fs, const Config& config, unsigned readers) {
    const bool on = readers == 1 && config.transport == Transport::Dev;
    fs::set_receive_spin(fs, on ? config.spin_us : 0);
}

int serve(fuse_session* se, const Config& config, fs::Fs& fs, bool worker) {
    if (config.single_thread) {
        arm_receive_spin(fs, config, 1);
        return fuse_session_loop(se);
    }
    if (hybrid(config)) {
        fs::start_offload(fs, kPoolThreads, kPoolMaxThreads);
        const unsigned readers = serving_threads();
        arm_receive_spin(fs, config, readers);
        const int rc = serve_hybrid(se, readers);
        if (!worker) {
            fs::stop_offload(fs);  // answers what is queued before the session goes away
        } else if (!fs::stop_offload_within(fs, kWorkerPoolDrain)) {
            spdlog::info("handing over with blocked ops in flight: the next worker gets them resent");
        }
        return rc;
    }
    return run_mt_loop(se, config.threads, 0, config.clone_fd);
}

SessionPtr new_session(const Config& config, fs::Fs& fs) {
    FuseArgs args(build_fuse_args(config, ::geteuid() == 0));
    FuseLogCapture capture;
    SessionPtr se(fuse_session_new(args.get(), &fs::lowlevel_ops(), sizeof(fuse_lowlevel_ops), &fs));
    if (!se) {
        const std::string why = capture.take();
        // libfuse rejects -o words it does not know here: that is a bad option, not a setup failure.
        const bool bad_option =
            why.find("unknown option") != std::string::npos || why.find("invalid") != std::string::npos;
        throw ExitError(bad_option ? ExitCode::BadArguments : ExitCode::Setup,
                        "cannot create the FUSE session" + (why.empty() ? std::string{} : ": " + why));
    }
    return se;
}

// `systemd`: this process is the one systemd watches (not a failover worker). `signalled`:
// the loop ended on a signal rather than because the mount went away.
int serve_and_report(fuse_session* se, const Config& config, fs::Fs& fs, bool systemd, bool& signalled) {
    if (systemd) notify("READY=1");
    // Needs the live mount (its device number): hence here, not in init().
    fs::run_after_init(fs, fs::tuning::readahead_setter(config.mountpoint, fs::tuning::knobs().readahead_kb));
    const unsigned serving = serving_threads();
    spdlog::info(
        "mounted {} on {} (pid {}, {})", config.backing.string(), config.mountpoint.string(), ::getpid(),
        config.single_thread ? std::string("single-threaded")
        : hybrid(config)
            ? fmt::format("{} serving thread{}, a pool for blocking ops", serving, serving == 1 ? "" : "s")
        : config.threads ? std::to_string(config.threads) + " threads max"
                         : std::string("libfuse's multi-threaded loop"));
    fs::start_watch(se, fs);
    const struct StopWatch {
        fs::Fs& fs;
        ~StopWatch() { fs::stop_watch(fs); }  // also when serve() throws: before the session goes
    } stop_watch{fs};
    int rc = 0;
    {
        // --transport=uring: rings start once INIT accepts them and stop after the pool is done.
        const transport::Uring rings(se, config.transport == Transport::Uring);
        rc = serve(se, config, fs, /*worker=*/!systemd);
    }
    if (systemd) notify("STOPPING=1");
    fs::log_totals(fs);
    signalled = rc > 0;
    if (rc > 0) {
        spdlog::info("stopping on signal {}", rc);  // libfuse reports the signal number
    } else if (rc < 0) {
        spdlog::error("session loop failed: {}", std::error_code(-rc, std::generic_category()).message());
        return to_int(ExitCode::Runtime);
    }
    return to_int(ExitCode::Ok);
}

// A worker (failover_supervisor.hpp): libfuse's signal handling of its own, the survival
// area attached, the loop; returns its exit status. Never returns by exception: its caller
// _exit()s with the status.
int worker_main(fuse_session* se, const Config& config, fs::Fs& fs, fs::survival::Area& area,
                pid_t supervisor, bool recovering) noexcept {
    try {
        // A worker does not outlive its supervisor (which holds the mount's last word).
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != supervisor) return 0;
        const sigset_t blocked = BlockedSignals::set();
        ::sigprocmask(SIG_UNBLOCK, &blocked, nullptr);  // NOLINT(concurrency-mt-unsafe): no thread yet
        SignalHandlers signals(se);
        fs::survival::attach(fs, area, recovering);
        bool signalled = false;
        int code = serve_and_report(se, config, fs, false, signalled);
        if (code == to_int(ExitCode::Ok) && signalled) code = kWorkerSignalled;
        log::flush();
        return code;
    } catch (const ExitError& e) {
        spdlog::critical("{}", e.what());
        log::flush();
        return to_int(e.code());
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        log::flush();
        return to_int(ExitCode::Runtime);
    }
}

std::size_t fd_limit() {
    rlimit rl{};
    return ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 1U << 20;
}

// What a supervisor owns besides the Fs and session: the handoff record and the survival area.
struct FailoverParts {
    fs::HandoffArea handoff;
    fs::survival::Area area;
};

int supervise(fuse_session* se, const Config& config, fs::Fs& fs, FailoverParts& parts, int fuse_fd,
              bool resumed, const std::filesystem::path& start_dir) {
    const pid_t me = ::getpid();
    Supervisor supervisor(SupervisorParts{config, fs, parts.handoff, parts.area, fuse_fd,
                                          [se, &config, &fs, &parts, me](bool recovering) {
                                              return worker_main(se, config, fs, parts.area, me, recovering);
                                          },
                                          resumed, start_dir});
    return supervisor.run();
}

// The session of a live upgrade never mounted: the supervisor unmounts when it ends.
class ResumedMount {
public:
    explicit ResumedMount(std::filesystem::path mountpoint) : mountpoint_(std::move(mountpoint)) {}
    ResumedMount(const ResumedMount&) = delete;
    ResumedMount& operator=(const ResumedMount&) = delete;
    ~ResumedMount() { (void)lazy_unmount(mountpoint_); }

private:
    std::filesystem::path mountpoint_;
};

// The binary a live upgrade exec'd: the mount, /dev/fuse, the handoff record and the survival
// area are inherited (--resume); no checks, no mount, no daemonising (same pid as before).

// The serving part of a mount, after daemonising: stderr may be /dev/null from here, so every
// failure is logged (file/syslog) and becomes the exit status.
template <typename Serve>
int serve_logged(const Config& config, Serve&& serve) {
    int code = to_int(ExitCode::Ok);
    try {
        code = std::forward<Serve>(serve)();
    } catch (const ExitError& e) {
        spdlog::critical("{}", e.what());
        code = to_int(e.code());
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        code = to_int(ExitCode::Runtime);
    }
    spdlog::info("unmounting {}", config.mountpoint.string());
    log::flush();
    return code;
}

int run_resumed(const Config& config) {
    const Config::Resume fds = *config.resume;
    raise_nofile_limit();
    FailoverParts parts{fs::HandoffArea::adopt(fds.handoff_fd), fs::survival::Area::adopt(fds.area_fd)};
    fs::FsPtr fs = fs::make_fs(config, &parts.area.stats());
    SessionPtr se = new_session(config, *fs);
    const BlockedSignals blocked;
    const ResumedMount mounted(config.mountpoint);
    if (!fs::attach_session(se.get(), *fs, fds.fuse_fd)) {
        throw ExitError(ExitCode::Setup, "upgrade: libfuse refused the inherited /dev/fuse fd");
    }
    fs::attach_handoff(*fs, parts.handoff.record(), handoff_version_text());
    return serve_logged(config, [&] {
        return supervise(se.get(), config, *fs, parts, fds.fuse_fd, true, std::filesystem::current_path());
    });
}

}  // namespace

MountGuard::MountGuard(fuse_session* se, const std::filesystem::path& mountpoint, const std::string& hint)
    : se_(se) {
    FuseLogCapture capture;
    if (fuse_session_mount(se, mountpoint.c_str()) != 0) {
        std::string why = capture.take();
        throw ExitError(ExitCode::MountFailed, "cannot mount on " + mountpoint.string() +
                                                   (why.empty() ? std::string{} : ": " + why) + hint);
    }
}

int run(Config config) {
    log::init(config);
    if (config.remount) return remount(config);  // no second daemon: change the live mount
    install_fuse_log_bridge();
    if (config.resume) return run_resumed(config);
    if ((config.dev || config.suid) && ::geteuid() != 0) {
        spdlog::info("dev and suid need root: mounting nodev,nosuid");
    }

    check_backing(config);
    check_mountpoint(config);
    check_no_loop(config);
    check_dev_fuse();
    raise_nofile_limit();

    const std::filesystem::path start_dir = std::filesystem::current_path();  // before daemonising
    const std::string failover_off = failover_off_reason(config);
    std::optional<FailoverParts> failover;
    if (failover_off.empty()) {
        failover.emplace(FailoverParts{fs::HandoffArea::create(), fs::survival::Area::create(fd_limit())});
    } else {
        spdlog::info("failover off: {}", failover_off);
    }

    fs::FsPtr fs;
    try {
        fs = fs::make_fs(config, failover ? &failover->area.stats() : nullptr);
    } catch (const std::system_error& e) {
        throw ExitError(ExitCode::BadArguments, std::string("cannot open backing directory: ") + e.what());
    }

    // Released in reverse order: unmount, handlers removed, session destroyed, then fs.
    SessionPtr se = new_session(config, *fs);
    // A supervisor takes its signals with sigwaitinfo; a lone daemon lets libfuse handle them.
    std::optional<BlockedSignals> blocked;
    std::optional<SignalHandlers> signals;
    if (failover) {
        blocked.emplace();
    } else {
        signals.emplace(se.get());
    }
    MountGuard mounted(se.get(), config.mountpoint,
                       config.allow_other && ::geteuid() != 0
                           ? " (allow_other for non-root users needs user_allow_other in /etc/fuse.conf)"
                           : "");

    // Kernel passthrough and failover hooks, before INIT is read.
    if (!fs::attach_session(se.get(), *fs) && failover) {
        spdlog::info("failover off: libfuse refused the custom I/O hooks the INIT replay needs");
        // Serve as a lone daemon after all.
        failover.reset();
        blocked.reset();
        signals.emplace(se.get());
    }
    if (failover) {
        fs::attach_handoff(*fs, failover->handoff.record(), handoff_version_text());
    } else {
        fs::report_failover_off(*fs,
                                failover_off.empty() ? "libfuse refused the custom I/O hooks" : failover_off,
                                handoff_version_text());
    }

    // Only now that the mount is live: the parent exits 0 once the child has detached.
    if (fuse_daemonize(config.foreground ? 1 : 0) != 0) {
        throw ExitError(ExitCode::Daemonize, "cannot daemonize");
    }
    return serve_logged(config, [&] {
        if (failover) {
            return supervise(se.get(), config, *fs, *failover, fuse_session_fd(se.get()), false, start_dir);
        }
        bool signalled = false;
        return serve_and_report(se.get(), config, *fs, true, signalled);
    });
}

}  // namespace splicefs::mount
