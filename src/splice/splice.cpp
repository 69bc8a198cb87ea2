// splice(): the direct case (a pipe on one side) and the internal-pipe loop (file/socket on both).
#include "splicefs/splice.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "error.hpp"
#include "fd_kind.hpp"
#include "internal_pipe.hpp"

namespace splicefs::splice {

static_assert(to_underlying(Flags::move) == SPLICE_F_MOVE);
static_assert(to_underlying(Flags::nonblock) == SPLICE_F_NONBLOCK);
static_assert(to_underlying(Flags::more) == SPLICE_F_MORE);
static_assert(to_underlying(Flags::gift) == SPLICE_F_GIFT);

namespace {

// The kernel caps one transfer at MAX_RW_COUNT (INT_MAX rounded down to a page).
constexpr std::size_t kMaxPerCall = 0x7ffff000;

std::size_t direct(int out_fd, int in_fd, std::optional<off_t> offset, std::size_t nbytes, unsigned flags) {
    loff_t off = offset.value_or(0);
    for (;;) {
        const ssize_t n =
            ::splice(in_fd, offset ? &off : nullptr, out_fd, nullptr, std::min(nbytes, kMaxPerCall), flags);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) detail::throw_errno(errno, "splice");
    }
}

// Puts `count` bytes already pulled from the input back "unread": with an explicit offset they
// are simply not counted; without one the file position is rewound. False if impossible.
bool give_back(int in_fd, bool explicit_offset, std::size_t count) noexcept {
    if (explicit_offset || count == 0) return true;
    return ::lseek(in_fd, -static_cast<off_t>(count), SEEK_CUR) >= 0;
}

void wait_writable(int fd) {
    pollfd p{fd, POLLOUT, 0};
    while (::poll(&p, 1, -1) < 0) {
        if (errno != EINTR) detail::throw_errno(errno, "poll");
    }
}

std::size_t through_pipe(int out_fd, int in_fd, std::optional<off_t> offset, std::size_t nbytes, Flags flags,
                         detail::FdKind in_kind) {
    auto& pipe = detail::InternalPipe::local();
    const unsigned f = to_underlying(flags);
    loff_t off = offset.value_or(0);
    std::size_t total = 0;

    while (total < nbytes) {
        const std::size_t want = std::min(nbytes - total, pipe.capacity());
        const ssize_t got = ::splice(in_fd, offset ? &off : nullptr, pipe.write_fd(), nullptr, want, f);
        if (got < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (err == EAGAIN && total > 0) break;
            // Nothing entered the pipe, so nothing can be stranded.
            detail::throw_errno(err, "splice (input)");
        }
        if (got == 0) break;  // end of input

        // Deliver every byte now in the pipe before doing anything else.
        std::size_t left = static_cast<std::size_t>(got);
        while (left > 0) {
            const ssize_t put = ::splice(pipe.read_fd(), nullptr, out_fd, nullptr, left, f);
            if (put > 0) {
                left -= static_cast<std::size_t>(put);
                continue;
            }
            const int err = put == 0 ? EIO : errno;
            if (err == EINTR) continue;
            const bool gave_back = give_back(in_fd, offset.has_value(), left);
            if (err == EAGAIN) {
                if (!gave_back) {
                    // The input cannot take the bytes back (a socket): finish delivering them.
                    wait_writable(out_fd);
                    continue;
                }
                // Non-blocking output is full: report what was delivered, keep the rest unread.
                pipe.discard();
                total += static_cast<std::size_t>(got) - left;
                if (total == 0) detail::throw_errno(EAGAIN, "splice (output)");
                return total;
            }
            pipe.discard();
            detail::throw_errno(err, "splice (output)");
        }
        total += static_cast<std::size_t>(got);
        if (in_kind != detail::FdKind::seekable && static_cast<std::size_t>(got) < want) break;
    }
    return total;
}

}  // namespace

std::size_t splice(int out_fd, int in_fd, std::optional<off_t> offset, std::size_t nbytes, Flags flags) {
    const auto in_kind = detail::classify(in_fd);
    const auto out_kind = detail::classify(out_fd);
    if (nbytes == 0) return 0;
    if (in_kind == detail::FdKind::pipe || out_kind == detail::FdKind::pipe)
        return direct(out_fd, in_fd, offset, nbytes, to_underlying(flags));
    return through_pipe(out_fd, in_fd, offset, nbytes, flags, in_kind);
}

std::size_t internal_pipe::capacity() {
    return detail::InternalPipe::local().capacity();
}

std::size_t internal_pipe::pending() {
    return detail::InternalPipe::local().pending();
}

}  // namespace splicefs::splice
