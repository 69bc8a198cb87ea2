#pragma once
// The worker's writer into the survival area (survival_area.hpp): InodeTable and the ops
// record every change of state that must outlive the worker. Each call is a few stores into
// shared memory and no syscall; each leaves the area readable if the worker dies right after.
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

#include "fs/survival_area.hpp"

namespace splicefs::fs::survival {

class Mirror {
public:
    static constexpr std::uint32_t kNoSlot = 0xffffffffU;

    explicit Mirror(Area& area) noexcept : area_(area), nodes_(area.nodes()), fds_(area.fds()) {}

    // Node slots. Call under InodeTable's lock (the free list is this worker's memory).
    // publish_node() returns kNoSlot when the area is full: that node will not survive a worker.
    std::uint32_t publish_node(std::uint64_t id, dev_t dev, ino_t ino, mode_t type,
                               std::span<const unsigned char> handle, std::uint64_t nlookup) noexcept;
    void set_count(std::uint32_t slot, std::uint64_t nlookup) noexcept;
    void set_pinned(std::uint32_t slot) noexcept;
    void free_node(std::uint32_t slot) noexcept;
    // The id counter, stored before an id is handed out so that none is ever handed out twice.
    void set_next_id(std::uint64_t next) noexcept;
    // Passthrough backing id and its opens (under the inode's passthrough lock).
    void set_passthrough(std::uint32_t slot, std::int32_t backing_id, std::uint32_t opens) noexcept;
    // Every backing id the kernel hands out, right after BACKING_OPEN: the next worker closes
    // the ids around the highest one that no inode recorded (handed out, then a death).
    void note_backing_id(std::int32_t backing_id) noexcept;

    // Fd ownership: the fd is ours (an O_PATH fd of node, an open file or directory handle of
    // node) from own_fd() until drop_fd(), which comes before the close.
    void own_fd(int fd, FdKind kind, std::uint64_t node) noexcept;
    void drop_fd(int fd) noexcept;
    // Whether fd is recorded as kind of node; true for an fd beyond the area (never recorded).
    [[nodiscard]] bool owns(int fd, FdKind kind, std::uint64_t node) const noexcept;

    // Recovery (attach): the slots in use were rebuilt by the caller; the rest are free.
    void rebuild_free_list(const std::vector<bool>& used) noexcept;

    [[nodiscard]] Area& area() const noexcept { return area_; }

private:
    Area& area_;
    std::span<NodeSlot> nodes_;
    std::span<FdSlot> fds_;
    std::vector<std::uint32_t> free_;  // freed slots below the high-water mark
};

}  // namespace splicefs::fs::survival
