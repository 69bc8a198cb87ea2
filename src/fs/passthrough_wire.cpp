#include "fs/passthrough_wire.hpp"

#include <cstring>

namespace splicefs::fs::wire {

namespace {
template <typename T>
T load(std::span<const std::byte> bytes, std::size_t off) {
    T value{};
    std::memcpy(&value, bytes.data() + off, sizeof(T));
    return value;
}

template <typename T>
void store(std::span<std::byte> bytes, std::size_t off, T value) {
    std::memcpy(bytes.data() + off, &value, sizeof(T));
}

// A reply whose header says success and whose length field matches the bytes we hold.
bool well_formed_success(std::span<const std::byte> reply, std::size_t payload) {
    if (reply.size() != kOutHeaderSize + payload) return false;
    return load<std::uint32_t>(reply, 0) == reply.size() && load<std::int32_t>(reply, 4) == 0;
}
}  // namespace

bool parse_request(std::span<const std::byte> request, RequestHeader& out) {
    if (request.size() < kInHeaderSize) return false;
    out.len = load<std::uint32_t>(request, 0);
    out.opcode = load<std::uint32_t>(request, 4);
    out.unique = load<std::uint64_t>(request, 8);
    return true;
}

bool init_offered_flags2(std::span<const std::byte> request, std::uint32_t& flags2) {
    RequestHeader h;
    // fuse_init_in up to flags2: major, minor, max_readahead, flags, flags2.
    if (!parse_request(request, h) || h.opcode != kOpInit || request.size() < kInHeaderSize + 20)
        return false;
    const auto flags = load<std::uint32_t>(request, kInHeaderSize + 12);
    flags2 = (flags & kInitExt) != 0 ? load<std::uint32_t>(request, kInHeaderSize + 16) : 0;
    return true;
}

bool init_offered_flags(std::span<const std::byte> request, std::uint32_t& flags) {
    RequestHeader h;
    if (!parse_request(request, h) || h.opcode != kOpInit || request.size() < kInHeaderSize + 16)
        return false;
    flags = load<std::uint32_t>(request, kInHeaderSize + 12);
    return true;
}

bool init_offers_passthrough(std::span<const std::byte> request) {
    std::uint32_t flags2 = 0;
    return init_offered_flags2(request, flags2) && (flags2 & kPassthroughFlags2) != 0;
}

bool reply_unique(std::span<const std::byte> reply, std::uint64_t& unique) {
    if (reply.size() < kOutHeaderSize) return false;
    unique = load<std::uint64_t>(reply, 8);
    return true;
}

bool amend_init_reply(std::span<std::byte> reply, std::uint32_t max_stack_depth) {
    if (!well_formed_success(reply, kInitOutSize) || max_stack_depth < 1 || max_stack_depth > 2) return false;
    const std::size_t base = kOutHeaderSize;
    auto flags = load<std::uint32_t>(reply, base + 12);
    if ((flags & kInitExt) == 0) return false;  // libfuse did not echo INIT_EXT: flags2 unread
    flags &= ~kWritebackCache;
    store(reply, base + 12, flags);
    store(reply, base + 32, load<std::uint32_t>(reply, base + 32) | kPassthroughFlags2);
    store(reply, base + 36, max_stack_depth);
    return true;
}

bool amend_init_flags2(std::span<std::byte> reply, std::uint32_t bits) {
    if (!well_formed_success(reply, kInitOutSize)) return false;
    const std::size_t base = kOutHeaderSize;
    if ((load<std::uint32_t>(reply, base + 12) & kInitExt) == 0) return false;
    store(reply, base + 32, load<std::uint32_t>(reply, base + 32) | bits);
    return true;
}

bool amend_init_flags(std::span<std::byte> reply, std::uint32_t bits) {
    if (!well_formed_success(reply, kInitOutSize)) return false;
    store(reply, kOutHeaderSize + 12, load<std::uint32_t>(reply, kOutHeaderSize + 12) | bits);
    return true;
}

bool amend_open_reply(std::span<std::byte> reply, std::uint32_t opcode, std::int32_t backing_id) {
    std::size_t payload = 0;
    if (opcode == kOpOpen) {
        payload = kOpenOutSize;
    } else if (opcode == kOpCreate) {
        payload = kEntryOutSize + kOpenOutSize;
    } else {
        return false;
    }
    if (!well_formed_success(reply, payload) || backing_id <= 0) return false;
    const std::size_t open_out = reply.size() - kOpenOutSize;
    auto open_flags = load<std::uint32_t>(reply, open_out + 8);
    open_flags &= kFopenDirectIo | kFopenNoflush | kFopenParallelDirectWrites;
    open_flags |= kFopenPassthrough;
    store(reply, open_out + 8, open_flags);
    store(reply, open_out + 12, backing_id);
    return true;
}

}  // namespace splicefs::fs::wire
