// File handles and the data path. READ replies carry the backing fd itself (FUSE_BUF_IS_FD),
// so libfuse splices backing file -> pipe -> /dev/fuse; WRITE requests arrive in libfuse's
// pipe and are spliced into the backing file. Neither passes through our memory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>
#include <vector>

#include "fs/atime.hpp"
#include "fs/backing_policy.hpp"
#include "fs/credentials.hpp"
#include "fs/entry.hpp"
#include "fs/filesystem.hpp"
#include "fs/inflight.hpp"
#include "fs/ops.hpp"
#include "fs/passthrough.hpp"
#include "fs/passthrough_wire.hpp"
#include "fs/reshape.hpp"
#include "splicefs/copy.hpp"
#include "splicefs/splice.hpp"
#include "transport/uring.hpp"

namespace splicefs::fs::ops {

namespace {
constexpr std::size_t kPage = 4096;
// libfuse copies replies smaller than two pages instead of splicing them.
constexpr std::size_t kMinSpliceReply = 2 * kPage;
constexpr std::uint64_t kCopyWrites = std::uint64_t{1} << 32;  // in fuse_file_info::fh

// Flags for the backing open: what the kernel asked, adjusted to what the mount can honour.
int backing_flags(const Fs& fs, int flags) {
    flags &= ~(O_CREAT | O_EXCL | O_NOCTTY);
    // The WRITE payload sits at an unaligned address in libfuse 3.14's buffers, so O_DIRECT on
    // the backing fd would fail with EINVAL; the handle bypasses the FUSE page cache instead.
    flags &= ~O_DIRECT;
    if (fs.config.writeback_cache && !fs.config.passthrough) {
        // With writeback caching the kernel reads pages around partial writes and handles
        // O_APPEND itself: the backing fd must be readable and positionable.
        if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
        flags &= ~O_APPEND;
    }
    return flags | O_CLOEXEC;
}

void set_open_reply(const Fs& fs, fuse_file_info* fi, int requested_flags) {
    fi->direct_io = (fs.direct_io_for_all() || (requested_flags & O_DIRECT) != 0) ? 1 : 0;
    fi->keep_cache = fs.config.cache == CacheMode::Never ? 0 : 1;
    // Read-only handles need no FLUSH round trip at close, whatever the cache mode: they have
    // no delayed write error to report, POSIX locks stay in the kernel and flock() locks go
    // at RELEASE (the kernel ignores noflush with writeback caching, which needs FLUSH).
    fi->noflush = (requested_flags & O_ACCMODE) == O_RDONLY ? 1 : 0;
}

// Replies to open/create (offering the open to kernel passthrough when it is on); closes
// the fd if the kernel did not take the handle.
void reply_open(Fs& fs, fuse_req_t req, fuse_ino_t ino, Inode& inode, fuse_file_info* fi, sys::UniqueFd fd,
                const fuse_entry_param* e) {
    // Above the fd: this handle's writes are copied (a file whose backing refused splice).
    fi->fh = static_cast<std::uint64_t>(fd.get()) |
             (inode.splice_refused.load(std::memory_order_relaxed) ? kCopyWrites : 0);
    const bool passthrough =
        passthrough_prepare(fs, inode, fd.get(), e != nullptr ? wire::kOpCreate : wire::kOpOpen);
    // A worker that dies after the reply leaves the fd to the kernel's file: it must survive.
    // One that dies before leaves it to the resent request (inflight.hpp), noted first.
    inflight::note_handle(fd.get(), survival::FdKind::File, ino);
    fs.own_handle_fd(fd.get(), ino, false);
    const int rc = e != nullptr ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
    // Interrupted caller: the kernel will not send RELEASE (nor FORGET for the entry). The
    // handle is given up before its passthrough open, as in release().
    if (rc != 0) fs.drop_handle_fd(fd.get());
    passthrough_finish(fs, inode, passthrough, rc == 0);
    if (rc != 0) {
        if (e != nullptr) fs.forget(e->ino, 1);
        return;  // fd closes here
    }
    fd.release();  // owned by the kernel's file until release()
    fs.stats.open_files.fetch_add(1, std::memory_order_relaxed);
}

// create() with reshaping: made as the owner the creation policy names (fs/reshape.hpp).
int create_reshaped(Fs& fs, fuse_req_t req, const InodeRef& dir, const char* name, mode_t mode,
                    const fuse_file_info* fi, sys::UniqueFd& fd) {
    const auto creation = reshape_creation(fs, req, mode | S_IFREG);
    if (creation.error != 0) return creation.error;
    const int flags = backing_flags(fs, fi->flags) | O_NOFOLLOW;
    int err = 0;
    {
        const CallerCredentials creds(fs, req, CallerCredentials::Umask::Caller, &creation.as);
        if (creds.error() != 0) return creds.error();
        // Always O_EXCL: with the backing's permission checks bypassed, only a file made here
        // may be opened this way.
        fd.reset(::openat(dir.fd(), name, flags | O_CREAT | O_EXCL, creation.mode & 07777));
        err = fd ? 0 : errno;
    }
    if (err == EEXIST && (fi->flags & O_EXCL) == 0) {
        // The name appeared meanwhile: open it as the caller, under the backing's own checks.
        const CallerCredentials creds(fs, req);
        if (creds.error() != 0) return creds.error();
        fd.reset(::openat(dir.fd(), name, flags));
        err = fd ? 0 : errno;
    }
    return err;
}

int handle_fd(const fuse_file_info* fi) {
    return static_cast<int>(fi->fh & 0xffffffffU);
}

// A forced splice into the backing file was refused (EINVAL): the first time for this file,
// counted, and its later opens copy their writes without trying (reply_open).
void splice_refused(Fs& fs, fuse_ino_t ino, const fuse_file_info* fi) {
    // O_APPEND handles are refused by splice whatever the file: not the backing's doing.
    if ((::fcntl(handle_fd(fi), F_GETFL) & O_APPEND) != 0) return;
    const auto inode = fs.inodes.find_inode(ino);
    if (inode && !inode->splice_refused.exchange(true, std::memory_order_relaxed))
        fs.stats.splice_fallbacks.fetch_add(1, std::memory_order_relaxed);
}

// Set-id bits a write by this caller must drop. The kernel drops them by SETATTR before a
// cached write unless the daemon took FUSE_HANDLE_KILLPRIV_V2; it never does for a write
// through a direct-io handle.
void remove_privs_before_write(const Fs& fs, fuse_req_t req, const fuse_file_info* fi) {
    if (fi->writepage != 0) return;
    const bool direct = fs.direct_io_for_all() || (fi->flags & O_DIRECT) != 0;
    if (direct || fs.kills_privs.load(std::memory_order_relaxed)) clear_set_id_bits(req, handle_fd(fi));
}

// read(2) that asks again when a signal interrupts it: libfuse's stop handlers lack SA_RESTART.
ssize_t read_retrying(int fd, char* buf, std::size_t len) {
    ssize_t n = 0;
    do {
        n = ::read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n;
}

// The copy path for a WRITE payload in libfuse's pipe: one read of it into this thread's
// buffer and one write. libfuse's fuse_buf_copy takes a read/write pair per 4 KiB, which an
// O_APPEND handle (splice refuses those) paid on every write, and which lets a worker's death
// leave an appending write half done.
struct PipeCopy {
    std::size_t consumed = 0;  // taken from the pipe
    std::size_t written = 0;
    int error = 0;
};
PipeCopy copy_from_pipe(int pipe_fd, int fd, std::size_t len, off_t off) {
    thread_local std::vector<char> buffer;
    if (buffer.size() < len) buffer.resize(len);
    PipeCopy c;
    while (c.consumed < len) {
        const ssize_t n = read_retrying(pipe_fd, buffer.data() + c.consumed, len - c.consumed);
        if (n <= 0) {
            c.error = n < 0 ? errno : EIO;
            break;
        }
        c.consumed += static_cast<std::size_t>(n);
    }
    while (c.written < c.consumed) {
        const ssize_t n = ::pwrite(fd, buffer.data() + c.written, c.consumed - c.written,
                                   off + static_cast<off_t>(c.written));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            c.error = n < 0 ? errno : EIO;
            break;
        }
        c.written += static_cast<std::size_t>(n);
    }
    return c;
}

// Throws away what is left of a WRITE payload in libfuse's per-thread pipe: libfuse reuses
// the pipe for the next request and does not empty it after write_buf.
void drain_pipe(Fs& fs, int pipe_fd, std::size_t left) {
    try {
        while (left > 0) {
            const auto moved = splicefs::splice::splice(fs.dev_null.get(), pipe_fd, std::nullopt, left);
            if (moved == 0) break;
            left -= moved;
        }
    } catch (const std::system_error&) {
        std::array<char, kPage> scratch{};
        while (left > 0) {
            const ssize_t n = read_retrying(pipe_fd, scratch.data(), std::min(left, scratch.size()));
            if (n <= 0) break;
            left -= static_cast<std::size_t>(n);
        }
    }
}
}  // namespace

int open(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    if (fs.read_only() && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC) != 0)) return EROFS;
    // The O_PATH fd cannot do I/O; reopening its /proc link reaches even an unlinked file.
    const std::string path = proc_fd_path(inode.fd());
    sys::UniqueFd fd{open_with_atime_policy(fs.config, false, [&](int extra) {
        return ::open(path.c_str(), (backing_flags(fs, fi->flags) & ~O_NOFOLLOW) | extra);
    })};
    if (!fd) return errno;
    // A truncating open by a caller other than root drops set-id bits natively; the kernel
    // leaves that to us (FUSE_OPEN_KILL_SUIDGID, which libfuse 3.14 drops, or nothing at all
    // with atomic O_TRUNC), so it is done here in every mode.
    if ((fi->flags & O_TRUNC) != 0) clear_set_id_bits(req, fd.get());
    set_open_reply(fs, fi, fi->flags);
    fi->keep_cache = open_keeps_cache(fs, ino, *inode, fd.get()) ? 1 : 0;  // close-to-open
    reply_open(fs, req, ino, *inode, fi, std::move(fd), nullptr);
    return 0;
}

int create(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
    const auto dir = fs.inode(parent);
    if (!dir) return dir.error();
    if (fs.read_only()) return EROFS;
    sys::UniqueFd fd;
    if (fs.reshaping) [[unlikely]] {
        if (const int err = create_reshaped(fs, req, dir, name, mode, fi, fd); err != 0) return err;
    } else {
        const CallerCredentials creds(fs, req, CallerCredentials::Umask::Caller);
        if (creds.error() != 0) return creds.error();
        const auto open_as = [&](int how) {
            return open_with_atime_policy(fs.config, false, [&](int extra) {
                return ::openat(dir.fd(), name, backing_flags(fs, fi->flags) | O_NOFOLLOW | how | extra,
                                mode);
            });
        };
        // An O_EXCL create resent after a failover finds the file its first delivery made
        // (inflight.hpp): it opens that file instead of failing with EEXIST.
        if (!inflight::already_done()) {
            inflight::mark_started();
            fd.reset(open_as(O_CREAT | (fi->flags & O_EXCL)));
        }
        if (const int err = inflight::settle(fd || inflight::already_done() ? 0 : errno, EEXIST); err != 0)
            return err;
        if (!fd) fd.reset(open_as(0));
        if (!fd) return errno;
    }
    fuse_entry_param e{};
    if (const int err = entry_from_fd(fs, fd.get(), e); err != 0) return err;
    if (fs.reshaping) [[unlikely]] {
        if (const int err = reshape_entry(fs, req, e); err != 0) return err;
    }
    // The inode alone: its O_PATH fd (opened from the handle) is not needed to answer.
    const auto inode = fs.inodes.find_inode(e.ino);
    if (!inode) return ESTALE;
    set_open_reply(fs, fi, fi->flags);
    reply_open(fs, req, e.ino, *inode, fi, std::move(fd), &e);
    return 0;
}

int read(Fs& fs, fuse_req_t req, fuse_ino_t /*ino*/, std::size_t size, off_t off, fuse_file_info* fi) {
    if (const auto ring = transport::reply_buffer(); ring.size() >= size) {
        // A ring request (--transport=uring): its reply buffer is our memory, so no splice;
        // one pread straight into it, and the reply is committed without another copy.
        const ssize_t n = ::pread(handle_fd(fi), ring.data(), size, off);
        if (n < 0) return errno;
        fs.stats.reads.add(false, static_cast<std::size_t>(n));
        fuse_reply_buf(req, reinterpret_cast<const char*>(ring.data()), static_cast<std::size_t>(n));
        return 0;
    }
    if (!fs.splice_reads_live.load(std::memory_order_relaxed)) {
        // Copy path: one pread into a per-thread buffer that lives as long as the worker,
        // instead of libfuse's fallback that maps a fresh buffer for every reply.
        thread_local std::vector<char> buffer;
        if (buffer.size() < size) buffer.resize(size);
        const ssize_t n = ::pread(handle_fd(fi), buffer.data(), size, off);
        if (n < 0) return errno;
        fs.stats.reads.add(false, static_cast<std::size_t>(n));
        fuse_reply_buf(req, buffer.data(), static_cast<std::size_t>(n));
        return 0;
    }
    fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    buf.buf[0].fd = handle_fd(fi);
    buf.buf[0].pos = off;
    const int copy_flags = fs.config.splice_move ? FUSE_BUF_SPLICE_MOVE : 0;
    // Counted as requested: libfuse moves the bytes and does not tell how many (short at EOF).
    // Replies under two pages are copied by libfuse, and counted so.
    fs.stats.reads.add(size >= kMinSpliceReply, size);
    // A failed reply (interrupted reader, backing read error) has already been answered.
    (void)fuse_reply_data(req, &buf, static_cast<fuse_buf_copy_flags>(copy_flags));
    return 0;
}

int write_buf(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
    const std::size_t size = fuse_buf_size(in);
    const bool from_pipe = (in->buf[0].flags & FUSE_BUF_IS_FD) != 0;
    const int pipe_fd = from_pipe ? in->buf[0].fd : -1;
    if (fs.read_only()) {
        if (from_pipe) drain_pipe(fs, pipe_fd, size);
        return EROFS;
    }
    std::size_t already = 0;  // of a resent appending write: bytes its first delivery wrote
    if (inflight::recording()) {
        // An appending write resent after a failover: answered from its record when it ran,
        // completed when it ran in part.
        struct stat st {};
        if (::fstat(handle_fd(fi), &st) == 0) {
            std::uint64_t part = 0;
            if (const auto answered =
                    inflight::append_replay(static_cast<std::uint64_t>(st.st_size), size, part)) {
                if (from_pipe) drain_pipe(fs, pipe_fd, size);
                fuse_reply_write(req, static_cast<std::size_t>(*answered));
                return 0;
            }
            already = static_cast<std::size_t>(part);
            if (already > 0) {
                if (from_pipe) drain_pipe(fs, pipe_fd, already);
                in->off = already;  // fuse_buf_copy starts there (a pipe was drained up to it)
            }
        }
    }
    remove_privs_before_write(fs, req, fi);
    fuse_bufvec out = FUSE_BUFVEC_INIT(size - already);
    out.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    out.buf[0].fd = handle_fd(fi);
    out.buf[0].pos = off;

    std::size_t done = 0;
    std::size_t consumed = 0;  // of the pipe, by the copy path
    ssize_t rc = 0;
    bool spliced = false;
    const auto copy_rest = [&] {
        const auto c = copy_from_pipe(pipe_fd, handle_fd(fi), size - already - done,
                                      off + static_cast<off_t>(already + done));
        consumed = done + c.consumed;
        done += c.written;
        rc = c.written > 0 || c.error == 0 ? static_cast<ssize_t>(c.written) : -c.error;
        return c.written;
    };
    if (from_pipe && (fi->fh & kCopyWrites) != 0) {
        (void)copy_rest();
    } else if (from_pipe) {
        // Force splice so a refusal (EINVAL: O_APPEND target, odd backing fs) is visible and
        // the bytes are counted as copied when we fall back.
        int flags = FUSE_BUF_FORCE_SPLICE;
        if (fs.config.splice_move) flags |= FUSE_BUF_SPLICE_MOVE;
        // A splice into a file fails with EINTR, before taking a byte from the pipe, when a
        // signal is pending for this thread as it starts: libfuse's handlers have no
        // SA_RESTART (a signal must end the blocking read of /dev/fuse), and the SIGTERM that
        // stops a worker for a live upgrade can come while it finishes a WRITE. Splice again
        // rather than answer EINTR (a failed write(2), or writeback data lost).
        do {
            rc = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(flags));
        } while (rc == -EINTR);
        if (rc > 0) {
            done = static_cast<std::size_t>(rc);
            consumed = done;
            spliced = true;
        }
        if (rc == -EINVAL) splice_refused(fs, ino, fi);
        if (rc == -EINVAL || (rc >= 0 && done < size - already)) {
            if (rc < 0) rc = 0;
            const std::size_t copied = copy_rest();
            spliced = spliced && copied == 0;  // counted as copied when the copy did any
        }
    } else {
        rc = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
        if (rc > 0) done = static_cast<std::size_t>(rc);
    }
    if (from_pipe && already + consumed < size) drain_pipe(fs, pipe_fd, size - already - consumed);
    if (already > 0 && (done > 0 || rc >= 0)) done += already;
    inflight::append_done(done == 0 && rc < 0 ? static_cast<int>(-rc) : 0, done);
    if (done == 0 && rc < 0) return static_cast<int>(-rc);
    fs.stats.writes.add(spliced, done);
    fuse_reply_write(req, done);
    return 0;
}

int flush(Fs& fs, fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) {
    // On a local backing fs, close() has nothing to report (no delayed write errors) and the
    // daemon holds no POSIX locks for callers (they stay in the kernel): ENOSYS tells the
    // kernel to stop sending FLUSH for the whole mount. It still writes back mmap-dirtied
    // pages before it would have sent one (fuse_flush), so no data waits for writeback.
    if (fs.policy.local) return ENOSYS;
    // Elsewhere close() of a duplicate reports delayed write errors (NFS-style) and drops
    // POSIX locks the caller held on the backing file, as the close of the caller's fd would.
    const int dup = ::dup(handle_fd(fi));
    if (dup < 0) return errno;
    if (::close(dup) != 0) return errno;
    fuse_reply_err(req, 0);
    return 0;
}

int release(Fs& fs, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const int fd = handle_fd(fi);
    // A resent RELEASE whose first delivery had given the handle up: done (its fd number may
    // be someone else's by now).
    if (!fs.holds_handle_fd(fd, ino)) {
        fuse_reply_err(req, 0);
        return 0;
    }
    // Given up first: a next worker counts an inode's passthrough opens from the handles owned.
    fs.drop_handle_fd(fd);
    if (const auto inode = fs.inodes.find_inode(ino)) {
        passthrough_release(fs, *inode);
        if ((fi->flags & O_ACCMODE) != O_RDONLY) note_written(*inode, fd);
    }
    sys::UniqueFd owned{fd};
    owned.reset();
    fs.stats.open_files.fetch_sub(1, std::memory_order_relaxed);
    fuse_reply_err(req, 0);
    return 0;
}

int fsync(Fs& /*fs*/, fuse_req_t req, fuse_ino_t /*ino*/, int datasync, fuse_file_info* fi) {
    const int fd = handle_fd(fi);
    if ((datasync != 0 ? ::fdatasync(fd) : ::fsync(fd)) != 0) return errno;
    fuse_reply_err(req, 0);
    return 0;
}

int fallocate(Fs& fs, fuse_req_t req, fuse_ino_t /*ino*/, int mode, off_t offset, off_t length,
              fuse_file_info* fi) {
    if (fs.read_only()) return EROFS;
    if (::fallocate(handle_fd(fi), mode, offset, length) != 0) return errno;
    fuse_reply_err(req, 0);
    return 0;
}

int copy_file_range(Fs& fs, fuse_req_t req, fuse_ino_t /*ino_in*/, off_t off_in, fuse_file_info* fi_in,
                    fuse_ino_t /*ino_out*/, off_t off_out, fuse_file_info* fi_out, std::size_t len,
                    int flags) {
    if (fs.read_only()) return EROFS;
    const auto moved = splicefs::splice::copy_range_noexcept(handle_fd(fi_in), off_in, handle_fd(fi_out),
                                                             off_out, len, static_cast<unsigned>(flags));
    if (moved < 0) return static_cast<int>(-moved);
    fuse_reply_write(req, static_cast<std::size_t>(moved));
    return 0;
}

int lseek(Fs& /*fs*/, fuse_req_t req, fuse_ino_t /*ino*/, off_t off, int whence, fuse_file_info* fi) {
    const off_t pos = ::lseek(handle_fd(fi), off, whence);
    if (pos < 0) return errno;
    fuse_reply_lseek(req, pos);
    return 0;
}

}  // namespace splicefs::fs::ops
