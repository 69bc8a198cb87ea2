// The failover byte functions: FUSE_HAS_RESEND in the INIT request, the resend notification,
// the INIT reply comparison and replay, and the handoff record's publish order (a memfd
// mapped twice stands in for the supervisor and a worker).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "fs/failover_wire.hpp"
#include "fs/handoff.hpp"
#include "fs/passthrough_wire.hpp"

namespace splicefs::fs::wire {
namespace {

using Bytes = std::vector<std::byte>;

template <typename T>
void put(Bytes& b, std::size_t off, T v) {
    std::memcpy(b.data() + off, &v, sizeof v);
}
template <typename T>
T get(std::span<const std::byte> b, std::size_t off) {
    T v{};
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}

Bytes init_request(std::uint32_t flags, std::uint32_t flags2, std::uint32_t opcode = kOpInit) {
    Bytes b(kInHeaderSize + 64, std::byte{0});
    put<std::uint32_t>(b, 0, static_cast<std::uint32_t>(b.size()));
    put<std::uint32_t>(b, 4, opcode);
    put<std::uint64_t>(b, 8, 2);
    put<std::uint32_t>(b, kInHeaderSize + 12, flags);
    put<std::uint32_t>(b, kInHeaderSize + 16, flags2);
    return b;
}

Bytes init_reply(std::uint32_t flags2) {
    Bytes b(kOutHeaderSize + kInitOutSize, std::byte{0});
    put<std::uint32_t>(b, 0, static_cast<std::uint32_t>(b.size()));
    put<std::uint64_t>(b, 8, 2);
    put<std::uint32_t>(b, kOutHeaderSize + 12, kInitExt);
    put<std::uint32_t>(b, kOutHeaderSize + 32, flags2);
    return b;
}

TEST(FailoverWire, HasResendIsFlags2Bit7OnlyWithInitExt) {
    EXPECT_TRUE(init_offers_resend(init_request(kInitExt, 0x5fd)));  // what Linux 6.18 offers
    EXPECT_FALSE(init_offers_resend(init_request(kInitExt, 0x5fd & ~kHasResendFlags2)));
    EXPECT_FALSE(init_offers_resend(init_request(0, 0x5fd)));  // flags2 not valid without INIT_EXT
    EXPECT_FALSE(init_offers_resend(init_request(kInitExt, 0x5fd, kOpOpen)));
    Bytes short_request = init_request(kInitExt, 0x5fd);
    short_request.resize(kInHeaderSize + 8);
    EXPECT_FALSE(init_offers_resend(short_request));
}

TEST(FailoverWire, ResendNotificationIsABareHeader) {
    const auto n = resend_notification();
    EXPECT_EQ(get<std::uint32_t>(n, 0), 16u);
    EXPECT_EQ(get<std::int32_t>(n, 4), 7);  // FUSE_NOTIFY_RESEND
    EXPECT_EQ(get<std::uint64_t>(n, 8), 0u);
}

TEST(FailoverWire, ResentUniquesCarryBit63) {
    EXPECT_TRUE(is_resent(kUniqueResend | 42));
    EXPECT_FALSE(is_resent(42));
    EXPECT_FALSE(may_be_resent(kOpForget));
    EXPECT_FALSE(may_be_resent(kOpBatchForget));
    EXPECT_FALSE(may_be_resent(kOpInterrupt));
    EXPECT_TRUE(may_be_resent(kOpOpen));
}

TEST(FailoverWire, InitRepliesCompareByEveryByte) {
    const Bytes accepted = init_reply(1U << 4);
    EXPECT_EQ(compare_init_replies(accepted, init_reply(1U << 4)), InitReplyMatch::Same);
    EXPECT_EQ(compare_init_replies(accepted, init_reply(1U << 5)), InitReplyMatch::Differs);
    Bytes other_unique = accepted;
    put<std::uint64_t>(other_unique, 8, 3);
    EXPECT_EQ(compare_init_replies(accepted, other_unique), InitReplyMatch::Differs);
    Bytes lying_length = accepted;
    put<std::uint32_t>(lying_length, 0, 24);
    EXPECT_EQ(compare_init_replies(accepted, lying_length), InitReplyMatch::Malformed);
    EXPECT_EQ(compare_init_replies({}, accepted), InitReplyMatch::Malformed);
    Bytes longer = init_reply(1U << 4);
    longer.resize(longer.size() + 8);
    put<std::uint32_t>(longer, 0, static_cast<std::uint32_t>(longer.size()));
    EXPECT_EQ(compare_init_replies(accepted, longer), InitReplyMatch::Differs);
}

TEST(FailoverWire, ReplayCopiesTheSavedRequestWhenItFits) {
    const Bytes saved = init_request(kInitExt, 0x5fd);
    Bytes buffer(4096, std::byte{0xee});
    ASSERT_EQ(replay_init_request(saved, buffer), saved.size());
    EXPECT_TRUE(std::equal(saved.begin(), saved.end(), buffer.begin()));
    EXPECT_EQ(buffer[saved.size()], std::byte{0xee});  // nothing beyond it
    Bytes small(saved.size() - 1);
    EXPECT_EQ(replay_init_request(saved, small), 0u);
    EXPECT_EQ(replay_init_request({}, buffer), 0u);
}

TEST(FailoverHandoff, PublishedStatesAreSeenThroughAnotherMapping) {
    HandoffArea area = HandoffArea::create();
    HandoffRecord& writer = area.record();
    EXPECT_EQ(writer.state(), InitState::Empty);
    // A second mapping of the same memfd: what a worker or an exec'd supervisor sees.
    const int dup = ::dup(area.fd());
    ASSERT_GE(dup, 0);
    HandoffArea reader_area = HandoffArea::adopt(dup);
    const HandoffRecord& reader = reader_area.record();

    const Bytes request = init_request(kInitExt, 0x5fd);
    ASSERT_TRUE(writer.save_request(request, true));
    EXPECT_EQ(reader.state(), InitState::RequestSaved);
    EXPECT_EQ(reader.resend_offered.load(), 1u);
    EXPECT_TRUE(std::ranges::equal(reader.saved_request(), request));

    const Bytes reply = init_reply(1U << 4);
    ASSERT_TRUE(writer.save_reply(reply));
    EXPECT_EQ(reader.state(), InitState::ReplySaved);
    writer.mark_accepted();
    EXPECT_EQ(reader.state(), InitState::Accepted);
    EXPECT_EQ(compare_init_replies(reader.saved_reply(), reply), InitReplyMatch::Same);

    writer.counters.failovers.fetch_add(3);
    EXPECT_EQ(reader.counters.failovers.load(), 3u);
}

TEST(FailoverHandoff, OversizedInitIsRefusedAndNothingIsPublished) {
    HandoffArea area = HandoffArea::create();
    const Bytes huge(HandoffRecord::kMaxInitRequest + 1);
    EXPECT_FALSE(area.record().save_request(huge, true));
    EXPECT_EQ(area.record().state(), InitState::Empty);
}

TEST(FailoverHandoff, AdoptRefusesAFileOfAnotherSize) {
    const int fd = ::memfd_create("not-a-handoff-record", 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4096 * 16), 0);
    EXPECT_THROW((void)HandoffArea::adopt(fd), std::system_error);  // adopt owns and closes fd
}

}  // namespace
}  // namespace splicefs::fs::wire
