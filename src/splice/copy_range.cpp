// copy_range(): one copy_file_range(2) call, no allocation, for the FUSE copy_file_range op.
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "error.hpp"
#include "splicefs/copy.hpp"

namespace splicefs::splice {

ssize_t copy_range_noexcept(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len,
                            unsigned flags) noexcept {
    constexpr std::size_t kMaxPerCall = 0x7ffff000;
    loff_t in = off_in;
    loff_t out = off_out;
    for (;;) {
        const ssize_t n = ::copy_file_range(fd_in, &in, fd_out, &out, std::min(len, kMaxPerCall), flags);
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

std::size_t copy_range(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len, unsigned flags) {
    const ssize_t n = copy_range_noexcept(fd_in, off_in, fd_out, off_out, len, flags);
    if (n < 0) detail::throw_errno(static_cast<int>(-n), "copy_file_range");
    return static_cast<std::size_t>(n);
}

}  // namespace splicefs::splice
