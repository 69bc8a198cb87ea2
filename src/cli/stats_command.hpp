#pragma once
// `splicefs stats [--format=table|json|prometheus] [MOUNTPOINT]`: reads the live counters a
// running splicefs serves as the read-only virtual xattr `user.splicefs.stats` on its mount
// root (JSON, see core/stats.hpp to_json()) and prints them as a table, raw (--json), or in
// the Prometheus text format (stats_prometheus.hpp; all mounts when none is named).
#include <span>
#include <string>
#include <string_view>

namespace splicefs::cli {

inline constexpr std::string_view kStatsCommand = "stats";
inline constexpr const char* kStatsXattr = "user.splicefs.stats";

// True when the first argument is the `stats` subcommand. A backing directory that is really
// called "stats" must then be given as ./stats.
[[nodiscard]] bool is_stats_command(std::span<const char* const> args) noexcept;

// Runs `splicefs stats ...` (args as main's argv) and returns the exit code. Bad usage and
// a MOUNTPOINT that is not a live splicefs mount throw UsageError (exit 1, one line).
[[nodiscard]] int run_stats_command(std::span<const char* const> args);

// The JSON text of the counters of the splicefs mounted on `mountpoint` (getxattr(2)).
// Throws UsageError with a one-line reason when it is not a splicefs mount.
[[nodiscard]] std::string read_stats_json(const std::string& mountpoint);

// The human table for a counters JSON document. Throws std::invalid_argument when `json` is
// not a splicefs counters object.
[[nodiscard]] std::string format_stats_table(std::string_view json);

[[nodiscard]] std::string stats_help_text();

}  // namespace splicefs::cli
