#pragma once
// Exit codes with fixed meanings, the same as libfuse's fuse_main() so that fstab, mount(8)
// and systemd users can read them the way they read other FUSE filesystems'.
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>

namespace splicefs {

enum class ExitCode : int {
    Ok = 0,
    BadArguments = 1,  // bad options or arguments, backing directory missing/unusable
    Mountpoint = 2,    // mountpoint missing, not a directory, mounted, or in a loop with the backing
    Setup = 3,         // /dev/fuse unavailable, FUSE session could not be created
    MountFailed = 4,   // mount(2) / fusermount3 refused
    Daemonize = 5,     // fork/setsid failed
    Signals = 6,       // signal handlers could not be installed
    Runtime = 7,       // the session loop ended with an error
};

struct ExitCodeInfo {
    ExitCode code;
    std::string_view meaning;
};

// The documented table (help text, man page).
inline constexpr std::array<ExitCodeInfo, 8> kExitCodes{{
    {ExitCode::Ok, "success; without -f the mount is live when the command returns"},
    {ExitCode::BadArguments, "bad options or arguments, backing directory missing or unreadable"},
    {ExitCode::Mountpoint,
     "mountpoint missing, not a directory, already mounted, or same as, inside or "
     "above the backing tree"},
    {ExitCode::Setup, "setup failed (/dev/fuse unavailable, FUSE session could not be created)"},
    {ExitCode::MountFailed, "mounting failed"},
    {ExitCode::Daemonize, "daemonizing failed"},
    {ExitCode::Signals, "installing signal handlers failed"},
    {ExitCode::Runtime, "error while serving requests"},
}};

[[nodiscard]] constexpr int to_int(ExitCode c) noexcept {
    return static_cast<int>(c);
}

// An error that ends the program with a given exit code and one line on stderr.
class ExitError : public std::runtime_error {
public:
    ExitError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    [[nodiscard]] ExitCode code() const noexcept { return code_; }

private:
    ExitCode code_;
};

}  // namespace splicefs
