#pragma once
// Non-idempotent requests across a failover. After a worker dies, the kernel resends every
// request it had read but not answered (unique with bit 63 set). Re-running a mkdir that did
// run answers EEXIST to a program whose mkdir worked; re-running an appending write appends
// twice. So each such request is recorded in the survival area by its unique: "started"
// before its backing syscall, "done" with the errno right after; a resent one is answered
// from its record (docs/design.md §2 names the window between the syscall and the record).
//
// The op adapter (ops_table.cpp) opens a Scope around each recorded op; the op calls
// settle() right after its backing syscall. Both are no-ops without failover.
#include <fuse_lowlevel.h>

#include <cerrno>
#include <cstdint>
#include <optional>

#include "core/stats.hpp"
#include "fs/survival_area.hpp"

namespace splicefs::fs {
class Fs;
}

namespace splicefs::fs::inflight {

inline constexpr std::uint64_t kResentBit = std::uint64_t{1} << 63;

// The kernel's unique of req, or 0 when it cannot be told. libfuse 3.14 has no accessor:
// struct fuse_req (lib/fuse_i.h) starts {struct fuse_session* se; uint64_t unique; ...}; the
// session pointer is checked against Fs::session on every call, so another layout reads 0.
[[nodiscard]] std::uint64_t unique_of(const Fs& fs, fuse_req_t req) noexcept;

// What a recorded op's request found in the area.
enum class Replay {
    None,     // a first delivery, or a resend of a request whose syscall never started
    Done,     // resent; its syscall ran and succeeded (a recorded failure is answered as such)
    Started,  // resent; it may or may not have run (the window)
};

class Scope {
public:
    // Claims a record for req (kOp one of the recorded ops). For a resent request whose
    // record says done with an error, error() is that errno and the op must not run.
    Scope(Fs& fs, fuse_req_t req, Op op) noexcept;
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    [[nodiscard]] int error() const noexcept { return answered_error_; }

private:
    int answered_error_ = 0;
    void* slot_ = nullptr;  // the record this scope frees (survival::InflightSlot)
};

// Right after the op's backing syscall: `err` its errno, `repeat_errno` what a repeat of a
// syscall that already ran answers (EEXIST for creations, ENOENT for removals). Returns the
// errno to go on with (0 when a resend finds its own earlier work) and records it as done.
int settle(int err, int repeat_errno) noexcept;

// Appending writes (O_APPEND handles). Before the write: the recorded answer of a resent write
// (bytes), or nullopt to write now; `size_now` is the file's size (fstat), `len` the request's.
// A resend whose first delivery was cut short after writing part of the bytes (a copy in
// several writes, a SIGKILL inside one) sets `already` to that part: only the rest is written.
[[nodiscard]] std::optional<std::uint64_t> append_replay(std::uint64_t size_now, std::uint64_t len,
                                                         std::uint64_t& already) noexcept;
// After it: records the bytes written (or the error).
void append_done(int err, std::uint64_t written) noexcept;
// Opens: the handle fd this request made, noted right before the fd is owned (Fs::own_handle_fd)
// and the reply goes out. A resend of a request whose first delivery made a handle but died
// before the kernel had the reply finds it here: the Scope closes it (the kernel will never
// release it) and, for CREATE, gives back the lookup its entry took; the op then runs again.
void note_handle(int fd, survival::FdKind kind, std::uint64_t node) noexcept;
// Whether this thread's current op is recorded (appending writes need an fstat only then).
[[nodiscard]] bool recording() noexcept;

// Whether this thread's op is a resend whose first delivery's syscall is known to have run:
// the op then skips it and answers as if it had just run.
[[nodiscard]] bool already_done() noexcept;

// The op's backing syscall under the record: `call` returns 0 or -1 with errno, as syscalls
// do. Skipped when already_done(); settle()d after. Returns 0 or the errno.
void mark_started() noexcept;
template <typename Call>
int run(Call&& call, int repeat_errno) {
    if (already_done()) return 0;
    mark_started();
    const int err = call() == 0 ? 0 : errno;
    return settle(err, repeat_errno);
}

}  // namespace splicefs::fs::inflight

namespace splicefs::fs::survival {
class Area;
// attach(): starts this worker's generation and frees records too old to be resent.
void age_inflight(Area& area) noexcept;
}  // namespace splicefs::fs::survival
