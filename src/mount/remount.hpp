#pragma once
// `mount -o remount,ro|rw MOUNTPOINT`: util-linux runs the mount helper again with "remount"
// among the options. Instead of mounting a second time, change the live mount: the kernel's
// read-only flag (mount(2) MS_REMOUNT with the mount's other flags kept) and the running
// daemon's own read-only state, through the control xattr "trusted.splicefs.read_only" on the
// mount root (fs/ops_xattr.cpp). The xattr is synchronous (the daemon has switched when
// setxattr returns) and only a caller with CAP_SYS_ADMIN reaches it.
#include "core/config.hpp"

namespace splicefs::mount {

// Returns 0, or throws ExitError: Mountpoint when MOUNTPOINT is not a live splicefs mount,
// MountFailed when the kernel refuses (the daemon is then set back).
[[nodiscard]] int remount(const Config& config);

}  // namespace splicefs::mount
