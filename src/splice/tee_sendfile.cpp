// tee() and sendfile(): single system calls with the library's error style.
#include <fcntl.h>
#include <sys/sendfile.h>

#include <algorithm>
#include <cerrno>

#include "error.hpp"
#include "splicefs/splice.hpp"

namespace splicefs::splice {

namespace {
constexpr std::size_t kMaxPerCall = 0x7ffff000;
}

std::size_t tee(int out_pipe, int in_pipe, std::size_t nbytes, Flags flags) {
    for (;;) {
        const ssize_t n = ::tee(in_pipe, out_pipe, std::min(nbytes, kMaxPerCall), to_underlying(flags));
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) detail::throw_errno(errno, "tee");
    }
}

std::size_t sendfile(int out_fd, int in_fd, std::optional<off_t> offset, std::size_t nbytes) {
    off_t off = offset.value_or(0);
    for (;;) {
        const ssize_t n = ::sendfile(out_fd, in_fd, offset ? &off : nullptr, std::min(nbytes, kMaxPerCall));
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) detail::throw_errno(errno, "sendfile");
    }
}

}  // namespace splicefs::splice
