#pragma once
// Start-up checks, each failing with one clear line and its documented exit code (ExitError).
#include <filesystem>

#include "core/config.hpp"

namespace splicefs::mount {

// BACKING exists, is a readable, searchable directory; canonicalised in place. Exit code 1.
void check_backing(Config& config);

// MOUNTPOINT exists and is a directory that is not mounted on; a dead FUSE mount on it
// (ENOTCONN) is lazily unmounted unless --no-recover-stale. Canonicalised in place. Exit code 2.
void check_mountpoint(Config& config);

// Neither path may be the same as, inside or above the other (by inode ancestry). Exit code 2.
void check_no_loop(const Config& config);

// /dev/fuse can be opened read-write. Exit code 3.
void check_dev_fuse();

// True when `dir` is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
[[nodiscard]] bool is_mount_root(const std::filesystem::path& dir);

// Raises RLIMIT_NOFILE's soft limit to the hard limit (and, as root, the hard limit to
// /proc/sys/fs/nr_open when allowed): the daemon keeps one fd per known inode.
void raise_nofile_limit() noexcept;

}  // namespace splicefs::mount
