// ThreadSanitizer builds only (CMakeLists.txt links this into the daemon with SPLICEFS_TSAN):
// the happens-before edge that the kernel gives a FUSE daemon, for splice(2).
//
// The kernel sends a request only after it has read the replies the request depends on: the
// reply to OPEN/CREATE/OPENDIR before the requests that carry its fh, the replies to those
// (FLUSH included) before RELEASE/RELEASEDIR. TSan sees that edge for read(2)/write(2)/
// writev(2) on /dev/fuse (it treats an fd as a channel: a write releases, a read acquires),
// so --no-splice runs are clean without help. But libfuse reads requests from /dev/fuse and
// writes data replies to it with splice(2), which TSan does not intercept: it then sees
// handles (fds and boxed directory handles in fi->fh) made on one worker and used, closed or
// freed on another with no order between them.
//
// Here the same channel model for every path, in one place: each write to /dev/fuse (a reply
// or a notification: write, writev, splice) releases one sync object, each read from it (a
// request: read, splice) acquires it. That orders a request only behind the replies written
// before it was read, as the kernel does; two requests in flight together stay unordered, and
// so does anything a worker touches after its reply went out (how a reply sent under a
// handle's lock raced with RELEASEDIR), so those races are still reported.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPLICEFS_TSAN_BUILD 1
#endif
#endif
#if !defined(__SANITIZE_THREAD__) && !defined(SPLICEFS_TSAN_BUILD)
#error "tsan_fuse_channel.cpp belongs in -fsanitize=thread builds only"
#endif

#undef _FORTIFY_SOURCE  // its inline read() would clash with the definition below
#include <dlfcn.h>
#include <fcntl.h>
#include <sanitizer/tsan_interface.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

char fuse_channel;  // the sync object (TSan keys it by address)

// /dev/fuse and the fds cloned from it (--clone-fd) are character device 10:229. A raw
// fstat: TSan would count the libc one as an access to the fd, which the program never made.
bool is_fuse_device(int fd) noexcept {
    struct stat st {};
    return ::syscall(SYS_fstat, fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 &&
           minor(st.st_rdev) == 229;
}

void before_write(int fd) noexcept {
    if (is_fuse_device(fd)) __tsan_release(&fuse_channel);
}

void after_read(ssize_t n, int fd) noexcept {
    if (n > 0 && is_fuse_device(fd)) __tsan_acquire(&fuse_channel);
}

// The definition these stand in front of: TSan's interceptor (read, write, writev) or libc's
// (splice, which TSan does not intercept).
template <typename Fn>
Fn next_definition(const char* name) noexcept {
    return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

// Defined in the executable, these take the place of the libraries' for libfuse and for our
// code (passthrough.cpp writes amended replies with write(2)).
extern "C" ssize_t read(int fd, void* buf, size_t len) {
    static const auto real = next_definition<decltype(&read)>("read");
    const ssize_t n = real(fd, buf, len);
    after_read(n, fd);
    return n;
}

extern "C" ssize_t write(int fd, const void* buf, size_t len) {
    static const auto real = next_definition<decltype(&write)>("write");
    before_write(fd);
    return real(fd, buf, len);
}

extern "C" ssize_t writev(int fd, const iovec* iov, int count) {
    static const auto real = next_definition<decltype(&writev)>("writev");
    before_write(fd);
    return real(fd, iov, count);
}

extern "C" ssize_t splice(int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, size_t len,
                          unsigned int flags) {
    static const auto real = next_definition<decltype(&splice)>("splice");
    before_write(fd_out);
    const ssize_t n = real(fd_in, off_in, fd_out, off_out, len, flags);
    after_read(n, fd_in);
    return n;
}
