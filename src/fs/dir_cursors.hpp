#pragma once
// Directory handles are fds: fi->fh is the directory's fd from OPENDIR to RELEASEDIR, so a
// handle means the same thing to every worker (the fd table outlives them; see survival.hpp).
// The listing state (a DIR* reading that fd and the offset it stands at) is this worker's
// memory only: made at the first READDIR the worker sees for a handle, positioned at the
// kernel's offset with seekdir, and freed at RELEASEDIR.
#include <dirent.h>
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <unordered_map>

namespace splicefs::fs {

struct Inode;

struct DirCloser {
    void operator()(DIR* dp) const noexcept { ::closedir(dp); }
};

struct DirCursor {
    std::unique_ptr<DIR, DirCloser> dp;  // owns the handle fd once made
    std::shared_ptr<Inode> dir;          // readdirplus looks entries up in it
    std::mutex mu;                       // one listing cursor per handle
    off_t offset = -1;                   // where dp stands; -1: not positioned yet
    dirent* pending = nullptr;           // read but not yet returned (did not fit the last reply)
};

class DirCursors {
public:
    // The cursor of handle fd, made on first use (null with errno set when fdopendir fails).
    std::shared_ptr<DirCursor> get(int fd, const std::shared_ptr<Inode>& dir);
    // Forgets the cursor; true when there was one (its DIR then closes the fd, else the caller).
    bool erase(int fd);

private:
    std::mutex mu_;  // leaf lock: the map only
    std::unordered_map<int, std::shared_ptr<DirCursor>> by_fd_;
};

}  // namespace splicefs::fs
