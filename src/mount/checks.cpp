#include "mount/checks.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>

#include "core/exit_codes.hpp"
#include "mount/ancestry.hpp"
#include "sys/fd.hpp"

namespace splicefs::mount {
namespace {

std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

std::filesystem::path canonical_or_throw(const std::filesystem::path& p, ExitCode code) {
    std::error_code ec;
    auto out = std::filesystem::canonical(p, ec);
    if (ec) throw ExitError(code, p.string() + ": " + ec.message());
    return out;
}

}  // namespace

void check_backing(Config& config) {
    const auto& p = config.backing;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT)
            throw ExitError(ExitCode::BadArguments, "backing directory " + p.string() + " does not exist");
        throw ExitError(ExitCode::BadArguments, "backing directory " + p.string() + ": " + errno_text(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        throw ExitError(ExitCode::BadArguments, "backing " + p.string() + " is not a directory");
    }
    if (::access(p.c_str(), R_OK | X_OK) != 0) {
        throw ExitError(ExitCode::BadArguments,
                        "backing directory " + p.string() + " is not readable: " + errno_text(errno));
    }
    config.backing = canonical_or_throw(p, ExitCode::BadArguments);
}

bool is_mount_root(const std::filesystem::path& dir) {
    struct statx stx {};
    if (::statx(AT_FDCWD, dir.c_str(), 0, STATX_TYPE, &stx) != 0) return false;
    return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
           (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

// A daemon died and left its mount behind. statfs always asks the (dead) connection; stat
// can be answered from root attributes the kernel still caches (for up to the attr timeout).
bool dead_fuse_mount(const std::filesystem::path& p) {
    struct statfs sfs {};
    struct stat st {};
    return (::statfs(p.c_str(), &sfs) != 0 && errno == ENOTCONN) ||
           (::stat(p.c_str(), &st) != 0 && errno == ENOTCONN);
}

void check_mountpoint(Config& config) {
    const auto& p = config.mountpoint;
    struct stat st {};
    if (dead_fuse_mount(p)) {
        // A daemon died and left its mount behind ("Transport endpoint is not connected").
        if (!config.recover_stale) {
            throw ExitError(ExitCode::Mountpoint, "mountpoint " + p.string() +
                                                      " is a dead FUSE mount (transport endpoint is not "
                                                      "connected); run fusermount3 -u " +
                                                      p.string());
        }
        spdlog::warn("mountpoint {} is a dead FUSE mount; unmounting it lazily", p.string());
        if (::umount2(p.c_str(), MNT_DETACH) != 0) {
            throw ExitError(ExitCode::Mountpoint, "cannot unmount the dead FUSE mount on " + p.string() +
                                                      ": " + errno_text(errno) + "; run fusermount3 -uz " +
                                                      p.string());
        }
    }
    if (::stat(p.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT)
            throw ExitError(ExitCode::Mountpoint, "mountpoint " + p.string() + " does not exist");
        throw ExitError(ExitCode::Mountpoint, "mountpoint " + p.string() + ": " + errno_text(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        throw ExitError(ExitCode::Mountpoint, "mountpoint " + p.string() + " is not a directory");
    }
    config.mountpoint = canonical_or_throw(p, ExitCode::Mountpoint);
    if (is_mount_root(config.mountpoint)) {
        throw ExitError(ExitCode::Mountpoint, "mountpoint " + config.mountpoint.string() +
                                                  " is already a mount point; unmount it first");
    }
}

void check_no_loop(const Config& config) {
    Relation rel{};
    try {
        rel = relate(config.backing, config.mountpoint);
    } catch (const std::system_error& e) {
        throw ExitError(ExitCode::Mountpoint,
                        std::string("cannot check mountpoint against backing: ") + e.what());
    }
    const std::string b = config.backing.string();
    const std::string m = config.mountpoint.string();
    switch (rel) {
        case Relation::Unrelated:
            return;
        case Relation::Same:
            throw ExitError(ExitCode::Mountpoint, "mountpoint " + m + " is the backing directory itself");
        case Relation::MountpointInsideBacking:
            throw ExitError(ExitCode::Mountpoint,
                            "mountpoint " + m + " is inside the backing tree " + b + " (would loop)");
        case Relation::BackingInsideMountpoint:
            throw ExitError(ExitCode::Mountpoint,
                            "mountpoint " + m + " is above the backing directory " + b + " (would hide it)");
    }
}

void check_dev_fuse() {
    sys::UniqueFd fd(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
    if (!fd) {
        const int err = errno;
        throw ExitError(ExitCode::Setup, "cannot open /dev/fuse: " + errno_text(err) +
                                             (err == ENOENT ? " (is the fuse module loaded?)" : ""));
    }
}

void raise_nofile_limit() noexcept {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    if (::geteuid() == 0) {
        rlim_t nr_open = 0;
        std::ifstream in("/proc/sys/fs/nr_open");
        if (in >> nr_open && nr_open > lim.rlim_max) {
            const rlimit wanted{nr_open, nr_open};
            // Needs CAP_SYS_RESOURCE, which root may lack (containers): then keep the hard limit.
            if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0) lim = wanted;
        }
    }
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            spdlog::warn("cannot raise the open-file limit: {}", errno_text(errno));
            return;
        }
    }
    spdlog::debug("open-file limit: {}", static_cast<unsigned long long>(lim.rlim_cur));
}

}  // namespace splicefs::mount
