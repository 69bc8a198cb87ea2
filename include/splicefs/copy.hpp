#pragma once
// Whole-file copy choosing the fastest kernel path, and a small copy_file_range wrapper for the
// FUSE daemon's copy_file_range op.
#include <sys/types.h>

#include <cstddef>
#include <string_view>

namespace splicefs::splice {

enum class CopyMethod {
    copy_file_range,  // in-kernel copy; may share extents (reflink) or go server-side
    splice,           // file -> internal pipe -> file, one in-kernel copy
    read_write,       // last resort: a user-space buffer (e.g. an O_APPEND target)
};
std::string_view to_string(CopyMethod m) noexcept;

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
    // Bytes per system call; also how often `progress` is called.
    std::size_t chunk = std::size_t{64} << 20;
    // Called after every chunk with the bytes copied so far (e.g. a progress bar).
    void (*progress)(std::size_t bytes_so_far, void* context) = nullptr;
    void* progress_context = nullptr;
};

// Copies everything from src (from its position to EOF) to dst. Tries copy_file_range first and
// falls back to splice on EXDEV/EINVAL/ENOSYS/EOPNOTSUPP (and to read/write if splice cannot
// write the target, e.g. O_APPEND). Refuses to copy a file onto itself (EINVAL).
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
