#include "recorder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>

namespace posixtest {
namespace {

std::string str(std::string_view s) {
    return std::string(s);
}

std::string quoted(std::string_view s) {
    if (s.size() > 40) return "\"" + std::string(s.substr(0, 20)) + "...(" + std::to_string(s.size()) + ")\"";
    return "\"" + std::string(s) + "\"";
}

std::uint64_t fnv1a(std::string_view data) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const char c : data) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

std::string oct(unsigned v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0%o", v);
    return buf;
}

// The content of a read, short enough to print and exact enough to compare.
std::string content(std::string_view data) {
    if (data.size() <= 48) return "\"" + escape(data) + "\"";
    const auto zeros = std::count(data.begin(), data.end(), '\0');
    char buf[80];
    std::snprintf(buf, sizeof buf, "<%zu bytes, %ld zero, fnv %016llx>", data.size(),
                  static_cast<long>(zeros), static_cast<unsigned long long>(fnv1a(data)));
    return buf;
}

void write_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

std::string serialize(const Trace& t, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < t.size(); ++i) {
        out += t[i].op + '\x1f' + t[i].result + '\x1f' + t[i].known + '\x1e';
    }
    return out;
}

void deserialize(const std::string& s, Trace& t) {
    std::size_t pos = 0;
    while (pos < s.size()) {
        const auto end = s.find('\x1e', pos);
        if (end == std::string::npos) break;
        const std::string rec = s.substr(pos, end - pos);
        const auto a = rec.find('\x1f');
        const auto b = rec.find('\x1f', a + 1);
        t.push_back({rec.substr(0, a), rec.substr(a + 1, b - a - 1), rec.substr(b + 1)});
        pos = end + 1;
    }
}

// Reads from fd until EOF or until the byte `stop`, which is consumed.
std::string read_until(int fd, int stop) {
    std::string out;
    char c = 0;
    for (;;) {
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (stop >= 0 && c == static_cast<char>(stop)) break;
        out.push_back(c);
    }
    return out;
}

[[noreturn]] void child_fail(int fd, const char* what) {
    const std::string s = std::string("child setup\x1f") + what + " " + errname(errno) + "\x1f\x1e";
    write_all(fd, s);
    ::_exit(1);
}

void drop_to(const Cred& cred, int report_fd) {
    if (::setgroups(cred.groups.size(), cred.groups.data()) != 0) child_fail(report_fd, "setgroups");
    if (::setresgid(cred.gid, cred.gid, cred.gid) != 0) child_fail(report_fd, "setresgid");
    if (::setresuid(cred.uid, cred.uid, cred.uid) != 0) child_fail(report_fd, "setresuid");
}

struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

}  // namespace

std::string errname(int err) {
    const char* name = ::strerrorname_np(err);
    return name != nullptr ? name : "E" + std::to_string(err);
}

std::string escape(std::string_view data) {
    std::string out;
    for (const char c : data) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '\\' && c != '"') {
            out.push_back(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        }
    }
    return out;
}

std::string open_flags_str(int flags) {
    std::string out;
    switch (flags & O_ACCMODE) {
        case O_RDONLY:
            out = "O_RDONLY";
            break;
        case O_WRONLY:
            out = "O_WRONLY";
            break;
        default:
            out = "O_RDWR";
            break;
    }
    const std::pair<int, const char*> names[] = {
        {O_CREAT, "CREAT"},         {O_EXCL, "EXCL"},         {O_TRUNC, "TRUNC"},   {O_APPEND, "APPEND"},
        {O_DIRECTORY, "DIRECTORY"}, {O_NOFOLLOW, "NOFOLLOW"}, {O_DIRECT, "DIRECT"}, {O_NONBLOCK, "NONBLOCK"},
        {O_PATH, "PATH"},           {O_NOATIME, "NOATIME"},   {O_SYNC, "SYNC"}};
    int rest = flags & ~O_ACCMODE;
    if ((rest & O_TMPFILE) == O_TMPFILE) {
        out += "|TMPFILE";
        rest &= ~O_TMPFILE;
    }
    for (const auto& [bit, name] : names) {
        if ((rest & bit) == bit) {
            out += std::string("|") + name;
            rest &= ~bit;
        }
    }
    if (rest != 0) out += "|" + oct(static_cast<unsigned>(rest));
    return out;
}

Recorder::Recorder(std::string root, Trace& trace, std::time_t start)
    : root_(std::move(root)), trace_(trace), start_(start) {}

Recorder::~Recorder() {
    for (const int fd : fds_) {
        if (fd >= 0) ::close(fd);
    }
}

std::string Recorder::path(std::string_view rel) const {
    if (rel.empty()) return root_;
    return root_ + "/" + std::string(rel);
}

void Recorder::add(std::string op, std::string result) {
    trace_.push_back({std::move(op), std::move(result), known_});
}

void Recorder::note(std::string op, std::string result) {
    add(std::move(op), std::move(result));
}

int Recorder::result(std::string op, long ret, std::string extra) {
    const int err = errno;
    if (ret < 0) {
        add(std::move(op), "-1 " + errname(err));
    } else {
        add(std::move(op), std::to_string(ret) + (extra.empty() ? "" : " " + extra));
    }
    errno = err;
    return static_cast<int>(ret);
}

int Recorder::new_handle(int fd) {
    fds_.push_back(fd);
    return static_cast<int>(fds_.size() - 1);
}

int Recorder::raw_fd(int h) const {
    if (h < 0 || static_cast<std::size_t>(h) >= fds_.size()) return -1;
    return fds_[static_cast<std::size_t>(h)];
}

std::string Recorder::fmt_time(const struct timespec& ts) const {
    // Times set by a scenario (far from now) compare exactly; times the kernel set from its
    // clock only as "now", since two runs never happen at the same instant.
    if (ts.tv_sec >= start_ - 5 && ts.tv_sec <= ::time(nullptr) + 5) return "now";
    return std::to_string(ts.tv_sec) + "." + std::to_string(ts.tv_nsec);
}

std::string Recorder::fmt_stat(const struct stat& st) const {
    std::string type = "?";
    switch (st.st_mode & S_IFMT) {
        case S_IFREG:
            type = "reg";
            break;
        case S_IFDIR:
            type = "dir";
            break;
        case S_IFLNK:
            type = "lnk";
            break;
        case S_IFIFO:
            type = "fifo";
            break;
        case S_IFSOCK:
            type = "sock";
            break;
        case S_IFCHR:
            type = "chr";
            break;
        case S_IFBLK:
            type = "blk";
            break;
        default:
            break;
    }
    std::string out = type + " mode=" + oct(st.st_mode & 07777) + " nlink=" + std::to_string(st.st_nlink) +
                      " size=" + std::to_string(st.st_size) + " uid=" + std::to_string(st.st_uid) +
                      " gid=" + std::to_string(st.st_gid);
    // Directory blocks depend on how the filesystem laid out the extent tree, not on POSIX.
    if (blocks_ && S_ISREG(st.st_mode)) out += " blocks=" + std::to_string(st.st_blocks);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) out += " rdev=" + std::to_string(st.st_rdev);
    out += " mtime=" + fmt_time(st.st_mtim) + " ctime=" + fmt_time(st.st_ctim);
    if (atime_) out += " atime=" + fmt_time(st.st_atim);
    const bool c_ge_m = st.st_ctim.tv_sec > st.st_mtim.tv_sec ||
                        (st.st_ctim.tv_sec == st.st_mtim.tv_sec && st.st_ctim.tv_nsec >= st.st_mtim.tv_nsec);
    out += c_ge_m ? " c>=m" : " c<m";
    return out;
}

int Recorder::open(std::string_view rel, int flags, mode_t mode) {
    const int fd = ::open(path(rel).c_str(), flags | O_CLOEXEC, mode);
    const int err = errno;
    const std::string op =
        "open(" + str(rel) + ", " + open_flags_str(flags) +
        ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? ", " + oct(mode) : "") + ")";
    // Every open takes a handle index, failed ones too (their fd is -1, so later calls on
    // them fail with EBADF on both sides): a divergence never renumbers the later handles.
    const int h = new_handle(fd);
    if (fd < 0) {
        add(op, "-1 " + errname(err));
    } else {
        add(op, "h" + std::to_string(h));
    }
    errno = err;
    return h;
}

int Recorder::creat(std::string_view rel, mode_t mode) {
    return open(rel, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int Recorder::close(int h) {
    const int fd = raw_fd(h);
    const int r = fd < 0 ? (errno = EBADF, -1) : ::close(fd);
    if (fd >= 0) fds_[static_cast<std::size_t>(h)] = -1;
    return result("close(h" + std::to_string(h) + ")", r);
}

long Recorder::write(int h, std::string_view data) {
    const ssize_t n = ::write(raw_fd(h), data.data(), data.size());
    return result("write(h" + std::to_string(h) + ", " + quoted(data) + ")", n);
}

long Recorder::pwrite(int h, std::string_view data, off_t off) {
    const ssize_t n = ::pwrite(raw_fd(h), data.data(), data.size(), off);
    return result("pwrite(h" + std::to_string(h) + ", " + quoted(data) + ", " + std::to_string(off) + ")", n);
}

long Recorder::read(int h, std::size_t n) {
    std::string buf(n, '\0');
    const ssize_t r = ::read(raw_fd(h), buf.data(), n);
    if (r >= 0) buf.resize(static_cast<std::size_t>(r));
    return result("read(h" + std::to_string(h) + ", " + std::to_string(n) + ")", r,
                  r >= 0 ? content(buf) : "");
}

long Recorder::pread(int h, std::size_t n, off_t off) {
    std::string buf(n, '\0');
    const ssize_t r = ::pread(raw_fd(h), buf.data(), n, off);
    if (r >= 0) buf.resize(static_cast<std::size_t>(r));
    return result("pread(h" + std::to_string(h) + ", " + std::to_string(n) + ", " + std::to_string(off) + ")",
                  r, r >= 0 ? content(buf) : "");
}

long Recorder::lseek(int h, off_t off, int whence) {
    const char* w = whence == SEEK_SET    ? "SET"
                    : whence == SEEK_CUR  ? "CUR"
                    : whence == SEEK_END  ? "END"
                    : whence == SEEK_DATA ? "DATA"
                                          : "HOLE";
    return result("lseek(h" + std::to_string(h) + ", " + std::to_string(off) + ", " + w + ")",
                  ::lseek(raw_fd(h), off, whence));
}

int Recorder::ftruncate(int h, off_t len) {
    return result("ftruncate(h" + std::to_string(h) + ", " + std::to_string(len) + ")",
                  ::ftruncate(raw_fd(h), len));
}

int Recorder::truncate(std::string_view rel, off_t len) {
    return result("truncate(" + str(rel) + ", " + std::to_string(len) + ")",
                  ::truncate(path(rel).c_str(), len));
}

int Recorder::fallocate(int h, int mode, off_t off, off_t len) {
    return result("fallocate(h" + std::to_string(h) + ", " + std::to_string(mode) + ", " +
                      std::to_string(off) + ", " + std::to_string(len) + ")",
                  ::fallocate(raw_fd(h), mode, off, len));
}

int Recorder::fsync(int h) {
    return result("fsync(h" + std::to_string(h) + ")", ::fsync(raw_fd(h)));
}

long Recorder::copy_file_range(int hin, off_t in_off, int hout, off_t out_off, std::size_t len) {
    loff_t a = in_off;
    loff_t b = out_off;
    const ssize_t r = ::copy_file_range(raw_fd(hin), &a, raw_fd(hout), &b, len, 0);
    return result("copy_file_range(h" + std::to_string(hin) + "@" + std::to_string(in_off) + ", h" +
                      std::to_string(hout) + "@" + std::to_string(out_off) + ", " + std::to_string(len) + ")",
                  r);
}

int Recorder::fstat(int h) {
    struct stat st {};
    const int r = ::fstat(raw_fd(h), &st);
    return result("fstat(h" + std::to_string(h) + ")", r, r == 0 ? fmt_stat(st) : "");
}

int Recorder::fchmod(int h, mode_t mode) {
    return result("fchmod(h" + std::to_string(h) + ", " + oct(mode) + ")", ::fchmod(raw_fd(h), mode));
}

int Recorder::fchown(int h, uid_t uid, gid_t gid) {
    return result("fchown(h" + std::to_string(h) + ", " + std::to_string(static_cast<int>(uid)) + ", " +
                      std::to_string(static_cast<int>(gid)) + ")",
                  ::fchown(raw_fd(h), uid, gid));
}

int Recorder::flock(int h, int op) {
    return result("flock(h" + std::to_string(h) + ", " + std::to_string(op) + ")", ::flock(raw_fd(h), op));
}

int Recorder::fcntl_lock(int h, int cmd, short type, off_t start, off_t len) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    const std::string t = type == F_RDLCK ? "RD" : type == F_WRLCK ? "WR" : "UN";
    return result(std::string(cmd == F_SETLK    ? "F_SETLK"
                              : cmd == F_SETLKW ? "F_SETLKW"
                                                : "F_OFD_SETLK") +
                      "(h" + std::to_string(h) + ", " + t + ", " + std::to_string(start) + ", " +
                      std::to_string(len) + ")",
                  ::fcntl(raw_fd(h), cmd, &fl));
}

int Recorder::fcntl_getlk(int h, short type, off_t start, off_t len) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    const int r = ::fcntl(raw_fd(h), F_GETLK, &fl);
    // The pid of the holder differs between runs; only report whether there is one.
    const std::string got = fl.l_type == F_UNLCK
                                ? "unlocked"
                                : std::string(fl.l_type == F_RDLCK ? "RD" : "WR") + " " +
                                      std::to_string(fl.l_start) + "+" + std::to_string(fl.l_len) +
                                      (fl.l_pid > 0 ? " by other" : " pid?");
    return result(
        "F_GETLK(h" + std::to_string(h) + ", " + std::to_string(start) + ", " + std::to_string(len) + ")", r,
        r == 0 ? got : "");
}

void Recorder::cat(std::string_view rel) {
    const int fd = ::open(path(rel).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result("cat(" + str(rel) + ")", -1);
        return;
    }
    std::string data;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) data.append(buf, static_cast<std::size_t>(n));
    const int err = errno;
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd);
    errno = err;
    result("cat(" + str(rel) + ")", n < 0 ? -1 : static_cast<long>(data.size()),
           content(data) + " size=" + std::to_string(st.st_size));
}

int Recorder::mmap_write(int h, std::size_t len, off_t off, std::string_view data, bool sync) {
    const std::string op = "mmap_write(h" + std::to_string(h) + ", " + std::to_string(len) + ", @" +
                           std::to_string(off) + ", " + quoted(data) + (sync ? ", msync" : "") + ")";
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, raw_fd(h), 0);
    if (p == MAP_FAILED) return result(op, -1);
    std::memcpy(static_cast<char*>(p) + off, data.data(), data.size());
    int r = 0;
    if (sync) r = ::msync(p, len, MS_SYNC);
    const int err = errno;
    ::munmap(p, len);
    errno = err;
    return result(op, r);
}

int Recorder::mmap_read(int h, std::size_t len, off_t off, std::size_t n, bool shared,
                        std::string_view scribble) {
    const std::string op = std::string(shared ? "mmap_read_shared(h" : "mmap_read_private(h") +
                           std::to_string(h) + ", " + std::to_string(len) + ", @" + std::to_string(off) +
                           ", " + std::to_string(n) +
                           (scribble.empty() ? "" : ", then write " + quoted(scribble)) + ")";
    const int prot = PROT_READ | (scribble.empty() ? 0 : PROT_WRITE);
    void* p = ::mmap(nullptr, len, prot, shared ? MAP_SHARED : MAP_PRIVATE, raw_fd(h), 0);
    if (p == MAP_FAILED) return result(op, -1);
    auto* bytes = static_cast<char*>(p);
    std::string seen(bytes + off, n);
    if (!scribble.empty()) {
        std::memcpy(bytes + off, scribble.data(), scribble.size());
        seen += " / " + std::string(bytes + off, n);
    }
    ::munmap(p, len);
    return result(op, 0, content(seen));
}

long Recorder::direct_pwrite(int h, std::size_t len, off_t off, char fill) {
    void* raw = nullptr;
    if (::posix_memalign(&raw, 4096, len) != 0) return result("direct_pwrite: no memory", -1);
    std::unique_ptr<void, FreeDeleter> buf(raw);
    std::memset(raw, fill, len);
    return result("direct_pwrite(h" + std::to_string(h) + ", " + std::to_string(len) + ", " +
                      std::to_string(off) + ", '" + std::string(1, fill) + "')",
                  ::pwrite(raw_fd(h), raw, len, off));
}

long Recorder::direct_pread(int h, std::size_t len, off_t off) {
    void* raw = nullptr;
    if (::posix_memalign(&raw, 4096, len) != 0) return result("direct_pread: no memory", -1);
    std::unique_ptr<void, FreeDeleter> buf(raw);
    const ssize_t r = ::pread(raw_fd(h), raw, len, off);
    return result(
        "direct_pread(h" + std::to_string(h) + ", " + std::to_string(len) + ", " + std::to_string(off) + ")",
        r, r >= 0 ? content(std::string_view(static_cast<char*>(raw), static_cast<std::size_t>(r))) : "");
}

int Recorder::stat(std::string_view rel) {
    struct stat st {};
    const int r = ::stat(path(rel).c_str(), &st);
    return result("stat(" + str(rel) + ")", r, r == 0 ? fmt_stat(st) : "");
}

int Recorder::lstat(std::string_view rel) {
    struct stat st {};
    const int r = ::lstat(path(rel).c_str(), &st);
    return result("lstat(" + str(rel) + ")", r, r == 0 ? fmt_stat(st) : "");
}

int Recorder::access(std::string_view rel, int mode) {
    return result("access(" + str(rel) + ", " + std::to_string(mode) + ")",
                  ::access(path(rel).c_str(), mode));
}

int Recorder::mkdir(std::string_view rel, mode_t mode) {
    return result("mkdir(" + str(rel) + ", " + oct(mode) + ")", ::mkdir(path(rel).c_str(), mode));
}

int Recorder::rmdir(std::string_view rel) {
    return result("rmdir(" + str(rel) + ")", ::rmdir(path(rel).c_str()));
}

int Recorder::unlink(std::string_view rel) {
    return result("unlink(" + str(rel) + ")", ::unlink(path(rel).c_str()));
}

int Recorder::rename(std::string_view from, std::string_view to, unsigned flags) {
    const std::string f = flags == 0                  ? ""
                          : flags == RENAME_NOREPLACE ? ", NOREPLACE"
                          : flags == RENAME_EXCHANGE  ? ", EXCHANGE"
                                                      : ", " + std::to_string(flags);
    return result("rename(" + str(from) + ", " + str(to) + f + ")",
                  ::renameat2(AT_FDCWD, path(from).c_str(), AT_FDCWD, path(to).c_str(), flags));
}

int Recorder::link(std::string_view from, std::string_view to) {
    return result("link(" + str(from) + ", " + str(to) + ")", ::link(path(from).c_str(), path(to).c_str()));
}

int Recorder::symlink(std::string_view target, std::string_view rel) {
    return result("symlink(" + str(target) + ", " + str(rel) + ")",
                  ::symlink(str(target).c_str(), path(rel).c_str()));
}

int Recorder::readlink(std::string_view rel) {
    char buf[4096];
    const ssize_t n = ::readlink(path(rel).c_str(), buf, sizeof buf);
    return result("readlink(" + str(rel) + ")", n,
                  n >= 0 ? "\"" + escape(std::string_view(buf, static_cast<std::size_t>(n))) + "\"" : "");
}

int Recorder::mknod(std::string_view rel, mode_t mode, dev_t dev) {
    return result("mknod(" + str(rel) + ", " + oct(mode) + ")", ::mknod(path(rel).c_str(), mode, dev));
}

int Recorder::chmod(std::string_view rel, mode_t mode) {
    return result("chmod(" + str(rel) + ", " + oct(mode) + ")", ::chmod(path(rel).c_str(), mode));
}

int Recorder::chown(std::string_view rel, uid_t uid, gid_t gid) {
    return result("chown(" + str(rel) + ", " + std::to_string(static_cast<int>(uid)) + ", " +
                      std::to_string(static_cast<int>(gid)) + ")",
                  ::chown(path(rel).c_str(), uid, gid));
}

int Recorder::lchown(std::string_view rel, uid_t uid, gid_t gid) {
    return result("lchown(" + str(rel) + ", " + std::to_string(static_cast<int>(uid)) + ", " +
                      std::to_string(static_cast<int>(gid)) + ")",
                  ::lchown(path(rel).c_str(), uid, gid));
}

int Recorder::utimens(std::string_view rel, const struct timespec times[2], bool nofollow) {
    auto t = [](const struct timespec& ts) {
        if (ts.tv_nsec == UTIME_NOW) return std::string("NOW");
        if (ts.tv_nsec == UTIME_OMIT) return std::string("OMIT");
        return std::to_string(ts.tv_sec) + "." + std::to_string(ts.tv_nsec);
    };
    const std::string op = "utimensat(" + str(rel) + ", " +
                           (times == nullptr ? "NULL" : t(times[0]) + ", " + t(times[1])) +
                           (nofollow ? ", NOFOLLOW" : "") + ")";
    return result(op, ::utimensat(AT_FDCWD, path(rel).c_str(), times, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
}

int Recorder::listdir(std::string_view rel) {
    const std::string p = path(rel);
    DIR* d = ::opendir(p.c_str());
    if (d == nullptr) return result("listdir(" + str(rel) + ")", -1);
    std::vector<std::string> names;
    std::string bad_ino;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino != e->d_ino) {
            bad_ino += " " + name;
        }
        const char* type = e->d_type == DT_REG       ? "f"
                           : e->d_type == DT_DIR     ? "d"
                           : e->d_type == DT_LNK     ? "l"
                           : e->d_type == DT_UNKNOWN ? "?"
                                                     : "o";
        names.push_back(name + ":" + type);
    }
    const int err = errno;
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::string out = "[";
    for (const auto& n : names)
        out += (out.size() > 1 ? " " : "") +
               (n.size() > 60 ? n.substr(0, 20) + "..(" + std::to_string(n.size()) + ")" : n);
    out += "]";
    // d_ino must be the inode number stat reports (libfuse's passthrough check).
    out += bad_ino.empty() ? " d_ino=st_ino" : " d_ino!=st_ino:" + bad_ino;
    errno = err;
    return result("listdir(" + str(rel) + ")", err != 0 ? -1 : static_cast<long>(names.size()),
                  out + " fnv=" + std::to_string(fnv1a(out)));
}

void Recorder::same_file(std::string_view a, std::string_view b) {
    struct stat sa {};
    struct stat sb {};
    const int ra = ::lstat(path(a).c_str(), &sa);
    const int rb = ::lstat(path(b).c_str(), &sb);
    std::string res = ra != 0 || rb != 0                                 ? "stat failed"
                      : sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev ? "same"
                                                                         : "different";
    add("same_file(" + str(a) + ", " + str(b) + ")", res);
}

void Recorder::same_file_fd(int h, std::string_view b) {
    struct stat sa {};
    struct stat sb {};
    const int ra = ::fstat(raw_fd(h), &sa);
    const int rb = ::lstat(path(b).c_str(), &sb);
    std::string res = ra != 0 || rb != 0                                 ? "stat failed"
                      : sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev ? "same"
                                                                         : "different";
    add("same_file(h" + std::to_string(h) + ", " + str(b) + ")", res);
}

int Recorder::setxattr(std::string_view rel, std::string_view name, std::string_view value, int flags) {
    return result("setxattr(" + str(rel) + ", " + str(name) + ", \"" + escape(value) + "\", " +
                      std::to_string(flags) + ")",
                  ::setxattr(path(rel).c_str(), str(name).c_str(), value.data(), value.size(), flags));
}

int Recorder::lsetxattr(std::string_view rel, std::string_view name, std::string_view value, int flags) {
    return result("lsetxattr(" + str(rel) + ", " + str(name) + ", \"" + escape(value) + "\", " +
                      std::to_string(flags) + ")",
                  ::lsetxattr(path(rel).c_str(), str(name).c_str(), value.data(), value.size(), flags));
}

long Recorder::getxattr(std::string_view rel, std::string_view name, std::size_t size) {
    std::string buf(size, '\0');
    const ssize_t n =
        ::getxattr(path(rel).c_str(), str(name).c_str(), size == 0 ? nullptr : buf.data(), size);
    const std::string val =
        n >= 0 && size > 0 ? "\"" + escape(std::string_view(buf.data(), static_cast<std::size_t>(n))) + "\""
                           : "";
    return result("getxattr(" + str(rel) + ", " + str(name) + ", " + std::to_string(size) + ")", n, val);
}

long Recorder::lgetxattr(std::string_view rel, std::string_view name, std::size_t size) {
    std::string buf(size, '\0');
    const ssize_t n =
        ::lgetxattr(path(rel).c_str(), str(name).c_str(), size == 0 ? nullptr : buf.data(), size);
    const std::string val =
        n >= 0 && size > 0 ? "\"" + escape(std::string_view(buf.data(), static_cast<std::size_t>(n))) + "\""
                           : "";
    return result("lgetxattr(" + str(rel) + ", " + str(name) + ", " + std::to_string(size) + ")", n, val);
}

long Recorder::listxattr(std::string_view rel, std::size_t size) {
    std::string buf(size, '\0');
    const ssize_t n = ::listxattr(path(rel).c_str(), size == 0 ? nullptr : buf.data(), size);
    std::string val;
    if (n > 0 && size > 0) {
        std::vector<std::string> names;
        std::size_t pos = 0;
        while (pos < static_cast<std::size_t>(n)) {
            const std::string name(buf.data() + pos);
            names.push_back(name);
            pos += name.size() + 1;
        }
        std::sort(names.begin(), names.end());
        val = "[";
        for (const auto& nm : names) val += (val.size() > 1 ? " " : "") + nm;
        val += "]";
    }
    return result("listxattr(" + str(rel) + ", " + std::to_string(size) + ")", n, val);
}

int Recorder::removexattr(std::string_view rel, std::string_view name) {
    return result("removexattr(" + str(rel) + ", " + str(name) + ")",
                  ::removexattr(path(rel).c_str(), str(name).c_str()));
}

void Recorder::as(const Cred* cred, const std::function<void(Recorder&)>& fn) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        add("fork", "pipe failed");
        return;
    }
    const std::string who = cred == nullptr ? "child" : "as uid " + std::to_string(cred->uid);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(pipefd[0]);
        if (cred != nullptr) drop_to(*cred, pipefd[1]);
        Trace t;
        {
            Recorder child(root_, t, start_);
            child.fds_ = fds_;  // the child sees the parent's handles (forked copies)
            child.blocks_ = blocks_;
            child.atime_ = atime_;
            child.known_ = known_;
            try {
                fn(child);
            } catch (...) {
                child.add("child", "exception");
            }
            child.fds_.clear();
        }
        for (auto& s : t) s.op = "[" + who + "] " + s.op;
        write_all(pipefd[1], serialize(t, 0));
        ::_exit(0);
    }
    ::close(pipefd[1]);
    const std::string data = read_until(pipefd[0], -1);
    ::close(pipefd[0]);
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
    deserialize(data, trace_);
}

void Recorder::with_child(const std::function<void(Recorder&)>& child_setup,
                          const std::function<void(Recorder&)>& main) {
    int report[2];
    int release[2];
    if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(release, O_CLOEXEC) != 0) {
        add("fork", "pipe failed");
        return;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(report[0]);
        ::close(release[1]);
        Trace t;
        {
            Recorder child(root_, t, start_);
            child.fds_ = fds_;
            child.known_ = known_;
            try {
                child_setup(child);
            } catch (...) {
                child.add("child", "exception");
            }
            for (auto& s : t) s.op = "[other process] " + s.op;
            write_all(report[1], serialize(t, 0) + '\x1d');
            read_until(release[0], -1);  // hold locks until the parent is done
            // Handles opened by the child close here; inherited ones are the parent's too.
            for (std::size_t i = fds_.size(); i < child.fds_.size(); ++i) {
                if (child.fds_[i] >= 0) ::close(child.fds_[i]);
            }
            child.fds_.clear();
        }
        ::_exit(0);
    }
    ::close(report[1]);
    ::close(release[0]);
    deserialize(read_until(report[0], '\x1d'), trace_);
    main(*this);
    ::close(release[1]);
    read_until(report[0], -1);
    ::close(report[0]);
    int status = 0;
    if (pid > 0) ::waitpid(pid, &status, 0);
}

}  // namespace posixtest
