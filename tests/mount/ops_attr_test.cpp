// lookup/getattr, setattr (chmod, chown, truncate, utimens, ftruncate), access, statfs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "mount_fixture.hpp"
#include "stat_compare.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using AttrTest = MountTest;

TEST_F(AttrTest, GetattrMatchesBackingForEveryType) {
    write_file(b("file"), random_bytes(1, 12345), 0640);
    ASSERT_EQ(mkdir(b("dir").c_str(), 0751), 0);
    write_file(b("dir/inner"), "x");
    ASSERT_EQ(symlink("file", b("link").c_str()), 0);
    ASSERT_EQ(mkfifo(b("fifo").c_str(), 0600), 0);
    ASSERT_EQ(link(b("file").c_str(), b("hard").c_str()), 0);
    ASSERT_EQ(chown(b("file").c_str(), 1234, 5678), 0);
    const timespec times[2] = {{1000, 1}, {2000, 123456789}};
    ASSERT_EQ(utimensat(AT_FDCWD, b("dir/inner").c_str(), times, 0), 0);

    for (const char* name : {"file", "dir", "dir/inner", "link", "fifo", "hard"}) {
        expect_same_lstat(m(name), b(name));
    }
    // The mount root mirrors the backing root.
    expect_same_stat(lstat_of(mount().mnt()), lstat_of(mount().backing()), "root");
    // stat() follows the symlink to the file.
    struct stat st {};
    ASSERT_EQ(stat(m("link").c_str(), &st), 0);
    EXPECT_EQ(st.st_ino, lstat_of(b("file")).st_ino);
}

TEST_F(AttrTest, LookupOfMissingNameIsEnoent) {
    struct stat st {};
    EXPECT_ERRNO(lstat(m("missing").c_str(), &st), ENOENT);
    EXPECT_ERRNO(lstat(m("missing/deeper").c_str(), &st), ENOENT);
    write_file(b("file"), "x");
    EXPECT_ERRNO(lstat(m("file/below").c_str(), &st), ENOTDIR);
}

TEST_F(AttrTest, Chmod) {
    write_file(m("f"), "data", 0644);
    ASSERT_EQ(chmod(m("f").c_str(), 04711), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("f")).st_mode & 07777, 04711u);
    EXPECT_EQ(lstat_of(m("f")).st_mode & 07777, 04711u);
    ASSERT_EQ(mkdir(m("d").c_str(), 0700), 0);
    ASSERT_EQ(chmod(m("d").c_str(), 01777), 0);
    EXPECT_EQ(lstat_of(b("d")).st_mode & 07777, 01777u);
    expect_same_lstat(m("d"), b("d"));
}

TEST_F(AttrTest, Chown) {
    write_file(m("f"), "data");
    ASSERT_EQ(chown(m("f").c_str(), 4321, 8765), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("f")).st_uid, 4321u);
    EXPECT_EQ(lstat_of(b("f")).st_gid, 8765u);
    ASSERT_EQ(chown(m("f").c_str(), static_cast<uid_t>(-1), 42), 0);
    EXPECT_EQ(lstat_of(b("f")).st_uid, 4321u);
    EXPECT_EQ(lstat_of(b("f")).st_gid, 42u);
    ASSERT_EQ(symlink("f", m("l").c_str()), 0);
    ASSERT_EQ(lchown(m("l").c_str(), 77, 88), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("l")).st_uid, 77u);
    EXPECT_EQ(lstat_of(b("f")).st_uid, 4321u);  // lchown did not follow
    expect_same_lstat(m("f"), b("f"));
    expect_same_lstat(m("l"), b("l"));
}

TEST_F(AttrTest, TruncateGrowAndShrink) {
    const Bytes data = random_bytes(7, 10000);
    write_file(m("f"), data);
    ASSERT_EQ(truncate(m("f").c_str(), 100000), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("f")).st_size, 100000);
    Bytes grown = read_file(m("f"));
    ASSERT_EQ(grown.size(), 100000u);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), grown.begin()));
    EXPECT_TRUE(std::all_of(grown.begin() + 10000, grown.end(), [](unsigned char c) { return c == 0; }));
    ASSERT_EQ(truncate(m("f").c_str(), 3), 0);
    EXPECT_EQ(lstat_of(b("f")).st_size, 3);
    EXPECT_EQ(read_file(m("f")), Bytes(data.begin(), data.begin() + 3));
    EXPECT_EQ(read_file(b("f")), Bytes(data.begin(), data.begin() + 3));
    expect_same_lstat(m("f"), b("f"));
}

TEST_F(AttrTest, FtruncateOnOpenFd) {
    const Fd fd = open_fd(m("f"), O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    pwrite_all(fd.get(), random_bytes(8, 5000), 0);
    ASSERT_EQ(ftruncate(fd.get(), 123), 0) << std::strerror(errno);
    struct stat st {};
    ASSERT_EQ(fstat(fd.get(), &st), 0);
    EXPECT_EQ(st.st_size, 123);
    EXPECT_EQ(lstat_of(b("f")).st_size, 123);
    ASSERT_EQ(ftruncate(fd.get(), 70000), 0);
    EXPECT_EQ(lstat_of(b("f")).st_size, 70000);
    EXPECT_EQ(pread_exact(fd.get(), 100000, 0).size(), 70000u);
    // ftruncate on a read-only descriptor is refused by the kernel VFS.
    const Fd ro = open_fd(m("f"), O_RDONLY);
    EXPECT_ERRNO(ftruncate(ro.get(), 0), EINVAL);
}

TEST_F(AttrTest, UtimensatWithNanosecondsNowAndOmit) {
    write_file(m("f"), "x");
    const timespec exact[2] = {{1111, 222333444}, {5555, 666777888}};
    ASSERT_EQ(utimensat(AT_FDCWD, m("f").c_str(), exact, 0), 0) << std::strerror(errno);
    struct stat st = lstat_of(b("f"));
    EXPECT_EQ(st.st_atim.tv_sec, 1111);
    EXPECT_EQ(st.st_atim.tv_nsec, 222333444);
    EXPECT_EQ(st.st_mtim.tv_sec, 5555);
    EXPECT_EQ(st.st_mtim.tv_nsec, 666777888);
    expect_same_lstat(m("f"), b("f"));

    // Only mtime changes; atime is left alone.
    const timespec omit_atime[2] = {{0, UTIME_OMIT}, {7777, 1}};
    ASSERT_EQ(utimensat(AT_FDCWD, m("f").c_str(), omit_atime, 0), 0) << std::strerror(errno);
    st = lstat_of(b("f"));
    EXPECT_EQ(st.st_atim.tv_sec, 1111);
    EXPECT_EQ(st.st_atim.tv_nsec, 222333444);
    EXPECT_EQ(st.st_mtim.tv_sec, 7777);
    EXPECT_EQ(st.st_mtim.tv_nsec, 1);

    // UTIME_NOW sets the current time (file times come from a coarse clock: allow 2 s).
    timespec before{};
    clock_gettime(CLOCK_REALTIME, &before);
    const timespec now_mtime[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    ASSERT_EQ(utimensat(AT_FDCWD, m("f").c_str(), now_mtime, 0), 0) << std::strerror(errno);
    timespec after{};
    clock_gettime(CLOCK_REALTIME, &after);
    st = lstat_of(b("f"));
    EXPECT_GE(st.st_mtim.tv_sec, before.tv_sec - 2);
    EXPECT_LE(st.st_mtim.tv_sec, after.tv_sec + 2);
    EXPECT_EQ(st.st_atim.tv_sec, 1111);
    expect_same_lstat(m("f"), b("f"));

    // futimens on an open fd and on a symlink itself.
    const Fd fd = open_fd(m("f"), O_WRONLY);
    const timespec via_fd[2] = {{42, 42}, {43, 43}};
    ASSERT_EQ(futimens(fd.get(), via_fd), 0) << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("f")).st_mtim.tv_sec, 43);
    EXPECT_EQ(lstat_of(b("f")).st_mtim.tv_nsec, 43);
    ASSERT_EQ(symlink("f", m("l").c_str()), 0);
    const timespec link_times[2] = {{10, 10}, {20, 20}};
    ASSERT_EQ(utimensat(AT_FDCWD, m("l").c_str(), link_times, AT_SYMLINK_NOFOLLOW), 0)
        << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("l")).st_mtim.tv_sec, 20);
    EXPECT_EQ(lstat_of(b("f")).st_mtim.tv_sec, 43);
}

TEST_F(AttrTest, Access) {
    write_file(b("rw"), "x", 0644);
    write_file(b("exec"), "x", 0755);
    EXPECT_EQ(access(m("rw").c_str(), R_OK | W_OK), 0) << std::strerror(errno);
    EXPECT_EQ(access(m("exec").c_str(), X_OK), 0) << std::strerror(errno);
    // Root needs at least one x bit for X_OK.
    EXPECT_ERRNO(access(m("rw").c_str(), X_OK), EACCES);
    EXPECT_ERRNO(access(m("missing").c_str(), F_OK), ENOENT);
    // Without allow_other the kernel keeps other users out of the mount entirely.
    const fs::path p = m("rw");
    EXPECT_EQ(run_as(65534, 65534, [&] { return access(p.c_str(), R_OK) == -1 && errno == EACCES ? 0 : 1; }),
              0);
}

TEST_F(AttrTest, StatfsMatchesBacking) {
    struct statvfs mv {
    }, bv{};
    ASSERT_EQ(statvfs(mount().mnt().c_str(), &mv), 0) << std::strerror(errno);
    ASSERT_EQ(statvfs(mount().backing().c_str(), &bv), 0);
    EXPECT_EQ(mv.f_bsize, bv.f_bsize);
    EXPECT_EQ(mv.f_blocks, bv.f_blocks);
    EXPECT_EQ(mv.f_files, bv.f_files);
    EXPECT_EQ(mv.f_namemax, bv.f_namemax);
    EXPECT_GT(mv.f_bfree, 0u);
}

}  // namespace
}  // namespace splicefs::test
