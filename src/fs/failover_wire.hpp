#pragma once
// Byte-level pieces of failover (include/uapi/linux/fuse.h, 7.40; Linux 6.9+):
//  - FUSE_HAS_RESEND is bit 39 of INIT's 64-bit flags = flags2 bit 7: the kernel understands
//    FUSE_NOTIFY_RESEND (notify code 7), a bare fuse_out_header {len 16, error 7, unique 0}
//    written to /dev/fuse, after which it re-queues every request a daemon read but never
//    answered, with bit 63 of `unique` set (FUSE_UNIQUE_RESEND). The reply carries the unique
//    unchanged.
//  - A new worker replays the INIT request saved from the first one and must produce the very
//    reply the kernel accepted: the kernel never sees a second INIT, so any difference would
//    mean serving under terms the kernel did not agree to.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace splicefs::fs::wire {

inline constexpr std::uint32_t kHasResendFlags2 = 1U << 7;
inline constexpr std::int32_t kNotifyResend = 7;
inline constexpr std::uint64_t kUniqueResend = std::uint64_t{1} << 63;
inline constexpr std::uint32_t kOpForget = 2;
inline constexpr std::uint32_t kOpInterrupt = 36;
inline constexpr std::uint32_t kOpBatchForget = 42;

// Whether a FUSE_INIT request offers FUSE_HAS_RESEND (INIT_EXT set and flags2 bit 7).
bool init_offers_resend(std::span<const std::byte> request);

// The 16 bytes that ask the kernel to resend what is in flight.
std::array<std::byte, 16> resend_notification();

[[nodiscard]] constexpr bool is_resent(std::uint64_t unique) noexcept {
    return (unique & kUniqueResend) != 0;
}
// FORGETs and INTERRUPTs are never resent: they do not tell where the resent requests end.
[[nodiscard]] constexpr bool may_be_resent(std::uint32_t opcode) noexcept {
    return opcode != kOpForget && opcode != kOpInterrupt && opcode != kOpBatchForget;
}

enum class InitReplyMatch { Same, Differs, Malformed };
// Compares the INIT reply a new worker produced with the one the kernel accepted. Malformed:
// either is not a whole reply (shorter than a header, or its length field disagrees).
InitReplyMatch compare_init_replies(std::span<const std::byte> accepted, std::span<const std::byte> replayed);

// Copies a saved INIT request into libfuse's read buffer; 0 if it does not fit or is empty.
std::size_t replay_init_request(std::span<const std::byte> saved, std::span<std::byte> buffer);

}  // namespace splicefs::fs::wire
