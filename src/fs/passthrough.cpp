#include "fs/passthrough.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "fs/failover_hooks.hpp"
#include "fs/filesystem.hpp"
#include "fs/passthrough_wire.hpp"
#include "fs/receive_spin.hpp"
#include "fs/survival_mirror.hpp"
#include "transport/fuse_uring_abi.hpp"
#include "transport/uring.hpp"
#include "transport/uring_frame.hpp"

namespace splicefs::fs {

namespace {

// From include/uapi/linux/fuse.h (7.40); Debian 12's headers predate them.
struct BackingMap {
    std::int32_t fd;
    std::uint32_t flags;
    std::uint64_t padding;
};
constexpr unsigned long kBackingOpen = _IOW(229, 1, BackingMap);
constexpr unsigned long kBackingClose = _IOW(229, 2, std::uint32_t);
constexpr long kOverlayfsMagic = 0x794c7630;

// What this worker thread has armed for the reply it is about to write.
struct InitTicket {
    bool active = false;
    std::uint32_t offered_flags = 0;
    std::uint32_t offered_flags2 = 0;
    std::uint64_t unique = 0;
};
struct OpenTicket {
    bool active = false;
    bool amended = false;
    std::uint32_t opcode = 0;
    std::int32_t backing_id = 0;
};
thread_local InitTicket tl_init;
thread_local OpenTicket tl_open;

Fs& fs_from(void* userdata) {
    return *static_cast<Fs*>(userdata);
}

std::uint32_t stack_depth_for(Fs& fs) {
    struct statfs st {};
    const auto root = fs.inode(InodeTable::kRootId);
    // An overlayfs backing already stacks one level.
    if (root && ::fstatfs(root.fd(), &st) == 0 && st.f_type == kOverlayfsMagic) return 2;
    return 1;
}

// This serving thread's spin before a blocking receive; null when off (receive_spin.hpp).
ReceiveSpin* receive_spin(const Fs& fs) noexcept {
    const std::uint32_t us = fs.receive_spin_us.load(std::memory_order_relaxed);
    if (us == 0) return nullptr;
    thread_local ReceiveSpin spin(std::uint64_t{us} * 1000, fs.stats.spin);
    return &spin;
}

// A blocking receive from /dev/fuse, after this thread's spin.
template <typename Receive>
ssize_t receive(const Fs& fs, int fd, Receive&& blocking_receive) {
    ReceiveSpin* spin = receive_spin(fs);
    if (spin == nullptr) return blocking_receive();
    spin->before_receive(fd);
    if (fuse_session_exited(fs.session) != 0) {
        // A signal that came during the spin found no blocking receive to interrupt: say EINTR
        // here, as the receive would have, so that libfuse's loop sees the exit flag now.
        errno = EINTR;
        return -1;
    }
    const ssize_t n = blocking_receive();
    spin->after_receive();
    return n;
}

ssize_t hook_read(int fd, void* buf, std::size_t len, void* userdata) {
    Fs& fs = fs_from(userdata);
    // A replacement worker's first read is the saved INIT (failover_hooks.hpp).
    const std::size_t replayed = before_receive(fs, fs.failover, {static_cast<std::byte*>(buf), len});
    const ssize_t n =
        replayed > 0 ? static_cast<ssize_t>(replayed) : receive(fs, fd, [&] { return ::read(fd, buf, len); });
    if (n > 0 && replayed == 0 && fs.handoff != nullptr) {
        after_receive(fs, {static_cast<const std::byte*>(buf), static_cast<std::size_t>(n)});
    }
    if (n > 0 && fs.init_pending.load(std::memory_order_relaxed)) {
        const std::span<const std::byte> bytes(static_cast<const std::byte*>(buf),
                                               static_cast<std::size_t>(n));
        wire::RequestHeader h;
        std::uint32_t flags = 0;
        std::uint32_t flags2 = 0;
        if (wire::parse_request(bytes, h) && wire::init_offered_flags(bytes, flags) &&
            wire::init_offered_flags2(bytes, flags2)) {
            tl_init = InitTicket{true, flags, flags2, h.unique};
        }
    }
    return n;
}

std::vector<std::byte> gather(const iovec* iov, int count) {
    std::vector<std::byte> bytes;
    for (int i = 0; i < count; ++i) {
        const auto* p = static_cast<const std::byte*>(iov[i].iov_base);
        bytes.insert(bytes.end(), p, p + iov[i].iov_len);
    }
    return bytes;
}

// mmap of files opened with FOPEN_DIRECT_IO (O_DIRECT opens, --direct-io): without the flag
// the kernel refuses shared mappings of them with ENODEV.
void allow_direct_io_mmap(Fs& fs, std::span<std::byte> init_reply, std::uint32_t offered_flags2) {
    if ((offered_flags2 & wire::kDirectIoAllowMmapFlags2) == 0) {
        spdlog::info(
            "the kernel does not offer FUSE_DIRECT_IO_ALLOW_MMAP: shared mmap of O_DIRECT opens fails");
    } else if (wire::amend_init_flags2(init_reply, wire::kDirectIoAllowMmapFlags2)) {
        fs.direct_io_mmap.store(true, std::memory_order_release);
    } else {
        spdlog::warn("unexpected INIT reply framing from libfuse: shared mmap of O_DIRECT opens fails");
    }
}

// The daemon clears set-id bits itself (ops_data.cpp, ops_entry.cpp) so that the kernel can
// skip GETXATTR(security.capability) before writes. Not with writeback caching or kernel
// passthrough, whose writes never reach the daemon (so nobody would clear the bits), nor with
// reshaping, whose set-id policy (fs/reshape.cpp) relies on the kernel's SETATTRs (the
// bindfs differential test shows set-id bits kept where bindfs drops them).
void take_kill_priv_v2(Fs& fs, std::span<std::byte> init_reply, std::uint32_t offered_flags) {
    if ((offered_flags & wire::kHandleKillprivV2) == 0 || fs.config.writeback_cache ||
        fs.config.passthrough || fs.reshaping)
        return;
    if (wire::amend_init_flags(init_reply, wire::kHandleKillprivV2))
        fs.kills_privs.store(true, std::memory_order_release);
}

// Every reply leaves through the transport: a ring entry that waits for it, else /dev/fuse.
ssize_t write_all(int fd, std::vector<std::byte>& bytes) {
    iovec one{bytes.data(), bytes.size()};
    return transport::write_reply(fd, &one, 1);
}

static_assert(wire::kOverIoUringFlags2 == transport::abi::kOverIoUringFlags2);

// --transport=uring: accept FUSE_OVER_IO_URING in INIT when offered. True when the rings are
// to start once this reply has reached the kernel.
bool offer_rings(std::span<std::byte> init_reply, std::uint32_t offered_flags2) {
    if (!transport::wanted()) return false;
    if ((offered_flags2 & wire::kOverIoUringFlags2) == 0) {
        transport::refuse(
            "the kernel does not offer FUSE_OVER_IO_URING (Linux 6.14+ with "
            "/sys/module/fuse/parameters/enable_uring = Y)");
        return false;
    }
    if (transport::payload_size_for_init(init_reply) == 0 ||
        !wire::amend_init_flags2(init_reply, wire::kOverIoUringFlags2)) {
        transport::refuse("unexpected INIT reply framing from libfuse");
        return false;
    }
    return true;
}

// Writes the INIT reply, then starts the rings it accepted (the kernel must have taken it
// before it lets entries register).
ssize_t send_init(int fd, std::vector<std::byte>& bytes, bool rings) {
    const ssize_t n = write_all(fd, bytes);
    if (rings && n >= 0) transport::start(transport::payload_size_for_init(bytes));
    return n;
}

// The INIT reply as amended: saved for later workers, or (replayed) compared and swallowed.
ssize_t finish_init_reply(int fd, Fs& fs, std::vector<std::byte>& bytes, bool rings) {
    if (!on_init_reply(fs, bytes)) return static_cast<ssize_t>(bytes.size());
    const ssize_t n = send_init(fd, bytes, rings);
    on_init_reply_written(fs, n == static_cast<ssize_t>(bytes.size()));
    return n;
}

// Notifications (unique 0) are not replies: they do not end a failover pause.
bool is_reply(const iovec* iov, int count) {
    std::uint64_t unique = 0;
    return count > 0 && iov[0].iov_len >= wire::kOutHeaderSize &&
           wire::reply_unique({static_cast<const std::byte*>(iov[0].iov_base), iov[0].iov_len}, unique) &&
           unique != 0;
}

ssize_t hook_writev(int fd, iovec* iov, int count, void* userdata) {
    Fs& fs = fs_from(userdata);
    if (fs.failover.first_reply_pending.load(std::memory_order_relaxed) && is_reply(iov, count)) [[unlikely]]
        on_reply(fs, fs.failover);
    if (!tl_init.active && !tl_open.active) return transport::write_reply(fd, iov, count);
    auto bytes = gather(iov, count);
    std::uint64_t unique = 0;
    if (tl_init.active && wire::reply_unique(bytes, unique) && unique == tl_init.unique) {
        tl_init.active = false;
        fs.init_pending.store(false, std::memory_order_relaxed);
        allow_direct_io_mmap(fs, bytes, tl_init.offered_flags2);
        take_kill_priv_v2(fs, bytes, tl_init.offered_flags);
        const bool rings = offer_rings(bytes, tl_init.offered_flags2);
        if (fs.passthrough_mode.load() != PassthroughMode::AwaitInit)
            return finish_init_reply(fd, fs, bytes, rings);
        if ((tl_init.offered_flags2 & wire::kPassthroughFlags2) == 0) {
            fs.passthrough_mode.store(PassthroughMode::Refused);
            spdlog::warn(
                "passthrough: the kernel does not offer FUSE_PASSTHROUGH (needs Linux 6.9+); "
                "using the splice path");
        } else if (wire::amend_init_reply(bytes, stack_depth_for(fs))) {
            fs.passthrough_mode.store(PassthroughMode::Ready);
            spdlog::info(
                "passthrough: offered to the kernel; reads and writes of opened files bypass the daemon");
        } else {
            fs.passthrough_mode.store(PassthroughMode::Refused);
            spdlog::warn("passthrough: unexpected INIT reply framing from libfuse; using the splice path");
        }
        return finish_init_reply(fd, fs, bytes, rings);
    }
    if (tl_open.active) {
        tl_open.active = false;
        tl_open.amended = wire::amend_open_reply(bytes, tl_open.opcode, tl_open.backing_id);
        return write_all(fd, bytes);
    }
    return transport::write_reply(fd, iov, count);
}

ssize_t hook_splice_send(int fdin, off_t* offin, int fdout, off_t* offout, std::size_t len,
                         unsigned int flags, void* userdata) {
    Fs& fs = fs_from(userdata);
    on_reply(fs, fs.failover);  // only replies (READ data) are spliced to /dev/fuse
    return transport::splice_reply(fdin, offin, fdout, offout, len, flags);  // splice(2) off the rings
}

// Providing both splice hooks keeps libfuse's splice path for files not in passthrough.
ssize_t hook_splice_receive(int fdin, off_t* offin, int fdout, off_t* offout, std::size_t len,
                            unsigned int flags, void* userdata) {
    Fs& fs = fs_from(userdata);
    (void)before_receive(fs, fs.failover, {});  // waits while a replayed INIT is processed
    if (fs.failover.counting_resent.load(std::memory_order_relaxed)) [[unlikely]]
        return receive_counting(fs, fdin, fdout, len);
    return receive(fs, fdin, [&] { return ::splice(fdin, offin, fdout, offout, len, flags); });
}

// Under use.mu: the backing id belongs to the connection, not to this worker; the next
// worker must know it to close it at the last release (survival area).
void record(const Fs& fs, const Inode& inode) noexcept {
    if (fs.mirror)
        fs.mirror->set_passthrough(inode.survival_slot, inode.passthrough.backing_id,
                                   inode.passthrough.opens);
}

// Under use.mu, once no open needs the id. Recorded negated first: a worker dying in between
// leaves the next one an id to close again (ENOENT then: the kernel hands ids out cyclically,
// so the number does not come back), never a closed id it would offer to the next open.
void retire_backing_id(Fs& fs, Inode& inode) {
    auto& use = inode.passthrough;
    const auto id = std::exchange(use.backing_id, 0);
    if (fs.mirror) fs.mirror->set_passthrough(inode.survival_slot, -id, use.opens);
    if (!close_backing_id(fs, id))
        spdlog::warn("passthrough: closing backing id {} failed: {}", id,
                     std::generic_category().message(errno));
    record(fs, inode);
}
}  // namespace

bool close_backing_id(const Fs& fs, std::int32_t id) noexcept {
    auto uid = static_cast<std::uint32_t>(id);
    return ::ioctl(fs.session_fd.load(), kBackingClose, &uid) == 0;
}

bool install_wire_hooks(fuse_session* se, Fs& fs, int fuse_fd) {
    static const fuse_custom_io io{hook_writev, hook_read, hook_splice_receive, hook_splice_send};
    const int fd = fuse_fd >= 0 ? fuse_fd : fuse_session_fd(se);
    fs.session_fd.store(fd);
    if (fs.config.passthrough) fs.passthrough_mode.store(PassthroughMode::AwaitInit);
    fs.init_pending.store(true);
    if (fuse_session_custom_io(se, &io, fd) != 0) {
        fs.init_pending.store(false);
        if (fs.config.passthrough) {
            fs.passthrough_mode.store(PassthroughMode::Refused);
            spdlog::warn("passthrough: libfuse refused the custom I/O hooks; using the splice path");
        } else {
            spdlog::warn("libfuse refused the custom I/O hooks: shared mmap of O_DIRECT opens fails");
        }
        return false;
    }
    return true;
}

bool passthrough_prepare(Fs& fs, Inode& inode, int fd, std::uint32_t opcode) {
    if (fs.passthrough_mode.load() == PassthroughMode::Off) return false;
    const std::lock_guard lock(inode.passthrough.mu);
    auto& use = inode.passthrough;
    if (use.opens == 0 && fs.passthrough_mode.load() == PassthroughMode::Ready) {
        BackingMap map{fd, 0, 0};
        const int id = ::ioctl(fs.session_fd.load(), kBackingOpen, &map);
        if (id > 0) {
            use.backing_id = id;
            if (fs.mirror) fs.mirror->note_backing_id(id);
        } else if (errno == EPERM && !fs.passthrough_worked.load()) {
            // The kernel accepted INIT but refuses backing files: it turned passthrough off
            // silently (writeback cache, stack depth, missing CAP_SYS_ADMIN).
            fs.passthrough_mode.store(PassthroughMode::Refused);
            spdlog::warn("passthrough: the kernel refuses backing files (EPERM); using the splice path");
        } else {
            spdlog::debug("passthrough: backing open failed ({}); this inode uses the splice path",
                          std::generic_category().message(errno));
        }
    }
    ++use.opens;
    record(fs, inode);
    if (use.backing_id > 0) {
        fs.passthrough_worked.store(true);
        tl_open = OpenTicket{true, false, opcode, use.backing_id};
        return true;
    }
    fs.stats.passthrough_fallbacks.fetch_add(1, std::memory_order_relaxed);
    return false;
}

void passthrough_finish(Fs& fs, Inode& inode, bool prepared, bool replied) {
    if (fs.passthrough_mode.load() == PassthroughMode::Off) return;
    const bool amended = prepared && tl_open.amended && !tl_open.active;
    tl_open = OpenTicket{};
    if (!replied) {
        passthrough_release(fs, inode);
        return;
    }
    if (prepared && !amended) {
        // The reply went out without the passthrough flag: from the kernel's view this
        // inode is open normally, so drop the id before another open tries to share it.
        const std::lock_guard lock(inode.passthrough.mu);
        if (inode.passthrough.opens == 1 && inode.passthrough.backing_id > 0) retire_backing_id(fs, inode);
        fs.stats.passthrough_fallbacks.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("passthrough: an OPEN reply could not be amended; that open uses the splice path");
        return;
    }
    if (prepared) fs.stats.passthrough_opens.fetch_add(1, std::memory_order_relaxed);
}

void passthrough_release(Fs& fs, Inode& inode) {
    if (fs.passthrough_mode.load() == PassthroughMode::Off) return;
    const std::lock_guard lock(inode.passthrough.mu);
    auto& use = inode.passthrough;
    if (use.opens > 0) --use.opens;
    if (use.opens == 0 && use.backing_id > 0) {
        retire_backing_id(fs, inode);
        return;
    }
    record(fs, inode);
}

}  // namespace splicefs::fs
