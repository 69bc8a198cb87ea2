// Locks. flock() is forwarded to the backing file, so BSD locks taken through the mount and
// on the backing directory see each other. POSIX record locks (fcntl) are left to the
// kernel's local lock manager: forwarding them would make every caller the daemon's process,
// and POSIX locks of one process merge instead of conflicting.
#include <sys/file.h>

#include <cerrno>

#include "fs/filesystem.hpp"
#include "fs/ops.hpp"

namespace splicefs::fs::ops {

int flock(Fs& /*fs*/, fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi, int op) {
    if (::flock(static_cast<int>(fi->fh), op) != 0) return errno;
    fuse_reply_err(req, 0);
    return 0;
}

}  // namespace splicefs::fs::ops
