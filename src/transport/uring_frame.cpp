#include "transport/uring_frame.hpp"

#include <algorithm>
#include <cstring>

namespace splicefs::transport {

namespace {
template <typename T>
T load(const std::byte* p) {
    T value{};
    std::memcpy(&value, p, sizeof(T));
    return value;
}

constexpr std::size_t kPage = 4096;
constexpr std::uint32_t kMaxPagesFlag = 1U << 22;  // FUSE_MAX_PAGES
constexpr std::size_t kDefaultMaxPages = 32;       // FUSE_DEFAULT_MAX_PAGES_PER_REQ
constexpr std::size_t kInitOutSize = 64;
}  // namespace

std::span<std::byte> assemble_request(const abi::FuseUringReqHeader& header,
                                      std::span<std::byte> slack_and_payload) {
    if (slack_and_payload.size() < kRequestSlack) return {};
    const auto len = load<std::uint32_t>(header.in_out);
    const std::size_t payload = header.ring_ent_in_out.payload_sz;
    const std::size_t payload_cap = slack_and_payload.size() - kRequestSlack;
    if (len < kInHeaderSize || payload > payload_cap || payload > len - kInHeaderSize) return {};
    const std::size_t op_in = len - kInHeaderSize - payload;
    if (op_in > abi::kOpInOutSize) return {};
    std::byte* start = slack_and_payload.data() + kRequestSlack - kInHeaderSize - op_in;
    std::memcpy(start, header.in_out, kInHeaderSize);
    std::memcpy(start + kInHeaderSize, header.op_in, op_in);
    return {start, len};
}

std::uint64_t reply_unique(std::span<const iovec> iov) {
    std::byte head[kOutHeaderSize];
    std::size_t have = 0;
    for (const auto& v : iov) {
        const std::size_t n = std::min(v.iov_len, kOutHeaderSize - have);
        std::memcpy(head + have, v.iov_base, n);
        have += n;
        if (have == kOutHeaderSize) return load<std::uint64_t>(head + 8);
    }
    return 0;
}

std::optional<std::size_t> scatter_reply(std::span<const iovec> iov, std::span<std::byte> in_out,
                                         std::span<std::byte> payload) {
    if (in_out.size() < kOutHeaderSize) return std::nullopt;
    std::size_t total = 0;
    for (const auto& v : iov) total += v.iov_len;
    if (total < kOutHeaderSize || total - kOutHeaderSize > payload.size()) return std::nullopt;
    std::size_t pos = 0;  // position in the reply stream
    for (const auto& v : iov) {
        const auto* src = static_cast<const std::byte*>(v.iov_base);
        std::size_t left = v.iov_len;
        if (pos < kOutHeaderSize) {
            const std::size_t n = std::min(left, kOutHeaderSize - pos);
            std::memcpy(in_out.data() + pos, src, n);
            pos += n;
            src += n;
            left -= n;
        }
        if (left == 0) continue;
        std::byte* dst = payload.data() + (pos - kOutHeaderSize);
        if (dst != src) std::memmove(dst, src, left);
        pos += left;
    }
    return total - kOutHeaderSize;
}

std::size_t payload_size_for_init(std::span<const std::byte> init_reply) {
    if (init_reply.size() < kOutHeaderSize + kInitOutSize) return 0;
    const std::byte* out = init_reply.data() + kOutHeaderSize;
    const auto flags = load<std::uint32_t>(out + 12);
    const std::size_t max_write = load<std::uint32_t>(out + 20);
    const std::size_t max_pages =
        (flags & kMaxPagesFlag) != 0 ? load<std::uint16_t>(out + 28) : kDefaultMaxPages;
    const std::size_t size = std::max({abi::kMinReadBuffer, max_write, max_pages * kPage});
    return (size + kPage - 1) / kPage * kPage;
}

InflightTable::InflightTable(std::size_t slots)
    : count_(slots), unique_(std::make_unique<std::atomic<std::uint64_t>[]>(slots)) {}

void InflightTable::claim(std::size_t slot, std::uint64_t unique) noexcept {
    unique_[slot].store(unique, std::memory_order_release);
}

bool InflightTable::take_slot(std::size_t slot, std::uint64_t unique) noexcept {
    std::uint64_t expected = unique;
    return unique != 0 && unique_[slot].compare_exchange_strong(expected, 0, std::memory_order_acq_rel,
                                                                std::memory_order_relaxed);
}

std::optional<std::size_t> InflightTable::take(std::uint64_t unique) noexcept {
    if (unique == 0) return std::nullopt;  // notifications
    for (std::size_t i = 0; i < count_; ++i) {
        if (unique_[i].load(std::memory_order_relaxed) == unique && take_slot(i, unique)) return i;
    }
    return std::nullopt;
}

}  // namespace splicefs::transport
