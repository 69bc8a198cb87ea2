#pragma once
// The worker's side of failover, called from the custom-I/O hooks (passthrough.cpp):
//  - the first worker saves the kernel's INIT request and the reply it accepted (handoff.hpp);
//  - a replacement worker hands libfuse the saved INIT from its read hook, compares libfuse's
//    reply with the accepted one and swallows it (refusing to serve if it differs), holds its
//    other threads until that INIT is processed, then writes FUSE_NOTIFY_RESEND once;
//  - it counts requests that arrive resent and times the pause to its first reply.
// Without a supervisor (`Fs::handoff` null, the phase Serving) every hook is one load.
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>

namespace splicefs::fs {

class Fs;

// A worker that must not serve ends with this status, and the supervisor gives up.
inline constexpr int kWorkerRefusedExit = 75;

enum class ReplayPhase : std::uint32_t {
    Serving,       // nothing to replay (the first worker, or done)
    Pending,       // the next read returns the saved INIT
    Replaying,     // libfuse is processing it; other threads wait
    InitAnswered,  // its reply was compared and swallowed: resend, then serve
};

// Per worker (each starts from the supervisor's copy of the Fs).
struct WorkerFailover {
    std::atomic<ReplayPhase> phase{ReplayPhase::Serving};
    std::mutex mu;  // with `released`: threads held while the replayed INIT is processed
    std::condition_variable released;
    std::atomic<bool> first_reply_pending{false};  // time the pause at the next reply
    std::atomic<bool> counting_resent{false};      // the next requests may carry bit 63
};

struct HandoffRecord;

// The supervisor, before its first worker: the Fs records into / replays from `record`, and
// the stats document shows its counters. Without a supervisor: only the reason it is off.
void attach_handoff(Fs& fs, HandoffRecord& record, const std::string& handoff_version);
void report_failover_off(Fs& fs, const std::string& reason, const std::string& handoff_version);

// The supervisor, before it clones a replacement worker.
void prepare_replay(Fs& fs) noexcept;

// Read hooks, before reading: > 0 = the replayed INIT was copied into `buffer` (read nothing).
std::size_t before_receive_slow(Fs& fs, std::span<std::byte> buffer);
inline std::size_t before_receive(Fs& fs, WorkerFailover& wf, std::span<std::byte> buffer) {
    if (wf.phase.load(std::memory_order_acquire) == ReplayPhase::Serving) [[likely]]
        return 0;
    return before_receive_slow(fs, buffer);
}

// Read hook, after a request was read into memory (`bytes`, whole).
void after_receive(Fs& fs, std::span<const std::byte> bytes);

// The splice receive hook while resent requests are being counted: reads the request into
// memory, looks at it, and writes it into libfuse's pipe (`pipe_in`).
ssize_t receive_counting(Fs& fs, int fuse_fd, int pipe_in, std::size_t len);

// The writev hook has the (amended) INIT reply: true = write it, false = swallow it (a
// replayed INIT whose reply matches). Refuses to serve (_exit) when it differs.
bool on_init_reply(Fs& fs, std::span<const std::byte> reply);
void on_init_reply_written(Fs& fs, bool ok) noexcept;

// Any reply written: the first one after a failover ends the pause.
void on_first_reply(Fs& fs) noexcept;
inline void on_reply(Fs& fs, WorkerFailover& wf) noexcept {
    if (wf.first_reply_pending.load(std::memory_order_relaxed)) [[unlikely]]
        on_first_reply(fs);
}

}  // namespace splicefs::fs
