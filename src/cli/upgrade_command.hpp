#pragma once
// `splicefs upgrade MOUNTPOINT`: asks the supervisor of a live mount (its pid from the stats
// document) to hand the mount to the splicefs binary now on disk (SIGUSR2), then waits until
// the new binary serves or the supervisor says why it refused.
#include <span>
#include <string>
#include <string_view>

namespace splicefs::cli {

inline constexpr std::string_view kUpgradeCommand = "upgrade";

[[nodiscard]] bool is_upgrade_command(std::span<const char* const> args) noexcept;
[[nodiscard]] std::string upgrade_help_text();
// Exit status: 0 upgraded, 1 refused or bad arguments (one line on stderr, via UsageError).
int run_upgrade_command(std::span<const char* const> args);

}  // namespace splicefs::cli
