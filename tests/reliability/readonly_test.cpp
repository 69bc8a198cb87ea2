// Read-only mode (--read-only and -o ro): every mutating operation answers EROFS, even for
// root, one check per operation, and the backing tree is unchanged afterwards.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "mount_info.hpp"
#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

int open_close(const fs::path& p, int flags) {
    const int fd = open(p.c_str(), flags | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

// Opens for writing (must fail); if it did not, tries the operation on the fd.
int on_rw_fd(const fs::path& p, const std::function<int(int)>& op) {
    const int fd = open(p.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    const int r = op(fd);
    const int e = errno;
    close(fd);
    errno = e;
    return r < 0 ? -1 : 0;
}

struct RoCase {
    const char* name;
    std::function<int(const fs::path& m)> op;
};

class ReadOnly : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(ReadOnly, EveryMutationIsErofsAndBackingIsUnchanged) {
    test::Mount mount(GetParam());
    test::write_file(mount.b("f"), "original", 0644);
    ASSERT_EQ(setxattr(mount.b("f").c_str(), "user.x", "1", 1, 0), 0);
    fs::create_directory(mount.b("d"));
    test::write_file(mount.b("d/inner"), "inner");
    fs::create_directory(mount.b("e"));
    ASSERT_EQ(symlink("f", mount.b("l").c_str()), 0);
    const auto before = snapshot_tree(mount.backing());
    const auto mounts = test::read_mountinfo();
    const auto* entry = test::find_mount(mounts, mount.mnt());
    ASSERT_NE(entry, nullptr);
    RecordProperty("mount_options", entry->mount_options);

    const timespec times[2] = {{1000000, 0}, {1000000, 0}};
    const std::vector<RoCase> cases{
        {"create", [](const fs::path& m) { return open_close(m / "new", O_WRONLY | O_CREAT); }},
        {"create O_EXCL", [](const fs::path& m) { return open_close(m / "new", O_RDWR | O_CREAT | O_EXCL); }},
        {"mkdir", [](const fs::path& m) { return mkdir((m / "newdir").c_str(), 0755); }},
        {"mknod fifo", [](const fs::path& m) { return mknod((m / "fifo").c_str(), S_IFIFO | 0644, 0); }},
        {"mknod char",
         [](const fs::path& m) { return mknod((m / "null").c_str(), S_IFCHR | 0644, makedev(1, 3)); }},
        {"symlink", [](const fs::path& m) { return symlink("f", (m / "l2").c_str()); }},
        {"link", [](const fs::path& m) { return link((m / "f").c_str(), (m / "hl").c_str()); }},
        {"unlink", [](const fs::path& m) { return unlink((m / "f").c_str()); }},
        {"unlink symlink", [](const fs::path& m) { return unlink((m / "l").c_str()); }},
        {"rmdir", [](const fs::path& m) { return rmdir((m / "e").c_str()); }},
        {"rename", [](const fs::path& m) { return rename((m / "f").c_str(), (m / "g").c_str()); }},
        {"rename dir", [](const fs::path& m) { return rename((m / "d").c_str(), (m / "e").c_str()); }},
        {"open O_WRONLY (write)", [](const fs::path& m) { return open_close(m / "f", O_WRONLY); }},
        {"open O_RDWR", [](const fs::path& m) { return open_close(m / "f", O_RDWR); }},
        {"open O_APPEND", [](const fs::path& m) { return open_close(m / "f", O_WRONLY | O_APPEND); }},
        {"open O_TRUNC", [](const fs::path& m) { return open_close(m / "f", O_RDONLY | O_TRUNC); }},
        {"write",
         [](const fs::path& m) {
             return on_rw_fd(m / "f", [](int fd) { return static_cast<int>(pwrite(fd, "x", 1, 0)); });
         }},
        {"truncate", [](const fs::path& m) { return truncate((m / "f").c_str(), 0); }},
        {"fallocate",
         [](const fs::path& m) {
             return on_rw_fd(m / "f", [](int fd) { return fallocate(fd, 0, 0, 1 << 20); });
         }},
        {"chmod", [](const fs::path& m) { return chmod((m / "f").c_str(), 0600); }},
        {"chmod dir", [](const fs::path& m) { return chmod((m / "d").c_str(), 0700); }},
        {"chown", [](const fs::path& m) { return chown((m / "f").c_str(), 1, 1); }},
        {"lchown symlink", [](const fs::path& m) { return lchown((m / "l").c_str(), 1, 1); }},
        {"utimes now", [](const fs::path& m) { return utimensat(AT_FDCWD, (m / "f").c_str(), nullptr, 0); }},
        {"utimes explicit",
         [&](const fs::path& m) { return utimensat(AT_FDCWD, (m / "f").c_str(), times, 0); }},
        {"setxattr", [](const fs::path& m) { return setxattr((m / "f").c_str(), "user.y", "2", 1, 0); }},
        {"setxattr replace",
         [](const fs::path& m) { return setxattr((m / "f").c_str(), "user.x", "9", 1, XATTR_REPLACE); }},
        {"removexattr", [](const fs::path& m) { return removexattr((m / "f").c_str(), "user.x"); }},
        {"create in subdir", [](const fs::path& m) { return open_close(m / "d/new", O_WRONLY | O_CREAT); }},
        {"unlink in subdir", [](const fs::path& m) { return unlink((m / "d/inner").c_str()); }},
    };
    for (const auto& c : cases) {
        errno = 0;
        const int r = c.op(mount.mnt());
        const int e = errno;
        EXPECT_EQ(r, -1) << c.name << " succeeded on a read-only mount";
        EXPECT_EQ(e, EROFS) << c.name << ": " << std::strerror(e);
    }
    // Reading still works.
    EXPECT_EQ(test::read_file(mount.m("f")), test::to_bytes("original"));
    EXPECT_EQ(test::list_dir(mount.m("d")).size(), 1u);
    char v[8] = {};
    EXPECT_EQ(getxattr(mount.m("f").c_str(), "user.x", v, sizeof v), 1);
    EXPECT_EQ(snapshot_tree(mount.backing()), before) << "the backing tree changed";
    test::expect_clean_unmount(mount);
}

INSTANTIATE_TEST_SUITE_P(Spellings, ReadOnly,
                         ::testing::Values(std::vector<std::string>{"--read-only"},
                                           std::vector<std::string>{"-o", "ro"},
                                           std::vector<std::string>{"-o", "ro", "--no-default-permissions"}),
                         [](const auto& param_info) {
                             return param_info.index == 0   ? std::string("flag")
                                    : param_info.index == 1 ? std::string("o_ro")
                                                            : std::string("o_ro_no_default_permissions");
                         });

}  // namespace
}  // namespace splicefs::reltest
