// splice(): EOF, offset vs position, partial transfers, internal pipe behaviour.
#include <gtest/gtest.h>

#include <thread>

#include "splice_test_support.hpp"
#include "splicefs/splice.hpp"

namespace splicefs::splice::test {
namespace {

class SpliceCore : public ::testing::Test {
protected:
    TempDir dir;
    std::string data = random_bytes(3 * 1024 * 1024 + 123);
    void SetUp() override { make_file(dir.file("src"), data); }
};

TEST_F(SpliceCore, EmptyFileReturnsZero) {
    make_file(dir.file("empty"), "");
    auto in = open_fd(dir.file("empty"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(splice(out.get(), in.get(), std::nullopt, 4096), 0U);
    Pipe p;
    EXPECT_EQ(splice(p.w.get(), in.get(), std::nullopt, 4096), 0U);
}

TEST_F(SpliceCore, ReturnsZeroAtEndOfFileAfterCopy) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(splice(out.get(), in.get(), std::nullopt, data.size() + 1000), data.size());
    EXPECT_EQ(splice(out.get(), in.get(), std::nullopt, 1000), 0U);
    EXPECT_EQ(splice(out.get(), in.get(), static_cast<off_t>(data.size()), 1000), 0U);
    EXPECT_EQ(read_file(dir.file("dst")), data);
}

TEST_F(SpliceCore, WithoutOffsetUsesAndAdvancesPosition) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    ASSERT_EQ(::lseek(in.get(), 1000, SEEK_SET), 1000);
    EXPECT_EQ(splice(out.get(), in.get(), std::nullopt, 5000), 5000U);
    EXPECT_EQ(position(in.get()), 6000);
    EXPECT_EQ(position(out.get()), 5000);
    EXPECT_EQ(splice(out.get(), in.get(), std::nullopt, 100), 100U);
    EXPECT_EQ(position(in.get()), 6100);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(1000, 5100));
}

TEST_F(SpliceCore, WithOffsetLeavesPositionAlone) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    ASSERT_EQ(::lseek(in.get(), 123, SEEK_SET), 123);
    EXPECT_EQ(splice(out.get(), in.get(), off_t{70000}, 3000), 3000U);
    EXPECT_EQ(position(in.get()), 123);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(70000, 3000));
}

TEST_F(SpliceCore, FileToPipeHonoursOffsetContract) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    Pipe p;
    EXPECT_EQ(splice(p.w.get(), in.get(), off_t{10}, 20), 20U);
    EXPECT_EQ(position(in.get()), 0);
    EXPECT_EQ(splice(p.w.get(), in.get(), std::nullopt, 30), 30U);
    EXPECT_EQ(position(in.get()), 30);
    EXPECT_EQ(read_fd(p.r.get(), 50), data.substr(10, 20) + data.substr(0, 30));
}

TEST_F(SpliceCore, PipeToFileAdvancesOutputPosition) {
    Pipe p;
    write_all(p.w.get(), "hello pipe");
    p.w.reset();
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(splice(out.get(), p.r.get(), std::nullopt, 4096), 10U);
    EXPECT_EQ(splice(out.get(), p.r.get(), std::nullopt, 4096), 0U);  // writer closed: EOF
    EXPECT_EQ(position(out.get()), 10);
    EXPECT_EQ(read_file(dir.file("dst")), "hello pipe");
}

TEST_F(SpliceCore, DirectTransferCanBePartial) {
    // A default pipe holds 64 KiB: one splice into it moves less than asked.
    auto in = open_fd(dir.file("src"), O_RDONLY);
    Pipe p;
    const auto cap = static_cast<std::size_t>(::fcntl(p.w.get(), F_GETPIPE_SZ));
    const std::size_t n = splice(p.w.get(), in.get(), std::nullopt, data.size());
    EXPECT_GT(n, 0U);
    EXPECT_LE(n, cap);
    EXPECT_LT(n, data.size());
    EXPECT_EQ(position(in.get()), static_cast<off_t>(n));
    EXPECT_EQ(read_fd(p.r.get(), n), data.substr(0, n));
}

TEST_F(SpliceCore, InternalPipeLoopsOverPartialTransfers) {
    // 3 MiB is larger than the internal pipe: the loop must deliver all of it in one call.
    ASSERT_LT(internal_pipe::capacity(), data.size());
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(splice(out.get(), in.get(), off_t{1}, data.size()), data.size() - 1);  // short only at EOF
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(1));
    EXPECT_EQ(internal_pipe::pending(), 0U);
}

TEST_F(SpliceCore, InternalPipeCapacityIsSetAndBounded) {
    const std::size_t cap = internal_pipe::capacity();
    EXPECT_GE(cap, 65536U);
    EXPECT_LE(cap, internal_pipe::kWantedCapacity);
}

TEST_F(SpliceCore, ZeroBytesIsZero) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(splice(out.get(), in.get(), std::nullopt, 0), 0U);
    EXPECT_EQ(position(in.get()), 0);
}

TEST_F(SpliceCore, EachThreadHasItsOwnPipe) {
    std::string results[2];
    std::thread threads[2];
    for (int t = 0; t < 2; ++t) {
        threads[t] = std::thread([&, t] {
            auto in = open_fd(dir.file("src"), O_RDONLY);
            const std::string name = dir.file("dst" + std::to_string(t));
            auto out = open_fd(name, O_WRONLY | O_CREAT);
            while (splice(out.get(), in.get(), std::nullopt, 100000) > 0) {
            }
            results[t] = read_file(name);
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(results[0], data);
    EXPECT_EQ(results[1], data);
}

TEST(SpliceFlags, BitMaskOperators) {
    constexpr Flags f = Flags::move | Flags::more;
    static_assert(has(f, Flags::move) && has(f, Flags::more) && !has(f, Flags::nonblock));
    Flags g = f;
    g &= ~Flags::move;
    EXPECT_EQ(g, Flags::more);
    g ^= Flags::gift;
    EXPECT_EQ(to_underlying(g), 0x0CU);
    EXPECT_EQ(to_underlying(Flags::move | Flags::nonblock | Flags::more | Flags::gift), 0x0FU);
}

}  // namespace
}  // namespace splicefs::splice::test
