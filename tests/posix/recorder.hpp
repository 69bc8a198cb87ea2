#pragma once
// The recorder runs syscalls under one root directory and writes a normalised trace: one step
// per call with its return value or errno and whatever state it observed. The same scenario
// runs on a native directory and on the mount; the two traces must be equal step by step.
#include <sys/stat.h>
#include <sys/types.h>

#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace posixtest {

struct Step {
    std::string op;
    std::string result;
    std::string known;  // id of a documented known difference, empty if none
};
using Trace = std::vector<Step>;

// Credentials of an unprivileged child.
struct Cred {
    uid_t uid;
    gid_t gid;
    std::vector<gid_t> groups;
};

class Recorder {
public:
    Recorder(std::string root, Trace& trace, std::time_t start);
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;
    ~Recorder();

    [[nodiscard]] std::string path(std::string_view rel) const;
    [[nodiscard]] const std::string& root() const { return root_; }
    void set_blocks(bool on) { blocks_ = on; }
    void set_atime(bool on) { atime_ = on; }

    // Steps recorded between these two calls may differ: the id names an entry of
    // tests/KNOWN_DIFFERENCES.md.
    void begin_known(std::string id) { known_ = std::move(id); }
    void end_known() { known_.clear(); }

    // A free-form observation (for properties a scenario checks itself).
    void note(std::string op, std::string result);

    // --- files and handles (handles are indexes, so traces do not depend on fd numbers)
    int open(std::string_view rel, int flags, mode_t mode = 0644);
    int creat(std::string_view rel, mode_t mode = 0644);
    int close(int h);
    long write(int h, std::string_view data);
    long pwrite(int h, std::string_view data, off_t off);
    long read(int h, std::size_t n);
    long pread(int h, std::size_t n, off_t off);
    long lseek(int h, off_t off, int whence);
    int ftruncate(int h, off_t len);
    int truncate(std::string_view rel, off_t len);
    int fallocate(int h, int mode, off_t off, off_t len);
    int fsync(int h);
    long copy_file_range(int hin, off_t in_off, int hout, off_t out_off, std::size_t len);
    int fstat(int h);
    int fchmod(int h, mode_t mode);
    int fchown(int h, uid_t uid, gid_t gid);
    int flock(int h, int op);
    int fcntl_lock(int h, int cmd, short type, off_t start, off_t len);
    int fcntl_getlk(int h, short type, off_t start, off_t len);
    // Whole-file content and stat in one step.
    void cat(std::string_view rel);
    // mmap(MAP_SHARED) the first len bytes of h, write data at off, optionally msync, unmap.
    int mmap_write(int h, std::size_t len, off_t off, std::string_view data, bool sync);
    // mmap (MAP_SHARED or MAP_PRIVATE) the first len bytes of h and record n bytes at off; with
    // `scribble`, write it there through the mapping first (PROT_WRITE) and record again.
    int mmap_read(int h, std::size_t len, off_t off, std::size_t n, bool shared,
                  std::string_view scribble = {});
    // An aligned O_DIRECT write/read of whole 4 KiB blocks filled with `fill`.
    long direct_pwrite(int h, std::size_t len, off_t off, char fill);
    long direct_pread(int h, std::size_t len, off_t off);

    // --- names
    int stat(std::string_view rel);
    int lstat(std::string_view rel);
    int access(std::string_view rel, int mode);
    int mkdir(std::string_view rel, mode_t mode = 0755);
    int rmdir(std::string_view rel);
    int unlink(std::string_view rel);
    int rename(std::string_view from, std::string_view to, unsigned flags = 0);
    int link(std::string_view from, std::string_view to);
    int symlink(std::string_view target, std::string_view rel);
    int readlink(std::string_view rel);
    int mknod(std::string_view rel, mode_t mode, dev_t dev = 0);
    int chmod(std::string_view rel, mode_t mode);
    int chown(std::string_view rel, uid_t uid, gid_t gid);
    int lchown(std::string_view rel, uid_t uid, gid_t gid);
    int utimens(std::string_view rel, const struct timespec times[2], bool nofollow = false);
    int listdir(std::string_view rel);
    // Whether the two names (or a handle and a name) refer to the same inode.
    void same_file(std::string_view a, std::string_view b);
    void same_file_fd(int h, std::string_view b);

    // --- xattrs
    int setxattr(std::string_view rel, std::string_view name, std::string_view value, int flags = 0);
    int lsetxattr(std::string_view rel, std::string_view name, std::string_view value, int flags = 0);
    long getxattr(std::string_view rel, std::string_view name, std::size_t size = 4096);
    long lgetxattr(std::string_view rel, std::string_view name, std::size_t size = 4096);
    long listxattr(std::string_view rel, std::size_t size = 4096);
    int removexattr(std::string_view rel, std::string_view name);

    // Runs fn in a forked child with other credentials (or the same ones when cred is null),
    // appending the child's steps to this trace. The child sees this recorder's handles.
    void as(const Cred* cred, const std::function<void(Recorder&)>& fn);
    void as(const Cred& cred, const std::function<void(Recorder&)>& fn) { as(&cred, fn); }
    // Runs fn in a child that stays alive (holding its locks) while `main` runs here.
    void with_child(const std::function<void(Recorder&)>& child_setup,
                    const std::function<void(Recorder&)>& main);

    [[nodiscard]] int raw_fd(int h) const;
    // Whether handle h is open (scenarios may branch on it: the open step was compared already).
    [[nodiscard]] bool ok(int h) const { return raw_fd(h) >= 0; }
    [[nodiscard]] std::size_t steps() const { return trace_.size(); }
    [[nodiscard]] std::string fmt_stat(const struct stat& st) const;

private:
    std::string fmt_time(const struct timespec& ts) const;
    void add(std::string op, std::string result);
    int result(std::string op, long ret, std::string extra = {});
    int new_handle(int fd);

    std::string root_;
    Trace& trace_;
    std::time_t start_;
    bool blocks_ = true;
    bool atime_ = false;
    std::string known_;
    std::vector<int> fds_;
};

std::string errname(int err);
std::string open_flags_str(int flags);
std::string escape(std::string_view data);

}  // namespace posixtest
