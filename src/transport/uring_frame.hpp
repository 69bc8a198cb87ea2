#pragma once
// The byte-level side of FUSE over io_uring (no kernel, no threads; unit-tested): turning a
// ring entry into the contiguous request libfuse's fuse_session_process_buf() takes, spreading
// a reply libfuse wrote as iovecs over the entry, the payload size INIT implies, and the table
// that tells which entry waits for which reply.
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "transport/fuse_uring_abi.hpp"

namespace splicefs::transport {

inline constexpr std::size_t kInHeaderSize = 40;   // fuse_in_header
inline constexpr std::size_t kOutHeaderSize = 16;  // fuse_out_header
// Room in front of the payload for fuse_in_header and the op's header, so the request is
// assembled in place and WRITE data is never copied.
inline constexpr std::size_t kRequestSlack = kInHeaderSize + abi::kOpInOutSize;

// The request in an entry, laid out as /dev/fuse would deliver it, inside `slack_and_payload`
// (kRequestSlack bytes, then the payload buffer the kernel filled). Empty when the entry's
// framing is inconsistent (lengths that do not add up, an op header over 128 bytes).
std::span<std::byte> assemble_request(const abi::FuseUringReqHeader& header,
                                      std::span<std::byte> slack_and_payload);

// The unique id of a reply given as iovecs (the fuse_out_header may span several); 0 if short.
std::uint64_t reply_unique(std::span<const iovec> iov);

// Copies a reply into an entry: fuse_out_header into `in_out`, the rest into `payload`, and
// returns how many payload bytes that is; nullopt when the reply is shorter than a header or
// does not fit. Bytes already in place (a READ read straight into the payload) are not copied.
std::optional<std::size_t> scatter_reply(std::span<const iovec> iov, std::span<std::byte> in_out,
                                         std::span<std::byte> payload);

// The payload buffer the kernel requires after this INIT reply (header + fuse_init_out):
// max(8 KiB, max_write, max_pages * 4 KiB, rounded to pages); 0 if the reply is malformed.
std::size_t payload_size_for_init(std::span<const std::byte> init_reply);

// Which ring entry (slot) waits for which reply (unique). Claimed by the queue thread before
// libfuse sees the request; taken exactly once by whichever thread writes the reply (the queue
// thread itself, or a pool thread for an offloaded op). Lock-free: a reply not in the table
// belongs to /dev/fuse.
class InflightTable {
public:
    explicit InflightTable(std::size_t slots);

    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    void claim(std::size_t slot, std::uint64_t unique) noexcept;
    // True if `slot` waited for `unique` (and no longer does).
    bool take_slot(std::size_t slot, std::uint64_t unique) noexcept;
    // The slot that waited for `unique`, released; nullopt if none.
    std::optional<std::size_t> take(std::uint64_t unique) noexcept;

private:
    std::size_t count_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> unique_;
};

}  // namespace splicefs::transport
