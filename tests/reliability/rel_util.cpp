#include "rel_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace splicefs::reltest {
namespace {

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The daemon to run: SPLICEFS_BIN when set (as in tests/posix; e.g. a ThreadSanitizer build
// driven by this normally built test binary), else the one built with the tests.
std::string daemon_binary() {
    const char* env = std::getenv("SPLICEFS_BIN");
    return env != nullptr && *env != '\0' ? env : SPLICEFS_BINARY;
}

// fork + exec of the binary with stdout/stderr to `out`; optional RLIMIT_NOFILE in the child.
pid_t spawn(const std::vector<std::string>& args, const fs::path& out, std::optional<rlimit> nofile) {
    std::vector<std::string> argv{daemon_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const std::string out_path = out.string();
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        // Async-signal-safe calls only. A dying test process takes the daemon down cleanly.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
        if (nofile && setrlimit(RLIMIT_NOFILE, &*nofile) != 0) _exit(125);
        const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (in >= 0) dup2(in, STDIN_FILENO);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(cargv[0], cargv.data());
        _exit(127);
    }
    return pid;
}

bool reap(pid_t pid, std::chrono::milliseconds timeout, int* status) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return true;
        if (r < 0 && errno != EINTR) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
}

// A live splicefs mount answers statfs() as FUSE; a dead one says ENOTCONN. statfs() comes
// first: a daemon recovering a stale mount detaches it before it mounts, and the mount table
// read before a successful stat() could still list the dead mount while stat() already saw
// the empty directory between the two (the test then ran on that directory).
bool live_mount(const fs::path& mnt) {
    struct statfs sfs {};
    return ::statfs(mnt.c_str(), &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC &&
           test::is_splicefs_mounted(mnt);
}

int run_quiet(const std::vector<std::string>& argv) {
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execvp(cargv[0], cargv.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return status;
}

}  // namespace

Daemon::Daemon(fs::path backing, fs::path mnt, fs::path log_dir, std::vector<std::string> args,
               std::optional<rlimit> nofile)
    : backing_(std::move(backing)), mnt_(std::move(mnt)) {
    static int serial = 0;
    const std::string tag = std::to_string(++serial);
    log_file_ = log_dir / ("daemon" + tag + ".log");
    out_file_ = log_dir / ("daemon" + tag + ".out");
    std::vector<std::string> argv{"-f", "--log-file", log_file_.string()};
    // SPLICEFS_TEST_ARGS runs the suite in another mode (e.g. --data-path=passthrough).
    std::istringstream env_words(
        std::getenv("SPLICEFS_TEST_ARGS") != nullptr ? std::getenv("SPLICEFS_TEST_ARGS") : "");
    for (std::string w; env_words >> w;) argv.push_back(w);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(backing_.string());
    argv.push_back(mnt_.string());
    pid_ = spawn(argv, out_file_, nofile);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!live_mount(mnt_)) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("splicefs exited before mounting (status " + std::to_string(status) +
                                     ")\n" + log());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            unmount();
            throw std::runtime_error("splicefs did not mount within 10 s\n" + log());
        }
        std::this_thread::sleep_for(10ms);
    }
}

Daemon::~Daemon() {
    unmount();
}

bool Daemon::alive() const {
    if (pid_ < 0 || status_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        return false;
    }
    return true;
}

void Daemon::kill_hard() {
    if (pid_ < 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

std::optional<int> Daemon::unmount() {
    if (pid_ < 0) return 0;
    bool fallback = false;
    int status = 0;
    if (alive() && test::is_splicefs_mounted(mnt_)) {
        for (int attempt = 0; attempt < 20; ++attempt) {
            const int rc = run_quiet({"fusermount3", "-u", mnt_.string()});
            if (rc >= 0 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0) break;
            if (!test::is_splicefs_mounted(mnt_)) break;
            std::this_thread::sleep_for(50ms);
        }
    }
    if (status_) {
        status = *status_;
    } else if (!reap(pid_, 10s, &status)) {
        fallback = true;
        kill(pid_, SIGKILL);
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    pid_ = -1;
    if (live_mount(mnt_) || test::is_splicefs_mounted(mnt_)) {
        // Our daemon is gone; whatever splicefs mount is left here is ours (a dead one).
        struct stat st {};
        if (stat(mnt_.c_str(), &st) != 0 && errno == ENOTCONN) {
            fallback = true;
            umount2(mnt_.c_str(), MNT_DETACH);
        }
    }
    if (fallback) return std::nullopt;
    return status;
}

std::string Daemon::log() const {
    return "--- " + log_file_.string() + " ---\n" + read_text(log_file_) + "--- " + out_file_.string() +
           " ---\n" + read_text(out_file_);
}

std::string Daemon::output() const {
    return read_text(out_file_);
}

RunResult run_splicefs(const std::vector<std::string>& args, std::chrono::seconds timeout) {
    char templ[] = "/tmp/splicefs-rel-out.XXXXXX";
    const int fd = mkstemp(templ);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "mkstemp");
    close(fd);
    const fs::path out = templ;
    RunResult r;
    const pid_t pid = spawn(args, out, std::nullopt);
    int status = 0;
    if (!reap(pid, timeout, &status)) {
        kill(pid, SIGTERM);  // it mounted after all: SIGTERM makes a -f daemon unmount
        if (!reap(pid, 10s, &status)) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    } else if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    }
    r.output = read_text(out);
    fs::remove(out);
    return r;
}

Tmpfs::Tmpfs(fs::path where, const std::string& size) : where_(std::move(where)) {
    fs::create_directories(where_);
    const std::string opts = "size=" + size + ",mode=0755";
    if (mount("splicefs-rel-tmpfs", where_.c_str(), "tmpfs", 0, opts.c_str()) != 0)
        throw std::system_error(errno, std::generic_category(), "mount tmpfs on " + where_.string());
}

Tmpfs::~Tmpfs() {
    if (umount(where_.c_str()) != 0) umount2(where_.c_str(), MNT_DETACH);
}

int fd_count(pid_t pid, const fs::path& under) {
    const fs::path dir = "/proc/" + std::to_string(pid) + "/fd";
    const std::string prefix = under.empty() ? std::string() : under.string() + "/";
    std::error_code ec;
    int n = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!prefix.empty()) {
            std::error_code ec2;
            const std::string target = fs::read_symlink(it->path(), ec2).string() + "/";
            if (target.rfind(prefix, 0) != 0) continue;
        }
        ++n;
    }
    return ec ? -1 : n;
}

std::string fd_targets(pid_t pid) {
    const fs::path dir = "/proc/" + std::to_string(pid) + "/fd";
    std::string out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        out += it->path().filename().string() + " -> " + fs::read_symlink(it->path(), ec2).string() + "\n";
    }
    return out;
}

std::string stats_json(const fs::path& mnt) {
    std::string buf(1 << 16, '\0');
    const ssize_t n = getxattr(mnt.c_str(), "user.splicefs.stats", buf.data(), buf.size());
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
}

long status_kb(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return -1;
}

long soft_nofile_limit(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Max open files", 0) == 0) {
            std::istringstream s(line.substr(std::strlen("Max open files")));
            std::string soft;
            s >> soft;
            return soft == "unlimited" ? -2 : std::stol(soft);
        }
    }
    return -1;
}

void drop_caches() {
    sync();
    std::ofstream out("/proc/sys/vm/drop_caches");
    out << "2\n";
}

int wait_fds_at_most(pid_t pid, int target, std::chrono::seconds timeout, const fs::path& under) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int n = fd_count(pid, under);
    while (n > target && std::chrono::steady_clock::now() < deadline) {
        drop_caches();
        // FORGETs arrive asynchronously; give them a moment before dropping again.
        for (int i = 0; i < 10 && n > target; ++i) {
            std::this_thread::sleep_for(100ms);
            n = fd_count(pid, under);
        }
    }
    return n;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

std::uint64_t fnv1a(const unsigned char* p, std::size_t n) {
    std::uint64_t h = 1469598103934665603ULL;
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

std::string describe_path(const fs::path& p) {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) return std::string("lstat error: ") + std::strerror(errno);
    std::ostringstream d;
    d << std::oct << st.st_mode << std::dec << " uid=" << st.st_uid << " gid=" << st.st_gid
      << " nlink=" << st.st_nlink << " size=" << st.st_size << " mtime=" << st.st_mtim.tv_sec << "."
      << st.st_mtim.tv_nsec << " ino=" << st.st_ino;
    if (S_ISREG(st.st_mode)) {
        try {
            d << " data=" << std::hex << fnv1a(test::read_file(p)) << std::dec;
        } catch (const std::exception& e) {
            d << " data=<" << e.what() << ">";
        }
    } else if (S_ISLNK(st.st_mode)) {
        std::string target(4096, '\0');
        const ssize_t n = readlink(p.c_str(), target.data(), target.size());
        target.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        d << " -> " << target;
    }
    std::string names(65536, '\0');
    const ssize_t n = llistxattr(p.c_str(), names.data(), names.size());
    if (n > 0) {
        names.resize(static_cast<std::size_t>(n));
        std::vector<std::string> keys;
        for (std::size_t i = 0; i < names.size();) {
            const std::string k(names.c_str() + i);
            keys.push_back(k);
            i += k.size() + 1;
        }
        std::sort(keys.begin(), keys.end());
        for (const auto& k : keys) {
            std::string v(65536, '\0');
            const ssize_t vn = lgetxattr(p.c_str(), k.c_str(), v.data(), v.size());
            v.resize(vn > 0 ? static_cast<std::size_t>(vn) : 0);
            d << " [" << k << "=" << v << "]";
        }
    }
    return d.str();
}

std::map<std::string, std::string> snapshot_tree(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        out[fs::relative(it->path(), root).string()] = describe_path(it->path());
    }
    out["."] = describe_path(root);
    return out;
}

}  // namespace splicefs::reltest
