#include "internal_pipe.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "error.hpp"
#include "splicefs/splice.hpp"

namespace splicefs::splice::detail {

InternalPipe& InternalPipe::local() {
    thread_local InternalPipe pipe;
    if (!pipe.read_) pipe.open();
    return pipe;
}

void InternalPipe::open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
    read_.reset(fds[0]);
    write_.reset(fds[1]);
    // Ask for 1 MiB and step down: above /proc/sys/fs/pipe-max-size F_SETPIPE_SZ needs
    // CAP_SYS_RESOURCE (EPERM), and per-user pipe quotas can refuse it too. The default
    // 64 KiB pipe still works, only with more system calls.
    for (std::size_t want = internal_pipe::kWantedCapacity; want > 65536; want /= 2) {
        if (::fcntl(write_.get(), F_SETPIPE_SZ, static_cast<int>(want)) >= 0) break;
    }
    const int cap = ::fcntl(write_.get(), F_GETPIPE_SZ);
    if (cap <= 0) {
        const int err = errno;
        discard();
        throw_errno(err, "F_GETPIPE_SZ");
    }
    capacity_ = static_cast<std::size_t>(cap);
}

std::size_t InternalPipe::pending() const noexcept {
    int n = 0;
    if (!read_ || ::ioctl(read_.get(), FIONREAD, &n) != 0 || n < 0) return 0;
    return static_cast<std::size_t>(n);
}

void InternalPipe::discard() noexcept {
    read_.reset();
    write_.reset();
    capacity_ = 0;
}

}  // namespace splicefs::splice::detail
