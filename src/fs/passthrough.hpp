#pragma once
// Kernel passthrough and mmap of direct-io files on libfuse 3.14 (see passthrough_wire.hpp for
// the protocol facts).
// A custom I/O layer on the session sees the INIT request and amends the INIT reply; OPEN and
// CREATE replies of files registered with FUSE_DEV_IOC_BACKING_OPEN are amended to carry the
// backing id. The reply of a request is written by the thread that handles it, so the open
// handler hands the id to the writev hook through a thread-local ticket.
#include <fuse_lowlevel.h>

#include <cstdint>

namespace splicefs::fs {

class Fs;
struct Inode;

enum class PassthroughMode : int {
    Off,        // not asked for
    AwaitInit,  // I/O hooks installed, INIT not answered yet
    Ready,      // INIT amended; opens try passthrough
    Refused,    // the kernel or libfuse's framing said no: the splice path for the whole mount
};

// Installs the I/O hooks on a mounted session, for every mount: the INIT reply always asks for
// FUSE_DIRECT_IO_ALLOW_MMAP, and for passthrough when Config::passthrough. Replies without an
// amendment go out with one writev and the splice hooks are plain splice(2), so the default
// data path stays what libfuse does without hooks. Call before the session loop starts.
bool install_wire_hooks(fuse_session* se, Fs& fs, int fuse_fd);

// Before replying to OPEN/CREATE: registers (or shares) the inode's backing id for `fd` and
// arms the reply amendment. True when this open goes to passthrough.
bool passthrough_prepare(Fs& fs, Inode& inode, int fd, std::uint32_t opcode);

// After the reply: `replied` is false when the kernel did not take the open (interrupted).
void passthrough_finish(Fs& fs, Inode& inode, bool prepared, bool replied);

// On RELEASE of an open that passthrough_prepare() accepted.
void passthrough_release(Fs& fs, Inode& inode);

// FUSE_DEV_IOC_BACKING_CLOSE on the session's fd; false with errno (ENOENT: no such id).
bool close_backing_id(const Fs& fs, std::int32_t id) noexcept;

}  // namespace splicefs::fs
