#pragma once
// Where reshaping (core/reshape.hpp) meets the requests: attributes on their way to the kernel,
// changes and new objects on their way to the backing. Every op calls these behind one
// `if (fs.reshaping)`, so a mount without reshaping options pays one predictable branch.
//
// The rule (README "Reshaping access"): the kernel checks every access against the attributes
// it was shown (default_permissions is required). What passes is carried out on the backing as
// without reshaping (as the daemon), except that new objects are created as the owner the
// creation policy names, bypassing the backing's permission checks the kernel already made,
// and that a caller other than root never gets a setuid/setgid file it does not really own.
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include "fs/credentials.hpp"
#include "fs/inode_table.hpp"

namespace splicefs::fs {

class Fs;

// Rewrites attributes for the caller of req; EIO when an id overflows with an offset.
[[nodiscard]] int reshape_attr(const Fs& fs, fuse_req_t req, struct stat& st);
// Same for an entry about to be replied; on failure drops the lookup count it carries.
[[nodiscard]] int reshape_entry(Fs& fs, fuse_req_t req, fuse_entry_param& e);

// Applies the chown/chgrp/chmod policies and maps to a SETATTR: may clear bits of to_set and
// rewrite attr's ids and mode. Returns an errno to refuse the request.
[[nodiscard]] int reshape_setattr(const Fs& fs, fuse_req_t req, const InodeRef& inode, struct stat& attr,
                                  int& to_set);

// Identity and mode of a new object created by req's caller. `mode` carries the type bits.
struct Creation {
    int error;
    CallerCredentials::Identity as;
    mode_t mode;
};
[[nodiscard]] Creation reshape_creation(const Fs& fs, fuse_req_t req, mode_t mode);

}  // namespace splicefs::fs
