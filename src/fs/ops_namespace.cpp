// Creating, linking, renaming and removing names. Objects are created as the caller (see
// credentials.hpp), so ownership and setgid-directory inheritance match the backing fs.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fs/credentials.hpp"
#include "fs/entry.hpp"
#include "fs/filesystem.hpp"
#include "fs/inflight.hpp"
#include "fs/ops.hpp"
#include "fs/reshape.hpp"

namespace splicefs::fs::ops {

namespace {
// Runs make(dirfd, mode) as the caller (or as reshaping says), then answers with the new entry.
// `mode` carries the type bits.
template <typename Make>
int create_node(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, Make make,
                CallerCredentials::Umask umask = CallerCredentials::Umask::Caller) {
    const auto dir = fs.inode(parent);
    if (!dir) return dir.error();
    if (fs.read_only()) return EROFS;
    {
        Creation creation{0, {}, mode};
        if (fs.reshaping) [[unlikely]] {
            creation = reshape_creation(fs, req, mode);
            if (creation.error != 0) return creation.error;
        }
        const CallerCredentials creds(fs, req, umask, fs.reshaping ? &creation.as : nullptr);
        if (creds.error() != 0) return creds.error();
        // A resend after a failover finds what its first delivery made (inflight.hpp).
        if (const int err = inflight::run([&] { return make(dir.fd(), creation.mode); }, EEXIST); err != 0)
            return err;
    }
    fuse_entry_param e{};
    if (const int err = lookup_entry(fs, dir, name, e); err != 0) return err;
    if (fs.reshaping) [[unlikely]] {
        if (const int err = reshape_entry(fs, req, e); err != 0) return err;
    }
    fuse_reply_entry(req, &e);
    return 0;
}
}  // namespace

int mknod(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    return create_node(fs, req, parent, name, mode,
                       [&](int dirfd, mode_t m) { return ::mknodat(dirfd, name, m, rdev); });
}

int mkdir(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    return create_node(fs, req, parent, name, mode | S_IFDIR,
                       [&](int dirfd, mode_t m) { return ::mkdirat(dirfd, name, m & 07777); });
}

int symlink(Fs& fs, fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
    return create_node(
        fs, req, parent, name, S_IFLNK | 0777,
        [&](int dirfd, mode_t) { return ::symlinkat(link, dirfd, name); },
        CallerCredentials::Umask::Keep);  // symlinks are always 0777
}

int link(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
    const auto inode = fs.inode(ino);
    const auto dir = fs.inode(newparent);
    if (!inode) return inode.error();
    if (!dir) return dir.error();
    if (fs.read_only()) return EROFS;
    // linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link does not.
    if (const int err = inflight::run(
            [&] {
                return ::linkat(AT_FDCWD, proc_fd_path(inode.fd()).c_str(), dir.fd(), newname,
                                AT_SYMLINK_FOLLOW);
            },
            EEXIST);
        err != 0)
        return err;
    fuse_entry_param e{};
    if (const int err = lookup_entry(fs, dir, newname, e); err != 0) return err;
    if (fs.reshaping) [[unlikely]] {
        if (const int err = reshape_entry(fs, req, e); err != 0) return err;
    }
    fuse_reply_entry(req, &e);
    return 0;
}

int unlink(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name) {
    const auto dir = fs.inode(parent);
    if (!dir) return dir.error();
    if (fs.read_only()) return EROFS;
    if (fs.reshaping && fs.config.reshape.delete_deny) [[unlikely]]
        return EPERM;
    if (const int err = inflight::run([&] { return ::unlinkat(dir.fd(), name, 0); }, ENOENT); err != 0)
        return err;
    fuse_reply_err(req, 0);
    return 0;
}

int rmdir(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name) {
    const auto dir = fs.inode(parent);
    if (!dir) return dir.error();
    if (fs.read_only()) return EROFS;
    if (fs.reshaping && fs.config.reshape.delete_deny) [[unlikely]]
        return EPERM;
    if (const int err = inflight::run([&] { return ::unlinkat(dir.fd(), name, AT_REMOVEDIR); }, ENOENT);
        err != 0)
        return err;
    fuse_reply_err(req, 0);
    return 0;
}

int rename(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
           const char* newname, unsigned int flags) {
    const auto from = fs.inode(parent);
    const auto to = fs.inode(newparent);
    if (!from) return from.error();
    if (!to) return to.error();
    if (fs.read_only()) return EROFS;
    if (fs.reshaping && fs.config.reshape.rename_deny) [[unlikely]]
        return EPERM;
    // A repeated rename finds no source (ENOENT). RENAME_EXCHANGE repeated would swap back: a
    // resend whose record says done skips it; one that says started is the window.
    if (const int err =
            inflight::run([&] { return ::renameat2(from.fd(), name, to.fd(), newname, flags); }, ENOENT);
        err != 0)
        return err;
    fuse_reply_err(req, 0);
    return 0;
}

}  // namespace splicefs::fs::ops
