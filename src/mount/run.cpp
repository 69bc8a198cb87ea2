#include "mount/run.hpp"

#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <system_error>

#ifdef SPLICEFS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "core/exit_codes.hpp"
#include "core/log.hpp"
#include "fs/fs.hpp"
#include "fs/tuning.hpp"
#include "mount/checks.hpp"
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

// The default: one thread reads and serves requests, a pool takes the ops that may block
// (fs/offload.hpp). libfuse's multi-threaded loop when --threads or
// --clone-fd asks for it, one thread and no pool with -s.
bool hybrid(const Config& config) {
    return !config.single_thread && config.threads == 0 && !config.clone_fd;
}

constexpr unsigned kPoolThreads = 4;      // blocking ops in flight before the pool grows
constexpr unsigned kPoolMaxThreads = 64;  // grown while flocks wait, like libfuse's workers

int serve(fuse_session* se, const Config& config, fs::Fs& fs) {
    if (config.single_thread) return fuse_session_loop(se);
    if (hybrid(config)) {
        fs::start_offload(fs, kPoolThreads, kPoolMaxThreads);
        const int rc = fuse_session_loop(se);
        fs::stop_offload(fs);  // answers what is queued before the session goes away
        return rc;
    }
    LoopConfigPtr cfg(fuse_loop_cfg_create());
    if (!cfg) throw ExitError(ExitCode::Setup, "cannot create the loop configuration");
    fuse_loop_cfg_set_clone_fd(cfg.get(), config.clone_fd ? 1U : 0U);
    if (config.threads != 0) fuse_loop_cfg_set_max_threads(cfg.get(), config.threads);
    return fuse_session_loop_mt(se, cfg.get());
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

int serve_and_report(fuse_session* se, const Config& config, fs::Fs& fs) {
    notify("READY=1");
    // Needs the live mount (its device number): hence here, not in init().
    fs::run_after_init(fs, fs::tuning::readahead_setter(config.mountpoint, fs::tuning::knobs().readahead_kb));
    spdlog::info("mounted {} on {} (pid {}, {})", config.backing.string(), config.mountpoint.string(),
                 ::getpid(),
                 config.single_thread ? std::string("single-threaded")
                 : hybrid(config)     ? "one serving thread, a pool for blocking ops"
                 : config.threads     ? std::to_string(config.threads) + " threads max"
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
        rc = serve(se, config, fs);
    }
    notify("STOPPING=1");
    fs::log_totals(fs);
    if (rc > 0) {
        spdlog::info("stopping on signal {}", rc);  // libfuse reports the signal number
    } else if (rc < 0) {
        spdlog::error("session loop failed: {}", std::error_code(-rc, std::generic_category()).message());
        return to_int(ExitCode::Runtime);
    }
    return to_int(ExitCode::Ok);
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
    if ((config.dev || config.suid) && ::geteuid() != 0) {
        spdlog::info("dev and suid need root: mounting nodev,nosuid");
    }

    check_backing(config);
    check_mountpoint(config);
    check_no_loop(config);
    check_dev_fuse();
    raise_nofile_limit();

    fs::FsPtr fs;
    try {
        fs = fs::make_fs(config);
    } catch (const std::system_error& e) {
        throw ExitError(ExitCode::BadArguments, std::string("cannot open backing directory: ") + e.what());
    }

    // Released in reverse order: unmount, handlers removed, session destroyed, then fs.
    SessionPtr se = new_session(config, *fs);
    SignalHandlers signals(se.get());
    MountGuard mounted(se.get(), config.mountpoint,
                       config.allow_other && ::geteuid() != 0
                           ? " (allow_other for non-root users needs user_allow_other in /etc/fuse.conf)"
                           : "");

    fs::attach_session(se.get(), *fs);  // kernel passthrough hooks, before INIT is read

    // Only now that the mount is live: the parent exits 0 once the child has detached.
    if (fuse_daemonize(config.foreground ? 1 : 0) != 0) {
        throw ExitError(ExitCode::Daemonize, "cannot daemonize");
    }
    // From here stderr may be /dev/null: failures go to the log (file/syslog) as well.
    int code = to_int(ExitCode::Ok);
    try {
        code = serve_and_report(se.get(), config, *fs);
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

}  // namespace splicefs::mount
