// Backing filesystem full (a 16 MiB tmpfs): writes through the mount fail with ENOSPC where
// the backing fs fills up, nothing already written is lost, the daemon keeps serving, and
// writes work again once space is freed. With splice on and off.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

constexpr std::size_t kMiB = 1u << 20;
constexpr std::size_t kKeep = 4 * kMiB;
constexpr std::size_t kStep = 256 * 1024;

class Enospc : public ::testing::TestWithParam<bool> {};

TEST_P(Enospc, FailsAtTheRightPointAndRecovers) {
    const bool splice = GetParam();
    Dirs dirs;
    Tmpfs tmpfs(dirs.backing, "16m");
    std::vector<std::string> args;
    if (!splice) args.emplace_back("--no-splice");
    Daemon d(dirs.backing, dirs.mnt, dirs.root.path(), args);

    const Bytes keep = test::random_bytes(1, kKeep);
    {
        const test::Fd fd = test::open_fd(dirs.mnt / "keep.bin", O_WRONLY | O_CREAT | O_TRUNC);
        ASSERT_TRUE(fd.valid()) << std::strerror(errno);
        test::pwrite_all(fd.get(), keep, 0);
        ASSERT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
    }

    // Fill: count exactly the bytes write(2) said it took.
    const Bytes fill = test::random_bytes(2, 32 * kMiB);
    std::size_t accepted = 0;
    int err = 0;
    {
        const test::Fd fd = test::open_fd(dirs.mnt / "fill.bin", O_WRONLY | O_CREAT | O_TRUNC);
        ASSERT_TRUE(fd.valid()) << std::strerror(errno);
        while (accepted < fill.size()) {
            const std::size_t n = std::min(kStep, fill.size() - accepted);
            const ssize_t w = pwrite(fd.get(), fill.data() + accepted, n, static_cast<off_t>(accepted));
            if (w < 0) {
                err = errno;
                break;
            }
            ASSERT_GT(w, 0);
            accepted += static_cast<std::size_t>(w);
        }
        EXPECT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
    }
    EXPECT_EQ(err, ENOSPC) << std::strerror(err) << " after " << accepted << " bytes\n" << d.log();
    // 16 MiB minus the 4 MiB kept, minus a few pages of tmpfs bookkeeping.
    EXPECT_LE(accepted, 12 * kMiB);
    EXPECT_GE(accepted, 11 * kMiB);
    RecordProperty("accepted_bytes_before_enospc", std::to_string(accepted));

    // What write(2) accepted is exactly what is in the backing file, and intact.
    const Bytes on_disk = test::read_file(dirs.backing / "fill.bin");
    EXPECT_EQ(on_disk.size(), accepted);
    const Bytes want(fill.begin(), fill.begin() + static_cast<std::ptrdiff_t>(accepted));
    EXPECT_EQ(test::first_difference(on_disk, want), accepted);
    const Bytes via_mnt = test::read_file(dirs.mnt / "fill.bin");
    EXPECT_EQ(via_mnt.size(), accepted);
    EXPECT_EQ(test::first_difference(via_mnt, want), accepted);
    // Earlier data untouched.
    EXPECT_EQ(test::read_file(dirs.mnt / "keep.bin"), keep);
    EXPECT_EQ(test::read_file(dirs.backing / "keep.bin"), keep);

    // Still serving: metadata and a new (empty) name work on the full fs.
    ASSERT_TRUE(d.alive()) << d.log();
    struct statvfs sv {};
    EXPECT_EQ(statvfs(dirs.mnt.c_str(), &sv), 0) << std::strerror(errno);
    EXPECT_EQ(test::list_dir(dirs.mnt).size(), 2u);

    // Free space through the mount; writing works again.
    ASSERT_EQ(unlink((dirs.mnt / "fill.bin").c_str()), 0) << std::strerror(errno);
    const Bytes again = test::random_bytes(3, 8 * kMiB);
    test::write_file(dirs.mnt / "again.bin", again);
    EXPECT_EQ(test::read_file(dirs.mnt / "again.bin"), again);
    EXPECT_EQ(test::read_file(dirs.backing / "again.bin"), again);
    EXPECT_EQ(test::read_file(dirs.mnt / "keep.bin"), keep);

    ASSERT_TRUE(d.alive()) << d.log();
    const auto status = d.unmount();
    ASSERT_TRUE(status.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.log();
}

INSTANTIATE_TEST_SUITE_P(SpliceOnOff, Enospc, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "splice" : "no_splice"; });

}  // namespace
}  // namespace splicefs::reltest
