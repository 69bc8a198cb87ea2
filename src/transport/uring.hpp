#pragma once
// FUSE over io_uring on libfuse 3.14 (--transport=uring; protocol facts in fuse_uring_abi.hpp).
// One queue per CPU, each a thread with its own io_uring whose entries the kernel fills with
// requests; each request goes through libfuse's own dispatch (fuse_session_process_buf), and
// its reply, caught in the custom-io writev hook (fs/passthrough.cpp), is copied into the entry
// and committed. /dev/fuse stays served by the usual loop for what still comes there.
// Nothing happens until the INIT reply accepted FUSE_OVER_IO_URING; any refusal on the way
// leaves the mount on /dev/fuse with one log line.
#include <fuse_lowlevel.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace splicefs::transport {

class Rings;

// The rings of one mount, for its lifetime; at most one per process (the hooks find it).
class Uring {
public:
    Uring(fuse_session* se, bool wanted);
    Uring(const Uring&) = delete;
    Uring& operator=(const Uring&) = delete;
    ~Uring();  // stops the queue threads: after the pool has answered what it holds

private:
    std::unique_ptr<Rings> rings_;
};

// Whether INIT should accept FUSE_OVER_IO_URING (a Uring asked for it and is not running yet).
[[nodiscard]] bool wanted() noexcept;

// The INIT reply that accepted FUSE_OVER_IO_URING has reached the kernel: starts the queues,
// with payload buffers of `payload_size` bytes (transport::payload_size_for_init).
void start(std::size_t payload_size);

// The mount stays on /dev/fuse: one log line saying why.
void refuse(const char* why);

// For the custom-io writev hook: a reply a ring entry waits for goes into that entry and is
// committed; any other (requests read from /dev/fuse, notifications) is written to `fd`.
ssize_t write_reply(int fd, const iovec* iov, int count);

// For the custom-io splice hook: while the rings run, a reply libfuse assembled in a pipe (a
// READ answered from a pool thread) is read out and routed like write_reply; else splice(2).
ssize_t splice_reply(int pipe_fd, off_t* off_in, int fd, off_t* off_out, std::size_t len, unsigned flags);

// While this thread serves a ring request inline: the entry's payload buffer, where a READ can
// be read directly (the reply then points into it and is not copied). Empty otherwise.
[[nodiscard]] std::span<std::byte> reply_buffer() noexcept;

}  // namespace splicefs::transport
