#pragma once
// libfuse's own messages (fuse_log) routed into spdlog, with a capture mode for start-up:
// while a FuseLogCapture lives, libfuse's errors are kept so that a failed session/mount is
// reported as our one "splicefs: ..." line instead of several raw libfuse lines.
#include <string>

namespace splicefs::mount {

// Installs the bridge (fuse_set_log_func). Idempotent.
void install_fuse_log_bridge() noexcept;

class FuseLogCapture {
public:
    FuseLogCapture();
    FuseLogCapture(const FuseLogCapture&) = delete;
    FuseLogCapture& operator=(const FuseLogCapture&) = delete;
    // Logs whatever was captured and not taken (a success may still carry warnings).
    ~FuseLogCapture();

    // The captured error lines joined with "; " (empty when libfuse said nothing); clears them.
    [[nodiscard]] std::string take();
};

}  // namespace splicefs::mount
