// Directory handles and listings. Listings report the backing inode numbers, so hard links
// and `ls -i` look the same through the mount as on the backing directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "fs/atime.hpp"
#include "fs/entry.hpp"
#include "fs/filesystem.hpp"
#include "fs/handle_box.hpp"
#include "fs/ops.hpp"
#include "fs/reshape.hpp"

namespace splicefs::fs::ops {

namespace {
struct DirCloser {
    void operator()(DIR* dp) const noexcept { ::closedir(dp); }
};

struct DirHandle {
    std::unique_ptr<DIR, DirCloser> dp;
    std::shared_ptr<Inode> dir;  // readdirplus looks entries up in it, through dp's fd
    std::mutex mu;               // one listing cursor per handle
    off_t offset = 0;            // the offset the cursor is at
    dirent* pending = nullptr;   // read but not yet returned (did not fit the last reply)
};

// A listed name whose inode the kernel already holds, while the backing watch pushes every
// outside change to it: its cached entry and attributes are right, so the listing sends it
// with node id 0 (no stat, no handle), which the kernel takes as "nothing new".
bool kernel_kept_fresh(const Fs& fs, ino_t listed_ino) {
    return fs.watch && fs.watch->covers() && fs.inodes.knows(fs.root_dev, listed_ino);
}

bool is_dot_or_dotdot(const char* name) {
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int list(Fs& fs, fuse_req_t req, std::size_t size, off_t off, fuse_file_info* fi, bool plus) {
    auto& d = handle<DirHandle>(fi);
    std::vector<char> buf(size);
    std::size_t used = 0;
    // The reply goes out after the lock is released: once the kernel has it, a RELEASEDIR
    // on another worker may free the handle (and its mutex).
    std::unique_lock lock(d.mu);
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
    lock.unlock();
    fuse_reply_buf(req, buf.data(), used);
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
    auto d = std::make_unique<DirHandle>();
    d->dp.reset(::fdopendir(fd.get()));
    if (!d->dp) return errno;
    fd.release();  // the DIR owns it now
    d->dir = inode.shared();
    put_handle(fi, std::move(d));
    fs.stats.open_dirs.fetch_add(1, std::memory_order_relaxed);
    if (fuse_reply_open(req, fi) != 0) {
        // The kernel never got the handle (the caller was interrupted): release it here.
        const auto dropped = take_handle<DirHandle>(fi);
        fs.stats.open_dirs.fetch_sub(1, std::memory_order_relaxed);
    }
    return 0;
}

int readdir(Fs& fs, fuse_req_t req, fuse_ino_t /*ino*/, std::size_t size, off_t off, fuse_file_info* fi) {
    return list(fs, req, size, off, fi, false);
}

int readdirplus(Fs& fs, fuse_req_t req, fuse_ino_t /*ino*/, std::size_t size, off_t off, fuse_file_info* fi) {
    return list(fs, req, size, off, fi, true);
}

int releasedir(Fs& fs, fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
    const auto closed = take_handle<DirHandle>(fi);  // closes the DIR
    fs.stats.open_dirs.fetch_sub(1, std::memory_order_relaxed);
    fuse_reply_err(req, 0);
    return 0;
}

int fsyncdir(Fs& /*fs*/, fuse_req_t req, fuse_ino_t /*ino*/, int datasync, fuse_file_info* fi) {
    const int fd = ::dirfd(handle<DirHandle>(fi).dp.get());
    if ((datasync != 0 ? ::fdatasync(fd) : ::fsync(fd)) != 0) return errno;
    fuse_reply_err(req, 0);
    return 0;
}

}  // namespace splicefs::fs::ops
