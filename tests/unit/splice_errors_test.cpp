// splice() errors: exceptions carry errno, EAGAIN on full/empty pipes, EINVAL targets, nothing
// stranded in the internal pipe, no fd leaks.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "splice_test_support.hpp"
#include "splicefs/copy.hpp"
#include "splicefs/splice.hpp"

namespace splicefs::splice::test {
namespace {

class SpliceErrors : public ::testing::Test {
protected:
    TempDir dir;
    std::string data = random_bytes(2 * 1024 * 1024 + 7, 2);
    void SetUp() override { make_file(dir.file("src"), data); }
};

TEST_F(SpliceErrors, ExceptionCarriesErrno) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    try {
        (void)splice(-1, in.get(), std::nullopt, 10);
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EBADF);
        EXPECT_EQ(e.code().category(), std::generic_category());
    }
}

TEST_F(SpliceErrors, ReadOnlyTargetIsEbadf) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("src"), O_RDONLY);
    EXPECT_EQ(errno_of([&] { (void)splice(out.get(), in.get(), std::nullopt, 10); }), EBADF);
    EXPECT_EQ(internal_pipe::pending(), 0U);
}

TEST_F(SpliceErrors, OffsetOnPipeIsEspipe) {
    Pipe p;
    write_all(p.w.get(), "abc");
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(errno_of([&] { (void)splice(out.get(), p.r.get(), off_t{0}, 3); }), ESPIPE);
}

TEST_F(SpliceErrors, NegativeOffsetIsEinval) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(errno_of([&] { (void)splice(out.get(), in.get(), off_t{-5}, 3); }), EINVAL);
}

TEST_F(SpliceErrors, NonblockOnEmptyPipeIsEagain) {
    Pipe p;  // writer open, nothing written
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(errno_of([&] { (void)splice(out.get(), p.r.get(), std::nullopt, 100, Flags::nonblock); }),
              EAGAIN);
}

TEST_F(SpliceErrors, NonblockOnFullPipeIsEagain) {
    Pipe p(O_NONBLOCK);
    const std::string block(4096, 'x');
    while (::write(p.w.get(), block.data(), block.size()) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
    auto in = open_fd(dir.file("src"), O_RDONLY);
    EXPECT_EQ(errno_of([&] { (void)splice(p.w.get(), in.get(), std::nullopt, 4096, Flags::nonblock); }),
              EAGAIN);
    EXPECT_EQ(position(in.get()), 0);
}

TEST_F(SpliceErrors, AppendTargetIsEinvalAndNothingIsStranded) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto bad = open_fd(dir.file("append"), O_WRONLY | O_CREAT | O_APPEND);
    EXPECT_EQ(errno_of([&] { (void)splice(bad.get(), in.get(), std::nullopt, 100000); }), EINVAL);
    EXPECT_EQ(internal_pipe::pending(), 0U);
    // The bytes pulled into the internal pipe were handed back: the position did not move ...
    EXPECT_EQ(position(in.get()), 0);
    // ... and the next call sees fresh data, not leftovers of the failed one.
    auto good = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(splice(good.get(), in.get(), std::nullopt, 50000), 50000U);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(0, 50000));
}

TEST_F(SpliceErrors, AppendTargetWithOffsetStrandsNothing) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto bad = open_fd(dir.file("append"), O_WRONLY | O_CREAT | O_APPEND);
    EXPECT_EQ(errno_of([&] { (void)splice(bad.get(), in.get(), off_t{4096}, 10000); }), EINVAL);
    EXPECT_EQ(internal_pipe::pending(), 0U);
    auto good = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(splice(good.get(), in.get(), off_t{100}, 10), 10U);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(100, 10));
}

TEST_F(SpliceErrors, PipeToAppendTargetIsEinval) {
    Pipe p;
    write_all(p.w.get(), "abc");
    auto bad = open_fd(dir.file("append"), O_WRONLY | O_CREAT | O_APPEND);
    EXPECT_EQ(errno_of([&] { (void)splice(bad.get(), p.r.get(), std::nullopt, 3); }), EINVAL);
}

TEST_F(SpliceErrors, FullNonblockingSocketReturnsDeliveredCountThenEagain) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    UniqueFd tx(sv[0]);
    UniqueFd rx(sv[1]);
    auto in = open_fd(dir.file("src"), O_RDONLY);
    // Nobody reads: the socket buffer fills and the transfer stops short of 2 MiB.
    const std::size_t n = splice(tx.get(), in.get(), std::nullopt, data.size());
    EXPECT_GT(n, 0U);
    EXPECT_LT(n, data.size());
    EXPECT_EQ(position(in.get()), static_cast<off_t>(n));  // undelivered bytes were handed back
    EXPECT_EQ(internal_pipe::pending(), 0U);
    EXPECT_EQ(errno_of([&] { (void)splice(tx.get(), in.get(), std::nullopt, data.size()); }), EAGAIN);
    EXPECT_EQ(position(in.get()), static_cast<off_t>(n));
    EXPECT_EQ(internal_pipe::pending(), 0U);
    // The receiver gets exactly the first n bytes.
    std::string got;
    char buf[65536];
    for (;;) {
        const ssize_t r = ::recv(rx.get(), buf, sizeof buf, 0);
        if (r <= 0) break;
        got.append(buf, static_cast<std::size_t>(r));
    }
    EXPECT_EQ(got, data.substr(0, n));
}

TEST_F(SpliceErrors, SocketToFileThroughInternalPipe) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd tx(sv[0]);
    UniqueFd rx(sv[1]);
    std::thread writer([&] {
        write_all(tx.get(), data.substr(0, 300000));
        tx.reset();
    });
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    std::size_t total = 0;
    for (;;) {
        const std::size_t n = splice(out.get(), rx.get(), std::nullopt, 1 << 20);
        if (n == 0) break;
        total += n;
    }
    writer.join();
    EXPECT_EQ(total, 300000U);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(0, 300000));
}

TEST_F(SpliceErrors, NoFdLeaks) {
    (void)internal_pipe::capacity();  // the calling thread's pipe lives as long as the thread
    const int before = open_fd_count();
    ASSERT_GT(before, 0);
    for (int i = 0; i < 20; ++i) {
        auto in = open_fd(dir.file("src"), O_RDONLY);
        auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT | O_TRUNC);
        auto bad = open_fd(dir.file("append"), O_WRONLY | O_CREAT | O_APPEND);
        (void)splice(out.get(), in.get(), std::nullopt, 70000);
        (void)errno_of([&] { (void)splice(bad.get(), in.get(), std::nullopt, 70000); });
        (void)errno_of([&] { (void)splice(-1, in.get(), std::nullopt, 1); });
        (void)copy_file(dir.file("src").c_str(), dir.file("copy").c_str());
        (void)errno_of([&] { (void)copy_file(dir.file("missing").c_str(), dir.file("copy").c_str()); });
        (void)copy_file(in.get(), bad.get());
    }
    std::thread([&] {
        auto in = open_fd(dir.file("src"), O_RDONLY);
        auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT | O_TRUNC);
        (void)splice(out.get(), in.get(), std::nullopt, 70000);
    }).join();                        // the thread's internal pipe closes with the thread
    (void)internal_pipe::capacity();  // errors discard the pipe; count it again like before
    EXPECT_EQ(open_fd_count(), before);
}

}  // namespace
}  // namespace splicefs::splice::test
