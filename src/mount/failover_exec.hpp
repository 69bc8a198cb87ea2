#pragma once
// The live upgrade's process work: which binary is "the one now on disk", what it says its
// handoff version is, and the exec that hands it the mount's fds.
#include <filesystem>
#include <string>
#include <vector>

namespace splicefs::mount {

// The path this process was started from (read at start: after a package upgrade
// /proc/self/exe names the replaced file, "... (deleted)").
[[nodiscard]] std::filesystem::path current_executable();

// This process's argv (from /proc/self/cmdline), without its program name.
[[nodiscard]] std::vector<std::string> own_arguments();

// Runs `exe --handoff-version` (10 s at most) and returns its first line in `version`.
bool handoff_version_of(const std::filesystem::path& exe, std::string& version, std::string& err);

// Clears FD_CLOEXEC on `keep`, goes back to `dir` (relative paths in `args`) and execs exe with
// `args` (any earlier --resume dropped) plus `resume`. Returns only on failure, with the reason.
[[nodiscard]] std::string exec_with_fds(const std::filesystem::path& exe,
                                        const std::vector<std::string>& args, const std::string& resume,
                                        const std::vector<int>& keep, const std::filesystem::path& dir);

}  // namespace splicefs::mount
