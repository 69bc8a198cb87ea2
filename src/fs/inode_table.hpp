#pragma once
// The kernel's node ids mapped to backing inodes. Each known inode holds an O_PATH fd that
// pins it (so its inode number cannot be reused while the kernel knows it) and a lookup
// count; forget() drops counts and erases at zero. Node ids come from a counter and are
// never reused, so a stale id can only miss, never hit another file.
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "sys/fd.hpp"

namespace splicefs::fs {

// Kernel passthrough of one inode while it is open. The kernel takes one backing id per
// inode, shared by all its opens, and refuses to mix passthrough and ordinary opens.
struct PassthroughUse {
    std::mutex mu;  // leaf lock; held across the BACKING_OPEN/CLOSE ioctls only
    std::uint32_t opens = 0;
    std::int32_t backing_id = 0;  // > 0 while the opens are in passthrough mode
};

struct Inode {
    sys::UniqueFd fd;  // O_PATH | O_NOFOLLOW; never used for I/O
    dev_t dev = 0;
    ino_t ino = 0;
    mode_t type = 0;  // S_IFMT bits
    PassthroughUse passthrough;
};

class InodeTable {
public:
    static constexpr std::uint64_t kRootId = 1;

    explicit InodeTable(sys::UniqueFd root_fd, const struct stat& root_stat);

    // The inode behind a node id, or nullptr when the id is unknown (the caller answers ESTALE).
    // The shared_ptr keeps the fd open while a request uses it, even if forget() races.
    [[nodiscard]] std::shared_ptr<Inode> find(std::uint64_t id) const;

    // Records one more kernel reference to the inode (dev, ino) described by st. When the inode
    // is new, fd is adopted; otherwise fd is closed. Returns the node id.
    std::uint64_t remember(sys::UniqueFd fd, const struct stat& st);

    // Drops n kernel references; erases the inode at zero. Unknown ids and the root are ignored.
    void forget(std::uint64_t id, std::uint64_t n);

    [[nodiscard]] std::size_t size() const;

private:
    struct Key {
        dev_t dev;
        ino_t ino;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept {
            return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(k.ino) * 0x9E3779B97F4A7C15ULL ^
                                              static_cast<std::uint64_t>(k.dev));
        }
    };
    struct Entry {
        std::shared_ptr<Inode> inode;
        std::uint64_t nlookup = 0;
    };

    // Lock order: mu_ is a leaf lock; never held across a syscall or a fuse_reply_*.
    mutable std::mutex mu_;
    std::unordered_map<std::uint64_t, Entry> by_id_;
    std::unordered_map<Key, std::uint64_t, KeyHash> by_key_;
    std::uint64_t next_id_ = kRootId + 1;
};

}  // namespace splicefs::fs
