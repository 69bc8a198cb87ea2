#include "fs/survival.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "fs/filesystem.hpp"
#include "fs/inflight.hpp"
#include "fs/passthrough.hpp"
#include "fs/survival_mirror.hpp"

namespace splicefs::fs::survival {

namespace {
Recovered g_last;  // written by attach() before serving starts; read by tests and logs

// Whether fd is an O_PATH fd of (dev, ino): what a dead worker recorded, not a reused number.
bool names_inode(int fd, std::uint64_t dev, std::uint64_t ino) {
    const int flags = ::fcntl(fd, F_GETFL);
    struct stat st {};
    return flags >= 0 && (flags & O_PATH) != 0 && ::fstat(fd, &st) == 0 &&
           static_cast<std::uint64_t>(st.st_dev) == dev && static_cast<std::uint64_t>(st.st_ino) == ino;
}

// Kernel passthrough backing ids belong to the connection. An inode's opens are counted again
// from the open file handles the area holds (what the kernel will RELEASE), not taken from
// the record: a death between an open's passthrough_prepare() and owning its handle, or
// between a release giving its handle up and passthrough_release(), left the record off by
// one. An id no handle needs, or recorded as being closed, is closed; so are ids near the
// highest one handed out that no inode recorded (a death right after BACKING_OPEN). Closing
// an id leaves open kernel files alone: each holds its backing file itself.
class BackingIds {
public:
    BackingIds(Fs& fs, Area& area)
        : fs_(fs),
          on_(fs.config.passthrough),
          high_(area.header().backing_id_high.load(std::memory_order_acquire)) {}

    void restore(Inode& inode, std::int32_t recorded, std::uint32_t handles) {
        if (!on_) return;
        inode.passthrough.opens = handles;
        inode.passthrough.backing_id = recorded > 0 && handles > 0 ? recorded : 0;
        if (inode.passthrough.backing_id > 0) {
            kept_.push_back(recorded);
        } else {
            retire(recorded);
        }
        if (fs_.mirror)
            fs_.mirror->set_passthrough(inode.survival_slot, inode.passthrough.backing_id, handles);
    }

    void retire(std::int32_t recorded) {
        if (!on_ || recorded == 0) return;
        const std::int32_t id = recorded < 0 ? -recorded : recorded;
        if (close_backing_id(fs_, id)) ++closed_;
        retired_.push_back(id);
    }

    // After every inode was restored; returns how many ids were closed in all.
    std::size_t sweep() {
        if (!on_) return closed_;
        const std::uint32_t lo = high_ > kAround ? high_ - kAround : 1;
        const std::uint32_t hi = std::min<std::uint32_t>(high_, INT32_MAX - kAround) + kAround;
        for (std::uint32_t id = lo; id <= hi; ++id) {
            const auto sid = static_cast<std::int32_t>(id);
            if (std::find(kept_.begin(), kept_.end(), sid) != kept_.end()) continue;
            if (std::find(retired_.begin(), retired_.end(), sid) != retired_.end()) continue;
            if (close_backing_id(fs_, sid)) ++closed_;
        }
        return closed_;
    }

private:
    // Ids handed out at once but recorded out of order: more than the threads that can be
    // between BACKING_OPEN and its record at the same time.
    static constexpr std::uint32_t kAround = 64;
    Fs& fs_;
    bool on_;
    std::uint32_t high_;
    std::vector<std::int32_t> kept_;
    std::vector<std::int32_t> retired_;
    std::size_t closed_ = 0;
};

Recovered rebuild(Fs& fs, Area& area, Mirror& mirror) {
    Recovered found;
    const auto fds = area.used_fds();
    std::unordered_map<std::uint64_t, int> path_fd_of;          // node id -> recorded O_PATH fd
    std::unordered_map<std::uint64_t, std::uint32_t> files_of;  // node id -> open file handles
    for (std::size_t fd = 0; fd < fds.size(); ++fd) {
        const auto word = fds[fd].word.load(std::memory_order_acquire);
        switch (FdSlot::kind_of(word)) {
            case FdKind::Path:
                path_fd_of[FdSlot::node_of(word)] = static_cast<int>(fd);
                break;
            case FdKind::File:
                ++found.open_files;
                ++files_of[FdSlot::node_of(word)];
                break;
            case FdKind::Dir:
                ++found.open_dirs;
                break;
            case FdKind::None:
                break;
        }
    }
    const auto nodes = area.nodes();
    const auto high =
        std::min<std::size_t>(area.header().node_high_water.load(std::memory_order_acquire), nodes.size());
    std::vector<bool> used(high, false);
    std::vector<std::uint64_t> watched;  // directories the backing watch had marked (pinned)
    BackingIds ids(fs, area);
    for (std::size_t i = 0; i < high; ++i) {
        const auto& n = nodes[i];
        if (n.state.load(std::memory_order_acquire) != NodeSlot::kLive) continue;
        const auto nlookup = n.nlookup.load(std::memory_order_acquire);
        int recorded_fd = -1;
        if (const auto it = path_fd_of.find(n.id); it != path_fd_of.end()) {
            recorded_fd = it->second;
            path_fd_of.erase(it);
        }
        sys::UniqueFd fd;
        if (recorded_fd >= 0) {
            if (nlookup > 0 && names_inode(recorded_fd, n.dev, n.ino)) {
                fd.reset(recorded_fd);
                ++found.fds_adopted;
            } else {
                // Forgotten while its fd was still recorded (the close is ours to finish), or
                // the number now names something else (then not ours: left open).
                if (names_inode(recorded_fd, n.dev, n.ino)) sys::UniqueFd{recorded_fd}.reset();
                mirror.drop_fd(recorded_fd);
                ++found.fds_dropped;
            }
        }
        const auto pt = n.passthrough.load(std::memory_order_acquire);
        const auto backing_id = static_cast<std::int32_t>(pt & 0xffffffffU);
        if (nlookup == 0 || (!fd && n.handle_len == 0)) {  // unrecoverable: ESTALE later
            ids.retire(backing_id);
            continue;
        }
        InodeTable::Restored r;
        r.id = n.id;
        r.dev = static_cast<dev_t>(n.dev);
        r.ino = static_cast<ino_t>(n.ino);
        r.type = static_cast<mode_t>(n.type);
        r.handle.assign(n.handle, n.handle + n.handle_len);
        r.nlookup = nlookup;
        r.fd = std::move(fd);
        r.pinned = n.pinned.load(std::memory_order_acquire) != 0;
        r.slot = static_cast<std::uint32_t>(i);
        const auto inode = fs.inodes.restore(std::move(r));
        ids.restore(*inode, backing_id, files_of[n.id]);
        if (inode->passthrough.backing_id > 0) ++found.passthrough;
        if (n.pinned.load(std::memory_order_acquire) != 0 && S_ISDIR(n.type)) watched.push_back(n.id);
        used[i] = true;
        ++found.nodes;
    }
    // O_PATH records of nodes that were never published or already freed.
    for (const auto& [node, fd] : path_fd_of) {
        mirror.drop_fd(fd);
        ++found.fds_dropped;
    }
    found.backing_ids_closed = ids.sweep();
    mirror.rebuild_free_list(used);
    fs.inodes.restore_next_id(area.header().next_node_id.load(std::memory_order_acquire));
    // Their marks are still on the fanotify group (an fd of the supervisor); this worker's
    // watch learns them again (marking twice is harmless) so that forgets unmark them.
    if (fs.watch)
        for (const auto id : watched) fs.watch->watch(id);
    return found;
}
}  // namespace

void attach(Fs& fs, Area& area, bool recovering) {
    age_inflight(area);
    fs.mirror = std::make_unique<Mirror>(area);
    fs.inodes.mirror_to(fs.mirror.get());
    if (!recovering) {
        fs.inodes.restore_next_id(area.header().next_node_id.load(std::memory_order_acquire));
        return;
    }
    g_last = rebuild(fs, area, *fs.mirror);
    spdlog::info(
        "failover: rebuilt {} inodes ({} O_PATH fds kept, {} dropped), {} open files, {} open "
        "directories, {} passthrough backing ids ({} left by the dead worker closed)",
        g_last.nodes, g_last.fds_adopted, g_last.fds_dropped, g_last.open_files, g_last.open_dirs,
        g_last.passthrough, g_last.backing_ids_closed);
}

std::vector<int> referenced_fds(const Area& area) {
    std::vector<int> out;
    const auto fds = area.used_fds();
    for (std::size_t fd = 0; fd < fds.size(); ++fd)
        if (fds[fd].word.load(std::memory_order_acquire) != 0) out.push_back(static_cast<int>(fd));
    return out;
}

Recovered last_recovery() noexcept {
    return g_last;
}

}  // namespace splicefs::fs::survival
