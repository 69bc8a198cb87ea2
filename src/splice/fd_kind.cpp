#include "fd_kind.hpp"

#include <sys/stat.h>

#include <cerrno>

#include "error.hpp"

namespace splicefs::splice::detail {

FdKind classify(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno(errno, "fstat");
    if (S_ISFIFO(st.st_mode)) return FdKind::pipe;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return FdKind::seekable;
    return FdKind::other;
}

}  // namespace splicefs::splice::detail
