// symlink/readlink, mknod, mkdir/rmdir, unlink, rename (+flags), link, open/create flags,
// and the open-then-unlink / rename-over-open-file cases users rely on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "mount_fixture.hpp"
#include "stat_compare.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using NamespaceTest = MountTest;

std::string readlink_str(const fs::path& p) {
    char buf[PATH_MAX];
    const ssize_t n = readlink(p.c_str(), buf, sizeof buf);
    if (n < 0) return "<error " + std::string(std::strerror(errno)) + ">";
    return std::string(buf, static_cast<std::size_t>(n));
}

bool exists_l(const fs::path& p) {
    struct stat st {};
    return lstat(p.c_str(), &st) == 0;
}

TEST_F(NamespaceTest, SymlinkAndReadlink) {
    const std::string long_target = "../" + std::string(3000, 'x') + "/target";
    ASSERT_EQ(symlink("relative/target", m("rel").c_str()), 0) << std::strerror(errno);
    ASSERT_EQ(symlink("/absolute/elsewhere", m("abs").c_str()), 0);
    ASSERT_EQ(symlink(long_target.c_str(), m("long").c_str()), 0);
    EXPECT_EQ(readlink_str(b("rel")), "relative/target");
    EXPECT_EQ(readlink_str(m("rel")), "relative/target");
    EXPECT_EQ(readlink_str(m("abs")), "/absolute/elsewhere");
    EXPECT_EQ(readlink_str(m("long")), long_target);
    // A symlink made in the backing dir reads the same through the mount.
    ASSERT_EQ(symlink("made/in/backing", b("bl").c_str()), 0);
    EXPECT_EQ(readlink_str(m("bl")), "made/in/backing");
    EXPECT_TRUE(S_ISLNK(lstat_of(m("rel")).st_mode));
    expect_same_lstat(m("rel"), b("rel"));
    EXPECT_ERRNO(symlink("x", m("rel").c_str()), EEXIST);
    write_file(b("plain"), "x");
    char buf[16];
    EXPECT_ERRNO(readlink(m("plain").c_str(), buf, sizeof buf), EINVAL);
}

TEST_F(NamespaceTest, MknodFifoSocketAndCharDevice) {
    ASSERT_EQ(mkfifo(m("fifo").c_str(), 0640), 0) << std::strerror(errno);
    ASSERT_EQ(mknod(m("sock").c_str(), S_IFSOCK | 0600, 0), 0) << std::strerror(errno);
    ASSERT_EQ(mknod(m("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
    ASSERT_EQ(mknod(m("reg").c_str(), S_IFREG | 0600, 0), 0) << std::strerror(errno);
    EXPECT_TRUE(S_ISFIFO(lstat_of(b("fifo")).st_mode));
    EXPECT_EQ(lstat_of(b("fifo")).st_mode & 07777, 0640u);
    EXPECT_TRUE(S_ISSOCK(lstat_of(b("sock")).st_mode));
    const struct stat dev = lstat_of(b("null"));
    EXPECT_TRUE(S_ISCHR(dev.st_mode));
    EXPECT_EQ(major(dev.st_rdev), 1u);
    EXPECT_EQ(minor(dev.st_rdev), 3u);
    EXPECT_TRUE(S_ISREG(lstat_of(b("reg")).st_mode));
    for (const char* name : {"fifo", "sock", "null", "reg"}) expect_same_lstat(m(name), b(name));
    EXPECT_ERRNO(mkfifo(m("fifo").c_str(), 0600), EEXIST);
}

TEST_F(NamespaceTest, MkdirRmdir) {
    ASSERT_EQ(mkdir(m("d").c_str(), 0750), 0) << std::strerror(errno);
    EXPECT_TRUE(S_ISDIR(lstat_of(b("d")).st_mode));
    EXPECT_EQ(lstat_of(b("d")).st_mode & 07777, 0750u);
    ASSERT_EQ(mkdir(m("d/sub").c_str(), 0700), 0);
    EXPECT_EQ(lstat_of(b("d")).st_nlink, 3u);
    expect_same_lstat(m("d"), b("d"));
    EXPECT_ERRNO(mkdir(m("d").c_str(), 0700), EEXIST);
    EXPECT_ERRNO(rmdir(m("d").c_str()), ENOTEMPTY);
    write_file(m("d/sub/f"), "x");
    EXPECT_ERRNO(rmdir(m("d/sub").c_str()), ENOTEMPTY);
    EXPECT_ERRNO(rmdir(m("d/sub/f").c_str()), ENOTDIR);
    ASSERT_EQ(unlink(m("d/sub/f").c_str()), 0);
    ASSERT_EQ(rmdir(m("d/sub").c_str()), 0) << std::strerror(errno);
    ASSERT_EQ(rmdir(m("d").c_str()), 0) << std::strerror(errno);
    EXPECT_FALSE(exists_l(b("d")));
    EXPECT_FALSE(exists_l(m("d")));
    EXPECT_ERRNO(rmdir(m("d").c_str()), ENOENT);
}

TEST_F(NamespaceTest, Unlink) {
    write_file(b("f"), "x");
    ASSERT_EQ(unlink(m("f").c_str()), 0) << std::strerror(errno);
    EXPECT_FALSE(exists_l(b("f")));
    EXPECT_FALSE(exists_l(m("f")));
    EXPECT_ERRNO(unlink(m("f").c_str()), ENOENT);
    ASSERT_EQ(mkdir(b("d").c_str(), 0700), 0);
    EXPECT_ERRNO(unlink(m("d").c_str()), EISDIR);
    ASSERT_EQ(symlink("d", b("l").c_str()), 0);
    ASSERT_EQ(unlink(m("l").c_str()), 0);  // removes the link, not the target
    EXPECT_TRUE(exists_l(b("d")));
}

TEST_F(NamespaceTest, RenamePlainAndOverExisting) {
    write_file(m("a"), "AAA");
    const ino_t ino_a = lstat_of(b("a")).st_ino;
    ASSERT_EQ(rename(m("a").c_str(), m("b").c_str()), 0) << std::strerror(errno);
    EXPECT_FALSE(exists_l(b("a")));
    EXPECT_EQ(lstat_of(b("b")).st_ino, ino_a);
    EXPECT_EQ(lstat_of(m("b")).st_ino, ino_a);

    write_file(m("c"), "CCC");
    ASSERT_EQ(rename(m("b").c_str(), m("c").c_str()), 0) << std::strerror(errno);
    EXPECT_EQ(read_file(b("c")), to_bytes("AAA"));
    EXPECT_EQ(read_file(m("c")), to_bytes("AAA"));
    EXPECT_FALSE(exists_l(m("b")));

    // Across directories, and a directory over an empty directory.
    ASSERT_EQ(mkdir(m("d1").c_str(), 0755), 0);
    ASSERT_EQ(mkdir(m("d2").c_str(), 0755), 0);
    ASSERT_EQ(rename(m("c").c_str(), m("d1/c").c_str()), 0);
    EXPECT_EQ(read_file(b("d1/c")), to_bytes("AAA"));
    ASSERT_EQ(rename(m("d1").c_str(), m("d2").c_str()), 0) << std::strerror(errno);
    EXPECT_EQ(read_file(b("d2/c")), to_bytes("AAA"));
    ASSERT_EQ(mkdir(m("d3").c_str(), 0755), 0);
    EXPECT_ERRNO(rename(m("d3").c_str(), m("d2").c_str()), ENOTEMPTY);
    EXPECT_ERRNO(rename(m("missing").c_str(), m("x").c_str()), ENOENT);
}

TEST_F(NamespaceTest, RenameNoreplace) {
    write_file(m("a"), "A");
    write_file(m("b"), "B");
    EXPECT_ERRNO(renameat2(AT_FDCWD, m("a").c_str(), AT_FDCWD, m("b").c_str(), RENAME_NOREPLACE), EEXIST);
    EXPECT_EQ(read_file(b("b")), to_bytes("B"));
    EXPECT_EQ(read_file(b("a")), to_bytes("A"));
    ASSERT_EQ(renameat2(AT_FDCWD, m("a").c_str(), AT_FDCWD, m("c").c_str(), RENAME_NOREPLACE), 0)
        << std::strerror(errno);
    EXPECT_EQ(read_file(b("c")), to_bytes("A"));
    EXPECT_FALSE(exists_l(b("a")));
}

TEST_F(NamespaceTest, RenameExchange) {
    write_file(m("a"), "A");
    ASSERT_EQ(mkdir(m("d").c_str(), 0755), 0);
    write_file(m("d/inside"), "I");
    const ino_t ino_a = lstat_of(b("a")).st_ino;
    const ino_t ino_d = lstat_of(b("d")).st_ino;
    ASSERT_EQ(renameat2(AT_FDCWD, m("a").c_str(), AT_FDCWD, m("d").c_str(), RENAME_EXCHANGE), 0)
        << std::strerror(errno);
    EXPECT_EQ(lstat_of(b("d")).st_ino, ino_a);
    EXPECT_EQ(lstat_of(b("a")).st_ino, ino_d);
    EXPECT_EQ(lstat_of(m("d")).st_ino, ino_a);
    EXPECT_EQ(lstat_of(m("a")).st_ino, ino_d);
    EXPECT_EQ(read_file(m("d")), to_bytes("A"));
    EXPECT_EQ(read_file(m("a/inside")), to_bytes("I"));
    EXPECT_ERRNO(renameat2(AT_FDCWD, m("a").c_str(), AT_FDCWD, m("none").c_str(), RENAME_EXCHANGE), ENOENT);
}

TEST_F(NamespaceTest, HardLinksShowOneInode) {
    write_file(m("a"), "shared");
    ASSERT_EQ(link(m("a").c_str(), m("b").c_str()), 0) << std::strerror(errno);
    ASSERT_EQ(mkdir(m("d").c_str(), 0755), 0);
    ASSERT_EQ(link(m("a").c_str(), m("d/c").c_str()), 0) << std::strerror(errno);
    const struct stat a = lstat_of(m("a"));
    const struct stat bst = lstat_of(m("b"));
    const struct stat c = lstat_of(m("d/c"));
    EXPECT_EQ(a.st_ino, bst.st_ino);
    EXPECT_EQ(a.st_ino, c.st_ino);
    EXPECT_EQ(a.st_nlink, 3u);
    EXPECT_EQ(bst.st_nlink, 3u);
    EXPECT_EQ(lstat_of(b("b")).st_ino, lstat_of(b("a")).st_ino);
    EXPECT_EQ(lstat_of(b("a")).st_nlink, 3u);
    expect_same_lstat(m("b"), b("b"));
    // A write through one name is seen through the others.
    write_file(m("b"), "changed");
    EXPECT_EQ(read_file(m("a")), to_bytes("changed"));
    EXPECT_EQ(read_file(m("d/c")), to_bytes("changed"));
    ASSERT_EQ(unlink(m("a").c_str()), 0);
    EXPECT_EQ(lstat_of(m("b")).st_nlink, 2u);
    EXPECT_EQ(lstat_of(b("b")).st_nlink, 2u);
    EXPECT_ERRNO(link(m("b").c_str(), m("d/c").c_str()), EEXIST);
    EXPECT_ERRNO(link(m("d").c_str(), m("dirlink").c_str()), EPERM);
    // Hard links made in the backing dir show one inode too.
    write_file(b("x"), "x");
    ASSERT_EQ(link(b("x").c_str(), b("y").c_str()), 0);
    EXPECT_EQ(lstat_of(m("x")).st_ino, lstat_of(m("y")).st_ino);
    EXPECT_EQ(lstat_of(m("y")).st_nlink, 2u);
}

TEST_F(NamespaceTest, CreateExclAndTrunc) {
    {
        const Fd fd = open_fd(m("f"), O_WRONLY | O_CREAT | O_EXCL, 0604);
        ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    }
    EXPECT_TRUE(S_ISREG(lstat_of(b("f")).st_mode));
    EXPECT_EQ(lstat_of(b("f")).st_mode & 07777, 0604u);
    errno = 0;
    EXPECT_FALSE(open_fd(m("f"), O_WRONLY | O_CREAT | O_EXCL).valid());
    EXPECT_EQ(errno, EEXIST);
    errno = 0;
    EXPECT_FALSE(open_fd(m("missing"), O_RDONLY).valid());
    EXPECT_EQ(errno, ENOENT);

    write_file(b("t"), random_bytes(3, 9000));
    {
        const Fd fd = open_fd(m("t"), O_WRONLY | O_TRUNC);
        ASSERT_TRUE(fd.valid()) << std::strerror(errno);
        EXPECT_EQ(lstat_of(b("t")).st_size, 0);
    }
    EXPECT_EQ(lstat_of(m("t")).st_size, 0);
    EXPECT_TRUE(read_file(m("t")).empty());
    // O_CREAT on an existing file opens it without truncation.
    write_file(b("keep"), "keep");
    { const Fd fd = open_fd(m("keep"), O_RDWR | O_CREAT); }
    EXPECT_EQ(read_file(m("keep")), to_bytes("keep"));
    errno = 0;
    EXPECT_FALSE(open_fd(m("keep/x"), O_RDWR | O_CREAT).valid());
    EXPECT_EQ(errno, ENOTDIR);
    ASSERT_EQ(mkdir(b("dir").c_str(), 0755), 0);
    errno = 0;
    EXPECT_FALSE(open_fd(m("dir"), O_WRONLY).valid());
    EXPECT_EQ(errno, EISDIR);
}

TEST_F(NamespaceTest, AppendWritesAtTheEnd) {
    write_file(m("f"), "abc");
    {
        const Fd fd = open_fd(m("f"), O_WRONLY | O_APPEND);
        ASSERT_TRUE(fd.valid()) << std::strerror(errno);
        ASSERT_EQ(lseek(fd.get(), 0, SEEK_SET), 0);
        ASSERT_EQ(write(fd.get(), "def", 3), 3) << std::strerror(errno);
        // The file grows behind this fd's back; the next append still goes to the end.
        const Fd other = open_fd(m("f"), O_WRONLY);
        pwrite_all(other.get(), to_bytes("XYZ"), 6);
        const Bytes big = random_bytes(11, 200000);  // large enough for the splice path
        ASSERT_EQ(write(fd.get(), big.data(), big.size()), static_cast<ssize_t>(big.size()));
        Bytes expected = to_bytes("abcdefXYZ");
        expected.insert(expected.end(), big.begin(), big.end());
        EXPECT_EQ(read_file(b("f")), expected);
        EXPECT_EQ(read_file(m("f")), expected);
    }
}

TEST_F(NamespaceTest, OpenThenUnlinkKeepsWorking) {
    const Fd fd = open_fd(m("f"), O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    const Bytes first = random_bytes(21, 70000);
    pwrite_all(fd.get(), first, 0);
    ASSERT_EQ(unlink(m("f").c_str()), 0) << std::strerror(errno);
    EXPECT_FALSE(exists_l(b("f")));
    EXPECT_FALSE(exists_l(m("f")));
    const Bytes second = random_bytes(22, 50000);
    pwrite_all(fd.get(), second, 100000);
    Bytes expected = first;
    expected.resize(100000, 0);
    expected.insert(expected.end(), second.begin(), second.end());
    EXPECT_EQ(pread_exact(fd.get(), 200000, 0), expected);
    struct stat st {};
    ASSERT_EQ(fstat(fd.get(), &st), 0) << std::strerror(errno);
    EXPECT_EQ(st.st_nlink, 0u);
    EXPECT_EQ(st.st_size, 150000);
    EXPECT_EQ(fsync(fd.get()), 0) << std::strerror(errno);
    EXPECT_EQ(ftruncate(fd.get(), 10), 0) << std::strerror(errno);
    // A new file under the old name is a different file.
    write_file(m("f"), "new");
    EXPECT_EQ(pread_exact(fd.get(), 100, 0), Bytes(first.begin(), first.begin() + 10));
    EXPECT_EQ(read_file(m("f")), to_bytes("new"));
}

TEST_F(NamespaceTest, RenameOverAnOpenFile) {
    write_file(m("target"), "old contents");
    const Fd old_fd = open_fd(m("target"), O_RDONLY);
    ASSERT_TRUE(old_fd.valid()) << std::strerror(errno);
    write_file(m("new"), "new contents");
    ASSERT_EQ(rename(m("new").c_str(), m("target").c_str()), 0) << std::strerror(errno);
    EXPECT_EQ(pread_exact(old_fd.get(), 100, 0), to_bytes("old contents"));
    EXPECT_EQ(read_file(m("target")), to_bytes("new contents"));
    EXPECT_EQ(read_file(b("target")), to_bytes("new contents"));
    struct stat st {};
    ASSERT_EQ(fstat(old_fd.get(), &st), 0);
    EXPECT_EQ(st.st_nlink, 0u);
}

}  // namespace
}  // namespace splicefs::test
