// tee, sendfile, copy_file (method reporting and fallbacks), copy_range.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "splice_test_support.hpp"
#include "splicefs/copy.hpp"
#include "splicefs/splice.hpp"

namespace splicefs::splice::test {
namespace {

class SpliceCopy : public ::testing::Test {
protected:
    TempDir dir;
    std::string data = random_bytes(1024 * 1024 + 333, 3);
    void SetUp() override { make_file(dir.file("src"), data); }
};

TEST_F(SpliceCopy, TeeDuplicatesWithoutConsuming) {
    Pipe a;
    Pipe b;
    write_all(a.w.get(), "duplicate me");
    EXPECT_EQ(tee(b.w.get(), a.r.get(), 100), 12U);
    EXPECT_EQ(read_fd(b.r.get(), 12), "duplicate me");
    EXPECT_EQ(read_fd(a.r.get(), 12), "duplicate me");
}

TEST_F(SpliceCopy, TeeErrors) {
    Pipe a;
    Pipe b;
    EXPECT_EQ(errno_of([&] { (void)tee(b.w.get(), a.r.get(), 10, Flags::nonblock); }), EAGAIN);
    auto f = open_fd(dir.file("src"), O_RDONLY);
    EXPECT_EQ(errno_of([&] { (void)tee(b.w.get(), f.get(), 10); }), EINVAL);
}

TEST_F(SpliceCopy, SendfileOffsetContract) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(sendfile(out.get(), in.get(), off_t{500}, 1000), 1000U);
    EXPECT_EQ(position(in.get()), 0);
    EXPECT_EQ(sendfile(out.get(), in.get(), std::nullopt, 2000), 2000U);
    EXPECT_EQ(position(in.get()), 2000);
    EXPECT_EQ(sendfile(out.get(), in.get(), static_cast<off_t>(data.size()), 10), 0U);  // EOF
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(500, 1000) + data.substr(0, 2000));
    EXPECT_EQ(errno_of([&] { (void)sendfile(out.get(), -1, std::nullopt, 1); }), EBADF);
}

TEST_F(SpliceCopy, SameFilesystemUsesCopyFileRange) {
    const auto r = copy_file(dir.file("src").c_str(), dir.file("dst").c_str());
    EXPECT_EQ(r.bytes, data.size());
    EXPECT_EQ(r.method, CopyMethod::copy_file_range);
    EXPECT_EQ(to_string(r.method), "copy_file_range");
    EXPECT_EQ(read_file(dir.file("dst")), data);
}

TEST_F(SpliceCopy, PathCopyKeepsModeAndTruncates) {
    ASSERT_EQ(::chmod(dir.file("src").c_str(), 0640), 0);
    make_file(dir.file("dst"), std::string(5 * 1024 * 1024, 'z'));  // longer than the source
    (void)::chmod(dir.file("dst").c_str(), 0640);
    const auto r = copy_file(dir.file("src").c_str(), dir.file("new").c_str());
    EXPECT_EQ(r.bytes, data.size());
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("new").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640U);
    (void)copy_file(dir.file("src").c_str(), dir.file("dst").c_str());
    EXPECT_EQ(read_file(dir.file("dst")), data);
}

TEST_F(SpliceCopy, PipeSourceFallsBackToSplice) {
    Pipe p;
    write_all(p.w.get(), data.substr(0, 50000));
    p.w.reset();
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    const auto r = copy_file(p.r.get(), out.get());
    EXPECT_EQ(r.method, CopyMethod::splice);
    EXPECT_EQ(r.bytes, 50000U);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(0, 50000));
}

TEST_F(SpliceCopy, CrossFilesystemFallsBackToSplice) {
    struct stat a {};
    struct stat b {};
    if (::stat("/dev/shm", &b) != 0 || ::stat(dir.path().c_str(), &a) != 0 || a.st_dev == b.st_dev)
        GTEST_SKIP() << "/dev/shm is not a separate filesystem here";
    char tmpl[] = "/dev/shm/splice-test-XXXXXX";
    UniqueFd out(::mkstemp(tmpl));
    ASSERT_TRUE(out);
    ::unlink(tmpl);
    auto in = open_fd(dir.file("src"), O_RDONLY);
    const auto r = copy_file(in.get(), out.get());
    EXPECT_EQ(r.bytes, data.size());
    EXPECT_EQ(r.method, CopyMethod::splice);
    ASSERT_EQ(::lseek(out.get(), 0, SEEK_SET), 0);
    EXPECT_EQ(read_fd(out.get()), data);
}

TEST_F(SpliceCopy, AppendTargetFallsBackToReadWrite) {
    make_file(dir.file("log"), "head:");
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("log"), O_WRONLY | O_APPEND);
    const auto r = copy_file(in.get(), out.get());
    EXPECT_EQ(r.method, CopyMethod::read_write);
    EXPECT_EQ(r.bytes, data.size());
    EXPECT_EQ(read_file(dir.file("log")), "head:" + data);
}

TEST_F(SpliceCopy, CopiesFromCurrentPosition) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    ASSERT_EQ(::lseek(in.get(), 1000, SEEK_SET), 1000);
    const auto r = copy_file(in.get(), dir.file("dst").c_str());
    EXPECT_EQ(r.bytes, data.size() - 1000);
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(1000));
}

TEST_F(SpliceCopy, ProgressIsReported) {
    std::size_t last = 0;
    CopyOptions opt;
    opt.chunk = 100000;
    opt.progress = [](std::size_t done, void* ctx) { *static_cast<std::size_t*>(ctx) = done; };
    opt.progress_context = &last;
    const auto r = copy_file(dir.file("src").c_str(), dir.file("dst").c_str(), opt);
    EXPECT_EQ(last, r.bytes);
    EXPECT_EQ(read_file(dir.file("dst")), data);
}

TEST_F(SpliceCopy, EmptyFile) {
    make_file(dir.file("empty"), "");
    const auto r = copy_file(dir.file("empty").c_str(), dir.file("dst").c_str());
    EXPECT_EQ(r.bytes, 0U);
    EXPECT_EQ(read_file(dir.file("dst")), "");
}

TEST_F(SpliceCopy, Errors) {
    EXPECT_EQ(errno_of([&] { (void)copy_file(dir.file("missing").c_str(), dir.file("dst").c_str()); }),
              ENOENT);
    EXPECT_EQ(errno_of([&] { (void)copy_file(dir.file("src").c_str(), dir.file("src").c_str()); }), EINVAL);
    EXPECT_EQ(read_file(dir.file("src")), data);  // the refused self-copy did not truncate
    EXPECT_EQ(errno_of([&] { (void)copy_file(dir.file("src").c_str(), "/nonexistent-dir/x"); }), ENOENT);
}

TEST_F(SpliceCopy, CopyRangeUsesExplicitOffsets) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    auto out = open_fd(dir.file("dst"), O_RDWR | O_CREAT);
    EXPECT_EQ(copy_range(in.get(), 100, out.get(), 0, 5000, 0), 5000U);
    EXPECT_EQ(position(in.get()), 0);
    EXPECT_EQ(position(out.get()), 0);
    EXPECT_EQ(copy_range(in.get(), static_cast<off_t>(data.size()), out.get(), 0, 10, 0), 0U);  // EOF
    EXPECT_EQ(read_file(dir.file("dst")), data.substr(100, 5000));
}

TEST_F(SpliceCopy, CopyRangeErrors) {
    auto in = open_fd(dir.file("src"), O_RDONLY);
    EXPECT_EQ(copy_range_noexcept(in.get(), 0, -1, 0, 10, 0), -EBADF);
    EXPECT_EQ(errno_of([&] { (void)copy_range(in.get(), 0, -1, 0, 10, 0); }), EBADF);
    auto out = open_fd(dir.file("dst"), O_WRONLY | O_CREAT);
    EXPECT_EQ(copy_range_noexcept(in.get(), 0, out.get(), 0, 10, 1), -EINVAL);  // flags must be 0
    Pipe p;
    EXPECT_EQ(copy_range_noexcept(p.r.get(), 0, out.get(), 0, 10, 0), -EINVAL);
}

}  // namespace
}  // namespace splicefs::splice::test
