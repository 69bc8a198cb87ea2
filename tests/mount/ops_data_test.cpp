// File data operations beyond read/write: flush/fsync, fallocate, copy_file_range,
// SEEK_DATA/SEEK_HOLE, O_DIRECT and shared mmap.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using DataOpsTest = MountTest;

TEST_F(DataOpsTest, FlushFsyncFdatasync) {
    Fd fd = open_fd(m("f"), O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    pwrite_all(fd.get(), random_bytes(1, 300000), 0);
    EXPECT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
    EXPECT_EQ(fdatasync(fd.get()), 0) << std::strerror(errno);
    EXPECT_EQ(syncfs(fd.get()), 0) << std::strerror(errno);
    // close() sends FLUSH; its result is what close returns.
    const Fd dup_fd(dup(fd.get()));
    EXPECT_EQ(close(fd.release()), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("f")).st_size, 300000);
    // A pool thread counts its op just after replying: with --transport=uring the reply can
    // overtake the count, so look again for a while (not a timing assertion).
    StatsSnapshot s = mount().stats();
    for (int i = 0; i < 100 && s.op_calls("fsync").value_or(2) < 2; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        s = mount().stats();
    }
    if (const auto n = s.op_calls("fsync")) {
        EXPECT_GE(*n, 2u) << s.json;
    }
}

TEST_F(DataOpsTest, FallocateDefaultKeepSizeAndPunchHole) {
    const Fd fd = open_fd(m("f"), O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    ASSERT_EQ(fallocate(fd.get(), 0, 0, 1 << 20), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("f")).st_size, 1 << 20);
    EXPECT_EQ(lstat_of(m("f")).st_size, 1 << 20);
    EXPECT_GE(lstat_of(b("f")).st_blocks, (1 << 20) / 512);

    const Fd g = open_fd(m("g"), O_RDWR | O_CREAT | O_TRUNC);
    pwrite_all(g.get(), random_bytes(2, 4096), 0);
    ASSERT_EQ(fallocate(g.get(), FALLOC_FL_KEEP_SIZE, 0, 1 << 20), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("g")).st_size, 4096);
    EXPECT_EQ(lstat_of(m("g")).st_size, 4096);
    EXPECT_GE(lstat_of(b("g")).st_blocks, (1 << 20) / 512);

    const Bytes data = random_bytes(3, 256 * 1024);
    const Fd h = open_fd(m("h"), O_RDWR | O_CREAT | O_TRUNC);
    pwrite_all(h.get(), data, 0);
    ASSERT_EQ(fsync(h.get()), 0);
    const blkcnt_t before = lstat_of(b("h")).st_blocks;
    ASSERT_EQ(fallocate(h.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 64 * 1024, 128 * 1024), 0)
        << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("h")).st_size, 256 * 1024);
    EXPECT_LT(lstat_of(b("h")).st_blocks, before);
    Bytes expected = data;
    std::fill(expected.begin() + 64 * 1024, expected.begin() + 192 * 1024, 0);
    EXPECT_EQ(pread_exact(h.get(), 300000, 0), expected);
    EXPECT_EQ(read_file(b("h")), expected);
    // PUNCH_HOLE without KEEP_SIZE is invalid (as natively).
    EXPECT_ERRNO(fallocate(h.get(), FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
}

TEST_F(DataOpsTest, CopyFileRange) {
    const Bytes data = random_bytes(4, 3 * 1024 * 1024 + 17);
    write_file(b("src"), data);
    const Fd in = open_fd(m("src"), O_RDONLY);
    const Fd out = open_fd(m("dst"), O_WRONLY | O_CREAT | O_TRUNC);
    ASSERT_TRUE(in.valid() && out.valid()) << std::strerror(errno);
    loff_t in_off = 1000;
    loff_t out_off = 5;
    std::size_t left = data.size() - 1000;
    while (left > 0) {
        const ssize_t n = copy_file_range(in.get(), &in_off, out.get(), &out_off, left, 0);
        ASSERT_GT(n, 0) << std::strerror(errno);
        left -= static_cast<std::size_t>(n);
    }
    Bytes expected(5, 0);
    expected.insert(expected.end(), data.begin() + 1000, data.end());
    EXPECT_EQ(read_file(b("dst")), expected);
    EXPECT_EQ(read_file(m("dst")), expected);
}

TEST_F(DataOpsTest, SeekDataAndHoleMatchBacking) {
    constexpr off_t kHoleEnd = 4 << 20;
    {
        const Fd fd = open_fd(b("sparse"), O_RDWR | O_CREAT | O_TRUNC);
        pwrite_all(fd.get(), random_bytes(5, 4096), 0);
        pwrite_all(fd.get(), random_bytes(6, 4096), kHoleEnd);
    }
    const Fd bfd = open_fd(b("sparse"), O_RDONLY);
    const off_t native_hole = lseek(bfd.get(), 0, SEEK_HOLE);
    if (native_hole >= kHoleEnd) GTEST_SKIP() << "backing filesystem reports no holes";
    const Fd fd = open_fd(m("sparse"), O_RDONLY);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    for (const off_t off : {off_t{0}, off_t{100}, off_t{4096}, off_t{1 << 20}, kHoleEnd - 1, kHoleEnd + 10}) {
        for (const int whence : {SEEK_DATA, SEEK_HOLE}) {
            errno = 0;
            const off_t want = lseek(bfd.get(), off, whence);
            const int want_errno = errno;
            errno = 0;
            const off_t got = lseek(fd.get(), off, whence);
            EXPECT_EQ(got, want) << "offset " << off << (whence == SEEK_DATA ? " SEEK_DATA" : " SEEK_HOLE");
            if (want < 0) {
                EXPECT_EQ(errno, want_errno);
            }
        }
    }
    EXPECT_ERRNO(lseek(fd.get(), kHoleEnd + 4096, SEEK_DATA), ENXIO);
}

struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

TEST_F(DataOpsTest, ODirectAlignedReadWrite) {
    constexpr std::size_t kLen = 256 * 1024;
    void* raw = nullptr;
    ASSERT_EQ(posix_memalign(&raw, 4096, kLen), 0);
    const std::unique_ptr<void, FreeDeleter> buf(raw);
    auto* bytes = static_cast<unsigned char*>(buf.get());
    const Bytes data = random_bytes(7, kLen);
    std::memcpy(bytes, data.data(), kLen);

    const Fd fd = open_fd(m("direct"), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    ASSERT_EQ(pwrite(fd.get(), bytes, kLen, 4096), static_cast<ssize_t>(kLen)) << std::strerror(errno);
    ASSERT_EQ(pwrite(fd.get(), bytes, 4096, 0), 4096) << std::strerror(errno);
    std::memset(bytes, 0, kLen);
    ASSERT_EQ(pread(fd.get(), bytes, kLen, 4096), static_cast<ssize_t>(kLen)) << std::strerror(errno);
    EXPECT_EQ(std::memcmp(bytes, data.data(), kLen), 0);
    Bytes expected(data.begin(), data.begin() + 4096);
    expected.insert(expected.end(), data.begin(), data.end());
    EXPECT_EQ(read_file(b("direct")), expected);
    EXPECT_EQ(read_file(m("direct")), expected);
}

TEST_F(DataOpsTest, SharedMmapWriteIsVisible) {
    constexpr std::size_t kLen = 3 * 4096;
    const Fd fd = open_fd(m("mm"), O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    ASSERT_EQ(ftruncate(fd.get(), kLen), 0);
    void* addr = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(addr, MAP_FAILED) << std::strerror(errno);
    const auto unmap = [kLen](void* p) { munmap(p, kLen); };
    const std::unique_ptr<void, decltype(unmap)> map(addr, unmap);
    auto* p = static_cast<unsigned char*>(map.get());
    const Bytes data = random_bytes(8, kLen);
    std::memcpy(p, data.data(), kLen);
    ASSERT_EQ(msync(p, kLen, MS_SYNC), 0) << std::strerror(errno);
    const Fd reader = open_fd(m("mm"), O_RDONLY);
    EXPECT_EQ(pread_exact(reader.get(), kLen, 0), data);
    EXPECT_EQ(read_file(b("mm")), data);
    // And write() is visible through the mapping.
    pwrite_all(fd.get(), to_bytes("hello"), 100);
    EXPECT_EQ(std::memcmp(p + 100, "hello", 5), 0);
}

TEST_F(DataOpsTest, PrivateMmapReadOfBackingData) {
    const Bytes data = random_bytes(9, 1 << 20);
    write_file(b("ro"), data);
    const Fd fd = open_fd(m("ro"), O_RDONLY);
    void* addr = mmap(nullptr, data.size(), PROT_READ, MAP_PRIVATE, fd.get(), 0);
    ASSERT_NE(addr, MAP_FAILED) << std::strerror(errno);
    const std::size_t len = data.size();
    const auto unmap = [len](void* q) { munmap(q, len); };
    const std::unique_ptr<void, decltype(unmap)> map(addr, unmap);
    EXPECT_EQ(std::memcmp(map.get(), data.data(), data.size()), 0);
}

}  // namespace
}  // namespace splicefs::test
