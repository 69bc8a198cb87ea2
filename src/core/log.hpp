#pragma once
// Logging set-up: one spdlog logger per mount (named after the mountpoint, so every line says
// which mount it comes from), installed as spdlog's default logger so every layer can use
// spdlog::info() & co. Sinks: stderr (foreground), a file (--log-file), syslog (--syslog).
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/config.hpp"

namespace splicefs::log {

// The level names --log-level accepts, in increasing severity.
inline constexpr std::string_view kLevelNames[] = {"trace", "debug",    "info", "warn",
                                                   "error", "critical", "off"};

// Exact (lower-case) names only: spdlog's own from_str() maps typos to "off".
[[nodiscard]] std::optional<spdlog::level::level_enum> parse_level(std::string_view name) noexcept;

// The level in effect for a configuration (--debug lowers it to at least debug).
[[nodiscard]] spdlog::level::level_enum effective_level(const Config& config) noexcept;

// Installs the mount's logger as the default one. Throws ExitError(BadArguments) when the
// log file cannot be opened. Without -f, stderr only carries warnings and errors until the
// daemon detaches (its stderr then is /dev/null), so a background mount stays quiet.
void init(const Config& config);

// Cheap check for hot paths: one atomic load and compare.
[[nodiscard]] inline bool debug_enabled() noexcept {
    return spdlog::should_log(spdlog::level::debug);
}

// Flushes every sink (called at exit).
void flush() noexcept;

}  // namespace splicefs::log
