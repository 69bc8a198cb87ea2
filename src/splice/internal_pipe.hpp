#pragma once
// The per-thread pipe used when neither side of a splice is a pipe. Created lazily, sized with
// F_SETPIPE_SZ, reused by every call on the thread. discard() throws it away so that bytes left
// by a failed transfer can never reach a later call.
#include <cstddef>

#include "../sys/fd.hpp"

namespace splicefs::splice::detail {

class InternalPipe {
public:
    // The calling thread's pipe, created on first use (throws std::system_error on failure).
    static InternalPipe& local();

    [[nodiscard]] int read_fd() const noexcept { return read_.get(); }
    [[nodiscard]] int write_fd() const noexcept { return write_.get(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    // Bytes queued in the pipe (FIONREAD); 0 when no pipe exists.
    [[nodiscard]] std::size_t pending() const noexcept;
    // Closes the pipe and whatever it holds; the next local() makes a fresh one.
    void discard() noexcept;

private:
    void open();
    sys::UniqueFd read_;
    sys::UniqueFd write_;
    std::size_t capacity_ = 0;
};

}  // namespace splicefs::splice::detail
