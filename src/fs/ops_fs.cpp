// Filesystem-wide operations: the INIT negotiation (which data path is live) and statfs.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "fs/filesystem.hpp"
#include "fs/ops.hpp"
#include "fs/tuning.hpp"
#include "sys/fd.hpp"

namespace splicefs::fs::ops {

namespace {
constexpr std::size_t kPage = 4096;
constexpr std::size_t kMiB = std::size_t{1} << 20;
// libfuse 3.14 negotiates at most 256 pages per request.
constexpr std::size_t kLibfuseMaxRequest = kMiB;
// libfuse wants room for the request plus a header page (receive) or the reply plus three
// pages of headroom (send) in its per-thread pipe; without it, it silently copies.
constexpr std::size_t kPipeHeadroom = 3 * kPage + 16;

std::size_t pipe_max_size() {
    std::ifstream in("/proc/sys/fs/pipe-max-size");
    std::size_t value = kMiB;
    in >> value;
    return in ? value : kMiB;
}

// Whether this process may grow a pipe past pipe-max-size (CAP_SYS_RESOURCE).
bool can_grow_pipes_past(std::size_t limit) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    const sys::UniqueFd rd{fds[0]};
    const sys::UniqueFd wr{fds[1]};
    return ::fcntl(rd.get(), F_SETPIPE_SZ, static_cast<int>(2 * limit)) >= 0;
}

// The largest request that libfuse can splice in both directions with the pipes it can get.
std::size_t spliceable_request_size() {
    const std::size_t limit = pipe_max_size();
    if (can_grow_pipes_past(limit)) return kLibfuseMaxRequest;
    const std::size_t fit = limit > kPipeHeadroom ? (limit - kPipeHeadroom) / kPage * kPage : kPage;
    return std::min(kLibfuseMaxRequest, fit);
}

void want(fuse_conn_info* conn, unsigned cap, bool on) {
    if (on && (conn->capable & cap) != 0) {
        conn->want |= cap;
    } else {
        conn->want &= ~cap;
    }
}
}  // namespace

void init(Fs& fs, fuse_conn_info* conn) {
    const Config& c = fs.config;
    const std::size_t request = spliceable_request_size();
    // Splicing needs the pipe to hold a whole request: cap the request size to what fits.
    // Copying has no such limit; then libfuse's maximum gives fewer round trips.
    const bool any_splice = c.splice_reads || c.splice_writes;
    conn->max_write = static_cast<unsigned>(any_splice ? request : kLibfuseMaxRequest);

    want(conn, FUSE_CAP_SPLICE_WRITE, c.splice_reads);  // READ replies spliced to /dev/fuse
    want(conn, FUSE_CAP_SPLICE_MOVE, c.splice_reads && c.splice_move);
    want(conn, FUSE_CAP_SPLICE_READ, c.splice_writes);  // WRITE requests spliced from /dev/fuse
    // Kernel passthrough is refused (silently) when writeback caching is on.
    want(conn, FUSE_CAP_WRITEBACK_CACHE, c.writeback_cache && !c.passthrough);
    // The kernel clears setuid/setgid bits itself (by SETATTR) when the daemon does not claim
    // to: the daemon writes as root, which the backing fs would exempt from clearing them.
    want(conn, FUSE_CAP_HANDLE_KILLPRIV, false);
    // BSD locks are forwarded (a blocked flock waits in a pool or worker thread, so not with -s);
    // POSIX locks stay local to the kernel (see ops_locks.cpp).
    want(conn, FUSE_CAP_FLOCK_LOCKS, !c.single_thread);
    want(conn, FUSE_CAP_POSIX_LOCKS, false);
    want(conn, FUSE_CAP_READDIRPLUS, true);
    want(conn, FUSE_CAP_READDIRPLUS_AUTO, true);
    want(conn, FUSE_CAP_AUTO_INVAL_DATA, c.cache != CacheMode::Always);
    want(conn, FUSE_CAP_ATOMIC_O_TRUNC, true);
    want(conn, FUSE_CAP_PARALLEL_DIROPS, true);
    want(conn, FUSE_CAP_ASYNC_DIO, true);
    // POSIX ACLs: the kernel enforces access ACLs (with default_permissions) and leaves the
    // umask to us, so that a default ACL on the backing parent replaces it as it would natively.
    // Not when reshaping shows other owners or modes (the ACLs name backing ids and bits), nor
    // without extended attributes, which carry them, nor when the backing stores none.
    const bool acl = c.default_permissions && fs.policy.posix_acls && !c.reshape.changes_attributes() &&
                     c.reshape.xattr != XattrPolicy::None && (conn->capable & FUSE_CAP_POSIX_ACL) != 0 &&
                     (conn->capable & FUSE_CAP_DONT_MASK) != 0;
    want(conn, FUSE_CAP_POSIX_ACL, acl);
    want(conn, FUSE_CAP_DONT_MASK, acl);
    fs.kernel_leaves_umask.store((conn->want & FUSE_CAP_DONT_MASK) != 0);
    conn->time_gran = 1;
    // More background requests in flight: readahead and writeback of one file proceed in
    // parallel instead of waiting behind the kernel's default of 12 (FAST'17).
    const auto& knobs = tuning::knobs();
    if (knobs.max_background != 0) conn->max_background = knobs.max_background;
    if (knobs.congestion_threshold != 0) conn->congestion_threshold = knobs.congestion_threshold;

    const bool reads = (conn->want & FUSE_CAP_SPLICE_WRITE) != 0;
    const bool writes = (conn->want & FUSE_CAP_SPLICE_READ) != 0;
    fs.splice_reads_live.store(reads);
    spdlog::info("data path: reads {}, writes {}; requests up to {} KiB (pipe-max-size {} KiB)",
                 reads ? "spliced" : "copied", writes ? "spliced" : "copied", conn->max_write / 1024,
                 pipe_max_size() / 1024);
    if (any_splice && request < kLibfuseMaxRequest) {
        spdlog::info(
            "pipes cannot grow past pipe-max-size (no CAP_SYS_RESOURCE): requests capped at {} KiB so "
            "that libfuse can splice them",
            request / 1024);
    }
}

int statfs(Fs& fs, fuse_req_t req, fuse_ino_t ino) {
    const auto inode = fs.inode(ino);
    if (!inode) return inode.error();
    struct statvfs st {};
    if (::fstatvfs(inode.fd(), &st) != 0) return errno;
    fuse_reply_statfs(req, &st);
    return 0;
}

}  // namespace splicefs::fs::ops
