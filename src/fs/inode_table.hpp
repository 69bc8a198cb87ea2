#pragma once
// The kernel's node ids mapped to backing inodes. Each known inode has a lookup count and an
// O_PATH fd; forget() drops counts and erases at zero. Node ids come from a counter and are
// never reused, so a stale id can only miss, never hit another file.
//
// The kernel may know more inodes than the daemon may hold fds (a find(1) over a big tree
// against RLIMIT_NOFILE). So when the backing filesystem hands out file handles, at most
// `max_path_fds` O_PATH fds stay open: the least recently used are closed and reopened from
// their handle (open_by_handle_at) on the next request. An fd pins its inode, so its number
// cannot be reused; an evicted inode is not pinned, and is recognised by its handle, which
// carries the inode generation: a reused inode number never passes for the old file.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "sys/fd.hpp"

namespace splicefs::fs {

namespace survival {
class Mirror;
}

// Kernel passthrough of one inode while it is open. The kernel takes one backing id per
// inode, shared by all its opens, and refuses to mix passthrough and ordinary opens.
struct PassthroughUse {
    std::mutex mu;  // leaf lock; held across the BACKING_OPEN/CLOSE ioctls only
    std::uint32_t opens = 0;
    std::int32_t backing_id = 0;  // > 0 while the opens are in passthrough mode
};

struct Inode {
    dev_t dev = 0;
    ino_t ino = 0;
    mode_t type = 0;  // S_IFMT bits
    PassthroughUse passthrough;
    // A directory whose changes the backing watch reports (backing_watch.hpp); its fd is
    // pinned meanwhile, since the mark is removed through it at forget.
    std::atomic<bool> watched{false};
    // Regular files: content_stamp() (backing_policy.hpp) of the attributes the kernel was last
    // told, 0 when none yet. An OPEN that finds the file changed drops the kernel's cache.
    std::atomic<std::uint64_t> told{0};
    // The backing refused to splice WRITE data into this file: later opens copy (ops_data.cpp).
    std::atomic<bool> splice_refused{false};
    // Its record in the survival area (survival_mirror.hpp); set under the table's lock before
    // the inode is reachable by other threads. No slot: not recorded (no area, or area full).
    std::uint32_t survival_slot = 0xffffffffU;
};

// A struct file_handle, header included; empty when the file has none.
using FileHandle = std::vector<unsigned char>;

// The handle of `name` in dirfd (of dirfd itself for ""), symlinks not followed.
[[nodiscard]] FileHandle handle_at(int dirfd, const char* name);
// Whether the handle provably names inode number ino: true only for the handle types that
// carry the inode number (ext4's and others' FILEID_INO32_GEN), false when it cannot be told.
[[nodiscard]] bool handle_names(const FileHandle& handle, ino_t ino) noexcept;

// An O_PATH | O_NOFOLLOW fd, never used for I/O; shared so that an eviction or a forget
// cannot close it under a request that is using it.
using PathFd = std::shared_ptr<const sys::UniqueFd>;

// What a request holds while it works on an inode: the inode and an open O_PATH fd to it,
// or the errno that made either unavailable (ESTALE for an unknown id or a file that is gone).
class InodeRef {
public:
    explicit InodeRef(int error) noexcept : error_(error) {}
    InodeRef(std::shared_ptr<Inode> inode, PathFd fd) noexcept
        : inode_(std::move(inode)), fd_(std::move(fd)) {}

    explicit operator bool() const noexcept { return inode_ != nullptr; }
    [[nodiscard]] int error() const noexcept { return error_; }
    [[nodiscard]] Inode* operator->() const noexcept { return inode_.get(); }
    [[nodiscard]] Inode& operator*() const noexcept { return *inode_; }
    [[nodiscard]] int fd() const noexcept { return fd_->get(); }
    [[nodiscard]] const std::shared_ptr<Inode>& shared() const noexcept { return inode_; }

private:
    std::shared_ptr<Inode> inode_;
    PathFd fd_;
    int error_ = 0;
};

class InodeTable {
public:
    static constexpr std::uint64_t kRootId = 1;
    static constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();

    InodeTable(sys::UniqueFd root_fd, const struct stat& root_stat, std::size_t max_path_fds = kUnlimited);

    // The inode behind a node id with an open O_PATH fd (reopened from its handle if it was
    // evicted), or the errno to answer.
    [[nodiscard]] InodeRef find(std::uint64_t id);

    // The inode alone, for requests that need no fd (release); nullptr when unknown.
    [[nodiscard]] std::shared_ptr<Inode> find_inode(std::uint64_t id) const;

    // Records one more kernel reference to the inode (dev, ino) described by st, whose O_PATH
    // fd is `fd`: adopted when the inode is new or its fd was evicted, closed otherwise.
    // Returns the node id.
    std::uint64_t remember(sys::UniqueFd fd, const struct stat& st);

    // Same for an inode known by its file handle alone (lookup without an O_PATH open): it
    // gets its fd from the handle on first use. The handle must name (dev, ino) of st.
    std::uint64_t remember_handle(FileHandle handle, const struct stat& st);

    // For names a listing returns: whether (dev, ino) is known and holds an open fd, and one
    // more kernel reference to such an inode without a new fd (nullopt when it is unknown or
    // evicted: then the caller opens the name and calls remember()).
    [[nodiscard]] bool knows_open(dev_t dev, ino_t ino) const;
    // Whether (dev, ino) is known at all (by fd or by handle alone).
    [[nodiscard]] bool knows(dev_t dev, ino_t ino) const;
    std::optional<std::uint64_t> count_if_open(const struct stat& st);

    // Drops n kernel references; erases the inode at zero and hands it back with its fd (null
    // while evicted) for the caller to release. Unknown ids and the root are ignored.
    struct Dropped {
        std::shared_ptr<Inode> inode;
        PathFd fd;
    };
    Dropped forget(std::uint64_t id, std::uint64_t n);

    // Keeps the fd of a known inode open until it is forgotten (no eviction). False when unknown.
    bool pin(std::uint64_t id);

    // The node id of a known inode, without counting a reference.
    [[nodiscard]] std::optional<std::uint64_t> id_of(dev_t dev, ino_t ino) const;

    // Opens a file handle of the backing filesystem O_PATH (invalid fd and errno on failure;
    // ESTALE, never ENOMEM, for a file that is gone).
    [[nodiscard]] sys::UniqueFd open_handle(const struct file_handle* handle) const;

    struct Counts {
        std::size_t inodes = 0;     // known to the kernel
        std::size_t path_fds = 0;   // of those, holding an open O_PATH fd
        std::uint64_t reopens = 0;  // evicted fds reopened from a file handle
    };
    [[nodiscard]] Counts counts() const;
    [[nodiscard]] std::size_t size() const { return counts().inodes; }

    // Whether fds can be evicted: the backing filesystem exports handles and we may open them.
    [[nodiscard]] bool evicts() const noexcept { return handles_work_; }

    // Failover (survival_*.hpp). From mirror_to() on, every change is recorded in the area;
    // the mirror must outlive the table's use. Before it, a recovering worker restore()s the
    // entries a dead worker recorded (fd: the dead worker's O_PATH fd, already checked to be
    // this inode, or invalid: reopened from the handle on first use).
    struct Restored {
        std::uint64_t id = 0;
        dev_t dev = 0;
        ino_t ino = 0;
        mode_t type = 0;
        FileHandle handle;
        std::uint64_t nlookup = 0;
        sys::UniqueFd fd;
        bool pinned = false;
        std::uint32_t slot = 0xffffffffU;
    };
    // The inode, for the caller to restore what else it recorded (passthrough).
    std::shared_ptr<Inode> restore(Restored r);
    void restore_next_id(std::uint64_t next);
    void mirror_to(survival::Mirror* mirror);

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
        PathFd fd;                               // null while evicted
        FileHandle handle;                       // empty: cannot be reopened, so never evicted
        bool pinned = false;                     // pin(): never evicted either
        bool was_open = false;                   // a later open from the handle is a reopen
        std::list<std::uint64_t>::iterator lru;  // valid while fd is set and evictable()
        [[nodiscard]] bool evictable() const noexcept { return !handle.empty() && !pinned; }
    };

    // Under mu_: an fd for entry id became open (adopted or reopened); closes the coldest
    // evictable ones beyond the cap, handing them to `closed` to be released after the lock.
    void opened_locked(std::uint64_t id, Entry& entry, std::vector<PathFd>& closed);
    // Under mu_: entry is about to be erased; its fd leaves the count and the LRU list.
    void unlink_locked(Entry& entry);
    // Under mu_: the area learns a new entry / its lookup count (no-ops without a mirror).
    void publish_locked(std::uint64_t id, Entry& entry);
    void count_changed_locked(const Entry& entry) noexcept;
    std::uint64_t next_id_locked();

    const sys::UniqueFd mount_fd_;  // open_by_handle_at needs a real (non-O_PATH) fd on the fs
    const bool handles_work_;
    const std::size_t max_path_fds_;

    // Lock order: mu_ is a leaf lock; never held across a syscall or a fuse_reply_*.
    mutable std::mutex mu_;
    std::unordered_map<std::uint64_t, Entry> by_id_;
    std::unordered_map<Key, std::uint64_t, KeyHash> by_key_;
    std::list<std::uint64_t> lru_;  // evictable entries with an open fd, most recently used first
    std::size_t path_fds_ = 0;
    std::uint64_t reopens_ = 0;
    std::uint64_t next_id_ = kRootId + 1;
    survival::Mirror* mirror_ = nullptr;  // the area's writer while failover is on (not owned)
};

}  // namespace splicefs::fs
