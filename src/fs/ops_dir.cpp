// Directory handles and listings. Listings report the backing inode numbers, so hard links
// and `ls -i` look the same through the mount as on the backing directory. A handle is the
// directory's fd (dir_cursors.hpp): it survives a worker, the listing state is rebuilt.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "fs/atime.hpp"
#include "fs/dir_cursors.hpp"
#include "fs/entry.hpp"
#include "fs/filesystem.hpp"
#include "fs/inflight.hpp"
#include "fs/ops.hpp"
#include "fs/reshape.hpp"

namespace splicefs::fs {

std::shared_ptr<DirCursor> DirCursors::get(int fd, const std::shared_ptr<Inode>& dir) {
    {
        const std::lock_guard lock(mu_);
        if (const auto it = by_fd_.find(fd); it != by_fd_.end()) return it->second;
    }
    // First use in this worker. The DIR reads through a duplicate: the handle fd itself stays
    // the kernel's until RELEASEDIR, whatever becomes of this worker's memory.
    const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return nullptr;
    auto cursor = std::make_shared<DirCursor>();
    cursor->dp.reset(::fdopendir(dup));
    if (!cursor->dp) {
        const int err = errno;
        ::close(dup);
        errno = err;
        return nullptr;
    }
    cursor->dir = dir;
    const std::lock_guard lock(mu_);
    return by_fd_.try_emplace(fd, std::move(cursor)).first->second;  // another thread may have won
}

bool DirCursors::erase(int fd) {
    std::shared_ptr<DirCursor> gone;  // closed after the lock
    const std::lock_guard lock(mu_);
    const auto it = by_fd_.find(fd);
    if (it == by_fd_.end()) return false;
    gone = std::move(it->second);
    by_fd_.erase(it);
    return true;
}

namespace ops {

namespace {
// A listed name whose inode the kernel already holds, while the backing watch pushes every
// outside change to it: its cached entry and attributes are right, so the listing sends it
// with node id 0 (no stat, no handle), which the kernel takes as "nothing new".
bool kernel_kept_fresh(const Fs& fs, ino_t listed_ino) {
    return fs.watch && fs.watch->covers() && fs.inodes.knows(fs.root_dev, listed_ino);
}

bool is_dot_or_dotdot(const char* name) {
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int handle_fd(const fuse_file_info* fi) {
    return static_cast<int>(fi->fh);
}
}  // namespace

int fill_listing(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off,
                 const fuse_file_info* fi, bool plus, std::vector<char>& buf) {
    const auto cursor = fs.dir_cursors.get(handle_fd(fi), plus ? fs.inodes.find_inode(ino) : nullptr);
    if (!cursor) return errno;
    auto& d = *cursor;
    if (plus && !d.dir) {
        d.dir = fs.inodes.find_inode(ino);  // first listed by READDIR, now READDIRPLUS
        if (!d.dir) return ESTALE;
    }
    buf.resize(size);
    std::size_t used = 0;
    // The reply goes out after the lock is released (the caller sends it).
    const std::lock_guard lock(d.mu);
    if (off != d.offset) {
        ::seekdir(d.dp.get(), off);
        d.pending = nullptr;
        d.offset = off;
    }
    for (;;) {
        if (d.pending == nullptr) {
            errno = 0;
            // readdir's buffer is per DIR*; this one belongs to one handle and d.mu is held.
            d.pending = ::readdir(d.dp.get());  // NOLINT(concurrency-mt-unsafe)
            if (d.pending == nullptr) {
                if (errno != 0 && used == 0) return errno;  // unlocks; the boundary replies
                break;
            }
        }
        const dirent* ent = d.pending;
        const off_t next = ent->d_off;
        std::size_t entsize = 0;
        if (plus) {
            fuse_entry_param e{};
            bool looked_up = false;
            if (!is_dot_or_dotdot(ent->d_name) && !kernel_kept_fresh(fs, ent->d_ino)) {
                looked_up = lookup_listed(fs, *d.dir, ::dirfd(d.dp.get()), ent->d_name, ent->d_ino, e) == 0;
                if (looked_up && fs.reshaping) [[unlikely]]
                    looked_up = reshape_entry(fs, req, e) == 0;
            }
            if (!looked_up) {
                // Still listed; the kernel links entries with node id 0 to nothing.
                e = fuse_entry_param{};
                e.attr.st_ino = ent->d_ino;
                e.attr.st_mode = static_cast<mode_t>(DTTOIF(ent->d_type));
            }
            entsize = fuse_add_direntry_plus(req, buf.data() + used, size - used, ent->d_name, &e, next);
            if (entsize > size - used) {
                if (looked_up) fs.forget(e.ino, 1);  // the kernel never saw this entry
                break;
            }
        } else {
            struct stat st {};
            st.st_ino = ent->d_ino;
            st.st_mode = static_cast<mode_t>(DTTOIF(ent->d_type));
            entsize = fuse_add_direntry(req, buf.data() + used, size - used, ent->d_name, &st, next);
            if (entsize > size - used) break;
        }
        used += entsize;
        d.pending = nullptr;
        d.offset = next;
    }
    buf.resize(used);
    return 0;
}

namespace {
int list(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off, fuse_file_info* fi, bool plus) {
    std::vector<char> buf;
    if (const int err = fill_listing(fs, req, ino, size, off, fi, plus, buf); err != 0) return err;
    fuse_reply_buf(req, buf.data(), buf.size());
    return 0;
}
}  // namespace

int opendir(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    sys::UniqueFd fd{open_with_atime_policy(fs.config, true, [&](int extra) {
        return ::openat(inode.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | extra);
    })};
    if (!fd) return errno;
    fi->fh = static_cast<std::uint64_t>(fd.get());
    fs.stats.open_dirs.fetch_add(1, std::memory_order_relaxed);
    inflight::note_handle(fd.get(), survival::FdKind::Dir, ino);  // for a resend (inflight.hpp)
    fs.own_handle_fd(fd.get(), ino, true);  // before the kernel has it: it must outlive us
    if (fuse_reply_open(req, fi) != 0) {
        // The kernel never got the handle (the caller was interrupted): release it here.
        fs.drop_handle_fd(fd.get());
        fs.stats.open_dirs.fetch_sub(1, std::memory_order_relaxed);
        return 0;  // fd closes here
    }
    fd.release();  // the kernel's until RELEASEDIR
    return 0;
}

int readdir(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off, fuse_file_info* fi) {
    return list(fs, req, ino, size, off, fi, false);
}

int readdirplus(Fs& fs, fuse_req_t req, fuse_ino_t ino, std::size_t size, off_t off, fuse_file_info* fi) {
    return list(fs, req, ino, size, off, fi, true);
}

int releasedir(Fs& fs, fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
    const int fd = handle_fd(fi);
    fs.drop_handle_fd(fd);  // before the close
    fs.dir_cursors.erase(fd);
    ::close(fd);
    fs.stats.open_dirs.fetch_sub(1, std::memory_order_relaxed);
    fuse_reply_err(req, 0);
    return 0;
}

int fsyncdir(Fs& /*fs*/, fuse_req_t req, fuse_ino_t /*ino*/, int datasync, fuse_file_info* fi) {
    const int fd = handle_fd(fi);
    if ((datasync != 0 ? ::fdatasync(fd) : ::fsync(fd)) != 0) return errno;
    fuse_reply_err(req, 0);
    return 0;
}

}  // namespace ops
}  // namespace splicefs::fs
