// Extended attributes, passed through for every namespace the backing fs and the caller's
// rights allow (user., trusted., security., system.posix_acl_*). O_PATH fds cannot take
// f*xattr calls, so they go through /proc/self/fd/N, which names the inode itself.
// The root also answers the reserved, read-only "user.splicefs.stats" with live counters, and
// "trusted.splicefs.read_only" ("0"/"1"), the control `splicefs -o remount` sets: the kernel lets
// only a caller with CAP_SYS_ADMIN near a trusted.* name, and changes none on a read-only mount.
#include <spdlog/spdlog.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "fs/filesystem.hpp"
#include "fs/inflight.hpp"
#include "fs/ops.hpp"

namespace splicefs::fs::ops {

namespace {
constexpr std::string_view kStatsName = "user.splicefs.stats";
constexpr std::string_view kReadOnlyControlName = "trusted.splicefs.read_only";

bool is_stats(fuse_ino_t ino, const char* name) {
    return ino == InodeTable::kRootId && name == kStatsName;
}

bool is_read_only_control(fuse_ino_t ino, const char* name) {
    return ino == InodeTable::kRootId && name == kReadOnlyControlName;
}

int set_read_only_control(Fs& fs, fuse_req_t req, const char* value, std::size_t size) {
    const std::string_view v(value, size);
    if (v != "0" && v != "1") return EINVAL;
    // A caller in another user namespace with CAP_SYS_ADMIN there: not ours to obey.
    if (fuse_req_ctx(req)->uid != 0) return EPERM;
    fs.set_read_only(v == "1");
    spdlog::info("remounted {}", v == "1" ? "read-only" : "read-write");
    fuse_reply_err(req, 0);
    return 0;
}

// --xattr-none / --xattr-ro (bindfs's errnos).
int xattr_policy(const Fs& fs, bool change) {
    switch (fs.config.reshape.xattr) {
        case XattrPolicy::None:
            return EOPNOTSUPP;
        case XattrPolicy::ReadOnly:
            return change ? EACCES : 0;
        case XattrPolicy::ReadWrite:
            return 0;
    }
    return 0;
}

// Answers a size probe (size 0) with the length, otherwise the bytes or ERANGE.
int reply_bytes(fuse_req_t req, const char* data, std::size_t len, std::size_t size) {
    if (size == 0) {
        fuse_reply_xattr(req, len);
    } else if (len > size) {
        return ERANGE;
    } else {
        fuse_reply_buf(req, data, len);
    }
    return 0;
}
}  // namespace

int setxattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, std::size_t size,
             int flags) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    if (is_read_only_control(ino, name)) return set_read_only_control(fs, req, value, size);
    if (fs.reshaping) [[unlikely]] {
        if (const int err = xattr_policy(fs, true); err != 0) return err;
    }
    if (fs.read_only()) return EROFS;
    if (is_stats(ino, name)) return EPERM;
    // Recorded for a resend when XATTR_CREATE (ops_table.cpp): a repeat would answer EEXIST.
    const std::string path = proc_fd_path(inode.fd());
    if (const int err =
            inflight::run([&] { return ::setxattr(path.c_str(), name, value, size, flags); }, EEXIST);
        err != 0)
        return err;
    fuse_reply_err(req, 0);
    return 0;
}

int getxattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, const char* name, std::size_t size) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    if (fs.reshaping) [[unlikely]] {
        if (const int err = xattr_policy(fs, false); err != 0) return err;
    }
    if (is_stats(ino, name)) {
        // Derived when asked for, not kept up to date on every lookup and forget.
        const auto counts = fs.inodes.counts();
        fs.stats.known_inodes.store(static_cast<std::int64_t>(counts.inodes), std::memory_order_relaxed);
        fs.stats.inode_fds.store(static_cast<std::int64_t>(counts.path_fds), std::memory_order_relaxed);
        fs.stats.inode_reopens.store(counts.reopens, std::memory_order_relaxed);
        const std::string json = fs.stats.to_json();
        // The counters grow between a caller's size query and its read (the query itself is
        // counted): room to spare, so that the read does not fail with ERANGE.
        constexpr std::size_t kGrowth = 512;
        if (size == 0) return reply_bytes(req, json.data(), json.size() + kGrowth, 0);
        return reply_bytes(req, json.data(), json.size(), size);
    }
    if (is_read_only_control(ino, name)) return reply_bytes(req, fs.read_only() ? "1" : "0", 1, size);
    const std::string path = proc_fd_path(inode.fd());
    if (size == 0) {
        const ssize_t n = ::getxattr(path.c_str(), name, nullptr, 0);
        if (n < 0) return errno;
        fuse_reply_xattr(req, static_cast<std::size_t>(n));
        return 0;
    }
    std::vector<char> buf(size);
    const ssize_t n = ::getxattr(path.c_str(), name, buf.data(), size);
    if (n < 0) return errno;
    fuse_reply_buf(req, buf.data(), static_cast<std::size_t>(n));
    return 0;
}

int listxattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    if (fs.reshaping) [[unlikely]] {
        if (const int err = xattr_policy(fs, false); err != 0) return err;
    }
    const std::string path = proc_fd_path(inode.fd());
    std::vector<char> names;
    for (;;) {  // the list can grow between the size probe and the read
        const ssize_t want = ::listxattr(path.c_str(), nullptr, 0);
        if (want < 0) return errno;
        names.resize(static_cast<std::size_t>(want));
        const ssize_t got = ::listxattr(path.c_str(), names.data(), names.size());
        if (got >= 0) {
            names.resize(static_cast<std::size_t>(got));
            break;
        }
        if (errno != ERANGE) return errno;
    }
    // The backing fs lists trusted.* to the daemon (root); natively only a caller with
    // CAP_SYS_ADMIN sees them. FUSE passes no capabilities: uid 0 stands for them.
    if (fuse_req_ctx(req)->uid != 0) {
        std::vector<char> visible;
        for (std::size_t at = 0; at < names.size();) {
            const std::string_view name(names.data() + at);
            if (!name.starts_with("trusted."))
                visible.insert(visible.end(), names.data() + at, names.data() + at + name.size() + 1);
            at += name.size() + 1;
        }
        names.swap(visible);
    }
    return reply_bytes(req, names.data(), names.size(), size);
}

int removexattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, const char* name) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    if (fs.reshaping) [[unlikely]] {
        if (const int err = xattr_policy(fs, true); err != 0) return err;
    }
    if (fs.read_only()) return EROFS;
    if (is_stats(ino, name) || is_read_only_control(ino, name)) return EPERM;
    const std::string path = proc_fd_path(inode.fd());
    if (const int err = inflight::run([&] { return ::removexattr(path.c_str(), name); }, ENODATA); err != 0)
        return err;
    fuse_reply_err(req, 0);
    return 0;
}

}  // namespace splicefs::fs::ops
