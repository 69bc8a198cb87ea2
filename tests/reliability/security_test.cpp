// Security with --allow-other as root: another user gets exactly what the backing permissions
// allow (default_permissions on by default), symlinks are never followed by the daemon, and
// ".." at the mount root does not lead into the backing tree.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "mount_info.hpp"
#include "rel_util.hpp"

namespace splicefs::reltest {
namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// Runs op as nobody in a child: 0 on success, else errno.
int as_nobody(const std::function<int()>& op) {
    return test::run_as(kNobody, kNogroup, [&] { return op() < 0 ? errno : 0; });
}

int open_close(const fs::path& p, int flags) {
    const int fd = open(p.c_str(), flags | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

int list(const fs::path& p) {
    DIR* d = opendir(p.c_str());
    if (d == nullptr) return -1;
    while (readdir(d) != nullptr) {
    }
    closedir(d);
    return 0;
}

class AllowOther : public test::MountTest {
protected:
    std::vector<std::string> mount_args() const override { return {"--allow-other"}; }
};

struct Case {
    const char* name;
    int expected;  // errno, 0 = allowed
    std::function<int(const fs::path& root)> op;
};

TEST_F(AllowOther, OtherUserGetsOnlyWhatBackingPermissionsAllow) {
    // The temp root is 0700 (mkdtemp); let nobody reach mnt/ and backing/.
    ASSERT_EQ(chmod(mount().root().c_str(), 0755), 0);
    const auto mounts = test::read_mountinfo();
    const auto* entry = test::find_mount(mounts, mount().mnt());
    ASSERT_NE(entry, nullptr);
    EXPECT_TRUE(test::has_option(entry->super_options, "default_permissions")) << entry->super_options;
    EXPECT_TRUE(test::has_option(entry->super_options, "allow_other")) << entry->super_options;

    test::write_file(b("secret"), "root only", 0600);
    test::write_file(b("pubfile"), "everyone may read", 0644);
    fs::create_directory(b("private"));
    ASSERT_EQ(chmod(b("private").c_str(), 0700), 0);
    test::write_file(b("private/inner"), "hidden by its dir", 0644);
    fs::create_directory(b("pub"));
    ASSERT_EQ(chmod(b("pub").c_str(), 0755), 0);
    fs::create_directory(b("sticky"));
    ASSERT_EQ(chmod(b("sticky").c_str(), 01777), 0);
    test::write_file(b("sticky/rootfile"), "sticky", 0644);
    fs::create_directory(b("mine"));
    ASSERT_EQ(chown(b("mine").c_str(), kNobody, kNogroup), 0);
    const auto before = snapshot_tree(mount().backing());

    const timespec times[2] = {{1000000, 0}, {1000000, 0}};
    const std::vector<Case> denied{
        {"read 0600 file", EACCES, [](const fs::path& r) { return open_close(r / "secret", O_RDONLY); }},
        {"write 0644 file", EACCES, [](const fs::path& r) { return open_close(r / "pubfile", O_WRONLY); }},
        {"O_TRUNC 0644 file", EACCES,
         [](const fs::path& r) { return open_close(r / "pubfile", O_RDONLY | O_TRUNC); }},
        {"list 0700 dir", EACCES, [](const fs::path& r) { return list(r / "private"); }},
        {"stat in 0700 dir", EACCES,
         [](const fs::path& r) {
             struct stat st {};
             return stat((r / "private/inner").c_str(), &st);
         }},
        {"chmod other's file", EPERM, [](const fs::path& r) { return chmod((r / "pubfile").c_str(), 0666); }},
        {"chown other's file", EPERM,
         [](const fs::path& r) { return chown((r / "pubfile").c_str(), kNobody, kNogroup); }},
        {"truncate 0644 file", EACCES,
         [](const fs::path& r) { return truncate((r / "pubfile").c_str(), 0); }},
        {"utimes (explicit) other's file", EPERM,
         [&](const fs::path& r) { return utimensat(AT_FDCWD, (r / "pubfile").c_str(), times, 0); }},
        {"utimes (now) other's file", EACCES,
         [](const fs::path& r) { return utimensat(AT_FDCWD, (r / "pubfile").c_str(), nullptr, 0); }},
        {"setxattr other's file", EACCES,
         [](const fs::path& r) { return setxattr((r / "pubfile").c_str(), "user.x", "1", 1, 0); }},
        {"create in 0755 dir", EACCES,
         [](const fs::path& r) { return open_close(r / "pub/new", O_WRONLY | O_CREAT); }},
        {"mkdir in 0755 dir", EACCES, [](const fs::path& r) { return mkdir((r / "pub/d").c_str(), 0755); }},
        {"symlink in 0755 dir", EACCES,
         [](const fs::path& r) { return symlink("x", (r / "pub/l").c_str()); }},
        {"unlink from 0755 dir", EACCES, [](const fs::path& r) { return unlink((r / "pubfile").c_str()); }},
        {"rename in 0755 dir", EACCES,
         [](const fs::path& r) { return rename((r / "pubfile").c_str(), (r / "pub/moved").c_str()); }},
        {"unlink other's file in sticky dir", EPERM,
         [](const fs::path& r) { return unlink((r / "sticky/rootfile").c_str()); }},
        {"rmdir other's dir", EACCES, [](const fs::path& r) { return rmdir((r / "pub").c_str()); }},
        {"link other's file (protected_hardlinks)", EPERM,
         [](const fs::path& r) { return link((r / "secret").c_str(), (r / "sticky/hl").c_str()); }},
    };
    for (const auto& c : denied) {
        const int via_mnt = as_nobody([&] { return c.op(mount().mnt()); });
        const int native = as_nobody([&] { return c.op(mount().backing()); });
        EXPECT_EQ(via_mnt, c.expected) << c.name << ": " << std::strerror(via_mnt);
        EXPECT_EQ(via_mnt, native) << c.name << ": mount " << std::strerror(via_mnt) << ", native "
                                   << std::strerror(native);
    }
    EXPECT_EQ(snapshot_tree(mount().backing()), before) << "a denied operation changed the backing tree";

    // Positive controls: what the permissions allow works for nobody too.
    EXPECT_EQ(as_nobody([&] { return open_close(mount().mnt() / "pubfile", O_RDONLY); }), 0);
    EXPECT_EQ(as_nobody([&] { return list(mount().mnt() / "pub"); }), 0);
    EXPECT_EQ(as_nobody([&] { return open_close(mount().mnt() / "mine/ok", O_WRONLY | O_CREAT); }), 0);
    EXPECT_EQ(as_nobody([&] { return open_close(mount().mnt() / "sticky/own", O_WRONLY | O_CREAT); }), 0);
    EXPECT_EQ(test::lstat_of(b("mine/ok")).st_uid, kNobody);
    EXPECT_EQ(test::lstat_of(b("sticky/own")).st_uid, kNobody);
    EXPECT_EQ(as_nobody([&] { return unlink((mount().mnt() / "sticky/own").c_str()); }), 0);
    EXPECT_FALSE(fs::exists(b("sticky/own")));
}

// Plants links to targets outside the tree; every operation on the link name acts on the link.
TEST(Symlinks, OperationsOnLinksNeverReachTheTarget) {
    test::Mount mount;
    const fs::path outside = mount.root() / "outside";
    test::write_file(outside, "outside the backing tree", 0640);
    ASSERT_EQ(setxattr(outside.c_str(), "user.keep", "1", 1, 0), 0);
    const std::vector<std::pair<std::string, std::string>> links{
        {"l_shadow", "/etc/shadow"}, {"l_root", "/"}, {"l_up", "../../"}, {"l_out", outside.string()}};
    for (const auto& [name, target] : links) ASSERT_EQ(symlink(target.c_str(), mount.b(name).c_str()), 0);
    fs::create_directory(mount.b("sub"));
    ASSERT_EQ(symlink("../../../..", mount.b("sub/l_up2").c_str()), 0);

    const std::vector<fs::path> protected_paths{"/etc/shadow", "/etc/passwd", outside, mount.root()};
    std::vector<std::string> before;
    for (const auto& p : protected_paths) before.push_back(describe_path(p));

    const timespec times[2] = {{2000000, 0}, {2000000, 0}};
    int n = 0;
    for (const auto& [name, target] : links) {
        SCOPED_TRACE(name);
        const fs::path m = mount.m(name);
        const fs::path b = mount.b(name);
        const struct stat st = test::lstat_of(m);
        EXPECT_TRUE(S_ISLNK(st.st_mode));
        std::string buf(4096, '\0');
        const ssize_t len = readlink(m.c_str(), buf.data(), buf.size());
        ASSERT_GT(len, 0);
        buf.resize(static_cast<std::size_t>(len));
        EXPECT_EQ(buf, target);
        // O_NOFOLLOW: the kernel refuses, nothing is opened.
        errno = 0;
        EXPECT_EQ(open_close(m, O_RDONLY | O_NOFOLLOW), -1);
        EXPECT_EQ(errno, ELOOP);
        const test::Fd path_fd = test::open_fd(m, O_PATH | O_NOFOLLOW);
        ASSERT_TRUE(path_fd.valid());
        struct stat pst {};
        ASSERT_EQ(fstat(path_fd.get(), &pst), 0);
        EXPECT_TRUE(S_ISLNK(pst.st_mode));

        EXPECT_EQ(lchown(m.c_str(), 1234, 1235), 0) << std::strerror(errno);
        EXPECT_EQ(test::lstat_of(b).st_uid, 1234u);
        EXPECT_EQ(test::lstat_of(b).st_gid, 1235u);
        EXPECT_EQ(utimensat(AT_FDCWD, m.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << std::strerror(errno);
        EXPECT_EQ(test::lstat_of(b).st_mtim.tv_sec, 2000000);
        // chmod of a link itself is unsupported on Linux; it must not fall through to the target.
        (void)fchmodat(AT_FDCWD, m.c_str(), 0777, AT_SYMLINK_NOFOLLOW);
        (void)lsetxattr(m.c_str(), "user.evil", "1", 1, 0);     // EPERM on links
        (void)lsetxattr(m.c_str(), "trusted.evil", "1", 1, 0);  // root: lands on the link, if anywhere
        (void)lremovexattr(m.c_str(), "user.keep");
        const fs::path hl = mount.m("hl" + std::to_string(n));
        EXPECT_EQ(link(m.c_str(), hl.c_str()), 0) << std::strerror(errno);  // linkat without FOLLOW
        EXPECT_TRUE(S_ISLNK(test::lstat_of(mount.b("hl" + std::to_string(n))).st_mode));
        const fs::path moved = mount.m("moved" + std::to_string(n));
        EXPECT_EQ(rename(m.c_str(), moved.c_str()), 0) << std::strerror(errno);
        EXPECT_TRUE(S_ISLNK(test::lstat_of(mount.b("moved" + std::to_string(n))).st_mode));
        EXPECT_EQ(unlink(moved.c_str()), 0);
        EXPECT_EQ(unlink(hl.c_str()), 0);
        ++n;
    }
    for (std::size_t i = 0; i < protected_paths.size(); ++i)
        EXPECT_EQ(describe_path(protected_paths[i]), before[i]) << protected_paths[i] << " changed";
    EXPECT_TRUE(S_ISLNK(test::lstat_of(mount.m("sub/l_up2")).st_mode));
    EXPECT_EQ(test::list_dir(mount.b("")).count("outside"), 0u);
    test::expect_clean_unmount(mount);
}

// ".." at the root of the mount is the mount's parent (handled by the kernel), and no path
// through the mount reaches the backing tree's parent.
TEST(DotDot, RootParentIsTheMountsParent) {
    test::Mount mount;
    test::write_file(mount.root() / "beside_backing", "must stay invisible");
    fs::create_directories(mount.b("a/b"));
    const struct stat parent = test::lstat_of(mount.root());
    const struct stat mnt_root = test::lstat_of(mount.mnt());

    struct stat st {};
    ASSERT_EQ(stat((mount.mnt() / "..").c_str(), &st), 0);
    EXPECT_EQ(st.st_dev, parent.st_dev);
    EXPECT_EQ(st.st_ino, parent.st_ino);
    test::Fd root_fd = test::open_fd(mount.mnt(), O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(root_fd.valid());
    ASSERT_EQ(fstatat(root_fd.get(), "..", &st, 0), 0);
    EXPECT_EQ(st.st_ino, parent.st_ino);
    ASSERT_EQ(fstatat(root_fd.get(), "a/b/../../..", &st, 0), 0);
    EXPECT_EQ(st.st_ino, parent.st_ino);
    ASSERT_EQ(stat((mount.mnt() / "a/b/../..").c_str(), &st), 0);
    EXPECT_EQ(st.st_dev, mnt_root.st_dev);
    EXPECT_EQ(st.st_ino, mnt_root.st_ino);
    // Nothing of the backing's parent shows up inside the mount.
    errno = 0;
    EXPECT_EQ(fstatat(root_fd.get(), "beside_backing", &st, AT_SYMLINK_NOFOLLOW), -1);
    EXPECT_EQ(errno, ENOENT);
    root_fd.reset();  // a busy mount would refuse fusermount3 -u
    const auto names = test::list_dir(mount.mnt());
    EXPECT_EQ(names.size(), 1u);
    EXPECT_EQ(names.count("a"), 1u);
    test::expect_clean_unmount(mount);
}

}  // namespace
}  // namespace splicefs::reltest
