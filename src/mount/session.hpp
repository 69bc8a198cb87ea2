#pragma once
// RAII owners of the libfuse resources of one mount. Declared in this order in run(), so they
// are released in reverse: unmount, signal handlers removed, session destroyed.
#include <fuse_lowlevel.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/exit_codes.hpp"

namespace splicefs::mount {

struct SessionDeleter {
    void operator()(fuse_session* se) const noexcept { fuse_session_destroy(se); }
};
using SessionPtr = std::unique_ptr<fuse_session, SessionDeleter>;

struct LoopConfigDeleter {
    void operator()(fuse_loop_config* cfg) const noexcept { fuse_loop_cfg_destroy(cfg); }
};
using LoopConfigPtr = std::unique_ptr<fuse_loop_config, LoopConfigDeleter>;

// SIGINT, SIGTERM and SIGHUP end the session loop (then we unmount cleanly); SIGPIPE ignored.
class SignalHandlers {
public:
    explicit SignalHandlers(fuse_session* se) : se_(se) {
        if (fuse_set_signal_handlers(se) != 0) {
            throw ExitError(ExitCode::Signals, "cannot install signal handlers");
        }
    }
    SignalHandlers(const SignalHandlers&) = delete;
    SignalHandlers& operator=(const SignalHandlers&) = delete;
    ~SignalHandlers() { fuse_remove_signal_handlers(se_); }

private:
    fuse_session* se_;
};

// The live mount: fuse_session_mount in the constructor, fuse_session_unmount at the end.
class MountGuard {
public:
    // Throws ExitError(4); `hint` is appended to the message when mounting fails.
    MountGuard(fuse_session* se, const std::filesystem::path& mountpoint, const std::string& hint = {});
    MountGuard(const MountGuard&) = delete;
    MountGuard& operator=(const MountGuard&) = delete;
    ~MountGuard() { fuse_session_unmount(se_); }

private:
    fuse_session* se_;
};

}  // namespace splicefs::mount
