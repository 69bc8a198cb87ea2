#pragma once
// /proc/self/mountinfo, parsed: enough to tell whether and how splicefs is mounted.
#include <filesystem>
#include <string>
#include <vector>

namespace splicefs::test {

struct MountEntry {
    std::string mountpoint;     // unescaped
    std::string mount_options;  // per-mount options (rw, nosuid, ...)
    std::string fstype;         // e.g. fuse.splicefs
    std::string source;         // unescaped; splicefs puts the backing path here
    std::string super_options;  // e.g. rw,user_id=0,group_id=0,allow_other
};

[[nodiscard]] std::vector<MountEntry> read_mountinfo();
// The entry mounted exactly at `mountpoint` (the last one when stacked).
[[nodiscard]] const MountEntry* find_mount(const std::vector<MountEntry>& entries,
                                           const std::filesystem::path& mountpoint);
// True when `path` is `root` or below it (by path components, not string prefix).
[[nodiscard]] bool is_under(const std::filesystem::path& path, const std::filesystem::path& root);
// True when the comma-separated option list has `word`.
[[nodiscard]] bool has_option(const std::string& options, const std::string& word);

}  // namespace splicefs::test
