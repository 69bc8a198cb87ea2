#include "fs/backing_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "fs/filesystem.hpp"

namespace splicefs::fs {

namespace {

// Names appearing, disappearing or moving in a marked directory, and attribute or data
// changes of the directory and of its children (FAN_EVENT_ON_CHILD), subdirectories included.
constexpr std::uint64_t kMask = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB |
                                FAN_MODIFY | FAN_ONDIR | FAN_EVENT_ON_CHILD;
constexpr auto kGather = std::chrono::milliseconds(2);
constexpr std::uint64_t kNameEvents = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO;

std::string error_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

// One event: its metadata, and from its info record the directory's file handle and the
// child's name ("" or "." for an event on the marked directory itself). Records are only
// 4-byte aligned (names have any length), so everything is copied out, not cast.
struct DirEvent {
    fanotify_event_metadata md{};
    FileHandle dir;  // a struct file_handle, header included
    std::string name;
};

template <typename T>
T load(const char* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// The event at buf[0, len), or nullopt when it carries no directory record.
std::optional<DirEvent> parse_event(const char* buf, std::size_t len) {
    DirEvent ev;
    ev.md = load<fanotify_event_metadata>(buf);
    std::size_t off = ev.md.metadata_len;
    while (off + sizeof(fanotify_event_info_header) <= len) {
        const auto hdr = load<fanotify_event_info_header>(buf + off);
        if (hdr.len == 0 || off + hdr.len > len) break;
        const bool with_name = hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME;
        const std::size_t fh_off = off + offsetof(fanotify_event_info_fid, handle);
        if ((with_name || hdr.info_type == FAN_EVENT_INFO_TYPE_DFID) &&
            fh_off + sizeof(file_handle) <= off + hdr.len) {
            const auto fh_len = sizeof(file_handle) + load<file_handle>(buf + fh_off).handle_bytes;
            if (fh_off + fh_len > off + hdr.len) break;
            ev.dir.assign(buf + fh_off, buf + fh_off + fh_len);
            if (with_name) {
                const char* name = buf + fh_off + fh_len;
                ev.name.assign(name, ::strnlen(name, off + hdr.len - (fh_off + fh_len)));
            }
            return ev;
        }
        off += hdr.len;
    }
    return std::nullopt;
}

}  // namespace

std::unique_ptr<BackingWatch> BackingWatch::create(InodeTable& inodes, Stats& stats, std::size_t max_dirs) {
    if (!inodes.evicts()) {
        spdlog::info(
            "backing watch off: the backing filesystem's file handles cannot be opened here; "
            "names and attributes expire after the --cache timeouts");
        return nullptr;
    }
    sys::UniqueFd group{::fanotify_init(
        FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_UNLIMITED_QUEUE,
        O_RDONLY | O_LARGEFILE)};
    if (!group) {
        spdlog::info(
            "backing watch off: fanotify_init: {}; names and attributes expire after the --cache "
            "timeouts",
            error_text(errno));
        return nullptr;
    }
    sys::UniqueFd wake{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    if (!wake) throw std::system_error(errno, std::generic_category(), "eventfd");
    return std::unique_ptr<BackingWatch>(
        new BackingWatch(inodes, stats, max_dirs, std::move(group), std::move(wake)));
}

BackingWatch::BackingWatch(InodeTable& inodes, Stats& stats, std::size_t max_dirs, sys::UniqueFd group,
                           sys::UniqueFd wake)
    : inodes_(inodes), stats_(stats), max_dirs_(max_dirs), group_(std::move(group)), wake_(std::move(wake)) {
    stats_.watched_dirs.store(0, std::memory_order_relaxed);
}

BackingWatch::~BackingWatch() {
    stop();
}

void BackingWatch::lost_coverage(const char* why, int err) noexcept {
    if (!covers_.exchange(false)) return;
    spdlog::info(
        "backing watch: {}{}{}; names and attributes seen from now on expire after the --cache "
        "timeouts",
        why, err != 0 ? ": " : "", err != 0 ? error_text(err) : std::string());
}

void BackingWatch::watch(std::uint64_t id) {
    if (!covers()) return;
    // Called for every entry reply that names a directory: the usual answer (already
    // watched) takes one table lookup and no fd.
    const auto dir = inodes_.find_inode(id);
    if (!dir || dir->watched.load(std::memory_order_acquire)) return;
    if (static_cast<std::size_t>(marks_.load(std::memory_order_relaxed)) >= max_dirs_) {
        lost_coverage("more directories than the fd budget allows marks for", 0);
        return;
    }
    if (dir->watched.exchange(true)) return;
    // Pinned first, then found: the mark goes on, and later comes off, through an fd that
    // stays open until the forget.
    const auto pinned = inodes_.pin(id) ? inodes_.find(id) : InodeRef(ESTALE);
    if (!pinned || pinned.shared() != dir) {
        dir->watched.store(false);
        return;
    }
    if (::fanotify_mark(group_.get(), FAN_MARK_ADD, kMask, AT_FDCWD, proc_fd_path(pinned.fd()).c_str()) !=
        0) {
        dir->watched.store(false);
        lost_coverage("cannot mark a directory", errno);
        return;
    }
    stats_.watched_dirs.store(marks_.fetch_add(1) + 1, std::memory_order_relaxed);
}

void BackingWatch::unwatch(Inode& dir, int fd) noexcept {
    if (!dir.watched.exchange(false) || fd < 0) return;
    // Counted off either way: a mark that cannot be removed (already gone with its inode)
    // no longer reports anything.
    (void)::fanotify_mark(group_.get(), FAN_MARK_REMOVE, kMask, AT_FDCWD, proc_fd_path(fd).c_str());
    stats_.watched_dirs.store(marks_.fetch_sub(1) - 1, std::memory_order_relaxed);
}

void BackingWatch::start(fuse_session* se) {
    se_ = se;
    self_pid_ = ::getpid();  // after fuse_daemonize()'s fork: the serving process
    thread_ = std::thread([this, state = state_] {
        run(*state);
        const std::lock_guard lock(state->mu);
        state->exited = true;
        state->cv.notify_all();
    });
}

void BackingWatch::stop() noexcept {
    if (!thread_.joinable()) return;
    state_->stopping.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    bool exited = false;
    {
        std::unique_lock lock(state_->mu);
        exited = state_->cv.wait_for(lock, std::chrono::seconds(2), [this] { return state_->exited; });
    }
    if (exited) {
        thread_.join();
        return;
    }
    // Closing /dev/fuse at session destroy aborts the connection, which releases it.
    spdlog::warn(
        "backing watch: its thread is blocked in an invalidation the kernel cannot finish "
        "before the connection closes; left to end with the process");
    thread_.detach();
}

void BackingWatch::run(const ThreadState& state) noexcept {
    alignas(fanotify_event_metadata) std::array<char, std::size_t{64} * 1024> buf{};
    std::array<pollfd, 2> fds{{{group_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}}};
    for (;;) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            spdlog::warn("backing watch stopped: poll: {}", error_text(errno));
            lost_coverage("stopped", 0);
            return;
        }
        if ((fds[1].revents & POLLIN) != 0) return;
        // Let events gather first: the kernel merges repeats of one event in its queue (the
        // daemon's own writes to a file, one per WRITE), so this thread wakes at most every
        // kGather instead of once per write, at the cost of pushing a change that much later.
        std::this_thread::sleep_for(kGather);
        const ssize_t n = ::read(group_.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            spdlog::warn("backing watch stopped: read: {}", error_text(errno));
            lost_coverage("stopped", 0);
            return;
        }
        try {
            if (!handle_batch(buf.data(), static_cast<std::size_t>(n), state)) return;
        } catch (const std::exception& e) {
            spdlog::warn("backing watch: {}", e.what());
        }
    }
}

bool BackingWatch::handle_batch(const char* buf, std::size_t len, const ThreadState& state) {
    // One batch can name the same file many times (an outside writer); each invalidation is
    // sent once. Directories are opened once per batch.
    struct Dir {
        std::optional<std::uint64_t> id;
        sys::UniqueFd fd;
    };
    std::map<std::string, Dir> dirs;  // by handle bytes
    std::set<std::pair<std::uint64_t, std::string>> names;
    std::map<std::uint64_t, bool> inodes;  // id -> data changed too

    for (std::size_t off = 0; off + FAN_EVENT_METADATA_LEN <= len;) {
        const auto event_len = load<fanotify_event_metadata>(buf + off).event_len;
        if (event_len < FAN_EVENT_METADATA_LEN || off + event_len > len) break;
        const char* event = buf + off;
        off += event_len;
        const auto md = load<fanotify_event_metadata>(event);
        if (md.vers != FANOTIFY_METADATA_VERSION) {
            lost_coverage("unexpected fanotify metadata version", 0);
            return true;
        }
        if ((md.mask & FAN_Q_OVERFLOW) != 0) {
            lost_coverage("event queue overflowed", 0);
            continue;
        }
        if (md.pid == self_pid_) continue;  // our own change, on behalf of the mount
        const auto ev = parse_event(event, event_len);
        if (!ev) continue;
        const std::string key(ev->dir.begin(), ev->dir.end());
        auto [it, fresh] = dirs.try_emplace(key);
        Dir& dir = it->second;
        if (fresh) {
            dir.fd = inodes_.open_handle(reinterpret_cast<const file_handle*>(ev->dir.data()));
            struct stat st {};
            if (dir.fd && ::fstatat(dir.fd.get(), "", &st, AT_EMPTY_PATH) == 0)
                dir.id = inodes_.id_of(st.st_dev, st.st_ino);
        }
        if (!dir.id) continue;  // the kernel does not know this directory (any more)
        const bool self = ev->name.empty() || ev->name == ".";
        if (self) {
            inodes[*dir.id] |= (md.mask & FAN_MODIFY) != 0;
            continue;
        }
        if ((md.mask & kNameEvents) != 0) names.emplace(*dir.id, ev->name);
        if ((md.mask & (FAN_ATTRIB | FAN_MODIFY)) != 0) {
            struct stat st {};
            if (::fstatat(dir.fd.get(), ev->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
            if (const auto child = inodes_.id_of(st.st_dev, st.st_ino))
                inodes[*child] |= (md.mask & FAN_MODIFY) != 0;
        }
    }
    if (!names.empty()) generation_.fetch_add(1, std::memory_order_acq_rel);
    // Errors are expected and ignored: ENOENT when the kernel holds no such entry or inode,
    // ENOTCONN/ENODEV once the mount is going away. Each call may block until a request in
    // that directory is answered; after one, `state` is all this thread may touch.
    const auto pushed = names.size() + inodes.size();
    auto* const se = se_;
    for (const auto& [parent, name] : names) {
        if (state.stopping.load(std::memory_order_acquire)) return false;
        (void)fuse_lowlevel_notify_inval_entry(se, parent, name.c_str(), name.size());
    }
    for (const auto& [id, data] : inodes) {
        if (state.stopping.load(std::memory_order_acquire)) return false;
        (void)fuse_lowlevel_notify_inval_inode(se, id, data ? 0 : -1, 0);  // -1: attributes only
    }
    if (state.stopping.load(std::memory_order_acquire)) return false;
    stats_.outside_changes.fetch_add(pushed, std::memory_order_relaxed);
    return true;
}

}  // namespace splicefs::fs
