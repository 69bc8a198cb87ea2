#pragma once
// What kind of object an fd refers to decides how splice(2) can be used on it.
namespace splicefs::splice::detail {

enum class FdKind {
    pipe,      // FIFO or pipe: splice(2) can use it directly
    seekable,  // regular file or block device: reads end only at EOF
    other,     // socket, character device, ...: a short read means "no more for now"
};

// fstat()s the fd; throws std::system_error (EBADF...) if that fails.
FdKind classify(int fd);

}  // namespace splicefs::splice::detail
