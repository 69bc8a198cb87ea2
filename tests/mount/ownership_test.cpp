// With --allow-other, objects created by another user belong to that user in the backing
// dir, setgid directories pass their group on, and the kernel checks permissions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "mount_fixture.hpp"
#include "mount_info.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr gid_t kDirGroup = 4242;  // a group the unprivileged user is not in

class OwnershipTest : public MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--allow-other"}; }
};

TEST_F(OwnershipTest, MountIsAllowOther) {
    const auto entries = read_mountinfo();
    const MountEntry* e = find_mount(entries, mount().mnt());
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(has_option(e->super_options, "allow_other")) << e->super_options;
}

TEST_F(OwnershipTest, ObjectsCreatedByAnotherUserBelongToThem) {
    ASSERT_EQ(mkdir(m("pub").c_str(), 0777), 0) << std::strerror(errno);
    ASSERT_EQ(chmod(m("pub").c_str(), 01777), 0);
    const fs::path pub = m("pub");
    const int rc = run_as(kNobody, kNogroup, [&]() -> int {
        const Fd f = open_fd(pub / "file", O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (!f.valid()) return 10;
        if (write(f.get(), "hi", 2) != 2) return 11;
        if (mkdir((pub / "dir").c_str(), 0755) != 0) return 12;
        if (symlink("file", (pub / "link").c_str()) != 0) return 13;
        if (mkfifo((pub / "fifo").c_str(), 0644) != 0) return 14;
        if (mknod((pub / "reg").c_str(), S_IFREG | 0644, 0) != 0) return 15;
        if (link((pub / "file").c_str(), (pub / "hard").c_str()) != 0) return 16;
        if (rename((pub / "reg").c_str(), (pub / "moved").c_str()) != 0) return 17;
        return 0;
    });
    ASSERT_EQ(rc, 0) << "child failed at step " << rc;
    for (const char* name : {"pub/file", "pub/dir", "pub/link", "pub/fifo", "pub/moved", "pub/hard"}) {
        const struct stat st = lstat_of(b(name));
        EXPECT_EQ(st.st_uid, kNobody) << name;
        EXPECT_EQ(st.st_gid, kNogroup) << name;
        EXPECT_EQ(lstat_of(m(name)).st_uid, kNobody) << name;
    }
    EXPECT_EQ(read_file(b("pub/file")), to_bytes("hi"));
}

TEST_F(OwnershipTest, SetgidDirectoryPassesItsGroupOn) {
    ASSERT_EQ(mkdir(m("sg").c_str(), 0777), 0);
    ASSERT_EQ(chown(m("sg").c_str(), 0, kDirGroup), 0) << std::strerror(errno);
    ASSERT_EQ(chmod(m("sg").c_str(), 02777), 0) << std::strerror(errno);
    ASSERT_EQ(lstat_of(b("sg")).st_mode & 07777, 02777u);
    const fs::path sg = m("sg");
    const int rc = run_as(kNobody, kNogroup, [&]() -> int {
        const Fd f = open_fd(sg / "file", O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (!f.valid()) return 10;
        if (mkdir((sg / "sub").c_str(), 0755) != 0) return 11;
        return 0;
    });
    ASSERT_EQ(rc, 0) << "child failed at step " << rc;
    const struct stat file = lstat_of(b("sg/file"));
    EXPECT_EQ(file.st_uid, kNobody);
    EXPECT_EQ(file.st_gid, kDirGroup);
    const struct stat sub = lstat_of(b("sg/sub"));
    EXPECT_EQ(sub.st_uid, kNobody);
    EXPECT_EQ(sub.st_gid, kDirGroup);
    EXPECT_TRUE(sub.st_mode & S_ISGID) << "new subdirectory should be setgid too";
    // Root creating there gets the directory's group as well.
    write_file(m("sg/root-file"), "x");
    EXPECT_EQ(lstat_of(b("sg/root-file")).st_gid, kDirGroup);
}

TEST_F(OwnershipTest, KernelChecksPermissionsForOtherUsers) {
    write_file(m("secret"), "s", 0600);
    write_file(m("readable"), "r", 0644);
    ASSERT_EQ(mkdir(m("closed").c_str(), 0700), 0);
    const fs::path secret = m("secret"), readable = m("readable"), closed = m("closed");
    EXPECT_EQ(run_as(kNobody, kNogroup, [&] { return access(readable.c_str(), R_OK) == 0 ? 0 : 1; }), 0);
    EXPECT_EQ(run_as(kNobody, kNogroup,
                     [&] { return access(readable.c_str(), W_OK) == -1 && errno == EACCES ? 0 : 1; }),
              0);
    EXPECT_EQ(run_as(kNobody, kNogroup,
                     [&] {
                         const Fd f = open_fd(secret, O_RDONLY);
                         return !f.valid() && errno == EACCES ? 0 : 1;
                     }),
              0);
    EXPECT_EQ(run_as(kNobody, kNogroup,
                     [&] {
                         const Fd f = open_fd(readable, O_WRONLY);
                         return !f.valid() && errno == EACCES ? 0 : 1;
                     }),
              0);
    EXPECT_EQ(run_as(kNobody, kNogroup,
                     [&] {
                         const Fd f = open_fd(closed / "new", O_WRONLY | O_CREAT, 0644);
                         return !f.valid() && errno == EACCES ? 0 : 1;
                     }),
              0);
    EXPECT_EQ(run_as(kNobody, kNogroup,
                     [&] { return chmod(readable.c_str(), 0666) == -1 && errno == EPERM ? 0 : 1; }),
              0);
    EXPECT_EQ(lstat_of(b("readable")).st_mode & 07777, 0644u);
}

}  // namespace
}  // namespace splicefs::test
