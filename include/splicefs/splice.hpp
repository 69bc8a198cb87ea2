#pragma once
// Zero-copy primitives with the classic Python `splice` contract:
//  - return the number of bytes moved, 0 at end of input;
//  - offset empty: read from (and advance) the current file position of `in_fd`;
//    offset given: read from there and leave the position of `in_fd` alone;
//  - failures throw std::system_error carrying the errno (include <system_error> to catch it).
// splice(2) needs a pipe on one side; when neither fd is a pipe the data goes through a
// per-thread internal pipe, which is never left holding bytes after a call returns or throws.
#include <sys/types.h>

#include <cstddef>
#include <optional>

#include "splicefs/flags.hpp"

namespace splicefs::splice {

// Moves up to `nbytes` from `in_fd` to `out_fd` (output at its current position).
// With a pipe on one side this is one splice(2) call and may return less than asked, like
// read(2). Through the internal pipe it loops until `nbytes` are moved or the input ends (a
// non-file input such as a socket stops after the first short read). With Flags::nonblock a
// transfer that would block returns the bytes moved so far, or throws EAGAIN if none.
// If the output fails mid-way, bytes already pulled from the input are handed back: the input
// position is rewound (no offset) or simply not counted (offset); only a non-seekable input
// such as a socket can lose them, and then the call blocks to deliver them first.
std::size_t splice(int out_fd, int in_fd, std::optional<off_t> offset, std::size_t nbytes,
                   Flags flags = Flags::none);

// Duplicates up to `nbytes` from pipe `in_pipe` into pipe `out_pipe` without consuming them.
std::size_t tee(int out_pipe, int in_pipe, std::size_t nbytes, Flags flags = Flags::none);

// sendfile(2) with the same offset contract; one call, may return a short count.
std::size_t sendfile(int out_fd, int in_fd, std::optional<off_t> offset, std::size_t nbytes);

// Diagnostics of the calling thread's internal pipe (tests, tools).
namespace internal_pipe {
// Capacity in bytes (creates the pipe on first use).
std::size_t capacity();
// Bytes currently sitting in the pipe: always 0 between calls.
std::size_t pending();
// Capacity asked for with F_SETPIPE_SZ on creation; clamped by /proc/sys/fs/pipe-max-size.
inline constexpr std::size_t kWantedCapacity = std::size_t{1} << 20;
}  // namespace internal_pipe

}  // namespace splicefs::splice
