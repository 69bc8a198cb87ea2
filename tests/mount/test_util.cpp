#include "test_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <random>
#include <system_error>

namespace splicefs::test {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

struct DirCloser {
    void operator()(DIR* d) const noexcept { closedir(d); }
};

}  // namespace

void Fd::reset() noexcept {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

Fd open_fd(const fs::path& p, int flags, mode_t mode) {
    return Fd(open(p.c_str(), flags | O_CLOEXEC, mode));
}

Bytes random_bytes(std::uint64_t seed, std::size_t n) {
    std::mt19937_64 rng(seed);
    Bytes out(n);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t v = rng();
        for (std::size_t k = 0; k < 8; ++k, v >>= 8) out[i + k] = static_cast<unsigned char>(v & 0xff);
    }
    std::uint64_t v = rng();
    for (; i < n; ++i, v >>= 8) out[i] = static_cast<unsigned char>(v & 0xff);
    return out;
}

Bytes to_bytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

void pwrite_all(int fd, const unsigned char* data, std::size_t n, off_t off) {
    std::size_t done = 0;
    while (done < n) {
        const ssize_t w = pwrite(fd, data + done, n - done, off + static_cast<off_t>(done));
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("pwrite");
        }
        if (w == 0) throw std::runtime_error("pwrite wrote nothing");
        done += static_cast<std::size_t>(w);
    }
}

void pwrite_all(int fd, const Bytes& data, off_t off) {
    pwrite_all(fd, data.data(), data.size(), off);
}

Bytes pread_exact(int fd, std::size_t n, off_t off) {
    Bytes out(n);
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = pread(fd, out.data() + done, n - done, off + static_cast<off_t>(done));
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_errno("pread");
        }
        if (r == 0) break;
        done += static_cast<std::size_t>(r);
    }
    out.resize(done);
    return out;
}

Bytes read_file(const fs::path& p) {
    const Fd fd = open_fd(p, O_RDONLY);
    if (!fd.valid()) throw_errno("open " + p.string());
    Bytes out;
    std::vector<unsigned char> buf(1 << 20);
    for (;;) {
        const ssize_t r = read(fd.get(), buf.data(), buf.size());
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + p.string());
        }
        if (r == 0) break;
        out.insert(out.end(), buf.begin(), buf.begin() + r);
    }
    return out;
}

void write_file(const fs::path& p, const Bytes& data, mode_t mode) {
    const Fd fd = open_fd(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (!fd.valid()) throw_errno("open " + p.string());
    pwrite_all(fd.get(), data, 0);
}

void write_file(const fs::path& p, std::string_view text, mode_t mode) {
    write_file(p, to_bytes(text), mode);
}

struct stat lstat_of(const fs::path& p) {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) throw_errno("lstat " + p.string());
    return st;
}

std::map<std::string, ino_t> list_dir(const fs::path& p) {
    const std::unique_ptr<DIR, DirCloser> dir(opendir(p.c_str()));
    if (!dir) throw_errno("opendir " + p.string());
    std::map<std::string, ino_t> out;
    for (;;) {
        errno = 0;
        const dirent* e = readdir(dir.get());
        if (e == nullptr) {
            if (errno != 0) throw_errno("readdir " + p.string());
            break;
        }
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (!out.emplace(name, e->d_ino).second) throw std::runtime_error("readdir returned twice: " + name);
    }
    return out;
}

int run_in_child(const std::function<int()>& fn) {
    const pid_t pid = fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
        int rc = 100;
        try {
            rc = fn();
        } catch (...) {
            rc = 101;
        }
        _exit(rc);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw_errno("waitpid");
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

int run_as(uid_t uid, gid_t gid, const std::function<int()>& fn) {
    return run_in_child([&]() -> int {
        if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) return 99;
        return fn();
    });
}

std::size_t first_difference(const Bytes& a, const Bytes& b) {
    const auto n = std::min(a.size(), b.size());
    const auto [ia, ib] = std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin());
    return static_cast<std::size_t>(ia - a.begin());
}

}  // namespace splicefs::test
