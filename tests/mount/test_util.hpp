#pragma once
// Small helpers shared by the mount tests: an owning fd, seeded random data, whole-file
// I/O, directory listings and running code in a forked child (e.g. as another user).
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace splicefs::test {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.release();
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    int release() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset() noexcept;

private:
    int fd_ = -1;
};

// open(2) returning an Fd; the Fd is invalid and errno set on failure.
[[nodiscard]] Fd open_fd(const fs::path& p, int flags, mode_t mode = 0644);

[[nodiscard]] Bytes random_bytes(std::uint64_t seed, std::size_t n);
[[nodiscard]] Bytes to_bytes(std::string_view s);

// Whole-buffer pread/pwrite loops; throw std::system_error on error.
void pwrite_all(int fd, const unsigned char* data, std::size_t n, off_t off);
void pwrite_all(int fd, const Bytes& data, off_t off);
[[nodiscard]] Bytes pread_exact(int fd, std::size_t n, off_t off);  // short at EOF

[[nodiscard]] Bytes read_file(const fs::path& p);  // throws on error
void write_file(const fs::path& p, const Bytes& data, mode_t mode = 0644);
void write_file(const fs::path& p, std::string_view text, mode_t mode = 0644);

// lstat that throws; the mount tests compare these field by field.
[[nodiscard]] struct stat lstat_of(const fs::path& p);
// name -> d_ino of every entry but "." and ".."; throws when the dir cannot be read.
[[nodiscard]] std::map<std::string, ino_t> list_dir(const fs::path& p);

// Runs fn in a forked child and returns its exit code (fn's return value), or 128+signal.
int run_in_child(const std::function<int()>& fn);
// Same, after the child switched to uid/gid (setgroups to none, setgid, setuid).
int run_as(uid_t uid, gid_t gid, const std::function<int()>& fn);

// First index where two buffers differ (or the shorter length); for readable failures.
[[nodiscard]] std::size_t first_difference(const Bytes& a, const Bytes& b);

}  // namespace splicefs::test

// Expects `expr` to return -1 with errno `err` (the expression is evaluated once).
#define EXPECT_ERRNO(expr, err)                                                             \
    do {                                                                                    \
        errno = 0;                                                                          \
        const auto splicefs_r_ = (expr);                                                    \
        const int splicefs_e_ = errno;                                                      \
        EXPECT_EQ(splicefs_r_, -1) << #expr;                                                \
        EXPECT_EQ(splicefs_e_, (err))                                                       \
            << #expr << ": " << std::strerror(splicefs_e_) << " vs " << std::strerror(err); \
    } while (0)

// Expects `expr` to return >= 0 (syscall success), printing errno when it did not.
#define EXPECT_SYS_OK(expr)                                                 \
    do {                                                                    \
        errno = 0;                                                          \
        const auto splicefs_r_ = (expr);                                    \
        EXPECT_GE(splicefs_r_, 0) << #expr << ": " << std::strerror(errno); \
    } while (0)
#define ASSERT_SYS_OK(expr)                                                 \
    do {                                                                    \
        errno = 0;                                                          \
        const auto splicefs_r_ = (expr);                                    \
        ASSERT_GE(splicefs_r_, 0) << #expr << ": " << std::strerror(errno); \
    } while (0)
