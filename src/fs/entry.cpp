#include "fs/entry.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "fs/filesystem.hpp"

namespace splicefs::fs {

namespace {
// `since`: Fs::change_generation() before the backing tree was looked at.
void fill_entry(Fs& fs, fuse_ino_t id, const struct stat& st, std::uint64_t since, fuse_entry_param& e) {
    // A directory the kernel learns about is watched before the kernel can cache its names.
    if (fs.watch && S_ISDIR(st.st_mode)) fs.watch->watch(id);
    e = fuse_entry_param{};
    e.ino = id;
    e.attr = st;
    const auto t = fs.timeouts(st, since);
    e.attr_timeout = t.attr;
    e.entry_timeout = t.entry;
}

int remember_fd(Fs& fs, sys::UniqueFd fd, std::uint64_t since, fuse_entry_param& e, const char* name) {
    struct stat st {};
    if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    if (st.st_dev != fs.root_dev) {
        fs.warn_submount_once(name);
        return EXDEV;
    }
    fill_entry(fs, fs.inodes.remember(std::move(fd), st), st, since, e);
    return 0;
}
}  // namespace

int lookup_entry(Fs& fs, const Inode& parent, int parent_fd, const char* name, fuse_entry_param& e) {
    // The kernel never sends names with '/', and resolves "." and ".." itself; refusing them
    // here keeps any lookup from leaving the backing tree whatever the kernel does.
    if (std::strchr(name, '/') != nullptr) return EINVAL;
    if (std::strcmp(name, "..") == 0 && parent.ino == fs.root_ino && parent.dev == fs.root_dev) name = ".";
    const auto since = fs.change_generation();
    if (fs.inodes.evicts()) {
        // Inodes can be reopened from their handle: stat the name, count a known inode (one
        // syscall) or record a new one by its handle, opened on first use (two). bindfs-like
        // cost for a stat of a name; the O_PATH open waits until a request needs the inode.
        struct stat st {};
        if (::fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
        if (st.st_dev != fs.root_dev) {
            fs.warn_submount_once(name);
            return EXDEV;
        }
        if (const auto id = fs.inodes.count_if_open(st)) {
            fill_entry(fs, *id, st, since, e);
            return 0;
        }
        // The handle must name the inode just stat'ed: not so when the name was replaced
        // in between, or when the handle type does not tell (then open it, as below).
        if (auto handle = handle_at(parent_fd, name); handle_names(handle, st.st_ino)) {
            fill_entry(fs, fs.inodes.remember_handle(std::move(handle), st), st, since, e);
            return 0;
        }
    }
    sys::UniqueFd fd{::openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)};
    if (!fd) return errno;
    return remember_fd(fs, std::move(fd), since, e, name);
}

int lookup_listed(Fs& fs, const Inode& parent, int parent_fd, const char* name, ino_t listed_ino,
                  fuse_entry_param& e) {
    if (fs.inodes.knows_open(fs.root_dev, listed_ino) && std::strchr(name, '/') == nullptr) {
        const auto since = fs.change_generation();
        struct stat st {};
        // The name may point elsewhere since readdir: then the inode numbers differ.
        if (::fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == fs.root_dev &&
            st.st_ino == listed_ino) {
            if (const auto id = fs.inodes.count_if_open(st)) {
                fill_entry(fs, *id, st, since, e);
                return 0;
            }
        }
    }
    return lookup_entry(fs, parent, parent_fd, name, e);
}

int entry_from_fd(Fs& fs, int fd, fuse_entry_param& e) {
    const auto since = fs.change_generation();
    if (fs.inodes.evicts()) {
        // As a lookup does: stat and record the handle (two syscalls), the O_PATH open waits
        // for a request that needs it (a create + close never does).
        struct stat st {};
        if (::fstat(fd, &st) != 0) return errno;
        if (st.st_dev != fs.root_dev) return EXDEV;
        if (auto handle = handle_at(fd, ""); !handle.empty()) {
            fill_entry(fs, fs.inodes.remember_handle(std::move(handle), st), st, since, e);
            return 0;
        }
    }
    // Reopening through /proc follows the magic link to the file itself: an O_PATH fd that
    // does not hold the file open for writing (which would make exec() fail with ETXTBSY).
    sys::UniqueFd path_fd{::open(proc_fd_path(fd).c_str(), O_PATH | O_CLOEXEC)};
    if (!path_fd) return errno;
    return remember_fd(fs, std::move(path_fd), since, e, "");
}

int stat_inode(const InodeRef& inode, const fuse_file_info* fi, struct stat& st) {
    const int rc = fi != nullptr ? ::fstat(static_cast<int>(fi->fh), &st)
                                 : ::fstatat(inode.fd(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    return rc == 0 ? 0 : errno;
}

}  // namespace splicefs::fs
