#include "mount/remount.hpp"

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <system_error>

#include "core/exit_codes.hpp"

namespace splicefs::mount {
namespace {

constexpr const char* kControl = "trusted.splicefs.read_only";

std::string why(int err) {
    return std::generic_category().message(err);
}

// The daemon's read-only state, or -errno (ENODATA/ENOTSUP: not a splicefs mount root).
int daemon_read_only(const std::string& mnt) {
    std::array<char, 2> v{};
    const ssize_t n = ::getxattr(mnt.c_str(), kControl, v.data(), v.size());
    if (n != 1) return n < 0 ? -errno : -EINVAL;
    return v[0] == '1' ? 1 : 0;
}

void set_daemon_read_only(const std::string& mnt, bool on) {
    if (::setxattr(mnt.c_str(), kControl, on ? "1" : "0", 1, 0) != 0) {
        throw ExitError(ExitCode::MountFailed, "remount: the daemon of " + mnt + " refused to switch to " +
                                                   (on ? "read-only" : "read-write") + ": " + why(errno));
    }
}

// The flags the mount has now (statvfs), as mount(2) takes them, with `ro` set or cleared:
// MS_REMOUNT replaces every per-mount flag, so the ones not asked about must be repeated.
unsigned long remount_flags(const std::string& mnt, bool ro) {
    struct statvfs st {};
    if (::statvfs(mnt.c_str(), &st) != 0) {
        throw ExitError(ExitCode::Mountpoint, "remount: " + mnt + ": " + why(errno));
    }
    struct Pair {
        unsigned long st;
        unsigned long ms;
    };
    static constexpr std::array<Pair, 7> kKept{{{ST_NOSUID, MS_NOSUID},
                                                {ST_NODEV, MS_NODEV},
                                                {ST_NOEXEC, MS_NOEXEC},
                                                {ST_SYNCHRONOUS, MS_SYNCHRONOUS},
                                                {ST_NOATIME, MS_NOATIME},
                                                {ST_NODIRATIME, MS_NODIRATIME},
                                                {ST_RELATIME, MS_RELATIME}}};
    unsigned long flags = MS_REMOUNT;
    for (const auto& k : kKept) {
        if ((st.f_flag & k.st) != 0) flags |= k.ms;
    }
    // Neither noatime nor relatime: the mount is strictatime (the kernel would default to relatime).
    if ((st.f_flag & (ST_NOATIME | ST_RELATIME)) == 0) flags |= MS_STRICTATIME;
    if (ro) flags |= MS_RDONLY;
    return flags;
}

void kernel_remount(const std::string& mnt, unsigned long flags) {
    // No data string: FUSE ignores options on a legacy remount.
    if (::mount(nullptr, mnt.c_str(), nullptr, flags, nullptr) != 0) {
        throw ExitError(ExitCode::MountFailed, "remount of " + mnt + " refused by the kernel: " + why(errno));
    }
}

}  // namespace

int remount(const Config& config) {
    const std::string mnt = config.mountpoint.string();
    if (::geteuid() != 0) throw ExitError(ExitCode::MountFailed, "remount of " + mnt + " needs root");
    const int was = daemon_read_only(mnt);
    if (was < 0) {
        throw ExitError(ExitCode::Mountpoint,
                        "remount: " + mnt + " is not the root of a live splicefs mount (" + why(-was) + ")");
    }
    const bool ro = config.read_only;
    const unsigned long flags = remount_flags(mnt, ro);
    if (ro) {
        // The daemon first: a read-only mount no longer lets the control xattr through.
        set_daemon_read_only(mnt, true);
        try {
            kernel_remount(mnt, flags);
        } catch (const ExitError&) {
            if (was == 0) (void)::setxattr(mnt.c_str(), kControl, "0", 1, 0);
            throw;
        }
    } else {
        kernel_remount(mnt, flags);
        set_daemon_read_only(mnt, false);
    }
    return to_int(ExitCode::Ok);
}

}  // namespace splicefs::mount
