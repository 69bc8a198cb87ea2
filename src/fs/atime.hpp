#pragma once
// The mount's atime words for the daemon's own reads of the backing tree. FUSE inodes never
// update atime in the kernel (S_NOATIME): a backing file's atime moves only when the daemon
// reads it, under the backing mount's policy. noatime (files and directories) and nodiratime
// (directories) therefore open the backing file with O_NOATIME; relatime leaves it to the
// backing mount (relatime on Debian); strictatime cannot be imposed on the backing mount
// (tests/KNOWN_DIFFERENCES.md, KD-ATIME).
#include <fcntl.h>

#include <cerrno>

#include "core/config.hpp"

namespace splicefs::fs {

[[nodiscard]] inline int noatime_flag(const Config& config, bool directory) noexcept {
    const bool off = config.atime == AtimeMode::Noatime || (directory && config.nodiratime);
    return off ? O_NOATIME : 0;
}

// open_fn(extra_flags) -> fd or -1. O_NOATIME needs the file's owner or CAP_FOWNER (EPERM
// otherwise): a daemon without them opens the file as before.
template <typename OpenFn>
[[nodiscard]] int open_with_atime_policy(const Config& config, bool directory, OpenFn&& open_fn) {
    const int extra = noatime_flag(config, directory);
    int fd = open_fn(extra);
    if (fd < 0 && errno == EPERM && extra != 0) fd = open_fn(0);
    return fd;
}

}  // namespace splicefs::fs
