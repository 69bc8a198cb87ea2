// FUSE over io_uring, byte level: ring entries in, /dev/fuse-shaped requests out; replies as
// libfuse writes them (iovecs) spread over an entry; the INIT-implied payload size; and the
// table that hands each reply to exactly one entry.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "transport/uring_frame.hpp"

namespace splicefs::transport {
namespace {

using Bytes = std::vector<std::byte>;

template <typename T>
void put(std::byte* p, T v) {
    std::memcpy(p, &v, sizeof v);
}
template <typename T>
T get(const std::byte* p) {
    T v{};
    std::memcpy(&v, p, sizeof v);
    return v;
}

// An entry as the kernel fills it: fuse_in_header, `op_len` bytes of op header, `payload`.
abi::FuseUringReqHeader entry_header(std::uint32_t opcode, std::uint64_t unique, std::size_t op_len,
                                     std::size_t payload_len) {
    abi::FuseUringReqHeader h{};
    put<std::uint32_t>(h.in_out, static_cast<std::uint32_t>(kInHeaderSize + op_len + payload_len));
    put<std::uint32_t>(h.in_out + 4, opcode);
    put<std::uint64_t>(h.in_out + 8, unique);
    put<std::uint64_t>(h.in_out + 16, 42);  // nodeid
    for (std::size_t i = 0; i < std::min(op_len, abi::kOpInOutSize); ++i)
        h.op_in[i] = std::byte{static_cast<unsigned char>(0xA0 + i)};
    h.ring_ent_in_out.commit_id = unique;
    h.ring_ent_in_out.payload_sz = static_cast<std::uint32_t>(payload_len);
    return h;
}

TEST(UringFrame, AbiSizesMatchTheKernel) {
    EXPECT_EQ(sizeof(abi::FuseUringReqHeader), 288U);
    EXPECT_EQ(offsetof(abi::FuseUringReqHeader, op_in), 128U);
    EXPECT_EQ(offsetof(abi::FuseUringReqHeader, ring_ent_in_out), 256U);
    EXPECT_EQ(offsetof(abi::FuseUringEntInOut, payload_sz), 16U);
    EXPECT_EQ(offsetof(abi::FuseUringCmdReq, qid), 16U);
    EXPECT_LE(sizeof(abi::FuseUringCmdReq), 80U) << "fits the command area of a 128-byte SQE";
}

TEST(UringFrame, WriteRequestIsAssembledInFrontOfItsPayload) {
    constexpr std::size_t kPayload = 4096;
    Bytes buf(kRequestSlack + kPayload);
    for (std::size_t i = 0; i < kPayload; ++i)
        buf[kRequestSlack + i] = std::byte{static_cast<unsigned char>(i)};
    const auto h = entry_header(16 /*WRITE*/, 77, 40 /*fuse_write_in*/, kPayload);
    const auto req = assemble_request(h, buf);
    ASSERT_EQ(req.size(), kInHeaderSize + 40 + kPayload);
    EXPECT_EQ(req.data() + kInHeaderSize + 40, buf.data() + kRequestSlack) << "the data is not moved";
    EXPECT_EQ(get<std::uint32_t>(req.data() + 4), 16U);
    EXPECT_EQ(get<std::uint64_t>(req.data() + 8), 77U);
    EXPECT_EQ(req[kInHeaderSize], std::byte{0xA0});
    EXPECT_EQ(req[kInHeaderSize + 39], std::byte{0xA0 + 39});
    EXPECT_EQ(req[kInHeaderSize + 40 + 5], std::byte{5});
}

TEST(UringFrame, NameOnlyRequestHasNoOpHeader) {
    Bytes buf(kRequestSlack + 64);
    std::memcpy(buf.data() + kRequestSlack, "name", 5);
    const auto h = entry_header(1 /*LOOKUP*/, 3, 0, 5);
    const auto req = assemble_request(h, buf);
    ASSERT_EQ(req.size(), kInHeaderSize + 5);
    EXPECT_EQ(std::memcmp(req.data() + kInHeaderSize, "name", 5), 0);
}

TEST(UringFrame, InconsistentEntriesAreRefused) {
    Bytes buf(kRequestSlack + 64);
    EXPECT_TRUE(assemble_request(entry_header(16, 1, 129, 0), buf).empty()) << "op header over 128";
    EXPECT_TRUE(assemble_request(entry_header(16, 1, 0, 65), buf).empty()) << "payload over the buffer";
    auto short_len = entry_header(16, 1, 8, 8);
    put<std::uint32_t>(short_len.in_out, 20);
    EXPECT_TRUE(assemble_request(short_len, buf).empty()) << "len shorter than fuse_in_header";
    auto len_below_payload = entry_header(16, 1, 0, 32);
    put<std::uint32_t>(len_below_payload.in_out, kInHeaderSize + 16);
    EXPECT_TRUE(assemble_request(len_below_payload, buf).empty());
    Bytes tiny(kRequestSlack - 1);
    EXPECT_TRUE(assemble_request(entry_header(16, 1, 0, 0), tiny).empty());
}

TEST(UringFrame, ReplyIsSpreadOverHeaderAndPayload) {
    std::byte out[kOutHeaderSize];
    put<std::uint32_t>(out, 16 + 10);
    put<std::int32_t>(out + 4, 0);
    put<std::uint64_t>(out + 8, 99);
    const char body[] = "0123456789";
    std::vector<iovec> iov{
        {out, 8}, {out + 8, 8}, {const_cast<char*>(body), 4}, {const_cast<char*>(body + 4), 6}};
    EXPECT_EQ(reply_unique(iov), 99U);
    std::byte in_out[abi::kInOutHeaderSize]{};
    Bytes payload(16);
    const auto n = scatter_reply(iov, in_out, payload);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, 10U);
    EXPECT_EQ(std::memcmp(in_out, out, kOutHeaderSize), 0);
    EXPECT_EQ(std::memcmp(payload.data(), body, 10), 0);
}

TEST(UringFrame, ReplyAlreadyInThePayloadIsNotCopied) {
    Bytes payload(32);
    std::memcpy(payload.data(), "in place", 8);
    std::byte out[kOutHeaderSize]{};
    put<std::uint64_t>(out + 8, 5);
    std::vector<iovec> iov{{out, kOutHeaderSize}, {payload.data(), 8}};
    std::byte in_out[abi::kInOutHeaderSize]{};
    const auto n = scatter_reply(iov, in_out, payload);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, 8U);
    EXPECT_EQ(std::memcmp(payload.data(), "in place", 8), 0);
}

TEST(UringFrame, ReplyTooBigOrTooShortIsRefused) {
    std::byte out[kOutHeaderSize]{};
    Bytes body(17);
    std::vector<iovec> big{{out, kOutHeaderSize}, {body.data(), body.size()}};
    std::byte in_out[abi::kInOutHeaderSize]{};
    Bytes payload(16);
    EXPECT_FALSE(scatter_reply(big, in_out, payload).has_value());
    std::vector<iovec> shorty{{out, 8}};
    EXPECT_FALSE(scatter_reply(shorty, in_out, payload).has_value());
    EXPECT_EQ(reply_unique(shorty), 0U);
}

TEST(UringFrame, PayloadSizeFollowsInit) {
    Bytes init(kOutHeaderSize + 64);
    put<std::uint32_t>(init.data() + kOutHeaderSize + 20, 1008 * 1024);  // max_write
    put<std::uint32_t>(init.data() + kOutHeaderSize + 12, 1U << 22);     // FUSE_MAX_PAGES
    put<std::uint16_t>(init.data() + kOutHeaderSize + 28, 256);          // max_pages
    EXPECT_EQ(payload_size_for_init(init), 1024U * 1024U) << "max_pages * 4 KiB wins";
    put<std::uint16_t>(init.data() + kOutHeaderSize + 28, 10);
    EXPECT_EQ(payload_size_for_init(init), 1008U * 1024U) << "max_write wins";
    put<std::uint32_t>(init.data() + kOutHeaderSize + 12, 0);
    put<std::uint32_t>(init.data() + kOutHeaderSize + 20, 4096);
    EXPECT_EQ(payload_size_for_init(init), 32U * 4096U) << "without FUSE_MAX_PAGES the kernel keeps 32";
    put<std::uint32_t>(init.data() + kOutHeaderSize + 20, 1000);
    put<std::uint32_t>(init.data() + kOutHeaderSize + 12, 1U << 22);
    put<std::uint16_t>(init.data() + kOutHeaderSize + 28, 1);
    EXPECT_EQ(payload_size_for_init(init), 8192U) << "never under FUSE_MIN_READ_BUFFER";
    EXPECT_EQ(payload_size_for_init(Bytes(kOutHeaderSize + 63)), 0U);
}

TEST(UringInflight, EachReplyFindsItsEntryOnce) {
    InflightTable table(8);
    table.claim(3, 1001);
    table.claim(5, 1002);
    EXPECT_FALSE(table.take(0).has_value()) << "notifications belong to /dev/fuse";
    EXPECT_FALSE(table.take(999).has_value()) << "a /dev/fuse request";
    EXPECT_FALSE(table.take_slot(3, 1002)) << "another entry's reply";
    EXPECT_TRUE(table.take_slot(3, 1001));
    EXPECT_FALSE(table.take_slot(3, 1001)) << "answered once";
    const auto slot = table.take(1002);
    ASSERT_TRUE(slot.has_value());
    EXPECT_EQ(*slot, 5U);
    EXPECT_FALSE(table.take(1002).has_value());
    table.claim(5, 1003);  // the entry came back with a new request
    EXPECT_EQ(table.take(1003), std::optional<std::size_t>(5));
}

TEST(UringInflight, RacingRepliersTakeEachUniqueExactlyOnce) {
    constexpr std::size_t kSlots = 16;
    constexpr std::uint64_t kRounds = 2000;
    InflightTable table(kSlots);
    std::vector<std::size_t> wins(4, 0);
    for (std::uint64_t round = 1; round <= kRounds; ++round) {
        for (std::size_t s = 0; s < kSlots; ++s) table.claim(s, round * kSlots + s);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < wins.size(); ++t) {
            threads.emplace_back([&, t] {
                for (std::size_t s = 0; s < kSlots; ++s) {
                    if (table.take(round * kSlots + s)) ++wins[t];
                }
            });
        }
        for (auto& th : threads) th.join();
    }
    EXPECT_EQ(std::accumulate(wins.begin(), wins.end(), std::size_t{0}), kSlots * kRounds);
}

}  // namespace
}  // namespace splicefs::transport
