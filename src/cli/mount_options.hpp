#pragma once
// The -o translator: fstab and mount.fuse3 can only pass `-o a,b=c` lists, so every long
// option is also an -o word; fstab-only words are dropped; the rest goes to libfuse.
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace splicefs::cli {

// Splits "a,b=c" into words. "\," is a literal comma and "\\" a backslash (as libfuse reads
// them). Throws UsageError on an empty list or an empty word ("a,,b", "a,").
[[nodiscard]] std::vector<std::string> split_option_list(std::string_view list);

// Words meaningful only to mount(8)/fstab/systemd, accepted and ignored.
[[nodiscard]] bool is_fstab_only_word(std::string_view word) noexcept;

// The VFS mount-flag words (dev, suid, exec, the atime words, remount and their no- forms):
// true when `key` is one of them and was applied.
bool apply_mount_flag_word(Config& config, std::string_view key);

// Applies one word to the config (ours), drops it (fstab), or appends it to
// config.fuse_options (libfuse's). Throws UsageError when malformed.
void apply_option_word(Config& config, std::string_view word);

// split_option_list + apply_option_word for each word, in order (later words win).
void apply_option_list(Config& config, std::string_view list);

}  // namespace splicefs::cli
