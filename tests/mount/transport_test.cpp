// FUSE over io_uring (--transport=uring): requests travel through the per-CPU rings and come
// out as through /dev/fuse (bytes, names, metadata, locks, fsync through the pool, kernel
// passthrough); what stays on /dev/fuse (notifications of outside changes) keeps working; a
// module that says no leaves the mount on /dev/fuse with one log line. The fuse module's switch
// is turned on or off for each test and put back afterwards.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

constexpr const char* kSwitch = "/sys/module/fuse/parameters/enable_uring";

// Sets the fuse module's enable_uring for the test's lifetime.
class UringSwitch {
public:
    explicit UringSwitch(bool on) {
        std::ifstream in(kSwitch);
        if (!(in >> saved_)) return;
        std::ofstream(kSwitch) << (on ? "Y" : "N");
        std::ifstream check(kSwitch);
        std::string now;
        usable_ = (check >> now) && now == (on ? "Y" : "N");
    }
    UringSwitch(const UringSwitch&) = delete;
    UringSwitch& operator=(const UringSwitch&) = delete;
    ~UringSwitch() {
        if (!saved_.empty()) std::ofstream(kSwitch) << saved_;
    }
    [[nodiscard]] bool usable() const { return usable_; }

private:
    std::string saved_;
    bool usable_ = false;
};

// Occurrences in the daemon's stderr part of Mount::log() (in the foreground every log line
// reaches stderr at once; the --log-file part may not be flushed yet).
std::size_t count_of(const std::string& log, const std::string& what) {
    const std::string marker = "--- daemon stdout/stderr ---";
    const auto at = log.find(marker);
    const std::string text = at == std::string::npos ? log : log.substr(at + marker.size());
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

TEST(Transport, RingsServeDataNamesMetadataLocksAndFsync) {
    const UringSwitch on(true);
    if (!on.usable()) GTEST_SKIP() << "no writable " << kSwitch << " (CONFIG_FUSE_IO_URING, root)";
    Mount mnt({"--transport=uring"});

    const Bytes big = random_bytes(17, (3U << 20) + 123);
    write_file(mnt.m("big"), big);
    EXPECT_EQ(read_file(mnt.b("big")), big);
    EXPECT_EQ(read_file(mnt.m("big")), big);
    {
        const Fd fd = open_fd(mnt.m("big"), O_RDWR);
        ASSERT_TRUE(fd.valid());
        const Bytes small = random_bytes(18, 4096);
        pwrite_all(fd.get(), small, 8192);
        EXPECT_EQ(pread_exact(fd.get(), 4096, 8192), small);
        EXPECT_EQ(::fsync(fd.get()), 0) << "fsync is answered by the pool, committed by its queue";
        EXPECT_EQ(pread_exact(fd.get(), 100, static_cast<off_t>(big.size()) - 50).size(), 50U);
    }

    ASSERT_EQ(::mkdir(mnt.m("d").c_str(), 0755), 0);
    for (int i = 0; i < 50; ++i) write_file(mnt.m("d/f" + std::to_string(i)), std::to_string(i));
    ASSERT_EQ(::rename(mnt.m("d/f0").c_str(), mnt.m("d/renamed").c_str()), 0);
    ASSERT_EQ(::symlink("renamed", mnt.m("d/link").c_str()), 0);
    ASSERT_EQ(::unlink(mnt.m("d/f1").c_str()), 0);
    auto names = list_dir(mnt.m("d"));
    EXPECT_EQ(names.size(), 50U);
    EXPECT_TRUE(names.contains("renamed") && names.contains("link") && !names.contains("f1"));
    EXPECT_EQ(list_dir(mnt.b("d")).size(), 50U);
    const struct stat st = lstat_of(mnt.m("big"));
    EXPECT_EQ(static_cast<std::size_t>(st.st_size), big.size());
    ASSERT_EQ(::setxattr(mnt.m("big").c_str(), "user.k", "v1", 2, 0), 0);
    char value[8]{};
    EXPECT_EQ(::getxattr(mnt.b("big").c_str(), "user.k", value, sizeof value), 2);

    // flock: the waiting lock goes to the pool, its reply finds the ring entry by unique.
    const Fd a = open_fd(mnt.m("big"), O_RDONLY);
    const Fd b = open_fd(mnt.m("big"), O_RDONLY);
    ASSERT_EQ(::flock(a.get(), LOCK_EX), 0);
    EXPECT_ERRNO(::flock(b.get(), LOCK_EX | LOCK_NB), EWOULDBLOCK);
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        (void)::flock(a.get(), LOCK_UN);
    });
    EXPECT_EQ(::flock(b.get(), LOCK_EX), 0);
    release.join();

    // An outside change reaches the kernel through a notification, on /dev/fuse.
    write_file(mnt.m("outside"), "before");
    EXPECT_EQ(read_file(mnt.m("outside")), to_bytes("before"));
    write_file(mnt.b("outside"), "after, and longer");
    bool seen = false;
    for (int i = 0; i < 100 && !seen; ++i) {
        seen = read_file(mnt.m("outside")) == to_bytes("after, and longer");
        if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(seen);

    const std::string log = mnt.log();
    EXPECT_EQ(count_of(log, "transport: io_uring serving requests"), 1U) << log;
    EXPECT_EQ(count_of(log, "serving /dev/fuse"), 0U) << log;
}

TEST(Transport, KernelPassthroughWorksWithTheRings) {
    const UringSwitch on(true);
    if (!on.usable()) GTEST_SKIP() << "no writable " << kSwitch << " (CONFIG_FUSE_IO_URING, root)";
    Mount mnt({"--transport=uring", "--data-path=passthrough"});
    const Bytes data = random_bytes(21, (2U << 20) + 5);
    write_file(mnt.m("p"), data);
    EXPECT_EQ(read_file(mnt.b("p")), data);
    EXPECT_EQ(read_file(mnt.m("p")), data);
    const auto s = mnt.stats();
    if (json_number(s.json, "", "passthrough_opens").value_or(0) == 0)
        GTEST_SKIP() << "this kernel refuses FUSE passthrough:\n" << mnt.log();
    EXPECT_EQ(s.reads.total_bytes(), 0U) << "OPEN replies committed through a ring carry the backing id";
    EXPECT_EQ(count_of(mnt.log(), "transport: io_uring serving requests"), 1U) << mnt.log();
}

TEST(Transport, ModuleSwitchOffLeavesTheMountOnDevFuse) {
    const UringSwitch off(false);
    if (!off.usable()) GTEST_SKIP() << "no writable " << kSwitch << " (CONFIG_FUSE_IO_URING, root)";
    Mount mnt({"--transport=uring"});
    const Bytes data = random_bytes(22, 300000);
    write_file(mnt.m("f"), data);
    EXPECT_EQ(read_file(mnt.m("f")), data);
    EXPECT_EQ(read_file(mnt.b("f")), data);
    const std::string log = mnt.log();
    EXPECT_EQ(count_of(log, "does not offer FUSE_OVER_IO_URING"), 1U) << log;
    EXPECT_EQ(count_of(log, "serving /dev/fuse"), 1U) << "one line: " << log;
    EXPECT_EQ(count_of(log, "io_uring serving requests"), 0U) << log;
}

}  // namespace
}  // namespace splicefs::test
