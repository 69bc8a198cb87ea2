// Names to inodes and attributes: lookup, forget, getattr, setattr, readlink, access.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "fs/backing_policy.hpp"
#include "fs/credentials.hpp"
#include "fs/entry.hpp"
#include "fs/filesystem.hpp"
#include "fs/ops.hpp"
#include "fs/reshape.hpp"

namespace splicefs::fs::ops {

int lookup(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name) {
    const auto dir = fs.inode(parent);
    if (!dir) return dir.error();
    fuse_entry_param e{};
    const auto since = fs.change_generation();
    const int err = lookup_entry(fs, dir, name, e);
    if (err == ENOENT && fs.entry_timeout > 0 && fs.policy.negative_entries) {
        // A negative entry lets the kernel cache "no such name" like any other entry.
        e = fuse_entry_param{};
        e.entry_timeout = fs.timeouts(e.attr, since).entry;
        fuse_reply_entry(req, &e);
        return 0;
    }
    if (err != 0) return err;
    if (fs.reshaping) [[unlikely]] {
        if (const int rerr = reshape_entry(fs, req, e); rerr != 0) return rerr;
    }
    fuse_reply_entry(req, &e);
    return 0;
}

int forget(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::uint64_t nlookup) {
    fs.forget(ino, nlookup);
    fuse_reply_none(req);
    return 0;
}

int forget_multi(Fs& fs, fuse_req_t req, std::size_t count, fuse_forget_data* forgets) {
    for (std::size_t i = 0; i < count; ++i) fs.forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
    return 0;
}

int getattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    struct stat st {};
    if (const int err = stat_inode(inode, fi, st); err != 0) return err;
    if (S_ISREG(st.st_mode)) inode->told.store(content_stamp(st), std::memory_order_release);
    if (fs.reshaping) [[unlikely]] {
        if (const int err = reshape_attr(fs, req, st); err != 0) return err;
    }
    fuse_reply_attr(req, &st, fs.timeouts(st, fs.change_generation()).attr);
    return 0;
}

namespace {
int set_times(const InodeRef& inode, const struct stat& attr, int to_set, const fuse_file_info* fi) {
    std::array<timespec, 2> tv{};
    tv[0].tv_nsec = UTIME_OMIT;
    tv[1].tv_nsec = UTIME_OMIT;
    if ((to_set & FUSE_SET_ATTR_ATIME_NOW) != 0) {
        tv[0].tv_nsec = UTIME_NOW;
    } else if ((to_set & FUSE_SET_ATTR_ATIME) != 0) {
        tv[0] = attr.st_atim;
    }
    if ((to_set & FUSE_SET_ATTR_MTIME_NOW) != 0) {
        tv[1].tv_nsec = UTIME_NOW;
    } else if ((to_set & FUSE_SET_ATTR_MTIME) != 0) {
        tv[1] = attr.st_mtim;
    }
    int rc = 0;
    if (fi != nullptr) {
        rc = ::futimens(static_cast<int>(fi->fh), tv.data());
    } else {
        // utimensat takes an empty path on the O_PATH fd itself, symlinks included.
        rc = ::utimensat(inode.fd(), "", tv.data(), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    }
    return rc == 0 ? 0 : errno;
}
}  // namespace

int setattr(Fs& fs, fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    if (fs.read_only()) return EROFS;
    const int fd = fi != nullptr ? static_cast<int>(fi->fh) : -1;
    if (fs.reshaping) [[unlikely]] {
        if (const int err = reshape_setattr(fs, req, inode, *attr, to_set); err != 0) return err;
    }

    if ((to_set & FUSE_SET_ATTR_MODE) != 0) {
        const int rc = fd >= 0 ? ::fchmod(fd, attr->st_mode)
                               : ::fchmodat(AT_FDCWD, proc_fd_path(inode.fd()).c_str(), attr->st_mode, 0);
        if (rc != 0) return errno;
    }
    if ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0) {
        const uid_t uid = (to_set & FUSE_SET_ATTR_UID) != 0 ? attr->st_uid : static_cast<uid_t>(-1);
        const gid_t gid = (to_set & FUSE_SET_ATTR_GID) != 0 ? attr->st_gid : static_cast<gid_t>(-1);
        if (::fchownat(inode.fd(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    }
    if ((to_set & FUSE_SET_ATTR_SIZE) != 0) {
        const int rc = fd >= 0 ? ::ftruncate(fd, attr->st_size)
                               : ::truncate(proc_fd_path(inode.fd()).c_str(), attr->st_size);
        if (rc != 0) return errno;
        // FUSE_HANDLE_KILLPRIV_V2: a truncate by a caller without CAP_FSETID drops set-id bits.
        if ((to_set & FUSE_SET_ATTR_KILL_SUID) != 0 && fs.kills_privs.load(std::memory_order_relaxed))
            clear_set_id_bits(req, fd >= 0 ? fd : inode.fd());
    }
    // Times last, so that an explicit mtime is not overwritten by the truncate above.
    if ((to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                   FUSE_SET_ATTR_MTIME_NOW)) != 0) {
        if (const int err = set_times(inode, *attr, to_set, fi); err != 0) return err;
    }
    return getattr(fs, req, ino, fi);
}

int readlink(Fs& fs, fuse_req_t req, fuse_ino_t ino) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    std::array<char, PATH_MAX + 1> buf{};
    const ssize_t n = ::readlinkat(inode.fd(), "", buf.data(), buf.size());
    if (n < 0) return errno;
    if (static_cast<std::size_t>(n) >= buf.size()) return ENAMETOOLONG;
    buf[static_cast<std::size_t>(n)] = '\0';
    fuse_reply_readlink(req, buf.data());
    return 0;
}

int access(Fs& fs, fuse_req_t req, fuse_ino_t ino, int mask) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    if (fs.read_only() && (mask & W_OK) != 0 && inode->type != S_IFCHR && inode->type != S_IFBLK &&
        inode->type != S_IFIFO && inode->type != S_IFSOCK) {
        return EROFS;
    }
    const CallerCredentials creds(fs, req);
    if (creds.error() != 0) return creds.error();
    if (::faccessat(AT_FDCWD, proc_fd_path(inode.fd()).c_str(), mask, AT_EACCESS) != 0) return errno;
    fuse_reply_err(req, 0);
    return 0;
}

}  // namespace splicefs::fs::ops
