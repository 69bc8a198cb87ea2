#include "fs/survival_mirror.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace splicefs::fs::survival {

std::uint32_t Mirror::publish_node(std::uint64_t id, dev_t dev, ino_t ino, mode_t type,
                                   std::span<const unsigned char> handle, std::uint64_t nlookup) noexcept {
    std::uint32_t slot = kNoSlot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        auto& high = area_.header().node_high_water;
        const auto next = high.load(std::memory_order_relaxed);
        if (next >= nodes_.size()) {
            static bool warned = false;  // under InodeTable's lock
            if (!std::exchange(warned, true))
                spdlog::warn("survival area full ({} nodes): newer inodes answer ESTALE after a failover",
                             nodes_.size());
            return kNoSlot;
        }
        // Raised before the slot is filled: recovery scans up to it and skips unpublished slots.
        high.store(next + 1, std::memory_order_release);
        slot = next;
    }
    auto& n = nodes_[slot];
    n.id = id;
    n.dev = static_cast<std::uint64_t>(dev);
    n.ino = static_cast<std::uint64_t>(ino);
    n.type = static_cast<std::uint32_t>(type);
    n.handle_len = static_cast<std::uint32_t>(std::min(handle.size(), sizeof n.handle));
    if (handle.size() > sizeof n.handle) n.handle_len = 0;  // cannot happen (MAX_HANDLE_SZ)
    std::memcpy(n.handle, handle.data(), n.handle_len);
    n.nlookup.store(nlookup, std::memory_order_relaxed);
    n.passthrough.store(0, std::memory_order_relaxed);
    n.pinned.store(0, std::memory_order_relaxed);
    n.state.store(NodeSlot::kLive, std::memory_order_release);
    return slot;
}

void Mirror::set_count(std::uint32_t slot, std::uint64_t nlookup) noexcept {
    if (slot != kNoSlot) nodes_[slot].nlookup.store(nlookup, std::memory_order_release);
}

void Mirror::set_pinned(std::uint32_t slot) noexcept {
    if (slot != kNoSlot) nodes_[slot].pinned.store(1, std::memory_order_release);
}

void Mirror::free_node(std::uint32_t slot) noexcept {
    if (slot == kNoSlot) return;
    auto& n = nodes_[slot];
    n.nlookup.store(0, std::memory_order_release);
    n.state.store(NodeSlot::kFree, std::memory_order_release);
    free_.push_back(slot);
}

void Mirror::set_next_id(std::uint64_t next) noexcept {
    area_.header().next_node_id.store(next, std::memory_order_release);
}

void Mirror::set_passthrough(std::uint32_t slot, std::int32_t backing_id, std::uint32_t opens) noexcept {
    if (slot == kNoSlot) return;
    const auto word = (static_cast<std::uint64_t>(opens) << 32) | static_cast<std::uint32_t>(backing_id);
    nodes_[slot].passthrough.store(word, std::memory_order_release);
}

void Mirror::note_backing_id(std::int32_t backing_id) noexcept {
    if (backing_id <= 0) return;
    auto& high = area_.header().backing_id_high;
    auto seen = high.load(std::memory_order_relaxed);
    const auto id = static_cast<std::uint32_t>(backing_id);
    while (seen < id && !high.compare_exchange_weak(seen, id, std::memory_order_acq_rel)) {
    }
}

bool Mirror::owns(int fd, FdKind kind, std::uint64_t node) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return true;
    return fds_[static_cast<std::size_t>(fd)].word.load(std::memory_order_acquire) ==
           FdSlot::pack(kind, node);
}

void Mirror::own_fd(int fd, FdKind kind, std::uint64_t node) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) {
        static std::atomic<bool> warned{false};
        if (fd >= 0 && !warned.exchange(true))
            spdlog::warn("fd {} is beyond the survival area ({} fds): it will not survive a failover", fd,
                         fds_.size());
        return;
    }
    auto& high = area_.header().fd_high_water;
    const auto above = static_cast<std::uint32_t>(fd) + 1;
    for (auto seen = high.load(std::memory_order_relaxed); seen < above;)
        if (high.compare_exchange_weak(seen, above, std::memory_order_release)) break;
    fds_[static_cast<std::size_t>(fd)].word.store(FdSlot::pack(kind, node), std::memory_order_release);
}

void Mirror::drop_fd(int fd) noexcept {
    if (fd >= 0 && static_cast<std::size_t>(fd) < fds_.size())
        fds_[static_cast<std::size_t>(fd)].word.store(0, std::memory_order_release);
}

void Mirror::rebuild_free_list(const std::vector<bool>& used) noexcept {
    free_.clear();
    const auto high =
        std::min<std::size_t>(area_.header().node_high_water.load(std::memory_order_acquire), nodes_.size());
    for (std::size_t i = high; i-- > 0;) {
        if (i >= used.size() || !used[i]) {
            nodes_[i].state.store(NodeSlot::kFree, std::memory_order_release);
            free_.push_back(static_cast<std::uint32_t>(i));
        }
    }
}

}  // namespace splicefs::fs::survival
