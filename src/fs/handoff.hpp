#pragma once
// The failover handoff record: what a new worker (or a new binary after a live upgrade) needs
// from the ones before it and that no fd carries — the INIT request the kernel sent once per
// connection, the INIT reply it accepted, when the last pause began, and the failover
// counters. One small memfd, MAP_SHARED, created by the supervisor before the first worker
// (mount/failover_supervisor.*) and inherited across exec by fd number.
//
// Every field is written so that a SIGKILL at any instruction leaves it readable: bytes and
// lengths first, then a release store of `init_state`; readers acquire it first.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/stats.hpp"
#include "sys/fd.hpp"

namespace splicefs::fs {

// The clock of `pause_start_ns` (CLOCK_MONOTONIC: the same in the supervisor and its workers).
[[nodiscard]] inline std::uint64_t monotonic_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

enum class InitState : std::uint32_t {
    Empty = 0,
    RequestSaved = 1,  // the first worker read the kernel's INIT
    ReplySaved = 2,    // its reply is saved, the write to the kernel not known to be done
    Accepted = 3,      // the kernel has the reply: later workers replay and compare
};

struct HandoffRecord {
    static constexpr std::size_t kMaxInitRequest = 512;  // 40 + 64 bytes today
    static constexpr std::size_t kMaxInitReply = 256;    // 16 + 64 bytes today

    std::atomic<std::uint32_t> init_state{0};
    std::uint32_t request_len = 0;
    std::uint32_t reply_len = 0;
    std::array<std::byte, kMaxInitRequest> request{};
    std::array<std::byte, kMaxInitReply> reply{};
    // The INIT request offered FUSE_HAS_RESEND (set with RequestSaved).
    std::atomic<std::uint32_t> resend_offered{0};
    // CLOCK_MONOTONIC ns when the supervisor noticed a death (or asked a drain for an upgrade);
    // the next worker's first reply turns it into FailoverCounters::last_pause_us.
    std::atomic<std::uint64_t> pause_start_ns{0};
    FailoverCounters counters;

    [[nodiscard]] InitState state() const noexcept {
        return static_cast<InitState>(init_state.load(std::memory_order_acquire));
    }
    [[nodiscard]] std::span<const std::byte> saved_request() const noexcept {
        return {request.data(), request_len};
    }
    [[nodiscard]] std::span<const std::byte> saved_reply() const noexcept {
        return {reply.data(), reply_len};
    }
    // False (nothing saved) when the bytes do not fit.
    bool save_request(std::span<const std::byte> bytes, bool offers_resend) noexcept;
    bool save_reply(std::span<const std::byte> bytes) noexcept;
    void mark_accepted() noexcept {
        init_state.store(static_cast<std::uint32_t>(InitState::Accepted), std::memory_order_release);
    }
};

// RAII: the memfd and its shared mapping.
class HandoffArea {
public:
    static HandoffArea create();       // the first supervisor
    static HandoffArea adopt(int fd);  // the supervisor exec'd by a live upgrade
    HandoffArea(HandoffArea&& other) noexcept;
    HandoffArea& operator=(HandoffArea&&) = delete;
    HandoffArea(const HandoffArea&) = delete;
    HandoffArea& operator=(const HandoffArea&) = delete;
    ~HandoffArea();

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] HandoffRecord& record() noexcept { return *record_; }

private:
    HandoffArea(sys::UniqueFd fd, HandoffRecord* record) noexcept : fd_(std::move(fd)), record_(record) {}
    sys::UniqueFd fd_;
    HandoffRecord* record_;  // the mapping (not owned memory in the C++ sense: munmap'ed)
};

}  // namespace splicefs::fs
