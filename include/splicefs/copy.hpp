#pragma once
// Whole-file copy choosing the fastest kernel path, and a small copy_file_range wrapper for the
// FUSE daemon's copy_file_range op.
#include <sys/types.h>

#include <cstddef>
#include <string_view>

namespace splicefs::splice {

// How a copy_file() call moved the bytes.
enum class CopyMethod {
    copy_file_range,  // in-kernel copy; may share extents (reflink) or go server-side
    splice,           // file -> internal pipe -> destination (direct when one side is a pipe)
    read_write,       // a user-space buffer: O_APPEND targets, or where copying measured faster
    sendfile,         // sendfile(2): file pages handed to the destination, no user buffer
};
std::string_view to_string(CopyMethod m) noexcept;

// What copy_file() may use. `automatic` applies the measured rule of choose() below and its
// fallbacks; the others use that one method only (errors are thrown, nothing is tried instead).
enum class Method { automatic, copy_file_range, splice, read_write, sendfile };

// The destination kinds the rule tells apart.
enum class Target {
    file,       // regular file or block device
    local_tcp,  // TCP socket whose peer is this host (loopback, or our own address)
    socket,     // any other socket: AF_UNIX, TCP to another host, ...
    pipe,       // pipe or FIFO
    other,      // character devices (/dev/null, ttys), ...
};
// fstat (and for sockets getpeername/getsockname) of `fd`; throws std::system_error (EBADF...).
Target target_of(int fd);

// The measured rule (rows of `splice-bench --sweep` cited in README, "What zero-copy does and
// does not do on Linux 6.x"):
//  - file:      copy_file_range: a reflink or server-side copy where the filesystem has one,
//               else the in-kernel copy splice would do, in one call per chunk;
//  - local_tcp: read/write. On loopback the receiver is on this machine too: TCP attaches each
//               4 KiB page-cache page as its own skb fragment, and a receiver pays more to copy
//               those out than the sender saved: copying was 1.3-1.4x as fast with a read()ing
//               receiver or 64 KiB pipes (docs/bench/splice-sweep.md rows 99/98, 156/157) and
//               cheaper in sender+receiver CPU (rows 102/103);
//  - socket:    splice through the 1 MiB internal pipe: page references, no user buffer. On
//               AF_UNIX it matched sendfile (whose kernel pipe is 16 pages) within the noise or
//               beat it (rows 34/33), and beat read/write 1.5-4.6x (rows 129/124, 31/29);
//  - pipe, other: splice (page references straight into the pipe; /dev/null discards them).
CopyMethod choose(Target target) noexcept;

// Bytes per system call when CopyOptions::chunk is 0: copy_file_range 64 MiB; splice and
// sendfile 1 MiB (the internal pipe's capacity: fewer calls, and smaller pipes made the receiver
// of spliced socket data work harder); read/write 64 KiB to a local TCP peer (one loopback
// segment per call: the best or within the noise of the best read+send rows, 256 KiB and more
// were ~10 % slower with a read()ing receiver), 1 MiB elsewhere.
std::size_t default_chunk(CopyMethod method, Target target) noexcept;

struct CopyResult {
    std::size_t bytes = 0;
    CopyMethod method = CopyMethod::copy_file_range;
};

// One side of a copy: an open fd (copied from/to its current position) or a path (source opened
// read-only; destination created or truncated with the source's permission bits).
struct FileRef {
    FileRef(int fd_) noexcept : fd(fd_) {}                // NOLINT(google-explicit-constructor)
    FileRef(const char* path_) noexcept : path(path_) {}  // NOLINT(google-explicit-constructor)
    int fd = -1;
    const char* path = nullptr;
};

struct CopyOptions {
    Method method = Method::automatic;
    // Bytes per system call (also how often `progress` is called); 0: default_chunk().
    std::size_t chunk = 0;
    // Copy at most this many bytes (e.g. one range of a file to a socket).
    std::size_t max_bytes = static_cast<std::size_t>(-1);
    // Called after every chunk with the bytes copied so far (e.g. a progress bar).
    void (*progress)(std::size_t bytes_so_far, void* context) = nullptr;
    void* progress_context = nullptr;
};

// Copies everything from src (from its position to EOF, at most max_bytes) to dst. With
// Method::automatic: the method choose() names for the destination, then the fallbacks:
// copy_file_range -> splice on EXDEV/EINVAL/ENOSYS/EOPNOTSUPP; splice -> read/write if splice
// cannot write the target (O_APPEND). Refuses to copy a file onto itself (EINVAL).
// Throws std::system_error with the errno.
CopyResult copy_file(FileRef src, FileRef dst, const CopyOptions& options = {});

// One copy_file_range(2) call at explicit offsets (file positions untouched); returns the bytes
// copied (0 at EOF, may be short). Allocation-free; retries EINTR.
std::size_t copy_range(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len,
                       unsigned flags = 0);
// Same, never throws: bytes copied, or -errno.
ssize_t copy_range_noexcept(int fd_in, off_t off_in, int fd_out, off_t off_out, std::size_t len,
                            unsigned flags = 0) noexcept;

}  // namespace splicefs::splice
