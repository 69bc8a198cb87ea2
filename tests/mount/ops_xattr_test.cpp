// Extended attributes: set/get/list/remove of user.* with the create/replace flags.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "mount_fixture.hpp"
#include "test_util.hpp"

namespace splicefs::test {
namespace {

using XattrTest = MountTest;

std::string get(const fs::path& p, const char* name) {
    std::string buf(70000, '\0');
    const ssize_t n = lgetxattr(p.c_str(), name, buf.data(), buf.size());
    if (n < 0) return "<error " + std::string(std::strerror(errno)) + ">";
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

std::set<std::string> list(const fs::path& p) {
    std::string buf(70000, '\0');
    const ssize_t n = llistxattr(p.c_str(), buf.data(), buf.size());
    std::set<std::string> out;
    if (n < 0) return {"<error " + std::string(std::strerror(errno)) + ">"};
    for (std::size_t i = 0; i < static_cast<std::size_t>(n);) {
        const std::string name(buf.c_str() + i);
        out.insert(name);
        i += name.size() + 1;
    }
    return out;
}

TEST_F(XattrTest, SetGetListRemove) {
    write_file(m("f"), "x");
    const std::string big(4000, 'v');
    ASSERT_EQ(setxattr(m("f").c_str(), "user.one", "value1", 6, 0), 0) << std::strerror(errno);
    ASSERT_EQ(setxattr(m("f").c_str(), "user.big", big.data(), big.size(), 0), 0) << std::strerror(errno);
    ASSERT_EQ(setxattr(m("f").c_str(), "user.empty", "", 0, 0), 0) << std::strerror(errno);
    EXPECT_EQ(get(m("f"), "user.one"), "value1");
    EXPECT_EQ(get(b("f"), "user.one"), "value1");
    EXPECT_EQ(get(m("f"), "user.big"), big);
    EXPECT_EQ(get(m("f"), "user.empty"), "");
    const std::set<std::string> expected{"user.one", "user.big", "user.empty"};
    const auto names = list(m("f"));
    for (const auto& n : expected) EXPECT_TRUE(names.count(n)) << n;
    EXPECT_EQ(names, list(b("f")));

    // Size queries (size 0) and a too-small buffer.
    EXPECT_EQ(getxattr(m("f").c_str(), "user.big", nullptr, 0), static_cast<ssize_t>(big.size()));
    char small[4];
    EXPECT_ERRNO(getxattr(m("f").c_str(), "user.big", small, sizeof small), ERANGE);
    EXPECT_GE(listxattr(m("f").c_str(), nullptr, 0), 29);

    ASSERT_EQ(removexattr(m("f").c_str(), "user.one"), 0) << std::strerror(errno);
    EXPECT_ERRNO(getxattr(m("f").c_str(), "user.one", small, sizeof small), ENODATA);
    EXPECT_ERRNO(getxattr(b("f").c_str(), "user.one", small, sizeof small), ENODATA);
    EXPECT_ERRNO(removexattr(m("f").c_str(), "user.one"), ENODATA);
    EXPECT_FALSE(list(m("f")).count("user.one"));
}

TEST_F(XattrTest, CreateAndReplaceFlags) {
    write_file(m("f"), "x");
    ASSERT_EQ(setxattr(m("f").c_str(), "user.k", "a", 1, XATTR_CREATE), 0) << std::strerror(errno);
    EXPECT_ERRNO(setxattr(m("f").c_str(), "user.k", "b", 1, XATTR_CREATE), EEXIST);
    EXPECT_EQ(get(b("f"), "user.k"), "a");
    ASSERT_EQ(setxattr(m("f").c_str(), "user.k", "c", 1, XATTR_REPLACE), 0) << std::strerror(errno);
    EXPECT_EQ(get(b("f"), "user.k"), "c");
    EXPECT_ERRNO(setxattr(m("f").c_str(), "user.none", "d", 1, XATTR_REPLACE), ENODATA);
    char buf[8];
    EXPECT_ERRNO(getxattr(m("f").c_str(), "user.none", buf, sizeof buf), ENODATA);
}

TEST_F(XattrTest, OnDirectoriesSymlinksAndBackingMadeValues) {
    ASSERT_EQ(mkdir(m("d").c_str(), 0755), 0);
    ASSERT_EQ(setxattr(m("d").c_str(), "user.dir", "dv", 2, 0), 0) << std::strerror(errno);
    EXPECT_EQ(get(b("d"), "user.dir"), "dv");
    write_file(b("g"), "x");
    ASSERT_EQ(setxattr(b("g").c_str(), "user.from_backing", "bv", 2, 0), 0);
    EXPECT_EQ(get(m("g"), "user.from_backing"), "bv");
    // user.* is not allowed on symlinks (kernel rule), through the mount as natively.
    ASSERT_EQ(symlink("g", m("l").c_str()), 0);
    errno = 0;
    const int native = lsetxattr(b("l").c_str(), "user.x", "1", 1, 0) == 0 ? 0 : errno;
    errno = 0;
    const int via_mount = lsetxattr(m("l").c_str(), "user.x", "1", 1, 0) == 0 ? 0 : errno;
    EXPECT_EQ(via_mount, native);
}

TEST_F(XattrTest, StatsXattrOnTheRootIsJson) {
    write_file(m("f"), random_bytes(5, 100000));
    (void)read_file(m("f"));
    const StatsSnapshot s = mount().stats();
    ASSERT_FALSE(s.json.empty());
    EXPECT_EQ(s.json.front(), '{');
    EXPECT_TRUE(s.op_calls("lookup").has_value()) << s.json;
    if (env_passthrough()) {
        // The kernel moved the bytes itself; the opens are what the daemon saw.
        EXPECT_GE(json_number(s.json, "", "passthrough_opens").value_or(0), 2) << s.json;
        EXPECT_EQ(s.writes.total_bytes(), 0u) << s.json;
    } else {
        EXPECT_GE(s.writes.total_bytes(), 100000u) << s.json;
    }
    EXPECT_GE(s.open_files, 0) << s.json;
    EXPECT_GE(s.known_inodes, 1) << s.json;
}

}  // namespace
}  // namespace splicefs::test
