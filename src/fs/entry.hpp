#pragma once
// Turning a backing name into a kernel entry: open it O_PATH without following symlinks,
// stat it, refuse to cross into another filesystem, and count the kernel's new reference.
#include <fuse_lowlevel.h>

#include "fs/inode_table.hpp"
#include "sys/fd.hpp"

namespace splicefs::fs {

class Fs;

// Fills e for `name` inside `parent`; returns 0 or an errno. On success the inode's lookup
// count went up by one (the kernel owes us a forget for it).
// parent_fd is any fd of the parent directory (its O_PATH fd, or an open listing's fd).
int lookup_entry(Fs& fs, const Inode& parent, int parent_fd, const char* name, fuse_entry_param& e);
inline int lookup_entry(Fs& fs, const InodeRef& parent, const char* name, fuse_entry_param& e) {
    return lookup_entry(fs, *parent, parent.fd(), name, e);
}

// Same, for a name a directory listing returned with inode number listed_ino (readdirplus):
// when the kernel already knows that inode, one fstatat gives the attributes, with no O_PATH
// open and close; otherwise (or if the name changed meanwhile) a plain lookup_entry().
int lookup_listed(Fs& fs, const Inode& parent, int parent_fd, const char* name, ino_t listed_ino,
                  fuse_entry_param& e);

// Same, for an object we already hold an fd to (just created): identified through that fd
// (its file handle, or an O_PATH reopen where handles do not work), so a concurrent rename of
// the name cannot make us answer for another file.
int entry_from_fd(Fs& fs, int fd, fuse_entry_param& e);

// Attributes of an inode, through an open handle when there is one.
int stat_inode(const InodeRef& inode, const fuse_file_info* fi, struct stat& st);

}  // namespace splicefs::fs
