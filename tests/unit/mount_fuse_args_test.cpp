// The argument vector for fuse_session_new: fsname escaping, fixed and optional words.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mount/fuse_args.hpp"

namespace splicefs::mount {
namespace {

using Args = std::vector<std::string>;

bool has_o(const Args& args, const std::string& word) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "-o" && args[i + 1] == word) return true;
    }
    return false;
}

TEST(FsnameEscape, CommasAndBackslashes) {
    EXPECT_EQ(escape_option_value("/srv/data"), "/srv/data");
    EXPECT_EQ(escape_option_value("/srv/a,b"), R"(/srv/a\,b)");
    EXPECT_EQ(escape_option_value(R"(/srv/a\b)"), R"(/srv/a\\b)");
    EXPECT_EQ(escape_option_value(R"(,\,)"), R"(\,\\\,)");
    EXPECT_EQ(escape_option_value(""), "");
}

TEST(FuseArgs, DefaultsHaveFsnameSubtypeAndPermissions) {
    Config c;
    c.backing = "/srv/a,b";
    const Args args = build_fuse_args(c, true);
    ASSERT_FALSE(args.empty());
    EXPECT_EQ(args.front(), "splicefs");
    EXPECT_TRUE(has_o(args, R"(fsname=/srv/a\,b)"));
    EXPECT_TRUE(has_o(args, "subtype=splicefs"));
    EXPECT_TRUE(has_o(args, "default_permissions"));
    EXPECT_FALSE(has_o(args, "allow_other"));
    EXPECT_FALSE(has_o(args, "ro"));
    EXPECT_EQ(std::count(args.begin(), args.end(), "-d"), 0);
}

TEST(FuseArgs, OptionalWords) {
    Config c;
    c.backing = "/b";
    c.default_permissions = false;
    c.allow_other = true;
    c.read_only = true;
    c.debug = true;
    c.fuse_options = {"max_read=65536", "fsname=x,y"};
    const Args args = build_fuse_args(c, true);
    EXPECT_FALSE(has_o(args, "default_permissions"));
    EXPECT_TRUE(has_o(args, "allow_other"));
    EXPECT_TRUE(has_o(args, "ro"));
    EXPECT_TRUE(has_o(args, "max_read=65536"));
    EXPECT_TRUE(has_o(args, R"(fsname=x\,y)"));
    EXPECT_EQ(std::count(args.begin(), args.end(), "-d"), 1);
    // User words come after ours so that an explicit fsname= wins.
    const auto ours = std::find(args.begin(), args.end(), "fsname=/b");
    const auto theirs = std::find(args.begin(), args.end(), R"(fsname=x\,y)");
    EXPECT_LT(ours, theirs);
}

TEST(FuseArgs, MountFlagWords) {
    Config c;
    c.backing = "/b";
    const Args plain = build_fuse_args(c, true);
    for (const char* w : {"dev", "suid", "noexec", "noatime", "nodiratime"})
        EXPECT_FALSE(has_o(plain, w)) << w;
    c.dev = true;
    c.suid = true;
    c.exec = false;
    c.atime = AtimeMode::Noatime;
    c.nodiratime = true;
    const Args root = build_fuse_args(c, true);
    for (const char* w : {"dev", "suid", "noexec", "noatime"}) EXPECT_TRUE(has_o(root, w)) << w;
    EXPECT_FALSE(has_o(root, "nodiratime")) << "libfuse 3.14 rejects it";
    const Args user = build_fuse_args(c, false);
    EXPECT_FALSE(has_o(user, "dev")) << "fusermount3 refuses dev for users: the safe default stays";
    EXPECT_FALSE(has_o(user, "suid"));
    EXPECT_TRUE(has_o(user, "noexec"));
    c.atime = AtimeMode::Strictatime;
    EXPECT_FALSE(has_o(build_fuse_args(c, true), "strictatime")) << "libfuse 3.14 rejects it";
}

TEST(FuseArgs, OwnsArgvForLibfuse) {
    FuseArgs args({"splicefs", "-o", "ro"});
    ASSERT_EQ(args.get()->argc, 3);
    EXPECT_STREQ(args.get()->argv[2], "ro");
    EXPECT_EQ(args.get()->argv[3], nullptr);
}

}  // namespace
}  // namespace splicefs::mount
