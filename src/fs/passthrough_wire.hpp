#pragma once
// Byte-level amendments of libfuse 3.14's INIT, OPEN and CREATE replies that turn on what
// libfuse 3.14 cannot ask for: the kernel's FUSE_PASSTHROUGH (Linux 6.9+, libfuse 3.17),
// FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6+, libfuse 3.16), FUSE_OVER_IO_URING (Linux 6.14+,
// libfuse 3.18; the rings themselves are src/transport) and FUSE_HANDLE_KILLPRIV_V2 (Linux
// 5.11+, which libfuse 3.14's headers know but its INIT does not negotiate).
//
// Protocol facts (include/uapi/linux/fuse.h, 7.40):
//  - every reply starts with fuse_out_header {u32 len; i32 error; u64 unique} (16 bytes);
//  - fuse_init_in: flags at +12, flags2 at +16 (valid when flags has FUSE_INIT_EXT, bit 30);
//    the kernel offers passthrough with FUSE_PASSTHROUGH = bit 37 = flags2 bit 5, and mmap of
//    direct-io files with FUSE_DIRECT_IO_ALLOW_MMAP = bit 36 = flags2 bit 4, and request
//    rings with FUSE_OVER_IO_URING = bit 41 = flags2 bit 9 (only while enable_uring=Y);
//  - FUSE_HANDLE_KILLPRIV_V2 is flags bit 28 (init_in and init_out): the daemon clears set-id
//    bits on write, truncate and open(O_TRUNC), and the kernel marks the superblock SB_NOSEC,
//    so that writes stop asking GETXATTR(security.capability) once an inode is known clean;
//  - fuse_init_out (64 bytes): flags at +12, flags2 at +32, max_stack_depth at +36 (unused[0]
//    in 3.14's struct). Passthrough is accepted only with FUSE_INIT_EXT kept in flags,
//    FUSE_WRITEBACK_CACHE (bit 16) cleared, and 1 <= max_stack_depth <= 2;
//  - fuse_open_out (16 bytes): fh at +0, open_flags at +8, backing_id at +12. It is the whole
//    OPEN payload and the last 16 bytes of CREATE's (after the 128-byte fuse_entry_out).
//    FOPEN_PASSTHROUGH is bit 7; KEEP_CACHE, NONSEEKABLE or CACHE_DIR with it fail the open.
// Every function checks the framing it expects and leaves the bytes alone (returning false)
// on any surprise, so a mismatch ends in "no passthrough", never in a corrupted reply.
#include <cstddef>
#include <cstdint>
#include <span>

namespace splicefs::fs::wire {

inline constexpr std::uint32_t kOpInit = 26;
inline constexpr std::uint32_t kOpOpen = 14;
inline constexpr std::uint32_t kOpCreate = 35;

inline constexpr std::size_t kOutHeaderSize = 16;
inline constexpr std::size_t kInHeaderSize = 40;
inline constexpr std::size_t kInitOutSize = 64;
inline constexpr std::size_t kEntryOutSize = 128;
inline constexpr std::size_t kOpenOutSize = 16;

inline constexpr std::uint32_t kInitExt = 1U << 30;
inline constexpr std::uint32_t kWritebackCache = 1U << 16;
inline constexpr std::uint32_t kHandleKillprivV2 = 1U << 28;
inline constexpr std::uint32_t kPassthroughFlags2 = 1U << 5;
inline constexpr std::uint32_t kDirectIoAllowMmapFlags2 = 1U << 4;
inline constexpr std::uint32_t kOverIoUringFlags2 = 1U << 9;

inline constexpr std::uint32_t kFopenDirectIo = 1U << 0;
inline constexpr std::uint32_t kFopenNoflush = 1U << 5;
inline constexpr std::uint32_t kFopenParallelDirectWrites = 1U << 6;
inline constexpr std::uint32_t kFopenPassthrough = 1U << 7;

struct RequestHeader {
    std::uint32_t len = 0;
    std::uint32_t opcode = 0;
    std::uint64_t unique = 0;
};

// Parses the fuse_in_header at the start of a request; false if too short.
bool parse_request(std::span<const std::byte> request, RequestHeader& out);

// The flags2 word a FUSE_INIT request offers (0 without INIT_EXT); false if not an INIT.
bool init_offered_flags2(std::span<const std::byte> request, std::uint32_t& flags2);

// The flags word a FUSE_INIT request offers; false if not an INIT.
bool init_offered_flags(std::span<const std::byte> request, std::uint32_t& flags);

// Whether a FUSE_INIT request offers passthrough (INIT_EXT set and flags2 bit 5).
bool init_offers_passthrough(std::span<const std::byte> request);

// The unique id of a reply; false if shorter than a header.
bool reply_unique(std::span<const std::byte> reply, std::uint64_t& unique);

// Amends a successful INIT reply (header + 64-byte fuse_init_out) to accept passthrough.
bool amend_init_reply(std::span<std::byte> reply, std::uint32_t max_stack_depth);

// Adds `bits` to a successful INIT reply's flags2 (only if libfuse echoed INIT_EXT).
bool amend_init_flags2(std::span<std::byte> reply, std::uint32_t bits);

// Adds `bits` to a successful INIT reply's flags.
bool amend_init_flags(std::span<std::byte> reply, std::uint32_t bits);

// Amends a successful OPEN (payload = fuse_open_out) or CREATE (fuse_entry_out +
// fuse_open_out) reply to open the file in passthrough mode with backing_id.
bool amend_open_reply(std::span<std::byte> reply, std::uint32_t opcode, std::int32_t backing_id);

}  // namespace splicefs::fs::wire
