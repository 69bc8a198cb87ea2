// The passthrough wire amendments: fake INIT/OPEN/CREATE replies in, expected bytes out, and
// any framing surprise leaves the reply untouched.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "fs/passthrough_wire.hpp"

namespace splicefs::fs::wire {
namespace {

using Bytes = std::vector<std::byte>;

template <typename T>
void put(Bytes& b, std::size_t off, T v) {
    std::memcpy(b.data() + off, &v, sizeof v);
}
template <typename T>
T get(const Bytes& b, std::size_t off) {
    T v{};
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}

Bytes reply(std::size_t payload, std::uint64_t unique = 7, std::int32_t error = 0) {
    Bytes b(kOutHeaderSize + payload, std::byte{0});
    put<std::uint32_t>(b, 0, static_cast<std::uint32_t>(b.size()));
    put<std::int32_t>(b, 4, error);
    put<std::uint64_t>(b, 8, unique);
    return b;
}

Bytes init_request(std::uint32_t flags, std::uint32_t flags2) {
    Bytes b(kInHeaderSize + 64, std::byte{0});
    put<std::uint32_t>(b, 0, static_cast<std::uint32_t>(b.size()));
    put<std::uint32_t>(b, 4, kOpInit);
    put<std::uint64_t>(b, 8, 1);
    put<std::uint32_t>(b, kInHeaderSize + 0, 7);
    put<std::uint32_t>(b, kInHeaderSize + 4, 40);
    put<std::uint32_t>(b, kInHeaderSize + 12, flags);
    put<std::uint32_t>(b, kInHeaderSize + 16, flags2);
    return b;
}

TEST(PassthroughWire, InitOfferNeedsInitExtAndBit37) {
    EXPECT_TRUE(init_offers_passthrough(init_request(kInitExt, kPassthroughFlags2)));
    EXPECT_FALSE(init_offers_passthrough(init_request(0, kPassthroughFlags2)))
        << "flags2 unread without INIT_EXT";
    EXPECT_FALSE(init_offers_passthrough(init_request(kInitExt, 0)));
    auto open = init_request(kInitExt, kPassthroughFlags2);
    put<std::uint32_t>(open, 4, kOpOpen);
    EXPECT_FALSE(init_offers_passthrough(open));
    EXPECT_FALSE(init_offers_passthrough(Bytes(10)));
}

TEST(PassthroughWire, InitOfferedFlagsIsTheFlagsWord) {
    std::uint32_t flags = 0;
    ASSERT_TRUE(init_offered_flags(init_request(kInitExt | kHandleKillprivV2, 0), flags));
    EXPECT_EQ(flags, kInitExt | kHandleKillprivV2);
    auto open = init_request(kHandleKillprivV2, 0);
    put<std::uint32_t>(open, 4, kOpOpen);
    EXPECT_FALSE(init_offered_flags(open, flags)) << "only an INIT offers";
    EXPECT_FALSE(init_offered_flags(Bytes(kInHeaderSize + 8), flags)) << "too short for flags";
}

TEST(PassthroughWire, InitReplyGetsKillprivV2InFlags) {
    auto b = reply(kInitOutSize);
    put<std::uint32_t>(b, kOutHeaderSize + 12, 0x1);
    put<std::uint32_t>(b, kOutHeaderSize + 32, 0x2);
    ASSERT_TRUE(amend_init_flags(b, kHandleKillprivV2));
    EXPECT_EQ(get<std::uint32_t>(b, kOutHeaderSize + 12), 0x1 | kHandleKillprivV2);
    EXPECT_EQ(get<std::uint32_t>(b, kOutHeaderSize + 32), 0x2U) << "flags2 untouched";

    auto failed = reply(kInitOutSize, 7, -EPROTO);
    const auto before = failed;
    EXPECT_FALSE(amend_init_flags(failed, kHandleKillprivV2)) << "an error reply stays as it is";
    EXPECT_EQ(failed, before);
    auto short_reply = reply(kInitOutSize - 8);
    EXPECT_FALSE(amend_init_flags(short_reply, kHandleKillprivV2));
}

TEST(PassthroughWire, InitReplyGetsFlags2AndStackDepth) {
    auto b = reply(kInitOutSize);
    put<std::uint32_t>(b, kOutHeaderSize + 0, 7);
    put<std::uint32_t>(b, kOutHeaderSize + 4, 31);
    put<std::uint32_t>(b, kOutHeaderSize + 12, kInitExt | kWritebackCache | 0x1);
    put<std::uint32_t>(b, kOutHeaderSize + 32, 0x2);
    ASSERT_TRUE(amend_init_reply(b, 1));
    EXPECT_EQ(get<std::uint32_t>(b, kOutHeaderSize + 12), kInitExt | 0x1)
        << "writeback cache cleared, rest kept";
    EXPECT_EQ(get<std::uint32_t>(b, kOutHeaderSize + 32), 0x2 | kPassthroughFlags2);
    EXPECT_EQ(get<std::uint32_t>(b, kOutHeaderSize + 36), 1U);
    EXPECT_EQ(get<std::uint32_t>(b, kOutHeaderSize + 4), 31U) << "minor stays what libfuse parses";
}

TEST(PassthroughWire, InitReplySurprisesLeaveBytesAlone) {
    auto no_ext = reply(kInitOutSize);
    const auto before = no_ext;
    EXPECT_FALSE(amend_init_reply(no_ext, 1));
    EXPECT_EQ(no_ext, before);

    auto good = reply(kInitOutSize);
    put<std::uint32_t>(good, kOutHeaderSize + 12, kInitExt);
    auto copy = good;
    EXPECT_FALSE(amend_init_reply(copy, 0)) << "depth 0 makes the kernel refuse";
    EXPECT_FALSE(amend_init_reply(copy, 3));
    EXPECT_EQ(copy, good);

    auto short_reply = reply(24);  // an old-protocol fuse_init_out
    put<std::uint32_t>(short_reply, kOutHeaderSize + 12, kInitExt);
    EXPECT_FALSE(amend_init_reply(short_reply, 1));

    auto failed = reply(kInitOutSize, 1, -EPROTO);
    put<std::uint32_t>(failed, kOutHeaderSize + 12, kInitExt);
    EXPECT_FALSE(amend_init_reply(failed, 1));

    auto lying = reply(kInitOutSize);
    put<std::uint32_t>(lying, kOutHeaderSize + 12, kInitExt);
    put<std::uint32_t>(lying, 0, 999);  // header length disagrees with the bytes
    EXPECT_FALSE(amend_init_reply(lying, 1));
}

TEST(PassthroughWire, InitOfferedFlags2ReadsBit36) {
    std::uint32_t flags2 = 99;
    ASSERT_TRUE(init_offered_flags2(init_request(kInitExt, kDirectIoAllowMmapFlags2 | 0x100), flags2));
    EXPECT_EQ(flags2, kDirectIoAllowMmapFlags2 | 0x100);
    ASSERT_TRUE(init_offered_flags2(init_request(0, kDirectIoAllowMmapFlags2), flags2));
    EXPECT_EQ(flags2, 0U) << "flags2 unread without INIT_EXT";
    auto open = init_request(kInitExt, kDirectIoAllowMmapFlags2);
    put<std::uint32_t>(open, 4, kOpOpen);
    EXPECT_FALSE(init_offered_flags2(open, flags2));
    EXPECT_FALSE(init_offered_flags2(Bytes(kInHeaderSize + 8), flags2)) << "too short for flags2";
    EXPECT_EQ(kDirectIoAllowMmapFlags2, 1U << (36 - 32));
}

TEST(PassthroughWire, InitReplyGetsAllowMmapAndNothingElse) {
    auto b = reply(kInitOutSize);
    put<std::uint32_t>(b, kOutHeaderSize + 12, kInitExt | kWritebackCache);
    put<std::uint32_t>(b, kOutHeaderSize + 32, 0x2);
    auto expected = b;
    put<std::uint32_t>(expected, kOutHeaderSize + 32, 0x2 | kDirectIoAllowMmapFlags2);
    ASSERT_TRUE(amend_init_flags2(b, kDirectIoAllowMmapFlags2));
    EXPECT_EQ(b, expected) << "only flags2 changes: writeback cache and stack depth stay";

    auto no_ext = reply(kInitOutSize);
    const auto before = no_ext;
    EXPECT_FALSE(amend_init_flags2(no_ext, kDirectIoAllowMmapFlags2));
    EXPECT_EQ(no_ext, before);
    auto failed = reply(kInitOutSize, 7, -22);
    put<std::uint32_t>(failed, kOutHeaderSize + 12, kInitExt);
    const auto failed_before = failed;
    EXPECT_FALSE(amend_init_flags2(failed, kDirectIoAllowMmapFlags2));
    EXPECT_EQ(failed, failed_before);
    auto short_reply = reply(kInitOutSize - 8);
    EXPECT_FALSE(amend_init_flags2(short_reply, kDirectIoAllowMmapFlags2));
}

TEST(PassthroughWire, InitOfferAndReplyForIoUringUseFlags2Bit9) {
    EXPECT_EQ(kOverIoUringFlags2, 1U << (41 - 32)) << "FUSE_OVER_IO_URING is bit 41";
    std::uint32_t flags2 = 0;
    ASSERT_TRUE(init_offered_flags2(init_request(kInitExt, kOverIoUringFlags2 | kPassthroughFlags2), flags2));
    EXPECT_NE(flags2 & kOverIoUringFlags2, 0U);
    ASSERT_TRUE(init_offered_flags2(init_request(0, kOverIoUringFlags2), flags2));
    EXPECT_EQ(flags2 & kOverIoUringFlags2, 0U) << "flags2 unread without INIT_EXT";

    // Joins the other amendments: both bits set, everything else as libfuse wrote it.
    auto b = reply(kInitOutSize);
    put<std::uint32_t>(b, kOutHeaderSize + 12, kInitExt | 0x1);
    put<std::uint32_t>(b, kOutHeaderSize + 20, 1008 * 1024);
    auto expected = b;
    put<std::uint32_t>(expected, kOutHeaderSize + 32, kDirectIoAllowMmapFlags2 | kOverIoUringFlags2);
    ASSERT_TRUE(amend_init_flags2(b, kDirectIoAllowMmapFlags2));
    ASSERT_TRUE(amend_init_flags2(b, kOverIoUringFlags2));
    EXPECT_EQ(b, expected);
    auto no_ext = reply(kInitOutSize);
    EXPECT_FALSE(amend_init_flags2(no_ext, kOverIoUringFlags2)) << "the kernel would not read flags2";
}

TEST(PassthroughWire, OpenReplyGetsPassthroughFlagAndId) {
    auto b = reply(kOpenOutSize);
    put<std::uint64_t>(b, kOutHeaderSize, 42);  // fh
    put<std::uint32_t>(b, kOutHeaderSize + 8, kFopenDirectIo | (1U << 1) | (1U << 2) | kFopenNoflush);
    ASSERT_TRUE(amend_open_reply(b, kOpOpen, 3));
    EXPECT_EQ(get<std::uint64_t>(b, kOutHeaderSize), 42U) << "fh untouched";
    EXPECT_EQ(get<std::uint32_t>(b, kOutHeaderSize + 8), kFopenDirectIo | kFopenNoflush | kFopenPassthrough)
        << "KEEP_CACHE and NONSEEKABLE dropped";
    EXPECT_EQ(get<std::int32_t>(b, kOutHeaderSize + 12), 3);
}

TEST(PassthroughWire, CreateReplyAmendsTheTrailingOpenOut) {
    auto b = reply(kEntryOutSize + kOpenOutSize);
    for (std::size_t i = kOutHeaderSize; i < kOutHeaderSize + kEntryOutSize; ++i) b[i] = std::byte{0xAB};
    ASSERT_TRUE(amend_open_reply(b, kOpCreate, 9));
    for (std::size_t i = kOutHeaderSize; i < kOutHeaderSize + kEntryOutSize; ++i)
        ASSERT_EQ(b[i], std::byte{0xAB}) << "entry bytes must not change, offset " << i;
    const std::size_t open_out = kOutHeaderSize + kEntryOutSize;
    EXPECT_EQ(get<std::uint32_t>(b, open_out + 8), kFopenPassthrough);
    EXPECT_EQ(get<std::int32_t>(b, open_out + 12), 9);
}

TEST(PassthroughWire, OpenReplySurprisesLeaveBytesAlone) {
    auto wrong_size = reply(kOpenOutSize + 8);
    auto before = wrong_size;
    EXPECT_FALSE(amend_open_reply(wrong_size, kOpOpen, 1));
    EXPECT_EQ(wrong_size, before);

    auto create_as_open = reply(kOpenOutSize);
    before = create_as_open;
    EXPECT_FALSE(amend_open_reply(create_as_open, kOpCreate, 1));
    EXPECT_EQ(create_as_open, before);

    auto error = reply(0, 5, -ENOENT);
    EXPECT_FALSE(amend_open_reply(error, kOpOpen, 1));

    auto good = reply(kOpenOutSize);
    EXPECT_FALSE(amend_open_reply(good, kOpOpen, 0)) << "ids start at 1";
    EXPECT_FALSE(amend_open_reply(good, kOpInit, 1));
}

TEST(PassthroughWire, ParsesHeaders) {
    auto req = init_request(0, 0);
    RequestHeader h;
    ASSERT_TRUE(parse_request(req, h));
    EXPECT_EQ(h.opcode, kOpInit);
    EXPECT_EQ(h.unique, 1U);
    std::uint64_t unique = 0;
    ASSERT_TRUE(reply_unique(reply(0, 77), unique));
    EXPECT_EQ(unique, 77U);
    EXPECT_FALSE(reply_unique(Bytes(8), unique));
}

}  // namespace
}  // namespace splicefs::fs::wire
