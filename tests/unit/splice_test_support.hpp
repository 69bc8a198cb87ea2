#pragma once
// Helpers shared by the splice unit tests: temp dirs, files, fd counting.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

#include "../../src/sys/fd.hpp"

namespace splicefs::splice::test {

using sys::UniqueFd;

class TempDir {
public:
    TempDir() {
        std::string tmpl = "/tmp/splice-test-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

inline std::string random_bytes(std::size_t n, unsigned seed = 1) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(gen() & 0xFF);
    return s;
}

inline UniqueFd open_fd(const std::string& path, int flags, mode_t mode = 0644) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, mode));
    if (!fd) throw std::system_error(errno, std::generic_category(), "open " + path);
    return fd;
}

inline void write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) throw std::system_error(errno, std::generic_category(), "write");
        done += static_cast<std::size_t>(n);
    }
}

inline std::string make_file(const std::string& path, const std::string& data) {
    auto fd = open_fd(path, O_WRONLY | O_CREAT | O_TRUNC);
    write_all(fd.get(), data);
    return data;
}

inline std::string read_fd(int fd, std::size_t max = SIZE_MAX) {
    std::string out;
    char buf[65536];
    while (out.size() < max) {
        const ssize_t n = ::read(fd, buf, std::min(sizeof buf, max - out.size()));
        if (n < 0) throw std::system_error(errno, std::generic_category(), "read");
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

inline std::string read_file(const std::string& path) {
    auto fd = open_fd(path, O_RDONLY);
    return read_fd(fd.get());
}

inline off_t position(int fd) {
    return ::lseek(fd, 0, SEEK_CUR);
}

struct Pipe {
    UniqueFd r;
    UniqueFd w;
    explicit Pipe(int flags = 0) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | flags) != 0)
            throw std::system_error(errno, std::generic_category(), "pipe2");
        r.reset(fds[0]);
        w.reset(fds[1]);
    }
};

inline int open_fd_count() {
    int n = 0;
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return -1;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    return n;
}

// Runs fn and returns the errno of the std::system_error it throws (0 if none).
inline int errno_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::system_error& e) {
        return e.code().value();
    }
    return 0;
}

}  // namespace splicefs::splice::test
