// Kernel passthrough (--data-path=passthrough): the kernel reads and writes the backing files
// itself. Checks the data, the cases the kernel treats specially, and that READ/WRITE never
// reached the daemon.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

class PassthroughTest : public ::testing::Test {
protected:
    void SetUp() override {
        mnt_ = std::make_unique<Mount>(std::vector<std::string>{"--data-path=passthrough"});
        // Probe: an open of a file shows whether the kernel accepted passthrough.
        write_file(mnt_->b("probe"), to_bytes("x"));
        (void)read_file(mnt_->m("probe"));
        const auto s = mnt_->stats();
        if (json_number(s.json, "", "passthrough_opens").value_or(0) == 0) {
            GTEST_SKIP() << "this kernel or user cannot use FUSE passthrough (needs Linux 6.9+ and root):\n"
                         << mnt_->log();
        }
    }
    fs::path b(std::string_view rel) const { return mnt_->b(rel); }
    fs::path m(std::string_view rel) const { return mnt_->m(rel); }
    void expect_daemon_moved_no_data() const {
        const auto s = mnt_->stats();
        EXPECT_EQ(s.reads.total_bytes(), 0u) << s.json;
        EXPECT_EQ(s.writes.total_bytes(), 0u) << s.json;
        EXPECT_EQ(json_number(s.json, "", "passthrough_fallbacks").value_or(-1), 0) << s.json;
    }
    std::unique_ptr<Mount> mnt_;
};

TEST_F(PassthroughTest, BigFileBothWaysByteExactWithoutDaemonData) {
    const Bytes data = random_bytes(81, (16u << 20) + 7);
    write_file(m("big"), data);
    EXPECT_EQ(read_file(b("big")), data);
    EXPECT_EQ(read_file(m("big")), data);
    expect_daemon_moved_no_data();
}

TEST_F(PassthroughTest, TwoOpensOfOneFileShareTheBackingFile) {
    write_file(b("f"), random_bytes(1, 65536));
    const Fd a = open_fd(m("f"), O_RDWR);
    const Fd r = open_fd(m("f"), O_RDONLY);
    const Bytes patch = random_bytes(2, 4096);
    pwrite_all(a.get(), patch, 8192);
    EXPECT_EQ(pread_exact(r.get(), 4096, 8192), patch) << "a second open sees the first one's write";
    expect_daemon_moved_no_data();
}

TEST_F(PassthroughTest, MmapSharedWriteReachesBackingAndBackingChangesReachMapping) {
    write_file(b("f"), Bytes(8192, 0));
    const Fd fd = open_fd(m("f"), O_RDWR);
    void* p = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(p, MAP_FAILED) << std::strerror(errno);
    auto* bytes = static_cast<unsigned char*>(p);
    std::memcpy(bytes, "through-map", 11);
    ASSERT_EQ(::msync(p, 8192, MS_SYNC), 0);
    EXPECT_EQ(pread_exact(open_fd(b("f"), O_RDONLY).get(), 11, 0), to_bytes("through-map"));
    // The mapping is the backing file's: a write made directly on the backing file shows.
    pwrite_all(open_fd(b("f"), O_WRONLY).get(), to_bytes("direct"), 4096);
    EXPECT_EQ(std::memcmp(bytes + 4096, "direct", 6), 0);
    ::munmap(p, 8192);
}

TEST_F(PassthroughTest, AlignedODirectReadAndWrite) {
    write_file(b("f"), Bytes(1 << 20, 0));
    const Fd fd = open_fd(m("f"), O_RDWR | O_DIRECT);
    void* raw = nullptr;
    ASSERT_EQ(::posix_memalign(&raw, 4096, 65536), 0);
    const std::unique_ptr<void, decltype(&std::free)> buf(raw, &std::free);
    const Bytes data = random_bytes(3, 65536);
    std::memcpy(buf.get(), data.data(), data.size());
    ASSERT_EQ(::pwrite(fd.get(), buf.get(), 65536, 65536), 65536) << std::strerror(errno);
    std::memset(buf.get(), 0, 65536);
    ASSERT_EQ(::pread(fd.get(), buf.get(), 65536, 65536), 65536) << std::strerror(errno);
    EXPECT_EQ(std::memcmp(buf.get(), data.data(), data.size()), 0);
    EXPECT_EQ(pread_exact(open_fd(b("f"), O_RDONLY).get(), 65536, 65536), data);
}

TEST_F(PassthroughTest, AppendAndTruncateWhileOpen) {
    write_file(b("f"), to_bytes("0123456789"));
    const Fd app = open_fd(m("f"), O_WRONLY | O_APPEND);
    ASSERT_EQ(::write(app.get(), "abc", 3), 3);
    EXPECT_EQ(read_file(b("f")), to_bytes("0123456789abc"));
    ASSERT_EQ(::truncate(m("f").c_str(), 4), 0) << std::strerror(errno);
    ASSERT_EQ(::write(app.get(), "Z", 1), 1);
    EXPECT_EQ(read_file(b("f")), to_bytes("0123Z")) << "O_APPEND writes at the new end";
    struct stat st {};
    ASSERT_EQ(::stat(m("f").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 5);
}

TEST_F(PassthroughTest, BackingChangedByAnotherProcessWhileOpen) {
    write_file(b("f"), to_bytes("old contents"));
    const Fd fd = open_fd(m("f"), O_RDONLY);
    EXPECT_EQ(pread_exact(fd.get(), 3, 0), to_bytes("old"));
    pwrite_all(open_fd(b("f"), O_WRONLY).get(), to_bytes("new"), 0);
    EXPECT_EQ(pread_exact(fd.get(), 3, 0), to_bytes("new")) << "reads go to the backing file, no stale cache";
}

TEST_F(PassthroughTest, UnlinkWhileOpenKeepsWorking) {
    write_file(m("f"), to_bytes("still here"));
    const Fd fd = open_fd(m("f"), O_RDWR);
    ASSERT_EQ(::unlink(m("f").c_str()), 0);
    EXPECT_FALSE(fs::exists(b("f")));
    pwrite_all(fd.get(), to_bytes("STILL"), 0);
    EXPECT_EQ(pread_exact(fd.get(), 10, 0), to_bytes("STILL here"));
}

TEST_F(PassthroughTest, BackingIdsAreReleasedWhenFilesClose) {
    for (int i = 0; i < 50; ++i) {
        const std::string name = "f" + std::to_string(i);
        write_file(m(name), to_bytes(name));
        EXPECT_EQ(read_file(m(name)), to_bytes(name));
    }
    const auto s = mnt_->stats_when_idle();
    EXPECT_EQ(s.open_files, 0) << s.json;
    EXPECT_GE(json_number(s.json, "", "passthrough_opens").value_or(0), 100) << s.json;
    expect_daemon_moved_no_data();
}

}  // namespace
}  // namespace splicefs::test
