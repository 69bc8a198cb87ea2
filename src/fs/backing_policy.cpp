#include "fs/backing_policy.hpp"

#include <linux/magic.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "fs/filesystem.hpp"

namespace splicefs::fs {

namespace {

struct KnownType {
    std::int64_t magic;
    const char* name;
};

// Local filesystems: every change to them is made through this kernel, so fanotify sees it.
// overlayfs is the container case (its layers are changed through the overlay only); it has
// no openable file handles by default, which the watch itself then reports.
constexpr std::array kLocalTypes{
    KnownType{EXT4_SUPER_MAGIC, "ext2/3/4"},
    KnownType{XFS_SUPER_MAGIC, "xfs"},
    KnownType{BTRFS_SUPER_MAGIC, "btrfs"},
    KnownType{TMPFS_MAGIC, "tmpfs"},
    KnownType{RAMFS_MAGIC, "ramfs"},
    KnownType{F2FS_SUPER_MAGIC, "f2fs"},
    KnownType{NILFS_SUPER_MAGIC, "nilfs2"},
    KnownType{REISERFS_SUPER_MAGIC, "reiserfs"},
    KnownType{0x3153464a, "jfs"},
    KnownType{0xca451a4e, "bcachefs"},
    KnownType{OVERLAYFS_SUPER_MAGIC, "overlay"},
};

// Characters the stats document carries unescaped.
std::string sanitized(std::string s) {
    for (char& c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-' || c == '/';
        if (!ok) c = '_';
    }
    return s;
}

// The filesystem type mountinfo gives the mount holding dev ("fuse.glusterfs" says more
// than the FUSE magic); empty when not found.
std::string mountinfo_type(dev_t dev) {
    std::ifstream in("/proc/self/mountinfo");
    const std::string want = std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, parent, devno;
        fields >> id >> parent >> devno;
        if (devno != want) continue;
        const auto sep = line.find(" - ");
        if (sep == std::string::npos) continue;
        std::istringstream rest(line.substr(sep + 3));
        std::string type;
        rest >> type;
        return type;
    }
    return {};
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
    // splitmix64 finaliser over the running value: a digest, not a cryptographic hash.
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
}

}  // namespace

bool is_local_fs_type(std::int64_t f_type) noexcept {
    for (const auto& t : kLocalTypes) {
        if (t.magic == f_type) return true;
    }
    return false;
}

BackingPolicy decide_backing_policy(const Config& config, int root_fd) {
    BackingPolicy p;
    struct statfs sfs {};
    struct stat st {};
    const bool known = ::fstatfs(root_fd, &sfs) == 0;
    if (::fstat(root_fd, &st) == 0) p.fs_type = sanitized(mountinfo_type(st.st_dev));
    if (p.fs_type.empty()) {
        char hex[32];
        // "0x" + at most 16 hex digits always fits: the result cannot be truncated.
        (void)std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(sfs.f_type));
        p.fs_type = known ? hex : "unknown";
    }
    p.local = known && is_local_fs_type(static_cast<std::int64_t>(sfs.f_type));
    const std::string root = proc_fd_path(root_fd);
    p.posix_acls =
        !(::getxattr(root.c_str(), "system.posix_acl_access", nullptr, 0) < 0 && errno == EOPNOTSUPP);
    p.negative_entries = p.local;

    if (!config.watch_allowed()) {
        p.reason = config.watch == WatchMode::Off ? "--watch=off"
                   : config.cache != CacheMode::Auto
                       ? "--cache is not auto"
                       : "off with --attr-timeout/--entry-timeout, --writeback-cache or kernel passthrough";
        return p;
    }
    if (config.watch == WatchMode::On) {
        p.watch = true;
        p.negative_entries = true;  // the user says every change is seen
        p.reason =
            p.local ? "local filesystem" : "forced by --watch=on on a filesystem not known to be local";
        return p;
    }
    p.watch = p.local;
    p.reason = p.local ? "local filesystem"
                       : "not a local filesystem: changes made by its other clients reach no watch, so "
                         "names and attributes expire after 1 s (--watch=on forces the watch)";
    return p;
}

std::uint64_t content_stamp(const struct stat& st) noexcept {
    std::uint64_t h = mix(0, static_cast<std::uint64_t>(st.st_size));
    h = mix(h, static_cast<std::uint64_t>(st.st_mtim.tv_sec));
    h = mix(h, static_cast<std::uint64_t>(st.st_mtim.tv_nsec));
    h = mix(h, static_cast<std::uint64_t>(st.st_ctim.tv_sec));
    h = mix(h, static_cast<std::uint64_t>(st.st_ctim.tv_nsec));
    return h == 0 ? 1 : h;
}

bool open_keeps_cache(Fs& fs, fuse_ino_t ino, Inode& inode, int fd) {
    const Config& c = fs.config;
    if (c.cache == CacheMode::Never) return false;
    // --cache=always and writeback caching declare the mount the backing tree's only writer.
    if (c.cache == CacheMode::Always || c.writeback_cache) return true;
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;  // cannot tell: read afresh
    const auto now = content_stamp(st);
    const auto told = inode.told.exchange(now, std::memory_order_acq_rel);
    if (told == now) return true;
    // The kernel's attributes are stale too (its size bounds what a read returns): drop them,
    // so the next read or stat asks again. Attributes only: dropping pages from this thread
    // could wait on a page locked by a READ that only this thread would answer.
    if (fs.session != nullptr) (void)fuse_lowlevel_notify_inval_inode(fs.session, ino, -1, 0);
    fs.stats.changed_opens.fetch_add(1, std::memory_order_relaxed);
    return false;
}

void note_written(Inode& inode, int fd) noexcept {
    struct stat st {};
    if (::fstat(fd, &st) == 0) inode.told.store(content_stamp(st), std::memory_order_release);
}

}  // namespace splicefs::fs
