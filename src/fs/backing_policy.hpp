#pragma once
// What the backing filesystem allows, decided in one place: at mount, whether the backing
// watch (backing_watch.hpp) and its long timeouts apply; at OPEN, whether the kernel may keep
// the file's cached pages (close-to-open consistency on every backing).
//
// The watch only sees changes made through this kernel. On a network, cluster or FUSE backing
// other machines (or the FUSE daemon's own clients) change files behind it: fanotify marks
// succeed there and stay silent, so long timeouts would be trusted where nothing backs them.
// Hence an explicit list of local filesystem types; anything else gets --cache=auto without
// the watch.
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "core/config.hpp"

namespace splicefs::fs {

class Fs;
struct Inode;

struct BackingPolicy {
    std::string fs_type;  // "ext4", "xfs", "fuse.glusterfs", ... (mountinfo's name when known)
    bool local = false;   // on the list of filesystems whose changes all pass through this kernel
    bool watch = false;   // start the backing watch (it may still turn out unavailable)
    // Let the kernel cache "no such name" (negative entries). Not on a shared backing: a name
    // another client creates would stay hidden for the entry timeout, where the backing's own
    // client (GlusterFS: negative-timeout 0) shows it at once.
    bool negative_entries = false;
    // The backing stores POSIX ACLs. If not (a GlusterFS client mounted without -o acl), the
    // kernel must not be told to enforce them: it would ask for system.posix_acl_access in
    // its permission checks, get EOPNOTSUPP and fail other users' opens with it.
    bool posix_acls = true;
    std::string reason;  // why watch is what it is, for the log and `splicefs stats`
};

// Decides from the options and the backing root's statfs f_type (root_fd: any fd on it).
[[nodiscard]] BackingPolicy decide_backing_policy(const Config& config, int root_fd);

// Whether the statfs f_type is one of the local filesystems (exposed for tests).
[[nodiscard]] bool is_local_fs_type(std::int64_t f_type) noexcept;

// A digest of the attributes that tell a regular file's contents changed (size, mtime,
// ctime); never 0, which means "nothing told yet".
[[nodiscard]] std::uint64_t content_stamp(const struct stat& st) noexcept;

// At OPEN (fd: the new backing handle): whether the kernel may keep its cached pages. When
// the file changed since the kernel was last told its attributes, the cached pages and
// attributes are dropped so that this open reads the new contents. One fstat per open.
[[nodiscard]] bool open_keeps_cache(Fs& fs, fuse_ino_t ino, Inode& inode, int fd);

// At RELEASE of a handle that wrote: the kernel's pages hold what was written through the
// mount, so the file as it is now is what the kernel knows (no drop at the next open).
void note_written(Inode& inode, int fd) noexcept;

}  // namespace splicefs::fs
