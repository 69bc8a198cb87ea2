#pragma once
// The splicefs mounts of this mount namespace, for `splicefs stats` without a MOUNTPOINT.
#include <istream>
#include <string>
#include <vector>

namespace splicefs::cli {

// Mount points of the fuse.splicefs lines of a /proc/PID/mountinfo text, in its order, with
// the kernel's octal escapes (\040 for a space, ...) decoded.
[[nodiscard]] std::vector<std::string> splicefs_mountpoints(std::istream& mountinfo);
// The same for /proc/self/mountinfo (empty when it cannot be read).
[[nodiscard]] std::vector<std::string> splicefs_mountpoints();

}  // namespace splicefs::cli
