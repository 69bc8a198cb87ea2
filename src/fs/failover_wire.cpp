#include "fs/failover_wire.hpp"

#include <algorithm>
#include <cstring>

#include "fs/passthrough_wire.hpp"

namespace splicefs::fs::wire {

namespace {
bool whole_reply(std::span<const std::byte> reply) {
    if (reply.size() < kOutHeaderSize) return false;
    std::uint32_t len = 0;
    std::memcpy(&len, reply.data(), sizeof len);
    return len == reply.size();
}
}  // namespace

bool init_offers_resend(std::span<const std::byte> request) {
    std::uint32_t flags2 = 0;
    return init_offered_flags2(request, flags2) && (flags2 & kHasResendFlags2) != 0;
}

std::array<std::byte, 16> resend_notification() {
    std::array<std::byte, 16> out{};
    const std::uint32_t len = 16;
    const std::int32_t code = kNotifyResend;
    std::memcpy(out.data(), &len, sizeof len);
    std::memcpy(out.data() + 4, &code, sizeof code);  // unique (bytes 8..15) stays 0: a notification
    return out;
}

InitReplyMatch compare_init_replies(std::span<const std::byte> accepted,
                                    std::span<const std::byte> replayed) {
    if (!whole_reply(accepted) || !whole_reply(replayed)) return InitReplyMatch::Malformed;
    return std::ranges::equal(accepted, replayed) ? InitReplyMatch::Same : InitReplyMatch::Differs;
}

std::size_t replay_init_request(std::span<const std::byte> saved, std::span<std::byte> buffer) {
    if (saved.empty() || saved.size() > buffer.size()) return 0;
    std::ranges::copy(saved, buffer.begin());
    return saved.size();
}

}  // namespace splicefs::fs::wire
